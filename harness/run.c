/* run.c — the `run` command: plan, target, driver, TAP (see run.h). */
#include "harness/run.h"

#include "harness/faultctl.h"
#include "harness/target.h"
#include "lib/cleanup.h"
#include "lib/err.h"
#include "lib/tap.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void run_repeat_command(const run_opts *o, const plan_item *item, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s run %s/%s -n %d -i %ld --seed %" PRIu64, o->argv0, item->scenario->name,
                     item->variant->name, o->nworkers, o->iterations, o->seed);
    for (int i = 0; i < o->pauses.n && n > 0 && (size_t)n < len; i++)
        n += snprintf(buf + n, len - (size_t)n, " --pause %s=%" PRId64 "us", o->pauses.p[i].name,
                      o->pauses.p[i].ns / 1000);
    if (o->retries && n > 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, " --retries %d", o->retries);
    if (o->fault && n > 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, " --fault '%s'", o->fault);
    if (o->dsn && n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, " --dsn '%s'", o->dsn);
}

static void latency_comment(const char *label, const drv_result *r)
{
    char line[512];
    int n = snprintf(line, sizeof line, "%s: %ld iterations in %.2fs (%.1f/s); calls", label, r->iterations,
                     r->seconds, r->seconds > 0 ? (double)r->iterations / r->seconds : 0.0);
    for (int k = 0; k < 4; k++) {
        const hist *h = &r->latency[k];
        if (!h->count || n < 0 || (size_t)n >= sizeof line)
            continue;
        n += snprintf(line + n, sizeof line - (size_t)n, " %s %ld (p50 %.2fms p99 %.2fms max %.2fms)",
                      outcome_name(k), r->outcomes[k], (double)hist_quantile(h, 0.5) / 1e6,
                      (double)hist_quantile(h, 0.99) / 1e6, (double)h->max / 1e6);
    }
    tap_comment("%s", line);
}

/* Emits one test point per invariant of item; returns true if all held. */
static bool report(const run_opts *o, const plan_item *item, const drv_result *r)
{
    bool all = true;
    char label[128];
    snprintf(label, sizeof label, "%s/%s", item->scenario->name, item->variant->name);
    latency_comment(label, r);
    for (int k = 0; k < r->nverdicts; k++) {
        const drv_verdict *v = &r->verdicts[k];
        const char *name = item->scenario->invariants[k].name;
        if (!v->failures) {
            tap_point(true, NULL, "%s: %s", label, name);
            continue;
        }
        all = false;
        json_t *d = json_object();
        char buf[2048];
        json_object_set_new(d, "scenario", json_string(item->scenario->name));
        json_object_set_new(d, "variant", json_string(item->variant->name));
        json_object_set_new(d, "invariant", json_string(name));
        json_object_set_new(d, "iteration", json_integer(v->first_iteration));
        json_object_update(d, v->first_found);
        snprintf(buf, sizeof buf, "%ld of %ld", v->failures, r->iterations);
        json_object_set_new(d, "failing_iterations", json_string(buf));
        json_object_set_new(d, "workers", json_integer(o->nworkers));
        json_object_set_new(d, "seed", json_integer((json_int_t)o->seed));
        run_repeat_command(o, item, buf, sizeof buf);
        json_object_set_new(d, "repeat", json_string(buf));
        tap_point(false, d, "%s: %s", label, name);
        json_decref(d);
    }
    return all;
}

static int run_item(const run_opts *o, target *t, const plan_item *item, bool *held, char *err, size_t errlen)
{
    if (target_reset_schema(t, item->scenario->schema_sql, err, errlen) < 0)
        return -1;
    drv_config cfg = {
        .conninfo = t->conninfo, .schema = t->schema, .appname = t->appname,
        .nworkers = o->nworkers, .iterations = o->iterations, .seed = o->seed,
        .retries = o->retries, .pauses = o->pauses,
    };
    drv_result r;
    if (drv_run(&cfg, item->scenario, item->variant, t->ctl, &r, err, errlen) < 0)
        return -1;
    *held = report(o, item, &r);
    drv_result_free(&r);
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
    if (faultctl_configure(o->fault, err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: bad --fault: %s\n", err);
        free(items);
        return EXIT_USAGE;
    }
    target t;
    if (target_open(&t, o->dsn, err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: %s\n", err);
        free(items);
        return EXIT_USAGE;
    }
    int points = 0;
    for (int i = 0; i < n; i++)
        points += items[i].scenario->ninvariants;
    tap_begin(stdout);
    tap_plan(points);
    tap_comment("pgrace: %d workers x %ld iterations, seed %" PRIu64 ", server %d.%d%s%s", o->nworkers,
                o->iterations, o->seed, t.server_version / 10000, t.server_version % 100,
                t.cluster ? " (embedded)" : "", o->fault ? ", with faults" : "");
    int status = EXIT_HELD;
    for (int i = 0; i < n; i++) {
        bool held = true;
        if (run_item(o, &t, &items[i], &held, err, sizeof err) < 0) {
            /* After a signal the failure is only the teardown under way. */
            if (cleanup_signal_seen())
                break;
            tap_bail("%s/%s: %s", items[i].scenario->name, items[i].variant->name, err);
            fprintf(stderr, "pgrace: %s\n", err);
            status = EXIT_USAGE;
            break;
        }
        if (!held)
            status = EXIT_VIOLATED;
    }
    target_close(&t);
    free(items);
    return status;
}
