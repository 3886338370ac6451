/* driver.c — workers, barriers, calls and invariant checks (see driver.h). */
#include "harness/driver.h"

#include "harness/faultctl.h"
#include "lib/clock.h"
#include "lib/err.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRACE_CAP 64            /* statements kept per call */

typedef struct worker {
    struct run *run;
    int index;
    pthread_t thread;
    PGconn *conn, *conn2;
    rng rng;
    pqx_trace *traces;          /* one per attempt */
    drv_call *calls;            /* one per attempt */
    int ncalls;                 /* attempts made this iteration */
} worker;

typedef struct run {
    const drv_config *cfg;
    const scenario_variant *variant;
    worker *workers;
    long iteration;             /* written by the driver before the start barrier */
    int stop;                   /* likewise */
    pthread_barrier_t start, done;
} run;


void drv_pause(const drv_call *c, const char *point)
{
    const drv_pauses *p = c->pauses;
    if (!p)
        return;
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->p[i].name, point) == 0)
            clock_sleep_ns(p->p[i].ns);
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
    if (clock_parse_duration(eq + 1, &ns) < 0) {
        err_set(err, errlen, "bad --pause '%s': '%s' is not a duration (us, ms, s)", text, eq + 1);
        return -1;
    }
    snprintf(p->p[p->n].name, sizeof p->p[p->n].name, "%.*s", (int)(eq - text), text);
    p->p[p->n++].ns = ns;
    return 0;
}

int call_exec(drv_call *c, PGresult **res, const char *sql, int nparams, const char *const *params)
{
    return pqx_exec(c->conn, c->trace, &c->out, res, sql, nparams, params);
}

int call_exec_on(drv_call *c, PGconn *conn, PGresult **res, const char *sql, int nparams,
                 const char *const *params)
{
    return pqx_exec(conn, c->trace, &c->out, res, sql, nparams, params);
}

void call_failed(drv_call *c)
{
    if (PQstatus(c->conn) == CONNECTION_OK)
        pqx_rollback_quiet(c->conn, c->trace);
}

void call_done(drv_call *c, outcome_kind kind, const char *result)
{
    c->out = (outcome){ .kind = kind };
    snprintf(c->result, sizeof c->result, "%s", result ? result : "");
}

int inv_violated(inv_ctx *x, const char *found, const char *key, json_t *details)
{
    json_object_set_new(x->found, "record", json_integer(x->iteration));
    json_object_set_new(x->found, "found", json_string(found));
    if (key && json_array_size(details))
        json_object_set_new(x->found, key, details);
    else
        json_decref(details);
    return 0;
}

json_t *inv_list(inv_ctx *x, PGresult *r)
{
    json_t *list = json_array();
    if (!list) {
        PQclear(r);
        snprintf(x->err, x->errlen, "out of memory in an invariant check");
    }
    return list;
}

void call_refuse(drv_call *c, const char *why)
{
    if (PQstatus(c->conn) == CONNECTION_OK)
        pqx_rollback_quiet(c->conn, c->trace);
    call_done(c, OUT_CONFLICT, NULL);
    snprintf(c->out.message, sizeof c->out.message, "%s", why);
}

/* Leaves conn ready for the worker's next call, as a connection pool
 * would: a dropped connection is re-established, and one left inside a
 * transaction (its ROLLBACK failed too) is reset rather than trusted.
 * PQreset keeps the same PGconn, so the fault shim keeps counting it as the
 * same connection. */
static void settle(PGconn *conn)
{
    if (PQstatus(conn) != CONNECTION_OK || PQtransactionStatus(conn) != PQTRANS_IDLE)
        PQreset(conn);
}

/* One attempt of the operation by w. */
static void attempt(worker *w, int a)
{
    run *r = w->run;
    drv_call *c = &w->calls[a];
    pqx_trace *t = &w->traces[a];
    pqx_trace_reset(t);
    *c = (drv_call){
        .conn = w->conn, .conn2 = w->conn2, .worker = w->index, .nworkers = r->cfg->nworkers,
        .iteration = r->iteration, .attempt = a, .trace = t, .rng = &w->rng,
        .pauses = &r->cfg->pauses,
    };
    faultctl_enter_call(c);
    c->t_start = clock_now_ns();
    r->variant->op(c);
    c->t_end = clock_now_ns();
    faultctl_leave_call();
    settle(w->conn);
    if (w->conn2)
        settle(w->conn2);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    run *r = w->run;
    for (;;) {
        pthread_barrier_wait(&r->start);
        if (r->stop)
            break;
        int a = 0;
        attempt(w, a);
        while (a < r->cfg->retries && w->calls[a].out.kind != OUT_OK &&
               w->calls[a].out.kind != OUT_CONFLICT && PQstatus(w->conn) == CONNECTION_OK)
            attempt(w, ++a);
        w->ncalls = a + 1;
        pthread_barrier_wait(&r->done);
    }
    return NULL;
}

static void free_workers(run *r, int started)
{
    /* Release the workers from the start barrier with stop set. */
    if (started == r->cfg->nworkers) {
        r->stop = 1;
        pthread_barrier_wait(&r->start);
        for (int i = 0; i < started; i++)
            pthread_join(r->workers[i].thread, NULL);
    }
    for (int i = 0; i < r->cfg->nworkers; i++) {
        worker *w = &r->workers[i];
        if (w->conn)
            PQfinish(w->conn);
        if (w->conn2)
            PQfinish(w->conn2);
        for (int a = 0; w->traces && a <= r->cfg->retries; a++)
            pqx_trace_free(&w->traces[a]);
        free(w->traces);
        free(w->calls);
    }
    free(r->workers);
}

/* Adds what every call of the iteration got, and the faults that fired, to
 * a violation's diagnostics. */
static void describe_calls(json_t *found, const drv_call *calls, int n)
{
    json_t *list = json_array(), *faults = json_array();
    for (int i = 0; i < n; i++) {
        const drv_call *c = &calls[i];
        char line[400];
        int len = snprintf(line, sizeof line, "worker %d%s: %s", c->worker + 1,
                           c->attempt ? " (retry)" : "", outcome_name(c->out.kind));
        if (len > 0 && (size_t)len < sizeof line && c->result[0])
            len += snprintf(line + len, sizeof line - (size_t)len, " -> %s", c->result);
        if (len > 0 && (size_t)len < sizeof line && c->out.kind != OUT_OK && c->out.kind != OUT_CONFLICT)
            len += snprintf(line + len, sizeof line - (size_t)len, " %s %s", c->out.sqlstate, c->out.message);
        if (len > 0 && (size_t)len < sizeof line)
            snprintf(line + len, sizeof line - (size_t)len, " in %.2fms", (double)(c->t_end - c->t_start) / 1e6);
        json_array_append_new(list, json_string(line));
        if (c->faults) {
            snprintf(line, sizeof line, "worker %d%s: %s", c->worker + 1, c->attempt ? " (retry)" : "", c->fault);
            json_array_append_new(faults, json_string(line));
        }
    }
    json_object_set_new(found, "calls", list);
    if (json_array_size(faults))
        json_object_set_new(found, "faults", faults);
    else
        json_decref(faults);
}

static int check_iteration(const drv_config *cfg, const scenario *s, PGconn *ctl, run *r,
                           drv_call *all, drv_result *res, int *verdicts, char *err, size_t errlen)
{
    int n = 0;
    for (int i = 0; i < cfg->nworkers; i++) {
        worker *w = &r->workers[i];
        for (int a = 0; a < w->ncalls; a++) {
            drv_call *c = &w->calls[a];
            all[n++] = *c;
            res->outcomes[c->out.kind]++;
            hist_add(&res->latency[c->out.kind], c->t_end - c->t_start);
        }
    }
    for (int k = 0; k < s->ninvariants; k++) {
        json_t *found = json_object();
        if (!found) {
            err_set(err, errlen, "out of memory");
            return -1;
        }
        inv_ctx x = { .ctl = ctl, .iteration = r->iteration, .calls = all, .ncalls = n,
                      .nworkers = cfg->nworkers, .found = found, .err = err, .errlen = errlen };
        int v = s->invariants[k].check(&x);
        if (v < 0) {
            json_decref(found);
            return -1;
        }
        verdicts[k] = v;
        drv_verdict *d = &res->verdicts[k];
        if (v == 0 && d->failures++ == 0) {
            d->first_iteration = r->iteration;
            d->first_found = found;
            describe_calls(found, all, n);
            /* The rules this iteration ran with: what replays it. */
            if (faultctl_spec()[0])
                json_object_set_new(found, "fault_spec", json_string(faultctl_spec()));
        } else {
            json_decref(found);
        }
    }
    if (cfg->on_iteration)
        cfg->on_iteration(cfg->iteration_arg, r->iteration, all, n, verdicts);
    return 0;
}

int drv_run(const drv_config *cfg, const scenario *s, const scenario_variant *v, PGconn *ctl,
            drv_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    for (int k = 0; k < 4; k++)
        hist_init(&res->latency[k]);
    res->verdicts = calloc((size_t)s->ninvariants, sizeof *res->verdicts);
    int *verdicts = calloc((size_t)s->ninvariants, sizeof *verdicts);
    drv_call *all = calloc((size_t)cfg->nworkers * (size_t)(cfg->retries + 1), sizeof *all);
    run r = { .cfg = cfg, .variant = v };
    r.workers = calloc((size_t)cfg->nworkers, sizeof *r.workers);
    if (!res->verdicts || !verdicts || !all || !r.workers) {
        err_set(err, errlen, "out of memory");
        free(verdicts);
        free(all);
        free(r.workers);
        drv_result_free(res);
        return -1;
    }
    res->nverdicts = s->ninvariants;
    for (int k = 0; k < s->ninvariants; k++)
        res->verdicts[k].first_iteration = -1;

    int rc = -1, started = 0;
    bool barriers = false;
    faultctl_reset_ordinals();
    /* Connect in worker order, so worker i is the shim's connection i+1 (with
     * two connections per worker: 2i+1 and 2i+2). */
    for (int i = 0; i < cfg->nworkers; i++) {
        worker *w = &r.workers[i];
        w->run = &r;
        w->index = i;
        rng_init(&w->rng, cfg->seed, (uint64_t)i + 1);
        w->traces = calloc((size_t)cfg->retries + 1, sizeof *w->traces);
        w->calls = calloc((size_t)cfg->retries + 1, sizeof *w->calls);
        if (!w->traces || !w->calls) {
            err_set(err, errlen, "out of memory");
            goto out;
        }
        for (int a = 0; a <= cfg->retries; a++)
            if (pqx_trace_init(&w->traces[a], TRACE_CAP) < 0) {
                err_set(err, errlen, "out of memory");
                goto out;
            }
        char app[64];
        snprintf(app, sizeof app, "%s/w%d", cfg->appname, i + 1);
        faultctl_exempt_thread(false);
        w->conn = pqx_connect(cfg->conninfo, cfg->schema, app, err, errlen);
        if (w->conn && s->conns_per_worker == 2) {
            snprintf(app, sizeof app, "%s/w%db", cfg->appname, i + 1);
            w->conn2 = pqx_connect(cfg->conninfo, cfg->schema, app, err, errlen);
        }
        faultctl_exempt_thread(true);
        if (!w->conn || (s->conns_per_worker == 2 && !w->conn2))
            goto out;
    }
    if (pthread_barrier_init(&r.start, NULL, (unsigned)cfg->nworkers + 1) != 0 ||
        pthread_barrier_init(&r.done, NULL, (unsigned)cfg->nworkers + 1) != 0) {
        err_set(err, errlen, "pthread_barrier_init failed");
        goto out;
    }
    barriers = true;
    for (; started < cfg->nworkers; started++) {
        int e = pthread_create(&r.workers[started].thread, NULL, worker_main, &r.workers[started]);
        if (e != 0) {
            err_sys(err, errlen, e, "pthread_create");
            /* The started workers wait at the start barrier for a party
             * that will never come: the process exits with this error. */
            goto out;
        }
    }
    long first = cfg->first_iteration > 0 ? cfg->first_iteration : 1;
    int64_t t0 = clock_now_ns();
    for (long i = 0; i < cfg->iterations; i++) {
        r.iteration = first + i;
        if (s->setup(ctl, r.iteration, cfg->nworkers, err, errlen) < 0)
            goto out;
        if (cfg->before && cfg->before(cfg->before_arg, r.iteration, err, errlen) != 0)
            goto out;
        pthread_barrier_wait(&r.start);
        pthread_barrier_wait(&r.done);
        if (check_iteration(cfg, s, ctl, &r, all, res, verdicts, err, errlen) < 0)
            goto out;
        res->iterations++;
    }
    res->seconds = (double)(clock_now_ns() - t0) / 1e9;
    rc = 0;
out:
    if (started == cfg->nworkers || !barriers)
        free_workers(&r, started);
    if (barriers && started == cfg->nworkers) {
        pthread_barrier_destroy(&r.start);
        pthread_barrier_destroy(&r.done);
    }
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
