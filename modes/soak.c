/*
 * soak.c — `pgrace soak`: hours of randomized concurrency and faults.
 *
 * Rounds cycle through the scenarios and variants named (every fixed form
 * by default). Each round draws, from (seed, round), a number of workers,
 * retries and fault rules, up to three (modes/soakplan.c), and
 * runs a few iterations with them. The soak stops at the first violation
 * (or goes on with --keep-going), then shrinks the failing round — fewer
 * rules, delays first, one fault instead of many, fewer workers, no
 * retries — keeping each smaller round that still fails, and prints the
 * smallest as a `pgrace run` command that replays it.
 *
 * The record (reports/report.h) has an item per pair, each round's
 * iterations in it with the workers, retries and fault rules they ran
 * with, a point per invariant at the end (how many rounds violated it),
 * and the minimal failing round as what `pgrace replay` reruns. Memory
 * stays flat: a round's driver state is freed when the round ends, and
 * the record keeps every iteration only up to a cap (then violating ones,
 * up to the cap again). SIGINT stops the soak at the end of the current
 * round, with the reports so far written; a second SIGINT stops it at once.
 */
#include "sched/pct_rounds.h"
#include "sched/sched.h"
#include "modes/modes.h"
#include "engine/faultctl.h"
#include "engine/repro.h"
#include "modes/soakplan.h"
#include "engine/target.h"
#include "lib/cleanup.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/shell.h"
#include "engine/record.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHRINK_TRIES 3          /* runs of a candidate before it is judged not failing */
#define SHRINK_BUDGET 60        /* candidates tried in all */
#define KEEP_ITERATIONS 1000    /* per pair: kept with their calls, then only violating ones */


/* Per (scenario, variant): what every round of it came to. */
typedef struct pair_tally {
    long iterations, rounds;
    long *failures;             /* per invariant */
    json_t **found;             /* per invariant: the first violation's diagnostics */
} pair_tally;

typedef struct soak {
    const soak_opts *o;
    target t;
    plan_item *items;
    int nitems;
    pair_tally *tally;
    report *rep;                /* the record: an item per pair */
    rep_item **ritems;          /* ... the items */
    long iterations, violations;
    int64_t started, last_progress;
    bool tty;
    atomic_int stop;
    pct_rounds *pct;            /* with --strategy pct */
} soak;

/* The settings of round k of pair p (its fault rules written into rules). */
static void round_settings(const soak *s, const soak_round *r, item_settings *st, char *rules, size_t len)
{
    soak_rules(r, rules, len);
    *st = (item_settings){ .plan = "soak", .fault = rules[0] ? rules : NULL, .retries = r->retries,
                           .nworkers = r->nworkers, .pauses = s->o->run.pauses,
                           .call_timeout_ns = s->o->run.call_timeout_ns };
}

/* Runs one round of item with r over iterations first..; *violated says
 * whether an invariant failed. With record, the round's iterations go into
 * the pair's item (and its first violating iteration becomes what replay
 * reruns when replay_it). With tally, verdicts are added to it. Returns 0
 * or -1 (err). */
static int run_round(soak *s, int pair, const soak_round *r, long first, long iterations, bool record,
                     pair_tally *tally, bool *violated, char *err, size_t errlen)
{
    char rules[SOAK_MAX_RULES * SOAK_RULE_LEN + 8];
    item_settings st;
    round_settings(s, r, &st, rules, sizeof rules);
    drive_args a = { .target = &s->t, .item = &s->items[pair], .settings = &st, .seed = s->o->run.seed,
                     .first_iteration = first, .iterations = iterations, .rep = record ? s->rep : NULL,
                     .ritem = s->ritems[pair] };
    if (s->pct)
        pct_rounds_attach(s->pct, &a);
    drv_result res;
    if (run_drive(&a, &res, err, errlen) < 0)
        return -1;
    *violated = false;
    for (int k = 0; k < res.nverdicts; k++) {
        if (!res.verdicts[k].failures)
            continue;
        *violated = true;
        if (tally && tally->failures[k]++ == 0 && res.verdicts[k].first_found) {
            tally->found[k] = json_deep_copy(res.verdicts[k].first_found);
            json_object_set_new(tally->found[k], "iteration", json_integer(res.verdicts[k].first_iteration));
            json_object_set_new(tally->found[k], "workers", json_integer(r->nworkers));
            json_object_set_new(tally->found[k], "retries", json_integer(r->retries));
        }
    }
    if (tally) {
        tally->iterations += res.iterations;
        tally->rounds++;
    }
    if (record)
        report_item_add(s->rep, s->ritems[pair], res.iterations, res.outcomes, res.latency, res.seconds);
    s->iterations += res.iterations;
    drv_result_free(&res);
    return 0;
}

static void progress(soak *s, bool final)
{
    int64_t now = clock_now_ns();
    int64_t every = s->tty ? 500000000LL : 5000000000LL;
    if (!final && now - s->last_progress < every)
        return;
    s->last_progress = now;
    double el = (double)(now - s->started) / 1e9;
    char eta[32] = "";
    if (s->o->duration_ns) {
        double left = (double)s->o->duration_ns / 1e9 - el;
        snprintf(eta, sizeof eta, " ETA %ldm%02lds", (long)(left > 0 ? left : 0) / 60, (long)(left > 0 ? left : 0) % 60);
    } else if (s->o->max_iterations && s->iterations) {
        double left = el * (double)(s->o->max_iterations - s->iterations) / (double)s->iterations;
        snprintf(eta, sizeof eta, " ETA %ldm%02lds", (long)left / 60, (long)left % 60);
    }
    fprintf(stderr, "%spgrace soak: %ldm%02lds, %ld iterations (%.1f/s), %lu faults injected, %ld violations%s%s",
            s->tty ? "\r\033[K" : "", (long)el / 60, (long)el % 60, s->iterations, el > 0 ? (double)s->iterations / el : 0,
            faultctl_fired(), s->violations, eta, s->tty && !final ? "" : "\n");
    fflush(stderr);
}

/* Shrinks round *r of pair (first failing at iteration first): keeps each
 * smaller candidate that fails in one of SHRINK_TRIES runs. */
static int shrink(soak *s, int pair, soak_round *r, long first, long iterations, char *err, size_t errlen)
{
    int budget = SHRINK_BUDGET;
    bool smaller = true;
    while (smaller && budget > 0 && !atomic_load(&s->stop)) {
        smaller = false;
        soak_round cand[16];
        int n = soak_shrink(r, cand, 16);
        for (int c = 0; c < n && budget > 0 && !smaller && !atomic_load(&s->stop); c++, budget--) {
            for (int t = 0; t < SHRINK_TRIES; t++) {
                bool violated;
                if (run_round(s, pair, &cand[c], first, iterations, false, NULL, &violated, err, errlen) < 0)
                    return -1;
                if (violated) {
                    *r = cand[c];
                    smaller = true;
                    break;
                }
            }
        }
    }
    return 0;
}

/* One point per invariant of each pair, each item ended. Returns whether
 * all held. */
static bool emit_points(const soak *s)
{
    bool all = true;
    for (int p = 0; p < s->nitems; p++) {
        const plan_item *it = &s->items[p];
        const pair_tally *t = &s->tally[p];
        report_item_current(s->rep, s->ritems[p]);
        report_note(s->rep, "%s/%s [soak]: %ld iterations in %ld rounds", it->scenario->name, it->variant->name,
                    t->iterations, t->rounds);
        for (int k = 0; k < drv_ninvariants(it->scenario); k++) {
            rep_point_in pt = { .name = drv_invariant_name(it->scenario, k), .id = drv_invariant_id(it->scenario, k),
                                .verdict = REP_OK, .runs = t->rounds, .unit = "rounds", .first_iteration = -1 };
            json_t *d = NULL;
            if (t->failures[k]) {
                all = false;
                d = json_object();
                json_object_set_new(d, "scenario", json_string(it->scenario->name));
                json_object_set_new(d, "variant", json_string(it->variant->name));
                json_object_set_new(d, "invariant", json_string(drv_invariant_name(it->scenario, k)));
                json_object_update(d, t->found[k]);
                char buf[64];
                snprintf(buf, sizeof buf, "%ld of %ld rounds", t->failures[k], t->rounds);
                json_object_set_new(d, "failing_rounds", json_string(buf));
                json_object_set_new(d, "seed", json_integer((json_int_t)s->o->run.seed));
                pt.verdict = REP_VIOLATED;
                pt.failures = t->failures[k];
                pt.first_iteration = json_integer_value(json_object_get(t->found[k], "iteration"));
                pt.diagnostics = d;
            }
            report_point(s->rep, s->ritems[p], &pt);
            json_decref(d);
        }
        report_item_end(s->rep, s->ritems[p], NULL, NULL);
    }
    return all;
}

static int soak_loop(soak *s, char *err, size_t errlen)
{
    const soak_opts *o = s->o;
    long next_iteration = 1;
    int64_t deadline = o->duration_ns ? s->started + o->duration_ns : 0;
    for (long k = 0;; k++) {
        if (atomic_load(&s->stop) || (deadline && clock_now_ns() >= deadline) ||
            (o->max_iterations && s->iterations >= o->max_iterations))
            return 0;
        int pair = (int)(k % s->nitems);
        soak_round r;
        soak_draw(&r, o->run.seed, k, o->max_workers, s->items[pair].scenario->conns_per_worker);
        long first = next_iteration;
        next_iteration += o->round_iterations;
        bool violated;
        if (run_round(s, pair, &r, first, o->round_iterations, true, &s->tally[pair], &violated, err, errlen) < 0)
            return -1;
        progress(s, false);
        if (!violated)
            continue;
        s->violations++;
        if (o->keep_going)
            continue;
        progress(s, true);
        char rules[SOAK_MAX_RULES * SOAK_RULE_LEN + 8];
        soak_rules(&r, rules, sizeof rules);
        fprintf(stderr, "pgrace soak: round %ld violated an invariant (%s/%s, %d workers, %d retries, fault '%s'); "
                        "shrinking\n", k, s->items[pair].scenario->name, s->items[pair].variant->name, r.nworkers,
                r.retries, rules);
        if (shrink(s, pair, &r, first, o->round_iterations, err, errlen) < 0)
            return -1;
        item_settings st;
        round_settings(s, &r, &st, rules, sizeof rules);
        char replay[2048];
        repro_replay_command(&o->run, &s->items[pair], &st, first, o->round_iterations, rules, replay, sizeof replay);
        report_item_current(s->rep, s->ritems[pair]);
        report_note(s->rep, "minimal failing case: %d workers, %d retries, fault '%s'", r.nworkers, r.retries, rules);
        report_note(s->rep, "replay: %s", replay);
        /* The minimal case goes into the record too, and is what replay
         * reruns (when it failed once more here). */
        json_t *replay_obj = json_pack("{s:I,s:s,s:n,s:i,s:i}", "iteration", (json_int_t)first, "fault", rules,
                                       "schedule", "workers", r.nworkers, "retries", r.retries);
        report_item_replay(s->rep, s->ritems[pair], replay_obj, true);
        json_decref(replay_obj);
        bool again;
        if (run_round(s, pair, &r, first, o->round_iterations, true, NULL, &again, err, errlen) < 0)
            return -1;
        return 0;
    }
}

/* Allocates a tally per pair. Returns 0 or -1 (out of memory; what was
 * allocated is freed by tally_free). */
static int tally_new(soak *s)
{
    s->tally = calloc((size_t)s->nitems, sizeof *s->tally);
    for (int p = 0; s->tally && p < s->nitems; p++) {
        int n = drv_ninvariants(s->items[p].scenario);
        s->tally[p].failures = calloc((size_t)n, sizeof *s->tally[p].failures);
        s->tally[p].found = calloc((size_t)n, sizeof *s->tally[p].found);
        if (!s->tally[p].failures || !s->tally[p].found)
            return -1;
    }
    return s->tally ? 0 : -1;
}

static void tally_free(soak *s)
{
    for (int p = 0; s->tally && p < s->nitems; p++) {
        for (int k = 0; s->tally[p].found && k < drv_ninvariants(s->items[p].scenario); k++)
            json_decref(s->tally[p].found[k]);
        free(s->tally[p].failures);
        free(s->tally[p].found);
    }
    free(s->tally);
    s->tally = NULL;
}

/* The record, with an item per pair, its plan and its header note.
 * Returns 0 or -1 (out of memory). */
static int open_record(soak *s)
{
    const soak_opts *o = s->o;
    char line[4096];
    shell_command_line(o->run.argv, line, sizeof line);
    report_meta meta = { .mode = "soak", .seed = o->run.seed, .command = line, .server_version = s->t.server_version,
                         .embedded = s->t.cluster != NULL, .dsn = o->run.dsn, .keep_iterations = KEEP_ITERATIONS,
                         .tap = stdout };
    if (!(s->rep = report_new(&meta)) || !(s->ritems = calloc((size_t)s->nitems, sizeof *s->ritems)))
        return -1;
    int points = 0;
    for (int p = 0; p < s->nitems; p++)
        points += drv_ninvariants(s->items[p].scenario);
    report_plan(s->rep, points);
    report_note(s->rep, "pgrace soak: seed %" PRIu64 ", up to %d workers, %ld iterations a round, server %d.%d%s%s%s",
                o->run.seed, o->max_workers, o->round_iterations, s->t.server_version / 10000,
                s->t.server_version % 100, s->t.cluster ? " (embedded)" : "",
                o->run.pooler ? ", workers through " : "", pooler_name(o->run.pooler));
    for (int p = 0; p < s->nitems; p++) {
        item_settings st = { .plan = "soak", .nworkers = o->max_workers, .pauses = o->run.pauses,
                             .call_timeout_ns = o->run.call_timeout_ns };
        if (!(s->ritems[p] = record_item_begin(s->rep, &o->run, &s->items[p], &st)))
            return -1;
    }
    return 0;
}

int soak_main(const soak_opts *o)
{
    char err[ERRLEN];
    soak s = { .o = o, .tty = isatty(2) };
    s.nitems = plan_build(&o->run, &s.items, err, sizeof err);
    if (s.nitems < 0) {
        fprintf(stderr, "pgrace: %s\n", err);
        return EXIT_USAGE;
    }
    if (faultctl_preload(o->run.argv, err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: %s\n", err);
        free(s.items);
        return EXIT_USAGE;
    }
    bool oom = tally_new(&s) < 0;
    if (oom)
        err_set(err, sizeof err, "out of memory");
    target_opts to = { .dsn = o->run.dsn, .pooler = o->run.pooler };
    if (oom || target_open(&s.t, &to, err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: %s\n", err);
        tally_free(&s);
        free(s.items);
        return EXIT_USAGE;
    }
    if (o->pct && !(s.pct = pct_rounds_new(s.t.ctl, s.t.pooler != NULL, o->max_workers, o->depth, o->run.seed,
                                             o->run.call_timeout_ns ? o->run.call_timeout_ns
                                                                   : DRV_DEFAULT_CALL_TIMEOUT_NS,
                                             err, sizeof err))) {
        fprintf(stderr, "pgrace: %s\n", err);
        target_close(&s.t);
        tally_free(&s);
        free(s.items);
        return EXIT_USAGE;
    }
    if (open_record(&s) < 0) {
        fprintf(stderr, "pgrace: out of memory for the report\n");
        pct_rounds_free(s.pct);
        target_close(&s.t);
        tally_free(&s);
        free(s.items);
        return EXIT_USAGE;
    }
    cleanup_graceful(&s.stop);
    s.started = s.last_progress = clock_now_ns();
    int status = EXIT_HELD;
    if (soak_loop(&s, err, sizeof err) < 0) {
        if (cleanup_signal_seen())
            return EXIT_USAGE;    /* never reached: the signal thread exits */
        report_bail(s.rep, "soak: %s", err);
        fprintf(stderr, "pgrace: %s\n", err);
        status = EXIT_USAGE;
    }
    progress(&s, true);
    cleanup_graceful(NULL);
    if (s.pct)
        report_note(s.rep, "pgrace soak: %ld iterations under pct (depth %d, k = %d choice points at most)",
                    pct_rounds_count(s.pct), o->depth, pct_rounds_k(s.pct));
    pct_rounds_free(s.pct);
    if (status != EXIT_USAGE && !emit_points(&s))
        status = EXIT_VIOLATED;
    target_close(&s.t);
    if (report_write_files(s.rep, o->run.junit, o->run.json, o->run.html, err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: %s\n", err);
        status = EXIT_USAGE;
    }
    int sig = atomic_load(&s.stop);
    if (sig) {
        fprintf(stderr, "pgrace: soak interrupted by SIG%s; reports written, cleaned up\n", sigabbrev_np(sig));
        status = 128 + sig;
    }
    report_free(s.rep);
    free(s.ritems);
    tally_free(&s);
    free(s.items);
    return status;
}
