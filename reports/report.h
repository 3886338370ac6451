/*
 * report.h — the one record of a run, whatever the mode, and its writers.
 *
 * Every mode (run, soak, explore, replay, spec; exec and the proxy later)
 * fills the same record: a run holds items, an item holds test points, and
 * a point holds the evidence of its verdict. The verdicts are one
 * vocabulary — ok, violated, error, skipped — in every writer.
 *
 *   run     seed, command, server, mode, when; notes
 *   item    a (scenario, variant, plan) drive, or a spec file: what it ran
 *           with (settings, a JSON object of the mode's own keys), its
 *           iterations and their calls (kept up to keep_iterations, then
 *           only violating ones; two traced with their statements: the
 *           first violating one and the slowest), outcomes and latency,
 *           the command that repeats it, what `pgrace replay` reruns
 *   point   an invariant of a drive, or a permutation of a spec: verdict,
 *           reason, how often it failed, and its diagnostics — the evidence
 *           as a JSON object (the calls and their statuses, the faults, the
 *           schedule with its blocked steps, the rows an invariant
 *           returned, a spec's output, the server's account of a wait...)
 *
 * TAP is written as the run goes (a point is printed when it is added);
 * JUnit XML, JSON (report.schema.json) and HTML are written from the
 * record at the end. Nothing here knows the driver, a scenario or a spec:
 * the engine and the modes put their results in these terms (engine/record.h).
 */
#ifndef PGRACE_REPORT_H
#define PGRACE_REPORT_H

#include "lib/hist.h"
#include "lib/pq.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct report report;
typedef struct rep_item rep_item;

typedef enum rep_verdict { REP_OK, REP_VIOLATED, REP_ERROR, REP_SKIPPED } rep_verdict;

/* "ok", "violated", "error", "skipped". */
const char *rep_verdict_name(rep_verdict v);

/* What the whole run was. Strings are copied. */
typedef struct report_meta {
    const char *mode;           /* "run", "soak", "explore", "replay", "spec" */
    uint64_t seed;
    const char *command;        /* the command line, as typed */
    int server_version;         /* PQserverVersion; 0: no server reached */
    bool embedded;              /* on the embedded cluster */
    const char *dsn;            /* --dsn as given, or NULL (embedded or PG* variables) */
    long keep_iterations;       /* per item, iterations kept before only violating ones are (0: 100000) */
    FILE *tap;                  /* where TAP goes as the run goes (stdout), or NULL: none */
} report_meta;

/* A new record, or NULL when out of memory. With meta->tap, the TAP
 * stream begins ("TAP version 13"). */
report *report_new(const report_meta *meta);

/* Set when the server is known after report_new (a spec run's). */
void report_set_server(report *r, int server_version, bool embedded);

/* ---- TAP as the run goes (every line also kept in the record) ---- */

/* "1..n": the points the run will add. */
void report_plan(report *r, int points);

/* A note: a TAP comment line, kept with the current item (or the run). */
void report_note(report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The run stops on a setup or environment error: "Bail out! ...". */
void report_bail(report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- items ------------------------------------------------------ */

typedef struct rep_item_desc {
    const char *kind;           /* "scenario" or "spec" */
    const char *name;           /* "attestation/no-tx [sweep]", or the spec file's path */
    json_t *settings;           /* what it runs with: an object (a reference is taken) */
    int nworkers;               /* lanes of its timeline (0: none) */
    const char *group;          /* JUnit's package: "pgrace.attestation", "pgrace.spec" */
    const char *classname;      /* JUnit's classname: "pgrace.attestation.no-tx.sweep" */
} rep_item_desc;

/* Starts an item; it becomes the current one (notes go to it). Several
 * may be open at once (soak alternates its items). NULL when out of
 * memory (every function taking an item does nothing with NULL). */
rep_item *report_item_begin(report *r, const rep_item_desc *d);

/* Makes it the current item: the one notes go to. */
void report_item_current(report *r, rep_item *it);

/* One statement of a call, as traced. */
typedef struct rep_stmt_in {
    int conn;                   /* 0: the worker's connection, 1: its second one */
    int64_t t_send, t_done;
    const char *sql;
    const char *sqlstate;
    bool failed;
} rep_stmt_in;

/* One call (one attempt of one worker). Strings are copied. */
typedef struct rep_call_in {
    int worker;                 /* 0-based */
    int attempt;
    outcome_kind kind;
    int status;                 /* the operation's HTTP-like answer */
    bool conn_lost, indeterminate, timed_out;
    const char *sqlstate;
    const char *message;
    const char *result;         /* what the caller got back, or NULL */
    int faults;                 /* faults injected into it */
    const char *fault;          /* the first of them, or NULL */
    int64_t t_start, t_end;
    const rep_stmt_in *stmts;   /* its statements, or NULL */
    int nstmts;
    long stmts_dropped;
} rep_call_in;

/* One iteration: its calls, which points it violated (the indices of
 * violated[k] != 0, over the item's points as they will be added: k-th
 * invariant), and what it ran with when that differs by iteration (the
 * fault rules, "" for none; a soak round's workers and retries; an
 * explored schedule's token). */
typedef struct rep_iter_in {
    long iteration;
    const rep_call_in *calls;
    int ncalls;
    const unsigned char *violated;
    int npoints;
    const char *fault;          /* the fault rules it ran with; NULL or "" for none */
    int workers, retries;       /* 0, -1: as the item's settings say */
    const char *schedule;       /* an explored schedule's token, or NULL */
} rep_iter_in;

void report_iteration(report *r, rep_item *it, const rep_iter_in *x);

/* What the item's calls came to, added to its totals (soak adds each
 * round's): iterations, calls and latency per outcome kind, seconds. */
void report_item_add(report *r, rep_item *it, long iterations, const long outcomes[4], const hist latency[4],
                     double seconds);

/* ---- points ----------------------------------------------------- */

typedef struct rep_point_in {
    const char *name;           /* what the TAP line names after the item: "exactly one credential" */
    const char *id;             /* a short id ("one-credential"), or NULL */
    rep_verdict verdict;
    const char *reason;         /* one line: why not ok, or why skipped; NULL for ok */
    long failures;              /* iterations (or rounds, schedules) that violated it */
    long runs;                  /* ... of how many */
    const char *unit;           /* "iterations", "rounds", "schedules" (NULL: iterations) */
    long first_iteration;       /* the first of them, or -1 */
    double seconds;             /* its own time, when it has one (a permutation's), else 0 */
    json_t *diagnostics;        /* the evidence (a reference is taken), or NULL */
} rep_point_in;

/* Adds a point to item it and prints its TAP line ("ok N - ITEM: NAME",
 * the diagnostics as YAML under a point that is not ok; a skip as
 * "ok N - ... # SKIP reason"). */
void report_point(report *r, rep_item *it, const rep_point_in *p);

/* What `pgrace replay` reruns of item: an object of the mode's keys (a
 * scenario's iteration, fault rules, schedule; a spec's permutation). A
 * reference is taken. Unless replace, the first one set stays. */
void report_item_replay(report *r, rep_item *it, json_t *replay, bool replace);

/* Ends item: the command that repeats it, and why it stopped early (a
 * setup or environment error: every point it did not add is an error),
 * or NULL. */
void report_item_end(report *r, rep_item *it, const char *repeat, const char *error);

/* The run's verdict so far: error, else violated, else skipped when
 * every point was, else ok. */
rep_verdict report_verdict(const report *r);

/* ---- the files -------------------------------------------------- */

/* Each returns 0, or -1 with a one-line reason. */
int report_write_junit(const report *r, const char *path, char *err, size_t errlen);
int report_write_json(const report *r, const char *path, char *err, size_t errlen);
int report_write_html(const report *r, const char *path, char *err, size_t errlen);

/* Writes the files named (NULL: not asked for), in turn, stopping at the
 * first that cannot be written. */
int report_write_files(const report *r, const char *junit, const char *json, const char *html, char *err,
                       size_t errlen);

void report_free(report *r);

#endif
