/*
 * Pluggable congestion control: NewReno (RFC 5681, RFC 6582, RFC 3465 ABC)
 * and CUBIC (RFC 9438), both in integer arithmetic only.
 *
 * Units: windows in bytes, times in microseconds (CUBIC uses milliseconds
 * internally). The TCP code owns the recovery state machine (when to enter
 * and leave fast recovery, window inflation during NewReno recovery); an
 * algorithm only decides ssthresh and cwnd growth. Ops functions cannot fail
 * and never allocate; an mss of 0 is treated as 1.
 *
 * Calling sequence for the TCP code:
 *   init            when the connection is established (cwnd = IW)
 *   on_ack          every ACK that acknowledges new data outside recovery
 *   on_loss         entering fast recovery (3 dupACKs or SACK IsLost); the
 *                   caller then sets cwnd = ssthresh + 3*mss (RFC 6582 3.2)
 *                   or runs RFC 6675 pipe-based recovery with cwnd = ssthresh
 *   on_recovery_end full ACK ending recovery: cwnd = ssthresh (deflate)
 *   on_rto          retransmission timeout
 */
#ifndef MICROTCP_TCP_CC_H
#define MICROTCP_TCP_CC_H

#include <stdint.h>

#define TCP_CC_INFINITE 0xffffffffu /* initial ssthresh (RFC 5681 3.1: arbitrarily high) */

struct tcp_cc {
  uint32_t cwnd;     /* congestion window, bytes */
  uint32_t ssthresh; /* slow-start threshold, bytes */
  /* Algorithm-private state (callers must not interpret it): */
  uint32_t w_max;       /* CUBIC: W_max, window before the last reduction (after fast convergence), bytes */
  uint32_t cwnd_prior;  /* CUBIC: cwnd just before the last reduction (RFC 9438 4.3 alpha switch), bytes */
  uint32_t k_ms;        /* CUBIC: K, ms from epoch start to reach W_max */
  uint32_t origin;      /* CUBIC: plateau of W_cubic for this epoch (W_max, or cwnd if above it), bytes */
  uint32_t w_est;       /* CUBIC: Reno-friendly estimate W_est, bytes */
  uint32_t ack_acc;     /* both: acked bytes not yet turned into cwnd growth (RFC 3465 byte counting) */
  uint32_t est_acc;     /* CUBIC: acked bytes not yet turned into W_est growth */
  uint64_t epoch_start; /* CUBIC: start of the current congestion-avoidance epoch (µs), 0 = none */
  uint8_t abc_limit;    /* both: slow start grows by at most abc_limit*SMSS per ACK (set by the
                           TCP code after init; 0 counts as 1) */
  struct tcp_hystart {  /* both: HyStart++ (RFC 9406), tcp_cc_hystart.c; all zero = off */
    uint8_t state;              /* HYSTART_OFF, _SS, _CSS, _DONE */
    uint8_t css_rounds;         /* rounds completed in CSS */
    uint16_t rtt_samples;       /* rttSampleCount of this round */
    uint32_t window_end;        /* windowEnd: this round ends when SND.UNA passes it */
    uint32_t last_round_min_rtt;/* lastRoundMinRTT, µs (UINT32_MAX = infinity) */
    uint32_t cur_round_min_rtt; /* currentRoundMinRTT, µs */
    uint32_t css_baseline_min_rtt; /* cssBaselineMinRtt, µs */
  } hs;
};

enum { HYSTART_OFF = 0, HYSTART_SS, HYSTART_CSS, HYSTART_DONE };

struct mtcp_tcp_cc_ops {
  const char *name; /* "newreno", "cubic" */
  /* Start: cwnd = initial_cwnd_bytes (at least 1 mss), ssthresh = TCP_CC_INFINITE. */
  void (*init)(struct tcp_cc *cc, uint32_t mss, uint32_t initial_cwnd_bytes);
  /* `acked` new bytes were cumulatively acknowledged outside recovery.
   * Slow start (cwnd < ssthresh): cwnd += min(acked, 2*mss) (RFC 3465 L=2,
   * RFC 5681 3.1), not beyond ssthresh in one step. Congestion avoidance:
   * NewReno +1 mss per cwnd bytes acked (RFC 5681 3.1 / RFC 3465 2.1);
   * CUBIC per RFC 9438 4.2-4.5 (srtt_us is the RTT in the W_cubic(t+RTT)
   * target; 0 if no sample yet). now_us must not go backwards. */
  void (*on_ack)(struct tcp_cc *cc, uint32_t mss, uint32_t acked, uint64_t now_us,
                 uint32_t srtt_us);
  /* Congestion detected by dupACKs/SACK (entering fast recovery), with
   * `flight` bytes outstanding. NewReno: ssthresh = max(flight/2, 2*mss)
   * (RFC 5681 eq. 4). CUBIC: fast convergence and W_max (RFC 9438 4.7),
   * ssthresh = max(cwnd*0.7, 2*mss) (4.6). cwnd is set to ssthresh; the
   * caller may inflate it for NewReno-style recovery. */
  void (*on_loss)(struct tcp_cc *cc, uint32_t mss, uint32_t flight, uint64_t now_us);
  /* Retransmission timeout: ssthresh as on_loss, cwnd = 1*mss (RFC 5681 3.1
   * eq. 4 and following; RFC 9438 4.8). RFC 5681 3.1 holds ssthresh constant
   * when the same segment times out again. NewReno recomputes it from
   * `flight` (unchanged by a back-to-back RTO, so ssthresh stays); CUBIC
   * leaves ssthresh and W_max alone when cwnd is already 1 mss. Callers
   * that want the rule exactly can save and restore ssthresh. */
  void (*on_rto)(struct tcp_cc *cc, uint32_t mss, uint32_t flight, uint64_t now_us);
  /* Fast recovery ended with a full ACK: cwnd = ssthresh (RFC 6582 3.2 step 3). */
  void (*on_recovery_end)(struct tcp_cc *cc, uint32_t mss, uint64_t now_us);
};

/* The ops of MICROTCP_CC_NEWRENO or MICROTCP_CC_CUBIC (microtcp.h); NULL for
 * any other value. The returned table is constant and shared. */
const struct mtcp_tcp_cc_ops *mtcp_tcp_cc_ops(int algorithm);

/* ---- Shared by tcp_cc.c and tcp_cc_cubic.c, exposed for tests ---- */
extern const struct mtcp_tcp_cc_ops mtcp_tcp_cc_newreno_ops;
extern const struct mtcp_tcp_cc_ops mtcp_tcp_cc_cubic_ops;
#define TCP_CC_CWND_MAX 0x7fffffffu /* cwnd never exceeds half the sequence space */
/* RFC 5681 3.1 slow start with RFC 3465 ABC (L = 2): cwnd += min(acked,
 * 2*mss), not past ssthresh. Call only while cwnd < ssthresh. */
void mtcp_tcp_cc_slow_start(struct tcp_cc *cc, uint32_t mss, uint32_t acked);
/* RFC 5681 4.1 restart after idle: cwnd = min(cwnd, restart_window); a
 * CUBIC epoch in progress ends (the next one starts at the next ACK in
 * congestion avoidance), so the idle time does not count as growth time. */
void mtcp_tcp_cc_restart_after_idle(struct tcp_cc *cc, uint32_t restart_window);
/* HyStart++ (RFC 9406, tcp_cc_hystart.c) for either algorithm. The TCP code
 * calls start once cwnd is set (connection established), then on_ack for
 * every ACK of new data outside recovery, before the algorithm's on_ack,
 * with one RTT sample in µs (0 = none: the ACK counts no sample). It only
 * acts while ssthresh is still TCP_CC_INFINITE (4.3: the initial slow start
 * only); while in CSS, mtcp_tcp_cc_slow_start grows by 1/CSS_GROWTH_DIVISOR.
 * Returns 1 when slow start was left for CSS on this ACK, 2 when CSS ended
 * in congestion avoidance (ssthresh = cwnd), 0 otherwise. */
void mtcp_tcp_hystart_start(struct tcp_cc *cc, uint32_t snd_nxt);
int mtcp_tcp_hystart_on_ack(struct tcp_cc *cc, uint32_t ack, uint32_t snd_nxt, uint32_t rtt_us);
#define HYSTART_MIN_RTT_THRESH_US 4000u  /* RFC 9406 4.3 */
#define HYSTART_MAX_RTT_THRESH_US 16000u
#define HYSTART_MIN_RTT_DIVISOR 8u
#define HYSTART_N_RTT_SAMPLE 8u
#define HYSTART_CSS_GROWTH_DIVISOR 4u
#define HYSTART_CSS_ROUNDS 5u

/* floor(cbrt(x)) for any 64-bit x, exact. */
uint32_t mtcp_tcp_cc_icbrt(uint64_t x);
/* CUBIC window W_cubic(t) = C*(t-K)^3 + W_max (RFC 9438 eq. 1) in bytes, for
 * t_ms milliseconds since the epoch start, given K in ms, W_max (origin) in
 * bytes and mss. Saturates at 0 and 0xffffffff instead of overflowing. */
uint32_t mtcp_tcp_cubic_window(uint32_t t_ms, uint32_t k_ms, uint32_t origin, uint32_t mss);
/* K = cbrt((W_max - cwnd_epoch)/C) in ms (RFC 9438 eq. 2), 0 if
 * cwnd_epoch >= w_max. */
uint32_t mtcp_tcp_cubic_k_ms(uint32_t w_max, uint32_t cwnd_epoch, uint32_t mss);

#endif
