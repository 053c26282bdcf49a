/*
 * microtcp-tap: one microtcp stack on a Linux TAP device, on the real
 * monotonic clock, running one of the shared apps (sim/apps) so Linux programs
 * (ping, curl, nc, python sockets) can talk to it.
 *
 *   microtcp-tap --ifname tap0 --ip 10.9.0.2/24 [--host-ip 10.9.0.1/24]
 *                [--mac 02:00:00:00:00:02] [--gateway A] [--app echo|sink|http|udp-echo|none]
 *                [--port N] [--pcap FILE] [--loss PCT] [--reorder PCT] [--seed N] [--duration S]
 *                [--connect A.B.C.D:PORT --bytes N]   (app "source": the stack as client)
 *
 * --host-ip configures the Linux side of the TAP device (address + up) with
 * `ip`. Server apps accept any number of connections. --loss drops and
 * --reorder holds back (behind the next frame) that share of frames in both
 * directions, from a seeded PRNG, in the bridge. SIGINT/SIGTERM
 * stop it cleanly. Errors: one line on stderr, exit 1 (runtime) or 2 (usage).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "apps.h"
#include "microtcp/microtcp.h"

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

static int usage(const char *msg, const char *arg) {
  fprintf(stderr, "microtcp-tap: %s%s%s (see --help)\n", msg, arg ? ": " : "", arg ? arg : "");
  return 2;
}

static int parse_cidr(const char *s, uint32_t *ip, uint32_t *mask) {
  unsigned a, b, c, d, n = 32;
  int k = sscanf(s, "%u.%u.%u.%u/%u", &a, &b, &c, &d, &n);
  if (k < 4 || a > 255 || b > 255 || c > 255 || d > 255 || n > 32) return -1;
  *ip = a << 24 | b << 16 | c << 8 | d;
  if (mask) *mask = n ? 0xffffffffu << (32 - n) : 0;
  return 0;
}

static int parse_mac(const char *s, uint8_t mac[6]) {
  unsigned m[6];
  if (sscanf(s, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6) return -1;
  for (int i = 0; i < 6; i++) {
    if (m[i] > 255) return -1;
    mac[i] = (uint8_t)m[i];
  }
  return 0;
}

static int tap_open(const char *ifname) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    fprintf(stderr, "microtcp-tap: cannot open /dev/net/tun: %s\n", strerror(errno));
    return -1;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    fprintf(stderr, "microtcp-tap: cannot create %s: %s%s\n", ifname, strerror(e),
            e == EPERM ? " (needs root or CAP_NET_ADMIN)" : e == EBUSY ? " (name in use)" : "");
    close(fd);
    return -1;
  }
  return fd;
}

struct server {
  enum app_kind kind;
  int handle;
  struct app **conns;
  size_t n, cap;
};

static void serve(struct server *sv, microtcp_stack *st, uint64_t now) {
  if (sv->handle >= 0 && sv->kind != APP_UDP_ECHO_SERVER) {
    for (;;) {
      int c = microtcp_tcp_accept(st, now, sv->handle, NULL);
      if (c < 0) break;
      if (sv->n == sv->cap) {
        sv->cap = sv->cap ? sv->cap * 2 : 64;
        sv->conns = realloc(sv->conns, sv->cap * sizeof *sv->conns);
      }
      struct app *a = calloc(1, sizeof *a);
      struct app_params p = {0};
      app_start_server(a, sv->kind, &p, c, st, now);
      sv->conns[sv->n++] = a;
    }
  }
  /* poll every live connection; drop finished ones */
  size_t w = 0;
  for (size_t i = 0; i < sv->n; i++) {
    app_poll(sv->conns[i], st, now);
    if (sv->conns[i]->status == APP_RUNNING)
      sv->conns[w++] = sv->conns[i];
    else
      free(sv->conns[i]);
  }
  sv->n = w;
}

/* Bridge impairments, per direction: loss and reordering (a frame is held
 * back and released after the next one, or after 5 ms), from a seeded PRNG. */
struct impair {
  uint32_t loss_ppm, reorder_ppm;
  uint64_t rng;
  uint8_t held[2048];
  size_t held_len;
  uint64_t held_at;
  uint64_t dropped, reordered;
};

static uint32_t imp_rand(struct impair *im) {
  im->rng ^= im->rng << 13;
  im->rng ^= im->rng >> 7;
  im->rng ^= im->rng << 17;
  return (uint32_t)(im->rng % 1000000u);
}

typedef void (*deliver_fn)(void *ctx, const uint8_t *frame, size_t len);

static void impair_pass(struct impair *im, const uint8_t *frame, size_t len, uint64_t now,
                        deliver_fn deliver, void *ctx) {
  if (im->loss_ppm && imp_rand(im) < im->loss_ppm) {
    im->dropped++;
    return;
  }
  if (im->reorder_ppm && !im->held_len && len <= sizeof im->held && imp_rand(im) < im->reorder_ppm) {
    memcpy(im->held, frame, len);
    im->held_len = len;
    im->held_at = now;
    im->reordered++;
    return;
  }
  deliver(ctx, frame, len);
  if (im->held_len) { /* the held frame now arrives after a later one */
    deliver(ctx, im->held, im->held_len);
    im->held_len = 0;
  }
}

static void impair_flush(struct impair *im, uint64_t now, deliver_fn deliver, void *ctx) {
  if (im->held_len && now - im->held_at >= 5000) {
    deliver(ctx, im->held, im->held_len);
    im->held_len = 0;
  }
}

struct io {
  microtcp_stack *st;
  int fd;
  uint64_t now;
};

static void to_stack(void *ctx, const uint8_t *f, size_t len) {
  struct io *io = ctx;
  microtcp_input(io->st, io->now, f, len);
}

static void to_linux(void *ctx, const uint8_t *f, size_t len) {
  struct io *io = ctx;
  if (write(io->fd, f, len) < 0 && errno != EAGAIN) perror("microtcp-tap: write");
}

int main(int argc, char **argv) {
  const char *ifname = "microtcp0", *app = "echo", *pcap_path = NULL;
  uint32_t ip = 0, mask = 0xffffff00u, host_ip = 0, host_mask = 0, gw = 0;
  uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0x02};
  const char *host_cidr = NULL;
  uint16_t port = 7;
  double loss = 0, reorder = 0, duration = 0;
  uint32_t connect_ip = 0;
  uint16_t connect_port = 0;
  uint64_t source_bytes = 1000000;
  uint64_t seed = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      puts("usage: microtcp-tap --ip A/N [--ifname NAME] [--host-ip A/N] [--mac M] [--gateway A]\n"
           "                    [--app echo|sink|http|udp-echo|none] [--port N] [--pcap FILE]\n"
           "                    [--loss PERCENT] [--reorder PERCENT] [--seed N] [--duration SECONDS]\n"
           "                    [--connect A.B.C.D:PORT --bytes N]");
      return 0;
    }
    if (!v) return usage("option needs a value", a);
    i++;
    if (!strcmp(a, "--ifname")) ifname = v;
    else if (!strcmp(a, "--ip")) {
      if (parse_cidr(v, &ip, &mask) < 0) return usage("--ip expects A.B.C.D/N", v);
    } else if (!strcmp(a, "--host-ip")) {
      if (parse_cidr(v, &host_ip, &host_mask) < 0) return usage("--host-ip expects A.B.C.D/N", v);
      host_cidr = v;
    } else if (!strcmp(a, "--gateway")) {
      if (parse_cidr(v, &gw, NULL) < 0) return usage("--gateway expects A.B.C.D", v);
    } else if (!strcmp(a, "--mac")) {
      if (parse_mac(v, mac) < 0) return usage("--mac expects xx:xx:xx:xx:xx:xx", v);
    } else if (!strcmp(a, "--app")) app = v;
    else if (!strcmp(a, "--port")) {
      char *end;
      long n = strtol(v, &end, 10);
      if (*end || n < 1 || n > 65535) return usage("--port expects 1..65535", v);
      port = (uint16_t)n;
    } else if (!strcmp(a, "--pcap")) pcap_path = v;
    else if (!strcmp(a, "--loss")) {
      char *end;
      loss = strtod(v, &end);
      if (*end || loss < 0 || loss > 100) return usage("--loss expects a percentage 0..100", v);
    } else if (!strcmp(a, "--reorder")) {
      char *end;
      reorder = strtod(v, &end);
      if (*end || reorder < 0 || reorder > 100) return usage("--reorder expects a percentage 0..100", v);
    } else if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--duration")) duration = strtod(v, NULL);
    else if (!strcmp(a, "--connect")) {
      unsigned x1, x2, x3, x4, pt;
      if (sscanf(v, "%u.%u.%u.%u:%u", &x1, &x2, &x3, &x4, &pt) != 5 || pt == 0 || pt > 65535)
        return usage("--connect expects A.B.C.D:PORT", v);
      connect_ip = x1 << 24 | x2 << 16 | x3 << 8 | x4;
      connect_port = (uint16_t)pt;
    } else if (!strcmp(a, "--bytes")) source_bytes = strtoull(v, NULL, 10);
    else return usage("unknown option", a);
  }
  if (!ip) return usage("--ip is required", NULL);
  enum app_kind kind;
  if (!strcmp(app, "echo")) kind = APP_ECHO_SERVER;
  else if (!strcmp(app, "sink")) kind = APP_SINK;
  else if (!strcmp(app, "http")) kind = APP_HTTP_SERVER;
  else if (!strcmp(app, "udp-echo")) kind = APP_UDP_ECHO_SERVER;
  else if (!strcmp(app, "source")) kind = APP_SOURCE;
  else if (!strcmp(app, "none")) kind = (enum app_kind)0;
  else return usage("--app expects echo, sink, http, udp-echo, source or none", app);
  if (kind == APP_SOURCE && !connect_ip) return usage("--app source needs --connect", NULL);

  int fd = tap_open(ifname);
  if (fd < 0) return 1;
  if (host_cidr) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ip addr add %s dev %s && ip link set %s up", host_cidr, ifname, ifname);
    if (system(cmd) != 0) {
      fprintf(stderr, "microtcp-tap: could not configure %s on %s\n", host_cidr, ifname);
      return 1;
    }
  }
  microtcp_config cfg;
  microtcp_config_default(&cfg);
  memcpy(cfg.mac, mac, 6);
  cfg.ip = ip;
  cfg.netmask = mask;
  cfg.gateway = gw;
  cfg.max_tcp = 600;
  cfg.max_listeners = 4;
  cfg.max_udp = 8;
  cfg.tcp_sndbuf = 128 * 1024;
  cfg.tcp_rcvbuf = 128 * 1024;
  cfg.udp_rcvq = 64 * 1024;
  cfg.frames = 1024;
  cfg.arp_pending = 64;
  cfg.reasm_slots = 8;
  cfg.reasm_bytes = 128 * 1024;
  cfg.ping_queue = 16;
  cfg.tcp_rto_min_us = 200000;
  cfg.tcp_ooo_ranges = 16;
  cfg.icmp_rate_per_s = 0;
  for (int i = 0; i < 16; i++) cfg.secret[i] = (uint8_t)(seed >> (8 * (i % 8))) ^ (uint8_t)(i * 37);
  size_t need = microtcp_footprint(&cfg);
  void *arena = aligned_alloc(16, (need + 15) & ~(size_t)15);
  int err;
  microtcp_stack *st = arena ? microtcp_init(arena, need, &cfg, mono_us(), &err) : NULL;
  if (!st) {
    fprintf(stderr, "microtcp-tap: stack init failed\n");
    return 1;
  }
  struct server sv = {kind, -1, NULL, 0, 0};
  if (kind == APP_UDP_ECHO_SERVER) {
    sv.handle = microtcp_udp_bind(st, mono_us(), port);
    if (sv.handle >= 0) {
      struct app *a = calloc(1, sizeof *a);
      struct app_params p = {0};
      app_start_server(a, kind, &p, sv.handle, st, mono_us());
      sv.conns = malloc(sizeof *sv.conns);
      sv.conns[0] = a;
      sv.n = sv.cap = 1;
      sv.handle = -1; /* no accepting */
    }
  } else if (kind == APP_SOURCE) {
    /* started in the loop once the stack is up (ARP needs the wire running) */
  } else if (kind) {
    sv.handle = microtcp_tcp_listen(st, mono_us(), port, 512);
    if (sv.handle < 0) {
      fprintf(stderr, "microtcp-tap: listen %u: %s\n", port, microtcp_strerror(sv.handle));
      return 1;
    }
  }
  pcap_t *pd = NULL;
  pcap_dumper_t *dump = NULL;
  if (pcap_path) {
    pd = pcap_open_dead(DLT_EN10MB, 65535);
    dump = pcap_dump_open(pd, pcap_path);
    if (!dump) {
      fprintf(stderr, "microtcp-tap: cannot write %s\n", pcap_path);
      return 1;
    }
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  struct impair imp_in = {(uint32_t)(loss * 10000.0), (uint32_t)(reorder * 10000.0),
                          seed * 0x9e3779b97f4a7c15ull + 1, {0}, 0, 0, 0, 0};
  struct impair imp_out = imp_in;
  imp_out.rng = seed * 0xc2b2ae3d27d4eb4full + 7;
  struct io io = {st, fd, 0};
  uint64_t t0 = mono_us();
  uint8_t buf[2048];
  fprintf(stderr, "microtcp-tap: %s up, stack %u.%u.%u.%u, app %s port %u\n", ifname, ip >> 24,
          ip >> 16 & 255, ip >> 8 & 255, ip & 255, app, port);
  struct app *client = NULL;
  while (!stop) {
    uint64_t now = mono_us();
    if (kind == APP_SOURCE && !client) {
      client = calloc(1, sizeof *client);
      struct app_params p = {0};
      p.bytes = source_bytes;
      p.remote_ip = connect_ip;
      p.remote_port = connect_port;
      app_start_client(client, APP_SOURCE, &p, st, now);
    }
    if (client && client->status != APP_RUNNING) {
      fprintf(stderr, "microtcp-tap: source %s: %llu bytes sent%s%s\n",
              client->status == APP_DONE ? "done" : "failed", (unsigned long long)client->sent,
              client->reason[0] ? ", " : "", client->reason);
      if (client->status == APP_FAILED) return 1;
      break;
    }
    if (client) app_poll(client, st, now);
    if (duration > 0 && now - t0 > (uint64_t)(duration * 1e6)) break;
    /* frames from Linux */
    for (int k = 0; k < 256; k++) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      if (dump) {
        struct pcap_pkthdr h = {{(time_t)(now / 1000000), (suseconds_t)(now % 1000000)}, (bpf_u_int32)n, (bpf_u_int32)n};
        pcap_dump((u_char *)dump, &h, buf);
      }
      io.now = now;
      impair_pass(&imp_in, buf, (size_t)n, now, to_stack, &io);
    }
    io.now = now;
    impair_flush(&imp_in, now, to_stack, &io);
    microtcp_advance(st, now);
    serve(&sv, st, now);
    int n;
    while ((n = microtcp_output(st, now, buf, sizeof buf)) > 0) {
      if (dump) {
        struct pcap_pkthdr h = {{(time_t)(now / 1000000), (suseconds_t)(now % 1000000)}, (bpf_u_int32)n, (bpf_u_int32)n};
        pcap_dump((u_char *)dump, &h, buf);
      }
      impair_pass(&imp_out, buf, (size_t)n, now, to_linux, &io);
    }
    impair_flush(&imp_out, now, to_linux, &io);
    uint64_t d = microtcp_deadline(st);
    now = mono_us();
    int timeout = 10;
    if (d != UINT64_MAX) timeout = d <= now ? 0 : (int)((d - now + 999) / 1000 > 10 ? 10 : (d - now + 999) / 1000);
    struct pollfd pfd = {fd, POLLIN, 0};
    poll(&pfd, 1, timeout);
  }
  if (dump) pcap_dump_close(dump);
  if (pd) pcap_close(pd);
  const microtcp_counters *c = microtcp_get_counters(st);
  fprintf(stderr,
          "microtcp-tap: stopped: %llu frames in, %llu out, %llu dropped by --loss, %llu reordered\n",
          (unsigned long long)c->frames_in, (unsigned long long)c->frames_out,
          (unsigned long long)(imp_in.dropped + imp_out.dropped),
          (unsigned long long)(imp_in.reordered + imp_out.reordered));
  close(fd);
  free(arena);
  return 0;
}
