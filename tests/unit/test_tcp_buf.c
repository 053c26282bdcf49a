/* Unit tests for core/src/tcp_buf.c: sequence comparisons, ring buffer,
 * out-of-order assembler. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "../../sim/prng.h"
#include "tcp_buf.h"

/* Small deterministic PRNG (xorshift64*), seed printed on failure paths. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n) {
  uint32_t r = prng_xorshift64s(&rng_state);
  return n ? r % n : 0;
}

static void seq_compare_wraps_around_2_32(void) {
  CHECK(seq_lt(0xfffffff0u, 0x10u));
  CHECK(seq_gt(0x10u, 0xfffffff0u));
  CHECK(seq_le(5, 5) && seq_ge(5, 5) && !seq_lt(5, 5) && !seq_gt(5, 5));
  CHECK_EQ(seq_max(0xffffff00u, 0x100u), 0x100u);
  CHECK_EQ(seq_min(0xffffff00u, 0x100u), 0xffffff00u);
  CHECK(seq_lt(0, 0x7fffffffu));
  CHECK(seq_gt(0, 0x80000001u)); /* more than 2^31 ahead counts as behind */
}

/* ---- Chunked buffers over a small pool ---- */
enum { CS = 64, MAXCH = 64 };
struct fixture {
  _Alignas(16) uint8_t mem[MAXCH * CS];
  struct chunk_pool pool;
  uint32_t tab[2][80];
};

static void fx_init(struct fixture *f, uint32_t nchunks) {
  memset(f->mem, 0xa5, sizeof f->mem);
  mtcp_cpool_init(&f->pool, f->mem, nchunks, CS);
}

/* Pool accounting matches the buffers: every chunk mapped once, claims >= mapped. */
static void check_pool(const struct chunk_pool *p, const struct ringbuf *b, int nb) {
  uint32_t mapped = 0, claims = 0;
  static uint8_t seen[MAXCH];
  memset(seen, 0, sizeof seen);
  for (int i = 0; i < nb; i++) {
    uint32_t m = 0;
    for (uint32_t s = 0; s < b[i].nslots; s++) {
      uint32_t c = b[i].tab[s];
      if (c == CHUNK_NONE) continue;
      m++;
      CHECK(c < p->fresh);
      if (c < MAXCH) CHECK(!seen[c]++);
    }
    CHECK_EQ(m, b[i].mapped);
    CHECK(b[i].mapped <= b[i].claims);
    mapped += b[i].mapped;
    claims += b[i].claims;
  }
  CHECK_EQ(p->in_use, mapped);
  CHECK_EQ(p->claimed, claims);
  CHECK(p->claimed <= p->nchunks);
}

/* Walk [off, off+n) with mtcp_rb_span and compare with want. */
static void check_spans(const struct ringbuf *rb, uint32_t off, uint32_t n, const uint8_t *want,
                        uint32_t expect) {
  uint32_t tot = 0;
  for (;;) {
    const uint8_t *p;
    uint32_t k = mtcp_rb_span(rb, off + tot, n - tot, &p);
    if (k == 0) {
      CHECK(p == NULL || n == tot);
      break;
    }
    CHECK(k <= CS);
    CHECK(memcmp(p, want + tot, k) == 0);
    tot += k;
    if (tot >= n) break;
  }
  CHECK_EQ(tot, expect);
}

/* For every head position, fill/drain and compare with what was written. */
static void ringbuf_wraparound_at_every_head_position(void) {
  enum { CAP = 201 };
  static struct fixture f;
  uint8_t src[CAP], dst[CAP + 8];
  for (uint32_t h = 0; h < CAP; h += 3) {
    for (uint32_t n = 0; n <= CAP; n += 7) {
      fx_init(&f, MAXCH);
      struct ringbuf rb;
      mtcp_rb_init(&rb, &f.pool, f.tab[0], CAP);
      CHECK_EQ(rb.nslots, (CAP + CS - 1) / CS + 1);
      CHECK_EQ(mtcp_rb_write(&rb, src, h), h); /* move head to h */
      CHECK_EQ(mtcp_rb_read(&rb, NULL, h), h);
      CHECK_EQ(rb.head, h % CS);
      CHECK(rb.mapped <= 1);
      for (uint32_t i = 0; i < CAP; i++) src[i] = (uint8_t)(h * 31 + n * 7 + i);
      CHECK_EQ(mtcp_rb_free(&rb), CAP);
      CHECK_EQ(mtcp_rb_room(&rb), CAP);
      CHECK_EQ(mtcp_rb_write(&rb, src, n), n);
      CHECK_EQ(rb.len, n);
      CHECK_EQ(mtcp_rb_free(&rb), CAP - n);
      for (uint32_t off = 0; off <= n; off++) {
        memset(dst, 0, sizeof dst);
        uint32_t got = mtcp_rb_peek(&rb, off, dst, CAP);
        CHECK_EQ(got, n - off);
        CHECK(memcmp(dst, src + off, got) == 0);
        check_spans(&rb, off, CAP, src + off, n - off);
      }
      /* A write beyond the free space is clipped. */
      CHECK_EQ(mtcp_rb_write(&rb, src, CAP), CAP - n);
      CHECK_EQ(rb.len, CAP);
      CHECK_EQ(mtcp_rb_read(&rb, dst, CAP + 5), CAP);
      CHECK(memcmp(dst, src, n) == 0);
      CHECK(memcmp(dst + n, src, CAP - n) == 0);
      CHECK_EQ(rb.len, 0);
      check_pool(&f.pool, &rb, 1);
      mtcp_rb_trim(&rb); /* empty: every chunk back */
      CHECK_EQ(f.pool.in_use, 0);
      mtcp_rb_release(&rb);
      CHECK_EQ(f.pool.claimed, 0);
    }
  }
}

static void ringbuf_write_at_then_commit_fills_gap(void) {
  enum { CAP = 150 };
  static struct fixture f;
  for (uint32_t h = 0; h < CAP; h += 5) {
    fx_init(&f, MAXCH);
    struct ringbuf rb;
    uint8_t out[CAP], junk[CAP];
    memset(junk, 'x', sizeof junk);
    mtcp_rb_init(&rb, &f.pool, f.tab[0], CAP);
    mtcp_rb_write(&rb, junk, h);
    mtcp_rb_drop(&rb, h);
    CHECK_EQ(mtcp_rb_write(&rb, "AB", 2), 2);
    /* Out of order: EFG at offset 2 beyond len, and far out (another chunk). */
    CHECK_EQ(mtcp_rb_write_at(&rb, 2, "EFG", 3), 3);
    CHECK_EQ(mtcp_rb_write_at(&rb, 100, "Z", 1), 1);
    CHECK_EQ(mtcp_rb_peek(&rb, 0, out, CAP), 2); /* not yet visible */
    /* Fill the gap and commit. */
    CHECK_EQ(mtcp_rb_write_at(&rb, 0, "CD", 2), 2);
    mtcp_rb_commit(&rb, 2 + 3);
    CHECK_EQ(mtcp_rb_read(&rb, out, CAP), 7);
    CHECK(memcmp(out, "ABCDEFG", 7) == 0);
    CHECK_EQ(mtcp_rb_write_at(&rb, 93, "", 0), 0);
    mtcp_rb_commit(&rb, 96); /* Z: offset 2 + 100 before 7 bytes were read */
    CHECK_EQ(mtcp_rb_peek(&rb, 95, out, 1), 1);
    CHECK_EQ(out[0], 'Z');
    check_pool(&f.pool, &rb, 1);
  }
}

static void ringbuf_write_at_clips_to_capacity(void) {
  static struct fixture f;
  fx_init(&f, MAXCH);
  struct ringbuf rb;
  mtcp_rb_init(&rb, &f.pool, f.tab[0], 8);
  mtcp_rb_write(&rb, "abc", 3);                    /* 5 free */
  CHECK_EQ(mtcp_rb_write_at(&rb, 3, "0123", 4), 2); /* only offsets 3,4 fit */
  CHECK_EQ(mtcp_rb_write_at(&rb, 5, "0", 1), 0);    /* len+5 == cap */
  CHECK_EQ(mtcp_rb_write_at(&rb, 0xffffffffu, "0", 1), 0);
  mtcp_rb_commit(&rb, 100); /* clipped to cap */
  CHECK_EQ(rb.len, 8);
  mtcp_rb_drop(&rb, 100); /* clipped to len */
  CHECK_EQ(rb.len, 0);
  uint8_t b;
  CHECK_EQ(mtcp_rb_peek(&rb, 0, &b, 1), 0);
}

static void ringbuf_ooo_bytes_survive_drain_to_empty(void) {
  static struct fixture f;
  fx_init(&f, MAXCH);
  uint8_t out[8];
  struct ringbuf rb;
  mtcp_rb_init(&rb, &f.pool, f.tab[0], 100);
  uint8_t junk[62] = {0};
  mtcp_rb_write(&rb, junk, 62);
  mtcp_rb_drop(&rb, 62); /* head 62: the next bytes straddle two chunks */
  mtcp_rb_write(&rb, "abc", 3);
  CHECK_EQ(mtcp_rb_write_at(&rb, 1, "Z", 1), 1);
  CHECK_EQ(mtcp_rb_read(&rb, out, 3), 3);
  CHECK_EQ(mtcp_rb_write_at(&rb, 0, "Y", 1), 1);
  mtcp_rb_commit(&rb, 2);
  CHECK_EQ(mtcp_rb_read(&rb, out, 8), 2);
  CHECK(memcmp(out, "YZ", 2) == 0);
}

static void ringbuf_zero_capacity_holds_nothing(void) {
  static struct fixture f;
  fx_init(&f, 4);
  struct ringbuf rb;
  mtcp_rb_init(&rb, &f.pool, f.tab[0], 0);
  CHECK_EQ(mtcp_rb_free(&rb), 0);
  CHECK_EQ(mtcp_rb_room(&rb), 0);
  CHECK_EQ(mtcp_rb_write(&rb, "a", 1), 0);
  CHECK_EQ(mtcp_rb_write_at(&rb, 0, "a", 1), 0);
  const uint8_t *p;
  CHECK_EQ(mtcp_rb_span(&rb, 0, 5, &p), 0);
  CHECK(p == NULL);
  CHECK(mtcp_rb_reserve(&rb, 10));
  CHECK_EQ(f.pool.claimed, 0);
  mtcp_rb_init(&rb, NULL, NULL, 100); /* no pool: holds nothing either */
  CHECK_EQ(mtcp_rb_room(&rb), 0);
  CHECK_EQ(mtcp_rb_write(&rb, "a", 1), 0);
}

/* The pool runs dry and refills: chunks are taken lazily (untouched memory
 * beyond the watermark), a dry pool stores a prefix, never loses a byte
 * already held, reservations are honoured whatever the other buffer does. */
static void pool_exhaustion_and_reservations(void) {
  static struct fixture f;
  fx_init(&f, 6);
  struct ringbuf b[2];
  mtcp_rb_init(&b[0], &f.pool, f.tab[0], 1000);
  mtcp_rb_init(&b[1], &f.pool, f.tab[1], 1000);
  uint8_t src[1000], out[1000];
  for (uint32_t i = 0; i < sizeof src; i++) src[i] = (uint8_t)(i * 7 + 3);
  CHECK_EQ(mtcp_rb_room(&b[0]), 6 * CS);
  CHECK_EQ(mtcp_rb_write(&b[0], src, 100), 100); /* 2 chunks */
  CHECK_EQ(f.pool.fresh, 2);
  CHECK_EQ(f.mem[2 * CS], 0xa5); /* never handed out: never written */
  /* b[1] reserves 3 chunks: b[0] can get only one more. */
  CHECK(mtcp_rb_reserve(&b[1], 3 * CS));
  CHECK_EQ(f.pool.claimed, 5);
  CHECK_EQ(mtcp_rb_room(&b[0]), 3 * CS - 100);
  CHECK_EQ(mtcp_rb_write(&b[0], src + 100, 500), 3 * CS - 100); /* a prefix */
  CHECK_EQ(mtcp_rb_write(&b[0], src, 1), 0);
  CHECK_EQ(mtcp_rb_room(&b[0]), 0);
  CHECK(!mtcp_rb_reserve(&b[1], 5 * CS)); /* only what is left */
  /* The reserved bytes always fit, out of order too. */
  CHECK_EQ(mtcp_rb_write_at(&b[1], 2 * CS, src, CS), CS);
  CHECK_EQ(mtcp_rb_write_at(&b[1], 0, src + 500, 2 * CS), 2 * CS);
  mtcp_rb_commit(&b[1], 3 * CS);
  check_pool(&f.pool, b, 2);
  /* Everything b[0] held is intact. */
  CHECK_EQ(mtcp_rb_peek(&b[0], 0, out, 1000), 3 * CS);
  CHECK(memcmp(out, src, 3 * CS) == 0);
  /* Reading frees chunks (LIFO reuse, no new memory touched). */
  CHECK_EQ(mtcp_rb_read(&b[0], out, CS), CS);
  CHECK_EQ(mtcp_rb_write(&b[1], src, 10), 10);
  CHECK_EQ(f.pool.fresh, 6);
  mtcp_rb_release(&b[0]);
  mtcp_rb_release(&b[1]);
  CHECK_EQ(f.pool.in_use, 0);
  CHECK_EQ(f.pool.claimed, 0);
  /* Unreserve gives back only unbacked claims. */
  CHECK(mtcp_rb_reserve(&b[0], 4 * CS));
  CHECK_EQ(mtcp_rb_write(&b[0], src, 10), 10);
  mtcp_rb_unreserve(&b[0]);
  CHECK_EQ(b[0].claims, 1);
  CHECK_EQ(f.pool.claimed, 1);
}

/* Are all of r's chunks inside the slots covering bytes [0, bytes)? (The
 * TCP receive side only writes inside its advertised window, which it
 * reserved; a reservation is a guarantee under that condition.) */
static bool mapped_within(const struct ringbuf *r, uint32_t bytes) {
  uint32_t want = (r->head + bytes + CS - 1) / CS;
  for (uint32_t k = want; k < r->nslots; k++)
    if (r->tab[(r->first + k) % r->nslots] != CHUNK_NONE) return false;
  return true;
}

/* Random operations on two buffers sharing a small pool, each against a flat
 * model of its logical byte stream: writes, reads, peeks, out-of-order
 * write_at, commits, spans, trims, reservations; the head wraps the slot
 * ring many times and the pool runs dry often. */
static void ringbuf_random_ops_match_linear_model(void) {
  enum { CAP = 300, NCH = 9 };
  static struct fixture f;
  fx_init(&f, NCH);
  struct ringbuf rb[2];
  static uint8_t model[2][CAP + 64];
  uint32_t mlen[2] = {0, 0};
  static uint8_t ooo_valid[2][CAP + 64];
  uint32_t resv[2] = {0, 0}; /* bytes from the front reserved and still guaranteed */
  uint8_t tmp[CAP], tmp2[CAP];
  memset(ooo_valid, 0, sizeof ooo_valid);
  for (int i = 0; i < 2; i++) mtcp_rb_init(&rb[i], &f.pool, f.tab[i], CAP);
  for (int step = 0; step < 300000; step++) {
    int i = (int)rnd(2);
    struct ringbuf *r = &rb[i];
    uint32_t op = rnd(9), n = rnd(CAP / 2), off = rnd(CAP + 2);
    for (uint32_t k = 0; k < n; k++) tmp[k] = (uint8_t)rnd(256);
    uint32_t room = CAP - mlen[i];
    bool within = mapped_within(r, resv[i]);
    switch (op) {
    case 0: { /* write */
      uint32_t rm = mtcp_rb_room(r);
      uint32_t w = mtcp_rb_write(r, tmp, n);
      uint32_t cap_w = n < room ? n : room;
      CHECK(w <= cap_w);
      if (w < cap_w) CHECK(mtcp_cpool_unclaimed(&f.pool) == 0 || f.pool.claimed == f.pool.nchunks);
      if (cap_w <= rm && resv[i] >= mlen[i] + cap_w && within) CHECK_EQ(w, cap_w);
      memcpy(model[i] + mlen[i], tmp, w);
      memmove(ooo_valid[i], ooo_valid[i] + w, sizeof ooo_valid[i] - w);
      memset(ooo_valid[i] + sizeof ooo_valid[i] - w, 0, w);
      mlen[i] += w;
      break;
    }
    case 1: { /* read */
      uint32_t got = mtcp_rb_read(r, tmp2, n);
      CHECK_EQ(got, n < mlen[i] ? n : mlen[i]);
      CHECK(memcmp(tmp2, model[i], got) == 0);
      memmove(model[i], model[i] + got, sizeof model[i] - got);
      mlen[i] -= got;
      resv[i] = resv[i] > got ? resv[i] - got : 0;
      break;
    }
    case 2: { /* peek */
      uint32_t got = mtcp_rb_peek(r, off, tmp2, n);
      uint32_t want = off >= mlen[i] ? 0 : (n < mlen[i] - off ? n : mlen[i] - off);
      CHECK_EQ(got, want);
      CHECK(memcmp(tmp2, model[i] + off, got) == 0);
      break;
    }
    case 3: { /* write_at: a prefix, all of it when reserved */
      uint32_t w = mtcp_rb_write_at(r, off, tmp, n);
      uint32_t want = off >= room ? 0 : (n < room - off ? n : room - off);
      CHECK(w <= want);
      if (mlen[i] + off + want <= resv[i] && within) CHECK_EQ(w, want);
      memcpy(model[i] + mlen[i] + off, tmp, w);
      memset(ooo_valid[i] + off, 1, w);
      break;
    }
    case 4: { /* commit only bytes that were stored (as the TCP code does) */
      uint32_t c = 0;
      while (c < n && c < room && ooo_valid[i][c]) c++;
      mtcp_rb_commit(r, c);
      memmove(ooo_valid[i], ooo_valid[i] + c, sizeof ooo_valid[i] - c);
      memset(ooo_valid[i] + sizeof ooo_valid[i] - c, 0, c);
      mlen[i] += c;
      break;
    }
    case 5: { /* spans */
      uint32_t want = off >= mlen[i] ? 0 : (n < mlen[i] - off ? n : mlen[i] - off);
      check_spans(r, off, n, model[i] + off, want);
      break;
    }
    case 6: /* trim: nothing beyond len wanted */
      if (rnd(4) == 0) {
        mtcp_rb_trim(r);
        memset(ooo_valid[i], 0, sizeof ooo_valid[i]);
        /* only the chunks holding buffered bytes are left */
        CHECK_EQ(r->mapped, mlen[i] ? (r->head + mlen[i] - 1) / CS + 1 : 0);
        if (!mlen[i]) CHECK_EQ(r->head, 0);
      }
      break;
    case 7: { /* reserve */
      uint32_t b = mlen[i] + rnd(CAP - mlen[i] + 1);
      if (mtcp_rb_reserve(r, b) && b > resv[i]) resv[i] = b;
      break;
    }
    case 8: /* unreserve */
      if (rnd(8) == 0) {
        mtcp_rb_unreserve(r);
        resv[i] = 0;
      }
      break;
    }
    CHECK_EQ(r->len, mlen[i]);
    CHECK(r->head < CS);
    check_pool(&f.pool, rb, 2);
    if (check_failures > 20) return;
  }
  for (int i = 0; i < 2; i++) mtcp_rb_release(&rb[i]);
  CHECK_EQ(f.pool.in_use, 0);
  CHECK_EQ(f.pool.claimed, 0);
}

/* ---- Assembler ---- */

static void asm_expect(const struct assembler *a, const uint32_t *pairs, uint16_t n, int line) {
  int ok = a->count == n;
  for (uint16_t i = 0; ok && i < n; i++)
    ok = a->r[i].start == pairs[2 * i] && a->r[i].end == pairs[2 * i + 1];
  CHECK(ok);
  if (!ok) {
    fprintf(stderr, "  line %d: have", line);
    for (uint16_t i = 0; i < a->count; i++) fprintf(stderr, " [%u,%u)", a->r[i].start, a->r[i].end);
    fprintf(stderr, "\n");
  }
}
#define ASM_EXPECT(a, ...)                                                  \
  do {                                                                      \
    const uint32_t p_[] = {__VA_ARGS__};                                    \
    asm_expect((a), p_, (uint16_t)(sizeof p_ / sizeof p_[0] / 2), __LINE__); \
  } while (0)

static void assembler_merges_adjacent_overlapping_and_covering(void) {
  struct asm_range mem[4];
  struct assembler a;
  mtcp_asm_init(&a, mem, 4);
  CHECK_EQ(mtcp_asm_add(&a, 10, 20), 0);
  ASM_EXPECT(&a, 10, 20);
  CHECK_EQ(mtcp_asm_add(&a, 20, 25), 0); /* adjacent after */
  ASM_EXPECT(&a, 10, 25);
  CHECK_EQ(mtcp_asm_add(&a, 5, 10), 0); /* adjacent before */
  ASM_EXPECT(&a, 5, 25);
  CHECK_EQ(mtcp_asm_add(&a, 12, 18), 0); /* inside existing */
  ASM_EXPECT(&a, 5, 25);
  CHECK_EQ(mtcp_asm_add(&a, 20, 30), 0); /* overlapping end */
  ASM_EXPECT(&a, 5, 30);
  CHECK_EQ(mtcp_asm_add(&a, 40, 50), 0);
  CHECK_EQ(mtcp_asm_add(&a, 60, 70), 0);
  CHECK_EQ(mtcp_asm_add(&a, 80, 90), 0);
  ASM_EXPECT(&a, 5, 30, 40, 50, 60, 70, 80, 90);
  CHECK_EQ(mtcp_asm_add(&a, 35, 75), 0); /* covers two, overlaps none of the ends */
  ASM_EXPECT(&a, 5, 30, 35, 75, 80, 90);
  CHECK_EQ(mtcp_asm_add(&a, 1, 100), 0); /* covers everything */
  ASM_EXPECT(&a, 1, 100);
  CHECK_EQ(mtcp_asm_add(&a, 7, 7), 0); /* empty: no-op */
  CHECK_EQ(mtcp_asm_add(&a, 9, 3), 0); /* inverted: no-op */
  ASM_EXPECT(&a, 1, 100);
  CHECK_EQ(mtcp_asm_front(&a), 0);
  CHECK_EQ(mtcp_asm_add(&a, 0, 1), 0); /* at 0, adjacent */
  ASM_EXPECT(&a, 0, 100);
  CHECK_EQ(mtcp_asm_front(&a), 100);
}

static void assembler_full_refuses_and_stays_unchanged(void) {
  struct asm_range mem[3];
  struct assembler a;
  mtcp_asm_init(&a, mem, 3);
  CHECK_EQ(mtcp_asm_add(&a, 10, 20), 0);
  CHECK_EQ(mtcp_asm_add(&a, 30, 40), 0);
  CHECK_EQ(mtcp_asm_add(&a, 50, 60), 0);
  uint16_t recent = a.recent;
  CHECK_EQ(mtcp_asm_add(&a, 70, 80), -1); /* new range after */
  CHECK_EQ(mtcp_asm_add(&a, 0, 5), -1);   /* new range before */
  CHECK_EQ(mtcp_asm_add(&a, 22, 28), -1); /* new range between */
  ASM_EXPECT(&a, 10, 20, 30, 40, 50, 60);
  CHECK_EQ(a.recent, recent);
  /* Merging still works when full. */
  CHECK_EQ(mtcp_asm_add(&a, 20, 30), 0);
  ASM_EXPECT(&a, 10, 40, 50, 60);
  CHECK_EQ(mtcp_asm_add(&a, 70, 80), 0);
  ASM_EXPECT(&a, 10, 40, 50, 60, 70, 80);
  /* A zero-capacity assembler refuses everything. */
  struct assembler z;
  mtcp_asm_init(&z, NULL, 0);
  CHECK_EQ(mtcp_asm_add(&z, 1, 2), -1);
  CHECK_EQ(z.count, 0);
}

static void assembler_shift_drops_trims_and_rebases(void) {
  struct asm_range mem[4];
  struct assembler a;
  mtcp_asm_init(&a, mem, 4);
  mtcp_asm_add(&a, 10, 20);
  mtcp_asm_add(&a, 30, 40);
  mtcp_asm_add(&a, 50, 60);
  mtcp_asm_shift(&a, 20); /* first range ends exactly at the edge: dropped */
  ASM_EXPECT(&a, 10, 20, 30, 40);
  mtcp_asm_shift(&a, 15); /* trims the first */
  ASM_EXPECT(&a, 0, 5, 15, 25);
  CHECK_EQ(mtcp_asm_front(&a), 5);
  mtcp_asm_shift(&a, 5);
  ASM_EXPECT(&a, 10, 20);
  mtcp_asm_shift(&a, 0);
  ASM_EXPECT(&a, 10, 20);
  mtcp_asm_shift(&a, 1000);
  CHECK_EQ(a.count, 0);
  CHECK_EQ(a.recent, ASM_NONE);
  mtcp_asm_add(&a, 3, 4);
  mtcp_asm_clear(&a);
  CHECK_EQ(a.count, 0);
  CHECK_EQ(mtcp_asm_front(&a), 0);
}

static void assembler_sack_blocks_report_most_recent_first(void) {
  struct asm_range mem[8];
  struct assembler a;
  mtcp_asm_init(&a, mem, 8);
  uint32_t l[4], r[4];
  CHECK_EQ(mtcp_asm_sack_blocks(&a, 1000, l, r, 4), 0);
  mtcp_asm_add(&a, 10, 20);
  mtcp_asm_add(&a, 50, 60);
  mtcp_asm_add(&a, 30, 40); /* most recent is the middle one */
  CHECK_EQ(mtcp_asm_sack_blocks(&a, 0xfffffff0u, l, r, 4), 3);
  CHECK_EQ(l[0], 0xfffffff0u + 30);
  CHECK_EQ(r[0], (uint32_t)(0xfffffff0u + 40));
  /* then the others, most recently touched first (RFC 2018 4) */
  CHECK_EQ(l[1], (uint32_t)(0xfffffff0u + 50)); /* wraps past 2^32 */
  CHECK_EQ(r[1], 44u); /* 0xfffffff0 + 60 mod 2^32 */
  CHECK_EQ(l[2], 0xfffffff0u + 10);
  CHECK_EQ(mtcp_asm_sack_blocks(&a, 0, l, r, 1), 1);
  CHECK_EQ(l[0], 30);
  mtcp_asm_add(&a, 58, 70); /* extends the last: it becomes recent */
  CHECK_EQ(mtcp_asm_sack_blocks(&a, 0, l, r, 4), 3);
  CHECK(l[0] == 50 && r[0] == 70 && l[1] == 30 && l[2] == 10);
  CHECK_EQ(mtcp_asm_sack_blocks(&a, 0, l, r, 2), 2); /* the oldest drops out */
  CHECK(l[0] == 50 && l[1] == 30);
  mtcp_asm_add(&a, 15, 35); /* merges the first two: recent index is the merged one */
  CHECK_EQ(mtcp_asm_sack_blocks(&a, 0, l, r, 4), 2);
  CHECK(l[0] == 10 && r[0] == 40 && l[1] == 50 && r[1] == 70);
  mtcp_asm_shift(&a, 45); /* the recent range is gone: plain ascending order */
  CHECK_EQ(mtcp_asm_sack_blocks(&a, 0, l, r, 4), 1);
  CHECK(l[0] == 5 && r[0] == 25);
}

/* Random adds and shifts against a bitmap; checks the invariants and that a
 * refused add leaves everything unchanged. */
static void assembler_random_ops_match_bitmap(void) {
  enum { SPACE = 300, MAXR = 5 };
  struct asm_range mem[MAXR];
  struct assembler a;
  mtcp_asm_init(&a, mem, MAXR);
  uint8_t bits[SPACE + 64] = {0};
  for (int step = 0; step < 100000; step++) {
    if (rnd(5) == 0) {
      uint32_t n = rnd(40);
      mtcp_asm_shift(&a, n);
      memmove(bits, bits + n, sizeof bits - n);
      memset(bits + sizeof bits - n, 0, n);
    } else {
      uint32_t s = rnd(SPACE), e = s + rnd(30);
      struct asm_range before[MAXR];
      uint16_t bc = a.count, br = a.recent;
      memcpy(before, a.r, sizeof before);
      int rc = mtcp_asm_add(&a, s, e);
      if (rc == 0) {
        memset(bits + s, 1, e - s);
        if (s < e) CHECK(a.recent < a.count && a.r[a.recent].start <= s && a.r[a.recent].end >= e);
      } else {
        CHECK_EQ(rc, -1);
        CHECK(a.count == bc && a.recent == br && memcmp(before, a.r, bc * sizeof before[0]) == 0);
        CHECK_EQ(bc, MAXR);
      }
    }
    /* Invariants and equality with the bitmap. */
    uint8_t rebuilt[SPACE + 64] = {0};
    for (uint16_t i = 0; i < a.count; i++) {
      CHECK(a.r[i].start < a.r[i].end);
      if (i) CHECK(a.r[i - 1].end < a.r[i].start); /* disjoint, not adjacent */
      for (uint32_t b = a.r[i].start; b < a.r[i].end && b < sizeof rebuilt; b++) rebuilt[b] = 1;
    }
    CHECK(memcmp(rebuilt, bits, sizeof bits) == 0);
    uint32_t front = 0;
    while (front < sizeof bits && bits[front]) front++;
    CHECK_EQ(mtcp_asm_front(&a), front);
    if (check_failures > 20) return;
  }
}

/* First copy wins against a bitmap model: random overlapping writes with a
 * distinct byte value each, at every head position (wrap-around); a byte once
 * held keeps its first value, conflicts are reported exactly when a held byte
 * would change. */
static void write_at_first_keeps_first_copy_random(void) {
  enum { CAP = 61 };
  for (uint32_t head = 0; head < CAP; head += 7) {
    static struct fixture f;
    fx_init(&f, MAXCH);
    struct ringbuf rb;
    uint8_t junk[CAP] = {0};
    mtcp_rb_init(&rb, &f.pool, f.tab[0], CAP);
    mtcp_rb_write(&rb, junk, head);
    mtcp_rb_drop(&rb, head);
    struct asm_range r[64];
    struct assembler a;
    mtcp_asm_init(&a, r, 64);
    uint8_t model[CAP];
    bool held[CAP] = {false};
    for (int op = 0; op < 40; op++) {
      uint32_t off = rnd(CAP), n = 1 + rnd(12);
      uint8_t src[16];
      uint8_t v = (uint8_t)(op * 5 + 1);
      for (uint32_t i = 0; i < n; i++) src[i] = (uint8_t)(v + (rnd(3) == 0)); /* some bytes equal */
      bool expect_conflict = false;
      uint32_t fit = off + n > CAP ? CAP - off : n;
      for (uint32_t i = 0; i < fit; i++) {
        if (held[off + i]) expect_conflict |= model[off + i] != src[i];
        else {
          model[off + i] = src[i];
          held[off + i] = true;
        }
      }
      bool conflict = true;
      CHECK_EQ(mtcp_rb_write_at_first(&rb, &a, off, src, n, &conflict), fit);
      CHECK_EQ(conflict, expect_conflict);
      mtcp_asm_add(&a, off, off + fit);
    }
    for (uint32_t i = 0; i < CAP; i++) {
      if (!held[i]) continue;
      uint8_t b;
      mtcp_rb_commit(&rb, CAP);
      mtcp_rb_peek(&rb, i, &b, 1);
      rb.len = 0;
      CHECK_EQ(b, model[i]);
    }
  }
}

int main(void) {
  RUN(seq_compare_wraps_around_2_32);
  RUN(ringbuf_wraparound_at_every_head_position);
  RUN(ringbuf_write_at_then_commit_fills_gap);
  RUN(ringbuf_write_at_clips_to_capacity);
  RUN(ringbuf_ooo_bytes_survive_drain_to_empty);
  RUN(ringbuf_zero_capacity_holds_nothing);
  RUN(ringbuf_random_ops_match_linear_model);
  RUN(pool_exhaustion_and_reservations);
  RUN(assembler_merges_adjacent_overlapping_and_covering);
  RUN(assembler_full_refuses_and_stays_unchanged);
  RUN(assembler_shift_drops_trims_and_rebases);
  RUN(assembler_sack_blocks_report_most_recent_first);
  RUN(assembler_random_ops_match_bitmap);
  RUN(write_at_first_keeps_first_copy_random);
  return check_report();
}
