/*
 * IPv4 (RFC 791, RFC 1122 3.2.1): input validation, martian filtering,
 * reassembly with per-datagram and total memory caps, a timeout and overlap
 * rejection; output with routing (on-link or gateway) and fragmentation.
 */
#include "internal.h"

size_t ipv4_footprint(const microtcp_config *cfg) {
  struct carve c = {NULL, 0, 0};
  (void)carve_take(&c, sizeof(struct reasm_slot) * cfg->reasm_slots);
  if (cfg->reasm_slots) (void)carve_take(&c, (size_t)(cfg->reasm_bytes / cfg->reasm_slots) * cfg->reasm_slots);
  return c.used;
}

int ipv4_init(struct microtcp_stack *st, struct carve *c) {
  const microtcp_config *cfg = &st->cfg;
  st->ip.reasm = carve_take(c, sizeof(struct reasm_slot) * cfg->reasm_slots);
  uint32_t per = cfg->reasm_slots ? cfg->reasm_bytes / cfg->reasm_slots : 0;
  if (per > 65535u) per = 65535u; /* RFC 791: no datagram is larger */
  uint8_t *mem = cfg->reasm_slots ? carve_take(c, (size_t)(cfg->reasm_bytes / cfg->reasm_slots) * cfg->reasm_slots) : NULL;
  st->ip.reasm_slot_cap = per;
  if (st->ip.reasm && mem)
    for (uint16_t i = 0; i < cfg->reasm_slots; i++)
      st->ip.reasm[i].buf = mem + (size_t)i * (cfg->reasm_bytes / cfg->reasm_slots);
  return MICROTCP_OK;
}

static bool is_bcast(const struct microtcp_stack *st, uint32_t ip) {
  return ip == 0xffffffffu ||
         (st->cfg.netmask != 0xffffffffu && ip == (st->cfg.ip | ~st->cfg.netmask));
}

bool ipv4_is_martian_src(const struct microtcp_stack *st, uint32_t ip) {
  uint8_t top = (uint8_t)(ip >> 24);
  if (ip == 0) return true;
  if (top == 127 || top == 0) return true;  /* loopback, "this network" */
  if (top >= 224) return true;             /* multicast, class E, broadcast */
  if (ip == st->cfg.ip) return true;        /* our own address */
  if (is_bcast(st, ip)) return true;
  return false;
}

uint32_t ipv4_route(const struct microtcp_stack *st, uint32_t dst) {
  if (is_bcast(st, dst)) return 0xffffffffu;
  if ((dst & st->cfg.netmask) == (st->cfg.ip & st->cfg.netmask)) return dst;
  return st->cfg.gateway;
}

/* IP ID: a keyed hash of the destination and a per-stack counter, so IDs are
 * not predictable off-path (RFC 6864 / RFC 7739 advice). */
static uint16_t next_ip_id(struct microtcp_stack *st, uint32_t dst) {
  uint8_t key[8];
  wire_put32(key, dst);
  wire_put32(key + 4, st->ip_id_counter++);
  return (uint16_t)prf(st, key, sizeof key);
}

static void write_ip_header(struct microtcp_stack *st, uint8_t *p, uint32_t dst, uint8_t proto,
                            uint16_t total, uint16_t id, uint16_t frag_off, bool df, bool mf) {
  wire_ipv4 h;
  memset(&h, 0, sizeof h);
  h.total_len = total;
  h.id = id;
  h.df = df;
  h.mf = mf;
  h.frag_offset = frag_off;
  h.ttl = st->cfg.ttl;
  h.proto = proto;
  h.src = st->cfg.ip;
  h.dst = dst;
  wire_ipv4_emit(&h, p, WIRE_IPV4_HLEN);
}

int ipv4_send_frame(struct microtcp_stack *st, struct frame *f, uint32_t dst, uint8_t proto,
                    size_t l4_len, bool df) {
  uint32_t hop = ipv4_route(st, dst);
  if (hop == 0) {
    st->ctr.drop_no_route++;
    frame_free(st, f);
    return MICROTCP_ENETUNREACH;
  }
  if (l4_len + WIRE_IPV4_HLEN > st->cfg.mtu) {
    frame_free(st, f);
    return MICROTCP_EMSGSIZE;
  }
  write_ip_header(st, f->data + WIRE_ETH_HLEN, dst, proto, (uint16_t)(l4_len + WIRE_IPV4_HLEN),
                  next_ip_id(st, dst), 0, df, false);
  f->len = (uint16_t)(WIRE_ETH_HLEN + WIRE_IPV4_HLEN + l4_len);
  arp_resolve_and_send(st, f, hop);
  return MICROTCP_OK;
}

/* Copy bytes [off, off+n) of the virtual concatenation hdr‖data into out. */
static void copy_span(uint8_t *out, const uint8_t *hdr, size_t hdr_len, const uint8_t *data,
                      size_t off, size_t n) {
  if (off < hdr_len) {
    size_t k = MIN(n, hdr_len - off);
    memcpy(out, hdr + off, k);
    out += k;
    off += k;
    n -= k;
  }
  if (n) memcpy(out, data + (off - hdr_len), n);
}

int ipv4_send(struct microtcp_stack *st, uint32_t dst, uint8_t proto, const void *hdr,
              size_t hdr_len, const void *data, size_t data_len) {
  size_t total = hdr_len + data_len;
  if (total > 65535u - WIRE_IPV4_HLEN) return MICROTCP_EMSGSIZE;
  uint32_t hop = ipv4_route(st, dst);
  if (hop == 0) {
    st->ctr.drop_no_route++;
    return MICROTCP_ENETUNREACH;
  }
  size_t room = st->cfg.mtu - WIRE_IPV4_HLEN;
  size_t per = total <= room ? room : (room & ~(size_t)7); /* fragments: multiples of 8 */
  size_t nfrag = total == 0 ? 1 : (total + per - 1) / per;
  if (nfrag > (size_t)(st->cfg.frames - st->frames_in_use)) return MICROTCP_ENOMEM;
  uint16_t id = next_ip_id(st, dst);
  for (size_t k = 0; k < nfrag; k++) {
    size_t off = k * per;
    size_t n = MIN(per, total - off);
    struct frame *f = frame_alloc(st);
    uint8_t *ip = f->data + WIRE_ETH_HLEN;
    copy_span(ip + WIRE_IPV4_HLEN, hdr, hdr_len, data, off, n);
    bool mf = k + 1 < nfrag;
    write_ip_header(st, ip, dst, proto, (uint16_t)(n + WIRE_IPV4_HLEN), id, (uint16_t)off, false,
                    mf);
    f->len = (uint16_t)(WIRE_ETH_HLEN + WIRE_IPV4_HLEN + n);
    if (nfrag > 1) st->ctr.ip_fragments_out++;
    arp_resolve_and_send(st, f, hop);
  }
  return MICROTCP_OK;
}

/* ---- input --------------------------------------------------------------------------- */
static void dispatch(struct microtcp_stack *st, const wire_ipv4 *ip, const uint8_t *pkt,
                     size_t len) {
  switch (ip->proto) {
  case WIRE_IP_PROTO_ICMP: icmp_input(st, ip); break;
  case WIRE_IP_PROTO_UDP: udp_input(st, ip, pkt, len); break;
  case WIRE_IP_PROTO_TCP: tcp_input(st, ip); break;
  default:
    st->ctr.drop_ip_proto++;
    if (pkt && ip->dst == st->cfg.ip)
      icmp_send_error(st, WIRE_ICMP_DEST_UNREACH, WIRE_ICMP_UNREACH_PROTO, 0, ip, pkt, len);
    break;
  }
}

static void reasm_release(struct microtcp_stack *st, struct reasm_slot *s) {
  st->ip.reasm_bytes_used -= s->received;
  st->ip.reasm_slots_used--;
  uint8_t *buf = s->buf;
  memset(s, 0, sizeof *s);
  s->buf = buf;
}

static struct reasm_slot *reasm_find(struct microtcp_stack *st, const wire_ipv4 *ip) {
  struct reasm_slot *free_slot = NULL;
  for (uint16_t i = 0; i < st->cfg.reasm_slots; i++) {
    struct reasm_slot *s = &st->ip.reasm[i];
    if (!s->in_use) {
      if (!free_slot) free_slot = s;
      continue;
    }
    if (s->src == ip->src && s->dst == ip->dst && s->id == ip->id && s->proto == ip->proto)
      return s;
  }
  if (!free_slot) return NULL;
  free_slot->in_use = true;
  free_slot->src = ip->src;
  free_slot->dst = ip->dst;
  free_slot->id = ip->id;
  free_slot->proto = ip->proto;
  free_slot->expires = st->now + st->cfg.reasm_timeout_us;
  st->ip.reasm_slots_used++;
  return free_slot;
}

/* RFC 815-style reassembly into a per-slot buffer; overlapping fragments drop
 * the whole datagram (RFC 5722's rule, applied to IPv4 as well). */
static void reassemble(struct microtcp_stack *st, const wire_ipv4 *ip, const uint8_t *pkt) {
  st->ctr.ip_fragments_in++;
  uint32_t start = ip->frag_offset, end = start + (uint32_t)ip->payload_len;
  if (ip->mf && (ip->payload_len == 0 || (ip->payload_len & 7) != 0)) {
    st->ctr.drop_ip_malformed++; /* non-last fragments carry multiples of 8 */
    return;
  }
  struct reasm_slot *s = reasm_find(st, ip);
  if (!s) {
    st->ctr.drop_reasm_nomem++;
    return;
  }
  if (end > st->ip.reasm_slot_cap) {
    st->ctr.drop_reasm_toolong++;
    reasm_release(st, s);
    return;
  }
  for (uint8_t i = 0; i < s->nranges; i++) {
    if (start < s->ranges[i].end && s->ranges[i].start < end) {
      if (s->ranges[i].start == start && s->ranges[i].end == end) return; /* duplicate */
      st->ctr.drop_reasm_overlap++;
      reasm_release(st, s);
      return;
    }
  }
  bool bad = (!ip->mf && s->have_last) || (s->have_last && end > s->total);
  for (uint8_t i = 0; !ip->mf && i < s->nranges; i++) bad |= s->ranges[i].end > end;
  if (bad) {
    st->ctr.drop_reasm_overlap++; /* inconsistent lengths */
    reasm_release(st, s);
    return;
  }
  if (s->nranges == REASM_MAX_RANGES) {
    st->ctr.drop_reasm_nomem++;
    reasm_release(st, s);
    return;
  }
  if (st->ip.reasm_bytes_used + (end - start) > st->cfg.reasm_bytes) {
    st->ctr.drop_reasm_nomem++;
    reasm_release(st, s);
    return;
  }
  memcpy(s->buf + start, ip->payload, end - start);
  s->ranges[s->nranges].start = start;
  s->ranges[s->nranges].end = end;
  s->nranges++;
  s->received += end - start;
  st->ip.reasm_bytes_used += end - start;
  if (start == 0) {
    s->hdr_len = ip->ihl_bytes;
    memcpy(s->hdr, pkt, ip->ihl_bytes);
  }
  if (!ip->mf) {
    s->have_last = true;
    s->total = end;
  }
  if (!s->have_last || s->received != s->total) return;
  /* Disjoint ranges inside [0, total) adding up to total cover it exactly. */
  wire_ipv4 whole = *ip;
  whole.mf = false;
  whole.frag_offset = 0;
  whole.payload = s->buf;
  whole.payload_len = s->total;
  whole.total_len = (uint16_t)MIN(s->total + 20u, 65535u);
  st->ctr.ip_reassembled++;
  /* Deliver, then free: the payload lives in the slot until dispatch returns. */
  dispatch(st, &whole, NULL, 0);
  reasm_release(st, s);
}

void ipv4_input(struct microtcp_stack *st, const uint8_t *pkt, size_t len) {
  wire_ipv4 ip;
  if (wire_ipv4_parse(pkt, len, &ip) < 0) {
    st->ctr.drop_ip_malformed++;
    return;
  }
#ifndef MICROTCP_FUZZING
  if (!wire_ipv4_checksum_ok(pkt, ip.ihl_bytes)) {
    st->ctr.drop_ip_checksum++;
    return;
  }
#endif
  if (ipv4_is_martian_src(st, ip.src)) {
    st->ctr.drop_ip_martian++;
    return;
  }
  if (ip.dst != st->cfg.ip && !is_bcast(st, ip.dst)) {
    st->ctr.drop_ip_not_for_us++;
    return;
  }
  if (ip.mf || ip.frag_offset) {
    reassemble(st, &ip, pkt);
    return;
  }
  dispatch(st, &ip, pkt, ip.total_len);
}

uint64_t ipv4_deadline(const struct microtcp_stack *st) {
  uint64_t d = UINT64_MAX;
  for (uint16_t i = 0; i < st->cfg.reasm_slots; i++)
    if (st->ip.reasm[i].in_use) d = MIN(d, st->ip.reasm[i].expires);
  return d;
}

void ipv4_advance(struct microtcp_stack *st, uint64_t now) {
  for (uint16_t i = 0; i < st->cfg.reasm_slots; i++) {
    struct reasm_slot *s = &st->ip.reasm[i];
    if (s->in_use && s->expires <= now) {
      st->ctr.drop_reasm_timeout++;
      reasm_release(st, s);
    }
  }
}
