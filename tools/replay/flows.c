/* The TCP connections of the replayed host as the capture shows them: see flows.h. */
#include "flows.h"

#include <stdlib.h>
#include <string.h>

#include "pkt.h"

/* A stream never grows past this (a capture of a longer transfer keeps its
 * first 1 GiB; the rest counts as holes). */
#define STREAM_MAX (1u << 30)

struct flow *flows_find(struct flows *fs, uint32_t pip, uint16_t pport, uint16_t hport) {
  for (size_t i = fs->n; i-- > 0;) {
    struct flow *f = &fs->v[i];
    if (f->pip == pip && f->pport == pport && f->hport == hport) return f;
  }
  return NULL;
}

struct flow *flows_claim(struct flows *fs, uint32_t pip, uint16_t pport, uint16_t hport) {
  for (size_t i = 0; i < fs->n; i++) {
    struct flow *f = &fs->v[i];
    if (f->pip == pip && f->pport == pport && f->hport == hport && !f->claimed) {
      f->claimed = true;
      return f;
    }
  }
  return NULL;
}

static struct flow *flow_add(struct flows *fs, uint32_t pip, uint16_t pport, uint16_t hport) {
  if (fs->n == fs->cap) {
    fs->cap = fs->cap ? fs->cap * 2 : 8;
    struct flow *g = realloc(fs->v, fs->cap * sizeof *g);
    if (!g) abort();
    fs->v = g;
  }
  struct flow *f = &fs->v[fs->n++];
  memset(f, 0, sizeof *f);
  f->pip = pip;
  f->pport = pport;
  f->hport = hport;
  return f;
}

static void stream_grow(struct stream *s, size_t need) {
  if (need <= s->cap) return;
  size_t cap = s->cap ? s->cap : 4096;
  while (cap < need)
    cap *= 2;
  uint8_t *d = realloc(s->data, cap), *k = realloc(s->known, cap / 8 + 1);
  if (!d || !k) abort();
  size_t old_k = s->cap ? s->cap / 8 + 1 : 0;
  memset(k + old_k, 0, cap / 8 + 1 - old_k);
  memset(d + s->cap, 0, cap - s->cap); /* holes read as zeros */
  s->data = d;
  s->known = k;
  s->cap = cap;
}

/* The sender's ISN from a segment (a SYN's seq; else one before the first
 * seq seen, so that stream offsets start at 0). */
static void stream_isn(struct stream *s, const wire_tcp *t) {
  if (t->flags & WIRE_TCP_SYN) {
    if (!s->isn_from_syn) s->isn = t->seq, s->isn_known = s->isn_from_syn = true;
  } else if (!s->isn_known) {
    s->isn = t->seq - 1;
    s->isn_known = true;
  }
}

static void stream_add(struct stream *s, const wire_tcp *t) {
  uint32_t off = t->seq + ((t->flags & WIRE_TCP_SYN) ? 1 : 0) - s->isn - 1;
  size_t n = t->payload_len;
  if (off >= STREAM_MAX) return; /* before the ISN (or absurdly far): not part of this stream */
  if (n > STREAM_MAX - off) n = STREAM_MAX - off;
  if (n) {
    stream_grow(s, (size_t)off + n);
    for (size_t i = 0; i < n; i++) {
      uint32_t o = off + (uint32_t)i;
      if (s->known[o >> 3] >> (o & 7) & 1) continue; /* the first copy wins */
      s->data[o] = t->payload[i];
      s->known[o >> 3] |= (uint8_t)(1u << (o & 7));
    }
    if (off + n > s->len) s->len = off + (uint32_t)n;
  }
  if ((t->flags & WIRE_TCP_FIN) && !s->fin) {
    s->fin = true;
    s->fin_off = off + (uint32_t)n;
    if (s->fin_off > s->len) {
      stream_grow(s, s->fin_off); /* bytes before the FIN never seen are holes */
      s->len = s->fin_off;
    }
  }
  if (t->flags & WIRE_TCP_RST) s->rst = true;
}

uint32_t stream_holes(const struct stream *s) {
  uint32_t holes = 0;
  for (uint32_t i = 0; i < s->len; i++)
    if (!stream_has(s, i)) holes++;
  return holes;
}

/* Peer bytes H had received when it sent segment t (its ack). */
static uint32_t received_by_h(const struct flow *f, const wire_tcp *t) {
  if (!(t->flags & WIRE_TCP_ACK) || !f->p.isn_known) return 0;
  uint32_t rx = t->ack - f->p.isn - 1;
  if (rx >= STREAM_MAX) return 0; /* acks the SYN only, or nonsense */
  if (f->p.fin && rx > f->p.fin_off) return UINT32_MAX; /* after the peer's FIN */
  return rx;
}

static void note_from_h(struct flow *f, const wire_tcp *t) {
  uint32_t before = f->h.len;
  bool had_fin = f->h.fin, had_rst = f->h.rst;
  stream_add(&f->h, t);
  uint32_t end =
      t->seq + ((t->flags & WIRE_TCP_SYN) ? 1u : 0u) - f->h.isn - 1 + (uint32_t)t->payload_len;
  if (t->payload_len && end > before && end <= STREAM_MAX) {
    uint32_t need = received_by_h(f, t);
    struct chunk *last = f->nchunks ? &f->chunks[f->nchunks - 1] : NULL;
    if (last && last->need_rx == need) {
      last->end = end;
    } else {
      if (last && need < last->need_rx) need = last->need_rx; /* never earlier than before */
      if (f->nchunks == f->chunks_cap) {
        f->chunks_cap = f->chunks_cap ? f->chunks_cap * 2 : 16;
        f->chunks = realloc(f->chunks, f->chunks_cap * sizeof *f->chunks);
        if (!f->chunks) abort();
      }
      f->chunks[f->nchunks++] = (struct chunk){need, end};
    }
  }
  if ((f->h.fin && !had_fin) || (f->h.rst && !had_rst && !f->h.fin)) {
    f->fin_need_rx = received_by_h(f, t);
    f->h_closed_first = !f->p.fin && !f->p.rst;
  }
}

void flows_build(struct flows *fs, const struct capture_mem *cap, const struct host *h) {
  for (size_t i = 0; i < cap->n; i++) {
    struct pkt p;
    pkt_decode(capture_frame(cap, i), cap->frames[i].len, &p);
    if (p.layer != PKT_TCP) continue;
    enum dir d = host_dir(h, &p);
    if (d == DIR_OTHER) continue;
    const wire_tcp *t = &p.tcp;
    uint32_t pip = d == DIR_FROM_HOST ? p.ip.dst : p.ip.src;
    uint16_t pport = d == DIR_FROM_HOST ? t->dst_port : t->src_port;
    uint16_t hport = d == DIR_FROM_HOST ? t->src_port : t->dst_port;
    struct flow *f = flows_find(fs, pip, pport, hport);
    bool pure_syn = (t->flags & (WIRE_TCP_SYN | WIRE_TCP_ACK)) == WIRE_TCP_SYN;
    /* A new connection on a 4-tuple seen before: a new flow (the newest wins lookups). */
    if (f && pure_syn) {
      struct stream *opener = d == DIR_FROM_HOST ? &f->h : &f->p;
      if (opener->isn_from_syn && opener->isn != t->seq) f = NULL;
    }
    if (!f) {
      /* Only a SYN, or data on a connection already running when the capture
       * started, opens a flow; a lone RST or pure ACK does not. */
      if (!pure_syn && !t->payload_len && !(t->flags & WIRE_TCP_FIN)) continue;
      f = flow_add(fs, pip, pport, hport);
    }
    if (pure_syn && !f->syn) {
      f->syn = true;
      f->h_opened = d == DIR_FROM_HOST;
      f->t_open = cap->frames[i].t_us;
    }
    if ((t->flags & (WIRE_TCP_SYN | WIRE_TCP_ACK)) == (WIRE_TCP_SYN | WIRE_TCP_ACK)) f->synack = true;
    if (f->syn && f->synack && !(t->flags & WIRE_TCP_SYN) && (t->flags & WIRE_TCP_ACK) &&
        (d == DIR_FROM_HOST) == f->h_opened)
      f->estab = true;
    /* An RST after both FINs (a stray ACK answered after the close, as Linux
     * does from CLOSED) does not end the conversation: it ended before. */
    wire_tcp tc = *t;
    if ((tc.flags & WIRE_TCP_RST) && f->h.fin && f->p.fin) tc.flags &= (uint8_t)~WIRE_TCP_RST;
    t = &tc;
    if (d == DIR_FROM_HOST) {
      stream_isn(&f->h, t);
      note_from_h(f, t);
    } else {
      stream_isn(&f->p, t);
      stream_add(&f->p, t);
    }
  }
}

void flows_free(struct flows *fs) {
  for (size_t i = 0; i < fs->n; i++) {
    free(fs->v[i].h.data);
    free(fs->v[i].h.known);
    free(fs->v[i].p.data);
    free(fs->v[i].p.known);
    free(fs->v[i].chunks);
  }
  free(fs->v);
  memset(fs, 0, sizeof *fs);
}
