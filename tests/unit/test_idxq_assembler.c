/*
 * The shared building blocks of core/src: the index-linked queue (idxq.h:
 * frame free list, transmit queue, ARP wait list, TCP's free list, output list
 * and accept queues) and the range list's walk
 * (assembler.h: TCP out-of-order data and IPv4 reassembly), each against a
 * simple model.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "assembler.h"
#include "check.h"
#include "idxq.h"

struct elem {
  uint32_t payload;
  uint16_t link;
};

#define N 64

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint32_t rnd(uint32_t n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng % n);
}

/* Random pushes at either end, pops and unlinks from the middle, checked
 * against an array model after every step. */
static void idxq_matches_a_model_under_random_operations(void) {
  struct elem pool_mem[N];
  struct idxq_pool pool = {(uint8_t *)pool_mem, sizeof pool_mem[0], offsetof(struct elem, link), N};
  struct idxq q;
  idxq_init(&q);
  uint16_t model[N];
  size_t mlen = 0;
  bool on[N] = {false};
  for (int step = 0; step < 20000; step++) {
    uint32_t op = rnd(5);
    if (op <= 1 && mlen < N) {
      uint16_t i;
      do i = (uint16_t)rnd(N); while (on[i]);
      on[i] = true;
      if (op == 0) {
        idxq_push_tail(&q, &pool, i);
        model[mlen++] = i;
      } else {
        idxq_push_head(&q, &pool, i);
        memmove(model + 1, model, mlen * sizeof model[0]);
        model[0] = i;
        mlen++;
      }
    } else if (op == 2 && mlen) {
      uint16_t i = idxq_pop_head(&q, &pool);
      CHECK_EQ(i, model[0]);
      on[i] = false;
      memmove(model, model + 1, --mlen * sizeof model[0]);
    } else if (op == 3 && mlen) {
      size_t k = rnd((uint32_t)mlen);
      uint16_t prev = k ? model[k - 1] : IDXQ_NONE;
      idxq_unlink(&q, &pool, prev, model[k]);
      on[model[k]] = false;
      memmove(model + k, model + k + 1, (--mlen - k) * sizeof model[0]);
    } else if (op == 4) {
      /* idxq_remove of any index: found and removed iff it is on the list. */
      uint16_t i = (uint16_t)rnd(N);
      bool was_on = on[i];
      CHECK_EQ(idxq_remove(&q, &pool, i), was_on);
      if (was_on) {
        size_t k = 0;
        while (model[k] != i) k++;
        on[i] = false;
        memmove(model + k, model + k + 1, (--mlen - k) * sizeof model[0]);
      }
    }
    CHECK_EQ(q.len, mlen);
    CHECK_EQ(q.head, mlen ? model[0] : IDXQ_NONE);
    CHECK_EQ(q.tail, mlen ? model[mlen - 1] : IDXQ_NONE);
    size_t k = 0;
    for (uint16_t i = q.head; i != IDXQ_NONE && k <= mlen; i = idxq_next(&pool, i), k++)
      if (k < mlen) CHECK_EQ(i, model[k]);
    CHECK_EQ(k, mlen);
  }
  CHECK_EQ(idxq_pop_head(&q, &pool) == IDXQ_NONE, mlen == 0);
}

/* asm_walk splits [s, e) into alternating held/gap pieces that cover it
 * exactly and agree with a byte map of the ranges added (and of the highest
 * ranges dropped by mtcp_asm_drop_last). */
static void asm_walk_agrees_with_a_byte_map(void) {
  enum { SPAN = 300 };
  struct asm_range mem[8];
  for (int round = 0; round < 2000; round++) {
    struct assembler a;
    mtcp_asm_init(&a, mem, 8);
    bool held_map[SPAN] = {false};
    for (int k = 0; k < 12; k++) {
      if (rnd(6) == 0 && a.count) { /* mtcp_asm_drop_last forgets the highest range */
        uint32_t hs = a.r[a.count - 1].start, he = a.r[a.count - 1].end;
        uint16_t before = a.count;
        mtcp_asm_drop_last(&a);
        CHECK_EQ(a.count, before - 1);
        for (uint32_t i = hs; i < he; i++) held_map[i] = false;
        for (uint32_t i = he; i < SPAN; i++) CHECK(!held_map[i]); /* it was the highest */
        continue;
      }
      uint32_t s = rnd(SPAN - 1), e = s + 1 + rnd(40);
      if (e > SPAN) e = SPAN;
      if (mtcp_asm_add(&a, s, e) == 0)
        for (uint32_t i = s; i < e; i++) held_map[i] = true;
    }
    uint32_t s = rnd(SPAN - 1), e = s + 1 + rnd(SPAN - s);
    struct asm_walk w;
    uint32_t ps, pe, pos = s;
    bool held, last_held = false;
    int pieces = 0;
    asm_walk_init(&w, s, e);
    while (mtcp_asm_walk_next(&a, &w, &ps, &pe, &held)) {
      CHECK_EQ(ps, pos);
      CHECK(pe > ps && pe <= e);
      if (pieces) CHECK(held != last_held); /* maximal pieces alternate */
      for (uint32_t i = ps; i < pe; i++) CHECK_EQ(held_map[i], held);
      last_held = held;
      pos = pe;
      pieces++;
    }
    CHECK_EQ(pos, e);
    CHECK(pieces <= 2 * a.count + 1);
    uint32_t high = 0;
    for (uint32_t i = 0; i < SPAN; i++)
      if (held_map[i]) high = i + 1;
    CHECK_EQ(mtcp_asm_high(&a), high);
  }
}

int main(void) {
  RUN(idxq_matches_a_model_under_random_operations);
  RUN(asm_walk_agrees_with_a_byte_map);
  return check_report();
}
