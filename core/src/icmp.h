/* ICMP: echo, errors in and out, rate limit, ping API. */
#ifndef MICROTCP_ICMP_H
#define MICROTCP_ICMP_H
#include <stddef.h>
#include <stdint.h>
struct microtcp_stack;
struct carve;
struct wire_ipv4;
struct microtcp_ping_reply;

struct icmp_state {
  struct microtcp_ping_reply *ping_replies; /* ring of cfg.ping_queue */
  uint16_t ping_head, ping_len;
  uint64_t tokens_micro;  /* token bucket, in millionths of a token */
  uint64_t last_refill;
};

int mtcp_icmp_init(struct microtcp_stack *st, struct carve *c);
void mtcp_icmp_input(struct microtcp_stack *st, const struct wire_ipv4 *ip);
/* Send an ICMP error (type/code/rest) quoting the offending datagram: its IP
 * header and the first 8 bytes of its payload (ip_pkt points at the IP header,
 * len bytes available). Rate limited; never sent in answer to ICMP errors,
 * broadcasts or fragments other than the first (RFC 1122 3.2.2). */
void mtcp_icmp_send_error(struct microtcp_stack *st, uint8_t type, uint8_t code, uint32_t rest,
                     const struct wire_ipv4 *orig, const uint8_t *ip_pkt, size_t len);
#endif
