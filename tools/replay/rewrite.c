/* Rewriting options for foreign captures: see rewrite.h. */
#include "rewrite.h"

#include <string.h>

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
