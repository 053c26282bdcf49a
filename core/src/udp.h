/*
 * UDP sockets (RFC 768): bound to a local port, unconnected; each has a
 * bounded receive queue of cfg.udp_rcvq bytes holding records
 * [u16 len][u32 src ip][u16 src port][data], so a datagram costs 8 bytes more
 * than its payload.
 */
#ifndef MICROTCP_UDP_H
#define MICROTCP_UDP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
struct microtcp_stack;
struct carve;
struct wire_ipv4;

struct udp_sock {
  bool in_use;
  uint16_t gen;            /* handle generation (12 bits), moves on at bind and close */
  uint16_t port;
  int16_t err;             /* pending MICROTCP_E* from an ICMP error, 0 if none */
  uint32_t q_head, q_len;  /* ring of records (see above) */
  uint16_t q_count;        /* datagrams queued */
  uint8_t *q;              /* cfg.udp_rcvq bytes */
};

struct udp_state {
  struct udp_sock *socks;
  uint16_t in_use;
};

int mtcp_udp_init(struct microtcp_stack *st, struct carve *c);
/* ip->payload is the UDP datagram; ip_pkt/ip_len what an ICMP port
 * unreachable may quote (the IP header and at least the UDP header; for a
 * reassembled datagram the first fragment's header and 8 bytes), or NULL. */
void mtcp_udp_input(struct microtcp_stack *st, const struct wire_ipv4 *ip, const uint8_t *ip_pkt,
               size_t ip_len);
/* An ICMP error quoting a UDP datagram we sent (quoted = its IP header view):
 * err (MICROTCP_EPORTUNREACH, EHOSTUNREACH, ...) becomes the pending error of
 * the socket bound to the quoted source port. */
void mtcp_udp_icmp_error(struct microtcp_stack *st, int err, const struct wire_ipv4 *quoted);
/* Readiness of handle h (0 for a bad handle). */
unsigned mtcp_udp_poll(const struct microtcp_stack *st, int h);
/* Pending error of h and clear it (0 if none), or MICROTCP_EBADF. */
int mtcp_udp_socket_error(struct microtcp_stack *st, int h);
/* Bound port of h, or MICROTCP_EBADF. */
int mtcp_udp_local_port(const struct microtcp_stack *st, int h);
#endif
