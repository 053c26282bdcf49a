/* Range list / assembler shared by TCP and IPv4 reassembly (contract in assembler.h). */
#include "assembler.h"

#include <string.h>

#include "mem.h"

#include "invariant.h"


void mtcp_asm_init(struct assembler *a, struct asm_range *mem, uint16_t max) {
  a->r = mem;
  a->max = mem ? max : 0;
  a->count = 0;
  a->recent = ASM_NONE;
  a->clock = 0;
}

void mtcp_asm_clear(struct assembler *a) {
  a->count = 0;
  a->recent = ASM_NONE;
}

/* The shape invariant: count <= max; ranges non-empty, sorted, disjoint and
 * never adjacent. */
static bool well_formed(const struct assembler *a) {
  if (a->count > a->max) return false;
  for (uint16_t i = 0; i < a->count; i++) {
    if (a->r[i].start >= a->r[i].end) return false;
    if (i && a->r[i - 1].end >= a->r[i].start) return false;
  }
  return true;
}

int mtcp_asm_add(struct assembler *a, uint32_t start, uint32_t end) {
  if (start >= end) return 0;
  /* first: the first range that overlaps or touches [start,end) or lies
   * after it; last: one past the last range that overlaps or touches it.
   * Ranges [first, last) merge with the new one. */
  uint16_t first = 0;
  while (first < a->count && a->r[first].end < start) first++;
  uint16_t last = first;
  while (last < a->count && a->r[last].start <= end) last++;

  if (first == last) {
    /* Nothing to merge with: insert a new range at index first. */
    if (a->count >= a->max) return -1;
    memmove(&a->r[first + 1], &a->r[first], (size_t)(a->count - first) * sizeof a->r[0]);
    a->r[first].start = start;
    a->r[first].end = end;
    a->count++;
  } else {
    /* Merge ranges [first, last) and [start, end) into r[first]. */
    if (a->r[first].start < start) start = a->r[first].start;
    if (a->r[last - 1].end > end) end = a->r[last - 1].end;
    a->r[first].start = start;
    a->r[first].end = end;
    uint16_t gone = (uint16_t)(last - first - 1);
    if (gone) {
      memmove(&a->r[first + 1], &a->r[last], (size_t)(a->count - last) * sizeof a->r[0]);
      a->count = (uint16_t)(a->count - gone);
    }
  }
  a->r[first].stamp = ++a->clock;
  a->recent = first;
  MICROTCP_ASSERT(well_formed(a));
  return 0;
}

uint32_t mtcp_asm_front(const struct assembler *a) {
  return (a->count && a->r[0].start == 0) ? a->r[0].end : 0;
}

void mtcp_asm_shift(struct assembler *a, uint32_t n) {
  if (n == 0) return;
  uint16_t gone = 0;
  while (gone < a->count && a->r[gone].end <= n) gone++;
  if (gone) {
    memmove(&a->r[0], &a->r[gone], (size_t)(a->count - gone) * sizeof a->r[0]);
    a->count = (uint16_t)(a->count - gone);
    if (a->recent != ASM_NONE)
      a->recent = a->recent < gone ? ASM_NONE : (uint16_t)(a->recent - gone);
  }
  for (uint16_t i = 0; i < a->count; i++) {
    a->r[i].start = a->r[i].start > n ? a->r[i].start - n : 0;
    a->r[i].end -= n;
  }
}

uint16_t mtcp_asm_sack_blocks(const struct assembler *a, uint32_t base_seq, uint32_t out_left[],
                         uint32_t out_right[], uint16_t max) {
  /* Selection by descending stamp: max and count are small (<= 4 blocks).
   * Stamps are unique; after 2^32 adds they wrap, which only perturbs the
   * order of one report. */
  uint16_t k = 0;
  uint32_t below = UINT32_MAX; /* next pick has a stamp < below */
  bool first = true;
  while (k < max) {
    uint16_t best = ASM_NONE;
    for (uint16_t i = 0; i < a->count; i++) {
      uint32_t s = a->r[i].stamp;
      if ((first || s < below) && (best == ASM_NONE || s > a->r[best].stamp)) best = i;
    }
    if (best == ASM_NONE) break;
    out_left[k] = base_seq + a->r[best].start;
    out_right[k] = base_seq + a->r[best].end;
    below = a->r[best].stamp;
    first = false;
    k++;
  }
  return k;
}

bool mtcp_asm_walk_next(const struct assembler *a, struct asm_walk *w, uint32_t *piece_start,
                   uint32_t *piece_end, bool *held) {
  if (w->pos >= w->end) return false;
  while (w->k < a->count && a->r[w->k].end <= w->pos) w->k++;
  *piece_start = w->pos;
  if (w->k < a->count && a->r[w->k].start <= w->pos) {
    *held = true;
    *piece_end = a->r[w->k].end < w->end ? a->r[w->k].end : w->end;
  } else {
    *held = false;
    *piece_end = w->k < a->count && a->r[w->k].start < w->end ? a->r[w->k].start : w->end;
  }
  MICROTCP_ASSERT(*piece_end > *piece_start);
  w->pos = *piece_end;
  return true;
}

uint32_t mtcp_asm_high(const struct assembler *a) { return a->count ? a->r[a->count - 1].end : 0; }

void mtcp_asm_drop_last(struct assembler *a) {
  if (a->count == 0) return;
  a->count--;
  if (a->recent == a->count) a->recent = ASM_NONE;
}
