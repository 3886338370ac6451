/*
 * oracle.h — the serial oracle for spec files (`pgrace spec --oracle
 * serial`), judged by engine/oracle.h: the unit is a transaction.
 *
 * A permutation's transactions are read from how it ran: a session's steps
 * from one where its session was idle (or from its setup) to the next
 * where it is idle again are one transaction. A transaction is out (in no
 * order: the server failed it, or a step fault did) when one of its steps
 * returned an error or its COMMIT answered ROLLBACK, or a step was faulted
 * with an error or a drop; maybe when a step was faulted ambiguous (it ran,
 * the connection was lost) or lost its connection otherwise; in otherwise.
 * A serial order runs the transactions one after the other, each session's
 * in its order, through the same runner: the spec's setup, each session's
 * setup just before its first step, the steps without markers or faults,
 * and the spec's tables read before the teardown. What is compared: those
 * tables (engine/state.h) and each transaction's steps' results (their
 * result tables and errors, without the padding; not the <waiting ...>
 * lines, notices and NOTIFY lines, which depend on timing).
 */
#ifndef PGRACE_SPEC_ORACLE_H
#define PGRACE_SPEC_ORACLE_H

#include "engine/oracle.h"
#include "isolation/run.h"
#include "isolation/spec.h"

#include <stdio.h>

typedef struct spec_oracle spec_oracle;

/* The oracle of spec s, running its serial orders on r (whose output goes
 * to sink meanwhile), comparing what opts says (NULL: every table, each
 * column as the catalog gives it). */
spec_oracle *spec_oracle_new(const spec *s, spec_runner *r, const state_opts *opts, FILE *sink);

void spec_oracle_free(spec_oracle *o);

/* Judges the permutation steps[0..nsteps) that ran to its end with res
 * (observed: states and steps). Returns 0 with v filled (json_decref
 * v->found), or -1 with a reason (the runner could not be restored). The
 * runner's observation is the concurrent one again on return (every
 * option of obs). */
int spec_oracle_judge(spec_oracle *o, const spec_pstep *steps, int nsteps, const spec_perm_result *res,
                      const spec_observe *obs, oracle_verdict *v, char *err, size_t errlen);

#endif
