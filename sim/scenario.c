/*
 * Scenario files: INI (parsed by libinih), documented in sim/README.md.
 * All entries are read first (with their line numbers), then applied in a fixed
 * order ([sim], [defaults], [segment]; [host]; [link], [flow]; [event]) so
 * errors can name file:line and what was expected.
 */
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
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

/* ---- key tables ------------------------------------------------------------------------------
 * Every scenario key is one row: name, value type, where it is stored (offset
 * and width in the section's object) or the setter that handles it, the
 * accepted range, what a bad value is told it should have been, and a line
 * of documentation. `microtcp-sim keys` prints the tables as the Markdown
 * reference in sim/README.md (tests/sim checks that the two agree), so the
 * tables are the one source of truth for what a scenario may say. */
struct load;

enum key_type {
  KT_DURATION, /* "500us", "2s" → µs */
  KT_SIZE,     /* "64KiB" → bytes */
  KT_RATE,     /* "100mbit" → bit/s */
  KT_PROB,     /* "1%", "0.01" → parts per million */
  KT_UINT,     /* decimal, min..max */
  KT_INT,      /* signed decimal, (int64) min..max */
  KT_BOOL,     /* yes/no, true/false, on/off, 1/0 */
  KT_CHOICE,   /* one of a list of names → its value */
  KT_FUNC      /* a setter of its own */
};

struct choice {
  const char *name;
  int value;
};

/* A setter: 0 = stored; -1 = bad value (the caller names the key and what was
 * expected); -2 = the setter reported the error itself. */
typedef int (*key_setter)(struct load *L, void *obj, const struct entry *e);

struct key_def {
  const char *name;
  enum key_type type;
  size_t off;              /* into the section's object (not KT_FUNC) */
  unsigned width;          /* bytes of the field: 1, 2, 4 or 8 */
  uint64_t min, max;       /* KT_INT: two's complement int64 */
  const struct choice *choices; /* KT_CHOICE, ended by {NULL, 0} */
  key_setter set;          /* KT_FUNC; for typed keys: called after the store (may refuse) */
  const char *expect;      /* "expected <this> for KEY, not 'VALUE'" */
  const char *doc;
};

#define FIELD(type, field) offsetof(type, field), (unsigned)sizeof(((type *)0)->field)
#define NOFIELD 0, 0
#define ANY 0, UINT64_MAX
#define NKEYS(t) (sizeof t / sizeof t[0])

/* ---- host settings: link faults and stack knobs -------------------------------------------- */
struct host_tmpl {
  struct sim_faults up, down;
  microtcp_config cfg;
  int32_t drift_ppm;
  uint64_t tcp_pool;   /* bytes of TCP buffer pool (0: the core's default, enough for
                        * every connection block to fill both buffers) */
  int segment;         /* -1 = the default switch (or a [link]) */
  bool have_mac;
  uint8_t mac[6];
};

#define PROB_EXPECT "a probability like 1% or 0.01"
static const struct key_def fault_keys[] = {
    {"loss", KT_PROB, FIELD(struct sim_faults, loss_ppm), ANY, NULL, NULL, PROB_EXPECT,
     "independent loss probability per frame"},
    {"burst_p", KT_PROB, FIELD(struct sim_faults, ge_p_ppm), ANY, NULL, NULL, PROB_EXPECT,
     "Gilbert-Elliott: P(good → bad) per frame"},
    {"burst_r", KT_PROB, FIELD(struct sim_faults, ge_r_ppm), ANY, NULL, NULL, PROB_EXPECT,
     "Gilbert-Elliott: P(bad → good) per frame"},
    {"burst_loss", KT_PROB, FIELD(struct sim_faults, ge_loss_bad_ppm), ANY, NULL, NULL, PROB_EXPECT,
     "Gilbert-Elliott: loss probability in the bad state"},
    {"burst_good_loss", KT_PROB, FIELD(struct sim_faults, ge_loss_good_ppm), ANY, NULL, NULL, PROB_EXPECT,
     "Gilbert-Elliott: loss probability in the good state"},
    {"reorder", KT_PROB, FIELD(struct sim_faults, reorder_ppm), ANY, NULL, NULL, PROB_EXPECT,
     "probability that a frame is held back by `reorder_delay`"},
    {"reorder_delay", KT_DURATION, FIELD(struct sim_faults, reorder_delay_us), 0, 60000000, NULL, NULL,
     "a duration 0..60s", "extra delay of a reordered frame (default 1 ms)"},
    {"duplicate", KT_PROB, FIELD(struct sim_faults, dup_ppm), ANY, NULL, NULL, PROB_EXPECT,
     "probability that a frame arrives twice"},
    {"corrupt", KT_PROB, FIELD(struct sim_faults, corrupt_ppm), ANY, NULL, NULL, PROB_EXPECT,
     "probability of a bit error in the IPv4 part of a frame (see below)"},
    {"latency", KT_DURATION, FIELD(struct sim_faults, latency_us), 0, 60000000, NULL, NULL, "a duration 0..60s",
     "one-way delay (default 100 µs)"},
    {"jitter", KT_DURATION, FIELD(struct sim_faults, jitter_us), 0, 60000000, NULL, NULL, "a duration 0..60s",
     "uniform extra delay 0..jitter per frame"},
    {"bandwidth", KT_RATE, FIELD(struct sim_faults, bandwidth_bps), ANY, NULL, NULL, "a rate like 100mbit",
     "serialisation rate (default unlimited)"},
    {"queue", KT_SIZE, FIELD(struct sim_faults, queue_bytes), 0, 1u << 30, NULL, NULL, "a size up to 1GiB",
     "byte-limited tail-drop queue in front of `bandwidth`"},
    {"mtu", KT_UINT, FIELD(struct sim_faults, mtu), 68, 9000, NULL, NULL, "an IP length 68..9000",
     "frames with a longer IP datagram are dropped (counted as `mtu`)"},
};

static int set_rto_min(struct load *L, void *obj, const struct entry *e);
static int set_wscale(struct load *L, void *obj, const struct entry *e);
static int set_chunk(struct load *L, void *obj, const struct entry *e);

static const struct choice cc_choices[] = {{"newreno", MICROTCP_CC_NEWRENO}, {"cubic", MICROTCP_CC_CUBIC}, {NULL, 0}};
#define BOOL_EXPECT "yes or no"
static const struct key_def stack_keys[] = {
    {"mtu", KT_UINT, FIELD(struct host_tmpl, cfg.mtu), 576, 9000, NULL, NULL, "an IP MTU 576..9000",
     "the interface MTU (default 1500)"},
    {"drift_ppm", KT_INT, FIELD(struct host_tmpl, drift_ppm), (uint64_t)-100000, 100000, NULL, NULL,
     "an integer -100000..100000", "the host's clock runs this many ppm fast (negative: slow)"},
    {"max_tcp", KT_UINT, FIELD(struct host_tmpl, cfg.max_tcp), 0, 30000, NULL, NULL, "an integer 0..30000",
     "TCP connection blocks (default 16)"},
    {"max_udp", KT_UINT, FIELD(struct host_tmpl, cfg.max_udp), 0, 1000, NULL, NULL, "an integer 0..1000",
     "UDP sockets (default 8)"},
    {"frames", KT_UINT, FIELD(struct host_tmpl, cfg.frames), 2, 60000, NULL, NULL, "an integer 2..60000",
     "frame buffers (default 128)"},
    {"sndbuf", KT_SIZE, FIELD(struct host_tmpl, cfg.tcp_sndbuf), 64, 1u << 30, NULL, NULL, "a size 64B..1GiB",
     "TCP send buffer per connection (default 64 KiB)"},
    {"rcvbuf", KT_SIZE, FIELD(struct host_tmpl, cfg.tcp_rcvbuf), 64, 1u << 30, NULL, NULL, "a size 64B..1GiB",
     "TCP receive buffer per connection (default 64 KiB)"},
    {"tcp_pool", KT_SIZE, FIELD(struct host_tmpl, tcp_pool), 0, 1ull << 36, NULL, NULL, "a size up to 64GiB",
     "TCP buffer pool shared by all connections (default 0: max_tcp x both buffers; size it for "
     "the connections in use x their windows)"},
    {"tcp_chunk", KT_SIZE, FIELD(struct host_tmpl, cfg.tcp_buf_chunk_size), 0, 65536, NULL, set_chunk,
     "a power of two 64B..64KiB", "bytes per chunk of the TCP buffer pool (default 0: 2048, less for "
     "buffers under 16 KiB)"},
    {"cc", KT_CHOICE, FIELD(struct host_tmpl, cfg.tcp_cc), ANY, cc_choices, NULL, "newreno or cubic",
     "congestion control"},
    {"rto_min", KT_DURATION, FIELD(struct host_tmpl, cfg.tcp_rto_min_us), 1, 3600000000ull, NULL, set_rto_min,
     "a duration 1us..1h", "minimum RTO (default 200 ms; raises the initial RTO to it if lower)"},
    {"msl", KT_DURATION, FIELD(struct host_tmpl, cfg.tcp_msl_us), 1, 3600000000ull, NULL, NULL,
     "a duration 1us..1h", "maximum segment lifetime: TIME_WAIT lasts 2 MSL (default 2 s)"},
    {"delack", KT_DURATION, FIELD(struct host_tmpl, cfg.tcp_delack_us), 1, 500000, NULL, NULL,
     "a duration 1us..500ms", "delayed-ACK timeout (default 40 ms)"},
    {"mss", KT_UINT, FIELD(struct host_tmpl, cfg.tcp_mss), 64, 9000, NULL, NULL, "an MSS 64..9000",
     "our MSS (default: derived from the MTU, which also caps it)"},
    {"wscale", KT_FUNC, NOFIELD, ANY, NULL, set_wscale, "auto, off or a shift 0..14",
     "window scale offered (default auto: the smallest shift that advertises `rcvbuf`)"},
    {"initial_cwnd", KT_UINT, FIELD(struct host_tmpl, cfg.tcp_initial_cwnd), 1, 64, NULL, NULL,
     "an integer 1..64", "initial window in segments (default 10, RFC 6928)"},
    {"ooo_ranges", KT_UINT, FIELD(struct host_tmpl, cfg.tcp_ooo_ranges), 1, 64, NULL, NULL, "an integer 1..64",
     "out-of-order ranges kept per connection (default 8)"},
    {"arp_entries", KT_UINT, FIELD(struct host_tmpl, cfg.arp_entries), 1, 60000, NULL, NULL,
     "an integer 1..60000", "ARP cache entries, all hosts (default 32; a server needs one per active peer)"},
    {"arp_pending", KT_UINT, FIELD(struct host_tmpl, cfg.arp_pending), 1, 60000, NULL, NULL,
     "an integer 1..60000", "frames waiting for ARP resolution, all hosts (default 32)"},
    {"sack", KT_BOOL, FIELD(struct host_tmpl, cfg.tcp_sack), ANY, NULL, NULL, BOOL_EXPECT,
     "offer/accept SACK (RFC 2018, default yes)"},
    {"timestamps", KT_BOOL, FIELD(struct host_tmpl, cfg.tcp_timestamps), ANY, NULL, NULL, BOOL_EXPECT,
     "offer/accept timestamps (RFC 7323, default yes)"},
    {"nodelay", KT_BOOL, FIELD(struct host_tmpl, cfg.tcp_nodelay), ANY, NULL, NULL, BOOL_EXPECT,
     "Nagle off (default no)"},
    {"arp_announce", KT_BOOL, FIELD(struct host_tmpl, cfg.arp_gratuitous), ANY, NULL, NULL, BOOL_EXPECT,
     "gratuitous ARP at boot (default yes)"},
    {"prr", KT_BOOL, FIELD(struct host_tmpl, cfg.tcp_prr), ANY, NULL, NULL, BOOL_EXPECT,
     "RFC 6937 rate reduction in SACK recovery (default yes)"},
    {"dsack", KT_BOOL, FIELD(struct host_tmpl, cfg.tcp_dsack), ANY, NULL, NULL, BOOL_EXPECT,
     "RFC 2883 D-SACK reporting (default yes)"},
    {"hystart", KT_BOOL, FIELD(struct host_tmpl, cfg.tcp_hystart), ANY, NULL, NULL, BOOL_EXPECT,
     "RFC 9406 HyStart++ in the initial slow start (default yes)"},
    {"dsack_undo", KT_BOOL, FIELD(struct host_tmpl, cfg.tcp_dsack_undo), ANY, NULL, NULL, BOOL_EXPECT,
     "undo a recovery that D-SACKs show was spurious (RFC 3708, default yes)"},
    {"rack", KT_BOOL, FIELD(struct host_tmpl, cfg.tcp_rack), ANY, NULL, NULL, BOOL_EXPECT,
     "RFC 8985 RACK-TLP loss detection with SACK (default yes)"},
};

/* The initial RTO is never below the minimum (RFC 6298 2.4). */
static int set_rto_min(struct load *L, void *obj, const struct entry *e) {
  (void)L;
  (void)e;
  microtcp_config *c = &((struct host_tmpl *)obj)->cfg;
  if (c->tcp_rto_initial_us < c->tcp_rto_min_us) c->tcp_rto_initial_us = c->tcp_rto_min_us;
  return 0;
}

static int set_chunk(struct load *L, void *obj, const struct entry *e) {
  (void)L;
  (void)e;
  uint32_t cs = ((struct host_tmpl *)obj)->cfg.tcp_buf_chunk_size;
  return cs == 0 || (cs >= 64 && (cs & (cs - 1)) == 0) ? 0 : -1;
}

/* tcp_pool bytes as chunks of the size the core will use (its derivation
 * for chunk size 0, microtcp.h), rounded up. */
static void apply_tcp_pool(struct host_tmpl *t) {
  microtcp_config *c = &t->cfg;
  if (t->tcp_pool == 0) return;
  uint32_t cs = c->tcp_buf_chunk_size;
  if (cs == 0) {
    uint32_t small = c->tcp_sndbuf < c->tcp_rcvbuf ? c->tcp_sndbuf : c->tcp_rcvbuf;
    for (cs = 2048; cs > 64 && (uint64_t)cs * 8 > small; cs >>= 1) {
    }
  }
  uint64_t n = (t->tcp_pool + cs - 1) / cs;
  c->tcp_buf_chunks = n > 0xfffffffeu ? 0xfffffffeu : (uint32_t)n;
}

static int set_wscale(struct load *L, void *obj, const struct entry *e) {
  microtcp_config *c = &((struct host_tmpl *)obj)->cfg;
  uint64_t x;
  (void)L;
  if (!strcmp(e->value, "auto")) c->tcp_wscale = 0xff;
  else if (!strcmp(e->value, "off")) c->tcp_wscale = MICROTCP_WSCALE_OFF;
  else if (parse_uint(e->value, 14, &x) == 0) c->tcp_wscale = (uint8_t)x;
  else return -1;
  return 0;
}

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
struct load {
  struct sim *s;
  struct reader *r;
  struct host_tmpl defaults;
  uint64_t max_memory;
};

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

/* A setter that printed its own error says so with -2. */
static int told(int errf_result) {
  (void)errf_result;
  return -2;
}

/* ---- applying one key ---------------------------------------------------------------------- */
static const struct key_def *find_key(const struct key_def *t, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(t[i].name, name)) return &t[i];
  return NULL;
}

static void store_uint(void *obj, const struct key_def *d, uint64_t x) {
  uint8_t *p = (uint8_t *)obj + d->off;
  if (d->type == KT_BOOL) {
    bool b = x != 0;
    memcpy(p, &b, sizeof b);
  } else if (d->width == 1) {
    uint8_t v = (uint8_t)x;
    memcpy(p, &v, 1);
  } else if (d->width == 2) {
    uint16_t v = (uint16_t)x;
    memcpy(p, &v, 2);
  } else if (d->width == 4) {
    uint32_t v = (uint32_t)x;
    memcpy(p, &v, 4);
  } else {
    memcpy(p, &x, 8);
  }
}

static int parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out) {
  char *end;
  long long v = strtoll(s, &end, 10);
  if (!*s || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

/* Parse e's value as d says; 0, -1 (malformed or out of range) or -2 (reported). */
static int parse_value(struct load *L, const struct key_def *d, void *obj, const struct entry *e, uint64_t *x) {
  const char *v = e->value;
  switch (d->type) {
  case KT_DURATION:
    if (sim_parse_duration(v, x) < 0) return -1;
    break;
  case KT_SIZE:
    if (parse_size(v, x) < 0) return -1;
    break;
  case KT_RATE:
    if (parse_rate(v, x) < 0) return -1;
    break;
  case KT_PROB: {
    uint32_t ppm;
    if (parse_prob(v, &ppm) < 0) return -1;
    *x = ppm;
    break;
  }
  case KT_UINT:
    if (parse_uint(v, d->max, x) < 0) return -1;
    break;
  case KT_INT: {
    int64_t i;
    if (parse_int(v, (int64_t)d->min, (int64_t)d->max, &i) < 0) return -1;
    *x = (uint64_t)i;
    return 0; /* range checked as signed */
  }
  case KT_BOOL: {
    bool b;
    if (parse_bool(v, &b) < 0) return -1;
    *x = b;
    return 0;
  }
  case KT_CHOICE:
    for (const struct choice *c = d->choices; c->name; c++)
      if (!strcmp(v, c->name)) {
        *x = (uint64_t)c->value;
        return 0;
      }
    return -1;
  case KT_FUNC: return d->set(L, obj, e);
  }
  return *x < d->min || *x > d->max ? -1 : 0;
}

static int apply_key(struct load *L, const struct key_def *d, void *obj, const struct entry *e) {
  uint64_t x = 0;
  int rc = parse_value(L, d, obj, e, &x);
  if (rc == 0 && d->type != KT_FUNC) {
    store_uint(obj, d, x);
    if (d->set) rc = d->set(L, obj, e);
  }
  if (rc == -1) return errf(L->r, e, "expected %s for %s, not '%s'", d->expect, e->key, e->value);
  return rc < 0 ? -1 : 0;
}

/* "unknown key 'k': expected a, b, c[ or tail]" with the names from the tables. */
static int unknown_key(struct load *L, const struct entry *e, const struct key_def *t1, size_t n1,
                       const struct key_def *t2, size_t n2, const char *tail) {
  char list[1024];
  size_t len = 0;
  list[0] = 0;
  for (size_t i = 0; i < n1 + n2; i++) {
    const struct key_def *d = i < n1 ? &t1[i] : &t2[i - n1];
    len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", len ? ", " : "", d->name);
    if (len >= sizeof list) break;
  }
  return errf(L->r, e, "unknown key '%s': expected %s%s%s", e->key, list, tail ? ", or " : "",
              tail ? tail : "");
}

/* A fault key under one of a section's direction prefixes ("link." = both
 * directions): 0 applied, -1 reported, -2 not a prefixed key. */
struct fault_prefix {
  const char *prefix;
  int dirs; /* bit 0: the first object, bit 1: the second */
};

static int apply_fault_key(struct load *L, const struct fault_prefix *p, size_t np, struct sim_faults *a,
                           struct sim_faults *b, const struct entry *e) {
  const char *dot = strchr(e->key, '.');
  if (!dot) return -2;
  for (size_t i = 0; i < np; i++) {
    if (strlen(p[i].prefix) != (size_t)(dot - e->key) || strncmp(e->key, p[i].prefix, (size_t)(dot - e->key)))
      continue;
    const struct key_def *d = find_key(fault_keys, NKEYS(fault_keys), dot + 1);
    if (!d) return -2;
    if ((p[i].dirs & 1) && apply_key(L, d, a, e) < 0) return -1;
    if ((p[i].dirs & 2) && apply_key(L, d, b, e) < 0) return -1;
    return 0;
  }
  return -2;
}

static const struct fault_prefix host_prefixes[] = {{"link", 3}, {"up", 1}, {"down", 2}};
#define FAULT_TAIL "link./up./down. + a fault (loss, burst_p, burst_r, burst_loss, burst_good_loss, reorder, " \
                   "reorder_delay, duplicate, corrupt, latency, jitter, bandwidth, queue, mtu)"

/* A stack or fault key of [defaults] or [host]. */
static int apply_tmpl_key(struct load *L, struct host_tmpl *t, const struct entry *e, const struct key_def *extra,
                          size_t nextra) {
  int rc = apply_fault_key(L, host_prefixes, NKEYS(host_prefixes), &t->up, &t->down, e);
  if (rc != -2) return rc;
  const struct key_def *d = find_key(stack_keys, NKEYS(stack_keys), e->key);
  if (d) return apply_key(L, d, t, e);
  return unknown_key(L, e, extra, nextra, stack_keys, NKEYS(stack_keys), FAULT_TAIL);
}

/* ---- [sim] -------------------------------------------------------------------------------- */
struct sim_section {
  struct sim *s;
  uint64_t seed, duration_us, settle_us, max_memory;
};

static int set_seed(struct load *L, void *obj, const struct entry *e) {
  uint64_t x;
  (void)obj;
  if (parse_uint(e->value, UINT64_MAX, &x) < 0) return -1;
  if (!L->s->seed) L->s->seed = x; /* --seed on the command line wins */
  return 0;
}

static const struct key_def sim_keys[] = {
    {"seed", KT_FUNC, NOFIELD, ANY, NULL, set_seed, "an integer seed 0..18446744073709551615",
     "default seed (the command line's --seed wins)"},
    {"duration", KT_DURATION, FIELD(struct sim, duration_us), 1, UINT64_MAX, NULL, NULL,
     "a duration above zero like 30s (the run would end before it starts)",
     "stop time: flows not finished by then are liveness failures (default 60 s)"},
    {"settle", KT_DURATION, FIELD(struct sim, settle_us), ANY, NULL, NULL, "a duration like 5s",
     "extra time after the last flow ended (default 5 s)"},
    {"max_memory", KT_SIZE, FIELD(struct load, max_memory), 1, UINT64_MAX, NULL, NULL, "a size like 4GiB",
     "refuse scenarios whose hosts need more (default 2 GiB)"},
};

static int sim_entry(struct load *L, const struct entry *e, const char *name) {
  (void)name;
  if (!e->key[0]) return 0;
  const struct key_def *d = find_key(sim_keys, NKEYS(sim_keys), e->key);
  if (!d) return unknown_key(L, e, sim_keys, NKEYS(sim_keys), NULL, 0, NULL);
  /* max_memory belongs to the load, everything else to the sim */
  return apply_key(L, d, !strcmp(d->name, "max_memory") ? (void *)L : (void *)L->s, e);
}

/* ---- [segment NAME] ----------------------------------------------------------------------- */
static const struct choice segment_choices[] = {{"switch", SEG_SWITCH}, {"hub", SEG_HUB}, {NULL, 0}};
static const struct key_def segment_keys[] = {
    {"type", KT_CHOICE, FIELD(struct sim_segment, kind), ANY, segment_choices, NULL, "a segment type: switch or hub",
     "`switch` (learning, the default) or `hub` (every frame to every member)"},
};

static int segment_entry(struct load *L, const struct entry *e, const char *name) {
  if (!*name) return errf(L->r, e, "expected a segment name: [segment NAME]");
  int g = find_segment(L->s, name);
  if (g < 0) g = add_segment(L->s, name, SEG_SWITCH);
  if (!e->key[0]) return 0; /* [segment NAME] alone: a switch */
  const struct key_def *d = find_key(segment_keys, NKEYS(segment_keys), e->key);
  if (!d) return unknown_key(L, e, segment_keys, NKEYS(segment_keys), NULL, 0, NULL);
  return apply_key(L, d, &L->s->segments[g], e);
}

/* ---- [defaults] --------------------------------------------------------------------------- */
static int defaults_entry(struct load *L, const struct entry *e, const char *name) {
  (void)name;
  if (!e->key[0]) return 0;
  return apply_tmpl_key(L, &L->defaults, e, NULL, 0);
}

/* ---- [host NAME] -------------------------------------------------------------------------- */
struct host_section {
  struct host_tmpl t;
  uint64_t count;
  uint32_t ip;
  const struct entry *count_at, *ip_at;
};

static int set_host_ip(struct load *L, void *obj, const struct entry *e) {
  struct host_section *h = obj;
  h->ip_at = e;
  if (parse_ip(e->value, &h->ip) < 0) return -1;
  if (h->ip == 0) return told(errf(L->r, e, "0.0.0.0 is not a host address: expected an address in 10.0.0.0/8"));
  if ((h->ip & SIM_NETMASK) != SIM_NET)
    return told(errf(L->r, e, "%s is outside 10.0.0.0/8, the network every host is on", e->value));
  if ((h->ip & ~SIM_NETMASK) == 0 || (h->ip & ~SIM_NETMASK) == ~SIM_NETMASK)
    return told(errf(L->r, e, "%s is the network's own or broadcast address: expected a host address", e->value));
  return 0;
}

static int set_host_count(struct load *L, void *obj, const struct entry *e) {
  (void)L;
  ((struct host_section *)obj)->count_at = e;
  return 0;
}

static int set_host_mac(struct load *L, void *obj, const struct entry *e) {
  struct host_section *h = obj;
  (void)L;
  h->t.have_mac = true;
  return parse_mac(e->value, h->t.mac);
}

static int set_host_segment(struct load *L, void *obj, const struct entry *e) {
  struct host_section *h = obj;
  h->t.segment = find_segment(L->s, e->value);
  if (h->t.segment < 0)
    return told(errf(L->r, e, "expected a segment defined in a [segment] section, not '%s'", e->value));
  return 0;
}

static const struct key_def host_keys[] = {
    {"ip", KT_FUNC, NOFIELD, ANY, NULL, set_host_ip, "an IPv4 address like 10.0.0.1",
     "address in 10.0.0.0/8 (default 10.0.0.<position>); a group's members count up from it"},
    {"mac", KT_FUNC, NOFIELD, ANY, NULL, set_host_mac, "a unicast MAC like 02:00:00:00:00:01",
     "default 02:00 + the position (1-based); a group's members count up from it"},
    {"segment", KT_FUNC, NOFIELD, ANY, NULL, set_host_segment, "a segment name",
     "the [segment] to attach to (default: the `default` switch)"},
    {"count", KT_UINT, FIELD(struct host_section, count), 1, SIM_MAX_HOSTS, NULL, set_host_count,
     "a host count 1..10000", "a group: hosts NAME0..NAME<count-1>"},
};

static int host_section_key(struct load *L, struct host_section *h, const struct entry *e) {
  const struct key_def *d = find_key(host_keys, NKEYS(host_keys), e->key);
  if (d) return apply_key(L, d, h, e);
  return apply_tmpl_key(L, &h->t, e, host_keys, NKEYS(host_keys));
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

/* Create the host (or the group's hosts) a [host] section describes. */
static int host_create(struct load *L, const struct entry *e, const char *name, const struct host_section *h) {
  struct sim *s = L->s;
  if (h->ip && (uint64_t)(h->ip & ~SIM_NETMASK) + h->count - 1 >= (uint64_t)~SIM_NETMASK)
    return errf(L->r, h->ip_at, "%llu hosts from %s run past the end of 10.0.0.0/8", (unsigned long long)h->count,
                h->ip_at->value);
  if ((uint64_t)s->nhosts + h->count > SIM_MAX_HOSTS)
    return errf(L->r, h->count_at, "%llu more hosts make %llu: the limit is %d", (unsigned long long)h->count,
                (unsigned long long)s->nhosts + h->count, SIM_MAX_HOSTS);
  struct host_tmpl tmpl = h->t;
  apply_tcp_pool(&tmpl);
  /* Memory is checked up front: every host's arena is committed at setup. */
  s->mem_estimate += ((uint64_t)microtcp_footprint(&tmpl.cfg) + SIM_HOST_OVERHEAD) * h->count;
  if (s->mem_estimate > L->max_memory)
    return errf(L->r, h->count_at, "the hosts so far need about %llu MiB of stack memory, more than max_memory "
                "(%llu MiB; raise it in [sim] if the machine has it)",
                (unsigned long long)(s->mem_estimate >> 20), (unsigned long long)(L->max_memory >> 20));
  for (uint64_t k = 0; k < h->count; k++) {
    char hn[32];
    if (h->count == 1) snprintf(hn, sizeof hn, "%s", name);
    else snprintf(hn, sizeof hn, "%s%llu", name, (unsigned long long)k);
    if (find_host(s, hn) >= 0) return errf(L->r, e, "host '%s' defined twice", hn);
    if (add_host(s, hn, &tmpl, h->ip ? h->ip + (uint32_t)k : 0, (uint32_t)k) < 0) return -1;
    L->r->host_line = realloc(L->r->host_line, (size_t)s->nhosts * sizeof *L->r->host_line);
    if (!L->r->host_line) abort();
    L->r->host_line[s->nhosts - 1] = e->line;
  }
  return 0;
}

/* The keys of the section that starts at entry i, one by one. */
#define FOR_SECTION_KEYS(L, i, f)                                                                  \
  for (size_t j_ = (i); j_ < (L)->r->n && !strcmp((L)->r->e[j_].section, (L)->r->e[i].section); j_++) \
    for (const struct entry *f = &(L)->r->e[j_]; f && f->key[0]; f = NULL)

static int load_host(struct load *L, size_t i, const char *name) {
  const struct entry *e = &L->r->e[i];
  if (!*name) return errf(L->r, e, "expected a host name: [host NAME]");
  struct host_section h = {.t = L->defaults, .count = 1, .ip = 0, .count_at = e, .ip_at = e};
  FOR_SECTION_KEYS(L, i, f) {
    if (host_section_key(L, &h, f) < 0) return -1;
  }
  return host_create(L, e, name, &h);
}

/* ---- [link A B] --------------------------------------------------------------------------- */
static const struct fault_prefix link_prefixes[] = {{"link", 3}, {"forward", 1}, {"reverse", 2}};

static int load_link(struct load *L, size_t i, const char *name) {
  struct sim *s = L->s;
  const struct entry *e = &L->r->e[i];
  char an[64], bn[64], extra;
  if (sscanf(name, "%63s %63s %c", an, bn, &extra) != 2) return errf(L->r, e, "expected two host names: [link A B]");
  int ha = find_host(s, an), hb = find_host(s, bn);
  if (ha < 0 || hb < 0) return errf(L->r, e, "expected hosts defined in [host] sections, not '%s'", ha < 0 ? an : bn);
  if (ha == hb) return errf(L->r, e, "expected two different hosts");
  if (s->hosts[ha].segment >= 0 || s->hosts[hb].segment >= 0)
    return errf(L->r, e, "host '%s' is already attached (a host has one interface: one segment or one link)",
                s->hosts[ha].segment >= 0 ? an : bn);
  /* Each direction starts from the [defaults] link faults, once. */
  struct sim_faults fwd = L->defaults.up, rev = L->defaults.up;
  FOR_SECTION_KEYS(L, i, f) {
    int rc = apply_fault_key(L, link_prefixes, NKEYS(link_prefixes), &fwd, &rev, f);
    if (rc == -2)
      return errf(L->r, f, "unknown key '%s': expected link./forward. (A to B)/reverse. (B to A) + a fault", f->key);
    if (rc < 0) return -1;
  }
  char ln[64];
  snprintf(ln, sizeof ln, "%.30s-%.30s", an, bn);
  int g = add_segment(s, ln, SEG_LINK);
  segment_join(s, g, ha);
  segment_join(s, g, hb);
  s->hosts[ha].up_dir.f = fwd;
  s->hosts[hb].up_dir.f = rev;
  memset(&s->hosts[ha].down_dir.f, 0, sizeof(struct sim_faults));
  memset(&s->hosts[hb].down_dir.f, 0, sizeof(struct sim_faults));
  return 0;
}

/* ---- [flow NAME] -------------------------------------------------------------------------- */
struct flow_section {
  struct sim_flow fl;
  char client_group[32];
  uint64_t group_count;
};

static int set_flow_type(struct load *L, void *obj, const struct entry *e) {
  (void)L;
  int k = app_kind_from_name(e->value);
  if (!k || app_kind_name((enum app_kind)k)[0] == 0 || k == APP_SINK || k == APP_ECHO_SERVER ||
      k == APP_HTTP_SERVER || k == APP_UDP_ECHO_SERVER)
    return -1;
  ((struct flow_section *)obj)->fl.kind = (enum app_kind)k;
  return 0;
}

static int set_flow_host(struct load *L, void *obj, const struct entry *e) {
  struct flow_section *fs = obj;
  struct sim *s = L->s;
  bool client = !strcmp(e->key, "client");
  int hidx = find_host(s, e->value);
  if (hidx < 0 && client) {
    /* a host group: NAME0..NAMEk */
    char probe[40];
    snprintf(probe, sizeof probe, "%.30s0", e->value);
    if (find_host(s, probe) >= 0) {
      snprintf(fs->client_group, sizeof fs->client_group, "%.30s", e->value);
      for (;;) {
        snprintf(probe, sizeof probe, "%.20s%llu", e->value, (unsigned long long)fs->group_count);
        if (find_host(s, probe) < 0) break;
        fs->group_count++;
      }
      return 0;
    }
  }
  if (hidx < 0) return told(errf(L->r, e, "expected a host defined in a [host] section, not '%s'", e->value));
  *(client ? &fs->fl.client : &fs->fl.server) = hidx;
  return 0;
}

static int set_flow_start(struct load *L, void *obj, const struct entry *e) {
  uint64_t x = ((struct flow_section *)obj)->fl.start_us, d = L->s->duration_us;
  if (x >= d)
    return told(errf(L->r, e, "start %s is not before the end of the run (duration %llu.%06llu s)", e->value,
                (unsigned long long)(d / 1000000), (unsigned long long)(d % 1000000)));
  return 0;
}

static const struct choice expect_choices[] = {
    {"done", EXPECT_DONE}, {"failed", EXPECT_FAILED}, {"any", EXPECT_ANY}, {NULL, 0}};
#define FL(field) FIELD(struct flow_section, fl.field)
static const struct key_def flow_keys[] = {
    {"type", KT_FUNC, NOFIELD, ANY, NULL, set_flow_type,
     "a flow type: tcp-bulk, tcp-echo, http, udp-echo or ping", "the app pair (required)"},
    {"client", KT_FUNC, NOFIELD, ANY, NULL, set_flow_host, "a host name",
     "a host, or a group: one flow per member, NAME.0, NAME.1, ... (required)"},
    {"server", KT_FUNC, NOFIELD, ANY, NULL, set_flow_host, "a host name", "a host (required)"},
    {"port", KT_UINT, FL(port), 1, 65535, NULL, NULL, "a port 1..65535", "server port (default 5000)"},
    {"bytes", KT_SIZE, FL(params.bytes), ANY, NULL, NULL, "a size like 10MB",
     "tcp-bulk, http: bytes to transfer (default 1 MB)"},
    {"count", KT_UINT, FL(params.count), 1, 1000000, NULL, NULL, "a positive integer (up to 1000000)",
     "tcp-echo, udp-echo, ping: exchanges (default 10)"},
    {"size", KT_SIZE, FL(params.size), 8, 2048, NULL, NULL, "a size 8..2048 bytes",
     "bytes per exchange (default 100)"},
    {"connections", KT_UINT, FL(connections), 1, 1000000, NULL, NULL, "a positive integer (up to 1000000)",
     "parallel connections of this flow (default 1)"},
    {"start", KT_DURATION, FL(start_us), ANY, NULL, set_flow_start, "a duration like 100ms",
     "start time, before `duration` (default 0)"},
    {"timeout", KT_DURATION, FL(params.timeout_us), ANY, NULL, NULL, "a duration like 100ms",
     "udp-echo, ping: wait for a reply this long (default 2 s); with no reply at all after `count` "
     "requests, up to 32 more are sent, one per timeout"},
    {"expect", KT_CHOICE, FL(expect), ANY, expect_choices, NULL, "done, failed or any",
     "the outcome that passes: `done` (default), `failed` or `any`; anything else is exit 4"},
};
#undef FL

/* Add the flow (or one per member of the client group) a [flow] section describes. */
static int flow_create(struct load *L, const struct entry *e, const char *name, struct flow_section *fs) {
  struct sim *s = L->s;
  struct sim_flow *fl = &fs->fl;
  if (!fl->kind) return errf(L->r, e, "flow %s: expected a 'type'", name);
  if ((fl->client < 0 && !fs->client_group[0]) || fl->server < 0)
    return errf(L->r, e, "flow %s: expected both 'client' and 'server'", name);
  uint64_t members = fs->client_group[0] ? fs->group_count : 1;
  for (uint64_t k = 0; k < members; k++) {
    struct sim_flow one = *fl;
    if (fs->client_group[0]) {
      char hn[48];
      snprintf(hn, sizeof hn, "%.20s%llu", fs->client_group, (unsigned long long)k);
      one.client = find_host(s, hn);
      snprintf(one.name, sizeof one.name, "%.16s.%llu", name, (unsigned long long)(k % 1000000));
    }
    if (one.client == one.server) return errf(L->r, e, "flow %s: client and server must differ", name);
    one.params.remote_ip = s->hosts[one.server].cfg.ip;
    one.params.remote_port = one.port;
    for (int o = 0; o < s->nflows; o++)
      if (!strcmp(s->flows[o].name, one.name)) return errf(L->r, e, "flow '%s' defined twice", one.name);
    one.params.flow_seed = sim_stream_seed(s->seed, 3000 + (uint64_t)one.port, sim_name_id(one.name));
    s->flows = realloc(s->flows, (size_t)(s->nflows + 1) * sizeof *s->flows);
    if (!s->flows) abort();
    s->flows[s->nflows++] = one;
    L->r->flow_line = realloc(L->r->flow_line, (size_t)s->nflows * sizeof *L->r->flow_line);
    if (!L->r->flow_line) abort();
    L->r->flow_line[s->nflows - 1] = e->line;
  }
  return 0;
}

static int load_flow(struct load *L, size_t i, const char *name) {
  const struct entry *e = &L->r->e[i];
  if (!*name) return errf(L->r, e, "expected a flow name: [flow NAME]");
  struct flow_section fs;
  memset(&fs, 0, sizeof fs);
  snprintf(fs.fl.name, sizeof fs.fl.name, "%s", name);
  fs.fl.client = fs.fl.server = -1;
  fs.fl.connections = 1;
  fs.fl.port = 5000;
  fs.fl.params.bytes = 1000000;
  fs.fl.params.count = 10;
  fs.fl.params.size = 100;
  FOR_SECTION_KEYS(L, i, f) {
    const struct key_def *d = find_key(flow_keys, NKEYS(flow_keys), f->key);
    if (!d) return unknown_key(L, f, flow_keys, NKEYS(flow_keys), NULL, 0, NULL);
    if (apply_key(L, d, &fs, f) < 0) return -1;
  }
  return flow_create(L, e, name, &fs);
}

/* ---- [event NAME] ------------------------------------------------------------------------- */
struct event_section {
  struct sim_event_spec ev;
  bool have_at;
  int group_first, group_n; /* host = a group: one event per member */
};

static int set_event_at(struct load *L, void *obj, const struct entry *e) {
  struct event_section *es = obj;
  uint64_t d = L->s->duration_us;
  es->have_at = true;
  if (es->ev.at >= d)
    return told(errf(L->r, e, "at %s is not before the end of the run (duration %llu.%06llu s): it would never happen",
                e->value, (unsigned long long)(d / 1000000), (unsigned long long)(d % 1000000)));
  return 0;
}

static int set_event_host(struct load *L, void *obj, const struct entry *e) {
  struct event_section *es = obj;
  bool host = !strcmp(e->key, "host");
  int hidx = find_host(L->s, e->value);
  if (hidx < 0 && host && (es->group_n = group_members(L->s, e->value, &es->group_first)) > 0)
    hidx = es->group_first;
  if (hidx < 0)
    return told(errf(L->r, e, "expected a host or a group defined in a [host] section, not '%s'", e->value));
  *(host ? &es->ev.a : &es->ev.b) = hidx;
  return 0;
}

static const struct choice action_choices[] = {
    {"partition", EV_PARTITION}, {"heal", EV_HEAL},       {"link_down", EV_LINK_DOWN}, {"link_up", EV_LINK_UP},
    {"crash", EV_CRASH},         {"restart", EV_RESTART}, {"calm", EV_CALM},           {NULL, 0}};
#define EV(field) FIELD(struct event_section, ev.field)
static const struct key_def event_keys[] = {
    {"at", KT_DURATION, EV(at), ANY, NULL, set_event_at, "a time like 2s", "when, before `duration` (required)"},
    {"action", KT_CHOICE, EV(kind), ANY, action_choices, NULL,
     "an action: partition, heal, link_down, link_up, crash, restart or calm",
     "partition | heal | link_down | link_up | crash | restart | calm (required)"},
    {"host", KT_FUNC, NOFIELD, ANY, NULL, set_event_host, "a host name",
     "a host, or a group: one event per member (required, except for calm)"},
    {"peer", KT_FUNC, NOFIELD, ANY, NULL, set_event_host, "a host name",
     "partition/heal: only between host and peer (default: host and everyone)"},
    {"one_way", KT_BOOL, EV(one_way), ANY, NULL, NULL, "yes or no", "partition/heal: only host → peer"},
};
#undef EV

/* The host key of the event section starting at entry i. */
static const char *event_host_name(const struct load *L, size_t i) {
  for (size_t j = i; j < L->r->n && !strcmp(L->r->e[j].section, L->r->e[i].section); j++)
    if (!strcmp(L->r->e[j].key, "host")) return L->r->e[j].value;
  return "";
}

static int load_event(struct load *L, size_t i, const char *name) {
  struct sim *s = L->s;
  const struct entry *e = &L->r->e[i];
  struct event_section es = {{0, 0, -1, -1, false}, false, -1, 0};
  FOR_SECTION_KEYS(L, i, f) {
    const struct key_def *d = find_key(event_keys, NKEYS(event_keys), f->key);
    if (!d) return unknown_key(L, f, event_keys, NKEYS(event_keys), NULL, 0, NULL);
    if (apply_key(L, d, &es, f) < 0) return -1;
  }
  if (es.ev.kind == EV_CALM && es.ev.a < 0) es.ev.a = 0; /* calm concerns every link */
  if (!es.have_at || !es.ev.kind || es.ev.a < 0) return errf(L->r, e, "event %s: expected 'at', 'action' and 'host'", name);
  int n = es.group_n > 0 ? es.group_n : 1;
  for (int k = 0; k < n; k++) {
    s->events = realloc(s->events, (size_t)(s->nevents + 1) * sizeof *s->events);
    if (!s->events) abort();
    s->events[s->nevents] = es.ev;
    if (es.group_first >= 0) {
      char hn[48];
      snprintf(hn, sizeof hn, "%.30s%d", event_host_name(L, i), k);
      s->events[s->nevents].a = find_host(s, hn);
    }
    s->nevents++;
  }
  return 0;
}

/* ---- [attacker NAME] ----------------------------------------------------------------------- */
struct attacker_section {
  struct host_section h; /* ip, mac, segment and link faults, as a host */
  struct sim_attack a;
  bool have_rate, have_connections, have_stop, have_port, have_interval;
  const struct entry *target_at, *flow_at, *victim_at;
  const char *victim;
};

static int set_attack_target(struct load *L, void *obj, const struct entry *e) {
  struct attacker_section *as = obj;
  as->a.target = find_host(L->s, e->value);
  as->target_at = e;
  if (as->a.target < 0 || L->s->hosts[as->a.target].attack)
    return told(errf(L->r, e, "expected a host defined in a [host] section, not '%s'", e->value));
  return 0;
}

static int set_attack_flow(struct load *L, void *obj, const struct entry *e) {
  struct attacker_section *as = obj;
  as->flow_at = e;
  for (int f = 0; f < L->s->nflows; f++)
    if (!strcmp(L->s->flows[f].name, e->value)) {
      if (L->s->flows[f].kind != APP_SOURCE && L->s->flows[f].kind != APP_ECHO_CLIENT &&
          L->s->flows[f].kind != APP_HTTP_CLIENT)
        return told(errf(L->r, e, "flow '%s' is not a TCP flow: expected a tcp-bulk, tcp-echo or http flow", e->value));
      as->a.flow = f;
      return 0;
    }
  return told(errf(L->r, e, "expected a flow defined in a [flow] section (one connection: for a group, "
                   "NAME.0), not '%s'", e->value));
}

static int set_attack_victim(struct load *L, void *obj, const struct entry *e) {
  struct attacker_section *as = obj;
  (void)L;
  if (strcmp(e->value, "client") && strcmp(e->value, "server")) return -1;
  as->victim = e->value;
  as->victim_at = e;
  return 0;
}

#define SEEN(flag) static int seen_##flag(struct load *L, void *obj, const struct entry *e) { \
    (void)L; (void)e; ((struct attacker_section *)obj)->have_##flag = true; return 0; }
SEEN(rate)
SEEN(connections)
SEEN(stop)
SEEN(port)
SEEN(interval)
#undef SEEN

static const struct choice attack_choices[] = {{"syn-flood", ATK_SYN_FLOOD}, {"sockstress", ATK_SOCKSTRESS},
                                               {"slowloris", ATK_SLOWLORIS}, {"rst-probe", ATK_RST_PROBE},
                                               {"icmp-forge", ATK_ICMP_FORGE}, {NULL, 0}};
#define AT(field) FIELD(struct attacker_section, a.field)
static const struct key_def attacker_keys[] = {
    {"type", KT_CHOICE, AT(kind), ANY, attack_choices, NULL,
     "an attack: syn-flood, sockstress, slowloris, rst-probe or icmp-forge", "the attack (required; see below)"},
    {"target", KT_FUNC, NOFIELD, ANY, NULL, set_attack_target, "a host name",
     "syn-flood, sockstress, slowloris: the host attacked (required)"},
    {"port", KT_UINT, AT(port), 1, 65535, NULL, seen_port, "a port 1..65535",
     "syn-flood, sockstress, slowloris: the port attacked (required; sockstress and slowloris: an http flow's port)"},
    {"flow", KT_FUNC, NOFIELD, ANY, NULL, set_attack_flow, "a TCP flow name",
     "rst-probe, icmp-forge: the victim connection (the flow's first; required)"},
    {"victim", KT_FUNC, NOFIELD, ANY, NULL, set_attack_victim, "client or server",
     "rst-probe, icmp-forge: which end is attacked (default: server for rst-probe, client for icmp-forge)"},
    {"rate", KT_UINT, AT(rate), 1, 1000000, NULL, seen_rate, "a rate 1..1000000 per second",
     "frames (sockstress, slowloris: new connections) per second (default 1000 syn-flood, 20 sockstress and "
     "slowloris, 100 rst-probe, 20 icmp-forge)"},
    {"connections", KT_UINT, AT(connections), 1, 10000, NULL, seen_connections, "an integer 1..10000",
     "sockstress, slowloris: connections held at once (default 64)"},
    {"sources", KT_UINT, AT(sources), 1, 256, NULL, NULL, "an integer 1..256",
     "sockstress, slowloris: source addresses used, from `ip` up, all answering ARP (default 1)"},
    {"interval", KT_DURATION, AT(interval_us), 1000, 3600000000ull, NULL, seen_interval, "a duration 1ms..1h",
     "slowloris: one header byte per connection this often (default 1 s)"},
    {"start", KT_DURATION, AT(start_us), ANY, NULL, NULL, "a duration like 1s", "when the attack starts (default 0)"},
    {"stop", KT_DURATION, AT(stop_us), ANY, NULL, seen_stop, "a duration like 30s",
     "when it stops sending (default: `duration`); held connections stay held"},
};
#undef AT

/* Defaults per kind, then the checks a kind needs. */
static int attacker_finish(struct load *L, const struct entry *e, const char *name, struct attacker_section *as) {
  struct sim_attack *a = &as->a;
  struct sim *s = L->s;
  static const uint32_t rates[] = {0, 1000, 20, 20, 100, 20};
  if (!a->kind) return errf(L->r, e, "attacker %s: expected a 'type'", name);
  if (!as->have_rate) a->rate = rates[a->kind];
  if (!as->have_stop) a->stop_us = s->duration_us;
  if (!a->sources) a->sources = 1;
  bool held = a->kind == ATK_SOCKSTRESS || a->kind == ATK_SLOWLORIS;
  if (held && !as->have_connections) a->connections = 64;
  if (!held) a->connections = 0;
  if (!as->have_interval) a->interval_us = 1000000;
  if (a->start_us >= s->duration_us || a->stop_us <= a->start_us)
    return errf(L->r, e, "attacker %s: expected start < stop and start before `duration`", name);
  if (a->kind == ATK_RST_PROBE || a->kind == ATK_ICMP_FORGE) {
    if (a->flow < 0) return errf(L->r, e, "attacker %s: a %s needs 'flow'", name, attack_kind_name(a->kind));
    const struct sim_flow *fl = &s->flows[a->flow];
    bool server = as->victim ? !strcmp(as->victim, "server") : a->kind == ATK_RST_PROBE;
    a->victim = server ? fl->server : fl->client;
    a->target = a->victim;
    return 0;
  }
  if (a->target < 0 || !as->have_port)
    return errf(L->r, e, "attacker %s: a %s needs 'target' and 'port'", name, attack_kind_name(a->kind));
  if (held) {
    /* the bytes it sends would be stream errors for a sink or echo: only an HTTP server takes them */
    bool http = false;
    for (int f = 0; f < s->nflows; f++)
      http |= s->flows[f].server == a->target && s->flows[f].port == a->port && s->flows[f].kind == APP_HTTP_CLIENT;
    if (!http)
      return errf(L->r, as->target_at, "attacker %s: port %u of %s is not an http flow's server port (a %s "
                  "sends HTTP bytes, which a tcp-bulk or tcp-echo server would count as corruption)", name,
                  a->port, s->hosts[a->target].name, attack_kind_name(a->kind));
  }
  return 0;
}

static int load_attacker(struct load *L, size_t i, const char *name) {
  const struct entry *e = &L->r->e[i];
  struct sim *s = L->s;
  if (!*name) return errf(L->r, e, "expected an attacker name: [attacker NAME]");
  struct attacker_section as;
  memset(&as, 0, sizeof as);
  as.h.t = L->defaults;
  as.h.count = 1;
  as.h.count_at = as.h.ip_at = e;
  as.a.target = as.a.flow = as.a.victim = -1;
  FOR_SECTION_KEYS(L, i, f) {
    const struct key_def *d = find_key(attacker_keys, NKEYS(attacker_keys), f->key);
    const struct key_def *hd = find_key(host_keys, 3, f->key); /* ip, mac, segment */
    int rc;
    if (d) rc = apply_key(L, d, &as, f);
    else if (hd) rc = apply_key(L, hd, &as.h, f);
    else if ((rc = apply_fault_key(L, host_prefixes, NKEYS(host_prefixes), &as.h.t.up, &as.h.t.down, f)) == -2)
      rc = unknown_key(L, f, attacker_keys, NKEYS(attacker_keys), host_keys, 3,
                       "link./up./down. + a fault key");
    if (rc < 0) return -1;
  }
  if (attacker_finish(L, e, name, &as) < 0) return -1;
  if (find_host(s, name) >= 0) return errf(L->r, e, "host '%s' defined twice", name);
  if (add_host(s, name, &as.h.t, as.h.ip, 0) < 0) return -1;
  struct sim_host *h = &s->hosts[s->nhosts - 1];
  uint32_t first = h->cfg.ip;
  if ((uint64_t)(first & ~SIM_NETMASK) + as.a.sources >= (uint64_t)~SIM_NETMASK)
    return errf(L->r, e, "attacker %s: %u sources from its address run past the end of 10.0.0.0/8", name,
                as.a.sources);
  for (int k = 0; k + 1 < s->nhosts; k++)
    if (s->hosts[k].cfg.ip > first && s->hosts[k].cfg.ip < first + as.a.sources)
      return errf(L->r, e, "attacker %s: its %u source addresses include host %s's", name, as.a.sources,
                  s->hosts[k].name);
  h->attack = malloc(sizeof *h->attack);
  if (!h->attack) abort();
  *h->attack = as.a;
  L->r->host_line = realloc(L->r->host_line, (size_t)s->nhosts * sizeof *L->r->host_line);
  if (!L->r->host_line) abort();
  L->r->host_line[s->nhosts - 1] = e->line;
  return 0;
}

/* ---- sections ------------------------------------------------------------------------------ */
/* Sections are applied in passes so that what a section names exists first:
 * [sim], [segment] and [defaults] (1), hosts (2), links and flows (3),
 * attackers (4: after the flows they name; hosts, so events may name them),
 * events (5). Per-key sections see each entry; whole sections are handled once, at
 * their first entry (the header marker). */
struct section_def {
  const char *kind;
  int pass;
  int (*entry)(struct load *L, const struct entry *e, const char *name);   /* per key */
  int (*section)(struct load *L, size_t first, const char *name);          /* whole section */
  const struct key_def *keys;
  size_t nkeys;
  const char *title;
};

static const struct section_def sections[] = {
    {"sim", 1, sim_entry, NULL, sim_keys, NKEYS(sim_keys), "[sim]"},
    {"defaults", 1, defaults_entry, NULL, NULL, 0, "[defaults]"},
    {"segment", 1, segment_entry, NULL, segment_keys, NKEYS(segment_keys), "[segment NAME]"},
    {"host", 2, NULL, load_host, host_keys, NKEYS(host_keys), "[host NAME]"},
    {"link", 3, NULL, load_link, NULL, 0, "[link A B]"},
    {"flow", 3, NULL, load_flow, flow_keys, NKEYS(flow_keys), "[flow NAME]"},
    {"attacker", 4, NULL, load_attacker, attacker_keys, NKEYS(attacker_keys), "[attacker NAME]"},
    {"event", 5, NULL, load_event, event_keys, NKEYS(event_keys), "[event NAME]"},
};

static const struct section_def *section_of(const char *section, const char **name) {
  for (size_t i = 0; i < NKEYS(sections); i++) {
    size_t n = strlen(sections[i].kind);
    if (!strncmp(section, sections[i].kind, n) && (section[n] == 0 || section[n] == ' ')) {
      *name = section[n] ? section + n + 1 : "";
      return &sections[i];
    }
  }
  return NULL;
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

/* Two hosts with one MAC confuse switches and ARP alike. */
static int check_macs(const struct sim *s, const char *path) {
  for (int i = 0; i < s->nhosts; i++)
    for (int j = i + 1; j < s->nhosts; j++)
      if (s->hosts[i].segment == s->hosts[j].segment && !memcmp(s->hosts[i].cfg.mac, s->hosts[j].cfg.mac, 6)) {
        fprintf(stderr, "%s: expected unique MACs: hosts %s and %s share one\n", path, s->hosts[i].name,
                s->hosts[j].name);
        return -1;
      }
  return 0;
}

/* No routers: a flow's two hosts must share a segment (or a link). */
static int check_flow_reach(const struct sim *s, const struct reader *r) {
  for (int f = 0; f < s->nflows; f++) {
    const struct sim_flow *fl = &s->flows[f];
    const struct sim_host *c = &s->hosts[fl->client], *v = &s->hosts[fl->server];
    if (c->segment == v->segment) continue;
    fprintf(stderr, "%s:%d: flow %s: client %s (segment %s) cannot reach server %s (segment %s): "
            "segments are separate networks with no router between them\n", r->path, r->flow_line[f], fl->name,
            c->name, s->segments[c->segment].name, v->name, s->segments[v->segment].name);
    return -1;
  }
  return 0;
}

/* Checks over the whole network, once every section was applied. */
static int check_network(struct sim *s, const struct reader *r) {
  if (s->nhosts < 2) {
    fprintf(stderr, "%s: expected at least two [host] sections\n", r->path);
    return -1;
  }
  /* Hosts attached nowhere share the implicit default switch. */
  for (int i = 0; i < s->nhosts; i++) {
    if (s->hosts[i].segment >= 0) continue;
    int g = find_segment(s, "default");
    if (g < 0) g = add_segment(s, "default", SEG_SWITCH);
    segment_join(s, g, i);
  }
  if (check_macs(s, r->path) < 0 || check_addresses(s, r) < 0) return -1;
  return check_flow_reach(s, r);
}

static int apply_sections(struct load *L) {
  struct reader *r = L->r;
  for (int pass = 1; pass <= 5; pass++) {
    for (size_t i = 0; i < r->n; i++) {
      const struct entry *e = &r->e[i];
      const char *name;
      const struct section_def *sd = section_of(e->section, &name);
      if (!sd)
        return errf(r, e, "unknown section [%s]: expected [sim], [defaults], [segment NAME], [host NAME], "
                    "[link A B], [flow NAME], [attacker NAME] or [event NAME]", e->section);
      if (sd->pass != pass) continue;
      if (sd->entry && sd->entry(L, e, name) < 0) return -1;
      bool first = i == 0 || strcmp(r->e[i - 1].section, e->section);
      if (sd->section && first && sd->section(L, i, name) < 0) return -1;
    }
  }
  return 0;
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
  s->mem_estimate = 0;
  struct load L = {.s = s, .r = &r, .max_memory = SIM_DEFAULT_MAX_MEMORY};
  default_tmpl(&L.defaults);
  int err = apply_sections(&L);
  if (!err) err = check_same_key_twice(&r);
  free(r.e);
  if (!err) err = check_network(s, &r);
  free(r.host_line);
  free(r.flow_line);
  return err ? -1 : 0;
}

/* ---- the reference: `microtcp-sim keys` ---------------------------------------------------- */
static void print_keys(FILE *out, const char *prefix, const struct key_def *t, size_t n) {
  for (size_t i = 0; i < n; i++)
    fprintf(out, "| `%s%s` | %s | %s |\n", prefix, t[i].name, t[i].expect, t[i].doc);
}

void sim_scenario_print_keys(FILE *out) {
  for (size_t i = 0; i < NKEYS(sections); i++) {
    const struct section_def *sd = &sections[i];
    fprintf(out, "%s**%s**\n\n| key | value | meaning |\n|---|---|---|\n", i ? "\n" : "", sd->title);
    print_keys(out, "", sd->keys, sd->nkeys);
    if (!strcmp(sd->kind, "defaults")) {
      print_keys(out, "", stack_keys, NKEYS(stack_keys));
      fprintf(out, "| `link.`/`up.`/`down.` + a fault key | see the fault keys | both directions / host → "
                   "segment / segment → host |\n");
    } else if (!strcmp(sd->kind, "host")) {
      fprintf(out, "| every `[defaults]` key | | for this host (or group) only |\n");
    } else if (!strcmp(sd->kind, "attacker")) {
      print_keys(out, "", host_keys, 3);
      fprintf(out, "| `link.`/`up.`/`down.` + a fault key | see the fault keys | its link, as a host's |\n");
    } else if (!strcmp(sd->kind, "link")) {
      fprintf(out, "| `link.`/`forward.`/`reverse.` + a fault key | see the fault keys | both directions / "
                   "A → B / B → A |\n");
    }
  }
  fprintf(out, "\n**fault keys** (after a direction prefix)\n\n| key | value | meaning |\n|---|---|---|\n");
  print_keys(out, "", fault_keys, NKEYS(fault_keys));
}
