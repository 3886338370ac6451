/*
 * record.c — a drive's results put in the record's terms (record.h).
 */
#include "engine/record.h"

#include "engine/connstate.h"
#include "engine/repro.h"
#include "lib/err.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What every drive runs with, scenario's or program's, added to s. */
static json_t *drive_settings(json_t *s, const run_opts *o, const item_settings *st)
{
    json_object_set_new(s, "fault", st->fault ? json_string(st->fault) : json_null());
    json_object_set_new(s, "sweep", json_boolean(st->sweep));
    json_object_set_new(s, "call_timeout_ns", json_integer(st->call_timeout_ns));
    json_object_set_new(s, "dsn", o->dsn ? json_string(o->dsn) : json_null());
    json_object_set_new(s, "pooler", o->pooler != POOLER_NONE ? json_string(pooler_name(o->pooler)) : json_null());
    json_object_set_new(s, "oracle", oracle_settings_json(o->oracle, &o->oracle_opts));
    return s;
}

/* What an item of an origin (pgrace exec's program) runs with: its own
 * keys, and what every drive has. */
static json_t *origin_settings_json(const run_opts *o, const item_settings *st, const item_origin *origin)
{
    json_t *s = json_deep_copy(origin->settings);
    if (!s)
        return json_object();
    json_object_set_new(s, "plan", json_string(st->plan));
    json_object_set_new(s, "workers", json_integer(st->nworkers));
    json_object_set_new(s, "iterations", json_integer(o->iterations));
    return drive_settings(s, o, st);
}

static json_t *settings_json(const run_opts *o, const plan_item *item, const item_settings *st)
{
    if (item->origin)
        return origin_settings_json(o, st, item->origin);
    json_t *s = json_object(), *pauses = json_array();
    json_object_set_new(s, "scenario", json_string(item->scenario->name));
    json_object_set_new(s, "variant", json_string(item->variant->name));
    json_object_set_new(s, "plan", json_string(st->plan));
    json_object_set_new(s, "workers", json_integer(st->nworkers));
    json_object_set_new(s, "iterations", json_integer(o->iterations));
    json_object_set_new(s, "retries", json_integer(st->retries));
    for (int i = 0; i < st->pauses.n; i++)
        json_array_append_new(pauses, json_pack("{s:s,s:I}", "name", st->pauses.p[i].name, "ns",
                                                (json_int_t)st->pauses.p[i].ns));
    json_object_set_new(s, "pauses", pauses);
    json_object_set_new(s, "params", st->params ? json_string(st->params) : json_null());
    return drive_settings(s, o, st);
}

rep_item *record_item_begin(report *r, const run_opts *o, const plan_item *item, const item_settings *st)
{
    if (!r)
        return NULL;
    char label[160], group[96], classname[256];
    plan_label(item, st, label, sizeof label);
    bool plan = strcmp(st->plan, "none") != 0;
    if (item->origin) {
        /* "pgrace.exec.PROGRAM", and ".PLAN": the program's words, dotted. */
        snprintf(group, sizeof group, "pgrace.%s", item->origin->kind);
        snprintf(classname, sizeof classname, "pgrace.%s.%s%s%s", item->origin->kind, item->scenario->name,
                 plan ? "." : "", plan ? st->plan : "");
        for (char *c = classname; *c; c++)
            *c = *c == ' ' ? '.' : *c;
    } else {
        snprintf(group, sizeof group, "pgrace.%s", item->scenario->name);
        /* "pgrace.SCENARIO.VARIANT", and ".PLAN" when it has one. */
        snprintf(classname, sizeof classname, "pgrace.%s.%s%s%s", item->scenario->name, item->variant->name,
                 plan ? "." : "", plan ? st->plan : "");
    }
    json_t *settings = settings_json(o, item, st);
    rep_item_desc d = { .kind = item->origin ? item->origin->kind : "scenario", .name = label,
                        .settings = settings, .nworkers = st->nworkers, .group = group, .classname = classname };
    rep_item *it = report_item_begin(r, &d);
    json_decref(settings);
    return it;
}

/* A reusable place for one iteration's calls in the record's terms. */
typedef struct call_buf {
    rep_call_in *calls;
    rep_stmt_in *stmts;
    size_t ncalls, nstmts;
} call_buf;

static _Thread_local call_buf buf;

static int reserve(size_t ncalls, size_t nstmts)
{
    if (ncalls > buf.ncalls) {
        rep_call_in *c = realloc(buf.calls, ncalls * sizeof *c);
        if (!c)
            return -1;
        buf.calls = c;
        buf.ncalls = ncalls;
    }
    if (nstmts > buf.nstmts) {
        rep_stmt_in *s = realloc(buf.stmts, nstmts * sizeof *s);
        if (!s)
            return -1;
        buf.stmts = s;
        buf.nstmts = nstmts;
    }
    return 0;
}

void record_iteration(report *r, rep_item *it, const plan_item *item, const item_settings *st, long iteration,
                      const call_record *calls, int ncalls, const int *verdicts, const char *fault,
                      const char *schedule)
{
    if (!r || !it)
        return;
    size_t nstmts = 0;
    for (int i = 0; i < ncalls; i++)
        nstmts += calls[i].trace ? calls[i].trace->n : 0;
    if (reserve((size_t)ncalls + 1, nstmts + 1) < 0)
        return;     /* out of memory: the record misses an iteration, as report.c's own failures do */
    size_t e = 0;
    for (int i = 0; i < ncalls; i++) {
        const call_record *c = &calls[i];
        rep_stmt_in *first = &buf.stmts[e];
        for (size_t k = 0; c->trace && k < c->trace->n; k++) {
            const pqx_event *ev = &c->trace->ev[k];
            buf.stmts[e++] = (rep_stmt_in){ .conn = ev->conn == c->conn ? 0 : 1, .t_send = ev->t_send,
                                            .t_done = ev->t_done, .sql = ev->sql, .sqlstate = ev->sqlstate,
                                            .failed = ev->failed };
        }
        buf.calls[i] = (rep_call_in){
            .worker = c->worker, .attempt = c->attempt, .kind = c->out.kind, .status = c->out.status,
            .conn_lost = c->out.conn_lost, .indeterminate = c->out.indeterminate, .timed_out = c->timed_out,
            .sqlstate = c->out.sqlstate, .message = c->out.message, .result = c->result, .faults = c->faults,
            .fault = c->fault, .t_start = c->t_start, .t_end = c->t_end, .stmts = first,
            .nstmts = (int)(&buf.stmts[e] - first), .stmts_dropped = c->trace ? (long)c->trace->dropped : 0,
        };
    }
    int ninv = drv_ninvariants(item->scenario);
    unsigned char violated[ninv + 1];
    bool bad = false;
    for (int k = 0; k < ninv; k++) {
        violated[k] = verdicts[k] == 0;
        bad |= violated[k];
    }
    rep_iter_in x = { .iteration = iteration, .calls = buf.calls, .ncalls = ncalls, .violated = violated,
                      .npoints = ninv, .fault = fault, .workers = st->nworkers, .retries = st->retries,
                      .schedule = schedule };
    report_iteration(r, it, &x);
    if (bad) {
        /* What `pgrace replay` reruns: the first violating iteration, as
         * it ran (the first one given stays). */
        json_t *replay = json_pack("{s:I,s:s,s:s?,s:i,s:i}", "iteration", (json_int_t)iteration, "fault",
                                   fault ? fault : "", "schedule", schedule, "workers", st->nworkers, "retries",
                                   st->retries);
        report_item_replay(r, it, replay, false);
        json_decref(replay);
    }
}

/* The note of a drive: its iterations, workers, time and calls by outcome
 * with their latency percentiles. */
static void latency_note(report *r, const char *label, int nworkers, const drv_result *res)
{
    char line[512];
    int n = snprintf(line, sizeof line, "%s: %ld iterations x %d worker%s in %.2fs (%.1f/s); calls", label,
                     res->iterations, nworkers, nworkers == 1 ? "" : "s", res->seconds,
                     res->seconds > 0 ? (double)res->iterations / res->seconds : 0.0);
    for (int k = 0; k < 4; k++) {
        const hist *h = &res->latency[k];
        if (!h->count || n < 0 || (size_t)n >= sizeof line)
            continue;
        n += snprintf(line + n, sizeof line - (size_t)n, " %s %ld (p50 %.2fms p90 %.2fms p99 %.2fms max %.2fms)",
                      outcome_name(k), res->outcomes[k], (double)hist_quantile(h, 0.5) / 1e6,
                      (double)hist_quantile(h, 0.9) / 1e6, (double)hist_quantile(h, 0.99) / 1e6,
                      (double)h->max / 1e6);
    }
    report_note(r, "%s", line);
}

/* The diagnostics of invariant k's first violation: what it found, where,
 * how often, and the commands that repeat the item and replay it. */
static json_t *violation(const run_opts *o, const plan_item *item, const item_settings *st, const drv_result *res,
                         int k, const char *unit, const char *repeat)
{
    const drv_verdict *v = &res->verdicts[k];
    json_t *d = json_object();
    char text[2048], key[48];
    if (item->origin) {
        json_object_set_new(d, "program", json_string(item->scenario->name));
    } else {
        json_object_set_new(d, "scenario", json_string(item->scenario->name));
        json_object_set_new(d, "variant", json_string(item->variant->name));
    }
    json_object_set_new(d, "plan", json_string(st->plan));
    json_object_set_new(d, "invariant", json_string(drv_invariant_name(item->scenario, k)));
    json_object_set_new(d, "invariant_id", json_string(drv_invariant_id(item->scenario, k)));
    json_object_set_new(d, "iteration", json_integer(v->first_iteration));
    json_object_update(d, v->first_found);
    snprintf(text, sizeof text, "%ld of %ld", v->failures, res->iterations);
    snprintf(key, sizeof key, "failing_%s", unit);
    json_object_set_new(d, key, json_string(text));
    json_object_set_new(d, "workers", json_integer(st->nworkers));
    if (st->retries)
        json_object_set_new(d, "retries", json_integer(st->retries));
    json_object_set_new(d, "seed", json_integer((json_int_t)o->seed));
    json_object_set_new(d, "repeat", json_string(repeat));
    /* The violation's own replay (the explorer's schedule), else the
     * iteration's. */
    if (!json_object_get(v->first_found, "replay")) {
        json_t *rules = json_object_get(v->first_found, "fault_rules");
        repro_replay_command(o, item, st, v->first_iteration, 1, rules ? json_string_value(rules) : NULL, text,
                             sizeof text);
        json_object_set_new(d, "replay", json_string(text));
    }
    return d;
}

bool record_item_end(report *r, rep_item *it, const run_opts *o, const plan_item *item, const item_settings *st,
                     const drv_result *res, const char *unit, const char *repeat)
{
    char label[160];
    plan_label(item, st, label, sizeof label);
    latency_note(r, label, st->nworkers, res);
    report_item_add(r, it, res->iterations, res->outcomes, res->latency, res->seconds);
    bool all = true;
    for (int k = 0; k < res->nverdicts; k++) {
        const drv_verdict *v = &res->verdicts[k];
        rep_point_in p = { .name = drv_invariant_name(item->scenario, k), .id = drv_invariant_id(item->scenario, k),
                           .verdict = REP_OK, .runs = res->iterations, .unit = unit, .first_iteration = -1 };
        json_t *d = NULL;
        if (st->no_conn_check && strcmp(p.id, CST_ID) == 0) {
            p.verdict = REP_SKIPPED;
            p.reason = "not checked (--no-conn-check)";
        } else if (v->skipped && !v->failures) {
            p.verdict = REP_SKIPPED;
            p.reason = v->skipped;
        } else if (v->failures) {
            all = false;
            d = violation(o, item, st, res, k, unit, repeat);
            p.verdict = REP_VIOLATED;
            p.failures = v->failures;
            p.first_iteration = v->first_iteration;
            p.diagnostics = d;
        }
        report_point(r, it, &p);
        json_decref(d);
    }
    report_item_end(r, it, repeat, NULL);
    return all;
}

void record_item_error(report *r, rep_item *it, const char *reason)
{
    report_item_end(r, it, NULL, reason);
}
