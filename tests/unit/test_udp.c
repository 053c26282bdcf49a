/*
 * UDP (udp.c) driven with crafted frames into one instance: binding (fixed and
 * ephemeral ports, exhaustion), the bounded per-socket queue (order, sender,
 * truncation, wrap-around, overflow), checksums (zero accepted), port
 * unreachable, and ICMP errors reaching the socket only for quotes that hold
 * its UDP header.
 */
#include "netcraft.h"

static void bind_fixed_and_ephemeral_ports(void) {
  struct host h;
  microtcp_config cfg;
  host_config(&cfg);
  cfg.max_udp = 3;
  host_init(&h, &cfg);
  int a = microtcp_udp_bind(h.st, 0, 5000);
  CHECK(a >= 0);
  CHECK_EQ(microtcp_local_port(h.st, a), 5000);
  CHECK_EQ(microtcp_udp_bind(h.st, 0, 5000), MICROTCP_EADDRINUSE);
  int b = microtcp_udp_bind(h.st, 0, 0);
  int c = microtcp_udp_bind(h.st, 0, 0);
  CHECK(b >= 0 && c >= 0);
  int pb = microtcp_local_port(h.st, b), pc = microtcp_local_port(h.st, c);
  CHECK(pb >= 49152 && pb <= 65535); /* RFC 6056 2.1: the IANA dynamic range */
  CHECK(pc >= 49152 && pc <= 65535);
  CHECK(pb != pc);
  /* every socket taken: a clear error, for fixed and ephemeral ports alike */
  CHECK_EQ(microtcp_udp_bind(h.st, 0, 6000), MICROTCP_ENOMEM);
  CHECK_EQ(microtcp_udp_bind(h.st, 0, 0), MICROTCP_ENOMEM);
  CHECK_EQ(usage(&h).udp, 3);
  /* close frees the port and the slot; the old handle is dead */
  CHECK_EQ(microtcp_udp_close(h.st, a), MICROTCP_OK);
  CHECK_EQ(microtcp_udp_close(h.st, a), MICROTCP_EBADF);
  int a2 = microtcp_udp_bind(h.st, 0, 5000);
  CHECK(a2 >= 0 && a2 != a);
  CHECK_EQ(microtcp_udp_recvfrom(h.st, 0, a, NULL, 0, NULL), MICROTCP_EBADF);
  host_free(&h);
}

static void datagrams_queue_in_order_with_sender_and_truncate(void) {
  struct host h;
  host_default(&h);
  int u = microtcp_udp_bind(h.st, 0, 9);
  inject_udp(&h, 1111, 9, "first", 5);
  inject_udp(&h, 2222, 9, "second!", 7);
  inject_udp(&h, 3333, 9, "", 0);
  CHECK_EQ(ctr(&h)->udp_datagrams_in, 3);
  CHECK(microtcp_poll(h.st, u) & MICROTCP_READABLE);
  char buf[16];
  microtcp_endpoint from;
  CHECK_EQ(microtcp_udp_recvfrom(h.st, 0, u, buf, sizeof buf, &from), 5);
  CHECK(memcmp(buf, "first", 5) == 0);
  CHECK_EQ(from.ip, PEER);
  CHECK_EQ(from.port, 1111);
  /* a short buffer gets the head; the full length is returned, the rest dropped */
  CHECK_EQ(microtcp_udp_recvfrom(h.st, 0, u, buf, 3, &from), 7);
  CHECK(memcmp(buf, "sec", 3) == 0);
  CHECK_EQ(from.port, 2222);
  /* an empty datagram, read with no buffer at all */
  CHECK_EQ(microtcp_udp_recvfrom(h.st, 0, u, NULL, 0, &from), 0);
  CHECK_EQ(from.port, 3333);
  CHECK_EQ(microtcp_udp_recvfrom(h.st, 0, u, buf, sizeof buf, NULL), MICROTCP_EAGAIN);
  CHECK(!(microtcp_poll(h.st, u) & MICROTCP_READABLE));
  CHECK_EQ(microtcp_udp_recvfrom(h.st, 0, u, NULL, 4, NULL), MICROTCP_EINVAL);
  host_free(&h);
}

/* udp_rcvq bytes hold records of 8 + payload bytes; one that does not fit is
 * dropped and counted, and the ring wraps without corrupting anything. */
static void queue_is_bounded_and_wraps(void) {
  struct host h;
  microtcp_config cfg;
  host_config(&cfg);
  cfg.udp_rcvq = 100;
  host_init(&h, &cfg);
  int u = microtcp_udp_bind(h.st, 0, 9);
  uint8_t sent[2][64], r[64];
  size_t len[2] = {40, 40};
  for (int i = 0; i < 64; i++) sent[0][i] = sent[1][i] = (uint8_t)(i * 5 + 1);
  inject_udp(&h, 1, 9, sent[0], 40); /* 48 bytes queued */
  inject_udp(&h, 2, 9, sent[1], 40); /* 96 */
  inject_udp(&h, 3, 9, "x", 0);      /* 104 > 100: dropped */
  CHECK_EQ(ctr(&h)->drop_udp_queue_full, 1);
  CHECK_EQ(ctr(&h)->udp_datagrams_in, 2);
  /* keep one record queued while another goes in and out: the ring's start
   * moves through every offset, so records straddle its end */
  for (int round = 0; round < 40; round++) {
    int old = round & 1;
    CHECK_EQ(microtcp_udp_recvfrom(h.st, 0, u, r, sizeof r, NULL), (int)len[old]);
    CHECK(memcmp(r, sent[old], len[old]) == 0);
    len[old] = (size_t)(1 + (round * 7) % 44); /* 8 + 44 = 52 bytes free at most */
    for (size_t i = 0; i < len[old]; i++) sent[old][i] = (uint8_t)(round * 31 + i);
    inject_udp(&h, 4, 9, sent[old], len[old]);
  }
  CHECK_EQ(ctr(&h)->drop_udp_queue_full, 1);
  CHECK_EQ(microtcp_udp_recvfrom(h.st, 0, u, r, sizeof r, NULL), (int)len[0]);
  CHECK(memcmp(r, sent[0], len[0]) == 0);
  CHECK_EQ(microtcp_udp_recvfrom(h.st, 0, u, r, sizeof r, NULL), (int)len[1]);
  CHECK(memcmp(r, sent[1], len[1]) == 0);
  host_free(&h);
}

static void zero_checksum_is_accepted_and_bad_checksum_dropped(void) {
  struct host h;
  host_default(&h);
  int u = microtcp_udp_bind(h.st, 0, 9);
  uint8_t dg[32];
  size_t n = craft_udp(dg, PEER, ME, 1000, 9, "abc", 3);
  struct ipspec s = ip_from_peer(WIRE_IP_PROTO_UDP);
  dg[6] = dg[7] = 0; /* RFC 768: no checksum computed */
  inject_ip(&h, &s, dg, n);
  char buf[8];
  CHECK_EQ(microtcp_udp_recvfrom(h.st, 0, u, buf, sizeof buf, NULL), 3);
  n = craft_udp(dg, PEER, ME, 1000, 9, "abc", 3);
  dg[8] ^= 1; /* payload changed after the checksum */
  inject_ip(&h, &s, dg, n);
  CHECK_EQ(ctr(&h)->drop_udp_checksum, 1);
  CHECK_EQ(microtcp_udp_recvfrom(h.st, 0, u, buf, sizeof buf, NULL), MICROTCP_EAGAIN);
  /* a UDP length field larger than the IP payload is malformed */
  n = craft_udp(dg, PEER, ME, 1000, 9, "abc", 3);
  wire_put16(dg + 4, 30);
  inject_ip(&h, &s, dg, n);
  CHECK_EQ(ctr(&h)->drop_udp_malformed, 1);
  host_free(&h);
}

static void nothing_bound_gets_port_unreachable_except_for_broadcasts(void) {
  struct host h;
  host_default(&h);
  learn_peer(&h);
  inject_udp(&h, 1234, 4321, "hello?", 6);
  CHECK_EQ(ctr(&h)->drop_udp_no_port, 1);
  uint8_t f[9100];
  wire_eth eth;
  wire_ipv4 ip;
  wire_icmp m;
  CHECK(parse_ip_frame(f, (size_t)pop(&h, f), &eth, &ip));
  CHECK_EQ(ip.dst, PEER);
  CHECK_EQ(wire_icmp_parse(ip.payload, ip.payload_len, &m), 0);
  CHECK_EQ(m.type, WIRE_ICMP_DEST_UNREACH);
  CHECK_EQ(m.code, WIRE_ICMP_UNREACH_PORT);
  CHECK_EQ(m.payload_len, 28); /* the IP header and the UDP header */
  CHECK_EQ(wire_get16(m.payload + 20), 1234);
  CHECK_EQ(wire_get16(m.payload + 22), 4321);
  /* RFC 1122 3.2.2: never for a datagram sent to a broadcast address */
  uint8_t dg[32];
  size_t n = craft_udp(dg, PEER, 0xffffffffu, 1234, 4321, "b", 1);
  struct ipspec s = ip_from_peer(WIRE_IP_PROTO_UDP);
  s.dst = 0xffffffffu;
  inject_ip(&h, &s, dg, n);
  CHECK_EQ(ctr(&h)->drop_udp_no_port, 2);
  CHECK_EQ(drain(&h), 0);
  /* ... nor for one sent to us in a link-layer broadcast frame */
  n = craft_udp(dg, PEER, ME, 1234, 4321, "c", 1);
  static uint8_t bf[128];
  size_t fl = craft_ip(bf, &(struct ipspec){PEER, ME, WIRE_IP_PROTO_UDP, 64, 2, 0, false, NULL}, dg, n);
  memcpy(bf, BCAST_MAC, 6);
  microtcp_input(h.st, h.now, bf, fl);
  CHECK_EQ(ctr(&h)->drop_udp_no_port, 3);
  CHECK_EQ(drain(&h), 0);
  /* the same datagram in a unicast frame is answered */
  memcpy(bf, ME_MAC, 6);
  microtcp_input(h.st, h.now, bf, fl);
  CHECK_EQ(ctr(&h)->drop_udp_no_port, 4);
  CHECK_EQ(drain(&h), 1);
  host_free(&h);
}

/* An ICMP error from the gateway quoting (IP header + 8 bytes of) a datagram
 * we sent from sport; frag_off is the quoted header's fragment offset. */
static void inject_quoted_error(struct host *h, uint16_t sport, uint16_t frag_off) {
  uint8_t q[64], udp[16], m[128];
  size_t un = craft_udp(udp, ME, PEER, sport, 53, "data", 4);
  struct ipspec qs = {ME, PEER, WIRE_IP_PROTO_UDP, 64, 9, frag_off, frag_off != 0, NULL};
  (void)craft_ip(q, &qs, udp, un);
  size_t n = craft_icmp(m, WIRE_ICMP_DEST_UNREACH, WIRE_ICMP_UNREACH_PORT, 0, q + 14, 28);
  struct ipspec s = ip_from_peer(WIRE_IP_PROTO_ICMP);
  s.src = GW;
  inject_ip(h, &s, m, n);
}

static void icmp_errors_reach_the_socket_only_through_a_udp_header_quote(void) {
  struct host h;
  host_default(&h);
  int u = microtcp_udp_bind(h.st, 0, 5555);
  /* a later fragment's quote starts with data, not ports: not ours to judge */
  inject_quoted_error(&h, 5555, 1480);
  CHECK_EQ(ctr(&h)->icmp_errors_in, 1);
  CHECK_EQ(microtcp_socket_error(h.st, u), 0);
  inject_quoted_error(&h, 5555, 0);
  CHECK_EQ(microtcp_socket_error(h.st, u), MICROTCP_EPORTUNREACH);
  /* a port nobody has bound: nothing happens */
  inject_quoted_error(&h, 5556, 0);
  CHECK_EQ(microtcp_socket_error(h.st, u), 0);
  CHECK_EQ(drain(&h), 0);
  host_free(&h);
}

int main(void) {
  RUN(bind_fixed_and_ephemeral_ports);
  RUN(datagrams_queue_in_order_with_sender_and_truncate);
  RUN(queue_is_bounded_and_wraps);
  RUN(zero_checksum_is_accepted_and_bad_checksum_dropped);
  RUN(nothing_bound_gets_port_unreachable_except_for_broadcasts);
  RUN(icmp_errors_reach_the_socket_only_through_a_udp_header_quote);
  return check_report();
}
