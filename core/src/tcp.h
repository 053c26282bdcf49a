/* TCP: module interface used by the rest of the core (internals in tcp_int.h). */
#ifndef MICROTCP_TCP_H
#define MICROTCP_TCP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "idxq.h"
#include "timerheap.h"
#include "tcp_buf.h"
#include "microtcp/microtcp.h"
struct microtcp_stack;
struct carve;
struct wire_ipv4;

struct tcb;
struct tcp_listener;
struct asm_range;
struct tcp_state {
  struct tcb *tcbs;
  struct tcp_listener *listeners;
  struct chunk_pool pool;         /* bytes of every send and receive buffer */
  uint32_t *buf_slots;            /* per tcb: sndbuf then rcvbuf slot tables */
  uint32_t pool_waiters;          /* tcbs flagged TF_POOL_WAIT (refused by the pool) */
  struct asm_range *ooo_mem;
  uint16_t *hash;                 /* buckets of tcb indices, chained by tcb.hnext */
  uint32_t hash_mask;
  struct idxq free_q;             /* free tcbs, linked by tcb.next (used as a stack) */
  struct idxq out_q;              /* connections that may have output, linked by
                                   * tcb.out_next (FIFO; each flagged TF_OUTLISTED) */
  /* Timers (tcp_timer.c, "the timer heap"): every connection block with a
   * timer armed, keyed by mtcp_tcb_deadline; blocks touched during a public
   * call are listed in dirty (each once, dirty_mark[i] set) and re-keyed at
   * its end by mtcp_tcp_timers_sync. */
  struct theap timers;
  uint16_t *dirty;
  uint8_t *dirty_mark;
  uint16_t ndirty;
  uint32_t tcbs_in_use, listeners_in_use;
  uint32_t challenge_tokens;      /* RFC 5961 7: global budget left this second */
  bool challenge_started;         /* challenge_second holds a drawn second */
  uint64_t challenge_second;      /* the second (now / 1 s) the budget was drawn for */
  uint64_t ts_base;               /* timestamp clock offset (from PRF) */
};

int mtcp_tcp_init(struct microtcp_stack *st, struct carve *c);
/* ip->payload is the TCP segment (checksum not yet verified). */
void mtcp_tcp_input(struct microtcp_stack *st, const struct wire_ipv4 *ip);
/* ICMP error quoting a TCP segment we sent. */
void mtcp_tcp_icmp_error(struct microtcp_stack *st, uint8_t type, uint8_t code, uint16_t next_mtu,
                    const struct wire_ipv4 *quoted);
/* Produce pending TCP output into the tx queue; returns true if anything was queued. */
int mtcp_tcp_output_pending(struct microtcp_stack *st);
/* Carve the timer heap and dirty list (tcp_timer.c). */
void mtcp_tcp_timers_init(struct microtcp_stack *st, struct carve *c);
/* End of a public call: re-key the timers of every connection block touched
 * since the last sync (mtcp_tcb_touch), then, with MICROTCP_ASSERTS, check
 * that every block's heap key is its deadline. Called from mtcp_events_deliver,
 * which every public call that can change a block ends with. */
void mtcp_tcp_timers_sync(struct microtcp_stack *st);
/* The earliest armed TCP timer: the heap's top, O(1). */
uint64_t mtcp_tcp_deadline(const struct microtcp_stack *st);
void mtcp_tcp_advance(struct microtcp_stack *st, uint64_t now);
unsigned mtcp_tcp_poll(const struct microtcp_stack *st, int h);
int mtcp_tcp_socket_error(struct microtcp_stack *st, int h);
int mtcp_tcp_local_port(const struct microtcp_stack *st, int h);
/* MICROTCP_ASSERT every connection block and listener and the lists linking
 * them (tcp_api.c): O(max_tcp), so only with MICROTCP_ASSERTS; else nothing. */
#ifdef MICROTCP_ASSERTS
void mtcp_tcp_check(const struct microtcp_stack *st);
#else
static inline void mtcp_tcp_check(const struct microtcp_stack *st) { (void)st; }
#endif
#endif
