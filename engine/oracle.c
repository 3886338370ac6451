/*
 * oracle.c — the serial oracle's judgement: the orders of an iteration's
 * units, their outcomes kept by inputs, the comparison and the evidence
 * of a violation (see oracle.h).
 */
#include "engine/oracle.h"

#include "lib/err.h"
#include "lib/hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMO_BUCKETS 1024
#define MEMO_MAX 8192           /* outcomes kept; past it, new ones are not */
#define MEMO_PER_ORDER 8        /* outcomes of one order of one key kept, from as many iterations: a key
                                 * without a workload (an exec'd program's) meets several */
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

json_t *oracle_settings_json(oracle_mode m, const state_opts *so)
{
    if (m == ORACLE_OFF)
        return json_null();
    json_t *cols = json_array(), *tables = json_array();
    for (int i = 0; i < so->ncolumns; i++)
        json_array_append_new(cols, json_string(so->columns[i]));
    for (int i = 0; i < so->ntables; i++)
        json_array_append_new(tables, json_string(so->tables[i]));
    return json_pack("{s:s,s:o,s:o,s:s?}", "mode", oracle_mode_name(m), "columns", cols, "tables", tables, "mask",
                     so->mask);
}

int oracle_settings_read(json_t *j, oracle_mode *m, state_opts *so, char *err, size_t errlen)
{
    *m = ORACLE_OFF;
    *so = (state_opts){ 0 };
    if (!j || json_is_null(j))
        return 0;
    const char *mode = json_string_value(json_object_get(j, "mode"));
    json_t *cols = json_object_get(j, "columns"), *tables = json_object_get(j, "tables");
    if (!mode || oracle_mode_parse(mode, m) < 0 || json_array_size(cols) > STATE_MAX_DECL ||
        json_array_size(tables) > STATE_MAX_DECL) {
        err_set(err, errlen, "the report's oracle settings are malformed");
        return -1;
    }
    size_t i;
    json_t *v;
    json_array_foreach(cols, i, v)
        if ((so->columns[so->ncolumns++] = json_string_value(v)) == NULL)
            so->ncolumns--;
    json_array_foreach(tables, i, v)
        if ((so->tables[so->ntables++] = json_string_value(v)) == NULL)
            so->ntables--;
    so->mask = json_string_value(json_object_get(j, "mask"));
    return 0;
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

static outcome_rec **memo_bucket(oracle_memo *m, const char *key)
{
    return &m->b[hash_fnv1a(HASH_FNV1A_INIT, key, strlen(key)) % MEMO_BUCKETS];
}

/* The kept outcomes of key (an order's), the newest first, into out. */
static int memo_find(oracle_memo *m, const char *key, outcome_rec **out)
{
    int n = 0;
    for (outcome_rec *r = *memo_bucket(m, key); r && n < MEMO_PER_ORDER; r = r->next)
        if (strcmp(r->key, key) == 0)
            out[n++] = r;
    return n;
}

/* Keeps r as its key's newest outcome: the oldest of the key goes past
 * MEMO_PER_ORDER. Returns false (r not kept) past MEMO_MAX. */
static bool memo_add(oracle_memo *m, outcome_rec *r)
{
    outcome_rec **head = memo_bucket(m, r->key), **oldest = NULL;
    int same = 0;
    for (outcome_rec **p = head; *p; p = &(*p)->next)
        if (strcmp((*p)->key, r->key) == 0 && ++same == MEMO_PER_ORDER)
            oldest = p;
    if (oldest) {
        outcome_rec *gone = *oldest;
        *oldest = gone->next;
        rec_free(gone);
        m->count--;
    }
    if (m->count >= MEMO_MAX)
        return false;
    r->next = *head;
    *head = r;
    m->count++;
    return true;
}

/* ---- the orders ---- */

typedef struct order {
    int u[MAX_UNITS];
    int n;
} order;

/* The units of one subset, by lane: unit[l] lists lane l's in order. */
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

/* Orders of a subset: n! / prod(size!), saturating past limit. */
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

static int popcount(unsigned x) { return __builtin_popcount(x); }

/* The subsets of the maybe units, the largest first: an outcome lost at
 * COMMIT usually did commit. At most limit of them. */
static int subsets(int nmaybe, unsigned *out, int limit)
{
    int n = 0;
    unsigned all = (1u << nmaybe) - 1;
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

static bool answer_same(const oracle_check_in *in, const order *o, const outcome_rec *rec, int k)
{
    const oracle_unit *u = &in->units[o->u[k]];
    return u->take != ORACLE_IN ||
           state_answers_equal(in->desc, in->concurrent, u->answer, rec->st, rec->answers[k]);
}

/* Answers that differ between the concurrent run and rec, for order o;
 * with lines when diff is given. */
static int answers_differ(const oracle_check_in *in, const order *o, const outcome_rec *rec, json_t *diff)
{
    int n = 0;
    for (int k = 0; k < o->n; k++) {
        if (answer_same(in, o, rec, k))
            continue;
        n++;
        if (diff) {
            const oracle_unit *u = &in->units[o->u[k]];
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

/* Runs order o for this iteration. Returns the record, or NULL with err. */
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

/* ---- the search ---- */

/*
 * The orders are searched depth first, a lane's next unit at a time, the
 * units that took effect first tried first: the first order reached is
 * the concurrent run's own. Each order's outcome is judged whole, but a
 * serial run is deterministic, so an answer that differs at position k
 * rules out every order that begins with the same k+1 units: the search
 * skips them (a refusal the concurrent run gave cannot follow a prefix
 * that makes the call succeed). First every order the memo holds is
 * compared (cheap: no run); then the orders are run for this iteration,
 * nearest the concurrent run's own first (see oracle_check), until one
 * matches, the space is exhausted or the run budget is spent.
 */
#define LEAVES_KEPT_MAX 4096    /* orders compared with kept outcomes */

typedef struct search {
    const oracle_check_in *in;
    bool running;               /* the passes that run orders */
    int discrepancies;          /* ... the orders of this pass: this many choices off the first */
    bool held, cut;
    int runs;
    long leaves;                /* orders compared with kept outcomes */
    long judged;                /* orders judged in the running passes */
    char **fail;                /* the prefixes ruled out, as keys */
    int nfail, capfail;
    outcome_rec **own;          /* this iteration's runs not kept in the memo */
    int nown, capown;
    const outcome_rec *best;    /* the closest so far, and its order */
    order best_order;
    int best_d;
    char *err;
    size_t errlen;
} search;

static char *prefix_key(const order *o, int n)
{
    char *k = malloc((size_t)n * 12 + 2);
    size_t used = 0;
    for (int i = 0; k && i < n; i++)
        used += (size_t)sprintf(k + used, "%d,", o->u[i]);
    if (k)
        k[used] = '\0';
    return k;
}

static bool ruled_out(const search *s, const order *o)
{
    if (!s->nfail)
        return false;
    char *k = prefix_key(o, o->n);
    bool out = false;
    for (int i = 0; k && i < s->nfail && !out; i++)
        out = strcmp(s->fail[i], k) == 0;
    free(k);
    return out;
}

static int rule_out(search *s, const order *o, int n)
{
    if (s->nfail == s->capfail) {
        int cap = s->capfail ? 2 * s->capfail : 16;
        char **m = realloc(s->fail, (size_t)cap * sizeof *m);
        if (!m)
            return -1;
        s->fail = m;
        s->capfail = cap;
    }
    return (s->fail[s->nfail++] = prefix_key(o, n)) ? 0 : -1;
}

/* What a run of this iteration teaches: the closest outcome so far, and
 * the prefix its first differing answer rules out. */
static int learn(search *s, const order *o, const outcome_rec *r)
{
    if (r->status)
        return 0;
    int d = state_diff(s->in->concurrent, r->st, NULL, NULL) + answers_differ(s->in, o, r, NULL);
    if (!s->best || d < s->best_d) {
        s->best = r;
        s->best_order = *o;
        s->best_d = d;
    }
    for (int k = 0; k < o->n; k++)
        if (!answer_same(s->in, o, r, k))
            return rule_out(s, o, k + 1);
    return 0;
}

static int keep(search *s, outcome_rec *r)
{
    if (s->nown == s->capown) {
        int cap = s->capown ? 2 * s->capown : 16;
        outcome_rec **m = realloc(s->own, (size_t)cap * sizeof *m);
        if (!m)
            return -1;
        s->own = m;
        s->capown = cap;
    }
    s->own[s->nown++] = r;
    return 0;
}

/* One complete order. Returns 0 (s->held set when it matches), or -1. */
static int leaf(search *s, const order *o)
{
    const oracle_check_in *in = s->in;
    s->leaves++;
    char *key = order_key(in, o);
    if (!key) {
        err_set(s->err, s->errlen, "out of memory");
        return -1;
    }
    outcome_rec *kept[MEMO_PER_ORDER], *own = NULL, *r;
    int nkept = in->memo ? memo_find(in->memo, key, kept) : 0;
    for (int k = 0; k < nkept; k++)
        if (kept[k]->iteration == in->iteration)
            own = kept[k];
    int rc = 0;
    s->judged += s->running;
    if (!s->running) {
        for (int k = 0; k < nkept && !s->held; k++)
            s->held = matches(in, o, kept[k]);
        s->cut |= s->leaves >= LEAVES_KEPT_MAX;
    } else if (own) {
        rc = learn(s, o, own);  /* this iteration's own, compared in the first pass */
    } else if (s->runs >= ORACLE_MAX_RUNS) {
        s->cut = true;
    } else if (!(r = run_order(in, o, key, s->err, s->errlen))) {
        rc = -1;
    } else {
        s->runs++;
        if (!(in->memo && memo_add(in->memo, r)) && keep(s, r) < 0) {
            rec_free(r);
            r = NULL;
            rc = -1;
            err_set(s->err, s->errlen, "out of memory");
        }
        if (r && matches(in, o, r))
            s->held = true;
        else if (r)
            rc = learn(s, o, r);
    }
    free(key);
    return rc;
}

/* Every order of the subset's lanes that extends o, depth first; when
 * running, those that leave the first choice (the unit that took effect
 * first) exactly disc more times. */
static int descend(search *s, const lanes *ls, int *at, order *o, int disc)
{
    if (s->held || s->cut)
        return 0;
    if (s->running && o->n && ruled_out(s, o))
        return 0;
    int next[MAX_UNITS], n = 0;
    for (int l = 0; l < ls->nl; l++)
        if (at[l] < ls->size[l])
            next[n++] = l;
    if (!n)
        return s->running && disc ? 0 : leaf(s, o);
    /* The lanes whose next unit took effect first, first. */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0; j--) {
            int a = next[j - 1], b = next[j];
            if (s->in->units[ls->unit[b][at[b]]].t_effect >= s->in->units[ls->unit[a][at[a]]].t_effect)
                break;
            next[j - 1] = b;
            next[j] = a;
        }
    for (int i = 0; i < n; i++) {
        int l = next[i], left = s->running ? disc - (i > 0) : 0;
        if (left < 0)
            break;
        o->u[o->n++] = ls->unit[l][at[l]++];
        int rc = descend(s, ls, at, o, left);
        at[l]--;
        o->n--;
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* ---- the evidence ---- */

static void order_text(const oracle_check_in *in, const order *o, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < o->n && used < len; k++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", k ? ", " : "", in->units[o->u[k]].name);
    if (!o->n)
        snprintf(buf, len, "(none: nothing took effect)");
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

/* "all 6 orders", "12 of 1374 orders (the rest ruled out by an answer)",
 * "128 of 5040 orders run: the search was cut" into buf. */
static void space_text(const oracle_verdict *v, char *buf, size_t len)
{
    if (v->cut)
        snprintf(buf, len, "%d of %ld orders run: the search was cut at %d runs", v->orders, v->space, ORACLE_MAX_RUNS);
    else if (v->orders == v->space)
        snprintf(buf, len, "all %d order%s", v->orders, v->orders == 1 ? "" : "s");
    else
        snprintf(buf, len, "%d of %ld orders; the rest ruled out by an answer that differs", v->orders, v->space);
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
    char text[600], ord[600], space[160];
    order_text(in, best, ord, sizeof ord);
    space_text(v, space, sizeof space);
    snprintf(text, sizeof text, "no serial order of the %d %s%s that took effect gives this outcome (%s); "
             "the closest differs in %d row%s and %d answer%s", took, in->unit_word ? in->unit_word : "call",
             took == 1 ? "" : "s", space, rows, rows == 1 ? "" : "s", answers, answers == 1 ? "" : "s");
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

/* The search over every subset of the maybe units, the largest first. */
static int search_all(search *s, const unsigned *masks, int nmasks, const int *maybe, int nmaybe)
{
    for (int i = 0; i < nmasks && !s->held; i++) {
        int members[MAX_UNITS], at[MAX_UNITS] = { 0 };
        int n = members_of(s->in->units, s->in->nunits, maybe, nmaybe, masks[i], members);
        lanes ls;
        order o = { .n = 0 };
        make_lanes(s->in->units, members, n, &ls);
        if (descend(s, &ls, at, &o, s->discrepancies) < 0)
            return -1;
    }
    return 0;
}

int oracle_check(const oracle_check_in *in, oracle_verdict *v, char *err, size_t errlen)
{
    *v = (oracle_verdict){ .held = -1 };
    if (in->nunits > MAX_UNITS) {
        err_set(err, errlen, "the oracle judges at most %d calls per iteration (this one made %d)", MAX_UNITS,
                in->nunits);
        return -1;
    }
    int maybe[MAX_UNITS], nmaybe = 0;
    for (int u = 0; u < in->nunits; u++)
        if (in->units[u].take == ORACLE_MAYBE && nmaybe < 10)
            maybe[nmaybe++] = u;     /* past 10 (1024 subsets), the rest are left out of every order */
    unsigned masks[1 << 10];
    int nmasks = subsets(nmaybe, masks, 1 << 10);
    double space = 0;
    for (int i = 0; i < nmasks; i++) {
        int members[MAX_UNITS], n = members_of(in->units, in->nunits, maybe, nmaybe, masks[i], members);
        lanes ls;
        make_lanes(in->units, members, n, &ls);
        space += count_orders(&ls, 1e12);
    }
    v->space = space > 1e12 ? (long)1e12 : (long)space;
    search s = { .in = in, .err = err, .errlen = errlen };
    int rc = search_all(&s, masks, nmasks, maybe, nmaybe);
    /* Then runs, the orders closest to the concurrent run's own first:
     * each subset's own (with several maybe units, which of them committed
     * decides more than the order), then those one choice off it, two ...
     * (a limited discrepancy search: every order once in all). */
    s.running = true;
    s.cut = false;
    for (int k = 0; k < in->nunits && rc == 0 && !s.held && !s.cut; k++) {
        s.discrepancies = k;
        rc = search_all(&s, masks, nmasks, maybe, nmaybe);
    }
    v->ran = s.runs;
    v->orders = (int)s.judged;
    v->cut = s.cut;
    if (rc == 0 && s.held)
        v->held = 1;
    else if (rc == 0 && s.best) {
        v->held = 0;
        if (!(v->found = evidence(in, v, &s.best_order, s.best))) {
            rc = -1;
            err_set(err, errlen, "out of memory");
        }
    }
    for (int i = 0; i < s.nfail; i++)
        free(s.fail[i]);
    free(s.fail);
    for (int i = 0; i < s.nown; i++)
        rec_free(s.own[i]);
    free(s.own);
    return rc;
}
