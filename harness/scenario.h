/*
 * scenario.h — the interface between the driver and a reference operation.
 *
 * A scenario is one struct of callbacks: the schema it needs, per-iteration
 * setup of fresh rows, its operation in a fixed form and in each pre-fix
 * form, and the invariants that must hold after every iteration. A new
 * scenario is one file in scenarios/ plus one line in scenarios/registry.c.
 *
 * Iterations are independent: setup creates the rows of iteration i (keyed
 * by i), the N calls of that iteration touch only them, and the invariants
 * check only them.
 */
#ifndef PGRACE_SCENARIO_H
#define PGRACE_SCENARIO_H

#include "lib/pq.h"
#include "lib/rng.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

struct drv_pauses;

/* One call of an operation by one worker: the driver fills the inputs, the
 * operation fills out (and result). */
typedef struct drv_call {
    /* inputs */
    PGconn *conn;
    PGconn *conn2;              /* a second connection, when the scenario asks
                                 * for two per worker (two stores that share no
                                 * transaction); else NULL */
    int worker;                 /* 0-based */
    int nworkers;
    long iteration;
    int attempt;                /* 0 for the first call, then retries */
    pqx_trace *trace;
    rng *rng;                   /* this worker's stream */
    const struct drv_pauses *pauses;
    /* outputs */
    outcome out;
    char result[64];            /* what the caller got back (an id), or "" */
    int64_t t_start, t_end;     /* clock_now_ns() around the call */
    int faults;                 /* faults the shim injected into this call */
    char fault[160];            /* the first of them: rule, statement, SQL */
} drv_call;

/* What an invariant check sees after an iteration. */
typedef struct inv_ctx {
    PGconn *ctl;                /* the control connection, search_path set */
    long iteration;
    const drv_call *calls;      /* every attempt of every worker, in order */
    int ncalls;
    int nworkers;
    json_t *found;              /* on violation: what was found, as fields */
    char *err;                  /* on -1: why the check could not run */
    size_t errlen;
} inv_ctx;

typedef struct scenario_variant {
    const char *name;           /* "fixed" is always variants[0] */
    const char *summary;
    void (*op)(drv_call *c);
    /* The plans that catch this pre-fix form in every run under default
     * settings, space-separated: "none" when concurrency alone does;
     * NULL for the fixed form (which must pass under every plan). */
    const char *caught_by;
} scenario_variant;

/* A fault plan: the faults a run injects and how the callers react. The
 * plan "none" (no faults, no retries) is implicit and not listed. */
typedef struct scenario_plan {
    const char *name;
    const char *summary;
    const char *fault;          /* a shim spec applied to every iteration, or NULL */
    bool sweep;                 /* instead: one iteration per statement position of
                                 * a clean call, for each action (error, drop,
                                 * ambiguous), aimed at worker 1's connection */
    int retries;                /* a failed call is retried this many times */
    int nworkers;               /* 0: the run's -n */
    const char *pause;          /* "POINT=DURATION" applied to every variant alike, or NULL */
} scenario_plan;

/* A new, empty list for an invariant's violations. When it cannot be had,
 * clears r (the rows the invariant holds, or NULL), says why in ctx->err
 * and returns NULL: the invariant then returns -1, so that a list that
 * could not be built never reads as "no violation". */
json_t *inv_list(inv_ctx *ctx, PGresult *r);

/* Fills x->found for a violation: the iteration's rows ("record": the
 * iteration number), what was found, and, under key, a list of details
 * (taken; dropped when NULL or empty). Returns 0, an invariant's
 * "violated". */
int inv_violated(inv_ctx *x, const char *found, const char *key, json_t *details);

typedef struct scenario_invariant {
    const char *name;
    /* 1: held; 0: violated (fields added to ctx->found); -1: check failed. */
    int (*check)(inv_ctx *ctx);
} scenario_invariant;

typedef struct scenario {
    const char *name;
    const char *summary;
    const char *seed;           /* the source text it comes from */
    const char *schema_sql;     /* DDL, run once per variant run in a fresh schema */
    /* Creates iteration i's rows. Returns 0, or -1 with a reason. */
    int (*setup)(PGconn *ctl, long iteration, int nworkers, char *err, size_t errlen);
    const scenario_variant *variants;
    int nvariants;
    const scenario_invariant *invariants;
    int ninvariants;
    /* Pause points the operation offers, NULL-terminated, with what each
     * widens ("after-guard: between the guard read and the first write"). */
    const char *const *pause_points;
    const scenario_plan *plans;
    int nplans;
    int conns_per_worker;       /* 1 (also when 0) or 2 */
} scenario;

/* The fields of a scenario that come from its static tables, which every
 * scenario file names alike: variants, invariants, plans, pause_points. */
#define SCENARIO_TABLES                                                   \
    .variants = variants,                                                 \
    .nvariants = (int)(sizeof variants / sizeof variants[0]),             \
    .invariants = invariants,                                             \
    .ninvariants = (int)(sizeof invariants / sizeof invariants[0]),       \
    .plans = plans, .nplans = (int)(sizeof plans / sizeof plans[0]),      \
    .pause_points = pause_points

/* The registry: every scenario, NULL-terminated (scenarios/registry.c). */
extern const scenario *const scenario_registry[];

const scenario *scenario_find(const char *name);
const scenario_variant *scenario_variant_find(const scenario *s, const char *name);

/* Sleeps at a named pause point if the run configured one (--pause NAME=D);
 * the same point sits at the same place in every variant, so a pause widens
 * a race window without favouring any form. */
void drv_pause(const drv_call *c, const char *point);

/* Runs one statement of c's operation on c->conn; on failure fills c->out
 * and returns -1. */
int call_exec(drv_call *c, PGresult **res, const char *sql, int nparams, const char *const *params);

/* The same on another of the worker's connections (c->conn2). */
int call_exec_on(drv_call *c, PGconn *conn, PGresult **res, const char *sql, int nparams,
                 const char *const *params);

/* Ends c as failed: rolls back whatever transaction is open on c->conn,
 * keeps c->out (the failure). */
void call_failed(drv_call *c);

/* Ends c with kind and an optional result; the outcome is reset, so a
 * failure the operation resolved on the way (a 23505 mapped to the existing
 * row) does not show as the call's error. */
void call_done(drv_call *c, outcome_kind kind, const char *result);

/* Ends c refused by the operation's own rules (conflict), with why: an open
 * transaction on c->conn is rolled back, so the refusal writes nothing. */
void call_refuse(drv_call *c, const char *why);

#endif
