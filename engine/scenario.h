/*
 * scenario.h — everything a scenario's author needs (and nothing else is).
 *
 * A scenario is a real transactional operation, written over libpq in its
 * fixed form and in the pre-fix forms that had the bug, with the invariants
 * that must hold after N concurrent calls of it. Adding one:
 *
 *   1. one file, scenarios/NAME.c, defining `const scenario scenario_NAME`
 *      (schema, per-iteration setup, variants, invariants; optionally fault
 *      plans, pause points and pinned guarantees — see `scenario` below);
 *   2. one line, SCENARIO(NAME), in scenarios/list.h (scenarios/registry.h
 *      makes the list the command line hands to every mode).
 *
 * Nothing else: `pgrace list` shows it, `pgrace run NAME` runs it and
 * `pgrace explore NAME` enumerates its schedules, the README's detection
 * matrix and guarantee table are generated from it (`pgrace list --matrix`
 * and `--guarantees`, which t/50-matrix.t compares with the README; paste
 * the new rows in), the suite's matrix test runs every plan of it and
 * t/55-pins.t removes each pinned guarantee in turn.
 *
 * How a run calls it. Iterations are independent: setup creates iteration
 * i's rows (keyed by i), then N workers — each a thread with its own
 * connection(s) — are released at once, each makes one call of the
 * variant's operation (retried after a failure when the plan says so, as a
 * client would), and when all are done every invariant checks iteration
 * i's rows on the control connection. A call has a deadline (--call-timeout,
 * 10 s by default): a call still running then is cancelled, and the
 * driver's own invariant reports it with the server's account of who
 * waited on whom; an operation needs no timeouts of its own.
 */
#ifndef PGRACE_SCENARIO_H
#define PGRACE_SCENARIO_H

#include "lib/pq.h"
#include "lib/rng.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

/* ------------------------------------------------------------------ */
/* The operation's side: one call                                      */
/* ------------------------------------------------------------------ */

typedef struct call_state call_state;   /* the driver's record of the call */

/* What the driver hands one call. An operation receives it const: it reads
 * these fields and passes c to the call_* functions below, which are the
 * only way a call reports what it came to. */
typedef struct drv_call {
    PGconn *conn;               /* the worker's connection */
    PGconn *conn2;              /* a second one when the scenario asks for two per
                                 * worker (stores that share no transaction), else NULL */
    int worker;                 /* 0-based */
    int nworkers;
    long iteration;
    int attempt;                /* 0 for the first call, then retries */
    rng *rng;                   /* this worker's stream of the run's seed */
    call_state *state;          /* the driver's; only the call_* functions use it */
} drv_call;

/* HTTP-like statuses: what the seeds' handlers answer. An ending below
 * records one, every report shows it, and an invariant may check the
 * mapping where a seed specifies one. */
enum {
    STATUS_OK = 200,
    STATUS_FORBIDDEN = 403,
    STATUS_NOT_FOUND = 404,
    STATUS_CONFLICT = 409,
    STATUS_TOO_LARGE = 413,
    STATUS_ERROR = 500,
    STATUS_UNAVAILABLE = 503,
};

/* Runs one statement of the call on c->conn, recorded in the call's trace
 * (and seen by the fault shim and the explorer's gate like any statement).
 * Returns 0 with *res (PGRES_COMMAND_OK or PGRES_TUPLES_OK; PQclear it; res
 * may be NULL to discard it), or -1: the failure — SQLSTATE, one-line
 * message, retryable or not, connection lost, COMMIT's outcome unknown — is
 * recorded as the call's outcome, for call_failed to end the call with (or
 * for the operation to resolve: see call_sqlstate). */
int call_exec(const drv_call *c, PGresult **res, const char *sql, int nparams, const char *const *params);

/* The same on another of the worker's connections (c->conn2). */
int call_exec_on(const drv_call *c, PGconn *conn, PGresult **res, const char *sql, int nparams,
                 const char *const *params);

/* The same, but a failure does not become the call's outcome: for the
 * statements an operation runs while handling a failure it has already
 * recorded (rolling back the other store, writing an orphan marker).
 * Returns 0 or -1 (o, when not NULL, filled either way). */
int call_exec_aside(const drv_call *c, PGconn *conn, outcome *o, PGresult **res, const char *sql, int nparams,
                    const char *const *params);

/* The SQLSTATE of the failure the last call_exec recorded ("" if none):
 * for an operation that resolves a failure itself (a 23505 mapped to the
 * existing row) instead of failing with it. */
const char *call_sqlstate(const drv_call *c);

/* Rolls back the transaction open on c->conn, if any (errors ignored: it
 * only returns the session to idle). For an operation that goes on after a
 * failure it resolved; an ending that refuses or fails does it itself. */
void call_rollback(const drv_call *c);

/* Ending a call: every path of an operation ends with exactly one of these
 * (a call that returns without, or ends twice, is reported as an error). */

/* The call took effect: status 200, and what the caller gets back (an id,
 * a count), or NULL. It does not touch the connection: COMMIT first —
 * call_commit_ok does both in the order that is a guarantee. */
void call_ok(const drv_call *c, const char *result);

/* COMMIT, then call_ok(result) once COMMIT succeeded; a failed COMMIT ends
 * the call failed (its outcome may be indeterminate). The order is a
 * pinned guarantee of every fixed form ("commit-before-ok"): the mutation
 * build hands out ok first and commits without looking. */
void call_commit_ok(const drv_call *c, const char *result);

/* The operation's own rules said no (already verified: 409; vanished: 404;
 * too large: 413; ...): a conflict with that status and why. The
 * transaction open on c->conn is rolled back, so a refusal writes nothing. */
void call_refuse(const drv_call *c, int status, const char *why);

/* The statement failure call_exec recorded ends the call, with context
 * ("vault write failed, rolled back") before the server's message when not
 * NULL; the status is the scenario's error_status. The transaction open on
 * c->conn is rolled back. */
void call_failed(const drv_call *c, const char *context);

/* A failure the operation detects itself — a row that must exist does not,
 * bad data, out of memory — ends the call as an error with why (no
 * SQLSTATE) and the scenario's error_status; the transaction is rolled
 * back. */
void call_fail(const drv_call *c, const char *why);

/* The value of the plan's parameter name ("lock_timeout" of a plan's
 * params "lock_timeout=200ms"), or dflt when the plan sets none: how a
 * plan shortens a constant of the operation for a test without a second
 * copy of the code. */
const char *call_param(const drv_call *c, const char *name, const char *dflt);

/* Sleeps at a named pause point when the run configured one (--pause
 * NAME=DURATION, or a plan's pause); the same point sits at the same place
 * in every variant, so a pause widens a race window without favouring any
 * form. A call past its deadline is woken. */
void drv_pause(const drv_call *c, const char *point);

/* A pinned guarantee of a fixed form (see scenario.pins): true in a normal
 * build; the mutation build (make MUTANTS=1, used by t/55-pins.t) makes it
 * false for the one guarantee named by $PGRACE_MUTANT ("SCENARIO/NAME"), so
 * that the suite proves the pin's plan catches its loss. Write the fixed
 * form as `if (GUARANTEE(c, "for-update")) <the guarantee> else <its loss>`:
 * the loss is the smallest change that removes the guarantee (a dropped
 * FOR UPDATE, a skipped read), never a rewrite. */
#ifdef PGRACE_MUTANTS
bool call_guarantee(const drv_call *c, const char *name);
#define GUARANTEE(c, name) call_guarantee((c), (name))
#else
#define GUARANTEE(c, name) ((void)(c), true)
#endif

/* ------------------------------------------------------------------ */
/* The invariants' side: what every call came to                      */
/* ------------------------------------------------------------------ */

/* One call as the invariants (and the reports) see it afterwards. */
typedef struct call_record {
    int worker;                 /* 0-based */
    int attempt;
    outcome out;                /* kind, status, SQLSTATE, message; conn_lost,
                                 * indeterminate (see call_maybe_committed) */
    char result[64];            /* what call_ok handed back, or "" */
    int faults;                 /* faults the shim injected into this call */
    char fault[160];            /* the first of them: rule, statement, SQL */
    bool timed_out;             /* cancelled at the deadline */
    int64_t t_start, t_end;     /* clock_now_ns() around the call */
    const pqx_trace *trace;     /* its statements */
    const PGconn *conn;         /* the worker's first connection (which trace events are on it) */
} call_record;

/* Whether c's writes may be in the database although it did not get ok:
 * its connection broke during COMMIT (an ambiguous commit: the server may
 * have committed). An invariant must accept either state for such a call —
 * "failed, so it wrote nothing" holds only for a call that is not
 * indeterminate — and a retry of it may find its own earlier writes. */
bool call_maybe_committed(const call_record *c);

/* What an invariant check sees after an iteration. */
typedef struct inv_ctx {
    PGconn *ctl;                /* the control connection, search_path set */
    long iteration;
    const call_record *calls;   /* every attempt of every worker, in order */
    int ncalls;
    int nworkers;
    json_t *found;              /* on violation: what was found, as fields */
    char *err;                  /* on -1: why the check could not run */
    size_t errlen;
} inv_ctx;

/* A new, empty list for an invariant's violations. When it cannot be had,
 * clears r (the rows the invariant holds, or NULL), says why in ctx->err
 * and returns NULL: the invariant then returns -1, so that a list that
 * could not be built never reads as "no violation". */
json_t *inv_list(inv_ctx *ctx, PGresult *r);

/* Fills x->found for a violation: the iteration ("record"), what was
 * found, and, under key, a list of details (taken; dropped when NULL or
 * empty). Add more fields to x->found after it when useful. Returns 0, an
 * invariant's "violated". */
int inv_violated(inv_ctx *x, const char *found, const char *key, json_t *details);

/* ------------------------------------------------------------------ */
/* The scenario                                                        */
/* ------------------------------------------------------------------ */

#define SCENARIO_MAX_CATCH 4

/* A plan that catches a pre-fix form in every run under default settings,
 * and the invariant that reports it there. */
typedef struct scenario_catch {
    const char *plan;           /* "none": concurrency alone catches it */
    const char *invariant;      /* the name of one of the scenario's invariants */
} scenario_catch;

typedef struct scenario_variant {
    const char *name;           /* "fixed" is always variants[0] */
    const char *summary;
    void (*op)(const drv_call *c);
    /* A pre-fix form: where it is caught (t/4x-*.t repeats each 20 times
     * in a row; the matrix lists them). Empty for the fixed form, which
     * must hold under every plan. */
    scenario_catch caught[SCENARIO_MAX_CATCH];
} scenario_variant;

typedef struct scenario_invariant {
    const char *name;
    /* 1: held; 0: violated (x->found filled, through inv_violated); -1: the
     * check could not run (x->err filled). */
    int (*check)(inv_ctx *x);
} scenario_invariant;

/* A fault plan: the faults a run injects and how the callers react. The
 * plan "none" (no faults, no retries) is implicit and not listed. */
typedef struct scenario_plan {
    const char *name;
    const char *summary;
    const char *fault;          /* fault rules installed afresh for every iteration, or NULL */
    bool sweep;                 /* instead: one iteration per statement position of
                                 * a clean call, for each action (error, drop,
                                 * ambiguous), aimed at worker 1's connection */
    int retries;                /* a failed call is retried this many times */
    int nworkers;               /* 0: the run's -n */
    const char *pause;          /* "POINT=DURATION" for every variant alike, or NULL */
    const char *params;         /* "NAME=VALUE ...": settings the operation reads with
                                 * call_param, for every variant alike (a shorter
                                 * lock_timeout, so a test need not wait the seed's 3s) */
    const char *call_timeout;   /* this plan's call deadline ("2s"), or NULL: the run's */
} scenario_plan;

/* A guarantee the fixed form provides, pinned: the mutation build removes
 * it (GUARANTEE(c, name) false in the operation, or unpin_sql run after
 * the schema) and t/55-pins.t shows that plan reports a violation. Every
 * scenario pins "commit-before-ok" (call_commit_ok's order). */
typedef struct scenario_pin {
    const char *name;           /* GUARANTEE(c, name) in the operation */
    const char *what;           /* the guarantee, in the seed's words */
    const char *plan;           /* the plan ("none" or one of plans) that catches its loss */
    const char *unpin_sql;      /* DDL that removes it from the schema, or NULL */
} scenario_pin;

typedef struct scenario {
    const char *name;
    const char *summary;
    const char *seed;           /* the source text in ../shared/seeds/ it comes from */
    const char *schema_sql;     /* DDL, run in a fresh schema before each variant's run */
    /* Creates iteration i's rows on the control connection. Returns 0, or
     * -1 with a reason in err. */
    int (*setup)(PGconn *ctl, long iteration, int nworkers, char *err, size_t errlen);
    int conns_per_worker;       /* 1 (also when 0) or 2: worker i is then the shim's
                                 * connections 2i+1 and 2i+2 */
    /* Workloads. Iterations may differ in what their workers do (a near-cap
     * stack, a teardown, racers or retriers...): then that must depend on
     * iteration % workload_period only (0 or 1: every iteration alike), and
     * workload(i) says which workload iteration i runs (NULL: i % period,
     * each residue its own). The explorer explores one residue of each
     * workload apart, so that every workload gets every schedule. */
    int workload_period;
    int (*workload)(long iteration);
    int error_status;           /* a failed call's status (0: STATUS_ERROR) */
    /* The tables, set with the macros below. */
    const scenario_variant *variants;
    int nvariants;
    const scenario_invariant *invariants;
    int ninvariants;
    const scenario_plan *plans;         /* optional */
    int nplans;
    const char *const *pause_points;    /* optional: "NAME: what it widens" */
    int npause_points;
    const scenario_pin *pins;           /* optional */
    int npins;
} scenario;

#define SCENARIO_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define VARIANTS(a) .variants = (a), .nvariants = SCENARIO_COUNT(a)
#define INVARIANTS(a) .invariants = (a), .ninvariants = SCENARIO_COUNT(a)
#define PLANS(a) .plans = (a), .nplans = SCENARIO_COUNT(a)
#define PAUSE_POINTS(a) .pause_points = (a), .npause_points = SCENARIO_COUNT(a)
#define PINS(a) .pins = (a), .npins = SCENARIO_COUNT(a)

/* The scenario of a NULL-terminated list (scenarios/registry.h's) by name,
 * or NULL. */
const scenario *scenario_find(const scenario *const *registry, const char *name);
const scenario_variant *scenario_variant_find(const scenario *s, const char *name);

/* The name of pause point i ("after-guard" of "after-guard: ..."), into
 * buf. */
const char *scenario_pause_name(const scenario *s, int i, char *buf, size_t len);

#endif
