/* Ring buffer and out-of-order assembler for TCP (contracts in tcp_buf.h). */
#include "tcp_buf.h"

#include <string.h>

/* ---- Ring buffer ---- */

void rb_init(struct ringbuf *rb, uint8_t *mem, uint32_t cap) {
  rb->mem = mem;
  rb->cap = mem ? cap : 0;
  rb->head = 0;
  rb->len = 0;
}

uint32_t rb_free(const struct ringbuf *rb) { return rb->cap - rb->len; }

/* Physical index of logical offset off (off <= cap; off == cap maps back
 * to head). Written without the sum
 * head + off so it cannot overflow for any cap. */
static uint32_t rb_index(const struct ringbuf *rb, uint32_t off) {
  uint32_t to_end = rb->cap - rb->head;
  return off < to_end ? rb->head + off : off - to_end;
}

/* Copy n bytes into logical offsets [off, off+n); caller guarantees off+n <= cap. */
static void rb_put(struct ringbuf *rb, uint32_t off, const uint8_t *src, uint32_t n) {
  if (n == 0) return;
  uint32_t i = rb_index(rb, off);
  uint32_t first = rb->cap - i;
  if (first > n) first = n;
  memcpy(rb->mem + i, src, first);
  if (n > first) memcpy(rb->mem, src + first, n - first);
}

/* Copy n bytes out of logical offsets [off, off+n); off+n <= cap. */
static void rb_get(const struct ringbuf *rb, uint32_t off, uint8_t *dst, uint32_t n) {
  if (n == 0) return;
  uint32_t i = rb_index(rb, off);
  uint32_t first = rb->cap - i;
  if (first > n) first = n;
  memcpy(dst, rb->mem + i, first);
  if (n > first) memcpy(dst + first, rb->mem, n - first);
}

uint32_t rb_write(struct ringbuf *rb, const void *src, uint32_t n) {
  uint32_t room = rb_free(rb);
  if (n > room) n = room;
  rb_put(rb, rb->len, src, n);
  rb->len += n;
  return n;
}

uint32_t rb_peek(const struct ringbuf *rb, uint32_t off, void *dst, uint32_t n) {
  if (off >= rb->len) return 0;
  if (n > rb->len - off) n = rb->len - off;
  rb_get(rb, off, dst, n);
  return n;
}

void rb_drop(struct ringbuf *rb, uint32_t n) {
  if (n > rb->len) n = rb->len;
  if (n == 0) return;
  /* head must not be reset to 0 when the buffer empties: out-of-order bytes
   * stored by rb_write_at beyond len stay where they are. */
  rb->head = rb_index(rb, n);
  rb->len -= n;
}

uint32_t rb_read(struct ringbuf *rb, void *dst, uint32_t n) {
  if (n > rb->len) n = rb->len;
  if (dst) rb_get(rb, 0, dst, n);
  rb_drop(rb, n);
  return n;
}

uint32_t rb_write_at(struct ringbuf *rb, uint32_t off, const void *src, uint32_t n) {
  uint32_t room = rb_free(rb);
  if (off >= room) return 0;
  if (n > room - off) n = room - off;
  rb_put(rb, rb->len + off, src, n);
  return n;
}

/* Do bytes [off, off+n) at logical offset off (off+n <= cap) differ from src? */
static bool rb_differs(const struct ringbuf *rb, uint32_t off, const uint8_t *src, uint32_t n) {
  if (n == 0) return false;
  uint32_t i = rb_index(rb, off);
  uint32_t first = rb->cap - i;
  if (first > n) first = n;
  if (memcmp(rb->mem + i, src, first) != 0) return true;
  return n > first && memcmp(rb->mem, src + first, n - first) != 0;
}

uint32_t rb_write_at_first(struct ringbuf *rb, const struct assembler *a, uint32_t off,
                           const void *src, uint32_t n, bool *conflict) {
  const uint8_t *p = src;
  uint32_t room = rb_free(rb);
  *conflict = false;
  if (off >= room) return 0;
  if (n > room - off) n = room - off;
  uint32_t end = off + n, pos = off;
  for (uint16_t k = 0; k < a->count && pos < end; k++) {
    uint32_t rs = a->r[k].start, re = a->r[k].end;
    if (re <= pos) continue;
    if (rs >= end) break;
    if (rs > pos) { /* a gap: new bytes */
      rb_put(rb, rb->len + pos, p + (pos - off), rs - pos);
      pos = rs;
    }
    uint32_t held_end = re < end ? re : end; /* [pos, held_end) is held: keep it */
    if (rb_differs(rb, rb->len + pos, p + (pos - off), held_end - pos)) *conflict = true;
    pos = held_end;
  }
  if (pos < end) rb_put(rb, rb->len + pos, p + (pos - off), end - pos);
  return n;
}

void rb_commit(struct ringbuf *rb, uint32_t n) {
  uint32_t room = rb_free(rb);
  rb->len += n > room ? room : n;
}

uint32_t rb_spans(const struct ringbuf *rb, uint32_t off, uint32_t n, const uint8_t **p1,
                  uint32_t *n1, const uint8_t **p2, uint32_t *n2) {
  *p1 = *p2 = NULL;
  *n1 = *n2 = 0;
  if (off >= rb->len) return 0;
  if (n > rb->len - off) n = rb->len - off;
  if (n == 0) return 0;
  uint32_t i = rb_index(rb, off);
  uint32_t first = rb->cap - i;
  if (first > n) first = n;
  *p1 = rb->mem + i;
  *n1 = first;
  if (n > first) {
    *p2 = rb->mem;
    *n2 = n - first;
  }
  return n;
}

/* ---- Assembler ---- */

void asm_init(struct assembler *a, struct asm_range *mem, uint16_t max) {
  a->r = mem;
  a->max = mem ? max : 0;
  a->count = 0;
  a->recent = ASM_NONE;
  a->clock = 0;
}

void asm_clear(struct assembler *a) {
  a->count = 0;
  a->recent = ASM_NONE;
}

int asm_add(struct assembler *a, uint32_t start, uint32_t end) {
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
  return 0;
}

uint32_t asm_front(const struct assembler *a) {
  return (a->count && a->r[0].start == 0) ? a->r[0].end : 0;
}

void asm_shift(struct assembler *a, uint32_t n) {
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

uint16_t asm_sack_blocks(const struct assembler *a, uint32_t base_seq, uint32_t out_left[],
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
