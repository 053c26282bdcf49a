/*
 * TCP output: deciding what a connection sends next and building segments.
 *
 * Connections that may have something to send sit on an output list; the
 * stack's microtcp_output() pulls one segment at a time from it (so data is
 * generated lazily, at the pace the caller drains frames). Immediate replies
 * (duplicate/challenge ACKs, RSTs) are built straight into the transmit queue.
 */
#include "tcp_int.h"

/* ---- small helpers ------------------------------------------------------------------ */
uint32_t mtcp_tcp_ts_now(const struct microtcp_stack *st, const struct tcb *t) {
  /* RFC 7323 5.4: a 1 ms clock with a per-connection random offset. */
  return (uint32_t)(st->now / 1000u) + t->ts_offset;
}

uint32_t mtcp_tcp_unsent(const struct tcb *t) {
  uint32_t off = t->snd_nxt - t->snd_buf_seq;
  if (seq_lt(t->snd_nxt, t->snd_buf_seq)) return t->sndbuf.len; /* SYN not yet acked */
  return off < t->sndbuf.len ? t->sndbuf.len - off : 0;
}

uint32_t mtcp_tcp_flight(const struct tcb *t) { return t->snd_nxt - t->snd_una; }

void mtcp_tcb_want_output(struct microtcp_stack *st, struct tcb *t) {
  if (t->flags & TF_OUTLISTED) return;
  t->flags |= TF_OUTLISTED;
  struct idxq_pool pool = mtcp_tcb_out_pool(st);
  idxq_push_tail(&st->tcp.out_q, &pool, mtcp_tcb_index(st, t));
}

static struct tcb *output_list_pop(struct microtcp_stack *st) {
  struct idxq_pool pool = mtcp_tcb_out_pool(st);
  uint16_t i = idxq_pop_head(&st->tcp.out_q, &pool);
  if (i == IDXQ_NONE) return NULL;
  struct tcb *t = &st->tcp.tcbs[i];
  t->flags &= ~(uint32_t)TF_OUTLISTED;
  mtcp_tcb_touch(st, t); /* sending arms and stops timers (tcp_int.h) */
  return t;
}

/* Receive window to advertise, in bytes, following RFC 9293 3.8.6.2.2
 * (receiver SWS avoidance: the right edge moves only in steps of at least
 * min(half the buffer, one MSS)) and never shrinking the right edge. */
uint32_t mtcp_tcp_rcv_window(const struct tcb *t) {
  uint32_t used = t->rcvbuf.len;
  uint32_t lim = MIN(t->opt.rcvbuf_lim, t->rcvbuf.cap);
  uint32_t free_space = used < lim ? lim - used : 0;
  /* Only what the shared buffer pool can still back (chunks reserved when
   * advertised: mtcp_tcp_rcv_reserve). */
  free_space = MIN(free_space, mtcp_rb_room_capped(&t->rcvbuf, t->rcvbuf.pool->rcv_share, t->rcvbuf.pool->rcv_floor));
  uint32_t old = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
  uint32_t step = MIN(lim / 2, (uint32_t)TCP_DEFAULT_MSS);
  if (free_space >= old + step || free_space < old) return MAX(free_space, old);
  return old;
}

/* ---- segment building ------------------------------------------------------------------ */
struct seg {
  uint32_t seq;
  uint8_t flags;
  uint32_t data_off; /* offset in sndbuf */
  uint32_t len;      /* data bytes */
};

static bool is_syn_opts(uint8_t flags) { return (flags & WIRE_TCP_SYN) != 0; }

static void build_options(struct microtcp_stack *st, struct tcb *t, uint8_t flags,
                          wire_tcp_opts *o) {
  memset(o, 0, sizeof *o);
  const microtcp_config *cfg = &st->cfg;
  bool synack = (flags & WIRE_TCP_ACK) != 0;
  if (is_syn_opts(flags)) {
    o->has_mss = true;
    o->mss = t->opt.maxseg ? MIN(t->opt.maxseg, cfg->tcp_mss) : cfg->tcp_mss;
    /* Active open offers what the config enables; a SYN-ACK answers only
     * options the peer offered (RFC 7323 1.3, RFC 2018 2). */
    if (cfg->tcp_wscale != MICROTCP_WSCALE_OFF && (!synack || (t->flags & TF_WS))) {
      o->has_ws = true;
      o->ws = t->rcv_wscale;
    }
    if (cfg->tcp_sack && (!synack || (t->flags & TF_SACK))) o->sack_permitted = true;
    if (cfg->tcp_timestamps && (!synack || (t->flags & TF_TS))) {
      o->has_ts = true;
      o->ts_val = mtcp_tcp_ts_now(st, t);
      o->ts_ecr = synack ? t->ts_recent : 0;
    }
    return;
  }
  if (t->flags & TF_TS) {
    o->has_ts = true;
    o->ts_val = mtcp_tcp_ts_now(st, t);
    o->ts_ecr = t->ts_recent;
  }
}

/* Raw window field for a segment, and remember the advertised right edge. */
bool mtcp_tcp_rcv_reserve(struct tcb *t) {
  bool takes_data = (t->state >= MICROTCP_SYN_SENT && t->state <= MICROTCP_ESTABLISHED) ||
                    t->state == MICROTCP_FIN_WAIT_1 ||
                    t->state == MICROTCP_FIN_WAIT_2;
  if (!seq_gt(t->rcv_adv, t->rcv_nxt) || (t->flags & TF_FIN_RCVD) || !takes_data) return true;
  return mtcp_rb_reserve(&t->rcvbuf, t->rcvbuf.len + (t->rcv_adv - t->rcv_nxt));
}

/* The window a full pool held back: counted, and t is woken when chunks
 * come back (mtcp_tcp_pool_wake). */
static void note_pool_window(struct microtcp_stack *st, struct tcb *t) {
  uint32_t used = t->rcvbuf.len;
  uint32_t lim = MIN(t->opt.rcvbuf_lim, t->rcvbuf.cap);
  if (used < lim && mtcp_rb_room_capped(&t->rcvbuf, t->rcvbuf.pool->rcv_share, t->rcvbuf.pool->rcv_floor) < lim - used &&
      !(t->flags & TF_FIN_RCVD)) {
    st->ctr.tcp_bufpool_window_limited++;
    mtcp_tcp_pool_wait(st, t);
  }
}

static uint16_t window_field(struct microtcp_stack *st, struct tcb *t, uint8_t flags) {
  uint32_t wnd = mtcp_tcp_rcv_window(t);
  note_pool_window(st, t);
  if (flags & WIRE_TCP_SYN) {
    /* RFC 7323 2.2: the window in a SYN is never scaled. */
    uint16_t raw = (uint16_t)MIN(wnd, 65535u);
    t->rcv_adv = t->rcv_nxt + raw;
    (void)mtcp_tcp_rcv_reserve(t); /* wnd fits mtcp_rb_room: always all of it */
    return raw;
  }
  uint8_t ws = (t->flags & TF_WS) ? t->rcv_wscale : 0;
  uint32_t raw = MIN(wnd >> ws, 65535u);
  uint32_t edge = t->rcv_nxt + (raw << ws);
  if (seq_gt(edge, t->rcv_adv) || !(t->flags & TF_CONNECTED)) t->rcv_adv = edge;
  (void)mtcp_tcp_rcv_reserve(t);
  if (raw == 0)
    t->flags |= TF_WND_ZERO_ADV;
  else
    t->flags &= ~(uint32_t)TF_WND_ZERO_ADV;
  return (uint16_t)raw;
}

/* Hand a finished segment (the frame's body) to IPv4. A failure is already
 * counted there (drop_no_route) and the frame freed; TCP's timers retry. The
 * segment always fits the MTU (it was sized to the frame). */
static void segment_out(struct microtcp_stack *st, struct frame *f, uint32_t rip, bool df) {
  int r = mtcp_ipv4_send_frame(st, f, rip, WIRE_IP_PROTO_TCP, df);
  MICROTCP_ASSERT(r != MICROTCP_EMSGSIZE);
  (void)r;
}

/* Write the segment into a new frame and hand it to IPv4. Returns false if no
 * frame was available (nothing changed: the caller retries later). The
 * payload is copied once, from the send buffer straight into the frame behind
 * the header; the wire layer then writes the header in front of it. */
static bool send_segment(struct microtcp_stack *st, struct tcb *t, const struct seg *s) {
  struct frame *f = mtcp_frame_alloc(st, FRAME_HEADROOM_L4);
  if (!f) return false;
  size_t room = frame_tailroom(st, f);

  wire_tcp h;
  memset(&h, 0, sizeof h);
  build_options(st, t, s->flags, &h.opts);
  wire_tcp_opts *o = &h.opts;
  /* SACK blocks ride on segments without data (RFC 2018 4: "SHOULD be
   * included in all ACKs which do not ACK the highest sequence number in the
   * data receiver's queue"); we skip them on data segments so the MSS math
   * stays simple. */
  bool dsack = (t->flags & TF_DSACK) && s->len == 0 && !(s->flags & WIRE_TCP_SYN);
  if ((t->flags & TF_SACK) && s->len == 0 && !(s->flags & WIRE_TCP_SYN) && (t->ooo.count || dsack)) {
    uint8_t max = (t->flags & TF_TS) ? 3 : 4;
    uint32_t l[4], r[4];
    uint8_t k = 0;
    if (dsack) { /* RFC 2883 4: the D-SACK block comes first, reported once */
      o->sack[k].left = t->dsack_left;
      o->sack[k].right = t->dsack_right;
      k++;
    }
    uint16_t n = mtcp_asm_sack_blocks(&t->ooo, t->rcv_nxt, l, r, (uint16_t)(max - k));
    for (uint16_t i = 0; i < n; i++, k++) {
      o->sack[k].left = l[i];
      o->sack[k].right = r[i];
    }
    o->sack_count = k;
  }
  size_t hlen = wire_tcp_header_len(&h);
  MICROTCP_ASSERT(hlen <= WIRE_TCP_MAX_HLEN && hlen % 4 == 0); /* header field ranges */
  MICROTCP_ASSERT(t->lport != 0 && t->rport != 0);
  if (hlen + s->len > room) {
    mtcp_frame_free(st, f);
    return false;
  }
  uint8_t *seg = frame_tail(f);
  h.src_port = t->lport;
  h.dst_port = t->rport;
  h.seq = s->seq;
  h.ack = (s->flags & WIRE_TCP_ACK) ? t->rcv_nxt : 0;
  h.flags = s->flags;
  h.window = window_field(st, t, s->flags);
  h.payload = seg + hlen;
  h.payload_len = s->len;
  if (s->len) {
    uint32_t got = mtcp_rb_peek(&t->sndbuf, s->data_off, seg + hlen, s->len);
    MICROTCP_ASSERT(got == s->len); /* the segment lies inside the send buffer */
    (void)got;
  }
  int n = wire_tcp_emit_header(st->cfg.ip, t->remote_ip, &h, seg, room);
  MICROTCP_ASSERT(n == (int)hlen);
  (void)n;
  frame_put(st, f, hlen + s->len);

  if (dsack) t->flags &= ~(uint32_t)TF_DSACK;
  if (t->flags & TF_RECOVERY) t->prr_out += s->len; /* RFC 6937 prr_out */
  if (s->flags & WIRE_TCP_ACK) {
    t->last_ack_sent = t->rcv_nxt;
    t->delack_bytes = 0;
    t->t_delack = 0;
    t->flags &= ~(uint32_t)TF_ACK_NOW;
  }
  t->segs_out++;
  st->ctr.tcp_segments_out++;
  segment_out(st, f, t->remote_ip, !(t->flags & TF_NO_DF));
  return true;
}

/* The sequence number of a bare ACK: the next new byte, SND.MAX, or the
 * right edge of the peer's window if that is lower (Linux's
 * tcp_acceptable_seq; Linux never moves its snd_nxt back). Not SND.NXT: an
 * RTO's go-back-N moves it back, below what the peer has received, and the
 * peer then drops the ACK as unacceptable, without taking its ACK field.
 * Two ends in that state each answered the other's ACKs with another one,
 * neither advancing (an ACK loop at wire speed in a swarm run; BSD has used
 * SND.MAX for bare ACKs for the same reason). */
static uint32_t bare_ack_seq(const struct tcb *t) {
  uint32_t edge = t->snd_una + t->snd_wnd;
  return seq_ge(edge, t->snd_max) ? t->snd_max : seq_max(edge, t->snd_nxt);
}

/* Send a bare ACK now (straight into the transmit queue). */
void mtcp_tcp_send_ack_now(struct microtcp_stack *st, struct tcb *t) {
  struct seg s = {bare_ack_seq(t), WIRE_TCP_ACK, 0, 0};
  if (!send_segment(st, t, &s)) {
    t->flags |= TF_ACK_NOW; /* no frame free: the output path sends it later */
    mtcp_tcb_want_output(st, t);
  }
}

void mtcp_tcp_send_rst(struct microtcp_stack *st, uint32_t rip, uint16_t lport, uint16_t rport,
                  uint32_t seq, uint32_t ack, bool with_ack) {
  struct frame *f = mtcp_frame_alloc(st, FRAME_HEADROOM_L4);
  if (!f) {
    st->ctr.drop_tx_queue_full++;
    return;
  }
  wire_tcp h;
  memset(&h, 0, sizeof h);
  h.src_port = lport;
  h.dst_port = rport;
  h.seq = seq;
  h.ack = with_ack ? ack : 0;
  h.flags = (uint8_t)(WIRE_TCP_RST | (with_ack ? WIRE_TCP_ACK : 0));
  int n = wire_tcp_emit_header(st->cfg.ip, rip, &h, frame_tail(f), frame_tailroom(st, f));
  MICROTCP_ASSERT(n == WIRE_TCP_HLEN);
  frame_put(st, f, (size_t)n);
  st->ctr.tcp_rst_out++;
  st->ctr.tcp_segments_out++;
  segment_out(st, f, rip, true);
}

/* ---- what to send --------------------------------------------------------------------------- */
static void note_sent(struct microtcp_stack *st, struct tcb *t, uint32_t seq, uint32_t seqlen,
                      uint32_t datalen) {
  uint32_t end = seq + seqlen;
  bool rexmit = seq_lt(seq, t->snd_max);
  if (rexmit) {
    if (t->undo_armed) mtcp_tcp_undo_note_rexmit(t, seq, end); /* D-SACK undo */
    t->retransmits++;
    st->ctr.tcp_retransmits++;
    mtcp_trace(st, MICROTCP_TRACE_TCP_RETRANSMIT, "tcp retransmit", mtcp_tcb_index(st, t), seq);
    if (t->flags & TF_RTT_TIMING) t->flags &= ~(uint32_t)TF_RTT_TIMING; /* Karn */
  } else if (seqlen && !(t->flags & TF_RTT_TIMING)) {
    t->flags |= TF_RTT_TIMING;
    t->rtt_seq = seq;
    t->rtt_start = st->now;
  }
  if (!rexmit) t->bytes_sent += datalen;
  if (datalen) t->last_data_sent_at = st->now;
  if (seqlen && tcb_txlog_on(t) && seq_ge(seq, t->snd_una))
    mtcp_txlog_sent(&t->txl, seq, end, t->snd_max, st->now);
  if (seqlen && t->cc.hs.state != HYSTART_OFF && t->cc.hs.state != HYSTART_DONE)
    mtcp_rttp_sent(&t->rttp, seq, end, t->snd_max, st->now);
  if (seq_gt(end, t->snd_nxt) && seq_ge(seq, t->snd_una) && seq_le(seq, t->snd_nxt))
    t->snd_nxt = end;
  if (seq_gt(end, t->snd_max)) t->snd_max = end;
  if (seqlen) {
    if (t->snd_una == seq || !t->unacked_since) {
      if (!t->unacked_since) t->unacked_since = st->now;
    }
    /* RFC 6298 5.1: start the timer if it is not running. */
    if (!t->t_rexmt || (t->flags & TF_PERSIST)) {
      t->flags &= ~(uint32_t)TF_PERSIST;
      t->t_rexmt = st->now + t->rto;
    }
    if (!rexmit && tcb_rack_on(t)) mtcp_rack_arm_tlp(st, t); /* RFC 8985 7.2 */
  }
}

static bool send_syn(struct microtcp_stack *st, struct tcb *t) {
  uint8_t flags = WIRE_TCP_SYN | (t->state == MICROTCP_SYN_RECEIVED ? WIRE_TCP_ACK : 0);
  struct seg s = {t->iss, flags, 0, 0};
  if (!send_segment(st, t, &s)) return false;
  t->flags &= ~(uint32_t)TF_SYN_NEEDED;
  if (seq_lt(t->iss, t->snd_max)) {
    t->retransmits++;
    st->ctr.tcp_retransmits++;
    t->flags &= ~(uint32_t)TF_RTT_TIMING;
  } else {
    t->flags |= TF_RTT_TIMING;
    t->rtt_seq = t->iss;
    t->rtt_start = st->now;
  }
  t->snd_nxt = t->iss + 1;
  if (seq_lt(t->snd_max, t->snd_nxt)) t->snd_max = t->snd_nxt;
  if (!t->t_rexmt) t->t_rexmt = st->now + t->rto;
  return true;
}

/* Send [seq, seq+len) of the send buffer, with FIN if it ends at fin_seq. */
static bool send_data(struct microtcp_stack *st, struct tcb *t, uint32_t seq, uint32_t len) {
  bool fin = (t->flags & TF_SHUT_WR) && seq + len == t->fin_seq;
  uint8_t flags = WIRE_TCP_ACK;
  if (len && seq + len == t->snd_buf_seq + t->sndbuf.len) flags |= WIRE_TCP_PSH;
  if (fin) flags |= WIRE_TCP_FIN;
  struct seg s = {seq, flags, seq - t->snd_buf_seq, len};
  if (!send_segment(st, t, &s)) return false;
  note_sent(st, t, seq, len + (fin ? 1u : 0u), len);
  if (fin && !(t->flags & TF_FIN_SENT)) {
    t->flags |= TF_FIN_SENT;
    if (t->state == MICROTCP_ESTABLISHED) mtcp_tcb_set_state(st, t, MICROTCP_FIN_WAIT_1);
    else if (t->state == MICROTCP_CLOSE_WAIT) mtcp_tcb_set_state(st, t, MICROTCP_LAST_ACK);
  }
  return true;
}

/* Bytes of data (not FIN) available from seq to the end of the buffer. */
static uint32_t data_after(const struct tcb *t, uint32_t seq) {
  uint32_t end = t->snd_buf_seq + t->sndbuf.len;
  return seq_lt(seq, end) ? end - seq : 0;
}

/* Retransmit one segment starting at seq (used for fast retransmit, partial
 * ACKs and SACK-based loss recovery). */
static bool retransmit_at(struct microtcp_stack *st, struct tcb *t, uint32_t seq, uint32_t max) {
  uint32_t len = MIN(data_after(t, seq), (uint32_t)t->mss);
  if (max && len > max) len = max;
  if (len == 0 && !((t->flags & TF_SHUT_WR) && seq == t->fin_seq)) return true; /* nothing */
  return send_data(st, t, seq, len);
}

static bool can_send_data_now(const struct tcb *t) {
  switch (t->state) {
  case MICROTCP_ESTABLISHED:
  case MICROTCP_CLOSE_WAIT:
  case MICROTCP_FIN_WAIT_1:
  case MICROTCP_CLOSING:
  case MICROTCP_LAST_ACK: return true;
  default: return false;
  }
}

/* The amount the congestion and peer windows allow beyond what is in flight. */
static uint32_t send_allowance(const struct tcb *t) {
  uint32_t flight = mtcp_tcp_flight(t);
  uint32_t cwnd = t->cc.cwnd;
  if ((t->flags & TF_RECOVERY) && (t->flags & TF_SACK)) {
    uint32_t pipe = mtcp_tcp_pipe(t);
    uint32_t c = cwnd > pipe ? cwnd - pipe : 0;
    uint32_t w = t->snd_wnd > flight ? t->snd_wnd - flight : 0;
    return MIN(c, w);
  }
  /* RFC 3042 limited transmit: on the first two duplicate ACKs, one new
   * segment each may go beyond cwnd (still within the peer's window). */
  if (!(t->flags & TF_RECOVERY) && t->dupacks > 0 && t->dupacks < 3)
    cwnd += (uint32_t)t->dupacks * t->mss;
  uint32_t wnd = MIN(cwnd, t->snd_wnd);
  return wnd > flight ? wnd - flight : 0;
}

/* RFC 6675 4 NextSeg() rules (3) and (4), when rule (1) found no lost
 * segment and rule (2) no new data: retransmit an unSACKed hole below the
 * highest SACKed byte even though IsLost() does not hold yet, else once per
 * recovery a "rescue" retransmission of the highest unSACKed segment.
 * Without them a partial ACK that leaves such a hole waits for the RTO. */
static int sack_rescue(struct microtcp_stack *st, struct tcb *t) {
  uint32_t pipe = mtcp_tcp_pipe(t);
  if (t->cc.cwnd < pipe + t->mss) return 0; /* RFC 6675 5 step (C): cwnd - pipe >= 1 SMSS */
  uint32_t seq, len;
  uint32_t from = seq_gt(t->high_rxt, t->snd_una) ? t->high_rxt : t->snd_una;
  if (mtcp_sb_next_unsacked(&t->sb, from, t->snd_una, t->mss, &seq, &len)) { /* rule (3) */
    if (!retransmit_at(st, t, seq, len)) return -1;
    t->high_rxt = seq + len;
    return 1;
  }
  /* Rule (4): "If HighACK > RescueRxt (or RescueRxt is undefined)". */
  if ((t->flags & TF_RESCUED) && !seq_gt(t->snd_una, t->rescue_rxt)) return 0;
  if (!mtcp_sb_highest_unsacked(&t->sb, t->snd_una, t->snd_max, t->mss, &seq, &len)) return 0;
  /* Not a segment this recovery already retransmitted (below HighRxt): the
   * rescue is for an unSACKed tail, not a second copy within one RTT. */
  if (seq_le(seq + len, t->high_rxt)) return 0;
  if (!retransmit_at(st, t, seq, len)) return -1;
  t->rescue_rxt = t->recover; /* RescueRxt = RecoveryPoint; HighRxt is not updated */
  t->flags |= TF_RESCUED;
  return 1;
}

/* RFC 8985 7.3: the PTO fired. Probe with one new segment if there is
 * unsent data and the peer's window has room, else with the last segment
 * sent; then the RTO is restarted. */
static int send_tlp(struct microtcp_stack *st, struct tcb *t) {
  t->flags &= ~(uint32_t)TF_TLP;
  if ((t->flags & TF_RECOVERY) || t->snd_una == t->snd_max) return 0;
  uint32_t flight = mtcp_tcp_flight(t);
  uint32_t room = t->snd_wnd > flight ? t->snd_wnd - flight : 0;
  uint32_t avail = data_after(t, t->snd_nxt);
  uint32_t seq, len;
  bool rexmit;
  if (avail && room && t->snd_nxt == t->snd_max) {
    seq = t->snd_nxt;
    len = MIN(MIN(avail, room), (uint32_t)t->mss);
    rexmit = false;
  } else {
    uint32_t data_end = seq_min(t->snd_buf_seq + t->sndbuf.len, t->snd_max);
    if (seq_gt(data_end, t->snd_una)) {
      len = MIN(data_end - t->snd_una, (uint32_t)t->mss);
      seq = data_end - len;
    } else {
      seq = t->snd_una; /* only the FIN is outstanding */
      len = 0;
    }
    rexmit = true;
  }
  if (!(rexmit ? retransmit_at(st, t, seq, len ? len : 0) : send_data(st, t, seq, len))) {
    t->flags |= TF_TLP;
    return -1;
  }
  t->rack.tlp_outstanding = true;
  t->rack.tlp_is_retrans = rexmit;
  t->rack.tlp_seq = seq;
  t->rack.tlp_end_seq = t->snd_max;
  t->t_tlp = 0;
  t->t_rexmt = st->now + t->rto;
  return 1;
}

/* New data (or a go-back-N resend after an RTO) at snd_nxt. */
static int try_send_new(struct microtcp_stack *st, struct tcb *t) {
  uint32_t avail = data_after(t, t->snd_nxt);
  bool fin_due = (t->flags & TF_SHUT_WR) && t->snd_nxt == t->fin_seq;
  if (avail == 0) {
    if (fin_due) return send_data(st, t, t->snd_nxt, 0) ? 1 : -1;
    return 0;
  }
  /* RFC 5681 4.1: after sending no data for longer than an RTO, start again
   * from the restart window RW = min(IW, cwnd). */
  if (t->snd_una == t->snd_max && t->last_data_sent_at &&
      st->now - t->last_data_sent_at > t->rto)
    mtcp_tcp_cc_restart_after_idle(&t->cc, (uint32_t)st->cfg.tcp_initial_cwnd * t->mss);
  uint32_t allow = send_allowance(t);
  uint32_t len = MIN(MIN(avail, allow), (uint32_t)t->mss);
  bool resend = seq_lt(t->snd_nxt, t->snd_max);
  if (len == 0) {
    /* RFC 9293 3.8.6.1: a zero window with data waiting starts the persist
     * timer (when nothing is in flight to elicit ACKs). */
    if (t->snd_wnd <= mtcp_tcp_flight(t) && t->snd_una == t->snd_nxt && !t->t_rexmt)
      mtcp_tcp_persist_start(st, t);
    return 0;
  }
  bool force = (t->flags & TF_FORCE) != 0;
  t->flags &= ~(uint32_t)TF_FORCE;
  if (len < t->mss && !resend && !force) {
    bool all_queued = len == avail;
    bool idle = t->snd_nxt == t->snd_una;
    bool nodelay = (t->flags & TF_NODELAY) != 0;
    /* RFC 9293 3.8.6.2.1 sender SWS avoidance + RFC 896 Nagle: send a short
     * segment only if it is all we have and nothing is in flight (or Nagle is
     * off), or it fills half the largest window the peer ever offered. */
    bool ok = (all_queued && (idle || nodelay || (t->flags & TF_SHUT_WR))) ||
              (len >= t->max_snd_wnd / 2 && (idle || nodelay));
    if (!ok) {
      if (t->snd_wnd <= mtcp_tcp_flight(t) + len && idle && !t->t_rexmt) mtcp_tcp_persist_start(st, t);
      return 0;
    }
  }
  return send_data(st, t, t->snd_nxt, len) ? 1 : -1;
}

/* One segment for t, if it has one due. Returns 1 if sent, 0 if nothing is
 * due, -1 if it could not be sent now (no frame). */
static int output_one(struct microtcp_stack *st, struct tcb *t) {
  if (t->state == MICROTCP_CLOSED || t->state == MICROTCP_LISTEN) return 0;
  if (t->flags & TF_SYN_NEEDED) return send_syn(st, t) ? 1 : -1;
  if (t->state == MICROTCP_SYN_SENT || t->state == MICROTCP_SYN_RECEIVED) {
    if (t->flags & TF_ACK_NOW) {
      t->flags &= ~(uint32_t)TF_ACK_NOW;
      if (t->state == MICROTCP_SYN_RECEIVED) return send_syn(st, t) ? 1 : -1;
    }
    return 0;
  }
  if (t->flags & (TF_KEEP_PROBE | TF_PROBE)) {
    /* RFC 1122 4.2.3.6 / RFC 9293 3.8.6.1: a segment with SEG.SEQ = SND.NXT-1
     * (already acknowledged, no data) makes the peer answer with an ACK
     * carrying its current window. */
    struct seg s = {t->snd_una - 1, WIRE_TCP_ACK, 0, 0};
    if (!send_segment(st, t, &s)) return -1;
    t->flags &= ~(uint32_t)(TF_KEEP_PROBE | TF_PROBE);
    return 1;
  }
  if (can_send_data_now(t)) {
    if (t->flags & TF_REXMIT_UNA) {
      t->flags &= ~(uint32_t)TF_REXMIT_UNA;
      if (!retransmit_at(st, t, t->snd_una, 0)) {
        t->flags |= TF_REXMIT_UNA;
        return -1;
      }
      if (seq_gt(t->snd_una + MIN(data_after(t, t->snd_una), (uint32_t)t->mss), t->high_rxt))
        t->high_rxt = t->snd_una + MIN(data_after(t, t->snd_una), (uint32_t)t->mss);
      return 1;
    }
    if ((t->flags & TF_RECOVERY) && (t->flags & TF_SACK)) {
      /* RFC 6675 5 (NextSeg rule 1): retransmit the first lost, unSACKed
       * segment while the pipe leaves room. */
      uint32_t pipe = mtcp_tcp_pipe(t);
      if (t->cc.cwnd >= pipe + t->mss) {
        uint32_t seq, len;
        uint32_t from = seq_gt(t->high_rxt, t->snd_una) ? t->high_rxt : t->snd_una;
        /* RFC 8985: with RACK the lost segments are the ones it marked. */
        bool found = tcb_rack_on(t) ? mtcp_rack_next_lost(t, &seq, &len)
                                    : mtcp_sb_next_lost(&t->sb, from, t->snd_una, t->mss, &seq, &len);
        if (found) {
          if (!retransmit_at(st, t, seq, len)) return -1;
          if (seq_gt(seq + len, t->high_rxt)) t->high_rxt = seq + len;
          return 1;
        }
      }
    }
    if (t->flags & TF_TLP) {
      int r = send_tlp(st, t);
      if (r != 0) return r;
    }
    int r = try_send_new(st, t);
    if (r != 0) return r;
    /* RFC 6675 rules (3)/(4); RACK's timer and TLP cover those cases. */
    if ((t->flags & TF_RECOVERY) && (t->flags & TF_SACK) && !tcb_rack_on(t)) {
      r = sack_rescue(st, t);
      if (r != 0) return r;
    }
  }
  /* Window update after the application read (receiver SWS rule) or a
   * pending ACK. */
  if (t->flags & TF_ACK_NOW) {
    struct seg s = {bare_ack_seq(t), WIRE_TCP_ACK, 0, 0};
    return send_segment(st, t, &s) ? 1 : -1;
  }
  return 0;
}

int mtcp_tcp_output_pending(struct microtcp_stack *st) {
  /* Visit each listed connection at most once per call. */
  uint32_t budget = st->tcp.tcbs_in_use + 1;
  while (budget--) {
    struct tcb *t = output_list_pop(st);
    if (!t) return 0;
    if (!t->in_use) continue;
    int r = output_one(st, t);
    if (r != 0) mtcp_tcb_want_output(st, t); /* sent (may have more) or blocked */
    if (r > 0) return 1;
    if (r < 0) return 0;
  }
  return 0;
}
