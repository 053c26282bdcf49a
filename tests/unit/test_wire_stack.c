/*
 * The stack writes every header through the wire layer (core/src/wire_*.c),
 * and lends its frames in place (microtcp_output_frame).
 *
 * 1. Every frame two stacks exchange (ARP requests/replies, TCP handshake,
 *    data, SACK-less ACKs, FIN, RST, UDP including a fragmented datagram,
 *    ICMP echo and port unreachable) is parsed and re-emitted field by field
 *    with the wire emitters; the bytes must be identical, checksums included.
 *    The emitters are the ones the Linux byte-for-byte tests pin
 *    (test_wire_tcp.c and friends), so those tests cover the code that runs.
 * 2. microtcp_output_frame lends the queued frame in place: the same bytes
 *    microtcp_output would copy, stable across other calls until released,
 *    counted and returned to the pool on release.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "microtcp/wire.h"
#include "pair.h"

enum { K_ARP, K_TCP, K_TCP_DATA, K_TCP_RST, K_TCP_SACK, K_UDP, K_UDP_FRAG, K_ICMP_ECHO, K_ICMP_ERR, K_N };
static unsigned seen[K_N];
static unsigned frames_checked;

/* Re-emit frame f with the wire emitters from its parsed fields; must match. */
static void check_frame(const uint8_t *f, size_t len) {
  uint8_t out[PAIR_FRAME_MAX];
  memset(out, 0xa5, sizeof out);
  wire_eth eth;
  CHECK_EQ(wire_eth_parse(f, len, &eth), 0);
  CHECK_EQ(wire_eth_emit(&eth, out, sizeof out), WIRE_ETH_HLEN);
  frames_checked++;
  if (eth.ethertype == WIRE_ETHERTYPE_ARP) {
    wire_arp a;
    CHECK_EQ(wire_arp_parse(eth.payload, eth.payload_len, &a), 0);
    CHECK_EQ(wire_arp_emit(&a, out + WIRE_ETH_HLEN, sizeof out - WIRE_ETH_HLEN), WIRE_ARP_LEN);
    memset(out + WIRE_ETH_HLEN + WIRE_ARP_LEN, 0, 60 - WIRE_ETH_HLEN - WIRE_ARP_LEN);
    CHECK_EQ(len, 60); /* padded to the Ethernet minimum with zeros */
    CHECK(memcmp(out, f, len) == 0);
    seen[K_ARP]++;
    return;
  }
  CHECK_EQ(eth.ethertype, WIRE_ETHERTYPE_IPV4);
  wire_ipv4 ip;
  CHECK_EQ(wire_ipv4_parse(eth.payload, eth.payload_len, &ip), 0);
  CHECK_EQ(ip.ihl_bytes, WIRE_IPV4_HLEN);
  CHECK_EQ(ip.total_len + WIRE_ETH_HLEN, len); /* no padding: every frame is exact */
  uint8_t *o = out + WIRE_ETH_HLEN;
  CHECK_EQ(wire_ipv4_emit(&ip, o, sizeof out - WIRE_ETH_HLEN), WIRE_IPV4_HLEN);
  o += WIRE_IPV4_HLEN;
  size_t cap = sizeof out - WIRE_ETH_HLEN - WIRE_IPV4_HLEN;
  int n = -1;
  if (ip.mf || ip.frag_offset) {
    /* A fragment: the transport checksum covers the whole datagram, so only
     * the IP header is re-emitted; the bytes behind it are copied through. */
    memcpy(o, ip.payload, ip.payload_len);
    n = (int)ip.payload_len;
    seen[K_UDP_FRAG]++;
  } else if (ip.proto == WIRE_IP_PROTO_TCP) {
    wire_tcp t;
    CHECK_EQ(wire_tcp_parse(ip.payload, ip.payload_len, &t), 0);
    n = wire_tcp_emit(ip.src, ip.dst, &t, o, cap);
    seen[(t.flags & WIRE_TCP_RST) ? K_TCP_RST : t.payload_len ? K_TCP_DATA : K_TCP]++;
    if (t.opts.sack_count) seen[K_TCP_SACK]++;
  } else if (ip.proto == WIRE_IP_PROTO_UDP) {
    wire_udp u;
    CHECK_EQ(wire_udp_parse(ip.payload, ip.payload_len, &u), 0);
    n = wire_udp_emit(ip.src, ip.dst, &u, o, cap);
    seen[K_UDP]++;
  } else if (ip.proto == WIRE_IP_PROTO_ICMP) {
    wire_icmp m;
    CHECK_EQ(wire_icmp_parse(ip.payload, ip.payload_len, &m), 0);
    n = wire_icmp_emit(&m, o, cap);
    seen[m.type == WIRE_ICMP_DEST_UNREACH ? K_ICMP_ERR : K_ICMP_ECHO]++;
  }
  CHECK_EQ(n, (int)ip.payload_len);
  if (n >= 0) CHECK(memcmp(out, f, len) == 0);
}

static int inspect(struct pair *p, int to, uint8_t *frame, size_t len) {
  (void)p;
  (void)to;
  check_frame(frame, len);
  return 1;
}

static void every_frame_the_stack_sends_is_what_the_wire_emitters_write(void) {
  microtcp_config cfg[2];
  pair_config(&cfg[0], 0);
  pair_config(&cfg[1], 1);
  cfg[1].tcp_timestamps = false; /* both option layouts: with and without TS */
  struct pair p;
  CHECK_EQ(pair_init(&p, cfg, 7), 0);
  p.filter = inspect;
  microtcp_stack *a = p.st[0], *b = p.st[1];
  uint32_t ip_b = cfg[1].ip;

  /* TCP: handshake, data both ways, close. */
  int l = microtcp_tcp_listen(b, p.now, 80, 4);
  CHECK(l >= 0);
  int c = microtcp_tcp_connect(a, p.now, ip_b, 80, 0);
  CHECK(c >= 0);
  pair_run_until(&p, p.now + 100000);
  int s = microtcp_tcp_accept(b, p.now, l, NULL);
  CHECK(s >= 0);
  static uint8_t data[8000];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 13 + 1);
  CHECK_EQ(microtcp_tcp_send(a, p.now, c, data, sizeof data), (int)sizeof data);
  CHECK_EQ(microtcp_tcp_send(b, p.now, s, data, 999), 999);
  pair_run_until(&p, p.now + 200000);
  static uint8_t got[8000];
  CHECK_EQ(microtcp_tcp_recv(b, p.now, s, got, sizeof got), (int)sizeof data);
  CHECK(memcmp(got, data, sizeof data) == 0);
  /* Again through 20% loss: retransmissions and ACKs with SACK blocks. */
  p.loss_ppm = 200000;
  CHECK_EQ(microtcp_tcp_send(a, p.now, c, data, sizeof data), (int)sizeof data);
  pair_run_until(&p, p.now + 3000000);
  p.loss_ppm = 0;
  pair_run_until(&p, p.now + 5000000);
  CHECK_EQ(microtcp_tcp_recv(b, p.now, s, got, sizeof got), (int)sizeof data);
  CHECK(memcmp(got, data, sizeof data) == 0);
  CHECK_EQ(microtcp_tcp_close(a, p.now, c), 0);
  CHECK_EQ(microtcp_tcp_close(b, p.now, s), 0);
  /* RST: a SYN to a port nobody listens on. */
  CHECK(microtcp_tcp_connect(a, p.now, ip_b, 81, 0) >= 0);
  pair_run_until(&p, p.now + 100000);

  /* UDP: one small datagram, one in three fragments, one to a closed port
   * (ICMP port unreachable back). */
  int ua = microtcp_udp_bind(a, p.now, 5000), ub = microtcp_udp_bind(b, p.now, 6000);
  CHECK(ua >= 0 && ub >= 0);
  CHECK_EQ(microtcp_udp_sendto(a, p.now, ua, ip_b, 6000, data, 33), 33);
  CHECK_EQ(microtcp_udp_sendto(a, p.now, ua, ip_b, 6000, data, 3000), 3000);
  CHECK_EQ(microtcp_udp_sendto(a, p.now, ua, ip_b, 6001, data, 10), 10);
  pair_run_until(&p, p.now + 100000);
  CHECK_EQ(microtcp_udp_recvfrom(b, p.now, ub, got, sizeof got, NULL), 33);
  CHECK_EQ(microtcp_udp_recvfrom(b, p.now, ub, got, sizeof got, NULL), 3000);
  CHECK(memcmp(got, data, 3000) == 0);

  /* ICMP echo request and reply. */
  CHECK_EQ(microtcp_ping(a, p.now, ip_b, 1, 2, data, 56), 0);
  pair_run_until(&p, p.now + 100000);
  microtcp_ping_reply r;
  CHECK_EQ(microtcp_ping_recv(a, &r), 56);

  for (int k = 0; k < K_N; k++) {
    if (seen[k] == 0) fprintf(stderr, "no frame of kind %d\n", k);
    CHECK(seen[k] > 0);
  }
  CHECK(frames_checked > 30);
  pair_free(&p);
}

static microtcp_stack *one_stack(void **arena) {
  microtcp_config cfg;
  pair_config(&cfg, 0);
  size_t n = microtcp_footprint(&cfg);
  *arena = aligned_alloc(16, (n + 15) & ~(size_t)15);
  int err = 0;
  return microtcp_init(*arena, n, &cfg, 0, &err);
}

/* An ARP request for ip from a neighbour, as a frame. */
static size_t arp_request_for(uint8_t *buf, uint32_t ip) {
  wire_eth e = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, {2, 0, 0, 0, 0, 0x77}, WIRE_ETHERTYPE_ARP,
                NULL, 0};
  wire_arp a = {WIRE_ARP_REQUEST, {2, 0, 0, 0, 0, 0x77}, 0x0a000009u, {0}, ip};
  memset(buf, 0, 60);
  (void)wire_eth_emit(&e, buf, 14);
  (void)wire_arp_emit(&a, buf + 14, 28);
  return 60;
}

static void output_frame_lends_the_queued_frame_in_place_until_release(void) {
  void *arena;
  microtcp_stack *st = one_stack(&arena);
  CHECK(st != NULL);
  const microtcp_counters *ctr = microtcp_get_counters(st);
  microtcp_pool_usage u;
  const uint8_t *p = (const uint8_t *)1, *p2 = NULL;
  CHECK_EQ(microtcp_output_frame(st, 0, NULL), MICROTCP_EINVAL);
  /* The gratuitous ARP announcement queued at init. */
  int n = microtcp_output_frame(st, 0, &p);
  CHECK_EQ(n, 60);
  CHECK(p != NULL);
  uint8_t copy[60];
  memcpy(copy, p, 60);
  /* Lent again, unchanged, by every call until released; not counted yet. */
  CHECK_EQ(microtcp_output_frame(st, 0, &p2), 60);
  CHECK(p2 == p);
  CHECK_EQ(ctr->frames_out, 0);
  microtcp_get_pool_usage(st, &u);
  CHECK_EQ(u.frames, 1);
  /* Other calls while it is lent (an ARP request: a reply is queued) do
   * not touch it. */
  uint8_t req[60];
  microtcp_input(st, 1, req, arp_request_for(req, microtcp_get_config(st)->ip));
  CHECK(memcmp(p, copy, 60) == 0);
  CHECK_EQ(microtcp_output_frame(st, 1, &p2), 60);
  CHECK(p2 == p);
  microtcp_output_release(st);
  CHECK_EQ(ctr->frames_out, 1);
  CHECK_EQ(ctr->bytes_out, 60);
  microtcp_output_release(st); /* nothing lent: no-op */
  CHECK_EQ(ctr->frames_out, 1);
  /* Next: the ARP reply. microtcp_output with a short buffer keeps it. */
  uint8_t buf[100];
  CHECK_EQ(microtcp_output(st, 1, buf, 59), MICROTCP_ENOSPC);
  CHECK_EQ(microtcp_output_frame(st, 1, &p), 60);
  wire_arp a;
  CHECK_EQ(wire_arp_parse(p + 14, 46, &a), 0);
  CHECK_EQ(a.op, WIRE_ARP_REPLY);
  memcpy(copy, p, 60);
  CHECK_EQ(microtcp_output(st, 1, buf, sizeof buf), 60); /* the lent frame, copied */
  CHECK(memcmp(buf, copy, 60) == 0);
  CHECK_EQ(ctr->frames_out, 2);
  CHECK_EQ(microtcp_output_frame(st, 1, &p), 0);
  CHECK(p == NULL);
  microtcp_get_pool_usage(st, &u);
  CHECK_EQ(u.frames, 0);
  free(arena);
}

int main(void) {
  RUN(every_frame_the_stack_sends_is_what_the_wire_emitters_write);
  RUN(output_frame_lends_the_queued_frame_in_place_until_release);
  return check_report();
}
