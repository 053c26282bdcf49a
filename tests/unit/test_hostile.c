/*
 * Hostile traffic in virtual time (issue 13): challenge-ACK side channel,
 * forged ICMP errors, ARP starvation, overlapping data that differs,
 * connection-slot exhaustion. One stack ("me", 10.0.0.2/24) fed crafted
 * frames; its output parsed.
 */
#include <stdio.h>

#include "check.h"
#include "internal.h"
#include "tcp_int.h"

#define ME_IP 0x0a000002u
#define ATK_MAC_LAST 0x66

struct seg {
  uint32_t src, dst;
  uint16_t sport, dport;
  uint32_t seq, ack;
  uint8_t flags;
  uint16_t window;
  const uint8_t *data;
  size_t len;
  bool win0; /* advertise a zero window (window 0 above means 65535) */
};

struct me {
  void *arena;
  microtcp_stack *st;
  uint64_t now;
};

static void me_config(microtcp_config *cfg) {
  microtcp_config_default(cfg);
  cfg->ip = ME_IP;
  cfg->netmask = 0xffffff00u;
  cfg->arp_gratuitous = false;
  cfg->frames = 64;
  cfg->max_tcp = 32;
  cfg->arp_entries = 255;
  for (int i = 0; i < 16; i++) cfg->secret[i] = (uint8_t)(i * 3 + 5);
}

/* static_arp: give every 10.0.0.x a static ARP entry (no resolution needed). */
static void me_init(struct me *m, const microtcp_config *cfg, bool static_arp) {
  memset(m, 0, sizeof *m);
  size_t n = microtcp_footprint(cfg);
  m->arena = aligned_alloc(16, (n + 15) & ~(size_t)15);
  m->st = microtcp_init(m->arena, n, cfg, 0, NULL);
  if (!m->st) {
    fprintf(stderr, "microtcp_init failed\n");
    exit(2);
  }
  uint8_t mac[6] = {2, 0, 0, 0, 0, ATK_MAC_LAST};
  if (static_arp)
    for (uint32_t host = 1; host < 255; host++)
      if (host != 2) microtcp_arp_add_static(m->st, 0x0a000000u | host, mac);
}

static void me_free(struct me *m) { free(m->arena); }

static inline const microtcp_counters *ctr(const struct me *m) { return microtcp_get_counters(m->st); }

static void put_eth_ip(struct me *m, uint8_t *frame, uint32_t src, uint32_t dst, uint8_t proto,
                       size_t l4len, uint16_t id, uint16_t frag_off, bool mf) {
  const microtcp_config *cfg = microtcp_get_config(m->st);
  wire_eth e;
  memcpy(e.dst, cfg->mac, 6);
  uint8_t peer[6] = {2, 0, 0, 0, 0, ATK_MAC_LAST};
  memcpy(e.src, peer, 6);
  e.ethertype = WIRE_ETHERTYPE_IPV4;
  wire_eth_emit(&e, frame, 14);
  wire_ipv4 ip;
  memset(&ip, 0, sizeof ip);
  ip.total_len = (uint16_t)(20 + l4len);
  ip.ttl = 64;
  ip.id = id;
  ip.frag_offset = frag_off;
  ip.mf = mf;
  ip.proto = proto;
  ip.src = src;
  ip.dst = dst;
  wire_ipv4_emit(&ip, frame + 14, 20);
}

static void send_seg(struct me *m, const struct seg *s) {
  static uint8_t frame[2000];
  wire_tcp t;
  memset(&t, 0, sizeof t);
  t.src_port = s->sport;
  t.dst_port = s->dport;
  t.seq = s->seq;
  t.ack = s->ack;
  t.flags = s->flags;
  t.window = s->win0 ? 0 : s->window ? s->window : 65535;
  if (s->flags & WIRE_TCP_SYN) {
    t.opts.has_mss = true;
    t.opts.mss = 1460;
  }
  t.payload = s->data;
  t.payload_len = s->len;
  int tl = wire_tcp_emit(s->src, s->dst ? s->dst : ME_IP, &t, frame + 34, sizeof frame - 34);
  put_eth_ip(m, frame, s->src, s->dst ? s->dst : ME_IP, WIRE_IP_PROTO_TCP, (size_t)tl, 1, 0, false);
  microtcp_input(m->st, m->now, frame, (size_t)(34 + tl));
}

/* What came out: counts of kinds, and the last TCP segment to a given port. */
struct out {
  int frames, arp_requests, arp_requests_watched, synacks, acks, rsts, echo_replies;
  uint32_t last_seq, last_ack; /* of the last TCP segment to watch_port */
  uint8_t last_flags;
  bool seen;
};

static void drain_out(struct me *m, uint16_t watch_port, uint32_t watch_ip, struct out *o) {
  uint8_t buf[2000];
  int n;
  while ((n = microtcp_output(m->st, m->now, buf, sizeof buf)) > 0) {
    if (!o) continue;
    o->frames++;
    wire_eth e;
    wire_ipv4 ip;
    wire_tcp t;
    wire_arp a;
    if (wire_eth_parse(buf, (size_t)n, &e)) continue;
    if (e.ethertype == WIRE_ETHERTYPE_ARP) {
      if (!wire_arp_parse(e.payload, e.payload_len, &a) && a.op == WIRE_ARP_REQUEST) {
        o->arp_requests++;
        if (watch_ip && a.tpa == watch_ip) o->arp_requests_watched++;
      }
      continue;
    }
    if (e.ethertype != WIRE_ETHERTYPE_IPV4) continue;
    if (wire_ipv4_parse(e.payload, e.payload_len, &ip)) continue;
    if (ip.proto == WIRE_IP_PROTO_ICMP) {
      if (ip.payload_len > 0 && ip.payload[0] == 0 && (!watch_ip || ip.dst == watch_ip))
        o->echo_replies++;
      continue;
    }
    if (ip.proto != WIRE_IP_PROTO_TCP || wire_tcp_parse(ip.payload, ip.payload_len, &t)) continue;
    bool watched = (!watch_port || t.dst_port == watch_port) && (!watch_ip || ip.dst == watch_ip);
    if (!watched) continue;
    if ((t.flags & (WIRE_TCP_SYN | WIRE_TCP_ACK)) == (WIRE_TCP_SYN | WIRE_TCP_ACK)) o->synacks++;
    else if (t.flags & WIRE_TCP_RST) o->rsts++;
    else if (t.flags & WIRE_TCP_ACK) o->acks++;
    o->last_seq = t.seq;
    o->last_ack = t.ack;
    o->last_flags = t.flags;
    o->seen = true;
  }
}

/* Passive open from src:sport to port 80 (listener l); returns the accepted
 * handle, *isn = our ISN. The peer's ISN is 1000. */
static int open_passive(struct me *m, int l, uint32_t src, uint16_t sport, uint32_t *isn) {
  struct seg s = {src, 0, sport, 80, 1000, 0, WIRE_TCP_SYN, 0, NULL, 0, false};
  send_seg(m, &s);
  struct out o = {0};
  drain_out(m, sport, src, &o);
  if (!o.synacks) return -1;
  *isn = o.last_seq;
  struct seg a = {src, 0, sport, 80, 1001, o.last_seq + 1, WIRE_TCP_ACK, 0, NULL, 0, false};
  send_seg(m, &a);
  drain_out(m, 0, 0, NULL);
  return microtcp_tcp_accept(m->st, m->now, l, NULL);
}

/* ---- 1. challenge ACKs --------------------------------------------------------------- */

/* An off-path attacker holds its own connection A and spoofs one in-window RST
 * at a guessed victim connection V; then it provokes challenge ACKs on A
 * (SYNs) and counts them. Returns that count. */
static int challenge_acks_seen_by_attacker(bool probe_victim) {
  microtcp_config cfg;
  me_config(&cfg);
  struct me m;
  me_init(&m, &cfg, true);
  int l = microtcp_tcp_listen(m.st, 0, 80, 8);
  uint32_t isn_v, isn_a;
  m.now = 2000000; /* inside one second: 2.0 .. 2.9 s */
  CHECK(open_passive(&m, l, 0x0a000005u, 5000, &isn_v) >= 0); /* victim */
  CHECK(open_passive(&m, l, 0x0a000009u, 6000, &isn_a) >= 0); /* attacker */
  if (probe_victim) {
    struct seg r = {0x0a000005u, 0, 5000, 80, 1001 + 100, 0, WIRE_TCP_RST, 0, NULL, 0, false};
    send_seg(&m, &r); /* in window, not exact: victim's connection sends a challenge ACK */
    drain_out(&m, 0, 0, NULL);
  }
  struct out o = {0};
  for (int i = 0; i < 2000; i++) {
    m.now += 100;
    struct seg syn = {0x0a000009u, 0, 6000, 80, 5000u + (uint32_t)i, 0, WIRE_TCP_SYN, 0, NULL, 0, false};
    send_seg(&m, &syn);
    drain_out(&m, 6000, 0x0a000009u, &o);
  }
  me_free(&m);
  return o.acks;
}

static void challenge_ack_count_does_not_reveal_other_connections(void) {
  int with = challenge_acks_seen_by_attacker(true);
  int without = challenge_acks_seen_by_attacker(false);
  CHECK_EQ(with, without);
  /* and one connection gets at most one per 500 ms */
  CHECK(with <= 1);
}

/* The global budget is drawn per second from [n/2, 3n/2): not a constant. */
static void challenge_ack_global_budget_is_randomised_per_second(void) {
  microtcp_config cfg;
  me_config(&cfg);
  cfg.tcp_challenge_ack_per_s = 8;
  cfg.tcp_challenge_ack_interval_us = 0; /* only the global limit */
  struct me m;
  me_init(&m, &cfg, true);
  int l = microtcp_tcp_listen(m.st, 0, 80, 8);
  uint32_t isn;
  CHECK(open_passive(&m, l, 0x0a000009u, 6000, &isn) >= 0);
  int counts[12], distinct = 0;
  for (int sec = 0; sec < 12; sec++) {
    struct out o = {0};
    m.now = (uint64_t)(sec + 1) * 1000000u;
    for (int i = 0; i < 50; i++) {
      m.now += 1000;
      struct seg syn = {0x0a000009u, 0, 6000, 80, 9000u + (uint32_t)i, 0, WIRE_TCP_SYN, 0, NULL, 0, false};
      send_seg(&m, &syn);
      drain_out(&m, 6000, 0, &o);
    }
    counts[sec] = o.acks;
    CHECK(o.acks >= 4 && o.acks < 12);
    int seen = 0;
    for (int j = 0; j < sec; j++) seen |= counts[j] == counts[sec];
    distinct += !seen;
  }
  CHECK(distinct >= 3);
  me_free(&m);
}

/* ---- 4. ARP starvation ---------------------------------------------------------------- */

static void send_arp_reply(struct me *m, uint32_t ip, uint8_t mac_last) {
  uint8_t f[60] = {0};
  const microtcp_config *cfg = microtcp_get_config(m->st);
  uint8_t mac[6] = {2, 0, 0, 0, 1, mac_last};
  wire_eth e;
  memcpy(e.dst, cfg->mac, 6);
  memcpy(e.src, mac, 6);
  e.ethertype = WIRE_ETHERTYPE_ARP;
  wire_eth_emit(&e, f, 14);
  wire_arp a;
  a.op = WIRE_ARP_REPLY;
  memcpy(a.sha, mac, 6);
  a.spa = ip;
  memcpy(a.tha, cfg->mac, 6);
  a.tpa = cfg->ip;
  wire_arp_emit(&a, f + 14, 28);
  microtcp_input(m->st, m->now, f, sizeof f);
}

static void send_ping(struct me *m, uint32_t src, uint16_t seq) {
  uint8_t f[128], icmp[64];
  wire_icmp c;
  memset(&c, 0, sizeof c);
  c.type = WIRE_ICMP_ECHO_REQUEST;
  c.rest = (7u << 16) | seq;
  c.payload = (const uint8_t *)"abcdefgh";
  c.payload_len = 8;
  int n = wire_icmp_emit(&c, icmp, sizeof icmp);
  put_eth_ip(m, f, src, ME_IP, WIRE_IP_PROTO_ICMP, (size_t)n, seq, 0, false);
  memcpy(f + 34, icmp, (size_t)n);
  microtcp_input(m->st, m->now, f, (size_t)(34 + n));
}

/* A flood of SYNs and pings from on-link sources that never answer ARP (one
 * frame per ms from 150 addresses, 3 s). Half-way through, a legitimate host
 * (unknown to the stack) connects and pings; it answers ARP within 1 ms.
 * Returns the µs from its SYN to our SYN-ACK (UINT64_MAX: never) and from its
 * ping to the reply. */
static void arp_flood_run(uint64_t *synack_after, uint64_t *echo_after, uint64_t *arp_out) {
  microtcp_config cfg;
  me_config(&cfg);
  cfg.arp_entries = 64; /* 32 incomplete at most, each safe for 8 ms: 4,000 new
                         * resolutions per second, above the flood's 1,000 */
  cfg.arp_pending = 16;
  cfg.max_tcp = 64;
  struct me m;
  me_init(&m, &cfg, false);
  int l = microtcp_tcp_listen(m.st, 0, 80, 32);
  CHECK(l >= 0);
  const uint32_t legit = 0x0a000005u;
  uint64_t syn_at = 0, ping_at = 0, arp_asked_at = 0;
  *synack_after = *echo_after = UINT64_MAX;
  for (uint32_t ms = 1; ms <= 3000; ms++) {
    m.now = (uint64_t)ms * 1000u;
    microtcp_advance(m.st, m.now);
    uint32_t src = 0x0a000000u | (100u + ms % 150u);
    if (ms % 3 == 0)
      send_ping(&m, src, (uint16_t)ms);
    else {
      struct seg syn = {src, 0, (uint16_t)(1024 + ms), 80, ms * 7919u, 0, WIRE_TCP_SYN, 0, NULL, 0, false};
      send_seg(&m, &syn);
    }
    if (ms == 1500) {
      struct seg syn = {legit, 0, 5555, 80, 1000, 0, WIRE_TCP_SYN, 0, NULL, 0, false};
      send_seg(&m, &syn);
      syn_at = m.now;
    }
    if (ms == 1600) {
      send_ping(&m, legit, 1);
      ping_at = m.now;
    }
    struct out o = {0};
    drain_out(&m, 5555, legit, &o);
    if (arp_asked_at && m.now == arp_asked_at + 1000) { /* it answers every request */
      send_arp_reply(&m, legit, 5);
      arp_asked_at = 0;
    }
    if (o.arp_requests_watched && !arp_asked_at) arp_asked_at = m.now;
    if (o.synacks && syn_at && *synack_after == UINT64_MAX) *synack_after = m.now - syn_at;
    if (o.echo_replies && ping_at && *echo_after == UINT64_MAX) *echo_after = m.now - ping_at;
  }
  *arp_out = ctr(&m)->arp_requests_out;
  microtcp_pool_usage u;
  microtcp_get_pool_usage(m.st, &u);
  CHECK(u.arp_entries <= 64);
  me_free(&m);
}

static void arp_flood_does_not_starve_a_legitimate_host(void) {
  uint64_t synack_after, echo_after, arp_out;
  arp_flood_run(&synack_after, &echo_after, &arp_out);
  fprintf(stderr, "  arp flood: SYN-ACK after %llu us, echo reply after %llu us, %llu ARP requests\n",
          (unsigned long long)synack_after, (unsigned long long)echo_after,
          (unsigned long long)arp_out);
  CHECK(synack_after <= 10000);
  CHECK(echo_after <= 10000);
}

/* ---- 5. overlapping data that differs ---------------------------------------------------- */

/* Three overlapping segments with different bytes (an IDS-evasion pattern):
 * out of order A at 10..20, B at 5..25, then in order C at 0..15. The first
 * copy of every byte wins: C 0..5, B 5..10, A 10..20, B 20..25; both later
 * segments are counted as conflicts. */
static void overlapping_tcp_data_first_copy_wins(void) {
  microtcp_config cfg;
  me_config(&cfg);
  struct me m;
  me_init(&m, &cfg, true);
  int l = microtcp_tcp_listen(m.st, 0, 80, 8);
  uint32_t isn;
  int c = open_passive(&m, l, 0x0a000009u, 6000, &isn);
  CHECK(c >= 0);
  uint8_t a[10], b[20], cc[15];
  memset(a, 'A', sizeof a);
  memset(b, 'B', sizeof b);
  memset(cc, 'C', sizeof cc);
  struct seg sa = {0x0a000009u, 0, 6000, 80, 1001 + 10, isn + 1, WIRE_TCP_ACK, 0, a, sizeof a, false};
  struct seg sb = {0x0a000009u, 0, 6000, 80, 1001 + 5, isn + 1, WIRE_TCP_ACK, 0, b, sizeof b, false};
  struct seg sc = {0x0a000009u, 0, 6000, 80, 1001, isn + 1, WIRE_TCP_ACK, 0, cc, sizeof cc, false};
  send_seg(&m, &sa);
  send_seg(&m, &sb);
  send_seg(&m, &sc);
  drain_out(&m, 0, 0, NULL);
  char got[64] = {0};
  int n = microtcp_tcp_recv(m.st, m.now, c, got, sizeof got);
  CHECK_EQ(n, 25);
  CHECK(memcmp(got, "CCCCCBBBBBAAAAAAAAAABBBBB", 25) == 0);
  if (n == 25 && memcmp(got, "CCCCCBBBBBAAAAAAAAAABBBBB", 25) != 0)
    fprintf(stderr, "  got %.25s\n", got);
  CHECK_EQ(ctr(&m)->tcp_overlap_conflicts, 2);
  /* the same bytes again (an honest retransmission) is no conflict */
  struct seg dup = {0x0a000009u, 0, 6000, 80, 1001 + 40, isn + 1, WIRE_TCP_ACK, 0, a, sizeof a, false};
  send_seg(&m, &dup);
  send_seg(&m, &dup);
  CHECK_EQ(ctr(&m)->tcp_overlap_conflicts, 2);
  me_free(&m);
}

/* ---- 6. connection-slot exhaustion ---------------------------------------------------------- */

/* Handshake from src:sport to port 80 advertising `win` in its ACK; returns
 * our ISN, 0 if no SYN-ACK came. */
static uint32_t handshake(struct me *m, uint32_t src, uint16_t sport, uint16_t win) {
  struct seg s = {src, 0, sport, 80, 1000, 0, WIRE_TCP_SYN, 0, NULL, 0, false};
  send_seg(m, &s);
  struct out o = {0};
  drain_out(m, sport, src, &o);
  if (!o.synacks) return 0;
  struct seg a = {src, 0, sport, 80, 1001, o.last_seq + 1, WIRE_TCP_ACK, win, NULL, 0, false};
  a.win0 = win == 0;
  send_seg(m, &a);
  drain_out(m, 0, 0, NULL);
  return o.last_seq;
}

/* A SYN from src:sport: did a SYN-ACK come back? */
static bool syn_answered(struct me *m, uint32_t src, uint16_t sport) {
  struct seg s = {src, 0, sport, 80, 777, 0, WIRE_TCP_SYN, 0, NULL, 0, false};
  send_seg(m, &s);
  struct out o = {0};
  drain_out(m, sport, src, &o);
  return o.synacks > 0;
}

static void me_pool(struct me *m, uint32_t max_tcp) {
  microtcp_config cfg;
  me_config(&cfg);
  cfg.max_tcp = (uint16_t)max_tcp;
  me_init(m, &cfg, true);
}

/* One address opening every block it can (idle, zero window) holds at most
 * half the pool: another client still connects at once. */
static void one_peer_cannot_take_every_connection_block(void) {
  struct me m;
  me_pool(&m, 16);
  int l = microtcp_tcp_listen(m.st, 0, 80, 64);
  int held = 0;
  for (uint16_t i = 0; i < 40; i++) {
    m.now += 1000;
    if (handshake(&m, 0x0a000009u, (uint16_t)(2000 + i), 0)) held++;
    while (microtcp_tcp_accept(m.st, m.now, l, NULL) >= 0) {
    }
  }
  fprintf(stderr, "  one peer holds %d of 16 blocks\n", held);
  CHECK_EQ(held, 8);
  CHECK_EQ(ctr(&m)->drop_tcp_peer_limit, 32);
  m.now += 1000;
  CHECK(syn_answered(&m, 0x0a000005u, 5555));
  me_free(&m);
}

/* A client's handshake with whatever SYN-ACK comes back (stateful or
 * cookie); returns the frames the stack sent in answer to its ACK. */
static struct out client_handshake(struct me *m, uint32_t src, uint16_t sport,
                                   uint32_t *synack_seq) {
  struct out o = {0}, r = {0};
  struct seg syn = {src, 0, sport, 80, 777, 0, WIRE_TCP_SYN, 0, NULL, 0, false};
  send_seg(m, &syn);
  drain_out(m, sport, src, &o);
  CHECK_EQ(o.synacks, 1);
  if (synack_seq) *synack_seq = o.last_seq;
  struct seg ack = {src, 0, sport, 80, 778, o.last_seq + 1, WIRE_TCP_ACK, 0, NULL, 0, false};
  send_seg(m, &ack);
  drain_out(m, 0, 0, &r);
  return r;
}

/* Several addresses fill the pool with connections that never make progress
 * (zero window, nothing sent); nobody accepted them. The pool is full, so a
 * new client gets a SYN cookie (RFC 4987 3.6). Before tcp_evict_stalled_us
 * its ACK finds no block (dropped; it retransmits); after it, its ACK evicts
 * the most stalled connection (RST to that peer) and is accepted. */
static void stalled_connections_are_evicted_under_pressure(void) {
  struct me m;
  me_pool(&m, 16);
  int l = microtcp_tcp_listen(m.st, 0, 80, 64);
  for (uint32_t i = 0; i < 16; i++) {
    m.now += 1000;
    CHECK(handshake(&m, 0x0a000020u + i / 4, (uint16_t)(3000 + i), 0) != 0);
  }
  m.now = 5000000;
  microtcp_advance(m.st, m.now);
  drain_out(&m, 0, 0, NULL);
  client_handshake(&m, 0x0a000005u, 5555, NULL);
  CHECK_EQ(ctr(&m)->tcp_syncookies_ok, 0); /* nobody stalled 30 s yet */
  m.now = 31000000;
  microtcp_advance(m.st, m.now);
  drain_out(&m, 0, 0, NULL);
  struct out r = client_handshake(&m, 0x0a000005u, 5556, NULL);
  CHECK_EQ(r.rsts, 1); /* to the evicted peer */
  CHECK_EQ(ctr(&m)->tcp_stalled_evicted, 1);
  CHECK_EQ(ctr(&m)->tcp_syncookies_ok, 1);
  int c = -1, h, accepted = 0;
  microtcp_endpoint peer;
  while ((h = microtcp_tcp_accept(m.st, m.now, l, &peer)) >= 0) {
    accepted++;
    if (peer.port == 5556) c = h;
  }
  CHECK(c >= 0);
  /* The evicted connection was waiting on the accept queue: it left it
   * (until 2026-12 it stayed linked and counted, and the queue broke). */
  CHECK_EQ(accepted, 16);
  CHECK(!(microtcp_poll(m.st, l) & MICROTCP_READABLE));
  me_free(&m);
}

/* The same with connections an application holds: the evicted one reports
 * ECONNABORTED, the application closes it, and the client's retransmitted
 * ACK completes its (cookie) handshake. */
static void stalled_app_connection_is_aborted_under_pressure(void) {
  struct me m;
  me_pool(&m, 8);
  int l = microtcp_tcp_listen(m.st, 0, 80, 64);
  int h[8];
  for (uint32_t i = 0; i < 8; i++) {
    m.now += 1000;
    CHECK(handshake(&m, 0x0a000020u + i / 2, (uint16_t)(3000 + i), 0) != 0);
    h[i] = microtcp_tcp_accept(m.st, m.now, l, NULL);
    CHECK(h[i] >= 0);
    CHECK_EQ(microtcp_tcp_send(m.st, m.now, h[i], "reply", 5), 5); /* into a zero window */
  }
  for (uint64_t t = 1; t <= 31; t++) { /* persist probes, never answered */
    m.now = t * 1000000u;
    microtcp_advance(m.st, m.now);
    drain_out(&m, 0, 0, NULL);
  }
  uint32_t cookie = 0;
  client_handshake(&m, 0x0a000005u, 5555, &cookie);
  CHECK_EQ(ctr(&m)->tcp_syncookies_ok, 0); /* the block is the application's until it closes */
  int aborted = 0;
  for (int i = 0; i < 8; i++) {
    if (microtcp_socket_error(m.st, h[i]) == MICROTCP_ECONNABORTED) {
      aborted++;
      microtcp_tcp_close(m.st, m.now, h[i]);
    }
  }
  CHECK_EQ(aborted, 1);
  m.now += 200000;
  struct seg ack = {0x0a000005u, 0, 5555, 80, 778, cookie + 1, WIRE_TCP_ACK | WIRE_TCP_PSH, 0,
                    (const uint8_t *)"hi", 2, false}; /* its first data, retransmitted */
  send_seg(&m, &ack);
  drain_out(&m, 0, 0, NULL);
  CHECK_EQ(ctr(&m)->tcp_syncookies_ok, 1);
  int c = microtcp_tcp_accept(m.st, m.now, l, NULL);
  CHECK(c >= 0);
  char buf[8];
  CHECK_EQ(microtcp_tcp_recv(m.st, m.now, c, buf, sizeof buf), 2); /* the data it carried */
  me_free(&m);
}

/* A full pool holds one fresh half-open connection (a client mid-handshake).
 * Another client's cookie ACK must not evict it: its SYN-ACK was not a
 * cookie, so once its block is gone its ACK gets a RST (the attack-mix swarm
 * lost web connections so, to sockstress's cookie completions). The cookie
 * ACK is dropped instead (the client retransmits). A half-open connection
 * whose SYN-ACK went unanswered for an RTO (a spoofed SYN) is evicted. */
/* A pool of 8 blocks on a listener (returned): 7 connections, then the
 * eighth a half-open one from 10.0.0.64:4000; what the stack answered it. */
static struct out pool_full_with_a_half_open(struct me *m, int *listener) {
  me_pool(m, 8);
  *listener = microtcp_tcp_listen(m->st, 0, 80, 64);
  for (uint32_t i = 0; i < 7; i++) {
    m->now += 1000;
    CHECK(handshake(m, 0x0a000020u + i, (uint16_t)(3000 + i), 1000) != 0);
  }
  m->now += 1000;
  struct seg syn = {0x0a000040u, 0, 4000, 80, 1000, 0, WIRE_TCP_SYN, 0, NULL, 0, false};
  send_seg(m, &syn);
  struct out o = {0};
  drain_out(m, 4000, 0x0a000040u, &o);
  return o;
}

static void cookie_ack_does_not_evict_a_fresh_half_open_connection(void) {
  struct me m;
  int l;
  /* the eighth block: a half-open connection, its SYN-ACK not yet acked */
  struct out o = pool_full_with_a_half_open(&m, &l);
  CHECK_EQ(o.synacks, 1);
  uint32_t half_open_iss = o.last_seq;
  /* pool full: a cookie for the next client, whose ACK finds no block to take */
  m.now += 1000;
  struct out r = client_handshake(&m, 0x0a000005u, 5555, NULL);
  CHECK_EQ(ctr(&m)->tcp_syncookies_sent, 1);
  CHECK_EQ(ctr(&m)->tcp_syncookies_ok, 0);
  CHECK_EQ(ctr(&m)->tcp_half_open_evicted, 0);
  CHECK_EQ(r.rsts, 0); /* dropped, not refused */
  /* the half-open connection completes */
  struct seg ack = {0x0a000040u, 0, 4000, 80, 1001, half_open_iss + 1, WIRE_TCP_ACK, 1000, NULL, 0, false};
  send_seg(&m, &ack);
  struct out a = {0};
  drain_out(&m, 4000, 0x0a000040u, &a);
  CHECK_EQ(a.rsts, 0);
  int accepted = 0;
  microtcp_endpoint peer;
  int h;
  bool found = false;
  while ((h = microtcp_tcp_accept(m.st, m.now, l, &peer)) >= 0) {
    accepted++;
    if (peer.port == 4000) found = true;
  }
  CHECK_EQ(accepted, 8);
  CHECK(found);
  me_free(&m);

  /* the same, but the half-open connection's SYN-ACK goes unanswered for an
   * RTO (retransmitted): the cookie ACK takes its block */
  pool_full_with_a_half_open(&m, &l);
  m.now += 1500000; /* past the initial RTO: the SYN-ACK is retransmitted */
  microtcp_advance(m.st, m.now);
  struct out re = {0};
  drain_out(&m, 4000, 0x0a000040u, &re);
  CHECK_EQ(re.synacks, 1);
  client_handshake(&m, 0x0a000005u, 5556, NULL);
  CHECK_EQ(ctr(&m)->tcp_half_open_evicted, 1);
  CHECK_EQ(ctr(&m)->tcp_syncookies_ok, 1);
  me_free(&m);
}

/* ---- 7. SYN cookies ------------------------------------------------------------------------- */

/* A spoofed SYN flood fills the listener's half-open queue; from then on SYNs
 * get cookie SYN-ACKs and no state, the half-open connections are never
 * evicted, and a legitimate client completes its handshake with the cookie.
 * A forged ACK (wrong cookie) gets a RST, an old cookie (> 128 s) too. */
static void syn_cookies_when_half_open_queue_is_full(void) {
  struct me m;
  me_pool(&m, 64);
  int l = microtcp_tcp_listen(m.st, 0, 80, 8);
  struct out o = {0};
  for (uint32_t i = 0; i < 2000; i++) {
    m.now += 50; /* 20,000 SYNs per second */
    struct seg syn = {0x0a000000u | (10 + i % 200), 0, (uint16_t)(1024 + i), 80, i * 7919u, 0,
                      WIRE_TCP_SYN, 0, NULL, 0, false};
    send_seg(&m, &syn);
    drain_out(&m, 0, 0, &o);
    microtcp_pool_usage u;
    microtcp_get_pool_usage(m.st, &u);
    CHECK(u.tcp <= 8);
  }
  CHECK_EQ(o.synacks, 2000);
  CHECK_EQ(ctr(&m)->tcp_syncookies_sent, 1992);
  CHECK_EQ(ctr(&m)->tcp_half_open_evicted, 0);
  /* the legitimate client, mid-flood */
  m.now += 50;
  struct out r = client_handshake(&m, 0x0a000005u, 5555, NULL);
  CHECK_EQ(r.rsts, 0);
  microtcp_endpoint peer;
  int c = microtcp_tcp_accept(m.st, m.now, l, &peer);
  CHECK(c >= 0);
  CHECK_EQ(peer.port, 5555);
  CHECK_EQ(microtcp_tcp_state(m.st, c), MICROTCP_ESTABLISHED);
  microtcp_tcp_stats stats;
  CHECK_EQ(microtcp_tcp_get_stats(m.st, c, &stats), 0);
  CHECK_EQ(stats.mss, 1460); /* the cookie carried the client's MSS */
  /* a forged ACK with a wrong cookie: RST, no connection */
  struct seg bad = {0x0a000006u, 0, 6000, 80, 5001, 0x12345678u, WIRE_TCP_ACK, 0, NULL, 0, false};
  struct out b = {0};
  send_seg(&m, &bad);
  drain_out(&m, 6000, 0x0a000006u, &b);
  CHECK_EQ(b.rsts, 1);
  CHECK_EQ(ctr(&m)->tcp_syncookies_failed, 1);
  CHECK_EQ(ctr(&m)->tcp_syncookies_ok, 1);
  me_free(&m);
}

/* A cookie is valid for the tuple and the peer's ISN only, and expires after
 * one to two 64-second periods; it encodes the MSS as one of four values. */
static void syn_cookie_encodes_mss_and_expires(void) {
  struct me m;
  me_pool(&m, 8);
  const uint16_t mss_in[] = {100, 536, 1000, 1300, 1439, 1440, 1460, 9000};
  const uint16_t mss_out[] = {536, 536, 536, 1300, 1300, 1440, 1460, 1460};
  const uint32_t rip = 0x0a000005u;
  for (int i = 0; i < 8; i++) {
    m.st->now = 1000000u + (uint64_t)i * 7000000u;
    uint32_t c = mtcp_tcp_syncookie_make(m.st, rip, 5555, 80, 1000u * (uint32_t)i, mss_in[i]);
    CHECK_EQ(mtcp_tcp_syncookie_check(m.st, rip, 5555, 80, 1000u * (uint32_t)i, c), mss_out[i]);
    CHECK_EQ(mtcp_tcp_syncookie_check(m.st, rip, 5556, 80, 1000u * (uint32_t)i, c), 0); /* other port */
    CHECK_EQ(mtcp_tcp_syncookie_check(m.st, rip + 1, 5555, 80, 1000u * (uint32_t)i, c), 0);
    /* (a change of a few units only moves the MSS index, as in Linux's
     * design: guessing still takes the 24-bit hash) */
    CHECK_EQ(mtcp_tcp_syncookie_check(m.st, rip, 5555, 80, 1000u * (uint32_t)i + 0x10000u, c), 0);
    CHECK_EQ(mtcp_tcp_syncookie_check(m.st, rip, 5555, 80, 1000u * (uint32_t)i, c + 0x10000u), 0);
  }
  /* made at 10 s (period 0): valid through period 1 (until 128 s), not after */
  m.st->now = 10000000u;
  uint32_t c = mtcp_tcp_syncookie_make(m.st, rip, 5555, 80, 42, 1460);
  m.st->now = 127000000u;
  CHECK_EQ(mtcp_tcp_syncookie_check(m.st, rip, 5555, 80, 42, c), 1460);
  m.st->now = 129000000u;
  CHECK_EQ(mtcp_tcp_syncookie_check(m.st, rip, 5555, 80, 42, c), 0);
  /* forged cookies: about 1 in 2^22 passes (24 bits of hash, 4 valid indices, 2 periods) */
  m.st->now = 10000000u;
  int passed = 0;
  for (uint32_t guess = 0; guess < 200000; guess++)
    passed += mtcp_tcp_syncookie_check(m.st, rip, 5555, 80, 42, guess * 2654435761u) != 0;
  CHECK(passed <= 2);
  me_free(&m);
}

int main(void) {
  RUN(challenge_ack_count_does_not_reveal_other_connections);
  RUN(challenge_ack_global_budget_is_randomised_per_second);
  RUN(arp_flood_does_not_starve_a_legitimate_host);
  RUN(overlapping_tcp_data_first_copy_wins);
  RUN(one_peer_cannot_take_every_connection_block);
  RUN(stalled_connections_are_evicted_under_pressure);
  RUN(stalled_app_connection_is_aborted_under_pressure);
  RUN(cookie_ack_does_not_evict_a_fresh_half_open_connection);
  RUN(syn_cookies_when_half_open_queue_is_full);
  RUN(syn_cookie_encodes_mss_and_expires);
  return check_report();
}
