/* microtcp-sim shrink: delta-debug a failing run (sim/shrink.c, sim/README.md "Shrinking"). */
#ifndef MICROTCP_SIM_SHRINK_H
#define MICROTCP_SIM_SHRINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What one run ended with. */
struct shrink_result {
  int code;          /* the exit code: 0, 2, 3 or 4 */
  char failure[160]; /* sim_check's identity: "integrity: flow bulk", ... */
  bool liveness_too; /* an invariant failed and so did liveness */
  int nflows, nhosts;
};

/* Run SCENARIO with the seed; faults_in: replay that schedule (NULL: draw
 * from the seed); faults_out: record the run's schedule there (or NULL). */
typedef void (*shrink_run_fn)(void *ctx, const char *scenario, const char *faults_in,
                              const char *faults_out, struct shrink_result *r);

struct shrink_opts {
  const char *scenario, *out, *inject_bug, *until;
  uint64_t seed;
  bool swarm;
  uint64_t budget_us;
  shrink_run_fn run;
  void *ctx;
};

/* Returns the exit code: 0 shrunk (files written), 2 error (the seed passes,
 * the scenario is broken, a file cannot be written). */
int sim_shrink(const struct shrink_opts *o);

#endif
