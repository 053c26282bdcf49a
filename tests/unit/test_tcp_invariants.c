/*
 * MICROTCP_ASSERT in TCP (core/src/invariant.h, mtcp_tcb_check / mtcp_tcp_check in
 * tcp_api.c). In a build with MICROTCP_ASSERTS (the asan and fuzz presets) a
 * forked child that breaks an invariant and asks the core to check must die
 * by the trap instruction (SIGILL or SIGTRAP); in the default build the checks
 * are compiled out, so the same child must live (off by default, at no cost:
 * invariant.h's promise). Either way the consistent states a real transfer
 * goes through must pass every check.
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

/* An established connection a -> b with some data in flight. */
static int open_conn(struct pair *p, int *client) {
  if (!pair_open_conn(p, 21, client)) return 0;
  static uint8_t data[20000];
  microtcp_tcp_send(p->st[0], p->now, *client, data, sizeof data);
  pair_collect(p); /* some in flight, none acknowledged yet */
  return 1;
}

/* Run break_it on a fresh connection in a child; return how the child ended:
 * 0 = exited normally, else the signal that killed it. */
static int child_breaking(void (*break_it)(microtcp_stack *st, struct tcb *t)) {
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    struct pair p;
    int c;
    if (!open_conn(&p, &c)) _exit(3);
    struct tcb *t = mtcp_tcb_from_handle(p.st[0], c);
    if (!t) _exit(4);
    break_it(p.st[0], t);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) return WTERMSIG(status);
  CHECK_EQ(WEXITSTATUS(status), 0);
  return 0;
}

static void expect_trap_iff_asserts(int sig, const char *what) {
  if (asserts_on) {
    CHECK(sig == SIGILL || sig == SIGTRAP);
    fprintf(stderr, "  %s: child died by signal %d (asserts compiled in)\n", what, sig);
  } else {
    CHECK_EQ(sig, 0);
    fprintf(stderr, "  %s: child lived (asserts compiled out)\n", what);
  }
}

/* snd_una above snd_nxt: sequence order. */
static void una_beyond_nxt(microtcp_stack *st, struct tcb *t) {
  t->snd_una = t->snd_nxt + 100;
  mtcp_tcb_check(st, t);
}

/* A SACK range beyond anything sent: scoreboard bounds. */
static void sack_beyond_snd_max(microtcp_stack *st, struct tcb *t) {
  t->sb.count = 1;
  t->sb.blk[0].left = t->snd_max + 10;
  t->sb.blk[0].right = t->snd_max + 20;
  mtcp_tcb_check(st, t);
}

/* The pool's in-use count disagrees with the blocks: pool bounds. */
static void pool_count_off(microtcp_stack *st, struct tcb *t) {
  (void)t;
  st->tcp.tcbs_in_use += 1;
  mtcp_tcp_check(st);
}

/* On the output list by flag but not by link: list membership. */
static void outlisted_flag_without_link(microtcp_stack *st, struct tcb *t) {
  idxq_init(&st->tcp.out_q);
  t->flags |= TF_OUTLISTED;
  mtcp_tcp_check(st);
}

/* TIME-WAIT with a retransmission timer armed: state/timer consistency. */
static void time_wait_with_rexmt(microtcp_stack *st, struct tcb *t) {
  t->state = MICROTCP_TIME_WAIT;
  t->t_2msl = st->now + 1;
  t->t_rexmt = st->now + 1;
  mtcp_tcb_check(st, t);
}

/* The advertised window's chunks given back to the pool: the bytes the
 * peer may send would find no room (buffer-pool reservation). */
static void window_not_reserved(microtcp_stack *st, struct tcb *t) {
  mtcp_rb_unreserve(&t->rcvbuf);
  mtcp_tcb_check(st, t);
}

static void consistent_states_pass(void) {
  /* A lossy transfer in both directions with every check on at every call
   * (with asserts compiled in, any violation kills this test). */
  struct pair p;
  int c;
  CHECK(open_conn(&p, &c));
  p.loss_ppm = 30000;
  p.reorder_ppm = 30000;
  pair_run_until(&p, p.now + 20000000);
  mtcp_tcp_check(p.st[0]);
  mtcp_tcp_check(p.st[1]);
  struct tcb *t = mtcp_tcb_from_handle(p.st[0], c);
  CHECK(t != NULL);
  if (t) CHECK_EQ(t->snd_una, t->snd_max); /* everything acknowledged */
  pair_free(&p);
}

static void violations_trap_only_with_asserts(void) {
  fprintf(stderr, "  MICROTCP_ASSERTS is %s in this build\n", asserts_on ? "on" : "off");
  expect_trap_iff_asserts(child_breaking(una_beyond_nxt), "snd_una > snd_nxt");
  expect_trap_iff_asserts(child_breaking(sack_beyond_snd_max), "SACK range beyond snd_max");
  expect_trap_iff_asserts(child_breaking(pool_count_off), "pool count off by one");
  expect_trap_iff_asserts(child_breaking(outlisted_flag_without_link), "output list membership");
  expect_trap_iff_asserts(child_breaking(time_wait_with_rexmt), "TIME-WAIT with RTO armed");
  expect_trap_iff_asserts(child_breaking(window_not_reserved), "advertised window not reserved");
}

int main(void) {
  RUN(consistent_states_pass);
  RUN(violations_trap_only_with_asserts);
  return check_report();
}
