/*
 * Shared helpers for the fuzz targets: building a stack in a malloc'd arena,
 * crafting frames with correct checksums, draining output, and the invariant
 * checks every target applies (pool usage bounded by the config, back to zero
 * when everything is closed and time has run out).
 */
#ifndef MICROTCP_FUZZ_HARNESS_H
#define MICROTCP_FUZZ_HARNESS_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "microtcp/microtcp.h"
#include "microtcp/wire.h"

#define FZ_STACK_IP 0x0a000002u
#define FZ_PEER_IP 0x0a000001u
static const uint8_t fz_stack_mac[6] = {2, 0, 0, 0, 0, 2};
static const uint8_t fz_peer_mac[6] = {2, 0, 0, 0, 0, 1};

struct fz {
  void *arena;
  microtcp_stack *st;
  microtcp_config cfg;
  uint64_t now;
};

static inline void fz_die(const char *why) {
  fprintf(stderr, "fuzz invariant violated: %s\n", why);
  abort();
}

/* Arenas are reused across inputs: a fresh malloc of ~200 KiB per input
 * costs an mmap/munmap pair under ASan and made every target ~5x slower.
 * Each arena is filled with a fixed pattern before init, so no state of a
 * previous input can leak into the next one (the core must not assume a
 * zeroed arena). */
#define FZ_ARENAS 2
#define FZ_ARENA_SIZE (1u << 20)
static _Alignas(16) uint8_t fz_arena_mem[FZ_ARENAS][FZ_ARENA_SIZE];
static bool fz_arena_busy[FZ_ARENAS];

static inline void *fz_arena_get(size_t n) {
  for (int i = 0; i < FZ_ARENAS; i++) {
    if (!fz_arena_busy[i] && n <= FZ_ARENA_SIZE) {
      fz_arena_busy[i] = true;
      memset(fz_arena_mem[i], 0xa5, n);
      return fz_arena_mem[i];
    }
  }
  void *p = aligned_alloc(16, (n + 15) & ~(size_t)15);
  if (!p) fz_die("arena allocation");
  memset(p, 0xa5, n);
  return p;
}

static inline void fz_arena_put(void *p) {
  for (int i = 0; i < FZ_ARENAS; i++) {
    if (p == fz_arena_mem[i]) {
      fz_arena_busy[i] = false;
      return;
    }
  }
  free(p);
}

static inline void fz_init(struct fz *f) {
  microtcp_config *c = &f->cfg;
  microtcp_config_default(c);
  memcpy(c->mac, fz_stack_mac, 6);
  c->ip = FZ_STACK_IP;
  c->max_tcp = 8;
  c->tcp_sndbuf = c->tcp_rcvbuf = 8192;
  c->frames = 32;
  c->reasm_slots = 2;
  c->reasm_bytes = 8192;
  c->tcp_rto_min_us = 200000;
  c->tcp_msl_us = 1000000;
  c->arp_gratuitous = false;
  size_t n = microtcp_footprint(c);
  f->arena = fz_arena_get(n);
  f->st = microtcp_init(f->arena, n, c, 0, NULL);
  if (!f->st) fz_die("init");
  f->now = 0;
  microtcp_arp_add_static(f->st, FZ_PEER_IP, fz_peer_mac);
}

static inline void fz_free(struct fz *f) { fz_arena_put(f->arena); }

/* Every pool except the ARP cache must be empty (all sockets closed, all
 * timers run out). */
static inline void fz_check_idle(const struct fz *f, const char *why) {
  microtcp_pool_usage u;
  microtcp_get_pool_usage(f->st, &u);
  if (u.tcp || u.listeners || u.udp || u.frames || u.arp_pending || u.reasm_slots || u.reasm_bytes) {
    fprintf(stderr, "pools: tcp %u listeners %u udp %u frames %u arp_pending %u reasm %u/%u bytes\n",
            u.tcp, u.listeners, u.udp, u.frames, u.arp_pending, u.reasm_slots, u.reasm_bytes);
    fz_die(why);
  }
}

/* Every frame the stack sends must be well formed at every layer: it parses,
 * its IPv4 header checksum verifies, unfragmented TCP/UDP/ICMP checksums
 * verify, and it fits the MTU. */
static inline void fz_verify_output(const struct fz *f, const uint8_t *buf, size_t len) {
  wire_eth e;
  if (len > (size_t)f->cfg.mtu + 14) fz_die("stack sent a frame above the MTU");
  if (wire_eth_parse(buf, len, &e) != 0) fz_die("stack sent a malformed Ethernet frame");
  if (memcmp(e.src, f->cfg.mac, 6) != 0) fz_die("stack sent a frame from a foreign MAC");
  if (e.ethertype == WIRE_ETHERTYPE_ARP) {
    wire_arp a;
    if (wire_arp_parse(e.payload, e.payload_len, &a) != 0) fz_die("stack sent a malformed ARP");
    return;
  }
  if (e.ethertype != WIRE_ETHERTYPE_IPV4) fz_die("stack sent an unknown ethertype");
  wire_ipv4 ip;
  if (wire_ipv4_parse(e.payload, e.payload_len, &ip) != 0) fz_die("stack sent a malformed IPv4 header");
  if (!wire_ipv4_checksum_ok(e.payload, ip.ihl_bytes)) fz_die("stack sent a bad IPv4 checksum");
  if (ip.src != f->cfg.ip) fz_die("stack sent from a foreign IP");
  if (ip.mf || ip.frag_offset) return; /* L4 checksum spans fragments */
  if (ip.proto == WIRE_IP_PROTO_TCP) {
    wire_tcp t;
    if (wire_tcp_parse(ip.payload, ip.payload_len, &t) != 0) fz_die("stack sent a malformed TCP segment");
    if (!wire_tcp_checksum_ok(ip.src, ip.dst, ip.payload, ip.payload_len)) fz_die("stack sent a bad TCP checksum");
  } else if (ip.proto == WIRE_IP_PROTO_UDP) {
    wire_udp u;
    if (wire_udp_parse(ip.payload, ip.payload_len, &u) != 0 || u.length != ip.payload_len)
      fz_die("stack sent a malformed UDP datagram");
    if (!wire_udp_checksum_ok(ip.src, ip.dst, ip.payload, ip.payload_len)) fz_die("stack sent a bad UDP checksum");
  } else if (ip.proto == WIRE_IP_PROTO_ICMP) {
    if (ip.payload_len < WIRE_ICMP_HLEN || wire_csum(ip.payload, ip.payload_len) != 0)
      fz_die("stack sent a bad ICMP message");
  }
}

/* Drain output, verifying every frame; call cb on each (may be NULL).
 * Returns the number of frames. */
static inline int fz_drain(struct fz *f, void (*cb)(void *, const uint8_t *, size_t), void *ctx) {
  uint8_t buf[1600];
  int n, count = 0;
  while ((n = microtcp_output(f->st, f->now, buf, sizeof buf)) > 0) {
    fz_verify_output(f, buf, (size_t)n);
    if (cb) cb(ctx, buf, (size_t)n);
    if (++count > 100000) fz_die("unbounded output");
  }
  return count;
}

static inline void fz_check_bounds(const struct fz *f) {
  microtcp_pool_usage u;
  microtcp_get_pool_usage(f->st, &u);
  if (u.tcp > f->cfg.max_tcp || u.listeners > f->cfg.max_listeners || u.udp > f->cfg.max_udp ||
      u.frames > f->cfg.frames || u.reasm_bytes > f->cfg.reasm_bytes ||
      u.reasm_slots > f->cfg.reasm_slots || u.arp_pending > f->cfg.arp_pending)
    fz_die("pool usage above its bound");
}

/* Run time forward far enough for every timer (TIME_WAIT, retransmissions,
 * reassembly, ARP) to finish, draining output. */
static inline void fz_run_out(struct fz *f, uint64_t span) {
  uint64_t end = f->now + span;
  for (int i = 0; i < 100000; i++) {
    fz_drain(f, NULL, NULL);
    uint64_t d = microtcp_deadline(f->st);
    if (d > end) break;
    if (d > f->now) f->now = d;
    microtcp_advance(f->st, f->now);
  }
  f->now = end;
  microtcp_advance(f->st, f->now);
  fz_drain(f, NULL, NULL);
}

/* Wrap an IPv4 payload (proto) from the peer in IPv4 + Ethernet; fix checksums
 * of the L4 header when fix_l4 is set. Returns the frame length. */
static inline size_t fz_frame(uint8_t *out, size_t cap, uint8_t proto, const uint8_t *l4,
                              size_t l4len, uint16_t id, uint16_t frag_off, int mf, int fix_l4) {
  if (cap < 34 + l4len || l4len > 1480) return 0;
  memcpy(out, fz_stack_mac, 6);
  memcpy(out + 6, fz_peer_mac, 6);
  out[12] = 0x08;
  out[13] = 0x00;
  wire_ipv4 ip;
  memset(&ip, 0, sizeof ip);
  ip.total_len = (uint16_t)(20 + l4len);
  ip.id = id;
  ip.frag_offset = frag_off;
  ip.mf = mf != 0;
  ip.ttl = 64;
  ip.proto = proto;
  ip.src = FZ_PEER_IP;
  ip.dst = FZ_STACK_IP;
  wire_ipv4_emit(&ip, out + 14, 20);
  memcpy(out + 34, l4, l4len);
  uint8_t *p = out + 34;
  if (fix_l4 && proto == WIRE_IP_PROTO_TCP && l4len >= 20) {
    p[16] = p[17] = 0;
    uint32_t s = wire_csum_pseudo(FZ_PEER_IP, FZ_STACK_IP, proto, (uint16_t)l4len);
    wire_put16(p + 16, wire_csum_fold(wire_csum_partial(s, p, l4len)));
  } else if (fix_l4 && proto == WIRE_IP_PROTO_UDP && l4len >= 8) {
    wire_put16(p + 4, (uint16_t)l4len);
    p[6] = p[7] = 0;
    uint32_t s = wire_csum_pseudo(FZ_PEER_IP, FZ_STACK_IP, proto, (uint16_t)l4len);
    wire_put16(p + 6, wire_csum_fold(wire_csum_partial(s, p, l4len)));
  } else if (fix_l4 && proto == WIRE_IP_PROTO_ICMP && l4len >= 8) {
    p[2] = p[3] = 0;
    wire_put16(p + 2, wire_csum(p, l4len));
  }
  return 34 + l4len;
}
#endif
