/*
 * pct_rounds.h — PCT scheduling for soak rounds (pgrace soak --strategy
 * pct): a scheduler in control of every iteration of a drive, with fresh
 * priorities and change points each time.
 */
#ifndef PGRACE_PCT_ROUNDS_H
#define PGRACE_PCT_ROUNDS_H

#include "engine/drive.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct pct_rounds pct_rounds;

/* For drives of up to max_workers workers, on the control connection ctl
 * (pooled: the workers go through a pooler, sched_new); bound: how long a
 * statement may be neither done nor blocked. Installs the shim's gate.
 * Returns NULL with a reason. */
pct_rounds *pct_rounds_new(PGconn *ctl, bool pooled, int max_workers, int depth, uint64_t seed, int64_t bound,
                           char *err, size_t errlen);

/* Puts a's drive (its nworkers from a->settings) under PCT: sets its
 * control and hooks (a must have none of its own). */
void pct_rounds_attach(pct_rounds *p, drive_args *a);

/* The longest schedule seen (k of PCT's bound), and rounds scheduled. */
int pct_rounds_k(const pct_rounds *p);
long pct_rounds_count(const pct_rounds *p);

/* Removes the gate and frees p. */
void pct_rounds_free(pct_rounds *p);

#endif
