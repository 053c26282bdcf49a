/*
 * Helpers for the network-layer unit tests (test_arp/ipv4/icmp/udp.c): one
 * stack instance ("me", 10.0.0.2/24) driven with frames crafted by the wire
 * emitters, and its output frames popped and parsed. Header-only.
 */
#ifndef MICROTCP_TEST_NETCRAFT_H
#define MICROTCP_TEST_NETCRAFT_H
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "internal.h"

#define ME 0x0a000002u   /* 10.0.0.2 */
#define PEER 0x0a000007u /* 10.0.0.7, on-link */
#define GW 0x0a000001u   /* 10.0.0.1 */
#define ME_MAC ((const uint8_t[6]){2, 0, 0, 0, 0, 0x02})
#define PEER_MAC ((const uint8_t[6]){2, 0, 0, 0, 0, 0x07})
#define BCAST_MAC ((const uint8_t[6]){0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
#define ZERO_MAC ((const uint8_t[6]){0})

struct host {
  void *arena;
  microtcp_stack *st;
  uint64_t now;
  int traces[8];            /* count per MICROTCP_TRACE_* kind */
  uint32_t last_trace_a;
  int events;               /* event callback calls */
  int last_event_handle;
  unsigned last_event_ready;
};

static inline void host_on_trace(void *c, uint64_t now, int kind, const char *msg, uint32_t a,
                          uint32_t b) {
  (void)now, (void)msg, (void)b;
  struct host *h = c;
  if (kind > 0 && kind < 8) h->traces[kind]++;
  h->last_trace_a = a;
}

static inline void host_on_event(void *c, int handle, unsigned ready) {
  struct host *h = c;
  h->events++;
  h->last_event_handle = handle;
  h->last_event_ready = ready;
}

/* A config for "me": defaults, no gratuitous ARP (tests that want it set it). */
static inline void host_config(microtcp_config *cfg) {
  microtcp_config_default(cfg);
  cfg->ip = ME;
  cfg->netmask = 0xffffff00u;
  memcpy(cfg->mac, ME_MAC, 6);
  cfg->arp_gratuitous = false;
  cfg->frames = 64;
  for (int i = 0; i < 16; i++) cfg->secret[i] = (uint8_t)(i + 1);
}

/* Create the stack from cfg (callbacks wired to h). */
static inline void host_init(struct host *h, microtcp_config *cfg) {
  memset(h, 0, sizeof *h);
  cfg->trace = host_on_trace;
  cfg->trace_ctx = h;
  cfg->event = host_on_event;
  cfg->event_ctx = h;
  size_t n = microtcp_footprint(cfg);
  h->arena = aligned_alloc(16, (n + 15) & ~(size_t)15);
  h->st = microtcp_init(h->arena, n, cfg, 0, NULL);
  if (!h->st) {
    fprintf(stderr, "microtcp_init failed\n");
    exit(2);
  }
}

static inline void host_default(struct host *h) {
  microtcp_config cfg;
  host_config(&cfg);
  host_init(h, &cfg);
}

static inline void host_free(struct host *h) { free(h->arena); }

static inline const microtcp_counters *ctr(const struct host *h) { return microtcp_get_counters(h->st); }

static inline microtcp_pool_usage usage(const struct host *h) {
  microtcp_pool_usage u;
  microtcp_get_pool_usage(h->st, &u);
  return u;
}

static inline void advance_to(struct host *h, uint64_t t) {
  h->now = t;
  microtcp_advance(h->st, t);
}

/* Pop the next output frame into buf (cap 9100); returns its length, 0 if none. */
static inline int pop(struct host *h, uint8_t *buf) {
  int n = microtcp_output(h->st, h->now, buf, 9100);
  return n > 0 ? n : 0;
}

/* Pop and discard every output frame; returns how many there were. */
static inline int drain(struct host *h) {
  static uint8_t buf[9100];
  int n = 0;
  while (pop(h, buf) > 0) n++;
  return n;
}

/* ---- crafting input ------------------------------------------------------------ */
static inline void put_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type) {
  wire_eth e;
  memcpy(e.dst, dst, 6);
  memcpy(e.src, src, 6);
  e.ethertype = type;
  (void)wire_eth_emit(&e, f, 14);
}

static inline void inject_arp(struct host *h, const uint8_t *eth_dst, uint16_t op, const uint8_t *sha,
                       uint32_t spa, const uint8_t *tha, uint32_t tpa) {
  uint8_t f[60] = {0};
  put_eth(f, eth_dst, sha, WIRE_ETHERTYPE_ARP);
  wire_arp a;
  a.op = op;
  memcpy(a.sha, sha, 6);
  a.spa = spa;
  memcpy(a.tha, tha, 6);
  a.tpa = tpa;
  (void)wire_arp_emit(&a, f + 14, 28);
  microtcp_input(h->st, h->now, f, sizeof f);
}

/* Options of a crafted IPv4 packet. */
struct ipspec {
  uint32_t src, dst;
  uint8_t proto, ttl;
  uint16_t id, frag_off; /* offset in bytes */
  bool mf;
  const uint8_t *eth_src; /* default PEER_MAC */
};

static inline struct ipspec ip_from_peer(uint8_t proto) {
  struct ipspec s = {PEER, ME, proto, 64, 1, 0, false, NULL};
  return s;
}

/* Build Ethernet + IPv4 (+ payload) into f; returns the frame length. */
static inline size_t craft_ip(uint8_t *f, const struct ipspec *s, const uint8_t *payload, size_t len) {
  put_eth(f, ME_MAC, s->eth_src ? s->eth_src : PEER_MAC, WIRE_ETHERTYPE_IPV4);
  wire_ipv4 ip;
  memset(&ip, 0, sizeof ip);
  ip.total_len = (uint16_t)(20 + len);
  ip.id = s->id;
  ip.frag_offset = s->frag_off;
  ip.mf = s->mf;
  ip.ttl = s->ttl;
  ip.proto = s->proto;
  ip.src = s->src;
  ip.dst = s->dst;
  (void)wire_ipv4_emit(&ip, f + 14, 20);
  memcpy(f + 34, payload, len);
  return 34 + len;
}

static inline void inject_ip(struct host *h, const struct ipspec *s, const uint8_t *payload, size_t len) {
  static uint8_t f[70000];
  size_t n = craft_ip(f, s, payload, len);
  microtcp_input(h->st, h->now, f, n);
}

/* A UDP datagram (header + data, checksum filled) into out; returns its length. */
static inline size_t craft_udp(uint8_t *out, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                        const void *data, size_t len) {
  wire_udp u;
  memset(&u, 0, sizeof u);
  u.src_port = sport;
  u.dst_port = dport;
  u.length = (uint16_t)(8 + len);
  u.payload = data;
  u.payload_len = len;
  return (size_t)wire_udp_emit(src, dst, &u, out, 8 + len);
}

/* An ICMP message (header + payload, checksum filled) into out; returns its length. */
static inline size_t craft_icmp(uint8_t *out, uint8_t type, uint8_t code, uint32_t rest,
                         const void *payload, size_t len) {
  wire_icmp m;
  memset(&m, 0, sizeof m);
  m.type = type;
  m.code = code;
  m.rest = rest;
  m.payload = payload;
  m.payload_len = len;
  return (size_t)wire_icmp_emit(&m, out, 8 + len);
}

/* Send one UDP datagram from PEER:sport to ME:dport. */
static inline void inject_udp(struct host *h, uint16_t sport, uint16_t dport, const void *data,
                       size_t len) {
  static uint8_t u[70000];
  size_t n = craft_udp(u, PEER, ME, sport, dport, data, len);
  struct ipspec s = ip_from_peer(WIRE_IP_PROTO_UDP);
  inject_ip(h, &s, u, n);
}

/* ---- parsing output ---------------------------------------------------------------- */
/* Parse an output frame as Ethernet + IPv4; false if it is not one. */
static inline bool parse_ip_frame(const uint8_t *f, size_t n, wire_eth *eth, wire_ipv4 *ip) {
  if (wire_eth_parse(f, n, eth) < 0 || eth->ethertype != WIRE_ETHERTYPE_IPV4) return false;
  if (wire_ipv4_parse(eth->payload, eth->payload_len, ip) < 0) return false;
  return wire_ipv4_checksum_ok(eth->payload, ip->ihl_bytes);
}

static inline bool parse_arp_frame(const uint8_t *f, size_t n, wire_eth *eth, wire_arp *a) {
  if (wire_eth_parse(f, n, eth) < 0 || eth->ethertype != WIRE_ETHERTYPE_ARP) return false;
  return wire_arp_parse(eth->payload, eth->payload_len, a) == 0;
}

/* Answer "me"'s ARP for PEER so IP frames leave at once. */
static inline void learn_peer(struct host *h) {
  inject_arp(h, ME_MAC, WIRE_ARP_REQUEST, PEER_MAC, PEER, ZERO_MAC, ME);
  drain(h);
}
#endif
