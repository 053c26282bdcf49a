/* ARP for Ethernet/IPv4 (RFC 826) parse/emit. */
#include "internal.h"

int wire_arp_parse(const uint8_t *buf, size_t len, wire_arp *out) {
  if (buf == NULL || len < WIRE_ARP_LEN) return MICROTCP_ETRUNCATED;
  if (wire_get16(buf + WIRE_ARP_F_HTYPE) != 1 ||
      wire_get16(buf + WIRE_ARP_F_PTYPE) != WIRE_ETHERTYPE_IPV4 || buf[WIRE_ARP_F_HLEN] != 6 ||
      buf[WIRE_ARP_F_PLEN] != 4)
    return MICROTCP_EMALFORMED;
  out->op = wire_get16(buf + WIRE_ARP_F_OPER);
  if (out->op != WIRE_ARP_REQUEST && out->op != WIRE_ARP_REPLY) return MICROTCP_EMALFORMED;
  memcpy(out->sha, buf + WIRE_ARP_F_SHA, 6);
  out->spa = wire_get32(buf + WIRE_ARP_F_SPA);
  memcpy(out->tha, buf + WIRE_ARP_F_THA, 6);
  out->tpa = wire_get32(buf + WIRE_ARP_F_TPA);
  return MICROTCP_OK;
}

int wire_arp_emit(const wire_arp *a, uint8_t *buf, size_t cap) {
  if (cap < WIRE_ARP_LEN) return MICROTCP_ENOSPC;
  wire_put16(buf + WIRE_ARP_F_HTYPE, 1);
  wire_put16(buf + WIRE_ARP_F_PTYPE, WIRE_ETHERTYPE_IPV4);
  buf[WIRE_ARP_F_HLEN] = 6;
  buf[WIRE_ARP_F_PLEN] = 4;
  wire_put16(buf + WIRE_ARP_F_OPER, a->op);
  memcpy(buf + WIRE_ARP_F_SHA, a->sha, 6);
  wire_put32(buf + WIRE_ARP_F_SPA, a->spa);
  memcpy(buf + WIRE_ARP_F_THA, a->tha, 6);
  wire_put32(buf + WIRE_ARP_F_TPA, a->tpa);
  return WIRE_ARP_LEN;
}
