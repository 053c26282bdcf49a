/* Rewriting options for foreign captures: see rewrite.h. */
#include "rewrite.h"

#include <string.h>

#include "capture.h"
#include "microtcp/wire.h"

bool rewrite_dst_mac(uint8_t *f, size_t len, const uint8_t mac[6]) {
  if (len < 14 || (f[0] & 1) || memcmp(f, mac, 6) == 0) return false;
  memcpy(f, mac, 6);
  return true;
}

bool rewrite_fix_checksums(uint8_t *f, size_t len) {
  if (len < 14 + 20 || wire_get16(f + 12) != WIRE_ETHERTYPE_IPV4) return false;
  uint8_t *ip = f + 14;
  size_t ihl = (size_t)(ip[0] & 15) * 4, tot = wire_get16(ip + 2);
  if ((ip[0] >> 4) != 4 || ihl < 20 || tot < ihl || 14 + tot > len) return false;
  uint16_t old_ip = wire_get16(ip + 10);
  wire_put16(ip + 10, 0);
  wire_put16(ip + 10, wire_csum(ip, ihl));
  bool changed = wire_get16(ip + 10) != old_ip;
  if (wire_get16(ip + 6) & 0x3fff) return changed; /* a fragment */
  uint8_t *l4 = ip + ihl;
  size_t l4_len = tot - ihl, coff;
  uint32_t src = wire_get32(ip + 12), dst = wire_get32(ip + 16);
  uint32_t sum;
  switch (ip[9]) {
  case WIRE_IP_PROTO_TCP:
    if (l4_len < 20) return changed;
    coff = 16;
    sum = wire_csum_pseudo(src, dst, WIRE_IP_PROTO_TCP, (uint16_t)l4_len);
    break;
  case WIRE_IP_PROTO_UDP:
    if (l4_len < 8 || wire_get16(l4 + 6) == 0) return changed; /* no UDP checksum */
    coff = 6;
    sum = wire_csum_pseudo(src, dst, WIRE_IP_PROTO_UDP, (uint16_t)l4_len);
    break;
  case WIRE_IP_PROTO_ICMP:
    if (l4_len < 8) return changed;
    coff = 2;
    sum = 0;
    break;
  default: return changed;
  }
  uint16_t old = wire_get16(l4 + coff);
  wire_put16(l4 + coff, 0);
  uint16_t c = wire_csum_fold(wire_csum_partial(sum, l4, l4_len));
  if (ip[9] == WIRE_IP_PROTO_UDP && c == 0) c = 0xffff;
  wire_put16(l4 + coff, c);
  return changed || c != old;
}

/* Replace the address at a (in the IPv4 header) and update the IPv4 and the
 * transport checksums incrementally (RFC 1624). */
static void set_addr(uint8_t *ip, uint8_t *a, uint32_t v, uint8_t *l4csum) {
  uint16_t hi = wire_get16(a), lo = wire_get16(a + 2);
  uint16_t nhi = (uint16_t)(v >> 16), nlo = (uint16_t)v;
  wire_put32(a, v);
  uint16_t c = wire_csum_update16(wire_get16(ip + 10), hi, nhi);
  wire_put16(ip + 10, wire_csum_update16(c, lo, nlo));
  if (l4csum) {
    c = wire_csum_update16(wire_get16(l4csum), hi, nhi);
    wire_put16(l4csum, wire_csum_update16(c, lo, nlo));
  }
}

bool rewrite_split(uint8_t *f, size_t len, uint32_t hip, uint16_t hport) {
  if (len < 14 + 20 || wire_get16(f + 12) != WIRE_ETHERTYPE_IPV4) return false;
  uint8_t *ip = f + 14;
  size_t ihl = (size_t)(ip[0] & 15) * 4;
  if ((ip[0] >> 4) != 4 || ihl < 20 || 14 + ihl + 8 > len || (wire_get16(ip + 6) & 0x3fff))
    return false;
  uint8_t proto = ip[9];
  if (proto != WIRE_IP_PROTO_TCP && proto != WIRE_IP_PROTO_UDP) return false;
  uint8_t *l4 = ip + ihl, *csum = NULL;
  if (proto == WIRE_IP_PROTO_TCP && 14 + ihl + 18 <= len) csum = l4 + 16;
  if (proto == WIRE_IP_PROTO_UDP && wire_get16(l4 + 6)) csum = l4 + 6;
  uint32_t src = wire_get32(ip + 12), dst = wire_get32(ip + 16);
  bool from_h = src == hip && wire_get16(l4) == hport;
  bool to_h = dst == hip && wire_get16(l4 + 2) == hport;
  if (!from_h && !to_h) return false;
  uint32_t nsrc = from_h ? REWRITE_SPLIT_HOST : src == hip ? REWRITE_SPLIT_PEER : src;
  uint32_t ndst = to_h ? REWRITE_SPLIT_HOST : dst == hip ? REWRITE_SPLIT_PEER : dst;
  set_addr(ip, ip + 12, nsrc, csum);
  set_addr(ip, ip + 16, ndst, csum);
  if (proto == WIRE_IP_PROTO_UDP && csum && wire_get16(csum) == 0) wire_put16(csum, 0xffff);
  capture_synth_mac(ndst, f);
  capture_synth_mac(nsrc, f + 6);
  return true;
}

size_t rewrite_split_capture(struct capture_mem *m, uint32_t ip, uint16_t port) {
  size_t n = 0;
  for (size_t i = 0; i < m->n; i++)
    n += rewrite_split(m->data + m->frames[i].off, m->frames[i].len, ip, port);
  return n;
}

/* Header lengths of an IPv4 TCP frame, and its TCP payload length. */
static bool tcp_frame(const uint8_t *f, size_t len, size_t *ihl, size_t *doff, size_t *payload) {
  if (len < 14 + 20 + 20 || wire_get16(f + 12) != WIRE_ETHERTYPE_IPV4) return false;
  const uint8_t *ip = f + 14;
  *ihl = (size_t)(ip[0] & 15) * 4;
  if ((ip[0] >> 4) != 4 || *ihl < 20 || ip[9] != WIRE_IP_PROTO_TCP || (wire_get16(ip + 6) & 0x3fff))
    return false;
  size_t tot = wire_get16(ip + 2);
  if (tot == 0) tot = len - 14; /* BIG TCP */
  if (tot > len - 14 || 14 + *ihl + 20 > len) return false;
  *doff = (size_t)(ip[*ihl + 12] >> 4) * 4;
  if (*doff < 20 || *ihl + *doff > tot) return false;
  *payload = tot - *ihl - *doff;
  return true;
}

size_t rewrite_gso_count(const uint8_t *f, size_t len, uint16_t mtu) {
  size_t ihl, doff, payload;
  if (!tcp_frame(f, len, &ihl, &doff, &payload) || ihl + doff >= mtu) return 0;
  size_t chunk = mtu - ihl - doff;
  return payload > chunk ? (payload + chunk - 1) / chunk : 0;
}

size_t rewrite_gso_segment(const uint8_t *f, size_t len, uint16_t mtu, size_t k, uint8_t *out) {
  size_t ihl, doff, payload;
  if (!tcp_frame(f, len, &ihl, &doff, &payload)) return 0;
  size_t hdrs = 14 + ihl + doff, chunk = mtu - ihl - doff, n = (payload + chunk - 1) / chunk;
  if (k >= n) return 0;
  size_t off = k * chunk, seg = payload - off < chunk ? payload - off : chunk;
  memcpy(out, f, hdrs);
  memcpy(out + hdrs, f + hdrs + off, seg);
  uint8_t *ip = out + 14, *tcp = ip + ihl;
  wire_put16(ip + 2, (uint16_t)(ihl + doff + seg));
  wire_put16(ip + 4, (uint16_t)(wire_get16(ip + 4) + k));
  wire_put32(tcp + 4, wire_get32(tcp + 4) + (uint32_t)off);
  if (k + 1 < n) tcp[13] &= (uint8_t) ~(WIRE_TCP_FIN | WIRE_TCP_PSH); /* as TSO/GSO does */
  if (k > 0) tcp[13] &= (uint8_t)~WIRE_TCP_CWR;
  /* The super-frame's checksums were the NIC's to fill in: computed. */
  rewrite_fix_checksums(out, hdrs + seg);
  return hdrs + seg;
}
