/*
 * permute.h — the permutations `pgrace spec` runs for a spec: the listed
 * ones (or every interleaving when none is listed, as isolationtester
 * does); with --explore every interleaving of the sessions' steps, bounded
 * by preemptions like `pgrace explore` (explore/dfs.c enumerates them);
 * with --faults each of those again with one fault (error=40001, drop,
 * ambiguous) on each of its steps in turn.
 */
#ifndef PGRACE_SPEC_PERMUTE_H
#define PGRACE_SPEC_PERMUTE_H

#include "isolation/spec.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct spec_perm_set {
    spec_permutation *perms;    /* owned arrays of steps; names and markers point into the spec */
    int n;
    int base;                   /* permutations before faults */
    long pruned;                /* --explore with a bound: interleavings left out */
} spec_perm_set;

/* Builds s's set: explore (bound < 0: none), faults; at most max entries.
 * Returns 0, or -1 with a reason (too many, out of memory). */
int spec_perm_set_build(const spec *s, bool explore, int bound, bool faults, int max, spec_perm_set *out, char *err,
                        size_t errlen);

void spec_perm_set_free(spec_perm_set *set);

#endif
