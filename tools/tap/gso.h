/*
 * TCP segment coalescing for a TAP device opened with IFF_VNET_HDR
 * (microtcp-tap --gso). The stack emits MSS-sized frames; consecutive
 * segments of one TCP flow that differ only in sequence number (and the
 * last one's PSH and length) are joined into one super-frame of up to 64 KiB
 * with a virtio_net_hdr asking for TCPv4 segmentation (gso_size = the MSS)
 * and a partial checksum. Linux then takes the whole batch in one write()
 * and one pass through its receive path, as if a NIC had done GRO, and
 * segments it only if it forwards it. On the wire (and in a pcap of the
 * stack) the segments stay exactly what the stack produced.
 *
 * Anything that is not a plain in-order IPv4/TCP data segment (ARP, ICMP,
 * UDP, fragments, IP options, SYN/FIN/RST/URG, a change of ACK, window or
 * TCP options) is written on its own with an empty header, in order.
 *
 * Pure ACKs are thinned as a receiver's GRO or an ACK-compressing link would:
 * an ACK still waiting to be written is replaced by a later pure ACK of the
 * same flow whose acknowledgment number is higher (it says everything the
 * first said). Duplicate ACKs (same number) are all kept: they signal loss.
 *
 * Frames must be at most GSO_FRAME_MAX bytes (the stack's MTU frames are).
 */
#ifndef MICROTCP_TAP_GSO_H
#define MICROTCP_TAP_GSO_H

#include <stddef.h>
#include <stdint.h>

#define GSO_VNET_HDR_LEN 10 /* sizeof(struct virtio_net_hdr): the tun default */
#define GSO_FRAME_MAX 2048
#define GSO_MAX_BYTES 65535 /* IPv4 total length of one super-frame */

/* Writes one buffer (virtio_net_hdr + frame) to the device; returns 0 or -1. */
typedef int (*gso_write_fn)(void *ctx, const uint8_t *buf, size_t len);

struct gso {
  uint8_t buf[GSO_VNET_HDR_LEN + 14 + GSO_MAX_BYTES];
  size_t len;       /* bytes in buf (header + frame), 0 if empty */
  size_t hdr_len;   /* Ethernet + IPv4 + TCP header bytes of the batch */
  uint32_t next_seq; /* sequence number the next segment must start with */
  uint16_t mss;     /* payload of the first segment (= gso_size) */
  unsigned segs;    /* segments in the batch */
  int last_short;   /* the last segment was shorter than mss or had PSH */
  uint8_t ack[GSO_FRAME_MAX]; /* a pure ACK held back (see above) */
  size_t ack_len;               /* 0 if none */
  uint64_t writes, frames, batched, thinned; /* write() calls, frames in, joined, ACKs replaced */
  int plain; /* gso_init_plain: no header, no joining; ACK thinning only */
};

void gso_init(struct gso *g);
/* The plain path (a device without IFF_VNET_HDR): every frame is written as
 * it is, on its own, and only the pure-ACK thinning above applies (it needs
 * no offload: the frames are complete). */
void gso_init_plain(struct gso *g);
/* Queue one frame; may write the pending batch first. Returns 0, or -1 if a
 * write failed (the frame or batch is dropped, like a congested wire). */
int gso_add(struct gso *g, const uint8_t *frame, size_t len, gso_write_fn w, void *ctx);
/* Write the pending batch, if any. */
int gso_flush(struct gso *g, gso_write_fn w, void *ctx);

#endif

/* The other direction, with offloads negotiated (gso_enable_offloads): Linux
 * may hand over frames with a partial checksum and TCPv4 super-frames of up
 * to 64 KiB. gso_split completes the checksum and cuts a super-frame into
 * gso_size segments (sequence numbers, IP IDs, lengths, FIN/PSH on the last
 * and CWR on the first only, full checksums), delivering each frame in
 * order; a plain frame is delivered as it is. in/len: what read() returned,
 * header included. The segments are made in place (in is overwritten: each
 * segment's headers go just before its payload), so deliver must be done
 * with a frame when it returns (copy it to keep it). Returns the number of
 * frames delivered, -1 if the header or frame is malformed (dropped, in
 * untouched). */
typedef void (*gso_deliver_fn)(void *ctx, const uint8_t *frame, size_t len);
int gso_split(uint8_t *in, size_t len, gso_deliver_fn deliver, void *ctx);
/* TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4) on an IFF_VNET_HDR device: 0 or -1. */
int gso_enable_offloads(int fd);
