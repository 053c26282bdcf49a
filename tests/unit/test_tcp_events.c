/*
 * Application events (microtcp.h "Events"): recorded while the stack works,
 * delivered once at the end of the public call, so the event callback may call
 * back into the stack. These tests run whole applications inside the callback
 * (accept, recv, send, shutdown, close, abort, connect, UDP bind/close, even
 * microtcp_input) and check that nothing is delivered recursively, that events
 * a callback's calls cause come after it in order, and that a socket closed by
 * an earlier callback hears nothing more.
 */
#include <stdio.h>

#include "check.h"
#include "netcraft.h"
#include "pair.h"

#define IP_A 0x0a000001u
#define IP_B 0x0a000002u

/* What every callback records about its own delivery. */
struct evlog {
  microtcp_stack *st;
  uint64_t *now;
  int depth, max_depth;
  int calls;
  int handles[64];
  unsigned ready[64];
  int n;
};

static void log_enter(struct evlog *e, int h, unsigned ready) {
  e->depth++;
  if (e->depth > e->max_depth) e->max_depth = e->depth;
  e->calls++;
  if (e->n < 64) {
    e->handles[e->n] = h;
    e->ready[e->n] = ready;
    e->n++;
  }
}

/* ---- an echo server living entirely in the callback -------------------------------------- */
struct echo_srv {
  struct evlog log;
  int listener;
  int conn;
  int accepted, closed;
  uint8_t pending[4096]; /* read but not yet sent back */
  size_t npending;
  uint64_t echoed;
};

static void echo_pump(struct echo_srv *s) {
  microtcp_stack *st = s->log.st;
  uint64_t now = *s->log.now;
  for (;;) {
    if (s->npending) {
      int w = microtcp_tcp_send(st, now, s->conn, s->pending, s->npending);
      if (w <= 0) break;
      memmove(s->pending, s->pending + w, s->npending - (size_t)w);
      s->npending -= (size_t)w;
      s->echoed += (uint64_t)w;
      continue;
    }
    int r = microtcp_tcp_recv(st, now, s->conn, s->pending, sizeof s->pending);
    if (r > 0) {
      s->npending = (size_t)r;
      continue;
    }
    if (r == 0 && !s->closed) { /* peer FIN and everything echoed: close from here */
      CHECK_EQ(microtcp_tcp_close(st, now, s->conn), 0);
      s->closed = 1;
    }
    break;
  }
}

static void echo_on_event(void *ctx, int h, unsigned ready) {
  struct echo_srv *s = ctx;
  log_enter(&s->log, h, ready);
  if (h == s->listener) {
    CHECK(ready & MICROTCP_READABLE);
    int c = microtcp_tcp_accept(s->log.st, *s->log.now, s->listener, NULL);
    CHECK(c >= 0);
    s->conn = c;
    s->accepted++;
    echo_pump(s); /* data may have come with the handshake's last ACK */
  } else {
    CHECK_EQ(h, s->conn);
    CHECK(!s->closed); /* a closed handle hears nothing more */
    echo_pump(s);
  }
  s->log.depth--;
}

static void callback_echo_server_accepts_reads_writes_closes(void) {
  struct pair p;
  struct echo_srv srv;
  memset(&srv, 0, sizeof srv);
  srv.listener = srv.conn = -1;
  microtcp_config cfg[2];
  for (int i = 0; i < 2; i++) {
    pair_config(&cfg[i], i);
    cfg[i].tcp_msl_us = 500000;
  }
  cfg[1].event = echo_on_event;
  cfg[1].event_ctx = &srv;
  CHECK_EQ(pair_init(&p, cfg, 3), 0);
  p.loss_ppm = 20000; /* some retransmissions, so timers deliver events too */
  srv.log.st = p.st[1];
  srv.log.now = &p.now;
  srv.listener = microtcp_tcp_listen(p.st[1], p.now, 7, 4);
  CHECK(srv.listener >= 0);
  int c = microtcp_tcp_connect(p.st[0], p.now, IP_B, 7, 0);
  CHECK(c >= 0);

  enum { TOTAL = 60000 };
  static uint8_t out[TOTAL], back[TOTAL];
  for (int i = 0; i < TOTAL; i++) out[i] = (uint8_t)(i * 7 + i / 251);
  size_t sent = 0, got = 0;
  int shut = 0, eof = 0;
  uint64_t limit = 60000000;
  while (p.now < limit && !eof) {
    if (sent < TOTAL) {
      int w = microtcp_tcp_send(p.st[0], p.now, c, out + sent, TOTAL - sent);
      if (w > 0) sent += (size_t)w;
    } else if (!shut) {
      CHECK_EQ(microtcp_tcp_shutdown(p.st[0], p.now, c), 0);
      shut = 1;
    }
    for (;;) {
      int r = microtcp_tcp_recv(p.st[0], p.now, c, back + got, TOTAL - got);
      if (r > 0) {
        got += (size_t)r;
        continue;
      }
      if (r == 0) eof = 1;
      break;
    }
    if (!pair_step(&p, limit)) break;
  }
  CHECK(eof);
  CHECK_EQ(got, TOTAL);
  CHECK(memcmp(out, back, TOTAL) == 0);
  CHECK_EQ(srv.accepted, 1);
  CHECK_EQ(srv.echoed, TOTAL);
  CHECK(srv.closed);
  CHECK_EQ(srv.log.max_depth, 1); /* never delivered inside a callback */
  CHECK(srv.log.calls > 10);
  CHECK_EQ(microtcp_tcp_close(p.st[0], p.now, c), 0);
  pair_run_until(&p, p.now + 3000000);
  microtcp_pool_usage u;
  microtcp_get_pool_usage(p.st[1], &u);
  CHECK_EQ(u.tcp, 0);
  pair_free(&p);
}

/* ---- opening and closing sockets inside the callback ------------------------------------- */
struct opener {
  struct evlog log;
  int c1, c2, c3;
  int udp;
  int c1_events_after_close, c2_events;
};

static int drop_all(struct pair *p, int to, uint8_t *frame, size_t len) {
  (void)p, (void)to, (void)frame, (void)len;
  return 0;
}

static void opener_on_event(void *ctx, int h, unsigned ready) {
  struct opener *o = ctx;
  log_enter(&o->log, h, ready);
  microtcp_stack *st = o->log.st;
  uint64_t now = *o->log.now;
  if (h == o->c2) o->c2_events++;
  if (h == o->c1) {
    if (o->c3 >= 0) o->c1_events_after_close++;
    CHECK(ready & MICROTCP_ERROR);
    CHECK_EQ(microtcp_socket_error(st, h), MICROTCP_ETIMEDOUT);
    /* Close both timed-out connections: c2's event, recorded in the same
     * advance, must now be skipped. Then open new sockets from here. */
    CHECK_EQ(microtcp_tcp_close(st, now, o->c1), 0);
    CHECK_EQ(microtcp_tcp_abort(st, now, o->c2), 0);
    o->c3 = microtcp_tcp_connect(st, now, IP_B, 81, 0);
    CHECK(o->c3 >= 0);
    CHECK(o->c3 != o->c1 && o->c3 != o->c2); /* a slot may be reused; the handle is new */
    o->udp = microtcp_udp_bind(st, now, 0);
    CHECK(o->udp >= 0);
    CHECK_EQ(microtcp_udp_close(st, o->udp), 0);
    CHECK_EQ(microtcp_tcp_state(st, o->c3), MICROTCP_SYN_SENT);
  }
  o->log.depth--;
}

static void callback_opens_and_closes_sockets(void) {
  struct pair p;
  struct opener o;
  memset(&o, 0, sizeof o);
  o.c1 = o.c2 = o.c3 = o.udp = -1;
  microtcp_config cfg[2];
  for (int i = 0; i < 2; i++) {
    pair_config(&cfg[i], i);
    cfg[i].tcp_syn_retries = 2;
    cfg[i].max_tcp = 2; /* c3 must reuse a slot freed inside the callback */
  }
  cfg[0].event = opener_on_event;
  cfg[0].event_ctx = &o;
  CHECK_EQ(pair_init(&p, cfg, 5), 0);
  p.filter = drop_all; /* nobody answers: both connections time out together */
  o.log.st = p.st[0];
  o.log.now = &p.now;
  uint8_t mac[6] = {2, 0, 0, 0, 0, 0x11};
  CHECK_EQ(microtcp_arp_add_static(p.st[0], IP_B, mac), 0);
  o.c1 = microtcp_tcp_connect(p.st[0], p.now, IP_B, 80, 0);
  o.c2 = microtcp_tcp_connect(p.st[0], p.now, IP_B, 80, 0);
  CHECK(o.c1 >= 0 && o.c2 >= 0);
  pair_run_until(&p, 20000000);
  CHECK(o.c3 >= 0);
  CHECK_EQ(o.c2_events, 0);            /* closed by c1's callback before its turn */
  CHECK_EQ(o.c1_events_after_close, 0);
  CHECK_EQ(o.log.max_depth, 1);
  /* c3 went on without its callback's help and timed out too. */
  CHECK_EQ(microtcp_tcp_state(p.st[0], o.c3), MICROTCP_CLOSED);
  CHECK_EQ(o.log.handles[o.log.n - 1], o.c3);
  CHECK(o.log.ready[o.log.n - 1] & MICROTCP_ERROR);
  CHECK_EQ(microtcp_tcp_close(p.st[0], p.now, o.c3), 0);
  microtcp_pool_usage u;
  microtcp_get_pool_usage(p.st[0], &u);
  CHECK_EQ(u.tcp, 0);
  CHECK_EQ(u.udp, 0);
  pair_free(&p);
}

/* ---- a frame fed to the stack from inside the callback ----------------------------------- */
struct feeder {
  struct evlog log;
  int u1, u2;
  int u2_seen_during_u1;
  int in_u1;
  uint8_t frame[256];
  size_t frame_len;
};

static void feeder_on_event(void *ctx, int h, unsigned ready) {
  struct feeder *f = ctx;
  log_enter(&f->log, h, ready);
  microtcp_stack *st = f->log.st;
  uint64_t now = *f->log.now;
  if (h == f->u2 && f->in_u1) f->u2_seen_during_u1 = 1;
  uint8_t buf[64];
  microtcp_endpoint from;
  if (h == f->u1 && f->frame_len) {
    f->in_u1 = 1;
    CHECK_EQ(microtcp_udp_recvfrom(st, now, h, buf, sizeof buf, &from), 3);
    CHECK(memcmp(buf, "one", 3) == 0);
    size_t len = f->frame_len;
    f->frame_len = 0;
    microtcp_input(st, now, f->frame, len); /* a datagram for u2: recorded, not delivered */
    CHECK_EQ(f->log.n, 1);
    f->in_u1 = 0;
  } else if (h == f->u2) {
    CHECK(ready & MICROTCP_READABLE);
    CHECK_EQ(microtcp_udp_recvfrom(st, now, h, buf, sizeof buf, &from), 3);
    CHECK(memcmp(buf, "two", 3) == 0);
  }
  f->log.depth--;
}

static void input_from_callback_is_delivered_after_it(void) {
  struct feeder f;
  memset(&f, 0, sizeof f);
  uint64_t now = 0;
  microtcp_config cfg;
  host_config(&cfg);
  cfg.event = feeder_on_event;
  cfg.event_ctx = &f;
  size_t n = microtcp_footprint(&cfg);
  void *arena = aligned_alloc(16, (n + 15) & ~(size_t)15);
  microtcp_stack *st = microtcp_init(arena, n, &cfg, 0, NULL);
  CHECK(st != NULL);
  f.log.st = st;
  f.log.now = &now;
  f.u1 = microtcp_udp_bind(st, now, 1000);
  f.u2 = microtcp_udp_bind(st, now, 2000);
  CHECK(f.u1 >= 0 && f.u2 >= 0);

  uint8_t udp[64], frame1[256];
  struct ipspec is = ip_from_peer(WIRE_IP_PROTO_UDP);
  size_t ul = craft_udp(udp, PEER, ME, 5000, 2000, "two", 3);
  f.frame_len = craft_ip(f.frame, &is, udp, ul);
  ul = craft_udp(udp, PEER, ME, 5000, 1000, "one", 3);
  size_t l1 = craft_ip(frame1, &is, udp, ul);
  microtcp_input(st, now, frame1, l1);
  CHECK_EQ(f.log.n, 2);
  CHECK_EQ(f.log.handles[0], f.u1);
  CHECK_EQ(f.log.handles[1], f.u2);
  CHECK(!f.u2_seen_during_u1);
  CHECK_EQ(f.log.max_depth, 1);
  CHECK_EQ(microtcp_get_counters(st)->udp_datagrams_in, 2);
  free(arena);
}

/* ---- one delivery per socket per call, with the final readiness -------------------------- */
static void log_on_event(void *ctx, int h, unsigned ready) {
  struct evlog *e = ctx;
  log_enter(e, h, ready);
  e->depth--;
}

static void one_event_per_socket_with_final_readiness(void) {
  /* Data and FIN in one segment used to call back twice (data, then FIN,
   * each with the readiness of that moment); now the socket is reported
   * once, when the segment is fully processed: READABLE and PEER_FIN. */
  struct pair p;
  struct evlog log;
  memset(&log, 0, sizeof log);
  microtcp_config cfg[2];
  for (int i = 0; i < 2; i++) pair_config(&cfg[i], i);
  cfg[1].event = log_on_event;
  cfg[1].event_ctx = &log;
  CHECK_EQ(pair_init(&p, cfg, 9), 0);
  int l = microtcp_tcp_listen(p.st[1], p.now, 80, 2);
  int c = microtcp_tcp_connect(p.st[0], p.now, IP_B, 80, 0);
  int s = MICROTCP_EAGAIN;
  while ((s = microtcp_tcp_accept(p.st[1], p.now, l, NULL)) < 0 && pair_step(&p, 1000000)) {
  }
  CHECK(s >= 0);
  pair_run_until(&p, p.now + 100000);
  CHECK_EQ(p.qlen, 0);
  CHECK_EQ(microtcp_tcp_send(p.st[0], p.now, c, "bye", 3), 3);
  CHECK_EQ(microtcp_tcp_shutdown(p.st[0], p.now, c), 0);
  uint8_t buf[1600];
  int len = microtcp_output(p.st[0], p.now, buf, sizeof buf);
  CHECK(len > 54);
  CHECK_EQ(buf[14 + 20 + 13] & 0x19, 0x19); /* FIN|PSH|ACK: the FIN rides on the data */
  log.n = 0;
  microtcp_input(p.st[1], p.now, buf, (size_t)len);
  CHECK_EQ(log.n, 1);
  CHECK_EQ(log.handles[0], s);
  CHECK_EQ(log.ready[0] & (MICROTCP_READABLE | MICROTCP_PEER_FIN),
           MICROTCP_READABLE | MICROTCP_PEER_FIN);
  CHECK_EQ(microtcp_tcp_state(p.st[1], s), MICROTCP_CLOSE_WAIT);
  pair_free(&p);
}

int main(void) {
  RUN(callback_echo_server_accepts_reads_writes_closes);
  RUN(callback_opens_and_closes_sockets);
  RUN(input_from_callback_is_delivered_after_it);
  RUN(one_event_per_socket_with_final_readiness);
  return check_report();
}
