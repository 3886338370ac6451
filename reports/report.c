/*
 * report.c — filling the record (report.h, rep.h); TAP is tap.c, the
 * files junit.c, json.c and html.c.
 */
#include "reports/rep.h"

#include "lib/err.h"
#include "lib/hash.h"
#include "lib/tap.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
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

/* A valid UTF-8 copy of s (NULL for NULL; r->oom when out of memory). */
static char *dup_utf8(report *r, const char *s)
{
    if (!s)
        return NULL;
    char *copy = strdup(s);
    if (!copy)
        r->oom = true;
    else
        fix_utf8(copy);
    return copy;
}

static uint64_t hash_str(const char *s) { return hash_fnv1a(HASH_FNV1A_INIT, s, strlen(s)); }

/* The interned copy of the first max bytes of s (whole UTF-8 sequences),
 * valid UTF-8; NULL for NULL/"" (or when out of memory: r->oom is set). */
static const char *intern_n(report *r, const char *s, size_t max)
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
    size_t len = strnlen(s, max);
    while (len < strlen(s) && len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
        len--;      /* do not cut a UTF-8 sequence */
    char *copy = strndup(s, len);
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

static const char *intern(report *r, const char *s) { return intern_n(r, s, SIZE_MAX); }

/* Appends a copy of line to a list of notes. */
static void add_note(report *r, char ***notes, int *n, int *cap, const char *line)
{
    if (*n == *cap) {
        int c = *cap ? *cap * 2 : 8;
        char **p = realloc(*notes, (size_t)c * sizeof *p);
        if (!p) {
            r->oom = true;
            return;
        }
        *notes = p;
        *cap = c;
    }
    char *copy = dup_utf8(r, line);
    if (copy)
        (*notes)[(*n)++] = copy;
}

/* --- the run ---------------------------------------------------------- */

const char *rep_verdict_name(rep_verdict v)
{
    static const char *const names[] = { "ok", "violated", "error", "skipped" };
    return v >= REP_OK && v <= REP_SKIPPED ? names[v] : "error";
}

report *report_new(const report_meta *meta)
{
    report *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->strings = calloc(1, sizeof *r->strings);
    if (!r->strings) {
        free(r);
        return NULL;
    }
    r->mode = dup_utf8(r, meta->mode ? meta->mode : "run");
    r->command = dup_utf8(r, meta->command ? meta->command : "");
    r->dsn = dup_utf8(r, meta->dsn);
    if (r->oom) {
        report_free(r);
        return NULL;
    }
    r->seed = meta->seed;
    r->server_version = meta->server_version;
    r->embedded = meta->embedded;
    r->keep_iterations = meta->keep_iterations > 0 ? meta->keep_iterations : 100000;
    r->started = time(NULL);
    r->planned = -1;
    if (gethostname(r->hostname, sizeof r->hostname - 1) < 0 || !r->hostname[0])
        snprintf(r->hostname, sizeof r->hostname, "localhost");
    fix_utf8(r->hostname);
    r->tap = meta->tap;
    rep_tap_begin(r);
    return r;
}

void report_set_server(report *r, int server_version, bool embedded)
{
    if (!r)
        return;
    r->server_version = server_version;
    r->embedded = embedded;
}

void report_plan(report *r, int points)
{
    if (!r)
        return;
    r->planned = points;
    rep_tap_plan(r, points);
}

void report_note(report *r, const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (!r)
        return;
    rep_tap_note(r, line);
    if (r->current)
        add_note(r, &r->current->notes, &r->current->nnotes, &r->current->capnotes, line);
    else
        add_note(r, &r->notes, &r->nnotes, &r->capnotes, line);
}

void report_bail(report *r, const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (!r || r->bailed)
        return;
    r->bailed = true;
    r->bail = dup_utf8(r, line);
    rep_tap_bail(r, line);
}

/* --- items ------------------------------------------------------------ */

rep_item *report_item_begin(report *r, const rep_item_desc *d)
{
    if (!r)
        return NULL;
    if (r->nitems == r->capitems) {
        int cap = r->capitems ? r->capitems * 2 : 8;
        rep_item **items = realloc(r->items, (size_t)cap * sizeof *items);
        if (!items) {
            r->oom = true;
            return NULL;
        }
        r->items = items;
        r->capitems = cap;
    }
    rep_item *it = calloc(1, sizeof *it);
    if (!it) {
        r->oom = true;
        return NULL;
    }
    it->kind = dup_utf8(r, d->kind ? d->kind : "scenario");
    it->name = dup_utf8(r, d->name ? d->name : "");
    it->settings = d->settings ? json_incref(d->settings) : json_object();
    it->group = dup_utf8(r, d->group ? d->group : "pgrace");
    it->classname = dup_utf8(r, d->classname ? d->classname : "pgrace");
    it->nworkers = d->nworkers;
    it->started = time(NULL);
    for (int k = 0; k < 4; k++)
        hist_init(&it->latency[k]);
    if (!it->kind || !it->name || !it->settings || !it->group || !it->classname) {
        free(it->kind);
        free(it->name);
        free(it->group);
        free(it->classname);
        json_decref(it->settings);
        free(it);
        r->oom = true;
        return NULL;
    }
    r->items[r->nitems++] = it;
    r->current = it;
    return it;
}

void report_item_current(report *r, rep_item *it)
{
    if (r)
        r->current = it;
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
static int copy_iter(report *r, rep_iter *x, const rep_iter_in *in, bool traced)
{
    *x = (rep_iter){ .iteration = in->iteration, .fault = intern(r, in->fault), .schedule = intern(r, in->schedule),
                     .workers = in->workers, .retries = in->retries, .ncalls = in->ncalls, .npoints = in->npoints };
    if (!x->fault)
        x->fault = "";
    x->calls = calloc((size_t)in->ncalls + 1, sizeof *x->calls);
    x->violated = calloc((size_t)in->npoints + 1, 1);
    if (!x->calls || !x->violated)
        goto fail;
    if (in->violated)
        memcpy(x->violated, in->violated, (size_t)in->npoints);
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int i = 0; i < in->ncalls; i++) {
        const rep_call_in *c = &in->calls[i];
        rep_call *d = &x->calls[i];
        *d = (rep_call){
            .worker = c->worker, .attempt = c->attempt, .kind = c->kind, .status = c->status,
            .conn_lost = c->conn_lost, .indeterminate = c->indeterminate, .timed_out = c->timed_out,
            .faults = c->faults, .t_start = c->t_start, .t_end = c->t_end,
        };
        snprintf(d->sqlstate, sizeof d->sqlstate, "%s", c->sqlstate ? c->sqlstate : "");
        fix_utf8(d->sqlstate);
        d->message = intern(r, c->message);
        d->result = intern(r, c->result);
        d->fault = c->faults ? intern(r, c->fault) : NULL;
        lo = c->t_start < lo ? c->t_start : lo;
        hi = c->t_end > hi ? c->t_end : hi;
        if (!traced || !c->stmts || !c->nstmts)
            continue;
        d->stmts = calloc((size_t)c->nstmts, sizeof *d->stmts);
        if (!d->stmts)
            goto fail;
        d->nstmts = c->nstmts;
        d->stmts_dropped = c->stmts_dropped;
        for (int e = 0; e < c->nstmts; e++) {
            const rep_stmt_in *ev = &c->stmts[e];
            rep_stmt *s = &d->stmts[e];
            *s = (rep_stmt){ .conn = ev->conn, .t_send = ev->t_send, .t_done = ev->t_done, .failed = ev->failed,
                             .sql = intern_n(r, ev->sql, REP_SQL_KEPT) };
            if (!s->sql)
                s->sql = "";
            snprintf(s->sqlstate, sizeof s->sqlstate, "%s", ev->sqlstate ? ev->sqlstate : "");
            fix_utf8(s->sqlstate);
        }
    }
    x->span = in->ncalls ? hi - lo : 0;
    return 0;
fail:
    free_iter(x);
    r->oom = true;
    return -1;
}

void report_iteration(report *r, rep_item *it, const rep_iter_in *x)
{
    if (!r || !it)
        return;
    bool bad = false;
    for (int k = 0; x->violated && k < x->npoints; k++)
        bad |= x->violated[k] != 0;
    it->seen++;
    /* Every iteration up to the cap, then only violating ones, up to the
     * cap again: a soak's memory stays flat whatever it finds. */
    bool keep = it->seen <= r->keep_iterations || (bad && it->kept_bad < r->keep_iterations);
    long at = -1;               /* its place among the kept */
    if (keep) {
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
        if (copy_iter(r, &it->iters[it->niters], x, false) == 0) {
            at = (long)it->niters++;
            it->kept_bad += bad;
        }
    } else {
        it->dropped++;
    }
    /* The traced copies: the first violation, and the slowest iteration. */
    if (bad && !it->has_bad) {
        it->has_bad = copy_iter(r, &it->first_bad, x, true) == 0;
        it->bad_at = at;
    }
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int i = 0; i < x->ncalls; i++) {
        lo = x->calls[i].t_start < lo ? x->calls[i].t_start : lo;
        hi = x->calls[i].t_end > hi ? x->calls[i].t_end : hi;
    }
    if (x->ncalls && (!it->has_slow || hi - lo > it->slowest.span)) {
        if (it->has_slow)
            free_iter(&it->slowest);
        it->has_slow = copy_iter(r, &it->slowest, x, true) == 0;
        it->slow_at = at;
    }
}

void report_item_add(report *r, rep_item *it, long iterations, const long outcomes[4], const hist latency[4],
                     double seconds)
{
    if (!r || !it)
        return;
    it->iterations += iterations;
    it->seconds += seconds;
    for (int k = 0; k < 4; k++) {
        it->outcomes[k] += outcomes[k];
        hist_merge(&it->latency[k], &latency[k]);
    }
}

void report_point(report *r, rep_item *it, const rep_point_in *p)
{
    if (!r || !it)
        return;
    if (it->npoints == it->cappoints) {
        int cap = it->cappoints ? it->cappoints * 2 : 8;
        rep_point *pts = realloc(it->points, (size_t)cap * sizeof *pts);
        if (!pts) {
            r->oom = true;
            return;
        }
        it->points = pts;
        it->cappoints = cap;
    }
    rep_point *q = &it->points[it->npoints];
    *q = (rep_point){
        .name = dup_utf8(r, p->name ? p->name : ""), .id = dup_utf8(r, p->id), .verdict = p->verdict,
        .reason = dup_utf8(r, p->reason), .failures = p->failures, .runs = p->runs,
        .unit = p->unit ? p->unit : "iterations", .first_iteration = p->failures ? p->first_iteration : -1,
        .seconds = p->seconds, .diag = p->diagnostics ? json_incref(p->diagnostics) : NULL,
    };
    if (!q->name) {
        json_decref(q->diag);
        free(q->id);
        free(q->reason);
        return;
    }
    it->npoints++;
    rep_tap_point(r, it, q);
}

void report_item_replay(report *r, rep_item *it, json_t *replay, bool replace)
{
    if (!r || !it || !replay || (it->replay && !replace))
        return;
    json_decref(it->replay);
    it->replay = json_incref(replay);
}

void report_item_end(report *r, rep_item *it, const char *repeat, const char *error)
{
    if (!r || !it)
        return;
    if (repeat && !it->repeat)
        it->repeat = dup_utf8(r, repeat);
    if (error && !it->error)
        it->error = dup_utf8(r, error);
    it->ended = true;
    if (r->current == it)
        r->current = NULL;
}

static void free_item(rep_item *it)
{
    for (size_t j = 0; j < it->niters; j++)
        free_iter(&it->iters[j]);
    free(it->iters);
    if (it->has_bad)
        free_iter(&it->first_bad);
    if (it->has_slow)
        free_iter(&it->slowest);
    for (int k = 0; k < it->npoints; k++) {
        free(it->points[k].name);
        free(it->points[k].id);
        free(it->points[k].reason);
        json_decref(it->points[k].diag);
    }
    free(it->points);
    for (int k = 0; k < it->nnotes; k++)
        free(it->notes[k]);
    free(it->notes);
    json_decref(it->settings);
    json_decref(it->replay);
    free(it->kind);
    free(it->name);
    free(it->group);
    free(it->classname);
    free(it->error);
    free(it->repeat);
    free(it);
}

void report_free(report *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->nitems; i++)
        free_item(r->items[i]);
    free(r->items);
    for (int k = 0; k < r->nnotes; k++)
        free(r->notes[k]);
    free(r->notes);
    if (r->strings) {
        for (size_t i = 0; i < r->strings->cap; i++)
            free(r->strings->slot[i]);
        free(r->strings->slot);
        free(r->strings);
    }
    free(r->mode);
    free(r->command);
    free(r->dsn);
    free(r->bail);
    free(r);
}

int report_write_files(const report *r, const char *junit, const char *json, const char *html, char *err,
                       size_t errlen)
{
    if ((junit && report_write_junit(r, junit, err, errlen) < 0) ||
        (json && report_write_json(r, json, err, errlen) < 0) ||
        (html && report_write_html(r, html, err, errlen) < 0))
        return -1;
    return 0;
}

/* --- shared by the writers -------------------------------------------- */

const char *rep_call_type(const rep_call *c)
{
    if (c->indeterminate)
        return "info";
    return c->kind == OUT_OK ? "ok" : "fail";
}

int rep_item_counts(const rep_item *it, int counts[4])
{
    memset(counts, 0, 4 * sizeof *counts);
    for (int k = 0; k < it->npoints; k++)
        counts[it->points[k].verdict]++;
    return it->npoints;
}

rep_verdict rep_item_verdict(const rep_item *it)
{
    int c[4];
    int n = rep_item_counts(it, c);
    if (it->error || !it->ended || c[REP_ERROR])
        return REP_ERROR;
    if (c[REP_VIOLATED])
        return REP_VIOLATED;
    return n && c[REP_SKIPPED] == n ? REP_SKIPPED : REP_OK;
}

rep_verdict report_verdict(const report *r)
{
    bool violated = false, all_skipped = r->nitems > 0;
    if (r->bailed || r->oom)
        return REP_ERROR;
    for (int i = 0; i < r->nitems; i++) {
        rep_verdict v = rep_item_verdict(r->items[i]);
        if (v == REP_ERROR)
            return REP_ERROR;
        violated |= v == REP_VIOLATED;
        all_skipped &= v == REP_SKIPPED;
    }
    return violated ? REP_VIOLATED : all_skipped ? REP_SKIPPED : REP_OK;
}

const rep_iter *rep_timeline_iter(const rep_item *it)
{
    return it->has_bad ? &it->first_bad : it->has_slow ? &it->slowest : NULL;
}

void rep_point_summary(const rep_point *p, char *buf, size_t len)
{
    if (p->reason)
        snprintf(buf, len, "%s", p->reason);
    else if (p->verdict == REP_VIOLATED && p->runs > 0 && p->failures > 0)
        snprintf(buf, len, "violated in %ld of %ld %s (first: iteration %ld)", p->failures, p->runs, p->unit,
                 p->first_iteration);
    else
        snprintf(buf, len, "%s", rep_verdict_name(p->verdict));
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
