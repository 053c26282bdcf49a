/*
 * End-to-end TCP: two instances back to back transfer a large stream with every
 * byte verified, with and without loss/reordering, for both congestion
 * controllers; then both sides close and every pool returns to empty.
 *
 * Size: MICROTCP_E2E_BYTES (default 100 MB), so a quick local run can use less.
 */
#include <inttypes.h>
#include <stdio.h>

#include "check.h"
#include "pair.h"

/* Byte i of the stream: cheap to compute, never periodic at small scales. */
static uint8_t stream_byte(uint64_t i) {
  uint64_t x = prng_golden(i);
  x ^= x >> 29;
  return (uint8_t)(x ^ (x >> 17) ^ (i >> 8));
}

struct xfer {
  uint64_t total;
  uint64_t sent, received;
  uint64_t mismatches;
  int client, server, listener;
  int client_closed, server_eof;
};

static void fill(uint8_t *buf, uint64_t off, size_t n) {
  for (size_t i = 0; i < n; i++) buf[i] = stream_byte(off + i);
}

static void run_transfer(const char *name, int cc, uint32_t loss_ppm, uint32_t reorder_ppm,
                         uint64_t total) {
  microtcp_config cfg[2];
  for (int i = 0; i < 2; i++) {
    pair_config(&cfg[i], i);
    cfg[i].max_tcp = 4;
    cfg[i].tcp_sndbuf = 256 * 1024;
    cfg[i].tcp_rcvbuf = 256 * 1024;
    cfg[i].frames = 256;
    cfg[i].tcp_cc = (uint8_t)cc;
    cfg[i].tcp_rto_min_us = 200000;
    cfg[i].tcp_rto_initial_us = 1000000;
    cfg[i].tcp_msl_us = 1000000;
    cfg[i].tcp_ooo_ranges = 8;
  }
  struct pair p;
  CHECK_EQ(pair_init(&p, cfg, 42 + (uint64_t)cc * 1000 + loss_ppm), 0);
  p.loss_ppm = loss_ppm;
  p.reorder_ppm = reorder_ppm;

  struct xfer x = {.total = total};
  x.listener = microtcp_tcp_listen(p.st[1], p.now, 5001, 4);
  CHECK(x.listener >= 0);
  x.client = microtcp_tcp_connect(p.st[0], p.now, 0x0a000002u, 5001, 0);
  CHECK(x.client >= 0);
  x.server = -1;

  static uint8_t buf[65536];
  uint64_t deadline = 600ull * 1000000; /* simulated seconds */
  while (p.now < deadline) {
    if (x.server < 0) x.server = microtcp_tcp_accept(p.st[1], p.now, x.listener, NULL);
    if (x.server < 0 && x.server != MICROTCP_EAGAIN) break;
    /* client: send as much as fits, then close */
    while (x.sent < x.total) {
      size_t n = (size_t)(x.total - x.sent < sizeof buf ? x.total - x.sent : sizeof buf);
      fill(buf, x.sent, n);
      int r = microtcp_tcp_send(p.st[0], p.now, x.client, buf, n);
      if (r <= 0) break;
      x.sent += (uint64_t)r;
    }
    if (x.sent == x.total && !x.client_closed) {
      CHECK_EQ(microtcp_tcp_close(p.st[0], p.now, x.client), 0);
      x.client_closed = 1;
    }
    /* server: read and verify everything */
    if (x.server >= 0 && !x.server_eof) {
      for (;;) {
        int r = microtcp_tcp_recv(p.st[1], p.now, x.server, buf, sizeof buf);
        if (r > 0) {
          for (int i = 0; i < r; i++)
            if (buf[i] != stream_byte(x.received + (uint64_t)i)) x.mismatches++;
          x.received += (uint64_t)r;
          continue;
        }
        if (r == 0) {
          x.server_eof = 1;
          CHECK_EQ(microtcp_tcp_close(p.st[1], p.now, x.server), 0);
        } else if (r != MICROTCP_EAGAIN) {
          fprintf(stderr, "%s: server recv error %s\n", name, microtcp_strerror(r));
          x.server_eof = 1;
        }
        break;
      }
    }
    if (x.server_eof) break;
    if (!pair_step(&p, deadline)) break;
  }
  uint64_t elapsed = p.now;
  /* let FIN/ACK and TIME_WAIT (2 * 1 s) finish */
  pair_run_until(&p, p.now + 5000000);
  microtcp_tcp_close(p.st[1], p.now, x.listener);

  CHECK_EQ(x.received, x.total);
  CHECK_EQ(x.mismatches, 0);
  microtcp_pool_usage u;
  for (int i = 0; i < 2; i++) {
    microtcp_get_pool_usage(p.st[i], &u);
    CHECK_EQ(u.tcp, 0);
    CHECK_EQ(u.listeners, 0);
    CHECK_EQ(u.frames, 0);
  }
  const microtcp_counters *c0 = microtcp_get_counters(p.st[0]);
  fprintf(stderr,
          "%-22s %8.1f MB in %8.3f s simulated (%7.1f Mbit/s), %" PRIu64 " retransmits, "
          "%" PRIu64 " dropped, %" PRIu64 " reordered\n",
          name, (double)x.received / 1e6, (double)elapsed / 1e6,
          elapsed ? (double)x.received * 8 / (double)elapsed : 0.0, c0->tcp_retransmits, p.dropped,
          p.reordered);
  pair_free(&p);
}

int main(void) {
  uint64_t total = 100ull * 1000 * 1000;
  const char *env = getenv("MICROTCP_E2E_BYTES");
  if (env) total = strtoull(env, NULL, 10);
  run_transfer("newreno clean", MICROTCP_CC_NEWRENO, 0, 0, total);
  run_transfer("cubic clean", MICROTCP_CC_CUBIC, 0, 0, total);
  run_transfer("newreno loss+reorder", MICROTCP_CC_NEWRENO, 10000, 10000, total);
  run_transfer("cubic loss+reorder", MICROTCP_CC_CUBIC, 10000, 10000, total);
  return check_report();
}
