/* The report model (frames, faults, TCP samples, links, events, flows) and
 * its HTML/SVG writer. See report.h. */
#include "report.h"
#include "prng.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *const report_fault_class[RF_KINDS] = {
    "loss", "burst", "queue", "mtu", "partition", "link-down", "crash", "no-host",
    "duplicate", "reorder", "corrupt", "bug"};
static const char *const fault_label[RF_KINDS] = {
    "lost", "lost in a burst", "queue overflow", "over the MTU", "partitioned", "link down",
    "host crashed (down)", "no such port", "duplicated", "reordered", "corrupted",
    "changed by --inject-bug"};
static const char *const fault_colour[RF_KINDS] = {
    "#d62728", "#8c1c13", "#ff7f0e", "#8c564b", "#9467bd", "#7f7f7f", "#000000", "#aaaaaa",
    "#1f77b4", "#e6a100", "#e377c2", "#ff0000"};

#define PLOT_W 960  /* pixel columns of every time plot: the decimation unit */
#define TSG_H 300
#define SMALL_H 150
#define LINK_BUCKETS 480
#define MAX_CONN_GRAPHS 60 /* connections drawn in full; the rest are listed */
#define MAX_LINK_GRAPHS 24
#define MAX_TIMELINE_ROWS 80

/* ---- growable arrays ------------------------------------------------------------- */
static void *grow(void *p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return p;
  size_t c = *cap ? *cap : 16;
  while (c < need) c *= 2;
  p = realloc(p, c * elem);
  if (!p) abort();
  *cap = c;
  return p;
}
#define PUSH(arr, n, cap) (*((arr) = grow((arr), &(cap), (n) + 1, sizeof *(arr)), &(arr)[(n)++]))

static char *dupstr(const char *s) {
  size_t n = strlen(s ? s : "") + 1;
  char *d = malloc(n);
  if (!d) abort();
  memcpy(d, s ? s : "", n);
  return d;
}

/* ---- the model ----------------------------------------------------------------------- */
struct seg {          /* one TCP frame of a connection */
  uint64_t t;
  uint32_t seq, ack;  /* relative to the ISN of the sender / of the receiver */
  uint32_t win;       /* scaled */
  uint32_t id;        /* frame id */
  uint32_t sack;      /* index of the first SACK block in conn.sacks */
  uint16_t len;       /* payload bytes */
  uint16_t faults;    /* enum report_fault bits, all hops */
  uint8_t flags;      /* TCP flags */
  uint8_t dir;        /* 0: from end 0, 1: from end 1 */
  uint8_t nsack;
  bool retx;          /* sequence space sent before */
};

struct sample {
  uint64_t t;
  uint32_t cwnd, ssthresh, srtt, rto;
};

struct conn {
  uint32_t ip[2];
  uint16_t port[2];
  bool isn_set[2], syn[2];
  uint32_t isn[2];
  uint8_t ws[2];
  bool ws_seen[2];
  uint32_t max_end[2];   /* highest relative sequence end sent */
  uint64_t bytes[2];     /* payload bytes (first transmissions) */
  uint32_t retx[2];
  struct seg *segs;
  size_t nsegs, capsegs;
  uint32_t (*sacks)[2];
  size_t nsacks, capsacks;
  struct sample *samples[2];
  size_t nsamples[2], capsamples[2];
  uint32_t nfaults[RF_KINDS];
  bool fin, rst;
};

struct link {
  char *name;
  uint64_t bandwidth;
  uint64_t bytes[LINK_BUCKETS];
  uint32_t drops[LINK_BUCKETS];
  uint64_t total_bytes, total_frames;
  uint64_t faults[RF_KINDS];
};

struct event {
  uint64_t t;
  char *what, *host, *detail;
};

struct flow {
  char *name, *type, *client, *server, *status, *reason;
  uint64_t start, end, bytes;
  bool ok;
};

struct ipname {
  uint32_t ip;
  char *name;
};

struct report {
  char *title;
  char **info; /* key, value pairs */
  size_t ninfo, capinfo;
  struct ipname *names;
  size_t nnames, capnames;
  /* frame id - 1 → (connection + 1, segment) ; connection 0 = not TCP */
  uint32_t *frame_conn, *frame_seg;
  size_t nframes, capframes, capframes2;
  uint64_t other_frames, other_faults[RF_KINDS];
  struct conn *conns;
  size_t nconns, capconns;
  uint32_t *table; /* open addressing: connection index + 1 */
  size_t tablecap;
  struct link *links;
  size_t nlinks, caplinks;
  uint64_t bucket_us; /* width of a link bucket; doubles as the run grows */
  struct event *events;
  size_t nevents, capevents;
  struct flow *flows;
  size_t nflows, capflows;
  uint64_t t_end;
  uint64_t span; /* time drawn by the timeline and the links (0 = t_end) */
};

struct report *report_new(void) {
  struct report *r = calloc(1, sizeof *r);
  if (!r) abort();
  r->bucket_us = 1000;
  return r;
}

void report_free(struct report *r) {
  if (!r) return;
  free(r->title);
  for (size_t i = 0; i < r->ninfo; i++) free(r->info[i]);
  free(r->info);
  for (size_t i = 0; i < r->nnames; i++) free(r->names[i].name);
  free(r->names);
  free(r->frame_conn);
  free(r->frame_seg);
  for (size_t i = 0; i < r->nconns; i++) {
    struct conn *c = &r->conns[i];
    free(c->segs);
    free(c->sacks);
    free(c->samples[0]);
    free(c->samples[1]);
  }
  free(r->conns);
  free(r->table);
  for (size_t i = 0; i < r->nlinks; i++) free(r->links[i].name);
  free(r->links);
  for (size_t i = 0; i < r->nevents; i++) {
    free(r->events[i].what);
    free(r->events[i].host);
    free(r->events[i].detail);
  }
  free(r->events);
  for (size_t i = 0; i < r->nflows; i++) {
    struct flow *f = &r->flows[i];
    free(f->name), free(f->type), free(f->client), free(f->server), free(f->status), free(f->reason);
  }
  free(r->flows);
  free(r);
}

void report_set_title(struct report *r, const char *title) {
  free(r->title);
  r->title = dupstr(title);
}

void report_add_info(struct report *r, const char *key, const char *value) {
  PUSH(r->info, r->ninfo, r->capinfo) = dupstr(key);
  PUSH(r->info, r->ninfo, r->capinfo) = dupstr(value);
}

void report_name_ip(struct report *r, uint32_t ip, const char *name) {
  for (size_t i = 0; i < r->nnames; i++)
    if (r->names[i].ip == ip) return;
  struct ipname *n = &PUSH(r->names, r->nnames, r->capnames);
  n->ip = ip;
  n->name = dupstr(name);
}

static void ip_name(const struct report *r, uint32_t ip, char *out, size_t cap) {
  for (size_t i = 0; i < r->nnames; i++)
    if (r->names[i].ip == ip) {
      snprintf(out, cap, "%s", r->names[i].name);
      return;
    }
  snprintf(out, cap, "%u.%u.%u.%u", ip >> 24, ip >> 16 & 255, ip >> 8 & 255, ip & 255);
}

int report_add_link(struct report *r, const char *name, uint64_t bandwidth_bps) {
  struct link *l = &PUSH(r->links, r->nlinks, r->caplinks);
  memset(l, 0, sizeof *l);
  l->name = dupstr(name);
  l->bandwidth = bandwidth_bps;
  return (int)(r->nlinks - 1);
}

size_t report_connections(const struct report *r) { return r->nconns; }

void report_set_span(struct report *r, uint64_t span_us) { r->span = span_us; }

/* ---- connections ---------------------------------------------------------------------- */
static uint64_t conn_hash(uint32_t a, uint16_t pa, uint32_t b, uint16_t pb) {
  /* symmetric in the two ends */
  uint64_t x = (uint64_t)a << 16 | pa, y = (uint64_t)b << 16 | pb;
  uint64_t lo = x < y ? x : y, hi = x < y ? y : x;
  uint64_t h = prng_golden(lo) ^ hi;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 32);
}

static bool conn_is(const struct conn *c, uint32_t a, uint16_t pa, uint32_t b, uint16_t pb, int *dir) {
  if (c->ip[0] == a && c->port[0] == pa && c->ip[1] == b && c->port[1] == pb) {
    *dir = 0;
    return true;
  }
  if (c->ip[1] == a && c->port[1] == pa && c->ip[0] == b && c->port[0] == pb) {
    *dir = 1;
    return true;
  }
  return false;
}

static void table_rebuild(struct report *r) {
  size_t cap = r->tablecap ? r->tablecap * 2 : 256;
  free(r->table);
  r->table = calloc(cap, sizeof *r->table);
  if (!r->table) abort();
  r->tablecap = cap;
  for (size_t i = 0; i < r->nconns; i++) {
    const struct conn *c = &r->conns[i];
    size_t k = conn_hash(c->ip[0], c->port[0], c->ip[1], c->port[1]) & (cap - 1);
    while (r->table[k]) k = (k + 1) & (cap - 1);
    r->table[k] = (uint32_t)i + 1;
  }
}

/* The connection of a (src, dst) pair, created when `create`; NULL if none. */
static struct conn *conn_find(struct report *r, uint32_t a, uint16_t pa, uint32_t b, uint16_t pb,
                              bool create, int *dir) {
  if (r->tablecap) {
    size_t k = conn_hash(a, pa, b, pb) & (r->tablecap - 1);
    while (r->table[k]) {
      struct conn *c = &r->conns[r->table[k] - 1];
      if (conn_is(c, a, pa, b, pb, dir)) return c;
      k = (k + 1) & (r->tablecap - 1);
    }
  }
  if (!create) return NULL;
  struct conn *c = &PUSH(r->conns, r->nconns, r->capconns);
  memset(c, 0, sizeof *c);
  c->ip[0] = a, c->port[0] = pa, c->ip[1] = b, c->port[1] = pb;
  *dir = 0;
  if (r->nconns * 2 > r->tablecap) table_rebuild(r);
  else {
    size_t k = conn_hash(a, pa, b, pb) & (r->tablecap - 1);
    while (r->table[k]) k = (k + 1) & (r->tablecap - 1);
    r->table[k] = (uint32_t)r->nconns;
  }
  return &r->conns[r->nconns - 1];
}

static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

uint32_t report_frame(struct report *r, uint64_t t, const uint8_t *d, size_t len) {
  r->frame_conn = grow(r->frame_conn, &r->capframes, r->nframes + 1, sizeof *r->frame_conn);
  r->frame_seg = grow(r->frame_seg, &r->capframes2, r->nframes + 1, sizeof *r->frame_seg);
  uint32_t id = (uint32_t)++r->nframes;
  r->frame_conn[id - 1] = 0;
  r->frame_seg[id - 1] = 0;
  if (t > r->t_end) r->t_end = t;
  /* Ethernet (one VLAN tag skipped), IPv4 without fragments, TCP: every
   * length checked against the bytes present. */
  size_t off = 14;
  if (len < 14) goto other;
  uint16_t type = rd16(d + 12);
  if (type == 0x8100 && len >= 18) {
    type = rd16(d + 16);
    off = 18;
  }
  if (type != 0x0800 || len < off + 20) goto other;
  const uint8_t *ip = d + off;
  size_t ihl = (size_t)(ip[0] & 15) * 4, total = rd16(ip + 2);
  if ((ip[0] >> 4) != 4 || ihl < 20 || total < ihl || total > len - off || ip[9] != 6) goto other;
  if ((rd16(ip + 6) & 0x3fff) != 0) goto other; /* a fragment */
  const uint8_t *tcp = ip + ihl;
  size_t tlen = total - ihl;
  if (tlen < 20) goto other;
  size_t doff = (size_t)(tcp[12] >> 4) * 4;
  if (doff < 20 || doff > tlen) goto other;
  uint32_t sip = rd32(ip + 12), dip = rd32(ip + 16);
  uint16_t sp = rd16(tcp), dp = rd16(tcp + 2);
  uint8_t flags = tcp[13];
  int dir;
  /* A new connection starts at a SYN; other frames of unknown pairs too
   * (captures that begin mid-connection). */
  struct conn *c = conn_find(r, sip, sp, dip, dp, true, &dir);
  uint32_t seq = rd32(tcp + 4), ack = rd32(tcp + 8);
  if (!c->isn_set[dir]) { /* numbering relative to the first frame (the SYN) of each side */
    c->isn_set[dir] = true;
    c->isn[dir] = seq;
  }
  if (flags & 0x02) c->syn[dir] = true;
  /* options: window scale (SYN) and SACK blocks */
  uint32_t sack[4][2];
  uint8_t nsack = 0;
  for (size_t i = 20; i < doff;) {
    uint8_t kind = tcp[i];
    if (kind == 0) break;
    if (kind == 1) {
      i++;
      continue;
    }
    if (i + 1 >= doff || tcp[i + 1] < 2 || i + tcp[i + 1] > doff) break;
    size_t ol = tcp[i + 1];
    if (kind == 3 && ol == 3 && (flags & 0x02)) {
      c->ws[dir] = tcp[i + 2] > 14 ? 14 : tcp[i + 2];
      c->ws_seen[dir] = true;
    }
    if (kind == 5)
      for (size_t b = 0; b + 8 <= ol - 2 && nsack < 4; b += 8, nsack++) {
        sack[nsack][0] = rd32(tcp + i + 2 + b);
        sack[nsack][1] = rd32(tcp + i + 2 + b + 4);
      }
    i += ol;
  }
  struct seg *s = &PUSH(c->segs, c->nsegs, c->capsegs);
  memset(s, 0, sizeof *s);
  s->t = t;
  s->id = id;
  s->dir = (uint8_t)dir;
  s->flags = flags;
  s->len = (uint16_t)(tlen - doff);
  s->seq = seq - c->isn[dir];
  int o = !dir;
  s->ack = (flags & 0x10) && c->isn_set[o] ? ack - c->isn[o] : 0;
  /* RFC 7323: the window of a SYN is never scaled; scaling applies once both
   * sides offered it. */
  uint32_t win = rd16(tcp + 14);
  if (!(flags & 0x02) && c->ws_seen[0] && c->ws_seen[1]) win <<= c->ws[dir];
  s->win = win;
  if (nsack && c->isn_set[o]) {
    s->sack = (uint32_t)c->nsacks;
    s->nsack = nsack;
    for (uint8_t k = 0; k < nsack; k++) {
      uint32_t *b = PUSH(c->sacks, c->nsacks, c->capsacks);
      b[0] = sack[k][0] - c->isn[o];
      b[1] = sack[k][1] - c->isn[o];
    }
  }
  uint32_t span = s->len + ((flags & 0x02) ? 1u : 0u) + ((flags & 0x01) ? 1u : 0u);
  if (span) {
    uint32_t end = s->seq + span;
    if (s->seq < c->max_end[dir]) { /* sequence space sent before */
      s->retx = true;
      c->retx[dir]++;
    }
    if (end > c->max_end[dir]) {
      if (!s->retx) c->bytes[dir] += s->len;
      else c->bytes[dir] += end - c->max_end[dir] > s->len ? s->len : end - c->max_end[dir];
      c->max_end[dir] = end;
    }
  }
  if (flags & 0x01) c->fin = true;
  if (flags & 0x04) c->rst = true;
  r->frame_conn[id - 1] = (uint32_t)(c - r->conns) + 1;
  r->frame_seg[id - 1] = (uint32_t)(c->nsegs - 1);
  return id;
other:
  r->other_frames++;
  return id;
}

/* Link buckets: LINK_BUCKETS of one shared width, doubled (pairs merged)
 * whenever a time falls beyond the last bucket. */
static void link_rescale(struct report *r, uint64_t t) {
  while (t / r->bucket_us >= LINK_BUCKETS) {
    for (size_t i = 0; i < r->nlinks; i++) {
      struct link *l = &r->links[i];
      for (size_t b = 0; b < LINK_BUCKETS / 2; b++) {
        l->bytes[b] = l->bytes[2 * b] + l->bytes[2 * b + 1];
        l->drops[b] = l->drops[2 * b] + l->drops[2 * b + 1];
      }
      memset(l->bytes + LINK_BUCKETS / 2, 0, sizeof l->bytes / 2);
      memset(l->drops + LINK_BUCKETS / 2, 0, sizeof l->drops / 2);
    }
    r->bucket_us *= 2;
  }
}

void report_hop(struct report *r, uint64_t t, int link, uint32_t id, size_t len, unsigned faults) {
  if (t > r->t_end) r->t_end = t;
  if (link >= 0 && (size_t)link < r->nlinks) {
    /* beyond the span (the simulator's closing phase): totals only */
    bool drawn = !r->span || t <= r->span;
    if (drawn) link_rescale(r, t);
    struct link *l = &r->links[link];
    size_t b = (size_t)(t / r->bucket_us);
    l->total_frames++;
    if (faults & RF_DROPS) {
      if (drawn) l->drops[b]++;
    } else {
      if (drawn) l->bytes[b] += len;
      l->total_bytes += len;
    }
    for (int k = 0; k < RF_KINDS; k++)
      if (faults & (1u << k)) l->faults[k]++;
  }
  if (!faults) return;
  if (id == 0 || id > r->nframes || r->frame_conn[id - 1] == 0) {
    for (int k = 0; k < RF_KINDS; k++)
      if (faults & (1u << k)) r->other_faults[k]++;
    return;
  }
  struct conn *c = &r->conns[r->frame_conn[id - 1] - 1];
  struct seg *s = &c->segs[r->frame_seg[id - 1]];
  for (int k = 0; k < RF_KINDS; k++)
    if ((faults & (1u << k)) && !(s->faults & (1u << k))) c->nfaults[k]++;
  s->faults |= (uint16_t)faults;
}

void report_flows_from_connections(struct report *r) {
  for (size_t i = 0; i < r->nconns; i++) {
    const struct conn *c = &r->conns[i];
    if (!c->nsegs) continue;
    char name[32], a[64], b[64];
    snprintf(name, sizeof name, "conn %zu", i + 1);
    int client = c->syn[1] && !c->syn[0] ? 1 : 0; /* the end that sent the first SYN */
    for (size_t k = 0; k < c->nsegs; k++)
      if (c->segs[k].flags & 0x02) {
        client = c->segs[k].dir;
        break;
      }
    snprintf(a, sizeof a, "%u.%u.%u.%u:%u", c->ip[client] >> 24, c->ip[client] >> 16 & 255,
             c->ip[client] >> 8 & 255, c->ip[client] & 255, c->port[client]);
    snprintf(b, sizeof b, "%u.%u.%u.%u:%u", c->ip[!client] >> 24, c->ip[!client] >> 16 & 255,
             c->ip[!client] >> 8 & 255, c->ip[!client] & 255, c->port[!client]);
    report_flow(r, name, "tcp", a, b, c->rst ? "reset" : c->fin ? "closed" : "open", "",
                c->segs[0].t, c->segs[c->nsegs - 1].t, c->bytes[0] + c->bytes[1], !c->rst);
  }
}

void report_tcp_sample(struct report *r, uint64_t t, uint32_t ip, uint16_t port, uint32_t peer_ip,
                       uint16_t peer_port, const microtcp_tcp_stats *st) {
  int dir;
  struct conn *c = conn_find(r, ip, port, peer_ip, peer_port, false, &dir);
  if (!c) return;
  size_t n = c->nsamples[dir];
  if (n) {
    const struct sample *l = &c->samples[dir][n - 1];
    if (l->cwnd == st->cwnd && l->ssthresh == st->ssthresh && l->srtt == st->srtt_us &&
        l->rto == st->rto_us)
      return;
  }
  struct sample *s = &PUSH(c->samples[dir], c->nsamples[dir], c->capsamples[dir]);
  s->t = t;
  s->cwnd = st->cwnd;
  s->ssthresh = st->ssthresh;
  s->srtt = st->srtt_us;
  s->rto = st->rto_us;
}

void report_event(struct report *r, uint64_t t, const char *what, const char *host,
                  const char *detail) {
  struct event *e = &PUSH(r->events, r->nevents, r->capevents);
  e->t = t;
  e->what = dupstr(what);
  e->host = dupstr(host);
  e->detail = dupstr(detail);
  if (t > r->t_end) r->t_end = t;
}

void report_flow(struct report *r, const char *name, const char *type, const char *client,
                 const char *server, const char *status, const char *reason, uint64_t start_us,
                 uint64_t end_us, uint64_t bytes, bool ok) {
  struct flow *f = &PUSH(r->flows, r->nflows, r->capflows);
  f->name = dupstr(name), f->type = dupstr(type), f->client = dupstr(client);
  f->server = dupstr(server), f->status = dupstr(status), f->reason = dupstr(reason);
  f->start = start_us, f->end = end_us, f->bytes = bytes, f->ok = ok;
}

/* ---- output helpers --------------------------------------------------------------------- */
static void esc(FILE *f, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    default: fputc(*s, f);
    }
  }
}

static void fmt_time(char *out, size_t cap, double us) {
  if (us >= 1e6 || us == 0) snprintf(out, cap, "%.6g s", us / 1e6);
  else if (us >= 1e3) snprintf(out, cap, "%.4g ms", us / 1e3);
  else snprintf(out, cap, "%.4g us", us);
}

static void fmt_bytes(char *out, size_t cap, double b) {
  if (b >= 1e9) snprintf(out, cap, "%.4g GB", b / 1e9);
  else if (b >= 1e6) snprintf(out, cap, "%.4g MB", b / 1e6);
  else if (b >= 1e3) snprintf(out, cap, "%.4g kB", b / 1e3);
  else snprintf(out, cap, "%.0f B", b);
}

enum unit { U_BYTES, U_US, U_MBPS, U_COUNT };
static void fmt_unit(char *out, size_t cap, double v, enum unit u) {
  switch (u) {
  case U_BYTES: fmt_bytes(out, cap, v); break;
  case U_US: fmt_time(out, cap, v); break;
  case U_MBPS: snprintf(out, cap, "%.4g Mbit/s", v); break;
  case U_COUNT: snprintf(out, cap, "%.4g", v); break;
  }
}

static double nice_step(double range) {
  if (range <= 0) return 1;
  double raw = range / 5, p = pow(10, floor(log10(raw))), m = raw / p;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

/* A plot area: x = time [t0, t1] → [ML, ML+PLOT_W], y = [0, ymax] → [MT+h, MT]. */
#define ML 70
#define MR 20
#define MT 10
#define MB 30
struct plot {
  FILE *f;
  double t0, t1, ymax, ymin; /* ymin: 0 unless set before plot_open */
  int h;
};

static double px(const struct plot *p, double t) {
  double span = p->t1 > p->t0 ? p->t1 - p->t0 : 1;
  return ML + (t - p->t0) * PLOT_W / span;
}
static double py(const struct plot *p, double v) {
  double y = p->ymax > p->ymin ? (v - p->ymin) / (p->ymax - p->ymin) : 0;
  if (y > 1) y = 1; /* clipped at the top of the plot */
  if (y < 0) y = 0;
  return MT + p->h - y * p->h;
}
static int col_of(const struct plot *p, double t) {
  int c = (int)((px(p, t) - ML));
  return c < 0 ? 0 : c >= PLOT_W ? PLOT_W - 1 : c;
}

static void plot_open(struct plot *p, FILE *f, const char *cls, const char *label, double t0,
                      double t1, double ymax, int h, enum unit yu) {
  bool yticks = ymax >= 0;
  p->f = f, p->t0 = t0, p->t1 = t1 > t0 ? t1 : t0 + 1;
  p->ymax = ymax > p->ymin ? p->ymin + (ymax - p->ymin) * 1.05 : p->ymin + 1;
  p->h = h;
  fprintf(f, "<svg class=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
             "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"",
          cls, ML + PLOT_W + MR, MT + h + MB, ML + PLOT_W + MR, MT + h + MB);
  esc(f, label);
  fprintf(f, "\">\n<rect class=\"bg\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>\n", ML, MT,
          PLOT_W, h);
  /* axes and ticks */
  char buf[48];
  double ys = nice_step(p->ymax - p->ymin);
  for (double v = ceil(p->ymin / ys) * ys; yticks && v <= p->ymax + 1e-9; v += ys) {
    double y = py(p, v);
    fmt_unit(buf, sizeof buf, v, yu);
    fprintf(f, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
               "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
            ML, y, ML + PLOT_W, y, ML - 4, y + 4, buf);
  }
  double xs = nice_step(p->t1 - p->t0);
  double first = ceil(p->t0 / xs) * xs;
  for (double t = first; t <= p->t1 + 1e-9; t += xs) {
    double x = px(p, t);
    fmt_time(buf, sizeof buf, t);
    fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
               "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
            x, MT, x, MT + h, x, MT + h + 16, buf);
  }
}

static void plot_close(struct plot *p) { fputs("</svg>\n", p->f); }

/* A step line through per-column values (NAN = no value in that column). */
static void step_path(struct plot *p, const double *col, const char *cls) {
  bool started = false;
  double lasty = 0;
  for (int c = 0; c < PLOT_W; c++) {
    if (isnan(col[c])) continue;
    double x = ML + c, y = py(p, col[c]);
    if (!started) {
      fprintf(p->f, "<path class=\"%s\" d=\"M%.1f %.1f", cls, x, y);
      started = true;
    } else if (y != lasty) {
      fprintf(p->f, "H%.1fV%.1f", x, y);
    }
    lasty = y;
  }
  if (started) fprintf(p->f, "H%d\"/>\n", ML + PLOT_W);
}

/* Vertical bars lo..hi per column as one path. */
static void bars_path(struct plot *p, const double *lo, const double *hi, const char *cls) {
  bool started = false;
  for (int c = 0; c < PLOT_W; c++) {
    if (isnan(lo[c])) continue;
    if (!started) fprintf(p->f, "<path class=\"%s\" d=\"", cls);
    started = true;
    double y0 = py(p, lo[c]), y1 = py(p, hi[c]);
    if (y0 - y1 < 1) y1 = y0 - 1; /* at least one pixel */
    fprintf(p->f, "M%d.5 %.1fV%.1f", ML + c, y0, y1);
  }
  if (started) fputs("\"/>\n", p->f);
}

static void fault_marker(FILE *f, int k, double x, double y) {
  const char *c = fault_colour[k];
  switch (k) {
  case RF_DUP:
    fprintf(f, "<path d=\"M%.1f %.1fh8M%.1f %.1fv8\" stroke=\"%s\" stroke-width=\"2\"/>", x - 4, y, x, y - 4, c);
    break;
  case RF_REORDER:
    fprintf(f, "<path d=\"M%.1f %.1fl4 7h-8z\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"/>", x, y - 4, c);
    break;
  case RF_CORRUPT:
  case RF_BUG:
    fprintf(f, "<path d=\"M%.1f %.1fl4 4l-4 4l-4 -4z\" fill=\"%s\"/>", x, y - 4, c);
    break;
  case RF_PARTITION:
  case RF_LINK_DOWN:
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"7\" height=\"7\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"/>",
            x - 3.5, y - 3.5, c);
    break;
  case RF_CRASH:
  case RF_NO_HOST:
    fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>", x, y, c);
    break;
  default: /* drops: a cross */
    fprintf(f, "<path d=\"M%.1f %.1fl7 7m0 -7l-7 7\" stroke=\"%s\" stroke-width=\"2\"/>", x - 3.5, y - 3.5, c);
  }
}

static void fill_nan(double *a, size_t n) {
  for (size_t i = 0; i < n; i++) a[i] = NAN;
}

static void conn_label(const struct report *r, const struct conn *c, int from, char *out, size_t cap) {
  char a[64], b[64];
  ip_name(r, c->ip[from], a, sizeof a);
  ip_name(r, c->ip[!from], b, sizeof b);
  snprintf(out, cap, "%s:%u → %s:%u", a, c->port[from], b, c->port[!from]);
}

/* ---- one connection: time-sequence graph, cwnd, rtt ------------------------------------ */
/* The time-sequence graph of direction d of c over [t0, t1]: data segments
 * (retransmissions in red), the cumulative ACK and the window edge, SACK
 * blocks, and the faults marked on the frames they hit. Sequence range: what
 * the frames in [t0, t1] cover. */
static void draw_tsg(FILE *f, const struct report *r, const struct conn *c, int d, double t0, double t1,
                     const char *cls, const char *label, struct plot *p) {
  int o = !d;
  char buf[64];
  (void)r;
  p->ymin = 0;
  if (t0 > (double)c->segs[0].t || t1 < (double)c->segs[c->nsegs - 1].t) { /* a zoom */
    double lo = -1, hi = 0;
    for (size_t i = 0; i < c->nsegs; i++) {
      const struct seg *s = &c->segs[i];
      if ((double)s->t < t0 || (double)s->t > t1) continue;
      double v0 = s->dir == d ? s->seq : s->ack, v1 = s->dir == d ? (double)s->seq + s->len : s->ack;
      if (lo < 0 || v0 < lo) lo = v0;
      if (v1 > hi) hi = v1;
    }
    if (lo >= 0) {
      p->ymin = lo;
      t1 = t1 > t0 ? t1 : t0 + 1;
    }
    (void)hi;
  }
  /* y range: the data sent and the receiver's window edge */
  double ymax = 0, dmax = 0;
  for (size_t i = 0; i < c->nsegs; i++) {
    const struct seg *s = &c->segs[i];
    if ((double)s->t < t0 || (double)s->t > t1) continue;
    if (s->dir == d && (double)s->seq + s->len > dmax) dmax = (double)s->seq + s->len;
    if (s->dir == o && (s->flags & 0x10) && s->ack <= c->max_end[d] + 1u) {
      double edge = (double)s->ack + s->win;
      if (edge > ymax) ymax = edge;
      if (s->ack > dmax) dmax = s->ack;
    }
  }
  if (dmax > ymax) ymax = dmax;
  /* the window edge may run far above the data: keep the data readable */
  double dspan = dmax - p->ymin;
  if (dspan > 0 && ymax - p->ymin > 1.5 * dspan) ymax = p->ymin + 1.5 * dspan;
  plot_open(p, f, cls, label, t0, t1, ymax, TSG_H, U_BYTES);
  static double nlo[PLOT_W], nhi[PLOT_W], rlo[PLOT_W], rhi[PLOT_W], ackc[PLOT_W], winc[PLOT_W];
  static double slo[PLOT_W], shi[PLOT_W];
  static uint32_t markseen[PLOT_W][RF_KINDS];
  fill_nan(nlo, PLOT_W), fill_nan(nhi, PLOT_W), fill_nan(rlo, PLOT_W), fill_nan(rhi, PLOT_W);
  fill_nan(ackc, PLOT_W), fill_nan(winc, PLOT_W), fill_nan(slo, PLOT_W), fill_nan(shi, PLOT_W);
  memset(markseen, 0, sizeof markseen);
  for (size_t i = 0; i < c->nsegs; i++) {
    const struct seg *s = &c->segs[i];
    if ((double)s->t < t0 || (double)s->t > t1) continue;
    int col = col_of(p, (double)s->t);
    if (s->dir == d && (s->len || (s->flags & 0x03))) {
      double lo = s->seq, hi = (double)s->seq + (s->len ? s->len : 1);
      double *L = s->retx ? rlo : nlo, *H = s->retx ? rhi : nhi;
      if (isnan(L[col]) || lo < L[col]) L[col] = lo;
      if (isnan(H[col]) || hi > H[col]) H[col] = hi;
    }
    if (s->dir == o && (s->flags & 0x10)) {
      if (isnan(ackc[col]) || s->ack > ackc[col]) ackc[col] = s->ack;
      double edge = (double)s->ack + s->win;
      if (isnan(winc[col]) || edge > winc[col]) winc[col] = edge;
      for (uint8_t k = 0; k < s->nsack; k++) {
        const uint32_t *b = c->sacks[s->sack + k];
        if (isnan(slo[col]) || b[0] < slo[col]) slo[col] = b[0];
        if (isnan(shi[col]) || b[1] > shi[col]) shi[col] = b[1];
      }
    }
  }
  step_path(p, winc, "win");
  step_path(p, ackc, "ack");
  bars_path(p, slo, shi, "sack");
  bars_path(p, nlo, nhi, "data");
  bars_path(p, rlo, rhi, "retx");
  /* fault marks: one per kind and pixel column (the tooltip counts the rest) */
  for (size_t i = 0; i < c->nsegs; i++)
    for (int k = 0; k < RF_KINDS; k++)
      if ((c->segs[i].faults & (1u << k)) && (double)c->segs[i].t >= t0 && (double)c->segs[i].t <= t1)
        markseen[col_of(p, (double)c->segs[i].t)][k]++;
  for (size_t i = 0; i < c->nsegs; i++) {
    const struct seg *s = &c->segs[i];
    if (!s->faults || (double)s->t < t0 || (double)s->t > t1) continue;
    int col = col_of(p, (double)s->t);
    double y = s->dir == d ? (double)s->seq : (double)s->ack;
    for (int k = 0; k < RF_KINDS; k++) {
      if (!(s->faults & (1u << k)) || markseen[col][k] == 0) continue;
      fprintf(f, "<g class=\"mark mark-%s\"><title>frame %u at ", report_fault_class[k], s->id);
      fmt_time(buf, sizeof buf, (double)s->t);
      fprintf(f, "%s, %s seq %u ack %u len %u: %s", buf, s->dir == d ? "data" : "reverse", s->seq,
              s->ack, s->len, fault_label[k]);
      if (markseen[col][k] > 1) fprintf(f, " (and %u more here)", markseen[col][k] - 1);
      fputs("</title>", f);
      fault_marker(f, k, ML + col, py(p, y));
      fputs("</g>\n", f);
      markseen[col][k] = 0;
    }
  }
  plot_close(p);

}

struct rank {
  uint64_t bytes;
  size_t frames, idx;
};
static int cmp_rank(const void *a, const void *b) {
  const struct rank *x = a, *y = b;
  if (x->bytes != y->bytes) return x->bytes > y->bytes ? -1 : 1;
  if (x->frames != y->frames) return x->frames > y->frames ? -1 : 1;
  return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void write_conn(FILE *f, const struct report *r, size_t idx, size_t number) {
  const struct conn *c = &r->conns[idx];
  int d = c->bytes[1] > c->bytes[0] ? 1 : 0, o = !d; /* d: the direction drawn */
  char label[200], buf[64], buf2[64];
  conn_label(r, c, d, label, sizeof label);
  double t0 = c->nsegs ? (double)c->segs[0].t : 0, t1 = c->nsegs ? (double)c->segs[c->nsegs - 1].t : 1;
  if (t1 <= t0) t1 = t0 + 1000;
  fprintf(f, "<section class=\"conn\" id=\"conn-%zu\" data-frames=\"%zu\" data-retransmits=\"%u\"", number,
          c->nsegs, c->retx[d]);
  for (int k = 0; k < RF_KINDS; k++) /* frames hit, per kind: for tests and scripts */
    if (c->nfaults[k]) fprintf(f, " data-fault-%s=\"%u\"", report_fault_class[k], c->nfaults[k]);
  fprintf(f, ">\n<h3>Connection %zu: ", number);
  esc(f, label);
  fmt_bytes(buf, sizeof buf, (double)c->bytes[d]);
  fmt_bytes(buf2, sizeof buf2, (double)c->bytes[o]);
  fprintf(f, "</h3>\n<p class=\"caption\">%zu frames; data drawn: %s this way (%u retransmitted "
             "segments), %s the other way (%u retransmitted). Times are when a frame left its host.",
          c->nsegs, buf, c->retx[d], buf2, c->retx[o]);
  bool any = false;
  for (int k = 0; k < RF_KINDS; k++)
    if (c->nfaults[k]) {
      fprintf(f, "%s %s %u", any ? "," : " Frames hit:", report_fault_class[k], c->nfaults[k]);
      any = true;
    }
  fputs(any ? ".</p>\n" : " No fault hit a frame of it.</p>\n", f);

  struct plot p = {0};
  draw_tsg(f, r, c, d, t0, t1, "tsg", label, &p);
  /* a zoom on the first fault: its neighbourhood, segment by segment */
  for (size_t i = 0; i < c->nsegs; i++) {
    if (!c->segs[i].faults) continue;
    double span = (t1 - t0) / 40, z0 = (double)c->segs[i].t - span / 4, z1 = z0 + span;
    if (z0 < t0) z0 = t0;
    if (span < 2000) break; /* the whole graph is short enough already */
    fmt_time(buf, sizeof buf, span);
    fprintf(f, "<h4>Zoom: %s around the first frame hit by a fault (%s)</h4>\n", buf,
            fault_label[__builtin_ctz(c->segs[i].faults)]);
    struct plot z = {0};
    draw_tsg(f, r, c, d, z0, z1, "tsg-zoom", label, &z);
    break;
  }

  /* cwnd/ssthresh (the data sender's stack) and bytes in flight (the frames) */
  static double inflight[PLOT_W], cw[PLOT_W], ss[PLOT_W], srtt[PLOT_W], rto[PLOT_W], rlo2[PLOT_W], rhi2[PLOT_W];
  fill_nan(inflight, PLOT_W), fill_nan(cw, PLOT_W), fill_nan(ss, PLOT_W);
  fill_nan(srtt, PLOT_W), fill_nan(rto, PLOT_W), fill_nan(rlo2, PLOT_W), fill_nan(rhi2, PLOT_W);
  struct plot q = p; /* same time axis */
  uint32_t snd_max = 0, acked = 0;
  double ymax_cw = 0, ymax_rtt = 0, max_rto = 0;
  /* RTT from the frames: an ack covering a segment sent once (Karn) */
  size_t head = 0;
  for (size_t i = 0; i < c->nsegs; i++) {
    const struct seg *s = &c->segs[i];
    int col = col_of(&q, (double)s->t);
    if (s->dir == d) {
      uint32_t end = s->seq + s->len + ((s->flags & 0x03) ? 1u : 0u);
      if (end > snd_max) snd_max = end;
    } else if ((s->flags & 0x10) && s->ack > acked) {
      acked = s->ack;
      const struct seg *last = NULL;
      bool retx = false;
      for (; head < i; head++) {
        const struct seg *x = &c->segs[head];
        if (x->dir != d || !(x->len || (x->flags & 0x03))) continue;
        if (x->seq + x->len > acked) break;
        last = x;
        retx |= x->retx;
      }
      if (last && !retx) {
        double v = (double)(s->t - last->t);
        if (isnan(rlo2[col]) || v < rlo2[col]) rlo2[col] = v;
        if (isnan(rhi2[col]) || v > rhi2[col]) rhi2[col] = v;
        if (v > ymax_rtt) ymax_rtt = v;
      }
    }
    double fl = snd_max > acked ? snd_max - acked : 0;
    if (isnan(inflight[col]) || fl > inflight[col]) inflight[col] = fl;
    if (fl > ymax_cw) ymax_cw = fl;
  }
  size_t ns = c->nsamples[d];
  for (size_t i = 0; i < ns; i++) {
    const struct sample *s = &c->samples[d][i];
    if ((double)s->t < t0 || (double)s->t > t1) continue;
    int col = col_of(&q, (double)s->t);
    if (!s->cwnd) continue; /* before the handshake */
    cw[col] = s->cwnd;
    if (s->cwnd > ymax_cw) ymax_cw = s->cwnd;
    if (s->ssthresh && s->ssthresh < (1u << 30)) ss[col] = s->ssthresh;
    if (s->srtt) srtt[col] = s->srtt;
    rto[col] = s->rto;
    if (s->srtt > ymax_rtt) ymax_rtt = s->srtt;
    if (s->rto > max_rto) max_rto = s->rto;
  }
  /* the rto (200 ms minimum, 1 s initial) would flatten a sub-millisecond
   * srtt: the scale follows srtt and the samples, the rto is clipped at the
   * top unless it is within 4x of them */
  bool rto_clipped = max_rto > 4 * ymax_rtt && ymax_rtt > 0;
  if (!rto_clipped && max_rto > ymax_rtt) ymax_rtt = max_rto;
  else if (rto_clipped) ymax_rtt *= 1.5;
  for (int i = 0; i < PLOT_W; i++) /* ssthresh drawn only up to twice the largest cwnd */
    if (!isnan(ss[i]) && ss[i] > 2 * ymax_cw && ymax_cw > 0) ss[i] = NAN;
  for (int i = 0; i < PLOT_W; i++)
    if (!isnan(ss[i]) && ss[i] > ymax_cw) ymax_cw = ss[i];
  char l2[260];
  snprintf(l2, sizeof l2, "cwnd, ssthresh and bytes in flight of %s", label);
  fprintf(f, "<h4>Congestion window (sender %s)</h4>\n", ns ? "stack state" : "not sampled: capture only");
  plot_open(&q, f, "cwnd", l2, t0, t1, ymax_cw, SMALL_H, U_BYTES);
  static double zero[PLOT_W];
  for (int i = 0; i < PLOT_W; i++) zero[i] = isnan(inflight[i]) ? NAN : 0; /* bars from 0 */
  bars_path(&q, zero, inflight, "inflight");
  step_path(&q, cw, "cw");
  step_path(&q, ss, "ss");
  plot_close(&q);
  snprintf(l2, sizeof l2, "srtt, rto and RTT samples of %s", label);
  fmt_time(buf, sizeof buf, max_rto);
  if (rto_clipped) fprintf(f, "<h4>Round-trip time (the rto, up to %s, is clipped at the top)</h4>\n", buf);
  else fputs("<h4>Round-trip time</h4>\n", f);
  plot_open(&q, f, "rtt", l2, t0, t1, ymax_rtt, SMALL_H, U_US);
  bars_path(&q, rlo2, rhi2, "rttsample");
  step_path(&q, rto, "rto");
  step_path(&q, srtt, "srtt");
  plot_close(&q);
  fputs("</section>\n", f);
}

/* ---- links ----------------------------------------------------------------------------- */
static void write_link(FILE *f, const struct report *r, const struct link *l, size_t nb) {
  char buf[64], bw[64];
  double bucket_s = (double)r->bucket_us / 1e6, peak = 0, maxdrops = 0;
  static double thr[PLOT_W], zero[PLOT_W], dlo[PLOT_W], dhi[PLOT_W];
  fill_nan(thr, PLOT_W), fill_nan(zero, PLOT_W), fill_nan(dlo, PLOT_W), fill_nan(dhi, PLOT_W);
  for (size_t b = 0; b < nb; b++) {
    double v = (double)l->bytes[b] * 8 / bucket_s / 1e6;
    if (v > peak) peak = v;
    if (l->drops[b] > maxdrops) maxdrops = l->drops[b];
  }
  fmt_bytes(buf, sizeof buf, (double)l->total_bytes);
  fputs("<div class=\"link\"><h4>", f);
  esc(f, l->name);
  fprintf(f, "</h4><p class=\"caption\">%s in %" PRIu64 " frames", buf, l->total_frames);
  if (l->bandwidth) {
    snprintf(bw, sizeof bw, "%.4g Mbit/s", (double)l->bandwidth / 1e6);
    fprintf(f, "; bandwidth %s, peak offered load %.1f %% (frames entering the link, queued ones included)", bw, peak * 1e6 / (double)l->bandwidth * 100);
  }
  for (int k = 0; k < RF_KINDS; k++)
    if (l->faults[k]) fprintf(f, "; %s %" PRIu64, report_fault_class[k], l->faults[k]);
  fprintf(f, ". Bars: throughput per %s (left axis); red: frames dropped (tallest = %.0f).</p>\n",
          bucket_s >= 1 ? "s" : "bucket", maxdrops);
  struct plot p = {0};
  double t1 = (double)nb * (double)r->bucket_us;
  plot_open(&p, f, "linkplot", l->name, 0, t1, peak, SMALL_H - 30, U_MBPS);
  for (size_t b = 0; b < nb; b++) {
    int c0 = col_of(&p, (double)b * (double)r->bucket_us);
    int c1 = col_of(&p, (double)(b + 1) * (double)r->bucket_us);
    for (int c = c0; c <= c1 && c < PLOT_W; c++) {
      double v = (double)l->bytes[b] * 8 / bucket_s / 1e6;
      if (isnan(thr[c]) || v > thr[c]) thr[c] = v;
      zero[c] = 0;
      if (l->drops[b]) {
        dlo[c] = 0;
        double h = maxdrops > 0 ? (double)l->drops[b] / maxdrops * p.ymax : 0;
        if (isnan(dhi[c]) || h > dhi[c]) dhi[c] = h;
      }
    }
  }
  bars_path(&p, zero, thr, "thr");
  bars_path(&p, dlo, dhi, "drops");
  plot_close(&p);
  fputs("</div>\n", f);
}

/* ---- timeline -------------------------------------------------------------------------- */
static void write_timeline(FILE *f, const struct report *r, double t_end) {
  size_t nflows = r->nflows < MAX_TIMELINE_ROWS ? r->nflows : MAX_TIMELINE_ROWS;
  /* event rows: one per host with events (partitions, crashes, link changes) */
  const char *hosts[MAX_TIMELINE_ROWS];
  size_t nhosts = 0;
  for (size_t i = 0; i < r->nevents; i++) {
    const struct event *e = &r->events[i];
    if (!strcmp(e->what, "flow-start")) continue;
    bool seen = false;
    for (size_t h = 0; h < nhosts; h++) seen |= !strcmp(hosts[h], e->host);
    if (!seen && nhosts < MAX_TIMELINE_ROWS) hosts[nhosts++] = e->host;
  }
  int rowh = 18, h = (int)(nflows + nhosts) * rowh + 4;
  if (h < 40) h = 40;
  struct plot p = {0};
  plot_open(&p, f, "timeline", "timeline of flows and scenario events", 0, t_end, -1, h, U_COUNT);
  /* (the y ticks of an empty axis are drawn at 0 only) */
  for (size_t i = 0; i < nflows; i++) {
    const struct flow *fl = &r->flows[i];
    double y = MT + 2 + (double)i * rowh;
    double x0 = px(&p, (double)fl->start), x1 = px(&p, fl->end ? (double)fl->end : t_end);
    if (x1 < x0 + 2) x1 = x0 + 2;
    const char *cls = !fl->ok ? "flow-bad" : !strcmp(fl->status, "failed") ? "flow-failed" : "flow-done";
    fprintf(f, "<g class=\"flow %s\"><title>", cls);
    esc(f, fl->name);
    fputs(": ", f);
    esc(f, fl->status);
    if (fl->reason[0]) {
      fputs(" (", f);
      esc(f, fl->reason);
      fputc(')', f);
    }
    fprintf(f, "</title><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\"/>"
               "<text class=\"rowlabel\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">",
            x0, y, x1 - x0, rowh - 4, ML - 4, y + 11);
    esc(f, fl->name);
    fputs("</text></g>\n", f);
  }
  for (size_t hI = 0; hI < nhosts; hI++) {
    double y = MT + 2 + (double)(nflows + hI) * rowh;
    fprintf(f, "<text class=\"rowlabel\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">", ML - 4, y + 11);
    esc(f, hosts[hI]);
    fputs("</text>\n", f);
    /* spans: partition..heal, crash..restart, link-down..link-up */
    static const char *const open_[] = {"partition", "crash", "link-down"};
    static const char *const close_[] = {"heal", "restart", "link-up"};
    for (int k = 0; k < 3; k++) {
      double start = -1;
      for (size_t i = 0; i <= r->nevents; i++) {
        const struct event *e = i < r->nevents ? &r->events[i] : NULL;
        bool end = !e;
        if (e && strcmp(e->host, hosts[hI])) continue;
        if (e && !strcmp(e->what, open_[k]) && start < 0) start = (double)e->t;
        if (e && !strcmp(e->what, close_[k])) end = true;
        if (end && start >= 0) {
          double x0 = px(&p, start), x1 = px(&p, e ? (double)e->t : t_end);
          if (x1 < x0 + 2) x1 = x0 + 2;
          fprintf(f, "<g class=\"event event-%s\"><title>%s of %s from ", open_[k], open_[k], hosts[hI]);
          char b1[48], b2[48];
          fmt_time(b1, sizeof b1, start);
          fmt_time(b2, sizeof b2, e ? (double)e->t : t_end);
          fprintf(f, "%s to %s</title><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\"/></g>\n",
                  b1, e ? b2 : "the end", x0, y, x1 - x0, rowh - 4);
          start = -1;
        }
      }
    }
    for (size_t i = 0; i < r->nevents; i++) {
      const struct event *e = &r->events[i];
      if (strcmp(e->host, hosts[hI]) || !strcmp(e->what, "flow-start")) continue;
      char b1[48];
      fmt_time(b1, sizeof b1, (double)e->t);
      fputs("<g class=\"event-point\"><title>", f);
      esc(f, e->what);
      fprintf(f, " %s at %s ", e->host, b1);
      esc(f, e->detail);
      fprintf(f, "</title><path d=\"M%.1f %.1fv%d\"/></g>\n", px(&p, (double)e->t), y - 1, rowh - 2);
    }
  }
  plot_close(&p);
  if (r->nflows > nflows) fprintf(f, "<p>(%zu more flows not drawn)</p>\n", r->nflows - nflows);
}

static const char css[] =
    "body{font:14px system-ui,sans-serif;margin:20px;color:#222;max-width:1100px}"
    "h1{font-size:20px}h2{font-size:17px;border-bottom:1px solid #ccc;margin-top:28px}"
    "h3{font-size:15px;margin-bottom:2px}h4{font-size:13px;margin:8px 0 0}"
    "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}"
    ".caption{color:#555;font-size:12px;margin:2px 0}.bad{color:#b00;font-weight:bold}"
    "svg{display:block}svg .bg{fill:#fafafa;stroke:#bbb}.grid{stroke:#e4e4e4}"
    ".tick,.rowlabel{font-size:10px;fill:#555}"
    ".data{stroke:#222;stroke-width:1}.retx{stroke:#d62728;stroke-width:2}"
    ".ack{fill:none;stroke:#2ca02c;stroke-width:1.5}.win{fill:none;stroke:#bcbd22;stroke-width:1}"
    ".sack{stroke:#9467bd;stroke-width:1;opacity:.7}"
    ".cw{fill:none;stroke:#1f77b4;stroke-width:1.5}.ss{fill:none;stroke:#ff7f0e;stroke-dasharray:4 2}"
    ".inflight{stroke:#c7c7c7}.srtt{fill:none;stroke:#1f77b4;stroke-width:1.5}"
    ".rto{fill:none;stroke:#d62728;stroke-dasharray:4 2}.rttsample{stroke:#aaa}"
    ".thr{stroke:#1f77b4}.drops{stroke:#d62728}"
    ".flow-done rect{fill:#2ca02c}.flow-failed rect{fill:#ff7f0e}.flow-bad rect{fill:#d62728}"
    ".event-partition rect{fill:#9467bd;opacity:.6}.event-crash rect{fill:#000;opacity:.6}"
    ".event-link-down rect{fill:#7f7f7f;opacity:.6}.event-point path{stroke:#000;stroke-width:1.5}"
    ".legend span{display:inline-block;margin-right:14px}.sw{display:inline-block;width:14px;"
    "height:4px;vertical-align:middle;margin-right:4px}";

static void legend(FILE *f) {
  fputs("<p class=\"legend\"><span><i class=\"sw\" style=\"background:#222\"></i>data sent</span>"
        "<span><i class=\"sw\" style=\"background:#d62728\"></i>retransmission</span>"
        "<span><i class=\"sw\" style=\"background:#2ca02c\"></i>cumulative ACK</span>"
        "<span><i class=\"sw\" style=\"background:#bcbd22\"></i>ACK + receive window</span>"
        "<span><i class=\"sw\" style=\"background:#9467bd\"></i>SACK blocks</span>"
        "<span><i class=\"sw\" style=\"background:#1f77b4\"></i>cwnd / srtt</span>"
        "<span><i class=\"sw\" style=\"background:#ff7f0e\"></i>ssthresh (dashed)</span>"
        "<span><i class=\"sw\" style=\"background:#c7c7c7\"></i>bytes in flight / RTT samples "
        "(from the frames)</span><span><i class=\"sw\" style=\"background:#d62728\"></i>rto (dashed)</span></p>\n"
        "<p class=\"legend\">Faults marked on the frame they hit: ",
        f);
  for (int k = 0; k < RF_KINDS; k++) {
    fprintf(f, "<span><svg width=\"12\" height=\"12\" style=\"display:inline\" viewBox=\"0 0 12 12\">");
    fault_marker(f, k, 6, 6);
    fprintf(f, "</svg> %s</span>", fault_label[k]);
  }
  fputs("</p>\n", f);
}

int report_mkdirs(const char *dir) {
  char path[4096];
  if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(path, 0777) < 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  if (mkdir(path, 0777) < 0 && errno != EEXIST) return -1;
  return 0;
}

static FILE *open_index(const char *dir) {
  if (report_mkdirs(dir) < 0) return NULL;
  char path[4200];
  snprintf(path, sizeof path, "%s/index.html", dir);
  return fopen(path, "w");
}

static void page_head(FILE *f, const char *title) {
  fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>", f);
  esc(f, title);
  fprintf(f, "</title><style>%s</style></head><body>\n<h1>", css);
  esc(f, title);
  fputs("</h1>\n", f);
}

int report_write(const struct report *r, const char *dir) {
  FILE *f = open_index(dir);
  if (!f) return -1;
  page_head(f, r->title ? r->title : "microtcp run");
  fputs("<table class=\"info\">\n", f);
  for (size_t i = 0; i + 1 < r->ninfo; i += 2) {
    fputs("<tr><th>", f);
    esc(f, r->info[i]);
    fputs("</th><td>", f);
    esc(f, r->info[i + 1]);
    fputs("</td></tr>\n", f);
  }
  fprintf(f, "<tr><th>frames</th><td>%zu (%zu TCP connections, %" PRIu64 " other frames)</td></tr>\n",
          r->nframes, r->nconns, r->other_frames);
  fputs("</table>\n", f);
  uint64_t span = r->span && r->span < r->t_end ? r->span : r->t_end;
  double t_end = span ? (double)span : 1;

  fputs("<h2>Timeline</h2>\n", f);
  if (r->nflows) {
    fputs("<table class=\"flows\"><tr><th>flow</th><th>type</th><th>client</th><th>server</th>"
          "<th>status</th><th>bytes</th><th>goodput</th><th>reason</th></tr>\n", f);
    for (size_t i = 0; i < r->nflows; i++) {
      const struct flow *fl = &r->flows[i];
      if (i == 200) {
        fprintf(f, "<tr><td colspan=\"8\">... %zu more</td></tr>\n", r->nflows - i);
        break;
      }
      double dur = fl->end > fl->start ? (double)(fl->end - fl->start) : 0;
      char b[64];
      fmt_bytes(b, sizeof b, (double)fl->bytes);
      fputs("<tr><td>", f);
      esc(f, fl->name);
      fputs("</td><td>", f);
      esc(f, fl->type);
      fputs("</td><td>", f);
      esc(f, fl->client);
      fputs("</td><td>", f);
      esc(f, fl->server);
      fprintf(f, "</td><td%s>", fl->ok ? "" : " class=\"bad\"");
      esc(f, fl->status);
      fprintf(f, "</td><td>%s</td><td>%.2f Mbit/s</td><td>", b, dur > 0 ? (double)fl->bytes * 8 / dur : 0);
      esc(f, fl->reason);
      fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
  }
  write_timeline(f, r, t_end);
  if (r->nevents) {
    fputs("<details><summary>scenario events</summary><ul>\n", f);
    for (size_t i = 0; i < r->nevents && i < 1000; i++) {
      char b[48];
      fmt_time(b, sizeof b, (double)r->events[i].t);
      fprintf(f, "<li>%s ", b);
      esc(f, r->events[i].what);
      fputc(' ', f);
      esc(f, r->events[i].host);
      fputc(' ', f);
      esc(f, r->events[i].detail);
      fputs("</li>\n", f);
    }
    fputs("</ul></details>\n", f);
  }

  fprintf(f, "<h2>TCP connections (%zu)</h2>\n", r->nconns);
  legend(f);
  bool other = false;
  for (int k = 0; k < RF_KINDS; k++) other |= r->other_faults[k] != 0;
  if (other) {
    fputs("<p class=\"caption other-faults\"", f);
    for (int k = 0; k < RF_KINDS; k++)
      if (r->other_faults[k]) fprintf(f, " data-fault-%s=\"%" PRIu64 "\"", report_fault_class[k], r->other_faults[k]);
    fputs(">Faults that hit frames other than TCP (ARP, UDP, ICMP):", f);
    for (int k = 0; k < RF_KINDS; k++)
      if (r->other_faults[k]) fprintf(f, " %s %" PRIu64, report_fault_class[k], r->other_faults[k]);
    fputs("</p>\n", f);
  }
  /* biggest first (data bytes, then frames, then first seen); the first
   * MAX_CONN_GRAPHS are drawn, the rest listed */
  struct rank *order = malloc((r->nconns ? r->nconns : 1) * sizeof *order);
  if (!order) abort();
  for (size_t i = 0; i < r->nconns; i++) {
    const struct conn *c = &r->conns[i];
    order[i].bytes = c->bytes[0] > c->bytes[1] ? c->bytes[0] : c->bytes[1];
    order[i].frames = c->nsegs;
    order[i].idx = i;
  }
  qsort(order, r->nconns, sizeof *order, cmp_rank);
  size_t drawn = r->nconns < MAX_CONN_GRAPHS ? r->nconns : MAX_CONN_GRAPHS;
  for (size_t i = 0; i < drawn; i++) write_conn(f, r, order[i].idx, i + 1);
  if (drawn < r->nconns) {
    fprintf(f, "<p>%zu more connections (the smallest) are not drawn:</p><ul>\n", r->nconns - drawn);
    for (size_t i = drawn; i < r->nconns && i < drawn + 500; i++) {
      char label[200];
      conn_label(r, &r->conns[order[i].idx], 0, label, sizeof label);
      fputs("<li>", f);
      esc(f, label);
      fprintf(f, ": %zu frames</li>\n", order[i].frames);
    }
    fputs("</ul>\n", f);
  }
  free(order);

  fprintf(f, "<h2>Links (%zu)</h2>\n", r->nlinks);
  size_t nb = (size_t)((span + r->bucket_us) / r->bucket_us);
  if (nb > LINK_BUCKETS) nb = LINK_BUCKETS;
  if (nb == 0) nb = 1;
  /* busiest links first, and every link with drops */
  size_t shown = 0;
  uint8_t *done = calloc(r->nlinks ? r->nlinks : 1, 1);
  if (!done) abort();
  for (size_t i = 0; i < r->nlinks && shown < MAX_LINK_GRAPHS; i++) {
    size_t best = r->nlinks;
    for (size_t j = 0; j < r->nlinks; j++)
      if (!done[j] && r->links[j].total_frames &&
          (best == r->nlinks || r->links[j].total_bytes > r->links[best].total_bytes))
        best = j;
    if (best == r->nlinks) break;
    done[best] = 1;
    write_link(f, r, &r->links[best], nb);
    shown++;
  }
  size_t idle = 0;
  for (size_t j = 0; j < r->nlinks; j++) idle += !done[j];
  if (idle) fprintf(f, "<p>%zu more links (idle or less busy) not drawn.</p>\n", idle);
  free(done);
  fputs("<p class=\"caption\">Written by microtcp's report writer (sim/report.c): static SVG, no "
        "script, nothing fetched.</p>\n</body></html>\n", f);
  return fclose(f) == 0 ? 0 : -1;
}

/* ---- swarm summary ------------------------------------------------------------------------ */
struct seed_row {
  uint64_t seed, hash;
  int code;
};
struct fail_row {
  uint64_t seed;
  int code;
  char *repro, *href;
};
struct gp_flow {
  char *name;
  double *v;
  size_t n, cap;
  size_t failed;
};
struct swarm_report {
  char *scenario, *command;
  struct seed_row *seeds;
  size_t nseeds, capseeds;
  struct fail_row *fails;
  size_t nfails, capfails;
  struct gp_flow *flows;
  size_t nflows, capflows;
};

struct swarm_report *swarm_report_new(const char *scenario, const char *command) {
  struct swarm_report *w = calloc(1, sizeof *w);
  if (!w) abort();
  w->scenario = dupstr(scenario);
  w->command = dupstr(command);
  return w;
}

void swarm_report_free(struct swarm_report *w) {
  if (!w) return;
  free(w->scenario);
  free(w->command);
  free(w->seeds);
  for (size_t i = 0; i < w->nfails; i++) free(w->fails[i].repro), free(w->fails[i].href);
  free(w->fails);
  for (size_t i = 0; i < w->nflows; i++) free(w->flows[i].name), free(w->flows[i].v);
  free(w->flows);
  free(w);
}

void swarm_report_seed(struct swarm_report *w, uint64_t seed, int code, uint64_t trace_hash) {
  struct seed_row *s = &PUSH(w->seeds, w->nseeds, w->capseeds);
  s->seed = seed, s->code = code, s->hash = trace_hash;
}

void swarm_report_goodput(struct swarm_report *w, const char *flow, double mbps, bool ok) {
  struct gp_flow *g = NULL;
  for (size_t i = 0; i < w->nflows && !g; i++)
    if (!strcmp(w->flows[i].name, flow)) g = &w->flows[i];
  if (!g) {
    if (w->nflows >= 200) return; /* bounded: the first 200 flow names */
    g = &PUSH(w->flows, w->nflows, w->capflows);
    memset(g, 0, sizeof *g);
    g->name = dupstr(flow);
  }
  if (!ok) {
    g->failed++;
    return;
  }
  PUSH(g->v, g->n, g->cap) = mbps;
}

void swarm_report_failure(struct swarm_report *w, uint64_t seed, int code, const char *reproduce,
                          const char *href) {
  struct fail_row *f = &PUSH(w->fails, w->nfails, w->capfails);
  f->seed = seed, f->code = code, f->repro = dupstr(reproduce), f->href = href ? dupstr(href) : NULL;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double quantile(const double *v, size_t n, double q) {
  if (!n) return 0;
  double pos = q * (double)(n - 1);
  size_t i = (size_t)pos;
  double fr = pos - (double)i;
  return i + 1 < n ? v[i] * (1 - fr) + v[i + 1] * fr : v[i];
}

int swarm_report_write(const struct swarm_report *w, const char *dir) {
  FILE *f = open_index(dir);
  if (!f) return -1;
  char title[600];
  snprintf(title, sizeof title, "microtcp swarm: %s", w->scenario);
  page_head(f, title);
  size_t ok = 0, inv = 0, live = 0;
  for (size_t i = 0; i < w->nseeds; i++) {
    ok += w->seeds[i].code == 0;
    inv += w->seeds[i].code == 3;
    live += w->seeds[i].code == 4;
  }
  fputs("<table class=\"info\"><tr><th>command</th><td>", f);
  esc(f, w->command);
  fprintf(f, "</td></tr><tr><th>seeds</th><td>%zu run: %zu ok, %zu invariant violated, %zu liveness "
             "failures</td></tr></table>\n",
          w->nseeds, ok, inv, live);
  /* outcome strip: one cell per seed (grouped when there are many) */
  fputs("<h2>Outcome per seed</h2>\n", f);
  size_t per = (w->nseeds + 959) / 960;
  if (per == 0) per = 1;
  size_t cells = (w->nseeds + per - 1) / per;
  int cw = cells ? (int)(960 / cells) : 1;
  if (cw > 24) cw = 24;
  if (cw < 1) cw = 1;
  fprintf(f, "<svg class=\"outcomes\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"30\">\n",
          (int)cells * cw + 2);
  for (size_t c = 0; c < cells; c++) {
    int worst = 0;
    uint64_t first = w->seeds[c * per].seed, last = first;
    for (size_t i = c * per; i < (c + 1) * per && i < w->nseeds; i++) {
      if (w->seeds[i].code > worst) worst = w->seeds[i].code;
      last = w->seeds[i].seed;
    }
    fprintf(f, "<rect class=\"seed seed-%s\" x=\"%zu\" y=\"2\" width=\"%d\" height=\"24\" fill=\"%s\">"
               "<title>seed %" PRIu64 "%s%" PRIu64 ": %s</title></rect>\n",
            worst == 0 ? "ok" : "fail", c * (size_t)cw + 1, cw > 2 ? cw - 1 : cw,
            worst == 0 ? "#2ca02c" : worst == 3 ? "#d62728" : "#ff7f0e", first,
            last != first ? ".." : "", last, worst == 0 ? "ok" : worst == 3 ? "invariant" : "liveness");
    if (last == first) continue;
  }
  fputs("</svg>\n<p class=\"caption\">green ok, red invariant violated, orange liveness failure</p>\n", f);

  fputs("<h2>Failures</h2>\n", f);
  if (!w->nfails) fputs("<p>none</p>\n", f);
  else {
    fputs("<table class=\"failures\"><tr><th>seed</th><th>kind</th><th>reproduce</th><th>report</th></tr>\n", f);
    for (size_t i = 0; i < w->nfails; i++) {
      const struct fail_row *x = &w->fails[i];
      fprintf(f, "<tr><td>%" PRIu64 "</td><td>%s</td><td><code>", x->seed,
              x->code == 3 ? "invariant" : "liveness");
      esc(f, x->repro);
      fputs("</code></td><td>", f);
      if (x->href) {
        fputs("<a class=\"seed-report\" href=\"", f);
        esc(f, x->href);
        fputs("\">report</a>", f);
      }
      fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
  }

  fputs("<h2>Goodput per flow over seeds</h2>\n<p class=\"caption\">Each dot is one seed's goodput "
        "(flows that completed); the box spans the 25th to 75th percentile, the bar is the median.</p>\n", f);
  double gmax = 0;
  for (size_t i = 0; i < w->nflows; i++)
    for (size_t k = 0; k < w->flows[i].n; k++)
      if (w->flows[i].v[k] > gmax) gmax = w->flows[i].v[k];
  int rowh = 26, labelw = 150, plotw = 760;
  fprintf(f, "<svg class=\"goodput\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%zu\">\n",
          labelw + plotw + 120, w->nflows * (size_t)rowh + 30);
  double scale = gmax > 0 ? plotw / (gmax * 1.05) : 1;
  double step = nice_step(gmax * 1.05);
  for (double v = 0; gmax > 0 && v <= gmax * 1.05; v += step)
    fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"0\" x2=\"%.1f\" y2=\"%zu\"/><text class=\"tick\" "
               "x=\"%.1f\" y=\"%zu\" text-anchor=\"middle\">%.4g</text>\n",
            labelw + v * scale, labelw + v * scale, w->nflows * (size_t)rowh, labelw + v * scale,
            w->nflows * (size_t)rowh + 14, v);
  fprintf(f, "<text class=\"tick\" x=\"%d\" y=\"%zu\" text-anchor=\"middle\">Mbit/s</text>\n",
          labelw + plotw / 2, w->nflows * (size_t)rowh + 28);
  for (size_t i = 0; i < w->nflows; i++) {
    struct gp_flow *g = &w->flows[i];
    qsort(g->v, g->n, sizeof *g->v, cmp_double);
    double y = (double)i * rowh + rowh / 2.0;
    fprintf(f, "<g class=\"gpflow\"><text class=\"rowlabel\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">",
            labelw - 6, y + 4);
    esc(f, g->name);
    fputs("</text>", f);
    if (g->n) {
      double q1 = quantile(g->v, g->n, .25), q2 = quantile(g->v, g->n, .5), q3 = quantile(g->v, g->n, .75);
      fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"16\" fill=\"#dbe9f6\" stroke=\"#1f77b4\"/>"
                 "<path d=\"M%.1f %.1fv16\" stroke=\"#1f77b4\" stroke-width=\"2\"/>",
              labelw + q1 * scale, y - 8, (q3 - q1) * scale + 0.5, labelw + q2 * scale, y - 8);
      /* dots: at most one per pixel */
      double lastx = -10;
      for (size_t k = 0; k < g->n; k++) {
        double x = labelw + g->v[k] * scale;
        if (x - lastx < 1) continue;
        lastx = x;
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"1.6\" fill=\"#333\"/>", x, y);
      }
      fprintf(f, "<title>%s: %zu seeds, median %.3f Mbit/s, min %.3f, max %.3f, %zu not completed</title>",
              g->name, g->n, q2, g->v[0], g->v[g->n - 1], g->failed);
    }
    fprintf(f, "<text class=\"tick\" x=\"%d\" y=\"%.1f\">%zu ok%s</text></g>\n", labelw + plotw + 6, y + 4,
            g->n, g->failed ? ", some failed" : "");
  }
  fputs("</svg>\n</body></html>\n", f);
  return fclose(f) == 0 ? 0 : -1;
}
