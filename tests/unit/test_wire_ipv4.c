/*
 * IPv4 header parse/emit (core/src/wire_ipv4.c): round trip, Ethernet padding,
 * every truncation, and one named test per malformed case of the parsing
 * contract (version, ihl, total length, fragment end, options).
 */
#include "check.h"
#include "internal.h"

#define CANARY 0xa5

static wire_ipv4 sample(uint16_t payload) {
  wire_ipv4 h;
  memset(&h, 0, sizeof h);
  h.tos = 0x10;
  h.total_len = (uint16_t)(WIRE_IPV4_HLEN + payload);
  h.id = 0xbeef;
  h.df = true;
  h.ttl = 64;
  h.proto = WIRE_IP_PROTO_TCP;
  h.src = 0xc0a80001u;
  h.dst = 0xc0a800c7u;
  return h;
}

/* Build a datagram in buf: header (+ options given raw, ihl adjusted) + payload
 * bytes 0..payload-1. The checksum is recomputed. Returns the total length. */
static size_t build(uint8_t *buf, const wire_ipv4 *h, const uint8_t *opts, size_t optlen, size_t payload) {
  (void)wire_ipv4_emit(h, buf, WIRE_IPV4_HLEN);
  size_t ihl = WIRE_IPV4_HLEN + optlen;
  buf[0] = (uint8_t)(0x40 | (ihl / 4));
  if (optlen) memcpy(buf + WIRE_IPV4_HLEN, opts, optlen);
  wire_put16(buf + 2, (uint16_t)(ihl + payload));
  for (size_t i = 0; i < payload; i++) buf[ihl + i] = (uint8_t)i;
  wire_put16(buf + 10, 0);
  wire_put16(buf + 10, wire_csum(buf, ihl));
  return ihl + payload;
}

static void ipv4_round_trip(void) {
  uint8_t buf[100];
  wire_ipv4 h = sample(30);
  h.mf = true;
  h.df = false;
  h.frag_offset = 1480;
  CHECK_EQ(wire_ipv4_emit(&h, buf, sizeof buf), WIRE_IPV4_HLEN);
  CHECK_EQ(buf[0], 0x45);
  CHECK_EQ(wire_get16(buf + 6), 0x2000 | (1480 / 8));
  CHECK(wire_ipv4_checksum_ok(buf, 20));
  memset(buf + 20, 0x33, 30);
  wire_ipv4 p;
  CHECK_EQ(wire_ipv4_parse(buf, 50, &p), MICROTCP_OK);
  CHECK_EQ(p.ihl_bytes, 20);
  CHECK_EQ(p.tos, 0x10);
  CHECK_EQ(p.total_len, 50);
  CHECK_EQ(p.id, 0xbeef);
  CHECK(!p.df);
  CHECK(p.mf);
  CHECK_EQ(p.frag_offset, 1480);
  CHECK_EQ(p.ttl, 64);
  CHECK_EQ(p.proto, WIRE_IP_PROTO_TCP);
  CHECK_EQ(p.src, 0xc0a80001u);
  CHECK_EQ(p.dst, 0xc0a800c7u);
  CHECK(p.payload == buf + 20);
  CHECK_EQ(p.payload_len, 30);
  CHECK_EQ(p.checksum, wire_get16(buf + 10));

  h = sample(0); /* DF, no payload */
  CHECK_EQ(wire_ipv4_emit(&h, buf, 20), 20);
  CHECK_EQ(wire_ipv4_parse(buf, 20, &p), MICROTCP_OK);
  CHECK(p.df && !p.mf);
  CHECK_EQ(p.frag_offset, 0);
  CHECK_EQ(p.payload_len, 0);
}

/* A 28-byte datagram in a 46-byte Ethernet payload: the 18 pad bytes are not
 * payload. */
static void ipv4_trailing_padding_is_ignored(void) {
  uint8_t buf[46];
  memset(buf, 0, sizeof buf);
  wire_ipv4 h = sample(8);
  size_t n = build(buf, &h, NULL, 0, 8);
  CHECK_EQ(n, 28);
  wire_ipv4 p;
  CHECK_EQ(wire_ipv4_parse(buf, sizeof buf, &p), MICROTCP_OK);
  CHECK_EQ(p.total_len, 28);
  CHECK_EQ(p.payload_len, 8);
}

static void ipv4_checksum_detects_corruption(void) {
  uint8_t buf[20];
  wire_ipv4 h = sample(0);
  (void)wire_ipv4_emit(&h, buf, 20);
  CHECK(wire_ipv4_checksum_ok(buf, 20));
  int missed = 0;
  for (size_t bit = 0; bit < 160; bit++) {
    buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    if (wire_ipv4_checksum_ok(buf, 20)) missed++;
    buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
  }
  CHECK_EQ(missed, 0);
}

static void ipv4_truncated_at_every_length_below_20(void) {
  uint8_t buf[20];
  wire_ipv4 h = sample(0);
  (void)wire_ipv4_emit(&h, buf, 20);
  wire_ipv4 p;
  for (size_t n = 0; n < 20; n++) CHECK_EQ(wire_ipv4_parse(buf, n, &p), MICROTCP_ETRUNCATED);
  CHECK_EQ(wire_ipv4_parse(NULL, 0, &p), MICROTCP_ETRUNCATED);
}

static void ipv4_bad_version(void) {
  uint8_t buf[40];
  wire_ipv4 h = sample(20);
  build(buf, &h, NULL, 0, 20);
  wire_ipv4 p;
  const uint8_t versions[] = {0, 1, 5, 6, 15};
  for (size_t i = 0; i < sizeof versions; i++) {
    buf[0] = (uint8_t)(versions[i] << 4 | 5);
    CHECK_EQ(wire_ipv4_parse(buf, sizeof buf, &p), MICROTCP_EMALFORMED);
  }
}

static void ipv4_ihl_below_5(void) {
  uint8_t buf[40];
  wire_ipv4 h = sample(20);
  build(buf, &h, NULL, 0, 20);
  wire_ipv4 p;
  for (uint8_t ihl = 0; ihl < 5; ihl++) {
    buf[0] = (uint8_t)(0x40 | ihl);
    CHECK_EQ(wire_ipv4_parse(buf, sizeof buf, &p), MICROTCP_EMALFORMED);
  }
}

/* ihl says 60 bytes of header but total_len is 40. */
static void ipv4_ihl_greater_than_total_len(void) {
  uint8_t buf[80];
  memset(buf, 1, sizeof buf); /* NOP options if they were walked */
  wire_ipv4 h = sample(20);
  (void)wire_ipv4_emit(&h, buf, 20);
  wire_ipv4 p;
  buf[0] = 0x4f;
  CHECK_EQ(wire_ipv4_parse(buf, sizeof buf, &p), MICROTCP_EMALFORMED);
  buf[0] = 0x46; /* 24 <= 40: fine */
  CHECK_EQ(wire_ipv4_parse(buf, sizeof buf, &p), MICROTCP_OK);
  CHECK_EQ(p.payload_len, 16);
  wire_put16(buf + 2, 23); /* total < ihl by one */
  CHECK_EQ(wire_ipv4_parse(buf, sizeof buf, &p), MICROTCP_EMALFORMED);
  wire_put16(buf + 2, 24); /* header only */
  CHECK_EQ(wire_ipv4_parse(buf, sizeof buf, &p), MICROTCP_OK);
  CHECK_EQ(p.payload_len, 0);
}

static void ipv4_total_len_greater_than_buffer(void) {
  uint8_t buf[60];
  wire_ipv4 h = sample(40);
  size_t n = build(buf, &h, NULL, 0, 40);
  wire_ipv4 p;
  for (size_t len = 20; len < n; len++) CHECK_EQ(wire_ipv4_parse(buf, len, &p), MICROTCP_ETRUNCATED);
  CHECK_EQ(wire_ipv4_parse(buf, n, &p), MICROTCP_OK);
  wire_put16(buf + 2, 0xffff);
  CHECK_EQ(wire_ipv4_parse(buf, n, &p), MICROTCP_ETRUNCATED);
}

/* A header with options, cut anywhere inside the options. */
static void ipv4_truncated_inside_options(void) {
  uint8_t buf[64];
  const uint8_t opts[8] = {7, 7, 4, 0, 0, 0, 0, 0}; /* record route, 1 slot, + EOL pad */
  wire_ipv4 h = sample(4);
  size_t n = build(buf, &h, opts, sizeof opts, 4);
  wire_ipv4 p;
  CHECK_EQ(wire_ipv4_parse(buf, n, &p), MICROTCP_OK);
  CHECK_EQ(p.ihl_bytes, 28);
  for (size_t len = 20; len < n; len++) CHECK_EQ(wire_ipv4_parse(buf, len, &p), MICROTCP_ETRUNCATED);
}

/* RFC 791: offset*8 + payload must stay within a 65535-byte datagram. */
static void ipv4_fragment_beyond_65535(void) {
  uint8_t buf[100];
  wire_ipv4 h = sample(64);
  size_t n = build(buf, &h, NULL, 0, 64);
  wire_ipv4 p;
  /* last possible offset field 8191 -> 65528 bytes; 65528 + 64 > 65535 */
  wire_put16(buf + 6, 0x1fff);
  CHECK_EQ(wire_ipv4_parse(buf, n, &p), MICROTCP_EMALFORMED);
  /* 65536 - 8*k: offset 8184 -> 65472 + 64 = 65536, one too many */
  wire_put16(buf + 6, 8184);
  CHECK_EQ(wire_ipv4_parse(buf, n, &p), MICROTCP_EMALFORMED);
  /* exactly 65535: offset 65472 with 63 payload bytes */
  wire_put16(buf + 2, 20 + 63);
  CHECK_EQ(wire_ipv4_parse(buf, n, &p), MICROTCP_OK);
  CHECK_EQ(p.frag_offset, 65472);
  CHECK_EQ(p.payload_len, 63);
}

/* RFC 791 3.1: bit 0 of the flags is reserved and must be zero. */
static void ipv4_reserved_flag_is_malformed(void) {
  uint8_t buf[20];
  wire_ipv4 h = sample(0);
  (void)wire_ipv4_emit(&h, buf, 20);
  buf[6] |= 0x80;
  wire_ipv4 p;
  CHECK_EQ(wire_ipv4_parse(buf, 20, &p), MICROTCP_EMALFORMED);
}

static int parse_with_opts(const uint8_t *opts, size_t optlen) {
  uint8_t buf[80];
  wire_ipv4 h = sample(8);
  size_t n = build(buf, &h, opts, optlen, 8);
  wire_ipv4 p;
  int rc = wire_ipv4_parse(buf, n, &p);
  if (rc == MICROTCP_OK) {
    CHECK_EQ(p.ihl_bytes, 20 + optlen);
    CHECK(p.payload == buf + 20 + optlen);
    CHECK_EQ(p.payload_len, 8);
  }
  return rc;
}

static void ipv4_options_well_formed(void) {
  const uint8_t nops[4] = {1, 1, 1, 1};
  CHECK_EQ(parse_with_opts(nops, 4), MICROTCP_OK);
  const uint8_t eol_then_garbage[4] = {0, 0xff, 0x00, 0x01}; /* nothing after EOL is read */
  CHECK_EQ(parse_with_opts(eol_then_garbage, 4), MICROTCP_OK);
  const uint8_t router_alert[4] = {148, 4, 0, 0}; /* RFC 2113 */
  CHECK_EQ(parse_with_opts(router_alert, 4), MICROTCP_OK);
  const uint8_t exact_fit[8] = {1, 7, 7, 4, 1, 2, 3, 4}; /* NOP + 7-byte record route */
  CHECK_EQ(parse_with_opts(exact_fit, 8), MICROTCP_OK);
  uint8_t max[40];
  memset(max, 0, sizeof max);
  max[0] = 7;
  max[1] = 39; /* record route filling the 40-byte option space (+ EOL) */
  max[2] = 4;
  CHECK_EQ(parse_with_opts(max, 40), MICROTCP_OK);
}

static void ipv4_option_len_0(void) {
  const uint8_t o[4] = {7, 0, 0, 0};
  CHECK_EQ(parse_with_opts(o, 4), MICROTCP_EMALFORMED);
}

static void ipv4_option_len_1(void) {
  const uint8_t o[4] = {1, 148, 1, 0};
  CHECK_EQ(parse_with_opts(o, 4), MICROTCP_EMALFORMED);
}

static void ipv4_option_running_past_header(void) {
  const uint8_t o[4] = {148, 5, 0, 0};
  CHECK_EQ(parse_with_opts(o, 4), MICROTCP_EMALFORMED);
  const uint8_t o2[8] = {1, 1, 1, 1, 7, 7, 4, 0}; /* 7 bytes with 4 left */
  CHECK_EQ(parse_with_opts(o2, 8), MICROTCP_EMALFORMED);
}

/* The last option byte is a kind that needs a length byte. */
static void ipv4_option_length_byte_missing(void) {
  const uint8_t o[4] = {1, 1, 1, 148};
  CHECK_EQ(parse_with_opts(o, 4), MICROTCP_EMALFORMED);
}

static void ipv4_options_ok_helper_directly(void) {
  const uint8_t o[3] = {1, 0, 7};
  CHECK_EQ(wire_ipv4_options_ok(o, 0), MICROTCP_OK);
  CHECK_EQ(wire_ipv4_options_ok(o, 2), MICROTCP_OK);
  CHECK_EQ(wire_ipv4_options_ok(o + 2, 1), MICROTCP_EMALFORMED);
}

static void ipv4_emit_short_cap_writes_nothing(void) {
  uint8_t buf[20];
  wire_ipv4 h = sample(0);
  for (size_t cap = 0; cap < 20; cap++) {
    memset(buf, CANARY, sizeof buf);
    CHECK_EQ(wire_ipv4_emit(&h, buf, cap), MICROTCP_ENOSPC);
    int touched = 0;
    for (size_t i = 0; i < sizeof buf; i++) touched += buf[i] != CANARY;
    CHECK_EQ(touched, 0);
  }
}


/* A header whose datagram is cut short (an ICMP quote): the full parser says
 * ETRUNCATED, the truncated one accepts it with the bytes present. */
static void ipv4_parse_truncated_accepts_a_cut_datagram(void) {
  uint8_t buf[128];
  wire_ipv4 h = sample(100), out;
  static const uint8_t opts[4] = {1, 1, 1, 0};
  size_t n = build(buf, &h, opts, sizeof opts, 100);
  CHECK_EQ(n, 124);
  for (size_t len = 24; len < n; len++) {
    CHECK_EQ(wire_ipv4_parse(buf, len, &out), MICROTCP_ETRUNCATED);
    CHECK_EQ(wire_ipv4_parse_truncated(buf, len, &out), MICROTCP_OK);
    CHECK_EQ(out.payload_len, len - 24);
    CHECK_EQ(out.total_len, 124);
    CHECK(out.payload == buf + 24);
  }
  for (size_t len = 0; len < 24; len++)
    CHECK_EQ(wire_ipv4_parse_truncated(buf, len, &out), MICROTCP_ETRUNCATED);
  CHECK_EQ(wire_ipv4_parse_truncated(buf, n, &out), MICROTCP_OK);
  CHECK_EQ(out.payload_len, 100);
  buf[0] = 0x55; /* version 5 */
  CHECK_EQ(wire_ipv4_parse_truncated(buf, n, &out), MICROTCP_EMALFORMED);
}

int main(void) {
  RUN(ipv4_round_trip);
  RUN(ipv4_trailing_padding_is_ignored);
  RUN(ipv4_checksum_detects_corruption);
  RUN(ipv4_truncated_at_every_length_below_20);
  RUN(ipv4_bad_version);
  RUN(ipv4_ihl_below_5);
  RUN(ipv4_ihl_greater_than_total_len);
  RUN(ipv4_total_len_greater_than_buffer);
  RUN(ipv4_truncated_inside_options);
  RUN(ipv4_fragment_beyond_65535);
  RUN(ipv4_reserved_flag_is_malformed);
  RUN(ipv4_options_well_formed);
  RUN(ipv4_option_len_0);
  RUN(ipv4_option_len_1);
  RUN(ipv4_option_running_past_header);
  RUN(ipv4_option_length_byte_missing);
  RUN(ipv4_options_ok_helper_directly);
  RUN(ipv4_emit_short_cap_writes_nothing);
  RUN(ipv4_parse_truncated_accepts_a_cut_datagram);
  return check_report();
}
