/*
 * Apps that run on the stack, written once against the core's non-blocking API
 * and shared by the simulator (sim/) and the TAP runner (tools/tap).
 *
 * An app is a small state machine for ONE connection (or one UDP/ping
 * exchange). The owner calls app_poll() whenever the stack may have made
 * progress (after input, timers, or on a readiness event); app_poll does all
 * non-blocking work possible and returns the app's status. Apps keep no
 * globals; every byte they send comes from a deterministic stream so the
 * receiver verifies each byte without storing it:
 *
 *     byte i of stream s = app_stream_byte(s, i)
 *
 * Server-side apps are created by an app_server (a listener) for each accepted
 * connection; the stream seed of a connection is derived from the flow seed and
 * the client's (ip, port), which both ends know.
 */
#ifndef MICROTCP_APPS_H
#define MICROTCP_APPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "microtcp/microtcp.h"

#ifdef __cplusplus
extern "C" {
#endif

enum app_kind {
  APP_SOURCE = 1,   /* TCP client: send `bytes` of the stream, then close */
  APP_SINK,         /* TCP server side of SOURCE: verify every byte until EOF, close */
  APP_ECHO_CLIENT,  /* TCP client: `count` requests of `size` bytes, verify each echo */
  APP_ECHO_SERVER,  /* TCP server: send back what arrives (any bytes, unverified); close after EOF */
  APP_HTTP_CLIENT,  /* TCP client: GET /<bytes> HTTP/1.0, verify body */
  APP_HTTP_SERVER,  /* TCP server: answer GET /<n> with n stream bytes */
  APP_UDP_ECHO_CLIENT, /* UDP: `count` datagrams of `size` bytes, verify echoes */
  APP_UDP_ECHO_SERVER, /* UDP: echo every datagram */
  APP_PING,         /* ICMP: `count` echo requests of `size` bytes */
};

enum app_status { APP_RUNNING = 0, APP_DONE, APP_FAILED };

struct app_params {
  uint64_t flow_seed; /* stream seed base */
  uint64_t bytes;     /* SOURCE/HTTP: total bytes */
  uint32_t count;     /* ECHO/UDP/PING: number of exchanges */
  uint32_t size;      /* ECHO/UDP/PING: bytes per exchange */
  uint32_t remote_ip; /* clients */
  uint16_t remote_port;
  uint64_t timeout_us; /* UDP/PING: give up on missing replies after this (0 = 2 s) */
};

struct app {
  enum app_kind kind;
  enum app_status status;
  char reason[96];         /* why it failed (or a note on completion) */
  struct app_params p;
  int handle;              /* socket handle (or -1) */
  uint64_t stream_seed;
  uint64_t sent, received; /* stream bytes */
  uint64_t verified_errors;/* bytes that differed from the stream: integrity failures */
  uint32_t exchanges_done, exchanges_sent;
  uint64_t started_at, finished_at, last_progress;
  bool eof_seen, closed, connected, fin_sent;
  /* request/response and echo state */
  uint64_t req_base;       /* stream offset of the current request */
  uint32_t pending;        /* echo server: bytes read but not yet written back */
  uint8_t buf[2048];       /* echo server pending bytes / http header */
  uint32_t hdr_len;
  uint64_t http_body_len;
  bool http_header_done;
  uint32_t retransmits;    /* TCP stats captured when the app closes its socket */
  uint32_t srtt_us;
};

/* Byte i of stream s (SplitMix-style hash; integers only). */
uint8_t app_stream_byte(uint64_t s, uint64_t i);
void app_stream_fill(uint64_t s, uint64_t off, uint8_t *buf, size_t n);
/* How many bytes of buf differ from stream s's bytes [off, off + n). */
uint64_t app_stream_verify(uint64_t s, uint64_t off, const uint8_t *buf, size_t n);
/* Stream seed of a TCP connection: flow seed + client endpoint. */
uint64_t app_conn_seed(uint64_t flow_seed, uint32_t client_ip, uint16_t client_port);

/* Start a client-side app (SOURCE, ECHO_CLIENT, HTTP_CLIENT, UDP_ECHO_CLIENT,
 * PING). Returns 0 or a MICROTCP error (the app is then FAILED with a reason). */
int app_start_client(struct app *a, enum app_kind kind, const struct app_params *p,
                     microtcp_stack *st, uint64_t now);
/* Start a server-side app on an accepted TCP handle (SINK, ECHO_SERVER,
 * HTTP_SERVER) or a bound UDP handle (UDP_ECHO_SERVER). */
void app_start_server(struct app *a, enum app_kind kind, const struct app_params *p, int handle,
                      microtcp_stack *st, uint64_t now);
/* Do all possible non-blocking work; returns the status. */
enum app_status app_poll(struct app *a, microtcp_stack *st, uint64_t now);
/* The stack instance under the app was lost (host crash): fail without
 * touching it. */
void app_abandon(struct app *a, const char *why, uint64_t now);
/* Close the app's socket if it still has one (end of run). */
void app_close(struct app *a, microtcp_stack *st, uint64_t now);
const char *app_kind_name(enum app_kind k);
/* Kind of the server matching a client kind (SOURCE → SINK, ...), 0 if none. */
enum app_kind app_server_kind(enum app_kind client);
int app_kind_from_name(const char *name); /* flow type names: see app_kind_name */

#ifdef __cplusplus
}
#endif
#endif
