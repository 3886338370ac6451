/* mutant.c — removing pinned guarantees: minus variants and the mutation build (see mutant.h). */
#include "engine/mutant.h"

#include "lib/err.h"
#include "lib/pq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool mutant_build(void)
{
#ifdef PGRACE_MUTANTS
    return true;
#else
    return false;
#endif
}

/* The mutant's pin when it belongs to s, else NULL. */
static const scenario_pin *mutant_pin(const scenario *s)
{
    const char *m = mutant_build() ? getenv("PGRACE_MUTANT") : NULL;
    size_t n = strlen(s->name);
    if (!m || strncmp(m, s->name, n) != 0 || m[n] != '/')
        return NULL;
    for (int i = 0; i < s->npins; i++)
        if (strcmp(s->pins[i].name, m + n + 1) == 0)
            return &s->pins[i];
    return NULL;
}

int mutant_check(const scenario *const *registry, char *err, size_t errlen)
{
    const char *m = mutant_build() ? getenv("PGRACE_MUTANT") : NULL;
    if (!m || !*m)
        return 0;
    for (int i = 0; registry[i]; i++)
        if (mutant_pin(registry[i]))
            return 0;
    err_set(err, errlen, "PGRACE_MUTANT=%s names no pinned guarantee (pgrace list shows them as SCENARIO/PIN)", m);
    return -1;
}

/* Whether v's minus list names pin. */
static bool minus_names(const scenario_variant *v, const char *pin)
{
    for (int i = 0; i < SCENARIO_MAX_MINUS && v->minus[i]; i++)
        if (strcmp(v->minus[i], pin) == 0)
            return true;
    return false;
}

bool mutant_removes(const scenario *s, const scenario_variant *v, const char *pin)
{
    if (minus_names(v, pin))
        return true;
    if (!mutant_build())
        return false;
    bool declared = false;
    for (int i = 0; i < s->npins && !declared; i++)
        declared = strcmp(s->pins[i].name, pin) == 0;
    if (!declared) {
        /* A GUARANTEE the scenario does not list: t/55-pins.t would never
         * remove it, so it must not exist. */
        fprintf(stderr, "pgrace: scenario %s uses GUARANTEE(\"%s\") but lists no such pin\n", s->name, pin);
        abort();
    }
    const scenario_pin *p = mutant_pin(s);
    return p && strcmp(p->name, pin) == 0;
}

int mutant_unpin(const scenario *s, const scenario_variant *v, PGconn *ctl, char *err, size_t errlen)
{
    const scenario_pin *mutant = mutant_pin(s);
    for (int i = 0; i < s->npins; i++) {
        const scenario_pin *p = &s->pins[i];
        bool removed = p == mutant || minus_names(v, p->name);
        if (removed && p->unpin_sql && pqx_ctl_exec(ctl, p->unpin_sql, err, errlen) < 0)
            return -1;
    }
    return 0;
}
