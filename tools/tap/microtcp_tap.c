/*
 * microtcp-tap: one microtcp stack on a Linux TAP device, on CLOCK_MONOTONIC,
 * running one of the simulator's apps (sim/apps) so Linux programs (ping,
 * curl, nc, Python sockets) can talk to it. See README.md and --help.
 *
 * Loop: read every frame Linux queued on the device -> impairments -> stack;
 * fire timers; poll the apps; stack output -> impairments -> device; then
 * sleep in poll() until a frame arrives, the stack's next deadline, or the
 * next held (delayed/reordered) frame is due.
 *
 * Exit status: 0 after SIGINT/SIGTERM, --duration, the deletion of its network
 * namespace (`ip netns del`), or a successful `source`; 1 on a runtime error or
 * a failure found (device, its disappearance, stack, a `source` that failed or
 * had not finished when stopped); 2 on CLI misuse.
 * Every error is one line on stderr.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "apps.h"
#include "gso.h"
#include "impair.h"
#include "microtcp/microtcp.h"
#include "tap.h"
#include "tap_config.h"

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

static uint64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static const char USAGE[] =
    "usage: microtcp-tap --ip A.B.C.D/N [options]\n"
    "  --ifname NAME        TAP device to create or attach (default microtcp0; %d allowed)\n"
    "  --host-ip A.B.C.D/N  give the Linux side this address and bring it up\n"
    "                       (without it the device is left for you to configure)\n"
    "  --mac M              the stack's MAC (default 02:00:00:00:00:02)\n"
    "  --gateway A.B.C.D    the stack's default gateway\n"
    "  --app NAME           echo | sink | discard | http | udp-echo | source | none\n"
    "                       (default echo; discard reads and drops, checking nothing)\n"
    "  --port N             server port (default 7)\n"
    "  --connect A.B.C.D:P  source: the server to send to;  --bytes N  how much (1000000)\n"
    "  --pcap FILE          write every frame the stack receives and sends\n"
    "  --gso, --no-gso      the fast path (the default wherever the kernel offers\n"
    "                       IFF_VNET_HDR): runs of consecutive TCP segments go to Linux\n"
    "                       as one 64 KiB GSO frame and Linux's TSO frames are cut for\n"
    "                       the stack (fewer writes and receive-path passes; the\n"
    "                       segments are unchanged); --no-gso: one frame per read/write\n"
    "                       (both: a pure ACK superseded before it is written is dropped)\n"
    "  --loss R  --duplicate R  --reorder R   rates per frame and direction:\n"
    "                       5 or 5% (percent) or 50000ppm\n"
    "  --delay MS           delay every frame by MS milliseconds (both directions)\n"
    "  --impair-swap        the two directions swap their impairment streams (a benchmark\n"
    "                       sending from the stack draws what one sending from Linux draws)\n"
    "  --seed N             deterministic run: seeds the impairments and the stack's secret\n"
    "                       (default: secret from getrandom(), impairments seed 1)\n"
    "  --max-conns N        TCP connection blocks (default 32, as microtcp-replay)\n"
    "  --buffer BYTES       send and receive buffer per connection (default 131072)\n"
    "  --cc NAME            congestion control: newreno (the default) or cubic\n"
    "  --tcp KEY=N          a stack knob (experiments; repeatable): rack, dsack_undo,\n"
    "                       hystart, prr (0/1), abc_limit, initial_cwnd (segments),\n"
    "                       rto_min_ms, delack_ms, rto_min_plus_srtt (0/1)\n"
    "  --pool BYTES         TCP buffer pool all connections share (default 0:\n"
    "                       max-conns x 2 x buffer, 8 MiB; RAM is used only as data\n"
    "                       is buffered; when it runs dry sends wait and windows shrink)\n"
    "  --duration S         stop after S seconds\n"
    "  --counters           at exit, also print every nonzero stack counter and the\n"
    "                       pools in use (one line: \"microtcp-tap: counters: name=N ...\")\n"
    "  --help, --version\n"
    "The line \"microtcp-tap: NAME up, ...\" on stderr means the device is up and\n"
    "running and the stack answers: wait for it before using the device.\n"
    "It stops by itself when its device disappears (exit 1) or its network namespace\n"
    "is deleted (`ip netns del`, exit 0).\n"
    "exit codes: 0 ok, 1 failure found or runtime error (device, stack, a source that\n"
    "            failed or did not finish), 2 usage error\n";

static int usage(const char *msg, const char *arg) {
  fprintf(stderr, "microtcp-tap: %s%s%s (see --help)\n", msg, arg ? ": " : "", arg ? arg : "");
  return 2;
}

/* ---- the apps: servers accept any number of connections ------------------------ */
/* --app discard (RFC 863): read everything and drop it, as a Linux program
 * that only recv()s does; the sink app verifies every byte against the
 * apps' stream, which costs more than the copy. Not a shared app (sim/apps):
 * the simulator has nothing to measure against. */
#define APP_DISCARD ((enum app_kind)100)

struct server {
  enum app_kind kind;
  int listener; /* TCP listener handle, -1 if none */
  struct app **apps;
  size_t n, cap;
  /* totals of finished apps, reported at exit */
  uint64_t done, failed, bytes_in, verify_errors;
};

static void add_app(struct server *sv, struct app *a) {
  if (sv->n == sv->cap) {
    sv->cap = sv->cap ? sv->cap * 2 : 64;
    struct app **grown = realloc(sv->apps, sv->cap * sizeof *grown);
    if (!grown) abort();
    sv->apps = grown;
  }
  sv->apps[sv->n++] = a;
}

static void tally(struct server *sv, const struct app *a) {
  if (a->status == APP_DONE)
    sv->done++;
  else {
    sv->failed++;
    fprintf(stderr, "microtcp-tap: %s failed: %s\n",
            a->kind == APP_DISCARD ? "discard" : app_kind_name(a->kind), a->reason);
  }
  sv->bytes_in += a->received;
  sv->verify_errors += a->verified_errors;
}

static enum app_status poll_discard(struct app *a, microtcp_stack *st, uint64_t now) {
  static uint8_t buf[65536];
  for (;;) {
    int r = microtcp_tcp_recv(st, now, a->handle, buf, sizeof buf);
    if (r > 0) {
      a->received += (uint64_t)r;
      continue;
    }
    if (r == MICROTCP_EAGAIN) return APP_RUNNING;
    if (r == 0) {
      a->status = APP_DONE;
    } else {
      a->status = APP_FAILED;
      snprintf(a->reason, sizeof a->reason, "recv: %s", microtcp_strerror(r));
    }
    microtcp_tcp_close(st, now, a->handle);
    a->closed = true;
    return a->status;
  }
}

static void serve(struct server *sv, microtcp_stack *st, uint64_t now) {
  while (sv->listener >= 0) {
    int c = microtcp_tcp_accept(st, now, sv->listener, NULL);
    if (c < 0) break;
    struct app *a = calloc(1, sizeof *a);
    if (!a) abort();
    struct app_params p = {0};
    if (sv->kind == APP_DISCARD) {
      a->kind = APP_DISCARD;
      a->status = APP_RUNNING;
      a->handle = c;
    } else {
      app_start_server(a, sv->kind, &p, c, st, now);
    }
    add_app(sv, a);
  }
  size_t w = 0;
  for (size_t i = 0; i < sv->n; i++) {
    struct app *a = sv->apps[i];
    enum app_status s = a->kind == APP_DISCARD ? poll_discard(a, st, now) : app_poll(a, st, now);
    if (s == APP_RUNNING) {
      sv->apps[w++] = a;
    } else {
      tally(sv, a);
      free(a);
    }
  }
  sv->n = w;
}

/* ---- the bridge: device <-> impairments <-> stack, with an optional pcap -------- */
struct bridge {
  microtcp_stack *st;
  int fd;
  uint64_t now;
  uint64_t wall_minus_mono_us; /* --pcap stamps: the loop's `now` on the wall clock */
  pcap_dumper_t *dump;
  uint64_t write_errors;
  struct gso *gso;              /* --gso: joins runs of segments; plain: thins ACKs only */
  uint64_t malformed;           /* --gso: frames from Linux with a bad virtio_net_hdr */
  uint64_t split_in, split_out; /* --gso: TSO super-frames from Linux, segments cut */
};

/* --pcap: every frame is stamped with the loop's `now` (on the wall clock),
 * the time the stack saw it or sent it: the frames one turn reads in go in
 * together, with one timestamp, which is what microtcp-replay's `clock = tap`
 * model takes as one batch. (Stamped with gettimeofday at each read, a
 * batch's frames got distinct times, and a bulk capture no longer replayed
 * frame by frame: its window updates depend on how many frames each turn
 * took before the app read.) The wall clock's offset is a whole number of
 * milliseconds, so a stamp has the stack clock's phase within its
 * millisecond: the replay's TCP timestamps (ms ticks) then match. */
static void record(struct bridge *b, const uint8_t *f, size_t len) {
  if (!b->dump) return;
  uint64_t t = b->now + b->wall_minus_mono_us;
  struct pcap_pkthdr h;
  memset(&h, 0, sizeof h);
  h.ts.tv_sec = (time_t)(t / 1000000u);
  h.ts.tv_usec = (suseconds_t)(t % 1000000u);
  h.caplen = h.len = (bpf_u_int32)len;
  pcap_dump((u_char *)b->dump, &h, f);
}

static void to_stack(void *ctx, const uint8_t *f, size_t len) {
  struct bridge *b = ctx;
  record(b, f, len);
  microtcp_input(b->st, b->now, f, len);
}

static int write_dev(void *ctx, const uint8_t *buf, size_t len) {
  struct bridge *b = ctx;
  /* A full device queue drops the frame, as a congested wire would. */
  if (write(b->fd, buf, len) >= 0) return 0;
  b->write_errors++;
  return -1;
}

static void to_linux(void *ctx, const uint8_t *f, size_t len) {
  struct bridge *b = ctx;
  gso_add(b->gso, f, len, write_dev, b); /* written by gso_flush at the latest */
}

/* A frame from Linux (after gso_split): impairments, then the stack. */
struct inbound {
  struct impair *im;
  struct bridge *br;
};
static void from_linux(void *ctx, const uint8_t *f, size_t len) {
  struct inbound *in = ctx;
  impair_pass(in->im, f, len, in->br->now, to_stack, in->br);
}

static void flush_linux(struct bridge *b) {
  gso_flush(b->gso, write_dev, b);
}

static int parse_u64(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (end == s || *end || errno || *s == '-') return -1;
  *out = v;
  return 0;
}

static void configure_stack(microtcp_config *cfg, const uint8_t mac[6], uint32_t ip,
                            unsigned prefix, uint32_t gw, uint64_t seed, uint16_t max_conns,
                            uint32_t buffer) {
  microtcp_config_default(cfg);
  memcpy(cfg->mac, mac, 6);
  cfg->ip = ip;
  cfg->netmask = prefix ? 0xffffffffu << (32 - prefix) : 0;
  cfg->gateway = gw;
  tap_config_stack(cfg, max_conns, buffer, seed); /* shared with microtcp-replay */
}

/* The device counts as usable once the kernel reports it up and running
 * (carrier on): only then is the "up" line printed, so the next command of a
 * script can use it. Waits at most timeout_ms. */
static int wait_running(const char *name, int timeout_ms) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  struct ifreq ifr;
  int ok = 0;
  for (int waited = 0; !ok && waited <= timeout_ms; waited += 5) {
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0 &&
        (ifr.ifr_flags & (IFF_UP | IFF_RUNNING)) == (IFF_UP | IFF_RUNNING))
      ok = 1;
    else
      usleep(5000);
  }
  close(s);
  return ok ? 0 : -1;
}

/* The name under /run/netns of the network namespace we run in (as `ip netns
 * exec NAME` starts us), or "" when it has none. Found by inode. */
static void netns_name(char *name, size_t cap, struct stat *self) {
  name[0] = 0;
  if (stat("/proc/self/ns/net", self) != 0) return;
  DIR *d = opendir("/run/netns");
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    char path[300];
    struct stat st;
    snprintf(path, sizeof path, "/run/netns/%s", de->d_name);
    if (de->d_name[0] != '.' && stat(path, &st) == 0 && st.st_ino == self->st_ino &&
        st.st_dev == self->st_dev) {
      snprintf(name, cap, "%s", de->d_name);
      break;
    }
  }
  closedir(d);
}

/* `ip netns del NAME` only unmounts the name: the namespace lives on while
 * we do, with nothing able to reach us. So: gone from /run/netns = stop. */
static int netns_deleted(const char *name, const struct stat *self) {
  char path[300];
  struct stat st;
  snprintf(path, sizeof path, "/run/netns/%s", name);
  return stat(path, &st) != 0 || st.st_ino != self->st_ino || st.st_dev != self->st_dev;
}

/* ---- the command line ------------------------------------------------------------ */
struct options {
  const char *ifname, *app, *pcap_path, *host_cidr;
  uint32_t ip, host_ip, gw, connect_ip;
  unsigned prefix, host_prefix;
  uint8_t mac[6];
  uint16_t port, connect_port;
  uint64_t source_bytes, seed, duration_ms, max_conns, buffer, pool;
  bool have_seed, use_gso, print_counters, impair_swap;
  struct tcp_knob {
    const char *key;
    uint64_t value;
  } knobs[12]; /* --tcp KEY=N, applied to the config in order */
  unsigned nknobs;
  int gso_choice; /* -1 auto (the default), 0 --no-gso, 1 --gso */
  int cc;         /* -1: the core's default; else MICROTCP_CC_* (--cc) */
  struct impair_params impair;
  enum app_kind kind; /* 0: --app none */
};

static void options_default(struct options *o) {
  static const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0x02};
  memset(o, 0, sizeof *o);
  o->ifname = "microtcp0";
  o->app = "echo";
  o->prefix = o->host_prefix = 24;
  memcpy(o->mac, mac, sizeof mac);
  o->port = 7;
  o->source_bytes = 1000000;
  o->seed = 1;
  o->max_conns = 32;
  o->buffer = 128 * 1024;
  o->gso_choice = -1;
  o->cc = -1;
}

/* One handler per option that takes a value: 0, or usage()'s exit code. */
static int opt_ifname(struct options *o, const char *v) {
  o->ifname = v;
  return 0;
}
static int opt_ip(struct options *o, const char *v) {
  return tap_parse_ipv4(v, &o->ip, &o->prefix, 24) < 0 ? usage("--ip expects A.B.C.D/N", v) : 0;
}
static int opt_host_ip(struct options *o, const char *v) {
  if (tap_parse_ipv4(v, &o->host_ip, &o->host_prefix, 24) < 0)
    return usage("--host-ip expects A.B.C.D/N", v);
  o->host_cidr = v;
  return 0;
}
static int opt_gateway(struct options *o, const char *v) {
  return tap_parse_ipv4(v, &o->gw, NULL, 32) < 0 ? usage("--gateway expects A.B.C.D", v) : 0;
}
static int opt_mac(struct options *o, const char *v) {
  return tap_parse_mac(v, o->mac) < 0 ? usage("--mac expects xx:xx:xx:xx:xx:xx", v) : 0;
}
static int opt_app(struct options *o, const char *v) {
  o->app = v;
  return 0;
}
static int opt_port(struct options *o, const char *v) {
  uint64_t n;
  if (parse_u64(v, &n) < 0 || n < 1 || n > 65535) return usage("--port expects 1..65535", v);
  o->port = (uint16_t)n;
  return 0;
}
static int opt_pcap(struct options *o, const char *v) {
  o->pcap_path = v;
  return 0;
}
static int opt_loss(struct options *o, const char *v) {
  return impair_parse_rate(v, &o->impair.loss_ppm) < 0
             ? usage("--loss expects 5, 5% or 50000ppm", v)
             : 0;
}
static int opt_duplicate(struct options *o, const char *v) {
  return impair_parse_rate(v, &o->impair.dup_ppm) < 0
             ? usage("--duplicate expects 5, 5% or 50000ppm", v)
             : 0;
}
static int opt_reorder(struct options *o, const char *v) {
  return impair_parse_rate(v, &o->impair.reorder_ppm) < 0
             ? usage("--reorder expects 5, 5% or 50000ppm", v)
             : 0;
}
static int opt_delay(struct options *o, const char *v) {
  char *end;
  double ms = strtod(v, &end);
  if (end == v || *end || ms < 0 || ms > 10000)
    return usage("--delay expects milliseconds 0..10000", v);
  o->impair.delay_us = (uint32_t)(ms * 1000.0);
  return 0;
}
static int opt_seed(struct options *o, const char *v) {
  if (parse_u64(v, &o->seed) < 0) return usage("--seed expects an unsigned integer", v);
  o->have_seed = true;
  return 0;
}
static int opt_duration(struct options *o, const char *v) {
  char *end;
  double s = strtod(v, &end);
  if (end == v || *end || s <= 0) return usage("--duration expects seconds > 0", v);
  o->duration_ms = (uint64_t)(s * 1000.0);
  return 0;
}
static int opt_connect(struct options *o, const char *v) {
  unsigned x1, x2, x3, x4, pt;
  char tail;
  if (sscanf(v, "%3u.%3u.%3u.%3u:%5u%c", &x1, &x2, &x3, &x4, &pt, &tail) != 5 || x1 > 255 ||
      x2 > 255 || x3 > 255 || x4 > 255 || pt == 0 || pt > 65535)
    return usage("--connect expects A.B.C.D:PORT", v);
  o->connect_ip = x1 << 24 | x2 << 16 | x3 << 8 | x4;
  o->connect_port = (uint16_t)pt;
  return 0;
}
static int opt_max_conns(struct options *o, const char *v) {
  if (parse_u64(v, &o->max_conns) < 0 || o->max_conns < 1 || o->max_conns > 16384)
    return usage("--max-conns expects 1..16384", v);
  return 0;
}
static int opt_buffer(struct options *o, const char *v) {
  if (parse_u64(v, &o->buffer) < 0 || o->buffer < 2048 || o->buffer > (64u << 20))
    return usage("--buffer expects 2048..67108864 bytes", v);
  return 0;
}
static int opt_pool(struct options *o, const char *v) {
  if (parse_u64(v, &o->pool) < 0 || o->pool > (64ull << 30))
    return usage("--pool expects 0..68719476736 bytes", v);
  return 0;
}
static int opt_cc(struct options *o, const char *v) {
  if (!strcmp(v, "newreno")) o->cc = MICROTCP_CC_NEWRENO;
  else if (!strcmp(v, "cubic")) o->cc = MICROTCP_CC_CUBIC;
  else return usage("--cc expects newreno or cubic", v);
  return 0;
}
/* --tcp KEY=N: a stack config knob for experiments (tools/bench-recovery-linux.sh
 * tests one hypothesis at a time with it). Keys: see TCP_KNOBS. */
static const struct {
  const char *key;
  uint64_t max;
} TCP_KNOBS[] = {{"rack", 1},          {"dsack_undo", 1},    {"hystart", 1},
                 {"prr", 1},           {"abc_limit", 255},   {"initial_cwnd", 64},
                 {"rto_min_ms", 60000}, {"delack_ms", 500},   {"rto_min_plus_srtt", 1}};
static int opt_tcp(struct options *o, const char *v) {
  const char *eq = strchr(v, '=');
  uint64_t n;
  if (!eq || parse_u64(eq + 1, &n) < 0) return usage("--tcp expects KEY=N", v);
  for (size_t i = 0; i < sizeof TCP_KNOBS / sizeof TCP_KNOBS[0]; i++) {
    if (strlen(TCP_KNOBS[i].key) != (size_t)(eq - v) || strncmp(v, TCP_KNOBS[i].key, (size_t)(eq - v)))
      continue;
    if (n > TCP_KNOBS[i].max) return usage("--tcp value out of range", v);
    if (o->nknobs == sizeof o->knobs / sizeof o->knobs[0]) return usage("too many --tcp", v);
    o->knobs[o->nknobs].key = TCP_KNOBS[i].key;
    o->knobs[o->nknobs++].value = n;
    return 0;
  }
  return usage("--tcp: unknown key (rack, dsack_undo, hystart, prr, abc_limit, initial_cwnd, "
               "rto_min_ms, delack_ms, rto_min_plus_srtt)", v);
}
static void apply_knobs(microtcp_config *cfg, const struct options *o) {
  for (unsigned i = 0; i < o->nknobs; i++) {
    const char *k = o->knobs[i].key;
    uint64_t n = o->knobs[i].value;
    if (!strcmp(k, "rack")) cfg->tcp_rack = n != 0;
    else if (!strcmp(k, "dsack_undo")) cfg->tcp_dsack_undo = n != 0;
    else if (!strcmp(k, "hystart")) cfg->tcp_hystart = n != 0;
    else if (!strcmp(k, "prr")) cfg->tcp_prr = n != 0;
    else if (!strcmp(k, "abc_limit")) cfg->tcp_abc_limit = (uint8_t)n;
    else if (!strcmp(k, "initial_cwnd")) cfg->tcp_initial_cwnd = (uint8_t)n;
    else if (!strcmp(k, "rto_min_ms")) {
      cfg->tcp_rto_min_us = (uint32_t)(n * 1000);
      if (cfg->tcp_rto_initial_us < cfg->tcp_rto_min_us) cfg->tcp_rto_initial_us = cfg->tcp_rto_min_us;
    } else if (!strcmp(k, "delack_ms")) cfg->tcp_delack_us = (uint32_t)(n * 1000);
    else if (!strcmp(k, "rto_min_plus_srtt")) cfg->tcp_rto_min_plus_srtt = n != 0;
  }
}
static int opt_bytes(struct options *o, const char *v) {
  return parse_u64(v, &o->source_bytes) < 0 ? usage("--bytes expects an unsigned integer", v) : 0;
}

static const struct value_option {
  const char *name;
  int (*set)(struct options *o, const char *v);
} VALUE_OPTIONS[] = {
    {"--ifname", opt_ifname},   {"--ip", opt_ip},
    {"--host-ip", opt_host_ip}, {"--gateway", opt_gateway},
    {"--mac", opt_mac},         {"--app", opt_app},
    {"--port", opt_port},       {"--pcap", opt_pcap},
    {"--loss", opt_loss},       {"--duplicate", opt_duplicate},
    {"--reorder", opt_reorder}, {"--delay", opt_delay},
    {"--seed", opt_seed},       {"--duration", opt_duration},
    {"--connect", opt_connect}, {"--max-conns", opt_max_conns},
    {"--buffer", opt_buffer},   {"--bytes", opt_bytes},     {"--pool", opt_pool},
    {"--cc", opt_cc},           {"--tcp", opt_tcp},
};

static const struct value_option *find_value_option(const char *a) {
  for (size_t i = 0; i < sizeof VALUE_OPTIONS / sizeof VALUE_OPTIONS[0]; i++)
    if (!strcmp(a, VALUE_OPTIONS[i].name)) return &VALUE_OPTIONS[i];
  return NULL;
}

/* Options without a value: 1 if `a` is one (handled), else 0. --help and
 * --version print and set *exit_code to 0. */
static int flag_option(struct options *o, const char *a, int *exit_code) {
  if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
    fputs(USAGE, stdout);
    *exit_code = 0;
  } else if (!strcmp(a, "--version")) {
    printf("microtcp-tap %s\n", MICROTCP_VERSION_STRING);
    *exit_code = 0;
  } else if (!strcmp(a, "--gso")) {
    o->gso_choice = 1;
  } else if (!strcmp(a, "--no-gso")) {
    o->gso_choice = 0;
  } else if (!strcmp(a, "--counters")) {
    o->print_counters = true;
  } else if (!strcmp(a, "--impair-swap")) {
    o->impair_swap = true;
  } else {
    return 0;
  }
  return 1;
}

/* The app named by --app and the options that go with it: 0 or usage()'s code. */
static int choose_app(struct options *o) {
  static const struct {
    const char *name;
    enum app_kind kind;
  } apps[] = {{"echo", APP_ECHO_SERVER},     {"sink", APP_SINK},     {"discard", APP_DISCARD},
              {"http", APP_HTTP_SERVER},     {"udp-echo", APP_UDP_ECHO_SERVER},
              {"source", APP_SOURCE},        {"none", (enum app_kind)0}};
  size_t i = 0, n = sizeof apps / sizeof apps[0];
  while (i < n && strcmp(o->app, apps[i].name) != 0)
    i++;
  if (i == n) return usage("--app expects echo, sink, discard, http, udp-echo, source or none", o->app);
  o->kind = apps[i].kind;
  if (o->kind == APP_SOURCE && !o->connect_ip)
    return usage("--app source needs --connect A.B.C.D:PORT", NULL);
  if (o->kind != APP_SOURCE && o->connect_ip)
    return usage("--connect is only for --app source", NULL);
  return 0;
}

/* -1 to go on with the options in *o, else the exit code (help, version, misuse). */
static int parse_args(int argc, char **argv, struct options *o) {
  options_default(o);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int code = -1;
    if (flag_option(o, a, &code)) {
      if (code >= 0) return code;
      continue;
    }
    if (strncmp(a, "--", 2) != 0) return usage("unexpected argument", a);
    const struct value_option *opt = find_value_option(a);
    if (!opt) return usage("unknown option", a); /* even as the last argument */
    if (i + 1 >= argc) return usage("option needs a value", a);
    int r = opt->set(o, argv[++i]);
    if (r) return r;
  }
  if (!o->ip) return usage("--ip is required", NULL);
  int r = choose_app(o);
  return r ? r : -1;
}

/* ---- setting up: signals, device, stack, app, pcap, impairments ------------------- */
/* Handlers first: a signal that arrives while the device and the stack are
 * being set up still ends in a clean stop (with the summary line). No
 * SA_RESTART: poll() returns EINTR and the loop sees `stop` at once. */
static void install_signal_handlers(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

static int fail(const char *fmt, const char *a, const char *b) {
  fputs("microtcp-tap: ", stderr);
  fprintf(stderr, fmt, a, b);
  fputc('\n', stderr);
  return 1;
}

/* Everything one run holds, from setup to shutdown. */
struct run {
  struct options o;
  char name[16]; /* the device's name */
  int fd;        /* the device */
  void *arena;
  microtcp_stack *st;
  struct server sv;
  struct app *client; /* --app source */
  struct bridge br;
  pcap_t *pd;
  struct impair in, out;
  struct inbound inb;
  int rc, client_reported;
  microtcp_tcp_stats client_stats; /* --app source: the connection's last stats */
  bool have_client_stats;
  char ns[256]; /* the network namespace's name, "" if none */
  struct stat ns_self;
};

static struct gso gso_state;                                     /* 64 KiB: not on the stack */
static uint8_t frame_buf[GSO_VNET_HDR_LEN + 14 + GSO_MAX_BYTES]; /* a super-frame with --gso */

static int open_device(struct run *r) {
  char err[256];
  /* The fast path by default, where the kernel has it; --gso insists. */
  r->o.use_gso = r->o.gso_choice == 1 || (r->o.gso_choice < 0 && tap_supports_vnet_hdr());
  r->fd = tap_open(r->o.ifname, r->o.use_gso, r->name, err, sizeof err);
  if (r->fd < 0) return fail("%s%s", err, "");
  if (r->o.use_gso && gso_enable_offloads(r->fd) < 0)
    return fail("cannot enable TAP offloads (TUNSETOFFLOAD): %s%s", strerror(errno), "");
  return 0;
}

static int create_stack(struct run *r) {
  const struct options *o = &r->o;
  microtcp_config cfg;
  configure_stack(&cfg, o->mac, o->ip, o->prefix, o->gw, o->seed, (uint16_t)o->max_conns,
                  (uint32_t)o->buffer);
  if (o->pool) { /* bytes -> chunks of the size the core derives (2048 for buffers >= 16 KiB) */
    uint32_t cs = cfg.tcp_buf_chunk_size ? cfg.tcp_buf_chunk_size : 2048;
    cfg.tcp_buf_chunk_size = cs;
    uint64_t n = (o->pool + cs - 1) / cs;
    cfg.tcp_buf_chunks = n > 0xfffffffeu ? 0xfffffffeu : (uint32_t)n;
  }
  if (o->cc >= 0) cfg.tcp_cc = (uint8_t)o->cc;
  apply_knobs(&cfg, o);
  /* Without --seed the secret is unpredictable (ISNs, IP IDs, ports). */
  if (tap_config_choose_secret(cfg.secret, o->have_seed, o->seed) < 0)
    return fail("getrandom: %s%s", strerror(errno), "");
  size_t need = microtcp_footprint(&cfg);
  r->arena = need ? aligned_alloc(16, (need + 15) & ~(size_t)15) : NULL;
  int ierr = MICROTCP_EINVAL;
  r->st = r->arena ? microtcp_init(r->arena, need, &cfg, mono_us(), &ierr) : NULL;
  if (!r->st) return fail("stack init failed: %s%s", microtcp_strerror(ierr), "");
  return 0;
}

static struct app *new_app(void) {
  struct app *a = calloc(1, sizeof *a);
  if (!a) abort();
  return a;
}

static int start_udp_echo(struct run *r, uint64_t now) {
  int h = microtcp_udp_bind(r->st, now, r->o.port);
  if (h < 0) {
    fprintf(stderr, "microtcp-tap: udp bind %u: %s\n", r->o.port, microtcp_strerror(h));
    return 1;
  }
  struct app *a = new_app();
  struct app_params p = {0};
  app_start_server(a, r->o.kind, &p, h, r->st, now);
  add_app(&r->sv, a);
  return 0;
}

static int start_source(struct run *r, uint64_t now) {
  struct app_params p = {0};
  r->client = new_app();
  p.bytes = r->o.source_bytes;
  p.remote_ip = r->o.connect_ip;
  p.remote_port = r->o.connect_port;
  if (app_start_client(r->client, APP_SOURCE, &p, r->st, now) < 0)
    return fail("source: %s%s", r->client->reason, "");
  return 0;
}

static int start_listener(struct run *r, uint64_t now) {
  r->sv.listener = microtcp_tcp_listen(r->st, now, r->o.port, 1024);
  if (r->sv.listener < 0) {
    fprintf(stderr, "microtcp-tap: listen %u: %s\n", r->o.port, microtcp_strerror(r->sv.listener));
    return 1;
  }
  return 0;
}

static int start_app(struct run *r) {
  uint64_t now = mono_us();
  r->sv.kind = r->o.kind;
  r->sv.listener = -1;
  if (r->o.kind == APP_UDP_ECHO_SERVER) return start_udp_echo(r, now);
  if (r->o.kind == APP_SOURCE) return start_source(r, now);
  if (r->o.kind) return start_listener(r, now);
  return 0;
}

/* The bridge: pcap, --gso, the impairments of both directions. */
static int start_bridge(struct run *r) {
  r->br.st = r->st;
  r->br.fd = r->fd;
  r->br.now = mono_us();
  struct timeval tv;
  gettimeofday(&tv, NULL);
  uint64_t wall = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
  r->br.wall_minus_mono_us = wall > r->br.now ? (wall - r->br.now) / 1000u * 1000u : 0;
  if (r->o.use_gso)
    gso_init(&gso_state);
  else
    gso_init_plain(&gso_state);
  r->br.gso = &gso_state;
  if (r->o.pcap_path) {
    r->pd = pcap_open_dead(DLT_EN10MB, 65535);
    r->br.dump = r->pd ? pcap_dump_open(r->pd, r->o.pcap_path) : NULL;
    if (!r->br.dump)
      return fail("cannot write %s: %s", r->o.pcap_path, r->pd ? pcap_geterr(r->pd) : "pcap");
  }
  /* --impair-swap: each direction gets the other's stream, so a transfer
   * from the stack draws the decisions a transfer from Linux draws. */
  uint64_t in_seed = r->o.seed * 2 + (r->o.impair_swap ? 1 : 0);
  uint64_t out_seed = r->o.seed * 2 + (r->o.impair_swap ? 0 : 1);
  if (impair_init(&r->in, &r->o.impair, in_seed) < 0 ||
      impair_init(&r->out, &r->o.impair, out_seed) < 0)
    return fail("out of memory%s%s", "", "");
  r->inb.im = &r->in;
  r->inb.br = &r->br;
  return 0;
}

/* Last: once Linux's side has its address, the stack is ready to answer
 * (the live tests wait for the address). */
static int bring_up(struct run *r) {
  const struct options *o = &r->o;
  char err[256];
  if (o->host_cidr && tap_configure(r->name, o->host_ip, o->host_prefix, NULL, err, sizeof err) < 0)
    return fail("%s%s", err, "");
  if (o->host_cidr && wait_running(r->name, 2000) < 0)
    return fail("%s did not come up and running within 2 s%s", r->name, "");
  fprintf(stderr, "microtcp-tap: %s up, stack %u.%u.%u.%u/%u, app %s port %u\n", r->name,
          o->ip >> 24, o->ip >> 16 & 255, o->ip >> 8 & 255, o->ip & 255, o->prefix, o->app,
          o->port);
  return 0;
}

static int setup(struct run *r) {
  int rc;
  if ((rc = open_device(r)) || (rc = create_stack(r)) || (rc = start_app(r)) ||
      (rc = start_bridge(r)) || (rc = bring_up(r)))
    return rc;
  netns_name(r->ns, sizeof r->ns, &r->ns_self);
  return 0;
}

/* ---- the event loop --------------------------------------------------------------- */
/* A frame read from the device: impairments then the stack, or with --gso
 * first cut into MTU-sized complete frames. The number of segments it made. */
static int take_frame(struct run *r, size_t n) {
  if (!r->o.use_gso) {
    impair_pass(&r->in, frame_buf, n, r->br.now, to_stack, &r->br);
    return 1;
  }
  /* Offloads are on: the frame may be a TCP super-frame or carry a partial
   * checksum; the stack gets MTU-sized, complete frames. */
  int segs = gso_split(frame_buf, n, from_linux, &r->inb);
  if (segs < 0) {
    r->br.malformed++;
    return 0;
  }
  if (segs > 1) {
    r->br.split_in++;
    r->br.split_out += (uint64_t)segs;
  }
  return segs;
}

/* Frames from Linux, bounded per turn so timers and output keep up. */
static void read_from_linux(struct run *r) {
  const size_t vnet = r->o.use_gso ? GSO_VNET_HDR_LEN : 0; /* header before each frame read */
  for (int k = 0, segs = 0; k < 256 && segs < 512; k++) {
    ssize_t n = read(r->fd, frame_buf, r->o.use_gso ? sizeof frame_buf : 2048);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      /* `ip link del` (EBADFD) and the like: nothing will ever arrive again,
       * and poll() would report the fd ready forever. */
      fprintf(stderr, "microtcp-tap: %s disappeared (%s): stopping\n", r->name, strerror(errno));
      r->rc = 1;
      stop = 1;
      return;
    }
    if (n <= (ssize_t)vnet) return;
    segs += take_frame(r, (size_t)n);
  }
}

static void check_netns(struct run *r, uint64_t now, uint64_t *next_check) {
  if (!r->ns[0] || now < *next_check) return;
  *next_check = now + 1000000;
  if (netns_deleted(r->ns, &r->ns_self)) {
    fprintf(stderr, "microtcp-tap: network namespace %s was deleted: stopping\n", r->ns);
    stop = 1;
  }
}

/* The source app finished (either way): report it and stop after sending
 * the last frames (the FIN). */
static void poll_client(struct run *r, uint64_t now) {
  struct app *c = r->client;
  /* The connection's stats while it is open (the app closes it when done):
   * the recovery figures of tools/bench-recovery-linux.sh. */
  if (c && c->connected && !c->closed && microtcp_tcp_get_stats(r->st, c->handle, &r->client_stats) == 0)
    r->have_client_stats = true;
  if (!c || app_poll(c, r->st, now) == APP_RUNNING) return;
  fprintf(stderr,
          "microtcp-tap: source %s: %llu bytes sent in %.3f s, %u retransmits, srtt %u us%s%s\n",
          c->status == APP_DONE ? "done" : "failed", (unsigned long long)c->sent,
          (double)(c->finished_at - c->started_at) / 1e6, c->retransmits, c->srtt_us,
          c->reason[0] ? ", " : "", c->reason);
  if (r->have_client_stats) {
    const microtcp_tcp_stats *s = &r->client_stats;
    fprintf(stderr,
            "microtcp-tap: source stats: segs_out=%u retransmits=%u fast_recoveries=%u "
            "rto_timeouts=%u dup_acks=%u recovery_ms=%llu cwnd=%u ssthresh=%u srtt_us=%u "
            "rto_us=%u mss=%u\n",
            s->segs_out, s->retransmits, s->fast_retransmits, s->rto_timeouts, s->dup_acks,
            (unsigned long long)(s->recovery_us / 1000), s->cwnd, s->ssthresh, s->srtt_us,
            s->rto_us, s->mss);
  }
  r->rc = c->status == APP_DONE ? 0 : 1;
  if (c->status == APP_DONE)
    r->sv.done++; /* in the summary's counts (reported above) */
  else
    r->sv.failed++;
  r->client_reported = 1;
  stop = 1;
}

static void write_to_linux(struct run *r, uint64_t now) {
  int n;
  while ((n = microtcp_output(r->st, now, frame_buf, sizeof frame_buf)) > 0) {
    record(&r->br, frame_buf, (size_t)n);
    impair_pass(&r->out, frame_buf, (size_t)n, now, to_linux, &r->br);
  }
  impair_release(&r->out, now, to_linux, &r->br);
  flush_linux(&r->br);
}

/* Sleep until a frame, the stack's deadline or a held frame is due. */
static void sleep_until_due(struct run *r) {
  uint64_t wake = microtcp_deadline(r->st);
  if (impair_next(&r->in) < wake) wake = impair_next(&r->in);
  if (impair_next(&r->out) < wake) wake = impair_next(&r->out);
  uint64_t now = mono_us();
  int timeout = 100; /* cap: --duration and signals are checked at least this often */
  if (wake <= now)
    timeout = 0;
  else if (wake - now < 100000)
    timeout = (int)((wake - now + 999) / 1000);
  struct pollfd pfd = {r->fd, POLLIN, 0};
  poll(&pfd, 1, timeout);
}

static void run_loop(struct run *r) {
  uint64_t t0 = mono_us(), ns_check = t0 + 1000000;
  while (!stop) {
    uint64_t now = mono_us();
    r->br.now = now;
    if (r->o.duration_ms && now - t0 >= r->o.duration_ms * 1000u) break;
    read_from_linux(r);
    check_netns(r, now, &ns_check);
    impair_release(&r->in, now, to_stack, &r->br);
    microtcp_advance(r->st, now);
    serve(&r->sv, r->st, now);
    poll_client(r, now);
    write_to_linux(r, now);
    if (stop) break;
    sleep_until_due(r);
  }
}

/* ---- shutdown: the apps, the summary, the counters --------------------------------- */
/* A source stopped (signal, --duration) before it finished has not done
 * its job: that is a failure (an unreachable peer used to exit 0). */
static void fail_unfinished_client(struct run *r) {
  struct app *c = r->client;
  if (!c || r->client_reported) return;
  if (c->connected)
    snprintf(c->reason, sizeof c->reason, "stopped before it finished (%llu of %llu bytes queued)",
             (unsigned long long)c->sent, (unsigned long long)r->o.source_bytes);
  else
    snprintf(c->reason, sizeof c->reason, "stopped before it connected (peer unreachable?)");
  c->status = APP_FAILED;
  tally(&r->sv, c);
  r->rc = 1;
}

/* Close what is still open so Linux sees FIN/RST rather than silence. */
static void close_apps(struct run *r) {
  uint64_t now = mono_us();
  r->br.now = now;
  for (size_t i = 0; i < r->sv.n; i++) {
    if (r->sv.apps[i]->status == APP_RUNNING) app_close(r->sv.apps[i], r->st, now);
    free(r->sv.apps[i]);
  }
  int n;
  while ((n = microtcp_output(r->st, now, frame_buf, sizeof frame_buf)) > 0) {
    record(&r->br, frame_buf, (size_t)n);
    to_linux(&r->br, frame_buf, (size_t)n);
  }
  flush_linux(&r->br);
  if (r->br.dump) pcap_dump_close(r->br.dump);
  if (r->pd) pcap_close(r->pd);
}

static void print_summary(const struct run *r) {
  const microtcp_counters *c = microtcp_get_counters(r->st);
  const struct bridge *b = &r->br;
  char gso_note[192] = "";
  if (r->o.use_gso)
    snprintf(gso_note, sizeof gso_note,
             "; gso: %llu frames to Linux in %llu writes, %llu super-frames from Linux cut into "
             "%llu, %llu malformed, %llu ACKs thinned",
             (unsigned long long)gso_state.frames, (unsigned long long)gso_state.writes,
             (unsigned long long)b->split_in, (unsigned long long)b->split_out,
             (unsigned long long)b->malformed, (unsigned long long)gso_state.thinned);
  else
    snprintf(gso_note, sizeof gso_note, "; plain: %llu frames to Linux in %llu writes, %llu ACKs thinned",
             (unsigned long long)gso_state.frames, (unsigned long long)gso_state.writes,
             (unsigned long long)gso_state.thinned);
  fprintf(stderr,
          "microtcp-tap: stopped: %llu frames in, %llu out; apps %llu done, %llu failed, "
          "%llu bytes received, %llu verification errors; bridge %llu dropped, %llu duplicated, "
          "%llu reordered, %llu overflow, %llu write errors%s\n",
          (unsigned long long)c->frames_in, (unsigned long long)c->frames_out,
          (unsigned long long)r->sv.done, (unsigned long long)r->sv.failed,
          (unsigned long long)r->sv.bytes_in, (unsigned long long)r->sv.verify_errors,
          (unsigned long long)(r->in.dropped + r->out.dropped),
          (unsigned long long)(r->in.duplicated + r->out.duplicated),
          (unsigned long long)(r->in.reordered + r->out.reordered),
          (unsigned long long)(r->in.overflow + r->out.overflow),
          (unsigned long long)b->write_errors, gso_note);
}

/* Drops by reason and the pools still held: the hostile-traffic tests check
 * that malformed input was counted and memory stayed bounded. */
static void print_counters(const struct run *r) {
  const uint64_t *v = (const uint64_t *)microtcp_get_counters(r->st);
  microtcp_pool_usage u;
  microtcp_get_pool_usage(r->st, &u);
  fprintf(stderr, "microtcp-tap: counters:");
  for (size_t i = 0; microtcp_counter_name(i); i++)
    if (v[i]) fprintf(stderr, " %s=%llu", microtcp_counter_name(i), (unsigned long long)v[i]);
  fprintf(stderr,
          "; pools in use: tcp=%u frames=%u arp_entries=%u arp_pending=%u reasm_slots=%u "
          "reasm_bytes=%u\n",
          u.tcp, u.frames, u.arp_entries, u.arp_pending, u.reasm_slots, u.reasm_bytes);
}

static void release(struct run *r) {
  impair_free(&r->in);
  impair_free(&r->out);
  free(r->sv.apps);
  free(r->client);
  close(r->fd);
  free(r->arena);
}

static int shut_down(struct run *r) {
  fail_unfinished_client(r);
  close_apps(r);
  print_summary(r);
  if (r->o.print_counters) print_counters(r);
  release(r);
  return r->rc;
}

int main(int argc, char **argv) {
  static struct run r; /* zeroed; large (the namespace name, impairments) */
  int code = parse_args(argc, argv, &r.o);
  if (code >= 0) return code;
  install_signal_handlers();
  if ((code = setup(&r)) != 0) return code;
  run_loop(&r);
  return shut_down(&r);
}
