/*
 * oracle.c — the serial oracle's judgement: the orders of an iteration's
 * units, their outcomes kept by inputs, the comparison and the evidence
 * of a violation (see oracle.h).
 */
#include "engine/oracle.h"

#include "lib/err.h"
#include "lib/hash.h"
#include "lib/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMO_BUCKETS 1024
#define MEMO_MAX 8192           /* outcomes kept; past it, new ones are not */
#define MAX_UNITS 64
#define SHOWN 50                /* rows and lines of each list in the evidence */

int oracle_mode_parse(const char *text, oracle_mode *m)
{
    if (strcmp(text, "serial") == 0)
        *m = ORACLE_SERIAL;
    else if (strcmp(text, "serial-only") == 0)
        *m = ORACLE_SERIAL_ONLY;
    else
        return -1;
    return 0;
}

const char *oracle_mode_name(oracle_mode m)
{
    return m == ORACLE_SERIAL ? "serial" : m == ORACLE_SERIAL_ONLY ? "serial-only" : "off";
}

/* ---- outcomes kept by inputs and order ---- */

typedef struct outcome_rec {
    struct outcome_rec *next;
    char *key;                  /* the iteration's key, then the order */
    long iteration;             /* of the run it came from */
    int status;                 /* 0 ran, 1 could not run */
    state *st;
    char **answers;
    int n;
} outcome_rec;

struct oracle_memo {
    outcome_rec *b[MEMO_BUCKETS];
    int count;
};

oracle_memo *oracle_memo_new(void) { return calloc(1, sizeof(oracle_memo)); }

static void rec_free(outcome_rec *r)
{
    if (!r)
        return;
    for (int k = 0; r->answers && k < r->n; k++)
        free(r->answers[k]);
    free(r->answers);
    state_free(r->st);
    free(r->key);
    free(r);
}

void oracle_memo_free(oracle_memo *m)
{
    for (int i = 0; m && i < MEMO_BUCKETS; i++)
        for (outcome_rec *r = m->b[i], *next; r; r = next) {
            next = r->next;
            rec_free(r);
        }
    free(m);
}

static outcome_rec **memo_slot(oracle_memo *m, const char *key)
{
    outcome_rec **p = &m->b[hash_fnv1a(HASH_FNV1A_INIT, key, strlen(key)) % MEMO_BUCKETS];
    while (*p && strcmp((*p)->key, key) != 0)
        p = &(*p)->next;
    return p;
}

/* ---- the orders ---- */

typedef struct order {
    int u[MAX_UNITS];
    int n;
} order;

typedef struct orders {
    order *o;
    int n, cap;
} orders;

static bool same_order(const order *a, const order *b)
{
    return a->n == b->n && memcmp(a->u, b->u, (size_t)a->n * sizeof a->u[0]) == 0;
}

/* Adds o unless it is there already; -1 out of memory. */
static int add_order(orders *os, const order *o)
{
    for (int i = 0; i < os->n; i++)
        if (same_order(&os->o[i], o))
            return 0;
    if (os->n == os->cap) {
        int cap = os->cap ? 2 * os->cap : 16;
        order *m = realloc(os->o, (size_t)cap * sizeof *m);
        if (!m)
            return -1;
        os->o = m;
        os->cap = cap;
    }
    os->o[os->n++] = *o;
    return 0;
}

/* The units of one subset, by lane: lane[l] lists its units in order. */
typedef struct lanes {
    int nl;
    int size[MAX_UNITS];
    int unit[MAX_UNITS][MAX_UNITS];
} lanes;

static void make_lanes(const oracle_unit *units, const int *members, int n, lanes *ls)
{
    int id[MAX_UNITS];
    ls->nl = 0;
    for (int i = 0; i < n; i++) {
        int u = members[i], l = 0;
        while (l < ls->nl && id[l] != units[u].lane)
            l++;
        if (l == ls->nl) {
            id[ls->nl] = units[u].lane;
            ls->size[ls->nl++] = 0;
        }
        ls->unit[l][ls->size[l]++] = u;
    }
}

/* Orders of a subset: n! / prod(size!), saturating at limit. */
static double count_orders(const lanes *ls, double limit)
{
    double c = 1;
    int placed = 0;
    for (int l = 0; l < ls->nl && c <= limit; l++)
        for (int k = 1; k <= ls->size[l]; k++) {
            placed++;
            c = c * placed / k;
        }
    return c;
}

/* The concurrent run's own order: the lanes merged by when each unit
 * ended. */
static void first_order(const oracle_unit *units, const lanes *ls, order *o)
{
    int at[MAX_UNITS] = { 0 };
    o->n = 0;
    for (;;) {
        int best = -1;
        for (int l = 0; l < ls->nl; l++)
            if (at[l] < ls->size[l] &&
                (best < 0 || units[ls->unit[l][at[l]]].t_end < units[ls->unit[best][at[best]]].t_end))
                best = l;
        if (best < 0)
            return;
        o->u[o->n++] = ls->unit[best][at[best]++];
    }
}

/* Every order of a subset, lexicographically by lane. */
static int all_orders(const lanes *ls, int *at, order *o, orders *os, int limit)
{
    if (os->n >= limit)
        return 0;
    bool any = false;
    for (int l = 0; l < ls->nl; l++) {
        if (at[l] == ls->size[l])
            continue;
        any = true;
        o->u[o->n++] = ls->unit[l][at[l]++];
        int rc = all_orders(ls, at, o, os, limit);
        at[l]--;
        o->n--;
        if (rc < 0)
            return -1;
    }
    return any ? 0 : add_order(os, o);
}

static void random_order(const lanes *ls, rng *r, order *o)
{
    int at[MAX_UNITS] = { 0 };
    o->n = 0;
    for (;;) {
        int open[MAX_UNITS], n = 0;
        for (int l = 0; l < ls->nl; l++)
            if (at[l] < ls->size[l])
                open[n++] = l;
        if (!n)
            return;
        int l = open[rng_below(r, (uint64_t)n)];
        o->u[o->n++] = ls->unit[l][at[l]++];
    }
}

static int popcount(unsigned x) { return __builtin_popcount(x); }

/* The subsets of the maybe units, the largest first: an outcome lost at
 * COMMIT usually did commit. At most limit of them. */
static int subsets(int nmaybe, unsigned *out, int limit)
{
    int n = 0;
    unsigned all = nmaybe >= 31 ? 0x7fffffffu : (1u << nmaybe) - 1;
    for (int size = nmaybe; size >= 0 && n < limit; size--)
        for (unsigned m = 0; n < limit; m++) {
            if (popcount(m) == size)
                out[n++] = m;
            if (m == all)
                break;
        }
    return n;
}

/* The subset's members: the in units and the chosen maybe ones, in unit
 * order. */
static int members_of(const oracle_unit *units, int nunits, const int *maybe, int nmaybe, unsigned mask, int *members)
{
    int n = 0;
    for (int u = 0; u < nunits; u++) {
        bool in = units[u].take == ORACLE_IN;
        for (int k = 0; k < nmaybe && !in; k++)
            in = maybe[k] == u && (mask & (1u << k));
        if (in)
            members[n++] = u;
    }
    return n;
}

/* The orders to try, the concurrent run's own first. */
static int make_orders(const oracle_check_in *in, orders *os, long *space, bool *sampled)
{
    int maybe[MAX_UNITS], nmaybe = 0;
    for (int u = 0; u < in->nunits; u++)
        if (in->units[u].take == ORACLE_MAYBE)
            maybe[nmaybe++] = u;
    if (nmaybe > 16)
        nmaybe = 16;    /* past 2^16 subsets, the rest are left out of every order */
    unsigned masks[1 << 10];
    int nmasks = subsets(nmaybe, masks, (int)(sizeof masks / sizeof masks[0]));
    double total = 0;
    for (int i = 0; i < nmasks; i++) {
        int members[MAX_UNITS], n = members_of(in->units, in->nunits, maybe, nmaybe, masks[i], members);
        lanes ls;
        make_lanes(in->units, members, n, &ls);
        total += count_orders(&ls, 1e12);
    }
    if (nmasks < (1 << nmaybe))
        total = 1e12;
    *space = total > 1e12 ? (long)1e12 : (long)total;
    *sampled = total > ORACLE_MAX_ORDERS;
    for (int i = 0; i < nmasks && os->n < ORACLE_MAX_ORDERS; i++) {
        int members[MAX_UNITS], n = members_of(in->units, in->nunits, maybe, nmaybe, masks[i], members);
        lanes ls;
        order o;
        make_lanes(in->units, members, n, &ls);
        first_order(in->units, &ls, &o);
        if (add_order(os, &o) < 0)
            return -1;
    }
    if (!*sampled) {
        for (int i = 0; i < nmasks; i++) {
            int members[MAX_UNITS], n = members_of(in->units, in->nunits, maybe, nmaybe, masks[i], members);
            int at[MAX_UNITS] = { 0 };
            lanes ls;
            order o = { .n = 0 };
            make_lanes(in->units, members, n, &ls);
            if (all_orders(&ls, at, &o, os, ORACLE_MAX_ORDERS) < 0)
                return -1;
        }
        return 0;
    }
    rng r;
    rng_init(&r, in->seed, hash_fnv1a(HASH_FNV1A_INIT, in->key, strlen(in->key)));
    for (int tries = 0; os->n < ORACLE_MAX_ORDERS && tries < 8 * ORACLE_MAX_ORDERS; tries++) {
        int members[MAX_UNITS], n = members_of(in->units, in->nunits, maybe, nmaybe,
                                               masks[rng_below(&r, (uint64_t)nmasks)], members);
        lanes ls;
        order o;
        make_lanes(in->units, members, n, &ls);
        random_order(&ls, &r, &o);
        if (add_order(os, &o) < 0)
            return -1;
    }
    return 0;
}

/* ---- comparing ---- */

/* The memo's key of an order: the iteration's key, each unit's lane and
 * take (so that equal keys mean equal unit lists), then the order. */
static char *order_key(const oracle_check_in *in, const order *o)
{
    size_t cap = strlen(in->key) + 16 * (size_t)(in->nunits + o->n) + 8, used;
    char *k = malloc(cap);
    if (!k)
        return NULL;
    used = (size_t)snprintf(k, cap, "%s|", in->key);
    for (int u = 0; u < in->nunits; u++)
        used += (size_t)snprintf(k + used, cap - used, "%d%c", in->units[u].lane, "oim"[in->units[u].take]);
    used += (size_t)snprintf(k + used, cap - used, "|");
    for (int i = 0; i < o->n; i++)
        used += (size_t)snprintf(k + used, cap - used, "%d,", o->u[i]);
    return k;
}

/* Answers that differ between the concurrent run and rec, for order o;
 * with lines when diff is given. */
static int answers_differ(const oracle_check_in *in, const order *o, const outcome_rec *rec, json_t *diff)
{
    int n = 0;
    for (int k = 0; k < o->n; k++) {
        const oracle_unit *u = &in->units[o->u[k]];
        if (u->take != ORACLE_IN ||
            state_answers_equal(in->desc, in->concurrent, u->answer, rec->st, rec->answers[k]))
            continue;
        n++;
        if (diff) {
            char a[300], b[300], line[700];
            state_answer_text(in->desc, in->concurrent, u->answer, a, sizeof a);
            state_answer_text(in->desc, rec->st, rec->answers[k], b, sizeof b);
            snprintf(line, sizeof line, "%s: concurrent %s; serial %s", u->name, a, b);
            json_array_append_new(diff, json_string(line));
        }
    }
    return n;
}

static bool matches(const oracle_check_in *in, const order *o, const outcome_rec *rec)
{
    return rec->status == 0 && state_equal(in->concurrent, rec->st) && answers_differ(in, o, rec, NULL) == 0;
}

/* Runs order o for this iteration and keeps its outcome (replacing one of
 * another iteration). Returns the record, or NULL with err. */
static outcome_rec *run_order(const oracle_check_in *in, const order *o, const char *key, char *err, size_t errlen)
{
    outcome_rec *r = calloc(1, sizeof *r);
    if (!r || !(r->key = strdup(key)) || !(r->answers = calloc((size_t)o->n + 1, sizeof *r->answers))) {
        rec_free(r);
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    r->n = o->n;
    r->iteration = in->iteration;
    int rc = in->serial(in->arg, o->u, o->n, &r->st, r->answers, err, errlen);
    if (rc < 0) {
        rec_free(r);
        return NULL;
    }
    r->status = rc;
    if (rc == 0 && !r->st) {
        rec_free(r);
        err_set(err, errlen, "the serial run read no state");
        return NULL;
    }
    return r;
}

/* ---- the evidence ---- */

static void order_text(const oracle_check_in *in, const order *o, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < o->n && used < len; k++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", k ? ", " : "", in->units[o->u[k]].name);
    if (!o->n)
        snprintf(buf, len, "(none: no call took effect)");
}

/* What each caller of the concurrent run got, as the oracle reads it. */
static json_t *concurrent_answers(const oracle_check_in *in)
{
    json_t *a = json_array();
    for (int u = 0; u < in->nunits && a; u++) {
        const oracle_unit *x = &in->units[u];
        char text[300], line[500];
        state_answer_text(in->desc, in->concurrent, x->answer, text, sizeof text);
        snprintf(line, sizeof line, "%s: %s%s", x->name, text,
                 x->take == ORACLE_OUT ? " (failed: in no order)"
                 : x->take == ORACLE_MAYBE ? " (outcome unknown: orders with it and without it)" : "");
        json_array_append_new(a, json_string(line));
    }
    return a;
}

static json_t *serial_answers(const oracle_check_in *in, const order *o, const outcome_rec *rec)
{
    json_t *a = json_array();
    for (int k = 0; k < o->n && a; k++) {
        char text[300], line[500];
        state_answer_text(in->desc, rec->st, rec->answers[k], text, sizeof text);
        snprintf(line, sizeof line, "%s: %s", in->units[o->u[k]].name, text);
        json_array_append_new(a, json_string(line));
    }
    return a;
}

static json_t *evidence(const oracle_check_in *in, const oracle_verdict *v, const order *best,
                        const outcome_rec *rec)
{
    json_t *f = json_object(), *diff = json_array(), *only_c = json_array(), *only_s = json_array();
    json_t *crows = json_array(), *srows = json_array();
    int rows = state_diff(in->concurrent, rec->st, only_c, only_s);
    int answers = answers_differ(in, best, rec, diff);
    size_t i;
    json_t *line;
    json_array_foreach(only_c, i, line) {
        char t[400];
        snprintf(t, sizeof t, "only concurrent: %s", json_string_value(line));
        if (i < SHOWN)
            json_array_append_new(diff, json_string(t));
    }
    json_array_foreach(only_s, i, line) {
        char t[400];
        snprintf(t, sizeof t, "only serial: %s", json_string_value(line));
        if (i < SHOWN)
            json_array_append_new(diff, json_string(t));
    }
    state_rows(in->concurrent, crows, SHOWN);
    state_rows(rec->st, srows, SHOWN);
    int took = 0;
    for (int u = 0; u < in->nunits; u++)
        took += in->units[u].take != ORACLE_OUT;
    char text[600], ord[600], space[96];
    order_text(in, best, ord, sizeof ord);
    if (v->sampled)
        snprintf(space, sizeof space, "%d of %ld orders, a seeded sample", v->orders, v->space);
    else
        snprintf(space, sizeof space, "all %d order%s", v->orders, v->orders == 1 ? "" : "s");
    snprintf(text, sizeof text, "no serial order of the %d call%s that took effect gives this outcome (%s tried); "
             "the closest differs in %d row%s and %d answer%s", took, took == 1 ? "" : "s", space, rows,
             rows == 1 ? "" : "s", answers, answers == 1 ? "" : "s");
    json_object_set_new(f, "found", json_string(text));
    json_object_set_new(f, "concurrent", json_pack("{s:o,s:o}", "answers", concurrent_answers(in), "rows", crows));
    json_object_set_new(f, "closest", json_pack("{s:s,s:o,s:o}", "order", ord, "answers", serial_answers(in, best, rec),
                                                "rows", srows));
    json_object_set_new(f, "difference", diff);
    json_object_set_new(f, "orders", json_string(space));
    json_decref(only_c);
    json_decref(only_s);
    return f;
}

/* ---- the judgement ---- */

int oracle_check(const oracle_check_in *in, oracle_verdict *v, char *err, size_t errlen)
{
    *v = (oracle_verdict){ .held = -1 };
    if (in->nunits > MAX_UNITS) {
        err_set(err, errlen, "the oracle judges at most %d calls per iteration (this one made %d)", MAX_UNITS,
                in->nunits);
        return -1;
    }
    orders os = { 0 };
    if (make_orders(in, &os, &v->space, &v->sampled) < 0) {
        free(os.o);
        err_set(err, errlen, "out of memory");
        return -1;
    }
    v->orders = os.n;
    int rc = 0;
    char **keys = calloc((size_t)os.n + 1, sizeof *keys);
    outcome_rec **own = calloc((size_t)os.n + 1, sizeof *own);     /* this iteration's outcomes */
    bool *mine = calloc((size_t)os.n + 1, sizeof *mine);            /* ... not kept in the memo: freed here */
    if (!keys || !own || !mine) {
        rc = -1;
        err_set(err, errlen, "out of memory");
    }
    for (int i = 0; i < os.n && rc == 0; i++)
        if (!(keys[i] = order_key(in, &os.o[i]))) {
            rc = -1;
            err_set(err, errlen, "out of memory");
        }
    /* Outcomes kept from this workload's other iterations (or this one). */
    for (int i = 0; i < os.n && rc == 0 && v->held != 1; i++) {
        outcome_rec *r = in->memo ? *memo_slot(in->memo, keys[i]) : NULL;
        if (r && matches(in, &os.o[i], r))
            v->held = 1;
        if (r && r->iteration == in->iteration)
            own[i] = r;
    }
    /* This iteration's own, run as needed. */
    for (int i = 0; i < os.n && rc == 0 && v->held != 1; i++) {
        if (own[i])
            continue;
        outcome_rec *r = run_order(in, &os.o[i], keys[i], err, errlen);
        if (!r) {
            rc = -1;
            break;
        }
        v->ran++;
        outcome_rec **slot = in->memo ? memo_slot(in->memo, keys[i]) : NULL;
        if (slot && (*slot || in->memo->count < MEMO_MAX)) {
            if (*slot) {
                r->next = (*slot)->next;
                rec_free(*slot);
            } else {
                in->memo->count++;
            }
            *slot = r;
        } else {
            mine[i] = true;
        }
        own[i] = r;
        if (matches(in, &os.o[i], r))
            v->held = 1;
    }
    if (rc == 0 && v->held != 1) {
        /* Violated, unless no order could run: the closest order. */
        int best = -1, best_d = 0;
        for (int i = 0; i < os.n; i++) {
            if (!own[i] || own[i]->status)
                continue;
            int d = state_diff(in->concurrent, own[i]->st, NULL, NULL) + answers_differ(in, &os.o[i], own[i], NULL);
            if (best < 0 || d < best_d) {
                best = i;
                best_d = d;
            }
        }
        v->held = best < 0 ? -1 : 0;
        if (best >= 0 && !(v->found = evidence(in, v, &os.o[best], own[best]))) {
            rc = -1;
            err_set(err, errlen, "out of memory");
        }
    }
    for (int i = 0; own && mine && i < os.n; i++)
        if (mine[i])
            rec_free(own[i]);
    free(mine);
    for (int i = 0; keys && i < os.n; i++)
        free(keys[i]);
    free(keys);
    free(own);
    free(os.o);
    return rc;
}
