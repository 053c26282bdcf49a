/*
 * A binary min-heap of 16-bit ids (connection-block indices) keyed by 64-bit
 * deadlines: the earliest key in O(1), insert / re-key / remove in O(log n),
 * the ids due by a time in O(due). Entries are ordered by (key, id), so the
 * layout is a function of the operations alone (no address or allocator in
 * it: deterministic like the rest of the core).
 *
 * Memory is two arrays carved from the arena at init, sized by the number of
 * ids (`cap`): ent (the heap, 16 bytes a slot) and pos (id -> slot, 2 bytes
 * an id). No pointers are stored, only indices.
 */
#ifndef MICROTCP_TIMERHEAP_H
#define MICROTCP_TIMERHEAP_H
#include <stdbool.h>
#include <stdint.h>

#include "invariant.h"

#define THEAP_NONE 0xffffu

struct carve;

struct theap_ent {
  uint64_t key;
  uint16_t id;
};

struct theap {
  struct theap_ent *ent; /* [0, len): each slot <= its children 2i+1, 2i+2 by (key, id) */
  uint16_t *pos;         /* pos[id]: slot of id in ent, THEAP_NONE if absent */
  uint16_t len, cap;     /* cap: ids are below it (at most 0x7fff) */
};

/* Carve the arrays for ids 0..cap-1 (cap <= 0x7fff); with c->base NULL
 * (the footprint pass) only counts. */
void mtcp_theap_init(struct theap *h, struct carve *c, uint16_t cap);
/* Insert id with key, or move it to key if it is in already. */
void mtcp_theap_set(struct theap *h, uint16_t id, uint64_t key);
/* Take id out (nothing if it is not in). */
void mtcp_theap_remove(struct theap *h, uint16_t id);
/* The ids whose key is <= limit, written to out (room for h->len ids), in no
 * particular order; returns how many. Visits only those entries and their
 * children (the heap order prunes the rest). */
uint16_t mtcp_theap_due(const struct theap *h, uint64_t limit, uint16_t *out);

static inline uint64_t theap_min(const struct theap *h) {
  return h->len ? h->ent[0].key : UINT64_MAX;
}
static inline bool theap_has(const struct theap *h, uint16_t id) {
  MICROTCP_ASSERT(id < h->cap);
  return h->pos[id] != THEAP_NONE;
}
/* The key of an id that is in. */
static inline uint64_t theap_key(const struct theap *h, uint16_t id) {
  MICROTCP_ASSERT(theap_has(h, id));
  return h->ent[h->pos[id]].key;
}

#ifdef MICROTCP_ASSERTS
/* Heap order of every slot and pos/ent agreeing both ways: O(cap). */
void mtcp_theap_check(const struct theap *h);
#else
static inline void mtcp_theap_check(const struct theap *h) { (void)h; }
#endif
#endif
