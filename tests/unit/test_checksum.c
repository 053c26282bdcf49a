/*
 * Internet checksum (core/src/checksum.c) against a naive byte-pair reference
 * (RFC 1071 written out literally), against checksums of real packets computed
 * by an independent implementation (scapy), and the RFC 1624 incremental update
 * against recomputation.
 */
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "../../sim/prng.h"
#include "internal.h"

/* RFC 1071, literally: add big-endian 16-bit words, pad an odd byte with zero,
 * fold the carries, complement. */
static uint16_t ref_sum16(const uint8_t *p, size_t len) {
  uint64_t s = 0;
  for (size_t i = 0; i + 1 < len; i += 2) s += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (len & 1) s += (uint32_t)p[len - 1] << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (uint16_t)s;
}
static uint16_t ref_csum(const uint8_t *p, size_t len) { return (uint16_t)~ref_sum16(p, len); }

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) { return prng_xorshift64s(&rng_state); } /* xorshift64*, deterministic */

static size_t from_hex(const char *hex, uint8_t *out) {
  size_t n = 0;
  for (; hex[0] && hex[1]; hex += 2) {
    unsigned v;
    sscanf(hex, "%2x", &v);
    out[n++] = (uint8_t)v;
  }
  return n;
}

static void csum_matches_reference_every_length_0_to_2000_every_alignment(void) {
  static uint8_t buf[2000 + 16];
  int bad = 0;
  for (int round = 0; round < 3; round++) {
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)rnd();
    for (size_t align = 0; align < 16; align++)
      for (size_t len = 0; len <= 2000; len++)
        if (wire_csum(buf + align, len) != ref_csum(buf + align, len)) bad++;
  }
  CHECK_EQ(bad, 0);
}

static void csum_all_ones_and_all_zeros(void) {
  /* 0xff bytes make every 64-bit add carry: the end-around carry path. */
  static uint8_t buf[65536];
  memset(buf, 0xff, sizeof buf);
  int bad = 0;
  for (size_t len = 0; len <= 4096; len++)
    if (wire_csum(buf + (len & 7), len) != ref_csum(buf, len)) bad++;
  CHECK_EQ(bad, 0);
  CHECK_EQ(wire_csum(buf, 65535), ref_csum(buf, 65535));
  CHECK_EQ(wire_csum(buf, 65536), ref_csum(buf, 65536));
  memset(buf, 0, sizeof buf);
  CHECK_EQ(wire_csum(buf, 0), 0xffff);
  CHECK_EQ(wire_csum(buf, 1500), 0xffff);
  /* carry chains: 0xff..ff words followed by a 1 */
  memset(buf, 0xff, 64);
  buf[63] = 0xfe;
  buf[64] = 0;
  buf[65] = 1;
  CHECK_EQ(wire_csum(buf, 66), ref_csum(buf, 66));
}

static void csum_chained_partials_equal_one_sum(void) {
  /* Only the last chunk may have odd length (documented in wire.h). */
  static uint8_t buf[1600];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)rnd();
  int bad = 0;
  for (size_t split = 0; split <= 1500; split += 2) {
    uint32_t s = wire_csum_partial(0, buf, split);
    s = wire_csum_partial(s, buf + split, 1501 - split);
    if (wire_csum_fold(s) != ref_csum(buf, 1501)) bad++;
  }
  CHECK_EQ(bad, 0);
  /* many chained chunks: the 32-bit accumulator must not overflow */
  memset(buf, 0xff, sizeof buf);
  uint32_t s = 0;
  for (int i = 0; i < 100000; i++) s = wire_csum_partial(s, buf, 2);
  CHECK_EQ(wire_csum_fold(s), 0x0000); /* the sum of 0xffff words is 0xffff */
  /* a non-zero starting sum is added in */
  uint8_t two[2] = {0x12, 0x34};
  CHECK_EQ(wire_csum_fold(wire_csum_partial(0x0001, two, 2)), (uint16_t)~0x1235);
  CHECK_EQ(wire_csum_fold(wire_csum_partial(0xfffffu, two, 0)), (uint16_t)~0x000f);
}

/* RFC 1071 section 3 example: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2. */
static void csum_rfc1071_example(void) {
  const uint8_t b[8] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  CHECK_EQ(wire_csum(b, 8), (uint16_t)~0xddf2);
  CHECK_EQ(ref_sum16(b, 8), 0xddf2);
}

/* Packets built by scapy (an independent implementation); the checksum fields
 * hold the values scapy computed. Zero the field, recompute, compare. */
static void csum_known_packets(void) {
  uint8_t p[128];
  /* IPv4/UDP 192.168.0.1 -> 192.168.0.199, "hello world": IP 0xb8ad, UDP 0xe6d9 */
  size_t n = from_hex("45000027000040004011b8adc0a80001c0a800c704d200350013e6d9"
                      "68656c6c6f20776f726c64", p);
  CHECK_EQ(n, 39);
  CHECK(wire_ipv4_checksum_ok(p, 20));
  CHECK(wire_udp_checksum_ok(0xc0a80001u, 0xc0a800c7u, p + 20, n - 20));
  wire_put16(p + 10, 0);
  CHECK_EQ(wire_csum(p, 20), 0xb8ad);
  wire_put16(p + 26, 0);
  uint32_t s = wire_csum_pseudo(0xc0a80001u, 0xc0a800c7u, WIRE_IP_PROTO_UDP, (uint16_t)(n - 20));
  CHECK_EQ(wire_csum_fold(wire_csum_partial(s, p + 20, n - 20)), 0xe6d9);

  /* IPv4/TCP SYN 10.0.0.1:40000 -> 10.0.0.2:80 with options: TCP 0x976b */
  n = from_hex("4500003c12340000400654860a0000010a0000029c4000500000000100000000"
               "a002ffff976b0000020405b40402080a000000010000000001030307", p);
  CHECK_EQ(n, 60);
  CHECK(wire_ipv4_checksum_ok(p, 20));
  CHECK(wire_tcp_checksum_ok(0x0a000001u, 0x0a000002u, p + 20, 40));
  wire_put16(p + 36, 0);
  s = wire_csum_pseudo(0x0a000001u, 0x0a000002u, WIRE_IP_PROTO_TCP, 40);
  CHECK_EQ(wire_csum_fold(wire_csum_partial(s, p + 20, 40)), 0x976b);
  CHECK(!wire_tcp_checksum_ok(0x0a000001u, 0x0a000002u, p + 20, 40));

  /* ICMP echo request with a 23-byte (odd) payload: 0xd121 */
  n = from_hex("4500003300010000400166c70a0000010a0000020800d121123400016162636465"
               "666768696a6b6c6d6e6f7071727374757677", p);
  CHECK_EQ(n, 51);
  CHECK_EQ(wire_csum(p + 20, n - 20), 0); /* a correct packet sums to zero */
  wire_put16(p + 22, 0);
  CHECK_EQ(wire_csum(p + 20, n - 20), 0xd121);
}

static void csum_pseudo_header_matches_reference(void) {
  for (int i = 0; i < 1000; i++) {
    uint32_t src = rnd(), dst = rnd();
    uint8_t proto = (uint8_t)rnd();
    uint16_t len = (uint16_t)rnd();
    uint8_t ph[12];
    wire_put32(ph, src);
    wire_put32(ph + 4, dst);
    ph[8] = 0;
    ph[9] = proto;
    wire_put16(ph + 10, len);
    CHECK_EQ(wire_csum_fold(wire_csum_pseudo(src, dst, proto, len)), ref_csum(ph, 12));
  }
}

/* RFC 1624: after changing one 16-bit word, the incrementally updated checksum
 * must equal the recomputed one (eq. 3 never yields the -0 of RFC 1141). */
static void csum_incremental_update_equals_recompute(void) {
  uint8_t h[20];
  int bad = 0;
  for (int i = 0; i < 20000; i++) {
    for (size_t k = 0; k < 20; k++) h[k] = (uint8_t)rnd();
    if (i % 7 == 0) { /* mostly-zero header: sums near +0/-0 */
      memset(h, 0, 20);
      h[0] = 0x45; /* all-zero data is the one case eq. 3 cannot get right
                      (RFC 1624 5); an IPv4 header never is all zero */
    }
    wire_put16(h + 10, 0);
    wire_put16(h + 10, wire_csum(h, 20));
    size_t w = 2 * (rnd() % 10);
    if (w == 10) w = 8;
    if (i % 7 == 0 && w == 0) w = 2; /* keep the 0x45 so the data is never all zero */
    uint16_t old = wire_get16(h + w);
    uint16_t neu = (i % 5 == 0) ? (uint16_t)(old ^ 0xffff) : (uint16_t)rnd();
    if (i % 11 == 0) neu = 0xffff;
    if (i % 13 == 0) neu = 0;
    wire_put16(h + w, neu);
    uint16_t upd = wire_csum_update16(wire_get16(h + 10), old, neu);
    wire_put16(h + 10, 0);
    if (upd != wire_csum(h, 20)) {
      bad++;
      fprintf(stderr, "i=%d w=%zu old=%04x new=%04x upd=%04x re=%04x\n", i, w, old, neu, upd, wire_csum(h, 20));
    }
  }
  CHECK_EQ(bad, 0);
  /* RFC 1624 section 4 example: HC=0xdd2f, m=0x5555 -> m'=0x3285 gives 0x0000 */
  CHECK_EQ(wire_csum_update16(0xdd2f, 0x5555, 0x3285), 0x0000);
}

int main(void) {
  RUN(csum_matches_reference_every_length_0_to_2000_every_alignment);
  RUN(csum_all_ones_and_all_zeros);
  RUN(csum_chained_partials_equal_one_sum);
  RUN(csum_rfc1071_example);
  RUN(csum_known_packets);
  RUN(csum_pseudo_header_matches_reference);
  RUN(csum_incremental_update_equals_recompute);
  return check_report();
}
