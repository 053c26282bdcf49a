/* sim/apps stream generation and verification: the word-at-a-time and
 * vector paths of app_stream_fill / app_stream_verify give exactly the
 * bytes of the stream's definition (byte i = byte i%8 of
 * mix(s ^ i/8), little-endian) at every alignment and length, and verify
 * counts exactly the bytes that differ, wherever they sit. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "apps.h"
#include "prng.h"

static uint8_t ref_byte(uint64_t s, uint64_t i) {
  uint64_t x = (s ^ (i >> 3)) * PRNG_GOLDEN64;
  x ^= x >> 29;
  return (uint8_t)(x >> (8 * (i & 7)));
}

static const uint64_t seeds[] = {0, 1, 0x9f7b64655ac268adull, ~0ull};

static void byte_matches_definition(void) {
  for (size_t si = 0; si < sizeof seeds / sizeof seeds[0]; si++)
    for (uint64_t i = 0; i < 200; i++) {
      CHECK(app_stream_byte(seeds[si], i) == ref_byte(seeds[si], i));
      uint64_t far = (1ull << 40) + i * 977;
      CHECK(app_stream_byte(seeds[si], far) == ref_byte(seeds[si], far));
    }
}

static void fill_matches_definition_at_every_alignment(void) {
  static uint8_t buf[4200 + 64];
  int bad = 0;
  for (size_t si = 0; si < sizeof seeds / sizeof seeds[0]; si++)
    for (uint64_t off = 0; off < 19; off++)
      for (size_t n = 0; n < 4200; n += (n < 80 ? 1 : 97)) {
        uint64_t o = off + (si & 1 ? (1ull << 33) : 0);
        memset(buf, 0xa5, sizeof buf);
        app_stream_fill(seeds[si], o, buf + (off & 3), n);
        for (size_t k = 0; k < n; k++) bad += buf[(off & 3) + k] != ref_byte(seeds[si], o + k);
        for (size_t k = (off & 3) + n; k < sizeof buf; k++) bad += buf[k] != 0xa5; /* no overrun */
        CHECK_EQ(app_stream_verify(seeds[si], o, buf + (off & 3), n), 0);
      }
  CHECK_EQ(bad, 0);
}

static void verify_counts_each_differing_byte(void) {
  static uint8_t buf[4096];
  const uint64_t s = 0x1234567890abcdefull;
  for (uint64_t off = 0; off < 9; off++) {
    size_t n = sizeof buf - (size_t)off;
    app_stream_fill(s, off, buf, n);
    /* one byte anywhere: head, vector body, word tail, byte tail */
    for (size_t at = 0; at < n; at += (at < 40 || at > n - 40 ? 1 : 61)) {
      buf[at] ^= 0x80;
      CHECK_EQ(app_stream_verify(s, off, buf, n), 1);
      buf[at] ^= 0x80;
    }
    /* several bytes in one 32-byte step and one word, several bits in one byte */
    buf[100] ^= 0xff;
    buf[101] ^= 0x01;
    buf[107] ^= 0x10;
    buf[120] ^= 0x03;
    buf[n - 1] ^= 0x40;
    CHECK_EQ(app_stream_verify(s, off, buf, n), 5);
    /* the wrong offset: nearly every byte differs */
    app_stream_fill(s, off, buf, n);
    CHECK(app_stream_verify(s, off + 8, buf, n) > n - n / 64);
    CHECK(app_stream_verify(s ^ 1, off, buf, n) > n - n / 64);
  }
}

int main(void) {
  RUN(byte_matches_definition);
  RUN(fill_matches_definition_at_every_alignment);
  RUN(verify_counts_each_differing_byte);
  return check_report();
}
