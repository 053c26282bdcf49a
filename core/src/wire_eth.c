/* Ethernet II parse/emit (contract: include/microtcp/wire.h). */
#include "internal.h"

int wire_eth_parse(const uint8_t *buf, size_t len, wire_eth *out) {
  if (buf == NULL || len < WIRE_ETH_HLEN) return MICROTCP_ETRUNCATED;
  memcpy(out->dst, buf + WIRE_ETH_F_DST, 6);
  memcpy(out->src, buf + WIRE_ETH_F_SRC, 6);
  out->ethertype = wire_get16(buf + WIRE_ETH_F_TYPE);
  if (out->ethertype < 0x0600) return MICROTCP_EMALFORMED; /* 802.3 length, not Ethernet II */
  out->payload = buf + WIRE_ETH_HLEN;
  out->payload_len = len - WIRE_ETH_HLEN;
  return MICROTCP_OK;
}

int wire_eth_emit(const wire_eth *h, uint8_t *buf, size_t cap) {
  if (cap < WIRE_ETH_HLEN) return MICROTCP_ENOSPC;
  memcpy(buf + WIRE_ETH_F_DST, h->dst, 6);
  memcpy(buf + WIRE_ETH_F_SRC, h->src, 6);
  wire_put16(buf + WIRE_ETH_F_TYPE, h->ethertype);
  return WIRE_ETH_HLEN;
}
