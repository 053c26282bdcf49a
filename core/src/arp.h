/* ARP: neighbour cache, requests/replies, frames waiting for resolution. */
#ifndef MICROTCP_ARP_H
#define MICROTCP_ARP_H
#include <stdint.h>
struct microtcp_stack;
struct frame;
struct carve;

struct arp_entry {
  uint32_t ip;
  uint8_t mac[6];
  uint8_t state;        /* ARP_FREE, ARP_PENDING, ARP_RESOLVED, ARP_STATIC */
  uint8_t retries;      /* requests sent while pending / refreshing */
  uint8_t refreshing;   /* resolved entry being re-confirmed before expiry */
  uint64_t expires;     /* RESOLVED: end of life; PENDING: next retry */
  uint64_t last_used;
};

struct arp_state {
  struct arp_entry *entries;
  uint16_t wait_head, wait_tail; /* frames waiting for resolution (FIFO) */
  uint16_t pending_count;
};

size_t arp_footprint(const microtcp_config *cfg);
int arp_init(struct microtcp_stack *st, struct carve *c, uint64_t now);
/* Gratuitous ARP (RFC 5227 announcement) once the stack is ready, if configured. */
void arp_announce(struct microtcp_stack *st);
void arp_input(struct microtcp_stack *st, const uint8_t *payload, size_t len, const uint8_t *eth_src);
/* Send frame f (Ethernet header space at f->data[0..13] is filled here) to the
 * neighbour nexthop: at once if resolved, else queued until resolution (bounded:
 * drop_arp_pending_full) and a request is sent. Takes ownership of f.
 * nexthop 0xffffffff means Ethernet broadcast. */
void arp_resolve_and_send(struct microtcp_stack *st, struct frame *f, uint32_t nexthop);
uint64_t arp_deadline(const struct microtcp_stack *st);
void arp_advance(struct microtcp_stack *st, uint64_t now);
uint32_t arp_entries_in_use(const struct microtcp_stack *st);
#endif
