/*
 * sim/prng.h: the project's one home for small deterministic generators and
 * integer mixers, used by the simulator, its apps, the C unit tests and the
 * tools (issue 15 part 6). Header-only (static inline) and libc-free, so a
 * test or a tool includes it without linking the simulator; it lives in sim/
 * because the simulator's SplitMix64 streams are the reference every other
 * user follows (a seed names a run).
 *
 * Each generator keeps the exact sequence of the copy it replaced, because
 * trace pins (tests/sim/trace-pins.txt) and unit-test expectations depend on
 * them; pick by what the call site needs:
 *   prng_splitmix64     the simulator's streams (sim_rand): 64-bit state, any
 *                       seed (0 included), full period 2^64;
 *   prng_stream_seed    derive an independent stream from (master, a, b);
 *   prng_mix64          SplitMix64's finaliser: a bijective 64-bit hash;
 *   prng_golden         one multiply by 2^64/phi: a cheap hash for table slots
 *                       and stream words (not a generator on its own);
 *   prng_xorshift64     Marsaglia's 13/7/17 xorshift (state must not be 0);
 *   prng_xorshift64s    xorshift64* (12/25/27, Vigna): high 32 bits of the
 *                       product (state must not be 0);
 *   prng_xorshift32     Marsaglia's 13/17/5 xorshift (state must not be 0).
 * None of these is cryptographic; the core's own randomness is a keyed PRF
 * (core/src, SipHash) and never comes from here.
 */
#ifndef MICROTCP_PRNG_H
#define MICROTCP_PRNG_H

#include <stdint.h>

#define PRNG_GOLDEN64 0x9e3779b97f4a7c15ull /* 2^64 / phi, odd */

static inline uint64_t prng_mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static inline uint64_t prng_splitmix64(uint64_t *state) {
  return prng_mix64(*state += PRNG_GOLDEN64);
}

/* A stream seed from a master seed and two stream ids (purpose, name hash). */
static inline uint64_t prng_stream_seed(uint64_t master, uint64_t a, uint64_t b) {
  uint64_t s = master ^ (a * PRNG_GOLDEN64) ^ (b * 0xc2b2ae3d27d4eb4full);
  return prng_splitmix64(&s);
}

static inline uint64_t prng_golden(uint64_t k) { return k * PRNG_GOLDEN64; }

static inline uint64_t prng_xorshift64(uint64_t *state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *state = x;
  return x;
}

static inline uint32_t prng_xorshift64s(uint64_t *state) {
  uint64_t x = *state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
}

static inline uint32_t prng_xorshift32(uint32_t *state) {
  uint32_t x = *state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *state = x;
  return x;
}

/* A value in [0, n) from a 64-bit draw (n = 0 gives 0). Modulo bias is below
 * n / 2^64, irrelevant for test and simulation ranges. */
static inline uint64_t prng_below(uint64_t draw, uint64_t n) { return n ? draw % n : 0; }

#endif
