/*
 * ARP (RFC 826) for Ethernet/IPv4: a bounded cache with aging and refresh, a
 * bounded FIFO of frames waiting for resolution, request retries with
 * exponential backoff, static entries, gratuitous announcement (RFC 5227) and
 * conflict detection.
 */
#include "internal.h"

enum { ARP_FREE = 0, ARP_PENDING, ARP_RESOLVED, ARP_STATIC };

static const uint8_t bcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

size_t arp_footprint(const microtcp_config *cfg) {
  return sizeof(struct arp_entry) * cfg->arp_entries;
}

int arp_init(struct microtcp_stack *st, struct carve *c, uint64_t now) {
  (void)now;
  st->arp.entries = carve_take(c, arp_footprint(&st->cfg));
  st->arp.wait_head = st->arp.wait_tail = FRAME_NONE;
  st->arp.pending_count = 0;
  return MICROTCP_OK;
}

static void send_arp(struct microtcp_stack *st, uint16_t op, const uint8_t *dst_mac,
                     const uint8_t *tha, uint32_t tpa, uint32_t spa) {
  struct frame *f = frame_alloc(st);
  if (!f) {
    st->ctr.drop_tx_queue_full++;
    return;
  }
  wire_eth eth;
  memcpy(eth.dst, dst_mac, 6);
  memcpy(eth.src, st->cfg.mac, 6);
  eth.ethertype = WIRE_ETHERTYPE_ARP;
  wire_eth_emit(&eth, f->data, WIRE_ETH_HLEN);
  wire_arp a;
  a.op = op;
  memcpy(a.sha, st->cfg.mac, 6);
  a.spa = spa;
  memcpy(a.tha, tha, 6);
  a.tpa = tpa;
  wire_arp_emit(&a, f->data + WIRE_ETH_HLEN, WIRE_ARP_LEN);
  /* Pad to the Ethernet minimum (60 bytes without FCS). */
  memset(f->data + WIRE_ETH_HLEN + WIRE_ARP_LEN, 0, 60 - WIRE_ETH_HLEN - WIRE_ARP_LEN);
  f->len = 60;
  if (op == WIRE_ARP_REQUEST)
    st->ctr.arp_requests_out++;
  else
    st->ctr.arp_replies_out++;
  txq_push(st, f);
}

static void send_request(struct microtcp_stack *st, uint32_t ip, const uint8_t *unicast) {
  static const uint8_t zero[6] = {0};
  send_arp(st, WIRE_ARP_REQUEST, unicast ? unicast : bcast_mac, zero, ip, st->cfg.ip);
}

void arp_announce(struct microtcp_stack *st) {
  static const uint8_t zero[6] = {0};
  if (st->cfg.arp_gratuitous && st->cfg.ip)
    send_arp(st, WIRE_ARP_REQUEST, bcast_mac, zero, st->cfg.ip, st->cfg.ip);
}

static struct arp_entry *find(const struct microtcp_stack *st, uint32_t ip) {
  for (uint16_t i = 0; i < st->cfg.arp_entries; i++) {
    struct arp_entry *e = &st->arp.entries[i];
    if (e->state != ARP_FREE && e->ip == ip) return e;
  }
  return NULL;
}

/* A free entry, else the least recently used resolved (not static, not
 * pending) one. NULL if every entry is static or pending. */
static struct arp_entry *take_entry(struct microtcp_stack *st) {
  struct arp_entry *victim = NULL;
  for (uint16_t i = 0; i < st->cfg.arp_entries; i++) {
    struct arp_entry *e = &st->arp.entries[i];
    if (e->state == ARP_FREE) return e;
    if (e->state == ARP_RESOLVED && (!victim || e->last_used < victim->last_used)) victim = e;
  }
  if (victim) memset(victim, 0, sizeof *victim);
  return victim;
}

static void fill_eth_and_send(struct microtcp_stack *st, struct frame *f, const uint8_t *mac) {
  memcpy(f->data, mac, 6);
  memcpy(f->data + 6, st->cfg.mac, 6);
  wire_put16(f->data + 12, WIRE_ETHERTYPE_IPV4);
  txq_push(st, f);
}

/* Send (or drop) every waiting frame for ip, keeping the FIFO order of others. */
static void flush_waiting(struct microtcp_stack *st, uint32_t ip, const uint8_t *mac) {
  uint16_t i = st->arp.wait_head, prev = FRAME_NONE;
  while (i != FRAME_NONE) {
    struct frame *f = frame_at(st, i);
    uint16_t next = f->next;
    if (f->nexthop == ip) {
      if (prev == FRAME_NONE)
        st->arp.wait_head = next;
      else
        frame_at(st, prev)->next = next;
      if (st->arp.wait_tail == i) st->arp.wait_tail = prev;
      st->arp.pending_count--;
      if (mac) {
        fill_eth_and_send(st, f, mac);
      } else {
        st->ctr.drop_arp_unresolved++;
        frame_free(st, f);
      }
    } else {
      prev = i;
    }
    i = next;
  }
}

void arp_resolve_and_send(struct microtcp_stack *st, struct frame *f, uint32_t nexthop) {
  if (nexthop == 0xffffffffu) {
    fill_eth_and_send(st, f, bcast_mac);
    return;
  }
  struct arp_entry *e = find(st, nexthop);
  if (e && (e->state == ARP_RESOLVED || e->state == ARP_STATIC)) {
    e->last_used = st->now;
    fill_eth_and_send(st, f, e->mac);
    return;
  }
  if (st->arp.pending_count >= st->cfg.arp_pending) {
    st->ctr.drop_arp_pending_full++;
    frame_free(st, f);
    return;
  }
  if (!e) {
    e = take_entry(st);
    if (!e) {
      st->ctr.drop_arp_pending_full++;
      frame_free(st, f);
      return;
    }
    e->ip = nexthop;
    e->state = ARP_PENDING;
    e->retries = 0;
    e->last_used = st->now;
    e->expires = st->now + st->cfg.arp_retry_us;
    send_request(st, nexthop, NULL);
  }
  f->nexthop = nexthop;
  f->next = FRAME_NONE;
  uint16_t idx = frame_index(st, f);
  if (st->arp.wait_tail == FRAME_NONE)
    st->arp.wait_head = idx;
  else
    frame_at(st, st->arp.wait_tail)->next = idx;
  st->arp.wait_tail = idx;
  st->arp.pending_count++;
}

void arp_input(struct microtcp_stack *st, const uint8_t *payload, size_t len,
               const uint8_t *eth_src) {
  (void)eth_src;
  wire_arp a;
  if (wire_arp_parse(payload, len, &a) < 0) {
    st->ctr.drop_arp_malformed++;
    return;
  }
  if (a.spa == st->cfg.ip && st->cfg.ip != 0) {
    /* Someone else claims our address (RFC 5227 2.4): report, never learn. */
    st->ctr.arp_conflicts++;
    trace(st, MICROTCP_TRACE_ARP_CONFLICT, "arp conflict", a.spa, 0);
    return;
  }
  if (ipv4_is_martian_src(st, a.spa) && a.spa != 0) {
    st->ctr.drop_arp_malformed++;
    return;
  }
  if (a.sha[0] & 1) { /* multicast/broadcast sender hardware address */
    st->ctr.drop_arp_malformed++;
    return;
  }
  /* RFC 826 merge: update an existing entry for the sender; add one only if
   * the packet is for us. */
  bool for_us = a.tpa == st->cfg.ip;
  struct arp_entry *e = a.spa ? find(st, a.spa) : NULL;
  if (!e && for_us && a.spa) {
    e = take_entry(st);
    if (e) {
      e->ip = a.spa;
      e->last_used = st->now;
    }
  }
  if (e && e->state != ARP_STATIC) {
    memcpy(e->mac, a.sha, 6);
    e->state = ARP_RESOLVED;
    e->retries = 0;
    e->refreshing = 0;
    e->expires = st->now + st->cfg.arp_ttl_us;
    flush_waiting(st, a.spa, a.sha);
  }
  if (!for_us) {
    st->ctr.drop_arp_not_for_us++;
    return;
  }
  if (a.op == WIRE_ARP_REQUEST) send_arp(st, WIRE_ARP_REPLY, a.sha, a.sha, a.spa, st->cfg.ip);
}

uint64_t arp_deadline(const struct microtcp_stack *st) {
  uint64_t d = UINT64_MAX;
  for (uint16_t i = 0; i < st->cfg.arp_entries; i++) {
    const struct arp_entry *e = &st->arp.entries[i];
    if (e->state == ARP_PENDING || e->state == ARP_RESOLVED) d = MIN(d, e->expires);
  }
  return d;
}

void arp_advance(struct microtcp_stack *st, uint64_t now) {
  for (uint16_t i = 0; i < st->cfg.arp_entries; i++) {
    struct arp_entry *e = &st->arp.entries[i];
    if ((e->state != ARP_PENDING && e->state != ARP_RESOLVED) || e->expires > now) continue;
    if (e->state == ARP_PENDING) {
      if (e->retries + 1u >= st->cfg.arp_retries) {
        flush_waiting(st, e->ip, NULL); /* give up: drop what waited, count it */
        memset(e, 0, sizeof *e);
        continue;
      }
      e->retries++;
      e->expires = now + ((uint64_t)st->cfg.arp_retry_us << e->retries);
      send_request(st, e->ip, NULL);
      continue;
    }
    /* Resolved and expired: refresh it if it was used during its life (a
     * unicast request to the old address), else forget it. */
    if (!e->refreshing && e->last_used + st->cfg.arp_ttl_us > now) {
      e->refreshing = 1;
      e->expires = now + st->cfg.arp_retry_us * (uint64_t)st->cfg.arp_retries;
      send_request(st, e->ip, e->mac);
    } else {
      memset(e, 0, sizeof *e);
    }
  }
}

uint32_t arp_entries_in_use(const struct microtcp_stack *st) {
  uint32_t n = 0;
  for (uint16_t i = 0; i < st->cfg.arp_entries; i++) n += st->arp.entries[i].state != ARP_FREE;
  return n;
}

int microtcp_arp_add_static(microtcp_stack *st, uint32_t ip, const uint8_t mac[6]) {
  if (ip == st->cfg.ip || ip == 0 || mac == NULL) return MICROTCP_EINVAL;
  struct arp_entry *e = find(st, ip);
  if (!e) e = take_entry(st);
  if (!e) return MICROTCP_ENOMEM;
  e->ip = ip;
  memcpy(e->mac, mac, 6);
  e->state = ARP_STATIC;
  flush_waiting(st, ip, mac);
  return MICROTCP_OK;
}

int microtcp_arp_lookup(const microtcp_stack *st, uint32_t ip, uint8_t mac[6]) {
  const struct arp_entry *e = find(st, ip);
  if (!e || (e->state != ARP_RESOLVED && e->state != ARP_STATIC)) return MICROTCP_EAGAIN;
  memcpy(mac, e->mac, 6);
  return MICROTCP_OK;
}
