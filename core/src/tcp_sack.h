/*
 * Sender-side SACK scoreboard (RFC 2018, RFC 6675): which bytes between
 * snd_una and snd_nxt the peer reported as received, and the RFC 6675
 * loss-recovery queries built on it (IsLost, NextSeg rule 1, SetPipe).
 *
 * The scoreboard never trusts the peer: blocks outside the window, empty or
 * inverted blocks are ignored, and it holds at most SACK_BOARD_MAX ranges, so
 * every query is O(SACK_BOARD_MAX) whatever the peer sends or the MSS is
 * (the Linux "SACK panic" class: tiny MSS x many blocks).
 *
 * Ranges are kept sorted in sequence order, disjoint and non-adjacent, all
 * within [snd_una, snd_nxt) as of the last mtcp_sb_update/mtcp_sb_advance. Memory: the
 * struct is self-contained; no function allocates or fails.
 */
#ifndef MICROTCP_TCP_SACK_H
#define MICROTCP_TCP_SACK_H

#include <stdbool.h>
#include <stdint.h>

#define SACK_BOARD_MAX 8
#define SACK_DUPTHRESH 3 /* RFC 6675 2: DupThresh */

struct sack_board {
  uint8_t count; /* ranges in blk[0..count) */
  struct {
    uint32_t left, right; /* [left, right): SACKed bytes */
  } blk[SACK_BOARD_MAX];
  uint32_t high_sacked; /* right edge (exclusive) of the highest range; valid only if `valid` */
  bool valid;           /* count > 0 */
};

/* Empty the board (connection start, RTO: RFC 6675 5.1 says SACK information
 * should then be treated with care; we simply discard it). */
void mtcp_sb_clear(struct sack_board *sb);

/* Merge the n SACK blocks of one ACK (left[i], right[i]) into the board.
 * A block is accepted only if snd_una < left < right <= snd_nxt (computed
 * modulo 2^32 relative to snd_una): blocks with left >= right, outside the
 * window, D-SACK blocks (RFC 2883: at or below snd_una) and blocks starting at
 * snd_una (which the cumulative ACK would have covered) are ignored.
 * When more than SACK_BOARD_MAX ranges would result, the highest ranges are
 * dropped (conservative: those bytes are again treated as in flight).
 * Returns the number of bytes that became SACKed (total after minus total
 * before, 0 if that is negative because ranges were dropped). */
uint32_t mtcp_sb_update(struct sack_board *sb, uint32_t snd_una, uint32_t snd_nxt,
                   const uint32_t left[], const uint32_t right[], uint8_t n);

/* The cumulative ACK moved to snd_una: forget ranges (or parts) below it. */
void mtcp_sb_advance(struct sack_board *sb, uint32_t snd_una);

/* Whether byte seq is inside a SACKed range. */
bool mtcp_sb_is_sacked(const struct sack_board *sb, uint32_t seq);
/* Total SACKed bytes on the board. */
uint32_t mtcp_sb_sacked_bytes(const struct sack_board *sb);
/* SACKed bytes with sequence numbers at or above seq. */
uint32_t mtcp_sb_sacked_above(const struct sack_board *sb, uint32_t seq);

/* RFC 6675 IsLost(seq), for an unSACKed seq: true when more than
 * (DupThresh-1)*mss bytes above seq are SACKed, or when at least DupThresh
 * SACKed segments lie above seq. Segment boundaries are not recorded, so the
 * segment count is estimated from below as the sum over the ranges above seq
 * of ceil(bytes/mss) (each range holds at least that many segments of at
 * most mss bytes). mss 0 is treated as 1. */
bool mtcp_sb_is_lost(const struct sack_board *sb, uint32_t seq, uint32_t mss);

/* RFC 6675 NextSeg() rule (1): the first unSACKed byte S at or after
 * max(from, snd_una) and below high_sacked for which IsLost(S) holds.
 * On success sets *seq = S and *len = bytes to retransmit (1..mss, clipped at
 * the next SACKed range) and returns true; returns false (outputs untouched)
 * if there is none. Callers pass from = HighRxt (one past the highest byte
 * retransmitted) to get RFC 6675 (1.a) "S2 > HighRxt". */
bool mtcp_sb_next_lost(const struct sack_board *sb, uint32_t from, uint32_t snd_una, uint32_t mss,
                  uint32_t *seq, uint32_t *len);

/* RFC 6675 NextSeg() rule (3): as mtcp_sb_next_lost without the IsLost() test:
 * the first unSACKed byte at or after max(from, snd_una) below high_sacked. */
bool mtcp_sb_next_unsacked(const struct sack_board *sb, uint32_t from, uint32_t snd_una, uint32_t mss,
                      uint32_t *seq, uint32_t *len);

/* RFC 6675 NextSeg() rule (4) (rescue retransmission): the segment of up to
 * mss bytes that ends at the highest unSACKed byte below snd_nxt, starting
 * no lower than snd_una and inside one unSACKed gap. False if every byte of
 * [snd_una, snd_nxt) is SACKed or the range is empty. */
bool mtcp_sb_highest_unsacked(const struct sack_board *sb, uint32_t snd_una, uint32_t snd_nxt,
                         uint32_t mss, uint32_t *seq, uint32_t *len);

/* RFC 6675 4 SetPipe(): estimated bytes in flight. For every unSACKed byte S1
 * in [snd_una, snd_nxt): +1 if !IsLost(S1), and +1 more if S1 was
 * retransmitted, i.e. S1 < high_rxt (high_rxt = one past the highest byte
 * retransmitted in this recovery; pass snd_una, or any value at or below it,
 * when nothing was retransmitted). IsLost is constant over each unSACKed gap,
 * so this is computed gap by gap in O(SACK_BOARD_MAX), exactly equal to the
 * RFC's per-octet definition. */
uint32_t mtcp_sb_pipe(const struct sack_board *sb, uint32_t snd_una, uint32_t snd_nxt,
                 uint32_t high_rxt, uint32_t mss);

#endif
