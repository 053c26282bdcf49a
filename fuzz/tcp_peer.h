/*
 * A scripted TCP peer for the fuzz targets: it remembers, per connection, the
 * sequence numbers both sides have used (learned from the stack's own output)
 * so records can be expressed relative to the live connection state, and it
 * builds segments with valid checksums.
 *
 * The peer's stream contents are a function of the absolute sequence number
 * (fz_stream_byte), so the harness can check that every byte the application
 * reads is the byte the peer sent at that position, whatever order, overlap
 * or retransmission the fuzzer chose. SYNs never carry data or FIN, so the
 * ISN the stack accepted (irs) is learned from its first ACK. The stack's
 * stream is checked the same way against what the application wrote.
 */
#ifndef MICROTCP_FUZZ_TCP_PEER_H
#define MICROTCP_FUZZ_TCP_PEER_H
#include "harness.h"

#define FZ_LISTEN_PORT 80

static inline uint8_t fz_stream_byte(uint32_t seq, uint8_t salt) {
  return (uint8_t)(seq + (seq >> 8) * 7u + (seq >> 16) * 13u + salt);
}

struct fz_conn {
  bool used;             /* the peer side exists (SYN sent or received) */
  uint16_t peer_port;    /* the peer's port */
  uint16_t stack_port;   /* the stack's port */
  uint32_t peer_isn;     /* the ISN of the peer's first SYN */
  bool irs_known;
  uint32_t irs;          /* the peer ISN the stack accepted: app byte n is at irs + 1 + n */
  uint32_t peer_nxt;     /* next sequence number the peer sends */
  uint32_t peer_max;     /* highest sequence the peer has sent (+1) */
  bool stack_syn_seen;
  uint32_t stack_iss;    /* the stack's ISN (from its SYN or SYN-ACK) */
  uint32_t stack_nxt;    /* highest sequence the stack has sent (+1) */
  uint32_t stack_ack;    /* the stack's latest ACK (what it has received) */
  uint32_t peer_acked;   /* highest ACK the peer sent within the stack's data */
  uint32_t stack_tsval;  /* last TS value the stack sent */
  uint32_t ts;           /* the peer's TS clock */
  int handle;            /* the stack's handle for it, or -1 */
  bool app_bound;        /* app_irs is set: when the handle was accepted (passive), at the first read (active) */
  uint32_t app_irs;      /* the irs of the incarnation the handle belongs to */
  uint64_t app_read;     /* stream bytes the application has read */
  uint64_t app_written;  /* stream bytes the application has queued */
};

/* Learn from one frame the stack sent; checks the stack's stream bytes. */
static inline void fz_conn_learn(struct fz_conn *c, size_t n, const uint8_t *frame, size_t len) {
  wire_eth e;
  wire_ipv4 ip;
  wire_tcp t;
  if (wire_eth_parse(frame, len, &e) || e.ethertype != WIRE_ETHERTYPE_IPV4) return;
  if (wire_ipv4_parse(e.payload, e.payload_len, &ip) || ip.proto != WIRE_IP_PROTO_TCP) return;
  if (ip.mf || ip.frag_offset) fz_die("stack fragmented a TCP segment");
  if (wire_tcp_parse(ip.payload, ip.payload_len, &t)) return;
  for (size_t i = 0; i < n; i++) {
    struct fz_conn *k = &c[i];
    if (!k->used || t.dst_port != k->peer_port) continue;
    if (k->stack_port && t.src_port != k->stack_port) continue;
    if (t.flags & WIRE_TCP_RST) return;
    if (t.flags & WIRE_TCP_SYN) {
      k->stack_port = t.src_port;
      k->stack_iss = t.seq;
      k->stack_nxt = t.seq + 1;
      k->peer_acked = t.seq;
      k->stack_syn_seen = true;
    }
    if (!k->stack_syn_seen) return;
    uint32_t data = t.seq + ((t.flags & WIRE_TCP_SYN) ? 1u : 0u);
    /* the stack's stream: application byte n sits at stack_iss + 1 + n */
    for (size_t b = 0; b < t.payload_len; b++) {
      uint32_t s = data + (uint32_t)b;
      if (t.payload[b] != fz_stream_byte(s - k->stack_iss - 1, 0x5a))
        fz_die("stack sent a byte its application never wrote there");
    }
    uint32_t end = data + (uint32_t)t.payload_len + ((t.flags & WIRE_TCP_FIN) ? 1u : 0u);
    if ((int32_t)(end - k->stack_nxt) > 0) k->stack_nxt = end;
    if ((t.flags & (WIRE_TCP_SYN | WIRE_TCP_ACK)) == (WIRE_TCP_SYN | WIRE_TCP_ACK)) {
      /* A SYN-ACK names the peer ISN the stack accepted; after a reset the
       * fuzzer may open a new incarnation on the same ports with another. */
      k->irs_known = true;
      k->irs = t.ack - 1;
    }
    if (t.flags & WIRE_TCP_ACK) {
      if (!k->irs_known) {
        k->irs_known = true;
        k->irs = t.ack - 1;
      }
      k->stack_ack = t.ack;
      if ((int32_t)(t.ack - k->peer_nxt) > 0 && (int32_t)(t.ack - k->peer_max) <= 0)
        k->peer_nxt = t.ack; /* out-of-order data filled in: continue after it */
    }
    if (t.opts.has_ts) k->stack_tsval = t.opts.ts_val;
    return;
  }
}

/* Send one segment from the peer of c; payload bytes are taken from the
 * peer's stream at seq (so retransmissions and overlaps agree). */
static inline void fz_conn_send(struct fz *f, struct fz_conn *c, uint32_t seq, uint32_t ack,
                                uint8_t flags, uint16_t win, size_t plen, const wire_tcp_opts *opts) {
  static uint8_t seg[1600], frame[1700], payload[1500];
  if (plen > 1400) plen = 1400;
  if (flags & WIRE_TCP_SYN) { /* keeps the stack's first ACK = ISN + 1 */
    plen = 0;
    flags = (uint8_t)(flags & ~WIRE_TCP_FIN);
  }
  uint32_t first = seq + ((flags & WIRE_TCP_SYN) ? 1u : 0u);
  for (size_t i = 0; i < plen; i++) payload[i] = fz_stream_byte(first + (uint32_t)i, 0x33);
  wire_tcp t;
  memset(&t, 0, sizeof t);
  t.src_port = c->peer_port;
  t.dst_port = c->stack_port;
  t.seq = seq;
  t.ack = ack;
  t.flags = flags;
  t.window = win;
  if (opts) t.opts = *opts;
  t.payload = payload;
  t.payload_len = plen;
  int n = wire_tcp_emit(FZ_PEER_IP, FZ_STACK_IP, &t, seg, sizeof seg);
  if (n < 0) return;
  size_t fl = fz_frame(frame, sizeof frame, WIRE_IP_PROTO_TCP, seg, (size_t)n, 0, 0, 0, 0);
  if (!fl) return;
  uint32_t end = first + (uint32_t)plen + ((flags & WIRE_TCP_FIN) ? 1u : 0u);
  if ((int32_t)(end - c->peer_max) > 0) c->peer_max = end;
  if ((flags & WIRE_TCP_ACK) && (int32_t)(ack - c->peer_acked) > 0 &&
      (int32_t)(ack - c->stack_nxt) <= 0)
    c->peer_acked = ack;
  microtcp_input(f->st, f->now, frame, fl);
}

/* Read whatever the application can and check it against the peer's stream.
 * Returns the recv result of the last call. */
static inline int fz_conn_read(struct fz *f, struct fz_conn *c, size_t max) {
  static uint8_t buf[8192];
  if (max > sizeof buf) max = sizeof buf;
  int r = microtcp_tcp_recv(f->st, f->now, c->handle, buf, max);
  if (r > 0 && !c->irs_known) fz_die("application read data before the stack acknowledged a SYN");
  if (r > 0 && !c->app_bound) {
    c->app_bound = true;
    c->app_irs = c->irs;
  }
  for (int i = 0; i < r; i++)
    if (buf[i] != fz_stream_byte(c->app_irs + 1u + (uint32_t)c->app_read + (uint32_t)i, 0x33))
      fz_die("application read a byte the peer never sent there");
  if (r > 0) c->app_read += (uint64_t)r;
  return r;
}

/* Queue application bytes (the stack's stream, checked in fz_conn_learn). */
static inline int fz_conn_write(struct fz *f, struct fz_conn *c, size_t n) {
  static uint8_t buf[8192];
  if (n > sizeof buf) n = sizeof buf;
  for (size_t i = 0; i < n; i++) buf[i] = fz_stream_byte((uint32_t)(c->app_written + i), 0x5a);
  int r = microtcp_tcp_send(f->st, f->now, c->handle, buf, n);
  if (r > 0) c->app_written += (uint64_t)r;
  if (r > (int)n) fz_die("send accepted more than offered");
  return r;
}

/* Options of the peer's SYN: everything the stack supports. */
static inline wire_tcp_opts fz_syn_opts(uint32_t tsval, uint16_t mss, uint8_t ws) {
  wire_tcp_opts o;
  memset(&o, 0, sizeof o);
  o.has_mss = true;
  o.mss = mss;
  o.has_ws = true;
  o.ws = ws;
  o.sack_permitted = true;
  o.has_ts = true;
  o.ts_val = tsval;
  return o;
}

static inline wire_tcp_opts fz_ts_opts(struct fz_conn *c) {
  wire_tcp_opts o;
  memset(&o, 0, sizeof o);
  o.has_ts = true;
  o.ts_val = ++c->ts;
  o.ts_ecr = c->stack_tsval;
  return o;
}

struct fz_learn_ctx {
  struct fz_conn *c;
  size_t n;
};
static inline void fz_learn_cb(void *ctx, const uint8_t *frame, size_t len) {
  struct fz_learn_ctx *l = ctx;
  fz_conn_learn(l->c, l->n, frame, len);
}

/* Passive open: the peer (port) connects to the stack's listener and the
 * stack accepts. Returns the handle (also stored in c->handle) or dies. */
static inline int fz_conn_passive(struct fz *f, struct fz_conn *all, size_t n, struct fz_conn *c,
                                  int listener, uint16_t port, uint32_t isn) {
  struct fz_learn_ctx lc = {all, n};
  memset(c, 0, sizeof *c);
  c->used = true;
  c->handle = -1;
  c->peer_port = port;
  c->stack_port = FZ_LISTEN_PORT;
  c->peer_isn = isn;
  c->peer_nxt = c->peer_max = isn;
  c->ts = 100;
  wire_tcp_opts o = fz_syn_opts(c->ts, 1460, 7);
  fz_conn_send(f, c, isn, 0, WIRE_TCP_SYN, 65535, 0, &o);
  c->peer_nxt = isn + 1;
  fz_drain(f, fz_learn_cb, &lc);
  f->now += 1000;
  o = fz_ts_opts(c);
  fz_conn_send(f, c, c->peer_nxt, c->stack_nxt, WIRE_TCP_ACK, 1024, 0, &o);
  fz_drain(f, fz_learn_cb, &lc);
  microtcp_endpoint ep;
  c->handle = microtcp_tcp_accept(f->st, f->now, listener, &ep);
  if (c->handle < 0) fz_die("handshake did not complete");
  c->app_bound = true;
  c->app_irs = c->irs;
  if (ep.ip != FZ_PEER_IP || ep.port != port) fz_die("accept returned the wrong peer");
  if (microtcp_tcp_state(f->st, c->handle) != MICROTCP_ESTABLISHED) fz_die("accepted but not ESTABLISHED");
  return c->handle;
}

/* Active open: the stack connects to the peer's port; the caller's records
 * answer (or not) the SYN. Returns the handle, or the connect error (ENOMEM
 * is legitimate once the fuzzer filled the connection pool); c stays unused
 * then. The SYN may wait in the transmit queue: it is learned when sent. */
static inline int fz_conn_active(struct fz *f, struct fz_conn *all, size_t n, struct fz_conn *c,
                                 uint16_t port, uint32_t isn) {
  struct fz_learn_ctx lc = {all, n};
  memset(c, 0, sizeof *c);
  c->used = true;
  c->peer_port = port;
  c->peer_isn = isn;
  c->peer_nxt = c->peer_max = isn;
  c->ts = 5000;
  c->handle = microtcp_tcp_connect(f->st, f->now, FZ_PEER_IP, port, 0);
  if (c->handle < 0) {
    int e = c->handle;
    c->used = false;
    return e;
  }
  int lp = microtcp_local_port(f->st, c->handle);
  if (lp <= 0) fz_die("connect has no local port");
  c->stack_port = (uint16_t)lp;
  fz_drain(f, fz_learn_cb, &lc);
  return c->handle;
}
#endif
