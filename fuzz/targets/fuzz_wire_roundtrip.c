/* Parse → emit → parse must give the same fields (TCP header and options,
 * IPv4, UDP, ICMP, ARP, Ethernet). Emitters must write exactly what they report. */
#include "harness.h"

static void same_opts(const wire_tcp_opts *a, const wire_tcp_opts *b) {
  if (a->has_mss != b->has_mss || (a->has_mss && a->mss != b->mss)) fz_die("mss round trip");
  if (a->has_ws != b->has_ws || (a->has_ws && a->ws != b->ws)) fz_die("ws round trip");
  if (a->sack_permitted != b->sack_permitted) fz_die("sackOK round trip");
  if (a->has_ts != b->has_ts || (a->has_ts && (a->ts_val != b->ts_val || a->ts_ecr != b->ts_ecr)))
    fz_die("ts round trip");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t out[2048];
  wire_tcp t;
  if (wire_tcp_parse(data, size, &t) == 0 && t.payload_len <= 1400) {
    /* emit only what the emitter supports: drop SACK blocks beyond the room */
    size_t ol = wire_tcp_options_len(&t.opts);
    if (ol <= 40) {
      int n = wire_tcp_emit(1, 2, &t, out, sizeof out);
      if (n < 0) fz_die("tcp emit failed");
      if ((size_t)n != WIRE_TCP_HLEN + wire_tcp_options_len(&t.opts) + t.payload_len)
        fz_die("tcp emit length");
      wire_tcp r;
      if (wire_tcp_parse(out, (size_t)n, &r) != 0) fz_die("emitted tcp does not parse");
      if (r.seq != t.seq || r.ack != t.ack || r.flags != t.flags || r.window != t.window ||
          r.payload_len != t.payload_len || memcmp(r.payload, t.payload, t.payload_len) != 0)
        fz_die("tcp header round trip");
      same_opts(&t.opts, &r.opts);
      if (!wire_tcp_checksum_ok(1, 2, out, (size_t)n)) fz_die("tcp emit checksum");
      uint8_t tiny[8];
      if (wire_tcp_emit(1, 2, &t, tiny, sizeof tiny) != MICROTCP_ENOSPC) fz_die("tcp emit into a tiny buffer");
    }
  }
  wire_ipv4 ip;
  if (wire_ipv4_parse(data, size, &ip) == 0) {
    if (wire_ipv4_emit(&ip, out, sizeof out) != 20) fz_die("ipv4 emit");
    wire_ipv4 r;
    memcpy(out + 20, ip.payload, ip.payload_len < 2000 ? ip.payload_len : 0);
    wire_put16(out + 2, (uint16_t)(20 + (ip.payload_len < 2000 ? ip.payload_len : 0)));
    if (ip.payload_len < 2000) {
      out[10] = out[11] = 0;
      wire_put16(out + 10, wire_csum(out, 20));
      if (wire_ipv4_parse(out, 20 + ip.payload_len, &r) != 0) fz_die("emitted ipv4 does not parse");
      if (r.src != ip.src || r.dst != ip.dst || r.id != ip.id || r.proto != ip.proto ||
          r.frag_offset != ip.frag_offset || r.mf != ip.mf || r.df != ip.df || r.ttl != ip.ttl)
        fz_die("ipv4 round trip");
      if (!wire_ipv4_checksum_ok(out, 20)) fz_die("ipv4 checksum");
    }
  }
  wire_udp u;
  if (wire_udp_parse(data, size, &u) == 0 && u.payload_len < 1800) {
    int n = wire_udp_emit(1, 2, &u, out, sizeof out);
    wire_udp r;
    if (n < 0 || wire_udp_parse(out, (size_t)n, &r) != 0 || r.src_port != u.src_port ||
        r.dst_port != u.dst_port || r.payload_len != u.payload_len ||
        !wire_udp_checksum_ok(1, 2, out, (size_t)n))
      fz_die("udp round trip");
  }
  wire_icmp ic;
  if (wire_icmp_parse(data, size, &ic) == 0 && ic.payload_len < 1800) {
    int n = wire_icmp_emit(&ic, out, sizeof out);
    wire_icmp r;
    if (n < 0 || wire_icmp_parse(out, (size_t)n, &r) != 0 || r.type != ic.type ||
        r.code != ic.code || r.rest != ic.rest || wire_csum(out, (size_t)n) != 0)
      fz_die("icmp round trip");
  }
  wire_arp a;
  if (wire_arp_parse(data, size, &a) == 0) {
    wire_arp r;
    if (wire_arp_emit(&a, out, sizeof out) != 28 || wire_arp_parse(out, 28, &r) != 0 ||
        r.spa != a.spa || r.tpa != a.tpa || r.op != a.op)
      fz_die("arp round trip");
  }
  return 0;
}
