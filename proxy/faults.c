/* faults.c — the gate, then the rules, for one statement (faults.h). */
#include "proxy/faults.h"

int pxf_active(pxf_shared *s)
{
    return s->rules || atomic_load_explicit(&s->gate, memory_order_acquire);
}

/* A fault fired: counted, and logged as the shim logs it. */
static void fired(pxf_shared *s, const pxf_conn *c, long stmt, const struct pgf_rule *r, const char *sql)
{
    atomic_fetch_add(&s->fired, 1);
    if (s->log[0])
        pgf_log_write(s->log, c->ordinal, stmt, r, sql);
}

const struct pgf_rule *pxf_decide(pxf_shared *s, pxf_conn *c, const char *sql, long *stmt)
{
    proxy_gate_fn gate = atomic_load_explicit(&s->gate, memory_order_acquire);
    if (gate) {
        /* As the shim's gate: asked before any rule counts the statement;
         * a fault it asks for is not counted by the rules. */
        proxy_stmt st = { c->ordinal, c->pid, c->tx, c->counters.stmts + 1, sql };
        const struct pgf_rule *r = pgf_gate_rule(gate(atomic_load(&s->gate_arg), &st));
        if (r) {
            *stmt = st.stmt;
            fired(s, c, *stmt, r, sql);
            return r;
        }
    }
    if (!s->rules) {
        *stmt = ++c->counters.stmts;
        return NULL;
    }
    const struct pgf_rule *r = pgf_match(s->rules, &c->counters, c->ordinal, sql, stmt);
    if (r)
        fired(s, c, *stmt, r, sql);
    return r;
}
