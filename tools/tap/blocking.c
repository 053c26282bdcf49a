/*
 * The blocking API (include/microtcp/blocking.h): one thread drives the pure
 * core on CLOCK_MONOTONIC; API calls take the same mutex, call the core's
 * non-blocking functions, and wait on a condition variable the stack thread
 * broadcasts after every turn.
 */
#define _GNU_SOURCE
#include "microtcp/blocking.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

struct microtcp {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  microtcp_stack *st;
  void *arena;
  int fd;                    /* TAP device, or -1 with callbacks */
  microtcp_callbacks_t cb;
  volatile int stop;
};

struct microtcp_sock {
  microtcp_t *m;
  int h;
  bool nonblock;
  int err;
};

static uint64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Send every pending frame (caller holds mu). */
static void pump_out(microtcp_t *m) {
  uint8_t buf[2048];
  int n;
  while ((n = microtcp_output(m->st, mono_us(), buf, sizeof buf)) > 0) {
    if (m->fd >= 0) {
      if (write(m->fd, buf, (size_t)n) < 0 && errno != EAGAIN) break;
    } else if (m->cb.send_frame) {
      m->cb.send_frame(m->cb.ctx, buf, (size_t)n);
    }
  }
}

static void *stack_thread(void *arg) {
  microtcp_t *m = arg;
  uint8_t buf[2048];
  while (!m->stop) {
    pthread_mutex_lock(&m->mu);
    uint64_t now = mono_us();
    for (int k = 0; k < 256; k++) {
      ssize_t n = m->fd >= 0 ? read(m->fd, buf, sizeof buf)
                             : (m->cb.recv_frame ? m->cb.recv_frame(m->cb.ctx, buf, sizeof buf) : 0);
      if (n <= 0) break;
      microtcp_input(m->st, now, buf, (size_t)n);
    }
    microtcp_advance(m->st, now);
    pump_out(m);
    uint64_t d = microtcp_deadline(m->st);
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    now = mono_us();
    int timeout = 5;
    if (d != UINT64_MAX && d > now && (d - now) / 1000 < 5) timeout = (int)((d - now) / 1000);
    if (d != UINT64_MAX && d <= now) timeout = 0;
    if (m->fd >= 0) {
      struct pollfd p = {m->fd, POLLIN, 0};
      poll(&p, 1, timeout);
    } else {
      usleep(200); /* callbacks have no fd to wait on */
    }
  }
  return NULL;
}

static int parse_mac(const char *s, uint8_t mac[6]) {
  unsigned v[6];
  if (!s || sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) return -1;
  for (int i = 0; i < 6; i++) mac[i] = (uint8_t)v[i];
  return 0;
}

static microtcp_t *start(const char *ip_cidr, const char *mac, int fd, microtcp_callbacks_t cb) {
  microtcp_config cfg;
  microtcp_config_default(&cfg);
  unsigned a, b, c, d, bits = 24;
  if (!ip_cidr || sscanf(ip_cidr, "%u.%u.%u.%u/%u", &a, &b, &c, &d, &bits) < 4 || bits > 32) return NULL;
  cfg.ip = a << 24 | b << 16 | c << 8 | d;
  cfg.netmask = bits ? 0xffffffffu << (32 - bits) : 0;
  if (parse_mac(mac ? mac : "02:00:00:00:00:02", cfg.mac) < 0) return NULL;
  cfg.max_tcp = 256;
  cfg.max_listeners = 8;
  cfg.tcp_sndbuf = cfg.tcp_rcvbuf = 64 * 1024;
  cfg.frames = 512;
  cfg.reasm_slots = 4;
  cfg.reasm_bytes = 64 * 1024;
  cfg.tcp_rto_min_us = 200000;
  uint64_t seed = mono_us() ^ (uint64_t)getpid() << 32;
  memcpy(cfg.secret, &seed, 8);
  memcpy(cfg.secret + 8, &cfg.ip, 4);
  microtcp_t *m = calloc(1, sizeof *m);
  size_t need = microtcp_footprint(&cfg);
  m->arena = aligned_alloc(16, (need + 15) & ~(size_t)15);
  m->st = microtcp_init(m->arena, need, &cfg, mono_us(), NULL);
  if (!m->st) {
    free(m->arena);
    free(m);
    return NULL;
  }
  m->fd = fd;
  m->cb = cb;
  pthread_mutex_init(&m->mu, NULL);
  pthread_cond_init(&m->cv, NULL);
  pthread_create(&m->thread, NULL, stack_thread, m);
  return m;
}

microtcp_t *microtcp_create(const char *tap_ip, const char *stack_ip, const char *tap_mac,
                            const char *stack_mac) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return NULL;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  snprintf(ifr.ifr_name, IFNAMSIZ, "microtcp%%d");
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    close(fd);
    return NULL;
  }
  char cmd[256];
  if (tap_mac) {
    snprintf(cmd, sizeof cmd, "ip link set %s address %s", ifr.ifr_name, tap_mac);
    if (system(cmd) != 0) goto fail;
  }
  snprintf(cmd, sizeof cmd, "ip addr add %s/24 dev %s && ip link set %s up", tap_ip, ifr.ifr_name,
           ifr.ifr_name);
  if (system(cmd) != 0) goto fail;
  char cidr[64];
  snprintf(cidr, sizeof cidr, "%s/24", stack_ip);
  microtcp_callbacks_t none = {0};
  microtcp_t *m = start(cidr, stack_mac, fd, none);
  if (m) return m;
fail:
  close(fd);
  return NULL;
}

microtcp_t *microtcp_create_using_callbacks(const char *ip, const char *mac,
                                            microtcp_callbacks_t callbacks) {
  return start(ip, mac, -1, callbacks);
}

void microtcp_destroy(microtcp_t *m) {
  if (!m) return;
  m->stop = 1;
  pthread_join(m->thread, NULL);
  if (m->fd >= 0) close(m->fd);
  pthread_mutex_destroy(&m->mu);
  pthread_cond_destroy(&m->cv);
  free(m->arena);
  free(m);
}

static microtcp_sock_t *new_sock(microtcp_t *m, int h) {
  microtcp_sock_t *s = calloc(1, sizeof *s);
  s->m = m;
  s->h = h;
  return s;
}

microtcp_sock_t *microtcp_open(microtcp_t *m, uint16_t port) {
  pthread_mutex_lock(&m->mu);
  int h = microtcp_tcp_listen(m->st, mono_us(), port, 64);
  pthread_mutex_unlock(&m->mu);
  return h >= 0 ? new_sock(m, h) : NULL;
}

microtcp_sock_t *microtcp_accept(microtcp_sock_t *l) {
  microtcp_t *m = l->m;
  pthread_mutex_lock(&m->mu);
  int h;
  while ((h = microtcp_tcp_accept(m->st, mono_us(), l->h, NULL)) == MICROTCP_EAGAIN && !l->nonblock)
    pthread_cond_wait(&m->cv, &m->mu);
  pthread_mutex_unlock(&m->mu);
  if (h < 0) {
    l->err = h;
    return NULL;
  }
  return new_sock(m, h);
}

microtcp_sock_t *microtcp_connect(microtcp_t *m, const char *ip, uint16_t port) {
  struct in_addr a;
  if (inet_pton(AF_INET, ip, &a) != 1) return NULL;
  pthread_mutex_lock(&m->mu);
  int h = microtcp_tcp_connect(m->st, mono_us(), ntohl(a.s_addr), port, 0);
  if (h >= 0) pump_out(m);
  unsigned ev = 0;
  while (h >= 0 && !((ev = microtcp_poll(m->st, h)) & (MICROTCP_CONNECTED | MICROTCP_ERROR)))
    pthread_cond_wait(&m->cv, &m->mu);
  if (h >= 0 && (ev & MICROTCP_ERROR) && !(ev & MICROTCP_CONNECTED)) {
    microtcp_tcp_close(m->st, mono_us(), h);
    h = -1;
  }
  pthread_mutex_unlock(&m->mu);
  return h >= 0 ? new_sock(m, h) : NULL;
}

ssize_t microtcp_send(microtcp_sock_t *s, const void *buf, size_t len) {
  microtcp_t *m = s->m;
  size_t done = 0;
  pthread_mutex_lock(&m->mu);
  while (done < len) {
    int r = microtcp_tcp_send(m->st, mono_us(), s->h, (const uint8_t *)buf + done, len - done);
    if (r > 0) {
      done += (size_t)r;
      pump_out(m);
      continue;
    }
    if (r == MICROTCP_EAGAIN && !s->nonblock) {
      pthread_cond_wait(&m->cv, &m->mu);
      continue;
    }
    s->err = r;
    break;
  }
  pthread_mutex_unlock(&m->mu);
  return done ? (ssize_t)done : (len ? -1 : 0);
}

ssize_t microtcp_recv(microtcp_sock_t *s, void *buf, size_t len) {
  microtcp_t *m = s->m;
  pthread_mutex_lock(&m->mu);
  int r;
  while ((r = microtcp_tcp_recv(m->st, mono_us(), s->h, buf, len)) == MICROTCP_EAGAIN && !s->nonblock)
    pthread_cond_wait(&m->cv, &m->mu);
  if (r > 0) pump_out(m); /* a window update may be due */
  pthread_mutex_unlock(&m->mu);
  if (r < 0) {
    s->err = r;
    return -1;
  }
  return r;
}

int microtcp_close(microtcp_sock_t *s) {
  if (!s) return -1;
  microtcp_t *m = s->m;
  pthread_mutex_lock(&m->mu);
  int r = microtcp_tcp_close(m->st, mono_us(), s->h);
  pump_out(m);
  pthread_mutex_unlock(&m->mu);
  free(s);
  return r < 0 ? -1 : 0;
}

void microtcp_set_nonblocking(microtcp_sock_t *s, bool on) { s->nonblock = on; }
int microtcp_sock_error(const microtcp_sock_t *s) { return s->err; }

int microtcp_mux_wait(microtcp_sock_t *const *socks, size_t n, int timeout_ms) {
  if (n == 0) return -1;
  microtcp_t *m = socks[0]->m;
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  if (timeout_ms >= 0) {
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
  }
  pthread_mutex_lock(&m->mu);
  int found = -1;
  for (;;) {
    for (size_t i = 0; i < n && found < 0; i++)
      if (microtcp_poll(m->st, socks[i]->h) & MICROTCP_READABLE) found = (int)i;
    if (found >= 0) break;
    if (timeout_ms < 0)
      pthread_cond_wait(&m->cv, &m->mu);
    else if (pthread_cond_timedwait(&m->cv, &m->mu, &until) == ETIMEDOUT)
      break;
  }
  pthread_mutex_unlock(&m->mu);
  return found;
}
