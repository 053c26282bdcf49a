/*
 * Two-host transfer over a fuzzed link.
 *
 * The simulator library in sim/ draws every packet's fate from its seeded
 * PRNG and has no hook for an external fate source, so this target carries
 * its own tiny link: two stacks (client 10.0.0.1, server 10.0.0.2) and a
 * queue of frames in flight. The input's first 3 bytes choose the transfer
 * sizes and the TCP configuration; after that, each frame either stack sends
 * consumes one byte that decides its fate:
 *   byte % 8: 0-3 deliver after 1 ms + (byte >> 3) × 100 µs,
 *             4 drop, 5 duplicate, 6 delay 50-300 ms (reordering),
 *             7 flip one bit (the position is the next byte)
 * At most 3 frames in a row per direction may be lost (dropped or
 * corrupted); with the retry budgets raised to 40 (see host_init) giving up
 * would be a stack bug. Once the input is
 * used up the link is perfect.
 *
 * The client sends N bytes and half-closes; the server reads to EOF, answers
 * M bytes and closes; the client reads to EOF and closes.
 * Invariants: integrity (each side reads exactly the other's bytes, in
 * order, then EOF; no error), liveness (done within 600 virtual seconds of
 * the last fuzzed fate), output well formed, pools bounded, and both stacks'
 * pools empty once TIME_WAIT and every timer ran out.
 *
 * This target links a checksum-verifying core: corrupted frames must be
 * rejected by the checksums, not by luck.
 */
#include "harness.h"

#define QMAX 512
#define CLIENT_IP 0x0a000001u
#define SERVER_IP 0x0a000002u
#define PORT 5001

struct inflight {
  uint64_t at, order;
  int to;
  uint16_t len;
  uint8_t data[1520];
};

struct link {
  struct fz host[2];
  struct inflight q[QMAX];
  size_t nq;
  uint64_t order;
  const uint8_t *fate;
  size_t nfate, used;
  uint64_t last_fate_at;
  int lost_in_row[2];
};

struct app {
  int h;
  uint64_t to_send, sent, to_recv, got;
  bool eof, shut, closed;
  uint8_t salt_out, salt_in;
};

static uint8_t pattern(uint64_t i, uint8_t salt) { return (uint8_t)(i * 31u + (i >> 9) + salt); }

static uint8_t next_fate(struct link *l) {
  if (l->used >= l->nfate) return 0;
  return l->fate[l->used++];
}

static void enqueue(struct link *l, int to, const uint8_t *buf, size_t len, uint64_t at) {
  if (l->nq == QMAX) fz_die("link queue overflow: a stack sends without bound");
  struct inflight *e = &l->q[l->nq++];
  e->at = at;
  e->order = l->order++;
  e->to = to;
  e->len = (uint16_t)len;
  memcpy(e->data, buf, len);
}

static void send_from(struct link *l, int from, const uint8_t *buf, size_t len) {
  int to = 1 - from;
  uint64_t now = l->host[from].now;
  bool fuzzed = l->used < l->nfate;
  uint8_t b = next_fate(l);
  if (fuzzed) l->last_fate_at = now;
  uint8_t kind = b % 8;
  if ((kind == 4 || kind == 7) && l->lost_in_row[from] >= 3) kind = 0;
  if (kind == 4 || kind == 7)
    l->lost_in_row[from]++;
  else
    l->lost_in_row[from] = 0;
  uint64_t lat = 1000u + (uint64_t)(b >> 3) * 100u;
  switch (kind) {
  case 4: return;
  case 5:
    enqueue(l, to, buf, len, now + lat);
    enqueue(l, to, buf, len, now + lat + 10);
    return;
  case 6: enqueue(l, to, buf, len, now + 50000u + (uint64_t)(b >> 3) * 8000u); return;
  case 7: {
    uint8_t tmp[1520];
    memcpy(tmp, buf, len);
    size_t bit = ((size_t)next_fate(l) * 131u + (b >> 3)) % (len * 8);
    tmp[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    enqueue(l, to, tmp, len, now + lat);
    return;
  }
  default: enqueue(l, to, buf, len, now + lat);
  }
}

static struct link *g_link; /* for the drain callbacks (fuzz code, not core) */
static void out_client(void *ctx, const uint8_t *b, size_t n) { (void)ctx; send_from(g_link, 0, b, n); }
static void out_server(void *ctx, const uint8_t *b, size_t n) { (void)ctx; send_from(g_link, 1, b, n); }

static void host_init(struct fz *f, uint32_t ip, uint32_t peer, const uint8_t *mac,
                      const uint8_t *peer_mac, uint8_t conf) {
  microtcp_config *c = &f->cfg;
  microtcp_config_default(c);
  memcpy(c->mac, mac, 6);
  c->ip = ip;
  c->netmask = 0xffffff00u;
  c->max_tcp = 4;
  c->tcp_sndbuf = c->tcp_rcvbuf = 16384;
  c->frames = 48;
  c->tcp_rto_min_us = 200000;
  c->tcp_rto_max_us = 10000000;
  /* At most 3 losses in a row per direction still lets a round trip need
   * (3 + 1) * (3 + 1) = 16 sends (only every 4th segment arrives, and only
   * every 4th answer comes back), beyond the default 6 SYN and 15 data
   * retries: a timeout would then be correct TCP, not a bug. Give both
   * budgets room so only a real stall trips the invariant. */
  c->tcp_syn_retries = 40;
  c->tcp_max_retries = 40;
  c->tcp_msl_us = 1000000;
  c->arp_gratuitous = false;
  c->tcp_cc = (conf & 1) ? MICROTCP_CC_CUBIC : MICROTCP_CC_NEWRENO;
  c->tcp_sack = (conf & 2) == 0;
  c->tcp_timestamps = (conf & 4) == 0;
  c->tcp_nodelay = (conf & 8) != 0;
  if (conf & 16) c->tcp_mss = 536;
  size_t n = microtcp_footprint(c);
  f->arena = fz_arena_get(n);
  f->st = microtcp_init(f->arena, n, c, 0, NULL);
  if (!f->st) fz_die("init");
  f->now = 0;
  if (microtcp_arp_add_static(f->st, peer, peer_mac) != 0) fz_die("static ARP");
}

/* Move one application forward as far as its socket allows. */
static void app_step(struct fz *f, struct app *a, bool is_client) {
  static uint8_t buf[8192];
  if (a->h < 0 || a->closed) return;
  /* the server answers only after the client's EOF */
  bool may_send = is_client || a->eof;
  while (may_send && a->sent < a->to_send) {
    size_t n = a->to_send - a->sent;
    if (n > sizeof buf) n = sizeof buf;
    for (size_t i = 0; i < n; i++) buf[i] = pattern(a->sent + i, a->salt_out);
    int r = microtcp_tcp_send(f->st, f->now, a->h, buf, n);
    if (r == MICROTCP_EAGAIN) break;
    if (r < 0) {
      fprintf(stderr, "send: %s\n", microtcp_strerror(r));
      fz_die("send failed on a connection that must survive");
    }
    a->sent += (uint64_t)r;
  }
  if (may_send && a->sent == a->to_send && !a->shut) {
    if (microtcp_tcp_shutdown(f->st, f->now, a->h) != 0) fz_die("shutdown failed");
    a->shut = true;
  }
  while (!a->eof) {
    int r = microtcp_tcp_recv(f->st, f->now, a->h, buf, sizeof buf);
    if (r == MICROTCP_EAGAIN) break;
    if (r < 0) {
      fprintf(stderr, "recv: %s\n", microtcp_strerror(r));
      fz_die("recv failed on a connection that must survive");
    }
    if (r == 0) {
      if (a->got != a->to_recv) fz_die("EOF before every byte arrived");
      a->eof = true;
      break;
    }
    for (int i = 0; i < r; i++)
      if (a->got + (uint64_t)i >= a->to_recv || buf[i] != pattern(a->got + (uint64_t)i, a->salt_in))
        fz_die("integrity: received a byte that was not sent at that position");
    a->got += (uint64_t)r;
  }
  if (a->eof && a->shut) {
    microtcp_tcp_close(f->st, f->now, a->h);
    a->closed = true;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  static struct link l;
  memset(&l, 0, sizeof l);
  g_link = &l;
  static const uint8_t mac_c[6] = {2, 0, 0, 0, 0, 1}, mac_s[6] = {2, 0, 0, 0, 0, 2};
  host_init(&l.host[0], CLIENT_IP, SERVER_IP, mac_c, mac_s, data[2]);
  host_init(&l.host[1], SERVER_IP, CLIENT_IP, mac_s, mac_c, data[2]);
  l.fate = data + 3;
  l.nfate = size - 3;

  struct app cl = {.h = -1, .to_send = (uint64_t)data[0] * 160u, .to_recv = (uint64_t)data[1] * 96u,
                   .salt_out = 1, .salt_in = 2};
  struct app sv = {.h = -1, .to_send = cl.to_recv, .to_recv = cl.to_send, .salt_out = 2, .salt_in = 1};
  int lst = microtcp_tcp_listen(l.host[1].st, 0, PORT, 2);
  cl.h = microtcp_tcp_connect(l.host[0].st, 0, SERVER_IP, PORT, 0);
  if (lst < 0 || cl.h < 0) fz_die("listen/connect");

  uint64_t now = 0;
  for (uint64_t steps = 0;; steps++) {
    if (steps > 2000000) fz_die("liveness: too many events");
    for (int h = 0; h < 2; h++) l.host[h].now = now;
    if (sv.h < 0) {
      sv.h = microtcp_tcp_accept(l.host[1].st, now, lst, NULL);
      if (sv.h >= 0) microtcp_tcp_close(l.host[1].st, now, lst), lst = -1;
    }
    app_step(&l.host[0], &cl, true);
    app_step(&l.host[1], &sv, false);
    fz_drain(&l.host[0], out_client, NULL);
    fz_drain(&l.host[1], out_server, NULL);
    fz_check_bounds(&l.host[0]);
    fz_check_bounds(&l.host[1]);
    if (cl.closed && sv.closed) break;
    uint64_t limit = (l.used < l.nfate ? now : l.last_fate_at) + 600000000ull;
    if (now > limit) {
      fprintf(stderr, "client sent %llu/%llu got %llu/%llu; server sent %llu/%llu got %llu/%llu\n",
              (unsigned long long)cl.sent, (unsigned long long)cl.to_send, (unsigned long long)cl.got,
              (unsigned long long)cl.to_recv, (unsigned long long)sv.sent, (unsigned long long)sv.to_send,
              (unsigned long long)sv.got, (unsigned long long)sv.to_recv);
      fz_die("liveness: transfer not done 600 s after the link became perfect");
    }
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < l.nq; i++)
      if (l.q[i].at < next) next = l.q[i].at;
    for (int h = 0; h < 2; h++) {
      uint64_t d = microtcp_deadline(l.host[h].st);
      if (d < next) next = d;
    }
    if (next == UINT64_MAX) fz_die("liveness: nothing in flight, no timer armed, transfer not done");
    if (next > now) now = next;
    /* deliver every due frame in send order */
    for (;;) {
      size_t best = l.nq;
      for (size_t i = 0; i < l.nq; i++)
        if (l.q[i].at <= now && (best == l.nq || l.q[i].order < l.q[best].order)) best = i;
      if (best == l.nq) break;
      struct inflight *e = &l.q[best];
      microtcp_input(l.host[e->to].st, now, e->data, e->len);
      l.q[best] = l.q[--l.nq];
    }
    for (int h = 0; h < 2; h++) microtcp_advance(l.host[h].st, now);
  }
  /* let FIN exchanges, TIME_WAIT and every timer finish on a perfect link */
  for (int round = 0; round < 100000; round++) {
    for (int h = 0; h < 2; h++) l.host[h].now = now;
    fz_drain(&l.host[0], out_client, NULL);
    fz_drain(&l.host[1], out_server, NULL);
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < l.nq; i++)
      if (l.q[i].at < next) next = l.q[i].at;
    for (int h = 0; h < 2; h++) {
      uint64_t d = microtcp_deadline(l.host[h].st);
      if (d < next) next = d;
    }
    if (next == UINT64_MAX) break;
    if (next > now) now = next;
    for (size_t i = 0; i < l.nq;) {
      if (l.q[i].at <= now) {
        microtcp_input(l.host[l.q[i].to].st, now, l.q[i].data, l.q[i].len);
        l.q[i] = l.q[--l.nq];
      } else {
        i++;
      }
    }
    for (int h = 0; h < 2; h++) microtcp_advance(l.host[h].st, now);
  }
  fz_check_idle(&l.host[0], "client pools not empty after the transfer and every timer");
  fz_check_idle(&l.host[1], "server pools not empty after the transfer and every timer");
  fz_free(&l.host[0]);
  fz_free(&l.host[1]);
  return 0;
}
