/*
 * session.h — what every command that runs scenarios sets up the same way:
 * the plan of (scenario, variant) pairs, the fault shim when it is needed,
 * the target (server and schema), the TAP header and the report record; and
 * the end: the target closed, the report files written.
 */
#ifndef PGRACE_SESSION_H
#define PGRACE_SESSION_H

#include "engine/drive.h"
#include "engine/target.h"
#include "reports/report.h"

#include <stdbool.h>

typedef struct session {
    plan_item *items;
    int n;
    target t;
    report *rep;                /* the run's record: TAP as it goes, the report files at the end */
} session;

enum session_shim {
    SESSION_SHIM_IF_NEEDED,     /* when --fault, a plan's faults or a sweep needs it */
    SESSION_SHIM_ALWAYS,        /* the explorer's gate lives in the shim */
    SESSION_SHIM_NEVER,         /* another way in faults and gates (pgrace exec's proxy) */
};

/* Builds the plan from o (or takes o->items), re-executes with the shim preloaded when needed
 * (this call then does not return), checks --fault, opens the target and
 * the run's record (mode: "run", "explore", "replay"), whose TAP goes to
 * stdout. Returns 0, or -1 after printing the one-line reason (exit
 * status 2). */
int session_open(const run_opts *o, enum session_shim shim, const char *mode, session *s);

/* The TAP plan (every item's invariants, each item run `times` times) and
 * the header comment (seed and server). */
void session_header(const run_opts *o, const session *s, int times);

/* Closes the target and writes the report files (not after a signal).
 * Returns status, or EXIT_USAGE when a report cannot be written. */
int session_close(const run_opts *o, session *s, int status);

#endif
