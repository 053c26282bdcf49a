/*
 * TCP timers: retransmission (RFC 6298), persist (RFC 9293 3.8.6.1),
 * delayed ACK (RFC 1122 4.2.3.2), keepalive (RFC 1122 4.2.3.6), TIME-WAIT
 * (RFC 9293 3.6) and the user timeout (RFC 5482). All deadlines are absolute
 * µs in the connection block; 0 means off.
 */
#include "tcp_int.h"

/* RFC 6298 2.2 / 2.3: SRTT/RTTVAR with alpha 1/8, beta 1/4; RTO = SRTT +
 * max(G, 4*RTTVAR), clamped to [rto_min, rto_max] (2.4, 2.5); with
 * cfg.tcp_rto_min_plus_srtt the floor is SRTT + rto_min (Linux's
 * SRTT + max(4*RTTVAR, rto_min)), which stays above a peer's delayed ACK. */
void mtcp_tcp_rtt_sample(struct microtcp_stack *st, struct tcb *t, uint32_t r) {
  if (r == 0) r = 1;
  if (t->srtt == 0) {
    t->srtt = r;
    t->rttvar = r / 2;
  } else {
    uint32_t diff = t->srtt > r ? t->srtt - r : r - t->srtt;
    t->rttvar = t->rttvar - t->rttvar / 4 + diff / 4;
    t->srtt = t->srtt - t->srtt / 8 + r / 8;
  }
  uint64_t rto = (uint64_t)t->srtt + MAX(1000u, 4ull * t->rttvar);
  uint64_t floor = st->cfg.tcp_rto_min_us;
  if (st->cfg.tcp_rto_min_plus_srtt) floor += t->srtt;
  rto = MAX(rto, floor);
  rto = MIN(rto, (uint64_t)st->cfg.tcp_rto_max_us);
  t->rto = (uint32_t)rto;
}


void mtcp_tcp_arm_keepalive(struct tcb *t) {
  if ((t->flags & TF_KEEPALIVE) && tcb_synchronized(t))
    t->t_keep = t->last_rcv_at + t->opt.keepidle_us;
  else
    t->t_keep = 0;
}

void mtcp_tcp_persist_start(struct microtcp_stack *st, struct tcb *t) {
  t->flags |= TF_PERSIST;
  t->persist_backoff = 0;
  t->t_rexmt = st->now + MAX(t->rto, st->cfg.tcp_rto_min_us);
}

void mtcp_tcp_enter_time_wait(struct microtcp_stack *st, struct tcb *t) {
  mtcp_tcb_set_state(st, t, MICROTCP_TIME_WAIT);
  t->t_rexmt = t->t_keep = t->t_reorder = t->t_tlp = 0;
  t->flags &= ~(uint32_t)TF_PERSIST;
  t->t_2msl = st->now + 2ull * st->cfg.tcp_msl_us;
  mtcp_tcb_notify(st, t);
}

/* RFC 5482 / RFC 9293 3.8.3: when the oldest unacknowledged data has waited
 * the user timeout; 0 if no user timeout applies. */
static uint64_t user_timeout_at(const struct tcb *t) {
  if (!t->opt.user_timeout_us || !t->unacked_since) return 0;
  return t->unacked_since + t->opt.user_timeout_us;
}

uint64_t mtcp_tcb_deadline(const struct tcb *t) {
  uint64_t d = UINT64_MAX;
  uint64_t uto = user_timeout_at(t);
  if (uto) d = MIN(d, uto);
  if (t->t_rexmt) d = MIN(d, t->t_rexmt);
  if (t->t_delack) d = MIN(d, t->t_delack);
  if (t->t_keep) d = MIN(d, t->t_keep);
  if (t->t_2msl) d = MIN(d, t->t_2msl);
  if (t->t_reorder) d = MIN(d, t->t_reorder); /* RFC 8985 (tcp_rack.c) */
  if (t->t_tlp) d = MIN(d, t->t_tlp);
  return d;
}

/* ---- the timer heap ------------------------------------------------------------------
 * Every connection block with a timer armed sits in st->tcp.timers keyed by
 * heap_key(t) = mtcp_tcb_deadline(t), so microtcp_deadline reads the top and
 * microtcp_advance visits only the blocks that are due: idle connections cost
 * those calls nothing. The rule that keeps the keys right (tcp_int.h,
 * mtcp_tcb_touch): a block whose timers may change during a public call is
 * touched, and the call ends with mtcp_tcp_timers_sync re-keying each touched
 * block (from mtcp_events_deliver). Between public calls the dirty list is
 * empty and, checked under MICROTCP_ASSERTS, every key equals its deadline. */

/* The heap key of a block: its earliest timer, UINT64_MAX (not in the heap)
 * for a free or CLOSED block or one with no timer armed. */
static uint64_t heap_key(const struct tcb *t) {
  if (!t->in_use || t->state == MICROTCP_CLOSED) return UINT64_MAX;
  return mtcp_tcb_deadline(t);
}

void mtcp_tcp_timers_init(struct microtcp_stack *st, struct carve *c) {
  struct tcp_state *tcp = &st->tcp;
  mtcp_theap_init(&tcp->timers, c, st->cfg.max_tcp);
  tcp->dirty = mtcp_carve_take(c, sizeof(uint16_t) * st->cfg.max_tcp);
  tcp->dirty_mark = mtcp_carve_take(c, st->cfg.max_tcp); /* zeroed */
  tcp->ndirty = 0;
}

static void rekey(struct microtcp_stack *st, uint16_t i) {
  uint64_t key = heap_key(&st->tcp.tcbs[i]);
  if (key == UINT64_MAX)
    mtcp_theap_remove(&st->tcp.timers, i);
  else
    mtcp_theap_set(&st->tcp.timers, i, key);
}

#ifdef MICROTCP_ASSERTS
/* After a sync: nothing dirty, the heap well formed, and it holds exactly the
 * blocks with a timer, each keyed by its deadline. O(max_tcp). */
static void timers_check(const struct microtcp_stack *st) {
  const struct tcp_state *tcp = &st->tcp;
  MICROTCP_ASSERT(tcp->ndirty == 0);
  mtcp_theap_check(&tcp->timers);
  for (uint16_t i = 0; i < st->cfg.max_tcp; i++) {
    MICROTCP_ASSERT(!tcp->dirty_mark[i]);
    uint64_t key = heap_key(&tcp->tcbs[i]);
    if (key == UINT64_MAX)
      MICROTCP_ASSERT(!theap_has(&tcp->timers, i));
    else /* a block whose timer changed without mtcp_tcb_touch traps here */
      MICROTCP_ASSERT(theap_has(&tcp->timers, i) && theap_key(&tcp->timers, i) == key);
  }
}
#else
static void timers_check(const struct microtcp_stack *st) { (void)st; }
#endif

void mtcp_tcp_timers_sync(struct microtcp_stack *st) {
  struct tcp_state *tcp = &st->tcp;
  for (uint16_t k = 0; k < tcp->ndirty; k++) {
    uint16_t i = tcp->dirty[k];
    tcp->dirty_mark[i] = 0;
    rekey(st, i);
  }
  tcp->ndirty = 0;
  timers_check(st);
}

uint64_t mtcp_tcp_deadline(const struct microtcp_stack *st) {
  MICROTCP_ASSERT(st->tcp.ndirty == 0); /* every public call ends synced */
  /* Pending output is not a deadline: the caller drains microtcp_output(). */
  return theap_min(&st->tcp.timers);
}

static int timeout_error(const struct tcb *t) {
  return t->soft_err ? t->soft_err : MICROTCP_ETIMEDOUT;
}

/* Persist timer: probe the zero window with exponential backoff (capped).
 * RFC 1122 4.2.2.17: never give up while probes are answered; unanswered
 * probes time out like retransmissions (tcp_max_retries). A connection the
 * application already closed gives up after tcp_max_retries probes even if
 * answered (as Linux does for orphans), so a peer that keeps its window shut
 * forever cannot hold a connection block forever. */
static void persist_fire(struct microtcp_stack *st, struct tcb *t) {
  /* (The user timeout has a timer of its own: tcb_advance.) */
  if (t->probes_unanswered < 255) t->probes_unanswered++;
  if (t->owner == OWN_ORPHAN && t->probes_total < 255) t->probes_total++;
  if (t->probes_unanswered > st->cfg.tcp_max_retries ||
      t->probes_total > st->cfg.tcp_max_retries) {
    st->ctr.tcp_timeouts++;
    mtcp_tcb_terminate(st, t, MICROTCP_ETIMEDOUT);
    return;
  }
  /* A small but non-zero window that sender SWS avoidance refused to use:
   * after the timeout, send what fits (RFC 9293 3.8.6.2.1 override). */
  if (t->snd_wnd > mtcp_tcp_flight(t))
    t->flags |= TF_FORCE;
  else
    t->flags |= TF_PROBE;
  if (!t->unacked_since) t->unacked_since = st->now;
  uint64_t iv = (uint64_t)MAX(t->rto, st->cfg.tcp_rto_min_us) << MIN(t->persist_backoff, 16);
  iv = MIN(iv, (uint64_t)TCP_PERSIST_MAX_US);
  if (t->persist_backoff < 16) t->persist_backoff++;
  t->t_rexmt = st->now + iv;
  mtcp_tcb_want_output(st, t);
}

static void rexmt_fire(struct microtcp_stack *st, struct tcb *t) {
  t->t_rexmt = 0;
  if (t->flags & TF_PERSIST) {
    persist_fire(st, t);
    return;
  }
  bool handshake = t->state == MICROTCP_SYN_SENT || t->state == MICROTCP_SYN_RECEIVED;
  uint8_t limit = handshake ? st->cfg.tcp_syn_retries : st->cfg.tcp_max_retries;
  if (t->backoff >= limit) {
    st->ctr.tcp_timeouts++;
    mtcp_tcb_terminate(st, t, timeout_error(t));
    return;
  }
  t->backoff++;
  t->rto_timeouts++;
  /* RFC 6298 5.5: back off the timer (doubling, bounded by rto_max). */
  t->rto = (uint32_t)MIN((uint64_t)t->rto * 2, (uint64_t)st->cfg.tcp_rto_max_us);
  t->flags &= ~(uint32_t)TF_RTT_TIMING; /* Karn */
  if (!t->unacked_since) t->unacked_since = st->now;
  if (handshake) {
    t->flags |= TF_SYN_NEEDED;
  } else {
    /* RFC 5681 3.1 eq. 4 / RFC 6582 4 / RFC 2018 8: collapse the window, leave
     * recovery, forget SACK state, and resend from snd_una (go-back-N). */
    mtcp_tcp_undo_arm(t); /* D-SACK undo of a spurious timeout (tcp_input.c) */
    mtcp_tcp_cc_ops(t->opt.cc_algo)->on_rto(&t->cc, t->mss, mtcp_tcp_flight(t), st->now);
    mtcp_tcp_leave_recovery(t, st->now);
    t->flags &= ~(uint32_t)TF_REXMIT_UNA;
    t->dupacks = 0;
    t->recover = t->snd_max;
    t->flags |= TF_RTO_RECOVER;
    t->high_rxt = t->snd_una;
    mtcp_sb_clear(&t->sb);
    t->snd_nxt = t->snd_una;
    /* The peer's window is shut: the resend cannot go out, and re-arming the
     * RTO would time out a live peer whose window updates were lost. Probe
     * the window instead (RFC 9293 3.8.6.1; BSD enters persist here too). */
    if (t->snd_wnd == 0) {
      mtcp_tcp_persist_start(st, t);
      t->flags |= TF_PROBE;
      mtcp_tcb_want_output(st, t);
      return;
    }
  }
  t->t_rexmt = st->now + t->rto;
  mtcp_tcb_want_output(st, t);
}

static void keep_fire(struct microtcp_stack *st, struct tcb *t) {
  t->t_keep = 0;
  if (!(t->flags & TF_KEEPALIVE) || !tcb_synchronized(t)) return;
  if (st->now < t->last_rcv_at + t->opt.keepidle_us && t->keep_probes_sent == 0) {
    t->t_keep = t->last_rcv_at + t->opt.keepidle_us; /* traffic since: not idle */
    return;
  }
  if (t->keep_probes_sent >= t->opt.keepcnt) {
    st->ctr.tcp_timeouts++;
    mtcp_tcp_send_rst(st, t->remote_ip, t->lport, t->rport, t->snd_nxt, 0, false);
    mtcp_tcb_terminate(st, t, MICROTCP_ETIMEDOUT);
    return;
  }
  t->keep_probes_sent++;
  t->flags |= TF_KEEP_PROBE;
  t->t_keep = st->now + t->opt.keepintvl_us;
  mtcp_tcb_want_output(st, t);
}

static void tcb_advance(struct microtcp_stack *st, struct tcb *t, uint64_t now) {
  uint64_t uto = user_timeout_at(t);
  if (uto && uto <= now && t->state != MICROTCP_TIME_WAIT) {
    /* The user timeout fires at its time, not at the next RTO or probe. */
    st->ctr.tcp_timeouts++;
    mtcp_tcb_terminate(st, t, timeout_error(t));
    return;
  }
  if (t->t_2msl && t->t_2msl <= now) {
    t->t_2msl = 0;
    mtcp_tcb_terminate(st, t, t->state == MICROTCP_TIME_WAIT ? 0 : MICROTCP_ETIMEDOUT);
    return;
  }
  if (t->t_delack && t->t_delack <= now) {
    t->t_delack = 0;
    t->flags |= TF_ACK_NOW;
    mtcp_tcb_want_output(st, t);
  }
  if (t->t_rexmt && t->t_rexmt <= now) rexmt_fire(st, t);
  if ((t->t_reorder && t->t_reorder <= now) || (t->t_tlp && t->t_tlp <= now)) mtcp_rack_timer(st, t);
  if (t->state != MICROTCP_CLOSED && t->t_keep && t->t_keep <= now) keep_fire(st, t);
}

/* Heapsort of block indices, ascending, in place (O(n log n), no memory). */
static void ids_sift_down(uint16_t *a, uint32_t r, uint32_t n) {
  for (;;) {
    uint32_t c = 2 * r + 1;
    if (c >= n) return;
    if (c + 1 < n && a[c + 1] > a[c]) c++;
    if (a[r] >= a[c]) return;
    uint16_t x = a[r];
    a[r] = a[c];
    a[c] = x;
    r = c;
  }
}

static void sort_ids(uint16_t *a, uint32_t n) {
  for (uint32_t i = n / 2; i-- > 0;) ids_sift_down(a, i, n);
  for (uint32_t end = n; end-- > 1;) {
    uint16_t x = a[0];
    a[0] = a[end];
    a[end] = x;
    ids_sift_down(a, 0, end);
  }
}

void mtcp_tcp_advance(struct microtcp_stack *st, uint64_t now) {
  struct tcp_state *tcp = &st->tcp;
  mtcp_tcp_timers_sync(st); /* (nothing touched yet in microtcp_advance) */
  /* The due blocks become the first entries of the dirty list (each fired
   * block is touched), in block order: the order a scan of every block would
   * fire them in, which decides the order of what they send. A block whose
   * firing touches another appends it behind them. */
  uint16_t n = mtcp_theap_due(&tcp->timers, now, tcp->dirty);
  sort_ids(tcp->dirty, n);
  for (uint16_t k = 0; k < n; k++) tcp->dirty_mark[tcp->dirty[k]] = 1;
  tcp->ndirty = n;
  for (uint16_t k = 0; k < n; k++) {
    struct tcb *t = &tcp->tcbs[tcp->dirty[k]];
    if (t->in_use && t->state != MICROTCP_CLOSED && mtcp_tcb_deadline(t) <= now)
      tcb_advance(st, t, now);
  }
  mtcp_tcp_check(st);
}
