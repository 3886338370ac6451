/*
 * check.c — what isolationtester checks once a spec is parsed, in its
 * order and words, and the interleavings it runs when no permutation is
 * listed.
 */
#include "isolation/spec.h"

#include "lib/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const spec_step *const *)a)->name, (*(const spec_step *const *)b)->name);
}

/* Every step, sorted by name; NULL when out of memory (or none). */
static const spec_step **sorted_steps(const spec *s, int *n)
{
    *n = 0;
    for (int i = 0; i < s->nsessions; i++)
        *n += s->sessions[i].nsteps;
    const spec_step **all = malloc(((size_t)*n + 1) * sizeof *all);
    if (!all)
        return NULL;
    int k = 0;
    for (int i = 0; i < s->nsessions; i++)
        for (int j = 0; j < s->sessions[i].nsteps; j++)
            all[k++] = s->sessions[i].steps[j];
    qsort(all, (size_t)*n, sizeof *all, by_name);
    return all;
}

const spec_step *spec_find_step(const spec *s, const char *name)
{
    for (int i = 0; i < s->nsessions; i++)
        for (int j = 0; j < s->sessions[i].nsteps; j++)
            if (strcmp(s->sessions[i].steps[j]->name, name) == 0)
                return s->sessions[i].steps[j];
    return NULL;
}

int spec_check(spec *s, char *err, size_t errlen)
{
    int n;
    const spec_step **all = sorted_steps(s, &n);
    if (!all) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 1; i < n; i++)
        if (strcmp(all[i - 1]->name, all[i]->name) == 0) {
            err_set(err, errlen, "duplicate step name: %s", all[i]->name);
            free(all);
            return -1;
        }
    free(all);
    for (int i = 0; i < s->nsessions; i++)
        for (int j = 0; j < s->sessions[i].nsteps; j++)
            s->sessions[i].steps[j]->session = i;

    for (int i = 0; i < s->nperms; i++) {
        spec_permutation *p = &s->perms[i];
        for (int j = 0; j < p->nsteps; j++) {
            spec_step *st = (spec_step *)spec_find_step(s, p->steps[j].name);
            if (!st) {
                err_set(err, errlen, "undefined step \"%s\" specified in permutation", p->steps[j].name);
                return -1;
            }
            st->used = true;
            p->steps[j].step = st;
        }
        /* Markers name steps of the same permutation, earlier or later. */
        for (int j = 0; j < p->nsteps; j++) {
            spec_pstep *ps = &p->steps[j];
            for (int k = 0; k < ps->nmarkers; k++) {
                spec_marker *m = &ps->markers[k];
                if (m->kind == SPEC_MARK_ONCE)
                    continue;
                m->step = NULL;
                for (int o = 0; o < p->nsteps && !m->step; o++)
                    if (strcmp(p->steps[o].name, m->step_name) == 0)
                        m->step = p->steps[o].step;
                if (!m->step) {
                    err_set(err, errlen, "undefined blocking step \"%s\" referenced in permutation step \"%s\"",
                            m->step_name, ps->name);
                    return -1;
                }
                if (m->step->session == ps->step->session) {
                    err_set(err, errlen, "permutation step \"%s\" cannot block on its own session", ps->name);
                    return -1;
                }
            }
        }
    }
    /* pgrace's own items: names that reports tell apart. */
    for (int i = 0; i < s->ninvariants; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(s->invariants[i].name, s->invariants[j].name) == 0) {
                err_set(err, errlen, "duplicate invariant name: %s", s->invariants[i].name);
                return -1;
            }
    for (int i = 0; i < s->nsettings; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(s->settings[i].name, s->settings[j].name) == 0) {
                err_set(err, errlen, "duplicate setting: %s", s->settings[i].name);
                return -1;
            }
    return 0;
}

int spec_unused_steps(const spec *s, const spec_step ***out)
{
    int n, k = 0;
    const spec_step **all = sorted_steps(s, &n);
    if (!all)
        return -1;
    for (int i = 0; i < n; i++)
        if (!all[i]->used)
            all[k++] = all[i];
    *out = all;
    return k;
}

long spec_count_all(const spec *s, long limit)
{
    /* The multinomial (n1+...+nk)! / (n1! ... nk!), built one session at a
     * time as a product of binomials, saturating. */
    long total = 1;
    int placed = 0;
    for (int i = 0; i < s->nsessions; i++) {
        int m = s->sessions[i].nsteps;
        /* binomial(placed + m, m), computed incrementally and exactly */
        long b = 1;
        for (int j = 1; j <= m; j++) {
            b = b * (placed + j) / j;
            if (b > limit)
                return limit;
        }
        if (b > 0 && total > limit / b)
            return limit;
        total *= b;
        placed += m;
    }
    return total;
}

typedef struct walk {
    const spec *s;
    int *piles;             /* steps taken from each session so far */
    spec_pstep *steps;
    int nsteps;
    spec_perm_fn fn;
    void *arg;
} walk;

/* isolationtester's order: the first session with steps left goes first,
 * recursively. */
static int recurse(walk *w, int depth)
{
    bool found = false;
    for (int i = 0; i < w->s->nsessions; i++) {
        const spec_session *se = &w->s->sessions[i];
        if (w->piles[i] >= se->nsteps)
            continue;
        const spec_step *st = se->steps[w->piles[i]];
        w->steps[depth] = (spec_pstep){ .name = st->name, .step = st };
        w->piles[i]++;
        int rc = recurse(w, depth + 1);
        w->piles[i]--;
        if (rc)
            return rc;
        found = true;
    }
    return found ? 0 : w->fn(w->arg, w->steps, depth);
}

int spec_each_permutation(const spec *s, spec_perm_fn fn, void *arg)
{
    walk w = { .s = s, .fn = fn, .arg = arg };
    for (int i = 0; i < s->nsessions; i++)
        w.nsteps += s->sessions[i].nsteps;
    w.piles = calloc((size_t)s->nsessions + 1, sizeof *w.piles);
    w.steps = calloc((size_t)w.nsteps + 1, sizeof *w.steps);
    int rc = w.piles && w.steps ? recurse(&w, 0) : -1;
    free(w.piles);
    free(w.steps);
    return rc;
}

void spec_fault_text(const spec_fault *f, char *out, size_t len)
{
    switch (f->kind) {
    case SPEC_FAULT_ERROR: snprintf(out, len, "[error=%s]", f->sqlstate); break;
    case SPEC_FAULT_DROP: snprintf(out, len, "[drop]"); break;
    case SPEC_FAULT_AMBIGUOUS: snprintf(out, len, "[ambiguous]"); break;
    default: snprintf(out, len, "%s", ""); break;
    }
}
