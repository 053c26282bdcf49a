/*
 * Stateful TCP target: a stack with a listener on port 80, one connection
 * already ESTABLISHED through it (slot 0), room for two more passive opens
 * (slots 1, 2) and one active open (slot 3), fed records
 *
 *   [time Δ ×997 µs][op][args...]
 *
 * op % 8:
 *   0 segment  [ctl][flags][seqΔ][ackΔ][win][len][opts] from the peer of slot
 *              ctl&3. Sequence numbers are relative to the live connection:
 *              seq = peer_nxt + (int8)seqΔ × {1, 97, 1448, 65536}[ctl>>2 & 3],
 *              ack = (ctl&16 ? peer's last ACK : stack_nxt) + (int8)ackΔ ×
 *              {1, 53}[ctl>>5 & 1], window = win << {0, 4, 8, 12}[ctl>>6].
 *              opts: bit0 timestamps, bit1 a TS value from the past (PAWS),
 *              bits2-3 SACK blocks (each 2 more bytes: [start][len] in
 *              724-byte units above the peer's last ACK), bit4 SYN-only
 *              options on a non-SYN. On a SYN: MSS, SACK-permitted, TS and
 *              window scale ob >> 5, with bit0 dropping TS, bit1 dropping
 *              SACK-permitted, bit5 MSS 536. Payload: len × 6 bytes of the
 *              peer's stream at seq (checksums always valid).
 *   1 app send [n] n × 64 bytes     2 app recv [n] up to n × 64 + 1 bytes
 *   3 [slot][which] shutdown / close / abort / setopt(nodelay or
 *              congestion control, keepalive, linger-zero, rcvbuf) / stats
 *   4 advance time [n] n × 10 ms (n ≥ 200: (n - 199) × 10 s)
 *   5 passive open [w]: a SYN from a fresh peer port on slot 1 + (w & 1);
 *              w&2 MSS 536, w&4 no timestamps, w&8 no SACK, ws = w >> 4
 *   6 accept one connection from the listener into its slot
 *   7 active open on slot 3 (stack connects to the peer's port 7000+gen)
 *
 * Invariants, after every record: no crash or sanitizer report; every frame
 * the stack sends is well formed; every byte the stack sends is a byte its
 * application wrote at that stream position; every byte the application
 * reads is a byte the peer sent at that position; pools within the config.
 * At the end: all handles and the listener are closed, the clock runs 60
 * virtual minutes, and every pool is empty.
 */
#include "tcp_peer.h"

#define NSLOT 4

static const uint32_t seq_unit[4] = {1, 97, 1448, 65536};

struct state {
  struct fz f;
  struct fz_conn c[NSLOT];
  int listener;
  uint16_t gen;
};

static void drain(struct state *s) {
  struct fz_learn_ctx lc = {s->c, NSLOT};
  fz_drain(&s->f, fz_learn_cb, &lc);
}

static void segment(struct state *s, const uint8_t *a, size_t avail, size_t *used) {
  uint8_t ctl = a[0], flags = a[1], wb = a[4], lb = a[5], ob = a[6];
  *used = 7;
  struct fz_conn *c = &s->c[ctl & 3];
  if (!c->used) return;
  uint32_t seq = c->peer_nxt + (uint32_t)((int32_t)(int8_t)a[2] * (int32_t)seq_unit[(ctl >> 2) & 3]);
  /* ACK everything the stack sent, or relative to what the peer acked so far */
  uint32_t base = (ctl & 16) ? c->peer_acked : c->stack_nxt;
  uint32_t ack = base + (uint32_t)((int32_t)(int8_t)a[3] * ((ctl & 32) ? 53 : 1));
  uint16_t win = (uint16_t)(wb << (4 * (ctl >> 6)));
  size_t len = (size_t)lb * 6u;
  wire_tcp_opts o;
  memset(&o, 0, sizeof o);
  if (ob & 1) {
    o = fz_ts_opts(c);
    if (ob & 2) o.ts_val = c->ts - 0x80000000u; /* old: PAWS must reject (RFC 7323 5) */
  }
  uint8_t nsack = (uint8_t)((ob >> 2) & 3);
  for (uint8_t i = 0; i < nsack && *used + 2 <= avail; i++) {
    uint32_t left = c->peer_acked + (uint32_t)a[*used] * 724u;
    o.sack[i].left = left;
    o.sack[i].right = left + (uint32_t)a[*used + 1] * 724u;
    o.sack_count = (uint8_t)(i + 1);
    *used += 2;
  }
  if (ob & 16) {
    o.has_mss = true;
    o.mss = (uint16_t)(ob * 5);
    o.has_ws = true;
    o.ws = (uint8_t)(ob >> 4);
  }
  if (flags & WIRE_TCP_SYN) {
    o = fz_syn_opts(++c->ts, (ob & 32) ? 536 : 1460, (uint8_t)(ob >> 5));
    o.has_ts = (ob & 1) == 0;         /* a peer without timestamps */
    o.sack_permitted = (ob & 2) == 0; /* without SACK: NewReno recovery (RFC 6582) */
  }
  fz_conn_send(&s->f, c, seq, ack, flags, win, len, &o);
  if (seq == c->peer_nxt) {
    if (flags & WIRE_TCP_SYN)
      c->peer_nxt += 1; /* SYNs carry neither data nor FIN (tcp_peer.h) */
    else
      c->peer_nxt += (uint32_t)(len > 1400 ? 1400 : len) + ((flags & WIRE_TCP_FIN) ? 1u : 0u);
  }
}

static void close_op(struct state *s, uint8_t slot, uint8_t which) {
  struct fz_conn *c = &s->c[slot & 3];
  if (c->handle < 0 || !c->used) return;
  switch (which % 8) {
  case 0: microtcp_tcp_shutdown(s->f.st, s->f.now, c->handle); break;
  case 1: microtcp_tcp_close(s->f.st, s->f.now, c->handle); c->handle = -1; break;
  case 2: microtcp_tcp_abort(s->f.st, s->f.now, c->handle); c->handle = -1; break;
  case 3:
    if (which & 8)
      microtcp_tcp_setopt(s->f.st, c->handle, MICROTCP_OPT_NODELAY, which >> 4 & 1);
    else
      microtcp_tcp_setopt(s->f.st, c->handle, MICROTCP_OPT_CC, which >> 4 & 1);
    break;
  case 4:
    microtcp_tcp_setopt(s->f.st, c->handle, MICROTCP_OPT_KEEPALIVE, 1);
    microtcp_tcp_setopt(s->f.st, c->handle, MICROTCP_OPT_KEEPIDLE_US, (int64_t)(which >> 3) * 100000 + 1);
    break;
  case 5: microtcp_tcp_setopt(s->f.st, c->handle, MICROTCP_OPT_LINGER_ZERO, 1); break;
  case 6: microtcp_tcp_setopt(s->f.st, c->handle, MICROTCP_OPT_RCVBUF, (int64_t)(which >> 3) * 256 + 1); break;
  default: {
    microtcp_tcp_stats st;
    if (microtcp_tcp_get_stats(s->f.st, c->handle, &st) == 0 && st.mss == 0 &&
        st.state == MICROTCP_ESTABLISHED)
      fz_die("established connection with MSS 0");
    (void)microtcp_poll(s->f.st, c->handle);
    (void)microtcp_socket_error(s->f.st, c->handle);
  }
  }
}

static void passive_open(struct state *s, uint8_t which) {
  struct fz_conn *c = &s->c[1 + (which & 1)];
  if (c->used && c->handle >= 0) return; /* still in use by the application */
  memset(c, 0, sizeof *c);
  c->used = true;
  c->handle = -1;
  c->peer_port = (uint16_t)(41000 + s->gen++);
  c->stack_port = FZ_LISTEN_PORT;
  c->peer_isn = c->peer_nxt = c->peer_max = 0x10000u * which + 77u;
  c->ts = 1000;
  wire_tcp_opts o = fz_syn_opts(c->ts, (which & 2) ? 536 : 1460, (uint8_t)(which >> 4));
  o.has_ts = (which & 4) == 0;
  o.sack_permitted = (which & 8) == 0;
  fz_conn_send(&s->f, c, c->peer_nxt, 0, WIRE_TCP_SYN, 65535, 0, &o);
  c->peer_nxt++;
}

static void accept_op(struct state *s) {
  microtcp_endpoint ep;
  int h = microtcp_tcp_accept(s->f.st, s->f.now, s->listener, &ep);
  if (h < 0) return;
  for (int i = 1; i < 3; i++) {
    if (s->c[i].used && s->c[i].peer_port == ep.port && s->c[i].handle < 0) {
      /* possibly a new incarnation (after a reset the fuzzer may reuse the
       * ports with another ISN): its stream starts afresh at the irs the
       * stack's latest SYN-ACK acknowledged */
      s->c[i].handle = h;
      s->c[i].app_bound = s->c[i].irs_known;
      s->c[i].app_irs = s->c[i].irs;
      s->c[i].app_read = 0;
      return;
    }
  }
  microtcp_tcp_abort(s->f.st, s->f.now, h); /* a connection the fuzzer opened on another slot */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct state s;
  memset(&s, 0, sizeof s);
  for (int i = 0; i < NSLOT; i++) s.c[i].handle = -1;
  fz_init(&s.f);
  s.listener = microtcp_tcp_listen(s.f.st, 0, FZ_LISTEN_PORT, 4);
  if (s.listener < 0) fz_die("listen");
  fz_conn_passive(&s.f, s.c, NSLOT, &s.c[0], s.listener, 40000, 1000);

  size_t i = 0;
  while (i + 2 <= size) {
    s.f.now += (uint64_t)data[i] * 997u;
    microtcp_advance(s.f.st, s.f.now);
    uint8_t op = data[i + 1] % 8;
    i += 2;
    const uint8_t *a = data + i;
    size_t avail = size - i;
    if (op == 0 && avail >= 7) {
      size_t used;
      segment(&s, a, avail, &used);
      i += used;
    } else if (op == 1 && avail >= 1) {
      struct fz_conn *c = &s.c[a[0] & 3];
      if (c->handle >= 0) fz_conn_write(&s.f, c, (size_t)(a[0] >> 2) * 64u + 1u);
      i += 1;
    } else if (op == 2 && avail >= 1) {
      struct fz_conn *c = &s.c[a[0] & 3];
      if (c->handle >= 0) fz_conn_read(&s.f, c, (size_t)(a[0] >> 2) * 64u + 1u);
      i += 1;
    } else if (op == 3 && avail >= 2) {
      close_op(&s, a[0], a[1]);
      i += 2;
    } else if (op == 4 && avail >= 1) {
      s.f.now += a[0] < 200 ? (uint64_t)a[0] * 10000u : (uint64_t)(a[0] - 199) * 10000000u;
      microtcp_advance(s.f.st, s.f.now);
      i += 1;
    } else if (op == 5 && avail >= 1) {
      passive_open(&s, a[0]);
      i += 1;
    } else if (op == 6) {
      accept_op(&s);
    } else if (op == 7 && avail >= 1) {
      struct fz_conn *c = &s.c[3];
      if (c->handle < 0) fz_conn_active(&s.f, s.c, NSLOT, c, (uint16_t)(7000 + s.gen++), 0x40000000u + a[0]);
      i += 1;
    } else {
      break; /* arguments missing: the input is over */
    }
    drain(&s);
    fz_check_bounds(&s.f);
  }

  for (int k = 0; k < NSLOT; k++) {
    if (s.c[k].handle < 0) continue;
    while (fz_conn_read(&s.f, &s.c[k], 8192) > 0) {
    }
    microtcp_tcp_close(s.f.st, s.f.now, s.c[k].handle);
  }
  microtcp_tcp_close(s.f.st, s.f.now, s.listener);
  fz_run_out(&s.f, 3600ull * 1000000u);
  fz_check_idle(&s.f, "connection blocks leaked after close + 60 virtual minutes");
  fz_free(&s.f);
  return 0;
}
