/*
 * TCP basics between two instances: handshake, data both ways, orderly close
 * through TIME_WAIT, refused connections, reset on close with unread data,
 * simultaneous close, half-close, stale handles, and pool accounting.
 */
#include <stdio.h>

#include "check.h"
#include "pair.h"

#define IP_A 0x0a000001u
#define IP_B 0x0a000002u

static void setup(struct pair *p) {
  microtcp_config cfg[2];
  for (int i = 0; i < 2; i++) {
    pair_config(&cfg[i], i);
    cfg[i].tcp_msl_us = 1000000; /* TIME_WAIT 2 s */
    cfg[i].tcp_rto_min_us = 200000;
  }
  CHECK_EQ(pair_init(p, cfg, 7), 0);
}

/* Run until cond holds or limit µs of virtual time pass. */
#define RUN_UNTIL(p, cond, limit)                              \
  do {                                                         \
    uint64_t until_ = (p)->now + (limit);                      \
    while (!(cond) && pair_step((p), until_)) {                \
    }                                                          \
  } while (0)

static int connect_pair(struct pair *p, int *client, int *server, int *listener) {
  *listener = microtcp_tcp_listen(p->st[1], p->now, 80, 4);
  CHECK(*listener >= 0);
  *client = microtcp_tcp_connect(p->st[0], p->now, IP_B, 80, 0);
  CHECK(*client >= 0);
  *server = MICROTCP_EAGAIN;
  RUN_UNTIL(p, (*server = microtcp_tcp_accept(p->st[1], p->now, *listener, NULL)) >= 0, 5000000);
  RUN_UNTIL(p, microtcp_poll(p->st[0], *client) & MICROTCP_CONNECTED, 5000000);
  return *server >= 0;
}

static void handshake_and_echo(void) {
  struct pair p;
  setup(&p);
  int c, s, l;
  CHECK(connect_pair(&p, &c, &s, &l));
  CHECK_EQ(microtcp_tcp_state(p.st[0], c), MICROTCP_ESTABLISHED);
  CHECK_EQ(microtcp_tcp_state(p.st[1], s), MICROTCP_ESTABLISHED);
  CHECK_EQ(microtcp_tcp_send(p.st[0], p.now, c, "hello", 5), 5);
  char buf[64];
  int n = MICROTCP_EAGAIN;
  RUN_UNTIL(&p, (n = microtcp_tcp_recv(p.st[1], p.now, s, buf, sizeof buf)) > 0, 1000000);
  CHECK_EQ(n, 5);
  CHECK(memcmp(buf, "hello", 5) == 0);
  CHECK_EQ(microtcp_tcp_send(p.st[1], p.now, s, "world!", 6), 6);
  RUN_UNTIL(&p, (n = microtcp_tcp_recv(p.st[0], p.now, c, buf, sizeof buf)) > 0, 1000000);
  CHECK_EQ(n, 6);
  /* client closes first: client goes through TIME_WAIT */
  CHECK_EQ(microtcp_tcp_close(p.st[0], p.now, c), 0);
  RUN_UNTIL(&p, microtcp_tcp_recv(p.st[1], p.now, s, buf, sizeof buf) == 0, 1000000);
  CHECK_EQ(microtcp_tcp_recv(p.st[1], p.now, s, buf, sizeof buf), 0);
  CHECK_EQ(microtcp_tcp_state(p.st[1], s), MICROTCP_CLOSE_WAIT);
  CHECK_EQ(microtcp_tcp_close(p.st[1], p.now, s), 0);
  pair_run_until(&p, p.now + 500000);
  microtcp_pool_usage u;
  microtcp_get_pool_usage(p.st[0], &u);
  CHECK_EQ(u.tcp, 1); /* TIME_WAIT still holds the block */
  microtcp_get_pool_usage(p.st[1], &u);
  CHECK_EQ(u.tcp, 0); /* LAST_ACK done */
  pair_run_until(&p, p.now + 3000000);
  microtcp_get_pool_usage(p.st[0], &u);
  CHECK_EQ(u.tcp, 0);
  CHECK_EQ(microtcp_tcp_close(p.st[1], p.now, l), 0);
  microtcp_get_pool_usage(p.st[1], &u);
  CHECK_EQ(u.listeners, 0);
  /* stale handles */
  CHECK_EQ(microtcp_tcp_send(p.st[0], p.now, c, "x", 1), MICROTCP_EBADF);
  CHECK_EQ(microtcp_tcp_close(p.st[1], p.now, l), MICROTCP_EBADF);
  pair_free(&p);
}

static void connect_to_closed_port_is_refused(void) {
  struct pair p;
  setup(&p);
  int c = microtcp_tcp_connect(p.st[0], p.now, IP_B, 81, 0);
  CHECK(c >= 0);
  RUN_UNTIL(&p, microtcp_poll(p.st[0], c) & MICROTCP_ERROR, 5000000);
  CHECK_EQ(microtcp_socket_error(p.st[0], c), MICROTCP_ECONNREFUSED);
  CHECK_EQ(microtcp_tcp_state(p.st[0], c), MICROTCP_CLOSED);
  CHECK_EQ(microtcp_get_counters(p.st[1])->tcp_rst_out, 1);
  CHECK_EQ(microtcp_tcp_close(p.st[0], p.now, c), 0);
  microtcp_pool_usage u;
  microtcp_get_pool_usage(p.st[0], &u);
  CHECK_EQ(u.tcp, 0);
  pair_free(&p);
}

static void close_with_unread_data_resets_peer(void) {
  struct pair p;
  setup(&p);
  int c, s, l;
  CHECK(connect_pair(&p, &c, &s, &l));
  CHECK_EQ(microtcp_tcp_send(p.st[0], p.now, c, "unread", 6), 6);
  RUN_UNTIL(&p, microtcp_poll(p.st[1], s) & MICROTCP_READABLE, 1000000);
  CHECK_EQ(microtcp_tcp_close(p.st[1], p.now, s), 0); /* 6 bytes unread */
  RUN_UNTIL(&p, microtcp_poll(p.st[0], c) & MICROTCP_ERROR, 1000000);
  char buf[8];
  CHECK_EQ(microtcp_tcp_recv(p.st[0], p.now, c, buf, sizeof buf), MICROTCP_ECONNRESET);
  CHECK_EQ(microtcp_tcp_close(p.st[0], p.now, c), 0);
  microtcp_tcp_close(p.st[1], p.now, l);
  microtcp_pool_usage u;
  for (int i = 0; i < 2; i++) {
    microtcp_get_pool_usage(p.st[i], &u);
    CHECK_EQ(u.tcp, 0);
  }
  pair_free(&p);
}

static void half_close_then_receive(void) {
  struct pair p;
  setup(&p);
  int c, s, l;
  CHECK(connect_pair(&p, &c, &s, &l));
  CHECK_EQ(microtcp_tcp_shutdown(p.st[0], p.now, c), 0);
  CHECK_EQ(microtcp_tcp_send(p.st[0], p.now, c, "x", 1), MICROTCP_EPIPE);
  char buf[16];
  RUN_UNTIL(&p, microtcp_tcp_recv(p.st[1], p.now, s, buf, sizeof buf) == 0, 1000000);
  RUN_UNTIL(&p, microtcp_tcp_state(p.st[0], c) == MICROTCP_FIN_WAIT_2, 1000000);
  CHECK_EQ(microtcp_tcp_state(p.st[0], c), MICROTCP_FIN_WAIT_2);
  CHECK_EQ(microtcp_tcp_send(p.st[1], p.now, s, "late", 4), 4);
  int n = MICROTCP_EAGAIN;
  RUN_UNTIL(&p, (n = microtcp_tcp_recv(p.st[0], p.now, c, buf, sizeof buf)) > 0, 1000000);
  CHECK_EQ(n, 4);
  CHECK_EQ(microtcp_tcp_close(p.st[1], p.now, s), 0);
  RUN_UNTIL(&p, microtcp_tcp_state(p.st[0], c) == MICROTCP_TIME_WAIT, 1000000);
  CHECK_EQ(microtcp_tcp_state(p.st[0], c), MICROTCP_TIME_WAIT);
  CHECK_EQ(microtcp_tcp_recv(p.st[0], p.now, c, buf, sizeof buf), 0);
  CHECK_EQ(microtcp_tcp_close(p.st[0], p.now, c), 0);
  pair_run_until(&p, p.now + 3000000);
  microtcp_tcp_close(p.st[1], p.now, l);
  microtcp_pool_usage u;
  for (int i = 0; i < 2; i++) {
    microtcp_get_pool_usage(p.st[i], &u);
    CHECK_EQ(u.tcp, 0);
    CHECK_EQ(u.frames, 0);
  }
  pair_free(&p);
}

static void simultaneous_close(void) {
  struct pair p;
  setup(&p);
  int c, s, l;
  CHECK(connect_pair(&p, &c, &s, &l));
  CHECK_EQ(microtcp_tcp_shutdown(p.st[0], p.now, c), 0);
  CHECK_EQ(microtcp_tcp_shutdown(p.st[1], p.now, s), 0);
  RUN_UNTIL(&p,
            microtcp_tcp_state(p.st[0], c) == MICROTCP_TIME_WAIT &&
                microtcp_tcp_state(p.st[1], s) == MICROTCP_TIME_WAIT,
            1000000);
  CHECK_EQ(microtcp_tcp_state(p.st[0], c), MICROTCP_TIME_WAIT);
  CHECK_EQ(microtcp_tcp_state(p.st[1], s), MICROTCP_TIME_WAIT);
  pair_run_until(&p, p.now + 3000000);
  CHECK_EQ(microtcp_tcp_state(p.st[0], c), MICROTCP_CLOSED);
  CHECK_EQ(microtcp_tcp_close(p.st[0], p.now, c), 0);
  CHECK_EQ(microtcp_tcp_close(p.st[1], p.now, s), 0);
  microtcp_tcp_close(p.st[1], p.now, l);
  pair_free(&p);
}

static void simultaneous_open(void) {
  struct pair p;
  setup(&p);
  int a = microtcp_tcp_connect(p.st[0], p.now, IP_B, 7000, 7001);
  int b = microtcp_tcp_connect(p.st[1], p.now, IP_A, 7001, 7000);
  CHECK(a >= 0 && b >= 0);
  RUN_UNTIL(&p,
            (microtcp_poll(p.st[0], a) & MICROTCP_CONNECTED) &&
                (microtcp_poll(p.st[1], b) & MICROTCP_CONNECTED),
            5000000);
  CHECK_EQ(microtcp_tcp_state(p.st[0], a), MICROTCP_ESTABLISHED);
  CHECK_EQ(microtcp_tcp_state(p.st[1], b), MICROTCP_ESTABLISHED);
  CHECK_EQ(microtcp_tcp_send(p.st[0], p.now, a, "sim", 3), 3);
  char buf[8];
  int n = MICROTCP_EAGAIN;
  RUN_UNTIL(&p, (n = microtcp_tcp_recv(p.st[1], p.now, b, buf, sizeof buf)) > 0, 1000000);
  CHECK_EQ(n, 3);
  microtcp_tcp_abort(p.st[0], p.now, a);
  RUN_UNTIL(&p, microtcp_poll(p.st[1], b) & MICROTCP_ERROR, 1000000);
  CHECK_EQ(microtcp_socket_error(p.st[1], b), MICROTCP_ECONNRESET);
  microtcp_tcp_close(p.st[1], p.now, b);
  pair_free(&p);
}

static void deterministic_frames(void) {
  uint64_t h[2];
  for (int run = 0; run < 2; run++) {
    struct pair p;
    setup(&p);
    p.loss_ppm = 20000;
    int c, s, l;
    CHECK(connect_pair(&p, &c, &s, &l));
    static uint8_t data[200000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 31);
    size_t sent = 0, got = 0;
    uint8_t buf[4096];
    while (got < sizeof data && p.now < 60000000) {
      if (sent < sizeof data) {
        int r = microtcp_tcp_send(p.st[0], p.now, c, data + sent, sizeof data - sent);
        if (r > 0) sent += (size_t)r;
      }
      int r = microtcp_tcp_recv(p.st[1], p.now, s, buf, sizeof buf);
      if (r > 0) {
        CHECK(memcmp(buf, data + got, (size_t)r) == 0);
        got += (size_t)r;
      }
      if (!pair_step(&p, UINT64_MAX)) break;
    }
    CHECK_EQ(got, sizeof data);
    h[run] = p.hash;
    pair_free(&p);
  }
  CHECK(h[0] == h[1]);
}

/* Options set on a listener reach every connection it accepts, including an
 * option turned off that the config turns on (cfg.tcp_nodelay). */
static void listener_options_are_inherited(void) {
  struct pair p;
  microtcp_config cfg[2];
  for (int i = 0; i < 2; i++) pair_config(&cfg[i], i);
  cfg[1].tcp_nodelay = true;
  CHECK_EQ(pair_init(&p, cfg, 11), 0);
  int l = microtcp_tcp_listen(p.st[1], p.now, 80, 4);
  CHECK(l >= 0);
  int64_t v = -1;
  CHECK_EQ(microtcp_tcp_getopt(p.st[1], l, MICROTCP_OPT_NODELAY, &v), 0);
  CHECK_EQ(v, 1);
  const struct {
    int opt;
    int64_t value;
  } set[] = {
      {MICROTCP_OPT_NODELAY, 0},        {MICROTCP_OPT_KEEPALIVE, 1},
      {MICROTCP_OPT_KEEPIDLE_US, 5000000}, {MICROTCP_OPT_KEEPINTVL_US, 700000},
      {MICROTCP_OPT_KEEPCNT, 3},        {MICROTCP_OPT_SNDBUF, 1000},
      {MICROTCP_OPT_RCVBUF, 2000},      {MICROTCP_OPT_CC, MICROTCP_CC_CUBIC},
      {MICROTCP_OPT_USER_TIMEOUT_US, 9000000}, {MICROTCP_OPT_LINGER_ZERO, 1},
      {MICROTCP_OPT_HYSTART, !cfg[1].tcp_hystart}, {MICROTCP_OPT_DSACK_UNDO, !cfg[1].tcp_dsack_undo},
      {MICROTCP_OPT_RACK, !cfg[1].tcp_rack},    {MICROTCP_OPT_PRR, !cfg[1].tcp_prr},
  };
  size_t n = sizeof set / sizeof set[0];
  for (size_t i = 0; i < n; i++) CHECK_EQ(microtcp_tcp_setopt(p.st[1], l, set[i].opt, set[i].value), 0);
  CHECK_EQ(microtcp_tcp_setopt(p.st[1], l, MICROTCP_OPT_MAXSEG, 600), 0);
  /* The recovery switches are booleans. */
  CHECK_EQ(microtcp_tcp_setopt(p.st[1], l, MICROTCP_OPT_RACK, 2), MICROTCP_EINVAL);
  CHECK_EQ(microtcp_tcp_setopt(p.st[1], l, MICROTCP_OPT_HYSTART, -1), MICROTCP_EINVAL);
  int c = microtcp_tcp_connect(p.st[0], p.now, IP_B, 80, 0);
  CHECK(c >= 0);
  int s = MICROTCP_EAGAIN;
  RUN_UNTIL(&p, (s = microtcp_tcp_accept(p.st[1], p.now, l, NULL)) >= 0, 5000000);
  CHECK(s >= 0);
  for (size_t i = 0; i < n; i++) {
    v = -1;
    CHECK_EQ(microtcp_tcp_getopt(p.st[1], s, set[i].opt, &v), 0);
    CHECK_EQ(v, set[i].value);
  }
  /* A connection reports the MSS in use: the clamp, less the timestamp option. */
  CHECK_EQ(microtcp_tcp_getopt(p.st[1], s, MICROTCP_OPT_MAXSEG, &v), 0);
  CHECK_EQ(v, 600 - 12);
  pair_free(&p);
}

/* The error list (MICROTCP_ERRORS) is the enum and the names at once: the
 * values are the ABI, 0 down to -20 without a gap, each with its own text. */
static void every_error_code_has_its_text(void) {
  static const struct {
    int value;
    const char *text;
  } list[] = {
#define X_ROW(name, value, text, posix) {MICROTCP_##name, text},
      MICROTCP_ERRORS(X_ROW)
#undef X_ROW
  };
  size_t n = sizeof list / sizeof list[0];
  CHECK_EQ(n, 21);
  CHECK_EQ(MICROTCP_EINVAL, -1);
  CHECK_EQ(MICROTCP_ECONNRESET, -9);
  CHECK_EQ(MICROTCP_ENOSPC, -20);
  for (size_t i = 0; i < n; i++) {
    CHECK_EQ(list[i].value, -(int)i);
    CHECK(strcmp(microtcp_strerror(list[i].value), list[i].text) == 0);
    for (size_t j = 0; j < i; j++) CHECK(strcmp(list[i].text, list[j].text) != 0);
  }
  CHECK(strcmp(microtcp_strerror(-21), "unknown error") == 0);
  CHECK(strcmp(microtcp_strerror(1), "unknown error") == 0);
}

int main(void) {
  RUN(handshake_and_echo);
  RUN(connect_to_closed_port_is_refused);
  RUN(close_with_unread_data_resets_peer);
  RUN(half_close_then_receive);
  RUN(simultaneous_close);
  RUN(simultaneous_open);
  RUN(deterministic_frames);
  RUN(listener_options_are_inherited);
  RUN(every_error_code_has_its_text);
  return check_report();
}
