/*
 * Internal structure of a stack instance, shared by the core's modules.
 *
 * Module map (one job per file):
 *   stack.c      init/arena carving, input dispatch, output queue, deadline,
 *                handles, counters, strerror, ephemeral ports, PRF helpers,
 *                application events (recorded by notify, delivered once at
 *                the end of each public call by events_deliver)
 *   wire_*.c     stateless parse/emit (see include/microtcp/wire.h)
 *   checksum.c   internet checksum;  siphash.c  keyed PRF
 *   arp.c        neighbour cache, requests/replies, frames waiting for resolution
 *   ipv4.c       routing, input validation, reassembly, output + fragmentation
 *   icmp.c       echo, errors in and out, rate limit, ping API
 *   udp.c        UDP sockets
 *   tcp_*.c      TCP (see tcp.h)
 *
 * Every module keeps its state in a struct embedded in struct microtcp_stack and
 * takes memory only at init through struct carve. Nothing is static or global.
 */
#ifndef MICROTCP_INTERNAL_H
#define MICROTCP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "microtcp/microtcp.h"
#include "microtcp/wire.h"
#include "invariant.h"

/* ---- arena carving ------------------------------------------------------------ */
/* A bump allocator over the caller's arena, used only during init. With base ==
 * NULL it only counts (footprint computation) and returns NULL. */
struct carve {
  uint8_t *base;
  size_t used, cap;
};
void *carve_take(struct carve *c, size_t size);  /* 16-byte aligned, zeroed */

/* ---- frames ------------------------------------------------------------------- */
#define FRAME_NONE 0xffffu
struct frame {
  uint16_t next;      /* list link (free list, tx queue or ARP wait list) */
  uint16_t len;       /* bytes used in data */
  uint32_t nexthop;   /* while waiting for ARP: the IP to resolve */
  uint8_t *data;      /* capacity: frame_cap(st) = mtu + 14 */
};
struct frame *frame_alloc(struct microtcp_stack *st);         /* NULL if pool empty */
void frame_free(struct microtcp_stack *st, struct frame *f);
uint16_t frame_index(const struct microtcp_stack *st, const struct frame *f);
struct frame *frame_at(struct microtcp_stack *st, uint16_t idx);
size_t frame_cap(const struct microtcp_stack *st);
/* Append a complete Ethernet frame to the transmit queue (takes ownership). */
void txq_push(struct microtcp_stack *st, struct frame *f);

/* ---- handles -------------------------------------------------------------------- */
/* handle = kind << 28 | gen << 16 | index; always >= 0. */
enum handle_kind { HK_NONE = 0, HK_TCP = 1, HK_LISTENER = 2, HK_UDP = 3 };
static inline int handle_make(int kind, uint16_t gen, uint16_t idx) {
  return (int)(((uint32_t)kind << 28) | ((uint32_t)(gen & 0x0fffu) << 16) | idx);
}
static inline int handle_kind(int h) { return h < 0 ? HK_NONE : (int)((uint32_t)h >> 28); }
static inline uint16_t handle_gen(int h) { return (uint16_t)(((uint32_t)h >> 16) & 0x0fffu); }
static inline uint16_t handle_index(int h) { return (uint16_t)((uint32_t)h & 0xffffu); }

/* ---- module states (contents owned by each module's header) ------------------------ */
#include "arp.h"
#include "icmp.h"
#include "ipv4.h"
#include "tcp.h"
#include "udp.h"

struct microtcp_stack {
  microtcp_config cfg;
  uint64_t now;              /* latest time seen (monotonic) */
  bool rx_link_bcast;        /* the frame being processed came to the link-layer
                              * broadcast address (RFC 1122 3.2.2: no ICMP error) */
  microtcp_counters ctr;

  /* frame pool */
  struct frame *frames;
  uint16_t frame_free_head;
  uint16_t frames_in_use;
  uint16_t txq_head, txq_tail;
  uint16_t txq_len;

  /* Application events recorded by protocol code, delivered at the end of the
   * public call (stack.c, "events"): handles [evq_head, evq_len) of evq, at
   * most one per socket slot, oldest first; evq_cap = every socket slot. */
  int *evq;
  uint32_t evq_head, evq_len, evq_cap;
  bool ev_delivering;        /* events_deliver is running (a callback is out) */

  uint32_t port_counter;     /* RFC 6056 algorithm 3 table/counter */
  uint32_t ip_id_counter;

  struct arp_state arp;
  struct ipv4_state ip;
  struct icmp_state icmp;
  struct udp_state udp;
  struct tcp_state tcp;
};

/* ---- helpers shared by modules ------------------------------------------------------ */
void trace(struct microtcp_stack *st, int kind, const char *msg, uint32_t a, uint32_t b);
/* Record that a socket's readiness may have changed. Nothing is called here:
 * the event reaches the application (cfg.event) from events_deliver, once the
 * public call that caused it has finished its work, so protocol code may
 * record in the middle of a state update. Recording a socket already pending
 * is a no-op (one delivery per socket, with its readiness at delivery time). */
void notify(struct microtcp_stack *st, int handle);
/* Deliver every recorded event, oldest first, to cfg.event. Called at the end
 * of every public entry point that can record one. Reentrant: a call into the
 * stack made by the callback records its events and returns; this loop
 * delivers them after the current one, in order (never recursively). */
void events_deliver(struct microtcp_stack *st);

/* Keyed PRF: SipHash-2-4 of data under cfg.secret (siphash.c). */
uint64_t microtcp_siphash(const uint8_t key[16], const void *data, size_t len);
uint64_t prf(const struct microtcp_stack *st, const void *data, size_t len);

/* RFC 6056 algorithm 3 (double-hash port selection) in the range 49152..65535.
 * in_use(st, port, ctx) tells whether a candidate is taken. Returns the port or
 * MICROTCP_EADDRINUSE when every candidate is taken. */
typedef bool (*port_in_use_fn)(const struct microtcp_stack *st, uint16_t port, const void *ctx);
int ephemeral_port(struct microtcp_stack *st, uint8_t proto, uint32_t remote_ip,
                   uint16_t remote_port, port_in_use_fn in_use, const void *ctx);

/* Is ip a martian source (0, broadcast, multicast, loopback, class E, our own)? */
bool ipv4_is_martian_src(const struct microtcp_stack *st, uint32_t ip);

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
