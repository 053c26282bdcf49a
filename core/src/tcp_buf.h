/*
 * TCP byte storage: sequence-number arithmetic, a byte ring buffer (send and
 * receive buffers), used with the out-of-order assembler of assembler.h
 * (which byte ranges beyond rcv_nxt have arrived).
 *
 * Ownership: none of these allocate. The caller provides the memory (from
 * the stack arena) and keeps it alive as long as the struct is used. All
 * functions are total: out-of-range arguments are clipped, never trusted,
 * and documented below; none can fail except mtcp_asm_add (returns -1).
 *
 * Receive-path pattern (how the pieces fit together):
 *   off = seq - rcv_nxt (already trimmed to the window and to
 *         rb.cap - rb.len - off, so every assembler byte is also stored)
 *   if off == 0:  n = mtcp_rb_write_at(rb, 0, data, len); mtcp_rb_commit(rb, n);
 *                 mtcp_asm_shift(a, n); extra = mtcp_asm_front(a);
 *                 mtcp_rb_commit(rb, extra); mtcp_asm_shift(a, extra);
 *   else:         if (mtcp_asm_add(a, off, off+len) == 0) mtcp_rb_write_at(rb, off, data, len);
 */
#ifndef MICROTCP_TCP_BUF_H
#define MICROTCP_TCP_BUF_H

#include <stdbool.h>
#include <stdint.h>

#include "assembler.h"

/* ---- Sequence numbers (RFC 9293 3.4: arithmetic modulo 2^32) ----
 * a "before" b when the signed distance b - a is positive. Meaningful only
 * while the two numbers are less than 2^31 apart, which TCP windows
 * guarantee (RFC 7323 2.3 caps the window at 2^30). */
static inline bool seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline bool seq_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline bool seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline bool seq_ge(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }
static inline uint32_t seq_max(uint32_t a, uint32_t b) { return seq_gt(a, b) ? a : b; }
static inline uint32_t seq_min(uint32_t a, uint32_t b) { return seq_lt(a, b) ? a : b; }

/* ---- Ring buffer ----
 * Bytes [0, len) are the buffered data, stored starting at mem[head] and
 * wrapping at cap. Bytes beyond len may hold out-of-order data written by
 * mtcp_rb_write_at but are not part of the buffer until mtcp_rb_commit. */
struct ringbuf {
  uint8_t *mem;  /* caller-owned storage of cap bytes */
  uint32_t cap;  /* capacity in bytes (any value >= 0; need not be a power of two) */
  uint32_t head; /* index in mem of logical byte 0 */
  uint32_t len;  /* bytes buffered */
};

/* Use mem[0..cap) as an empty buffer. cap 0 gives a buffer that holds nothing. */
void mtcp_rb_init(struct ringbuf *rb, uint8_t *mem, uint32_t cap);
/* Bytes that can still be appended: cap - len. */
uint32_t mtcp_rb_free(const struct ringbuf *rb);
/* Append up to n bytes from src; returns the number appended (min(n, free)).
 * Overwrites any out-of-order bytes stored beyond len. */
uint32_t mtcp_rb_write(struct ringbuf *rb, const void *src, uint32_t n);
/* Remove up to n bytes from the front into dst; returns the number removed
 * (min(n, len)). dst may be NULL to discard. */
uint32_t mtcp_rb_read(struct ringbuf *rb, void *dst, uint32_t n);
/* Copy bytes [off, off+n) of the buffered data into dst without removing
 * them, clipped to len; returns bytes copied (0 if off >= len). */
uint32_t mtcp_rb_peek(const struct ringbuf *rb, uint32_t off, void *dst, uint32_t n);
/* Discard n bytes from the front; n larger than len is clipped to len. */
void mtcp_rb_drop(struct ringbuf *rb, uint32_t n);
/* Store n bytes at logical offset len+off (beyond the buffered data) without
 * changing len: out-of-order data waiting for the gap before it. Clipped to
 * the capacity; returns bytes stored (0 if len+off >= cap). */
uint32_t mtcp_rb_write_at(struct ringbuf *rb, uint32_t off, const void *src, uint32_t n);
/* mtcp_rb_write_at, first copy wins: of [off, off+n) only the bytes the assembler
 * a does not hold yet are stored; the bytes it holds stay as they are (the
 * first copy received), and *conflict is set if any of them differs from
 * src (overlapping retransmissions that disagree: an IDS-evasion and
 * injection tool). Call before mtcp_asm_add records the new range. Returns the
 * bytes of the range that fit (as mtcp_rb_write_at). */
uint32_t mtcp_rb_write_at_first(struct ringbuf *rb, const struct assembler *a, uint32_t off,
                           const void *src, uint32_t n, bool *conflict);
/* Make n bytes already stored by mtcp_rb_write_at part of the buffer: len += n,
 * clipped to cap. */
void mtcp_rb_commit(struct ringbuf *rb, uint32_t n);
/* Zero-copy view of bytes [off, off+n) clipped to len: at most two contiguous
 * spans (the second is non-empty only when the range wraps). Sets *p1,*n1 and
 * *p2,*n2 (pointers into rb->mem, NULL when the span is empty, valid until
 * the buffer is next modified); returns n1 + n2. */
uint32_t mtcp_rb_spans(const struct ringbuf *rb, uint32_t off, uint32_t n, const uint8_t **p1,
                  uint32_t *n1, const uint8_t **p2, uint32_t *n2);

#endif
