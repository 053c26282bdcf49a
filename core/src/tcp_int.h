/*
 * TCP internals shared by tcp_api.c (socket calls), mtcp_tcp_input.c (segment
 * arrival, RFC 9293 3.10.7), tcp_output.c (segment generation) and
 * tcp_timer.c (RTO, persist, delayed ACK, keepalive, TIME_WAIT).
 *
 * Sequence space of a connection:
 *   iss            our SYN
 *   snd_buf_seq    sequence number of the first byte in sndbuf (iss+1 at start;
 *                  moves forward as data is acknowledged)
 *   fin_seq        our FIN (valid once the application shut the write side):
 *                  snd_buf_seq + sndbuf.len at that moment, fixed from then on
 *   snd_una <= snd_nxt <= snd_max: oldest unacknowledged, next to send, highest
 *                  ever sent (snd_nxt goes back to snd_una on an RTO)
 */
#ifndef MICROTCP_TCP_INT_H
#define MICROTCP_TCP_INT_H

#include "internal.h"
#include "tcp_buf.h"
#include "tcp_cc.h"
#include "tcp_rack.h"
#include "tcp_sack.h"

#define TCP_NONE 0xffffu
#define TCP_MIN_MSS 64          /* floor for a peer's tiny MSS (the SACK-panic class) */
#define TCP_DEFAULT_MSS 536     /* RFC 9293 3.7.1: no MSS option received */
#define TCP_PERSIST_MAX_US 60000000u
#define TCP_FIN_WAIT_2_TIMEOUT_US 60000000u /* orphaned FIN-WAIT-2 gives up after this */
#define TCP_PAWS_IDLE_US (24ull * 24 * 3600 * 1000000) /* RFC 7323 5.5: 24 days */

/* Who holds a connection block. */
enum tcb_owner {
  OWN_APP = 0,     /* the application holds a handle */
  OWN_LISTENER,    /* half-open or waiting in an accept queue */
  OWN_ORPHAN,      /* the application closed it; it finishes on its own */
};

/* Flags of a connection (bits of tcb.flags). */
enum {
  TF_ACK_NOW = 1u << 0,      /* send an ACK at the next output */
  TF_NODELAY = 1u << 1,      /* Nagle off */
  TF_KEEPALIVE = 1u << 2,
  TF_LINGER0 = 1u << 3,      /* close() resets */
  TF_SHUT_WR = 1u << 4,      /* application shut the write side: FIN after data */
  TF_FIN_SENT = 1u << 5,     /* FIN sent at least once */
  TF_FIN_RCVD = 1u << 6,     /* peer FIN consumed (rcv_nxt counts it) */
  TF_WS = 1u << 7,           /* window scaling in use */
  TF_TS = 1u << 8,           /* timestamps in use */
  TF_SACK = 1u << 9,         /* SACK in use */
  TF_RTT_TIMING = 1u << 10,  /* timing rtt_seq (Karn: cleared by a retransmission) */
  TF_RECOVERY = 1u << 11,    /* in fast recovery (RFC 6582 / RFC 6675) */
  TF_REXMIT_UNA = 1u << 12,  /* retransmit one segment at snd_una at the next output */
  TF_PROBE = 1u << 13,       /* persist timer fired: send one probe */
  TF_KEEP_PROBE = 1u << 14,  /* keepalive timer fired: send a probe */
  TF_CONNECTED = 1u << 15,   /* reached ESTABLISHED once */
  TF_SYN_NEEDED = 1u << 16,  /* (re)send SYN or SYN-ACK */
  TF_OUTLISTED = 1u << 17,   /* on the output list */
  TF_TS_RECENT = 1u << 18,   /* ts_recent holds a value */
  TF_WND_ZERO_ADV = 1u << 19,/* last advertised window was zero */
  TF_IN_ACCEPTQ = 1u << 20,  /* on the listener's accept queue */
  TF_PERSIST = 1u << 21,     /* t_rexmt is the persist timer */
  TF_FIN_PENDING = 1u << 22, /* peer FIN seen out of order at rcv_fin_seq */
  TF_PASSIVE = 1u << 23,     /* created by a listener (SYN-RECEIVED returns to LISTEN on RST) */
  TF_RTO_RECOVER = 1u << 24, /* "recover" was set by an RTO (RFC 6582 4.1 guard active) */
  TF_FORCE = 1u << 25,       /* persist timer: send what the window allows, ignoring SWS */
  TF_RESCUED = 1u << 26,     /* RFC 6675 RescueRxt is defined (a rescue retransmission was sent) */
  TF_DSACK = 1u << 27,       /* dsack_left/right hold a duplicate range to report once (RFC 2883) */
  TF_TLP = 1u << 28,         /* the PTO fired: send a Tail Loss Probe (RFC 8985 7.3) */
  TF_NO_DF = 1u << 29,       /* a frag-needed asked for less than cfg.ip_min_pmtu: send without DF */
  TF_POOL_WAIT = 1u << 30,   /* the buffer pool refused it chunks: wake it when some come back */
};

/* Per-socket options (microtcp_tcp_setopt) of a connection or a listener; a
 * listener's are copied into each connection it creates. The boolean options
 * are the TCP_OPT_FLAGS bits of the owner's flags (the output path tests
 * TF_NODELAY there with the rest). */
struct tcp_sockopts {
  uint64_t keepidle_us;
  uint32_t keepintvl_us, user_timeout_us;
  uint32_t sndbuf_lim, rcvbuf_lim; /* bytes usable of the buffers (<= cfg sizes) */
  uint16_t maxseg;            /* application MSS clamp (0 = none) */
  uint8_t keepcnt;
  uint8_t cc_algo;            /* MICROTCP_CC_* */
  bool hystart;               /* RFC 9406 HyStart++ (cfg.tcp_hystart) */
  bool dsack_undo;            /* RFC 3708-style undo from D-SACKs (cfg.tcp_dsack_undo) */
  bool rack;                  /* RFC 8985 RACK-TLP when SACK is in use (cfg.tcp_rack) */
  bool prr;                   /* RFC 6937 PRR in SACK recovery (cfg.tcp_prr) */
};
#define TCP_OPT_FLAGS (TF_NODELAY | TF_KEEPALIVE | TF_LINGER0)
/* The options and option flags a new socket starts with (from the config). */
void mtcp_tcp_sockopts_default(const microtcp_config *cfg, struct tcp_sockopts *o, uint32_t *flags);

struct tcb {
  uint16_t gen;               /* handle generation */
  bool in_use;
  uint8_t state;              /* enum microtcp_tcp_state */
  uint8_t owner;              /* enum tcb_owner */
  uint8_t snd_wscale, rcv_wscale;
  uint8_t dupacks;
  uint8_t backoff;            /* consecutive RTO expirations (or SYN retries) */
  uint8_t persist_backoff;
  uint8_t keep_probes_sent;
  uint8_t probes_unanswered;  /* zero-window probes since the peer last sent anything */
  uint8_t probes_total;       /* zero-window probes of an orphaned connection */
  int16_t err;                /* pending socket error (MICROTCP_E*) */
  int16_t close_reason;       /* why it closed (0 = orderly), kept for recv */
  uint32_t flags;

  uint16_t listener;          /* listener index while OWN_LISTENER */
  uint16_t next;              /* idxq link: free list or accept queue */
  uint16_t hnext;             /* hash chain */
  uint16_t out_next;          /* idxq link: output list */

  uint32_t remote_ip;
  uint16_t lport, rport;

  /* send side */
  uint32_t iss, snd_una, snd_nxt, snd_max, snd_buf_seq, fin_seq;
  uint32_t snd_wnd, snd_wl1, snd_wl2, max_snd_wnd;
  uint32_t recover;           /* RFC 6582 "recover" / RFC 6675 RecoveryPoint */
  uint32_t prev_una;          /* snd_una before its last advance (RFC 6582 4.2 prev_highest_ack) */
  uint32_t high_rxt;          /* RFC 6675 HighRxt */
  uint32_t rescue_rxt;        /* RFC 6675 RescueRxt (valid with TF_RESCUED) */
  uint32_t dsack_left, dsack_right; /* RFC 2883 D-SACK block to send (valid with TF_DSACK) */
  uint32_t prr_delivered, prr_out, recover_fs; /* RFC 6937 state of the current recovery */
  uint16_t mss;               /* effective send MSS (payload bytes per segment) */
  uint16_t peer_mss;          /* as received (clamped) */
  struct ringbuf sndbuf;
  struct tcp_cc cc;
  struct sack_board sb;
  struct txlog txl;           /* per-segment send times (tcp_rack.h), kept while tcb_txlog_on() */
  struct rack rack;           /* RFC 8985 state */
  struct rtt_probes rttp;     /* RTT samples for HyStart++ (kept while opt.hystart) */
  /* D-SACK undo (RFC 3708 / Linux's undo): the window before the current
   * episode's reduction and the byte ranges it retransmitted that no D-SACK
   * reported yet (valid with undo_armed; more than TCP_UNDO_RANGES ranges
   * disarm it). */
  uint32_t undo_cwnd, undo_ssthresh;
  struct {
    uint32_t left, right;
  } undo_rng[4];
  uint8_t undo_n;
  bool undo_armed;

  /* receive side */
  uint32_t irs, rcv_nxt, rcv_adv; /* rcv_adv: right edge of the window we advertised */
  uint32_t rcv_fin_seq;       /* with TF_FIN_PENDING */
  int16_t soft_err;           /* ICMP soft error, reported if the connection times out */
  uint32_t last_ack_sent;
  struct ringbuf rcvbuf;
  struct assembler ooo;
  uint32_t delack_bytes;      /* in-order bytes received since the last ACK we sent */

  /* timestamps (RFC 7323) */
  uint32_t ts_offset, ts_recent;
  uint64_t ts_recent_at;

  /* RTT (RFC 6298), µs */
  uint32_t srtt, rttvar, rto;
  uint32_t rtt_seq;
  uint64_t rtt_start;

  /* timers: absolute µs, 0 = off */
  uint64_t t_rexmt;           /* retransmission or persist */
  uint64_t t_delack;
  uint64_t t_keep;
  uint64_t t_2msl;            /* TIME_WAIT, or orphan FIN-WAIT-2 timeout */
  uint64_t t_reorder;         /* RFC 8985 6.3 RACK reordering timer */
  uint64_t t_tlp;             /* RFC 8985 7.2 Tail Loss Probe timeout (PTO) */
  uint64_t unacked_since;     /* when the oldest unacknowledged data was sent (user timeout) */
  uint64_t last_rcv_at;       /* for keepalive idle */
  uint64_t last_data_sent_at; /* last segment carrying data (RFC 5681 4.1 restart) */
  uint64_t created_at;        /* half-open age (eviction order) */
  uint64_t challenge_ack_next; /* RFC 5961 7: no challenge ACK before this time */
  uint64_t oow_ack_next;       /* no ACK to a dropped bare ACK before this time (tcp_input.c) */
  uint64_t progress_at;       /* last new data acknowledged or received (pressure eviction) */

  struct tcp_sockopts opt;

  /* stats */
  uint64_t bytes_sent, bytes_acked, bytes_received;
  uint32_t segs_out, segs_in, retransmits, fast_retransmits, rto_timeouts, dup_acks_total,
      sack_recoveries;
  uint64_t recovery_at, recovery_us; /* start of the current fast recovery; time spent in
                                      * finished ones (microtcp_tcp_stats.recovery_us) */
};

struct tcp_listener {
  uint16_t gen;
  bool in_use;
  uint16_t port;
  uint16_t backlog;
  uint16_t half_open;         /* SYN_RECEIVED connections of this listener */
  struct idxq acc;            /* accept queue (FIFO, linked by tcb.next; .len ready
                               * connections, each flagged TF_IN_ACCEPTQ) */
  /* options inherited by accepted connections */
  uint32_t flags;             /* TCP_OPT_FLAGS bits */
  struct tcp_sockopts opt;
};

/* ---- tcp_api.c / shared ---- */
struct tcb *mtcp_tcb_from_handle(const struct microtcp_stack *st, int h);
int mtcp_tcb_handle(const struct microtcp_stack *st, const struct tcb *t);
uint16_t mtcp_tcb_index(const struct microtcp_stack *st, const struct tcb *t);
/* The tcb array as idxq element arrays: linked by tcb.next (free list, accept
 * queues) or by tcb.out_next (output list). */
struct idxq_pool mtcp_tcb_pool(const struct microtcp_stack *st);
struct idxq_pool mtcp_tcb_out_pool(const struct microtcp_stack *st);
/* Which live connection a full pool may give up for a new block (after the
 * oldest TIME-WAIT one): none (active opens); the oldest half-open one, then
 * the most stalled (a SYN); or only a half-open one whose SYN-ACK went
 * unanswered for an RTO, then the most stalled (a SYN cookie's ACK: a fresh
 * half-open connection is a peer mid-handshake, and its non-cookie SYN-ACK
 * cannot be completed statelessly once its block is gone). */
enum tcb_evict { EVICT_NONE, EVICT_HALF_OPEN, EVICT_UNANSWERED_HALF_OPEN };
struct tcb *mtcp_tcb_alloc(struct microtcp_stack *st, enum tcb_evict evict);
/* Does remote address rip hold cfg.tcp_max_per_peer connections already? */
bool mtcp_tcp_peer_at_limit(const struct microtcp_stack *st, uint32_t rip);
/* Could mtcp_tcb_alloc give a block without evicting a live connection (a free
 * block or a TIME-WAIT one)? */
bool mtcp_tcp_pool_has_room(const struct microtcp_stack *st);
/* Put an ESTABLISHED passive connection on listener l's accept queue and tell
 * the application. */
void mtcp_tcp_acceptq_push(struct microtcp_stack *st, struct tcp_listener *l, struct tcb *t);

/* ---- tcp_syncookie.c (RFC 4987 3.6) ---- */
/* Our ISN for a SYN answered without state (peer_isn: the SYN's SEQ). */
uint32_t mtcp_tcp_syncookie_make(const struct microtcp_stack *st, uint32_t rip, uint16_t rport,
                            uint16_t lport, uint32_t peer_isn, uint16_t peer_mss);
/* The MSS a valid cookie encodes, 0 if cookie (SEG.ACK - 1) is not valid for
 * this tuple and peer_isn (SEG.SEQ - 1) now. */
uint16_t mtcp_tcp_syncookie_check(const struct microtcp_stack *st, uint32_t rip, uint16_t rport,
                             uint16_t lport, uint32_t peer_isn, uint32_t cookie);
/* Send the stateless SYN-ACK (MSS option only, unscaled window). */
void mtcp_tcp_syncookie_send_synack(struct microtcp_stack *st, uint32_t rip, uint16_t lport,
                               uint16_t rport, uint32_t iss, uint32_t ack);
void mtcp_tcb_free(struct microtcp_stack *st, struct tcb *t);
void mtcp_tcb_hash_insert(struct microtcp_stack *st, struct tcb *t);
struct tcb *mtcp_tcb_lookup(struct microtcp_stack *st, uint32_t rip, uint16_t rport, uint16_t lport);
struct tcp_listener *mtcp_listener_by_port(struct microtcp_stack *st, uint16_t port);
bool mtcp_tcp_port_in_use(const struct microtcp_stack *st, uint16_t port, const void *ctx);
void mtcp_tcb_set_state(struct microtcp_stack *st, struct tcb *t, uint8_t state);
/* Connection is finished (reset, timed out, or closed): record err, stop timers,
 * and free it if nobody will read the result. */
void mtcp_tcb_terminate(struct microtcp_stack *st, struct tcb *t, int err);
/* Initialise sequence numbers, buffers and options for a new connection. */
void mtcp_tcb_setup(struct microtcp_stack *st, struct tcb *t, uint32_t rip, uint16_t rport,
               uint16_t lport);
uint32_t mtcp_tcp_isn(const struct microtcp_stack *st, uint32_t rip, uint16_t rport, uint16_t lport);
void mtcp_tcb_notify(struct microtcp_stack *st, struct tcb *t);
/* The buffer pool refused t chunks (a short send, or a window held back):
 * flag it so mtcp_tcp_pool_wake reports it once chunks come back. */
void mtcp_tcp_pool_wait(struct microtcp_stack *st, struct tcb *t);
/* Chunks came back to the pool: notify the flagged connections (writable
 * again; a window held back is announced). Cheap when nobody waits. */
void mtcp_tcp_pool_wake(struct microtcp_stack *st);

/* ---- tcp_input.c (recovery) ---- */
/* A loss episode starts (fast recovery, RTO): arm the D-SACK undo. Call
 * before the congestion controller reduces the window. */
void mtcp_tcp_undo_arm(struct tcb *t);
/* [left, right) was retransmitted: remember it for the undo (if armed). */
void mtcp_tcp_undo_note_rexmit(struct tcb *t, uint32_t left, uint32_t right);
#define TCP_UNDO_RANGES 4

/* Fast recovery ends (full ACK, RTO, D-SACK undo): clear TF_RECOVERY and
 * count the time spent in it. */
static inline void mtcp_tcp_leave_recovery(struct tcb *t, uint64_t now) {
  if (t->flags & TF_RECOVERY) t->recovery_us += now > t->recovery_at ? now - t->recovery_at : 0;
  t->flags &= ~(uint32_t)TF_RECOVERY;
}

/* RACK marked something lost (tcp_rack.c): enter recovery if not in it. */
void mtcp_tcp_rack_loss(struct microtcp_stack *st, struct tcb *t);

/* ---- tcp_rack.c (RFC 8985) ---- */
/* Bytes in flight during SACK recovery: RFC 6675 SetPipe, or with RACK on
 * every byte sent and neither SACKed nor marked lost since last sent. */
uint32_t mtcp_tcp_pipe(const struct tcb *t);
/* The first byte of a RACK-lost, unSACKed run and its length (<= mss). */
bool mtcp_rack_next_lost(const struct tcb *t, uint32_t *seq, uint32_t *len);
/* After an ACK was processed (una_before: SND.UNA before it;
 * acked_was_sacked: bytes of [una_before, SEG.ACK) SACKed before it; dsack
 * with its first block's range; recovery_ended: this ACK ended fast
 * recovery): RFC 8985 6.2 steps 1-5 and 7.4; trims the transmission log. */
void mtcp_rack_on_ack(struct microtcp_stack *st, struct tcb *t, uint32_t una_before,
                      uint32_t acked_was_sacked, bool dsack, uint32_t dsack_l, uint32_t dsack_r,
                      bool recovery_ended);
/* (Re)arm the Tail Loss Probe timer if RFC 8985 7.2 allows it. */
void mtcp_rack_arm_tlp(struct microtcp_stack *st, struct tcb *t);
/* t_reorder or t_tlp is due. */
void mtcp_rack_timer(struct microtcp_stack *st, struct tcb *t);

/* ---- tcp_output.c ---- */
void mtcp_tcb_want_output(struct microtcp_stack *st, struct tcb *t);
/* Send a RST (or RST|ACK) not tied to a connection block. */
void mtcp_tcp_send_rst(struct microtcp_stack *st, uint32_t rip, uint16_t lport, uint16_t rport,
                  uint32_t seq, uint32_t ack, bool with_ack);
/* Send a bare ACK for t right away (challenge ACKs, PAWS, out-of-window). */
void mtcp_tcp_send_ack_now(struct microtcp_stack *st, struct tcb *t);
/* Window we would advertise now, in bytes (unscaled). */
uint32_t mtcp_tcp_rcv_window(const struct tcb *t);
/* Claim the pool chunks the advertised window (rcv_nxt..rcv_adv) needs, so
 * the bytes the peer may send always fit. Returns false if the pool could
 * not cover all of it. */
bool mtcp_tcp_rcv_reserve(struct tcb *t);
uint32_t mtcp_tcp_ts_now(const struct microtcp_stack *st, const struct tcb *t);
/* Data bytes queued but not yet sent at snd_nxt. */
uint32_t mtcp_tcp_unsent(const struct tcb *t);
uint32_t mtcp_tcp_flight(const struct tcb *t);

/* ---- tcp_timer.c ---- */
void mtcp_tcp_rtt_sample(struct microtcp_stack *st, struct tcb *t, uint32_t rtt_us);
void mtcp_tcp_arm_keepalive(struct tcb *t);
void mtcp_tcp_enter_time_wait(struct microtcp_stack *st, struct tcb *t);
/* Start the persist timer (t_rexmt) for a zero or unusable window, backoff
 * reset; the first probe goes out one RTO (at least rto_min) from now. */
void mtcp_tcp_persist_start(struct microtcp_stack *st, struct tcb *t);
uint64_t mtcp_tcb_deadline(const struct tcb *t);
/* The timer heap's rule (tcp_timer.c): code that may change a block's timers
 * (its t_* fields, unacked_since, user timeout, state or in_use) during a
 * public call touches it first or after; mtcp_tcp_timers_sync re-keys every
 * touched block at the end of the call. The entry points touch for everyone:
 * the block a segment or ICMP error is for (tcp_input.c), the block an API
 * call names (tcp_api.c), each block taken off the output list
 * (tcp_output.c), each block whose timer fires (tcp_timer.c), and every block
 * allocated, terminated or freed (other blocks a call acts on: eviction,
 * listener close). A missed touch traps under MICROTCP_ASSERTS at the end of
 * the call (the heap key no longer equals mtcp_tcb_deadline). O(1). */
static inline void mtcp_tcb_touch(struct microtcp_stack *st, const struct tcb *t) {
  struct tcp_state *tcp = &st->tcp;
  uint16_t i = (uint16_t)(t - tcp->tcbs);
  MICROTCP_ASSERT(i < st->cfg.max_tcp);
  if (tcp->dirty_mark[i]) return;
  tcp->dirty_mark[i] = 1;
  MICROTCP_ASSERT(tcp->ndirty < st->cfg.max_tcp);
  tcp->dirty[tcp->ndirty++] = i;
}

/* ---- invariants (MICROTCP_ASSERT, compiled in with MICROTCP_ASSERTS) ---- */
#ifdef MICROTCP_ASSERTS
/* One connection block: pool bounds, sequence order (snd_una <= snd_nxt <=
 * snd_max, the send buffer between them), buffer and SACK scoreboard bounds,
 * owner and list membership, state/timer consistency, hash membership. */
void mtcp_tcb_check(const struct microtcp_stack *st, const struct tcb *t);
#else
static inline void mtcp_tcb_check(const struct microtcp_stack *st, const struct tcb *t) {
  (void)st, (void)t;
}
#endif

/* The transmission log is kept for RACK. */
static inline bool tcb_txlog_on(const struct tcb *t) {
  return t->opt.rack && (t->flags & TF_SACK);
}
static inline bool tcb_rack_on(const struct tcb *t) {
  return t->opt.rack && (t->flags & TF_SACK);
}

static inline bool tcb_synchronized(const struct tcb *t) {
  return t->state >= MICROTCP_ESTABLISHED;
}
#endif
