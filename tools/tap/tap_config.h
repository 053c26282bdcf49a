/*
 * The stack configuration microtcp-tap runs with: pools, buffers, timers and
 * the secret. microtcp-replay configures the host it plays with the same
 * function and the capture's seed, so a capture recorded through
 * `microtcp-tap --seed N` replays frame for frame; change a value here and
 * re-record pcap-corpus/live (sudo pcap-corpus/record-live.py).
 *
 * The secret keys ISNs (RFC 6528), ephemeral ports (RFC 6056) and IP IDs: a
 * public function of a seed makes all three predictable, so microtcp-tap
 * takes it from getrandom() unless --seed asks for a deterministic run
 * (tap_config_choose_secret).
 *
 * Call after microtcp_config_default(); addresses are the caller's.
 */
#ifndef MICROTCP_TAP_CONFIG_H
#define MICROTCP_TAP_CONFIG_H

#include <errno.h>
#include <microtcp/microtcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/random.h>

/* The deterministic secret of a seed (for --seed runs and replay). */
static inline void tap_config_secret(uint8_t secret[16], uint64_t seed) {
  for (int i = 0; i < 16; i++) secret[i] = (uint8_t)((seed >> (8 * (i % 8))) ^ (uint64_t)(i * 37));
}

/* The secret of a run: tap_config_secret(seed) if have_seed, else 16 bytes of
 * getrandom() (blocks only until the kernel's pool is initialised, once per
 * boot). Returns 0, or -1 with errno set if the kernel gives no randomness. */
static inline int tap_config_choose_secret(uint8_t secret[16], bool have_seed, uint64_t seed) {
  if (have_seed) {
    tap_config_secret(secret, seed);
    return 0;
  }
  size_t got = 0;
  while (got < 16) {
    ssize_t n = getrandom(secret + got, 16 - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    got += (size_t)n;
  }
  return 0;
}

/* max_conns connection blocks with up to `buffer` bytes of send and of
 * receive buffer each. The buffers share one pool (cfg.tcp_buf_chunks, left
 * at 0 here: max_conns x 2 x buffer); the core never zeroes it, so the
 * arena's pool pages cost RAM only once data passes through them (1024
 * connections of 128 KiB: 256 MiB reserved, ~10 MiB resident at start). */
static inline void tap_config_stack(microtcp_config *cfg, uint16_t max_conns, uint32_t buffer,
                                    uint64_t seed) {
  cfg->max_tcp = max_conns;
  cfg->max_listeners = 4;
  cfg->max_udp = 8;
  cfg->tcp_sndbuf = buffer;
  cfg->tcp_rcvbuf = buffer;
  cfg->udp_rcvq = 256 * 1024;
  cfg->frames = 2048;
  cfg->arp_entries = 256; /* up to 128 incomplete, each safe 8 ms: 16,000 new resolutions/s
                          * before a flood from silent neighbours can crowd one out */
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
