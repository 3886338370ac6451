/*
 * oracle.h — the serial oracle's judgement, whoever ran the calls: an
 * outcome is correct when some serial order of the calls that took effect,
 * each run alone from the same starting state, leaves the same final state
 * (engine/state.h) and gives every caller the same answer.
 *
 * A unit is what runs alone in a serial order: a scenario's call (an
 * attempt of a worker), a spec's transaction, an exec'd program's request.
 * Each unit is in, out or maybe:
 *   in     it took effect and its caller was answered (ok, or a refusal:
 *          409, 403, 404, 413): it is in every order, its answer compared;
 *   out    it failed and its caller was told so (its transaction rolled
 *          back): it must leave no trace, it is in no order;
 *   maybe  its outcome is unknown (a COMMIT whose answer was lost, a
 *          connection lost in a statement that may have committed): orders
 *          with it and without it are tried, its answer is not compared.
 * A lane (a worker, a session) keeps its units' order in every serial
 * order: a retry follows the attempt it retried.
 *
 * The orders: every order of the in units and of each subset of the maybe
 * ones (the largest subsets first), searched depth first with the units
 * that took effect first tried first, so that the first order tried is
 * the concurrent run's own. A serial run is deterministic, so an answer
 * that differs at position k rules out every order that begins with the
 * same k+1 units, and the search skips them. The search stops at the
 * first order that matches, or when every order is run or ruled out (the
 * verdict is exact), or after ORACLE_MAX_RUNS serial runs (the verdict
 * says the search was cut).
 *
 * What it costs: a serial order's outcome depends only on the iteration's
 * inputs, which the caller names in a key (a workload and which units are
 * in, out or maybe; not the iteration's number). Outcomes are kept by key
 * and order (oracle_memo; the newest 8 of each, from as many iterations: a
 * key that names no workload, an exec'd program's, meets several), and an
 * iteration is first compared with those, its number read as a
 * placeholder in theirs and its own (state.h). Only when none matches are
 * the orders run for this iteration itself: a violation is never declared
 * on another iteration's outcome.
 *
 * A backend runs the serial orders: engine/serial.c for scenarios (and for
 * `pgrace exec`'s programs, each rerun alone in the run's own schema), the
 * spec runner for spec files.
 */
#ifndef PGRACE_ORACLE_H
#define PGRACE_ORACLE_H

#include "engine/state.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>


#define ORACLE_MAX_RUNS 128     /* serial runs for one iteration, at most */
#define ORACLE_INVARIANT_ID "serial"
#define ORACLE_INVARIANT "the outcome is one some serial order of the calls produces"

/* What --oracle asks for. */
typedef enum oracle_mode {
    ORACLE_OFF,
    ORACLE_SERIAL,              /* "serial": the invariants and the oracle */
    ORACLE_SERIAL_ONLY,         /* "serial-only": the oracle alone (a scenario's invariants, a spec's off) */
} oracle_mode;

/* "serial" or "serial-only" into *m; -1 for anything else. */
int oracle_mode_parse(const char *text, oracle_mode *m);
const char *oracle_mode_name(oracle_mode m);

/* What a run's report says of its oracle (settings "oracle"): null when
 * off, else {mode, columns, tables, mask}; and back, for replay (strings
 * point into j). */
json_t *oracle_settings_json(oracle_mode m, const state_opts *so);
int oracle_settings_read(json_t *j, oracle_mode *m, state_opts *so, char *err, size_t errlen);

typedef enum oracle_take { ORACLE_OUT, ORACLE_IN, ORACLE_MAYBE } oracle_take;

typedef struct oracle_unit {
    int lane;                   /* its units keep their order */
    oracle_take take;
    char name[64];              /* "worker 2 (retry)", "s1: r1 w1 c1" */
    const char *answer;         /* what its caller got (the caller's string), or NULL */
    int64_t t_effect;           /* when it took effect (any clock), or a time just before: the first
                                 * order tried follows it. Of two units that conflict, the second's
                                 * must be later: the time its last statement was sent is (it was
                                 * sent after the first one's COMMIT reached the server) */
} oracle_unit;

/* Runs units[order[0]], units[order[1]] ... one at a time, in that order,
 * from the iteration's starting state, and reads the state they leave:
 * *st, and answers[k] (a new string, or NULL) for order[k]. Returns 0, 1
 * when this order cannot run (a step would wait for a lock only a later
 * one releases), or -1 with a reason. */
typedef int (*oracle_serial_fn)(void *arg, const int *order, int n, state **st, char **answers, char *err,
                                size_t errlen);

typedef struct oracle_memo oracle_memo;

oracle_memo *oracle_memo_new(void);
void oracle_memo_free(oracle_memo *m);

typedef struct oracle_check_in {
    const state_desc *desc;
    const state *concurrent;    /* what the concurrent run left */
    const oracle_unit *units;
    int nunits;
    const char *key;            /* the iteration's inputs, without its number */
    long iteration;
    oracle_serial_fn serial;
    void *arg;
    oracle_memo *memo;          /* or NULL: nothing kept */
    const char *unit_word;      /* what a unit is called in the evidence ("transaction"; NULL: "call") */
} oracle_check_in;

typedef struct oracle_verdict {
    int held;                   /* 1 held, 0 violated, -1 no order could run */
    long space;                 /* orders there are (saturating) */
    int orders;                 /* orders considered in the runs' pass (run, or ruled out before) */
    int ran;                    /* serial runs made for this iteration */
    bool cut;                   /* the search stopped at ORACLE_MAX_RUNS, not exhausted */
    json_t *found;              /* a violation's evidence (owned): found, the outcomes, the difference */
} oracle_verdict;

/* Judges one iteration. Returns 0 (v filled; json_decref v->found) or -1
 * with a reason (a backend's failure). */
int oracle_check(const oracle_check_in *in, oracle_verdict *v, char *err, size_t errlen);

/* The verdict's sentence when no order ran ("every serial order ..."). */
#define ORACLE_NO_ORDER "no serial order could run: each one waits for a lock only a later unit releases"

#endif
