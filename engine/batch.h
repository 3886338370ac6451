/*
 * batch.h — a scenario's declared SQL on the control connection: its
 * setup_sql and every invariant's queries, prepared once per run; each
 * iteration's setup one round trip, and the queries of all its invariants
 * one more (sent together in libpq's pipeline mode), whatever their
 * number.
 */
#ifndef PGRACE_BATCH_H
#define PGRACE_BATCH_H

#include "engine/scenario.h"

#include <libpq-fe.h>
#include <stddef.h>

typedef struct batch {
    PGconn *ctl;
    const scenario *s;
    int nq;                     /* distinct declared queries */
    const char **sql;           /* [nq] */
    int (*of)[SCENARIO_MAX_QUERIES];    /* [ninvariants]: each declared query's index in sql, -1 past the last */
    PGresult **res;             /* [nq]: the latest iteration's results */
    int prepared;               /* statements prepared so far: setup first, when declared, then sql */
} batch;

/* Prepares s's setup_sql and its invariants' queries on ctl (the schema
 * must hold s's tables). Returns 0, or -1 with a reason (b is then freed). */
int batch_prepare(batch *b, PGconn *ctl, const scenario *s, char *err, size_t errlen);

/* Creates iteration's rows: setup_sql, or the scenario's setup function,
 * with the iteration's salt (scenario.h). Returns 0 or -1. */
int batch_setup(batch *b, long iteration, int nworkers, long salt, char *err, size_t errlen);

/* Runs every declared query for iteration, in one round trip; the results
 * stay until the next call or batch_free. Returns 0 or -1. */
int batch_queries(batch *b, long iteration, char *err, size_t errlen);

/* The latest results of invariant k's declared queries, into rows (NULL
 * past the last). */
void batch_rows(const batch *b, int k, const PGresult **rows);

/* Frees the results and deallocates the statements (errors ignored: the
 * control connection may be gone). */
void batch_free(batch *b);

#endif
