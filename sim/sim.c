/* The simulator engine: scheduler, hosts, segments and links, faults, flows, invariants. */
#include "sim.h"
#include "prng.h"

#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const sim_drop_names[DROP_KINDS] = {"loss", "burst", "queue", "mtu",
                                               "partition", "link_down", "host_down", "no_host"};

/* ---- randomness: SplitMix64 streams --------------------------------------------------- */
uint64_t sim_rand(uint64_t *state) { return prng_splitmix64(state); }

uint64_t sim_stream_seed(uint64_t master, uint64_t a, uint64_t b) {
  return prng_stream_seed(master, a, b);
}

static bool chance(uint64_t *rng, uint32_t ppm) {
  return ppm && sim_rand(rng) % SIM_PPM < ppm;
}

/* ---- event heap (ordered by time, then insertion sequence: a total order) ----------- */
static bool ev_before(const struct sim_ev *x, const struct sim_ev *y) {
  return x->at < y->at || (x->at == y->at && x->seq < y->seq);
}

/* Insert an event that already has its place in the order (ev.seq). */
static void heap_insert(struct sim *s, struct sim_ev ev) {
  if (s->nheap == s->capheap) {
    s->capheap = s->capheap ? s->capheap * 2 : 1024;
    s->heap = realloc(s->heap, s->capheap * sizeof *s->heap);
    if (!s->heap) abort();
  }
  size_t i = s->nheap++;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!ev_before(&ev, &s->heap[parent])) break;
    s->heap[i] = s->heap[parent];
    i = parent;
  }
  s->heap[i] = ev;
}

static void heap_push(struct sim *s, struct sim_ev ev) {
  ev.seq = s->evseq++;
  heap_insert(s, ev);
}

static struct sim_ev heap_pop(struct sim *s) {
  struct sim_ev top = s->heap[0];
  struct sim_ev last = s->heap[--s->nheap];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    const struct sim_ev *best = &last;
    if (l < s->nheap && ev_before(&s->heap[l], best)) {
      m = l;
      best = &s->heap[l];
    }
    if (r < s->nheap && ev_before(&s->heap[r], best)) m = r;
    if (m == i) break;
    s->heap[i] = s->heap[m];
    i = m;
  }
  if (s->nheap) s->heap[i] = last;
  return top;
}

/* ---- wake heap: one entry per host -------------------------------------------------------- *
 * A host's next microtcp_advance moves with almost every frame (each ACK
 * re-arms the retransmission timer). One heap event per change left the event
 * heap full of superseded wake-ups; instead each host has one slot, re-keyed
 * in place. A wake-up takes its sequence number when it is scheduled, like
 * any event, and the run takes the earlier of the two heaps' tops. */
static bool wake_before(const struct sim *s, int a, int b) {
  const struct sim_host *x = &s->hosts[a], *y = &s->hosts[b];
  return x->wake_key < y->wake_key || (x->wake_key == y->wake_key && x->wake_seq < y->wake_seq);
}

static void wheap_set(struct sim *s, size_t i, int host) {
  s->wheap[i] = host;
  s->hosts[host].wake_pos = i + 1;
}

static void wheap_sift(struct sim *s, size_t i) {
  int host = s->wheap[i];
  while (i > 0 && wake_before(s, host, s->wheap[(i - 1) / 2])) {
    wheap_set(s, i, s->wheap[(i - 1) / 2]);
    i = (i - 1) / 2;
  }
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    int best = host;
    if (l < s->nwheap && wake_before(s, s->wheap[l], best)) {
      m = l;
      best = s->wheap[l];
    }
    if (r < s->nwheap && wake_before(s, s->wheap[r], best)) m = r;
    if (m == i) break;
    wheap_set(s, i, s->wheap[m]);
    i = m;
  }
  wheap_set(s, i, host);
}

static void wheap_update(struct sim *s, int host) {
  struct sim_host *h = &s->hosts[host];
  if (!h->wake_pos) {
    s->wheap[s->nwheap] = host;
    h->wake_pos = ++s->nwheap;
  }
  wheap_sift(s, h->wake_pos - 1);
}

static struct sim_ev wheap_pop(struct sim *s) {
  int host = s->wheap[0];
  struct sim_host *h = &s->hosts[host];
  struct sim_ev ev = {h->wake_key, h->wake_seq, EV_WAKE, host, 0, false, h->wake_key, NULL};
  h->wake_pos = 0;
  if (--s->nwheap) {
    wheap_set(s, 0, s->wheap[s->nwheap]);
    wheap_sift(s, 0);
  }
  return ev;
}

/* The next event of the run: the earlier of the event heap's and the wake heap's tops. */
static bool wake_next(const struct sim *s) {
  if (!s->nwheap) return false;
  if (!s->nheap) return true;
  const struct sim_host *h = &s->hosts[s->wheap[0]];
  return h->wake_key < s->heap[0].at || (h->wake_key == s->heap[0].at && h->wake_seq < s->heap[0].seq);
}

static bool have_next(const struct sim *s) { return s->nheap || s->nwheap; }

static uint64_t next_time(const struct sim *s) {
  return wake_next(s) ? s->hosts[s->wheap[0]].wake_key : s->heap[0].at;
}

static struct sim_ev pop_next(struct sim *s) { return wake_next(s) ? wheap_pop(s) : heap_pop(s); }

/* ---- per-host clocks (drift) ---------------------------------------------------------- */
static uint64_t local_time(const struct sim_host *h, uint64_t global) {
  if (!h->drift_ppm) return global;
  return (uint64_t)((__int128)global * (SIM_PPM + h->drift_ppm) / SIM_PPM);
}

static uint64_t global_time(const struct sim_host *h, uint64_t local) {
  if (local == UINT64_MAX) return UINT64_MAX;
  if (!h->drift_ppm) return local;
  __int128 g = ((__int128)local * SIM_PPM + (SIM_PPM + h->drift_ppm) - 1) / (SIM_PPM + h->drift_ppm);
  return (uint64_t)g;
}

/* ---- hosts ------------------------------------------------------------------------------ */
struct host_apps {           /* apps living on one host, found by socket handle */
  struct app **tcp, **udp;   /* indexed by handle index */
  struct app **all;
  size_t nall, capall;
  int *ready;                /* handles reported by the stack's event callback */
  size_t nready, capready;
  uint64_t last_sweep;
};

static void on_event(void *ctx, int handle, unsigned ready) {
  struct host_apps *ha = ctx;
  (void)ready;
  if (ha->nready == ha->capready) {
    ha->capready = ha->capready ? ha->capready * 2 : 64;
    ha->ready = realloc(ha->ready, ha->capready * sizeof *ha->ready);
    if (!ha->ready) abort();
  }
  ha->ready[ha->nready++] = handle;
}

static struct host_apps *g_apps_of(struct sim *s, int host) {
  return &((struct host_apps *)s->apps)[host];
}

static int host_boot(struct sim *s, struct sim_host *h) {
  h->cfg.event = on_event;
  h->cfg.event_ctx = g_apps_of(s, h->index);
  /* A new incarnation gets a new secret: ISNs and ports differ from before. */
  uint64_t k0 = sim_stream_seed(s->seed, 1ull << 32 | h->restarts, h->id);
  uint64_t k1 = sim_stream_seed(s->seed, 2ull << 32 | h->restarts, h->id);
  memcpy(h->cfg.secret, &k0, 8);
  memcpy(h->cfg.secret + 8, &k1, 8);
  size_t need = microtcp_footprint(&h->cfg);
  if (need == 0) {
    fprintf(stderr, "host %s: invalid stack configuration\n", h->name);
    return -1;
  }
  /* The first boot gets a zeroed arena from calloc: large ones are fresh
   * pages the kernel commits only as the stack touches them, so a host costs
   * RAM for the buffers and frames it uses (the shared TCP pool's chunks are
   * carved unwritten). A restart reuses the arena after filling it with a
   * garbage pattern: the stack must not depend on anything left in it (state
   * lost), and either way every boot starts from the same bytes (determinism). */
  if (h->arena_len < need) {
    free(h->arena);
    size_t len = (need + 15) & ~(size_t)15;
    h->arena = calloc(1, len);
    if (h->arena && ((uintptr_t)h->arena & 15u)) { /* calloc is 16-aligned on glibc; be sure */
      free(h->arena);
      h->arena = aligned_alloc(16, len);
      if (h->arena) memset(h->arena, 0, len);
    }
    h->arena_len = need;
    if (!h->arena) return -1;
  } else {
    memset(h->arena, 0xa5, h->arena_len);
  }
  int err = 0;
  h->st = microtcp_init(h->arena, h->arena_len, &h->cfg, local_time(h, s->now), &err);
  if (!h->st) {
    fprintf(stderr, "host %s: microtcp_init: %s\n", h->name, microtcp_strerror(err));
    return -1;
  }
  h->up = true;
  h->wake_at = 0;
  return 0;
}

static void app_register(struct sim *s, int host, struct app *a) {
  struct host_apps *ha = g_apps_of(s, host);
  if (ha->nall == ha->capall) {
    ha->capall = ha->capall ? ha->capall * 2 : 16;
    ha->all = realloc(ha->all, ha->capall * sizeof *ha->all);
    if (!ha->all) abort();
  }
  ha->all[ha->nall++] = a;
  const microtcp_config *cfg = &s->hosts[host].cfg;
  if (a->handle >= 0) {
    uint32_t idx = (uint32_t)a->handle & 0xffffu;
    int kind = (int)((uint32_t)a->handle >> 28);
    if (kind == 1 && idx < cfg->max_tcp) ha->tcp[idx] = a;
    if (kind == 3 && idx < cfg->max_udp) ha->udp[idx] = a;
  }
}

static void pcap_write(void *dumper, uint64_t now, const uint8_t *data, size_t len) {
  if (!dumper) return;
  struct pcap_pkthdr ph;
  ph.ts.tv_sec = (time_t)(now / 1000000u);
  ph.ts.tv_usec = (suseconds_t)(now % 1000000u);
  ph.caplen = ph.len = (bpf_u_int32)len;
  pcap_dump((u_char *)dumper, &ph, data);
}

static void log_event(struct sim *s, const char *what, const char *host, const char *detail) {
  if (s->observer && s->observer->event) s->observer->event(s->observer->ctx, s, what, host, detail);
  if (s->events_log)
    fprintf(s->events_log, "%llu.%06llu %s %s %s\n", (unsigned long long)(s->now / 1000000),
            (unsigned long long)(s->now % 1000000), what, host, detail ? detail : "");
}

/* ---- the wire -------------------------------------------------------------------------- */
static struct sim_frame *frame_copy(struct sim *s, const uint8_t *data, size_t len);
static void frame_release(struct sim *s, struct sim_frame *f);

/* A frame this delivery may change: the frame itself, or (when other
 * deliveries of a flooded frame share it) a copy of it. */
static struct sim_frame *frame_own(struct sim *s, struct sim_frame *f) {
  if (f->refs == 1) return f;
  struct sim_frame *own = frame_copy(s, f->data, f->len);
  own->id = f->id;
  own->corrupted = f->corrupted;
  own->forger = f->forger;
  frame_release(s, f);
  return own;
}

/* --faults-out: one random decision that hit a frame, as a schedule line. */
static void fault_rec(struct sim *s, int host, bool down, const struct sim_link_dir *d, uint64_t t,
                      enum sim_fault_kind kind, int64_t v1, int64_t v2, const struct sim_frame *f) {
  struct sim_fault x;
  memset(&x, 0, sizeof x);
  x.at = t;
  x.kind = kind;
  x.host = host;
  x.peer = -1;
  x.down = down;
  x.frame = d->frames;
  x.v1 = v1;
  x.v2 = v2;
  sim_frame_note(f->data, f->len, x.note, sizeof x.note);
  sim_fault_add(s->faults_out, &x);
}

/* Bandwidth and the byte-limited tail-drop queue in front of it (no
 * randomness). Returns false for a queue drop; *start is when the frame has
 * left the serialiser. */
static bool link_queue(struct sim_link_dir *d, uint64_t t, const struct sim_frame *f, uint64_t *start) {
  const struct sim_faults *x = &d->f;
  *start = t;
  if (!x->bandwidth_bps) return true;
  uint64_t backlog_us = d->busy_until > t ? d->busy_until - t : 0;
  uint64_t backlog_bytes = backlog_us * x->bandwidth_bps / 8u / 1000000u;
  if (x->queue_bytes && backlog_bytes + f->len > x->queue_bytes) {
    d->drops[DROP_QUEUE]++;
    return false;
  }
  uint64_t st = d->busy_until > t ? d->busy_until : t;
  if (f->len != d->ser_len || x->bandwidth_bps != d->ser_bw) {
    d->ser_len = f->len;
    d->ser_bw = x->bandwidth_bps;
    d->ser_us = ((uint64_t)f->len * 8u * 1000000u + x->bandwidth_bps - 1) / x->bandwidth_bps;
  }
  uint64_t ser = d->ser_us;
  d->busy_until = st + ser;
  *start = st + ser;
  return true;
}

static bool frame_is_ipv4(const struct sim_frame *f) {
  return f->len > 14 + 20 && f->data[12] == 0x08 && f->data[13] == 0x00;
}

/* --faults-in: the schedule decides instead of the PRNG (which is not used).
 * The frame's lines act in link_apply's order: drop, jitter, reorder,
 * corruption, duplication. A line that no longer fits its frame (a corrupt
 * bit past its end, a frame that is not IPv4) does nothing. */
static uint64_t link_replay(struct sim *s, int host, bool down, struct sim_link_dir *d, uint64_t t,
                            struct sim_frame **fp, int *copies) {
  const struct sim_faults *x = &d->f;
  struct sim_frame *f = *fp;
  while (d->rp < d->rend && d->rp->frame < d->frames) d->rp++;
  const struct sim_fault *first = d->rp, *end = d->rp;
  while (end < d->rend && end->frame == d->frames) end++;
  d->rp = end;
  const struct sim_fault *by[FK_KINDS] = {0};
  for (const struct sim_fault *q = first; q < end; q++) by[q->kind] = q;
  if (by[FK_BURST] || by[FK_LOSS]) {
    enum sim_fault_kind k = by[FK_BURST] ? FK_BURST : FK_LOSS;
    d->drops[k == FK_BURST ? DROP_BURST : DROP_LOSS]++;
    if (s->faults_out) fault_rec(s, host, down, d, t, k, 0, 0, f);
    return 0;
  }
  uint64_t start;
  if (!link_queue(d, t, f, &start)) return 0;
  uint64_t at = start + x->latency_us;
  if (by[FK_JITTER] && by[FK_JITTER]->v1 > 0) {
    at += (uint64_t)by[FK_JITTER]->v1;
    if (s->faults_out) fault_rec(s, host, down, d, t, FK_JITTER, by[FK_JITTER]->v1, 0, f);
  }
  if (by[FK_REORDER] && by[FK_REORDER]->v1 >= 0) {
    at += (uint64_t)by[FK_REORDER]->v1;
    d->reordered++;
    if (s->faults_out) fault_rec(s, host, down, d, t, FK_REORDER, by[FK_REORDER]->v1, 0, f);
  }
  const struct sim_fault *c = by[FK_CORRUPT];
  if (c && frame_is_ipv4(f) && !f->corrupted && c->v1 >= 14 * 8 && (uint64_t)c->v1 < (uint64_t)f->len * 8u) {
    if (s->faults_out) fault_rec(s, host, down, d, t, FK_CORRUPT, c->v1,
                                 c->v2 >= 14 * 8 && (uint64_t)c->v2 < (uint64_t)f->len * 8u ? c->v2 : -1, f);
    f = *fp = frame_own(s, f);
    f->corrupted = true;
    f->data[c->v1 / 8] ^= (uint8_t)(1u << (c->v1 % 8));
    if (c->v2 >= 14 * 8 && (uint64_t)c->v2 < (uint64_t)f->len * 8u)
      f->data[c->v2 / 8] ^= (uint8_t)(1u << (c->v2 % 8));
    d->corrupted++;
  }
  *copies = 1;
  if (by[FK_DUP]) {
    *copies = 2;
    d->dup++;
    if (s->faults_out) fault_rec(s, host, down, d, t, FK_DUP, 0, 0, f);
  }
  return at;
}

/* Apply one direction's faults; returns the arrival time or 0 if dropped.
 * *copies is set to 2 for a duplicate. With --faults-out every decision that
 * touched the frame is recorded (after the draw: the draws are the same).
 * *fp may be replaced: a shared frame is copied before a corruption. */
static uint64_t link_apply(struct sim *s, int host, bool down, struct sim_link_dir *d, uint64_t t,
                           struct sim_frame **fp, int *copies) {
  const struct sim_faults *x = &d->f;
  struct sim_frame *f = *fp;
  d->frames++;
  d->bytes += f->len;
  *copies = 1;
  if (x->mtu && f->len > x->mtu + 14u) {
    d->drops[DROP_MTU]++;
    return 0;
  }
  if (s->faults_in) return link_replay(s, host, down, d, t, fp, copies);
  /* Gilbert-Elliott: the state moves once per frame. */
  if (x->ge_p_ppm || x->ge_r_ppm) {
    if (d->ge_bad) {
      if (chance(&d->rng, x->ge_r_ppm)) d->ge_bad = false;
    } else if (chance(&d->rng, x->ge_p_ppm)) {
      d->ge_bad = true;
    }
    if (chance(&d->rng, d->ge_bad ? x->ge_loss_bad_ppm : x->ge_loss_good_ppm)) {
      d->drops[DROP_BURST]++;
      if (s->faults_out) fault_rec(s, host, down, d, t, FK_BURST, 0, 0, f);
      return 0;
    }
  }
  if (chance(&d->rng, x->loss_ppm)) {
    d->drops[DROP_LOSS]++;
    if (s->faults_out) fault_rec(s, host, down, d, t, FK_LOSS, 0, 0, f);
    return 0;
  }
  uint64_t start;
  if (!link_queue(d, t, f, &start)) return 0;
  uint64_t at = start + x->latency_us;
  if (x->jitter_us) {
    uint64_t j = sim_rand(&d->rng) % (x->jitter_us + 1u);
    at += j;
    if (j && s->faults_out) fault_rec(s, host, down, d, t, FK_JITTER, (int64_t)j, 0, f);
  }
  if (chance(&d->rng, x->reorder_ppm)) {
    uint64_t r = x->reorder_delay_us ? x->reorder_delay_us : 1000;
    at += r;
    d->reordered++;
    if (s->faults_out) fault_rec(s, host, down, d, t, FK_REORDER, (int64_t)r, 0, f);
  }
  /* Corruption models bit errors that got past the Ethernet CRC, so it only
   * touches bytes an end-to-end checksum covers: the IPv4 header and payload.
   * A flip in an ARP body or an Ethernet header would be poison no checksum
   * can catch (a wrong MAC cached for minutes), which CRC-protected links do
   * not deliver. Frames without such bytes pass unharmed. */
  bool ipv4 = frame_is_ipv4(f);
  /* At most once per path: a second flip on the next hop (host → switch →
   * host) lands in another word and can cancel the first in the checksum
   * (seen in swarm seeds 1919 and 2286: two flips of the same bit position,
   * opposite directions, even distance apart). The real first hop's CRC
   * would have dropped that frame. The draw happens either way so the PRNG
   * stream does not shift. */
  if (ipv4 && chance(&d->rng, x->corrupt_ppm) && !f->corrupted) {
    f = *fp = frame_own(s, f);
    f->corrupted = true;
    uint64_t r = sim_rand(&d->rng);
    size_t bit = 14 * 8 + (size_t)(r % ((uint64_t)(f->len - 14) * 8u));
    int64_t bit2_rec = -1;
    if (s->faults_out) { /* the note describes the frame before the flip */
      if ((r >> 40) & 1) {
        size_t word = bit / 16, other = (bit % 16 + 1 + (size_t)((r >> 20) % 15)) % 16;
        size_t b2 = word * 16 + other;
        if (b2 / 8 < f->len) bit2_rec = (int64_t)b2;
      }
      fault_rec(s, host, down, d, t, FK_CORRUPT, (int64_t)bit, bit2_rec, f);
    }
    f->data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    if ((r >> 40) & 1) {
      /* Half of them: a second bit in the same 16-bit word (a burst of at most
       * 16 bits). The internet checksum detects every such burst (RFC 1071),
       * while two flips far apart can cancel out in a one's-complement sum —
       * on real links Ethernet's CRC drops those before any checksum runs. */
      size_t word = bit / 16, other = (bit % 16 + 1 + (size_t)((r >> 20) % 15)) % 16;
      size_t bit2 = word * 16 + other;
      if (bit2 / 8 < f->len) f->data[bit2 / 8] ^= (uint8_t)(1u << (bit2 % 8));
    }
    d->corrupted++;
  }
  if (chance(&d->rng, x->dup_ppm)) {
    *copies = 2;
    d->dup++;
    if (s->faults_out) fault_rec(s, host, down, d, t, FK_DUP, 0, 0, f);
  }
  return at;
}

static struct sim_frame *frame_copy(struct sim *s, const uint8_t *data, size_t len) {
  /* class c holds up to 64 (c + 1) bytes; SIM_FRAME_CLASSES: malloc'd to size */
  uint8_t cls = len > 64u * SIM_FRAME_CLASSES ? SIM_FRAME_CLASSES : (uint8_t)(len ? (len - 1) / 64 : 0);
  struct sim_frame *f;
  if (cls < SIM_FRAME_CLASSES && s->frame_free[cls]) {
    f = s->frame_free[cls];
    s->frame_free[cls] = f->next_free;
    s->nframe_free[cls]--;
  } else {
    f = malloc(sizeof *f + (cls < SIM_FRAME_CLASSES ? 64u * (cls + 1u) : len));
    if (!f) abort();
  }
  f->cls = cls;
  f->next_free = NULL;
  f->refs = 1;
  f->len = (uint16_t)len;
  f->corrupted = false;
  f->forger = 0;
  f->id = 0;
  memcpy(f->data, data, len);
  return f;
}

static void frame_release(struct sim *s, struct sim_frame *f) {
  if (!f || --f->refs) return;
  if (f->cls == SIM_FRAME_CLASSES || s->nframe_free[f->cls] == SIM_FREE_MAX) {
    free(f);
    return;
  }
  f->next_free = s->frame_free[f->cls];
  s->frame_free[f->cls] = f;
  s->nframe_free[f->cls]++;
}

static struct sim_delivery *delivery_alloc(struct sim *s) {
  struct sim_delivery *d = s->dlv_free;
  if (d) {
    s->dlv_free = d->next;
    s->ndlv_free--;
    return d;
  }
  d = malloc(sizeof *d);
  if (!d) abort();
  return d;
}

static void delivery_free(struct sim *s, struct sim_delivery *d) {
  if (s->ndlv_free == SIM_FREE_MAX) {
    free(d);
    return;
  }
  d->next = s->dlv_free;
  s->dlv_free = d;
  s->ndlv_free++;
}

/* ---- arrival queues ---------------------------------------------------------------------- *
 * A link delivers in the order frames were put on it, except for jitter and
 * reordering. So each host keeps its arriving frames in a FIFO and only the
 * FIFO's head has an event in the heap; a frame that would arrive before the
 * FIFO's tail (jitter, reorder) gets its own heap event instead. Each delivery
 * takes its sequence number when it is scheduled, exactly as a heap event
 * would, so the order of the run is the same as one heap event per frame. */
static void delivery_event(struct sim *s, int dst, struct sim_delivery *d) {
  struct sim_ev ev = {d->at, d->seq, EV_DELIVER, dst, d->src, false, 0, d};
  heap_insert(s, ev);
}

static void schedule_delivery(struct sim *s, int dst, int src, struct sim_frame *f, uint64_t at) {
  struct sim_host *h = &s->hosts[dst];
  struct sim_delivery *d = delivery_alloc(s);
  *d = (struct sim_delivery){NULL, at, s->evseq++, src, true, f};
  if (!h->rx_tail) {
    h->rx_head = h->rx_tail = d;
    delivery_event(s, dst, d);
  } else if (at >= h->rx_tail->at) {
    h->rx_tail->next = d;
    h->rx_tail = d;
  } else {
    d->queued = false;
    delivery_event(s, dst, d);
  }
}

/* The delivery an EV_DELIVER event stands for leaves its queue; the next one
 * in the host's FIFO gets the heap event. */
static struct sim_delivery *delivery_take(struct sim *s, const struct sim_ev *ev) {
  struct sim_delivery *d = ev->dlv;
  if (!d->queued) return d;
  struct sim_host *h = &s->hosts[ev->a];
  h->rx_head = d->next;
  if (!h->rx_head) h->rx_tail = NULL;
  else delivery_event(s, ev->a, h->rx_head);
  return d;
}

/* ---- the observer (report): reads only, so it never changes the run ---------------------- */
static void observe_hop(struct sim *s, int host, bool down, uint64_t t, uint32_t id, size_t len,
                        unsigned fates) {
  if (s->observer && s->observer->hop) s->observer->hop(s->observer->ctx, s, host, down, t, id, len, fates);
}

/* link_apply, telling the observer what it did to the frame (from the
 * counters it moved, so link_apply itself stays as it is). */
static uint64_t link_apply_seen(struct sim *s, int host, bool down, struct sim_link_dir *d,
                                uint64_t t, struct sim_frame **fp, int *copies) {
  if (!s->observer) return link_apply(s, host, down, d, t, fp, copies);
  struct sim_link_dir before = *d;
  size_t len = (*fp)->len;
  uint32_t id = (*fp)->id;
  uint64_t at = link_apply(s, host, down, d, t, fp, copies);
  unsigned fates = 0;
  for (int k = 0; k < DROP_KINDS; k++)
    if (d->drops[k] != before.drops[k]) fates |= 1u << k;
  if (d->dup != before.dup) fates |= SIM_FATE_DUP;
  if (d->reordered != before.reordered) fates |= SIM_FATE_REORDER;
  if (d->corrupted != before.corrupted) fates |= SIM_FATE_CORRUPT;
  observe_hop(s, host, down, t, id, len, fates);
  return at;
}

/* Recompute the TCP checksum of an IPv4 (IHL 5) frame after a test hook
 * changed its payload, so no stack can notice. */
static void tcp_fix_checksum(uint8_t *ip) {
  uint8_t *tcp = ip + 20;
  size_t total = (size_t)(ip[2] << 8 | ip[3]);
  tcp[16] = tcp[17] = 0;
  uint32_t sum = 0;
  size_t tlen = total - 20;
  for (int i = 12; i < 20; i += 2) sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
  sum += 6 + (uint32_t)tlen;
  for (size_t i = 0; i + 1 < tlen; i += 2) sum += (uint32_t)(tcp[i] << 8 | tcp[i + 1]);
  if (tlen & 1) sum += (uint32_t)tcp[tlen - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  uint16_t c = (uint16_t)~sum;
  tcp[16] = (uint8_t)(c >> 8);
  tcp[17] = (uint8_t)c;
}

/* Test hook (--inject-bug corrupt-payload): change one byte of the first large
 * TCP payload AND fix the checksums, so no stack can notice: the byte-level
 * stream verification must catch it. */
static void maybe_inject_bug(struct sim *s, struct sim_frame *f) {
  if (!s->inject_bug || s->bug_injected || strcmp(s->inject_bug, "corrupt-payload") != 0) return;
  if (f->len < 14 + 20 + 20 + 100 || f->data[12] != 0x08 || f->data[13] != 0x00) return;
  uint8_t *ip = f->data + 14;
  if (ip[9] != 6 || (ip[0] & 0x0f) != 5) return;
  uint8_t *tcp = ip + 20;
  size_t ihl = 20, off = (size_t)(tcp[12] >> 4) * 4;
  size_t total = (size_t)(ip[2] << 8 | ip[3]);
  if (total < ihl + off + 50) return;
  tcp[off + 40] ^= 0x5a;
  tcp_fix_checksum(ip);
  s->bug_injected = true;
}

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Test hooks for retransmissions (--inject-bug drop-rexmit | stale-rexmit):
 * a stack that mishandles the first TCP retransmission of data it ever sends,
 * so the bug shows only when a fault (a loss, mostly) causes one.
 * The simulator tracks, per TCP direction as the host sends it, the highest
 * sequence number sent; a data segment starting below it is a retransmission.
 *   drop-rexmit   that segment, and every later retransmission of the same
 *                 sequence number on that connection, never leaves the host
 *                 (the connection stalls: a liveness failure);
 *   stale-rexmit  that segment carries one wrong byte, checksum fixed (an
 *                 integrity failure).
 * Returns 1 to drop the frame, 2 to corrupt it, 0 to leave it. */
static int rexmit_bug(struct sim *s, const uint8_t *d, size_t len) {
  bool drop = !strcmp(s->inject_bug, "drop-rexmit");
  if (s->bug_off || (!drop && strcmp(s->inject_bug, "stale-rexmit"))) return 0;
  if (len < 14 + 20 + 20 || d[12] != 0x08 || d[13] != 0x00) return 0;
  const uint8_t *ip = d + 14;
  if (ip[9] != 6 || (ip[0] & 0x0f) != 5) return 0;
  const uint8_t *tcp = ip + 20;
  size_t total = (size_t)(ip[2] << 8 | ip[3]), off = (size_t)(tcp[12] >> 4) * 4;
  if (total > len - 14 || total < 20 + off || off < 20) return 0;
  uint32_t payload = (uint32_t)(total - 20 - off), seq = be32(tcp + 4);
  uint32_t sip = be32(ip + 12), dip = be32(ip + 16);
  uint16_t sport = (uint16_t)(tcp[0] << 8 | tcp[1]), dport = (uint16_t)(tcp[2] << 8 | tcp[3]);
  struct sim_bug_conn *c = NULL;
  for (size_t i = 0; i < s->nbug_conns && !c; i++)
    if (s->bug_conns[i].sip == sip && s->bug_conns[i].dip == dip && s->bug_conns[i].sport == sport &&
        s->bug_conns[i].dport == dport)
      c = &s->bug_conns[i];
  bool syn = tcp[13] & 0x02;
  if (!c) {
    if (!syn && !payload) return 0;
    s->bug_conns = realloc(s->bug_conns, (s->nbug_conns + 1) * sizeof *s->bug_conns);
    if (!s->bug_conns) abort();
    c = &s->bug_conns[s->nbug_conns++];
    memset(c, 0, sizeof *c);
    c->sip = sip;
    c->dip = dip;
    c->sport = sport;
    c->dport = dport;
    c->max_end = seq;
  }
  if (syn) { /* a new connection on this 4-tuple (or the SYN again) */
    c->max_end = seq + 1;
    return 0;
  }
  if (!payload) return 0;
  uint32_t end = seq + payload;
  bool rexmit = (int32_t)(c->max_end - seq) > 0;
  if ((int32_t)(end - c->max_end) > 0) c->max_end = end;
  if (!rexmit) return 0;
  if (drop && c->cursed && seq == c->cursed_seq) {
    s->bug_hits++;
    return 1;
  }
  if (s->bug_injected) return 0;
  s->bug_injected = true;
  s->bug_hits++;
  if (!drop) return 2;
  c->cursed = true;
  c->cursed_seq = seq;
  return 1;
}

/* stale-rexmit: one wrong payload byte (the first), checksum fixed. */
static void stale_payload(struct sim_frame *f) {
  uint8_t *ip = f->data + 14, *tcp = ip + 20;
  tcp[(size_t)(tcp[12] >> 4) * 4] ^= 0x5a;
  tcp_fix_checksum(ip);
}

/* Put the frame on dst's down link. With `give`, the caller's reference is
 * handed over; otherwise dst shares the frame (a flood: one copy for all). */
static void deliver_to(struct sim *s, int src, int dst, struct sim_frame *orig, uint64_t t,
                       bool give) {
  struct sim_host *hd = &s->hosts[dst];
  if (s->blocked[(size_t)src * (size_t)s->nhosts + (size_t)dst]) {
    s->hosts[src].up_dir.drops[DROP_PARTITION]++;
    observe_hop(s, src, false, t, orig->id, orig->len, 1u << DROP_PARTITION);
    if (give) frame_release(s, orig);
    return;
  }
  if (!hd->link_up) {
    hd->down_dir.drops[DROP_LINK_DOWN]++;
    observe_hop(s, dst, true, t, orig->id, orig->len, 1u << DROP_LINK_DOWN);
    if (give) frame_release(s, orig);
    return;
  }
  struct sim_frame *f = orig;
  if (!give) f->refs++;
  int copies;
  uint64_t at = link_apply_seen(s, dst, true, &hd->down_dir, t, &f, &copies);
  if (!at) {
    frame_release(s, f);
    return;
  }
  for (int c = 0; c < copies; c++) {
    if (c) f->refs++; /* a duplicate: the same bytes again, one microsecond later */
    schedule_delivery(s, dst, src, f, at + (uint64_t)c);
  }
}

/* ---- segments -------------------------------------------------------------------------- */
static uint64_t mac_key(const uint8_t *m) {
  return (uint64_t)m[0] << 40 | (uint64_t)m[1] << 32 | (uint64_t)m[2] << 24 |
         (uint64_t)m[3] << 16 | (uint64_t)m[4] << 8 | m[5];
}

static size_t mac_slot(const struct sim_segment *g, uint64_t key) {
  return (size_t)(prng_golden(key) >> 20) & (g->mac_cap - 1);
}

/* Learning switch table: the port (host) a MAC was last seen on, or -1. */
static int switch_lookup(const struct sim_segment *g, uint64_t key) {
  if (!g->mac_cap) return -1;
  for (size_t i = mac_slot(g, key), n = 0; n < g->mac_cap; i = (i + 1) & (g->mac_cap - 1), n++) {
    if (g->mac_keys[i] == 0) return -1;
    if (g->mac_keys[i] == key + 1) return g->mac_hosts[i];
  }
  return -1;
}

static void switch_learn(struct sim_segment *g, uint64_t key, int host) {
  if (!g->mac_cap) return;
  for (size_t i = mac_slot(g, key), n = 0; n < g->mac_cap; i = (i + 1) & (g->mac_cap - 1), n++) {
    if (g->mac_keys[i] == 0 || g->mac_keys[i] == key + 1) {
      g->mac_keys[i] = key + 1;
      g->mac_hosts[i] = host;
      return;
    }
  }
  /* table full (more MACs than 2x the members): stop learning, keep flooding */
}

/* A frame leaves host src: up-link faults, then the segment forwards it. The
 * switch learns the source MAC of the frame as sent (a real switch never
 * learns from a frame its CRC rejects, and the simulator's corruption models
 * errors the CRC missed). */
static void transmit(struct sim *s, int src, const uint8_t *data, size_t len) {
  struct sim_host *h = &s->hosts[src];
  struct sim_segment *g = &s->segments[h->segment];
  if (h->tapped) /* attackers that watch this host's connection */
    for (int i = 0; i < s->nhosts; i++)
      if (s->hosts[i].attack && s->hosts[i].attack->flow >= 0 && s->hosts[i].attack->victim == src)
        attack_observe(s, i, src, data, len);
  int rexmit = s->inject_bug ? rexmit_bug(s, data, len) : 0;
  if (rexmit == 1) return; /* drop-rexmit: the stack never sent it */
  pcap_write(s->pcap_dumper, s->now, data, len);
  pcap_write(h->pcap_dumper, s->now, data, len);
  uint32_t id = s->observer && s->observer->sent ? s->observer->sent(s->observer->ctx, s, src, data, len) : 0;
  if (!h->link_up) {
    h->up_dir.drops[DROP_LINK_DOWN]++;
    observe_hop(s, src, false, s->now, id, len, 1u << DROP_LINK_DOWN);
    return;
  }
  uint64_t src_mac = mac_key(data + 6), dst_mac = mac_key(data);
  struct sim_frame *f = frame_copy(s, data, len);
  f->id = id;
  f->forger = h->attack ? (uint16_t)(src + 1) : 0;
  bool bug_before = s->bug_injected;
  maybe_inject_bug(s, f);
  if (rexmit == 2) {
    stale_payload(f);
    bug_before = false;
  }
  if (s->bug_injected != bug_before) observe_hop(s, src, false, s->now, f->id, len, SIM_FATE_BUG);
  int copies;
  uint64_t at = link_apply_seen(s, src, false, &h->up_dir, s->now, &f, &copies);
  if (!at) {
    frame_release(s, f);
    return;
  }
  if (g->kind == SEG_SWITCH) switch_learn(g, src_mac, src);
  for (int c = 0; c < copies; c++) {
    uint64_t t = at + (uint64_t)c;
    int port = -1;
    bool flood = g->kind != SEG_SWITCH || (data[0] & 1); /* hub, link, broadcast, multicast */
    if (!flood) {
      port = switch_lookup(g, dst_mac);
      flood = port < 0;
      if (flood) g->flooded++;
    }
    if (flood) {
      for (int m = 0; m < g->nmembers; m++)
        if (g->members[m] != src) deliver_to(s, src, g->members[m], f, t, false);
    } else if (port != src) {
      /* the common case, one unicast copy: hand the frame over, no copy */
      bool last = c + 1 == copies;
      deliver_to(s, src, port, f, t, last);
      if (last) return;
    } else {
      h->up_dir.drops[DROP_NO_HOST]++; /* the switch filters a frame back to its own port */
      observe_hop(s, src, false, t, f->id, len, 1u << DROP_NO_HOST);
    }
  }
  frame_release(s, f);
}

void sim_transmit(struct sim *s, int src, const uint8_t *data, size_t len) { transmit(s, src, data, len); }

void sim_schedule(struct sim *s, uint64_t at, enum sim_event_kind kind, int a) {
  struct sim_ev ev = {at, 0, kind, a, 0, false, 0, NULL};
  heap_push(s, ev);
}

static void schedule_wake(struct sim *s, struct sim_host *h) {
  uint64_t d = global_time(h, microtcp_deadline(h->st));
  if (d == UINT64_MAX) return;
  if (d <= s->now) d = s->now + 1;
  if (h->wake_at == d) return;
  h->wake_at = d;
  h->wake_key = d;
  h->wake_seq = s->evseq++;
  wheap_update(s, h->index);
}

static void flush_output(struct sim *s, struct sim_host *h) {
  /* Zero-copy: transmit reads the frame where the stack built it (it never
   * calls back into the stack), then the frame goes back to the pool. */
  const uint8_t *frame;
  int n;
  while ((n = microtcp_output_frame(h->st, local_time(h, s->now), &frame)) > 0) {
    transmit(s, h->index, frame, (size_t)n);
    microtcp_output_release(h->st);
  }
}

static void poll_app(struct sim *s, struct sim_host *h, struct app *a) {
  if (a->status != APP_RUNNING) return;
  if (app_poll(a, h->st, local_time(h, s->now)) != APP_RUNNING) s->flows_dirty = true;
}

/* Accept new connections on this host's servers and start their apps. */
static void serve(struct sim *s, struct sim_host *h) {
  for (int i = 0; i < s->nservers; i++) {
    struct sim_server *sv = &s->servers[i];
    if (sv->host != h->index || sv->handle < 0 || sv->kind == APP_UDP_ECHO_SERVER) continue;
    for (;;) {
      int c = microtcp_tcp_accept(h->st, local_time(h, s->now), sv->handle, NULL);
      if (c < 0) break;
      struct app *a = calloc(1, sizeof *a);
      if (!a) abort();
      struct app_params p = {0};
      p.flow_seed = sv->flow_seed;
      app_start_server(a, sv->kind, &p, c, h->st, local_time(h, s->now));
      app_register(s, h->index, a);
      poll_app(s, h, a);
    }
  }
}

/* After anything happened on host h: run its apps, send its frames, re-arm. */
static void host_service(struct sim *s, struct sim_host *h) {
  if (!h->up || h->attack) return;
  struct host_apps *ha = g_apps_of(s, h->index);
  for (int round = 0; round < 4; round++) {
    serve(s, h);
    size_t n = ha->nready;
    for (size_t i = 0; i < n; i++) {
      int hd = ha->ready[i];
      uint32_t idx = (uint32_t)hd & 0xffffu;
      int kind = (int)((uint32_t)hd >> 28);
      struct app *a = NULL;
      if (kind == 1 && idx < h->cfg.max_tcp) a = ha->tcp[idx];
      if (kind == 3 && idx < h->cfg.max_udp) a = ha->udp[idx];
      if (a && a->handle == hd) poll_app(s, h, a);
    }
    if (n) {
      memmove(ha->ready, ha->ready + n, (ha->nready - n) * sizeof *ha->ready);
      ha->nready -= n;
    }
    /* Safety net and app timers (UDP/ping retries): sweep every app every 10 ms. */
    if (s->now - ha->last_sweep >= 10000 || ha->last_sweep == 0) {
      ha->last_sweep = s->now ? s->now : 1;
      for (size_t i = 0; i < ha->nall; i++) poll_app(s, h, ha->all[i]);
    }
    flush_output(s, h);
    if (ha->nready == 0) break;
  }
  schedule_wake(s, h);
  if (s->observer && s->observer->serviced)
    s->observer->serviced(s->observer->ctx, s, h->index, ha->all, ha->nall);
  /* Apps with their own timers (UDP/ping timeouts) need a tick while running. */
  if (!h->tick_at) {
    for (size_t i = 0; i < ha->nall; i++) {
      const struct app *a = ha->all[i];
      if (a->status == APP_RUNNING && (a->kind == APP_PING || a->kind == APP_UDP_ECHO_CLIENT)) {
        h->tick_at = s->now + 10000;
        struct sim_ev ev = {h->tick_at, 0, EV_TICK, h->index, 0, false, h->tick_at, NULL};
        heap_push(s, ev);
        break;
      }
    }
  }
}

/* ---- setup -------------------------------------------------------------------------------- */
static void start_servers(struct sim *s, int host) {
  struct sim_host *h = &s->hosts[host];
  for (int i = 0; i < s->nservers; i++) {
    struct sim_server *sv = &s->servers[i];
    if (sv->host != host) continue;
    uint64_t now = local_time(h, s->now);
    if (sv->kind == APP_UDP_ECHO_SERVER) {
      sv->handle = microtcp_udp_bind(h->st, now, sv->port);
      if (sv->handle >= 0) {
        struct app *a = calloc(1, sizeof *a);
        struct app_params p = {0};
        p.flow_seed = sv->flow_seed;
        app_start_server(a, APP_UDP_ECHO_SERVER, &p, sv->handle, h->st, now);
        app_register(s, host, a);
      }
    } else {
      int backlog = h->cfg.max_tcp < 1024 ? h->cfg.max_tcp : 1024;
      sv->handle = microtcp_tcp_listen(h->st, now, sv->port, backlog > 0 ? backlog : 1);
    }
    if (sv->handle < 0) fprintf(stderr, "host %s: cannot serve port %u: %s\n", h->name, sv->port, microtcp_strerror(sv->handle));
  }
}

int sim_setup(struct sim *s) {
  struct host_apps *apps_table = calloc((size_t)s->nhosts, sizeof *apps_table);
  s->apps = apps_table;
  s->blocked = calloc((size_t)s->nhosts * (size_t)s->nhosts, 1);
  s->wheap = calloc((size_t)s->nhosts + 1, sizeof *s->wheap);
  if (!apps_table || !s->blocked || !s->wheap) return -1;
  for (int i = 0; i < s->nsegments; i++) {
    struct sim_segment *g = &s->segments[i];
    if (g->kind != SEG_SWITCH) continue;
    g->mac_cap = 16;
    while (g->mac_cap < 2 * (size_t)g->nmembers) g->mac_cap *= 2;
    g->mac_keys = calloc(g->mac_cap, sizeof *g->mac_keys);
    g->mac_hosts = calloc(g->mac_cap, sizeof *g->mac_hosts);
    if (!g->mac_keys || !g->mac_hosts) return -1;
  }
  for (int i = 0; i < s->nhosts; i++) {
    struct sim_host *h = &s->hosts[i];
    h->index = i;
    h->link_up = true;
    h->up_dir.rng = sim_stream_seed(s->seed, 11, h->id);
    h->down_dir.rng = sim_stream_seed(s->seed, 12, h->id);
    apps_table[i].tcp = calloc(h->cfg.max_tcp ? h->cfg.max_tcp : 1, sizeof(struct app *));
    apps_table[i].udp = calloc(h->cfg.max_udp ? h->cfg.max_udp : 1, sizeof(struct app *));
    if (h->attack) { /* no stack: raw frames (attack.c) */
      h->up = true;
      h->attack->ip = h->cfg.ip;
      attack_start(s, i);
      continue;
    }
    if (host_boot(s, h) < 0) return -1;
  }
  /* one server per (host, port) */
  for (int f = 0; f < s->nflows; f++) {
    struct sim_flow *fl = &s->flows[f];
    enum app_kind sk = app_server_kind(fl->kind);
    if (!sk) continue;
    int found = 0;
    for (int i = 0; i < s->nservers; i++)
      if (s->servers[i].host == fl->server && s->servers[i].port == fl->port) {
        found = 1;
        if (s->servers[i].kind != sk) {
          fprintf(stderr, "flows %s and another share port %u on one host with different apps\n",
                  fl->name, fl->port);
          return -1;
        }
        fl->params.flow_seed = s->servers[i].flow_seed;
      }
    if (!found) {
      s->servers = realloc(s->servers, (size_t)(s->nservers + 1) * sizeof *s->servers);
      struct sim_server *sv = &s->servers[s->nservers++];
      memset(sv, 0, sizeof *sv);
      sv->host = fl->server;
      sv->port = fl->port;
      sv->kind = sk;
      sv->flow_seed = fl->params.flow_seed;
      sv->handle = -1;
    }
  }
  for (int i = 0; i < s->nhosts; i++) start_servers(s, i);
  for (int f = 0; f < s->nflows; f++) {
    struct sim_ev ev = {s->flows[f].start_us, 0, EV_FLOW_START, f, 0, false, 0, NULL};
    heap_push(s, ev);
  }
  for (int e = 0; e < s->nevents; e++) {
    struct sim_event_spec *sp = &s->events[e];
    struct sim_ev ev = {sp->at, 0, sp->kind, sp->a, sp->b, sp->one_way, 0, NULL};
    heap_push(s, ev);
  }
  for (int i = 0; i < s->nhosts; i++) host_service(s, &s->hosts[i]);
  return 0;
}

/* ---- flows -------------------------------------------------------------------------------- */
static void flow_start(struct sim *s, struct sim_flow *fl) {
  struct sim_host *h = &s->hosts[fl->client];
  fl->status = FLOW_RUNNING;
  fl->clients = calloc(fl->connections, sizeof *fl->clients);
  for (uint32_t c = 0; c < fl->connections; c++) {
    struct app *a = &fl->clients[c];
    if (!h->up) {
      memset(a, 0, sizeof *a);
      a->kind = fl->kind;
      a->handle = -1;
      app_abandon(a, "client host is down", s->now);
      continue;
    }
    struct app_params p = fl->params;
    p.flow_seed = fl->params.flow_seed + c * (fl->kind == APP_PING ? 0x10000ull : 0);
    app_start_client(a, fl->kind, &p, h->st, local_time(h, s->now));
    app_register(s, fl->client, a);
    poll_app(s, h, a);
  }
  s->flows_dirty = true;
  log_event(s, "flow-start", h->name, fl->name);
  host_service(s, h);
}

static void flow_update(struct sim *s, struct sim_flow *fl) {
  if (fl->status != FLOW_RUNNING) return;
  uint32_t done = 0;
  for (uint32_t c = 0; c < fl->connections; c++) {
    struct app *a = &fl->clients[c];
    if (a->status == APP_FAILED) {
      fl->status = FLOW_FAILED;
      snprintf(fl->reason, sizeof fl->reason, "connection %u: %s", c, a->reason);
      fl->finished_at = s->now;
      return;
    }
    done += a->status == APP_DONE;
  }
  if (done == fl->connections) {
    fl->status = FLOW_DONE;
    fl->finished_at = s->now;
    if (fl->connections == 1 && fl->clients[0].reason[0])
      snprintf(fl->reason, sizeof fl->reason, "%s", fl->clients[0].reason);
  }
}

static bool all_flows_ended(const struct sim *s) {
  for (int f = 0; f < s->nflows; f++)
    if (s->flows[f].status == FLOW_PENDING || s->flows[f].status == FLOW_RUNNING) return false;
  return true;
}

/* ---- scenario events ---------------------------------------------------------------------- */
static void set_blocked(struct sim *s, int a, int b, bool one_way, uint8_t v) {
  for (int x = 0; x < s->nhosts; x++) {
    if (b >= 0 && x != b) continue;
    if (x == a) continue;
    s->blocked[(size_t)a * (size_t)s->nhosts + (size_t)x] = v;
    if (!one_way) s->blocked[(size_t)x * (size_t)s->nhosts + (size_t)a] = v;
  }
}

static void crash_host(struct sim *s, struct sim_host *h) {
  if (!h->up) return;
  if (h->attack) { /* an attacker just stops (its held connections are the victim's problem) */
    h->up = false;
    log_event(s, "crash", h->name, NULL);
    return;
  }
  s->flows_dirty = true;
  struct host_apps *ha = g_apps_of(s, h->index);
  /* Apps stay listed (failed, without a handle) so they are freed at the end. */
  for (size_t i = 0; i < ha->nall; i++) app_abandon(ha->all[i], "host crashed", s->now);
  ha->nready = 0;
  memset(ha->tcp, 0, h->cfg.max_tcp * sizeof *ha->tcp);
  memset(ha->udp, 0, h->cfg.max_udp * sizeof *ha->udp);
  for (int i = 0; i < s->nservers; i++)
    if (s->servers[i].host == h->index) s->servers[i].handle = -1;
  h->up = false;
  h->st = NULL; /* state lost: the arena is reused on restart */
  log_event(s, "crash", h->name, NULL);
}

/* Trace hash: FNV-1a-style multiply-xor over 64-bit little-endian words (time,
 * destination, frame bytes), in four interleaved lanes so the multiplies do
 * not wait on each other, folded at the end. */
static uint64_t load_le64(const uint8_t *p) {
  uint64_t w;
  memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  w = __builtin_bswap64(w);
#endif
  return w;
}

static uint64_t trace_mix(uint64_t h, uint64_t now, uint64_t dst, const uint8_t *p, size_t n) {
  const uint64_t prime = 1099511628211ull;
  h = (h ^ now) * prime;
  h = (h ^ dst) * prime;
  /* Four named lanes, not an array: gcc -O2 kept an array in memory, and
   * every multiply then waited on a store and a reload. */
  uint64_t l0 = h, l1 = h ^ 1, l2 = h ^ 2, l3 = h ^ 3;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    l0 = (l0 ^ load_le64(p + i)) * prime;
    l1 = (l1 ^ load_le64(p + i + 8)) * prime;
    l2 = (l2 ^ load_le64(p + i + 16)) * prime;
    l3 = (l3 ^ load_le64(p + i + 24)) * prime;
  }
  for (; i + 8 <= n; i += 8) l0 = (l0 ^ load_le64(p + i)) * prime;
  for (; i < n; i++) l1 = (l1 ^ p[i]) * prime;
  h = (h ^ l0) * prime;
  h = (h ^ l1) * prime;
  h = (h ^ l2) * prime;
  h = (h ^ l3) * prime;
  return (h ^ n) * prime;
}

/* Loss, bursts, reordering, duplication and corruption stop on every link
 * direction; latency, jitter, bandwidth, queues and MTUs stay. */
static void calm_all(struct sim *s) {
  for (int i = 0; i < s->nhosts; i++) {
    struct sim_link_dir *d[2] = {&s->hosts[i].up_dir, &s->hosts[i].down_dir};
    for (int k = 0; k < 2; k++) {
      struct sim_faults *f = &d[k]->f;
      f->loss_ppm = f->ge_p_ppm = f->ge_r_ppm = f->ge_loss_bad_ppm = f->ge_loss_good_ppm = 0;
      f->reorder_ppm = f->dup_ppm = f->corrupt_ppm = 0;
      d[k]->ge_bad = false;
    }
  }
}

/* A frame from host attacker reset a connection of the host it reached: the stack took
 * a RST whose sequence number was exactly RCV.NXT, which RFC 5961 3.2 (and
 * Linux) accept - only an exact match resets, and the scripts
 * rfc5961-*.pkt pin that. A blind in-window rst-probe hits it by chance (odds
 * of about one in the window per in-window probe, more often with small
 * windows), so its flow's reset is the attack succeeding as the RFC allows,
 * not a stack failure: sim_check reports it apart. */
static void forged_reset(struct sim *s, int attacker) {
  struct sim_attack *a = s->hosts[attacker].attack;
  if (a->kind != ATK_RST_PROBE || a->flow < 0) return; /* (others reset only their own connections) */
  a->exact_hits++;
  s->flows[a->flow].forged_reset = true;
}

static void handle_event(struct sim *s, const struct sim_ev *ev) {
  switch (ev->kind) {
  case EV_DELIVER: {
    struct sim_host *h = &s->hosts[ev->a];
    struct sim_delivery *d = delivery_take(s, ev);
    struct sim_frame *f = d->frame;
    if (!h->up) {
      h->down_dir.drops[DROP_HOST_DOWN]++;
      observe_hop(s, ev->a, true, s->now, f->id, f->len, 1u << DROP_HOST_DOWN);
    } else if (h->attack) {
      pcap_write(h->pcap_dumper, s->now, f->data, f->len);
      s->trace_hash = trace_mix(s->trace_hash, s->now, (uint64_t)ev->a, f->data, f->len);
      attack_input(s, ev->a, f->data, f->len);
    } else {
      pcap_write(h->pcap_dumper, s->now, f->data, f->len);
      s->trace_hash = trace_mix(s->trace_hash, s->now, (uint64_t)ev->a, f->data, f->len);
      uint64_t resets = f->forger ? microtcp_get_counters(h->st)->tcp_resets_in : 0;
      microtcp_input(h->st, local_time(h, s->now), f->data, f->len);
      if (f->forger && microtcp_get_counters(h->st)->tcp_resets_in != resets) forged_reset(s, f->forger - 1);
      host_service(s, h);
    }
    frame_release(s, f);
    delivery_free(s, d);
    break;
  }
  case EV_WAKE: {
    struct sim_host *h = &s->hosts[ev->a];
    if (!h->up || h->wake_at != ev->stamp) break; /* superseded */
    h->wake_at = 0;
    microtcp_advance(h->st, local_time(h, s->now));
    host_service(s, h);
    break;
  }
  case EV_TICK: {
    struct sim_host *h = &s->hosts[ev->a];
    if (h->tick_at != ev->stamp) break;
    h->tick_at = 0;
    if (h->up) {
      g_apps_of(s, h->index)->last_sweep = 0; /* force the sweep */
      host_service(s, h);
    }
    break;
  }
  case EV_FLOW_START: flow_start(s, &s->flows[ev->a]); break;
  case EV_PARTITION:
    set_blocked(s, ev->a, ev->b, ev->one_way, 1);
    log_event(s, "partition", s->hosts[ev->a].name, ev->one_way ? "one-way" : NULL);
    break;
  case EV_HEAL:
    set_blocked(s, ev->a, ev->b, ev->one_way, 0);
    log_event(s, "heal", s->hosts[ev->a].name, NULL);
    break;
  case EV_LINK_DOWN:
    s->hosts[ev->a].link_up = false;
    log_event(s, "link-down", s->hosts[ev->a].name, NULL);
    break;
  case EV_LINK_UP:
    s->hosts[ev->a].link_up = true;
    log_event(s, "link-up", s->hosts[ev->a].name, NULL);
    break;
  case EV_CALM:
    /* From here on every flow must converge (the swarm's liveness mode). */
    calm_all(s);
    log_event(s, "calm", "all", NULL);
    break;
  case EV_CRASH: crash_host(s, &s->hosts[ev->a]); break;
  case EV_ATTACK: attack_tick(s, ev->a); break;
  case EV_RESTART: {
    struct sim_host *h = &s->hosts[ev->a];
    if (h->up) break;
    if (h->attack) {
      h->up = true;
      log_event(s, "restart", h->name, NULL);
      break;
    }
    h->restarts++;
    if (host_boot(s, h) == 0) {
      start_servers(s, h->index);
      log_event(s, "restart", h->name, NULL);
      host_service(s, h);
    }
    break;
  }
  }
}

static uint64_t wall_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A line on stderr every progress_us of wall time, so a long run shows it is
 * alive and how far it got. Wall time never feeds back into the simulation. */
static void progress(struct sim *s, uint64_t until, uint64_t t0, uint64_t *next) {
  uint64_t w = wall_us();
  if (w < *next) return;
  *next = w + s->progress_us;
  fprintf(stderr, "microtcp-sim: running: virtual %" PRIu64 ".%03" PRIu64 " s of %" PRIu64 ".%03" PRIu64
          " s, %" PRIu64 " events, %" PRIu64 ".%01" PRIu64 " s wall\n", s->now / 1000000,
          s->now / 1000 % 1000, until / 1000000, until / 1000 % 1000, s->events_processed,
          (w - t0) / 1000000, (w - t0) / 100000 % 10);
}

void sim_run(struct sim *s, uint64_t until) {
  uint64_t ended_at = UINT64_MAX;
  s->stop_us = until;
  uint64_t t0 = s->progress_us ? wall_us() : 0, next_progress = t0 + s->progress_us;
  while (have_next(s)) {
    if (s->progress_us && (s->events_processed & 4095) == 0) progress(s, until, t0, &next_progress);
    if (next_time(s) > until) break;
    if (ended_at != UINT64_MAX && next_time(s) > ended_at + s->settle_us) break;
    struct sim_ev ev = pop_next(s);
    if (ev.at > s->now) s->now = ev.at;
    handle_event(s, &ev);
    s->events_processed++;
    if (s->flows_dirty) { /* an app finished or failed: re-derive flow states */
      s->flows_dirty = false;
      for (int f = 0; f < s->nflows; f++) flow_update(s, &s->flows[f]);
      if (ended_at == UINT64_MAX && all_flows_ended(s)) ended_at = s->flows_ended_at = s->now;
    }
  }
  if (s->now < until && ended_at == UINT64_MAX && !have_next(s)) s->now = until;
}

/* ---- end of run ---------------------------------------------------------------------------- */
/* The flow a server-side app (found by its flow seed) belongs to: its name
 * when one flow uses that server, else "server HOST:PORT". */
static void server_app_subject(const struct sim *s, const struct app *a, char *out, size_t n) {
  for (int i = 0; i < s->nservers; i++) {
    const struct sim_server *sv = &s->servers[i];
    if (sv->flow_seed != a->p.flow_seed) continue;
    int found = -1, count = 0;
    for (int f = 0; f < s->nflows; f++)
      if (s->flows[f].server == sv->host && s->flows[f].port == sv->port) {
        found = f;
        count++;
      }
    if (count == 1) snprintf(out, n, "flow %s", s->flows[found].name);
    else snprintf(out, n, "server %s:%u", s->hosts[sv->host].name, sv->port);
    return;
  }
  snprintf(out, n, "an unknown flow");
}

int sim_check(struct sim *s, FILE *out) {
  int code = 0;
  /* The failure's identity (kind + subject), for shrinking: the first
   * invariant violation if any, else the first liveness failure. */
  char live_id[160] = "", inv_id[160] = "";
  s->failure[0] = 0;
  /* Liveness: every flow finished or failed with a reason, as the scenario
   * expected (expect = done by default; failed or any for flows a crash or a
   * long partition is meant to break). */
  for (int f = 0; f < s->nflows; f++) {
    struct sim_flow *fl = &s->flows[f];
    if (fl->status == FLOW_PENDING || fl->status == FLOW_RUNNING) {
      /* The stop time, not s->now: the last event may be long before it. */
      uint64_t t = s->stop_us > s->now ? s->stop_us : s->now;
      fprintf(out, "LIVENESS: flow %s still %s when the run stopped at %" PRIu64 ".%06" PRIu64 " s\n",
              fl->name, fl->status == FLOW_PENDING ? "pending" : "running", t / 1000000, t % 1000000);
      if (!live_id[0]) snprintf(live_id, sizeof live_id, "liveness: flow %s still running", fl->name);
      code = 4;
    } else if (fl->status == FLOW_FAILED && fl->expect == EXPECT_DONE && fl->forged_reset &&
               strstr(fl->reason, "reset")) {
      /* Not the stack's failure: an attacker's RST at exactly RCV.NXT (forged_reset). */
      fprintf(out, "ATTACK: flow %s was reset by an rst-probe's RST at exactly RCV.NXT (RFC 5961 3.2 "
                   "accepts it; a blind in-window probe hits it about once per window's worth of probes): "
                   "not counted as a failure\n", fl->name);
    } else if (fl->status == FLOW_FAILED && fl->expect == EXPECT_DONE) {
      fprintf(out, "LIVENESS: flow %s failed (%s) but was expected to complete\n", fl->name,
              fl->reason);
      if (!live_id[0]) snprintf(live_id, sizeof live_id, "liveness: flow %s failed", fl->name);
      code = 4;
    } else if (fl->status == FLOW_DONE && fl->expect == EXPECT_FAILED) {
      fprintf(out, "LIVENESS: flow %s completed but was expected to fail\n", fl->name);
      if (!live_id[0]) snprintf(live_id, sizeof live_id, "liveness: flow %s completed", fl->name);
      code = 4;
    }
  }
  /* Liveness is judged: the retransmission test hooks stop, so the closing
   * handshakes can finish (their failure is the liveness one, not a leak). */
  s->bug_off = true;
  /* Close everything, then let TIME_WAIT and retransmissions run out. */
  for (int i = 0; i < s->nhosts; i++) {
    struct sim_host *h = &s->hosts[i];
    if (!h->up || h->attack) continue;
    struct host_apps *ha = g_apps_of(s, i);
    for (size_t k = 0; k < ha->nall; k++) app_close(ha->all[k], h->st, local_time(h, s->now));
    for (int k = 0; k < s->nservers; k++)
      if (s->servers[k].host == i && s->servers[k].handle >= 0 &&
          s->servers[k].kind != APP_UDP_ECHO_SERVER)
        microtcp_tcp_close(h->st, local_time(h, s->now), s->servers[k].handle);
    host_service(s, h);
  }
  /* Heal and calm everything so closing handshakes can finish: scenario
   * events no longer fire from here (a calm scheduled after the flows ended
   * would never come), and a link left in a Gilbert-Elliott bad state could
   * otherwise eat every FIN retransmission and RST until the horizon, leaving
   * a connection block behind that is the network's doing, not a leak. */
  memset(s->blocked, 0, (size_t)s->nhosts * (size_t)s->nhosts);
  for (int i = 0; i < s->nhosts; i++) s->hosts[i].link_up = true;
  calm_all(s);
  /* Attackers exit once the network is quiet: their held connections are
   * reset (a RST lost to a fault would leave the victim probing a zero window
   * for ever, a leak that is the harness's doing). */
  for (int i = 0; i < s->nhosts; i++)
    if (s->hosts[i].attack) attack_finish(s, i);
  uint64_t settle_until = s->now + s->settle_us + 130000000ull;
  while (have_next(s) && next_time(s) <= settle_until) {
    struct sim_ev ev = pop_next(s);
    if (ev.kind != EV_DELIVER && ev.kind != EV_WAKE) continue; /* no new scenario events */
    if (ev.at > s->now) s->now = ev.at;
    handle_event(s, &ev);
    s->events_processed++;
  }
  /* Integrity: every byte any app received was the byte sent. */
  uint64_t bad = 0;
  for (int f = 0; f < s->nflows; f++)
    for (uint32_t c = 0; s->flows[f].clients && c < s->flows[f].connections; c++) {
      bad += s->flows[f].clients[c].verified_errors;
      if (s->flows[f].clients[c].verified_errors && !inv_id[0])
        snprintf(inv_id, sizeof inv_id, "integrity: flow %s", s->flows[f].name);
    }
  for (int i = 0; i < s->nhosts; i++) {
    struct host_apps *ha = g_apps_of(s, i);
    for (size_t k = 0; k < ha->nall; k++)
      if (ha->all[k]->kind == APP_SINK && ha->all[k]->verified_errors) {
        bad += ha->all[k]->verified_errors;
        if (!inv_id[0]) {
          char subj[120];
          server_app_subject(s, ha->all[k], subj, sizeof subj);
          snprintf(inv_id, sizeof inv_id, "integrity: %s", subj);
        }
      }
  }
  s->integrity_errors = bad;
  if (bad) {
    fprintf(out, "INTEGRITY: %llu bytes delivered to applications differ from what was sent\n",
            (unsigned long long)bad);
    code = 3;
  }
  /* No leaks: every pool of every live instance back to zero. */
  for (int i = 0; i < s->nhosts; i++) {
    struct sim_host *h = &s->hosts[i];
    if (!h->up || h->attack) continue;
    microtcp_pool_usage u;
    microtcp_get_pool_usage(h->st, &u);
    if (u.tcp || u.listeners || u.udp || u.frames || u.arp_pending || u.reasm_slots ||
        u.reasm_bytes) {
      fprintf(out,
              "LEAK: host %s pools not empty: tcp %u listeners %u udp %u frames %u arp_pending %u "
              "reasm %u/%u\n",
              h->name, u.tcp, u.listeners, u.udp, u.frames, u.arp_pending, u.reasm_slots,
              u.reasm_bytes);
      if (!inv_id[0]) snprintf(inv_id, sizeof inv_id, "leak: host %s", h->name);
      code = 3;
    }
  }
  snprintf(s->failure, sizeof s->failure, "%s", inv_id[0] ? inv_id : live_id);
  s->failure_liveness_too = inv_id[0] && live_id[0];
  if (code) fprintf(out, "failure: %s\n", s->failure);
  if (code)
    fprintf(out, "reproduce: microtcp-sim run %s --seed %llu%s%s\n", s->scenario_path,
            (unsigned long long)s->seed, s->swarm ? " --swarm" : "", s->repro_args ? s->repro_args : "");
  return code;
}

void sim_free(struct sim *s) {
  while (s->nheap) {
    struct sim_ev ev = heap_pop(s);
    if (ev.kind == EV_DELIVER && !ev.dlv->queued) {
      frame_release(s, ev.dlv->frame);
      free(ev.dlv);
    }
  }
  for (int i = 0; i < s->nhosts; i++)
    for (struct sim_delivery *d = s->hosts[i].rx_head, *next; d; d = next) {
      next = d->next;
      frame_release(s, d->frame);
      free(d);
    }
  for (struct sim_delivery *d = s->dlv_free, *next; d; d = next) {
    next = d->next;
    free(d);
  }
  for (int c = 0; c < SIM_FRAME_CLASSES; c++)
    for (struct sim_frame *f = s->frame_free[c], *next; f; f = next) {
      next = f->next_free;
      free(f);
    }
  free(s->heap);
  free(s->wheap);
  struct host_apps *apps_table = s->apps;
  for (int i = 0; i < s->nhosts; i++) {
    free(s->hosts[i].arena);
    if (s->hosts[i].attack) free(s->hosts[i].attack->conns);
    free(s->hosts[i].attack);
    if (apps_table) {
      struct host_apps *ha = &apps_table[i];
      for (size_t k = 0; k < ha->nall; k++) {
        bool owned_by_flow = false;
        for (int f = 0; f < s->nflows && !owned_by_flow; f++)
          owned_by_flow = s->flows[f].clients && ha->all[k] >= s->flows[f].clients &&
                          ha->all[k] < s->flows[f].clients + s->flows[f].connections;
        if (!owned_by_flow) free(ha->all[k]);
      }
      free(ha->all);
      free(ha->tcp);
      free(ha->udp);
      free(ha->ready);
    }
  }
  for (int f = 0; f < s->nflows; f++) free(s->flows[f].clients);
  free(apps_table);
  for (int i = 0; i < s->nsegments; i++) {
    free(s->segments[i].members);
    free(s->segments[i].mac_keys);
    free(s->segments[i].mac_hosts);
  }
  free(s->segments);
  free(s->hosts);
  free(s->flows);
  free(s->servers);
  free(s->events);
  free(s->blocked);
  free(s->replay);
  free(s->bug_conns);
  if (s->faults_in) sim_schedule_free(s->faults_in);
  if (s->faults_out) sim_schedule_free(s->faults_out);
  free(s->faults_in);
  free(s->faults_out);
  memset(s, 0, sizeof *s);
}
