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

int wire_ipv4_parse(const uint8_t *buf, size_t len, wire_ipv4 *out) {
  if (buf == NULL || len < WIRE_IPV4_HLEN) return MICROTCP_ETRUNCATED;
  if ((buf[0] >> 4) != 4) return MICROTCP_EMALFORMED;
  size_t ihl = (size_t)(buf[0] & 0x0f) * 4;
  if (ihl < WIRE_IPV4_HLEN) return MICROTCP_EMALFORMED;
  uint16_t total = wire_get16(buf + 2);
  if (total < ihl) return MICROTCP_EMALFORMED;
  if (total > len || ihl > len) return MICROTCP_ETRUNCATED;
  uint16_t frag = wire_get16(buf + 6);
  if (frag & 0x8000) return MICROTCP_EMALFORMED; /* reserved bit */
  uint32_t off = (uint32_t)(frag & 0x1fff) * 8;
  if (off + (total - ihl) > 65535u) return MICROTCP_EMALFORMED;
  int e = wire_ipv4_options_ok(buf + WIRE_IPV4_HLEN, ihl - WIRE_IPV4_HLEN);
  if (e < 0) return e;
  out->ihl_bytes = (uint8_t)ihl;
  out->tos = buf[1];
  out->total_len = total;
  out->id = wire_get16(buf + 4);
  out->df = (frag & WIRE_IPV4_DF) != 0;
  out->mf = (frag & WIRE_IPV4_MF) != 0;
  out->frag_offset = (uint16_t)off;
  out->ttl = buf[8];
  out->proto = buf[9];
  out->checksum = wire_get16(buf + 10);
  out->src = wire_get32(buf + 12);
  out->dst = wire_get32(buf + 16);
  out->payload = buf + ihl;
  out->payload_len = total - ihl;
  return MICROTCP_OK;
}

bool wire_ipv4_checksum_ok(const uint8_t *hdr, size_t ihl_bytes) {
  return wire_csum(hdr, ihl_bytes) == 0;
}

int wire_ipv4_emit(const wire_ipv4 *h, uint8_t *buf, size_t cap) {
  if (cap < WIRE_IPV4_HLEN) return MICROTCP_ENOSPC;
  buf[0] = 0x45;
  buf[1] = h->tos;
  wire_put16(buf + 2, h->total_len);
  wire_put16(buf + 4, h->id);
  uint16_t frag = (uint16_t)((h->frag_offset / 8) & 0x1fff);
  if (h->df) frag |= WIRE_IPV4_DF;
  if (h->mf) frag |= WIRE_IPV4_MF;
  wire_put16(buf + 6, frag);
  buf[8] = h->ttl;
  buf[9] = h->proto;
  wire_put16(buf + 10, 0);
  wire_put32(buf + 12, h->src);
  wire_put32(buf + 16, h->dst);
  wire_put16(buf + 10, wire_csum(buf, WIRE_IPV4_HLEN));
  return WIRE_IPV4_HLEN;
}
