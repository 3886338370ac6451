/*
 * soak.c — `pgrace soak`: hours of randomized concurrency and faults.
 *
 * Rounds cycle through the scenarios and variants named (every fixed form
 * by default). Each round draws, from (seed, round), a number of workers,
 * retries and a fault spec of up to three rules (harness/soakplan.c), and
 * runs a few iterations with them. The soak stops at the first violation
 * (or goes on with --keep-going), then shrinks the failing round — fewer
 * rules, delays first, one fault instead of many, fewer workers, no
 * retries — keeping each smaller round that still fails, and prints the
 * smallest as a `pgrace run` command that replays it.
 *
 * Memory stays flat: a round's driver state and report record are freed
 * when the round ends; only the record of the first violating round (or of
 * the last round, while none violated) is kept for --junit/--json/--html.
 * SIGINT stops the soak at the end of the current round, with the reports
 * so far written; a second SIGINT stops it at once.
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
#include "lib/tap.h"
#include "reports/report.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHRINK_TRIES 3          /* runs of a candidate before it is judged not failing */
#define SHRINK_BUDGET 60        /* candidates tried in all */


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
    report *kept;               /* the first violating round's record, or the last round's */
    bool kept_violating;
    long iterations, violations;
    int64_t started, last_progress;
    bool tty;
    atomic_int stop;
    pct_rounds *pct;            /* with --strategy pct */
} soak;

/* The settings of round k of pair p (spec written into spec). */
static void round_settings(const soak *s, const soak_round *r, item_settings *st, char *spec, size_t len)
{
    soak_spec(r, spec, len);
    *st = (item_settings){ .plan = "soak", .fault = spec[0] ? spec : NULL, .retries = r->retries,
                           .nworkers = r->nworkers, .pauses = s->o->run.pauses,
                           .call_timeout_ns = s->o->run.call_timeout_ns };
}

static report *new_report(const soak *s)
{
    const run_opts *o = &s->o->run;
    if (!o->junit && !o->json && !o->html)
        return NULL;
    report_meta meta = { .seed = o->seed, .command = "pgrace soak", .server_version = s->t.server_version,
                         .embedded = s->t.cluster != NULL, .dsn = o->dsn, .iterations = s->o->round_iterations,
                         .keep_iterations = s->o->round_iterations };
    return report_new(&meta);
}

/* Runs one round of item with r over iterations first..; *violated says
 * whether an invariant failed. With rep, the round is recorded there. With
 * tally, verdicts are added to it. Returns 0 or -1 (err). */
static int run_round(soak *s, int pair, const soak_round *r, long first, long iterations, report *rep,
                     pair_tally *tally, bool *violated, char *err, size_t errlen)
{
    char spec[SOAK_MAX_RULES * SOAK_RULE_LEN + 8];
    item_settings st;
    round_settings(s, r, &st, spec, sizeof spec);
    drive_args a = { .target = &s->t, .item = &s->items[pair], .settings = &st, .seed = s->o->run.seed,
                     .first_iteration = first, .iterations = iterations, .rep = rep };
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
    if (rep) {
        char replay[2048];
        repro_replay_command(&s->o->run, a.item, &st, first, iterations, spec, replay, sizeof replay);
        report_item_end(rep, &res, replay);
    }
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
                if (run_round(s, pair, &cand[c], first, iterations, NULL, NULL, &violated, err, errlen) < 0)
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

static void keep_report(soak *s, report *rep, bool violating)
{
    if (!rep)
        return;
    if (s->kept_violating) {           /* the first violation's record stays */
        report_free(rep);
        return;
    }
    report_free(s->kept);
    s->kept = rep;
    s->kept_violating = violating;
}

static int write_reports(const soak *s)
{
    const run_opts *o = &s->o->run;
    char err[ERRLEN];
    if (!s->kept)
        return 0;
    if ((o->junit && report_write_junit(s->kept, o->junit, err, sizeof err) < 0) ||
        (o->json && report_write_json(s->kept, o->json, err, sizeof err) < 0) ||
        (o->html && report_write_html(s->kept, o->html, err, sizeof err) < 0)) {
        fprintf(stderr, "pgrace: %s\n", err);
        return -1;
    }
    return 0;
}

/* One TAP point per invariant of each pair. Returns whether all held. */
static bool emit_tap(const soak *s)
{
    bool all = true;
    for (int p = 0; p < s->nitems; p++) {
        const plan_item *it = &s->items[p];
        const pair_tally *t = &s->tally[p];
        for (int k = 0; k < drv_ninvariants(it->scenario); k++) {
            if (!t->failures[k]) {
                tap_point(true, NULL, "%s/%s [soak]: %s (%ld iterations, %ld rounds)", it->scenario->name,
                          it->variant->name, drv_invariant_name(it->scenario, k), t->iterations, t->rounds);
                continue;
            }
            all = false;
            json_t *d = json_object();
            json_object_set_new(d, "scenario", json_string(it->scenario->name));
            json_object_set_new(d, "variant", json_string(it->variant->name));
            json_object_set_new(d, "invariant", json_string(drv_invariant_name(it->scenario, k)));
            json_object_update(d, t->found[k]);
            char buf[64];
            snprintf(buf, sizeof buf, "%ld of %ld rounds", t->failures[k], t->rounds);
            json_object_set_new(d, "failing_rounds", json_string(buf));
            json_object_set_new(d, "seed", json_integer((json_int_t)s->o->run.seed));
            tap_point(false, d, "%s/%s [soak]: %s", it->scenario->name, it->variant->name,
                      drv_invariant_name(it->scenario, k));
            json_decref(d);
        }
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
        report *rep = new_report(s);
        bool violated;
        if (run_round(s, pair, &r, first, o->round_iterations, rep, &s->tally[pair], &violated, err, errlen) < 0) {
            report_free(rep);
            return -1;
        }
        keep_report(s, rep, violated);
        progress(s, false);
        if (!violated)
            continue;
        s->violations++;
        if (o->keep_going)
            continue;
        progress(s, true);
        char spec[SOAK_MAX_RULES * SOAK_RULE_LEN + 8];
        soak_spec(&r, spec, sizeof spec);
        fprintf(stderr, "pgrace soak: round %ld violated an invariant (%s/%s, %d workers, %d retries, fault '%s'); "
                        "shrinking\n", k, s->items[pair].scenario->name, s->items[pair].variant->name, r.nworkers,
                r.retries, spec);
        if (shrink(s, pair, &r, first, o->round_iterations, err, errlen) < 0)
            return -1;
        item_settings st;
        round_settings(s, &r, &st, spec, sizeof spec);
        char replay[2048];
        repro_replay_command(&o->run, &s->items[pair], &st, first, o->round_iterations, spec, replay, sizeof replay);
        tap_comment("minimal failing case: %d workers, %d retries, fault '%s'", r.nworkers, r.retries, spec);
        tap_comment("replay: %s", replay);
        if (s->kept) {
            /* The minimal case goes into the reports too, as a second item. */
            bool again;
            report *mini = s->kept;
            if (run_round(s, pair, &r, first, o->round_iterations, mini, NULL, &again, err, errlen) < 0)
                return -1;
        }
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
    int points = 0;
    for (int p = 0; p < s.nitems; p++)
        points += drv_ninvariants(s.items[p].scenario);
    tap_begin(stdout);
    tap_plan(points);
    tap_comment("pgrace soak: seed %" PRIu64 ", up to %d workers, %ld iterations a round, server %d.%d%s%s%s",
                o->run.seed, o->max_workers, o->round_iterations, s.t.server_version / 10000,
                s.t.server_version % 100, s.t.cluster ? " (embedded)" : "",
                o->run.pooler ? ", workers through " : "", pooler_name(o->run.pooler));
    cleanup_graceful(&s.stop);
    s.started = s.last_progress = clock_now_ns();
    int status = EXIT_HELD;
    if (soak_loop(&s, err, sizeof err) < 0) {
        if (cleanup_signal_seen())
            return EXIT_USAGE;    /* never reached: the signal thread exits */
        tap_bail("soak: %s", err);
        fprintf(stderr, "pgrace: %s\n", err);
        status = EXIT_USAGE;
    }
    progress(&s, true);
    cleanup_graceful(NULL);
    if (s.pct)
        tap_comment("pgrace soak: %ld iterations under pct (depth %d, k = %d choice points at most)",
                    pct_rounds_count(s.pct), o->depth, pct_rounds_k(s.pct));
    pct_rounds_free(s.pct);
    if (status != EXIT_USAGE && !emit_tap(&s))
        status = EXIT_VIOLATED;
    target_close(&s.t);
    if (write_reports(&s) < 0)
        status = EXIT_USAGE;
    int sig = atomic_load(&s.stop);
    if (sig) {
        fprintf(stderr, "pgrace: soak interrupted by SIG%s; reports written, cleaned up\n", sigabbrev_np(sig));
        status = 128 + sig;
    }
    report_free(s.kept);
    tally_free(&s);
    free(s.items);
    return status;
}
