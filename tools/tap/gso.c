/* TCP segment coalescing for IFF_VNET_HDR (see gso.h). */
#include "gso.h"

#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <string.h>
#include <sys/ioctl.h>

enum { ETH = 14, IP = 20, TCP_FLAGS_AT = ETH + IP + 13 };
enum { FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10, URG = 0x20 };

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static uint16_t fold(uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return (uint16_t)acc;
}

/* The ones' complement sum of n bytes (as big-endian 16-bit words) added to
 * acc; not folded. Eight bytes at a time: the ones' complement sum does not
 * depend on how the words are grouped or on the byte order, only the result
 * is byte-swapped on a little-endian machine (RFC 1071, 2.(B)). This was a
 * quarter of microtcp-tap's CPU with --gso, two bytes at a time. */
static uint64_t add_eac(uint64_t a, uint64_t v) {
  a += v;
  return a + (a < v); /* end-around carry */
}
static uint32_t sum16(const uint8_t *p, size_t n, uint32_t acc) {
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0; /* four chains: twice as fast as one */
  for (; n >= 32; p += 32, n -= 32) {
    uint64_t w[4];
    memcpy(w, p, 32);
    a0 = add_eac(a0, w[0]);
    a1 = add_eac(a1, w[1]);
    a2 = add_eac(a2, w[2]);
    a3 = add_eac(a3, w[3]);
  }
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    a0 = add_eac(a0, v);
  }
  uint64_t s = add_eac(add_eac(a0, a1), add_eac(a2, a3));
  s = (s & 0xffffffffu) + (s >> 32);
  s = (s & 0xffffffffu) + (s >> 32);
  uint16_t w = fold((uint32_t)s);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  w = (uint16_t)(w << 8 | w >> 8);
#endif
  acc += w;
  for (; n >= 2; p += 2, n -= 2) acc += get16(p);
  if (n) acc += (uint32_t)p[0] << 8;
  return acc;
}

/* A plain IPv4/TCP data segment: its header length and payload length. */
struct seg {
  size_t hdr_len, payload;
  uint32_t seq;
  uint8_t flags;
};

static int parse(const uint8_t *f, size_t len, struct seg *s) {
  if (len < ETH + IP + 20 || get16(f + 12) != 0x0800) return -1;
  const uint8_t *ip = f + ETH;
  if (ip[0] != 0x45 || ip[9] != 6 || (get16(ip + 6) & 0x3fff) != 0) return -1; /* no options, no fragments */
  size_t total = get16(ip + 2);
  if (total > len - ETH || total < IP + 20) return -1;
  const uint8_t *tcp = ip + IP;
  size_t doff = (size_t)(tcp[12] >> 4) * 4;
  if (doff < 20 || IP + doff >= total) return -1; /* no payload: an ACK or control segment */
  s->flags = tcp[13];
  if ((s->flags & (FIN | SYN | RST | URG | 0xc0)) || !(s->flags & ACK)) return -1;
  s->hdr_len = ETH + IP + doff;
  s->payload = total - IP - doff;
  s->seq = get32(tcp + 4);
  return 0;
}

/* Same flow and same headers except the fields that differ per segment:
 * IP total length, ID and checksum; TCP sequence number, PSH and checksum. */
static int same_headers(const uint8_t *a, const uint8_t *b, size_t hdr_len) {
  static const struct {
    size_t at, n;
  } skip[] = {{ETH + 2, 4}, {ETH + 10, 2}, {ETH + IP + 4, 4}, {ETH + IP + 13, 1}, {ETH + IP + 16, 2}};
  size_t from = 0;
  for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++) {
    if (memcmp(a + from, b + from, skip[i].at - from) != 0) return 0;
    from = skip[i].at + skip[i].n;
  }
  return memcmp(a + from, b + from, hdr_len - from) == 0 && (a[ETH + IP + 13] & ~PSH) == (b[ETH + IP + 13] & ~PSH);
}

void gso_init(struct gso *g) { memset(g, 0, sizeof *g); }

void gso_init_plain(struct gso *g) {
  gso_init(g);
  g->plain = 1;
}

static int write_single(struct gso *g, const uint8_t *frame, size_t len, gso_write_fn w, void *ctx) {
  uint8_t buf[GSO_VNET_HDR_LEN + GSO_FRAME_MAX];
  if (g->plain) { /* no header to add: the frame as it is */
    g->writes++;
    return w(ctx, frame, len);
  }
  if (len > GSO_FRAME_MAX) return -1;
  memset(buf, 0, GSO_VNET_HDR_LEN); /* no offload: the frame is complete */
  memcpy(buf + GSO_VNET_HDR_LEN, frame, len);
  g->writes++;
  return w(ctx, buf, GSO_VNET_HDR_LEN + len);
}

/* A pure ACK: IPv4 without options or fragments, TCP flags exactly ACK, no
 * payload. */
static int pure_ack(const uint8_t *f, size_t len) {
  if (len < ETH + IP + 20 || get16(f + 12) != 0x0800) return 0;
  const uint8_t *ip = f + ETH;
  if (ip[0] != 0x45 || ip[9] != 6 || (get16(ip + 6) & 0x3fff) != 0) return 0;
  size_t total = get16(ip + 2), doff = (size_t)(ip[IP + 12] >> 4) * 4;
  return total <= len - ETH && doff >= 20 && total == IP + doff && ip[IP + 13] == ACK;
}

/* Same addresses, ports and sequence number (ACKs of one flow). */
static int same_ack_flow(const uint8_t *a, const uint8_t *b) {
  return memcmp(a + ETH + 12, b + ETH + 12, 8) == 0 && memcmp(a + ETH + IP, b + ETH + IP, 8) == 0;
}

static int flush_ack(struct gso *g, gso_write_fn w, void *ctx);

int gso_flush(struct gso *g, gso_write_fn w, void *ctx) {
  if (g->ack_len) return flush_ack(g, w, ctx);
  if (!g->len) return 0;
  uint8_t *f = g->buf + GSO_VNET_HDR_LEN;
  struct virtio_net_hdr vh;
  memset(&vh, 0, sizeof vh);
  if (g->segs > 1) {
    uint8_t *ip = f + ETH, *tcp = ip + IP;
    size_t total = g->len - GSO_VNET_HDR_LEN - ETH;
    put16(ip + 2, (uint16_t)total);
    put16(ip + 10, 0);
    put16(ip + 10, (uint16_t)~fold(sum16(ip, IP, 0)));
    /* Partial checksum (the kernel's CHECKSUM_PARTIAL convention): the TCP
     * checksum field holds the folded pseudo-header sum, not complemented. */
    size_t tcp_len = total - IP;
    uint32_t ph = sum16(ip + 12, 8, 0) + 6u + (uint32_t)tcp_len;
    put16(tcp + 16, fold(ph));
    vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
    vh.hdr_len = (uint16_t)g->hdr_len;
    vh.gso_size = g->mss;
    vh.csum_start = ETH + IP;
    vh.csum_offset = 16;
    g->batched += g->segs;
  }
  memcpy(g->buf, &vh, GSO_VNET_HDR_LEN);
  size_t len = g->len;
  g->len = 0;
  g->segs = 0;
  g->writes++;
  return w(ctx, g->buf, len);
}

static int flush_ack(struct gso *g, gso_write_fn w, void *ctx) {
  size_t n = g->ack_len;
  g->ack_len = 0;
  return write_single(g, g->ack, n, w, ctx);
}

int gso_add(struct gso *g, const uint8_t *frame, size_t len, gso_write_fn w, void *ctx) {
  g->frames++;
  if (pure_ack(frame, len) && len <= sizeof g->ack) {
    if (g->ack_len && same_ack_flow(g->ack, frame) &&
        (int32_t)(get32(frame + ETH + IP + 8) - get32(g->ack + ETH + IP + 8)) > 0) {
      g->thinned++; /* the held ACK says nothing the new one does not */
    } else {
      int rc = gso_flush(g, w, ctx); /* the data batch or the older ACK goes first */
      if (rc < 0) return rc;
    }
    memcpy(g->ack, frame, len);
    g->ack_len = len;
    return 0;
  }
  if (g->ack_len && flush_ack(g, w, ctx) < 0) return -1;
  if (g->plain) return write_single(g, frame, len, w, ctx);
  struct seg s;
  if (parse(frame, len, &s) < 0) { /* not joinable: keep the order, write it alone */
    int rc = gso_flush(g, w, ctx);
    return write_single(g, frame, len, w, ctx) < 0 ? -1 : rc;
  }
  const uint8_t *payload = frame + s.hdr_len;
  uint8_t *f = g->buf + GSO_VNET_HDR_LEN;
  if (g->len && !g->last_short && s.seq == g->next_seq && s.hdr_len == g->hdr_len &&
      s.payload <= g->mss && g->len - GSO_VNET_HDR_LEN - ETH + s.payload <= GSO_MAX_BYTES &&
      same_headers(f, frame, s.hdr_len)) {
    memcpy(g->buf + g->len, payload, s.payload);
    g->len += s.payload;
    g->segs++;
    g->next_seq += (uint32_t)s.payload;
    f[TCP_FLAGS_AT] = (uint8_t)(f[TCP_FLAGS_AT] | (s.flags & PSH));
    g->last_short = s.payload < g->mss || (s.flags & PSH);
    return 0;
  }
  int rc = gso_flush(g, w, ctx);
  memcpy(f, frame, s.hdr_len + s.payload); /* not any Ethernet padding */
  g->len = GSO_VNET_HDR_LEN + s.hdr_len + s.payload;
  g->hdr_len = s.hdr_len;
  g->mss = (uint16_t)s.payload;
  g->segs = 1;
  g->next_seq = s.seq + (uint32_t)s.payload;
  g->last_short = (s.flags & PSH) != 0;
  return rc;
}

int gso_enable_offloads(int fd) { return ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4) < 0 ? -1 : 0; }

/* Fill in the checksum Linux left partial: the ones' complement sum from
 * csum_start to the end (the field holds the pseudo-header sum) at
 * csum_start + csum_offset. */
static int complete_csum(uint8_t *f, size_t len, size_t start, size_t offset) {
  if (start >= len || offset + 2 > len - start) return -1;
  uint16_t c = (uint16_t)~fold(sum16(f + start, len - start, 0));
  put16(f + start + offset, c);
  return 0;
}

int gso_split(uint8_t *in, size_t len, gso_deliver_fn deliver, void *ctx) {
  struct virtio_net_hdr vh;
  if (len < GSO_VNET_HDR_LEN + ETH) return -1;
  memcpy(&vh, in, GSO_VNET_HDR_LEN);
  uint8_t *f = in + GSO_VNET_HDR_LEN;
  size_t flen = len - GSO_VNET_HDR_LEN;
  uint8_t gso_type = (uint8_t)(vh.gso_type & ~VIRTIO_NET_HDR_GSO_ECN);
  if (gso_type == VIRTIO_NET_HDR_GSO_NONE) {
    if (!(vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
      deliver(ctx, f, flen);
      return 1;
    }
    if (complete_csum(f, flen, vh.csum_start, vh.csum_offset) < 0) return -1;
    deliver(ctx, f, flen);
    return 1;
  }
  if (gso_type != VIRTIO_NET_HDR_GSO_TCPV4 || vh.gso_size == 0) return -1;
  /* Take the header lengths from the headers, not from hdr_len (a hint). */
  if (flen < ETH + IP + 20 || get16(f + 12) != 0x0800 || (f[ETH] >> 4) != 4 || f[ETH + 9] != 6)
    return -1;
  size_t ihl = (size_t)(f[ETH] & 15) * 4;
  if (ihl < IP || flen < ETH + ihl + 20) return -1;
  size_t doff = (size_t)(f[ETH + ihl + 12] >> 4) * 4;
  size_t hdr = ETH + ihl + doff;
  size_t total = get16(f + ETH + 2);
  if (doff < 20 || hdr > flen || total < ihl + doff || ETH + total > flen) return -1;
  size_t payload = ETH + total - hdr, mss = vh.gso_size;
  if (hdr + mss > GSO_FRAME_MAX) return -1;
  uint32_t seq = get32(f + ETH + ihl + 4);
  uint16_t id = get16(f + ETH + 4);
  uint8_t flags = f[ETH + ihl + 13];
  /* In place, without copying the payload: segment n's headers are written
   * just before its payload, over bytes already delivered (the payload of
   * the segments before it, or the original headers, kept in tmpl). */
  uint8_t tmpl[ETH + 60 + 60];
  memcpy(tmpl, f, hdr);
  int n = 0;
  for (size_t off = 0; off < payload || (payload == 0 && n == 0); off += mss) {
    size_t k = payload - off < mss ? payload - off : mss;
    int last = off + k >= payload;
    uint8_t *seg = f + off;
    memcpy(seg, tmpl, hdr);
    uint8_t *ip = seg + ETH, *tcp = ip + ihl;
    put16(ip + 2, (uint16_t)(ihl + doff + k));
    put16(ip + 4, (uint16_t)(id + n));
    put16(ip + 10, 0);
    put16(ip + 10, (uint16_t)~fold(sum16(ip, ihl, 0)));
    uint32_t sq = seq + (uint32_t)off;
    tcp[4] = (uint8_t)(sq >> 24);
    tcp[5] = (uint8_t)(sq >> 16);
    tcp[6] = (uint8_t)(sq >> 8);
    tcp[7] = (uint8_t)sq;
    uint8_t fl = flags;
    if (!last) fl = (uint8_t)(fl & ~(FIN | PSH));
    if (n > 0) fl = (uint8_t)(fl & ~0x80); /* CWR on the first segment only */
    tcp[13] = fl;
    put16(tcp + 16, 0);
    uint32_t ph = sum16(ip + 12, 8, 0) + 6u + (uint32_t)(doff + k);
    put16(tcp + 16, (uint16_t)~fold(sum16(tcp, doff + k, ph)));
    deliver(ctx, seg, hdr + k);
    n++;
    if (payload == 0) break;
  }
  return n;
}
