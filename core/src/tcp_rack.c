/*
 * Transmission log (per-segment send times, tcp_rack.h) and RACK-TLP loss
 * detection (RFC 8985).
 */
#include "tcp_int.h"

/* ---- transmission log ---------------------------------------------------------------------- */
void mtcp_txlog_clear(struct txlog *l) {
  l->n = 0;
  l->start = 0;
}

static uint64_t time_gap(uint64_t a, uint64_t b) { return a > b ? a - b : b - a; }

/* Merge two adjacent records of o[0..*n) to free one slot: the pair with
 * equal flags and the closest send times (any pair if none has equal flags;
 * then a loss mark survives only if both had it). The merged record keeps
 * the later time. */
static void merge_one(struct txrec *o, uint8_t *n) {
  int best = -1;
  bool best_same = false;
  uint64_t best_gap = UINT64_MAX;
  for (int i = 0; i + 1 < *n; i++) {
    bool same = ((o[i].flags ^ o[i + 1].flags) & ~(uint32_t)TXR_MERGED) == 0;
    uint64_t g = time_gap(o[i].at, o[i + 1].at);
    if ((same && !best_same) || (same == best_same && g < best_gap)) {
      best = i;
      best_same = same;
      best_gap = g;
    }
  }
  if (best < 0) return;
  struct txrec *a = &o[best], *b = &o[best + 1];
  uint32_t f = ((a->flags | b->flags) & TXR_RETRANS) | (a->flags & b->flags & (TXR_LOST | TXR_DELIVERED));
  if (a->at != b->at) f |= TXR_MERGED;
  else f |= (a->flags | b->flags) & TXR_MERGED;
  a->end = b->end;
  a->at = a->at > b->at ? a->at : b->at;
  a->flags = f;
  for (int i = best + 1; i + 1 < *n; i++) o[i] = o[i + 1];
  (*n)--;
}

/* Append [.., end) with (flags, at), joining the last record when equal. */
static void put(struct txrec *o, uint8_t *n, uint32_t end, uint32_t flags, uint64_t at) {
  if (*n && o[*n - 1].flags == flags && o[*n - 1].at == at) {
    o[*n - 1].end = end;
    return;
  }
  o[*n].end = end;
  o[*n].flags = flags;
  o[*n].at = at;
  (*n)++;
}

static void append(struct txlog *l, uint32_t seq, uint32_t end, uint64_t now) {
  if (l->n == 0 || l->r[l->n - 1].end != seq) {
    /* Empty, or the log lost track (it was started mid-connection): start
     * over from here. */
    l->n = 0;
    l->start = seq;
  }
  if (l->n == TXLOG_MAX && !(l->r[l->n - 1].flags == 0 && l->r[l->n - 1].at == now))
    merge_one(l->r, &l->n);
  put(l->r, &l->n, end, 0, now);
}

/* Re-time [a, b) (inside the log) as retransmitted now. */
static void retimed(struct txlog *l, uint32_t a, uint32_t b, uint64_t now) {
  struct txrec o[TXLOG_MAX + 3];
  uint8_t k = 0;
  uint32_t s = l->start;
  for (uint8_t i = 0; i < l->n; i++) {
    uint32_t e = l->r[i].end;
    if (seq_lt(s, a)) put(o, &k, seq_min(e, a), l->r[i].flags, l->r[i].at);
    uint32_t lo = seq_max(s, a), hi = seq_min(e, b);
    if (seq_lt(lo, hi)) put(o, &k, hi, TXR_RETRANS, now);
    uint32_t from = seq_max(s, b);
    if (seq_lt(from, e)) put(o, &k, e, l->r[i].flags, l->r[i].at);
    s = e;
  }
  while (k > TXLOG_MAX) merge_one(o, &k);
  memcpy(l->r, o, (size_t)k * sizeof o[0]);
  l->n = k;
}

void mtcp_txlog_sent(struct txlog *l, uint32_t seq, uint32_t end, uint32_t snd_max, uint64_t now) {
  if (!seq_lt(seq, end)) return;
  uint32_t rx_end = seq_lt(end, snd_max) ? end : snd_max;
  if (seq_lt(seq, rx_end) && l->n) {
    uint32_t a = seq_max(seq, l->start), b = seq_min(rx_end, l->r[l->n - 1].end);
    if (seq_lt(a, b)) retimed(l, a, b, now);
  }
  if (seq_lt(rx_end, end)) append(l, seq_max(seq, snd_max), end, now);
}

void mtcp_txlog_trim(struct txlog *l, uint32_t una) {
  uint8_t k = 0;
  while (k < l->n && seq_le(l->r[k].end, una)) k++;
  if (k) {
    for (uint8_t i = k; i < l->n; i++) l->r[i - k] = l->r[i];
    l->n = (uint8_t)(l->n - k);
  }
  if (l->n == 0 || seq_gt(una, l->start)) l->start = una;
}

int mtcp_txlog_find(const struct txlog *l, uint32_t seq) {
  uint32_t s = l->start;
  for (int i = 0; i < l->n; i++) {
    if (seq_ge(seq, s) && seq_lt(seq, l->r[i].end)) return i;
    s = l->r[i].end;
  }
  return -1;
}

/* ---- RTT probes ----------------------------------------------------------------------------- */
void mtcp_rttp_sent(struct rtt_probes *r, uint32_t seq, uint32_t end, uint32_t snd_max, uint64_t now) {
  if (seq_lt(seq, snd_max)) {
    /* Karn: a probe whose bytes are sent again gives no sample. */
    uint8_t k = 0;
    while (k < r->n && seq_le(r->p[k].end, seq)) k++;
    r->n = k;
    return;
  }
  if (r->n == RTTP_MAX || !seq_lt(seq, end)) return;
  r->p[r->n].end = end;
  r->p[r->n].at = now;
  r->n++;
}

uint32_t mtcp_rttp_acked(struct rtt_probes *r, uint32_t ack, uint64_t now) {
  uint8_t k = 0;
  while (k < r->n && seq_le(r->p[k].end, ack)) k++;
  if (k == 0) return 0;
  uint64_t at = r->p[k - 1].at;
  for (uint8_t i = k; i < r->n; i++) r->p[i - k] = r->p[i];
  r->n = (uint8_t)(r->n - k);
  uint64_t rtt = now > at ? now - at : 1;
  return rtt > 0xffffffffu ? 0xffffffffu : (uint32_t)rtt;
}
