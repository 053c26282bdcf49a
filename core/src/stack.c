/*
 * The stack instance: configuration, arena carving, the frame pool and transmit
 * queue, input dispatch, output, timers, handles and the small shared helpers
 * (mtcp_trace, application events: mtcp_notify records, mtcp_events_deliver delivers at the
 * end of each public call; PRF, ephemeral ports, error names).
 */
#include "internal.h"

/* ---- arena carving ---------------------------------------------------------------- */
#define CARVE_ALIGN 16u

void *mtcp_carve_take(struct carve *c, size_t size) {
  size_t start = (c->used + (CARVE_ALIGN - 1)) & ~(size_t)(CARVE_ALIGN - 1);
  size_t end = start + ((size + (CARVE_ALIGN - 1)) & ~(size_t)(CARVE_ALIGN - 1));
  c->used = end;
  if (c->base == NULL || end > c->cap) return NULL;
  void *p = c->base + start;
  memset(p, 0, size);
  return p;
}

void *mtcp_carve_take_raw(struct carve *c, size_t size) {
  size_t start = (c->used + (CARVE_ALIGN - 1)) & ~(size_t)(CARVE_ALIGN - 1);
  size_t end = start + ((size + (CARVE_ALIGN - 1)) & ~(size_t)(CARVE_ALIGN - 1));
  c->used = end;
  if (c->base == NULL || end > c->cap) return NULL;
  return c->base + start;
}

/* ---- configuration ------------------------------------------------------------------ */
void microtcp_config_default(microtcp_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  static const uint8_t mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
  memcpy(cfg->mac, mac, 6);
  cfg->ip = 0xc0a80102u;      /* 192.168.1.2 */
  cfg->netmask = 0xffffff00u; /* /24 */
  cfg->mtu = 1500;

  cfg->max_tcp = 8;
  cfg->max_listeners = 2;
  cfg->max_udp = 4;
  cfg->tcp_sndbuf = 8192;
  cfg->tcp_rcvbuf = 8192;
  cfg->tcp_buf_chunks = 0;     /* derived: both buffers of every connection fit */
  cfg->tcp_buf_chunk_size = 0; /* derived: 2048 */
  cfg->udp_rcvq = 4096;
  cfg->frames = 16;
  cfg->arp_entries = 8;
  cfg->arp_pending = 4;
  cfg->reasm_slots = 2;
  cfg->reasm_bytes = 8192;
  cfg->ping_queue = 4;

  cfg->arp_ttl_us = 60u * 1000000u;
  cfg->arp_retry_us = 500000u;
  cfg->arp_retries = 3;
  cfg->arp_gratuitous = true;

  cfg->ttl = 64;
  cfg->reasm_timeout_us = 30u * 1000000u;

  cfg->icmp_echo = true;
  cfg->icmp_rate_per_s = 1000;
  cfg->icmp_burst = 50;

  cfg->tcp_mss = 0;
  cfg->tcp_wscale = 0xff;
  cfg->tcp_sack = true;
  cfg->tcp_dsack = true;
  cfg->tcp_prr = true; /* RFC 6937: tools/bench-recovery.py, core/TCP.md "Measured" */
  cfg->tcp_hystart = true;     /* RFC 9406: docs/recovery-grid.md (deep queues) */
  cfg->tcp_dsack_undo = true;  /* RFC 3708-style undo: docs/recovery-grid.md */
  cfg->tcp_rack = true;        /* RFC 8985: docs/recovery-grid.md */
  cfg->tcp_timestamps = true;
  cfg->tcp_nodelay = false;
  cfg->tcp_cc = MICROTCP_CC_NEWRENO;
  cfg->tcp_initial_cwnd = 10;
  cfg->tcp_rto_initial_us = 1000000u;
  cfg->tcp_rto_min_us = 1000000u;
  cfg->tcp_rto_max_us = 120u * 1000000u;
  cfg->tcp_delack_us = 40000u;
  cfg->tcp_msl_us = 30u * 1000000u;
  cfg->tcp_syn_retries = 6;
  cfg->tcp_max_retries = 15;
  cfg->tcp_user_timeout_us = 0;
  cfg->tcp_keepidle_us = 7200ull * 1000000u; /* RFC 1122 4.2.3.6: >= 2 hours */
  cfg->tcp_keepintvl_us = 75u * 1000000u;
  cfg->tcp_keepcnt = 9;
  cfg->tcp_challenge_ack_per_s = 1000;
  cfg->tcp_challenge_ack_interval_us = 500000u;
  cfg->tcp_ooo_ranges = 4;
  cfg->tcp_abc_limit = 1;
  cfg->tcp_syncookies = true;
  cfg->tcp_max_per_peer = 0;                  /* half the pool */
  cfg->tcp_evict_stalled_us = 30u * 1000000u; /* only when the pool is full */
}

/* Check a config and fill derived values (MSS from MTU, window scale from the
 * receive buffer). Returns MICROTCP_OK or MICROTCP_EINVAL. */
static int config_derive(const microtcp_config *in, microtcp_config *out) {
  *out = *in;
  if (out->mtu < 576 || out->mtu > 9000) return MICROTCP_EINVAL;
  if (out->ip_min_pmtu == 0) out->ip_min_pmtu = 552;
  if (out->ip_min_pmtu < 68 + 40 || out->ip_min_pmtu > out->mtu) return MICROTCP_EINVAL;
  if (out->frames < 2 || out->frames >= FRAME_NONE) return MICROTCP_EINVAL;
  if (out->max_tcp > 0x7fff || out->max_listeners > 0x7fff || out->max_udp > 0x7fff)
    return MICROTCP_EINVAL;
  if (out->arp_entries == 0) return MICROTCP_EINVAL;
  if (out->tcp_sndbuf > (1u << 30) || out->tcp_rcvbuf > (1u << 30)) return MICROTCP_EINVAL;
  if (out->max_tcp && (out->tcp_sndbuf < 64 || out->tcp_rcvbuf < 64)) return MICROTCP_EINVAL;
  if (out->tcp_buf_chunk_size == 0) {
    /* 2048, smaller for small buffers: a buffer may need one chunk more
     * than cap / size, so keep that slack near 1/8 of the buffer. */
    uint32_t small = MIN(out->tcp_sndbuf, out->tcp_rcvbuf);
    uint32_t cs = 2048;
    while (cs > 64 && (uint64_t)cs * 8 > small) cs >>= 1;
    out->tcp_buf_chunk_size = cs;
  }
  if (out->tcp_buf_chunk_size < 64 || out->tcp_buf_chunk_size > 65536 ||
      (out->tcp_buf_chunk_size & (out->tcp_buf_chunk_size - 1)) != 0)
    return MICROTCP_EINVAL;
  if (out->tcp_buf_chunks == 0 && out->max_tcp) {
    /* Dedicated-buffer sizing: every connection can fill both buffers. */
    uint64_t per = (uint64_t)mtcp_rb_slots(out->tcp_sndbuf, out->tcp_buf_chunk_size) +
                   mtcp_rb_slots(out->tcp_rcvbuf, out->tcp_buf_chunk_size);
    uint64_t n = per * out->max_tcp;
    if (n >= CHUNK_NONE) return MICROTCP_EINVAL;
    out->tcp_buf_chunks = (uint32_t)n;
  }
  if (out->tcp_buf_chunks >= CHUNK_NONE) return MICROTCP_EINVAL;
  if (out->tcp_cc > MICROTCP_CC_CUBIC) return MICROTCP_EINVAL;
  if (out->tcp_ooo_ranges == 0) out->tcp_ooo_ranges = 1;
  if (out->tcp_abc_limit == 0) out->tcp_abc_limit = 1;
  if (out->tcp_ooo_ranges > 64) return MICROTCP_EINVAL;
  if (out->tcp_rto_min_us == 0 || out->tcp_rto_max_us < out->tcp_rto_min_us) return MICROTCP_EINVAL;
  if (out->tcp_rto_initial_us < out->tcp_rto_min_us) out->tcp_rto_initial_us = out->tcp_rto_min_us;
  if (out->tcp_delack_us > 500000u) return MICROTCP_EINVAL; /* RFC 1122 4.2.3.2 */
  if (out->tcp_initial_cwnd == 0) out->tcp_initial_cwnd = 1;
  uint16_t mtu_mss = (uint16_t)(out->mtu - 40);
  if (out->tcp_mss == 0 || out->tcp_mss > mtu_mss) out->tcp_mss = mtu_mss;
  if (out->tcp_mss < 64) return MICROTCP_EINVAL;
  if (out->tcp_wscale == 0xff) {
    /* RFC 7323 2.2: the smallest shift that lets the whole buffer be advertised. */
    uint8_t ws = 0;
    while (ws < 14 && (out->tcp_rcvbuf >> ws) > 65535u) ws++;
    out->tcp_wscale = ws;
  } else if (out->tcp_wscale > 14 && out->tcp_wscale != MICROTCP_WSCALE_OFF) {
    return MICROTCP_EINVAL;
  }
  if (out->ttl == 0) out->ttl = 64;
  return MICROTCP_OK;
}

const microtcp_config *microtcp_get_config(const microtcp_stack *st) { return &st->cfg; }

/* ---- footprint and init ---------------------------------------------------------------- */
/* One function lays out the arena for both footprint (base NULL: count only)
 * and init, so the two can never disagree. */
static int layout(struct microtcp_stack *st, struct carve *c) {
  const microtcp_config *cfg = &st->cfg;
  size_t cap = mtcp_frame_cap(st);
  st->frames = mtcp_carve_take(c, sizeof(struct frame) * cfg->frames);
  for (uint16_t i = 0; i < cfg->frames; i++) {
    uint8_t *data = mtcp_carve_take_raw(c, cap); /* written before read: test_arena_garbage */
    if (st->frames) st->frames[i].data = data;
  }
  /* One pending event per socket slot at most (see mtcp_notify). */
  st->evq_cap = (uint32_t)cfg->max_tcp + cfg->max_listeners + cfg->max_udp;
  if (st->evq_cap == 0) st->evq_cap = 1;
  st->evq = mtcp_carve_take(c, sizeof(int) * st->evq_cap);
  int err;
  if ((err = mtcp_arp_init(st, c, st->now)) < 0) return err;
  if ((err = mtcp_ipv4_init(st, c)) < 0) return err;
  if ((err = mtcp_icmp_init(st, c)) < 0) return err;
  if ((err = mtcp_udp_init(st, c)) < 0) return err;
  if ((err = mtcp_tcp_init(st, c)) < 0) return err;
  mtcp_tcp_timers_init(st, c);
  return MICROTCP_OK;
}

size_t microtcp_footprint(const microtcp_config *cfg) {
  if (cfg == NULL) return 0;
  /* Count with a scratch stack struct: modules only record pointers into it. */
  struct microtcp_stack scratch;
  memset(&scratch, 0, sizeof scratch);
  if (config_derive(cfg, &scratch.cfg) < 0) return 0;
  struct carve c = {NULL, 0, 0};
  (void)mtcp_carve_take(&c, sizeof(struct microtcp_stack));
  if (layout(&scratch, &c) < 0) return 0;
  return c.used;
}

static void frames_reset(struct microtcp_stack *st) {
  struct idxq_pool pool = mtcp_frame_pool(st);
  idxq_init(&st->frame_free_q);
  idxq_init(&st->txq);
  for (uint16_t i = 0; i < st->cfg.frames; i++) {
    st->frames[i].where = FW_FREE;
    idxq_push_tail(&st->frame_free_q, &pool, i);
  }
  st->frames_in_use = 0;
  st->tx_lent = FRAME_NONE;
}

microtcp_stack *microtcp_init(void *arena, size_t arena_len, const microtcp_config *cfg,
                              uint64_t now, int *err) {
  int dummy;
  if (err == NULL) err = &dummy;
  if (arena == NULL || cfg == NULL || ((uintptr_t)arena & (CARVE_ALIGN - 1)) != 0) {
    *err = MICROTCP_EINVAL;
    return NULL;
  }
  size_t need = microtcp_footprint(cfg);
  if (need == 0) {
    *err = MICROTCP_EINVAL;
    return NULL;
  }
  if (arena_len < need) {
    *err = MICROTCP_ENOMEM;
    return NULL;
  }
  struct carve c = {(uint8_t *)arena, 0, arena_len};
  struct microtcp_stack *st = mtcp_carve_take(&c, sizeof *st);
  (void)config_derive(cfg, &st->cfg);
  st->now = now;
  /* Seed the per-stack counters from the PRF so two stacks differ. */
  static const char tag[] = "microtcp-init";
  uint64_t h = mtcp_prf(st, tag, sizeof tag);
  st->port_counter = (uint32_t)h;
  st->ip_id_counter = (uint32_t)(h >> 32);
  int e = layout(st, &c);
  if (e < 0 || c.used > arena_len) {
    *err = e < 0 ? e : MICROTCP_ENOMEM;
    return NULL;
  }
  frames_reset(st);
  mtcp_arp_announce(st);
  *err = MICROTCP_OK;
  return st;
}

/* ---- frames and the transmit queue ------------------------------------------------------ */
size_t mtcp_frame_cap(const struct microtcp_stack *st) { return (size_t)st->cfg.mtu + WIRE_ETH_HLEN; }

struct idxq_pool mtcp_frame_pool(const struct microtcp_stack *st) {
  struct idxq_pool p = {(uint8_t *)st->frames, sizeof(struct frame), offsetof(struct frame, next),
                        st->cfg.frames};
  return p;
}

struct frame *mtcp_frame_alloc(struct microtcp_stack *st, size_t headroom) {
  struct idxq_pool pool = mtcp_frame_pool(st);
  uint16_t i = idxq_pop_head(&st->frame_free_q, &pool);
  if (i == FRAME_NONE) return NULL;
  struct frame *f = &st->frames[i];
  MICROTCP_ASSERT(f->where == FW_FREE);
  MICROTCP_ASSERT(headroom <= mtcp_frame_cap(st));
  f->where = FW_BUILDING;
  f->off = (uint16_t)headroom;
  f->len = 0;
  f->nexthop = 0;
  st->frames_in_use++;
  MICROTCP_ASSERT(st->frames_in_use + st->frame_free_q.len == st->cfg.frames);
  return f;
}

void mtcp_frame_free(struct microtcp_stack *st, struct frame *f) {
  /* Only a frame no list holds any more: building (dropped) or lent out. */
  MICROTCP_ASSERT(f->where == FW_BUILDING || f->where == FW_LENT);
  MICROTCP_ASSERT(st->frames_in_use > 0);
  struct idxq_pool pool = mtcp_frame_pool(st);
  f->where = FW_FREE;
  idxq_push_head(&st->frame_free_q, &pool, mtcp_frame_index(st, f));
  st->frames_in_use--;
}

uint16_t mtcp_frame_index(const struct microtcp_stack *st, const struct frame *f) {
  MICROTCP_ASSERT(f >= st->frames && f < st->frames + st->cfg.frames);
  return (uint16_t)(f - st->frames);
}

struct frame *mtcp_frame_at(struct microtcp_stack *st, uint16_t idx) {
  MICROTCP_ASSERT(idx == FRAME_NONE || idx < st->cfg.frames);
  return idx == FRAME_NONE ? NULL : &st->frames[idx];
}

void mtcp_txq_push(struct microtcp_stack *st, struct frame *f) {
  MICROTCP_ASSERT(f->where == FW_BUILDING);
  MICROTCP_ASSERT(f->off == 0 && f->len >= WIRE_ETH_HLEN && f->len <= mtcp_frame_cap(st));
  struct idxq_pool pool = mtcp_frame_pool(st);
  f->where = FW_TXQ;
  idxq_push_tail(&st->txq, &pool, mtcp_frame_index(st, f));
}

static struct frame *txq_pop(struct microtcp_stack *st) {
  struct idxq_pool pool = mtcp_frame_pool(st);
  uint16_t i = idxq_pop_head(&st->txq, &pool);
  if (i == FRAME_NONE) return NULL;
  struct frame *f = &st->frames[i];
  MICROTCP_ASSERT(f->where == FW_TXQ);
  return f;
}

/* ---- driving ---------------------------------------------------------------------------- */
static void set_now(struct microtcp_stack *st, uint64_t now) {
  if (now > st->now) st->now = now;
}

static void input_frame(microtcp_stack *st, uint64_t now, const void *frame, size_t len) {
  set_now(st, now);
  st->ctr.frames_in++;
  st->ctr.bytes_in += len;
  wire_eth eth;
  if (frame == NULL || wire_eth_parse(frame, len, &eth) < 0) {
    st->ctr.drop_eth_malformed++;
    return;
  }
  static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  if (memcmp(eth.dst, st->cfg.mac, 6) != 0 && memcmp(eth.dst, bcast, 6) != 0) {
    st->ctr.drop_eth_not_for_us++;
    return;
  }
  if (memcmp(eth.src, st->cfg.mac, 6) == 0) {
    /* Our own frame looped back (or a spoof): never process it. */
    st->ctr.drop_eth_not_for_us++;
    return;
  }
  st->rx_link_bcast = memcmp(eth.dst, bcast, 6) == 0;
  switch (eth.ethertype) {
  case WIRE_ETHERTYPE_ARP: mtcp_arp_input(st, eth.payload, eth.payload_len, eth.src); break;
  case WIRE_ETHERTYPE_IPV4: mtcp_ipv4_input(st, eth.payload, eth.payload_len); break;
  default: st->ctr.drop_eth_type++; break;
  }
  st->rx_link_bcast = false;
}

/* Each public entry point below processes first, then delivers the events it
 * recorded (mtcp_events_deliver), with every connection block consistent. The
 * queue is empty on entry unless a callback is making this call. */
void microtcp_input(microtcp_stack *st, uint64_t now, const void *frame, size_t len) {
  MICROTCP_ASSERT(st->ev_delivering || st->evq_len == 0);
  input_frame(st, now, frame, len);
  mtcp_tcp_check(st);
  mtcp_events_deliver(st);
}

int microtcp_output_frame(microtcp_stack *st, uint64_t now, const uint8_t **frame) {
  MICROTCP_ASSERT(st->ev_delivering || st->evq_len == 0);
  set_now(st, now);
  if (frame == NULL) return MICROTCP_EINVAL;
  *frame = NULL;
  if (st->tx_lent == FRAME_NONE) {
    if (st->txq.head == FRAME_NONE) {
      mtcp_tcp_output_pending(st);
      mtcp_tcp_check(st);
      mtcp_events_deliver(st); /* (segment generation records none today) */
    }
    struct frame *f = txq_pop(st);
    if (!f) return 0;
    f->where = FW_LENT;
    st->tx_lent = mtcp_frame_index(st, f);
  }
  const struct frame *f = &st->frames[st->tx_lent];
  MICROTCP_ASSERT(f->where == FW_LENT && f->off == 0 && f->len <= mtcp_frame_cap(st));
  *frame = f->data;
  return f->len;
}

void microtcp_output_release(microtcp_stack *st) {
  if (st->tx_lent == FRAME_NONE) return;
  struct frame *f = &st->frames[st->tx_lent];
  st->tx_lent = FRAME_NONE;
  st->ctr.frames_out++;
  st->ctr.bytes_out += f->len;
  mtcp_frame_free(st, f);
}

int microtcp_output(microtcp_stack *st, uint64_t now, void *buf, size_t cap) {
  const uint8_t *p;
  int n = microtcp_output_frame(st, now, &p);
  if (n <= 0) return n;
  if (buf == NULL || cap < (size_t)n) return MICROTCP_ENOSPC; /* stays lent: asked again */
  memcpy(buf, p, (size_t)n);
  microtcp_output_release(st);
  return n;
}

uint64_t microtcp_deadline(const microtcp_stack *st) {
  uint64_t d = mtcp_arp_deadline(st);
  d = MIN(d, mtcp_ipv4_deadline(st));
  d = MIN(d, mtcp_tcp_deadline(st));
  return d;
}

void microtcp_advance(microtcp_stack *st, uint64_t now) {
  MICROTCP_ASSERT(st->ev_delivering || st->evq_len == 0);
  set_now(st, now);
  mtcp_arp_advance(st, st->now);
  mtcp_ipv4_advance(st, st->now);
  mtcp_tcp_advance(st, st->now);
  mtcp_events_deliver(st);
}

/* ---- counters and pools ------------------------------------------------------------------ */
const microtcp_counters *microtcp_get_counters(const microtcp_stack *st) { return &st->ctr; }

const char *microtcp_counter_name(size_t i) {
  /* One string of NUL-separated names (no pointer table: keeps the core free of
   * relocated data, so it stays position independent and ROM-able). */
  static const char names[] =
#define MICROTCP_X_NAME(name) #name "\0"
      MICROTCP_COUNTERS(MICROTCP_X_NAME)
#undef MICROTCP_X_NAME
      ;
  const char *p = names;
  const char *end = names + sizeof names - 1;
  for (size_t k = 0; k < i && p < end; k++) p += strlen(p) + 1;
  return p < end ? p : NULL;
}

void microtcp_get_pool_usage(const microtcp_stack *st, microtcp_pool_usage *out) {
  memset(out, 0, sizeof *out);
  out->tcp = st->tcp.tcbs_in_use;
  out->listeners = st->tcp.listeners_in_use;
  out->udp = st->udp.in_use;
  out->frames = st->frames_in_use;
  out->arp_entries = mtcp_arp_entries_in_use(st);
  out->arp_pending = st->arp.wait.len;
  out->reasm_slots = st->ip.reasm_slots_used;
  out->reasm_bytes = st->ip.reasm_bytes_used;
  out->tcp_buf_chunks = st->tcp.pool.in_use;
  out->tcp_buf_claimed = st->tcp.pool.claimed;
}

/* ---- handles: generic calls dispatch by kind ----------------------------------------------- */
unsigned microtcp_poll(const microtcp_stack *st, int handle) {
  switch (handle_kind(handle)) {
  case HK_TCP:
  case HK_LISTENER: return mtcp_tcp_poll(st, handle);
  case HK_UDP: return mtcp_udp_poll(st, handle);
  default: return 0;
  }
}

int microtcp_socket_error(microtcp_stack *st, int handle) {
  switch (handle_kind(handle)) {
  case HK_TCP:
  case HK_LISTENER: return mtcp_tcp_socket_error(st, handle);
  case HK_UDP: return mtcp_udp_socket_error(st, handle);
  default: return MICROTCP_EBADF;
  }
}

int microtcp_local_port(const microtcp_stack *st, int h) {
  switch (handle_kind(h)) {
  case HK_TCP:
  case HK_LISTENER: return mtcp_tcp_local_port(st, h);
  case HK_UDP: return mtcp_udp_local_port(st, h);
  default: return MICROTCP_EBADF;
  }
}

/* ---- shared helpers ------------------------------------------------------------------------ */
void mtcp_trace(struct microtcp_stack *st, int kind, const char *msg, uint32_t a, uint32_t b) {
  if (st->cfg.trace) st->cfg.trace(st->cfg.trace_ctx, st->now, kind, msg, a, b);
}

/* ---- events: recorded during processing, delivered at the end of the call ----------------- */
/* The slot of a handle: its kind and index without the generation. Two
 * pending handles of one slot are two incarnations of a socket; only the
 * newest can still be open. */
static uint32_t handle_slot(int h) { return (uint32_t)h & ~(0x0fffu << 16); }

void mtcp_notify(struct microtcp_stack *st, int handle) {
  if (st->cfg.event == NULL) return;
  for (uint32_t i = st->evq_head; i < st->evq_len; i++) {
    if (st->evq[i] == handle) return; /* already pending */
    if (handle_slot(st->evq[i]) == handle_slot(handle)) {
      /* A closed predecessor in this slot: drop it, keeping one entry per slot. */
      memmove(&st->evq[i], &st->evq[i + 1], (st->evq_len - i - 1) * sizeof *st->evq);
      st->evq_len--;
      break;
    }
  }
  if (st->evq_len == st->evq_cap) { /* room left of evq_head: slide down */
    uint32_t n = st->evq_len - st->evq_head;
    memmove(st->evq, &st->evq[st->evq_head], n * sizeof *st->evq);
    st->evq_head = 0;
    st->evq_len = n;
  }
  /* Distinct slots, at most evq_cap of them: there is always room. */
  MICROTCP_ASSERT(st->evq_len < st->evq_cap);
  st->evq[st->evq_len++] = handle;
}

/* Is handle still an open socket of the application? (Every kind answers
 * microtcp_local_port with MICROTCP_EBADF once closed, and never changes
 * anything.) */
static bool handle_open(const struct microtcp_stack *st, int handle) {
  return microtcp_local_port(st, handle) >= 0;
}

void mtcp_events_deliver(struct microtcp_stack *st) {
  /* The end of a public call (a callback's too): the connection blocks it
   * touched get their timers re-keyed before anyone (a callback included)
   * can ask microtcp_deadline. */
  mtcp_tcp_timers_sync(st);
  if (st->ev_delivering) return; /* a callback's call: the running loop delivers */
  st->ev_delivering = true;
  while (st->evq_head < st->evq_len) {
    int h = st->evq[st->evq_head++];
    if (st->evq_head == st->evq_len) st->evq_head = st->evq_len = 0;
    /* A socket the application closed since (in an earlier callback) is skipped. */
    if (handle_open(st, h)) st->cfg.event(st->cfg.event_ctx, h, microtcp_poll(st, h));
  }
  st->ev_delivering = false;
}

uint64_t mtcp_prf(const struct microtcp_stack *st, const void *data, size_t len) {
  return microtcp_siphash(st->cfg.secret, data, len);
}

/* RFC 6056 3.3.3 (Algorithm 3, "Simple Hash-Based Port Selection"): the offset
 * comes from a keyed hash of the connection's remote end, so ports are not
 * predictable across destinations; a per-stack counter moves on each use. */
int mtcp_ephemeral_port(struct microtcp_stack *st, uint8_t proto, uint32_t remote_ip,
                   uint16_t remote_port, port_in_use_fn in_use, const void *ctx) {
  const uint32_t lo = 49152, count = 65536 - 49152;
  uint8_t key[7];
  key[0] = proto;
  wire_put32(key + 1, remote_ip);
  wire_put16(key + 5, remote_port);
  uint32_t offset = (uint32_t)mtcp_prf(st, key, sizeof key);
  for (uint32_t i = 0; i < count; i++) {
    uint16_t port = (uint16_t)(lo + (offset + st->port_counter + i) % count);
    if (!in_use(st, port, ctx)) {
      st->port_counter += i + 1;
      return port;
    }
  }
  return MICROTCP_EADDRINUSE;
}

/* ---- names ---------------------------------------------------------------------------------- */
const char *microtcp_strerror(int err) {
  switch (err) {
#define MICROTCP_X_TEXT(name, value, text, posix) \
  case value: return text;
    MICROTCP_ERRORS(MICROTCP_X_TEXT)
#undef MICROTCP_X_TEXT
  default: return "unknown error";
  }
}

const char *microtcp_state_name(int state) {
  switch (state) {
  case MICROTCP_CLOSED: return "CLOSED";
  case MICROTCP_LISTEN: return "LISTEN";
  case MICROTCP_SYN_SENT: return "SYN_SENT";
  case MICROTCP_SYN_RECEIVED: return "SYN_RECEIVED";
  case MICROTCP_ESTABLISHED: return "ESTABLISHED";
  case MICROTCP_FIN_WAIT_1: return "FIN_WAIT_1";
  case MICROTCP_FIN_WAIT_2: return "FIN_WAIT_2";
  case MICROTCP_CLOSE_WAIT: return "CLOSE_WAIT";
  case MICROTCP_CLOSING: return "CLOSING";
  case MICROTCP_LAST_ACK: return "LAST_ACK";
  case MICROTCP_TIME_WAIT: return "TIME_WAIT";
  default: return "INVALID";
  }
}
