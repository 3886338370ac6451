/* plan.c — turning targets and --impl into (scenario, variant) pairs. */
#include "harness/run.h"

#include "lib/err.h"

#include <stdlib.h>
#include <string.h>

const scenario *scenario_find(const char *name)
{
    for (int i = 0; scenario_registry[i]; i++)
        if (strcmp(scenario_registry[i]->name, name) == 0)
            return scenario_registry[i];
    return NULL;
}

const scenario_variant *scenario_variant_find(const scenario *s, const char *name)
{
    for (int i = 0; i < s->nvariants; i++)
        if (strcmp(s->variants[i].name, name) == 0)
            return &s->variants[i];
    return NULL;
}

/* Adds s's variants selected by impl to items. Returns 0 or -1. */
static int add(const scenario *s, const char *impl, plan_item *items, int *n, char *err, size_t errlen)
{
    if (strcmp(impl, "all") == 0) {
        for (int i = 0; i < s->nvariants; i++)
            items[(*n)++] = (plan_item){ s, &s->variants[i] };
        return 0;
    }
    const scenario_variant *v = scenario_variant_find(s, impl);
    if (!v) {
        err_set(err, errlen, "scenario %s has no variant '%s' (pgrace list shows them)", s->name, impl);
        return -1;
    }
    items[(*n)++] = (plan_item){ s, v };
    return 0;
}

int plan_build(const run_opts *o, plan_item **out, char *err, size_t errlen)
{
    int cap = 0;
    for (int i = 0; scenario_registry[i]; i++)
        cap += scenario_registry[i]->nvariants;
    cap *= o->ntargets > 0 ? o->ntargets : 1;
    plan_item *items = calloc((size_t)cap, sizeof *items);
    if (!items) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    const char *impl = o->impl ? o->impl : "fixed";
    int n = 0;
    if (o->ntargets == 0) {
        for (int i = 0; scenario_registry[i]; i++)
            if (add(scenario_registry[i], impl, items, &n, err, errlen) < 0)
                goto fail;
    }
    for (int t = 0; t < o->ntargets; t++) {
        char name[128];
        snprintf(name, sizeof name, "%s", o->targets[t]);
        char *slash = strchr(name, '/');
        if (slash)
            *slash = '\0';
        const scenario *s = scenario_find(name);
        if (!s) {
            err_set(err, errlen, "unknown scenario '%s' (pgrace list shows them)", name);
            goto fail;
        }
        if (add(s, slash ? slash + 1 : impl, items, &n, err, errlen) < 0)
            goto fail;
    }
    *out = items;
    return n;
fail:
    free(items);
    return -1;
}

int plan_settings(const run_opts *o, const plan_item *item, item_settings *st, char *err, size_t errlen)
{
    *st = (item_settings){
        .plan = o->fault_sweep ? "fault-sweep" : "none", .fault = o->fault, .sweep = o->fault_sweep,
        .retries = o->retries, .nworkers = o->nworkers, .pauses = o->pauses,
    };
    /* A sweep aims at worker 1 and lets it retry, as a real client would,
     * unless told otherwise. */
    if (o->fault_sweep) {
        if (!o->nworkers_given)
            st->nworkers = 1;
        if (!o->retries_given)
            st->retries = 1;
    }
    if (!o->plan || strcmp(o->plan, "none") == 0)
        return 0;
    const scenario *s = item->scenario;
    for (int i = 0; i < s->nplans; i++) {
        const scenario_plan *p = &s->plans[i];
        if (strcmp(p->name, o->plan) != 0)
            continue;
        st->plan = p->name;
        if (p->fault)
            st->fault = p->fault;
        st->sweep = st->sweep || p->sweep;
        if (!o->retries_given)
            st->retries = p->retries;
        if (p->nworkers && !o->nworkers_given)
            st->nworkers = p->nworkers;
        if (p->pause && drv_pause_parse(&st->pauses, p->pause, err, errlen) < 0)
            return -1;
        return 0;
    }
    err_set(err, errlen, "scenario %s has no plan '%s' (pgrace list shows them)", s->name, o->plan);
    return -1;
}
