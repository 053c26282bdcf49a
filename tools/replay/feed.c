/*
 * Feed mode: every frame of any capture into one stack, checking that nothing
 * crashes (run it under ASan/UBSan for "no sanitizer report"), that memory is
 * bounded (the stack lives in one fixed arena; this loop allocates nothing per
 * frame) and that nothing leaks: after the last frame every socket is closed
 * and time runs until no timer is left; then every pool must be empty.
 *
 * The rule: the stack plays ONE host (--as, the sidecar's `as`, or the same
 * auto-detection as check mode over the first frames) and is handed EVERY
 * frame, in capture order, on the capture's clock; frames for other hosts
 * exercise the not-for-us paths. With --promisc each frame is first
 * re-addressed to the host (Ethernet destination unless broadcast/multicast,
 * IPv4 destination; checksums adjusted incrementally, so bad ones stay bad)
 * so every frame reaches the upper layers. The first SYN to each new port
 * opens a listener running the sidecar's app (default: sink), up to 16 ports.
 *
 * Sequence translation (conn.h): frames addressed to H in the capture are
 * moved from the recorded H's numbering into the live stack's (ack, SACK
 * edges, TS ecr), learnt as the capture streams by, and an ack beyond what
 * the stack has sent is cut to it (the feed's app is not the recorded host:
 * it does not send what H sent), so real conversations run past the
 * handshake instead of ending in drop_tcp_bad_ack.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capture.h"
#include "conn.h"
#include "host.h"
#include "pkt.h"
#include "replay.h"
#include "rewrite.h"
#include "runner.h"

#define DETECT_FRAMES 10000 /* frames read to pick and describe the host */

struct feed {
  microtcp_stack *st;
  struct runner run;
  uint64_t now;
  uint64_t deadline; /* microtcp_deadline after the last turn */
  bool dirty;        /* some socket's readiness changed: the apps need a poll */
  uint64_t out_frames;
  pcap_t *dead;
  pcap_dumper_t *dump;
  uint64_t first_abs, offset;
  struct conns conns; /* numbering of H, the stack and each peer (conn.h) */
  uint64_t rewritten; /* frames moved into the stack's numbering */
};

static void on_event(void *ctx, int handle, unsigned ready) {
  (void)handle;
  (void)ready;
  ((struct feed *)ctx)->dirty = true;
}

static void fwrite_frame(struct feed *f, const uint8_t *b, size_t len) {
  if (!f->dump) return;
  uint64_t abs_us = f->first_abs + (f->now - f->offset);
  struct pcap_pkthdr h;
  memset(&h, 0, sizeof h);
  h.ts.tv_sec = (time_t)(abs_us / 1000000u);
  h.ts.tv_usec = (suseconds_t)(abs_us % 1000000u);
  h.caplen = h.len = (bpf_u_int32)len;
  pcap_dump((u_char *)f->dump, &h, b);
}

/* One turn: fire due timers, let the apps react, drain the output. The
 * deadline is read once per turn and cached: it only changes through calls
 * into the stack, and every such call is followed by a turn. Advancing only
 * when a timer is due is what the contract asks (microtcp.h) and keeps the
 * per-frame cost independent of the number of connection blocks. */
static void fturn(struct feed *f) {
  static uint8_t buf[REPLAY_OUT_MAX];
  for (int round = 0; round < 4; round++) {
    if (f->deadline <= f->now) microtcp_advance(f->st, f->now);
    if (f->dirty) {
      f->dirty = false;
      runner_serve(&f->run, f->now);
    }
    int n;
    while ((n = microtcp_output(f->st, f->now, buf, sizeof buf)) > 0) {
      f->out_frames++;
      fwrite_frame(f, buf, (size_t)n);
      conn_note_frame(&f->conns, SIDE_STACK, buf, (size_t)n);
    }
    f->deadline = microtcp_deadline(f->st);
    if (f->deadline > f->now && !f->dirty) break;
  }
}

static void frun_until(struct feed *f, uint64_t t) {
  for (int guard = 0; guard < 100000 && f->deadline < t; guard++) {
    if (f->deadline > f->now) f->now = f->deadline;
    fturn(f);
    if (f->deadline <= f->now) break; /* a timer that does not move on: go on with the frames */
  }
  if (t > f->now) f->now = t;
}

/* --promisc: address the frame to the host (see the top comment). */
static void readdress(uint8_t *b, size_t len, const struct host *h) {
  if (len < 14) return;
  if (!(b[0] & 1)) memcpy(b, h->mac, 6);
  if (wire_get16(b + 12) != WIRE_ETHERTYPE_IPV4 || len < 34) return;
  uint8_t *ip = b + 14;
  size_t ihl = (size_t)(ip[0] & 15) * 4;
  if ((ip[0] >> 4) != 4 || ihl < 20 || 14 + ihl > len) return;
  uint32_t old = wire_get32(ip + 16);
  if (old == h->ip || old == 0xffffffffu || (old >> 28) == 0xe) return;
  uint16_t o_hi = (uint16_t)(old >> 16), o_lo = (uint16_t)old;
  uint16_t n_hi = (uint16_t)(h->ip >> 16), n_lo = (uint16_t)h->ip;
  wire_put32(ip + 16, h->ip);
  uint16_t c = wire_csum_update16(wire_get16(ip + 10), o_hi, n_hi);
  wire_put16(ip + 10, wire_csum_update16(c, o_lo, n_lo));
  if (wire_get16(ip + 6) & 0x3fff) return; /* fragments carry no transport header */
  size_t l4 = 14 + ihl, coff;
  if (ip[9] == WIRE_IP_PROTO_TCP)
    coff = l4 + 16;
  else if (ip[9] == WIRE_IP_PROTO_UDP)
    coff = l4 + 6;
  else
    return;
  if (coff + 2 > len) return;
  uint16_t cs = wire_get16(b + coff);
  if (ip[9] == WIRE_IP_PROTO_UDP && cs == 0) return; /* no UDP checksum */
  cs = wire_csum_update16(wire_csum_update16(cs, o_hi, n_hi), o_lo, n_lo);
  if (ip[9] == WIRE_IP_PROTO_UDP && cs == 0) cs = 0xffff;
  wire_put16(b + coff, cs);
}

/* --as IP:PORT: the frame re-addressed into buf (rewrite.h), else as it is. */
static const uint8_t *split(const struct replay_opts *o, const uint8_t *fr, size_t len,
                            uint8_t *buf, size_t cap) {
  if (!o->sc.as_port || len > cap) return fr;
  memcpy(buf, fr, len);
  return rewrite_split(buf, len, o->sc.as_ip, o->sc.as_port) ? buf : fr;
}

static int detect(const struct replay_opts *o, struct host *h, char *err, size_t errlen) {
  struct capture_reader *r = malloc(sizeof *r);
  if (!r) abort();
  const uint8_t *fr;
  size_t len;
  uint64_t t;
  struct pkt p;
  static uint8_t sbuf[REPLAY_OUT_MAX];
  uint32_t ip = o->sc.as_port ? REWRITE_SPLIT_HOST : o->sc.as_ip;
  if (capture_open(r, o->capture, err, errlen) < 0) {
    free(r);
    return -1;
  }
  if (!o->sc.has_as) {
    struct host_pick hp;
    memset(&hp, 0, sizeof hp);
    for (int k = 0; k < DETECT_FRAMES && capture_next(r, &fr, &len, &t, err, errlen) == 1; k++) {
      pkt_decode(fr, len, &p);
      if (host_pick_candidate(&hp, &p)) break;
    }
    if (!host_pick_done(&hp, &ip)) ip = 0x0a000002; /* no IPv4 at all: any address will do */
    capture_close(r);
    if (capture_open(r, o->capture, err, errlen) < 0) {
      free(r);
      return -1;
    }
  }
  host_init(h, ip);
  for (int k = 0; k < DETECT_FRAMES && capture_next(r, &fr, &len, &t, err, errlen) == 1; k++) {
    fr = split(o, fr, len, sbuf, sizeof sbuf);
    pkt_decode(fr, len, &p);
    host_learn(h, &p);
  }
  host_finish(h);
  capture_close(r);
  free(r);
  return 0;
}

int feed_run(const struct replay_opts *o) {
  char err[512];
  struct host h;
  if (detect(o, &h, err, sizeof err) < 0) {
    fprintf(stderr, "microtcp-replay: %s\n", err);
    return REPLAY_USAGE;
  }
  struct feed f;
  memset(&f, 0, sizeof f);
  microtcp_config cfg;
  host_config(&h, &o->sc, &cfg);
  /* Small buffers (microtcp-tap's 256 KiB ones would make a big arena) and
   * 64 connection blocks: enough for any ordinary capture, few enough that a
   * SYN flood or a port scan reaches pool exhaustion and half-open eviction
   * (that, not speed, is why: idle blocks cost nothing per frame since the
   * core keeps its timers in a heap). The sidecar's [config] max_tcp
   * overrides it. */
  cfg.max_tcp = 64;
  cfg.tcp_sndbuf = cfg.tcp_rcvbuf = 16 * 1024;
  cfg.tcp_wscale = 0xff;
  sidecar_apply_config(&o->sc, &cfg);
  cfg.event = on_event;
  cfg.event_ctx = &f;
  size_t need = microtcp_footprint(&cfg);
  void *arena = need ? aligned_alloc(16, (need + 15) & ~(size_t)15) : NULL;
  f.offset = o->sc.offset_us;
  f.now = f.offset;
  int ierr = MICROTCP_EINVAL;
  f.st = arena ? microtcp_init(arena, need, &cfg, f.now, &ierr) : NULL;
  if (!f.st) {
    fprintf(stderr, "microtcp-replay: stack init failed: %s\n", microtcp_strerror(ierr));
    free(arena);
    return REPLAY_USAGE;
  }
  const char *app = strcmp(o->sc.app, "none") ? o->sc.app : "sink";
  if (!strcmp(app, "source")) app = "sink"; /* feed mode never opens connections */
  if (runner_start(&f.run, f.st, app, o->sc.port, 0, 0, 0, f.now, err, sizeof err) < 0) {
    fprintf(stderr, "microtcp-replay: %s\n", err);
    free(arena);
    return REPLAY_USAGE;
  }
  f.run.keepalive_us = o->sc.keepalive_us;
  /* Peers' MACs as check mode learns them (so replies are not stuck on ARP). */
  if (o->sc.static_arp == TRI_YES || (o->sc.static_arp == TRI_AUTO && !h.arp_requests))
    for (size_t i = 0; i < h.npeers; i++)
      microtcp_arp_add_static(f.st, h.peers[i].ip, h.peers[i].mac);
  struct capture_reader *r = malloc(sizeof *r);
  if (!r) abort();
  if (capture_open(r, o->capture, err, sizeof err) < 0) {
    fprintf(stderr, "microtcp-replay: %s\n", err);
    free(r);
    free(arena);
    return REPLAY_USAGE;
  }
  if (o->write_path) {
    f.dead = pcap_open_dead(DLT_EN10MB, 65535);
    f.dump = f.dead ? pcap_dump_open(f.dead, o->write_path) : NULL;
    if (!f.dump) {
      fprintf(stderr, "microtcp-replay: cannot write %s\n", o->write_path);
      return REPLAY_USAGE;
    }
  }
  f.conns.clamp_acks = true;
  f.conns.need_h = true;
  f.dirty = true;
  fturn(&f);
  /* The copy --promisc rewrites: only frames the stack can take (mtu + 14). */
  uint8_t *frame = malloc((size_t)cfg.mtu + 14);
  if (!frame) abort();
  const uint8_t *fr;
  size_t len;
  uint64_t t, frames = 0, oversize = 0;
  int rc;
  struct timespec t0, t1, c0, c1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
  while ((rc = capture_next(r, &fr, &len, &t, err, sizeof err)) == 1) {
    if (frames == 0) f.first_abs = r->first_us;
    frames++;
    frun_until(&f, f.offset + t);
    if (replay_oversize(&cfg, len)) {
      oversize++;
      continue;
    }
    fr = split(o, fr, len, frame, (size_t)cfg.mtu + 14); /* frame: the copy below reuses it */
    /* Sequence translation (conn.h): the numbering of H and of each peer as
     * the capture shows it, so a peer's frame to H can be moved into the
     * live stack's numbering. Only frames addressed to H in the capture are
     * translated (--promisc readdresses others, which answered someone else). */
    bool to_host = false;
    if (len >= 14 + 20 && wire_get16(fr + 12) == WIRE_ETHERTYPE_IPV4 && (fr[14] >> 4) == 4) {
      uint32_t src = wire_get32(fr + 14 + 12), dst = wire_get32(fr + 14 + 16);
      bool fragment = (wire_get16(fr + 14 + 6) & 0x3fff) != 0;
      to_host = dst == h.ip && !fragment;
      if (src == h.ip)
        conn_note_frame(&f.conns, SIDE_H, fr, len);
      else if (to_host && len > 14 + 20 + 13 && (fr[14] & 15) >= 5 &&
               14 + (size_t)(fr[14] & 15) * 4 + 14 <= len &&
               (fr[14 + (size_t)(fr[14] & 15) * 4 + 13] & (WIRE_TCP_SYN | WIRE_TCP_ACK)) ==
                   WIRE_TCP_SYN)
        conn_note_frame(&f.conns, SIDE_PEER, fr, len); /* a new incarnation resets (conn.h) */
    }
    const uint8_t *in = fr;
    if (o->promisc || to_host) {
      if (fr != frame) memcpy(frame, fr, len);
      if (o->promisc) readdress(frame, len, &h);
      if (to_host && conn_rewrite_input(&f.conns, h.ip, frame, len)) f.rewritten++;
      if (to_host && o->accept_macs) rewrite_dst_mac(frame, len, cfg.mac);
      if (to_host && o->fix_checksums && r->wire_len == len) rewrite_fix_checksums(frame, len);
      in = frame;
    }
    /* A SYN to a port nobody listens on yet: listen there first (feed mode
     * wants connections to reach the apps, not just RSTs). The check reads
     * fixed offsets only; the stack does the real parsing. */
    if (len >= 14 + 20 + 20 && wire_get16(in + 12) == WIRE_ETHERTYPE_IPV4 &&
        in[14 + 9] == WIRE_IP_PROTO_TCP && wire_get32(in + 14 + 16) == h.ip && (in[14] & 15) == 5 &&
        (in[14 + 20 + 13] & 0x12) == 0x02) {
      uint16_t port = wire_get16(in + 14 + 20 + 2);
      if (!runner_listens_on(&f.run, port)) runner_listen(&f.run, port, f.now);
    }
    fwrite_frame(&f, in, len);
    microtcp_input(f.st, f.now, in, len);
    fturn(&f);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
  /* libpcap refusing the rest of the file (a truncated record, a pcapng
   * interface with another link type) is unreadable input, never a pass. */
  bool read_error = rc < 0;
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  /* CPU time too: on a shared machine the wall-clock rate depends on the load. */
  double cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
  uint64_t skipped = r->skipped, truncated = r->truncated, vlan_tags = r->vlan_tags;
  capture_close(r);
  free(r);
  free(frame);

  /* Close everything and let every timer run out (retransmissions to a peer
   * that will never answer give up; TIME_WAIT ends). */
  runner_serve(&f.run, f.now);
  runner_close_apps(&f.run, f.now);
  runner_close_listeners(&f.run, f.now);
  fturn(&f);
  uint64_t end_of_capture = f.now;
  int steps = 0;
  for (; steps < 10000000; steps++) {
    uint64_t d = f.deadline;
    if (d == UINT64_MAX) break;
    if (d > f.now)
      f.now = d;
    else
      f.now++;
    fturn(&f);
  }
  microtcp_pool_usage u;
  microtcp_get_pool_usage(f.st, &u);
  bool leak =
      u.tcp || u.listeners || u.udp || u.frames || u.arp_pending || u.reasm_slots || u.reasm_bytes;

  if (!o->quiet) {
    printf("feed %s: %llu frames in %.3f s (%.0f frames/s; %.3f s CPU, %.0f frames per CPU "
           "second)%s, stack sent %llu\n",
           o->capture, (unsigned long long)frames, secs, secs > 0 ? (double)frames / secs : 0.0,
           cpu, cpu > 0 ? (double)frames / cpu : 0.0, o->promisc ? " promiscuous" : "",
           (unsigned long long)f.out_frames);
    if (skipped)
      printf("  %llu frames too short for their link header were skipped\n",
             (unsigned long long)skipped);
    if (oversize)
      printf("  %llu frames longer than MTU + 14 (%u bytes) were not injected (oversize: BIG "
             "TCP/GSO/jumbo)\n",
             (unsigned long long)oversize, cfg.mtu + 14);
    if (truncated)
      printf("  %llu frames are truncated (cut by the capture's snapshot length)\n",
             (unsigned long long)truncated);
    if (vlan_tags)
      printf("  %llu VLAN tags were removed\n", (unsigned long long)vlan_tags);
    if (f.rewritten)
      printf("  %llu frames to the host moved into the stack's numbering (ack, SACK, TS ecr)\n",
             (unsigned long long)f.rewritten);
    const uint64_t *vals = (const uint64_t *)microtcp_get_counters(f.st);
    printf("counters (non-zero):\n");
    for (size_t i = 0; microtcp_counter_name(i); i++)
      if (vals[i]) printf("  %-28s %llu\n", microtcp_counter_name(i), (unsigned long long)vals[i]);
    printf("memory: arena %zu bytes, fixed for the whole run\n", need);
    printf("wind-down: %d timer steps, %.1f s of virtual time after the last frame\n", steps,
           (double)(f.now - end_of_capture) / 1e6);
  }
  printf("pools after closing everything: tcp %u listeners %u udp %u frames %u arp_pending %u "
         "reasm_slots %u "
         "reasm_bytes %u (arp_entries %u is a cache)\n",
         u.tcp, u.listeners, u.udp, u.frames, u.arp_pending, u.reasm_slots, u.reasm_bytes,
         u.arp_entries);
  int verdict = leak ? REPLAY_FAIL : REPLAY_PASS;
  if (read_error) {
    printf("FAIL: the capture could not be read to the end (%s)\n", err);
    fprintf(stderr, "microtcp-replay: %s: %s\n", o->capture, err);
    verdict = REPLAY_USAGE;
  } else if (frames == 0) {
    printf("FAIL: the capture has no frames\n");
    fprintf(stderr, "microtcp-replay: %s: the capture has no frames\n", o->capture);
    verdict = REPLAY_USAGE;
  } else {
    printf("%s\n", leak ? "FAIL: leak (a pool is not empty)" : "PASS: no leak");
  }
  if (f.dump) pcap_dump_close(f.dump);
  if (f.dead) pcap_close(f.dead);
  runner_free(&f.run);
  conn_free(&f.conns);
  free(arena);
  return verdict;
}
