/*
 * json.c — the record as one JSON document, whatever the mode; its schema
 * is reports/report.schema.json (described in reports/README.md), and it
 * is what `pgrace replay` reads.
 *
 * Times of calls and statements are nanoseconds from the start of their
 * iteration (the first call's start); latencies are nanoseconds. Each
 * call has a Jepsen-style type: ok (took effect), fail (did not), info
 * (indeterminate: the connection was lost at COMMIT). The iterations the
 * HTML timeline draws (the first violating one and the slowest) carry each
 * call's statements too.
 */
#include "reports/rep.h"

#include <inttypes.h>

/* A string, or null for NULL (json_string fails only on bad UTF-8, which
 * the record never holds, or out of memory). */
static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *latency(const hist *h)
{
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "count", (json_int_t)h->count, "min_ns",
                     (json_int_t)h->min, "p50_ns", (json_int_t)hist_quantile(h, 0.5), "p90_ns",
                     (json_int_t)hist_quantile(h, 0.9), "p99_ns", (json_int_t)hist_quantile(h, 0.99),
                     "max_ns", (json_int_t)h->max, "mean_ns",
                     (json_int_t)(h->count ? h->sum / (double)h->count : 0));
}

static json_t *notes_json(char *const *notes, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_string(notes[i]));
    return a;
}

static json_t *call_json(const rep_call *c, int64_t t0)
{
    json_t *o = json_object();
    json_object_set_new(o, "worker", json_integer(c->worker + 1));
    json_object_set_new(o, "attempt", json_integer(c->attempt));
    json_object_set_new(o, "type", json_string(rep_call_type(c)));
    json_object_set_new(o, "outcome", json_string(outcome_name(c->kind)));
    json_object_set_new(o, "status", json_integer(c->status));
    json_object_set_new(o, "sqlstate", json_string(c->sqlstate));
    json_object_set_new(o, "message", str_or_null(c->message));
    json_object_set_new(o, "result", str_or_null(c->result));
    json_object_set_new(o, "conn_lost", json_boolean(c->conn_lost));
    json_object_set_new(o, "indeterminate", json_boolean(c->indeterminate));
    json_object_set_new(o, "timed_out", json_boolean(c->timed_out));
    json_object_set_new(o, "start_ns", json_integer(c->t_start - t0));
    json_object_set_new(o, "duration_ns", json_integer(c->t_end - c->t_start));
    json_object_set_new(o, "faults", json_integer(c->faults));
    json_object_set_new(o, "fault", str_or_null(c->fault));
    if (c->stmts) {
        json_t *list = json_array();
        for (int i = 0; i < c->nstmts; i++) {
            const rep_stmt *s = &c->stmts[i];
            json_array_append_new(list, json_pack("{s:i,s:I,s:I,s:s,s:s,s:b}", "conn", s->conn + 1, "start_ns",
                                                  (json_int_t)(s->t_send - t0), "duration_ns",
                                                  (json_int_t)(s->t_done - s->t_send), "sql", s->sql,
                                                  "sqlstate", s->sqlstate, "failed", s->failed));
        }
        json_object_set_new(o, "statements", list);
        json_object_set_new(o, "statements_dropped", json_integer(c->stmts_dropped));
    }
    return o;
}

static json_t *iter_json(const rep_item *it, const rep_iter *x)
{
    int64_t t0 = INT64_MAX;
    for (int i = 0; i < x->ncalls; i++)
        t0 = x->calls[i].t_start < t0 ? x->calls[i].t_start : t0;
    json_t *o = json_object(), *calls = json_array(), *violated = json_array();
    json_object_set_new(o, "iteration", json_integer(x->iteration));
    json_object_set_new(o, "fault", json_string(x->fault));
    json_object_set_new(o, "schedule", str_or_null(x->schedule));
    json_object_set_new(o, "workers", x->workers > 0 ? json_integer(x->workers) : json_null());
    json_object_set_new(o, "retries", x->retries >= 0 ? json_integer(x->retries) : json_null());
    for (int k = 0; k < x->npoints && k < it->npoints; k++)
        if (x->violated[k])
            json_array_append_new(violated, json_string(it->points[k].name));
    json_object_set_new(o, "violated", violated);
    json_object_set_new(o, "duration_ns", json_integer(x->span));
    for (int i = 0; i < x->ncalls; i++)
        json_array_append_new(calls, call_json(&x->calls[i], t0));
    json_object_set_new(o, "calls", calls);
    return o;
}

static json_t *point_json(const rep_point *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(p->name));
    json_object_set_new(o, "id", str_or_null(p->id));
    json_object_set_new(o, "verdict", json_string(rep_verdict_name(p->verdict)));
    json_object_set_new(o, "reason", str_or_null(p->reason));
    json_object_set_new(o, "failures", json_integer(p->failures));
    json_object_set_new(o, "runs", json_integer(p->runs));
    json_object_set_new(o, "unit", json_string(p->unit));
    json_object_set_new(o, "first_iteration", p->failures ? json_integer(p->first_iteration) : json_null());
    json_object_set_new(o, "seconds", json_real(p->seconds));
    json_object_set(o, "diagnostics", p->diag ? p->diag : json_null());
    return o;
}

/* The kept iterations in order, each from its traced copy (with the
 * statements) when it is the first violating or the slowest one. */
static json_t *history_json(const rep_item *it)
{
    json_t *iters = json_array();
    for (size_t j = 0; j < it->niters; j++) {
        const rep_iter *x = &it->iters[j];
        if (it->has_bad && it->bad_at == (long)j)
            x = &it->first_bad;
        else if (it->has_slow && it->slow_at == (long)j)
            x = &it->slowest;
        json_array_append_new(iters, iter_json(it, x));
    }
    return iters;
}

static json_t *item_json(const rep_item *it)
{
    json_t *o = json_object();
    char stamp[32];
    struct tm tm;
    gmtime_r(&it->started, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_set_new(o, "kind", json_string(it->kind));
    json_object_set_new(o, "name", json_string(it->name));
    json_object_set(o, "settings", it->settings);
    json_object_set_new(o, "verdict", json_string(rep_verdict_name(rep_item_verdict(it))));
    json_object_set_new(o, "error", str_or_null(it->error ? it->error : it->ended ? NULL : "did not finish"));
    json_object_set_new(o, "started", json_string(stamp));
    json_object_set_new(o, "seconds", json_real(it->seconds));
    json_object_set_new(o, "iterations", json_integer(it->iterations));
    json_object_set_new(o, "repeat", str_or_null(it->repeat));

    json_t *outcomes = json_object(), *lat = json_object();
    for (int k = 0; k < 4; k++) {
        json_object_set_new(outcomes, outcome_name(k), json_integer(it->outcomes[k]));
        if (it->latency[k].count)
            json_object_set_new(lat, outcome_name(k), latency(&it->latency[k]));
    }
    json_object_set_new(o, "outcomes", outcomes);
    json_object_set_new(o, "latency", lat);

    json_t *points = json_array();
    for (int k = 0; k < it->npoints; k++)
        json_array_append_new(points, point_json(&it->points[k]));
    json_object_set_new(o, "points", points);
    json_object_set_new(o, "notes", notes_json(it->notes, it->nnotes));
    json_object_set(o, "replay", it->replay ? it->replay : json_null());
    json_object_set_new(o, "iterations_kept", json_integer((json_int_t)it->niters));
    json_object_set_new(o, "iterations_dropped", json_integer(it->dropped));
    json_object_set_new(o, "timeline_iteration",
                        rep_timeline_iter(it) ? json_integer(rep_timeline_iter(it)->iteration) : json_null());
    json_object_set_new(o, "history", history_json(it));
    return o;
}

int report_write_json(const report *r, const char *path, char *err, size_t errlen)
{
    json_t *doc = rep_json_begin("format", "pgrace-report", r->seed, r->command, r->started), *items = json_array();
    char buf[64];
    json_object_set_new(doc, "mode", json_string(r->mode));
    json_object_set_new(doc, "hostname", json_string(r->hostname));
    rep_server_text(r->server_version, buf, sizeof buf);
    json_object_set_new(doc, "server",
                        r->server_version ? json_pack("{s:i,s:s,s:b,s:s}", "version_num", r->server_version, "version",
                                                      buf, "embedded", r->embedded, "target",
                                                      r->dsn ? "dsn" : r->embedded ? "embedded" : "environment")
                                          : json_null());
    json_object_set_new(doc, "keep_iterations", json_integer(r->keep_iterations));
    json_object_set_new(doc, "complete", json_boolean(!r->oom && !r->bailed));
    json_object_set_new(doc, "verdict", json_string(rep_verdict_name(report_verdict(r))));
    json_object_set_new(doc, "bail", str_or_null(r->bail));
    json_object_set_new(doc, "notes", notes_json(r->notes, r->nnotes));
    int c[4] = { 0 }, npoints = 0;
    for (int i = 0; i < r->nitems; i++) {
        int ic[4];
        npoints += rep_item_counts(r->items[i], ic);
        for (int k = 0; k < 4; k++)
            c[k] += ic[k];
        json_array_append_new(items, item_json(r->items[i]));
    }
    json_object_set_new(doc, "summary", json_pack("{s:i,s:i,s:i,s:i,s:i,s:i,s:i}", "items", r->nitems, "planned",
                                                  r->planned, "points", npoints, "ok", c[REP_OK], "violated",
                                                  c[REP_VIOLATED], "error", c[REP_ERROR], "skipped", c[REP_SKIPPED]));
    json_object_set_new(doc, "items", items);

    int rc = rep_write_json(doc, path, err, errlen);
    json_decref(doc);
    return rc;
}
