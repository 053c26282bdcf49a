/*
 * Stateful TCP: a stack with a listener and one established connection, fed
 * records [time delta][op][args]. Segments are expressed relative to the
 * connection's current sequence numbers (learned from the stack's own output),
 * so in-window data, SACK blocks, FINs and RSTs are reachable; checksums are
 * always valid. Invariants: no crash, pools bounded, and after closing and
 * running the clock out (60 min), no leak.
 *
 * Ops: 0 segment [flags][seq Δ][ack Δ][win][len/8][opt bits]
 *      1 app send [n/64]   2 app recv   3 close/shutdown/abort [which]
 *      4 advance time [×10 ms]   5 SYN to the listener from a new port
 */
#include "harness.h"

#define PEER_PORT 40000

struct st8 {
  struct fz f;
  uint32_t peer_nxt;      /* next sequence number the peer sends */
  uint32_t stack_nxt;     /* highest sequence the stack has sent (+1) */
  uint32_t stack_tsval;   /* last TS val the stack sent */
  uint32_t ts;            /* peer's TS clock */
  int conn, listener;
  uint16_t next_port;
};

static void learn(void *ctx, const uint8_t *frame, size_t len) {
  struct st8 *s = ctx;
  wire_eth e;
  wire_ipv4 ip;
  wire_tcp t;
  if (wire_eth_parse(frame, len, &e) || e.ethertype != WIRE_ETHERTYPE_IPV4) return;
  if (wire_ipv4_parse(e.payload, e.payload_len, &ip) || ip.proto != WIRE_IP_PROTO_TCP) return;
  if (wire_tcp_parse(ip.payload, ip.payload_len, &t) || t.dst_port != PEER_PORT) return;
  if (!wire_tcp_checksum_ok(ip.src, ip.dst, ip.payload, ip.payload_len)) fz_die("stack sent a bad TCP checksum");
  uint32_t end = t.seq + (uint32_t)t.payload_len + ((t.flags & (WIRE_TCP_SYN | WIRE_TCP_FIN)) ? 1u : 0u);
  if ((int32_t)(end - s->stack_nxt) > 0 || s->stack_nxt == 0) s->stack_nxt = end;
  if (t.opts.has_ts) s->stack_tsval = t.opts.ts_val;
}

static void send_seg(struct st8 *s, uint16_t sport, uint32_t seq, uint32_t ack, uint8_t flags,
                     uint16_t win, const uint8_t *payload, size_t plen, uint8_t optbits) {
  uint8_t seg[1600], frame[1700];
  wire_tcp t;
  memset(&t, 0, sizeof t);
  t.src_port = sport;
  t.dst_port = 80;
  t.seq = seq;
  t.ack = ack;
  t.flags = flags;
  t.window = win;
  if (flags & WIRE_TCP_SYN) {
    t.opts.has_mss = true;
    t.opts.mss = (optbits & 4) ? 64 : 1460;
    t.opts.has_ws = true;
    t.opts.ws = 7;
    t.opts.sack_permitted = true;
  }
  t.opts.has_ts = true; /* negotiated in the handshake: always present */
  t.opts.ts_val = s->ts += (optbits & 8) ? 0xfffff000u : 1; /* bit 3: jump back (PAWS) */
  t.opts.ts_ecr = s->stack_tsval;
  if (optbits & 1) {
    t.opts.sack_count = 1 + ((optbits >> 1) & 1);
    for (int i = 0; i < t.opts.sack_count; i++) {
      t.opts.sack[i].left = s->stack_nxt - 1000u * (uint32_t)(i + 2) + optbits;
      t.opts.sack[i].right = t.opts.sack[i].left + 500u + 300u * (uint32_t)i;
    }
  }
  t.payload = payload;
  t.payload_len = plen;
  int n = wire_tcp_emit(FZ_PEER_IP, FZ_STACK_IP, &t, seg, sizeof seg);
  if (n < 0) return;
  size_t fl = fz_frame(frame, sizeof frame, WIRE_IP_PROTO_TCP, seg, (size_t)n, 0, 0, 0, 0);
  if (fl) microtcp_input(s->f.st, s->f.now, frame, fl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct st8 s;
  memset(&s, 0, sizeof s);
  fz_init(&s.f);
  s.listener = microtcp_tcp_listen(s.f.st, 0, 80, 4);
  s.next_port = 41000;
  /* handshake */
  s.peer_nxt = 1000;
  s.ts = 100;
  send_seg(&s, PEER_PORT, s.peer_nxt, 0, WIRE_TCP_SYN, 65535, NULL, 0, 0);
  fz_drain(&s.f, learn, &s);
  s.peer_nxt++;
  s.f.now += 1000;
  send_seg(&s, PEER_PORT, s.peer_nxt, s.stack_nxt, WIRE_TCP_ACK, 512, NULL, 0, 0);
  fz_drain(&s.f, learn, &s);
  s.conn = microtcp_tcp_accept(s.f.st, s.f.now, s.listener, NULL);
  if (s.conn < 0) fz_die("handshake did not complete");

  static const uint8_t payload[1400]; /* zeros */
  uint8_t rbuf[4096];
  size_t i = 0;
  while (i + 2 <= size) {
    s.f.now += (uint64_t)data[i] * 997u;
    microtcp_advance(s.f.st, s.f.now);
    uint8_t op = data[i + 1] % 6;
    i += 2;
    if (op == 0 && i + 6 <= size) {
      uint8_t flags = data[i];
      int8_t sd = (int8_t)data[i + 1], ad = (int8_t)data[i + 2];
      uint16_t win = data[i + 3];
      size_t len = (size_t)(data[i + 4] & 0x7f) * 8u;
      uint8_t ob = data[i + 5];
      i += 6;
      uint32_t seq = s.peer_nxt + (uint32_t)(sd * 97);
      uint32_t ack = s.stack_nxt + (uint32_t)(ad * 53);
      if (flags & 0x80) flags = (uint8_t)(flags & ~WIRE_TCP_SYN); /* keep SYNs rarer */
      send_seg(&s, PEER_PORT, seq, ack, flags, win, payload, len, ob);
      if (seq == s.peer_nxt)
        s.peer_nxt += (uint32_t)len + ((flags & WIRE_TCP_FIN) ? 1u : 0u);
    } else if (op == 1 && i < size) {
      microtcp_tcp_send(s.f.st, s.f.now, s.conn, payload, (size_t)data[i++] * 64u % 1400u);
    } else if (op == 2) {
      (void)microtcp_tcp_recv(s.f.st, s.f.now, s.conn, rbuf, sizeof rbuf);
    } else if (op == 3 && i < size) {
      uint8_t w = data[i++] % 8;
      if (w == 0) microtcp_tcp_shutdown(s.f.st, s.f.now, s.conn);
      if (w == 1) microtcp_tcp_close(s.f.st, s.f.now, s.conn);
      if (w == 2) microtcp_tcp_abort(s.f.st, s.f.now, s.conn);
    } else if (op == 4 && i < size) {
      s.f.now += (uint64_t)data[i++] * 10000u;
      microtcp_advance(s.f.st, s.f.now);
    } else if (op == 5) {
      send_seg(&s, s.next_port++, 5000, 0, WIRE_TCP_SYN, 1000, NULL, 0, 0);
    }
    fz_drain(&s.f, learn, &s);
    fz_check_bounds(&s.f);
  }
  microtcp_tcp_close(s.f.st, s.f.now, s.conn);
  microtcp_tcp_close(s.f.st, s.f.now, s.listener);
  fz_run_out(&s.f, 3600ull * 1000000);
  microtcp_pool_usage pu;
  microtcp_get_pool_usage(s.f.st, &pu);
  if (pu.tcp || pu.listeners || pu.frames) fz_die("connection blocks leaked after close + 60 min");
  fz_free(&s.f);
  return 0;
}
