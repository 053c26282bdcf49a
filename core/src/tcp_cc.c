/* Congestion control: algorithm table, shared slow start, NewReno
 * (RFC 5681, RFC 6582, RFC 3465). CUBIC lives in tcp_cc_cubic.c. */
#include "tcp_cc.h"

#include "microtcp/microtcp.h"

const struct mtcp_tcp_cc_ops *mtcp_tcp_cc_ops(int algorithm) {
  switch (algorithm) {
  case MICROTCP_CC_NEWRENO: return &mtcp_tcp_cc_newreno_ops;
  case MICROTCP_CC_CUBIC: return &mtcp_tcp_cc_cubic_ops;
  default: return 0;
  }
}

void mtcp_tcp_cc_restart_after_idle(struct tcp_cc *cc, uint32_t restart_window) {
  if (cc->cwnd > restart_window) cc->cwnd = restart_window;
  cc->epoch_start = 0;
}

void mtcp_tcp_cc_slow_start(struct tcp_cc *cc, uint32_t mss, uint32_t acked) {
  /* RFC 5681 3.1: cwnd += min(N, SMSS) per ACK. RFC 3465 2.2 lets L be 2
   * (abc_limit, opt-in); Linux has no per-ACK limit (core/TCP.md). */
  uint64_t limit = (uint64_t)(cc->abc_limit ? cc->abc_limit : 1) * mss;
  uint64_t inc = acked < limit ? acked : limit;
  /* RFC 9406 4.2: in Conservative Slow Start cwnd grows by
   * min(N, L*SMSS) / CSS_GROWTH_DIVISOR per ACK. */
  if (cc->hs.state == HYSTART_CSS && cc->ssthresh == TCP_CC_INFINITE) inc /= HYSTART_CSS_GROWTH_DIVISOR;
  uint64_t next = (uint64_t)cc->cwnd + inc;
  if (next > cc->ssthresh) next = cc->ssthresh > cc->cwnd ? cc->ssthresh : cc->cwnd;
  if (next > TCP_CC_CWND_MAX) next = TCP_CC_CWND_MAX;
  cc->cwnd = (uint32_t)next;
}

/* ---- NewReno ---- */

static void newreno_init(struct tcp_cc *cc, uint32_t mss, uint32_t initial_cwnd_bytes) {
  if (mss == 0) mss = 1;
  *cc = (struct tcp_cc){0};
  cc->cwnd = initial_cwnd_bytes > mss ? initial_cwnd_bytes : mss;
  if (cc->cwnd > TCP_CC_CWND_MAX) cc->cwnd = TCP_CC_CWND_MAX;
  cc->ssthresh = TCP_CC_INFINITE;
}

static void newreno_on_ack(struct tcp_cc *cc, uint32_t mss, uint32_t acked, uint64_t now_us,
                           uint32_t srtt_us) {
  (void)now_us;
  (void)srtt_us;
  if (mss == 0) mss = 1;
  if (cc->cwnd < cc->ssthresh) {
    mtcp_tcp_cc_slow_start(cc, mss, acked);
    return;
  }
  /* RFC 5681 3.1 congestion avoidance, byte-counted as in RFC 3465 2.1:
   * one SMSS of growth per cwnd bytes acknowledged (about one per RTT). */
  uint64_t acc = (uint64_t)cc->ack_acc + acked;
  if (acc >= cc->cwnd) {
    acc -= cc->cwnd;
    uint64_t next = (uint64_t)cc->cwnd + mss;
    cc->cwnd = next > TCP_CC_CWND_MAX ? TCP_CC_CWND_MAX : (uint32_t)next;
  }
  /* A huge stretch ACK may leave more than one window's worth: keep at most
   * one so growth stays one SMSS per ACK (RFC 3465 2.1). */
  cc->ack_acc = acc > cc->cwnd ? cc->cwnd : (uint32_t)acc;
}

/* RFC 5681 eq. (4): ssthresh = max(FlightSize / 2, 2*SMSS). */
static uint32_t newreno_ssthresh(uint32_t mss, uint32_t flight) {
  uint64_t half = flight / 2, floor2 = 2ull * mss;
  uint64_t v = half > floor2 ? half : floor2;
  return v > TCP_CC_CWND_MAX ? TCP_CC_CWND_MAX : (uint32_t)v;
}

static void newreno_on_loss(struct tcp_cc *cc, uint32_t mss, uint32_t flight, uint64_t now_us) {
  (void)now_us;
  if (mss == 0) mss = 1;
  cc->ssthresh = newreno_ssthresh(mss, flight);
  cc->cwnd = cc->ssthresh;
  cc->ack_acc = 0;
}

static void newreno_on_rto(struct tcp_cc *cc, uint32_t mss, uint32_t flight, uint64_t now_us) {
  (void)now_us;
  if (mss == 0) mss = 1;
  cc->ssthresh = newreno_ssthresh(mss, flight);
  cc->cwnd = mss; /* RFC 5681 3.1: LW = 1 full-sized segment */
  cc->ack_acc = 0;
}

static void newreno_on_recovery_end(struct tcp_cc *cc, uint32_t mss, uint64_t now_us) {
  (void)now_us;
  if (mss == 0) mss = 1;
  /* RFC 6582 3.2 step 3 (full ACK): deflate the window to ssthresh. */
  cc->cwnd = cc->ssthresh > mss ? cc->ssthresh : mss;
  cc->ack_acc = 0;
}

const struct mtcp_tcp_cc_ops mtcp_tcp_cc_newreno_ops = {
    .name = "newreno",
    .init = newreno_init,
    .on_ack = newreno_on_ack,
    .on_loss = newreno_on_loss,
    .on_rto = newreno_on_rto,
    .on_recovery_end = newreno_on_recovery_end,
};
