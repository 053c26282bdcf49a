/*
 * microtcp wire layer: stateless parse and emit of each header.
 *
 * THE CONTRACT (every function here honours it):
 * - A parser takes (pointer, length) of untrusted bytes. It either returns 0
 *   and fills a struct whose every field and every pointer/length pair has been
 *   checked against the bytes actually present, or returns a negative
 *   MICROTCP_E* code (ETRUNCATED: fewer bytes than the header claims/needs;
 *   EMALFORMED: a field is impossible). After success, no access through the
 *   struct can read out of bounds. Parsers never loop more than len times.
 * - Parsers do not verify checksums; callers do (wire_*_checksum helpers), so
 *   fuzz harnesses can choose. Multi-byte fields are returned in host order.
 * - An emitter writes exactly the number of bytes it returns (or returns
 *   MICROTCP_ENOSPC and writes nothing when cap is too small). *_len()
 *   functions report that number in advance.
 * - One writer per header: wire_<proto>_emit (or, for headers with a payload,
 *   wire_<proto>_emit_header, which the full emit calls) is the only code in
 *   microtcp that writes that header; the stack itself builds its frames with
 *   these functions. A payload may already sit behind the header (the stack
 *   builds frames in place): emit then does not copy it.
 * - Field offsets are named once per protocol (WIRE_<PROTO>_F_*, after
 *   smoltcp's `mod field`); parse and emit use those names, nothing else
 *   spells an offset.
 * - No state, no allocation.
 */
#ifndef MICROTCP_WIRE_H
#define MICROTCP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- byte order helpers --------------------------------------------------- */
static inline uint16_t wire_get16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t wire_get32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void wire_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void wire_put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* ---- Internet checksum (RFC 1071) ---------------------------------------------
 * wire_csum_partial: one's-complement sum of len bytes added to `sum` (32-bit
 * accumulator, not folded; odd length handled as if padded with zero — only
 * the LAST chunk of a multi-chunk sum may have odd length).
 * wire_csum_fold: fold and complement → the checksum field value (host order).
 * wire_csum_pseudo: partial sum of the IPv4 pseudo header.
 * wire_csum_update16: RFC 1624 incremental update of a checksum field when one
 * 16-bit word changes from old_word to new_word. */
uint32_t wire_csum_partial(uint32_t sum, const void *data, size_t len);
uint16_t wire_csum_fold(uint32_t sum);
uint32_t wire_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t l4_len);
uint16_t wire_csum_update16(uint16_t csum, uint16_t old_word, uint16_t new_word);
static inline uint16_t wire_csum(const void *data, size_t len) {
  return wire_csum_fold(wire_csum_partial(0, data, len));
}

/* ---- Ethernet II ------------------------------------------------------------ */
#define WIRE_ETH_HLEN 14
#define WIRE_ETHERTYPE_IPV4 0x0800
#define WIRE_ETHERTYPE_ARP 0x0806
#define WIRE_ETH_F_DST 0      /* 6 bytes */
#define WIRE_ETH_F_SRC 6      /* 6 bytes */
#define WIRE_ETH_F_TYPE 12    /* 2 bytes */
typedef struct wire_eth {
  uint8_t dst[6], src[6];
  uint16_t ethertype;
  const uint8_t *payload;   /* points into the frame */
  size_t payload_len;
} wire_eth;
/* ETRUNCATED if len < 14; EMALFORMED if ethertype < 0x0600 (an IEEE 802.3
 * length field, not Ethernet II). payload_len is everything after the header
 * (may include link padding: upper layers trim by their own length fields). */
int wire_eth_parse(const uint8_t *buf, size_t len, wire_eth *out);
/* Writes the 14-byte header (payload fields of h are ignored). */
int wire_eth_emit(const wire_eth *h, uint8_t *buf, size_t cap);

/* ---- ARP (Ethernet/IPv4 only: htype 1, ptype 0x0800, hlen 6, plen 4) -------- */
#define WIRE_ARP_LEN 28
#define WIRE_ARP_REQUEST 1
#define WIRE_ARP_REPLY 2
#define WIRE_ARP_F_HTYPE 0    /* 2 bytes: 1 = Ethernet */
#define WIRE_ARP_F_PTYPE 2    /* 2 bytes: 0x0800 = IPv4 */
#define WIRE_ARP_F_HLEN 4
#define WIRE_ARP_F_PLEN 5
#define WIRE_ARP_F_OPER 6     /* 2 bytes */
#define WIRE_ARP_F_SHA 8      /* 6 bytes */
#define WIRE_ARP_F_SPA 14     /* 4 bytes */
#define WIRE_ARP_F_THA 18     /* 6 bytes */
#define WIRE_ARP_F_TPA 24     /* 4 bytes */
typedef struct wire_arp {
  uint16_t op;
  uint8_t sha[6];
  uint32_t spa;
  uint8_t tha[6];
  uint32_t tpa;
} wire_arp;
/* ETRUNCATED if len < 28 (longer is fine: Ethernet padding); EMALFORMED if
 * htype != 1, ptype != 0x0800, hlen != 6, plen != 4 or op is not 1 or 2. */
int wire_arp_parse(const uint8_t *buf, size_t len, wire_arp *out);
int wire_arp_emit(const wire_arp *a, uint8_t *buf, size_t cap);

/* ---- IPv4 --------------------------------------------------------------------- */
#define WIRE_IPV4_HLEN 20
#define WIRE_IP_PROTO_ICMP 1
#define WIRE_IP_PROTO_TCP 6
#define WIRE_IP_PROTO_UDP 17
#define WIRE_IPV4_DF 0x4000
#define WIRE_IPV4_MF 0x2000
#define WIRE_IPV4_RESERVED 0x8000
#define WIRE_IPV4_FRAG_MASK 0x1fff
#define WIRE_IPV4_F_VER_IHL 0  /* version (high nibble), header length in words (low) */
#define WIRE_IPV4_F_TOS 1
#define WIRE_IPV4_F_LEN 2      /* 2 bytes: total length */
#define WIRE_IPV4_F_ID 4       /* 2 bytes */
#define WIRE_IPV4_F_FRAG 6     /* 2 bytes: flags (3 bits) + fragment offset in 8-byte units */
#define WIRE_IPV4_F_TTL 8
#define WIRE_IPV4_F_PROTO 9
#define WIRE_IPV4_F_CHECKSUM 10 /* 2 bytes */
#define WIRE_IPV4_F_SRC 12     /* 4 bytes */
#define WIRE_IPV4_F_DST 16     /* 4 bytes */
#define WIRE_IPV4_F_OPTIONS 20 /* up to ihl*4 */
typedef struct wire_ipv4 {
  uint8_t ihl_bytes;        /* header length in bytes (20..60), options validated */
  uint8_t tos;
  uint16_t total_len;       /* as in header; <= len given to parse */
  uint16_t id;
  bool df, mf;
  uint16_t frag_offset;     /* in BYTES (field * 8) */
  uint8_t ttl, proto;
  uint16_t checksum;
  uint32_t src, dst;
  const uint8_t *payload;   /* header + ihl_bytes */
  size_t payload_len;       /* total_len - ihl_bytes (trailing link padding excluded) */
} wire_ipv4;
/* Validates version 4, ihl >= 5, ihl*4 <= total_len <= len, options well formed
 * (EOL/NOP single bytes, others with length >= 2 that fits), fragment offset +
 * payload <= 65535. Does NOT check the header checksum: see wire_ipv4_checksum_ok.
 * Bytes beyond total_len (Ethernet padding) are accepted and ignored.
 * Errors: ETRUNCATED if len < 20 or total_len > len; EMALFORMED for version
 * != 4, ihl < 5, ihl*4 > total_len, the reserved flag bit set (RFC 791 3.1
 * "must be zero"), bad options, or a fragment that would end past 65535. */
int wire_ipv4_parse(const uint8_t *buf, size_t len, wire_ipv4 *out);
/* The same checks for a header whose datagram is cut short (the quote in an
 * ICMP error, RFC 792): len may be less than total_len, not less than the
 * header (ETRUNCATED). payload_len = min(len, total_len) - ihl_bytes. */
int wire_ipv4_parse_truncated(const uint8_t *buf, size_t len, wire_ipv4 *out);
/* The option walk used by wire_ipv4_parse (and for ICMP-quoted headers): opt/len
 * are the bytes between the fixed header and ihl*4. 0 or EMALFORMED. */
int wire_ipv4_options_ok(const uint8_t *opt, size_t len);
bool wire_ipv4_checksum_ok(const uint8_t *hdr, size_t ihl_bytes);
/* Emits a 20-byte header (no options) with checksum computed. h->ihl_bytes,
 * checksum, payload are ignored; total_len must be set by the caller (the
 * payload, if any, is the caller's: typically already in place behind buf). */
int wire_ipv4_emit(const wire_ipv4 *h, uint8_t *buf, size_t cap);

/* ---- ICMP ---------------------------------------------------------------------- */
#define WIRE_ICMP_HLEN 8
#define WIRE_ICMP_ECHO_REPLY 0
#define WIRE_ICMP_DEST_UNREACH 3
#define WIRE_ICMP_ECHO_REQUEST 8
#define WIRE_ICMP_TIME_EXCEEDED 11
#define WIRE_ICMP_UNREACH_NET 0
#define WIRE_ICMP_UNREACH_HOST 1
#define WIRE_ICMP_UNREACH_PROTO 2
#define WIRE_ICMP_UNREACH_PORT 3
#define WIRE_ICMP_UNREACH_NEEDFRAG 4
#define WIRE_ICMP_F_TYPE 0
#define WIRE_ICMP_F_CODE 1
#define WIRE_ICMP_F_CHECKSUM 2 /* 2 bytes */
#define WIRE_ICMP_F_REST 4     /* 4 bytes: echo id, seq; or unused / next-hop MTU */
typedef struct wire_icmp {
  uint8_t type, code;
  uint16_t checksum;
  uint32_t rest;            /* bytes 4..7: echo id<<16|seq, or unused/next-hop MTU */
  const uint8_t *payload;   /* after the 8-byte header */
  size_t payload_len;
} wire_icmp;
int wire_icmp_parse(const uint8_t *buf, size_t len, wire_icmp *out);
/* Emits header + payload (copied from h->payload unless it is already at
 * buf + 8), computing the checksum. Returns 8 + payload_len. */
int wire_icmp_emit(const wire_icmp *h, uint8_t *buf, size_t cap);
/* Writes the 8-byte header only; the checksum covers it and the payload_len
 * bytes at h->payload, which are read where they are (behind buf, or the
 * caller's buffer when the datagram is fragmented). Returns 8. */
int wire_icmp_emit_header(const wire_icmp *h, uint8_t *buf, size_t cap);
/* For an ICMP error: parse the quoted IPv4 header (wire_ipv4_parse_truncated)
 * and at least 8 bytes of its payload (RFC 792). Returns 0 and fills quoted
 * (payload_len may be < the original) or an error: ETRUNCATED if fewer than
 * 20 bytes, or fewer than ihl*4 + 8, are quoted; EMALFORMED for anything
 * wire_ipv4_parse rejects as malformed, or a quoted total_len < ihl*4 + 8.
 * quoted->payload_len = min(quoted bytes, total_len - ihl*4). */
int wire_icmp_quoted(const wire_icmp *icmp, wire_ipv4 *quoted);
/* The first 8 bytes of the transport header of a quoted datagram (RFC 792
 * quotes at least those): ports for UDP and TCP, and the sequence number for
 * TCP. Only for a first fragment (frag_offset 0) with >= 8 payload bytes,
 * else EMALFORMED / ETRUNCATED. */
typedef struct wire_l4_quote {
  uint16_t src_port, dst_port;
  uint32_t tcp_seq;         /* bytes 4..7 (TCP sequence number; UDP: length, checksum) */
} wire_l4_quote;
int wire_l4_quoted(const wire_ipv4 *quoted, wire_l4_quote *out);

/* ---- UDP ----------------------------------------------------------------------- */
#define WIRE_UDP_HLEN 8
#define WIRE_UDP_F_SRC_PORT 0  /* 2 bytes each */
#define WIRE_UDP_F_DST_PORT 2
#define WIRE_UDP_F_LENGTH 4
#define WIRE_UDP_F_CHECKSUM 6
typedef struct wire_udp {
  uint16_t src_port, dst_port, length, checksum;
  const uint8_t *payload;
  size_t payload_len;       /* length - 8 */
} wire_udp;
/* Checks 8 <= length <= len. */
int wire_udp_parse(const uint8_t *buf, size_t len, wire_udp *out);
/* true if checksum is 0 (none) or correct over pseudo header. buf/len = the whole
 * UDP datagram as given to parse (len = u->length). */
bool wire_udp_checksum_ok(uint32_t src, uint32_t dst, const uint8_t *buf, size_t len);
/* Emits the header and the payload (copied unless already at buf + 8),
 * computing the checksum (0 → 0xffff). h->length is ignored (computed). */
int wire_udp_emit(uint32_t src, uint32_t dst, const wire_udp *h, uint8_t *buf, size_t cap);
/* Writes the 8-byte header only; the checksum covers the pseudo header, the
 * header and the payload_len bytes at h->payload, read where they are.
 * Returns 8, or ENOSPC (cap < 8, or 8 + payload_len > 65535). */
int wire_udp_emit_header(uint32_t src, uint32_t dst, const wire_udp *h, uint8_t *buf, size_t cap);

/* ---- TCP ----------------------------------------------------------------------- */
#define WIRE_TCP_HLEN 20
#define WIRE_TCP_FIN 0x01
#define WIRE_TCP_SYN 0x02
#define WIRE_TCP_RST 0x04
#define WIRE_TCP_PSH 0x08
#define WIRE_TCP_ACK 0x10
#define WIRE_TCP_URG 0x20
#define WIRE_TCP_ECE 0x40
#define WIRE_TCP_CWR 0x80
#define WIRE_TCP_MAX_SACK 4
#define WIRE_TCP_MAX_HLEN 60
#define WIRE_TCP_F_SRC_PORT 0  /* 2 bytes */
#define WIRE_TCP_F_DST_PORT 2  /* 2 bytes */
#define WIRE_TCP_F_SEQ 4       /* 4 bytes */
#define WIRE_TCP_F_ACK 8       /* 4 bytes */
#define WIRE_TCP_F_DATA_OFF 12 /* header length in words (high nibble) */
#define WIRE_TCP_F_FLAGS 13
#define WIRE_TCP_F_WINDOW 14   /* 2 bytes */
#define WIRE_TCP_F_CHECKSUM 16 /* 2 bytes */
#define WIRE_TCP_F_URGENT 18   /* 2 bytes */
#define WIRE_TCP_F_OPTIONS 20

#define WIRE_TCPOPT_EOL 0
#define WIRE_TCPOPT_NOP 1
#define WIRE_TCPOPT_MSS 2
#define WIRE_TCPOPT_WS 3
#define WIRE_TCPOPT_SACK_PERM 4
#define WIRE_TCPOPT_SACK 5
#define WIRE_TCPOPT_TS 8

typedef struct wire_tcp_opts {
  bool has_mss, has_ws, sack_permitted, has_ts;
  uint16_t mss;
  uint8_t ws;               /* raw shift as received (caller clamps to 14) */
  uint32_t ts_val, ts_ecr;
  uint8_t sack_count;       /* 0..4 blocks */
  struct { uint32_t left, right; } sack[WIRE_TCP_MAX_SACK];
} wire_tcp_opts;

typedef struct wire_tcp {
  uint16_t src_port, dst_port;
  uint32_t seq, ack;
  uint8_t data_off;         /* header length in bytes, 20..60, <= len */
  uint8_t flags;            /* WIRE_TCP_* (low 8 bits; NS bit ignored) */
  uint16_t window;          /* raw (unscaled) */
  uint16_t checksum;
  uint16_t urgent;
  wire_tcp_opts opts;       /* parsed options */
  const uint8_t *payload;
  size_t payload_len;
} wire_tcp;
/* Option walking (FreeRTOS+TCP style: explicit remaining count, each step is
 * "end", "advance n" or "drop"): EOL ends; NOP advances 1; any other kind needs
 * a length byte present and 2 <= length <= remaining, else EMALFORMED. Known
 * kinds with a wrong length (MSS != 4, WS != 3, SACK_PERM != 2, TS != 10,
 * SACK not 2+8n with n in 1..4) are EMALFORMED. Unknown kinds are skipped by
 * length. A duplicate option: the last one wins. */
int wire_tcp_parse(const uint8_t *buf, size_t len, wire_tcp *out);
int wire_tcp_parse_options(const uint8_t *opt, size_t len, wire_tcp_opts *out);
bool wire_tcp_checksum_ok(uint32_t src, uint32_t dst, const uint8_t *buf, size_t len);

/* Bytes the options of o take when emitted by wire_tcp_emit_options (padded to
 * a multiple of 4). Layout (Linux order, so packetdrill scripts match):
 *   SYN with TS:    MSS, SACK_PERM, TS, NOP, WS            (mss,sackOK,TS,nop,wscale)
 *                   (without SACK_PERM: MSS, NOP, NOP, TS, NOP, WS)
 *   SYN without TS: MSS, NOP, NOP, SACK_PERM, NOP, WS      (subset as enabled)
 *   other:          NOP, NOP, TS, then NOP, NOP, SACK blocks
 * "SYN" means has_mss || has_ws || sack_permitted (SACK blocks are then not
 * emitted). Which are emitted is given by the has_* / sack_permitted /
 * sack_count fields. SACK blocks beyond what fits in the 40-byte option space
 * are left out (at most 3 with TS, 4 without), so the result is always <= 40. */
size_t wire_tcp_options_len(const wire_tcp_opts *o);
int wire_tcp_emit_options(const wire_tcp_opts *o, uint8_t *buf, size_t cap);
/* Header length wire_tcp_emit_header writes for h: 20 + options. */
size_t wire_tcp_header_len(const wire_tcp *h);
/* Emits header + options (h->opts) + payload bytes (copied from payload unless
 * already at buf + wire_tcp_header_len(h); may be NULL when payload_len is 0),
 * and the checksum over the pseudo header. h->data_off and h->checksum are
 * ignored (computed). Returns total length. */
int wire_tcp_emit(uint32_t src, uint32_t dst, const wire_tcp *h, uint8_t *buf, size_t cap);
/* Writes header + options only (wire_tcp_header_len(h) bytes); the checksum
 * covers them and the payload_len bytes at h->payload, read where they are.
 * ENOSPC if cap is short or header + payload would exceed 65535 bytes. */
int wire_tcp_emit_header(uint32_t src, uint32_t dst, const wire_tcp *h, uint8_t *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
