/* One Ethernet frame into a stack with a TCP listener and a UDP socket, plus
 * every parser on the same bytes. Invariants: no crash, bounded pools, and
 * after closing everything and running time out, pools back to zero. */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct fz f;
  fz_init(&f);
  int l = microtcp_tcp_listen(f.st, 0, 80, 4);
  int u = microtcp_udp_bind(f.st, 0, 53);
  microtcp_input(f.st, 0, data, size);
  fz_check_bounds(&f);
  fz_drain(&f, NULL, NULL);
  /* the same bytes through each parser directly, at several offsets */
  for (size_t off = 0; off <= 34 && off <= size; off += 14) {
    wire_ipv4 ip;
    wire_tcp t;
    wire_udp ud;
    wire_icmp ic;
    wire_arp a;
    wire_eth e;
    (void)wire_eth_parse(data + off, size - off, &e);
    (void)wire_arp_parse(data + off, size - off, &a);
    if (wire_ipv4_parse(data + off, size - off, &ip) == 0) (void)wire_ipv4_checksum_ok(data + off, ip.ihl_bytes);
    (void)wire_tcp_parse(data + off, size - off, &t);
    (void)wire_udp_parse(data + off, size - off, &ud);
    if (wire_icmp_parse(data + off, size - off, &ic) == 0) {
      wire_ipv4 q;
      (void)wire_icmp_quoted(&ic, &q);
    }
  }
  microtcp_tcp_close(f.st, f.now, l);
  microtcp_udp_close(f.st, u);
  fz_run_out(&f, 300000000ull);
  microtcp_pool_usage pu;
  microtcp_get_pool_usage(f.st, &pu);
  if (pu.tcp || pu.listeners || pu.udp || pu.frames || pu.reasm_slots || pu.arp_pending)
    fz_die("leak after closing everything");
  fz_free(&f);
  return 0;
}
