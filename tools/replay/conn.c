/* Per-connection numbering and the rewriting of injected frames: see conn.h. */
#include "conn.h"

#include <stdlib.h>
#include <string.h>

#include "../../sim/prng.h"

static size_t conn_hash(uint32_t pip, uint16_t pport, uint16_t hport) {
  uint64_t k = (uint64_t)pip << 32 | (uint64_t)pport << 16 | hport;
  return (size_t)(prng_golden(k) >> 32);
}

static void index_put(struct conns *cs, size_t i) {
  const struct conn *c = &cs->v[i];
  size_t mask = cs->index_cap - 1, h = conn_hash(c->pip, c->pport, c->hport) & mask;
  while (cs->index[h])
    h = (h + 1) & mask;
  cs->index[h] = (uint32_t)(i + 1);
}

struct conn *conn_get(struct conns *cs, uint32_t pip, uint16_t pport, uint16_t hport, bool create) {
  if (cs->index_cap) {
    size_t mask = cs->index_cap - 1, h = conn_hash(pip, pport, hport) & mask;
    for (; cs->index[h]; h = (h + 1) & mask) {
      struct conn *c = &cs->v[cs->index[h] - 1];
      if (c->pip == pip && c->pport == pport && c->hport == hport) return c;
    }
  }
  if (!create) return NULL;
  if (cs->n == cs->cap) {
    cs->cap = cs->cap ? cs->cap * 2 : 16;
    struct conn *g = realloc(cs->v, cs->cap * sizeof *g);
    if (!g) abort();
    cs->v = g;
  }
  struct conn *c = &cs->v[cs->n++];
  memset(c, 0, sizeof *c);
  c->pip = pip;
  c->pport = pport;
  c->hport = hport;
  if (2 * cs->n >= cs->index_cap) {
    free(cs->index);
    cs->index_cap = cs->index_cap ? cs->index_cap * 2 : 64;
    cs->index = calloc(cs->index_cap, sizeof *cs->index);
    if (!cs->index) abort();
    for (size_t i = 0; i < cs->n; i++)
      index_put(cs, i);
  } else {
    index_put(cs, cs->n - 1);
  }
  return c;
}

void conn_note(struct conn *c, enum conn_side side, const wire_tcp *t) {
  struct numbering *n = &c->side[side];
  if ((t->flags & WIRE_TCP_SYN) && !n->isn_from_syn) {
    n->isn = t->seq;
    n->isn_known = n->isn_from_syn = true;
  } else if (!n->isn_known) {
    n->isn = t->seq;
    n->isn_known = true;
  }
  uint32_t end = t->seq + (uint32_t)t->payload_len + ((t->flags & WIRE_TCP_SYN) ? 1u : 0u) +
                 ((t->flags & WIRE_TCP_FIN) ? 1u : 0u);
  if (!n->max_known || (int32_t)(end - n->snd_max) > 0) {
    n->snd_max = end;
    n->max_known = true;
  }
  if (t->opts.has_ts && !n->ts_known) {
    n->ts0 = t->opts.ts_val;
    n->ts_known = true;
  }
}

void conn_note_capture(struct conn *c, enum conn_side side, const wire_tcp *t) {
  const struct numbering *n = &c->side[side];
  if ((t->flags & (WIRE_TCP_SYN | WIRE_TCP_ACK)) == WIRE_TCP_SYN && n->isn_from_syn &&
      n->isn != t->seq)
    memset(c->side, 0, sizeof c->side);
  conn_note(c, side, t);
}

void conn_note_frame(struct conns *cs, enum conn_side side, const uint8_t *f, size_t len) {
  if (len < 14 + 20 + 20 || wire_get16(f + 12) != WIRE_ETHERTYPE_IPV4) return;
  const uint8_t *ip = f + 14;
  size_t ihl = (size_t)(ip[0] & 15) * 4, tot = wire_get16(ip + 2);
  if ((ip[0] >> 4) != 4 || ihl < 20 || ip[9] != WIRE_IP_PROTO_TCP || (wire_get16(ip + 6) & 0x3fff))
    return;
  if (tot == 0) tot = len - 14; /* BIG TCP */
  if (tot > len - 14 || ihl + 20 > tot) return;
  const uint8_t *tcp = ip + ihl;
  size_t doff = (size_t)(tcp[12] >> 4) * 4;
  if (doff < 20 || ihl + doff > tot) return;
  wire_tcp t;
  t.src_port = wire_get16(tcp);
  t.dst_port = wire_get16(tcp + 2);
  t.seq = wire_get32(tcp + 4);
  t.flags = tcp[13];
  t.payload_len = tot - ihl - doff;
  t.opts.has_ts = false;
  struct conn *c = side == SIDE_PEER
                       ? conn_get(cs, wire_get32(ip + 12), t.src_port, t.dst_port, true)
                       : conn_get(cs, wire_get32(ip + 16), t.dst_port, t.src_port, true);
  if (!c->side[side].ts_known) {
    /* The TS option, walked as rewrite_tcp does (only a well-formed one counts). */
    for (size_t i = 20; i < doff;) {
      uint8_t kind = tcp[i];
      if (kind == WIRE_TCPOPT_EOL) break;
      if (kind == WIRE_TCPOPT_NOP) {
        i++;
        continue;
      }
      if (i + 1 >= doff || tcp[i + 1] < 2 || i + tcp[i + 1] > doff) break;
      if (kind == WIRE_TCPOPT_TS && tcp[i + 1] == 10) {
        t.opts.has_ts = true;
        t.opts.ts_val = wire_get32(tcp + i + 2);
        break;
      }
      i += tcp[i + 1];
    }
  }
  if (side == SIDE_STACK)
    conn_note(c, side, &t);
  else
    conn_note_capture(c, side, &t);
}

void conn_rel(const struct conn *c, enum conn_side sender, enum conn_side receiver,
              struct pkt_rel *rel) {
  const struct numbering *s = &c->side[sender];
  const struct numbering *r = &c->side[receiver];
  memset(rel, 0, sizeof *rel);
  rel->valid = true;
  rel->seq = s->isn;
  rel->ack = r->isn;
  rel->ts_valid = true;
  rel->tsval = s->ts0;
  rel->tsecr = r->ts0;
}

/* Replace the 32-bit big-endian value at p, updating the checksum at csum
 * incrementally (RFC 1624), one 16-bit word at a time. */
static void put32_csum(uint8_t *p, uint32_t v, uint8_t *csum) {
  uint16_t c = wire_get16(csum);
  uint16_t old_hi = wire_get16(p), old_lo = wire_get16(p + 2);
  wire_put32(p, v);
  c = wire_csum_update16(c, old_hi, wire_get16(p));
  c = wire_csum_update16(c, old_lo, wire_get16(p + 2));
  wire_put16(csum, c);
}

/* Offsets into the numbering of H and the stack for a connection. */
static bool deltas(const struct conns *cs, const struct conn *c, uint32_t *seq_delta, bool *ts_ok,
                   uint32_t *ts_delta) {
  const struct numbering *h = &c->side[SIDE_H], *s = &c->side[SIDE_STACK];
  if (!s->isn_known || (cs->need_h && !h->isn_known)) return false;
  uint32_t h_isn = h->isn_known ? h->isn : 0, h_ts = h->ts_known ? h->ts0 : 0;
  *seq_delta = s->isn - h_isn;
  *ts_ok = s->ts_known;
  *ts_delta = s->ts0 - h_ts;
  return true;
}

static bool rewrite_tcp(struct conns *cs, uint8_t *tcp, size_t len, uint32_t src_ip) {
  uint16_t sport = wire_get16(tcp), dport = wire_get16(tcp + 2);
  struct conn *c = conn_get(cs, src_ip, sport, dport, false);
  uint32_t d, td;
  bool ts_ok;
  if (!c || !deltas(cs, c, &d, &ts_ok, &td)) return false;
  uint8_t flags = tcp[13];
  if (!(flags & WIRE_TCP_ACK)) return false;
  bool changed = false;
  uint8_t *csum = tcp + 16;
  uint32_t ack = wire_get32(tcp + 8) + d;
  const struct numbering *stack = &c->side[SIDE_STACK];
  if (cs->clamp_acks && stack->max_known && (int32_t)(ack - stack->snd_max) > 0)
    ack = stack->snd_max;
  if (ack != wire_get32(tcp + 8)) {
    put32_csum(tcp + 8, ack, csum);
    changed = true;
  }
  /* Walk the options by hand (the frame may be deliberately malformed; only
   * well-formed SACK/TS options are touched). */
  size_t doff = (size_t)(tcp[12] >> 4) * 4;
  if (doff < WIRE_TCP_HLEN || doff > len) return changed;
  size_t i = WIRE_TCP_HLEN;
  while (i < doff) {
    uint8_t kind = tcp[i];
    if (kind == WIRE_TCPOPT_EOL) break;
    if (kind == WIRE_TCPOPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= doff) break;
    uint8_t l = tcp[i + 1];
    if (l < 2 || i + l > doff) break;
    if (kind == WIRE_TCPOPT_SACK && d && (l - 2) % 8 == 0) {
      for (size_t b = i + 2; b + 4 <= i + l; b += 4)
        put32_csum(tcp + b, wire_get32(tcp + b) + d, csum);
      changed = true;
    } else if (kind == WIRE_TCPOPT_TS && l == 10 && ts_ok && td) {
      put32_csum(tcp + i + 6, wire_get32(tcp + i + 6) + td, csum);
      changed = true;
    }
    i += l;
  }
  return changed;
}

/* ICMP error quoting a TCP segment H sent: move the quoted seq. */
static bool rewrite_icmp(struct conns *cs, uint32_t h_ip, uint8_t *icmp, size_t len) {
  if (len < 8 + 20 + 8) return false;
  uint8_t type = icmp[0];
  if (type != WIRE_ICMP_DEST_UNREACH && type != WIRE_ICMP_TIME_EXCEEDED) return false;
  uint8_t *q = icmp + 8;
  size_t ihl = (size_t)(q[0] & 15) * 4;
  if ((q[0] >> 4) != 4 || ihl < 20 || 8 + ihl + 8 > len || q[9] != WIRE_IP_PROTO_TCP) return false;
  if (wire_get32(q + 12) != h_ip) return false;
  uint8_t *tcp = q + ihl;
  struct conn *c = conn_get(cs, wire_get32(q + 16), wire_get16(tcp + 2), wire_get16(tcp), false);
  uint32_t d, td;
  bool ts_ok;
  if (!c || !deltas(cs, c, &d, &ts_ok, &td) || !d) return false;
  put32_csum(tcp + 4, wire_get32(tcp + 4) + d, icmp + 2);
  return true;
}

bool conn_rewrite_input(struct conns *cs, uint32_t h_ip, uint8_t *f, size_t len) {
  if (cs->n == 0 || len < 14 + 20 || wire_get16(f + 12) != WIRE_ETHERTYPE_IPV4) return false;
  uint8_t *ip = f + 14;
  size_t ihl = (size_t)(ip[0] & 15) * 4;
  if ((ip[0] >> 4) != 4 || ihl < 20 || 14 + ihl > len) return false;
  size_t tot = wire_get16(ip + 2);
  if (tot < ihl || 14 + tot > len) tot = len - 14; /* malformed length: use what is there */
  if (wire_get16(ip + 6) & 0x3fff) return false;   /* a fragment: leave it alone */
  if (wire_get32(ip + 16) != h_ip) return false;
  uint8_t *l4 = ip + ihl;
  size_t l4_len = tot - ihl;
  if (ip[9] == WIRE_IP_PROTO_TCP && l4_len >= WIRE_TCP_HLEN)
    return rewrite_tcp(cs, l4, l4_len, wire_get32(ip + 12));
  if (ip[9] == WIRE_IP_PROTO_ICMP) return rewrite_icmp(cs, h_ip, l4, l4_len);
  return false;
}

void conn_free(struct conns *cs) {
  free(cs->v);
  free(cs->index);
  memset(cs, 0, sizeof *cs);
}
