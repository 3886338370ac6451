/* connstate.c — every call leaves its connection as it found it (see connstate.h). */
#include "engine/connstate.h"

#include "engine/call_int.h"
#include "engine/faultctl.h"
#include "lib/err.h"
#include "lib/keepstate.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEDGER 1024             /* statements that can leave state, the latest kept */
#define FINDING 600             /* what one call's check found, cut here */
#define NAMED 3                 /* calls a finding names; the rest are counted */
#define SAMPLE 16               /* a full check without cause every this many rounds (the first included) */

/* A logged statement that can leave session state. */
typedef struct entry {
    int64_t t;                  /* when it was sent (clock_now_ns) */
    long iteration;
    int worker, attempt;
    int backend;                /* the server connection it ran on, or 0: unknown */
    const char *what;           /* keepstate_of's word for it */
    char sql[64];               /* its start, on one line */
} entry;

typedef struct finding {
    bool other;                 /* left by another worker's call */
    char text[FINDING];         /* "" when the check found nothing */
} finding;

struct cst_run {
    int nworkers, attempts;
    bool pooled;                /* through a pooler: PQbackendPID is not the server's */
    bool shared;                /* server connections pass between workers (transaction pooling) */
    char schema[64];
    finding *found;             /* [worker * attempts + attempt] */
    int64_t *checked;           /* [worker * 2 + connection]: when its last check was read */
    pthread_mutex_t mu;         /* the ledger, and: */
    int64_t *latest;            /* [worker]: its latest logged statement's time (0: none yet) */
    int64_t latest_any;         /* ... anyone's */
    unsigned long logged;       /* entries ever logged; the latest LEDGER are in ledger */
    entry ledger[LEDGER];
};

/* The parameters a check leaves out: the worker's own name, and through a
 * pooler what pgbouncer sets on a server connection for each client it
 * links (a client's own values, not a call's doing). */
static const char pooler_params[] =
    "'application_name', 'client_encoding', 'DateStyle', 'TimeZone', 'standard_conforming_strings'";

/* The settings a session can change (SET: user and superuser context) and
 * their values at a connection's start, one query string, so that through
 * a transaction pooler both parts run on one server connection: first what
 * a session had changed is put back (a server connection the pooler hands
 * out may come from another client that left it so; the parameters the
 * pooler sets, and its search_path, are its own). */
static const char start_sql[] =
    "SELECT count(set_config(name, reset_val, false)) FROM pg_settings "
    "WHERE source = 'session' AND name <> 'search_path' AND name NOT IN (%s);"
    "SELECT name, current_setting(name) FROM pg_settings "
    "WHERE context IN ('user', 'superuser') AND name NOT IN (%s) ORDER BY name";

/* The check, as a function of the run's schema: plpgsql keeps its plans
 * per server connection, so each call of it costs little more than its
 * work. It reports the connection's backend, the previous check's stamp
 * (and writes its own: pgrace.seen, a placeholder pg_settings does not
 * list), each setting whose value is not its start value, and — the
 * advisory locks only when asked (pg_locks reads the whole lock table) —
 * the advisory locks, prepared statements, temporary relations, cursors and
 * channels it holds; and puts each of them back. */
static const char function_sql[] =
    "CREATE OR REPLACE FUNCTION %s.pgrace_conn_check(stamp text, locks boolean)"
    " RETURNS TABLE (pid int, seen text, settings text, names text, advisory bigint, prepared bigint, temp bigint,"
    "                cursors bigint, channels bigint) LANGUAGE plpgsql AS $pgrace$ "
    "DECLARE start_names text[] := %s; start_values text[] := %s; "
    "BEGIN "
    "  pid := pg_backend_pid(); "
    "  seen := coalesce(current_setting('pgrace.seen', true), ''); "
    "  PERFORM set_config('pgrace.seen', stamp, false); "
    "  SELECT string_agg(b.n || '=' || current_setting(b.n) || ' (' || b.v || ' at the start)', ', ' ORDER BY b.n),"
    "         string_agg(b.n, ',' ORDER BY b.n) INTO settings, names"
    "    FROM unnest(start_names, start_values) AS b(n, v) WHERE current_setting(b.n) IS DISTINCT FROM b.v; "
    "  IF names IS NOT NULL THEN"
    "    PERFORM set_config(b.n, b.v, false) FROM unnest(start_names, start_values) AS b(n, v)"
    "      WHERE current_setting(b.n) IS DISTINCT FROM b.v; "
    "  END IF; "
    "  advisory := 0; "
    "  IF locks THEN"
    "    advisory := (SELECT count(*) FROM pg_locks l WHERE l.locktype = 'advisory' AND l.pid = pg_backend_pid()); "
    "    PERFORM pg_advisory_unlock_all(); "
    "  END IF; "
    "  prepared := (SELECT count(*) FROM pg_prepared_statements); "
    "  IF prepared > 0 THEN EXECUTE 'DEALLOCATE ALL'; END IF; "
    "  temp := CASE WHEN pg_my_temp_schema() = 0 THEN 0"
    "          ELSE (SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema()) END; "
    "  IF temp > 0 THEN EXECUTE 'DISCARD TEMP'; END IF; "
    "  cursors := (SELECT count(*) FROM pg_cursors); "
    "  IF cursors > 0 THEN EXECUTE 'CLOSE ALL'; END IF; "
    "  channels := (SELECT count(*) FROM pg_listening_channels()); "
    "  IF channels > 0 THEN EXECUTE 'UNLISTEN *'; END IF; "
    "  RETURN NEXT; "
    "END $pgrace$";

/* The check's columns. */
enum { COL_PID, COL_SEEN, COL_SETTINGS, COL_NAMES, COL_ADVISORY, COL_PREPARED, COL_TEMP, COL_CURSORS, COL_CHANNELS,
       NCOLS };

cst_run *cst_new(int nworkers, int attempts, bool pooled, bool shared, const char *schema)
{
    cst_run *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->nworkers = nworkers;
    r->attempts = attempts;
    r->pooled = pooled;
    r->shared = shared;
    snprintf(r->schema, sizeof r->schema, "%s", schema);
    r->found = calloc((size_t)nworkers * (size_t)attempts, sizeof *r->found);
    r->checked = calloc((size_t)nworkers * 2, sizeof *r->checked);
    r->latest = calloc((size_t)nworkers, sizeof *r->latest);
    if (!r->found || !r->checked || !r->latest || pthread_mutex_init(&r->mu, NULL) != 0) {
        free(r->found);
        free(r->checked);
        free(r->latest);
        free(r);
        return NULL;
    }
    return r;
}

void cst_free(cst_run *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->mu);
    free(r->found);
    free(r->checked);
    free(r->latest);
    free(r);
}

/* The settings' start values read on conn, as two text[] literals quoted
 * for SQL (on ctl) into *names and *values (PQfreemem them). Returns 0 or
 * -1 (err). */
static int read_start(cst_run *r, PGconn *ctl, PGconn *conn, char **names, char **values, char *err, size_t errlen)
{
    const char *excluded = r->pooled ? pooler_params : "'application_name'";
    char sql[sizeof start_sql + 2 * sizeof pooler_params];
    snprintf(sql, sizeof sql, start_sql, excluded, excluded);
    *names = *values = NULL;
    if (PQsendQuery(conn, sql) != 1) {
        err_set(err, errlen, "connection check: %s", PQerrorMessage(conn));
        return -1;
    }
    /* Every result read; the last is the settings. */
    PGresult *last = NULL;
    bool failed = false;
    for (PGresult *p; (p = PQgetResult(conn));) {
        if (PQresultStatus(p) != PGRES_TUPLES_OK && !failed) {
            err_set(err, errlen, "connection check: the settings at the start: %s", PQresultErrorMessage(p));
            failed = true;
        }
        PQclear(last);
        last = p;
    }
    if (failed || !last || PQntuples(last) == 0) {
        if (!failed)
            err_set(err, errlen, "connection check: no settings read at the start");
        PQclear(last);
        return -1;
    }
    int n = PQntuples(last);
    const char **nv = calloc((size_t)n, sizeof *nv), **vv = calloc((size_t)n, sizeof *vv);
    char *na = NULL, *va = NULL;
    for (int i = 0; nv && vv && i < n; i++) {
        nv[i] = PQgetvalue(last, i, 0);
        vv[i] = PQgetvalue(last, i, 1);
    }
    int rc = nv && vv && (na = pqx_text_array(nv, n)) && (va = pqx_text_array(vv, n)) &&
                     (*names = PQescapeLiteral(ctl, na, strlen(na))) && (*values = PQescapeLiteral(ctl, va, strlen(va)))
                 ? 0 : -1;
    if (rc < 0) {
        err_set(err, errlen, "out of memory");
        PQfreemem(*names);
        *names = NULL;
    }
    free(nv);
    free(vv);
    free(na);
    free(va);
    PQclear(last);
    return rc;
}

int cst_prepare(cst_run *r, PGconn *ctl, PGconn *conn, char *err, size_t errlen)
{
    if (!r)
        return 0;
    char *names, *values;
    if (read_start(r, ctl, conn, &names, &values, err, errlen) < 0)
        return -1;
    size_t len = sizeof function_sql + strlen(r->schema) + strlen(names) + strlen(values);
    char *sql = malloc(len);
    int rc = -1;
    if (!sql)
        err_set(err, errlen, "out of memory");
    else {
        snprintf(sql, len, function_sql, r->schema, names, values);
        rc = pqx_ctl_exec(ctl, sql, err, errlen);
    }
    free(sql);
    PQfreemem(names);
    PQfreemem(values);
    return rc;
}

/* ---- the log of statements that can leave state ---- */

/* The server connection conn's open transaction runs on, or 0 when it is
 * not known: through a pooler it is asked of the server, which it costs a
 * round trip (only for a statement that can leave state: a fixed form's
 * never do), inside the transaction so on the same server connection.
 * Outside a transaction, a pooled statement's server connection is already
 * back in the pool. The question is the harness's: no fault counts it, no
 * gate holds it, no trace keeps it. */
static int backend_of(const cst_run *r, PGconn *conn)
{
    if (!r->pooled)
        return PQbackendPID(conn);
    if (PQtransactionStatus(conn) != PQTRANS_INTRANS)
        return 0;
    faultctl_exempt_thread(true);
    PGresult *res = PQexec(conn, "SELECT pg_backend_pid()");
    faultctl_exempt_thread(false);
    int pid = res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 ? atoi(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    return pid;
}

void cst_log_statement(cst_run *r, const drv_call *c, PGconn *conn, const char *sql, int64_t t_send)
{
    const char *what = r ? keepstate_of(sql) : NULL;
    if (!what)
        return;
    entry e = { .t = t_send, .iteration = c->iteration, .worker = c->worker, .attempt = c->attempt,
                .backend = backend_of(r, conn), .what = what };
    snprintf(e.sql, sizeof e.sql, "%s", sql);
    for (char *p = e.sql; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    pthread_mutex_lock(&r->mu);
    r->ledger[r->logged++ % LEDGER] = e;
    r->latest[c->worker] = r->latest_any = t_send > r->latest_any ? t_send : r->latest_any;
    pthread_mutex_unlock(&r->mu);
}

/* What a check found, for matching it against logged statements. */
typedef struct seen {
    char names[512];            /* the settings changed, "a,b" */
    long advisory, prepared, temp, cursors, channels;
} seen;

static bool has_word(const char *s, const char *w) { return strcasestr(s, w) != NULL; }

/* Whether e may have left something of what s found. */
static bool may_have_left(const entry *e, const seen *s)
{
    if (s->names[0]) {
        if (strcmp(e->what, "RESET") == 0 || strcmp(e->what, "DISCARD") == 0)
            return true;
        char names[sizeof s->names];
        snprintf(names, sizeof names, "%s", s->names);
        for (char *save = NULL, *n = strtok_r(names, ",", &save); n; n = strtok_r(NULL, ",", &save))
            if (has_word(e->sql, n))
                return true;
    }
    return (s->advisory && has_word(e->what, "advisory")) || (s->prepared && has_word(e->what, "prepare")) ||
           (s->temp && has_word(e->what, "temporary")) || (s->cursors && has_word(e->what, "cursor")) ||
           (s->channels && has_word(e->what, "listen"));
}

/* The calls whose logged statements, sent in (since, until), may have left
 * what s found on server connection backend — only worker's when server
 * connections are not shared; those whose server connection is known, only
 * if it is backend — their latest such statement each, into out (at most
 * NAMED). Returns how many calls. */
static bool same_call(const entry *a, const entry *b)
{
    return a->worker == b->worker && a->iteration == b->iteration && a->attempt == b->attempt;
}

static int who_left(cst_run *r, int worker, int backend, int64_t since, int64_t until, const seen *s, entry *out,
                    char *stmts, size_t len)
{
    int n = 0;
    stmts[0] = '\0';
    pthread_mutex_lock(&r->mu);
    unsigned long first = r->logged > LEDGER ? r->logged - LEDGER : 0;
#define CANDIDATE(e) ((e)->t > since && (e)->t < until && (r->shared || (e)->worker == worker) && \
                      (!(e)->backend || (e)->backend == backend) && may_have_left((e), s))
    for (unsigned long i = r->logged; i-- > first;) {
        const entry *e = &r->ledger[i % LEDGER];
        if (!CANDIDATE(e))
            continue;
        bool known = false;
        for (int k = 0; k < n && k < NAMED && !known; k++)
            known = same_call(&out[k], e);
        if (known)
            continue;
        if (n < NAMED)
            out[n] = *e;
        n++;
    }
    /* The latest call's statements that may have left it, in order. */
    size_t used = 0;
    for (unsigned long i = first; n && i < r->logged && used < len; i++) {
        const entry *e = &r->ledger[i % LEDGER];
        if (!CANDIDATE(e) || !same_call(e, &out[0]) || strstr(stmts, e->sql))
            continue;
        int w = snprintf(stmts + used, len - used, "%s%s", used ? "; " : "", e->sql);
        used = w > 0 ? used + (size_t)w : len;
    }
#undef CANDIDATE
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* ---- the check ---- */

/* Appends to f's text, "; " between parts. */
__attribute__((format(printf, 2, 3))) static void add(finding *f, const char *fmt, ...)
{
    size_t used = strlen(f->text);
    if (used && used + 2 < sizeof f->text) {
        memcpy(f->text + used, "; ", 3);
        used += 2;
    }
    if (used + 1 >= sizeof f->text)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->text + used, sizeof f->text - used, fmt, ap);
    va_end(ap);
}

/* The last statement rec sent on conn, or "". */
static const char *last_statement(const call_record *rec, const PGconn *conn)
{
    for (size_t i = rec->trace->n; i-- > 0;)
        if (rec->trace->ev[i].conn == conn)
            return rec->trace->ev[i].sql;
    return "";
}

/* What the check's row says was left, into what ("" when nothing); fills s. */
static void describe(const PGresult *res, seen *s, char *what, size_t len)
{
    snprintf(s->names, sizeof s->names, "%s", PQgetvalue(res, 0, COL_NAMES));
    s->advisory = atol(PQgetvalue(res, 0, COL_ADVISORY));
    s->prepared = atol(PQgetvalue(res, 0, COL_PREPARED));
    s->temp = atol(PQgetvalue(res, 0, COL_TEMP));
    s->cursors = atol(PQgetvalue(res, 0, COL_CURSORS));
    s->channels = atol(PQgetvalue(res, 0, COL_CHANNELS));
    struct { long n; const char *one, *many; } more[] = {
        { s->advisory, "an advisory lock", "advisory locks" },
        { s->prepared, "a prepared statement", "prepared statements" },
        { s->temp, "a temporary relation", "temporary relations" },
        { s->cursors, "an open cursor", "open cursors" },
        { s->channels, "LISTEN on a channel", "LISTEN on channels" },
    };
    int used = snprintf(what, len, "%s", PQgetvalue(res, 0, COL_SETTINGS));
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
        if (!more[i].n || used < 0 || (size_t)used >= len)
            continue;
        used += more[i].n == 1 ? snprintf(what + used, len - (size_t)used, "%s%s", used ? ", " : "", more[i].one)
                               : snprintf(what + used, len - (size_t)used, "%s%ld %s", used ? ", " : "", more[i].n,
                                          more[i].many);
    }
}

/* The finding of one check's result on conn (which: "" or " second"): who
 * left what it found. answered: when its answer was read (the check ran on
 * the server before: the stamp it wrote is when it was sent, which a busy
 * machine may make much earlier). */
static void judge(cst_run *r, const call_record *rec, long iteration, const PGresult *res, const char *which,
                  int64_t answered, finding *f)
{
    seen s;
    char what[400];
    describe(res, &s, what, sizeof what);
    if (!what[0])
        return;
    /* The previous check of this server connection: "<time> ..." ("" for
     * its first). What it found was left since. */
    int64_t since = 0;
    sscanf(PQgetvalue(res, 0, COL_SEEN), "%" SCNd64, &since);
    entry named[NAMED];
    char stmts[300];
    int n = who_left(r, rec->worker, atoi(PQgetvalue(res, 0, COL_PID)), since, answered, &s, named, stmts,
                     sizeof stmts);
    if (n == 0) {
        add(f, "left %s on its%s connection (server pid %s); no statement logged since that connection's last "
            "check sets it (a function's doing?)", what, which, PQgetvalue(res, 0, COL_PID));
        return;
    }
    /* named[0] is the latest: what the check found is its doing. */
    const entry *e = &named[0];
    bool self = e->worker == rec->worker && e->iteration == iteration && e->attempt == rec->attempt;
    char also[300] = "";
    size_t used = 0;
    for (int k = 1; k < n && k < NAMED && used < sizeof also; k++) {
        int w = snprintf(also + used, sizeof also - used, "%s" CALL_TAG_FMT, k > 1 ? ", " : "; before it ",
                         named[k].iteration, named[k].worker + 1, named[k].attempt);
        used = w > 0 ? used + (size_t)w : used;
    }
    if (n > NAMED && used < sizeof also)
        snprintf(also + used, sizeof also - used, " and %d more", n - NAMED);
    if (n > 1 && used < sizeof also)
        snprintf(also + strlen(also), sizeof also - strlen(also), " did too");
    if (self) {
        add(f, "left %s on its%s connection: %s%s", what, which, stmts, also);
        return;
    }
    f->other = true;
    add(f, "found %s on its%s server connection (pid %s) after its call, left there by worker %d's call "
        CALL_TAG_FMT ": %s%s", what, which, PQgetvalue(res, 0, COL_PID), e->worker + 1, e->iteration,
        e->worker + 1, e->attempt, stmts, also);
}

/* Reads the check's results on conn: 0 with *res (its row; PQclear it), or
 * -1 with *res NULL and why in f when the check failed for a reason of its
 * own (a cancelled check or a lost connection is no finding). */
static int read_check(PGconn *conn, PGresult **res, const char *which, finding *f)
{
    *res = NULL;
    int rc = 0;
    for (PGresult *p; (p = PQgetResult(conn));) {
        ExecStatusType st = PQresultStatus(p);
        if (st == PGRES_TUPLES_OK && !*res && PQntuples(p) == 1 && PQnfields(p) == NCOLS) {
            *res = p;
            continue;
        }
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && rc == 0) {
            const char *state = PQresultErrorField(p, PG_DIAG_SQLSTATE);
            bool ours = PQstatus(conn) == CONNECTION_OK && !(state && strcmp(state, "57014") == 0);
            if (ours)
                add(f, "its%s connection could not be checked: %s", which, PQresultErrorMessage(p));
            rc = -1;
        }
        PQclear(p);
    }
    if (rc < 0) {
        PQclear(*res);
        *res = NULL;
    }
    return *res ? 0 : -1;
}

/* Whether worker's connection i needs the server's account now: 2 when a
 * statement that can leave state was logged since its last check — its
 * own, or, through a transaction pooler, anyone's (which server connection
 * the check gets is the pooler's choice); 1 when this round is one of the
 * sampled ones, for what a server function leaves; else 0: nothing a
 * statement of its calls could leave, and libpq says whether a transaction
 * is open. */
static int needs_check(cst_run *r, int worker, int i, long round)
{
    pthread_mutex_lock(&r->mu);
    int64_t latest = r->shared ? r->latest_any : r->latest[worker];
    pthread_mutex_unlock(&r->mu);
    if (latest && latest >= r->checked[worker * 2 + i])
        return 2;
    return (round - 1) % SAMPLE == 0;
}

void cst_after_call(cst_run *r, const call_record *rec, long iteration, long round, PGconn *conn, PGconn *conn2)
{
    if (!r)
        return;
    finding *f = &r->found[rec->worker * r->attempts + rec->attempt];
    *f = (finding){ 0 };
    PGconn *conns[2] = { conn, conn2 };
    const char *which[2] = { "", " second" };
    bool sent[2] = { false, false };
    int64_t stamped = clock_now_ns();
    char stamp[80];
    snprintf(stamp, sizeof stamp, "%" PRId64 " %ld %d %d", stamped, iteration, rec->worker + 1, rec->attempt);
    for (int i = 0; i < 2; i++) {
        PGconn *c = conns[i];
        if (!c || PQstatus(c) != CONNECTION_OK)
            continue;
        PGTransactionStatusType tx = PQtransactionStatus(c);
        if (tx == PQTRANS_INTRANS || tx == PQTRANS_INERROR) {
            /* A fault may have failed the call's ROLLBACK itself: the
             * driver's reset is then all a pool would do too. */
            if (!rec->faults)
                add(f, "left its%s connection inside a%s transaction%s%s", which[i],
                    tx == PQTRANS_INERROR ? " failed" : "n open", *last_statement(rec, c) ? ", after " : "",
                    last_statement(rec, c));
            continue;
        }
        int need = tx == PQTRANS_IDLE ? needs_check(r, rec->worker, i, round) : 0;
        if (!need)
            continue;
        /* One round trip per connection, both in flight at once. The
         * advisory locks only with a cause: pg_locks reads the whole lock
         * table. */
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT * FROM %s.pgrace_conn_check('%s', %s)", r->schema, stamp,
                 need == 2 ? "true" : "false");
        r->checked[rec->worker * 2 + i] = stamped;
        sent[i] = PQsendQuery(c, sql) == 1;
        if (!sent[i] && PQstatus(c) == CONNECTION_OK)
            add(f, "its%s connection could not be checked: %s", which[i], PQerrorMessage(c));
    }
    for (int i = 0; i < 2; i++) {
        PGresult *res;
        if (!sent[i] || read_check(conns[i], &res, which[i], f) < 0)
            continue;
        judge(r, rec, iteration, res, which[i], clock_now_ns(), f);
        PQclear(res);
    }
}

/* ---- the invariant ---- */

int cst_check(cst_run *r, inv_ctx *x)
{
    if (!r)
        return 1;
    int other = 0;
    for (int i = 0; i < x->ncalls; i++) {
        const call_record *c = &x->calls[i];
        const finding *f = &r->found[c->worker * r->attempts + c->attempt];
        if (!f->text[0])
            continue;
        other += f->other;
        char who[32];
        call_who(c, who, sizeof who);
        inv_detail(x, "%s: %s", who, f->text);
    }
    int n = inv_ndetails(x);
    if (n == 0)
        return 1;
    if (other)
        return inv_violated(x, "%d call%s found state left on %s connection; %d of %s left by another worker's call "
                            "(the pooler passed its server connection on)", n, n == 1 ? "" : "s", n == 1 ? "its" : "their",
                            other, n == 1 ? "it" : "them");
    return inv_violated(x, "%d call%s left state on %s connection", n, n == 1 ? "" : "s", n == 1 ? "its" : "their");
}
