/* ARP for Ethernet/IPv4 (RFC 826) parse/emit. */
#include "internal.h"

int wire_arp_parse(const uint8_t *buf, size_t len, wire_arp *out) {
  if (buf == NULL || len < WIRE_ARP_LEN) return MICROTCP_ETRUNCATED;
  if (wire_get16(buf) != 1 || wire_get16(buf + 2) != WIRE_ETHERTYPE_IPV4 || buf[4] != 6 ||
      buf[5] != 4)
    return MICROTCP_EMALFORMED;
  out->op = wire_get16(buf + 6);
  if (out->op != WIRE_ARP_REQUEST && out->op != WIRE_ARP_REPLY) return MICROTCP_EMALFORMED;
  memcpy(out->sha, buf + 8, 6);
  out->spa = wire_get32(buf + 14);
  memcpy(out->tha, buf + 18, 6);
  out->tpa = wire_get32(buf + 24);
  return MICROTCP_OK;
}

int wire_arp_emit(const wire_arp *a, uint8_t *buf, size_t cap) {
  if (cap < WIRE_ARP_LEN) return MICROTCP_ENOSPC;
  wire_put16(buf, 1);
  wire_put16(buf + 2, WIRE_ETHERTYPE_IPV4);
  buf[4] = 6;
  buf[5] = 4;
  wire_put16(buf + 6, a->op);
  memcpy(buf + 8, a->sha, 6);
  wire_put32(buf + 14, a->spa);
  memcpy(buf + 18, a->tha, 6);
  wire_put32(buf + 24, a->tpa);
  return WIRE_ARP_LEN;
}
