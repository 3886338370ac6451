/* run.c — the `run` command: plan, target, driver, TAP (see run.h). */
#include "harness/run.h"

#include "harness/faultctl.h"
#include "harness/mutant.h"
#include "harness/repro.h"
#include "harness/session.h"
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
    bool violated;              /* an iteration so far violated an invariant */
} drive_hooks;

static int before_each(void *arg, long iteration, char *err, size_t errlen)
{
    const drive_hooks *h = arg;
    const drive_args *a = h->a;
    if (a->failfast && h->violated)
        return 1;
    if (a->settings->fault && faultctl_configure(a->settings->fault, err, errlen) < 0)
        return -1;
    return a->before ? a->before(a->hook_arg, iteration, err, errlen) : 0;
}

static void after_each(void *arg, long iteration, const call_record *calls, int ncalls, const int *verdicts)
{
    drive_hooks *h = arg;
    const drive_args *a = h->a;
    for (int k = 0; k < drv_ninvariants(a->item->scenario); k++)
        h->violated |= verdicts[k] == 0 && (a->failfast_on < 0 || a->failfast_on == k);
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
    drive_hooks hooks = { .a = a };
    drv_config cfg = {
        .conninfo = a->target->conninfo, .schema = a->target->schema, .appname = a->target->appname,
        .nworkers = st->nworkers, .iterations = a->iterations, .first_iteration = a->first_iteration,
        .iteration_step = a->iteration_step,
        .seed = a->seed, .retries = st->retries, .pauses = st->pauses, .call_timeout_ns = st->call_timeout_ns,
        .params = st->params, .control = a->control, .annotate = a->annotate, .annotate_arg = a->hook_arg,
    };
    if (st->fault || a->before || a->failfast) {
        cfg.before = before_each;
        cfg.before_arg = &hooks;
    }
    if (a->rep || a->after || a->failfast) {
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
    int stop_on = st.failfast_on;
    drive_args a = { .target = t, .item = item, .settings = &st, .seed = o->seed,
                     .first_iteration = o->first_iteration, .iterations = o->iterations, .rep = rep,
                     .failfast = o->failfast, .failfast_on = stop_on };
    drv_result r;
    if (run_drive(&a, &r, err, errlen) < 0)
        return -1;
    long first_bad = -1;
    for (int k = 0; k < r.nverdicts; k++)
        if (r.verdicts[k].failures && (stop_on < 0 || stop_on == k) &&
            (first_bad < 0 || r.verdicts[k].first_iteration < first_bad))
            first_bad = r.verdicts[k].first_iteration;
    if (o->failfast && first_bad >= 0)
        tap_comment("%s/%s: --failfast: stopped at iteration %ld, the first that violated %s", item->scenario->name,
                    item->variant->name, first_bad, o->failfast_on ? o->failfast_on : "an invariant");
    char repeat[2048];
    repro_repeat_command(o, item, &st, repeat, sizeof repeat);
    *held = run_tap_item(o, item, &st, &r, "iterations", repeat);
    if (rep)
        report_item_end(rep, &r, repeat);
    drv_result_free(&r);
    return 0;
}

int run_main(const run_opts *o)
{
    session s;
    if (session_open(o, SESSION_SHIM_IF_NEEDED, NULL, &s) < 0)
        return EXIT_USAGE;
    session_header(o, &s, o->times);
    int status = EXIT_HELD, violated_runs = 0;
    for (int i = 0; i < s.n * o->times; i++) {
        const plan_item *item = &s.items[i / o->times];
        bool held = true;
        char err[ERRLEN];
        if (run_item(o, &s.t, item, s.rep, &held, err, sizeof err) < 0) {
            /* After a signal the failure is only the teardown under way. */
            if (cleanup_signal_seen())
                break;
            if (s.rep)
                report_item_error(s.rep, err);
            tap_bail("%s/%s: %s", item->scenario->name, item->variant->name, err);
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
        tap_comment("%d of %d runs violated an invariant", violated_runs, s.n * o->times);
    return session_close(o, &s, status);
}
