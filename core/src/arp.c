/*
 * ARP (RFC 826) for Ethernet/IPv4: a bounded cache with aging and refresh, a
 * bounded FIFO of frames waiting for resolution, request retries with
 * exponential backoff, static entries, gratuitous announcement (RFC 5227) and
 * conflict detection. See arp.h for the entry life cycle.
 */
#include "internal.h"

#define IP_BCAST 0xffffffffu
static const uint8_t bcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t zero_mac[6] = {0};

int mtcp_arp_init(struct microtcp_stack *st, struct carve *c, uint64_t now) {
  (void)now;
  st->arp.entries = mtcp_carve_take(c, sizeof(struct arp_entry) * st->cfg.arp_entries);
  idxq_init(&st->arp.wait);
  st->arp.hi = 0;
  return MICROTCP_OK;
}

/* Requests per resolution or refresh (at least one). */
static uint8_t max_requests(const struct microtcp_stack *st) {
  return st->cfg.arp_retries ? st->cfg.arp_retries : 1;
}

/* Wait after the n-th request (n >= 1): arp_retry_us, doubling each time. */
static uint64_t retry_wait(const struct microtcp_stack *st, uint8_t n) {
  return (uint64_t)st->cfg.arp_retry_us << MIN(n - 1u, 20u);
}

/* How long before expiry a used entry starts being re-confirmed: room for
 * every request of a refresh with its backoff, at most half the lifetime. */
static uint64_t refresh_margin(const struct microtcp_stack *st) {
  uint64_t all = 0;
  for (uint8_t n = 1; n <= max_requests(st); n++) all += retry_wait(st, n);
  return MIN(all, (uint64_t)st->cfg.arp_ttl_us / 2);
}

/* ---- sending ARP packets ---------------------------------------------------------------- */
static void send_arp(struct microtcp_stack *st, uint16_t op, const uint8_t *dst_mac,
                     const uint8_t *tha, uint32_t tpa) {
  MICROTCP_ASSERT(op == WIRE_ARP_REQUEST || op == WIRE_ARP_REPLY);
  struct frame *f = mtcp_frame_alloc(st, WIRE_ETH_HLEN);
  if (!f) {
    st->ctr.drop_tx_queue_full++;
    return;
  }
  wire_arp a;
  a.op = op;
  memcpy(a.sha, st->cfg.mac, 6);
  a.spa = st->cfg.ip;
  memcpy(a.tha, tha, 6);
  a.tpa = tpa;
  /* Pad to the Ethernet minimum (60 bytes without FCS). */
  const size_t body = 60 - WIRE_ETH_HLEN;
  MICROTCP_ASSERT(body <= frame_tailroom(st, f));
  uint8_t *p = frame_tail(f);
  (void)wire_arp_emit(&a, p, WIRE_ARP_LEN);
  memset(p + WIRE_ARP_LEN, 0, body - WIRE_ARP_LEN);
  frame_put(st, f, body);
  wire_eth eth;
  memcpy(eth.dst, dst_mac, 6);
  memcpy(eth.src, st->cfg.mac, 6);
  eth.ethertype = WIRE_ETHERTYPE_ARP;
  (void)wire_eth_emit(&eth, frame_push(f, WIRE_ETH_HLEN), WIRE_ETH_HLEN);
  if (op == WIRE_ARP_REQUEST)
    st->ctr.arp_requests_out++;
  else
    st->ctr.arp_replies_out++;
  mtcp_txq_push(st, f);
}

/* A request for ip: broadcast, or unicast to the cached address (refresh,
 * as RFC 1122 2.3.2.1 suggests, so the whole segment is not disturbed). */
static void send_request(struct microtcp_stack *st, uint32_t ip, const uint8_t *unicast) {
  send_arp(st, WIRE_ARP_REQUEST, unicast ? unicast : bcast_mac, zero_mac, ip);
}

void mtcp_arp_announce(struct microtcp_stack *st) {
  /* RFC 5227 2.3: an announcement is a request with sender = target = us. */
  if (st->cfg.arp_gratuitous && st->cfg.ip) send_request(st, st->cfg.ip, NULL);
}

/* ---- the cache ---------------------------------------------------------------------------- */
static struct arp_entry *find(const struct microtcp_stack *st, uint32_t ip) {
  for (uint16_t i = 0; i < st->arp.hi; i++) {
    struct arp_entry *e = &st->arp.entries[i];
    if (e->state != ARP_FREE && e->ip == ip) return e;
  }
  return NULL;
}

static bool usable(const struct arp_entry *e) {
  return e && (e->state == ARP_RESOLVED || e->state == ARP_STATIC);
}

/* Incomplete (PENDING) entries allowed at once: cfg.arp_incomplete, or half
 * the cache when 0 (at least one). */
static uint16_t incomplete_cap(const struct microtcp_stack *st) {
  uint16_t cap = st->cfg.arp_incomplete ? st->cfg.arp_incomplete : st->cfg.arp_entries / 2u;
  return (uint16_t)MAX(1u, MIN(cap, st->cfg.arp_entries));
}

static void forget(struct microtcp_stack *st, struct arp_entry *e);

/* How long a new incomplete entry is safe from eviction: long enough for any
 * neighbour on the link to answer (the round trip of a LAN, or of the
 * simulator's links, is well below it), short against a flood: a sixty-fourth
 * of the first retry wait, at least 1 ms (8 ms by default). A burst of
 * resolutions larger than the cap is admitted a cap at a time (the rest are
 * refused and retried by their senders), and a flood of silent sources frees
 * a cap of entries every grace period. */
static uint64_t pending_grace(const struct microtcp_stack *st) {
  return MAX((uint64_t)st->cfg.arp_retry_us / 64u, 1000u);
}

/* An entry for a new neighbour (zeroed): a free one, else one evicted. An
 * incomplete entry (PENDING: asked, no answer yet) costs a flood of frames
 * from on-link sources that never answer ARP nothing but an entry, so those
 * must not pin the cache (issue 13: ARP starvation): when `pending` (a new
 * resolution) and incomplete entries already fill their cap, an incomplete
 * one makes room; else the least recently used RESOLVED entry; else, rather
 * than refusing, an incomplete one. STATIC entries never go.
 *
 * Which incomplete entry: one drawn by the PRF, not the oldest. With "oldest"
 * a burst of resolutions larger than the cap (a server answering many new
 * clients at once, whose retransmissions come in the same order every time)
 * lets the same last few win every round and starves the others for good;
 * a random victim gives every neighbour the same chance each round, and a
 * legitimate neighbour amid a flood survives the round trip its answer needs
 * with probability about (1 - 1/cap) per competing frame. NULL only if every
 * entry is STATIC. */
static struct arp_entry *take_entry(struct microtcp_stack *st, bool pending) {
  struct arp_entry *free_entry = NULL, *lru_resolved = NULL;
  uint16_t n_pending = 0;
  for (uint16_t i = 0; i < st->arp.hi; i++) {
    struct arp_entry *e = &st->arp.entries[i];
    if (e->state == ARP_FREE && !free_entry) free_entry = e;
    if (e->state == ARP_RESOLVED && (!lru_resolved || e->last_used < lru_resolved->last_used))
      lru_resolved = e;
    if (e->state == ARP_PENDING) n_pending++;
  }
  if (!free_entry && st->arp.hi < st->cfg.arp_entries) free_entry = &st->arp.entries[st->arp.hi];
  struct arp_entry *victim = free_entry ? free_entry : lru_resolved;
  if (pending && n_pending >= incomplete_cap(st)) victim = NULL;
  /* Only incomplete entries that had their chance (pending_grace) may go. */
  uint64_t grace = pending_grace(st);
  n_pending = 0;
  for (uint16_t i = 0; i < st->arp.hi; i++) {
    const struct arp_entry *e = &st->arp.entries[i];
    if (e->state == ARP_PENDING && st->now - e->asked_at >= grace) n_pending++;
  }
  if (!victim && n_pending) {
    struct {
      char tag[4];
      uint32_t n;
      uint64_t now;
    } in = {{'a', 'r', 'p', 'e'}, st->arp.evictions++, st->now};
    uint32_t k = (uint32_t)(mtcp_prf(st, &in, sizeof in) % n_pending);
    for (uint16_t i = 0; i < st->arp.hi; i++) {
      struct arp_entry *e = &st->arp.entries[i];
      if (e->state == ARP_PENDING && st->now - e->asked_at >= grace && k-- == 0) {
        victim = e;
        break;
      }
    }
  }
  if (!victim) return NULL;
  if (victim->state == ARP_PENDING) st->ctr.arp_incomplete_evicted++;
  forget(st, victim);
  uint16_t idx = (uint16_t)(victim - st->arp.entries);
  if (idx >= st->arp.hi) st->arp.hi = (uint16_t)(idx + 1); /* the caller fills it in */
  return victim;
}

/* Create a PENDING entry for ip and send the first request. NULL if the
 * cache has no entry to give. */
static struct arp_entry *start_resolution(struct microtcp_stack *st, uint32_t ip) {
  struct arp_entry *e = take_entry(st, true);
  if (!e) return NULL;
  e->ip = ip;
  e->state = ARP_PENDING;
  e->retries = 1;
  e->last_used = st->now;
  e->asked_at = st->now;
  e->next = st->now + retry_wait(st, 1);
  send_request(st, ip, NULL);
  return e;
}

static void set_resolved(struct microtcp_stack *st, struct arp_entry *e, const uint8_t *mac) {
  memcpy(e->mac, mac, 6);
  e->state = ARP_RESOLVED;
  e->retries = 0;
  e->refreshing = false;
  e->used = false;
  e->expires = st->now + st->cfg.arp_ttl_us;
}

/* ---- frames waiting for resolution ------------------------------------------------------------ */
static void send_to(struct microtcp_stack *st, struct frame *f, const uint8_t *mac) {
  wire_eth eth;
  memcpy(eth.dst, mac, 6);
  memcpy(eth.src, st->cfg.mac, 6);
  eth.ethertype = WIRE_ETHERTYPE_IPV4;
  (void)wire_eth_emit(&eth, frame_push(f, WIRE_ETH_HLEN), WIRE_ETH_HLEN);
  mtcp_txq_push(st, f);
}

/* Take frame i (predecessor prev) off the wait queue; the caller owns it. */
static struct frame *unlink_waiting(struct microtcp_stack *st, uint16_t prev, uint16_t i) {
  struct idxq_pool pool = mtcp_frame_pool(st);
  struct frame *f = mtcp_frame_at(st, i);
  MICROTCP_ASSERT(f->where == FW_ARP_WAIT);
  idxq_unlink(&st->arp.wait, &pool, prev, i);
  f->where = FW_BUILDING;
  return f;
}

/* Send (mac != NULL) or drop and count (mac == NULL) every frame waiting for
 * ip, in FIFO order, keeping the others queued in order. */
static void flush_waiting(struct microtcp_stack *st, uint32_t ip, const uint8_t *mac) {
  uint16_t i = st->arp.wait.head, prev = FRAME_NONE;
  while (i != FRAME_NONE) {
    struct frame *f = mtcp_frame_at(st, i);
    uint16_t next = f->next;
    if (f->nexthop == ip) {
      (void)unlink_waiting(st, prev, i);
      if (mac) {
        send_to(st, f, mac);
      } else {
        st->ctr.drop_arp_unresolved++;
        mtcp_frame_free(st, f);
      }
    } else {
      prev = i;
    }
    i = next;
  }
}

/* Free entry e; frames still waiting for it are dropped and counted. */
static void forget(struct microtcp_stack *st, struct arp_entry *e) {
  if (e->state == ARP_PENDING) flush_waiting(st, e->ip, NULL);
  memset(e, 0, sizeof *e);
}

/* The wait queue is full: drop (counted) the oldest frame of the neighbour
 * with the most frames waiting, so that frames for neighbours that never
 * answer cannot lock out a frame for one that does, and a burst for one
 * neighbour cannot push out everyone else's. */
static void drop_one_waiting(struct microtcp_stack *st) {
  uint16_t best = FRAME_NONE, best_prev = FRAME_NONE, best_n = 0;
  for (uint16_t i = st->arp.wait.head, prev = FRAME_NONE; i != FRAME_NONE;
       prev = i, i = mtcp_frame_at(st, i)->next) {
    uint32_t ip = mtcp_frame_at(st, i)->nexthop;
    uint16_t n = 0;
    bool first = true; /* i is the oldest frame for ip */
    for (uint16_t j = st->arp.wait.head; j != FRAME_NONE; j = mtcp_frame_at(st, j)->next) {
      if (mtcp_frame_at(st, j)->nexthop != ip) continue;
      if (j != i && n == 0) first = false;
      n++;
    }
    if (first && n > best_n) {
      best = i;
      best_prev = prev;
      best_n = n;
    }
  }
  if (best == FRAME_NONE) return;
  struct frame *f = unlink_waiting(st, best_prev, best);
  st->ctr.drop_arp_pending_full++;
  mtcp_frame_free(st, f);
}

static void enqueue_waiting(struct microtcp_stack *st, struct frame *f, uint32_t nexthop) {
  struct idxq_pool pool = mtcp_frame_pool(st);
  MICROTCP_ASSERT(f->where == FW_BUILDING);
  f->nexthop = nexthop;
  f->where = FW_ARP_WAIT;
  idxq_push_tail(&st->arp.wait, &pool, mtcp_frame_index(st, f));
  MICROTCP_ASSERT(st->arp.wait.len <= st->cfg.arp_pending);
}

bool mtcp_arp_can_send(struct microtcp_stack *st, uint32_t nexthop, size_t n) {
  if (nexthop == IP_BCAST) return true;
  struct arp_entry *e = find(st, nexthop);
  if (usable(e)) return true;
  if (!e && nexthop != st->cfg.ip) e = start_resolution(st, nexthop);
  /* A full queue makes room by dropping its oldest frames (mtcp_arp_resolve_and_send). */
  if (e && n <= st->cfg.arp_pending) return true;
  st->ctr.drop_arp_pending_full++;
  return false;
}

void mtcp_arp_resolve_and_send(struct microtcp_stack *st, struct frame *f, uint32_t nexthop) {
  if (nexthop == IP_BCAST) {
    send_to(st, f, bcast_mac);
    return;
  }
  if (nexthop == st->cfg.ip) { /* never resolve (or cache) our own address */
    st->ctr.drop_no_route++;
    mtcp_frame_free(st, f);
    return;
  }
  struct arp_entry *e = find(st, nexthop);
  if (usable(e)) {
    e->last_used = st->now;
    e->used = true;
    send_to(st, f, e->mac);
    return;
  }
  if (!e && !(e = start_resolution(st, nexthop))) {
    st->ctr.drop_arp_pending_full++;
    mtcp_frame_free(st, f);
    return;
  }
  if (st->cfg.arp_pending == 0) {
    st->ctr.drop_arp_pending_full++;
    mtcp_frame_free(st, f);
    return;
  }
  while (st->arp.wait.len >= st->cfg.arp_pending) drop_one_waiting(st);
  e->last_used = st->now;
  enqueue_waiting(st, f, nexthop);
}

/* ---- input ------------------------------------------------------------------------------------ */
void mtcp_arp_input(struct microtcp_stack *st, const uint8_t *payload, size_t len,
               const uint8_t *eth_src) {
  (void)eth_src;
  wire_arp a;
  if (wire_arp_parse(payload, len, &a) < 0) {
    st->ctr.drop_arp_malformed++;
    return;
  }
  if (st->cfg.ip != 0 && a.spa == st->cfg.ip) {
    /* Another host claims our address (RFC 5227 2.4; our own frames never get
     * here: stack.c drops frames with our source MAC). Report it; never learn
     * or answer it. */
    st->ctr.arp_conflicts++;
    mtcp_trace(st, MICROTCP_TRACE_ARP_CONFLICT, "arp: another host uses our address", a.spa, 0);
    return;
  }
  /* A sender that cannot be a unicast neighbour is never learned: nor is our
   * own MAC for some other address (frames to it would come back to us).
   * 0.0.0.0 is an RFC 5227 probe: answered below, not learned. */
  if ((a.spa != 0 && mtcp_ipv4_is_martian_src(st, a.spa)) || (a.sha[0] & 1) ||
      memcmp(a.sha, zero_mac, 6) == 0 || memcmp(a.sha, st->cfg.mac, 6) == 0) {
    st->ctr.drop_arp_malformed++;
    return;
  }
  /* RFC 826 merge rule: if the sender is already in the cache, update it
   * (whoever the packet is for); then, only if we are the target, add it. */
  bool for_us = st->cfg.ip != 0 && a.tpa == st->cfg.ip;
  struct arp_entry *e = a.spa ? find(st, a.spa) : NULL;
  if (!e && for_us && a.spa) {
    e = take_entry(st, false);
    if (e) {
      e->ip = a.spa;
      e->last_used = st->now;
    }
  }
  if (e && e->state != ARP_STATIC) {
    bool was_pending = e->state == ARP_PENDING;
    set_resolved(st, e, a.sha);
    if (was_pending) {
      flush_waiting(st, a.spa, a.sha);
      e->used = true; /* someone was waiting to talk to it */
    }
  }
  if (!for_us) {
    st->ctr.drop_arp_not_for_us++;
    return;
  }
  if (a.op == WIRE_ARP_REQUEST) send_arp(st, WIRE_ARP_REPLY, a.sha, a.sha, a.spa);
}

/* ---- timers ----------------------------------------------------------------------------------- */
/* When e next needs attention (UINT64_MAX: never). */
static uint64_t entry_due(const struct microtcp_stack *st, const struct arp_entry *e) {
  switch (e->state) {
  case ARP_PENDING: return e->next;
  case ARP_RESOLVED:
    if (!e->used) return e->expires;
    if (!e->refreshing) return e->expires - MIN(e->expires, refresh_margin(st));
    return e->retries < max_requests(st) ? MIN(e->next, e->expires) : e->expires;
  default: return UINT64_MAX;
  }
}

uint64_t mtcp_arp_deadline(const struct microtcp_stack *st) {
  uint64_t d = UINT64_MAX;
  for (uint16_t i = 0; i < st->arp.hi; i++) d = MIN(d, entry_due(st, &st->arp.entries[i]));
  return d;
}

static void advance_pending(struct microtcp_stack *st, struct arp_entry *e, uint64_t now) {
  if (e->retries >= max_requests(st)) {
    flush_waiting(st, e->ip, NULL); /* give up: drop what waited, counted */
    memset(e, 0, sizeof *e);
    return;
  }
  e->retries++;
  e->next = now + retry_wait(st, e->retries);
  send_request(st, e->ip, NULL);
}

static void advance_resolved(struct microtcp_stack *st, struct arp_entry *e, uint64_t now) {
  if (now >= e->expires) { /* aged out (and not re-confirmed if it was in use) */
    memset(e, 0, sizeof *e);
    return;
  }
  if (!e->refreshing) {
    e->refreshing = true;
    e->retries = 1;
    e->next = now + retry_wait(st, 1);
    send_request(st, e->ip, e->mac); /* first try: unicast to the address we know */
    return;
  }
  if (e->retries < max_requests(st)) {
    e->retries++;
    e->next = now + retry_wait(st, e->retries);
    send_request(st, e->ip, NULL); /* it may have changed its address: ask everyone */
  }
}

void mtcp_arp_advance(struct microtcp_stack *st, uint64_t now) {
  for (uint16_t i = 0; i < st->arp.hi; i++) {
    struct arp_entry *e = &st->arp.entries[i];
    if (entry_due(st, e) > now) continue;
    if (e->state == ARP_PENDING)
      advance_pending(st, e, now);
    else
      advance_resolved(st, e, now);
  }
  while (st->arp.hi && st->arp.entries[st->arp.hi - 1].state == ARP_FREE) st->arp.hi--;
}

uint32_t mtcp_arp_entries_in_use(const struct microtcp_stack *st) {
  uint32_t n = 0;
  for (uint16_t i = 0; i < st->arp.hi; i++) n += st->arp.entries[i].state != ARP_FREE;
  return n;
}

/* ---- public API --------------------------------------------------------------------------------- */
int microtcp_arp_add_static(microtcp_stack *st, uint32_t ip, const uint8_t mac[6]) {
  if (mac == NULL || ip == st->cfg.ip || mtcp_ipv4_is_martian_src(st, ip) || (mac[0] & 1))
    return MICROTCP_EINVAL;
  struct arp_entry *e = find(st, ip);
  bool was_pending = e && e->state == ARP_PENDING;
  if (!e) e = take_entry(st, false);
  if (!e) return MICROTCP_ENOMEM;
  memset(e, 0, sizeof *e);
  e->ip = ip;
  memcpy(e->mac, mac, 6);
  e->state = ARP_STATIC;
  if (was_pending) flush_waiting(st, ip, mac);
  return MICROTCP_OK;
}

int microtcp_arp_lookup(const microtcp_stack *st, uint32_t ip, uint8_t mac[6]) {
  const struct arp_entry *e = find(st, ip);
  if (mac == NULL) return MICROTCP_EINVAL;
  if (!usable(e)) return MICROTCP_EAGAIN;
  memcpy(mac, e->mac, 6);
  return MICROTCP_OK;
}
