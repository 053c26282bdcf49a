/* ICMP (RFC 792) parse/emit and quoted-datagram parsing for errors. */
#include "internal.h"

int wire_icmp_parse(const uint8_t *buf, size_t len, wire_icmp *out) {
  if (buf == NULL || len < WIRE_ICMP_HLEN) return MICROTCP_ETRUNCATED;
  out->type = buf[0];
  out->code = buf[1];
  out->checksum = wire_get16(buf + 2);
  out->rest = wire_get32(buf + 4);
  out->payload = buf + WIRE_ICMP_HLEN;
  out->payload_len = len - WIRE_ICMP_HLEN;
  return MICROTCP_OK;
}

int wire_icmp_emit(const wire_icmp *h, uint8_t *buf, size_t cap) {
  size_t total = WIRE_ICMP_HLEN + h->payload_len;
  if (cap < total || total > 65535u) return MICROTCP_ENOSPC;
  buf[0] = h->type;
  buf[1] = h->code;
  wire_put16(buf + 2, 0);
  wire_put32(buf + 4, h->rest);
  if (h->payload_len) memmove(buf + WIRE_ICMP_HLEN, h->payload, h->payload_len);
  wire_put16(buf + 2, wire_csum(buf, total));
  return (int)total;
}

int wire_icmp_quoted(const wire_icmp *icmp, wire_ipv4 *quoted) {
  const uint8_t *p = icmp->payload;
  size_t len = icmp->payload_len;
  if (len < WIRE_IPV4_HLEN) return MICROTCP_ETRUNCATED;
  if ((p[0] >> 4) != 4) return MICROTCP_EMALFORMED;
  size_t ihl = (size_t)(p[0] & 0x0f) * 4;
  if (ihl < WIRE_IPV4_HLEN) return MICROTCP_EMALFORMED;
  if (len < ihl + 8) return MICROTCP_ETRUNCATED; /* RFC 792: header + 64 bits */
  uint16_t total = wire_get16(p + 2);
  if (total < ihl + 8) return MICROTCP_EMALFORMED;
  int e = wire_ipv4_options_ok(p + WIRE_IPV4_HLEN, ihl - WIRE_IPV4_HLEN);
  if (e < 0) return e;
  /* The quote is usually shorter than the original datagram: parse a copy of
   * the fields with the available length. */
  quoted->ihl_bytes = (uint8_t)ihl;
  quoted->tos = p[1];
  quoted->total_len = total;
  quoted->id = wire_get16(p + 4);
  uint16_t frag = wire_get16(p + 6);
  quoted->df = (frag & WIRE_IPV4_DF) != 0;
  quoted->mf = (frag & WIRE_IPV4_MF) != 0;
  quoted->frag_offset = (uint16_t)((frag & 0x1fff) * 8);
  quoted->ttl = p[8];
  quoted->proto = p[9];
  quoted->checksum = wire_get16(p + 10);
  quoted->src = wire_get32(p + 12);
  quoted->dst = wire_get32(p + 16);
  quoted->payload = p + ihl;
  size_t avail = len - ihl, claimed = (size_t)total - ihl;
  quoted->payload_len = avail < claimed ? avail : claimed;
  return MICROTCP_OK;
}
