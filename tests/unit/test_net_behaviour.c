/*
 * ARP, IPv4 and ICMP behaviours driven with crafted frames into one instance:
 * ARP replies, learning, conflict detection, our own address never learned;
 * martian sources, TTL, reassembly overlap/timeout/memory cap; ICMP echo rate
 * limit, protocol unreachable, errors delivered to the quoted socket.
 */
#include <stdio.h>

#include "check.h"
#include "internal.h"

#define ME 0x0a000002u
#define PEER 0x0a000007u
static const uint8_t peer_mac[6] = {2, 0, 0, 0, 0, 0x07};

struct ctx {
  void *arena;
  microtcp_stack *st;
  int conflicts;
};

static void on_trace(void *c, uint64_t now, int kind, const char *msg, uint32_t a, uint32_t b) {
  (void)now, (void)msg, (void)a, (void)b;
  if (kind == MICROTCP_TRACE_ARP_CONFLICT) ((struct ctx *)c)->conflicts++;
}

static void setup(struct ctx *c, void (*tweak)(microtcp_config *)) {
  microtcp_config cfg;
  microtcp_config_default(&cfg);
  cfg.ip = ME;
  cfg.mac[5] = 0x02;
  cfg.trace = on_trace;
  cfg.trace_ctx = c;
  cfg.frames = 64;
  if (tweak) tweak(&cfg);
  size_t n = microtcp_footprint(&cfg);
  c->arena = aligned_alloc(16, (n + 15) & ~(size_t)15);
  c->conflicts = 0;
  c->st = microtcp_init(c->arena, n, &cfg, 0, NULL);
}

/* Drain output; return number of frames; copy the last IPv4 frame into last. */
static int drain(struct ctx *c, uint8_t *last, size_t *last_len) {
  uint8_t buf[2000];
  int n, count = 0;
  while ((n = microtcp_output(c->st, 0, buf, sizeof buf)) > 0) {
    count++;
    if (last) {
      memcpy(last, buf, (size_t)n);
      *last_len = (size_t)n;
    }
  }
  return count;
}

static void send_arp(struct ctx *c, uint16_t op, const uint8_t *sha, uint32_t spa, uint32_t tpa) {
  uint8_t f[60] = {0};
  wire_eth e = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, {0}, WIRE_ETHERTYPE_ARP, NULL, 0};
  memcpy(e.src, sha, 6);
  wire_eth_emit(&e, f, sizeof f);
  wire_arp a = {op, {0}, spa, {0}, tpa};
  memcpy(a.sha, sha, 6);
  wire_arp_emit(&a, f + 14, 28);
  microtcp_input(c->st, 0, f, 60);
}

/* An IPv4 packet from PEER (or src) with the given payload. */
static void send_ip(struct ctx *c, uint64_t now, uint32_t src, uint8_t proto, uint16_t id,
                    uint16_t frag_off, bool mf, uint8_t ttl, const uint8_t *payload, size_t len) {
  uint8_t f[1600];
  wire_eth e = {{0}, {0}, WIRE_ETHERTYPE_IPV4, NULL, 0};
  memcpy(e.dst, microtcp_get_config(c->st)->mac, 6);
  memcpy(e.src, peer_mac, 6);
  wire_eth_emit(&e, f, sizeof f);
  wire_ipv4 ip;
  memset(&ip, 0, sizeof ip);
  ip.total_len = (uint16_t)(20 + len);
  ip.id = id;
  ip.frag_offset = frag_off;
  ip.mf = mf;
  ip.ttl = ttl;
  ip.proto = proto;
  ip.src = src;
  ip.dst = ME;
  wire_ipv4_emit(&ip, f + 14, 20);
  memcpy(f + 34, payload, len);
  microtcp_input(c->st, now, f, 34 + len);
}

static size_t icmp_echo(uint8_t *buf, uint16_t seq, size_t payload) {
  uint8_t data[1500];
  memset(data, 0xa5, payload);
  wire_icmp h = {WIRE_ICMP_ECHO_REQUEST, 0, 0, (uint32_t)(0x1234u << 16 | seq), data, payload};
  return (size_t)wire_icmp_emit(&h, buf, 1600);
}

static void arp_replies_learns_and_detects_conflict(void) {
  struct ctx c;
  setup(&c, NULL);
  CHECK_EQ(drain(&c, NULL, NULL), 1); /* gratuitous ARP at init */
  send_arp(&c, WIRE_ARP_REQUEST, peer_mac, PEER, ME);
  uint8_t out[2000];
  size_t len = 0;
  CHECK_EQ(drain(&c, out, &len), 1);
  wire_arp a;
  CHECK_EQ(wire_arp_parse(out + 14, len - 14, &a), 0);
  CHECK_EQ(a.op, WIRE_ARP_REPLY);
  CHECK_EQ(a.spa, ME);
  CHECK_EQ(a.tpa, PEER);
  uint8_t mac[6];
  CHECK_EQ(microtcp_arp_lookup(c.st, PEER, mac), 0); /* learned from the request for us */
  /* someone else claims our address: reported, counted, nothing learned */
  uint8_t evil[6] = {2, 0, 0, 0, 0, 0x66};
  send_arp(&c, WIRE_ARP_REQUEST, evil, ME, 0x0a000009u);
  CHECK_EQ(c.conflicts, 1);
  CHECK_EQ(microtcp_get_counters(c.st)->arp_conflicts, 1);
  CHECK_EQ(microtcp_arp_lookup(c.st, ME, mac), MICROTCP_EAGAIN);
  /* a request for someone else: not answered, sender not added */
  send_arp(&c, WIRE_ARP_REQUEST, evil, 0x0a000010u, 0x0a000011u);
  CHECK_EQ(drain(&c, NULL, NULL), 0);
  CHECK_EQ(microtcp_arp_lookup(c.st, 0x0a000010u, mac), MICROTCP_EAGAIN);
  /* static entries are never overwritten; our own IP cannot be static */
  uint8_t st_mac[6] = {2, 0, 0, 0, 0, 0x42};
  CHECK_EQ(microtcp_arp_add_static(c.st, 0x0a000020u, st_mac), 0);
  send_arp(&c, WIRE_ARP_REPLY, evil, 0x0a000020u, ME);
  CHECK_EQ(microtcp_arp_lookup(c.st, 0x0a000020u, mac), 0);
  CHECK_EQ(mac[5], 0x42);
  CHECK_EQ(microtcp_arp_add_static(c.st, ME, st_mac), MICROTCP_EINVAL);
  /* malformed ARP is counted */
  uint8_t bad[60] = {0};
  memset(bad, 0xff, 6);
  bad[12] = 0x08;
  bad[13] = 0x06;
  microtcp_input(c.st, 0, bad, 30);
  CHECK_EQ(microtcp_get_counters(c.st)->drop_arp_malformed, 1);
  free(c.arena);
}

static void martians_and_bad_checksums_dropped(void) {
  struct ctx c;
  setup(&c, NULL);
  drain(&c, NULL, NULL);
  uint8_t echo[100];
  size_t n = icmp_echo(echo, 1, 20);
  const uint32_t martians[] = {0x7f000001u, 0xe0000001u, 0xffffffffu, ME, 0, 0x0a0000ffu};
  for (size_t i = 0; i < sizeof martians / sizeof martians[0]; i++)
    send_ip(&c, 0, martians[i], WIRE_IP_PROTO_ICMP, 1, 0, false, 64, echo, n);
  CHECK_EQ(microtcp_get_counters(c.st)->drop_ip_martian, 6);
  CHECK_EQ(drain(&c, NULL, NULL), 0);
  /* a valid echo is answered with our default TTL */
  microtcp_arp_add_static(c.st, PEER, peer_mac);
  send_ip(&c, 0, PEER, WIRE_IP_PROTO_ICMP, 2, 0, false, 1, echo, n);
  uint8_t out[2000];
  size_t len = 0;
  CHECK_EQ(drain(&c, out, &len), 1);
  wire_ipv4 ip;
  CHECK_EQ(wire_ipv4_parse(out + 14, len - 14, &ip), 0);
  CHECK_EQ(ip.ttl, 64);
  CHECK_EQ(ip.dst, PEER);
  CHECK(wire_ipv4_checksum_ok(out + 14, 20));
  /* corrupt IP header checksum */
  uint8_t f[200];
  wire_eth e = {{0}, {0}, WIRE_ETHERTYPE_IPV4, NULL, 0};
  memcpy(e.dst, microtcp_get_config(c.st)->mac, 6);
  wire_eth_emit(&e, f, sizeof f);
  wire_ipv4 h = {0};
  h.total_len = (uint16_t)(20 + n);
  h.ttl = 64;
  h.proto = 1;
  h.src = PEER;
  h.dst = ME;
  wire_ipv4_emit(&h, f + 14, 20);
  memcpy(f + 34, echo, n);
  f[14 + 10] ^= 0xff;
  microtcp_input(c.st, 0, f, 34 + n);
  CHECK_EQ(microtcp_get_counters(c.st)->drop_ip_checksum, 1);
  /* not for us */
  wire_put32(f + 14 + 16, 0x0a000063u);
  f[14 + 10] = f[14 + 11] = 0;
  wire_put16(f + 14 + 10, wire_csum(f + 14, 20));
  microtcp_input(c.st, 0, f, 34 + n);
  CHECK_EQ(microtcp_get_counters(c.st)->drop_ip_not_for_us, 1);
  free(c.arena);
}

static void small_reasm(microtcp_config *cfg) {
  cfg->reasm_slots = 2;
  cfg->reasm_bytes = 4096;
  cfg->reasm_timeout_us = 1000000;
}

static void reassembly_overlap_timeout_and_cap(void) {
  struct ctx c;
  setup(&c, small_reasm);
  microtcp_arp_add_static(c.st, PEER, peer_mac);
  drain(&c, NULL, NULL);
  uint8_t echo[1600];
  size_t n = icmp_echo(echo, 3, 1000); /* 1008 bytes of ICMP */
  /* overlap: [0,512) then [256, ...) → datagram dropped, memory released */
  send_ip(&c, 0, PEER, 1, 7, 0, true, 64, echo, 512);
  send_ip(&c, 0, PEER, 1, 7, 256, false, 64, echo + 256, n - 256);
  CHECK_EQ(microtcp_get_counters(c.st)->drop_reasm_overlap, 1);
  microtcp_pool_usage u;
  microtcp_get_pool_usage(c.st, &u);
  CHECK_EQ(u.reasm_slots, 0);
  CHECK_EQ(u.reasm_bytes, 0);
  CHECK_EQ(drain(&c, NULL, NULL), 0);
  /* in order, out of order: both reassemble and are answered */
  send_ip(&c, 0, PEER, 1, 8, 512, false, 64, echo + 512, n - 512);
  send_ip(&c, 0, PEER, 1, 8, 0, true, 64, echo, 512);
  CHECK_EQ(microtcp_get_counters(c.st)->ip_reassembled, 1);
  CHECK(drain(&c, NULL, NULL) >= 1);
  /* a lone first fragment times out and frees its memory */
  send_ip(&c, 100, PEER, 1, 9, 0, true, 64, echo, 512);
  microtcp_get_pool_usage(c.st, &u);
  CHECK_EQ(u.reasm_slots, 1);
  CHECK_EQ(u.reasm_bytes, 512);
  CHECK_EQ(microtcp_deadline(c.st), 1000100);
  microtcp_advance(c.st, 1000100);
  microtcp_get_pool_usage(c.st, &u);
  CHECK_EQ(u.reasm_slots, 0);
  CHECK_EQ(microtcp_get_counters(c.st)->drop_reasm_timeout, 1);
  /* a datagram longer than the whole reassembly pool (4096 bytes here) is refused */
  uint8_t blob[1600] = {0};
  send_ip(&c, 2000000, PEER, 1, 10, 4000, false, 64, blob, 100);
  CHECK_EQ(microtcp_get_counters(c.st)->drop_reasm_toolong, 1);
  /* more concurrent datagrams than slots */
  send_ip(&c, 2000000, PEER, 1, 11, 0, true, 64, blob, 8);
  send_ip(&c, 2000000, PEER, 1, 12, 0, true, 64, blob, 8);
  send_ip(&c, 2000000, PEER, 1, 13, 0, true, 64, blob, 8);
  CHECK_EQ(microtcp_get_counters(c.st)->drop_reasm_nomem, 1);
  free(c.arena);
}

static void limit_icmp(microtcp_config *cfg) {
  cfg->icmp_rate_per_s = 10;
  cfg->icmp_burst = 3;
}

static void icmp_echo_rate_limited(void) {
  struct ctx c;
  setup(&c, limit_icmp);
  microtcp_arp_add_static(c.st, PEER, peer_mac);
  drain(&c, NULL, NULL);
  uint8_t echo[100];
  size_t n = icmp_echo(echo, 1, 8);
  for (int i = 0; i < 10; i++) send_ip(&c, 0, PEER, 1, (uint16_t)i, 0, false, 64, echo, n);
  CHECK_EQ(drain(&c, NULL, NULL), 3); /* the burst */
  CHECK_EQ(microtcp_get_counters(c.st)->drop_icmp_ratelimit, 7);
  send_ip(&c, 100000, PEER, 1, 20, 0, false, 64, echo, n); /* 100 ms later: one token */
  CHECK_EQ(drain(&c, NULL, NULL), 1);
  free(c.arena);
}

static void protocol_unreachable_and_errors_to_sockets(void) {
  struct ctx c;
  setup(&c, NULL);
  microtcp_arp_add_static(c.st, PEER, peer_mac);
  drain(&c, NULL, NULL);
  uint8_t junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  send_ip(&c, 0, PEER, 99, 1, 0, false, 64, junk, sizeof junk);
  uint8_t out[2000];
  size_t len = 0;
  CHECK_EQ(drain(&c, out, &len), 1);
  wire_ipv4 ip;
  wire_icmp ic;
  CHECK_EQ(wire_ipv4_parse(out + 14, len - 14, &ip), 0);
  CHECK_EQ(wire_icmp_parse(ip.payload, ip.payload_len, &ic), 0);
  CHECK_EQ(ic.type, WIRE_ICMP_DEST_UNREACH);
  CHECK_EQ(ic.code, WIRE_ICMP_UNREACH_PROTO);
  CHECK_EQ(ic.payload_len, 28); /* header + 8 bytes quoted */
  CHECK_EQ(microtcp_get_counters(c.st)->drop_ip_proto, 1);
  /* a UDP datagram we send; the peer answers time exceeded quoting it */
  int u = microtcp_udp_bind(c.st, 0, 7777);
  CHECK_EQ(microtcp_udp_sendto(c.st, 0, u, PEER, 53, "q", 1), 1);
  CHECK_EQ(drain(&c, out, &len), 1);
  uint8_t quote[48];
  memcpy(quote, out + 14, 28);
  wire_icmp te = {WIRE_ICMP_TIME_EXCEEDED, 0, 0, 0, quote, 28};
  uint8_t msg[64];
  int ml = wire_icmp_emit(&te, msg, sizeof msg);
  send_ip(&c, 0, PEER, 1, 5, 0, false, 64, msg, (size_t)ml);
  CHECK_EQ(microtcp_socket_error(c.st, u), MICROTCP_EHOSTUNREACH);
  /* an ICMP error quoting a datagram we did not send is ignored */
  wire_put32(quote + 12, 0x0a000099u);
  ml = wire_icmp_emit(&te, msg, sizeof msg);
  send_ip(&c, 0, PEER, 1, 6, 0, false, 64, msg, (size_t)ml);
  CHECK_EQ(microtcp_socket_error(c.st, u), 0);
  /* truncated quotes are counted as malformed */
  wire_icmp shortq = {WIRE_ICMP_DEST_UNREACH, 3, 0, 0, quote, 20};
  ml = wire_icmp_emit(&shortq, msg, sizeof msg);
  send_ip(&c, 0, PEER, 1, 7, 0, false, 64, msg, (size_t)ml);
  CHECK_EQ(microtcp_get_counters(c.st)->drop_icmp_malformed, 1);
  CHECK_EQ(drain(&c, NULL, NULL), 0); /* never an ICMP error about an ICMP error */
  free(c.arena);
}

static void gateway_routing_and_no_route(void) {
  struct ctx c;
  setup(&c, NULL);
  drain(&c, NULL, NULL);
  int u = microtcp_udp_bind(c.st, 0, 0);
  CHECK_EQ(microtcp_udp_sendto(c.st, 0, u, 0x08080808u, 53, "x", 1), MICROTCP_ENETUNREACH);
  CHECK_EQ(microtcp_tcp_connect(c.st, 0, 0x08080808u, 80, 0), MICROTCP_ENETUNREACH);
  free(c.arena);
}

int main(void) {
  RUN(arp_replies_learns_and_detects_conflict);
  RUN(martians_and_bad_checksums_dropped);
  RUN(reassembly_overlap_timeout_and_cap);
  RUN(icmp_echo_rate_limited);
  RUN(protocol_unreachable_and_errors_to_sockets);
  RUN(gateway_routing_and_no_route);
  return check_report();
}
