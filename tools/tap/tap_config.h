/*
 * The stack configuration microtcp-tap runs with: pools, buffers, timers and
 * the secret derived from --seed. microtcp-replay configures the host it
 * plays with the same function, so a capture recorded through microtcp-tap
 * replays frame for frame; change a value here and re-record
 * pcap-corpus/live (sudo pcap-corpus/record-live.py).
 *
 * Call after microtcp_config_default(); addresses are the caller's.
 */
#ifndef MICROTCP_TAP_CONFIG_H
#define MICROTCP_TAP_CONFIG_H

#include <microtcp/microtcp.h>
#include <stdint.h>

static inline void tap_config_secret(uint8_t secret[16], uint64_t seed) {
  for (int i = 0; i < 16; i++) secret[i] = (uint8_t)((seed >> (8 * (i % 8))) ^ (uint64_t)(i * 37));
}

/* max_conns connection blocks with `buffer` bytes of send and of receive
 * buffer each. The defaults are sized for a microcontroller; a PC can afford
 * 1000 concurrent connections with 128 KiB windows (the core zeroes the whole
 * arena at init, so it is all committed memory: 256 MiB for microtcp-tap's
 * defaults). */
static inline void tap_config_stack(microtcp_config *cfg, uint16_t max_conns, uint32_t buffer,
                                    uint64_t seed) {
  cfg->max_tcp = max_conns;
  cfg->max_listeners = 4;
  cfg->max_udp = 8;
  cfg->tcp_sndbuf = buffer;
  cfg->tcp_rcvbuf = buffer;
  cfg->udp_rcvq = 256 * 1024;
  cfg->frames = 2048;
  cfg->arp_pending = 64;
  cfg->reasm_slots = 16;
  cfg->reasm_bytes = 256 * 1024;
  cfg->ping_queue = 16;
  cfg->tcp_rto_min_us = 200000; /* Linux's minimum: a LAN does not need RFC 6298's 1 s */
  cfg->tcp_ooo_ranges = 32;
  cfg->icmp_rate_per_s = 0;     /* ping -f and the tests may ask for many replies */
  tap_config_secret(cfg->secret, seed);
}

#endif
