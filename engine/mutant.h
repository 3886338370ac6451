/*
 * mutant.h — removing pinned guarantees from the fixed form: a pre-fix
 * variant declared as the fixed form minus some pins (scenario_variant
 * .minus), and the mutation build's switch (make MUTANTS=1, t/55-pins.t).
 *
 * A scenario pins each guarantee of its fixed form (scenario.pins). A pin
 * is removed from the real fixed form — GUARANTEE(c, PIN) turns false, and
 * the pin's unpin_sql runs after the schema — when the variant run names
 * it in minus (in every build), or, in the mutation build only, when
 * $PGRACE_MUTANT="SCENARIO/PIN" names it, so the suite can show that the
 * pin's plan reports a violation. In a normal build the environment cannot
 * mutate a fixed form.
 */
#ifndef PGRACE_MUTANT_H
#define PGRACE_MUTANT_H

#include "engine/scenario.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* Whether this build honours $PGRACE_MUTANT. */
bool mutant_build(void);

/* $PGRACE_MUTANT names a pin of some scenario of registry (or is unset).
 * Returns 0, or -1 with a reason (a mutation build only: elsewhere it is
 * ignored). */
int mutant_check(const scenario *const *registry, char *err, size_t errlen);

/* Whether variant v of s runs without its guarantee pin. */
bool mutant_removes(const scenario *s, const scenario_variant *v, const char *pin);

/* Runs on ctl, after s's schema, the unpin_sql of every pin v runs
 * without. Returns 0 or -1 with a reason. */
int mutant_unpin(const scenario *s, const scenario_variant *v, PGconn *ctl, char *err, size_t errlen);

#endif
