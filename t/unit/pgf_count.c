/*
 * pgf_count.c — in-process tests of the fault shim against a real server:
 * each statement counted once whichever libpq API sends it, the when=/prob=/
 * scope=/conn= schedules, the actions' effect on server state, and N threads
 * sharing the rules (the ThreadSanitizer build runs this too).
 *
 * The shim's objects are linked into this program (see the Makefile), so
 * their PQ* definitions interpose libpq exactly as the preloaded library
 * does.  Needs PGHOST etc.: t/30-shim-count.t runs it under a throwaway
 * cluster; run bare it bails out (it is not in prove's list of unit tests).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libpq-fe.h>

#include "faults/pgfault.h"
#include "t/unit/check.h"


static void bail(const char *what, PGconn *c)
{
    check_bail("%s: %s", what, c ? PQerrorMessage(c) : "");
}

static void configure(const char *spec)
{
    char err[256];
    if (pgf_configure(spec, err, sizeof err) != 0)
        check_bail("pgf_configure(%s): %s", spec, err);
}

static PGconn *connect_db(void)
{
    PGconn *c = PQconnectdb("");
    if (PQstatus(c) != CONNECTION_OK) bail("connect", c);
    return c;
}

/* Run sql; return its SQLSTATE ("" on success). */
static const char *run(PGconn *c, const char *sql, char *state)
{
    PGresult *r = PQexec(c, sql);
    const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    ExecStatusType st = PQresultStatus(r);
    snprintf(state, 6, "%s", (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? "" : s ? s : "?????");
    PQclear(r);
    return state;
}

static int drain_ok(PGconn *c)
{
    PGresult *r;
    int good = 1;
    while ((r = PQgetResult(c)) != NULL) {
        ExecStatusType st = PQresultStatus(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) good = 0;
        PQclear(r);
    }
    return good;
}

/* --- observer: what fired ------------------------------------------------ */
static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static long ev_count, ev_last_stmt;
static int ev_last_conn;
static char ev_last_sql[200];

static void observe(const pgf_event *ev, void *arg)
{
    (void)arg;
    pthread_mutex_lock(&ev_lock);
    ev_count++;
    ev_last_stmt = ev->stmt_ordinal;
    ev_last_conn = ev->conn_ordinal;
    snprintf(ev_last_sql, sizeof ev_last_sql, "%s", ev->sql);
    pthread_mutex_unlock(&ev_lock);
}

static long events(void)
{
    pthread_mutex_lock(&ev_lock);
    long n = ev_count;
    pthread_mutex_unlock(&ev_lock);
    return n;
}

static void test_apis(PGconn *c)
{
    /* delay=0us fires on every statement and changes nothing else. */
    configure("stmt:when=1+:delay=0us");
    unsigned long f0 = pgf_fired_total();
    long e0 = events();
    char st[6];
    PGresult *r;
    const char *vals[1] = {"7"};

    run(c, "SELECT 1", st);
    CHECK(events() == e0 + 1 && ev_last_stmt == 1, "PQexec counts once (stmt %ld)", ev_last_stmt);

    PQclear(PQexecParams(c, "SELECT $1::int", 1, NULL, vals, NULL, NULL, 0));
    CHECK(events() == e0 + 2 && ev_last_stmt == 2, "PQexecParams counts once");

    PQclear(PQprepare(c, "p1", "SELECT $1::int AS prepared_one", 1, NULL));
    CHECK(events() == e0 + 2, "PQprepare does not count");

    PQclear(PQexecPrepared(c, "p1", 1, vals, NULL, NULL, 0));
    CHECK(events() == e0 + 3 && strstr(ev_last_sql, "prepared_one") != NULL,
       "PQexecPrepared counts once, with the prepared text (%s)", ev_last_sql);

    CHECK(PQsendQuery(c, "SELECT 2") && drain_ok(c) && events() == e0 + 4, "PQsendQuery counts once");
    CHECK(PQsendQueryParams(c, "SELECT $1::int", 1, NULL, vals, NULL, NULL, 0) && drain_ok(c)
       && events() == e0 + 5, "PQsendQueryParams counts once");
    CHECK(PQsendPrepare(c, "p2", "SELECT 3 AS prepared_two", 0, NULL) && drain_ok(c) && events() == e0 + 5,
       "PQsendPrepare does not count");
    CHECK(PQsendQueryPrepared(c, "p2", 0, NULL, NULL, NULL, 0) && drain_ok(c) && events() == e0 + 6
       && strstr(ev_last_sql, "prepared_two") != NULL, "PQsendQueryPrepared counts once");

    /* Pipeline: counted as queued. */
    int piped = PQenterPipelineMode(c);
    for (int i = 0; i < 3; i++) PQsendQueryParams(c, "SELECT $1::int", 1, NULL, vals, NULL, NULL, 0);
    PQsendQueryPrepared(c, "p1", 1, vals, NULL, NULL, 0);
    CHECK(piped && events() == e0 + 10, "4 statements queued in a pipeline count 4 (%ld)", events() - e0);
    PQpipelineSync(c);
    int results = 0;
    for (;;) {
        r = PQgetResult(c);
        if (!r) continue; /* end of one query's results */
        ExecStatusType s = PQresultStatus(r);
        PQclear(r);
        if (s == PGRES_PIPELINE_SYNC) break;
        if (s == PGRES_TUPLES_OK) results++;
    }
    CHECK(results == 4 && PQexitPipelineMode(c), "pipeline results intact (%d)", results);
    CHECK(pgf_fired_total() - f0 == 10, "pgf_fired_total counts every firing (%lu)", pgf_fired_total() - f0);
    CHECK(ev_last_stmt == 10, "statement ordinal 10 after 10 statements (%ld)", ev_last_stmt);
}

/* Which of n "SELECT 1" statements fail with 40001, as a string of 0/1. */
static void pattern(PGconn *c, int n, char *out)
{
    char st[6];
    for (int i = 0; i < n; i++) out[i] = strcmp(run(c, "SELECT 1", st), "40001") == 0 ? '1' : '0';
    out[n] = '\0';
}

static void test_when(PGconn *c)
{
    char p[256], st[6];
    configure("sql=/^select 1/:when=2..4:error=40001");
    pattern(c, 7, p);
    CHECK(strcmp(p, "0111000") == 0, "when=2..4 -> %s", p);
    configure("stmt:when=2+3:error=40001");
    pattern(c, 9, p);
    CHECK(strcmp(p, "010010010") == 0, "when=2+3 -> %s", p);
    configure("stmt:when=3+:error=40001");
    pattern(c, 6, p);
    CHECK(strcmp(p, "001111") == 0, "when=3+ -> %s", p);
    configure("stmt:error=40001");
    pattern(c, 3, p);
    CHECK(strcmp(p, "100") == 0, "no when, no prob = when=1 -> %s", p);
    configure("sql=/^select 2/:when=1+:error=40001");
    pattern(c, 3, p);
    CHECK(strcmp(p, "000") == 0, "sql=/re/ that does not match never fires -> %s", p);

    configure("sql=/PGF_MARK/:when=1+:error=40001");
    CHECK(strcmp(run(c, "SELECT 1 /* pgf_mark */", st), "40001") == 0 && run(c, "SELECT 1", st)[0] == '\0',
       "a literal regex matches anywhere, case-insensitively");
    configure("sql=/^ *sel+ect [0-9]$/:when=1+:error=40001");
    CHECK(strcmp(run(c, "select 7", st), "40001") == 0 && run(c, "select 77", st)[0] == '\0',
       "a regex with operators is matched by regexec");
    configure("sql=/^selectx*/:when=1+:error=40001");
    CHECK(strcmp(run(c, "SELECT 1", st), "40001") == 0, "a quantifier takes its operand out of the literal prefix");
    char a[256], b[256], d[256];
    configure("stmt:prob=0.3:seed=42:error=40001");
    pattern(c, 200, a);
    configure("stmt:prob=0.3:seed=42:error=40001");
    pattern(c, 200, b);
    configure("stmt:prob=0.3:seed=43:error=40001");
    pattern(c, 200, d);
    int ones = 0;
    for (int i = 0; i < 200; i++) ones += a[i] == '1';
    CHECK(strcmp(a, b) == 0, "prob with the same seed faults the same statements");
    CHECK(strcmp(a, d) != 0, "prob with another seed faults others");
    CHECK(ones > 20 && ones < 120, "prob=0.3 faulted %d of 200", ones);
    configure("stmt:prob=0:seed=1:error=40001");
    pattern(c, 50, a);
    CHECK(strchr(a, '1') == NULL, "prob=0 never fires");
    configure("stmt:when=2..3:prob=1:seed=1:error=40001");
    pattern(c, 5, a);
    CHECK(strcmp(a, "01100") == 0, "when and prob combine -> %s", a);
}

static void test_scope(void)
{
    PGconn *a = connect_db(), *b = connect_db();
    char st[6];
    configure("stmt:scope=proc:when=3:error=40001");
    const char *r1 = run(a, "SELECT 1", st)[0] ? "1" : "0";
    char s[8];
    s[0] = *r1;
    s[1] = run(b, "SELECT 1", st)[0] ? '1' : '0';
    s[2] = run(a, "SELECT 1", st)[0] ? '1' : '0';
    s[3] = run(b, "SELECT 1", st)[0] ? '1' : '0';
    s[4] = '\0';
    CHECK(strcmp(s, "0010") == 0, "scope=proc counts across connections -> %s", s);
    configure("stmt:when=2:error=40001");
    s[0] = run(a, "SELECT 1", st)[0] ? '1' : '0';
    s[1] = run(b, "SELECT 1", st)[0] ? '1' : '0';
    s[2] = run(a, "SELECT 1", st)[0] ? '1' : '0';
    s[3] = run(b, "SELECT 1", st)[0] ? '1' : '0';
    CHECK(strcmp(s, "0011") == 0, "scope=conn (default) counts per connection -> %s", s);

    /* Ordinals: find b's from the observer. */
    configure("stmt:when=1:delay=0us");
    run(b, "SELECT 1", st);
    int ob = ev_last_conn;
    run(a, "SELECT 1", st);
    int oa = ev_last_conn;
    CHECK(ob == oa + 1 && oa >= 1, "connections numbered in opening order (%d, %d)", oa, ob);
    char spec[100];
    snprintf(spec, sizeof spec, "stmt:conn=%d:when=1+:error=40001", ob);
    configure(spec);
    s[0] = run(a, "SELECT 1", st)[0] ? '1' : '0';
    s[1] = run(b, "SELECT 1", st)[0] ? '1' : '0';
    s[2] = run(a, "SELECT 1", st)[0] ? '1' : '0';
    s[3] = run(b, "SELECT 1", st)[0] ? '1' : '0';
    CHECK(strcmp(s, "0101") == 0, "conn=%d faults only that connection -> %s", ob, s);

    pgf_thread_exempt(1);
    PGconn *x = connect_db();
    pgf_thread_exempt(0);
    configure("stmt:when=1+:error=40001");
    CHECK(run(x, "SELECT 1", st)[0] == '\0', "a connection opened by an exempt thread is never faulted");
    pgf_thread_exempt(1);
    CHECK(run(a, "SELECT 1", st)[0] == '\0', "an exempt thread is never faulted");
    pgf_thread_exempt(0);
    CHECK(strcmp(run(a, "SELECT 1", st), "40001") == 0, "exemption ends");
    PGconn *y = connect_db();
    configure("stmt:when=1:delay=0us");
    run(y, "SELECT 1", st);
    CHECK(ev_last_conn == ob + 1, "exempt connections take no ordinal (%d)", ev_last_conn);
    PQfinish(a);
    PQfinish(b);
    PQfinish(x);
    PQfinish(y);
}

static long count_rows(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    long n = PQresultStatus(r) == PGRES_TUPLES_OK ? atol(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    return n;
}

static void test_actions(PGconn *ctl)
{
    char st[6];
    PGconn *c = connect_db();
    run(ctl, "DROP TABLE IF EXISTS pgf_t; CREATE TABLE pgf_t (id int primary key)", st);

    configure("commit:error=40001");
    run(c, "BEGIN", st);
    run(c, "INSERT INTO pgf_t VALUES (1)", st);
    CHECK(strcmp(run(c, "COMMIT", st), "40001") == 0, "COMMIT fails with 40001");
    CHECK(PQtransactionStatus(c) == PQTRANS_IDLE, "after a failed COMMIT the session is idle");
    CHECK(count_rows(ctl, "SELECT count(*) FROM pgf_t WHERE id = 1") == 0, "a failed COMMIT rolled back");

    configure("commit:error=40P01");
    run(c, "BEGIN", st);
    run(c, "INSERT INTO pgf_t VALUES (5)", st);
    CHECK(PQsendQuery(c, "COMMIT") == 1, "async COMMIT sent");
    PGresult *r = PQgetResult(c);
    CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR
       && strcmp(PQresultErrorField(r, PG_DIAG_SQLSTATE), "40P01") == 0, "async COMMIT fails with 40P01");
    PQclear(r);
    drain_ok(c);
    CHECK(PQtransactionStatus(c) == PQTRANS_IDLE && count_rows(ctl, "SELECT count(*) FROM pgf_t WHERE id = 5") == 0,
       "async failed COMMIT rolled back");

    configure("sql=/^insert/:error=23505/dup \\: key");
    run(c, "BEGIN", st);
    r = PQexec(c, "INSERT INTO pgf_t VALUES (2)");
    CHECK(strcmp(PQresultErrorField(r, PG_DIAG_SQLSTATE), "23505") == 0
       && strcmp(PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY), "dup : key") == 0,
       "error=SQLSTATE/message sets both (%s)", PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
    CHECK(strstr(PQresultErrorField(r, PG_DIAG_MESSAGE_HINT), "pgfault") != NULL, "hint marks the injection");
    PQclear(r);
    CHECK(strcmp(run(c, "SELECT 1", st), "25P02") == 0, "the block is aborted on the server (25P02 next)");
    run(c, "ROLLBACK", st);

    configure("commit:ambiguous");
    run(c, "BEGIN", st);
    run(c, "INSERT INTO pgf_t VALUES (3)", st);
    r = PQexec(c, "COMMIT");
    CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR && PQstatus(c) == CONNECTION_BAD,
       "ambiguous COMMIT: client sees a connection failure");
    PQclear(r);
    CHECK(count_rows(ctl, "SELECT count(*) FROM pgf_t WHERE id = 3") == 1, "ambiguous COMMIT did commit");

    /* PQreset keeps the ordinal and the counters. */
    configure("stmt:when=1+:delay=0us");
    PQreset(c);
    run(c, "SELECT 1", st);
    int ord = ev_last_conn;
    configure("sql=/^insert/:when=2:drop");
    run(c, "BEGIN", st);
    CHECK(run(c, "INSERT INTO pgf_t VALUES (4)", st)[0] == '\0', "first INSERT passes");
    r = PQexec(c, "INSERT INTO pgf_t VALUES (6)");
    CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR && PQstatus(c) == CONNECTION_BAD,
       "drop: CONNECTION_BAD (%s)", PQerrorMessage(c));
    PQclear(r);
    PQreset(c);
    CHECK(PQstatus(c) == CONNECTION_OK, "PQreset reconnects after a drop");
    CHECK(count_rows(ctl, "SELECT count(*) FROM pgf_t WHERE id IN (4, 6)") == 0, "drop rolled the block back");
    CHECK(run(c, "INSERT INTO pgf_t VALUES (7)", st)[0] == '\0', "counters survive PQreset: when=2 does not fire again");
    configure("stmt:when=1:delay=0us");
    run(c, "SELECT 1", st);
    CHECK(ev_last_conn == ord, "PQreset keeps the connection ordinal (%d)", ev_last_conn);

    char err[256];
    CHECK(pgf_configure("commit:when=0:drop", err, sizeof err) == -1 && strstr(err, "\"when=0\"") != NULL,
       "pgf_configure rejects a bad spec: %s", err);
    CHECK(pgf_configure(NULL, err, sizeof err) == 0, "pgf_configure(NULL) clears the rules");
    PQfinish(c);
}

/* --- threads ------------------------------------------------------------- */
#define ROUNDS 10
static void *worker(void *arg)
{
    int *fails = arg;
    PGconn *c = PQconnectdb("");
    char st[6];
    if (PQstatus(c) != CONNECTION_OK) { *fails = -1; PQfinish(c); return NULL; }
    for (int i = 0; i < ROUNDS; i++) {
        run(c, "BEGIN", st);
        run(c, "SELECT 1", st);
        if (strcmp(run(c, "COMMIT", st), "40001") == 0) ++*fails;
    }
    PQfinish(c);
    return NULL;
}

static void test_threads(int n)
{
    pthread_t th[64];
    int fails[64] = {0};
    configure("commit:when=2+2:error=40001");
    unsigned long f0 = pgf_fired_total();
    for (int i = 0; i < n; i++) pthread_create(&th[i], NULL, worker, &fails[i]);
    int all = 1;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        if (fails[i] != ROUNDS / 2) all = 0;
    }
    CHECK(all, "%d threads: every connection's COMMITs 2,4,6,.. failed (%d each)", n, fails[0]);
    CHECK(pgf_fired_total() - f0 == (unsigned long)(n * ROUNDS / 2), "fired %lu in all",
       pgf_fired_total() - f0);
    configure(NULL);
}

/* The gate is told a digest of a statement's parameters: the same for the
 * same values, another for others, PGF_NO_PARAMS with none — what tells
 * the explorer a repeated read (a poll) from a read of something else. */
static uint64_t gate_params[8];
static int gate_calls;

static int record_gate(void *arg, PGconn *conn, const char *sql, uint64_t params)
{
    (void)arg, (void)conn, (void)sql;
    if (gate_calls < 8)
        gate_params[gate_calls] = params;
    gate_calls++;
    return PGF_GATE_GO;
}

static void test_gate_params(PGconn *c)
{
    const char *one[] = { "1" }, *two[] = { "2" }, *none[] = { NULL }, *a[] = { "ab" }, *b[] = { "a" };
    pgf_set_gate(record_gate, NULL);
    PQclear(PQexecParams(c, "SELECT $1::text", 1, NULL, one, NULL, NULL, 0));
    PQclear(PQexecParams(c, "SELECT $1::text", 1, NULL, one, NULL, NULL, 0));
    PQclear(PQexecParams(c, "SELECT $1::text", 1, NULL, two, NULL, NULL, 0));
    PQclear(PQexecParams(c, "SELECT $1::text", 1, NULL, none, NULL, NULL, 0));
    PQclear(PQexecParams(c, "SELECT $1::text, $2::text", 2, NULL, (const char *[]){ a[0], b[0] }, NULL, NULL, 0));
    PQclear(PQexecParams(c, "SELECT $1::text, $2::text", 2, NULL, (const char *[]){ b[0], a[0] }, NULL, NULL, 0));
    PQclear(PQexec(c, "SELECT 1"));
    pgf_set_gate(NULL, NULL);
    CHECK(gate_calls == 7, "the gate is asked once per statement (%d)", gate_calls);
    CHECK(gate_params[0] == gate_params[1] && gate_params[0] != PGF_NO_PARAMS,
          "the same parameter values: the same digest");
    CHECK(gate_params[2] != gate_params[0], "other values: another digest");
    CHECK(gate_params[3] != gate_params[0] && gate_params[3] != PGF_NO_PARAMS, "a NULL value: its own digest");
    CHECK(gate_params[4] != gate_params[5], "values that join alike (\"ab\",\"a\" and \"a\",\"ab\"): two digests");
    CHECK(gate_params[6] == PGF_NO_PARAMS, "no parameters: PGF_NO_PARAMS");
}

int main(void)
{
    if (!getenv("PGHOST") && !getenv("PGDATABASE"))
        check_bail("needs a server in PGHOST: t/30-shim-count.t runs this under a throwaway cluster");
    pgf_set_observer(observe, NULL);
    pgf_thread_exempt(1);
    PGconn *ctl = connect_db();
    pgf_thread_exempt(0);
    PGconn *c = connect_db();
    test_apis(c);
    test_when(c);
    test_gate_params(c);
    PQfinish(c);
    test_scope();
    test_actions(ctl);
    test_threads(getenv("PGF_THREADS") ? atoi(getenv("PGF_THREADS")) : 8);
    PQfinish(ctl);
    return check_done();
}
