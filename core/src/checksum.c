/* Internet checksum (RFC 1071) and its incremental update (RFC 1624).
 *
 * Speed matters: every TCP segment is summed once on the way out and once on
 * the way in. The sum is taken 64 bits at a time into four independent
 * accumulators (so the CPU can overlap the adds), with the carry out of each
 * 64-bit add wrapped back in ("end-around carry"), which is exactly the
 * one's-complement addition RFC 1071 asks for, just on wider words.
 *
 * Two properties of one's-complement sums (RFC 1071 section 2) make this valid:
 * (A) it is associative and commutative, so summing 64-bit words and folding
 *     them down to 16 bits at the end equals summing the 16-bit words;
 * (B) it is byte-order independent: summing words loaded in the machine's
 *     native order gives the big-endian sum with its two bytes swapped, so we
 *     load natively and swap once at the very end.
 * Loads use memcpy, so unaligned buffers are fine and there is no aliasing UB;
 * compilers turn each fixed-size memcpy into one load. */
#include "internal.h"

/* a + b in one's-complement arithmetic on 64-bit words. */
static inline uint64_t add64_eac(uint64_t a, uint64_t b) {
  a += b;
  return a + (a < b); /* the carry out of bit 63 comes back in at bit 0 */
}

/* Fold a 64-bit one's-complement accumulator to 16 bits (native byte order). */
static inline uint16_t fold64(uint64_t acc) {
  uint32_t hi = (uint32_t)(acc >> 32), lo = (uint32_t)acc;
  uint32_t s = hi + lo;
  s += (s < lo); /* end-around carry */
  s = (s & 0xffffu) + (s >> 16);
  s = (s & 0xffffu) + (s >> 16);
  return (uint16_t)s;
}

uint32_t wire_csum_partial(uint32_t sum, const void *data, size_t len) {
  const uint8_t *p = data;
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  while (len >= 32) {
    uint64_t w0, w1, w2, w3;
    memcpy(&w0, p, 8);
    memcpy(&w1, p + 8, 8);
    memcpy(&w2, p + 16, 8);
    memcpy(&w3, p + 24, 8);
    a0 = add64_eac(a0, w0);
    a1 = add64_eac(a1, w1);
    a2 = add64_eac(a2, w2);
    a3 = add64_eac(a3, w3);
    p += 32;
    len -= 32;
  }
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    a0 = add64_eac(a0, w);
    p += 8;
    len -= 8;
  }
  /* Tail of 0..7 bytes. Where a 16-bit lane sits inside the 64-bit word does
   * not matter (all lanes are added together when folding), only that each
   * pair of bytes stays a pair, so the pieces are simply added up. */
  uint64_t tail = 0;
  if (len >= 4) {
    uint32_t w;
    memcpy(&w, p, 4);
    tail += w;
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    uint16_t w;
    memcpy(&w, p, 2);
    tail += w;
    p += 2;
    len -= 2;
  }
  if (len) {
    /* An odd last byte is the high-order byte of a word padded with zero
     * (RFC 1071 4.1): in memory order that is {byte, 0}. */
    uint8_t pad[2] = {p[0], 0};
    uint16_t w;
    memcpy(&w, pad, 2);
    tail += w;
  }
  a0 = add64_eac(a0, a1);
  a2 = add64_eac(a2, a3);
  a0 = add64_eac(a0, a2);
  a0 = add64_eac(a0, tail);

  /* Property (B): turn the native-order 16-bit sum into the big-endian one. */
  uint16_t native = fold64(a0);
  uint8_t b[2];
  memcpy(b, &native, 2);
  uint32_t be = (uint32_t)((b[0] << 8) | b[1]);

  /* Callers chain partial sums; folding the incoming sum once keeps the
   * 32-bit accumulator from ever overflowing (<= 0x1fffe + 0xffff). */
  sum = (sum & 0xffffu) + (sum >> 16);
  return sum + be;
}

uint16_t wire_csum_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffffu) + (sum >> 16);
  return (uint16_t)~sum;
}

/* RFC 793 3.1 / RFC 768: the pseudo header is src, dst, zero, proto, length. */
uint32_t wire_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t l4_len) {
  uint32_t s = (src >> 16) + (src & 0xffffu) + (dst >> 16) + (dst & 0xffffu);
  s += proto;
  s += l4_len;
  return s;
}

uint16_t wire_csum_update16(uint16_t csum, uint16_t old_word, uint16_t new_word) {
  /* RFC 1624 eq. 3: HC' = ~(~HC + ~m + m'). Unlike eq. 2 it never yields
   * 0x0000 from a non-zero sum by the -0/+0 ambiguity of RFC 1141. */
  uint32_t s = (uint16_t)~csum;
  s += (uint16_t)~old_word;
  s += new_word;
  while (s >> 16) s = (s & 0xffffu) + (s >> 16);
  return (uint16_t)~s;
}
