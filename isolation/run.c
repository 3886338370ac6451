/*
 * run.c — running permutations as isolationtester does (see run.h).
 *
 * The semantics are README.upstream's: a permutation's steps are launched
 * in order; a step is launched once every earlier step of its session is
 * done and the step before it in the permutation is done or deemed blocked
 * (waiting on a lock held by another session, or held back by a marker).
 * After each launch, every step still waiting is given a chance to
 * complete; markers only delay the report of a completion, never a launch.
 * Output is isolationtester's, byte for byte: the step lines, result sets
 * through libpq's own PQprint, errors (severity and primary message only),
 * NOTICEs prefixed with the session's name as libpq delivers them, NOTIFYs.
 *
 * Where isolationtester looks every 10 ms whether a step is blocked, this
 * runner asks lib/blocking, which asks the server 50 us after the step was
 * sent and then at doubling intervals: a step that completes is seen as
 * soon as its result arrives, and one that blocks is known within a round
 * trip or two instead of 10 ms.
 *
 * Every wait is bounded: a step is canceled after the step timeout and
 * abandoned (the permutation fails) after twice it, as isolationtester does
 * (PGISOLATIONTIMEOUT); setup, teardown and invariant SQL get the same
 * bounds, where isolationtester would wait forever.
 */
#include "isolation/run.h"

#include "engine/faultctl.h"

#include "isolation/fault.h"

#include "lib/blocking.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/parse.h"
#include "lib/pq.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define CONNECT_BOUND_NS (60LL * 1000000000)
#define ROWS_SHOWN 50                  /* rows of a violated invariant kept in the diagnostics */

enum { STEP_NONBLOCK = 1, STEP_RETRY = 2 };

typedef struct rstep rstep;

/* One connection: [0] the control connection, [1 + i] session i's. */
typedef struct sconn {
    spec_runner *r;
    PGconn *conn;
    int pid;
    const char *name;           /* the session's name, or "control connection" */
    rstep *active;              /* the step running on it, or NULL when idle */
    int total_notices;
} sconn;

/* A permutation step while its permutation runs. */
struct rstep {
    const spec_pstep *p;
    int *targets;               /* per marker: the NOTICE count that releases it */
    char *raise_sql;            /* error fault: what is sent instead */
};

struct spec_runner {
    const spec *s;
    spec_runner_opts o;
    spec_observe ob;            /* what the permutations also record */
    spec_perm_result *res;      /* the running permutation's, when observed */
    const spec_pstep *base;     /* its steps: a step's index is its distance from base */
    FILE *cap;                  /* the completing step's canonical results, or NULL */
    long completed;             /* steps completed in the running permutation */
    bool *set_up;               /* per session: its setup ran (lazy_setup) */
    sconn *c;
    int nconns;
    blk_watch *watch;
    bool any_new_notice;
    int faults;                 /* carried out in the current permutation */
    char *options;              /* connection options (search_path), or NULL */
};

/* ---- output ---- */

static void out(spec_runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(spec_runner *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(r->o.out, fmt, ap);
    va_end(ap);
}

/* What isolationtester prints on stderr; stdout is flushed first so that
 * the two interleave as isolationtester's unbuffered streams do. */
static void say(spec_runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(spec_runner *r, const char *fmt, ...)
{
    if (r->o.err != r->o.out)
        fflush(r->o.out);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(r->o.err, fmt, ap);
    va_end(ap);
    if (r->o.err != r->o.out)
        fflush(r->o.err);
}

static void print_result(spec_runner *r, PGresult *res)
{
    PQprintOpt po;
    memset(&po, 0, sizeof po);
    po.header = 1;
    po.align = 1;
    po.fieldSep = "|";
    PQprint(r->o.out, res, &po);
    /* Observed: the same without padding, whose width a generated value's
     * own width would change. */
    for (int row = -1; r->cap && row < PQntuples(res); row++) {
        for (int f = 0; f < PQnfields(res); f++)
            fprintf(r->cap, "%s%s", f ? "|" : "", row < 0 ? PQfname(res, f) : PQgetvalue(res, row, f));
        fputc('\n', r->cap);
    }
}

static void notice_session(void *arg, const char *message)
{
    sconn *c = arg;
    fprintf(c->r->o.out, "%s: %s", c->name, message);
    c->total_notices++;
    c->r->any_new_notice = true;
}

static void notice_blackhole(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* ---- waiting ---- */

typedef struct waitctx {
    PGconn *conn;
    bool lost_ok;               /* a lost connection is the step's outcome, not a failure */
    enum { W_OK, W_CONSUME, W_POLL } failed;
} waitctx;

/* blk_done_fn: the step's result is in (libpq is no longer busy), waiting
 * at most timeout_ns for input on its socket. */
static int sock_done(void *arg, int64_t timeout_ns, char *err, size_t errlen)
{
    waitctx *w = arg;
    if (!PQisBusy(w->conn))
        return 1;
    struct pollfd p = { .fd = PQsocket(w->conn), .events = POLLIN };
    struct timespec ts = { .tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000 };
    int n = ppoll(&p, 1, &ts, NULL);
    if (n < 0) {
        if (errno == EINTR)
            return 0;
        w->failed = W_POLL;
        err_sys(err, errlen, errno, "poll");
        return -1;
    }
    if (n == 0)
        return 0;
    /* A connection a fault (or the step itself) closed: PQgetResult is to
     * find the end of input and say so, in its own words. */
    if (w->lost_ok) {
        char c;
        ssize_t k = recv(p.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            return 1;
    }
    if (!PQconsumeInput(w->conn)) {
        /* Lost: libpq's next PQgetResult says so, as a result. */
        if (w->lost_ok && PQstatus(w->conn) == CONNECTION_BAD)
            return 1;
        w->failed = W_CONSUME;
        err_set(err, errlen, "%s", PQerrorMessage(w->conn));
        return -1;
    }
    return !PQisBusy(w->conn);
}

/* Waits until conn is not busy or until deadline (clock_now_ns): 1 done,
 * 0 deadline passed, -1 failed (w->failed says how). */
static int wait_idle(waitctx *w, int64_t deadline)
{
    char ignored[ERRLEN];
    for (;;) {
        int64_t left = deadline - clock_now_ns();
        int d = sock_done(w, left > 0 ? left : 0, ignored, sizeof ignored);
        if (d != 0)
            return d;
        if (left <= 0)
            return 0;
    }
}

/* Waits until conn's socket has input (or is closed) or until deadline:
 * 1 readable, 0 deadline passed. Where libpq's own PQgetResult is to read
 * next: it reports a lost connection in its own words, which a
 * PQconsumeInput first would change. */
static int wait_readable(PGconn *conn, int64_t deadline)
{
    int fd = PQsocket(conn);
    if (fd < 0)
        return 1;
    for (;;) {
        int64_t left = deadline - clock_now_ns();
        if (left < 0)
            left = 0;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        struct timespec ts = { .tv_sec = left / 1000000000, .tv_nsec = left % 1000000000 };
        int n = ppoll(&p, 1, &ts, NULL);
        if (n > 0 || (n < 0 && errno != EINTR))
            return 1;
        if (n == 0 && left == 0)
            return 0;
    }
}

static void report_wait_failure(spec_runner *r, const waitctx *w, char *err, size_t errlen)
{
    if (w->failed == W_CONSUME) {
        say(r, "PQconsumeInput failed: %s\n", PQerrorMessage(w->conn));
        err_set(err, errlen, "PQconsumeInput failed: %s", PQerrorMessage(w->conn));
    } else if (w->failed == W_POLL) {
        say(r, "select failed: %s\n", strerror(errno));
        err_set(err, errlen, "select failed: %s", strerror(errno));
    } else {
        say(r, "lock wait query failed: %s", PQerrorMessage(r->c[0].conn));
        err_set(err, errlen, "lock wait query failed: %s", PQerrorMessage(r->c[0].conn));
    }
}

/* Cancels what conn runs. Returns true when the cancel request was sent. */
static bool cancel(spec_runner *r, PGconn *conn)
{
    PGcancel *cn = PQgetCancel(conn);
    if (!cn)
        return false;
    char buf[256];
    bool ok = PQcancel(cn, buf, sizeof buf);
    if (!ok)
        say(r, "PQcancel failed: %s\n", buf);
    PQfreeCancel(cn);
    return ok;
}

/* PQexec, bounded: sends sql and collects its results as PQexec does (the
 * last one, or the one that stops it), canceling the statement after the
 * step timeout and giving up after twice it (NULL, *timed_out set). */
static PGresult *exec_bounded(spec_runner *r, PGconn *conn, const char *sql, bool *timed_out)
{
    *timed_out = false;
    if (!PQsendQuery(conn, sql))
        return NULL;
    int64_t start = clock_now_ns(), t = r->o.step_timeout_ns;
    bool canceled = false;
    PGresult *last = NULL, *res;
    for (;;) {
        if (PQisBusy(conn)) {
            fflush(r->o.out);
            int d = wait_readable(conn, start + (canceled ? 2 * t : t));
            if (d == 0) {
                if (!canceled) {
                    cancel(r, conn);
                    canceled = true;
                    continue;
                }
                *timed_out = true;
                PQclear(last);
                return NULL;
            }
        }
        if (!(res = PQgetResult(conn)))
            break;
        PQclear(last);
        last = res;
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH || PQstatus(conn) == CONNECTION_BAD)
            break;
    }
    return last;
}

/* ---- connections ---- */

static sconn *session_conn(spec_runner *r, int session)
{
    return &r->c[1 + session];
}

/* The application_name pgrace gives connection c. */
static void conn_app(const spec_runner *r, const sconn *c, char *app, size_t len)
{
    snprintf(app, len, "%s/%s", r->o.appname, c->name);
}

/* Starts connecting c (not yet polled). Returns 0 or -1 when out of memory. */
static int start_connect(spec_runner *r, sconn *c)
{
    char app[256];
    const char *keys[4] = { "dbname" };
    const char *vals[4] = { c == &r->c[0] && r->o.ctl_conninfo ? r->o.ctl_conninfo : r->o.conninfo };
    int k = 1;
    if (r->options) {
        keys[k] = "options";
        vals[k++] = r->options;
    }
    if (r->o.appname) {
        conn_app(r, c, app, sizeof app);
        keys[k] = "application_name";
        vals[k++] = app;
    }
    keys[k] = vals[k] = NULL;
    /* Under the fault shim (pgrace spec --fault) the control connection is
     * never faulted, every session's is: a connection takes the exemption
     * of the thread that opens it, and the thread stays unexempt, so that
     * the sessions' statements are counted (the control's are not, being
     * on an exempt connection). Without the shim these do nothing. */
    faultctl_exempt_thread(c == &r->c[0]);
    c->conn = PQconnectStartParams(keys, vals, 1);
    faultctl_exempt_thread(false);
    return c->conn ? 0 : -1;
}

/* Connects the connections idx[0..n) at once (each costs the server a
 * backend fork: they overlap instead of queueing). Returns 0, or -1 with
 * isolationtester's message for the first one (in index order) that
 * failed. */
static int connect_all(spec_runner *r, const int *idx, int n, char *err, size_t errlen)
{
    PostgresPollingStatusType *st = calloc((size_t)n + 1, sizeof *st);
    struct pollfd *fds = calloc((size_t)n + 1, sizeof *fds);
    int *which = calloc((size_t)n + 1, sizeof *which);
    int rc = -1;
    if (!st || !fds || !which) {
        err_set(err, errlen, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        if (start_connect(r, &r->c[idx[i]]) < 0) {
            err_set(err, errlen, "out of memory");
            goto done;
        }
        st[i] = PQstatus(r->c[idx[i]].conn) == CONNECTION_BAD ? PGRES_POLLING_FAILED : PGRES_POLLING_WRITING;
    }
    int64_t deadline = clock_now_ns() + CONNECT_BOUND_NS;
    for (;;) {
        int m = 0;
        for (int i = 0; i < n; i++) {
            if (st[i] != PGRES_POLLING_READING && st[i] != PGRES_POLLING_WRITING)
                continue;
            fds[m] = (struct pollfd){ .fd = PQsocket(r->c[idx[i]].conn),
                                      .events = st[i] == PGRES_POLLING_READING ? POLLIN : POLLOUT };
            which[m++] = i;
        }
        if (m == 0)
            break;
        int64_t left = deadline - clock_now_ns();
        if (left <= 0) {
            err_set(err, errlen, "Connection %d failed: no answer in %llds\n", idx[which[0]],
                    CONNECT_BOUND_NS / 1000000000);
            goto done;
        }
        int got = poll(fds, (nfds_t)m, (int)(left / 1000000) + 1);
        if (got < 0 && errno != EINTR) {
            err_sys(err, errlen, errno, "poll");
            goto done;
        }
        for (int j = 0; j < m && got > 0; j++)
            if (fds[j].revents)
                st[which[j]] = PQconnectPoll(r->c[idx[which[j]]].conn);
    }
    for (int i = 0; i < n; i++) {
        sconn *c = &r->c[idx[i]];
        if (PQstatus(c->conn) != CONNECTION_OK) {
            /* Kept whole (several lines): isolationtester prints it so. */
            snprintf(err, errlen, "Connection %d failed: %s", idx[i], PQerrorMessage(c->conn));
            goto done;
        }
        PQsetNoticeProcessor(c->conn, idx[i] ? notice_session : notice_blackhole, c);
        c->pid = PQbackendPID(c->conn);
    }
    /* isolationtester appends "/<session>" to the application_name each
     * connection got (PGAPPNAME, the DSN's): sent to all, then collected. */
    if (!r->o.appname) {
        for (int i = 0; i < n; i++) {
            sconn *c = &r->c[idx[i]];
            const char *p[] = { c->name };
            if (!PQsendQueryParams(c->conn,
                                   "SELECT set_config('application_name',\n"
                                   "  current_setting('application_name') || '/' || $1,\n"
                                   "  false)",
                                   1, NULL, p, NULL, NULL, 0)) {
                snprintf(err, errlen, "setting of application name failed: %s", PQerrorMessage(c->conn));
                goto done;
            }
        }
        for (int i = 0; i < n; i++) {
            sconn *c = &r->c[idx[i]];
            bool timed_out = false, ok = true;
            PGresult *res;
            while (ok) {
                if (PQisBusy(c->conn) && wait_readable(c->conn, clock_now_ns() + CONNECT_BOUND_NS) == 0) {
                    timed_out = true;
                    break;
                }
                if (!(res = PQgetResult(c->conn)))
                    break;
                ok = PQresultStatus(res) == PGRES_TUPLES_OK;
                PQclear(res);
            }
            if (!ok || timed_out) {
                snprintf(err, errlen, "setting of application name failed: %s",
                         timed_out ? "no answer\n" : PQerrorMessage(c->conn));
                goto done;
            }
        }
    }
    rc = 0;
done:
    free(st);
    free(fds);
    free(which);
    return rc;
}

/* Tells lib/blocking which backends are the sessions (through a pooler:
 * which application names). */
static int declare_sessions(spec_runner *r, char *err, size_t errlen)
{
    int n = r->nconns - 1;
    int *pids = calloc((size_t)n + 1, sizeof *pids);
    const char **names = calloc((size_t)n + 1, sizeof *names);
    char (*apps)[256] = calloc((size_t)n + 1, sizeof *apps);
    const char **app_of = calloc((size_t)n + 1, sizeof *app_of);
    int rc = -1;
    if (pids && names && apps && app_of) {
        for (int i = 0; i < n; i++) {
            pids[i] = r->c[1 + i].pid;
            names[i] = r->c[1 + i].name;
            if (r->o.ctl_conninfo)
                conn_app(r, &r->c[1 + i], apps[i], sizeof apps[i]);
            app_of[i] = apps[i];
        }
        rc = blk_set_pooled_sessions(r->watch, pids, r->o.ctl_conninfo ? app_of : NULL, names, n, err, errlen);
    } else {
        err_set(err, errlen, "out of memory");
    }
    free(pids);
    free(names);
    free(apps);
    free(app_of);
    return rc;
}

static void close_conns(spec_runner *r)
{
    for (int i = 0; i < r->nconns; i++) {
        if (r->c[i].conn)
            PQfinish(r->c[i].conn);
        r->c[i].conn = NULL;
        r->c[i].active = NULL;
    }
}

/* Opens every connection and the blocking watch over them. */
static int open_conns(spec_runner *r, char *err, size_t errlen)
{
    int *idx = calloc((size_t)r->nconns, sizeof *idx);
    if (!idx) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < r->nconns; i++)
        idx[i] = i;
    int rc = connect_all(r, idx, r->nconns, err, errlen);
    free(idx);
    if (rc < 0)
        return -1;
    blk_free(r->watch);
    if (!(r->watch = blk_new(r->c[0].conn, err, errlen)) || declare_sessions(r, err, errlen) < 0)
        return -1;
    /* isolationtester prepares its lock-wait query before anything runs:
     * so does lib/blocking at its first question. */
    if (blk_is_blocked(r->watch, r->c[1].pid, err, errlen) < 0) {
        snprintf(err, errlen, "prepare of lock wait query failed: %s", PQerrorMessage(r->c[0].conn));
        return -1;
    }
    return 0;
}

/* The options every connection gets in pgrace's own runs: the DSN's (or
 * PGOPTIONS) plus the search_path of the run's schema. */
static int make_options(spec_runner *r, char *err, size_t errlen)
{
    if (!r->o.schema)
        return 0;
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(r->o.conninfo, &msg);
    if (!opts) {
        err_set(err, errlen, "bad DSN: %s", msg ? msg : "out of memory");
        PQfreemem(msg);
        return -1;
    }
    const char *old = getenv("PGOPTIONS");
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, "options") == 0 && o->val)
            old = o->val;
    size_t need = (old ? strlen(old) : 0) + strlen(r->o.schema) + 32;
    if ((r->options = malloc(need)))
        snprintf(r->options, need, "%s%s-c search_path=%s", old ? old : "", old && *old ? " " : "", r->o.schema);
    PQconninfoFree(opts);
    if (!r->options) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

spec_runner *spec_runner_open(const spec *s, const spec_runner_opts *o, char *err, size_t errlen)
{
    spec_runner *r = calloc(1, sizeof *r);
    if (!r || !(r->c = calloc((size_t)s->nsessions + 1, sizeof *r->c))) {
        free(r);
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    r->s = s;
    r->o = *o;
    r->nconns = s->nsessions + 1;
    if (!(r->set_up = calloc((size_t)s->nsessions + 1, sizeof *r->set_up))) {
        spec_runner_close(r);
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    for (int i = 0; i < r->nconns; i++) {
        r->c[i].r = r;
        r->c[i].name = i ? s->sessions[i - 1].name : "control connection";
    }
    if (make_options(r, err, errlen) < 0 || open_conns(r, err, errlen) < 0) {
        spec_runner_close(r);
        return NULL;
    }
    return r;
}

void spec_runner_close(spec_runner *r)
{
    if (!r)
        return;
    blk_free(r->watch);
    close_conns(r);
    free(r->c);
    free(r->set_up);
    free(r->options);
    free(r);
}

void spec_runner_set_output(spec_runner *r, FILE *out, FILE *err)
{
    r->o.out = out;
    r->o.err = err;
}

PGconn *spec_runner_control(spec_runner *r)
{
    return r->c[0].conn;
}

/* Ends the backends of connections idx[0..n), whose PQbackendPIDs were
 * pids, on the control connection, the server waiting up to wait_ms for
 * each: by pid; through a pooler a session's by its name, those still
 * running something (an idle one is the pool's, and holds nothing of a
 * transaction). Errors are ignored: a backend that does not go shows in
 * what runs next. */
static void end_backends(spec_runner *r, const int *idx, const int *pids, int n, int wait_ms)
{
    char *ints = calloc((size_t)n + 1, 16);
    char (*apps)[256] = calloc((size_t)n + 1, sizeof *apps);
    const char **app_of = calloc((size_t)n + 1, sizeof *app_of);
    char *texts = NULL;
    int napps = 0;
    if (ints && apps && app_of) {
        size_t used = (size_t)snprintf(ints, 16, "{");
        for (int i = 0; i < n; i++) {
            if (r->o.ctl_conninfo && idx[i] > 0) {
                conn_app(r, &r->c[idx[i]], apps[napps], sizeof apps[napps]);
                app_of[napps] = apps[napps];
                napps++;
            } else {
                used += (size_t)snprintf(ints + used, (size_t)(n + 1) * 16 - used, "%s%d", used > 1 ? "," : "",
                                         pids[i]);
            }
        }
        snprintf(ints + used, (size_t)(n + 1) * 16 - used, "}");
        texts = pqx_text_array(app_of, napps);
    }
    char ms[16];
    snprintf(ms, sizeof ms, "%d", wait_ms);
    const char *p[] = { ints, texts, ms };
    if (texts)
        PQclear(PQexecParams(r->c[0].conn,
                             "SELECT pg_catalog.pg_terminate_backend(pid, $3::int) FROM pg_catalog.pg_stat_activity "
                             "WHERE pid = ANY($1::int[]) OR (application_name = ANY($2::text[]) AND state <> 'idle')",
                             3, NULL, p, NULL, NULL, 0));
    free(ints);
    free(apps);
    free(app_of);
    free(texts);
}

int spec_runner_reset(spec_runner *r, char *err, size_t errlen)
{
    /* The old backends may be waiting on locks, where they do not notice
     * their client has gone: the new control connection ends them (and
     * the server waits for each, up to 5 s) before the teardown runs. */
    int *idx = calloc((size_t)r->nconns, sizeof *idx), *pids = calloc((size_t)r->nconns, sizeof *pids);
    if (!idx || !pids) {
        free(idx);
        free(pids);
        err_set(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < r->nconns; i++) {
        idx[i] = i;
        pids[i] = r->c[i].pid;
    }
    close_conns(r);
    int rc = open_conns(r, err, errlen);
    if (rc == 0)
        end_backends(r, idx, pids, r->nconns, 5000);
    free(idx);
    free(pids);
    if (rc < 0)
        return -1;
    if (r->s->teardown) {
        bool timed_out;
        PQclear(exec_bounded(r, r->c[0].conn, r->s->teardown, &timed_out));
    }
    return 0;
}

/* After a drop or ambiguous fault: the old backend is made to go (the
 * server waits for it, up to 10 s) so that no lock of it outlives the
 * fault, and the session gets a new connection. */
static int replace_session(spec_runner *r, sconn *c, char *err, size_t errlen)
{
    int idx = (int)(c - r->c);
    end_backends(r, &idx, &c->pid, 1, 10000);
    PQfinish(c->conn);
    c->conn = NULL;
    if (connect_all(r, &idx, 1, err, errlen) < 0)
        return -1;
    return declare_sessions(r, err, errlen);
}

/* ---- steps ---- */

/* isolationtester's step_has_blocker: a marker still holds the report of
 * rs's completion back. */
static bool held_by_marker(spec_runner *r, const rstep *rs)
{
    for (int k = 0; k < rs->p->nmarkers; k++) {
        const spec_marker *m = &rs->p->markers[k];
        const sconn *oc = m->kind == SPEC_MARK_ONCE ? NULL : session_conn(r, m->step->session);
        if (m->kind == SPEC_MARK_STEP && oc->active && oc->active->p->step == m->step)
            return true;
        if (m->kind == SPEC_MARK_NOTICES && oc->total_notices < rs->targets[k])
            return true;
    }
    return false;
}

static void print_waiting(spec_runner *r, const rstep *rs)
{
    out(r, "step %s: %s <waiting ...>\n", rs->p->step->name, rs->p->step->sql);
}

/* Prints the results of the statement conn ran, as isolationtester does.
 * Returns 0, or -1 when they did not come within the bound. */
static int print_results(spec_runner *r, sconn *c, int64_t deadline)
{
    PGresult *res;
    for (;;) {
        if (PQisBusy(c->conn) && wait_readable(c->conn, deadline) == 0)
            return -1;
        if (!(res = PQgetResult(c->conn)))
            break;
        switch (PQresultStatus(res)) {
        case PGRES_COMMAND_OK:
        case PGRES_EMPTY_QUERY:
            break;
        case PGRES_TUPLES_OK:
            print_result(r, res);
            break;
        case PGRES_FATAL_ERROR: {
            /* The primary message only (a detail may hold XIDs); a
             * libpq-made error has no fields, only its message. */
            const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY);
            const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
            if (sev && msg)
                out(r, "%s:  %s\n", sev, msg);
            else
                out(r, "%s\n", PQresultErrorMessage(res));
            if (r->cap)
                fprintf(r->cap, "%s: %s\n", sev ? sev : "ERROR", msg ? msg : "(the connection was lost)");
            if (r->res && r->res->steps && c->active)
                r->res->steps[c->active->p - r->base].error = true;
            break;
        }
        default:
            out(r, "unexpected result status: %s\n", PQresStatus(PQresultStatus(res)));
        }
        if (r->res && r->res->steps && c->active)
            snprintf(r->res->steps[c->active->p - r->base].tag, sizeof r->res->steps[0].tag, "%s", PQcmdStatus(res));
        PQclear(res);
    }
    return 0;
}

static void print_notifies(spec_runner *r, sconn *c, const spec_step *st)
{
    PGnotify *n;
    PQconsumeInput(c->conn);
    while ((n = PQnotifies(c->conn))) {
        const char *sender = NULL;
        char pid[32];
        for (int i = 1; i < r->nconns && !sender; i++)
            if (n->be_pid == r->c[i].pid)
                sender = r->c[i].name;
        if (!sender) {
            snprintf(pid, sizeof pid, "PID %d", n->be_pid);
            sender = pid;
        }
        out(r, "%s: NOTIFY \"%s\" with payload \"%s\" from %s\n", r->s->sessions[st->session].name, n->relname,
            n->extra, sender);
        PQfreemem(n);
        PQconsumeInput(c->conn);
    }
}

/* An ambiguous fault at completion: the step's own results are consumed
 * unseen, the connection is cut and the step sent again, so that what the
 * client is shown is the failure of a step that took effect. */
static void make_ambiguous(spec_runner *r, sconn *c, const spec_step *st, int64_t deadline)
{
    PGresult *res;
    for (;;) {
        if (PQisBusy(c->conn) && wait_readable(c->conn, deadline) == 0)
            break;
        if (!(res = PQgetResult(c->conn)))
            break;
        PQclear(res);
    }
    spec_fault_kill(c->conn);
    PQsendQuery(c->conn, st->sql);
    r->faults++;
}

/*
 * isolationtester's try_complete_step. The step's statement was sent;
 * waits for it to complete or (with STEP_NONBLOCK) to block on a lock held
 * by another session. STEP_RETRY: not the first call for this step.
 * Returns 1 when the step was not completed (it waits on a lock, or a
 * marker holds its report back; "<waiting ...>" is printed the first time),
 * 0 when it completed (its results printed and its session idle again), -1
 * on a fatal error (printed, summarised in err).
 */
static int try_complete(spec_runner *r, rstep *rs, int flags, char *err, size_t errlen)
{
    const spec_step *st = rs->p->step;
    sconn *c = session_conn(r, st->session);
    if (!(flags & STEP_RETRY))
        for (int k = 0; k < rs->p->nmarkers; k++)
            if (rs->p->markers[k].kind == SPEC_MARK_ONCE) {
                print_waiting(r, rs);
                return 1;
            }
    if (PQsocket(c->conn) < 0) {
        say(r, "invalid socket: %s", PQerrorMessage(c->conn));
        err_set(err, errlen, "invalid socket: %s", PQerrorMessage(c->conn));
        return -1;
    }
    int64_t start = clock_now_ns(), t = r->o.step_timeout_ns;
    bool canceled = false;
    waitctx w = { .conn = c->conn, .lost_ok = r->o.reconnect };
    while (PQisBusy(c->conn)) {
        fflush(r->o.out);
        int64_t left = start + (canceled ? 2 * t : t) - clock_now_ns();
        if (left < 0)
            left = 0;
        if (flags & STEP_NONBLOCK) {
            int b = blk_await(r->watch, c->pid, sock_done, &w, left, err, errlen);
            if (b < 0) {
                report_wait_failure(r, &w, err, errlen);
                return -1;
            }
            if (b == BLK_BLOCKED) {
                if (!(flags & STEP_RETRY))
                    print_waiting(r, rs);
                return 1;
            }
            if (b == BLK_DONE)
                break;
        } else {
            int d = wait_idle(&w, clock_now_ns() + left);
            if (d < 0) {
                report_wait_failure(r, &w, err, errlen);
                return -1;
            }
            if (d > 0)
                break;
        }
        int64_t waited = clock_now_ns() - start;
        if (waited >= t && !canceled) {
            /* On stdout: it belongs to the test's results. A cancel that
             * cannot be sent is tried once (isolationtester retries every
             * 10 ms; without its pause that would be a busy loop). */
            if (cancel(r, c->conn))
                out(r, "isolationtester: canceling step %s after %d seconds\n", st->name, (int)(waited / 1000000000));
            canceled = true;
            if (r->o.cancel_fails) {
                char d[32];
                format_duration(t, d, sizeof d);
                err_set(err, errlen, "step %s did not complete within %s (the step timeout) and was canceled",
                        st->name, d);
                return -1;
            }
        }
        if (waited >= 2 * t) {
            say(r, "step %s timed out after %d seconds\n", st->name, (int)(waited / 1000000000));
            err_set(err, errlen, "step %s timed out after %d seconds", st->name, (int)(waited / 1000000000));
            return -1;
        }
    }
    if (held_by_marker(r, rs)) {
        if (!(flags & STEP_RETRY))
            print_waiting(r, rs);
        return 1;
    }
    if (flags & STEP_RETRY)
        out(r, "step %s: <... completed>\n", st->name);
    else
        out(r, "step %s: %s\n", st->name, st->sql);
    int64_t deadline = clock_now_ns() + 2 * t;
    if (rs->p->fault.kind == SPEC_FAULT_AMBIGUOUS)
        make_ambiguous(r, c, st, deadline);
    spec_step_result *sr = r->res && r->res->steps ? &r->res->steps[rs->p - r->base] : NULL;
    size_t caplen = 0;
    char *capbuf = NULL;
    if (sr && !(r->cap = open_memstream(&capbuf, &caplen))) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    int printed = print_results(r, c, deadline);
    if (r->cap) {
        fclose(r->cap);
        r->cap = NULL;
        free(sr->output);
        sr->output = capbuf;
        sr->done = true;
        sr->lost = PQstatus(c->conn) == CONNECTION_BAD;
        sr->txn = PQtransactionStatus(c->conn);
        sr->seq = ++r->completed;
    }
    if (printed < 0) {
        say(r, "step %s timed out after %d seconds\n", st->name, (int)(2 * t / 1000000000));
        err_set(err, errlen, "step %s timed out", st->name);
        return -1;
    }
    print_notifies(r, c, st);
    c->active = NULL;
    if (r->o.reconnect && PQstatus(c->conn) == CONNECTION_BAD && replace_session(r, c, err, errlen) < 0) {
        say(r, "reconnecting session %s failed: %s\n", c->name, err);
        return -1;
    }
    return 0;
}

/* isolationtester's try_complete_steps: gives each waiting step a chance to
 * complete; while some still waiting step has markers, goes round again as
 * long as a step completed or a NOTICE arrived. Returns the number still
 * waiting, or -1. */
static int try_complete_waiting(spec_runner *r, rstep **waiting, int nwaiting, int flags, char *err, size_t errlen)
{
    int old;
    bool marked;
    do {
        r->any_new_notice = false;
        old = nwaiting;
        marked = false;
        int w = 0;
        while (w < nwaiting) {
            int rc = try_complete(r, waiting[w], flags, err, errlen);
            if (rc < 0)
                return -1;
            if (rc) {
                marked |= waiting[w]->p->nmarkers > 0;
                w++;
            } else {
                memmove(&waiting[w], &waiting[w + 1], (size_t)(nwaiting - w - 1) * sizeof *waiting);
                nwaiting--;
            }
        }
    } while (marked && (nwaiting < old || r->any_new_notice));
    return nwaiting;
}

static void remove_waiting(rstep **waiting, int *nwaiting, const rstep *rs)
{
    for (int w = 0; w < *nwaiting; w++)
        if (waiting[w] == rs) {
            memmove(&waiting[w], &waiting[w + 1], (size_t)(*nwaiting - w - 1) * sizeof *waiting);
            (*nwaiting)--;
            return;
        }
}

/* Sends rs's statement on its session (with its fault, if any). Returns 0
 * or -1. */
static int launch(spec_runner *r, rstep *rs, char *err, size_t errlen)
{
    const spec_step *st = rs->p->step;
    sconn *c = session_conn(r, st->session);
    const char *sql = st->sql;
    switch (rs->p->fault.kind) {
    case SPEC_FAULT_ERROR: {
        PGTransactionStatusType ts = PQtransactionStatus(c->conn);
        if (spec_fault_is_commit(st->sql) && (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR)) {
            bool timed_out;
            PQclear(exec_bounded(r, c->conn, "ROLLBACK", &timed_out));
        }
        sql = rs->raise_sql;
        r->faults++;
        break;
    }
    case SPEC_FAULT_DROP:
        spec_fault_kill(c->conn);
        r->faults++;
        break;
    default:
        break;
    }
    if (!PQsendQuery(c->conn, sql)) {
        out(r, "failed to send query for step %s: %s\n", st->name, PQerrorMessage(c->conn));
        err_set(err, errlen, "failed to send query for step %s: %s", st->name, PQerrorMessage(c->conn));
        return -1;
    }
    c->active = rs;
    for (int k = 0; k < rs->p->nmarkers; k++)
        if (rs->p->markers[k].kind == SPEC_MARK_NOTICES)
            rs->targets[k] = rs->p->markers[k].notices + session_conn(r, rs->p->markers[k].step->session)->total_notices;
    return 0;
}

/* Runs a setup or teardown block on c: a result set is printed, a failure
 * reported as "<what> failed: <libpq's message>". Returns 0, or -1 when it
 * failed. */
static int run_block(spec_runner *r, sconn *c, const char *sql, const char *what, char *err, size_t errlen)
{
    bool timed_out;
    PGresult *res = exec_bounded(r, c->conn, sql, &timed_out);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int rc = 0;
    if (st == PGRES_TUPLES_OK) {
        print_result(r, res);
    } else if (st != PGRES_COMMAND_OK) {
        const char *msg = timed_out ? "timed out\n" : PQerrorMessage(c->conn);
        say(r, "%s failed: %s", what, msg);
        err_set(err, errlen, "%s failed: %s", what, msg);
        rc = -1;
    }
    PQclear(res);
    return rc;
}

/* Each invariant on the control connection; rows (or an error) are
 * violations, appended to *violations. */
static int check_invariants(spec_runner *r, json_t **violations, char *err, size_t errlen)
{
    for (int i = 0; i < r->s->ninvariants; i++) {
        const spec_invariant *inv = &r->s->invariants[i];
        bool timed_out;
        PGresult *res = exec_bounded(r, r->c[0].conn, inv->sql, &timed_out);
        ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        json_t *v = NULL;
        if (st == PGRES_TUPLES_OK && PQntuples(res) > 0) {
            json_t *rows = json_array();
            int n = PQntuples(res);
            for (int row = 0; rows && row < n && row < ROWS_SHOWN; row++) {
                json_t *o = json_object();
                for (int f = 0; o && f < PQnfields(res); f++)
                    json_object_set_new(o, PQfname(res, f),
                                        PQgetisnull(res, row, f) ? json_null() : json_string(PQgetvalue(res, row, f)));
                json_array_append_new(rows, o);
            }
            v = json_pack("{s:s, s:i, s:o*}", "invariant", inv->name, "count", n, "rows", rows);
        } else if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
            char msg[ERRLEN];
            err_set(msg, sizeof msg, "%s", timed_out ? "timed out" : PQerrorMessage(r->c[0].conn));
            v = json_pack("{s:s, s:s}", "invariant", inv->name, "error", msg);
        }
        PQclear(res);
        if (v) {
            if ((!*violations && !(*violations = json_array())) || json_array_append_new(*violations, v) < 0) {
                err_set(err, errlen, "out of memory");
                return -1;
            }
        }
    }
    return 0;
}

static void free_rsteps(rstep *rs, int n)
{
    if (!rs)
        return;
    for (int i = 0; i < n; i++) {
        free(rs[i].targets);
        free(rs[i].raise_sql);
    }
    free(rs);
}

/* The permutation's run-time state; NULL with err. */
static rstep *make_rsteps(const spec_pstep *steps, int nsteps, char *err, size_t errlen)
{
    rstep *rs = calloc((size_t)nsteps + 1, sizeof *rs);
    if (!rs) {
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    for (int i = 0; i < nsteps; i++) {
        rs[i].p = &steps[i];
        if (!(rs[i].targets = calloc((size_t)steps[i].nmarkers + 1, sizeof *rs[i].targets))) {
            err_set(err, errlen, "out of memory");
            free_rsteps(rs, nsteps);
            return NULL;
        }
        if (steps[i].fault.kind == SPEC_FAULT_ERROR &&
            !(rs[i].raise_sql = spec_fault_raise_sql(&steps[i].fault, err, errlen))) {
            free_rsteps(rs, nsteps);
            return NULL;
        }
    }
    return rs;
}

static long total_notices(const spec_runner *r)
{
    long n = 0;
    for (int i = 1; i < r->nconns; i++)
        n += r->c[i].total_notices;
    return n;
}

/* Nothing moved (a step's report is held back by a marker, the others
 * wait): waits until a session still running a statement has input, or
 * until deadline. isolationtester goes round without waiting here. */
static void await_input(spec_runner *r, int64_t deadline)
{
    int64_t left = deadline - clock_now_ns();
    struct pollfd *fds = calloc((size_t)r->nconns, sizeof *fds);
    if (left <= 0 || !fds) {
        free(fds);
        return;
    }
    nfds_t n = 0;
    for (int i = 1; i < r->nconns; i++)
        if (r->c[i].active && PQisBusy(r->c[i].conn) && PQsocket(r->c[i].conn) >= 0)
            fds[n++] = (struct pollfd){ .fd = PQsocket(r->c[i].conn), .events = POLLIN };
    fflush(r->o.out);
    struct timespec ts = { .tv_sec = left / 1000000000, .tv_nsec = left % 1000000000 };
    ppoll(fds, n, &ts, NULL);
    free(fds);
}

/* The step loop of run_permutation. Returns 0 or -1. */
static bool is_waiting(rstep *const *waiting, int nwaiting, const rstep *rs)
{
    for (int w = 0; w < nwaiting; w++)
        if (waiting[w] == rs)
            return true;
    return false;
}

/* Whether only a step not yet sent can move session c: it has no
 * statement in flight, or the server says its statement waits for
 * sessions that only a step not yet sent can move. A wait cycle can move:
 * the server's deadlock detector breaks it. seen marks the sessions on
 * the path from the first. Returns 1, 0, or -1 (err). */
static int needs_new_step(spec_runner *r, sconn *c, bool *seen, char *err, size_t errlen)
{
    int self = (int)(c - r->c);
    if (!c->active)
        return 1;
    if (seen[self])
        return 0;
    int *pids = calloc((size_t)r->nconns, sizeof *pids);
    if (!pids) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    int n = blk_blockers(r->watch, c->pid, pids, r->nconns, err, errlen), rc = n > 0;
    seen[self] = true;
    for (int i = 0; i < n && rc == 1; i++) {
        sconn *b = NULL;
        for (int j = 1; j < r->nconns && !b; j++)
            if (r->c[j].pid == pids[i])
                b = &r->c[j];
        rc = b ? needs_new_step(r, b, seen, err, errlen) : 0;
    }
    seen[self] = false;
    free(pids);
    return n < 0 ? -1 : rc;
}

/* infeasible_fails: whether rs, a step still waiting, can never complete
 * before a step not yet sent (after it, in the permutation) runs: the
 * server says it waits for sessions that only such a step can move. Fills
 * why with the sessions it waits for. Returns 1, 0, or -1 (err). */
static int stuck(spec_runner *r, const rstep *rs, char *why, size_t whylen, char *err, size_t errlen)
{
    sconn *c = session_conn(r, rs->p->step->session);
    bool *seen = calloc((size_t)r->nconns, sizeof *seen);
    if (!seen) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    int rc = needs_new_step(r, c, seen, err, errlen);
    free(seen);
    if (rc == 1 && blk_blocked_by(r->watch, c->pid, why, whylen, err, errlen) < 0)
        return -1;
    return rc;
}

/* A session's setup, just before its first step (lazy_setup). */
static int lazy_setup(spec_runner *r, int session, char *err, size_t errlen)
{
    if (r->set_up[session] || !r->s->sessions[session].setup)
        return 0;
    r->set_up[session] = true;
    char what[256];
    snprintf(what, sizeof what, "setup of session %s", r->s->sessions[session].name);
    return run_block(r, session_conn(r, session), r->s->sessions[session].setup, what, err, errlen);
}

/* Runs the steps; 0, 1 (infeasible_fails: a step waits for what only a
 * later step could release) or -1. */
static int run_steps(spec_runner *r, rstep *rs, int nsteps, rstep **waiting, char *err, size_t errlen)
{
    int nwaiting = 0;
    /* isolationtester waits twice the step timeout for a session to be
     * free, and never cancels there; cancel_fails bounds it by one. */
    int64_t bound = r->o.cancel_fails ? r->o.step_timeout_ns : 2 * r->o.step_timeout_ns;
    char why[ERRLEN];
    for (int i = 0; i < nsteps; i++) {
        sconn *c = session_conn(r, rs[i].p->step->session);
        /* A session still busy with an earlier step: wait for that one,
         * polling the other waiting steps meanwhile (one of them may be
         * what it waits for). */
        int64_t start = clock_now_ns();
        if (c->active && r->o.infeasible_fails && is_waiting(waiting, nwaiting, c->active)) {
            int st = stuck(r, c->active, why, sizeof why, err, errlen);
            if (st < 0)
                return -1;
            if (st) {
                err_set(err, errlen, "step %s: its session still waits for step %s, which waits for %s",
                        rs[i].p->step->name, c->active->p->step->name, why);
                return 1;
            }
        }
        while (c->active) {
            rstep *old = c->active;
            int before = nwaiting;
            long notices = total_notices(r);
            int rc = try_complete(r, old, STEP_RETRY, err, errlen);
            if (rc < 0)
                return -1;
            if (rc == 0)
                remove_waiting(waiting, &nwaiting, old);
            if ((nwaiting = try_complete_waiting(r, waiting, nwaiting, STEP_NONBLOCK | STEP_RETRY, err, errlen)) < 0)
                return -1;
            if (rc == 1 && nwaiting == before && total_notices(r) == notices)
                await_input(r, start + bound);
            int64_t waited = clock_now_ns() - start;
            if (c->active && waited > bound) {
                say(r, "step %s timed out after %d seconds\n", c->active->p->step->name, (int)(waited / 1000000000));
                say(r, "active steps are:");
                for (int j = 1; j < r->nconns; j++)
                    if (r->c[j].active)
                        say(r, " %s", r->c[j].active->p->step->name);
                say(r, "\n");
                err_set(err, errlen, "step %s timed out", c->active->p->step->name);
                return -1;
            }
        }
        if (r->ob.lazy_setup && lazy_setup(r, rs[i].p->step->session, err, errlen) < 0)
            return -1;
        if (launch(r, &rs[i], err, errlen) < 0)
            return -1;
        int mustwait = try_complete(r, &rs[i], STEP_NONBLOCK, err, errlen);
        if (mustwait < 0)
            return -1;
        if ((nwaiting = try_complete_waiting(r, waiting, nwaiting, STEP_NONBLOCK | STEP_RETRY, err, errlen)) < 0)
            return -1;
        if (mustwait)
            waiting[nwaiting++] = &rs[i];
    }
    /* No step is left to release a step that waits for idle sessions. */
    for (int w = 0; w < nwaiting && r->o.infeasible_fails; w++) {
        int st = stuck(r, waiting[w], why, sizeof why, err, errlen);
        if (st < 0)
            return -1;
        if (st) {
            err_set(err, errlen, "step %s waits for %s, and no step is left to release it",
                    waiting[w]->p->step->name, why);
            return 1;
        }
    }
    if ((nwaiting = try_complete_waiting(r, waiting, nwaiting, STEP_RETRY, err, errlen)) < 0)
        return -1;
    if (nwaiting) {
        say(r, "failed to complete permutation due to mutually-blocking steps\n");
        err_set(err, errlen, "failed to complete permutation due to mutually-blocking steps");
        return -1;
    }
    return 0;
}

/* The spec's tables as the permutation left them (observed). */
static int observe_state(spec_runner *r, char *err, size_t errlen)
{
    if (!r->res || !r->o.schema)
        return 0;
    if (!(r->res->desc = state_describe(r->c[0].conn, r->o.schema, r->ob.state, err, errlen)) ||
        !(r->res->state = state_read(r->c[0].conn, r->res->desc, 0, false, err, errlen))) {
        say(r, "reading the tables failed: %s\n", err);
        return -1;
    }
    return 0;
}

void spec_runner_set_observe(spec_runner *r, const spec_observe *ob)
{
    r->ob = ob ? *ob : (spec_observe){ 0 };
}

void spec_perm_result_free(spec_perm_result *res)
{
    if (!res)
        return;
    json_decref(res->violations);
    for (int i = 0; res->steps && i < res->nsteps; i++)
        free(res->steps[i].output);
    free(res->steps);
    res->steps = NULL;
    state_free(res->state);
    state_desc_free(res->desc);
    res->violations = NULL;
    res->state = NULL;
    res->desc = NULL;
}

int spec_run_permutation(spec_runner *r, const spec_pstep *steps, int nsteps, spec_perm_result *res, char *err,
                         size_t errlen)
{
    const spec *s = r->s;
    if (res)
        memset(res, 0, sizeof *res);
    r->faults = 0;
    r->completed = 0;
    r->base = steps;
    r->res = (r->ob.steps || r->ob.state) ? res : NULL;
    if (r->res && r->ob.steps && !(res->steps = calloc((size_t)nsteps + 1, sizeof *res->steps))) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    if (r->res && r->ob.steps)
        res->nsteps = nsteps;
    rstep *rs = make_rsteps(steps, nsteps, err, errlen);
    rstep **waiting = calloc((size_t)nsteps + 1, sizeof *waiting);
    int rc = -1;
    if (!rs || !waiting) {
        if (rs)
            err_set(err, errlen, "out of memory");
        goto done;
    }
    out(r, "\nstarting permutation:");
    for (int i = 0; i < nsteps; i++) {
        char f[32];
        spec_fault_text(&steps[i].fault, f, sizeof f);
        out(r, " %s%s", steps[i].name, f);
    }
    out(r, "\n");

    for (int i = 0; i < s->nsetups; i++)
        if (run_block(r, &r->c[0], s->setups[i], "setup", err, errlen) < 0)
            goto done;
    for (int i = 0; i < s->nsessions; i++) {
        char what[256];
        snprintf(what, sizeof what, "setup of session %s", s->sessions[i].name);
        r->set_up[i] = false;
        if (r->ob.lazy_setup)
            continue;
        if (s->sessions[i].setup && run_block(r, session_conn(r, i), s->sessions[i].setup, what, err, errlen) < 0)
            goto done;
    }
    int steps_rc = run_steps(r, rs, nsteps, waiting, err, errlen);
    if (steps_rc != 0) {
        rc = steps_rc;
        goto done;
    }
    if (r->ob.state && observe_state(r, err, errlen) < 0)
        goto done;
    json_t *violations = NULL;
    int irc = r->ob.no_invariants ? 0 : check_invariants(r, &violations, err, errlen);
    if (res)
        res->violations = violations;
    else
        json_decref(violations);
    if (irc < 0)
        goto done;
    /* A teardown failure is reported and the run goes on, as
     * isolationtester's does: the next permutation's setup will say
     * whether it matters. */
    char ignored[ERRLEN];
    for (int i = 0; i < s->nsessions; i++) {
        char what[256];
        snprintf(what, sizeof what, "teardown of session %s", s->sessions[i].name);
        if (s->sessions[i].teardown)
            run_block(r, session_conn(r, i), s->sessions[i].teardown, what, ignored, sizeof ignored);
    }
    if (s->teardown)
        run_block(r, &r->c[0], s->teardown, "teardown", ignored, sizeof ignored);
    rc = 0;
done:
    if (res)
        res->faults = r->faults;
    fflush(r->o.out);
    free(waiting);
    free_rsteps(rs, nsteps);
    return rc;
}
