/*
 * drive.h — what every mode that drives scenarios is given (run_opts,
 * filled by cli/ from the command line) and one drive of one item: its
 * schema recreated, its fault rules installed before every iteration, the
 * driver run, the record fed (run, soak, replay and explore share it).
 */
#ifndef PGRACE_DRIVE_H
#define PGRACE_DRIVE_H

#include "lib/exit.h"
#include "engine/oracle.h"
#include "engine/plan.h"
#include "lib/pooler.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct run_opts {
    int nworkers;
    long iterations;
    uint64_t seed;
    bool seed_given;
    const char *dsn;
    pooler_mode pooler;         /* --pooler: the workers through pgbouncer (POOLER_NONE: directly) */
    bool no_conn_check;         /* --no-conn-check: what a call leaves on its connection is not checked */
    const char *fault;
    const char *impl;           /* fixed (default), a variant name, or all */
    int retries;
    bool nworkers_given;        /* -n was given (a sweep defaults to 1 worker) */
    bool iterations_given;      /* -i was given (a sweep counts its own) */
    bool retries_given;
    drv_pauses pauses;
    int64_t call_timeout_ns;    /* --call-timeout (0: the driver's default) */
    const char *plan;           /* a scenario's fault plan by name, or NULL */
    const char *params;         /* --params: the operation's settings (as a plan's params), or NULL */
    bool fault_sweep;
    const scenario *const *registry;    /* the scenarios targets name (scenarios/registry.h), set by cli/ */
    char **targets;             /* "SCENARIO" or "SCENARIO/VARIANT" */
    int ntargets;
    const char *junit;          /* --junit, --json, --html: report files, or NULL */
    const char *json;
    const char *html;
    long first_iteration;       /* --from-iteration: the first iteration's number (0: 1) */
    int times;                  /* each item runs this many times (replay; 1 otherwise) */
    const char *schedule;       /* --schedule TOKEN: replay this schedule (explore/) */
    const plan_item *items;     /* the items, given by the mode (pgrace exec's program) instead of
                                 * targets; NULL: from targets and the registry */
    int nitems;
    bool failfast;              /* --failfast: an item stops at its first violating iteration */
    const char *failfast_on;    /* --failfast=ID: ... that violates this invariant (NULL: any) */
    oracle_mode oracle;         /* --oracle: the serial oracle's invariant (engine/serial.h) */
    state_opts oracle_opts;     /* --oracle-column, --oracle-table, --oracle-mask */
    const char *mode;           /* the record's mode (NULL: "run"; replay runs as "replay") */
    const char *argv0;          /* for the repeat command */
    char **argv;                /* the whole command line, to re-execute with the shim */
} run_opts;

struct report;
struct target;

/* One drive of one item: the part run, soak and replay share. */
typedef struct drive_args {
    struct target *target;
    const plan_item *item;
    const item_settings *settings;
    uint64_t seed;
    long first_iteration;       /* 0: from 1 */
    long iteration_step;        /* 0: 1 */
    bool repeat_iteration;      /* every round runs first_iteration (drv_config's) */
    long iterations;            /* ignored by a sweep, which counts its own */
    bool failfast;              /* stop after the first iteration that violates an invariant */
    int failfast_on;            /* ... this one (an index of drv_invariant_id), or -1: any */
    struct report *rep;         /* the record every iteration goes into (engine/record.h), or NULL */
    struct rep_item *ritem;     /* ... its item, begun and ended by the caller */
    /* The caller's hooks (the explorer's), all optional: before each
     * iteration (after the item's fault rules are installed; > 0 ends the
     * drive), after it, a violation's annotation, who runs a round, and
     * the schedule the round followed (for the record: NULL, the OS's). */
    drv_before_fn before;
    drv_iteration_fn after;
    drv_annotate_fn annotate;
    const char *(*schedule)(void *arg);
    void *hook_arg;
    const drv_control *control;
} drive_args;

/* Recreates the item's schema and runs its iterations with its settings
 * (its fault rules installed before every iteration, or a sweep), each
 * recorded in a->ritem. Returns 0 with res filled (drv_result_free it), or
 * -1 with a reason. */
int run_drive(const drive_args *a, drv_result *res, char *err, size_t errlen);

#endif
