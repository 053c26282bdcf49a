/*
 * TCP header and options parse/emit (core/src/wire_tcp.c): round trips of
 * every option combination, the exact Linux option layouts (so packetdrill
 * scripts and captures of Linux peers match byte for byte), one named test per
 * malformed case of the option walk and the data offset, every truncation,
 * checksums, and short-cap emits that write nothing.
 */
#include "check.h"
#include "internal.h"

#define CANARY 0xa5
#define SRC 0x0a000001u
#define DST 0x0a000002u

static bool opts_equal(const wire_tcp_opts *a, const wire_tcp_opts *b) {
  if (a->has_mss != b->has_mss || a->has_ws != b->has_ws || a->sack_permitted != b->sack_permitted ||
      a->has_ts != b->has_ts || a->sack_count != b->sack_count)
    return false;
  if (a->has_mss && a->mss != b->mss) return false;
  if (a->has_ws && a->ws != b->ws) return false;
  if (a->has_ts && (a->ts_val != b->ts_val || a->ts_ecr != b->ts_ecr)) return false;
  for (size_t i = 0; i < a->sack_count; i++)
    if (a->sack[i].left != b->sack[i].left || a->sack[i].right != b->sack[i].right) return false;
  return true;
}

static wire_tcp_opts syn_opts(bool mss, bool sackok, bool ts, bool ws) {
  wire_tcp_opts o;
  memset(&o, 0, sizeof o);
  o.has_mss = mss;
  o.mss = 1460;
  o.sack_permitted = sackok;
  o.has_ts = ts;
  o.ts_val = 1;
  o.ts_ecr = 0;
  o.has_ws = ws;
  o.ws = 7;
  return o;
}

/* ---- exact layouts ------------------------------------------------------------ */

/* The whole SYN segment that scapy builds for 10.0.0.1:40000 -> 10.0.0.2:80,
 * seq 1, window 65535, options mss 1460, sackOK, TS 1/0, nop, wscale 7 — the
 * layout Linux sends. Byte for byte, checksum included. */
static void tcp_syn_matches_linux_layout_exactly(void) {
  static const uint8_t expect[40] = {
      0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02,
      0xff, 0xff, 0x97, 0x6b, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a,
      0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07};
  wire_tcp h;
  memset(&h, 0, sizeof h);
  h.src_port = 40000;
  h.dst_port = 80;
  h.seq = 1;
  h.flags = WIRE_TCP_SYN;
  h.window = 65535;
  h.opts = syn_opts(true, true, true, true);
  uint8_t buf[64];
  CHECK_EQ(wire_tcp_options_len(&h.opts), 20);
  CHECK_EQ(wire_tcp_emit(SRC, DST, &h, buf, sizeof buf), 40);
  CHECK(memcmp(buf, expect, 40) == 0);
}

static void expect_options(const wire_tcp_opts *o, const uint8_t *bytes, size_t n) {
  uint8_t buf[40];
  memset(buf, CANARY, sizeof buf);
  CHECK_EQ(wire_tcp_options_len(o), n);
  CHECK_EQ(wire_tcp_emit_options(o, buf, sizeof buf), (int)n);
  CHECK(memcmp(buf, bytes, n) == 0);
  if (n < sizeof buf) CHECK_EQ(buf[n], CANARY);
}

static void tcp_syn_without_ts_layout(void) {
  wire_tcp_opts o = syn_opts(true, true, false, true);
  const uint8_t all[12] = {2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7};
  expect_options(&o, all, sizeof all);
  o = syn_opts(true, false, false, false);
  const uint8_t mss_only[4] = {2, 4, 0x05, 0xb4};
  expect_options(&o, mss_only, sizeof mss_only);
  o = syn_opts(true, true, false, false);
  const uint8_t mss_sack[8] = {2, 4, 0x05, 0xb4, 1, 1, 4, 2};
  expect_options(&o, mss_sack, sizeof mss_sack);
  o = syn_opts(true, false, false, true);
  const uint8_t mss_ws[8] = {2, 4, 0x05, 0xb4, 1, 3, 3, 7};
  expect_options(&o, mss_ws, sizeof mss_ws);
  o = syn_opts(false, true, false, false);
  const uint8_t sack_only[4] = {1, 1, 4, 2};
  expect_options(&o, sack_only, sizeof sack_only);
}

static void tcp_syn_with_ts_layouts(void) {
  wire_tcp_opts o = syn_opts(true, false, true, true); /* no sackOK: nop nop TS */
  const uint8_t no_sack[20] = {2, 4, 0x05, 0xb4, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7};
  expect_options(&o, no_sack, sizeof no_sack);
  o = syn_opts(true, true, true, false);
  o.ts_val = 0x01020304;
  o.ts_ecr = 0xa0b0c0d0;
  const uint8_t no_ws[16] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0xa0, 0xb0, 0xc0, 0xd0};
  expect_options(&o, no_ws, sizeof no_ws);
}

static void tcp_non_syn_layouts(void) {
  wire_tcp_opts o;
  memset(&o, 0, sizeof o);
  const uint8_t none[1] = {0};
  expect_options(&o, none, 0);
  o.has_ts = true;
  o.ts_val = 0x11223344;
  o.ts_ecr = 0x55667788;
  const uint8_t ts[12] = {1, 1, 8, 10, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
  expect_options(&o, ts, sizeof ts);
  o.sack_count = 1;
  o.sack[0].left = 0x01000000;
  o.sack[0].right = 0x02000000;
  const uint8_t ts_sack[24] = {1, 1, 8, 10, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
                               1, 1, 5, 10, 1, 0, 0, 0, 2, 0, 0, 0};
  expect_options(&o, ts_sack, sizeof ts_sack);
  o.has_ts = false;
  const uint8_t sack[12] = {1, 1, 5, 10, 1, 0, 0, 0, 2, 0, 0, 0};
  expect_options(&o, sack, sizeof sack);
}

/* 40 option bytes hold TS + 3 SACK blocks or 4 blocks alone (RFC 2018 3). */
static void tcp_sack_blocks_clamped_to_option_space(void) {
  wire_tcp_opts o;
  memset(&o, 0, sizeof o);
  o.sack_count = 4;
  for (uint32_t i = 0; i < 4; i++) {
    o.sack[i].left = 1000 * i + 100;
    o.sack[i].right = 1000 * i + 200;
  }
  CHECK_EQ(wire_tcp_options_len(&o), 36);
  o.has_ts = true;
  CHECK_EQ(wire_tcp_options_len(&o), 40);
  uint8_t buf[40];
  CHECK_EQ(wire_tcp_emit_options(&o, buf, sizeof buf), 40);
  wire_tcp_opts p;
  CHECK_EQ(wire_tcp_parse_options(buf, 40, &p), MICROTCP_OK);
  CHECK_EQ(p.sack_count, 3);
  CHECK_EQ(p.sack[2].left, 2100);
  o.sack_count = 200; /* nonsense counts are clamped too */
  CHECK_EQ(wire_tcp_options_len(&o), 40);
  o.has_ts = false;
  CHECK_EQ(wire_tcp_options_len(&o), 36);
}

/* ---- round trips ------------------------------------------------------------------- */

/* Every combination of SYN options, and non-SYN TS x 0..4 SACK blocks:
 * options_len == emit length, a multiple of 4, <= 40, and parse gives back
 * exactly what was emitted. */
static void tcp_options_round_trip_every_combination(void) {
  int bad = 0;
  for (unsigned m = 0; m < 16; m++) {
    wire_tcp_opts o = syn_opts(m & 1, m & 2, m & 4, m & 8);
    o.mss = (uint16_t)(536 + m);
    o.ws = (uint8_t)m;
    o.ts_val = 0xdeadbeef + m;
    o.ts_ecr = m;
    uint8_t buf[40];
    size_t len = wire_tcp_options_len(&o);
    int rc = wire_tcp_emit_options(&o, buf, sizeof buf);
    wire_tcp_opts p;
    if (rc != (int)len || len % 4 || len > 40) bad++;
    else if (wire_tcp_parse_options(buf, len, &p) != MICROTCP_OK || !opts_equal(&o, &p)) bad++;
  }
  for (unsigned ts = 0; ts < 2; ts++)
    for (uint8_t n = 0; n <= (ts ? 3 : 4); n++) {
      wire_tcp_opts o;
      memset(&o, 0, sizeof o);
      o.has_ts = ts;
      o.ts_val = 77;
      o.ts_ecr = 88;
      o.sack_count = n;
      for (uint32_t i = 0; i < n; i++) {
        o.sack[i].left = 0xfffffff0u + i * 0x100;
        o.sack[i].right = i * 0x100 + 5;
      }
      uint8_t buf[40];
      size_t len = wire_tcp_options_len(&o);
      wire_tcp_opts p;
      if (wire_tcp_emit_options(&o, buf, sizeof buf) != (int)len || len % 4 || len > 40) bad++;
      else if (wire_tcp_parse_options(buf, len, &p) != MICROTCP_OK || !opts_equal(&o, &p)) bad++;
    }
  CHECK_EQ(bad, 0);
}

static void tcp_segment_round_trip(void) {
  uint8_t data[100];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 3);
  wire_tcp h;
  memset(&h, 0, sizeof h);
  h.src_port = 80;
  h.dst_port = 40000;
  h.seq = 0xfffffff0u;
  h.ack = 0x12345678u;
  h.flags = WIRE_TCP_ACK | WIRE_TCP_PSH | WIRE_TCP_FIN;
  h.window = 29200;
  h.urgent = 0;
  h.opts.has_ts = true;
  h.opts.ts_val = 1000;
  h.opts.ts_ecr = 2000;
  h.opts.sack_count = 2;
  h.opts.sack[0].left = 10;
  h.opts.sack[0].right = 20;
  h.opts.sack[1].left = 30;
  h.opts.sack[1].right = 40;
  h.payload = data;
  h.payload_len = sizeof data;
  uint8_t buf[256];
  int n = wire_tcp_emit(SRC, DST, &h, buf, sizeof buf);
  CHECK_EQ(n, 20 + 32 + 100);
  CHECK(wire_tcp_checksum_ok(SRC, DST, buf, (size_t)n));
  CHECK(!wire_tcp_checksum_ok(DST, SRC + 1, buf, (size_t)n));
  wire_tcp p;
  CHECK_EQ(wire_tcp_parse(buf, (size_t)n, &p), MICROTCP_OK);
  CHECK_EQ(p.src_port, 80);
  CHECK_EQ(p.dst_port, 40000);
  CHECK_EQ(p.seq, 0xfffffff0u);
  CHECK_EQ(p.ack, 0x12345678u);
  CHECK_EQ(p.data_off, 52);
  CHECK_EQ(p.flags, WIRE_TCP_ACK | WIRE_TCP_PSH | WIRE_TCP_FIN);
  CHECK_EQ(p.window, 29200);
  CHECK_EQ(p.checksum, wire_get16(buf + 16));
  CHECK(opts_equal(&p.opts, &h.opts));
  CHECK(p.payload == buf + 52);
  CHECK_EQ(p.payload_len, 100);
  CHECK(memcmp(p.payload, data, 100) == 0);
  /* a flipped payload bit breaks the checksum */
  buf[100] ^= 4;
  CHECK(!wire_tcp_checksum_ok(SRC, DST, buf, (size_t)n));

  /* bare RST: no options, no payload, payload pointer may be NULL */
  memset(&h, 0, sizeof h);
  h.flags = WIRE_TCP_RST;
  h.urgent = 0xabcd;
  CHECK_EQ(wire_tcp_emit(SRC, DST, &h, buf, 20), 20);
  CHECK_EQ(wire_tcp_parse(buf, 20, &p), MICROTCP_OK);
  CHECK_EQ(p.flags, WIRE_TCP_RST);
  CHECK_EQ(p.urgent, 0xabcd);
  CHECK_EQ(p.payload_len, 0);
  CHECK(!p.opts.has_ts && !p.opts.has_mss && p.opts.sack_count == 0);
}

/* The payload may already sit where it belongs in the output buffer. */
static void tcp_emit_in_place(void) {
  uint8_t buf[12 + 20 + 64];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)i;
  wire_tcp h;
  memset(&h, 0, sizeof h);
  h.flags = WIRE_TCP_ACK;
  h.opts.has_ts = true;
  h.payload = buf + 32;
  h.payload_len = 64;
  CHECK_EQ(wire_tcp_emit(SRC, DST, &h, buf, sizeof buf), 96);
  CHECK_EQ(buf[32], 32);
  CHECK_EQ(buf[95], 95);
  CHECK(wire_tcp_checksum_ok(SRC, DST, buf, 96));
}

static void tcp_emit_short_cap_writes_nothing(void) {
  uint8_t data[8] = {0};
  wire_tcp h;
  memset(&h, 0, sizeof h);
  h.flags = WIRE_TCP_SYN;
  h.opts = syn_opts(true, true, true, true);
  h.payload = data;
  h.payload_len = sizeof data;
  uint8_t buf[48];
  for (size_t cap = 0; cap < 48; cap++) {
    memset(buf, CANARY, sizeof buf);
    CHECK_EQ(wire_tcp_emit(SRC, DST, &h, buf, cap), MICROTCP_ENOSPC);
    int touched = 0;
    for (size_t i = 0; i < sizeof buf; i++) touched += buf[i] != CANARY;
    CHECK_EQ(touched, 0);
  }
  for (size_t cap = 0; cap < 20; cap++) {
    memset(buf, CANARY, sizeof buf);
    CHECK_EQ(wire_tcp_emit_options(&h.opts, buf, cap), MICROTCP_ENOSPC);
    int touched = 0;
    for (size_t i = 0; i < sizeof buf; i++) touched += buf[i] != CANARY;
    CHECK_EQ(touched, 0);
  }
}

/* ---- parse: header --------------------------------------------------------------- */

static size_t plain_segment(uint8_t *buf, size_t payload) {
  wire_tcp h;
  memset(&h, 0, sizeof h);
  h.flags = WIRE_TCP_ACK;
  h.opts.has_ts = true;
  uint8_t data[64] = {0};
  h.payload = data;
  h.payload_len = payload;
  return (size_t)wire_tcp_emit(SRC, DST, &h, buf, 128);
}

static void tcp_truncated_at_every_length_below_20(void) {
  uint8_t buf[128];
  plain_segment(buf, 0);
  buf[12] = 0x50;
  wire_tcp p;
  for (size_t n = 0; n < 20; n++) CHECK_EQ(wire_tcp_parse(buf, n, &p), MICROTCP_ETRUNCATED);
  CHECK_EQ(wire_tcp_parse(NULL, 0, &p), MICROTCP_ETRUNCATED);
  CHECK_EQ(wire_tcp_parse(buf, 20, &p), MICROTCP_OK);
}

static void tcp_data_offset_below_5(void) {
  uint8_t buf[128];
  size_t n = plain_segment(buf, 10);
  wire_tcp p;
  for (uint8_t off = 0; off < 5; off++) {
    buf[12] = (uint8_t)(off << 4);
    CHECK_EQ(wire_tcp_parse(buf, n, &p), MICROTCP_EMALFORMED);
  }
}

/* Data offset says more header than the segment holds. */
static void tcp_data_offset_beyond_segment(void) {
  uint8_t buf[128];
  size_t n = plain_segment(buf, 0); /* 32-byte header, no payload */
  wire_tcp p;
  CHECK_EQ(n, 32);
  for (size_t len = 20; len < 32; len++) CHECK_EQ(wire_tcp_parse(buf, len, &p), MICROTCP_ETRUNCATED);
  buf[12] = 0xf0; /* 60 bytes */
  CHECK_EQ(wire_tcp_parse(buf, 59, &p), MICROTCP_ETRUNCATED);
  buf[12] = 0x80; /* 32 bytes: exactly the segment, no payload */
  CHECK_EQ(wire_tcp_parse(buf, 32, &p), MICROTCP_OK);
  CHECK_EQ(p.payload_len, 0);
}

/* ---- parse: option walk --------------------------------------------------------- */

static int parse_opts(const uint8_t *o, size_t n, wire_tcp_opts *out) {
  int rc = wire_tcp_parse_options(o, n, out);
  /* the same bytes inside a segment give the same verdict */
  uint8_t seg[80];
  memset(seg, 0, sizeof seg);
  if (n <= 40 && n % 4 == 0) {
    seg[12] = (uint8_t)(((20 + n) / 4) << 4);
    memcpy(seg + 20, o, n);
    wire_tcp p;
    CHECK_EQ(wire_tcp_parse(seg, 20 + n, &p), rc);
  }
  return rc;
}

static void tcp_option_len_0(void) {
  const uint8_t o[4] = {99, 0, 0, 0};
  wire_tcp_opts p;
  CHECK_EQ(parse_opts(o, 4, &p), MICROTCP_EMALFORMED);
  const uint8_t mss0[4] = {2, 0, 5, 0xb4};
  CHECK_EQ(parse_opts(mss0, 4, &p), MICROTCP_EMALFORMED);
}

static void tcp_option_len_1(void) {
  const uint8_t o[4] = {1, 99, 1, 0};
  wire_tcp_opts p;
  CHECK_EQ(parse_opts(o, 4, &p), MICROTCP_EMALFORMED);
}

static void tcp_option_running_past_end(void) {
  wire_tcp_opts p;
  const uint8_t o[4] = {99, 5, 0, 0};
  CHECK_EQ(parse_opts(o, 4, &p), MICROTCP_EMALFORMED);
  const uint8_t ts[8] = {1, 1, 8, 10, 0, 0, 0, 1}; /* TS cut by the header end */
  CHECK_EQ(parse_opts(ts, 8, &p), MICROTCP_EMALFORMED);
  const uint8_t sack[12] = {1, 1, 5, 18, 0, 0, 0, 1, 0, 0, 0, 2}; /* 2 blocks claimed, 1 present */
  CHECK_EQ(parse_opts(sack, 12, &p), MICROTCP_EMALFORMED);
}

/* The last byte is a kind that needs a length byte. */
static void tcp_option_length_byte_missing(void) {
  const uint8_t o[4] = {1, 1, 1, 2};
  wire_tcp_opts p;
  CHECK_EQ(parse_opts(o, 4, &p), MICROTCP_EMALFORMED);
  CHECK_EQ(parse_opts(o + 3, 1, &p), MICROTCP_EMALFORMED);
}

static void tcp_ts_option_wrong_length(void) {
  wire_tcp_opts p;
  uint8_t o[12] = {8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1};
  CHECK_EQ(parse_opts(o, 12, &p), MICROTCP_OK);
  CHECK(p.has_ts);
  o[1] = 9;
  CHECK_EQ(parse_opts(o, 12, &p), MICROTCP_EMALFORMED);
  o[1] = 11;
  CHECK_EQ(parse_opts(o, 12, &p), MICROTCP_EMALFORMED);
  o[1] = 2;
  CHECK_EQ(parse_opts(o, 12, &p), MICROTCP_EMALFORMED);
}

static void tcp_mss_option_wrong_length(void) {
  wire_tcp_opts p;
  uint8_t o[8] = {2, 4, 0x05, 0xb4, 1, 1, 1, 1};
  CHECK_EQ(parse_opts(o, 8, &p), MICROTCP_OK);
  CHECK(p.has_mss);
  CHECK_EQ(p.mss, 1460);
  o[1] = 3;
  CHECK_EQ(parse_opts(o, 8, &p), MICROTCP_EMALFORMED);
  o[1] = 5;
  CHECK_EQ(parse_opts(o, 8, &p), MICROTCP_EMALFORMED);
  o[1] = 2;
  CHECK_EQ(parse_opts(o, 8, &p), MICROTCP_EMALFORMED);
}

static void tcp_ws_option_wrong_length(void) {
  wire_tcp_opts p;
  uint8_t o[4] = {3, 3, 14, 1};
  CHECK_EQ(parse_opts(o, 4, &p), MICROTCP_OK);
  CHECK(p.has_ws);
  CHECK_EQ(p.ws, 14);
  o[1] = 2;
  CHECK_EQ(parse_opts(o, 4, &p), MICROTCP_EMALFORMED);
  o[1] = 4;
  CHECK_EQ(parse_opts(o, 4, &p), MICROTCP_EMALFORMED);
}

static void tcp_ws_raw_shift_not_clamped(void) {
  /* Clamping to 14 (RFC 7323 2.3) is the TCP module's job; the wire reports
   * what was received. */
  const uint8_t o[4] = {1, 3, 3, 200};
  wire_tcp_opts p;
  CHECK_EQ(parse_opts(o, 4, &p), MICROTCP_OK);
  CHECK_EQ(p.ws, 200);
}

static void tcp_sack_permitted_wrong_length(void) {
  wire_tcp_opts p;
  uint8_t o[4] = {4, 2, 1, 1};
  CHECK_EQ(parse_opts(o, 4, &p), MICROTCP_OK);
  CHECK(p.sack_permitted);
  o[1] = 3;
  CHECK_EQ(parse_opts(o, 4, &p), MICROTCP_EMALFORMED);
}

static void tcp_sack_block_count_0(void) {
  const uint8_t o[4] = {1, 1, 5, 2};
  wire_tcp_opts p;
  CHECK_EQ(parse_opts(o, 4, &p), MICROTCP_EMALFORMED);
}

/* Five blocks cannot fit in a TCP header (42 > 40 bytes) but the option
 * parser is also callable on its own: it must still refuse. */
static void tcp_sack_block_count_5(void) {
  uint8_t o[42];
  memset(o, 0, sizeof o);
  o[0] = 5;
  o[1] = 42;
  wire_tcp_opts p;
  CHECK_EQ(parse_opts(o, 42, &p), MICROTCP_EMALFORMED);
  o[1] = 34; /* four blocks: fine */
  CHECK_EQ(parse_opts(o, 42, &p), MICROTCP_OK);
  CHECK_EQ(p.sack_count, 4);
}

static void tcp_sack_length_not_multiple_of_8(void) {
  uint8_t o[20];
  memset(o, 1, sizeof o);
  o[0] = 5;
  wire_tcp_opts p;
  for (uint8_t l = 3; l <= 20; l++) {
    if ((l - 2) % 8 == 0) continue;
    o[1] = l;
    CHECK_EQ(parse_opts(o, 20, &p), MICROTCP_EMALFORMED);
  }
}

static void tcp_unknown_option_skipped_by_length(void) {
  const uint8_t o[12] = {30, 6, 0xff, 0xff, 0xff, 0xff, 2, 4, 0x02, 0x18, 1, 0};
  wire_tcp_opts p;
  CHECK_EQ(parse_opts(o, 12, &p), MICROTCP_OK);
  CHECK(p.has_mss);
  CHECK_EQ(p.mss, 536);
  const uint8_t two[4] = {254, 2, 1, 1}; /* the shortest unknown option */
  CHECK_EQ(parse_opts(two, 4, &p), MICROTCP_OK);
}

/* Nothing after EOL is looked at, even bytes that would be malformed. */
static void tcp_eol_ends_walk(void) {
  const uint8_t o[8] = {3, 3, 5, 0, 8, 0, 0xff, 0xff};
  wire_tcp_opts p;
  CHECK_EQ(parse_opts(o, 8, &p), MICROTCP_OK);
  CHECK(p.has_ws);
  CHECK(!p.has_ts);
}

static void tcp_duplicate_option_last_wins(void) {
  const uint8_t o[8] = {2, 4, 0x05, 0xb4, 2, 4, 0x02, 0x18};
  wire_tcp_opts p;
  CHECK_EQ(parse_opts(o, 8, &p), MICROTCP_OK);
  CHECK_EQ(p.mss, 536);
}

/* Options left in the output struct from an earlier parse must not leak. */
static void tcp_parse_resets_options(void) {
  wire_tcp_opts p;
  memset(&p, 0xff, sizeof p);
  const uint8_t o[4] = {1, 1, 1, 1};
  CHECK_EQ(parse_opts(o, 4, &p), MICROTCP_OK);
  CHECK(!p.has_mss && !p.has_ws && !p.sack_permitted && !p.has_ts);
  CHECK_EQ(p.sack_count, 0);
}


/* emit_header (what the stack calls) writes exactly the header wire_tcp_emit
 * writes, with the checksum over a payload read where it lies; the full emit
 * does not copy a payload already in place. */
static void tcp_emit_header_matches_emit_with_payload_anywhere(void) {
  uint8_t data[37];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(0x30 + i);
  for (int syn = 0; syn < 2; syn++) {
    wire_tcp h;
    memset(&h, 0, sizeof h);
    h.src_port = 1234;
    h.dst_port = 80;
    h.seq = 0x01020304u;
    h.ack = 0xa0b0c0d0u;
    h.flags = syn ? WIRE_TCP_SYN : (WIRE_TCP_ACK | WIRE_TCP_PSH);
    h.window = 4321;
    h.opts = syn ? syn_opts(true, true, true, true) : (wire_tcp_opts){0};
    if (!syn) {
      h.opts.has_ts = true;
      h.opts.ts_val = 7;
      h.opts.sack_count = 2;
      h.opts.sack[0].left = 10, h.opts.sack[0].right = 20;
      h.opts.sack[1].left = 30, h.opts.sack[1].right = 40;
    }
    h.payload = data;
    h.payload_len = sizeof data;
    uint8_t full[100], hdr[100], inplace[100];
    int n = wire_tcp_emit(SRC, DST, &h, full, sizeof full);
    size_t hlen = wire_tcp_header_len(&h);
    CHECK_EQ(n, (int)(hlen + sizeof data));
    memset(hdr, CANARY, sizeof hdr);
    CHECK_EQ(wire_tcp_emit_header(SRC, DST, &h, hdr, hlen), (int)hlen);
    CHECK_EQ(hdr[hlen], CANARY); /* exactly the header */
    memcpy(hdr + hlen, data, sizeof data);
    CHECK(memcmp(full, hdr, (size_t)n) == 0);
    memcpy(inplace + hlen, data, sizeof data);
    wire_tcp h2 = h;
    h2.payload = inplace + hlen;
    CHECK_EQ(wire_tcp_emit(SRC, DST, &h2, inplace, sizeof inplace), n);
    CHECK(memcmp(full, inplace, (size_t)n) == 0);
    CHECK(wire_tcp_checksum_ok(SRC, DST, full, (size_t)n));
    for (size_t cap = 0; cap < hlen; cap++) {
      memset(hdr, CANARY, sizeof hdr);
      CHECK_EQ(wire_tcp_emit_header(SRC, DST, &h, hdr, cap), MICROTCP_ENOSPC);
      CHECK_EQ(hdr[0], CANARY);
    }
  }
}

int main(void) {
  RUN(tcp_syn_matches_linux_layout_exactly);
  RUN(tcp_syn_without_ts_layout);
  RUN(tcp_syn_with_ts_layouts);
  RUN(tcp_non_syn_layouts);
  RUN(tcp_sack_blocks_clamped_to_option_space);
  RUN(tcp_options_round_trip_every_combination);
  RUN(tcp_segment_round_trip);
  RUN(tcp_emit_in_place);
  RUN(tcp_emit_short_cap_writes_nothing);
  RUN(tcp_truncated_at_every_length_below_20);
  RUN(tcp_data_offset_below_5);
  RUN(tcp_data_offset_beyond_segment);
  RUN(tcp_option_len_0);
  RUN(tcp_option_len_1);
  RUN(tcp_option_running_past_end);
  RUN(tcp_option_length_byte_missing);
  RUN(tcp_ts_option_wrong_length);
  RUN(tcp_mss_option_wrong_length);
  RUN(tcp_ws_option_wrong_length);
  RUN(tcp_ws_raw_shift_not_clamped);
  RUN(tcp_sack_permitted_wrong_length);
  RUN(tcp_sack_block_count_0);
  RUN(tcp_sack_block_count_5);
  RUN(tcp_sack_length_not_multiple_of_8);
  RUN(tcp_unknown_option_skipped_by_length);
  RUN(tcp_eol_ends_walk);
  RUN(tcp_duplicate_option_last_wins);
  RUN(tcp_parse_resets_options);
  RUN(tcp_emit_header_matches_emit_with_payload_anywhere);
  return check_report();
}
