/*
 * TCP socket API (non-blocking) and connection-block management: pools,
 * handles, the connection hash, listen/accept/connect/send/recv/shutdown/close,
 * options and statistics.
 */
#include "tcp_int.h"

/* ---- memory ---------------------------------------------------------------------------- */
static uint32_t hash_buckets(const microtcp_config *cfg) {
  uint32_t n = 1;
  while (n < (uint32_t)cfg->max_tcp * 2u) n <<= 1;
  return n;
}

/* Slot-table entries of one connection block: its send and receive buffer. */
static size_t tcb_buf_slots(const microtcp_config *cfg) {
  return (size_t)mtcp_rb_slots(cfg->tcp_sndbuf, cfg->tcp_buf_chunk_size) +
         mtcp_rb_slots(cfg->tcp_rcvbuf, cfg->tcp_buf_chunk_size);
}

/* A pool smaller than the default (max_tcp x both buffers) is shared out:
 * one connection's receive window may claim at most an even share of the
 * pool (nchunks / blocks in use, at least one chunk), and windows never take
 * the last eighth of the unclaimed chunks (left for sends). Without this the
 * first connections' windows could claim every chunk for good (an
 * advertised window is never withdrawn) and starve every send and every
 * later window. At the default size or above nothing is limited, so
 * behaviour is that of dedicated buffers. */
static void rcv_share_update(struct microtcp_stack *st) {
  const microtcp_config *cfg = &st->cfg;
  struct chunk_pool *p = &st->tcp.pool;
  uint64_t per = (uint64_t)mtcp_rb_slots(cfg->tcp_rcvbuf, cfg->tcp_buf_chunk_size) +
                 mtcp_rb_slots(cfg->tcp_sndbuf, cfg->tcp_buf_chunk_size);
  if ((uint64_t)p->nchunks >= per * cfg->max_tcp) {
    p->rcv_share = 0xffffffffu;
    p->rcv_floor = 0;
    return;
  }
  uint32_t in_use = st->tcp.tcbs_in_use ? st->tcp.tcbs_in_use : 1;
  uint32_t share = p->nchunks / in_use;
  p->rcv_share = share < 1 ? 1 : share;
  p->rcv_floor = p->nchunks / 8;
}

int mtcp_tcp_init(struct microtcp_stack *st, struct carve *c) {
  const microtcp_config *cfg = &st->cfg;
  struct tcp_state *tcp = &st->tcp;
  uint32_t nb = hash_buckets(cfg);
  tcp->tcbs = mtcp_carve_take(c, sizeof(struct tcb) * cfg->max_tcp);
  tcp->listeners = mtcp_carve_take(c, sizeof(struct tcp_listener) * cfg->max_listeners);
  uint8_t *chunks = mtcp_carve_take_raw(c, (size_t)cfg->tcp_buf_chunks * cfg->tcp_buf_chunk_size);
  tcp->buf_slots = mtcp_carve_take(c, sizeof(uint32_t) * tcb_buf_slots(cfg) * cfg->max_tcp);
  tcp->ooo_mem = mtcp_carve_take(c, sizeof(struct asm_range) * cfg->tcp_ooo_ranges * cfg->max_tcp);
  tcp->hash = mtcp_carve_take(c, sizeof(uint16_t) * nb);
  if (c->base == NULL) return MICROTCP_OK; /* footprint pass */
  tcp->hash_mask = nb - 1;
  mtcp_cpool_init(&tcp->pool, chunks, cfg->tcp_buf_chunks, cfg->tcp_buf_chunk_size);
  tcp->pool_waiters = 0;
  rcv_share_update(st);
  for (uint32_t i = 0; i < nb; i++) tcp->hash[i] = TCP_NONE;
  struct idxq_pool pool = mtcp_tcb_pool(st);
  idxq_init(&tcp->free_q);
  idxq_init(&tcp->out_q);
  for (uint16_t i = 0; i < cfg->max_tcp; i++) {
    tcp->tcbs[i].state = MICROTCP_CLOSED;
    idxq_push_tail(&tcp->free_q, &pool, i); /* block 0 is taken first */
  }
  return MICROTCP_OK;
}

/* ---- handles ----------------------------------------------------------------------------- */
uint16_t mtcp_tcb_index(const struct microtcp_stack *st, const struct tcb *t) {
  return (uint16_t)(t - st->tcp.tcbs);
}

_Static_assert(TCP_NONE == IDXQ_NONE, "tcb links are idxq links");

struct idxq_pool mtcp_tcb_pool(const struct microtcp_stack *st) {
  struct idxq_pool p = {(uint8_t *)st->tcp.tcbs, sizeof(struct tcb), offsetof(struct tcb, next),
                        st->cfg.max_tcp};
  return p;
}

struct idxq_pool mtcp_tcb_out_pool(const struct microtcp_stack *st) {
  struct idxq_pool p = {(uint8_t *)st->tcp.tcbs, sizeof(struct tcb),
                        offsetof(struct tcb, out_next), st->cfg.max_tcp};
  return p;
}

int mtcp_tcb_handle(const struct microtcp_stack *st, const struct tcb *t) {
  return handle_make(HK_TCP, t->gen, mtcp_tcb_index(st, t));
}

struct tcb *mtcp_tcb_from_handle(const struct microtcp_stack *st, int h) {
  if (handle_kind(h) != HK_TCP) return NULL;
  uint16_t i = handle_index(h);
  if (i >= st->cfg.max_tcp) return NULL;
  struct tcb *t = &st->tcp.tcbs[i];
  if (!t->in_use || t->gen != handle_gen(h) || t->owner != OWN_APP) return NULL;
  return t;
}

static struct tcp_listener *listener_from_handle(const struct microtcp_stack *st, int h) {
  if (handle_kind(h) != HK_LISTENER) return NULL;
  uint16_t i = handle_index(h);
  if (i >= st->cfg.max_listeners) return NULL;
  struct tcp_listener *l = &st->tcp.listeners[i];
  if (!l->in_use || l->gen != handle_gen(h)) return NULL;
  return l;
}

static int listener_handle(const struct microtcp_stack *st, const struct tcp_listener *l) {
  return handle_make(HK_LISTENER, l->gen, (uint16_t)(l - st->tcp.listeners));
}

void mtcp_tcb_notify(struct microtcp_stack *st, struct tcb *t) {
  if (t->owner == OWN_APP) mtcp_notify(st, mtcp_tcb_handle(st, t));
}

/* ---- connection hash (remote ip, remote port, local port) ---------------------------------- */
static uint32_t tuple_hash(const struct microtcp_stack *st, uint32_t rip, uint16_t rport,
                           uint16_t lport) {
  uint32_t h = rip * 2654435761u ^ ((uint32_t)rport << 16 | lport) * 2246822519u;
  return (h ^ (h >> 15)) & st->tcp.hash_mask;
}

void mtcp_tcb_hash_insert(struct microtcp_stack *st, struct tcb *t) {
  uint32_t b = tuple_hash(st, t->remote_ip, t->rport, t->lport);
  t->hnext = st->tcp.hash[b];
  st->tcp.hash[b] = mtcp_tcb_index(st, t);
}

static void tcb_hash_remove(struct microtcp_stack *st, struct tcb *t) {
  uint32_t b = tuple_hash(st, t->remote_ip, t->rport, t->lport);
  uint16_t *link = &st->tcp.hash[b];
  uint16_t me = mtcp_tcb_index(st, t);
  while (*link != TCP_NONE) {
    if (*link == me) {
      *link = t->hnext;
      return;
    }
    link = &st->tcp.tcbs[*link].hnext;
  }
}

struct tcb *mtcp_tcb_lookup(struct microtcp_stack *st, uint32_t rip, uint16_t rport, uint16_t lport) {
  uint16_t i = st->tcp.hash[tuple_hash(st, rip, rport, lport)];
  while (i != TCP_NONE) {
    struct tcb *t = &st->tcp.tcbs[i];
    if (t->remote_ip == rip && t->rport == rport && t->lport == lport) return t;
    i = t->hnext;
  }
  return NULL;
}

struct tcp_listener *mtcp_listener_by_port(struct microtcp_stack *st, uint16_t port) {
  for (uint16_t i = 0; i < st->cfg.max_listeners; i++) {
    struct tcp_listener *l = &st->tcp.listeners[i];
    if (l->in_use && l->port == port) return l;
  }
  return NULL;
}

bool mtcp_tcp_port_in_use(const struct microtcp_stack *st, uint16_t port, const void *ctx) {
  (void)ctx;
  for (uint16_t i = 0; i < st->cfg.max_listeners; i++)
    if (st->tcp.listeners[i].in_use && st->tcp.listeners[i].port == port) return true;
  for (uint16_t i = 0; i < st->cfg.max_tcp; i++)
    if (st->tcp.tcbs[i].in_use && st->tcp.tcbs[i].lport == port) return true;
  return false;
}

/* ---- socket options ---------------------------------------------------------------------- */
void mtcp_tcp_sockopts_default(const microtcp_config *cfg, struct tcp_sockopts *o, uint32_t *flags) {
  memset(o, 0, sizeof *o);
  o->keepidle_us = cfg->tcp_keepidle_us;
  o->keepintvl_us = cfg->tcp_keepintvl_us;
  o->user_timeout_us = cfg->tcp_user_timeout_us;
  o->sndbuf_lim = cfg->tcp_sndbuf;
  o->rcvbuf_lim = cfg->tcp_rcvbuf;
  o->keepcnt = cfg->tcp_keepcnt;
  o->cc_algo = cfg->tcp_cc;
  o->hystart = cfg->tcp_hystart;
  o->dsack_undo = cfg->tcp_dsack_undo;
  o->rack = cfg->tcp_rack;
  o->prr = cfg->tcp_prr;
  *flags = (*flags & ~(uint32_t)TCP_OPT_FLAGS) | (cfg->tcp_nodelay ? (uint32_t)TF_NODELAY : 0u);
}

/* ---- allocation ---------------------------------------------------------------------------- */
/* unanswered: only blocks whose retransmission timer fired (backoff > 0). */
static struct tcb *oldest_in_state(struct microtcp_stack *st, uint8_t state, bool unanswered) {
  struct tcb *best = NULL;
  for (uint16_t i = 0; i < st->cfg.max_tcp; i++) {
    struct tcb *t = &st->tcp.tcbs[i];
    if (t->in_use && t->state == state && t->owner != OWN_APP && (!unanswered || t->backoff > 0) &&
        (!best || t->created_at < best->created_at))
      best = t;
  }
  return best;
}

/* ---- pool pressure (issue 13: connection-slot exhaustion) ------------------------------- */
/* Connections one remote address may hold (passive opens): cfg.tcp_max_per_peer,
 * 0 = half the pool (at least 1). */
static uint32_t peer_cap(const struct microtcp_stack *st) {
  uint32_t cap = st->cfg.tcp_max_per_peer ? st->cfg.tcp_max_per_peer : st->cfg.max_tcp / 2u;
  return MAX(cap, 1u);
}

bool mtcp_tcp_peer_at_limit(const struct microtcp_stack *st, uint32_t rip) {
  uint32_t cap = peer_cap(st);
  if (st->tcp.tcbs_in_use < cap) return false; /* cheap: nobody can be at the cap */
  uint32_t n = 0;
  for (uint16_t i = 0; i < st->cfg.max_tcp; i++) {
    const struct tcb *t = &st->tcp.tcbs[i];
    /* TIME-WAIT blocks do not count: a new SYN may take them over anyway */
    if (t->in_use && t->remote_ip == rip && t->state != MICROTCP_TIME_WAIT &&
        t->state != MICROTCP_CLOSED && ++n >= cap)
      return true;
  }
  return false;
}

/* The connection that holds a block longest without progress (no new data
 * acknowledged or received for cfg.tcp_evict_stalled_us: a zero window that
 * never opens, an idle or slow-read peer), or NULL. Blocks no application
 * holds (orphans, connections nobody accepted yet) go first: they free at
 * once. 0 disables this. */
static struct tcb *most_stalled(struct microtcp_stack *st) {
  uint64_t limit = st->cfg.tcp_evict_stalled_us;
  if (limit == 0) return NULL;
  struct tcb *best = NULL;
  for (uint16_t i = 0; i < st->cfg.max_tcp; i++) {
    struct tcb *t = &st->tcp.tcbs[i];
    if (!t->in_use || !tcb_synchronized(t) || t->state == MICROTCP_TIME_WAIT) continue;
    if (st->now - t->progress_at < limit) continue;
    if (!best || (t->owner != OWN_APP && best->owner == OWN_APP) ||
        ((t->owner == OWN_APP) == (best->owner == OWN_APP) && t->progress_at < best->progress_at))
      best = t;
  }
  return best;
}

static void tcb_reset_and_free(struct microtcp_stack *st, struct tcb *t);

bool mtcp_tcp_pool_has_room(const struct microtcp_stack *st) {
  if (st->tcp.free_q.len) return true;
  for (uint16_t i = 0; i < st->cfg.max_tcp; i++)
    if (st->tcp.tcbs[i].in_use && st->tcp.tcbs[i].state == MICROTCP_TIME_WAIT) return true;
  return false;
}

bool microtcp_tcp_pool_full(const microtcp_stack *st) { return !mtcp_tcp_pool_has_room(st); }

void mtcp_tcp_acceptq_push(struct microtcp_stack *st, struct tcp_listener *l, struct tcb *t) {
  uint16_t me = mtcp_tcb_index(st, t), li = (uint16_t)(l - st->tcp.listeners);
  struct idxq_pool pool = mtcp_tcb_pool(st);
  t->flags |= TF_IN_ACCEPTQ;
  idxq_push_tail(&l->acc, &pool, me);
  mtcp_notify(st, handle_make(HK_LISTENER, l->gen, li));
}

struct tcb *mtcp_tcb_alloc(struct microtcp_stack *st, enum tcb_evict evict) {
  bool may_evict_half_open = evict != EVICT_NONE;
  struct tcp_state *tcp = &st->tcp;
  if (tcp->free_q.len == 0) {
    /* Pool exhausted: reuse the oldest TIME_WAIT block (its only job is to
     * absorb stray segments), then, for passive opens, the oldest half-open
     * connection (SYN-flood protection by eviction), then the connection
     * stalled longest (pressure: peers holding blocks without progress must
     * not lock others out). */
    struct tcb *victim = oldest_in_state(st, MICROTCP_TIME_WAIT, false);
    if (!victim && may_evict_half_open) {
      victim = oldest_in_state(st, MICROTCP_SYN_RECEIVED, evict == EVICT_UNANSWERED_HALF_OPEN);
      if (victim) st->ctr.tcp_half_open_evicted++;
    }
    if (!victim && may_evict_half_open && (victim = most_stalled(st)) != NULL) {
      /* RFC 9293 3.10.4 ABORT: the peer learns by a RST; an application that
       * holds it reads ECONNABORTED and frees the block by closing it. */
      st->ctr.tcp_stalled_evicted++;
      if (victim->owner == OWN_APP) {
        mtcp_tcp_send_rst(st, victim->remote_ip, victim->lport, victim->rport, victim->snd_nxt,
                     victim->rcv_nxt, true);
        mtcp_tcb_terminate(st, victim, MICROTCP_ECONNABORTED);
      } else {
        tcb_reset_and_free(st, victim);
      }
      victim = NULL;
      if (tcp->free_q.len == 0) return NULL;
    }
    if (victim) mtcp_tcb_terminate(st, victim, MICROTCP_ECONNABORTED);
    if (tcp->free_q.len == 0) return NULL;
  }
  struct idxq_pool pool = mtcp_tcb_pool(st);
  struct tcb *t = &tcp->tcbs[idxq_pop_head(&tcp->free_q, &pool)];
  MICROTCP_ASSERT(!t->in_use && tcp->tcbs_in_use < st->cfg.max_tcp);
  mtcp_tcb_touch(st, t);
  uint16_t gen = (uint16_t)((t->gen + 1) & 0x0fff);
  uint16_t idx = mtcp_tcb_index(st, t);
  memset(t, 0, sizeof *t);
  t->gen = gen;
  t->in_use = true;
  t->next = t->hnext = t->out_next = t->listener = TCP_NONE;
  t->created_at = st->now;
  t->progress_at = st->now;
  /* Buffers take chunks from the shared pool as data comes; block idx owns
   * only its slot tables. */
  uint32_t *tab = st->tcp.buf_slots + tcb_buf_slots(&st->cfg) * idx;
  mtcp_rb_init(&t->sndbuf, &st->tcp.pool, tab, st->cfg.tcp_sndbuf);
  mtcp_rb_init(&t->rcvbuf, &st->tcp.pool, tab + t->sndbuf.nslots, st->cfg.tcp_rcvbuf);
  mtcp_asm_init(&t->ooo, st->tcp.ooo_mem + (size_t)st->cfg.tcp_ooo_ranges * idx,
           st->cfg.tcp_ooo_ranges);
  mtcp_tcp_sockopts_default(&st->cfg, &t->opt, &t->flags);
  tcp->tcbs_in_use++;
  rcv_share_update(st);
  return t;
}

static void output_list_remove(struct microtcp_stack *st, struct tcb *t) {
  if (!(t->flags & TF_OUTLISTED)) return;
  struct idxq_pool pool = mtcp_tcb_out_pool(st);
  bool found = idxq_remove(&st->tcp.out_q, &pool, mtcp_tcb_index(st, t));
  MICROTCP_ASSERT(found); /* TF_OUTLISTED: it is on the list */
  if (!found) return;
  t->flags &= ~(uint32_t)TF_OUTLISTED;
}

static void acceptq_remove(struct microtcp_stack *st, struct tcb *t) {
  if (!(t->flags & TF_IN_ACCEPTQ) || t->listener == TCP_NONE) return;
  struct tcp_listener *l = &st->tcp.listeners[t->listener];
  struct idxq_pool pool = mtcp_tcb_pool(st);
  bool found = idxq_remove(&l->acc, &pool, mtcp_tcb_index(st, t));
  MICROTCP_ASSERT(found); /* TF_IN_ACCEPTQ: it is on the queue */
  if (!found) return;
  t->flags &= ~(uint32_t)TF_IN_ACCEPTQ;
}

void mtcp_tcb_free(struct microtcp_stack *st, struct tcb *t) {
  MICROTCP_ASSERT(t->in_use && st->tcp.tcbs_in_use > 0);
  mtcp_tcb_touch(st, t);
  if (t->owner == OWN_LISTENER && t->listener != TCP_NONE) {
    struct tcp_listener *l = &st->tcp.listeners[t->listener];
    if (t->flags & TF_IN_ACCEPTQ)
      acceptq_remove(st, t);
    else if (l->half_open)
      l->half_open--;
  }
  output_list_remove(st, t);
  tcb_hash_remove(st, t);
  if (t->flags & TF_POOL_WAIT) st->tcp.pool_waiters--;
  bool had_chunks = t->sndbuf.claims || t->rcvbuf.claims;
  mtcp_rb_release(&t->sndbuf);
  mtcp_rb_release(&t->rcvbuf);
  uint16_t gen = t->gen;
  memset(t, 0, sizeof *t);
  t->gen = (uint16_t)((gen + 1) & 0x0fff); /* stale handles die here */
  t->state = MICROTCP_CLOSED;
  t->owner = OWN_ORPHAN;
  t->hnext = t->out_next = t->listener = TCP_NONE;
  struct idxq_pool pool = mtcp_tcb_pool(st);
  idxq_push_head(&st->tcp.free_q, &pool, mtcp_tcb_index(st, t)); /* LIFO: reused first */
  st->tcp.tcbs_in_use--;
  rcv_share_update(st);
  if (had_chunks) mtcp_tcp_pool_wake(st);
}

void mtcp_tcp_pool_wake(struct microtcp_stack *st) {
  if (st->tcp.pool_waiters == 0 || mtcp_cpool_unclaimed(&st->tcp.pool) == 0) return;
  /* Rare (the pool ran dry): one pass over the blocks, each waiter once. */
  for (uint16_t i = 0; i < st->cfg.max_tcp && st->tcp.pool_waiters; i++) {
    struct tcb *t = &st->tcp.tcbs[i];
    if (!t->in_use || !(t->flags & TF_POOL_WAIT)) continue;
    t->flags &= ~(uint32_t)TF_POOL_WAIT;
    st->tcp.pool_waiters--;
    mtcp_tcb_notify(st, t); /* a blocked sender may write again */
    /* A window held back by the pool may open: tell the peer. */
    uint32_t advertised = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
    if (tcb_synchronized(t) && !(t->flags & TF_FIN_RCVD) && mtcp_tcp_rcv_window(t) > advertised) {
      t->flags |= TF_ACK_NOW;
      mtcp_tcb_want_output(st, t);
    }
  }
}

void mtcp_tcp_pool_wait(struct microtcp_stack *st, struct tcb *t) {
  if (t->flags & TF_POOL_WAIT) return;
  t->flags |= TF_POOL_WAIT;
  st->tcp.pool_waiters++;
}

void mtcp_tcb_set_state(struct microtcp_stack *st, struct tcb *t, uint8_t state) {
  if (t->state == state) return;
  mtcp_trace(st, MICROTCP_TRACE_TCP_STATE, "tcp state", mtcp_tcb_index(st, t),
        (uint32_t)t->state << 8 | state);
  t->state = state;
  /* No more data can arrive: the window's reserved chunks go back to the
   * pool (the bytes buffered stay until read). */
  if (state == MICROTCP_CLOSE_WAIT || state == MICROTCP_CLOSING || state == MICROTCP_LAST_ACK ||
      state == MICROTCP_TIME_WAIT || state == MICROTCP_CLOSED)
    mtcp_rb_unreserve(&t->rcvbuf);
}

void mtcp_tcb_terminate(struct microtcp_stack *st, struct tcb *t, int err) {
  mtcp_tcb_touch(st, t);
  mtcp_tcb_set_state(st, t, MICROTCP_CLOSED);
  t->t_rexmt = t->t_delack = t->t_keep = t->t_2msl = t->t_reorder = t->t_tlp = 0;
  output_list_remove(st, t);
  tcb_hash_remove(st, t);
  t->hnext = TCP_NONE;
  if (err) {
    t->err = (int16_t)err;
    t->close_reason = (int16_t)err;
  }
  if (t->owner == OWN_APP) {
    mtcp_tcb_notify(st, t); /* the application reads the outcome, then closes */
  } else {
    mtcp_tcb_free(st, t);
  }
}

uint32_t mtcp_tcp_isn(const struct microtcp_stack *st, uint32_t rip, uint16_t rport, uint16_t lport) {
  /* RFC 6528 3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey),
   * M a 4 µs timer, F a keyed PRF (SipHash). */
  uint8_t key[12];
  wire_put32(key, st->cfg.ip);
  wire_put16(key + 4, lport);
  wire_put32(key + 6, rip);
  wire_put16(key + 10, rport);
  return (uint32_t)(st->now / 4) + (uint32_t)mtcp_prf(st, key, sizeof key);
}

void mtcp_tcb_setup(struct microtcp_stack *st, struct tcb *t, uint32_t rip, uint16_t rport,
               uint16_t lport) {
  t->remote_ip = rip;
  t->rport = rport;
  t->lport = lport;
  t->iss = mtcp_tcp_isn(st, rip, rport, lport);
  t->snd_una = t->snd_nxt = t->snd_max = t->iss;
  t->snd_buf_seq = t->iss + 1;
  t->rto = st->cfg.tcp_rto_initial_us;
  t->rcv_wscale = st->cfg.tcp_wscale == MICROTCP_WSCALE_OFF ? 0 : st->cfg.tcp_wscale;
  uint8_t key[13];
  memcpy(key, "ts", 2);
  wire_put32(key + 2, rip);
  wire_put16(key + 6, rport);
  wire_put16(key + 8, lport);
  key[10] = key[11] = key[12] = 0;
  t->ts_offset = (uint32_t)mtcp_prf(st, key, sizeof key); /* RFC 7323 5.4: per-connection offset */
  t->last_rcv_at = st->now;
  mtcp_tcb_hash_insert(st, t);
}

/* ---- API: listen / accept ------------------------------------------------------------------ */
static int api_listen(microtcp_stack *st, uint64_t now, uint16_t port, int backlog) {
  if (now > st->now) st->now = now;
  if (port == 0 || backlog < 1 || backlog > 1024) return MICROTCP_EINVAL;
  if (mtcp_tcp_port_in_use(st, port, NULL)) return MICROTCP_EADDRINUSE;
  for (uint16_t i = 0; i < st->cfg.max_listeners; i++) {
    struct tcp_listener *l = &st->tcp.listeners[i];
    if (l->in_use) continue;
    uint16_t gen = (uint16_t)((l->gen + 1) & 0x0fff);
    memset(l, 0, sizeof *l);
    l->gen = gen;
    l->in_use = true;
    l->port = port;
    l->backlog = (uint16_t)backlog;
    idxq_init(&l->acc);
    mtcp_tcp_sockopts_default(&st->cfg, &l->opt, &l->flags);
    st->tcp.listeners_in_use++;
    return listener_handle(st, l);
  }
  return MICROTCP_ENOMEM;
}

static int api_accept(microtcp_stack *st, uint64_t now, int listener, microtcp_endpoint *peer) {
  if (now > st->now) st->now = now;
  struct tcp_listener *l = listener_from_handle(st, listener);
  if (!l) return MICROTCP_EBADF;
  if (l->acc.len == 0) return MICROTCP_EAGAIN;
  struct tcb *t = &st->tcp.tcbs[l->acc.head];
  acceptq_remove(st, t);
  t->owner = OWN_APP;
  t->listener = TCP_NONE;
  if (peer) {
    peer->ip = t->remote_ip;
    peer->port = t->rport;
  }
  st->ctr.tcp_conns_accepted++;
  return mtcp_tcb_handle(st, t);
}

/* ---- API: connect ---------------------------------------------------------------------------- */
static int api_connect(microtcp_stack *st, uint64_t now, uint32_t ip, uint16_t port,
                       uint16_t local_port) {
  if (now > st->now) st->now = now;
  if (port == 0 || ip == 0 || mtcp_ipv4_is_martian_src(st, ip) || ip == st->cfg.ip)
    return MICROTCP_EINVAL;
  if (mtcp_ipv4_route(st, ip) == 0) return MICROTCP_ENETUNREACH;
  if (local_port == 0) {
    int p = mtcp_ephemeral_port(st, WIRE_IP_PROTO_TCP, ip, port, mtcp_tcp_port_in_use, NULL);
    if (p < 0) return p;
    local_port = (uint16_t)p;
  } else if (mtcp_tcb_lookup(st, ip, port, local_port) || mtcp_listener_by_port(st, local_port)) {
    return MICROTCP_EADDRINUSE;
  }
  struct tcb *t = mtcp_tcb_alloc(st, EVICT_NONE);
  if (!t) return MICROTCP_ENOMEM;
  t->owner = OWN_APP;
  mtcp_tcb_setup(st, t, ip, port, local_port);
  mtcp_tcb_set_state(st, t, MICROTCP_SYN_SENT);
  t->flags |= TF_SYN_NEEDED;
  st->ctr.tcp_conns_opened++;
  mtcp_tcb_want_output(st, t);
  return mtcp_tcb_handle(st, t);
}

/* ---- API: data ----------------------------------------------------------------------------------- */
static int api_send(microtcp_stack *st, uint64_t now, int h, const void *data, size_t len) {
  if (now > st->now) st->now = now;
  struct tcb *t = mtcp_tcb_from_handle(st, h);
  if (!t) return MICROTCP_EBADF;
  if (data == NULL && len) return MICROTCP_EINVAL;
  if (t->err) return t->err;
  if (t->flags & TF_SHUT_WR) return MICROTCP_EPIPE;
  switch (t->state) {
  case MICROTCP_SYN_SENT:
  case MICROTCP_SYN_RECEIVED:
  case MICROTCP_ESTABLISHED:
  case MICROTCP_CLOSE_WAIT: break;
  case MICROTCP_CLOSED: return t->close_reason ? t->close_reason : MICROTCP_ENOTCONN;
  default: return MICROTCP_EPIPE;
  }
  uint32_t space = t->sndbuf.len < t->opt.sndbuf_lim ? t->opt.sndbuf_lim - t->sndbuf.len : 0;
  if (space == 0) return MICROTCP_EAGAIN;
  if (len > 0x7fffffff) len = 0x7fffffff;
  uint32_t want = (uint32_t)MIN((size_t)space, len);
  uint32_t n = mtcp_rb_write(&t->sndbuf, data, want);
  if (n < want) { /* the shared pool ran dry: what was queued stays queued */
    st->ctr.tcp_bufpool_send_blocked++;
    mtcp_tcp_pool_wait(st, t);
  }
  if (n == 0) return len ? MICROTCP_EAGAIN : 0;
  mtcp_tcb_want_output(st, t);
  return (int)n;
}

static int api_recv(microtcp_stack *st, uint64_t now, int h, void *buf, size_t cap) {
  if (now > st->now) st->now = now;
  struct tcb *t = mtcp_tcb_from_handle(st, h);
  if (!t) return MICROTCP_EBADF;
  if (buf == NULL && cap) return MICROTCP_EINVAL;
  if (t->rcvbuf.len) {
    uint32_t old_wnd = mtcp_tcp_rcv_window(t);
    if (cap > 0x7fffffff) cap = 0x7fffffff;
    uint32_t n = mtcp_rb_read(&t->rcvbuf, buf, (uint32_t)MIN(cap, (size_t)t->rcvbuf.len));
    if (t->ooo.count == 0) mtcp_rb_trim(&t->rcvbuf); /* chunks back (claims stay) */
    if (t->flags & TF_FIN_RCVD) mtcp_rb_unreserve(&t->rcvbuf); /* no more data will come */
    mtcp_tcp_pool_wake(st);
    /* RFC 9293 3.8.6.2.2 (receiver SWS avoidance): announce the opened window
     * once it grew by min(half the buffer, one MSS) beyond what we advertised
     * - and, as Linux (tcp_cleanup_rbuf), only when that at least doubles it:
     * while the peer still has half the window, the ACKs its data draws
     * carry the new edge anyway. (An update after every read of two segments
     * doubled the frames on a bulk transfer's return path.) */
    uint32_t wnd = mtcp_tcp_rcv_window(t);
    uint32_t advertised = t->rcv_adv - t->rcv_nxt;
    uint32_t thresh = MIN(t->opt.rcvbuf_lim / 2, (uint32_t)st->cfg.tcp_mss);
    if (tcb_synchronized(t) && !(t->flags & TF_FIN_RCVD) && wnd > old_wnd &&
        (wnd >= advertised + thresh || advertised == 0) && wnd >= 2u * advertised) {
      t->flags |= TF_ACK_NOW;
      mtcp_tcb_want_output(st, t);
    }
    return (int)n;
  }
  if (t->flags & TF_FIN_RCVD) return 0;
  if (t->err) {
    int e = t->err;
    return e;
  }
  if (t->state == MICROTCP_CLOSED) return t->close_reason ? t->close_reason : 0;
  return MICROTCP_EAGAIN;
}

/* MSG_PEEK: the same bytes microtcp_tcp_recv would return, left in the buffer
 * (no window update, since nothing was consumed). */
static int api_peek(microtcp_stack *st, uint64_t now, int h, void *buf, size_t cap) {
  if (now > st->now) st->now = now;
  struct tcb *t = mtcp_tcb_from_handle(st, h);
  if (!t) return MICROTCP_EBADF;
  if (buf == NULL && cap) return MICROTCP_EINVAL;
  if (t->rcvbuf.len) {
    if (cap > 0x7fffffff) cap = 0x7fffffff;
    return (int)mtcp_rb_peek(&t->rcvbuf, 0, buf, (uint32_t)MIN(cap, (size_t)t->rcvbuf.len));
  }
  if (t->flags & TF_FIN_RCVD) return 0;
  if (t->err) return t->err;
  if (t->state == MICROTCP_CLOSED) return t->close_reason ? t->close_reason : 0;
  return MICROTCP_EAGAIN;
}

/* ---- API: closing -------------------------------------------------------------------------------- */
static int api_shutdown(microtcp_stack *st, uint64_t now, int h) {
  if (now > st->now) st->now = now;
  struct tcb *t = mtcp_tcb_from_handle(st, h);
  if (!t) return MICROTCP_EBADF;
  if (t->flags & TF_SHUT_WR) return MICROTCP_OK;
  switch (t->state) {
  case MICROTCP_SYN_SENT:
  case MICROTCP_SYN_RECEIVED:
  case MICROTCP_ESTABLISHED:
  case MICROTCP_CLOSE_WAIT: break;
  default: return MICROTCP_ENOTCONN;
  }
  t->flags |= TF_SHUT_WR;
  t->fin_seq = t->snd_buf_seq + t->sndbuf.len;
  /* The state moves when the FIN is actually sent (tcp_output.c), so a FIN
   * queued behind data or before the handshake completes stays correct. */
  mtcp_tcb_want_output(st, t);
  return MICROTCP_OK;
}

static void tcb_reset_and_free(struct microtcp_stack *st, struct tcb *t) {
  if (tcb_synchronized(t) || t->state == MICROTCP_SYN_RECEIVED) {
    /* RFC 9293 3.10.4 ABORT: send a reset with SEQ = SND.NXT. */
    mtcp_tcp_send_rst(st, t->remote_ip, t->lport, t->rport, t->snd_nxt, t->rcv_nxt, true);
  }
  /* The owner stays as it is: mtcp_tcb_free takes a listener's block off its
   * accept queue (or half-open count) by it. */
  if (t->state != MICROTCP_CLOSED) mtcp_tcb_set_state(st, t, MICROTCP_CLOSED);
  mtcp_tcb_free(st, t);
}

static int listener_close(struct microtcp_stack *st, struct tcp_listener *l) {
  uint16_t li = (uint16_t)(l - st->tcp.listeners);
  for (uint16_t i = 0; i < st->cfg.max_tcp; i++) {
    struct tcb *t = &st->tcp.tcbs[i];
    if (t->in_use && t->owner == OWN_LISTENER && t->listener == li) tcb_reset_and_free(st, t);
  }
  l->in_use = false;
  l->gen = (uint16_t)((l->gen + 1) & 0x0fff);
  st->tcp.listeners_in_use--;
  return MICROTCP_OK;
}

static int api_close(microtcp_stack *st, uint64_t now, int h) {
  if (now > st->now) st->now = now;
  struct tcp_listener *l = listener_from_handle(st, h);
  if (l) return listener_close(st, l);
  struct tcb *t = mtcp_tcb_from_handle(st, h);
  if (!t) return MICROTCP_EBADF;
  switch (t->state) {
  case MICROTCP_CLOSED:
  case MICROTCP_SYN_SENT:
    t->owner = OWN_ORPHAN;
    mtcp_tcb_set_state(st, t, MICROTCP_CLOSED);
    mtcp_tcb_free(st, t);
    return MICROTCP_OK;
  default: break;
  }
  /* RFC 9293 3.10.4 / RFC 2525 2.17: closing with unread data resets. */
  if (t->rcvbuf.len || (t->flags & TF_LINGER0)) {
    tcb_reset_and_free(st, t);
    return MICROTCP_OK;
  }
  t->owner = OWN_ORPHAN;
  if (t->state == MICROTCP_TIME_WAIT) return MICROTCP_OK;
  if (!(t->flags & TF_SHUT_WR) && t->state != MICROTCP_FIN_WAIT_1 &&
      t->state != MICROTCP_FIN_WAIT_2 && t->state != MICROTCP_CLOSING &&
      t->state != MICROTCP_LAST_ACK) {
    t->flags |= TF_SHUT_WR;
    t->fin_seq = t->snd_buf_seq + t->sndbuf.len;
  }
  if (t->state == MICROTCP_FIN_WAIT_2 && !t->t_2msl)
    t->t_2msl = st->now + TCP_FIN_WAIT_2_TIMEOUT_US;
  mtcp_tcb_want_output(st, t);
  return MICROTCP_OK;
}

static int api_abort(microtcp_stack *st, uint64_t now, int h) {
  if (now > st->now) st->now = now;
  struct tcp_listener *l = listener_from_handle(st, h);
  if (l) return listener_close(st, l);
  struct tcb *t = mtcp_tcb_from_handle(st, h);
  if (!t) return MICROTCP_EBADF;
  tcb_reset_and_free(st, t);
  return MICROTCP_OK;
}

/* ---- API: inspection -------------------------------------------------------------------------------- */
int microtcp_tcp_state(const microtcp_stack *st, int h) {
  if (listener_from_handle(st, h)) return MICROTCP_LISTEN;
  const struct tcb *t = mtcp_tcb_from_handle(st, h);
  return t ? t->state : MICROTCP_EBADF;
}

int microtcp_tcp_peer(const microtcp_stack *st, int h, microtcp_endpoint *peer) {
  const struct tcb *t = mtcp_tcb_from_handle(st, h);
  if (!t) return MICROTCP_EBADF;
  if (peer) {
    peer->ip = t->remote_ip;
    peer->port = t->rport;
  }
  return MICROTCP_OK;
}

int mtcp_tcp_local_port(const struct microtcp_stack *st, int h) {
  const struct tcp_listener *l = listener_from_handle(st, h);
  if (l) return l->port;
  const struct tcb *t = mtcp_tcb_from_handle(st, h);
  return t ? t->lport : MICROTCP_EBADF;
}

unsigned mtcp_tcp_poll(const struct microtcp_stack *st, int h) {
  const struct tcp_listener *l = listener_from_handle(st, h);
  if (l) return l->acc.len ? MICROTCP_READABLE : 0;
  const struct tcb *t = mtcp_tcb_from_handle(st, h);
  if (!t) return 0;
  unsigned r = 0;
  if (t->rcvbuf.len || (t->flags & TF_FIN_RCVD) || t->err || t->state == MICROTCP_CLOSED)
    r |= MICROTCP_READABLE;
  if (t->flags & TF_FIN_RCVD) r |= MICROTCP_PEER_FIN;
  bool can_send = t->state == MICROTCP_ESTABLISHED || t->state == MICROTCP_CLOSE_WAIT ||
                  t->state == MICROTCP_SYN_SENT || t->state == MICROTCP_SYN_RECEIVED;
  if (can_send && !(t->flags & TF_SHUT_WR) && t->sndbuf.len < t->opt.sndbuf_lim &&
      mtcp_rb_room(&t->sndbuf) > 0)
    r |= MICROTCP_WRITABLE;
  if (t->flags & TF_CONNECTED) r |= MICROTCP_CONNECTED;
  if (t->state == MICROTCP_CLOSED || t->state == MICROTCP_TIME_WAIT) r |= MICROTCP_HANGUP;
  if (t->err) r |= MICROTCP_ERROR | MICROTCP_WRITABLE;
  return r;
}

int mtcp_tcp_socket_error(struct microtcp_stack *st, int h) {
  if (listener_from_handle(st, h)) return 0;
  struct tcb *t = mtcp_tcb_from_handle(st, h);
  if (!t) return MICROTCP_EBADF;
  int e = t->err;
  t->err = 0;
  return e;
}

/* ---- API: options ----------------------------------------------------------------------------------- */
static int set_flag(uint32_t *flags, uint32_t bit, int64_t value) {
  if (value)
    *flags |= bit;
  else
    *flags &= ~bit;
  return MICROTCP_OK;
}

/* The loss-recovery switches (core/TCP.md). Turning HyStart++ or RACK on
 * mid-connection starts with an empty transmission log (it refills as data
 * is sent); HyStart++ acts only in the initial slow start. */
static int set_recovery_opt(microtcp_stack *st, struct tcb *t, struct tcp_sockopts *o, int opt,
                            bool on) {
  (void)st;
  switch (opt) {
  case MICROTCP_OPT_HYSTART:
    if (t && on != o->hystart) {
      if (on && tcb_synchronized(t)) mtcp_tcp_hystart_start(&t->cc, t->snd_nxt);
      if (!on) t->cc.hs.state = HYSTART_OFF;
    }
    o->hystart = on;
    break;
  case MICROTCP_OPT_DSACK_UNDO:
    o->dsack_undo = on;
    if (t && !on) t->undo_armed = false;
    break;
  case MICROTCP_OPT_RACK:
    o->rack = on;
    if (t && !on) t->t_reorder = t->t_tlp = 0;
    break;
  default: o->prr = on; break;
  }
  if (t && !tcb_txlog_on(t)) mtcp_txlog_clear(&t->txl);
  return MICROTCP_OK;
}

static int api_setopt(microtcp_stack *st, int h, int opt, int64_t value) {
  struct tcp_listener *l = listener_from_handle(st, h);
  struct tcb *t = l ? NULL : mtcp_tcb_from_handle(st, h);
  if (!l && !t) return MICROTCP_EBADF;
  uint32_t *flags = l ? &l->flags : &t->flags;
  struct tcp_sockopts *o = l ? &l->opt : &t->opt;
  switch (opt) {
  case MICROTCP_OPT_NODELAY:
    set_flag(flags, TF_NODELAY, value);
    if (t) mtcp_tcb_want_output(st, t);
    return MICROTCP_OK;
  case MICROTCP_OPT_KEEPALIVE:
    set_flag(flags, TF_KEEPALIVE, value);
    if (t) mtcp_tcp_arm_keepalive(t);
    return MICROTCP_OK;
  case MICROTCP_OPT_LINGER_ZERO: return set_flag(flags, TF_LINGER0, value);
  case MICROTCP_OPT_KEEPIDLE_US:
  case MICROTCP_OPT_KEEPINTVL_US:
  case MICROTCP_OPT_USER_TIMEOUT_US: {
    /* Keepalive idle up to 32767 s as Linux's TCP_KEEPIDLE; the others fit 32 bits. */
    int64_t max = opt == MICROTCP_OPT_KEEPIDLE_US ? 32767ll * 1000000 : 0xffffffffll;
    if (value < 0 || value > max) return MICROTCP_EINVAL;
    if ((opt != MICROTCP_OPT_USER_TIMEOUT_US) && value == 0) return MICROTCP_EINVAL;
    uint32_t v = (uint32_t)value;
    if (opt == MICROTCP_OPT_KEEPIDLE_US) o->keepidle_us = (uint64_t)value;
    if (opt == MICROTCP_OPT_KEEPINTVL_US) o->keepintvl_us = v;
    if (opt == MICROTCP_OPT_USER_TIMEOUT_US) o->user_timeout_us = v;
    if (t) mtcp_tcp_arm_keepalive(t);
    return MICROTCP_OK;
  }
  case MICROTCP_OPT_KEEPCNT:
    if (value < 1 || value > 255) return MICROTCP_EINVAL;
    o->keepcnt = (uint8_t)value;
    return MICROTCP_OK;
  case MICROTCP_OPT_SNDBUF:
    if (value < 1 || value > st->cfg.tcp_sndbuf) return MICROTCP_EINVAL;
    o->sndbuf_lim = (uint32_t)value;
    return MICROTCP_OK;
  case MICROTCP_OPT_RCVBUF:
    if (value < 1 || value > st->cfg.tcp_rcvbuf) return MICROTCP_EINVAL;
    /* Takes effect for the advertised window; never shrinks below what was
     * already advertised (mtcp_tcp_rcv_window keeps the right edge). */
    o->rcvbuf_lim = (uint32_t)value;
    return MICROTCP_OK;
  case MICROTCP_OPT_CC:
    if (value != MICROTCP_CC_NEWRENO && value != MICROTCP_CC_CUBIC) return MICROTCP_EINVAL;
    if (t && t->opt.cc_algo != value && tcb_synchronized(t)) {
      /* Switch: the new controller starts from the current window. */
      uint32_t cwnd = t->cc.cwnd, ssthresh = t->cc.ssthresh;
      struct tcp_hystart hs = t->cc.hs;
      mtcp_tcp_cc_ops((uint8_t)value)->init(&t->cc, t->mss, cwnd);
      t->cc.ssthresh = ssthresh;
      t->cc.hs = hs;
      t->cc.abc_limit = st->cfg.tcp_abc_limit;
    }
    o->cc_algo = (uint8_t)value;
    return MICROTCP_OK;
  case MICROTCP_OPT_MAXSEG:
    if (value < TCP_MIN_MSS || value > 65535) return MICROTCP_EINVAL;
    o->maxseg = (uint16_t)value;
    return MICROTCP_OK;
  case MICROTCP_OPT_HYSTART:
  case MICROTCP_OPT_DSACK_UNDO:
  case MICROTCP_OPT_RACK:
  case MICROTCP_OPT_PRR:
    if (value != 0 && value != 1) return MICROTCP_EINVAL;
    return set_recovery_opt(st, t, o, opt, value != 0);
  default: return MICROTCP_ENOPROTOOPT;
  }
}

int microtcp_tcp_getopt(const microtcp_stack *st, int h, int opt, int64_t *value) {
  const struct tcp_listener *l = listener_from_handle(st, h);
  const struct tcb *t = l ? NULL : mtcp_tcb_from_handle(st, h);
  if (!l && !t) return MICROTCP_EBADF;
  if (!value) return MICROTCP_EINVAL;
  uint32_t flags = l ? l->flags : t->flags;
  const struct tcp_sockopts *o = l ? &l->opt : &t->opt;
  switch (opt) {
  case MICROTCP_OPT_NODELAY: *value = (flags & TF_NODELAY) != 0; break;
  case MICROTCP_OPT_KEEPALIVE: *value = (flags & TF_KEEPALIVE) != 0; break;
  case MICROTCP_OPT_LINGER_ZERO: *value = (flags & TF_LINGER0) != 0; break;
  case MICROTCP_OPT_KEEPIDLE_US: *value = (int64_t)o->keepidle_us; break;
  case MICROTCP_OPT_KEEPINTVL_US: *value = o->keepintvl_us; break;
  case MICROTCP_OPT_USER_TIMEOUT_US: *value = o->user_timeout_us; break;
  case MICROTCP_OPT_KEEPCNT: *value = o->keepcnt; break;
  case MICROTCP_OPT_SNDBUF: *value = o->sndbuf_lim; break;
  case MICROTCP_OPT_RCVBUF: *value = o->rcvbuf_lim; break;
  case MICROTCP_OPT_CC: *value = o->cc_algo; break;
  case MICROTCP_OPT_HYSTART: *value = o->hystart; break;
  case MICROTCP_OPT_DSACK_UNDO: *value = o->dsack_undo; break;
  case MICROTCP_OPT_RACK: *value = o->rack; break;
  case MICROTCP_OPT_PRR: *value = o->prr; break;
  case MICROTCP_OPT_MAXSEG:
    /* A listener reports its clamp; a connection the MSS in use. */
    *value = l ? (o->maxseg ? o->maxseg : st->cfg.tcp_mss) : (t->mss ? t->mss : st->cfg.tcp_mss);
    break;
  default: return MICROTCP_ENOPROTOOPT;
  }
  return MICROTCP_OK;
}

int microtcp_tcp_get_stats(const microtcp_stack *st, int h, microtcp_tcp_stats *out) {
  const struct tcb *t = mtcp_tcb_from_handle(st, h);
  if (!t) return MICROTCP_EBADF;
  if (!out) return MICROTCP_EINVAL;
  memset(out, 0, sizeof *out);
  out->state = t->state;
  out->srtt_us = t->srtt;
  out->rttvar_us = t->rttvar;
  out->rto_us = t->rto;
  out->cwnd = t->cc.cwnd;
  out->ssthresh = t->cc.ssthresh;
  out->snd_wnd = t->snd_wnd;
  out->rcv_wnd = mtcp_tcp_rcv_window(t);
  out->mss = t->mss;
  out->bytes_sent = t->bytes_sent;
  out->bytes_acked = t->bytes_acked;
  out->bytes_received = t->bytes_received;
  out->segs_out = t->segs_out;
  out->segs_in = t->segs_in;
  out->retransmits = t->retransmits;
  out->fast_retransmits = t->fast_retransmits;
  out->rto_timeouts = t->rto_timeouts;
  out->dup_acks = t->dup_acks_total;
  out->sack_recoveries = t->sack_recoveries;
  out->snd_wscale = (t->flags & TF_WS) ? t->snd_wscale : 0;
  out->rcv_wscale = (t->flags & TF_WS) ? t->rcv_wscale : 0;
  out->sack = (t->flags & TF_SACK) != 0;
  out->timestamps = (t->flags & TF_TS) != 0;
  out->recovery_us = t->recovery_us;
  if (t->flags & TF_RECOVERY) out->recovery_us += st->now > t->recovery_at ? st->now - t->recovery_at : 0;
  return MICROTCP_OK;
}

/* ---- invariants ------------------------------------------------------------------------------ */
#ifdef MICROTCP_ASSERTS
static void check_timers(const struct tcb *t) {
  if (t->state == MICROTCP_CLOSED) /* mtcp_tcb_terminate stopped them all */
    MICROTCP_ASSERT(!t->t_rexmt && !t->t_delack && !t->t_keep && !t->t_2msl);
  if (t->state == MICROTCP_TIME_WAIT) /* only 2MSL runs (mtcp_tcp_enter_time_wait) */
    MICROTCP_ASSERT(t->t_2msl && !t->t_rexmt && !(t->flags & TF_PERSIST));
  if ((t->flags & TF_PERSIST) && t->state != MICROTCP_CLOSED) MICROTCP_ASSERT(t->t_rexmt != 0);
  if (t->flags & TF_KEEPALIVE && t->t_keep) MICROTCP_ASSERT(tcb_synchronized(t));
}

static void check_owner(const struct microtcp_stack *st, const struct tcb *t) {
  MICROTCP_ASSERT(t->owner <= OWN_ORPHAN);
  if (t->owner == OWN_LISTENER) {
    MICROTCP_ASSERT(t->listener < st->cfg.max_listeners);
    MICROTCP_ASSERT(st->tcp.listeners[t->listener].in_use);
  }
  if (t->flags & TF_IN_ACCEPTQ)
    MICROTCP_ASSERT(t->owner == OWN_LISTENER && tcb_synchronized(t));
  /* An active open the application dropped is freed at once (api_close). */
  if (t->state == MICROTCP_SYN_SENT) MICROTCP_ASSERT(t->owner == OWN_APP);
  /* Every open connection is found by its 4-tuple (closed ones are unhashed). */
  if (t->state != MICROTCP_CLOSED)
    MICROTCP_ASSERT(mtcp_tcb_lookup((struct microtcp_stack *)st, t->remote_ip, t->rport, t->lport) == t);
}

void mtcp_tcb_check(const struct microtcp_stack *st, const struct tcb *t) {
  MICROTCP_ASSERT(t >= st->tcp.tcbs && mtcp_tcb_index(st, t) < st->cfg.max_tcp);
  MICROTCP_ASSERT(t->in_use);
  MICROTCP_ASSERT(t->state <= MICROTCP_TIME_WAIT && t->state != MICROTCP_LISTEN);
  /* Sequence order (tcp_int.h): snd_una <= snd_nxt <= snd_max; the first
   * buffered byte is snd_una, or one above it while our SYN is unacknowledged
   * or one below it once our FIN is; nothing was sent beyond the data + FIN. */
  MICROTCP_ASSERT(seq_le(t->snd_una, t->snd_nxt) && seq_le(t->snd_nxt, t->snd_max));
  MICROTCP_ASSERT(seq_le(t->snd_una, t->snd_buf_seq + 1) && seq_le(t->snd_buf_seq, t->snd_una + 1));
  MICROTCP_ASSERT(seq_le(t->snd_max, t->snd_buf_seq + t->sndbuf.len + 1));
  MICROTCP_ASSERT(t->sndbuf.len <= t->sndbuf.cap && t->rcvbuf.len <= t->rcvbuf.cap);
  /* Buffer chunks: claims cover the mapped chunks and, on the receive side,
   * the whole window advertised (the right edge is never withdrawn); the
   * send buffer holds no reservation. */
  MICROTCP_ASSERT(t->sndbuf.mapped == t->sndbuf.claims && t->rcvbuf.mapped <= t->rcvbuf.claims);
  MICROTCP_ASSERT(!!(t->flags & TF_POOL_WAIT) <= st->tcp.pool_waiters);
  bool takes_data = t->state == MICROTCP_ESTABLISHED || t->state == MICROTCP_FIN_WAIT_1 ||
                    t->state == MICROTCP_FIN_WAIT_2;
  if (seq_gt(t->rcv_adv, t->rcv_nxt) && !(t->flags & TF_FIN_RCVD) && t->rcvbuf.cap &&
      (t->flags & TF_CONNECTED) && takes_data) {
    uint64_t end = (uint64_t)t->rcvbuf.head + t->rcvbuf.len + (t->rcv_adv - t->rcv_nxt);
    uint64_t want = (end + st->tcp.pool.size - 1) >> st->tcp.pool.shift;
    if (want > t->rcvbuf.nslots) want = t->rcvbuf.nslots;
    MICROTCP_ASSERT(t->rcvbuf.claims >= want);
  }
  MICROTCP_ASSERT(t->ooo.count <= t->ooo.max);
  /* SACK scoreboard: at most SACK_BOARD_MAX sorted ranges inside the send window. */
  MICROTCP_ASSERT(t->sb.count <= SACK_BOARD_MAX);
  for (uint8_t i = 0; i < t->sb.count; i++) {
    MICROTCP_ASSERT(seq_lt(t->sb.blk[i].left, t->sb.blk[i].right));
    MICROTCP_ASSERT(seq_le(t->sb.blk[i].right, t->snd_max));
    if (i) MICROTCP_ASSERT(seq_lt(t->sb.blk[i - 1].right, t->sb.blk[i].left));
  }
  /* Transmission log (RACK, tcp_rack.h): bounded, contiguous records in
   * sequence order, none beyond SND.MAX. */
  MICROTCP_ASSERT(t->txl.n <= TXLOG_MAX && t->rttp.n <= RTTP_MAX);
  if (t->txl.n && t->state != MICROTCP_CLOSED) {
    uint32_t end = t->txl.start;
    for (uint8_t i = 0; i < t->txl.n; i++) {
      MICROTCP_ASSERT(seq_lt(end, t->txl.r[i].end));
      end = t->txl.r[i].end;
    }
    MICROTCP_ASSERT(seq_le(end, t->snd_max));
  }
  check_owner(st, t);
  check_timers(t);
}

/* The shape of an idxq over the tcb array: at most max_tcp links from the
 * head, the last one the tail, as many as its length. Returns that length. */
static uint32_t check_tcb_queue(const struct microtcp_stack *st, const struct idxq *q,
                                const struct idxq_pool *pool) {
  uint32_t n = 0;
  uint16_t last = IDXQ_NONE;
  for (uint16_t i = q->head; i != IDXQ_NONE; last = i, i = idxq_next(pool, i)) {
    MICROTCP_ASSERT(i < st->cfg.max_tcp);
    MICROTCP_ASSERT(++n <= st->cfg.max_tcp);
  }
  MICROTCP_ASSERT(q->tail == last && q->len == n);
  return n;
}

/* Free list: only free blocks, as many as are not in use. */
static void check_free_list(const struct microtcp_stack *st, uint32_t in_use) {
  const struct tcp_state *tcp = &st->tcp;
  struct idxq_pool pool = mtcp_tcb_pool(st);
  uint32_t n = check_tcb_queue(st, &tcp->free_q, &pool);
  for (uint16_t i = tcp->free_q.head; i != IDXQ_NONE; i = idxq_next(&pool, i))
    MICROTCP_ASSERT(!tcp->tcbs[i].in_use);
  MICROTCP_ASSERT(n + in_use == st->cfg.max_tcp);
}

/* Output list: exactly the blocks flagged TF_OUTLISTED. */
static void check_output_list(const struct microtcp_stack *st, uint32_t outlisted) {
  const struct tcp_state *tcp = &st->tcp;
  struct idxq_pool pool = mtcp_tcb_out_pool(st);
  uint32_t n = check_tcb_queue(st, &tcp->out_q, &pool);
  for (uint16_t i = tcp->out_q.head; i != IDXQ_NONE; i = idxq_next(&pool, i))
    MICROTCP_ASSERT(tcp->tcbs[i].in_use && (tcp->tcbs[i].flags & TF_OUTLISTED));
  MICROTCP_ASSERT(n == outlisted);
}

/* A listener's accept queue holds its established blocks (acc.len of them);
 * its other blocks are the `half_open` ones. */
static void check_listener(const struct microtcp_stack *st, uint16_t li) {
  const struct tcp_state *tcp = &st->tcp;
  const struct tcp_listener *l = &tcp->listeners[li];
  struct idxq_pool pool = mtcp_tcb_pool(st);
  uint32_t half_open = 0;
  check_tcb_queue(st, &l->acc, &pool);
  for (uint16_t i = l->acc.head; i != IDXQ_NONE; i = idxq_next(&pool, i)) {
    const struct tcb *t = &tcp->tcbs[i];
    MICROTCP_ASSERT(t->in_use && (t->flags & TF_IN_ACCEPTQ));
    MICROTCP_ASSERT(t->owner == OWN_LISTENER && t->listener == li);
  }
  for (uint16_t i = 0; i < st->cfg.max_tcp; i++) {
    const struct tcb *t = &tcp->tcbs[i];
    if (t->in_use && t->owner == OWN_LISTENER && t->listener == li && !(t->flags & TF_IN_ACCEPTQ))
      half_open++;
  }
  MICROTCP_ASSERT(half_open == l->half_open);
}

void mtcp_tcp_check(const struct microtcp_stack *st) {
  const struct tcp_state *tcp = &st->tcp;
  uint32_t in_use = 0, outlisted = 0, listeners = 0;
  for (uint16_t i = 0; i < st->cfg.max_tcp; i++) {
    const struct tcb *t = &tcp->tcbs[i];
    if (!t->in_use) continue;
    in_use++;
    if (t->flags & TF_OUTLISTED) outlisted++;
    mtcp_tcb_check(st, t);
  }
  MICROTCP_ASSERT(in_use == tcp->tcbs_in_use && in_use <= st->cfg.max_tcp);
  check_free_list(st, in_use);
  check_output_list(st, outlisted);
  for (uint16_t li = 0; li < st->cfg.max_listeners; li++) {
    if (!tcp->listeners[li].in_use) continue;
    listeners++;
    check_listener(st, li);
  }
  MICROTCP_ASSERT(listeners == tcp->listeners_in_use);
}
#endif

/* ---- public entry points -------------------------------------------------------------------------- */
/* Each call does its work, then delivers the events it recorded (stack.c
 * mtcp_events_deliver): the application sees them with every block consistent and
 * may call back into the stack from its callback. */
static int delivered(struct microtcp_stack *st, int ret) {
  mtcp_tcp_check(st);
  mtcp_events_deliver(st);
  return ret;
}

/* The block an API call names may change its timers: touch it (the timer
 * heap's rule, tcp_int.h); blocks it creates or frees are touched there. */
static void touch_handle(struct microtcp_stack *st, int h) {
  struct tcb *t = mtcp_tcb_from_handle(st, h);
  if (t) mtcp_tcb_touch(st, t);
}

int microtcp_tcp_listen(microtcp_stack *st, uint64_t now, uint16_t port, int backlog) {
  return delivered(st, api_listen(st, now, port, backlog));
}

int microtcp_tcp_accept(microtcp_stack *st, uint64_t now, int listener, microtcp_endpoint *peer) {
  return delivered(st, api_accept(st, now, listener, peer));
}

int microtcp_tcp_connect(microtcp_stack *st, uint64_t now, uint32_t ip, uint16_t port,
                         uint16_t local_port) {
  return delivered(st, api_connect(st, now, ip, port, local_port));
}

int microtcp_tcp_send(microtcp_stack *st, uint64_t now, int h, const void *data, size_t len) {
  touch_handle(st, h);
  return delivered(st, api_send(st, now, h, data, len));
}

int microtcp_tcp_recv(microtcp_stack *st, uint64_t now, int h, void *buf, size_t cap) {
  touch_handle(st, h);
  return delivered(st, api_recv(st, now, h, buf, cap));
}

int microtcp_tcp_peek(microtcp_stack *st, uint64_t now, int h, void *buf, size_t cap) {
  touch_handle(st, h);
  return delivered(st, api_peek(st, now, h, buf, cap));
}

int microtcp_tcp_shutdown(microtcp_stack *st, uint64_t now, int h) {
  touch_handle(st, h);
  return delivered(st, api_shutdown(st, now, h));
}

int microtcp_tcp_close(microtcp_stack *st, uint64_t now, int h) {
  touch_handle(st, h);
  return delivered(st, api_close(st, now, h));
}

int microtcp_tcp_abort(microtcp_stack *st, uint64_t now, int h) {
  touch_handle(st, h);
  return delivered(st, api_abort(st, now, h));
}

int microtcp_tcp_setopt(microtcp_stack *st, int h, int opt, int64_t value) {
  touch_handle(st, h);
  return delivered(st, api_setopt(st, h, opt, value));
}
