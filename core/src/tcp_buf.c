/* Ring buffer for TCP (contracts in tcp_buf.h; the assembler is assembler.c). */
#include "tcp_buf.h"

#include <string.h>

#include "mem.h"

/* ---- Ring buffer ---- */

void mtcp_rb_init(struct ringbuf *rb, uint8_t *mem, uint32_t cap) {
  rb->mem = mem;
  rb->cap = mem ? cap : 0;
  rb->head = 0;
  rb->len = 0;
}

uint32_t mtcp_rb_free(const struct ringbuf *rb) { return rb->cap - rb->len; }

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

uint32_t mtcp_rb_write(struct ringbuf *rb, const void *src, uint32_t n) {
  uint32_t room = mtcp_rb_free(rb);
  if (n > room) n = room;
  rb_put(rb, rb->len, src, n);
  rb->len += n;
  return n;
}

uint32_t mtcp_rb_peek(const struct ringbuf *rb, uint32_t off, void *dst, uint32_t n) {
  if (off >= rb->len) return 0;
  if (n > rb->len - off) n = rb->len - off;
  rb_get(rb, off, dst, n);
  return n;
}

void mtcp_rb_drop(struct ringbuf *rb, uint32_t n) {
  if (n > rb->len) n = rb->len;
  if (n == 0) return;
  /* head must not be reset to 0 when the buffer empties: out-of-order bytes
   * stored by mtcp_rb_write_at beyond len stay where they are. */
  rb->head = rb_index(rb, n);
  rb->len -= n;
}

uint32_t mtcp_rb_read(struct ringbuf *rb, void *dst, uint32_t n) {
  if (n > rb->len) n = rb->len;
  if (dst) rb_get(rb, 0, dst, n);
  mtcp_rb_drop(rb, n);
  return n;
}

uint32_t mtcp_rb_write_at(struct ringbuf *rb, uint32_t off, const void *src, uint32_t n) {
  uint32_t room = mtcp_rb_free(rb);
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

uint32_t mtcp_rb_write_at_first(struct ringbuf *rb, const struct assembler *a, uint32_t off,
                           const void *src, uint32_t n, bool *conflict) {
  const uint8_t *p = src;
  uint32_t room = mtcp_rb_free(rb);
  *conflict = false;
  if (off >= room) return 0;
  if (n > room - off) n = room - off;
  /* Gaps get the new bytes; held pieces keep the first copy (compared). */
  struct asm_walk w;
  uint32_t ps, pe;
  bool held;
  asm_walk_init(&w, off, off + n);
  while (mtcp_asm_walk_next(a, &w, &ps, &pe, &held)) {
    if (!held)
      rb_put(rb, rb->len + ps, p + (ps - off), pe - ps);
    else if (rb_differs(rb, rb->len + ps, p + (ps - off), pe - ps))
      *conflict = true;
  }
  return n;
}

void mtcp_rb_commit(struct ringbuf *rb, uint32_t n) {
  uint32_t room = mtcp_rb_free(rb);
  rb->len += n > room ? room : n;
}

uint32_t mtcp_rb_spans(const struct ringbuf *rb, uint32_t off, uint32_t n, const uint8_t **p1,
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
