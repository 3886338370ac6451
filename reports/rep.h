/*
 * rep.h — the record behind report.h, shared by the writers (junit.c,
 * json.c, html.c) and filled by report.c. Not for use outside reports/.
 *
 * Every string in the record is valid UTF-8 (invalid bytes become '?'), so
 * a writer never has to check again; repeated strings (messages, fault
 * specs, results) are interned once per report, so that a long run's calls
 * cost a few pointers each. What writers elsewhere share too (the file,
 * escaping, the page's style) is in out.h.
 */
#ifndef PGRACE_REP_H
#define PGRACE_REP_H

#include "reports/out.h"
#include "reports/report.h"

#include <jansson.h>
#include <stdio.h>
#include <time.h>

/* One statement of a traced call (a copy of a pqx_event). */
typedef struct rep_stmt {
    int conn;                   /* 0: the worker's connection, 1: its second one */
    int64_t t_send, t_done;
    char sql[64];
    char sqlstate[6];
    bool failed;
} rep_stmt;

/* One call (attempt) of one worker. */
typedef struct rep_call {
    int worker;                 /* 0-based */
    int attempt;
    outcome_kind kind;
    int status;                 /* the operation's HTTP-like answer */
    bool conn_lost, indeterminate, timed_out;
    char sqlstate[6];
    int faults;
    int64_t t_start, t_end;
    const char *message;        /* interned, or NULL */
    const char *result;         /* interned, or NULL */
    const char *fault;          /* interned, or NULL */
    rep_stmt *stmts;            /* traced iterations only, else NULL */
    int nstmts;
    long stmts_dropped;
} rep_call;

/* One iteration. */
typedef struct rep_iter {
    long iteration;
    const char *fault_spec;     /* interned ("" for none) */
    rep_call *calls;
    int ncalls;
    unsigned char *violated;    /* one flag per invariant */
    int64_t span;               /* first call's start to last call's end */
} rep_iter;

typedef struct rep_item {
    const scenario *scenario;
    const scenario_variant *variant;
    char *plan;
    char *fault;                /* the item's own fault spec, or NULL */
    bool sweep;
    int retries, nworkers;
    drv_pauses pauses;
    const char *params;         /* the operation's settings, or NULL (static, argv or the replayed report's) */
    time_t started;             /* wall clock, for JUnit's timestamp */
    /* iterations */
    rep_iter *iters;            /* kept ones, in order */
    size_t niters, cap;
    long seen;                  /* iterations handed in */
    long dropped;               /* passing iterations past keep_iterations, not kept */
    rep_iter first_bad, slowest;/* traced copies (statements kept) */
    bool has_bad, has_slow;
    /* the end */
    bool ended;
    char *error;                /* why the item stopped (setup error), or NULL */
    long iterations;
    long outcomes[4];
    hist latency[4];
    double seconds;
    long *failures;             /* per invariant */
    long *first_failure;        /* per invariant, -1 for none */
    json_t **found;             /* per invariant: the first violation's fields, or NULL */
    char *repeat;
} rep_item;

typedef struct rep_intern rep_intern;

struct report {
    uint64_t seed;
    char *command;
    int server_version;
    bool embedded;
    char *dsn;
    long iterations;
    long keep_iterations;
    time_t started;
    char hostname[256];
    rep_item *items;
    int nitems, capitems;
    rep_intern *strings;
    bool oom;                   /* an allocation failed: the record is incomplete */
};

/* Jepsen-style type of a call: "ok", "fail" or "info" (indeterminate). */
const char *rep_call_type(const rep_call *c);

/* "held", "violated" or "error" for item, and whether invariant k held. */
const char *rep_item_verdict(const rep_item *it);
bool rep_item_held(const rep_item *it, int k);

/* The run's verdict: "error" if any item's is, else "violated" if any
 * item's is, else "held". */
const char *rep_run_verdict(const report *r);

/* Why item stopped without a result ("did not finish" when it never
 * ended), or NULL when it ran to the end. */
const char *rep_item_error(const rep_item *it);

/* The traced iteration the timeline shows: the first violating one, else
 * the slowest; NULL when none was recorded. */
const rep_iter *rep_timeline_iter(const rep_item *it);

/* "attestation/no-lock" or "attestation/no-lock [sweep]". */
void rep_item_label(const rep_item *it, char *buf, size_t len);

/* A violated invariant's diagnostics: the same fields as the TAP YAML
 * block (harness/run.c). NULL when it held. New reference. */
json_t *rep_diagnostics(const report *r, const rep_item *it, int k);

/* The diagnostics rendered as the TAP YAML block (malloc'd), or NULL. */
char *rep_yaml(json_t *diag);

#endif
