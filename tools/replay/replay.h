/*
 * The replay engine: check, outcome and write modes over a capture held in
 * memory (replay.c), and feed mode streaming any capture (feed.c).
 */
#ifndef REPLAY_REPLAY_H
#define REPLAY_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "microtcp/microtcp.h"
#include "sidecar.h"

/* The stack's output buffer: microtcp_output never writes more than mtu + 14
 * bytes, and the config's mtu is a uint16_t. */
#define REPLAY_OUT_MAX (65535 + 14)

/* Frames longer than the stack's MTU + 14 (BIG TCP / GSO / GRO super-frames as
 * the capturing host's kernel showed them to tcpdump, jumbo frames) cannot
 * reach a host with that MTU: they are counted as "oversize" and not injected
 * (documented in README.md). */
static inline bool replay_oversize(const microtcp_config *cfg, size_t len) {
  return len > (size_t)cfg->mtu + 14;
}

struct replay_opts {
  const char *capture;
  const char *write_path; /* --write FILE or NULL */
  struct sidecar sc;      /* sidecar (or defaults) with command-line overrides applied */
  enum replay_mode mode;
  bool verbose; /* print every frame */
  bool perturb; /* test only: flip bit 0 of the window of every TCP frame the stack sends */
  bool promisc; /* feed: rewrite every frame's destination to the host */
  bool quiet;
  bool accept_macs;   /* rewrite.h */
  bool fix_checksums; /* rewrite.h */
  bool segment_gso;   /* rewrite.h */
};

/* Exit codes. */
enum { REPLAY_PASS = 0, REPLAY_FAIL = 1, REPLAY_USAGE = 2 };

int replay_run(const struct replay_opts *o); /* check / outcome (+ --write) */
int feed_run(const struct replay_opts *o);   /* feed (+ --write) */
int import_run(int argc, char **argv);       /* `microtcp-replay import ...` (import.c) */

#endif
