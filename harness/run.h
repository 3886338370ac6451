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
    drv_pauses pauses;
    char **targets;             /* "SCENARIO" or "SCENARIO/VARIANT" */
    int ntargets;
    const char *argv0;          /* for the repeat command */
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

/* Runs the command; returns its exit status. */
int run_main(const run_opts *o);

/* Writes the command that repeats run o (with its seed) into buf. */
void run_repeat_command(const run_opts *o, const plan_item *item, char *buf, size_t len);

#endif
