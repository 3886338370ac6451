/*
 * run.h — running a spec's permutations as isolationtester runs them.
 *
 * A runner holds one connection per session plus a control connection (the
 * spec's setup and teardown, the invariants, and lib/blocking's question
 * "is this session blocked by another one?"). spec_run_permutation runs one
 * permutation — setup, the steps in order, each sent on its session's
 * connection and either completed or found blocked, the invariants, the
 * teardowns — and prints what isolationtester prints, byte for byte.
 *
 * It is the one entry point for every caller: `pgrace isolation` feeds it
 * the spec's permutations (or every interleaving), `pgrace spec` the same
 * with faults and invariants, and an explorer any permutation it generates
 * (a list of steps, each optionally with a fault).
 */
#ifndef PGRACE_SPEC_RUN_H
#define PGRACE_SPEC_RUN_H

#include "isolation/spec.h"
#include "engine/state.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct spec_runner spec_runner;

typedef struct spec_runner_opts {
    const char *conninfo;       /* every connection's server (libpq defaults apply) */
    const char *ctl_conninfo;   /* or, when conninfo is a pooler's, the control connection's (direct):
                                 * the sessions are then known to the server by their application_name
                                 * (appname, which must be set, "/" session), not by PQbackendPID */
    const char *schema;         /* search_path of every connection, or NULL (untouched) */
    const char *appname;        /* application_name prefix ("pgrace/<schema>"), or NULL:
                                 * isolationtester's (the current one + "/" + session) */
    FILE *out;                  /* what isolationtester prints on stdout */
    FILE *err;                  /* ... and on stderr (the same stream is fine) */
    int64_t step_timeout_ns;    /* a step is canceled after this, abandoned after twice it */
    bool reconnect;             /* a session whose connection was lost (a fault) gets a new one */
    /* pgrace spec's two departures from isolationtester, which waits out
     * its timeout on a permutation the server cannot follow, cancels the
     * step and prints the rest as if the permutation had run: */
    bool infeasible_fails;      /* a step due on a session whose statement the server says waits for
                                 * sessions that only a later step could release (they are idle, or
                                 * wait in turn on idle ones; not a wait cycle, which the deadlock
                                 * detector breaks), or a permutation whose last steps wait so, ends
                                 * at once: spec_run_permutation returns 1 */
    bool cancel_fails;          /* a step not complete within step_timeout_ns (nor released by another
                                 * within it, when its session's next step is due) is canceled and ends
                                 * the permutation at once (-1, err says so): what would follow did
                                 * not run as written. isolationtester goes on after the cancel, and
                                 * gives up only at twice its timeout */
} spec_runner_opts;

/* Opens the connections. Returns the runner, or NULL with isolationtester's
 * message in err ("Connection 1 failed: ...", possibly several lines). */
spec_runner *spec_runner_open(const spec *s, const spec_runner_opts *o, char *err, size_t errlen);

/* What the next permutations also record, for the serial oracle
 * (isolation/oracle.h). Nothing, until set. */
typedef struct spec_observe {
    const state_opts *state;    /* the spec's tables, read before the invariants (engine/state.h), or NULL */
    bool steps;                 /* each step's results (res->steps) */
    bool lazy_setup;            /* a session's setup runs just before its first step, not all at the start:
                                 * a serial run begins each session's first transaction in its turn */
    bool no_invariants;         /* the spec's invariants are not run */
} spec_observe;

void spec_runner_set_observe(spec_runner *r, const spec_observe *ob);

/* One permutation step as observed. */
typedef struct spec_step_result {
    bool done;                  /* it completed */
    char *output;               /* what it returned, canonically: each result's columns and rows, "|"
                                 * between values and no padding; each error's primary message */
    bool error;                 /* a result was an error */
    bool lost;                  /* its connection was lost */
    PGTransactionStatusType txn;    /* its session's transaction status after it */
    char tag[24];               /* its last result's command tag ("COMMIT", "ROLLBACK" ...) */
    long seq;                   /* when it completed: 1 for the permutation's first to, ... */
} spec_step_result;

/* What one permutation came to, beyond what it printed. */
typedef struct spec_perm_result {
    json_t *violations;         /* [{invariant, count, rows | error}] for each invariant that
                                 * returned rows or failed; NULL when none did */
    int faults;                 /* step faults carried out */
    /* When observed: */
    spec_step_result *steps;    /* per permutation step */
    int nsteps;
    struct state_desc *desc;    /* the tables as they were read, and their rows */
    struct state *state;
} spec_perm_result;

/* Frees what res holds. */
void spec_perm_result_free(spec_perm_result *res);

/* Runs one permutation (steps[0..nsteps), each linked to its spec step).
 * Returns 0 when it ran to the end (a failing step is an ordinary outcome),
 * 1 when it is infeasible (infeasible_fails: err says which step waits on
 * which session), or -1 when it could not (setup failed, a step timed out
 * or was canceled, steps blocked each other): the reason is printed on the
 * err stream as isolationtester prints it, and summarised in err (one
 * line). After 1 or -1 the runner is in an unknown state: spec_runner_reset
 * it before another permutation. res may be NULL; when not,
 * spec_perm_result_free it. */
int spec_run_permutation(spec_runner *r, const spec_pstep *steps, int nsteps, spec_perm_result *res, char *err,
                         size_t errlen);

/* Replaces every connection with a new one (the server rolls back what the
 * old ones held) and runs the spec's teardown on the new control
 * connection, errors ignored. Returns 0 or -1 with a reason. */
int spec_runner_reset(spec_runner *r, char *err, size_t errlen);

/* Where the next permutations print (out) and report (err): a caller that
 * keeps each permutation's output apart gives each its own stream. */
void spec_runner_set_output(spec_runner *r, FILE *out, FILE *err);

/* The control connection (for checks of the caller's own). */
PGconn *spec_runner_control(spec_runner *r);

void spec_runner_close(spec_runner *r);

#endif
