/*
 * lib_blocking.c — lib/blocking against a real server: a statement that
 * completes is done, one queued behind another session's lock is blocked
 * (and named as such, with its holder, in the diagnosis), one that is slow
 * but blocked by no test session is stuck at the bound, and a blocked one
 * completes once its blocker commits.
 */
#include "t/unit/check.h"
#include "t/unit/pqwait.h"

#include "lib/blocking.h"
#include "lib/cleanup.h"
#include "lib/cluster.h"
#include "lib/err.h"
#include "lib/pq.h"

#include <stdio.h>
#include <string.h>

static PGconn *open_conn(const char *conninfo, const char *app)
{
    char err[ERRLEN];
    PGconn *c = pqx_connect(conninfo, "public", app, err, sizeof err);
    if (!c)
        check_bail("connect %s: %s", app, err);
    return c;
}

int main(void)
{
    char err[ERRLEN];
    if (cleanup_signals_start(err, sizeof err) < 0)
        check_bail("%s", err);
    cluster *cl;
    if (cluster_start(&cl, err, sizeof err) < 0)
        check_bail("cluster_start: %s", err);
    const char *ci = cluster_conninfo(cl);
    PGconn *ctl = open_conn(ci, "ctl"), *s1 = open_conn(ci, "s1"), *s2 = open_conn(ci, "s2");
    pqx_ctl_exec(ctl, "CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 0)", err, sizeof err);

    blk_watch *w = blk_new(ctl, err, sizeof err);
    int pids[] = { PQbackendPID(s1), PQbackendPID(s2) };
    const char *names[] = { "session s1", "session s2" };
    CHECK(w && blk_set_sessions(w, pids, names, 2, err, sizeof err) == 0, "a watch over two sessions");
    CHECK(blk_name_of(w, pids[1]) && strcmp(blk_name_of(w, pids[1]), "session s2") == 0, "names a session by pid");

    PQsendQuery(s2, "SELECT v FROM t WHERE id = 1");
    int st = blk_await(w, pids[1], socket_done, s2, 5000000000LL, err, sizeof err);
    CHECK(st == BLK_DONE && finish(s2) == 0, "a statement nobody blocks is done (%d %s)", st, st < 0 ? err : "");

    pqx_ctl_exec(s1, "BEGIN; SELECT v FROM t WHERE id = 1 FOR UPDATE", err, sizeof err);
    PQsendQuery(s2, "UPDATE t SET v = v + 1 WHERE id = 1");
    st = blk_await(w, pids[1], socket_done, s2, 5000000000LL, err, sizeof err);
    CHECK(st == BLK_BLOCKED, "an UPDATE behind s1's row lock is blocked (%d %s)", st, st < 0 ? err : "");
    CHECK(blk_is_blocked(w, pids[1], err, sizeof err) == 1, "and stays blocked while s1 holds the lock");
    CHECK(blk_is_blocked(w, pids[0], err, sizeof err) == 0, "s1 itself is not blocked");

    json_t *d = blk_describe(w, err, sizeof err);
    const char *l1 = d ? json_string_value(json_array_get(d, 0)) : NULL;
    const char *l2 = d ? json_string_value(json_array_get(d, 1)) : NULL;
    CHECK(l1 && strncmp(l1, "session s1: idle in transaction ", 32) == 0 && strstr(l1, " after ") && strstr(l1, "SELECT v FROM t WHERE id = 1 FOR UPDATE"),
          "diagnosis: the holder is idle in transaction after its SELECT: %s", l1 ? l1 : err);
    CHECK(l2 && strstr(l2, "session s2: running UPDATE t SET v = v + 1") &&
          strstr(l2, "waiting on Lock/transactionid held by session s1 (idle in transaction"),
          "diagnosis: the waiter names its lock and its holder: %s", l2 ? l2 : err);
    json_decref(d);

    pqx_ctl_exec(s1, "COMMIT", err, sizeof err);
    st = blk_await(w, pids[1], socket_done, s2, 5000000000LL, err, sizeof err);
    CHECK(st == BLK_DONE && finish(s2) == 0, "once s1 commits, the UPDATE completes");

    /* Slow, but blocked by no test session: stuck at the bound, never
     * "blocked". */
    PQsendQuery(s2, "SELECT pg_sleep(0.3)");
    st = blk_await(w, pids[1], socket_done, s2, 50000000LL, err, sizeof err);
    CHECK(st == BLK_STUCK, "a sleeping statement is stuck at a 50ms bound, not blocked (%d)", st);
    st = blk_await(w, pids[1], socket_done, s2, 5000000000LL, err, sizeof err);
    CHECK(st == BLK_DONE && finish(s2) == 0, "and done when it ends");

    /* A blocker that is no test session is named by pid and application. */
    PGconn *other = open_conn(ci, "someone-else");
    pqx_ctl_exec(other, "BEGIN; LOCK TABLE t", err, sizeof err);
    PQsendQuery(s1, "SELECT count(*) FROM t");
    st = blk_await(w, pids[0], socket_done, s1, 100000000LL, err, sizeof err);
    CHECK(st == BLK_STUCK, "waiting on a session outside the test is not 'blocked by a test session' (%d)", st);
    d = blk_describe(w, err, sizeof err);
    l1 = d ? json_string_value(json_array_get(d, 0)) : NULL;
    CHECK(l1 && strstr(l1, "waiting on Lock/relation held by pid ") && strstr(l1, "(not a test session: 'someone-else')"),
          "diagnosis: an outside holder by pid and application: %s", l1 ? l1 : err);
    json_decref(d);
    pqx_ctl_exec(other, "COMMIT", err, sizeof err);
    finish(s1);

    blk_free(w);
    PQfinish(other);
    PQfinish(s1);
    PQfinish(s2);
    PQfinish(ctl);
    cluster_stop(cl);
    return check_done();
}
