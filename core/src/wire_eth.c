/* Ethernet II parse/emit (contract: include/microtcp/wire.h). */
#include "internal.h"

int wire_eth_parse(const uint8_t *buf, size_t len, wire_eth *out) {
  if (buf == NULL || len < WIRE_ETH_HLEN) return MICROTCP_ETRUNCATED;
  memcpy(out->dst, buf, 6);
  memcpy(out->src, buf + 6, 6);
  out->ethertype = wire_get16(buf + 12);
  if (out->ethertype < 0x0600) return MICROTCP_EMALFORMED; /* 802.3 length, not Ethernet II */
  out->payload = buf + WIRE_ETH_HLEN;
  out->payload_len = len - WIRE_ETH_HLEN;
  return MICROTCP_OK;
}

int wire_eth_emit(const wire_eth *h, uint8_t *buf, size_t cap) {
  if (cap < WIRE_ETH_HLEN) return MICROTCP_ENOSPC;
  memcpy(buf, h->dst, 6);
  memcpy(buf + 6, h->src, 6);
  wire_put16(buf + 12, h->ethertype);
  return WIRE_ETH_HLEN;
}
