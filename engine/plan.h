/*
 * plan.h — what a run runs: (scenario, variant) pairs expanded from the
 * command line, and the settings each runs with once its fault plan is
 * applied. The reports read these; nothing here runs anything.
 */
#ifndef PGRACE_PLAN_H
#define PGRACE_PLAN_H

#include "engine/driver.h"
#include "engine/state.h"

#include <jansson.h>
#include <stdbool.h>

struct run_opts;

/* Where an item comes from when it is not a scenario of the registry (a
 * user's program, which pgrace exec runs as a scenario it makes): what the
 * record says it is and the words of the commands that repeat it. Its
 * strings and settings live as long as the item. */
typedef struct item_origin {
    const char *kind;           /* the record's item kind: "exec" */
    json_t *settings;           /* what it runs (its own keys of the record's settings) */
    const char *command;        /* a command's words before its options ("pgrace exec --setup F ...") */
    const char *tail;           /* ... and after them (" -- CMD ARG...") */
    /* Every explored round runs this iteration (its setup recreates its rows
     * each round, so the program sees the same iteration each time); 0:
     * rounds run fresh iterations of one workload, as a scenario's do. */
    long explore_iteration;
} item_origin;

/* One (scenario, variant) pair of a plan. */
typedef struct plan_item {
    const scenario *scenario;
    const scenario_variant *variant;
    const item_origin *origin;  /* NULL: a scenario of the registry */
} plan_item;

/* What one plan item runs with: the options, with its fault plan applied. */
typedef struct item_settings {
    const char *plan;           /* "none", a scenario plan's name, or "fault-sweep" */
    const char *fault;          /* fault rules for every iteration, or NULL */
    bool sweep;
    int retries;
    int nworkers;
    drv_pauses pauses;
    int64_t call_timeout_ns;
    const char *params;         /* the plan's, for call_param, or NULL */
    int failfast_on;            /* --failfast=ID: its invariant's index (drv_invariant_find); else -1 */
    const state_opts *oracle_opts;  /* --oracle-column, --oracle-table, --oracle-mask, or NULL */
    bool no_conn_check;         /* --no-conn-check */
} item_settings;

/* Expands the options' targets and --impl into a plan. Returns the number
 * of items (at least 1) with *items allocated, or -1 with a reason (unknown
 * scenario or variant). With --oracle, each item's scenario is the one the
 * oracle makes of it (engine/serial.h), kept in the same allocation. */
int plan_build(const struct run_opts *o, plan_item **items, char *err, size_t errlen);

/* Resolves the settings of item under o (--plan, --fault-sweep, --fault,
 * -n, --retries, --pause, --call-timeout). Returns 0 or -1 with a reason
 * (no such plan; a pause point the scenario does not have). */
int plan_settings(const struct run_opts *o, const plan_item *item, item_settings *out, char *err, size_t errlen);

/* The label of an item in every report: "attestation/no-tx" or
 * "attestation/no-tx [sweep]" (a variant with no name: the scenario's
 * alone, "attestation-go no-lock [sweep]"). */
void plan_label(const plan_item *item, const item_settings *st, char *buf, size_t len);

#endif
