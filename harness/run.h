/*
 * run.h — the `run` command: a plan of (scenario, variant) pairs, each run
 * by the driver on the target, reported as TAP on stdout.
 */
#ifndef PGRACE_RUN_H
#define PGRACE_RUN_H

#include "harness/driver.h"

#include <stdbool.h>
#include <stdint.h>

/* Exit statuses of every command (README: "Exit status"). */
enum {
    EXIT_HELD = 0,          /* every invariant held */
    EXIT_VIOLATED = 1,      /* an invariant was violated */
    EXIT_USAGE = 2,         /* usage, setup or environment error */
};

typedef struct run_opts {
    int nworkers;
    long iterations;
    uint64_t seed;
    const char *dsn;
    const char *fault;
    const char *impl;           /* fixed (default), a variant name, or all */
    int retries;
    bool nworkers_given;        /* -n was given (a sweep defaults to 1 worker) */
    bool retries_given;
    drv_pauses pauses;
    const char *plan;           /* a scenario's fault plan by name, or NULL */
    bool fault_sweep;
    char **targets;             /* "SCENARIO" or "SCENARIO/VARIANT" */
    int ntargets;
    const char *junit;          /* --junit, --json, --html: report files, or NULL */
    const char *json;
    const char *html;
    long first_iteration;       /* --from-iteration: the first iteration's number (0: 1) */
    int times;                  /* each item runs this many times (replay; 1 otherwise) */
    const char *argv0;          /* for the repeat command */
    char **argv;                /* the whole command line, to re-execute with the shim */
} run_opts;

/* One (scenario, variant) pair of a plan. */
typedef struct plan_item {
    const scenario *scenario;
    const scenario_variant *variant;
} plan_item;

/* Expands targets and impl into a plan. Returns the number of items (at
 * least 1) with *items allocated, or -1 with a reason (unknown scenario or
 * variant). */
int plan_build(const run_opts *o, plan_item **items, char *err, size_t errlen);

/* What one plan item runs with: the options, with its fault plan applied. */
typedef struct item_settings {
    const char *plan;           /* "none", a scenario plan's name, or "fault-sweep" */
    const char *fault;          /* shim spec for every iteration, or NULL */
    bool sweep;
    int retries;
    int nworkers;
    drv_pauses pauses;
} item_settings;

/* Resolves the settings of item under o (--plan, --fault-sweep, --fault,
 * -n, --retries, --pause). Returns 0 or -1 with a reason (no such plan, a
 * plan's pause point that does not parse). */
int plan_settings(const run_opts *o, const plan_item *item, item_settings *out, char *err, size_t errlen);

struct report;
struct target;

/* One drive of one item: the part run, soak and replay share. */
typedef struct drive_args {
    struct target *target;
    const plan_item *item;
    const item_settings *settings;
    uint64_t seed;
    long first_iteration;       /* 0: from 1 */
    long iterations;            /* ignored by a sweep, which counts its own */
    struct report *rep;         /* begun here, ended by the caller; or NULL */
} drive_args;

/* Recreates the item's schema and runs its iterations with its settings
 * (its fault spec installed before every iteration, or a sweep). Returns 0
 * with res filled (drv_result_free it), or -1 with a reason. */
int run_drive(const drive_args *a, drv_result *res, char *err, size_t errlen);

/* Runs the command; returns its exit status. */
int run_main(const run_opts *o);

/* Writes the command that reruns iterations first..first+count-1 of item
 * alone — the same numbers, workers, retries, pauses, seed and fault spec —
 * into buf. */
void run_replay_command(const run_opts *o, const plan_item *item, const item_settings *st, long first,
                        long count, const char *fault_spec, char *buf, size_t len);

/* Writes the command that repeats item's run (with its seed) into buf. */
void run_repeat_command(const run_opts *o, const plan_item *item, const item_settings *st, char *buf,
                        size_t len);

#endif
