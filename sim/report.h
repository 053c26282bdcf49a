/*
 * One run drawn as a self-contained HTML page (inline SVG, no script, no
 * network): a time-sequence graph per TCP connection with the faults that hit
 * each frame, cwnd/ssthresh and srtt/rto over time, per-link throughput and
 * drops over time, and the timeline of flows and scenario events.
 *
 * The model is filled either by the simulator (report_sim.c: an observer of
 * the run, which knows every fault and samples the stacks' TCP state) or from
 * a pcap (report_load_pcap: microtcp-replay --report, microtcp-report for
 * microtcp-tap --pcap captures), so both are drawn by the same code. Output is
 * a deterministic function of what was recorded (no wall clock in the page).
 * Every drawing is decimated to one value per pixel column, so the page size
 * is bounded by the number of graphs, not by the number of frames.
 */
#ifndef MICROTCP_REPORT_H
#define MICROTCP_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "microtcp/microtcp.h"

/* What happened to a frame on one link; bits of the `faults` argument of
 * report_hop. The first eight are the simulator's drop causes, in its order. */
enum report_fault {
  RF_LOSS, RF_BURST, RF_QUEUE, RF_MTU, RF_PARTITION, RF_LINK_DOWN, RF_CRASH /* host down */,
  RF_NO_HOST, RF_DUP, RF_REORDER, RF_CORRUPT, RF_BUG /* --inject-bug changed it */, RF_KINDS
};
#define RF_DROPS ((1u << RF_DUP) - 1u) /* the bits that mean "dropped" */
/* Class suffix of each kind in the page (`mark-loss`, ...) and its label. */
extern const char *const report_fault_class[RF_KINDS];

struct report;

struct report *report_new(void);
void report_free(struct report *r);
/* Header of the page: a title and key/value lines (copied). */
void report_set_title(struct report *r, const char *title);
void report_add_info(struct report *r, const char *key, const char *value);
/* A host's name for an IPv4 address (shown instead of the dotted address). */
void report_name_ip(struct report *r, uint32_t ip, const char *name);
/* A link (one direction) drawn in the link section; returns its index.
 * bandwidth_bps 0 = unknown/unlimited. */
int report_add_link(struct report *r, const char *name, uint64_t bandwidth_bps);

/* A frame as sent at time t (µs since the start of the run). Returns its id
 * (1, 2, ...), which report_hop refers to. Frames that are not TCP/IPv4 are
 * counted, not drawn. */
uint32_t report_frame(struct report *r, uint64_t t, const uint8_t *data, size_t len);
/* Frame `id` (0 = unknown) crossed `link` at t with `len` bytes; `faults` is a
 * bitmask of enum report_fault (drops, duplicate, reorder, corrupt). */
void report_hop(struct report *r, uint64_t t, int link, uint32_t id, size_t len, unsigned faults);
/* The TCP state of one endpoint (ip:port talking to peer) at time t. */
void report_tcp_sample(struct report *r, uint64_t t, uint32_t ip, uint16_t port, uint32_t peer_ip,
                       uint16_t peer_port, const microtcp_tcp_stats *st);
/* A scenario event: partition, heal, link-down, link-up, crash, restart, calm, ... */
void report_event(struct report *r, uint64_t t, const char *what, const char *host,
                  const char *detail);
/* A flow (a row of the timeline and of the flow table). `ok` = ended as expected. */
void report_flow(struct report *r, const char *name, const char *type, const char *client,
                 const char *server, const char *status, const char *reason, uint64_t start_us,
                 uint64_t end_us, uint64_t bytes, bool ok);

/* One flow (timeline row) per TCP connection: for captures, which have no
 * scenario flows. */
void report_flows_from_connections(struct report *r);
/* Read a pcap/pcapng capture (Ethernet or raw IPv4): every frame, one link per
 * sending address ("sent by A.B.C.D"), times relative to the first frame.
 * Returns 0, or -1 with a message in err. */
int report_load_pcap(struct report *r, const char *path, char *err, size_t errlen);

/* Write DIR/index.html (DIR is created if missing). Returns 0 or -1 (errno). */
int report_write(const struct report *r, const char *dir);
/* Draw the timeline and the links up to span_us (the simulator's closing
 * phase after the flows ended would squeeze them); 0 = the last frame. */
void report_set_span(struct report *r, uint64_t span_us);
/* Number of TCP connections recorded (each gets one time-sequence graph). */
size_t report_connections(const struct report *r);

/* ---- swarm: a summary page over seeds ------------------------------------------ */
struct swarm_report;
struct swarm_report *swarm_report_new(const char *scenario, const char *command);
void swarm_report_free(struct swarm_report *w);
/* One seed's outcome (exit code), with each flow's goodput (Mbit/s). */
void swarm_report_seed(struct swarm_report *w, uint64_t seed, int code, uint64_t trace_hash);
void swarm_report_goodput(struct swarm_report *w, const char *flow, double mbps, bool ok);
/* A failing seed: its reproduce command and the href of its report (or NULL). */
void swarm_report_failure(struct swarm_report *w, uint64_t seed, int code, const char *reproduce,
                          const char *href);
int swarm_report_write(const struct swarm_report *w, const char *dir);

/* mkdir -p; 0 or -1 (errno). */
int report_mkdirs(const char *dir);

#endif
