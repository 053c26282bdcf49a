/*
 * libmicrotcp-packetdrill.so: packetdrill's shared-object interface backed by
 * one microtcp stack on a virtual clock.
 *
 * - Packets cross as bare IPv4: netdev_send wraps them in Ethernet for the
 *   stack (the gateway's MAC is pinned), netdev_receive returns what the stack
 *   sent with the Ethernet header stripped (ARP never leaves the shim).
 * - Time is virtual and moves only when packetdrill waits:
 *     usleep(n)           advances it by n, firing the stack's timers on the way;
 *     gettimeofday        packetdrill spins on it for the last ~20 µs before an
 *                         event (and before the first event, which it schedules
 *                         250 µs ahead): a second read in a row from the main
 *                         thread with nothing else in between advances 1 µs;
 *     netdev_receive      packetdrill expects the next outbound packet without
 *                         waiting first: with none queued, time advances to the
 *                         stack's next deadline until one is sent (at most
 *                         recv_timeout_s of virtual time, then a loud error).
 *   Runs are deterministic and take milliseconds.
 * - Blocking calls: packetdrill runs a call the script marks blocking
 *   (`...`) on a second thread while the main thread keeps injecting
 *   packets. Every entry point holds one mutex. A blocked call sleeps on a
 *   condition variable; each time the main thread changes the stack's state it
 *   wakes the sleepers and waits until each has looked, so a call returns at
 *   the virtual time at which it was satisfied, and that thread's next clock
 *   read (packetdrill's end-of-call timestamp) reports exactly that time.
 *   A call that would block on the main thread itself advances virtual time
 *   through the stack's timers (as a blocked Linux process would see time
 *   pass); when nothing is pending it fails with EDEADLK and a message, never
 *   hangs.
 * - File descriptors are real: each socket is an open descriptor of
 *   /dev/null (so packetdrill's final close() of leftover sockets succeeds),
 *   mapped to a stack handle. packetdrill maps script fds (3, 4, ...) to them.
 *
 * --so_flags (space or comma separated key=value, all optional):
 *   ip=A.B.C.D        local address (default: learned from the first inbound
 *                     packet's destination, or 192.168.0.2 if a socket call
 *                     needs the stack first)
 *   gw=A.B.C.D        gateway (default 192.168.0.1), netmask /16
 *   mss=N wscale=N|off sack=0|1 ts=0|1 iw=N (initial window, segments)
 *   cc=reno|cubic rto_min_us=N rto_initial_us=N delack_us=N
 *   sndbuf=N rcvbuf=N  per-connection buffer bytes
 *   recv_timeout_s=N  virtual seconds netdev_receive may advance (default 600)
 *   and every microtcp_config field name of config_knobs.h (the same words
 *   as a script's `// config:` line), e.g. tcp_syn_retries=3 mtu=9000.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_knobs.h"
#include "microtcp/microtcp.h"
#include "packetdrill_interface.h"

#define PD_MAX_FDS 64
#define PD_TIME_BASE 1000000000000ull /* gettimeofday epoch offset (µs) */
#define PD_MAX_PKTS 4096
#define PD_MAX_FRAME (65535 + 14)
#define PD_PENDING_OPTS 16

struct pd_fd {
  bool used;
  int osfd;           /* the real descriptor packetdrill sees */
  int handle;         /* listener or connection handle, -1 before listen/connect */
  uint16_t port;      /* bound port */
  bool nonblock;
  bool rd_shut;       /* shutdown(SHUT_RD): reads return 0 */
  int pending_opts[PD_PENDING_OPTS][2];
  int npending;
};

struct pd_pkt {
  uint64_t at;
  uint32_t len;
  uint8_t *data;
};

struct pd {
  pthread_mutex_t mu;
  pthread_cond_t cv;     /* sleepers: the stack's state changed (gen moved) */
  pthread_cond_t ack_cv; /* main thread: a sleeper has looked */
  uint64_t gen;
  int nsleepers, nlooked;
  pthread_t main_thread;
  bool spin_armed;       /* the main thread's last call was gettimeofday */
  microtcp_config cfg;
  bool have_ip;
  uint64_t recv_timeout_us;
  void *arena;
  microtcp_stack *st;
  uint64_t now;
  struct pd_fd fds[PD_MAX_FDS];
  struct pd_pkt q[PD_MAX_PKTS];
  size_t qhead, qlen;
  uint8_t frame[PD_MAX_FRAME];
};

/* The virtual time at which this thread's last blocking call returned; its
 * next gettimeofday reports it (packetdrill's end-of-call timestamp). */
static __thread struct {
  bool valid;
  uint64_t at;
} returned;

static const uint8_t stack_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
static const uint8_t gw_mac[6] = {0x02, 0, 0, 0, 0, 0x01};

static bool on_main(const struct pd *p) { return pthread_equal(pthread_self(), p->main_thread); }

/* Every entry point starts with enter(): the lock, and the end of a
 * gettimeofday spin (any call other than gettimeofday breaks it). */
static void enter(struct pd *p) {
  pthread_mutex_lock(&p->mu);
  if (on_main(p)) p->spin_armed = false;
}
static void leave(struct pd *p) { pthread_mutex_unlock(&p->mu); }

/* ---- stack plumbing (callers hold mu) -------------------------------------------- */
static void drain(struct pd *p) {
  int n;
  while ((n = microtcp_output(p->st, p->now, p->frame, sizeof p->frame)) > 0) {
    if (n < 14 || p->frame[12] != 0x08 || p->frame[13] != 0x00) continue; /* ARP stays inside */
    if (p->qlen == PD_MAX_PKTS) {
      fprintf(stderr, "microtcp-packetdrill: %d outbound packets not read; dropping\n", PD_MAX_PKTS);
      continue;
    }
    struct pd_pkt *k = &p->q[(p->qhead + p->qlen) % PD_MAX_PKTS];
    k->data = malloc((size_t)n - 14);
    if (!k->data) continue;
    p->qlen++;
    k->at = p->now;
    k->len = (uint32_t)(n - 14);
    memcpy(k->data, p->frame + 14, (size_t)(n - 14));
  }
}

/* The main thread changed the stack's state: let every sleeping blocking call
 * look, and wait until each has, so it returns at this virtual time. */
static void wake_sleepers(struct pd *p) {
  if (p->nsleepers == 0) return;
  int expect = p->nsleepers;
  p->gen++;
  p->nlooked = 0;
  pthread_cond_broadcast(&p->cv);
  while (p->nlooked < expect) pthread_cond_wait(&p->ack_cv, &p->mu);
}

static int ensure_stack(struct pd *p, uint32_t learned_ip) {
  if (p->st) return 0;
  if (!p->have_ip) p->cfg.ip = learned_ip ? learned_ip : 0xc0a80002u;
  size_t need = microtcp_footprint(&p->cfg);
  if (!need) {
    fprintf(stderr, "microtcp-packetdrill: the stack rejects the configuration from --so_flags\n");
    return -1;
  }
  p->arena = aligned_alloc(16, (need + 15) & ~(size_t)15);
  if (!p->arena) return -1;
  int err;
  p->st = microtcp_init(p->arena, need, &p->cfg, p->now, &err);
  if (!p->st) {
    fprintf(stderr, "microtcp-packetdrill: microtcp_init: %s\n", microtcp_strerror(err));
    return -1;
  }
  microtcp_arp_add_static(p->st, p->cfg.gateway, gw_mac);
  drain(p);
  return 0;
}

static void step(struct pd *p) {
  microtcp_advance(p->st, p->now);
  drain(p);
  wake_sleepers(p);
}

/* Move virtual time to t, stopping at every stack deadline on the way. */
static void advance_to(struct pd *p, uint64_t t) {
  for (int guard = 0; p->st && guard < 10000000; guard++) {
    uint64_t d = microtcp_deadline(p->st);
    if (d > t) break;
    if (d > p->now) p->now = d;
    step(p);
  }
  if (t > p->now) p->now = t;
  if (p->st) step(p);
}

/* Time passes for a call blocked on the main thread: jump to the stack's next
 * deadline. -1 when no timer is armed within limit_us (the call could never
 * return: no packet can arrive while packetdrill's main thread is blocked). */
static int main_thread_wait(struct pd *p, const char *call, uint64_t limit_us) {
  uint64_t d = p->st ? microtcp_deadline(p->st) : UINT64_MAX;
  if (d == UINT64_MAX || d > p->now + limit_us) {
    fprintf(stderr,
            "microtcp-packetdrill: %s would block packetdrill's main thread forever "
            "(no timer pending); mark the call blocking in the script (e.g. +0...0.1 %s(...))\n",
            call, call);
    return -1;
  }
  advance_to(p, d > p->now ? d : p->now);
  return 0;
}

/* Wait until the stack's state changes. 0, or -1 (errno EDEADLK) if waiting
 * can never end. */
static int wait_progress(struct pd *p, const char *call) {
  if (on_main(p)) {
    if (main_thread_wait(p, call, p->recv_timeout_us) == 0) return 0;
    errno = EDEADLK;
    return -1;
  }
  uint64_t g = p->gen;
  p->nsleepers++;
  while (p->gen == g) pthread_cond_wait(&p->cv, &p->mu);
  p->nsleepers--;
  p->nlooked++;
  pthread_cond_signal(&p->ack_cv);
  return 0;
}

/* A call ends: on the syscall thread, remember when (see `returned`). */
static void returning(struct pd *p) {
  if (!on_main(p)) {
    returned.valid = true;
    returned.at = p->now;
  }
}

static int set_errno(int err) {
  switch (err) {
  case MICROTCP_EAGAIN: errno = EAGAIN; break;
  case MICROTCP_EBADF: errno = EBADF; break;
  case MICROTCP_EADDRINUSE: errno = EADDRINUSE; break;
  case MICROTCP_ENOTCONN: errno = ENOTCONN; break;
  case MICROTCP_EISCONN: errno = EISCONN; break;
  case MICROTCP_ECONNREFUSED: errno = ECONNREFUSED; break;
  case MICROTCP_ECONNRESET: errno = ECONNRESET; break;
  case MICROTCP_ETIMEDOUT: errno = ETIMEDOUT; break;
  case MICROTCP_EHOSTUNREACH: errno = EHOSTUNREACH; break;
  case MICROTCP_ENETUNREACH: errno = ENETUNREACH; break;
  case MICROTCP_EPIPE: errno = EPIPE; break;
  case MICROTCP_ECONNABORTED: errno = ECONNABORTED; break;
  case MICROTCP_ENOMEM: errno = ENOBUFS; break;
  case MICROTCP_ENOPROTOOPT: errno = ENOPROTOOPT; break;
  default: errno = EINVAL; break;
  }
  return -1;
}

static int errno_of(int merr) {
  set_errno(merr);
  return errno;
}

static struct pd_fd *get_fd(struct pd *p, int fd) {
  if (fd < 0) return NULL;
  for (int i = 0; i < PD_MAX_FDS; i++)
    if (p->fds[i].used && p->fds[i].osfd == fd) return &p->fds[i];
  return NULL;
}

/* A new descriptor: a real one (/dev/null), so packetdrill can close it. */
static struct pd_fd *new_fd(struct pd *p, int handle) {
  for (int i = 0; i < PD_MAX_FDS; i++) {
    if (p->fds[i].used) continue;
    int os = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (os < 0) return NULL;
    memset(&p->fds[i], 0, sizeof p->fds[i]);
    p->fds[i].used = true;
    p->fds[i].osfd = os;
    p->fds[i].handle = handle;
    return &p->fds[i];
  }
  errno = EMFILE;
  return NULL;
}

static void apply_opts(struct pd *p, struct pd_fd *f) {
  for (int i = 0; i < f->npending; i++)
    microtcp_tcp_setopt(p->st, f->handle, f->pending_opts[i][0], f->pending_opts[i][1]);
  f->npending = 0;
}

/* ---- flags ------------------------------------------------------------------------- */
static void parse_flags(struct pd *p, const char *flags) {
  microtcp_config *c = &p->cfg;
  microtcp_script_config(c); /* the project runner's stack (config_knobs.h) */
  memcpy(c->mac, stack_mac, 6);
  for (int i = 0; i < 16; i++) c->secret[i] = (uint8_t)(0x51 + i); /* as the runner */
  p->recv_timeout_us = 600000000ull;
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", flags ? flags : "");
  char *save = NULL;
  for (char *tok = strtok_r(buf, " ,", &save); tok; tok = strtok_r(NULL, " ,", &save)) {
    char *eq = strchr(tok, '=');
    if (!eq) {
      fprintf(stderr, "microtcp-packetdrill: so_flag '%s' is not key=value (ignored)\n", tok);
      continue;
    }
    *eq = 0;
    const char *k = tok, *v = eq + 1;
    struct in_addr a;
    long long n = strtoll(v, NULL, 0);
    if (!strcmp(k, "ip") && inet_pton(AF_INET, v, &a) == 1) {
      c->ip = ntohl(a.s_addr);
      p->have_ip = true;
    } else if (!strcmp(k, "gw") && inet_pton(AF_INET, v, &a) == 1) {
      c->gateway = ntohl(a.s_addr);
    } else if (!strcmp(k, "mss")) c->tcp_mss = (uint16_t)n;
    else if (!strcmp(k, "wscale")) c->tcp_wscale = (!strcmp(v, "off") || n < 0) ? MICROTCP_WSCALE_OFF : (uint8_t)n;
    else if (!strcmp(k, "sack")) c->tcp_sack = n != 0;
    else if (!strcmp(k, "ts")) c->tcp_timestamps = n != 0;
    else if (!strcmp(k, "iw")) c->tcp_initial_cwnd = (uint8_t)n;
    else if (!strcmp(k, "cc")) c->tcp_cc = !strcmp(v, "cubic") ? MICROTCP_CC_CUBIC : MICROTCP_CC_NEWRENO;
    else if (!strcmp(k, "rto_min_us")) c->tcp_rto_min_us = (uint32_t)n;
    else if (!strcmp(k, "rto_initial_us")) c->tcp_rto_initial_us = (uint32_t)n;
    else if (!strcmp(k, "delack_us")) c->tcp_delack_us = (uint32_t)n;
    else if (!strcmp(k, "sndbuf")) c->tcp_sndbuf = (uint32_t)n;
    else if (!strcmp(k, "rcvbuf")) c->tcp_rcvbuf = (uint32_t)n;
    else if (!strcmp(k, "recv_timeout_s")) p->recv_timeout_us = (uint64_t)n * 1000000u;
    else if (!strcmp(k, "remote_isn")) continue; /* the project runner's; packetdrill's ISNs are the script's */
    else {
      int r = microtcp_knob_set(c, k, v);
      if (r == -1) fprintf(stderr, "microtcp-packetdrill: unknown so_flag %s (ignored)\n", k);
      if (r == -2) fprintf(stderr, "microtcp-packetdrill: so_flag %s: bad value '%s' (ignored)\n", k, v);
    }
  }
}

/* ---- the interface ------------------------------------------------------------------- */
static void pd_free(void *ud) {
  struct pd *p = ud;
  /* Leftover descriptors were closed by packetdrill itself (socket_close). */
  for (size_t i = 0; i < p->qlen; i++) free(p->q[(p->qhead + i) % PD_MAX_PKTS].data);
  free(p->arena);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  pthread_cond_destroy(&p->ack_cv);
  free(p);
}

int microtcp_pd_socket(void *ud, int domain, int type, int protocol) {
  struct pd *p = ud;
  (void)protocol;
  if (domain != AF_INET || (type & 0xf) != SOCK_STREAM) {
    errno = EAFNOSUPPORT;
    return -1;
  }
  enter(p);
  struct pd_fd *f = new_fd(p, -1);
  int r = -1;
  if (f) {
    f->nonblock = (type & SOCK_NONBLOCK) != 0;
    r = f->osfd;
  }
  leave(p);
  return r;
}

int microtcp_pd_bind(void *ud, int fd, const struct sockaddr *addr, socklen_t len) {
  struct pd *p = ud;
  enter(p);
  struct pd_fd *f = get_fd(p, fd);
  int r = 0;
  if (!f) r = set_errno(MICROTCP_EBADF);
  else if (!addr || len < sizeof(struct sockaddr_in) || addr->sa_family != AF_INET) r = set_errno(MICROTCP_EINVAL);
  else f->port = ntohs(((const struct sockaddr_in *)addr)->sin_port);
  leave(p);
  return r;
}

int microtcp_pd_listen(void *ud, int fd, int backlog) {
  struct pd *p = ud;
  enter(p);
  struct pd_fd *f = get_fd(p, fd);
  int r = 0;
  if (!f) {
    r = set_errno(MICROTCP_EBADF);
  } else if (ensure_stack(p, 0) < 0) {
    r = set_errno(MICROTCP_ENOMEM);
  } else {
    int h = microtcp_tcp_listen(p->st, p->now, f->port ? f->port : 8080, backlog < 1 ? 1 : backlog);
    if (h < 0) r = set_errno(h);
    else {
      f->handle = h;
      apply_opts(p, f);
    }
  }
  leave(p);
  return r;
}

static void fill_addr(struct sockaddr *addr, socklen_t *len, uint32_t ip, uint16_t port) {
  if (!addr || !len || *len < sizeof(struct sockaddr_in)) return;
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(ip);
  sin.sin_port = htons(port);
  memcpy(addr, &sin, sizeof sin);
  *len = sizeof sin;
}

int microtcp_pd_accept(void *ud, int fd, struct sockaddr *addr, socklen_t *len) {
  struct pd *p = ud;
  enter(p);
  struct pd_fd *f = get_fd(p, fd);
  int r;
  for (;;) {
    if (!f || f->handle < 0) {
      r = set_errno(MICROTCP_EBADF);
      break;
    }
    microtcp_endpoint peer;
    int h = microtcp_tcp_accept(p->st, p->now, f->handle, &peer);
    if (h >= 0) {
      struct pd_fd *nf = new_fd(p, h);
      if (!nf) {
        r = -1;
        break;
      }
      r = nf->osfd;
      fill_addr(addr, len, peer.ip, peer.port);
      break;
    }
    if (h != MICROTCP_EAGAIN || f->nonblock) {
      r = set_errno(h);
      break;
    }
    if (wait_progress(p, "accept") < 0) {
      r = -1;
      break;
    }
    f = get_fd(p, fd);
  }
  returning(p);
  leave(p);
  return r;
}

int microtcp_pd_connect(void *ud, int fd, const struct sockaddr *addr, socklen_t len) {
  struct pd *p = ud;
  enter(p);
  struct pd_fd *f = get_fd(p, fd);
  int r = 0;
  if (!f) r = set_errno(MICROTCP_EBADF);
  else if (!addr || len < sizeof(struct sockaddr_in) || addr->sa_family != AF_INET) r = set_errno(MICROTCP_EINVAL);
  else if (ensure_stack(p, 0) < 0) r = set_errno(MICROTCP_ENOMEM);
  else {
    const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;
    int h = microtcp_tcp_connect(p->st, p->now, ntohl(sin->sin_addr.s_addr), ntohs(sin->sin_port), f->port);
    if (h < 0) {
      r = set_errno(h);
    } else {
      f->handle = h;
      apply_opts(p, f);
      drain(p);
      if (f->nonblock) {
        errno = EINPROGRESS;
        r = -1;
      } else {
        for (;;) {
          unsigned ev = microtcp_poll(p->st, h);
          if (ev & MICROTCP_CONNECTED) break;
          if (ev & MICROTCP_ERROR) {
            r = set_errno(microtcp_socket_error(p->st, h));
            break;
          }
          if (wait_progress(p, "connect") < 0) {
            r = -1;
            break;
          }
        }
      }
    }
  }
  returning(p);
  leave(p);
  return r;
}

static ssize_t do_recv(struct pd *p, int fd, void *buf, size_t n, int flags, const char *call) {
  enter(p);
  struct pd_fd *f = get_fd(p, fd);
  ssize_t r;
  bool nonblock_call = (flags & MSG_DONTWAIT) != 0;
  for (;;) {
    if (!f || f->handle < 0) {
      r = set_errno(f ? MICROTCP_ENOTCONN : MICROTCP_EBADF);
      break;
    }
    if (f->rd_shut) { /* Linux: reads after SHUT_RD see end of stream */
      r = 0;
      break;
    }
    int k = (flags & MSG_PEEK) ? microtcp_tcp_peek(p->st, p->now, f->handle, buf, n)
                               : microtcp_tcp_recv(p->st, p->now, f->handle, buf, n);
    if (k >= 0) {
      r = k;
      drain(p); /* a window update may be due */
      break;
    }
    if (k != MICROTCP_EAGAIN || f->nonblock || nonblock_call) {
      r = set_errno(k);
      break;
    }
    if (wait_progress(p, call) < 0) {
      r = -1;
      break;
    }
    f = get_fd(p, fd);
  }
  returning(p);
  leave(p);
  return r;
}

static ssize_t do_send(struct pd *p, int fd, const void *buf, size_t n, int flags, const char *call) {
  enter(p);
  struct pd_fd *f = get_fd(p, fd);
  ssize_t done = 0, r = 0;
  bool nonblock_call = (flags & MSG_DONTWAIT) != 0;
  for (;;) {
    if (!f || f->handle < 0) {
      r = set_errno(f ? MICROTCP_ENOTCONN : MICROTCP_EBADF);
      break;
    }
    int k = microtcp_tcp_send(p->st, p->now, f->handle, (const uint8_t *)buf + done, n - (size_t)done);
    if (k > 0) {
      done += k;
      drain(p);
      if ((size_t)done == n) {
        r = done;
        break;
      }
      continue;
    }
    if (k == 0 && n == 0) {
      r = 0;
      break;
    }
    if (k != MICROTCP_EAGAIN || f->nonblock || nonblock_call) {
      r = done ? done : set_errno(k);
      break;
    }
    if (wait_progress(p, call) < 0) { /* blocking write: all of it */
      r = done ? done : -1;
      break;
    }
    f = get_fd(p, fd);
  }
  returning(p);
  leave(p);
  return r;
}

ssize_t microtcp_pd_read(void *ud, int fd, void *buf, size_t n) { return do_recv(ud, fd, buf, n, 0, "read"); }
ssize_t microtcp_pd_recv(void *ud, int fd, void *buf, size_t n, int flags) {
  return do_recv(ud, fd, buf, n, flags, "recv");
}
ssize_t microtcp_pd_recvfrom(void *ud, int fd, void *buf, size_t n, int flags, struct sockaddr *a,
                             socklen_t *l) {
  (void)a, (void)l;
  return do_recv(ud, fd, buf, n, flags, "recvfrom");
}
ssize_t microtcp_pd_readv(void *ud, int fd, const struct iovec *iov, int cnt) {
  if (cnt < 1) return 0;
  return do_recv(ud, fd, iov[0].iov_base, iov[0].iov_len, 0, "readv");
}
ssize_t microtcp_pd_recvmsg(void *ud, int fd, struct msghdr *m, int flags) {
  if (!m || m->msg_iovlen < 1) return 0;
  return do_recv(ud, fd, m->msg_iov[0].iov_base, m->msg_iov[0].iov_len, flags, "recvmsg");
}
ssize_t microtcp_pd_write(void *ud, int fd, const void *buf, size_t n) {
  return do_send(ud, fd, buf, n, 0, "write");
}
ssize_t microtcp_pd_send(void *ud, int fd, const void *buf, size_t n, int flags) {
  return do_send(ud, fd, buf, n, flags, "send");
}
ssize_t microtcp_pd_sendto(void *ud, int fd, const void *buf, size_t n, int flags,
                           const struct sockaddr *a, socklen_t l) {
  (void)a, (void)l;
  return do_send(ud, fd, buf, n, flags, "sendto");
}
ssize_t microtcp_pd_writev(void *ud, int fd, const struct iovec *iov, int cnt) {
  ssize_t total = 0;
  for (int i = 0; i < cnt; i++) {
    ssize_t r = do_send(ud, fd, iov[i].iov_base, iov[i].iov_len, 0, "writev");
    if (r < 0) return total ? total : r;
    total += r;
  }
  return total;
}
ssize_t microtcp_pd_sendmsg(void *ud, int fd, const struct msghdr *m, int flags) {
  if (!m) return 0;
  ssize_t total = 0;
  for (size_t i = 0; i < m->msg_iovlen; i++) {
    ssize_t r = do_send(ud, fd, m->msg_iov[i].iov_base, m->msg_iov[i].iov_len, flags, "sendmsg");
    if (r < 0) return total ? total : r;
    total += r;
  }
  return total;
}

int microtcp_pd_fcntl(void *ud, int fd, int cmd, ...) {
  struct pd *p = ud;
  va_list ap;
  va_start(ap, cmd);
  long arg = va_arg(ap, long);
  va_end(ap);
  enter(p);
  struct pd_fd *f = get_fd(p, fd);
  int r;
  if (!f) r = set_errno(MICROTCP_EBADF);
  else if (cmd == F_GETFL) r = O_RDWR | (f->nonblock ? O_NONBLOCK : 0);
  else if (cmd == F_SETFL) {
    f->nonblock = (arg & O_NONBLOCK) != 0;
    r = 0;
  } else {
    errno = EINVAL;
    r = -1;
  }
  leave(p);
  return r;
}

int microtcp_pd_ioctl(void *ud, int fd, unsigned long req, ...) {
  (void)ud, (void)fd, (void)req;
  errno = ENOTTY;
  return -1;
}

int microtcp_pd_close(void *ud, int fd) {
  struct pd *p = ud;
  enter(p);
  struct pd_fd *f = get_fd(p, fd);
  int r = 0;
  if (!f) r = set_errno(MICROTCP_EBADF);
  else {
    if (f->handle >= 0 && p->st) {
      microtcp_tcp_close(p->st, p->now, f->handle);
      drain(p);
    }
    close(f->osfd);
    f->used = false;
  }
  leave(p);
  return r;
}

int microtcp_pd_shutdown(void *ud, int fd, int how) {
  struct pd *p = ud;
  enter(p);
  struct pd_fd *f = get_fd(p, fd);
  int r = 0;
  if (!f) r = set_errno(MICROTCP_EBADF);
  else if (f->handle < 0) r = set_errno(MICROTCP_ENOTCONN);
  else if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) r = set_errno(MICROTCP_EINVAL);
  else {
    if (how == SHUT_RD || how == SHUT_RDWR) f->rd_shut = true;
    if (how == SHUT_WR || how == SHUT_RDWR) {
      int k = microtcp_tcp_shutdown(p->st, p->now, f->handle);
      if (k < 0) r = set_errno(k);
      drain(p);
    }
  }
  leave(p);
  return r;
}

/* Map a (level, name, value) to a core option; 0 if unknown. */
static int map_opt(int level, int name, int value, int *opt, int64_t *v) {
  *v = value;
  if (level == SOL_SOCKET && name == SO_KEEPALIVE) *opt = MICROTCP_OPT_KEEPALIVE;
  else if (level == SOL_SOCKET && name == SO_SNDBUF) *opt = MICROTCP_OPT_SNDBUF;
  else if (level == SOL_SOCKET && name == SO_RCVBUF) *opt = MICROTCP_OPT_RCVBUF;
  else if (level == IPPROTO_TCP && name == TCP_NODELAY) *opt = MICROTCP_OPT_NODELAY;
  else if (level == IPPROTO_TCP && name == TCP_KEEPIDLE) { *opt = MICROTCP_OPT_KEEPIDLE_US; *v = (int64_t)value * 1000000; }
  else if (level == IPPROTO_TCP && name == TCP_KEEPINTVL) { *opt = MICROTCP_OPT_KEEPINTVL_US; *v = (int64_t)value * 1000000; }
  else if (level == IPPROTO_TCP && name == TCP_KEEPCNT) *opt = MICROTCP_OPT_KEEPCNT;
  else if (level == IPPROTO_TCP && name == TCP_MAXSEG) *opt = MICROTCP_OPT_MAXSEG;
  else if (level == IPPROTO_TCP && name == TCP_USER_TIMEOUT) { *opt = MICROTCP_OPT_USER_TIMEOUT_US; *v = (int64_t)value * 1000; }
  else return 0;
  return 1;
}

/* The value an option has on a socket that is not yet a stack handle: what
 * setsockopt stored for it, else the stack's default. */
static int64_t unbound_opt_value(const struct pd *p, const struct pd_fd *f, int opt) {
  for (int i = f->npending - 1; i >= 0; i--)
    if (f->pending_opts[i][0] == opt) return f->pending_opts[i][1];
  const microtcp_config *c = &p->cfg;
  switch (opt) {
  case MICROTCP_OPT_NODELAY: return c->tcp_nodelay;
  case MICROTCP_OPT_SNDBUF: return c->tcp_sndbuf;
  case MICROTCP_OPT_RCVBUF: return c->tcp_rcvbuf;
  case MICROTCP_OPT_KEEPIDLE_US: return c->tcp_keepidle_us;
  case MICROTCP_OPT_KEEPINTVL_US: return c->tcp_keepintvl_us;
  case MICROTCP_OPT_KEEPCNT: return c->tcp_keepcnt;
  case MICROTCP_OPT_MAXSEG: return c->tcp_mss;
  case MICROTCP_OPT_USER_TIMEOUT_US: return c->tcp_user_timeout_us;
  default: return 0;
  }
}

int microtcp_pd_setsockopt(void *ud, int fd, int level, int name, const void *val, socklen_t len) {
  struct pd *p = ud;
  enter(p);
  struct pd_fd *f = get_fd(p, fd);
  int r = 0, ival = 0;
  if (val && len >= sizeof(int)) memcpy(&ival, val, sizeof ival);
  int opt;
  int64_t v;
  if (!f) {
    r = set_errno(MICROTCP_EBADF);
  } else if (level == SOL_SOCKET && name == SO_REUSEADDR) {
    r = 0; /* ports are reusable as soon as the pool allows */
  } else if (level == SOL_SOCKET && name == SO_LINGER) {
    struct linger lg = {0, 0};
    if (val && len >= sizeof lg) memcpy(&lg, val, sizeof lg);
    opt = MICROTCP_OPT_LINGER_ZERO;
    v = lg.l_onoff && lg.l_linger == 0;
    goto apply;
  } else if (level == IPPROTO_TCP && name == TCP_CONGESTION) {
    opt = MICROTCP_OPT_CC;
    v = (val && len >= 5 && !strncmp(val, "cubic", 5)) ? MICROTCP_CC_CUBIC : MICROTCP_CC_NEWRENO;
    goto apply;
  } else if (map_opt(level, name, ival, &opt, &v)) {
  apply:
    if (f->handle >= 0) {
      int k = microtcp_tcp_setopt(p->st, f->handle, opt, v);
      if (k < 0) r = set_errno(k);
    } else if (f->npending < PD_PENDING_OPTS) {
      f->pending_opts[f->npending][0] = opt;
      f->pending_opts[f->npending][1] = (int)(v > 0x7fffffff ? 0x7fffffff : v);
      f->npending++;
    } else {
      errno = ENOBUFS;
      r = -1;
    }
  } else {
    errno = ENOPROTOOPT;
    r = -1;
  }
  leave(p);
  return r;
}

int microtcp_pd_getsockopt(void *ud, int fd, int level, int name, void *val, socklen_t *len) {
  struct pd *p = ud;
  enter(p);
  struct pd_fd *f = get_fd(p, fd);
  int r = 0, out = 0, opt;
  int64_t v;
  if (!f) {
    r = set_errno(MICROTCP_EBADF);
  } else if (level == SOL_SOCKET && name == SO_ERROR) {
    int e = f->handle >= 0 ? microtcp_socket_error(p->st, f->handle) : 0;
    out = e ? errno_of(e) : 0;
  } else if (map_opt(level, name, 0, &opt, &v)) {
    if (f->handle >= 0) {
      int k = microtcp_tcp_getopt(p->st, f->handle, opt, &v);
      if (k < 0) r = set_errno(k);
    } else {
      v = unbound_opt_value(p, f, opt);
    }
    if (opt == MICROTCP_OPT_KEEPIDLE_US || opt == MICROTCP_OPT_KEEPINTVL_US) v /= 1000000;
    if (opt == MICROTCP_OPT_USER_TIMEOUT_US) v /= 1000;
    out = (int)v;
  } else {
    errno = ENOPROTOOPT;
    r = -1;
  }
  if (r == 0 && val && len && *len >= sizeof out) {
    memcpy(val, &out, sizeof out);
    *len = sizeof out;
  }
  leave(p);
  return r;
}

static int poll_once(struct pd *p, struct pollfd *fds, nfds_t n) {
  int ready = 0;
  for (nfds_t i = 0; i < n; i++) {
    fds[i].revents = 0;
    struct pd_fd *f = get_fd(p, fds[i].fd);
    if (!f) {
      fds[i].revents = POLLNVAL;
      ready++;
      continue;
    }
    unsigned ev = f->handle >= 0 && p->st ? microtcp_poll(p->st, f->handle) : 0;
    if ((fds[i].events & POLLIN) && ((ev & MICROTCP_READABLE) || f->rd_shut)) fds[i].revents |= POLLIN;
    if ((fds[i].events & POLLOUT) && (ev & MICROTCP_WRITABLE)) fds[i].revents |= POLLOUT;
    if (ev & MICROTCP_ERROR) fds[i].revents |= POLLERR;
    if (ev & MICROTCP_HANGUP) fds[i].revents |= POLLHUP;
    if (fds[i].revents) ready++;
  }
  return ready;
}

int microtcp_pd_poll(void *ud, struct pollfd *fds, nfds_t n, int timeout) {
  struct pd *p = ud;
  enter(p);
  uint64_t until = timeout < 0 ? UINT64_MAX : p->now + (uint64_t)timeout * 1000u;
  int ready;
  for (;;) {
    ready = poll_once(p, fds, n);
    if (ready || p->now >= until) break;
    if (on_main(p)) {
      /* Virtual time passes up to the timeout or the next timer. */
      uint64_t d = p->st ? microtcp_deadline(p->st) : UINT64_MAX;
      if (d > until && until == UINT64_MAX) {
        fprintf(stderr, "microtcp-packetdrill: poll with no timeout would block packetdrill's "
                        "main thread forever; mark it blocking in the script\n");
        errno = EDEADLK;
        ready = -1;
        break;
      }
      advance_to(p, d < until ? (d > p->now ? d : p->now) : until);
    } else {
      wait_progress(p, "poll");
      if (p->now >= until) {
        ready = poll_once(p, fds, n);
        break;
      }
    }
  }
  returning(p);
  leave(p);
  return ready;
}

int microtcp_pd_netdev_send(void *ud, const void *buf, size_t count) {
  struct pd *p = ud;
  const uint8_t *ip = buf;
  if (count < 20 || count > PD_MAX_FRAME - 14 || (ip[0] >> 4) != 4) {
    fprintf(stderr, "microtcp-packetdrill: netdev_send: not an IPv4 packet of 20..65535 bytes (%zu bytes)\n",
            count);
    errno = EINVAL;
    return -1;
  }
  enter(p);
  uint32_t dst = (uint32_t)ip[16] << 24 | (uint32_t)ip[17] << 16 | (uint32_t)ip[18] << 8 | ip[19];
  int r = 0;
  if (ensure_stack(p, dst) < 0) {
    errno = ENOMEM;
    r = -1;
  } else {
    /* Larger than the stack's MTU: the stack counts and drops it, as a NIC would. */
    memcpy(p->frame, stack_mac, 6);
    memcpy(p->frame + 6, gw_mac, 6);
    p->frame[12] = 0x08;
    p->frame[13] = 0x00;
    memcpy(p->frame + 14, buf, count);
    microtcp_input(p->st, p->now, p->frame, count + 14);
    drain(p);
    wake_sleepers(p);
  }
  leave(p);
  return r;
}

int microtcp_pd_netdev_receive(void *ud, void *buf, size_t *count, long long *time_usecs) {
  struct pd *p = ud;
  enter(p);
  if (p->st) drain(p);
  /* packetdrill reads the next outbound packet without waiting: let virtual
   * time run to the stack's next timer until something is sent. */
  uint64_t limit = p->now + p->recv_timeout_us;
  while (p->qlen == 0) {
    uint64_t d = p->st ? microtcp_deadline(p->st) : UINT64_MAX;
    if (d == UINT64_MAX || d > limit) {
      fprintf(stderr,
              "microtcp-packetdrill: the script expects an outbound packet but the stack sends "
              "nothing within %llu s of virtual time (no timer pending)\n",
              (unsigned long long)(p->recv_timeout_us / 1000000u));
      break;
    }
    advance_to(p, d > p->now ? d : p->now);
  }
  if (p->qlen == 0) {
    *count = 0; /* packetdrill reports it as an empty packet: the script fails, loudly */
  } else {
    struct pd_pkt *k = &p->q[p->qhead];
    size_t n = k->len < *count ? k->len : *count;
    memcpy(buf, k->data, n);
    free(k->data);
    *count = n;
    if (time_usecs) *time_usecs = (long long)(PD_TIME_BASE + k->at);
    p->qhead = (p->qhead + 1) % PD_MAX_PKTS;
    p->qlen--;
  }
  leave(p);
  return 0;
}

int microtcp_pd_usleep(void *ud, useconds_t us) {
  struct pd *p = ud;
  enter(p);
  /* packetdrill passes its wait (minus 20 µs) as a 32-bit useconds_t: a
   * wait over 71.6 minutes arrives truncated, and once the remainder is a
   * multiple of 2^32 it arrives as 0. It never asks for 0 otherwise (it
   * only sleeps for waits over 20 µs), so 0 means 2^32. */
  uint64_t n = us ? (uint64_t)us : (1ull << 32);
  advance_to(p, p->now + n);
  leave(p);
  return 0;
}

int microtcp_pd_gettimeofday(void *ud, struct timeval *tv, struct timezone *tz) {
  struct pd *p = ud;
  (void)tz;
  uint64_t t;
  pthread_mutex_lock(&p->mu);
  if (!on_main(p)) {
    t = returned.valid ? returned.at : p->now;
    returned.valid = false;
  } else {
    /* Two reads in a row with nothing in between: packetdrill is spinning
     * until an event's time, so let 1 µs pass. */
    if (p->spin_armed) advance_to(p, p->now + 1);
    p->spin_armed = true;
    t = p->now;
  }
  pthread_mutex_unlock(&p->mu);
  t += PD_TIME_BASE;
  tv->tv_sec = (time_t)(t / 1000000);
  tv->tv_usec = (suseconds_t)(t % 1000000);
  return 0;
}

void packetdrill_interface_init(const char *flags, struct packetdrill_interface *ifc) {
  struct pd *p = calloc(1, sizeof *p);
  memset(ifc, 0, sizeof *ifc);
  if (!p) {
    fprintf(stderr, "microtcp-packetdrill: out of memory\n");
    return;
  }
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  pthread_cond_init(&p->ack_cv, NULL);
  p->main_thread = pthread_self(); /* packetdrill calls init from its main thread */
  parse_flags(p, flags);
  ifc->userdata = p;
  ifc->free = pd_free;
  ifc->socket = microtcp_pd_socket;
  ifc->bind = microtcp_pd_bind;
  ifc->listen = microtcp_pd_listen;
  ifc->accept = microtcp_pd_accept;
  ifc->connect = microtcp_pd_connect;
  ifc->read = microtcp_pd_read;
  ifc->readv = microtcp_pd_readv;
  ifc->recv = microtcp_pd_recv;
  ifc->recvfrom = microtcp_pd_recvfrom;
  ifc->recvmsg = microtcp_pd_recvmsg;
  ifc->write = microtcp_pd_write;
  ifc->writev = microtcp_pd_writev;
  ifc->send = microtcp_pd_send;
  ifc->sendto = microtcp_pd_sendto;
  ifc->sendmsg = microtcp_pd_sendmsg;
  ifc->fcntl = microtcp_pd_fcntl;
  ifc->ioctl = microtcp_pd_ioctl;
  ifc->close = microtcp_pd_close;
  ifc->shutdown = microtcp_pd_shutdown;
  ifc->getsockopt = microtcp_pd_getsockopt;
  ifc->setsockopt = microtcp_pd_setsockopt;
  ifc->poll = microtcp_pd_poll;
  ifc->netdev_send = microtcp_pd_netdev_send;
  ifc->netdev_receive = microtcp_pd_netdev_receive;
  ifc->usleep = microtcp_pd_usleep;
  ifc->gettimeofday = microtcp_pd_gettimeofday;
  /* epoll, pipe and splice: not supported (NULL, as the interface allows) */
}
