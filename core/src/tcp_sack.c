/* Sender-side SACK scoreboard and RFC 6675 queries (contracts in tcp_sack.h). */
#include "tcp_sack.h"

#include "invariant.h"
#include "tcp_buf.h"

/* A range as offsets from snd_una while merging. */
struct span {
  uint32_t lo, hi;
};

static void sb_set_high(struct sack_board *sb) {
  /* Bounded, sorted, disjoint and non-adjacent (tcp_sack.h). */
  MICROTCP_ASSERT(sb->count <= SACK_BOARD_MAX);
  for (uint8_t i = 0; i < sb->count; i++) {
    MICROTCP_ASSERT(seq_lt(sb->blk[i].left, sb->blk[i].right));
    MICROTCP_ASSERT(i == 0 || seq_lt(sb->blk[i - 1].right, sb->blk[i].left));
  }
  sb->valid = sb->count > 0;
  sb->high_sacked = sb->valid ? sb->blk[sb->count - 1].right : 0;
}

void mtcp_sb_clear(struct sack_board *sb) {
  sb->count = 0;
  sb->high_sacked = 0;
  sb->valid = false;
}

/* Insert [lo,hi) into the sorted, disjoint, non-adjacent spans s[0..*n),
 * merging overlapping and touching spans. With no room for a new span the
 * highest one is dropped (the new one itself if it is the highest). */
static void span_insert(struct span *s, uint8_t *n, uint32_t lo, uint32_t hi) {
  uint8_t first = 0;
  while (first < *n && s[first].hi < lo) first++;
  uint8_t last = first;
  while (last < *n && s[last].lo <= hi) last++;
  if (first == last) {
    if (*n == SACK_BOARD_MAX) {
      if (first == *n) return; /* new span is the highest: drop it */
      (*n)--;                  /* drop the current highest to make room */
    }
    for (uint8_t i = *n; i > first; i--) s[i] = s[i - 1];
    s[first].lo = lo;
    s[first].hi = hi;
    (*n)++;
    return;
  }
  if (s[first].lo < lo) lo = s[first].lo;
  if (s[last - 1].hi > hi) hi = s[last - 1].hi;
  s[first].lo = lo;
  s[first].hi = hi;
  uint8_t gone = (uint8_t)(last - first - 1);
  for (uint8_t i = (uint8_t)(first + 1); i + gone < *n; i++) s[i] = s[i + gone];
  *n = (uint8_t)(*n - gone);
}

uint32_t mtcp_sb_update(struct sack_board *sb, uint32_t snd_una, uint32_t snd_nxt,
                   const uint32_t left[], const uint32_t right[], uint8_t n) {
  uint32_t win = snd_nxt - snd_una;
  if (!seq_le(snd_una, snd_nxt)) win = 0;

  /* Rebase the current board on snd_una, trimming anything now outside
   * [snd_una, snd_nxt) (the caller may not have called mtcp_sb_advance yet). */
  struct span s[SACK_BOARD_MAX];
  uint8_t cnt = 0;
  uint32_t before = 0;
  for (uint8_t i = 0; i < sb->count; i++) {
    uint32_t lo = seq_lt(sb->blk[i].left, snd_una) ? 0 : sb->blk[i].left - snd_una;
    uint32_t hi = seq_lt(sb->blk[i].right, snd_una) ? 0 : sb->blk[i].right - snd_una;
    if (hi > win) hi = win;
    if (lo < hi) {
      s[cnt++] = (struct span){lo, hi};
      before += hi - lo;
    }
  }

  for (uint8_t i = 0; i < n; i++) {
    /* RFC 2018 / 2883: accept only snd_una < left < right <= snd_nxt. In
     * offsets from snd_una that is 0 < lo < hi <= win, which also rejects
     * D-SACK blocks and anything wrapped around the sequence space. */
    uint32_t lo = left[i] - snd_una, hi = right[i] - snd_una;
    if (lo == 0 || lo >= hi || hi > win) continue;
    span_insert(s, &cnt, lo, hi);
    MICROTCP_ASSERT(cnt <= SACK_BOARD_MAX);
  }

  uint32_t after = 0;
  for (uint8_t i = 0; i < cnt; i++) {
    MICROTCP_ASSERT(s[i].lo < s[i].hi && s[i].hi <= win); /* inside [snd_una, snd_nxt] */
    sb->blk[i].left = snd_una + s[i].lo;
    sb->blk[i].right = snd_una + s[i].hi;
    after += s[i].hi - s[i].lo;
  }
  sb->count = cnt;
  sb_set_high(sb);
  return after > before ? after - before : 0;
}

void mtcp_sb_advance(struct sack_board *sb, uint32_t snd_una) {
  uint8_t k = 0;
  for (uint8_t i = 0; i < sb->count; i++) {
    if (seq_le(sb->blk[i].right, snd_una)) continue;
    sb->blk[k].left = seq_max(sb->blk[i].left, snd_una);
    sb->blk[k].right = sb->blk[i].right;
    k++;
  }
  sb->count = k;
  sb_set_high(sb);
}

bool mtcp_sb_is_sacked(const struct sack_board *sb, uint32_t seq) {
  for (uint8_t i = 0; i < sb->count; i++)
    if (seq_ge(seq, sb->blk[i].left) && seq_lt(seq, sb->blk[i].right)) return true;
  return false;
}

uint32_t mtcp_sb_sacked_bytes(const struct sack_board *sb) {
  uint32_t total = 0;
  for (uint8_t i = 0; i < sb->count; i++) total += sb->blk[i].right - sb->blk[i].left;
  return total;
}

uint32_t mtcp_sb_sacked_above(const struct sack_board *sb, uint32_t seq) {
  uint32_t total = 0;
  for (uint8_t i = 0; i < sb->count; i++) {
    if (seq_le(sb->blk[i].right, seq)) continue;
    total += sb->blk[i].right - seq_max(sb->blk[i].left, seq);
  }
  return total;
}

bool mtcp_sb_is_lost(const struct sack_board *sb, uint32_t seq, uint32_t mss) {
  if (mss == 0) mss = 1;
  uint64_t bytes = 0, segs = 0;
  for (uint8_t i = 0; i < sb->count; i++) {
    if (seq_le(sb->blk[i].right, seq)) continue;
    uint32_t b = sb->blk[i].right - seq_max(sb->blk[i].left, seq);
    bytes += b;
    segs += (b + (uint64_t)mss - 1) / mss; /* a range of b bytes holds >= ceil(b/mss) segments */
  }
  /* RFC 6675 4 IsLost(): DupThresh discontiguous SACKed segments, or more
   * than (DupThresh - 1) * SMSS bytes SACKed above seq. */
  return segs >= SACK_DUPTHRESH || bytes > (uint64_t)(SACK_DUPTHRESH - 1) * mss;
}

/* The first unSACKed byte at or after max(from, snd_una) below high_sacked
 * (RFC 6675 NextSeg 1.a/1.b), and when need_lost also IsLost() (1.c).
 * IsLost() has the same value for every byte of one gap (no SACKed byte
 * inside it changes the count above), so testing one byte per gap is exact. */
static bool next_gap(const struct sack_board *sb, uint32_t from, uint32_t snd_una, uint32_t mss,
                     bool need_lost, uint32_t *seq, uint32_t *len) {
  if (mss == 0) mss = 1;
  uint32_t start = seq_max(from, snd_una);
  uint32_t gap_start = snd_una;
  for (uint8_t i = 0; i < sb->count; i++) { /* only gaps before a SACKed range */
    uint32_t gap_end = sb->blk[i].left;
    uint32_t s = seq_max(gap_start, start);
    if (seq_lt(s, gap_end) && (!need_lost || mtcp_sb_is_lost(sb, s, mss))) {
      uint32_t n = gap_end - s;
      *seq = s;
      *len = n < mss ? n : mss;
      return true;
    }
    gap_start = seq_max(gap_start, sb->blk[i].right);
  }
  return false;
}

bool mtcp_sb_next_lost(const struct sack_board *sb, uint32_t from, uint32_t snd_una, uint32_t mss,
                  uint32_t *seq, uint32_t *len) {
  return next_gap(sb, from, snd_una, mss, true, seq, len);
}

bool mtcp_sb_next_unsacked(const struct sack_board *sb, uint32_t from, uint32_t snd_una, uint32_t mss,
                      uint32_t *seq, uint32_t *len) {
  return next_gap(sb, from, snd_una, mss, false, seq, len);
}

bool mtcp_sb_highest_unsacked(const struct sack_board *sb, uint32_t snd_una, uint32_t snd_nxt,
                         uint32_t mss, uint32_t *seq, uint32_t *len) {
  if (mss == 0) mss = 1;
  /* Walk the ranges from the top: the highest gap is above the last range,
   * else between two ranges (or between snd_una and the first). */
  uint32_t gap_end = snd_nxt;
  for (int i = sb->count - 1; i >= -1; i--) {
    uint32_t gap_start = i >= 0 ? sb->blk[i].right : snd_una;
    if (seq_lt(gap_start, snd_una)) gap_start = snd_una;
    if (seq_lt(gap_start, gap_end)) {
      uint32_t n = gap_end - gap_start;
      if (n > mss) n = mss;
      *seq = gap_end - n;
      *len = n;
      return true;
    }
    if (i >= 0) gap_end = sb->blk[i].left;
  }
  return false;
}

/* Bytes of [a, b) that lie below limit (all offsets). */
static uint32_t below(uint32_t a, uint32_t b, uint32_t limit) {
  if (limit <= a) return 0;
  return (b < limit ? b : limit) - a;
}

uint32_t mtcp_sb_pipe(const struct sack_board *sb, uint32_t snd_una, uint32_t snd_nxt,
                 uint32_t high_rxt, uint32_t mss) {
  if (!seq_lt(snd_una, snd_nxt)) return 0;
  uint32_t win = snd_nxt - snd_una;
  uint32_t rxt = seq_gt(high_rxt, snd_una) ? high_rxt - snd_una : 0;
  uint32_t pipe = 0, pos = 0; /* pos: offset of the next byte not yet counted */
  /* Walk the unSACKed gaps of [0, win) in offsets from snd_una; the final
   * pass (i == count) is the gap after the highest SACKed range. */
  for (uint8_t i = 0; i <= sb->count && pos < win; i++) {
    uint32_t gap_end = win, next_pos = win;
    if (i < sb->count) {
      uint32_t lo = seq_lt(sb->blk[i].left, snd_una) ? 0 : sb->blk[i].left - snd_una;
      uint32_t hi = seq_lt(sb->blk[i].right, snd_una) ? 0 : sb->blk[i].right - snd_una;
      gap_end = lo < win ? lo : win;
      next_pos = hi < win ? hi : win;
    }
    if (pos < gap_end) {
      /* RFC 6675 4 SetPipe (a): not lost => in flight; (b) retransmitted => in flight. */
      if (!mtcp_sb_is_lost(sb, snd_una + pos, mss)) pipe += gap_end - pos;
      pipe += below(pos, gap_end, rxt);
    }
    if (next_pos > pos) pos = next_pos;
  }
  return pipe;
}
