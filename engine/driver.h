/*
 * driver.h — N-way concurrent calls of one operation, many iterations.
 *
 * One thread and one connection per worker, opened in worker order before
 * the first iteration. Each iteration: the control connection creates fresh
 * rows, all workers are released at once, each calls the operation
 * (retrying a failed call up to cfg->retries times, as a client would),
 * the driver waits for all of them, then every invariant is checked.
 * Every call's outcome, status, SQLSTATE, latency and statement trace is
 * recorded.
 *
 * Nothing waits forever. A call has a deadline (cfg->call_timeout_ns): at
 * the deadline the driver reads from the server who waits on whom
 * (lib/blocking.h), cancels the call's statement, wakes its pause or
 * injected delay, and the driver's own invariant — every call finishes
 * within the deadline — is violated with that diagnosis. A worker that
 * still does not return within DRV_GRACE_NS of the cancel is stuck beyond
 * help: drv_run fails naming it (the run exits 2).
 *
 * After every call, what it left on its connections is checked
 * (engine/connstate.h: the driver's second invariant), unless
 * cfg->no_conn_check.
 */
#ifndef PGRACE_DRIVER_H
#define PGRACE_DRIVER_H

#include "engine/scenario.h"
#include "lib/hist.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define DRV_MAX_WORKERS 256
#define DRV_MAX_PAUSES 8
#define DRV_DEFAULT_CALL_TIMEOUT_NS (10LL * 1000000000)
#define DRV_GRACE_NS 1000000000LL           /* from a deadline's cancel to the worker's return */
#define DRV_DEADLINE_INVARIANT "every call finishes within the deadline"

typedef struct drv_pauses {
    int n;
    struct { char name[32]; int64_t ns; } p[DRV_MAX_PAUSES];
} drv_pauses;

/* Called after each iteration's invariants, on the driver's thread:
 * verdicts[k] is invariant k's result (1 held, 0 violated), for the
 * drv_ninvariants(s) invariants. */
typedef void (*drv_iteration_fn)(void *arg, long iteration, const call_record *calls, int ncalls,
                                 const int *verdicts);

/* Called before each iteration's workers are released (after setup), on the
 * driver's thread: 0 goes on; > 0 ends the run there (the explorer's space
 * is exhausted); < 0 stops the run as a setup error (err filled). The fault
 * sweep uses it to install the iteration's fault plan. */
typedef int (*drv_before_fn)(void *arg, long iteration, char *err, size_t errlen);

/* Adds fields to a violation's diagnostics (found) when an invariant is
 * first violated: the explorer's schedule and its replay command. */
typedef void (*drv_annotate_fn)(void *arg, json_t *found);

/* Who runs a round once its workers are released: nobody (they run free,
 * and the driver waits for them), or a controller — the explorer's
 * scheduler — whose round() runs until every worker is done or hands the
 * round back (returns >= 0; < 0 is a failure with err). Each worker's end
 * of its calls is reported to worker_done, on the worker's thread. The
 * driver's deadline still applies after round() returns. */
typedef struct drv_control {
    int (*round)(void *arg, char *err, size_t errlen);
    void (*worker_done)(void *arg, int worker);
    void *arg;
} drv_control;

typedef struct drv_config {
    const char *conninfo;
    bool pooled;                /* conninfo is a pooler's: a worker's backend is found by its
                                 * application_name (appname/wN), not its PQbackendPID */
    bool shared_conns;          /* ... transaction pooling: a server connection serves one worker's
                                 * transaction, then another's */
    const char *schema;
    const char *appname;
    int nworkers;
    long iterations;
    long first_iteration;       /* iterations are numbered from this (0: from 1) */
    long iteration_step;        /* ... in steps of this (0: 1): the explorer keeps one workload */
    bool repeat_iteration;      /* every round is first_iteration again (a program's setup recreates
                                 * its rows each round: pgrace exec's explorer) */
    uint64_t seed;
    int retries;                /* extra attempts after a failed call */
    int64_t call_timeout_ns;    /* a call's deadline (0: DRV_DEFAULT_CALL_TIMEOUT_NS) */
    const char *params;         /* the plan's "NAME=VALUE ..." for call_param, or NULL */
    bool no_conn_check;         /* skip the check of what each call leaves on its connection */
    drv_pauses pauses;
    drv_before_fn before;
    void *before_arg;
    drv_before_fn prepare;      /* before each iteration's setup (the serial oracle empties the
                                 * schema there), or NULL; > 0 is taken as 0 */
    void *prepare_arg;
    struct serial *oracle;      /* the serial oracle its "serial" invariant asks (engine/serial.h), or NULL */
    drv_iteration_fn on_iteration;
    void *iteration_arg;
    const drv_control *control;     /* or NULL: the workers run free */
    drv_annotate_fn annotate;       /* or NULL */
    void *annotate_arg;
} drv_config;

typedef struct drv_verdict {
    long failures;              /* iterations where it was violated */
    long first_iteration;       /* the first of them, or -1 */
    json_t *first_found;        /* what the check reported then (owned): "record", "found",
                                 * "details" (a list, when the check gave any), the
                                 * scenario's own fields, "calls", "faults", ... */
    const char *skipped;        /* why it checked nothing (a static string), or NULL */
} drv_verdict;

typedef struct drv_result {
    long iterations;            /* iterations run */
    drv_verdict *verdicts;      /* one per invariant, drv_ninvariants (owned) */
    int nverdicts;
    long outcomes[4];           /* calls by outcome_kind */
    hist latency[4];            /* call latency by outcome_kind */
    double seconds;
} drv_result;

/* Iteration i's salt (scenario.h): from the seed and i alone, on a stream
 * of the seed no worker draws from (theirs are 1..N). The serial oracle's
 * reruns give the setup the same one. */
long drv_iteration_salt(uint64_t seed, long iteration);

/* The scenario's invariants and then the driver's own (the deadline, and
 * what each call leaves on its connection: engine/connstate.h): what a
 * run's verdicts are about. Invariant k's sentence (what TAP and the
 * reports show) and its short id (what --failfast=ID and a variant's
 * caught[] name; the deadline's is SCENARIO_DEADLINE_ID); both are static
 * strings. drv_invariant_find: the index of the invariant with that id, or
 * -1. */
int drv_ninvariants(const scenario *s);
const char *drv_invariant_name(const scenario *s, int k);
const char *drv_invariant_id(const scenario *s, int k);
int drv_invariant_find(const scenario *s, const char *id);

/* Runs cfg->iterations iterations of variant v of scenario s. The schema
 * must exist and hold s's tables; ctl is the control connection. Returns 0
 * (res filled; free with drv_result_free) or -1 on a setup or environment
 * failure, or a worker stuck past its deadline's cancel, with a one-line
 * reason. In that last case the stuck thread still runs: its memory and
 * connections are left to the process's exit, which must follow. */
int drv_run(const drv_config *cfg, const scenario *s, const scenario_variant *v, PGconn *ctl,
            drv_result *res, char *err, size_t errlen);

void drv_result_free(drv_result *res);

/* Parses "NAME=DURATION" into pauses. Returns 0 or -1 with a reason. */
int drv_pause_parse(drv_pauses *p, const char *text, char *err, size_t errlen);

#endif
