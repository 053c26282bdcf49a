/*
 * Packets of the TCP script runner: encode inbound lines as IPv4/TCP bytes,
 * decode and verify what the stack sends (checksums included), convert
 * sequence numbers between absolute and script-relative form, print packets
 * in the script's own syntax, and compare an outbound packet with its line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "script.h"

static void put16(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}
static uint32_t get16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint16_t pkt_checksum(const uint8_t *p, size_t len, uint32_t sum) {
  uint64_t s = sum;
  for (size_t i = 0; i + 1 < len; i += 2) s += get16(p + i);
  if (len & 1) s += (uint32_t)p[len - 1] << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (uint16_t)~s;
}

static uint32_t pseudo_sum(uint32_t src, uint32_t dst, size_t tcp_len) {
  return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 6u + (uint32_t)tcp_len;
}

/* ---- encode ------------------------------------------------------------------------ */
static int encode_options(const struct pkt *p, const struct flow_base *fb, uint8_t *o, size_t cap) {
  size_t n = 0;
  for (int i = 0; i < p->nopts; i++) {
    const struct pkt_opt *x = &p->opts[i];
    size_t need = x->kind == PO_MSS ? 4 : x->kind == PO_WSCALE ? 3 : x->kind == PO_SACKOK ? 2
                : x->kind == PO_TS ? 10 : x->kind == PO_SACK ? 2 + 8 * (size_t)x->nblocks : 1;
    if (n + need > cap) return -1;
    switch (x->kind) {
    case PO_EOL: o[n] = 0; break;
    case PO_NOP: o[n] = 1; break;
    case PO_MSS: o[n] = 2; o[n + 1] = 4; put16(o + n + 2, x->a); break;
    case PO_WSCALE: o[n] = 3; o[n + 1] = 3; o[n + 2] = (uint8_t)x->a; break;
    case PO_SACKOK: o[n] = 4; o[n + 1] = 2; break;
    case PO_SACK:
      o[n] = 5;
      o[n + 1] = (uint8_t)need;
      for (int b = 0; b < x->nblocks; b++) {
        put32(o + n + 2 + 8 * b, fb->stack_isn + x->blocks[b][0]);
        put32(o + n + 6 + 8 * b, fb->stack_isn + x->blocks[b][1]);
      }
      break;
    case PO_TS:
      /* The script cannot know the stack's TS clock: a non-zero ecr means
       * "echo what the stack sent last" (README: divergence from packetdrill). */
      o[n] = 8;
      o[n + 1] = 10;
      put32(o + n + 2, x->a);
      put32(o + n + 6, x->b ? fb->last_tsval : 0);
      break;
    case PO_OTHER: return -1;
    }
    n += need;
  }
  while (n % 4) { /* pad with EOL to a 32-bit boundary */
    if (n >= cap) return -1;
    o[n++] = 0;
  }
  return (int)n;
}

int pkt_encode(const struct pkt *p, const struct flow_base *fb, const struct endpoints *ep,
               uint8_t *buf, size_t cap) {
  uint8_t opts[40];
  int olen = encode_options(p, fb, opts, sizeof opts);
  if (olen < 0) return -1;
  size_t tcp_len = 20 + (size_t)olen + p->len;
  size_t total = 20 + tcp_len;
  if (total > cap || total > 65535) return -1;
  memset(buf, 0, total);
  uint8_t *ip = buf, *th = buf + 20;
  ip[0] = 0x45;
  put16(ip + 2, (uint32_t)total);
  put16(ip + 6, 0x4000); /* DF */
  ip[8] = 64;
  ip[9] = 6;
  put32(ip + 12, ep->src_ip);
  put32(ip + 16, ep->dst_ip);
  put16(ip + 10, pkt_checksum(ip, 20, 0));
  put16(th, ep->src_port);
  put16(th + 2, ep->dst_port);
  put32(th + 4, fb->remote_isn + p->seq);
  put32(th + 8, p->has_ack ? fb->stack_isn + p->ack : 0);
  th[12] = (uint8_t)((20 + olen) / 4 << 4);
  th[13] = p->flags;
  put16(th + 14, p->has_win ? p->win : 65535);
  memcpy(th + 20, opts, (size_t)olen);
  /* payload: zeros (content is not part of the script syntax) */
  put16(th + 16, pkt_checksum(th, tcp_len, pseudo_sum(ep->src_ip, ep->dst_ip, tcp_len)));
  return (int)total;
}

/* ---- decode ------------------------------------------------------------------------ */
static int why_fail(char *why, size_t whylen, const char *msg) {
  snprintf(why, whylen, "%s", msg);
  return -1;
}

int pkt_decode(const uint8_t *ip, size_t len, struct pkt *p, struct endpoints *ep, char *why,
               size_t whylen) {
  memset(p, 0, sizeof *p);
  if (len < 20 || ip[0] >> 4 != 4) return why_fail(why, whylen, "not an IPv4 packet");
  size_t ihl = (size_t)(ip[0] & 15) * 4, total = get16(ip + 2);
  if (ihl < 20 || total < ihl || total > len) return why_fail(why, whylen, "malformed IPv4 header");
  if (pkt_checksum(ip, ihl, 0) != 0) return why_fail(why, whylen, "wrong IPv4 header checksum");
  if (ip[9] != 6) {
    snprintf(why, whylen, "IPv4 protocol %u, not TCP%s", ip[9],
             ip[9] == 1 && total > ihl ? (ip[ihl] == 3 ? " (ICMP unreachable)" : " (ICMP)") : "");
    return -1;
  }
  ep->src_ip = get32(ip + 12);
  ep->dst_ip = get32(ip + 16);
  const uint8_t *th = ip + ihl;
  size_t tcp_len = total - ihl;
  if (tcp_len < 20) return why_fail(why, whylen, "TCP header truncated");
  size_t doff = (size_t)(th[12] >> 4) * 4;
  if (doff < 20 || doff > tcp_len) return why_fail(why, whylen, "bad TCP data offset");
  if (pkt_checksum(th, tcp_len, pseudo_sum(ep->src_ip, ep->dst_ip, tcp_len)) != 0)
    return why_fail(why, whylen, "wrong TCP checksum");
  ep->src_port = (uint16_t)get16(th);
  ep->dst_port = (uint16_t)get16(th + 2);
  p->dir = '>';
  p->seq = get32(th + 4);
  p->ack = get32(th + 8);
  p->has_ack = true;
  p->flags = th[13];
  p->win = get16(th + 14);
  p->has_win = true;
  p->len = (uint32_t)(tcp_len - doff);
  p->has_opts = true;
  for (size_t i = 20; i < doff;) {
    if (p->nopts == PKT_MAX_OPTS) return why_fail(why, whylen, "too many TCP options");
    struct pkt_opt *o = &p->opts[p->nopts++];
    uint8_t kind = th[i];
    if (kind == 0 || kind == 1) {
      o->kind = kind == 0 ? PO_EOL : PO_NOP;
      i++;
      continue;
    }
    if (i + 2 > doff || th[i + 1] < 2 || i + th[i + 1] > doff)
      return why_fail(why, whylen, "malformed TCP option");
    size_t olen = th[i + 1];
    const uint8_t *v = th + i + 2;
    if (kind == 2 && olen == 4) {
      o->kind = PO_MSS;
      o->a = get16(v);
    } else if (kind == 3 && olen == 3) {
      o->kind = PO_WSCALE;
      o->a = v[0];
    } else if (kind == 4 && olen == 2) {
      o->kind = PO_SACKOK;
    } else if (kind == 8 && olen == 10) {
      o->kind = PO_TS;
      o->a = get32(v);
      o->b = get32(v + 4);
    } else if (kind == 5 && (olen - 2) % 8 == 0 && olen > 2 && (olen - 2) / 8 <= PKT_MAX_SACK) {
      o->kind = PO_SACK;
      o->nblocks = (int)((olen - 2) / 8);
      for (int b = 0; b < o->nblocks; b++) {
        o->blocks[b][0] = get32(v + 8 * b);
        o->blocks[b][1] = get32(v + 8 * b + 4);
      }
    } else {
      o->kind = PO_OTHER;
      o->a = kind;
      o->b = (uint32_t)olen;
    }
    i += olen;
  }
  return 0;
}

void pkt_make_relative(const struct pkt *a, const struct flow_base *fb, struct pkt *r) {
  *r = *a;
  r->seq = a->seq - fb->stack_isn;
  r->ack = a->ack - fb->remote_isn;
  r->has_ack = (a->flags & TH_ACK) != 0;
  for (int i = 0; i < r->nopts; i++)
    for (int b = 0; b < r->opts[i].nblocks; b++) {
      r->opts[i].blocks[b][0] -= fb->remote_isn;
      r->opts[i].blocks[b][1] -= fb->remote_isn;
    }
}

/* ---- print ------------------------------------------------------------------------- */
struct sbuf {
  char *p;
  size_t cap, n;
};

static void sb_add(struct sbuf *b, const char *fmt, ...) {
  if (b->n >= b->cap) return;
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
  va_end(ap);
  if (k > 0) b->n += (size_t)k;
  if (b->n >= b->cap) b->n = b->cap - 1;
}

static void format_opt(struct sbuf *b, const struct pkt_opt *o) {
  switch (o->kind) {
  case PO_EOL: sb_add(b, "eol"); break;
  case PO_NOP: sb_add(b, "nop"); break;
  case PO_MSS: sb_add(b, "mss %u", o->a); break;
  case PO_WSCALE: sb_add(b, "wscale %u", o->a); break;
  case PO_SACKOK: sb_add(b, "sackOK"); break;
  case PO_TS: sb_add(b, "TS val %u ecr %u", o->a, o->b); break;
  case PO_SACK:
    sb_add(b, "sack");
    for (int i = 0; i < o->nblocks; i++) sb_add(b, " %u:%u", o->blocks[i][0], o->blocks[i][1]);
    break;
  case PO_OTHER: sb_add(b, "kind %u len %u", o->a, o->b); break;
  }
}

void pkt_format(const struct pkt *p, char *buf, size_t cap) {
  struct sbuf b = {buf, cap, 0};
  buf[0] = 0;
  sb_add(&b, "%c ", p->dir);
  static const struct { uint8_t bit; char ch; } order[] = {
      {TH_SYN, 'S'}, {TH_FIN, 'F'}, {TH_RST, 'R'}, {TH_PSH, 'P'},
      {TH_URG, 'U'}, {TH_ECE, 'E'}, {TH_CWR, 'W'}, {TH_ACK, '.'}};
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
    if (p->flags & order[i].bit) sb_add(&b, "%c", order[i].ch);
  sb_add(&b, " %u:%u(%u)", p->seq, p->seq + p->len, p->len);
  if (p->has_ack) sb_add(&b, " ack %u", p->ack);
  if (p->has_win) sb_add(&b, " win %u", p->win);
  if (p->has_opts && p->nopts) {
    sb_add(&b, " <");
    for (int i = 0; i < p->nopts; i++) {
      if (i) sb_add(&b, ",");
      format_opt(&b, &p->opts[i]);
    }
    sb_add(&b, ">");
  }
}

/* ---- compare ----------------------------------------------------------------------- */
static bool opt_equal(const struct pkt_opt *w, const struct pkt_opt *g) {
  if (w->kind != g->kind) return false;
  switch (w->kind) {
  case PO_MSS:
  case PO_WSCALE: return w->a == g->a;
  case PO_TS: return w->b == g->b; /* our TS val is not checked, ecr is */
  case PO_SACK:
    if (w->nblocks != g->nblocks) return false;
    for (int i = 0; i < w->nblocks; i++)
      if (w->blocks[i][0] != g->blocks[i][0] || w->blocks[i][1] != g->blocks[i][1]) return false;
    return true;
  case PO_OTHER: return w->a == g->a && w->b == g->b;
  default: return true;
  }
}

bool pkt_matches(const struct pkt *want, const struct pkt *got, char *why, size_t whylen) {
  struct sbuf b = {why, whylen, 0};
  why[0] = 0;
  if (want->flags != got->flags) sb_add(&b, "flags differ; ");
  if (want->seq != got->seq) sb_add(&b, "seq %u, expected %u; ", got->seq, want->seq);
  if (want->len != got->len) sb_add(&b, "length %u, expected %u; ", got->len, want->len);
  if (want->has_ack && (want->ack != got->ack || !(got->flags & TH_ACK)))
    sb_add(&b, "ack %u, expected %u; ", got->ack, want->ack);
  if (want->has_win && want->win != got->win) sb_add(&b, "win %u, expected %u; ", got->win, want->win);
  if (want->has_opts) {
    bool same = want->nopts == got->nopts;
    for (int i = 0; same && i < want->nopts; i++) same = opt_equal(&want->opts[i], &got->opts[i]);
    if (!same) sb_add(&b, "options differ; ");
  }
  if (b.n >= 2 && why[b.n - 2] == ';') why[b.n - 2] = 0;
  return b.n == 0;
}
