/*
 * rep.h — the record behind report.h, shared by the writers (tap.c,
 * junit.c, json.c, html.c) and filled by report.c. Not for use outside
 * reports/.
 *
 * Every string in the record is valid UTF-8 (invalid bytes become '?'), so
 * a writer never has to check again; repeated strings (messages, fault
 * rules, results, SQL) are interned once per report, so that a long run's
 * calls cost a few pointers each. What the writers share besides (the
 * file, escaping, the page's style) is in out.h.
 */
#ifndef PGRACE_REP_H
#define PGRACE_REP_H

#include "reports/out.h"
#include "reports/report.h"

#include <jansson.h>
#include <stdio.h>
#include <time.h>

/* One statement of a traced call. */
typedef struct rep_stmt {
    int conn;                   /* 0: the worker's connection, 1: its second one */
    int64_t t_send, t_done;
    const char *sql;            /* interned; its first SQL_KEPT bytes */
    char sqlstate[6];
    bool failed;
} rep_stmt;

#define REP_SQL_KEPT 64

/* One call (attempt) of one worker. */
typedef struct rep_call {
    int worker;                 /* 0-based */
    int attempt;
    outcome_kind kind;
    int status;
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
    const char *fault;          /* interned ("" for none) */
    const char *schedule;       /* interned, or NULL */
    int workers, retries;       /* 0, -1: the item's */
    rep_call *calls;
    int ncalls;
    unsigned char *violated;    /* one flag per point (npoints) */
    int npoints;
    int64_t span;               /* first call's start to last call's end */
} rep_iter;

typedef struct rep_point {
    char *name;
    char *id;                   /* or NULL */
    rep_verdict verdict;
    char *reason;               /* or NULL */
    long failures, runs;
    const char *unit;           /* static: "iterations", "rounds", "schedules" */
    long first_iteration;
    double seconds;
    json_t *diag;               /* the evidence, or NULL */
} rep_point;

struct rep_item {
    char *kind;                 /* "scenario" or "spec" */
    char *name;
    json_t *settings;
    int nworkers;
    char *group, *classname;
    time_t started;
    /* iterations */
    rep_iter *iters;            /* kept ones, in order */
    size_t niters, cap;
    long seen;                  /* iterations handed in */
    long dropped;               /* not kept (past keep_iterations) */
    long kept_bad;              /* violating iterations kept */
    rep_iter first_bad, slowest;/* traced copies (statements kept) */
    bool has_bad, has_slow;
    long bad_at, slow_at;       /* which of iters they are copies of (an index; -1: not kept): by
                                 * place, since rounds may share a number (an explored program's) */
    /* totals */
    long iterations;
    long outcomes[4];
    hist latency[4];
    double seconds;
    /* points */
    rep_point *points;
    int npoints, cappoints;
    /* notes (TAP comments while it was current) */
    char **notes;
    int nnotes, capnotes;
    json_t *replay;             /* or NULL */
    /* the end */
    bool ended;
    char *error;                /* why it stopped early, or NULL */
    char *repeat;               /* or NULL */
};

typedef struct rep_intern rep_intern;

struct report {
    char *mode;
    uint64_t seed;
    char *command;
    int server_version;
    bool embedded;
    char *dsn;
    long keep_iterations;
    time_t started;
    char hostname[256];
    FILE *tap;
    int planned;                /* -1: no plan printed */
    bool bailed;
    char *bail;                 /* why the run stopped, or NULL */
    rep_item **items;           /* in the order begun */
    int nitems, capitems;
    rep_item *current;          /* notes go to it */
    char **notes;               /* run notes (before any item) */
    int nnotes, capnotes;
    rep_intern *strings;
    bool oom;                   /* an allocation failed: the record is incomplete */
};

/* Jepsen-style type of a call: "ok", "fail" or "info" (indeterminate). */
const char *rep_call_type(const rep_call *c);

/* An item's verdict: error (it stopped, or a point is one), else violated,
 * else skipped when every point was, else ok. */
rep_verdict rep_item_verdict(const rep_item *it);

/* Points of it per verdict (counts[REP_OK..REP_SKIPPED]); returns the
 * number of points. */
int rep_item_counts(const rep_item *it, int counts[4]);

/* The traced iteration the timeline shows: the first violating one, else
 * the slowest; NULL when none was recorded. */
const rep_iter *rep_timeline_iter(const rep_item *it);

/* A point's diagnostics as the TAP YAML block ("---\n...\n...\n",
 * malloc'd), or NULL. */
char *rep_yaml(json_t *diag);

/* The point's reason, else "violated in 3 of 20 iterations (first:
 * iteration 4)". */
void rep_point_summary(const rep_point *p, char *buf, size_t len);

/* tap.c: the TAP lines of the run as it goes. */
void rep_tap_begin(report *r);
void rep_tap_plan(report *r, int n);
void rep_tap_point(report *r, const rep_item *it, const rep_point *p);
void rep_tap_note(report *r, const char *line);
void rep_tap_bail(report *r, const char *why);

#endif
