/* The built-in apps of a replay (sim/apps, driven as microtcp-tap does): see runner.h. */
#include "runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void add_app(struct runner *r, struct app *a) {
  if (r->n == r->cap) {
    r->cap = r->cap ? r->cap * 2 : 16;
    struct app **g = realloc(r->apps, r->cap * sizeof *g);
    if (!g) abort();
    r->apps = g;
  }
  r->apps[r->n++] = a;
}

static void tally(struct runner *r, const struct app *a) {
  r->bytes_in += a->received;
  if (a->status == APP_DONE) {
    r->finished_clean++;
  } else {
    r->failed++;
    if (strstr(a->reason, "reset")) r->resets++;
    snprintf(r->last_failure, sizeof r->last_failure, "%s: %s", app_kind_name(a->kind), a->reason);
  }
}

int runner_start(struct runner *r, microtcp_stack *st, const char *name, uint16_t port,
                 uint32_t connect_ip, uint16_t connect_port, uint64_t bytes, uint64_t now,
                 char *err, size_t errlen) {
  memset(r, 0, sizeof *r);
  r->st = st;
  if (!strcmp(name, "none")) return 0;
  if (!strcmp(name, "replay")) {
    /* The caller sets r->player and opens the listeners (runner_listen). */
    r->kind = APP_SINK;
    return 0;
  }
  if (!strcmp(name, "echo"))
    r->kind = APP_ECHO_SERVER;
  else if (!strcmp(name, "sink"))
    r->kind = APP_SINK;
  else if (!strcmp(name, "http"))
    r->kind = APP_HTTP_SERVER;
  else if (!strcmp(name, "udp-echo"))
    r->kind = APP_UDP_ECHO_SERVER;
  else if (!strcmp(name, "source")) {
    if (!connect_ip) {
      snprintf(err, errlen, "app source needs `connect` (or a SYN from the host in the capture)");
      return -1;
    }
    r->client = calloc(1, sizeof *r->client);
    if (!r->client) abort();
    struct app_params p = {0};
    p.bytes = bytes;
    p.remote_ip = connect_ip;
    p.remote_port = connect_port;
    if (app_start_client(r->client, APP_SOURCE, &p, st, now) < 0) {
      snprintf(err, errlen, "source: %s", r->client->reason);
      return -1;
    }
    return 0;
  } else {
    snprintf(err, errlen, "unknown app %s", name);
    return -1;
  }
  if (r->kind == APP_UDP_ECHO_SERVER) {
    int h = microtcp_udp_bind(st, now, port);
    if (h < 0) {
      snprintf(err, errlen, "udp bind %u: %s", port, microtcp_strerror(h));
      return -1;
    }
    struct app *a = calloc(1, sizeof *a);
    if (!a) abort();
    struct app_params p = {0};
    app_start_server(a, r->kind, &p, h, st, now);
    add_app(r, a);
    return 0;
  }
  if (port && !runner_listen(r, port, now)) {
    snprintf(err, errlen, "listen %u failed", port);
    return -1;
  }
  return 0;
}

bool runner_listens_on(const struct runner *r, uint16_t port) {
  for (size_t i = 0; i < r->nlisteners; i++)
    if (r->ports[i] == port) return true;
  return false;
}

bool runner_listen(struct runner *r, uint16_t port, uint64_t now) {
  if (!r->kind || r->kind == APP_UDP_ECHO_SERVER || r->nlisteners == RUNNER_MAX_LISTENERS)
    return false;
  int l = microtcp_tcp_listen(r->st, now, port, 1024);
  if (l < 0) return false;
  r->listeners[r->nlisteners] = l;
  r->ports[r->nlisteners++] = port;
  return true;
}

void runner_serve(struct runner *r, uint64_t now) {
  for (size_t i = 0; i < r->nlisteners; i++) {
    for (;;) {
      int c = microtcp_tcp_accept(r->st, now, r->listeners[i], NULL);
      if (c < 0) break;
      r->accepted++;
      if (r->keepalive_us) {
        microtcp_tcp_setopt(r->st, c, MICROTCP_OPT_KEEPALIVE, 1);
        microtcp_tcp_setopt(r->st, c, MICROTCP_OPT_KEEPIDLE_US, (int64_t)r->keepalive_us);
      }
      if (r->player) {
        player_accept(r->player, r->st, now, c);
        continue;
      }
      struct app *a = calloc(1, sizeof *a);
      if (!a) abort();
      struct app_params p = {0};
      app_start_server(a, r->kind, &p, c, r->st, now);
      add_app(r, a);
    }
  }
  size_t w = 0;
  for (size_t i = 0; i < r->n; i++) {
    struct app *a = r->apps[i];
    if (app_poll(a, r->st, now) == APP_RUNNING) {
      r->apps[w++] = a;
    } else {
      tally(r, a);
      free(a);
    }
  }
  r->n = w;
  if (r->client && r->client->status == APP_RUNNING) app_poll(r->client, r->st, now);
  if (r->player) player_poll(r->player, r->st, now);
}

void runner_close_apps(struct runner *r, uint64_t now) {
  for (size_t i = 0; i < r->n; i++) {
    app_close(r->apps[i], r->st, now);
    r->bytes_in += r->apps[i]->received;
    free(r->apps[i]);
  }
  r->n = 0;
  if (r->client) app_close(r->client, r->st, now);
}

void runner_close_listeners(struct runner *r, uint64_t now) {
  for (size_t i = 0; i < r->nlisteners; i++)
    microtcp_tcp_close(r->st, now, r->listeners[i]);
  r->nlisteners = 0;
}

uint64_t runner_established(const struct runner *r) {
  if (r->player) return player_established(r->player);
  return r->accepted + (r->client && r->client->connected ? 1 : 0);
}

uint64_t runner_bytes(const struct runner *r) {
  uint64_t b = r->bytes_in;
  for (size_t i = 0; i < r->n; i++)
    b += r->apps[i]->received;
  if (r->client) b += r->client->received;
  if (r->player) b += player_bytes(r->player);
  return b;
}

size_t runner_running(const struct runner *r) {
  size_t open = 0;
  if (r->player)
    for (size_t i = 0; i < r->player->n; i++)
      open += !r->player->c[i].closed && !r->player->c[i].failed;
  return open + r->n + (r->client && r->client->status == APP_RUNNING ? 1 : 0);
}

void runner_free(struct runner *r) {
  for (size_t i = 0; i < r->n; i++)
    free(r->apps[i]);
  free(r->apps);
  free(r->client);
  memset(r, 0, sizeof *r);
}
