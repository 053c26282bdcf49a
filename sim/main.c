/*
 * microtcp-sim: run, swarm and check deterministic multi-host simulations.
 *
 * Exit codes follow the project's convention (0 ok, 1 failure found, 2 usage
 * or input error), with the failure found refined as TigerBeetle's simulator
 * does: 3 invariant violated (integrity or leak), 4 liveness failure (a flow
 * neither finished nor failed as expected). Scripts test `!= 0` and `== 2`.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <getopt.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report_sim.h"
#include "shrink.h"
#include "sim.h"

static const char usage[] =
    "usage: microtcp-sim run SCENARIO [--seed N] [--swarm] [--pcap FILE] [--pcap-link HOST:FILE]...\n"
    "                        [--json FILE] [--until T] [--events FILE] [--quiet]\n"
    "                        [--inject-bug KIND] [--progress T] [--report DIR]\n"
    "                        [--faults-out FILE] [--faults-in FILE]\n"
    "       microtcp-sim shrink SCENARIO [--seed N] [--swarm] [--inject-bug KIND] [--until T]\n"
    "                           [--budget SECONDS] [--out PREFIX]\n"
    "       microtcp-sim swarm SCENARIO --seeds A..B [--shard K/N] [--until T] [--json FILE]\n"
    "                          [--report DIR]\n"
    "       microtcp-sim check SCENARIO [--seed N] [--swarm]\n"
    "       microtcp-sim keys      (every scenario key, as the Markdown reference in sim/README.md)\n"
    "       microtcp-sim --help | --version\n"
    "Seeds are unsigned 64-bit integers (0..18446744073709551615).\n"
    "--faults-out FILE writes every random decision of the network (loss, burst, jitter, reordering,\n"
    "  corruption, duplication; swarm's drift, latency, partition, calm) as a text schedule;\n"
    "  --faults-in FILE replays one instead of drawing (lines removed: those faults do not happen).\n"
    "shrink: from a failing seed, delta-debug the fault schedule and the scenario (flows, events,\n"
    "  hosts, sizes, duration) while the same failure stays; writes PREFIX.ini and PREFIX.faults\n"
    "  (default PREFIX: shrunk) and prints the command that reproduces it (budget default 60 s).\n"
    "--inject-bug (test hooks): corrupt-payload (one payload byte of the first large segment),\n"
    "  drop-rexmit (the first retransmitted segment never leaves, nor do its retransmissions),\n"
    "  stale-rexmit (the first retransmitted segment carries a wrong byte).\n"
    "exit codes: 0 ok, 1 failure found (microtcp-sim says which: 3 invariant violated,\n"
    "            4 liveness failure), 2 usage or input error (bad option, scenario file:line)\n";

static int usage_error(const char *msg, const char *arg) {
  fprintf(stderr, "microtcp-sim: %s%s%s (see microtcp-sim --help)\n", msg, arg ? ": " : "", arg ? arg : "");
  return 2;
}

#define MAX_PCAP_LINKS 16
#define SIM_ANNOUNCE_MEMORY (64ull << 20) /* runs needing more say so before they start */

struct opts {
  const char *cmd, *scenario, *pcap, *json, *events, *inject_bug, *until;
  const char *pcap_links[MAX_PCAP_LINKS]; /* "HOST:FILE" */
  int npcap_links;
  uint64_t seed;
  bool have_seed, swarm, quiet;
  uint64_t until_us;
  uint64_t progress_us; /* run/check: a progress line this often (wall time); 0 = never */
  uint64_t seed_a, seed_b;
  bool have_seeds, have_progress;
  uint64_t shard_k, shard_n;
  char repro[160]; /* options the reproduce line repeats: --until, --inject-bug */
  char repro_run[1200]; /* run's reproduce line: those and --faults-in */
  const char *report;              /* --report DIR: HTML report (sim/report.c) */
  const char *faults_out, *faults_in; /* fault schedules (sim/faults.c) */
  const char *out;                 /* shrink: output prefix */
  uint64_t budget_us;              /* shrink: wall-time budget */
  FILE *check_out;                 /* shrink: where sim_check writes (else the caller's) */
  struct sim_observer *observer;   /* set per run when a report records it */
};

/* Decimal unsigned 64-bit; out of range is an error, never clamped. */
static int parse_u64(const char *s, uint64_t *out) {
  char *end;
  if (!s || *s < '0' || *s > '9') return -1;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (*end || errno == ERANGE) return -1;
  *out = v;
  return 0;
}

enum { OPT_SEED = 256, OPT_SWARM, OPT_QUIET, OPT_PCAP, OPT_PCAP_LINK, OPT_JSON, OPT_EVENTS,
       OPT_INJECT, OPT_UNTIL, OPT_SEEDS, OPT_SHARD, OPT_HELP, OPT_VERSION, OPT_PROGRESS,
       OPT_REPORT, OPT_FAULTS_OUT, OPT_FAULTS_IN, OPT_BUDGET, OPT_OUT };

static const struct option long_opts[] = {
    {"seed", required_argument, NULL, OPT_SEED},     {"swarm", no_argument, NULL, OPT_SWARM},
    {"quiet", no_argument, NULL, OPT_QUIET},         {"pcap", required_argument, NULL, OPT_PCAP},
    {"pcap-link", required_argument, NULL, OPT_PCAP_LINK},
    {"json", required_argument, NULL, OPT_JSON},     {"events", required_argument, NULL, OPT_EVENTS},
    {"inject-bug", required_argument, NULL, OPT_INJECT},
    {"until", required_argument, NULL, OPT_UNTIL},   {"seeds", required_argument, NULL, OPT_SEEDS},
    {"shard", required_argument, NULL, OPT_SHARD},   {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},     {"progress", required_argument, NULL, OPT_PROGRESS},
    {"report", required_argument, NULL, OPT_REPORT},
    {"faults-out", required_argument, NULL, OPT_FAULTS_OUT},
    {"faults-in", required_argument, NULL, OPT_FAULTS_IN},
    {"budget", required_argument, NULL, OPT_BUDGET},  {"out", required_argument, NULL, OPT_OUT},
    {NULL, 0, NULL, 0}};

/* Returns 0 to run, 2 on a usage error, -1 after printing --help/--version. */
static int parse_args(int argc, char **argv, struct opts *o) {
  memset(o, 0, sizeof *o);
  const char *positional[2] = {NULL, NULL};
  int npos = 0;
  opterr = 0; /* our own one-line messages */
  optind = 1;
  int c;
  /* Leading '-': non-options come back as 1, in order; ':' reports a missing value. */
  while ((c = getopt_long(argc, argv, "-:h", long_opts, NULL)) != -1) {
    const char *v = optarg;
    switch (c) {
    case 1:
      if (npos == 2) return usage_error("unexpected argument", v);
      positional[npos++] = v;
      break;
    case 'h':
    case OPT_HELP: fputs(usage, stdout); return -1;
    case OPT_VERSION: printf("microtcp-sim %s\n", MICROTCP_VERSION_STRING); return -1;
    case OPT_SWARM: o->swarm = true; break;
    case OPT_QUIET: o->quiet = true; break;
    case OPT_SEED:
      if (parse_u64(v, &o->seed) < 0)
        return usage_error("--seed expects an unsigned 64-bit integer", v);
      o->have_seed = true;
      break;
    case OPT_PCAP: o->pcap = v; break;
    case OPT_PCAP_LINK: {
      const char *colon = strchr(v, ':');
      if (!colon || colon == v || !colon[1]) return usage_error("--pcap-link expects HOST:FILE", v);
      if (o->npcap_links == MAX_PCAP_LINKS) return usage_error("too many --pcap-link options (16 at most)", v);
      o->pcap_links[o->npcap_links++] = v;
      break;
    }
    case OPT_JSON: o->json = v; break;
    case OPT_REPORT: o->report = v; break;
    case OPT_EVENTS: o->events = v; break;
    case OPT_INJECT:
      if (strcmp(v, "corrupt-payload") && strcmp(v, "drop-rexmit") && strcmp(v, "stale-rexmit"))
        return usage_error("--inject-bug expects corrupt-payload, drop-rexmit or stale-rexmit", v);
      o->inject_bug = v;
      break;
    case OPT_FAULTS_OUT: o->faults_out = v; break;
    case OPT_FAULTS_IN: o->faults_in = v; break;
    case OPT_OUT: o->out = v; break;
    case OPT_BUDGET: {
      uint64_t sec;
      if (parse_u64(v, &sec) < 0 || sec == 0 || sec > 86400)
        return usage_error("--budget expects seconds 1..86400", v);
      o->budget_us = sec * 1000000;
      break;
    }
    case OPT_UNTIL:
      if (sim_parse_duration(v, &o->until_us) < 0 || o->until_us == 0)
        return usage_error("--until expects a time above zero like 10s", v);
      o->until = v;
      break;
    case OPT_PROGRESS:
      if (sim_parse_duration(v, &o->progress_us) < 0)
        return usage_error("--progress expects a time like 10s (0 = off)", v);
      o->have_progress = true;
      break;
    case OPT_SEEDS: {
      const char *dots = strstr(v, "..");
      char first[32];
      if (!dots || (size_t)(dots - v) >= sizeof first) return usage_error("--seeds expects A..B", v);
      memcpy(first, v, (size_t)(dots - v));
      first[dots - v] = 0;
      if (parse_u64(first, &o->seed_a) < 0 || parse_u64(dots + 2, &o->seed_b) < 0)
        return usage_error("--seeds expects A..B, unsigned 64-bit integers", v);
      if (o->seed_b < o->seed_a) return usage_error("--seeds expects A..B with A <= B", v);
      o->have_seeds = true;
      break;
    }
    case OPT_SHARD:
      if (sscanf(v, "%" SCNu64 "/%" SCNu64, &o->shard_k, &o->shard_n) != 2 || o->shard_n == 0 ||
          o->shard_k == 0 || o->shard_k > o->shard_n)
        return usage_error("--shard expects K/N with 1 <= K <= N", v);
      break;
    case ':': return usage_error("option needs a value", argv[optind - 1]);
    default: return usage_error("unknown option", argv[optind - 1]);
    }
  }
  if (npos == 0) return usage_error("missing command", NULL);
  o->cmd = positional[0];
  if (strcmp(o->cmd, "run") && strcmp(o->cmd, "swarm") && strcmp(o->cmd, "check") && strcmp(o->cmd, "shrink"))
    return usage_error("unknown command", o->cmd);
  if (npos < 2) return usage_error("missing SCENARIO file", NULL);
  o->scenario = positional[1];
  if (!strcmp(o->cmd, "swarm") && !o->have_seeds) return usage_error("swarm needs --seeds A..B", NULL);
  if (o->report && (!strcmp(o->cmd, "check") || !strcmp(o->cmd, "shrink")))
    return usage_error("--report is for run and swarm", NULL);
  if ((o->faults_out || o->faults_in) && strcmp(o->cmd, "run"))
    return usage_error("--faults-out and --faults-in are for run", NULL);
  if ((o->budget_us || o->out) && strcmp(o->cmd, "shrink")) return usage_error("--budget and --out are for shrink", NULL);
  if (!strcmp(o->cmd, "shrink") && (o->pcap || o->npcap_links || o->json || o->events))
    return usage_error("shrink writes PREFIX.ini and PREFIX.faults: --pcap, --pcap-link, --json and --events are for run",
                       NULL);
  if (!o->budget_us) o->budget_us = 60000000;
  if (!o->have_progress) o->progress_us = o->quiet ? 0 : 10000000; /* every 10 s of wall time */
  if (o->until) snprintf(o->repro, sizeof o->repro, " --until %.60s", o->until);
  if (o->inject_bug)
    snprintf(o->repro + strlen(o->repro), sizeof o->repro - strlen(o->repro), " --inject-bug %s",
             o->inject_bug);
  snprintf(o->repro_run, sizeof o->repro_run, "%s%s%.1000s", o->repro, o->faults_in ? " --faults-in " : "",
           o->faults_in ? o->faults_in : "");
  return 0;
}

static void close_pcaps(struct sim *s) {
  for (int i = 0; i < s->nhosts; i++)
    if (s->hosts[i].pcap_dumper) {
      pcap_dump_close((pcap_dumper_t *)s->hosts[i].pcap_dumper);
      s->hosts[i].pcap_dumper = NULL;
    }
  if (s->pcap_dumper) pcap_dump_close((pcap_dumper_t *)s->pcap_dumper);
  if (s->pcap) pcap_close((pcap_t *)s->pcap);
  s->pcap = s->pcap_dumper = NULL;
}

/* One complete run; fills *s (caller frees). Returns the exit code; on a
 * scenario or file error (2) the pcap files are closed here. */
static int run_once_inner(const struct opts *o, uint64_t seed, bool have_seed, bool swarm,
                          struct sim *s, FILE *report) {
  memset(s, 0, sizeof *s);
  s->observer = o->observer;
  s->seed = have_seed ? seed : 0;
  if (sim_scenario_load(s, o->scenario) < 0) return 2;
  /* Up front, before a large run commits its memory (not per swarm seed). */
  if (!swarm && !o->quiet && s->mem_estimate >= SIM_ANNOUNCE_MEMORY)
    fprintf(stderr, "microtcp-sim: %d hosts, %d flows: about %llu MiB of stack memory\n", s->nhosts, s->nflows,
            (unsigned long long)(s->mem_estimate >> 20));
  if (!have_seed && s->seed == 0) s->seed = 1;
  s->swarm = swarm;
  s->inject_bug = o->inject_bug;
  s->repro_args = o->repro_run;
  s->progress_us = swarm && !strcmp(o->cmd, "swarm") ? 0 : o->progress_us; /* swarm has its own line */
  if (o->faults_out) s->faults_out = calloc(1, sizeof *s->faults_out);
  if (swarm) sim_swarm_config(s);
  if (o->faults_in) {
    /* the schedule decides what swarm would draw for the network */
    s->faults_in = calloc(1, sizeof *s->faults_in);
    if (!s->faults_in || sim_schedule_read(s, o->faults_in, s->faults_in) < 0) return 2;
    sim_faults_apply_setup(s);
  } else if (swarm) {
    int scenario_events = s->nevents;
    sim_swarm_faults(s);
    sim_faults_record_setup(s, scenario_events);
  }
  if (o->pcap || o->npcap_links) {
    s->pcap = pcap_open_dead(DLT_EN10MB, 65535);
    if (!s->pcap) return 2;
  }
  if (o->pcap) {
    s->pcap_dumper = pcap_dump_open((pcap_t *)s->pcap, o->pcap);
    if (!s->pcap_dumper) {
      fprintf(stderr, "microtcp-sim: cannot write pcap %s\n", o->pcap);
      return 2;
    }
  }
  for (int i = 0; i < o->npcap_links; i++) {
    const char *colon = strchr(o->pcap_links[i], ':');
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(colon - o->pcap_links[i]), o->pcap_links[i]);
    int h = -1;
    for (int k = 0; k < s->nhosts; k++)
      if (!strcmp(s->hosts[k].name, name)) h = k;
    if (h < 0) {
      fprintf(stderr, "microtcp-sim: --pcap-link: no host '%s' in %s\n", name, o->scenario);
      return 2;
    }
    if (s->hosts[h].pcap_dumper) pcap_dump_close((pcap_dumper_t *)s->hosts[h].pcap_dumper);
    s->hosts[h].pcap_dumper = pcap_dump_open((pcap_t *)s->pcap, colon + 1);
    if (!s->hosts[h].pcap_dumper) {
      fprintf(stderr, "microtcp-sim: cannot write pcap %s\n", colon + 1);
      return 2;
    }
  }
  if (o->events) {
    s->events_log = fopen(o->events, "w");
    if (!s->events_log) {
      fprintf(stderr, "microtcp-sim: cannot write %s\n", o->events);
      return 2;
    }
  }
  if (sim_setup(s) < 0) return 2;
  sim_run(s, o->until_us ? o->until_us : s->duration_us);
  int code = sim_check(s, o->check_out ? o->check_out : report);
  close_pcaps(s);
  if (s->events_log) fclose(s->events_log);
  s->events_log = NULL;
  return code;
}

static int run_once(const struct opts *o, uint64_t seed, bool have_seed, bool swarm, struct sim *s,
                    FILE *report) {
  int code = run_once_inner(o, seed, have_seed, swarm, s, report);
  if (code == 2) {
    close_pcaps(s);
    if (s->events_log) fclose(s->events_log);
    s->events_log = NULL;
  }
  return code;
}

static const char *flow_status_name(enum flow_status st) {
  switch (st) {
  case FLOW_PENDING: return "pending";
  case FLOW_RUNNING: return "running";
  case FLOW_DONE: return "done";
  case FLOW_FAILED: return "failed";
  }
  return "?";
}

struct flow_totals {
  uint64_t bytes;
  uint32_t retransmits, srtt_us;
};

static struct flow_totals flow_totals(const struct sim_flow *fl) {
  struct flow_totals t = {0, 0, 0};
  for (uint32_t c = 0; fl->clients && c < fl->connections; c++) {
    const struct app *a = &fl->clients[c];
    t.bytes += fl->kind == APP_SOURCE ? a->sent : a->received;
    t.retransmits += a->retransmits;
    if (a->srtt_us > t.srtt_us) t.srtt_us = a->srtt_us;
  }
  return t;
}

/* Per attacker: what it did, and the defences its target counted. */
static void print_attacks(const struct sim *s, FILE *out) {
  for (int i = 0; i < s->nhosts; i++) {
    const struct sim_attack *a = s->hosts[i].attack;
    if (!a) continue;
    const struct sim_host *v = &s->hosts[a->target];
    fprintf(out, "  attack %-10s %-10s -> %s: %" PRIu64 " frames", s->hosts[i].name, attack_kind_name(a->kind),
            v->name, a->frames);
    if (a->opened)
      fprintf(out, ", %" PRIu64 " connections opened, %" PRIu64 " answered (SYN-ACK), %" PRIu64 " dropped by the victim",
              a->opened, a->established, a->resets);
    if (a->bytes_trickled) fprintf(out, ", %" PRIu64 " bytes trickled", a->bytes_trickled);
    if (a->probes) fprintf(out, ", %" PRIu64 " injections", a->probes);
    if (a->exact_hits) fprintf(out, ", %" PRIu64 " hit RCV.NXT exactly (connection reset)", a->exact_hits);
    fputc('\n', out);
  }
  /* the defences, on every host that used one */
  for (int i = 0; i < s->nhosts; i++) {
    const struct sim_host *h = &s->hosts[i];
    if (!h->st) continue;
    const microtcp_counters *c = microtcp_get_counters(h->st);
    uint64_t any = c->tcp_syncookies_sent + c->tcp_challenge_acks + c->tcp_challenge_acks_limited +
                   c->tcp_stalled_evicted + c->drop_tcp_peer_limit + c->tcp_icmp_hard_as_soft +
                   c->arp_incomplete_evicted + c->tcp_half_open_evicted;
    bool attacked = false;
    for (int k = 0; k < s->nhosts; k++) attacked |= s->hosts[k].attack && s->hosts[k].attack->target == i;
    if (!any || !attacked) continue;
    fprintf(out, "  defences %-8s syncookies sent %" PRIu64 " ok %" PRIu64 ", half-open evicted %" PRIu64
            ", challenge ACKs %" PRIu64 " (limited %" PRIu64 "), stalled evicted %" PRIu64 ", per-peer refused %"
            PRIu64 ", ICMP hard errors taken as soft %" PRIu64 ", ARP incomplete evicted %" PRIu64 "\n",
            h->name, c->tcp_syncookies_sent, c->tcp_syncookies_ok, c->tcp_half_open_evicted, c->tcp_challenge_acks,
            c->tcp_challenge_acks_limited, c->tcp_stalled_evicted, c->drop_tcp_peer_limit,
            c->tcp_icmp_hard_as_soft, c->arp_incomplete_evicted);
  }
}

void sim_print_summary(const struct sim *s, FILE *out) {
  char ended[64];
  bool all_ended = true;
  for (int f = 0; f < s->nflows; f++)
    all_ended &= s->flows[f].status == FLOW_DONE || s->flows[f].status == FLOW_FAILED;
  if (all_ended)
    snprintf(ended, sizeof ended, "flows ended at %.3f s virtual time", (double)s->flows_ended_at / 1e6);
  else
    snprintf(ended, sizeof ended, "NOT all flows ended");
  fprintf(out,
          "seed %" PRIu64 ": %d hosts, %d flows; %s; %.3f s simulated in all (closing and TIME_WAIT "
          "included); %" PRIu64 " events\n",
          s->seed, s->nhosts, s->nflows, ended, (double)s->now / 1e6, s->events_processed);
  int shown = 0;
  for (int f = 0; f < s->nflows; f++) {
    const struct sim_flow *fl = &s->flows[f];
    if (shown++ >= 40) {
      fprintf(out, "  ... %d more flows\n", s->nflows - 40);
      break;
    }
    struct flow_totals t = flow_totals(fl);
    uint64_t dur = fl->finished_at > fl->start_us ? fl->finished_at - fl->start_us : 0;
    double mbps = dur ? (double)t.bytes * 8.0 / (double)dur : 0.0;
    fprintf(out, "  flow %-14s %-9s %-7s %12" PRIu64 " B %9.2f Mbit/s  rexmit %5u  srtt %7.3f ms  %s\n",
            fl->name, app_kind_name(fl->kind), flow_status_name(fl->status), t.bytes, mbps,
            t.retransmits, t.srtt_us / 1000.0, fl->reason);
  }
  /* Per link (host attachment), both directions: only links where something
   * happened beyond plain delivery, at most 40 lines. */
  int lines = 0, more = 0;
  for (int i = 0; i < s->nhosts; i++) {
    const struct sim_link_dir *d[2] = {&s->hosts[i].up_dir, &s->hosts[i].down_dir};
    bool eventful = false;
    for (int k = 0; k < 2; k++) {
      eventful |= d[k]->dup || d[k]->corrupted || d[k]->reordered;
      for (int j = 0; j < DROP_KINDS; j++) eventful |= d[k]->drops[j] != 0;
    }
    if (!eventful) continue;
    if (lines++ >= 40) {
      more++;
      continue;
    }
    fprintf(out, "  link %-12s", s->hosts[i].name);
    for (int k = 0; k < 2; k++) {
      fprintf(out, " %s: %" PRIu64 " frames", k ? "| down" : "up", d[k]->frames);
      for (int j = 0; j < DROP_KINDS; j++)
        if (d[k]->drops[j]) fprintf(out, ", %s %" PRIu64, sim_drop_names[j], d[k]->drops[j]);
      if (d[k]->dup) fprintf(out, ", dup %" PRIu64, d[k]->dup);
      if (d[k]->corrupted) fprintf(out, ", corrupt %" PRIu64, d[k]->corrupted);
      if (d[k]->reordered) fprintf(out, ", reorder %" PRIu64, d[k]->reordered);
    }
    fputc('\n', out);
  }
  if (more) fprintf(out, "  ... %d more links with drops or faults\n", more);
  uint64_t drops[DROP_KINDS] = {0}, frames = 0, dup = 0, corrupt = 0, reorder = 0;
  for (int i = 0; i < s->nhosts; i++) {
    const struct sim_link_dir *d[2] = {&s->hosts[i].up_dir, &s->hosts[i].down_dir};
    for (int k = 0; k < 2; k++) {
      for (int j = 0; j < DROP_KINDS; j++) drops[j] += d[k]->drops[j];
      frames += d[k]->frames;
      dup += d[k]->dup;
      corrupt += d[k]->corrupted;
      reorder += d[k]->reordered;
    }
  }
  fprintf(out, "  all links: %" PRIu64 " frame hops, %" PRIu64 " duplicated, %" PRIu64 " corrupted, %" PRIu64 " reordered; drops:",
          frames, dup, corrupt, reorder);
  uint64_t ndrops = 0;
  for (int j = 0; j < DROP_KINDS; j++) {
    if (drops[j]) fprintf(out, " %s %" PRIu64, sim_drop_names[j], drops[j]);
    ndrops += drops[j];
  }
  if (!ndrops) fputs(" none", out);
  fprintf(out, "\n  bytes delivered to apps that differ from what was sent: %" PRIu64 "\n",
          s->integrity_errors);
  fprintf(out, "  trace hash %016" PRIx64 "\n", s->trace_hash);
  print_attacks(s, out);
  if (s->swarm) sim_print_config(s, out); /* what the seed drew */
}

/* A host as the run used it: its stack configuration (what swarm mode drew
 * from the seed, so a failing seed shows it) and its nonzero counters. */
static cJSON *host_json(const struct sim_host *h) {
  cJSON *j = cJSON_CreateObject();
  char ip[16];
  snprintf(ip, sizeof ip, "%u.%u.%u.%u", h->cfg.ip >> 24, h->cfg.ip >> 16 & 255, h->cfg.ip >> 8 & 255,
           h->cfg.ip & 255);
  cJSON_AddStringToObject(j, "name", h->name);
  cJSON_AddStringToObject(j, "ip", ip);
  cJSON_AddNumberToObject(j, "drift_ppm", h->drift_ppm);
  cJSON_AddNumberToObject(j, "restarts", (double)h->restarts);
  if (!h->attack) { /* an attacker runs no stack */
    const microtcp_config *c = &h->cfg;
    cJSON *k = cJSON_AddObjectToObject(j, "config");
    cJSON_AddNumberToObject(k, "mtu", c->mtu);
    cJSON_AddNumberToObject(k, "mss", c->tcp_mss);
    cJSON_AddNumberToObject(k, "sndbuf", c->tcp_sndbuf);
    cJSON_AddNumberToObject(k, "rcvbuf", c->tcp_rcvbuf);
    cJSON_AddNumberToObject(k, "max_tcp", c->max_tcp);
    cJSON_AddNumberToObject(k, "frames", c->frames);
    cJSON_AddNumberToObject(k, "arp_pending", c->arp_pending);
    cJSON_AddNumberToObject(k, "ooo_ranges", c->tcp_ooo_ranges);
    cJSON_AddBoolToObject(k, "sack", c->tcp_sack);
    cJSON_AddBoolToObject(k, "dsack", c->tcp_dsack);
    cJSON_AddBoolToObject(k, "prr", c->tcp_prr);
    cJSON_AddBoolToObject(k, "rack", c->tcp_rack);
    cJSON_AddBoolToObject(k, "dsack_undo", c->tcp_dsack_undo);
    cJSON_AddBoolToObject(k, "hystart", c->tcp_hystart);
    cJSON_AddBoolToObject(k, "timestamps", c->tcp_timestamps);
    if (c->tcp_wscale == MICROTCP_WSCALE_OFF) cJSON_AddStringToObject(k, "wscale", "off");
    else if (c->tcp_wscale == 0xff) cJSON_AddStringToObject(k, "wscale", "auto");
    else cJSON_AddNumberToObject(k, "wscale", c->tcp_wscale);
    cJSON_AddStringToObject(k, "cc", c->tcp_cc == MICROTCP_CC_CUBIC ? "cubic" : "newreno");
    cJSON_AddBoolToObject(k, "nodelay", c->tcp_nodelay);
    cJSON_AddNumberToObject(k, "initial_cwnd", c->tcp_initial_cwnd);
    cJSON_AddNumberToObject(k, "delack_us", c->tcp_delack_us);
    cJSON_AddNumberToObject(k, "rto_min_us", c->tcp_rto_min_us);
    cJSON_AddNumberToObject(k, "rto_initial_us", c->tcp_rto_initial_us);
  }
  if (h->attack) {
    const struct sim_attack *a = h->attack;
    cJSON *x = cJSON_AddObjectToObject(j, "attack");
    cJSON_AddStringToObject(x, "type", attack_kind_name(a->kind));
    cJSON_AddNumberToObject(x, "frames", (double)a->frames);
    cJSON_AddNumberToObject(x, "connections_opened", (double)a->opened);
    cJSON_AddNumberToObject(x, "connections_answered", (double)a->established);
    cJSON_AddNumberToObject(x, "connections_reset_by_victim", (double)a->resets);
    cJSON_AddNumberToObject(x, "probes_answered", (double)a->probes_answered);
    cJSON_AddNumberToObject(x, "bytes_trickled", (double)a->bytes_trickled);
    cJSON_AddNumberToObject(x, "injections", (double)a->probes);
    cJSON_AddNumberToObject(x, "exact_hits", (double)a->exact_hits);
  }
  if (h->st) {
    const microtcp_counters *ctr = microtcp_get_counters(h->st);
    cJSON *n = cJSON_AddObjectToObject(j, "counters");
    for (size_t i = 0; microtcp_counter_name(i) && (i + 1) * 8 <= sizeof *ctr; i++) {
      uint64_t v; /* the counters are consecutive uint64_t fields, in name order */
      memcpy(&v, (const uint8_t *)ctr + i * 8, 8);
      if (v) cJSON_AddNumberToObject(n, microtcp_counter_name(i), (double)v);
    }
  }
  return j;
}

int sim_write_json(const struct sim *s, const char *path, int exit_code) {
  cJSON *root = cJSON_CreateObject();
  char hash[17];
  snprintf(hash, sizeof hash, "%016" PRIx64, s->trace_hash);
  cJSON_AddStringToObject(root, "scenario", s->scenario_path);
  /* JSON numbers are doubles: seeds above 2^53 are written as strings. */
  if (s->seed <= (1ull << 53)) {
    cJSON_AddNumberToObject(root, "seed", (double)s->seed);
  } else {
    char seed[24];
    snprintf(seed, sizeof seed, "%" PRIu64, s->seed);
    cJSON_AddStringToObject(root, "seed", seed);
  }
  cJSON_AddBoolToObject(root, "swarm", s->swarm);
  cJSON_AddNumberToObject(root, "simulated_us", (double)s->now);
  cJSON_AddNumberToObject(root, "flows_ended_us", (double)s->flows_ended_at);
  cJSON_AddNumberToObject(root, "events", (double)s->events_processed);
  cJSON_AddStringToObject(root, "trace_hash", hash);
  cJSON_AddNumberToObject(root, "exit_code", exit_code);
  cJSON_AddStringToObject(root, "failure", exit_code == 3 || exit_code == 4 ? s->failure : "");
  cJSON_AddNumberToObject(root, "integrity_errors", (double)s->integrity_errors);
  cJSON *flows = cJSON_AddArrayToObject(root, "flows");
  for (int f = 0; f < s->nflows; f++) {
    const struct sim_flow *fl = &s->flows[f];
    struct flow_totals t = flow_totals(fl);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", fl->name);
    cJSON_AddStringToObject(j, "type", app_kind_name(fl->kind));
    cJSON_AddStringToObject(j, "client", s->hosts[fl->client].name);
    cJSON_AddStringToObject(j, "server", s->hosts[fl->server].name);
    cJSON_AddStringToObject(j, "status", flow_status_name(fl->status));
    cJSON_AddStringToObject(j, "expect", fl->expect == EXPECT_DONE ? "done" : fl->expect == EXPECT_FAILED ? "failed" : "any");
    cJSON_AddStringToObject(j, "reason", fl->reason);
    cJSON_AddNumberToObject(j, "bytes", (double)t.bytes);
    cJSON_AddNumberToObject(j, "start_us", (double)fl->start_us);
    cJSON_AddNumberToObject(j, "finished_us", (double)fl->finished_at);
    cJSON_AddNumberToObject(j, "retransmits", t.retransmits);
    cJSON_AddNumberToObject(j, "srtt_us", t.srtt_us);
    cJSON_AddItemToArray(flows, j);
  }
  cJSON *links = cJSON_AddArrayToObject(root, "links");
  for (int i = 0; i < s->nhosts; i++) {
    const struct sim_link_dir *d[2] = {&s->hosts[i].up_dir, &s->hosts[i].down_dir};
    for (int k = 0; k < 2; k++) {
      cJSON *j = cJSON_CreateObject();
      cJSON_AddStringToObject(j, "host", s->hosts[i].name);
      cJSON_AddStringToObject(j, "segment", s->segments[s->hosts[i].segment].name);
      cJSON_AddStringToObject(j, "direction", k ? "down" : "up");
      cJSON_AddNumberToObject(j, "frames", (double)d[k]->frames);
      cJSON_AddNumberToObject(j, "duplicated", (double)d[k]->dup);
      cJSON_AddNumberToObject(j, "corrupted", (double)d[k]->corrupted);
      cJSON_AddNumberToObject(j, "reordered", (double)d[k]->reordered);
      cJSON *dr = cJSON_AddObjectToObject(j, "drops");
      for (int x = 0; x < DROP_KINDS; x++) cJSON_AddNumberToObject(dr, sim_drop_names[x], (double)d[k]->drops[x]);
      cJSON_AddItemToArray(links, j);
    }
  }
  cJSON *hosts = cJSON_AddArrayToObject(root, "hosts");
  for (int i = 0; i < s->nhosts; i++) cJSON_AddItemToArray(hosts, host_json(&s->hosts[i]));
  cJSON *segs = cJSON_AddArrayToObject(root, "segments");
  for (int i = 0; i < s->nsegments; i++) {
    const struct sim_segment *g = &s->segments[i];
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", g->name);
    cJSON_AddStringToObject(j, "type", g->kind == SEG_SWITCH ? "switch" : g->kind == SEG_HUB ? "hub" : "link");
    cJSON_AddNumberToObject(j, "hosts", g->nmembers);
    cJSON_AddNumberToObject(j, "flooded", (double)g->flooded);
    cJSON_AddItemToArray(segs, j);
  }
  char *text = cJSON_Print(root);
  cJSON_Delete(root);
  FILE *f = fopen(path, "w");
  if (!f || !text) {
    free(text);
    if (f) fclose(f);
    return -1;
  }
  fputs(text, f);
  fputc('\n', f);
  fclose(f);
  free(text);
  return 0;
}

/* --report: record the run and write DIR/index.html; code is the run's exit code. */
static int write_report(struct sim_recorder *rec, const struct sim *s, int code, const char *dir) {
  if (sim_recorder_write(rec, s, code, dir) < 0) {
    fprintf(stderr, "microtcp-sim: cannot write the report in %s: %s\n", dir, strerror(errno));
    return code ? code : 2;
  }
  return code;
}

static int cmd_run(const struct opts *o) {
  struct sim s;
  if (o->faults_out) { /* before the run: a path that cannot be written is a usage error */
    FILE *f = fopen(o->faults_out, "w");
    if (!f) {
      fprintf(stderr, "microtcp-sim: cannot write %s: %s\n", o->faults_out, strerror(errno));
      return 2;
    }
    fclose(f);
  }
  struct opts ro = *o;
  struct sim_recorder *rec = o->report ? sim_recorder_new() : NULL;
  if (rec) ro.observer = sim_recorder_observer(rec);
  int code = run_once(&ro, o->seed, o->have_seed, o->swarm, &s, stderr);
  if (code == 2) {
    sim_recorder_free(rec);
    sim_free(&s);
    return 2;
  }
  if (rec) {
    code = write_report(rec, &s, code, o->report);
    if (!o->quiet) fprintf(stderr, "microtcp-sim: report: %s/index.html\n", o->report);
    sim_recorder_free(rec);
  }
  if (o->faults_out) {
    char header[1600];
    snprintf(header, sizeof header, "recorded by: microtcp-sim run %.200s --seed %" PRIu64 "%s%s", o->scenario, s.seed,
             o->swarm ? " --swarm" : "", o->repro_run);
    if (sim_schedule_write(&s, s.faults_out, o->faults_out, header) < 0) {
      fprintf(stderr, "microtcp-sim: cannot write %s: %s\n", o->faults_out, strerror(errno));
      code = code ? code : 2;
    }
  }
  if (!o->quiet) sim_print_summary(&s, stdout);
  if (o->json && sim_write_json(&s, o->json, code) < 0) {
    fprintf(stderr, "microtcp-sim: cannot write %s\n", o->json);
    code = code ? code : 2;
  }
  if (!o->quiet) printf("result: %s\n", code == 0 ? "ok" : code == 3 ? "INVARIANT VIOLATED" : "LIVENESS FAILURE");
  sim_free(&s);
  return code;
}

static int cmd_check(const struct opts *o) {
  uint64_t h[2], t[2];
  int codes[2];
  for (int i = 0; i < 2; i++) {
    struct sim s;
    codes[i] = run_once(o, o->seed, o->have_seed, o->swarm, &s, stderr);
    h[i] = s.trace_hash;
    t[i] = s.now;
    sim_free(&s);
    if (codes[i] == 2) return 2;
  }
  bool same = h[0] == h[1] && t[0] == t[1] && codes[0] == codes[1];
  printf("determinism: run 1 hash %016" PRIx64 ", run 2 hash %016" PRIx64 ": %s\n", h[0], h[1],
         same ? "identical" : "DIFFERENT");
  if (!same) return 3;
  return codes[0];
}

/* How many of the seeds a..b fall in shard k (0-based) of n: seed a + i with
 * i % n == k, i in 0..b-a (no loop, no overflow at UINT64_MAX). */
static uint64_t shard_seed_count(uint64_t a, uint64_t b, uint64_t k, uint64_t n) {
  uint64_t span = b - a;
  return k > span ? 0 : (span - k) / n + 1;
}

/* swarm --report: one seed's outcome and goodputs; a failing seed is run
 * again with a recorder (runs are deterministic) into DIR/seed-N/. */
static void swarm_report_add(const struct opts *o, struct swarm_report *sw, const struct sim *s,
                             uint64_t seed, int code) {
  swarm_report_seed(sw, seed, code, s->trace_hash);
  for (int f = 0; f < s->nflows; f++)
    swarm_report_goodput(sw, s->flows[f].name, sim_flow_goodput(&s->flows[f], NULL),
                         s->flows[f].status == FLOW_DONE);
  if (!code) return;
  char dir[4200], href[64], repro[600];
  snprintf(href, sizeof href, "seed-%" PRIu64 "/index.html", seed);
  snprintf(dir, sizeof dir, "%s/seed-%" PRIu64, o->report, seed);
  snprintf(repro, sizeof repro, "microtcp-sim run %s --seed %" PRIu64 " --swarm%s --report DIR", o->scenario,
           seed, o->repro);
  struct opts ro = *o;
  struct sim_recorder *rec = sim_recorder_new();
  ro.observer = sim_recorder_observer(rec);
  struct sim again;
  FILE *sink = fopen("/dev/null", "w");
  int code2 = run_once(&ro, seed, true, true, &again, sink ? sink : stderr);
  if (sink) fclose(sink);
  bool written = code2 != 2 && write_report(rec, &again, code2, dir) == code2;
  swarm_report_failure(sw, seed, code, repro, written ? href : NULL);
  sim_recorder_free(rec);
  sim_free(&again);
}

static int cmd_swarm(const struct opts *o) {
  uint64_t total = 0, failed = 0;
  uint64_t k = o->shard_n ? o->shard_k - 1 : 0, n = o->shard_n ? o->shard_n : 1;
  uint64_t count = shard_seed_count(o->seed_a, o->seed_b, k, n);
  time_t t0 = time(NULL);
  int worst = 0;
  /* --json: this shard's report, merged with the others' by tools/swarm-merge.py */
  cJSON *root = o->json ? cJSON_CreateObject() : NULL, *fails = NULL;
  char num[24];
  if (root) {
    cJSON_AddStringToObject(root, "scenario", o->scenario);
    snprintf(num, sizeof num, "%" PRIu64, o->seed_a);
    cJSON_AddStringToObject(root, "first_seed", num); /* strings: 64-bit seeds exceed doubles */
    snprintf(num, sizeof num, "%" PRIu64, o->seed_b);
    cJSON_AddStringToObject(root, "last_seed", num);
    cJSON_AddNumberToObject(root, "shard", (double)(k + 1));
    cJSON_AddNumberToObject(root, "shards", (double)n);
    cJSON_AddStringToObject(root, "until", o->until ? o->until : "");
    fails = cJSON_AddArrayToObject(root, "failures");
  }
  char swarm_cmd[600];
  snprintf(swarm_cmd, sizeof swarm_cmd, "microtcp-sim swarm %s --seeds %" PRIu64 "..%" PRIu64 "%s", o->scenario,
           o->seed_a, o->seed_b, o->repro);
  struct swarm_report *sw = o->report ? swarm_report_new(o->scenario, swarm_cmd) : NULL;
  /* i counts this shard's seeds: seed = a + k + i*n, so b = UINT64_MAX ends too. */
  for (uint64_t i = 0; i < count; i++) {
    uint64_t seed = o->seed_a + k + i * n;
    struct sim s;
    FILE *sink = fopen("/dev/null", "w");
    int code = run_once(o, seed, true, true, &s, sink ? sink : stderr);
    if (sink) fclose(sink);
    total++;
    if (code == 2) {
      sim_free(&s);
      swarm_report_free(sw);
      return 2;
    }
    if (code) {
      failed++;
      if (code > worst) worst = code;
      fprintf(stderr, "\rseed %" PRIu64 " FAILED (%s): reproduce: microtcp-sim run %s --seed %" PRIu64 " --swarm%s\n",
              seed, code == 3 ? "invariant" : "liveness", o->scenario, seed, o->repro);
      sim_print_config(&s, stderr); /* what the seed drew: the failure's stack configuration */
      if (fails) {
        cJSON *j = cJSON_CreateObject();
        char repro[400];
        snprintf(num, sizeof num, "%" PRIu64, seed);
        snprintf(repro, sizeof repro, "microtcp-sim run %s --seed %" PRIu64 " --swarm%s", o->scenario, seed, o->repro);
        cJSON_AddStringToObject(j, "seed", num);
        cJSON_AddNumberToObject(j, "exit_code", code);
        cJSON_AddStringToObject(j, "kind", code == 3 ? "invariant" : "liveness");
        cJSON_AddStringToObject(j, "reproduce", repro);
        cJSON *hosts = cJSON_AddArrayToObject(j, "hosts");
        for (int h = 0; h < s.nhosts; h++) cJSON_AddItemToArray(hosts, host_json(&s.hosts[h]));
        cJSON_AddItemToArray(fails, j);
      }
    }
    printf("seed %" PRIu64 " %s %016" PRIx64 "\n", seed, code ? "fail" : "ok", s.trace_hash);
    if (sw) swarm_report_add(o, sw, &s, seed, code);
    sim_free(&s);
    if (total % 10 == 0 || total == count) {
      fprintf(stderr, "\rswarm: %" PRIu64 "/%" PRIu64 " seeds, %" PRIu64 " failed, %lds", total, count,
              failed, (long)(time(NULL) - t0));
      fflush(stderr);
    }
  }
  fprintf(stderr, "\nswarm: %" PRIu64 " seeds run, %" PRIu64 " failed\n", total, failed);
  if (sw) {
    if (swarm_report_write(sw, o->report) < 0) {
      fprintf(stderr, "microtcp-sim: cannot write the report in %s: %s\n", o->report, strerror(errno));
      if (!worst) worst = 2;
    } else {
      fprintf(stderr, "swarm: report: %s/index.html\n", o->report);
    }
    swarm_report_free(sw);
  }
  if (root) {
    cJSON_AddNumberToObject(root, "seeds_run", (double)total);
    cJSON_AddNumberToObject(root, "seeds_failed", (double)failed);
    cJSON_AddNumberToObject(root, "exit_code", worst);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    FILE *f = text ? fopen(o->json, "w") : NULL;
    if (f) {
      fputs(text, f);
      fputc('\n', f);
    }
    if (!f || fclose(f) != 0) {
      fprintf(stderr, "microtcp-sim: cannot write %s\n", o->json);
      free(text);
      return worst ? worst : 2;
    }
    free(text);
  }
  return worst;
}

/* shrink's runner: one in-process run, quiet (stderr silenced: candidates
 * that do not load are expected), schedule recorded when asked. */
struct shrink_runner {
  const struct opts *o;
  FILE *devnull;
};

static void shrink_run(void *ctx, const char *scenario, const char *faults_in, const char *faults_out,
                       struct shrink_result *r) {
  struct shrink_runner *R = ctx;
  struct opts ro = *R->o;
  ro.cmd = "run";
  ro.scenario = scenario;
  ro.faults_in = faults_in;
  ro.faults_out = faults_out;
  ro.quiet = true;
  ro.progress_us = 0;
  ro.pcap = ro.json = ro.events = ro.report = NULL;
  ro.npcap_links = 0;
  ro.observer = NULL;
  ro.check_out = R->devnull;
  fflush(stderr);
  int saved = dup(2);
  if (R->devnull) dup2(fileno(R->devnull), 2);
  struct sim s;
  r->code = run_once(&ro, R->o->seed, true, R->o->swarm, &s, R->devnull);
  fflush(stderr);
  if (saved >= 0) {
    dup2(saved, 2);
    close(saved);
  }
  snprintf(r->failure, sizeof r->failure, "%s", r->code == 2 ? "" : s.failure);
  r->liveness_too = s.failure_liveness_too;
  r->nflows = s.nflows;
  r->nhosts = s.nhosts;
  if (faults_out && r->code != 2 && sim_schedule_write(&s, s.faults_out, faults_out, NULL) < 0) r->code = 2;
  sim_free(&s);
}

static int cmd_shrink(const struct opts *o) {
  struct opts so = *o;
  /* Loaded here once, loudly: the runs of the search are silent. */
  struct sim s;
  memset(&s, 0, sizeof s);
  if (sim_scenario_load(&s, o->scenario) < 0) {
    sim_free(&s);
    return 2;
  }
  if (!so.have_seed) { /* the scenario's own seed, as run uses it */
    so.seed = s.seed ? s.seed : 1;
    so.have_seed = true;
  }
  sim_free(&s);
  struct shrink_runner R = {&so, fopen("/dev/null", "w")};
  struct shrink_opts sh = {o->scenario, o->out, o->inject_bug, o->until, so.seed, o->swarm, o->budget_us,
                           shrink_run, &R};
  int rc = sim_shrink(&sh);
  if (R.devnull) fclose(R.devnull);
  return rc;
}

int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "help")) {
    fputs(usage, stdout);
    return 0;
  }
  if (argc == 2 && !strcmp(argv[1], "keys")) {
    sim_scenario_print_keys(stdout);
    return 0;
  }
  struct opts o;
  int r = parse_args(argc, argv, &o);
  if (r) return r < 0 ? 0 : r;
  if (!strcmp(o.cmd, "run")) return cmd_run(&o);
  if (!strcmp(o.cmd, "check")) return cmd_check(&o);
  if (!strcmp(o.cmd, "shrink")) return cmd_shrink(&o);
  return cmd_swarm(&o);
}
