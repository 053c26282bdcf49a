/*
 * idle-timers: what idle connections cost the calls that drive a stack.
 *
 * For each N, one stack ("a", the one measured) holds N established, idle
 * connections with keepalive armed (a timer each, due in two hours) plus
 * ACTIVE connections that carry data. A second stack ("b") is the peer;
 * frames go from one's microtcp_output to the other's microtcp_input in
 * memory, and time is virtual (the `now` passed in), so only CPU is measured.
 * Printed per N, in ns per call (wall clock around batches of calls):
 *
 *   deadline_ns  microtcp_deadline(a)
 *   advance_ns   microtcp_advance(a, now) with no timer due (the common call)
 *   input_ns     microtcp_input(a, ...) of one 64-byte data segment on an
 *                active connection (ACK generation included)
 *
 * With timers kept in a heap these stay flat in N; with a scan of every
 * connection block they grow linearly. tools/bench-all.sh (part "timers")
 * runs it and prints the ratio of the largest N to the smallest.
 *
 *   idle-timers [N ...]        default: 100 1000 10000
 *   IDLE_TIMERS_ACTIVE=K       active connections (default 4)
 *
 * Exit 0, or 1 if a connection failed to establish or data went missing
 * (the figures would then mean nothing).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "microtcp/microtcp.h"

#define FRAME_MAX 1600
#define PORT 80
#define SEG_BYTES 64
#define SEGS_PER_CONN 8 /* per active connection per batch: within cwnd and rcvbuf */

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int err) {
  fprintf(stderr, "idle-timers: %s: %s\n", what, err < 0 ? microtcp_strerror(err) : "failed");
  exit(1);
}

static microtcp_stack *make_stack(int which, uint32_t conns, void **arena) {
  microtcp_config cfg;
  microtcp_config_default(&cfg);
  cfg.ip = which == 0 ? 0x0a000001u : 0x0a000002u;
  cfg.netmask = 0xffffff00u;
  cfg.mac[5] = (uint8_t)(0x10 + which);
  for (int i = 0; i < 16; i++) cfg.secret[i] = (uint8_t)(i * 7 + which * 31 + 1);
  cfg.max_tcp = (uint16_t)conns;
  cfg.max_listeners = 1;
  cfg.tcp_sndbuf = 1024; /* small: memory grows with N, the timers are the point */
  cfg.tcp_rcvbuf = 1024;
  cfg.tcp_nodelay = true;
  cfg.tcp_max_per_peer = (uint16_t)conns; /* every connection comes from the one peer */
  cfg.frames = 256;
  size_t n = microtcp_footprint(&cfg);
  if (n == 0) die("config rejected", MICROTCP_EINVAL);
  *arena = aligned_alloc(16, (n + 15) & ~(size_t)15);
  if (!*arena) die("out of memory", MICROTCP_ENOMEM);
  int err = 0;
  microtcp_stack *st = microtcp_init(*arena, n, &cfg, 0, &err);
  if (!st) die("init", err);
  return st;
}

/* Move frames both ways until neither stack has anything to send. */
static void pump(microtcp_stack *a, microtcp_stack *b, uint64_t now) {
  static uint8_t buf[FRAME_MAX];
  for (;;) {
    int moved = 0, n;
    while ((n = microtcp_output(a, now, buf, sizeof buf)) > 0) {
      microtcp_input(b, now, buf, (size_t)n);
      moved++;
    }
    while ((n = microtcp_output(b, now, buf, sizeof buf)) > 0) {
      microtcp_input(a, now, buf, (size_t)n);
      moved++;
    }
    if (!moved) return;
  }
}

/* Call fn(ctx) in growing batches until at least 50 ms went by; ns per call. */
static double per_call_ns(void (*fn)(void *), void *ctx) {
  for (uint64_t iters = 16;; iters *= 2) {
    uint64_t t0 = mono_ns();
    for (uint64_t i = 0; i < iters; i++) fn(ctx);
    uint64_t dt = mono_ns() - t0;
    if (dt >= 50000000u || iters >= (1u << 30)) return (double)dt / (double)iters;
  }
}

struct run {
  microtcp_stack *a, *b;
  uint64_t now;
  volatile uint64_t sink;
};

static void call_deadline(void *p) {
  struct run *r = p;
  r->sink += microtcp_deadline(r->a);
}

static void call_advance(void *p) {
  struct run *r = p;
  microtcp_advance(r->a, r->now);
}

static int run_one(uint32_t idle, uint32_t active) {
  uint32_t total = idle + active;
  void *arena_a, *arena_b;
  struct run r = {0};
  r.a = make_stack(0, total, &arena_a);
  r.b = make_stack(1, total, &arena_b);
  r.now = 1000000;
  int *ha = calloc(total, sizeof *ha), *hb = calloc(total, sizeof *hb);
  if (!ha || !hb) die("out of memory", MICROTCP_ENOMEM);

  /* Set up: a connects from port 1024 + i (explicit ports: no ephemeral
   * search), in batches the listener's backlog holds; b accepts. */
  uint64_t setup0 = mono_ns();
  int l = microtcp_tcp_listen(r.b, r.now, PORT, 1024);
  if (l < 0) die("listen", l);
  uint32_t accepted = 0;
  for (uint32_t i = 0; i < total;) {
    for (uint32_t k = 0; k < 512 && i < total; k++, i++) {
      ha[i] = microtcp_tcp_connect(r.a, r.now, 0x0a000002u, PORT, (uint16_t)(1024 + i));
      if (ha[i] < 0) die("connect", ha[i]);
      int e = microtcp_tcp_setopt(r.a, ha[i], MICROTCP_OPT_KEEPALIVE, 1);
      if (e < 0) die("setopt keepalive", e);
    }
    pump(r.a, r.b, r.now);
    int h;
    while ((h = microtcp_tcp_accept(r.b, r.now, l, NULL)) >= 0) hb[accepted++] = h;
  }
  for (uint32_t i = 0; i < total; i++)
    if (microtcp_tcp_state(r.a, ha[i]) != MICROTCP_ESTABLISHED) die("connection not established", 0);
  if (accepted != total) die("not every connection accepted", 0);
  /* Settle: let any handshake timers (delayed ACKs) run out. */
  r.now += 1000000;
  microtcp_advance(r.a, r.now);
  microtcp_advance(r.b, r.now);
  pump(r.a, r.b, r.now);
  double setup_s = (double)(mono_ns() - setup0) / 1e9;
  if (microtcp_deadline(r.a) <= r.now) die("a timer is still due after settling", 0);

  double deadline_ns = per_call_ns(call_deadline, &r);
  double advance_ns = per_call_ns(call_advance, &r);

  /* Data segments in: b's accepted sockets are hb[], in order of acceptance;
   * the active ones are the last `active` of them. b sends SEGS_PER_CONN
   * segments on each, the frames are collected, and only a's inputs of them
   * are timed; then a reads, acknowledges and the timers run. */
  static uint8_t frames[256][FRAME_MAX];
  static int lens[256];
  uint8_t payload[SEG_BYTES], rbuf[1024];
  memset(payload, 0x5a, sizeof payload);
  uint64_t timed_ns = 0, inputs = 0, sent_bytes = 0, read_bytes = 0;
  while (timed_ns < 50000000u && inputs < 4000000u) {
    for (uint32_t j = idle; j < total; j++)
      for (int k = 0; k < SEGS_PER_CONN; k++) {
        int n = microtcp_tcp_send(r.b, r.now, hb[j], payload, sizeof payload);
        if (n != (int)sizeof payload) die("send", n);
        sent_bytes += (uint64_t)n;
      }
    int nf = 0, n;
    while (nf < 256 && (n = microtcp_output(r.b, r.now, frames[nf], FRAME_MAX)) > 0) lens[nf++] = n;
    uint64_t t0 = mono_ns();
    for (int f = 0; f < nf; f++) microtcp_input(r.a, r.now, frames[f], (size_t)lens[f]);
    timed_ns += mono_ns() - t0;
    inputs += (uint64_t)nf;
    for (uint32_t j = idle; j < total; j++) {
      int got;
      while ((got = microtcp_tcp_recv(r.a, r.now, ha[j], rbuf, sizeof rbuf)) > 0) read_bytes += (uint64_t)got;
    }
    pump(r.a, r.b, r.now);
    r.now += 50000; /* past the delayed-ACK timer */
    microtcp_advance(r.a, r.now);
    microtcp_advance(r.b, r.now);
    pump(r.a, r.b, r.now);
  }
  double input_ns = inputs ? (double)timed_ns / (double)inputs : 0;
  int ok = read_bytes == sent_bytes;
  for (uint32_t i = 0; i < total && ok; i++) ok = microtcp_tcp_state(r.a, ha[i]) == MICROTCP_ESTABLISHED;
  printf("idle_timers n=%u active=%u deadline_ns=%.1f advance_ns=%.1f input_ns=%.1f inputs=%llu "
         "setup_s=%.2f integrity=%s\n",
         idle, active, deadline_ns, advance_ns, input_ns, (unsigned long long)inputs, setup_s,
         ok ? "ok" : "FAIL");
  fflush(stdout);
  free(ha);
  free(hb);
  free(arena_a);
  free(arena_b);
  return ok ? 0 : 1;
}

int main(int argc, char **argv) {
  static const uint32_t defaults[] = {100, 1000, 10000};
  const char *env = getenv("IDLE_TIMERS_ACTIVE");
  long active = env ? strtol(env, NULL, 10) : 4;
  if (active < 1 || active > 16) {
    fprintf(stderr, "idle-timers: IDLE_TIMERS_ACTIVE must be 1..16\n");
    return 2;
  }
  int status = 0;
  if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    printf("usage: idle-timers [N ...]   (idle connections per run; default 100 1000 10000)\n");
    return 0;
  }
  for (int i = 1; i < argc || (argc == 1 && i <= 3); i++) {
    long n;
    if (argc > 1) {
      char *end;
      n = strtol(argv[i], &end, 10);
      if (*end || n < 1 || n + active > 0x7fff) {
        fprintf(stderr, "idle-timers: N must be 1..%ld, got '%s'\n", 0x7fff - active, argv[i]);
        return 2;
      }
    } else {
      n = defaults[i - 1];
    }
    status |= run_one((uint32_t)n, (uint32_t)active);
  }
  return status;
}
