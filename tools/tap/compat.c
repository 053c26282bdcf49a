/*
 * The seed project's API (include/microtcp/compat.h) over the blocking API
 * (include/microtcp/blocking.h).
 *
 * Both headers use some of the same names with different types, so this file
 * first names what it needs from the blocking API (blk_*), then includes
 * compat.h, whose macros map the seed's names onto microtcp_compat_*.
 *
 * State of this layer (error codes, blocking flags, mux registrations) is
 * guarded by one mutex per stack, never held across a blocking call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "microtcp/blocking.h"
#include "tap.h"

/* ---- the blocking API under names compat.h does not hide ---- */
typedef microtcp_t blk_stack;
typedef microtcp_sock_t blk_sock;
typedef microtcp_callbacks_t blk_callbacks;

static blk_stack *blk_create(const char *tap_ip, const char *ip, const char *tap_mac,
                             const char *mac) {
  return microtcp_create(tap_ip, ip, tap_mac, mac);
}
static blk_stack *blk_create_cb(const char *ip, const char *mac, blk_callbacks cb) {
  return microtcp_create_using_callbacks(ip, mac, cb);
}
static void blk_destroy(blk_stack *m) { microtcp_destroy(m); }
static blk_sock *blk_open(blk_stack *m, uint16_t port) { return microtcp_open(m, port); }
static blk_sock *blk_accept(blk_sock *l) { return microtcp_accept(l); }
static int blk_close(blk_sock *s) { return microtcp_close(s); }
static ssize_t blk_send(blk_sock *s, const void *b, size_t n) { return microtcp_send(s, b, n); }
static ssize_t blk_recv(blk_sock *s, void *b, size_t n) { return microtcp_recv(s, b, n); }

#define MICROTCP_COMPAT_IMPLEMENTATION
#include "microtcp/compat.h"

static uint64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- seed-style frame I/O (a blocking recv) adapted to the blocking API's
 * non-blocking recv_frame + wait_fd: a reader thread calls recv in a loop
 * and queues the frames; an eventfd tells the stack thread. ---- */
enum { RING = 256, FRAME_MAX = 2048 };

struct seed_io {
  microtcp_callbacks_t cb;
  pthread_t reader;
  pthread_mutex_t mu;
  int efd;
  volatile bool stop;
  unsigned head, count; /* ring of frames waiting for the stack */
  uint16_t len[RING];
  uint8_t frame[RING][FRAME_MAX];
  uint64_t dropped; /* ring full: dropped, like a full NIC queue */
};

static void *reader_thread(void *arg) {
  struct seed_io *io = arg;
  static _Thread_local uint8_t buf[FRAME_MAX];
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
  while (!io->stop) {
    /* cancellable only inside the program's recv (read() and the like) */
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
    int n = io->cb.recv(io->cb.data, buf, sizeof buf);
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
    if (n <= 0) { /* nothing or an error: do not spin */
      usleep(1000);
      continue;
    }
    pthread_mutex_lock(&io->mu);
    if (io->count < RING) {
      unsigned i = (io->head + io->count) % RING;
      io->len[i] = (uint16_t)(n > FRAME_MAX ? FRAME_MAX : n);
      memcpy(io->frame[i], buf, io->len[i]);
      io->count++;
    } else {
      io->dropped++;
    }
    pthread_mutex_unlock(&io->mu);
    uint64_t one = 1;
    if (write(io->efd, &one, sizeof one) < 0) { /* the counter is already non-zero */
    }
  }
  return NULL;
}

static ssize_t io_recv_frame(void *ctx, void *buf, size_t cap) {
  struct seed_io *io = ctx;
  ssize_t n = 0;
  pthread_mutex_lock(&io->mu);
  if (io->count) {
    n = io->len[io->head] < cap ? io->len[io->head] : (ssize_t)cap;
    memcpy(buf, io->frame[io->head], (size_t)n);
    io->head = (io->head + 1) % RING;
    io->count--;
  } else {
    /* empty: reset the eventfd; the reader writes it after every push */
    uint64_t v;
    if (read(io->efd, &v, sizeof v) < 0) { /* already zero */
    }
  }
  pthread_mutex_unlock(&io->mu);
  return n;
}

static int io_send_frame(void *ctx, const void *frame, size_t len) {
  struct seed_io *io = ctx;
  return io->cb.send(io->cb.data, frame, len) < 0 ? -1 : 0;
}

static struct seed_io *io_start(microtcp_callbacks_t cb) {
  struct seed_io *io = calloc(1, sizeof *io);
  if (!io) return NULL;
  io->cb = cb;
  io->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  pthread_mutex_init(&io->mu, NULL);
  if (io->efd < 0 || pthread_create(&io->reader, NULL, reader_thread, io) != 0) {
    if (io->efd >= 0) close(io->efd);
    pthread_mutex_destroy(&io->mu);
    free(io);
    return NULL;
  }
  return io;
}

/* The reader may sit in the program's blocking recv: cancel it there. */
static void io_stop(struct seed_io *io, bool free_data) {
  io->stop = true;
  pthread_cancel(io->reader);
  pthread_join(io->reader, NULL);
  if (free_data && io->cb.free) io->cb.free(io->cb.data);
  close(io->efd);
  pthread_mutex_destroy(&io->mu);
  free(io);
}

/* ---- the objects of this layer ---- */
struct mux_entry {
  microtcp_mux_t *mux;
  microtcp_socket_t *sock;
  int events; /* MICROTCP_MUX_* of interest */
  void *userp;
  struct mux_entry *next_in_mux, *next_in_sock;
};

struct microtcp_t {
  blk_stack *m;
  struct seed_io *io; /* microtcp_create_using_callbacks only */
  pthread_mutex_t mu;
  microtcp_errcode_t err;
  microtcp_mux_t *muxes;      /* freed by destroy */
  microtcp_socket_t *sockets; /* freed by destroy */
};

struct microtcp_socket_t {
  microtcp_t *stack;
  blk_sock *s;
  bool listener;
  bool send_blocked; /* a send would block: MICROTCP_MUX_SEND is due when there is room */
  microtcp_errcode_t err;
  struct mux_entry *entries;
  microtcp_socket_t *prev, *next;
};

struct microtcp_mux_t {
  microtcp_t *stack;
  struct mux_entry *entries;
  size_t n;
  microtcp_mux_t *prev, *next;
};

/* ---- stacks ---- */
static void random_mac(char out[18]) {
  uint8_t b[6];
  if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
    uint64_t t = mono_us() ^ (uint64_t)getpid() << 20;
    memcpy(b, &t, sizeof b);
  }
  b[0] = (uint8_t)((b[0] & 0xfe) | 0x02); /* unicast, locally administered */
  snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
}

static microtcp_t *wrap_stack(blk_stack *m, struct seed_io *io) {
  microtcp_t *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->m = m;
  c->io = io;
  pthread_mutex_init(&c->mu, NULL);
  return c;
}

microtcp_t *microtcp_create(const char *tap_ip, const char *stack_ip, const char *tap_mac,
                            const char *stack_mac) {
  char mac[18];
  if (!stack_mac) random_mac(mac);
  blk_stack *m = blk_create(tap_ip, stack_ip, tap_mac, stack_mac ? stack_mac : mac);
  if (!m) return NULL;
  microtcp_t *c = wrap_stack(m, NULL);
  if (!c) {
    blk_destroy(m);
    errno = ENOMEM;
  }
  return c;
}

microtcp_t *microtcp_create_using_callbacks(const char *ip, const char *mac,
                                            microtcp_callbacks_t callbacks) {
  if (!ip || !callbacks.send || !callbacks.recv) return NULL;
  char rmac[18];
  if (!mac) random_mac(rmac);
  struct seed_io *io = io_start(callbacks);
  if (!io) return NULL;
  blk_callbacks bc = {io, io_send_frame, io_recv_frame, io->efd};
  blk_stack *m = blk_create_cb(ip, mac ? mac : rmac, bc);
  microtcp_t *c = m ? wrap_stack(m, io) : NULL;
  if (!c) { /* the program still owns its callbacks' data */
    if (m) blk_destroy(m);
    io_stop(io, false);
  }
  return c;
}

struct tap_io {
  int fd;
};

static int tap_io_send(void *data, const void *src, size_t len) {
  return (int)write(((struct tap_io *)data)->fd, src, len);
}

/* Blocks until a frame arrives (the device's fd is non-blocking). */
static int tap_io_recv(void *data, void *dst, size_t len) {
  struct tap_io *t = data;
  for (;;) {
    ssize_t n = read(t->fd, dst, len);
    if (n >= 0 || (errno != EAGAIN && errno != EINTR)) return (int)n;
    struct pollfd p = {t->fd, POLLIN, 0};
    poll(&p, 1, -1);
  }
}

static void tap_io_free(void *data) {
  close(((struct tap_io *)data)->fd); /* removes the device */
  free(data);
}

bool microtcp_callbacks_create_for_tap(const char *ip, const char *mac,
                                       microtcp_callbacks_t *callbacks) {
  uint32_t a;
  unsigned prefix;
  uint8_t hw[6];
  if (!ip || !callbacks || tap_parse_ipv4(ip, &a, &prefix, 24) < 0 ||
      (mac && tap_parse_mac(mac, hw) < 0)) {
    errno = EINVAL;
    return false;
  }
  struct tap_io *t = malloc(sizeof *t);
  if (!t) return false;
  char err[256], name[16];
  t->fd = tap_open("microtcp%d", 0, name, err, sizeof err);
  if (t->fd < 0 || tap_configure(name, a, prefix, mac ? hw : NULL, err, sizeof err) < 0) {
    int e = errno;
    if (t->fd >= 0) close(t->fd);
    free(t);
    errno = e;
    return false;
  }
  callbacks->data = t;
  callbacks->free = tap_io_free;
  callbacks->send = tap_io_send;
  callbacks->recv = tap_io_recv;
  return true;
}

static void unlink_entry(struct mux_entry *e);

void microtcp_destroy(microtcp_t *mtcp) {
  if (!mtcp) return;
  blk_destroy(mtcp->m); /* wakes blocked calls; frees the blocking sockets */
  if (mtcp->io) io_stop(mtcp->io, true);
  while (mtcp->muxes) {
    microtcp_mux_t *x = mtcp->muxes;
    while (x->entries)
      unlink_entry(x->entries);
    mtcp->muxes = x->next;
    free(x);
  }
  while (mtcp->sockets) {
    microtcp_socket_t *s = mtcp->sockets;
    mtcp->sockets = s->next;
    free(s);
  }
  pthread_mutex_destroy(&mtcp->mu);
  free(mtcp);
}

/* ---- errors ---- */
microtcp_errcode_t microtcp_get_error(microtcp_t *mtcp) {
  pthread_mutex_lock(&mtcp->mu);
  microtcp_errcode_t e = mtcp->err;
  pthread_mutex_unlock(&mtcp->mu);
  return e;
}

void microtcp_clear_error(microtcp_t *mtcp) {
  pthread_mutex_lock(&mtcp->mu);
  mtcp->err = MICROTCP_ERRCODE_NONE;
  pthread_mutex_unlock(&mtcp->mu);
}

microtcp_errcode_t microtcp_get_socket_error(microtcp_socket_t *sock) {
  pthread_mutex_lock(&sock->stack->mu);
  microtcp_errcode_t e = sock->err;
  pthread_mutex_unlock(&sock->stack->mu);
  return e;
}

void microtcp_clear_socket_error(microtcp_socket_t *sock) {
  pthread_mutex_lock(&sock->stack->mu);
  sock->err = MICROTCP_ERRCODE_NONE;
  pthread_mutex_unlock(&sock->stack->mu);
}

const char *microtcp_strerror(microtcp_errcode_t errcode) {
  switch (errcode) {
  case MICROTCP_ERRCODE_NONE: return "no error";
  case MICROTCP_ERRCODE_NOCLEAR: return "an earlier error was not cleared";
  case MICROTCP_ERRCODE_SOCKETLIMIT: return "no room for another socket";
  case MICROTCP_ERRCODE_TCPERROR: return "the TCP layer refused the operation";
  case MICROTCP_ERRCODE_BADCONDVAR: return "condition variable failure";
  case MICROTCP_ERRCODE_NOTLISTENER: return "not a listening socket";
  case MICROTCP_ERRCODE_CANTBLOCK: return "the call cannot block";
  case MICROTCP_ERRCODE_NOTCONNECTION: return "not a connection";
  case MICROTCP_ERRCODE_WOULDBLOCK: return "the operation would block";
  }
  return "unknown error code";
}

/* A sticky error: true (and NOCLEAR recorded) if *err is set. */
static bool uncleared(microtcp_t *stack, microtcp_errcode_t *err) {
  pthread_mutex_lock(&stack->mu);
  bool set = *err != MICROTCP_ERRCODE_NONE;
  if (set) *err = MICROTCP_ERRCODE_NOCLEAR;
  pthread_mutex_unlock(&stack->mu);
  return set;
}

static void set_error(microtcp_t *stack, microtcp_errcode_t *err, microtcp_errcode_t code) {
  pthread_mutex_lock(&stack->mu);
  *err = code;
  pthread_mutex_unlock(&stack->mu);
}

/* ---- sockets ---- */
static microtcp_socket_t *wrap_socket(microtcp_t *stack, blk_sock *s, bool listener) {
  microtcp_socket_t *c = calloc(1, sizeof *c);
  if (!c) {
    blk_close(s);
    return NULL;
  }
  c->stack = stack;
  c->s = s;
  c->listener = listener;
  pthread_mutex_lock(&stack->mu);
  c->next = stack->sockets;
  if (stack->sockets) stack->sockets->prev = c;
  stack->sockets = c;
  pthread_mutex_unlock(&stack->mu);
  return c;
}

microtcp_socket_t *microtcp_open(microtcp_t *mtcp, uint16_t port) {
  if (!mtcp || uncleared(mtcp, &mtcp->err)) return NULL;
  blk_sock *s = blk_open(mtcp->m, port);
  microtcp_socket_t *c = s ? wrap_socket(mtcp, s, true) : NULL;
  if (!c) {
    bool full = !s ? microtcp_last_error() == MICROTCP_ENOMEM : true;
    set_error(mtcp, &mtcp->err, full ? MICROTCP_ERRCODE_SOCKETLIMIT : MICROTCP_ERRCODE_TCPERROR);
  }
  return c;
}

microtcp_socket_t *microtcp_accept(microtcp_socket_t *socket) {
  if (!socket || uncleared(socket->stack, &socket->err)) return NULL;
  if (!socket->listener) {
    set_error(socket->stack, &socket->err, MICROTCP_ERRCODE_NOTLISTENER);
    return NULL;
  }
  blk_sock *s = blk_accept(socket->s);
  microtcp_socket_t *c = s ? wrap_socket(socket->stack, s, false) : NULL;
  if (!c) {
    int e = s ? MICROTCP_ENOMEM : microtcp_last_error();
    microtcp_errcode_t code = e == MICROTCP_EAGAIN   ? MICROTCP_ERRCODE_WOULDBLOCK
                              : e == MICROTCP_ENOMEM ? MICROTCP_ERRCODE_SOCKETLIMIT
                                                     : MICROTCP_ERRCODE_TCPERROR;
    set_error(socket->stack, &socket->err, code);
  }
  return c;
}

/* The connection is over (closed, reset, timed out, stack going away): the
 * seed's recv and send then return 0. */
static bool connection_over(int e) {
  switch (e) {
  case MICROTCP_ECONNRESET:
  case MICROTCP_ETIMEDOUT:
  case MICROTCP_EPIPE:
  case MICROTCP_ENOTCONN:
  case MICROTCP_ECONNABORTED:
  case MICROTCP_ECONNREFUSED:
  case MICROTCP_EHOSTUNREACH:
  case MICROTCP_ENETUNREACH:
  case MICROTCP_EBADF: return true;
  default: return false;
  }
}

int microtcp_recv(microtcp_socket_t *socket, void *dst, size_t len) {
  if (!socket || uncleared(socket->stack, &socket->err)) return -1;
  if (socket->listener) {
    set_error(socket->stack, &socket->err, MICROTCP_ERRCODE_NOTCONNECTION);
    return -1;
  }
  ssize_t n = blk_recv(socket->s, dst, len > INT_MAX ? INT_MAX : len);
  if (n >= 0) return (int)n;
  int e = microtcp_last_error();
  if (connection_over(e)) return 0;
  set_error(socket->stack, &socket->err,
            e == MICROTCP_EAGAIN ? MICROTCP_ERRCODE_WOULDBLOCK : MICROTCP_ERRCODE_TCPERROR);
  return -1;
}

int microtcp_send(microtcp_socket_t *socket, const void *src, size_t len) {
  if (!socket) return -1;
  if (socket->listener) {
    set_error(socket->stack, &socket->err, MICROTCP_ERRCODE_NOTCONNECTION);
    return -1;
  }
  if (len == 0) return 0;
  size_t want = len > INT_MAX ? INT_MAX : len;
  ssize_t n = blk_send(socket->s, src, want);
  if (n >= 0) {
    if ((size_t)n < want) { /* the buffer is full: SEND is due when there is room */
      pthread_mutex_lock(&socket->stack->mu);
      socket->send_blocked = true;
      pthread_mutex_unlock(&socket->stack->mu);
    }
    return (int)n;
  }
  int e = microtcp_last_error();
  if (connection_over(e)) return 0;
  pthread_mutex_lock(&socket->stack->mu);
  if (e == MICROTCP_EAGAIN) socket->send_blocked = true;
  socket->err = e == MICROTCP_EAGAIN ? MICROTCP_ERRCODE_WOULDBLOCK : MICROTCP_ERRCODE_TCPERROR;
  pthread_mutex_unlock(&socket->stack->mu);
  return -1;
}

void microtcp_set_blocking(microtcp_socket_t *socket, bool block) {
  microtcp_set_nonblocking(socket->s, !block);
}

void microtcp_close(microtcp_socket_t *socket) {
  if (!socket) return;
  microtcp_t *stack = socket->stack;
  pthread_mutex_lock(&stack->mu);
  while (socket->entries)
    unlink_entry(socket->entries);
  if (socket->prev)
    socket->prev->next = socket->next;
  else
    stack->sockets = socket->next;
  if (socket->next) socket->next->prev = socket->prev;
  pthread_mutex_unlock(&stack->mu);
  blk_close(socket->s);
  free(socket);
}

/* ---- pushing the stack along ---- */
bool microtcp_step(microtcp_t *mtcp) {
  if (!mtcp || uncleared(mtcp, &mtcp->err)) return false;
  microtcp_stack *st = microtcp_lock(mtcp->m);
  microtcp_advance(st, mono_us()); /* the clock is read under the lock: never backwards */
  microtcp_unlock(mtcp->m);        /* sends what is queued */
  return true;
}

bool microtcp_process_packet(microtcp_t *mtcp, const void *packet, size_t len) {
  if (!mtcp || uncleared(mtcp, &mtcp->err)) return false;
  microtcp_stack *st = microtcp_lock(mtcp->m);
  microtcp_input(st, mono_us(), packet, len);
  microtcp_unlock(mtcp->m); /* sends the answers */
  return true;
}

/* ---- the multiplexer ----
 * Readiness, not a queue of past notifications: ACCEPT and RECV are reported
 * while the listener has a connection waiting / recv would not block; SEND
 * once there is room again after a send that would block (or took less than
 * asked), so a writable socket with nothing to send does not wake the loop. */
static void unlink_entry(struct mux_entry *e) { /* caller holds the stack's mu */
  struct mux_entry **p = &e->mux->entries;
  while (*p != e)
    p = &(*p)->next_in_mux;
  *p = e->next_in_mux;
  p = &e->sock->entries;
  while (*p != e)
    p = &(*p)->next_in_sock;
  *p = e->next_in_sock;
  e->mux->n--;
  free(e);
}

static struct mux_entry *find_entry(microtcp_mux_t *mux, microtcp_socket_t *sock) {
  struct mux_entry *e = sock->entries;
  while (e && e->mux != mux)
    e = e->next_in_sock;
  return e;
}

microtcp_mux_t *microtcp_mux_create(microtcp_t *mtcp) {
  if (!mtcp) return NULL;
  microtcp_mux_t *x = calloc(1, sizeof *x);
  if (!x) return NULL;
  x->stack = mtcp;
  pthread_mutex_lock(&mtcp->mu);
  x->next = mtcp->muxes;
  if (mtcp->muxes) mtcp->muxes->prev = x;
  mtcp->muxes = x;
  pthread_mutex_unlock(&mtcp->mu);
  return x;
}

void microtcp_mux_destroy(microtcp_mux_t *mux) {
  if (!mux) return;
  microtcp_t *stack = mux->stack;
  pthread_mutex_lock(&stack->mu);
  while (mux->entries)
    unlink_entry(mux->entries);
  if (mux->prev)
    mux->prev->next = mux->next;
  else
    stack->muxes = mux->next;
  if (mux->next) mux->next->prev = mux->prev;
  pthread_mutex_unlock(&stack->mu);
  free(mux);
}

bool microtcp_mux_register(microtcp_mux_t *mux, microtcp_socket_t *sock, int events, void *userp) {
  if (!mux || !sock || mux->stack != sock->stack) return false;
  if (events == 0) return true;
  bool ok = true;
  pthread_mutex_lock(&mux->stack->mu);
  struct mux_entry *e = find_entry(mux, sock);
  if (!e && (e = calloc(1, sizeof *e)) != NULL) {
    e->mux = mux;
    e->sock = sock;
    e->userp = userp;
    e->next_in_mux = mux->entries;
    mux->entries = e;
    e->next_in_sock = sock->entries;
    sock->entries = e;
    mux->n++;
  }
  if (e)
    e->events |= events;
  else
    ok = false;
  pthread_mutex_unlock(&mux->stack->mu);
  return ok;
}

bool microtcp_mux_unregister(microtcp_mux_t *mux, microtcp_socket_t *sock, int events) {
  if (!mux || !sock) return false;
  pthread_mutex_lock(&mux->stack->mu);
  struct mux_entry *e = find_entry(mux, sock);
  if (e) {
    e->events &= ~events;
    if (!e->events) unlink_entry(e);
  }
  pthread_mutex_unlock(&mux->stack->mu);
  return e != NULL;
}

/* What the blocking API should wait for on behalf of entry e. */
static unsigned wanted(const struct mux_entry *e) {
  unsigned w = 0;
  if (e->events & (MICROTCP_MUX_ACCEPT | MICROTCP_MUX_RECV)) w |= MICROTCP_READABLE;
  if ((e->events & MICROTCP_MUX_SEND) && e->sock->send_blocked) w |= MICROTCP_WRITABLE;
  return w;
}

/* The events of e that readiness `ready` makes due (SEND disarms itself). */
static int due(struct mux_entry *e, unsigned ready) {
  const unsigned over = MICROTCP_ERROR | MICROTCP_HANGUP;
  int ev = 0;
  if ((e->events & MICROTCP_MUX_ACCEPT) && e->sock->listener &&
      (ready & (MICROTCP_READABLE | over)))
    ev |= MICROTCP_MUX_ACCEPT;
  if ((e->events & MICROTCP_MUX_RECV) && !e->sock->listener && (ready & (MICROTCP_READABLE | over)))
    ev |= MICROTCP_MUX_RECV;
  if ((e->events & MICROTCP_MUX_SEND) && e->sock->send_blocked &&
      (ready & (MICROTCP_WRITABLE | over))) {
    ev |= MICROTCP_MUX_SEND;
    e->sock->send_blocked = false;
  }
  return ev;
}

/* One round: 1 with *ev filled, 0 if nothing was due within the slice, -1
 * when the stack is going away. The slice lets registrations made by other
 * threads meanwhile join the wait. */
static int mux_round(microtcp_mux_t *mux, microtcp_muxevent_t *ev, int slice_ms) {
  microtcp_t *stack = mux->stack;
  pthread_mutex_lock(&stack->mu);
  size_t n = mux->n, k = 0;
  blk_sock **socks = malloc((n ? n : 1) * sizeof *socks);
  unsigned *want = malloc((n ? n : 1) * sizeof *want);
  struct mux_entry **ent = malloc((n ? n : 1) * sizeof *ent);
  for (struct mux_entry *e = mux->entries; e && socks && want && ent; e = e->next_in_mux, k++) {
    socks[k] = e->sock->s;
    want[k] = wanted(e);
    ent[k] = e;
  }
  pthread_mutex_unlock(&stack->mu);
  int r = 0;
  if (!socks || !want || !ent) {
    r = -1;
  } else if (n == 0) {
    usleep((useconds_t)slice_ms * 1000u); /* nothing registered yet */
  } else {
    int i = microtcp_mux_wait_each(socks, want, n, slice_ms);
    if (i < 0 && microtcp_last_error() != MICROTCP_EAGAIN) r = -1;
    if (i >= 0) {
      unsigned ready = microtcp_sock_ready(socks[i]);
      pthread_mutex_lock(&stack->mu);
      struct mux_entry *e = mux->entries; /* still registered? (another thread may unregister) */
      while (e && e != ent[i])
        e = e->next_in_mux;
      int got = e ? due(e, ready) : 0;
      if (got) {
        ev->userp = ent[i]->userp;
        ev->events = got;
        ev->socket = ent[i]->sock;
        r = 1;
      }
      pthread_mutex_unlock(&stack->mu);
    }
  }
  free(socks);
  free(want);
  free(ent);
  return r;
}

bool microtcp_mux_wait(microtcp_mux_t *mux, microtcp_muxevent_t *ev) {
  if (!mux || !ev) return false;
  for (;;) {
    int r = mux_round(mux, ev, 100);
    if (r) return r > 0;
  }
}
