/*
 * Index-linked queues: FIFO (or LIFO) lists of pool elements named by their
 * 16-bit index, linked through a uint16_t field inside each element. One
 * implementation for the frame free list, the transmit queue and the ARP wait
 * list (all linked through struct frame.next: a frame is on one list at a
 * time), TCP's free connection-block list and listeners' accept queues (linked
 * through struct tcb.next) and TCP's output list (struct tcb.out_next).
 *
 * A list is a struct idxq (head, tail, length); the element array is described
 * by a struct idxq_pool (base, element size, offset of the link field, element
 * count), so the functions are generic yet inline to plain index arithmetic.
 * Removal while walking: idxq_unlink(q, pool, prev, i) with prev the element
 * before i (IDXQ_NONE if i is the head); idxq_remove(q, pool, i) finds prev.
 */
#ifndef MICROTCP_IDXQ_H
#define MICROTCP_IDXQ_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "invariant.h"

#define IDXQ_NONE 0xffffu

struct idxq {
  uint16_t head, tail; /* IDXQ_NONE when empty */
  uint16_t len;
};

struct idxq_pool {
  uint8_t *base;   /* element 0 */
  size_t stride;   /* sizeof one element */
  size_t link;     /* offsetof the uint16_t link field */
  uint16_t count;  /* elements in the pool: every index is below it */
};

static inline void idxq_init(struct idxq *q) {
  q->head = q->tail = IDXQ_NONE;
  q->len = 0;
}

static inline uint16_t *idxq_link(const struct idxq_pool *p, uint16_t i) {
  MICROTCP_ASSERT(i < p->count); /* pool bounds */
  return (uint16_t *)(void *)(p->base + (size_t)i * p->stride + p->link);
}

static inline uint16_t idxq_next(const struct idxq_pool *p, uint16_t i) { return *idxq_link(p, i); }

/* Append i at the tail. */
static inline void idxq_push_tail(struct idxq *q, const struct idxq_pool *p, uint16_t i) {
  *idxq_link(p, i) = IDXQ_NONE;
  if (q->tail == IDXQ_NONE)
    q->head = i;
  else
    *idxq_link(p, q->tail) = i;
  q->tail = i;
  q->len++;
  MICROTCP_ASSERT(q->len <= p->count);
}

/* Insert i at the head (a free list used as a stack). */
static inline void idxq_push_head(struct idxq *q, const struct idxq_pool *p, uint16_t i) {
  *idxq_link(p, i) = q->head;
  q->head = i;
  if (q->tail == IDXQ_NONE) q->tail = i;
  q->len++;
  MICROTCP_ASSERT(q->len <= p->count);
}

/* Remove i, whose predecessor on q is prev (IDXQ_NONE: i is the head). */
static inline void idxq_unlink(struct idxq *q, const struct idxq_pool *p, uint16_t prev,
                               uint16_t i) {
  MICROTCP_ASSERT(q->len > 0);
  MICROTCP_ASSERT(prev == IDXQ_NONE ? q->head == i : idxq_next(p, prev) == i);
  uint16_t next = idxq_next(p, i);
  if (prev == IDXQ_NONE)
    q->head = next;
  else
    *idxq_link(p, prev) = next;
  if (q->tail == i) q->tail = prev;
  *idxq_link(p, i) = IDXQ_NONE;
  q->len--;
}

/* Remove i wherever it is on q (a walk from the head to find its predecessor:
 * O(position)). Returns false, leaving q alone, if i is not on q. */
static inline bool idxq_remove(struct idxq *q, const struct idxq_pool *p, uint16_t i) {
  uint16_t prev = IDXQ_NONE;
  for (uint16_t j = q->head; j != IDXQ_NONE; prev = j, j = idxq_next(p, j)) {
    if (j != i) continue;
    idxq_unlink(q, p, prev, i);
    return true;
  }
  return false;
}

/* Remove and return the head, IDXQ_NONE if empty. */
static inline uint16_t idxq_pop_head(struct idxq *q, const struct idxq_pool *p) {
  uint16_t i = q->head;
  if (i != IDXQ_NONE) idxq_unlink(q, p, IDXQ_NONE, i);
  return i;
}

#endif
