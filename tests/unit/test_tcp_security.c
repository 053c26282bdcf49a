/*
 * TCP under attack and at its limits: SYN floods with SYN cookies off (bounded
 * half-open state, the oldest evicted, a legitimate handshake still
 * completes; cookies are tested in test_hostile.c), accept-queue
 * overflow, pool exhaustion as an error code, ISNs per RFC 6528, ephemeral
 * ports per RFC 6056.
 */
#include <stdio.h>

#include "check.h"
#include "internal.h"
#include "pair.h"

#define STACK_IP 0x0a000002u
#define PEER_MAC_LAST 0x77

static microtcp_stack *make_stack(void **arena, uint16_t max_tcp, const uint8_t *secret_byte) {
  microtcp_config cfg;
  microtcp_config_default(&cfg);
  cfg.ip = STACK_IP;
  cfg.max_tcp = max_tcp;
  cfg.frames = 64;
  cfg.arp_gratuitous = false;
  cfg.arp_entries = 255;
  cfg.tcp_syncookies = false; /* these tests pin the evicting half-open queue */
  if (secret_byte) memset(cfg.secret, *secret_byte, 16);
  size_t n = microtcp_footprint(&cfg);
  *arena = aligned_alloc(16, (n + 15) & ~(size_t)15);
  microtcp_stack *st = microtcp_init(*arena, n, &cfg, 0, NULL);
  uint8_t mac[6] = {2, 0, 0, 0, 0, PEER_MAC_LAST};
  for (uint32_t host = 1; host < 250; host++)
    if (host != 2) microtcp_arp_add_static(st, 0x0a000000u | host, mac);
  return st;
}

/* Send one TCP segment from src:sport to the stack. */
static void inject(microtcp_stack *st, uint64_t now, uint32_t src, uint16_t sport, uint16_t dport,
                   uint32_t seq, uint32_t ack, uint8_t flags) {
  uint8_t frame[128];
  const microtcp_config *cfg = microtcp_get_config(st);
  wire_eth e;
  memcpy(e.dst, cfg->mac, 6);
  uint8_t peer[6] = {2, 0, 0, 0, 0, PEER_MAC_LAST};
  memcpy(e.src, peer, 6);
  e.ethertype = WIRE_ETHERTYPE_IPV4;
  wire_eth_emit(&e, frame, sizeof frame);
  wire_tcp t;
  memset(&t, 0, sizeof t);
  t.src_port = sport;
  t.dst_port = dport;
  t.seq = seq;
  t.ack = ack;
  t.flags = flags;
  t.window = 65535;
  if (flags & WIRE_TCP_SYN) {
    t.opts.has_mss = true;
    t.opts.mss = 1460;
  }
  int tl = wire_tcp_emit(src, STACK_IP, &t, frame + 34, sizeof frame - 34);
  wire_ipv4 ip;
  memset(&ip, 0, sizeof ip);
  ip.total_len = (uint16_t)(20 + tl);
  ip.ttl = 64;
  ip.proto = WIRE_IP_PROTO_TCP;
  ip.src = src;
  ip.dst = STACK_IP;
  wire_ipv4_emit(&ip, frame + 14, 20);
  microtcp_input(st, now, frame, (size_t)(34 + tl));
}

/* Pop output frames; return the last SYN-ACK's seq for (dport) or 0. */
static uint32_t drain_synack(microtcp_stack *st, uint64_t now, uint16_t to_port, int *synacks) {
  uint8_t buf[2000];
  int n;
  uint32_t isn = 0;
  while ((n = microtcp_output(st, now, buf, sizeof buf)) > 0) {
    wire_eth e;
    wire_ipv4 ip;
    wire_tcp t;
    if (wire_eth_parse(buf, (size_t)n, &e) || e.ethertype != WIRE_ETHERTYPE_IPV4) continue;
    if (wire_ipv4_parse(e.payload, e.payload_len, &ip) || ip.proto != WIRE_IP_PROTO_TCP) continue;
    if (wire_tcp_parse(ip.payload, ip.payload_len, &t)) continue;
    if ((t.flags & (WIRE_TCP_SYN | WIRE_TCP_ACK)) == (WIRE_TCP_SYN | WIRE_TCP_ACK)) {
      if (synacks) (*synacks)++;
      if (t.dst_port == to_port) isn = t.seq;
    }
  }
  return isn;
}

static void syn_flood_evicts_oldest_and_legit_handshake_completes(void) {
  void *arena;
  microtcp_stack *st = make_stack(&arena, 32, NULL);
  int l = microtcp_tcp_listen(st, 0, 80, 8);
  CHECK(l >= 0);
  int synacks = 0;
  /* 1000 spoofed SYNs from many sources: half-open state stays bounded */
  for (uint32_t i = 0; i < 1000; i++) {
    inject(st, i, 0x0a000000u | (10 + i % 200), (uint16_t)(1024 + i), 80, i * 7919u, 0,
           WIRE_TCP_SYN);
    drain_synack(st, i, 0, &synacks);
    microtcp_pool_usage u;
    microtcp_get_pool_usage(st, &u);
    CHECK(u.tcp <= 8); /* per-listener half-open cap = backlog */
  }
  CHECK_EQ(synacks, 1000);
  CHECK(microtcp_get_counters(st)->tcp_half_open_evicted >= 990);
  /* a legitimate client in the middle of the flood still completes */
  inject(st, 2000, 0x0a000005u, 5555, 80, 1000, 0, WIRE_TCP_SYN);
  uint32_t isn = drain_synack(st, 2000, 5555, NULL);
  CHECK(isn != 0);
  for (uint32_t i = 0; i < 5; i++) /* a few more flood SYNs, fewer than the cap */
    inject(st, 2001 + i, 0x0a000000u | (10 + i), (uint16_t)(30000 + i), 80, i, 0, WIRE_TCP_SYN);
  drain_synack(st, 2010, 0, NULL);
  inject(st, 2100, 0x0a000005u, 5555, 80, 1001, isn + 1, WIRE_TCP_ACK);
  microtcp_endpoint peer;
  int c = microtcp_tcp_accept(st, 2100, l, &peer);
  CHECK(c >= 0);
  CHECK_EQ(peer.port, 5555);
  CHECK_EQ(microtcp_tcp_state(st, c), MICROTCP_ESTABLISHED);
  free(arena);
}

static void accept_queue_full_drops_syn(void) {
  void *arena;
  microtcp_stack *st = make_stack(&arena, 16, NULL);
  int l = microtcp_tcp_listen(st, 0, 80, 2);
  for (uint16_t p = 0; p < 3; p++) {
    inject(st, 10, 0x0a000009u, (uint16_t)(4000 + p), 80, 100, 0, WIRE_TCP_SYN);
    uint32_t isn = drain_synack(st, 10, (uint16_t)(4000 + p), NULL);
    if (p < 2) {
      CHECK(isn != 0);
      inject(st, 20, 0x0a000009u, (uint16_t)(4000 + p), 80, 101, isn + 1, WIRE_TCP_ACK);
    } else {
      CHECK_EQ(isn, 0); /* backlog of 2 established, unaccepted: the third SYN is dropped */
    }
  }
  CHECK_EQ(microtcp_get_counters(st)->drop_tcp_backlog, 1);
  CHECK(microtcp_tcp_accept(st, 30, l, NULL) >= 0);
  CHECK(microtcp_tcp_accept(st, 30, l, NULL) >= 0);
  CHECK_EQ(microtcp_tcp_accept(st, 30, l, NULL), MICROTCP_EAGAIN);
  free(arena);
}

static void pool_exhaustion_is_an_error_code(void) {
  void *arena;
  microtcp_stack *st = make_stack(&arena, 3, NULL);
  int h[4];
  for (int i = 0; i < 3; i++) CHECK((h[i] = microtcp_tcp_connect(st, 0, 0x0a000009u, 80, 0)) >= 0);
  CHECK_EQ(microtcp_tcp_connect(st, 0, 0x0a000009u, 80, 0), MICROTCP_ENOMEM);
  CHECK_EQ(microtcp_tcp_close(st, 0, h[0]), 0);
  CHECK((h[3] = microtcp_tcp_connect(st, 0, 0x0a000009u, 80, 0)) >= 0);
  CHECK_EQ(microtcp_tcp_send(st, 0, h[0], "x", 1), MICROTCP_EBADF); /* stale handle */
  int u[5];
  for (int i = 0; i < 4; i++) CHECK((u[i] = microtcp_udp_bind(st, 0, 0)) >= 0);
  CHECK_EQ(microtcp_udp_bind(st, 0, 0), MICROTCP_ENOMEM);
  CHECK(microtcp_tcp_listen(st, 0, 1, 1) >= 0);
  CHECK_EQ(microtcp_tcp_listen(st, 0, 1, 1), MICROTCP_EADDRINUSE);
  CHECK(microtcp_tcp_listen(st, 0, 2, 1) >= 0);
  CHECK_EQ(microtcp_tcp_listen(st, 0, 3, 1), MICROTCP_ENOMEM); /* 2 listeners by default */
  free(arena);
}

static uint32_t syn_isn(microtcp_stack *st, uint64_t now, uint16_t *sport) {
  uint8_t buf[2000];
  int n;
  uint32_t isn = 0;
  while ((n = microtcp_output(st, now, buf, sizeof buf)) > 0) {
    wire_eth e;
    wire_ipv4 ip;
    wire_tcp t;
    if (wire_eth_parse(buf, (size_t)n, &e) || e.ethertype != WIRE_ETHERTYPE_IPV4) continue;
    if (wire_ipv4_parse(e.payload, e.payload_len, &ip) || ip.proto != WIRE_IP_PROTO_TCP) continue;
    if (wire_tcp_parse(ip.payload, ip.payload_len, &t)) continue;
    if (t.flags == WIRE_TCP_SYN) {
      isn = t.seq;
      if (sport) *sport = t.src_port;
    }
  }
  return isn;
}

static void isn_keyed_and_clock_driven(void) {
  uint8_t k1 = 1, k2 = 2;
  void *a1, *a2;
  microtcp_stack *s1 = make_stack(&a1, 4, &k1), *s2 = make_stack(&a2, 4, &k2);
  int h1 = microtcp_tcp_connect(s1, 1000, 0x0a000009u, 80, 40000);
  int h2 = microtcp_tcp_connect(s2, 1000, 0x0a000009u, 80, 40000);
  CHECK(h1 >= 0 && h2 >= 0);
  uint32_t i1 = syn_isn(s1, 1000, NULL), i2 = syn_isn(s2, 1000, NULL);
  CHECK(i1 != i2); /* RFC 6528: secret-keyed, same 4-tuple and time */
  microtcp_tcp_abort(s1, 1000, h1);
  /* same secret and tuple 4 s later: the ISN moved by ~1e6 (4 µs clock) */
  int h3 = microtcp_tcp_connect(s1, 4001000, 0x0a000009u, 80, 40000);
  CHECK(h3 >= 0);
  uint32_t i3 = syn_isn(s1, 4001000, NULL);
  CHECK_EQ((uint32_t)(i3 - i1), 1000000u);
  free(a1);
  free(a2);
}

static void ephemeral_ports_spread(void) {
  void *a;
  microtcp_stack *st = make_stack(&a, 16, NULL);
  uint16_t ports[8];
  for (int i = 0; i < 8; i++) {
    int h = microtcp_tcp_connect(st, 0, 0x0a000000u | (uint32_t)(20 + i), 80, 0);
    CHECK(h >= 0);
    syn_isn(st, 0, &ports[i]);
    CHECK(ports[i] >= 49152);
  }
  int distinct = 0;
  for (int i = 0; i < 8; i++) {
    int seen = 0;
    for (int j = 0; j < i; j++) seen |= ports[j] == ports[i];
    distinct += !seen;
  }
  CHECK_EQ(distinct, 8);
  /* not simply sequential: RFC 6056 algorithm 3 offsets per destination */
  int sequential = 1;
  for (int i = 1; i < 8; i++) sequential &= ports[i] == ports[i - 1] + 1;
  CHECK(!sequential);
  free(a);
}

int main(void) {
  RUN(syn_flood_evicts_oldest_and_legit_handshake_completes);
  RUN(accept_queue_full_drops_syn);
  RUN(pool_exhaustion_is_an_error_code);
  RUN(isn_keyed_and_clock_driven);
  RUN(ephemeral_ports_spread);
  return check_report();
}
