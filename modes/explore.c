/*
 * explore.c — `pgrace explore`, and `pgrace run ... --schedule TOKEN`.
 *
 * explore runs each (scenario, variant) through the driver with the
 * scheduler of sched.h in control: one round per schedule, each on fresh
 * rows, chosen by a strategy (strategy.h). With --faults, every new
 * position of the schedule tree (a prefix and the statement it lets go)
 * also gets one fault of each kind, the schedule continuing by default.
 * Faults after equivalent prefixes (explore/equiv.h) run once.
 * The first violating schedule is shrunk — explored again under lower
 * preemption bounds until none violates — and printed with its token, its
 * steps in reading order and the command that replays it.
 */
#include "modes/modes.h"

#include "engine/record.h"
#include "engine/repro.h"

#include "sched/equiv.h"
#include "sched/sched.h"
#include "sched/strategy.h"
#include "faults/pgfault.h"
#include "lib/shell.h"
#include "engine/session.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/hash.h"
#include "lib/parse.h"
#include "reports/report.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FAULT_QUEUE_MAX 200000


/* One item's exploration (one drive of it). */
typedef struct explorer {
    const explore_opts *o;
    const plan_item *item;
    const item_settings *st;
    sched *sc;
    dfs *d;
    pct *p;
    bool pct;                   /* the strategy: pct, else dfs */
    int bound;
    bool exhausted;
    /* --faults: the positions found so far, run after the schedules */
    schedule *queue;
    long nqueue, capq, next_fault;
    equiv_set *seen;            /* the (prefix class, fault) keys queued */
    bool in_faults;
    schedule current;
    /* the last dfs round's statements, each step's (worker, text) hashed:
     * the next round's replayed prefix must send the same */
    uint32_t *hashes;
    int nhashes;
    /* counts */
    long schedules, fault_runs, diverged, stuck, positions, equivalent, max_steps, varied, yields;
    int max_points, last_end;
    /* the violation */
    bool violated;
    int preemptions;
    char token[8 * SCHED_MAX_STEPS / 4];
    char round_token[8 * SCHED_MAX_STEPS / 4];
} explorer;

/* ---- the hooks the driver calls ---- */

/* The round's token: its schedule, and for a program's item the digest of
 * its statements (a program's may vary from run to run: a replay says so). */
static void round_token(const explorer *x, char *buf, size_t len)
{
    sched_token(x->sc, buf, len);
    size_t n = strlen(buf);
    if (x->item->origin && n < len)
        snprintf(buf + n, len - n, ";h=%08x", sched_digest(x->sc));
}


static int on_round(void *arg, char *err, size_t errlen)
{
    explorer *x = arg;
    x->last_end = sched_round(x->sc, err, errlen);
    return x->last_end < 0 ? -1 : 0;
}

static void on_worker_done(void *arg, int worker) { sched_worker_done(((explorer *)arg)->sc, worker); }

/* Is a fault of this kind at this step different from the others there?
 * ambiguous only where it can differ from drop: at COMMIT, or at a
 * statement outside a transaction block that may write (inside a block,
 * a lost connection rolls the statement back whether it ran or not). */
static bool ambiguous_differs(const sched_step *st)
{
    const char *sql = st->sql + strspn(st->sql, " \t");
    if (strncasecmp(sql, "COMMIT", 6) == 0 || strncasecmp(sql, "END", 3) == 0)
        return true;
    return !st->in_tx && strncasecmp(sql, "SELECT", 6) != 0 && strncasecmp(sql, "BEGIN", 5) != 0;
}

/* Queues the fault action at step k, unless a prefix equivalent to
 * steps[0..k-1] already has it. Returns 0, or -1 past the queue's limit. */
static int enqueue(explorer *x, const sched_step *steps, int k, int action)
{
    if (x->seen) {
        int workers[SCHED_MAX_STEPS];
        bool quiet[SCHED_MAX_STEPS];
        for (int i = 0; i < k; i++) {
            workers[i] = steps[i].worker;
            quiet[i] = steps[i].quiet;
        }
        int fresh = equiv_add(x->seen, workers, quiet, k, steps[k].worker, action);
        if (fresh < 0)
            return -1;
        if (fresh == 0) {
            x->equivalent++;
            return 0;
        }
    }
    if (x->nqueue == x->capq) {
        long cap = x->capq ? 2 * x->capq : 64;
        if (cap > FAULT_QUEUE_MAX)
            return -1;
        schedule *q = realloc(x->queue, (size_t)cap * sizeof *q);
        if (!q)
            return -1;
        x->queue = q;
        x->capq = cap;
    }
    schedule *s = &x->queue[x->nqueue++];
    s->n = k + 1;
    int nth = 0;
    for (int i = 0; i <= k; i++) {
        s->choices[i] = steps[i].worker;
        nth += steps[i].worker == steps[k].worker;
    }
    s->fault = (sched_fault){ .worker = steps[k].worker, .nth = nth, .action = action };
    return 0;
}

/* The new positions of the last round's schedule, each with its faults. */
static void queue_faults(explorer *x)
{
    int n;
    const sched_step *steps = sched_steps(x->sc, &n);
    for (int k = dfs_fresh(x->d); k < n; k++) {
        x->positions++;
        if (enqueue(x, steps, k, PGF_GATE_ERROR) < 0 || enqueue(x, steps, k, PGF_GATE_DROP) < 0 ||
            (ambiguous_differs(&steps[k]) && enqueue(x, steps, k, PGF_GATE_AMBIGUOUS) < 0))
            return;     /* past the queue's limit: the faults of the rest are not run (counted below) */
    }
}

static uint32_t step_hash(const sched_step *st)
{
    uint64_t h = hash_fnv1a(HASH_FNV1A_INIT, &st->worker, sizeof st->worker);
    h = hash_fnv1a(h, st->sql, strlen(st->sql));
    return (uint32_t)(h ^ (h >> 32));
}

/* The round replayed a prefix of the last one: did it send the same
 * statements there? A program's may vary from run to run (pgrace exec),
 * and then the tree the enumeration walks is not the program's. (A
 * scenario's rounds are fresh iterations, whose statements may name their
 * rows: its code is the same, and never varies but with what the server
 * answers.) */
static void note_statements(explorer *x)
{
    if (!x->item->origin)
        return;
    int n;
    const sched_step *steps = sched_steps(x->sc, &n);
    int fresh = dfs_fresh(x->d);
    for (int k = 0; k < fresh && k < x->nhashes && k < n; k++)
        if (step_hash(&steps[k]) != x->hashes[k]) {
            x->varied++;
            break;
        }
    for (int k = 0; k < n; k++)
        x->hashes[k] = step_hash(&steps[k]);
    x->nhashes = n;
}

static int before_round(void *arg, long iteration, char *err, size_t errlen)
{
    (void)iteration, (void)err, (void)errlen;
    explorer *x = arg;
    long ran = x->schedules + x->fault_runs;
    if (x->violated || (x->o->max_schedules && ran >= x->o->max_schedules))
        return 1;
    if (x->pct) {
        pct_begin(x->p, x->schedules, x->max_points);
        sched_prepare(x->sc, x->st->nworkers, pct_choose, x->p, NULL, !x->o->no_yield);
        return 0;
    }
    if (x->exhausted && !x->in_faults) {
        if (!x->o->faults || x->next_fault == x->nqueue)
            return 1;
        x->in_faults = true;
    }
    if (x->in_faults) {
        if (x->next_fault == x->nqueue)
            return 1;
        x->current = x->queue[x->next_fault++];
        sched_prepare(x->sc, x->st->nworkers, schedule_choose, &x->current, &x->current.fault, !x->o->no_yield);
        return 0;
    }
    sched_prepare(x->sc, x->st->nworkers, dfs_choose, x->d, NULL, !x->o->no_yield);
    return 0;
}

static void after_round(void *arg, long iteration, const call_record *calls, int ncalls, const int *verdicts)
{
    (void)iteration, (void)calls, (void)ncalls;
    explorer *x = arg;
    int points = sched_choice_points(x->sc);
    x->yields += sched_yields(x->sc);
    x->max_points = points > x->max_points ? points : x->max_points;
    x->stuck += x->last_end == SCHED_STUCK;
    x->diverged += x->last_end == SCHED_GAVE_UP;
    for (int k = 0; k < drv_ninvariants(x->item->scenario); k++)
        if (verdicts[k] == 0 && !x->violated) {
            x->violated = true;
            x->preemptions = sched_preemptions(x->sc);
            round_token(x, x->token, sizeof x->token);
        }
    if (x->in_faults) {
        x->fault_runs++;
        return;
    }
    x->schedules++;
    if (x->pct)
        return;
    if (x->last_end == SCHED_GAVE_UP)
        dfs_note_divergence(x->d);
    note_statements(x);
    if (x->o->faults)
        queue_faults(x);
    x->exhausted = !dfs_next(x->d);
}

/* drv_annotate_fn: the violating round's schedule, its steps, its replay. */
static void annotate(void *arg, json_t *found)
{
    explorer *x = arg;
    char token[sizeof x->token], replay[sizeof x->token + 2048];
    round_token(x, token, sizeof token);
    repro_schedule_command(&x->o->run, x->item, x->st, token, json_integer_value(json_object_get(found, "record")),
                           replay, sizeof replay);
    json_object_set_new(found, "schedule", json_string(token));
    json_object_set_new(found, "preemptions", json_integer(sched_preemptions(x->sc)));
    json_object_set_new(found, "steps", sched_describe(x->sc));
    json_object_set_new(found, "replay", json_string(replay));
}

/* The schedule the round followed, for the record. */
static const char *round_schedule(void *arg)
{
    explorer *x = arg;
    round_token(x, x->round_token, sizeof x->round_token);
    return x->round_token;
}

/* ---- one item ---- */

typedef struct exploration {
    long schedules, fault_runs, diverged, stuck, positions, equivalent, pruned, varied, yields;
    int workloads;              /* drives: one per workload explored */
    bool exhausted;
    int max_points;
    double seconds;
} exploration;

/* One drive of item under bound (dfs) or pct. Fills *res (its verdicts,
 * first violation annotated) and adds to *e. Returns 0 or -1 (err). */
static int period(const plan_item *item)
{
    return item->scenario->workload_period > 1 ? item->scenario->workload_period : 1;
}

/* The residues to explore: the first residue of each workload. Fills
 * residues (at most period of them); returns how many. */
static int workload_residues(const plan_item *item, int *residues)
{
    const scenario *s = item->scenario;
    int n = 0, kinds[256];
    for (int r = 0; r < period(item) && n < 256; r++) {
        int k = s->workload ? s->workload(r) : r;
        bool seen = false;
        for (int i = 0; i < n; i++)
            seen |= kinds[i] == k;
        if (!seen) {
            kinds[n] = k;
            residues[n++] = r;
        }
    }
    return n;
}

static int drive_workload(const explore_opts *o, target *t, sched *sc, const plan_item *item,
                          const item_settings *st, int bound, int workload, report *rep, rep_item *ri,
                          drv_result *res, exploration *e, explorer *x, char *err, size_t errlen)
{
    *x = (explorer){ .o = o, .item = item, .st = st, .sc = sc, .bound = bound, .pct = o->pct };
    if (o->pct ? !(x->p = pct_new(st->nworkers, o->depth, o->run.seed))
               : !(x->d = dfs_new(bound)) || !(x->hashes = calloc(SCHED_MAX_STEPS, sizeof *x->hashes)) ||
                     (o->faults && !o->every_prefix && !(x->seen = equiv_new()))) {
        dfs_free(x->d);
        free(x->hashes);
        err_set(err, errlen, "out of memory");
        return -1;
    }
    drv_control control = { on_round, on_worker_done, x };
    /* Iterations residue + k*P, so that every round of this drive runs
     * the same workload on fresh rows. */
    int P = period(item);
    drive_args a = { .target = t, .item = item, .settings = st, .seed = o->run.seed, .iterations = LONG_MAX,
                     .first_iteration = P + workload, .iteration_step = P, .rep = ri ? rep : NULL, .ritem = ri,
                     .before = before_round, .after = after_round, .annotate = annotate,
                     .schedule = round_schedule, .hook_arg = x, .control = &control };
    if (item->origin && item->origin->explore_iteration > 0) {
        /* A program's rounds: the same iteration each time, recreated. */
        a.first_iteration = item->origin->explore_iteration;
        a.repeat_iteration = true;
    }
    int64_t t0 = clock_now_ns();
    int rc = run_drive(&a, res, err, errlen);
    e->seconds += (double)(clock_now_ns() - t0) / 1e9;
    e->schedules += x->schedules;
    e->fault_runs += x->fault_runs;
    e->diverged += x->diverged;
    e->varied += x->varied;
    e->yields += x->yields;
    e->stuck += x->stuck;
    e->positions += x->positions;
    e->equivalent += x->equivalent;
    e->max_points = x->max_points > e->max_points ? x->max_points : e->max_points;
    if (x->d) {
        e->pruned += dfs_counts_of(x->d).pruned;
        e->exhausted = x->exhausted && (!o->faults || x->next_fault == x->nqueue);
    }
    e->workloads++;
    dfs_free(x->d);
    pct_free(x->p);
    free(x->hashes);
    x->hashes = NULL;
    free(x->queue);
    equiv_free(x->seen);
    x->queue = NULL;
    x->seen = NULL;
    return rc;
}

/* Adds what src counted to dst (which keeps its first violations). */
static void merge_result(drv_result *dst, drv_result *src)
{
    dst->iterations += src->iterations;
    dst->seconds += src->seconds;
    for (int k = 0; k < 4; k++) {
        dst->outcomes[k] += src->outcomes[k];
        hist_merge(&dst->latency[k], &src->latency[k]);
    }
    for (int k = 0; k < dst->nverdicts && k < src->nverdicts; k++) {
        drv_verdict *d = &dst->verdicts[k], *v = &src->verdicts[k];
        if (v->failures && !d->failures) {
            d->first_iteration = v->first_iteration;
            d->first_found = v->first_found;
            v->first_found = NULL;
        }
        d->failures += v->failures;
    }
    drv_result_free(src);
}

/* One drive per workload (until one violates): the result of them all,
 * with the violating drive's explorer state in *x. */
static int drive(const explore_opts *o, target *t, sched *sc, const plan_item *item, const item_settings *st,
                 int bound, report *rep, rep_item *ri, drv_result *res, exploration *e, explorer *x, char *err,
                 size_t errlen)
{
    bool exhausted = true;
    int residues[256], n = workload_residues(item, residues);
    for (int w = 0; w < n; w++) {
        drv_result one;
        if (drive_workload(o, t, sc, item, st, bound, residues[w], rep, ri, w ? &one : res, e, x, err,
                           errlen) < 0) {
            if (w)
                drv_result_free(res);
            return -1;
        }
        exhausted &= e->exhausted;
        if (w)
            merge_result(res, &one);
        if (x->violated)
            break;
    }
    e->exhausted = exhausted;
    return 0;
}

static void comment_counts(report *rep, const explore_opts *o, const char *label, const item_settings *st,
                           const exploration *e)
{
    char what[96], faults[64] = "";
    if (o->pct)
        snprintf(what, sizeof what, "pct, depth %d", o->depth);
    else
        snprintf(what, sizeof what, "dfs, at most %d preemption%s", o->bound, o->bound == 1 ? "" : "s");
    if (o->faults)
        snprintf(faults, sizeof faults, " + %ld fault runs", e->fault_runs);
    double rate = e->seconds > 0 ? (double)(e->schedules + e->fault_runs) / e->seconds : 0.0;
    report_note(rep, "%s: %s, %d workers, %d retr%s: %ld schedules%s in %.2fs (%.1f schedules/s)", label, what,
                st->nworkers, st->retries, st->retries == 1 ? "y" : "ies", e->schedules, faults, e->seconds, rate);
    if (!o->pct)
        report_note(rep, "%s: %ld alternatives pruned by the bound; the space was %sexhausted%s", label, e->pruned,
                    e->exhausted ? "" : "not ", o->max_schedules && !e->exhausted ? " (--max-schedules)" : "");
    if (o->faults)
        report_note(rep, "%s: one fault (error=40001, drop, and ambiguous where it differs from drop: at COMMIT and "
                    "outside a transaction block) at each of %ld positions of the schedule tree; %ld of those "
                    "faults not run, their prefix equivalent to one run (%s)", label, e->positions, e->equivalent,
                    o->every_prefix ? "--every-prefix: none" : "quiet statements commute");
    if (o->pct) {
        int n = st->nworkers, k = e->max_points > 0 ? e->max_points : 1;
        double p = 1.0 / n;
        for (int i = 1; i < o->depth; i++)
            p /= k;
        report_note(rep, "%s: each pct round hits a bug of depth %d with probability >= 1/(n*k^(d-1)) = %.3g "
                    "(n = %d workers, k = %d choice points: the longest schedule seen)", label, o->depth, p, n, k);
    }
    if (e->yields)
        report_note(rep, "%s: %ld time%s a worker repeating a read that nothing had changed since yielded to the "
                    "others (a spinning worker waits for someone else; --no-yield: never)", label, e->yields,
                    e->yields == 1 ? "" : "s");
    if (e->diverged || e->stuck)
        report_note(rep, "%s: %ld schedule%s could not be replayed as recorded (the server answered differently), %ld "
                    "stuck past the deadline", label, e->diverged, e->diverged == 1 ? "" : "s", e->stuck);
    if (e->varied)
        report_note(rep, "%s: %ld schedule%s sent other statements than the round whose prefix %s replayed: the "
                    "program's statements vary from run to run", label, e->varied, e->varied == 1 ? "" : "s",
                    e->varied == 1 ? "it" : "they");
}

/* Explores item; the first violation is shrunk to the fewest preemptions
 * that still violate. Returns 0 (held set) or -1 (err). */
static int explore_item(const explore_opts *o, target *t, sched *sc, const plan_item *item, report *rep,
                        bool *held, char *err, size_t errlen)
{
    item_settings st;
    if (plan_settings(&o->run, item, &st, err, errlen) < 0)
        return -1;
    st.plan = "explore";
    exploration e = { 0 };
    explorer x;
    drv_result res;
    rep_item *ri = record_item_begin(rep, &o->run, item, &st);
    if (drive(o, t, sc, item, &st, o->bound, rep, ri, &res, &e, &x, err, errlen) < 0) {
        record_item_error(rep, ri, err);
        return -1;
    }
    char label[128], first[sizeof x.token];
    plan_label(item, &st, label, sizeof label);
    comment_counts(rep, o, label, &st, &e);
    if (e.varied && !x.violated) {
        /* What held was not the program's tree of schedules. */
        err_set(err, errlen, "cannot be explored: its statements vary from run to run (%ld schedule%s sent "
                "others than the round whose prefix %s replayed), so no schedule of it can be replayed", e.varied,
                e.varied == 1 ? "" : "s", e.varied == 1 ? "it" : "they");
        drv_result_free(&res);
        record_item_error(rep, ri, err);
        return -1;
    }
    if (x.violated && !o->pct) {
        snprintf(first, sizeof first, "%s", x.token);
        int p = x.preemptions, p0 = p;
        long before = e.schedules + e.fault_runs;
        /* Shrink: the same space under lower bounds, until none violates. */
        for (int b = p - 1; b >= 0; b = p - 1) {
            drv_result r2;
            exploration e2 = { 0 };
            explorer x2;
            if (drive(o, t, sc, item, &st, b, rep, NULL, &r2, &e2, &x2, err, errlen) < 0) {
                drv_result_free(&res);
                record_item_error(rep, ri, err);
                return -1;
            }
            e.schedules += e2.schedules;
            e.fault_runs += e2.fault_runs;
            if (!x2.violated) {
                drv_result_free(&r2);
                break;
            }
            drv_result_free(&res);
            res = r2;
            x = x2;
            p = x2.preemptions;
        }
        report_note(rep, "%s: first violation after %ld schedule%s: %s (%d preemption%s); shrunk to %s "
                    "(%d preemption%s) in %ld more", label, before, before == 1 ? "" : "s", first, p0,
                    p0 == 1 ? "" : "s", x.token, p, p == 1 ? "" : "s",
                    e.schedules + e.fault_runs - before);
        /* What `pgrace replay` reruns is the shrunk schedule. */
        long iteration = -1;
        for (int k = 0; k < res.nverdicts; k++)
            if (res.verdicts[k].failures && (iteration < 0 || res.verdicts[k].first_iteration < iteration))
                iteration = res.verdicts[k].first_iteration;
        json_t *replay = json_pack("{s:I,s:s,s:s,s:i,s:i}", "iteration", (json_int_t)iteration, "fault", "",
                                   "schedule", x.token, "workers", st.nworkers, "retries", st.retries);
        report_item_replay(rep, ri, replay, true);
        json_decref(replay);
    }
    char repeat[4096];
    repro_explore_command(&o->run, item, &st, o->bound, o->faults, o->every_prefix, o->no_yield, repeat, sizeof repeat);
    *held = record_item_end(rep, ri, &o->run, item, &st, &res, "schedules", repeat);
    drv_result_free(&res);
    return 0;
}

/* ---- the commands ---- */

/* The scheduler of a session, installed as the gate of the way its workers
 * take (engine/faultctl.h). Returns it, or NULL (printed). */
static sched *start_sched(const run_opts *o, session *s)
{
    char err[ERRLEN];
    int64_t bound = o->call_timeout_ns ? o->call_timeout_ns : DRV_DEFAULT_CALL_TIMEOUT_NS;
    sched *sc = sched_new(o->nworkers, s->t.ctl, s->t.pooler != NULL, bound, err, sizeof err);
    if (!sc) {
        fprintf(stderr, "pgrace: %s\n", err);
        return NULL;
    }
    sched_install(sc);
    return sc;
}

static void stop_sched(sched *sc)
{
    sched_install(NULL);
    sched_free(sc);
}

int explore_session(const explore_opts *o, session *s)
{
    sched *sc = start_sched(&o->run, s);
    if (!sc)
        return EXIT_USAGE;
    session_header(&o->run, s, 1);
    int status = EXIT_HELD;
    for (int i = 0; i < s->n; i++) {
        char err[ERRLEN], label[256];
        bool held = true;
        if (explore_item(o, &s->t, sc, &s->items[i], s->rep, &held, err, sizeof err) < 0) {
            plan_label(&s->items[i], &(item_settings){ .plan = "none" }, label, sizeof label);
            report_bail(s->rep, "%s: %s", label, err);
            fprintf(stderr, "pgrace: %s\n", err);
            status = EXIT_USAGE;
            break;
        }
        if (!held)
            status = EXIT_VIOLATED;
    }
    stop_sched(sc);
    return status;
}

int explore_main(const explore_opts *o)
{
    session s;
    if (session_open(&o->run, SESSION_SHIM_ALWAYS, "explore", &s) < 0)
        return EXIT_USAGE;
    return session_close(&o->run, &s, explore_session(o, &s));
}

int explore_replay_session(const run_opts *o, session *s)
{
    schedule sch;
    char err[ERRLEN];
    if (schedule_parse(o->schedule, o->nworkers, &sch, err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: %s (with -n %d)\n", err, o->nworkers);
        return EXIT_USAGE;
    }
    sched *sc = start_sched(o, s);
    if (!sc)
        return EXIT_USAGE;
    session_header(o, s, o->times);
    report_note(s->rep, "replaying schedule %s", o->schedule);
    int status = EXIT_HELD;
    for (int i = 0; i < s->n * o->times && status != EXIT_USAGE; i++) {
        const plan_item *item = &s->items[i / o->times];
        item_settings st;
        explorer x = { .sc = sc };
        drv_control control = { on_round, on_worker_done, &x };
        drv_result res;
        char label[256];
        if (plan_settings(o, item, &st, err, sizeof err) < 0) {
            fprintf(stderr, "pgrace: %s\n", err);
            status = EXIT_USAGE;
            break;
        }
        plan_label(item, &st, label, sizeof label);
        explore_opts eo = { .run = *o, .no_yield = true };    /* the token as recorded */
        x.o = &eo;
        x.item = item;
        x.st = &st;
        /* One round: the schedule, then the drive ends. */
        x.current = sch;
        x.in_faults = true;
        x.queue = &x.current;
        x.nqueue = 1;
        x.next_fault = 0;
        rep_item *ri = record_item_begin(s->rep, o, item, &st);
        long first = o->first_iteration ? o->first_iteration : 1;
        drive_args a = { .target = &s->t, .item = item, .settings = &st, .seed = o->seed, .iterations = 1,
                         .first_iteration = first, .rep = s->rep, .ritem = ri, .before = before_round,
                         .after = after_round, .annotate = annotate, .schedule = round_schedule, .hook_arg = &x,
                         .control = &control };
        if (run_drive(&a, &res, err, sizeof err) < 0) {
            record_item_error(s->rep, ri, err);
            report_bail(s->rep, "%s: %s", label, err);
            fprintf(stderr, "pgrace: %s\n", err);
            status = EXIT_USAGE;
            break;
        }
        if (x.last_end == SCHED_GAVE_UP)
            report_note(s->rep, "the schedule could not be replayed as written (a worker it names was not runnable); "
                        "the round ran free from there");
        if (sch.has_digest && sched_digest(sc) != sch.digest) {
            /* The program sent other statements than when the schedule was
             * found: its verdict would be about another schedule. */
            snprintf(err, sizeof err, "the schedule cannot be replayed: the program sent other statements than when "
                     "it was found (their digest h=%08x, the token's h=%08x): its statements vary from run to run",
                     sched_digest(sc), sch.digest);
            drv_result_free(&res);
            record_item_error(s->rep, ri, err);
            fprintf(stderr, "pgrace: %s: %s\n", label, err);
            status = EXIT_USAGE;
            break;
        }
        char repeat[4096];
        repro_schedule_command(o, item, &st, o->schedule, first, repeat, sizeof repeat);
        if (!record_item_end(s->rep, ri, o, item, &st, &res, "iterations", repeat))
            status = EXIT_VIOLATED;
        drv_result_free(&res);
    }
    stop_sched(sc);
    return status;
}

int explore_replay_main(const run_opts *o)
{
    schedule sch;
    char err[ERRLEN];
    if (schedule_parse(o->schedule, o->nworkers, &sch, err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: %s (with -n %d)\n", err, o->nworkers);
        return EXIT_USAGE;
    }
    session s;
    if (session_open(o, SESSION_SHIM_ALWAYS, o->mode ? o->mode : "run", &s) < 0)
        return EXIT_USAGE;
    return session_close(o, &s, explore_replay_session(o, &s));
}
