/*
 * Per-segment transmit records (the "transmission log") and RACK-TLP
 * (RFC 8985) state of a connection.
 *
 * The log covers [start, end of the last record) = [SND.UNA, SND.MAX) in
 * sequence order, one record per run of bytes last sent at the same time
 * with the same flags. It is a bounded array (TXLOG_MAX records): when a new
 * record does not fit, the two adjacent records with equal flags whose send
 * times are closest are merged, keeping the later time. So a record's time
 * is exact for its highest byte and an upper bound for the others; with a
 * window of fewer than TXLOG_MAX distinct send times (up to ~64 ACK-clocked
 * bursts in flight) every time is exact. Nothing here allocates or fails.
 *
 * User: RACK's "most recently delivered segment" (RFC 8985 6.1), which is
 * a record's highest byte, and its loss marks.
 */
#ifndef MICROTCP_TCP_RACK_H
#define MICROTCP_TCP_RACK_H

#include <stdbool.h>
#include <stdint.h>

#define TXLOG_MAX 64

enum {
  TXR_RETRANS = 1u << 0,   /* the bytes were sent more than once; `at` is the last time */
  TXR_LOST = 1u << 1,      /* RACK marked them lost since they were last sent */
  TXR_MERGED = 1u << 3,    /* sends of different times were merged: `at` is exact only for
                            * the last byte (RTT samples are taken from unmerged records) */
};

struct txrec {
  uint32_t end;   /* one past the last byte (the first byte is the previous record's end) */
  uint32_t flags; /* TXR_* */
  uint64_t at;    /* last transmission time of the record's highest byte, µs */
};

struct txlog {
  uint32_t start; /* first byte of r[0] */
  uint8_t n;
  struct txrec r[TXLOG_MAX];
};

void mtcp_txlog_clear(struct txlog *l);
/* [seq, end) left at `now`; bytes below snd_max (the highest byte sent
 * before this one) are a retransmission: their records are split off,
 * re-timed and flagged TXR_RETRANS (TXR_LOST cleared);
 * bytes at and above snd_max are appended. */
void mtcp_txlog_sent(struct txlog *l, uint32_t seq, uint32_t end, uint32_t snd_max, uint64_t now);
/* Forget everything below una (cumulatively acknowledged). */
void mtcp_txlog_trim(struct txlog *l, uint32_t una);
/* Index of the record holding byte seq, -1 if none. */
int mtcp_txlog_find(const struct txlog *l, uint32_t seq);
/* First byte of record i. */
static inline uint32_t mtcp_txlog_rec_start(const struct txlog *l, int i) {
  return i == 0 ? l->start : l->r[i - 1].end;
}

/* RTT probes: up to RTTP_MAX segments timed at once, each giving one RTT
 * sample when first acknowledged (RFC 6298's Karn rule: a retransmission
 * cancels the probes it covers). HyStart++ wants about 8 samples per round
 * (RFC 9406 4.3 N_RTT_SAMPLE); one timed segment per RTT gives one. */
#define RTTP_MAX 32
struct rtt_probes {
  uint8_t n;
  struct {
    uint32_t end; /* sample when SND.UNA reaches this */
    uint64_t at;
  } p[RTTP_MAX]; /* in sequence order */
};
/* [seq, end) sent at now; snd_max as before this send. */
void mtcp_rttp_sent(struct rtt_probes *r, uint32_t seq, uint32_t end, uint32_t snd_max, uint64_t now);
/* The cumulative ACK reached ack: the RTT of the highest probe it covers
 * (µs, at least 1), 0 if it covers none; covered probes are removed. */
uint32_t mtcp_rttp_acked(struct rtt_probes *r, uint32_t ack, uint64_t now);

/* RACK-TLP state (RFC 8985 6.1, 7). Times in µs. */
struct rack {
  uint64_t xmit_ts;       /* RACK.xmit_ts: send time of the most recently sent delivered segment */
  uint32_t end_seq;       /* RACK.end_seq */
  uint32_t rtt;           /* RACK.rtt: RTT of that delivery */
  uint32_t min_rtt;       /* lowest RTT seen (0 = none yet) */
  uint32_t fack;          /* highest delivered byte + 1 (RACK.fack) */
  uint32_t dsack_round;   /* RACK.dsack_round (valid with dsack_round_set) */
  uint8_t reo_wnd_mult;   /* RACK.reo_wnd_mult (1 at start) */
  uint8_t reo_wnd_persist;/* RACK.reo_wnd_persist */
  bool reordering_seen;   /* RACK.reordering_seen */
  bool dsack_round_set;
  bool tlp_outstanding;   /* TLP.is_retrans / TLP.end_seq valid: a probe is in flight */
  bool tlp_is_retrans;
  uint32_t tlp_end_seq;   /* TLP.end_seq: SND.MAX after the probe */
  uint32_t tlp_seq;       /* first byte of a retransmitted probe */
};

#endif
