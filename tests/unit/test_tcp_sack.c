/* Unit tests for core/src/tcp_sack.c: SACK scoreboard and RFC 6675 queries. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "../../sim/prng.h"
#include "tcp_buf.h"
#include "tcp_sack.h"

static uint64_t rng_state = 0x243f6a8885a308d3ull;
static uint32_t rnd(uint32_t n) {
  uint32_t r = prng_xorshift64s(&rng_state);
  return n ? r % n : 0;
}

static uint32_t upd1(struct sack_board *sb, uint32_t una, uint32_t nxt, uint32_t l, uint32_t r) {
  return mtcp_sb_update(sb, una, nxt, &l, &r, 1);
}

static void sack_blocks_outside_window_or_malformed_are_ignored(void) {
  struct sack_board sb;
  mtcp_sb_clear(&sb);
  uint32_t una = 0xfffff000u, nxt = una + 10000; /* window wraps past 2^32 */
  CHECK_EQ(upd1(&sb, una, nxt, una + 100, una + 100), 0);     /* empty */
  CHECK_EQ(upd1(&sb, una, nxt, una + 200, una + 100), 0);     /* inverted */
  CHECK_EQ(upd1(&sb, una, nxt, una - 500, una - 100), 0);     /* D-SACK below snd_una */
  CHECK_EQ(upd1(&sb, una, nxt, una - 100, una + 100), 0);     /* straddles snd_una */
  CHECK_EQ(upd1(&sb, una, nxt, una, una + 100), 0);           /* starts at snd_una */
  CHECK_EQ(upd1(&sb, una, nxt, una + 9000, nxt + 1), 0);      /* beyond snd_nxt */
  CHECK_EQ(upd1(&sb, una, nxt, nxt + 5, nxt + 10), 0);        /* entirely beyond */
  CHECK_EQ(upd1(&sb, una, nxt, una + 0x80000000u, una + 1), 0); /* wrapped garbage */
  CHECK_EQ(upd1(&sb, una, nxt, 0, 0xffffffffu), 0);
  CHECK_EQ(sb.count, 0);
  CHECK(!sb.valid);
  CHECK_EQ(upd1(&sb, una, nxt, una + 9000, nxt), 1000); /* right == snd_nxt is fine */
  CHECK_EQ(sb.count, 1);
  CHECK(sb.valid);
  CHECK_EQ(sb.high_sacked, nxt);
  /* An empty window accepts nothing. */
  struct sack_board e;
  mtcp_sb_clear(&e);
  CHECK_EQ(upd1(&e, 5, 5, 6, 7), 0);
  CHECK_EQ(e.count, 0);
}

static void sack_blocks_merge_and_count_new_bytes(void) {
  struct sack_board sb;
  mtcp_sb_clear(&sb);
  uint32_t una = 1000, nxt = 20000;
  uint32_t l[4] = {3000, 5000, 4000, 7000}, r[4] = {4000, 6000, 5000, 7500};
  CHECK_EQ(mtcp_sb_update(&sb, una, nxt, l, r, 4), 3500); /* 3000..6000 contiguous + 7000..7500 */
  CHECK_EQ(sb.count, 2);
  CHECK(sb.blk[0].left == 3000 && sb.blk[0].right == 6000);
  CHECK(sb.blk[1].left == 7000 && sb.blk[1].right == 7500);
  CHECK_EQ(mtcp_sb_sacked_bytes(&sb), 3500);
  CHECK_EQ(upd1(&sb, una, nxt, 3500, 7200), 1000); /* fills the hole 6000..7000 */
  CHECK_EQ(sb.count, 1);
  CHECK_EQ(upd1(&sb, una, nxt, 3500, 7200), 0); /* repeated block: nothing new */
  CHECK(mtcp_sb_is_sacked(&sb, 3000) && mtcp_sb_is_sacked(&sb, 7499));
  CHECK(!mtcp_sb_is_sacked(&sb, 2999) && !mtcp_sb_is_sacked(&sb, 7500));
  CHECK_EQ(mtcp_sb_sacked_above(&sb, 0), 4500);
  CHECK_EQ(mtcp_sb_sacked_above(&sb, 7000), 500);
  CHECK_EQ(mtcp_sb_sacked_above(&sb, 7500), 0);
}

static void sack_board_full_drops_highest_range(void) {
  struct sack_board sb;
  mtcp_sb_clear(&sb);
  uint32_t una = 0, nxt = 100000;
  for (uint32_t i = 0; i < SACK_BOARD_MAX; i++) CHECK_EQ(upd1(&sb, una, nxt, 1000 + i * 1000, 1500 + i * 1000), 500);
  CHECK_EQ(sb.count, SACK_BOARD_MAX);
  CHECK_EQ(sb.high_sacked, 1500 + 7 * 1000);
  /* A new highest range is dropped itself. */
  CHECK_EQ(upd1(&sb, una, nxt, 50000, 51000), 0);
  CHECK_EQ(sb.count, SACK_BOARD_MAX);
  CHECK(!mtcp_sb_is_sacked(&sb, 50000));
  /* A new lower range pushes out the current highest (8000..8500). */
  CHECK_EQ(upd1(&sb, una, nxt, 100, 200), 0); /* +100 new, -500 dropped: reported as 0 */
  CHECK(mtcp_sb_is_sacked(&sb, 150));
  CHECK(!mtcp_sb_is_sacked(&sb, 8000));
  CHECK_EQ(sb.high_sacked, 7500);
  /* Many garbage-or-not blocks in one call stay bounded. */
  uint32_t l[255], r[255];
  for (int i = 0; i < 255; i++) {
    l[i] = (uint32_t)(10 + 37 * i);
    r[i] = l[i] + 3;
  }
  mtcp_sb_update(&sb, una, nxt, l, r, 255);
  CHECK(sb.count <= SACK_BOARD_MAX);
}

static void sack_advance_forgets_below_snd_una(void) {
  struct sack_board sb;
  mtcp_sb_clear(&sb);
  uint32_t l[2] = {2000, 5000}, r[2] = {3000, 6000};
  mtcp_sb_update(&sb, 1000, 10000, l, r, 2);
  mtcp_sb_advance(&sb, 2500); /* trims the first */
  CHECK_EQ(sb.count, 2);
  CHECK(sb.blk[0].left == 2500 && sb.blk[0].right == 3000);
  CHECK_EQ(mtcp_sb_sacked_bytes(&sb), 1500);
  mtcp_sb_advance(&sb, 3000); /* exactly the end: dropped */
  CHECK_EQ(sb.count, 1);
  CHECK_EQ(sb.high_sacked, 6000);
  mtcp_sb_advance(&sb, 7000);
  CHECK_EQ(sb.count, 0);
  CHECK(!sb.valid);
  /* mtcp_sb_update with a newer snd_una trims stale ranges itself. */
  mtcp_sb_update(&sb, 1000, 10000, l, r, 2);
  CHECK_EQ(upd1(&sb, 5500, 10000, 7000, 8000), 1000);
  CHECK_EQ(sb.count, 2);
  CHECK(sb.blk[0].left == 5500 && sb.blk[0].right == 6000);
}

static void is_lost_needs_three_segments_or_more_than_two_mss(void) {
  struct sack_board sb;
  mtcp_sb_clear(&sb);
  const uint32_t mss = 1000;
  /* Two full segments SACKed above 1000: exactly 2*mss bytes, not "more than". */
  upd1(&sb, 1000, 100000, 2000, 4000);
  CHECK(!mtcp_sb_is_lost(&sb, 1000, mss));
  upd1(&sb, 1000, 100000, 4000, 4001); /* one more byte */
  CHECK(mtcp_sb_is_lost(&sb, 1000, mss));
  CHECK(!mtcp_sb_is_lost(&sb, 4001, mss));
  /* Three small discontiguous SACKed segments count as DupThresh segments. */
  mtcp_sb_clear(&sb);
  upd1(&sb, 0, 100000, 2000, 2100);
  upd1(&sb, 0, 100000, 3000, 3100);
  CHECK(!mtcp_sb_is_lost(&sb, 1000, mss));
  upd1(&sb, 0, 100000, 4000, 4100);
  CHECK(mtcp_sb_is_lost(&sb, 1000, mss));
  CHECK(!mtcp_sb_is_lost(&sb, 2500, mss)); /* only two above */
  /* mss 0 does not divide by zero. */
  CHECK(mtcp_sb_is_lost(&sb, 1000, 0));
}

/* A worked example from RFC 6675's definitions (section 4, IsLost/SetPipe/
 * NextSeg), mss 1000, ten segments S0..S9 = [1000 + 1000i, 2000 + 1000i):
 *   SACKed: S2 S3 S4 (one block) and S6.  Retransmitted: S0 (HighRxt = 2000).
 *   IsLost: S0, S1 (4000 bytes SACKed above > 2000); S5 not (1000 bytes,
 *           one segment above); S7..S9 not (nothing above).
 *   SetPipe: S0 lost but retransmitted   +1000
 *            S1 lost, not retransmitted      0
 *            S5 not lost                 +1000
 *            S7, S8, S9 not lost         +3000   => pipe = 5000
 *   NextSeg from HighRxt: S1. */
static void pipe_and_next_lost_match_rfc6675_worked_example(void) {
  struct sack_board sb;
  mtcp_sb_clear(&sb);
  uint32_t l[2] = {3000, 7000}, r[2] = {6000, 8000};
  const uint32_t una = 1000, nxt = 11000, mss = 1000;
  CHECK_EQ(mtcp_sb_update(&sb, una, nxt, l, r, 2), 4000);
  CHECK(mtcp_sb_is_lost(&sb, 1000, mss) && mtcp_sb_is_lost(&sb, 2000, mss));
  CHECK(!mtcp_sb_is_lost(&sb, 6000, mss) && !mtcp_sb_is_lost(&sb, 8000, mss));
  CHECK_EQ(mtcp_sb_pipe(&sb, una, nxt, 2000, mss), 5000);
  CHECK_EQ(mtcp_sb_pipe(&sb, una, nxt, una, mss), 4000);  /* nothing retransmitted */
  CHECK_EQ(mtcp_sb_pipe(&sb, una, nxt, 3000, mss), 6000); /* S0, S1 retransmitted */
  uint32_t seq = 0, len = 0;
  CHECK(mtcp_sb_next_lost(&sb, 2000, una, mss, &seq, &len));
  CHECK_EQ(seq, 2000);
  CHECK_EQ(len, 1000);
  CHECK(mtcp_sb_next_lost(&sb, 0, una, mss, &seq, &len)); /* from below snd_una */
  CHECK_EQ(seq, 1000);
  CHECK(mtcp_sb_next_lost(&sb, 2500, una, 400, &seq, &len)); /* clipped at the SACKed block */
  CHECK_EQ(seq, 2500);
  CHECK_EQ(len, 400);
  CHECK(mtcp_sb_next_lost(&sb, 2800, una, 1000, &seq, &len));
  CHECK_EQ(len, 200);
  seq = 77;
  CHECK(!mtcp_sb_next_lost(&sb, 3000, una, mss, &seq, &len)); /* S5 is not lost, S7+ above high_sacked */
  CHECK_EQ(seq, 77);
  /* The same example wrapped around 2^32. */
  uint32_t base = 0xffffe000u - 1000;
  struct sack_board w;
  mtcp_sb_clear(&w);
  uint32_t wl[2] = {base + 3000, base + 7000}, wr[2] = {base + 6000, base + 8000};
  CHECK_EQ(mtcp_sb_update(&w, base + una, base + nxt, wl, wr, 2), 4000);
  CHECK_EQ(mtcp_sb_pipe(&w, base + una, base + nxt, base + 2000, mss), 5000);
  CHECK(mtcp_sb_next_lost(&w, base + 2000, base + una, mss, &seq, &len));
  CHECK_EQ(seq, base + 2000);
  /* Empty window, empty board. */
  CHECK_EQ(mtcp_sb_pipe(&w, 5, 5, 5, mss), 0);
  mtcp_sb_clear(&w);
  CHECK_EQ(mtcp_sb_pipe(&w, 100, 1100, 100, mss), 1000);
  CHECK(!mtcp_sb_next_lost(&w, 100, 100, mss, &seq, &len));
}

/* ---- Random operations against a bitmap reference model ---- */

enum { WIN = 400 };
struct model {
  uint32_t una, nxt;
  uint8_t sacked[WIN]; /* byte una+i SACKed */
};

static uint32_t m_runs(const struct model *m, uint32_t *top_start) {
  uint32_t runs = 0, n = m->nxt - m->una;
  for (uint32_t i = 0; i < n; i++)
    if (m->sacked[i] && (i == 0 || !m->sacked[i - 1])) {
      runs++;
      *top_start = i;
    }
  return runs;
}

static uint32_t m_total(const struct model *m) {
  uint32_t t = 0;
  for (uint32_t i = 0; i < m->nxt - m->una; i++) t += m->sacked[i];
  return t;
}

static void m_update(struct model *m, uint32_t l, uint32_t r) {
  uint32_t lo = l - m->una, hi = r - m->una, win = m->nxt - m->una;
  if (lo == 0 || lo >= hi || hi > win) return;
  memset(m->sacked + lo, 1, hi - lo);
  uint32_t top = 0;
  if (m_runs(m, &top) > SACK_BOARD_MAX) /* drop the highest run */
    for (uint32_t i = top; i < win && m->sacked[i]; i++) m->sacked[i] = 0;
}

/* Bytes SACKed at or above offset o, and the ceil(run/mss) segment estimate. */
static int m_is_lost(const struct model *m, uint32_t o, uint32_t mss) {
  uint32_t win = m->nxt - m->una, bytes = 0, segs = 0, run = 0;
  for (uint32_t i = o; i <= win; i++) {
    if (i < win && m->sacked[i]) {
      run++;
    } else if (run) {
      bytes += run;
      segs += (run + mss - 1) / mss;
      run = 0;
    }
  }
  return segs >= 3 || bytes > 2 * mss;
}

static void sack_board_random_ops_match_bitmap_model(void) {
  for (int trial = 0; trial < 300; trial++) {
    struct model m;
    memset(&m, 0, sizeof m);
    m.una = rnd(2) ? 0xffffffffu - rnd(WIN) : rnd(1000000);
    m.nxt = m.una + rnd(WIN / 2);
    struct sack_board sb;
    mtcp_sb_clear(&sb);
    uint32_t high_rxt = m.una;
    for (int step = 0; step < 60; step++) {
      uint32_t mss = 1 + rnd(60);
      switch (rnd(4)) {
      case 0: { /* send more */
        uint32_t add = rnd(40);
        if (m.nxt - m.una + add <= WIN) m.nxt += add;
        break;
      }
      case 1: { /* ACK advances */
        uint32_t adv = rnd(m.nxt - m.una + 1) / 2;
        memmove(m.sacked, m.sacked + adv, WIN - adv);
        memset(m.sacked + WIN - adv, 0, adv);
        m.una += adv;
        mtcp_sb_advance(&sb, m.una);
        if (seq_lt(high_rxt, m.una)) high_rxt = m.una;
        break;
      }
      default: { /* an ACK with up to 4 blocks, some garbage */
        uint32_t l[4], r[4];
        uint8_t n = (uint8_t)rnd(5);
        uint32_t win = m.nxt - m.una;
        for (uint8_t i = 0; i < n; i++) {
          uint32_t a = rnd(win + 20), b = a + rnd(50);
          l[i] = m.una + a - (rnd(8) == 0 ? 30 : 0);
          r[i] = m.una + b;
          if (rnd(10) == 0) l[i] = rnd(0xffffffffu);
        }
        uint32_t before = m_total(&m);
        for (uint8_t i = 0; i < n; i++) m_update(&m, l[i], r[i]);
        uint32_t after = m_total(&m);
        CHECK_EQ(mtcp_sb_update(&sb, m.una, m.nxt, l, r, n), after > before ? after - before : 0);
        break;
      }
      }
      if (rnd(3) == 0) high_rxt = m.una + rnd(m.nxt - m.una + 1);

      /* Compare every query. */
      uint32_t win = m.nxt - m.una;
      CHECK(sb.count <= SACK_BOARD_MAX);
      CHECK_EQ(mtcp_sb_sacked_bytes(&sb), m_total(&m));
      uint32_t top = 0, high = 0;
      for (uint32_t i = 0; i < win; i++)
        if (m.sacked[i]) high = i + 1;
      CHECK_EQ(sb.count, m_runs(&m, &top));
      CHECK_EQ(sb.valid, high != 0);
      if (high) CHECK_EQ(sb.high_sacked, m.una + high);
      uint32_t above = m_total(&m);
      for (uint32_t i = 0; i <= win; i++) {
        CHECK_EQ(mtcp_sb_is_sacked(&sb, m.una + i), i < win && m.sacked[i]);
        CHECK_EQ(mtcp_sb_sacked_above(&sb, m.una + i), above);
        if (i < win && !m.sacked[i]) CHECK_EQ(mtcp_sb_is_lost(&sb, m.una + i, mss), m_is_lost(&m, i, mss));
        if (i < win) above -= m.sacked[i];
      }
      /* SetPipe, per octet as RFC 6675 section 4 writes it. */
      uint32_t pipe = 0, rxt = high_rxt - m.una;
      for (uint32_t i = 0; i < win; i++) {
        if (m.sacked[i]) continue;
        if (!m_is_lost(&m, i, mss)) pipe++;
        if (i < rxt) pipe++;
      }
      CHECK_EQ(mtcp_sb_pipe(&sb, m.una, m.nxt, high_rxt, mss), pipe);
      /* NextSeg rule (1) from a random starting point. */
      uint32_t from = m.una + rnd(win + 1), want = 0, wlen = 0;
      int found = 0;
      for (uint32_t i = from - m.una; i < high && !found; i++) {
        if (!m.sacked[i] && m_is_lost(&m, i, mss)) {
          found = 1;
          want = m.una + i;
          while (wlen < mss && !m.sacked[i + wlen]) wlen++;
        }
      }
      uint32_t seq = 0, len = 0;
      CHECK_EQ(mtcp_sb_next_lost(&sb, from, m.una, mss, &seq, &len), found);
      if (found) {
        CHECK_EQ(seq, want);
        CHECK_EQ(len, wlen);
      }
      if (check_failures > 20) {
        fprintf(stderr, "  trial %d step %d una %u nxt %u\n", trial, step, m.una, m.nxt);
        return;
      }
    }
  }
}

int main(void) {
  RUN(sack_blocks_outside_window_or_malformed_are_ignored);
  RUN(sack_blocks_merge_and_count_new_bytes);
  RUN(sack_board_full_drops_highest_range);
  RUN(sack_advance_forgets_below_snd_una);
  RUN(is_lost_needs_three_segments_or_more_than_two_mss);
  RUN(pipe_and_next_lost_match_rfc6675_worked_example);
  RUN(sack_board_random_ops_match_bitmap_model);
  return check_report();
}
