/* Unit tests for core/src/tcp_rack.c: the transmission log (per-segment send
 * times) and the RTT probes used by HyStart++. RACK's loss detection itself
 * is pinned by tests/tcp/scripts/rack-*.pkt. Also the recovery figures of
 * microtcp_tcp_stats (time in fast recovery) over a lossy pair. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "pair.h"
#include "../../sim/prng.h"
#include "tcp_int.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n) {
  uint32_t r = prng_xorshift64s(&rng_state);
  return n ? r % n : 0;
}

static void txlog_same_time_sends_share_a_record(void) {
  struct txlog l;
  mtcp_txlog_clear(&l);
  mtcp_txlog_sent(&l, 1000, 1100, 1000, 50);
  mtcp_txlog_sent(&l, 1100, 1200, 1100, 50);
  mtcp_txlog_sent(&l, 1200, 1300, 1200, 60);
  CHECK_EQ(l.n, 2);
  CHECK_EQ(l.start, 1000);
  CHECK_EQ(l.r[0].end, 1200);
  CHECK_EQ(l.r[0].at, 50);
  CHECK_EQ(l.r[1].at, 60);
  CHECK_EQ(mtcp_txlog_find(&l, 999), -1);
  CHECK_EQ(mtcp_txlog_find(&l, 1199), 0);
  CHECK_EQ(mtcp_txlog_find(&l, 1200), 1);
  CHECK_EQ(mtcp_txlog_find(&l, 1300), -1);
  /* A retransmission in the middle splits it off, re-timed. */
  mtcp_txlog_sent(&l, 1100, 1150, 1300, 90);
  CHECK_EQ(l.n, 4);
  CHECK_EQ(l.r[0].end, 1100);
  CHECK_EQ(l.r[1].end, 1150);
  CHECK_EQ(l.r[1].at, 90);
  CHECK_EQ(l.r[1].flags, TXR_RETRANS);
  CHECK_EQ(l.r[2].end, 1200);
  CHECK_EQ(l.r[2].at, 50);
  CHECK_EQ(l.r[2].flags, 0);
  /* A resend that runs past SND.MAX is partly new data. */
  mtcp_txlog_sent(&l, 1250, 1400, 1300, 95);
  CHECK_EQ(l.r[l.n - 1].end, 1400);
  CHECK_EQ(l.r[l.n - 1].flags, 0);
  CHECK_EQ(l.r[l.n - 2].end, 1300);
  CHECK_EQ(l.r[l.n - 2].flags, TXR_RETRANS);
  /* The cumulative ACK trims, also inside a record. */
  mtcp_txlog_trim(&l, 1120);
  CHECK_EQ(l.start, 1120);
  CHECK_EQ(l.r[0].end, 1150);
  mtcp_txlog_trim(&l, 1400);
  CHECK_EQ(l.n, 0);
  CHECK_EQ(l.start, 1400);
}

/* A full log frees a slot by merging the adjacent pair with equal flags and
 * the closest send times, the first such pair on a tie; the merged record
 * keeps the later time and is marked TXR_MERGED. */
static void txlog_full_log_merges_the_closest_pair(void) {
  struct txlog l;
  mtcp_txlog_clear(&l);
  /* 64 records 100 us apart, except 41 only 1 us after 40. */
  for (uint32_t i = 0; i < TXLOG_MAX; i++) {
    uint64_t at = i <= 40 ? 100u * i : 100u * (i - 1) + 1;
    mtcp_txlog_sent(&l, 1000 + 10 * i, 1010 + 10 * i, 1000 + 10 * i, at);
  }
  CHECK_EQ(l.n, TXLOG_MAX);
  mtcp_txlog_sent(&l, 1640, 1650, 1640, 100000);
  CHECK_EQ(l.n, TXLOG_MAX);
  CHECK_EQ(l.r[40].end, 1420);
  CHECK_EQ(l.r[40].at, 100u * 40 + 1);
  CHECK_EQ(l.r[40].flags, TXR_MERGED);
  CHECK_EQ(l.r[39].flags, 0);
  CHECK_EQ(l.r[41].end, 1430);
  CHECK_EQ(l.r[TXLOG_MAX - 1].at, 100000);
  /* Now every gap is 100 but the last (much wider): the first pair goes. */
  mtcp_txlog_sent(&l, 1650, 1660, 1650, 200000);
  CHECK_EQ(l.start, 1000);
  CHECK_EQ(l.r[0].end, 1020);
  CHECK_EQ(l.r[0].at, 100);
  CHECK_EQ(l.r[0].flags, TXR_MERGED);
  CHECK_EQ(l.r[1].end, 1030);
}

/* Random sends, resends and ACKs against a per-byte model (10-byte units):
 * the log always covers exactly [SND.UNA, SND.MAX), stays within
 * TXLOG_MAX, a record's time is an upper bound of every byte's last send
 * time and exact when the record was never merged, and RETRANS marks every
 * record holding a byte sent twice. */
static void txlog_random_sends_keep_coverage_and_time_bounds(void) {
  enum { UNITS = 2000, U = 10 };
  static uint64_t sent_at[UNITS];
  static uint8_t times_sent[UNITS];
  int saw_full = 0, saw_merged = 0;
  for (int round = 0; round < 20; round++) {
    struct txlog l;
    mtcp_txlog_clear(&l);
    memset(times_sent, 0, sizeof times_sent);
    uint32_t base = 0xfffff000u + (uint32_t)round * 97; /* wraps the sequence space */
    uint32_t una = 0, max = 0;                          /* in units */
    uint64_t now = 1;
    while (max < UNITS - 20) {
      now += rnd(3);
      uint32_t op = rnd(10);
      if (op < 6) { /* new data: 1..4 units */
        uint32_t n = 1 + rnd(4);
        mtcp_txlog_sent(&l, base + max * U, base + (max + n) * U, base + max * U, now);
        for (uint32_t u = max; u < max + n; u++) sent_at[u] = now, times_sent[u]++;
        max += n;
      } else if (op < 9 && max > una) { /* resend somewhere in flight */
        uint32_t a = una + rnd(max - una), n = 1 + rnd(3);
        uint32_t b = a + n;
        mtcp_txlog_sent(&l, base + a * U, base + b * U, base + max * U, now);
        for (uint32_t u = a; u < b; u++) sent_at[u] = now, times_sent[u]++;
        if (b > max) max = b;
      } else if (max > una) { /* cumulative ACK */
        una += rnd(MIN(max - una, 12u) + 1); /* small steps: the window fills up */
        mtcp_txlog_trim(&l, base + una * U);
      }
      CHECK(l.n <= TXLOG_MAX);
      saw_full |= l.n == TXLOG_MAX;
      if (una == max) continue;
      CHECK_EQ(l.start, base + una * U);
      CHECK_EQ(l.r[l.n - 1].end, base + max * U);
      uint32_t s = l.start;
      for (int i = 0; i < l.n; i++) {
        CHECK(seq_lt(s, l.r[i].end));
        bool merged = (l.r[i].flags & TXR_MERGED) != 0;
        saw_merged |= merged;
        for (uint32_t q = s; q != l.r[i].end; q += U) {
          uint32_t u = (q - base) / U;
          CHECK(l.r[i].at >= sent_at[u]);
          if (!merged) CHECK_EQ(l.r[i].at, sent_at[u]);
          if (times_sent[u] > 1) CHECK(l.r[i].flags & TXR_RETRANS);
        }
        s = l.r[i].end;
      }
      if (check_failures) return;
    }
  }
  CHECK(saw_full && saw_merged); /* the bound was exercised */
}

static void rtt_probes_sample_each_covered_probe_and_obey_karn(void) {
  struct rtt_probes p;
  memset(&p, 0, sizeof p);
  mtcp_rttp_sent(&p, 0, 100, 0, 1000);
  mtcp_rttp_sent(&p, 100, 200, 100, 1500);
  mtcp_rttp_sent(&p, 200, 300, 200, 2000);
  CHECK_EQ(p.n, 3);
  /* An ACK covering two probes gives the RTT of the later one. */
  CHECK_EQ(mtcp_rttp_acked(&p, 200, 11500), 10000);
  CHECK_EQ(p.n, 1);
  CHECK_EQ(mtcp_rttp_acked(&p, 250, 12000), 0); /* covers none */
  /* Karn: resending [250, 300) cancels the probe ending at 300. */
  mtcp_rttp_sent(&p, 250, 300, 300, 12500);
  CHECK_EQ(p.n, 0);
  CHECK_EQ(mtcp_rttp_acked(&p, 300, 13000), 0);
  /* At most RTTP_MAX probes at once. */
  for (uint32_t i = 0; i < RTTP_MAX + 5; i++) mtcp_rttp_sent(&p, 300 + i * 10, 310 + i * 10, 300 + i * 10, 20000);
  CHECK_EQ(p.n, RTTP_MAX);
}

/* Drop the 40th data segment towards st[1] (one loss, then SACK recovery). */
static int drop_count;
static int drop_40th_data(struct pair *p, int to, uint8_t *f, size_t len) {
  (void)p;
  if (to != 1 || len < 54 || f[12] != 0x08 || f[13] != 0x00 || f[23] != 6) return 1;
  size_t ihl = (size_t)(f[14] & 15) * 4, tot = (size_t)f[16] << 8 | f[17];
  size_t doff = (size_t)(f[14 + ihl + 12] >> 4) * 4;
  if (tot <= ihl + doff) return 1; /* no payload */
  return ++drop_count != 40;
}

/* 200 kB over a 5 ms path: without loss no time is spent in recovery; with
 * one segment lost the sender recovers once, in about one round trip, and
 * the stats say so (recovery_us is what tools/bench-recovery-linux.sh
 * prints as rec_ms). */
static void stats_count_time_in_fast_recovery(void) {
  for (int lossy = 0; lossy < 2; lossy++) {
    struct pair p;
    microtcp_config cfg[2];
    for (int i = 0; i < 2; i++) pair_config(&cfg[i], i);
    drop_count = 0;
    CHECK_EQ(pair_init(&p, cfg, 11), 0);
    int l = microtcp_tcp_listen(p.st[1], p.now, 80, 4);
    int c = microtcp_tcp_connect(p.st[0], p.now, cfg[1].ip, 80, 0), srv;
    while ((srv = microtcp_tcp_accept(p.st[1], p.now, l, NULL)) < 0 && pair_step(&p, 2000000)) {
    }
    CHECK(l >= 0 && c >= 0 && srv >= 0);
    p.delay_us = 5000;
    p.filter = lossy ? drop_40th_data : NULL;
    static uint8_t buf[200000];
    size_t sent = 0;
    uint64_t start = p.now;
    while (sent < sizeof buf && p.now < start + 20000000) {
      int n = microtcp_tcp_send(p.st[0], p.now, c, buf + sent, sizeof buf - sent);
      if (n > 0) sent += (size_t)n;
      pair_step(&p, p.now + 1000000);
      uint8_t sink[65536];
      while (microtcp_tcp_recv(p.st[1], p.now, srv, sink, sizeof sink) > 0) {
      }
    }
    for (int k = 0; k < 50; k++) {
      pair_run_until(&p, p.now + 20000);
      uint8_t sink[65536];
      while (microtcp_tcp_recv(p.st[1], p.now, srv, sink, sizeof sink) > 0) {
      }
    }
    microtcp_tcp_stats s;
    CHECK_EQ(microtcp_tcp_get_stats(p.st[0], c, &s), 0);
    CHECK_EQ(s.bytes_acked, sizeof buf);
    if (!lossy) {
      CHECK_EQ(s.fast_retransmits, 0);
      CHECK_EQ(s.recovery_us, 0);
    } else {
      CHECK_EQ(s.fast_retransmits, 1);
      CHECK_EQ(s.rto_timeouts, 0);
      CHECK(s.recovery_us >= 5000 && s.recovery_us <= 100000);
    }
    pair_free(&p);
  }
}

/* cfg.tcp_rto_min_plus_srtt: the RTO floor is SRTT + rto_min (Linux), not
 * rto_min alone (RFC 6298 2.4). 20 ms round trips, rto_min 200 ms. */
static void rto_floor_is_srtt_plus_rto_min_when_asked(void) {
  for (int plus = 0; plus < 2; plus++) {
    struct pair p;
    microtcp_config cfg[2];
    for (int i = 0; i < 2; i++) {
      pair_config(&cfg[i], i);
      cfg[i].tcp_rto_min_us = 200000;
      cfg[i].tcp_rto_min_plus_srtt = plus;
    }
    CHECK_EQ(pair_init(&p, cfg, 3), 0);
    p.delay_us = 10000;
    int l = microtcp_tcp_listen(p.st[1], p.now, 80, 4);
    int c = microtcp_tcp_connect(p.st[0], p.now, cfg[1].ip, 80, 0), srv;
    while ((srv = microtcp_tcp_accept(p.st[1], p.now, l, NULL)) < 0 && pair_step(&p, 2000000)) {
    }
    CHECK(srv >= 0);
    static const uint8_t msg[3000];
    for (int k = 0; k < 5; k++) { /* a few RTT samples */
      CHECK(microtcp_tcp_send(p.st[0], p.now, c, msg, sizeof msg) > 0);
      pair_run_until(&p, p.now + 100000);
    }
    microtcp_tcp_stats s;
    CHECK_EQ(microtcp_tcp_get_stats(p.st[0], c, &s), 0);
    CHECK(s.srtt_us >= 20000); /* (the last segment of each send may wait for a delayed ACK) */
    CHECK(s.srtt_us + 4 * s.rttvar_us < 200000);
    CHECK_EQ(s.rto_us, plus ? 200000 + s.srtt_us : 200000);
    pair_free(&p);
  }
}

int main(void) {
  RUN(txlog_same_time_sends_share_a_record);
  RUN(txlog_full_log_merges_the_closest_pair);
  RUN(txlog_random_sends_keep_coverage_and_time_bounds);
  RUN(rtt_probes_sample_each_covered_probe_and_obey_karn);
  RUN(stats_count_time_in_fast_recovery);
  RUN(rto_floor_is_srtt_plus_rto_min_when_asked);
  return check_report();
}
