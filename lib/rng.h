/*
 * rng.h — seeded pseudo-random numbers (xoshiro256**, seeded by splitmix64).
 *
 * Everything random in a run derives from one seed, so a run can be
 * repeated. An rng is owned by one thread; derive a stream per worker with
 * rng_init(&r, seed, stream) instead of sharing one.
 */
#ifndef PGRACE_RNG_H
#define PGRACE_RNG_H

#include <stdint.h>

typedef struct rng { uint64_t s[4]; } rng;

/* Seeds r from (seed, stream): the same pair always gives the same sequence,
 * different streams give independent sequences. */
void rng_init(rng *r, uint64_t seed, uint64_t stream);
uint64_t rng_next(rng *r);
/* Uniform in [0, n); n > 0. */
uint64_t rng_below(rng *r, uint64_t n);
/* Uniform in [0, 1). */
double rng_unit(rng *r);

/* A fresh seed from the OS, for runs that were given none. */
uint64_t rng_fresh_seed(void);

#endif
