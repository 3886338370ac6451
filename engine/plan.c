/* plan.c — turning targets and --impl into (scenario, variant) pairs, and
 * options and fault plans into each pair's settings (see plan.h). */
#include "engine/plan.h"

#include "engine/drive.h"
#include "engine/serial.h"
#include "lib/err.h"
#include "lib/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const scenario *scenario_find(const scenario *const *registry, const char *name)
{
    for (int i = 0; registry[i]; i++)
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}

const scenario_variant *scenario_variant_find(const scenario *s, const char *name)
{
    for (int i = 0; i < s->nvariants; i++)
        if (strcmp(s->variants[i].name, name) == 0)
            return &s->variants[i];
    return NULL;
}

void (*scenario_variant_op(const scenario *s, const scenario_variant *v))(const drv_call *c)
{
    return v->op ? v->op : s->variants[0].op;
}

/* Adds s's variants selected by impl to items. Returns 0 or -1. */
static int add(const scenario *s, const char *impl, plan_item *items, int *n, char *err, size_t errlen)
{
    if (strcmp(impl, "all") == 0) {
        for (int i = 0; i < s->nvariants; i++)
            items[(*n)++] = (plan_item){ .scenario = s, .variant = &s->variants[i] };
        return 0;
    }
    const scenario_variant *v = scenario_variant_find(s, impl);
    if (!v) {
        err_set(err, errlen, "scenario %s has no variant '%s' (pgrace list shows them)", s->name, impl);
        return -1;
    }
    items[(*n)++] = (plan_item){ .scenario = s, .variant = v };
    return 0;
}

const char *scenario_pause_name(const scenario *s, int i, char *buf, size_t len)
{
    const char *p = s->pause_points[i], *colon = strchr(p, ':');
    snprintf(buf, len, "%.*s", colon ? (int)(colon - p) : (int)strlen(p), p);
    return buf;
}

/* Every pause of p names a pause point of s; else -1 with the points s has. */
static int check_pauses(const scenario *s, const drv_pauses *p, char *err, size_t errlen)
{
    for (int k = 0; k < p->n; k++) {
        char name[64], points[512] = "";
        bool known = false;
        for (int i = 0; i < s->npause_points; i++) {
            scenario_pause_name(s, i, name, sizeof name);
            known |= strcmp(name, p->p[k].name) == 0;
            snprintf(points + strlen(points), sizeof points - strlen(points), "%s%s", i ? ", " : "", name);
        }
        if (!known) {
            err_set(err, errlen, "scenario %s has no pause point '%s' (%s%s)", s->name, p->p[k].name,
                    s->npause_points ? "its points: " : "it has none", points);
            return -1;
        }
    }
    return 0;
}

/* What every item's settings end with: its pauses checked, and the
 * invariant whose id --failfast names found among s's. */
static int finish(const run_opts *o, const scenario *s, item_settings *st, char *err, size_t errlen)
{
    if (check_pauses(s, &st->pauses, err, errlen) < 0)
        return -1;
    st->failfast_on = -1;
    if (!o->failfast_on)
        return 0;
    st->failfast_on = drv_invariant_find(s, o->failfast_on);
    if (st->failfast_on < 0) {
        char ids[512] = "";
        for (int k = 0; k < drv_ninvariants(s); k++)
            snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%s", k ? ", " : "", drv_invariant_id(s, k));
        err_set(err, errlen, "scenario %s has no invariant '%s' (--failfast=ID takes one of: %s)", s->name,
                o->failfast_on, ids);
        return -1;
    }
    return 0;
}

void plan_label(const plan_item *item, const item_settings *st, char *buf, size_t len)
{
    const char *v = item->variant->name;
    bool plan = strcmp(st->plan, "none") != 0;
    snprintf(buf, len, "%s%s%s%s%s%s", item->scenario->name, *v ? "/" : "", v, plan ? " [" : "", plan ? st->plan : "",
             plan ? "]" : "");
}

/* Gives the n items the scenarios the oracle makes of theirs, stored
 * after the items in their allocation (which moves; session_close frees it
 * whole). Returns 0 or -1. */
static int with_oracle(plan_item **items, int n, oracle_mode m)
{
    int ninv = 0;
    for (int i = 0; i < n; i++)
        ninv += (*items)[i].scenario->ninvariants + 1;
    size_t at_s = (size_t)n * sizeof(plan_item), at_inv = at_s + (size_t)n * sizeof(scenario);
    char *block = realloc(*items, at_inv + (size_t)ninv * sizeof(scenario_invariant));
    if (!block)
        return -1;
    plan_item *it = (plan_item *)block;
    scenario *ss = (scenario *)(block + at_s);
    scenario_invariant *invs = (scenario_invariant *)(block + at_inv);
    for (int i = 0; i < n; i++) {
        serial_scenario(it[i].scenario, m, &ss[i], invs);
        invs += it[i].scenario->ninvariants + 1;
        it[i].scenario = &ss[i];
    }
    *items = it;
    return 0;
}

int plan_build(const run_opts *o, plan_item **out, char *err, size_t errlen)
{
    int cap = 0;
    for (int i = 0; o->registry[i]; i++)
        cap += o->registry[i]->nvariants;
    cap *= o->ntargets > 0 ? o->ntargets : 1;
    plan_item *items = calloc((size_t)cap, sizeof *items);
    if (!items) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    const char *impl = o->impl ? o->impl : "fixed";
    int n = 0;
    if (o->ntargets == 0) {
        for (int i = 0; o->registry[i]; i++)
            if (add(o->registry[i], impl, items, &n, err, errlen) < 0)
                goto fail;
    }
    for (int t = 0; t < o->ntargets; t++) {
        char name[128];
        snprintf(name, sizeof name, "%s", o->targets[t]);
        char *slash = strchr(name, '/');
        if (slash)
            *slash = '\0';
        const scenario *s = scenario_find(o->registry, name);
        if (!s) {
            err_set(err, errlen, "unknown scenario '%s' (pgrace list shows them)", name);
            goto fail;
        }
        if (add(s, slash ? slash + 1 : impl, items, &n, err, errlen) < 0)
            goto fail;
    }
    if (o->oracle != ORACLE_OFF && with_oracle(&items, n, o->oracle) < 0) {
        err_set(err, errlen, "out of memory");
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
        .retries = o->retries, .nworkers = o->nworkers, .pauses = o->pauses, .call_timeout_ns = o->call_timeout_ns,
        .params = o->params, .oracle_opts = o->oracle ? &o->oracle_opts : NULL,
        .no_conn_check = o->no_conn_check,
    };
    /* A sweep aims at worker 1 and lets it retry, as a real client would,
     * unless told otherwise. */
    if (o->fault_sweep) {
        if (!o->nworkers_given)
            st->nworkers = 1;
        if (!o->retries_given)
            st->retries = 1;
    }
    const scenario *s = item->scenario;
    if (!o->plan || strcmp(o->plan, "none") == 0)
        return finish(o, s, st, err, errlen);
    for (int i = 0; i < s->nplans; i++) {
        const scenario_plan *p = &s->plans[i];
        if (strcmp(p->name, o->plan) != 0)
            continue;
        /* Nothing given on the command line is silently overridden. */
        if ((p->fault || p->sweep) && (o->fault || o->fault_sweep)) {
            err_set(err, errlen, "scenario %s: plan %s brings its own faults; --fault or --fault-sweep cannot "
                    "be added to it (use one or the other)", s->name, p->name);
            return -1;
        }
        if (p->sweep && (o->iterations_given || o->first_iteration)) {
            err_set(err, errlen, "scenario %s: plan %s is a fault sweep, which numbers and counts its own "
                    "iterations: -i and --from-iteration do not apply", s->name, p->name);
            return -1;
        }
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
        if (!o->params)
            st->params = p->params;
        /* The plan's deadline, unless --call-timeout was given. */
        if (p->call_timeout && !o->call_timeout_ns &&
            parse_duration(p->call_timeout, 24 * 3600LL * 1000000000, &st->call_timeout_ns) < 0) {
            err_set(err, errlen, "scenario %s: plan %s: bad call_timeout '%s'", s->name, p->name, p->call_timeout);
            return -1;
        }
        return finish(o, s, st, err, errlen);
    }
    err_set(err, errlen, "scenario %s has no plan '%s' (pgrace list shows them)", s->name, o->plan);
    return -1;
}
