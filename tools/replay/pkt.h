/*
 * One frame decoded with the wire layer, printed as a one-line summary
 * (tcpdump/tshark style) and turned into normalised fields for comparison.
 *
 * Normalisation (what "the same frame" means in check mode):
 *   - TCP seq is relative to the sender's ISN, ack and SACK blocks to the
 *     receiver's ISN; TS val relative to the sender's first TS val and TS ecr
 *     relative to the receiver's first TS val (struct pkt_rel gives the bases).
 *   - The IPv4 ID and every checksum are not compared (checksums of the
 *     stack's own frames are verified separately: see pkt_checksums_ok).
 *   - Payloads compare by length and content (a 64-bit FNV-1a digest).
 * Field names (for the sidecar's `ignore`): eth.src eth.dst eth.type arp.op
 * arp.sha arp.spa arp.tha arp.tpa ip.src ip.dst ip.tos ip.ttl ip.proto ip.df
 * ip.mf ip.frag ip.len icmp.type icmp.code icmp.rest icmp.data udp.sport
 * udp.dport udp.data tcp.sport tcp.dport tcp.seq tcp.ack tcp.flags tcp.win
 * tcp.urp tcp.options tcp.tsval tcp.tsecr tcp.sack tcp.data, and `kind`
 * (the frame's protocol).
 */
#ifndef REPLAY_PKT_H
#define REPLAY_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "microtcp/wire.h"

enum pkt_layer {
  PKT_BAD_ETH = 0, /* not even an Ethernet header */
  PKT_OTHER,       /* an ethertype the stack does not speak (IPv6, ...) */
  PKT_BAD_ARP,
  PKT_ARP,
  PKT_BAD_IP,
  PKT_IP,     /* IPv4 fragment (offset > 0) or other protocol */
  PKT_BAD_L4, /* IPv4 fine, transport header malformed */
  PKT_ICMP,
  PKT_UDP,
  PKT_TCP,
};

struct pkt {
  enum pkt_layer layer;
  const uint8_t *raw; /* the frame as given */
  size_t len;
  wire_eth eth;
  wire_arp arp;
  wire_ipv4 ip;
  wire_icmp icmp;
  wire_udp udp;
  wire_tcp tcp;
  bool big;          /* an IPv4 packet > 65535 bytes (BIG TCP: total length 0) */
  const uint8_t *l4; /* transport header (in the frame) */
  size_t l4_len;
};

/* Decode as far as the frame allows; always fills p->layer. */
void pkt_decode(const uint8_t *frame, size_t len, struct pkt *p);

/* Bases for relative TCP numbers (all 0 and valid=false: absolute). */
struct pkt_rel {
  bool valid;
  uint32_t seq, ack;     /* sender's ISN, receiver's ISN */
  uint32_t tsval, tsecr; /* sender's first TS val, receiver's first TS val */
  bool ts_valid;
};

/* One-line summary, e.g.
 * "10.0.0.2:80 > 10.0.0.1:40000 [S.] seq 0 ack 1 win 65535 <mss 1460,sackOK,TS val 0 ecr
 * 0,nop,wscale 7> len 0" */
void pkt_summary(const struct pkt *p, const struct pkt_rel *rel, char *buf, size_t cap);

#define PKT_MAX_FIELDS 48
struct pkt_field {
  const char *name;
  char val[120];
  bool is_ts; /* compared numerically with the TS tolerance */
  int64_t num;
};
/* Normalised fields of p; returns how many. */
size_t pkt_fields(const struct pkt *p, const struct pkt_rel *rel, struct pkt_field *out);

/* Are the IPv4 header and the ICMP/UDP/TCP checksums of p correct? (For the
 * stack's own output, which must always be.) */
bool pkt_checksums_ok(const struct pkt *p);

#endif
