/*
 * ICMP and UDP parse/emit (core/src/wire_icmp.c, wire_udp.c): round trips
 * with checksums, in-place emits, the ICMP quoted-datagram rules of RFC 792
 * (IHL-valid header + at least 8 payload bytes), the UDP length rules of
 * RFC 768, and short-cap emits that write nothing.
 */
#include "check.h"
#include "internal.h"

#define CANARY 0xa5
#define SRC 0x0a000001u
#define DST 0x0a000002u

static int touched(const uint8_t *p, size_t n) {
  int t = 0;
  for (size_t i = 0; i < n; i++) t += p[i] != CANARY;
  return t;
}

/* ---- ICMP ------------------------------------------------------------------- */
static void icmp_echo_round_trip(void) {
  uint8_t data[23];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)('a' + i);
  wire_icmp h = {WIRE_ICMP_ECHO_REQUEST, 0, 0, 0x12340001u, data, sizeof data};
  uint8_t buf[64];
  CHECK_EQ(wire_icmp_emit(&h, buf, sizeof buf), 8 + 23);
  /* Same fields as the scapy-built packet in test_checksum.c: checksum 0xd121 */
  CHECK_EQ(wire_get16(buf + 2), 0xd121);
  CHECK_EQ(wire_csum(buf, 31), 0);
  wire_icmp p;
  CHECK_EQ(wire_icmp_parse(buf, 31, &p), MICROTCP_OK);
  CHECK_EQ(p.type, WIRE_ICMP_ECHO_REQUEST);
  CHECK_EQ(p.code, 0);
  CHECK_EQ(p.rest, 0x12340001u);
  CHECK_EQ(p.checksum, 0xd121);
  CHECK(p.payload == buf + 8);
  CHECK_EQ(p.payload_len, 23);
  CHECK(memcmp(p.payload, data, 23) == 0);
}

/* An echo reply is built in place from the request's payload. */
static void icmp_emit_in_place(void) {
  uint8_t buf[40];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)i;
  wire_icmp h = {WIRE_ICMP_ECHO_REPLY, 0, 0, 7, buf + 8, 32};
  CHECK_EQ(wire_icmp_emit(&h, buf, sizeof buf), 40);
  CHECK_EQ(buf[0], 0);
  CHECK_EQ(buf[39], 39);
  CHECK_EQ(buf[8], 8);
  CHECK_EQ(wire_csum(buf, 40), 0);
}

static void icmp_truncated_at_every_length_below_8(void) {
  uint8_t buf[8] = {8, 0, 0, 0, 0, 0, 0, 0};
  wire_icmp p;
  for (size_t n = 0; n < 8; n++) CHECK_EQ(wire_icmp_parse(buf, n, &p), MICROTCP_ETRUNCATED);
  CHECK_EQ(wire_icmp_parse(buf, 8, &p), MICROTCP_OK);
  CHECK_EQ(p.payload_len, 0);
}

static void icmp_emit_short_cap_writes_nothing(void) {
  uint8_t data[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  wire_icmp h = {WIRE_ICMP_ECHO_REQUEST, 0, 0, 1, data, sizeof data};
  uint8_t buf[18];
  for (size_t cap = 0; cap < 18; cap++) {
    memset(buf, CANARY, sizeof buf);
    CHECK_EQ(wire_icmp_emit(&h, buf, cap), MICROTCP_ENOSPC);
    CHECK_EQ(touched(buf, sizeof buf), 0);
  }
}

/* An ICMP error quoting `quote_len` bytes of an IPv4/UDP datagram whose header
 * has `optlen` option bytes. Returns the ICMP length. */
static size_t make_error(uint8_t *buf, size_t optlen, size_t quote_len) {
  uint8_t orig[128];
  memset(orig, 0, sizeof orig);
  size_t ihl = 20 + optlen;
  orig[0] = (uint8_t)(0x40 | ihl / 4);
  wire_put16(orig + 2, (uint16_t)(ihl + 8 + 100)); /* original: UDP + 100 bytes */
  orig[8] = 64;
  orig[9] = WIRE_IP_PROTO_UDP;
  wire_put32(orig + 12, DST);
  wire_put32(orig + 16, SRC);
  memset(orig + 20, 1, optlen); /* NOPs */
  wire_put16(orig + ihl, 5353);
  wire_put16(orig + ihl + 2, 9);
  wire_put16(orig + ihl + 4, 108);
  for (size_t i = ihl + 8; i < sizeof orig; i++) orig[i] = 0xdd;
  wire_icmp h = {WIRE_ICMP_DEST_UNREACH, WIRE_ICMP_UNREACH_PORT, 0, 0, orig, quote_len};
  return (size_t)wire_icmp_emit(&h, buf, 200);
}

static void icmp_quoted_header_plus_8(void) {
  uint8_t buf[200];
  size_t n = make_error(buf, 0, 28);
  wire_icmp e;
  CHECK_EQ(wire_icmp_parse(buf, n, &e), MICROTCP_OK);
  wire_ipv4 q;
  CHECK_EQ(wire_icmp_quoted(&e, &q), MICROTCP_OK);
  CHECK_EQ(q.ihl_bytes, 20);
  CHECK_EQ(q.proto, WIRE_IP_PROTO_UDP);
  CHECK_EQ(q.src, DST);
  CHECK_EQ(q.dst, SRC);
  CHECK_EQ(q.total_len, 128);
  CHECK(q.payload == e.payload + 20);
  CHECK_EQ(q.payload_len, 8); /* only what was quoted */
  CHECK_EQ(wire_get16(q.payload), 5353);
  /* more quoted than the original's total_len (e.g. padding): clamp to total */
  n = make_error(buf, 0, 128);
  CHECK_EQ(wire_icmp_parse(buf, n, &e), MICROTCP_OK);
  CHECK_EQ(wire_icmp_quoted(&e, &q), MICROTCP_OK);
  CHECK_EQ(q.payload_len, 108);
}

static void icmp_quoted_with_options(void) {
  uint8_t buf[200];
  size_t n = make_error(buf, 8, 36);
  wire_icmp e;
  wire_ipv4 q;
  CHECK_EQ(wire_icmp_parse(buf, n, &e), MICROTCP_OK);
  CHECK_EQ(wire_icmp_quoted(&e, &q), MICROTCP_OK);
  CHECK_EQ(q.ihl_bytes, 28);
  CHECK_EQ(q.payload_len, 8);
  CHECK_EQ(wire_get16(q.payload + 2), 9);
}

/* Fewer than ihl*4 + 8 quoted bytes, at every length. */
static void icmp_quoted_truncated(void) {
  uint8_t buf[200];
  wire_icmp e;
  wire_ipv4 q;
  for (size_t optlen = 0; optlen <= 40; optlen += 8)
    for (size_t quote = 0; quote < 20 + optlen + 8; quote++) {
      size_t n = make_error(buf, optlen, quote);
      CHECK_EQ(wire_icmp_parse(buf, n, &e), MICROTCP_OK);
      CHECK_EQ(wire_icmp_quoted(&e, &q), MICROTCP_ETRUNCATED);
    }
}

static void icmp_quoted_bad_version(void) {
  uint8_t buf[200];
  size_t n = make_error(buf, 0, 28);
  buf[8] = 0x65;
  wire_icmp e;
  wire_ipv4 q;
  CHECK_EQ(wire_icmp_parse(buf, n, &e), MICROTCP_OK);
  CHECK_EQ(wire_icmp_quoted(&e, &q), MICROTCP_EMALFORMED);
}

static void icmp_quoted_ihl_below_5(void) {
  uint8_t buf[200];
  wire_icmp e;
  wire_ipv4 q;
  for (uint8_t ihl = 0; ihl < 5; ihl++) {
    size_t n = make_error(buf, 0, 28);
    buf[8] = (uint8_t)(0x40 | ihl);
    CHECK_EQ(wire_icmp_parse(buf, n, &e), MICROTCP_OK);
    CHECK_EQ(wire_icmp_quoted(&e, &q), MICROTCP_EMALFORMED);
  }
}

/* The quoted header claims a datagram too short to hold its own header + 8. */
static void icmp_quoted_total_len_too_small(void) {
  uint8_t buf[200];
  size_t n = make_error(buf, 0, 28);
  wire_put16(buf + 8 + 2, 27);
  wire_icmp e;
  wire_ipv4 q;
  CHECK_EQ(wire_icmp_parse(buf, n, &e), MICROTCP_OK);
  CHECK_EQ(wire_icmp_quoted(&e, &q), MICROTCP_EMALFORMED);
}

static void icmp_quoted_bad_options(void) {
  uint8_t buf[200];
  size_t n = make_error(buf, 4, 32);
  buf[8 + 20] = 7; /* record route with length 0 */
  buf[8 + 21] = 0;
  wire_icmp e;
  wire_ipv4 q;
  CHECK_EQ(wire_icmp_parse(buf, n, &e), MICROTCP_OK);
  CHECK_EQ(wire_icmp_quoted(&e, &q), MICROTCP_EMALFORMED);
}

/* ---- UDP ------------------------------------------------------------------------ */
static void udp_round_trip(void) {
  const uint8_t msg[11] = {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'};
  wire_udp h = {1234, 53, 0, 0, msg, sizeof msg};
  uint8_t buf[64];
  CHECK_EQ(wire_udp_emit(0xc0a80001u, 0xc0a800c7u, &h, buf, sizeof buf), 19);
  /* the datagram of test_checksum.c's scapy packet */
  CHECK_EQ(wire_get16(buf + 4), 19);
  CHECK_EQ(wire_get16(buf + 6), 0xe6d9);
  wire_udp p;
  CHECK_EQ(wire_udp_parse(buf, 19, &p), MICROTCP_OK);
  CHECK_EQ(p.src_port, 1234);
  CHECK_EQ(p.dst_port, 53);
  CHECK_EQ(p.length, 19);
  CHECK_EQ(p.checksum, 0xe6d9);
  CHECK(p.payload == buf + 8);
  CHECK_EQ(p.payload_len, 11);
  CHECK(wire_udp_checksum_ok(0xc0a80001u, 0xc0a800c7u, buf, p.length));
  CHECK(!wire_udp_checksum_ok(0xc0a80001u, 0xc0a800c8u, buf, p.length)); /* pseudo header counts */
  buf[10] ^= 0x20;
  CHECK(!wire_udp_checksum_ok(0xc0a80001u, 0xc0a800c7u, buf, p.length));
}

static void udp_emit_in_place(void) {
  uint8_t buf[32];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)(100 + i);
  wire_udp h = {7, 7, 0, 0, buf + 8, 24};
  CHECK_EQ(wire_udp_emit(SRC, DST, &h, buf, sizeof buf), 32);
  CHECK_EQ(buf[8], 108);
  CHECK_EQ(buf[31], 131);
  CHECK(wire_udp_checksum_ok(SRC, DST, buf, 32));
}

/* RFC 768: a computed checksum of zero is transmitted as all ones, and zero
 * in the field means "no checksum". */
static void udp_checksum_zero_sent_as_ffff_and_zero_means_none(void) {
  uint8_t payload[2] = {0, 0};
  wire_udp h = {1000, 2000, 0, 0, payload, 2};
  uint8_t buf[10];
  CHECK_EQ(wire_udp_emit(SRC, DST, &h, buf, sizeof buf), 10);
  /* With payload word X the sum grows by X; choosing X = the current
   * checksum makes the one's-complement sum 0xffff, i.e. checksum 0. */
  uint16_t c0 = wire_get16(buf + 6);
  wire_put16(payload, c0);
  CHECK_EQ(wire_udp_emit(SRC, DST, &h, buf, sizeof buf), 10);
  CHECK_EQ(wire_get16(buf + 6), 0xffff);
  CHECK(wire_udp_checksum_ok(SRC, DST, buf, 10));
  wire_put16(buf + 6, 0);
  CHECK(wire_udp_checksum_ok(SRC, DST, buf, 10));
  buf[9] ^= 1; /* no checksum: corruption cannot be seen */
  CHECK(wire_udp_checksum_ok(SRC, DST, buf, 10));
}

static void udp_truncated_at_every_length_below_8(void) {
  uint8_t buf[8] = {0, 1, 0, 2, 0, 8, 0, 0};
  wire_udp p;
  for (size_t n = 0; n < 8; n++) CHECK_EQ(wire_udp_parse(buf, n, &p), MICROTCP_ETRUNCATED);
  CHECK_EQ(wire_udp_parse(buf, 8, &p), MICROTCP_OK);
  CHECK_EQ(p.payload_len, 0);
}

static void udp_length_below_8(void) {
  uint8_t buf[16] = {0, 1, 0, 2, 0, 8, 0, 0};
  wire_udp p;
  for (uint16_t l = 0; l < 8; l++) {
    wire_put16(buf + 4, l);
    CHECK_EQ(wire_udp_parse(buf, sizeof buf, &p), MICROTCP_EMALFORMED);
  }
}

static void udp_length_beyond_buffer(void) {
  uint8_t buf[16] = {0, 1, 0, 2, 0, 16, 0, 0};
  wire_udp p;
  for (size_t n = 8; n < 16; n++) CHECK_EQ(wire_udp_parse(buf, n, &p), MICROTCP_ETRUNCATED);
  wire_put16(buf + 4, 0xffff);
  CHECK_EQ(wire_udp_parse(buf, sizeof buf, &p), MICROTCP_ETRUNCATED);
}

/* Bytes beyond the UDP length (IP payload longer than the datagram) are not
 * payload. */
static void udp_length_shorter_than_buffer_trims(void) {
  uint8_t buf[16] = {0, 1, 0, 2, 0, 10, 0, 0, 'o', 'k', 'x', 'x', 'x', 'x', 'x', 'x'};
  wire_udp p;
  CHECK_EQ(wire_udp_parse(buf, sizeof buf, &p), MICROTCP_OK);
  CHECK_EQ(p.payload_len, 2);
}

static void udp_emit_short_cap_writes_nothing(void) {
  uint8_t data[5] = {1, 2, 3, 4, 5};
  wire_udp h = {1, 2, 0, 0, data, sizeof data};
  uint8_t buf[13];
  for (size_t cap = 0; cap < 13; cap++) {
    memset(buf, CANARY, sizeof buf);
    CHECK_EQ(wire_udp_emit(SRC, DST, &h, buf, cap), MICROTCP_ENOSPC);
    CHECK_EQ(touched(buf, sizeof buf), 0);
  }
}


/* emit_header writes the header the full emit writes, with the checksum over
 * a payload elsewhere (a fragmented datagram's payload is not behind it). */
static void udp_and_icmp_emit_header_match_emit(void) {
  uint8_t data[21];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(0x61 + i);
  uint8_t full[64], hdr[64];
  wire_udp u = {5000, 53, 0, 0, data, sizeof data};
  CHECK_EQ(wire_udp_emit(SRC, DST, &u, full, sizeof full), 8 + 21);
  memset(hdr, CANARY, sizeof hdr);
  CHECK_EQ(wire_udp_emit_header(SRC, DST, &u, hdr, 8), 8);
  CHECK_EQ(hdr[8], CANARY);
  CHECK(memcmp(full, hdr, 8) == 0);
  CHECK_EQ(wire_udp_emit_header(SRC, DST, &u, hdr, 7), MICROTCP_ENOSPC);
  u.payload_len = 65535 - 7; /* one byte too long for the length field */
  CHECK_EQ(wire_udp_emit_header(SRC, DST, &u, hdr, 8), MICROTCP_ENOSPC);
  wire_icmp m = {WIRE_ICMP_ECHO_REQUEST, 0, 0, 0x00010002u, data, sizeof data};
  CHECK_EQ(wire_icmp_emit(&m, full, sizeof full), 8 + 21);
  memset(hdr, CANARY, sizeof hdr);
  CHECK_EQ(wire_icmp_emit_header(&m, hdr, 8), 8);
  CHECK_EQ(hdr[8], CANARY);
  CHECK(memcmp(full, hdr, 8) == 0);
  CHECK_EQ(wire_icmp_emit_header(&m, hdr, 7), MICROTCP_ENOSPC);
}

/* The quote goes through the IPv4 parser: what it rejects as malformed in a
 * datagram it rejects in a quote (here the reserved flag bit). */
static void icmp_quoted_reserved_flag_is_malformed(void) {
  uint8_t buf[200];
  wire_icmp e;
  wire_ipv4 q;
  size_t n = make_error(buf, 0, 28);
  buf[8 + 6] |= 0x80; /* quoted header's flags: reserved bit */
  CHECK_EQ(wire_icmp_parse(buf, n, &e), MICROTCP_OK);
  CHECK_EQ(wire_icmp_quoted(&e, &q), MICROTCP_EMALFORMED);
}

static void l4_quoted_ports_and_sequence(void) {
  uint8_t buf[200];
  wire_icmp e;
  wire_ipv4 q;
  wire_l4_quote l4;
  size_t n = make_error(buf, 8, 36);
  CHECK_EQ(wire_icmp_parse(buf, n, &e), MICROTCP_OK);
  CHECK_EQ(wire_icmp_quoted(&e, &q), MICROTCP_OK);
  CHECK_EQ(wire_l4_quoted(&q, &l4), MICROTCP_OK);
  CHECK_EQ(l4.src_port, 5353);
  CHECK_EQ(l4.dst_port, 9);
  CHECK_EQ(l4.tcp_seq, (108u << 16) | 0);
  wire_ipv4 frag = q;
  frag.frag_offset = 8;
  CHECK_EQ(wire_l4_quoted(&frag, &l4), MICROTCP_EMALFORMED);
  wire_ipv4 short_q = q;
  short_q.payload_len = 7;
  CHECK_EQ(wire_l4_quoted(&short_q, &l4), MICROTCP_ETRUNCATED);
}

int main(void) {
  RUN(udp_and_icmp_emit_header_match_emit);
  RUN(icmp_quoted_reserved_flag_is_malformed);
  RUN(l4_quoted_ports_and_sequence);
  RUN(icmp_echo_round_trip);
  RUN(icmp_emit_in_place);
  RUN(icmp_truncated_at_every_length_below_8);
  RUN(icmp_emit_short_cap_writes_nothing);
  RUN(icmp_quoted_header_plus_8);
  RUN(icmp_quoted_with_options);
  RUN(icmp_quoted_truncated);
  RUN(icmp_quoted_bad_version);
  RUN(icmp_quoted_ihl_below_5);
  RUN(icmp_quoted_total_len_too_small);
  RUN(icmp_quoted_bad_options);
  RUN(udp_round_trip);
  RUN(udp_emit_in_place);
  RUN(udp_checksum_zero_sent_as_ffff_and_zero_means_none);
  RUN(udp_truncated_at_every_length_below_8);
  RUN(udp_length_below_8);
  RUN(udp_length_beyond_buffer);
  RUN(udp_length_shorter_than_buffer_trims);
  RUN(udp_emit_short_cap_writes_nothing);
  return check_report();
}
