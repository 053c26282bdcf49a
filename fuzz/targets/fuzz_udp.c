/*
 * UDP target: records against a stack with UDP sockets on ports 53 and
 * 5000 (plus whatever the fuzzer binds):
 *
 *   [op] then by op % 4:
 *   0 datagram [ctl][len][bytes]: ctl&1 → the next len bytes are a raw UDP
 *     header + payload (lengths and checksum as the fuzzer wrote them);
 *     otherwise a well-formed datagram to port {53, 5000, 9, 0}[ctl>>1 & 3]
 *     with len payload bytes. Each parsed datagram is round-tripped.
 *   1 recvfrom on socket [n % 3] (a full datagram read must return exactly
 *     what was sent, from the peer)
 *   2 sendto [n] × 97 bytes (fragmented above the MTU) / bind / close
 *   3 advance time [n] × 50 ms
 *
 * Invariants: round trips, well-formed output, pools bounded, pools empty
 * after closing every socket.
 */
#include "roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct fz f;
  fz_init(&f);
  int socks[3] = {microtcp_udp_bind(f.st, 0, 53), microtcp_udp_bind(f.st, 0, 5000), -1};
  if (socks[0] < 0 || socks[1] < 0) fz_die("bind");
  static const uint16_t ports[4] = {53, 5000, 9, 0};
  static uint8_t seg[1600], frame[1700], buf[70000];
  size_t i = 0;
  while (i < size) {
    uint8_t op = data[i++] % 4;
    if (op == 0 && i + 2 <= size) {
      uint8_t ctl = data[i], len = data[i + 1];
      i += 2;
      size_t n = len;
      if (n > size - i) n = size - i;
      size_t l4;
      if (ctl & 1) {
        memcpy(seg, data + i, n);
        l4 = n;
      } else {
        wire_udp u;
        memset(&u, 0, sizeof u);
        u.src_port = (uint16_t)(1024 + ctl);
        u.dst_port = ports[(ctl >> 1) & 3];
        u.payload = data + i;
        u.payload_len = n;
        int e = wire_udp_emit(FZ_PEER_IP, FZ_STACK_IP, &u, seg, sizeof seg);
        if (e < 0) fz_die("udp emit");
        l4 = (size_t)e;
      }
      i += n;
      wire_udp p;
      if (wire_udp_parse(seg, l4, &p) == 0) fz_rt_udp(&p, FZ_PEER_IP, FZ_STACK_IP);
      size_t fl = fz_frame(frame, sizeof frame, WIRE_IP_PROTO_UDP, seg, l4, (uint16_t)i, 0, 0, 0);
      if (fl) microtcp_input(f.st, f.now, frame, fl);
    } else if (op == 1 && i < size) {
      int h = socks[data[i++] % 3];
      if (h < 0) continue;
      microtcp_endpoint from;
      int r = microtcp_udp_recvfrom(f.st, f.now, h, buf, sizeof buf, &from);
      if (r >= 0 && (from.ip != FZ_PEER_IP || r > 65507)) fz_die("recvfrom: wrong source or size");
    } else if (op == 2 && i < size) {
      uint8_t b = data[i++];
      int k = b % 3;
      if ((b & 0xc0) == 0xc0) {
        if (socks[k] >= 0) microtcp_udp_close(f.st, socks[k]);
        socks[k] = -1;
      } else if ((b & 0xc0) == 0x80) {
        if (socks[k] < 0) socks[k] = microtcp_udp_bind(f.st, f.now, 0);
      } else if (socks[k] >= 0) {
        size_t n = (size_t)(b & 0x3f) * 1100u;
        memset(buf, b, n);
        int r = microtcp_udp_sendto(f.st, f.now, socks[k], FZ_PEER_IP, 7, buf, n);
        if (r >= 0 && (size_t)r != n) fz_die("sendto returned a partial length");
      }
    } else if (op == 3 && i < size) {
      f.now += (uint64_t)data[i++] * 50000u;
      microtcp_advance(f.st, f.now);
    } else {
      break;
    }
    fz_drain(&f, NULL, NULL);
    fz_check_bounds(&f);
  }
  for (int k = 0; k < 3; k++)
    if (socks[k] >= 0 && microtcp_udp_close(f.st, socks[k]) != 0) fz_die("close of an open socket failed");
  fz_run_out(&f, 120000000ull);
  fz_check_idle(&f, "UDP pools not empty after closing");
  fz_free(&f);
  return 0;
}
