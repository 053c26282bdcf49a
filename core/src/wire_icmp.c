/* ICMP (RFC 792) parse/emit and quoted-datagram parsing for errors. */
#include "internal.h"

int wire_icmp_parse(const uint8_t *buf, size_t len, wire_icmp *out) {
  if (buf == NULL || len < WIRE_ICMP_HLEN) return MICROTCP_ETRUNCATED;
  out->type = buf[WIRE_ICMP_F_TYPE];
  out->code = buf[WIRE_ICMP_F_CODE];
  out->checksum = wire_get16(buf + WIRE_ICMP_F_CHECKSUM);
  out->rest = wire_get32(buf + WIRE_ICMP_F_REST);
  out->payload = buf + WIRE_ICMP_HLEN;
  out->payload_len = len - WIRE_ICMP_HLEN;
  return MICROTCP_OK;
}

int wire_icmp_emit_header(const wire_icmp *h, uint8_t *buf, size_t cap) {
  if (cap < WIRE_ICMP_HLEN || WIRE_ICMP_HLEN + h->payload_len > 65535u) return MICROTCP_ENOSPC;
  buf[WIRE_ICMP_F_TYPE] = h->type;
  buf[WIRE_ICMP_F_CODE] = h->code;
  wire_put16(buf + WIRE_ICMP_F_CHECKSUM, 0);
  wire_put32(buf + WIRE_ICMP_F_REST, h->rest);
  uint32_t sum = wire_csum_partial(0, buf, WIRE_ICMP_HLEN);
  if (h->payload_len) sum = wire_csum_partial(sum, h->payload, h->payload_len);
  wire_put16(buf + WIRE_ICMP_F_CHECKSUM, wire_csum_fold(sum));
  return WIRE_ICMP_HLEN;
}

int wire_icmp_emit(const wire_icmp *h, uint8_t *buf, size_t cap) {
  size_t total = WIRE_ICMP_HLEN + h->payload_len;
  if (cap < total || total > 65535u) return MICROTCP_ENOSPC;
  wire_icmp in_place = *h;
  if (h->payload_len) {
    if (h->payload != buf + WIRE_ICMP_HLEN) memmove(buf + WIRE_ICMP_HLEN, h->payload, h->payload_len);
    in_place.payload = buf + WIRE_ICMP_HLEN;
  }
  (void)wire_icmp_emit_header(&in_place, buf, cap);
  return (int)total;
}

int wire_icmp_quoted(const wire_icmp *icmp, wire_ipv4 *quoted) {
  wire_ipv4 q;
  int e = wire_ipv4_parse_truncated(icmp->payload, icmp->payload_len, &q);
  if (e < 0) return e;
  /* RFC 792: the header and the first 64 bits of the datagram's data. */
  if (icmp->payload_len < (size_t)q.ihl_bytes + 8) return MICROTCP_ETRUNCATED;
  if ((size_t)q.total_len < (size_t)q.ihl_bytes + 8) return MICROTCP_EMALFORMED;
  *quoted = q;
  return MICROTCP_OK;
}

int wire_l4_quoted(const wire_ipv4 *quoted, wire_l4_quote *out) {
  if (quoted->frag_offset != 0) return MICROTCP_EMALFORMED; /* not the transport header */
  if (quoted->payload_len < 8) return MICROTCP_ETRUNCATED;
  /* TCP and UDP share the port fields' positions. */
  out->src_port = wire_get16(quoted->payload + WIRE_TCP_F_SRC_PORT);
  out->dst_port = wire_get16(quoted->payload + WIRE_TCP_F_DST_PORT);
  out->tcp_seq = wire_get32(quoted->payload + WIRE_TCP_F_SEQ);
  return MICROTCP_OK;
}
