/* run.c — the `run` command: plan, target, driver, TAP (see run.h). */
#include "harness/run.h"

#include "harness/faultctl.h"
#include "harness/mutant.h"
#include "harness/repro.h"
#include "harness/sweep.h"
#include "harness/target.h"
#include "lib/cleanup.h"
#include "lib/err.h"
#include "lib/tap.h"
#include "reports/report.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void latency_comment(const char *label, int nworkers, const drv_result *r)
{
    char line[512];
    int n = snprintf(line, sizeof line, "%s: %ld iterations x %d worker%s in %.2fs (%.1f/s); calls", label,
                     r->iterations, nworkers, nworkers == 1 ? "" : "s", r->seconds,
                     r->seconds > 0 ? (double)r->iterations / r->seconds : 0.0);
    for (int k = 0; k < 4; k++) {
        const hist *h = &r->latency[k];
        if (!h->count || n < 0 || (size_t)n >= sizeof line)
            continue;
        n += snprintf(line + n, sizeof line - (size_t)n, " %s %ld (p50 %.2fms p90 %.2fms p99 %.2fms max %.2fms)",
                      outcome_name(k), r->outcomes[k], (double)hist_quantile(h, 0.5) / 1e6,
                      (double)hist_quantile(h, 0.9) / 1e6, (double)hist_quantile(h, 0.99) / 1e6,
                      (double)h->max / 1e6);
    }
    tap_comment("%s", line);
}

bool run_tap_item(const run_opts *o, const plan_item *item, const item_settings *st, const drv_result *r,
                  const char *unit, const char *repeat)
{
    bool all = true;
    char label[128];
    plan_label(item, st, label, sizeof label);
    latency_comment(label, st->nworkers, r);
    for (int k = 0; k < r->nverdicts; k++) {
        const drv_verdict *v = &r->verdicts[k];
        const char *name = drv_invariant_name(item->scenario, k);
        if (!v->failures) {
            tap_point(true, NULL, "%s: %s", label, name);
            continue;
        }
        all = false;
        json_t *d = json_object();
        char buf[2048], key[48];
        json_object_set_new(d, "scenario", json_string(item->scenario->name));
        json_object_set_new(d, "variant", json_string(item->variant->name));
        json_object_set_new(d, "plan", json_string(st->plan));
        json_object_set_new(d, "invariant", json_string(name));
        json_object_set_new(d, "iteration", json_integer(v->first_iteration));
        json_object_update(d, v->first_found);
        snprintf(buf, sizeof buf, "%ld of %ld", v->failures, r->iterations);
        snprintf(key, sizeof key, "failing_%s", unit);
        json_object_set_new(d, key, json_string(buf));
        json_object_set_new(d, "workers", json_integer(st->nworkers));
        if (st->retries)
            json_object_set_new(d, "retries", json_integer(st->retries));
        json_object_set_new(d, "seed", json_integer((json_int_t)o->seed));
        json_object_set_new(d, "repeat", json_string(repeat));
        /* The violation's own replay (the explorer's schedule), else the
         * iteration's. */
        if (!json_object_get(v->first_found, "replay")) {
            json_t *spec = json_object_get(v->first_found, "fault_spec");
            repro_replay_command(o, item, st, v->first_iteration, 1, spec ? json_string_value(spec) : NULL, buf,
                                 sizeof buf);
            json_object_set_new(d, "replay", json_string(buf));
        }
        tap_point(false, d, "%s: %s", label, name);
        json_decref(d);
    }
    return all;
}

/* What every iteration of a drive runs with: the item's fault spec
 * installed afresh (so that a rule's counts, "the first COMMIT", restart
 * with each iteration), the report fed, and the caller's own hooks. */
typedef struct drive_hooks {
    const drive_args *a;
} drive_hooks;

static int before_each(void *arg, long iteration, char *err, size_t errlen)
{
    const drive_args *a = ((drive_hooks *)arg)->a;
    if (a->settings->fault && faultctl_configure(a->settings->fault, err, errlen) < 0)
        return -1;
    return a->before ? a->before(a->hook_arg, iteration, err, errlen) : 0;
}

static void after_each(void *arg, long iteration, const call_record *calls, int ncalls, const int *verdicts)
{
    const drive_args *a = ((drive_hooks *)arg)->a;
    if (a->rep)
        report_iteration(a->rep, iteration, calls, ncalls, verdicts, faultctl_spec());
    if (a->after)
        a->after(a->hook_arg, iteration, calls, ncalls, verdicts);
}

int run_drive(const drive_args *a, drv_result *res, char *err, size_t errlen)
{
    const item_settings *st = a->settings;
    const plan_item *item = a->item;
    if (a->rep)
        report_item_begin(a->rep, item, st);
    if (target_reset_schema(a->target, item->scenario->schema_sql, err, errlen) < 0)
        return -1;
    const char *unpin = mutant_unpin_sql(item->scenario);
    if (unpin && pqx_ctl_exec(a->target->ctl, unpin, err, errlen) < 0)
        return -1;
    drive_hooks hooks = { a };
    drv_config cfg = {
        .conninfo = a->target->conninfo, .schema = a->target->schema, .appname = a->target->appname,
        .nworkers = st->nworkers, .iterations = a->iterations, .first_iteration = a->first_iteration,
        .iteration_step = a->iteration_step,
        .seed = a->seed, .retries = st->retries, .pauses = st->pauses, .call_timeout_ns = st->call_timeout_ns,
        .params = st->params, .control = a->control, .annotate = a->annotate, .annotate_arg = a->hook_arg,
    };
    if (st->fault || a->before) {
        cfg.before = before_each;
        cfg.before_arg = &hooks;
    }
    if (a->rep || a->after) {
        cfg.on_iteration = after_each;
        cfg.iteration_arg = &hooks;
    }
    int rc;
    if (st->sweep) {
        int positions = 0;
        rc = sweep_run(&cfg, item->scenario, item->variant, a->target->ctl, res, &positions, err, errlen);
        if (rc == 0)
            tap_comment("%s/%s: fault sweep over %d statement positions x 3 actions (error=40001, drop, "
                        "ambiguous), %d worker(s), %d retr%s", item->scenario->name, item->variant->name,
                        positions, st->nworkers, st->retries, st->retries == 1 ? "y" : "ies");
    } else {
        rc = drv_run(&cfg, item->scenario, item->variant, a->target->ctl, res, err, errlen);
    }
    char ignored[ERRLEN];
    faultctl_configure(NULL, ignored, sizeof ignored);
    return rc;
}

static int run_item(const run_opts *o, target *t, const plan_item *item, report *rep, bool *held, char *err,
                    size_t errlen)
{
    item_settings st;
    if (plan_settings(o, item, &st, err, errlen) < 0)
        return -1;
    drive_args a = { .target = t, .item = item, .settings = &st, .seed = o->seed,
                     .first_iteration = o->first_iteration, .iterations = o->iterations, .rep = rep };
    drv_result r;
    if (run_drive(&a, &r, err, errlen) < 0)
        return -1;
    char repeat[2048];
    repro_repeat_command(o, item, &st, repeat, sizeof repeat);
    *held = run_tap_item(o, item, &st, &r, "iterations", repeat);
    if (rep)
        report_item_end(rep, &r, repeat);
    drv_result_free(&r);
    return 0;
}

/* Whether any item needs the fault shim. Returns 1, 0, or -1 with a reason
 * (a plan that does not exist). */
static int needs_shim(const run_opts *o, const plan_item *items, int n, char *err, size_t errlen)
{
    int need = 0;
    for (int i = 0; i < n; i++) {
        item_settings st;
        if (plan_settings(o, &items[i], &st, err, errlen) < 0)
            return -1;
        need |= st.fault != NULL || st.sweep;
    }
    return need;
}

/* The command line as typed, words quoted where a shell would need it. */
static void command_line(const run_opts *o, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; o->argv && o->argv[i] && n < len; i++) {
        const char *a = o->argv[i];
        bool plain = *a && strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%")
                               == strlen(a);
        int w = snprintf(buf + n, len - n, plain ? "%s%s" : "%s'%s'", i ? " " : "", a);
        if (w < 0)
            break;
        n += (size_t)w;
    }
}

/* Writes the report files the options ask for. Returns 0 or -1 (reason on
 * stderr). */
static int write_reports(const run_opts *o, const report *rep)
{
    char err[ERRLEN];
    if ((o->junit && report_write_junit(rep, o->junit, err, sizeof err) < 0) ||
        (o->json && report_write_json(rep, o->json, err, sizeof err) < 0) ||
        (o->html && report_write_html(rep, o->html, err, sizeof err) < 0)) {
        fprintf(stderr, "pgrace: %s\n", err);
        return -1;
    }
    return 0;
}

int run_main(const run_opts *o)
{
    char err[ERRLEN];
    plan_item *items = NULL;
    int n = plan_build(o, &items, err, sizeof err);
    if (n < 0) {
        fprintf(stderr, "pgrace: %s\n", err);
        return EXIT_USAGE;
    }
    int shim = needs_shim(o, items, n, err, sizeof err);
    if (shim < 0) {
        fprintf(stderr, "pgrace: %s\n", err);
        free(items);
        return EXIT_USAGE;
    }
    /* Re-executes with the shim preloaded (PGFAULT empty: the rules are
     * installed per iteration), then checks --fault before any server
     * starts. */
    if (shim && faultctl_preload(o->argv, err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: %s\n", err);
        free(items);
        return EXIT_USAGE;
    }
    if (o->fault && faultctl_configure(o->fault, err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: bad --fault: %s\n", err);
        free(items);
        return EXIT_USAGE;
    }
    if (shim)
        faultctl_configure(NULL, err, sizeof err);
    target t;
    if (target_open(&t, o->dsn, err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: %s\n", err);
        free(items);
        return EXIT_USAGE;
    }
    int points = 0;
    for (int i = 0; i < n; i++)
        points += drv_ninvariants(items[i].scenario) * o->times;
    tap_begin(stdout);
    tap_plan(points);
    tap_comment("pgrace: seed %" PRIu64 ", server %d.%d%s%s", o->seed, t.server_version / 10000, t.server_version % 100,
                t.cluster ? " (embedded)" : "", o->fault ? ", with faults" : "");
    report *rep = NULL;
    if (o->junit || o->json || o->html) {
        char command[4096];
        command_line(o, command, sizeof command);
        report_meta meta = {
            .seed = o->seed, .command = command, .server_version = t.server_version, .embedded = t.cluster != NULL,
            .dsn = o->dsn, .iterations = o->iterations, .keep_iterations = 100000,
        };
        if (!(rep = report_new(&meta))) {
            fprintf(stderr, "pgrace: out of memory for the report\n");
            target_close(&t);
            free(items);
            return EXIT_USAGE;
        }
    }
    int status = EXIT_HELD, violated_runs = 0;
    for (int i = 0; i < n * o->times; i++) {
        bool held = true;
        if (run_item(o, &t, &items[i / o->times], rep, &held, err, sizeof err) < 0) {
            /* After a signal the failure is only the teardown under way. */
            if (cleanup_signal_seen())
                break;
            if (rep)
                report_item_error(rep, err);
            tap_bail("%s/%s: %s", items[i / o->times].scenario->name, items[i / o->times].variant->name, err);
            fprintf(stderr, "pgrace: %s\n", err);
            status = EXIT_USAGE;
            break;
        }
        if (!held) {
            status = EXIT_VIOLATED;
            violated_runs++;
        }
    }
    if (o->times > 1)
        tap_comment("%d of %d runs violated an invariant", violated_runs, n * o->times);
    target_close(&t);
    free(items);
    if (rep && !cleanup_signal_seen() && write_reports(o, rep) < 0)
        status = EXIT_USAGE;
    report_free(rep);
    return status;
}
