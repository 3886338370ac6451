/*
 * lib_cluster.c — unit tests of lib/cluster and lib/pq against a real
 * embedded server: start, connect, classify real failures, stop, and leave
 * nothing behind.
 */
#include "t/unit/check.h"

#include "lib/cleanup.h"
#include "lib/cluster.h"
#include "lib/err.h"
#include "lib/pq.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Runs sql on c as a worker would and returns the outcome. */
static outcome run(PGconn *c, pqx_trace *t, const char *sql)
{
    outcome o = { 0 };
    if (pqx_exec(c, t, &o, NULL, sql, 0, NULL) == 0)
        o.kind = OUT_OK;
    return o;
}

int main(void)
{
    char err[ERRLEN], dir[256];
    if (cleanup_signals_start(err, sizeof err) < 0)
        check_bail("%s", err);
    CHECK(cluster_find_bindir(dir, sizeof dir, err, sizeof err) == 0, "finds initdb and postgres: %s", dir);
    cluster *cl;
    if (cluster_start(&cl, err, sizeof err) < 0)
        check_bail("cluster_start: %s", err);
    char host[256], conninfo[512];
    snprintf(host, sizeof host, "%s", cluster_host(cl));
    snprintf(conninfo, sizeof conninfo, "%s", cluster_conninfo(cl));
    CHECK(cluster_major_version(cl) >= 12, "server major version %d", cluster_major_version(cl));
    CHECK(access(host, F_OK) == 0, "the cluster lives in %s", host);

    PGconn *c = pqx_connect(conninfo, "public", "unit", err, sizeof err);
    CHECK(c != NULL, "pqx_connect connects");
    if (!c)
        check_bail("%s", err);
    long long v = 0;
    CHECK(pqx_ctl_int(c, "SELECT current_setting('search_path') = 'public'", 0, NULL, &v, err, sizeof err) == 0 &&
          v == 0, "search_path comes from the connection options");
    PGresult *r = pqx_ctl_query(c, "SHOW search_path", 0, NULL, err, sizeof err);
    CHECK(r && strcmp(PQgetvalue(r, 0, 0), "public") == 0, "search_path is the schema asked for");
    PQclear(r);

    pqx_trace t;
    pqx_trace_init(&t, 4);
    outcome o = run(c, &t, "DO $$BEGIN RAISE EXCEPTION USING ERRCODE = '40001'; END$$");
    CHECK(o.kind == OUT_RETRYABLE && strcmp(o.sqlstate, "40001") == 0, "40001 is retryable (%s)", o.sqlstate);
    o = run(c, &t, "DO $$BEGIN RAISE EXCEPTION USING ERRCODE = '40P01'; END$$");
    CHECK(o.kind == OUT_RETRYABLE, "40P01 is retryable");
    o = run(c, &t, "SELECT 1/0");
    CHECK(o.kind == OUT_ERROR && strcmp(o.sqlstate, "22012") == 0 && !o.conn_lost,
          "division by zero is an error with its SQLSTATE (%s)", o.sqlstate);
    CHECK(strchr(o.message, '\n') == NULL && strstr(o.message, "division by zero"),
          "the message is one line: %s", o.message);
    CHECK(t.n == 3 && t.ev[2].failed && strcmp(t.ev[2].sqlstate, "22012") == 0 &&
          t.ev[2].t_done >= t.ev[2].t_send, "the trace records each statement and its result");
    run(c, &t, "SELECT 1");
    run(c, &t, "SELECT 2");
    CHECK(t.n == 4 && t.dropped == 1, "a full trace counts what it drops");

    /* A connection killed inside a transaction, at COMMIT: indeterminate. */
    pqx_trace_reset(&t);
    run(c, &t, "BEGIN");
    PGconn *killer = pqx_connect(conninfo, NULL, "unit-killer", err, sizeof err);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d)", PQbackendPID(c));
    CHECK(killer && pqx_ctl_exec(killer, sql, err, sizeof err) == 0, "terminate the worker's backend");
    PQfinish(killer);
    o = run(c, &t, "COMMIT");
    CHECK(o.kind == OUT_ERROR && o.conn_lost && o.indeterminate,
          "a connection lost at COMMIT is an indeterminate error (%s, %s)", o.sqlstate, o.message);
    PQfinish(c);
    pqx_trace_free(&t);

    cluster_stop(cl);
    CHECK(access(host, F_OK) != 0, "cluster_stop removes the directory");
    CHECK(PQping(conninfo) == PQPING_NO_RESPONSE, "and the server is gone");
    CHECK(pqx_check_conninfo("host='x", err, sizeof err) == -1 && strstr(err, "bad DSN"), "bad DSN: %s", err);
    return check_done();
}
