/* pooling.c — what keeps a session's state across transactions (see pooling.h). */
#include "isolation/pooling.h"

#include "lib/keepstate.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Fills why when sql keeps state: "<where> of session S keeps state
 * across transactions: <what>". Returns whether it does. */
static bool explain(const char *sql, const char *where, const char *session, char *why, size_t len)
{
    const char *what = sql ? keepstate_of(sql) : NULL;
    if (what)
        snprintf(why, len, "%s of session %s keeps state across transactions: %s%s", where, session, what,
                 what[strlen(what) - 1] == '(' ? "...)" : "");
    return what != NULL;
}

int spec_needs_session(const spec *s, char *why, size_t len)
{
    for (int i = 0; i < s->nsessions; i++) {
        const spec_session *ss = &s->sessions[i];
        if (explain(ss->setup, "the setup", ss->name, why, len))
            return 1;
        for (int k = 0; k < ss->nsteps; k++) {
            char where[128];
            snprintf(where, sizeof where, "step %s", ss->steps[k]->name);
            if (explain(ss->steps[k]->sql, where, ss->name, why, len))
                return 1;
        }
        if (explain(ss->teardown, "the teardown", ss->name, why, len))
            return 1;
    }
    return 0;
}
