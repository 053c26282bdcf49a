/* The replayed host: detection, frame direction and config (see host.h). */
#include "host.h"

#include "capture.h"
#include "tap_config.h"

#include <string.h>

static bool is_bcast(const uint8_t m[6]) {
  static const uint8_t ff[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  return memcmp(m, ff, 6) == 0;
}

bool host_pick_candidate(struct host_pick *hp, const struct pkt *p) {
  if (p->layer == PKT_TCP && (p->tcp.flags & (WIRE_TCP_SYN | WIRE_TCP_ACK)) == WIRE_TCP_SYN) {
    hp->have_syn = true;
    hp->syn_dst = p->ip.dst;
    return true;
  }
  if (p->layer >= PKT_IP && !hp->have_ip) {
    hp->have_ip = true;
    hp->ip_dst = p->ip.dst;
  }
  if (p->layer == PKT_ARP && p->arp.op == WIRE_ARP_REQUEST && p->arp.spa != p->arp.tpa &&
      !hp->have_arp) {
    hp->have_arp = true;
    hp->arp_tpa = p->arp.tpa;
  }
  return false;
}

bool host_pick_done(const struct host_pick *hp, uint32_t *ip) {
  if (hp->have_syn)
    *ip = hp->syn_dst;
  else if (hp->have_ip)
    *ip = hp->ip_dst;
  else if (hp->have_arp)
    *ip = hp->arp_tpa;
  else
    return false;
  return true;
}

void host_init(struct host *h, uint32_t ip) {
  memset(h, 0, sizeof *h);
  h->ip = ip;
  h->prefix = -1;
  static const uint8_t def[6] = {0x02, 0, 0, 0, 0, 0x02};
  memcpy(h->mac, def, 6);
}

enum dir host_dir(const struct host *h, const struct pkt *p) {
  if (p->layer == PKT_ARP) {
    if (p->arp.spa == h->ip) {
      /* Someone else claiming H's address is news for H, not H talking. */
      if (h->mac_known && memcmp(p->arp.sha, h->mac, 6) != 0) return DIR_TO_HOST;
      return DIR_FROM_HOST;
    }
    if (p->arp.tpa == h->ip) return DIR_TO_HOST;
    return DIR_OTHER;
  }
  if (p->layer >= PKT_IP) {
    if (p->ip.src == h->ip) return DIR_FROM_HOST;
    if (p->ip.dst == h->ip) return DIR_TO_HOST;
    return DIR_OTHER;
  }
  if (p->len < 6) return DIR_OTHER;
  if (p->len >= 12 && h->mac_known && memcmp(p->raw + 6, h->mac, 6) == 0) return DIR_FROM_HOST;
  if ((h->mac_known && memcmp(p->raw, h->mac, 6) == 0) || is_bcast(p->raw)) return DIR_TO_HOST;
  return DIR_OTHER;
}

static void add_peer(struct host *h, uint32_t ip, const uint8_t mac[6]) {
  if (ip == 0 || ip == h->ip || ip == 0xffffffffu || (ip >> 28) == 0xe || is_bcast(mac) ||
      (mac[0] & 1))
    return;
  for (size_t i = 0; i < h->npeers; i++)
    if (h->peers[i].ip == ip) return;
  if (h->npeers == HOST_MAX_PEERS) return;
  h->peers[h->npeers].ip = ip;
  memcpy(h->peers[h->npeers].mac, mac, 6);
  h->npeers++;
  if ((ip ^ h->ip) >> 8) h->outside_24 = true;
}

void host_learn(struct host *h, const struct pkt *p) {
  if (p->layer == PKT_ARP && p->arp.spa == h->ip) {
    size_t i = 0;
    while (i < h->narp && memcmp(h->arp[i].sha, p->arp.sha, 6))
      i++;
    if (i == h->narp && h->narp < 8) memcpy(h->arp[h->narp++].sha, p->arp.sha, 6);
    if (i < h->narp) {
      if (p->arp.tpa == h->ip)
        h->arp[i].garp = true; /* announcement (RFC 5227) */
      else if (p->arp.op == WIRE_ARP_REQUEST)
        h->arp[i].requests = true;
    }
    return;
  }
  if (p->layer < PKT_ARP) return;
  if (p->layer >= PKT_IP && p->ip.src == h->ip) {
    if (!h->mac_ip_src_k) {
      memcpy(h->mac_ip_src, p->eth.src, 6);
      h->mac_ip_src_k = true;
    }
    if (p->layer == PKT_TCP && (p->tcp.flags & WIRE_TCP_SYN) && !h->syn_seen) {
      h->syn_seen = true;
      h->syn_opts = p->tcp.opts;
      if (!(p->tcp.flags & WIRE_TCP_ACK)) {
        h->h_sends_syn = true;
        h->connect_ip = p->ip.dst;
        h->connect_port = p->tcp.dst_port;
      }
    } else if (p->layer == PKT_TCP && (p->tcp.flags & WIRE_TCP_SYN)) {
      /* A SYN-ACK only carries the options its SYN offered (RFC 7323 2.2,
       * RFC 2018 2), so H supports the union of what its SYNs show. */
      wire_tcp_opts *o = &h->syn_opts;
      const wire_tcp_opts *n = &p->tcp.opts;
      if (!o->has_mss && n->has_mss) o->has_mss = true, o->mss = n->mss;
      if (!o->has_ws && n->has_ws) o->has_ws = true, o->ws = n->ws;
      o->sack_permitted = o->sack_permitted || n->sack_permitted;
      o->has_ts = o->has_ts || n->has_ts;
    }
    return;
  }
  if (host_dir(h, p) != DIR_TO_HOST) return;
  if (p->layer >= PKT_IP && !h->mac_ip_dst_k && !(p->eth.dst[0] & 1)) {
    memcpy(h->mac_ip_dst, p->eth.dst, 6);
    h->mac_ip_dst_k = true;
  }
  if (p->layer == PKT_ARP)
    add_peer(h, p->arp.spa, p->arp.sha);
  else
    add_peer(h, p->ip.src, p->eth.src);
  if (p->layer == PKT_TCP && (p->tcp.flags & (WIRE_TCP_SYN | WIRE_TCP_ACK)) == WIRE_TCP_SYN &&
      !h->first_syn_port) {
    h->first_syn_port = true;
    h->listen_port = p->tcp.dst_port;
  }
}

void host_finish(struct host *h) {
  if (h->mac_ip_src_k) {
    memcpy(h->mac, h->mac_ip_src, 6);
    h->mac_from_host = true;
  } else if (h->mac_ip_dst_k) {
    memcpy(h->mac, h->mac_ip_dst, 6);
  } else if (h->narp) {
    memcpy(h->mac, h->arp[0].sha, 6);
    h->mac_from_host = true;
  }
  h->mac_known = h->mac_ip_src_k || h->mac_ip_dst_k || h->narp;
  for (size_t i = 0; i < h->narp; i++) {
    if (memcmp(h->arp[i].sha, h->mac, 6)) continue;
    h->garp = h->arp[i].garp;
    h->arp_requests = h->arp[i].requests;
  }
}

void host_config(const struct host *h, const struct sidecar *sc, microtcp_config *cfg) {
  microtcp_config_default(cfg);
  memcpy(cfg->mac, h->mac, 6);
  cfg->ip = h->ip;
  int prefix = sc->prefix >= 0 ? sc->prefix : h->outside_24 ? 0 : 24;
  cfg->netmask = prefix ? 0xffffffffu << (32 - prefix) : 0;
  /* microtcp-tap's sizes, timers and secret (tools/tap/tap_config.h, shared,
   * so captures it recorded keep replaying), except 32 connection blocks
   * instead of 1024: each has 256 KiB of buffers, and the number of blocks
   * does not change what a connection sends. Captures that need more (SYN
   * floods) say so in the sidecar's [config]. */
  tap_config_stack(cfg, 32, 128 * 1024, sc->seed);
  /* Room for a static entry per peer (a SYN flood from hundreds of addresses
   * must not fill the cache with entries that can never be evicted). */
  if (h->npeers + 8 > cfg->arp_entries) cfg->arp_entries = (uint16_t)(h->npeers + 8);
  cfg->arp_gratuitous = h->garp;
  if (h->syn_seen) {
    const wire_tcp_opts *o = &h->syn_opts;
    if (o->has_mss) cfg->tcp_mss = o->mss;
    /* A host announcing a larger MSS than Ethernet's has a larger MTU (jumbo
     * frames, loopback): up to the core's 9000, so its frames are not oversize. */
    if (o->has_mss && o->mss > 1460)
      cfg->mtu = (uint16_t)(o->mss > 9000 - 40 ? 9000 : o->mss + 40);
    if (o->has_ws) cfg->tcp_wscale = o->ws > 14 ? 14 : o->ws;
    cfg->tcp_sack = o->sack_permitted;
    cfg->tcp_timestamps = o->has_ts;
  }
  sidecar_apply_config(sc, cfg);
}

int host_from_capture(struct host *h, const struct capture_mem *cap, const struct sidecar *sc,
                      bool *detected) {
  struct pkt p;
  uint32_t ip = sc->as_ip;
  *detected = false;
  if (!sc->has_as) {
    struct host_pick hp;
    memset(&hp, 0, sizeof hp);
    for (size_t i = 0; i < cap->n; i++) {
      pkt_decode(capture_frame(cap, i), cap->frames[i].len, &p);
      if (host_pick_candidate(&hp, &p)) break;
    }
    if (!host_pick_done(&hp, &ip)) return -1;
    *detected = true;
  }
  host_init(h, ip);
  h->detected = *detected;
  for (size_t i = 0; i < cap->n; i++) {
    pkt_decode(capture_frame(cap, i), cap->frames[i].len, &p);
    host_learn(h, &p);
  }
  host_finish(h);
  return 0;
}
