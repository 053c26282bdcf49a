/*
 * compat.h's semantics without root or a TAP device: a stack on seed-style
 * callbacks over a socketpair (the test holds the other end), checked for
 * frame I/O through the reader thread, microtcp_process_packet and
 * microtcp_step, the error codes and their stickiness, and the mux's
 * bookkeeping; then the data path in the seed's HTTP example's style (a
 * non-blocking listener and connection in one mux) against a blocking-API
 * client (test_compat_peer.c) over the same socketpair: ACCEPT, RECV, 2 MiB
 * sent until WOULDBLOCK and resumed on SEND, and RECV + recv() == 0 once the
 * peer has closed.
 * The same against Linux programs: tests/live/test_compat_live.py.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "microtcp/compat.h"
#include "test_compat_peer.h"

static int failures;
#define CHECK(c)                                                                                   \
  do {                                                                                             \
    if (!(c)) {                                                                                    \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);                        \
      failures++;                                                                                  \
    }                                                                                              \
  } while (0)

struct wire {
  int fd;
  int freed;
};

static int wire_send(void *data, const void *src, size_t len) {
  return (int)send(((struct wire *)data)->fd, src, len, 0);
}
static int wire_recv(void *data, void *dst, size_t len) { /* blocks, as the seed expects */
  return (int)recv(((struct wire *)data)->fd, dst, len, 0);
}
static void wire_free(void *data) { ((struct wire *)data)->freed = 1; }

static const uint8_t STACK_MAC[6] = {0x02, 0, 0, 0, 0, 0x44};
static const uint8_t PEER_MAC[6] = {0x02, 0, 0, 0, 0, 0x55};

/* An ARP request from 10.0.0.5 (PEER_MAC) for 10.0.0.4. */
static size_t arp_request(uint8_t f[42]) {
  static const uint8_t hdr[8] = {0, 1, 8, 0, 6, 4, 0, 1};
  memset(f, 0xff, 6);
  memcpy(f + 6, PEER_MAC, 6);
  f[12] = 0x08, f[13] = 0x06;
  memcpy(f + 14, hdr, 8);
  memcpy(f + 22, PEER_MAC, 6);
  f[28] = 10, f[29] = 0, f[30] = 0, f[31] = 5;
  memset(f + 32, 0, 6);
  f[38] = 10, f[39] = 0, f[40] = 0, f[41] = 4;
  return 42;
}

/* Waits up to 2 s for the stack's ARP reply to 10.0.0.5 on our end. */
static int got_arp_reply(int fd) {
  uint8_t f[2048];
  for (int waited = 0; waited < 2000; waited += 10) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 10) <= 0) continue;
    ssize_t n = recv(fd, f, sizeof f, 0);
    if (n >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == 2 && !memcmp(f + 22, STACK_MAC, 6) &&
        f[28] == 10 && f[31] == 4 && !memcmp(f, PEER_MAC, 6))
      return 1;
  }
  return 0;
}

static void test_strerror(void) {
  for (int a = MICROTCP_ERRCODE_NONE; a <= MICROTCP_ERRCODE_WOULDBLOCK; a++) {
    const char *s = microtcp_strerror((microtcp_errcode_t)a);
    CHECK(s && *s);
    for (int b = 0; b < a; b++)
      CHECK(strcmp(s, microtcp_strerror((microtcp_errcode_t)b)) != 0);
  }
  CHECK(!strcmp(microtcp_strerror((microtcp_errcode_t)99), "unknown error code"));
}

static void test_bad_create(void) {
  struct wire w = {-1, 0};
  microtcp_callbacks_t cb = {&w, wire_free, wire_send, NULL};
  CHECK(microtcp_create_using_callbacks("10.0.0.4", NULL, cb) == NULL); /* no recv */
  cb.recv = wire_recv;
  CHECK(microtcp_create_using_callbacks("10.0.0.999", NULL, cb) == NULL);
  CHECK(microtcp_create_using_callbacks("10.0.0.4", "not a mac", cb) == NULL);
  CHECK(!w.freed); /* a failed create leaves the callbacks' data to the program */
}

static void test_errors_are_sticky(microtcp_t *m) {
  microtcp_socket_t *l = microtcp_open(m, 80);
  CHECK(l != NULL);
  CHECK(microtcp_open(m, 80) == NULL); /* port in use */
  CHECK(microtcp_get_error(m) == MICROTCP_ERRCODE_TCPERROR);
  CHECK(microtcp_open(m, 81) == NULL); /* not cleared */
  CHECK(microtcp_get_error(m) == MICROTCP_ERRCODE_NOCLEAR);
  CHECK(!microtcp_step(m));
  microtcp_clear_error(m);
  CHECK(microtcp_step(m));
  microtcp_socket_t *l2 = microtcp_open(m, 81);
  CHECK(l2 != NULL);

  microtcp_set_blocking(l, false);
  CHECK(microtcp_accept(l) == NULL);
  CHECK(microtcp_get_socket_error(l) == MICROTCP_ERRCODE_WOULDBLOCK);
  CHECK(microtcp_accept(l) == NULL);
  CHECK(microtcp_get_socket_error(l) == MICROTCP_ERRCODE_NOCLEAR);
  microtcp_clear_socket_error(l);
  CHECK(microtcp_accept(l) == NULL);
  CHECK(microtcp_get_socket_error(l) == MICROTCP_ERRCODE_WOULDBLOCK);
  microtcp_clear_socket_error(l);

  char b[8];
  CHECK(microtcp_recv(l2, b, sizeof b) == -1);
  CHECK(microtcp_get_socket_error(l2) == MICROTCP_ERRCODE_NOTCONNECTION);
  CHECK(microtcp_send(l2, "x", 1) == -1); /* send does not look at the sticky error */
  CHECK(microtcp_get_socket_error(l2) == MICROTCP_ERRCODE_NOTCONNECTION);
  CHECK(microtcp_recv(l2, b, sizeof b) == -1);
  CHECK(microtcp_get_socket_error(l2) == MICROTCP_ERRCODE_NOCLEAR);
  microtcp_close(l2);
  microtcp_close(l); /* port 80 free again */
  l = microtcp_open(m, 80);
  CHECK(l != NULL);
  microtcp_close(l);
}

static void test_mux_bookkeeping(microtcp_t *m, microtcp_t *other) {
  microtcp_socket_t *l = microtcp_open(m, 90), *lo = microtcp_open(other, 90);
  microtcp_mux_t *x = microtcp_mux_create(m);
  CHECK(l && lo && x);
  CHECK(microtcp_mux_register(x, l, 0, NULL));                     /* nothing to do */
  CHECK(!microtcp_mux_unregister(x, l, MICROTCP_MUX_ACCEPT));      /* 0 events: not registered */
  CHECK(!microtcp_mux_register(x, lo, MICROTCP_MUX_ACCEPT, NULL)); /* another stack */
  CHECK(microtcp_mux_register(x, l, MICROTCP_MUX_ACCEPT, (void *)1));
  CHECK(microtcp_mux_register(x, l, MICROTCP_MUX_RECV, (void *)2));
  CHECK(microtcp_mux_unregister(x, l, MICROTCP_MUX_ACCEPT)); /* RECV stays */
  CHECK(microtcp_mux_unregister(x, l, MICROTCP_MUX_RECV));   /* gone */
  CHECK(!microtcp_mux_unregister(x, l, MICROTCP_MUX_RECV));
  CHECK(microtcp_mux_register(x, l, MICROTCP_MUX_ACCEPT, NULL));
  microtcp_close(l); /* leaves the mux */
  microtcp_mux_destroy(x);
  microtcp_close(lo);
}

enum { BIG = 2 << 20 };

struct served {
  int accepts, recv_events, send_events, would_block, got_hello;
  size_t sent;
  int peer_gone; /* RECV, then recv returned 0: the peer closed */
};

/* One connection, handled as the seed's HTTP example does. */
static void serve_one(microtcp_t *m, struct served *sv) {
  microtcp_socket_t *l = microtcp_open(m, 80);
  microtcp_mux_t *x = microtcp_mux_create(m);
  CHECK(l && x);
  if (!l || !x) return;
  microtcp_set_blocking(l, false);
  CHECK(microtcp_mux_register(x, l, MICROTCP_MUX_ACCEPT, NULL));
  static char out[BIG];
  for (size_t i = 0; i < BIG; i++)
    out[i] = (char)('a' + i % 26);
  microtcp_socket_t *c = NULL;
  int c_tag, done = 0;
  microtcp_muxevent_t ev;
  while (!done && microtcp_mux_wait(x, &ev)) {
    if (!ev.userp) {
      CHECK(ev.events == MICROTCP_MUX_ACCEPT && ev.socket == l);
      c = microtcp_accept(l);
      CHECK(c != NULL);
      if (!c) break;
      sv->accepts++;
      microtcp_set_blocking(c, false);
      CHECK(microtcp_mux_register(x, c, MICROTCP_MUX_RECV | MICROTCP_MUX_SEND, &c_tag));
      CHECK(microtcp_mux_unregister(x, l, MICROTCP_MUX_ACCEPT));
      continue;
    }
    CHECK(ev.userp == &c_tag && ev.socket == c);
    if (ev.events & MICROTCP_MUX_RECV) {
      sv->recv_events++;
      char b[64];
      int n;
      while ((n = microtcp_recv(c, b, sizeof b)) > 0)
        sv->got_hello += n == 5 && !memcmp(b, "hello", 5);
      if (n == 0) { /* the peer read everything and closed */
        sv->peer_gone = 1;
        done = 1;
        break;
      }
      CHECK(microtcp_get_socket_error(c) == MICROTCP_ERRCODE_WOULDBLOCK);
      microtcp_clear_socket_error(c);
    }
    if (ev.events & MICROTCP_MUX_SEND) sv->send_events++;
    while (sv->got_hello && sv->sent < BIG) {
      int n = microtcp_send(c, out + sv->sent, BIG - sv->sent);
      if (n < 0) {
        CHECK(microtcp_get_socket_error(c) == MICROTCP_ERRCODE_WOULDBLOCK);
        microtcp_clear_socket_error(c);
        sv->would_block++;
        break;
      }
      CHECK(n > 0);
      sv->sent += (size_t)n;
    }
    if (sv->sent == BIG)
      microtcp_mux_unregister(x, c, MICROTCP_MUX_SEND); /* only RECV now: the end */
  }
  microtcp_close(c);
  microtcp_close(l);
  microtcp_mux_destroy(x);
}

static void test_data_path(microtcp_t *m, int peer_fd) {
  struct peer *p = peer_start(peer_fd, "10.0.0.4", 80, BIG, 300);
  CHECK(p != NULL);
  if (!p) return;
  struct served sv = {0};
  serve_one(m, &sv);
  struct peer_result r = peer_finish(p);
  printf("test_compat: data path: %d accept, %d RECV events, %d SEND events, %d WOULDBLOCK sends, "
         "%zu bytes sent, peer received %zu (%zu corrupt)\n",
         sv.accepts, sv.recv_events, sv.send_events, sv.would_block, sv.sent, r.received,
         r.corrupt);
  CHECK(r.connected && r.sent_hello && sv.accepts == 1 && sv.got_hello == 1);
  CHECK(sv.sent == BIG && r.received == BIG && r.corrupt == 0);
  CHECK(sv.would_block >= 1 && sv.send_events >= 1); /* 2 MiB > the 128 KiB send buffer */
  CHECK(sv.peer_gone);
}

int main(void) {
  test_strerror();
  test_bad_create();

  int sv[2], sv2[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0 || socketpair(AF_UNIX, SOCK_DGRAM, 0, sv2) < 0) {
    perror("socketpair");
    return 1;
  }
  struct wire w = {sv[0], 0}, w2 = {sv2[0], 0};
  microtcp_callbacks_t cb = {&w, wire_free, wire_send, wire_recv};
  microtcp_callbacks_t cb2 = {&w2, wire_free, wire_send, wire_recv};
  microtcp_t *m = microtcp_create_using_callbacks("10.0.0.4", "02:00:00:00:00:44", cb);
  microtcp_t *other = microtcp_create_using_callbacks("10.0.0.6", NULL, cb2);
  CHECK(m && other);
  if (!m || !other) return 1;

  /* frames in through the program's blocking recv (the reader thread) */
  uint8_t f[42];
  CHECK(send(sv[1], f, arp_request(f), 0) == 42);
  CHECK(got_arp_reply(sv[1]));
  /* and handed over directly */
  CHECK(microtcp_process_packet(m, f, arp_request(f)));
  CHECK(got_arp_reply(sv[1]));

  test_errors_are_sticky(m);
  test_mux_bookkeeping(m, other);
  test_data_path(m, sv[1]); /* our end of the socketpair now belongs to the peer */

  microtcp_destroy(m); /* cancels the reader blocked in recv; frees the callbacks' data */
  microtcp_destroy(other);
  CHECK(w.freed && w2.freed);
  if (failures) {
    fprintf(stderr, "test_compat: %d checks failed\n", failures);
    return 1;
  }
  printf("test_compat: all checks passed\n");
  return 0;
}
