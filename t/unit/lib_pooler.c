/*
 * lib_pooler.c — lib/pooler against a real server, in both modes: every
 * server connection it hands out has the run's schema (a client's own
 * startup options are ignored, not refused), a client's application_name
 * is on the server connection that serves it, transaction pooling passes a
 * session-level SET from one client to the next while session pooling
 * resets it (and keeps the schema), and stopping leaves no process and no
 * directory. A bad --pooler value is refused in one line. lib/blocking
 * through it: a session blocked behind another's row lock is blocked (by
 * pid, as a direct session is declared, it would not be seen: the pid a
 * client has is pgbouncer's key), its holder named; a session-level
 * advisory lock a transaction left on its pooled connection blocks in the
 * name of the session that used that connection last.
 */
#include "t/unit/check.h"
#include "t/unit/pqwait.h"

#include "lib/blocking.h"
#include "lib/cleanup.h"
#include "lib/cluster.h"
#include "lib/err.h"
#include "lib/pooler.h"
#include "lib/pq.h"

#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* The first value of sql's first row on c, into out ("" on failure). */
static void value(PGconn *c, const char *sql, char *out, size_t len)
{
    char err[ERRLEN];
    PGresult *r = pqx_ctl_query(c, sql, 0, NULL, err, sizeof err);
    snprintf(out, len, "%s", r && PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
}

/* lib/blocking through transaction pooling: two sessions, each a client of
 * the pooler with a name of its own. */
static void blocking(pooler *p, PGconn *ctl)
{
    char err[ERRLEN], v[64];
    PGconn *s1 = pqx_connect(pooler_conninfo(p), NULL, "unit/s1", err, sizeof err);
    PGconn *s2 = pqx_connect(pooler_conninfo(p), NULL, "unit/s2", err, sizeof err);
    blk_watch *w = blk_new(ctl, err, sizeof err);
    if (!s1 || !s2 || !w) {
        check_bail("%s", err);
        return;
    }
    int keys[] = { PQbackendPID(s1), PQbackendPID(s2) };
    const char *apps[] = { "unit/s1", "unit/s2" }, *names[] = { "session s1", "session s2" };
    pqx_ctl_exec(s1, "BEGIN; SELECT v FROM t WHERE id = 1 FOR UPDATE", err, sizeof err);
    int server = 0;
    value(s1, "SELECT pg_backend_pid()", v, sizeof v);
    int rc = blk_backend_of(ctl, "unit/s1", &server, err, sizeof err);
    CHECK(rc == 0 && server == atoi(v), "blk_backend_of: the backend serving s1 is the one s1's statements run on "
          "(%d, %s)", server, v);
    CHECK(keys[0] != server, "PQbackendPID through the pooler is not the server's pid (%d, %d)", keys[0], server);

    /* The planted bug: declared by pid, as a direct session is. */
    CHECK(blk_set_sessions(w, keys, names, 2, err, sizeof err) == 0, "declared by pid");
    PQsendQuery(s2, "UPDATE t SET v = v + 1 WHERE id = 1");
    int st = blk_await(w, keys[1], socket_done, s2, 200000000LL, err, sizeof err);
    CHECK(st == BLK_STUCK, "by pid through the pooler, a blocked session is not seen blocked (%d)", st);

    CHECK(blk_set_pooled_sessions(w, keys, apps, names, 2, err, sizeof err) == 0, "declared by application name");
    st = blk_await(w, keys[1], socket_done, s2, 5000000000LL, err, sizeof err);
    CHECK(st == BLK_BLOCKED, "through the pooler, an UPDATE behind s1's row lock is blocked (%d %s)", st,
          st < 0 ? err : "");
    CHECK(blk_is_blocked(w, keys[0], err, sizeof err) == 0, "s1 itself is not blocked");
    char by[64];
    CHECK(blk_blocked_by(w, keys[1], by, sizeof by, err, sizeof err) == 0 && strcmp(by, "session s1") == 0,
          "blocked by session s1 (%s)", by);
    json_t *d = blk_describe(w, err, sizeof err);
    const char *l2 = d ? json_string_value(json_array_get(d, 1)) : NULL;
    CHECK(l2 && strstr(l2, "session s2: running UPDATE t SET v = v + 1") &&
          strstr(l2, "held by session s1 (idle in transaction"),
          "diagnosis through the pooler names the holder: %s", l2 ? l2 : err);
    json_decref(d);
    pqx_ctl_exec(s1, "COMMIT", err, sizeof err);
    st = blk_await(w, keys[1], socket_done, s2, 5000000000LL, err, sizeof err);
    CHECK(st == BLK_DONE && finish(s2) == 0, "once s1 commits, the UPDATE completes");

    /* A session-level lock left on a pooled connection: s1's transaction
     * takes it and ends, its server connection goes back to the pool; the
     * ones of s2 and a third client went back after it, and pgbouncer hands
     * out the one released last: s1's next transaction runs on the third
     * client's, s2's next statement on its own. */
    PGconn *s3 = pqx_connect(pooler_conninfo(p), NULL, "unit/s3", err, sizeof err);
    pqx_ctl_exec(s1, "BEGIN", err, sizeof err);
    pqx_ctl_exec(s2, "BEGIN", err, sizeof err);
    pqx_ctl_exec(s3, "BEGIN", err, sizeof err);
    pqx_ctl_exec(s1, "SELECT pg_advisory_lock(7); COMMIT", err, sizeof err);
    pqx_ctl_exec(s2, "COMMIT", err, sizeof err);
    pqx_ctl_exec(s3, "COMMIT", err, sizeof err);
    PQsendQuery(s2, "SELECT pg_advisory_lock(7)");
    st = blk_await(w, keys[1], socket_done, s2, 5000000000LL, err, sizeof err);
    CHECK(st == BLK_BLOCKED, "a leaked advisory lock blocks s2 in a test session's name (%d %s)", st,
          st < 0 ? err : "");
    d = blk_describe(w, err, sizeof err);
    l2 = d ? json_string_value(json_array_get(d, 1)) : NULL;
    CHECK(l2 && strstr(l2, "waiting on Lock/advisory held by session s1 (idle after SELECT pg_advisory_lock(7)"),
          "diagnosis: the lock's connection is s1's, idle after the statement that took it: %s", l2 ? l2 : err);
    json_decref(d);
    pqx_ctl_exec(s1, "BEGIN", err, sizeof err);
    d = blk_describe(w, err, sizeof err);
    const char *l1 = d ? json_string_value(json_array_get(d, 0)) : NULL;
    l2 = d ? json_string_value(json_array_get(d, 1)) : NULL;
    CHECK(l1 && strstr(l1, "session s1: idle in transaction"), "s1 in a transaction on another connection: %s",
          l1 ? l1 : err);
    CHECK(l2 && strstr(l2, "(the pooled server connection session s1 used last) (idle after SELECT pg_advisory_lock"),
          "the lock's connection is then the one s1 used last: %s", l2 ? l2 : err);
    json_decref(d);
    pqx_ctl_exec(s1, "COMMIT", err, sizeof err);
    PQfinish(s3);
    PGcancel *cancel = PQgetCancel(s2);
    PQcancel(cancel, err, sizeof err);
    PQfreeCancel(cancel);
    finish(s2);
    pqx_ctl_exec(ctl, "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'", err, sizeof err);
    blk_free(w);
    PQfinish(s1);
    PQfinish(s2);
}

static void one_mode(cluster *cl, PGconn *ctl, pooler_mode mode)
{
    char err[ERRLEN], v[256];
    const char *name = pooler_name(mode);
    pooler_server srv = { .host = cluster_host(cl), .port = cluster_port(cl), .dbname = cluster_dbname(cl),
                          .user = cluster_user(cl), .schema = "pooled", .appname = "unit/pool" };
    pooler *p = NULL;
    CHECK(pooler_start(&p, mode, &srv, err, sizeof err) == 0, "%s starts: %s", name, p ? "" : err);
    if (!p)
        return;
    CHECK(pooler_mode_of(p) == mode, "%s: its mode", name);
    /* pqx_connect sends search_path=public as a startup option: ignored. */
    PGconn *a = pqx_connect(pooler_conninfo(p), "public", "unit/a", err, sizeof err);
    CHECK(a != NULL, "%s: a client connects through it: %s", name, a ? "" : err);
    if (!a)
        goto out;
    value(a, "SHOW search_path", v, sizeof v);
    CHECK(strcmp(v, "\"pooled\"") == 0 || strcmp(v, "pooled") == 0, "%s: the server connection has the run's schema "
          "(%s)", name, v);
    value(a, "SHOW client_min_messages", v, sizeof v);
    CHECK(strcmp(v, "notice") == 0, "%s: a client's other startup options do not reach the server "
          "(client_min_messages %s)", name, v);
    PQclear(PQexec(a, "BEGIN"));
    value(ctl, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'unit/a' AND state <> 'idle'", v,
          sizeof v);
    CHECK(strcmp(v, "1") == 0, "%s: the backend in the client's transaction bears its application_name (%s)", name,
          v);
    PQclear(PQexec(a, "SET statement_timeout = '7s'"));
    PQclear(PQexec(a, "COMMIT"));
    PQfinish(a);
    /* One client at a time: the next gets the connection the first left. */
    PGconn *b = pqx_connect(pooler_conninfo(p), NULL, "unit/b", err, sizeof err);
    CHECK(b != NULL, "%s: a second client connects", name);
    if (!b)
        goto out;
    value(b, "SHOW statement_timeout", v, sizeof v);
    if (mode == POOLER_TRANSACTION)
        CHECK(strcmp(v, "7s") == 0, "transaction pooling: a session-level SET reaches the next client (%s)", v);
    else
        CHECK(strcmp(v, "0") == 0, "session pooling: the client's SET is reset with its session (%s)", v);
    value(b, "SHOW search_path", v, sizeof v);
    CHECK(strstr(v, "pooled") != NULL, "%s: the schema is kept across clients (%s)", name, v);
    value(b, "SELECT current_setting('application_name')", v, sizeof v);
    CHECK(strcmp(v, "unit/b") == 0, "%s: the second client's name is on its server connection (%s)", name, v);
    PQfinish(b);
    if (mode == POOLER_TRANSACTION)
        blocking(p, ctl);
out:;
    int pid = p ? pooler_pid(p) : 0;
    char dir[512];
    snprintf(dir, sizeof dir, "%s", pooler_conninfo(p) + strlen("host="));
    dir[strcspn(dir, " ")] = '\0';
    pooler_stop(p);
    struct stat st;
    CHECK(pid > 0 && kill(pid, 0) == -1, "%s: stopped, pgbouncer is gone", name);
    CHECK(stat(dir, &st) == -1, "%s: and its directory %s", name, dir);
}

int main(void)
{
    char err[ERRLEN];
    if (cleanup_signals_start(err, sizeof err) < 0) {
        check_bail("%s", err);
        return 1;
    }
    pooler_mode m;
    CHECK(pooler_parse("pgbouncer", &m, err, sizeof err) == 0 && m == POOLER_TRANSACTION,
          "--pooler pgbouncer is transaction pooling");
    CHECK(pooler_parse("pgbouncer:session", &m, err, sizeof err) == 0 && m == POOLER_SESSION,
          "--pooler pgbouncer:session");
    CHECK(pooler_parse("pgbouncer:statement", &m, err, sizeof err) < 0 && strstr(err, "pgbouncer:session"),
          "anything else is refused, the choices listed: %s", err);
    cluster *cl;
    if (cluster_start(&cl, err, sizeof err) < 0) {
        check_bail("cluster_start: %s", err);
        return 1;
    }
    PGconn *ctl = pqx_connect(cluster_conninfo(cl), NULL, "unit/ctl", err, sizeof err);
    if (!ctl || pqx_ctl_exec(ctl, "CREATE SCHEMA pooled; CREATE TABLE pooled.t (id int PRIMARY KEY, v int); "
                                  "INSERT INTO pooled.t VALUES (1, 0)", err, sizeof err) < 0) {
        check_bail("%s", err);
        return 1;
    }
    one_mode(cl, ctl, POOLER_TRANSACTION);
    one_mode(cl, ctl, POOLER_SESSION);
    PQfinish(ctl);
    cluster_stop(cl);
    return check_done();
}
