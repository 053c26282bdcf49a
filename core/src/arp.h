/* ARP: neighbour cache, requests/replies, frames waiting for resolution. */
#ifndef MICROTCP_ARP_H
#define MICROTCP_ARP_H
#include <stdint.h>
struct microtcp_stack;
struct frame;
struct carve;

struct arp_state {
  /* owned by arp.c; filled in by its author */
  void *entries;
  uint16_t pending_count;
};

size_t arp_footprint(const microtcp_config *cfg);
int arp_init(struct microtcp_stack *st, struct carve *c, uint64_t now); /* may send gratuitous ARP */
void arp_input(struct microtcp_stack *st, const uint8_t *payload, size_t len, const uint8_t *eth_src);
/* Send frame f (Ethernet header space at f->data[0..13] is filled here) to the
 * neighbour nexthop: at once if resolved, else queued until resolution (bounded:
 * drop_arp_pending_full) and a request is sent. Takes ownership of f. */
void arp_resolve_and_send(struct microtcp_stack *st, struct frame *f, uint32_t nexthop);
uint64_t arp_deadline(const struct microtcp_stack *st);
void arp_advance(struct microtcp_stack *st, uint64_t now);
uint32_t arp_entries_in_use(const struct microtcp_stack *st);
#endif
