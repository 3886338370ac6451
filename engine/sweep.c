/* sweep.c — one fault per statement position and action (see sweep.h). */
#include "engine/sweep.h"

#include "engine/faultctl.h"
#include "lib/err.h"

#include <stdio.h>
#include <string.h>

static const char *const actions[] = { "error=40001", "drop", "ambiguous" };
#define NACTIONS (sizeof actions / sizeof actions[0])

typedef struct sweep {
    int per_conn[2];            /* statements of a clean call on connection 1 and 2 */
    long first;                 /* the first sweep iteration */
    drv_before_fn next;         /* the caller's own hook (it may end the sweep), or NULL */
    void *next_arg;
} sweep;

/* The probe's iteration: count worker 1's statements per connection. */
static void count(void *arg, long iteration, const call_record *calls, int ncalls, const int *verdicts)
{
    sweep *sw = arg;
    (void)iteration;
    (void)verdicts;
    if (ncalls < 1)
        return;
    const call_record *c = &calls[0];
    for (size_t i = 0; i < c->trace->n; i++)
        sw->per_conn[c->trace->ev[i].conn == c->conn ? 0 : 1]++;
}

static int no_faults(void *arg, long iteration, char *err, size_t errlen)
{
    (void)arg;
    (void)iteration;
    return faultctl_configure(NULL, err, errlen);
}

/* Installs the one rule of a sweep iteration. */
static int aim(void *arg, long iteration, char *err, size_t errlen)
{
    const sweep *sw = arg;
    int rc = sw->next ? sw->next(sw->next_arg, iteration, err, errlen) : 0;
    if (rc != 0)
        return rc;
    long k = iteration - sw->first;
    int positions = sw->per_conn[0] + sw->per_conn[1];
    const char *action = actions[k / positions];
    int p = (int)(k % positions);
    int conn = p < sw->per_conn[0] ? 1 : 2;
    int when = conn == 1 ? p + 1 : p - sw->per_conn[0] + 1;
    char rule[96];
    snprintf(rule, sizeof rule, "stmt:conn=%d:when=%d:%s", conn, when, action);
    return faultctl_configure(rule, err, errlen);
}

int sweep_run(const drv_config *cfg, const scenario *s, const scenario_variant *v, PGconn *ctl,
              drv_result *res, int *positions, char *err, size_t errlen)
{
    sweep sw = { .first = 2 };
    drv_config probe = *cfg;
    probe.nworkers = 1;
    probe.retries = 0;
    probe.iterations = 1;
    probe.first_iteration = 1;
    probe.before = no_faults;
    probe.on_iteration = count;
    probe.iteration_arg = &sw;
    drv_result pr;
    if (drv_run(&probe, s, v, ctl, &pr, err, errlen) < 0)
        return -1;
    drv_result_free(&pr);
    *positions = sw.per_conn[0] + sw.per_conn[1];
    if (*positions == 0) {
        err_set(err, errlen, "the probe call sent no statement to sweep");
        return -1;
    }
    drv_config run = *cfg;
    run.iterations = (long)NACTIONS * *positions;
    run.first_iteration = sw.first;
    sw.next = cfg->before;
    sw.next_arg = cfg->before_arg;
    run.before = aim;
    run.before_arg = &sw;
    int rc = drv_run(&run, s, v, ctl, res, err, errlen);
    char ignored[ERRLEN];
    faultctl_configure(NULL, ignored, sizeof ignored);
    return rc;
}
