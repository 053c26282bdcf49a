/*
 * Fault schedules: every random decision the simulated network makes, as a
 * text file a person can read and edit (format: sim/README.md "Fault
 * schedules").
 *
 * --faults-out records each decision where sim.c makes it (after the draw, so
 * a recorded run is the same run), plus what swarm drew up front (clock
 * drift, link latency, the partition and the calm). --faults-in replays a
 * schedule instead of drawing: the link PRNGs are never consulted, so a
 * schedule with lines removed simply runs without those faults.
 *
 * A frame fault names its frame by link direction and that direction's frame
 * index (1 = the first frame the link carried), which is what makes a
 * shortened schedule still mean something: the frames before a removed fault
 * are the same frames.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

const char *const sim_fault_kind_names[FK_KINDS] = {"loss",      "burst",     "jitter",  "reorder",
                                                    "corrupt",   "duplicate", "latency", "drift",
                                                    "partition", "heal",      "calm"};

static bool frame_kind(enum sim_fault_kind k) { return k <= FK_DUP; }

void sim_fault_add(struct sim_schedule *sc, const struct sim_fault *f) {
  if (sc->n == sc->cap) {
    sc->cap = sc->cap ? sc->cap * 2 : 256;
    sc->f = realloc(sc->f, sc->cap * sizeof *sc->f);
    if (!sc->f) abort();
  }
  sc->f[sc->n] = *f;
  sc->f[sc->n].order = sc->n;
  sc->n++;
}

void sim_schedule_free(struct sim_schedule *sc) {
  free(sc->f);
  memset(sc, 0, sizeof *sc);
}

/* ---- frame notes ---------------------------------------------------------------------- */
static void ip_text(const uint8_t *p, char *out, size_t n) {
  snprintf(out, n, "%u.%u.%u.%u", p[0], p[1], p[2], p[3]);
}

void sim_frame_note(const uint8_t *d, size_t len, char *out, size_t n) {
  char a[16], b[16];
  out[0] = 0;
  if (len < 14) return;
  uint16_t et = (uint16_t)(d[12] << 8 | d[13]);
  if (et == 0x0806 && len >= 14 + 28) {
    const uint8_t *p = d + 14;
    ip_text(p + 14, a, sizeof a);
    ip_text(p + 24, b, sizeof b);
    if (p[7] == 1)
      snprintf(out, n, "ARP who-has %s tell %s", b, a);
    else
      snprintf(out, n, "ARP %s is-at %02x:%02x:%02x:%02x:%02x:%02x", a, p[8], p[9], p[10], p[11],
               p[12], p[13]);
    return;
  }
  if (et != 0x0800 || len < 14 + 20) {
    snprintf(out, n, "ethertype 0x%04x, %zu bytes", et, len);
    return;
  }
  const uint8_t *ip = d + 14;
  size_t ihl = (size_t)(ip[0] & 15) * 4, total = (size_t)(ip[2] << 8 | ip[3]);
  ip_text(ip + 12, a, sizeof a);
  ip_text(ip + 16, b, sizeof b);
  const uint8_t *l4 = ip + ihl;
  size_t l4len = total > ihl ? total - ihl : 0;
  if (ihl < 20 || 14 + ihl > len) {
    snprintf(out, n, "IPv4 %s > %s", a, b);
  } else if (ip[9] == 6 && l4len >= 20 && 14 + ihl + 20 <= len) {
    static const char flag_chars[] = "FSRPAU";
    char fl[8];
    size_t k = 0;
    for (int i = 0; i < 6; i++)
      if (l4[13] & (1u << i)) fl[k++] = flag_chars[i];
    fl[k] = 0;
    uint32_t seq = (uint32_t)l4[4] << 24 | (uint32_t)l4[5] << 16 | (uint32_t)l4[6] << 8 | l4[7];
    uint32_t ack = (uint32_t)l4[8] << 24 | (uint32_t)l4[9] << 16 | (uint32_t)l4[10] << 8 | l4[11];
    size_t off = (size_t)(l4[12] >> 4) * 4;
    snprintf(out, n, "TCP %s:%u > %s:%u [%s] seq %" PRIu32 " ack %" PRIu32 " len %zu", a,
             l4[0] << 8 | l4[1], b, l4[2] << 8 | l4[3], fl, seq, ack,
             l4len > off ? l4len - off : 0);
  } else if (ip[9] == 17 && l4len >= 8 && 14 + ihl + 8 <= len) {
    snprintf(out, n, "UDP %s:%u > %s:%u len %zu", a, l4[0] << 8 | l4[1], b, l4[2] << 8 | l4[3],
             l4len - 8);
  } else if (ip[9] == 1 && l4len >= 8 && 14 + ihl + 8 <= len) {
    snprintf(out, n, "ICMP %s > %s type %u code %u", a, b, l4[0], l4[1]);
  } else {
    snprintf(out, n, "IPv4 %s > %s proto %u", a, b, ip[9]);
  }
}

/* ---- writing ---------------------------------------------------------------------------- */
static int cmp_time(const void *x, const void *y) {
  const struct sim_fault *a = x, *b = y;
  if (a->at != b->at) return a->at < b->at ? -1 : 1;
  return a->order < b->order ? -1 : a->order > b->order;
}

int sim_schedule_write(const struct sim *s, const struct sim_schedule *sc, const char *path,
                       const char *header) {
  FILE *out = fopen(path, "w");
  if (!out) return -1;
  struct sim_fault *v = malloc((sc->n ? sc->n : 1) * sizeof *v);
  if (!v) abort();
  if (sc->n) memcpy(v, sc->f, sc->n * sizeof *v);
  qsort(v, sc->n, sizeof *v, cmp_time);
  fprintf(out, "# microtcp-sim fault schedule: %zu faults\n# %s\n", sc->n, header ? header : "");
  fprintf(out,
          "# time (s)     where                kind       frame     parameters  # the frame\n");
  for (size_t i = 0; i < sc->n; i++) {
    const struct sim_fault *f = &v[i];
    char where[80], frame[24], par[96];
    const char *hn = f->host >= 0 ? s->hosts[f->host].name : "*";
    if (frame_kind(f->kind) || f->kind == FK_LATENCY)
      snprintf(where, sizeof where, "%s.%s", hn, f->down ? "down" : "up");
    else
      snprintf(where, sizeof where, "%s", hn);
    if (frame_kind(f->kind))
      snprintf(frame, sizeof frame, "#%" PRIu64, f->frame);
    else
      snprintf(frame, sizeof frame, "-");
    par[0] = 0;
    switch (f->kind) {
    case FK_JITTER:
    case FK_REORDER:
    case FK_LATENCY: snprintf(par, sizeof par, "us=%" PRId64, f->v1); break;
    case FK_CORRUPT:
      if (f->v2 >= 0)
        snprintf(par, sizeof par, "bit=%" PRId64 " bit2=%" PRId64, f->v1, f->v2);
      else
        snprintf(par, sizeof par, "bit=%" PRId64, f->v1);
      break;
    case FK_DRIFT: snprintf(par, sizeof par, "ppm=%" PRId64, f->v1); break;
    case FK_PARTITION:
    case FK_HEAL:
      snprintf(par, sizeof par, "peer=%s one_way=%s", f->peer >= 0 ? s->hosts[f->peer].name : "*",
               f->one_way ? "yes" : "no");
      break;
    default: break;
    }
    fprintf(out, "%" PRIu64 ".%06" PRIu64 "  %-20s %-10s %-9s %s%s%s\n", f->at / 1000000,
            f->at % 1000000, where, sim_fault_kind_names[f->kind], frame, par,
            f->note[0] ? "  # " : "", f->note);
  }
  free(v);
  return fclose(out) == 0 ? 0 : -1;
}

/* ---- reading ---------------------------------------------------------------------------- */
static int host_named(const struct sim *s, const char *name, size_t n) {
  for (int i = 0; i < s->nhosts; i++)
    if (strlen(s->hosts[i].name) == n && !strncmp(s->hosts[i].name, name, n)) return i;
  return -1;
}

static int parse_i64(const char *t, int64_t lo, int64_t hi, int64_t *out) {
  char *end;
  if (!*t) return -1;
  errno = 0;
  long long v = strtoll(t, &end, 10);
  if (*end || errno || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

/* "12.345678" seconds (up to 6 decimals) → µs */
static int parse_time(const char *t, uint64_t *us) {
  uint64_t sec = 0, frac = 0;
  int digits = 0, fd = 0;
  for (; isdigit((unsigned char)*t); t++, digits++) {
    if (sec > 1000000000000ull) return -1;
    sec = sec * 10 + (uint64_t)(*t - '0');
  }
  if (!digits) return -1;
  if (*t == '.') {
    for (t++; isdigit((unsigned char)*t); t++, fd++) {
      if (fd == 6) return -1;
      frac = frac * 10 + (uint64_t)(*t - '0');
    }
    if (!fd) return -1;
  }
  if (*t) return -1;
  while (fd++ < 6)
    frac *= 10;
  *us = sec * 1000000 + frac;
  return 0;
}

#define BAD(...)                                                                                   \
  do {                                                                                             \
    fprintf(stderr, "%s:%d: ", path, line);                                                        \
    fprintf(stderr, __VA_ARGS__);                                                                  \
    fputc('\n', stderr);                                                                           \
    goto fail;                                                                                     \
  } while (0)

int sim_schedule_read(const struct sim *s, const char *path, struct sim_schedule *sc) {
  memset(sc, 0, sizeof *sc);
  FILE *in = fopen(path, "r");
  if (!in) {
    fprintf(stderr, "%s: cannot open fault schedule: %s\n", path, strerror(errno));
    return -1;
  }
  char buf[1024];
  int line = 0;
  while (fgets(buf, sizeof buf, in)) {
    line++;
    if (!strchr(buf, '\n') && !feof(in)) BAD("line too long (1023 characters at most)");
    /* '#' starts a comment, except in a frame index ("#17") */
    char *hash = buf;
    while ((hash = strchr(hash, '#')) && isdigit((unsigned char)hash[1]))
      hash++;
    if (hash) *hash = 0;
    char *tok[16];
    int nt = 0;
    for (char *p = strtok(buf, " \t\r\n"); p; p = strtok(NULL, " \t\r\n")) {
      if (nt == 16) BAD("too many fields");
      tok[nt++] = p;
    }
    if (nt == 0) continue;
    if (nt < 4)
      BAD("expected TIME WHERE KIND FRAME [key=value ...], e.g. '1.250000 client.up loss #17'");
    struct sim_fault f;
    memset(&f, 0, sizeof f);
    f.line = line;
    f.peer = -1;
    f.v2 = -1;
    if (parse_time(tok[0], &f.at) < 0)
      BAD("expected a time in seconds like 1.250000, not '%s'", tok[0]);
    int kind = -1;
    for (int k = 0; k < FK_KINDS; k++)
      if (!strcmp(tok[2], sim_fault_kind_names[k])) kind = k;
    if (kind < 0)
      BAD("unknown fault kind '%s': expected loss, burst, jitter, reorder, corrupt, duplicate, "
          "latency, drift, "
          "partition, heal or calm",
          tok[2]);
    f.kind = (enum sim_fault_kind)kind;
    const char *w = tok[1];
    if (frame_kind(f.kind) || f.kind == FK_LATENCY) {
      const char *dot = strrchr(w, '.');
      if (!dot || (strcmp(dot, ".up") && strcmp(dot, ".down")))
        BAD("%s: expected a link direction HOST.up or HOST.down, not '%s'", tok[2], w);
      f.down = !strcmp(dot, ".down");
      f.host = host_named(s, w, (size_t)(dot - w));
      if (f.host < 0) BAD("no host '%.*s' in the scenario", (int)(dot - w), w);
    } else if (f.kind == FK_CALM) {
      if (strcmp(w, "*")) BAD("calm: expected '*' (every link), not '%s'", w);
      f.host = -1;
    } else {
      f.host = host_named(s, w, strlen(w));
      if (f.host < 0) BAD("no host '%s' in the scenario", w);
    }
    if (frame_kind(f.kind)) {
      int64_t idx;
      if (tok[3][0] != '#' || parse_i64(tok[3] + 1, 1, INT64_MAX, &idx) < 0)
        BAD("%s: expected a frame index like #17, not '%s'", tok[2], tok[3]);
      f.frame = (uint64_t)idx;
    } else if (strcmp(tok[3], "-")) {
      BAD("%s: expected '-' in the frame column (it is not a frame fault), not '%s'", tok[2],
          tok[3]);
    }
    bool have_v1 = false, have_peer = false;
    for (int i = 4; i < nt; i++) {
      char *eq = strchr(tok[i], '=');
      if (!eq) BAD("expected key=value, not '%s'", tok[i]);
      *eq = 0;
      const char *k = tok[i], *v = eq + 1;
      if ((f.kind == FK_JITTER || f.kind == FK_REORDER || f.kind == FK_LATENCY) &&
          !strcmp(k, "us")) {
        if (parse_i64(v, 0, 100000000000ll, &f.v1) < 0)
          BAD("us: expected microseconds, not '%s'", v);
        have_v1 = true;
      } else if (f.kind == FK_CORRUPT && !strcmp(k, "bit")) {
        if (parse_i64(v, 112, 65535 * 8, &f.v1) < 0)
          BAD("bit: expected a bit offset 112..524280, not '%s'", v);
        have_v1 = true;
      } else if (f.kind == FK_CORRUPT && !strcmp(k, "bit2")) {
        if (parse_i64(v, 112, 65535 * 8, &f.v2) < 0)
          BAD("bit2: expected a bit offset 112..524280, not '%s'", v);
      } else if (f.kind == FK_DRIFT && !strcmp(k, "ppm")) {
        if (parse_i64(v, -100000, 100000, &f.v1) < 0)
          BAD("ppm: expected -100000..100000, not '%s'", v);
        have_v1 = true;
      } else if ((f.kind == FK_PARTITION || f.kind == FK_HEAL) && !strcmp(k, "peer")) {
        f.peer = strcmp(v, "*") ? host_named(s, v, strlen(v)) : -1;
        if (strcmp(v, "*") && f.peer < 0) BAD("peer: no host '%s' in the scenario", v);
        if (f.peer == f.host) BAD("peer: expected another host than '%s'", v);
        have_peer = true;
      } else if ((f.kind == FK_PARTITION || f.kind == FK_HEAL) && !strcmp(k, "one_way")) {
        if (strcmp(v, "yes") && strcmp(v, "no")) BAD("one_way: expected yes or no, not '%s'", v);
        f.one_way = !strcmp(v, "yes");
      } else {
        BAD("%s takes no key '%s'", tok[2], k);
      }
    }
    bool needs_v1 = f.kind == FK_JITTER || f.kind == FK_REORDER || f.kind == FK_LATENCY ||
                    f.kind == FK_CORRUPT || f.kind == FK_DRIFT;
    if (needs_v1 && !have_v1)
      BAD("%s needs %s", tok[2],
          f.kind == FK_CORRUPT ? "bit=N"
          : f.kind == FK_DRIFT ? "ppm=N"
                               : "us=N");
    if ((f.kind == FK_PARTITION || f.kind == FK_HEAL) && !have_peer)
      BAD("%s needs peer=HOST (or peer=*)", tok[2]);
    sim_fault_add(sc, &f);
  }
  if (ferror(in)) {
    fprintf(stderr, "%s: read error\n", path);
    goto fail;
  }
  fclose(in);
  return 0;
fail:
  fclose(in);
  sim_schedule_free(sc);
  return -1;
}

/* ---- setup: record swarm's draws, or apply a schedule's --------------------------------- */
void sim_faults_record_setup(struct sim *s, int nevents_before) {
  if (!s->faults_out) return;
  for (int i = 0; i < s->nhosts; i++) {
    struct sim_host *h = &s->hosts[i];
    struct sim_fault f;
    memset(&f, 0, sizeof f);
    f.host = i;
    f.peer = -1;
    f.v2 = -1;
    if (h->drift_ppm) {
      f.kind = FK_DRIFT;
      f.v1 = h->drift_ppm;
      sim_fault_add(s->faults_out, &f);
    }
    f.kind = FK_LATENCY;
    for (int d = 0; d < 2; d++) {
      f.down = d == 1;
      f.v1 = (d ? h->down_dir.f : h->up_dir.f).latency_us;
      sim_fault_add(s->faults_out, &f);
    }
  }
  for (int e = nevents_before; e < s->nevents; e++) {
    const struct sim_event_spec *sp = &s->events[e];
    struct sim_fault f;
    memset(&f, 0, sizeof f);
    f.at = sp->at;
    f.kind = sp->kind == EV_PARTITION ? FK_PARTITION : sp->kind == EV_HEAL ? FK_HEAL : FK_CALM;
    f.host = f.kind == FK_CALM ? -1 : sp->a;
    f.peer = sp->b;
    f.one_way = sp->one_way;
    f.v2 = -1;
    sim_fault_add(s->faults_out, &f);
  }
}

static int cmp_link_frame(const void *x, const void *y) {
  const struct sim_fault *a = x, *b = y;
  if (a->host != b->host) return a->host < b->host ? -1 : 1;
  if (a->down != b->down) return a->down ? 1 : -1;
  if (a->frame != b->frame) return a->frame < b->frame ? -1 : 1;
  return a->order < b->order ? -1 : a->order > b->order;
}

void sim_faults_apply_setup(struct sim *s) {
  const struct sim_schedule *sc = s->faults_in;
  size_t nframe = 0;
  for (size_t i = 0; i < sc->n; i++) {
    const struct sim_fault *f = &sc->f[i];
    if (frame_kind(f->kind)) {
      nframe++;
      continue;
    }
    struct sim_host *h = f->host >= 0 ? &s->hosts[f->host] : NULL;
    switch (f->kind) {
    case FK_DRIFT: h->drift_ppm = (int32_t)f->v1; break;
    case FK_LATENCY: (f->down ? &h->down_dir : &h->up_dir)->f.latency_us = (uint32_t)f->v1; break;
    case FK_PARTITION:
    case FK_HEAL:
    case FK_CALM: {
      struct sim_event_spec ev = {f->at,
                                  f->kind == FK_PARTITION ? EV_PARTITION
                                  : f->kind == FK_HEAL    ? EV_HEAL
                                                          : EV_CALM,
                                  f->host >= 0 ? f->host : 0, f->peer, f->one_way};
      s->events = realloc(s->events, (size_t)(s->nevents + 1) * sizeof *s->events);
      if (!s->events) abort();
      s->events[s->nevents++] = ev;
      /* as swarm does: flows get time to converge after the calm */
      if (f->kind == FK_CALM && s->swarm && s->duration_us < f->at + SIM_SWARM_CONVERGE_US)
        s->duration_us = f->at + SIM_SWARM_CONVERGE_US;
      break;
    }
    default: break;
    }
    if (s->faults_out) {
      struct sim_fault c = *f;
      c.line = 0;
      sim_fault_add(s->faults_out, &c);
    }
  }
  free(s->replay);
  s->replay = malloc((nframe ? nframe : 1) * sizeof *s->replay);
  if (!s->replay) abort();
  size_t k = 0;
  for (size_t i = 0; i < sc->n; i++)
    if (frame_kind(sc->f[i].kind)) s->replay[k++] = sc->f[i];
  qsort(s->replay, nframe, sizeof *s->replay, cmp_link_frame);
  for (int i = 0; i < s->nhosts; i++) {
    s->hosts[i].up_dir.rp = s->hosts[i].up_dir.rend = s->replay;
    s->hosts[i].down_dir.rp = s->hosts[i].down_dir.rend = s->replay;
  }
  for (size_t a = 0; a < nframe;) {
    size_t b = a;
    while (b < nframe && s->replay[b].host == s->replay[a].host &&
           s->replay[b].down == s->replay[a].down)
      b++;
    struct sim_host *h = &s->hosts[s->replay[a].host];
    struct sim_link_dir *d = s->replay[a].down ? &h->down_dir : &h->up_dir;
    d->rp = s->replay + a;
    d->rend = s->replay + b;
    a = b;
  }
}
