/*
 * Brute force against the wire contract: for random and mutated-valid byte
 * buffers, at EVERY truncation length, every parser is run on an exactly-sized
 * heap copy, so under AddressSanitizer any read past the given length aborts
 * (configure with -DMICROTCP_SANITIZE=ON, or
 * -DCMAKE_C_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all").
 * Without ASan the range checks below still run. On success, every pointer/length pair is checked to lie in
 * the input and is read in full. Emitters are run into exactly-sized heap
 * buffers (an overflow aborts under ASan) and one byte short (must return
 * MICROTCP_ENOSPC). The TCP option walk is also compared with an independent
 * reference walker on random option soups.
 */
#include <stdlib.h>

#include "check.h"
#include "../../sim/prng.h"
#include "internal.h"

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint32_t rnd(void) { return prng_xorshift64s(&rng); } /* xorshift64*, deterministic */
static uint32_t rnd_below(uint32_t n) { return rnd() % n; }

static volatile uint32_t sink;
static long range_errors;

/* Every byte of [p, p+n) must lie within [base, base+len); read them all. */
static void touch(const uint8_t *base, size_t len, const uint8_t *p, size_t n) {
  if (n == 0) return;
  if (p < base || p > base + len || n > (size_t)(base + len - p)) {
    range_errors++;
    return;
  }
  uint32_t s = 0;
  for (size_t i = 0; i < n; i++) s += p[i];
  sink += s;
}

/* Parse buf[0..n) with every parser; n bytes live in an exact heap block. */
static void parse_everything(const uint8_t *buf, size_t n) {
  wire_eth e;
  if (wire_eth_parse(buf, n, &e) == MICROTCP_OK) touch(buf, n, e.payload, e.payload_len);

  wire_arp a;
  (void)wire_arp_parse(buf, n, &a);

  wire_ipv4 ip;
  if (wire_ipv4_parse(buf, n, &ip) == MICROTCP_OK) {
    if (ip.ihl_bytes < 20 || ip.ihl_bytes > 60 || ip.total_len > n || ip.ihl_bytes > ip.total_len ||
        ip.payload_len != (size_t)ip.total_len - ip.ihl_bytes || ip.payload != buf + ip.ihl_bytes ||
        ip.frag_offset + ip.payload_len > 65535u)
      range_errors++;
    touch(buf, n, ip.payload, ip.payload_len);
    sink += wire_ipv4_checksum_ok(buf, ip.ihl_bytes);
  }
  (void)wire_ipv4_options_ok(buf, n);

  wire_icmp ic;
  if (wire_icmp_parse(buf, n, &ic) == MICROTCP_OK) {
    touch(buf, n, ic.payload, ic.payload_len);
    wire_ipv4 q;
    if (wire_icmp_quoted(&ic, &q) == MICROTCP_OK) {
      if (q.ihl_bytes < 20 || q.ihl_bytes > 60 || q.payload_len < 8) range_errors++;
      touch(buf, n, q.payload, q.payload_len);
      touch(buf, n, q.payload - q.ihl_bytes, q.ihl_bytes);
    }
  }

  wire_udp u;
  if (wire_udp_parse(buf, n, &u) == MICROTCP_OK) {
    if (u.length < 8 || u.length > n || u.payload_len != (size_t)u.length - 8) range_errors++;
    touch(buf, n, u.payload, u.payload_len);
    sink += wire_udp_checksum_ok(1, 2, buf, u.length);
  }

  wire_tcp t;
  if (wire_tcp_parse(buf, n, &t) == MICROTCP_OK) {
    if (t.data_off < 20 || t.data_off > 60 || t.data_off > n || t.opts.sack_count > WIRE_TCP_MAX_SACK ||
        t.payload != buf + t.data_off || t.payload_len != n - t.data_off)
      range_errors++;
    touch(buf, n, t.payload, t.payload_len);
    sink += wire_tcp_checksum_ok(1, 2, buf, n);
  }
  wire_tcp_opts o;
  if (wire_tcp_parse_options(buf, n, &o) == MICROTCP_OK && o.sack_count > WIRE_TCP_MAX_SACK) range_errors++;

  sink += wire_csum(buf, n);
}

/* Copy src[0..n) into a heap block of exactly n bytes and parse it. For n = 0
 * the pointer is one past a 1-byte block, so even reading "byte 0" aborts. */
static void parse_exact(const uint8_t *src, size_t n) {
  uint8_t *block = malloc(n ? n : 1);
  if (!block) abort();
  uint8_t *p = n ? block : block + 1;
  if (n) memcpy(p, src, n);
  parse_everything(p, n);
  free(block);
}

static void parse_every_truncation(const uint8_t *src, size_t len) {
  for (size_t n = 0; n <= len; n++) parse_exact(src, n);
}

/* A random byte biased towards the values parsers branch on. */
static uint8_t interesting_byte(void) {
  static const uint8_t vals[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 18, 26, 34, 42, 0x40, 0x45, 0x4f,
                                 0x50, 0xf0, 0x7f, 0x80, 0xfe, 0xff};
  return rnd_below(3) ? vals[rnd_below(sizeof vals)] : (uint8_t)rnd();
}

/* An option area soup built from TCP/IPv4 kinds and edge-case lengths. */
static void option_soup(uint8_t *p, size_t n) {
  static const uint8_t kinds[] = {0, 1, 1, 1, 2, 3, 4, 5, 7, 8, 99, 148};
  size_t i = 0;
  while (i < n) {
    p[i++] = kinds[rnd_below(sizeof kinds)];
    if (i < n && rnd_below(4)) p[i++] = interesting_byte();
  }
}

/* Valid packets of each kind, laid out the way the stack sees them. */
static size_t valid_packet(uint8_t *buf, int kind) {
  size_t optlen = 4 * rnd_below(11); /* 0..40 */
  memset(buf, 0, 200);
  switch (kind) {
  case 0: { /* IPv4 header with option soup + a payload */
    wire_ipv4 h;
    memset(&h, 0, sizeof h);
    size_t payload = rnd_below(40);
    h.total_len = (uint16_t)(20 + optlen + payload);
    h.ttl = 64;
    h.proto = (uint8_t)rnd();
    (void)wire_ipv4_emit(&h, buf, 20);
    buf[0] = (uint8_t)(0x40 | (20 + optlen) / 4);
    option_soup(buf + 20, optlen);
    return 20 + optlen + payload + rnd_below(8); /* sometimes with padding */
  }
  case 1: { /* TCP header with option soup */
    wire_tcp h;
    memset(&h, 0, sizeof h);
    h.flags = (uint8_t)rnd();
    (void)wire_tcp_emit(1, 2, &h, buf, 200);
    buf[12] = (uint8_t)(((20 + optlen) / 4) << 4);
    option_soup(buf + 20, optlen);
    return 20 + optlen + rnd_below(20);
  }
  case 2: { /* ICMP error quoting an IPv4 header (+ options) and 8+ bytes */
    buf[0] = WIRE_ICMP_DEST_UNREACH;
    uint8_t *q = buf + 8;
    q[0] = (uint8_t)(0x40 | (20 + optlen) / 4);
    wire_put16(q + 2, (uint16_t)(20 + optlen + 8 + rnd_below(100)));
    option_soup(q + 20, optlen);
    return 8 + 20 + optlen + 8 + rnd_below(16);
  }
  case 3: { /* UDP */
    size_t payload = rnd_below(30);
    wire_put16(buf + 4, (uint16_t)(8 + payload));
    return 8 + payload + rnd_below(4);
  }
  default: { /* ARP in an Ethernet frame */
    wire_eth eh = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, {2, 0, 0, 0, 0, 1}, WIRE_ETHERTYPE_ARP, NULL, 0};
    (void)wire_eth_emit(&eh, buf, 14);
    wire_arp ar = {WIRE_ARP_REQUEST, {2, 0, 0, 0, 0, 1}, 1, {0}, 2};
    (void)wire_arp_emit(&ar, buf + 14, 28);
    return 14 + 28 + rnd_below(18);
  }
  }
}

static void random_buffers_every_truncation_stay_in_bounds(void) {
  uint8_t buf[128];
  for (int iter = 0; iter < 1500; iter++) {
    size_t len = rnd_below(sizeof buf);
    for (size_t i = 0; i < len; i++) buf[i] = rnd_below(2) ? interesting_byte() : (uint8_t)rnd();
    if (len && rnd_below(2)) buf[0] = (uint8_t)(0x40 | rnd_below(16)); /* look like IPv4 */
    parse_every_truncation(buf, len);
  }
  CHECK_EQ(range_errors, 0);
}

static void mutated_valid_packets_every_truncation_stay_in_bounds(void) {
  uint8_t buf[200];
  long accepted = 0;
  for (int iter = 0; iter < 2500; iter++) {
    int kind = (int)rnd_below(5);
    size_t len = valid_packet(buf, kind);
    /* parses of the intact packet succeed often enough to reach the deep paths */
    if (kind == 3) {
      wire_udp u;
      accepted += wire_udp_parse(buf, len, &u) == MICROTCP_OK;
    }
    size_t muts = rnd_below(4);
    for (size_t m = 0; m < muts; m++) buf[rnd_below((uint32_t)len)] = interesting_byte();
    parse_every_truncation(buf, len);
    if (kind == 2) parse_every_truncation(buf + 8, len - 8); /* the quoted header as IPv4 */
  }
  CHECK(accepted > 100);
  CHECK_EQ(range_errors, 0);
}

/* ---- an independent TCP option walker as an oracle ---------------------------------
 * Same rules as wire.h, written differently: find each option's extent first,
 * then check it. Returns 0/-1 and fills the fields it recognises. */
static int ref_tcp_opts(const uint8_t *p, size_t n, wire_tcp_opts *o) {
  memset(o, 0, sizeof *o);
  for (size_t at = 0; at < n;) {
    size_t extent;
    if (p[at] == 0) return 0;
    if (p[at] == 1) extent = 1;
    else if (at + 1 >= n) return -1;
    else extent = p[at + 1];
    if (extent == 0 || (p[at] != 1 && extent < 2) || at + extent > n) return -1;
    const uint8_t *v = p + at + 2;
    switch (p[at]) {
    case 2:
      if (extent != 4) return -1;
      o->has_mss = true;
      o->mss = (uint16_t)(v[0] * 256 + v[1]);
      break;
    case 3:
      if (extent != 3) return -1;
      o->has_ws = true;
      o->ws = v[0];
      break;
    case 4:
      if (extent != 2) return -1;
      o->sack_permitted = true;
      break;
    case 8:
      if (extent != 10) return -1;
      o->has_ts = true;
      o->ts_val = wire_get32(v);
      o->ts_ecr = wire_get32(v + 4);
      break;
    case 5:
      if (extent != 10 && extent != 18 && extent != 26 && extent != 34) return -1;
      o->sack_count = (uint8_t)((extent - 2) / 8);
      for (size_t b = 0; b < o->sack_count; b++) {
        o->sack[b].left = wire_get32(v + 8 * b);
        o->sack[b].right = wire_get32(v + 8 * b + 4);
      }
      break;
    default: break;
    }
    at += extent;
  }
  return 0;
}

static bool same_opts(const wire_tcp_opts *a, const wire_tcp_opts *b) {
  if (a->has_mss != b->has_mss || a->has_ws != b->has_ws || a->sack_permitted != b->sack_permitted ||
      a->has_ts != b->has_ts || a->sack_count != b->sack_count)
    return false;
  if ((a->has_mss && a->mss != b->mss) || (a->has_ws && a->ws != b->ws)) return false;
  if (a->has_ts && (a->ts_val != b->ts_val || a->ts_ecr != b->ts_ecr)) return false;
  for (size_t i = 0; i < a->sack_count; i++)
    if (a->sack[i].left != b->sack[i].left || a->sack[i].right != b->sack[i].right) return false;
  return true;
}

static void tcp_option_walk_agrees_with_reference(void) {
  uint8_t soup[44];
  long disagree = 0, ok = 0, bad = 0;
  for (int iter = 0; iter < 200000; iter++) {
    size_t n = rnd_below(sizeof soup + 1);
    option_soup(soup, n);
    /* bias lengths to the right values so valid options are common */
    for (size_t i = 0; i + 1 < n; i++) {
      if (rnd_below(2)) continue;
      if (soup[i] == 2) soup[i + 1] = 4;
      if (soup[i] == 3) soup[i + 1] = 3;
      if (soup[i] == 4) soup[i + 1] = 2;
      if (soup[i] == 8) soup[i + 1] = 10;
      if (soup[i] == 5) soup[i + 1] = (uint8_t)(2 + 8 * rnd_below(6));
    }
    wire_tcp_opts got, want;
    int rc = wire_tcp_parse_options(soup, n, &got);
    int ref = ref_tcp_opts(soup, n, &want);
    if ((rc == 0) != (ref == 0) || (rc != 0 && rc != MICROTCP_EMALFORMED) || (rc == 0 && !same_opts(&got, &want)))
      disagree++;
    if (rc == 0) ok++;
    else bad++;
  }
  CHECK_EQ(disagree, 0);
  CHECK(ok > 10000 && bad > 10000); /* both verdicts were exercised */
}

/* ---- emitters into exactly-sized buffers --------------------------------------------- */

static void random_opts(wire_tcp_opts *o) {
  memset(o, 0, sizeof *o);
  o->has_mss = rnd_below(2);
  o->has_ws = rnd_below(2);
  o->sack_permitted = rnd_below(2);
  o->has_ts = rnd_below(2);
  o->mss = (uint16_t)rnd();
  o->ws = (uint8_t)rnd();
  o->ts_val = rnd();
  o->ts_ecr = rnd();
  o->sack_count = (uint8_t)(rnd_below(4) ? rnd_below(5) : rnd());
  for (int i = 0; i < WIRE_TCP_MAX_SACK; i++) {
    o->sack[i].left = rnd();
    o->sack[i].right = rnd();
  }
}

static long emit_errors;

/* emit(cap = exact) into a heap block of exactly that size must return it;
 * emit(cap = exact - 1) must return ENOSPC and leave the block untouched. */
#define EXACT_EMIT(need, call_with_buf_cap)                                   \
  do {                                                                        \
    size_t need_ = (need);                                                    \
    uint8_t *buf = malloc(need_ ? need_ : 1);                                 \
    size_t cap = need_;                                                       \
    if ((int)(call_with_buf_cap) != (int)need_) emit_errors++;                \
    if (need_) {                                                              \
      memset(buf, 0xa5, need_);                                               \
      cap = need_ - 1;                                                        \
      if ((call_with_buf_cap) != MICROTCP_ENOSPC) emit_errors++;              \
      for (size_t i_ = 0; i_ < need_; i_++) emit_errors += buf[i_] != 0xa5;   \
    }                                                                         \
    free(buf);                                                                \
  } while (0)

static void emitters_write_exactly_their_length(void) {
  uint8_t payload[300];
  for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)rnd();
  for (int iter = 0; iter < 3000; iter++) {
    size_t plen = rnd_below(sizeof payload);
    wire_tcp t;
    memset(&t, 0, sizeof t);
    random_opts(&t.opts);
    t.payload = payload;
    t.payload_len = plen;
    size_t olen = wire_tcp_options_len(&t.opts);
    if (olen > 40 || olen % 4) emit_errors++;
    EXACT_EMIT(olen, wire_tcp_emit_options(&t.opts, buf, cap));
    EXACT_EMIT(20 + olen + plen, wire_tcp_emit(1, 2, &t, buf, cap));

    wire_udp u = {1, 2, 0, 0, payload, plen};
    EXACT_EMIT(8 + plen, wire_udp_emit(1, 2, &u, buf, cap));
    wire_icmp ic = {8, 0, 0, rnd(), payload, plen};
    EXACT_EMIT(8 + plen, wire_icmp_emit(&ic, buf, cap));
    wire_ipv4 ip;
    memset(&ip, 0, sizeof ip);
    ip.total_len = (uint16_t)rnd();
    EXACT_EMIT(20, wire_ipv4_emit(&ip, buf, cap));
    wire_arp ar;
    memset(&ar, 0, sizeof ar);
    EXACT_EMIT(28, wire_arp_emit(&ar, buf, cap));
    wire_eth et;
    memset(&et, 0, sizeof et);
    EXACT_EMIT(14, wire_eth_emit(&et, buf, cap));
  }
  CHECK_EQ(emit_errors, 0);
}

/* Whatever the TCP emitter writes, the parser reads back. */
static void tcp_emit_then_parse_random(void) {
  uint8_t buf[400], payload[300];
  long bad = 0;
  for (int iter = 0; iter < 20000; iter++) {
    wire_tcp t;
    memset(&t, 0, sizeof t);
    random_opts(&t.opts);
    t.src_port = (uint16_t)rnd();
    t.seq = rnd();
    t.flags = (uint8_t)rnd();
    t.payload = payload;
    t.payload_len = rnd_below(sizeof payload);
    int n = wire_tcp_emit(1, 2, &t, buf, sizeof buf);
    wire_tcp p;
    if (n < 0 || wire_tcp_parse(buf, (size_t)n, &p) != MICROTCP_OK || !wire_tcp_checksum_ok(1, 2, buf, (size_t)n) ||
        p.seq != t.seq || p.flags != t.flags || p.payload_len != t.payload_len)
      bad++;
    else if (p.opts.has_ts != t.opts.has_ts || (t.opts.has_ts && p.opts.ts_val != t.opts.ts_val))
      bad++;
  }
  CHECK_EQ(bad, 0);
}

int main(void) {
  RUN(random_buffers_every_truncation_stay_in_bounds);
  RUN(mutated_valid_packets_every_truncation_stay_in_bounds);
  RUN(tcp_option_walk_agrees_with_reference);
  RUN(emitters_write_exactly_their_length);
  RUN(tcp_emit_then_parse_random);
  return check_report();
}
