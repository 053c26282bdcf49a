/* Decoding, one-line summaries and normalised fields of frames: see pkt.h. */
#include "pkt.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "microtcp/microtcp.h"

/* A BIG TCP (or GSO) IPv4 packet longer than 65535 bytes: Linux writes total
 * length 0 and the length is the frame's. Accepted here (for summaries and
 * the reassembled streams) when the header is otherwise sound; the stack
 * never sees such a frame (oversize). */
static bool big_ipv4(const uint8_t *b, size_t len, wire_ipv4 *ip) {
  if (len <= 65535 || (b[0] >> 4) != 4 || wire_get16(b + 2) != 0) return false;
  size_t ihl = (size_t)(b[0] & 15) * 4;
  if (ihl < 20 || (wire_get16(b + 6) & 0xbfff)) return false; /* no fragments, no reserved bit */
  memset(ip, 0, sizeof *ip);
  ip->ihl_bytes = (uint8_t)ihl;
  ip->tos = b[1];
  ip->id = wire_get16(b + 4);
  ip->df = (b[6] & 0x40) != 0;
  ip->ttl = b[8];
  ip->proto = b[9];
  ip->checksum = wire_get16(b + 10);
  ip->src = wire_get32(b + 12);
  ip->dst = wire_get32(b + 16);
  ip->payload = b + ihl;
  ip->payload_len = len - ihl;
  return true;
}

void pkt_decode(const uint8_t *frame, size_t len, struct pkt *p) {
  memset(p, 0, sizeof *p);
  p->raw = frame;
  p->len = len;
  if (wire_eth_parse(frame, len, &p->eth) < 0) {
    p->layer = PKT_BAD_ETH;
    return;
  }
  if (p->eth.ethertype == WIRE_ETHERTYPE_ARP) {
    p->layer =
        wire_arp_parse(p->eth.payload, p->eth.payload_len, &p->arp) < 0 ? PKT_BAD_ARP : PKT_ARP;
    return;
  }
  if (p->eth.ethertype != WIRE_ETHERTYPE_IPV4) {
    p->layer = PKT_OTHER;
    return;
  }
  if (wire_ipv4_parse(p->eth.payload, p->eth.payload_len, &p->ip) < 0 &&
      !big_ipv4(p->eth.payload, p->eth.payload_len, &p->ip)) {
    p->layer = PKT_BAD_IP;
    return;
  }
  p->big = p->ip.total_len == 0;
  p->layer = PKT_IP;
  if (p->ip.mf || p->ip.frag_offset) return; /* a fragment: no transport header to read */
  p->l4 = p->ip.payload;
  p->l4_len = p->ip.payload_len;
  int rc = -1;
  switch (p->ip.proto) {
  case WIRE_IP_PROTO_ICMP:
    rc = wire_icmp_parse(p->l4, p->l4_len, &p->icmp);
    if (rc == 0) p->layer = PKT_ICMP;
    break;
  case WIRE_IP_PROTO_UDP:
    rc = wire_udp_parse(p->l4, p->l4_len, &p->udp);
    if (rc == 0) p->layer = PKT_UDP;
    break;
  case WIRE_IP_PROTO_TCP:
    rc = wire_tcp_parse(p->l4, p->l4_len, &p->tcp);
    if (rc == 0) p->layer = PKT_TCP;
    break;
  default: return;
  }
  if (rc < 0) p->layer = PKT_BAD_L4;
}

/* ---- small formatting helpers ---- */
struct out {
  char *buf;
  size_t cap, len;
};
static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...) {
  if (o->len >= o->cap) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
  va_end(ap);
  if (n > 0) o->len += (size_t)n < o->cap - o->len ? (size_t)n : o->cap - o->len - 1;
}
static void ip_str(uint32_t ip, char *b, size_t cap) {
  snprintf(b, cap, "%u.%u.%u.%u", ip >> 24, ip >> 16 & 255, ip >> 8 & 255, ip & 255);
}
static void mac_str(const uint8_t *m, char *b, size_t cap) {
  snprintf(b, cap, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}
static uint64_t fnv1a(const uint8_t *d, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ d[i]) * 1099511628211ull;
  return h;
}
static void tcp_flags_str(uint8_t f, char *b) {
  /* tcpdump's order and letters; '.' is ACK. */
  size_t k = 0;
  if (f & WIRE_TCP_FIN) b[k++] = 'F';
  if (f & WIRE_TCP_SYN) b[k++] = 'S';
  if (f & WIRE_TCP_RST) b[k++] = 'R';
  if (f & WIRE_TCP_PSH) b[k++] = 'P';
  if (f & WIRE_TCP_URG) b[k++] = 'U';
  if (f & WIRE_TCP_CWR) b[k++] = 'W';
  if (f & WIRE_TCP_ECE) b[k++] = 'E';
  if (f & WIRE_TCP_ACK) b[k++] = '.';
  if (!k) b[k++] = 'n', b[k++] = 'o', b[k++] = 'n', b[k++] = 'e';
  b[k] = 0;
}

/* The options in wire order, e.g. "mss 1460,sackOK,TS val 0 ecr 0,nop,wscale 7".
 * with_ts=false leaves the TS values out (they are separate fields). The
 * bytes were validated by wire_tcp_parse, so each length fits. */
static void tcp_options_str(const struct pkt *p, const struct pkt_rel *rel, bool with_ts,
                            struct out *o) {
  const uint8_t *opt = p->l4 + WIRE_TCP_HLEN;
  size_t n = p->tcp.data_off - WIRE_TCP_HLEN, i = 0;
  bool first = true;
  while (i < n) {
    uint8_t kind = opt[i];
    if (!first) put(o, ",");
    first = false;
    if (kind == WIRE_TCPOPT_EOL) {
      put(o, "eol");
      break;
    }
    if (kind == WIRE_TCPOPT_NOP) {
      put(o, "nop");
      i++;
      continue;
    }
    if (i + 1 >= n || opt[i + 1] < 2 || i + opt[i + 1] > n) {
      put(o, "bad");
      break;
    }
    uint8_t l = opt[i + 1];
    const uint8_t *v = opt + i + 2;
    switch (kind) {
    case WIRE_TCPOPT_MSS: put(o, "mss %u", l == 4 ? wire_get16(v) : 0); break;
    case WIRE_TCPOPT_WS: put(o, "wscale %u", l == 3 ? v[0] : 0); break;
    case WIRE_TCPOPT_SACK_PERM: put(o, "sackOK"); break;
    case WIRE_TCPOPT_TS:
      if (!with_ts || l != 10) {
        put(o, "TS");
      } else {
        uint32_t val = wire_get32(v), ecr = wire_get32(v + 4);
        if (rel && rel->ts_valid) {
          val -= rel->tsval;
          if (ecr) ecr -= rel->tsecr;
        }
        put(o, "TS val %u ecr %u", val, ecr);
      }
      break;
    case WIRE_TCPOPT_SACK:
      put(o, "sack %u", (l - 2) / 8);
      for (size_t b = 0; b + 8 <= (size_t)(l - 2); b += 8) {
        uint32_t le = wire_get32(v + b), re = wire_get32(v + b + 4);
        if (rel && rel->valid) le -= rel->ack, re -= rel->ack;
        put(o, " {%u:%u}", le, re);
      }
      break;
    default: put(o, "opt-%u len %u", kind, l); break;
    }
    i += l;
  }
}

static const char *icmp_name(uint8_t type, uint8_t code) {
  switch (type) {
  case WIRE_ICMP_ECHO_REPLY: return "echo reply";
  case WIRE_ICMP_ECHO_REQUEST: return "echo request";
  case WIRE_ICMP_TIME_EXCEEDED: return "time exceeded";
  case WIRE_ICMP_DEST_UNREACH:
    switch (code) {
    case WIRE_ICMP_UNREACH_NET: return "net unreachable";
    case WIRE_ICMP_UNREACH_HOST: return "host unreachable";
    case WIRE_ICMP_UNREACH_PROTO: return "protocol unreachable";
    case WIRE_ICMP_UNREACH_PORT: return "port unreachable";
    case WIRE_ICMP_UNREACH_NEEDFRAG: return "need to frag";
    default: return "unreachable";
    }
  default: return "type";
  }
}

void pkt_summary(const struct pkt *p, const struct pkt_rel *rel, char *buf, size_t cap) {
  struct out o = {buf, cap, 0};
  buf[0] = 0;
  char a[20], b[20], m[20];
  switch (p->layer) {
  case PKT_BAD_ETH: put(&o, "malformed Ethernet frame len %zu", p->len); return;
  case PKT_OTHER: put(&o, "ethertype 0x%04x len %zu", p->eth.ethertype, p->len); return;
  case PKT_BAD_ARP: put(&o, "ARP malformed len %zu", p->eth.payload_len); return;
  case PKT_ARP:
    ip_str(p->arp.spa, a, sizeof a);
    ip_str(p->arp.tpa, b, sizeof b);
    if (p->arp.op == WIRE_ARP_REQUEST) {
      put(&o, "ARP who-has %s tell %s", b, a);
    } else {
      mac_str(p->arp.sha, m, sizeof m);
      put(&o, "ARP %s is-at %s (to %s)", a, m, b);
    }
    return;
  case PKT_BAD_IP: put(&o, "IPv4 malformed len %zu", p->eth.payload_len); return;
  default: break;
  }
  ip_str(p->ip.src, a, sizeof a);
  ip_str(p->ip.dst, b, sizeof b);
  if (p->layer == PKT_IP) {
    put(&o, "%s > %s IP proto %u", a, b, p->ip.proto);
    if (p->ip.mf || p->ip.frag_offset)
      put(&o, " frag off %u%s", p->ip.frag_offset, p->ip.mf ? " [MF]" : "");
    put(&o, " len %zu", p->ip.payload_len);
    return;
  }
  if (p->layer == PKT_BAD_L4) {
    put(&o, "%s > %s IP proto %u malformed transport header len %zu", a, b, p->ip.proto,
        p->ip.payload_len);
    return;
  }
  if (p->layer == PKT_ICMP) {
    put(&o, "%s > %s ICMP %s", a, b, icmp_name(p->icmp.type, p->icmp.code));
    if (p->icmp.type == WIRE_ICMP_ECHO_REQUEST || p->icmp.type == WIRE_ICMP_ECHO_REPLY)
      put(&o, " id %u seq %u", p->icmp.rest >> 16, p->icmp.rest & 0xffff);
    else if (p->icmp.type != WIRE_ICMP_DEST_UNREACH && p->icmp.type != WIRE_ICMP_TIME_EXCEEDED)
      put(&o, " %u code %u", p->icmp.type, p->icmp.code);
    put(&o, " len %zu", p->icmp.payload_len);
    return;
  }
  if (p->layer == PKT_UDP) {
    put(&o, "%s:%u > %s:%u UDP len %zu", a, p->udp.src_port, b, p->udp.dst_port,
        p->udp.payload_len);
    return;
  }
  const wire_tcp *t = &p->tcp;
  char fl[12];
  tcp_flags_str(t->flags, fl);
  uint32_t seq = t->seq, ack = t->ack;
  if (rel && rel->valid) {
    seq -= rel->seq;
    ack -= rel->ack;
  }
  put(&o, "%s:%u > %s:%u [%s] seq %u", a, t->src_port, b, t->dst_port, fl, seq);
  if (t->flags & WIRE_TCP_ACK) put(&o, " ack %u", ack);
  put(&o, " win %u", t->window);
  if (t->flags & WIRE_TCP_URG) put(&o, " urg %u", t->urgent);
  if (t->data_off > WIRE_TCP_HLEN) {
    put(&o, " <");
    tcp_options_str(p, rel, true, &o);
    put(&o, ">");
  }
  put(&o, " len %zu", t->payload_len);
}

/* ---- normalised fields ---- */
struct fields {
  struct pkt_field *f;
  size_t n;
};
static struct pkt_field *add(struct fields *fs, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static struct pkt_field *add(struct fields *fs, const char *name, const char *fmt, ...) {
  struct pkt_field *f = &fs->f[fs->n < PKT_MAX_FIELDS ? fs->n++ : PKT_MAX_FIELDS - 1];
  memset(f, 0, sizeof *f);
  f->name = name;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(f->val, sizeof f->val, fmt, ap);
  va_end(ap);
  return f;
}
static void add_data(struct fields *fs, const char *name, const uint8_t *d, size_t n) {
  add(fs, name, "%zu bytes, fnv %016llx", n, (unsigned long long)fnv1a(d, n));
}

size_t pkt_fields(const struct pkt *p, const struct pkt_rel *rel, struct pkt_field *out) {
  static const char *const KIND[] = {"malformed-ethernet",
                                     "other-ethertype",
                                     "malformed-arp",
                                     "arp",
                                     "malformed-ipv4",
                                     "ipv4",
                                     "malformed-transport",
                                     "icmp",
                                     "udp",
                                     "tcp"};
  struct fields fs = {out, 0};
  char a[24], b[24];
  add(&fs, "kind", "%s", KIND[p->layer]);
  if (p->layer == PKT_BAD_ETH) return fs.n;
  mac_str(p->eth.src, a, sizeof a);
  mac_str(p->eth.dst, b, sizeof b);
  add(&fs, "eth.src", "%s", a);
  add(&fs, "eth.dst", "%s", b);
  add(&fs, "eth.type", "0x%04x", p->eth.ethertype);
  if (p->layer == PKT_ARP) {
    add(&fs, "arp.op", "%u", p->arp.op);
    mac_str(p->arp.sha, a, sizeof a);
    add(&fs, "arp.sha", "%s", a);
    ip_str(p->arp.spa, a, sizeof a);
    add(&fs, "arp.spa", "%s", a);
    mac_str(p->arp.tha, a, sizeof a);
    add(&fs, "arp.tha", "%s", a);
    ip_str(p->arp.tpa, a, sizeof a);
    add(&fs, "arp.tpa", "%s", a);
    return fs.n;
  }
  if (p->layer < PKT_IP) {
    add_data(&fs, "eth.data", p->eth.payload, p->eth.payload_len);
    return fs.n;
  }
  ip_str(p->ip.src, a, sizeof a);
  add(&fs, "ip.src", "%s", a);
  ip_str(p->ip.dst, a, sizeof a);
  add(&fs, "ip.dst", "%s", a);
  add(&fs, "ip.tos", "%u", p->ip.tos);
  add(&fs, "ip.ttl", "%u", p->ip.ttl);
  add(&fs, "ip.proto", "%u", p->ip.proto);
  add(&fs, "ip.df", "%u", p->ip.df);
  add(&fs, "ip.mf", "%u", p->ip.mf);
  add(&fs, "ip.frag", "%u", p->ip.frag_offset);
  add(&fs, "ip.len", "%u", p->ip.total_len);
  if (p->layer == PKT_IP || p->layer == PKT_BAD_L4) {
    add_data(&fs, "ip.data", p->ip.payload, p->ip.payload_len);
    return fs.n;
  }
  if (p->layer == PKT_ICMP) {
    add(&fs, "icmp.type", "%u", p->icmp.type);
    add(&fs, "icmp.code", "%u", p->icmp.code);
    add(&fs, "icmp.rest", "0x%08x", p->icmp.rest);
    add_data(&fs, "icmp.data", p->icmp.payload, p->icmp.payload_len);
    return fs.n;
  }
  if (p->layer == PKT_UDP) {
    add(&fs, "udp.sport", "%u", p->udp.src_port);
    add(&fs, "udp.dport", "%u", p->udp.dst_port);
    add_data(&fs, "udp.data", p->udp.payload, p->udp.payload_len);
    return fs.n;
  }
  const wire_tcp *t = &p->tcp;
  uint32_t seq = t->seq, ack = t->ack;
  if (rel && rel->valid) {
    seq -= rel->seq;
    ack -= rel->ack;
  }
  char fl[12];
  tcp_flags_str(t->flags, fl);
  add(&fs, "tcp.sport", "%u", t->src_port);
  add(&fs, "tcp.dport", "%u", t->dst_port);
  add(&fs, "tcp.seq", "%u", seq);
  add(&fs, "tcp.ack", "%u", (t->flags & WIRE_TCP_ACK) ? ack : 0);
  add(&fs, "tcp.flags", "[%s]", fl);
  add(&fs, "tcp.win", "%u", t->window);
  add(&fs, "tcp.urp", "%u", t->urgent);
  char ob[120];
  struct out o = {ob, sizeof ob, 0};
  ob[0] = 0;
  tcp_options_str(p, rel, false, &o);
  add(&fs, "tcp.options", "<%s>", ob);
  if (t->opts.has_ts) {
    uint32_t val = t->opts.ts_val, ecr = t->opts.ts_ecr;
    if (rel && rel->ts_valid) {
      val -= rel->tsval;
      if (ecr) ecr -= rel->tsecr;
    }
    struct pkt_field *f = add(&fs, "tcp.tsval", "%u", val);
    f->is_ts = true;
    f->num = (int32_t)val;
    f = add(&fs, "tcp.tsecr", "%u", ecr);
    f->is_ts = true;
    f->num = (int32_t)ecr;
  }
  if (t->opts.sack_count) {
    ob[0] = 0;
    o.len = 0;
    for (unsigned i = 0; i < t->opts.sack_count; i++) {
      uint32_t le = t->opts.sack[i].left, re = t->opts.sack[i].right;
      if (rel && rel->valid) le -= rel->ack, re -= rel->ack;
      put(&o, "%s{%u:%u}", i ? " " : "", le, re);
    }
    add(&fs, "tcp.sack", "%s", ob);
  }
  add_data(&fs, "tcp.data", t->payload, t->payload_len);
  return fs.n;
}

bool pkt_checksums_ok(const struct pkt *p) {
  if (p->layer < PKT_IP) return true;
  if (!wire_ipv4_checksum_ok(p->eth.payload, p->ip.ihl_bytes)) return false;
  switch (p->layer) {
  case PKT_ICMP: return wire_csum(p->l4, p->l4_len) == 0;
  case PKT_UDP: return wire_udp_checksum_ok(p->ip.src, p->ip.dst, p->l4, p->udp.length);
  case PKT_TCP: return wire_tcp_checksum_ok(p->ip.src, p->ip.dst, p->l4, p->l4_len);
  default: return true;
  }
}
