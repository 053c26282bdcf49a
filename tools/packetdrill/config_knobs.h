/*
 * config_knobs.h: "name=value" words that set microtcp_config fields by name.
 *
 * One table for the two script runners, so a script's `// config:` line means
 * the same to both: the project's runner (tests/tcp/runner.c) reads it from
 * the script, and the packetdrill shim takes the same words as --so_flags
 * (tools/packetdrill/run-script.py passes them on). Header-only: each runner
 * includes it once.
 */
#ifndef MICROTCP_CONFIG_KNOBS_H
#define MICROTCP_CONFIG_KNOBS_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "microtcp/microtcp.h"

struct microtcp_knob {
  const char *name;
  size_t off, size;
};

#define MICROTCP_KNOB(field) {#field, offsetof(microtcp_config, field), sizeof(((microtcp_config *)0)->field)}
static const struct microtcp_knob MICROTCP_KNOBS[] = {
    MICROTCP_KNOB(mtu), MICROTCP_KNOB(max_tcp), MICROTCP_KNOB(max_listeners), MICROTCP_KNOB(frames),
    MICROTCP_KNOB(tcp_sndbuf), MICROTCP_KNOB(tcp_rcvbuf), MICROTCP_KNOB(tcp_mss),
    MICROTCP_KNOB(tcp_wscale), MICROTCP_KNOB(tcp_sack), MICROTCP_KNOB(tcp_timestamps),
    MICROTCP_KNOB(tcp_nodelay), MICROTCP_KNOB(tcp_cc), MICROTCP_KNOB(tcp_initial_cwnd),
    MICROTCP_KNOB(tcp_rto_initial_us), MICROTCP_KNOB(tcp_rto_min_us), MICROTCP_KNOB(tcp_rto_max_us),
    MICROTCP_KNOB(tcp_delack_us), MICROTCP_KNOB(tcp_msl_us), MICROTCP_KNOB(tcp_syn_retries),
    MICROTCP_KNOB(tcp_max_retries), MICROTCP_KNOB(tcp_user_timeout_us),
    MICROTCP_KNOB(tcp_keepidle_us), MICROTCP_KNOB(tcp_keepintvl_us), MICROTCP_KNOB(tcp_keepcnt),
    MICROTCP_KNOB(tcp_challenge_ack_per_s), MICROTCP_KNOB(tcp_ooo_ranges),
    MICROTCP_KNOB(tcp_abc_limit), MICROTCP_KNOB(tcp_dsack), MICROTCP_KNOB(tcp_prr),
    MICROTCP_KNOB(tcp_hystart), MICROTCP_KNOB(tcp_dsack_undo), MICROTCP_KNOB(tcp_rack),
    MICROTCP_KNOB(tcp_challenge_ack_interval_us), MICROTCP_KNOB(tcp_max_per_peer),
    MICROTCP_KNOB(tcp_evict_stalled_us), MICROTCP_KNOB(tcp_syncookies),
};
#undef MICROTCP_KNOB

/* The stack every TCP script runs against, in both runners (tests/tcp/README.md
 * lists it). Every TCP knob a script may rely on is set here, not taken from
 * microtcp_config_default, so scripts do not change meaning when defaults do.
 * Address, MAC and secret are the caller's. */
static inline void microtcp_script_config(microtcp_config *c) {
  microtcp_config_default(c);
  c->netmask = 0xffff0000u;
  c->gateway = 0xc0a80001u; /* 192.168.0.1 */
  c->mtu = 1500;
  c->arp_gratuitous = false;
  c->max_tcp = 16;
  c->max_listeners = 2;
  c->frames = 64;
  c->tcp_sndbuf = 65535;
  c->tcp_rcvbuf = 65535;
  c->tcp_mss = 1460;
  c->tcp_wscale = 7;
  c->tcp_sack = true;
  c->tcp_dsack = true;
  c->tcp_timestamps = true;
  c->tcp_nodelay = false;
  c->tcp_cc = MICROTCP_CC_NEWRENO;
  c->tcp_initial_cwnd = 10;
  c->tcp_abc_limit = 1;
  c->tcp_prr = true;
  c->tcp_hystart = false;
  c->tcp_dsack_undo = false;
  c->tcp_rack = false;
  c->tcp_rto_initial_us = 1000000;
  c->tcp_rto_min_us = 1000000;
  c->tcp_rto_max_us = 120000000;
  c->tcp_delack_us = 40000;
  c->tcp_msl_us = 30000000;
  c->tcp_syn_retries = 6;
  c->tcp_max_retries = 15;
  c->tcp_user_timeout_us = 0;
  c->tcp_keepidle_us = 7200ull * 1000000u;
  c->tcp_keepintvl_us = 75000000;
  c->tcp_keepcnt = 9;
  c->tcp_challenge_ack_per_s = 100;
  c->tcp_challenge_ack_interval_us = 500000;
  c->tcp_syncookies = true;
  c->tcp_max_per_peer = 0; /* half the pool: 8 */
  c->tcp_evict_stalled_us = 30000000;
  c->tcp_ooo_ranges = 4;
}

/* Set the field `name` of *c to the number in `value` (decimal or 0x hex).
 * Returns 0, -1 for an unknown name, -2 for a value that is not a number or
 * does not fit the field. */
static inline int microtcp_knob_set(microtcp_config *c, const char *name, const char *value) {
  const struct microtcp_knob *k = NULL;
  for (size_t i = 0; i < sizeof MICROTCP_KNOBS / sizeof MICROTCP_KNOBS[0]; i++)
    if (!strcmp(MICROTCP_KNOBS[i].name, name)) k = &MICROTCP_KNOBS[i];
  if (!k) return -1;
  char *end;
  unsigned long long v = strtoull(value, &end, 0);
  if (*end || end == value || *value == '-') return -2;
  if (k->size < 8 && v >> (8 * k->size)) return -2;
  uint8_t *field = (uint8_t *)c + k->off;
  if (k->size == 1) {
    *field = (uint8_t)v;
  } else if (k->size == 2) {
    uint16_t x = (uint16_t)v;
    memcpy(field, &x, 2);
  } else if (k->size == 4) {
    uint32_t x = (uint32_t)v;
    memcpy(field, &x, 4);
  } else {
    uint64_t x = (uint64_t)v;
    memcpy(field, &x, 8);
  }
  return 0;
}

#endif
