/* UDP (RFC 768) parse/emit. */
#include "internal.h"

int wire_udp_parse(const uint8_t *buf, size_t len, wire_udp *out) {
  if (buf == NULL || len < WIRE_UDP_HLEN) return MICROTCP_ETRUNCATED;
  out->src_port = wire_get16(buf + WIRE_UDP_F_SRC_PORT);
  out->dst_port = wire_get16(buf + WIRE_UDP_F_DST_PORT);
  out->length = wire_get16(buf + WIRE_UDP_F_LENGTH);
  out->checksum = wire_get16(buf + WIRE_UDP_F_CHECKSUM);
  if (out->length < WIRE_UDP_HLEN) return MICROTCP_EMALFORMED;
  if (out->length > len) return MICROTCP_ETRUNCATED;
  out->payload = buf + WIRE_UDP_HLEN;
  out->payload_len = (size_t)out->length - WIRE_UDP_HLEN;
  return MICROTCP_OK;
}

bool wire_udp_checksum_ok(uint32_t src, uint32_t dst, const uint8_t *buf, size_t len) {
  if (len < WIRE_UDP_HLEN || len > 65535u) return false;
  if (wire_get16(buf + WIRE_UDP_F_CHECKSUM) == 0) return true; /* RFC 768: no checksum */
  uint32_t s = wire_csum_pseudo(src, dst, WIRE_IP_PROTO_UDP, (uint16_t)len);
  return wire_csum_fold(wire_csum_partial(s, buf, len)) == 0;
}

int wire_udp_emit_header(uint32_t src, uint32_t dst, const wire_udp *h, uint8_t *buf, size_t cap) {
  size_t total = WIRE_UDP_HLEN + h->payload_len;
  if (total > 65535u || cap < WIRE_UDP_HLEN) return MICROTCP_ENOSPC;
  wire_put16(buf + WIRE_UDP_F_SRC_PORT, h->src_port);
  wire_put16(buf + WIRE_UDP_F_DST_PORT, h->dst_port);
  wire_put16(buf + WIRE_UDP_F_LENGTH, (uint16_t)total);
  wire_put16(buf + WIRE_UDP_F_CHECKSUM, 0);
  uint32_t s = wire_csum_pseudo(src, dst, WIRE_IP_PROTO_UDP, (uint16_t)total);
  s = wire_csum_partial(s, buf, WIRE_UDP_HLEN);
  if (h->payload_len) s = wire_csum_partial(s, h->payload, h->payload_len);
  uint16_t c = wire_csum_fold(s);
  wire_put16(buf + WIRE_UDP_F_CHECKSUM, c == 0 ? 0xffff : c); /* RFC 768: 0 means "none" */
  return WIRE_UDP_HLEN;
}

int wire_udp_emit(uint32_t src, uint32_t dst, const wire_udp *h, uint8_t *buf, size_t cap) {
  size_t total = WIRE_UDP_HLEN + h->payload_len;
  if (total > 65535u || cap < total) return MICROTCP_ENOSPC;
  wire_udp in_place = *h;
  if (h->payload_len) {
    if (h->payload != buf + WIRE_UDP_HLEN) memmove(buf + WIRE_UDP_HLEN, h->payload, h->payload_len);
    in_place.payload = buf + WIRE_UDP_HLEN;
  }
  (void)wire_udp_emit_header(src, dst, &in_place, buf, cap);
  return (int)total;
}
