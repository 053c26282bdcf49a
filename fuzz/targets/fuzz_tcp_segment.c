/*
 * TCP segment target: the input is one TCP header + options + payload
 * (checksum fixed by the harness). It is parsed (round trip, option walk on
 * its own) and then delivered, as is, to three stack states:
 *   - a listener on port 80 (input's ports replaced: peer port 40001 → 80)
 *   - a connection in SYN-SENT (ports of the stack's SYN; the input's ack
 *     is an offset from the stack's ISN + 1, so 0 is the acceptable ACK)
 *   - an ESTABLISHED connection, with seq/ack rebased on the live sequence
 *     numbers (input seq/ack are offsets), so in-window data, SACK blocks
 *     and FINs are reached.
 * The first input byte selects which of the three (bit0..2; 0 = all).
 *
 * Invariants: round trips; output well formed; bytes the application reads
 * are the peer's stream (tcp_peer.h); pools bounded; empty after closing
 * and running time out.
 */
#include "roundtrip.h"
#include "tcp_peer.h"

static uint8_t seg[66000], frame[1700];

static void deliver(struct fz *f, const uint8_t *l4, size_t len) {
  size_t fl = fz_frame(frame, sizeof frame, WIRE_IP_PROTO_TCP, l4, len, 0, 0, 0, 1);
  if (fl) microtcp_input(f->st, f->now, frame, fl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t which = data[0] & 7 ? data[0] & 7 : 7;
  data++;
  size--;
  if (size > 1480) size = 1480;

  wire_tcp t;
  bool ok = wire_tcp_parse(data, size, &t) == 0;
  if (ok) {
    fz_rt_tcp(&t, FZ_PEER_IP, FZ_STACK_IP);
    wire_tcp_opts o;
    if (wire_tcp_parse_options(data + WIRE_TCP_HLEN, t.data_off - WIRE_TCP_HLEN, &o) != 0)
      fz_die("options parse differs from the header parse");
    if (o.sack_count > WIRE_TCP_MAX_SACK) fz_die("more SACK blocks than the struct holds");
  }

  static struct fz_conn c[2];
  struct fz f;
  fz_init(&f);
  int l = microtcp_tcp_listen(f.st, 0, FZ_LISTEN_PORT, 2);
  if (l < 0) fz_die("listen");
  fz_conn_passive(&f, c, 2, &c[0], l, 40000, 1000);
  fz_conn_write(&f, &c[0], 4000); /* unacknowledged data: SACK and ACK processing */
  if (fz_conn_active(&f, c, 2, &c[1], 7000, 5000) < 0 || !c[1].stack_syn_seen)
    fz_die("a fresh stack failed to connect");
  struct fz_learn_ctx lc = {c, 2};
  fz_drain(&f, fz_learn_cb, &lc);

  memcpy(seg, data, size);
  if (size >= 4 && (which & 1)) { /* the listener */
    wire_put16(seg, 40001);
    wire_put16(seg + 2, FZ_LISTEN_PORT);
    deliver(&f, seg, size);
    fz_drain(&f, fz_learn_cb, &lc);
  }
  if (size >= 4 && (which & 2)) { /* SYN-SENT */
    memcpy(seg, data, size);
    wire_put16(seg, c[1].peer_port);
    wire_put16(seg + 2, c[1].stack_port);
    if (size >= 12) wire_put32(seg + 8, c[1].stack_iss + 1u + wire_get32(data + 8));
    deliver(&f, seg, size);
    fz_drain(&f, fz_learn_cb, &lc);
  }
  if (size >= 12 && (which & 4)) { /* ESTABLISHED: seq/ack are offsets */
    memcpy(seg, data, size);
    wire_put16(seg, c[0].peer_port);
    wire_put16(seg + 2, c[0].stack_port);
    wire_put32(seg + 4, c[0].peer_nxt + wire_get32(data + 4));
    wire_put32(seg + 8, c[0].peer_acked + wire_get32(data + 8));
    if (ok) { /* payload = the peer's stream at that position, so reads can be checked */
      uint32_t s0 = wire_get32(seg + 4) + ((t.flags & WIRE_TCP_SYN) ? 1u : 0u);
      for (size_t k = 0; k < t.payload_len; k++) seg[t.data_off + k] = fz_stream_byte(s0 + (uint32_t)k, 0x33);
    }
    deliver(&f, seg, size);
    fz_drain(&f, fz_learn_cb, &lc);
  }
  fz_check_bounds(&f);
  f.now += 250000;
  microtcp_advance(f.st, f.now);
  fz_drain(&f, fz_learn_cb, &lc);
  while (fz_conn_read(&f, &c[0], 8192) > 0) {
  }
  int a = microtcp_tcp_accept(f.st, f.now, l, NULL);
  if (a >= 0) microtcp_tcp_abort(f.st, f.now, a);
  microtcp_tcp_close(f.st, f.now, c[0].handle);
  microtcp_tcp_close(f.st, f.now, c[1].handle);
  microtcp_tcp_close(f.st, f.now, l);
  fz_run_out(&f, 3600ull * 1000000u);
  fz_check_idle(&f, "pools not empty after closing everything");
  fz_free(&f);
  return 0;
}
