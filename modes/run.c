/* run.c — the `run` command: plan, target, driver, TAP (modes.h). */
#include "modes/modes.h"

#include "engine/drive.h"
#include "engine/repro.h"
#include "engine/session.h"
#include "engine/target.h"
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
