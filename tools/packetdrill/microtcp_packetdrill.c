/*
 * libmicrotcp-packetdrill.so: packetdrill's shared-object interface backed by
 * one microtcp stack on a virtual clock.
 *
 * - Packets cross as bare IPv4: netdev_send wraps them in Ethernet for the
 *   stack (the gateway's MAC is pinned), netdev_receive returns what the stack
 *   sent with the Ethernet header stripped (ARP never leaves the shim).
 * - Time is virtual: usleep advances it and fires the stack's timers;
 *   gettimeofday reads it. Runs are deterministic and fast.
 * - packetdrill runs blocking calls on a second thread: every entry point takes
 *   one mutex; a blocking call waits on a condition variable that netdev_send
 *   and usleep broadcast after the stack made progress.
 * - File descriptors start at 3, like a fresh Linux process.
 *
 * --so_flags (space separated key=value, all optional):
 *   ip=A.B.C.D        local address (default: learned from the first inbound
 *                     packet's destination, or 192.168.0.2 if a socket call
 *                     needs the stack first)
 *   gw=A.B.C.D        gateway (default 192.168.0.1), netmask /16
 *   mss=N wscale=N sack=0|1 ts=0|1 iw=N (initial window, segments)
 *   cc=reno|cubic rto_min_us=N rto_initial_us=N delack_us=N
 *   sndbuf=N rcvbuf=N  per-connection buffer bytes
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

#include "microtcp/microtcp.h"
#include "packetdrill_interface.h"

#define PD_MAX_FDS 64
#define PD_FD_BASE 3
#define PD_TIME_BASE 1000000000000ull /* gettimeofday epoch offset (µs) */
#define PD_MAX_PKTS 4096

enum fd_kind { FD_FREE = 0, FD_TCP };

struct pd_fd {
  enum fd_kind kind;
  int handle;         /* listener or connection handle, -1 before listen/connect */
  uint16_t port;      /* bound port */
  bool nonblock;
  int pending_opts[16][2];
  int npending;
};

struct pd_pkt {
  uint64_t at;
  uint16_t len;
  uint8_t data[1514];
};

struct pd {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  microtcp_config cfg;
  bool have_ip;
  void *arena;
  microtcp_stack *st;
  uint64_t now;
  struct pd_fd fds[PD_MAX_FDS];
  struct pd_pkt *q;
  size_t qhead, qlen;
};

static const uint8_t stack_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
static const uint8_t gw_mac[6] = {0x02, 0, 0, 0, 0, 0x01};

/* ---- stack plumbing (callers hold mu) -------------------------------------------- */
static void drain(struct pd *p) {
  uint8_t frame[1600];
  int n;
  while ((n = microtcp_output(p->st, p->now, frame, sizeof frame)) > 0) {
    if (n < 14 || frame[12] != 0x08 || frame[13] != 0x00) continue; /* ARP stays inside */
    if (p->qlen == PD_MAX_PKTS) continue;
    struct pd_pkt *k = &p->q[(p->qhead + p->qlen++) % PD_MAX_PKTS];
    k->at = p->now;
    k->len = (uint16_t)(n - 14);
    memcpy(k->data, frame + 14, (size_t)(n - 14));
  }
}

static int ensure_stack(struct pd *p, uint32_t learned_ip) {
  if (p->st) return 0;
  if (!p->have_ip) p->cfg.ip = learned_ip ? learned_ip : 0xc0a80002u;
  size_t need = microtcp_footprint(&p->cfg);
  if (!need) return -1;
  p->arena = aligned_alloc(16, (need + 15) & ~(size_t)15);
  int err;
  p->st = microtcp_init(p->arena, need, &p->cfg, p->now, &err);
  if (!p->st) return -1;
  microtcp_arp_add_static(p->st, p->cfg.gateway, gw_mac);
  drain(p);
  return 0;
}

static void advance_to(struct pd *p, uint64_t t) {
  while (p->st) {
    uint64_t d = microtcp_deadline(p->st);
    if (d > t) break;
    if (d > p->now) p->now = d;
    microtcp_advance(p->st, p->now);
    drain(p);
  }
  if (t > p->now) p->now = t;
  if (p->st) {
    microtcp_advance(p->st, p->now);
    drain(p);
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
  if (fd < PD_FD_BASE || fd >= PD_FD_BASE + PD_MAX_FDS) return NULL;
  struct pd_fd *f = &p->fds[fd - PD_FD_BASE];
  return f->kind == FD_FREE ? NULL : f;
}

static void apply_opts(struct pd *p, struct pd_fd *f) {
  for (int i = 0; i < f->npending; i++)
    microtcp_tcp_setopt(p->st, f->handle, f->pending_opts[i][0], f->pending_opts[i][1]);
  f->npending = 0;
}

/* ---- flags ------------------------------------------------------------------------- */
static void parse_flags(struct pd *p, const char *flags) {
  microtcp_config *c = &p->cfg;
  microtcp_config_default(c);
  memcpy(c->mac, stack_mac, 6);
  c->netmask = 0xffff0000u;
  c->gateway = 0xc0a80001u;
  c->arp_gratuitous = false;
  c->max_tcp = 32;
  c->max_listeners = 4;
  c->tcp_sndbuf = 65535;
  c->tcp_rcvbuf = 65535;
  c->tcp_wscale = 7; /* the same defaults as the script runner (tests/tcp/README.md) */
  c->tcp_challenge_ack_per_s = 100;
  c->frames = 128;
  for (int i = 0; i < 16; i++) c->secret[i] = (uint8_t)(0x70 + i);
  char buf[512];
  snprintf(buf, sizeof buf, "%s", flags ? flags : "");
  char *save = NULL;
  for (char *tok = strtok_r(buf, " ,", &save); tok; tok = strtok_r(NULL, " ,", &save)) {
    char *eq = strchr(tok, '=');
    if (!eq) continue;
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
    else if (!strcmp(k, "wscale")) c->tcp_wscale = (uint8_t)n;
    else if (!strcmp(k, "sack")) c->tcp_sack = n != 0;
    else if (!strcmp(k, "ts")) c->tcp_timestamps = n != 0;
    else if (!strcmp(k, "iw")) c->tcp_initial_cwnd = (uint8_t)n;
    else if (!strcmp(k, "cc")) c->tcp_cc = !strcmp(v, "cubic") ? MICROTCP_CC_CUBIC : MICROTCP_CC_NEWRENO;
    else if (!strcmp(k, "rto_min_us")) c->tcp_rto_min_us = (uint32_t)n;
    else if (!strcmp(k, "rto_initial_us")) c->tcp_rto_initial_us = (uint32_t)n;
    else if (!strcmp(k, "delack_us")) c->tcp_delack_us = (uint32_t)n;
    else if (!strcmp(k, "sndbuf")) c->tcp_sndbuf = (uint32_t)n;
    else if (!strcmp(k, "rcvbuf")) c->tcp_rcvbuf = (uint32_t)n;
    else fprintf(stderr, "microtcp-packetdrill: unknown so_flag %s (ignored)\n", k);
  }
}

/* ---- the interface ------------------------------------------------------------------- */
#define LOCK(p) pthread_mutex_lock(&(p)->mu)
#define UNLOCK(p) pthread_mutex_unlock(&(p)->mu)

static void pd_free(void *ud) {
  struct pd *p = ud;
  free(p->arena);
  free(p->q);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  free(p);
}

int microtcp_pd_socket(void *ud, int domain, int type, int protocol) {
  struct pd *p = ud;
  (void)protocol;
  if (domain != AF_INET || (type & 0xf) != SOCK_STREAM) {
    errno = EAFNOSUPPORT;
    return -1;
  }
  LOCK(p);
  for (int i = 0; i < PD_MAX_FDS; i++) {
    if (p->fds[i].kind == FD_FREE) {
      memset(&p->fds[i], 0, sizeof p->fds[i]);
      p->fds[i].kind = FD_TCP;
      p->fds[i].handle = -1;
      p->fds[i].nonblock = (type & SOCK_NONBLOCK) != 0;
      UNLOCK(p);
      return PD_FD_BASE + i;
    }
  }
  UNLOCK(p);
  errno = EMFILE;
  return -1;
}

int microtcp_pd_bind(void *ud, int fd, const struct sockaddr *addr, socklen_t len) {
  struct pd *p = ud;
  LOCK(p);
  struct pd_fd *f = get_fd(p, fd);
  int r = 0;
  if (!f) r = set_errno(MICROTCP_EBADF);
  else if (!addr || len < sizeof(struct sockaddr_in) || addr->sa_family != AF_INET) r = set_errno(MICROTCP_EINVAL);
  else f->port = ntohs(((const struct sockaddr_in *)addr)->sin_port);
  UNLOCK(p);
  return r;
}

int microtcp_pd_listen(void *ud, int fd, int backlog) {
  struct pd *p = ud;
  LOCK(p);
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
  UNLOCK(p);
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

static int alloc_fd_for(struct pd *p, int handle) {
  for (int i = 0; i < PD_MAX_FDS; i++)
    if (p->fds[i].kind == FD_FREE) {
      memset(&p->fds[i], 0, sizeof p->fds[i]);
      p->fds[i].kind = FD_TCP;
      p->fds[i].handle = handle;
      return PD_FD_BASE + i;
    }
  return -1;
}

int microtcp_pd_accept(void *ud, int fd, struct sockaddr *addr, socklen_t *len) {
  struct pd *p = ud;
  LOCK(p);
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
      r = alloc_fd_for(p, h);
      if (r < 0) {
        errno = EMFILE;
        break;
      }
      fill_addr(addr, len, peer.ip, peer.port);
      break;
    }
    if (h != MICROTCP_EAGAIN || f->nonblock) {
      r = set_errno(h);
      break;
    }
    pthread_cond_wait(&p->cv, &p->mu);
  }
  UNLOCK(p);
  return r;
}

int microtcp_pd_connect(void *ud, int fd, const struct sockaddr *addr, socklen_t len) {
  struct pd *p = ud;
  LOCK(p);
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
          pthread_cond_wait(&p->cv, &p->mu);
        }
      }
    }
  }
  UNLOCK(p);
  return r;
}

static ssize_t do_recv(struct pd *p, int fd, void *buf, size_t n) {
  LOCK(p);
  struct pd_fd *f = get_fd(p, fd);
  ssize_t r;
  for (;;) {
    if (!f || f->handle < 0) {
      r = set_errno(MICROTCP_EBADF);
      break;
    }
    int k = microtcp_tcp_recv(p->st, p->now, f->handle, buf, n);
    if (k >= 0) {
      r = k;
      drain(p); /* a window update may be due */
      break;
    }
    if (k != MICROTCP_EAGAIN || f->nonblock) {
      r = set_errno(k);
      break;
    }
    pthread_cond_wait(&p->cv, &p->mu);
  }
  UNLOCK(p);
  return r;
}

static ssize_t do_send(struct pd *p, int fd, const void *buf, size_t n) {
  LOCK(p);
  struct pd_fd *f = get_fd(p, fd);
  ssize_t done = 0, r = 0;
  for (;;) {
    if (!f || f->handle < 0) {
      r = set_errno(MICROTCP_EBADF);
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
    if (k != MICROTCP_EAGAIN || f->nonblock) {
      r = done ? done : set_errno(k);
      break;
    }
    pthread_cond_wait(&p->cv, &p->mu); /* blocking write: all of it */
  }
  UNLOCK(p);
  return r;
}

ssize_t microtcp_pd_read(void *ud, int fd, void *buf, size_t n) { return do_recv(ud, fd, buf, n); }
ssize_t microtcp_pd_recv(void *ud, int fd, void *buf, size_t n, int flags) {
  (void)flags;
  return do_recv(ud, fd, buf, n);
}
ssize_t microtcp_pd_recvfrom(void *ud, int fd, void *buf, size_t n, int flags, struct sockaddr *a,
                             socklen_t *l) {
  (void)flags, (void)a, (void)l;
  return do_recv(ud, fd, buf, n);
}
ssize_t microtcp_pd_readv(void *ud, int fd, const struct iovec *iov, int cnt) {
  if (cnt < 1) return 0;
  return do_recv(ud, fd, iov[0].iov_base, iov[0].iov_len);
}
ssize_t microtcp_pd_recvmsg(void *ud, int fd, struct msghdr *m, int flags) {
  (void)flags;
  if (!m || m->msg_iovlen < 1) return 0;
  return do_recv(ud, fd, m->msg_iov[0].iov_base, m->msg_iov[0].iov_len);
}
ssize_t microtcp_pd_write(void *ud, int fd, const void *buf, size_t n) { return do_send(ud, fd, buf, n); }
ssize_t microtcp_pd_send(void *ud, int fd, const void *buf, size_t n, int flags) {
  (void)flags;
  return do_send(ud, fd, buf, n);
}
ssize_t microtcp_pd_sendto(void *ud, int fd, const void *buf, size_t n, int flags,
                           const struct sockaddr *a, socklen_t l) {
  (void)flags, (void)a, (void)l;
  return do_send(ud, fd, buf, n);
}
ssize_t microtcp_pd_writev(void *ud, int fd, const struct iovec *iov, int cnt) {
  ssize_t total = 0;
  for (int i = 0; i < cnt; i++) {
    ssize_t r = do_send(ud, fd, iov[i].iov_base, iov[i].iov_len);
    if (r < 0) return total ? total : r;
    total += r;
  }
  return total;
}
ssize_t microtcp_pd_sendmsg(void *ud, int fd, const struct msghdr *m, int flags) {
  (void)flags;
  return m ? microtcp_pd_writev(ud, fd, m->msg_iov, (int)m->msg_iovlen) : 0;
}

int microtcp_pd_fcntl(void *ud, int fd, int cmd, ...) {
  struct pd *p = ud;
  va_list ap;
  va_start(ap, cmd);
  long arg = va_arg(ap, long);
  va_end(ap);
  LOCK(p);
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
  UNLOCK(p);
  return r;
}

int microtcp_pd_ioctl(void *ud, int fd, unsigned long req, ...) {
  (void)ud, (void)fd, (void)req;
  errno = ENOTTY;
  return -1;
}

int microtcp_pd_close(void *ud, int fd) {
  struct pd *p = ud;
  LOCK(p);
  struct pd_fd *f = get_fd(p, fd);
  int r = 0;
  if (!f) r = set_errno(MICROTCP_EBADF);
  else {
    if (f->handle >= 0 && p->st) {
      microtcp_tcp_close(p->st, p->now, f->handle);
      drain(p);
    }
    f->kind = FD_FREE;
  }
  UNLOCK(p);
  return r;
}

int microtcp_pd_shutdown(void *ud, int fd, int how) {
  struct pd *p = ud;
  LOCK(p);
  struct pd_fd *f = get_fd(p, fd);
  int r = 0;
  if (!f || f->handle < 0) r = set_errno(MICROTCP_EBADF);
  else if (how == SHUT_WR || how == SHUT_RDWR) {
    int k = microtcp_tcp_shutdown(p->st, p->now, f->handle);
    if (k < 0) r = set_errno(k);
    drain(p);
  }
  UNLOCK(p);
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

int microtcp_pd_setsockopt(void *ud, int fd, int level, int name, const void *val, socklen_t len) {
  struct pd *p = ud;
  LOCK(p);
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
    } else if (f->npending < 16) {
      f->pending_opts[f->npending][0] = opt;
      f->pending_opts[f->npending][1] = (int)(v > 0x7fffffff ? 0x7fffffff : v);
      f->npending++;
    }
  } else {
    errno = ENOPROTOOPT;
    r = -1;
  }
  UNLOCK(p);
  return r;
}

int microtcp_pd_getsockopt(void *ud, int fd, int level, int name, void *val, socklen_t *len) {
  struct pd *p = ud;
  LOCK(p);
  struct pd_fd *f = get_fd(p, fd);
  int r = 0, out = 0, opt;
  int64_t v;
  if (!f) {
    r = set_errno(MICROTCP_EBADF);
  } else if (level == SOL_SOCKET && name == SO_ERROR) {
    int e = f->handle >= 0 ? microtcp_socket_error(p->st, f->handle) : 0;
    out = e ? errno_of(e) : 0;
  } else if (map_opt(level, name, 0, &opt, &v) && f->handle >= 0) {
    int k = microtcp_tcp_getopt(p->st, f->handle, opt, &v);
    if (k < 0) r = set_errno(k);
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
  UNLOCK(p);
  return r;
}

int microtcp_pd_poll(void *ud, struct pollfd *fds, nfds_t n, int timeout) {
  struct pd *p = ud;
  LOCK(p);
  int ready;
  for (;;) {
    ready = 0;
    for (nfds_t i = 0; i < n; i++) {
      fds[i].revents = 0;
      struct pd_fd *f = get_fd(p, fds[i].fd);
      if (!f) {
        fds[i].revents = POLLNVAL;
        ready++;
        continue;
      }
      unsigned ev = f->handle >= 0 && p->st ? microtcp_poll(p->st, f->handle) : 0;
      if ((fds[i].events & POLLIN) && (ev & MICROTCP_READABLE)) fds[i].revents |= POLLIN;
      if ((fds[i].events & POLLOUT) && (ev & MICROTCP_WRITABLE)) fds[i].revents |= POLLOUT;
      if (ev & MICROTCP_ERROR) fds[i].revents |= POLLERR;
      if (ev & MICROTCP_HANGUP) fds[i].revents |= POLLHUP;
      if (fds[i].revents) ready++;
    }
    if (ready || timeout == 0) break;
    pthread_cond_wait(&p->cv, &p->mu); /* virtual time: wait for progress */
  }
  UNLOCK(p);
  return ready;
}

int microtcp_pd_netdev_send(void *ud, const void *buf, size_t count) {
  struct pd *p = ud;
  const uint8_t *ip = buf;
  if (count < 20 || count > 1500 || (ip[0] >> 4) != 4) {
    errno = EINVAL;
    return -1;
  }
  LOCK(p);
  uint32_t dst = (uint32_t)ip[16] << 24 | (uint32_t)ip[17] << 16 | (uint32_t)ip[18] << 8 | ip[19];
  int r = 0;
  if (ensure_stack(p, dst) < 0) {
    errno = ENOMEM;
    r = -1;
  } else {
    uint8_t frame[1514];
    memcpy(frame, stack_mac, 6);
    memcpy(frame + 6, gw_mac, 6);
    frame[12] = 0x08;
    frame[13] = 0x00;
    memcpy(frame + 14, buf, count);
    microtcp_input(p->st, p->now, frame, count + 14);
    drain(p);
  }
  pthread_cond_broadcast(&p->cv);
  UNLOCK(p);
  return r;
}

int microtcp_pd_netdev_receive(void *ud, void *buf, size_t *count, long long *time_usecs) {
  struct pd *p = ud;
  LOCK(p);
  if (p->st) drain(p);
  if (p->qlen == 0) {
    *count = 0;
  } else {
    struct pd_pkt *k = &p->q[p->qhead];
    size_t n = k->len < *count ? k->len : *count;
    memcpy(buf, k->data, n);
    *count = n;
    if (time_usecs) *time_usecs = (long long)(PD_TIME_BASE + k->at);
    p->qhead = (p->qhead + 1) % PD_MAX_PKTS;
    p->qlen--;
  }
  UNLOCK(p);
  return 0;
}

int microtcp_pd_usleep(void *ud, useconds_t us) {
  struct pd *p = ud;
  LOCK(p);
  advance_to(p, p->now + us);
  pthread_cond_broadcast(&p->cv);
  UNLOCK(p);
  return 0;
}

int microtcp_pd_gettimeofday(void *ud, struct timeval *tv, struct timezone *tz) {
  struct pd *p = ud;
  (void)tz;
  LOCK(p);
  uint64_t t = PD_TIME_BASE + p->now;
  UNLOCK(p);
  tv->tv_sec = (time_t)(t / 1000000);
  tv->tv_usec = (suseconds_t)(t % 1000000);
  return 0;
}

void packetdrill_interface_init(const char *flags, struct packetdrill_interface *ifc) {
  struct pd *p = calloc(1, sizeof *p);
  if (!p) return;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  p->q = calloc(PD_MAX_PKTS, sizeof *p->q);
  parse_flags(p, flags);
  memset(ifc, 0, sizeof *ifc);
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
