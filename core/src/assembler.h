/*
 * Range list / assembler: which byte ranges of a stream or a datagram have
 * arrived. One implementation shared by TCP's out-of-order queue (offsets
 * beyond rcv_nxt; SACK blocks in recency order) and IPv4 reassembly (offsets
 * in the datagram). Neither allocates: the caller provides the range array.
 *
 * Ranges are half-open [start, end), sorted ascending, disjoint and never
 * adjacent (touching ranges are merged). For TCP the offsets are relative to
 * the in-order edge (rcv_nxt) and move with mtcp_asm_shift; for IPv4 they are
 * datagram offsets. The number of ranges is bounded by max: a piece that
 * would need one more is refused, which bounds memory and work per segment
 * or fragment (reassembly-overlap attacks cannot grow it).
 *
 * First copy wins (both users): bytes already held are never overwritten by
 * a later copy. asm_walk splits a new piece into the parts already held and
 * the gaps, so a caller stores only the gaps and compares the held parts
 * (TCP: mtcp_rb_write_at_first; IPv4: a fragment wholly inside held data is
 * compared and ignored, a partial overlap drops the datagram).
 */
#ifndef MICROTCP_ASSEMBLER_H
#define MICROTCP_ASSEMBLER_H

#include <stdbool.h>
#include <stdint.h>

struct assembler {
  struct asm_range {
    uint32_t start, end;
    uint32_t stamp; /* value of clock when the range was last touched */
  } *r;            /* caller-owned array of max ranges */
  uint16_t max;    /* capacity of r */
  uint16_t count;  /* ranges in use, r[0..count) */
  uint16_t recent; /* index of the range touched by the last mtcp_asm_add, or ASM_NONE */
  uint32_t clock;  /* counts mtcp_asm_add calls that changed a range (recency order) */
};
#define ASM_NONE 0xffffu

/* Empty assembler over mem[0..max). */
void mtcp_asm_init(struct assembler *a, struct asm_range *mem, uint16_t max);
/* Record that bytes [start, end) have arrived, merging with any overlapping
 * or adjacent ranges; that range becomes the "recent" one. start >= end is a
 * no-op returning 0. Returns 0, or -1 when it would need more than max ranges
 * (the caller drops the segment; the assembler is unchanged). */
int mtcp_asm_add(struct assembler *a, uint32_t start, uint32_t end);
/* Length of the range starting at offset 0 (data now in order), else 0. */
uint32_t mtcp_asm_front(const struct assembler *a);
/* The in-order edge moved forward by n bytes: ranges below n are dropped or
 * trimmed, the rest are rebased (n subtracted). */
void mtcp_asm_shift(struct assembler *a, uint32_t n);
/* Fill up to max SACK blocks (RFC 2018 3) as absolute sequence numbers
 * base_seq + offset, most recently touched range first. RFC 2018 4: the first
 * block reports the segment that triggered the ACK and the others repeat the
 * most recently reported blocks; since every ACK reports the ranges in
 * recency order, "most recently reported" is "most recently touched", and
 * when more ranges exist than fit, the oldest drop out. Returns the number of
 * blocks written. */
uint16_t mtcp_asm_sack_blocks(const struct assembler *a, uint32_t base_seq, uint32_t out_left[],
                         uint32_t out_right[], uint16_t max);
/* Forget all ranges (e.g. the receive buffer was reset). */
void mtcp_asm_clear(struct assembler *a);

/* Walk [start, end) in order as pieces that are either held (inside one
 * range) or a gap (in none):
 *   struct asm_walk w; asm_walk_init(&w, start, end);
 *   while (mtcp_asm_walk_next(a, &w, &ps, &pe, &held)) ...
 * The assembler must not change during the walk. At most 2 * count + 1
 * pieces. */
struct asm_walk {
  uint32_t pos, end;
  uint16_t k; /* first range that may hold pos */
};
static inline void asm_walk_init(struct asm_walk *w, uint32_t start, uint32_t end) {
  w->pos = start;
  w->end = end;
  w->k = 0;
}
bool mtcp_asm_walk_next(const struct assembler *a, struct asm_walk *w, uint32_t *piece_start,
                   uint32_t *piece_end, bool *held);
/* The last byte held + 1 (end of the highest range), 0 if none. */
uint32_t mtcp_asm_high(const struct assembler *a);
/* Forget the highest range (its bytes become untracked). */
void mtcp_asm_drop_last(struct assembler *a);

#endif
