/*
 * pct.c — probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi,
 * Nagarakatte, ASPLOS 2010), see strategy.h.
 *
 * Each round gives the n workers distinct random priorities above d, and
 * picks d-1 change points among the first k choice points; the runnable
 * worker with the highest priority goes; at the i-th change point the
 * worker that went last drops to priority d-i. A bug of depth d is then
 * hit by a round with probability at least 1/(n * k^(d-1)).
 */
#include "sched/strategy.h"

#include "lib/rng.h"

#include <stdlib.h>

#define PCT_MAX_DEPTH 8

struct pct {
    int n, depth;
    uint64_t seed;
    int priority[SCHED_MAX_WORKERS];
    int change[PCT_MAX_DEPTH];  /* change points (choice point numbers), -1: unused */
};

pct *pct_new(int nworkers, int depth, uint64_t seed)
{
    pct *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->n = nworkers;
    p->depth = depth < 1 ? 1 : depth > PCT_MAX_DEPTH ? PCT_MAX_DEPTH : depth;
    p->seed = seed;
    return p;
}

void pct_free(pct *p) { free(p); }

void pct_begin(pct *p, long round, int k)
{
    rng r;
    rng_init(&r, p->seed, (uint64_t)round + 1);
    /* A random permutation of d+1 .. d+n. */
    for (int i = 0; i < p->n; i++)
        p->priority[i] = p->depth + 1 + i;
    for (int i = p->n - 1; i > 0; i--) {
        int j = (int)rng_below(&r, (uint64_t)i + 1), t = p->priority[i];
        p->priority[i] = p->priority[j];
        p->priority[j] = t;
    }
    for (int i = 0; i < PCT_MAX_DEPTH; i++)
        p->change[i] = i < p->depth - 1 ? (int)rng_below(&r, (uint64_t)(k < 1 ? 1 : k)) : -1;
}

int pct_choose(void *arg, int step, uint32_t runnable, int last)
{
    pct *p = arg;
    for (int i = 0; i < p->depth - 1; i++)
        if (p->change[i] == step && last >= 0)
            p->priority[last] = p->depth - 1 - i;
    int best = -1;
    for (int w = 0; w < p->n; w++)
        if ((runnable & (1u << w)) && (best < 0 || p->priority[w] > p->priority[best]))
            best = w;
    return best;
}
