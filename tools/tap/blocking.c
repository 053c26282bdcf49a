/*
 * The blocking API (include/microtcp/blocking.h) over the pure core.
 *
 * Threads: one stack thread drives the core (frames in, timers, frames out)
 * and sleeps in poll() on the frame fd and an eventfd until a frame arrives or
 * the core's next deadline. API calls take the same mutex and call the core's
 * non-blocking functions; when one would block they wait on a condition
 * variable broadcast by the core's event callback (microtcp_config.event),
 * which the core calls whenever a socket's readiness may have changed. Core
 * calls all happen under the mutex with a fresh CLOCK_MONOTONIC time, so time
 * never goes backwards for the core.
 *
 * An API call can arm an earlier timer than the one the stack thread sleeps
 * towards (a send arms the retransmission timer); leave() then writes the
 * eventfd so the thread recomputes its sleep. Frames the API call produces
 * are sent at once by the calling thread (pump_out), not by the stack thread.
 */
#define _GNU_SOURCE
#include "../../sim/prng.h"
#include "microtcp/blocking.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"

struct microtcp {
  pthread_mutex_t mu;
  pthread_cond_t cv; /* broadcast by the event callback and on destroy */
  pthread_t thread;
  microtcp_stack *st;
  void *arena;
  int fd;      /* TAP device, or -1 with callbacks */
  int wake_fd; /* eventfd: wakes the stack thread */
  microtcp_callbacks_t cb;
  char ifname[16];
  bool stop;
  bool sleeping;       /* the stack thread is (about to be) in poll() ... */
  uint64_t sleep_until; /* ... until this deadline */
  unsigned active;     /* API calls in progress (destroy waits for 0) */
  size_t mux_cursor;
  struct microtcp_sock *socks; /* every open socket, freed by destroy */
};

struct microtcp_sock {
  microtcp_t *m;
  struct microtcp_sock *prev, *next;
  int h;
  bool nonblock;
  int err;
};

static _Thread_local int last_error;

int microtcp_last_error(void) { return last_error; }

static uint64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- frame I/O (caller holds mu) ---------------------------------------------- */
static void pump_out(microtcp_t *m, uint64_t now) {
  uint8_t buf[2048];
  int n;
  while ((n = microtcp_output(m->st, now, buf, sizeof buf)) > 0) {
    if (m->fd >= 0) {
      /* a full device queue drops the frame, like a congested wire */
      if (write(m->fd, buf, (size_t)n) < 0) continue;
    } else {
      m->cb.send_frame(m->cb.ctx, buf, (size_t)n);
    }
  }
}

static ssize_t read_frame(microtcp_t *m, uint8_t *buf, size_t cap) {
  if (m->fd >= 0) return read(m->fd, buf, cap);
  return m->cb.recv_frame(m->cb.ctx, buf, cap);
}

/* ---- the stack thread ------------------------------------------------------------ */
static void on_event(void *ctx, int handle, unsigned ready) {
  (void)handle;
  (void)ready;
  microtcp_t *m = ctx;
  pthread_cond_broadcast(&m->cv); /* we are under mu: every core call is */
}

static void *stack_thread(void *arg) {
  microtcp_t *m = arg;
  uint8_t buf[2048];
  int frame_fd = m->fd >= 0 ? m->fd : m->cb.wait_fd;
  pthread_mutex_lock(&m->mu);
  while (!m->stop) {
    uint64_t now = mono_us();
    for (int k = 0; k < 256; k++) { /* bounded so timers keep running under a flood */
      ssize_t n = read_frame(m, buf, sizeof buf);
      if (n <= 0) break;
      microtcp_input(m->st, now, buf, (size_t)n);
    }
    microtcp_advance(m->st, now);
    pump_out(m, now);
    uint64_t d = microtcp_deadline(m->st);
    m->sleeping = true;
    m->sleep_until = d;
    pthread_mutex_unlock(&m->mu);

    now = mono_us();
    int timeout = -1;
    if (d <= now) timeout = 0;
    else if (d != UINT64_MAX) timeout = (d - now + 999) / 1000 > 60000 ? 60000 : (int)((d - now + 999) / 1000);
    if (frame_fd < 0 && (timeout < 0 || timeout > 1)) timeout = 1; /* recv_frame must be polled */
    struct pollfd p[2] = {{m->wake_fd, POLLIN, 0}, {frame_fd, POLLIN, 0}};
    if (poll(p, frame_fd >= 0 ? 2 : 1, timeout) > 0 && (p[0].revents & POLLIN)) {
      uint64_t v;
      if (read(m->wake_fd, &v, sizeof v) < 0) { /* nothing to do: it only wakes us */ }
    }
    pthread_mutex_lock(&m->mu);
    m->sleeping = false;
  }
  pthread_mutex_unlock(&m->mu);
  return NULL;
}

/* ---- entering and leaving API calls ------------------------------------------------ */
static void enter(microtcp_t *m) {
  pthread_mutex_lock(&m->mu);
  m->active++;
}

static void leave(microtcp_t *m) {
  /* Wake the stack thread if this call armed a timer earlier than its sleep. */
  if (m->sleeping && !m->stop && microtcp_deadline(m->st) < m->sleep_until) {
    uint64_t one = 1;
    if (write(m->wake_fd, &one, sizeof one) < 0) { /* the counter is already non-zero */ }
    m->sleeping = false;
  }
  m->active--;
  if (m->stop && m->active == 0) pthread_cond_broadcast(&m->cv);
  pthread_mutex_unlock(&m->mu);
}

/* Sleep until the event callback (or destroy) signals; ECONNABORTED once the
 * stack is being destroyed, else 0. */
static int wait_event(microtcp_t *m) {
  if (m->stop) return MICROTCP_ECONNABORTED;
  pthread_cond_wait(&m->cv, &m->mu);
  return m->stop ? MICROTCP_ECONNABORTED : 0;
}

static void free_sock(microtcp_sock_t *s);

/* Record err for the socket and the thread; returns -1. For a socket, call it
 * before leave(): once the mutex is released, destroy may free the socket. */
static int fail(microtcp_sock_t *s, int err) {
  last_error = err;
  if (s) s->err = err;
  return -1;
}

/* ---- creating and destroying -------------------------------------------------------- */
static microtcp_t *start(uint32_t ip, unsigned prefix, const char *mac, int fd, microtcp_callbacks_t cb) {
  microtcp_t *m = calloc(1, sizeof *m);
  if (!m) {
    last_error = MICROTCP_ENOMEM;
    return NULL;
  }
  microtcp_config cfg;
  microtcp_config_default(&cfg);
  cfg.ip = ip;
  cfg.netmask = prefix ? 0xffffffffu << (32 - prefix) : 0;
  if (tap_parse_mac(mac ? mac : "02:00:00:00:00:02", cfg.mac) < 0) {
    free(m);
    last_error = MICROTCP_EINVAL;
    return NULL;
  }
  /* A program on a PC: pools well above the microcontroller defaults. The
   * core zeroes its whole arena at init, so this is what the stack costs in
   * memory from the start: 256 connections x 2 x 128 KiB = 64 MiB. */
  cfg.max_tcp = 256;
  cfg.max_listeners = 16;
  cfg.tcp_sndbuf = cfg.tcp_rcvbuf = 128 * 1024;
  cfg.frames = 1024;
  cfg.arp_pending = 64;
  cfg.reasm_slots = 8;
  cfg.reasm_bytes = 128 * 1024;
  cfg.tcp_rto_min_us = 200000;
  cfg.icmp_rate_per_s = 0;
  cfg.event = on_event;
  cfg.event_ctx = m;
  /* The secret keys ISNs and ephemeral ports (RFC 6528): unpredictable per run. */
  uint64_t seed[2] = {mono_us() ^ (uint64_t)getpid() << 32, (uint64_t)(uintptr_t)m};
  struct timespec rt;
  clock_gettime(CLOCK_REALTIME, &rt);
  seed[1] ^= prng_golden((uint64_t)rt.tv_nsec);
  memcpy(cfg.secret, seed, sizeof cfg.secret);

  size_t need = microtcp_footprint(&cfg);
  m->arena = need ? aligned_alloc(16, (need + 15) & ~(size_t)15) : NULL;
  int err = MICROTCP_ENOMEM;
  m->st = m->arena ? microtcp_init(m->arena, need, &cfg, mono_us(), &err) : NULL;
  m->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (!m->st || m->wake_fd < 0) {
    last_error = m->st ? MICROTCP_ENOMEM : err;
    if (m->wake_fd >= 0) close(m->wake_fd);
    free(m->arena);
    free(m);
    return NULL;
  }
  m->fd = fd;
  m->cb = cb;
  pthread_mutex_init(&m->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* mux_wait timeouts */
  pthread_cond_init(&m->cv, &ca);
  pthread_condattr_destroy(&ca);
  if (pthread_create(&m->thread, NULL, stack_thread, m) != 0) {
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    close(m->wake_fd);
    free(m->arena);
    free(m);
    last_error = MICROTCP_ENOMEM;
    return NULL;
  }
  return m;
}

microtcp_t *microtcp_create(const char *tap_ip, const char *stack_ip, const char *tap_mac,
                            const char *stack_mac) {
  uint32_t host, ip;
  unsigned host_prefix, prefix;
  uint8_t hmac[6];
  if (tap_parse_ipv4(tap_ip, &host, &host_prefix, 24) < 0 || tap_parse_ipv4(stack_ip, &ip, &prefix, 24) < 0 ||
      (tap_mac && tap_parse_mac(tap_mac, hmac) < 0)) {
    last_error = MICROTCP_EINVAL;
    errno = EINVAL;
    return NULL;
  }
  char err[256], name[16];
  int fd = tap_open("microtcp%d", 0, name, err, sizeof err);
  if (fd < 0 || tap_configure(name, host, host_prefix, tap_mac ? hmac : NULL, err, sizeof err) < 0) {
    int e = errno;
    if (fd >= 0) close(fd);
    last_error = MICROTCP_EINVAL;
    errno = e; /* the OS reason: ENOENT, EPERM, EBUSY, ... */
    return NULL;
  }
  microtcp_callbacks_t none;
  memset(&none, 0, sizeof none);
  none.wait_fd = -1;
  microtcp_t *m = start(ip, prefix, stack_mac, fd, none);
  if (!m) {
    close(fd);
    errno = ENOMEM;
    return NULL;
  }
  memcpy(m->ifname, name, sizeof m->ifname);
  return m;
}

microtcp_t *microtcp_create_using_callbacks(const char *ip, const char *mac,
                                            microtcp_callbacks_t callbacks) {
  uint32_t a;
  unsigned prefix;
  if (!callbacks.send_frame || !callbacks.recv_frame || tap_parse_ipv4(ip, &a, &prefix, 24) < 0) {
    last_error = MICROTCP_EINVAL;
    return NULL;
  }
  return start(a, prefix, mac, -1, callbacks);
}

const char *microtcp_ifname(const microtcp_t *m) { return m->ifname; }

microtcp_stack *microtcp_lock(microtcp_t *m) {
  enter(m);
  return m->st;
}

void microtcp_unlock(microtcp_t *m) {
  pump_out(m, mono_us()); /* the caller may have queued frames (ping, UDP) */
  leave(m);
}

void microtcp_destroy(microtcp_t *m) {
  if (!m) return;
  pthread_mutex_lock(&m->mu);
  m->stop = true;
  pthread_cond_broadcast(&m->cv); /* blocked calls return ECONNABORTED */
  while (m->active) pthread_cond_wait(&m->cv, &m->mu);
  pthread_mutex_unlock(&m->mu);
  uint64_t one = 1;
  if (write(m->wake_fd, &one, sizeof one) < 0) { /* already signalled */ }
  pthread_join(m->thread, NULL);
  while (m->socks) free_sock(m->socks);
  if (m->fd >= 0) close(m->fd); /* removes the TAP device */
  close(m->wake_fd);
  pthread_mutex_destroy(&m->mu);
  pthread_cond_destroy(&m->cv);
  free(m->arena);
  free(m);
}

/* ---- sockets ------------------------------------------------------------------------ */
static microtcp_sock_t *new_sock(microtcp_t *m, int h) {
  microtcp_sock_t *s = calloc(1, sizeof *s);
  if (!s) {
    microtcp_tcp_abort(m->st, mono_us(), h);
    last_error = MICROTCP_ENOMEM;
    return NULL;
  }
  s->m = m;
  s->h = h;
  s->next = m->socks;
  if (m->socks) m->socks->prev = s;
  m->socks = s;
  return s;
}

static void free_sock(microtcp_sock_t *s) { /* caller holds mu */
  if (s->prev) s->prev->next = s->next;
  else s->m->socks = s->next;
  if (s->next) s->next->prev = s->prev;
  free(s);
}

microtcp_sock_t *microtcp_open(microtcp_t *m, uint16_t port) {
  if (!m || !port) {
    last_error = MICROTCP_EINVAL;
    return NULL;
  }
  enter(m);
  int h = m->stop ? MICROTCP_ECONNABORTED : microtcp_tcp_listen(m->st, mono_us(), port, 128);
  microtcp_sock_t *s = h >= 0 ? new_sock(m, h) : NULL;
  if (h < 0) last_error = h;
  leave(m);
  return s;
}

microtcp_sock_t *microtcp_accept(microtcp_sock_t *l) {
  if (!l) {
    last_error = MICROTCP_EINVAL;
    return NULL;
  }
  microtcp_t *m = l->m;
  enter(m);
  int h;
  for (;;) {
    h = microtcp_tcp_accept(m->st, mono_us(), l->h, NULL);
    if (h != MICROTCP_EAGAIN || l->nonblock) break;
    int w = wait_event(m);
    if (w < 0) {
      h = w;
      break;
    }
  }
  microtcp_sock_t *s = NULL;
  if (h >= 0) s = new_sock(m, h);
  else fail(l, h);
  leave(m);
  return s;
}

microtcp_sock_t *microtcp_connect_nb(microtcp_t *m, const char *ip, uint16_t port, bool nonblocking) {
  struct in_addr a;
  if (!m || !ip || !port || inet_pton(AF_INET, ip, &a) != 1) {
    last_error = MICROTCP_EINVAL;
    return NULL;
  }
  enter(m);
  uint64_t now = mono_us();
  int h = m->stop ? MICROTCP_ECONNABORTED : microtcp_tcp_connect(m->st, now, ntohl(a.s_addr), port, 0);
  if (h >= 0) pump_out(m, now); /* the SYN (or the ARP request) */
  while (h >= 0 && !nonblocking) {
    unsigned ev = microtcp_poll(m->st, h);
    if (ev & MICROTCP_CONNECTED) break;
    if (ev & (MICROTCP_ERROR | MICROTCP_HANGUP)) {
      int e = microtcp_socket_error(m->st, h);
      microtcp_tcp_abort(m->st, mono_us(), h);
      h = e < 0 ? e : MICROTCP_ECONNREFUSED;
      break;
    }
    int w = wait_event(m);
    if (w < 0) {
      microtcp_tcp_abort(m->st, mono_us(), h);
      h = w;
    }
  }
  microtcp_sock_t *s = NULL;
  if (h >= 0) {
    s = new_sock(m, h);
    if (s) s->nonblock = nonblocking;
  } else {
    last_error = h;
  }
  leave(m);
  return s;
}

microtcp_sock_t *microtcp_connect(microtcp_t *m, const char *ip, uint16_t port) {
  return microtcp_connect_nb(m, ip, port, false);
}

ssize_t microtcp_send(microtcp_sock_t *s, const void *buf, size_t len) {
  if (!s || (!buf && len)) return fail(s, MICROTCP_EINVAL);
  microtcp_t *m = s->m;
  size_t done = 0;
  int err = 0;
  enter(m);
  while (done < len) {
    uint64_t now = mono_us();
    int r = microtcp_tcp_send(m->st, now, s->h, (const uint8_t *)buf + done, len - done);
    if (r > 0) {
      done += (size_t)r;
      pump_out(m, now);
      if (s->nonblock) break;
      continue;
    }
    if (r == MICROTCP_EAGAIN && !s->nonblock) r = wait_event(m);
    if (r < 0) {
      err = r;
      break;
    }
  }
  if (err && !done) fail(s, err);
  else if (err) s->err = err; /* the bytes sent count; the error shows on the next call */
  leave(m);
  return err && !done ? -1 : (ssize_t)done;
}

ssize_t microtcp_recv(microtcp_sock_t *s, void *buf, size_t len) {
  if (!s || (!buf && len)) return fail(s, MICROTCP_EINVAL);
  microtcp_t *m = s->m;
  enter(m);
  int r;
  for (;;) {
    r = microtcp_tcp_recv(m->st, mono_us(), s->h, buf, len);
    if (r != MICROTCP_EAGAIN || s->nonblock) break;
    int w = wait_event(m);
    if (w < 0) {
      r = w;
      break;
    }
  }
  if (r > 0) pump_out(m, mono_us()); /* reading may open the window: an update may be due */
  if (r < 0) fail(s, r);
  leave(m);
  return r < 0 ? -1 : r;
}

int microtcp_shutdown(microtcp_sock_t *s) {
  if (!s) return fail(s, MICROTCP_EINVAL);
  microtcp_t *m = s->m;
  enter(m);
  uint64_t now = mono_us();
  int r = microtcp_tcp_shutdown(m->st, now, s->h);
  pump_out(m, now);
  if (r < 0) fail(s, r);
  leave(m);
  return r < 0 ? -1 : 0;
}

int microtcp_close(microtcp_sock_t *s) {
  if (!s) return fail(s, MICROTCP_EINVAL);
  microtcp_t *m = s->m;
  enter(m);
  uint64_t now = mono_us();
  int r = microtcp_tcp_close(m->st, now, s->h);
  pump_out(m, now);
  free_sock(s);
  leave(m);
  if (r < 0) last_error = r;
  return r < 0 ? -1 : 0;
}

void microtcp_set_nonblocking(microtcp_sock_t *s, bool on) {
  /* under the mutex: a call blocked in another thread reads the flag */
  enter(s->m);
  s->nonblock = on;
  leave(s->m);
}

int microtcp_sock_error(microtcp_sock_t *s) {
  /* A non-blocking connect fails in the background: pick up the core's
   * pending error (SO_ERROR style) if no call failed since. */
  if (!s->err) {
    microtcp_t *m = s->m;
    enter(m);
    if (microtcp_poll(m->st, s->h) & MICROTCP_ERROR) s->err = microtcp_socket_error(m->st, s->h);
    leave(m);
  }
  return s->err;
}

const char *microtcp_sock_strerror(microtcp_sock_t *s) { return microtcp_strerror(microtcp_sock_error(s)); }

unsigned microtcp_sock_ready(microtcp_sock_t *s) {
  enter(s->m);
  unsigned ev = microtcp_poll(s->m->st, s->h);
  leave(s->m);
  return ev;
}

static void timespec_after_ms(struct timespec *t, int ms) {
  clock_gettime(CLOCK_MONOTONIC, t);
  t->tv_sec += ms / 1000;
  t->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (t->tv_nsec >= 1000000000L) {
    t->tv_sec++;
    t->tv_nsec -= 1000000000L;
  }
}

int microtcp_mux_wait_each(microtcp_sock_t *const socks[], const unsigned events[], size_t n, int timeout_ms) {
  if (!socks || !events || n == 0 || !socks[0]) return fail(NULL, MICROTCP_EINVAL);
  microtcp_t *m = socks[0]->m;
  for (size_t i = 1; i < n; i++)
    if (!socks[i] || socks[i]->m != m) return fail(NULL, MICROTCP_EINVAL);
  struct timespec until;
  if (timeout_ms >= 0) timespec_after_ms(&until, timeout_ms);
  enter(m);
  int found = -1, err = MICROTCP_EAGAIN;
  for (;;) {
    size_t start = m->mux_cursor % n;
    for (size_t k = 0; k < n && found < 0; k++) {
      size_t i = (start + k) % n;
      if (!events[i]) continue; /* not waited on at all */
      unsigned ev = microtcp_poll(m->st, socks[i]->h);
      /* before the handshake completes, "writable" would only mean data can
       * be queued; a waiter for WRITABLE wants the connection up (or failed) */
      if (!(ev & MICROTCP_CONNECTED)) ev &= ~(unsigned)MICROTCP_WRITABLE;
      if (ev & (events[i] | MICROTCP_ERROR | MICROTCP_HANGUP)) found = (int)i;
    }
    if (found >= 0) {
      m->mux_cursor = (size_t)found + 1;
      break;
    }
    if (m->stop) {
      err = MICROTCP_ECONNABORTED;
      break;
    }
    if (timeout_ms < 0)
      pthread_cond_wait(&m->cv, &m->mu);
    else if (pthread_cond_timedwait(&m->cv, &m->mu, &until) == ETIMEDOUT)
      break;
  }
  leave(m);
  return found >= 0 ? found : fail(NULL, err);
}

int microtcp_mux_wait(microtcp_sock_t *const socks[], size_t n, unsigned events, int timeout_ms) {
  enum { ON_STACK = 64 };
  unsigned each[ON_STACK] = {0}, *ev = n <= ON_STACK ? each : malloc(n * sizeof *ev);
  if (!ev) return fail(NULL, MICROTCP_ENOMEM);
  for (size_t i = 0; i < n; i++) ev[i] = events | MICROTCP_ERROR | MICROTCP_HANGUP;
  int r = microtcp_mux_wait_each(socks, ev, n, timeout_ms);
  if (ev != each) free(ev);
  return r;
}
