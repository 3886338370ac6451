/* faults.c — the gate, then the rules, for one statement (faults.h). */
#include "proxy/faults.h"
#include "faults/pgfault.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pxf_active(pxf_shared *s)
{
    return s->rules || atomic_load_explicit(&s->gate, memory_order_acquire)
           || atomic_load_explicit(&s->observe, memory_order_acquire);
}

/* A fault fired: counted, and logged as the shim logs it. */
static void fired(pxf_shared *s, const pxf_conn *c, long stmt, const struct pgf_rule *r, const char *sql)
{
    atomic_fetch_add(&s->fired, 1);
    if (s->log[0])
        pgf_log_write(s->log, c->group ? c->group : c->ordinal, stmt, r, sql);
}

/* The statement as the gate and the observer see it. */
static proxy_stmt stmt_of(const pxf_conn *c, long stmt, const char *sql, uint64_t params)
{
    return (proxy_stmt){ .conn = c->ordinal, .group = c->group, .backend_pid = c->pid, .tx_status = c->tx,
                         .stmt = stmt, .conn_counted = c->counted, .sql = sql, .params = params,
                         .app = c->app[0] ? c->app : NULL };
}

static void observe(pxf_shared *s, const proxy_stmt *st, const struct pgf_rule *r)
{
    proxy_observe_fn fn = atomic_load_explicit(&s->observe, memory_order_acquire);
    if (fn)
        fn(atomic_load(&s->observe_arg), st, r);
}

/* The counters c's statements count on: its group's (then under
 * group_mu, held by the caller) or its own. */
static pgf_counters *counters_of(pxf_shared *s, pxf_conn *c)
{
    return c->group && c->group <= s->ngroups ? &s->group_counters[c->group - 1] : &c->counters;
}

const struct pgf_rule *pxf_decide(pxf_shared *s, pxf_conn *c, const char *sql, uint64_t params, long *stmt)
{
    bool grouped = c->group && c->group <= s->ngroups;
    proxy_gate_fn gate = atomic_load_explicit(&s->gate, memory_order_acquire);
    if (gate) {
        /* As the shim's gate: asked before any rule counts the statement;
         * a fault it asks for is not counted by the rules. */
        if (grouped)
            pthread_mutex_lock(&s->group_mu);
        long next = counters_of(s, c)->stmts + 1;
        if (grouped)
            pthread_mutex_unlock(&s->group_mu);
        proxy_stmt st = stmt_of(c, next, sql, params);
        int answer = gate(atomic_load(&s->gate_arg), &st);
        if (answer == PROXY_GATE_PASS) {
            *stmt = 0;
            return NULL;
        }
        const struct pgf_rule *r = pgf_gate_rule(answer);
        if (r) {
            *stmt = st.stmt;
            c->counted++;
            fired(s, c, *stmt, r, sql);
            observe(s, &st, r);
            return r;
        }
    }
    pthread_rwlock_rdlock(&s->lock);
    if (grouped)
        pthread_mutex_lock(&s->group_mu);
    pgf_counters *counters = counters_of(s, c);
    const struct pgf_rule *r = NULL;
    if (!s->rules)
        *stmt = ++counters->stmts;
    else
        r = pgf_match(s->rules, counters, c->group ? c->group : c->ordinal, sql, stmt);
    if (grouped)
        pthread_mutex_unlock(&s->group_mu);
    if (r)
        fired(s, c, *stmt, r, sql);
    pthread_rwlock_unlock(&s->lock);
    proxy_stmt st = stmt_of(c, *stmt, sql, params);
    c->counted++;
    observe(s, &st, r);
    return r;
}

void pxf_ready(pxf_shared *s, pxf_conn *c)
{
    proxy_stmt st = stmt_of(c, 0, NULL, PGF_NO_PARAMS);
    observe(s, &st, NULL);
}

int pxf_set_rules(pxf_shared *s, const char *text, char *err, size_t errlen)
{
    pthread_rwlock_wrlock(&s->lock);
    struct pgf_ruleset *old = s->rules;
    unsigned long gen = old ? old->gen + 1 : 1;
    if (old && text && s->text && strcmp(text, s->text) == 0) {
        /* The same rules again: only their counts start again (the
         * connections' lazily, by gen; scope=proc ones here). */
        old->gen = gen;
        for (int i = 0; i < old->nrules; i++)
            atomic_store(&old->rules[i].proc_count, 0);
        pthread_rwlock_unlock(&s->lock);
        return 0;
    }
    int status;
    struct pgf_ruleset *rs = pgf_rules_parse(text, err, errlen, &status);
    char *copy = rs ? strdup(text) : NULL;
    struct pgf_ruleset **more = old ? realloc(s->retired, (size_t)(s->nretired + 1) * sizeof *more) : NULL;
    if (status < 0 || (rs && !copy) || (old && !more)) {
        if (status >= 0)
            snprintf(err, errlen, "out of memory");
        if (more)
            s->retired = more;
        pgf_ruleset_free(rs);
        free(copy);
        pthread_rwlock_unlock(&s->lock);
        return -1;
    }
    if (old) {
        /* A connection thread may still be carrying out one of its rules:
         * it goes when the proxy does. */
        s->retired = more;
        s->retired[s->nretired++] = old;
    }
    if (rs)
        rs->gen = gen;
    s->rules = rs;
    free(s->text);
    s->text = copy;
    pthread_rwlock_unlock(&s->lock);
    return 0;
}

void pxf_restart_groups(pxf_shared *s)
{
    pthread_rwlock_rdlock(&s->lock);
    unsigned long gen = s->rules ? s->rules->gen : 0;
    pthread_mutex_lock(&s->group_mu);
    for (int g = 0; g < s->ngroups; g++)
        s->group_counters[g] = (pgf_counters){ .gen = gen };
    pthread_mutex_unlock(&s->group_mu);
    pthread_rwlock_unlock(&s->lock);
}

void pxf_free(pxf_shared *s)
{
    pgf_ruleset_free(s->rules);
    s->rules = NULL;
    free(s->text);
    s->text = NULL;
    for (int i = 0; i < s->nretired; i++)
        pgf_ruleset_free(s->retired[i]);
    free(s->retired);
    s->retired = NULL;
    s->nretired = 0;
    free(s->group_counters);
    s->group_counters = NULL;
    s->ngroups = 0;
}
