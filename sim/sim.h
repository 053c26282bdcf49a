/*
 * microtcp simulator: a discrete-event scheduler over virtual time wiring many
 * stack instances through L2 segments (learning switches or hubs) and
 * point-to-point links, with per-link-direction faults, scheduled events,
 * shared apps as flows, and end-of-run invariants.
 *
 * Determinism: every random decision comes from a PRNG stream derived from the
 * master seed and a fixed stream id (purpose, hash of the host or flow name),
 * and only integer arithmetic decides anything. Same scenario + seed → the same
 * frames at the same times → byte-identical pcap and JSON. Because stream ids
 * come from names, adding a host or a flow leaves every other stream as it was.
 */
#ifndef MICROTCP_SIM_H
#define MICROTCP_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "apps/apps.h"
#include "microtcp/microtcp.h"

#define SIM_PPM 1000000u

/* Faults of one link direction (host → segment is "up", segment → host "down";
 * on a point-to-point link "up" is the direction away from the host).
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

struct sim_fault;

/* --inject-bug drop-rexmit / stale-rexmit: one TCP direction as sent. */
struct sim_bug_conn {
  uint32_t sip, dip;
  uint16_t sport, dport;
  uint32_t max_end;                   /* highest sequence number sent + 1 */
  bool cursed;                        /* drop-rexmit: retransmissions of cursed_seq never leave */
  uint32_t cursed_seq;
};

struct sim_link_dir {
  struct sim_faults f;
  uint64_t rng;
  const struct sim_fault *rp, *rend; /* --faults-in: this link's frame faults, by frame index */
  bool ge_bad;
  uint64_t busy_until;                /* bandwidth: serialisation of the last queued frame ends */
  uint64_t ser_bw, ser_us;            /* the last serialisation time computed, for ser_len bytes */
  uint16_t ser_len;                   /* at ser_bw (a bulk run has two frame sizes: one division each) */
  uint64_t frames, bytes, dup, corrupted, reordered;
  uint64_t drops[DROP_KINDS];
};

/* An L2 broadcast domain. Every host is attached to exactly one (its stack has
 * one interface): the implicit "default" switch unless the scenario says
 * otherwise. */
enum sim_segment_kind {
  SEG_SWITCH, /* learning switch: unicast to the learned port, flood unknown/broadcast */
  SEG_HUB,    /* every frame to every other member */
  SEG_LINK    /* point-to-point: every frame to the other end */
};

struct sim_segment {
  char name[64];
  enum sim_segment_kind kind;
  int *members;                       /* host indices */
  int nmembers;
  /* learning switch: MAC (48 bits in a uint64) → host index, open addressing */
  uint64_t *mac_keys;                 /* key + 1 (0 = empty slot) */
  int *mac_hosts;
  size_t mac_cap;                     /* a power of two, or 0 */
  uint64_t flooded;                   /* unicast frames sent to every port (unknown MAC) */
};

/* An attacker host (sim/attack.c): no stack, raw frames. */
enum sim_attack_kind { ATK_NONE = 0, ATK_SYN_FLOOD, ATK_SOCKSTRESS, ATK_SLOWLORIS, ATK_RST_PROBE, ATK_ICMP_FORGE };

struct sim_attack_conn {              /* one held connection (sockstress, slowloris) */
  int state;
  uint32_t ip, iss, irs;
  uint16_t port;
  uint64_t sent, una;                 /* bytes sent / acknowledged by the victim */
  uint64_t next_at;                   /* slowloris: next byte */
};

struct sim_attack {
  enum sim_attack_kind kind;
  int target;                         /* syn-flood, sockstress, slowloris: the host attacked */
  uint16_t port;
  int flow, victim;                   /* rst-probe, icmp-forge: the flow, and which end (host index) */
  uint64_t start_us, stop_us;
  uint32_t rate;                      /* frames (or new connections) per second */
  uint32_t connections, sources;      /* held at once; source addresses from ip up */
  uint64_t interval_us;               /* slowloris: a byte per connection per interval */
  uint32_t ip;                        /* the attacker's first own address */
  uint64_t rng, done;
  struct sim_attack_conn *conns;
  uint32_t next_port;
  /* the victim connection as observed (rst-probe, icmp-forge) */
  bool seen, v_have_inflight;
  uint32_t v_ip, p_ip, v_rcv_nxt, v_inflight;
  uint16_t v_port, p_port, v_win;
  uint8_t v_mac_dst[6];
  /* figures */
  uint64_t frames, opened, established, resets, probes, probes_answered, bytes_trickled;
  uint64_t exact_hits;                /* rst-probe: victim connections its RSTs reset (sim.c forged_reset) */
};

struct sim_host {
  char name[32];
  struct sim_attack *attack;          /* non-NULL: an attacker host (no stack) */
  bool tapped;                        /* an attacker observes this host's frames */
  int index;
  uint64_t id;                        /* hash of the name: the host's PRNG stream id */
  int segment;                        /* index into sim.segments */
  void *pcap_dumper;                  /* --pcap-link: this host's link, both directions */
  microtcp_config cfg;
  void *arena;
  size_t arena_len;
  microtcp_stack *st;
  bool up;                            /* false between crash and restart */
  bool link_up;
  int32_t drift_ppm;                  /* local clock runs (1 + drift/1e6) times real time */
  uint64_t wake_at;                   /* when the stack wants microtcp_advance (0: not armed) */
  uint64_t wake_key, wake_seq;        /* its place in the wake heap (stays after a crash) */
  size_t wake_pos;                    /* 1 + index in sim.wheap; 0: not in it */
  uint64_t tick_at;                   /* app timer tick (UDP/ping retries), 0 = none */
  uint64_t restarts;
  struct sim_link_dir up_dir, down_dir;
  /* Frames on the down link in arrival order ((at, seq) ascending); only the
   * head has an event in the heap (see schedule_delivery in sim.c). */
  struct sim_delivery *rx_head, *rx_tail;
};

enum flow_status { FLOW_PENDING = 0, FLOW_RUNNING, FLOW_DONE, FLOW_FAILED };
/* What the scenario expects of a flow; anything else is a liveness failure. */
enum flow_expect { EXPECT_DONE = 0, EXPECT_FAILED, EXPECT_ANY };

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
  enum flow_expect expect;
  char reason[128];
  uint64_t finished_at;
  bool forged_reset;                  /* an rst-probe's exact RST reset one of its connections (sim.c) */
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
  EV_CRASH, EV_RESTART, EV_TICK,
  EV_CALM, /* random faults stop on every link (swarm: the network becomes good) */
  EV_ATTACK /* an attacker's tick */
};

struct sim_event_spec {               /* a scheduled scenario event */
  uint64_t at;
  enum sim_event_kind kind;
  int a, b;                           /* hosts; b = -1 for "all others" */
  bool one_way;
};

/* Scenario limits, checked when the file is loaded (sim/README.md). */
#define SIM_NET 0x0a000000u               /* every host is on 10.0.0.0/8 */
#define SIM_NETMASK 0xff000000u
#define SIM_MAX_HOSTS 10000
#define SIM_DEFAULT_MAX_MEMORY (2ull << 30) /* [sim] max_memory raises it */
#define SIM_HOST_OVERHEAD (256u * 1024u)    /* app tables, events, frames in flight: measured roughly */

#define SIM_SWARM_CONVERGE_US 300000000ull /* swarm: time flows get after the calm */

struct sim_frame {
  uint32_t refs;  /* deliveries holding it (a flooded frame is shared, copied only to corrupt) */
  uint16_t len;
  bool corrupted; /* bits flipped on an earlier hop: not again (see link_apply) */
  uint8_t cls;    /* size class (sim.c's free lists), SIM_FRAME_CLASSES: malloc'd to size */
  uint16_t forger; /* 1 + the attacker host that sent it, else 0 (sim.c forged_reset) */
  uint32_t id;    /* the observer's frame id (0 without an observer) */
  struct sim_frame *next_free;
  uint8_t data[];
};
#define SIM_FRAME_CLASSES 24 /* frames up to 1536 bytes come from free lists, by 64-byte size */
#define SIM_FREE_MAX 512     /* entries a free list keeps; beyond, free() (peak RSS stays malloc's) */

/* Optional observer of a run (sim/report_sim.c draws it): told what the pcap
 * cannot show. It only reads, so a run with an observer is the same run
 * (same trace hash). Fates are bits: 1 << enum sim_drop for a drop, and the
 * SIM_FATE_* bits below. */
#define SIM_FATE_DUP (1u << DROP_KINDS)
#define SIM_FATE_REORDER (1u << (DROP_KINDS + 1))
#define SIM_FATE_CORRUPT (1u << (DROP_KINDS + 2))
#define SIM_FATE_BUG (1u << (DROP_KINDS + 3)) /* --inject-bug changed the frame */
struct sim;
struct sim_observer {
  void *ctx;
  /* A frame left `host` (what --pcap writes); returns the frame's id. */
  uint32_t (*sent)(void *ctx, const struct sim *s, int host, const uint8_t *data, size_t len);
  /* Frame `id` crossed host's up (down = false) or down link at t; its fates there. */
  void (*hop)(void *ctx, const struct sim *s, int host, bool down, uint64_t t, uint32_t id,
              size_t len, unsigned fates);
  /* A scenario event, as --events logs it. */
  void (*event)(void *ctx, const struct sim *s, const char *what, const char *host,
                const char *detail);
  /* After host was serviced (apps polled, frames sent): its apps, to sample. */
  void (*serviced)(void *ctx, const struct sim *s, int host, struct app *const *apps, size_t napps);
};

/* One frame on its way to one host. */
struct sim_delivery {
  struct sim_delivery *next;  /* in the host's arrival queue */
  uint64_t at, seq;           /* its place in the event order */
  int src;
  bool queued;                /* in the host's arrival queue (else it has its own heap event) */
  struct sim_frame *frame;
};

struct sim_ev {
  uint64_t at, seq;
  enum sim_event_kind kind;
  int a, b;
  bool one_way;
  uint64_t stamp;                     /* EV_WAKE: the wake_at it was scheduled for */
  struct sim_delivery *dlv;           /* EV_DELIVER */
};

struct sim {
  uint64_t seed;
  uint64_t now;
  uint64_t duration_us;               /* stop time */
  uint64_t stop_us;                   /* where sim_run stopped the clock (--until or duration) */
  const char *repro_args;             /* extra options for the printed reproduce line, or NULL */
  uint64_t mem_estimate;              /* bytes of arenas (+ per-host overhead) the scenario needs */
  uint64_t progress_us;               /* wall-clock interval of progress lines on stderr, 0 = none */
  uint64_t settle_us;                 /* extra time after flows end, for TIME_WAIT etc. */
  struct sim_ev *heap;
  size_t nheap, capheap;
  int *wheap;                         /* hosts by (wake_key, wake_seq): one wake-up each */
  size_t nwheap;
  uint64_t evseq;
  /* Frames (by size class: 64, 128, .. 1536 bytes) and deliveries given
   * back, reused before malloc (one per frame on the wire: malloc/free were
   * 3 % of a bulk run). Classes 64 bytes apart waste no more than malloc's
   * own rounding, and each list is bounded: unbounded lists with two
   * classes (128 and 1536) had held on to 40 MiB of scale-1000's peak. */
  struct sim_frame *frame_free[SIM_FRAME_CLASSES];
  struct sim_delivery *dlv_free;
  uint32_t nframe_free[SIM_FRAME_CLASSES], ndlv_free; /* each list holds at most SIM_FREE_MAX */
  uint64_t events_processed;
  struct sim_host *hosts;
  int nhosts;
  struct sim_segment *segments;
  int nsegments;
  void *apps;                         /* per-host app tables (sim.c) */
  struct sim_flow *flows;
  int nflows;
  struct sim_server *servers;
  int nservers;
  struct sim_event_spec *events;
  int nevents;
  uint8_t *blocked;                   /* nhosts*nhosts: 1 = frames a→b dropped (partition) */
  uint64_t trace_hash;                /* FNV-style hash over (time, dst, frame) of every delivery */
  void *pcap, *pcap_dumper;           /* pcap_t* (dead, Ethernet) and pcap_dumper_t* */
  FILE *events_log;
  const char *inject_bug;             /* test hook: corrupt-payload, drop-rexmit, stale-rexmit */
  bool bug_injected;
  uint64_t integrity_errors;
  bool flows_dirty;                   /* some app changed status since the last flow update */
  uint64_t flows_ended_at;            /* when the last flow ended (0 = never) */
  char scenario_path[512];
  bool swarm;
  struct sim_observer *observer;      /* NULL = none (see struct sim_observer) */
  /* Fault schedules (sim/faults.c): every random decision of the network as
   * data. faults_out records them (no extra draws: the run is unchanged);
   * faults_in replaces the draws by its lines (the link PRNGs are not used). */
  struct sim_schedule *faults_out;
  struct sim_schedule *faults_in;
  struct sim_fault *replay;           /* faults_in's frame faults, sorted by link and frame */
  /* The first failure sim_check found (sim_failure_id): kind and subject. */
  char failure[160];
  bool failure_liveness_too;          /* an invariant failed and so did liveness */
  /* --inject-bug drop-rexmit / stale-rexmit: TCP sequence state per direction */
  struct sim_bug_conn *bug_conns;
  size_t nbug_conns;
  bool bug_off;                       /* sim_check: hooks stop once liveness is judged */
  uint64_t bug_hits;
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
/* Swarm: draw fault parameters for every link, clock drift for every host and
 * maybe one partition from the seed (ranges documented in sim/README.md). */
void sim_swarm_faults(struct sim *s);
/* Swarm: draw every host's stack configuration (buffers, MSS, SACK/TS/WS,
 * D-SACK, PRR, CC, Nagle, initial window, delayed ACK, RTO min, pools) from
 * the seed; ranges in sim/swarm.c and sim/README.md. */
void sim_swarm_config(struct sim *s);
/* One line per host with its stack configuration (swarm runs print it). */
void sim_print_config(const struct sim *s, FILE *out);
/* Every scenario key by section (value, meaning) as Markdown tables: the key
 * reference in sim/README.md (`microtcp-sim keys`). */
void sim_scenario_print_keys(FILE *out);
/* "500us", "20ms", "2s", "1.5s", "2min" → µs (integers only). -1 if malformed. */
int sim_parse_duration(const char *text, uint64_t *us);
/* 64-bit FNV-1a of a name: the stream id of a host or flow. */
uint64_t sim_name_id(const char *name);

/* sim.c, for attackers: send a frame from host src; schedule an event. */
void sim_transmit(struct sim *s, int src, const uint8_t *data, size_t len);
void sim_schedule(struct sim *s, uint64_t at, enum sim_event_kind kind, int a);
/* attack.c */
void attack_start(struct sim *s, int host);
void attack_tick(struct sim *s, int host);
void attack_input(struct sim *s, int host, const uint8_t *frame, size_t len);
void attack_observe(struct sim *s, int attacker, int src, const uint8_t *frame, size_t len);
void attack_finish(struct sim *s, int host);
const char *attack_kind_name(enum sim_attack_kind k);

/* faults.c: fault schedules (format in sim/README.md "Fault schedules"). */
enum sim_fault_kind {
  FK_LOSS, FK_BURST, FK_JITTER, FK_REORDER, FK_CORRUPT, FK_DUP, /* one frame on one link direction */
  FK_LATENCY, FK_DRIFT, FK_PARTITION, FK_HEAL, FK_CALM,         /* swarm's draws: setup and events */
  FK_KINDS
};
extern const char *const sim_fault_kind_names[FK_KINDS];
struct sim_fault {
  uint64_t at;                        /* virtual µs (frame faults: when the frame entered the link) */
  enum sim_fault_kind kind;
  int host, peer;                     /* host index; partition/heal peer (-1 = everyone) */
  bool down, one_way;                 /* frame faults: the host's down link; partition/heal: one way */
  uint64_t frame;                     /* frame faults: the link direction's frame index (1-based) */
  int64_t v1, v2;                     /* jitter/reorder/latency µs; corrupt bit (v2 = 2nd bit or -1); drift ppm */
  uint64_t order;                     /* record order (ties in time keep it) */
  int line;                           /* line in the file read (0 = recorded) */
  char note[96];                      /* what the frame was (written as a comment, never read) */
};
struct sim_schedule {
  struct sim_fault *f;
  size_t n, cap;
};
void sim_fault_add(struct sim_schedule *sc, const struct sim_fault *f);
void sim_schedule_free(struct sim_schedule *sc);
/* Write sorted by time; header names the command that made it. 0 or -1 (errno). */
int sim_schedule_write(const struct sim *s, const struct sim_schedule *sc, const char *path, const char *header);
/* Read a schedule for the hosts of s; errors "FILE:LINE: ..." on stderr, -1. */
int sim_schedule_read(const struct sim *s, const char *path, struct sim_schedule *sc);
/* Record swarm's draws (drift, latency, partition/heal/calm events) after
 * sim_swarm_faults; nevents_before: the scenario's own events. */
void sim_faults_record_setup(struct sim *s, int nevents_before);
/* Replay: apply setup lines (drift, latency, events) and arm the per-link
 * frame faults. Call after sim_scenario_load (and sim_swarm_config), before sim_setup. */
void sim_faults_apply_setup(struct sim *s);
/* A one-line summary of a frame (ARP, IPv4 TCP/UDP/ICMP) for notes. */
void sim_frame_note(const uint8_t *d, size_t len, char *out, size_t n);

uint64_t sim_rand(uint64_t *state);
uint64_t sim_stream_seed(uint64_t master, uint64_t a, uint64_t b);
#endif
