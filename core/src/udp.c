/*
 * UDP (RFC 768, RFC 1122 4.1): sockets bound to a port (ephemeral per RFC
 * 6056), a bounded byte queue of received datagrams per socket, port
 * unreachable when nothing listens, ICMP errors reported per socket.
 */
#include "internal.h"

#define UDP_REC_HDR 8 /* len(2) ip(4) port(2) */
#define UDP_MAX_PAYLOAD 65507u

int mtcp_udp_init(struct microtcp_stack *st, struct carve *c) {
  st->udp.socks = mtcp_carve_take(c, sizeof(struct udp_sock) * st->cfg.max_udp);
  uint8_t *q = mtcp_carve_take_raw(c, (size_t)st->cfg.udp_rcvq * st->cfg.max_udp); /* written before read */
  if (st->udp.socks && q)
    for (uint16_t i = 0; i < st->cfg.max_udp; i++) st->udp.socks[i].q = q + (size_t)i * st->cfg.udp_rcvq;
  return MICROTCP_OK;
}

static struct udp_sock *sock_from_handle(const struct microtcp_stack *st, int h) {
  if (handle_kind(h) != HK_UDP) return NULL;
  uint16_t i = handle_index(h);
  if (i >= st->cfg.max_udp) return NULL;
  struct udp_sock *s = &st->udp.socks[i];
  return s->in_use && s->gen == handle_gen(h) ? s : NULL;
}

static struct udp_sock *sock_by_port(const struct microtcp_stack *st, uint16_t port) {
  for (uint16_t i = 0; i < st->cfg.max_udp; i++)
    if (st->udp.socks[i].in_use && st->udp.socks[i].port == port) return &st->udp.socks[i];
  return NULL;
}

static bool udp_port_in_use(const struct microtcp_stack *st, uint16_t port, const void *ctx) {
  (void)ctx;
  return sock_by_port(st, port) != NULL;
}

static struct udp_sock *free_sock(const struct microtcp_stack *st) {
  for (uint16_t i = 0; i < st->cfg.max_udp; i++)
    if (!st->udp.socks[i].in_use) return &st->udp.socks[i];
  return NULL;
}

static int sock_handle(const struct microtcp_stack *st, const struct udp_sock *s) {
  return handle_make(HK_UDP, s->gen, (uint16_t)(s - st->udp.socks));
}

int microtcp_udp_bind(microtcp_stack *st, uint64_t now, uint16_t port) {
  if (now > st->now) st->now = now;
  struct udp_sock *s = free_sock(st);
  if (!s) return MICROTCP_ENOMEM;
  if (port == 0) {
    /* RFC 6056: an unbound UDP socket has no remote end yet, so the hash
     * input is (proto, 0, 0); the per-stack counter still spreads ports. */
    int p = mtcp_ephemeral_port(st, WIRE_IP_PROTO_UDP, 0, 0, udp_port_in_use, NULL);
    if (p < 0) return p;
    port = (uint16_t)p;
  } else if (sock_by_port(st, port)) {
    return MICROTCP_EADDRINUSE;
  }
  /* The generation moves on at every bind and close, so an old handle to this
   * slot never matches again (until 4096 reuses wrap it). */
  uint16_t gen = (uint16_t)((s->gen + 1) & 0x0fff);
  uint8_t *q = s->q;
  memset(s, 0, sizeof *s);
  s->q = q;
  s->gen = gen;
  s->in_use = true;
  s->port = port;
  st->udp.in_use++;
  return sock_handle(st, s);
}

int microtcp_udp_close(microtcp_stack *st, int h) {
  struct udp_sock *s = sock_from_handle(st, h);
  if (!s) return MICROTCP_EBADF;
  s->in_use = false;
  s->gen = (uint16_t)((s->gen + 1) & 0x0fff);
  st->udp.in_use--;
  return MICROTCP_OK;
}

int microtcp_udp_sendto(microtcp_stack *st, uint64_t now, int h, uint32_t ip, uint16_t port,
                        const void *data, size_t len) {
  if (now > st->now) st->now = now;
  struct udp_sock *s = sock_from_handle(st, h);
  if (!s) return MICROTCP_EBADF;
  if (data == NULL && len) return MICROTCP_EINVAL;
  if (len > UDP_MAX_PAYLOAD) return MICROTCP_EMSGSIZE;
  if (port == 0 || ip == 0) return MICROTCP_EINVAL;
  /* The header is written by the wire layer; mtcp_ipv4_send then copies it and
   * the payload (once) into the frame(s), fragmenting if needed. */
  wire_udp u = {s->port, port, 0, 0, data, len};
  uint8_t h8[WIRE_UDP_HLEN];
  int n = wire_udp_emit_header(st->cfg.ip, ip, &u, h8, sizeof h8);
  MICROTCP_ASSERT(n == WIRE_UDP_HLEN); /* len <= UDP_MAX_PAYLOAD checked above */
  if (n < 0) return MICROTCP_EMSGSIZE;
  int r = mtcp_ipv4_send(st, ip, WIRE_IP_PROTO_UDP, h8, sizeof h8, data, len);
  if (r < 0) return r;
  st->ctr.udp_datagrams_out++;
  return (int)len;
}

/* Ring helpers over the socket's byte queue: at most two memcpy each. */
static void q_put(const struct microtcp_stack *st, struct udp_sock *s, uint32_t at,
                  const uint8_t *src, uint32_t n) {
  if (n == 0) return; /* nothing to copy; memcpy must never see a null pointer */
  uint32_t cap = st->cfg.udp_rcvq;
  at %= cap;
  uint32_t first = MIN(n, cap - at);
  memcpy(s->q + at, src, first);
  memcpy(s->q, src + first, n - first);
}

static void q_get(const struct microtcp_stack *st, const struct udp_sock *s, uint32_t at,
                  uint8_t *dst, uint32_t n) {
  if (n == 0) return; /* recvfrom(buf = NULL, cap = 0) is allowed */
  uint32_t cap = st->cfg.udp_rcvq;
  at %= cap;
  uint32_t first = MIN(n, cap - at);
  memcpy(dst, s->q + at, first);
  memcpy(dst + first, s->q, n - first);
}

void mtcp_udp_input(struct microtcp_stack *st, const struct wire_ipv4 *ip, const uint8_t *ip_pkt,
               size_t ip_len) {
  wire_udp u;
  if (wire_udp_parse(ip->payload, ip->payload_len, &u) < 0) {
    st->ctr.drop_udp_malformed++;
    return;
  }
#ifndef MICROTCP_FUZZING
  if (!wire_udp_checksum_ok(ip->src, ip->dst, ip->payload, u.length)) {
    st->ctr.drop_udp_checksum++;
    return;
  }
#endif
  struct udp_sock *s = sock_by_port(st, u.dst_port);
  if (!s) {
    st->ctr.drop_udp_no_port++;
    if (ip->dst == st->cfg.ip)
      mtcp_icmp_send_error(st, WIRE_ICMP_DEST_UNREACH, WIRE_ICMP_UNREACH_PORT, 0, ip, ip_pkt, ip_len);
    return;
  }
  uint32_t need = UDP_REC_HDR + (uint32_t)u.payload_len;
  if (s->q_len + need > st->cfg.udp_rcvq) {
    st->ctr.drop_udp_queue_full++;
    return;
  }
  uint8_t rec[UDP_REC_HDR];
  wire_put16(rec, (uint16_t)u.payload_len);
  wire_put32(rec + 2, ip->src);
  wire_put16(rec + 6, u.src_port);
  uint32_t at = s->q_head + s->q_len;
  q_put(st, s, at, rec, UDP_REC_HDR);
  q_put(st, s, at + UDP_REC_HDR, u.payload, (uint32_t)u.payload_len);
  s->q_len += need;
  s->q_count++;
  st->ctr.udp_datagrams_in++;
  mtcp_notify(st, sock_handle(st, s));
}

int microtcp_udp_recvfrom(microtcp_stack *st, uint64_t now, int h, void *buf, size_t cap,
                          microtcp_endpoint *from) {
  if (now > st->now) st->now = now;
  struct udp_sock *s = sock_from_handle(st, h);
  if (!s) return MICROTCP_EBADF;
  if (buf == NULL && cap) return MICROTCP_EINVAL;
  if (s->q_count == 0) return MICROTCP_EAGAIN;
  uint8_t rec[UDP_REC_HDR];
  q_get(st, s, s->q_head, rec, UDP_REC_HDR);
  uint32_t len = wire_get16(rec);
  uint32_t copy = (uint32_t)MIN((size_t)len, cap);
  q_get(st, s, s->q_head + UDP_REC_HDR, buf, copy);
  if (from) {
    from->ip = wire_get32(rec + 2);
    from->port = wire_get16(rec + 6);
  }
  s->q_head = (s->q_head + UDP_REC_HDR + len) % st->cfg.udp_rcvq;
  s->q_len -= UDP_REC_HDR + len;
  s->q_count--;
  return (int)len;
}

void mtcp_udp_icmp_error(struct microtcp_stack *st, int err, const struct wire_ipv4 *quoted) {
  /* Only the first fragment's quote starts with our UDP header. */
  wire_l4_quote q;
  if (wire_l4_quoted(quoted, &q) < 0) return;
  struct udp_sock *s = sock_by_port(st, q.src_port);
  if (!s) return;
  s->err = (int16_t)err;
  mtcp_notify(st, sock_handle(st, s));
}

unsigned mtcp_udp_poll(const struct microtcp_stack *st, int h) {
  const struct udp_sock *s = sock_from_handle(st, h);
  if (!s) return 0;
  unsigned r = 0;
  if (s->q_count || s->err) r |= MICROTCP_READABLE;
  if (st->frames_in_use < st->cfg.frames) r |= MICROTCP_WRITABLE;
  if (s->err) r |= MICROTCP_ERROR;
  return r;
}

int mtcp_udp_socket_error(struct microtcp_stack *st, int h) {
  struct udp_sock *s = sock_from_handle(st, h);
  if (!s) return MICROTCP_EBADF;
  int e = s->err;
  s->err = 0;
  return e;
}

int mtcp_udp_local_port(const struct microtcp_stack *st, int h) {
  const struct udp_sock *s = sock_from_handle(st, h);
  return s ? s->port : MICROTCP_EBADF;
}
