/*
 * TCP byte storage: sequence-number arithmetic, a shared pool of fixed-size
 * chunks, and the chunked byte buffer every send and receive buffer is
 * (used with the out-of-order assembler of assembler.h, which records which
 * byte ranges beyond rcv_nxt have arrived).
 *
 * Ownership: none of these allocate. The pool's chunk memory and each
 * buffer's slot table are slices of the stack arena handed in by the caller.
 * All functions are total: out-of-range arguments are clipped, never
 * trusted, and documented below; the only failure is "the pool has no
 * chunk left", which shows as fewer bytes stored than asked (never as a
 * lost byte: data already in a buffer stays until it is read or dropped).
 *
 * Chunked buffer. A buffer of logical capacity cap is a ring of nslots
 * slots (mtcp_rb_slots(cap, chunk size)), each either empty or holding one
 * chunk of the pool. Logical byte 0 is at offset head of the chunk in slot
 * first; byte k is in slot first + (head + k) / size. A slot gets a chunk
 * the first time a byte is written into it and gives it back when the
 * buffer's front moves past it (read/drop) or mtcp_rb_trim releases it, so a
 * buffer holds about len / size chunks, not cap bytes.
 *
 * Reservations (claims). The pool counts chunks "claimed": in use plus
 * promised. A buffer's claims are its mapped chunks plus chunks reserved
 * for bytes not written yet (mtcp_rb_reserve). A chunk is handed out only
 * against a claim, and a claim is granted only while claimed < nchunks, so a
 * reserved chunk is always there when the bytes arrive: the receive side
 * reserves the window it advertised (RFC 9293 3.8.6 / RFC 7323 2.4: the
 * right edge never moves left, so those bytes must fit when they come).
 *
 * Receive-path pattern (how the pieces fit together):
 *   off = seq - rcv_nxt (already trimmed to the window and to
 *         mtcp_rb_room(rb) - off, so every assembler byte is also stored)
 *   if off == 0:  n = mtcp_rb_write_at(rb, 0, data, len); mtcp_rb_commit(rb, n);
 *                 mtcp_asm_shift(a, n); extra = mtcp_asm_front(a);
 *                 mtcp_rb_commit(rb, extra); mtcp_asm_shift(a, extra);
 *   else:         n = mtcp_rb_write_at(rb, off, data, len); mtcp_asm_add(a, off, off+n);
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

/* ---- Chunk pool ---- */
#define CHUNK_NONE 0xffffffffu

struct chunk_pool {
  uint8_t *mem;       /* nchunks * size bytes (caller-owned) */
  uint32_t size;      /* bytes per chunk: a power of two >= 64 */
  uint8_t shift;      /* log2(size) */
  uint32_t nchunks;
  uint32_t fresh;     /* chunks [fresh, nchunks) were never handed out (never touched) */
  uint32_t free_head; /* returned chunks, linked through their first 4 bytes */
  uint32_t in_use;    /* chunks mapped into some buffer */
  uint32_t claimed;   /* in use + reserved; <= nchunks */
  uint32_t rcv_share; /* chunks one receive buffer may claim to offer window (set by
                       * the TCP layer: its fair share of the pool) */
  uint32_t rcv_floor; /* unclaimed chunks windows may not take (left for sends) */
};

/* Use mem (nchunks * size bytes; size a power of two >= 64) as an empty
 * pool. Touches none of mem: chunks are taken from a watermark first, so an
 * arena the caller got lazily zeroed from the OS costs memory only as it is
 * used. */
void mtcp_cpool_init(struct chunk_pool *p, uint8_t *mem, uint32_t nchunks, uint32_t size);
/* Chunks neither in use nor reserved by any buffer. */
static inline uint32_t mtcp_cpool_unclaimed(const struct chunk_pool *p) {
  return p->nchunks - p->claimed;
}

/* ---- Chunked byte buffer ----
 * Bytes [0, len) are the buffered data. Bytes beyond len may hold
 * out-of-order data written by mtcp_rb_write_at but are not part of the
 * buffer until mtcp_rb_commit. */
struct ringbuf {
  struct chunk_pool *pool;
  uint32_t *tab;   /* nslots chunk indices (CHUNK_NONE: empty slot), a ring */
  uint32_t nslots;
  uint32_t first;  /* slot holding logical byte 0 */
  uint32_t head;   /* offset of logical byte 0 in that slot's chunk (< pool->size) */
  uint32_t cap;    /* logical capacity in bytes */
  uint32_t len;    /* bytes buffered */
  uint32_t mapped; /* slots holding a chunk */
  uint32_t claims; /* chunks claimed from the pool: mapped + reserved (>= mapped) */
};

/* Slots a buffer of cap bytes needs with chunks of size bytes (cap 0: 0). */
static inline uint32_t mtcp_rb_slots(uint32_t cap, uint32_t size) {
  return cap ? (cap - 1) / size + 2u : 0u; /* ceil(cap / size) + 1, no overflow */
}
/* An empty buffer of cap bytes over pool, with tab[0..mtcp_rb_slots(cap,
 * pool->size)) as its slot table (all set empty here). cap 0 (or pool NULL)
 * gives a buffer that holds nothing. */
void mtcp_rb_init(struct ringbuf *rb, struct chunk_pool *pool, uint32_t *tab, uint32_t cap);
/* Give every chunk and claim back to the pool; the buffer is empty after. */
void mtcp_rb_release(struct ringbuf *rb);
/* Logical bytes that can still be appended: cap - len (the pool aside). */
uint32_t mtcp_rb_free(const struct ringbuf *rb);
/* Bytes that can be stored from offset len on, counting the pool: at most
 * mtcp_rb_free, less when the buffer's claims plus the unclaimed chunks of
 * the pool cannot cover them. */
uint32_t mtcp_rb_room(const struct ringbuf *rb);
/* mtcp_rb_room as if the buffer could hold at most max_chunks claims (never
 * fewer than it has) and floor unclaimed chunks were not there: the room a
 * fair share of the pool gives. */
uint32_t mtcp_rb_room_capped(const struct ringbuf *rb, uint32_t max_chunks, uint32_t floor);
/* Append up to n bytes from src; returns the number appended (min(n, free),
 * less if the pool runs dry). Overwrites any out-of-order bytes beyond len. */
uint32_t mtcp_rb_write(struct ringbuf *rb, const void *src, uint32_t n);
/* Remove up to n bytes from the front into dst; returns the number removed
 * (min(n, len)). dst may be NULL to discard. */
uint32_t mtcp_rb_read(struct ringbuf *rb, void *dst, uint32_t n);
/* Copy bytes [off, off+n) of the buffered data into dst without removing
 * them, clipped to len; returns bytes copied (0 if off >= len). */
uint32_t mtcp_rb_peek(const struct ringbuf *rb, uint32_t off, void *dst, uint32_t n);
/* Discard n bytes from the front (clipped to len); chunks the front passed
 * go back to the pool with their claims. */
void mtcp_rb_drop(struct ringbuf *rb, uint32_t n);
/* Store n bytes at logical offset len+off (beyond the buffered data) without
 * changing len: out-of-order data waiting for the gap before it. Clipped to
 * the capacity and stopped where the pool has no chunk left; returns the
 * bytes stored, always a prefix of [off, off+n) (0 if len+off >= cap). */
uint32_t mtcp_rb_write_at(struct ringbuf *rb, uint32_t off, const void *src, uint32_t n);
/* mtcp_rb_write_at, first copy wins: of [off, off+n) only the bytes the assembler
 * a does not hold yet are stored; the bytes it holds stay as they are (the
 * first copy received), and *conflict is set if any of them differs from
 * src (overlapping retransmissions that disagree: an IDS-evasion and
 * injection tool). Call before mtcp_asm_add records the new range. Returns the
 * prefix of the range now held (stored or already there): as mtcp_rb_write_at. */
uint32_t mtcp_rb_write_at_first(struct ringbuf *rb, const struct assembler *a, uint32_t off,
                           const void *src, uint32_t n, bool *conflict);
/* Make n bytes already stored by mtcp_rb_write_at part of the buffer: len += n,
 * clipped to cap. */
void mtcp_rb_commit(struct ringbuf *rb, uint32_t n);
/* Zero-copy view: the contiguous piece of the buffered data starting at off,
 * at most n bytes and never past the end of its chunk, clipped to len. Sets
 * *p (NULL when empty; valid until the buffer is next modified) and returns
 * its length. Loop over off to walk a range piece by piece. */
uint32_t mtcp_rb_span(const struct ringbuf *rb, uint32_t off, uint32_t n, const uint8_t **p);
/* Nothing beyond len is wanted any more (no out-of-order data pending):
 * give back the chunks that hold none of bytes [0, len), keeping their
 * claims as reservations (see mtcp_rb_unreserve); an empty buffer restarts
 * at offset 0 of its first slot. */
void mtcp_rb_trim(struct ringbuf *rb);
/* Make sure the chunks covering logical bytes [0, bytes) are claimed
 * (clipped to cap), claiming what the pool still has. Returns true if all
 * of them are. */
bool mtcp_rb_reserve(struct ringbuf *rb, uint32_t bytes);
/* Give back the claims not backed by a mapped chunk. */
void mtcp_rb_unreserve(struct ringbuf *rb);

#endif
