/*
 * Ethernet frame target: one raw frame into a stack that has a TCP listener,
 * a UDP socket and an established-looking ARP entry, and the same bytes
 * walked through every layer's parser with parse → emit → parse round trips
 * (roundtrip.h) wherever a parse succeeds.
 *
 * Invariants: no crash or sanitizer report; every frame the stack sends is
 * well formed (harness.h); pools stay within the config; after closing the
 * sockets and running the clock out, every pool is empty again.
 */
#include "roundtrip.h"

static void walk_layers(const uint8_t *data, size_t size) {
  wire_eth e;
  if (wire_eth_parse(data, size, &e) != 0) return;
  fz_rt_eth(&e, data);
  if (e.payload != data + WIRE_ETH_HLEN || e.payload_len != size - WIRE_ETH_HLEN)
    fz_die("eth payload bounds");
  if (e.ethertype == WIRE_ETHERTYPE_ARP) {
    wire_arp a;
    if (wire_arp_parse(e.payload, e.payload_len, &a) == 0) fz_rt_arp(&a, e.payload);
    return;
  }
  wire_ipv4 ip;
  if (wire_ipv4_parse(e.payload, e.payload_len, &ip) != 0) return;
  if (ip.payload != e.payload + ip.ihl_bytes || ip.ihl_bytes + ip.payload_len > e.payload_len)
    fz_die("ipv4 payload bounds");
  fz_rt_ipv4(&ip, e.payload);
  if (ip.mf || ip.frag_offset) return; /* upper header only in the first fragment */
  if (ip.proto == WIRE_IP_PROTO_TCP) {
    wire_tcp t;
    if (wire_tcp_parse(ip.payload, ip.payload_len, &t) == 0) fz_rt_tcp(&t, ip.src, ip.dst);
  } else if (ip.proto == WIRE_IP_PROTO_UDP) {
    wire_udp u;
    if (wire_udp_parse(ip.payload, ip.payload_len, &u) == 0) fz_rt_udp(&u, ip.src, ip.dst);
  } else if (ip.proto == WIRE_IP_PROTO_ICMP) {
    wire_icmp ic;
    if (wire_icmp_parse(ip.payload, ip.payload_len, &ic) == 0) fz_rt_icmp(&ic, ip.payload);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  walk_layers(data, size);

  struct fz f;
  fz_init(&f);
  int l = microtcp_tcp_listen(f.st, 0, 80, 4);
  int u = microtcp_udp_bind(f.st, 0, 53);
  if (l < 0 || u < 0) fz_die("listen/bind");
  microtcp_input(f.st, 0, data, size);
  fz_check_bounds(&f);
  fz_drain(&f, NULL, NULL);
  /* whatever got accepted or queued is consumed, then everything closed */
  uint8_t buf[2048];
  while (microtcp_udp_recvfrom(f.st, 0, u, buf, sizeof buf, NULL) >= 0) {
  }
  int c = microtcp_tcp_accept(f.st, 0, l, NULL);
  if (c >= 0) microtcp_tcp_abort(f.st, 0, c);
  microtcp_tcp_close(f.st, f.now, l);
  microtcp_udp_close(f.st, u);
  fz_run_out(&f, 300000000ull);
  fz_check_idle(&f, "pools not empty after closing everything");
  fz_free(&f);
  return 0;
}
