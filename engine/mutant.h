/*
 * mutant.h — the mutation build's switch (make MUTANTS=1, t/55-pins.t).
 *
 * A scenario pins each guarantee of its fixed form (scenario.pins). In the
 * mutation build, $PGRACE_MUTANT="SCENARIO/PIN" removes that one guarantee
 * from the real fixed form — GUARANTEE(c, PIN) turns false, or the pin's
 * unpin_sql runs after the schema — so the suite can show that the pin's
 * plan reports a violation. In a normal build nothing here has an effect:
 * the fixed forms cannot be mutated by the environment.
 */
#ifndef PGRACE_MUTANT_H
#define PGRACE_MUTANT_H

#include "engine/scenario.h"

#include <stdbool.h>
#include <stddef.h>

/* Whether this build honours $PGRACE_MUTANT. */
bool mutant_build(void);

/* $PGRACE_MUTANT names a pin of some scenario of registry (or is unset).
 * Returns 0, or -1 with a reason (a mutation build only: elsewhere it is
 * ignored). */
int mutant_check(const scenario *const *registry, char *err, size_t errlen);

/* Whether the mutant removes s's guarantee pin. */
bool mutant_removes(const scenario *s, const char *pin);

/* The DDL that removes the mutant's guarantee from s's schema, or NULL. */
const char *mutant_unpin_sql(const scenario *s);

#endif
