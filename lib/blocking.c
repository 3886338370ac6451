/* blocking.c — completed or blocked, asked of the server (see blocking.h). */
#include "lib/blocking.h"

#include "lib/clock.h"
#include "lib/err.h"
#include "lib/pq.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLK_MAX_SESSIONS 1024
#define FIRST_CHECK_NS 50000LL          /* 50us: most statements are done by then */
#define MAX_INTERVAL_NS 10000000LL      /* 10ms: isolationtester's only interval */
#define QUERY_SHOWN 80                  /* characters of a statement a diagnosis shows */

struct blk_watch {
    PGconn *ctl;
    bool prepared, prepared_apps;
    int n;
    int *pids;              /* backend pids, or through a pooler the callers' keys */
    char **names;
    char **apps;            /* through a pooler: application names, else NULL */
    char *pid_array;        /* "{p1,p2,...}": the sessions as an int[] literal */
    char *app_array;        /* '{"a","b"}': their names as a text[] literal, or NULL */
};

/* Through a pooler a session's backend is the one bearing its name: the
 * one not idle (running its statement or transaction; the latest to start
 * one, should a dropped connection's backend linger), else the idle one it
 * used last. The application names' backends, "a", and the one of $1, "me":
 * a fragment every pooled question starts with ($2: the names as text[]). */
#define POOLED_BACKENDS                                                                                       \
    "WITH a AS (SELECT pid, application_name AS app, state, query_start FROM pg_catalog.pg_stat_activity "   \
    "           WHERE application_name = ANY($2::text[])), "                                                  \
    "     me AS (SELECT pid FROM a WHERE app = $1 AND state <> 'idle' "                                       \
    "            ORDER BY query_start DESC NULLS LAST LIMIT 1) "
/* The order that picks a name's backend when it has several. */
#define SERVING_FIRST "state = 'idle', query_start DESC NULLS LAST"

blk_watch *blk_new(PGconn *ctl, char *err, size_t errlen)
{
    blk_watch *w = calloc(1, sizeof *w);
    if (!w) {
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    w->ctl = ctl;
    return w;
}

static void forget_sessions(blk_watch *w)
{
    for (int i = 0; i < w->n; i++) {
        free(w->names[i]);
        if (w->apps)
            free(w->apps[i]);
    }
    free(w->names);
    free(w->apps);
    free(w->pids);
    free(w->pid_array);
    free(w->app_array);
    w->names = w->apps = NULL;
    w->pids = NULL;
    w->pid_array = w->app_array = NULL;
    w->n = 0;
}

void blk_free(blk_watch *w)
{
    if (!w)
        return;
    forget_sessions(w);
    free(w);
}

int blk_set_sessions(blk_watch *w, const int *pids, const char *const *names, int n, char *err, size_t errlen)
{
    return blk_set_pooled_sessions(w, pids, NULL, names, n, err, errlen);
}

int blk_set_pooled_sessions(blk_watch *w, const int *keys, const char *const *apps, const char *const *names, int n,
                            char *err, size_t errlen)
{
    forget_sessions(w);
    if (n < 0 || n > BLK_MAX_SESSIONS) {
        err_set(err, errlen, "%d test sessions: at most %d", n, BLK_MAX_SESSIONS);
        return -1;
    }
    size_t cap = 3 + (size_t)n * 12;
    w->pids = calloc((size_t)n + 1, sizeof *w->pids);
    w->names = calloc((size_t)n + 1, sizeof *w->names);
    w->pid_array = malloc(cap);
    if (!w->pids || !w->names || !w->pid_array)
        goto oom;
    if (apps && (!(w->apps = calloc((size_t)n + 1, sizeof *w->apps)) || !(w->app_array = pqx_text_array(apps, n))))
        goto oom;
    size_t used = (size_t)snprintf(w->pid_array, cap, "{");
    for (int i = 0; i < n; i++) {
        w->pids[i] = keys[i];
        if (!(w->names[i] = strdup(names[i])) || (apps && !(w->apps[i] = strdup(apps[i]))))
            goto oom;
        w->n = i + 1;
        used += (size_t)snprintf(w->pid_array + used, cap - used, "%s%d", i ? "," : "", keys[i]);
    }
    snprintf(w->pid_array + used, cap - used, "}");
    return 0;
oom:
    forget_sessions(w);
    err_set(err, errlen, "out of memory");
    return -1;
}

const char *blk_name_of(const blk_watch *w, int pid)
{
    for (int i = 0; i < w->n; i++)
        if (w->pids[i] == pid)
            return w->names[i];
    return NULL;
}

/* A result the control connection must return; clears it and fills err
 * otherwise. */
static bool result_ok(PGresult *r, ExecStatusType want, const char *what, char *err, size_t errlen)
{
    if (r && PQresultStatus(r) == want)
        return true;
    err_set(err, errlen, "%s: %s", what, r ? PQresultErrorMessage(r) : "no result (connection lost?)");
    PQclear(r);
    return false;
}

/* The session a key names (through a pooler), or -1. */
static int key_index(const blk_watch *w, int key)
{
    for (int i = 0; i < w->n; i++)
        if (w->pids[i] == key)
            return i;
    return -1;
}

/* The session bearing application name app (through a pooler), or -1. */
static int app_index(const blk_watch *w, const char *app)
{
    for (int i = 0; w->apps && i < w->n; i++)
        if (strcmp(w->apps[i], app) == 0)
            return i;
    return -1;
}

int blk_is_blocked(blk_watch *w, int pid, char *err, size_t errlen)
{
    bool pooled = w->apps != NULL;
    const char *stmt = pooled ? "pgrace_blk_is_blocked_pooled" : "pgrace_blk_is_blocked";
    bool *prepared = pooled ? &w->prepared_apps : &w->prepared;
    if (!*prepared) {
        PGresult *r = PQprepare(w->ctl, stmt,
                                pooled ? POOLED_BACKENDS
                                         "SELECT pg_catalog.pg_isolation_test_session_is_blocked(me.pid, "
                                         "       ARRAY(SELECT pid FROM a WHERE pid <> me.pid)) FROM me"
                                       : "SELECT pg_catalog.pg_isolation_test_session_is_blocked($1::int, $2::int[])",
                                2, NULL);
        if (!result_ok(r, PGRES_COMMAND_OK, "preparing the blocked-session check", err, errlen))
            return -1;
        PQclear(r);
        *prepared = true;
    }
    char p[16];
    snprintf(p, sizeof p, "%d", pid);
    const char *params[] = { p, w->pid_array ? w->pid_array : "{}" };
    if (pooled) {
        int i = key_index(w, pid);
        if (i < 0)
            return 0;
        params[0] = w->apps[i];
        params[1] = w->app_array;
    }
    /* Through a pooler no row is no backend serving the session now: it
     * waits on nothing on the server. */
    PGresult *r = PQexecPrepared(w->ctl, stmt, 2, params, NULL, NULL, 0);
    if (!result_ok(r, PGRES_TUPLES_OK, "the blocked-session check", err, errlen))
        return -1;
    int blocked = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return blocked;
}

int blk_blockers(blk_watch *w, int pid, int *pids, int max, char *err, size_t errlen)
{
    bool pooled = w->apps != NULL;
    char p[16];
    snprintf(p, sizeof p, "%d", pid);
    int i = pooled ? key_index(w, pid) : -1;
    if (pooled && i < 0)
        return 0;
    const char *params[] = { pooled ? w->apps[i] : p, pooled ? w->app_array : NULL };
    /* What pg_isolation_test_session_is_blocked looks at: lock waits and
     * a safe snapshot's wait. Through a pooler, the blockers' names: a
     * backend blocks in the name of the session whose name it bears. */
    PGresult *r = PQexecParams(w->ctl,
                               pooled ? POOLED_BACKENDS
                                        "SELECT a.app FROM me CROSS JOIN LATERAL "
                                        "(SELECT unnest(pg_catalog.pg_blocking_pids(me.pid)) UNION "
                                        " SELECT unnest(pg_catalog.pg_safe_snapshot_blocking_pids(me.pid))) AS bp(pid) "
                                        "JOIN a ON a.pid = bp.pid"
                                      : "SELECT unnest(pg_catalog.pg_blocking_pids($1::int)) UNION "
                                        "SELECT unnest(pg_catalog.pg_safe_snapshot_blocking_pids($1::int))",
                               pooled ? 2 : 1, NULL, params, NULL, NULL, 0);
    if (!result_ok(r, PGRES_TUPLES_OK, "reading pg_blocking_pids", err, errlen))
        return -1;
    int n = 0;
    for (int k = 0; k < PQntuples(r) && n < max; k++) {
        int s = pooled ? app_index(w, PQgetvalue(r, k, 0)) : -1;
        int b = pooled ? (s >= 0 ? w->pids[s] : 0) : atoi(PQgetvalue(r, k, 0));
        bool seen = false;
        for (int j = 0; j < n; j++)
            seen |= pids[j] == b;
        if ((pooled ? s >= 0 : blk_name_of(w, b) != NULL) && !seen)
            pids[n++] = b;
    }
    PQclear(r);
    return n;
}

int blk_blocked_by(blk_watch *w, int pid, char *names, size_t len, char *err, size_t errlen)
{
    int pids[BLK_MAX_SESSIONS];
    int n = blk_blockers(w, pid, pids, BLK_MAX_SESSIONS, err, errlen);
    if (n < 0)
        return -1;
    size_t used = 0;
    names[0] = '\0';
    for (int i = 0; i < n; i++) {
        int k = snprintf(names + used, len - used, "%s%s", used ? ", " : "", blk_name_of(w, pids[i]));
        if (k > 0 && used + (size_t)k < len)
            used += (size_t)k;
    }
    return 0;
}

int blk_backend_of(PGconn *ctl, const char *app, int *pid, char *err, size_t errlen)
{
    const char *params[] = { app };
    PGresult *r = PQexecParams(ctl, "SELECT pid FROM pg_catalog.pg_stat_activity WHERE application_name = $1 "
                                    "ORDER BY " SERVING_FIRST " LIMIT 1", 1, NULL, params, NULL, NULL, 0);
    if (!result_ok(r, PGRES_TUPLES_OK, "reading pg_stat_activity", err, errlen))
        return -1;
    *pid = PQntuples(r) ? atoi(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    return 0;
}

int blk_await(blk_watch *w, int pid, blk_done_fn done, void *arg, int64_t bound_ns, char *err, size_t errlen)
{
    int64_t start = clock_now_ns(), interval = FIRST_CHECK_NS;
    for (;;) {
        int64_t left = bound_ns - (clock_now_ns() - start);
        int d = done(arg, left < interval ? (left > 0 ? left : 0) : interval, err, errlen);
        if (d != 0)
            return d < 0 ? -1 : BLK_DONE;
        int b = blk_is_blocked(w, pid, err, errlen);
        if (b < 0)
            return -1;
        if (b) {
            /* The answer took a round trip: the statement may have finished
             * meanwhile (its blocker ended), and then it is done, not
             * blocked. */
            d = done(arg, 0, err, errlen);
            return d < 0 ? -1 : d ? BLK_DONE : BLK_BLOCKED;
        }
        if (clock_now_ns() - start >= bound_ns)
            return BLK_STUCK;
        if (interval < MAX_INTERVAL_NS)
            interval = interval * 2 < MAX_INTERVAL_NS ? interval * 2 : MAX_INTERVAL_NS;
    }
}

/* ---- diagnosis ---- */

/* One backend as pg_stat_activity shows it. */
typedef struct activity {
    int pid;
    const char *state, *wait_type, *wait_event, *query, *app;
    double seconds;             /* in its current state */
    const char *blockers;       /* pg_blocking_pids as "{1,2}" */
    const char *serves;         /* through a pooler: the name of the session it serves now, or "" */
} activity;

static const activity *find_activity(const activity *a, int n, int pid)
{
    for (int i = 0; i < n; i++)
        if (a[i].pid == pid)
            return &a[i];
    return NULL;
}

/* Session s's backend: its pid's, or through a pooler the one serving it. */
static const activity *session_activity(const blk_watch *w, const activity *a, int n, int s)
{
    if (!w->apps)
        return find_activity(a, n, w->pids[s]);
    for (int i = 0; i < n; i++)
        if (strcmp(a[i].serves, w->apps[s]) == 0)
            return &a[i];
    return NULL;
}

/* Who a blocking backend is: a session by name; through a pooler, a
 * connection bearing a session's name that no longer serves it is the one
 * it used last; else by pid and application. */
static void blocker_name(const blk_watch *w, const activity *b, int pid, char *who, size_t len)
{
    int s = w->apps && b ? app_index(w, b->app) : -1;
    const char *name = w->apps ? (s >= 0 ? w->names[s] : NULL) : blk_name_of(w, pid);
    if (name && (!w->apps || b->serves[0]))
        snprintf(who, len, "%s", name);
    else if (name)
        snprintf(who, len, "pid %d (the pooled server connection %s used last)", pid, name);
    else
        snprintf(who, len, "pid %d (not a test session%s%s%s)", pid, b && b->app[0] ? ": '" : "",
                 b && b->app[0] ? b->app : "", b && b->app[0] ? "'" : "");
}

/* The statement, whitespace collapsed, cut at QUERY_SHOWN characters. */
static void shown_query(const char *q, char *out, size_t len)
{
    size_t o = 0;
    bool space = false;
    for (; *q && o + 4 < len && o < QUERY_SHOWN; q++) {
        if (*q == ' ' || *q == '\n' || *q == '\t' || *q == '\r') {
            space = o > 0;
            continue;
        }
        if (space)
            out[o++] = ' ';
        space = false;
        out[o++] = *q;
    }
    out[o] = '\0';
    if (*q && o + 4 <= len)
        strcat(out, "\xe2\x80\xa6");    /* … */
}

/* "idle in transaction 10.0s after SELECT …", "running UPDATE … for 2.0s",
 * "idle after COMMIT". */
static void state_phrase(const activity *a, char *out, size_t len)
{
    char q[QUERY_SHOWN + 8];
    shown_query(a->query, q, sizeof q);
    if (strcmp(a->state, "active") == 0)
        snprintf(out, len, "running %s for %.1fs", q[0] ? q : "a statement", a->seconds);
    else if (strncmp(a->state, "idle in transaction", 19) == 0)
        snprintf(out, len, "%s %.1fs after %s", a->state, a->seconds, q[0] ? q : "its last statement");
    else if (strcmp(a->state, "idle") == 0)
        snprintf(out, len, "idle after %s", q[0] ? q : "connecting");
    else
        snprintf(out, len, "%s: %s", a->state[0] ? a->state : "state unknown", q);
}

/* Appends the blockers of a to line: "held by worker 5 (idle in ...)". */
static void describe_blockers(const blk_watch *w, const activity *all, int n, const activity *a, char *line,
                              size_t len)
{
    const char *p = a->blockers;
    bool first = true;
    while (p && *p) {
        while (*p && (*p < '0' || *p > '9'))
            p++;
        if (!*p)
            break;
        int pid = atoi(p);
        while (*p >= '0' && *p <= '9')
            p++;
        const activity *b = find_activity(all, n, pid);
        char who[160], what[QUERY_SHOWN + 96] = "";
        blocker_name(w, b, pid, who, sizeof who);
        if (b)
            state_phrase(b, what, sizeof what);
        size_t used = strlen(line);
        snprintf(line + used, len - used, "%s%s%s%s%s", first ? " held by " : " and ", who, what[0] ? " (" : "",
                 what, what[0] ? ")" : "");
        first = false;
    }
}

/* The sessions' backends, "s" (with the name each serves through a
 * pooler), and those they wait for, "b": what a diagnosis shows. */
#define DESCRIBED                                                                                             \
    "     b AS (SELECT unnest(pg_catalog.pg_blocking_pids(pid)) AS pid FROM s) "                              \
    "SELECT a.pid, coalesce(a.state, ''), coalesce(a.wait_event_type, ''), coalesce(a.wait_event, ''), "       \
    "       coalesce(a.query, ''), coalesce(a.application_name, ''), "                                         \
    "       coalesce(extract(epoch FROM clock_timestamp() - coalesce(a.state_change, a.backend_start)), 0), "  \
    "       pg_catalog.pg_blocking_pids(a.pid)::text, coalesce((SELECT s.app FROM s WHERE s.pid = a.pid), '') " \
    "FROM pg_catalog.pg_stat_activity a WHERE a.pid IN (SELECT pid FROM s UNION SELECT pid FROM b)"

json_t *blk_describe(blk_watch *w, char *err, size_t errlen)
{
    const char *params[] = { w->apps ? w->app_array : w->pid_array ? w->pid_array : "{}" };
    PGresult *r = PQexecParams(w->ctl,
        w->apps ? "WITH s AS (SELECT DISTINCT ON (application_name) pid, application_name AS app "
                  "           FROM pg_catalog.pg_stat_activity WHERE application_name = ANY($1::text[]) "
                  "           ORDER BY application_name, " SERVING_FIRST "), " DESCRIBED
                : "WITH s AS (SELECT pid, NULL::text AS app FROM pg_catalog.pg_stat_activity "
                  "           WHERE pid = ANY($1::int[])), " DESCRIBED,
        1, NULL, params, NULL, NULL, 0);
    if (!result_ok(r, PGRES_TUPLES_OK, "reading pg_stat_activity", err, errlen))
        return NULL;
    int n = PQntuples(r);
    activity *all = calloc((size_t)n + 1, sizeof *all);
    json_t *lines = json_array();
    if (!all || !lines) {
        free(all);
        json_decref(lines);
        PQclear(r);
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    for (int i = 0; i < n; i++)
        all[i] = (activity){
            .pid = atoi(PQgetvalue(r, i, 0)), .state = PQgetvalue(r, i, 1), .wait_type = PQgetvalue(r, i, 2),
            .wait_event = PQgetvalue(r, i, 3), .query = PQgetvalue(r, i, 4), .app = PQgetvalue(r, i, 5),
            .seconds = atof(PQgetvalue(r, i, 6)), .blockers = PQgetvalue(r, i, 7), .serves = PQgetvalue(r, i, 8),
        };
    for (int s = 0; s < w->n; s++) {
        char line[1024];
        const activity *a = session_activity(w, all, n, s);
        if (!a && w->apps) {
            snprintf(line, sizeof line, "%s: no server connection bears its name", w->names[s]);
        } else if (!a) {
            snprintf(line, sizeof line, "%s: no backend (pid %d has gone)", w->names[s], w->pids[s]);
        } else {
            int used = snprintf(line, sizeof line, "%s: ", w->names[s]);
            state_phrase(a, line + used, sizeof line - (size_t)used);
            if (a->wait_type[0] && strcmp(a->state, "active") == 0) {
                size_t u = strlen(line);
                snprintf(line + u, sizeof line - u, ", waiting on %s/%s", a->wait_type, a->wait_event);
                describe_blockers(w, all, n, a, line, sizeof line);
            }
        }
        json_array_append_new(lines, json_string(line));
    }
    free(all);
    PQclear(r);
    return lines;
}
