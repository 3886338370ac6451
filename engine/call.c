/*
 * call.c — the call_* functions of scenario.h: how an operation runs its
 * statements, says what a call came to and asks for its pinned guarantees.
 * The driver sets a call up and reads it back (call_int.h).
 */
#include "engine/call_int.h"

#include "engine/connstate.h"
#include "engine/faultctl.h"
#include "engine/mutant.h"

#include "lib/clock.h"
#include "lib/parse.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* ---- wakeable sleeps ---- */

int drv_wake_init(drv_wake *w)
{
    pthread_condattr_t a;
    if (pthread_condattr_init(&a) != 0)
        return -1;
    int rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&w->cv, &a) == 0 ? 0 : -1;
    pthread_condattr_destroy(&a);
    if (rc < 0)
        return -1;
    w->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->fd < 0 || pthread_mutex_init(&w->mu, NULL) != 0) {
        if (w->fd >= 0)
            close(w->fd);
        pthread_cond_destroy(&w->cv);
        return -1;
    }
    w->woken = false;
    return 0;
}

void drv_wake_destroy(drv_wake *w)
{
    close(w->fd);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}

void drv_wake_reset(drv_wake *w)
{
    pthread_mutex_lock(&w->mu);
    w->woken = false;
    uint64_t n;
    ssize_t r = read(w->fd, &n, sizeof n);     /* empties it (EAGAIN when it was) */
    (void)r;
    pthread_mutex_unlock(&w->mu);
}

void drv_wake_up(drv_wake *w)
{
    pthread_mutex_lock(&w->mu);
    w->woken = true;
    uint64_t one = 1;
    ssize_t r = write(w->fd, &one, sizeof one);
    (void)r;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

bool drv_wake_sleep(drv_wake *w, int64_t ns)
{
    int64_t end = clock_now_ns() + ns;
    struct timespec ts = { .tv_sec = end / 1000000000, .tv_nsec = end % 1000000000 };
    pthread_mutex_lock(&w->mu);
    while (!w->woken && clock_now_ns() < end)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT)
            break;
    bool woken = w->woken;
    pthread_mutex_unlock(&w->mu);
    return woken;
}

/* ---- setting up and closing a call (driver side) ---- */

void call_begin(drv_call *c, call_state *st, call_record *rec, pqx_trace *trace, const scenario *s,
                const scenario_variant *v, const drv_config *cfg, drv_wake *wake)
{
    pqx_trace_reset(trace);
    *rec = (call_record){ .worker = c->worker, .attempt = c->attempt, .trace = trace, .conn = c->conn,
                          .rng_start = c->rng ? *c->rng : (rng){ { 0 } } };
    *st = (call_state){ .rec = rec, .trace = trace, .scenario = s, .variant = v, .pauses = &cfg->pauses,
                        .params = cfg->params, .wake = wake };
    c->state = st;
}

static int error_status(const call_state *st)
{
    return st->scenario->error_status ? st->scenario->error_status : STATUS_ERROR;
}

void call_finish(drv_call *c)
{
    call_state *st = c->state;
    st->rec->rng_used = c->rng && memcmp(&st->rec->rng_start, c->rng, sizeof *c->rng) != 0;
    if (st->endings == 1)
        return;
    outcome *o = &st->rec->out;
    const char *why = st->endings == 0 ? "the operation returned without ending the call (call_ok, call_refuse, "
                                         "call_failed or call_fail)"
                                       : "the operation ended the call more than once";
    *o = (outcome){ .kind = OUT_ERROR, .status = error_status(st) };
    snprintf(o->message, sizeof o->message, "%s", why);
}

void call_who(const call_record *c, char *buf, size_t len)
{
    snprintf(buf, len, "worker %d%s", c->worker + 1, c->attempt ? " (retry)" : "");
}

void call_describe(const call_record *c, char *buf, size_t len)
{
    const outcome *o = &c->out;
    char status[16] = "";
    if (o->status)
        snprintf(status, sizeof status, " %d", o->status);
    if (o->kind == OUT_OK)
        snprintf(buf, len, "%s%s%s%s", outcome_name(o->kind), status, c->result[0] ? " -> " : "", c->result);
    else
        snprintf(buf, len, "%s%s%s%s %s", outcome_name(o->kind), status, o->sqlstate[0] ? " " : "", o->sqlstate,
                 o->message);
}

void call_tag(const drv_call *c, char *buf, size_t len)
{
    snprintf(buf, len, CALL_TAG_FMT, c->iteration, c->worker + 1, c->attempt);
}

/* ---- statements ---- */

int call_exec_aside(const drv_call *c, PGconn *conn, outcome *o, PGresult **res, const char *sql, int nparams,
                    const char *const *params)
{
    outcome scratch = { 0 };
    pqx_trace *t = c->state->trace;
    size_t at = t->n;
    int64_t sent = clock_now_ns();
    int rc = pqx_exec(conn, t, &scratch, res, sql, nparams, params);
    if (o)
        *o = scratch;
    /* When it went (the explorer's gate restamps the trace's time of a
     * statement it held). */
    if (rc == 0)
        cst_log_statement(c->state->cst, c, conn, sql, at < t->n ? t->ev[at].t_send : sent);
    return rc;
}

int call_exec_on(const drv_call *c, PGconn *conn, PGresult **res, const char *sql, int nparams,
                 const char *const *params)
{
    outcome o;
    int rc = call_exec_aside(c, conn, &o, res, sql, nparams, params);
    if (rc < 0)
        c->state->rec->out = o;
    return rc;
}

int call_exec(const drv_call *c, PGresult **res, const char *sql, int nparams, const char *const *params)
{
    return call_exec_on(c, c->conn, res, sql, nparams, params);
}

const char *call_sqlstate(const drv_call *c) { return c->state->rec->out.sqlstate; }

void call_rollback(const drv_call *c)
{
    if (PQstatus(c->conn) == CONNECTION_OK)
        pqx_rollback_quiet(c->conn, c->state->trace);
    if (c->conn2 && PQstatus(c->conn2) == CONNECTION_OK)
        pqx_rollback_quiet(c->conn2, c->state->trace);
}

/* ---- endings ---- */

void call_ok(const drv_call *c, const char *result)
{
    call_state *st = c->state;
    st->endings++;
    st->rec->out = (outcome){ .kind = OUT_OK, .status = STATUS_OK };
    snprintf(st->rec->result, sizeof st->rec->result, "%s", result ? result : "");
}

void call_commit_ok(const drv_call *c, const char *result)
{
    if (!GUARANTEE(c, "commit-before-ok")) {
        /* The mutant: the caller is told ok, and COMMIT's outcome is
         * never looked at. */
        call_ok(c, result);
        call_exec_aside(c, c->conn, NULL, NULL, "COMMIT", 0, NULL);
        return;
    }
    if (call_exec(c, NULL, "COMMIT", 0, NULL) < 0) {
        call_failed(c, NULL);
        return;
    }
    call_ok(c, result);
}

void call_refuse(const drv_call *c, int status, const char *why)
{
    call_state *st = c->state;
    call_rollback(c);
    st->endings++;
    st->rec->out = (outcome){ .kind = OUT_CONFLICT, .status = status };
    snprintf(st->rec->out.message, sizeof st->rec->out.message, "%s", why);
}

void call_failed(const drv_call *c, const char *context)
{
    call_state *st = c->state;
    outcome *o = &st->rec->out;
    call_rollback(c);
    st->endings++;
    if (o->kind == OUT_OK || o->kind == OUT_CONFLICT) {
        /* Nothing failed: a scenario bug, reported as one. */
        *o = (outcome){ .kind = OUT_ERROR };
        snprintf(o->message, sizeof o->message, "call_failed with no failed statement%s%s", context ? ": " : "",
                 context ? context : "");
    } else if (context) {
        char msg[2 * sizeof o->message];
        snprintf(msg, sizeof msg, "%s: %s", context, o->message);
        memcpy(o->message, msg, sizeof o->message - 1);
        o->message[sizeof o->message - 1] = '\0';
    }
    o->status = error_status(st);
}

/* Whether text starts with a SQLSTATE (five digits or capitals) as a word. */
static bool starts_with_sqlstate(const char *text)
{
    for (int i = 0; i < 5; i++)
        if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'A' && text[i] <= 'Z')))
            return false;
    return text[5] == '\0' || text[5] == ' ';
}

void call_answer(const drv_call *c, int status, const char *text)
{
    if (status >= 200 && status < 300) {
        call_ok(c, text);
        return;
    }
    if (status >= 400 && status < 500) {
        call_refuse(c, status, text);
        return;
    }
    call_state *st = c->state;
    outcome *o = &st->rec->out;
    st->endings++;
    *o = (outcome){ .kind = OUT_ERROR, .status = status };
    if (starts_with_sqlstate(text)) {
        memcpy(o->sqlstate, text, 5);
        o->sqlstate[5] = '\0';
        if (strcmp(o->sqlstate, "40001") == 0 || strcmp(o->sqlstate, "40P01") == 0 || strcmp(o->sqlstate, "55P03") == 0)
            o->kind = OUT_RETRYABLE;
        text += text[5] ? 6 : 5;
    }
    snprintf(o->message, sizeof o->message, "%s", text);
}

void call_fail(const drv_call *c, const char *why)
{
    call_state *st = c->state;
    call_rollback(c);
    st->endings++;
    st->rec->out = (outcome){ .kind = OUT_ERROR, .status = error_status(st) };
    snprintf(st->rec->out.message, sizeof st->rec->out.message, "%s", why);
}

/* ---- pause points, parameters and guarantees ---- */

const char *call_param(const drv_call *c, const char *name, const char *dflt)
{
    /* A parameter's value lives in the plan's static text; it is copied
     * into a per-thread buffer so that the caller gets a plain string. */
    static __thread char value[128];
    const char *p = c->state->params;
    size_t n = strlen(name);
    while (p && *p) {
        p += strspn(p, " ");
        size_t len = strcspn(p, " ");
        if (len > n && strncmp(p, name, n) == 0 && p[n] == '=') {
            snprintf(value, sizeof value, "%.*s", (int)(len - n - 1), p + n + 1);
            return value;
        }
        p += len;
    }
    return dflt;
}

int call_param_duration(const drv_call *c, const char *name, const char *dflt, int64_t *ns)
{
    const char *text = call_param(c, name, dflt);
    if (parse_duration(text, 3600LL * 1000000000, ns) == 0 && *ns >= 1000000)
        return 0;
    char why[200];
    snprintf(why, sizeof why, "plan parameter %s=%.60s is not a duration of 1ms to 1h", name, text);
    call_fail(c, why);
    return -1;
}

void drv_pause(const drv_call *c, const char *point)
{
    const drv_pauses *p = c->state->pauses;
    for (int i = 0; p && i < p->n; i++)
        if (strcmp(p->p[i].name, point) == 0)
            drv_wake_sleep(c->state->wake, p->p[i].ns);
}

int call_wake_fd(const drv_call *c) { return c->state->wake->fd; }

int call_faults(const drv_call *c) { return faultctl_faults_of(c->state->rec); }

void call_set_effect(const drv_call *c, call_effect e) { c->state->rec->effect = e; }

bool call_guarantee(const drv_call *c, const char *name)
{
    return !mutant_removes(c->state->scenario, c->state->variant, name);
}
