/*
 * ARP (arp.c) driven with crafted frames into one instance: replies, the RFC
 * 826 merge rule, gratuitous announcement, the wait queue and its bound,
 * retries with backoff and the unresolved drop, static entries, conflicts,
 * aging and refresh, LRU eviction.
 */
#include "netcraft.h"

#define OTHER 0x0a000009u
static const uint8_t other_mac[6] = {2, 0, 0, 0, 0, 0x09};

static void send_udp_to(struct host *h, int u, uint32_t ip, const char *text) {
  CHECK_EQ(microtcp_udp_sendto(h->st, h->now, u, ip, 7, text, strlen(text)), (int)strlen(text));
}

static void request_for_us_is_answered_and_sender_learned(void) {
  struct host h;
  host_default(&h);
  inject_arp(&h, BCAST_MAC, WIRE_ARP_REQUEST, PEER_MAC, PEER, ZERO_MAC, ME);
  uint8_t f[9100];
  int n = pop(&h, f);
  wire_eth eth;
  wire_arp a;
  CHECK(parse_arp_frame(f, (size_t)n, &eth, &a));
  CHECK_EQ(n, 60); /* padded to the Ethernet minimum */
  CHECK(memcmp(eth.dst, PEER_MAC, 6) == 0);
  CHECK(memcmp(eth.src, ME_MAC, 6) == 0);
  CHECK_EQ(a.op, WIRE_ARP_REPLY);
  CHECK(memcmp(a.sha, ME_MAC, 6) == 0);
  CHECK_EQ(a.spa, ME);
  CHECK(memcmp(a.tha, PEER_MAC, 6) == 0);
  CHECK_EQ(a.tpa, PEER);
  CHECK_EQ(pop(&h, f), 0);
  uint8_t mac[6];
  CHECK_EQ(microtcp_arp_lookup(h.st, PEER, mac), 0);
  CHECK(memcmp(mac, PEER_MAC, 6) == 0);
  CHECK_EQ(ctr(&h)->arp_replies_out, 1);
  /* a probe (sender 0.0.0.0, RFC 5227) is answered but 0.0.0.0 is not learned */
  inject_arp(&h, BCAST_MAC, WIRE_ARP_REQUEST, other_mac, 0, ZERO_MAC, ME);
  n = pop(&h, f);
  CHECK(parse_arp_frame(f, (size_t)n, &eth, &a) && a.op == WIRE_ARP_REPLY && a.tpa == 0);
  CHECK_EQ(microtcp_arp_lookup(h.st, 0, mac), MICROTCP_EAGAIN);
  host_free(&h);
}

static void merge_rule_updates_known_senders_only(void) {
  struct host h;
  host_default(&h);
  /* not for us and unknown sender: not answered, not learned */
  inject_arp(&h, BCAST_MAC, WIRE_ARP_REQUEST, PEER_MAC, PEER, ZERO_MAC, OTHER);
  CHECK_EQ(drain(&h), 0);
  uint8_t mac[6];
  CHECK_EQ(microtcp_arp_lookup(h.st, PEER, mac), MICROTCP_EAGAIN);
  CHECK_EQ(ctr(&h)->drop_arp_not_for_us, 1);
  /* learned from a reply addressed to us ... */
  inject_arp(&h, ME_MAC, WIRE_ARP_REPLY, PEER_MAC, PEER, ME_MAC, ME);
  CHECK_EQ(drain(&h), 0); /* replies are not answered */
  CHECK_EQ(microtcp_arp_lookup(h.st, PEER, mac), 0);
  /* ... and then updated by its broadcast for someone else (RFC 826 merge) */
  const uint8_t moved[6] = {2, 0, 0, 0, 0, 0x77};
  inject_arp(&h, BCAST_MAC, WIRE_ARP_REQUEST, moved, PEER, ZERO_MAC, OTHER);
  CHECK_EQ(microtcp_arp_lookup(h.st, PEER, mac), 0);
  CHECK(memcmp(mac, moved, 6) == 0);
  /* senders that cannot be neighbours are never learned */
  const uint8_t mcast[6] = {1, 0, 0x5e, 0, 0, 1};
  inject_arp(&h, ME_MAC, WIRE_ARP_REPLY, mcast, OTHER, ME_MAC, ME);
  inject_arp(&h, ME_MAC, WIRE_ARP_REPLY, other_mac, 0x7f000001u, ME_MAC, ME);
  CHECK_EQ(ctr(&h)->drop_arp_malformed, 2);
  CHECK_EQ(microtcp_arp_lookup(h.st, OTHER, mac), MICROTCP_EAGAIN);
  /* nor is our own MAC claimed for another address (from some other station) */
  uint8_t g[60] = {0};
  put_eth(g, ME_MAC, other_mac, WIRE_ETHERTYPE_ARP);
  wire_arp spoof = {.op = WIRE_ARP_REPLY, .spa = OTHER, .tpa = ME};
  memcpy(spoof.sha, ME_MAC, 6);
  memcpy(spoof.tha, ME_MAC, 6);
  (void)wire_arp_emit(&spoof, g + 14, 28);
  microtcp_input(h.st, 0, g, sizeof g);
  CHECK_EQ(ctr(&h)->drop_arp_malformed, 3);
  CHECK_EQ(microtcp_arp_lookup(h.st, OTHER, mac), MICROTCP_EAGAIN);
  /* a truncated packet is malformed */
  uint8_t f[40] = {0};
  put_eth(f, BCAST_MAC, PEER_MAC, WIRE_ETHERTYPE_ARP);
  microtcp_input(h.st, 0, f, sizeof f);
  CHECK_EQ(ctr(&h)->drop_arp_malformed, 4);
  host_free(&h);
}

static void gratuitous_arp_at_init(void) {
  struct host h;
  microtcp_config cfg;
  host_config(&cfg);
  cfg.arp_gratuitous = true;
  host_init(&h, &cfg);
  uint8_t f[9100];
  int n = pop(&h, f);
  wire_eth eth;
  wire_arp a;
  CHECK(parse_arp_frame(f, (size_t)n, &eth, &a));
  CHECK(memcmp(eth.dst, BCAST_MAC, 6) == 0);
  CHECK_EQ(a.op, WIRE_ARP_REQUEST);
  CHECK_EQ(a.spa, ME);
  CHECK_EQ(a.tpa, ME);
  CHECK_EQ(pop(&h, f), 0);
  host_free(&h);
  host_default(&h); /* arp_gratuitous off: silent */
  CHECK_EQ(drain(&h), 0);
  host_free(&h);
}

static void waiting_frames_leave_in_order_when_the_reply_arrives(void) {
  struct host h;
  host_default(&h);
  int u = microtcp_udp_bind(h.st, 0, 5000);
  send_udp_to(&h, u, PEER, "first");
  send_udp_to(&h, u, PEER, "second");
  uint8_t f[9100];
  wire_eth eth;
  wire_arp a;
  int n = pop(&h, f);
  CHECK(parse_arp_frame(f, (size_t)n, &eth, &a));
  CHECK(memcmp(eth.dst, BCAST_MAC, 6) == 0);
  CHECK_EQ(a.op, WIRE_ARP_REQUEST);
  CHECK_EQ(a.tpa, PEER);
  CHECK_EQ(a.spa, ME);
  CHECK_EQ(pop(&h, f), 0); /* only one request for both frames */
  CHECK_EQ(usage(&h).arp_pending, 2);
  CHECK_EQ(usage(&h).frames, 2);
  inject_arp(&h, ME_MAC, WIRE_ARP_REPLY, PEER_MAC, PEER, ME_MAC, ME);
  const char *expect[2] = {"first", "second"};
  for (int i = 0; i < 2; i++) {
    wire_ipv4 ip;
    n = pop(&h, f);
    CHECK(parse_ip_frame(f, (size_t)n, &eth, &ip));
    CHECK(memcmp(eth.dst, PEER_MAC, 6) == 0);
    CHECK(ip.payload_len > 8 && memcmp(ip.payload + 8, expect[i], strlen(expect[i])) == 0);
  }
  CHECK_EQ(usage(&h).arp_pending, 0);
  CHECK_EQ(microtcp_arp_lookup(h.st, PEER, f), 0);
  host_free(&h);
}

/* arp_retries requests, the first retry after arp_retry_us and doubling; then
 * every waiting frame is dropped and counted. */
static void retries_back_off_then_waiting_frames_are_dropped(void) {
  struct host h;
  microtcp_config cfg;
  host_config(&cfg);
  cfg.arp_retries = 3;
  cfg.arp_retry_us = 1000;
  host_init(&h, &cfg);
  int u = microtcp_udp_bind(h.st, 0, 5000);
  send_udp_to(&h, u, PEER, "a");
  send_udp_to(&h, u, PEER, "b");
  uint64_t times[8];
  int requests = 0;
  for (int step = 0; step < 10; step++) {
    uint8_t f[9100];
    wire_eth eth;
    wire_arp a;
    int n;
    while ((n = pop(&h, f)) > 0) {
      CHECK(parse_arp_frame(f, (size_t)n, &eth, &a) && a.tpa == PEER);
      if (requests < 8) times[requests] = h.now;
      requests++;
    }
    uint64_t d = microtcp_deadline(h.st);
    if (d == UINT64_MAX) break;
    advance_to(&h, d);
  }
  CHECK_EQ(requests, 3);
  CHECK_EQ(times[0], 0);
  CHECK_EQ(times[1], 1000);
  CHECK_EQ(times[2], 3000);
  CHECK_EQ(h.now, 7000); /* gave up 4 ms after the third request */
  CHECK_EQ(ctr(&h)->drop_arp_unresolved, 2);
  microtcp_pool_usage pu = usage(&h);
  CHECK_EQ(pu.arp_pending, 0);
  CHECK_EQ(pu.frames, 0);
  CHECK_EQ(pu.arp_entries, 0);
  host_free(&h);
}

static void wait_queue_is_bounded(void) {
  struct host h;
  microtcp_config cfg;
  host_config(&cfg);
  cfg.arp_pending = 2;
  host_init(&h, &cfg);
  int u = microtcp_udp_bind(h.st, 0, 5000);
  send_udp_to(&h, u, PEER, "1");
  send_udp_to(&h, u, PEER, "2");
  /* a third datagram takes the place of the oldest, which is dropped and
   * counted (frames for silent neighbours cannot lock the queue) */
  CHECK_EQ(microtcp_udp_sendto(h.st, 0, u, PEER, 7, "3", 1), 1);
  CHECK_EQ(ctr(&h)->drop_arp_pending_full, 1);
  CHECK_EQ(usage(&h).arp_pending, 2);
  /* a datagram needing 3 fragments, more than the queue holds, to an
   * unresolved host: nothing is queued, but resolution starts so a later
   * attempt can succeed */
  static uint8_t big[4000];
  CHECK_EQ(microtcp_udp_sendto(h.st, 0, u, OTHER, 7, big, sizeof big), MICROTCP_ENOMEM);
  CHECK_EQ(usage(&h).arp_pending, 2);
  CHECK_EQ(usage(&h).frames, 4); /* 2 waiting + 2 requests */
  CHECK_EQ(drain(&h), 2);        /* requests for PEER and OTHER */
  host_free(&h);
}

/* The ARP request that starts a resolution takes a frame buffer too: a
 * datagram that needs every free frame must not be half-built when the
 * request took one (mtcp_ipv4_send reserves after asking ARP). */
static void resolution_request_and_datagram_share_the_frame_pool(void) {
  struct host h;
  microtcp_config cfg;
  host_config(&cfg);
  cfg.frames = 3;
  cfg.arp_pending = 8;
  host_init(&h, &cfg);
  int u = microtcp_udp_bind(h.st, 0, 5000);
  static uint8_t big[3000]; /* 3008 bytes with its header: 3 fragments at MTU 1500 */
  /* 3 frames free, 3 fragments: the request would leave only 2 */
  CHECK_EQ(microtcp_udp_sendto(h.st, 0, u, PEER, 7, big, sizeof big), MICROTCP_ENOMEM);
  CHECK_EQ(usage(&h).frames, 1); /* just the request */
  CHECK_EQ(usage(&h).arp_pending, 0);
  /* 2 frames free, 2 fragments, resolution already under way: queued */
  CHECK_EQ(microtcp_udp_sendto(h.st, 0, u, PEER, 7, big, 2000), 2000);
  CHECK_EQ(usage(&h).arp_pending, 2);
  /* nothing left: a one-frame datagram to another host is refused whole */
  CHECK_EQ(microtcp_udp_sendto(h.st, 0, u, OTHER, 7, "x", 1), MICROTCP_ENOMEM);
  CHECK_EQ(drain(&h), 1);
  inject_arp(&h, ME_MAC, WIRE_ARP_REPLY, PEER_MAC, PEER, ME_MAC, ME);
  CHECK_EQ(drain(&h), 2); /* both fragments leave */
  CHECK_EQ(usage(&h).frames, 0);
  /* one free frame, unresolved destination: the request takes it first */
  host_free(&h);
  cfg.frames = 2;
  host_init(&h, &cfg);
  u = microtcp_udp_bind(h.st, 0, 5000);
  CHECK_EQ(microtcp_udp_sendto(h.st, 0, u, PEER, 7, "a", 1), 1);
  CHECK_EQ(microtcp_udp_sendto(h.st, 0, u, OTHER, 7, "b", 1), MICROTCP_ENOMEM);
  CHECK_EQ(usage(&h).frames, 2);
  host_free(&h);
}

static void static_entries_are_never_aged_or_overwritten(void) {
  struct host h;
  microtcp_config cfg;
  host_config(&cfg);
  cfg.arp_entries = 2;
  cfg.arp_ttl_us = 1000000;
  host_init(&h, &cfg);
  CHECK_EQ(microtcp_arp_add_static(h.st, PEER, PEER_MAC), 0);
  CHECK_EQ(microtcp_arp_add_static(h.st, ME, PEER_MAC), MICROTCP_EINVAL);
  CHECK_EQ(microtcp_arp_add_static(h.st, 0xffffffffu, PEER_MAC), MICROTCP_EINVAL);
  /* replies claiming PEER elsewhere do not move it */
  inject_arp(&h, ME_MAC, WIRE_ARP_REPLY, other_mac, PEER, ME_MAC, ME);
  uint8_t mac[6];
  CHECK_EQ(microtcp_arp_lookup(h.st, PEER, mac), 0);
  CHECK(memcmp(mac, PEER_MAC, 6) == 0);
  /* used at once without a request */
  int u = microtcp_udp_bind(h.st, 0, 5000);
  send_udp_to(&h, u, PEER, "x");
  uint8_t f[9100];
  wire_eth eth;
  wire_ipv4 ip;
  CHECK(parse_ip_frame(f, (size_t)pop(&h, f), &eth, &ip));
  CHECK(memcmp(eth.dst, PEER_MAC, 6) == 0);
  /* never aged */
  CHECK_EQ(microtcp_deadline(h.st), UINT64_MAX);
  advance_to(&h, 100000000);
  CHECK_EQ(microtcp_arp_lookup(h.st, PEER, mac), 0);
  /* a cache full of static entries refuses more */
  CHECK_EQ(microtcp_arp_add_static(h.st, OTHER, other_mac), 0);
  CHECK_EQ(microtcp_arp_add_static(h.st, 0x0a000010u, other_mac), MICROTCP_ENOMEM);
  /* and cannot start a resolution: the datagram is refused and counted */
  CHECK_EQ(microtcp_udp_sendto(h.st, 0, u, GW, 7, "y", 1), MICROTCP_ENOMEM);
  CHECK_EQ(ctr(&h)->drop_arp_pending_full, 1);
  CHECK_EQ(usage(&h).frames, 0);
  host_free(&h);
}

static void someone_else_using_our_address_is_a_conflict(void) {
  struct host h;
  host_default(&h);
  inject_arp(&h, BCAST_MAC, WIRE_ARP_REQUEST, other_mac, ME, ZERO_MAC, PEER);
  inject_arp(&h, BCAST_MAC, WIRE_ARP_REQUEST, other_mac, ME, ZERO_MAC, ME); /* its announcement */
  CHECK_EQ(h.traces[MICROTCP_TRACE_ARP_CONFLICT], 2);
  CHECK_EQ(h.last_trace_a, ME);
  CHECK_EQ(ctr(&h)->arp_conflicts, 2);
  uint8_t mac[6];
  CHECK_EQ(microtcp_arp_lookup(h.st, ME, mac), MICROTCP_EAGAIN); /* never cached */
  CHECK_EQ(drain(&h), 0);                                       /* never answered */
  host_free(&h);
}

static void unused_entries_age_out_silently(void) {
  struct host h;
  microtcp_config cfg;
  host_config(&cfg);
  cfg.arp_ttl_us = 10000000;
  host_init(&h, &cfg);
  learn_peer(&h);
  CHECK_EQ(microtcp_deadline(h.st), 10000000);
  advance_to(&h, 9999999);
  uint8_t mac[6];
  CHECK_EQ(microtcp_arp_lookup(h.st, PEER, mac), 0);
  advance_to(&h, 10000000);
  CHECK_EQ(microtcp_arp_lookup(h.st, PEER, mac), MICROTCP_EAGAIN);
  CHECK_EQ(drain(&h), 0);
  CHECK_EQ(usage(&h).arp_entries, 0);
  host_free(&h);
}

/* An entry in use is re-confirmed before it expires: unicast first, then
 * broadcasts; an answer renews it, silence lets it expire. */
static void entries_in_use_are_refreshed_before_expiry(void) {
  struct host h;
  microtcp_config cfg;
  host_config(&cfg);
  cfg.arp_ttl_us = 10000000;
  cfg.arp_retry_us = 100000;
  cfg.arp_retries = 3; /* margin: 100 + 200 + 400 ms = 700 ms */
  host_init(&h, &cfg);
  learn_peer(&h);
  int u = microtcp_udp_bind(h.st, 0, 5000);
  advance_to(&h, 1000000);
  send_udp_to(&h, u, PEER, "in use");
  drain(&h);
  CHECK_EQ(microtcp_deadline(h.st), 9300000);
  advance_to(&h, 9300000);
  uint8_t f[9100];
  wire_eth eth;
  wire_arp a;
  CHECK(parse_arp_frame(f, (size_t)pop(&h, f), &eth, &a));
  CHECK(memcmp(eth.dst, PEER_MAC, 6) == 0); /* unicast to the known address */
  CHECK(memcmp(eth.dst, PEER_MAC, 6) == 0 && a.op == WIRE_ARP_REQUEST && a.tpa == PEER);
  /* the peer answers: renewed for a full lifetime, no more requests */
  inject_arp(&h, ME_MAC, WIRE_ARP_REPLY, PEER_MAC, PEER, ME_MAC, ME);
  CHECK_EQ(microtcp_deadline(h.st), 19300000);
  /* used again, then silence: unicast, two broadcasts, then gone */
  send_udp_to(&h, u, PEER, "again");
  drain(&h);
  CHECK_EQ(microtcp_deadline(h.st), 18600000);
  int unicast = 0, broadcast = 0;
  for (int i = 0; i < 10 && microtcp_deadline(h.st) != UINT64_MAX; i++) {
    advance_to(&h, microtcp_deadline(h.st));
    int n;
    while ((n = pop(&h, f)) > 0) {
      CHECK(parse_arp_frame(f, (size_t)n, &eth, &a) && a.tpa == PEER);
      if (memcmp(eth.dst, BCAST_MAC, 6) == 0)
        broadcast++;
      else
        unicast++;
    }
  }
  CHECK_EQ(unicast, 1);
  CHECK_EQ(broadcast, 2);
  CHECK_EQ(h.now, 19300000);
  uint8_t mac[6];
  CHECK_EQ(microtcp_arp_lookup(h.st, PEER, mac), MICROTCP_EAGAIN);
  host_free(&h);
}

static void full_cache_evicts_least_recently_used(void) {
  struct host h;
  microtcp_config cfg;
  host_config(&cfg);
  cfg.arp_entries = 3;
  cfg.arp_incomplete = 2;
  host_init(&h, &cfg);
  int u = microtcp_udp_bind(h.st, 0, 5000);
  const uint32_t ips[4] = {0x0a000011u, 0x0a000012u, 0x0a000013u, 0x0a000014u};
  uint8_t macs[4][6];
  for (int i = 0; i < 4; i++) {
    memcpy(macs[i], other_mac, 6);
    macs[i][5] = (uint8_t)(0x11 + i);
  }
  for (int i = 0; i < 3; i++) {
    h.now = (uint64_t)(i + 1) * 1000;
    inject_arp(&h, BCAST_MAC, WIRE_ARP_REQUEST, macs[i], ips[i], ZERO_MAC, ME);
  }
  h.now = 5000;
  send_udp_to(&h, u, ips[0], "use 0");
  send_udp_to(&h, u, ips[2], "use 2");
  drain(&h);
  h.now = 6000;
  inject_arp(&h, BCAST_MAC, WIRE_ARP_REQUEST, macs[3], ips[3], ZERO_MAC, ME);
  uint8_t mac[6];
  CHECK_EQ(microtcp_arp_lookup(h.st, ips[1], mac), MICROTCP_EAGAIN); /* least recently used */
  CHECK_EQ(microtcp_arp_lookup(h.st, ips[0], mac), 0);
  CHECK_EQ(microtcp_arp_lookup(h.st, ips[2], mac), 0);
  CHECK_EQ(microtcp_arp_lookup(h.st, ips[3], mac), 0);
  drain(&h);
  /* static entries are never evicted; incomplete (pending) ones are */
  CHECK_EQ(microtcp_arp_add_static(h.st, PEER, PEER_MAC), 0); /* evicts one resolved */
  send_udp_to(&h, u, GW, "pending");                          /* evicts another */
  CHECK_EQ(usage(&h).arp_pending, 1);
  send_udp_to(&h, u, OTHER, "pending too");                   /* evicts the last resolved */
  CHECK_EQ(usage(&h).arp_pending, 2);
  CHECK_EQ(microtcp_arp_lookup(h.st, PEER, mac), 0);
  /* now only static + incomplete entries: once those had their grace time
   * (8 ms: enough for any neighbour to answer), a request from someone new
   * takes one of them (its waiting frame is dropped) */
  inject_arp(&h, BCAST_MAC, WIRE_ARP_REQUEST, macs[1], ips[1], ZERO_MAC, ME);
  CHECK_EQ(microtcp_arp_lookup(h.st, ips[1], mac), MICROTCP_EAGAIN); /* too early */
  h.now += 8000;
  inject_arp(&h, BCAST_MAC, WIRE_ARP_REQUEST, macs[1], ips[1], ZERO_MAC, ME);
  CHECK_EQ(microtcp_arp_lookup(h.st, ips[1], mac), 0);
  CHECK_EQ(usage(&h).arp_pending, 1);
  CHECK_EQ(usage(&h).arp_entries, 3);
  CHECK_EQ(ctr(&h)->arp_incomplete_evicted, 1);
  CHECK_EQ(ctr(&h)->drop_arp_unresolved, 1);
  host_free(&h);
}

/* Issue 13 (ARP starvation): incomplete entries are capped (arp_incomplete);
 * beyond the cap a new resolution evicts an incomplete one that had its grace
 * time (8 ms) to be answered, never a resolved entry; a younger one is not
 * evicted (the new resolution is refused). A full wait queue drops the oldest
 * frame of the neighbour with the most frames waiting. */
static void incomplete_entries_are_capped_and_oldest_evicted(void) {
  struct host h;
  microtcp_config cfg;
  host_config(&cfg);
  cfg.arp_entries = 4;
  cfg.arp_incomplete = 2;
  cfg.arp_pending = 2;
  host_init(&h, &cfg);
  learn_peer(&h); /* resolved */
  int u = microtcp_udp_bind(h.st, 0, 5000);
  uint8_t mac[6];
  for (uint32_t i = 0; i < 10; i++) {
    h.now = 10000u * (i + 1);
    send_udp_to(&h, u, 0x0a000020u + i, "never answered");
    drain(&h);
    CHECK(usage(&h).arp_entries <= 3); /* the peer + at most 2 incomplete */
    CHECK(usage(&h).arp_pending <= 2);
  }
  CHECK_EQ(microtcp_arp_lookup(h.st, PEER, mac), 0); /* never evicted by them */
  CHECK_EQ(ctr(&h)->arp_incomplete_evicted, 8);
  /* within the grace time nothing is evicted: the new resolution is refused */
  h.now += 1000; /* the entries are 1 ms and 11 ms old: the older one goes */
  CHECK_EQ(microtcp_udp_sendto(h.st, h.now, u, 0x0a000030u, 7, "x", 1), 1);
  h.now += 1000; /* now 1 ms and 2 ms old: none goes */
  CHECK_EQ(microtcp_udp_sendto(h.st, h.now, u, 0x0a000031u, 7, "x", 1), MICROTCP_ENOMEM);
  CHECK_EQ(ctr(&h)->arp_incomplete_evicted, 9);
  /* the wait queue: two frames for one silent neighbour, then one for
   * another pushes out the oldest of those two */
  h.now = 200000;
  send_udp_to(&h, u, 0x0a000040u, "a");
  send_udp_to(&h, u, 0x0a000040u, "b");
  uint64_t dropped = ctr(&h)->drop_arp_pending_full;
  h.now = 210000;
  send_udp_to(&h, u, 0x0a000041u, "c");
  CHECK_EQ(ctr(&h)->drop_arp_pending_full, dropped + 1);
  CHECK_EQ(usage(&h).arp_pending, 2);
  host_free(&h);
}

int main(void) {
  RUN(request_for_us_is_answered_and_sender_learned);
  RUN(merge_rule_updates_known_senders_only);
  RUN(gratuitous_arp_at_init);
  RUN(waiting_frames_leave_in_order_when_the_reply_arrives);
  RUN(retries_back_off_then_waiting_frames_are_dropped);
  RUN(wait_queue_is_bounded);
  RUN(resolution_request_and_datagram_share_the_frame_pool);
  RUN(static_entries_are_never_aged_or_overwritten);
  RUN(someone_else_using_our_address_is_a_conflict);
  RUN(unused_entries_age_out_silently);
  RUN(entries_in_use_are_refreshed_before_expiry);
  RUN(full_cache_evicts_least_recently_used);
  RUN(incomplete_entries_are_capped_and_oldest_evicted);
  return check_report();
}
