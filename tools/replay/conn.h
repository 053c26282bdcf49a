/*
 * Per-connection numbering spaces, and the rewriting of injected frames.
 *
 * For every TCP connection of the replayed host H (key: peer IP, peer port,
 * H's port) three senders have their own numbering: H as recorded in the
 * capture, the stack now playing H, and the peer. Each one's ISN (the seq of
 * its SYN or SYN-ACK; without one, the first seq it sent) and first TS val
 * are noted. A capture with no frame at all from H on a connection (a
 * "script", as the corpus generator writes) counts as H having ISN 0 and
 * first TS val 0: its ack numbers are relative to the stack's ISN.
 *
 * REWRITING (conn_rewrite_input): the peer's frames answered the recorded H.
 * Once the stack has sent its own SYN/SYN-ACK on the connection, every
 * injected frame of that connection is moved from H's numbering into the
 * stack's, and nothing else is touched:
 *   - TCP ack (only if the ACK flag is set): ack += stack ISN - H ISN;
 *   - each SACK block edge: += stack ISN - H ISN;
 *   - TS ecr (only with the ACK flag set, RFC 7323 3.2):
 *     ecr += stack's first TS val - H's first TS val;
 *   - ICMP errors quoting a TCP segment from H: the quoted seq += stack ISN -
 *     H ISN;
 *   - the TCP/ICMP checksum is updated incrementally (RFC 1624), so a frame
 *     recorded with a bad checksum stays exactly as bad.
 * With clamp_acks (the payload-replay app), a translated ack beyond the
 * highest seq the stack has sent is cut to it: the recorded peer
 * acknowledged what the recorded host had sent by then, and the stack may
 * have sent less (its window or cwnd was smaller). Without it, such an ack
 * is an "ack of unsent data" and would be dropped whole.
 * Seq numbers of the peer, windows, ports, addresses, payloads and every
 * other field are injected as recorded.
 */
#ifndef REPLAY_CONN_H
#define REPLAY_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pkt.h"

enum conn_side { SIDE_H = 0, SIDE_STACK, SIDE_PEER };

struct numbering {
  bool isn_known, isn_from_syn, ts_known, max_known;
  uint32_t isn, ts0;
  uint32_t snd_max; /* one past the highest seq sent (SYN and FIN count) */
};

struct conn {
  uint32_t pip;
  uint16_t pport, hport;
  struct numbering side[3];
};

struct conns {
  struct conn *v;
  size_t n, cap;
  bool clamp_acks; /* app = replay: an ack beyond what the stack sent is cut to it */
  bool need_h;     /* feed: only connections whose recorded H numbering is known are
                    * translated (no frame from H: the frames already address the
                    * live stack, as tools/replay/make-bench-capture.py writes them) */
  uint32_t *index; /* open-addressing hash of v (index + 1, 0 = empty) */
  size_t index_cap; /* a power of two, > 2 * n */
};

/* Find (or with create, add) the connection; NULL if absent. */
struct conn *conn_get(struct conns *cs, uint32_t pip, uint16_t pport, uint16_t hport, bool create);
/* Note seq/TS of a TCP segment sent by `side`. */
void conn_note(struct conn *c, enum conn_side side, const wire_tcp *t);
/* Streaming use (feed mode), for a segment from the capture: a SYN (without
 * ACK) opening a new incarnation of a 4-tuple already seen (another ISN)
 * forgets the old numbering of all three sides first; then conn_note. */
void conn_note_capture(struct conn *c, enum conn_side side, const wire_tcp *t);
/* Feed mode's per-frame path, without a full decode: if f is an IPv4 TCP
 * frame, note it for `side` (SIDE_STACK: the stack's output; SIDE_H, SIDE_PEER:
 * a capture frame from H / to H, through conn_note_capture). Only seq, flags,
 * the payload length and (until known) the TS value are read, at fixed
 * offsets, every one checked against len. */
void conn_note_frame(struct conns *cs, enum conn_side side, const uint8_t *f, size_t len);
/* Relative bases (pkt_rel) for a frame from sender to receiver. */
void conn_rel(const struct conn *c, enum conn_side sender, enum conn_side receiver,
              struct pkt_rel *rel);
/* Rewrite an injected frame in place (see the top comment). h_ip: the
 * replayed host. Returns true if anything changed. */
bool conn_rewrite_input(struct conns *cs, uint32_t h_ip, uint8_t *frame, size_t len);
void conn_free(struct conns *cs);

#endif
