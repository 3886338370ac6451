/*
 * kit_connstate.c — the driver's connection check (engine/connstate.h)
 * against a real server, directly and through pgbouncer's transaction
 * pooling:
 *  - directly: a session-level SET, an advisory lock, a prepared statement
 *    and a temporary table left by a call are found, named with the
 *    statement that left them, and put back (the next check finds nothing);
 *    an open transaction is found on the client; a setting a server
 *    function leaves (no statement logged) is found by the sampled check
 *    and said to be nobody's statement; a clean connection costs no query
 *    outside the sampled rounds;
 *  - through the pooler, where the server connection one client's
 *    transaction leaves goes to the next client (pgbouncer hands out the
 *    one released last): a SET left by client A's call reaches client B's
 *    transaction, and B's check reports it as left by A's call, naming
 *    both; the finding is the invariant's violation.
 */
#include "t/unit/check.h"

#include "engine/call_int.h"
#include "engine/connstate.h"
#include "lib/cleanup.h"
#include "lib/cluster.h"
#include "lib/err.h"
#include "lib/pooler.h"
#include "lib/pq.h"

#include <stdio.h>
#include <string.h>

#define SCHEMA "cst"

/* Runs sql on conn as call c's statement (logged when it can leave state). */
static void exec_as(cst_run *r, const drv_call *c, PGconn *conn, const char *sql)
{
    int64_t t = clock_now_ns();
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    CHECK(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql,
          st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? "ok" : PQresultErrorMessage(res));
    PQclear(res);
    cst_log_statement(r, c, conn, sql, t);
}

/* What worker w's call (attempt 0) found: the check's detail line, or "". */
static void finding_of(cst_run *r, int w, long iteration, char *out, size_t len)
{
    char err[ERRLEN];
    pqx_trace trace = { 0 };
    call_record rec = { .worker = w, .trace = &trace };
    inv_state st = { .err = err, .errlen = sizeof err };
    inv_ctx x = { .iteration = iteration, .calls = &rec, .ncalls = 1, .nworkers = 2, .state = &st };
    int v = cst_check(r, &x);
    snprintf(out, len, "%s", v == 0 ? inv_first_detail(&x) : "");
    inv_state_clear(&st);
}

/* Checks conn after worker w's call of iteration in round round. */
static void after(cst_run *r, int w, long iteration, long round, PGconn *conn, char *out, size_t len)
{
    pqx_trace trace = { 0 };
    call_record rec = { .worker = w, .trace = &trace };
    cst_after_call(r, &rec, iteration, round, conn, NULL);
    finding_of(r, w, iteration, out, len);
}

static void direct(cluster *cl, PGconn *ctl)
{
    char err[ERRLEN], f[700];
    PGconn *a = pqx_connect(cluster_conninfo(cl), SCHEMA, "unit/w1", err, sizeof err);
    cst_run *r = cst_new(2, 1, false, false, SCHEMA);
    if (!a || !r || cst_prepare(r, ctl, a, err, sizeof err) < 0) {
        check_bail("direct: %s", err);
        return;
    }
    drv_call c = { .worker = 0, .iteration = 2 };
    after(r, 0, 1, 1, a, f, sizeof f);
    CHECK(!f[0], "a fresh connection: the sampled first check finds nothing (%s)", f);

    exec_as(r, &c, a, "SET lock_timeout = '25ms'");
    exec_as(r, &c, a, "SELECT pg_advisory_lock(7)");
    exec_as(r, &c, a, "PREPARE q AS SELECT 1");
    exec_as(r, &c, a, "CREATE TEMP TABLE scratch (x int)");
    after(r, 0, 2, 2, a, f, sizeof f);
    CHECK(strstr(f, "worker 1: left lock_timeout=25ms (0 at the start), an advisory lock, a prepared statement, "
                    "a temporary relation on its connection: SET lock_timeout = '25ms'; SELECT pg_advisory_lock(7); "
                    "PREPARE q AS SELECT 1; CREATE TEMP TABLE scratch (x int)"),
          "a SET, an advisory lock, a prepared statement and a temporary table left by the call, each statement named: %s", f);
    after(r, 0, 3, 3, a, f, sizeof f);
    CHECK(!f[0], "all of it was put back (%s)", f);

    exec_as(r, &c, a, "BEGIN");
    after(r, 0, 4, 4, a, f, sizeof f);
    CHECK(strstr(f, "left its connection inside an open transaction"), "an open transaction: %s", f);
    PQclear(PQexec(a, "ROLLBACK"));

    /* A server function's SET: no statement of the call names it. */
    pqx_ctl_exec(ctl, "CREATE FUNCTION " SCHEMA ".tune() RETURNS void LANGUAGE plpgsql AS "
                      "$$BEGIN PERFORM set_config('work_mem', '8MB', false); END$$", err, sizeof err);
    PQclear(PQexec(a, "SELECT tune()"));
    after(r, 0, 5, 5, a, f, sizeof f);
    CHECK(!f[0], "outside the sampled rounds, with nothing logged, the server is not asked (%s)", f);
    after(r, 0, 17, 17, a, f, sizeof f);
    CHECK(strstr(f, "left work_mem=8MB (4MB at the start) on its connection") && strstr(f, "a function's doing"),
          "the sampled check finds what a function left: %s", f);
    cst_free(r);
    PQfinish(a);
}

static void pooled(cluster *cl, PGconn *ctl)
{
    char err[ERRLEN], f[700];
    pooler_server srv = { .host = cluster_host(cl), .port = cluster_port(cl), .dbname = cluster_dbname(cl),
                          .user = cluster_user(cl), .schema = SCHEMA, .appname = "unit/pool" };
    pooler *p = NULL;
    if (pooler_start(&p, POOLER_TRANSACTION, &srv, err, sizeof err) < 0) {
        check_bail("pooler: %s", err);
        return;
    }
    PGconn *a = pqx_connect(pooler_conninfo(p), NULL, "unit/w1", err, sizeof err);
    PGconn *b = a ? pqx_connect(pooler_conninfo(p), NULL, "unit/w2", err, sizeof err) : NULL;
    cst_run *r = cst_new(2, 1, true, true, SCHEMA);
    if (!b || !r || cst_prepare(r, ctl, a, err, sizeof err) < 0) {
        check_bail("pooled: %s", err);
        return;
    }
    after(r, 0, 1, 1, a, f, sizeof f);
    CHECK(!f[0], "through the pooler: the first check finds nothing (%s)", f);

    /* A's call: a transaction that leaves its setting on its server
     * connection, which then goes back to the pool; B's transaction gets
     * it (the one released last), and B's check after it too. */
    drv_call c = { .worker = 0, .iteration = 2 };
    exec_as(r, &c, a, "BEGIN");
    exec_as(r, &c, a, "SET statement_timeout = '7s'");
    exec_as(r, &c, a, "COMMIT");
    PGresult *res = PQexec(b, "SHOW statement_timeout");
    CHECK(res && PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "7s") == 0,
          "B's transaction runs with what A's call left (%s)", res && PQntuples(res) ? PQgetvalue(res, 0, 0) : "?");
    PQclear(res);
    after(r, 1, 2, 2, b, f, sizeof f);
    CHECK(strstr(f, "worker 2: found statement_timeout=7s (0 at the start) on its server connection (pid ") &&
          strstr(f, "after its call, left there by worker 1's call call-2-1-0: SET statement_timeout = '7s'"),
          "B's check names the call that left it and the one that found it: %s", f);
    after(r, 0, 3, 3, a, f, sizeof f);
    CHECK(!f[0], "and put it back: A's next check finds nothing (%s)", f);
    cst_free(r);
    PQfinish(a);
    PQfinish(b);
    pooler_stop(p);
}

int main(void)
{
    char err[ERRLEN];
    if (cleanup_signals_start(err, sizeof err) < 0) {
        check_bail("%s", err);
        return 1;
    }
    cluster *cl;
    if (cluster_start(&cl, err, sizeof err) < 0) {
        check_bail("cluster_start: %s", err);
        return 1;
    }
    PGconn *ctl = pqx_connect(cluster_conninfo(cl), SCHEMA, "unit/ctl", err, sizeof err);
    if (!ctl || pqx_ctl_exec(ctl, "CREATE SCHEMA " SCHEMA, err, sizeof err) < 0) {
        check_bail("%s", err);
        return 1;
    }
    direct(cl, ctl);
    pooled(cl, ctl);
    PQfinish(ctl);
    cluster_stop(cl);
    return check_done();
}
