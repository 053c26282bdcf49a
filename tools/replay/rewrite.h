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
 */
#ifndef REPLAY_REWRITE_H
#define REPLAY_REWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Returns true if the frame changed. */
bool rewrite_dst_mac(uint8_t *frame, size_t len, const uint8_t mac[6]);
bool rewrite_fix_checksums(uint8_t *frame, size_t len);

#endif
