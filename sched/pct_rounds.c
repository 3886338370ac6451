/*
 * soakpct.c — PCT for soak rounds (see explore.h): every iteration of a
 * soak round runs under the scheduler with fresh random priorities, so a
 * long soak samples interleavings with PCT's guarantee instead of the OS's.
 */
#include "sched/pct_rounds.h"

#include "sched/sched.h"
#include "sched/strategy.h"
#include "lib/err.h"

#include <stdlib.h>

struct pct_rounds {
    sched *sc;
    pct *p;
    drv_control control;        /* what a drive's driver calls: on_round, on_worker_done */
    int k, nworkers;
    long rounds;
};

static int on_round(void *arg, char *err, size_t errlen);
static void on_worker_done(void *arg, int worker);

pct_rounds *pct_rounds_new(PGconn *ctl, bool pooled, int max_workers, int depth, uint64_t seed, int64_t bound,
                           char *err, size_t errlen)
{
    pct_rounds *r = calloc(1, sizeof *r);
    if (!r || !(r->p = pct_new(max_workers, depth, seed))) {
        free(r);
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    if (!(r->sc = sched_new(max_workers, ctl, pooled, bound, err, errlen))) {
        pct_free(r->p);
        free(r);
        return NULL;
    }
    sched_install(r->sc);
    r->control = (drv_control){ on_round, on_worker_done, r };
    return r;
}

static int on_round(void *arg, char *err, size_t errlen)
{
    return sched_round(((pct_rounds *)arg)->sc, err, errlen) < 0 ? -1 : 0;
}

static void on_worker_done(void *arg, int worker) { sched_worker_done(((pct_rounds *)arg)->sc, worker); }

static int before(void *arg, long iteration, char *err, size_t errlen)
{
    (void)iteration, (void)err, (void)errlen;
    pct_rounds *r = arg;
    pct_begin(r->p, r->rounds++, r->k);
    sched_prepare(r->sc, r->nworkers, pct_choose, r->p, NULL, true);
    return 0;
}

static void after(void *arg, long iteration, const call_record *calls, int ncalls, const int *verdicts)
{
    (void)iteration, (void)calls, (void)ncalls, (void)verdicts;
    pct_rounds *r = arg;
    int points = sched_choice_points(r->sc);
    r->k = points > r->k ? points : r->k;
}

/* A violation's diagnostics get the schedule it ran under. */
static void annotate(void *arg, json_t *found)
{
    pct_rounds *r = arg;
    char token[4 * SCHED_MAX_STEPS];
    sched_token(r->sc, token, sizeof token);
    json_object_set_new(found, "schedule", json_string(token));
    json_object_set_new(found, "steps", sched_describe(r->sc));
}

void pct_rounds_attach(pct_rounds *r, drive_args *a)
{
    r->nworkers = a->settings->nworkers;
    a->control = &r->control;
    a->before = before;
    a->after = after;
    a->annotate = annotate;
    a->hook_arg = r;
}

int pct_rounds_k(const pct_rounds *r) { return r->k; }
long pct_rounds_count(const pct_rounds *r) { return r->rounds; }

void pct_rounds_free(pct_rounds *r)
{
    if (!r)
        return;
    sched_install(NULL);
    sched_free(r->sc);
    pct_free(r->p);
    free(r);
}
