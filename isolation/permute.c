/* permute.c — the permutations pgrace spec runs (see permute.h). */
#include "isolation/permute.h"

#include "sched/strategy.h"
#include "lib/err.h"

#include <stdlib.h>
#include <string.h>

/* Appends a copy of steps (with fault f on step at, unless at < 0). */
static int append(spec_perm_set *set, int *cap, const spec_pstep *steps, int n, int at, const spec_fault *f, int max)
{
    if (set->n == max)
        return -1;
    if (set->n == *cap) {
        int c = *cap ? 2 * *cap : 16;
        spec_permutation *p = realloc(set->perms, (size_t)c * sizeof *p);
        if (!p)
            return -1;
        set->perms = p;
        *cap = c;
    }
    spec_pstep *copy = malloc((size_t)(n ? n : 1) * sizeof *copy);
    if (!copy)
        return -1;
    memcpy(copy, steps, (size_t)n * sizeof *copy);
    if (at >= 0)
        copy[at].fault = *f;
    set->perms[set->n++] = (spec_permutation){ .steps = copy, .nsteps = n };
    return 0;
}

typedef struct adder {
    spec_perm_set *set;
    int *cap, max;
} adder;

static int add_one(void *arg, const spec_pstep *steps, int nsteps)
{
    adder *a = arg;
    return append(a->set, a->cap, steps, nsteps, -1, NULL, a->max);
}

/* Every interleaving of s's sessions' steps under bound, through the
 * explorer's enumeration: each session is a "worker" whose next step is
 * runnable until it has none. */
static int interleavings(const spec *s, int bound, spec_perm_set *set, int *cap, int max)
{
    int total = 0;
    for (int i = 0; i < s->nsessions; i++)
        total += s->sessions[i].nsteps;
    if (s->nsessions > 32 || total > SCHED_MAX_STEPS)
        return -1;
    spec_pstep *steps = calloc((size_t)total + 1, sizeof *steps);
    int *done = calloc((size_t)s->nsessions + 1, sizeof *done);
    dfs *d = dfs_new(bound);
    int rc = steps && done && d ? 0 : -1;
    do {
        memset(done, 0, (size_t)s->nsessions * sizeof *done);
        int n = 0, last = -1;
        for (; rc == 0; n++) {
            uint32_t runnable = 0;
            for (int i = 0; i < s->nsessions; i++)
                runnable |= done[i] < s->sessions[i].nsteps ? 1u << i : 0;
            if (!runnable)
                break;
            int c = dfs_choose(d, n, runnable, last);
            const spec_step *st = s->sessions[c].steps[done[c]++];
            steps[n] = (spec_pstep){ .name = st->name, .step = st };
            last = c;
        }
        if (rc == 0)
            rc = append(set, cap, steps, n, -1, NULL, max);
    } while (rc == 0 && dfs_next(d));
    if (d)
        set->pruned = dfs_counts_of(d).pruned;
    dfs_free(d);
    free(done);
    free(steps);
    return rc;
}

int spec_perm_set_build(const spec *s, bool explore, int bound, bool faults, int max, spec_perm_set *out, char *err,
                        size_t errlen)
{
    memset(out, 0, sizeof *out);
    int cap = 0, rc = 0;
    if (explore) {
        rc = interleavings(s, bound, out, &cap, max);
    } else if (s->nperms) {
        for (int i = 0; i < s->nperms && rc == 0; i++)
            rc = append(out, &cap, s->perms[i].steps, s->perms[i].nsteps, -1, NULL, max);
    } else {
        /* isolationtester's own set and order. */
        adder a = { out, &cap, max };
        rc = spec_each_permutation(s, add_one, &a);
    }
    out->base = out->n;
    static const spec_fault actions[] = {
        { .kind = SPEC_FAULT_ERROR, .sqlstate = "40001" }, { .kind = SPEC_FAULT_DROP }, { .kind = SPEC_FAULT_AMBIGUOUS },
    };
    for (int p = 0; faults && rc == 0 && p < out->base; p++)
        for (int k = 0; rc == 0 && k < out->perms[p].nsteps; k++) {
            if (out->perms[p].steps[k].fault.kind != SPEC_FAULT_NONE)
                continue;       /* the spec's own fault stays */
            for (size_t a = 0; rc == 0 && a < sizeof actions / sizeof actions[0]; a++)
                rc = append(out, &cap, out->perms[p].steps, out->perms[p].nsteps, k, &actions[a], max);
        }
    if (rc < 0) {
        err_set(err, errlen, out->n == max ? "more than %d permutations to run; list the permutations, or bound "
                                             "--explore with --preemptions" : "out of memory", max);
        spec_perm_set_free(out);
        return -1;
    }
    return 0;
}

void spec_perm_set_free(spec_perm_set *set)
{
    for (int i = 0; i < set->n; i++)
        free(set->perms[i].steps);
    free(set->perms);
    memset(set, 0, sizeof *set);
}
