/*
 * Impairments applied in the TAP bridge, one instance per direction: loss,
 * duplication, a fixed delay, and reordering (a chosen frame is held back by
 * reorder_delay_us so the frames behind it overtake it). Decisions come from a
 * seeded xorshift PRNG, so a run's choices depend only on the seed and the
 * order of frames (timing on a real TAP device still varies).
 *
 * The simulator's fault model (sim/sim.c link_apply) is private to the
 * simulator and tied to its event queue, so this is a separate small model
 * with the same meaning of the parameters (parts per million).
 *
 * Ownership: the impairment copies every frame it keeps; the caller keeps its
 * buffer. Frames beyond IMPAIR_MAX_HELD in flight are dropped and counted
 * (overflow).
 */
#ifndef MICROTCP_TAP_IMPAIR_H
#define MICROTCP_TAP_IMPAIR_H

#include <stddef.h>
#include <stdint.h>

#define IMPAIR_MAX_HELD 4096
#define IMPAIR_FRAME_MAX 2048

struct impair_params {
  uint32_t loss_ppm, dup_ppm, reorder_ppm;
  uint32_t delay_us;         /* added to every frame */
  uint32_t reorder_delay_us; /* extra delay of a reordered frame (0 = 2 ms) */
};

struct impair_frame {
  uint64_t at, order; /* release time, then arrival order (ties keep FIFO) */
  uint16_t len;
  uint8_t data[IMPAIR_FRAME_MAX];
};

struct impair {
  struct impair_params p;
  uint64_t rng, next_order;
  struct impair_frame **heap; /* min-heap on (at, order) */
  size_t n;
  uint64_t passed, dropped, duplicated, reordered, overflow;
};

typedef void (*impair_deliver_fn)(void *ctx, const uint8_t *frame, size_t len);

/* Returns 0, or -1 if memory for the queue cannot be allocated. */
int impair_init(struct impair *im, const struct impair_params *p, uint64_t seed);
void impair_free(struct impair *im);
/* True if any impairment is configured (otherwise pass() delivers at once). */
int impair_active(const struct impair *im);
/* Apply the impairments to one frame arriving at now; frames due at once are
 * delivered before returning. */
void impair_pass(struct impair *im, const uint8_t *frame, size_t len, uint64_t now,
                 impair_deliver_fn deliver, void *ctx);
/* Deliver every held frame due at or before now. */
void impair_release(struct impair *im, uint64_t now, impair_deliver_fn deliver, void *ctx);
/* Release time of the next held frame, UINT64_MAX if none. */
uint64_t impair_next(const struct impair *im);

/* Parse a rate: "5%", "0.5%" or "5000ppm"; a bare number is a percentage.
 * Returns 0 and the rate in ppm, -1 if malformed or above 100%. */
int impair_parse_rate(const char *s, uint32_t *ppm);

#endif
