/*
 * driver.h — N-way concurrent calls of one operation, many iterations.
 *
 * One thread and one connection per worker, opened in worker order before
 * the first iteration. Each iteration: the control connection creates fresh
 * rows, a barrier releases all workers at once, each calls the operation
 * (retrying a failed call up to cfg->retries times, as a client would), a
 * second barrier waits for all of them, then every invariant is checked.
 * Every call's outcome, SQLSTATE, latency and statement trace is recorded.
 */
#ifndef PGRACE_DRIVER_H
#define PGRACE_DRIVER_H

#include "harness/scenario.h"
#include "lib/hist.h"

#include <jansson.h>
#include <stdint.h>

#define DRV_MAX_WORKERS 256
#define DRV_MAX_PAUSES 8

typedef struct drv_pauses {
    int n;
    struct { char name[32]; int64_t ns; } p[DRV_MAX_PAUSES];
} drv_pauses;

/* Called after each iteration's invariants, on the driver's thread:
 * verdicts[k] is invariant k's result (1 held, 0 violated). */
typedef void (*drv_iteration_fn)(void *arg, long iteration, const drv_call *calls, int ncalls,
                                 const int *verdicts);

/* Called before each iteration's workers are released (after setup), on the
 * driver's thread; a non-zero return stops the run as a setup error (err
 * filled). The fault sweep uses it to install the iteration's fault plan. */
typedef int (*drv_before_fn)(void *arg, long iteration, char *err, size_t errlen);

typedef struct drv_config {
    const char *conninfo;
    const char *schema;
    const char *appname;
    int nworkers;
    long iterations;
    long first_iteration;       /* iterations are numbered from this (0: from 1) */
    uint64_t seed;
    int retries;                /* extra attempts after a failed call */
    drv_pauses pauses;
    drv_before_fn before;
    void *before_arg;
    drv_iteration_fn on_iteration;
    void *iteration_arg;
} drv_config;

typedef struct drv_verdict {
    long failures;              /* iterations where it was violated */
    long first_iteration;       /* the first of them, or -1 */
    json_t *first_found;        /* what the check reported then (owned) */
} drv_verdict;

typedef struct drv_result {
    long iterations;            /* iterations run */
    drv_verdict *verdicts;      /* one per invariant (owned) */
    int nverdicts;
    long outcomes[4];           /* calls by outcome_kind */
    hist latency[4];            /* call latency by outcome_kind */
    double seconds;
} drv_result;

/* Runs cfg->iterations iterations of variant v of scenario s. The schema
 * must exist and hold s's tables; ctl is the control connection. Returns 0
 * (res filled; free with drv_result_free) or -1 on a setup or environment
 * failure, with a one-line reason. */
int drv_run(const drv_config *cfg, const scenario *s, const scenario_variant *v, PGconn *ctl,
            drv_result *res, char *err, size_t errlen);

void drv_result_free(drv_result *res);

/* Parses "NAME=DURATION" into pauses. Returns 0 or -1 with a reason. */
int drv_pause_parse(drv_pauses *p, const char *text, char *err, size_t errlen);

#endif
