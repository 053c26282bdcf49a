/*
 * The blocking API on callbacks (no TAP, no root): two stacks, A (10.0.0.1)
 * and B (10.0.0.2), wired back to back through in-memory frame queues, each
 * with its own stack thread and real clock. Optional loss on the wire comes
 * from the bridge's impairment model (impair.c).
 *
 * Checks: refused connect, blocking echo of 8 MB both ways (byte-exact),
 * non-blocking recv/accept (EAGAIN), non-blocking connect + mux_wait for
 * WRITABLE (success and refusal), mux_wait timeout and readiness by index,
 * close orders, a transfer through 2% loss, and destroy waking a blocked recv.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "impair.h"
#include "microtcp/blocking.h"

static int failures;
#define CHECK(cond)                                                                     \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      fprintf(stderr, "%s:%d: CHECK failed: %s (last error %s)\n", __FILE__, __LINE__, \
              #cond, microtcp_strerror(microtcp_last_error()));                        \
      failures++;                                                                       \
    }                                                                                   \
  } while (0)

/* ---- a wire: one frame queue per receiving stack ---------------------------------- */
#define QCAP 4096
struct queue {
  pthread_mutex_t mu;
  int efd; /* readable while frames wait (the stack thread polls it) */
  size_t head, n;
  uint16_t len[QCAP];
  uint8_t data[QCAP][1514];
  struct impair loss; /* applied on the way in */
};

static void q_deliver(void *ctx, const uint8_t *f, size_t len) {
  struct queue *q = ctx; /* under q->mu */
  if (q->n == QCAP || len > sizeof q->data[0]) return; /* full queue: dropped */
  size_t tail = (q->head + q->n) % QCAP;
  memcpy(q->data[tail], f, len);
  q->len[tail] = (uint16_t)len;
  q->n++;
  uint64_t one = 1;
  if (write(q->efd, &one, sizeof one) < 0) { /* counter already non-zero */ }
}

static uint64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int q_send(void *ctx, const void *frame, size_t len) { /* ctx: the PEER's queue */
  struct queue *q = ctx;
  pthread_mutex_lock(&q->mu);
  impair_pass(&q->loss, frame, len, mono_us(), q_deliver, q);
  pthread_mutex_unlock(&q->mu);
  return 0;
}

static ssize_t q_recv(void *ctx, void *buf, size_t cap) { /* ctx: OUR queue */
  struct queue *q = ctx;
  pthread_mutex_lock(&q->mu);
  ssize_t n = 0;
  if (q->n == 0) {
    /* reset the eventfd under the lock: a concurrent push re-arms it after */
    uint64_t v;
    if (read(q->efd, &v, sizeof v) < 0) { /* already zero */ }
  } else {
    n = q->len[q->head] <= cap ? q->len[q->head] : 0;
    memcpy(buf, q->data[q->head], (size_t)n);
    q->head = (q->head + 1) % QCAP;
    q->n--;
  }
  pthread_mutex_unlock(&q->mu);
  return n;
}

static struct queue *q_new(uint32_t loss_ppm, uint64_t seed) {
  struct queue *q = calloc(1, sizeof *q);
  pthread_mutex_init(&q->mu, NULL);
  q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  struct impair_params p = {0};
  p.loss_ppm = loss_ppm;
  impair_init(&q->loss, &p, seed);
  return q;
}

static void q_free(struct queue *q) {
  impair_free(&q->loss);
  close(q->efd);
  pthread_mutex_destroy(&q->mu);
  free(q);
}

struct pair {
  struct queue *qa, *qb;
  microtcp_t *a, *b;
};

static void pair_up(struct pair *p, uint32_t loss_ppm) {
  p->qa = q_new(loss_ppm, 11);
  p->qb = q_new(loss_ppm, 12);
}

/* The callbacks get one ctx; a side holds both of its queues. */
struct side {
  struct queue *in, *out;
};
static int side_send(void *ctx, const void *f, size_t len) { return q_send(((struct side *)ctx)->out, f, len); }
static ssize_t side_recv(void *ctx, void *buf, size_t cap) { return q_recv(((struct side *)ctx)->in, buf, cap); }

static struct side sa, sb;

static void pair_start(struct pair *p, uint32_t loss_ppm) {
  pair_up(p, loss_ppm);
  sa.in = p->qa;
  sa.out = p->qb;
  sb.in = p->qb;
  sb.out = p->qa;
  microtcp_callbacks_t ca = {&sa, side_send, side_recv, p->qa->efd};
  microtcp_callbacks_t cb = {&sb, side_send, side_recv, p->qb->efd};
  p->a = microtcp_create_using_callbacks("10.0.0.1/24", "02:00:00:00:00:01", ca);
  p->b = microtcp_create_using_callbacks("10.0.0.2/24", "02:00:00:00:00:02", cb);
  if (!p->a || !p->b) {
    fprintf(stderr, "cannot create the stacks\n");
    exit(1);
  }
}

static void pair_stop(struct pair *p) {
  microtcp_destroy(p->a);
  microtcp_destroy(p->b);
  q_free(p->qa);
  q_free(p->qb);
}

/* ---- an echo server thread on B ------------------------------------------------------ */
static void *echo_server(void *arg) {
  microtcp_sock_t *conn = arg;
  static _Thread_local char buf[16384];
  ssize_t n;
  while ((n = microtcp_recv(conn, buf, sizeof buf)) > 0)
    if (microtcp_send(conn, buf, (size_t)n) != n) break;
  microtcp_close(conn);
  return NULL;
}

static uint8_t pattern(size_t i) { return (uint8_t)(i * 2654435761u >> 13); }

struct writer {
  microtcp_sock_t *s;
  size_t total;
};
static void *writer(void *arg) {
  struct writer *w = arg;
  uint8_t buf[10000];
  for (size_t off = 0; off < w->total;) {
    size_t k = w->total - off < sizeof buf ? w->total - off : sizeof buf;
    for (size_t i = 0; i < k; i++) buf[i] = pattern(off + i);
    if (microtcp_send(w->s, buf, k) != (ssize_t)k) break;
    off += k;
  }
  microtcp_shutdown(w->s);
  return NULL;
}

/* Send total bytes from A through B's echo on port, check every byte back. */
static void echo_transfer(struct pair *p, microtcp_sock_t *listener, size_t total) {
  microtcp_sock_t *c = microtcp_connect(p->a, "10.0.0.2", 7);
  CHECK(c != NULL);
  if (!c) return;
  microtcp_sock_t *conn = microtcp_accept(listener);
  CHECK(conn != NULL);
  if (!conn) return;
  pthread_t srv, wr;
  pthread_create(&srv, NULL, echo_server, conn);
  struct writer w = {c, total};
  pthread_create(&wr, NULL, writer, &w);
  size_t got = 0, bad = 0;
  uint8_t buf[16384];
  ssize_t n;
  while ((n = microtcp_recv(c, buf, sizeof buf)) > 0) {
    for (ssize_t i = 0; i < n; i++) bad += buf[i] != pattern(got + (size_t)i);
    got += (size_t)n;
  }
  CHECK(n == 0); /* the echo server closed after our FIN: end of stream */
  CHECK(got == total);
  CHECK(bad == 0);
  pthread_join(wr, NULL);
  pthread_join(srv, NULL);
  CHECK(microtcp_close(c) == 0);
}

struct blocked {
  microtcp_sock_t *s;
  ssize_t r;
  int err;
};
static void *blocked_recv(void *arg) {
  struct blocked *b = arg;
  char c;
  b->r = microtcp_recv(b->s, &c, 1);
  b->err = microtcp_last_error();
  return NULL;
}

int main(void) {
  struct pair p;
  pair_start(&p, 0);

  /* nothing listens on 9: RST -> ECONNREFUSED */
  CHECK(microtcp_connect(p.a, "10.0.0.2", 9) == NULL);
  CHECK(microtcp_last_error() == MICROTCP_ECONNREFUSED);
  CHECK(microtcp_connect(p.a, "not an ip", 9) == NULL && microtcp_last_error() == MICROTCP_EINVAL);

  microtcp_sock_t *l = microtcp_open(p.b, 7);
  CHECK(l != NULL);
  CHECK(microtcp_open(p.b, 7) == NULL && microtcp_last_error() == MICROTCP_EADDRINUSE);

  /* non-blocking accept with nothing pending */
  microtcp_set_nonblocking(l, true);
  CHECK(microtcp_accept(l) == NULL && microtcp_sock_error(l) == MICROTCP_EAGAIN);
  microtcp_set_nonblocking(l, false);

  echo_transfer(&p, l, 8u << 20);

  /* non-blocking recv, mux timeout, mux readiness by index */
  microtcp_sock_t *c1 = microtcp_connect(p.a, "10.0.0.2", 7), *c2 = microtcp_connect(p.a, "10.0.0.2", 7);
  microtcp_sock_t *s1 = microtcp_accept(l), *s2 = microtcp_accept(l);
  CHECK(c1 && c2 && s1 && s2);
  if (c1 && c2 && s1 && s2) {
    microtcp_set_nonblocking(c1, true);
    char buf[64];
    CHECK(microtcp_recv(c1, buf, sizeof buf) == -1 && microtcp_sock_error(c1) == MICROTCP_EAGAIN);
    CHECK(strcmp(microtcp_sock_strerror(c1), microtcp_strerror(MICROTCP_EAGAIN)) == 0);
    microtcp_sock_t *both[2] = {s1, s2};
    uint64_t t0 = mono_us();
    CHECK(microtcp_mux_wait(both, 2, MICROTCP_READABLE, 50) == -1);
    CHECK(microtcp_last_error() == MICROTCP_EAGAIN);
    CHECK(mono_us() - t0 >= 50000);
    CHECK(microtcp_send(c2, "ping", 4) == 4);
    CHECK(microtcp_mux_wait(both, 2, MICROTCP_READABLE, 5000) == 1);
    CHECK(microtcp_recv(s2, buf, sizeof buf) == 4 && memcmp(buf, "ping", 4) == 0);
    /* both connections are writable; the cursor moves on, so s1 and s2 alternate */
    int w1 = microtcp_mux_wait(both, 2, MICROTCP_WRITABLE, 1000);
    int w2 = microtcp_mux_wait(both, 2, MICROTCP_WRITABLE, 1000);
    CHECK(w1 >= 0 && w2 >= 0 && w1 != w2);
    /* the stack closes first: the peer reads end of stream */
    CHECK(microtcp_close(s1) == 0);
    microtcp_sock_t *one[1] = {c1};
    CHECK(microtcp_mux_wait(one, 1, MICROTCP_READABLE, 5000) == 0);
    CHECK(microtcp_recv(c1, buf, sizeof buf) == 0);
    CHECK(microtcp_close(c1) == 0);
    /* the other side closes first this time */
    CHECK(microtcp_close(c2) == 0);
    microtcp_set_nonblocking(s2, false);
    CHECK(microtcp_recv(s2, buf, sizeof buf) == 0);
    CHECK(microtcp_close(s2) == 0);
  }

  /* non-blocking connect: WRITABLE once established; refusal via sock_error */
  microtcp_sock_t *nb = microtcp_connect_nb(p.a, "10.0.0.2", 7, true);
  CHECK(nb != NULL);
  if (nb) {
    microtcp_sock_t *one[1] = {nb};
    CHECK(microtcp_mux_wait(one, 1, MICROTCP_WRITABLE, 5000) == 0);
    CHECK(microtcp_sock_ready(nb) & MICROTCP_CONNECTED);
    CHECK(microtcp_sock_error(nb) == 0);
    microtcp_sock_t *srv = microtcp_accept(l);
    CHECK(srv != NULL);
    if (srv) microtcp_close(srv);
    microtcp_close(nb);
  }
  microtcp_sock_t *ref = microtcp_connect_nb(p.a, "10.0.0.2", 10, true);
  CHECK(ref != NULL);
  if (ref) {
    microtcp_sock_t *one[1] = {ref};
    CHECK(microtcp_mux_wait(one, 1, MICROTCP_WRITABLE, 5000) == 0);
    CHECK(microtcp_sock_error(ref) == MICROTCP_ECONNREFUSED);
    microtcp_close(ref);
  }

  /* destroy wakes a recv blocked in another thread */
  microtcp_sock_t *c3 = microtcp_connect(p.a, "10.0.0.2", 7);
  microtcp_sock_t *s3 = microtcp_accept(l);
  CHECK(c3 && s3);
  if (c3 && s3) {
    struct blocked b = {c3, 0, 0};
    pthread_t t;
    pthread_create(&t, NULL, blocked_recv, &b);
    usleep(50000);
    microtcp_destroy(p.a); /* frees c3 too */
    pthread_join(t, NULL);
    CHECK(b.r == -1 && b.err == MICROTCP_ECONNABORTED);
    p.a = microtcp_create_using_callbacks("10.0.0.1/24", "02:00:00:00:00:01",
                                          (microtcp_callbacks_t){&sa, side_send, side_recv, p.qa->efd});
  }
  pair_stop(&p);

  /* 2 MB through 2% loss in each direction */
  pair_start(&p, 20000);
  l = microtcp_open(p.b, 7);
  CHECK(l != NULL);
  if (l) echo_transfer(&p, l, 2u << 20);
  CHECK(p.qa->loss.dropped > 0 && p.qb->loss.dropped > 0);
  pair_stop(&p);

  if (failures) {
    fprintf(stderr, "%d checks failed\n", failures);
    return 1;
  }
  puts("blocking API: all checks passed");
  return 0;
}
