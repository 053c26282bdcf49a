/*
 * Scenario files: INI (parsed by libinih), documented in sim/README.md.
 * All entries are read first (with their line numbers), then applied in a fixed
 * order ([sim], [defaults], [segment]; [host]; [link], [flow]; [event]) so
 * errors can name file:line and what was expected.
 */
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

struct entry {
  char section[64], key[64], value[192];
  int line;
};

struct reader {
  FILE *f;
  int line;
  struct entry *e;
  size_t n, cap;
  const char *path;
  int error;
  int *host_line, *flow_line; /* the [host]/[flow] section line of each host and flow */
};

static int on_entry(void *user, const char *section, const char *name, const char *value);

/* libinih reports keys only, so an empty section ([host p] with no keys)
 * would vanish: every section header line also becomes an entry with an
 * empty key (a "marker"), which the loader skips where it reads keys. */
static char *read_line(char *str, int num, void *stream) {
  struct reader *r = stream;
  char *p = fgets(str, num, r->f);
  if (!p) return p;
  r->line++;
  const char *t = p;
  while (*t == ' ' || *t == '\t') t++;
  const char *close = *t == '[' ? strchr(t, ']') : NULL;
  if (close) {
    char sec[64];
    snprintf(sec, sizeof sec, "%.*s", (int)(close - t - 1), t + 1);
    if (!on_entry(r, sec, "", "")) return NULL;
  }
  return p;
}

static int on_entry(void *user, const char *section, const char *name, const char *value) {
  struct reader *r = user;
  if (r->n == r->cap) {
    r->cap = r->cap ? r->cap * 2 : 64;
    r->e = realloc(r->e, r->cap * sizeof *r->e);
    if (!r->e) return 0;
  }
  struct entry *e = &r->e[r->n++];
  snprintf(e->section, sizeof e->section, "%s", section);
  snprintf(e->key, sizeof e->key, "%s", name);
  snprintf(e->value, sizeof e->value, "%s", value);
  e->line = r->line;
  return 1;
}

static int errf(const struct reader *r, const struct entry *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s:%d: ", r->path, e ? e->line : 0);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return -1;
}

/* ---- values ------------------------------------------------------------------------------ */
/* Decimal with an optional fraction, scaled by 10^6, integers only. */
static int parse_fixed6(const char *s, uint64_t *out, const char **rest) {
  uint64_t ip = 0, frac = 0, scale = 1000000;
  const char *p = s;
  if (*p < '0' || *p > '9') {
    if (*p != '.') return -1;
  }
  while (*p >= '0' && *p <= '9') {
    ip = ip * 10 + (uint64_t)(*p - '0');
    if (ip > 1000000000000ull) return -1;
    p++;
  }
  if (*p == '.') {
    p++;
    while (*p >= '0' && *p <= '9') {
      if (scale > 1) {
        scale /= 10;
        frac += (uint64_t)(*p - '0') * scale;
      }
      p++;
    }
  }
  *out = ip * 1000000 + frac;
  *rest = p;
  return 0;
}

int sim_parse_duration(const char *s, uint64_t *us) {
  uint64_t v;
  const char *u;
  if (parse_fixed6(s, &v, &u) < 0) return -1;
  if (strcmp(u, "us") == 0) *us = v / 1000000;
  else if (strcmp(u, "ms") == 0) *us = v / 1000;
  else if (strcmp(u, "s") == 0 || *u == 0) *us = v;
  else if (strcmp(u, "min") == 0) *us = v * 60;
  else return -1;
  return 0;
}

static int parse_size(const char *s, uint64_t *bytes) {
  uint64_t v;
  const char *u;
  if (parse_fixed6(s, &v, &u) < 0) return -1;
  uint64_t mul = 1;
  if (*u == 0 || strcmp(u, "B") == 0) mul = 1;
  else if (strcmp(u, "KB") == 0 || strcmp(u, "kB") == 0) mul = 1000;
  else if (strcmp(u, "KiB") == 0) mul = 1024;
  else if (strcmp(u, "MB") == 0) mul = 1000000;
  else if (strcmp(u, "MiB") == 0) mul = 1048576;
  else if (strcmp(u, "GB") == 0) mul = 1000000000;
  else if (strcmp(u, "GiB") == 0) mul = 1073741824;
  else return -1;
  *bytes = v / 1000000 * mul + (v % 1000000) * mul / 1000000;
  return 0;
}

static int parse_rate(const char *s, uint64_t *bps) {
  uint64_t v;
  const char *u;
  if (parse_fixed6(s, &v, &u) < 0) return -1;
  uint64_t mul;
  if (strcmp(u, "bit") == 0 || strcmp(u, "bps") == 0) mul = 1;
  else if (strcmp(u, "kbit") == 0) mul = 1000;
  else if (strcmp(u, "mbit") == 0 || strcmp(u, "Mbit") == 0) mul = 1000000;
  else if (strcmp(u, "gbit") == 0 || strcmp(u, "Gbit") == 0) mul = 1000000000;
  else return -1;
  *bps = v / 1000000 * mul + (v % 1000000) * mul / 1000000;
  return 0;
}

/* "1%", "0.25%" or "0.01" → parts per million. */
static int parse_prob(const char *s, uint32_t *ppm) {
  uint64_t v;
  const char *u;
  if (parse_fixed6(s, &v, &u) < 0) return -1;
  if (strcmp(u, "%") == 0) v /= 100;
  else if (*u) return -1;
  if (v > SIM_PPM) return -1;
  *ppm = (uint32_t)v;
  return 0;
}

static int parse_uint(const char *s, uint64_t max, uint64_t *out) {
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (*s == 0 || *end || v > max || *s == '-') return -1;
  *out = v;
  return 0;
}

static int parse_bool(const char *s, bool *out) {
  if (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "on")) *out = true;
  else if (!strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "off")) *out = false;
  else return -1;
  return 0;
}

static int parse_ip(const char *s, uint32_t *ip) {
  unsigned a, b, c, d;
  char tail;
  if (sscanf(s, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4 || a > 255 || b > 255 || c > 255 || d > 255)
    return -1;
  *ip = a << 24 | b << 16 | c << 8 | d;
  return 0;
}

static int parse_mac(const char *s, uint8_t mac[6]) {
  unsigned m[6];
  char tail;
  if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5], &tail) != 6)
    return -1;
  for (int i = 0; i < 6; i++) {
    if (m[i] > 255) return -1;
    mac[i] = (uint8_t)m[i];
  }
  if (mac[0] & 1) return -1; /* a group address cannot be a host's */
  return 0;
}

uint64_t sim_name_id(const char *name) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (; *name; name++) h = (h ^ (uint8_t)*name) * 0x100000001b3ull;
  return h;
}

/* ---- host settings: link faults and stack knobs -------------------------------------------- */
struct host_tmpl {
  struct sim_faults up, down;
  microtcp_config cfg;
  int32_t drift_ppm;
  int segment;         /* -1 = the default switch (or a [link]) */
  bool have_mac;
  uint8_t mac[6];
};

static int fault_key(struct sim_faults *f, const char *k, const char *v) {
  uint64_t x;
  if (!strcmp(k, "loss")) return parse_prob(v, &f->loss_ppm);
  if (!strcmp(k, "burst_p")) return parse_prob(v, &f->ge_p_ppm);
  if (!strcmp(k, "burst_r")) return parse_prob(v, &f->ge_r_ppm);
  if (!strcmp(k, "burst_loss")) return parse_prob(v, &f->ge_loss_bad_ppm);
  if (!strcmp(k, "burst_good_loss")) return parse_prob(v, &f->ge_loss_good_ppm);
  if (!strcmp(k, "reorder")) return parse_prob(v, &f->reorder_ppm);
  if (!strcmp(k, "duplicate")) return parse_prob(v, &f->dup_ppm);
  if (!strcmp(k, "corrupt")) return parse_prob(v, &f->corrupt_ppm);
  if (!strcmp(k, "reorder_delay") || !strcmp(k, "latency") || !strcmp(k, "jitter")) {
    if (sim_parse_duration(v, &x) < 0 || x > 60000000) return -1;
    if (!strcmp(k, "reorder_delay")) f->reorder_delay_us = (uint32_t)x;
    if (!strcmp(k, "latency")) f->latency_us = (uint32_t)x;
    if (!strcmp(k, "jitter")) f->jitter_us = (uint32_t)x;
    return 0;
  }
  if (!strcmp(k, "bandwidth")) return parse_rate(v, &f->bandwidth_bps);
  if (!strcmp(k, "queue")) {
    if (parse_size(v, &x) < 0 || x > 1u << 30) return -1;
    f->queue_bytes = (uint32_t)x;
    return 0;
  }
  if (!strcmp(k, "mtu")) {
    if (parse_uint(v, 9000, &x) < 0 || x < 68) return -1;
    f->mtu = (uint32_t)x;
    return 0;
  }
  return -2; /* unknown */
}

static int host_key(struct host_tmpl *t, const char *k, const char *v) {
  uint64_t x;
  bool b;
  if (!strncmp(k, "link.", 5) || !strncmp(k, "up.", 3) || !strncmp(k, "down.", 5)) {
    const char *fk = strchr(k, '.') + 1;
    int r = 0;
    if (k[0] != 'd') r = fault_key(&t->up, fk, v);
    if (r == 0 && k[0] != 'u') r = fault_key(&t->down, fk, v);
    return r;
  }
  microtcp_config *c = &t->cfg;
  if (!strcmp(k, "mtu")) {
    if (parse_uint(v, 9000, &x) < 0 || x < 576) return -1;
    c->mtu = (uint16_t)x;
  } else if (!strcmp(k, "drift_ppm")) {
    char *end;
    long d = strtol(v, &end, 10);
    if (!*v || *end || d < -100000 || d > 100000) return -1;
    t->drift_ppm = (int32_t)d;
  } else if (!strcmp(k, "max_tcp")) {
    if (parse_uint(v, 30000, &x) < 0) return -1;
    c->max_tcp = (uint16_t)x;
  } else if (!strcmp(k, "max_udp")) {
    if (parse_uint(v, 1000, &x) < 0) return -1;
    c->max_udp = (uint16_t)x;
  } else if (!strcmp(k, "frames")) {
    if (parse_uint(v, 60000, &x) < 0 || x < 2) return -1;
    c->frames = (uint16_t)x;
  } else if (!strcmp(k, "sndbuf") || !strcmp(k, "rcvbuf")) {
    if (parse_size(v, &x) < 0 || x < 64 || x > (1u << 30)) return -1;
    *(k[0] == 's' ? &c->tcp_sndbuf : &c->tcp_rcvbuf) = (uint32_t)x;
  } else if (!strcmp(k, "cc")) {
    if (!strcmp(v, "newreno")) c->tcp_cc = MICROTCP_CC_NEWRENO;
    else if (!strcmp(v, "cubic")) c->tcp_cc = MICROTCP_CC_CUBIC;
    else return -1;
  } else if (!strcmp(k, "rto_min") || !strcmp(k, "msl") || !strcmp(k, "delack")) {
    if (sim_parse_duration(v, &x) < 0 || x > 3600000000ull || x == 0) return -1;
    if (!strcmp(k, "rto_min")) {
      c->tcp_rto_min_us = (uint32_t)x;
      if (c->tcp_rto_initial_us < x) c->tcp_rto_initial_us = (uint32_t)x;
    }
    if (!strcmp(k, "msl")) c->tcp_msl_us = (uint32_t)x;
    if (!strcmp(k, "delack")) {
      if (x > 500000) return -1;
      c->tcp_delack_us = (uint32_t)x;
    }
  } else if (!strcmp(k, "sack") || !strcmp(k, "timestamps") || !strcmp(k, "nodelay") ||
             !strcmp(k, "arp_announce") || !strcmp(k, "prr") || !strcmp(k, "dsack")) {
    if (parse_bool(v, &b) < 0) return -1;
    if (!strcmp(k, "prr")) c->tcp_prr = b;
    if (!strcmp(k, "dsack")) c->tcp_dsack = b;
    if (!strcmp(k, "arp_announce")) c->arp_gratuitous = b;
    if (!strcmp(k, "sack")) c->tcp_sack = b;
    if (!strcmp(k, "timestamps")) c->tcp_timestamps = b;
    if (!strcmp(k, "nodelay")) c->tcp_nodelay = b;
  } else {
    return -2;
  }
  return 0;
}

static const char *const host_expect =
    "a host key: ip, mac, segment, count, mtu, drift_ppm, max_tcp, max_udp, frames, sndbuf, rcvbuf, cc, rto_min, "
    "msl, delack, sack, timestamps, nodelay, arp_announce, prr, dsack, or link./up./down. + a fault (loss, burst_p, burst_r, "
    "burst_loss, burst_good_loss, reorder, reorder_delay, duplicate, corrupt, latency, jitter, "
    "bandwidth, queue, mtu)";

static void default_tmpl(struct host_tmpl *t) {
  memset(t, 0, sizeof *t);
  microtcp_config_default(&t->cfg);
  microtcp_config *c = &t->cfg;
  /* Simulation-friendly defaults (documented in sim/README.md). */
  c->netmask = SIM_NETMASK; /* every host is on the one switch: 10.0.0.0/8 */
  c->max_tcp = 16;
  c->max_listeners = 4;
  c->max_udp = 8;
  c->tcp_sndbuf = 64 * 1024;
  c->tcp_rcvbuf = 64 * 1024;
  c->udp_rcvq = 16 * 1024;
  c->frames = 128;
  c->arp_entries = 32;
  c->arp_pending = 32;
  c->reasm_slots = 4;
  c->reasm_bytes = 32 * 1024;
  c->ping_queue = 16;
  c->tcp_rto_min_us = 200000;
  c->tcp_rto_initial_us = 1000000;
  c->tcp_msl_us = 2000000;
  c->tcp_ooo_ranges = 8;
  c->icmp_rate_per_s = 0;
  t->up.latency_us = t->down.latency_us = 100;
  t->segment = -1;
}

/* ---- load --------------------------------------------------------------------------------- */
static int find_segment(const struct sim *s, const char *name) {
  for (int i = 0; i < s->nsegments; i++)
    if (!strcmp(s->segments[i].name, name)) return i;
  return -1;
}

static int add_segment(struct sim *s, const char *name, enum sim_segment_kind kind) {
  s->segments = realloc(s->segments, (size_t)(s->nsegments + 1) * sizeof *s->segments);
  if (!s->segments) abort();
  struct sim_segment *g = &s->segments[s->nsegments];
  memset(g, 0, sizeof *g);
  snprintf(g->name, sizeof g->name, "%s", name);
  g->kind = kind;
  return s->nsegments++;
}

static void segment_join(struct sim *s, int seg, int host) {
  struct sim_segment *g = &s->segments[seg];
  g->members = realloc(g->members, (size_t)(g->nmembers + 1) * sizeof *g->members);
  if (!g->members) abort();
  g->members[g->nmembers++] = host;
  s->hosts[host].segment = seg;
}

static int find_host(const struct sim *s, const char *name) {
  for (int i = 0; i < s->nhosts; i++)
    if (!strcmp(s->hosts[i].name, name)) return i;
  return -1;
}

static const char *section_kind(const char *section, const char **name) {
  static const char *kinds[] = {"sim", "defaults", "segment", "host", "link", "flow", "event"};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    size_t n = strlen(kinds[i]);
    if (!strncmp(section, kinds[i], n) && (section[n] == 0 || section[n] == ' ')) {
      *name = section[n] ? section + n + 1 : "";
      return kinds[i];
    }
  }
  return NULL;
}

static int add_host(struct sim *s, const char *name, const struct host_tmpl *t, uint32_t ip,
                    uint32_t k) {
  s->hosts = realloc(s->hosts, (size_t)(s->nhosts + 1) * sizeof *s->hosts);
  if (!s->hosts) return -1;
  struct sim_host *h = &s->hosts[s->nhosts];
  memset(h, 0, sizeof *h);
  snprintf(h->name, sizeof h->name, "%s", name);
  h->id = sim_name_id(h->name);
  h->segment = -1;
  h->cfg = t->cfg;
  h->up_dir.f = t->up;
  h->down_dir.f = t->down;
  h->drift_ppm = t->drift_ppm;
  uint32_t idx = (uint32_t)s->nhosts + 1;
  uint8_t mac[6] = {0x02, 0x00, (uint8_t)(idx >> 24), (uint8_t)(idx >> 16), (uint8_t)(idx >> 8), (uint8_t)idx};
  if (t->have_mac) {
    /* group members count up from the given address (in the low 24 bits) */
    uint32_t low = ((uint32_t)t->mac[3] << 16 | (uint32_t)t->mac[4] << 8 | t->mac[5]) + k;
    memcpy(mac, t->mac, 3);
    mac[3] = (uint8_t)(low >> 16);
    mac[4] = (uint8_t)(low >> 8);
    mac[5] = (uint8_t)low;
  }
  memcpy(h->cfg.mac, mac, 6);
  h->cfg.ip = ip ? ip : 0x0a000000u + idx; /* 10.0.x.y */
  s->nhosts++;
  if (t->segment >= 0) segment_join(s, t->segment, s->nhosts - 1);
  return 0;
}

/* Members of group NAME (NAME0, NAME1, ...): their count, the first's index. */
static int group_members(const struct sim *s, const char *name, int *first) {
  char probe[48];
  int n = 0;
  for (;; n++) {
    snprintf(probe, sizeof probe, "%.30s%d", name, n);
    int h = find_host(s, probe);
    if (h < 0) break;
    if (n == 0) *first = h;
  }
  return n;
}

/* Member k of the group an event section names in its `host` key. */
static int group_member(const struct sim *s, const struct entry *section_start, int k) {
  const struct entry *f = section_start;
  for (; strcmp(f->key, "host"); f++) {}
  char hn[48];
  snprintf(hn, sizeof hn, "%.30s%d", f->value, k);
  return find_host(s, hn);
}

/* The same key twice in one section is a mistake (which one wins?). */
static int check_same_key_twice(const struct reader *r) {
  for (size_t i = 0; i < r->n; i++) {
    if (!r->e[i].key[0]) continue;
    for (size_t j = 0; j < i; j++)
      if (!strcmp(r->e[j].key, r->e[i].key) && !strcmp(r->e[j].section, r->e[i].section))
        return errf(r, &r->e[i], "'%s' given twice in [%s] (first at line %d)", r->e[i].key,
                    r->e[i].section, r->e[j].line);
  }
  return 0;
}

static int cmp_addr(const void *a, const void *b) {
  const uint64_t *x = a, *y = b;
  return *x < *y ? -1 : *x > *y;
}

/* Two hosts with one IP address on one segment: ARP answers from both. */
static int check_addresses(const struct sim *s, const struct reader *r) {
  uint64_t *keys = malloc((size_t)s->nhosts * sizeof *keys);
  if (!keys) abort();
  /* segment << 32 | ip: equal keys are one address twice on one segment */
  for (int i = 0; i < s->nhosts; i++) keys[i] = (uint64_t)(uint32_t)s->hosts[i].segment << 32 | s->hosts[i].cfg.ip;
  qsort(keys, (size_t)s->nhosts, sizeof *keys, cmp_addr);
  int err = 0;
  for (int i = 1; i < s->nhosts && !err; i++) {
    if (keys[i] != keys[i - 1]) continue;
    int a = -1, b = -1;
    for (int h = 0; h < s->nhosts; h++)
      if (((uint64_t)(uint32_t)s->hosts[h].segment << 32 | s->hosts[h].cfg.ip) == keys[i]) {
        if (a < 0) a = h;
        else if (b < 0) b = h;
      }
    uint32_t ip = (uint32_t)keys[i];
    fprintf(stderr, "%s:%d: host %s has the address %u.%u.%u.%u of host %s (line %d) on segment %s\n",
            r->path, r->host_line[b], s->hosts[b].name, ip >> 24, ip >> 16 & 255, ip >> 8 & 255, ip & 255,
            s->hosts[a].name, r->host_line[a], s->segments[s->hosts[a].segment].name);
    err = -1;
  }
  free(keys);
  return err;
}

int sim_scenario_load(struct sim *s, const char *path) {
  struct reader r = {0};
  r.path = path;
  r.f = fopen(path, "r");
  if (!r.f) {
    fprintf(stderr, "%s: cannot open scenario\n", path);
    return -1;
  }
  int rc = ini_parse_stream(read_line, &r, on_entry, &r);
  fclose(r.f);
  if (rc != 0) {
    free(r.e);
    fprintf(stderr, "%s:%d: syntax error: expected [section] or key = value\n", path, rc);
    return -1;
  }
  snprintf(s->scenario_path, sizeof s->scenario_path, "%s", path);
  s->duration_us = 60000000;
  s->settle_us = 5000000;
  struct host_tmpl defaults;
  default_tmpl(&defaults);
  uint64_t max_memory = SIM_DEFAULT_MAX_MEMORY;
  s->mem_estimate = 0;
  int err = 0;
  /* pass 1: [sim], [defaults]; pass 2: hosts; pass 3: flows; pass 4: events */
  for (int pass = 1; pass <= 4 && !err; pass++) {
    for (size_t i = 0; i < r.n && !err; i++) {
      struct entry *e = &r.e[i];
      const char *name;
      const char *kind = section_kind(e->section, &name);
      if (!kind) {
        err = errf(&r, e, "unknown section [%s]: expected [sim], [defaults], [segment NAME], [host NAME], [link A B], [flow NAME] or [event NAME]", e->section);
        break;
      }
      uint64_t x;
      if (pass == 1 && !strcmp(kind, "sim")) {
        if (!strcmp(e->key, "seed")) {
          if (parse_uint(e->value, UINT64_MAX, &x) < 0) err = errf(&r, e, "expected an integer seed");
          else if (!s->seed) s->seed = x; /* --seed on the command line wins */
        } else if (!strcmp(e->key, "duration") || !strcmp(e->key, "settle")) {
          if (sim_parse_duration(e->value, &x) < 0) err = errf(&r, e, "expected a duration like 30s or 500ms");
          else if (e->key[0] == 'd' && x == 0) err = errf(&r, e, "expected a duration above zero (the run would end before it starts)");
          else *(e->key[0] == 'd' ? &s->duration_us : &s->settle_us) = x;
        } else if (!strcmp(e->key, "max_memory")) {
          if (parse_size(e->value, &x) < 0 || x == 0) err = errf(&r, e, "expected a size like 4GiB");
          else max_memory = x;
        } else if (e->key[0]) {
          err = errf(&r, e, "unknown key '%s': expected seed, duration, settle or max_memory", e->key);
        }
      } else if (pass == 1 && !strcmp(kind, "segment")) {
        if (!*name) { err = errf(&r, e, "expected a segment name: [segment NAME]"); break; }
        int g = find_segment(s, name);
        if (g < 0) g = add_segment(s, name, SEG_SWITCH);
        if (!e->key[0]) continue; /* [segment NAME] alone: a switch */
        if (!strcmp(e->key, "type")) {
          if (!strcmp(e->value, "switch")) s->segments[g].kind = SEG_SWITCH;
          else if (!strcmp(e->value, "hub")) s->segments[g].kind = SEG_HUB;
          else err = errf(&r, e, "expected a segment type: switch or hub");
        } else {
          err = errf(&r, e, "unknown key '%s': expected type", e->key);
        }
      } else if (pass == 3 && !strcmp(kind, "link") && (i == 0 || strcmp(r.e[i - 1].section, e->section))) {
        /* [link A B]: a point-to-point link between two hosts */
        char an[64], bn[64], extra;
        if (sscanf(name, "%63s %63s %c", an, bn, &extra) != 2) {
          err = errf(&r, e, "expected two host names: [link A B]");
          break;
        }
        int ha = find_host(s, an), hb = find_host(s, bn);
        if (ha < 0 || hb < 0) { err = errf(&r, e, "expected hosts defined in [host] sections, not '%s'", ha < 0 ? an : bn); break; }
        if (ha == hb) { err = errf(&r, e, "expected two different hosts"); break; }
        if (s->hosts[ha].segment >= 0 || s->hosts[hb].segment >= 0) {
          err = errf(&r, e, "host '%s' is already attached (a host has one interface: one segment or one link)",
                     s->hosts[ha].segment >= 0 ? an : bn);
          break;
        }
        /* Each direction starts from the [defaults] link faults, once. */
        struct sim_faults fwd = defaults.up, rev = defaults.up;
        for (size_t j = i; j < r.n && !strcmp(r.e[j].section, e->section) && !err; j++) {
          struct entry *f = &r.e[j];
          if (!f->key[0]) continue;
          const char *dot = strchr(f->key, '.');
          size_t plen = dot ? (size_t)(dot - f->key) : 0;
          int fr = -2;
          if (dot && plen == 4 && !strncmp(f->key, "link", 4)) {
            fr = fault_key(&fwd, dot + 1, f->value);
            if (fr == 0) fr = fault_key(&rev, dot + 1, f->value);
          } else if (dot && plen == 7 && !strncmp(f->key, "forward", 7)) {
            fr = fault_key(&fwd, dot + 1, f->value);
          } else if (dot && plen == 7 && !strncmp(f->key, "reverse", 7)) {
            fr = fault_key(&rev, dot + 1, f->value);
          }
          if (fr == -2) err = errf(&r, f, "unknown key '%s': expected link./forward. (A to B)/reverse. (B to A) + a fault", f->key);
          else if (fr < 0) err = errf(&r, f, "bad value '%s' for %s", f->value, f->key);
        }
        if (err) break;
        char ln[64];
        snprintf(ln, sizeof ln, "%.30s-%.30s", an, bn);
        int g = add_segment(s, ln, SEG_LINK);
        segment_join(s, g, ha);
        segment_join(s, g, hb);
        s->hosts[ha].up_dir.f = fwd;
        s->hosts[hb].up_dir.f = rev;
        memset(&s->hosts[ha].down_dir.f, 0, sizeof(struct sim_faults));
        memset(&s->hosts[hb].down_dir.f, 0, sizeof(struct sim_faults));
      } else if (pass == 1 && !strcmp(kind, "defaults") && e->key[0]) {
        int hr = host_key(&defaults, e->key, e->value);
        if (hr == -2) err = errf(&r, e, "unknown key '%s': expected %s", e->key, host_expect);
        else if (hr < 0) err = errf(&r, e, "bad value '%s' for %s", e->value, e->key);
      } else if (pass == 2 && !strcmp(kind, "host") && (i == 0 || strcmp(r.e[i - 1].section, e->section))) {
        /* first entry of a host section: gather the whole section */
        if (!*name) { err = errf(&r, e, "expected a host name: [host NAME]"); break; }
        struct host_tmpl t = defaults;
        uint64_t count = 1;
        uint32_t ip = 0;
        const struct entry *count_at = e, *ip_at = e;
        for (size_t j = i; j < r.n && !strcmp(r.e[j].section, e->section) && !err; j++) {
          struct entry *f = &r.e[j];
          if (!f->key[0]) continue;
          if (!strcmp(f->key, "ip")) {
            ip_at = f;
            if (parse_ip(f->value, &ip) < 0) err = errf(&r, f, "expected an IPv4 address like 10.0.0.1");
            else if (ip == 0) err = errf(&r, f, "0.0.0.0 is not a host address: expected an address in 10.0.0.0/8");
            else if ((ip & SIM_NETMASK) != SIM_NET)
              err = errf(&r, f, "%s is outside 10.0.0.0/8, the network every host is on", f->value);
            else if ((ip & ~SIM_NETMASK) == 0 || (ip & ~SIM_NETMASK) == ~SIM_NETMASK)
              err = errf(&r, f, "%s is the network's own or broadcast address: expected a host address", f->value);
          } else if (!strcmp(f->key, "count")) {
            count_at = f;
            if (parse_uint(f->value, SIM_MAX_HOSTS, &count) < 0 || count == 0)
              err = errf(&r, f, "expected a host count 1..%d", SIM_MAX_HOSTS);
          } else if (!strcmp(f->key, "mac")) {
            if (parse_mac(f->value, t.mac) < 0) err = errf(&r, f, "expected a unicast MAC like 02:00:00:00:00:01");
            t.have_mac = true;
          } else if (!strcmp(f->key, "segment")) {
            t.segment = find_segment(s, f->value);
            if (t.segment < 0) err = errf(&r, f, "expected a segment defined in a [segment] section, not '%s'", f->value);
          } else {
            int hr = host_key(&t, f->key, f->value);
            if (hr == -2) err = errf(&r, f, "unknown key '%s': expected %s", f->key, host_expect);
            else if (hr < 0) err = errf(&r, f, "bad value '%s' for %s", f->value, f->key);
          }
        }
        if (err) break;
        if (ip && (uint64_t)(ip & ~SIM_NETMASK) + count - 1 >= (uint64_t)~SIM_NETMASK) {
          err = errf(&r, ip_at, "%llu hosts from %s run past the end of 10.0.0.0/8", (unsigned long long)count, ip_at->value);
          break;
        }
        if ((uint64_t)s->nhosts + count > SIM_MAX_HOSTS) {
          err = errf(&r, count_at, "%llu more hosts make %llu: the limit is %d", (unsigned long long)count,
                     (unsigned long long)s->nhosts + count, SIM_MAX_HOSTS);
          break;
        }
        /* Memory is checked up front: every host's arena is committed at setup. */
        s->mem_estimate += ((uint64_t)microtcp_footprint(&t.cfg) + SIM_HOST_OVERHEAD) * count;
        if (s->mem_estimate > max_memory) {
          err = errf(&r, count_at, "the hosts so far need about %llu MiB of stack memory, more than max_memory "
                     "(%llu MiB; raise it in [sim] if the machine has it)",
                     (unsigned long long)(s->mem_estimate >> 20), (unsigned long long)(max_memory >> 20));
          break;
        }
        for (uint64_t k = 0; k < count; k++) {
          char hn[32];
          if (count == 1) snprintf(hn, sizeof hn, "%s", name);
          else snprintf(hn, sizeof hn, "%s%llu", name, (unsigned long long)k);
          if (find_host(s, hn) >= 0) { err = errf(&r, e, "host '%s' defined twice", hn); break; }
          if (add_host(s, hn, &t, ip ? ip + (uint32_t)k : 0, (uint32_t)k) < 0) { err = -1; break; }
          r.host_line = realloc(r.host_line, (size_t)s->nhosts * sizeof *r.host_line);
          if (!r.host_line) abort();
          r.host_line[s->nhosts - 1] = e->line;
        }
      } else if (pass == 3 && !strcmp(kind, "flow") && (i == 0 || strcmp(r.e[i - 1].section, e->section))) {
        if (!*name) { err = errf(&r, e, "expected a flow name: [flow NAME]"); break; }
        struct sim_flow fl;
        memset(&fl, 0, sizeof fl);
        snprintf(fl.name, sizeof fl.name, "%s", name);
        fl.client = fl.server = -1;
        fl.connections = 1;
        fl.port = 5000;
        fl.params.bytes = 1000000;
        fl.params.count = 10;
        fl.params.size = 100;
        char client_group[32] = "";
        uint64_t group_count = 0;
        for (size_t j = i; j < r.n && !strcmp(r.e[j].section, e->section) && !err; j++) {
          struct entry *f = &r.e[j];
          if (!f->key[0]) continue;
          if (!strcmp(f->key, "type")) {
            int k = app_kind_from_name(f->value);
            if (!k || app_kind_name((enum app_kind)k)[0] == 0 || k == APP_SINK || k == APP_ECHO_SERVER ||
                k == APP_HTTP_SERVER || k == APP_UDP_ECHO_SERVER)
              err = errf(&r, f, "expected a flow type: tcp-bulk, tcp-echo, http, udp-echo or ping");
            else fl.kind = (enum app_kind)k;
          } else if (!strcmp(f->key, "client") || !strcmp(f->key, "server")) {
            int hidx = find_host(s, f->value);
            if (hidx < 0 && !strcmp(f->key, "client")) {
              /* a host group: NAME0..NAMEk */
              char probe[40];
              snprintf(probe, sizeof probe, "%.30s0", f->value);
              if (find_host(s, probe) >= 0) {
                snprintf(client_group, sizeof client_group, "%.30s", f->value);
                while (1) {
                  snprintf(probe, sizeof probe, "%.20s%llu", f->value, (unsigned long long)group_count);
                  if (find_host(s, probe) < 0) break;
                  group_count++;
                }
                continue;
              }
            }
            if (hidx < 0) err = errf(&r, f, "expected a host defined in a [host] section, not '%s'", f->value);
            else *(f->key[0] == 'c' ? &fl.client : &fl.server) = hidx;
          } else if (!strcmp(f->key, "port")) {
            if (parse_uint(f->value, 65535, &x) < 0 || x == 0) err = errf(&r, f, "expected a port 1..65535");
            else fl.port = (uint16_t)x;
          } else if (!strcmp(f->key, "bytes")) {
            if (parse_size(f->value, &x) < 0) err = errf(&r, f, "expected a size like 10MB");
            else fl.params.bytes = x;
          } else if (!strcmp(f->key, "count") || !strcmp(f->key, "connections")) {
            if (parse_uint(f->value, 1000000, &x) < 0 || x == 0) err = errf(&r, f, "expected a positive integer");
            else if (f->key[0] == 'c' && f->key[1] == 'o' && f->key[2] == 'u') fl.params.count = (uint32_t)x;
            else fl.connections = (uint32_t)x;
          } else if (!strcmp(f->key, "size")) {
            if (parse_size(f->value, &x) < 0 || x < 8 || x > 2048) err = errf(&r, f, "expected a size 8..2048 bytes");
            else fl.params.size = (uint32_t)x;
          } else if (!strcmp(f->key, "expect")) {
            if (!strcmp(f->value, "done")) fl.expect = EXPECT_DONE;
            else if (!strcmp(f->value, "failed")) fl.expect = EXPECT_FAILED;
            else if (!strcmp(f->value, "any")) fl.expect = EXPECT_ANY;
            else err = errf(&r, f, "expected done, failed or any");
          } else if (!strcmp(f->key, "start") || !strcmp(f->key, "timeout")) {
            if (sim_parse_duration(f->value, &x) < 0) err = errf(&r, f, "expected a duration like 100ms");
            else if (f->key[0] == 's' && x >= s->duration_us)
              err = errf(&r, f, "start %s is not before the end of the run (duration %llu.%06llu s)", f->value,
                         (unsigned long long)(s->duration_us / 1000000), (unsigned long long)(s->duration_us % 1000000));
            else if (f->key[0] == 's') fl.start_us = x;
            else fl.params.timeout_us = x;
          } else {
            err = errf(&r, f, "unknown key '%s': expected type, client, server, port, bytes, count, size, connections, start, timeout or expect", f->key);
          }
        }
        if (err) break;
        if (!fl.kind) { err = errf(&r, e, "flow %s: expected a 'type'", name); break; }
        if ((fl.client < 0 && !client_group[0]) || fl.server < 0) { err = errf(&r, e, "flow %s: expected both 'client' and 'server'", name); break; }
        uint64_t members = client_group[0] ? group_count : 1;
        for (uint64_t k = 0; k < members; k++) {
          struct sim_flow one = fl;
          if (client_group[0]) {
            char hn[48];
            snprintf(hn, sizeof hn, "%.20s%llu", client_group, (unsigned long long)k);
            one.client = find_host(s, hn);
            snprintf(one.name, sizeof one.name, "%.16s.%llu", name, (unsigned long long)(k % 1000000));
          }
          if (one.client == one.server) { err = errf(&r, e, "flow %s: client and server must differ", name); break; }
          one.params.remote_ip = s->hosts[one.server].cfg.ip;
          one.params.remote_port = one.port;
          for (int o = 0; o < s->nflows; o++)
            if (!strcmp(s->flows[o].name, one.name)) { err = errf(&r, e, "flow '%s' defined twice", one.name); break; }
          if (err) break;
          one.params.flow_seed = sim_stream_seed(s->seed, 3000 + (uint64_t)one.port, sim_name_id(one.name));
          s->flows = realloc(s->flows, (size_t)(s->nflows + 1) * sizeof *s->flows);
          s->flows[s->nflows++] = one;
          r.flow_line = realloc(r.flow_line, (size_t)s->nflows * sizeof *r.flow_line);
          if (!r.flow_line) abort();
          r.flow_line[s->nflows - 1] = e->line;
        }
      } else if (pass == 4 && !strcmp(kind, "event") && (i == 0 || strcmp(r.e[i - 1].section, e->section))) {
        struct sim_event_spec ev = {0, 0, -1, -1, false};
        bool have_at = false;
        int group_first = -1, group_n = 0; /* host = a group: one event per member */
        for (size_t j = i; j < r.n && !strcmp(r.e[j].section, e->section) && !err; j++) {
          struct entry *f = &r.e[j];
          if (!f->key[0]) continue;
          if (!strcmp(f->key, "at")) {
            if (sim_parse_duration(f->value, &ev.at) < 0) err = errf(&r, f, "expected a time like 2s");
            else if (ev.at >= s->duration_us)
              err = errf(&r, f, "at %s is not before the end of the run (duration %llu.%06llu s): it would never happen",
                         f->value, (unsigned long long)(s->duration_us / 1000000),
                         (unsigned long long)(s->duration_us % 1000000));
            have_at = true;
          } else if (!strcmp(f->key, "action")) {
            static const struct { const char *n; enum sim_event_kind k; } acts[] = {
                {"partition", EV_PARTITION}, {"heal", EV_HEAL}, {"link_down", EV_LINK_DOWN},
                {"link_up", EV_LINK_UP}, {"crash", EV_CRASH}, {"restart", EV_RESTART},
                {"calm", EV_CALM}};
            for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++)
              if (!strcmp(f->value, acts[a].n)) ev.kind = acts[a].k;
            if (!ev.kind) err = errf(&r, f, "expected an action: partition, heal, link_down, link_up, crash, restart or calm");
          } else if (!strcmp(f->key, "host") || !strcmp(f->key, "peer")) {
            int hidx = find_host(s, f->value);
            if (hidx < 0 && f->key[0] == 'h' && (group_n = group_members(s, f->value, &group_first)) > 0)
              hidx = group_first;
            if (hidx < 0) err = errf(&r, f, "expected a host or a group defined in a [host] section, not '%s'", f->value);
            else *(f->key[0] == 'h' ? &ev.a : &ev.b) = hidx;
          } else if (!strcmp(f->key, "one_way")) {
            if (parse_bool(f->value, &ev.one_way) < 0) err = errf(&r, f, "expected yes or no");
          } else {
            err = errf(&r, f, "unknown key '%s': expected at, action, host, peer or one_way", f->key);
          }
        }
        if (err) break;
        if (ev.kind == EV_CALM && ev.a < 0) ev.a = 0; /* calm concerns every link */
        if (!have_at || !ev.kind || ev.a < 0) { err = errf(&r, e, "event %s: expected 'at', 'action' and 'host'", name); break; }
        if (group_n <= 0) group_n = 1;
        for (int k = 0; k < group_n; k++) {
          s->events = realloc(s->events, (size_t)(s->nevents + 1) * sizeof *s->events);
          if (!s->events) abort();
          s->events[s->nevents] = ev;
          if (group_first >= 0) s->events[s->nevents].a = group_member(s, e, k);
          s->nevents++;
        }
      }
    }
  }
  if (!err) err = check_same_key_twice(&r);
  free(r.e);
  if (!err && s->nhosts < 2) {
    fprintf(stderr, "%s: expected at least two [host] sections\n", path);
    err = -1;
  }
  /* Hosts attached nowhere share the implicit default switch. */
  for (int i = 0; !err && i < s->nhosts; i++) {
    if (s->hosts[i].segment >= 0) continue;
    int g = find_segment(s, "default");
    if (g < 0) g = add_segment(s, "default", SEG_SWITCH);
    segment_join(s, g, i);
  }
  /* Two hosts with one MAC confuse switches and ARP alike: refuse. */
  for (int i = 0; !err && i < s->nhosts; i++)
    for (int j = i + 1; !err && j < s->nhosts; j++)
      if (s->hosts[i].segment == s->hosts[j].segment &&
          !memcmp(s->hosts[i].cfg.mac, s->hosts[j].cfg.mac, 6)) {
        fprintf(stderr, "%s: expected unique MACs: hosts %s and %s share one\n", path,
                s->hosts[i].name, s->hosts[j].name);
        err = -1;
      }
  if (!err) err = check_addresses(s, &r);
  /* No routers: a flow's two hosts must share a segment (or a link). */
  for (int f = 0; !err && f < s->nflows; f++) {
    const struct sim_flow *fl = &s->flows[f];
    if (s->hosts[fl->client].segment != s->hosts[fl->server].segment) {
      fprintf(stderr, "%s:%d: flow %s: client %s (segment %s) cannot reach server %s (segment %s): "
              "segments are separate networks with no router between them\n", path, r.flow_line[f], fl->name,
              s->hosts[fl->client].name, s->segments[s->hosts[fl->client].segment].name,
              s->hosts[fl->server].name, s->segments[s->hosts[fl->server].segment].name);
      err = -1;
    }
  }
  free(r.host_line);
  free(r.flow_line);
  return err ? -1 : 0;
}

/* Swarm: every link direction gets faults drawn from the seed, in these ranges:
 * loss 0–3 %, reorder 0–5 % (extra delay 0.1–2.1 ms), duplicate 0–1 %, corrupt
 * 0–1 %, latency 50 µs–5 ms, jitter 0–1 ms, and with probability 1/4 bursty
 * loss (p 0–1 %, r 10–50 %, loss-in-bad 20–80 %). Every host's clock drifts by
 * −200..+200 ppm. With probability 1/2 one host is partitioned (from everyone,
 * or one way with probability 1/2) at 0.2–3 s for 0.1–3 s. At 2–20 s the
 * network calms down (loss, bursts, reordering, duplication and corruption
 * stop; see EV_CALM): every flow must then converge before `duration`, which
 * separates "slow under a hostile network" from "stuck"; the duration is
 * extended to at least 300 s after the calm.
 * Each host draws from its own stream (seed, name), so hosts do not perturb
 * each other. */
void sim_swarm_faults(struct sim *s) {
  for (int i = 0; i < s->nhosts; i++) {
    struct sim_host *h = &s->hosts[i];
    uint64_t rng = sim_stream_seed(s->seed, 77, h->id);
    struct sim_faults *dirs[2] = {&h->up_dir.f, &h->down_dir.f};
    for (int d = 0; d < 2; d++) {
      struct sim_faults *f = dirs[d];
      f->loss_ppm = (uint32_t)(sim_rand(&rng) % 30001);
      f->reorder_ppm = (uint32_t)(sim_rand(&rng) % 50001);
      f->reorder_delay_us = (uint32_t)(sim_rand(&rng) % 2000 + 100);
      f->dup_ppm = (uint32_t)(sim_rand(&rng) % 10001);
      f->corrupt_ppm = (uint32_t)(sim_rand(&rng) % 10001);
      f->latency_us = (uint32_t)(sim_rand(&rng) % 4951 + 50);
      f->jitter_us = (uint32_t)(sim_rand(&rng) % 1001);
      if (sim_rand(&rng) % 4 == 0) {
        f->ge_p_ppm = (uint32_t)(sim_rand(&rng) % 10001);
        f->ge_r_ppm = (uint32_t)(sim_rand(&rng) % 400001 + 100000);
        f->ge_loss_bad_ppm = (uint32_t)(sim_rand(&rng) % 600001 + 200000);
      }
    }
    h->drift_ppm = (int32_t)(sim_rand(&rng) % 401) - 200;
  }
  uint64_t rng = sim_stream_seed(s->seed, 78, 78);
  if (sim_rand(&rng) % 2 == 0) {
    struct sim_event_spec cut = {0, EV_PARTITION, 0, -1, false}, heal;
    cut.a = (int)(sim_rand(&rng) % (uint64_t)s->nhosts);
    cut.one_way = sim_rand(&rng) % 2 == 0;
    cut.at = 200000 + sim_rand(&rng) % 2800001;
    heal = cut;
    heal.kind = EV_HEAL;
    heal.at = cut.at + 100000 + sim_rand(&rng) % 2900001;
    s->events = realloc(s->events, (size_t)(s->nevents + 2) * sizeof *s->events);
    if (!s->events) abort();
    s->events[s->nevents++] = cut;
    s->events[s->nevents++] = heal;
  }
  struct sim_event_spec calm = {2000000 + sim_rand(&rng) % 18000001, EV_CALM, 0, -1, false};
  s->events = realloc(s->events, (size_t)(s->nevents + 1) * sizeof *s->events);
  if (!s->events) abort();
  s->events[s->nevents++] = calm;
  /* Flows get at least SIM_SWARM_CONVERGE_US after the calm: RTO backoff
   * from the hostile phase (and from congestion drops after it) legitimately
   * reaches tens of seconds, so a scenario written for a quiet run (the
   * 60 s quickstart) would otherwise report slow as stuck. */
  if (s->duration_us < calm.at + SIM_SWARM_CONVERGE_US) s->duration_us = calm.at + SIM_SWARM_CONVERGE_US;
}
