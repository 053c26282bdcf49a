/*
 * The timer heap (core/src/timerheap.c) and its use by TCP (tcp_timer.c):
 * armed connection blocks keyed by mtcp_tcb_deadline, re-keyed at the end of
 * each public call for every block touched (tcp_int.h, mtcp_tcb_touch).
 *
 * - The heap alone against a brute-force model under random set/remove/due.
 * - Two stacks with up to 96 connections under random loss, random socket
 *   options that arm timers (keepalive, user timeout), sends, reads,
 *   shutdowns, closes and aborts: before every microtcp_advance the test
 *   scans every block itself and checks that microtcp_deadline is the
 *   earliest deadline the scan finds, and after it that every due block
 *   fired (none is still due) and no other block changed. With
 *   MICROTCP_ASSERTS (asan preset) the core also checks every heap key
 *   against its block's deadline at the end of every public call.
 * - A timer changed behind the core's back (no touch) traps at the end of the
 *   next public call with MICROTCP_ASSERTS; with a touch it is re-keyed.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "pair.h"
#include "tcp_int.h"

#define IP_B 0x0a000002u

#ifdef MICROTCP_ASSERTS
static const int asserts_on = 1;
#else
static const int asserts_on = 0;
#endif

/* ---- the heap alone ------------------------------------------------------------------ */
enum { HCAP = 300 };

static void heap_shape_ok(const struct theap *h, const uint64_t *model, const int *in) {
  uint32_t present = 0;
  for (uint16_t id = 0; id < HCAP; id++) {
    if (!in[id]) {
      CHECK(h->pos[id] == THEAP_NONE);
      continue;
    }
    present++;
    CHECK(h->pos[id] < h->len && h->ent[h->pos[id]].id == id && h->ent[h->pos[id]].key == model[id]);
  }
  CHECK_EQ(present, h->len);
  for (uint16_t s = 1; s < h->len; s++) {
    const struct theap_ent *e = &h->ent[s], *par = &h->ent[(s - 1) / 2];
    CHECK(par->key < e->key || (par->key == e->key && par->id < e->id));
  }
}

static int cmp_u16(const void *a, const void *b) {
  return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static void heap_matches_brute_force(void) {
  struct theap h;
  struct carve count = {NULL, 0, 0};
  mtcp_theap_init(&h, &count, HCAP);
  size_t need = (count.used + 15) & ~(size_t)15;
  void *mem = aligned_alloc(16, need);
  struct carve c = {mem, 0, need};
  mtcp_theap_init(&h, &c, HCAP);
  CHECK(c.used <= need && h.len == 0 && theap_min(&h) == UINT64_MAX);

  static uint64_t model[HCAP];
  static int in[HCAP];
  uint16_t due[HCAP], want[HCAP];
  uint64_t rng = 12345;
  uint32_t dues_checked = 0;
  for (int op = 0; op < 80000; op++) {
    uint16_t id = (uint16_t)(prng_xorshift64(&rng) % HCAP);
    uint64_t r = prng_xorshift64(&rng);
    switch (r % 5) {
    case 0:
    case 1:
    case 2: { /* keys from a small range: many ties (ordered by id) */
      uint64_t key = (r >> 8) % 1000;
      mtcp_theap_set(&h, id, key);
      model[id] = key;
      in[id] = 1;
      break;
    }
    case 3:
      mtcp_theap_remove(&h, id);
      in[id] = 0;
      break;
    default: {
      uint64_t limit = (r >> 8) % 1000;
      uint16_t n = mtcp_theap_due(&h, limit, due), m = 0;
      for (uint16_t i = 0; i < HCAP; i++)
        if (in[i] && model[i] <= limit) want[m++] = i;
      CHECK_EQ(n, m);
      qsort(due, n, sizeof *due, cmp_u16);
      if (n == m) CHECK(memcmp(due, want, sizeof *due * n) == 0);
      dues_checked++;
    }
    }
    uint64_t min = UINT64_MAX;
    for (uint16_t i = 0; i < HCAP; i++)
      if (in[i] && model[i] < min) min = model[i];
    CHECK(theap_min(&h) == min);
    if (op % 97 == 0) heap_shape_ok(&h, model, in);
  }
  heap_shape_ok(&h, model, in);
  CHECK(dues_checked > 12000);
  free(mem);
}

/* ---- TCP: many connections, random timers, a brute-force scan as the oracle ---------------- */
enum { NCONN = 96 };

struct snap {
  bool in_use;
  uint16_t gen;
  uint8_t state;
  uint64_t t_rexmt, t_delack, t_keep, t_2msl, unacked_since;
};

static bool snap_eq(const struct snap *a, const struct snap *b) {
  return a->in_use == b->in_use && a->gen == b->gen && a->state == b->state &&
         a->t_rexmt == b->t_rexmt && a->t_delack == b->t_delack && a->t_keep == b->t_keep &&
         a->t_2msl == b->t_2msl && a->unacked_since == b->unacked_since;
}

static bool armed(const struct tcb *t) { return t->in_use && t->state != MICROTCP_CLOSED; }

struct tally {
  uint64_t advances, fired, deadline_checks;
};

/* microtcp_advance(st, now), checked against a scan of every block. */
static void checked_advance(microtcp_stack *st, uint64_t now, struct tally *ty) {
  static struct snap before[NCONN * 2];
  static bool due[NCONN * 2];
  uint16_t n = st->cfg.max_tcp;
  uint64_t scan = UINT64_MAX;
  for (uint16_t i = 0; i < n; i++) {
    const struct tcb *t = &st->tcp.tcbs[i];
    before[i] = (struct snap){t->in_use, t->gen, t->state, t->t_rexmt, t->t_delack, t->t_keep,
                              t->t_2msl, t->unacked_since};
    due[i] = armed(t) && mtcp_tcb_deadline(t) <= now;
    if (armed(t)) scan = MIN(scan, mtcp_tcb_deadline(t));
  }
  uint64_t want = MIN(scan, MIN(mtcp_arp_deadline(st), mtcp_ipv4_deadline(st)));
  CHECK(microtcp_deadline(st) == want);
  CHECK(mtcp_tcp_deadline(st) == scan);
  ty->deadline_checks++;
  microtcp_advance(st, now);
  ty->advances++;
  for (uint16_t i = 0; i < n; i++) {
    const struct tcb *t = &st->tcp.tcbs[i];
    struct snap after = {t->in_use, t->gen, t->state, t->t_rexmt, t->t_delack, t->t_keep,
                         t->t_2msl, t->unacked_since};
    if (due[i]) {
      ty->fired++;
      CHECK(!(armed(t) && mtcp_tcb_deadline(t) <= now)); /* it fired: nothing due is left */
    } else {
      CHECK(snap_eq(&before[i], &after)); /* not due: advance left it alone */
    }
  }
  CHECK(mtcp_tcp_deadline(st) > now);
}

/* Deliver the frames due by p->now (as pair_step does), collecting replies. */
static void deliver_due(struct pair *p) {
  for (;;) {
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < p->qlen; i++)
      if (p->q[i].at <= p->now && (best == SIZE_MAX || p->q[i].at < p->q[best].at ||
                                   (p->q[i].at == p->q[best].at && p->q[i].order < p->q[best].order)))
        best = i;
    if (best == SIZE_MAX) return;
    struct pair_frame *f = &p->q[best];
    microtcp_input(p->st[f->to], p->now, f->data, f->len);
    p->q[best] = p->q[--p->qlen];
    pair_collect(p);
  }
}

static uint64_t rnd(struct pair *p, uint64_t n) { return pair_rand(p) % n; }

/* A random option that arms or moves a timer, or none. */
static void random_opts(struct pair *p, microtcp_stack *st, int h) {
  switch (rnd(p, 4)) {
  case 0:
    microtcp_tcp_setopt(st, h, MICROTCP_OPT_KEEPIDLE_US, (int64_t)(500000 + rnd(p, 4000000)));
    microtcp_tcp_setopt(st, h, MICROTCP_OPT_KEEPINTVL_US, (int64_t)(200000 + rnd(p, 1000000)));
    microtcp_tcp_setopt(st, h, MICROTCP_OPT_KEEPCNT, (int64_t)(1 + rnd(p, 3)));
    microtcp_tcp_setopt(st, h, MICROTCP_OPT_KEEPALIVE, 1);
    break;
  case 1: microtcp_tcp_setopt(st, h, MICROTCP_OPT_KEEPALIVE, 0); break;
  case 2:
    microtcp_tcp_setopt(st, h, MICROTCP_OPT_USER_TIMEOUT_US,
                        rnd(p, 2) ? 0 : (int64_t)(300000 + rnd(p, 3000000)));
    break;
  default: break;
  }
}

static void random_action(struct pair *p, int *ca, int *sb, int *nsb, int listener) {
  static uint8_t data[6000], sink[8192];
  microtcp_stack *a = p->st[0], *b = p->st[1];
  int h;
  while ((h = microtcp_tcp_accept(b, p->now, listener, NULL)) >= 0) {
    if (*nsb < NCONN * 2) {
      sb[(*nsb)++] = h;
      random_opts(p, b, h);
    } else {
      microtcp_tcp_abort(b, p->now, h);
    }
  }
  int i = (int)rnd(p, NCONN);
  switch (rnd(p, 12)) {
  case 0:
  case 1:
    if (ca[i] < 0) {
      ca[i] = microtcp_tcp_connect(a, p->now, IP_B, 80, 0);
      if (ca[i] >= 0) random_opts(p, a, ca[i]);
    }
    break;
  case 2:
  case 3:
  case 4:
    if (ca[i] >= 0) microtcp_tcp_send(a, p->now, ca[i], data, 1 + rnd(p, sizeof data));
    break;
  case 5:
    if (ca[i] >= 0) random_opts(p, a, ca[i]);
    break;
  case 6:
    if (ca[i] >= 0) microtcp_tcp_shutdown(a, p->now, ca[i]);
    break;
  case 7:
  case 8:
    if (ca[i] >= 0) {
      if (rnd(p, 4) == 0)
        microtcp_tcp_abort(a, p->now, ca[i]);
      else
        microtcp_tcp_close(a, p->now, ca[i]);
      ca[i] = -1;
    }
    break;
  default: /* the server side: read (or leave the window shut), answer, close */
    if (*nsb) {
      int k = (int)rnd(p, (uint64_t)*nsb);
      int s = sb[k];
      uint64_t what = rnd(p, 8);
      if (what < 4) {
        while (microtcp_tcp_recv(b, p->now, s, sink, sizeof sink) > 0) {
        }
      } else if (what < 6) {
        microtcp_tcp_send(b, p->now, s, data, 1 + rnd(p, 2000));
      } else if (what < 7) {
        random_opts(p, b, s);
      } else {
        microtcp_tcp_close(b, p->now, s);
        sb[k] = sb[--*nsb];
      }
    }
  }
  /* A client connection that ended is closed by the application. */
  for (int j = 0; j < NCONN; j++) {
    if (ca[j] < 0) continue;
    int st = microtcp_tcp_state(a, ca[j]);
    if (st == MICROTCP_CLOSED || st < 0) {
      microtcp_tcp_close(a, p->now, ca[j]);
      ca[j] = -1;
    } else if (rnd(p, 3) == 0) {
      while (microtcp_tcp_recv(a, p->now, ca[j], sink, sizeof sink) > 0) {
      }
    }
  }
}

static void timers_fire_when_a_scan_says(void) {
  microtcp_config cfg[2];
  for (int i = 0; i < 2; i++) {
    pair_config(&cfg[i], i);
    cfg[i].max_tcp = NCONN * 2;
    cfg[i].tcp_max_per_peer = NCONN * 2;
    cfg[i].frames = 64;
    cfg[i].tcp_sndbuf = cfg[i].tcp_rcvbuf = 4096;
    cfg[i].tcp_rto_min_us = 200000;
    cfg[i].tcp_rto_initial_us = 300000;
    cfg[i].tcp_msl_us = 1000000; /* TIME-WAIT of 2 s: blocks come and go */
    cfg[i].tcp_max_retries = 4;
    cfg[i].tcp_syn_retries = 3;
  }
  struct pair p;
  CHECK_EQ(pair_init(&p, cfg, 77), 0);
  p.loss_ppm = 20000;
  p.reorder_ppm = 20000;
  int listener = microtcp_tcp_listen(p.st[1], p.now, 80, 64);
  CHECK(listener >= 0);
  int ca[NCONN], sb[NCONN * 2], nsb = 0;
  for (int i = 0; i < NCONN; i++) ca[i] = -1;
  struct tally ty = {0};
  uint64_t next_action = 0, end = 150000000; /* 150 virtual seconds */
  uint32_t max_armed = 0;
  while (p.now < end) {
    pair_collect(&p);
    uint64_t t = next_action;
    for (size_t i = 0; i < p.qlen; i++) t = MIN(t, p.q[i].at);
    for (int s = 0; s < 2; s++) t = MIN(t, microtcp_deadline(p.st[s]));
    if (t > p.now) p.now = t;
    deliver_due(&p);
    for (int s = 0; s < 2; s++) checked_advance(p.st[s], p.now, &ty);
    pair_collect(&p);
    if (p.now >= next_action) {
      random_action(&p, ca, sb, &nsb, listener);
      next_action = p.now + 1 + rnd(&p, 30000);
    }
    max_armed = MAX(max_armed, p.st[0]->tcp.timers.len);
  }
  const microtcp_counters *c0 = microtcp_get_counters(p.st[0]);
  fprintf(stderr,
          "  %llu advances, %llu blocks fired, most armed at once %u, client timeouts %llu, "
          "opened %llu\n",
          (unsigned long long)ty.advances, (unsigned long long)ty.fired, max_armed,
          (unsigned long long)c0->tcp_timeouts, (unsigned long long)c0->tcp_conns_opened);
  /* The run exercised what it claims to: many timers, many blocks at once,
   * connections coming and going, some timing out. */
  CHECK(ty.fired > 2000);
  CHECK(max_armed > NCONN / 2);
  CHECK(c0->tcp_conns_opened > NCONN * 2);
  CHECK(c0->tcp_timeouts > 0);
  pair_free(&p);
}

/* ---- the rule: a change without a touch is caught, a touch re-keys ------------------------ */
static int open_conn(struct pair *p, int *client) { return pair_open_conn(p, 5, client); }

static void touched_change_is_rekeyed(void) {
  struct pair p;
  int c;
  CHECK(open_conn(&p, &c));
  microtcp_stack *st = p.st[0];
  struct tcb *t = mtcp_tcb_from_handle(st, c);
  CHECK(t != NULL);
  if (!t) return;
  uint64_t soon = p.now + 7;
  CHECK(microtcp_deadline(st) > soon);
  t->t_keep = soon;
  mtcp_tcb_touch(st, t);
  microtcp_advance(st, p.now); /* a public call: ends with the re-key */
  CHECK(microtcp_deadline(st) == soon);
  pair_free(&p);
}

static void untouched_change_traps_only_with_asserts(void) {
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    struct pair p;
    int c;
    if (!open_conn(&p, &c)) _exit(3);
    struct tcb *t = mtcp_tcb_from_handle(p.st[0], c);
    if (!t) _exit(4);
    t->t_keep = p.now + 7; /* no mtcp_tcb_touch */
    microtcp_advance(p.st[0], p.now);
    /* Without the checks the heap is simply stale (why the rule exists). */
    _exit(microtcp_deadline(p.st[0]) == p.now + 7 ? 5 : 0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  if (asserts_on) {
    CHECK(sig == SIGILL || sig == SIGTRAP);
    fprintf(stderr, "  child died by signal %d (asserts compiled in)\n", sig);
  } else {
    CHECK_EQ(sig, 0);
    CHECK_EQ(WEXITSTATUS(status), 0);
    fprintf(stderr, "  child lived, heap stale as expected (asserts compiled out)\n");
  }
}

int main(void) {
  RUN(heap_matches_brute_force);
  RUN(timers_fire_when_a_scan_says);
  RUN(touched_change_is_rekeyed);
  RUN(untouched_change_traps_only_with_asserts);
  return check_report();
}
