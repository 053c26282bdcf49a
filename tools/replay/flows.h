/*
 * What a capture shows of each TCP connection of the replayed host H: the
 * two reassembled byte streams, the order of H's sending relative to what it
 * had received, how the connection opened and ended. The payload-replay app
 * (app = replay) plays H's part from it, and outcome mode derives its
 * expectations from it when the sidecar states none.
 *
 * Streams are indexed by offset from the sender's ISN + 1 (the SYN's seq; a
 * connection whose SYN is not in the capture starts at the first seq seen),
 * reassembled from every segment of the capture whatever its order or
 * retransmissions (the first copy of a byte wins). Bytes never seen (capture
 * loss, truncated frames) are holes: counted, and neither sent nor compared.
 *
 * The schedule: each segment from H that carries new data becomes a chunk
 * "once H had received need_rx bytes of the peer's stream (the segment's
 * ack), H's stream up to end was sent". The app sends a chunk when it has
 * received need_rx bytes. need_rx past the peer's last byte (the peer's FIN
 * acknowledged) means: after the peer's end of stream.
 */
#ifndef REPLAY_FLOWS_H
#define REPLAY_FLOWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture.h"
#include "host.h"

struct stream {
  uint8_t *data;
  uint8_t *known; /* one bit per byte */
  uint32_t len;   /* highest offset + 1 seen */
  size_t cap;
  bool isn_known, isn_from_syn;
  uint32_t isn; /* the seq before the first byte */
  bool fin, rst;
  uint32_t fin_off; /* the FIN's offset (= stream length) */
};

struct chunk {
  uint32_t need_rx; /* peer bytes H had received (UINT32_MAX: after the peer's FIN) */
  uint32_t end;     /* H's stream up to here */
};

struct flow {
  uint32_t pip;
  uint16_t pport, hport;
  bool h_opened;            /* H sent the SYN (client role) */
  uint64_t t_open;          /* capture time (µs) of the opening SYN */
  bool syn, synack, estab;  /* handshake seen completing */
  struct stream h, p;       /* H's stream, the peer's stream */
  struct chunk *chunks;
  size_t nchunks, chunks_cap;
  uint32_t fin_need_rx;     /* H's FIN (or RST) was sent after this many peer bytes */
  bool h_closed_first;      /* H's FIN/RST before the peer's FIN */
  bool claimed;             /* the player has a connection for it */
};

struct flows {
  struct flow *v;
  size_t n, cap;
};

/* Build from every frame of the capture (H known). */
void flows_build(struct flows *fs, const struct capture_mem *cap, const struct host *h);
struct flow *flows_find(struct flows *fs, uint32_t pip, uint16_t pport, uint16_t hport);
/* The first flow of that 4-tuple the player has not claimed yet (4-tuples
 * reused by later connections: in capture order), claimed; NULL if none. */
struct flow *flows_claim(struct flows *fs, uint32_t pip, uint16_t pport, uint16_t hport);
/* Bytes of a stream the capture does not hold (holes below len). */
uint32_t stream_holes(const struct stream *s);
static inline bool stream_has(const struct stream *s, uint32_t off) {
  return off < s->len && (s->known[off >> 3] >> (off & 7) & 1);
}
void flows_free(struct flows *fs);

#endif
