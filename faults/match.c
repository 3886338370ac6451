/*
 * match.c — does a rule fire on this statement? (grammar.h: pgf_match)
 *
 * Pure: a statement, the connection's counters and the rule set in; the
 * rule that fires out. Also the faults a scheduler's gate asks for, as
 * rules (pgf_gate_rule). The shim (rules.c) and the wire proxy both decide
 * here, so that "the 3rd statement of connection 2" is the same statement
 * under both. Nothing here locks or allocates.
 */
#include "faults/grammar.h"
#include "faults/pgfault.h"

#include <string.h>
#include <strings.h>

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

const struct pgf_rule *pgf_match(struct pgf_ruleset *rs, pgf_counters *c, int conn_ordinal, const char *sql,
                                 long *stmt_ordinal)
{
    if (c && c->gen != rs->gen) {
        /* First statement since the rules changed: counters start again. */
        memset(c, 0, sizeof *c);
        c->gen = rs->gen;
    }
    long stmt = c ? ++c->stmts : 0;
    if (stmt_ordinal)
        *stmt_ordinal = stmt;
    enum pgf_kind kind = pgf_classify(sql);
    const struct pgf_rule *fired = NULL;
    for (int i = 0; i < rs->nrules; i++) {
        struct pgf_rule *r = &rs->rules[i];
        if (r->conn && r->conn != conn_ordinal) continue;
        if (!target_matches(r, kind, sql)) continue;
        long n;
        if (r->scope_proc)
            n = atomic_fetch_add_explicit(&r->proc_count, 1, memory_order_relaxed) + 1;
        else if (c)
            n = ++c->count[i];
        else
            continue; /* untracked connection: no per-connection count */
        if (!fired && count_fires(r, n, conn_ordinal))
            fired = r;
    }
    return fired;
}

/* The faults a gate can ask for, as rules the injection code carries out. */
static const struct pgf_rule gate_rules[] = {
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

const struct pgf_rule *pgf_gate_rule(int action)
{
    return action > PGF_GATE_GO && action <= PGF_GATE_CANCEL ? &gate_rules[action] : NULL;
}
