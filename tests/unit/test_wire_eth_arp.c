/*
 * Ethernet II and ARP parse/emit (core/src/wire_eth.c, wire_arp.c): round
 * trips, every truncation, every malformed field of the ARP contract, and
 * emits into short buffers that must return MICROTCP_ENOSPC untouched.
 */
#include "check.h"
#include "internal.h"

#define CANARY 0xa5

static bool all_canary(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != CANARY) return false;
  return true;
}

/* ---- Ethernet ------------------------------------------------------------ */
static const wire_eth eth_sample = {
    {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, {0x02, 0x00, 0x5e, 0x10, 0x20, 0x30}, WIRE_ETHERTYPE_ARP, NULL, 0};

static void eth_round_trip(void) {
  uint8_t frame[60];
  memset(frame, 0x77, sizeof frame);
  CHECK_EQ(wire_eth_emit(&eth_sample, frame, sizeof frame), WIRE_ETH_HLEN);
  const uint8_t expect[14] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, 0x08, 0x06};
  CHECK(memcmp(frame, expect, 14) == 0);
  CHECK_EQ(frame[14], 0x77); /* nothing written past the header */
  wire_eth e;
  CHECK_EQ(wire_eth_parse(frame, sizeof frame, &e), MICROTCP_OK);
  CHECK(memcmp(e.dst, eth_sample.dst, 6) == 0);
  CHECK(memcmp(e.src, eth_sample.src, 6) == 0);
  CHECK_EQ(e.ethertype, WIRE_ETHERTYPE_ARP);
  CHECK(e.payload == frame + 14);
  CHECK_EQ(e.payload_len, 46);
  /* header-only frame: empty payload */
  CHECK_EQ(wire_eth_parse(frame, 14, &e), MICROTCP_OK);
  CHECK_EQ(e.payload_len, 0);
}

static void eth_truncated_at_every_length_below_14(void) {
  uint8_t frame[14];
  CHECK_EQ(wire_eth_emit(&eth_sample, frame, sizeof frame), 14);
  wire_eth e;
  for (size_t n = 0; n < 14; n++) CHECK_EQ(wire_eth_parse(frame, n, &e), MICROTCP_ETRUNCATED);
  CHECK_EQ(wire_eth_parse(NULL, 0, &e), MICROTCP_ETRUNCATED);
}

static void eth_8023_length_field_is_malformed(void) {
  uint8_t frame[64] = {0};
  wire_eth h = eth_sample;
  wire_eth e;
  h.ethertype = 0x05dc; /* 1500: an 802.3 length */
  CHECK_EQ(wire_eth_emit(&h, frame, sizeof frame), 14);
  CHECK_EQ(wire_eth_parse(frame, sizeof frame, &e), MICROTCP_EMALFORMED);
  h.ethertype = 0x0600; /* the smallest EtherType */
  CHECK_EQ(wire_eth_emit(&h, frame, sizeof frame), 14);
  CHECK_EQ(wire_eth_parse(frame, sizeof frame, &e), MICROTCP_OK);
}

static void eth_emit_short_cap_writes_nothing(void) {
  uint8_t buf[14];
  for (size_t cap = 0; cap < 14; cap++) {
    memset(buf, CANARY, sizeof buf);
    CHECK_EQ(wire_eth_emit(&eth_sample, buf, cap), MICROTCP_ENOSPC);
    CHECK(all_canary(buf, sizeof buf));
  }
}

/* ---- ARP ------------------------------------------------------------------ */
static const wire_arp arp_sample = {WIRE_ARP_REPLY, {0x02, 0, 0, 0, 0, 0x02}, 0x0a000002u,
                                    {0x02, 0, 0, 0, 0, 0x01}, 0x0a000001u};

static void arp_round_trip_request_and_reply(void) {
  uint8_t buf[28];
  CHECK_EQ(wire_arp_emit(&arp_sample, buf, sizeof buf), WIRE_ARP_LEN);
  /* RFC 826 layout: htype 1, ptype 0x0800, hlen 6, plen 4, op */
  const uint8_t head[8] = {0, 1, 8, 0, 6, 4, 0, 2};
  CHECK(memcmp(buf, head, 8) == 0);
  wire_arp a;
  CHECK_EQ(wire_arp_parse(buf, sizeof buf, &a), MICROTCP_OK);
  CHECK_EQ(a.op, WIRE_ARP_REPLY);
  CHECK(memcmp(a.sha, arp_sample.sha, 6) == 0);
  CHECK(memcmp(a.tha, arp_sample.tha, 6) == 0);
  CHECK_EQ(a.spa, 0x0a000002u);
  CHECK_EQ(a.tpa, 0x0a000001u);

  wire_arp req = arp_sample;
  req.op = WIRE_ARP_REQUEST;
  memset(req.tha, 0, 6);
  CHECK_EQ(wire_arp_emit(&req, buf, sizeof buf), WIRE_ARP_LEN);
  CHECK_EQ(wire_arp_parse(buf, sizeof buf, &a), MICROTCP_OK);
  CHECK_EQ(a.op, WIRE_ARP_REQUEST);
  CHECK_EQ(a.tha[0] | a.tha[5], 0);
}

static void arp_accepts_ethernet_padding(void) {
  uint8_t buf[46];
  memset(buf, 0xee, sizeof buf);
  CHECK_EQ(wire_arp_emit(&arp_sample, buf, sizeof buf), WIRE_ARP_LEN);
  CHECK_EQ(buf[28], 0xee);
  wire_arp a;
  CHECK_EQ(wire_arp_parse(buf, sizeof buf, &a), MICROTCP_OK);
  CHECK_EQ(a.tpa, arp_sample.tpa);
}

static void arp_truncated_at_every_length_below_28(void) {
  uint8_t buf[28];
  CHECK_EQ(wire_arp_emit(&arp_sample, buf, sizeof buf), 28);
  wire_arp a;
  for (size_t n = 0; n < 28; n++) CHECK_EQ(wire_arp_parse(buf, n, &a), MICROTCP_ETRUNCATED);
}

static int parse_with_byte(size_t off, uint8_t v) {
  uint8_t buf[28];
  wire_arp a;
  (void)wire_arp_emit(&arp_sample, buf, sizeof buf);
  buf[off] = v;
  return wire_arp_parse(buf, sizeof buf, &a);
}

static void arp_wrong_htype(void) {
  CHECK_EQ(parse_with_byte(1, 6), MICROTCP_EMALFORMED);   /* htype 6 (IEEE 802) */
  CHECK_EQ(parse_with_byte(0, 1), MICROTCP_EMALFORMED);   /* htype 0x0101 */
}

static void arp_wrong_ptype(void) {
  CHECK_EQ(parse_with_byte(2, 0x86), MICROTCP_EMALFORMED); /* 0x8600 */
  CHECK_EQ(parse_with_byte(3, 0x06), MICROTCP_EMALFORMED); /* 0x0806 */
}

static void arp_wrong_hlen(void) {
  CHECK_EQ(parse_with_byte(4, 0), MICROTCP_EMALFORMED);
  CHECK_EQ(parse_with_byte(4, 8), MICROTCP_EMALFORMED);
}

static void arp_wrong_plen(void) {
  CHECK_EQ(parse_with_byte(5, 16), MICROTCP_EMALFORMED); /* IPv6-sized */
  CHECK_EQ(parse_with_byte(5, 0), MICROTCP_EMALFORMED);
}

static void arp_unknown_op(void) {
  CHECK_EQ(parse_with_byte(7, 0), MICROTCP_EMALFORMED);
  CHECK_EQ(parse_with_byte(7, 3), MICROTCP_EMALFORMED); /* RARP request */
  CHECK_EQ(parse_with_byte(6, 1), MICROTCP_EMALFORMED); /* op 0x0102 */
}

static void arp_emit_short_cap_writes_nothing(void) {
  uint8_t buf[28];
  for (size_t cap = 0; cap < 28; cap++) {
    memset(buf, CANARY, sizeof buf);
    CHECK_EQ(wire_arp_emit(&arp_sample, buf, cap), MICROTCP_ENOSPC);
    CHECK(all_canary(buf, sizeof buf));
  }
}

int main(void) {
  RUN(eth_round_trip);
  RUN(eth_truncated_at_every_length_below_14);
  RUN(eth_8023_length_field_is_malformed);
  RUN(eth_emit_short_cap_writes_nothing);
  RUN(arp_round_trip_request_and_reply);
  RUN(arp_accepts_ethernet_padding);
  RUN(arp_truncated_at_every_length_below_28);
  RUN(arp_wrong_htype);
  RUN(arp_wrong_ptype);
  RUN(arp_wrong_hlen);
  RUN(arp_wrong_plen);
  RUN(arp_unknown_op);
  RUN(arp_emit_short_cap_writes_nothing);
  return check_report();
}
