/*
 * replay.c — `pgrace replay REPORT.json`: rerun the first failing iteration
 * of a JSON report (from `run --json` or `soak --json`).
 *
 * The report's item carries everything the iteration ran with: scenario,
 * variant, workers, retries, pauses, params, seed, the iteration's number and the
 * fault spec installed for it. Replay turns that into a run of that one
 * iteration — the same number, so a workload that depends on it is the
 * same — repeated --times N times on a fresh schema each time; the verdicts
 * are TAP as for run, and the exit status is 1 when it reproduced.
 */
#include "modes/modes.h"
#include "scenarios/registry.h"

#include "lib/err.h"
#include "lib/parse.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first item of doc with a violation, or NULL. */
static json_t *failing_item(json_t *doc)
{
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(doc, "items"), i, item)
        if (json_is_object(json_object_get(item, "replay")))
            return item;
    return NULL;
}

/* Fills o from item; strings point into doc (alive as long as it is).
 * Returns 0 or -1 with a reason. */
static int opts_from(json_t *doc, json_t *item, run_opts *o, char *target, size_t tlen, char *err, size_t errlen)
{
    json_t *st = json_object_get(item, "settings"), *rp = json_object_get(item, "replay");
    const char *scenario = json_string_value(json_object_get(st, "scenario"));
    const char *variant = json_string_value(json_object_get(st, "variant"));
    json_t *workers = json_object_get(st, "workers"), *retries = json_object_get(st, "retries");
    json_t *iteration = json_object_get(rp, "iteration"), *seed = json_object_get(st, "seed");
    if (!scenario || !variant || !json_is_integer(workers) || !json_is_integer(retries) ||
        !json_is_integer(iteration) || !(json_is_integer(seed) || json_is_string(seed)) ||
        (json_is_string(seed) && parse_seed(json_string_value(seed), &o->seed) < 0)) {
        err_set(err, errlen, "the report's failing item lacks scenario, variant, workers, retries, seed or iteration");
        return -1;
    }
    snprintf(target, tlen, "%s/%s", scenario, variant);
    o->nworkers = (int)json_integer_value(workers);
    o->nworkers_given = true;
    o->retries = (int)json_integer_value(retries);
    o->retries_given = true;
    o->first_iteration = (long)json_integer_value(iteration);
    o->iterations = 1;
    if (json_is_integer(seed))
        o->seed = (uint64_t)json_integer_value(seed);
    o->seed_given = true;
    const char *spec = json_string_value(json_object_get(rp, "fault_spec"));
    o->fault = spec && *spec ? spec : NULL;
    o->params = json_string_value(json_object_get(st, "params"));
    const char *dsn = json_string_value(json_object_get(st, "dsn"));
    if (dsn && !o->dsn)
        o->dsn = dsn;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(st, "pauses"), i, p) {
        const char *name = json_string_value(json_object_get(p, "name"));
        json_t *ns = json_object_get(p, "ns");
        if (!name || !json_is_integer(ns) || o->pauses.n == DRV_MAX_PAUSES) {
            err_set(err, errlen, "the report's pause points are malformed");
            return -1;
        }
        snprintf(o->pauses.p[o->pauses.n].name, sizeof o->pauses.p[0].name, "%s", name);
        o->pauses.p[o->pauses.n++].ns = json_integer_value(ns);
    }
    (void)doc;
    return 0;
}

int replay_main(const replay_opts *ro)
{
    run_opts o = { .times = ro->times, .dsn = ro->dsn, .call_timeout_ns = ro->call_timeout_ns,
                   .argv0 = ro->argv0, .argv = ro->argv,
                   .registry = scenario_registry };
    json_error_t jerr;
    json_t *doc = json_load_file(ro->report, 0, &jerr);
    if (!doc) {
        fprintf(stderr, "pgrace: cannot read report %s: %s (line %d)\n", ro->report, jerr.text, jerr.line);
        return EXIT_USAGE;
    }
    json_t *item = failing_item(doc);
    if (!item) {
        fprintf(stderr, "pgrace: report %s has no failing iteration to replay\n", ro->report);
        json_decref(doc);
        return EXIT_USAGE;
    }
    char target[160], err[ERRLEN];
    char *targets[] = { target };
    if (opts_from(doc, item, &o, target, sizeof target, err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: %s: %s\n", ro->report, err);
        json_decref(doc);
        return EXIT_USAGE;
    }
    o.targets = targets;
    o.ntargets = 1;
    int status = run_main(&o);
    json_decref(doc);
    return status;
}
