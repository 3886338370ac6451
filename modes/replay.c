/*
 * replay.c — `pgrace replay REPORT.json`: rerun what a report's first
 * violated item says to rerun, whatever mode wrote it (run, soak, explore,
 * replay, spec).
 *
 * The item carries everything it ran with (settings) and what to rerun
 * (replay). A scenario's item: the iteration — its number, so a workload
 * that depends on it is the same — with its workers, retries, pauses,
 * params, the run's seed, and the fault rules or the explored schedule it
 * ran with; it is rerun as that one iteration (`run --from-iteration K -i
 * 1`, or `run --schedule TOKEN`), --times N times on a fresh schema each
 * time. A program's item (pgrace exec): the same, through `exec` with the
 * item's command, setup and checks. A spec's item: the permutation, rerun
 * alone (`spec FILE --permutation STEPS`) N times. The verdicts are TAP as for the mode, and
 * the exit status is 1 when it failed again.
 */
#include "modes/modes.h"
#include "scenarios/registry.h"

#include "lib/err.h"
#include "lib/parse.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first item of doc that was violated and says what to rerun, or
 * NULL. */
static json_t *failing_item(json_t *doc)
{
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(doc, "items"), i, item) {
        const char *verdict = json_string_value(json_object_get(item, "verdict"));
        if (verdict && strcmp(verdict, "violated") == 0 && json_is_object(json_object_get(item, "replay")))
            return item;
    }
    return NULL;
}

/* The run's seed from doc. Returns 0 or -1. */
static int seed_of(json_t *doc, uint64_t *seed)
{
    json_t *s = json_object_get(doc, "seed");
    if (json_is_integer(s)) {
        *seed = (uint64_t)json_integer_value(s);
        return 0;
    }
    return json_is_string(s) ? parse_seed(json_string_value(s), seed) : -1;
}

/* An integer member of a (replay) or, when null or absent there, of b
 * (settings). */
static json_t *int_of(json_t *a, json_t *b, const char *key)
{
    json_t *v = json_object_get(a, key);
    return json_is_integer(v) ? v : json_object_get(b, key);
}

/* The pooler the item ran through (settings "pooler"; null: none).
 * Returns 0 or -1 with a reason. */
static int pooler_of(json_t *settings, pooler_mode *mode, char *err, size_t errlen)
{
    const char *name = json_string_value(json_object_get(settings, "pooler"));
    *mode = POOLER_NONE;
    return name ? pooler_parse(name, mode, err, errlen) : 0;
}

/* Fills o from a scenario item; strings point into doc (alive as long as
 * it is). Returns 0 or -1 with a reason. */
static int scenario_opts(json_t *item, run_opts *o, char *target, size_t tlen, char *err, size_t errlen)
{
    json_t *st = json_object_get(item, "settings"), *rp = json_object_get(item, "replay");
    const char *scenario = json_string_value(json_object_get(st, "scenario"));
    const char *variant = json_string_value(json_object_get(st, "variant"));
    json_t *workers = int_of(rp, st, "workers"), *retries = int_of(rp, st, "retries");
    json_t *iteration = json_object_get(rp, "iteration"), *timeout = json_object_get(st, "call_timeout_ns");
    if (!scenario || !variant || !json_is_integer(workers) || !json_is_integer(retries) ||
        !json_is_integer(iteration)) {
        err_set(err, errlen, "the report's failing item lacks scenario, variant, workers, retries or iteration");
        return -1;
    }
    snprintf(target, tlen, "%s/%s", scenario, variant);
    o->nworkers = (int)json_integer_value(workers);
    o->nworkers_given = true;
    o->retries = (int)json_integer_value(retries);
    o->retries_given = true;
    o->first_iteration = (long)json_integer_value(iteration);
    o->iterations = 1;
    o->seed_given = true;
    const char *fault = json_string_value(json_object_get(rp, "fault"));
    o->fault = fault && *fault ? fault : NULL;
    o->schedule = json_string_value(json_object_get(rp, "schedule"));
    o->params = json_string_value(json_object_get(st, "params"));
    if (!o->call_timeout_ns && json_is_integer(timeout))
        o->call_timeout_ns = json_integer_value(timeout);
    const char *dsn = json_string_value(json_object_get(st, "dsn"));
    if (dsn && !o->dsn)
        o->dsn = dsn;
    if (pooler_of(st, &o->pooler, err, errlen) < 0 ||
        oracle_settings_read(json_object_get(st, "oracle"), &o->oracle, &o->oracle_opts, err, errlen) < 0)
        return -1;
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
    return 0;
}

static int replay_scenario(const replay_opts *ro, json_t *doc, json_t *item)
{
    run_opts o = { .times = ro->times, .dsn = ro->dsn, .call_timeout_ns = ro->call_timeout_ns, .mode = "replay",
                   .argv0 = ro->argv0, .argv = ro->argv, .registry = scenario_registry };
    char target[160], err[ERRLEN];
    char *targets[] = { target };
    if (seed_of(doc, &o.seed) < 0 || scenario_opts(item, &o, target, sizeof target, err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: %s: %s\n", ro->report, seed_of(doc, &o.seed) < 0 ? "the report has no seed" : err);
        return EXIT_USAGE;
    }
    o.targets = targets;
    o.ntargets = 1;
    return o.schedule ? explore_replay_main(&o) : run_main(&o);
}

/* A program's item (pgrace exec): its iteration (or schedule) alone, with
 * its command, setup, checks and workers, ro->times times. */
static int replay_exec(const replay_opts *ro, json_t *doc, json_t *item)
{
    json_t *st = json_object_get(item, "settings"), *rp = json_object_get(item, "replay");
    json_t *command = json_object_get(st, "command"), *checks = json_object_get(st, "checks");
    json_t *workers = json_object_get(rp, "workers"), *iteration = json_object_get(rp, "iteration");
    json_t *timeout = json_object_get(st, "call_timeout_ns");
    size_t n = json_array_size(command);
    exec_opts o = { .run = { .times = ro->times, .dsn = ro->dsn, .call_timeout_ns = ro->call_timeout_ns, .mode = "replay",
                             .iterations = 1, .iterations_given = true, .nworkers_given = true, .seed_given = true,
                             .argv0 = ro->argv0, .argv = ro->argv },
                    .setup = json_string_value(json_object_get(st, "setup")),
                    .fail_on_text = json_string_value(json_object_get(st, "fail_on")) };
    char **cmd = calloc(n + 1, sizeof *cmd);
    const char *why = !cmd ? "out of memory"
                      : n == 0 || !json_is_integer(workers) || !json_is_integer(iteration) || seed_of(doc, &o.run.seed) < 0
                          ? "the report's failing item lacks its command, workers, iteration or seed"
                          : json_array_size(checks) > EXEC_MAX_CHECKS ? "the report's item has too many checks"
                                                                      : NULL;
    for (size_t i = 0; !why && i < n; i++)
        if (!(cmd[i] = (char *)json_string_value(json_array_get(command, i))))
            why = "the report's command is malformed";
    for (size_t i = 0; !why && i < json_array_size(checks); i++) {
        json_t *c = json_array_get(checks, i);
        o.checks[i] = (exec_check){ .name = json_string_value(json_object_get(c, "name")),
                                    .file = json_string_value(json_object_get(c, "file")) };
        if (!o.checks[i].name || !o.checks[i].file)
            why = "the report's checks are malformed";
        o.nchecks++;
    }
    for (int v = 1; v < 256; v++)
        o.fail_on[v] = 1;
    if (!why && o.fail_on_text && parse_set(o.fail_on_text, 1, 255, o.fail_on) < 0)
        why = "the report's fail_on is malformed";
    if (why) {
        fprintf(stderr, "pgrace: %s: %s\n", ro->report, why);
        free(cmd);
        return EXIT_USAGE;
    }
    o.cmd = cmd;
    o.run.nworkers = (int)json_integer_value(workers);
    o.run.first_iteration = (long)json_integer_value(iteration);
    const char *fault = json_string_value(json_object_get(rp, "fault"));
    o.run.fault = fault && *fault ? fault : NULL;
    o.run.schedule = json_string_value(json_object_get(rp, "schedule"));
    if (!o.run.call_timeout_ns && json_is_integer(timeout))
        o.run.call_timeout_ns = json_integer_value(timeout);
    char err[ERRLEN];
    if (pooler_of(st, &o.run.pooler, err, sizeof err) < 0 ||
        oracle_settings_read(json_object_get(st, "oracle"), &o.run.oracle, &o.run.oracle_opts, err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: %s: %s\n", ro->report, err);
        free(cmd);
        return EXIT_USAGE;
    }
    const char *dsn = json_string_value(json_object_get(st, "dsn"));
    if (dsn && !o.run.dsn)
        o.run.dsn = dsn;
    int status = exec_main(&o);
    free(cmd);
    return status;
}

/* A spec item: its permutation alone, ro->times times in one run. */
static int replay_spec(const replay_opts *ro, json_t *doc, json_t *item)
{
    json_t *st = json_object_get(item, "settings"), *rp = json_object_get(item, "replay");
    const char *file = json_string_value(json_object_get(rp, "spec"));
    const char *permutation = json_string_value(json_object_get(rp, "permutation"));
    json_t *timeout = json_object_get(st, "call_timeout_ns");
    spec_opts o = { .dsn = ro->dsn, .fault = json_string_value(json_object_get(st, "fault")),
                    .timeout_ns = ro->call_timeout_ns ? ro->call_timeout_ns
                                  : json_is_integer(timeout) ? json_integer_value(timeout)
                                                             : SPEC_DEFAULT_TIMEOUT_S * 1000000000LL,
                    .bound = -1, .permutation = permutation, .argv = ro->argv };
    char *files[] = { (char *)file }, err[ERRLEN];
    if (!file || !permutation || seed_of(doc, &o.seed) < 0) {
        fprintf(stderr, "pgrace: %s: the report's failing item lacks its spec, permutation or seed\n", ro->report);
        return EXIT_USAGE;
    }
    if (pooler_of(st, &o.pooler, err, sizeof err) < 0 ||
        oracle_settings_read(json_object_get(st, "oracle"), &o.oracle, &o.oracle_opts, err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: %s: %s\n", ro->report, err);
        return EXIT_USAGE;
    }
    o.files = files;
    o.nfiles = 1;
    o.times = ro->times;
    return spec_main(&o);
}

int replay_main(const replay_opts *ro)
{
    json_error_t jerr;
    json_t *doc = json_load_file(ro->report, 0, &jerr);
    if (!doc) {
        fprintf(stderr, "pgrace: cannot read report %s: %s (line %d)\n", ro->report, jerr.text, jerr.line);
        return EXIT_USAGE;
    }
    json_t *item = failing_item(doc);
    const char *kind = json_string_value(json_object_get(item, "kind"));
    int status;
    if (!item) {
        fprintf(stderr, "pgrace: report %s has no violated item to replay\n", ro->report);
        status = EXIT_USAGE;
    } else if (kind && strcmp(kind, "spec") == 0) {
        status = replay_spec(ro, doc, item);
    } else if (kind && strcmp(kind, "scenario") == 0) {
        status = replay_scenario(ro, doc, item);
    } else if (kind && strcmp(kind, "exec") == 0) {
        status = replay_exec(ro, doc, item);
    } else {
        fprintf(stderr, "pgrace: report %s: an item of unknown kind '%s'\n", ro->report, kind ? kind : "");
        status = EXIT_USAGE;
    }
    json_decref(doc);
    return status;
}
