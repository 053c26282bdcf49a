/*
 * Reading captures (pcap and pcapng, through libpcap) as Ethernet frames.
 *
 * Link types accepted and how each becomes an Ethernet II frame:
 *   EN10MB (Ethernet)      as recorded; every VLAN tag (802.1Q 0x8100, 802.1ad
 *                          0x88a8, the pre-standard QinQ 0x9100) in front of
 *                          the ethertype is removed: the stack has no VLANs.
 *   RAW / IPV4             an Ethernet header is synthesised: ethertype from the
 *                          IP version nibble, MACs derived from the IPv4
 *                          addresses (see capture_synth_mac).
 *   NULL / LOOP            (BSD/macOS loopback) the 4-byte address family is
 *                          replaced by a synthesised Ethernet header as for RAW.
 *   LINUX_SLL / SLL2       the cooked header is replaced by a synthesised
 *                          Ethernet header with the cooked protocol field as
 *                          ethertype and MACs derived from the IPv4 addresses
 *                          (the cooked header holds the sender's address only,
 *                          so deriving both ends from IPs keeps them consistent).
 * Frames of other link types make capture_open fail with a message.
 *
 * Ownership: a capture_reader owns its pcap handle and its frame buffer; the
 * frame returned by capture_next stays valid until the next call. No frame is
 * cut: the buffer grows to the largest frame (a pcap record is at most the
 * file's snaplen, which libpcap bounds at 256 KiB), so every copy is bounded
 * by the frame's own length. Frames too long for the stack (BIG TCP / GSO
 * super-frames beyond MTU + 14) are the consumers' business: they count them
 * and do not inject them (see replay.h, REPLAY_FRAME_MAX).
 *
 * Truncation: `wire_len` is the frame's length on the wire (the record's
 * original length, adjusted like the bytes for the link header); a frame
 * whose bytes are fewer was cut by the snapshot length ("snaplen-cut").
 */
#ifndef REPLAY_CAPTURE_H
#define REPLAY_CAPTURE_H

#include <pcap/pcap.h>
#include <stddef.h>
#include <stdint.h>

struct capture_reader {
  pcap_t *pcap;
  int linktype; /* DLT_* of the file */
  uint8_t *buf; /* rebuilt frames (link header replaced, VLAN tags removed) */
  size_t buf_cap;
  uint64_t first_us; /* timestamp of the first frame (absolute, µs) */
  int have_first;
  uint64_t frames;     /* frames returned so far */
  uint64_t skipped;    /* frames too short for their link header */
  uint64_t truncated;  /* frames returned with fewer bytes than on the wire */
  uint64_t vlan_tags;  /* VLAN tags removed */
  size_t wire_len;     /* the last frame's length on the wire (>= its len) */
};

/* Open path; 0, or -1 with a one-line reason in err. */
int capture_open(struct capture_reader *r, const char *path, char *err, size_t errlen);
/* Next frame as Ethernet: 1 and frame, len, t_us (µs since the first frame),
 * 0 at the end, -1 on a read error (reason in err). */
int capture_next(struct capture_reader *r, const uint8_t **frame, size_t *len, uint64_t *t_us,
                 char *err, size_t errlen);
void capture_close(struct capture_reader *r);
/* The MAC synthesised for an IPv4 address: 02:00:a:b:c:d (locally administered). */
void capture_synth_mac(uint32_t ip, uint8_t mac[6]);
const char *capture_linktype_name(int linktype);

/* ---- a whole capture in memory (check/outcome/write modes) ---- */
struct frame_rec {
  uint64_t t_us; /* µs since the first frame */
  size_t off;    /* offset of the bytes in capture_mem.data */
  uint32_t len;
  uint32_t wire_len; /* > len: cut by the snapshot length */
};
struct capture_mem {
  struct frame_rec *frames;
  size_t n, cap;
  uint8_t *data;
  size_t data_len, data_cap;
  uint64_t first_abs_us; /* absolute time of frame 0 (for --write) */
  int linktype;
  uint64_t skipped, truncated, vlan_tags; /* as in capture_reader */
};
int capture_load(struct capture_mem *m, const char *path, char *err, size_t errlen);
void capture_free(struct capture_mem *m);
static inline const uint8_t *capture_frame(const struct capture_mem *m, size_t i) {
  return m->data + m->frames[i].off;
}

#endif
