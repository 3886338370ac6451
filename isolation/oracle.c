/*
 * oracle.c — the serial oracle for spec files: a permutation's
 * transactions, and serial orders of them run through the spec runner
 * (see oracle.h).
 */
#include "isolation/oracle.h"

#include "lib/err.h"

#include <stdlib.h>
#include <string.h>

#define MAX_TX 64
#define MAX_TX_STEPS 64

typedef struct tx {
    int session;
    int step[MAX_TX_STEPS];     /* its steps' positions in the permutation */
    int n;
    oracle_take take;
} tx;

struct spec_oracle {
    const spec *s;
    spec_runner *r;
    state_opts opts;
    FILE *sink;
    oracle_memo *memo;
    /* The permutation being judged. */
    const spec_pstep *steps;
    tx tx[MAX_TX];
    int ntx;
};

spec_oracle *spec_oracle_new(const spec *s, spec_runner *r, const state_opts *opts, FILE *sink)
{
    spec_oracle *o = calloc(1, sizeof *o);
    if (!o || !(o->memo = oracle_memo_new())) {
        free(o);
        return NULL;
    }
    o->s = s;
    o->r = r;
    o->sink = sink;
    if (opts)
        o->opts = *opts;
    return o;
}

void spec_oracle_free(spec_oracle *o)
{
    if (!o)
        return;
    oracle_memo_free(o->memo);
    free(o);
}

/* What became of transaction t of the permutation that ran with res. */
static oracle_take take_of(const spec_oracle *o, const tx *t, const spec_perm_result *res)
{
    bool error = false, lost = false, faulted_out = false;
    for (int k = 0; k < t->n; k++) {
        const spec_step_result *sr = &res->steps[t->step[k]];
        spec_fault_kind f = o->steps[t->step[k]].fault.kind;
        if (f == SPEC_FAULT_AMBIGUOUS)
            return ORACLE_MAYBE;
        faulted_out |= f == SPEC_FAULT_ERROR || f == SPEC_FAULT_DROP;
        error |= sr->error;
        lost |= sr->lost;
    }
    if (faulted_out)
        return ORACLE_OUT;
    if (lost)
        return ORACLE_MAYBE;
    /* An error the transaction recovered from (ROLLBACK TO a savepoint)
     * and then committed: it took effect. */
    return error && strcmp(res->steps[t->step[t->n - 1]].tag, "COMMIT") != 0 ? ORACLE_OUT : ORACLE_IN;
}

/* The permutation's transactions: each session's steps, cut where its
 * session went idle. Returns their number, or -1 past MAX_TX. */
static int group(spec_oracle *o, int nsteps, const spec_perm_result *res)
{
    o->ntx = 0;
    for (int si = 0; si < o->s->nsessions; si++) {
        tx *open = NULL;
        for (int i = 0; i < nsteps; i++) {
            if (o->steps[i].step->session != si)
                continue;
            if (!open) {
                if (o->ntx == MAX_TX)
                    return -1;
                open = &o->tx[o->ntx++];
                *open = (tx){ .session = si };
            }
            if (open->n == MAX_TX_STEPS)
                return -1;
            open->step[open->n++] = i;
            if (res->steps[i].txn == PQTRANS_IDLE || res->steps[i].lost)
                open = NULL;
        }
    }
    for (int t = 0; t < o->ntx; t++)
        o->tx[t].take = take_of(o, &o->tx[t], res);
    return o->ntx;
}

/* Transaction t's steps' results on one line, each after its step's name
 * ("r1: balance 100; w1:"), in a new string. */
static char *answer_of(const spec_oracle *o, const tx *t, const spec_step_result *steps, const int *pos)
{
    size_t len = 1;
    for (int k = 0; k < t->n; k++)
        len += strlen(o->steps[t->step[k]].name) + 3 * strlen(steps[pos[k]].output ? steps[pos[k]].output : "") + 8;
    char *a = malloc(len);
    size_t used = 0;
    for (int k = 0; a && k < t->n; k++) {
        used += (size_t)snprintf(a + used, len - used, "%s%s:", k ? "; " : "", o->steps[t->step[k]].name);
        bool line_start = true;
        for (const char *p = steps[pos[k]].output ? steps[pos[k]].output : ""; *p; p++) {
            if (*p == '\n') {
                line_start = true;
                continue;
            }
            if (line_start)
                used += (size_t)snprintf(a + used, len - used, "%s", a[used - 1] == ':' ? " " : " / ");
            line_start = false;
            used += (size_t)snprintf(a + used, len - used, "%c", *p);
        }
    }
    return a;
}

/* oracle_serial_fn: the transactions of order, one after the other,
 * through the runner. */
static int run_order(void *arg, const int *order, int n, state **st, char **answers, char *err, size_t errlen)
{
    spec_oracle *o = arg;
    int total = 0;
    for (int k = 0; k < n; k++)
        total += o->tx[order[k]].n;
    spec_pstep *ps = calloc((size_t)total + 1, sizeof *ps);
    int *pos = calloc((size_t)total + 1, sizeof *pos);
    if (!ps || !pos) {
        free(ps);
        free(pos);
        err_set(err, errlen, "out of memory");
        return -1;
    }
    int m = 0;
    for (int k = 0; k < n; k++)
        for (int j = 0; j < o->tx[order[k]].n; j++) {
            const spec_pstep *from = &o->steps[o->tx[order[k]].step[j]];
            ps[m++] = (spec_pstep){ .name = from->name, .step = from->step };
        }
    spec_observe ob = { .state = &o->opts, .steps = true, .lazy_setup = true, .no_invariants = true };
    spec_runner_set_observe(o->r, &ob);
    spec_runner_set_output(o->r, o->sink, o->sink);
    spec_perm_result res;
    char why[ERRLEN];
    int rc = spec_run_permutation(o->r, ps, m, &res, why, sizeof why);
    if (rc != 0) {
        /* Infeasible, or it could not finish: not an order that can run. */
        spec_perm_result_free(&res);
        free(ps);
        free(pos);
        return spec_runner_reset(o->r, err, errlen) < 0 ? -1 : 1;
    }
    m = 0;
    for (int k = 0; k < n; k++) {
        const tx *t = &o->tx[order[k]];
        for (int j = 0; j < t->n; j++)
            pos[j] = m++;
        if (!(answers[k] = answer_of(o, t, res.steps, pos))) {
            rc = -1;
            err_set(err, errlen, "out of memory");
        }
    }
    if (rc == 0 && res.state) {
        state_adopt_desc(res.state);
        *st = res.state;
        res.state = NULL;
        res.desc = NULL;
    } else if (rc == 0) {
        rc = -1;
        err_set(err, errlen, "the serial run read no tables (the spec runs without a schema of its own)");
    }
    spec_perm_result_free(&res);
    free(ps);
    free(pos);
    return rc;
}

int spec_oracle_judge(spec_oracle *o, const spec_pstep *steps, int nsteps, const spec_perm_result *res,
                      const spec_observe *obs, oracle_verdict *v, char *err, size_t errlen)
{
    *v = (oracle_verdict){ .held = -1 };
    o->steps = steps;
    if (!res->state || !res->steps) {
        err_set(err, errlen, "the permutation was not observed");
        return -1;
    }
    if (group(o, nsteps, res) < 0) {
        err_set(err, errlen, "the serial oracle judges at most %d transactions of %d steps", MAX_TX, MAX_TX_STEPS);
        return -1;
    }
    oracle_unit units[MAX_TX];
    char *answers[MAX_TX] = { NULL };
    size_t klen = 1;
    for (int t = 0; t < o->ntx; t++)
        klen += (size_t)o->tx[t].n * 64 + 8;
    char *key = malloc(klen);
    int rc = key ? 0 : -1;
    size_t used = 0;
    for (int t = 0; t < o->ntx && rc == 0; t++) {
        const tx *x = &o->tx[t];
        oracle_unit *u = &units[t];
        *u = (oracle_unit){ .lane = x->session, .take = x->take, .t_effect = res->steps[x->step[x->n - 1]].seq };
        int n = snprintf(u->name, sizeof u->name, "%s (", o->s->sessions[x->session].name);
        for (int k = 0; k < x->n && n > 0 && (size_t)n < sizeof u->name; k++)
            n += snprintf(u->name + n, sizeof u->name - (size_t)n, "%s%s", k ? " " : "", steps[x->step[k]].name);
        if (n > 0 && (size_t)n < sizeof u->name)
            snprintf(u->name + n, sizeof u->name - (size_t)n, ")");
        if (!(answers[t] = answer_of(o, x, res->steps, x->step)))
            rc = -1;
        u->answer = answers[t];
        used += (size_t)snprintf(key + used, klen - used, "%s;", u->name);
    }
    if (rc < 0)
        err_set(err, errlen, "out of memory");
    oracle_check_in in = { .desc = res->desc, .concurrent = res->state, .units = units, .nunits = o->ntx,
                           .key = key, .iteration = 0, .serial = run_order, .arg = o, .memo = o->memo,
                           .unit_word = "transaction" };
    if (rc == 0)
        rc = oracle_check(&in, v, err, errlen);
    spec_runner_set_observe(o->r, obs);
    for (int t = 0; t < o->ntx; t++)
        free(answers[t]);
    free(key);
    return rc;
}
