/*
 * proxy_gate.c — the proxy's gate and what a scheduler needs from it,
 * against a real server through a real proxy (libpq clients):
 *  - the gate is asked before each statement with the connection's number,
 *    its backend pid (the one the server reports), its transaction status
 *    and the statement's number and text; proxy_backend_pid agrees;
 *  - a gate that holds a statement holds it from the server (the server
 *    sees the session idle), and letting it go runs it;
 *  - lib/blocking works unchanged on the pids the gate is given: a
 *    statement let go into another session's row lock is "blocked";
 *  - each fault a gate can answer is the server's: ERROR (40001, then
 *    25P02 in the block), CANCEL (57014), DROP (a lost connection, the
 *    block rolled back), AMBIGUOUS at COMMIT (lost, but committed);
 *  - a CancelRequest cuts a delay short (57014), one for a running
 *    statement reaches its backend, and the proxy's stop ends a delay of
 *    an hour and leaves no socket behind.
 * Runs in every pass (TSan: the gate's callers are the connection threads).
 */
#include "t/unit/check.h"

#include "proxy/proxy.h"
#include "faults/pgfault.h"
#include "lib/blocking.h"
#include "lib/cleanup.h"
#include "lib/cluster.h"
#include "lib/err.h"
#include "lib/pq.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* A tiny scheduler: statements of held connections wait until let go. */
typedef struct ctl {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int hold_conn;              /* statements of this connection wait (0: none) */
    int waiting;                /* a statement waits at the gate */
    int go;                     /* let it go */
    int answer;                 /* what the gate answers the next statement of answer_conn */
    int answer_conn;
    proxy_stmt last;            /* the last statement the gate saw */
    char last_sql[200];
    int seen;
} ctl;

static int gate(void *arg, const proxy_stmt *st)
{
    ctl *c = arg;
    pthread_mutex_lock(&c->mu);
    c->last = *st;
    snprintf(c->last_sql, sizeof c->last_sql, "%s", st->sql);
    c->last.sql = c->last_sql;
    c->seen++;
    pthread_cond_broadcast(&c->cv);
    int a = PGF_GATE_GO;
    if (c->answer && c->answer_conn == st->conn) {
        a = c->answer;
        c->answer = 0;
    }
    if (st->conn == c->hold_conn) {
        c->waiting = 1;
        pthread_cond_broadcast(&c->cv);
        while (!c->go)
            pthread_cond_wait(&c->cv, &c->mu);      /* the test always lets it go */
        c->go = 0;
        c->waiting = 0;
    }
    pthread_mutex_unlock(&c->mu);
    return a;
}

static void answer_next(ctl *c, int conn, int action)
{
    pthread_mutex_lock(&c->mu);
    c->answer_conn = conn;
    c->answer = action;
    pthread_mutex_unlock(&c->mu);
}

/* The SQLSTATE of running sql on k ("" when it succeeded, "lost" when the
 * connection went). */
static const char *state_of(PGconn *k, const char *sql, char *buf, size_t len)
{
    PGresult *r = PQexec(k, sql);
    ExecStatusType st = PQresultStatus(r);
    const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    snprintf(buf, len, "%s", st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? "" : code ? code
                            : PQstatus(k) == CONNECTION_BAD ? "lost" : "?");
    PQclear(r);
    return buf;
}

static int socket_done(void *arg, int64_t timeout_ns, char *err, size_t errlen)
{
    PGconn *k = arg;
    (void)err, (void)errlen;
    if (!PQconsumeInput(k))
        return 1;
    if (!PQisBusy(k))
        return 1;
    struct pollfd pf = { PQsocket(k), POLLIN, 0 };
    poll(&pf, 1, (int)((timeout_ns + 999999) / 1000000));
    PQconsumeInput(k);
    return !PQisBusy(k);
}

static void drain(PGconn *k)
{
    PGresult *r;
    while ((r = PQgetResult(k)))
        PQclear(r);
}

/* k's statement ends as a cancelled one (57014): the point what says so. */
static void expect_cancelled(PGconn *k, PGcancel *cancel, const char *what)
{
    PGresult *r = PQgetResult(k);
    const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    CHECK(code && strcmp(code, "57014") == 0, "%s (%s)", what, code ? code : PQresultErrorMessage(r));
    PQclear(r);
    drain(k);
    PQfreeCancel(cancel);
}

static PGconn *through(const proxy *p, const char *app)
{
    char ci[512];
    snprintf(ci, sizeof ci, "host=%s port=%d user=%s dbname=%s application_name=%s", proxy_host(p), proxy_port(p),
             proxy_user(p), proxy_dbname(p), app);
    PGconn *k = PQconnectdb(ci);
    if (PQstatus(k) != CONNECTION_OK)
        check_bail("connect through the proxy: %s", PQerrorMessage(k));
    return k;
}

int main(void)
{
    char err[ERRLEN], buf[64];
    if (cleanup_signals_start(err, sizeof err) < 0)
        check_bail("%s", err);
    cluster *cl;
    if (cluster_start(&cl, err, sizeof err) < 0)
        check_bail("cluster_start: %s", err);
    PGconn *direct = pqx_connect(cluster_conninfo(cl), "public", "ctl", err, sizeof err);
    if (!direct)
        check_bail("%s", err);
    pqx_ctl_exec(direct, "CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 0)", err, sizeof err);

    proxy *p;
    proxy_config cfg = { .upstream = cluster_conninfo(cl), .rules = "sql=/pgf-delay/:when=1+:delay=1h" };
    if (proxy_start(&p, &cfg, err, sizeof err) < 0)
        check_bail("proxy_start: %s", err);
    ctl c = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
    proxy_set_gate(p, gate, &c);

    PGconn *k1 = through(p, "k1"), *k2 = through(p, "k2");
    PQclear(PQexec(k1, "SELECT 1"));
    pthread_mutex_lock(&c.mu);
    proxy_stmt seen = c.last;
    pthread_mutex_unlock(&c.mu);
    CHECK(seen.conn == 1 && seen.backend_pid == PQbackendPID(k1) && seen.tx_status == 'I' && seen.stmt == 1
              && strcmp(seen.sql, "SELECT 1") == 0,
          "the gate sees connection 1's first statement, its backend pid %d, idle (%d %d %c %ld '%s')",
          PQbackendPID(k1), seen.conn, seen.backend_pid, seen.tx_status, seen.stmt, seen.sql);
    CHECK(proxy_backend_pid(p, 1) == PQbackendPID(k1) && proxy_backend_pid(p, 2) == PQbackendPID(k2),
          "proxy_backend_pid gives each connection's backend");

    /* Held at the gate: the server never saw it. */
    pthread_mutex_lock(&c.mu);
    c.hold_conn = 1;
    pthread_mutex_unlock(&c.mu);
    PQsendQuery(k1, "UPDATE t SET v = v + 1 WHERE id = 1");
    pthread_mutex_lock(&c.mu);
    while (!c.waiting)
        pthread_cond_wait(&c.cv, &c.mu);
    pthread_mutex_unlock(&c.mu);
    char q[200];
    snprintf(q, sizeof q, "SELECT state || ':' || query FROM pg_stat_activity WHERE pid = %d", PQbackendPID(k1));
    PGresult *r = PQexec(direct, q);
    CHECK(PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "idle:SELECT 1") == 0,
          "a statement held at the gate has not reached the server (%s)", PQntuples(r) ? PQgetvalue(r, 0, 0) : "?");
    PQclear(r);
    pthread_mutex_lock(&c.mu);
    c.go = 1;
    c.hold_conn = 0;
    pthread_cond_broadcast(&c.cv);
    pthread_mutex_unlock(&c.mu);
    r = PQgetResult(k1);
    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK, "let go, it runs");
    PQclear(r);
    drain(k1);

    /* A Bind's parameters reach the gate as a digest: the same values the
     * same, other values another; a Query's statement has none. */
    uint64_t digest[3];
    for (int i = 0; i < 3; i++) {
        const char *v[] = { i < 2 ? "7" : "8" };
        PQclear(PQexecParams(k1, "SELECT $1::int", 1, NULL, v, NULL, NULL, 0));
        pthread_mutex_lock(&c.mu);
        digest[i] = c.last.params;
        pthread_mutex_unlock(&c.mu);
    }
    CHECK(digest[0] == digest[1] && digest[0] != PGF_NO_PARAMS && digest[2] != digest[0],
          "a Bind's parameters: the same values, the same digest; others, another");
    CHECK(seen.params == PGF_NO_PARAMS, "a Query's statement: PGF_NO_PARAMS");

    /* lib/blocking on the gate's pids. */
    PGconn *watchconn = pqx_connect(cluster_conninfo(cl), "public", "watch", err, sizeof err);
    blk_watch *w = blk_new(watchconn, err, sizeof err);
    PQclear(PQexec(k1, "BEGIN"));
    PQclear(PQexec(k1, "SELECT v FROM t WHERE id = 1 FOR UPDATE"));
    pthread_mutex_lock(&c.mu);
    char tx = c.last.tx_status;
    int pid1 = c.last.backend_pid;
    pthread_mutex_unlock(&c.mu);
    CHECK(tx == 'T', "in a transaction block the gate sees status T");
    pthread_mutex_lock(&c.mu);
    int before = c.seen;
    pthread_mutex_unlock(&c.mu);
    PQsendQuery(k2, "UPDATE t SET v = v + 1 WHERE id = 1");
    pthread_mutex_lock(&c.mu);
    while (c.seen == before)
        pthread_cond_wait(&c.cv, &c.mu);        /* the gate is asked: it never holds connection 2 */
    int pid2 = c.last.backend_pid;
    pthread_mutex_unlock(&c.mu);
    int pids[] = { pid1, pid2 };
    const char *names[] = { "c1", "c2" };
    blk_set_sessions(w, pids, names, 2, err, sizeof err);
    int st = blk_await(w, pid2, socket_done, k2, 5000000000LL, err, sizeof err);
    CHECK(st == BLK_BLOCKED, "lib/blocking: connection 2's UPDATE, by the pid the gate gave, waits on connection 1 (%d)",
          st);
    PQclear(PQexec(k1, "COMMIT"));
    drain(k2);
    blk_free(w);
    PQfinish(watchconn);

    /* The faults a gate answers. */
    answer_next(&c, 1, PGF_GATE_ERROR);
    CHECK(strcmp(state_of(k1, "SELECT 1", buf, sizeof buf), "40001") == 0, "ERROR: the server raises 40001 (%s)", buf);
    PQclear(PQexec(k1, "BEGIN"));
    answer_next(&c, 1, PGF_GATE_ERROR);
    state_of(k1, "INSERT INTO t VALUES (2, 0)", buf, sizeof buf);
    CHECK(strcmp(state_of(k1, "SELECT 1", buf, sizeof buf), "25P02") == 0,
          "... in a block, the next statement gets 25P02 (%s)", buf);
    PQclear(PQexec(k1, "ROLLBACK"));
    answer_next(&c, 1, PGF_GATE_CANCEL);
    CHECK(strcmp(state_of(k1, "SELECT 1", buf, sizeof buf), "57014") == 0, "CANCEL: 57014 (%s)", buf);
    PQclear(PQexec(k2, "BEGIN"));
    PQclear(PQexec(k2, "INSERT INTO t VALUES (3, 0)"));
    answer_next(&c, 2, PGF_GATE_AMBIGUOUS);
    CHECK(strcmp(state_of(k2, "COMMIT", buf, sizeof buf), "lost") == 0, "AMBIGUOUS: the client loses its COMMIT (%s)",
          buf);
    PQclear(PQexec(k1, "BEGIN"));
    PQclear(PQexec(k1, "INSERT INTO t VALUES (4, 0)"));
    answer_next(&c, 1, PGF_GATE_DROP);
    CHECK(strcmp(state_of(k1, "COMMIT", buf, sizeof buf), "lost") == 0, "DROP: the connection is lost (%s)", buf);
    r = PQexec(direct, "SELECT string_agg(id::text, ',' ORDER BY id) FROM t");
    CHECK(strcmp(PQgetvalue(r, 0, 0), "1,3") == 0, "... the ambiguous COMMIT committed, the dropped one did not (%s)",
          PQgetvalue(r, 0, 0));
    PQclear(r);
    CHECK(proxy_fired(p) == 5, "every gate fault counted (%lu)", proxy_fired(p));
    PQfinish(k1);
    PQfinish(k2);
    proxy_set_gate(p, NULL, NULL);

    /* A CancelRequest cuts a delay short: the server raises 57014. */
    PGconn *k3 = through(p, "k3");
    PQsendQuery(k3, "SELECT 1 /* pgf-delay */");
    PGcancel *cancel = PQgetCancel(k3);
    /* The cancel may arrive before the delay holds the statement; then
     * the server gets it and cancels nothing: ask until the hold took it. */
    int cancelled = 0;
    for (int i = 0; i < 200 && !cancelled; i++) {
        PQcancel(cancel, err, sizeof err);
        struct pollfd pf = { PQsocket(k3), POLLIN, 0 };
        cancelled = poll(&pf, 1, 50) > 0;
    }
    expect_cancelled(k3, cancel, "a CancelRequest for a delayed statement: the server raises 57014");

    /* A CancelRequest for a statement the server runs reaches its backend. */
    PQsendQuery(k3, "SELECT pg_sleep(60)");
    cancel = PQgetCancel(k3);
    snprintf(q, sizeof q, "SELECT count(*) FROM pg_stat_activity WHERE pid = %d AND state = 'active'", PQbackendPID(k3));
    for (int i = 0; i < 1000; i++) {         /* until the server runs it: asked, never guessed */
        r = PQexec(direct, q);
        int running = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "1") == 0;
        PQclear(r);
        if (running)
            break;
    }
    CHECK(PQcancel(cancel, err, sizeof err) == 1, "PQcancel through the proxy is sent (%s)", err);
    expect_cancelled(k3, cancel, "the proxy routes it to the right backend: pg_sleep(60) is cancelled");

    /* The stop ends an hour's delay; the socket and its directory go. */
    PQsendQuery(k3, "SELECT 2 /* pgf-delay */");
    PQflush(k3);
    char dir[256];
    snprintf(dir, sizeof dir, "%s", proxy_host(p));
    proxy_stop(p);
    r = PQgetResult(k3);
    CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR && PQstatus(k3) == CONNECTION_BAD,
          "the proxy's stop ends a statement held by a delay of 1h: the connection is gone");
    PQclear(r);
    struct stat sb;
    CHECK(stat(dir, &sb) < 0, "the proxy's socket directory is gone (%s)", dir);
    PQfinish(k3);
    PQfinish(direct);
    cluster_stop(cl);
    return check_done();
}
