/*
 * gso.c without a device: segments joined by gso_add come back byte for byte
 * from gso_split (headers, sequence numbers, PSH on the last only, full
 * checksums); a flow change, a gap, a short segment, PSH, a SYN or a non-TCP
 * frame ends a batch and keeps the order; pure ACKs are thinned but
 * duplicates kept, also on the plain path (no header, nothing joined); a
 * partial checksum is completed;
 * malformed virtio headers are refused.
 */
#include <linux/virtio_net.h>
#include <stdio.h>
#include <string.h>

#include "gso.h"

static int failures;
#define CHECK(c)                                                         \
  do {                                                                   \
    if (!(c)) {                                                          \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
      failures++;                                                        \
    }                                                                    \
  } while (0)

/* ---- a reference checksum, written independently of gso.c ---- */
static uint16_t csum(const uint8_t *p, size_t n, uint32_t acc) {
  for (size_t i = 0; i < n; i++) acc += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return (uint16_t)~acc;
}

/* An Ethernet/IPv4/TCP frame with timestamps (doff 32) and valid checksums. */
static size_t make_tcp(uint8_t *f, uint16_t sport, uint32_t seq, uint8_t flags, size_t payload) {
  memset(f, 0, 14 + 20 + 32);
  f[12] = 0x08;
  uint8_t *ip = f + 14, *tcp = ip + 20;
  ip[0] = 0x45;
  size_t total = 20 + 32 + payload;
  ip[2] = (uint8_t)(total >> 8), ip[3] = (uint8_t)total;
  ip[6] = 0x40; /* DF */
  ip[8] = 64, ip[9] = 6;
  ip[12] = 10, ip[15] = 1, ip[16] = 10, ip[19] = 2;
  tcp[0] = (uint8_t)(sport >> 8), tcp[1] = (uint8_t)sport, tcp[3] = 80;
  tcp[4] = (uint8_t)(seq >> 24), tcp[5] = (uint8_t)(seq >> 16), tcp[6] = (uint8_t)(seq >> 8), tcp[7] = (uint8_t)seq;
  tcp[11] = 7, tcp[12] = 8 << 4, tcp[13] = flags, tcp[14] = 0x20;
  tcp[20] = 1, tcp[21] = 1, tcp[22] = 8, tcp[23] = 10, tcp[27] = 42; /* nop nop TS */
  for (size_t i = 0; i < payload; i++) tcp[32 + i] = (uint8_t)(seq + i);
  uint16_t c = csum(ip, 20, 0);
  ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
  uint32_t ph = (10u << 8) + 1 + (10u << 8) + 2 + 6 + (uint32_t)(32 + payload);
  c = csum(tcp, 32 + payload, ph);
  tcp[16] = (uint8_t)(c >> 8), tcp[17] = (uint8_t)c;
  return 14 + total;
}

/* ---- what gso writes and what gso_split delivers ---- */
static uint8_t written[64][GSO_VNET_HDR_LEN + 14 + GSO_MAX_BYTES];
static size_t written_len[64], nwritten;
static int capture(void *ctx, const uint8_t *buf, size_t len) {
  (void)ctx;
  if (nwritten < 64) {
    memcpy(written[nwritten], buf, len);
    written_len[nwritten] = len;
  }
  nwritten++;
  return 0;
}

static uint8_t got[256][GSO_FRAME_MAX];
static size_t got_len[256], ngot;
static void collect(void *ctx, const uint8_t *f, size_t len) {
  (void)ctx;
  if (ngot < 256) {
    memcpy(got[ngot], f, len);
    got_len[ngot] = len;
  }
  ngot++;
}

static uint8_t sent[256][GSO_FRAME_MAX];
static size_t sent_len[256];

static void split_all(void) {
  ngot = 0;
  for (size_t i = 0; i < nwritten; i++) CHECK(gso_split(written[i], written_len[i], collect, NULL) > 0);
}

static void expect_roundtrip(size_t n) {
  split_all();
  CHECK(ngot == n);
  for (size_t i = 0; i < n && i < ngot; i++) {
    if (got[i][13] == 0x00) { /* IPv4: the IDs sent are all 0, gso_split numbers them from the first */
      got[i][14 + 4] = got[i][14 + 5] = got[i][14 + 10] = got[i][14 + 11] = 0;
      uint16_t c = csum(got[i] + 14, 20, 0);
      got[i][14 + 10] = (uint8_t)(c >> 8), got[i][14 + 11] = (uint8_t)c;
    }
    CHECK(got_len[i] == sent_len[i] && memcmp(got[i], sent[i], sent_len[i]) == 0);
  }
}

int main(void) {
  struct gso g;
  /* 44 full segments and a short last one with PSH: one write, 45 back */
  gso_init(&g);
  nwritten = 0;
  uint32_t seq = 1000;
  size_t n = 0;
  for (; n < 45; n++) {
    size_t k = n < 44 ? 1448 : 100;
    sent_len[n] = make_tcp(sent[n], 5000, seq, n < 44 ? 0x10 : 0x18, k);
    seq += (uint32_t)k;
    CHECK(gso_add(&g, sent[n], sent_len[n], capture, NULL) == 0);
  }
  CHECK(gso_flush(&g, capture, NULL) == 0);
  CHECK(nwritten == 1); /* 20 + 32 + 44 x 1448 + 100 = 63864 bytes: one IPv4 datagram */
  struct virtio_net_hdr vh;
  memcpy(&vh, written[0], sizeof vh);
  CHECK(vh.gso_type == VIRTIO_NET_HDR_GSO_TCPV4 && vh.gso_size == 1448 && vh.hdr_len == 66);
  expect_roundtrip(45);

  /* a batch ends at: another flow, a gap, a short segment, a SYN, ARP */
  gso_init(&g);
  nwritten = 0;
  n = 0;
  sent_len[n] = make_tcp(sent[n], 5000, 1, 0x10, 1448), n++;
  sent_len[n] = make_tcp(sent[n], 5001, 1449, 0x10, 1448), n++;   /* other port */
  sent_len[n] = make_tcp(sent[n], 5001, 5000, 0x10, 1448), n++;   /* gap */
  sent_len[n] = make_tcp(sent[n], 5001, 6448, 0x10, 500), n++;    /* short: joins, then ends */
  sent_len[n] = make_tcp(sent[n], 5001, 6948, 0x10, 1448), n++;   /* after a short one */
  sent_len[n] = make_tcp(sent[n], 5001, 8396, 0x12, 0), n++;      /* SYN-ACK: alone */
  memset(sent[n], 0, 60), sent[n][12] = 0x08, sent[n][13] = 0x06, sent_len[n++] = 60; /* ARP */
  for (size_t i = 0; i < n; i++) CHECK(gso_add(&g, sent[i], sent_len[i], capture, NULL) == 0);
  CHECK(gso_flush(&g, capture, NULL) == 0);
  CHECK(nwritten == 6 && g.frames == 7);
  expect_roundtrip(n);

  /* pure ACKs: a higher one replaces the one held back; duplicates all stay */
  gso_init(&g);
  nwritten = 0;
  uint32_t acks[] = {100, 200, 300, 300, 300, 400};
  for (size_t i = 0; i < 6; i++) {
    sent_len[i] = make_tcp(sent[i], 5000, 1, 0x10, 0);
    uint8_t *t = sent[i] + 34;
    t[8] = (uint8_t)(acks[i] >> 24), t[9] = (uint8_t)(acks[i] >> 16), t[10] = (uint8_t)(acks[i] >> 8),
    t[11] = (uint8_t)acks[i];
    CHECK(gso_add(&g, sent[i], sent_len[i], capture, NULL) == 0);
  }
  CHECK(gso_flush(&g, capture, NULL) == 0);
  /* 100 and 200 are replaced by the first 300; each duplicate 300 sends the
   * held one; 400 replaces the last 300: written 300, 300, 400 */
  CHECK(nwritten == 3 && g.thinned == 3);
  if (nwritten == 3) {
    CHECK(memcmp(written[0] + GSO_VNET_HDR_LEN, sent[2], sent_len[2]) == 0);
    CHECK(memcmp(written[1] + GSO_VNET_HDR_LEN, sent[3], sent_len[3]) == 0);
    CHECK(memcmp(written[2] + GSO_VNET_HDR_LEN, sent[5], sent_len[5]) == 0);
  }
  /* data after a held ACK: the ACK goes first */
  gso_init(&g);
  nwritten = 0;
  CHECK(gso_add(&g, sent[0], sent_len[0], capture, NULL) == 0);
  sent_len[1] = make_tcp(sent[1], 5000, 1, 0x10, 1000);
  CHECK(gso_add(&g, sent[1], sent_len[1], capture, NULL) == 0);
  CHECK(gso_flush(&g, capture, NULL) == 0);
  CHECK(nwritten == 2 && memcmp(written[0] + GSO_VNET_HDR_LEN, sent[0], sent_len[0]) == 0);

  /* the plain path: frames go out as they are, one write each, no header,
   * nothing joined; pure ACKs are thinned as above */
  gso_init_plain(&g);
  nwritten = 0;
  for (size_t i = 0; i < 6; i++) {
    sent_len[i] = make_tcp(sent[i], 5000, 1, 0x10, 0);
    uint8_t *t = sent[i] + 34;
    t[8] = (uint8_t)(acks[i] >> 24), t[9] = (uint8_t)(acks[i] >> 16), t[10] = (uint8_t)(acks[i] >> 8),
    t[11] = (uint8_t)acks[i];
    CHECK(gso_add(&g, sent[i], sent_len[i], capture, NULL) == 0);
  }
  sent_len[6] = make_tcp(sent[6], 5000, 1, 0x10, 1448);
  sent_len[7] = make_tcp(sent[7], 5000, 1449, 0x10, 1448); /* would be joined with --gso */
  for (size_t i = 6; i < 8; i++) CHECK(gso_add(&g, sent[i], sent_len[i], capture, NULL) == 0);
  CHECK(gso_flush(&g, capture, NULL) == 0);
  CHECK(nwritten == 5 && g.thinned == 3 && g.writes == 5 && g.frames == 8);
  static const size_t plain_want[] = {2, 3, 5, 6, 7}; /* 300, 300, 400 (first), then the data */
  for (size_t i = 0; i < 5 && i < nwritten; i++)
    CHECK(written_len[i] == sent_len[plain_want[i]] &&
          memcmp(written[i], sent[plain_want[i]], sent_len[plain_want[i]]) == 0);

  /* a partial checksum (NEEDS_CSUM) is completed */
  uint8_t buf[GSO_VNET_HDR_LEN + GSO_FRAME_MAX];
  size_t len = make_tcp(buf + GSO_VNET_HDR_LEN, 7, 1, 0x18, 300);
  memcpy(sent[0], buf + GSO_VNET_HDR_LEN, len);
  uint8_t *tcp = buf + GSO_VNET_HDR_LEN + 34;
  uint32_t ph = (10u << 8) + 1 + (10u << 8) + 2 + 6 + 332;
  uint16_t seed = (uint16_t)~csum(NULL, 0, ph);
  tcp[16] = (uint8_t)(seed >> 8), tcp[17] = (uint8_t)seed;
  memset(&vh, 0, sizeof vh);
  vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, vh.csum_start = 34, vh.csum_offset = 16;
  memcpy(buf, &vh, sizeof vh);
  ngot = 0;
  CHECK(gso_split(buf, GSO_VNET_HDR_LEN + len, collect, NULL) == 1);
  CHECK(ngot == 1 && memcmp(got[0], sent[0], len) == 0);

  /* partial checksums over every payload length from 0 to 300 (odd, even,
   * any remainder of the eight-byte steps) and an odd start, against the
   * reference checksum of make_tcp */
  for (size_t k = 0; k <= 300; k++) {
    len = make_tcp(buf + GSO_VNET_HDR_LEN, 7, 1, 0x18, k);
    for (size_t i = 0; i < k; i++) buf[GSO_VNET_HDR_LEN + 66 + i] = (uint8_t)(i * 37 + k);
    uint8_t *t = buf + GSO_VNET_HDR_LEN + 34;
    t[16] = t[17] = 0;
    uint16_t c = csum(buf + GSO_VNET_HDR_LEN + 34, 32 + k, (10u << 8) + 1 + (10u << 8) + 2 + 6 + 32 + (uint32_t)k);
    t[16] = (uint8_t)(c >> 8), t[17] = (uint8_t)c;
    memcpy(sent[0], buf + GSO_VNET_HDR_LEN, len);
    seed = (uint16_t)~csum(NULL, 0, (10u << 8) + 1 + (10u << 8) + 2 + 6 + 32 + (uint32_t)k);
    t[16] = (uint8_t)(seed >> 8), t[17] = (uint8_t)seed;
    memset(&vh, 0, sizeof vh);
    vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, vh.csum_start = 34, vh.csum_offset = 16;
    memcpy(buf, &vh, sizeof vh);
    ngot = 0;
    CHECK(gso_split(buf, GSO_VNET_HDR_LEN + len, collect, NULL) == 1);
    CHECK(ngot == 1 && got_len[0] == len && memcmp(got[0], sent[0], len) == 0);
  }
  /* and a partial IPv4 header checksum: 20 bytes, not a multiple of eight */
  len = make_tcp(buf + GSO_VNET_HDR_LEN, 7, 1, 0x18, 3);
  memcpy(sent[0], buf + GSO_VNET_HDR_LEN, len);
  buf[GSO_VNET_HDR_LEN + 24] = buf[GSO_VNET_HDR_LEN + 25] = 0;
  memset(&vh, 0, sizeof vh);
  vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, vh.csum_start = 14, vh.csum_offset = 10;
  memcpy(buf, &vh, sizeof vh);
  ngot = 0;
  CHECK(gso_split(buf, GSO_VNET_HDR_LEN + 14 + 20, collect, NULL) == 1);
  CHECK(ngot == 1 && memcmp(got[0] + 24, sent[0] + 24, 2) == 0);

  /* malformed headers: refused, nothing delivered */
  ngot = 0;
  vh.csum_start = 2000;
  memcpy(buf, &vh, sizeof vh);
  CHECK(gso_split(buf, GSO_VNET_HDR_LEN + len, collect, NULL) == -1);
  memset(&vh, 0, sizeof vh);
  vh.gso_type = VIRTIO_NET_HDR_GSO_UDP;
  vh.gso_size = 1000;
  memcpy(buf, &vh, sizeof vh);
  CHECK(gso_split(buf, GSO_VNET_HDR_LEN + len, collect, NULL) == -1);
  vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
  vh.gso_size = 0;
  memcpy(buf, &vh, sizeof vh);
  CHECK(gso_split(buf, GSO_VNET_HDR_LEN + len, collect, NULL) == -1);
  CHECK(gso_split(buf, 5, collect, NULL) == -1);
  CHECK(ngot == 0);

  if (failures) {
    fprintf(stderr, "%d checks failed\n", failures);
    return 1;
  }
  puts("gso: all checks passed");
  return 0;
}
