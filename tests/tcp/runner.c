/*
 * microtcp-script: run one TCP script (packetdrill syntax, tests/tcp/README.md)
 * against one microtcp stack in virtual time.
 *
 *   microtcp-script [--tolerance_usecs=N] [--verbose] FILE.pkt
 *
 * Exit 0: pass. 1: the stack did not behave as scripted ("FILE:LINE: ..." on
 * stderr). 2: usage or parse error.
 *
 * How time runs: before each line the clock advances to that line's time,
 * firing every timer deadline on the way (microtcp_advance) and draining
 * microtcp_output after every step. Every frame the stack sends must be the
 * next `>` line, within the tolerance of its time; anything else fails at once.
 * After the last line no more time is simulated, but a frame already sent and
 * not matched still fails the script.
 */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "microtcp/microtcp.h"
#include "config_knobs.h" /* the knob table shared with the packetdrill shim */
#include "script.h"

/* ---- the network around the stack (README "The stack under test") ---- */
#define STACK_IP 0xc0a80002u   /* 192.168.0.2/16 */
#define GATEWAY_IP 0xc0a80001u /* 192.168.0.1, static ARP entry */
#define REMOTE_IP 0xc0000201u  /* 192.0.2.1, off-link: reached via the gateway */
#define SERVER_PORT 8080       /* bind() port, and the peer's port for connect() */
#define DEFAULT_REMOTE_PORT 40000
#define DEFAULT_REMOTE_ISN 1000000u
#define DEFAULT_TOLERANCE_US 4000

static const uint8_t STACK_MAC[6] = {0x02, 0, 0, 0, 0, 0x02};
static const uint8_t GATEWAY_MAC[6] = {0x02, 0, 0, 0, 0, 0x01};

#define MAX_FDS 64
#define MAX_FLOWS 64
#define MAX_QUEUE 512
#define MAX_PENDING 16
#define MAX_SETOPTS 16
#define FRAME_CAP 9100

struct flow {
  uint16_t remote_port, local_port;
  struct flow_base base;
};

struct fd {
  bool used, listener;
  int handle;   /* -1 until listen/connect */
  bool nonblock;
  int nopts;    /* options set before the handle exists */
  int opts[MAX_SETOPTS];
  int64_t vals[MAX_SETOPTS];
};

struct frame {
  uint64_t at;
  size_t len;
  uint8_t ip[FRAME_CAP];
};

struct pending {        /* a blocking call waiting for progress */
  uint64_t end;         /* when it must complete (packetdrill's START...END) */
  int line;             /* index into script lines */
  long long progress;   /* bytes written so far (blocking write) */
};

struct runner {
  struct script *s;
  bool verbose;
  long tol;
  microtcp_stack *st;
  void *arena;
  uint64_t now;
  struct flow flows[MAX_FLOWS];
  int nflows, cur_flow;
  uint32_t remote_isn;
  struct fd fds[MAX_FDS];
  int last_conn_fd;
  struct frame *queue; /* sent by the stack, not yet matched */
  int qhead, qlen;
  struct pending pending[MAX_PENDING];
  int npending;
  int lineno; /* for messages */
};

static void fail(struct runner *r, int lineno, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s:%d: ", r->s->path, lineno);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

static void usage_error(struct runner *r, int lineno, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s:%d: ", r->s->path, lineno);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(2);
}

static double secs(uint64_t us) { return (double)us / 1e6; }

/* ---- errno names ---------------------------------------------------------------------- */
/* The <errno.h> name scripts expect for an error (microtcp.h MICROTCP_ERRORS). */
static const char *errno_name(int merr) {
  switch (merr) {
#define ERRNO_X_NAME(name, value, text, posix) \
  case value: return #posix;
    MICROTCP_ERRORS(ERRNO_X_NAME)
#undef ERRNO_X_NAME
  default: return "EIO";
  }
}

/* ---- config ------------------------------------------------------------------------- */
static void base_config(microtcp_config *c) {
  microtcp_script_config(c); /* shared with the packetdrill shim (config_knobs.h) */
  memcpy(c->mac, STACK_MAC, 6);
  c->ip = STACK_IP;
  c->gateway = GATEWAY_IP;
  for (int i = 0; i < 16; i++) c->secret[i] = (uint8_t)(0x51 + i);
}

/* Apply "// config:" words: microtcp_config field names, plus the runner's own
 * remote_isn. Returns 0 or -1 (message printed). */
static int apply_config(struct runner *r, microtcp_config *c) {
  char buf[sizeof r->s->config];
  snprintf(buf, sizeof buf, "%s", r->s->config);
  char *save = NULL;
  for (char *tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
    char *eq = strchr(tok, '=');
    char *end;
    if (!eq) {
      fprintf(stderr, "%s: config word '%s' is not key=value\n", r->s->path, tok);
      return -1;
    }
    *eq = 0;
    unsigned long long v = strtoull(eq + 1, &end, 0);
    if (*end || end == eq + 1) {
      fprintf(stderr, "%s: config %s: '%s' is not a number\n", r->s->path, tok, eq + 1);
      return -1;
    }
    if (!strcmp(tok, "remote_isn")) {
      r->remote_isn = (uint32_t)v;
      continue;
    }
    int k = microtcp_knob_set(c, tok, eq + 1);
    if (k == -1) {
      fprintf(stderr, "%s: unknown config knob '%s'\n", r->s->path, tok);
      return -1;
    }
    if (k == -2) {
      fprintf(stderr, "%s: config %s=%s does not fit\n", r->s->path, tok, eq + 1);
      return -1;
    }
  }
  return 0;
}

static void stack_create(struct runner *r) {
  microtcp_config cfg;
  base_config(&cfg);
  if (apply_config(r, &cfg) < 0) exit(2);
  size_t n = microtcp_footprint(&cfg);
  if (!n) {
    fprintf(stderr, "%s: the stack rejects this config\n", r->s->path);
    exit(2);
  }
  r->arena = aligned_alloc(16, (n + 15) & ~(size_t)15);
  int err = 0;
  r->st = microtcp_init(r->arena, n, &cfg, 0, &err);
  if (!r->st) {
    fprintf(stderr, "%s: microtcp_init: %s\n", r->s->path, microtcp_strerror(err));
    exit(2);
  }
  if (microtcp_arp_add_static(r->st, GATEWAY_IP, GATEWAY_MAC) < 0) {
    fprintf(stderr, "%s: cannot add the gateway's ARP entry\n", r->s->path);
    exit(2);
  }
}

/* ---- flows -------------------------------------------------------------------------- */
static int flow_find(struct runner *r, uint16_t remote_port, uint16_t local_port) {
  for (int i = 0; i < r->nflows; i++)
    if (r->flows[i].remote_port == remote_port && r->flows[i].local_port == local_port) return i;
  return -1;
}

static int flow_get(struct runner *r, uint16_t remote_port, uint16_t local_port) {
  int i = flow_find(r, remote_port, local_port);
  if (i >= 0) return i;
  if (r->nflows == MAX_FLOWS) usage_error(r, r->lineno, "too many connections (max %d)", MAX_FLOWS);
  struct flow *f = &r->flows[r->nflows];
  memset(f, 0, sizeof *f);
  f->remote_port = remote_port;
  f->local_port = local_port;
  f->base.remote_isn = r->remote_isn;
  return r->nflows++;
}

/* ---- output: drain the stack, remember what it sent ------------------------------------ */
static void answer_arp(struct runner *r, const uint8_t *f, size_t n) {
  /* The gateway has a static entry, so requests are unexpected; answer them
   * anyway (for the gateway's IP) so a stack that asks still gets through. */
  if (n < 42 || f[20] != 0 || f[21] != 1) return;
  uint32_t target = (uint32_t)f[38] << 24 | (uint32_t)f[39] << 16 | (uint32_t)f[40] << 8 | f[41];
  if (target != GATEWAY_IP) return;
  uint8_t rep[42];
  memcpy(rep, f + 6, 6);
  memcpy(rep + 6, GATEWAY_MAC, 6);
  rep[12] = 0x08, rep[13] = 0x06;
  memcpy(rep + 14, f + 14, 6); /* htype, ptype, hlen, plen */
  rep[20] = 0, rep[21] = 2;
  memcpy(rep + 22, GATEWAY_MAC, 6);
  memcpy(rep + 28, f + 38, 4);
  memcpy(rep + 32, f + 22, 10); /* sender MAC + IP become the target */
  microtcp_input(r->st, r->now, rep, sizeof rep);
}

/* Bookkeeping when a TCP segment leaves the stack: learn the stack's ISN from
 * its SYN or SYN-ACK and its latest TS val, per flow. */
static void note_outbound(struct runner *r, const struct pkt *a, const struct endpoints *ep) {
  int fi = flow_find(r, ep->dst_port, ep->src_port);
  if (fi < 0) return;
  struct flow_base *b = &r->flows[fi].base;
  /* Once per connection, as packetdrill: a later SYN-ACK (a reopened
   * TIME-WAIT connection) is shown relative to the first ISN. */
  if ((a->flags & TH_SYN) && !b->stack_isn_known) {
    b->stack_isn = a->seq;
    b->stack_isn_known = true;
  }
  for (int i = 0; i < a->nopts; i++)
    if (a->opts[i].kind == PO_TS) b->last_tsval = a->opts[i].a;
}

static void drain(struct runner *r) {
  static uint8_t f[FRAME_CAP + 14];
  for (;;) {
    int n = microtcp_output(r->st, r->now, f, sizeof f);
    if (n <= 0) return;
    if (n < 14) fail(r, r->lineno, "the stack sent a %d-byte frame", n);
    if (memcmp(f, GATEWAY_MAC, 6) && !(f[0] & 1))
      fail(r, r->lineno, "the stack sent a frame to a MAC other than the gateway's");
    if (f[12] == 0x08 && f[13] == 0x06) {
      answer_arp(r, f, (size_t)n);
      continue;
    }
    if (f[12] != 0x08 || f[13] != 0x00)
      fail(r, r->lineno, "the stack sent a frame of EtherType 0x%02x%02x", f[12], f[13]);
    if (r->qlen == MAX_QUEUE) fail(r, r->lineno, "more than %d unmatched packets", MAX_QUEUE);
    struct frame *q = &r->queue[(r->qhead + r->qlen++) % MAX_QUEUE];
    q->at = r->now;
    q->len = (size_t)n - 14;
    memcpy(q->ip, f + 14, q->len);
    struct pkt a;
    struct endpoints ep;
    char why[128];
    if (pkt_decode(q->ip, q->len, &a, &ep, why, sizeof why) == 0) note_outbound(r, &a, &ep);
  }
}

/* One-line summary of a queued frame in script syntax (relative numbers of its flow). */
static void describe(struct runner *r, const struct frame *q, char *buf, size_t cap) {
  struct pkt a, rel;
  struct endpoints ep;
  char why[128];
  if (pkt_decode(q->ip, q->len, &a, &ep, why, sizeof why) < 0) {
    snprintf(buf, cap, "a bad packet (%s)", why);
    return;
  }
  int fi = flow_find(r, ep.dst_port, ep.src_port);
  struct flow_base tmp = {.remote_isn = r->remote_isn};
  pkt_make_relative(&a, fi >= 0 ? &r->flows[fi].base : &tmp, &rel);
  char p[400];
  pkt_format(&rel, p, sizeof p);
  if (fi >= 0 && fi == r->cur_flow) snprintf(buf, cap, "%s", p);
  else snprintf(buf, cap, "%s  [ports %u > %u]", p, ep.src_port, ep.dst_port);
  if (r->verbose) { /* absolute numbers too, for debugging ISN bookkeeping */
    size_t used = strlen(buf);
    snprintf(buf + used, cap - used, "  [abs seq %" PRIu32 " ack %" PRIu32 "]", a.seq, a.ack);
  }
}

static void fail_unexpected(struct runner *r, int lineno, const char *when) {
  char d[512];
  const struct frame *q = &r->queue[r->qhead];
  describe(r, q, d, sizeof d);
  fail(r, lineno, "unexpected packet at %.6f s %s: %s", secs(q->at), when, d);
}

/* ---- system calls ------------------------------------------------------------------- */
struct result {
  bool blocked;       /* would block on a blocking socket: keep pending */
  long long ret;
  const char *err;    /* errno name when ret == -1 */
};

static struct result ok(long long v) { return (struct result){false, v, NULL}; }
static struct result error(const char *e) { return (struct result){false, -1, e}; }
static struct result from_microtcp(int v) { return v >= 0 ? ok(v) : error(errno_name(v)); }

static int fd_alloc(struct runner *r) {
  for (int i = 3; i < MAX_FDS; i++)
    if (!r->fds[i].used) {
      memset(&r->fds[i], 0, sizeof r->fds[i]);
      r->fds[i].used = true;
      r->fds[i].handle = -1;
      return i;
    }
  usage_error(r, r->lineno, "too many file descriptors");
  return -1;
}

static struct fd *fd_arg(struct runner *r, const struct call *c) {
  if (c->nargs < 1) usage_error(r, r->lineno, "%s needs a file descriptor", c->name);
  char *end;
  long v = strtol(c->args[0], &end, 10);
  if (*end || v < 0 || v >= MAX_FDS || !r->fds[v].used) return NULL;
  return &r->fds[v];
}

static long long int_arg(struct runner *r, const char *a) {
  /* "[1]", "1", "4" */
  char buf[CALL_ARG_LEN];
  snprintf(buf, sizeof buf, "%s", a);
  char *p = buf;
  if (*p == '[') p++;
  char *end;
  long long v = strtoll(p, &end, 0);
  if (end == p || (*end && *end != ']')) usage_error(r, r->lineno, "expected an integer, got '%s'", a);
  return v;
}

/* Map a socket option to (microtcp option, value in microtcp units). */
static bool sockopt_map(struct runner *r, const struct call *c, int *opt, int64_t *val, int64_t *scale) {
  const char *name = c->args[2];
  *scale = 1;
  if (!strcmp(name, "TCP_NODELAY")) *opt = MICROTCP_OPT_NODELAY;
  else if (!strcmp(name, "SO_KEEPALIVE")) *opt = MICROTCP_OPT_KEEPALIVE;
  else if (!strcmp(name, "TCP_KEEPIDLE")) *opt = MICROTCP_OPT_KEEPIDLE_US, *scale = 1000000;
  else if (!strcmp(name, "TCP_KEEPINTVL")) *opt = MICROTCP_OPT_KEEPINTVL_US, *scale = 1000000;
  else if (!strcmp(name, "TCP_KEEPCNT")) *opt = MICROTCP_OPT_KEEPCNT;
  else if (!strcmp(name, "SO_SNDBUF")) *opt = MICROTCP_OPT_SNDBUF;
  else if (!strcmp(name, "SO_RCVBUF")) *opt = MICROTCP_OPT_RCVBUF;
  else if (!strcmp(name, "TCP_MAXSEG")) *opt = MICROTCP_OPT_MAXSEG;
  else if (!strcmp(name, "TCP_USER_TIMEOUT")) *opt = MICROTCP_OPT_USER_TIMEOUT_US, *scale = 1000;
  else if (!strcmp(name, "TCP_CONGESTION")) *opt = MICROTCP_OPT_CC;
  else if (!strcmp(name, "SO_LINGER")) *opt = MICROTCP_OPT_LINGER_ZERO;
  else return false;
  if (c->nargs < 4) usage_error(r, r->lineno, "%s needs a value", c->name);
  const char *v = c->args[3];
  if (*opt == MICROTCP_OPT_CC) {
    if (strstr(v, "cubic")) *val = MICROTCP_CC_CUBIC;
    else if (strstr(v, "reno")) *val = MICROTCP_CC_NEWRENO;
    else usage_error(r, r->lineno, "TCP_CONGESTION: \"reno\" or \"cubic\", got %s", v);
  } else if (*opt == MICROTCP_OPT_LINGER_ZERO) {
    /* {onoff=1, linger=0}: only "linger 0 = close sends RST" is modelled */
    const char *on = strstr(v, "onoff=");
    const char *lg = strstr(v, "linger=");
    if (!on || !lg) usage_error(r, r->lineno, "SO_LINGER value must be {onoff=N, linger=N}");
    *val = atoi(on + 6) != 0 && atoi(lg + 7) == 0;
  } else {
    *val = int_arg(r, v) * *scale;
  }
  return true;
}

static struct result do_setsockopt(struct runner *r, struct fd *f, const struct call *c) {
  if (c->nargs < 3) usage_error(r, r->lineno, "setsockopt(fd, level, name, value, len)");
  if (!strcmp(c->args[2], "SO_REUSEADDR") || !strcmp(c->args[2], "SO_REUSEPORT")) return ok(0);
  int opt;
  int64_t val, scale;
  if (!sockopt_map(r, c, &opt, &val, &scale)) return error("ENOPROTOOPT");
  if (f->handle >= 0) return from_microtcp(microtcp_tcp_setopt(r->st, f->handle, opt, val));
  if (f->nopts == MAX_SETOPTS) usage_error(r, r->lineno, "too many options before listen/connect");
  f->opts[f->nopts] = opt;
  f->vals[f->nopts++] = val;
  return ok(0);
}

static void apply_stored_opts(struct runner *r, struct fd *f) {
  for (int i = 0; i < f->nopts; i++) {
    int rc = microtcp_tcp_setopt(r->st, f->handle, f->opts[i], f->vals[i]);
    if (rc < 0) fail(r, r->lineno, "applying a stored socket option failed: %s", errno_name(rc));
  }
  f->nopts = 0;
}

static const char *STATE_NAMES[] = {"TCP_CLOSE", "TCP_LISTEN", "TCP_SYN_SENT", "TCP_SYN_RECV",
                                    "TCP_ESTABLISHED", "TCP_FIN_WAIT1", "TCP_FIN_WAIT2",
                                    "TCP_CLOSE_WAIT", "TCP_CLOSING", "TCP_LAST_ACK", "TCP_TIME_WAIT"};

static struct result do_getsockopt(struct runner *r, struct fd *f, const struct call *c) {
  if (c->nargs < 4) usage_error(r, r->lineno, "getsockopt(fd, level, name, [value], [len])");
  char want[CALL_ARG_LEN];
  snprintf(want, sizeof want, "%s", c->args[3]);
  char *w = want + (want[0] == '[');
  w[strcspn(w, "]")] = 0;
  if (!strcmp(c->args[2], "SO_ERROR")) {
    int e = f->handle >= 0 ? microtcp_socket_error(r->st, f->handle) : 0;
    const char *got = e ? errno_name(e) : "0";
    if (strcmp(got, w)) fail(r, r->lineno, "getsockopt SO_ERROR is %s, expected %s", got, w);
    return ok(0);
  }
  int opt;
  int64_t val, scale, got;
  char tmp[CALL_ARG_LEN];
  snprintf(tmp, sizeof tmp, "%s", c->args[3]);
  struct call cc = *c;
  snprintf(cc.args[3], CALL_ARG_LEN, "0"); /* the expected value is not an input */
  if (!sockopt_map(r, &cc, &opt, &val, &scale)) return error("ENOPROTOOPT");
  if (f->handle < 0) usage_error(r, r->lineno, "getsockopt before listen/connect is not modelled");
  int rc = microtcp_tcp_getopt(r->st, f->handle, opt, &got);
  if (rc < 0) return from_microtcp(rc);
  long long expect = int_arg(r, tmp);
  if (got / scale != expect)
    fail(r, r->lineno, "getsockopt %s is %lld, expected %lld", c->args[2], (long long)(got / scale), expect);
  return ok(0);
}

/* Execute (or retry) a call; progress is the pending state of a blocking write. */
static struct result exec_call(struct runner *r, const struct call *c, long long *progress) {
  const char *n = c->name;
  if (!strcmp(n, "socket")) {
    if (c->nargs < 2 || !strstr(c->args[1], "SOCK_STREAM")) return error("EPROTONOSUPPORT");
    return ok(fd_alloc(r));
  }
  struct fd *f = fd_arg(r, c);
  if (!f) return error("EBADF");
  int fdno = (int)(f - r->fds);
  if (!strcmp(n, "bind")) return ok(0);
  if (!strcmp(n, "listen")) {
    int backlog = c->nargs > 1 ? (int)int_arg(r, c->args[1]) : 1;
    int h = microtcp_tcp_listen(r->st, r->now, SERVER_PORT, backlog < 1 ? 1 : backlog);
    if (h < 0) return from_microtcp(h);
    f->handle = h;
    f->listener = true;
    apply_stored_opts(r, f);
    return ok(0);
  }
  if (!strcmp(n, "fcntl")) {
    if (c->nargs >= 3 && !strcmp(c->args[1], "F_SETFL")) {
      f->nonblock = strstr(c->args[2], "O_NONBLOCK") != NULL;
      return ok(0);
    }
    if (c->nargs >= 2 && !strcmp(c->args[1], "F_GETFL")) return ok(2 | (f->nonblock ? 0x800 : 0));
    usage_error(r, r->lineno, "fcntl: only F_SETFL and F_GETFL are modelled");
  }
  if (!strcmp(n, "setsockopt")) return do_setsockopt(r, f, c);
  if (!strcmp(n, "getsockopt")) return do_getsockopt(r, f, c);
  if (!strcmp(n, "connect")) {
    if (f->handle < 0) {
      int h = microtcp_tcp_connect(r->st, r->now, REMOTE_IP, SERVER_PORT, 0);
      if (h < 0) return from_microtcp(h);
      f->handle = h;
      apply_stored_opts(r, f);
      int lp = microtcp_local_port(r->st, h);
      int fi = flow_get(r, SERVER_PORT, (uint16_t)lp);
      r->flows[fi].base.stack_isn_known = false;
      r->cur_flow = fi;
      r->last_conn_fd = fdno;
      if (f->nonblock) return error("EINPROGRESS");
    }
    unsigned ev = microtcp_poll(r->st, f->handle);
    if (ev & MICROTCP_CONNECTED) return ok(0);
    if (ev & MICROTCP_ERROR) return from_microtcp(microtcp_socket_error(r->st, f->handle));
    return f->nonblock ? error("EALREADY") : (struct result){true, 0, NULL};
  }
  if (!strcmp(n, "accept")) {
    microtcp_endpoint peer;
    int h = microtcp_tcp_accept(r->st, r->now, f->handle, &peer);
    if (h == MICROTCP_EAGAIN && !f->nonblock) return (struct result){true, 0, NULL};
    if (h < 0) return from_microtcp(h);
    int nfd = fd_alloc(r);
    r->fds[nfd].handle = h;
    r->last_conn_fd = nfd; /* packet lines keep their flow: //@ remote_port picks it */
    return ok(nfd);
  }
  if (!strcmp(n, "write") || !strcmp(n, "send")) {
    if (c->nargs < 3) usage_error(r, r->lineno, "%s(fd, ..., N)", n);
    long long want = int_arg(r, c->args[2]);
    static uint8_t zeros[1 << 16];
    while (*progress < want) {
      long long chunk = want - *progress;
      if (chunk > (long long)sizeof zeros) chunk = sizeof zeros;
      int k = microtcp_tcp_send(r->st, r->now, f->handle, zeros, (size_t)chunk);
      if (k == MICROTCP_EAGAIN) {
        if (f->nonblock) return *progress ? ok(*progress) : error("EAGAIN");
        return (struct result){true, 0, NULL};
      }
      if (k < 0) return *progress ? ok(*progress) : from_microtcp(k);
      *progress += k;
      if (f->nonblock) break; /* one attempt per call, like a non-blocking write */
    }
    return ok(*progress);
  }
  if (!strcmp(n, "read") || !strcmp(n, "recv")) {
    if (c->nargs < 3) usage_error(r, r->lineno, "%s(fd, ..., N)", n);
    long long want = int_arg(r, c->args[2]);
    static uint8_t buf[1 << 20];
    if (want > (long long)sizeof buf) want = sizeof buf;
    int k = microtcp_tcp_recv(r->st, r->now, f->handle, buf, (size_t)want);
    if (k == MICROTCP_EAGAIN && !f->nonblock) return (struct result){true, 0, NULL};
    return from_microtcp(k);
  }
  if (!strcmp(n, "shutdown")) {
    if (c->nargs < 2) usage_error(r, r->lineno, "shutdown(fd, SHUT_WR)");
    if (!strcmp(c->args[1], "SHUT_RD")) return ok(0);
    return from_microtcp(microtcp_tcp_shutdown(r->st, r->now, f->handle));
  }
  if (!strcmp(n, "close")) {
    int rc = f->handle >= 0 ? microtcp_tcp_close(r->st, r->now, f->handle) : 0;
    f->used = false;
    return from_microtcp(rc);
  }
  usage_error(r, r->lineno, "unsupported call %s", n);
  return error("ENOSYS");
}

static void check_result(struct runner *r, const struct line *l, struct result res) {
  const struct call *c = &l->call;
  if (c->ret_any) return;
  bool good = res.ret == c->ret && (!c->err[0] || (res.err && !strcmp(res.err, c->err)));
  if (!c->err[0] && res.ret == -1 && c->ret == -1) good = true; /* "= -1" without a name */
  if (!good)
    fail(r, l->lineno, "%s returned %lld%s%s, expected %lld%s%s", c->name, res.ret,
         res.err ? " " : "", res.err ? res.err : "", c->ret, c->err[0] ? " " : "", c->err);
}

/* A blocking call must return at its END time, within the tolerance (as
 * packetdrill checks it). */
static void check_end_time(struct runner *r, const struct line *l, uint64_t end) {
  uint64_t early = end > (uint64_t)r->tol ? end - (uint64_t)r->tol : 0, late = end + (uint64_t)r->tol;
  if (r->now < early || r->now > late)
    fail(r, l->lineno, "%s returned at %.6f s, expected at %.6f s (+-%ld us)", l->call.name,
         secs(r->now), secs(end), r->tol);
}

static void retry_pending(struct runner *r) {
  for (int i = 0; i < r->npending;) {
    struct pending *p = &r->pending[i];
    const struct line *l = &r->s->lines[p->line];
    int saved = r->lineno;
    r->lineno = l->lineno;
    struct result res = exec_call(r, &l->call, &p->progress);
    r->lineno = saved;
    if (res.blocked) {
      i++;
      continue;
    }
    if (r->verbose)
      printf("%.6f   %s completes: %lld%s%s\n", secs(r->now), l->call.name, res.ret,
             res.err ? " " : "", res.err ? res.err : "");
    check_result(r, l, res);
    check_end_time(r, l, p->end);
    memmove(p, p + 1, (size_t)(r->npending - i - 1) * sizeof *p);
    r->npending--;
  }
}

/* ---- time --------------------------------------------------------------------------- */
static void after_event(struct runner *r) {
  drain(r);
  retry_pending(r);
  drain(r);
}

/* Advance the clock towards limit, firing every deadline on the way; with
 * stop_on_output, stop as soon as the stack has sent something. */
static void run_until(struct runner *r, uint64_t limit, bool stop_on_output) {
  after_event(r);
  int same_time_steps = 0;
  for (;;) {
    if (stop_on_output && r->qlen) return;
    uint64_t d = microtcp_deadline(r->st);
    if (d > limit) break;
    if (d > r->now) {
      r->now = d;
      same_time_steps = 0;
    } else if (++same_time_steps > 10000) {
      fail(r, r->lineno, "the stack's deadline stays at %.6f s after microtcp_advance", secs(r->now));
    }
    microtcp_advance(r->st, r->now);
    after_event(r);
  }
  if (limit > r->now) r->now = limit;
  after_event(r);
}

/* ---- assertions --------------------------------------------------------------------- */
static bool stat_field(const char *field, const microtcp_tcp_stats *t, long long *v) {
  uint32_t mss = t->mss ? t->mss : 1;
  if (!strcmp(field, "tcpi_state")) *v = t->state;
  else if (!strcmp(field, "tcpi_snd_cwnd")) *v = t->cwnd / mss;
  else if (!strcmp(field, "tcpi_snd_ssthresh")) *v = t->ssthresh >= 0x7fffffffu ? 0x7fffffff : t->ssthresh / mss;
  else if (!strcmp(field, "tcpi_rto")) *v = t->rto_us;
  else if (!strcmp(field, "tcpi_rtt")) *v = t->srtt_us;
  else if (!strcmp(field, "tcpi_rttvar")) *v = t->rttvar_us;
  else if (!strcmp(field, "tcpi_snd_mss")) *v = t->mss;
  else if (!strcmp(field, "tcpi_total_retrans")) *v = t->retransmits;
  else if (!strcmp(field, "tcpi_snd_wscale")) *v = t->snd_wscale;
  else if (!strcmp(field, "tcpi_rcv_wscale")) *v = t->rcv_wscale;
  else if (!strcmp(field, "tcpi_snd_wnd")) *v = t->snd_wnd;
  else if (!strcmp(field, "tcpi_rcv_wnd")) *v = t->rcv_wnd;
  /* runner extensions: microtcp_tcp_stats fields without a tcp_info twin */
  else if (!strcmp(field, "stat.cwnd")) *v = t->cwnd;
  else if (!strcmp(field, "stat.ssthresh")) *v = t->ssthresh;
  else if (!strcmp(field, "stat.fast_retransmits")) *v = t->fast_retransmits;
  else if (!strcmp(field, "stat.rto_timeouts")) *v = t->rto_timeouts;
  else if (!strcmp(field, "stat.dup_acks")) *v = t->dup_acks;
  else if (!strcmp(field, "stat.sack_recoveries")) *v = t->sack_recoveries;
  else if (!strcmp(field, "stat.sack")) *v = t->sack;
  else if (!strcmp(field, "stat.timestamps")) *v = t->timestamps;
  else if (!strcmp(field, "stat.bytes_received")) *v = (long long)t->bytes_received;
  else if (!strcmp(field, "stat.bytes_acked")) *v = (long long)t->bytes_acked;
  else return false;
  return true;
}

static long long assert_value(struct runner *r, int lineno, const struct assertion *a) {
  long long v = 0;
  if (!strncmp(a->field, "counter.", 8)) {
    const microtcp_counters *c = microtcp_get_counters(r->st);
    const uint64_t *vals = (const uint64_t *)(const void *)c;
    for (size_t i = 0; microtcp_counter_name(i); i++)
      if (!strcmp(microtcp_counter_name(i), a->field + 8)) return (long long)vals[i];
    usage_error(r, lineno, "unknown counter '%s' (see MICROTCP_COUNTERS)", a->field + 8);
  }
  if (!strncmp(a->field, "pool.", 5)) {
    microtcp_pool_usage u;
    microtcp_get_pool_usage(r->st, &u);
    if (!strcmp(a->field, "pool.tcp")) return u.tcp;
    if (!strcmp(a->field, "pool.listeners")) return u.listeners;
    if (!strcmp(a->field, "pool.frames")) return u.frames;
    usage_error(r, lineno, "unknown pool '%s' (tcp, listeners, frames)", a->field);
  }
  if (r->last_conn_fd < 0 || !r->fds[r->last_conn_fd].used)
    fail(r, lineno, "%s: no open connection fd to inspect", a->field);
  microtcp_tcp_stats t;
  int rc = microtcp_tcp_get_stats(r->st, r->fds[r->last_conn_fd].handle, &t);
  if (rc < 0) fail(r, lineno, "%s: microtcp_tcp_get_stats: %s", a->field, errno_name(rc));
  if (!stat_field(a->field, &t, &v)) usage_error(r, lineno, "unknown field '%s'", a->field);
  return v;
}

static void do_asserts(struct runner *r, const struct line *l) {
  for (int i = 0; i < l->nasserts; i++) {
    const struct assertion *a = &l->asserts[i];
    long long want = 0, got = assert_value(r, l->lineno, a);
    bool named = false;
    for (size_t s = 0; s < sizeof STATE_NAMES / sizeof STATE_NAMES[0]; s++)
      if (!strcmp(a->value, STATE_NAMES[s])) want = (long long)s, named = true;
    if (!named) {
      char *end;
      want = strtoll(a->value, &end, 0);
      if (*end) usage_error(r, l->lineno, "'%s' is neither a number nor a TCP_* state", a->value);
    }
    bool okay = !strcmp(a->op, "==") ? got == want : !strcmp(a->op, "!=") ? got != want
              : !strcmp(a->op, "<") ? got < want : !strcmp(a->op, "<=") ? got <= want
              : !strcmp(a->op, ">") ? got > want : got >= want;
    if (!okay) {
      if (!strcmp(a->field, "tcpi_state") && got >= 0 && got <= 10)
        fail(r, l->lineno, "assert %s %s %s failed: it is %s", a->field, a->op, a->value, STATE_NAMES[got]);
      fail(r, l->lineno, "assert %s %s %s failed: it is %lld", a->field, a->op, a->value, got);
    }
  }
}

/* ---- packets ------------------------------------------------------------------------ */
static void inject(struct runner *r, const struct line *l) {
  struct flow *fl = &r->flows[r->cur_flow];
  struct endpoints ep = {REMOTE_IP, STACK_IP, fl->remote_port, fl->local_port};
  static uint8_t frame[FRAME_CAP + 14];
  for (int i = 0; i < l->pkt.nopts; i++)
    if (l->pkt.opts[i].kind == PO_SACK && !fl->base.stack_isn_known)
      usage_error(r, l->lineno, "SACK blocks before the stack's ISN is known");
  int n = pkt_encode(&l->pkt, &fl->base, &ep, frame + 14, sizeof frame - 14);
  if (n < 0) usage_error(r, l->lineno, "packet too large");
  memcpy(frame, STACK_MAC, 6);
  memcpy(frame + 6, GATEWAY_MAC, 6);
  frame[12] = 0x08, frame[13] = 0x00;
  if (r->verbose) printf("%.6f %s\n", secs(r->now), l->text);
  microtcp_input(r->st, r->now, frame, (size_t)n + 14);
}

static void expect_outbound(struct runner *r, const struct line *l, uint64_t lo, uint64_t hi) {
  uint64_t early = lo > (uint64_t)r->tol ? lo - (uint64_t)r->tol : 0;
  uint64_t late = hi == UINT64_MAX ? UINT64_MAX : hi + (uint64_t)r->tol;
  if (!r->qlen) run_until(r, late == UINT64_MAX ? r->now + 3600ull * 1000000 : late, true);
  if (!r->qlen)
    fail(r, l->lineno, "expected %s at %.6f s, but the stack sent nothing by %.6f s", l->text,
         secs(lo), secs(r->now));
  struct frame *q = &r->queue[r->qhead];
  char got[512];
  describe(r, q, got, sizeof got);
  struct pkt a, rel;
  struct endpoints ep;
  char why[256];
  if (pkt_decode(q->ip, q->len, &a, &ep, why, sizeof why) < 0)
    fail(r, l->lineno, "expected %s, got a bad packet: %s", l->text, why);
  if (r->verbose) printf("%.6f %s\n", secs(q->at), got);
  if (q->at < early || q->at > late)
    fail(r, l->lineno, "expected %s at %.6f s (+-%ld us), got it at %.6f s: %s", l->text,
         secs(lo), r->tol, secs(q->at), got);
  const struct flow *fl = &r->flows[r->cur_flow];
  if (ep.src_ip != STACK_IP || ep.dst_ip != REMOTE_IP || ep.dst_port != fl->remote_port ||
      ep.src_port != fl->local_port)
    fail(r, l->lineno, "expected %s on ports %u > %u, got %s", l->text, fl->local_port,
         fl->remote_port, got);
  pkt_make_relative(&a, &fl->base, &rel);
  if (!pkt_matches(&l->pkt, &rel, why, sizeof why))
    fail(r, l->lineno, "expected %s\n    got %s\n    (%s)", l->text, got, why);
  r->qhead = (r->qhead + 1) % MAX_QUEUE;
  r->qlen--;
}

/* ---- the script --------------------------------------------------------------------- */
static void run(struct runner *r) {
  int64_t base = 0; /* what "+T" is relative to */
  for (int i = 0; i < r->s->nlines; i++) {
    const struct line *l = &r->s->lines[i];
    r->lineno = l->lineno;
    if (l->kind == L_REMOTE_PORT) {
      r->cur_flow = flow_get(r, l->remote_port, SERVER_PORT);
      continue;
    }
    if (l->kind == L_PACKET && l->pkt.remote_port) /* "SRC>DST": that connection */
      r->cur_flow = flow_get(r, l->pkt.remote_port, SERVER_PORT);
    bool outbound = l->kind == L_PACKET && l->pkt.dir == '>';
    uint64_t lo, hi;
    if (l->t.any) {
      lo = r->now;
      hi = outbound ? UINT64_MAX : r->now;
    } else {
      int64_t a = (l->t.rel_lo ? base : 0) + l->t.lo_us;
      int64_t b = (l->t.rel_hi ? base : 0) + l->t.hi_us;
      if (a < 0 || b < a) usage_error(r, l->lineno, "time range ends before it starts");
      lo = (uint64_t)a, hi = (uint64_t)b;
    }
    if (outbound) {
      expect_outbound(r, l, lo, hi);
      /* after "*" or a range, later relative times count from when it happened */
      base = (l->t.any || l->t.range) ? (int64_t)r->queue[(r->qhead + MAX_QUEUE - 1) % MAX_QUEUE].at
                                      : (int64_t)lo;
      continue;
    }
    if (r->qlen) fail_unexpected(r, l->lineno, "(before this line)");
    run_until(r, lo, false);
    if (r->qlen) fail_unexpected(r, l->lineno, "(before this line)");
    base = (int64_t)(l->t.any ? r->now : lo);
    if (l->kind == L_PACKET) {
      inject(r, l);
    } else if (l->kind == L_CALL) {
      if (r->verbose) printf("%.6f %s\n", secs(r->now), l->text);
      long long progress = 0;
      struct result res = exec_call(r, &l->call, &progress);
      uint64_t end = (uint64_t)((l->t.rel_lo ? base : 0) + l->t.end_us);
      if (res.blocked && !l->t.blocking)
        fail(r, l->lineno, "%s blocks: write it as START...END (packetdrill runs only such calls "
                           "on its blocking-call thread)", l->call.name);
      if (res.blocked) {
        if (r->npending == MAX_PENDING) usage_error(r, l->lineno, "too many blocked calls");
        r->pending[r->npending++] = (struct pending){end, i, progress};
        if (r->verbose) printf("%.6f   (blocks)\n", secs(r->now));
      } else {
        check_result(r, l, res);
        if (l->t.blocking) check_end_time(r, l, end);
      }
    } else {
      if (r->verbose) printf("%.6f %s\n", secs(r->now), l->text);
      do_asserts(r, l);
    }
    after_event(r);
  }
  r->lineno = r->s->nlines ? r->s->lines[r->s->nlines - 1].lineno : 0;
  after_event(r);
  if (r->qlen) fail_unexpected(r, r->lineno, "(after the last line)");
  if (r->npending) {
    const struct line *l = &r->s->lines[r->pending[0].line];
    fail(r, l->lineno, "%s was still blocked at the end of the script", l->call.name);
  }
}

static const char script_usage[] =
    "usage: microtcp-script [--tolerance_usecs=N] [--verbose] FILE.pkt\n"
    "       microtcp-script --help | --version\n"
    "Runs one TCP script in packetdrill syntax against the stack.\n"
    "exit codes: 0 ok, 1 failure found (the stack's behaviour differs from the script),\n"
    "            2 usage or input error (bad option, unreadable or empty script, FILE:LINE: syntax)\n";

static int usage(const char *msg, const char *arg) {
  fprintf(stderr, "microtcp-script: %s%s%s (see microtcp-script --help)\n", msg, arg ? ": " : "",
          arg ? arg : "");
  return 2;
}

int main(int argc, char **argv) {
  const char *path = NULL;
  long tol = -1;
  bool verbose = false;
  static const struct option opts[] = {{"tolerance_usecs", required_argument, NULL, 't'},
                                       {"verbose", no_argument, NULL, 'v'},
                                       {"help", no_argument, NULL, 'h'},
                                       {"version", no_argument, NULL, 'V'},
                                       {NULL, 0, NULL, 0}};
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":vh", opts, NULL)) != -1) {
    switch (c) {
    case 't': {
      char *end;
      tol = strtol(optarg, &end, 10);
      if (!*optarg || *end || tol < 0) return usage("--tolerance_usecs expects microseconds", optarg);
      break;
    }
    case 'v': verbose = true; break;
    case 'h': fputs(script_usage, stdout); return 0;
    case 'V': printf("microtcp-script %s\n", MICROTCP_VERSION_STRING); return 0;
    case ':': return usage("option needs a value", argv[optind - 1]);
    default: return usage("unknown option", argv[optind - 1]);
    }
  }
  if (optind == argc) return usage("missing FILE.pkt", NULL);
  if (optind + 1 < argc) return usage("one script at a time", argv[optind + 1]);
  path = argv[optind];
  /* A directory opens and reads as empty on Linux: refuse it, and an empty
   * script, rather than pass with nothing checked. */
  struct stat st;
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
    fprintf(stderr, "%s: not a regular file\n", path);
    return 2;
  }
  struct script s;
  if (script_parse(path, &s) < 0) return 2;
  if (s.nlines == 0) {
    fprintf(stderr, "%s: no statements (an empty script checks nothing)\n", path);
    script_free(&s);
    return 2;
  }
  static struct runner r;
  r.s = &s;
  r.verbose = verbose;
  r.tol = tol >= 0 ? tol : s.tolerance_us >= 0 ? s.tolerance_us : DEFAULT_TOLERANCE_US;
  r.remote_isn = DEFAULT_REMOTE_ISN;
  r.last_conn_fd = -1;
  r.queue = calloc(MAX_QUEUE, sizeof *r.queue);
  stack_create(&r);
  r.cur_flow = flow_get(&r, DEFAULT_REMOTE_PORT, SERVER_PORT);
  run(&r);
  if (verbose) printf("ok %s\n", path);
  free(r.queue);
  free(r.arena);
  script_free(&s);
  return 0;
}
