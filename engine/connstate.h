/*
 * connstate.h — the driver's own invariant "every call leaves its
 * connection as it found it" (id "connection"), checked after every call on
 * every connection of its worker, on by default.
 *
 * Applications run on pooled connections: a session-level SET, an open
 * transaction, an advisory lock, a prepared statement, a temporary table, a
 * cursor WITH HOLD or a LISTEN that one call leaves behind changes what the
 * next call on that connection does — under a transaction pooler, another
 * client's call. So right after each call the worker asks its own
 * connection, in one round trip (the control connection cannot read another
 * backend's settings): every setting whose value is not the one the
 * connection started with (pg_settings' reset_val; through a pooler, the
 * run's search_path, and not the five parameters pgbouncer itself sets for
 * each client), its advisory locks, prepared statements, temporary objects,
 * open cursors and channels — and, in the same query string, so on the same
 * server connection, puts all of it back. An open transaction is read on
 * the client (libpq knows it) and left to the driver, which resets such a
 * connection.
 *
 * Who left it. Every statement of a call that can leave session state
 * (lib/keepstate.h) is logged as it succeeds, with its call, its time and,
 * when it ran inside a transaction, its server connection (asked then,
 * through a pooler: the transaction holds it); and
 * each check stamps the server connection it runs on with its time (a
 * placeholder setting, pgrace.seen, which pg_settings does not list). What
 * a check finds was left by a statement logged between the previous check
 * of that server connection and this one: directly, or through session
 * pooling, that is the call just made; through a transaction pooler,
 * whichever call's transaction ran there in between — the one the check
 * names, when the log holds one that sets what it found. The finding is
 * the observing call's, and says which call left it.
 */
#ifndef PGRACE_CONNSTATE_H
#define PGRACE_CONNSTATE_H

#include "engine/scenario.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#define CST_INVARIANT "every call leaves its connection as it found it"
#define CST_ID SCENARIO_CONNECTION_ID

typedef struct cst_run cst_run;

/* A run's checks: nworkers workers of at most attempts attempts each;
 * pooled: the workers go through a pooler (its parameters are not the
 * calls'); shared: under transaction pooling, whose server connections
 * pass from one worker to the next (else a worker's server connection is
 * its own); schema: the run's (the pooler's search_path). Returns NULL out
 * of memory. */
cst_run *cst_new(int nworkers, int attempts, bool pooled, bool shared, const char *schema);
void cst_free(cst_run *r);

/* Creates the check in the run's schema (a function, pgrace_conn_check),
 * with the settings' start values read on conn — a worker's connection,
 * opened and not used yet — by the calling thread (exempt from faults).
 * Call once per run before the first call. r may be NULL. Returns 0 or -1
 * (err). */
int cst_prepare(cst_run *r, PGconn *ctl, PGconn *conn, char *err, size_t errlen);

/* Logs, on the worker's thread, a statement of call c that succeeded on
 * conn, when it can leave session state (sql: its text; t_send: when it
 * was sent), with the server connection it ran on when that can be known.
 * r may be NULL (no checks). */
void cst_log_statement(cst_run *r, const drv_call *c, PGconn *conn, const char *sql, int64_t t_send);

/* On the worker's thread right after its call rec (of iteration; the
 * round-th the run made, from 1) ended, before the driver settles the
 * connections: checks conn and conn2 (NULL: none), puts back what it
 * found, and keeps the finding for cst_check.
 * Its statements are not the call's: the caller exempts them from faults
 * and from the explorer's gate. */
void cst_after_call(cst_run *r, const call_record *rec, long iteration, long round, PGconn *conn, PGconn *conn2);

/* The invariant, on the driver's thread once the iteration's calls are
 * over: 1 held, 0 violated (what each call found, and who left it). */
int cst_check(cst_run *r, inv_ctx *x);

#endif
