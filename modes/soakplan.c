/* soakplan.c — drawing and shrinking soak rounds (see soakplan.h). */
#include "modes/soakplan.h"

#include <stdio.h>
#include <string.h>

static const char *const targets[] = { "stmt", "stmt", "commit", "commit", "begin", "rollback" };
static const char *const states[] = { "40001", "40P01", "55P03", "23505", "57014", "XX000" };

#define PICK(rg, arr) (arr[rng_below(rg, sizeof arr / sizeof arr[0])])

static void draw_rule(rng *g, char *out, size_t len, int conns)
{
    char where[48], action[40];
    const char *target = PICK(g, targets);
    switch (rng_below(g, 3)) {
    case 0: snprintf(where, sizeof where, "when=%d", 1 + (int)rng_below(g, 6)); break;
    case 1: snprintf(where, sizeof where, "when=%d+%d", 1 + (int)rng_below(g, 4), 2 + (int)rng_below(g, 4)); break;
    default:
        snprintf(where, sizeof where, "prob=0.%02d:seed=%d", 5 + (int)rng_below(g, 25), (int)rng_below(g, 1000));
        break;
    }
    switch (rng_below(g, 6)) {
    case 0:
    case 1: snprintf(action, sizeof action, "error=%s", PICK(g, states)); break;
    case 2: snprintf(action, sizeof action, "drop"); break;
    case 3: snprintf(action, sizeof action, "ambiguous"); break;
    case 4: snprintf(action, sizeof action, "delay=%dms", 1 + (int)rng_below(g, 10)); break;
    default: snprintf(action, sizeof action, "delay=%dms:after", 1 + (int)rng_below(g, 10)); break;
    }
    if (rng_below(g, 2))
        snprintf(out, len, "%s:%s:conn=%d:%s", target, where, 1 + (int)rng_below(g, (uint64_t)conns), action);
    else
        snprintf(out, len, "%s:%s:%s", target, where, action);
}

void soak_draw(soak_round *r, unsigned long long seed, long k, int max_workers, int conns_per_worker)
{
    rng g;
    rng_init(&g, seed, 0x50A4000000ull + (uint64_t)k);
    memset(r, 0, sizeof *r);
    r->nworkers = 1 + (int)rng_below(&g, (uint64_t)(max_workers > 0 ? max_workers : 1));
    r->retries = (int)rng_below(&g, 3);
    r->nrules = (int)rng_below(&g, SOAK_MAX_RULES + 1);
    int conns = r->nworkers * (conns_per_worker > 1 ? conns_per_worker : 1);
    for (int i = 0; i < r->nrules; i++)
        draw_rule(&g, r->rules[i], sizeof r->rules[i], conns);
}

void soak_rules(const soak_round *r, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < r->nrules && used < len; i++) {
        int n = snprintf(buf + used, len - used, "%s%s", i ? ";" : "", r->rules[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static void without_rule(const soak_round *r, int drop, soak_round *out)
{
    *out = *r;
    out->nrules = 0;
    for (int i = 0; i < r->nrules; i++)
        if (i != drop)
            memcpy(out->rules[out->nrules++], r->rules[i], SOAK_RULE_LEN);
}

/* "when=N+K" → "when=N": one fault where there were many. Returns whether
 * rule changed. */
static bool single_fault(char *rule)
{
    char *w = strstr(rule, "when=");
    if (!w)
        return false;
    char *plus = strchr(w, '+');
    char *colon = strchr(w, ':');
    if (!plus || (colon && plus > colon))
        return false;
    char *rest = colon ? colon : plus + strlen(plus);
    memmove(plus, rest, strlen(rest) + 1);
    return true;
}

int soak_shrink(const soak_round *r, soak_round *out, int max)
{
    int n = 0;
    /* Delays first: a failure that needs no delay is the simpler story. */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < r->nrules && n < max; i++) {
            bool delay = strstr(r->rules[i], "delay=") != NULL;
            if (delay == (pass == 0))
                without_rule(r, i, &out[n++]);
        }
    for (int i = 0; i < r->nrules && n < max; i++) {
        out[n] = *r;
        if (single_fault(out[n].rules[i]))
            n++;
    }
    if (r->nworkers > 1 && n < max) {
        out[n] = *r;
        out[n++].nworkers = r->nworkers / 2 > 0 ? r->nworkers / 2 : 1;
    }
    if (r->nworkers > 2 && n < max) {
        out[n] = *r;
        out[n++].nworkers = r->nworkers - 1;
    }
    if (r->retries > 0 && n < max) {
        out[n] = *r;
        out[n++].retries = 0;
    }
    return n;
}

long soak_size(const soak_round *r)
{
    long s = (long)r->nworkers * 100 + r->retries * 10;
    for (int i = 0; i < r->nrules; i++)
        s += 1000 + (strstr(r->rules[i], "+") ? 500 : 0) + (strstr(r->rules[i], "delay=") ? 200 : 0);
    return s;
}
