/*
 * strategy.h — who goes next: the explorer's three ways of choosing at a
 * choice point, each a sched_choose_fn with its state.
 *
 *   dfs     every schedule under a bound on preemptive switches (CHESS,
 *           Loom), depth-first, stateless: each schedule is a fresh round
 *           replaying a prefix of the last one and then one untried choice;
 *   pct     randomized priorities with d-1 change points (Burckhardt et
 *           al., ASPLOS 2010), seeded;
 *   replay  one schedule given as a token.
 *
 * A choice is preemptive when it switches away from the worker chosen last
 * while that worker could have gone on. The default continuation (what a
 * schedule does past its prefix) never preempts: the last worker goes on
 * while it can, else the lowest-numbered one that can.
 */
#ifndef PGRACE_STRATEGY_H
#define PGRACE_STRATEGY_H

#include "sched/sched.h"

#include <stdbool.h>
#include <stdint.h>

/* The default continuation's choice. */
int strategy_default(uint32_t runnable, int last);

/* Whether choosing c at a point with runnable after last preempts. */
bool strategy_preempts(uint32_t runnable, int last, int c);

/* ---- dfs ---- */

typedef struct dfs dfs;

/* A depth-first enumeration with at most bound preemptions per schedule
 * (bound < 0: no bound). Returns NULL when out of memory. */
dfs *dfs_new(int bound);
void dfs_free(dfs *d);

/* sched_choose_fn over a dfs (arg). */
int dfs_choose(void *arg, int step, uint32_t runnable, int last);

/* After a round: moves to the next schedule. Returns false when the space
 * under the bound is exhausted. */
bool dfs_next(dfs *d);

/* The last round's choices (at most max into out); returns how many. */
int dfs_path(const dfs *d, int *out, int max);

/* The first choice point the last round took freshly (past the prefix it
 * replayed): the points from there on are new nodes of the schedule tree. */
int dfs_fresh(const dfs *d);

typedef struct dfs_counts {
    long schedules;             /* rounds run (dfs_next calls) */
    long pruned;                /* alternatives not taken: they exceed the bound */
    long diverged;              /* rounds whose prefix could not be replayed */
    bool exhausted;
} dfs_counts;

dfs_counts dfs_counts_of(const dfs *d);

/* The last round diverged from its prefix (the server did not behave as
 * before): counted, and the enumeration goes on from the next choice. */
void dfs_note_divergence(dfs *d);

/* ---- pct ---- */

typedef struct pct pct;

/* PCT over n workers with d priority change points (d >= 1), seeded. */
pct *pct_new(int nworkers, int depth, uint64_t seed);
void pct_free(pct *p);

/* Before round r: draws the round's priorities and change points among the
 * first k choice points (k: the longest schedule seen, at least 1). */
void pct_begin(pct *p, long round, int k);

/* sched_choose_fn over a pct (arg). */
int pct_choose(void *arg, int step, uint32_t runnable, int last);

/* ---- replay ---- */

/* A schedule to replay: its choices, its fault (worker < 0: none), and the
 * digest of the statements it let go (sched_digest) when the token has
 * one. */
typedef struct schedule {
    int choices[SCHED_MAX_STEPS];
    int n;
    sched_fault fault;
    bool has_digest;
    uint32_t digest;
} schedule;

/* Parses a token ("s=1212", "s=1.2.10;f=2:3:ambiguous", "s=1212;h=9f86d081")
 * for nworkers workers. Returns 0, or -1 with a reason. */
int schedule_parse(const char *token, int nworkers, schedule *out, char *err, size_t errlen);

/* sched_choose_fn replaying a schedule (arg): its choice at each point, -1
 * when the point's runnable set lacks it (divergence); past its end, the
 * default continuation. */
int schedule_choose(void *arg, int step, uint32_t runnable, int last);

/* The fault action's name in tokens: "error", "drop", "ambiguous". */
const char *schedule_action_name(int action);

#endif
