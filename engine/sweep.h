/*
 * sweep.h — the fault sweep: every statement position of the operation, for
 * every action, one iteration each.
 *
 * A probe iteration (one worker, no faults) counts the statements a clean
 * call sends on each of worker 1's connections. Then, for each action
 * (error=40001, drop, ambiguous) and each position P on each connection K,
 * one iteration runs with the single rule "stmt:conn=K:when=P:ACTION": so
 * every statement, COMMIT included, fails once, in every way. The caller
 * retries as configured (a sweep retries once by default), and the
 * scenario's invariants — full rollback and outcome consistency among them —
 * are checked after each iteration.
 */
#ifndef PGRACE_SWEEP_H
#define PGRACE_SWEEP_H

#include "engine/driver.h"

/* Runs the sweep of variant v with cfg's workers, retries and pauses
 * (cfg->iterations, first_iteration and before are the sweep's own).
 * *positions receives the number of statement positions found. Returns 0
 * (res filled) or -1 with a reason. */
int sweep_run(const drv_config *cfg, const scenario *s, const scenario_variant *v, PGconn *ctl,
              drv_result *res, int *positions, char *err, size_t errlen);

#endif
