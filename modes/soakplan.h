/*
 * soakplan.h — what one soak round runs with, drawn from the seed, and how
 * a failing round is made smaller.
 *
 * A round is a short run of one (scenario, variant) with a random number of
 * workers, a random number of retries and random fault rules, one to
 * three rules (every action, COMMIT faults included). Everything comes from
 * (seed, round number), so any round can be drawn again by itself. The
 * shrinker proposes smaller variants of a failing round — fewer rules,
 * delays first; fewer faults per rule; fewer workers; fewer retries — and
 * the soak keeps each one that still fails.
 */
#ifndef PGRACE_SOAKPLAN_H
#define PGRACE_SOAKPLAN_H

#include "lib/rng.h"

#include <stdbool.h>
#include <stddef.h>

#define SOAK_MAX_RULES 3
#define SOAK_RULE_LEN 128

typedef struct soak_round {
    int nworkers;
    int retries;
    int nrules;
    char rules[SOAK_MAX_RULES][SOAK_RULE_LEN];
} soak_round;

/* Draws round number k of a soak with the given seed: 1..max_workers
 * workers, 0..2 retries, 0..3 rules over connections 1..conns. */
void soak_draw(soak_round *r, unsigned long long seed, long k, int max_workers, int conns_per_worker);

/* The round's fault rules ("" for none) into buf. */
void soak_rules(const soak_round *r, char *buf, size_t len);

/* Fills out with up to max smaller rounds than r, the most promising first
 * (removing a delay rule, removing any rule, one fault instead of many,
 * half the workers, one worker fewer, no retries). Returns how many. */
int soak_shrink(const soak_round *r, soak_round *out, int max);

/* A size for comparing rounds: smaller is simpler. */
long soak_size(const soak_round *r);

#endif
