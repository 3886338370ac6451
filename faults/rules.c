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
#include <strings.h>

#include "faults/pgf_int.h"

struct pgf_ruleset *_Atomic pgf_active;
static atomic_ulong generation;

pgf_gate_fn _Atomic pgf_gate;
static void *_Atomic gate_arg;

/* The faults a gate can ask for, as rules the injection code carries out. */
static struct pgf_rule gate_rules[] = {
    [PGF_GATE_ERROR] = { .text = "explore", .action = PGF_A_ERROR, .sqlstate = "40001",
                         .action_text = "error=40001",
                         .raise_sql = "DO $pgfaultdo$BEGIN RAISE EXCEPTION USING ERRCODE = '40001', MESSAGE = "
                                      "'could not serialize access due to concurrent update', "
                                      "HINT = 'injected by pgfault'; END$pgfaultdo$" },
    [PGF_GATE_DROP] = { .text = "explore", .action = PGF_A_DROP, .action_text = "drop" },
    [PGF_GATE_AMBIGUOUS] = { .text = "explore", .action = PGF_A_AMBIGUOUS, .action_text = "ambiguous" },
    [PGF_GATE_CANCEL] = { .text = "explore", .action = PGF_A_ERROR, .sqlstate = "57014",
                          .action_text = "error=57014",
                          .raise_sql = "DO $pgfaultdo$BEGIN RAISE EXCEPTION USING ERRCODE = '57014', MESSAGE = "
                                       "'canceling statement due to user request', "
                                       "HINT = 'injected by pgfault'; END$pgfaultdo$" },
};

void pgf_gate_install(pgf_gate_fn fn, void *arg)
{
    atomic_store(&gate_arg, arg);
    atomic_store(&pgf_gate, fn);
}

/* Asks the gate about c; returns 1 with d filled when it makes c a fault. */
static int ask_gate(pgf_gate_fn gate, const struct pgf_call *c, struct pgf_conn *cs, struct pgf_decision *d)
{
    int a = gate(atomic_load(&gate_arg), c->conn, c->sql);
    if (a <= PGF_GATE_GO || a > PGF_GATE_CANCEL) return 0;
    d->rule = &gate_rules[a];
    d->conn_ordinal = cs ? cs->ordinal : 0;
    d->stmt_ordinal = cs ? cs->stmts + 1 : 0;
    d->cs = cs;
    return 1;
}

static int target_matches(const struct pgf_rule *r, enum pgf_kind kind, const char *sql)
{
    switch (r->target) {
    case PGF_T_STMT: return 1;
    case PGF_T_COMMIT: return kind == PGF_K_COMMIT;
    case PGF_T_ROLLBACK: return kind == PGF_K_ROLLBACK;
    case PGF_T_BEGIN: return kind == PGF_K_BEGIN;
    case PGF_T_SQL:
        if (r->lit_len) {
            if (r->lit_anchored) {
                if (strncasecmp(sql, r->lit, r->lit_len) != 0) return 0;
                if (r->lit_whole) return 1;
            } else if (r->lit_whole) {
                return strcasestr(sql, r->lit) != NULL;
            }
        }
        return regexec(&r->re, sql, 0, NULL, 0) == 0;
    }
    return 0;
}

/* splitmix64: a pure function of (seed, rule, connection, count), so that the
 * same seed faults the same statements whatever the threads' interleaving. */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static int count_fires(const struct pgf_rule *r, long n, int ordinal)
{
    if (n < r->when_from || (r->when_to >= 0 && n > r->when_to)) return 0;
    if (r->when_step > 0 && (n - r->when_from) % r->when_step != 0) return 0;
    if (r->has_prob) {
        uint64_t h = mix(mix(mix(r->seed ^ ((uint64_t)r->index << 40)) ^ (uint64_t)(r->scope_proc ? 0 : ordinal))
                         ^ (uint64_t)n);
        double u = (double)(h >> 11) * (1.0 / 9007199254740992.0);
        if (!(u < r->prob)) return 0;
    }
    return 1;
}

/*
 * Count the statement described by c against every rule; return 1 and fill d
 * if one fires (the first in spec order wins; every matching rule still
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
    if (cs && cs->gen != rs->gen) {
        /* First statement since pgf_configure: counters start again. */
        memset(cs->count, 0, sizeof cs->count);
        cs->stmts = 0;
        cs->gen = rs->gen;
    }
    int ordinal = cs ? cs->ordinal : 0;
    long stmt = cs ? ++cs->stmts : 0;
    enum pgf_kind kind = pgf_classify(c->sql);
    int fired = 0;
    for (int i = 0; i < rs->nrules; i++) {
        struct pgf_rule *r = &rs->rules[i];
        if (r->conn && r->conn != ordinal) continue;
        if (!target_matches(r, kind, c->sql)) continue;
        long n;
        if (r->scope_proc)
            n = atomic_fetch_add_explicit(&r->proc_count, 1, memory_order_relaxed) + 1;
        else if (cs)
            n = ++cs->count[i];
        else
            continue; /* untracked connection: no per-connection count */
        if (!fired && count_fires(r, n, ordinal)) {
            fired = 1;
            d->rule = r;
            d->conn_ordinal = ordinal;
            d->stmt_ordinal = stmt;
            d->cs = cs;
        }
    }
    return fired;
}

/* Parse spec and make it the active ruleset (see pgf_configure). */
int pgf_install(const char *spec, char *err, size_t errlen)
{
    int status;
    struct pgf_ruleset *rs = pgf_spec_parse(spec, err, errlen, &status);
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
