/*
 * IPv4 (ipv4.c) driven with crafted frames into one instance: routing and
 * broadcasts, header checks, martians, reassembly (orders, duplicates,
 * overlap, holes, timeout, the shared memory cap, interleaved datagrams),
 * protocol unreachable, fragmentation on output and IP IDs.
 */
#include "netcraft.h"
#include "../../sim/prng.h"

#define OFFLINK 0x08080808u

static microtcp_config reasm_config(uint32_t bytes, uint16_t slots) {
  microtcp_config cfg;
  host_config(&cfg);
  cfg.reasm_bytes = bytes;
  cfg.reasm_slots = slots;
  cfg.reasm_timeout_us = 1000000;
  cfg.udp_rcvq = 70000;
  return cfg;
}

/* Output frame destination (Ethernet) and, for ARP, the target IP. */
static void expect_arp_request_for(struct host *h, uint32_t ip) {
  uint8_t f[9100];
  wire_eth eth;
  wire_arp a;
  int n = pop(h, f);
  CHECK(parse_arp_frame(f, (size_t)n, &eth, &a));
  CHECK_EQ(a.op, WIRE_ARP_REQUEST);
  CHECK_EQ(a.tpa, ip);
}

static void routes_on_link_via_gateway_or_not_at_all(void) {
  struct host h;
  microtcp_config cfg;
  host_config(&cfg);
  cfg.gateway = GW;
  host_init(&h, &cfg);
  int u = microtcp_udp_bind(h.st, 0, 5000);
  CHECK_EQ(microtcp_udp_sendto(h.st, 0, u, PEER, 7, "x", 1), 1);
  expect_arp_request_for(&h, PEER); /* on-link: resolve the destination */
  CHECK_EQ(microtcp_udp_sendto(h.st, 0, u, OFFLINK, 7, "x", 1), 1);
  expect_arp_request_for(&h, GW); /* off-link: resolve the gateway */
  host_free(&h);

  host_default(&h); /* no gateway */
  u = microtcp_udp_bind(h.st, 0, 5000);
  CHECK_EQ(microtcp_udp_sendto(h.st, 0, u, OFFLINK, 7, "x", 1), MICROTCP_ENETUNREACH);
  CHECK_EQ(microtcp_udp_sendto(h.st, 0, u, ME, 7, "x", 1), MICROTCP_ENETUNREACH); /* no loopback */
  CHECK_EQ(microtcp_udp_sendto(h.st, 0, u, 0xe0000001u, 7, "x", 1), MICROTCP_ENETUNREACH);
  CHECK_EQ(ctr(&h)->drop_no_route, 3);
  CHECK_EQ(drain(&h), 0);
  /* limited and directed broadcast: Ethernet broadcast, no ARP */
  const uint32_t bcasts[2] = {0xffffffffu, 0x0a0000ffu};
  for (int i = 0; i < 2; i++) {
    CHECK_EQ(microtcp_udp_sendto(h.st, 0, u, bcasts[i], 7, "b", 1), 1);
    uint8_t f[9100];
    wire_eth eth;
    wire_ipv4 ip;
    CHECK(parse_ip_frame(f, (size_t)pop(&h, f), &eth, &ip));
    CHECK(memcmp(eth.dst, BCAST_MAC, 6) == 0);
    CHECK_EQ(ip.dst, bcasts[i]);
  }
  CHECK_EQ(ctr(&h)->arp_requests_out, 0);
  host_free(&h);
}

static void output_uses_configured_ttl_and_our_source(void) {
  struct host h;
  microtcp_config cfg;
  host_config(&cfg);
  cfg.ttl = 77;
  host_init(&h, &cfg);
  learn_peer(&h);
  int u = microtcp_udp_bind(h.st, 0, 5000);
  CHECK_EQ(microtcp_udp_sendto(h.st, 0, u, PEER, 7, "x", 1), 1);
  uint8_t f[9100];
  wire_eth eth;
  wire_ipv4 ip;
  CHECK(parse_ip_frame(f, (size_t)pop(&h, f), &eth, &ip));
  CHECK_EQ(ip.ttl, 77);
  CHECK_EQ(ip.src, ME);
  CHECK_EQ(ip.proto, WIRE_IP_PROTO_UDP);
  CHECK(!ip.mf && ip.frag_offset == 0);
  host_free(&h);
}

static void bad_headers_and_checksums_are_dropped(void) {
  struct host h;
  host_default(&h);
  int u = microtcp_udp_bind(h.st, 0, 9);
  uint8_t dg[64];
  size_t n = craft_udp(dg, PEER, ME, 1000, 9, "hello", 5);
  struct ipspec s = ip_from_peer(WIRE_IP_PROTO_UDP);
  uint8_t f[200];
  size_t len = craft_ip(f, &s, dg, n);
  f[14 + 8] ^= 1; /* TTL changed, checksum not updated */
  microtcp_input(h.st, 0, f, len);
  CHECK_EQ(ctr(&h)->drop_ip_checksum, 1);
  len = craft_ip(f, &s, dg, n);
  microtcp_input(h.st, 0, f, 14 + 19); /* truncated header */
  microtcp_input(h.st, 0, f, len - 1); /* total_len claims more than arrived */
  CHECK_EQ(ctr(&h)->drop_ip_malformed, 2);
  /* not for us */
  s.dst = 0x0a000063u;
  inject_ip(&h, &s, dg, n);
  CHECK_EQ(ctr(&h)->drop_ip_not_for_us, 1);
  CHECK_EQ(microtcp_udp_recvfrom(h.st, 0, u, f, sizeof f, NULL), MICROTCP_EAGAIN);
  /* an intact copy is delivered */
  s.dst = ME;
  inject_ip(&h, &s, dg, n);
  CHECK_EQ(microtcp_udp_recvfrom(h.st, 0, u, f, sizeof f, NULL), 5);
  host_free(&h);
}

static void martian_sources_are_dropped(void) {
  struct host h;
  host_default(&h);
  int u = microtcp_udp_bind(h.st, 0, 67);
  uint8_t dg[64];
  const uint32_t martians[] = {0,           0x00000005u, 0x7f000001u, 0xe0000001u,
                               0xf0000001u, 0xffffffffu, ME,          0x0a0000ffu};
  size_t nm = sizeof martians / sizeof martians[0];
  for (size_t i = 0; i < nm; i++) {
    struct ipspec s = ip_from_peer(WIRE_IP_PROTO_UDP);
    s.src = martians[i];
    size_t n = craft_udp(dg, s.src, ME, 68, 67, "m", 1);
    inject_ip(&h, &s, dg, n);
  }
  CHECK_EQ(ctr(&h)->drop_ip_martian, nm);
  CHECK_EQ(microtcp_udp_recvfrom(h.st, 0, u, dg, sizeof dg, NULL), MICROTCP_EAGAIN);
  CHECK_EQ(drain(&h), 0); /* never answered (no ICMP either) */
  /* the one exception: 0.0.0.0 → 255.255.255.255 UDP, a host being configured (DHCP) */
  struct ipspec s = ip_from_peer(WIRE_IP_PROTO_UDP);
  s.src = 0;
  s.dst = 0xffffffffu;
  size_t n = craft_udp(dg, 0, 0xffffffffu, 68, 67, "dhcp", 4);
  inject_ip(&h, &s, dg, n);
  microtcp_endpoint from;
  CHECK_EQ(microtcp_udp_recvfrom(h.st, 0, u, dg, sizeof dg, &from), 4);
  CHECK_EQ(from.ip, 0);
  /* ... but not for another protocol */
  s.proto = WIRE_IP_PROTO_ICMP;
  inject_ip(&h, &s, dg, n);
  CHECK_EQ(ctr(&h)->drop_ip_martian, nm + 1);
  host_free(&h);
}

/* Send bytes [off, off + len) of the IP payload pl as a fragment of datagram id. */
static void frag(struct host *h, uint16_t id, const uint8_t *pl, size_t total, size_t off,
                 size_t len) {
  struct ipspec s = ip_from_peer(WIRE_IP_PROTO_UDP);
  s.id = id;
  s.frag_off = (uint16_t)off;
  s.mf = off + len < total;
  inject_ip(h, &s, pl + off, len);
}

static uint8_t payload_src[70000];
static uint8_t dgram[70000];
static uint8_t rbuf[70000];

/* A UDP datagram to port 9 of `len` data bytes, pattern seeded by seed. */
static size_t make_dgram(uint8_t *out, size_t len, uint8_t seed) {
  for (size_t i = 0; i < len; i++) payload_src[i] = (uint8_t)(i * 7 + seed + (i >> 8));
  return craft_udp(out, PEER, ME, 1000, 9, payload_src, len);
}

static bool received_is(struct host *h, int u, size_t len, uint8_t seed) {
  int r = microtcp_udp_recvfrom(h->st, h->now, u, rbuf, sizeof rbuf, NULL);
  if (r != (int)len) return false;
  for (size_t i = 0; i < len; i++)
    if (rbuf[i] != (uint8_t)(i * 7 + seed + (i >> 8))) return false;
  return true;
}

static void reassembles_in_any_order_and_ignores_exact_duplicates(void) {
  struct host h;
  microtcp_config cfg = reasm_config(16384, 2);
  host_init(&h, &cfg);
  int u = microtcp_udp_bind(h.st, 0, 9);
  size_t t = make_dgram(dgram, 3992, 1); /* 4000 bytes of IP payload */
  /* in order */
  for (size_t off = 0; off < t; off += 1000) frag(&h, 1, dgram, t, off, MIN(1000, t - off));
  CHECK(received_is(&h, u, 3992, 1));
  /* reverse order */
  for (size_t k = 4; k-- > 0;) frag(&h, 2, dgram, t, k * 1000, MIN(1000, t - k * 1000));
  CHECK(received_is(&h, u, 3992, 1));
  /* middle first, with an exact duplicate */
  frag(&h, 3, dgram, t, 2000, 1000);
  frag(&h, 3, dgram, t, 2000, 1000);
  frag(&h, 3, dgram, t, 0, 1000);
  frag(&h, 3, dgram, t, 3000, t - 3000);
  frag(&h, 3, dgram, t, 0, 1000);
  CHECK_EQ(usage(&h).reasm_slots, 1);
  frag(&h, 3, dgram, t, 1000, 1000);
  CHECK(received_is(&h, u, 3992, 1));
  CHECK_EQ(ctr(&h)->ip_reassembled, 3);
  CHECK_EQ(ctr(&h)->drop_reasm_overlap, 0);
  microtcp_pool_usage pu = usage(&h);
  CHECK_EQ(pu.reasm_slots, 0);
  CHECK_EQ(pu.reasm_bytes, 0);
  host_free(&h);
}

static void overlapping_fragments_first_copy_wins_partial_overlap_drops(void) {
  struct host h;
  microtcp_config cfg = reasm_config(16384, 2);
  host_init(&h, &cfg);
  int u = microtcp_udp_bind(h.st, 0, 9);
  size_t t = make_dgram(dgram, 1992, 2);
  /* partial overlap */
  frag(&h, 1, dgram, t, 0, 1000);
  frag(&h, 1, dgram, t, 504, t - 504);
  CHECK_EQ(ctr(&h)->drop_reasm_overlap, 1);
  CHECK_EQ(usage(&h).reasm_slots, 0);
  CHECK_EQ(usage(&h).reasm_bytes, 0);
  /* same range, different bytes (a rewrite attempt): the first copy wins,
   * the conflict is counted, the datagram survives with the first bytes */
  frag(&h, 2, dgram, t, 0, 1000);
  uint8_t evil[2000];
  memcpy(evil, dgram, t);
  evil[10] ^= 0xff;
  frag(&h, 2, evil, t, 0, 1000);
  frag(&h, 2, evil, t, 8, 16); /* inside, differing too */
  CHECK_EQ(ctr(&h)->drop_reasm_overlap, 1);
  CHECK_EQ(ctr(&h)->ip_reasm_conflicts, 2);
  frag(&h, 2, dgram, t, 1000, t - 1000);
  CHECK(received_is(&h, u, 1992, 2));
  /* inconsistent last fragments (two different ends) */
  frag(&h, 3, dgram, t, 1000, t - 1000);
  frag(&h, 3, dgram, t - 8, 1000, t - 1008);
  CHECK_EQ(ctr(&h)->drop_reasm_overlap, 2);
  /* the rest of the dropped datagram, arriving later, delivers nothing */
  frag(&h, 1, dgram, t, 1000, t - 1000);
  CHECK_EQ(microtcp_udp_recvfrom(h.st, 0, u, rbuf, sizeof rbuf, NULL), MICROTCP_EAGAIN);
  CHECK_EQ(ctr(&h)->ip_reassembled, 1);
  /* a non-last fragment whose length is not a multiple of 8 is malformed */
  frag(&h, 4, dgram, t, 0, 1001);
  CHECK_EQ(ctr(&h)->drop_ip_malformed, 1);
  host_free(&h);
}

static void incomplete_datagrams_time_out_and_free_memory(void) {
  struct host h;
  microtcp_config cfg = reasm_config(16384, 2);
  host_init(&h, &cfg);
  size_t t = make_dgram(dgram, 1992, 3);
  h.now = 500;
  frag(&h, 1, dgram, t, 0, 1000);
  microtcp_pool_usage pu = usage(&h);
  CHECK_EQ(pu.reasm_slots, 1);
  CHECK_EQ(pu.reasm_bytes, 1024); /* whole 256-byte chunks */
  CHECK_EQ(microtcp_deadline(h.st), 1000500);
  advance_to(&h, 1000499);
  CHECK_EQ(usage(&h).reasm_slots, 1);
  advance_to(&h, 1000500);
  pu = usage(&h);
  CHECK_EQ(pu.reasm_slots, 0);
  CHECK_EQ(pu.reasm_bytes, 0);
  CHECK_EQ(ctr(&h)->drop_reasm_timeout, 1);
  CHECK_EQ(microtcp_deadline(h.st), UINT64_MAX);
  CHECK_EQ(drain(&h), 0);
  host_free(&h);
}

/* The pool is shared: one datagram may use (nearly) all of it; the total is
 * capped; slots are capped; a datagram larger than the pool is refused. */
static void memory_is_shared_and_capped(void) {
  struct host h;
  microtcp_config cfg = reasm_config(8192, 4); /* 32 chunks, 4 slots */
  host_init(&h, &cfg);
  int u = microtcp_udp_bind(h.st, 0, 9);
  size_t t = make_dgram(dgram, 7992, 4); /* 8000 bytes: more than 8192/4 */
  for (size_t off = 0; off < t; off += 1480) frag(&h, 1, dgram, t, off, MIN(1480, t - off));
  CHECK(received_is(&h, u, 7992, 4));
  /* two big datagrams at once do not fit: the one that runs out is dropped */
  frag(&h, 2, dgram, t, 0, 4440);
  frag(&h, 3, dgram, t, 0, 4440);
  CHECK_EQ(ctr(&h)->drop_reasm_nomem, 1);
  CHECK_EQ(usage(&h).reasm_slots, 1);
  CHECK(usage(&h).reasm_bytes <= 8192);
  frag(&h, 2, dgram, t, 4440, t - 4440); /* the survivor completes */
  CHECK(received_is(&h, u, 7992, 4));
  /* longer than the whole pool: refused without taking a slot */
  frag(&h, 4, dgram, 9000, 8192, 8);
  CHECK_EQ(ctr(&h)->drop_reasm_toolong, 1);
  /* more datagrams than slots: the oldest incomplete one is evicted */
  for (uint16_t id = 10; id < 15; id++) frag(&h, id, dgram, t, 0, 8);
  CHECK_EQ(ctr(&h)->drop_reasm_nomem, 2);
  CHECK_EQ(usage(&h).reasm_slots, 4);
  /* so single fragments cannot keep a whole datagram out until the timeout */
  size_t t2 = make_dgram(dgram, 2992, 6);
  for (size_t off = 0; off < t2; off += 1480) frag(&h, 20, dgram, t2, off, MIN(1480, t2 - off));
  CHECK(received_is(&h, u, 2992, 6));
  CHECK_EQ(ctr(&h)->drop_reasm_nomem, 3);
  CHECK_EQ(usage(&h).reasm_slots, 3);
  advance_to(&h, 2000000);
  CHECK_EQ(usage(&h).reasm_slots, 0);
  CHECK_EQ(usage(&h).reasm_bytes, 0);
  host_free(&h);
}

static void too_many_holes_drop_the_datagram(void) {
  struct host h;
  microtcp_config cfg = reasm_config(65536, 2);
  host_init(&h, &cfg);
  size_t t = make_dgram(dgram, 20000, 5);
  /* every other 8-byte block: each one a new range */
  for (size_t k = 0; k < REASM_MAX_RANGES; k++) frag(&h, 1, dgram, t, k * 16, 8);
  CHECK_EQ(ctr(&h)->drop_reasm_nomem, 0);
  frag(&h, 1, dgram, t, REASM_MAX_RANGES * 16, 8);
  CHECK_EQ(ctr(&h)->drop_reasm_nomem, 1);
  CHECK_EQ(usage(&h).reasm_slots, 0);
  CHECK_EQ(usage(&h).reasm_bytes, 0);
  host_free(&h);
}

/* Fragments of two datagrams interleaved: their pool chunks interleave too,
 * and completing one must not disturb the other's bytes. Then a 65000-byte
 * datagram (the IPv4 maximum region) through a 64 KiB pool. */
static void interleaved_and_maximum_size_datagrams(void) {
  struct host h;
  microtcp_config cfg = reasm_config(65536, 2);
  host_init(&h, &cfg);
  int u = microtcp_udp_bind(h.st, 0, 9);
  static uint8_t d1[8000], d2[8000];
  size_t t1 = make_dgram(d1, 5000, 6);
  size_t t2 = make_dgram(d2, 6000, 7);
  for (size_t off = 0; off < 6016; off += 200) {
    if (off < t2) frag(&h, 22, d2, t2, off, MIN(200, t2 - off));
    if (off + 200 < t1) frag(&h, 21, d1, t1, off + 200, MIN(200, t1 - off - 200));
  }
  CHECK_EQ(ctr(&h)->ip_reassembled, 1); /* d2 completed amid d1's chunks */
  CHECK(received_is(&h, u, 6000, 7));
  CHECK_EQ(usage(&h).reasm_slots, 1);
  frag(&h, 21, d1, t1, 0, 200);
  CHECK(received_is(&h, u, 5000, 6));
  size_t t = make_dgram(dgram, 65000, 8);
  for (size_t k = (t + 1479) / 1480; k-- > 0;) /* last fragment first */
    frag(&h, 23, dgram, t, k * 1480, MIN(1480, t - k * 1480));
  CHECK(received_is(&h, u, 65000, 8));
  CHECK_EQ(usage(&h).reasm_bytes, 0);
  host_free(&h);
}

/* RFC 791: a datagram is at most 65535 bytes, header included. Even with a
 * pool larger than that, a fragment ending past 65535 is malformed (the
 * parser), one ending past 65515 (65535 - a 20-byte header) is too long
 * (reassembly), and the largest legal datagram still reassembles. */
static void fragments_beyond_the_ipv4_maximum_are_refused(void) {
  struct host h;
  microtcp_config cfg = reasm_config(200000, 2);
  host_init(&h, &cfg);
  int u = microtcp_udp_bind(h.st, 0, 9);
  static uint8_t junk[1480];
  memset(junk, 0xa5, sizeof junk);
  struct ipspec s = ip_from_peer(WIRE_IP_PROTO_UDP);
  s.id = 1;
  s.frag_off = 65512 - 1480;
  s.mf = true;
  inject_ip(&h, &s, junk, 1480); /* ends at 65512: fine so far */
  CHECK_EQ(usage(&h).reasm_slots, 1);
  s.frag_off = 65528;
  inject_ip(&h, &s, junk, 8); /* ends at 65536 */
  CHECK_EQ(ctr(&h)->drop_ip_malformed, 1);
  s.frag_off = 65512;
  s.mf = false;
  inject_ip(&h, &s, junk, 8); /* ends at 65520: 20 + 65520 > 65535 */
  CHECK_EQ(ctr(&h)->drop_reasm_toolong, 1);
  CHECK_EQ(ctr(&h)->ip_reassembled, 0);
  /* the largest legal datagram (65515 bytes of IP payload) still reassembles */
  size_t t = make_dgram(dgram, 65515 - 8, 9);
  CHECK_EQ(t, 65515);
  for (size_t k = 0; k * 1480 < t; k++) frag(&h, 30, dgram, t, k * 1480, MIN(1480, t - k * 1480));
  CHECK(received_is(&h, u, 65507, 9));
  advance_to(&h, 5000000);
  CHECK_EQ(usage(&h).reasm_slots, 0);
  CHECK_EQ(usage(&h).reasm_bytes, 0);
  host_free(&h);
}

/* A small deterministic PRNG for the shuffled-fragments test (xorshift32). */
static uint32_t rnd(uint32_t *x) { return prng_xorshift32(x); }

/* Many rounds of three datagrams of random sizes cut into random 8-byte-
 * multiple fragments; each datagram's fragments go in order, reversed, or with
 * neighbours swapped (so its holes stay within REASM_MAX_RANGES), sometimes
 * twice, and the three sequences are merged at random, through a pool larger
 * than 64 KiB. Every datagram arrives once, byte for byte, whatever the
 * interleaving did to its pool chunks, and the pool empties. */
static void interleaved_fragments_of_several_datagrams_reassemble_exactly(void) {
  struct host h;
  /* room for three datagrams plus the stale slots that duplicates arriving
   * after completion open (they hold one fragment until the timeout) */
  microtcp_config cfg = reasm_config(4u * 32768u, 6);
  cfg.udp_rcvq = 3u * 70000u;
  host_init(&h, &cfg);
  int u = microtcp_udp_bind(h.st, 0, 9);
  static uint8_t dg[3][32768];
  struct piece { uint16_t off, len; };
  static struct piece seq[3][2 * 3800];
  uint32_t seed = 12345;
  for (int round = 0; round < 40; round++) {
    size_t len[3];
    int n[3], next[3] = {0, 0, 0};
    for (int d = 0; d < 3; d++) {
      size_t data = 1 + rnd(&seed) % 30000;
      for (size_t i = 0; i < data; i++) payload_src[i] = (uint8_t)(rnd(&seed) >> 7);
      payload_src[0] = (uint8_t)d; /* tells the datagrams apart on receipt */
      len[d] = craft_udp(dg[d], PEER, ME, 1000, 9, payload_src, data);
      n[d] = 0;
      for (size_t off = 0; off < len[d];) {
        size_t k = MIN(8 * (1 + rnd(&seed) % 185), len[d] - off); /* 8 .. 1480 */
        seq[d][n[d]++] = (struct piece){(uint16_t)off, (uint16_t)k};
        if (k < len[d] && rnd(&seed) % 8 == 0) { /* an exact duplicate (of a real fragment) */
          seq[d][n[d]] = seq[d][n[d] - 1];
          n[d]++;
        }
        off += k;
      }
      uint32_t order = rnd(&seed) % 3;
      for (int i = 0; order == 1 && i < n[d] / 2; i++) { /* reversed */
        struct piece t = seq[d][i];
        seq[d][i] = seq[d][n[d] - 1 - i];
        seq[d][n[d] - 1 - i] = t;
      }
      for (int i = 0; order == 2 && i + 1 < n[d]; i += 2) { /* neighbours swapped */
        struct piece t = seq[d][i];
        seq[d][i] = seq[d][i + 1];
        seq[d][i + 1] = t;
      }
    }
    for (;;) { /* merge the three sequences at random */
      int left = (next[0] < n[0]) + (next[1] < n[1]) + (next[2] < n[2]);
      if (left == 0) break;
      int pick = (int)(rnd(&seed) % (uint32_t)left), d = 0;
      for (;; d++)
        if (next[d] < n[d] && pick-- == 0) break;
      struct piece p = seq[d][next[d]++];
      frag(&h, (uint16_t)(100 + round * 3 + d), dg[d], len[d], p.off, p.len);
    }
    bool seen[3] = {false, false, false};
    for (int k = 0; k < 3; k++) {
      int r = microtcp_udp_recvfrom(h.st, 0, u, rbuf, sizeof rbuf, NULL);
      CHECK(r > 0);
      if (r <= 0) break;
      int d = rbuf[0] < 3 ? rbuf[0] : 0;
      CHECK(!seen[d]);
      seen[d] = true;
      CHECK_EQ((size_t)r, len[d] - 8);
      CHECK(memcmp(rbuf, dg[d] + 8, (size_t)r) == 0);
    }
    CHECK_EQ(microtcp_udp_recvfrom(h.st, 0, u, rbuf, sizeof rbuf, NULL), MICROTCP_EAGAIN);
    advance_to(&h, h.now + cfg.reasm_timeout_us); /* stale duplicates time out */
    CHECK_EQ(usage(&h).reasm_slots, 0);
    CHECK_EQ(usage(&h).reasm_bytes, 0);
  }
  CHECK_EQ(ctr(&h)->drop_reasm_overlap, 0);
  CHECK_EQ(ctr(&h)->drop_reasm_nomem, 0);
  host_free(&h);
}

static void unknown_protocol_gets_protocol_unreachable(void) {
  struct host h;
  host_default(&h);
  learn_peer(&h);
  struct ipspec s = ip_from_peer(99);
  const uint8_t body[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  inject_ip(&h, &s, body, sizeof body);
  CHECK_EQ(ctr(&h)->drop_ip_proto, 1);
  uint8_t f[9100];
  wire_eth eth;
  wire_ipv4 ip;
  wire_icmp m;
  CHECK(parse_ip_frame(f, (size_t)pop(&h, f), &eth, &ip));
  CHECK_EQ(ip.dst, PEER);
  CHECK_EQ(wire_icmp_parse(ip.payload, ip.payload_len, &m), 0);
  CHECK_EQ(m.type, WIRE_ICMP_DEST_UNREACH);
  CHECK_EQ(m.code, WIRE_ICMP_UNREACH_PROTO);
  CHECK_EQ(m.payload_len, 28); /* the IP header + 8 bytes */
  CHECK(memcmp(m.payload + 20, body, 8) == 0);
  CHECK_EQ(wire_csum(ip.payload, ip.payload_len), 0);
  /* to a broadcast address: dropped silently (RFC 1122 3.2.2) */
  s.dst = 0xffffffffu;
  inject_ip(&h, &s, body, sizeof body);
  CHECK_EQ(ctr(&h)->drop_ip_proto, 2);
  CHECK_EQ(drain(&h), 0);
  host_free(&h);
}

/* 5000 bytes of UDP at MTU 1500: 4 fragments of one ID, offsets multiples of
 * 8, MF on all but the last; they reassemble to what was sent. */
static void large_datagrams_are_fragmented_all_or_nothing(void) {
  struct host h;
  microtcp_config cfg;
  host_config(&cfg);
  cfg.frames = 6;
  host_init(&h, &cfg);
  learn_peer(&h);
  int u = microtcp_udp_bind(h.st, 0, 5000);
  static uint8_t data[5000];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 3);
  CHECK_EQ(microtcp_udp_sendto(h.st, 0, u, PEER, 7, data, sizeof data), 5000);
  uint8_t f[9100];
  static uint8_t whole[5008];
  uint16_t id = 0;
  size_t next = 0;
  int frags = 0;
  for (;;) {
    int n = pop(&h, f);
    if (n == 0) break;
    wire_eth eth;
    wire_ipv4 ip;
    CHECK(parse_ip_frame(f, (size_t)n, &eth, &ip));
    CHECK(ip.total_len <= 1500);
    CHECK_EQ(ip.frag_offset, next);
    CHECK_EQ(ip.frag_offset % 8, 0);
    CHECK(!ip.df);
    if (frags == 0) id = ip.id;
    CHECK_EQ(ip.id, id);
    memcpy(whole + next, ip.payload, ip.payload_len);
    next += ip.payload_len;
    frags++;
    CHECK_EQ(ip.mf, next < sizeof whole);
  }
  CHECK_EQ(frags, 4);
  CHECK_EQ(next, 5008);
  CHECK(memcmp(whole + 8, data, sizeof data) == 0);
  CHECK_EQ(ctr(&h)->ip_fragments_out, 4);
  /* 6 frames: 7 fragments cannot be reserved, so nothing is sent */
  static uint8_t big[9000];
  CHECK_EQ(microtcp_udp_sendto(h.st, 0, u, PEER, 7, big, sizeof big), MICROTCP_ENOMEM);
  CHECK_EQ(usage(&h).frames, 0);
  CHECK_EQ(drain(&h), 0);
  host_free(&h);
}

/* IDs come from a keyed hash: not a visible counter, and a different secret
 * gives different IDs for the same traffic. */
static void ip_ids_are_keyed_and_not_sequential(void) {
  uint16_t ids[2][8];
  for (int run = 0; run < 2; run++) {
    struct host h;
    microtcp_config cfg;
    host_config(&cfg);
    cfg.secret[0] = (uint8_t)run;
    host_init(&h, &cfg);
    learn_peer(&h);
    int u = microtcp_udp_bind(h.st, 0, 5000);
    for (int i = 0; i < 8; i++) {
      microtcp_udp_sendto(h.st, 0, u, PEER, 7, "i", 1);
      uint8_t f[9100];
      wire_eth eth;
      wire_ipv4 ip;
      CHECK(parse_ip_frame(f, (size_t)pop(&h, f), &eth, &ip));
      ids[run][i] = ip.id;
    }
    host_free(&h);
  }
  int sequential = 0, same = 0;
  for (int i = 1; i < 8; i++) sequential += ids[0][i] == (uint16_t)(ids[0][i - 1] + 1);
  for (int i = 0; i < 8; i++) same += ids[0][i] == ids[1][i];
  CHECK(sequential < 2);
  CHECK(same < 2);
}

int main(void) {
  RUN(routes_on_link_via_gateway_or_not_at_all);
  RUN(output_uses_configured_ttl_and_our_source);
  RUN(bad_headers_and_checksums_are_dropped);
  RUN(martian_sources_are_dropped);
  RUN(reassembles_in_any_order_and_ignores_exact_duplicates);
  RUN(overlapping_fragments_first_copy_wins_partial_overlap_drops);
  RUN(incomplete_datagrams_time_out_and_free_memory);
  RUN(memory_is_shared_and_capped);
  RUN(too_many_holes_drop_the_datagram);
  RUN(interleaved_and_maximum_size_datagrams);
  RUN(fragments_beyond_the_ipv4_maximum_are_refused);
  RUN(interleaved_fragments_of_several_datagrams_reassemble_exactly);
  RUN(unknown_protocol_gets_protocol_unreachable);
  RUN(large_datagrams_are_fragmented_all_or_nothing);
  RUN(ip_ids_are_keyed_and_not_sequential);
  return check_report();
}
