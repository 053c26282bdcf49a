/*
 * Test harness: two stack instances joined by a simulated full-duplex link in
 * virtual time, with optional deterministic loss and reordering. Header-only so
 * each test executable includes it directly.
 *
 * The link serialises frames at `bps` bits per second per direction, adds
 * `delay_us` of latency, drops a frame with probability loss_ppm / 1e6 and
 * delays one by reorder_extra_us with probability reorder_ppm / 1e6 (so it
 * arrives after later frames). All randomness comes from a seeded xorshift.
 */
#ifndef MICROTCP_TEST_PAIR_H
#define MICROTCP_TEST_PAIR_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "microtcp/microtcp.h"
#include "../../sim/prng.h"

#define PAIR_MAX_INFLIGHT 8192
#define PAIR_FRAME_MAX 9100

struct pair_frame {
  uint64_t at;
  uint64_t order; /* tie-break: FIFO among frames with the same time */
  int to;         /* 0 → a, 1 → b */
  uint16_t len;
  uint8_t data[PAIR_FRAME_MAX];
};

struct pair {
  microtcp_stack *st[2];
  void *arena[2];
  uint64_t now;
  uint64_t rng;
  uint32_t loss_ppm, reorder_ppm;
  uint32_t delay_us, reorder_extra_us;
  uint64_t bps;
  uint64_t busy_until[2]; /* per direction: link busy until */
  uint64_t order;
  struct pair_frame *q; /* unsorted; small enough to scan */
  size_t qlen;
  uint64_t delivered, dropped, reordered;
  uint64_t hash; /* FNV-1a over every frame sent (both directions, in order) */
  /* optional hook called for every frame before delivery; return 0 to drop */
  int (*filter)(struct pair *p, int to, uint8_t *frame, size_t len);
};

static inline uint64_t pair_rand(struct pair *p) { return prng_xorshift64(&p->rng); }

static inline void pair_config(microtcp_config *cfg, int which) {
  microtcp_config_default(cfg);
  cfg->ip = which == 0 ? 0x0a000001u : 0x0a000002u; /* 10.0.0.1 / 10.0.0.2 */
  cfg->netmask = 0xffffff00u;
  cfg->mac[5] = (uint8_t)(0x10 + which);
  for (int i = 0; i < 16; i++) cfg->secret[i] = (uint8_t)(i * 7 + which * 31 + 1);
}

/* Create both stacks from cfg[0], cfg[1], on arenas first filled with the
 * byte `fill` (-1: left as the allocator gave them). Returns 0 or a MICROTCP
 * error. */
static inline int pair_init_fill(struct pair *p, const microtcp_config cfg[2], uint64_t seed, int fill) {
  memset(p, 0, sizeof *p);
  p->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
  p->delay_us = 50;
  p->reorder_extra_us = 200;
  p->bps = 1000000000ull;
  p->hash = 1469598103934665603ull;
  p->q = calloc(PAIR_MAX_INFLIGHT, sizeof *p->q);
  if (!p->q) return MICROTCP_ENOMEM;
  for (int i = 0; i < 2; i++) {
    size_t n = microtcp_footprint(&cfg[i]);
    if (n == 0) return MICROTCP_EINVAL;
    p->arena[i] = aligned_alloc(16, (n + 15) & ~(size_t)15);
    if (!p->arena[i]) return MICROTCP_ENOMEM;
    if (fill >= 0) memset(p->arena[i], fill, n);
    int err = 0;
    p->st[i] = microtcp_init(p->arena[i], n, &cfg[i], 0, &err);
    if (!p->st[i]) return err;
  }
  return 0;
}

static inline int pair_init(struct pair *p, const microtcp_config cfg[2], uint64_t seed) {
  return pair_init_fill(p, cfg, seed, -1);
}

static inline void pair_free(struct pair *p) {
  free(p->arena[0]);
  free(p->arena[1]);
  free(p->q);
  memset(p, 0, sizeof *p);
}

/* Move every frame the stacks want to send onto the link. */
static inline void pair_collect(struct pair *p) {
  uint8_t buf[PAIR_FRAME_MAX];
  for (int from = 0; from < 2; from++) {
    for (;;) {
      int n = microtcp_output(p->st[from], p->now, buf, sizeof buf);
      if (n <= 0) break;
      for (int i = 0; i < n; i++) {
        p->hash ^= buf[i];
        p->hash *= 1099511628211ull;
      }
      if (p->loss_ppm && pair_rand(p) % 1000000u < p->loss_ppm) {
        p->dropped++;
        continue;
      }
      if (p->qlen == PAIR_MAX_INFLIGHT) {
        p->dropped++; /* link queue full: tail drop */
        continue;
      }
      int to = 1 - from;
      uint64_t start = p->busy_until[from] > p->now ? p->busy_until[from] : p->now;
      uint64_t ser = p->bps ? ((uint64_t)n * 8u * 1000000u + p->bps - 1) / p->bps : 0;
      p->busy_until[from] = start + ser;
      uint64_t at = start + ser + p->delay_us;
      if (p->reorder_ppm && pair_rand(p) % 1000000u < p->reorder_ppm) {
        at += p->reorder_extra_us;
        p->reordered++;
      }
      struct pair_frame *f = &p->q[p->qlen++];
      f->at = at;
      f->order = p->order++;
      f->to = to;
      f->len = (uint16_t)n;
      memcpy(f->data, buf, (size_t)n);
    }
  }
}

/* Earliest pending event: a frame delivery or a stack deadline. */
static inline uint64_t pair_next_time(struct pair *p) {
  uint64_t t = UINT64_MAX;
  for (size_t i = 0; i < p->qlen; i++)
    if (p->q[i].at < t) t = p->q[i].at;
  for (int i = 0; i < 2; i++) {
    uint64_t d = microtcp_deadline(p->st[i]);
    if (d < t) t = d;
  }
  return t;
}

/* Advance to the next event and process it. Returns 0 if nothing is pending
 * before `limit` (time then stays put), 1 otherwise. */
static inline int pair_step(struct pair *p, uint64_t limit) {
  pair_collect(p);
  uint64_t t = pair_next_time(p);
  if (t == UINT64_MAX || t > limit) return 0;
  if (t > p->now) p->now = t;
  /* deliver every frame due now, in (at, order) order */
  for (;;) {
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < p->qlen; i++)
      if (p->q[i].at <= p->now &&
          (best == SIZE_MAX || p->q[i].at < p->q[best].at ||
           (p->q[i].at == p->q[best].at && p->q[i].order < p->q[best].order)))
        best = i;
    if (best == SIZE_MAX) break;
    struct pair_frame *f = &p->q[best];
    int keep = p->filter ? p->filter(p, f->to, f->data, f->len) : 1;
    if (keep) {
      microtcp_input(p->st[f->to], p->now, f->data, f->len);
      p->delivered++;
    }
    p->q[best] = p->q[--p->qlen];
    pair_collect(p);
  }
  for (int i = 0; i < 2; i++) microtcp_advance(p->st[i], p->now);
  pair_collect(p);
  return 1;
}

/* Run until `until` (absolute µs) or nothing is pending. */
static inline void pair_run_until(struct pair *p, uint64_t until) {
  while (pair_step(p, until)) {
  }
  if (p->now < until) p->now = until;
  for (int i = 0; i < 2; i++) microtcp_advance(p->st[i], p->now);
  pair_collect(p);
}

/* Two default stacks (pair_config) joined, and one connection from st[0] to
 * port 80 of st[1] established and accepted; *client is st[0]'s handle.
 * Returns 1 on success, 0 otherwise. */
static inline int pair_open_conn(struct pair *p, uint64_t seed, int *client) {
  microtcp_config cfg[2];
  for (int i = 0; i < 2; i++) pair_config(&cfg[i], i);
  if (pair_init(p, cfg, seed) != 0) return 0;
  int l = microtcp_tcp_listen(p->st[1], p->now, 80, 4);
  *client = microtcp_tcp_connect(p->st[0], p->now, cfg[1].ip, 80, 0);
  int s = MICROTCP_EAGAIN;
  while ((s = microtcp_tcp_accept(p->st[1], p->now, l, NULL)) < 0 && pair_step(p, 2000000)) {
  }
  return l >= 0 && *client >= 0 && s >= 0;
}
#endif
