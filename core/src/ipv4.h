/* IPv4: routing, input validation, reassembly, output and fragmentation. */
#ifndef MICROTCP_IPV4_H
#define MICROTCP_IPV4_H
#include <stdbool.h>
#include <stdint.h>
struct microtcp_stack;
struct frame;
struct carve;

#define REASM_MAX_RANGES 16
struct reasm_slot {
  bool in_use;
  bool have_last;
  uint8_t proto;
  uint8_t nranges;
  uint16_t id;
  uint32_t src, dst;
  uint32_t total;          /* payload length, known once the last fragment arrived */
  uint32_t received;       /* payload bytes held */
  uint64_t expires;
  uint8_t *buf;            /* cap: reasm_bytes / reasm_slots */
  uint8_t hdr[60];         /* first fragment's IP header (for ICMP quoting) */
  uint8_t hdr_len;
  struct { uint32_t start, end; } ranges[REASM_MAX_RANGES];
};

struct ipv4_state {
  struct reasm_slot *reasm;
  uint32_t reasm_slot_cap;   /* bytes of buffer per slot */
  uint32_t reasm_bytes_used;
  uint16_t reasm_slots_used;
};

size_t ipv4_footprint(const microtcp_config *cfg);
int ipv4_init(struct microtcp_stack *st, struct carve *c);
/* An Ethernet payload of type IPv4 arrived. */
void ipv4_input(struct microtcp_stack *st, const uint8_t *pkt, size_t len);
/* The L4 bytes are already at f->data + 14 + 20 (l4_len bytes). Write the IPv4
 * and Ethernet headers and route: on-link → ARP for dst, else ARP for the
 * gateway. Takes ownership of f. Returns 0, MICROTCP_ENETUNREACH or
 * MICROTCP_EMSGSIZE (frame freed in both cases). */
int ipv4_send_frame(struct microtcp_stack *st, struct frame *f, uint32_t dst, uint8_t proto,
                    size_t l4_len, bool df);
/* Copy hdr then data into as many frames as needed (fragmenting at the MTU,
 * DF clear). Returns 0, MICROTCP_ENOMEM (not enough frames: nothing sent),
 * MICROTCP_EMSGSIZE (> 65515 bytes) or MICROTCP_ENETUNREACH. */
int ipv4_send(struct microtcp_stack *st, uint32_t dst, uint8_t proto, const void *hdr,
              size_t hdr_len, const void *data, size_t data_len);
/* Next hop for dst (dst itself if on-link, the gateway otherwise, 0xffffffff
 * for broadcasts), 0 if none. */
uint32_t ipv4_route(const struct microtcp_stack *st, uint32_t dst);
uint64_t ipv4_deadline(const struct microtcp_stack *st);
void ipv4_advance(struct microtcp_stack *st, uint64_t now);
#endif
