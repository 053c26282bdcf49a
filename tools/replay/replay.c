/*
 * Check, outcome and write modes: one host of a capture played by a stack,
 * frame by frame on the capture's clock. See README.md for the rules; the
 * parts live in host.c (which host, its config), conn.c (numbering spaces and
 * the rewriting of injected frames), pkt.c (summaries and normalised fields)
 * and runner.c (the built-in apps).
 *
 * Time: the stack's clock is `offset_us` + the capture time of each frame
 * (µs since the first frame). Between two frames, every timer deadline that
 * falls strictly before the next frame fires at its own time; a frame to the
 * host is injected at its time, then the stack takes a turn (timers due,
 * apps polled, output drained) as microtcp-tap's loop does.
 *
 * `clock = tap` (sidecar) models microtcp-tap's loop instead, for captures
 * it recorded: the loop reads every queued frame, then fires due timers,
 * polls the apps and sends, all at one `now`, which is also the timestamp of
 * every frame it writes. So frames to the host with the same timestamp go in
 * together before one turn, the first turn happens at the first timestamp
 * (not before the first frame), and a timer fires at the first capture
 * timestamp at or after its deadline (the loop's wake-up, visible as the
 * timestamp of what the timer sent) rather than at the deadline itself.
 *
 * Comparison: what the stack sends and what H sent form two queues, paired in
 * order. Before each injected frame, every H frame recorded before it must
 * have been matched by a stack frame, and the stack must not have sent more.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "conn.h"
#include "flows.h"
#include "host.h"
#include "pkt.h"
#include "replay.h"
#include "rewrite.h"
#include "runner.h"

struct sent { /* one frame the stack sent, waiting to be compared */
  uint64_t now;
  size_t off;
  uint32_t len;
  size_t seqno; /* 1-based count of stack frames */
};

struct engine {
  const struct replay_opts *o;
  const struct sidecar *sc;
  struct capture_mem cap;
  struct host host;
  microtcp_config cfg;
  void *arena;
  microtcp_stack *st;
  struct runner run;
  struct conns conns;
  bool playing; /* app = replay */
  struct flows flows;
  struct player player;
  pcap_t *dead;
  pcap_dumper_t *dump;
  uint64_t now, offset;
  bool compare; /* check mode */
  /* stack frames not yet compared */
  struct sent *aq;
  size_t aq_n, aq_head, aq_cap;
  uint8_t *abytes;
  size_t ab_len, ab_cap;
  size_t stack_frames;
  /* capture frames from H not yet compared (indices) */
  size_t *eq;
  size_t eq_n, eq_head, eq_cap;
  /* results */
  bool diverged;
  size_t injected, compared, ignored;
  size_t oversize; /* frames to the host longer than MTU + 14: not injected */
  /* for the explanation: frames injected that the stack will not take */
  size_t other_mac, bad_csum, truncated, macs_rewritten, csums_fixed;
  size_t segmented; /* --segment-gso: oversize frames injected as segments */
  bool app_closed;
  bool turned; /* the stack has had its first turn */
  size_t tick; /* clock = tap: next capture frame whose time is a wake-up */
};

static void ip_str(uint32_t ip, char *b, size_t cap) {
  snprintf(b, cap, "%u.%u.%u.%u", ip >> 24, ip >> 16 & 255, ip >> 8 & 255, ip & 255);
}

/* ---- writing (--write) ---- */
static void write_frame(struct engine *e, uint64_t now, const uint8_t *f, size_t len) {
  if (!e->dump) return;
  uint64_t abs_us = e->cap.first_abs_us + (now >= e->offset ? now - e->offset : 0);
  struct pcap_pkthdr h;
  memset(&h, 0, sizeof h);
  h.ts.tv_sec = (time_t)(abs_us / 1000000u);
  h.ts.tv_usec = (suseconds_t)(abs_us % 1000000u);
  h.caplen = h.len = (bpf_u_int32)len;
  pcap_dump((u_char *)e->dump, &h, f);
}

/* ---- the stack's side ---- */
static void perturb(uint8_t *f, size_t len) {
  struct pkt p;
  pkt_decode(f, len, &p);
  if (p.layer != PKT_TCP) return;
  uint8_t *tcp = (uint8_t *)p.l4;
  uint16_t w = wire_get16(tcp + 14), nw = (uint16_t)(w ^ 1);
  wire_put16(tcp + 14, nw);
  wire_put16(tcp + 16, wire_csum_update16(wire_get16(tcp + 16), w, nw));
}

static void note_stack_frame(struct engine *e, const uint8_t *f, size_t len) {
  struct pkt p;
  pkt_decode(f, len, &p);
  if (p.layer != PKT_TCP) return;
  struct conn *c = conn_get(&e->conns, p.ip.dst, p.tcp.dst_port, p.tcp.src_port, true);
  conn_note(c, SIDE_STACK, &p.tcp);
}

static void drain(struct engine *e) {
  static uint8_t buf[REPLAY_OUT_MAX];
  int n;
  while ((n = microtcp_output(e->st, e->now, buf, sizeof buf)) > 0) {
    e->stack_frames++;
    if (e->o->perturb) perturb(buf, (size_t)n);
    note_stack_frame(e, buf, (size_t)n);
    write_frame(e, e->now, buf, (size_t)n);
    if (e->o->verbose) {
      char line[512];
      struct pkt p;
      pkt_decode(buf, (size_t)n, &p);
      pkt_summary(&p, NULL, line, sizeof line);
      printf("  %10.6f stack  %s\n", (double)(e->now - e->offset) / 1e6, line);
    }
    if (!e->compare) continue;
    if (e->aq_n == e->aq_cap) {
      e->aq_cap = e->aq_cap ? e->aq_cap * 2 : 64;
      e->aq = realloc(e->aq, e->aq_cap * sizeof *e->aq);
      if (!e->aq) abort();
    }
    while (e->ab_len + (size_t)n > e->ab_cap) {
      e->ab_cap = e->ab_cap ? e->ab_cap * 2 : 65536;
      e->abytes = realloc(e->abytes, e->ab_cap);
      if (!e->abytes) abort();
    }
    memcpy(e->abytes + e->ab_len, buf, (size_t)n);
    e->aq[e->aq_n++] = (struct sent){e->now, e->ab_len, (uint32_t)n, e->stack_frames};
    e->ab_len += (size_t)n;
  }
}

static void turn(struct engine *e) {
  e->turned = true;
  microtcp_advance(e->st, e->now);
  if (e->sc->app_close_at_us && !e->app_closed && e->now >= e->offset + e->sc->app_close_at_us) {
    runner_close_apps(&e->run, e->now);
    e->app_closed = true;
  }
  runner_serve(&e->run, e->now);
  drain(e);
}

/* clock = tap: the loop woke up at every capture timestamp before t; a turn
 * there if a timer is due (or the first turn is still to come). */
static void run_until_tap(struct engine *e, uint64_t t) {
  for (; e->tick < e->cap.n; e->tick++) {
    uint64_t tj = e->offset + e->cap.frames[e->tick].t_us;
    if (tj >= t) break;
    if (tj < e->now) continue;
    e->now = tj;
    if (!e->turned || microtcp_deadline(e->st) <= tj) turn(e);
  }
  if (t > e->now) e->now = t;
}

/* Fire every deadline before t (strictly), each at its own time. */
static void run_until(struct engine *e, uint64_t t) {
  if (e->sc->tap_clock) {
    run_until_tap(e, t);
    return;
  }
  for (int guard = 0; guard < 1000000; guard++) {
    uint64_t d = microtcp_deadline(e->st);
    if (e->sc->app_close_at_us && !e->app_closed && e->offset + e->sc->app_close_at_us < d)
      d = e->offset + e->sc->app_close_at_us;
    if (e->playing && player_next_open(&e->player) < d) d = player_next_open(&e->player);
    if (d >= t) break;
    if (d <= e->now) {
      /* Due now (or overdue): one turn; if it stays due, stop spinning. */
      turn(e);
      if (microtcp_deadline(e->st) <= e->now) break;
      continue;
    }
    e->now = d;
    turn(e);
  }
  if (t > e->now) e->now = t;
}

/* ---- comparison ---- */
static void rel_for(struct engine *e, const struct pkt *p, enum conn_side sender,
                    struct pkt_rel *rel) {
  memset(rel, 0, sizeof *rel);
  if (p->layer != PKT_TCP) return;
  struct conn *c = conn_get(&e->conns, p->ip.dst, p->tcp.dst_port, p->tcp.src_port, false);
  if (c) conn_rel(c, sender, SIDE_PEER, rel);
}

static void print_frame_line(const char *label, const struct pkt *p, const struct pkt_rel *rel) {
  char line[512];
  pkt_summary(p, rel, line, sizeof line);
  printf("  %-9s %s\n", label, line);
}

/* Ends a frame's line: a frame cut by the snapshot length says so. */
static void print_truncation(const struct frame_rec *fr) {
  if (fr->wire_len > fr->len)
    printf(" [truncated: %u of %u bytes captured]", fr->len, fr->wire_len);
  printf("\n");
}

static void diverge_header(struct engine *e, const char *what, size_t cap_idx, size_t stack_no) {
  if (e->diverged) return;
  e->diverged = true;
  printf("DIVERGENCE: %s\n", what);
  if (cap_idx != (size_t)-1)
    printf("  capture frame #%zu at %.6f s%s", cap_idx + 1,
           (double)e->cap.frames[cap_idx].t_us / 1e6,
           e->cap.frames[cap_idx].wire_len > e->cap.frames[cap_idx].len
               ? " (truncated by the capture's snapshot length)"
               : "");
  else
    printf("  capture frame: none");
  if (stack_no) printf(", stack frame #%zu", stack_no);
  printf("\n");
}

static bool compare_one(struct engine *e, size_t idx, const struct sent *s) {
  struct pkt exp, act;
  pkt_decode(capture_frame(&e->cap, idx), e->cap.frames[idx].len, &exp);
  pkt_decode(e->abytes + s->off, s->len, &act);
  struct pkt_rel er, ar;
  rel_for(e, &exp, SIDE_H, &er);
  rel_for(e, &act, SIDE_STACK, &ar);
  static struct pkt_field ef[PKT_MAX_FIELDS], af[PKT_MAX_FIELDS];
  size_t ne = pkt_fields(&exp, &er, ef), na = pkt_fields(&act, &ar, af);
  char diffs[2048];
  size_t dl = 0;
  diffs[0] = 0;
#define ADD_DIFF(...)                                                                              \
  do {                                                                                             \
    if (dl < sizeof diffs) dl += (size_t)snprintf(diffs + dl, sizeof diffs - dl, __VA_ARGS__);     \
  } while (0)
  for (size_t i = 0; i < ne; i++) {
    if (sidecar_ignores(e->sc, ef[i].name)) continue;
    const struct pkt_field *match = NULL;
    for (size_t j = 0; j < na; j++)
      if (!strcmp(af[j].name, ef[i].name)) match = &af[j];
    if (!match) {
      ADD_DIFF("    %-11s expected %s, actual (absent)\n", ef[i].name, ef[i].val);
      continue;
    }
    if (ef[i].is_ts) {
      int64_t d = ef[i].num - match->num;
      if (d < 0) d = -d;
      if (d <= (int64_t)e->sc->ts_tolerance) continue;
    } else if (!strcmp(ef[i].val, match->val)) {
      continue;
    }
    ADD_DIFF("    %-11s expected %s, actual %s\n", ef[i].name, ef[i].val, match->val);
  }
  for (size_t j = 0; j < na; j++) {
    if (sidecar_ignores(e->sc, af[j].name)) continue;
    bool found = false;
    for (size_t i = 0; i < ne; i++)
      if (!strcmp(af[j].name, ef[i].name)) found = true;
    if (!found) ADD_DIFF("    %-11s expected (absent), actual %s\n", af[j].name, af[j].val);
  }
  if (!pkt_checksums_ok(&act))
    ADD_DIFF("    %-11s the stack's frame has a wrong checksum\n", "checksum");
#undef ADD_DIFF
  e->compared++;
  if (!dl) return true;
  diverge_header(e, "the stack sent a different frame", idx, s->seqno);
  print_frame_line("expected:", &exp, &er);
  print_frame_line("actual:", &act, &ar);
  printf("  differing fields:\n%s", diffs);
  return false;
}

static void compare_pairs(struct engine *e) {
  while (!e->diverged && e->aq_head < e->aq_n && e->eq_head < e->eq_n) {
    compare_one(e, e->eq[e->eq_head], &e->aq[e->aq_head]);
    e->eq_head++;
    e->aq_head++;
  }
}

/* Nothing may be left unpaired (before injecting frame `next`, or at the end). */
static void check_settled(struct engine *e, size_t next) {
  compare_pairs(e);
  if (e->diverged) return;
  char what[128];
  if (e->eq_head < e->eq_n) {
    size_t idx = e->eq[e->eq_head];
    if (next != (size_t)-1)
      snprintf(what, sizeof what,
               "the stack sent nothing where the capture has a frame (before capture frame #%zu)",
               next + 1);
    else
      snprintf(what, sizeof what,
               "the stack sent nothing where the capture has a frame (by the end)");
    diverge_header(e, what, idx, 0);
    struct pkt exp;
    struct pkt_rel er;
    pkt_decode(capture_frame(&e->cap, idx), e->cap.frames[idx].len, &exp);
    rel_for(e, &exp, SIDE_H, &er);
    print_frame_line("expected:", &exp, &er);
    printf("  %-9s (nothing)\n", "actual:");
  } else if (e->aq_head < e->aq_n) {
    const struct sent *s = &e->aq[e->aq_head];
    if (next != (size_t)-1)
      snprintf(what, sizeof what,
               "the stack sent a frame the capture does not have (before capture frame #%zu)",
               next + 1);
    else
      snprintf(what, sizeof what,
               "the stack sent a frame the capture does not have (after its last frame)");
    diverge_header(e, what, next, s->seqno);
    struct pkt act;
    struct pkt_rel ar;
    pkt_decode(e->abytes + s->off, s->len, &act);
    rel_for(e, &act, SIDE_STACK, &ar);
    printf("  %-9s (nothing)\n", "expected:");
    print_frame_line("actual:", &act, &ar);
    printf("  at %.6f s\n", (double)(s->now - e->offset) / 1e6);
  }
}

/* ---- outcome ---- */
static bool has_expectations(const struct sidecar *sc) {
  return sc->established >= 0 || sc->bytes_to_app >= 0 || sc->close != CLOSE_ANY || sc->ncounters;
}

static bool check_outcome(struct engine *e) {
  const struct sidecar *sc = e->sc;
  bool ok = true;
  uint64_t est = runner_established(&e->run), bytes = runner_bytes(&e->run);
  size_t running = runner_running(&e->run);
  const char *close = e->run.resets   ? "reset"
                      : e->run.failed ? "failed"
                      : running       ? "open"
                                      : "clean";
  if (e->playing) {
    size_t closed = 0, failed = 0;
    for (size_t i = 0; i < e->player.n; i++) {
      closed += e->player.c[i].closed;
      failed += e->player.c[i].failed;
    }
    printf("outcome: %llu established, %llu bytes to the app (%zu connections closed or reset as "
           "recorded, %zu failed, %zu open)\n",
           (unsigned long long)est, (unsigned long long)bytes, closed, failed, running);
  } else {
    printf("outcome: %llu established, %llu bytes to the app, %s (%llu done, %llu failed, %zu "
           "open)\n",
           (unsigned long long)est, (unsigned long long)bytes, close,
           (unsigned long long)e->run.finished_clean, (unsigned long long)e->run.failed, running);
  }
  if (e->run.failed) printf("  last app failure: %s\n", e->run.last_failure);
  if (e->run.client && e->run.client->status == APP_FAILED)
    printf("  source failed: %s\n", e->run.client->reason);
  if (e->playing) {
    printf("payload replay, per connection (bytes delivered to the app compared with the "
           "capture's reassembled stream from the peer):\n");
    if (!player_report(&e->player, false)) {
      printf("OUTCOME MISMATCH: the stack did not deliver what the recorded host received\n");
      ok = false;
    }
    if (!has_expectations(sc)) {
      /* Expectations derived from the capture: every connection the capture
       * shows established comes up on the stack. */
      uint64_t want = 0;
      for (size_t i = 0; i < e->flows.n; i++)
        want += e->flows.v[i].estab;
      printf("expected from the capture: %llu connections established\n",
             (unsigned long long)want);
      if (est < want) {
        printf("OUTCOME MISMATCH: the capture shows %llu connections established, the stack "
               "%llu\n",
               (unsigned long long)want, (unsigned long long)est);
        ok = false;
      }
    }
  }
  if (sc->established >= 0 && est != (uint64_t)sc->established) {
    printf("OUTCOME MISMATCH: expected %d connections established, got %llu\n", sc->established,
           (unsigned long long)est);
    ok = false;
  }
  if (sc->bytes_to_app >= 0 && bytes != (uint64_t)sc->bytes_to_app) {
    printf("OUTCOME MISMATCH: expected %lld bytes delivered to the app, got %llu\n",
           (long long)sc->bytes_to_app, (unsigned long long)bytes);
    ok = false;
  }
  if (sc->close == CLOSE_CLEAN && (e->run.failed || running)) {
    printf("OUTCOME MISMATCH: expected every connection closed cleanly, got %s\n", close);
    ok = false;
  } else if (sc->close == CLOSE_RESET && !e->run.resets) {
    printf("OUTCOME MISMATCH: expected a connection reset, got %s\n", close);
    ok = false;
  } else if (sc->close == CLOSE_OPEN && (!running || e->run.failed)) {
    printf("OUTCOME MISMATCH: expected a connection still open, got %s\n", close);
    ok = false;
  }
  const microtcp_counters *ctr = microtcp_get_counters(e->st);
  const uint64_t *vals = (const uint64_t *)ctr;
  for (size_t i = 0; i < sc->ncounters; i++) {
    const struct counter_expect *c = &sc->counters[i];
    size_t k = 0;
    while (microtcp_counter_name(k) && strcmp(microtcp_counter_name(k), c->name))
      k++;
    uint64_t v = vals[k];
    bool good = c->op == '=' ? v == c->value : c->op == '>' ? v >= c->value : v <= c->value;
    if (!good) {
      printf("OUTCOME MISMATCH: counter %s is %llu, expected %s %llu\n", c->name,
             (unsigned long long)v,
             c->op == '='   ? "="
             : c->op == '>' ? ">="
                            : "<=",
             (unsigned long long)c->value);
      ok = false;
    }
  }
  return ok;
}


/* ---- setup ---- */
static int setup(struct engine *e, char *err, size_t errlen) {
  const struct sidecar *sc = e->sc;
  if (capture_load(&e->cap, e->o->capture, err, errlen) < 0) return -1;
  if (e->cap.n == 0) {
    snprintf(err, errlen, "%s: the capture has no frames", e->o->capture);
    return -1;
  }
  struct pkt p;
  bool detected = false;
  struct sidecar *split_sc = NULL;
  uint32_t split_ip = sc->as_ip;
  uint16_t split_port = sc->has_as ? sc->as_port : 0;
  if (!split_port) {
    /* Both ends on one address (loopback) and no port given: the side that
     * accepted the first connection, by address and port. */
    for (size_t i = 0; i < e->cap.n; i++) {
      pkt_decode(capture_frame(&e->cap, i), e->cap.frames[i].len, &p);
      if (p.layer != PKT_TCP || (p.tcp.flags & (WIRE_TCP_SYN | WIRE_TCP_ACK)) != WIRE_TCP_SYN)
        continue;
      if (p.ip.src == p.ip.dst && (!sc->has_as || sc->as_ip == p.ip.dst)) {
        split_ip = p.ip.dst;
        split_port = p.tcp.dst_port;
      }
      break;
    }
  }
  if (split_port) {
    /* --as IP:PORT: H's frames re-addressed first (rewrite.h). */
    size_t n = rewrite_split_capture(&e->cap, split_ip, split_port);
    if (!n) {
      snprintf(err, errlen, "%s: no TCP/UDP frame of %u.%u.%u.%u:%u", e->o->capture,
               split_ip >> 24, split_ip >> 16 & 255, split_ip >> 8 & 255, split_ip & 255,
               split_port);
      return -1;
    }
    if (!e->o->quiet)
      printf("split: %zu frames of %u.%u.%u.%u:%u re-addressed (the host is 10.127.0.2, peers "
             "on its address 10.127.0.1)%s\n",
             n, split_ip >> 24, split_ip >> 16 & 255, split_ip >> 8 & 255, split_ip & 255,
             split_port, sc->has_as && sc->as_port ? "" : ": both ends share an address");
    split_sc = malloc(sizeof *split_sc);
    if (!split_sc) abort();
    *split_sc = *sc;
    split_sc->as_ip = REWRITE_SPLIT_HOST;
    split_sc->has_as = true;
    sc = split_sc;
  }
  int hrc = host_from_capture(&e->host, &e->cap, sc, &detected);
  free(split_sc);
  sc = e->sc;
  if (hrc < 0) {
    snprintf(err, errlen, "%s: no IPv4 or ARP frame to pick a host from (use --as)",
             e->o->capture);
    return -1;
  }
  /* H's and the peer's numbering, from the whole capture (H's SYN-ACK may come
   * after the stack's). */
  for (size_t i = 0; i < e->cap.n; i++) {
    pkt_decode(capture_frame(&e->cap, i), e->cap.frames[i].len, &p);
    if (p.layer != PKT_TCP) continue;
    enum dir d = host_dir(&e->host, &p);
    if (d == DIR_FROM_HOST)
      conn_note(conn_get(&e->conns, p.ip.dst, p.tcp.dst_port, p.tcp.src_port, true), SIDE_H,
                &p.tcp);
    else if (d == DIR_TO_HOST)
      conn_note(conn_get(&e->conns, p.ip.src, p.tcp.src_port, p.tcp.dst_port, true), SIDE_PEER,
                &p.tcp);
  }
  host_config(&e->host, sc, &e->cfg);
  size_t need = microtcp_footprint(&e->cfg);
  if (!need) {
    snprintf(err, errlen, "the stack rejects the config (check the sidecar's [config])");
    return -1;
  }
  e->arena = aligned_alloc(16, (need + 15) & ~(size_t)15);
  if (!e->arena) abort();
  e->offset = sc->offset_us;
  /* microtcp-tap stamps frames with the stack's own clock: run on it, so
   * that timestamp values and ISNs come out the same. */
  if (sc->tap_clock && !sc->offset_set) e->offset = e->cap.first_abs_us;
  e->now = e->offset;
  int ierr = 0;
  e->st = microtcp_init(e->arena, need, &e->cfg, e->now, &ierr);
  if (!e->st) {
    snprintf(err, errlen, "stack init failed: %s", microtcp_strerror(ierr));
    return -1;
  }
  bool static_arp =
      sc->static_arp == TRI_YES || (sc->static_arp == TRI_AUTO && !e->host.arp_requests);
  if (static_arp)
    for (size_t i = 0; i < e->host.npeers; i++)
      microtcp_arp_add_static(e->st, e->host.peers[i].ip, e->host.peers[i].mac);
  if (e->o->write_path) {
    e->dead = pcap_open_dead(DLT_EN10MB, 65535);
    e->dump = e->dead ? pcap_dump_open(e->dead, e->o->write_path) : NULL;
    if (!e->dump) {
      snprintf(err, errlen, "cannot write %s: %s", e->o->write_path,
               e->dead ? pcap_geterr(e->dead) : "pcap");
      return -1;
    }
  }
  uint16_t port = sc->port ? sc->port : e->host.listen_port;
  uint32_t cip = sc->connect_ip ? sc->connect_ip : e->host.connect_ip;
  uint16_t cport = sc->connect_ip ? sc->connect_port : e->host.connect_port;
  if (runner_start(&e->run, e->st, sc->app, port, cip, cport, sc->bytes, e->now, err, errlen) < 0)
    return -1;
  if (!strcmp(sc->app, "replay")) {
    e->playing = true;
    flows_build(&e->flows, &e->cap, &e->host);
    player_init(&e->player, &e->flows, e->offset);
    e->run.player = &e->player;
    /* Listen on every port the recorded host accepted a connection on. */
    if (sc->port) runner_listen(&e->run, sc->port, e->now);
    for (size_t i = 0; i < e->flows.n; i++) {
      const struct flow *f = &e->flows.v[i];
      if (!f->h_opened && f->synack && !runner_listens_on(&e->run, f->hport) &&
          !runner_listen(&e->run, f->hport, e->now)) {
        snprintf(err, errlen, "cannot listen on port %u (more than %d ports?)", f->hport,
                 RUNNER_MAX_LISTENERS);
        return -1;
      }
    }
    /* The recorded peer acknowledged what the recorded host had sent; the
     * stack may have sent less by then (a smaller window or cwnd): clamp. */
    e->conns.clamp_acks = true;
  }
  e->run.keepalive_us = sc->keepalive_us;
  if (!e->o->quiet) {
    char a[20];
    ip_str(e->host.ip, a, sizeof a);
    printf("replaying %s as %s%s (%02x:%02x:%02x:%02x:%02x:%02x), %zu frames (%s), mode %s, app %s",
           e->o->capture, a, detected ? " (auto-detected)" : "", e->cfg.mac[0], e->cfg.mac[1],
           e->cfg.mac[2], e->cfg.mac[3], e->cfg.mac[4], e->cfg.mac[5], e->cap.n,
           capture_linktype_name(e->cap.linktype), e->compare ? "check" : "outcome", sc->app);
    if (port && strcmp(sc->app, "none") && strcmp(sc->app, "source")) printf(" port %u", port);
    printf("\n");
  }
  return 0;
}

static void teardown(struct engine *e) {
  if (e->dump) pcap_dump_close(e->dump);
  if (e->dead) pcap_close(e->dead);
  runner_free(&e->run);
  player_free(&e->player);
  flows_free(&e->flows);
  conn_free(&e->conns);
  capture_free(&e->cap);
  free(e->arena);
  free(e->aq);
  free(e->abytes);
  free(e->eq);
}

/* Into the stack: one frame to the host (a copy in frame, rewritten in place). */
static void inject(struct engine *e, const struct frame_rec *fr, uint8_t *frame, size_t len) {
  const struct replay_opts *o = e->o;
  conn_rewrite_input(&e->conns, e->host.ip, frame, len);
  if (o->accept_macs && rewrite_dst_mac(frame, len, e->cfg.mac)) e->macs_rewritten++;
  if (o->fix_checksums && fr->wire_len == fr->len && rewrite_fix_checksums(frame, len))
    e->csums_fixed++;
  struct pkt q;
  pkt_decode(frame, len, &q);
  if (len >= 6 && !(frame[0] & 1) && memcmp(frame, e->cfg.mac, 6)) e->other_mac++;
  if (fr->wire_len > fr->len)
    e->truncated++;
  else if (q.layer >= PKT_IP && !pkt_checksums_ok(&q))
    e->bad_csum++;
  write_frame(e, e->now, frame, len);
  if (o->verbose) {
    char line[512];
    pkt_decode(frame, len, &q);
    pkt_summary(&q, NULL, line, sizeof line);
    printf("  %10.6f inject %s", (double)fr->t_us / 1e6, line);
    print_truncation(fr);
  }
  microtcp_input(e->st, e->now, frame, len);
}

/* Why the stack may have stayed silent or diverged: its drop counters and
 * what the injected frames had that a host drops (printed with every failure). */
static void explain(struct engine *e) {
  char h[20];
  ip_str(e->host.ip, h, sizeof h);
  const microtcp_counters *ctr = microtcp_get_counters(e->st);
  const uint64_t *vals = (const uint64_t *)ctr;
  printf("why: the stack's drop counters:");
  bool any = false;
  for (size_t i = 0; microtcp_counter_name(i); i++) {
    const char *name = microtcp_counter_name(i);
    if (vals[i] && !strncmp(name, "drop_", 5)) {
      printf(" %s %llu", name, (unsigned long long)vals[i]);
      any = true;
    }
  }
  printf("%s\n", any ? "" : " none");
  if (e->other_mac)
    printf("  likely cause: %zu frames to %s are addressed to another MAC than the stack's "
           "(not for us by MAC: HSRP/VRRP gateway, re-addressed capture): try --accept-macs\n",
           e->other_mac, h);
  if (e->bad_csum)
    printf("  likely cause: %zu frames to %s have a bad checksum (offloaded checksums, capture "
           "taken on the sending host): try --fix-checksums\n",
           e->bad_csum, h);
  if (e->truncated)
    printf("  likely cause: %zu frames to %s are truncated (cut by the capture's snapshot "
           "length): the stack sees them malformed; re-capture with -s 0\n",
           e->truncated, h);
  if (e->oversize)
    printf("  likely cause: %zu frames to %s are longer than MTU + 14 (BIG TCP/GSO/GRO "
           "super-frames): not injected; try --segment-gso, or capture with offloads off "
           "(ethtool -K IF gro off gso off tso off)\n",
           e->oversize, h);
  if (ctr->drop_tcp_out_of_window || ctr->drop_tcp_bad_ack || ctr->drop_tcp_paws)
    printf("  likely cause: segments out of the stack's window, acks of data it had not sent, "
           "or old timestamps (the stack's window, cwnd or timing differ from the recorded "
           "host's; a capture that missed frames)\n");
  if (ctr->drop_tcp_no_socket)
    printf("  likely cause: segments for a connection the stack does not have (a port nothing "
           "listens on: --port/--app, or a connection already running when the capture "
           "started)\n");
}

int replay_run(const struct replay_opts *o) {
  struct engine *e = calloc(1, sizeof *e);
  if (!e) abort();
  e->o = o;
  e->sc = &o->sc;
  e->compare = o->mode == MODE_CHECK;
  char err[512];
  if (setup(e, err, sizeof err) < 0) {
    fprintf(stderr, "microtcp-replay: %s\n", err);
    teardown(e);
    free(e);
    return REPLAY_USAGE;
  }
  /* The init turn: listeners are up, the gratuitous ARP (if any) goes out
   * (clock = tap: at the first capture timestamp, after the frames read then). */
  if (!e->sc->tap_clock) turn(e);
  /* The injected copy (rewritten): only frames the stack can take, so its
   * size is the stack's largest frame, and every copy is checked against it. */
  uint8_t *frame = malloc((size_t)e->cfg.mtu + 14);
  if (!frame) abort();
  uint64_t batch_start = 0;
  bool in_batch = false;
  for (size_t i = 0; i < e->cap.n; i++) {
    const struct frame_rec *fr = &e->cap.frames[i];
    uint64_t t = e->offset + fr->t_us;
    struct pkt p;
    pkt_decode(capture_frame(&e->cap, i), fr->len, &p);
    enum dir d = host_dir(&e->host, &p);
    if (d == DIR_OTHER) {
      e->ignored++;
      continue;
    }
    /* A new SYN on a 4-tuple seen before (another ISN) starts a new
     * numbering there (conn.h): the setup pass knew the first only. */
    if (p.layer == PKT_TCP && (p.tcp.flags & (WIRE_TCP_SYN | WIRE_TCP_ACK)) == WIRE_TCP_SYN) {
      if (d == DIR_FROM_HOST)
        conn_note_capture(conn_get(&e->conns, p.ip.dst, p.tcp.dst_port, p.tcp.src_port, true),
                          SIDE_H, &p.tcp);
      else
        conn_note_capture(conn_get(&e->conns, p.ip.src, p.tcp.src_port, p.tcp.dst_port, true),
                          SIDE_PEER, &p.tcp);
    } else if (p.layer == PKT_TCP && d == DIR_FROM_HOST) {
      conn_note(conn_get(&e->conns, p.ip.dst, p.tcp.dst_port, p.tcp.src_port, true), SIDE_H,
                &p.tcp);
    }
    if (d == DIR_FROM_HOST) {
      if (e->compare) {
        if (e->eq_n == e->eq_cap) {
          e->eq_cap = e->eq_cap ? e->eq_cap * 2 : 64;
          e->eq = realloc(e->eq, e->eq_cap * sizeof *e->eq);
          if (!e->eq) abort();
        }
        e->eq[e->eq_n++] = i;
      }
      if (o->verbose) {
        char line[512];
        pkt_summary(&p, NULL, line, sizeof line);
        printf("  %10.6f host   %s", (double)fr->t_us / 1e6, line);
        print_truncation(fr);
      }
      continue;
    }
    const uint8_t *src = capture_frame(&e->cap, i);
    size_t nseg = 1;
    bool segmenting = false;
    if (replay_oversize(&e->cfg, fr->len)) {
      nseg = o->segment_gso ? rewrite_gso_count(src, fr->len, e->cfg.mtu) : 0;
      if (!nseg) {
        e->oversize++;
        if (o->verbose)
          printf("  %10.6f oversize frame of %u bytes not injected\n", (double)fr->t_us / 1e6,
                 fr->len);
        continue;
      }
      segmenting = true;
      e->segmented++;
    }
    /* A frame to the host: everything before it must be settled first. */
    if (!in_batch) {
      run_until(e, t);
      if (e->compare) check_settled(e, i);
    }
    for (size_t k = 0; k < nseg; k++) {
      size_t flen = fr->len;
      if (segmenting)
        flen = rewrite_gso_segment(src, fr->len, e->cfg.mtu, k, frame);
      else
        memcpy(frame, src, flen);
      inject(e, fr, frame, flen);
    }
    e->injected++;
    if (!in_batch) batch_start = t;
    /* --batch: consecutive frames to the host within batch_us go in together,
     * before the stack's turn, as microtcp-tap reads them in one go. */
    in_batch = false;
    if ((e->sc->batch_us || e->sc->tap_clock) && i + 1 < e->cap.n &&
        e->cap.frames[i + 1].t_us + e->offset - batch_start <= e->sc->batch_us) {
      struct pkt nx;
      pkt_decode(capture_frame(&e->cap, i + 1), e->cap.frames[i + 1].len, &nx);
      in_batch = host_dir(&e->host, &nx) == DIR_TO_HOST;
    }
    if (!in_batch) turn(e);
  }
  free(frame);
  if (in_batch) turn(e);
  run_until(e, e->offset + e->cap.frames[e->cap.n - 1].t_us + e->sc->end_us + 1);
  if (e->compare) check_settled(e, (size_t)-1);
  bool outcome_ok = true;
  if (!e->compare || has_expectations(e->sc) || e->playing) outcome_ok = check_outcome(e);
  /* No false passes: a replay that checked nothing is a failure. */
  bool vacuous = false;
  char host_ip[20];
  ip_str(e->host.ip, host_ip, sizeof host_ip);
  if (e->injected == 0) {
    printf("NOTHING CHECKED: no frame of the capture was injected: none is addressed to %s%s "
           "(choose the host with --as)\n",
           host_ip, e->oversize ? " that the stack can take (all oversize)" : "");
    vacuous = true;
  } else if (e->compare && e->compared == 0 && !has_expectations(e->sc)) {
    printf("NOTHING CHECKED: 0 frames compared (the capture has no frame from %s and the "
           "sidecar no [expect])\n",
           host_ip);
    vacuous = true;
  } else if (!e->compare && !has_expectations(e->sc) && !(e->playing && e->flows.n)) {
    printf("NOTHING CHECKED: outcome mode without expectations\n");
    vacuous = true;
  }
  if (e->oversize)
    printf("note: %zu frames to %s longer than MTU + 14 (%u bytes) were not injected "
           "(oversize: BIG TCP/GSO/jumbo)\n",
           e->oversize, host_ip, e->cfg.mtu + 14);
  bool pass = !e->diverged && outcome_ok && !vacuous;
  if (!pass) explain(e);
  if (e->segmented)
    printf("note: --segment-gso injected %zu oversize frames as MSS-sized segments\n",
           e->segmented);
  if (e->macs_rewritten || e->csums_fixed)
    printf("note: --accept-macs rewrote %zu destination MACs, --fix-checksums fixed %zu frames\n",
           e->macs_rewritten, e->csums_fixed);
  if (!o->quiet || !pass)
    printf("%s: %zu frames injected, %zu compared, %zu ignored (other hosts), stack sent %zu\n",
           pass ? "PASS" : "FAIL", e->injected, e->compared, e->ignored, e->stack_frames);
  teardown(e);
  free(e);
  return pass ? REPLAY_PASS : REPLAY_FAIL;
}
