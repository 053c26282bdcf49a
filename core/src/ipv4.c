/*
 * IPv4 (RFC 791, RFC 1122 3.2.1): input validation, martian filtering,
 * reassembly (shared memory pool, timeout, overlap rejection, bounded holes),
 * output with routing (on-link or gateway) and fragmentation.
 */
#include "internal.h"

#define IP_BCAST 0xffffffffu
#define MAX_IP_PAYLOAD (65535u - WIRE_IPV4_HLEN)
_Static_assert((MAX_IP_PAYLOAD - 1u) / REASM_CHUNK < REASM_MAP_LEN,
               "every payload offset has a chunk map entry");
_Static_assert(REASM_MAP_LEN <= 256u, "chunk_pos holds a map index in a uint8_t");

/* ---- memory ---------------------------------------------------------------------------- */
static uint16_t pool_chunks(const microtcp_config *cfg) {
  if (cfg->reasm_slots == 0) return 0;
  uint32_t n = cfg->reasm_bytes / REASM_CHUNK;
  return (uint16_t)MIN(n, 0xfffeu);
}

/* One layout for footprint (carve base NULL) and init. */
static void layout(struct ipv4_state *ip, const microtcp_config *cfg, struct carve *c) {
  uint16_t n = pool_chunks(cfg);
  ip->reasm = mtcp_carve_take(c, sizeof(struct reasm_slot) * cfg->reasm_slots);
  ip->pool = mtcp_carve_take_raw(c, (size_t)n * REASM_CHUNK); /* written before read */
  ip->chunk_owner = mtcp_carve_take(c, sizeof(uint16_t) * n);
  ip->chunk_pos = mtcp_carve_take(c, n);
  ip->pool_chunks = n;
  ip->chunks_free = n;
}

static void slot_clear(struct reasm_slot *s) {
  memset(s, 0, sizeof *s);
  memset(s->map, 0xff, sizeof s->map); /* every entry REASM_CHUNK_NONE */
  mtcp_asm_init(&s->held, s->ranges, REASM_MAX_RANGES);
}

int mtcp_ipv4_init(struct microtcp_stack *st, struct carve *c) {
  memset(&st->ip, 0, sizeof st->ip);
  layout(&st->ip, &st->cfg, c);
  if (st->ip.reasm)
    for (uint16_t i = 0; i < st->cfg.reasm_slots; i++) slot_clear(&st->ip.reasm[i]);
  return MICROTCP_OK;
}

/* ---- addresses and routing -------------------------------------------------------------- */
bool mtcp_ipv4_is_broadcast(const struct microtcp_stack *st, uint32_t ip) {
  return ip == IP_BCAST ||
         (st->cfg.netmask != 0xffffffffu && ip == (st->cfg.ip | ~st->cfg.netmask));
}

/* RFC 1122 3.2.1.3: addresses that never name a single remote host. */
static bool is_special(uint32_t ip) {
  uint8_t top = (uint8_t)(ip >> 24);
  return top == 0      /* "this network" (0.0.0.0/8) */
         || top == 127 /* loopback */
         || top >= 224; /* multicast (224/4), class E (240/4) and 255.255.255.255 */
}

bool mtcp_ipv4_is_martian_src(const struct microtcp_stack *st, uint32_t ip) {
  return is_special(ip) || ip == st->cfg.ip || mtcp_ipv4_is_broadcast(st, ip);
}

uint32_t mtcp_ipv4_route(const struct microtcp_stack *st, uint32_t dst) {
  if (mtcp_ipv4_is_broadcast(st, dst)) return IP_BCAST; /* no ARP: Ethernet broadcast */
  if (is_special(dst) || dst == st->cfg.ip) return 0; /* no loopback, no multicast */
  if ((dst & st->cfg.netmask) == (st->cfg.ip & st->cfg.netmask)) return dst; /* on-link */
  return st->cfg.gateway;
}

/* IP ID (RFC 6864 4.1, RFC 7739): a keyed hash of the destination and a
 * per-stack counter, so IDs do not repeat quickly for one destination and an
 * off-path observer cannot predict them or count our traffic. */
static uint16_t next_ip_id(struct microtcp_stack *st, uint32_t dst) {
  uint8_t key[8];
  wire_put32(key, dst);
  wire_put32(key + 4, st->ip_id_counter++);
  return (uint16_t)mtcp_prf(st, key, sizeof key);
}

/* ---- output ----------------------------------------------------------------------------- */
/* Put the IPv4 header in front of the transport bytes of f (its whole body). */
static void push_ip_header(struct microtcp_stack *st, struct frame *f, uint32_t dst, uint8_t proto,
                           uint16_t id, uint16_t frag_off, bool df, bool mf) {
  size_t total = (size_t)f->len + WIRE_IPV4_HLEN;
  /* Header field ranges: a datagram fits the MTU, a fragment offset is a
   * multiple of 8 that the 13-bit field holds (RFC 791 3.1). */
  MICROTCP_ASSERT(total <= st->cfg.mtu);
  MICROTCP_ASSERT(frag_off % 8 == 0 && (size_t)frag_off + f->len <= MAX_IP_PAYLOAD);
  wire_ipv4 h;
  memset(&h, 0, sizeof h);
  h.total_len = (uint16_t)total;
  h.id = id;
  h.df = df;
  h.mf = mf;
  h.frag_offset = frag_off;
  h.ttl = st->cfg.ttl;
  h.proto = proto;
  h.src = st->cfg.ip;
  h.dst = dst;
  (void)wire_ipv4_emit(&h, frame_push(f, WIRE_IPV4_HLEN), WIRE_IPV4_HLEN);
}

int mtcp_ipv4_send_frame(struct microtcp_stack *st, struct frame *f, uint32_t dst, uint8_t proto,
                    bool df) {
  uint32_t hop = mtcp_ipv4_route(st, dst);
  if (hop == 0) {
    st->ctr.drop_no_route++;
    mtcp_frame_free(st, f);
    return MICROTCP_ENETUNREACH;
  }
  if ((size_t)f->len + WIRE_IPV4_HLEN > st->cfg.mtu) {
    mtcp_frame_free(st, f);
    return MICROTCP_EMSGSIZE;
  }
  push_ip_header(st, f, dst, proto, next_ip_id(st, dst), 0, df, false);
  mtcp_arp_resolve_and_send(st, f, hop);
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

int mtcp_ipv4_send(struct microtcp_stack *st, uint32_t dst, uint8_t proto, const void *hdr,
              size_t hdr_len, const void *data, size_t data_len) {
  size_t total = hdr_len + data_len;
  if (total > MAX_IP_PAYLOAD) return MICROTCP_EMSGSIZE;
  uint32_t hop = mtcp_ipv4_route(st, dst);
  if (hop == 0) {
    st->ctr.drop_no_route++;
    return MICROTCP_ENETUNREACH;
  }
  /* RFC 791 3.2: every fragment but the last carries a multiple of 8 bytes. */
  size_t room = st->cfg.mtu - WIRE_IPV4_HLEN;
  size_t per = total <= room ? room : (room & ~(size_t)7);
  size_t nfrag = total == 0 ? 1 : (total + per - 1) / per;
  /* All or nothing: a datagram missing one fragment is only wasted bandwidth.
   * ARP first: starting a resolution sends a request, which takes a frame. */
  if (!mtcp_arp_can_send(st, hop, nfrag)) return MICROTCP_ENOMEM;
  if (nfrag > (size_t)(st->cfg.frames - st->frames_in_use)) return MICROTCP_ENOMEM;
  uint16_t id = next_ip_id(st, dst);
  for (size_t k = 0; k < nfrag; k++) {
    size_t off = k * per;
    size_t n = MIN(per, total - off);
    MICROTCP_ASSERT(k + 1 == nfrag || n % 8 == 0); /* RFC 791: 8-byte fragment units */
    struct frame *f = mtcp_frame_alloc(st, FRAME_HEADROOM_L4); /* reserved above; checked all the same */
    if (!f) {
      st->ctr.drop_tx_queue_full++;
      return MICROTCP_ENOMEM;
    }
    /* The one copy of these payload bytes: from the caller into the frame. */
    MICROTCP_ASSERT(n <= frame_tailroom(st, f));
    copy_span(frame_tail(f), hdr, hdr_len, data, off, n);
    frame_put(st, f, n);
    push_ip_header(st, f, dst, proto, id, (uint16_t)off, false, k + 1 < nfrag);
    if (nfrag > 1) st->ctr.ip_fragments_out++;
    mtcp_arp_resolve_and_send(st, f, hop);
  }
  return MICROTCP_OK;
}

/* ---- input: dispatch ---------------------------------------------------------------------- */
/* pkt/len: the bytes ICMP errors quote (IP header + at least 8 payload bytes),
 * or NULL when nothing may be quoted. */
static void dispatch(struct microtcp_stack *st, const wire_ipv4 *ip, const uint8_t *pkt,
                     size_t len) {
  switch (ip->proto) {
  case WIRE_IP_PROTO_ICMP: mtcp_icmp_input(st, ip); break;
  case WIRE_IP_PROTO_UDP: mtcp_udp_input(st, ip, pkt, len); break;
  case WIRE_IP_PROTO_TCP: mtcp_tcp_input(st, ip); break;
  default:
    /* RFC 1122 3.2.2.1: protocol unreachable for a protocol we do not speak
     * (mtcp_icmp_send_error applies the "never in answer to..." rules). */
    st->ctr.drop_ip_proto++;
    mtcp_icmp_send_error(st, WIRE_ICMP_DEST_UNREACH, WIRE_ICMP_UNREACH_PROTO, 0, ip, pkt, len);
    break;
  }
}

/* ---- input: reassembly (RFC 791 3.2, RFC 815) ------------------------------------------- */
static void reasm_release(struct microtcp_stack *st, struct reasm_slot *s) {
  struct ipv4_state *ip = &st->ip;
  for (uint32_t k = 0; k < REASM_MAP_LEN && s->nchunks; k++) {
    uint16_t c = s->map[k];
    if (c == REASM_CHUNK_NONE) continue;
    ip->chunk_owner[c] = 0;
    ip->chunks_free++;
    s->nchunks--;
  }
  MICROTCP_ASSERT(s->nchunks == 0 && ip->chunks_free <= ip->pool_chunks);
  MICROTCP_ASSERT(ip->reasm_slots_used > 0);
  ip->reasm_bytes_used = (uint32_t)(ip->pool_chunks - ip->chunks_free) * REASM_CHUNK;
  ip->reasm_slots_used--;
  slot_clear(s);
}

static void reasm_drop(struct microtcp_stack *st, struct reasm_slot *s, uint64_t *counter) {
  (*counter)++;
  reasm_release(st, s);
}

/* The slot of ip's datagram, or a new one. With every slot busy the oldest
 * incomplete datagram is evicted (counted as drop_reasm_nomem): otherwise a
 * sender could pin all slots with single fragments until the timeout and
 * keep every other datagram out. */
static struct reasm_slot *reasm_find(struct microtcp_stack *st, const wire_ipv4 *ip) {
  struct reasm_slot *free_slot = NULL, *oldest = NULL;
  for (uint16_t i = 0; i < st->cfg.reasm_slots; i++) {
    struct reasm_slot *s = &st->ip.reasm[i];
    if (!s->in_use) {
      if (!free_slot) free_slot = s;
      continue;
    }
    /* RFC 791: fragments of one datagram share (src, dst, protocol, id). */
    if (s->src == ip->src && s->dst == ip->dst && s->id == ip->id && s->proto == ip->proto)
      return s;
    if (!oldest || s->expires < oldest->expires) oldest = s;
  }
  if (!free_slot && oldest) {
    reasm_drop(st, oldest, &st->ctr.drop_reasm_nomem);
    free_slot = oldest;
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

/* The pool bytes holding datagram offset pos: returns their address and sets
 * *n to how many of [pos, end) are contiguous there (up to the chunk's end). */
static uint8_t *piece_at(struct microtcp_stack *st, const struct reasm_slot *s, uint32_t pos,
                         uint32_t end, uint32_t *n) {
  uint32_t in = pos % REASM_CHUNK;
  *n = MIN(REASM_CHUNK - in, end - pos);
  return st->ip.pool + (size_t)s->map[pos / REASM_CHUNK] * REASM_CHUNK + in;
}

static bool bytes_equal(struct microtcp_stack *st, const struct reasm_slot *s, uint32_t start,
                        uint32_t end, const uint8_t *data) {
  uint32_t n;
  for (uint32_t pos = start; pos < end; pos += n) {
    const uint8_t *mem = piece_at(st, s, pos, end, &n);
    if (memcmp(mem, data + (pos - start), n) != 0) return false;
  }
  return true;
}

static void store(struct microtcp_stack *st, const struct reasm_slot *s, uint32_t start,
                  uint32_t end, const uint8_t *data) {
  uint32_t n;
  for (uint32_t pos = start; pos < end; pos += n) {
    uint8_t *mem = piece_at(st, s, pos, end, &n);
    memcpy(mem, data + (pos - start), n);
  }
}

/* Give the datagram pool chunks for [start, end). false if the pool is short. */
static bool take_chunks(struct microtcp_stack *st, struct reasm_slot *s, uint32_t start,
                        uint32_t end) {
  struct ipv4_state *ip = &st->ip;
  uint32_t first = start / REASM_CHUNK, last = (end - 1) / REASM_CHUNK, need = 0;
  for (uint32_t k = first; k <= last; k++) need += s->map[k] == REASM_CHUNK_NONE;
  if (need > ip->chunks_free) return false;
  uint16_t owner = (uint16_t)(s - ip->reasm + 1), c = 0;
  for (uint32_t k = first; k <= last; k++) {
    if (s->map[k] != REASM_CHUNK_NONE) continue;
    while (ip->chunk_owner[c] != 0) c++; /* a free chunk exists: counted above */
    MICROTCP_ASSERT(c < ip->pool_chunks); /* pool bounds */
    ip->chunk_owner[c] = owner;
    ip->chunk_pos[c] = (uint8_t)k;
    s->map[k] = c;
    s->nchunks++;
    ip->chunks_free--;
  }
  ip->reasm_bytes_used = (uint32_t)(ip->pool_chunks - ip->chunks_free) * REASM_CHUNK;
  return true;
}

/* Swap the datagram's chunks into pool positions 0..n-1 (in order), moving
 * whatever held those positions (another datagram's chunk or nothing) to where
 * ours were. Afterwards the payload is pool[0, total). */
static void make_contiguous(struct microtcp_stack *st, struct reasm_slot *s) {
  struct ipv4_state *ip = &st->ip;
  uint16_t me = (uint16_t)(s - ip->reasm + 1);
  uint32_t n = (s->total + REASM_CHUNK - 1) / REASM_CHUNK;
  for (uint32_t k = 0; k < n; k++) {
    uint16_t cur = s->map[k], t = (uint16_t)k;
    if (cur == t) continue;
    uint8_t *a = ip->pool + (size_t)cur * REASM_CHUNK, *b = ip->pool + (size_t)t * REASM_CHUNK;
    for (uint32_t i = 0; i < REASM_CHUNK; i++) {
      uint8_t x = a[i];
      a[i] = b[i];
      b[i] = x;
    }
    uint16_t other = ip->chunk_owner[t];
    if (other) ip->reasm[other - 1].map[ip->chunk_pos[t]] = cur;
    ip->chunk_owner[cur] = other;
    ip->chunk_pos[cur] = ip->chunk_pos[t];
    ip->chunk_owner[t] = me;
    ip->chunk_pos[t] = (uint8_t)k;
    s->map[k] = t;
  }
}

static void reassemble(struct microtcp_stack *st, const wire_ipv4 *ip, const uint8_t *pkt) {
  st->ctr.ip_fragments_in++;
  uint32_t start = ip->frag_offset, end = start + (uint32_t)ip->payload_len;
  if (ip->mf && (ip->payload_len == 0 || (ip->payload_len & 7) != 0)) {
    st->ctr.drop_ip_malformed++; /* RFC 791: non-last fragments carry multiples of 8 */
    return;
  }
  if (st->cfg.reasm_slots == 0) {
    st->ctr.drop_reasm_nomem++; /* reassembly disabled by the config */
    return;
  }
  /* RFC 791: a datagram is at most 65535 bytes with its (at least 20-byte)
   * header. This bound also keeps every offset inside the slot's chunk map. */
  if (end > MAX_IP_PAYLOAD || end > (uint32_t)st->ip.pool_chunks * REASM_CHUNK) {
    st->ctr.drop_reasm_toolong++; /* can never fit: do not even take a slot */
    return;
  }
  struct reasm_slot *s = reasm_find(st, ip);
  if (!s) {
    st->ctr.drop_reasm_nomem++; /* no slot at all (cannot happen with reasm_slots > 0) */
    return;
  }
  /* Overlap (an empty last fragment has none: only its end position counts).
   * A fragment wholly inside data already held is ignored: the first copy
   * wins (as Linux's IPFRAG_DUP); if its bytes differ it is counted
   * (ip_reasm_conflicts): someone may be trying to make us and a monitor see
   * different data. A partial overlap (RFC 1858 attacks; RFC 5722's rule
   * applied to IPv4, as Linux does) drops the whole datagram. */
  bool any_held = false, any_gap = false;
  struct asm_walk w;
  uint32_t ps, pe;
  bool held;
  asm_walk_init(&w, start, end);
  while (mtcp_asm_walk_next(&s->held, &w, &ps, &pe, &held)) {
    if (held)
      any_held = true;
    else
      any_gap = true;
  }
  if (any_held) {
    if (!any_gap && (ip->mf || (s->have_last && s->total == end))) {
      if (!bytes_equal(st, s, start, end, ip->payload)) st->ctr.ip_reasm_conflicts++;
      return;
    }
    reasm_drop(st, s, &st->ctr.drop_reasm_overlap);
    return;
  }
  /* The last fragment fixes the length: it must agree with everything else. */
  bool bad = (!ip->mf && s->have_last && s->total != end) || (ip->mf && s->have_last && end > s->total);
  if (!ip->mf && mtcp_asm_high(&s->held) > end) bad = true;
  if (bad) {
    reasm_drop(st, s, &st->ctr.drop_reasm_overlap);
    return;
  }
  if (start != end) {
    if (!take_chunks(st, s, start, end)) {
      reasm_drop(st, s, &st->ctr.drop_reasm_nomem); /* the total memory cap */
      return;
    }
    if (mtcp_asm_add(&s->held, start, end) < 0) {
      reasm_drop(st, s, &st->ctr.drop_reasm_nomem); /* too many holes */
      return;
    }
    store(st, s, start, end, ip->payload);
  }
  if (start == 0) {
    s->hdr_len = ip->ihl_bytes;
    memcpy(s->hdr, pkt, ip->ihl_bytes);
  }
  if (!ip->mf) {
    s->have_last = true;
    s->total = end;
  }
  if (!s->have_last || s->total == 0 || s->held.count != 1 || mtcp_asm_front(&s->held) != s->total)
    return;
  if (s->total + s->hdr_len > 65535u) { /* first header has options: one byte too many */
    reasm_drop(st, s, &st->ctr.drop_reasm_toolong);
    return;
  }
  make_contiguous(st, s);
  wire_ipv4 whole = *ip;
  whole.mf = false;
  whole.frag_offset = 0;
  whole.ihl_bytes = s->hdr_len;
  whole.payload = st->ip.pool;
  whole.payload_len = s->total;
  whole.total_len = (uint16_t)(s->total + s->hdr_len);
  /* ICMP errors about the datagram quote the first fragment's header and the
   * first 8 bytes of the payload, as RFC 792 asks. */
  uint8_t quote[60 + 8];
  size_t qlen = s->hdr_len + MIN(s->total, 8u);
  memcpy(quote, s->hdr, s->hdr_len);
  memcpy(quote + s->hdr_len, st->ip.pool, qlen - s->hdr_len);
  st->ctr.ip_reassembled++;
  /* Deliver, then free: the payload lives in the pool until dispatch returns. */
  dispatch(st, &whole, quote, qlen);
  reasm_release(st, s);
}

/* ---- input ----------------------------------------------------------------------------------- */
void mtcp_ipv4_input(struct microtcp_stack *st, const uint8_t *pkt, size_t len) {
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
  /* RFC 1122 3.2.1.3: 0.0.0.0 is a legal source only while a host is being
   * configured, i.e. a UDP broadcast such as a DHCP discover; everything else
   * from a martian source is dropped (it cannot be answered, and a reply
   * could be turned against a third party). */
  bool config_bcast = ip.src == 0 && ip.dst == IP_BCAST && ip.proto == WIRE_IP_PROTO_UDP;
  if (mtcp_ipv4_is_martian_src(st, ip.src) && !config_bcast) {
    st->ctr.drop_ip_martian++;
    return;
  }
  if (ip.dst != st->cfg.ip && !mtcp_ipv4_is_broadcast(st, ip.dst)) {
    st->ctr.drop_ip_not_for_us++;
    return;
  }
  if (ip.mf || ip.frag_offset) {
    reassemble(st, &ip, pkt);
    return;
  }
  dispatch(st, &ip, pkt, ip.total_len);
}

/* ---- timers ------------------------------------------------------------------------------------ */
uint64_t mtcp_ipv4_deadline(const struct microtcp_stack *st) {
  uint64_t d = UINT64_MAX;
  for (uint16_t i = 0; i < st->cfg.reasm_slots; i++)
    if (st->ip.reasm[i].in_use) d = MIN(d, st->ip.reasm[i].expires);
  return d;
}

/* RFC 791 3.2 / RFC 1122 3.3.2: an incomplete datagram is discarded when its
 * timer runs out (the optional ICMP time exceeded is not sent). */
void mtcp_ipv4_advance(struct microtcp_stack *st, uint64_t now) {
  for (uint16_t i = 0; i < st->cfg.reasm_slots; i++) {
    struct reasm_slot *s = &st->ip.reasm[i];
    if (s->in_use && s->expires <= now) reasm_drop(st, s, &st->ctr.drop_reasm_timeout);
  }
}
