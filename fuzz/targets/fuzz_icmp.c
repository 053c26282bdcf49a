/*
 * ICMP target: ICMP messages into a stack that has an ESTABLISHED TCP
 * connection, a connection in SYN-SENT and a UDP socket that has sent a
 * datagram, so errors quoting real traffic reach the sockets (RFC 1122
 * 4.2.3.9, RFC 5927 checks, path MTU "fragmentation needed").
 *
 *   record: [ctl][type][code][r0][r1][len] then, if ctl&3 == 0, len raw
 *   payload bytes. ctl&3 selects the quoted datagram: 0 raw, 1 the last
 *   segment the stack sent on the established connection, 2 its SYN to the
 *   unanswering peer, 3 its last UDP datagram; the quote keeps the first
 *   len × 2 bytes (at least the IPv4 header). rest = r0 << 8 | r1 (the
 *   next-hop MTU of "fragmentation needed"). ctl&4: an echo request with
 *   len bytes instead; ctl&8: advance time 300 ms first; ctl&16: the stack
 *   sends more data on the connection first.
 *
 * Invariants: every parsed message round-trips and its quoted datagram lies
 * inside it (roundtrip.h); output well formed; pools bounded; after closing
 * everything and running time out, pools empty.
 */
#include "roundtrip.h"
#include "tcp_peer.h"

struct last {
  uint8_t tcp[1600], syn[1600], udp[1600];
  size_t tcp_len, syn_len, udp_len;
  struct fz_conn *c;
};

static void keep_last(void *ctx, const uint8_t *frame, size_t len) {
  struct last *l = ctx;
  fz_conn_learn(l->c, 2, frame, len);
  wire_eth e;
  wire_ipv4 ip;
  if (wire_eth_parse(frame, len, &e) || wire_ipv4_parse(e.payload, e.payload_len, &ip)) return;
  size_t n = ip.ihl_bytes + ip.payload_len;
  if (ip.proto == WIRE_IP_PROTO_UDP) {
    memcpy(l->udp, e.payload, n);
    l->udp_len = n;
  } else if (ip.proto == WIRE_IP_PROTO_TCP && ip.payload_len >= 4) {
    uint16_t dport = wire_get16(ip.payload + 2);
    if (dport == l->c[0].peer_port) {
      memcpy(l->tcp, e.payload, n);
      l->tcp_len = n;
    } else if (dport == l->c[1].peer_port) {
      memcpy(l->syn, e.payload, n);
      l->syn_len = n;
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct fz_conn c[2];
  static struct last last;
  struct fz f;
  memset(&last, 0, sizeof last);
  last.c = c;
  fz_init(&f);
  int l = microtcp_tcp_listen(f.st, 0, FZ_LISTEN_PORT, 2);
  int u = microtcp_udp_bind(f.st, 0, 5000);
  if (l < 0 || u < 0) fz_die("listen/bind");
  fz_conn_passive(&f, c, 2, &c[0], l, 40000, 1000);
  if (fz_conn_active(&f, c, 2, &c[1], 7000, 5000) < 0 || !c[1].stack_syn_seen)
    fz_die("a fresh stack failed to connect");
  fz_conn_write(&f, &c[0], 3000);
  microtcp_udp_sendto(f.st, f.now, u, FZ_PEER_IP, 7, "query", 5);
  fz_drain(&f, keep_last, &last);

  static uint8_t msg[1600], frame[1700];
  size_t i = 0;
  while (i + 6 <= size) {
    const uint8_t *r = data + i;
    i += 6;
    uint8_t ctl = r[0];
    size_t len = r[5];
    if (ctl & 8) {
      f.now += 300000;
      microtcp_advance(f.st, f.now);
    }
    if (ctl & 16) fz_conn_write(&f, &c[0], 1000);
    fz_drain(&f, keep_last, &last);
    wire_icmp ic;
    memset(&ic, 0, sizeof ic);
    ic.type = r[1];
    ic.code = r[2];
    ic.rest = (uint32_t)(r[3] << 8 | r[4]);
    const uint8_t *q = NULL;
    size_t qlen = 0;
    switch (ctl & 3) {
    case 0:
      q = data + i;
      qlen = len < size - i ? len : size - i;
      i += qlen;
      break;
    case 1: q = last.tcp; qlen = last.tcp_len; break;
    case 2: q = last.syn; qlen = last.syn_len; break;
    default: q = last.udp; qlen = last.udp_len; break;
    }
    if ((ctl & 3) && qlen > WIRE_IPV4_HLEN + len * 2) qlen = WIRE_IPV4_HLEN + len * 2;
    if (ctl & 4) {
      ic.type = WIRE_ICMP_ECHO_REQUEST;
      ic.code = 0;
      static uint8_t echo[256];
      memset(echo, r[4], len);
      q = echo;
      qlen = len;
    }
    ic.payload = q;
    ic.payload_len = qlen;
    int n = wire_icmp_emit(&ic, msg, sizeof msg - 200);
    if (n < 0) continue;
    wire_icmp p;
    if (wire_icmp_parse(msg, (size_t)n, &p) != 0) fz_die("emitted icmp does not parse");
    fz_rt_icmp(&p, msg);
    size_t fl = fz_frame(frame, sizeof frame, WIRE_IP_PROTO_ICMP, msg, (size_t)n, (uint16_t)i, 0, 0, 0);
    if (fl) microtcp_input(f.st, f.now, frame, fl);
    fz_drain(&f, keep_last, &last);
    fz_check_bounds(&f);
    (void)microtcp_socket_error(f.st, c[0].handle);
    (void)microtcp_socket_error(f.st, u);
  }
  uint8_t buf[2048];
  while (microtcp_udp_recvfrom(f.st, f.now, u, buf, sizeof buf, NULL) >= 0) {
  }
  microtcp_ping_reply pr;
  while (microtcp_ping_recv(f.st, &pr) >= 0) {
  }
  microtcp_tcp_abort(f.st, f.now, c[0].handle);
  microtcp_tcp_close(f.st, f.now, c[1].handle);
  microtcp_tcp_close(f.st, f.now, l);
  microtcp_udp_close(f.st, u);
  fz_run_out(&f, 3600ull * 1000000u);
  fz_check_idle(&f, "pools not empty after closing everything");
  fz_free(&f);
  return 0;
}
