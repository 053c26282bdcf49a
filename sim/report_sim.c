/* Recording a simulated run for the report: see report_sim.h. */
#include "report_sim.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct sim_recorder {
  struct sim_observer obs;
  struct report *r;
  bool hosts_known;
  uint64_t *last_sample; /* per host: when its apps were last sampled */
  int nhosts;
};

_Static_assert((int)DROP_KINDS == (int)RF_DUP, "the report's fault kinds start with the simulator's drops");
_Static_assert(SIM_FATE_DUP == 1u << RF_DUP && SIM_FATE_REORDER == 1u << RF_REORDER &&
                   SIM_FATE_CORRUPT == 1u << RF_CORRUPT && SIM_FATE_BUG == 1u << RF_BUG,
               "the simulator's fates are the report's fault bits");

static const char *segment_name(const struct sim *s, int host) {
  return s->segments[s->hosts[host].segment].name;
}

/* Names and links of every host, the first time the run reports anything. */
static void know_hosts(struct sim_recorder *rec, const struct sim *s) {
  if (rec->hosts_known) return;
  rec->hosts_known = true;
  rec->nhosts = s->nhosts;
  rec->last_sample = calloc((size_t)s->nhosts + 1, sizeof *rec->last_sample);
  if (!rec->last_sample) abort();
  for (int i = 0; i < s->nhosts; i++) {
    const struct sim_host *h = &s->hosts[i];
    char name[160];
    report_name_ip(rec->r, h->cfg.ip, h->name);
    /* link index = 2 * host + down */
    snprintf(name, sizeof name, "%s up (%s → %s)", h->name, h->name, segment_name(s, i));
    report_add_link(rec->r, name, h->up_dir.f.bandwidth_bps);
    snprintf(name, sizeof name, "%s down (%s → %s)", h->name, segment_name(s, i), h->name);
    report_add_link(rec->r, name, h->down_dir.f.bandwidth_bps);
  }
}

/* The span drawn: until the flows ended (plus a twentieth), or the stop time. */
static uint64_t drawn_span(const struct sim *s) {
  if (s->flows_ended_at) return s->flows_ended_at + s->flows_ended_at / 20 + 1000;
  return s->stop_us && s->stop_us < s->now ? s->stop_us : s->now;
}

static uint32_t on_sent(void *ctx, const struct sim *s, int host, const uint8_t *data, size_t len) {
  struct sim_recorder *rec = ctx;
  know_hosts(rec, s);
  (void)host;
  return report_frame(rec->r, s->now, data, len);
}

static void on_hop(void *ctx, const struct sim *s, int host, bool down, uint64_t t, uint32_t id,
                   size_t len, unsigned fates) {
  struct sim_recorder *rec = ctx;
  know_hosts(rec, s);
  /* once every flow ended, the closing phase is not drawn in the link plots */
  if (s->flows_ended_at) report_set_span(rec->r, drawn_span(s));
  report_hop(rec->r, t, 2 * host + (down ? 1 : 0), id, len, fates);
}

static void on_event(void *ctx, const struct sim *s, const char *what, const char *host,
                     const char *detail) {
  struct sim_recorder *rec = ctx;
  report_event(rec->r, s->now, what, host, detail ? detail : "");
}

static bool is_tcp_app(enum app_kind k) {
  return k == APP_SOURCE || k == APP_SINK || k == APP_ECHO_CLIENT || k == APP_ECHO_SERVER ||
         k == APP_HTTP_CLIENT || k == APP_HTTP_SERVER;
}

/* The TCP state of every connection of the host's apps, after every service
 * of a host with a few apps; a host with more is sampled at most every
 * 200 us (1 ms above 64 apps) of virtual time: sampling every app at every
 * frame is quadratic, and a plot column is rarely narrower than that. */
static void on_serviced(void *ctx, const struct sim *s, int host, struct app *const *apps, size_t napps) {
  struct sim_recorder *rec = ctx;
  know_hosts(rec, s);
  const struct sim_host *h = &s->hosts[host];
  if (!h->st) return;
  if (napps > 8) {
    uint64_t gap = napps > 64 ? 1000 : 200;
    if (rec->last_sample[host] && s->now - rec->last_sample[host] < gap) return;
    rec->last_sample[host] = s->now;
  }
  for (size_t i = 0; i < napps; i++) {
    const struct app *a = apps[i];
    if (a->handle < 0 || a->status != APP_RUNNING || !is_tcp_app(a->kind)) continue;
    microtcp_tcp_stats st;
    microtcp_endpoint peer;
    if (microtcp_tcp_get_stats(h->st, a->handle, &st) < 0 || microtcp_tcp_peer(h->st, a->handle, &peer) < 0)
      continue;
    int port = microtcp_local_port(h->st, a->handle);
    if (port <= 0) continue;
    report_tcp_sample(rec->r, s->now, h->cfg.ip, (uint16_t)port, peer.ip, peer.port, &st);
  }
}

struct sim_recorder *sim_recorder_new(void) {
  struct sim_recorder *rec = calloc(1, sizeof *rec);
  if (!rec) abort();
  rec->r = report_new();
  rec->obs.ctx = rec;
  rec->obs.sent = on_sent;
  rec->obs.hop = on_hop;
  rec->obs.event = on_event;
  rec->obs.serviced = on_serviced;
  return rec;
}

void sim_recorder_free(struct sim_recorder *rec) {
  if (!rec) return;
  report_free(rec->r);
  free(rec->last_sample);
  free(rec);
}

struct sim_observer *sim_recorder_observer(struct sim_recorder *rec) { return &rec->obs; }


double sim_flow_goodput(const struct sim_flow *fl, uint64_t *bytes) {
  uint64_t b = 0;
  for (uint32_t c = 0; fl->clients && c < fl->connections; c++)
    b += fl->kind == APP_SOURCE ? fl->clients[c].sent : fl->clients[c].received;
  if (bytes) *bytes = b;
  uint64_t dur = fl->finished_at > fl->start_us ? fl->finished_at - fl->start_us : 0;
  return dur ? (double)b * 8.0 / (double)dur : 0.0;
}

static const char *status_name(enum flow_status st) {
  return st == FLOW_DONE ? "done" : st == FLOW_FAILED ? "failed" : st == FLOW_RUNNING ? "running" : "pending";
}

int sim_recorder_write(struct sim_recorder *rec, const struct sim *s, int exit_code, const char *dir) {
  struct report *r = rec->r;
  char buf[1200];
  report_set_span(r, drawn_span(s));
  snprintf(buf, sizeof buf, "microtcp-sim run %s (seed %" PRIu64 "%s)", s->scenario_path, s->seed,
           s->swarm ? ", swarm faults" : "");
  report_set_title(r, buf);
  snprintf(buf, sizeof buf, "microtcp-sim run %s --seed %" PRIu64 "%s%s", s->scenario_path, s->seed,
           s->swarm ? " --swarm" : "", s->repro_args ? s->repro_args : "");
  report_add_info(r, "reproduce", buf);
  snprintf(buf, sizeof buf, "%d: %s", exit_code,
           exit_code == 0 ? "ok" : exit_code == 3 ? "invariant violated" : exit_code == 4 ? "liveness failure" : "error");
  report_add_info(r, "result", buf);
  snprintf(buf, sizeof buf, "%016" PRIx64, s->trace_hash);
  report_add_info(r, "trace hash", buf);
  snprintf(buf, sizeof buf, "%d hosts, %d flows; flows ended at %.6f s; %.6f s simulated (closing and "
           "TIME_WAIT included); %" PRIu64 " events; %" PRIu64 " bytes to applications differ from what "
           "was sent",
           s->nhosts, s->nflows, (double)s->flows_ended_at / 1e6, (double)s->now / 1e6,
           s->events_processed, s->integrity_errors);
  report_add_info(r, "run", buf);
  for (int f = 0; f < s->nflows; f++) {
    const struct sim_flow *fl = &s->flows[f];
    uint64_t bytes;
    sim_flow_goodput(fl, &bytes);
    bool ended = fl->status == FLOW_DONE || fl->status == FLOW_FAILED;
    bool ok = ended && (fl->expect == EXPECT_ANY || (fl->expect == EXPECT_DONE) == (fl->status == FLOW_DONE));
    report_flow(r, fl->name, app_kind_name(fl->kind), s->hosts[fl->client].name, s->hosts[fl->server].name,
                status_name(fl->status), fl->reason, fl->start_us, fl->finished_at, bytes, ok);
  }
  return report_write(r, dir);
}
