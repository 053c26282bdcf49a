/* Bridge impairments (see impair.h). */
#include "impair.h"

#include <stdlib.h>
#include <string.h>

#include "../../sim/prng.h"

static uint32_t roll(struct impair *im) { /* uniform in [0, 1e6) */
  return (uint32_t)(prng_xorshift64(&im->rng) % 1000000u);
}

static int chance(struct impair *im, uint32_t ppm) { return ppm && roll(im) < ppm; }

int impair_init(struct impair *im, const struct impair_params *p, uint64_t seed) {
  memset(im, 0, sizeof *im);
  im->p = *p;
  if (!im->p.reorder_delay_us) im->p.reorder_delay_us = 2000;
  /* xorshift must not start at 0; mix the seed so nearby seeds differ */
  im->rng = prng_golden(seed + 1);
  if (!im->rng) im->rng = 1;
  im->heap = calloc(IMPAIR_MAX_HELD, sizeof *im->heap);
  return im->heap ? 0 : -1;
}

void impair_free(struct impair *im) {
  for (size_t i = 0; i < im->n; i++) free(im->heap[i]);
  free(im->heap);
  im->heap = NULL;
  im->n = 0;
}

int impair_active(const struct impair *im) {
  return im->p.loss_ppm || im->p.dup_ppm || im->p.reorder_ppm || im->p.delay_us;
}

static int before(const struct impair_frame *a, const struct impair_frame *b) {
  return a->at < b->at || (a->at == b->at && a->order < b->order);
}

static void heap_push(struct impair *im, struct impair_frame *f) {
  size_t i = im->n++;
  im->heap[i] = f;
  while (i > 0 && before(im->heap[i], im->heap[(i - 1) / 2])) {
    struct impair_frame *t = im->heap[i];
    im->heap[i] = im->heap[(i - 1) / 2];
    im->heap[(i - 1) / 2] = t;
    i = (i - 1) / 2;
  }
}

static struct impair_frame *heap_pop(struct impair *im) {
  struct impair_frame *top = im->heap[0];
  im->heap[0] = im->heap[--im->n];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < im->n && before(im->heap[l], im->heap[m])) m = l;
    if (r < im->n && before(im->heap[r], im->heap[m])) m = r;
    if (m == i) break;
    struct impair_frame *t = im->heap[i];
    im->heap[i] = im->heap[m];
    im->heap[m] = t;
    i = m;
  }
  return top;
}

static void hold(struct impair *im, const uint8_t *frame, size_t len, uint64_t at) {
  struct impair_frame *f = im->n < IMPAIR_MAX_HELD && len <= IMPAIR_FRAME_MAX ? malloc(sizeof *f) : NULL;
  if (!f) {
    im->overflow++;
    return;
  }
  f->at = at;
  f->order = im->next_order++;
  f->len = (uint16_t)len;
  memcpy(f->data, frame, len);
  heap_push(im, f);
}

void impair_pass(struct impair *im, const uint8_t *frame, size_t len, uint64_t now,
                 impair_deliver_fn deliver, void *ctx) {
  if (chance(im, im->p.loss_ppm)) {
    im->dropped++;
    return;
  }
  int copies = 1;
  if (chance(im, im->p.dup_ppm)) {
    copies = 2;
    im->duplicated++;
  }
  uint64_t at = now + im->p.delay_us;
  if (chance(im, im->p.reorder_ppm)) {
    at += im->p.reorder_delay_us;
    im->reordered++;
  }
  for (int c = 0; c < copies; c++) {
    im->passed++;
    /* Fast path: nothing to wait for and nothing queued that must go first. */
    if (at <= now && im->n == 0)
      deliver(ctx, frame, len);
    else
      hold(im, frame, len, at);
  }
  impair_release(im, now, deliver, ctx);
}

void impair_release(struct impair *im, uint64_t now, impair_deliver_fn deliver, void *ctx) {
  while (im->n && im->heap[0]->at <= now) {
    struct impair_frame *f = heap_pop(im);
    deliver(ctx, f->data, f->len);
    free(f);
  }
}

uint64_t impair_next(const struct impair *im) { return im->n ? im->heap[0]->at : UINT64_MAX; }

int impair_parse_rate(const char *s, uint32_t *ppm) {
  char *end;
  double v = strtod(s, &end);
  if (end == s || v < 0) return -1;
  double scale = 10000.0; /* percent */
  if (!strcmp(end, "ppm"))
    scale = 1.0;
  else if (strcmp(end, "%") != 0 && *end)
    return -1;
  double r = v * scale;
  if (r > 1000000.0) return -1;
  *ppm = (uint32_t)(r + 0.5);
  return 0;
}
