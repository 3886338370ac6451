/*
 * report.c — filling a run's record (see report.h, rep.h); the writers are
 * junit.c, json.c and html.c.
 */
#include "reports/rep.h"

#include "lib/err.h"
#include "lib/hash.h"
#include "lib/tap.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- interned strings ------------------------------------------------- */

struct rep_intern {
    char **slot;
    size_t cap, n;
};

/* Replaces every byte of s that is not part of a valid UTF-8 sequence
 * with '?', in place (the length stays). */
static void fix_utf8(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        int len = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 && *p >= 0xC2 ? 2 : (*p & 0xF0) == 0xE0 ? 3
                : (*p & 0xF8) == 0xF0 && *p <= 0xF4 ? 4 : 0;
        int ok = len > 0;
        for (int i = 1; ok && i < len; i++)
            ok = (p[i] & 0xC0) == 0x80;
        if (ok && len == 3 && ((*p == 0xE0 && p[1] < 0xA0) || (*p == 0xED && p[1] >= 0xA0)))
            ok = 0;
        if (ok && len == 4 && ((*p == 0xF0 && p[1] < 0x90) || (*p == 0xF4 && p[1] >= 0x90)))
            ok = 0;
        if (!ok) {
            *p++ = '?';
            continue;
        }
        p += len;
    }
}

static uint64_t hash_str(const char *s) { return hash_fnv1a(HASH_FNV1A_INIT, s, strlen(s)); }

/* The interned copy of s (valid UTF-8), or NULL for NULL/"" (or when out
 * of memory: r->oom is set). */
static const char *intern(report *r, const char *s)
{
    if (!s || !*s)
        return NULL;
    rep_intern *t = r->strings;
    if (t->n * 2 >= t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        char **slot = calloc(cap, sizeof *slot);
        if (!slot) {
            r->oom = true;
            return NULL;
        }
        for (size_t i = 0; i < t->cap; i++)
            if (t->slot[i]) {
                size_t j = hash_str(t->slot[i]) & (cap - 1);
                while (slot[j])
                    j = (j + 1) & (cap - 1);
                slot[j] = t->slot[i];
            }
        free(t->slot);
        t->slot = slot;
        t->cap = cap;
    }
    char *copy = strdup(s);
    if (!copy) {
        r->oom = true;
        return NULL;
    }
    fix_utf8(copy);
    size_t j = hash_str(copy) & (t->cap - 1);
    while (t->slot[j]) {
        if (strcmp(t->slot[j], copy) == 0) {
            free(copy);
            return t->slot[j];
        }
        j = (j + 1) & (t->cap - 1);
    }
    t->slot[j] = copy;
    t->n++;
    return copy;
}

/* --- the record ------------------------------------------------------- */

report *report_new(const report_meta *meta)
{
    report *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->strings = calloc(1, sizeof *r->strings);
    r->command = strdup(meta->command ? meta->command : "");
    r->dsn = meta->dsn ? strdup(meta->dsn) : NULL;
    if (!r->strings || !r->command || (meta->dsn && !r->dsn)) {
        report_free(r);
        return NULL;
    }
    fix_utf8(r->command);
    if (r->dsn)
        fix_utf8(r->dsn);
    r->seed = meta->seed;
    r->server_version = meta->server_version;
    r->embedded = meta->embedded;
    r->iterations = meta->iterations;
    r->keep_iterations = meta->keep_iterations > 0 ? meta->keep_iterations : 100000;
    r->started = time(NULL);
    if (gethostname(r->hostname, sizeof r->hostname - 1) < 0 || !r->hostname[0])
        snprintf(r->hostname, sizeof r->hostname, "localhost");
    fix_utf8(r->hostname);
    return r;
}

static rep_item *current(report *r)
{
    return r && r->nitems > 0 && !r->items[r->nitems - 1].ended ? &r->items[r->nitems - 1] : NULL;
}

void report_item_begin(report *r, const plan_item *item, const item_settings *st)
{
    if (!r)
        return;
    if (r->nitems == r->capitems) {
        int cap = r->capitems ? r->capitems * 2 : 8;
        rep_item *items = realloc(r->items, (size_t)cap * sizeof *items);
        if (!items) {
            r->oom = true;
            return;
        }
        r->items = items;
        r->capitems = cap;
    }
    int n = drv_ninvariants(item->scenario);
    rep_item *it = &r->items[r->nitems];
    *it = (rep_item){
        .scenario = item->scenario, .variant = item->variant, .sweep = st->sweep,
        .retries = st->retries, .nworkers = st->nworkers, .pauses = st->pauses, .params = st->params,
        .started = time(NULL),
    };
    it->plan = strdup(st->plan ? st->plan : "none");
    it->fault = st->fault ? strdup(st->fault) : NULL;
    it->failures = calloc((size_t)n + 1, sizeof *it->failures);
    it->first_failure = calloc((size_t)n + 1, sizeof *it->first_failure);
    it->found = calloc((size_t)n + 1, sizeof *it->found);
    if (!it->plan || (st->fault && !it->fault) || !it->failures || !it->first_failure || !it->found) {
        free(it->plan);
        free(it->fault);
        free(it->failures);
        free(it->first_failure);
        free(it->found);
        r->oom = true;
        return;
    }
    for (int k = 0; k < n; k++)
        it->first_failure[k] = -1;
    for (int k = 0; k < 4; k++)
        hist_init(&it->latency[k]);
    r->nitems++;
}

static void free_iter(rep_iter *x)
{
    for (int i = 0; x->calls && i < x->ncalls; i++)
        free(x->calls[i].stmts);
    free(x->calls);
    free(x->violated);
    memset(x, 0, sizeof *x);
}

/* Copies one iteration into x, with statements when traced. Returns 0 or
 * -1 when out of memory (x left empty). */
static int copy_iter(report *r, rep_iter *x, int ninv, long iteration, const call_record *calls, int ncalls,
                     const int *verdicts, const char *spec, bool traced)
{
    *x = (rep_iter){ .iteration = iteration, .fault_spec = intern(r, spec), .ncalls = ncalls };
    if (!x->fault_spec)
        x->fault_spec = "";
    x->calls = calloc((size_t)ncalls + 1, sizeof *x->calls);
    x->violated = calloc((size_t)ninv + 1, 1);
    if (!x->calls || !x->violated)
        goto fail;
    for (int k = 0; k < ninv; k++)
        x->violated[k] = verdicts[k] == 0;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int i = 0; i < ncalls; i++) {
        const call_record *c = &calls[i];
        rep_call *d = &x->calls[i];
        *d = (rep_call){
            .worker = c->worker, .attempt = c->attempt, .kind = c->out.kind, .status = c->out.status,
            .conn_lost = c->out.conn_lost, .indeterminate = c->out.indeterminate, .timed_out = c->timed_out,
            .faults = c->faults, .t_start = c->t_start, .t_end = c->t_end,
        };
        snprintf(d->sqlstate, sizeof d->sqlstate, "%s", c->out.sqlstate);
        fix_utf8(d->sqlstate);
        d->message = intern(r, c->out.message);
        d->result = intern(r, c->result);
        d->fault = c->faults ? intern(r, c->fault) : NULL;
        lo = c->t_start < lo ? c->t_start : lo;
        hi = c->t_end > hi ? c->t_end : hi;
        if (!traced || !c->trace || !c->trace->n)
            continue;
        d->stmts = calloc(c->trace->n, sizeof *d->stmts);
        if (!d->stmts)
            goto fail;
        d->nstmts = (int)c->trace->n;
        d->stmts_dropped = (long)c->trace->dropped;
        for (size_t e = 0; e < c->trace->n; e++) {
            const pqx_event *ev = &c->trace->ev[e];
            rep_stmt *s = &d->stmts[e];
            *s = (rep_stmt){ .conn = ev->conn == c->conn ? 0 : 1, .t_send = ev->t_send, .t_done = ev->t_done,
                             .failed = ev->failed };
            snprintf(s->sql, sizeof s->sql, "%s", ev->sql);
            snprintf(s->sqlstate, sizeof s->sqlstate, "%s", ev->sqlstate);
            fix_utf8(s->sql);
            fix_utf8(s->sqlstate);
        }
    }
    x->span = ncalls ? hi - lo : 0;
    return 0;
fail:
    free_iter(x);
    r->oom = true;
    return -1;
}

void report_iteration(report *r, long iteration, const call_record *calls, int ncalls, const int *verdicts,
                      const char *fault_spec)
{
    rep_item *it = current(r);
    if (!it)
        return;
    int ninv = drv_ninvariants(it->scenario);
    bool bad = false;
    for (int k = 0; k < ninv; k++)
        bad |= verdicts[k] == 0;
    it->seen++;
    if (bad || it->seen <= r->keep_iterations) {
        if (it->niters == it->cap) {
            size_t cap = it->cap ? it->cap * 2 : 64;
            rep_iter *iters = realloc(it->iters, cap * sizeof *iters);
            if (!iters) {
                r->oom = true;
                return;
            }
            it->iters = iters;
            it->cap = cap;
        }
        if (copy_iter(r, &it->iters[it->niters], ninv, iteration, calls, ncalls, verdicts, fault_spec, false) == 0)
            it->niters++;
    } else {
        it->dropped++;
    }
    /* The traced copies: the first violation, and the slowest iteration. */
    if (bad && !it->has_bad)
        it->has_bad = copy_iter(r, &it->first_bad, ninv, iteration, calls, ncalls, verdicts, fault_spec, true) == 0;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int i = 0; i < ncalls; i++) {
        lo = calls[i].t_start < lo ? calls[i].t_start : lo;
        hi = calls[i].t_end > hi ? calls[i].t_end : hi;
    }
    if (ncalls && (!it->has_slow || hi - lo > it->slowest.span)) {
        if (it->has_slow)
            free_iter(&it->slowest);
        it->has_slow = copy_iter(r, &it->slowest, ninv, iteration, calls, ncalls, verdicts, fault_spec, true) == 0;
    }
}

void report_item_end(report *r, const drv_result *res, const char *repeat_command)
{
    rep_item *it = current(r);
    if (!it)
        return;
    it->iterations = res->iterations;
    it->seconds = res->seconds;
    for (int k = 0; k < 4; k++) {
        it->outcomes[k] = res->outcomes[k];
        it->latency[k] = res->latency[k];
    }
    for (int k = 0; k < res->nverdicts && k < drv_ninvariants(it->scenario); k++) {
        it->failures[k] = res->verdicts[k].failures;
        it->first_failure[k] = res->verdicts[k].failures ? res->verdicts[k].first_iteration : -1;
        if (res->verdicts[k].failures && res->verdicts[k].first_found)
            it->found[k] = json_deep_copy(res->verdicts[k].first_found);
    }
    it->repeat = strdup(repeat_command ? repeat_command : "");
    if (it->repeat)
        fix_utf8(it->repeat);
    else
        r->oom = true;
    it->ended = true;
}

void report_item_error(report *r, const char *reason)
{
    rep_item *it = current(r);
    if (!it)
        return;
    it->error = strdup(reason ? reason : "error");
    if (it->error)
        fix_utf8(it->error);
    it->iterations = it->seen;
    it->ended = true;
}

void report_free(report *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->nitems; i++) {
        rep_item *it = &r->items[i];
        for (size_t j = 0; j < it->niters; j++)
            free_iter(&it->iters[j]);
        free(it->iters);
        if (it->has_bad)
            free_iter(&it->first_bad);
        if (it->has_slow)
            free_iter(&it->slowest);
        for (int k = 0; it->found && k < drv_ninvariants(it->scenario); k++)
            json_decref(it->found[k]);
        free(it->found);
        free(it->failures);
        free(it->first_failure);
        free(it->plan);
        free(it->fault);
        free(it->error);
        free(it->repeat);
    }
    free(r->items);
    if (r->strings) {
        for (size_t i = 0; i < r->strings->cap; i++)
            free(r->strings->slot[i]);
        free(r->strings->slot);
        free(r->strings);
    }
    free(r->command);
    free(r->dsn);
    free(r);
}

/* --- shared by the writers -------------------------------------------- */

const char *rep_call_type(const rep_call *c)
{
    if (c->indeterminate)
        return "info";
    return c->kind == OUT_OK ? "ok" : "fail";
}

bool rep_item_held(const rep_item *it, int k)
{
    return it->failures[k] == 0;
}

const char *rep_item_error(const rep_item *it)
{
    return it->error ? it->error : !it->ended ? "did not finish" : NULL;
}

const char *rep_item_verdict(const rep_item *it)
{
    if (rep_item_error(it))
        return "error";
    for (int k = 0; k < drv_ninvariants(it->scenario); k++)
        if (!rep_item_held(it, k))
            return "violated";
    return "held";
}

const char *rep_run_verdict(const report *r)
{
    const char *verdict = "held";
    for (int i = 0; i < r->nitems; i++) {
        const char *v = rep_item_verdict(&r->items[i]);
        if (strcmp(v, "error") == 0 || (strcmp(v, "violated") == 0 && strcmp(verdict, "held") == 0))
            verdict = v;
    }
    return verdict;
}

const rep_iter *rep_timeline_iter(const rep_item *it)
{
    return it->has_bad ? &it->first_bad : it->has_slow ? &it->slowest : NULL;
}

void rep_item_label(const rep_item *it, char *buf, size_t len)
{
    if (strcmp(it->plan, "none") == 0)
        snprintf(buf, len, "%s/%s", it->scenario->name, it->variant->name);
    else
        snprintf(buf, len, "%s/%s [%s]", it->scenario->name, it->variant->name, it->plan);
}

json_t *rep_diagnostics(const report *r, const rep_item *it, int k)
{
    if (rep_item_held(it, k))
        return NULL;
    json_t *d = json_object();
    if (!d)
        return NULL;
    char buf[64];
    json_object_set_new(d, "scenario", json_string(it->scenario->name));
    json_object_set_new(d, "variant", json_string(it->variant->name));
    json_object_set_new(d, "plan", json_string(it->plan));
    json_object_set_new(d, "invariant", json_string(drv_invariant_name(it->scenario, k)));
    json_object_set_new(d, "iteration", json_integer(it->first_failure[k]));
    if (it->found[k])
        json_object_update(d, it->found[k]);
    snprintf(buf, sizeof buf, "%ld of %ld", it->failures[k], it->iterations);
    json_object_set_new(d, "failing_iterations", json_string(buf));
    json_object_set_new(d, "workers", json_integer(it->nworkers));
    if (it->retries)
        json_object_set_new(d, "retries", json_integer(it->retries));
    json_object_set_new(d, "seed", rep_seed_json(r->seed));
    json_object_set_new(d, "repeat", json_string(it->repeat ? it->repeat : ""));
    return d;
}

char *rep_yaml(json_t *diag)
{
    if (!diag)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    fputs("---\n", f);
    tap_yaml(f, diag, 0);
    fputs("...\n", f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
