/*
 * core_minimal: the pure core API with nothing else around it.
 *
 * Two stack instances live in one process and are wired back to back: every
 * frame one of them outputs is handed to the other as input. There is no NIC,
 * no thread and no real clock: `now` is a variable we move forward ourselves,
 * exactly as a microcontroller main loop or the simulator would.
 *
 * Host B listens on port 7; host A connects and sends "hello". Exits 0 if B
 * received exactly "hello", 1 otherwise, so it also runs as a ctest
 * (example.core_minimal). The part from pump() to the end is quoted verbatim in
 * README.md ("The core API in 20 lines"); tests/test_core_contract.py checks
 * that the two stay identical.
 *
 * Build: part of the default CMake build (build/default/examples/core_minimal).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "microtcp/microtcp.h"

#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))

/* The arenas: plain memory the caller owns (static here, malloc or a linker
 * section elsewhere). The core never allocates; there is no destroy call:
 * dropping the arena is all the cleanup there is. */
static _Alignas(16) uint8_t arena_a[256 * 1024], arena_b[256 * 1024];

/* One host on 192.168.1.0/24 (the default netmask), MAC 02:00:00:00:00:<id>. */
static microtcp_stack *make_host(void *arena, size_t len, uint32_t ip, uint8_t id) {
  microtcp_config cfg;
  microtcp_config_default(&cfg); /* small pools, RFC defaults for every timer */
  cfg.ip = ip;
  cfg.mac[5] = id;
  /* The secret keys ISNs, ephemeral ports and IP IDs (RFC 6528, RFC 6056): a
   * real device loads random bytes; fixed ones make this run repeatable. */
  memset(cfg.secret, id, sizeof cfg.secret);
  if (microtcp_footprint(&cfg) > len) return NULL; /* footprint is a function of cfg */
  int err = 0;
  microtcp_stack *st = microtcp_init(arena, len, &cfg, 0, &err);
  if (!st) fprintf(stderr, "microtcp_init: %s\n", microtcp_strerror(err));
  return st;
}

/* Hand every frame `from` wants to send to `to`: our whole "network". */
static void pump(microtcp_stack *from, microtcp_stack *to, uint64_t now) {
  uint8_t frame[1514]; /* mtu + 14 always suffices */
  int n;
  while ((n = microtcp_output(from, now, frame, sizeof frame)) > 0)
    microtcp_input(to, now, frame, (size_t)n);
}

int main(void) {
  microtcp_stack *a = make_host(arena_a, sizeof arena_a, IP(192, 168, 1, 1), 1);
  microtcp_stack *b = make_host(arena_b, sizeof arena_b, IP(192, 168, 1, 2), 2);
  if (!a || !b) return 1;
  uint64_t now = 0; /* microseconds: the caller owns the clock */
  int lis = microtcp_tcp_listen(b, now, 7, 4);
  int ca = microtcp_tcp_connect(a, now, IP(192, 168, 1, 2), 7, 0); /* returns at once */
  microtcp_tcp_send(a, now, ca, "hello", 5); /* queued; sent once connected */
  int cb = MICROTCP_EAGAIN, n = MICROTCP_EAGAIN;
  char buf[64];
  for (; now <= 1000000 && n == MICROTCP_EAGAIN; now += 1000) { /* 1 ms steps, 1 s max */
    microtcp_advance(a, now); /* fire due timers (ARP, retransmits, delayed ACKs) */
    microtcp_advance(b, now);
    pump(a, b, now); /* ARP, SYN, data ... */
    pump(b, a, now); /* ... and the answers */
    if (cb < 0) cb = microtcp_tcp_accept(b, now, lis, NULL); /* EAGAIN until established */
    if (cb >= 0) n = microtcp_tcp_recv(b, now, cb, buf, sizeof buf);
  }
  printf("B received %d bytes: \"%.*s\" at t=%llu us\n", n, n > 0 ? n : 0, buf,
         (unsigned long long)now);
  return n == 5 && memcmp(buf, "hello", 5) == 0 ? 0 : 1;
}
