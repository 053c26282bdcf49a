/*
 * microtcp simulator: a discrete-event scheduler over virtual time wiring many
 * stack instances through one L2 segment (a switch), with per-link-direction
 * faults, scheduled events, shared apps as flows, and end-of-run invariants.
 *
 * Determinism: every random decision comes from a PRNG stream derived from the
 * master seed and a fixed stream id (host index, link direction, purpose), and
 * only integer arithmetic decides anything. Same scenario + seed → the same
 * frames at the same times → byte-identical pcap and JSON.
 */
#ifndef MICROTCP_SIM_H
#define MICROTCP_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "apps/apps.h"
#include "microtcp/microtcp.h"

#define SIM_PPM 1000000u

/* Faults of one link direction (host → switch is "up", switch → host "down").
 * Probabilities are in parts per million. */
struct sim_faults {
  uint32_t loss_ppm;
  uint32_t ge_p_ppm, ge_r_ppm;        /* Gilbert-Elliott: P(good→bad), P(bad→good) per frame */
  uint32_t ge_loss_bad_ppm, ge_loss_good_ppm;
  uint32_t reorder_ppm, reorder_delay_us;
  uint32_t dup_ppm;
  uint32_t corrupt_ppm;               /* flip 1 bit (or 2 bits with half the probability) */
  uint32_t latency_us, jitter_us;
  uint64_t bandwidth_bps;             /* 0 = unlimited */
  uint32_t queue_bytes;               /* tail-drop queue limit when bandwidth is set */
  uint32_t mtu;                       /* frames with IP length above this are dropped; 0 = none */
};

enum sim_drop {
  DROP_LOSS, DROP_BURST, DROP_QUEUE, DROP_MTU, DROP_PARTITION, DROP_LINK_DOWN, DROP_HOST_DOWN,
  DROP_NO_HOST, DROP_KINDS
};
extern const char *const sim_drop_names[DROP_KINDS];

struct sim_link_dir {
  struct sim_faults f;
  uint64_t rng;
  bool ge_bad;
  uint64_t busy_until;                /* bandwidth: serialisation of the last queued frame ends */
  uint64_t frames, bytes, dup, corrupted, reordered;
  uint64_t drops[DROP_KINDS];
};

struct sim_host {
  char name[32];
  int index;
  microtcp_config cfg;
  void *arena;
  size_t arena_len;
  microtcp_stack *st;
  bool up;                            /* false between crash and restart */
  bool link_up;
  int32_t drift_ppm;                  /* local clock runs (1 + drift/1e6) times real time */
  uint64_t wake_at;                   /* scheduled deadline event (lazy deletion) */
  uint64_t tick_at;                   /* app timer tick (UDP/ping retries), 0 = none */
  uint64_t restarts;
  struct sim_link_dir up_dir, down_dir;
};

enum flow_status { FLOW_PENDING = 0, FLOW_RUNNING, FLOW_DONE, FLOW_FAILED };

struct sim_flow {
  char name[32];
  enum app_kind kind;
  int client, server;                 /* host indices */
  uint16_t port;
  struct app_params params;
  uint64_t start_us;
  uint32_t connections;               /* parallel connections of this flow */
  struct app *clients;                /* [connections] */
  enum flow_status status;
  char reason[128];
  uint64_t finished_at;
};

/* A listener (or bound UDP socket) on a server host, spawning server apps. */
struct sim_server {
  int host;
  uint16_t port;
  enum app_kind kind;
  uint64_t flow_seed;
  int handle;
  struct app *conns;
  size_t nconns, cap;
};

enum sim_event_kind {
  EV_DELIVER = 1, EV_WAKE, EV_FLOW_START, EV_PARTITION, EV_HEAL, EV_LINK_DOWN, EV_LINK_UP,
  EV_CRASH, EV_RESTART, EV_TICK
};

struct sim_event_spec {               /* a scheduled scenario event */
  uint64_t at;
  enum sim_event_kind kind;
  int a, b;                           /* hosts; b = -1 for "all others" */
  bool one_way;
};

struct sim_frame {
  uint16_t len;
  uint8_t data[];
};

struct sim_ev {
  uint64_t at, seq;
  enum sim_event_kind kind;
  int a, b;
  bool one_way;
  uint64_t stamp;                     /* EV_WAKE: the wake_at it was scheduled for */
  struct sim_frame *frame;            /* EV_DELIVER */
};

struct sim {
  uint64_t seed;
  uint64_t now;
  uint64_t duration_us;               /* stop time */
  uint64_t settle_us;                 /* extra time after flows end, for TIME_WAIT etc. */
  struct sim_ev *heap;
  size_t nheap, capheap;
  uint64_t evseq;
  uint64_t events_processed;
  struct sim_host *hosts;
  int nhosts;
  void *apps;                         /* per-host app tables (sim.c) */
  struct sim_flow *flows;
  int nflows;
  struct sim_server *servers;
  int nservers;
  struct sim_event_spec *events;
  int nevents;
  uint8_t *blocked;                   /* nhosts*nhosts: 1 = frames a→b dropped (partition) */
  uint64_t trace_hash;                /* FNV-style hash over (time, dst, frame) of every delivery */
  FILE *pcap_dumper_file;             /* opaque pcap_dumper_t* when tracing */
  void *pcap, *pcap_dumper;
  FILE *events_log;
  const char *inject_bug;             /* test hook: "corrupt-payload" */
  bool bug_injected;
  uint64_t integrity_errors;
  bool flows_dirty;
  uint64_t flows_ended_at;            /* when the last flow ended (0 = never) */                   /* some app changed status since the last flow update */
  char scenario_path[512];
  bool swarm;
};

/* Build hosts/flows after the scenario was parsed (sim_scenario_load). */
int sim_setup(struct sim *s);
/* Run until every flow ended and the settle time passed, or duration. */
void sim_run(struct sim *s, uint64_t until);
/* Close sockets, let timers finish, then check invariants. Returns exit code:
 * 0 ok, 3 integrity/leak violated, 4 liveness failure. Messages go to out. */
int sim_check(struct sim *s, FILE *out);
void sim_free(struct sim *s);
void sim_print_summary(const struct sim *s, FILE *out);
int sim_write_json(const struct sim *s, const char *path, int exit_code);

/* scenario.c: parse an INI scenario into s (hosts, flows, events, faults).
 * Errors: "file:line: expected ..." on stderr, returns -1. */
int sim_scenario_load(struct sim *s, const char *path);
/* Swarm: draw fault parameters for every link from the seed (documented ranges). */
void sim_swarm_faults(struct sim *s);

uint64_t sim_rand(uint64_t *state);
uint64_t sim_stream_seed(uint64_t master, uint64_t a, uint64_t b);
#endif
