/*
 * The payload-replay app (app = replay): in the recorded host's place, on
 * each connection, send what the recorded host sent (its reassembled stream
 * from the capture) in the recorded order relative to what it had received
 * (flows.h: the schedule), close as it closed, and compare every byte the
 * stack delivers with the peer's reassembled stream, byte for byte.
 *
 *   server side: every listener's accepted connection is matched to its flow
 *                by (peer IP, peer port, local port);
 *   client side: each connection H opened is opened at the capture time of
 *                H's SYN, from H's port, to the recorded peer.
 *
 * A connection the capture does not show (no flow) reads and discards.
 */
#ifndef REPLAY_PLAYER_H
#define REPLAY_PLAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flows.h"
#include "microtcp/microtcp.h"

struct pconn {
  int handle;
  struct flow *f; /* NULL: not in the capture */
  uint32_t rx, tx;
  uint64_t acked; /* of what the stack sent: acknowledged by the (recorded) peer */
  size_t chunk;
  bool established, eof, shut, closed, failed, reset;
  bool released; /* the handle is gone (abort) */
  bool mismatch;
  uint32_t mismatch_off;
  uint8_t got, want; /* the first differing byte */
  char reason[96];
};

struct player {
  struct flows *fs;
  uint64_t offset; /* stack time of capture time 0 */
  struct pconn *c;
  size_t n, cap;
  size_t *client_flows; /* flows H opened, in capture order */
  size_t nclients, next_client;
};

void player_init(struct player *pl, struct flows *fs, uint64_t offset);
/* A connection accepted on a listener. */
void player_accept(struct player *pl, microtcp_stack *st, uint64_t now, int handle);
/* Open due client connections, move every connection on. */
void player_poll(struct player *pl, microtcp_stack *st, uint64_t now);
/* Stack time of the next client connection to open (UINT64_MAX: none). */
uint64_t player_next_open(const struct player *pl);
/* Print one line per connection; returns false if any compared byte
 * differed or fewer/more bytes were delivered than the capture shows. */
bool player_report(const struct player *pl, bool quiet);
uint64_t player_established(const struct player *pl);
uint64_t player_bytes(const struct player *pl);
void player_free(struct player *pl);

#endif
