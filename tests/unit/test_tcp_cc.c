/* Unit tests for core/src/tcp_cc.c and tcp_cc_cubic.c: NewReno and CUBIC.
 * (Floating point is allowed here, in the tests, as a reference only.) */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "microtcp/microtcp.h"
#include "tcp_cc.h"

static void cc_ops_table_names_algorithms(void) {
  const struct mtcp_tcp_cc_ops *nr = mtcp_tcp_cc_ops(MICROTCP_CC_NEWRENO);
  const struct mtcp_tcp_cc_ops *cu = mtcp_tcp_cc_ops(MICROTCP_CC_CUBIC);
  CHECK(nr && cu && nr != cu);
  CHECK(strcmp(nr->name, "newreno") == 0);
  CHECK(strcmp(cu->name, "cubic") == 0);
  CHECK(mtcp_tcp_cc_ops(-1) == NULL);
  CHECK(mtcp_tcp_cc_ops(2) == NULL);
  CHECK(nr->init && nr->on_ack && nr->on_loss && nr->on_rto && nr->on_recovery_end);
  CHECK(cu->init && cu->on_ack && cu->on_loss && cu->on_rto && cu->on_recovery_end);
}

/* ---- NewReno ---- */

static void newreno_slow_start_grows_per_ack_with_abc_limit(void) {
  const struct mtcp_tcp_cc_ops *o = mtcp_tcp_cc_ops(MICROTCP_CC_NEWRENO);
  struct tcp_cc cc;
  const uint32_t mss = 1000;
  o->init(&cc, mss, 10 * mss);
  CHECK_EQ(cc.cwnd, 10000);
  CHECK_EQ(cc.ssthresh, TCP_CC_INFINITE);
  /* One RTT of per-segment ACKs doubles cwnd (RFC 5681 3.1). */
  for (int i = 0; i < 10; i++) o->on_ack(&cc, mss, mss, 0, 0);
  CHECK_EQ(cc.cwnd, 20000);
  /* A stretch ACK of 5 segments grows by at most 1*mss (RFC 5681 3.1, the
   * default abc_limit)... */
  o->on_ack(&cc, mss, 5 * mss, 0, 0);
  CHECK_EQ(cc.cwnd, 21000);
  /* ... or 2*mss with RFC 3465's L = 2 (abc_limit = 2). */
  cc.abc_limit = 2;
  o->on_ack(&cc, mss, 5 * mss, 0, 0);
  CHECK_EQ(cc.cwnd, 23000);
  cc.abc_limit = 0; /* 0 counts as 1 */
  o->on_ack(&cc, mss, 5 * mss, 0, 0);
  CHECK_EQ(cc.cwnd, 24000);
  cc.cwnd = 22000;
  /* A small ACK grows by what it acknowledged. */
  o->on_ack(&cc, mss, 100, 0, 0);
  CHECK_EQ(cc.cwnd, 22100);
  /* Slow start stops at ssthresh. */
  cc.ssthresh = 22500;
  o->on_ack(&cc, mss, mss, 0, 0);
  CHECK_EQ(cc.cwnd, 22500);
  /* Initial window below one segment is raised to one. */
  o->init(&cc, mss, 10);
  CHECK_EQ(cc.cwnd, mss);
}

static void newreno_congestion_avoidance_adds_one_mss_per_rtt(void) {
  const struct mtcp_tcp_cc_ops *o = mtcp_tcp_cc_ops(MICROTCP_CC_NEWRENO);
  struct tcp_cc cc;
  const uint32_t mss = 1460;
  o->init(&cc, mss, 10 * mss);
  cc.ssthresh = 10 * mss; /* start in congestion avoidance */
  for (uint32_t rtt = 0; rtt < 50; rtt++) {
    uint32_t start = cc.cwnd;
    uint32_t segs = start / mss;
    for (uint32_t i = 0; i < segs; i++) o->on_ack(&cc, mss, mss, 0, 0);
    CHECK_EQ(cc.cwnd, start + mss); /* exactly one SMSS per window acked */
  }
  CHECK_EQ(cc.cwnd, 60 * mss);
  /* Delayed ACKs (2 segments each) give the same growth per RTT. */
  uint32_t start = cc.cwnd;
  for (uint32_t i = 0; i < start / mss / 2; i++) o->on_ack(&cc, mss, 2 * mss, 0, 0);
  CHECK_EQ(cc.cwnd, start + mss);
}

static void newreno_loss_halves_flight_and_rto_drops_to_one_mss(void) {
  const struct mtcp_tcp_cc_ops *o = mtcp_tcp_cc_ops(MICROTCP_CC_NEWRENO);
  struct tcp_cc cc;
  const uint32_t mss = 1000;
  o->init(&cc, mss, 40 * mss);
  o->on_loss(&cc, mss, 30000, 0); /* RFC 5681 eq. 4 uses FlightSize, not cwnd */
  CHECK_EQ(cc.ssthresh, 15000);
  CHECK_EQ(cc.cwnd, 15000);
  cc.cwnd = cc.ssthresh + 3 * mss + 5 * mss; /* what the TCP code does during recovery */
  o->on_recovery_end(&cc, mss, 0);
  CHECK_EQ(cc.cwnd, 15000); /* deflated (RFC 6582 3.2 step 3) */
  o->on_loss(&cc, mss, 3000, 0); /* floor at 2*mss */
  CHECK_EQ(cc.ssthresh, 2000);
  o->init(&cc, mss, 40 * mss);
  o->on_rto(&cc, mss, 40000, 0);
  CHECK_EQ(cc.cwnd, mss);
  CHECK_EQ(cc.ssthresh, 20000);
  /* After the RTO, slow start again up to ssthresh, then linear. */
  while (cc.cwnd < cc.ssthresh) o->on_ack(&cc, mss, mss, 0, 0);
  CHECK_EQ(cc.cwnd, 20000);
  o->on_ack(&cc, mss, mss, 0, 0);
  CHECK_EQ(cc.cwnd, 20000);
  /* mss 0 must not divide by zero or stall at 0. */
  o->init(&cc, 0, 0);
  CHECK(cc.cwnd >= 1);
  o->on_rto(&cc, 0, 0, 0);
  CHECK(cc.cwnd >= 1 && cc.ssthresh >= 2);
}

/* ---- CUBIC building blocks ---- */

static void icbrt_exact_on_range_and_every_cube_boundary(void) {
  /* Exhaustive on [0, 2^22] against a reference advanced with integers. */
  uint64_t r = 0;
  int bad = 0;
  for (uint64_t x = 0; x <= (1u << 22); x++) {
    while ((r + 1) * (r + 1) * (r + 1) <= x) r++;
    if (mtcp_tcp_cc_icbrt(x) != r) bad++;
  }
  CHECK_EQ(bad, 0);
  /* Both sides of every perfect cube that fits in 64 bits. */
  bad = 0;
  for (uint64_t k = 1; k <= 2642245; k++) {
    uint64_t c = k * k * k;
    if (mtcp_tcp_cc_icbrt(c) != k || mtcp_tcp_cc_icbrt(c - 1) != k - 1) bad++;
    if (k < 2642245 && mtcp_tcp_cc_icbrt(c + 1) != k) bad++;
  }
  CHECK_EQ(bad, 0);
  CHECK_EQ(mtcp_tcp_cc_icbrt(UINT64_MAX), 2642245); /* 2642245^3 < 2^64 <= 2642246^3 */
  CHECK_EQ(mtcp_tcp_cc_icbrt(1ull << 63), 2097152); /* 2^21 exactly */
}

static void cubic_k_matches_rfc_formula(void) {
  /* W_max = 100 segments, cwnd_epoch = 70: K = cbrt(30/0.4) s = 4.2172 s. */
  CHECK_EQ(mtcp_tcp_cubic_k_ms(100 * 1460, 70 * 1460, 1460), 4217);
  /* W_max - cwnd_epoch = 0.4 segments -> K = 1 s. */
  CHECK_EQ(mtcp_tcp_cubic_k_ms(1000, 600, 1000), 1000);
  CHECK_EQ(mtcp_tcp_cubic_k_ms(1000, 1000, 1000), 0);
  CHECK_EQ(mtcp_tcp_cubic_k_ms(1000, 2000, 1000), 0);
  /* Extreme inputs stay within 64-bit intermediates. */
  CHECK_EQ(mtcp_tcp_cubic_k_ms(0xffffffffu, 0, 1), mtcp_tcp_cc_icbrt(0xffffffffull * 2500000000ull));
  CHECK(mtcp_tcp_cubic_k_ms(0xffffffffu, 0, 0) > 0);
}

static void cubic_window_is_concave_then_convex_around_w_max(void) {
  const uint32_t mss = 1460, wmax = 100 * mss;
  uint32_t k = mtcp_tcp_cubic_k_ms(wmax, 70 * mss, mss);
  /* W(0) is the reduced window, W(K) is W_max. */
  uint32_t w0 = mtcp_tcp_cubic_window(0, k, wmax, mss);
  CHECK(w0 >= 70 * mss && w0 <= 70 * mss + mss / 10);
  CHECK_EQ(mtcp_tcp_cubic_window(k, k, wmax, mss), wmax);
  /* Against a floating-point reference (test-only) at every 10 ms up to 3K. */
  int bad = 0;
  for (uint32_t t = 0; t <= 3 * k; t += 10) {
    double d = ((double)t - (double)k) / 1000.0;
    double ref = 0.4 * d * d * d * mss + wmax;
    double got = mtcp_tcp_cubic_window(t, k, wmax, mss);
    if (got - ref > 1.5 || ref - got > 1.5) bad++;
  }
  CHECK_EQ(bad, 0);
  /* Increments shrink towards K (concave) and grow after it (convex). */
  uint32_t step = 100, prev_inc = UINT32_MAX;
  for (uint32_t t = 0; t + step <= k; t += step) {
    uint32_t inc = mtcp_tcp_cubic_window(t + step, k, wmax, mss) - mtcp_tcp_cubic_window(t, k, wmax, mss);
    CHECK(inc <= prev_inc);
    prev_inc = inc;
  }
  prev_inc = 0;
  for (uint32_t t = k; t < 3 * k; t += step) {
    uint32_t inc = mtcp_tcp_cubic_window(t + step, k, wmax, mss) - mtcp_tcp_cubic_window(t, k, wmax, mss);
    CHECK(inc >= prev_inc);
    prev_inc = inc;
  }
  /* Symmetry around the plateau (within rounding). */
  for (uint32_t d = 0; d <= k; d += 37) {
    int64_t up = (int64_t)mtcp_tcp_cubic_window(k + d, k, wmax, mss) - wmax;
    int64_t down = (int64_t)wmax - mtcp_tcp_cubic_window(k - d, k, wmax, mss);
    CHECK(up - down <= 1 && down - up <= 1);
  }
}

static void cubic_window_saturates_without_overflow(void) {
  /* cwnd up to 2^30 bytes, t up to one hour (and beyond), big mss. */
  const uint32_t origins[] = {0, 1, 1460, 1u << 20, 1u << 30, 0xffffffffu};
  const uint32_t msss[] = {1, 536, 1460, 9000, 65535, 0xffffffffu};
  for (unsigned i = 0; i < 6; i++)
    for (unsigned j = 0; j < 6; j++) {
      uint32_t k = mtcp_tcp_cubic_k_ms(origins[i], origins[i] / 2, msss[j]);
      uint32_t prev = 0;
      int mono = 1;
      for (uint64_t t = 0; t <= 3600ull * 1000 * 2; t += 997) {
        uint32_t w = mtcp_tcp_cubic_window((uint32_t)t, k, origins[i], msss[j]);
        if (w < prev) mono = 0;
        prev = w;
      }
      CHECK(mono);
      /* One hour past K is beyond the 2^21 ms clamp: saturated. */
      CHECK_EQ(mtcp_tcp_cubic_window(3600u * 1000, 0, origins[i], msss[j]), 0xffffffffu);
      CHECK_EQ(mtcp_tcp_cubic_window(0xffffffffu, 0, origins[i], msss[j]), 0xffffffffu);
      CHECK_EQ(mtcp_tcp_cubic_window(0, 0xffffffffu, origins[i], msss[j]), 0);
    }
}

/* ---- CUBIC behaviour over simulated ACK streams ---- */

/* Acknowledge one window (cwnd bytes in mss-sized ACKs) spread over one RTT. */
static void ack_one_rtt(const struct mtcp_tcp_cc_ops *o, struct tcp_cc *cc, uint32_t mss, uint64_t *now,
                        uint32_t rtt_us) {
  uint32_t segs = cc->cwnd / mss;
  if (segs == 0) segs = 1;
  for (uint32_t i = 0; i < segs; i++) {
    *now += rtt_us / segs;
    o->on_ack(cc, mss, mss, *now, rtt_us);
  }
}

static void cubic_loss_reduces_by_beta_with_fast_convergence(void) {
  const struct mtcp_tcp_cc_ops *o = mtcp_tcp_cc_ops(MICROTCP_CC_CUBIC);
  struct tcp_cc cc;
  const uint32_t mss = 1000;
  o->init(&cc, mss, 100000);
  o->on_loss(&cc, mss, 100000, 1000000);
  CHECK_EQ(cc.ssthresh, 100000u * 717 / 1024); /* 70019: beta = 0.7 */
  CHECK_EQ(cc.cwnd, cc.ssthresh);
  CHECK_EQ(cc.w_max, 100000);
  /* A second loss below W_max: fast convergence lowers W_max to
   * cwnd * (1 + beta) / 2 (RFC 9438 4.7). */
  o->on_loss(&cc, mss, 70019, 2000000);
  CHECK_EQ(cc.w_max, (uint32_t)(70019ull * 1741 / 2048));
  CHECK_EQ(cc.ssthresh, (uint32_t)(70019ull * 717 / 1024));
  /* Floor at 2 segments. */
  o->init(&cc, mss, 2 * mss);
  o->on_loss(&cc, mss, 2 * mss, 0);
  CHECK_EQ(cc.ssthresh, 2 * mss);
  /* RTO: cwnd 1 mss, ssthresh by beta. */
  o->init(&cc, mss, 100000);
  o->on_rto(&cc, mss, 100000, 0);
  CHECK_EQ(cc.cwnd, mss);
  CHECK_EQ(cc.ssthresh, 70019);
  /* A back-to-back RTO keeps ssthresh (RFC 5681 3.1). */
  o->on_rto(&cc, mss, 100000, 0);
  CHECK_EQ(cc.cwnd, mss);
  CHECK_EQ(cc.ssthresh, 70019);
  o->on_recovery_end(&cc, mss, 0);
  CHECK_EQ(cc.cwnd, 70019);
}

/* After a loss at W_max = 100 segments on a long-RTT path the window climbs
 * back (concave), reaches W_max near t = K, then probes beyond (convex);
 * per-RTT growth never exceeds 1.5x. */
static void cubic_recovers_to_w_max_near_k_then_probes(void) {
  const struct mtcp_tcp_cc_ops *o = mtcp_tcp_cc_ops(MICROTCP_CC_CUBIC);
  struct tcp_cc cc;
  const uint32_t mss = 1000, rtt = 100000; /* 100 ms */
  uint64_t now = 1000000;
  o->init(&cc, mss, 100 * mss);
  o->on_loss(&cc, mss, 100 * mss, now);
  CHECK_EQ(cc.cwnd, 70019);
  uint64_t epoch = now;
  uint64_t reached_at = 0;
  uint32_t at_k = 0;
  for (int r = 0; r < 80; r++) {
    uint32_t before = cc.cwnd;
    ack_one_rtt(o, &cc, mss, &now, rtt);
    CHECK(cc.cwnd >= before);
    CHECK((uint64_t)cc.cwnd * 2 <= (uint64_t)before * 3); /* <= 1.5x per RTT */
    if (!reached_at && cc.cwnd >= 100 * mss) reached_at = now - epoch;
    if (now - epoch <= 4217000) at_k = cc.cwnd;
  }
  /* K = 4.217 s: cwnd gets within 2% of W_max around there. The target is
   * W_cubic(t + RTT), so it may arrive up to an RTT or so early. */
  CHECK(reached_at > 3800000 && reached_at < 4700000);
  if (!(reached_at > 3800000 && reached_at < 4700000)) fprintf(stderr, "  reached_at %llu\n", (unsigned long long)reached_at);
  CHECK(at_k > 98 * mss && at_k <= 101 * mss);
  /* 8 s after the loss the window is well above W_max: the convex curve
   * gives W_cubic(8 s) = 0.4 * (8 - 4.217)^3 + 100 = 121.7 segments and the
   * Reno-friendly W_est (alpha 0.53 then 1 segment per RTT) about as much. */
  CHECK(cc.cwnd > 115 * mss && cc.cwnd < 125 * mss);
}

/* On a short-RTT path Reno would grow faster than the cubic curve near its
 * plateau: CUBIC follows W_est (RFC 9438 4.3), about alpha = 0.53 segments
 * per RTT until W_est reaches cwnd_prior. */
static void cubic_short_rtt_follows_reno_friendly_estimate(void) {
  const struct mtcp_tcp_cc_ops *o = mtcp_tcp_cc_ops(MICROTCP_CC_CUBIC);
  struct tcp_cc cc;
  const uint32_t mss = 1000, rtt = 1000; /* 1 ms */
  uint64_t now = 5000000;
  o->init(&cc, mss, 100 * mss);
  o->on_loss(&cc, mss, 100 * mss, now);
  for (int r = 0; r < 40; r++) ack_one_rtt(o, &cc, mss, &now, rtt);
  /* 70 + 40 * 0.529 = 91.2 segments, while W_cubic(40 ms) is still ~70. */
  CHECK(cc.cwnd >= 89 * mss && cc.cwnd <= 93 * mss);
  CHECK(mtcp_tcp_cubic_window(40, cc.k_ms, cc.origin, mss) < 72 * mss);
  /* Past cwnd_prior alpha is 1: one segment per RTT. */
  for (int r = 0; r < 60; r++) ack_one_rtt(o, &cc, mss, &now, rtt);
  uint32_t before = cc.cwnd;
  for (int r = 0; r < 10; r++) ack_one_rtt(o, &cc, mss, &now, rtt);
  CHECK(cc.cwnd >= before + 9 * mss && cc.cwnd <= before + 11 * mss);
}

/* After an RTO, slow start to ssthresh, then K = 0 and W_max = cwnd at the
 * start of congestion avoidance (RFC 9438 4.8): growth resumes at once. */
static void cubic_after_rto_restarts_with_k_zero(void) {
  const struct mtcp_tcp_cc_ops *o = mtcp_tcp_cc_ops(MICROTCP_CC_CUBIC);
  struct tcp_cc cc;
  const uint32_t mss = 1000, rtt = 50000;
  uint64_t now = 1000000;
  o->init(&cc, mss, 100 * mss);
  o->on_rto(&cc, mss, 100 * mss, now);
  CHECK_EQ(cc.cwnd, mss);
  int rounds = 0;
  while (cc.cwnd < cc.ssthresh && rounds++ < 20) ack_one_rtt(o, &cc, mss, &now, rtt);
  CHECK_EQ(cc.cwnd, cc.ssthresh); /* slow start stopped exactly at ssthresh */
  CHECK(rounds <= 8);             /* doubling: 1 -> 70 segments in 7 RTTs */
  ack_one_rtt(o, &cc, mss, &now, rtt);
  CHECK_EQ(cc.k_ms, 0);
  CHECK_EQ(cc.origin, 70019);
  CHECK(cc.cwnd >= 70019);
}

/* An ACK long after the epoch began (e.g. the sender was application
 * limited) must not jump to W_cubic(t): growth is clamped to 1.5x cwnd per
 * window acked (RFC 9438 4.4/4.5 target clamp). */
static void cubic_growth_clamped_to_one_and_a_half_per_rtt(void) {
  const struct mtcp_tcp_cc_ops *o = mtcp_tcp_cc_ops(MICROTCP_CC_CUBIC);
  struct tcp_cc cc;
  const uint32_t mss = 1000;
  uint64_t now = 1000000;
  o->init(&cc, mss, 100 * mss);
  o->on_loss(&cc, mss, 100 * mss, now);
  o->on_ack(&cc, mss, mss, now, 0); /* epoch starts */
  now += 60ull * 1000000;           /* W_cubic(60 s) is ~ 70000 segments */
  uint32_t start = cc.cwnd, segs = start / mss;
  for (uint32_t i = 0; i < segs; i++) o->on_ack(&cc, mss, mss, now, 0);
  CHECK(cc.cwnd > start + start / 4);            /* it does grow fast ... */
  CHECK((uint64_t)cc.cwnd * 2 <= (uint64_t)start * 3 + 2 * mss); /* ... but <= 1.5x */
}

/* The target is W_cubic(t + RTT) (RFC 9438 4.2): a longer RTT aims further
 * ahead on the curve and grows faster at the same elapsed time. */
static void cubic_target_looks_one_rtt_ahead(void) {
  const struct mtcp_tcp_cc_ops *o = mtcp_tcp_cc_ops(MICROTCP_CC_CUBIC);
  struct tcp_cc a, b;
  const uint32_t mss = 1000;
  o->init(&a, mss, 100 * mss);
  o->on_loss(&a, mss, 100 * mss, 1000);
  b = a;
  for (uint64_t i = 1; i <= 200; i++) {
    o->on_ack(&a, mss, mss, 1000 + i * 1000, 0);
    o->on_ack(&b, mss, mss, 1000 + i * 1000, 1000000);
  }
  /* a aims at W_cubic(0.2 s) ~ 72 segments, b at W_cubic(1.2 s) ~ 84. */
  CHECK(b.cwnd > a.cwnd + 5 * mss);
}

/* Huge windows and times: no overflow (run under UBSan in the asan build),
 * cwnd stays bounded and never shrinks on an ACK. */
static void cubic_huge_window_and_hour_long_epoch_stay_bounded(void) {
  const struct mtcp_tcp_cc_ops *o = mtcp_tcp_cc_ops(MICROTCP_CC_CUBIC);
  const uint32_t msss[] = {1, 536, 1460, 65535};
  for (unsigned m = 0; m < 4; m++) {
    struct tcp_cc cc;
    uint32_t mss = msss[m];
    o->init(&cc, mss, 1u << 30);
    o->on_loss(&cc, mss, 1u << 30, 1);
    uint64_t now = 1;
    uint32_t prev = cc.cwnd;
    int ok = 1;
    for (int i = 0; i < 20000; i++) {
      now += 180000; /* 180 ms steps: one hour in total */
      o->on_ack(&cc, mss, (uint32_t)(1u << 30) >> (i % 31), now, 0xffffffffu);
      if (cc.cwnd < prev || cc.cwnd > TCP_CC_CWND_MAX) ok = 0;
      prev = cc.cwnd;
    }
    CHECK(ok);
    CHECK(now >= 3600ull * 1000000);
    CHECK(cc.cwnd > (1u << 30)); /* an hour of growth from 0.7 GB does grow */
    o->on_rto(&cc, mss, cc.cwnd, now);
    CHECK_EQ(cc.cwnd, mss);
  }
  /* NewReno too. */
  const struct mtcp_tcp_cc_ops *nr = mtcp_tcp_cc_ops(MICROTCP_CC_NEWRENO);
  struct tcp_cc cc;
  nr->init(&cc, 1460, 0xffffffffu);
  CHECK(cc.cwnd <= TCP_CC_CWND_MAX);
  cc.ssthresh = 1000;
  for (int i = 0; i < 100; i++) nr->on_ack(&cc, 65535, 0xffffffffu, 0, 0);
  CHECK(cc.cwnd <= TCP_CC_CWND_MAX);
}


/* ---- HyStart++ (RFC 9406) ---- */

/* Feed n ACKs of one mss each, all with RTT rtt_us, two new segments sent
 * per ACK; with n = 10, 20, 40, ... from the start each call is one round
 * (a round ends when an ACK passes the SND.NXT of its start). */
static int hystart_round(const struct mtcp_tcp_cc_ops *o, struct tcp_cc *cc, uint32_t mss,
                         uint32_t *una, uint32_t *nxt, int n, uint32_t rtt_us) {
  int events = 0;
  for (int i = 0; i < n; i++) {
    *una += mss;
    int r = mtcp_tcp_hystart_on_ack(cc, *una, *nxt, rtt_us);
    if (r) events = r;
    o->on_ack(cc, mss, mss, 0, 0);
    *nxt += 2 * mss; /* slow start: two new segments per ACK */
  }
  return events;
}

static void hystart_leaves_slow_start_on_rtt_rise_then_css_ends_in_ca(void) {
  const struct mtcp_tcp_cc_ops *o = mtcp_tcp_cc_ops(MICROTCP_CC_NEWRENO);
  struct tcp_cc cc;
  const uint32_t mss = 1000;
  o->init(&cc, mss, 10 * mss);
  uint32_t una = 0, nxt = 10 * mss;
  mtcp_tcp_hystart_start(&cc, nxt);
  /* Rounds at a flat 40 ms: slow start continues (cwnd doubles). */
  CHECK_EQ(hystart_round(o, &cc, mss, &una, &nxt, 10, 40000), 0);
  CHECK_EQ(hystart_round(o, &cc, mss, &una, &nxt, 20, 40000), 0);
  CHECK_EQ(cc.hs.state, HYSTART_SS);
  /* RttThresh = max(4 ms, min(lastRoundMinRTT/8, 16 ms)): 5 ms after the
   * 40 ms round, so a rise of 4.9 ms is not enough; 5.6125 ms after the
   * 44.9 ms round, which 5.7 ms exceeds. */
  CHECK_EQ(hystart_round(o, &cc, mss, &una, &nxt, 40, 44900), 0);
  CHECK_EQ(cc.hs.state, HYSTART_SS);
  CHECK_EQ(hystart_round(o, &cc, mss, &una, &nxt, 80, 44900 + 5700), 1);
  CHECK_EQ(cc.hs.state, HYSTART_CSS);
  /* CSS grows a quarter as fast: 8 ACKs of one mss add 2 mss. */
  uint32_t before = cc.cwnd;
  for (int i = 0; i < 8; i++) o->on_ack(&cc, mss, mss, 0, 0);
  CHECK_EQ(cc.cwnd, before + 2 * mss);
  /* CSS_ROUNDS rounds without the RTT falling below the baseline: ssthresh
   * = cwnd, congestion avoidance. */
  int ev = 0;
  for (int r = 0; r < 6 && cc.hs.state == HYSTART_CSS; r++)
    ev = hystart_round(o, &cc, mss, &una, &nxt, (int)((nxt - una) / mss), 60000);
  CHECK_EQ(ev, 2);
  CHECK_EQ(cc.hs.state, HYSTART_DONE);
  /* ssthresh = cwnd at the exit; the rest of that round's ACKs grew cwnd by
   * congestion avoidance only (a few mss, not slow start's one per ACK). */
  CHECK(cc.ssthresh != TCP_CC_INFINITE && cc.ssthresh <= cc.cwnd && cc.cwnd - cc.ssthresh <= 3 * mss);
}

static void hystart_css_resumes_slow_start_when_rtt_falls_back(void) {
  const struct mtcp_tcp_cc_ops *o = mtcp_tcp_cc_ops(MICROTCP_CC_CUBIC);
  struct tcp_cc cc;
  const uint32_t mss = 1000;
  o->init(&cc, mss, 10 * mss);
  uint32_t una = 0, nxt = 10 * mss;
  mtcp_tcp_hystart_start(&cc, nxt);
  hystart_round(o, &cc, mss, &una, &nxt, 10, 20000);
  hystart_round(o, &cc, mss, &una, &nxt, 20, 20000);
  CHECK_EQ(hystart_round(o, &cc, mss, &una, &nxt, 40, 30000), 1);
  /* The next round's minimum is below the 30 ms baseline: spurious exit. */
  hystart_round(o, &cc, mss, &una, &nxt, 10, 21000);
  CHECK_EQ(cc.hs.state, HYSTART_SS);
  CHECK_EQ(cc.ssthresh, TCP_CC_INFINITE);
}

static void hystart_needs_eight_samples_and_stops_after_loss(void) {
  const struct mtcp_tcp_cc_ops *o = mtcp_tcp_cc_ops(MICROTCP_CC_NEWRENO);
  struct tcp_cc cc;
  const uint32_t mss = 1000;
  o->init(&cc, mss, 10 * mss);
  uint32_t una = 0, nxt = 10 * mss;
  mtcp_tcp_hystart_start(&cc, nxt);
  hystart_round(o, &cc, mss, &una, &nxt, 10, 10000);
  /* Seven samples of a much higher RTT in a round decide nothing. */
  CHECK_EQ(hystart_round(o, &cc, mss, &una, &nxt, 7, 90000), 0);
  CHECK_EQ(cc.hs.state, HYSTART_SS);
  /* A loss (ssthresh set by the algorithm) ends HyStart++ for good (4.3). */
  o->on_loss(&cc, mss, cc.cwnd, 0);
  CHECK_EQ(mtcp_tcp_hystart_on_ack(&cc, una + mss, nxt, 90000), 0);
  CHECK_EQ(cc.hs.state, HYSTART_DONE);
  /* Off (never started): nothing happens, slow start as before. */
  o->init(&cc, mss, 10 * mss);
  CHECK_EQ(mtcp_tcp_hystart_on_ack(&cc, 1000, 2000, 90000), 0);
  CHECK_EQ(cc.hs.state, HYSTART_OFF);
}

int main(void) {
  RUN(cc_ops_table_names_algorithms);
  RUN(newreno_slow_start_grows_per_ack_with_abc_limit);
  RUN(newreno_congestion_avoidance_adds_one_mss_per_rtt);
  RUN(newreno_loss_halves_flight_and_rto_drops_to_one_mss);
  RUN(icbrt_exact_on_range_and_every_cube_boundary);
  RUN(cubic_k_matches_rfc_formula);
  RUN(cubic_window_is_concave_then_convex_around_w_max);
  RUN(cubic_window_saturates_without_overflow);
  RUN(cubic_loss_reduces_by_beta_with_fast_convergence);
  RUN(cubic_recovers_to_w_max_near_k_then_probes);
  RUN(cubic_short_rtt_follows_reno_friendly_estimate);
  RUN(cubic_after_rto_restarts_with_k_zero);
  RUN(cubic_growth_clamped_to_one_and_a_half_per_rtt);
  RUN(cubic_target_looks_one_rtt_ahead);
  RUN(cubic_huge_window_and_hour_long_epoch_stay_bounded);
  RUN(hystart_leaves_slow_start_on_rtt_rise_then_css_ends_in_ca);
  RUN(hystart_css_resumes_slow_start_when_rtt_falls_back);
  RUN(hystart_needs_eight_samples_and_stops_after_loss);
  return check_report();
}
