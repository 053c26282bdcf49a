/*
 * Parse → emit → parse checks for every wire header, shared by the targets.
 *
 * Each fz_rt_<layer>() takes a header that wire_<layer>_parse accepted and
 * checks the wire contract (core/include/microtcp/wire.h) on it:
 *  - emitting the parsed fields and parsing the result gives the same fields
 *    (and, where the emitter can represent everything, the same bytes);
 *  - the emitter writes exactly the length it returns (canary bytes after it
 *    stay untouched) and the matching *_len() predicts it;
 *  - with one byte too little room it returns MICROTCP_ENOSPC and writes
 *    nothing;
 *  - emitted checksums verify.
 * A violation aborts (fz_die), which libFuzzer and the replay driver report.
 */
#ifndef MICROTCP_FUZZ_ROUNDTRIP_H
#define MICROTCP_FUZZ_ROUNDTRIP_H
#include "harness.h"

#define FZ_RT_CAP 66000
#define FZ_CANARY 0xa5

/* Scratch buffers live in the target's static storage (fuzz code may use
 * globals; the core may not). 64 KiB is too much for the stack under ASan. */
static uint8_t fz_rt_buf[FZ_RT_CAP + 64];

static inline void fz_rt_fill(size_t n) { memset(fz_rt_buf, FZ_CANARY, n + 64 < sizeof fz_rt_buf ? n + 64 : sizeof fz_rt_buf); }

static inline void fz_rt_canary(size_t from, const char *what) {
  for (size_t i = from; i < from + 16 && i < sizeof fz_rt_buf; i++)
    if (fz_rt_buf[i] != FZ_CANARY) fz_die(what);
}

/* An emitter given cap = need - 1 must fail with ENOSPC and write nothing. */
#define FZ_RT_ENOSPC(call_with_cap, need, what)                                  \
  do {                                                                           \
    if ((need) > 0) {                                                            \
      fz_rt_fill(need);                                                          \
      size_t cap_ = (size_t)(need) - 1;                                          \
      int r_ = call_with_cap;                                                    \
      if (r_ != MICROTCP_ENOSPC) fz_die(what ": short buffer not ENOSPC");       \
      fz_rt_canary(0, what ": wrote into a short buffer");                       \
      (void)cap_;                                                                \
    }                                                                            \
  } while (0)

static inline void fz_rt_eth(const wire_eth *e, const uint8_t *raw) {
  fz_rt_fill(WIRE_ETH_HLEN);
  if (wire_eth_emit(e, fz_rt_buf, WIRE_ETH_HLEN) != WIRE_ETH_HLEN) fz_die("eth emit length");
  fz_rt_canary(WIRE_ETH_HLEN, "eth emit wrote past its length");
  if (memcmp(fz_rt_buf, raw, WIRE_ETH_HLEN) != 0) fz_die("eth round trip bytes");
  FZ_RT_ENOSPC(wire_eth_emit(e, fz_rt_buf, cap_), WIRE_ETH_HLEN, "eth");
}

static inline void fz_rt_arp(const wire_arp *a, const uint8_t *raw) {
  fz_rt_fill(WIRE_ARP_LEN);
  if (wire_arp_emit(a, fz_rt_buf, WIRE_ARP_LEN) != WIRE_ARP_LEN) fz_die("arp emit length");
  fz_rt_canary(WIRE_ARP_LEN, "arp emit wrote past its length");
  /* parse accepted the fixed fields, so the emitter can reproduce every byte */
  if (memcmp(fz_rt_buf, raw, WIRE_ARP_LEN) != 0) fz_die("arp round trip bytes");
  wire_arp r;
  if (wire_arp_parse(fz_rt_buf, WIRE_ARP_LEN, &r) != 0 || memcmp(&r.sha, a->sha, 6) ||
      memcmp(&r.tha, a->tha, 6) || r.spa != a->spa || r.tpa != a->tpa || r.op != a->op)
    fz_die("arp round trip fields");
  FZ_RT_ENOSPC(wire_arp_emit(a, fz_rt_buf, cap_), WIRE_ARP_LEN, "arp");
}

/* The emitter writes a 20-byte header without options: the round trip keeps
 * every field but ihl, and total_len is rebased on a 20-byte header. */
static inline void fz_rt_ipv4(const wire_ipv4 *ip, const uint8_t *raw) {
  wire_ipv4 h = *ip;
  h.total_len = (uint16_t)(WIRE_IPV4_HLEN + ip->payload_len);
  fz_rt_fill(WIRE_IPV4_HLEN + ip->payload_len);
  if (wire_ipv4_emit(&h, fz_rt_buf, WIRE_IPV4_HLEN) != WIRE_IPV4_HLEN) fz_die("ipv4 emit length");
  fz_rt_canary(WIRE_IPV4_HLEN, "ipv4 emit wrote past its length");
  if (!wire_ipv4_checksum_ok(fz_rt_buf, WIRE_IPV4_HLEN)) fz_die("ipv4 emit checksum");
  if (ip->ihl_bytes == WIRE_IPV4_HLEN && memcmp(fz_rt_buf + 12, raw + 12, 8) != 0)
    fz_die("ipv4 round trip addresses");
  if (ip->ihl_bytes == WIRE_IPV4_HLEN && memcmp(fz_rt_buf, raw, 10) != 0)
    fz_die("ipv4 round trip bytes 0..9");
  memcpy(fz_rt_buf + WIRE_IPV4_HLEN, ip->payload, ip->payload_len);
  wire_ipv4 r;
  if (wire_ipv4_parse(fz_rt_buf, WIRE_IPV4_HLEN + ip->payload_len, &r) != 0)
    fz_die("emitted ipv4 does not parse");
  if (r.ihl_bytes != WIRE_IPV4_HLEN || r.tos != ip->tos || r.id != ip->id || r.df != ip->df ||
      r.mf != ip->mf || r.frag_offset != ip->frag_offset || r.ttl != ip->ttl ||
      r.proto != ip->proto || r.src != ip->src || r.dst != ip->dst ||
      r.payload_len != ip->payload_len || memcmp(r.payload, ip->payload, ip->payload_len) != 0)
    fz_die("ipv4 round trip fields");
  FZ_RT_ENOSPC(wire_ipv4_emit(&h, fz_rt_buf, cap_), WIRE_IPV4_HLEN, "ipv4");
}

static inline void fz_rt_icmp(const wire_icmp *ic, const uint8_t *raw) {
  size_t need = WIRE_ICMP_HLEN + ic->payload_len;
  if (need > FZ_RT_CAP) return;
  fz_rt_fill(need);
  if (wire_icmp_emit(ic, fz_rt_buf, need) != (int)need) fz_die("icmp emit length");
  fz_rt_canary(need, "icmp emit wrote past its length");
  if (wire_csum(fz_rt_buf, need) != 0) fz_die("icmp emit checksum");
  /* everything but the checksum is reproduced byte for byte */
  if (memcmp(fz_rt_buf, raw, 2) != 0 || memcmp(fz_rt_buf + 4, raw + 4, need - 4) != 0)
    fz_die("icmp round trip bytes");
  wire_icmp r;
  if (wire_icmp_parse(fz_rt_buf, need, &r) != 0 || r.type != ic->type || r.code != ic->code ||
      r.rest != ic->rest || r.payload_len != ic->payload_len)
    fz_die("icmp round trip fields");
  FZ_RT_ENOSPC(wire_icmp_emit(ic, fz_rt_buf, cap_), need, "icmp");
  /* quoted datagrams: whatever is accepted must lie inside the ICMP payload */
  wire_ipv4 q;
  if (wire_icmp_quoted(ic, &q) == 0) {
    if (q.ihl_bytes < WIRE_IPV4_HLEN || q.payload < ic->payload ||
        q.payload + q.payload_len > ic->payload + ic->payload_len || q.payload_len < 8)
      fz_die("icmp quoted datagram outside the payload");
  }
}

static inline void fz_rt_udp(const wire_udp *u, uint32_t src, uint32_t dst) {
  size_t need = WIRE_UDP_HLEN + u->payload_len;
  fz_rt_fill(need);
  if (wire_udp_emit(src, dst, u, fz_rt_buf, need) != (int)need) fz_die("udp emit length");
  fz_rt_canary(need, "udp emit wrote past its length");
  if (wire_get16(fz_rt_buf + 6) == 0) fz_die("udp emit wrote checksum 0 (means none)");
  if (!wire_udp_checksum_ok(src, dst, fz_rt_buf, need)) fz_die("udp emit checksum");
  wire_udp r;
  if (wire_udp_parse(fz_rt_buf, need, &r) != 0 || r.src_port != u->src_port ||
      r.dst_port != u->dst_port || r.length != need || r.payload_len != u->payload_len ||
      memcmp(r.payload, u->payload, u->payload_len) != 0)
    fz_die("udp round trip fields");
  FZ_RT_ENOSPC(wire_udp_emit(src, dst, u, fz_rt_buf, cap_), need, "udp");
}

static inline void fz_same_tcp_opts(const wire_tcp_opts *in, const wire_tcp_opts *out) {
  if (in->has_mss != out->has_mss || (in->has_mss && in->mss != out->mss)) fz_die("tcp mss round trip");
  if (in->has_ws != out->has_ws || (in->has_ws && in->ws != out->ws)) fz_die("tcp ws round trip");
  if (in->sack_permitted != out->sack_permitted) fz_die("tcp sackOK round trip");
  if (in->has_ts != out->has_ts ||
      (in->has_ts && (in->ts_val != out->ts_val || in->ts_ecr != out->ts_ecr)))
    fz_die("tcp ts round trip");
  /* SYN layout carries no SACK blocks; otherwise the first blocks that fit
   * in 40 bytes (3 next to timestamps, else 4) come back in order. */
  bool syn = in->has_mss || in->has_ws || in->sack_permitted;
  size_t room = in->has_ts ? 3 : 4;
  size_t want = syn ? 0 : (in->sack_count < room ? in->sack_count : room);
  if (out->sack_count != want) fz_die("tcp sack block count round trip");
  for (size_t i = 0; i < want; i++)
    if (out->sack[i].left != in->sack[i].left || out->sack[i].right != in->sack[i].right)
      fz_die("tcp sack block round trip");
}

static inline void fz_rt_tcp(const wire_tcp *t, uint32_t src, uint32_t dst) {
  size_t ol = wire_tcp_options_len(&t->opts);
  if (ol > 40 || ol % 4) fz_die("tcp options length not a multiple of 4 within 40");
  size_t need = WIRE_TCP_HLEN + ol + t->payload_len;
  if (need > 65535u) return;
  fz_rt_fill(need);
  int n = wire_tcp_emit(src, dst, t, fz_rt_buf, need);
  if (n != (int)need) fz_die("tcp emit length");
  fz_rt_canary(need, "tcp emit wrote past its length");
  if (!wire_tcp_checksum_ok(src, dst, fz_rt_buf, need)) fz_die("tcp emit checksum");
  wire_tcp r;
  if (wire_tcp_parse(fz_rt_buf, need, &r) != 0) fz_die("emitted tcp does not parse");
  if (r.src_port != t->src_port || r.dst_port != t->dst_port || r.seq != t->seq ||
      r.ack != t->ack || r.flags != t->flags || r.window != t->window ||
      r.urgent != t->urgent || r.data_off != WIRE_TCP_HLEN + ol ||
      r.payload_len != t->payload_len || memcmp(r.payload, t->payload, t->payload_len) != 0)
    fz_die("tcp header round trip");
  fz_same_tcp_opts(&t->opts, &r.opts);
  /* a second round trip is the identity, byte for byte */
  static uint8_t again[FZ_RT_CAP];
  if (wire_tcp_emit(src, dst, &r, again, sizeof again) != (int)need ||
      memcmp(again, fz_rt_buf, need) != 0)
    fz_die("tcp emit not idempotent");
  FZ_RT_ENOSPC(wire_tcp_emit(src, dst, t, fz_rt_buf, cap_), need, "tcp");
  fz_rt_fill(ol);
  if (wire_tcp_emit_options(&t->opts, fz_rt_buf, ol) != (int)ol) fz_die("tcp options emit length");
  fz_rt_canary(ol, "tcp options emit wrote past its length");
  FZ_RT_ENOSPC(wire_tcp_emit_options(&t->opts, fz_rt_buf, cap_), ol, "tcp options");
}
#endif
