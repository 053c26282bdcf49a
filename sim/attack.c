/*
 * Attacker hosts (issue 13, the simulator's part): an [attacker NAME] section
 * is a host on a segment with no stack of its own. It writes raw frames
 * through the wire layer's emitters and reads what reaches it, so a scenario
 * (and a swarm) mixes hostile traffic with link faults. Kinds:
 *
 *   syn-flood   SYNs to target:port from random spoofed 10/8 addresses that
 *               never answer ARP (the half-open queue and pool fill; the
 *               stack must answer with SYN cookies and keep serving);
 *   sockstress  full handshakes from `sources` addresses of its own, an HTTP
 *               request on the ACK, then a zero window held forever (every
 *               probe answered with window 0): connections that hold memory
 *               and make no progress (per-peer cap, stalled eviction);
 *   slowloris   full handshakes, then one byte of a never-ending HTTP header
 *               per connection every `interval`;
 *   rst-probe   blind injection against a victim connection of a flow whose
 *               4-tuple the attacker knows: in-window RSTs that are not exact,
 *               in-window SYNs, in-window data with an unacceptable ACK, and
 *               RSTs at random sequence numbers (RFC 5961: challenge ACKs or
 *               silent drops, never a reset or accepted data);
 *   icmp-forge  ICMP destination-unreachable errors (port, protocol, host,
 *               fragmentation needed) quoting the victim connection with a
 *               sequence number it really has in flight (RFC 5927: soft errors
 *               in synchronized states).
 *
 * Knowledge of the victim connection: the attacker observes the victim host's
 * own segments (sim.c calls attack_observe for every frame a tapped host
 * sends). That is the state an off-path attacker reaches after inferring the
 * 4-tuple and window (the CVE-2016-5696 class); what it sends stays blind to
 * the exact RCV.NXT it would need for an acceptable RST.
 *
 * All randomness comes from the attacker's stream (seed, 81, name), so a seed
 * still names the run.
 */
#include <stdlib.h>
#include <string.h>

#include "microtcp/wire.h"
#include "prng.h"
#include "sim.h"

#define ATK_FRAME_MAX 1514

static const char slowloris_header[] = "GET / HTTP/1.1\r\nHost: victim\r\n";
static const char slowloris_line[] = "X-a: b\r\n"; /* repeated, never the blank line */
static const char sockstress_request[] = "GET /1000000 HTTP/1.0\r\n\r\n";

static uint32_t rnd32(struct sim_attack *a) { return (uint32_t)prng_splitmix64(&a->rng); }

/* ---- frames ------------------------------------------------------------------------------- */
static void send_frame(struct sim *s, int host, uint8_t *buf, const uint8_t dmac[6], uint32_t src, uint32_t dst,
                       uint8_t proto, size_t l4_len, uint16_t id) {
  const struct sim_host *h = &s->hosts[host];
  wire_eth e;
  memset(&e, 0, sizeof e);
  memcpy(e.dst, dmac, 6);
  memcpy(e.src, h->cfg.mac, 6);
  e.ethertype = WIRE_ETHERTYPE_IPV4;
  wire_ipv4 ip;
  memset(&ip, 0, sizeof ip);
  ip.total_len = (uint16_t)(WIRE_IPV4_HLEN + l4_len);
  ip.id = id;
  ip.df = true;
  ip.ttl = 64;
  ip.proto = proto;
  ip.src = src;
  ip.dst = dst;
  if (wire_eth_emit(&e, buf, WIRE_ETH_HLEN) < 0 || wire_ipv4_emit(&ip, buf + WIRE_ETH_HLEN, WIRE_IPV4_HLEN) < 0)
    abort(); /* fixed sizes: cannot fail */
  h->attack->frames++;
  sim_transmit(s, host, buf, WIRE_ETH_HLEN + WIRE_IPV4_HLEN + l4_len);
}

static void send_tcp(struct sim *s, int host, const uint8_t dmac[6], uint32_t src, uint32_t dst, const wire_tcp *t) {
  uint8_t buf[ATK_FRAME_MAX];
  struct sim_attack *a = s->hosts[host].attack;
  int n = wire_tcp_emit(src, dst, t, buf + WIRE_ETH_HLEN + WIRE_IPV4_HLEN,
                        sizeof buf - WIRE_ETH_HLEN - WIRE_IPV4_HLEN);
  if (n < 0) abort();
  send_frame(s, host, buf, dmac, src, dst, WIRE_IP_PROTO_TCP, (size_t)n, (uint16_t)rnd32(a));
}

static void tcp_seg(wire_tcp *t, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                    uint16_t win, const void *payload, size_t len) {
  memset(t, 0, sizeof *t);
  t->src_port = sport;
  t->dst_port = dport;
  t->seq = seq;
  t->ack = ack;
  t->flags = flags;
  t->window = win;
  t->payload = payload;
  t->payload_len = len;
}

/* ---- held connections (sockstress, slowloris) ---------------------------------------------- */
enum { AC_FREE = 0, AC_SYN_SENT, AC_OPEN };

static uint32_t source_ip(const struct sim *s, const struct sim_attack *a, uint32_t k) {
  (void)s;
  return a->ip + k % a->sources;
}

static struct sim_attack_conn *conn_find(struct sim_attack *a, uint32_t ip, uint16_t port) {
  for (uint32_t i = 0; i < a->connections; i++)
    if (a->conns[i].state != AC_FREE && a->conns[i].ip == ip && a->conns[i].port == port) return &a->conns[i];
  return NULL;
}

static void conn_open(struct sim *s, int host, struct sim_attack_conn *c, uint32_t k) {
  struct sim_attack *a = s->hosts[host].attack;
  c->state = AC_SYN_SENT;
  c->ip = source_ip(s, a, k);
  c->port = (uint16_t)(20000 + a->next_port++ % 40000);
  c->iss = rnd32(a);
  c->sent = 0;
  wire_tcp t;
  tcp_seg(&t, c->port, a->port, c->iss, 0, WIRE_TCP_SYN, 65535, NULL, 0);
  t.opts.has_mss = true;
  t.opts.mss = 1460;
  send_tcp(s, host, s->hosts[a->target].cfg.mac, c->ip, s->hosts[a->target].cfg.ip, &t);
  a->opened++;
}

/* The next byte of a slowloris header (a header that never ends). */
static uint8_t slowloris_byte(uint64_t off) {
  size_t h = sizeof slowloris_header - 1, l = sizeof slowloris_line - 1;
  return (uint8_t)(off < h ? slowloris_header[off] : slowloris_line[(off - h) % l]);
}

static void conn_segment(struct sim *s, int host, struct sim_attack_conn *c, const wire_tcp *in) {
  struct sim_attack *a = s->hosts[host].attack;
  const struct sim_host *v = &s->hosts[a->target];
  wire_tcp t;
  if (in->flags & WIRE_TCP_RST) {
    c->state = AC_FREE; /* the victim let go: open another one on the next tick */
    a->resets++;
    return;
  }
  if (c->state == AC_SYN_SENT) {
    if ((in->flags & (WIRE_TCP_SYN | WIRE_TCP_ACK)) != (WIRE_TCP_SYN | WIRE_TCP_ACK) || in->ack != c->iss + 1) return;
    c->state = AC_OPEN;
    c->irs = in->seq;
    c->una = 0;
    a->established++;
    if (a->kind == ATK_SOCKSTRESS) {
      /* the request and a zero window in one segment: the answer cannot leave */
      tcp_seg(&t, c->port, a->port, c->iss + 1, c->irs + 1, WIRE_TCP_ACK | WIRE_TCP_PSH, 0, sockstress_request,
              sizeof sockstress_request - 1);
      c->sent = sizeof sockstress_request - 1;
    } else {
      tcp_seg(&t, c->port, a->port, c->iss + 1, c->irs + 1, WIRE_TCP_ACK, 65535, NULL, 0);
    }
    send_tcp(s, host, v->cfg.mac, c->ip, v->cfg.ip, &t);
    return;
  }
  if (c->state != AC_OPEN) return;
  if (in->flags & WIRE_TCP_ACK) {
    uint32_t acked = in->ack - (c->iss + 1);
    if (acked <= c->sent && acked > c->una) c->una = acked;
  }
  if (in->flags & WIRE_TCP_FIN) {
    /* the victim closed (eviction or timeout): let go, reopen later */
    tcp_seg(&t, c->port, a->port, c->iss + 1 + (uint32_t)c->sent, in->seq + 1, WIRE_TCP_RST | WIRE_TCP_ACK, 0,
            NULL, 0);
    send_tcp(s, host, v->cfg.mac, c->ip, v->cfg.ip, &t);
    c->state = AC_FREE;
    a->resets++;
    return;
  }
  if (a->kind == ATK_SOCKSTRESS && (in->payload_len || !(in->flags & WIRE_TCP_ACK) || in->seq != c->irs + 1)) {
    /* data or a window probe: acknowledge nothing new, window still zero */
    tcp_seg(&t, c->port, a->port, c->iss + 1 + (uint32_t)c->sent, c->irs + 1, WIRE_TCP_ACK, 0, NULL, 0);
    send_tcp(s, host, v->cfg.mac, c->ip, v->cfg.ip, &t);
    a->probes_answered++;
  }
}

/* Keep `connections` open, opening at most rate/s; slowloris feeds each one
 * byte per interval (resending the first unacknowledged byte). */
static void held_tick(struct sim *s, int host, uint32_t budget) {
  struct sim_attack *a = s->hosts[host].attack;
  const struct sim_host *v = &s->hosts[a->target];
  for (uint32_t i = 0; i < a->connections; i++) {
    struct sim_attack_conn *c = &a->conns[i];
    if (c->state == AC_FREE && budget) {
      conn_open(s, host, c, i);
      budget--;
      continue;
    }
    if (a->kind != ATK_SLOWLORIS || c->state != AC_OPEN || s->now < c->next_at) continue;
    c->next_at = s->now + a->interval_us;
    uint8_t b = slowloris_byte(c->una);
    wire_tcp t;
    tcp_seg(&t, c->port, a->port, c->iss + 1 + (uint32_t)c->una, c->irs + 1, WIRE_TCP_ACK | WIRE_TCP_PSH, 65535,
            &b, 1);
    if (c->una + 1 > c->sent) c->sent = c->una + 1;
    send_tcp(s, host, v->cfg.mac, c->ip, v->cfg.ip, &t);
    a->bytes_trickled++;
  }
}

/* ---- syn-flood ----------------------------------------------------------------------------- */
static bool is_host_ip(const struct sim *s, uint32_t ip) {
  for (int i = 0; i < s->nhosts; i++)
    if (s->hosts[i].cfg.ip == ip) return true;
  return false;
}

static void syn_flood_tick(struct sim *s, int host, uint32_t n) {
  struct sim_attack *a = s->hosts[host].attack;
  const struct sim_host *v = &s->hosts[a->target];
  for (uint32_t k = 0; k < n; k++) {
    uint32_t src;
    do src = SIM_NET | (rnd32(a) & ~SIM_NETMASK); /* on-link, never answering ARP */
    while ((src & ~SIM_NETMASK) == 0 || (src & ~SIM_NETMASK) == ~SIM_NETMASK || is_host_ip(s, src) ||
           (src >= a->ip && src < a->ip + a->sources));
    wire_tcp t;
    tcp_seg(&t, (uint16_t)(1024 + rnd32(a) % 64000), a->port, rnd32(a), 0, WIRE_TCP_SYN, 65535, NULL, 0);
    t.opts.has_mss = true;
    t.opts.mss = 1460;
    send_tcp(s, host, v->cfg.mac, src, v->cfg.ip, &t);
  }
}

/* ---- attacks on a victim connection --------------------------------------------------------- */
/* The victim host sent a frame: remember its connection's state (4-tuple,
 * RCV.NXT from its ACK field, window, a sequence number in flight). */
void attack_observe(struct sim *s, int attacker, int src, const uint8_t *frame, size_t len) {
  struct sim_attack *a = s->hosts[attacker].attack;
  const struct sim_flow *fl = &s->flows[a->flow];
  wire_eth e;
  wire_ipv4 ip;
  wire_tcp t;
  if (wire_eth_parse(frame, len, &e) < 0 || e.ethertype != WIRE_ETHERTYPE_IPV4) return;
  if (wire_ipv4_parse(e.payload, e.payload_len, &ip) < 0 || ip.proto != WIRE_IP_PROTO_TCP) return;
  if (wire_tcp_parse(ip.payload, ip.payload_len, &t) < 0 || (t.flags & WIRE_TCP_SYN)) return;
  int peer = a->victim == fl->server ? fl->client : fl->server;
  if (src != a->victim || ip.dst != s->hosts[peer].cfg.ip) return;
  if ((a->victim == fl->server ? t.src_port : t.dst_port) != fl->port) return;
  if (t.flags & (WIRE_TCP_FIN | WIRE_TCP_RST)) {
    a->seen = a->v_have_inflight = false; /* the connection ends: wait for the next one */
    return;
  }
  a->seen = true;
  a->v_ip = ip.src;
  a->p_ip = ip.dst;
  a->v_port = t.src_port;
  a->p_port = t.dst_port;
  a->v_rcv_nxt = t.ack;
  a->v_win = t.window ? t.window : 1;
  if (t.payload_len) {
    a->v_inflight = t.seq; /* a byte the victim has sent and not yet seen acknowledged */
    a->v_have_inflight = true;
  }
}

static void rst_probe_tick(struct sim *s, int host, uint32_t n) {
  struct sim_attack *a = s->hosts[host].attack;
  if (!a->seen) return;
  static const uint8_t junk[16] = "injected-bytes!!";
  for (uint32_t k = 0; k < n; k++) {
    uint32_t r = rnd32(a), in_win = a->v_rcv_nxt + 1 + r % (a->v_win > 1 ? a->v_win - 1u : 1u);
    wire_tcp t;
    switch (a->probes++ % 4) {
    case 0: /* in window, not exact: RFC 5961 3.2 says challenge ACK */
      tcp_seg(&t, a->p_port, a->v_port, in_win, 0, WIRE_TCP_RST, 0, NULL, 0);
      break;
    case 1: /* SYN in a synchronized state: RFC 5961 4.2 challenge ACK */
      tcp_seg(&t, a->p_port, a->v_port, in_win, 0, WIRE_TCP_SYN, 65535, NULL, 0);
      break;
    case 2: /* data in window with an ACK far outside what the victim sent (RFC 5961 5.2) */
      tcp_seg(&t, a->p_port, a->v_port, a->v_rcv_nxt, a->v_inflight + 0x80000000u, WIRE_TCP_ACK | WIRE_TCP_PSH,
              65535, junk, sizeof junk);
      break;
    default: /* blind: a random sequence number */
      tcp_seg(&t, a->p_port, a->v_port, r ^ rnd32(a), 0, WIRE_TCP_RST, 0, NULL, 0);
      break;
    }
    send_tcp(s, host, a->v_mac_dst, a->p_ip, a->v_ip, &t);
  }
}

static void icmp_forge_tick(struct sim *s, int host, uint32_t n) {
  struct sim_attack *a = s->hosts[host].attack;
  if (!a->seen || !a->v_have_inflight) return;
  static const uint8_t codes[4] = {WIRE_ICMP_UNREACH_PORT, WIRE_ICMP_UNREACH_PROTO, WIRE_ICMP_UNREACH_HOST,
                                   WIRE_ICMP_UNREACH_NEEDFRAG};
  for (uint32_t k = 0; k < n; k++) {
    /* the quoted datagram: the victim's own segment, as if a router sent it back */
    uint8_t quote[WIRE_IPV4_HLEN + WIRE_TCP_HLEN];
    wire_ipv4 q;
    memset(&q, 0, sizeof q);
    q.total_len = 40 + 100;
    q.ttl = 63;
    q.proto = WIRE_IP_PROTO_TCP;
    q.src = a->v_ip;
    q.dst = a->p_ip;
    q.df = true;
    wire_tcp t;
    tcp_seg(&t, a->v_port, a->p_port, a->v_inflight, a->v_rcv_nxt, WIRE_TCP_ACK, a->v_win, NULL, 0);
    if (wire_ipv4_emit(&q, quote, WIRE_IPV4_HLEN) < 0 ||
        wire_tcp_emit(a->v_ip, a->p_ip, &t, quote + WIRE_IPV4_HLEN, WIRE_TCP_HLEN) < 0)
      abort();
    uint8_t code = codes[a->probes++ % 4];
    wire_icmp ic;
    memset(&ic, 0, sizeof ic);
    ic.type = WIRE_ICMP_DEST_UNREACH;
    ic.code = code;
    /* frag needed: a next-hop MTU 296..1295 (RFC 1191 4) */
    ic.rest = code == WIRE_ICMP_UNREACH_NEEDFRAG ? 296u + rnd32(a) % 1000u : 0;
    ic.payload = quote;
    ic.payload_len = WIRE_IPV4_HLEN + 8; /* RFC 792: the header and 8 bytes */
    uint8_t buf[ATK_FRAME_MAX];
    int m = wire_icmp_emit(&ic, buf + WIRE_ETH_HLEN + WIRE_IPV4_HLEN, sizeof buf - WIRE_ETH_HLEN - WIRE_IPV4_HLEN);
    if (m < 0) abort();
    /* from the peer (port/protocol unreachable come from the destination) */
    send_frame(s, host, buf, a->v_mac_dst, a->p_ip, a->v_ip, WIRE_IP_PROTO_ICMP, (size_t)m, (uint16_t)rnd32(a));
  }
}

/* ---- scheduling ------------------------------------------------------------------------------ */
/* Ticks every millisecond (or every 1/rate s when slower); each sends the
 * frames (or new connections) the rate allows since the start. */
static uint64_t tick_us(const struct sim_attack *a) {
  uint64_t per = a->rate ? 1000000u / a->rate : 1000000u;
  return per > 1000 ? per : 1000;
}

void attack_start(struct sim *s, int host) {
  struct sim_attack *a = s->hosts[host].attack;
  a->rng = sim_stream_seed(s->seed, 81, s->hosts[host].id);
  if (a->connections) {
    a->conns = calloc(a->connections, sizeof *a->conns);
    if (!a->conns) abort();
  }
  if (a->flow >= 0) {
    memcpy(a->v_mac_dst, s->hosts[a->victim].cfg.mac, 6);
    s->hosts[a->victim].tapped = true;
  }
  sim_schedule(s, a->start_us, EV_ATTACK, host);
}

void attack_tick(struct sim *s, int host) {
  struct sim_host *h = &s->hosts[host];
  struct sim_attack *a = h->attack;
  if (!h->up || s->now >= a->stop_us) return;
  uint64_t due = (s->now - a->start_us + 1) * a->rate / 1000000u + 1; /* frames allowed so far */
  uint32_t n = due > a->done ? (uint32_t)(due - a->done) : 0;
  if (n > 10000) n = 10000;
  a->done += n;
  switch (a->kind) {
  case ATK_SYN_FLOOD: syn_flood_tick(s, host, n); break;
  case ATK_SOCKSTRESS:
  case ATK_SLOWLORIS: held_tick(s, host, n); break;
  case ATK_RST_PROBE: rst_probe_tick(s, host, n); break;
  case ATK_ICMP_FORGE: icmp_forge_tick(s, host, n); break;
  default: break;
  }
  sim_schedule(s, s->now + tick_us(a), EV_ATTACK, host);
}

/* ---- what reaches the attacker ------------------------------------------------------------- */
void attack_input(struct sim *s, int host, const uint8_t *frame, size_t len) {
  struct sim_host *h = &s->hosts[host];
  struct sim_attack *a = h->attack;
  wire_eth e;
  if (wire_eth_parse(frame, len, &e) < 0) return;
  if (e.ethertype == WIRE_ETHERTYPE_ARP) {
    /* answer for the addresses it opens connections from (not the spoofed ones) */
    wire_arp q;
    if (wire_arp_parse(e.payload, e.payload_len, &q) < 0 || q.op != WIRE_ARP_REQUEST) return;
    if (q.tpa < a->ip || q.tpa >= a->ip + a->sources) return;
    wire_arp r;
    memset(&r, 0, sizeof r);
    r.op = WIRE_ARP_REPLY;
    memcpy(r.sha, h->cfg.mac, 6);
    r.spa = q.tpa;
    memcpy(r.tha, q.sha, 6);
    r.tpa = q.spa;
    uint8_t buf[64];
    memset(buf, 0, sizeof buf);
    wire_eth re;
    memset(&re, 0, sizeof re);
    memcpy(re.dst, q.sha, 6);
    memcpy(re.src, h->cfg.mac, 6);
    re.ethertype = WIRE_ETHERTYPE_ARP;
    if (wire_eth_emit(&re, buf, WIRE_ETH_HLEN) < 0 || wire_arp_emit(&r, buf + WIRE_ETH_HLEN, WIRE_ARP_LEN) < 0)
      abort();
    sim_transmit(s, host, buf, 60);
    return;
  }
  if (e.ethertype != WIRE_ETHERTYPE_IPV4 || !a->conns) return;
  wire_ipv4 ip;
  wire_tcp t;
  if (wire_ipv4_parse(e.payload, e.payload_len, &ip) < 0 || ip.proto != WIRE_IP_PROTO_TCP) return;
  if (wire_tcp_parse(ip.payload, ip.payload_len, &t) < 0) return;
  if (ip.src != s->hosts[a->target].cfg.ip || t.src_port != a->port) return;
  struct sim_attack_conn *c = conn_find(a, ip.dst, t.dst_port);
  if (c) {
    conn_segment(s, host, c, &t);
  } else if (!(t.flags & WIRE_TCP_RST) && ip.dst >= a->ip && ip.dst < a->ip + a->sources) {
    /* a connection it let go of (its RST lost, a slot reused): reset it as
     * any host would (RFC 9293 3.10.7.1), so the victim does not hold it */
    wire_tcp r;
    uint32_t seglen = (uint32_t)t.payload_len + !!(t.flags & WIRE_TCP_SYN) + !!(t.flags & WIRE_TCP_FIN);
    if (t.flags & WIRE_TCP_ACK) tcp_seg(&r, t.dst_port, t.src_port, t.ack, 0, WIRE_TCP_RST, 0, NULL, 0);
    else tcp_seg(&r, t.dst_port, t.src_port, 0, t.seq + seglen, WIRE_TCP_RST | WIRE_TCP_ACK, 0, NULL, 0);
    send_tcp(s, host, s->hosts[a->target].cfg.mac, ip.dst, ip.src, &r);
  }
}

/* End of run: the attacker's process exits, so its held connections are
 * reset (exactly at the victim's RCV.NXT) rather than left to the victim. */
void attack_finish(struct sim *s, int host) {
  struct sim_attack *a = s->hosts[host].attack;
  const struct sim_host *v = &s->hosts[a->target];
  for (uint32_t i = 0; a->conns && i < a->connections; i++) {
    struct sim_attack_conn *c = &a->conns[i];
    if (c->state != AC_OPEN) continue;
    wire_tcp t;
    tcp_seg(&t, c->port, a->port, c->iss + 1 + (uint32_t)c->una, 0, WIRE_TCP_RST, 0, NULL, 0);
    send_tcp(s, host, v->cfg.mac, c->ip, v->cfg.ip, &t);
    c->state = AC_FREE;
  }
}

const char *attack_kind_name(enum sim_attack_kind k) {
  switch (k) {
  case ATK_SYN_FLOOD: return "syn-flood";
  case ATK_SOCKSTRESS: return "sockstress";
  case ATK_SLOWLORIS: return "slowloris";
  case ATK_RST_PROBE: return "rst-probe";
  case ATK_ICMP_FORGE: return "icmp-forge";
  default: return "?";
  }
}
