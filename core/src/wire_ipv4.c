/* IPv4 header parse/emit (RFC 791); options validated and skipped. */
#include "internal.h"

/* Walk IPv4 options (RFC 791 3.1) with an explicit remaining count; each step
 * ends (EOL), advances (NOP: 1 byte, others: their length) or rejects. Every
 * option other than EOL/NOP has a length byte counting kind and length, so a
 * length of 0 or 1 is impossible (and 0 would loop forever), and a length
 * beyond the remaining bytes would run past the header. Options are only
 * validated, not interpreted: the stack neither needs nor honours them. */
int wire_ipv4_options_ok(const uint8_t *opt, size_t len) {
  size_t i = 0;
  while (i < len) {
    uint8_t kind = opt[i];
    if (kind == 0) return MICROTCP_OK; /* EOL: the rest is padding */
    if (kind == 1) {                  /* NOP */
      i++;
      continue;
    }
    size_t remaining = len - i;
    if (remaining < 2) return MICROTCP_EMALFORMED; /* no room for the length byte */
    uint8_t olen = opt[i + 1];
    if (olen < 2 || olen > remaining) return MICROTCP_EMALFORMED;
    i += olen;
  }
  return MICROTCP_OK;
}

/* The one IPv4 header reader. truncated: the datagram may be cut short after
 * its header (an ICMP quote); else total_len must fit in len. */
static int parse(const uint8_t *buf, size_t len, wire_ipv4 *out, bool truncated) {
  if (buf == NULL || len < WIRE_IPV4_HLEN) return MICROTCP_ETRUNCATED;
  uint8_t ver_ihl = buf[WIRE_IPV4_F_VER_IHL];
  if ((ver_ihl >> 4) != 4) return MICROTCP_EMALFORMED;
  size_t ihl = (size_t)(ver_ihl & 0x0f) * 4;
  if (ihl < WIRE_IPV4_HLEN) return MICROTCP_EMALFORMED;
  uint16_t total = wire_get16(buf + WIRE_IPV4_F_LEN);
  if (total < ihl) return MICROTCP_EMALFORMED;
  if (ihl > len || (!truncated && total > len)) return MICROTCP_ETRUNCATED;
  uint16_t frag = wire_get16(buf + WIRE_IPV4_F_FRAG);
  if (frag & WIRE_IPV4_RESERVED) return MICROTCP_EMALFORMED; /* RFC 791 3.1: must be zero */
  uint32_t off = (uint32_t)(frag & WIRE_IPV4_FRAG_MASK) * 8;
  if (off + (total - ihl) > 65535u) return MICROTCP_EMALFORMED;
  int e = wire_ipv4_options_ok(buf + WIRE_IPV4_F_OPTIONS, ihl - WIRE_IPV4_HLEN);
  if (e < 0) return e;
  out->ihl_bytes = (uint8_t)ihl;
  out->tos = buf[WIRE_IPV4_F_TOS];
  out->total_len = total;
  out->id = wire_get16(buf + WIRE_IPV4_F_ID);
  out->df = (frag & WIRE_IPV4_DF) != 0;
  out->mf = (frag & WIRE_IPV4_MF) != 0;
  out->frag_offset = (uint16_t)off;
  out->ttl = buf[WIRE_IPV4_F_TTL];
  out->proto = buf[WIRE_IPV4_F_PROTO];
  out->checksum = wire_get16(buf + WIRE_IPV4_F_CHECKSUM);
  out->src = wire_get32(buf + WIRE_IPV4_F_SRC);
  out->dst = wire_get32(buf + WIRE_IPV4_F_DST);
  out->payload = buf + ihl;
  out->payload_len = (total < len ? total : len) - ihl;
  return MICROTCP_OK;
}

int wire_ipv4_parse(const uint8_t *buf, size_t len, wire_ipv4 *out) {
  return parse(buf, len, out, false);
}

int wire_ipv4_parse_truncated(const uint8_t *buf, size_t len, wire_ipv4 *out) {
  return parse(buf, len, out, true);
}

bool wire_ipv4_checksum_ok(const uint8_t *hdr, size_t ihl_bytes) {
  return wire_csum(hdr, ihl_bytes) == 0;
}

int wire_ipv4_emit(const wire_ipv4 *h, uint8_t *buf, size_t cap) {
  if (cap < WIRE_IPV4_HLEN) return MICROTCP_ENOSPC;
  buf[WIRE_IPV4_F_VER_IHL] = 0x45;
  buf[WIRE_IPV4_F_TOS] = h->tos;
  wire_put16(buf + WIRE_IPV4_F_LEN, h->total_len);
  wire_put16(buf + WIRE_IPV4_F_ID, h->id);
  uint16_t frag = (uint16_t)((h->frag_offset / 8) & WIRE_IPV4_FRAG_MASK);
  if (h->df) frag |= WIRE_IPV4_DF;
  if (h->mf) frag |= WIRE_IPV4_MF;
  wire_put16(buf + WIRE_IPV4_F_FRAG, frag);
  buf[WIRE_IPV4_F_TTL] = h->ttl;
  buf[WIRE_IPV4_F_PROTO] = h->proto;
  wire_put16(buf + WIRE_IPV4_F_CHECKSUM, 0);
  wire_put32(buf + WIRE_IPV4_F_SRC, h->src);
  wire_put32(buf + WIRE_IPV4_F_DST, h->dst);
  wire_put16(buf + WIRE_IPV4_F_CHECKSUM, wire_csum(buf, WIRE_IPV4_HLEN));
  return WIRE_IPV4_HLEN;
}
