/*
 * Two instances back to back: ARP resolution, pings (incl. a 4000-byte ping
 * that fragments and reassembles), UDP datagrams (incl. 5000 bytes), ICMP port
 * unreachable delivered to the sender's socket, pools back to zero, and the
 * whole exchange is deterministic: two runs give byte-identical frame logs.
 */
#include <stdio.h>

#include "check.h"
#include "pair.h"

#define IP_A 0x0a000001u
#define IP_B 0x0a000002u

static uint64_t exchange(void) {
  microtcp_config cfg[2];
  for (int i = 0; i < 2; i++) {
    pair_config(&cfg[i], i);
    cfg[i].frames = 32;
    cfg[i].arp_pending = 8;
    cfg[i].reasm_bytes = 16384; /* 2 slots of 8 KiB: enough for a 5000-byte datagram */
    cfg[i].udp_rcvq = 8192;
  }
  struct pair p;
  CHECK_EQ(pair_init(&p, cfg, 1), 0);
  pair_run_until(&p, 1000); /* gratuitous ARPs */
  uint8_t mac[6];
  CHECK_EQ(microtcp_arp_lookup(p.st[0], IP_B, mac), MICROTCP_EAGAIN); /* announcements don't teach */

  /* ping: small, then 4000 bytes (fragmented both ways) */
  static uint8_t payload[5000];
  uint32_t sum = 0;
  for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)(i * 13 + 7);
  for (size_t i = 0; i < 4000; i++) sum += payload[i];
  CHECK_EQ(microtcp_ping(p.st[0], p.now, IP_B, 77, 1, payload, 56), 0);
  pair_run_until(&p, p.now + 100000);
  CHECK_EQ(microtcp_arp_lookup(p.st[0], IP_B, mac), 0);
  CHECK_EQ(mac[5], 0x11);
  CHECK_EQ(microtcp_arp_lookup(p.st[1], IP_A, mac), 0); /* learned from the request */
  microtcp_ping_reply r;
  CHECK_EQ(microtcp_ping_recv(p.st[0], &r), 56);
  CHECK_EQ(r.id, 77);
  CHECK_EQ(r.seq, 1);
  CHECK_EQ(r.src, IP_B);
  CHECK_EQ(microtcp_ping(p.st[0], p.now, IP_B, 77, 2, payload, 4000), 0);
  pair_run_until(&p, p.now + 100000);
  CHECK_EQ(microtcp_ping_recv(p.st[0], &r), 4000);
  CHECK_EQ(r.seq, 2);
  CHECK_EQ(r.payload_sum, sum);
  CHECK_EQ(microtcp_get_counters(p.st[1])->ip_reassembled, 1);
  CHECK_EQ(microtcp_get_counters(p.st[0])->ip_reassembled, 1);
  CHECK(microtcp_get_counters(p.st[0])->ip_fragments_out >= 3);

  /* UDP both ways, incl. a 5000-byte datagram */
  int ua = microtcp_udp_bind(p.st[0], p.now, 0);
  int ub = microtcp_udp_bind(p.st[1], p.now, 9000);
  CHECK(ua >= 0 && ub >= 0);
  CHECK_EQ(microtcp_udp_bind(p.st[1], p.now, 9000), MICROTCP_EADDRINUSE);
  int pa = microtcp_local_port(p.st[0], ua);
  CHECK(pa >= 49152);
  CHECK_EQ(microtcp_udp_sendto(p.st[0], p.now, ua, IP_B, 9000, "ping", 4), 4);
  CHECK_EQ(microtcp_udp_sendto(p.st[0], p.now, ua, IP_B, 9000, payload, 5000), 5000);
  pair_run_until(&p, p.now + 100000);
  static uint8_t buf[6000];
  microtcp_endpoint from;
  CHECK_EQ(microtcp_udp_recvfrom(p.st[1], p.now, ub, buf, sizeof buf, &from), 4);
  CHECK(memcmp(buf, "ping", 4) == 0);
  CHECK_EQ(from.ip, IP_A);
  CHECK_EQ(from.port, pa);
  CHECK_EQ(microtcp_udp_recvfrom(p.st[1], p.now, ub, buf, sizeof buf, &from), 5000);
  CHECK(memcmp(buf, payload, 5000) == 0);
  /* queue bound: three 3000-byte datagrams into an 8 KiB queue → the third is dropped */
  for (int i = 0; i < 3; i++)
    CHECK_EQ(microtcp_udp_sendto(p.st[0], p.now, ua, IP_B, 9000, payload, 3000), 3000);
  pair_run_until(&p, p.now + 100000);
  CHECK_EQ(microtcp_get_counters(p.st[1])->drop_udp_queue_full, 1);
  CHECK_EQ(microtcp_udp_recvfrom(p.st[1], p.now, ub, buf, 10, &from), 3000); /* truncated copy */
  CHECK_EQ(microtcp_udp_recvfrom(p.st[1], p.now, ub, buf, sizeof buf, &from), 3000);
  CHECK_EQ(microtcp_udp_recvfrom(p.st[1], p.now, ub, buf, sizeof buf, &from), MICROTCP_EAGAIN);
  CHECK_EQ(microtcp_udp_sendto(p.st[1], p.now, ub, IP_A, (uint16_t)pa, payload, 3000), 3000);
  pair_run_until(&p, p.now + 100000);
  CHECK_EQ(microtcp_udp_recvfrom(p.st[0], p.now, ua, buf, sizeof buf, &from), 3000);
  CHECK(memcmp(buf, payload, 3000) == 0);

  /* nothing on port 9999: ICMP port unreachable comes back to the socket */
  CHECK_EQ(microtcp_udp_sendto(p.st[0], p.now, ua, IP_B, 9999, "x", 1), 1);
  pair_run_until(&p, p.now + 100000);
  CHECK_EQ(microtcp_get_counters(p.st[1])->drop_udp_no_port, 1);
  CHECK(microtcp_poll(p.st[0], ua) & MICROTCP_ERROR);
  CHECK_EQ(microtcp_socket_error(p.st[0], ua), MICROTCP_EPORTUNREACH);

  CHECK_EQ(microtcp_udp_close(p.st[0], ua), 0);
  CHECK_EQ(microtcp_udp_close(p.st[1], ub), 0);
  CHECK_EQ(microtcp_udp_close(p.st[1], ub), MICROTCP_EBADF);
  microtcp_pool_usage u;
  for (int i = 0; i < 2; i++) {
    microtcp_get_pool_usage(p.st[i], &u);
    CHECK_EQ(u.udp, 0);
    CHECK_EQ(u.frames, 0);
    CHECK_EQ(u.reasm_slots, 0);
    CHECK_EQ(u.reasm_bytes, 0);
    CHECK_EQ(u.arp_pending, 0);
  }
  uint64_t h = p.hash;
  pair_free(&p);
  return h;
}

static void deterministic_exchange(void) {
  uint64_t a = exchange();
  uint64_t b = exchange();
  CHECK(a == b);
}

/* A host that never answers ARP: queued frames are dropped and counted after
 * the retries, the queue is bounded, and nothing leaks. */
static void arp_unresolved_drops_after_retries(void) {
  microtcp_config cfg;
  pair_config(&cfg, 0);
  cfg.arp_pending = 2;
  size_t n = microtcp_footprint(&cfg);
  void *arena = aligned_alloc(16, (n + 15) & ~(size_t)15);
  microtcp_stack *st = microtcp_init(arena, n, &cfg, 0, NULL);
  CHECK(st != NULL);
  uint8_t buf[2000];
  while (microtcp_output(st, 0, buf, sizeof buf) > 0) {
  }
  int u = microtcp_udp_bind(st, 0, 0);
  for (int i = 0; i < 3; i++) microtcp_udp_sendto(st, 0, u, 0x0a000009u, 7, "abc", 3);
  CHECK_EQ(microtcp_get_counters(st)->drop_arp_pending_full, 1);
  int requests = 0;
  uint64_t now = 0;
  for (int step = 0; step < 20; step++) {
    int len;
    while ((len = microtcp_output(st, now, buf, sizeof buf)) > 0) requests++;
    uint64_t d = microtcp_deadline(st);
    if (d == UINT64_MAX) break;
    now = d;
    microtcp_advance(st, now);
  }
  CHECK_EQ(requests, cfg.arp_retries);
  CHECK_EQ(microtcp_get_counters(st)->drop_arp_unresolved, 2);
  microtcp_pool_usage pu;
  microtcp_get_pool_usage(st, &pu);
  CHECK_EQ(pu.frames, 0);
  CHECK_EQ(pu.arp_pending, 0);
  free(arena);
}

int main(void) {
  RUN(deterministic_exchange);
  RUN(arp_unresolved_drops_after_retries);
  return check_report();
}
