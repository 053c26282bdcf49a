/*
 * Rewriting options for captures recorded elsewhere (applied to the frames
 * injected into the stack, after the sequence translation of conn.h):
 *
 *   --accept-macs    a unicast frame to the host whose Ethernet destination is
 *                    not the stack's MAC (an HSRP/VRRP virtual gateway MAC,
 *                    anonymised or re-addressed MACs) gets the stack's MAC;
 *   --fix-checksums  the IPv4 header checksum and the TCP/UDP/ICMP checksum
 *                    are recomputed (offloaded checksums: a capture taken on
 *                    the sending host shows the value the NIC had yet to
 *                    fill in). Frames cut by the snapshot length and
 *                    fragments are left alone (their checksum cannot be
 *                    computed).
 *   --segment-gso    a TCP frame longer than the MTU (a TSO/GSO/GRO or BIG TCP
 *                    super-frame, as the capturing host's kernel handed it to
 *                    tcpdump) is injected as the MSS-sized segments a NIC
 *                    would have sent: seq advanced per segment, IP ID + k,
 *                    FIN/PSH on the last only, CWR on the first only, every
 *                    checksum computed;
 *   --as A.B.C.D:PORT  the host is the endpoint with that address AND port:
 *                    for captures where both ends share an address (loopback,
 *                    two programs on one machine) the frames of H's
 *                    conversations are re-addressed before anything else:
 *                    H becomes REWRITE_SPLIT_HOST, every peer with H's own
 *                    address REWRITE_SPLIT_PEER (other peers keep theirs),
 *                    their MACs derived from those addresses
 *                    (capture_synth_mac); checksums are updated
 *                    incrementally, so a wrong one stays wrong.
 */
#ifndef REPLAY_REWRITE_H
#define REPLAY_REWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REWRITE_SPLIT_HOST 0x0a7f0002u /* 10.127.0.2 */
#define REWRITE_SPLIT_PEER 0x0a7f0001u /* 10.127.0.1 */

/* Returns true if the frame changed. */
bool rewrite_dst_mac(uint8_t *frame, size_t len, const uint8_t mac[6]);
bool rewrite_fix_checksums(uint8_t *frame, size_t len);
/* --segment-gso: how many segments of at most mtu IP bytes the frame
 * splits into (0: not an oversize IPv4 TCP frame), and segment k written to
 * out (room for mtu + 14 bytes); returns its length. */
size_t rewrite_gso_count(const uint8_t *frame, size_t len, uint16_t mtu);
size_t rewrite_gso_segment(const uint8_t *frame, size_t len, uint16_t mtu, size_t k, uint8_t *out);
/* --as IP:PORT (see above); true if the frame belongs to H and was re-addressed. */
bool rewrite_split(uint8_t *frame, size_t len, uint32_t ip, uint16_t port);
/* The same over a whole capture in memory; returns the frames re-addressed. */
struct capture_mem;
size_t rewrite_split_capture(struct capture_mem *m, uint32_t ip, uint16_t port);

#endif
