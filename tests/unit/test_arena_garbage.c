/*
 * The stack never reads arena memory it has not written (memory it hands
 * out unzeroed: frame buffers, TCP chunks, UDP queues, reassembly pool).
 *
 * The caller's arena may hold anything: a reused buffer, a previous
 * incarnation's state, secrets. microtcp_init zeroes its control structures
 * and carves the bulk data areas unwritten (so a lazily committed arena costs
 * RAM only as it is used); every byte of those must be written before it is
 * read. Otherwise old arena contents would reach the wire (the "Etherleak"
 * class: padding or unwritten header bytes leaking memory) or steer the stack.
 *
 * Check: the same exchange (ARP, TCP handshake, data both ways, again under
 * loss with SACK and retransmissions, close, a RST, UDP small and fragmented,
 * ICMP echo and port unreachable) on arenas pre-filled with 0x00, 0xff and
 * 0x5a must put exactly the same bytes on the wire and deliver the same data.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "pair.h"

struct result {
  uint64_t wire_hash; /* every frame either stack sent, in order */
  uint64_t frames;
  uint8_t got[8000 * 2 + 3000 + 64];
  size_t got_len;
};

static void append(struct result *r, const uint8_t *d, int n) {
  if (n <= 0) return;
  CHECK(r->got_len + (size_t)n <= sizeof r->got);
  memcpy(r->got + r->got_len, d, (size_t)n);
  r->got_len += (size_t)n;
}

static void exchange(int fill, struct result *r) {
  memset(r, 0, sizeof *r);
  microtcp_config cfg[2];
  pair_config(&cfg[0], 0);
  pair_config(&cfg[1], 1);
  cfg[0].tcp_buf_chunks = 24; /* a shared pool smaller than the buffers: chunks are reused */
  struct pair p;
  CHECK_EQ(pair_init_fill(&p, cfg, 11, fill), 0);
  microtcp_stack *a = p.st[0], *b = p.st[1];
  uint32_t ip_b = cfg[1].ip;
  static uint8_t data[8000], buf[9000];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 29 + 3);

  int l = microtcp_tcp_listen(b, p.now, 80, 4);
  int c = microtcp_tcp_connect(a, p.now, ip_b, 80, 0);
  CHECK(l >= 0 && c >= 0);
  pair_run_until(&p, p.now + 100000);
  int s = microtcp_tcp_accept(b, p.now, l, NULL);
  CHECK(s >= 0);
  CHECK(microtcp_tcp_send(a, p.now, c, data, sizeof data) > 0);
  CHECK_EQ(microtcp_tcp_send(b, p.now, s, data, 999), 999);
  pair_run_until(&p, p.now + 300000);
  append(r, buf, microtcp_tcp_recv(b, p.now, s, buf, sizeof buf));
  append(r, buf, microtcp_tcp_recv(a, p.now, c, buf, sizeof buf));
  p.loss_ppm = 150000; /* retransmissions, SACK blocks, out-of-order data */
  p.reorder_ppm = 100000;
  for (int k = 0; k < 6; k++) {
    int n = microtcp_tcp_send(a, p.now, c, data + k * 1000, 1000);
    CHECK(n >= 0 || n == MICROTCP_EAGAIN);
    pair_run_until(&p, p.now + 500000);
    append(r, buf, microtcp_tcp_recv(b, p.now, s, buf, sizeof buf));
  }
  p.loss_ppm = p.reorder_ppm = 0;
  pair_run_until(&p, p.now + 5000000);
  append(r, buf, microtcp_tcp_recv(b, p.now, s, buf, sizeof buf));
  CHECK_EQ(microtcp_tcp_close(a, p.now, c), 0);
  CHECK_EQ(microtcp_tcp_close(b, p.now, s), 0);
  CHECK(microtcp_tcp_connect(a, p.now, ip_b, 81, 0) >= 0); /* RST back */
  pair_run_until(&p, p.now + 100000);

  int ua = microtcp_udp_bind(a, p.now, 5000), ub = microtcp_udp_bind(b, p.now, 6000);
  CHECK(ua >= 0 && ub >= 0);
  CHECK_EQ(microtcp_udp_sendto(a, p.now, ua, ip_b, 6000, data, 33), 33);
  CHECK_EQ(microtcp_udp_sendto(a, p.now, ua, ip_b, 6000, data, 3000), 3000); /* fragmented */
  CHECK_EQ(microtcp_udp_sendto(a, p.now, ua, ip_b, 6001, data, 10), 10);     /* port unreachable */
  pair_run_until(&p, p.now + 100000);
  append(r, buf, microtcp_udp_recvfrom(b, p.now, ub, buf, sizeof buf, NULL));
  append(r, buf, microtcp_udp_recvfrom(b, p.now, ub, buf, sizeof buf, NULL));
  CHECK(microtcp_ping(a, p.now, ip_b, 7, 1, data, 64) >= 0);
  pair_run_until(&p, p.now + 100000);
  pair_run_until(&p, p.now + 60000000); /* TIME-WAIT ends */
  r->wire_hash = p.hash;
  r->frames = p.delivered + p.dropped;
  pair_free(&p);
}

int main(void) {
  static struct result r0, r1, r2;
  exchange(0x00, &r0);
  exchange(0xff, &r1);
  exchange(0x5a, &r2);
  printf("frames %llu, wire hash %016llx, %zu bytes delivered\n", (unsigned long long)r0.frames,
         (unsigned long long)r0.wire_hash, r0.got_len);
  CHECK(r0.frames > 40);
  CHECK(r0.got_len > 8000);
  CHECK_EQ(r0.frames, r1.frames);
  CHECK_EQ(r0.frames, r2.frames);
  CHECK(r0.wire_hash == r1.wire_hash);
  CHECK(r0.wire_hash == r2.wire_hash);
  CHECK_EQ(r0.got_len, r1.got_len);
  CHECK_EQ(r0.got_len, r2.got_len);
  CHECK(memcmp(r0.got, r1.got, r0.got_len) == 0);
  CHECK(memcmp(r0.got, r2.got, r0.got_len) == 0);
  return check_report();
}
