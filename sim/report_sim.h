/* The simulator's side of the report (report.h): an observer that records a
 * run (every frame, the faults that hit it, scenario events, the TCP state of
 * every connection after each service) and writes it with the run's flows. */
#ifndef MICROTCP_REPORT_SIM_H
#define MICROTCP_REPORT_SIM_H

#include "report.h"
#include "sim.h"

struct sim_recorder;
struct sim_recorder *sim_recorder_new(void);
void sim_recorder_free(struct sim_recorder *rec);
/* Attach with s->observer = sim_recorder_observer(rec) before sim_setup. */
struct sim_observer *sim_recorder_observer(struct sim_recorder *rec);
/* After sim_check: add the flows and the verdict, write DIR/index.html. */
int sim_recorder_write(struct sim_recorder *rec, const struct sim *s, int exit_code, const char *dir);
/* Goodput of a flow in Mbit/s (0 if it never ran) and its bytes. */
double sim_flow_goodput(const struct sim_flow *fl, uint64_t *bytes);

#endif
