/*
 * microtcp-sim shrink: from a failing seed, find a small scenario and a small
 * fault schedule that still fail the same way (same invariant or liveness
 * check, same flow or host), by delta debugging (Zeller and Hildebrandt's
 * ddmin) within a wall-time budget.
 *
 * It works on text: the scenario as INI lines, the schedule as its lines, so
 * what it writes is what a person reads. The phases:
 *   1. the scenario, drawing faults from the seed: drop flows, events,
 *      attackers, links, hosts and segments, shrink transfer sizes, counts, groups and the
 *      duration (each accepted step records the run's schedule afresh);
 *   2. the schedule, replayed: drop whole kinds of faults (all jitter, ...),
 *      then ddmin over the remaining lines;
 *   3. the scenario again, replaying the small schedule (a host removed takes
 *      its lines with it), then ddmin once more if that helped.
 * Hosts keep their addresses: before anything is removed, every host section
 * gets its ip and mac written out, since the defaults count by position.
 */
#include "shrink.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

/* ---- lines of text -------------------------------------------------------------------- */
struct text {
  char **l;
  int n, cap;
};

static void text_add(struct text *t, const char *line) {
  if (t->n == t->cap) {
    t->cap = t->cap ? t->cap * 2 : 64;
    t->l = realloc(t->l, (size_t)t->cap * sizeof *t->l);
    if (!t->l) abort();
  }
  t->l[t->n] = strdup(line);
  if (!t->l[t->n]) abort();
  t->n++;
}

static void text_insert(struct text *t, int at, const char *line) {
  text_add(t, line);
  char *x = t->l[t->n - 1];
  memmove(t->l + at + 1, t->l + at, (size_t)(t->n - 1 - at) * sizeof *t->l);
  t->l[at] = x;
}

static void text_free(struct text *t) {
  for (int i = 0; i < t->n; i++)
    free(t->l[i]);
  free(t->l);
  memset(t, 0, sizeof *t);
}

static struct text text_copy(const struct text *t) {
  struct text c = {0};
  for (int i = 0; i < t->n; i++)
    text_add(&c, t->l[i]);
  return c;
}

static int text_read(const char *path, struct text *t, bool data_only) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char buf[2048];
  while (fgets(buf, sizeof buf, f)) {
    buf[strcspn(buf, "\r\n")] = 0;
    if (data_only) {
      const char *p = buf;
      while (isspace((unsigned char)*p))
        p++;
      if (!*p || *p == '#') continue;
    }
    text_add(t, buf);
  }
  fclose(f);
  return 0;
}

static int text_write(const char *path, const struct text *t, const char *header) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  if (header) fputs(header, f);
  for (int i = 0; i < t->n; i++)
    fprintf(f, "%s\n", t->l[i]);
  return fclose(f) == 0 ? 0 : -1;
}

/* ---- the scenario as INI sections ----------------------------------------------------- */
/* Section header at line i: "[kind name]" → kind, name. */
static bool section_at(const struct text *t, int i, char *kind, size_t nk, char *name, size_t nn) {
  const char *p = t->l[i];
  while (isspace((unsigned char)*p))
    p++;
  if (*p != '[') return false;
  const char *close = strchr(p, ']');
  if (!close) return false;
  char inner[256];
  snprintf(inner, sizeof inner, "%.*s", (int)(close - p - 1), p + 1);
  char *sp = strchr(inner, ' ');
  if (sp) *sp = 0;
  snprintf(kind, nk, "%.63s", inner);
  snprintf(name, nn, "%s", sp ? sp + 1 : "");
  return true;
}

static int section_end(const struct text *t, int head) {
  char k[64], n[192];
  int i = head + 1;
  while (i < t->n && !section_at(t, i, k, sizeof k, n, sizeof n))
    i++;
  return i;
}

/* The headers of one kind of section, in order (at most max). */
static int sections_of(const struct text *t, const char *kind, int *heads, int max) {
  int n = 0;
  char k[64], nm[192];
  for (int i = 0; i < t->n && n < max; i++)
    if (section_at(t, i, k, sizeof k, nm, sizeof nm) && !strcmp(k, kind)) heads[n++] = i;
  return n;
}

static void section_remove(struct text *t, int head) {
  int end = section_end(t, head);
  for (int i = head; i < end; i++)
    free(t->l[i]);
  memmove(t->l + head, t->l + end, (size_t)(t->n - end) * sizeof *t->l);
  t->n -= end - head;
}

/* key = value (inline comments after ';' or '#' dropped). */
static bool line_key(const char *line, char *key, size_t nk, char *val, size_t nv) {
  const char *p = line;
  while (isspace((unsigned char)*p))
    p++;
  if (!*p || *p == ';' || *p == '#' || *p == '[') return false;
  const char *eq = strchr(p, '=');
  if (!eq) return false;
  const char *ke = eq;
  while (ke > p && isspace((unsigned char)ke[-1]))
    ke--;
  snprintf(key, nk, "%.*s", (int)(ke - p), p);
  const char *v = eq + 1;
  while (isspace((unsigned char)*v))
    v++;
  size_t len = strcspn(v, ";#");
  while (len && isspace((unsigned char)v[len - 1]))
    len--;
  snprintf(val, nv, "%.*s", (int)len, v);
  return true;
}

static int key_line(const struct text *t, int head, const char *key) {
  int end = section_end(t, head);
  char k[64], v[256];
  for (int i = head + 1; i < end; i++)
    if (line_key(t->l[i], k, sizeof k, v, sizeof v) && !strcmp(k, key)) return i;
  return -1;
}

static bool key_get(const struct text *t, int head, const char *key, char *val, size_t nv) {
  int i = key_line(t, head, key);
  char k[64];
  return i >= 0 && line_key(t->l[i], k, sizeof k, val, nv);
}

static void key_set(struct text *t, int head, const char *key, const char *val) {
  char line[320];
  snprintf(line, sizeof line, "%s = %s", key, val);
  int i = key_line(t, head, key);
  if (i >= 0) {
    free(t->l[i]);
    t->l[i] = strdup(line);
    if (!t->l[i]) abort();
  } else {
    text_insert(t, head + 1, line);
  }
}

/* ---- the schedule's lines ------------------------------------------------------------- */
/* Field k (0-based) of a schedule line. */
static bool sched_field(const char *line, int k, char *out, size_t n) {
  const char *p = line;
  for (int i = 0;; i++) {
    while (isspace((unsigned char)*p))
      p++;
    if (!*p || *p == '#') return false;
    size_t len = strcspn(p, " \t");
    if (i == k) {
      snprintf(out, n, "%.*s", (int)len, p);
      return true;
    }
    p += len;
  }
}

/* ---- the search ---------------------------------------------------------------------- */
struct shrinker {
  const struct shrink_opts *o;
  char dir[64];
  char scen_path[128], faults_path[128], rec_path[128];
  struct shrink_result want;
  uint64_t t0;
  unsigned runs;
  bool out_of_time;
  struct text scen;  /* the current scenario */
  struct text sched; /* the current schedule (data lines) */
  bool replay;       /* phase 2/3: runs replay sched */
};

static uint64_t wall_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static bool same_failure(const struct shrink_result *a, const struct shrink_result *b) {
  return a->code == b->code && !strcmp(a->failure, b->failure) &&
         a->liveness_too == b->liveness_too;
}

/* Run a candidate (scenario, and in replay mode a schedule); true if it fails
 * the same way. In seed mode an accepted run's schedule is in rec_path. */
static bool try_run(struct shrinker *k, const struct text *scen, const struct text *sched) {
  if (k->out_of_time || wall_us() - k->t0 >= k->o->budget_us) {
    k->out_of_time = true;
    return false;
  }
  if (text_write(k->scen_path, scen, NULL) < 0) return false;
  if (k->replay && text_write(k->faults_path, sched, NULL) < 0) return false;
  struct shrink_result r;
  memset(&r, 0, sizeof r);
  k->runs++;
  k->o->run(k->o->ctx, k->scen_path, k->replay ? k->faults_path : NULL,
            k->replay ? NULL : k->rec_path, &r);
  return same_failure(&r, &k->want);
}

/* Accept a scenario candidate: it becomes current (and, in seed mode, the
 * schedule it recorded). In replay mode the schedule loses the lines of
 * hosts the candidate no longer has. */
static bool try_scenario(struct shrinker *k, struct text *cand) {
  struct text sched = {0};
  if (k->replay) { /* drop the lines of hosts the candidate no longer has */
    if (text_write(k->scen_path, cand, NULL) < 0) {
      text_free(cand);
      return false;
    }
    struct sim s;
    memset(&s, 0, sizeof s);
    fflush(stderr);
    int saved = dup(2), null = open("/dev/null", O_WRONLY);
    if (null >= 0) dup2(null, 2);
    int rc = sim_scenario_load(&s, k->scen_path);
    fflush(stderr);
    if (saved >= 0) dup2(saved, 2);
    if (saved >= 0) close(saved);
    if (null >= 0) close(null);
    if (rc < 0) {
      sim_free(&s);
      text_free(cand);
      k->runs++;
      return false;
    }
    for (int i = 0; i < k->sched.n; i++) {
      bool gone = false;
      char w[160];
      /* where (HOST, HOST.up, HOST.down, *) and peer=HOST must exist */
      if (sched_field(k->sched.l[i], 1, w, sizeof w) && strcmp(w, "*")) {
        char *dot = strrchr(w, '.');
        if (dot && (!strcmp(dot, ".up") || !strcmp(dot, ".down"))) *dot = 0;
        gone = true;
        for (int h = 0; h < s.nhosts && gone; h++)
          gone = strcmp(s.hosts[h].name, w) != 0;
      }
      for (int f = 4; !gone && sched_field(k->sched.l[i], f, w, sizeof w); f++)
        if (!strncmp(w, "peer=", 5) && strcmp(w + 5, "*")) {
          gone = true;
          for (int h = 0; h < s.nhosts && gone; h++)
            gone = strcmp(s.hosts[h].name, w + 5) != 0;
        }
      if (!gone) text_add(&sched, k->sched.l[i]);
    }
    sim_free(&s);
  }
  bool ok = try_run(k, cand, &sched);
  if (ok) {
    text_free(&k->scen);
    k->scen = *cand;
    *cand = (struct text){0};
    if (k->replay) {
      text_free(&k->sched);
      k->sched = sched;
      sched = (struct text){0};
    } else {
      text_free(&k->sched);
      text_read(k->rec_path, &k->sched, true);
    }
  }
  text_free(cand);
  text_free(&sched);
  return ok;
}

/* The [flow] section a flow name comes from (NAME or, for a group, NAME.k). */
static bool flow_section_of(const char *flow, const struct text *t, int head) {
  char kind[64], name[192];
  section_at(t, head, kind, sizeof kind, name, sizeof name);
  size_t n = strlen(name);
  if (!strcmp(flow, name)) return true;
  if (strncmp(flow, name, n) || flow[n] != '.') return false;
  for (const char *p = flow + n + 1; *p; p++)
    if (!isdigit((unsigned char)*p)) return false;
  return flow[n + 1] != 0;
}

/* Remove sections of a kind: first all at once (keeping the failing flow's),
 * then one by one. */
static void shrink_sections(struct shrinker *k, const char *kind) {
  char subject[160] = "";
  const char *fl = strstr(k->want.failure, "flow ");
  if (fl) snprintf(subject, sizeof subject, "%s", fl + 5);
  int heads[4096];
  int n = sections_of(&k->scen, kind, heads, 4096);
  if (n > 1 || (n == 1 && strcmp(kind, "flow"))) {
    struct text c = text_copy(&k->scen);
    for (int i = n - 1; i >= 0; i--)
      if (strcmp(kind, "flow") || !subject[0] || !flow_section_of(subject, &c, heads[i]))
        section_remove(&c, heads[i]);
    if (c.n != k->scen.n)
      try_scenario(k, &c);
    else
      text_free(&c);
  }
  for (int i = sections_of(&k->scen, kind, heads, 4096) - 1; i >= 0 && !k->out_of_time; i--) {
    n = sections_of(&k->scen, kind, heads, 4096);
    if (i >= n) continue;
    struct text c = text_copy(&k->scen);
    section_remove(&c, heads[i]);
    try_scenario(k, &c);
  }
}

/* A group flow (client = a group G: flows X.0, X.1, ...) failing in member
 * X.k: that member alone, as [flow X.k] with client = Gk (the same name, so
 * the same flow seed and the same identity). */
static void single_member_flow(struct shrinker *k) {
  const char *fl = strstr(k->want.failure, "flow ");
  if (!fl) return;
  char subject[160];
  snprintf(subject, sizeof subject, "%s", fl + 5);
  char *sp = strchr(subject, ' ');
  if (sp) *sp = 0;
  char *dot = strrchr(subject, '.');
  if (!dot || !dot[1] || strspn(dot + 1, "0123456789") != strlen(dot + 1)) return;
  int heads[4096];
  int n = sections_of(&k->scen, "flow", heads, 4096);
  for (int i = 0; i < n; i++) {
    char kind[64], name[192], client[256];
    section_at(&k->scen, heads[i], kind, sizeof kind, name, sizeof name);
    if (strlen(name) != (size_t)(dot - subject) || strncmp(name, subject, (size_t)(dot - subject)))
      continue;
    if (!key_get(&k->scen, heads[i], "client", client, sizeof client)) return;
    struct text c = text_copy(&k->scen);
    char line[400];
    snprintf(line, sizeof line, "[flow %s]", subject);
    free(c.l[heads[i]]);
    c.l[heads[i]] = strdup(line);
    snprintf(line, sizeof line, "%.200s%s", client, dot + 1);
    key_set(&c, heads[i], "client", line);
    try_scenario(k, &c);
    return;
  }
}

/* Halve a numeric key (sizes in bytes, counts) while the failure stays. */
static void shrink_number(struct shrinker *k, const char *kind, const char *key, uint64_t floor) {
  int heads[4096];
  int n = sections_of(&k->scen, kind, heads, 4096);
  for (int i = 0; i < n && !k->out_of_time; i++) {
    for (;;) {
      n = sections_of(&k->scen, kind, heads, 4096);
      if (i >= n) break;
      char v[256];
      uint64_t x;
      if (!key_get(&k->scen, heads[i], key, v, sizeof v)) {
        if (!strcmp(key, "bytes") && strcmp(kind, "flow") == 0)
          x = 1000000; /* the default */
        else
          break;
      } else {
        char *end;
        x = strtoull(v, &end, 10);
        uint64_t mult = 1;
        if (!strcasecmp(end, "KB"))
          mult = 1000;
        else if (!strcasecmp(end, "MB"))
          mult = 1000000;
        else if (!strcasecmp(end, "GB"))
          mult = 1000000000;
        else if (!strcasecmp(end, "KiB"))
          mult = 1024;
        else if (!strcasecmp(end, "MiB"))
          mult = 1048576;
        else if (!strcasecmp(end, "GiB"))
          mult = 1073741824;
        else if (*end)
          break;
        x *= mult;
      }
      if (x / 2 < floor) break;
      char nv[32];
      snprintf(nv, sizeof nv, "%" PRIu64, x / 2);
      struct text c = text_copy(&k->scen);
      key_set(&c, heads[i], key, nv);
      if (!try_scenario(k, &c)) break;
    }
  }
}

static void shrink_duration(struct shrinker *k) {
  if (strstr(k->want.failure, "still running"))
    return; /* a shorter run would fail that way trivially */
  int heads[4];
  if (sections_of(&k->scen, "sim", heads, 4) != 1) return;
  for (;;) {
    char v[256];
    uint64_t us = 60000000;
    if (key_get(&k->scen, heads[0], "duration", v, sizeof v) && sim_parse_duration(v, &us) < 0)
      return;
    if (us / 2 < 100000) return;
    char nv[32];
    snprintf(nv, sizeof nv, "%" PRIu64 "ms", us / 2 / 1000);
    struct text c = text_copy(&k->scen);
    key_set(&c, heads[0], "duration", nv);
    if (!try_scenario(k, &c)) return;
    sections_of(&k->scen, "sim", heads, 4);
  }
}

static void shrink_scenario(struct shrinker *k) {
  shrink_sections(k, "flow");
  single_member_flow(k);
  shrink_sections(k, "event");
  shrink_sections(k, "attacker");
  shrink_sections(k, "link");
  shrink_sections(k, "host");
  shrink_sections(k, "segment");
  shrink_number(k, "flow", "connections", 1);
  shrink_number(k, "flow", "bytes", 1000);
  shrink_number(k, "flow", "count", 1);
  shrink_number(k, "host", "count", 2);
  shrink_duration(k);
}

/* ddmin over the schedule's lines (replay mode). */
static bool try_lines(struct shrinker *k, char **lines, int n) {
  struct text t = {lines, n, n};
  return try_run(k, &k->scen, &t);
}

static void set_sched(struct shrinker *k, char **lines, int n) {
  struct text t = {0};
  for (int i = 0; i < n; i++)
    text_add(&t, lines[i]);
  text_free(&k->sched);
  k->sched = t;
}

static void ddmin(struct shrinker *k) {
  if (k->sched.n == 0) return;
  if (try_lines(k, NULL, 0)) { /* the failure needs no fault at all */
    set_sched(k, NULL, 0);
    return;
  }
  /* whole kinds first: all jitter, all duplicates, ... */
  static const char *const kinds[] = {"jitter",  "latency", "drift", "duplicate",
                                      "reorder", "corrupt", "calm",  "partition",
                                      "heal",    "burst",   "loss"};
  for (size_t kk = 0; kk < sizeof kinds / sizeof *kinds && !k->out_of_time; kk++) {
    char **keep = malloc((size_t)(k->sched.n ? k->sched.n : 1) * sizeof *keep);
    int nk = 0;
    char f[32];
    for (int i = 0; i < k->sched.n; i++)
      if (!sched_field(k->sched.l[i], 2, f, sizeof f) || strcmp(f, kinds[kk]))
        keep[nk++] = k->sched.l[i];
    if (nk < k->sched.n && try_lines(k, keep, nk)) set_sched(k, keep, nk);
    free(keep);
  }
  int gran = 2;
  while (k->sched.n >= 2 && !k->out_of_time) {
    int n = k->sched.n;
    if (gran > n) gran = n;
    bool reduced = false;
    char **sub = malloc((size_t)n * sizeof *sub);
    /* subsets, then complements */
    for (int pass = 0; pass < 2 && !reduced && !k->out_of_time; pass++) {
      for (int c = 0; c < gran && !k->out_of_time; c++) {
        int lo = (int)((int64_t)n * c / gran), hi = (int)((int64_t)n * (c + 1) / gran);
        int m = 0;
        for (int i = 0; i < n; i++)
          if ((i >= lo && i < hi) == (pass == 0)) sub[m++] = k->sched.l[i];
        if (m == 0 || m == n) continue;
        if (pass == 0 && gran == 2) continue; /* the complement pass tries these */
        if (try_lines(k, sub, m)) {
          set_sched(k, sub, m);
          gran = pass == 0 ? 2 : (gran - 1 > 2 ? gran - 1 : 2);
          reduced = true;
          break;
        }
      }
    }
    free(sub);
    if (!reduced) {
      if (gran >= n) break;
      gran = gran * 2 < n ? gran * 2 : n;
    }
  }
  if (k->sched.n == 1 && !k->out_of_time && try_lines(k, NULL, 0)) set_sched(k, NULL, 0);
}

/* Every host section gets its address written out (from a load of the
 * scenario), so removing one host leaves the others' addresses as they were. */
static void pin_addresses(struct text *t, const char *path) {
  struct sim s;
  memset(&s, 0, sizeof s);
  if (sim_scenario_load(&s, path) < 0) {
    sim_free(&s);
    return;
  }
  static const char *const kinds[] = {"host", "attacker"};
  for (int kk = 0; kk < 2; kk++) {
    int heads[4096];
    int n = sections_of(t, kinds[kk], heads, 4096);
    for (int i = n - 1; i >= 0; i--) {
      char kind[64], name[192], v[256], first[200];
      section_at(t, heads[i], kind, sizeof kind, name, sizeof name);
      uint64_t count = key_get(t, heads[i], "count", v, sizeof v) ? strtoull(v, NULL, 10) : 1;
      if (count > 1 &&
          count <= 1000) { /* a group: one section per member, so members can go one by one */
        int end = section_end(t, heads[i]);
        struct text body = {0};
        char k2[64], v2[256];
        for (int j = heads[i] + 1; j < end; j++)
          if (!line_key(t->l[j], k2, sizeof k2, v2, sizeof v2) ||
              (strcmp(k2, "count") && strcmp(k2, "ip") && strcmp(k2, "mac")))
            text_add(&body, t->l[j]);
        section_remove(t, heads[i]);
        for (uint64_t m = count; m-- > 0;) {
          char hn[256], line[320];
          snprintf(hn, sizeof hn, "%.190s%" PRIu64, name, m);
          const struct sim_host *h = NULL;
          for (int j = 0; j < s.nhosts; j++)
            if (!strcmp(s.hosts[j].name, hn)) h = &s.hosts[j];
          if (!h) continue;
          for (int j = body.n - 1; j >= 0; j--)
            text_insert(t, heads[i], body.l[j]);
          const uint8_t *mc = h->cfg.mac;
          uint32_t ip = h->cfg.ip;
          snprintf(line, sizeof line, "mac = %02x:%02x:%02x:%02x:%02x:%02x ; pinned by shrink",
                   mc[0], mc[1], mc[2], mc[3], mc[4], mc[5]);
          text_insert(t, heads[i], line);
          snprintf(line, sizeof line,
                   "ip = %u.%u.%u.%u ; pinned by shrink (group %s, member %" PRIu64 ")", ip >> 24,
                   ip >> 16 & 255, ip >> 8 & 255, ip & 255, name, m);
          text_insert(t, heads[i], line);
          snprintf(line, sizeof line, "[%.60s %.200s]", kind, hn);
          text_insert(t, heads[i], line);
        }
        text_free(&body);
        continue;
      }
      bool group = count > 1;
      snprintf(first, sizeof first, group ? "%s0" : "%s", name);
      const struct sim_host *h = NULL;
      for (int j = 0; j < s.nhosts; j++)
        if (!strcmp(s.hosts[j].name, first)) h = &s.hosts[j];
      if (!h) continue;
      if (key_line(t, heads[i], "mac") < 0) {
        const uint8_t *m = h->cfg.mac;
        char line[300];
        snprintf(line, sizeof line, "mac = %02x:%02x:%02x:%02x:%02x:%02x ; pinned by shrink", m[0],
                 m[1], m[2], m[3], m[4], m[5]);
        text_insert(t, heads[i] + 1, line);
      }
      if (key_line(t, heads[i], "ip") < 0) {
        uint32_t ip = h->cfg.ip;
        char line[300];
        snprintf(line, sizeof line, "ip = %u.%u.%u.%u ; pinned by shrink", ip >> 24, ip >> 16 & 255,
                 ip >> 8 & 255, ip & 255);
        text_insert(t, heads[i] + 1, line);
      }
    }
  }
  sim_free(&s);
}

static int count_sections(const struct text *t, const char *kind) {
  int heads[4096];
  return sections_of(t, kind, heads, 4096);
}

static void cleanup(struct shrinker *k) {
  unlink(k->scen_path);
  unlink(k->faults_path);
  unlink(k->rec_path);
  rmdir(k->dir);
  text_free(&k->scen);
  text_free(&k->sched);
}

int sim_shrink(const struct shrink_opts *o) {
  struct shrinker k;
  memset(&k, 0, sizeof k);
  k.o = o;
  k.t0 = wall_us();
  snprintf(k.dir, sizeof k.dir, "/tmp/microtcp-shrink-XXXXXX");
  if (!mkdtemp(k.dir)) {
    fprintf(stderr, "microtcp-sim: shrink: cannot create a directory in /tmp: %s\n",
            strerror(errno));
    return 2;
  }
  snprintf(k.scen_path, sizeof k.scen_path, "%s/candidate.ini", k.dir);
  snprintf(k.faults_path, sizeof k.faults_path, "%s/candidate.faults", k.dir);
  snprintf(k.rec_path, sizeof k.rec_path, "%s/recorded.faults", k.dir);
  if (text_read(o->scenario, &k.scen, false) < 0) {
    fprintf(stderr, "%s: cannot open scenario\n", o->scenario);
    cleanup(&k);
    return 2;
  }
  /* The run to shrink: its failure, its schedule. */
  struct shrink_result first;
  memset(&first, 0, sizeof first);
  k.runs++;
  o->run(o->ctx, o->scenario, NULL, k.rec_path, &first);
  if (first.code == 2) {
    cleanup(&k);
    return 2;
  }
  if (first.code == 0) {
    fprintf(stderr, "microtcp-sim: shrink: seed %" PRIu64 " passes: nothing to shrink\n", o->seed);
    cleanup(&k);
    return 2;
  }
  k.want = first;
  text_read(k.rec_path, &k.sched, true);
  int faults0 = k.sched.n;
  fprintf(stderr, "shrink: failure: %s (exit %d); %d flows, %d hosts, %d faults\n", first.failure,
          first.code, first.nflows, first.nhosts, faults0);
  /* Pin the addresses; if that changed the run (it should not), go without. */
  struct text pinned = text_copy(&k.scen);
  pin_addresses(&pinned, o->scenario);
  if (!try_scenario(&k, &pinned) && !k.out_of_time)
    fprintf(stderr,
            "shrink: the scenario with its addresses written out fails differently; not pinning\n");
  /* 1: the scenario, faults drawn from the seed */
  shrink_scenario(&k);
  /* 2: the schedule, replayed */
  k.replay = true;
  if (!try_run(&k, &k.scen, &k.sched) && !k.out_of_time) {
    fprintf(stderr,
            "microtcp-sim: shrink: the recorded schedule does not reproduce the failure (a bug: "
            "replay must be exact)\n");
    cleanup(&k);
    return 2;
  }
  ddmin(&k);
  /* 3: the scenario again, with the small schedule */
  int before = k.scen.n;
  shrink_scenario(&k);
  if (k.scen.n != before) ddmin(&k);
  /* Write the result: the scenario as is, the schedule re-recorded from a
   * replay of it (so each line's note names the frame it hits now). */
  char ini[1100], faults[1100];
  const char *prefix = o->out ? o->out : "shrunk";
  snprintf(ini, sizeof ini, "%s.ini", prefix);
  snprintf(faults, sizeof faults, "%s.faults", prefix);
  char header[1600];
  snprintf(header, sizeof header,
           "; shrunk by microtcp-sim shrink from %s --seed %" PRIu64 "%s%s%s\n; failure: %s\n",
           o->scenario, o->seed, o->swarm ? " --swarm" : "", o->inject_bug ? " --inject-bug " : "",
           o->inject_bug ? o->inject_bug : "", k.want.failure);
  if (text_write(ini, &k.scen, header) < 0) {
    fprintf(stderr, "microtcp-sim: shrink: cannot write %s: %s\n", ini, strerror(errno));
    cleanup(&k);
    return 2;
  }
  struct shrink_result fin;
  memset(&fin, 0, sizeof fin);
  if (!k.out_of_time) { /* (out of time: the lines keep the notes they were recorded with) */
    text_write(k.faults_path, &k.sched, NULL);
    o->run(o->ctx, ini, k.faults_path, k.rec_path, &fin);
    k.runs++;
    struct text rec = {0};
    if (same_failure(&fin, &k.want) && text_read(k.rec_path, &rec, true) == 0) {
      text_free(&k.sched);
      k.sched = rec;
    } else {
      text_free(&rec);
    }
  }
  char fheader[1800];
  snprintf(fheader, sizeof fheader,
           "# microtcp-sim fault schedule: %d faults (shrunk from %d)\n# failure: %s\n"
           "# time (s)     where                kind       frame     parameters  # the frame\n",
           k.sched.n, faults0, k.want.failure);
  if (text_write(faults, &k.sched, fheader) < 0) {
    fprintf(stderr, "microtcp-sim: shrink: cannot write %s: %s\n", faults, strerror(errno));
    cleanup(&k);
    return 2;
  }
  /* the files as written reproduce it (checked, not assumed) */
  memset(&fin, 0, sizeof fin);
  o->run(o->ctx, ini, faults, NULL, &fin);
  k.runs++;
  double secs = (double)(wall_us() - k.t0) / 1e6;
  printf("shrink: failure: %s\n", k.want.failure);
  printf("shrink: faults %d -> %d, flows %d -> %d, hosts %d -> %d; %u runs, %.1f s%s\n", faults0,
         k.sched.n, first.nflows, fin.nflows, first.nhosts, fin.nhosts, k.runs, secs,
         k.out_of_time ? " (budget used up: the result is smaller, not minimal)" : "");
  printf("shrink: wrote %s (%d flow sections, %d event sections) and %s\n", ini,
         count_sections(&k.scen, "flow"), count_sections(&k.scen, "event"), faults);
  int rc = 0;
  if (!same_failure(&fin, &k.want)) {
    fprintf(stderr,
            "microtcp-sim: shrink: the written files fail as '%s' (exit %d), not as '%s': a bug\n",
            fin.failure, fin.code, k.want.failure);
    rc = 2;
  }
  printf("reproduce: microtcp-sim run %s --seed %" PRIu64 "%s%s%s%s%s --faults-in %s\n", ini,
         o->seed, o->swarm ? " --swarm" : "", o->until ? " --until " : "", o->until ? o->until : "",
         o->inject_bug ? " --inject-bug " : "", o->inject_bug ? o->inject_bug : "", faults);
  cleanup(&k);
  return rc;
}
