/* driver.c — workers, their release, deadlines and invariant checks (see driver.h). */
#include "engine/driver.h"

#include "engine/batch.h"
#include "engine/call_int.h"
#include "engine/connstate.h"
#include "engine/faultctl.h"
#include "lib/blocking.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/parse.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TRACE_CAP 64            /* statements kept per call */

typedef struct worker {
    struct run *run;
    int index;
    pthread_t thread;
    PGconn *conn, *conn2;
    PGcancel *cancel, *cancel2; /* used by the driver's thread, at a deadline */
    int pid, pid2;              /* their backends, as of the last release */
    rng rng;
    pqx_trace *traces;          /* one per attempt */
    call_record *calls;         /* one per attempt */
    drv_wake wake;              /* its pause points sleep here */
    bool wake_ready;
    /* Under run->mu. */
    int ncalls;                 /* attempts made this iteration */
    int64_t call_start;         /* the latest attempt's start (the release, before one) */
    int64_t cancelled_at;       /* when its deadline cancelled it, or 0 */
    bool done;                  /* its calls of this iteration are over */
} worker;

typedef struct run {
    const drv_config *cfg;
    const scenario *s;
    const scenario_variant *variant;
    void (*op)(const drv_call *c);      /* the variant's, or the fixed form's (a minus variant) */
    batch batch;                /* the scenario's declared SQL, prepared */
    worker *workers;
    int64_t timeout_ns;
    char timeout_text[24];      /* "10s" */
    blk_watch *watch;           /* on the control connection */
    cst_run *cst;               /* the connection checks after every call, or NULL (--no-conn-check) */
    json_t *diagnosis;          /* this iteration's: who waited on whom at the first deadline */
    pthread_mutex_t mu;
    pthread_cond_t go;          /* driver -> workers: a new round, or stop */
    pthread_cond_t back;        /* workers -> driver: one is done (CLOCK_MONOTONIC) */
    long round;                 /* bumped for each iteration */
    bool stop;
    int running;                /* workers not done this round */
    long iteration;
} run;

/* The driver's own invariants, after the scenario's: the deadline, and
 * the connection each call leaves (engine/connstate.h). */
static const struct { const char *id, *name; } builtin[] = {
    { SCENARIO_DEADLINE_ID, DRV_DEADLINE_INVARIANT },
    { CST_ID, CST_INVARIANT },
};
#define NBUILTIN ((int)(sizeof builtin / sizeof builtin[0]))

int drv_ninvariants(const scenario *s) { return s->ninvariants + (s->own_connections ? 1 : NBUILTIN); }

const char *drv_invariant_name(const scenario *s, int k)
{
    return k < s->ninvariants ? s->invariants[k].name : builtin[k - s->ninvariants].name;
}

const char *drv_invariant_id(const scenario *s, int k)
{
    return k < s->ninvariants ? s->invariants[k].id : builtin[k - s->ninvariants].id;
}

int drv_invariant_find(const scenario *s, const char *id)
{
    for (int k = 0; k < drv_ninvariants(s); k++)
        if (strcmp(drv_invariant_id(s, k), id) == 0)
            return k;
    return -1;
}

int drv_pause_parse(drv_pauses *p, const char *text, char *err, size_t errlen)
{
    const char *eq = strchr(text, '=');
    if (!eq || eq == text || (size_t)(eq - text) >= sizeof p->p[0].name) {
        err_set(err, errlen, "bad --pause '%s': expected POINT=DURATION, e.g. after-guard=5ms", text);
        return -1;
    }
    if (p->n == DRV_MAX_PAUSES) {
        err_set(err, errlen, "too many --pause options (at most %d)", DRV_MAX_PAUSES);
        return -1;
    }
    int64_t ns;
    if (parse_duration(eq + 1, 3600LL * 1000000000, &ns) < 0) {
        err_set(err, errlen, "bad --pause '%s': '%s' is not a duration of at most 1h (a number and its unit: "
                "us, ms, s, m or h)", text, eq + 1);
        return -1;
    }
    snprintf(p->p[p->n].name, sizeof p->p[p->n].name, "%.*s", (int)(eq - text), text);
    p->p[p->n++].ns = ns;
    return 0;
}

/* ---- a worker's side ---- */

/* Leaves conn ready for the worker's next call, as a connection pool
 * would: a dropped connection is re-established, and one left inside a
 * transaction (its ROLLBACK failed too) is reset rather than trusted.
 * PQreset keeps the same PGconn, so the fault shim keeps counting it as the
 * same connection; it is bounded by the connect_timeout pqx_connect sets. */
static void settle(PGconn *conn)
{
    if (PQstatus(conn) != CONNECTION_OK || PQtransactionStatus(conn) != PQTRANS_IDLE)
        PQreset(conn);
}

/* What the call left on its connections (engine/connstate.h), checked by
 * statements of the harness's own: no fault rule counts them and the
 * explorer's gate does not hold them. */
static void check_connections(worker *w, const call_record *rec)
{
    if (!w->run->cst)
        return;
    faultctl_exempt_thread(true);
    cst_after_call(w->run->cst, rec, w->run->iteration, w->run->round, w->conn, w->conn2);
    faultctl_exempt_thread(false);
}

/* One attempt of the operation by w. */
static void attempt(worker *w, int a)
{
    run *r = w->run;
    call_record *rec = &w->calls[a];
    drv_call c = { .conn = w->conn, .conn2 = w->conn2, .worker = w->index, .nworkers = r->cfg->nworkers,
                   .iteration = r->iteration, .attempt = a, .rng = &w->rng };
    call_state st;
    call_begin(&c, &st, rec, &w->traces[a], r->s, r->variant, r->cfg, &w->wake);
    st.cst = r->cst;
    pthread_mutex_lock(&r->mu);
    w->call_start = clock_now_ns();
    pthread_mutex_unlock(&r->mu);
    faultctl_enter_call(rec, &w->traces[a]);
    rec->t_start = clock_now_ns();
    r->op(&c);
    rec->t_end = clock_now_ns();
    faultctl_leave_call();
    call_finish(&c);
    pthread_mutex_lock(&r->mu);
    rec->timed_out = w->cancelled_at != 0;
    pthread_mutex_unlock(&r->mu);
    if (rec->timed_out && rec->faults++ == 0)
        /* The cancel is the harness's doing, as an injected fault is: the
         * invariants excuse the call alike, and the deadline's own
         * invariant reports it. */
        snprintf(rec->fault, sizeof rec->fault, "cancelled at its %s deadline", r->timeout_text);
    check_connections(w, rec);
    settle(w->conn);
    if (w->conn2)
        settle(w->conn2);
}

/* The worker's calls of one iteration: the first, and retries of a failed
 * one while the plan allows, the connection lives and no deadline passed. */
static void calls_of_iteration(worker *w)
{
    const drv_config *cfg = w->run->cfg;
    int a = 0;
    for (;; a++) {
        attempt(w, a);
        const call_record *c = &w->calls[a];
        if (a == cfg->retries || c->out.kind == OUT_OK || c->out.kind == OUT_CONFLICT || c->timed_out ||
            PQstatus(w->conn) != CONNECTION_OK)
            break;
    }
    w->ncalls = a + 1;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    run *r = w->run;
    long seen = 0;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        /* The driver's own waits are bounded, so this one ends: it either
         * releases a round or stops. */
        while (r->round == seen && !r->stop)
            pthread_cond_wait(&r->go, &r->mu);
        if (r->stop)
            break;
        seen = r->round;
        pthread_mutex_unlock(&r->mu);
        calls_of_iteration(w);
        if (r->cfg->control)
            r->cfg->control->worker_done(r->cfg->control->arg, w->index);
        pthread_mutex_lock(&r->mu);
        w->done = true;
        r->running--;
        pthread_cond_signal(&r->back);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ---- the driver's side ---- */

/* Refreshes w's backend pids and cancel handles (a reset connection has a
 * new backend). Called while w is idle. */
static void refresh_backend(worker *w)
{
    int pid = PQbackendPID(w->conn), pid2 = w->conn2 ? PQbackendPID(w->conn2) : 0;
    if (pid != w->pid || !w->cancel) {
        PQfreeCancel(w->cancel);
        w->cancel = PQgetCancel(w->conn);
        w->pid = pid;
    }
    if (w->conn2 && (pid2 != w->pid2 || !w->cancel2)) {
        PQfreeCancel(w->cancel2);
        w->cancel2 = PQgetCancel(w->conn2);
        w->pid2 = pid2;
    }
}

static void release_round(run *r)
{
    for (int i = 0; i < r->cfg->nworkers; i++) {
        refresh_backend(&r->workers[i]);
        drv_wake_reset(&r->workers[i].wake);
    }
    json_decref(r->diagnosis);
    r->diagnosis = NULL;
    int64_t now = clock_now_ns();
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->cfg->nworkers; i++) {
        worker *w = &r->workers[i];
        w->done = false;
        w->cancelled_at = 0;
        w->call_start = now;
        w->ncalls = 0;
    }
    r->running = r->cfg->nworkers;
    r->round++;
    pthread_cond_broadcast(&r->go);
    pthread_mutex_unlock(&r->mu);
}

/* The application_name of worker i's connection (its second with b):
 * what names it on the server, through a pooler too. */
static void worker_app(const drv_config *cfg, int i, bool b, char *buf, size_t len)
{
    snprintf(buf, len, "%s/w%d%s", cfg->appname, i + 1, b ? "b" : "");
}

/* At the first deadline of an iteration: what the server says about every
 * worker's backends, kept for the deadline invariant's diagnostics. */
static void diagnose(run *r)
{
    if (r->diagnosis)
        return;
    int n = 0, pids[2 * DRV_MAX_WORKERS];
    char names[2 * DRV_MAX_WORKERS][32], apps[2 * DRV_MAX_WORKERS][96];
    const char *name_of[2 * DRV_MAX_WORKERS], *app_of[2 * DRV_MAX_WORKERS];
    for (int i = 0; i < r->cfg->nworkers; i++) {
        const worker *w = &r->workers[i];
        /* A way in that knows the worker's connections (pgrace exec's
         * proxy: its program's) names them; else they are the worker's own. */
        int way[4], nway = faultctl_worker_backends(i, way, 4);
        for (int b = 0; b < nway; b++) {
            snprintf(names[n], sizeof names[n], b ? "worker %d (connection %d)" : "worker %d", i + 1, b + 1);
            worker_app(r->cfg, i, false, apps[n], sizeof apps[n]);
            pids[n] = way[b];
            name_of[n] = names[n];
            app_of[n] = apps[n];
            n++;
        }
        for (int b = 0; nway < 0 && b < 1 + (w->conn2 != NULL); b++) {
            snprintf(names[n], sizeof names[n], b ? "worker %d (store 2)" : "worker %d", i + 1);
            worker_app(r->cfg, i, b, apps[n], sizeof apps[n]);
            pids[n] = b ? w->pid2 : w->pid;
            name_of[n] = names[n];
            app_of[n] = apps[n];
            n++;
        }
    }
    char err[ERRLEN];
    json_t *lines = NULL;
    if (blk_set_pooled_sessions(r->watch, pids, r->cfg->pooled ? app_of : NULL, name_of, n, err, sizeof err) == 0)
        lines = blk_describe(r->watch, err, sizeof err);
    if (!lines && (lines = json_array()))
        json_array_append_new(lines, json_string(err));
    r->diagnosis = lines;
}

/* Cancels w's call: its statement (PQcancel on each connection), its pause
 * and any delay the fault shim holds it in. */
static void cancel_call(worker *w)
{
    char ignored[256];
    if (w->cancel)
        PQcancel(w->cancel, ignored, sizeof ignored);
    if (w->cancel2)
        PQcancel(w->cancel2, ignored, sizeof ignored);
    drv_wake_up(&w->wake);
    faultctl_interrupt(w->conn);
    if (w->conn2)
        faultctl_interrupt(w->conn2);
}

/*
 * Waits until every worker is done with the iteration. A worker whose
 * latest call passes its deadline is diagnosed and cancelled; one that does
 * not return within DRV_GRACE_NS of that is stuck: returns -1 naming it
 * (the caller must not free what the worker uses). Returns 0 otherwise.
 */
static int await_round(run *r, char *err, size_t errlen)
{
    pthread_mutex_lock(&r->mu);
    while (r->running > 0) {
        int64_t now = clock_now_ns(), next = INT64_MAX;
        int late[DRV_MAX_WORKERS], nlate = 0;
        for (int i = 0; i < r->cfg->nworkers; i++) {
            worker *w = &r->workers[i];
            if (w->done)
                continue;
            int64_t at = w->cancelled_at ? w->cancelled_at + DRV_GRACE_NS : w->call_start + r->timeout_ns;
            if (now < at) {
                next = at < next ? at : next;
            } else if (w->cancelled_at) {
                pthread_mutex_unlock(&r->mu);
                err_set(err, errlen, "worker %d did not return from its call within %.1fs of cancelling it at its "
                        "%s deadline", i + 1, DRV_GRACE_NS / 1e9, r->timeout_text);
                return -1;
            } else {
                late[nlate++] = i;
            }
        }
        if (nlate) {
            /* Off the lock: the diagnosis is a query on the control
             * connection, and cancelling talks to the server. */
            pthread_mutex_unlock(&r->mu);
            diagnose(r);
            int64_t at = clock_now_ns();
            pthread_mutex_lock(&r->mu);
            for (int k = 0; k < nlate; k++)
                r->workers[late[k]].cancelled_at = at;
            pthread_mutex_unlock(&r->mu);
            for (int k = 0; k < nlate; k++)
                cancel_call(&r->workers[late[k]]);
            pthread_mutex_lock(&r->mu);
            continue;
        }
        struct timespec ts = { .tv_sec = next / 1000000000, .tv_nsec = next % 1000000000 };
        pthread_cond_timedwait(&r->back, &r->mu, &ts);
    }
    pthread_mutex_unlock(&r->mu);
    return 0;
}

/* Adds what every call of the iteration got, and the faults that fired, to
 * a violation's diagnostics. */
static void describe_calls(json_t *found, const call_record *calls, int n)
{
    json_t *list = json_array(), *faults = json_array();
    for (int i = 0; i < n; i++) {
        const call_record *c = &calls[i];
        char who[32], what[320], line[400];
        call_who(c, who, sizeof who);
        call_describe(c, what, sizeof what);
        snprintf(line, sizeof line, "%s: %s in %.2fms%s", who, what, (double)(c->t_end - c->t_start) / 1e6,
                 c->timed_out ? " (cancelled at the deadline)" : "");
        json_array_append_new(list, json_string(line));
        if (c->faults) {
            snprintf(line, sizeof line, "%s: %s", who, c->fault);
            json_array_append_new(faults, json_string(line));
        }
    }
    json_object_set_new(found, "calls", list);
    if (json_array_size(faults))
        json_object_set_new(found, "faults", faults);
    else
        json_decref(faults);
}

/* The driver's own invariant: no call ran past the deadline. */
static bool in_time(const inv_ctx *x, const call_record *c)
{
    (void)x;
    return !c->timed_out;
}

static int check_deadline(const run *r, inv_ctx *x)
{
    char who[256];
    int late = inv_count(x, -1, in_time, who, sizeof who);
    if (!late)
        return 1;
    return inv_violated(x, "%d call%s did not finish within the %s deadline (worker%s %s) and %s cancelled", late,
                        late == 1 ? "" : "s", r->timeout_text, late == 1 ? "" : "s", who, late == 1 ? "was" : "were");
}

static int check_iteration(run *r, PGconn *ctl, call_record *all, drv_result *res, int *verdicts, char *err,
                           size_t errlen)
{
    const drv_config *cfg = r->cfg;
    const scenario *s = r->s;
    int n = 0;
    for (int i = 0; i < cfg->nworkers; i++) {
        worker *w = &r->workers[i];
        for (int a = 0; a < w->ncalls; a++) {
            call_record *c = &w->calls[a];
            all[n++] = *c;
            res->outcomes[c->out.kind]++;
            hist_add(&res->latency[c->out.kind], c->t_end - c->t_start);
        }
    }
    /* Every invariant's declared queries: one round trip. */
    if (batch_queries(&r->batch, r->iteration, err, errlen) < 0)
        return -1;
    inv_state st = { .err = err, .errlen = errlen, .oracle = cfg->oracle };
    for (int k = 0; k < drv_ninvariants(s); k++) {
        inv_ctx x = { .ctl = ctl, .iteration = r->iteration, .calls = all, .ncalls = n,
                      .nworkers = cfg->nworkers, .state = &st };
        batch_rows(&r->batch, k, x.rows);
        int v = k < s->ninvariants ? s->invariants[k].check(&x) : k == s->ninvariants ? check_deadline(r, &x)
                                                                                        : cst_check(r->cst, &x);
        if (v < 0) {
            inv_state_clear(&st);
            return -1;
        }
        verdicts[k] = v;
        drv_verdict *d = &res->verdicts[k];
        if (v == 0 && d->failures++ == 0) {
            json_t *found = inv_state_record(&st, r->iteration);
            if (!found) {
                inv_state_clear(&st);
                err_set(err, errlen, "out of memory");
                return -1;
            }
            d->first_iteration = r->iteration;
            d->first_found = found;
            if (k == s->ninvariants && r->diagnosis)
                json_object_set(found, "server", r->diagnosis);
            describe_calls(found, all, n);
            /* The rules this iteration ran with: what replays it. */
            if (faultctl_rules()[0])
                json_object_set_new(found, "fault_rules", json_string(faultctl_rules()));
            if (cfg->annotate)
                cfg->annotate(cfg->annotate_arg, found);
        }
        inv_state_clear(&st);
    }
    if (cfg->on_iteration)
        cfg->on_iteration(cfg->iteration_arg, r->iteration, all, n, verdicts);
    return 0;
}

/* Opens worker i's connections, in worker order so that worker i is the
 * fault shim's connection i+1 (with two per worker: 2i+1 and 2i+2), and its
 * per-attempt records. Returns 0 or -1. */
static int open_worker(run *r, int i, char *err, size_t errlen)
{
    const drv_config *cfg = r->cfg;
    worker *w = &r->workers[i];
    w->run = r;
    w->index = i;
    rng_init(&w->rng, cfg->seed, (uint64_t)i + 1);
    w->traces = calloc((size_t)cfg->retries + 1, sizeof *w->traces);
    w->calls = calloc((size_t)cfg->retries + 1, sizeof *w->calls);
    if (!w->traces || !w->calls || drv_wake_init(&w->wake) < 0) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    w->wake_ready = true;
    for (int a = 0; a <= cfg->retries; a++)
        if (pqx_trace_init(&w->traces[a], TRACE_CAP) < 0) {
            err_set(err, errlen, "out of memory");
            return -1;
        }
    char app[96];
    worker_app(cfg, i, false, app, sizeof app);
    faultctl_exempt_thread(false);
    w->conn = pqx_connect(cfg->conninfo, cfg->schema, app, err, errlen);
    if (w->conn && r->s->conns_per_worker == 2) {
        worker_app(cfg, i, true, app, sizeof app);
        w->conn2 = pqx_connect(cfg->conninfo, cfg->schema, app, err, errlen);
    }
    faultctl_exempt_thread(true);
    return w->conn && (r->s->conns_per_worker != 2 || w->conn2) ? 0 : -1;
}

static void close_worker(worker *w, int retries)
{
    if (w->conn)
        PQfinish(w->conn);
    if (w->conn2)
        PQfinish(w->conn2);
    PQfreeCancel(w->cancel);
    PQfreeCancel(w->cancel2);
    for (int a = 0; w->traces && a <= retries; a++)
        pqx_trace_free(&w->traces[a]);
    free(w->traces);
    free(w->calls);
    if (w->wake_ready)
        drv_wake_destroy(&w->wake);
}

/* Stops the started workers (idle: they wait for a round) and joins them. */
static void stop_workers(run *r, int started)
{
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_broadcast(&r->go);
    pthread_mutex_unlock(&r->mu);
    for (int i = 0; i < started; i++)
        pthread_join(r->workers[i].thread, NULL);
}

static int init_sync(run *r)
{
    pthread_condattr_t a;
    if (pthread_condattr_init(&a) != 0)
        return -1;
    int rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&r->back, &a) == 0 ? 0 : -1;
    pthread_condattr_destroy(&a);
    if (rc == 0 && pthread_cond_init(&r->go, NULL) != 0) {
        pthread_cond_destroy(&r->back);
        rc = -1;
    }
    if (rc == 0 && pthread_mutex_init(&r->mu, NULL) != 0) {
        pthread_cond_destroy(&r->back);
        pthread_cond_destroy(&r->go);
        rc = -1;
    }
    return rc;
}

long drv_iteration_salt(uint64_t seed, long iteration)
{
    rng g;
    rng_init(&g, seed, (1ULL << 62) + (uint64_t)iteration);
    return (long)(rng_next(&g) >> 33);
}

/* The iterations themselves, with every worker started. Returns 0, or -1
 * (err) with *stuck set when a worker did not return from a cancelled
 * call. */
static int iterate(run *r, PGconn *ctl, drv_result *res, call_record *all, int *verdicts, bool *stuck, char *err,
                   size_t errlen)
{
    const drv_config *cfg = r->cfg;
    long first = cfg->first_iteration > 0 ? cfg->first_iteration : 1;
    long step = cfg->iteration_step > 0 ? cfg->iteration_step : 1;
    int64_t t0 = clock_now_ns();
    for (long i = 0; i < cfg->iterations; i++) {
        r->iteration = cfg->repeat_iteration ? first : first + i * step;
        if (cfg->prepare && cfg->prepare(cfg->prepare_arg, r->iteration, err, errlen) < 0)
            return -1;
        if (batch_setup(&r->batch, r->iteration, cfg->nworkers, drv_iteration_salt(cfg->seed, r->iteration), err,
                        errlen) < 0)
            return -1;
        int before = cfg->before ? cfg->before(cfg->before_arg, r->iteration, err, errlen) : 0;
        if (before < 0)
            return -1;
        if (before > 0)
            break;
        release_round(r);
        /* A controller that fails has opened every gate: its workers still
         * finish the round before the run stops. */
        int controlled = cfg->control ? cfg->control->round(cfg->control->arg, err, errlen) : 0;
        char await_err[ERRLEN];
        if (await_round(r, controlled < 0 ? await_err : err, controlled < 0 ? sizeof await_err : errlen) < 0) {
            *stuck = true;
            return -1;
        }
        if (controlled < 0)
            return -1;
        if (check_iteration(r, ctl, all, res, verdicts, err, errlen) < 0)
            return -1;
        res->iterations++;
    }
    res->seconds = (double)(clock_now_ns() - t0) / 1e9;
    return 0;
}

int drv_run(const drv_config *cfg, const scenario *s, const scenario_variant *v, PGconn *ctl,
            drv_result *res, char *err, size_t errlen)
{
    int ninv = drv_ninvariants(s);
    memset(res, 0, sizeof *res);
    for (int k = 0; k < 4; k++)
        hist_init(&res->latency[k]);
    res->verdicts = calloc((size_t)ninv, sizeof *res->verdicts);
    int *verdicts = calloc((size_t)ninv, sizeof *verdicts);
    call_record *all = calloc((size_t)cfg->nworkers * (size_t)(cfg->retries + 1), sizeof *all);
    run *r = calloc(1, sizeof *r);
    worker *workers = calloc((size_t)cfg->nworkers, sizeof *workers);
    blk_watch *watch = blk_new(ctl, err, errlen);
    if (!res->verdicts || !verdicts || !all || !r || !workers || !watch || init_sync(r) < 0) {
        err_set(err, errlen, "out of memory");
        free(verdicts);
        free(all);
        free(r);
        free(workers);
        blk_free(watch);
        drv_result_free(res);
        return -1;
    }
    r->cfg = cfg;
    r->s = s;
    r->variant = v;
    r->op = scenario_variant_op(s, v);
    r->workers = workers;
    r->watch = watch;
    r->timeout_ns = cfg->call_timeout_ns > 0 ? cfg->call_timeout_ns : DRV_DEFAULT_CALL_TIMEOUT_NS;
    format_duration(r->timeout_ns, r->timeout_text, sizeof r->timeout_text);
    res->nverdicts = ninv;
    for (int k = 0; k < ninv; k++)
        res->verdicts[k].first_iteration = -1;

    int rc = -1, started = 0;
    bool stuck = false;
    if (batch_prepare(&r->batch, ctl, s, err, errlen) < 0)
        goto out;
    if (!cfg->no_conn_check && !s->own_connections &&
        !(r->cst = cst_new(cfg->nworkers, cfg->retries + 1, cfg->pooled, cfg->shared_conns, cfg->schema))) {
        err_set(err, errlen, "out of memory");
        goto out;
    }
    faultctl_reset_ordinals();
    for (int i = 0; i < cfg->nworkers; i++)
        if (open_worker(r, i, err, errlen) < 0)
            goto out;
    if (cst_prepare(r->cst, ctl, workers[0].conn, err, errlen) < 0)
        goto out;
    for (; started < cfg->nworkers; started++) {
        int e = pthread_create(&workers[started].thread, NULL, worker_main, &workers[started]);
        if (e != 0) {
            err_sys(err, errlen, e, "pthread_create");
            goto out;
        }
    }
    rc = iterate(r, ctl, res, all, verdicts, &stuck, err, errlen);
out:
    if (stuck) {
        /* A worker is still inside its call: it owns its connections and
         * records, and the run (r) it reads. They are left to the
         * process's exit, which the failure brings. */
        free(verdicts);
        free(all);
        drv_result_free(res);
        return -1;
    }
    stop_workers(r, started);
    for (int i = 0; i < cfg->nworkers; i++)
        close_worker(&workers[i], cfg->retries);
    json_decref(r->diagnosis);
    cst_free(r->cst);
    batch_free(&r->batch);
    blk_free(watch);
    pthread_cond_destroy(&r->go);
    pthread_cond_destroy(&r->back);
    pthread_mutex_destroy(&r->mu);
    free(workers);
    free(r);
    free(verdicts);
    free(all);
    if (rc < 0)
        drv_result_free(res);
    return rc;
}

void drv_result_free(drv_result *res)
{
    for (int k = 0; res->verdicts && k < res->nverdicts; k++)
        json_decref(res->verdicts[k].first_found);
    free(res->verdicts);
    res->verdicts = NULL;
    res->nverdicts = 0;
}
