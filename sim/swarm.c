/*
 * Swarm mode: everything a scenario leaves to chance is drawn from the seed,
 * as TigerBeetle's VOPR does: the network (faults per link direction, clock
 * drift, a partition, the calm) and, per host, the stack's configuration
 * (buffers, MSS, options, congestion control, timers, pools). Every draw comes
 * from a stream of (seed, purpose, host name), so a seed names the whole run
 * and hosts do not perturb each other. Ranges: sim/README.md "swarm".
 */
#include <stdlib.h>

#include "prng.h"
#include "sim.h"

/* Swarm: every link direction gets faults drawn from the seed, in these ranges:
 * loss 0–3 %, reorder 0–5 % (extra delay 0.1–2.1 ms), duplicate 0–1 %, corrupt
 * 0–1 %, latency 50 µs–5 ms, jitter 0–1 ms, and with probability 1/4 bursty
 * loss (p 0–1 %, r 10–50 %, loss-in-bad 20–80 %). Every host's clock drifts by
 * −200..+200 ppm. With probability 1/2 one host is partitioned (from everyone,
 * or one way with probability 1/2) at 0.2–3 s for 0.1–3 s. At 2–20 s the
 * network calms down (loss, bursts, reordering, duplication and corruption
 * stop; see EV_CALM): every flow must then converge before `duration`, which
 * separates "slow under a hostile network" from "stuck"; the duration is
 * extended to at least 300 s after the calm.
 * Each host draws from its own stream (seed, name), so hosts do not perturb
 * each other. */
void sim_swarm_faults(struct sim *s) {
  for (int i = 0; i < s->nhosts; i++) {
    struct sim_host *h = &s->hosts[i];
    uint64_t rng = sim_stream_seed(s->seed, 77, h->id);
    struct sim_faults *dirs[2] = {&h->up_dir.f, &h->down_dir.f};
    for (int d = 0; d < 2; d++) {
      struct sim_faults *f = dirs[d];
      f->loss_ppm = (uint32_t)(sim_rand(&rng) % 30001);
      f->reorder_ppm = (uint32_t)(sim_rand(&rng) % 50001);
      f->reorder_delay_us = (uint32_t)(sim_rand(&rng) % 2000 + 100);
      f->dup_ppm = (uint32_t)(sim_rand(&rng) % 10001);
      f->corrupt_ppm = (uint32_t)(sim_rand(&rng) % 10001);
      f->latency_us = (uint32_t)(sim_rand(&rng) % 4951 + 50);
      f->jitter_us = (uint32_t)(sim_rand(&rng) % 1001);
      if (sim_rand(&rng) % 4 == 0) {
        f->ge_p_ppm = (uint32_t)(sim_rand(&rng) % 10001);
        f->ge_r_ppm = (uint32_t)(sim_rand(&rng) % 400001 + 100000);
        f->ge_loss_bad_ppm = (uint32_t)(sim_rand(&rng) % 600001 + 200000);
      }
    }
    h->drift_ppm = (int32_t)(sim_rand(&rng) % 401) - 200;
  }
  uint64_t rng = sim_stream_seed(s->seed, 78, 78);
  if (sim_rand(&rng) % 2 == 0) {
    struct sim_event_spec cut = {0, EV_PARTITION, 0, -1, false}, heal;
    cut.a = (int)(sim_rand(&rng) % (uint64_t)s->nhosts);
    cut.one_way = sim_rand(&rng) % 2 == 0;
    cut.at = 200000 + sim_rand(&rng) % 2800001;
    heal = cut;
    heal.kind = EV_HEAL;
    heal.at = cut.at + 100000 + sim_rand(&rng) % 2900001;
    s->events = realloc(s->events, (size_t)(s->nevents + 2) * sizeof *s->events);
    if (!s->events) abort();
    s->events[s->nevents++] = cut;
    s->events[s->nevents++] = heal;
  }
  struct sim_event_spec calm = {2000000 + sim_rand(&rng) % 18000001, EV_CALM, 0, -1, false};
  s->events = realloc(s->events, (size_t)(s->nevents + 1) * sizeof *s->events);
  if (!s->events) abort();
  s->events[s->nevents++] = calm;
  /* Flows get at least SIM_SWARM_CONVERGE_US after the calm: RTO backoff
   * from the hostile phase (and from congestion drops after it) legitimately
   * reaches tens of seconds, so a scenario written for a quiet run (the
   * 60 s quickstart) would otherwise report slow as stuck. */
  if (s->duration_us < calm.at + SIM_SWARM_CONVERGE_US) s->duration_us = calm.at + SIM_SWARM_CONVERGE_US;
}

/* Stack configuration per host, from its own stream (purpose 79), in these
 * ranges (sim/README.md documents the same):
 *   sndbuf, rcvbuf     4 KiB..128 KiB each (a power of two from 4 to 64 KiB,
 *                      plus 0..100 % of itself)
 *   mss                half the hosts derive it from the MTU, the others
 *                      88..1460 (tiny MSS with SACK is a classic bug class)
 *   sack, timestamps   on with probability 3/4 each
 *   wscale             auto 1/2, off 1/4, a fixed shift 0..8 1/4
 *   dsack, prr         on with probability 3/4 each
 *   cc                 newreno or cubic, 1/2 each
 *   nodelay            1/2
 *   initial_cwnd       1..10 segments
 *   delack             1..200 ms
 *   rto_min            10 ms..1 s (the initial RTO is 1 s, or rto_min if above)
 *   ooo_ranges         1..8
 *   frames             32..256 (the tx queue and frames waiting for ARP)
 *   arp_pending        4..32
 *   max_tcp            the scenario's value up to twice it (never below: a flow
 *                      needs its connections)
 *   rack, dsack_undo, hystart
 *                      on with probability 3/4 each (drawn last, so adding them
 *                      left every earlier draw of a seed as it was)
 * Identity (IP, MAC, MTU), listeners, UDP sockets and ICMP settings stay as
 * the scenario says. */
void sim_swarm_config(struct sim *s) {
  for (int i = 0; i < s->nhosts; i++) {
    struct sim_host *h = &s->hosts[i];
    microtcp_config *c = &h->cfg;
    if (h->attack) continue; /* no stack (its own stream: skipping it shifts nothing) */
    uint64_t rng = sim_stream_seed(s->seed, 79, h->id);
    uint32_t sb = 4096u << (sim_rand(&rng) % 5), rb = 4096u << (sim_rand(&rng) % 5);
    c->tcp_sndbuf = sb + (uint32_t)(sim_rand(&rng) % (sb + 1));
    c->tcp_rcvbuf = rb + (uint32_t)(sim_rand(&rng) % (rb + 1));
    c->tcp_mss = sim_rand(&rng) % 2 ? 0 : (uint16_t)(88 + sim_rand(&rng) % (1460 - 88 + 1));
    c->tcp_sack = sim_rand(&rng) % 4 != 0;
    c->tcp_timestamps = sim_rand(&rng) % 4 != 0;
    uint64_t ws = sim_rand(&rng) % 4;
    c->tcp_wscale = ws < 2 ? 0xff : ws == 2 ? MICROTCP_WSCALE_OFF : (uint8_t)(sim_rand(&rng) % 9);
    c->tcp_dsack = sim_rand(&rng) % 4 != 0;
    c->tcp_prr = sim_rand(&rng) % 4 != 0;
    c->tcp_cc = sim_rand(&rng) % 2 ? MICROTCP_CC_CUBIC : MICROTCP_CC_NEWRENO;
    c->tcp_nodelay = sim_rand(&rng) % 2 != 0;
    c->tcp_initial_cwnd = (uint8_t)(1 + sim_rand(&rng) % 10);
    c->tcp_delack_us = (uint32_t)(1000 + sim_rand(&rng) % 199001);
    c->tcp_rto_min_us = (uint32_t)(10000 + sim_rand(&rng) % 990001);
    c->tcp_rto_initial_us = c->tcp_rto_min_us > 1000000u ? c->tcp_rto_min_us : 1000000u;
    c->tcp_ooo_ranges = (uint16_t)(1 + sim_rand(&rng) % 8);
    c->frames = (uint16_t)(32 + sim_rand(&rng) % 225);
    c->arp_pending = (uint16_t)(4 + sim_rand(&rng) % 29);
    c->max_tcp = (uint16_t)(c->max_tcp + sim_rand(&rng) % ((uint64_t)c->max_tcp + 1));
    c->tcp_rack = sim_rand(&rng) % 4 != 0;
    c->tcp_dsack_undo = sim_rand(&rng) % 4 != 0;
    c->tcp_hystart = sim_rand(&rng) % 4 != 0;
  }
}

/* One line per host: the configuration swarm mode drew (for a failing seed). */
void sim_print_config(const struct sim *s, FILE *out) {
  for (int i = 0; i < s->nhosts; i++) {
    const struct sim_host *h = &s->hosts[i];
    const microtcp_config *c = &h->cfg;
    if (h->attack) continue; /* no stack */
    char ws[8];
    if (c->tcp_wscale == 0xff) snprintf(ws, sizeof ws, "auto");
    else if (c->tcp_wscale == MICROTCP_WSCALE_OFF) snprintf(ws, sizeof ws, "off");
    else snprintf(ws, sizeof ws, "%u", c->tcp_wscale);
    fprintf(out,
            "  config %-10s sndbuf %u rcvbuf %u mss %u%s sack %d ts %d ws %s dsack %d prr %d rack %d "
            "dsack_undo %d hystart %d cc %s nodelay %d "
            "iw %u delack %u us rto_min %u us ooo %u frames %u arp_pending %u max_tcp %u drift %d ppm\n",
            h->name, c->tcp_sndbuf, c->tcp_rcvbuf, c->tcp_mss, c->tcp_mss ? "" : "(mtu)", c->tcp_sack,
            c->tcp_timestamps, ws, c->tcp_dsack, c->tcp_prr, c->tcp_rack, c->tcp_dsack_undo,
            c->tcp_hystart, c->tcp_cc == MICROTCP_CC_CUBIC ? "cubic" : "newreno",
            c->tcp_nodelay, c->tcp_initial_cwnd, c->tcp_delack_us, c->tcp_rto_min_us, c->tcp_ooo_ranges, c->frames,
            c->arp_pending, c->max_tcp, h->drift_ppm);
  }
}
