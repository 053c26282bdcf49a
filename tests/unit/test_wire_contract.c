/*
 * The wire contract: round trips for every header, every malformed case named
 * by the design's parsing contract, exact-length emits that write nothing when
 * the buffer is short, the checksum against a byte-pair reference, and SipHash
 * against the reference vectors of the SipHash paper.
 */
#include <stdio.h>

#include "check.h"
#include "internal.h"

/* ---- checksum ---------------------------------------------------------------- */
static uint16_t ref_csum(const uint8_t *p, size_t len) {
  uint32_t s = 0;
  for (size_t i = 0; i + 1 < len; i += 2) s += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (len & 1) s += (uint32_t)p[len - 1] << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (uint16_t)~s;
}

static void checksum_matches_reference_at_every_length_and_alignment(void) {
  static uint8_t buf[2100];
  uint32_t x = 12345;
  for (size_t i = 0; i < sizeof buf; i++) {
    x = x * 1103515245u + 12345u;
    buf[i] = (uint8_t)(x >> 16);
  }
  int bad = 0;
  for (size_t align = 0; align < 8; align++)
    for (size_t len = 0; len <= 2000; len++)
      if (wire_csum(buf + align, len) != ref_csum(buf + align, len)) bad++;
  CHECK_EQ(bad, 0);
  /* chained partial sums (even-length chunks) equal one sum */
  uint32_t s = wire_csum_partial(0, buf, 100);
  s = wire_csum_partial(s, buf + 100, 901);
  CHECK_EQ(wire_csum_fold(s), ref_csum(buf, 1001));
  /* all-ones data: sum wraps many times */
  memset(buf, 0xff, sizeof buf);
  CHECK_EQ(wire_csum(buf, 2000), ref_csum(buf, 2000));
}

static void checksum_incremental_update_equals_recompute(void) {
  uint8_t h[20] = {0x45, 0, 0, 40, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2};
  wire_put16(h + 10, wire_csum(h, 20));
  for (uint32_t ttl = 1; ttl < 256; ttl += 17) {
    uint8_t g[20];
    memcpy(g, h, 20);
    uint16_t old = wire_get16(g + 8);
    g[8] = (uint8_t)ttl;
    uint16_t upd = wire_csum_update16(wire_get16(g + 10), old, wire_get16(g + 8));
    wire_put16(g + 10, 0);
    CHECK_EQ(upd, wire_csum(g, 20));
  }
}

/* ---- SipHash: reference vectors (key 00..0f, message 00..len-1) ------------------ */
static void siphash_reference_vectors(void) {
  static const uint64_t expect[] = {
      0x726fdb47dd0e0e31ull, 0x74f839c593dc67fdull, 0x0d6c8009d9a94f5aull,
      0x85676696d7fb7e2dull, 0xcf2794e0277187b7ull, 0x18765564cd99a68dull,
      0xcbc9466e58fee3ceull, 0xab0200f58b01d137ull, 0x93f5f5799a932462ull,
  };
  uint8_t key[16], msg[16];
  for (int i = 0; i < 16; i++) key[i] = msg[i] = (uint8_t)i;
  for (size_t len = 0; len < sizeof expect / sizeof expect[0]; len++)
    CHECK(microtcp_siphash(key, msg, len) == expect[len]);
}

/* ---- Ethernet / ARP ------------------------------------------------------------------ */
static void eth_round_trip_and_truncation(void) {
  wire_eth e = {{1, 2, 3, 4, 5, 6}, {7, 8, 9, 10, 11, 12}, WIRE_ETHERTYPE_IPV4, NULL, 0};
  uint8_t buf[64] = {0};
  CHECK_EQ(wire_eth_emit(&e, buf, sizeof buf), 14);
  wire_eth p;
  CHECK_EQ(wire_eth_parse(buf, 60, &p), 0);
  CHECK(memcmp(p.dst, e.dst, 6) == 0 && memcmp(p.src, e.src, 6) == 0);
  CHECK_EQ(p.ethertype, WIRE_ETHERTYPE_IPV4);
  CHECK_EQ(p.payload_len, 46);
  for (size_t n = 0; n < 14; n++) CHECK_EQ(wire_eth_parse(buf, n, &p), MICROTCP_ETRUNCATED);
  uint8_t canary[13];
  memset(canary, 0xab, sizeof canary);
  CHECK_EQ(wire_eth_emit(&e, canary, sizeof canary), MICROTCP_ENOSPC);
  for (size_t i = 0; i < sizeof canary; i++) CHECK_EQ(canary[i], 0xab);
}

static void arp_round_trip_and_malformed(void) {
  wire_arp a = {WIRE_ARP_REQUEST, {2, 0, 0, 0, 0, 1}, 0x0a000001u, {0}, 0x0a000002u};
  uint8_t buf[28];
  CHECK_EQ(wire_arp_emit(&a, buf, sizeof buf), 28);
  wire_arp p;
  CHECK_EQ(wire_arp_parse(buf, 28, &p), 0);
  CHECK_EQ(p.spa, a.spa);
  CHECK_EQ(p.tpa, a.tpa);
  CHECK_EQ(p.op, WIRE_ARP_REQUEST);
  for (size_t n = 0; n < 28; n++) CHECK_EQ(wire_arp_parse(buf, n, &p), MICROTCP_ETRUNCATED);
  const size_t fields[] = {1, 3, 4, 5, 7}; /* htype, ptype, hlen, plen, op */
  for (size_t i = 0; i < 5; i++) {
    uint8_t bad[28];
    memcpy(bad, buf, 28);
    bad[fields[i]] ^= 0x40;
    CHECK_EQ(wire_arp_parse(bad, 28, &p), MICROTCP_EMALFORMED);
  }
}

/* ---- IPv4 -------------------------------------------------------------------------------- */
static size_t make_ipv4(uint8_t *buf, size_t payload) {
  wire_ipv4 h;
  memset(&h, 0, sizeof h);
  h.total_len = (uint16_t)(20 + payload);
  h.id = 0x1234;
  h.df = true;
  h.ttl = 64;
  h.proto = WIRE_IP_PROTO_UDP;
  h.src = 0x0a000001u;
  h.dst = 0x0a000002u;
  CHECK_EQ(wire_ipv4_emit(&h, buf, 20), 20);
  memset(buf + 20, 0x5a, payload);
  return 20 + payload;
}

static void ipv4_round_trip_padding_and_checksum(void) {
  uint8_t buf[100];
  size_t n = make_ipv4(buf, 30);
  wire_ipv4 p;
  CHECK_EQ(wire_ipv4_parse(buf, n + 6, &p), 0); /* Ethernet padding after total_len */
  CHECK_EQ(p.payload_len, 30);
  CHECK_EQ(p.id, 0x1234);
  CHECK(p.df && !p.mf);
  CHECK_EQ(p.ttl, 64);
  CHECK(wire_ipv4_checksum_ok(buf, 20));
  buf[8] ^= 1;
  CHECK(!wire_ipv4_checksum_ok(buf, 20));
}

static void ipv4_malformed_cases(void) {
  uint8_t buf[100];
  wire_ipv4 p;
  size_t n = make_ipv4(buf, 30);
  for (size_t k = 0; k < 20; k++) CHECK_EQ(wire_ipv4_parse(buf, k, &p), MICROTCP_ETRUNCATED);
  uint8_t b[100];
  memcpy(b, buf, n); b[0] = 0x65;                 /* version 6 */
  CHECK_EQ(wire_ipv4_parse(b, n, &p), MICROTCP_EMALFORMED);
  memcpy(b, buf, n); b[0] = 0x44;                 /* ihl 4 */
  CHECK_EQ(wire_ipv4_parse(b, n, &p), MICROTCP_EMALFORMED);
  memcpy(b, buf, n); b[0] = 0x4f; wire_put16(b + 2, 40); /* ihl 60 > total_len 40 */
  CHECK(wire_ipv4_parse(b, n, &p) < 0);
  memcpy(b, buf, n); wire_put16(b + 2, 200);      /* total_len > buffer */
  CHECK_EQ(wire_ipv4_parse(b, n, &p), MICROTCP_ETRUNCATED);
  memcpy(b, buf, n); wire_put16(b + 6, 0x1fff);   /* offset 65528 + 30 > 65535 */
  CHECK_EQ(wire_ipv4_parse(b, n, &p), MICROTCP_EMALFORMED);
  /* options: ihl 6 with a length-0, length-1 and a running-past-the-end option */
  const uint8_t bad_opts[][4] = {{0x07, 0x00, 0, 0}, {0x07, 0x01, 0, 0}, {0x01, 0x07, 0x08, 0}};
  for (int i = 0; i < 3; i++) {
    memcpy(b, buf, 20);
    b[0] = 0x46;
    wire_put16(b + 2, 24);
    memcpy(b + 20, bad_opts[i], 4);
    CHECK_EQ(wire_ipv4_parse(b, 24, &p), MICROTCP_EMALFORMED);
  }
  /* well-formed options are skipped */
  memcpy(b, buf, 20);
  b[0] = 0x46;
  wire_put16(b + 2, 24);
  b[20] = 0x01; b[21] = 0x01; b[22] = 0x00; b[23] = 0x00;
  CHECK_EQ(wire_ipv4_parse(b, 24, &p), 0);
  CHECK_EQ(p.ihl_bytes, 24);
}

/* ---- ICMP / UDP -------------------------------------------------------------------------- */
static void icmp_round_trip_and_quoted(void) {
  uint8_t data[40];
  size_t n = make_ipv4(data, 20); /* a datagram to quote: header + 20 bytes */
  wire_icmp h = {WIRE_ICMP_DEST_UNREACH, WIRE_ICMP_UNREACH_PORT, 0, 0, data, 28};
  uint8_t buf[64];
  CHECK_EQ(wire_icmp_emit(&h, buf, sizeof buf), 36);
  CHECK_EQ(wire_csum(buf, 36), 0);
  wire_icmp p;
  CHECK_EQ(wire_icmp_parse(buf, 36, &p), 0);
  wire_ipv4 q;
  CHECK_EQ(wire_icmp_quoted(&p, &q), 0);
  CHECK_EQ(q.dst, 0x0a000002u);
  CHECK_EQ(q.payload_len, 8);
  for (size_t len = 8; len < 36; len++) {
    CHECK_EQ(wire_icmp_parse(buf, len, &p), 0);
    CHECK(wire_icmp_quoted(&p, &q) < 0); /* quote shorter than header + 8 bytes */
  }
  for (size_t len = 0; len < 8; len++) CHECK_EQ(wire_icmp_parse(buf, len, &p), MICROTCP_ETRUNCATED);
  (void)n;
}

static void udp_round_trip_and_lengths(void) {
  wire_udp u = {1111, 2222, 0, 0, (const uint8_t *)"payload", 7};
  uint8_t buf[32];
  CHECK_EQ(wire_udp_emit(1, 2, &u, buf, sizeof buf), 15);
  wire_udp p;
  CHECK_EQ(wire_udp_parse(buf, 15, &p), 0);
  CHECK_EQ(p.src_port, 1111);
  CHECK_EQ(p.payload_len, 7);
  CHECK(wire_udp_checksum_ok(1, 2, buf, 15));
  CHECK(!wire_udp_checksum_ok(1, 3, buf, 15));
  wire_put16(buf + 6, 0); /* zero checksum = none */
  CHECK(wire_udp_checksum_ok(1, 3, buf, 15));
  wire_put16(buf + 4, 7); /* length < 8 */
  CHECK_EQ(wire_udp_parse(buf, 15, &p), MICROTCP_EMALFORMED);
  wire_put16(buf + 4, 16); /* length > buffer */
  CHECK_EQ(wire_udp_parse(buf, 15, &p), MICROTCP_ETRUNCATED);
  for (size_t n = 0; n < 8; n++) CHECK_EQ(wire_udp_parse(buf, n, &p), MICROTCP_ETRUNCATED);
}

/* ---- TCP ---------------------------------------------------------------------------------- */
static size_t tcp_with_options(uint8_t *buf, const uint8_t *opts, size_t optlen) {
  memset(buf, 0, 20);
  wire_put16(buf, 1000);
  wire_put16(buf + 2, 80);
  buf[12] = (uint8_t)(((20 + optlen) / 4) << 4);
  buf[13] = WIRE_TCP_SYN;
  memcpy(buf + 20, opts, optlen);
  return 20 + optlen;
}

static void tcp_round_trip_syn_and_data(void) {
  wire_tcp t;
  memset(&t, 0, sizeof t);
  t.src_port = 40000;
  t.dst_port = 80;
  t.seq = 0xfffffff0u;
  t.ack = 7;
  t.flags = WIRE_TCP_SYN | WIRE_TCP_ACK;
  t.window = 65535;
  t.opts.has_mss = true;
  t.opts.mss = 1460;
  t.opts.has_ws = true;
  t.opts.ws = 7;
  t.opts.sack_permitted = true;
  t.opts.has_ts = true;
  t.opts.ts_val = 123;
  t.opts.ts_ecr = 456;
  uint8_t buf[128];
  int n = wire_tcp_emit(1, 2, &t, buf, sizeof buf);
  CHECK_EQ(n, 40); /* mss,sackOK,TS,nop,wscale = 20 bytes of options */
  CHECK_EQ(buf[20], WIRE_TCPOPT_MSS);
  CHECK_EQ(buf[24], WIRE_TCPOPT_SACK_PERM);
  CHECK_EQ(buf[26], WIRE_TCPOPT_TS);
  CHECK_EQ(buf[36], WIRE_TCPOPT_NOP);
  CHECK_EQ(buf[37], WIRE_TCPOPT_WS);
  wire_tcp p;
  CHECK_EQ(wire_tcp_parse(buf, (size_t)n, &p), 0);
  CHECK(wire_tcp_checksum_ok(1, 2, buf, (size_t)n));
  CHECK_EQ(p.seq, t.seq);
  CHECK_EQ(p.opts.mss, 1460);
  CHECK_EQ(p.opts.ws, 7);
  CHECK(p.opts.sack_permitted && p.opts.has_ts);
  CHECK_EQ(p.opts.ts_val, 123);
  CHECK_EQ(p.opts.ts_ecr, 456);
  /* data segment with TS and 3 SACK blocks */
  memset(&t.opts, 0, sizeof t.opts);
  t.flags = WIRE_TCP_ACK;
  t.opts.has_ts = true;
  t.opts.sack_count = 3;
  for (int i = 0; i < 3; i++) {
    t.opts.sack[i].left = 100u * (uint32_t)i + 1;
    t.opts.sack[i].right = 100u * (uint32_t)i + 50;
  }
  t.payload = (const uint8_t *)"data";
  t.payload_len = 4;
  n = wire_tcp_emit(1, 2, &t, buf, sizeof buf);
  CHECK_EQ(n, 20 + 12 + 28 + 4);
  CHECK_EQ(wire_tcp_parse(buf, (size_t)n, &p), 0);
  CHECK_EQ(p.opts.sack_count, 3);
  CHECK_EQ(p.opts.sack[2].right, 250);
  CHECK_EQ(p.payload_len, 4);
  CHECK(memcmp(p.payload, "data", 4) == 0);
  uint8_t canary[50];
  memset(canary, 0xcd, sizeof canary);
  CHECK_EQ(wire_tcp_emit(1, 2, &t, canary, sizeof canary), MICROTCP_ENOSPC);
  for (size_t i = 0; i < sizeof canary; i++) CHECK_EQ(canary[i], 0xcd);
}

static void tcp_option_walk_malformed_cases(void) {
  uint8_t buf[80];
  wire_tcp p;
  struct {
    const char *name;
    uint8_t opt[8];
    int expect;
  } cases[] = {
      {"len0", {0x22, 0x00, 1, 1}, MICROTCP_EMALFORMED},
      {"len1", {0x22, 0x01, 1, 1}, MICROTCP_EMALFORMED},
      {"past_end", {0x01, 0x01, 0x22, 0x08}, MICROTCP_EMALFORMED},
      {"kind_without_len", {0x01, 0x01, 0x01, 0x22}, MICROTCP_EMALFORMED},
      {"mss_len3", {0x02, 0x03, 0x05, 0x01}, MICROTCP_EMALFORMED},
      {"ws_len4", {0x03, 0x04, 0x07, 0x01}, MICROTCP_EMALFORMED},
      {"sackok_len3", {0x04, 0x03, 0x00, 0x01}, MICROTCP_EMALFORMED},
      {"ts_len8", {0x08, 0x08, 0, 0, 0, 0, 0, 0}, MICROTCP_EMALFORMED},
      {"sack_0_blocks", {0x05, 0x02, 0x01, 0x01}, MICROTCP_EMALFORMED},
      {"sack_len7", {0x05, 0x07, 0, 0, 0, 0, 0, 0}, MICROTCP_EMALFORMED},
      {"unknown_skipped", {0x1e, 0x04, 0xaa, 0xbb}, 0},
      {"eol_ends", {0x00, 0x22, 0x00, 0x00}, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t optlen = (cases[i].opt[0] == 0x08 || cases[i].opt[0] == 0x05) && cases[i].expect ? 8 : 4;
    size_t n = tcp_with_options(buf, cases[i].opt, optlen);
    int r = wire_tcp_parse(buf, n, &p);
    if (r != cases[i].expect) fprintf(stderr, "option case %s: got %d\n", cases[i].name, r);
    CHECK_EQ(r, cases[i].expect);
  }
  /* SACK with 5 blocks (42 bytes) cannot fit 40 bytes of options: length runs past */
  uint8_t sack5[40] = {0x05, 42};
  CHECK_EQ(wire_tcp_parse(buf, tcp_with_options(buf, sack5, 40), &p), MICROTCP_EMALFORMED);
  /* data offset below 5 and beyond the segment */
  size_t n = tcp_with_options(buf, (const uint8_t *)"", 0);
  buf[12] = 4 << 4;
  CHECK_EQ(wire_tcp_parse(buf, n, &p), MICROTCP_EMALFORMED);
  buf[12] = 6 << 4;
  CHECK_EQ(wire_tcp_parse(buf, n, &p), MICROTCP_ETRUNCATED);
  for (size_t k = 0; k < 20; k++) CHECK_EQ(wire_tcp_parse(buf, k, &p), MICROTCP_ETRUNCATED);
}

/* Random bytes at every length: parsers either fail or return views inside the
 * buffer (run under ASan in the asan preset for the out-of-bounds half). */
static void parsers_never_point_outside_input(void) {
  static uint8_t buf[256];
  uint32_t x = 99;
  int outside = 0;
  for (int iter = 0; iter < 20000; iter++) {
    size_t len = (size_t)(iter % 97);
    for (size_t i = 0; i < len; i++) {
      x = x * 1664525u + 1013904223u;
      buf[i] = (uint8_t)(x >> 24);
    }
    if (len > 12 && iter % 3 == 0) buf[12] = (uint8_t)((iter % 16) << 4); /* plausible offsets */
    if (len > 0 && iter % 5 == 0) buf[0] = 0x45;
    wire_ipv4 ip;
    if (wire_ipv4_parse(buf, len, &ip) == 0)
      outside += ip.payload + ip.payload_len > buf + len || ip.payload < buf;
    wire_tcp t;
    if (wire_tcp_parse(buf, len, &t) == 0)
      outside += t.payload + t.payload_len > buf + len || t.payload < buf;
    wire_udp u;
    if (wire_udp_parse(buf, len, &u) == 0) outside += u.payload + u.payload_len > buf + len;
    wire_icmp ic;
    if (wire_icmp_parse(buf, len, &ic) == 0) {
      wire_ipv4 q;
      if (wire_icmp_quoted(&ic, &q) == 0) outside += q.payload + q.payload_len > buf + len;
    }
  }
  CHECK_EQ(outside, 0);
}

int main(void) {
  RUN(checksum_matches_reference_at_every_length_and_alignment);
  RUN(checksum_incremental_update_equals_recompute);
  RUN(siphash_reference_vectors);
  RUN(eth_round_trip_and_truncation);
  RUN(arp_round_trip_and_malformed);
  RUN(ipv4_round_trip_padding_and_checksum);
  RUN(ipv4_malformed_cases);
  RUN(icmp_round_trip_and_quoted);
  RUN(udp_round_trip_and_lengths);
  RUN(tcp_round_trip_syn_and_data);
  RUN(tcp_option_walk_malformed_cases);
  RUN(parsers_never_point_outside_input);
  return check_report();
}
