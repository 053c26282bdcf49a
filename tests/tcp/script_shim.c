/*
 * A thin C layer for the TCP script runner (tests/tcp/pktrun.py, via ctypes):
 * one stack instance configured for scripts, bare IPv4 packets in and out (the
 * shim adds/strips Ethernet and pins the gateway's MAC), and by-name access to
 * config knobs, per-connection stats and counters, so Python never mirrors C
 * structs.
 *
 * Addresses: the stack is 192.168.0.2/16 behind gateway 192.168.0.1; the
 * remote peer 192.0.2.1 is reached through the gateway.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "microtcp/microtcp.h"

static const uint8_t stack_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
static const uint8_t gw_mac[6] = {0x02, 0, 0, 0, 0, 0x01};

struct shim {
  microtcp_stack *st;
  void *arena;
};

/* Apply "key=value key=value" overrides to a config. Returns 0 or -1. */
static int apply_overrides(microtcp_config *c, const char *kv) {
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", kv ? kv : "");
  for (char *tok = strtok(buf, " \t,"); tok; tok = strtok(NULL, " \t,")) {
    char *eq = strchr(tok, '=');
    if (!eq) return -1;
    *eq = 0;
    long long v = strtoll(eq + 1, NULL, 0);
    const char *k = tok;
#define KNOB(name)                      \
  if (!strcmp(k, #name)) {              \
    c->name = (__typeof__(c->name))v;   \
    continue;                           \
  }
    KNOB(mtu) KNOB(max_tcp) KNOB(max_listeners) KNOB(tcp_sndbuf) KNOB(tcp_rcvbuf) KNOB(frames)
    KNOB(tcp_mss) KNOB(tcp_wscale) KNOB(tcp_sack) KNOB(tcp_timestamps) KNOB(tcp_nodelay)
    KNOB(tcp_cc) KNOB(tcp_initial_cwnd) KNOB(tcp_rto_initial_us) KNOB(tcp_rto_min_us)
    KNOB(tcp_rto_max_us) KNOB(tcp_delack_us) KNOB(tcp_msl_us) KNOB(tcp_syn_retries)
    KNOB(tcp_max_retries) KNOB(tcp_user_timeout_us) KNOB(tcp_keepidle_us) KNOB(tcp_keepintvl_us)
    KNOB(tcp_keepcnt) KNOB(tcp_challenge_ack_per_s) KNOB(tcp_ooo_ranges)
#undef KNOB
    fprintf(stderr, "script_shim: unknown config knob %s\n", k);
    return -1;
  }
  return 0;
}

void *shim_create(uint64_t now, const char *overrides) {
  microtcp_config cfg;
  microtcp_config_default(&cfg);
  memcpy(cfg.mac, stack_mac, 6);
  cfg.ip = 0xc0a80002u;      /* 192.168.0.2 */
  cfg.netmask = 0xffff0000u; /* /16 */
  cfg.gateway = 0xc0a80001u; /* 192.168.0.1 */
  for (int i = 0; i < 16; i++) cfg.secret[i] = (uint8_t)(0x51 + i);
  cfg.arp_gratuitous = false;
  cfg.max_tcp = 16;
  cfg.max_listeners = 2;
  cfg.tcp_sndbuf = 65535;
  cfg.tcp_rcvbuf = 65535;
  cfg.tcp_wscale = 7;
  cfg.frames = 64;
  cfg.tcp_challenge_ack_per_s = 100;
  if (apply_overrides(&cfg, overrides) < 0) return NULL;
  struct shim *s = calloc(1, sizeof *s);
  size_t n = microtcp_footprint(&cfg);
  if (!s || !n) {
    free(s);
    return NULL;
  }
  s->arena = aligned_alloc(16, (n + 15) & ~(size_t)15);
  int err;
  s->st = microtcp_init(s->arena, n, &cfg, now, &err);
  if (!s->st) {
    fprintf(stderr, "script_shim: init: %s\n", microtcp_strerror(err));
    free(s->arena);
    free(s);
    return NULL;
  }
  microtcp_arp_add_static(s->st, cfg.gateway, gw_mac);
  return s;
}

void shim_destroy(void *p) {
  struct shim *s = p;
  if (!s) return;
  free(s->arena);
  free(s);
}

microtcp_stack *shim_stack(void *p) { return ((struct shim *)p)->st; }

void shim_input(void *p, uint64_t now, const uint8_t *ip, size_t len) {
  struct shim *s = p;
  uint8_t frame[9100];
  if (len > sizeof frame - 14) return;
  memcpy(frame, stack_mac, 6);
  memcpy(frame + 6, gw_mac, 6);
  frame[12] = 0x08;
  frame[13] = 0x00;
  memcpy(frame + 14, ip, len);
  microtcp_input(s->st, now, frame, len + 14);
}

/* Next IPv4 packet the stack sends (Ethernet stripped, ARP skipped); 0 if none. */
int shim_output(void *p, uint64_t now, uint8_t *buf, size_t cap) {
  struct shim *s = p;
  uint8_t frame[9100];
  for (;;) {
    int n = microtcp_output(s->st, now, frame, sizeof frame);
    if (n <= 0) return n;
    if (n < 14 || frame[12] != 0x08 || frame[13] != 0x00) continue;
    if ((size_t)(n - 14) > cap) return -1;
    memcpy(buf, frame + 14, (size_t)(n - 14));
    return n - 14;
  }
}

uint64_t shim_deadline(void *p) { return microtcp_deadline(((struct shim *)p)->st); }
void shim_advance(void *p, uint64_t now) { microtcp_advance(((struct shim *)p)->st, now); }

/* A connection statistic by name; returns 0 and sets *out, or -1. */
int shim_stat(void *p, int h, const char *name, long long *out) {
  microtcp_tcp_stats t;
  if (microtcp_tcp_get_stats(((struct shim *)p)->st, h, &t) < 0) return -1;
#define STAT(n)            \
  if (!strcmp(name, #n)) { \
    *out = (long long)t.n; \
    return 0;              \
  }
  STAT(state) STAT(srtt_us) STAT(rttvar_us) STAT(rto_us) STAT(cwnd) STAT(ssthresh) STAT(snd_wnd)
  STAT(rcv_wnd) STAT(mss) STAT(retransmits) STAT(fast_retransmits) STAT(rto_timeouts)
  STAT(dup_acks) STAT(sack_recoveries) STAT(snd_wscale) STAT(rcv_wscale) STAT(sack)
  STAT(timestamps) STAT(bytes_acked) STAT(bytes_received)
#undef STAT
  return -1;
}

int shim_counter(void *p, const char *name, long long *out) {
  const microtcp_counters *c = microtcp_get_counters(((struct shim *)p)->st);
  const uint64_t *v = (const uint64_t *)c;
  for (size_t i = 0; microtcp_counter_name(i); i++)
    if (!strcmp(microtcp_counter_name(i), name)) {
      *out = (long long)v[i];
      return 0;
    }
  return -1;
}

int shim_pool_tcp(void *p) {
  microtcp_pool_usage u;
  microtcp_get_pool_usage(((struct shim *)p)->st, &u);
  return (int)u.tcp;
}
