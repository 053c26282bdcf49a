/* Shared apps: deterministic streams over TCP, UDP and ICMP (see apps.h). */
#include "apps.h"

#include "../prng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t mix64(uint64_t x) { return prng_mix64(x); }

/* Word w of stream s: one 64-bit mix per 8 bytes keeps fill/verify cheap
 * enough to check gigabytes at the byte. */
static uint64_t stream_word(uint64_t s, uint64_t w) {
  /* One multiply: enough to make every word position- and seed-dependent
   * (s is already a mixed 64-bit seed). */
  uint64_t x = prng_golden(s ^ w);
  return x ^ (x >> 29);
}

uint8_t app_stream_byte(uint64_t s, uint64_t i) {
  return (uint8_t)(stream_word(s, i >> 3) >> (8 * (i & 7)));
}

/* Fill and verify run over every byte of every bulk transfer, so their
 * whole-word loops go 32 bytes at a time in GNU C vectors: four stream words
 * per step, each the same multiply and shift as stream_word (the result is
 * identical; the tests compare against app_stream_byte). On x86-64 with gcc
 * the loops are also built for AVX2 and picked at load time (target_clones):
 * baseline SSE2 has no 64-bit multiply, AVX2 does four at once. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) && \
    !defined(__SANITIZE_ADDRESS__) /* target_clones needs ifunc (glibc) */
#define STREAM_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define STREAM_CLONES
#endif
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define STREAM_VEC 1
typedef uint64_t stream_v4 __attribute__((vector_size(32)));
#endif

/* Whole words of [k, n) from word index w: stores up to the last full word,
 * returns where it stopped. */
STREAM_CLONES static size_t fill_words(uint64_t s, uint64_t w, uint8_t *buf, size_t k, size_t n) {
#ifdef STREAM_VEC
  stream_v4 idx = {w, w + 1, w + 2, w + 3}, sv = {s, s, s, s};
  for (; k + 32 <= n; k += 32, w += 4) {
    stream_v4 x = (sv ^ idx) * PRNG_GOLDEN64;
    x ^= x >> 29;
    memcpy(buf + k, &x, 32);
    idx += 4;
  }
#endif
  for (; k + 8 <= n; k += 8, w++) {
    uint64_t x = stream_word(s, w);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap64(x); /* the stream is defined little-endian */
#endif
    memcpy(buf + k, &x, 8);
  }
  return k;
}

void app_stream_fill(uint64_t s, uint64_t off, uint8_t *buf, size_t n) {
  size_t k = 0;
  while (k < n && ((off + k) & 7)) {
    buf[k] = app_stream_byte(s, off + k);
    k++;
  }
  k = fill_words(s, (off + k) >> 3, buf, k, n);
  for (; k < n; k++) buf[k] = app_stream_byte(s, off + k);
}

/* Bytes of the whole words of buf[k, n) (word index w on) that differ from
 * the stream; *kp is set to where it stopped. Words are compared as they are
 * generated (no second buffer); a step that differs is counted byte by byte. */
STREAM_CLONES static uint64_t verify_words(uint64_t s, uint64_t w, const uint8_t *buf, size_t *kp,
                                           size_t n) {
  uint64_t bad = 0;
  size_t k = *kp;
#ifdef STREAM_VEC
  /* The differences are OR-ed together; only a buffer with some goes on to
   * the word loop below, which counts them. */
  stream_v4 idx = {w, w + 1, w + 2, w + 3}, sv = {s, s, s, s}, diff = {0, 0, 0, 0};
  size_t k0 = k;
  for (; k + 32 <= n; k += 32) {
    stream_v4 want = (sv ^ idx) * PRNG_GOLDEN64, got;
    want ^= want >> 29;
    idx += 4;
    memcpy(&got, buf + k, 32);
    diff |= got ^ want;
  }
  if (diff[0] | diff[1] | diff[2] | diff[3]) k = k0;
  else w += (k - k0) / 8;
#endif
  for (; k + 8 <= n; k += 8, w++) {
    uint64_t want = stream_word(s, w), got;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    want = __builtin_bswap64(want);
#endif
    memcpy(&got, buf + k, 8);
    if (got != want)
      for (int i = 0; i < 8; i++) bad += ((got ^ want) >> (8 * i) & 0xff) != 0;
  }
  *kp = k;
  return bad;
}

uint64_t app_stream_verify(uint64_t s, uint64_t off, const uint8_t *buf, size_t n) {
  uint64_t bad = 0;
  size_t k = 0;
  while (k < n && ((off + k) & 7)) {
    bad += buf[k] != app_stream_byte(s, off + k);
    k++;
  }
  bad += verify_words(s, (off + k) >> 3, buf, &k, n);
  for (; k < n; k++) bad += buf[k] != app_stream_byte(s, off + k);
  return bad;
}

uint64_t app_conn_seed(uint64_t flow_seed, uint32_t client_ip, uint16_t client_port) {
  return mix64(flow_seed ^ ((uint64_t)client_ip << 16 | client_port));
}

const char *app_kind_name(enum app_kind k) {
  switch (k) {
  case APP_SOURCE: return "tcp-bulk";
  case APP_SINK: return "sink";
  case APP_ECHO_CLIENT: return "tcp-echo";
  case APP_ECHO_SERVER: return "echo";
  case APP_HTTP_CLIENT: return "http";
  case APP_HTTP_SERVER: return "http-server";
  case APP_UDP_ECHO_CLIENT: return "udp-echo";
  case APP_UDP_ECHO_SERVER: return "udp-echo-server";
  case APP_PING: return "ping";
  }
  return "?";
}

int app_kind_from_name(const char *name) {
  for (int k = APP_SOURCE; k <= APP_PING; k++)
    if (strcmp(name, app_kind_name((enum app_kind)k)) == 0) return k;
  return 0;
}

enum app_kind app_server_kind(enum app_kind client) {
  switch (client) {
  case APP_SOURCE: return APP_SINK;
  case APP_ECHO_CLIENT: return APP_ECHO_SERVER;
  case APP_HTTP_CLIENT: return APP_HTTP_SERVER;
  case APP_UDP_ECHO_CLIENT: return APP_UDP_ECHO_SERVER;
  default: return (enum app_kind)0;
  }
}

static void fail(struct app *a, uint64_t now, const char *fmt, const char *detail) {
  if (a->status != APP_RUNNING) return;
  a->status = APP_FAILED;
  snprintf(a->reason, sizeof a->reason, fmt, detail);
  a->finished_at = now;
}

static void done(struct app *a, uint64_t now) {
  if (a->status != APP_RUNNING) return;
  a->status = APP_DONE;
  a->finished_at = now;
}

/* Requests a datagram flow (udp-echo, ping) may send: `count`, and while no
 * reply at all has come back, up to DGRAM_EXTRA_ASKS more, one per timeout.
 * A flow whose first requests all fell into a fault window (a partition, a
 * Gilbert-Elliott bad state) is then still answered once the network
 * recovers, as TCP flows are by their retransmissions; "no reply at all"
 * after that many asks is a real failure. */
#define DGRAM_EXTRA_ASKS 32u
static uint32_t dgram_limit(const struct app *a) {
  return (a->exchanges_done || !a->p.count) ? a->p.count : a->p.count + DGRAM_EXTRA_ASKS;
}

static uint64_t udp_timeout(const struct app *a) {
  return a->p.timeout_us ? a->p.timeout_us : 2000000u;
}

int app_start_client(struct app *a, enum app_kind kind, const struct app_params *p,
                     microtcp_stack *st, uint64_t now) {
  memset(a, 0, sizeof *a);
  a->kind = kind;
  a->p = *p;
  a->handle = -1;
  a->started_at = a->last_progress = now;
  int h;
  switch (kind) {
  case APP_SOURCE:
  case APP_ECHO_CLIENT:
  case APP_HTTP_CLIENT:
    h = microtcp_tcp_connect(st, now, p->remote_ip, p->remote_port, 0);
    if (h < 0) {
      fail(a, now, "connect: %s", microtcp_strerror(h));
      return h;
    }
    a->handle = h;
    a->stream_seed =
        app_conn_seed(p->flow_seed, microtcp_get_config(st)->ip, (uint16_t)microtcp_local_port(st, h));
    return 0;
  case APP_UDP_ECHO_CLIENT:
    h = microtcp_udp_bind(st, now, 0);
    if (h < 0) {
      fail(a, now, "udp bind: %s", microtcp_strerror(h));
      return h;
    }
    a->handle = h;
    a->stream_seed = app_conn_seed(p->flow_seed, microtcp_get_config(st)->ip,
                                   (uint16_t)microtcp_local_port(st, h));
    return 0;
  case APP_PING:
    a->stream_seed = p->flow_seed;
    return 0;
  default: fail(a, now, "%s is not a client app", app_kind_name(kind)); return MICROTCP_EINVAL;
  }
}

void app_start_server(struct app *a, enum app_kind kind, const struct app_params *p, int handle,
                      microtcp_stack *st, uint64_t now) {
  memset(a, 0, sizeof *a);
  a->kind = kind;
  a->p = *p;
  a->handle = handle;
  a->started_at = a->last_progress = now;
  a->connected = true;
  microtcp_endpoint peer = {0, 0};
  if (kind != APP_UDP_ECHO_SERVER) microtcp_tcp_peer(st, handle, &peer);
  a->stream_seed = app_conn_seed(p->flow_seed, peer.ip, peer.port);
}

/* ---- TCP helpers ---------------------------------------------------------------------- */
static int tcp_error_of(microtcp_stack *st, struct app *a) {
  int e = microtcp_socket_error(st, a->handle);
  return e ? e : MICROTCP_ECONNRESET;
}

static void finish_tcp(struct app *a, microtcp_stack *st, uint64_t now) {
  if (!a->closed) {
    microtcp_tcp_stats ts;
    if (microtcp_tcp_get_stats(st, a->handle, &ts) == 0) {
      a->retransmits = ts.retransmits;
      a->srtt_us = ts.srtt_us;
    }
    microtcp_tcp_close(st, now, a->handle);
    a->closed = true;
  }
}

/* Send stream bytes [a->sent, limit) as far as the buffer allows. */
static int pump_stream(struct app *a, microtcp_stack *st, uint64_t now, uint64_t limit) {
  uint8_t buf[4096];
  while (a->sent < limit) {
    size_t n = (size_t)(limit - a->sent < sizeof buf ? limit - a->sent : sizeof buf);
    app_stream_fill(a->stream_seed, a->sent, buf, n);
    int r = microtcp_tcp_send(st, now, a->handle, buf, n);
    if (r == MICROTCP_EAGAIN) return 0;
    if (r < 0) return r;
    a->sent += (uint64_t)r;
    a->last_progress = now;
    if ((size_t)r < n) return 0; /* the send buffer is full: filling more now would be wasted */
  }
  return 0;
}

/* Read and verify stream bytes; returns 1 at EOF, 0 if it would block, <0 on error. */
static int drain_stream(struct app *a, microtcp_stack *st, uint64_t now) {
  uint8_t buf[4096];
  for (;;) {
    int r = microtcp_tcp_recv(st, now, a->handle, buf, sizeof buf);
    if (r > 0) {
      a->verified_errors += app_stream_verify(a->stream_seed, a->received, buf, (size_t)r);
      a->received += (uint64_t)r;
      a->last_progress = now;
      continue;
    }
    if (r == 0) return 1;
    if (r == MICROTCP_EAGAIN) return 0;
    return r;
  }
}

static void poll_source(struct app *a, microtcp_stack *st, uint64_t now) {
  unsigned ev = microtcp_poll(st, a->handle);
  if (ev & MICROTCP_ERROR) {
    fail(a, now, "tcp: %s", microtcp_strerror(tcp_error_of(st, a)));
    finish_tcp(a, st, now);
    return;
  }
  if (ev & MICROTCP_CONNECTED) a->connected = true;
  int r = pump_stream(a, st, now, a->p.bytes);
  if (r < 0) {
    fail(a, now, "send: %s", microtcp_strerror(r));
    finish_tcp(a, st, now);
    return;
  }
  if (a->sent == a->p.bytes && !a->fin_sent) {
    microtcp_tcp_shutdown(st, now, a->handle);
    a->fin_sent = true;
  }
  if (a->fin_sent) {
    /* Wait for the sink's FIN: it proves every byte was delivered and read. */
    uint8_t tmp[256];
    int n = microtcp_tcp_recv(st, now, a->handle, tmp, sizeof tmp);
    if (n == 0) {
      finish_tcp(a, st, now);
      done(a, now);
    } else if (n < 0 && n != MICROTCP_EAGAIN) {
      fail(a, now, "tcp: %s", microtcp_strerror(n));
      finish_tcp(a, st, now);
    }
  }
}

static void poll_sink(struct app *a, microtcp_stack *st, uint64_t now) {
  int r = drain_stream(a, st, now);
  if (r < 0) {
    fail(a, now, "recv: %s", microtcp_strerror(r));
    finish_tcp(a, st, now);
  } else if (r == 1) {
    a->eof_seen = true;
    finish_tcp(a, st, now);
    done(a, now);
  }
}

static void poll_echo_client(struct app *a, microtcp_stack *st, uint64_t now) {
  unsigned ev = microtcp_poll(st, a->handle);
  if (ev & MICROTCP_ERROR) {
    fail(a, now, "tcp: %s", microtcp_strerror(tcp_error_of(st, a)));
    finish_tcp(a, st, now);
    return;
  }
  uint64_t total = (uint64_t)a->p.count * a->p.size;
  /* One request outstanding at a time: send request k, wait for its echo.
   * Read first, then send: the echo that completes request k must be
   * followed by request k+1 in the same poll, since nothing else may wake
   * this app again (a stall found by a quickstart swarm, seed 905). */
  uint64_t req_end = ((uint64_t)a->exchanges_done + 1) * a->p.size;
  int r = drain_stream(a, st, now);
  if (r < 0) {
    fail(a, now, "recv: %s", microtcp_strerror(r));
    finish_tcp(a, st, now);
    return;
  }
  while (a->exchanges_done < a->p.count && a->received >= req_end) {
    a->exchanges_done++;
    req_end += a->p.size;
  }
  if (a->received > total) {
    fail(a, now, "echo: %s", "more bytes than sent");
    finish_tcp(a, st, now);
    return;
  }
  if (a->exchanges_done < a->p.count && r != 1) {
    int w = pump_stream(a, st, now, req_end);
    if (w < 0) {
      fail(a, now, "send: %s", microtcp_strerror(w));
      finish_tcp(a, st, now);
      return;
    }
  }
  if (a->exchanges_done == a->p.count && !a->fin_sent) {
    microtcp_tcp_shutdown(st, now, a->handle);
    a->fin_sent = true;
  }
  if (r == 1) {
    finish_tcp(a, st, now);
    if (a->exchanges_done == a->p.count)
      done(a, now);
    else
      fail(a, now, "echo: %s", "server closed early");
  }
}

/* Send a->buf[0..pending): 1 when all sent, 0 if it would block, -1 if the
 * app failed (and closed). */
static int flush_pending(struct app *a, microtcp_stack *st, uint64_t now) {
  while (a->pending) {
    int w = microtcp_tcp_send(st, now, a->handle, a->buf, a->pending);
    if (w == MICROTCP_EAGAIN) return 0;
    if (w < 0) {
      fail(a, now, "send: %s", microtcp_strerror(w));
      finish_tcp(a, st, now);
      return -1;
    }
    memmove(a->buf, a->buf + w, a->pending - (uint32_t)w);
    a->pending -= (uint32_t)w;
  }
  return 1;
}

static void poll_echo_server(struct app *a, microtcp_stack *st, uint64_t now) {
  for (;;) {
    if (a->pending) {
      uint32_t before = a->pending;
      int f = flush_pending(a, st, now);
      a->sent += before - a->pending;
      if (f <= 0) return;
    }
    if (a->eof_seen) {
      finish_tcp(a, st, now);
      done(a, now);
      return;
    }
    int r = microtcp_tcp_recv(st, now, a->handle, a->buf, sizeof a->buf);
    if (r > 0) {
      /* No verification here: an echo server echoes whatever arrives (nc,
       * a browser, a test's random bytes); the echo client checks the stream
       * on the way back, which covers both directions. */
      a->received += (uint64_t)r;
      a->pending = (uint32_t)r;
      a->last_progress = now;
      continue;
    }
    if (r == 0) {
      a->eof_seen = true;
      continue;
    }
    if (r != MICROTCP_EAGAIN) {
      fail(a, now, "recv: %s", microtcp_strerror(r));
      finish_tcp(a, st, now);
    }
    return;
  }
}

static void poll_http_client(struct app *a, microtcp_stack *st, uint64_t now) {
  unsigned ev = microtcp_poll(st, a->handle);
  if (ev & MICROTCP_ERROR) {
    fail(a, now, "tcp: %s", microtcp_strerror(tcp_error_of(st, a)));
    finish_tcp(a, st, now);
    return;
  }
  if (!a->fin_sent) {
    char req[64];
    int n = snprintf(req, sizeof req, "GET /%llu HTTP/1.0\r\n\r\n", (unsigned long long)a->p.bytes);
    int r = microtcp_tcp_send(st, now, a->handle, req, (size_t)n);
    if (r == MICROTCP_EAGAIN) return;
    if (r != n) {
      fail(a, now, "send: %s", r < 0 ? microtcp_strerror(r) : "short write");
      finish_tcp(a, st, now);
      return;
    }
    microtcp_tcp_shutdown(st, now, a->handle);
    a->fin_sent = true;
  }
  while (!a->http_header_done) {
    int r = microtcp_tcp_recv(st, now, a->handle, a->buf + a->hdr_len, 1);
    if (r == MICROTCP_EAGAIN) return;
    if (r <= 0) {
      fail(a, now, "http: %s", r == 0 ? "closed before header" : microtcp_strerror(r));
      finish_tcp(a, st, now);
      return;
    }
    a->hdr_len++;
    if (a->hdr_len >= 4 && memcmp(a->buf + a->hdr_len - 4, "\r\n\r\n", 4) == 0) {
      a->http_header_done = true;
      a->buf[a->hdr_len] = 0;
      if (strncmp((char *)a->buf, "HTTP/1.0 200", 12) != 0) {
        fail(a, now, "http: %s", "status is not 200");
        finish_tcp(a, st, now);
        return;
      }
    } else if (a->hdr_len >= sizeof a->buf - 1) {
      fail(a, now, "http: %s", "header too long");
      finish_tcp(a, st, now);
      return;
    }
  }
  int r = drain_stream(a, st, now);
  if (r < 0) {
    fail(a, now, "recv: %s", microtcp_strerror(r));
    finish_tcp(a, st, now);
  } else if (r == 1) {
    finish_tcp(a, st, now);
    if (a->received == a->p.bytes)
      done(a, now);
    else
      fail(a, now, "http: %s", "body length differs");
  }
}

/* Under pressure (the pool is full: new clients get SYN cookies and wait for
 * a block), a request head still incomplete HTTP_HEAD_GRACE_US after the
 * connection started is shed with a RST. A slowloris keeps connections alive
 * with a byte now and then: each makes progress, so the stack's eviction of
 * stalled connections never applies, and spread over a few addresses it
 * passes the per-peer cap and holds every block. Like Apache's
 * mod_reqtimeout, but only while blocks run out: an idle server waits. */
#define HTTP_HEAD_GRACE_US 2000000u

static void poll_http_server(struct app *a, microtcp_stack *st, uint64_t now) {
  if (!a->http_header_done && !a->closed && now - a->started_at >= HTTP_HEAD_GRACE_US &&
      microtcp_tcp_pool_full(st)) {
    microtcp_tcp_abort(st, now, a->handle);
    a->closed = true;
    fail(a, now, "http: %s", "request head too slow while the connection pool is full (shed)");
    return;
  }
  while (!a->http_header_done) {
    int r = microtcp_tcp_recv(st, now, a->handle, a->buf + a->hdr_len, 1);
    if (r == MICROTCP_EAGAIN) return;
    if (r <= 0) {
      fail(a, now, "http: %s", r == 0 ? "closed before request" : microtcp_strerror(r));
      finish_tcp(a, st, now);
      return;
    }
    a->hdr_len++;
    if (a->hdr_len >= 4 && memcmp(a->buf + a->hdr_len - 4, "\r\n\r\n", 4) == 0) {
      a->buf[a->hdr_len] = 0;
      unsigned long long n = 0;
      if (sscanf((char *)a->buf, "GET /%llu HTTP/1.", &n) != 1) {
        static const char bad[] = "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        microtcp_tcp_send(st, now, a->handle, bad, sizeof bad - 1);
        finish_tcp(a, st, now);
        done(a, now);
        return;
      }
      a->http_body_len = n;
      int h = snprintf((char *)a->buf, sizeof a->buf,
                       "HTTP/1.0 200 OK\r\nContent-Length: %llu\r\nContent-Type: "
                       "application/octet-stream\r\n\r\n",
                       n);
      a->pending = (uint32_t)h;
      a->http_header_done = true;
    } else if (a->hdr_len >= sizeof a->buf - 1) {
      fail(a, now, "http: %s", "request too long");
      finish_tcp(a, st, now);
      return;
    }
  }
  if (flush_pending(a, st, now) <= 0) return;
  int r = pump_stream(a, st, now, a->http_body_len);
  if (r < 0) {
    fail(a, now, "send: %s", microtcp_strerror(r));
    finish_tcp(a, st, now);
    return;
  }
  if (a->sent == a->http_body_len) {
    finish_tcp(a, st, now); /* graceful: FIN after the queued body */
    done(a, now);
  }
}

/* UDP and ping: `count` exchanges, one outstanding at a time, each with a
 * timeout; replies are verified byte for byte (UDP) or by checksum (ping). */
static void poll_udp_client(struct app *a, microtcp_stack *st, uint64_t now) {
  uint8_t buf[2048];
  uint32_t size = a->p.size > sizeof buf ? (uint32_t)sizeof buf : a->p.size;
  for (;;) {
    microtcp_endpoint from;
    int r = microtcp_udp_recvfrom(st, now, a->handle, buf, sizeof buf, &from);
    if (r == MICROTCP_EAGAIN) break;
    if (r < 0) break;
    uint32_t k = a->exchanges_sent - 1; /* replies to older requests are late: ignored */
    if (r >= 4 && (uint32_t)(buf[0] | buf[1] << 8 | buf[2] << 16 | (uint32_t)buf[3] << 24) == k &&
        (uint32_t)r == size) {
      a->verified_errors += app_stream_verify(a->stream_seed, (uint64_t)k * size + 4, buf + 4, (size_t)r - 4);
      a->received += (uint64_t)r;
      a->exchanges_done++;
      a->req_base = 0; /* reply seen: next request may go */
      a->last_progress = now;
    }
  }
  int e = microtcp_socket_error(st, a->handle);
  if (e && e != MICROTCP_EBADF) snprintf(a->reason, sizeof a->reason, "icmp: %s", microtcp_strerror(e));
  bool waiting = a->req_base != 0 && now < a->req_base + udp_timeout(a);
  if (!waiting && a->exchanges_sent < dgram_limit(a)) {
    uint32_t k = a->exchanges_sent;
    buf[0] = (uint8_t)k;
    buf[1] = (uint8_t)(k >> 8);
    buf[2] = (uint8_t)(k >> 16);
    buf[3] = (uint8_t)(k >> 24);
    app_stream_fill(a->stream_seed, (uint64_t)k * size + 4, buf + 4, size - 4);
    int r = microtcp_udp_sendto(st, now, a->handle, a->p.remote_ip, a->p.remote_port, buf, size);
    if (r < 0 && r != MICROTCP_ENOMEM) {
      fail(a, now, "sendto: %s", microtcp_strerror(r));
      return;
    }
    if (r >= 0) {
      a->exchanges_sent++;
      a->sent += size;
      a->req_base = now ? now : 1;
    }
  } else if (!waiting && a->exchanges_sent >= dgram_limit(a)) {
    if (a->exchanges_done == 0 && a->p.count > 0)
      fail(a, now, "udp: %s", "no reply at all");
    else
      done(a, now);
    if (a->status == APP_DONE && a->exchanges_done < a->p.count)
      snprintf(a->reason, sizeof a->reason, "%u of %u replies (rest lost)", a->exchanges_done,
               a->exchanges_sent);
  }
}

static void poll_udp_server(struct app *a, microtcp_stack *st, uint64_t now) {
  uint8_t buf[2048];
  for (;;) {
    microtcp_endpoint from;
    int r = microtcp_udp_recvfrom(st, now, a->handle, buf, sizeof buf, &from);
    if (r < 0) return;
    size_t n = (size_t)r < sizeof buf ? (size_t)r : sizeof buf;
    if (microtcp_udp_sendto(st, now, a->handle, from.ip, from.port, buf, n) >= 0) a->sent += n;
    a->received += n;
    a->last_progress = now;
  }
}

static void poll_ping(struct app *a, microtcp_stack *st, uint64_t now) {
  microtcp_ping_reply r;
  while (microtcp_ping_recv(st, &r) >= 0) {
    if (r.seq == (uint16_t)(a->exchanges_sent - 1) && r.src == a->p.remote_ip) {
      uint8_t want[2048];
      uint32_t size = a->p.size > sizeof want ? (uint32_t)sizeof want : a->p.size;
      app_stream_fill(a->stream_seed, r.seq, want, size);
      uint32_t sum = 0;
      for (uint32_t i = 0; i < size; i++) sum += want[i];
      if (r.len != size || r.payload_sum != sum) a->verified_errors++;
      a->exchanges_done++;
      a->received += r.len;
      a->req_base = 0;
      a->last_progress = now;
    }
  }
  bool waiting = a->req_base != 0 && now < a->req_base + udp_timeout(a);
  if (!waiting && a->exchanges_sent < dgram_limit(a)) {
    uint8_t buf[2048];
    uint32_t size = a->p.size > sizeof buf ? (uint32_t)sizeof buf : a->p.size;
    app_stream_fill(a->stream_seed, (uint16_t)a->exchanges_sent, buf, size);
    int sr = microtcp_ping(st, now, a->p.remote_ip, (uint16_t)(a->p.flow_seed & 0xffff),
                           (uint16_t)a->exchanges_sent, buf, size);
    if (sr >= 0) {
      a->exchanges_sent++;
      a->sent += size;
      a->req_base = now ? now : 1;
    }
  } else if (!waiting && a->exchanges_sent >= dgram_limit(a)) {
    if (a->exchanges_done == 0 && a->p.count > 0)
      fail(a, now, "ping: %s", "no reply at all");
    else
      done(a, now);
  }
}

enum app_status app_poll(struct app *a, microtcp_stack *st, uint64_t now) {
  if (a->status != APP_RUNNING) return a->status;
  switch (a->kind) {
  case APP_SOURCE: poll_source(a, st, now); break;
  case APP_SINK: poll_sink(a, st, now); break;
  case APP_ECHO_CLIENT: poll_echo_client(a, st, now); break;
  case APP_ECHO_SERVER: poll_echo_server(a, st, now); break;
  case APP_HTTP_CLIENT: poll_http_client(a, st, now); break;
  case APP_HTTP_SERVER: poll_http_server(a, st, now); break;
  case APP_UDP_ECHO_CLIENT: poll_udp_client(a, st, now); break;
  case APP_UDP_ECHO_SERVER: poll_udp_server(a, st, now); break;
  case APP_PING: poll_ping(a, st, now); break;
  }
  return a->status;
}

void app_abandon(struct app *a, const char *why, uint64_t now) {
  fail(a, now, "%s", why);
  a->closed = true;
  a->handle = -1;
}

void app_close(struct app *a, microtcp_stack *st, uint64_t now) {
  if (a->handle < 0 || a->closed || a->kind == APP_PING) return;
  if (a->kind == APP_UDP_ECHO_CLIENT || a->kind == APP_UDP_ECHO_SERVER)
    microtcp_udp_close(st, a->handle);
  else
    microtcp_tcp_close(st, now, a->handle);
  a->closed = true;
}
