/* Min-heap of ids keyed by deadlines (timerheap.h). */
#include "timerheap.h"

#include "internal.h"

void mtcp_theap_init(struct theap *h, struct carve *c, uint16_t cap) {
  h->ent = mtcp_carve_take(c, sizeof(struct theap_ent) * cap);
  h->pos = mtcp_carve_take(c, sizeof(uint16_t) * cap);
  h->len = 0;
  h->cap = cap;
  if (c->base == NULL) return; /* footprint pass */
  for (uint16_t i = 0; i < cap; i++) h->pos[i] = THEAP_NONE;
}

static bool ent_less(const struct theap_ent *a, const struct theap_ent *b) {
  return a->key < b->key || (a->key == b->key && a->id < b->id);
}

static void place(struct theap *h, uint16_t slot, struct theap_ent e) {
  h->ent[slot] = e;
  h->pos[e.id] = slot;
}

/* Move the entry at slot up or down until the heap order holds again. */
static void sift(struct theap *h, uint16_t slot) {
  struct theap_ent e = h->ent[slot];
  while (slot > 0) {
    uint16_t parent = (uint16_t)((slot - 1) / 2);
    if (!ent_less(&e, &h->ent[parent])) break;
    place(h, slot, h->ent[parent]);
    slot = parent;
  }
  for (;;) {
    uint32_t child = 2u * slot + 1;
    if (child >= h->len) break;
    if (child + 1 < h->len && ent_less(&h->ent[child + 1], &h->ent[child])) child++;
    if (!ent_less(&h->ent[child], &e)) break;
    place(h, slot, h->ent[child]);
    slot = (uint16_t)child;
  }
  place(h, slot, e);
}

void mtcp_theap_set(struct theap *h, uint16_t id, uint64_t key) {
  MICROTCP_ASSERT(id < h->cap);
  uint16_t slot = h->pos[id];
  if (slot == THEAP_NONE) {
    MICROTCP_ASSERT(h->len < h->cap);
    slot = h->len++;
  } else if (h->ent[slot].key == key) {
    return;
  }
  struct theap_ent e = {key, id};
  place(h, slot, e);
  sift(h, slot);
}

void mtcp_theap_remove(struct theap *h, uint16_t id) {
  MICROTCP_ASSERT(id < h->cap);
  uint16_t slot = h->pos[id];
  if (slot == THEAP_NONE) return;
  h->pos[id] = THEAP_NONE;
  uint16_t last = --h->len;
  if (slot == last) return;
  place(h, slot, h->ent[last]); /* the last entry fills the hole, then finds its place */
  sift(h, slot);
}

uint16_t mtcp_theap_due(const struct theap *h, uint64_t limit, uint16_t *out) {
  /* Breadth first from the root, out[] doubling as the queue of slots: a
   * slot later than `limit` has only later slots below it. */
  uint16_t n = 0;
  if (h->len && h->ent[0].key <= limit) out[n++] = 0;
  for (uint16_t i = 0; i < n; i++) {
    uint32_t child = 2u * out[i] + 1;
    for (uint32_t c = child; c < child + 2 && c < h->len; c++)
      if (h->ent[c].key <= limit) out[n++] = (uint16_t)c;
  }
  for (uint16_t i = 0; i < n; i++) out[i] = h->ent[out[i]].id;
  return n;
}

#ifdef MICROTCP_ASSERTS
void mtcp_theap_check(const struct theap *h) {
  MICROTCP_ASSERT(h->len <= h->cap);
  uint32_t present = 0;
  for (uint16_t id = 0; id < h->cap; id++) {
    uint16_t slot = h->pos[id];
    if (slot == THEAP_NONE) continue;
    present++;
    MICROTCP_ASSERT(slot < h->len && h->ent[slot].id == id);
  }
  MICROTCP_ASSERT(present == h->len);
  for (uint16_t slot = 1; slot < h->len; slot++)
    MICROTCP_ASSERT(!ent_less(&h->ent[slot], &h->ent[(slot - 1) / 2]));
}
#endif
