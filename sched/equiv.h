/*
 * equiv.h — which schedule prefixes reach the same state, so that the
 * explorer's --faults runs one fault per state, not one per prefix.
 *
 * Two statements of different workers commute when both are quiet: a
 * statement is quiet when no other session can tell whether it ran (BEGIN,
 * SET, SHOW, a SELECT that takes no lock and calls nothing known to write).
 * Every other statement — a write, a lock, COMMIT, ROLLBACK — is ordered
 * against every statement of the others. Two prefixes that differ only by
 * swapping adjacent commuting statements (Mazurkiewicz trace equivalence)
 * leave the database and every client in the same state, so a fault after
 * either has the same outcome. Each prefix is reduced to its lexicographic
 * normal form (the least worker sequence in its class), which names the
 * class.
 *
 * The classification errs towards "not quiet": a statement it cannot read
 * as harmless is ordered. Its one blind spot is a SELECT of a user
 * function that writes; --every-prefix turns the reduction off.
 */
#ifndef PGRACE_EXPLORE_EQUIV_H
#define PGRACE_EXPLORE_EQUIV_H

#include <stdbool.h>

/* Is sql quiet (see above)? */
bool equiv_quiet(const char *sql);

/* Does quiet sql answer the same when run again with nobody writing
 * meanwhile: does it name no clock (now(), current_timestamp, ...), no
 * randomness and no statistics view? The scheduler tells a spinning worker
 * by it (sched.h). */
bool equiv_repeats(const char *sql);

/* A set of (prefix class, fault) keys. */
typedef struct equiv_set equiv_set;

equiv_set *equiv_new(void);
void equiv_free(equiv_set *s);

/* Adds the class of the prefix workers[0..n-1] (quiet[i]: step i is
 * quiet), with the fault (worker, action) that follows it. Returns 1 when
 * the key is new, 0 when its class was seen, -1 when out of memory. */
int equiv_add(equiv_set *s, const int *workers, const bool *quiet, int n, int fault_worker, int action);

#endif
