/*
 * Shared by the two back-to-back harnesses (microtcp_b2b.c, lwip_b2b.c): the
 * byte stream both transfer, its check at the receiver, the clocks and the
 * result line tools/bench-all.sh parses. Header-only so each harness is one
 * translation unit linked against one stack (the core and Debian's liblwip
 * define some of the same global names, see tools/check-lwip-clash.sh).
 *
 * The stream: byte k of the transfer is pat[k % B2B_PERIOD], where pat is a
 * xorshift sequence and B2B_PERIOD a prime (65521), so a lost, duplicated or
 * shifted segment shows as a mismatch (no segment or window size is a
 * multiple of the period). The pattern is stored twice over so the sender
 * hands the stack any run of up to B2B_PERIOD bytes from one contiguous
 * buffer and the receiver compares with one memcmp: neither side pays for
 * generating data, and both pay the same for checking it.
 */
#ifndef MICROTCP_BENCH_B2B_H
#define MICROTCP_BENCH_B2B_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../sim/prng.h"
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define B2B_PERIOD 65521u
#define B2B_WINDOW 65535u /* send buffer = receive window, both stacks (lwIP's TCP_WND/TCP_SND_BUF) */
#define B2B_MSS 1460u     /* MTU 1500, no TCP options on data segments */

static uint8_t b2b_pat[2 * B2B_PERIOD];

static void b2b_corrupt_init(void);

static void b2b_pattern_init(void) {
  b2b_corrupt_init();
  uint64_t x = PRNG_GOLDEN64;
  for (uint32_t i = 0; i < B2B_PERIOD; i++) {
    prng_xorshift64(&x);
    b2b_pat[i] = b2b_pat[i + B2B_PERIOD] = (uint8_t)(x >> 32);
  }
}

/* Where the sender takes the bytes at stream offset off, and how many it may
 * take from there in one piece (at most want). */
static inline const uint8_t *b2b_src(uint64_t off, uint64_t want, size_t *n) {
  uint64_t left = want < B2B_PERIOD ? want : B2B_PERIOD;
  *n = (size_t)left;
  return b2b_pat + off % B2B_PERIOD;
}

/* B2B_CORRUPT_AT=N in the environment: the receiver flips the byte at stream
 * offset N after the stack handed it over and before checking it, to show
 * that the check catches a bad byte (tests/test_bench.py). */
static uint64_t b2b_corrupt_at = UINT64_MAX;

static void b2b_corrupt_init(void) {
  const char *s = getenv("B2B_CORRUPT_AT");
  if (s && *s) b2b_corrupt_at = strtoull(s, NULL, 10);
}

static inline void b2b_maybe_corrupt(uint64_t off, uint8_t *p, size_t n) {
  if (b2b_corrupt_at >= off && b2b_corrupt_at - off < n) p[b2b_corrupt_at - off] ^= 0x5a;
}

/* Receiver: check n bytes that arrived at stream offset off. 0 if they match. */
static inline int b2b_check(uint64_t off, const uint8_t *p, size_t n) {
  while (n) {
    size_t k = n < B2B_PERIOD ? n : B2B_PERIOD;
    if (memcmp(p, b2b_pat + off % B2B_PERIOD, k) != 0) return -1;
    p += k;
    off += k;
    n -= k;
  }
  return 0;
}

static inline double b2b_cpu_s(void) { /* the whole process: every thread, user + system */
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         (double)ru.ru_stime.tv_usec / 1e6;
}

static inline double b2b_wall_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Bytes to move: argv[1] if given (suffixes K, M, G: powers of 1024), else
 * 1 GiB. Exits with a usage message on anything else. */
static inline uint64_t b2b_bytes(int argc, char **argv, const char *prog) {
  if (argc < 2) return 1ull << 30;
  if (strcmp(argv[1], "--help") == 0) {
    printf("usage: %s [BYTES]   (default 1G; suffixes K, M, G)\n"
           "Moves BYTES over one TCP connection between two stacks in this process and prints\n"
           "one line of key=value figures (tools/bench-all.sh reads it). B2B_CORRUPT_AT=N in\n"
           "the environment flips the received byte at offset N (to see the check fail).\n"
           "exit codes: 0 ok, 1 failure found (a byte did not match, the transfer failed),\n"
           "            2 usage error\n",
           prog);
    exit(0);
  }
  if (strcmp(argv[1], "--version") == 0) {
#ifdef MICROTCP_VERSION_STRING
    printf("%s %s\n", prog, MICROTCP_VERSION_STRING);
#endif
    exit(0);
  }
  char *end;
  unsigned long long v = strtoull(argv[1], &end, 10);
  if (*end == 'K') v <<= 10, end++;
  else if (*end == 'M') v <<= 20, end++;
  else if (*end == 'G') v <<= 30, end++;
  if (argc > 2 || end == argv[1] || *end || v == 0) {
    fprintf(stderr, "usage: %s [BYTES]   (default 1G; suffixes K, M, G)\n", prog);
    exit(2);
  }
  return v;
}

struct b2b_result {
  const char *stack;
  uint64_t bytes, received;
  double cpu_s, wall_s;
  uint64_t frames_ab, frames_ba; /* frames handed over: sender -> receiver, receiver -> sender */
  int integrity_ok, eof;         /* every byte matched; the receiver saw the end of the stream */
};

/* One line, key=value, parsed by tools/bench-all.sh. Returns the exit status. */
static inline int b2b_report(const struct b2b_result *r) {
  int ok = r->integrity_ok && r->eof && r->received == r->bytes;
  printf("b2b stack=%s bytes=%llu received=%llu cpu_s=%.3f wall_s=%.3f ns_per_byte=%.4f "
         "gbit_per_cpu_s=%.3f frames_ab=%llu frames_ba=%llu bytes_per_data_frame=%.0f "
         "window=%u mss=%u integrity=%s\n",
         r->stack, (unsigned long long)r->bytes, (unsigned long long)r->received, r->cpu_s, r->wall_s,
         r->cpu_s * 1e9 / (double)r->bytes, (double)r->bytes * 8 / r->cpu_s / 1e9,
         (unsigned long long)r->frames_ab, (unsigned long long)r->frames_ba,
         r->frames_ab ? (double)r->bytes / (double)r->frames_ab : 0.0, B2B_WINDOW, B2B_MSS,
         ok ? "ok" : "FAIL");
  fflush(stdout);
  return ok ? 0 : 1;
}
#endif
