/*
 * Internal structure of a stack instance, shared by the core's modules.
 *
 * Module map (one job per file):
 *   stack.c      init/arena carving, frame pool, input dispatch, output queue, deadline,
 *                handles, counters, strerror, ephemeral ports, PRF helpers,
 *                application events (recorded by mtcp_notify, delivered once at
 *                the end of each public call by mtcp_events_deliver)
 *   wire_*.c     stateless parse/emit (see include/microtcp/wire.h)
 *   checksum.c   internet checksum;  siphash.c  keyed PRF
 *   timerheap.c  min-heap of indices keyed by deadlines (TCP's armed blocks)
 *   idxq.h       index-linked queues (frame free list, tx queue, ARP wait list,
 *                TCP's free list, output list and accept queues)
 *   assembler.c  range list of received bytes (TCP out-of-order, IPv4 reassembly)
 *   arp.c        neighbour cache, requests/replies, frames waiting for resolution
 *   ipv4.c       routing, input validation, reassembly, output + fragmentation
 *   icmp.c       echo, errors in and out, rate limit, ping API
 *   udp.c        UDP sockets
 *   tcp_*.c      TCP (see tcp.h)
 *
 * Every module keeps its state in a struct embedded in struct microtcp_stack and
 * takes memory only at init through struct carve. Nothing is static or global.
 *
 * Data path (headers only through wire_*; payload bytes copied once):
 *   in:  microtcp_input ─ wire_eth_parse ─┬─ mtcp_arp_input (wire_arp_parse)
 *                                         └─ mtcp_ipv4_input (wire_ipv4_parse, reassembly
 *                                            into the assembler-tracked pool)
 *                                            ─ mtcp_tcp_input / mtcp_udp_input / mtcp_icmp_input
 *   out: tcp_output.c / udp.c / icmp.c: mtcp_frame_alloc(headroom) → payload → wire_*_emit_header
 *        → mtcp_ipv4_send_frame / mtcp_ipv4_send: frame_push + wire_ipv4_emit (fragments)
 *        → mtcp_arp_resolve_and_send: frame_push + wire_eth_emit, or the ARP wait list
 *        → tx queue → microtcp_output_frame (lent in place) / microtcp_output (one copy)
 *   events: protocol code → mtcp_notify (records the handle, calls nothing)
 *        → mtcp_events_deliver at the end of the public call → cfg.event (may call back in)
 *   timers: TCP blocks with a timer armed sit in a heap keyed by their deadline
 *        (timerheap.c); whatever may change a block's timers touches it
 *        (mtcp_tcb_touch: input demux, API handle, output list, firing, alloc/
 *        terminate/free), and mtcp_events_deliver first re-keys every touched
 *        block (mtcp_tcp_timers_sync). microtcp_deadline = the heap's top;
 *        microtcp_advance visits only due blocks. (core/TCP.md "Timers".)
 */
#ifndef MICROTCP_INTERNAL_H
#define MICROTCP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mem.h"

#include "microtcp/microtcp.h"
#include "microtcp/wire.h"
#include "idxq.h"
#include "invariant.h"

/* ---- arena carving ------------------------------------------------------------ */
/* A bump allocator over the caller's arena, used only during init. With base ==
 * NULL it only counts (footprint computation) and returns NULL. */
struct carve {
  uint8_t *base;
  size_t used, cap;
};
void *mtcp_carve_take(struct carve *c, size_t size);  /* 16-byte aligned, zeroed */
/* The same, not zeroed: memory the stack writes before it reads (the TCP
 * buffer pool), so an arena the OS gives lazily costs RAM only as used. */
void *mtcp_carve_take_raw(struct carve *c, size_t size);

/* ---- frames ------------------------------------------------------------------- */
/* A frame is built in place, back to front, in one pool buffer of
 * mtcp_frame_cap(st) = mtu + 14 bytes: the sender allocates it with headroom for
 * the headers still to come (FRAME_HEADROOM_L4 for a transport segment),
 * writes its header and payload at frame_tail and frame_put()s them, and each
 * layer below frame_push()es its header in front (IPv4, then Ethernet). No
 * layer copies the bytes above it; the finished frame (off == 0) goes on the
 * transmit queue, and microtcp_output_frame lends it to the caller as is. */
#define FRAME_NONE IDXQ_NONE
#define FRAME_HEADROOM_L4 (WIRE_ETH_HLEN + WIRE_IPV4_HLEN)

/* Who holds a frame (checked by MICROTCP_ASSERT at every hand-over). */
enum frame_where { FW_FREE = 0, FW_BUILDING, FW_TXQ, FW_ARP_WAIT, FW_LENT };

struct frame {
  uint16_t next;      /* idxq link: free list, tx queue or ARP wait list */
  uint16_t off;       /* the frame starts at data + off (headroom before it) */
  uint16_t len;       /* bytes of the frame: data[off, off + len) */
  uint8_t where;      /* enum frame_where */
  uint32_t nexthop;   /* while waiting for ARP: the IP to resolve */
  uint8_t *data;      /* capacity: mtcp_frame_cap(st) = mtu + 14 */
};
/* A frame with `headroom` bytes free in front of an empty body; NULL if the
 * pool is empty. */
struct frame *mtcp_frame_alloc(struct microtcp_stack *st, size_t headroom);
void mtcp_frame_free(struct microtcp_stack *st, struct frame *f);
uint16_t mtcp_frame_index(const struct microtcp_stack *st, const struct frame *f);
struct frame *mtcp_frame_at(struct microtcp_stack *st, uint16_t idx);
size_t mtcp_frame_cap(const struct microtcp_stack *st);
/* Where the next body bytes go; frame_tailroom, frame_put and frame_push
 * (inline, below struct microtcp_stack) grow the frame at either end. */
static inline uint8_t *frame_tail(const struct frame *f) { return f->data + f->off + f->len; }
/* Append a complete Ethernet frame (off == 0) to the transmit queue (takes
 * ownership). */
void mtcp_txq_push(struct microtcp_stack *st, struct frame *f);
/* The pool as an idxq element array (frames link through frame.next). */
struct idxq_pool mtcp_frame_pool(const struct microtcp_stack *st);

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
  struct idxq frame_free_q;  /* free frames (used as a stack) */
  struct idxq txq;           /* finished frames, oldest first */
  uint16_t frames_in_use;
  uint16_t tx_lent;          /* frame lent by microtcp_output_frame, or FRAME_NONE */

  /* Application events recorded by protocol code, delivered at the end of the
   * public call (stack.c, "events"): handles [evq_head, evq_len) of evq, at
   * most one per socket slot, oldest first; evq_cap = every socket slot. */
  int *evq;
  uint32_t evq_head, evq_len, evq_cap;
  bool ev_delivering;        /* mtcp_events_deliver is running (a callback is out) */

  uint32_t port_counter;     /* RFC 6056 algorithm 3 table/counter */
  uint32_t ip_id_counter;

  struct arp_state arp;
  struct ipv4_state ip;
  struct icmp_state icmp;
  struct udp_state udp;
  struct tcp_state tcp;
};

/* ---- frame building (inline: once per layer per frame) -------------------------------- */
/* Bytes that still fit behind the frame's body. */
static inline size_t frame_tailroom(const struct microtcp_stack *st, const struct frame *f) {
  size_t cap = (size_t)st->cfg.mtu + WIRE_ETH_HLEN; /* mtcp_frame_cap */
  MICROTCP_ASSERT((size_t)f->off + f->len <= cap);
  return cap - f->off - f->len;
}
/* n bytes were written at frame_tail: make them part of the frame. */
static inline void frame_put(const struct microtcp_stack *st, struct frame *f, size_t n) {
  MICROTCP_ASSERT(f->where == FW_BUILDING);
  MICROTCP_ASSERT(n <= frame_tailroom(st, f));
  (void)st;
  f->len = (uint16_t)(f->len + n);
}
/* Claim n bytes of headroom in front of the frame for a header; returns
 * where it starts (the header is then written there). */
static inline uint8_t *frame_push(struct frame *f, size_t n) {
  MICROTCP_ASSERT(f->where == FW_BUILDING);
  MICROTCP_ASSERT(n <= f->off); /* the sender reserved room for every header */
  f->off = (uint16_t)(f->off - n);
  f->len = (uint16_t)(f->len + n);
  return f->data + f->off;
}

/* ---- helpers shared by modules ------------------------------------------------------ */
void mtcp_trace(struct microtcp_stack *st, int kind, const char *msg, uint32_t a, uint32_t b);
/* Record that a socket's readiness may have changed. Nothing is called here:
 * the event reaches the application (cfg.event) from mtcp_events_deliver, once the
 * public call that caused it has finished its work, so protocol code may
 * record in the middle of a state update. Recording a socket already pending
 * is a no-op (one delivery per socket, with its readiness at delivery time). */
void mtcp_notify(struct microtcp_stack *st, int handle);
/* Deliver every recorded event, oldest first, to cfg.event. Called at the end
 * of every public entry point that can record one. Reentrant: a call into the
 * stack made by the callback records its events and returns; this loop
 * delivers them after the current one, in order (never recursively). */
void mtcp_events_deliver(struct microtcp_stack *st);

/* Keyed PRF: SipHash-2-4 of data under cfg.secret (siphash.c). */
uint64_t microtcp_siphash(const uint8_t key[16], const void *data, size_t len);
uint64_t mtcp_prf(const struct microtcp_stack *st, const void *data, size_t len);

/* RFC 6056 algorithm 3 (double-hash port selection) in the range 49152..65535.
 * in_use(st, port, ctx) tells whether a candidate is taken. Returns the port or
 * MICROTCP_EADDRINUSE when every candidate is taken. */
typedef bool (*port_in_use_fn)(const struct microtcp_stack *st, uint16_t port, const void *ctx);
int mtcp_ephemeral_port(struct microtcp_stack *st, uint8_t proto, uint32_t remote_ip,
                   uint16_t remote_port, port_in_use_fn in_use, const void *ctx);

/* Is ip a martian source (0, broadcast, multicast, loopback, class E, our own)? */
bool mtcp_ipv4_is_martian_src(const struct microtcp_stack *st, uint32_t ip);

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
