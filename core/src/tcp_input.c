/*
 * TCP input: segment arrival, following RFC 9293 3.10.7 ("SEGMENT ARRIVES")
 * step by step, with RFC 5961 (blind attacks), RFC 7323 (PAWS, timestamps),
 * RFC 5681/6582 (duplicate ACKs, NewReno) and RFC 2018/6675 (SACK) folded in.
 */
#include "tcp_int.h"

struct seg_in {
  const wire_tcp *h;
  uint32_t src;
  uint32_t seq, ack;
  uint32_t len;      /* data bytes */
  uint8_t flags;
};

static bool has(const struct seg_in *s, uint8_t f) { return (s->flags & f) != 0; }

/* Sequence space the segment occupies (data + SYN + FIN). */
static uint32_t seg_seqlen(const struct seg_in *s) {
  return s->len + (has(s, WIRE_TCP_SYN) ? 1u : 0u) + (has(s, WIRE_TCP_FIN) ? 1u : 0u);
}

/* RFC 5961 7: challenge ACKs are rate limited, in two layers as Linux does, so
 * that counting them leaks nothing (the CVE-2016-5696 side channel: with one
 * fixed per-stack budget an off-path attacker who sees its own challenge ACKs
 * learns whether its spoofed probes made some other connection spend one).
 *  - Per connection: at most one per cfg.tcp_challenge_ack_interval_us (Linux
 *    tcp_invalid_ratelimit, 500 ms). A limited one spends nothing global.
 *  - Per stack: a budget per wall second (now / 1 s) drawn from the keyed PRF,
 *    uniform in [n/2, n/2 + n) for n = cfg.tcp_challenge_ack_per_s (mean n);
 *    the attacker knows neither the draw nor how much the others spent.
 * Both are 0 = off. */
static bool challenge_ack_allowed(struct microtcp_stack *st, struct tcb *t) {
  struct tcp_state *tcp = &st->tcp;
  uint32_t interval = st->cfg.tcp_challenge_ack_interval_us;
  if (interval && st->now < t->challenge_ack_next) {
    st->ctr.tcp_challenge_acks_limited++;
    return false;
  }
  uint32_t limit = st->cfg.tcp_challenge_ack_per_s;
  if (limit) {
    uint64_t second = st->now / 1000000u;
    if (second != tcp->challenge_second || !tcp->challenge_started) {
      struct {
        char tag[4];
        uint32_t pad;
        uint64_t second;
      } in = {{'c', 'a', 'c', 'k'}, 0, second};
      tcp->challenge_second = second;
      tcp->challenge_started = true;
      tcp->challenge_tokens = limit / 2u + (uint32_t)(mtcp_prf(st, &in, sizeof in) % limit);
    }
    if (tcp->challenge_tokens == 0) {
      st->ctr.tcp_challenge_acks_limited++;
      return false;
    }
    tcp->challenge_tokens--;
  }
  if (interval) t->challenge_ack_next = st->now + interval;
  return true;
}

static void challenge_ack(struct microtcp_stack *st, struct tcb *t) {
  if (!challenge_ack_allowed(st, t)) return;
  st->ctr.tcp_challenge_acks++;
  mtcp_tcp_send_ack_now(st, t);
}

/* ---- no connection: RFC 9293 3.10.7.1 (CLOSED) ------------------------------------------ */
static void reply_rst(struct microtcp_stack *st, const struct seg_in *s) {
  if (has(s, WIRE_TCP_RST)) return;
  if (has(s, WIRE_TCP_ACK))
    mtcp_tcp_send_rst(st, s->src, s->h->dst_port, s->h->src_port, s->ack, 0, false);
  else
    mtcp_tcp_send_rst(st, s->src, s->h->dst_port, s->h->src_port, 0, s->seq + seg_seqlen(s), true);
}

/* Take the peer's SYN options. */
static void take_syn_options(struct microtcp_stack *st, struct tcb *t, const struct seg_in *s) {
  const wire_tcp_opts *o = &s->h->opts;
  const microtcp_config *cfg = &st->cfg;
  uint16_t peer = o->has_mss ? o->mss : TCP_DEFAULT_MSS;
  if (peer < TCP_MIN_MSS) peer = TCP_MIN_MSS; /* tiny MSS: the SACK-panic class */
  t->peer_mss = peer;
  /* For a SYN-ACK, an option counts only if we offered it: we offer every
   * option the config enables, so the config test below covers both. */
  t->flags &= ~(uint32_t)(TF_WS | TF_TS | TF_SACK);
  if (o->has_ws && cfg->tcp_wscale != MICROTCP_WSCALE_OFF) {
    t->flags |= TF_WS;
    /* RFC 7323 2.3: a shift above 14 is treated as 14. */
    t->snd_wscale = (uint8_t)MIN(o->ws, 14);
  } else {
    t->snd_wscale = 0;
    t->rcv_wscale = 0;
  }
  if (o->sack_permitted && cfg->tcp_sack) t->flags |= TF_SACK;
  if (o->has_ts && cfg->tcp_timestamps) {
    t->flags |= TF_TS | TF_TS_RECENT;
    t->ts_recent = o->ts_val;
    t->ts_recent_at = st->now;
  }
}

/* Effective send MSS: RFC 6691 — the peer's MSS minus the options we put on
 * every segment; our own clamp applies too. */
static void set_mss(struct microtcp_stack *st, struct tcb *t) {
  uint32_t m = MIN((uint32_t)t->peer_mss, (uint32_t)st->cfg.tcp_mss);
  if (t->opt.maxseg) m = MIN(m, (uint32_t)t->opt.maxseg);
  if (t->flags & TF_TS) m -= 12;
  if (m < TCP_MIN_MSS - 12) m = TCP_MIN_MSS - 12;
  t->mss = (uint16_t)m;
}

static void start_cc(struct microtcp_stack *st, struct tcb *t) {
  /* RFC 6928 / RFC 5681 3.1: initial window in segments. */
  uint32_t iw = (uint32_t)st->cfg.tcp_initial_cwnd * t->mss;
  mtcp_tcp_cc_ops(t->opt.cc_algo)->init(&t->cc, t->mss, iw);
  t->cc.abc_limit = st->cfg.tcp_abc_limit;
  if (t->opt.hystart) mtcp_tcp_hystart_start(&t->cc, t->snd_max);
  t->rack.reo_wnd_mult = 1; /* RFC 8985 6.2 (initialization) */
}

/* ---- LISTEN: RFC 9293 3.10.7.2 -------------------------------------------------------------- */
static void synchronized_input(struct microtcp_stack *st, struct tcb *t, const struct seg_in *in);
static void established(struct microtcp_stack *st, struct tcb *t);

/* Options a passively opened connection inherits from its listener (the
 * listener's option flags replace the config defaults mtcp_tcb_alloc set, so an
 * option the application turned off on the listener stays off). */
static void inherit_listener(struct tcb *t, const struct tcp_listener *l) {
  t->flags = (t->flags & ~(uint32_t)TCP_OPT_FLAGS) | (l->flags & TCP_OPT_FLAGS) | TF_PASSIVE;
  t->opt = l->opt;
}

/* The ACK of a cookie SYN-ACK (tcp_syncookie.c): if the cookie checks out,
 * build the connection, ESTABLISHED, onto the accept queue. Returns false if
 * it is no valid cookie (the caller answers with a RST). */
static bool syncookie_complete(struct microtcp_stack *st, struct tcp_listener *l,
                               const struct seg_in *s) {
  uint16_t mss = mtcp_tcp_syncookie_check(st, s->src, s->h->src_port, s->h->dst_port, s->seq - 1,
                                     s->ack - 1);
  if (!mss) {
    st->ctr.tcp_syncookies_failed++;
    return false;
  }
  if (mtcp_tcp_peer_at_limit(st, s->src)) {
    st->ctr.drop_tcp_peer_limit++; /* as for a SYN: one address may not take every block */
    return true;
  }
  if (l->acc.len >= l->backlog) {
    st->ctr.drop_tcp_backlog++; /* dropped: the peer's retransmission may find room */
    return true;
  }
  uint32_t cookie_wnd = MIN(st->cfg.tcp_rcvbuf, 65535u);
  struct tcb *t = mtcp_tcb_alloc(st, EVICT_UNANSWERED_HALF_OPEN);
  if (!t) {
    st->ctr.drop_tcp_backlog++;
    return true;
  }
  if (mtcp_cpool_unclaimed(&st->tcp.pool) <
      mtcp_rb_slots(cookie_wnd, st->cfg.tcp_buf_chunk_size)) {
    mtcp_tcb_free(st, t);
    st->ctr.tcp_bufpool_window_limited++; /* the window the cookie offered has no room */
    return true;                          /* dropped: the peer's retransmission may find it */
  }
  st->ctr.tcp_syncookies_ok++;
  t->owner = OWN_LISTENER;
  t->listener = (uint16_t)(l - st->tcp.listeners);
  inherit_listener(t, l);
  mtcp_tcb_setup(st, t, s->src, s->h->src_port, s->h->dst_port);
  t->iss = s->ack - 1;
  t->snd_una = t->snd_nxt = t->snd_max = t->snd_buf_seq = s->ack;
  t->irs = s->seq - 1;
  t->rcv_nxt = t->last_ack_sent = s->seq;
  t->rcv_adv = s->seq + cookie_wnd; /* as the cookie SYN-ACK offered */
  t->flags &= ~(uint32_t)(TF_WS | TF_TS | TF_SACK); /* the cookie SYN-ACK offered none */
  t->snd_wscale = t->rcv_wscale = 0;
  t->peer_mss = mss;
  set_mss(st, t);
  t->snd_wnd = t->max_snd_wnd = s->h->window;
  t->snd_wl1 = s->seq;
  t->snd_wl2 = s->ack;
  t->recover = t->iss;
  start_cc(st, t);
  established(st, t);
  (void)mtcp_tcp_rcv_reserve(t); /* the window the cookie offered: checked above, it fits */
  mtcp_tcp_acceptq_push(st, l, t);
  if (s->len || has(s, WIRE_TCP_FIN)) { /* data on the ACK: the usual path takes it */
    synchronized_input(st, t, s);
    if (t->in_use && t->state != MICROTCP_CLOSED && (t->flags & TF_ACK_NOW)) mtcp_tcp_send_ack_now(st, t);
  }
  return true;
}

static void listen_input(struct microtcp_stack *st, struct tcp_listener *l,
                         const struct seg_in *s, const uint32_t *iss) {
  if (has(s, WIRE_TCP_RST)) return;
  if (has(s, WIRE_TCP_ACK)) {
    if (!has(s, WIRE_TCP_SYN) && st->cfg.tcp_syncookies && syncookie_complete(st, l, s)) return;
    reply_rst(st, s);
    return;
  }
  if (!has(s, WIRE_TCP_SYN) || has(s, WIRE_TCP_FIN)) return;
  if (l->acc.len >= l->backlog) {
    st->ctr.drop_tcp_backlog++; /* accept queue full: the peer retries its SYN */
    return;
  }
  if (mtcp_tcp_peer_at_limit(st, s->src)) {
    st->ctr.drop_tcp_peer_limit++; /* one address may not take every block */
    return;
  }
  if (st->cfg.tcp_syncookies && (l->half_open >= l->backlog || !mtcp_tcp_pool_has_room(st))) {
    /* RFC 4987 3.6: queue or pool full, answer without keeping state. */
    uint16_t mss = s->h->opts.has_mss ? s->h->opts.mss : TCP_DEFAULT_MSS;
    uint32_t cookie = mtcp_tcp_syncookie_make(st, s->src, s->h->src_port, s->h->dst_port, s->seq, mss);
    mtcp_tcp_syncookie_send_synack(st, s->src, s->h->dst_port, s->h->src_port, cookie, s->seq + 1);
    return;
  }
  uint16_t li = (uint16_t)(l - st->tcp.listeners);
  if (l->half_open >= l->backlog) {
    /* SYN-flood protection: the oldest half-open connection of this listener
     * makes room (bounded memory; legitimate peers finish within an RTT). */
    struct tcb *oldest = NULL;
    for (uint16_t i = 0; i < st->cfg.max_tcp; i++) {
      struct tcb *c = &st->tcp.tcbs[i];
      if (c->in_use && c->owner == OWN_LISTENER && c->listener == li &&
          c->state == MICROTCP_SYN_RECEIVED && (!oldest || c->created_at < oldest->created_at))
        oldest = c;
    }
    if (oldest) {
      st->ctr.tcp_half_open_evicted++;
      mtcp_tcb_terminate(st, oldest, MICROTCP_ECONNABORTED);
    }
  }
  struct tcb *t = mtcp_tcb_alloc(st, EVICT_HALF_OPEN);
  if (!t) {
    st->ctr.drop_tcp_backlog++;
    return;
  }
  t->owner = OWN_LISTENER;
  t->listener = li;
  l->half_open++;
  inherit_listener(t, l);
  mtcp_tcb_setup(st, t, s->src, s->h->src_port, s->h->dst_port);
  if (iss) { /* reopening a TIME-WAIT connection: above its sequence space */
    t->iss = *iss;
    t->snd_una = t->snd_nxt = t->snd_max = t->iss;
    t->snd_buf_seq = t->iss + 1;
  }
  t->irs = s->seq;
  t->rcv_nxt = s->seq + 1;
  t->rcv_adv = t->rcv_nxt;
  take_syn_options(st, t, s);
  set_mss(st, t);
  t->snd_wnd = s->h->window; /* RFC 7323 2.2: not scaled in a SYN */
  t->max_snd_wnd = t->snd_wnd;
  t->snd_wl1 = s->seq;
  t->snd_wl2 = t->iss;
  t->recover = t->iss;
  mtcp_tcb_set_state(st, t, MICROTCP_SYN_RECEIVED);
  t->flags |= TF_SYN_NEEDED;
  mtcp_tcb_want_output(st, t);
}

/* ---- SYN-SENT: RFC 9293 3.10.7.3 -------------------------------------------------------------- */
static void established(struct microtcp_stack *st, struct tcb *t) {
  /* RFC 6298 5.7: if the SYN or SYN-ACK had to be retransmitted and the RTO
   * is below 3 s, it MUST be re-initialised to 3 s once data transfer begins
   * (Karn gave no RTT sample for the handshake). */
  if (t->backoff > 0 && t->rto < 3000000u) t->rto = MIN(3000000u, st->cfg.tcp_rto_max_us);
  mtcp_tcb_set_state(st, t, MICROTCP_ESTABLISHED);
  t->flags |= TF_CONNECTED;
  t->backoff = 0;
  t->t_rexmt = 0;
  t->unacked_since = 0;
  mtcp_tcp_arm_keepalive(t);
}

static bool take_data(struct microtcp_stack *st, struct tcb *t, const struct seg_in *s);
static void fin_received(struct microtcp_stack *st, struct tcb *t);

/* RFC 9293 3.10.7.3 (SYN-SENT, fourth check): "If there are other controls or
 * text in the segment ... continue processing at the sixth step": text on a
 * SYN (simultaneous open) or SYN-ACK (e.g. a TCP Fast Open server) is queued
 * for the application, within the window our SYN advertised; a FIN right
 * after it is taken too. */
static void queue_syn_text(struct microtcp_stack *st, struct tcb *t, const struct seg_in *s) {
  t->rcv_adv = t->rcv_nxt + MIN(mtcp_tcp_rcv_window(t), 65535u); /* our SYN's unscaled window */
  (void)mtcp_tcp_rcv_reserve(t);
  take_data(st, t, s);
}

static void syn_text(struct microtcp_stack *st, struct tcb *t, const struct seg_in *s) {
  if (s->len == 0 && !has(s, WIRE_TCP_FIN)) return;
  if (s->len) queue_syn_text(st, t, s);
  if (has(s, WIRE_TCP_FIN) && s->seq + 1 + s->len == t->rcv_nxt) fin_received(st, t);
  t->flags |= TF_ACK_NOW;
}

static void syn_sent_input(struct microtcp_stack *st, struct tcb *t, const struct seg_in *s) {
  bool ack_ok = false;
  if (has(s, WIRE_TCP_ACK)) {
    if (seq_le(s->ack, t->iss) || seq_gt(s->ack, t->snd_max)) {
      if (!has(s, WIRE_TCP_RST)) reply_rst(st, s);
      st->ctr.drop_tcp_bad_ack++;
      return;
    }
    ack_ok = true;
  }
  if (has(s, WIRE_TCP_RST)) {
    /* RFC 5961 3.2 / RFC 9293: only a RST acknowledging our SYN refuses. */
    if (ack_ok) {
      st->ctr.tcp_resets_in++;
      mtcp_tcb_terminate(st, t, MICROTCP_ECONNREFUSED);
    }
    return;
  }
  if (!has(s, WIRE_TCP_SYN)) return;
  t->irs = s->seq;
  t->rcv_nxt = s->seq + 1;
  t->rcv_adv = t->rcv_nxt;
  take_syn_options(st, t, s);
  set_mss(st, t);
  if (ack_ok) {
    t->snd_una = s->ack;
    if (t->flags & TF_RTT_TIMING) {
      mtcp_tcp_rtt_sample(st, t, (uint32_t)(st->now - t->rtt_start));
      t->flags &= ~(uint32_t)TF_RTT_TIMING;
    }
    /* RFC 7323 2.2: the window in a SYN-ACK is not scaled. */
    t->snd_wnd = s->h->window;
    t->max_snd_wnd = t->snd_wnd;
    t->snd_wl1 = s->seq;
    t->snd_wl2 = s->ack;
    t->recover = t->iss;
    start_cc(st, t);
    established(st, t);
    t->flags |= TF_ACK_NOW;
    syn_text(st, t, s);
    mtcp_tcb_notify(st, t);
  } else {
    /* Simultaneous open (RFC 9293 3.5 figure 7): answer with SYN-ACK. */
    t->snd_wnd = s->h->window;
    t->max_snd_wnd = t->snd_wnd;
    t->snd_wl1 = s->seq;
    mtcp_tcb_set_state(st, t, MICROTCP_SYN_RECEIVED);
    t->flags |= TF_SYN_NEEDED;
    t->t_rexmt = 0;
    t->backoff = 0;
    if (s->len) queue_syn_text(st, t, s); /* our SYN-ACK acknowledges it */
  }
  mtcp_tcb_want_output(st, t);
}

/* ---- synchronized states -------------------------------------------------------------------- */
/* RFC 9293 3.10.7.4 first check: is the segment acceptable? */
static bool seq_acceptable(const struct tcb *t, const struct seg_in *s, uint32_t rcv_wnd) {
  uint32_t seqlen = seg_seqlen(s);
  if (seqlen == 0) {
    if (rcv_wnd == 0) return s->seq == t->rcv_nxt;
    return seq_ge(s->seq, t->rcv_nxt) && seq_lt(s->seq, t->rcv_nxt + rcv_wnd);
  }
  if (rcv_wnd == 0) return false;
  uint32_t last = s->seq + seqlen - 1;
  return (seq_ge(s->seq, t->rcv_nxt) && seq_lt(s->seq, t->rcv_nxt + rcv_wnd)) ||
         (seq_ge(last, t->rcv_nxt) && seq_lt(last, t->rcv_nxt + rcv_wnd));
}

static uint32_t cur_rcv_wnd(const struct tcb *t) {
  /* The window the peer may use: what we last advertised (RFC 9293 RCV.WND). */
  uint32_t adv = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
  return adv;
}

static void update_window(struct tcb *t, const struct seg_in *s) {
  /* RFC 9293 3.10.7.4 (fifth check): update SND.WND from the newest segment. */
  if (seq_lt(t->snd_wl1, s->seq) || (t->snd_wl1 == s->seq && seq_le(t->snd_wl2, s->ack))) {
    uint8_t ws = (t->flags & TF_WS) ? t->snd_wscale : 0;
    t->snd_wnd = (uint32_t)s->h->window << ws;
    t->snd_wl1 = s->seq;
    t->snd_wl2 = s->ack;
    if (t->snd_wnd > t->max_snd_wnd) t->max_snd_wnd = t->snd_wnd;
  }
}

/* D-SACK undo (RFC 3708 3, as Linux's undo): a loss episode (fast
 * recovery or an RTO) begins. Remember the window before its reduction and
 * count the bytes it retransmits (note_sent); when D-SACKs report all of
 * them as duplicates, nothing was lost and the reduction is undone. An RTO
 * inside an episode continues it (the window saved is the one before). */
void mtcp_tcp_undo_arm(struct tcb *t) {
  if (!t->opt.dsack_undo || !(t->flags & TF_SACK)) return;
  if (t->undo_armed && seq_lt(t->snd_una, t->recover)) return;
  t->undo_armed = true;
  t->undo_cwnd = t->cc.cwnd;
  t->undo_ssthresh = t->cc.ssthresh;
  t->undo_n = 0;
}

void mtcp_tcp_undo_note_rexmit(struct tcb *t, uint32_t left, uint32_t right) {
  if (!t->undo_armed || !seq_lt(left, right)) return;
  for (uint8_t i = 0; i < t->undo_n; i++) {
    if (seq_le(left, t->undo_rng[i].right) && seq_ge(right, t->undo_rng[i].left)) {
      t->undo_rng[i].left = seq_min(left, t->undo_rng[i].left); /* touching or overlapping */
      t->undo_rng[i].right = seq_max(right, t->undo_rng[i].right);
      return;
    }
  }
  if (t->undo_n == TCP_UNDO_RANGES) {
    t->undo_armed = false; /* too scattered to follow: no undo for this episode */
    return;
  }
  t->undo_rng[t->undo_n].left = left;
  t->undo_rng[t->undo_n].right = right;
  t->undo_n++;
}

static void enter_recovery(struct microtcp_stack *st, struct tcb *t) {
  const struct mtcp_tcp_cc_ops *cc = mtcp_tcp_cc_ops(t->opt.cc_algo);
  mtcp_tcp_undo_arm(t);
  cc->on_loss(&t->cc, t->mss, mtcp_tcp_flight(t), st->now);
  t->recover = t->snd_max;
  t->flags |= TF_RECOVERY | TF_REXMIT_UNA;
  t->recovery_at = st->now;
  t->flags &= ~(uint32_t)TF_RESCUED; /* RFC 6675 5 step 4.1: RescueRxt undefined */
  t->prr_delivered = t->prr_out = 0; /* RFC 6937: start of recovery */
  t->recover_fs = t->snd_max - t->snd_una;
  t->high_rxt = t->snd_una;
  t->fast_retransmits++;
  if (t->flags & TF_SACK) {
    t->sack_recoveries++; /* RFC 6675 5 step 4.2: cwnd = ssthresh */
  } else {
    t->cc.cwnd = t->cc.ssthresh + 3u * t->mss; /* RFC 6582 3.2 step 2 */
  }
}

void mtcp_tcp_rack_loss(struct microtcp_stack *st, struct tcb *t) {
  t->t_tlp = 0;
  if (!(t->flags & TF_RECOVERY)) {
    /* RFC 6582 4.1 as for duplicate ACKs: after an RTO the go-back-N resend
     * covers the loss until SND.UNA passes its recover point. */
    if ((t->flags & TF_RTO_RECOVER) && !seq_gt(t->snd_una, t->recover)) return;
    t->flags &= ~(uint32_t)TF_RTO_RECOVER;
    enter_recovery(st, t);
    /* RFC 8985: what to retransmit are the segments RACK marked lost; the
     * first one goes out at once whatever the window (the fast retransmit,
     * RFC 6937's forced first retransmission), which is SND.UNA's segment
     * when RACK marked it. */
    uint32_t seq, len;
    if (!mtcp_rack_next_lost(t, &seq, &len) || seq != t->snd_una) t->flags &= ~(uint32_t)TF_REXMIT_UNA;
  }
  mtcp_tcb_want_output(st, t);
}

/* RFC 6937 (PRR), on every ACK during SACK recovery: spread the window
 * reduction over the recovery in proportion to the data delivered, so that
 * at its end about ssthresh bytes are in flight, and (PRR-SSRB) grow back at
 * most slow-start fast when losses took pipe below ssthresh. The result is
 * expressed as cwnd = pipe + sndcnt, which the output path then honours. */
static void prr_on_ack(struct tcb *t, uint32_t delivered) {
  t->prr_delivered += delivered;
  uint32_t pipe = mtcp_tcp_pipe(t);
  uint32_t ssthresh = t->cc.ssthresh;
  int64_t sndcnt;
  if (pipe > ssthresh) {
    uint64_t fs = t->recover_fs ? t->recover_fs : 1;
    uint64_t target = ((uint64_t)t->prr_delivered * ssthresh + fs - 1) / fs; /* CEIL */
    sndcnt = (int64_t)target - (int64_t)t->prr_out;
  } else {
    int64_t limit = (int64_t)t->prr_delivered - (int64_t)t->prr_out;
    if (limit < (int64_t)delivered) limit = delivered;
    limit += t->mss;
    sndcnt = MIN((int64_t)(ssthresh - pipe), limit);
  }
  if (sndcnt < 0) sndcnt = 0;
  t->cc.cwnd = pipe + (uint32_t)sndcnt;
}

/* New data acknowledged: snd_una < ack <= snd_max. */
static void ack_new_data(struct microtcp_stack *st, struct tcb *t, const struct seg_in *s) {
  uint32_t acked = s->ack - t->snd_una;
  uint32_t buf_end = t->snd_buf_seq + t->sndbuf.len;
  uint32_t upto = seq_lt(s->ack, buf_end) ? s->ack : buf_end;
  if (seq_gt(upto, t->snd_buf_seq)) {
    uint32_t n = upto - t->snd_buf_seq;
    mtcp_rb_drop(&t->sndbuf, n);
    if (t->sndbuf.len == 0) { /* all acked: its last chunk back, no claim kept */
      mtcp_rb_trim(&t->sndbuf);
      mtcp_rb_unreserve(&t->sndbuf);
    }
    mtcp_tcp_pool_wake(st);
    t->snd_buf_seq += n;
    t->bytes_acked += n;
  }
  /* RFC 6298 5.3 / Karn: time only segments never retransmitted. */
  if ((t->flags & TF_RTT_TIMING) && seq_gt(s->ack, t->rtt_seq)) {
    mtcp_tcp_rtt_sample(st, t, (uint32_t)(st->now - t->rtt_start));
    t->flags &= ~(uint32_t)TF_RTT_TIMING;
  } else if (t->backoff && (t->flags & TF_TS) && s->h->opts.has_ts && s->h->opts.ts_ecr) {
    /* RFC 7323 4 (RTTM): after a timeout Karn's rule leaves no sample and
     * keeps the backed-off RTO, so under repeated loss it only grows; the
     * echoed timestamp names the transmission that was acknowledged, so it
     * gives a sample anyway. Our TS clock ticks in ms: the RTT is below
     * (elapsed + 1) ms, which is used (an overestimate, never an under-). */
    uint32_t elapsed = mtcp_tcp_ts_now(st, t) - s->h->opts.ts_ecr;
    if (elapsed < st->cfg.tcp_rto_max_us / 1000u) mtcp_tcp_rtt_sample(st, t, (elapsed + 1u) * 1000u);
  }
  /* HyStart++ takes one RTT sample per ACK (tcp_rack.h RTT probes). */
  uint32_t rtt_sample = t->rttp.n ? mtcp_rttp_acked(&t->rttp, s->ack, st->now) : 0;
  t->prev_una = t->snd_una;
  t->snd_una = s->ack;
  if (seq_lt(t->snd_nxt, t->snd_una)) t->snd_nxt = t->snd_una;
  t->backoff = 0;
  if (t->flags & TF_SACK) mtcp_sb_advance(&t->sb, t->snd_una);

  const struct mtcp_tcp_cc_ops *cc = mtcp_tcp_cc_ops(t->opt.cc_algo);
  if (t->flags & TF_RECOVERY) {
    if (seq_ge(s->ack, t->recover)) {
      /* Full ACK: leave recovery (RFC 6582 3.2 step 3, RFC 6675 5). */
      mtcp_tcp_leave_recovery(t, st->now);
      cc->on_recovery_end(&t->cc, t->mss, st->now);
      t->dupacks = 0;
    } else if (!(t->flags & TF_SACK)) {
      /* Partial ACK (RFC 6582 3.2 step 4): retransmit the next hole, deflate
       * cwnd by the amount acked and add back one MSS. */
      t->flags |= TF_REXMIT_UNA;
      t->cc.cwnd = t->cc.cwnd > acked ? t->cc.cwnd - acked : 0;
      if (acked >= t->mss) t->cc.cwnd += t->mss;
      if (t->cc.cwnd < t->mss) t->cc.cwnd = t->mss;
    } else if (seq_lt(t->high_rxt, t->snd_una)) {
      t->high_rxt = t->snd_una;
    }
  } else {
    if (t->cc.hs.state == HYSTART_SS || t->cc.hs.state == HYSTART_CSS) {
      int r = mtcp_tcp_hystart_on_ack(&t->cc, s->ack, t->snd_max, rtt_sample);
      if (r == 1) st->ctr.tcp_hystart_css++;
      if (r == 2) st->ctr.tcp_hystart_exits++;
    }
    cc->on_ack(&t->cc, t->mss, acked, st->now, t->srtt);
    t->dupacks = 0;
  }

  /* RFC 6298 5.2 / 5.3: stop the timer when everything is acked, else restart. */
  t->flags &= ~(uint32_t)TF_PERSIST;
  if (t->snd_una == t->snd_max) {
    t->t_rexmt = 0;
    t->unacked_since = 0;
  } else {
    t->t_rexmt = st->now + t->rto;
    t->unacked_since = st->now;
  }
  mtcp_tcb_want_output(st, t);
  mtcp_tcb_notify(st, t);
}

/* RFC 6582 4.1: after an RTO, duplicate ACKs start no fast retransmit until
 * snd_una passes the RTO's "recover" point (they may come from the
 * go-back-N resend of data the receiver already held) - except by 4.2's ACK
 * heuristic: with cwnd above one SMSS and the last cumulative-ACK advance at
 * most 4 SMSS, the resend is being acknowledged segment by segment and the
 * duplicates mark a hole, a segment lost again. Without it a sender whose
 * resend lost one segment waited for the next, backed-off RTO (up to
 * rto_max without an RTT sample: the quickstart swarm's 120 s stalls with a
 * receiver without SACK). */
static bool may_recover_after_rto(const struct tcb *t) {
  if (!(t->flags & TF_RTO_RECOVER) || seq_gt(t->snd_una, t->recover)) return true;
  return t->cc.cwnd > t->mss && t->snd_una - t->prev_una <= 4u * t->mss;
}

static void dup_ack(struct microtcp_stack *st, struct tcb *t) {
  t->dupacks = (uint8_t)MIN(t->dupacks + 1, 250);
  t->dup_acks_total++;
  if (!(t->flags & TF_RECOVERY) && tcb_rack_on(t)) {
    /* RFC 8985: RACK-TLP replaces the DupThresh rule (mtcp_rack_on_ack). */
  } else if (!(t->flags & TF_RECOVERY)) {
    bool lost = t->dupacks >= 3;
    if (!lost && (t->flags & TF_SACK)) lost = mtcp_sb_is_lost(&t->sb, t->snd_una, t->mss);
    if (lost && may_recover_after_rto(t)) {
      t->flags &= ~(uint32_t)TF_RTO_RECOVER;
      enter_recovery(st, t);
    }
  } else if (!(t->flags & TF_SACK)) {
    t->cc.cwnd += t->mss; /* RFC 6582 3.2 step 3: inflate */
  }
  mtcp_tcb_want_output(st, t);
}

/* Deliver in-window data; returns true if an immediate ACK is due. */
/* RFC 2883 4: remember a duplicate range [left, right) below RCV.NXT for the
 * first SACK block of the next ACK (D-SACK), so the sender can tell a
 * spurious retransmission. */
static void note_dsack(struct microtcp_stack *st, struct tcb *t, uint32_t left, uint32_t right) {
  if (!(t->flags & TF_SACK) || !st->cfg.tcp_dsack || left == right) return;
  t->dsack_left = left;
  t->dsack_right = right;
  t->flags |= TF_DSACK;
}

static bool take_data(struct microtcp_stack *st, struct tcb *t, const struct seg_in *s) {
  const uint8_t *data = s->h->payload;
  uint32_t len = s->len;
  uint32_t seq = s->seq + (has(s, WIRE_TCP_SYN) ? 1u : 0u);
  if (seq_lt(seq, t->rcv_nxt)) {
    uint32_t cut = t->rcv_nxt - seq;
    if (len) note_dsack(st, t, seq, seq + MIN(cut, len));
    if (cut >= len) return true; /* all old: a duplicate, ACK it (RFC 9293) */
    data += cut;
    len -= cut;
    seq = t->rcv_nxt;
  }
  bool dsack_now = (t->flags & TF_DSACK) != 0; /* a D-SACK goes out at once */
  uint32_t off = seq - t->rcv_nxt;
  uint32_t wnd = cur_rcv_wnd(t);
  uint32_t physical = mtcp_rb_room(&t->rcvbuf); /* buffer and pool (reserved: the window) */
  wnd = MIN(MAX(wnd, 0u), physical);
  if (off >= wnd) return true;
  if (len > wnd - off) len = wnd - off; /* trim to the window */
  if (len == 0) return false;
  /* Overlapping data that differs: the first copy wins (as the IDS on the
   * path most likely saw it), counted. */
  bool conflict = false;
  if (off == 0) {
    uint32_t n = mtcp_rb_write_at_first(&t->rcvbuf, &t->ooo, 0, data, len, &conflict);
    if (conflict) st->ctr.tcp_overlap_conflicts++;
    mtcp_rb_commit(&t->rcvbuf, n);
    mtcp_asm_shift(&t->ooo, n);
    uint32_t extra = mtcp_asm_front(&t->ooo);
    if (extra) {
      mtcp_rb_commit(&t->rcvbuf, extra);
      mtcp_asm_shift(&t->ooo, extra);
    }
    t->rcv_nxt += n + extra;
    t->bytes_received += n + extra;
    t->delack_bytes += n + extra;
    mtcp_tcb_notify(st, t);
    /* RFC 5681 4.2: ACK at once when a hole is filled; otherwise at least
     * every second full-sized segment, else within the delayed-ACK time.
     * "Full-sized" is the sender's SMSS, i.e. the negotiated MSS (t->mss,
     * options taken off), not our own configured one: with a peer whose MSS
     * is smaller, two of its full segments never added up to two of ours, so
     * a sender with a small cwnd waited out the whole delayed-ACK timer on
     * every flight. */
    if (extra || t->ooo.count || dsack_now) return true;
    if (t->delack_bytes >= 2u * t->mss) return true;
    if (!t->t_delack) t->t_delack = st->now + st->cfg.tcp_delack_us;
    return false;
  }
  len = mtcp_rb_write_at_first(&t->rcvbuf, &t->ooo, off, data, len, &conflict);
  if (conflict) st->ctr.tcp_overlap_conflicts++;
  if (len == 0) return true; /* the pool has no chunk for it (window not reserved) */
  if (mtcp_asm_add(&t->ooo, off, off + len) < 0) {
    st->ctr.drop_tcp_ooo_full++; /* bytes stored in gaps stay untracked, unused */
    /* Full, and this segment lies below the highest range: keep the data
     * nearest RCV.NXT, which is delivered as soon as the hole below it
     * fills (Linux prunes its out-of-order queue from the top, too).
     * Keeping the first range held instead made a small queue useless
     * through a recovery: every segment between the hole and a far range
     * was dropped and resent one per RTT. Only without SACK: a range the
     * peer saw SACKed is not withdrawn (no reneging). */
    if ((t->flags & TF_SACK) || off >= t->ooo.r[t->ooo.count - 1].start) return true;
    mtcp_asm_drop_last(&t->ooo);
    int added = mtcp_asm_add(&t->ooo, off, off + len);
    MICROTCP_ASSERT(added == 0); /* a slot is free now */
  }
  return true; /* RFC 5681 4.2: out-of-order data gets an immediate ACK */
}

static void fin_received(struct microtcp_stack *st, struct tcb *t) {
  t->rcv_nxt += 1;
  t->flags |= TF_FIN_RCVD | TF_ACK_NOW;
  t->flags &= ~(uint32_t)TF_FIN_PENDING;
  switch (t->state) {
  case MICROTCP_SYN_RECEIVED:
  case MICROTCP_ESTABLISHED: mtcp_tcb_set_state(st, t, MICROTCP_CLOSE_WAIT); break;
  case MICROTCP_FIN_WAIT_1:
    if ((t->flags & TF_FIN_SENT) && seq_gt(t->snd_una, t->fin_seq))
      mtcp_tcp_enter_time_wait(st, t);
    else
      mtcp_tcb_set_state(st, t, MICROTCP_CLOSING);
    break;
  case MICROTCP_FIN_WAIT_2: mtcp_tcp_enter_time_wait(st, t); break;
  case MICROTCP_TIME_WAIT: mtcp_tcp_enter_time_wait(st, t); break; /* restart 2MSL */
  default: break;
  }
  mtcp_tcb_notify(st, t);
}

/* Our FIN was acknowledged: advance the closing states. */
static void fin_acked(struct microtcp_stack *st, struct tcb *t) {
  switch (t->state) {
  case MICROTCP_FIN_WAIT_1:
    mtcp_tcb_set_state(st, t, MICROTCP_FIN_WAIT_2);
    if (t->owner == OWN_ORPHAN) t->t_2msl = st->now + TCP_FIN_WAIT_2_TIMEOUT_US;
    break;
  case MICROTCP_CLOSING: mtcp_tcp_enter_time_wait(st, t); break;
  case MICROTCP_LAST_ACK: mtcp_tcb_terminate(st, t, 0); break;
  default: break;
  }
}

/* ---- RFC 9293 3.10.7.4: a segment for a synchronized (or SYN-RECEIVED) connection --------- */
/* Each check below is one step of the RFC, in its order. A check returns true
 * when processing goes on to the next step, false when the segment is done
 * with (dropped, answered, or the connection ended). A check may narrow the
 * segment (drop its SYN or its text) for the steps after it. */

/* Before the first check, the two SYN-RECEIVED cases the RFC handles by
 * figure rather than by step. */
static bool syn_received_repeats(struct microtcp_stack *st, struct tcb *t, struct seg_in *s) {
  if (t->state != MICROTCP_SYN_RECEIVED || !has(s, WIRE_TCP_SYN) || s->seq != t->irs) return true;
  if (has(s, WIRE_TCP_ACK)) {
    /* Simultaneous open (RFC 9293 3.5 figure 7, step 6): the peer's SYN-ACK
     * repeats its SYN, already counted in RCV.NXT; drop the SYN bit so the
     * ACK it carries is processed. */
    if (!(t->flags & TF_PASSIVE)) {
      s->flags = (uint8_t)(s->flags & ~WIRE_TCP_SYN);
      s->seq += 1;
    }
    return true;
  }
  /* A retransmitted SYN: repeat our SYN-ACK. */
  t->flags |= TF_SYN_NEEDED;
  mtcp_tcb_want_output(st, t);
  return false;
}

static void oow_ack(struct microtcp_stack *st, struct tcb *t, const struct seg_in *s);

/* RFC 7323 3.2 and 5.3 R1 (PAWS), checked ahead of the window: once
 * timestamps are in use, a non-RST segment without one, or with a TSval older
 * than TS.Recent, is not acceptable. */
static bool check_timestamps(struct microtcp_stack *st, struct tcb *t, const struct seg_in *s) {
  const wire_tcp_opts *o = &s->h->opts;
  if (!(t->flags & TF_TS) || has(s, WIRE_TCP_RST)) return true;
  if (!o->has_ts) {
    st->ctr.drop_tcp_paws++;
    return false;
  }
  if (!(t->flags & TF_TS_RECENT) || !seq_lt(o->ts_val, t->ts_recent)) return true;
  if (st->now - t->ts_recent_at > TCP_PAWS_IDLE_US) {
    t->flags &= ~(uint32_t)TF_TS_RECENT; /* R1 note: idle > 24 days invalidates */
    return true;
  }
  st->ctr.drop_tcp_paws++;
  oow_ack(st, t, s);
  return false;
}

/* RFC 9293 3.10.7.4: "If the RCV.WND is zero, no segments will be acceptable,
 * but special allowance should be made to accept valid ACKs". An ACK at
 * RCV.NXT whose text (and the FIN behind it) does not fit: drop the text,
 * acknowledge, and go on with the ACK. When both ends have full receive
 * buffers every ACK rides on data the other cannot take, and dropping those
 * ACKs stalls both for good. */
static void zero_window_keep_ack(struct microtcp_stack *st, struct tcb *t, struct seg_in *s) {
  if (s->seq != t->rcv_nxt || !has(s, WIRE_TCP_ACK) || has(s, WIRE_TCP_SYN) ||
      has(s, WIRE_TCP_RST))
    return;
  st->ctr.drop_tcp_out_of_window++;
  s->len = 0;
  s->flags = (uint8_t)(s->flags & ~WIRE_TCP_FIN);
  t->flags |= TF_ACK_NOW;
}

/* The ACK that answers a segment we drop (out of window, PAWS, an ACK of
 * data never sent). For a bare segment (no data, no SYN) at most one per
 * tcp_challenge_ack_interval_us per connection, as Linux's
 * tcp_invalid_ratelimit (500 ms): two ends that each find the other's bare
 * ACKs unacceptable would otherwise answer each other at wire speed for
 * ever (an ACK loop). Data segments are always answered (they are not a
 * loop, and a keepalive probe needs its answer). */
static void oow_ack(struct microtcp_stack *st, struct tcb *t, const struct seg_in *s) {
  uint32_t interval = st->cfg.tcp_challenge_ack_interval_us;
  if (s->len == 0 && !has(s, WIRE_TCP_SYN) && interval) {
    if (st->now < t->oow_ack_next) {
      st->ctr.tcp_oow_acks_limited++;
      return;
    }
    t->oow_ack_next = st->now + interval;
  }
  mtcp_tcp_send_ack_now(st, t);
}

/* An unacceptable segment: "send an acknowledgment ... and drop" (a RST is
 * just dropped); a SYN gets a challenge ACK (RFC 5961 4.2). */
static void unacceptable(struct microtcp_stack *st, struct tcb *t, const struct seg_in *s) {
  if (has(s, WIRE_TCP_RST)) return;
  if (s->len && seq_le(s->seq + s->len, t->rcv_nxt) && !has(s, WIRE_TCP_SYN))
    note_dsack(st, t, s->seq, s->seq + s->len); /* an old duplicate (RFC 2883 4) */
  if (t->state == MICROTCP_TIME_WAIT && has(s, WIRE_TCP_FIN))
    mtcp_tcp_enter_time_wait(st, t); /* retransmitted FIN: restart 2MSL, ACK below */
  st->ctr.drop_tcp_out_of_window++;
  if (has(s, WIRE_TCP_SYN) && tcb_synchronized(t))
    challenge_ack(st, t);
  else
    oow_ack(st, t, s);
}

/* First: check the sequence number (PAWS first, RFC 7323 5.3). */
static bool check_sequence(struct microtcp_stack *st, struct tcb *t, struct seg_in *s) {
  if (!check_timestamps(st, t, s)) return false;
  uint32_t rcv_wnd = cur_rcv_wnd(t);
  if (t->state == MICROTCP_SYN_RECEIVED) rcv_wnd = MAX(rcv_wnd, 1u);
  if (seq_acceptable(t, s, rcv_wnd)) return true;
  if (rcv_wnd == 0) {
    zero_window_keep_ack(st, t, s);
    if (seq_acceptable(t, s, rcv_wnd)) return true;
  }
  unacceptable(st, t, s);
  return false;
}

/* Second: check the RST bit (RFC 5961 3.2: only an exact match resets). */
static bool check_rst(struct microtcp_stack *st, struct tcb *t, const struct seg_in *s) {
  if (!has(s, WIRE_TCP_RST)) return true;
  if (s->seq != t->rcv_nxt) {
    challenge_ack(st, t);
    return false;
  }
  /* RFC 1337 (TIME-WAIT assassination): ignore RSTs in TIME-WAIT. */
  if (t->state == MICROTCP_TIME_WAIT) return false;
  /* SYN-RECEIVED: a passive open goes back to LISTEN (the block is dropped);
   * an active one (simultaneous open) is refused. Elsewhere: reset. */
  st->ctr.tcp_resets_in++;
  mtcp_tcb_terminate(st, t,
                t->state == MICROTCP_SYN_RECEIVED ? MICROTCP_ECONNREFUSED : MICROTCP_ECONNRESET);
  return false;
}

/* Fourth: check the SYN bit. A SYN in the window of a synchronized connection
 * gets a challenge ACK (RFC 5961 4.2); in SYN-RECEIVED of a passive open it
 * returns the connection to LISTEN. */
static bool check_syn(struct microtcp_stack *st, struct tcb *t, const struct seg_in *s) {
  if (!has(s, WIRE_TCP_SYN)) return true;
  if (t->state == MICROTCP_SYN_RECEIVED && (t->flags & TF_PASSIVE))
    mtcp_tcb_terminate(st, t, MICROTCP_ECONNREFUSED);
  else
    challenge_ack(st, t);
  return false;
}

/* Fifth check, SYN-RECEIVED: an ACK of our SYN completes the handshake
 * (a passive connection goes onto its listener's accept queue); any other
 * ACK is answered with a RST. */
static bool ack_completes_handshake(struct microtcp_stack *st, struct tcb *t,
                                    const struct seg_in *s) {
  if (!(seq_gt(s->ack, t->snd_una) && seq_le(s->ack, t->snd_max))) {
    reply_rst(st, s);
    st->ctr.drop_tcp_bad_ack++;
    return false;
  }
  t->snd_una = s->ack;
  if (t->flags & TF_RTT_TIMING) {
    mtcp_tcp_rtt_sample(st, t, (uint32_t)(st->now - t->rtt_start));
    t->flags &= ~(uint32_t)TF_RTT_TIMING;
  }
  uint8_t ws = (t->flags & TF_WS) ? t->snd_wscale : 0;
  t->snd_wnd = (uint32_t)s->h->window << ws;
  t->max_snd_wnd = MAX(t->max_snd_wnd, t->snd_wnd);
  t->snd_wl1 = s->seq;
  t->snd_wl2 = s->ack;
  t->recover = t->iss;
  start_cc(st, t);
  established(st, t);
  if (t->owner == OWN_LISTENER && t->listener != TCP_NONE) {
    struct tcp_listener *l = &st->tcp.listeners[t->listener];
    l->half_open--;
    mtcp_tcp_acceptq_push(st, l, t);
  } else {
    mtcp_tcb_notify(st, t);
  }
  mtcp_tcb_want_output(st, t);
  return true;
}

/* RFC 5961 5.2: acceptable ACKs lie in [SND.UNA - MAX.SND.WND, SND.NXT]; one
 * beyond what we sent is answered with an ACK, one too old with a challenge. */
static bool ack_acceptable(struct microtcp_stack *st, struct tcb *t, const struct seg_in *s) {
  if (seq_gt(s->ack, t->snd_max)) {
    st->ctr.drop_tcp_bad_ack++;
    oow_ack(st, t, s);
    return false;
  }
  if (seq_lt(s->ack, t->snd_una - t->max_snd_wnd)) {
    st->ctr.drop_tcp_bad_ack++;
    challenge_ack(st, t);
    return false;
  }
  return true;
}

/* RFC 7323 4.3: update TS.Recent if the segment covers Last.ACK.sent, and
 * only once its ACK proved acceptable (RFC 9293 3.10.7.4 drops a segment with
 * SEG.ACK > SND.NXT first: a spoofed far-future TSval must not become
 * TS.Recent and make PAWS drop valid segments). */
static void take_ts_recent(struct microtcp_stack *st, struct tcb *t, const struct seg_in *s) {
  const wire_tcp_opts *o = &s->h->opts;
  if ((t->flags & TF_TS) && o->has_ts && seq_le(s->seq, t->last_ack_sent) &&
      (!(t->flags & TF_TS_RECENT) || seq_ge(o->ts_val, t->ts_recent))) {
    t->ts_recent = o->ts_val;
    t->ts_recent_at = st->now;
    t->flags |= TF_TS_RECENT;
  }
}

/* RFC 2883 4 (sender side): the first SACK block of an ACK reports a
 * duplicate (D-SACK) when it lies at or below SEG.ACK, or inside the
 * second block. */
static bool first_block_is_dsack(const struct tcb *t, const struct seg_in *s, uint32_t *l,
                                 uint32_t *r) {
  const wire_tcp_opts *o = &s->h->opts;
  if (!(t->flags & TF_SACK) || !o->sack_count) return false;
  *l = o->sack[0].left;
  *r = o->sack[0].right;
  if (!seq_lt(*l, *r)) return false;
  if (seq_le(*r, s->ack)) return true;
  return o->sack_count >= 2 && seq_ge(*l, o->sack[1].left) && seq_le(*r, o->sack[1].right);
}

/* A D-SACK for [l, r): if it reports bytes the armed episode retransmitted,
 * they were not lost. When the last of them is reported, undo (RFC 3708 3:
 * all retransmissions were spurious): cwnd and ssthresh back to at least
 * their values before the episode, recovery ends (Linux's
 * tcp_try_undo_dsack / tcp_undo_cwnd_reduction). */
static void dsack_undo(struct microtcp_stack *st, struct tcb *t, uint32_t l, uint32_t r) {
  if (!t->undo_armed || !t->undo_n) return;
  /* Remove [l, r) from the retransmitted ranges; only bytes this episode
   * retransmitted count (a duplicate the network made of an original
   * segment proves nothing). */
  uint32_t keep_l[2 * TCP_UNDO_RANGES], keep_r[2 * TCP_UNDO_RANGES];
  uint8_t k = 0;
  for (uint8_t i = 0; i < t->undo_n; i++) {
    uint32_t a = t->undo_rng[i].left, b = t->undo_rng[i].right;
    if (!seq_lt(l, b) || !seq_lt(a, r)) { /* no overlap */
      keep_l[k] = a, keep_r[k++] = b;
      continue;
    }
    if (seq_lt(a, l)) keep_l[k] = a, keep_r[k++] = l;
    if (seq_lt(r, b)) keep_l[k] = r, keep_r[k++] = b;
  }
  if (k > TCP_UNDO_RANGES) {
    t->undo_armed = false;
    return;
  }
  for (uint8_t i = 0; i < k; i++) t->undo_rng[i].left = keep_l[i], t->undo_rng[i].right = keep_r[i];
  t->undo_n = k;
  if (k) return;
  t->undo_armed = false;
  if (t->cc.cwnd < t->undo_cwnd) t->cc.cwnd = t->undo_cwnd;
  if (t->cc.ssthresh < t->undo_ssthresh) t->cc.ssthresh = t->undo_ssthresh;
  t->cc.epoch_start = 0; /* CUBIC: a new epoch from the restored window */
  t->cc.ack_acc = 0;
  mtcp_tcp_leave_recovery(t, st->now);
  t->flags &= ~(uint32_t)TF_REXMIT_UNA;
  t->dupacks = 0;
  st->ctr.tcp_dsack_undos++;
  mtcp_tcb_want_output(st, t);
}

/* RFC 2018 / RFC 6675: the SACK blocks into the scoreboard. */
static void take_sack_blocks(struct tcb *t, const struct seg_in *s) {
  const wire_tcp_opts *o = &s->h->opts;
  if (!(t->flags & TF_SACK) || !o->sack_count) return;
  uint32_t l[WIRE_TCP_MAX_SACK], r[WIRE_TCP_MAX_SACK];
  for (uint8_t i = 0; i < o->sack_count; i++) {
    l[i] = o->sack[i].left;
    r[i] = o->sack[i].right;
  }
  mtcp_sb_update(&t->sb, t->snd_una, t->snd_max, l, r, o->sack_count);
}

/* SND.UNA < SEG.ACK: new data (and maybe our FIN) acknowledged; otherwise
 * the window update and the duplicate-ACK test. Returns false if the
 * connection ended (LAST-ACK done). */
static bool take_ack(struct microtcp_stack *st, struct tcb *t, const struct seg_in *s,
                     uint32_t old_wnd) {
  if (seq_gt(s->ack, t->snd_una)) {
    bool fin_was_outstanding = (t->flags & TF_FIN_SENT) && seq_le(t->snd_una, t->fin_seq);
    ack_new_data(st, t, s);
    update_window(t, s);
    if (fin_was_outstanding && seq_gt(s->ack, t->fin_seq)) fin_acked(st, t);
    return t->state != MICROTCP_CLOSED;
  }
  update_window(t, s);
  /* RFC 5681 2 (duplicate ACK): no data, no SYN/FIN, same window, data
   * outstanding, ack == snd_una. */
  if (s->ack == t->snd_una && s->len == 0 && !has(s, WIRE_TCP_FIN) && t->snd_wnd == old_wnd &&
      t->snd_una != t->snd_max)
    dup_ack(st, t);
  return true;
}

/* The send window grew: more may go out; a window that opened ends the
 * persist timer (RFC 9293 3.8.6.1). */
static void window_opened(struct microtcp_stack *st, struct tcb *t, uint32_t old_wnd) {
  if (t->snd_wnd > old_wnd) mtcp_tcb_want_output(st, t);
  if (old_wnd == 0 && t->snd_wnd > 0 && (t->flags & TF_PERSIST)) {
    t->flags &= ~(uint32_t)TF_PERSIST;
    t->t_rexmt = 0;
    mtcp_tcb_want_output(st, t);
  }
}

/* Fifth: check the ACK field ("if the ACK bit is off drop the segment"). */
static bool check_ack(struct microtcp_stack *st, struct tcb *t, const struct seg_in *s) {
  if (!has(s, WIRE_TCP_ACK)) return false;
  if (t->state == MICROTCP_SYN_RECEIVED && !ack_completes_handshake(st, t, s)) return false;
  if (!ack_acceptable(st, t, s)) return false;
  take_ts_recent(st, t, s);
  /* RFC 6937 DeliveredData = change in SND.UNA + change in SACKed bytes. */
  uint32_t una_before = t->snd_una, sacked_before = mtcp_sb_sacked_bytes(&t->sb);
  uint32_t dsack_l = 0, dsack_r = 0;
  bool dsack = first_block_is_dsack(t, s, &dsack_l, &dsack_r);
  uint32_t acked_was_sacked = 0; /* RACK reordering: was the newly acked range SACKed? */
  if (seq_gt(s->ack, t->snd_una))
    acked_was_sacked = mtcp_sb_sacked_above(&t->sb, t->snd_una) - mtcp_sb_sacked_above(&t->sb, s->ack);
  take_sack_blocks(t, s);
  uint32_t old_wnd = t->snd_wnd;
  bool in_recovery = (t->flags & TF_RECOVERY) != 0;
  if (!take_ack(st, t, s, old_wnd)) return false;
  if (dsack && t->opt.dsack_undo) dsack_undo(st, t, dsack_l, dsack_r);
  if (tcb_rack_on(t))
    mtcp_rack_on_ack(st, t, una_before, acked_was_sacked, dsack, dsack_l, dsack_r,
                     in_recovery && !(t->flags & TF_RECOVERY));
  if ((t->flags & TF_RECOVERY) && (t->flags & TF_SACK) && t->opt.prr) {
    int64_t delivered = (int64_t)(t->snd_una - una_before) + (int64_t)mtcp_sb_sacked_bytes(&t->sb) -
                        (int64_t)sacked_before;
    prr_on_ack(t, delivered > 0 ? (uint32_t)delivered : 0);
  }
  window_opened(st, t, old_wnd);
  return true;
}

/* Seventh: process the segment text. Returns false if the connection was
 * reset; *ack_now is set when an immediate ACK is due. */
static bool process_text(struct microtcp_stack *st, struct tcb *t, const struct seg_in *s,
                         bool *ack_now) {
  if (!s->len) return true;
  switch (t->state) {
  case MICROTCP_ESTABLISHED:
  case MICROTCP_FIN_WAIT_1:
  case MICROTCP_FIN_WAIT_2:
    if (t->owner == OWN_ORPHAN && seq_ge(s->seq + s->len, t->rcv_nxt) &&
        !(t->flags & TF_FIN_RCVD)) {
      /* Nobody will ever read this: RFC 9293 3.10.7.4 / RFC 2525 2.17 say reset. */
      mtcp_tcp_send_rst(st, t->remote_ip, t->lport, t->rport, t->snd_nxt, 0, false);
      mtcp_tcb_terminate(st, t, MICROTCP_ECONNRESET);
      return false;
    }
    *ack_now = take_data(st, t, s);
    return true;
  default: *ack_now = true; return true; /* after the peer's FIN: just re-ACK */
  }
}

/* Eighth: check the FIN bit. Taken in order only; an early FIN waits at
 * rcv_fin_seq until the gap before it fills. */
static void check_fin(struct microtcp_stack *st, struct tcb *t, const struct seg_in *s,
                      bool *ack_now) {
  if (has(s, WIRE_TCP_FIN) && !(t->flags & TF_FIN_RCVD)) {
    uint32_t fin_seq = s->seq + s->len;
    if (fin_seq == t->rcv_nxt) {
      fin_received(st, t);
    } else if (seq_gt(fin_seq, t->rcv_nxt)) {
      t->flags |= TF_FIN_PENDING;
      t->rcv_fin_seq = fin_seq;
      *ack_now = true;
    }
  } else if (has(s, WIRE_TCP_FIN) && t->state == MICROTCP_TIME_WAIT) {
    /* TIME-WAIT: the FIN was already received: remain, ACK, restart 2MSL
     * (RCV.NXT does not move). */
    mtcp_tcp_enter_time_wait(st, t);
    t->flags |= TF_ACK_NOW;
  }
  if ((t->flags & TF_FIN_PENDING) && t->rcv_nxt == t->rcv_fin_seq) fin_received(st, t);
}

static void synchronized_input(struct microtcp_stack *st, struct tcb *t, const struct seg_in *in) {
  struct seg_in seg = *in; /* the checks may narrow it */
  bool ack_now = false;
  if (!syn_received_repeats(st, t, &seg)) return;
  if (!check_sequence(st, t, &seg)) return; /* first */
  if (!check_rst(st, t, &seg)) return;      /* second */
  /* third, security: no compartments or precedence (RFC 9293 3.10.7.4) */
  if (!check_syn(st, t, &seg)) return;      /* fourth */
  if (!check_ack(st, t, &seg)) return;      /* fifth */
  /* sixth, URG: urgent data is delivered inline as ordinary data (RFC 6093) */
  if (!process_text(st, t, &seg, &ack_now)) return; /* seventh */
  check_fin(st, t, &seg, &ack_now);         /* eighth */
  if (ack_now) t->flags |= TF_ACK_NOW;
}

/* ---- entry --------------------------------------------------------------------------------- */
/* RFC 1122 4.2.2.13 / RFC 6191 / RFC 9293 3.6.1: may this segment reopen a
 * connection in TIME-WAIT? Only a plain SYN (no ACK, RST or FIN: a SYN+FIN is
 * not a connection request, RFC 1337) whose sequence number lies above the
 * old connection's, or, with timestamps, whose TSval is newer than TS.Recent. */
static bool time_wait_reopens(const struct tcb *t, const struct seg_in *s) {
  if (t->state != MICROTCP_TIME_WAIT) return false;
  if (!has(s, WIRE_TCP_SYN) || has(s, WIRE_TCP_ACK) || has(s, WIRE_TCP_RST) || has(s, WIRE_TCP_FIN))
    return false;
  const wire_tcp_opts *o = &s->h->opts;
  if ((t->flags & TF_TS) && o->has_ts && (t->flags & TF_TS_RECENT))
    return seq_gt(o->ts_val, t->ts_recent);
  return seq_gt(s->seq, t->rcv_nxt);
}

void mtcp_tcp_input(struct microtcp_stack *st, const struct wire_ipv4 *ip) {
  wire_tcp h;
  st->ctr.tcp_segments_in++;
  if (ip->dst != st->cfg.ip) { /* TCP is unicast only (RFC 1122 4.2.3.10) */
    st->ctr.drop_ip_not_for_us++;
    return;
  }
  if (wire_tcp_parse(ip->payload, ip->payload_len, &h) < 0) {
    st->ctr.drop_tcp_malformed++;
    return;
  }
#ifndef MICROTCP_FUZZING
  if (!wire_tcp_checksum_ok(ip->src, ip->dst, ip->payload, ip->payload_len)) {
    st->ctr.drop_tcp_checksum++;
    return;
  }
#endif
  if (h.src_port == 0 || h.dst_port == 0) {
    st->ctr.drop_tcp_malformed++;
    return;
  }
  struct seg_in s = {&h, ip->src, h.seq, h.ack, (uint32_t)h.payload_len, h.flags};

  struct tcb *t = mtcp_tcb_lookup(st, ip->src, h.src_port, h.dst_port);
  if (t) mtcp_tcb_touch(st, t); /* its timers may change (tcp_int.h) */
  bool reopen = false;
  uint32_t reopen_iss = 0;
  if (t && time_wait_reopens(t, &s) && mtcp_listener_by_port(st, h.dst_port)) {
    /* RFC 1122 4.2.2.13: the new connection's ISN must lie above the old
     * connection's sequence space; Linux uses old SND.NXT + 65535 + 2. */
    reopen = true;
    reopen_iss = t->snd_max + 65538u;
    mtcp_tcb_terminate(st, t, 0);
    t = NULL;
  }
  if (!t) {
    struct tcp_listener *l = mtcp_listener_by_port(st, h.dst_port);
    if (l) {
      listen_input(st, l, &s, reopen ? &reopen_iss : NULL);
    } else {
      st->ctr.drop_tcp_no_socket++;
      reply_rst(st, &s);
    }
    return;
  }
  t->segs_in++;
  t->last_rcv_at = st->now;
  t->keep_probes_sent = 0;
  t->probes_unanswered = 0;
  uint64_t moved = t->bytes_acked + t->bytes_received;
  /* Edges that never move left on a synchronized connection (checked below). */
  bool was_synced = tcb_synchronized(t);
  uint32_t una0 = t->snd_una, rcv_nxt0 = t->rcv_nxt, rcv_adv0 = t->rcv_adv;
  if (t->state == MICROTCP_SYN_SENT)
    syn_sent_input(st, t, &s);
  else
    synchronized_input(st, t, &s);
  if (t->in_use && t->bytes_acked + t->bytes_received != moved) t->progress_at = st->now;
  if (t->in_use && t->state != MICROTCP_CLOSED && (t->flags & TF_ACK_NOW)) mtcp_tcp_send_ack_now(st, t);
  if (t->in_use && was_synced) {
    MICROTCP_ASSERT(seq_ge(t->snd_una, una0));     /* the cumulative ACK point */
    MICROTCP_ASSERT(seq_ge(t->rcv_nxt, rcv_nxt0)); /* left edge of the receive window */
    MICROTCP_ASSERT(seq_ge(t->rcv_adv, rcv_adv0)); /* its right edge, as advertised */
  }
  if (t->in_use) mtcp_tcb_check(st, t);
}

/* ---- ICMP errors (RFC 1122 4.2.3.9, RFC 5927) ------------------------------------------------ */
void mtcp_tcp_icmp_error(struct microtcp_stack *st, uint8_t type, uint8_t code, uint16_t next_mtu,
                    const struct wire_ipv4 *quoted) {
  /* A quote of a non-first fragment holds no TCP header (we never fragment
   * segments, so it is not about one of ours anyway). */
  wire_l4_quote q;
  if (quoted->src != st->cfg.ip || wire_l4_quoted(quoted, &q) < 0) return;
  uint16_t sport = q.src_port, dport = q.dst_port;
  uint32_t seq = q.tcp_seq;
  struct tcb *t = mtcp_tcb_lookup(st, quoted->dst, dport, sport);
  if (!t || t->state == MICROTCP_CLOSED) return;
  mtcp_tcb_touch(st, t); /* its timers may change (tcp_int.h) */
  /* RFC 5927 4.1: the quoted sequence number must be in flight. */
  if (!(seq_ge(seq, t->snd_una) && seq_lt(seq, t->snd_max))) return;
  if (type == WIRE_ICMP_DEST_UNREACH && code == WIRE_ICMP_UNREACH_NEEDFRAG) {
    /* RFC 1191: lower the MSS to fit the next-hop MTU, resend at once. Not
     * below cfg.ip_min_pmtu (552, Linux's min_pmtu): a smaller value - or
     * none, 0 - sets the floor and clears DF on this connection's segments,
     * so a router with a really small MTU fragments them (Linux locks the
     * route's MTU so). A forged frag-needed quoting a segment in flight then
     * costs at most a 512-byte MSS, not 68-byte segments. */
    uint32_t mtu = next_mtu;
    if (mtu < st->cfg.ip_min_pmtu) {
      mtu = st->cfg.ip_min_pmtu;
      t->flags |= TF_NO_DF;
    }
    if (mtu - 40u < (uint32_t)t->peer_mss) {
      t->peer_mss = (uint16_t)(mtu - 40);
      set_mss(st, t);
      t->snd_nxt = t->snd_una;
      mtcp_tcb_want_output(st, t);
    }
    return;
  }
  if (type == WIRE_ICMP_DEST_UNREACH &&
      (code == WIRE_ICMP_UNREACH_PROTO || code == WIRE_ICMP_UNREACH_PORT)) {
    /* Hard errors (RFC 1122 4.2.3.9: SHOULD abort) abort only a connection
     * that is not yet synchronized (SYN-SENT, SYN-RECEIVED), as Linux does.
     * In a synchronized state the 4-tuple and one in-flight sequence number
     * are all a blind attacker needs to forge one, and a real peer would have
     * answered with a RST instead: RFC 5927 5.2 treats them as soft errors. */
    if (!tcb_synchronized(t)) {
      mtcp_tcb_terminate(st, t, MICROTCP_ECONNREFUSED);
      return;
    }
    st->ctr.tcp_icmp_hard_as_soft++;
    t->soft_err = MICROTCP_ECONNREFUSED;
    return;
  }
  /* Soft errors (net/host unreachable, time exceeded): remembered and reported
   * only if the connection then times out. */
  t->soft_err = type == WIRE_ICMP_DEST_UNREACH && code == WIRE_ICMP_UNREACH_NET
                    ? MICROTCP_ENETUNREACH
                    : MICROTCP_EHOSTUNREACH;
}
