/*
 * An HTTP server written the way the seed project's HTTP example drives its
 * API (microtcp/compat.h only): one thread, a non-blocking listener and
 * non-blocking connections in one mux; an event on the listener (userp
 * NULL) accepts one connection, which is handled at once as if it had
 * reported RECV|SEND; reads go until WOULDBLOCK, responses are queued in an
 * output buffer and sent until WOULDBLOCK, the rest after MICROTCP_MUX_SEND.
 *
 * Stack 10.0.0.4, Linux side 10.0.0.5, port 80. GET / answers
 * "Hello, world!"; GET /N answers N bytes ('a'..'z' repeated), so a large
 * answer has to wait for room in the send buffer. Keep-alive unless the
 * request says "Connection: close". A line on stderr once it serves.
 * (tests/live/test_compat_live.py runs it.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microtcp.h> /* the seed's include line: tools/tap/include/seed/microtcp.h */

#define MAX_CLIENTS 64

struct buf {
  char *data;
  size_t used, size;
};

struct conn {
  microtcp_socket_t *sock; /* NULL: free */
  struct buf in, out;
  int close_when_sent;
};

struct server {
  microtcp_t *mtcp;
  microtcp_socket_t *listener;
  microtcp_mux_t *mux;
  struct conn pool[MAX_CLIENTS];
};

static int reserve(struct buf *b, size_t more) {
  if (b->size - b->used >= more) return 0;
  size_t size = b->size ? b->size : 1024;
  while (size - b->used < more)
    size *= 2;
  char *p = realloc(b->data, size);
  if (!p) return -1;
  b->data = p;
  b->size = size;
  return 0;
}

static void drop_connection(struct server *sv, struct conn *c) {
  microtcp_mux_unregister(sv->mux, c->sock, MICROTCP_MUX_RECV | MICROTCP_MUX_SEND);
  microtcp_close(c->sock);
  free(c->in.data);
  free(c->out.data);
  memset(c, 0, sizeof *c);
}

static struct conn *accept_one(struct server *sv) {
  microtcp_socket_t *s = microtcp_accept(sv->listener);
  if (!s) {
    microtcp_clear_socket_error(sv->listener); /* WOULDBLOCK: someone else took it */
    return NULL;
  }
  microtcp_set_blocking(s, false);
  struct conn *c = NULL;
  for (int i = 0; i < MAX_CLIENTS && !c; i++)
    if (!sv->pool[i].sock) c = &sv->pool[i];
  if (!c || !microtcp_mux_register(sv->mux, s, MICROTCP_MUX_RECV | MICROTCP_MUX_SEND, c)) {
    microtcp_close(s); /* full */
    return NULL;
  }
  c->sock = s;
  return c;
}

/* Appends the answer to the request head `head` to the output buffer. */
static int answer(struct conn *c, const char *head) {
  const char *path = strncmp(head, "GET ", 4) == 0 ? head + 4 : NULL;
  size_t n = 0;
  int status = 200;
  if (!path)
    status = 405;
  else if (path[0] == '/' && path[1] >= '0' && path[1] <= '9')
    n = strtoul(path + 1, NULL, 10);
  else if (!(path[0] == '/' && path[1] == ' '))
    status = 404;
  if (strstr(head, "Connection: close") || strstr(head, "connection: close"))
    c->close_when_sent = 1;
  const char *hello = "Hello, world!";
  size_t body = status != 200 ? 0 : n ? n : strlen(hello);
  char top[256];
  int len = snprintf(
      top, sizeof top,
      "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\nConnection: %s\r\n\r\n",
      status, status == 200 ? "OK" : "Error", body, c->close_when_sent ? "close" : "keep-alive");
  if (reserve(&c->out, (size_t)len + body) < 0) return -1;
  memcpy(c->out.data + c->out.used, top, (size_t)len);
  c->out.used += (size_t)len;
  for (size_t i = 0; i < body; i++)
    c->out.data[c->out.used + i] = n ? (char)('a' + i % 26) : hello[i];
  c->out.used += body;
  return 0;
}

/* Reads what is there, answers every complete request head. -1: drop it. */
static int on_recv(struct conn *c) {
  for (;;) {
    if (reserve(&c->in, 512) < 0) return -1;
    int n = microtcp_recv(c->sock, c->in.data + c->in.used, c->in.size - c->in.used - 1);
    if (n == 0) return -1; /* the peer is gone */
    if (n < 0) {
      microtcp_errcode_t e = microtcp_get_socket_error(c->sock);
      microtcp_clear_socket_error(c->sock);
      if (e == MICROTCP_ERRCODE_WOULDBLOCK) break;
      return -1;
    }
    c->in.used += (size_t)n;
  }
  for (;;) {
    c->in.data[c->in.used] = 0;
    char *end = strstr(c->in.data, "\r\n\r\n");
    if (!end || c->close_when_sent) return 0;
    size_t head = (size_t)(end - c->in.data) + 4;
    if (answer(c, c->in.data) < 0) return -1;
    memmove(c->in.data, c->in.data + head, c->in.used - head);
    c->in.used -= head;
  }
}

/* Sends until WOULDBLOCK. -1: drop it. */
static int upload(struct conn *c) {
  size_t sent = 0;
  while (sent < c->out.used) {
    int n = microtcp_send(c->sock, c->out.data + sent, c->out.used - sent);
    if (n <= 0) {
      microtcp_errcode_t e = microtcp_get_socket_error(c->sock);
      microtcp_clear_socket_error(c->sock);
      if (n < 0 && e == MICROTCP_ERRCODE_WOULDBLOCK) break;
      return -1;
    }
    sent += (size_t)n;
  }
  memmove(c->out.data, c->out.data + sent, c->out.used - sent);
  c->out.used -= sent;
  return 0;
}

static int start(struct server *sv) {
  sv->mtcp = microtcp_create("10.0.0.5", "10.0.0.4", NULL, NULL);
  if (!sv->mtcp) return fprintf(stderr, "compat http: could not create the stack\n"), -1;
  sv->listener = microtcp_open(sv->mtcp, 80);
  if (!sv->listener)
    return fprintf(stderr, "compat http: open: %s\n",
                   microtcp_strerror(microtcp_get_error(sv->mtcp))),
           -1;
  microtcp_set_blocking(sv->listener, false);
  sv->mux = microtcp_mux_create(sv->mtcp);
  if (!sv->mux || !microtcp_mux_register(sv->mux, sv->listener, MICROTCP_MUX_ACCEPT, NULL))
    return fprintf(stderr, "compat http: mux failed\n"), -1;
  return 0;
}

int main(void) {
  static struct server sv;
  if (start(&sv) < 0) return 1;
  fprintf(stderr, "compat http: serving on 10.0.0.4:80\n");
  microtcp_muxevent_t ev;
  while (microtcp_mux_wait(sv.mux, &ev)) {
    if (!ev.userp) { /* the listener */
      struct conn *fresh = accept_one(&sv);
      if (!fresh) continue;
      ev.userp = fresh;
      ev.events = MICROTCP_MUX_RECV | MICROTCP_MUX_SEND;
      ev.socket = fresh->sock;
    }
    struct conn *c = ev.userp;
    if ((ev.events & MICROTCP_MUX_RECV) && on_recv(c) < 0) {
      drop_connection(&sv, c);
      continue;
    }
    if (upload(c) < 0 || (c->out.used == 0 && c->close_when_sent)) drop_connection(&sv, c);
  }
  fprintf(stderr, "compat http: mux_wait failed\n");
  return 1;
}
