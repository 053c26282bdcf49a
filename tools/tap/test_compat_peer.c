/*
 * The peer of test_compat.c: a client on the blocking API (it cannot share a
 * file with compat.h, which gives the same names other meanings). It runs on
 * its own thread, over one end of a datagram socketpair whose other end
 * carries the compat stack's frames.
 */
#define _GNU_SOURCE
#include "test_compat_peer.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "microtcp/blocking.h"

struct peer {
  int fd;
  const char *ip;
  uint16_t port;
  size_t expect;
  int read_delay_ms;
  pthread_t thread;
  struct peer_result res;
};

static int peer_send(void *ctx, const void *frame, size_t len) {
  return send(((struct peer *)ctx)->fd, frame, len, 0) < 0 ? -1 : 0;
}

static ssize_t peer_recv(void *ctx, void *buf, size_t cap) {
  ssize_t n = recv(((struct peer *)ctx)->fd, buf, cap, MSG_DONTWAIT);
  return n < 0 ? 0 : n;
}

static void *client(void *arg) {
  struct peer *p = arg;
  microtcp_callbacks_t cb = {p, peer_send, peer_recv, p->fd};
  microtcp_t *m = microtcp_create_using_callbacks("10.0.0.5/24", "02:00:00:00:00:55", cb);
  if (!m) return NULL;
  microtcp_sock_t *s = microtcp_connect(m, p->ip, p->port);
  if (s) {
    p->res.connected = 1;
    p->res.sent_hello = microtcp_send(s, "hello", 5) == 5;
    usleep((useconds_t)p->read_delay_ms * 1000u); /* the other side's send buffer fills meanwhile */
    uint8_t buf[16384];
    ssize_t n = 1;
    while (p->res.received < p->expect && (n = microtcp_recv(s, buf, sizeof buf)) > 0) {
      for (ssize_t i = 0; i < n; i++)
        if (buf[i] != (uint8_t)('a' + (p->res.received + (size_t)i) % 26)) p->res.corrupt++;
      p->res.received += (size_t)n;
    }
    microtcp_close(s); /* all there: our FIN */
  }
  microtcp_destroy(m);
  return NULL;
}

struct peer *peer_start(int fd, const char *ip, uint16_t port, size_t expect, int read_delay_ms) {
  struct peer *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->fd = fd;
  p->ip = ip;
  p->port = port;
  p->expect = expect;
  p->read_delay_ms = read_delay_ms;
  if (pthread_create(&p->thread, NULL, client, p) != 0) {
    free(p);
    return NULL;
  }
  return p;
}

struct peer_result peer_finish(struct peer *p) {
  pthread_join(p->thread, NULL);
  struct peer_result r = p->res;
  free(p);
  return r;
}
