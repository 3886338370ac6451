/*
 * dfs.c — every schedule under a preemption bound, depth-first (see
 * strategy.h).
 *
 * Stateless model checking: the enumeration keeps only the path of the last
 * round — at each choice point, who could go (runnable), who went (chosen)
 * and which choices were already tried there — and no snapshot of any
 * state. The next schedule replays the path up to the deepest point with an
 * untried choice that the bound allows, takes that choice, and continues by
 * default; the number and order of a worker's statements may depend on
 * what the server answered, so choice points are discovered as a round
 * goes, never assumed.
 */
#include "sched/strategy.h"

#include <stdlib.h>
#include <string.h>

int strategy_default(uint32_t runnable, int last)
{
    if (last >= 0 && (runnable & (1u << last)))
        return last;
    for (int i = 0; i < 32; i++)
        if (runnable & (1u << i))
            return i;
    return -1;
}

bool strategy_preempts(uint32_t runnable, int last, int c)
{
    return last >= 0 && c != last && (runnable & (1u << last));
}

typedef struct node {
    uint32_t runnable;
    int chosen;
    uint32_t tried;
    int preemptions;            /* preemptive choices up to and including this one */
} node;

struct dfs {
    int bound;
    node path[SCHED_MAX_STEPS];
    int depth;                  /* points recorded by the current round */
    int prefix;                 /* points the current round replays (the last one is the new choice) */
    dfs_counts counts;
};

dfs *dfs_new(int bound)
{
    dfs *d = calloc(1, sizeof *d);
    if (d)
        d->bound = bound;
    return d;
}

void dfs_free(dfs *d) { free(d); }

int dfs_choose(void *arg, int step, uint32_t runnable, int last)
{
    dfs *d = arg;
    if (step >= SCHED_MAX_STEPS)
        return -1;
    node *n = &d->path[step];
    int c;
    if (step < d->prefix) {
        /* Replaying: the same point must offer the same choices. */
        if (n->runnable != runnable)
            return -1;
        c = n->chosen;
    } else {
        c = strategy_default(runnable, last);
        *n = (node){ .runnable = runnable, .chosen = c, .tried = 1u << c };
    }
    n->preemptions = (step ? d->path[step - 1].preemptions : 0) + strategy_preempts(runnable, last, c);
    d->depth = step + 1;
    return c;
}

bool dfs_next(dfs *d)
{
    d->counts.schedules++;
    for (int i = d->depth - 1; i >= 0; i--) {
        node *n = &d->path[i];
        int last = i ? d->path[i - 1].chosen : -1;
        int before = i ? d->path[i - 1].preemptions : 0;
        for (int a = 0; a < 32; a++) {
            uint32_t bit = 1u << a;
            if (!(n->runnable & bit) || (n->tried & bit))
                continue;
            n->tried |= bit;
            if (d->bound >= 0 && before + strategy_preempts(n->runnable, last, a) > d->bound) {
                d->counts.pruned++;
                continue;
            }
            n->chosen = a;
            d->prefix = i + 1;
            d->depth = i + 1;
            return true;
        }
    }
    d->counts.exhausted = true;
    return false;
}

void dfs_note_divergence(dfs *d) { d->counts.diverged++; }

int dfs_path(const dfs *d, int *out, int max)
{
    int n = d->depth < max ? d->depth : max;
    for (int i = 0; i < n; i++)
        out[i] = d->path[i].chosen;
    return n;
}

int dfs_fresh(const dfs *d) { return d->prefix ? d->prefix - 1 : 0; }

dfs_counts dfs_counts_of(const dfs *d) { return d->counts; }
