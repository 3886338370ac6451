/*
 * rules.c — the decision: does a rule fire on this statement?
 *
 * pgf_decide is the single place where a statement is classified, counted
 * and matched; the scheduling gate (pgrace's explorer) is asked here first,
 * before the statement is sent, and may turn it into a fault of its own.  The active ruleset is immutable and reached through
 * one atomic pointer; per-process counters are atomics in the ruleset,
 * per-connection counters live in the connection's state, which only the
 * thread using the connection touches.  Nothing here locks or allocates.
 */
#include <stdlib.h>
#include <string.h>

#include "faults/pgf_int.h"
#include "lib/hash.h"

struct pgf_ruleset *_Atomic pgf_active;
static atomic_ulong generation;

pgf_gate_fn _Atomic pgf_gate;
static void *_Atomic gate_arg;

void pgf_gate_install(pgf_gate_fn fn, void *arg)
{
    atomic_store(&gate_arg, arg);
    atomic_store(&pgf_gate, fn);
}

/* A digest of c's parameter values, each with its length and format (a
 * NULL one marked apart from an empty one). */
static uint64_t params_digest(const struct pgf_call *c)
{
    if (c->nparams <= 0)
        return PGF_NO_PARAMS;
    uint64_t h = HASH_FNV1A_INIT;
    for (int i = 0; i < c->nparams; i++) {
        const char *v = c->values ? c->values[i] : NULL;
        int binary = c->formats && c->formats[i];
        size_t n = !v ? 0 : binary && c->lengths ? (size_t)c->lengths[i] : strlen(v);
        unsigned char mark = !v ? 0 : binary ? 2 : 1;
        h = hash_fnv1a(h, &mark, 1);
        h = hash_fnv1a(h, &n, sizeof n);
        if (v)
            h = hash_fnv1a(h, v, n);
    }
    return h == PGF_NO_PARAMS ? 1 : h;
}

/* Asks the gate about c; returns 1 with d filled when it makes c a fault. */
static int ask_gate(pgf_gate_fn gate, const struct pgf_call *c, struct pgf_conn *cs, struct pgf_decision *d)
{
    const struct pgf_rule *r = pgf_gate_rule(gate(atomic_load(&gate_arg), c->conn, c->sql, params_digest(c)));
    if (!r) return 0;
    d->rule = r;
    d->conn_ordinal = cs ? cs->ordinal : 0;
    d->stmt_ordinal = cs ? cs->counters.stmts + 1 : 0;
    d->cs = cs;
    return 1;
}

/*
 * Count the statement described by c against every rule; return 1 and fill d
 * if one fires (the first in rule order wins; every matching rule still
 * counts the statement), else 0.
 */
int pgf_decide(const struct pgf_call *c, struct pgf_decision *d)
{
    struct pgf_ruleset *rs = atomic_load_explicit(&pgf_active, memory_order_acquire);
    pgf_gate_fn gate = atomic_load_explicit(&pgf_gate, memory_order_acquire);
    if (!rs && !gate) return 0;
    struct pgf_conn *cs = pgf_conn_find(c->conn);
    if (cs && cs->exempt) return 0;
    if (gate && ask_gate(gate, c, cs, d)) return 1;
    if (!rs) return 0;
    int ordinal = cs ? cs->ordinal : 0;
    long stmt;
    const struct pgf_rule *r = pgf_match(rs, cs ? &cs->counters : NULL, ordinal, c->sql, &stmt);
    if (!r) return 0;
    d->rule = r;
    d->conn_ordinal = ordinal;
    d->stmt_ordinal = stmt;
    d->cs = cs;
    return 1;
}

/* Parses rules and makes them the active rule set (see pgf_configure). */
int pgf_install(const char *rules, char *err, size_t errlen)
{
    int status;
    struct pgf_ruleset *rs = pgf_rules_parse(rules, err, errlen, &status);
    if (status < 0) return -1;
    if (rs) {
        rs->gen = atomic_fetch_add(&generation, 1) + 1;
        for (int i = 0; i < rs->nrules; i++)
            rs->any_after |= rs->rules[i].action == PGF_A_DELAY && rs->rules[i].delay_after;
    }
    struct pgf_ruleset *old = atomic_exchange(&pgf_active, rs);
    pgf_ruleset_free(old);
    return 0;
}

void pgf_rules_atfork_child(void)
{
    struct pgf_ruleset *rs = atomic_load(&pgf_active);
    if (rs)
        for (int i = 0; i < rs->nrules; i++) atomic_store(&rs->rules[i].proc_count, 0);
    pgf_conn_reset_ordinals();
}
