/*
 * microtcp back to back: two stack instances in one process, one TCP
 * connection, BYTES (default 1 GiB) from a to b; frames are handed from one
 * stack's output straight to the other's input in memory (one buffer, no
 * link model, no loss). Prints the CPU time of the process per byte moved and
 * checks every byte at the receiver (b2b.h). The lwIP counterpart is
 * lwip_b2b.c; tools/bench-all.sh runs both and prints the ratio.
 *
 * Equal terms with lwIP as Debian builds it (its lwipopts.h): MSS 1460 (MTU
 * 1500), send buffer and receive window 65,535 bytes, Nagle off on the
 * sender, neither timestamps nor SACK (lwIP negotiates neither), so both
 * stacks put the same bytes on the wire in the same number of data frames.
 * Time is the real monotonic clock, as lwIP's sys_now(); when neither stack
 * has anything to do the loop sleeps until the earlier deadline (no spinning,
 * so waiting for a timer costs no CPU on either side).
 *
 *   microtcp-b2b [BYTES]      e.g. microtcp-b2b 64M
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <time.h>

#include "b2b.h"
#include "microtcp/microtcp.h"

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static microtcp_stack *make_stack(int which, void **arena) {
  microtcp_config cfg;
  microtcp_config_default(&cfg);
  cfg.ip = which == 0 ? 0x0a000001u : 0x0a000002u; /* 10.0.0.1 sends, 10.0.0.2 receives */
  cfg.netmask = 0xffffff00u;
  cfg.mac[5] = (uint8_t)(0x10 + which);
  for (int i = 0; i < 16; i++) cfg.secret[i] = (uint8_t)(i * 7 + which * 31 + 1);
  cfg.max_tcp = 2;
  cfg.max_listeners = 1;
  cfg.tcp_sndbuf = B2B_WINDOW;
  cfg.tcp_rcvbuf = B2B_WINDOW;
  cfg.tcp_mss = B2B_MSS;
  cfg.tcp_timestamps = false;
  cfg.tcp_sack = false;
  cfg.tcp_dsack = false;
  cfg.tcp_nodelay = true;
  cfg.frames = 64;
  size_t n = microtcp_footprint(&cfg);
  if (n == 0) {
    fprintf(stderr, "microtcp-b2b: config rejected\n");
    exit(1);
  }
  *arena = aligned_alloc(16, (n + 15) & ~(size_t)15);
  int err = 0;
  microtcp_stack *st = *arena ? microtcp_init(*arena, n, &cfg, now_us(), &err) : NULL;
  if (!st) {
    fprintf(stderr, "microtcp-b2b: init: %s\n", microtcp_strerror(err));
    exit(1);
  }
  return st;
}

int main(int argc, char **argv) {
  uint64_t bytes = b2b_bytes(argc, argv, "microtcp-b2b");
  b2b_pattern_init();
  void *arena[2];
  microtcp_stack *a = make_stack(0, &arena[0]), *b = make_stack(1, &arena[1]);
  static uint8_t frame[2048], rbuf[1 << 16];
  struct b2b_result r = {.stack = "microtcp", .bytes = bytes, .integrity_ok = 1};

  double cpu0 = b2b_cpu_s(), wall0 = b2b_wall_s();
  uint64_t now = now_us();
  int lh = microtcp_tcp_listen(b, now, 5001, 1);
  int ha = microtcp_tcp_connect(a, now, 0x0a000002u, 5001, 0);
  if (lh < 0 || ha < 0) {
    fprintf(stderr, "microtcp-b2b: listen/connect: %s\n", microtcp_strerror(lh < 0 ? lh : ha));
    return 1;
  }
  int hb = -1, shut = 0;
  uint64_t sent = 0, last_progress = now;
  while (!r.eof) {
    now = now_us();
    int progress = 0;
    microtcp_advance(a, now);
    microtcp_advance(b, now);
    /* Fill a's send buffer once connected (as lwip_b2b.c does). */
    while (sent < bytes && (microtcp_poll(a, ha) & MICROTCP_CONNECTED)) {
      size_t n;
      const uint8_t *p = b2b_src(sent, bytes - sent, &n);
      int k = microtcp_tcp_send(a, now, ha, p, n);
      if (k == MICROTCP_EAGAIN) break;
      if (k <= 0) {
        fprintf(stderr, "microtcp-b2b: send: %s\n", microtcp_strerror(k));
        return 1;
      }
      sent += (uint64_t)k;
      progress = 1;
    }
    if (sent == bytes && !shut) {
      microtcp_tcp_shutdown(a, now, ha);
      shut = 1;
    }
    int n;
    while ((n = microtcp_output(a, now, frame, sizeof frame)) > 0) {
      microtcp_input(b, now, frame, (size_t)n);
      r.frames_ab++;
      progress = 1;
    }
    if (hb < 0) hb = microtcp_tcp_accept(b, now, lh, NULL);
    if (hb >= 0) {
      int k;
      while ((k = microtcp_tcp_recv(b, now, hb, rbuf, sizeof rbuf)) > 0) {
        b2b_maybe_corrupt(r.received, rbuf, (size_t)k);
        if (r.integrity_ok && b2b_check(r.received, rbuf, (size_t)k) != 0) {
          fprintf(stderr, "microtcp-b2b: data mismatch in the %d bytes at offset %llu\n", k,
                  (unsigned long long)r.received);
          r.integrity_ok = 0;
        }
        r.received += (uint64_t)k;
        progress = 1;
      }
      if (k == 0) r.eof = 1;
      else if (k != MICROTCP_EAGAIN) {
        fprintf(stderr, "microtcp-b2b: recv: %s\n", microtcp_strerror(k));
        break;
      }
    }
    while ((n = microtcp_output(b, now, frame, sizeof frame)) > 0) {
      microtcp_input(a, now, frame, (size_t)n);
      r.frames_ba++;
      progress = 1;
    }
    if (progress) {
      last_progress = now;
      continue;
    }
    if (now - last_progress > 30u * 1000000u) {
      fprintf(stderr, "microtcp-b2b: no progress for 30 s (%llu of %llu bytes received)\n",
              (unsigned long long)r.received, (unsigned long long)bytes);
      break;
    }
    /* Nothing to do: sleep until the earlier timer (at most 1 ms). */
    uint64_t d = microtcp_deadline(a), db = microtcp_deadline(b);
    if (db < d) d = db;
    if (d > now) {
      uint64_t us = d - now < 1000 ? d - now : 1000;
      struct timespec ts = {0, (long)us * 1000};
      while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
      }
    }
  }
  r.cpu_s = b2b_cpu_s() - cpu0;
  r.wall_s = b2b_wall_s() - wall0;
  free(arena[0]);
  free(arena[1]);
  return b2b_report(&r);
}
