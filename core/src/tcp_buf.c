/* Chunk pool and chunked byte buffer for TCP (contracts in tcp_buf.h; the
 * assembler is assembler.c). */
#include "tcp_buf.h"

#include <string.h>

#include "mem.h"

/* ---- Chunk pool ---- */

void mtcp_cpool_init(struct chunk_pool *p, uint8_t *mem, uint32_t nchunks, uint32_t size) {
  uint8_t shift = 0;
  while (shift < 31 && (1u << shift) < size) shift++;
  p->mem = mem;
  p->size = size;
  p->shift = shift;
  p->nchunks = mem ? nchunks : 0;
  p->fresh = 0;
  p->free_head = CHUNK_NONE;
  p->in_use = 0;
  p->claimed = 0;
  p->rcv_share = 0xffffffffu;
  p->rcv_floor = 0;
}

static uint8_t *chunk_mem(const struct chunk_pool *p, uint32_t c) {
  return p->mem + ((size_t)c << p->shift);
}

/* A chunk for a caller that holds a claim not backed by a chunk yet: there
 * is always one (in_use < claimed <= nchunks). */
static uint32_t chunk_take(struct chunk_pool *p) {
  uint32_t c;
  if (p->free_head != CHUNK_NONE) {
    c = p->free_head;
    memcpy(&p->free_head, chunk_mem(p, c), sizeof p->free_head);
  } else {
    c = p->fresh++;
  }
  p->in_use++;
  return c;
}

static void chunk_give(struct chunk_pool *p, uint32_t c) {
  memcpy(chunk_mem(p, c), &p->free_head, sizeof p->free_head);
  p->free_head = c;
  p->in_use--;
}

/* ---- Chunked buffer ---- */

void mtcp_rb_init(struct ringbuf *rb, struct chunk_pool *pool, uint32_t *tab, uint32_t cap) {
  rb->pool = pool;
  rb->tab = tab;
  rb->cap = (pool && tab) ? cap : 0;
  rb->nslots = rb->cap ? mtcp_rb_slots(cap, pool->size) : 0;
  for (uint32_t i = 0; i < rb->nslots; i++) tab[i] = CHUNK_NONE;
  rb->first = rb->head = rb->len = 0;
  rb->mapped = rb->claims = 0;
}

/* Slot k places after first (k < nslots). */
static uint32_t slot_at(const struct ringbuf *rb, uint32_t k) {
  uint32_t s = rb->first + k;
  return s >= rb->nslots ? s - rb->nslots : s;
}

/* Give slot s's chunk back (the claim stays with the buffer). */
static void slot_unmap(struct ringbuf *rb, uint32_t s) {
  if (rb->tab[s] == CHUNK_NONE) return;
  chunk_give(rb->pool, rb->tab[s]);
  rb->tab[s] = CHUNK_NONE;
  rb->mapped--;
}

void mtcp_rb_release(struct ringbuf *rb) {
  for (uint32_t s = 0; s < rb->nslots; s++) slot_unmap(rb, s);
  mtcp_rb_unreserve(rb);
  rb->first = rb->head = rb->len = 0;
}

uint32_t mtcp_rb_free(const struct ringbuf *rb) { return rb->cap - rb->len; }

uint32_t mtcp_rb_room(const struct ringbuf *rb) { return mtcp_rb_room_capped(rb, 0xffffffffu, 0); }

uint32_t mtcp_rb_room_capped(const struct ringbuf *rb, uint32_t max_chunks, uint32_t floor) {
  uint32_t room = rb->cap - rb->len;
  if (room == 0) return 0;
  uint32_t unclaimed = mtcp_cpool_unclaimed(rb->pool);
  uint64_t chunks = (uint64_t)rb->claims + (unclaimed > floor ? unclaimed - floor : 0);
  if (max_chunks < rb->claims) max_chunks = rb->claims;
  if (chunks > max_chunks) chunks = max_chunks;
  uint64_t cover = (chunks << rb->pool->shift);
  uint64_t used = (uint64_t)rb->head + rb->len;
  if (cover <= used) return 0;
  return cover - used < room ? (uint32_t)(cover - used) : room;
}

/* Pointer to logical byte off (off < cap) and the bytes contiguous to it
 * up to the end of its chunk; NULL if its slot holds no chunk and map is
 * false or the pool cannot give one. */
static uint8_t *rb_at(struct ringbuf *rb, uint32_t off, bool map, uint32_t *avail) {
  struct chunk_pool *p = rb->pool;
  uint64_t pos = (uint64_t)rb->head + off;
  uint32_t k = (uint32_t)(pos >> p->shift);
  uint32_t in = (uint32_t)(pos & (p->size - 1));
  uint32_t s = slot_at(rb, k);
  *avail = p->size - in;
  if (rb->tab[s] == CHUNK_NONE) {
    if (!map) return NULL;
    if (rb->claims == rb->mapped) { /* no reservation left: claim one */
      if (p->claimed >= p->nchunks) return NULL;
      p->claimed++;
      rb->claims++;
    }
    rb->tab[s] = chunk_take(p);
    rb->mapped++;
  }
  return chunk_mem(p, rb->tab[s]) + in;
}

static const uint8_t *rb_at_c(const struct ringbuf *rb, uint32_t off, uint32_t *avail) {
  return rb_at((struct ringbuf *)rb, off, false, avail);
}

/* Copy n bytes into logical offsets [off, off+n) (off+n <= cap), taking
 * chunks as needed; returns the bytes stored (less than n only when the
 * pool ran dry). */
static uint32_t rb_put(struct ringbuf *rb, uint32_t off, const uint8_t *src, uint32_t n) {
  uint32_t done = 0;
  while (done < n) {
    uint32_t avail;
    uint8_t *d = rb_at(rb, off + done, true, &avail);
    if (!d) break;
    uint32_t k = n - done < avail ? n - done : avail;
    memcpy(d, src + done, k);
    done += k;
  }
  return done;
}

/* Copy n stored bytes out of logical offsets [off, off+n) (off+n <= cap). */
static void rb_get(const struct ringbuf *rb, uint32_t off, uint8_t *dst, uint32_t n) {
  uint32_t done = 0;
  while (done < n) {
    uint32_t avail;
    const uint8_t *s = rb_at_c(rb, off + done, &avail);
    uint32_t k = n - done < avail ? n - done : avail;
    if (s)
      memcpy(dst + done, s, k);
    else
      memset(dst + done, 0, k); /* never written: cannot happen for buffered bytes */
    done += k;
  }
}

uint32_t mtcp_rb_write(struct ringbuf *rb, const void *src, uint32_t n) {
  uint32_t room = mtcp_rb_free(rb);
  if (n > room) n = room;
  n = rb_put(rb, rb->len, src, n);
  rb->len += n;
  return n;
}

/* Ask the cache for stored bytes [off, off+n) (a hint; nothing changes). */
static void rb_prefetch(const struct ringbuf *rb, uint32_t off, uint32_t n) {
#if defined(__GNUC__)
  uint32_t done = 0;
  while (done < n) {
    uint32_t avail;
    const uint8_t *s = rb_at_c(rb, off + done, &avail);
    uint32_t k = n - done < avail ? n - done : avail;
    if (s)
      for (uint32_t i = 0; i < k; i += 128) __builtin_prefetch(s + i);
    done += k;
  }
#else
  (void)rb; (void)off; (void)n;
#endif
}

uint32_t mtcp_rb_peek(const struct ringbuf *rb, uint32_t off, void *dst, uint32_t n) {
  if (off >= rb->len) return 0;
  if (n > rb->len - off) n = rb->len - off;
  rb_get(rb, off, dst, n);
  /* The sender reads its buffer in order, one segment after the other, and
   * by then the bytes have usually left the cache (a deep send buffer is
   * written long before it is sent): fetch the next segment's bytes while
   * this one goes out. */
  uint32_t next = off + n;
  if (next < rb->len) rb_prefetch(rb, next, rb->len - next < n ? rb->len - next : n);
  return n;
}

void mtcp_rb_drop(struct ringbuf *rb, uint32_t n) {
  if (n > rb->len) n = rb->len;
  if (n == 0) return;
  /* Out-of-order bytes beyond len stay where they are: only the slots the
   * front moved past are given back (with their claims). */
  struct chunk_pool *p = rb->pool;
  uint64_t pos = (uint64_t)rb->head + n;
  rb->len -= n;
  while (pos >= p->size) {
    if (rb->tab[rb->first] != CHUNK_NONE) {
      slot_unmap(rb, rb->first);
      rb->claims--;
      p->claimed--;
    }
    rb->first = slot_at(rb, 1);
    pos -= p->size;
  }
  rb->head = (uint32_t)pos;
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
  return rb_put(rb, rb->len + off, src, n);
}

/* Do bytes [off, off+n) at logical offset off (off+n <= cap) differ from src? */
static bool rb_differs(const struct ringbuf *rb, uint32_t off, const uint8_t *src, uint32_t n) {
  uint32_t done = 0;
  while (done < n) {
    uint32_t avail;
    const uint8_t *s = rb_at_c(rb, off + done, &avail);
    uint32_t k = n - done < avail ? n - done : avail;
    if (!s || memcmp(s, src + done, k) != 0) return true;
    done += k;
  }
  return false;
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
    if (!held) {
      uint32_t got = rb_put(rb, rb->len + ps, p + (ps - off), pe - ps);
      if (got < pe - ps) return ps + got - off; /* the pool ran dry: a prefix */
    } else if (rb_differs(rb, rb->len + ps, p + (ps - off), pe - ps)) {
      *conflict = true;
    }
  }
  return n;
}

void mtcp_rb_commit(struct ringbuf *rb, uint32_t n) {
  uint32_t room = mtcp_rb_free(rb);
  rb->len += n > room ? room : n;
}

uint32_t mtcp_rb_span(const struct ringbuf *rb, uint32_t off, uint32_t n, const uint8_t **p) {
  *p = NULL;
  if (off >= rb->len) return 0;
  if (n > rb->len - off) n = rb->len - off;
  if (n == 0) return 0;
  uint32_t avail;
  const uint8_t *s = rb_at_c(rb, off, &avail);
  if (!s) return 0;
  *p = s;
  return n < avail ? n : avail;
}

void mtcp_rb_trim(struct ringbuf *rb) {
  if (rb->nslots == 0) return;
  if (rb->len == 0) {
    if (rb->mapped == 1 && rb->tab[rb->first] != CHUNK_NONE) {
      slot_unmap(rb, rb->first); /* the usual case: the front chunk, partly read */
    } else {
      for (uint32_t s = 0; s < rb->nslots && rb->mapped; s++) slot_unmap(rb, s);
    }
    rb->head = 0;
    return;
  }
  /* Slots [0, last] hold the buffered bytes, so all of them are mapped:
   * anything mapped beyond shows in the count (the usual case: nothing). */
  uint32_t last = (uint32_t)(((uint64_t)rb->head + rb->len - 1) >> rb->pool->shift);
  for (uint32_t k = last + 1; k < rb->nslots && rb->mapped > last + 1; k++)
    slot_unmap(rb, slot_at(rb, k));
}

bool mtcp_rb_reserve(struct ringbuf *rb, uint32_t bytes) {
  if (bytes > rb->cap) bytes = rb->cap;
  if (bytes == 0) return true;
  struct chunk_pool *p = rb->pool;
  uint64_t want = ((uint64_t)rb->head + bytes + p->size - 1) >> p->shift;
  if (want > rb->nslots) want = rb->nslots;
  if (rb->claims >= want) return true;
  uint32_t more = (uint32_t)want - rb->claims;
  uint32_t left = mtcp_cpool_unclaimed(p);
  if (more > left) more = left;
  rb->claims += more;
  p->claimed += more;
  return rb->claims >= want;
}

void mtcp_rb_unreserve(struct ringbuf *rb) {
  if (!rb->pool) return;
  rb->pool->claimed -= rb->claims - rb->mapped;
  rb->claims = rb->mapped;
}
