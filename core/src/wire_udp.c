/* UDP (RFC 768) parse/emit. */
#include "internal.h"

int wire_udp_parse(const uint8_t *buf, size_t len, wire_udp *out) {
  if (buf == NULL || len < WIRE_UDP_HLEN) return MICROTCP_ETRUNCATED;
  out->src_port = wire_get16(buf);
  out->dst_port = wire_get16(buf + 2);
  out->length = wire_get16(buf + 4);
  out->checksum = wire_get16(buf + 6);
  if (out->length < WIRE_UDP_HLEN) return MICROTCP_EMALFORMED;
  if (out->length > len) return MICROTCP_ETRUNCATED;
  out->payload = buf + WIRE_UDP_HLEN;
  out->payload_len = (size_t)out->length - WIRE_UDP_HLEN;
  return MICROTCP_OK;
}

bool wire_udp_checksum_ok(uint32_t src, uint32_t dst, const uint8_t *buf, size_t len) {
  if (len < WIRE_UDP_HLEN || len > 65535u) return false;
  if (wire_get16(buf + 6) == 0) return true; /* RFC 768: no checksum */
  uint32_t s = wire_csum_pseudo(src, dst, WIRE_IP_PROTO_UDP, (uint16_t)len);
  return wire_csum_fold(wire_csum_partial(s, buf, len)) == 0;
}

int wire_udp_emit(uint32_t src, uint32_t dst, const wire_udp *h, uint8_t *buf, size_t cap) {
  size_t total = WIRE_UDP_HLEN + h->payload_len;
  if (total > 65535u || cap < total) return MICROTCP_ENOSPC;
  wire_put16(buf, h->src_port);
  wire_put16(buf + 2, h->dst_port);
  wire_put16(buf + 4, (uint16_t)total);
  wire_put16(buf + 6, 0);
  if (h->payload_len) memmove(buf + WIRE_UDP_HLEN, h->payload, h->payload_len);
  uint32_t s = wire_csum_pseudo(src, dst, WIRE_IP_PROTO_UDP, (uint16_t)total);
  uint16_t c = wire_csum_fold(wire_csum_partial(s, buf, total));
  wire_put16(buf + 6, c == 0 ? 0xffff : c);
  return (int)total;
}
