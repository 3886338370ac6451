/*
 * pq.h — libpq helpers that turn every result into an outcome.
 *
 * A worker's statements go through pqx_exec, which checks the result,
 * classifies a failure (retryable, error, connection lost) with its SQLSTATE
 * and records the statement in the worker's trace (send and result times,
 * for the reports' timelines). The control connection (schema, setup,
 * invariant checks) uses pqx_ctl_*, which fail with a one-line message.
 */
#ifndef PGRACE_PQ_H
#define PGRACE_PQ_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a call of an operation came to, as its caller sees it. */
typedef enum outcome_kind {
    OUT_OK,          /* the operation took effect */
    OUT_CONFLICT,    /* refused by the operation's own rules (e.g. already verified) */
    OUT_RETRYABLE,   /* a transient failure a client retries (40001, 40P01, 55P03) */
    OUT_ERROR,       /* anything else, connection loss included */
} outcome_kind;

typedef struct outcome {
    outcome_kind kind;
    int status;            /* the operation's HTTP-like answer (scenario.h), 0 when not set */
    bool conn_lost;        /* the connection broke during the call */
    bool indeterminate;    /* lost during COMMIT: it may or may not have committed */
    char sqlstate[6];      /* "" for success; "08006" for a client-side connection loss */
    char message[200];
} outcome;

const char *outcome_name(outcome_kind k);

/* One statement in a worker's trace. */
typedef struct pqx_event {
    const PGconn *conn;       /* which of the worker's connections */
    int64_t t_send, t_done;   /* clock_now_ns() before sending, after the result */
    char sql[64];             /* the statement's start */
    char sqlstate[6];
    bool failed;
} pqx_event;

/* A worker's statements for one call; fixed capacity, allocated once. */
typedef struct pqx_trace {
    pqx_event *ev;
    size_t n, cap;
    size_t dropped;           /* statements beyond cap, counted not kept */
} pqx_trace;

int pqx_trace_init(pqx_trace *t, size_t cap);
void pqx_trace_reset(pqx_trace *t);
void pqx_trace_free(pqx_trace *t);

/* Opens a connection to conninfo (a DSN or key=value string) with
 * search_path set to schema (NULL: untouched) and application_name appname;
 * keeps options the DSN already had. Returns the connection or NULL with a
 * one-line reason. */
PGconn *pqx_connect(const char *conninfo, const char *schema, const char *appname,
                    char *err, size_t errlen);

/* Checks conninfo's syntax without connecting. Returns 0 or -1. */
int pqx_check_conninfo(const char *conninfo, char *err, size_t errlen);

/* Runs sql with text params on a worker connection. Returns 0 with *res
 * (PGRES_COMMAND_OK or PGRES_TUPLES_OK; the caller clears it, res may be
 * NULL to discard), or -1 with o filled: the SQLSTATE, one-line message and
 * kind. A failed COMMIT on a lost connection is marked indeterminate. */
int pqx_exec(PGconn *conn, pqx_trace *t, outcome *o, PGresult **res,
             const char *sql, int nparams, const char *const *params);

/* ROLLBACK when the connection is inside a transaction; errors ignored
 * (the call has already failed; this only returns the session to idle). */
void pqx_rollback_quiet(PGconn *conn, pqx_trace *t);

/* Control-connection helpers: run sql, fail with "what: message". */
int pqx_ctl_exec(PGconn *conn, const char *sql, char *err, size_t errlen);
PGresult *pqx_ctl_query(PGconn *conn, const char *sql, int nparams, const char *const *params,
                        char *err, size_t errlen);
/* A query returning one integer (count(*) and friends). */
int pqx_ctl_int(PGconn *conn, const char *sql, int nparams, const char *const *params,
                long long *value, char *err, size_t errlen);

/* items as a text[] literal ('{"a","b"}', each element quoted), in a new
 * string (free it); NULL when out of memory. */
char *pqx_text_array(const char *const *items, int n);

/* The last row of r whose column col reads value, or -1. */
int pqx_find_row(const PGresult *r, int col, const char *value);

/* Fills o from a failed result (res may be NULL when libpq returned none). */
void pqx_classify(PGconn *conn, const PGresult *res, outcome *o);

#endif
