/*
 * log.c — what happens when a fault fires: the counter, the observer, the
 * breakpoint function and one JSON line in $PGFAULT_LOG (logline.c writes
 * it, in the format the wire proxy's --log shares).
 */
#include <stdio.h>
#include <stdlib.h>

#include "faults/pgf_int.h"

static char log_path[4096];
static atomic_ulong fired_total;
static pgf_observer_fn _Atomic observer;
static void *_Atomic observer_arg;

/* PGFAULT_LOG is read once, at load: getenv is not safe against a
 * concurrent setenv in a threaded program. */
void pgf_log_init(void)
{
    const char *p = getenv("PGFAULT_LOG");
    if (p && *p) snprintf(log_path, sizeof log_path, "%s", p);
}

PGF_API __attribute__((noinline)) void pgf_fault_fired(void)
{
    /* Keep the call: this function exists to carry a breakpoint. */
    __asm__ volatile("" ::: "memory");
}

PGF_API unsigned long pgf_fired_total(void)
{
    return atomic_load(&fired_total);
}

PGF_API void pgf_set_observer(pgf_observer_fn fn, void *arg)
{
    atomic_store(&observer_arg, arg);
    atomic_store(&observer, fn);
}

void pgf_fired(const struct pgf_call *c, const struct pgf_decision *d)
{
    atomic_fetch_add(&fired_total, 1);
    pgf_fault_fired();
    if (log_path[0]) pgf_log_write(log_path, d->conn_ordinal, d->stmt_ordinal, d->rule, c->sql);
    pgf_observer_fn fn = atomic_load(&observer);
    if (fn) {
        pgf_event ev = {d->conn_ordinal, d->stmt_ordinal, d->rule->index, d->rule->text,
                        d->rule->action_text, c->sql};
        fn(&ev, atomic_load(&observer_arg));
    }
}
