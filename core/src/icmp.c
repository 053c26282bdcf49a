/*
 * ICMP (RFC 792, RFC 1122 3.2.2): echo replies, errors generated under the
 * RFC 1122 restrictions and a token-bucket rate limit, errors received and
 * routed to the UDP/TCP socket they quote, and the ping API.
 */
#include "internal.h"

#define MICRO 1000000u /* micro-tokens per token */

int mtcp_icmp_init(struct microtcp_stack *st, struct carve *c) {
  st->icmp.ping_replies = mtcp_carve_take(c, sizeof(microtcp_ping_reply) * st->cfg.ping_queue);
  st->icmp.ping_head = st->icmp.ping_len = 0;
  st->icmp.tokens_micro = (uint64_t)MAX(st->cfg.icmp_burst, 1u) * MICRO;
  st->icmp.last_refill = st->now;
  return MICROTCP_OK;
}

/* Token bucket (RFC 1812 4.3.2.8 style limit, applied to everything ICMP
 * sends on its own: echo replies and errors). Tokens are counted in millionths
 * so the refill is exact in integer µs: dt µs × rate tokens/s = dt × rate
 * micro-tokens. At most icmp_burst tokens are saved. */
static bool rate_ok(struct microtcp_stack *st) {
  const microtcp_config *cfg = &st->cfg;
  if (cfg->icmp_rate_per_s == 0) return true;
  uint64_t cap = (uint64_t)MAX(cfg->icmp_burst, 1u) * MICRO;
  uint64_t dt = st->now - st->icmp.last_refill;
  st->icmp.last_refill = st->now;
  if (dt >= cap / cfg->icmp_rate_per_s + 1) /* long idle: full (and no overflow below) */
    st->icmp.tokens_micro = cap;
  else
    st->icmp.tokens_micro = MIN(cap, st->icmp.tokens_micro + dt * cfg->icmp_rate_per_s);
  if (st->icmp.tokens_micro < MICRO) {
    st->ctr.drop_icmp_ratelimit++;
    return false;
  }
  st->icmp.tokens_micro -= MICRO;
  return true;
}

/* Send header (8 bytes, checksum over it and the payload) + payload. */
static int icmp_send(struct microtcp_stack *st, uint32_t dst, uint8_t type, uint8_t code,
                     uint32_t rest, const uint8_t *payload, size_t len) {
  wire_icmp m = {type, code, 0, rest, payload, len};
  uint8_t h[WIRE_ICMP_HLEN];
  int n = wire_icmp_emit_header(&m, h, sizeof h);
  if (n < 0) return MICROTCP_EMSGSIZE;
  return mtcp_ipv4_send(st, dst, WIRE_IP_PROTO_ICMP, h, (size_t)n, payload, len);
}

static bool is_error_type(uint8_t type) {
  return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

void mtcp_icmp_send_error(struct microtcp_stack *st, uint8_t type, uint8_t code, uint32_t rest,
                     const struct wire_ipv4 *orig, const uint8_t *ip_pkt, size_t len) {
  /* RFC 1122 3.2.2: never about a non-first fragment, a datagram to a
   * broadcast or multicast address or one sent as a link-layer broadcast, or
   * from a source that does not name a single host. */
  if (!ip_pkt || orig->frag_offset != 0 || orig->dst != st->cfg.ip || st->rx_link_bcast ||
      mtcp_ipv4_is_martian_src(st, orig->src))
    return;
  if (orig->proto == WIRE_IP_PROTO_ICMP) {
    /* Never answer an ICMP error (or an unreadable ICMP message) with one. */
    if (orig->payload_len < 1 || is_error_type(orig->payload[WIRE_ICMP_F_TYPE])) return;
  }
  if (!rate_ok(st)) return;
  size_t quote = MIN(len, (size_t)orig->ihl_bytes + 8);
  if (icmp_send(st, orig->src, type, code, rest, ip_pkt, quote) == MICROTCP_OK)
    st->ctr.icmp_errors_out++;
}

/* RFC 1122 3.2.2.1 / 4.1.3.3: an error received is passed to the transport
 * that sent the quoted datagram; TCP checks the quoted sequence number itself. */
static void deliver_error(struct microtcp_stack *st, const wire_ipv4 *ip, const wire_icmp *m) {
  wire_ipv4 q;
  if (wire_icmp_quoted(m, &q) < 0) {
    st->ctr.drop_icmp_malformed++;
    return;
  }
  st->ctr.icmp_errors_in++;
  /* Only errors sent to us about something we sent (a broadcast "error" or
   * one quoting someone else's datagram is noise or an attack). */
  if (ip->dst != st->cfg.ip || q.src != st->cfg.ip) return;
  uint16_t mtu = (uint16_t)(m->rest & 0xffff);
  if (q.proto == WIRE_IP_PROTO_TCP) {
    mtcp_tcp_icmp_error(st, m->type, m->code, mtu, &q);
  } else if (q.proto == WIRE_IP_PROTO_UDP) {
    int err = MICROTCP_EHOSTUNREACH;
    if (m->type == WIRE_ICMP_DEST_UNREACH && m->code == WIRE_ICMP_UNREACH_PORT)
      err = MICROTCP_EPORTUNREACH;
    else if (m->type == WIRE_ICMP_DEST_UNREACH && m->code == WIRE_ICMP_UNREACH_NET)
      err = MICROTCP_ENETUNREACH;
    else if (m->type == WIRE_ICMP_DEST_UNREACH && m->code == WIRE_ICMP_UNREACH_NEEDFRAG)
      err = MICROTCP_EMSGSIZE;
    mtcp_udp_icmp_error(st, err, &q);
  }
}

static void queue_ping_reply(struct microtcp_stack *st, uint32_t src, const wire_icmp *m) {
  struct icmp_state *s = &st->icmp;
  if (s->ping_len >= st->cfg.ping_queue) return;
  microtcp_ping_reply *r = &s->ping_replies[(s->ping_head + s->ping_len) % st->cfg.ping_queue];
  r->src = src;
  r->id = (uint16_t)(m->rest >> 16);
  r->seq = (uint16_t)m->rest;
  r->len = (uint32_t)m->payload_len;
  uint32_t sum = 0;
  for (size_t i = 0; i < m->payload_len; i++) sum += m->payload[i];
  r->payload_sum = sum;
  r->at = st->now;
  s->ping_len++;
}

void mtcp_icmp_input(struct microtcp_stack *st, const struct wire_ipv4 *ip) {
  wire_icmp m;
  if (wire_icmp_parse(ip->payload, ip->payload_len, &m) < 0) {
    st->ctr.drop_icmp_malformed++;
    return;
  }
#ifndef MICROTCP_FUZZING
  if (wire_csum(ip->payload, ip->payload_len) != 0) {
    st->ctr.drop_icmp_checksum++;
    return;
  }
#endif
  switch (m.type) {
  case WIRE_ICMP_ECHO_REQUEST:
    /* RFC 1122 3.2.2.6: echo to a broadcast address may be ignored: we do. */
    if (!st->cfg.icmp_echo || ip->dst != st->cfg.ip) return;
    if (!rate_ok(st)) return;
    if (icmp_send(st, ip->src, WIRE_ICMP_ECHO_REPLY, 0, m.rest, m.payload, m.payload_len) ==
        MICROTCP_OK)
      st->ctr.icmp_echo_replies_out++;
    break;
  case WIRE_ICMP_ECHO_REPLY: queue_ping_reply(st, ip->src, &m); break;
  case WIRE_ICMP_DEST_UNREACH:
  case WIRE_ICMP_TIME_EXCEEDED: deliver_error(st, ip, &m); break;
  default: break;
  }
}

int microtcp_ping(microtcp_stack *st, uint64_t now, uint32_t dst, uint16_t id, uint16_t seq,
                  const void *payload, size_t len) {
  if (now > st->now) st->now = now;
  if (payload == NULL && len) return MICROTCP_EINVAL;
  if (dst == 0 || dst == st->cfg.ip) return MICROTCP_EINVAL;
  return icmp_send(st, dst, WIRE_ICMP_ECHO_REQUEST, 0, (uint32_t)id << 16 | seq, payload, len);
}

int microtcp_ping_recv(microtcp_stack *st, microtcp_ping_reply *out) {
  struct icmp_state *s = &st->icmp;
  if (s->ping_len == 0) return MICROTCP_EAGAIN;
  *out = s->ping_replies[s->ping_head];
  s->ping_head = (uint16_t)((s->ping_head + 1) % st->cfg.ping_queue);
  s->ping_len--;
  return (int)out->len;
}
