/*
 * IPv4: routing, input validation, reassembly, output and fragmentation.
 *
 * Reassembly memory is one pool of cfg.reasm_bytes (rounded down to whole
 * REASM_CHUNK-byte chunks) shared by all cfg.reasm_slots datagrams: a datagram
 * takes chunks as its fragments arrive, so one datagram may use the whole pool
 * (up to the 65535-byte IPv4 limit). Each slot maps "chunk k of my datagram"
 * to a pool chunk; when the datagram completes its chunks are swapped into
 * pool order 0..n-1 so upper layers see one contiguous payload.
 */
#ifndef MICROTCP_IPV4_H
#define MICROTCP_IPV4_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "assembler.h"
struct microtcp_stack;
struct frame;
struct carve;

#define REASM_CHUNK 256u                         /* bytes per pool chunk */
#define REASM_MAP_LEN (65536u / REASM_CHUNK)     /* chunks of the largest datagram */
#define REASM_CHUNK_NONE 0xffffu
/* Received byte ranges kept per datagram (= holes + 1). Adjacent ranges merge,
 * so in-order or reverse-order delivery uses one; a datagram needing more is
 * dropped (drop_reasm_nomem), which bounds the work an attacker can cause. */
#define REASM_MAX_RANGES 8

struct reasm_slot {
  bool in_use;
  bool have_last;
  uint8_t proto;
  uint16_t id;
  uint16_t nchunks;        /* pool chunks held */
  uint32_t src, dst;
  uint32_t total;          /* payload length, known once the last fragment arrived */
  uint64_t expires;
  uint8_t hdr[60];         /* first fragment's IP header (quoted by ICMP errors) */
  uint8_t hdr_len;         /* 0 until the first fragment arrived */
  struct assembler held;    /* byte ranges received (over ranges[]) */
  struct asm_range ranges[REASM_MAX_RANGES];
  uint16_t map[REASM_MAP_LEN]; /* chunk k of the datagram → pool chunk, or REASM_CHUNK_NONE */
};

struct ipv4_state {
  struct reasm_slot *reasm;
  uint8_t *pool;             /* pool_chunks * REASM_CHUNK bytes */
  uint16_t *chunk_owner;     /* per pool chunk: 0 free, else slot index + 1 */
  uint8_t *chunk_pos;        /* per pool chunk: its index k in the owner's map */
  uint16_t pool_chunks;
  uint16_t chunks_free;
  uint32_t reasm_bytes_used; /* pool bytes held (whole chunks) */
  uint16_t reasm_slots_used;
};

int mtcp_ipv4_init(struct microtcp_stack *st, struct carve *c);
/* An Ethernet payload of type IPv4 arrived (len may include link padding). */
void mtcp_ipv4_input(struct microtcp_stack *st, const uint8_t *pkt, size_t len);
/* f's body (f->len bytes, built with FRAME_HEADROOM_L4 in front) is the L4
 * datagram. Push the IPv4 header in front of it and route: on-link → ARP for
 * dst, else ARP for the gateway (which pushes the Ethernet header). Takes
 * ownership of f. Returns 0, MICROTCP_ENETUNREACH (no route, drop_no_route
 * counted) or MICROTCP_EMSGSIZE (20 + f->len > MTU); the frame is freed in
 * both error cases. A frame that ARP cannot queue is dropped and counted
 * there (0 is still returned: the datagram left our hands). */
int mtcp_ipv4_send_frame(struct microtcp_stack *st, struct frame *f, uint32_t dst, uint8_t proto,
                    bool df);
/* Copy hdr then data into as many frames as needed (fragmenting at the MTU,
 * DF clear). All or nothing: every frame (and every ARP wait-queue place, if
 * the next hop is unresolved) is reserved before anything is queued.
 * Returns 0, MICROTCP_ENOMEM (not enough frames or ARP queue room: nothing
 * sent; resolution is started so a retry can succeed), MICROTCP_EMSGSIZE
 * (hdr_len + data_len > 65515) or MICROTCP_ENETUNREACH (no route). */
int mtcp_ipv4_send(struct microtcp_stack *st, uint32_t dst, uint8_t proto, const void *hdr,
              size_t hdr_len, const void *data, size_t data_len);
/* Next hop for dst (dst itself if on-link, the gateway otherwise, 0xffffffff
 * for broadcasts), 0 if none: off-link without gateway, or a destination we
 * cannot send to (0.0.0.0/8, our own address, loopback, multicast, class E). */
uint32_t mtcp_ipv4_route(const struct microtcp_stack *st, uint32_t dst);
/* Is ip the limited broadcast or our subnet's directed broadcast? */
bool mtcp_ipv4_is_broadcast(const struct microtcp_stack *st, uint32_t ip);
uint64_t mtcp_ipv4_deadline(const struct microtcp_stack *st);
void mtcp_ipv4_advance(struct microtcp_stack *st, uint64_t now);
#endif
