/*
 * CUBIC congestion control (RFC 9438) in integer arithmetic.
 *
 * Fixed-point choices (no floating point anywhere in the core):
 *   beta_cubic = 0.7  as 717/1024            (RFC 9438 4.6)
 *   C          = 0.4  folded into the constants below (RFC 9438 5.1)
 *   alpha_cubic = 3(1-beta)/(1+beta) = 921/1741 with beta = 717/1024 (4.3)
 *   time t, K in milliseconds; windows in bytes (the RFC's segments x mss).
 *
 * W_cubic(t) = C*(t-K)^3 + W_max (eq. 1). With t-K = d ms and C = 0.4
 * segments/s^3 the offset in 1/65536 segments is
 *   0.4 * d^3 / 10^9 * 65536 = 256 * d^3 / 5^10,
 * computed exactly (floor) as 256*q + 256*r/5^10 with q,r = d^3 divmod 5^10,
 * so no term exceeds 64 bits; the byte result is then within 1 byte +
 * mss/65536 of the exact value. Bounds: d is clamped at 2^21 ms (~35
 * minutes), where d^3 <= 2^63 still fits (q < 2^40, 256*q < 2^48); at that
 * point the offset is 0.4*2097^3 ~ 3.7e9 segments, beyond any 32-bit byte
 * window for mss >= 2, so clamping only saturates a result that would
 * saturate anyway. The fixed-point offset times mss is checked against 2^64
 * before multiplying (it only fails for results far above 2^32 bytes).
 *
 * K = cbrt((W_max - cwnd_epoch)/C) (eq. 2). In ms and bytes:
 *   K_ms = cbrt(diff_bytes / mss * 2.5 * 10^9) = icbrt(diff_bytes * 2.5e9 / mss)
 * with diff_bytes < 2^32 the product is < 1.08e19 < 2^64.
 */
#include "tcp_cc.h"

#define BETA_NUM 717u
#define BETA_DEN 1024u
#define ALPHA_NUM 921u  /* 3 * (1024 - 717) */
#define ALPHA_DEN 1741u /* 1024 + 717 */
#define CUBIC_D_MAX (1u << 21) /* ms; see the bound above */
#define FIVE_POW_10 9765625ull

uint32_t mtcp_tcp_cc_icbrt(uint64_t x) {
  /* Digit-by-digit (binary) cube root: builds the result one bit at a time
   * from the top, keeping x as the remainder x - y^3 (scaled). The test
   * (x >> s) >= b avoids ever forming b << s larger than x. */
  uint64_t y = 0;
  for (int s = 63; s >= 0; s -= 3) {
    y <<= 1;
    uint64_t b = 3 * y * (y + 1) + 1;
    if ((x >> s) >= b) {
      x -= b << s;
      y++;
    }
  }
  return (uint32_t)y;
}

uint32_t mtcp_tcp_cubic_window(uint32_t t_ms, uint32_t k_ms, uint32_t origin, uint32_t mss) {
  if (mss == 0) mss = 1;
  int below = t_ms < k_ms; /* concave region: W_cubic below W_max */
  uint32_t d = below ? k_ms - t_ms : t_ms - k_ms;
  uint64_t delta; /* bytes */
  if (d >= CUBIC_D_MAX) {
    delta = UINT64_MAX;
  } else {
    uint64_t c = (uint64_t)d * d * d; /* < 2^63 */
    uint64_t fp = 256 * (c / FIVE_POW_10) + (256 * (c % FIVE_POW_10)) / FIVE_POW_10;
    delta = fp > UINT64_MAX / mss ? UINT64_MAX : fp * mss / 65536;
  }
  if (below) return delta >= origin ? 0 : (uint32_t)(origin - delta);
  return delta >= (uint64_t)(0xffffffffu - origin) ? 0xffffffffu : (uint32_t)(origin + delta);
}

uint32_t mtcp_tcp_cubic_k_ms(uint32_t w_max, uint32_t cwnd_epoch, uint32_t mss) {
  if (mss == 0) mss = 1;
  if (cwnd_epoch >= w_max) return 0;
  uint64_t diff = w_max - cwnd_epoch;
  return mtcp_tcp_cc_icbrt(diff * 2500000000ull / mss);
}

static uint32_t clamp_cwnd(uint64_t v) { return v > TCP_CC_CWND_MAX ? TCP_CC_CWND_MAX : (uint32_t)v; }

static void cubic_init(struct tcp_cc *cc, uint32_t mss, uint32_t initial_cwnd_bytes) {
  if (mss == 0) mss = 1;
  *cc = (struct tcp_cc){0};
  cc->cwnd = clamp_cwnd(initial_cwnd_bytes > mss ? initial_cwnd_bytes : mss);
  cc->ssthresh = TCP_CC_INFINITE;
}

/* RFC 9438 4.2: a congestion-avoidance epoch starts with the first ACK after
 * slow start or recovery. If cwnd is already at or above W_max (no loss yet,
 * or after an RTO, 4.8 and 4.10), the plateau is the current cwnd and K = 0. */
static void cubic_start_epoch(struct tcp_cc *cc, uint32_t mss, uint64_t now_us) {
  cc->epoch_start = now_us ? now_us : 1; /* 0 means "no epoch" */
  cc->ack_acc = 0;
  cc->est_acc = 0;
  cc->w_est = cc->cwnd; /* 4.3: W_est = cwnd_epoch */
  if (cc->cwnd < cc->w_max) {
    cc->k_ms = mtcp_tcp_cubic_k_ms(cc->w_max, cc->cwnd, mss);
    cc->origin = cc->w_max;
  } else {
    cc->w_max = cc->cwnd;
    cc->k_ms = 0;
    cc->origin = cc->cwnd;
  }
}

static void cubic_on_ack(struct tcp_cc *cc, uint32_t mss, uint32_t acked, uint64_t now_us,
                         uint32_t srtt_us) {
  if (mss == 0) mss = 1;
  if (cc->cwnd < cc->ssthresh) {
    mtcp_tcp_cc_slow_start(cc, mss, acked); /* RFC 9438 4.10: slow start as Reno */
    return;
  }
  if (cc->epoch_start == 0) cubic_start_epoch(cc, mss, now_us);

  uint64_t elapsed_ms = now_us > cc->epoch_start ? (now_us - cc->epoch_start) / 1000 : 0;
  uint64_t ahead_ms = elapsed_ms + srtt_us / 1000;
  uint32_t t_now = elapsed_ms > 0xffffffffu ? 0xffffffffu : (uint32_t)elapsed_ms;
  uint32_t t_ahead = ahead_ms > 0xffffffffu ? 0xffffffffu : (uint32_t)ahead_ms;

  /* RFC 9438 4.3 Reno-friendly estimate: W_est += alpha * acked / cwnd (in
   * segments), i.e. one mss of W_est per cwnd/alpha bytes acked; alpha
   * becomes 1 once W_est reaches the window before the last reduction. */
  uint64_t need_est = cc->w_est >= cc->cwnd_prior
                          ? cc->cwnd
                          : (uint64_t)cc->cwnd * ALPHA_DEN / ALPHA_NUM;
  if (need_est == 0) need_est = 1;
  uint64_t est_acc = (uint64_t)cc->est_acc + acked;
  if (est_acc >= need_est) {
    uint64_t k = est_acc / need_est;
    cc->w_est = clamp_cwnd((uint64_t)cc->w_est + k * mss);
    est_acc -= k * need_est;
  }
  cc->est_acc = (uint32_t)(est_acc > 0xffffffffu ? 0xffffffffu : est_acc);

  uint32_t w_cubic_now = mtcp_tcp_cubic_window(t_now, cc->k_ms, cc->origin, mss);
  if (w_cubic_now < cc->w_est) {
    /* 4.3: Reno-friendly region, cwnd follows W_est. */
    if (cc->w_est > cc->cwnd) cc->cwnd = cc->w_est;
    cc->ack_acc = 0;
    return;
  }

  /* 4.4/4.5 concave and convex regions: aim for W_cubic(t + RTT), clamped to
   * [cwnd, 1.5*cwnd] (at most 50% growth per RTT), and grow cwnd by
   * (target - cwnd)/cwnd segments per segment acked: one mss per
   * cwnd*mss/(target-cwnd) bytes acked. */
  uint64_t target = mtcp_tcp_cubic_window(t_ahead, cc->k_ms, cc->origin, mss);
  uint64_t cap = (uint64_t)cc->cwnd + cc->cwnd / 2;
  if (target > cap) target = cap;
  if (target <= cc->cwnd) {
    uint64_t acc = (uint64_t)cc->ack_acc + acked; /* no growth, keep at most one window */
    cc->ack_acc = (uint32_t)(acc > cc->cwnd ? cc->cwnd : acc);
    return;
  }
  uint64_t need = (uint64_t)cc->cwnd * mss / (target - cc->cwnd);
  if (need == 0) need = 1;
  uint64_t acc = (uint64_t)cc->ack_acc + acked;
  if (acc >= need) {
    uint64_t k = acc / need;
    uint64_t next = (uint64_t)cc->cwnd + k * mss;
    if (next > target) next = target;
    cc->cwnd = clamp_cwnd(next);
    acc -= k * need;
  }
  /* Near the plateau need can exceed a whole window: keep accumulating
   * (after the subtraction acc < need, which may exceed 32 bits). */
  cc->ack_acc = (uint32_t)(acc > 0xffffffffu ? 0xffffffffu : acc);
}

/* RFC 9438 4.6 multiplicative decrease with 4.7 fast convergence. */
static void cubic_reduce(struct tcp_cc *cc, uint32_t mss) {
  cc->epoch_start = 0;
  cc->cwnd_prior = cc->cwnd;
  /* 4.7: a flow whose window keeps shrinking releases bandwidth faster by
   * remembering a W_max below the window it actually reached. */
  if (cc->cwnd < cc->w_max)
    cc->w_max = (uint32_t)((uint64_t)cc->cwnd * (BETA_DEN + BETA_NUM) / (2 * BETA_DEN));
  else
    cc->w_max = cc->cwnd;
  uint64_t ss = (uint64_t)cc->cwnd * BETA_NUM / BETA_DEN;
  if (ss < 2ull * mss) ss = 2ull * mss; /* 4.6: ssthresh = max(ssthresh, 2) segments */
  cc->ssthresh = clamp_cwnd(ss);
  cc->ack_acc = 0;
  cc->est_acc = 0;
}

static void cubic_on_loss(struct tcp_cc *cc, uint32_t mss, uint32_t flight, uint64_t now_us) {
  (void)flight; /* 4.6 reduces from cwnd (flight_size is allowed too) */
  (void)now_us;
  if (mss == 0) mss = 1;
  cubic_reduce(cc, mss);
  cc->cwnd = cc->ssthresh;
  cc->w_est = cc->cwnd;
}

static void cubic_on_rto(struct tcp_cc *cc, uint32_t mss, uint32_t flight, uint64_t now_us) {
  (void)flight;
  (void)now_us;
  if (mss == 0) mss = 1;
  /* A window already at one segment means the previous RTO has not been
   * followed by any progress: RFC 5681 3.1 keeps ssthresh on back-to-back
   * timeouts, and reducing from cwnd = 1 mss would collapse it to 2 mss. */
  if (cc->cwnd <= mss) {
    cc->cwnd = mss;
    return;
  }
  cubic_reduce(cc, mss);
  cc->cwnd = mss;
  /* 4.8: in the first congestion avoidance after a timeout K = 0 and W_max
   * is the window at its start; w_max = 0 makes cubic_start_epoch do that. */
  cc->w_max = 0;
  cc->w_est = cc->cwnd;
}

static void cubic_on_recovery_end(struct tcp_cc *cc, uint32_t mss, uint64_t now_us) {
  (void)now_us;
  if (mss == 0) mss = 1;
  cc->cwnd = cc->ssthresh > mss ? cc->ssthresh : mss; /* RFC 6582 3.2 step 3 */
  cc->ack_acc = 0;
}

const struct mtcp_tcp_cc_ops mtcp_tcp_cc_cubic_ops = {
    .name = "cubic",
    .init = cubic_init,
    .on_ack = cubic_on_ack,
    .on_loss = cubic_on_loss,
    .on_rto = cubic_on_rto,
    .on_recovery_end = cubic_on_recovery_end,
};
