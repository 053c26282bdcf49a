/*
 * ICMP (icmp.c) driven with crafted frames into one instance: echo replies
 * (incl. a reassembled 4000-byte request answered in fragments), the token
 * bucket, the RFC 1122 3.2.2 rules for generating errors, received errors
 * delivered to the UDP socket they quote, and the ping API.
 */
#include "netcraft.h"

static uint8_t pl[70000];

static void inject_echo(struct host *h, uint32_t dst, uint16_t id, uint16_t seq, size_t len) {
  static uint8_t m[70000];
  for (size_t i = 0; i < len; i++) pl[i] = (uint8_t)(i ^ seq);
  size_t n = craft_icmp(m, WIRE_ICMP_ECHO_REQUEST, 0, (uint32_t)id << 16 | seq, pl, len);
  struct ipspec s = ip_from_peer(WIRE_IP_PROTO_ICMP);
  s.dst = dst;
  inject_ip(h, &s, m, n);
}

/* Pop one frame and parse it as ICMP over IPv4. */
static bool pop_icmp(struct host *h, wire_ipv4 *ip, wire_icmp *m) {
  static uint8_t f[9100];
  wire_eth eth;
  int n = pop(h, f);
  if (n == 0 || !parse_ip_frame(f, (size_t)n, &eth, ip) || ip->proto != WIRE_IP_PROTO_ICMP)
    return false;
  if (wire_icmp_parse(ip->payload, ip->payload_len, m) < 0) return false;
  return wire_csum(ip->payload, ip->payload_len) == 0;
}

static void echo_request_is_answered_with_its_payload(void) {
  struct host h;
  host_default(&h);
  learn_peer(&h);
  inject_echo(&h, ME, 0x1234, 7, 56);
  wire_ipv4 ip;
  wire_icmp m;
  CHECK(pop_icmp(&h, &ip, &m));
  CHECK_EQ(ip.dst, PEER);
  CHECK_EQ(ip.src, ME);
  CHECK_EQ(m.type, WIRE_ICMP_ECHO_REPLY);
  CHECK_EQ(m.code, 0);
  CHECK_EQ(m.rest, 0x12340007u);
  CHECK_EQ(m.payload_len, 56);
  CHECK(memcmp(m.payload, pl, 56) == 0);
  CHECK_EQ(ctr(&h)->icmp_echo_replies_out, 1);
  /* to a broadcast address: ignored (RFC 1122 3.2.2.6 allows it) */
  inject_echo(&h, 0xffffffffu, 1, 1, 8);
  inject_echo(&h, 0x0a0000ffu, 1, 1, 8);
  CHECK_EQ(drain(&h), 0);
  /* bad ICMP checksum */
  static uint8_t msg[64];
  size_t n = craft_icmp(msg, WIRE_ICMP_ECHO_REQUEST, 0, 1, "abcd", 4);
  msg[9] ^= 1;
  struct ipspec s = ip_from_peer(WIRE_IP_PROTO_ICMP);
  inject_ip(&h, &s, msg, n);
  CHECK_EQ(ctr(&h)->drop_icmp_checksum, 1);
  /* truncated ICMP header */
  inject_ip(&h, &s, msg, 4);
  CHECK_EQ(ctr(&h)->drop_icmp_malformed, 1);
  CHECK_EQ(drain(&h), 0);
  host_free(&h);
}

static void echo_can_be_switched_off(void) {
  struct host h;
  microtcp_config cfg;
  host_config(&cfg);
  cfg.icmp_echo = false;
  host_init(&h, &cfg);
  learn_peer(&h);
  inject_echo(&h, ME, 1, 1, 8);
  CHECK_EQ(drain(&h), 0);
  host_free(&h);
}

/* A 4000-byte echo arrives in fragments; the reply carries all of it, in
 * fragments of its own. */
static void large_echo_is_reassembled_and_answered_in_fragments(void) {
  struct host h;
  host_default(&h);
  learn_peer(&h);
  static uint8_t m[5000];
  for (size_t i = 0; i < 4000; i++) pl[i] = (uint8_t)(i * 11);
  size_t n = craft_icmp(m, WIRE_ICMP_ECHO_REQUEST, 0, 0x00010002u, pl, 4000);
  for (size_t off = 0; off < n; off += 1480) {
    struct ipspec s = ip_from_peer(WIRE_IP_PROTO_ICMP);
    s.id = 77;
    s.frag_off = (uint16_t)off;
    s.mf = off + 1480 < n;
    inject_ip(&h, &s, m + off, MIN(1480, n - off));
  }
  static uint8_t whole[5000], f[9100];
  size_t got = 0;
  int frames = 0, len;
  while ((len = pop(&h, f)) > 0) {
    wire_eth eth;
    wire_ipv4 ip;
    CHECK(parse_ip_frame(f, (size_t)len, &eth, &ip));
    CHECK_EQ(ip.frag_offset, got);
    memcpy(whole + got, ip.payload, ip.payload_len);
    got += ip.payload_len;
    frames++;
  }
  CHECK_EQ(frames, 3);
  CHECK_EQ(got, n);
  wire_icmp r;
  CHECK_EQ(wire_icmp_parse(whole, got, &r), 0);
  CHECK_EQ(r.type, WIRE_ICMP_ECHO_REPLY);
  CHECK_EQ(wire_csum(whole, got), 0);
  CHECK(memcmp(r.payload, pl, 4000) == 0);
  host_free(&h);
}

/* 10 per second, burst 3, computed from the µs clock. */
static void replies_are_rate_limited_by_a_token_bucket(void) {
  struct host h;
  microtcp_config cfg;
  host_config(&cfg);
  cfg.icmp_rate_per_s = 10;
  cfg.icmp_burst = 3;
  host_init(&h, &cfg);
  learn_peer(&h);
  for (uint16_t i = 0; i < 5; i++) inject_echo(&h, ME, 1, i, 8);
  CHECK_EQ(drain(&h), 3);
  CHECK_EQ(ctr(&h)->drop_icmp_ratelimit, 2);
  h.now = 99999; /* 0.99999 token later: still nothing */
  inject_echo(&h, ME, 1, 9, 8);
  CHECK_EQ(drain(&h), 0);
  h.now = 100000; /* (a refill in between is not lost) one token */
  inject_echo(&h, ME, 1, 10, 8);
  inject_echo(&h, ME, 1, 11, 8);
  CHECK_EQ(drain(&h), 1);
  h.now = 100000 + 3600000000ull; /* an hour idle: only the burst is saved */
  for (uint16_t i = 0; i < 5; i++) inject_echo(&h, ME, 1, i, 8);
  CHECK_EQ(drain(&h), 3);
  CHECK_EQ(ctr(&h)->drop_icmp_ratelimit, 2 + 1 + 1 + 2);
  /* errors share the bucket: a closed port gets no answer while it is empty */
  inject_udp(&h, 1000, 4444, "x", 1);
  CHECK_EQ(drain(&h), 0);
  CHECK_EQ(ctr(&h)->drop_udp_no_port, 1);
  CHECK_EQ(ctr(&h)->icmp_errors_out, 0);
  host_free(&h);
}

/* RFC 1122 3.2.2: never an error about an ICMP error, a broadcast, a
 * non-first fragment or a martian source. */
static void errors_are_not_sent_where_rfc1122_forbids(void) {
  struct host h;
  host_default(&h);
  learn_peer(&h);
  /* baseline: an ordinary datagram to a closed port is answered */
  inject_udp(&h, 1000, 4444, "x", 1);
  CHECK_EQ(ctr(&h)->icmp_errors_out, 1);
  CHECK_EQ(drain(&h), 1);
  /* build the offending packets and ask mtcp_icmp_send_error directly */
  static uint8_t pkt[200];
  wire_ipv4 orig;
  uint8_t inner[64];
  size_t n = craft_icmp(inner, WIRE_ICMP_DEST_UNREACH, 3, 0, pl, 28);
  struct ipspec s = ip_from_peer(WIRE_IP_PROTO_ICMP);
  size_t len = craft_ip(pkt, &s, inner, n) - 14;
  CHECK_EQ(wire_ipv4_parse(pkt + 14, len, &orig), 0);
  mtcp_icmp_send_error(h.st, WIRE_ICMP_DEST_UNREACH, WIRE_ICMP_UNREACH_PROTO, 0, &orig, pkt + 14, len);
  CHECK_EQ(drain(&h), 0); /* about an ICMP error */
  uint8_t u8[16];
  n = craft_udp(u8, PEER, ME, 1, 2, "z", 1);
  struct ipspec cases[3];
  cases[0] = ip_from_peer(WIRE_IP_PROTO_UDP);
  cases[0].dst = 0xffffffffu; /* broadcast */
  cases[1] = ip_from_peer(WIRE_IP_PROTO_UDP);
  cases[1].frag_off = 8; /* not the first fragment */
  cases[2] = ip_from_peer(WIRE_IP_PROTO_UDP);
  cases[2].src = 0; /* martian */
  for (int i = 0; i < 3; i++) {
    len = craft_ip(pkt, &cases[i], u8, n) - 14;
    CHECK_EQ(wire_ipv4_parse(pkt + 14, len, &orig), 0);
    mtcp_icmp_send_error(h.st, WIRE_ICMP_DEST_UNREACH, WIRE_ICMP_UNREACH_PORT, 0, &orig, pkt + 14, len);
    CHECK_EQ(drain(&h), 0);
  }
  CHECK_EQ(ctr(&h)->icmp_errors_out, 1);
  /* an error about an echo request (not an error) is allowed */
  n = craft_icmp(inner, WIRE_ICMP_ECHO_REQUEST, 0, 0, pl, 8);
  s = ip_from_peer(WIRE_IP_PROTO_ICMP);
  len = craft_ip(pkt, &s, inner, n) - 14;
  CHECK_EQ(wire_ipv4_parse(pkt + 14, len, &orig), 0);
  mtcp_icmp_send_error(h.st, WIRE_ICMP_DEST_UNREACH, WIRE_ICMP_UNREACH_PROTO, 0, &orig, pkt + 14, len);
  CHECK_EQ(drain(&h), 1);
  host_free(&h);
}

/* An ICMP error quoting a datagram we sent, from the router at 10.0.0.1. */
static void inject_error_about(struct host *h, uint8_t type, uint8_t code, uint32_t quoted_src,
                               uint16_t sport, uint16_t dport, uint32_t to) {
  uint8_t q[64], udp[16], m[128];
  size_t un = craft_udp(udp, quoted_src, PEER, sport, dport, "data", 4);
  struct ipspec qs = {quoted_src, PEER, WIRE_IP_PROTO_UDP, 64, 9, 0, false, NULL};
  size_t qn = craft_ip(q, &qs, udp, un) - 14;
  size_t n = craft_icmp(m, type, code, 0, q + 14, MIN(qn, 28));
  struct ipspec s = ip_from_peer(WIRE_IP_PROTO_ICMP);
  s.src = GW;
  s.dst = to;
  inject_ip(h, &s, m, n);
}

static void received_errors_reach_the_quoted_udp_socket(void) {
  struct host h;
  host_default(&h);
  int u = microtcp_udp_bind(h.st, 0, 5555);
  int other = microtcp_udp_bind(h.st, 0, 6666);
  inject_error_about(&h, WIRE_ICMP_DEST_UNREACH, WIRE_ICMP_UNREACH_PORT, ME, 5555, 53, ME);
  CHECK_EQ(ctr(&h)->icmp_errors_in, 1);
  CHECK(microtcp_poll(h.st, u) & MICROTCP_ERROR);
  CHECK(!(microtcp_poll(h.st, other) & MICROTCP_ERROR));
  CHECK_EQ(h.last_event_handle, u); /* the application is told */
  CHECK_EQ(microtcp_socket_error(h.st, u), MICROTCP_EPORTUNREACH);
  CHECK_EQ(microtcp_socket_error(h.st, u), 0); /* read clears it */
  inject_error_about(&h, WIRE_ICMP_TIME_EXCEEDED, 0, ME, 5555, 53, ME);
  CHECK_EQ(microtcp_socket_error(h.st, u), MICROTCP_EHOSTUNREACH);
  inject_error_about(&h, WIRE_ICMP_DEST_UNREACH, WIRE_ICMP_UNREACH_HOST, ME, 5555, 53, ME);
  CHECK_EQ(microtcp_socket_error(h.st, u), MICROTCP_EHOSTUNREACH);
  /* about someone else's datagram, or sent to a broadcast: ignored */
  inject_error_about(&h, WIRE_ICMP_DEST_UNREACH, WIRE_ICMP_UNREACH_PORT, PEER, 5555, 53, ME);
  inject_error_about(&h, WIRE_ICMP_DEST_UNREACH, WIRE_ICMP_UNREACH_PORT, ME, 5555, 53,
                     0xffffffffu);
  CHECK_EQ(microtcp_socket_error(h.st, u), 0);
  /* a quote too short to hold the UDP ports is malformed */
  uint8_t m[64];
  size_t n = craft_icmp(m, WIRE_ICMP_DEST_UNREACH, 3, 0, pl, 12);
  struct ipspec s = ip_from_peer(WIRE_IP_PROTO_ICMP);
  inject_ip(&h, &s, m, n);
  CHECK_EQ(ctr(&h)->drop_icmp_malformed, 1);
  CHECK_EQ(drain(&h), 0); /* errors are never answered */
  host_free(&h);
}

/* A connection from ME to PEER:80 with 100 bytes in flight; *frame holds
 * the data segment as sent (Ethernet + IPv4 + TCP), its length returned. */
static size_t connect_with_data_in_flight(struct host *h, int *handle, uint8_t *frame) {
  learn_peer(h);
  *handle = microtcp_tcp_connect(h->st, h->now, PEER, 80, 0);
  CHECK(*handle >= 0);
  uint8_t f[9100];
  wire_eth eth;
  wire_ipv4 ip;
  wire_tcp syn;
  CHECK(parse_ip_frame(f, (size_t)pop(h, f), &eth, &ip));
  CHECK_EQ(wire_tcp_parse(ip.payload, ip.payload_len, &syn), 0);
  wire_tcp sa;
  memset(&sa, 0, sizeof sa);
  sa.src_port = 80;
  sa.dst_port = syn.src_port;
  sa.seq = 5000;
  sa.ack = syn.seq + 1;
  sa.flags = WIRE_TCP_SYN | WIRE_TCP_ACK;
  sa.window = 65535;
  sa.opts.has_mss = true;
  sa.opts.mss = 1460;
  uint8_t seg[64];
  int n = wire_tcp_emit(PEER, ME, &sa, seg, sizeof seg);
  CHECK(n > 0);
  struct ipspec s = ip_from_peer(WIRE_IP_PROTO_TCP);
  inject_ip(h, &s, seg, (size_t)n);
  drain(h); /* the ACK */
  CHECK_EQ(microtcp_tcp_state(h->st, *handle), MICROTCP_ESTABLISHED);
  static const char data[100] = "x";
  CHECK_EQ(microtcp_tcp_send(h->st, h->now, *handle, data, sizeof data), (int)sizeof data);
  int fl = pop(h, frame);
  CHECK(fl > 54);
  return (size_t)fl;
}

/* A port unreachable from PEER quoting the IP header and 8 bytes of the
 * segment in frame; frag_off rewrites the quoted fragment offset, seq_delta
 * the quoted sequence number. */
static void inject_tcp_error(struct host *h, const uint8_t *frame, uint16_t frag_off,
                             uint32_t seq_delta) {
  uint8_t q[28], m[64];
  memcpy(q, frame + 14, 28);
  wire_put16(q + 6, (uint16_t)(frag_off / 8)); /* flags 0, offset in 8-byte units */
  wire_put32(q + 24, wire_get32(q + 24) + seq_delta);
  size_t n = craft_icmp(m, WIRE_ICMP_DEST_UNREACH, WIRE_ICMP_UNREACH_PORT, 0, q, sizeof q);
  struct ipspec s = ip_from_peer(WIRE_IP_PROTO_ICMP);
  inject_ip(h, &s, m, n);
}

static void received_errors_reach_the_quoted_tcp_connection(void) {
  struct host h;
  host_default(&h);
  int c;
  uint8_t seg[9100];
  connect_with_data_in_flight(&h, &c, seg);
  /* RFC 5927 4.1: a quoted sequence number not in flight is ignored */
  inject_tcp_error(&h, seg, 0, 1000);
  CHECK_EQ(microtcp_tcp_state(h.st, c), MICROTCP_ESTABLISHED);
  /* a quote of a non-first fragment holds no TCP header: ignored */
  inject_tcp_error(&h, seg, 1480, 0);
  CHECK_EQ(microtcp_tcp_state(h.st, c), MICROTCP_ESTABLISHED);
  CHECK_EQ(ctr(&h)->icmp_errors_in, 2);
  /* an in-flight quote: port unreachable on a synchronized connection is a
   * soft error only (RFC 5927 5.2; a forged one must not kill it) */
  inject_tcp_error(&h, seg, 0, 0);
  CHECK_EQ(microtcp_tcp_state(h.st, c), MICROTCP_ESTABLISHED);
  CHECK(!(microtcp_poll(h.st, c) & MICROTCP_ERROR));
  CHECK_EQ(microtcp_socket_error(h.st, c), 0);
  CHECK_EQ(ctr(&h)->tcp_icmp_hard_as_soft, 1);
  microtcp_tcp_close(h.st, h.now, c);
  host_free(&h);
}

/* In SYN-SENT a port unreachable quoting our SYN still aborts the connect
 * (RFC 1122 4.2.3.9, as Linux does). */
static void port_unreachable_aborts_syn_sent(void) {
  struct host h;
  host_default(&h);
  learn_peer(&h);
  int c = microtcp_tcp_connect(h.st, h.now, PEER, 80, 0);
  CHECK(c >= 0);
  uint8_t syn[9100];
  CHECK(pop(&h, syn) > 54);
  inject_tcp_error(&h, syn, 0, 0);
  CHECK(microtcp_poll(h.st, c) & MICROTCP_ERROR);
  CHECK_EQ(microtcp_socket_error(h.st, c), MICROTCP_ECONNREFUSED);
  CHECK_EQ(ctr(&h)->tcp_icmp_hard_as_soft, 0);
  microtcp_tcp_close(h.st, h.now, c);
  host_free(&h);
}

static void ping_sends_requests_and_queues_replies(void) {
  struct host h;
  microtcp_config cfg;
  host_config(&cfg);
  cfg.ping_queue = 2;
  host_init(&h, &cfg);
  learn_peer(&h);
  CHECK_EQ(microtcp_ping(h.st, 0, PEER, 42, 1, "abcdef", 6), 0);
  wire_ipv4 ip;
  wire_icmp m;
  CHECK(pop_icmp(&h, &ip, &m));
  CHECK_EQ(ip.dst, PEER);
  CHECK_EQ(m.type, WIRE_ICMP_ECHO_REQUEST);
  CHECK_EQ(m.rest, (42u << 16) | 1u);
  CHECK(m.payload_len == 6 && memcmp(m.payload, "abcdef", 6) == 0);
  CHECK_EQ(microtcp_ping(h.st, 0, ME, 1, 1, NULL, 0), MICROTCP_EINVAL);
  CHECK_EQ(microtcp_ping(h.st, 0, 0x08080808u, 1, 1, NULL, 0), MICROTCP_ENETUNREACH);
  static uint8_t huge[65508];
  CHECK_EQ(microtcp_ping(h.st, 0, PEER, 1, 1, huge, sizeof huge), MICROTCP_EMSGSIZE);
  /* three replies, queue of two: the third is dropped */
  static uint8_t msg[64];
  for (uint16_t seq = 1; seq <= 3; seq++) {
    h.now = 1000u * seq;
    size_t n = craft_icmp(msg, WIRE_ICMP_ECHO_REPLY, 0, (42u << 16) | seq, "abcdef", 6);
    struct ipspec s = ip_from_peer(WIRE_IP_PROTO_ICMP);
    inject_ip(&h, &s, msg, n);
  }
  microtcp_ping_reply r;
  CHECK_EQ(microtcp_ping_recv(h.st, &r), 6);
  CHECK_EQ(r.src, PEER);
  CHECK_EQ(r.id, 42);
  CHECK_EQ(r.seq, 1);
  CHECK_EQ(r.at, 1000);
  CHECK_EQ(r.payload_sum, 'a' + 'b' + 'c' + 'd' + 'e' + 'f');
  CHECK_EQ(microtcp_ping_recv(h.st, &r), 6);
  CHECK_EQ(r.seq, 2);
  CHECK_EQ(microtcp_ping_recv(h.st, &r), MICROTCP_EAGAIN);
  host_free(&h);
}

int main(void) {
  RUN(echo_request_is_answered_with_its_payload);
  RUN(echo_can_be_switched_off);
  RUN(large_echo_is_reassembled_and_answered_in_fragments);
  RUN(replies_are_rate_limited_by_a_token_bucket);
  RUN(errors_are_not_sent_where_rfc1122_forbids);
  RUN(received_errors_reach_the_quoted_udp_socket);
  RUN(received_errors_reach_the_quoted_tcp_connection);
  RUN(port_unreachable_aborts_syn_sent);
  RUN(ping_sends_requests_and_queues_replies);
  return check_report();
}
