/*
 * ARP (RFC 826): neighbour cache, requests/replies, frames waiting for
 * resolution.
 *
 * Cache entries (cfg.arp_entries) are FREE, PENDING (a request is out; frames
 * wait), RESOLVED (aged: arp_ttl_us after the last confirmation) or STATIC
 * (never aged, never overwritten). A RESOLVED entry used since its last
 * confirmation is re-confirmed shortly before it expires: a unicast request to
 * the cached address, then broadcast requests; it stays usable meanwhile and
 * is dropped at expiry if nobody answered. At most cfg.arp_incomplete entries
 * are PENDING: beyond that a new resolution evicts a PENDING one (drawn by the
 * PRF). Otherwise a full cache evicts the least recently used RESOLVED entry,
 * else a PENDING one; never a STATIC one.
 *
 * Frames waiting for resolution form one FIFO (linked through frame.next) of
 * at most cfg.arp_pending frames over all neighbours; when full, the oldest
 * frame of the neighbour with the most frames waiting is dropped for a new one.
 */
#ifndef MICROTCP_ARP_H
#define MICROTCP_ARP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "idxq.h"
struct microtcp_stack;
struct frame;
struct carve;

enum arp_entry_state { ARP_FREE = 0, ARP_PENDING, ARP_RESOLVED, ARP_STATIC };

struct arp_entry {
  uint32_t ip;
  uint8_t mac[6];
  uint8_t state;        /* enum arp_entry_state */
  uint8_t retries;      /* requests sent in the current resolution / refresh */
  bool refreshing;      /* RESOLVED: re-confirmation under way */
  bool used;            /* RESOLVED: a frame went out through it since the last confirmation */
  uint64_t expires;     /* RESOLVED: end of life */
  uint64_t next;        /* PENDING, or RESOLVED while refreshing: next request (or give up) */
  uint64_t last_used;   /* last frame sent through this entry (LRU eviction, refresh) */
  uint64_t asked_at;    /* PENDING: when the resolution started (eviction grace) */
};

struct arp_state {
  struct arp_entry *entries;
  struct idxq wait;              /* frames waiting for resolution (FIFO; .len of them) */
  uint32_t evictions;            /* incomplete entries evicted (PRF input) */
  uint16_t hi;                   /* every entry at or above this index is FREE: scans stop here,
                                  * so a large cache costs only what is in use */
};

int mtcp_arp_init(struct microtcp_stack *st, struct carve *c, uint64_t now);
/* Gratuitous ARP (RFC 5227 2.3 announcement) once the stack is ready, if
 * cfg.arp_gratuitous. */
void mtcp_arp_announce(struct microtcp_stack *st);
/* An Ethernet payload of type ARP arrived (eth_src: the frame's source MAC). */
void mtcp_arp_input(struct microtcp_stack *st, const uint8_t *payload, size_t len, const uint8_t *eth_src);
/* Send frame f (Ethernet header space at f->data[0..13] is filled here) to the
 * neighbour nexthop: at once if resolved, else queued until resolution and a
 * request is sent. Takes ownership of f. Drops (and counts) when the wait
 * queue or the cache has no room: drop_arp_pending_full. nexthop 0xffffffff
 * means Ethernet broadcast. */
void mtcp_arp_resolve_and_send(struct microtcp_stack *st, struct frame *f, uint32_t nexthop);
/* Could n frames to nexthop be sent or queued right now? If not, resolution
 * is still started (so a later attempt can succeed) and the refusal counted
 * once in drop_arp_pending_full. Used by mtcp_ipv4_send to send all fragments of a
 * datagram or none. */
bool mtcp_arp_can_send(struct microtcp_stack *st, uint32_t nexthop, size_t n);
uint64_t mtcp_arp_deadline(const struct microtcp_stack *st);
void mtcp_arp_advance(struct microtcp_stack *st, uint64_t now);
uint32_t mtcp_arp_entries_in_use(const struct microtcp_stack *st);
#endif
