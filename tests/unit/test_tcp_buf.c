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

/* For every head position, fill/drain and compare with what was written. */
static void ringbuf_wraparound_at_every_head_position(void) {
  enum { CAP = 17 };
  uint8_t mem[CAP], src[CAP], dst[CAP];
  for (uint32_t h = 0; h < CAP; h++) {
    for (uint32_t n = 0; n <= CAP; n++) {
      struct ringbuf rb;
      mtcp_rb_init(&rb, mem, CAP);
      memset(mem, 0xee, sizeof mem);
      CHECK_EQ(mtcp_rb_write(&rb, src, h), h); /* move head to h */
      CHECK_EQ(mtcp_rb_read(&rb, NULL, h), h);
      CHECK_EQ(rb.head, h == CAP ? 0 : h);
      for (uint32_t i = 0; i < CAP; i++) src[i] = (uint8_t)(h * 31 + n * 7 + i);
      CHECK_EQ(mtcp_rb_free(&rb), CAP);
      CHECK_EQ(mtcp_rb_write(&rb, src, n), n);
      CHECK_EQ(rb.len, n);
      CHECK_EQ(mtcp_rb_free(&rb), CAP - n);
      /* Peek every sub-range. */
      for (uint32_t off = 0; off <= n; off++) {
        memset(dst, 0, sizeof dst);
        uint32_t got = mtcp_rb_peek(&rb, off, dst, CAP);
        CHECK_EQ(got, n - off);
        CHECK(memcmp(dst, src + off, got) == 0);
        /* Spans describe the same bytes. */
        const uint8_t *p1, *p2;
        uint32_t n1, n2;
        uint32_t tot = mtcp_rb_spans(&rb, off, CAP, &p1, &n1, &p2, &n2);
        CHECK_EQ(tot, n - off);
        CHECK_EQ(n1 + n2, tot);
        if (n1) CHECK(memcmp(p1, src + off, n1) == 0);
        if (n2) CHECK(memcmp(p2, src + off + n1, n2) == 0);
        if (!n2) CHECK(p2 == NULL);
        /* The first span ends at the end of memory if there is a second. */
        if (n2) CHECK(p1 + n1 == mem + CAP && p2 == mem);
      }
      /* A write beyond the free space is clipped. */
      CHECK_EQ(mtcp_rb_write(&rb, src, CAP), CAP - n);
      CHECK_EQ(rb.len, CAP);
      CHECK_EQ(mtcp_rb_read(&rb, dst, CAP + 5), CAP);
      CHECK(memcmp(dst, src, n) == 0);
      CHECK(memcmp(dst + n, src, CAP - n) == 0);
      CHECK_EQ(rb.len, 0);
    }
  }
}

static void ringbuf_write_at_then_commit_fills_gap(void) {
  enum { CAP = 10 };
  uint8_t mem[CAP], out[CAP];
  for (uint32_t h = 0; h < CAP; h++) {
    struct ringbuf rb;
    mtcp_rb_init(&rb, mem, CAP);
    mtcp_rb_write(&rb, "xxxxxxxxxx", h);
    mtcp_rb_drop(&rb, h);
    CHECK_EQ(mtcp_rb_write(&rb, "AB", 2), 2);
    /* Out-of-order "EFG" at offset 2 beyond len (logical 4..6). */
    CHECK_EQ(mtcp_rb_write_at(&rb, 2, "EFG", 3), 3);
    CHECK_EQ(rb.len, 2);
    CHECK_EQ(mtcp_rb_peek(&rb, 0, out, CAP), 2); /* not yet visible */
    /* The gap "CD" arrives in order, then everything is committed. */
    CHECK_EQ(mtcp_rb_write_at(&rb, 0, "CD", 2), 2);
    mtcp_rb_commit(&rb, 2 + 3);
    CHECK_EQ(rb.len, 7);
    CHECK_EQ(mtcp_rb_read(&rb, out, CAP), 7);
    CHECK(memcmp(out, "ABCDEFG", 7) == 0);
  }
}

static void ringbuf_write_at_clips_to_capacity(void) {
  uint8_t mem[8];
  struct ringbuf rb;
  mtcp_rb_init(&rb, mem, 8);
  mtcp_rb_write(&rb, "abc", 3);                    /* 5 free */
  CHECK_EQ(mtcp_rb_write_at(&rb, 3, "0123", 4), 2); /* only offsets 3,4 fit */
  CHECK_EQ(mtcp_rb_write_at(&rb, 5, "0", 1), 0);    /* len+5 == cap */
  CHECK_EQ(mtcp_rb_write_at(&rb, 0xffffffffu, "0", 1), 0);
  mtcp_rb_commit(&rb, 100); /* clipped to cap */
  CHECK_EQ(rb.len, 8);
  mtcp_rb_drop(&rb, 100); /* clipped to len */
  CHECK_EQ(rb.len, 0);
  CHECK_EQ(mtcp_rb_peek(&rb, 0, mem, 1), 0);
}

/* Out-of-order bytes beyond len survive the application draining the buffer
 * to empty (head must not be reset). */
static void ringbuf_ooo_bytes_survive_drain_to_empty(void) {
  uint8_t mem[8], out[8];
  struct ringbuf rb;
  mtcp_rb_init(&rb, mem, 8);
  mtcp_rb_write(&rb, "abc", 3);
  CHECK_EQ(mtcp_rb_write_at(&rb, 1, "Z", 1), 1);
  CHECK_EQ(mtcp_rb_read(&rb, out, 3), 3);
  CHECK_EQ(mtcp_rb_write_at(&rb, 0, "Y", 1), 1);
  mtcp_rb_commit(&rb, 2);
  CHECK_EQ(mtcp_rb_read(&rb, out, 8), 2);
  CHECK(memcmp(out, "YZ", 2) == 0);
}

static void ringbuf_zero_capacity_holds_nothing(void) {
  struct ringbuf rb;
  mtcp_rb_init(&rb, NULL, 0);
  CHECK_EQ(mtcp_rb_free(&rb), 0);
  CHECK_EQ(mtcp_rb_write(&rb, "a", 1), 0);
  CHECK_EQ(mtcp_rb_write_at(&rb, 0, "a", 1), 0);
  const uint8_t *p1, *p2;
  uint32_t n1, n2;
  CHECK_EQ(mtcp_rb_spans(&rb, 0, 5, &p1, &n1, &p2, &n2), 0);
}

/* Random operations against a flat model of the logical byte stream. */
static void ringbuf_random_ops_match_linear_model(void) {
  enum { CAP = 23 };
  uint8_t mem[CAP], model[4096], tmp[64], tmp2[64];
  uint32_t mlen = 0;         /* model: model[0..mlen) buffered, model[mlen..) ooo area */
  uint8_t ooo_valid[64] = {0}; /* model of stored-but-uncommitted bytes (offset from len) */
  struct ringbuf rb;
  mtcp_rb_init(&rb, mem, CAP);
  for (int step = 0; step < 200000; step++) {
    uint32_t op = rnd(6), n = rnd(CAP + 3), off = rnd(CAP + 2);
    for (uint32_t i = 0; i < sizeof tmp; i++) tmp[i] = (uint8_t)rnd(256);
    switch (op) {
    case 0: { /* write */
      uint32_t w = mtcp_rb_write(&rb, tmp, n);
      CHECK_EQ(w, n < CAP - mlen ? n : CAP - mlen);
      memcpy(model + mlen, tmp, w);
      /* Appended bytes overwrite the ooo area; shift validity. */
      memmove(ooo_valid, ooo_valid + w, sizeof ooo_valid - w);
      memset(ooo_valid + sizeof ooo_valid - w, 0, w);
      mlen += w;
      break;
    }
    case 1: { /* read */
      uint32_t r = mtcp_rb_read(&rb, tmp2, n);
      CHECK_EQ(r, n < mlen ? n : mlen);
      CHECK(memcmp(tmp2, model, r) == 0);
      memmove(model, model + r, mlen - r + CAP);
      mlen -= r;
      break;
    }
    case 2: { /* peek */
      uint32_t r = mtcp_rb_peek(&rb, off, tmp2, n);
      uint32_t want = off >= mlen ? 0 : (n < mlen - off ? n : mlen - off);
      CHECK_EQ(r, want);
      CHECK(memcmp(tmp2, model + off, r) == 0);
      break;
    }
    case 3: { /* write_at */
      uint32_t w = mtcp_rb_write_at(&rb, off, tmp, n);
      uint32_t room = CAP - mlen;
      uint32_t want = off >= room ? 0 : (n < room - off ? n : room - off);
      CHECK_EQ(w, want);
      memcpy(model + mlen + off, tmp, w);
      memset(ooo_valid + off, 1, w);
      break;
    }
    case 4: { /* commit only bytes that were stored (as the TCP code does) */
      uint32_t c = 0;
      while (c < n && ooo_valid[c]) c++;
      mtcp_rb_commit(&rb, c);
      memmove(ooo_valid, ooo_valid + c, sizeof ooo_valid - c);
      memset(ooo_valid + sizeof ooo_valid - c, 0, c);
      mlen += c;
      break;
    }
    case 5: { /* spans */
      const uint8_t *p1, *p2;
      uint32_t n1, n2;
      uint32_t t = mtcp_rb_spans(&rb, off, n, &p1, &n1, &p2, &n2);
      uint32_t want = off >= mlen ? 0 : (n < mlen - off ? n : mlen - off);
      CHECK_EQ(t, want);
      if (n1) CHECK(memcmp(p1, model + off, n1) == 0);
      if (n2) CHECK(memcmp(p2, model + off + n1, n2) == 0);
      break;
    }
    }
    CHECK_EQ(rb.len, mlen);
    CHECK(rb.head < CAP);
    if (check_failures > 20) return;
  }
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
    uint8_t mem[CAP];
    struct ringbuf rb;
    mtcp_rb_init(&rb, mem, CAP);
    rb.head = head;
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
  RUN(assembler_merges_adjacent_overlapping_and_covering);
  RUN(assembler_full_refuses_and_stays_unchanged);
  RUN(assembler_shift_drops_trims_and_rebases);
  RUN(assembler_sack_blocks_report_most_recent_first);
  RUN(assembler_random_ops_match_bitmap);
  RUN(write_at_first_keeps_first_copy_random);
  return check_report();
}
