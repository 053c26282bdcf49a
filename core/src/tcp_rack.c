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
  uint32_t f = ((a->flags | b->flags) & TXR_RETRANS) | (a->flags & b->flags & TXR_LOST);
  if (a->at != b->at) f |= TXR_MERGED;
  else f |= (a->flags | b->flags) & TXR_MERGED;
  a->end = b->end;
  a->at = a->at > b->at ? a->at : b->at;
  a->flags = f;
  for (int i = best + 1; i + 1 < *n; i++) o[i] = o[i + 1];
  (*n)--;
}

/* Append [.., end) with (flags, at), joining the last record when it has
 * the same flags and time. */
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
  const struct txrec *last = l->n ? &l->r[l->n - 1] : NULL;
  if (l->n == TXLOG_MAX && !(last->flags == 0 && last->at == now)) merge_one(l->r, &l->n);
  put(l->r, &l->n, end, 0, now);
}

/* Re-time [a, b) (inside the log) as retransmitted now. */
static void retimed(struct txlog *l, uint32_t a, uint32_t b, uint64_t now) {
  struct txrec o[TXLOG_MAX + 3];
  uint8_t k = 0;
  uint32_t s = l->start;
  for (uint8_t i = 0; i < l->n; i++) {
    uint32_t e = l->r[i].end;
    const struct txrec *x = &l->r[i];
    if (seq_lt(s, a)) put(o, &k, seq_min(e, a), x->flags, x->at);
    uint32_t lo = seq_max(s, a), hi = seq_min(e, b);
    if (seq_lt(lo, hi)) put(o, &k, hi, TXR_RETRANS, now);
    uint32_t from = seq_max(s, b);
    if (seq_lt(from, e)) put(o, &k, e, x->flags, x->at);
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

/* ---- RACK-TLP (RFC 8985) ---------------------------------------------------------------------- */
#define RACK_WCDELACKT_US 200000u /* 7.2: worst-case delayed-ACK timer */

/* SACKed bytes of [a, b). */
static uint32_t sacked_in(const struct sack_board *sb, uint32_t a, uint32_t b) {
  return mtcp_sb_sacked_above(sb, a) - mtcp_sb_sacked_above(sb, b);
}

/* The right edge of the highest SACKed range overlapping [a, b), clipped
 * to b. */
static bool highest_sacked_in(const struct sack_board *sb, uint32_t a, uint32_t b, uint32_t *h) {
  for (int k = sb->count - 1; k >= 0; k--) {
    if (seq_lt(sb->blk[k].left, b) && seq_gt(sb->blk[k].right, a)) {
      *h = seq_min(sb->blk[k].right, b);
      return true;
    }
  }
  return false;
}

/* RFC 8985 6.2: RACK_sent_after(t1, seq1, t2, seq2). */
static bool sent_after(uint64_t t1, uint32_t seq1, uint64_t t2, uint32_t seq2) {
  return t1 > t2 || (t1 == t2 && seq_gt(seq1, seq2));
}

uint32_t mtcp_tcp_pipe(const struct tcb *t) {
  if (!tcb_rack_on(t))
    return mtcp_sb_pipe(&t->sb, t->snd_una, t->snd_max, t->high_rxt, t->mss);
  /* RACK's in-flight estimate (Linux's packets_out - sacked - lost +
   * retrans): every byte sent and neither SACKed nor marked lost since its
   * last transmission. */
  uint32_t flight = t->snd_max - t->snd_una;
  uint32_t sacked = mtcp_sb_sacked_bytes(&t->sb);
  uint32_t lost = 0;
  const struct txlog *l = &t->txl;
  for (int i = 0; i < l->n; i++) {
    if (!(l->r[i].flags & TXR_LOST)) continue;
    uint32_t a = seq_max(mtcp_txlog_rec_start(l, i), t->snd_una), b = l->r[i].end;
    if (seq_lt(a, b)) lost += (b - a) - sacked_in(&t->sb, a, b);
  }
  uint32_t out = sacked + lost;
  return flight > out ? flight - out : 0;
}

bool mtcp_rack_next_lost(const struct tcb *t, uint32_t *seq, uint32_t *len) {
  const struct txlog *l = &t->txl;
  uint32_t mss = t->mss ? t->mss : 1;
  for (int i = 0; i < l->n; i++) {
    if (!(l->r[i].flags & TXR_LOST)) continue;
    uint32_t a = seq_max(mtcp_txlog_rec_start(l, i), t->snd_una), b = l->r[i].end;
    /* The first unSACKed byte of [a, b) and the run of unSACKed bytes after it. */
    while (seq_lt(a, b)) {
      bool in = false;
      for (uint8_t k = 0; k < t->sb.count; k++) {
        if (seq_ge(a, t->sb.blk[k].left) && seq_lt(a, t->sb.blk[k].right)) {
          a = t->sb.blk[k].right;
          in = true;
          break;
        }
      }
      if (in) continue;
      uint32_t e = b;
      for (uint8_t k = 0; k < t->sb.count; k++)
        if (seq_gt(t->sb.blk[k].left, a) && seq_lt(t->sb.blk[k].left, e)) e = t->sb.blk[k].left;
      *seq = a;
      *len = MIN(e - a, mss);
      return true;
    }
  }
  return false;
}

/* Split record i at seq (inside it) into [start, seq) and [seq, end), both
 * with its time and flags, the lower one about to be marked lost. Returns
 * the lower one's index (it moves down if room was made below it), -1 if
 * the log is full and no other pair could be merged. */
static int split_below(struct txlog *l, int i, uint32_t seq) {
  if (l->n == TXLOG_MAX) {
    /* Free a slot away from record i (merge_one on the part above it, or
     * below it), so the two halves are not merged back. */
    uint8_t above = (uint8_t)(l->n - i - 1);
    if (above >= 2) {
      merge_one(&l->r[i + 1], &above);
      for (int k = i + 1 + above; k + 1 < l->n; k++) l->r[k] = l->r[k + 1];
      l->n--;
    } else if (i >= 2) {
      uint8_t below = (uint8_t)i;
      merge_one(l->r, &below);
      for (int k = below; k + 1 < l->n; k++) l->r[k] = l->r[k + 1];
      l->n--;
      i--;
    } else {
      return -1;
    }
  }
  for (int k = l->n; k > i; k--) l->r[k] = l->r[k - 1];
  l->n++;
  l->r[i].end = seq;
  return i;
}

/* 6.2 step 4: RACK.reo_wnd. */
static uint32_t reo_wnd(const struct tcb *t) {
  const struct rack *r = &t->rack;
  if (!r->reordering_seen) {
    if (t->flags & TF_RECOVERY) return 0;
    if (mtcp_sb_sacked_bytes(&t->sb) >= (uint32_t)SACK_DUPTHRESH * t->mss) return 0;
  }
  uint64_t w = (uint64_t)(r->reo_wnd_mult ? r->reo_wnd_mult : 1) * r->min_rtt / 4;
  if (t->srtt && w > t->srtt) w = t->srtt;
  return (uint32_t)w;
}

/* 6.2 step 5: mark lost every unacknowledged record sent before the most
 * recently delivered one whose time (RACK.rtt + reo_wnd) has passed; arm
 * the reordering timer for the earliest of the others. Returns true if it
 * marked any. */
/* Nothing can qualify for detect_loss, decided without walking the log: no
 * SACKed bytes (so every byte above snd_una is undelivered), no record ever
 * retransmitted or marked lost (so send times do not decrease along the log:
 * appends are later, merges keep the later time), and RACK.xmit_ts not after
 * the first outstanding record's time. Then every outstanding record was sent
 * after the newest delivered one, or in its burst above RACK.end_seq. This is the whole of a loss-free bulk
 * transfer (the walk cost 16% of a simulated 1 GiB transfer's CPU). */
static bool nothing_to_detect(const struct tcb *t) {
  const struct txlog *l = &t->txl;
  if (l->n == 0) return true;
  if (t->sb.count) return false;
  int first = 0;
  while (first < l->n && seq_le(l->r[first].end, t->snd_una)) first++;
  if (first == l->n) return true;
  /* Same time as the first outstanding record (one burst): only bytes below
   * RACK.end_seq would qualify, and with nothing SACKed the delivered segment
   * ends at or below snd_una. */
  if (t->rack.xmit_ts > l->r[first].at) return false;
  if (t->rack.xmit_ts == l->r[first].at && seq_gt(t->rack.end_seq, t->snd_una)) return false;
  for (int i = first; i < l->n; i++)
    if (l->r[i].flags & (TXR_RETRANS | TXR_LOST)) return false;
  return true;
}

static bool detect_loss(struct microtcp_stack *st, struct tcb *t) {
  struct rack *r = &t->rack;
  struct txlog *l = &t->txl;
  if (nothing_to_detect(t)) {
    t->t_reorder = 0;
    return false;
  }
  uint64_t wait = 0;
  bool marked = false;
  uint32_t rw = reo_wnd(t);
  for (int i = 0; i < l->n; i++) {
    struct txrec *x = &l->r[i];
    if (x->flags & TXR_LOST) continue;
    uint32_t a = seq_max(mtcp_txlog_rec_start(l, i), t->snd_una);
    if (!seq_lt(a, x->end) || sacked_in(&t->sb, a, x->end) == x->end - a) continue; /* delivered */
    /* RACK_sent_after(RACK.xmit_ts, RACK.end_seq, Segment): a record sent
     * before RACK.xmit_ts, or in the same burst (same time) with unSACKed
     * bytes below RACK.end_seq; only those bytes qualify then (the record
     * is split there). */
    if (x->at > r->xmit_ts) continue;
    uint32_t upto = x->end;
    if (x->at == r->xmit_ts) {
      if (!seq_lt(a, r->end_seq)) continue;
      upto = seq_min(x->end, r->end_seq);
      if (sacked_in(&t->sb, a, upto) == upto - a) continue;
    }
    uint64_t due = x->at + r->rtt + rw;
    if (due > st->now) {
      if (due - st->now > wait) wait = due - st->now;
      continue;
    }
    if (upto != x->end && (i = split_below(l, i, upto)) < 0) break;
    l->r[i].flags |= TXR_LOST;
    st->ctr.tcp_rack_marked_lost++;
    marked = true;
  }
  /* 6.3: the reordering timer re-runs the detection when the latest
   * candidate is due (RACK_detect_loss_and_arm_timer). */
  t->t_reorder = wait ? st->now + wait : 0;
  return marked;
}

/* 7.2: arm the probe timeout after new data went out or new data was
 * acknowledged, unless in recovery, after an RTO, or with a probe already
 * in flight. The PTO never goes beyond the RTO. */
void mtcp_rack_arm_tlp(struct microtcp_stack *st, struct tcb *t) {
  t->t_tlp = 0;
  if (!tcb_rack_on(t) || (t->flags & (TF_RECOVERY | TF_PERSIST)) || t->backoff ||
      t->rack.tlp_outstanding || t->snd_una == t->snd_max || !t->t_rexmt)
    return;
  uint64_t pto = t->srtt ? 2ull * t->srtt : 1000000u;
  if (t->snd_max - t->snd_una <= t->mss) pto += RACK_WCDELACKT_US; /* one segment in flight */
  if (st->now + pto >= t->t_rexmt) return; /* the RTO comes first */
  t->t_tlp = st->now + pto;
}

void mtcp_rack_on_ack(struct microtcp_stack *st, struct tcb *t, uint32_t una_before,
                      uint32_t acked_was_sacked, bool dsack, uint32_t dsack_l, uint32_t dsack_r,
                      bool recovery_ended) {
  struct rack *r = &t->rack;
  struct txlog *l = &t->txl;
  /* 6.2 step 3 (RACK_detect_reordering): the cumulative ACK filled a hole
   * below RACK.fack with bytes never retransmitted: they came late, not
   * lost. */
  uint32_t newly = t->snd_una - una_before;
  if (seq_gt(t->snd_una, una_before) && newly > acked_was_sacked && seq_gt(r->fack, una_before)) {
    bool rexmitted = false;
    for (int i = 0; i < l->n && seq_lt(mtcp_txlog_rec_start(l, i), t->snd_una); i++)
      if (seq_gt(l->r[i].end, una_before) && (l->r[i].flags & TXR_RETRANS)) rexmitted = true;
    if (!rexmitted) r->reordering_seen = true;
  }
  /* 6.2 steps 1-2: every record with bytes delivered by this ACK
   * (cumulatively or SACKed), at its highest delivered byte: min RTT, and
   * RACK.xmit_ts/end_seq/rtt from the most recently sent one. */
  bool have = false;
  uint64_t best_at = 0;
  uint32_t best_end = 0;
  for (int i = 0; i < l->n; i++) {
    struct txrec *x = &l->r[i];
    uint32_t start = mtcp_txlog_rec_start(l, i), hi = 0;
    /* Records are in sequence order: with nothing SACKed, none from SND.UNA
     * on was delivered (a bulk transfer's common case: stop here, not at 64). */
    if (t->sb.count == 0 && !seq_lt(start, t->snd_una)) break;
    bool got = false;
    if (seq_gt(t->snd_una, una_before) && seq_lt(start, t->snd_una) && seq_gt(x->end, una_before)) {
      hi = seq_min(x->end, t->snd_una);
      got = true;
    }
    uint32_t h;
    if (highest_sacked_in(&t->sb, seq_max(start, t->snd_una), x->end, &h) && (!got || seq_gt(h, hi))) {
      hi = h;
      got = true;
    }
    if (!got) continue;
    /* A merged record's time is exact only for its last byte; for bytes
     * below it, it is an upper bound (taken: RACK then times the loss from
     * that delivery, as for one burst) and gives no min_RTT sample. */
    bool exact = hi == x->end || !(x->flags & TXR_MERGED);
    uint64_t sent = x->at;
    if (seq_gt(hi, r->fack)) r->fack = hi;
    uint64_t rtt = st->now > sent ? st->now - sent : 0;
    if (x->flags & TXR_RETRANS) {
      if (rtt < r->min_rtt) continue; /* may be the original's ACK (6.2 step 2) */
    } else if (exact && rtt && (r->min_rtt == 0 || rtt < r->min_rtt)) {
      r->min_rtt = (uint32_t)MIN(rtt, (uint64_t)UINT32_MAX);
    }
    if (!have || sent_after(sent, hi, best_at, best_end)) {
      have = true;
      best_at = sent;
      best_end = hi;
    }
  }
  if (have && sent_after(best_at, best_end, r->xmit_ts, r->end_seq)) {
    r->xmit_ts = best_at;
    r->end_seq = best_end;
    r->rtt = (uint32_t)MIN(st->now - best_at, (uint64_t)UINT32_MAX);
  }
  /* 6.2 step 4: D-SACKs widen the reordering window, once per round trip;
   * 16 recoveries without one bring it back. */
  if (r->dsack_round_set && seq_ge(t->snd_una, r->dsack_round)) r->dsack_round_set = false;
  if (dsack && !r->dsack_round_set) {
    r->dsack_round_set = true;
    r->dsack_round = t->snd_max;
    if (r->reo_wnd_mult < 255) r->reo_wnd_mult++;
    r->reo_wnd_persist = 16;
    r->reordering_seen = true; /* a spurious retransmission is reordering seen late */
  } else if (recovery_ended && r->reo_wnd_persist && --r->reo_wnd_persist == 0) {
    r->reo_wnd_mult = 1;
  }
  /* 7.4: the probe's outcome. A D-SACK of the probe: nothing was lost. An
   * ACK beyond it without one: the probe repaired a loss, so the window is
   * reduced as for a loss (Linux: CWR). */
  if (r->tlp_outstanding) {
    bool probe_dsacked = dsack && r->tlp_is_retrans && seq_lt(dsack_l, r->tlp_end_seq) &&
                         seq_gt(dsack_r, r->tlp_seq);
    if (probe_dsacked) {
      r->tlp_outstanding = false; /* the original arrived too: no loss */
    } else if (seq_ge(t->snd_una, r->tlp_end_seq)) {
      if (r->tlp_is_retrans && seq_gt(t->snd_una, r->tlp_end_seq) && !(t->flags & TF_RECOVERY))
        mtcp_tcp_cc_ops(t->opt.cc_algo)->on_loss(&t->cc, t->mss, t->snd_max - una_before, st->now);
      if (!r->tlp_is_retrans || seq_gt(t->snd_una, r->tlp_end_seq) || t->snd_una == t->snd_max)
        r->tlp_outstanding = false;
    }
  }
  mtcp_txlog_trim(l, t->snd_una);
  if (t->snd_una == t->snd_max) {
    t->t_reorder = t->t_tlp = 0;
    return;
  }
  if (detect_loss(st, t)) mtcp_tcp_rack_loss(st, t);
  if (seq_gt(t->snd_una, una_before)) mtcp_rack_arm_tlp(st, t);
}

/* The reordering timer or the PTO is due (tcp_timer.c). */
void mtcp_rack_timer(struct microtcp_stack *st, struct tcb *t) {
  if (!tcb_rack_on(t) || t->snd_una == t->snd_max || !tcb_synchronized(t)) {
    t->t_reorder = t->t_tlp = 0;
    return;
  }
  if (t->t_reorder && t->t_reorder <= st->now) {
    t->t_reorder = 0;
    if (detect_loss(st, t)) mtcp_tcp_rack_loss(st, t);
  }
  if (t->t_tlp && t->t_tlp <= st->now) {
    t->t_tlp = 0;
    /* 7.3: send a probe: new data if there is any and the peer's window
     * allows, else the last segment again (output_one, TF_TLP). */
    if (!(t->flags & TF_RECOVERY) && !t->rack.tlp_outstanding && !t->backoff) {
      t->flags |= TF_TLP;
      st->ctr.tcp_tlp_probes++;
      mtcp_tcb_want_output(st, t);
    }
  }
}
