/* The payload-replay app: see player.h. */
#include "player.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ip_str(uint32_t ip, char *b, size_t cap) {
  snprintf(b, cap, "%u.%u.%u.%u", ip >> 24, ip >> 16 & 255, ip >> 8 & 255, ip & 255);
}

void player_init(struct player *pl, struct flows *fs, uint64_t offset) {
  memset(pl, 0, sizeof *pl);
  pl->fs = fs;
  pl->offset = offset;
  for (size_t i = 0; i < fs->n; i++) {
    if (!fs->v[i].h_opened) continue;
    size_t *g = realloc(pl->client_flows, (pl->nclients + 1) * sizeof *g);
    if (!g) abort();
    pl->client_flows = g;
    pl->client_flows[pl->nclients++] = i;
  }
}

static struct pconn *add_conn(struct player *pl, int handle, struct flow *f) {
  if (pl->n == pl->cap) {
    pl->cap = pl->cap ? pl->cap * 2 : 16;
    struct pconn *g = realloc(pl->c, pl->cap * sizeof *g);
    if (!g) abort();
    pl->c = g;
  }
  struct pconn *c = &pl->c[pl->n++];
  memset(c, 0, sizeof *c);
  c->handle = handle;
  c->f = f;
  return c;
}

void player_accept(struct player *pl, microtcp_stack *st, uint64_t now, int handle) {
  (void)now;
  microtcp_endpoint peer;
  struct flow *f = NULL;
  int lport = microtcp_local_port(st, handle);
  if (microtcp_tcp_peer(st, handle, &peer) == 0 && lport > 0)
    f = flows_claim(pl->fs, peer.ip, peer.port, (uint16_t)lport);
  struct pconn *c = add_conn(pl, handle, f);
  c->established = true;
}

uint64_t player_next_open(const struct player *pl) {
  if (pl->next_client >= pl->nclients) return UINT64_MAX;
  return pl->offset + pl->fs->v[pl->client_flows[pl->next_client]].t_open;
}

static void fail(struct pconn *c, const char *why) {
  if (c->failed) return;
  c->failed = true;
  snprintf(c->reason, sizeof c->reason, "%s", why);
}

static void receive(struct pconn *c, microtcp_stack *st, uint64_t now) {
  uint8_t buf[16384];
  for (;;) {
    int n = microtcp_tcp_recv(st, now, c->handle, buf, sizeof buf);
    if (n > 0) {
      if (c->f && !c->mismatch) {
        const struct stream *s = &c->f->p;
        for (int i = 0; i < n; i++) {
          uint32_t off = c->rx + (uint32_t)i;
          if (!stream_has(s, off)) continue; /* a hole in the capture: not compared */
          if (s->data[off] != buf[i]) {
            c->mismatch = true;
            c->mismatch_off = off;
            c->got = buf[i];
            c->want = s->data[off];
            break;
          }
        }
      }
      c->rx += (uint32_t)n;
      continue;
    }
    if (n == 0) {
      c->eof = true;
    } else if (n != MICROTCP_EAGAIN) {
      c->reset = n == MICROTCP_ECONNRESET;
      if (c->reset && c->f && c->f->p.rst)
        c->closed = true; /* the peer reset it in the capture too */
      else
        fail(c, microtcp_strerror(n));
    }
    return;
  }
}

/* Has H's condition "had received need bytes" come true? */
static bool reached(const struct pconn *c, uint32_t need) {
  if (c->eof) return true; /* nothing more will come */
  return need != UINT32_MAX && c->rx >= need;
}

static void send_chunks(struct pconn *c, microtcp_stack *st, uint64_t now) {
  const struct flow *f = c->f;
  while (c->chunk < f->nchunks) {
    const struct chunk *k = &f->chunks[c->chunk];
    if (!reached(c, k->need_rx)) return;
    while (c->tx < k->end) {
      int n = microtcp_tcp_send(st, now, c->handle, f->h.data + c->tx, k->end - c->tx);
      if (n <= 0) {
        if (n != MICROTCP_EAGAIN) fail(c, microtcp_strerror(n));
        return;
      }
      c->tx += (uint32_t)n;
    }
    c->chunk++;
  }
}

static void move_on(struct pconn *c, microtcp_stack *st, uint64_t now) {
  if (c->handle < 0 || c->released) return;
  /* What the peer acknowledged, until the handle goes: a closed connection
   * keeps its handle (its FIN may still be unacknowledged); the run's end
   * frees the stack with it. */
  microtcp_tcp_stats stats;
  if (microtcp_tcp_get_stats(st, c->handle, &stats) == 0) c->acked = stats.bytes_acked;
  if (c->closed || c->failed) return;
  if (!c->established) {
    int state = microtcp_tcp_state(st, c->handle);
    if (state < 0) {
      fail(c, microtcp_strerror(state));
      return;
    }
    if (state >= MICROTCP_ESTABLISHED) c->established = true;
  }
  receive(c, st, now);
  if (c->failed) return;
  if (c->f) {
    send_chunks(c, st, now);
    if (c->failed) return;
    const struct flow *f = c->f;
    if (!c->shut && c->chunk == f->nchunks && (f->h.fin || f->h.rst) && reached(c, f->fin_need_rx)) {
      c->shut = true;
      if (f->h.fin)
        microtcp_tcp_shutdown(st, now, c->handle);
      else {
        microtcp_tcp_abort(st, now, c->handle); /* H reset the connection */
        c->closed = c->released = true;
        return;
      }
    }
  } else if (c->eof && !c->shut) {
    c->shut = true;
    microtcp_tcp_shutdown(st, now, c->handle);
  }
  if (c->shut && c->eof) c->closed = true; /* both directions ended as recorded */
}

void player_poll(struct player *pl, microtcp_stack *st, uint64_t now) {
  while (pl->next_client < pl->nclients && player_next_open(pl) <= now) {
    struct flow *f = &pl->fs->v[pl->client_flows[pl->next_client++]];
    f->claimed = true;
    int h = microtcp_tcp_connect(st, now, f->pip, f->pport, f->hport);
    struct pconn *c = add_conn(pl, h, f);
    if (h < 0) fail(c, microtcp_strerror(h));
  }
  for (size_t i = 0; i < pl->n; i++)
    move_on(&pl->c[i], st, now);
}

uint64_t player_established(const struct player *pl) {
  uint64_t n = 0;
  for (size_t i = 0; i < pl->n; i++)
    n += pl->c[i].established;
  return n;
}

uint64_t player_bytes(const struct player *pl) {
  uint64_t n = 0;
  for (size_t i = 0; i < pl->n; i++)
    n += pl->c[i].rx;
  return n;
}

static uint32_t expected_rx(const struct flow *f) { return f->p.fin ? f->p.fin_off : f->p.len; }

bool player_report(const struct player *pl, bool quiet) {
  bool ok = true;
  for (size_t i = 0; i < pl->n; i++) {
    const struct pconn *c = &pl->c[i];
    const struct flow *f = c->f;
    char a[20];
    if (!f) {
      if (!quiet) printf("  connection not in the capture: %u bytes received\n", c->rx);
      continue;
    }
    ip_str(f->pip, a, sizeof a);
    uint32_t want = expected_rx(f), holes = stream_holes(&f->p), h_len = f->h.fin ? f->h.fin_off : f->h.len;
    uint32_t h_holes = stream_holes(&f->h);
    /* A pass means the whole conversation ran: every byte each way known,
     * delivered and handed to the stack. */
    /* How it ended, as the capture shows the peer ending it. */
    bool end_ok = (!f->p.rst || c->reset) && (!f->p.fin || f->p.rst || c->eof);
    bool good = !c->mismatch && c->rx == want && c->tx == h_len && !holes && !h_holes && end_ok;
    if (!good || !quiet) {
      printf("  %s port %u <-> %s:%u (%s): received %u of %u bytes%s", good ? "ok" : "MISMATCH",
             f->hport, a, f->pport, f->h_opened ? "client" : "server", c->rx, want,
             c->mismatch ? "" : want && c->rx == want ? ", every byte as recorded" : "");
      printf(", sent %u of %u (%llu acked by the peer)", c->tx, h_len,
             (unsigned long long)c->acked);
      if (holes || h_holes)
        printf(" (the capture lacks %u bytes of the peer's stream and %u of the host's: lost by "
               "the capture, truncated or unreadable frames)",
               holes, h_holes);
      if (c->failed) printf(", %s", c->reason);
      if (f->p.rst)
        printf(", %s", c->reset ? "reset by the peer as recorded" : "the peer's RST never arrived");
      else if (f->p.fin)
        printf(", %s", c->eof ? "the peer's FIN as recorded" : "the peer's FIN never arrived");
      printf("\n");
    }
    if (c->mismatch)
      printf("    first differing byte at offset %u: delivered 0x%02x, the capture has 0x%02x\n",
             c->mismatch_off, c->got, c->want);
    if (!good) ok = false;
  }
  /* Connections the capture shows that never came up on the stack. */
  for (size_t i = 0; i < pl->fs->n; i++) {
    const struct flow *f = &pl->fs->v[i];
    bool seen = false;
    for (size_t j = 0; j < pl->n && !seen; j++)
      seen = pl->c[j].f == f;
    if (seen || !f->estab) continue;
    char a[20];
    ip_str(f->pip, a, sizeof a);
    printf("  MISMATCH port %u <-> %s:%u (%s): established in the capture, never on the stack\n",
           f->hport, a, f->pport, f->h_opened ? "client" : "server");
    ok = false;
  }
  return ok;
}

void player_free(struct player *pl) {
  free(pl->c);
  free(pl->client_flows);
  memset(pl, 0, sizeof *pl);
}
