/* Internet checksum (RFC 1071): 32-bit words summed into a 64-bit accumulator,
 * folded at the end; RFC 1624 incremental update. */
#include "internal.h"

uint32_t wire_csum_partial(uint32_t sum, const void *data, size_t len) {
  const uint8_t *p = data;
  uint64_t acc = 0;
  while (len >= 8) {
    uint32_t a, b;
    memcpy(&a, p, 4);
    memcpy(&b, p + 4, 4);
    acc += (uint64_t)a + b;
    p += 8;
    len -= 8;
  }
  if (len >= 4) {
    uint32_t a;
    memcpy(&a, p, 4);
    acc += a;
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    uint16_t a;
    memcpy(&a, p, 2);
    acc += a;
    p += 2;
    len -= 2;
  }
  if (len) {
    uint8_t tail[2] = {p[0], 0};
    uint16_t a;
    memcpy(&a, tail, 2);
    acc += a;
  }
  /* The sum was taken in native byte order; one's-complement addition is
   * byte-order independent (RFC 1071 2(B)), so swap once at the end. */
  while (acc >> 32) acc = (acc & 0xffffffffu) + (acc >> 32);
  uint32_t s = (uint32_t)acc;
  s = (s & 0xffffu) + (s >> 16);
  s = (s & 0xffffu) + (s >> 16);
  uint16_t native = (uint16_t)s;
  uint8_t b[2];
  memcpy(b, &native, 2);
  uint32_t be = (uint32_t)((b[0] << 8) | b[1]);
  sum = (sum & 0xffffu) + (sum >> 16); /* keep the accumulator from overflowing */
  return sum + be;
}

uint16_t wire_csum_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffffu) + (sum >> 16);
  return (uint16_t)~sum;
}

uint32_t wire_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t l4_len) {
  uint32_t s = (src >> 16) + (src & 0xffffu) + (dst >> 16) + (dst & 0xffffu);
  s += proto;
  s += l4_len;
  return s;
}

uint16_t wire_csum_update16(uint16_t csum, uint16_t old_word, uint16_t new_word) {
  /* RFC 1624 eq. 3: HC' = ~(~HC + ~m + m') */
  uint32_t s = (uint16_t)~csum;
  s += (uint16_t)~old_word;
  s += new_word;
  while (s >> 16) s = (s & 0xffffu) + (s >> 16);
  return (uint16_t)~s;
}
