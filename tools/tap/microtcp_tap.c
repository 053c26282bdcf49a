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
#include <errno.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <net/if.h>
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
    "  --app NAME           echo | sink | http | udp-echo | source | none (default echo)\n"
    "  --port N             server port (default 7)\n"
    "  --connect A.B.C.D:P  source: the server to send to;  --bytes N  how much (1000000)\n"
    "  --pcap FILE          write every frame the stack receives and sends\n"
    "  --gso                open the device with IFF_VNET_HDR and hand Linux runs of\n"
    "                       consecutive TCP segments as one 64 KiB GSO frame (fewer\n"
    "                       writes and receive-path passes; the segments are unchanged)\n"
    "  --loss R  --duplicate R  --reorder R   rates per frame and direction:\n"
    "                       5 or 5% (percent) or 50000ppm\n"
    "  --delay MS           delay every frame by MS milliseconds (both directions)\n"
    "  --seed N             deterministic run: seeds the impairments and the stack's secret\n"
    "                       (default: secret from getrandom(), impairments seed 1)\n"
    "  --max-conns N        TCP connection blocks (default 32, as microtcp-replay)\n"
    "  --buffer BYTES       send and receive buffer per connection (default 131072);\n"
    "                       the stack allocates max-conns x 2 x buffer up front\n"
    "                       (8 MiB by default; 1000 connections: --max-conns 1000)\n"
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
  if (a->status == APP_DONE) sv->done++;
  else {
    sv->failed++;
    fprintf(stderr, "microtcp-tap: %s failed: %s\n", app_kind_name(a->kind), a->reason);
  }
  sv->bytes_in += a->received;
  sv->verify_errors += a->verified_errors;
}

static void serve(struct server *sv, microtcp_stack *st, uint64_t now) {
  while (sv->listener >= 0) {
    int c = microtcp_tcp_accept(st, now, sv->listener, NULL);
    if (c < 0) break;
    struct app *a = calloc(1, sizeof *a);
    if (!a) abort();
    struct app_params p = {0};
    app_start_server(a, sv->kind, &p, c, st, now);
    add_app(sv, a);
  }
  size_t w = 0;
  for (size_t i = 0; i < sv->n; i++) {
    struct app *a = sv->apps[i];
    if (app_poll(a, st, now) == APP_RUNNING) {
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
  pcap_dumper_t *dump;
  uint64_t write_errors;
  struct gso *gso; /* NULL unless --gso */
  uint64_t malformed; /* --gso: frames from Linux with a bad virtio_net_hdr */
  uint64_t split_in, split_out; /* --gso: TSO super-frames from Linux, segments cut */
};

static void record(struct bridge *b, const uint8_t *f, size_t len) {
  if (!b->dump) return;
  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct pcap_pkthdr h;
  memset(&h, 0, sizeof h);
  h.ts = tv;
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
  if (b->gso)
    gso_add(b->gso, f, len, write_dev, b); /* written by gso_flush at the latest */
  else
    write_dev(b, f, len);
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
  if (b->gso) gso_flush(b->gso, write_dev, b);
}

static int parse_u64(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (end == s || *end || errno || *s == '-') return -1;
  *out = v;
  return 0;
}

static void configure_stack(microtcp_config *cfg, const uint8_t mac[6], uint32_t ip, unsigned prefix,
                            uint32_t gw, uint64_t seed, uint16_t max_conns, uint32_t buffer) {
  microtcp_config_default(cfg);
  memcpy(cfg->mac, mac, 6);
  cfg->ip = ip;
  cfg->netmask = prefix ? 0xffffffffu << (32 - prefix) : 0;
  cfg->gateway = gw;
  tap_config_stack(cfg, max_conns, buffer, seed); /* shared with microtcp-replay */
}

/* The options that take a value. */
static int known_option(const char *a) {
  static const char *const names[] = {"--ifname", "--ip", "--host-ip", "--gateway", "--mac",
                                      "--app", "--port", "--pcap", "--loss", "--duplicate",
                                      "--reorder", "--delay", "--seed", "--duration", "--connect",
                                      "--max-conns", "--buffer", "--bytes"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!strcmp(a, names[i])) return 1;
  return 0;
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
    if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & (IFF_UP | IFF_RUNNING)) == (IFF_UP | IFF_RUNNING))
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
    if (de->d_name[0] != '.' && stat(path, &st) == 0 && st.st_ino == self->st_ino && st.st_dev == self->st_dev) {
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

int main(int argc, char **argv) {
  const char *ifname = "microtcp0", *app = "echo", *pcap_path = NULL, *host_cidr = NULL;
  uint32_t ip = 0, host_ip = 0, gw = 0, connect_ip = 0;
  unsigned prefix = 24, host_prefix = 24;
  uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0x02};
  uint16_t port = 7, connect_port = 0;
  uint64_t source_bytes = 1000000, seed = 1, duration_ms = 0, max_conns = 32, buffer = 128 * 1024;
  bool have_seed = false;
  struct impair_params ip_params = {0};
  int use_gso = 0, print_counters = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(USAGE, stdout);
      return 0;
    }
    if (!strcmp(a, "--version")) {
      printf("microtcp-tap %s\n", MICROTCP_VERSION_STRING);
      return 0;
    }
    if (strncmp(a, "--", 2) != 0) return usage("unexpected argument", a);
    if (!strcmp(a, "--gso")) { /* options without a value */
      use_gso = 1;
      continue;
    }
    if (!strcmp(a, "--counters")) {
      print_counters = 1;
      continue;
    }
    if (!known_option(a)) return usage("unknown option", a); /* even as the last argument */
    if (i + 1 >= argc) return usage("option needs a value", a);
    const char *v = argv[++i];
    if (!strcmp(a, "--ifname")) {
      ifname = v;
    } else if (!strcmp(a, "--ip")) {
      if (tap_parse_ipv4(v, &ip, &prefix, 24) < 0) return usage("--ip expects A.B.C.D/N", v);
    } else if (!strcmp(a, "--host-ip")) {
      if (tap_parse_ipv4(v, &host_ip, &host_prefix, 24) < 0)
        return usage("--host-ip expects A.B.C.D/N", v);
      host_cidr = v;
    } else if (!strcmp(a, "--gateway")) {
      if (tap_parse_ipv4(v, &gw, NULL, 32) < 0) return usage("--gateway expects A.B.C.D", v);
    } else if (!strcmp(a, "--mac")) {
      if (tap_parse_mac(v, mac) < 0) return usage("--mac expects xx:xx:xx:xx:xx:xx", v);
    } else if (!strcmp(a, "--app")) {
      app = v;
    } else if (!strcmp(a, "--port")) {
      uint64_t n;
      if (parse_u64(v, &n) < 0 || n < 1 || n > 65535) return usage("--port expects 1..65535", v);
      port = (uint16_t)n;
    } else if (!strcmp(a, "--pcap")) {
      pcap_path = v;
    } else if (!strcmp(a, "--loss")) {
      if (impair_parse_rate(v, &ip_params.loss_ppm) < 0) return usage("--loss expects 5, 5% or 50000ppm", v);
    } else if (!strcmp(a, "--duplicate")) {
      if (impair_parse_rate(v, &ip_params.dup_ppm) < 0) return usage("--duplicate expects 5, 5% or 50000ppm", v);
    } else if (!strcmp(a, "--reorder")) {
      if (impair_parse_rate(v, &ip_params.reorder_ppm) < 0) return usage("--reorder expects 5, 5% or 50000ppm", v);
    } else if (!strcmp(a, "--delay")) {
      char *end;
      double ms = strtod(v, &end);
      if (end == v || *end || ms < 0 || ms > 10000) return usage("--delay expects milliseconds 0..10000", v);
      ip_params.delay_us = (uint32_t)(ms * 1000.0);
    } else if (!strcmp(a, "--seed")) {
      if (parse_u64(v, &seed) < 0) return usage("--seed expects an unsigned integer", v);
      have_seed = true;
    } else if (!strcmp(a, "--duration")) {
      char *end;
      double s = strtod(v, &end);
      if (end == v || *end || s <= 0) return usage("--duration expects seconds > 0", v);
      duration_ms = (uint64_t)(s * 1000.0);
    } else if (!strcmp(a, "--connect")) {
      unsigned x1, x2, x3, x4, pt;
      char tail;
      if (sscanf(v, "%3u.%3u.%3u.%3u:%5u%c", &x1, &x2, &x3, &x4, &pt, &tail) != 5 || x1 > 255 ||
          x2 > 255 || x3 > 255 || x4 > 255 || pt == 0 || pt > 65535)
        return usage("--connect expects A.B.C.D:PORT", v);
      connect_ip = x1 << 24 | x2 << 16 | x3 << 8 | x4;
      connect_port = (uint16_t)pt;
    } else if (!strcmp(a, "--max-conns")) {
      if (parse_u64(v, &max_conns) < 0 || max_conns < 1 || max_conns > 16384)
        return usage("--max-conns expects 1..16384", v);
    } else if (!strcmp(a, "--buffer")) {
      if (parse_u64(v, &buffer) < 0 || buffer < 2048 || buffer > (64u << 20))
        return usage("--buffer expects 2048..67108864 bytes", v);
    } else if (!strcmp(a, "--bytes")) {
      if (parse_u64(v, &source_bytes) < 0) return usage("--bytes expects an unsigned integer", v);
    } else {
      return usage("unknown option", a);
    }
  }
  if (!ip) return usage("--ip is required", NULL);
  enum app_kind kind = (enum app_kind)0;
  if (!strcmp(app, "echo")) kind = APP_ECHO_SERVER;
  else if (!strcmp(app, "sink")) kind = APP_SINK;
  else if (!strcmp(app, "http")) kind = APP_HTTP_SERVER;
  else if (!strcmp(app, "udp-echo")) kind = APP_UDP_ECHO_SERVER;
  else if (!strcmp(app, "source")) kind = APP_SOURCE;
  else if (strcmp(app, "none") != 0) return usage("--app expects echo, sink, http, udp-echo, source or none", app);
  if (kind == APP_SOURCE && !connect_ip) return usage("--app source needs --connect A.B.C.D:PORT", NULL);
  if (kind != APP_SOURCE && connect_ip) return usage("--connect is only for --app source", NULL);

  /* Handlers first: a signal that arrives while the device and the stack are
   * being set up still ends in a clean stop (with the summary line). No
   * SA_RESTART: poll() returns EINTR and the loop sees `stop` at once. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  /* ---- the device ---- */
  char err[256], name[16];
  int fd = tap_open(ifname, use_gso, name, err, sizeof err);
  if (fd < 0) {
    fprintf(stderr, "microtcp-tap: %s\n", err);
    return 1;
  }
  if (use_gso && gso_enable_offloads(fd) < 0) {
    fprintf(stderr, "microtcp-tap: cannot enable TAP offloads (TUNSETOFFLOAD): %s\n", strerror(errno));
    return 1;
  }

  /* ---- the stack ---- */
  microtcp_config cfg;
  configure_stack(&cfg, mac, ip, prefix, gw, seed, (uint16_t)max_conns, (uint32_t)buffer);
  /* Without --seed the secret is unpredictable (ISNs, IP IDs, ports). */
  if (tap_config_choose_secret(cfg.secret, have_seed, seed) < 0) {
    fprintf(stderr, "microtcp-tap: getrandom: %s\n", strerror(errno));
    return 1;
  }
  size_t need = microtcp_footprint(&cfg);
  void *arena = need ? aligned_alloc(16, (need + 15) & ~(size_t)15) : NULL;
  int ierr = MICROTCP_EINVAL;
  microtcp_stack *st = arena ? microtcp_init(arena, need, &cfg, mono_us(), &ierr) : NULL;
  if (!st) {
    fprintf(stderr, "microtcp-tap: stack init failed: %s\n", microtcp_strerror(ierr));
    return 1;
  }

  /* ---- the app ---- */
  struct server sv = {kind, -1, NULL, 0, 0, 0, 0, 0, 0};
  struct app *client = NULL;
  uint64_t now = mono_us();
  if (kind == APP_UDP_ECHO_SERVER) {
    int h = microtcp_udp_bind(st, now, port);
    if (h < 0) {
      fprintf(stderr, "microtcp-tap: udp bind %u: %s\n", port, microtcp_strerror(h));
      return 1;
    }
    struct app *a = calloc(1, sizeof *a);
    struct app_params p = {0};
    if (!a) abort();
    app_start_server(a, kind, &p, h, st, now);
    add_app(&sv, a);
  } else if (kind == APP_SOURCE) {
    client = calloc(1, sizeof *client);
    struct app_params p = {0};
    if (!client) abort();
    p.bytes = source_bytes;
    p.remote_ip = connect_ip;
    p.remote_port = connect_port;
    if (app_start_client(client, APP_SOURCE, &p, st, now) < 0) {
      fprintf(stderr, "microtcp-tap: source: %s\n", client->reason);
      return 1;
    }
  } else if (kind) {
    sv.listener = microtcp_tcp_listen(st, now, port, 1024);
    if (sv.listener < 0) {
      fprintf(stderr, "microtcp-tap: listen %u: %s\n", port, microtcp_strerror(sv.listener));
      return 1;
    }
  }

  pcap_t *pd = NULL;
  struct bridge br = {st, fd, now, NULL, 0, NULL, 0, 0, 0};
  static struct gso gso; /* 64 KiB: not on the stack */
  if (use_gso) {
    gso_init(&gso);
    br.gso = &gso;
  }
  const size_t vnet = use_gso ? GSO_VNET_HDR_LEN : 0; /* header before each frame read */
  if (pcap_path) {
    pd = pcap_open_dead(DLT_EN10MB, 65535);
    br.dump = pd ? pcap_dump_open(pd, pcap_path) : NULL;
    if (!br.dump) {
      fprintf(stderr, "microtcp-tap: cannot write %s: %s\n", pcap_path, pd ? pcap_geterr(pd) : "pcap");
      return 1;
    }
  }
  struct impair in, out;
  if (impair_init(&in, &ip_params, seed * 2) < 0 || impair_init(&out, &ip_params, seed * 2 + 1) < 0) {
    fprintf(stderr, "microtcp-tap: out of memory\n");
    return 1;
  }

  /* Last: once Linux's side has its address, the stack is ready to answer
   * (the live tests wait for the address). */
  if (host_cidr && tap_configure(name, host_ip, host_prefix, NULL, err, sizeof err) < 0) {
    fprintf(stderr, "microtcp-tap: %s\n", err);
    return 1;
  }
  if (host_cidr && wait_running(name, 2000) < 0) {
    fprintf(stderr, "microtcp-tap: %s did not come up and running within 2 s\n", name);
    return 1;
  }
  fprintf(stderr, "microtcp-tap: %s up, stack %u.%u.%u.%u/%u, app %s port %u\n", name, ip >> 24,
          ip >> 16 & 255, ip >> 8 & 255, ip & 255, prefix, app, port);

  int rc = 0, client_reported = 0;
  uint64_t t0 = mono_us();
  char ns[256];
  struct stat ns_self;
  netns_name(ns, sizeof ns, &ns_self);
  uint64_t ns_check = t0 + 1000000;
  static uint8_t buf[GSO_VNET_HDR_LEN + 14 + GSO_MAX_BYTES]; /* a super-frame with --gso */
  struct inbound inb = {&in, &br};
  while (!stop) {
    now = mono_us();
    br.now = now;
    if (duration_ms && now - t0 >= duration_ms * 1000u) break;
    /* frames from Linux (bounded per turn so timers and output keep up) */
    for (int k = 0, segs = 0; k < 256 && segs < 512; k++) {
      ssize_t n = read(fd, buf, use_gso ? sizeof buf : 2048);
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        /* `ip link del` (EBADFD) and the like: nothing will ever arrive again,
         * and poll() would report the fd ready forever. */
        fprintf(stderr, "microtcp-tap: %s disappeared (%s): stopping\n", name, strerror(errno));
        rc = 1;
        stop = 1;
        break;
      }
      if (n <= (ssize_t)vnet) break;
      if (!use_gso) {
        impair_pass(&in, buf, (size_t)n, now, to_stack, &br);
        segs++;
        continue;
      }
      /* Offloads are on: the frame may be a TCP super-frame or carry a
       * partial checksum; the stack gets MTU-sized, complete frames. */
      int r = gso_split(buf, (size_t)n, from_linux, &inb);
      if (r < 0) {
        br.malformed++;
        continue;
      }
      segs += r;
      if (r > 1) {
        br.split_in++;
        br.split_out += (uint64_t)r;
      }
    }
    if (ns[0] && now >= ns_check) {
      ns_check = now + 1000000;
      if (netns_deleted(ns, &ns_self)) {
        fprintf(stderr, "microtcp-tap: network namespace %s was deleted: stopping\n", ns);
        stop = 1;
      }
    }
    impair_release(&in, now, to_stack, &br);
    microtcp_advance(st, now);
    serve(&sv, st, now);
    if (client && app_poll(client, st, now) != APP_RUNNING) {
      fprintf(stderr, "microtcp-tap: source %s: %llu bytes sent in %.3f s, %u retransmits, srtt %u us%s%s\n",
              client->status == APP_DONE ? "done" : "failed", (unsigned long long)client->sent,
              (double)(client->finished_at - client->started_at) / 1e6, client->retransmits,
              client->srtt_us, client->reason[0] ? ", " : "", client->reason);
      rc = client->status == APP_DONE ? 0 : 1;
      if (client->status == APP_DONE) sv.done++; /* in the summary's counts (reported above) */
      else sv.failed++;
      client_reported = 1;
      stop = 1; /* send the last frames (the FIN), then leave */
    }
    int n;
    while ((n = microtcp_output(st, now, buf, sizeof buf)) > 0) {
      record(&br, buf, (size_t)n);
      impair_pass(&out, buf, (size_t)n, now, to_linux, &br);
    }
    impair_release(&out, now, to_linux, &br);
    flush_linux(&br);
    if (stop) break;
    /* sleep until a frame, the stack's deadline or a held frame is due */
    uint64_t wake = microtcp_deadline(st);
    if (impair_next(&in) < wake) wake = impair_next(&in);
    if (impair_next(&out) < wake) wake = impair_next(&out);
    now = mono_us();
    int timeout = 100; /* cap: --duration and signals are checked at least this often */
    if (wake <= now) timeout = 0;
    else if (wake - now < 100000) timeout = (int)((wake - now + 999) / 1000);
    struct pollfd pfd = {fd, POLLIN, 0};
    poll(&pfd, 1, timeout);
  }

  /* A source stopped (signal, --duration) before it finished has not done
   * its job: that is a failure (an unreachable peer used to exit 0). */
  if (client && !client_reported) {
    if (client->connected)
      snprintf(client->reason, sizeof client->reason, "stopped before it finished (%llu of %llu bytes queued)",
               (unsigned long long)client->sent, (unsigned long long)source_bytes);
    else
      snprintf(client->reason, sizeof client->reason, "stopped before it connected (peer unreachable?)");
    client->status = APP_FAILED;
    tally(&sv, client);
    rc = 1;
  }
  /* Close what is still open so Linux sees FIN/RST rather than silence. */
  now = mono_us();
  for (size_t i = 0; i < sv.n; i++) {
    if (sv.apps[i]->status == APP_RUNNING) app_close(sv.apps[i], st, now);
    free(sv.apps[i]);
  }
  int n;
  while ((n = microtcp_output(st, now, buf, sizeof buf)) > 0) {
    record(&br, buf, (size_t)n);
    to_linux(&br, buf, (size_t)n);
  }
  flush_linux(&br);
  if (br.dump) pcap_dump_close(br.dump);
  if (pd) pcap_close(pd);
  const microtcp_counters *c = microtcp_get_counters(st);
  char gso_note[192] = "";
  if (use_gso)
    snprintf(gso_note, sizeof gso_note,
             "; gso: %llu frames to Linux in %llu writes, %llu super-frames from Linux cut into "
             "%llu, %llu malformed, %llu ACKs thinned",
             (unsigned long long)gso.frames, (unsigned long long)gso.writes,
             (unsigned long long)br.split_in, (unsigned long long)br.split_out,
             (unsigned long long)br.malformed, (unsigned long long)gso.thinned);
  fprintf(stderr,
          "microtcp-tap: stopped: %llu frames in, %llu out; apps %llu done, %llu failed, "
          "%llu bytes received, %llu verification errors; bridge %llu dropped, %llu duplicated, "
          "%llu reordered, %llu overflow, %llu write errors%s\n",
          (unsigned long long)c->frames_in, (unsigned long long)c->frames_out,
          (unsigned long long)sv.done, (unsigned long long)sv.failed,
          (unsigned long long)sv.bytes_in, (unsigned long long)sv.verify_errors,
          (unsigned long long)(in.dropped + out.dropped),
          (unsigned long long)(in.duplicated + out.duplicated),
          (unsigned long long)(in.reordered + out.reordered),
          (unsigned long long)(in.overflow + out.overflow), (unsigned long long)br.write_errors, gso_note);
  if (print_counters) {
    /* Drops by reason and the pools still held: the hostile-traffic tests
     * check that malformed input was counted and memory stayed bounded. */
    const uint64_t *v = (const uint64_t *)c;
    microtcp_pool_usage u;
    microtcp_get_pool_usage(st, &u);
    fprintf(stderr, "microtcp-tap: counters:");
    for (size_t i = 0; microtcp_counter_name(i); i++)
      if (v[i]) fprintf(stderr, " %s=%llu", microtcp_counter_name(i), (unsigned long long)v[i]);
    fprintf(stderr, "; pools in use: tcp=%u frames=%u arp_entries=%u arp_pending=%u reasm_slots=%u reasm_bytes=%u\n",
            u.tcp, u.frames, u.arp_entries, u.arp_pending, u.reasm_slots, u.reasm_bytes);
  }
  impair_free(&in);
  impair_free(&out);
  free(sv.apps);
  free(client);
  close(fd);
  free(arena);
  return rc;
}
