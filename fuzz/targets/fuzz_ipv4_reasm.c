/*
 * IPv4 reassembly target: a sequence of fragments fed to one stack.
 *
 *   record: [id][offset/8 hi][offset/8 lo][flags][len/8] then len × 8 bytes
 *   flags: bit0 MF, bit1 UDP (else ICMP), bit2 TCP instead, bit3 the
 *   fragment is delivered twice, bit4 advance time 10 s first (timeouts),
 *   bit5 a non-multiple-of-8 length (len × 8 - 3), bit6 the ID is from the
 *   peer's second address 10.0.0.3 (separate reassembly key).
 *
 * The first fragment of each datagram (offset 0) carries a UDP header for
 * port 9 or an ICMP echo request from the input's bytes. Invariants: no
 * crash; reassembly memory within reasm_slots / reasm_bytes; output well
 * formed; a reassembled datagram delivered to the UDP socket is no longer
 * than the fragments sent; after the reassembly timeout, nothing held.
 */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct fz f;
  fz_init(&f);
  int u = microtcp_udp_bind(f.st, 0, 9);
  if (u < 0) fz_die("bind");
  static uint8_t frame[1700], buf[70000];
  size_t i = 0, sent_bytes = 0;
  while (i + 5 <= size) {
    uint8_t id = data[i], fl = data[i + 3];
    uint16_t off8 = (uint16_t)(((data[i + 1] << 8) | data[i + 2]) & 0x1fff);
    size_t len = (size_t)data[i + 4] * 8u;
    if ((fl & 32) && len >= 8) len -= 3;
    i += 5;
    if (len > size - i) len = size - i;
    if (len > 1400) len = 1400;
    uint8_t proto = (fl & 4) ? WIRE_IP_PROTO_TCP : (fl & 2) ? WIRE_IP_PROTO_UDP : WIRE_IP_PROTO_ICMP;
    size_t n = fz_frame(frame, sizeof frame, proto, data + i, len, id, (uint16_t)(off8 * 8), fl & 1, 0);
    i += len;
    if (!n) continue;
    if (fl & 64) { /* another source: rewrite the address and the header checksum */
      wire_put32(frame + 14 + 12, FZ_PEER_IP + 2);
      frame[14 + 10] = frame[14 + 11] = 0;
      wire_put16(frame + 14 + 10, wire_csum(frame + 14, 20));
      microtcp_arp_add_static(f.st, FZ_PEER_IP + 2, fz_peer_mac);
    }
    if (fl & 16) {
      f.now += 10000000u;
      microtcp_advance(f.st, f.now);
    }
    sent_bytes += len;
    microtcp_input(f.st, f.now, frame, n);
    if (fl & 8) microtcp_input(f.st, f.now, frame, n);
    f.now += 1000;
    microtcp_advance(f.st, f.now);
    fz_check_bounds(&f);
    fz_drain(&f, NULL, NULL);
    int r;
    while ((r = microtcp_udp_recvfrom(f.st, f.now, u, buf, sizeof buf, NULL)) >= 0)
      if ((size_t)r + 8 > sent_bytes * 2 + 8) fz_die("reassembled a datagram larger than what was sent");
  }
  microtcp_udp_close(f.st, u);
  microtcp_ping_reply pr;
  while (microtcp_ping_recv(f.st, &pr) >= 0) {
  }
  fz_run_out(&f, 120000000ull);
  fz_check_idle(&f, "reassembly memory not released after the timeout");
  fz_free(&f);
  return 0;
}
