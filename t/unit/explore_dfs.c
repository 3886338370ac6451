/*
 * explore_dfs.c — the explorer's enumerations on their own, against known
 * counts, with simulated workers (no server): steps that are independent,
 * and steps that block on a lock another worker holds.
 *
 * Counts: two workers with three independent steps each have C(6,3) = 20
 * schedules, 2 with no preemption; three workers with two steps each have
 * 6!/(2!2!2!) = 90. With a bound, the expected count comes from a brute
 * force over every interleaving written independently here.
 */
#include "t/unit/check.h"

#include "sched/strategy.h"
#include "faults/pgfault.h"

#include <stdio.h>
#include <string.h>

/* A simulated worker: steps; step `lock_at` takes a lock (blocks while
 * another worker holds it) and step `unlock_at` releases it (-1: none). */
typedef struct prog {
    int steps, lock_at, unlock_at;
} prog;

/* Runs one round of progs under choose; fills seq (the workers in grant
 * order). Returns the number of grants, or -1 when choose gave up. */
static int simulate(const prog *progs, int n, sched_choose_fn choose, void *arg, int *seq)
{
    int done[8] = { 0 }, holder = -1, waiting[8] = { 0 }, len = 0, last = -1;
    for (int step = 0;; step++) {
        uint32_t runnable = 0;
        for (int w = 0; w < n; w++) {
            if (waiting[w] && holder < 0) {     /* the lock is free: its wait ends, the step completes */
                holder = w;
                waiting[w] = 0;
                done[w]++;
            }
            if (done[w] < progs[w].steps && !waiting[w])
                runnable |= 1u << w;
        }
        if (!runnable)
            return len;
        int c = choose(arg, step, runnable, last);
        if (c < 0)
            return -1;
        seq[len++] = c;
        last = c;
        if (done[c] == progs[c].lock_at && holder >= 0 && holder != c) {
            waiting[c] = 1;                     /* granted, then blocked */
            continue;
        }
        if (done[c] == progs[c].lock_at)
            holder = c;
        if (done[c] == progs[c].unlock_at)
            holder = -1;
        done[c]++;
    }
}

/* Every schedule dfs visits under bound; returns how many, and checks each
 * is new. */
static long explore(const prog *progs, int n, int bound, long *pruned, int *distinct)
{
    static int seen[4096][16];
    static int seen_len[4096];
    long count = 0;
    *distinct = 1;
    dfs *d = dfs_new(bound);
    do {
        int seq[64];
        int len = simulate(progs, n, dfs_choose, d, seq);
        for (long k = 0; k < count && k < 4096; k++)
            if (seen_len[k] == len && memcmp(seen[k], seq, sizeof(int) * (size_t)len) == 0)
                *distinct = 0;
        if (count < 4096) {
            memcpy(seen[count], seq, sizeof(int) * (size_t)len);
            seen_len[count] = len;
        }
        count++;
    } while (dfs_next(d) && count < 100000);
    *pruned = dfs_counts_of(d).pruned;
    int exhausted = dfs_counts_of(d).exhausted;
    dfs_free(d);
    return exhausted ? count : -1;
}

/* Brute force: a chooser that follows a prefix of choices and says whether
 * the prefix was allowed and whether the round went past it. */
typedef struct brute {
    int choices[64], len;
    bool bad, incomplete;
} brute;

static int brute_choose(void *arg, int step, uint32_t runnable, int last)
{
    (void)last;
    brute *b = arg;
    if (step < b->len) {
        b->bad = !(runnable & (1u << b->choices[step]));
        return b->bad ? -1 : b->choices[step];
    }
    b->incomplete = true;
    return -1;
}

/* A chooser that replays seq and records each point's runnable set, to
 * count preemptions exactly as the enumeration defines them. */
typedef struct recorder {
    const int *seq;
    int len, pre;
} recorder;

static int record_choose(void *arg, int step, uint32_t runnable, int last)
{
    recorder *r = arg;
    if (step >= r->len)
        return -1;
    r->pre += strategy_preempts(runnable, last, r->seq[step]);
    return r->seq[step];
}

/* Enumerates every complete schedule by brute force and counts those with
 * at most bound preemptions. */
static long brute_bounded(const prog *progs, int n, int bound)
{
    long count = 0;
    int choices[64];
    /* An explicit stack over the choice tree. */
    int depth = 0, next[64] = { 0 };
    for (;;) {
        if (next[depth] >= n) {
            if (depth == 0)
                break;
            depth--;
            next[depth]++;
            continue;
        }
        choices[depth] = next[depth];
        brute probe = { .len = depth + 1 };
        memcpy(probe.choices, choices, sizeof(int) * (size_t)(depth + 1));
        int seq[64];
        int got = simulate(progs, n, brute_choose, &probe, seq);
        if (probe.bad) {            /* choice not allowed here */
            next[depth]++;
            continue;
        }
        if (got >= 0) {             /* complete */
            recorder r = { seq, got, 0 };
            int again[64];
            simulate(progs, n, record_choose, &r, again);
            if (bound < 0 || r.pre <= bound)
                count++;
            next[depth]++;
            continue;
        }
        depth++;                    /* incomplete: go deeper */
        next[depth] = 0;
    }
    return count;
}

int main(void)
{
    long pruned;
    int distinct;
    prog three[2] = { { 3, -1, -1 }, { 3, -1, -1 } };

    CHECK(explore(three, 2, -1, &pruned, &distinct) == 20 && distinct,
          "2 workers x 3 independent steps, no bound: C(6,3) = 20 distinct schedules");
    long bounded = explore(three, 2, 0, &pruned, &distinct);
    CHECK(bounded == 2 && distinct && pruned > 0, "the same with bound 0: 2 schedules (%ld alternatives pruned)",
          pruned);
    for (int k = 1; k <= 3; k++) {
        long want = brute_bounded(three, 2, k), got = explore(three, 2, k, &pruned, &distinct);
        CHECK(got == want && distinct, "bound %d: %ld schedules, as the brute force counts (%ld)", k, got, want);
    }
    prog two[3] = { { 2, -1, -1 }, { 2, -1, -1 }, { 2, -1, -1 } };
    CHECK(explore(two, 3, -1, &pruned, &distinct) == 90 && distinct,
          "3 workers x 2 steps, no bound: 6!/(2!2!2!) = 90 schedules");
    long want = brute_bounded(two, 3, 2), got = explore(two, 3, 2, &pruned, &distinct);
    CHECK(got == want, "3 workers x 2 steps, bound 2: %ld, brute force %ld", got, want);

    /* A lock: step 0 takes it, step 2 releases it; a worker granted its
     * lock step while the other holds it blocks until the release. */
    prog locking[2] = { { 3, 0, 2 }, { 3, 0, 2 } };
    want = brute_bounded(locking, 2, -1);
    got = explore(locking, 2, -1, &pruned, &distinct);
    CHECK(got == want && distinct, "two lockers: %ld schedules (brute force %ld): blocked workers leave the "
          "runnable set", got, want);

    /* Replay: a schedule's token replays it exactly. */
    dfs *d = dfs_new(-1);
    int replayed = 1, n = 0;
    do {
        int seq[64], again[64];
        int len = simulate(three, 2, dfs_choose, d, seq);
        char token[80] = "s=";
        for (int i = 0; i < len; i++)
            snprintf(token + strlen(token), sizeof token - strlen(token), "%d", seq[i] + 1);
        schedule s;
        char err[200];
        if (schedule_parse(token, 2, &s, err, sizeof err) < 0 ||
            simulate(three, 2, schedule_choose, &s, again) != len || memcmp(seq, again, sizeof(int) * (size_t)len))
            replayed = 0;
        n++;
    } while (dfs_next(d));
    dfs_free(d);
    CHECK(replayed && n == 20, "each of the 20 schedules' tokens replays it exactly");

    schedule s;
    char err[200];
    CHECK(schedule_parse("s=1122121;f=2:4:ambiguous", 2, &s, err, sizeof err) == 0 && s.n == 7 &&
          s.fault.worker == 1 && s.fault.nth == 4 && s.fault.action == PGF_GATE_AMBIGUOUS,
          "a token with a fault parses");
    CHECK(schedule_parse("s=1.10.2", 12, &s, err, sizeof err) == 0 && s.n == 3 && s.choices[1] == 9,
          "dotted tokens for more than 9 workers");
    CHECK(schedule_parse("s=13", 2, &s, err, sizeof err) < 0 && strstr(err, "workers are 1..2"),
          "a worker out of range is refused: %s", err);
    CHECK(schedule_parse("x=12", 2, &s, err, sizeof err) < 0 && schedule_parse("s=12;f=1:0:drop", 2, &s, err,
          sizeof err) < 0 && schedule_parse("s=12;f=1:1:melt", 2, &s, err, sizeof err) < 0,
          "malformed tokens and faults are refused");
    int seq[64];
    schedule_parse("s=21", 2, &s, err, sizeof err);
    CHECK(simulate(three, 2, schedule_choose, &s, seq) == 6 && seq[0] == 1 && seq[1] == 0 && seq[2] == 0,
          "past its end a replay continues by default (the last worker goes on)");
    prog blocked[2] = { { 3, 0, 2 }, { 3, 0, 2 } };
    schedule_parse("s=122", 2, &s, err, sizeof err);
    CHECK(simulate(blocked, 2, schedule_choose, &s, seq) == -1,
          "a replay that asks for a worker blocked on the other's lock gives up");

    /* PCT: seeded, every choice runnable, both orders reached. */
    pct *p = pct_new(2, 2, 42), *q = pct_new(2, 2, 42);
    int first_w0 = 0, first_w1 = 0, same = 1;
    for (long r = 0; r < 200; r++) {
        int a[64], b[64];
        pct_begin(p, r, 6);
        pct_begin(q, r, 6);
        int la = simulate(three, 2, pct_choose, p, a), lb = simulate(three, 2, pct_choose, q, b);
        same &= la == lb && memcmp(a, b, sizeof(int) * (size_t)la) == 0;
        first_w0 += a[0] == 0;
        first_w1 += a[0] == 1;
    }
    pct_free(p);
    pct_free(q);
    CHECK(same, "pct: the same seed gives the same schedules");
    CHECK(first_w0 > 0 && first_w1 > 0, "pct: both workers go first in some rounds (%d, %d)", first_w0, first_w1);
    return check_done();
}
