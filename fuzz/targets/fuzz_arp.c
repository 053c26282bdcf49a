/*
 * ARP target: a sequence of records into a stack whose ARP cache starts
 * empty except for one static entry:
 *
 *   [op] then by op % 4:
 *   0 ARP frame [ctl][op][sha][spa][tpa]: a well-formed request or reply
 *     (ctl bit0: reply) between 10.0.0.<spa> (MAC 02:..:<sha>) and
 *     10.0.0.<tpa>, to our MAC or broadcast (ctl bit1); ctl bit2 replaces
 *     it with the next 28 raw input bytes (malformed ARP reachable too)
 *   1 send a UDP datagram to 10.0.0.<b> (starts resolution, queues frames)
 *   2 advance time [n] × 100 ms (retries, give-up, cache ageing)
 *   3 ping 10.0.0.<b>
 *
 * Invariants: every accepted ARP payload round-trips (roundtrip.h); frames
 * the stack sends are well formed; the static entry is never overwritten;
 * pools bounded; after closing and running time out no frame stays queued
 * or pending.
 */
#include "roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct fz f;
  fz_init(&f);
  int u = microtcp_udp_bind(f.st, 0, 5353);
  if (u < 0) fz_die("bind");
  uint8_t frame[64];
  size_t i = 0;
  while (i < size) {
    uint8_t op = data[i++] % 4;
    if (op == 0 && i + 5 <= size) {
      const uint8_t *a = data + i;
      i += 5;
      uint8_t *p = frame + WIRE_ETH_HLEN;
      if ((a[0] & 4) && i + WIRE_ARP_LEN <= size) {
        memcpy(p, data + i, WIRE_ARP_LEN);
        i += WIRE_ARP_LEN;
      } else {
        wire_arp m;
        memset(&m, 0, sizeof m);
        m.op = (a[0] & 1) ? WIRE_ARP_REPLY : WIRE_ARP_REQUEST;
        uint8_t sha[6] = {2, 0, 0, 0, (uint8_t)(a[0] >> 4), a[2]};
        memcpy(m.sha, sha, 6);
        m.spa = (FZ_PEER_IP & 0xffffff00u) | a[3];
        if (a[0] & 8) memcpy(m.tha, fz_stack_mac, 6);
        m.tpa = (FZ_PEER_IP & 0xffffff00u) | a[4];
        (void)a[1];
        wire_arp_emit(&m, p, WIRE_ARP_LEN);
      }
      wire_arp parsed;
      if (wire_arp_parse(p, WIRE_ARP_LEN, &parsed) == 0) fz_rt_arp(&parsed, p);
      static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
      memcpy(frame, (a[0] & 2) ? bcast : fz_stack_mac, 6);
      memcpy(frame + 6, p + 8, 6); /* Ethernet source = sender hardware address */
      frame[12] = 0x08;
      frame[13] = 0x06;
      /* Ethernet pads to 60 bytes: padding must be ignored */
      memset(frame + WIRE_ETH_HLEN + WIRE_ARP_LEN, a[1], sizeof frame - WIRE_ETH_HLEN - WIRE_ARP_LEN);
      microtcp_input(f.st, f.now, frame, (a[1] & 1) ? 60 : WIRE_ETH_HLEN + WIRE_ARP_LEN);
    } else if (op == 1 && i < size) {
      static const uint8_t msg[600];
      microtcp_udp_sendto(f.st, f.now, u, (FZ_PEER_IP & 0xffffff00u) | data[i], 9, msg,
                          (size_t)(data[i] & 7) * 80u);
      i++;
    } else if (op == 2 && i < size) {
      f.now += (uint64_t)data[i++] * 100000u;
      microtcp_advance(f.st, f.now);
    } else if (op == 3 && i < size) {
      microtcp_ping(f.st, f.now, (FZ_PEER_IP & 0xffffff00u) | data[i], 1, data[i], "x", 1);
      i++;
    } else {
      break;
    }
    fz_drain(&f, NULL, NULL);
    fz_check_bounds(&f);
    uint8_t mac[6];
    if (microtcp_arp_lookup(f.st, FZ_PEER_IP, mac) != 0 || memcmp(mac, fz_peer_mac, 6) != 0)
      fz_die("static ARP entry lost or overwritten");
  }
  microtcp_udp_close(f.st, u);
  microtcp_ping_reply pr;
  while (microtcp_ping_recv(f.st, &pr) >= 0) {
  }
  fz_run_out(&f, 600000000ull);
  fz_check_idle(&f, "ARP left frames pending after time ran out");
  fz_free(&f);
  return 0;
}
