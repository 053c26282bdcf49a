/* The shared TCP buffer pool under exhaustion, end to end: many connections
 * over a small pool on both sides. A dry pool is counted, sends return
 * MICROTCP_EAGAIN (never another error), the window offered shrinks for new
 * data but its right edge never moves left (checked on every segment on the
 * wire), no byte accepted by send is lost or altered, and once the receiver
 * reads, every connection completes and the pool drains to zero. With
 * MICROTCP_ASSERTS (asan preset) the per-connection invariants also check
 * that the reserved chunks cover the advertised window after every input. */
#include <inttypes.h>
#include <stdio.h>

#include "check.h"
#include "pair.h"

enum { NCONN = 12, TOTAL = 300 * 1000 };

static uint8_t stream_byte(int conn, uint64_t i) {
  uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull ^ (uint64_t)(conn + 1) * 0xbf58476d1ce4e5b9ull;
  return (uint8_t)(x >> 29);
}

/* Right edge (ack + window) each server port pair last advertised, checked
 * on every segment the server sends (no window scaling: 32 KiB buffers). */
struct edge_watch {
  uint16_t cport[NCONN];
  uint32_t edge[NCONN];
  int n;
  int checked, moved_left;
};
static struct edge_watch ew;

static int watch_edges(struct pair *p, int to, uint8_t *f, size_t len) {
  (void)p;
  if (to != 0 || len < 14 + 20 + 20) return 1; /* server -> client only */
  if (f[12] != 0x08 || f[13] != 0x00 || f[23] != 6) return 1;
  size_t ihl = (size_t)(f[14] & 0x0f) * 4;
  const uint8_t *t = f + 14 + ihl;
  uint16_t dport = (uint16_t)(t[2] << 8 | t[3]);
  uint32_t ack = (uint32_t)t[8] << 24 | (uint32_t)t[9] << 16 | (uint32_t)t[10] << 8 | t[11];
  uint8_t flags = t[13];
  uint16_t win = (uint16_t)(t[14] << 8 | t[15]);
  if (!(flags & 0x10) || (flags & 0x06)) return 1; /* ACK, no SYN/RST */
  uint32_t edge = ack + win;
  int i;
  for (i = 0; i < ew.n && ew.cport[i] != dport; i++) {
  }
  if (i == ew.n) {
    if (ew.n == NCONN) return 1;
    ew.cport[ew.n] = dport;
    ew.edge[ew.n++] = edge;
    return 1;
  }
  ew.checked++;
  if ((int32_t)(edge - ew.edge[i]) < 0) {
    ew.moved_left++;
    fprintf(stderr, "port %u: right edge %u moved left of %u\n", dport, edge, ew.edge[i]);
  } else {
    ew.edge[i] = edge;
  }
  return 1;
}

struct conn {
  int c, s;
  uint64_t sent, received;
  uint64_t mismatches;
  int closed, eof;
};

static void pool_exhaustion_end_to_end(void) {
  microtcp_config cfg[2];
  for (int i = 0; i < 2; i++) {
    pair_config(&cfg[i], i);
    cfg[i].max_tcp = NCONN + 2;
    cfg[i].frames = 128;
    cfg[i].tcp_sndbuf = 32 * 1024;
    cfg[i].tcp_rcvbuf = 32 * 1024;
    cfg[i].tcp_buf_chunk_size = 2048;
    cfg[i].tcp_buf_chunks = 40; /* 80 KiB shared by 12 connections of 32 KiB buffers */
    cfg[i].tcp_rto_min_us = 200000;
    cfg[i].tcp_msl_us = 1000000;
    cfg[i].tcp_max_per_peer = NCONN + 2; /* one client address opens all of them */
  }
  cfg[0].tcp_rcvbuf = 4096; /* the client only sends: small windows to reserve */
  microtcp_config big = cfg[1];
  big.tcp_buf_chunks = 0;
  CHECK(microtcp_footprint(&cfg[1]) + 300 * 1024 < microtcp_footprint(&big)); /* scales with the pool */
  struct pair p;
  CHECK_EQ(pair_init(&p, cfg, 77), 0);
  memset(&ew, 0, sizeof ew);
  p.filter = watch_edges;
  int l = microtcp_tcp_listen(p.st[1], p.now, 80, NCONN);
  CHECK(l >= 0);
  struct conn cs[NCONN];
  memset(cs, 0, sizeof cs);
  for (int i = 0; i < NCONN; i++) {
    cs[i].c = microtcp_tcp_connect(p.st[0], p.now, 0x0a000002u, 80, 0);
    CHECK(cs[i].c >= 0);
    cs[i].s = -1;
  }
  static uint8_t buf[16384];
  int eagain_dry = 0, other_err = 0, accepted = 0;
  uint64_t read_from = 3000000; /* the server reads nothing for 3 s */
  uint64_t deadline = 300ull * 1000000;
  microtcp_pool_usage u;
  uint32_t peak_claimed[2] = {0, 0};
  while (p.now < deadline) {
    for (;;) {
      microtcp_endpoint peer;
      int s = microtcp_tcp_accept(p.st[1], p.now, l, &peer);
      if (s < 0) break;
      for (int i = 0; i < NCONN; i++)
        if (microtcp_local_port(p.st[0], cs[i].c) == peer.port) cs[i].s = s;
      accepted++;
    }
    for (int i = 0; i < NCONN; i++) {
      struct conn *k = &cs[i];
      while (k->sent < TOTAL) {
        size_t n = TOTAL - k->sent < sizeof buf ? (size_t)(TOTAL - k->sent) : sizeof buf;
        for (size_t j = 0; j < n; j++) buf[j] = stream_byte(i, k->sent + j);
        int r = microtcp_tcp_send(p.st[0], p.now, k->c, buf, n);
        if (r > 0) {
          k->sent += (uint64_t)r;
          continue;
        }
        if (r == MICROTCP_EAGAIN) {
          int64_t lim = 0;
          microtcp_tcp_getopt(p.st[0], k->c, MICROTCP_OPT_SNDBUF, &lim);
          microtcp_get_pool_usage(p.st[0], &u);
          /* Refused with room left under SNDBUF: the pool was dry; not writable then. */
          if (u.tcp_buf_claimed == cfg[0].tcp_buf_chunks && p.now > 0) {
            eagain_dry++;
            (void)lim;
          }
        } else {
          other_err++;
          fprintf(stderr, "conn %d: send error %s\n", i, microtcp_strerror(r));
        }
        break;
      }
      if (k->sent == TOTAL && !k->closed) {
        CHECK_EQ(microtcp_tcp_shutdown(p.st[0], p.now, k->c), 0);
        k->closed = 1;
      }
      if (k->s >= 0 && !k->eof && p.now >= read_from) {
        for (;;) {
          int r = microtcp_tcp_recv(p.st[1], p.now, k->s, buf, 3000);
          if (r > 0) {
            for (int j = 0; j < r; j++)
              if (buf[j] != stream_byte(i, k->received + (uint64_t)j)) k->mismatches++;
            k->received += (uint64_t)r;
            break; /* a little per round: connections take turns */
          }
          if (r == 0) {
            k->eof = 1;
            CHECK_EQ(microtcp_tcp_close(p.st[1], p.now, k->s), 0);
            CHECK_EQ(microtcp_tcp_close(p.st[0], p.now, k->c), 0);
          } else if (r != MICROTCP_EAGAIN) {
            fprintf(stderr, "conn %d: recv error %s\n", i, microtcp_strerror(r));
            other_err++;
            k->eof = 1;
          }
          break;
        }
      }
    }
    for (int i = 0; i < 2; i++) {
      microtcp_get_pool_usage(p.st[i], &u);
      CHECK(u.tcp_buf_claimed <= cfg[i].tcp_buf_chunks && u.tcp_buf_chunks <= u.tcp_buf_claimed);
      if (u.tcp_buf_claimed > peak_claimed[i]) peak_claimed[i] = u.tcp_buf_claimed;
    }
    int done = 1;
    for (int i = 0; i < NCONN; i++) done &= cs[i].eof;
    if (done) break;
    if (!pair_step(&p, p.now >= read_from ? deadline : read_from)) {
      if (p.now >= read_from) break;
      p.now = read_from;
    }
  }
  pair_run_until(&p, p.now + 5000000);
  const microtcp_counters *c0 = microtcp_get_counters(p.st[0]);
  const microtcp_counters *c1 = microtcp_get_counters(p.st[1]);
  fprintf(stderr,
          "pool: %.1f s, send_blocked %" PRIu64 " (EAGAIN on a dry pool %d), window_limited %" PRIu64
          ", edges checked %d, peak claimed %u/%u\n",
          (double)p.now / 1e6, c0->tcp_bufpool_send_blocked, eagain_dry,
          c1->tcp_bufpool_window_limited, ew.checked, peak_claimed[0], peak_claimed[1]);
  for (size_t ci = 0; getenv("POOL_DEBUG") && microtcp_counter_name(ci); ci++) {
    uint64_t v0 = ((const uint64_t *)c0)[ci], v1 = ((const uint64_t *)c1)[ci];
    if (v0 || v1) fprintf(stderr, "  %s: client %" PRIu64 " server %" PRIu64 "\n", microtcp_counter_name(ci), v0, v1);
  }
  CHECK_EQ(accepted, NCONN);
  CHECK(c0->tcp_bufpool_send_blocked > 0);
  CHECK(eagain_dry > 0);
  CHECK(c1->tcp_bufpool_window_limited > 0);
  CHECK_EQ(other_err, 0);
  CHECK(ew.checked > 1000);
  CHECK_EQ(ew.moved_left, 0);
  CHECK_EQ(peak_claimed[0], cfg[0].tcp_buf_chunks); /* the pools really ran dry */
  /* The server only receives: its windows took all but the eighth kept for sends. */
  CHECK(peak_claimed[1] >= cfg[1].tcp_buf_chunks - cfg[1].tcp_buf_chunks / 8);
  for (int i = 0; i < NCONN; i++) {
    CHECK_EQ(cs[i].sent, TOTAL);
    CHECK_EQ(cs[i].received, TOTAL);
    CHECK_EQ(cs[i].mismatches, 0);
    CHECK(cs[i].eof);
  }
  microtcp_tcp_close(p.st[1], p.now, l);
  pair_run_until(&p, p.now + 5000000);
  for (int i = 0; i < 2; i++) {
    microtcp_get_pool_usage(p.st[i], &u);
    CHECK_EQ(u.tcp, 0);
    CHECK_EQ(u.tcp_buf_chunks, 0);
    CHECK_EQ(u.tcp_buf_claimed, 0);
  }
  pair_free(&p);
}

/* Config: bad chunk sizes are refused, 0 derives dedicated-buffer sizing. */
static void pool_config_checks(void) {
  microtcp_config c;
  microtcp_config_default(&c);
  c.tcp_buf_chunk_size = 1000; /* not a power of two */
  CHECK_EQ(microtcp_footprint(&c), 0);
  c.tcp_buf_chunk_size = 32;
  CHECK_EQ(microtcp_footprint(&c), 0);
  c.tcp_buf_chunk_size = 131072;
  CHECK_EQ(microtcp_footprint(&c), 0);
  c.tcp_buf_chunk_size = 0;
  size_t legacy = microtcp_footprint(&c);
  CHECK(legacy > 0);
  static _Alignas(16) uint8_t arena[1 << 20];
  CHECK(legacy <= sizeof arena);
  int err;
  microtcp_stack *st = microtcp_init(arena, sizeof arena, &c, 0, &err);
  CHECK(st != NULL);
  if (st) {
    const microtcp_config *d = microtcp_get_config(st);
    CHECK_EQ(d->tcp_buf_chunk_size, 1024); /* 8 KiB buffers: 8 chunks of 1 KiB */
    /* 8 + 1 chunks each, both buffers, every block. */
    CHECK_EQ(d->tcp_buf_chunks, (uint32_t)c.max_tcp * 18u);
  }
  c.tcp_buf_chunks = 3;
  CHECK(microtcp_footprint(&c) < legacy);
}

int main(void) {
  RUN(pool_config_checks);
  RUN(pool_exhaustion_end_to_end);
  return check_report();
}
