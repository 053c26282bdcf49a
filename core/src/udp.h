/* UDP sockets. */
#ifndef MICROTCP_UDP_H
#define MICROTCP_UDP_H
#include <stdbool.h>
#include <stdint.h>
struct microtcp_stack;
struct carve;
struct wire_ipv4;

struct udp_sock {
  bool in_use;
  uint16_t gen;
  uint16_t port;
  int16_t err;
  uint32_t q_head, q_len;  /* ring of records: [u16 len][u32 ip][u16 port][data] */
  uint16_t q_count;        /* datagrams queued */
  uint8_t *q;              /* cfg.udp_rcvq bytes */
};

struct udp_state {
  struct udp_sock *socks;
  uint16_t in_use;
};

size_t udp_footprint(const microtcp_config *cfg);
int udp_init(struct microtcp_stack *st, struct carve *c);
/* ip->payload is the UDP datagram; ip_pkt/ip_len the whole IP packet (for ICMP
 * port unreachable; NULL for reassembled datagrams, which then quote nothing). */
void udp_input(struct microtcp_stack *st, const struct wire_ipv4 *ip, const uint8_t *ip_pkt,
               size_t ip_len);
/* An ICMP error quoting a UDP datagram we sent (quoted = its IP header view). */
void udp_icmp_error(struct microtcp_stack *st, int err, const struct wire_ipv4 *quoted);
unsigned udp_poll(const struct microtcp_stack *st, int h);
int udp_socket_error(struct microtcp_stack *st, int h);
int udp_local_port(const struct microtcp_stack *st, int h);
#endif
