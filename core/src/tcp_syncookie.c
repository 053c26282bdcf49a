/*
 * SYN cookies (RFC 4987 3.6): when a listener's half-open queue or the
 * connection pool is full, a SYN is answered with a SYN-ACK whose ISN encodes
 * what the handshake needs, and no state is kept; the ACK that completes the
 * handshake proves the peer saw it, and the connection is built from it.
 *
 * The cookie (our ISN), for the connection's 4-tuple and the peer's ISN:
 *
 *   cookie = H1(tuple) + peer_isn + (t << 24) + ((H2(tuple, t) + mss_index) mod 2^24)
 *
 * t is a 64-second period counter (now / 64 s, its low 8 bits on the wire),
 * H1 and H2 are the stack's keyed PRF (SipHash over cfg.secret), mss_index
 * picks the peer's MSS from a table of four (536, 1300, 1440, 1460: the
 * largest not above the MSS of its SYN, 536 if it asked for less, as Linux).
 * Checking an ACK: subtract H1 and peer_isn (= SEG.SEQ - 1), read t from the
 * top 8 bits (accepted if from this period or the one before: a cookie lives
 * 64 to 128 s), subtract H2(tuple, t) from the low 24 bits: a valid cookie
 * leaves an index below 4. A blind attacker must guess 24 bits of keyed hash
 * per attempt. The structure is Linux's (net/ipv4/syncookies.c); the code is
 * ours.
 *
 * What a cookie cannot carry: the peer's window scale, SACK-permitted and
 * timestamps (Linux hides them in the TS value; we do not). A cookie SYN-ACK
 * therefore offers only MSS, and the connection runs without those options
 * (64 KiB window, no SACK): degraded, but it completes while the queue is
 * flooded.
 */
#include "tcp_int.h"

static const uint16_t cookie_mss[4] = {536, 1300, 1440, 1460};

#define COOKIE_PERIOD_US (64ull * 1000000u)

static uint32_t cookie_hash(const struct microtcp_stack *st, uint8_t which, uint32_t rip,
                            uint16_t rport, uint16_t lport, uint32_t period) {
  uint8_t in[20];
  memcpy(in, "syn", 3);
  in[3] = which;
  wire_put32(in + 4, st->cfg.ip);
  wire_put32(in + 8, rip);
  wire_put16(in + 12, lport);
  wire_put16(in + 14, rport);
  wire_put32(in + 16, period);
  return (uint32_t)mtcp_prf(st, in, which == 1 ? 16 : sizeof in);
}

uint32_t mtcp_tcp_syncookie_make(const struct microtcp_stack *st, uint32_t rip, uint16_t rport,
                            uint16_t lport, uint32_t peer_isn, uint16_t peer_mss) {
  uint32_t idx = 0;
  for (uint32_t i = 0; i < 4; i++)
    if (cookie_mss[i] <= peer_mss) idx = i;
  uint32_t t = (uint32_t)(st->now / COOKIE_PERIOD_US);
  return cookie_hash(st, 1, rip, rport, lport, 0) + peer_isn + (t << 24) +
         ((cookie_hash(st, 2, rip, rport, lport, t) + idx) & 0xffffffu);
}

uint16_t mtcp_tcp_syncookie_check(const struct microtcp_stack *st, uint32_t rip, uint16_t rport,
                             uint16_t lport, uint32_t peer_isn, uint32_t cookie) {
  uint32_t v = cookie - cookie_hash(st, 1, rip, rport, lport, 0) - peer_isn;
  uint32_t now_t = (uint32_t)(st->now / COOKIE_PERIOD_US);
  uint32_t age = (now_t - (v >> 24)) & 0xffu;
  if (age > 1) return 0;
  uint32_t t = now_t - age;
  uint32_t idx = ((v & 0xffffffu) - cookie_hash(st, 2, rip, rport, lport, t)) & 0xffffffu;
  return idx < 4 ? cookie_mss[idx] : 0;
}

void mtcp_tcp_syncookie_send_synack(struct microtcp_stack *st, uint32_t rip, uint16_t lport,
                               uint16_t rport, uint32_t iss, uint32_t ack) {
  struct frame *f = mtcp_frame_alloc(st, FRAME_HEADROOM_L4);
  if (!f) {
    st->ctr.drop_tx_queue_full++;
    return;
  }
  wire_tcp h;
  memset(&h, 0, sizeof h);
  h.src_port = lport;
  h.dst_port = rport;
  h.seq = iss;
  h.ack = ack;
  h.flags = WIRE_TCP_SYN | WIRE_TCP_ACK;
  h.window = (uint16_t)MIN(st->cfg.tcp_rcvbuf, 65535u); /* no window scaling */
  h.opts.has_mss = true;
  h.opts.mss = st->cfg.tcp_mss;
  int n = wire_tcp_emit_header(st->cfg.ip, rip, &h, frame_tail(f), frame_tailroom(st, f));
  if (n < 0) {
    mtcp_frame_free(st, f);
    return;
  }
  frame_put(st, f, (size_t)n);
  st->ctr.tcp_syncookies_sent++;
  st->ctr.tcp_segments_out++;
  (void)mtcp_ipv4_send_frame(st, f, rip, WIRE_IP_PROTO_TCP, true);
}
