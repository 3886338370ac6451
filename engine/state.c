/*
 * state.c — a schema's rows in canonical form: the catalog read once,
 * each column's mode, emptying the tables, reading them in one round trip
 * and renaming generated values (see state.h).
 */
#include "engine/state.h"

#include "lib/err.h"
#include "lib/pq.h"

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum col_mode { M_EXACT, M_RENAMED, M_RANKED, M_PRESENT, M_IGNORE } col_mode;

static const char *const mode_names[] = { "exact", "renamed", "ranked", "present", "ignore" };

/* In a canonical row: cells are separated by CELL_SEP; NULL is NULL_MARK;
 * a label (renamed "#k", ranked "rk") starts with LABEL_MARK, so that no
 * value of the table can read as one; the iteration's number, in a
 * normalised row, is ITER_MARK. */
#define CELL_SEP '\x1f'
#define NULL_MARK "\x1e"
#define LABEL_MARK '\x1d'
#define ITER_MARK '\x1c'

typedef struct dcol {
    char *name;
    col_mode mode;
    int ref_table, ref_col;     /* the FOREIGN KEY's target, or -1 */
    int domain;                 /* where its values are labelled: renamed, ranked or referencing one; else -1 */
} dcol;

typedef struct dtable {
    char *name;
    dcol *cols;
    int ncols;
    bool compared;
    bool delete_trigger;
} dtable;

struct state_desc {
    dtable *t;
    int nt;
    int *order;                 /* the compared tables, each after those whose generated values it references */
    int norder;
    int ndomains;               /* one per renamed column, then the ranked values' one */
    int rank_domain;
    char **domain_names;        /* "table.column", "rank" */
    int *domain_table;          /* the table whose column owns it (-1: the ranked one) */
    int *domain_col;
    char *clear_sql;
    bool clear_one;             /* it is one statement (it can be prepared) */
    char *dump_sql;             /* NULL when no table is compared */
    int width;                  /* its value columns */
    regex_t mask;
    bool has_mask;
};

typedef struct stable {
    char **rows;                /* canonical rows, sorted */
    char **norm;                /* the same with the iteration's number replaced, sorted */
    int n;
} stable;

typedef struct sdomain {
    char **values;              /* value k-1 has label k */
    int n, cap;
} sdomain;

struct state {
    const state_desc *d;
    state_desc *owned;          /* d, when s frees it */
    long iteration;
    stable *t;                  /* per compared table, in d->order */
    sdomain *dom;               /* per domain */
};

/* ---- declarations ---- */

static int parse_decl(const char *decl, char *table, size_t tlen, char *col, size_t clen, col_mode *mode)
{
    const char *dot = strchr(decl, '.'), *eq = strchr(decl, '=');
    if (!dot || !eq || dot > eq || dot == decl || eq == dot + 1 || (size_t)(dot - decl) >= tlen ||
        (size_t)(eq - dot - 1) >= clen)
        return -1;
    snprintf(table, tlen, "%.*s", (int)(dot - decl), decl);
    snprintf(col, clen, "%.*s", (int)(eq - dot - 1), dot + 1);
    for (int m = 0; m < 5; m++)
        if (strcmp(eq + 1, mode_names[m]) == 0) {
            *mode = (col_mode)m;
            return 0;
        }
    return -1;
}

int state_check_decl(const char *decl, char *err, size_t errlen)
{
    char t[64], c[64];
    col_mode m;
    if (parse_decl(decl, t, sizeof t, c, sizeof c, &m) == 0)
        return 0;
    err_set(err, errlen, "bad column declaration '%s': expected TABLE.COLUMN=MODE, MODE one of exact, renamed, "
            "ranked, present, ignore", decl);
    return -1;
}

int state_opts_merge(state_opts *dst, const state_opts *src, char *err, size_t errlen)
{
    if (dst->ncolumns + src->ncolumns > STATE_MAX_DECL || dst->ntables + src->ntables > STATE_MAX_DECL) {
        err_set(err, errlen, "too many column or table declarations for the oracle (at most %d each)",
                STATE_MAX_DECL);
        return -1;
    }
    for (int i = 0; i < src->ncolumns; i++)
        dst->columns[dst->ncolumns++] = src->columns[i];
    for (int i = 0; i < src->ntables; i++)
        dst->tables[dst->ntables++] = src->tables[i];
    if (src->mask)
        dst->mask = src->mask;
    if (src->hidden)
        dst->hidden = src->hidden;
    return 0;
}

/* ---- the catalog ---- */

static int find_table(const state_desc *d, const char *name)
{
    for (int i = 0; i < d->nt; i++)
        if (strcmp(d->t[i].name, name) == 0)
            return i;
    return -1;
}

static int find_col(const dtable *t, const char *name)
{
    for (int i = 0; i < t->ncols; i++)
        if (strcmp(t->cols[i].name, name) == 0)
            return i;
    return -1;
}

/* The mode the catalog gives a column: its type and its default. */
static col_mode catalog_mode(const char *type, const char *def, bool identity)
{
    static const char *const clock[] = { "now()", "clock_timestamp()", "statement_timestamp()",
                                         "transaction_timestamp()", "timeofday()", "random()", "CURRENT_TIMESTAMP",
                                         "LOCALTIMESTAMP", "CURRENT_TIME", "LOCALTIME", "CURRENT_DATE" };
    if (identity || strstr(def, "nextval("))
        return M_RENAMED;
    if (strcmp(type, "uuid") == 0 && strchr(def, '('))
        return M_RENAMED;
    for (size_t i = 0; i < sizeof clock / sizeof clock[0]; i++)
        if (strstr(def, clock[i]))
            return M_PRESENT;
    if (strcmp(type, "timestamp") == 0 || strcmp(type, "timestamptz") == 0 || strcmp(type, "time") == 0 ||
        strcmp(type, "timetz") == 0)
        return M_PRESENT;
    return M_EXACT;
}

static PGresult *catalog(PGconn *c, const char *sql, const char *schema, char *err, size_t errlen)
{
    const char *p[] = { schema };
    return pqx_ctl_query(c, sql, 1, p, err, errlen);
}

static int read_columns(state_desc *d, PGconn *c, const char *schema, char *err, size_t errlen)
{
    PGresult *r = catalog(c,
                          "SELECT c.relname, a.attname, t.typname, coalesce(pg_get_expr(ad.adbin, ad.adrelid), ''), "
                          "       a.attidentity <> '' "
                          "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                          "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
                          "JOIN pg_type t ON t.oid = a.atttypid "
                          "LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum "
                          "WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
                          "ORDER BY c.relname, a.attnum",
                          schema, err, errlen);
    if (!r)
        return -1;
    int n = PQntuples(r);
    d->t = calloc((size_t)n + 1, sizeof *d->t);
    if (!d->t)
        goto oom;
    for (int i = 0; i < n; i++) {
        const char *tname = PQgetvalue(r, i, 0);
        if (d->nt == 0 || strcmp(d->t[d->nt - 1].name, tname) != 0) {
            dtable *t = &d->t[d->nt++];
            if (!(t->name = strdup(tname)) || !(t->cols = calloc((size_t)n, sizeof *t->cols)))
                goto oom;
            t->compared = true;
        }
        dtable *t = &d->t[d->nt - 1];
        dcol *col = &t->cols[t->ncols++];
        *col = (dcol){ .name = strdup(PQgetvalue(r, i, 1)), .ref_table = -1, .ref_col = -1, .domain = -1,
                       .mode = catalog_mode(PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4)[0] == 't') };
        if (!col->name)
            goto oom;
    }
    PQclear(r);
    return 0;
oom:
    PQclear(r);
    err_set(err, errlen, "out of memory");
    return -1;
}

static int read_keys(state_desc *d, PGconn *c, const char *schema, char *err, size_t errlen)
{
    PGresult *r = catalog(c,
                          "SELECT cl.relname, a.attname, rc.relname, ra.attname "
                          "FROM pg_constraint con JOIN pg_class cl ON cl.oid = con.conrelid "
                          "JOIN pg_namespace n ON n.oid = cl.relnamespace "
                          "JOIN pg_class rc ON rc.oid = con.confrelid "
                          "CROSS JOIN LATERAL unnest(con.conkey, con.confkey) AS k(col, rcol) "
                          "JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.col "
                          "JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = k.rcol "
                          "WHERE con.contype = 'f' AND n.nspname = $1",
                          schema, err, errlen);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        int t = find_table(d, PQgetvalue(r, i, 0)), rt = find_table(d, PQgetvalue(r, i, 2));
        int col = t < 0 ? -1 : find_col(&d->t[t], PQgetvalue(r, i, 1));
        int rcol = rt < 0 ? -1 : find_col(&d->t[rt], PQgetvalue(r, i, 3));
        if (col >= 0 && rcol >= 0) {
            d->t[t].cols[col].ref_table = rt;
            d->t[t].cols[col].ref_col = rcol;
        }
    }
    PQclear(r);
    r = catalog(c,
                "SELECT DISTINCT c.relname FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = $1 AND NOT tg.tgisinternal AND (tg.tgtype & 8) <> 0",
                schema, err, errlen);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        int t = find_table(d, PQgetvalue(r, i, 0));
        if (t >= 0)
            d->t[t].delete_trigger = true;
    }
    PQclear(r);
    return 0;
}

/* The declarations of o, applied; -1 with a reason for one naming nothing. */
static int apply_decls(state_desc *d, const state_opts *o, char *err, size_t errlen)
{
    for (int i = 0; i < o->ncolumns; i++) {
        char tname[64], cname[64];
        col_mode m;
        if (parse_decl(o->columns[i], tname, sizeof tname, cname, sizeof cname, &m) < 0)
            return state_check_decl(o->columns[i], err, errlen);
        int t = find_table(d, tname), col = t < 0 ? -1 : find_col(&d->t[t], cname);
        if (col < 0) {
            err_set(err, errlen, "oracle column %s: the schema has no %s %s", o->columns[i], t < 0 ? "table" : "column",
                    t < 0 ? tname : cname);
            return -1;
        }
        d->t[t].cols[col].mode = m;
    }
    for (int i = 0; i < d->nt && o->ntables; i++)
        d->t[i].compared = false;
    for (int i = 0; i < o->ntables; i++) {
        int t = find_table(d, o->tables[i]);
        if (t < 0) {
            err_set(err, errlen, "oracle table %s: the schema has no such table", o->tables[i]);
            return -1;
        }
        d->t[t].compared = true;
    }
    int hidden = o->hidden ? find_table(d, o->hidden) : -1;
    if (hidden >= 0)
        d->t[hidden].compared = false;
    if (o->mask) {
        int rc = regcomp(&d->mask, o->mask, REG_EXTENDED);
        if (rc != 0) {
            char why[128];
            regerror(rc, &d->mask, why, sizeof why);
            err_set(err, errlen, "bad oracle mask /%s/: %s", o->mask, why);
            return -1;
        }
        d->has_mask = true;
    }
    return 0;
}

/* Each column's domain: its own (renamed), the ranked one, or that of the
 * column its FOREIGN KEY references (followed a few hops). */
static int make_domains(state_desc *d)
{
    int n = 0;
    for (int t = 0; t < d->nt; t++)
        for (int c = 0; c < d->t[t].ncols; c++)
            n += d->t[t].cols[c].mode == M_RENAMED;
    d->ndomains = n + 1;
    d->rank_domain = n;
    d->domain_names = calloc((size_t)d->ndomains, sizeof *d->domain_names);
    d->domain_table = calloc((size_t)d->ndomains, sizeof *d->domain_table);
    d->domain_col = calloc((size_t)d->ndomains, sizeof *d->domain_col);
    if (!d->domain_names || !d->domain_table || !d->domain_col)
        return -1;
    int k = 0;
    for (int t = 0; t < d->nt; t++)
        for (int c = 0; c < d->t[t].ncols; c++) {
            dcol *col = &d->t[t].cols[c];
            if (col->mode == M_RANKED)
                col->domain = d->rank_domain;
            if (col->mode != M_RENAMED)
                continue;
            col->domain = k;
            d->domain_table[k] = t;
            d->domain_col[k] = c;
            if (asprintf(&d->domain_names[k], "%s.%s", d->t[t].name, col->name) < 0) {
                d->domain_names[k] = NULL;
                return -1;
            }
            k++;
        }
    d->domain_table[d->rank_domain] = -1;
    if (!(d->domain_names[d->rank_domain] = strdup("rank")))
        return -1;
    for (int t = 0; t < d->nt; t++)
        for (int c = 0; c < d->t[t].ncols; c++) {
            dcol *col = &d->t[t].cols[c];
            if (col->mode != M_EXACT)
                continue;
            const dcol *to = col;
            for (int hop = 0; hop < 8 && to->ref_table >= 0 && to->domain < 0; hop++)
                to = &d->t[to->ref_table].cols[to->ref_col];
            col->domain = to->domain;
        }
    return 0;
}

/* Whether table t references a generated value owned by table u (u != t). */
static bool depends_on(const state_desc *d, int t, int u)
{
    for (int c = 0; c < d->t[t].ncols; c++) {
        int dom = d->t[t].cols[c].domain;
        if (dom >= 0 && dom != d->rank_domain && d->domain_table[dom] == u && u != t)
            return true;
    }
    return false;
}

/* The compared tables, each after the tables whose generated values it
 * references (by name otherwise; a cycle falls back to name order). */
static int make_order(state_desc *d)
{
    d->order = calloc((size_t)d->nt + 1, sizeof *d->order);
    bool *placed = calloc((size_t)d->nt + 1, sizeof *placed);
    if (!d->order || !placed) {
        free(placed);
        return -1;
    }
    int want = 0;
    for (int t = 0; t < d->nt; t++)
        want += d->t[t].compared;
    while (d->norder < want) {
        int pick = -1;
        for (int t = 0; t < d->nt && pick < 0; t++) {
            if (placed[t] || !d->t[t].compared)
                continue;
            bool ready = true;
            for (int u = 0; u < d->nt && ready; u++)
                ready = placed[u] || !d->t[u].compared || !depends_on(d, t, u);
            if (ready)
                pick = t;
        }
        for (int t = 0; t < d->nt && pick < 0; t++)
            if (!placed[t] && d->t[t].compared)
                pick = t;
        placed[pick] = true;
        d->order[d->norder++] = pick;
    }
    free(placed);
    return 0;
}

/* Appends to a growing string; -1 out of memory. */
static int cat(char **s, size_t *len, size_t *cap, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int cat(char **s, size_t *len, size_t *cap, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(*s ? *s + *len : NULL, *s ? *cap - *len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return -1;
        if (*s && *len + (size_t)n < *cap) {
            *len += (size_t)n;
            return 0;
        }
        size_t ncap = (*cap ? *cap * 2 : 256) + (size_t)n;
        char *m = realloc(*s, ncap);
        if (!m)
            return -1;
        *s = m;
        *cap = ncap;
    }
}

/* A quoted identifier into buf. */
static const char *ident(PGconn *c, const char *name, char *buf, size_t len)
{
    char *q = PQescapeIdentifier(c, name, strlen(name));
    snprintf(buf, len, "%s", q ? q : name);
    PQfreemem(q);
    return buf;
}

/* One statement that empties every table and restarts every sequence:
 * a DELETE per table in one WITH (the foreign keys are checked at the
 * statement's end, when every table is empty), or TRUNCATE when DELETE
 * would run a table's triggers. */
static int make_clear(state_desc *d, PGconn *c, const char *schema, char *err, size_t errlen)
{
    PGresult *seqs = catalog(c,
                             "SELECT c.relname, s.seqstart FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid "
                             "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 ORDER BY 1",
                             schema, err, errlen);
    if (!seqs)
        return -1;
    bool truncate = false;
    for (int t = 0; t < d->nt; t++)
        truncate |= d->t[t].delete_trigger;
    char *s = NULL, q[256];
    size_t len = 0, cap = 0;
    int rc = cat(&s, &len, &cap, "%s", truncate && d->nt ? "TRUNCATE" : "");
    for (int t = 0; t < d->nt && rc == 0; t++)
        rc = truncate ? cat(&s, &len, &cap, "%s %s", t ? "," : "", ident(c, d->t[t].name, q, sizeof q))
                      : cat(&s, &len, &cap, "%s d%d AS (DELETE FROM %s)", t ? "," : "WITH", t,
                            ident(c, d->t[t].name, q, sizeof q));
    if (rc == 0 && truncate && d->nt)
        rc = cat(&s, &len, &cap, "; ");
    rc = rc == 0 ? cat(&s, &len, &cap, " SELECT 1") : -1;
    for (int i = 0; i < PQntuples(seqs) && rc == 0; i++) {
        ident(c, PQgetvalue(seqs, i, 0), q, sizeof q);
        char *lit = PQescapeLiteral(c, q, strlen(q));
        rc = lit ? cat(&s, &len, &cap, ", setval(%s, %s, false)", lit, PQgetvalue(seqs, i, 1)) : -1;
        PQfreemem(lit);
    }
    PQclear(seqs);
    if (rc < 0) {
        free(s);
        err_set(err, errlen, "out of memory");
        return -1;
    }
    d->clear_sql = s;
    d->clear_one = !truncate || !d->nt;
    return 0;
}

/* One query for every compared table: its number, then each compared
 * column as text, padded with NULLs to the widest. */
static int make_dump(state_desc *d, PGconn *c)
{
    d->width = 0;
    for (int i = 0; i < d->norder; i++) {
        const dtable *t = &d->t[d->order[i]];
        int w = 0;
        for (int k = 0; k < t->ncols; k++)
            w += t->cols[k].mode != M_IGNORE;
        d->width = w > d->width ? w : d->width;
    }
    if (!d->norder)
        return 0;
    char *s = NULL, q[256];
    size_t len = 0, cap = 0;
    int rc = 0;
    for (int i = 0; i < d->norder && rc == 0; i++) {
        const dtable *t = &d->t[d->order[i]];
        rc = cat(&s, &len, &cap, "%sSELECT %d", i ? " UNION ALL " : "", i);
        int w = 0;
        for (int k = 0; k < t->ncols && rc == 0; k++)
            if (t->cols[k].mode != M_IGNORE) {
                rc = cat(&s, &len, &cap, ", %s::text", ident(c, t->cols[k].name, q, sizeof q));
                w++;
            }
        for (; w < d->width && rc == 0; w++)
            rc = cat(&s, &len, &cap, ", NULL::text");
        if (rc == 0)
            rc = cat(&s, &len, &cap, " FROM %s", ident(c, t->name, q, sizeof q));
    }
    if (rc < 0) {
        free(s);
        return -1;
    }
    d->dump_sql = s;
    return 0;
}

state_desc *state_describe(PGconn *c, const char *schema, const state_opts *o, char *err, size_t errlen)
{
    state_desc *d = calloc(1, sizeof *d);
    if (!d) {
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    if (read_columns(d, c, schema, err, errlen) < 0 || read_keys(d, c, schema, err, errlen) < 0 ||
        apply_decls(d, o, err, errlen) < 0)
        goto fail;
    if (make_domains(d) < 0 || make_order(d) < 0 || make_dump(d, c) < 0) {
        err_set(err, errlen, "out of memory");
        goto fail;
    }
    if (make_clear(d, c, schema, err, errlen) < 0)
        goto fail;
    return d;
fail:
    state_desc_free(d);
    return NULL;
}

void state_desc_free(state_desc *d)
{
    if (!d)
        return;
    for (int t = 0; t < d->nt; t++) {
        for (int c = 0; c < d->t[t].ncols; c++)
            free(d->t[t].cols[c].name);
        free(d->t[t].cols);
        free(d->t[t].name);
    }
    for (int k = 0; d->domain_names && k < d->ndomains; k++)
        free(d->domain_names[k]);
    free(d->domain_names);
    free(d->domain_table);
    free(d->domain_col);
    free(d->t);
    free(d->order);
    free(d->clear_sql);
    free(d->dump_sql);
    if (d->has_mask)
        regfree(&d->mask);
    free(d);
}

/* ---- emptying ---- */

/* Who holds a lock on the schema's tables, as one line into buf. */
static void lock_holders(PGconn *c, char *buf, size_t len)
{
    char err[ERRLEN];
    PGresult *r = pqx_ctl_query(c,
                                "SELECT DISTINCT a.pid, a.application_name, a.state, left(a.query, 60) "
                                "FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                                "JOIN pg_stat_activity a ON a.pid = l.pid "
                                "WHERE c.relnamespace = current_schema()::regnamespace AND l.granted "
                                "AND a.pid <> pg_backend_pid()",
                                0, NULL, err, sizeof err);
    size_t used = (size_t)snprintf(buf, len, "%s", r && PQntuples(r) ? "held by" : "no holder seen");
    for (int i = 0; r && i < PQntuples(r) && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s pid %s (%s, %s: %s)", i ? ";" : "", PQgetvalue(r, i, 0),
                                 PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
    PQclear(r);
}

#define CLEAR_NAME "pgrace_state_clear"
#define DUMP_NAME "pgrace_state_read"

int state_prepare(PGconn *c, const state_desc *d, int lock_timeout_ms, char *err, size_t errlen)
{
    char set[64];
    snprintf(set, sizeof set, "SET lock_timeout = '%dms'", lock_timeout_ms);
    if (pqx_ctl_exec(c, set, err, errlen) < 0)
        return -1;
    const char *names[] = { CLEAR_NAME, DUMP_NAME }, *sqls[] = { d->clear_one ? d->clear_sql : NULL, d->dump_sql };
    for (int i = 0; i < 2; i++) {
        if (!sqls[i])
            continue;
        PGresult *r = PQprepare(c, names[i], sqls[i], 0, NULL);
        if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
            err_set(err, errlen, "preparing the oracle's statements: %s",
                    r ? PQresultErrorMessage(r) : PQerrorMessage(c));
            PQclear(r);
            return -1;
        }
        PQclear(r);
    }
    return 0;
}

void state_unprepare(PGconn *c, const state_desc *d)
{
    if (PQstatus(c) != CONNECTION_OK)
        return;
    char sql[160];
    snprintf(sql, sizeof sql, "%s%s%sRESET lock_timeout", d->clear_one ? "DEALLOCATE " CLEAR_NAME "; " : "",
             d->dump_sql ? "DEALLOCATE " DUMP_NAME : "", d->dump_sql ? "; " : "");
    PQclear(PQexec(c, sql));
}

/* Runs a prepared statement (prepared) or sql. */
static PGresult *run(PGconn *c, bool prepared, const char *name, const char *sql)
{
    return prepared ? PQexecPrepared(c, name, 0, NULL, NULL, NULL, 0) : PQexec(c, sql);
}

int state_clear(PGconn *c, const state_desc *d, bool prepared, char *err, size_t errlen)
{
    PGresult *r = run(c, prepared && d->clear_one, CLEAR_NAME, d->clear_sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        PQclear(r);
        return 0;
    }
    const char *code = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    char msg[256], holders[512] = "";
    snprintf(msg, sizeof msg, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    err_one_line(msg);
    bool timed_out = code && strcmp(code, "55P03") == 0;
    PQclear(r);
    if (timed_out)
        lock_holders(c, holders, sizeof holders);
    err_set(err, errlen, "emptying the schema's tables%s: %s%s%s", timed_out ? " (lock_timeout)" : "", msg,
            holders[0] ? "; " : "", holders);
    return -1;
}

/* ---- reading and renaming ---- */

static bool is_integer(const char *s, long long *v)
{
    char *end;
    errno = 0;
    *v = strtoll(s, &end, 10);
    return *s && !*end && !errno;
}

/* Orders two values: as integers when both are, else as text. */
static int value_cmp(const char *a, const char *b)
{
    long long x, y;
    if (is_integer(a, &x) && is_integer(b, &y))
        return x < y ? -1 : x > y;
    return strcmp(a, b);
}

static int domain_find(const sdomain *dom, const char *v)
{
    for (int k = 0; k < dom->n; k++)
        if (strcmp(dom->values[k], v) == 0)
            return k;
    return -1;
}

static int domain_add(sdomain *dom, const char *v)
{
    if (domain_find(dom, v) >= 0)
        return 0;
    if (dom->n == dom->cap) {
        int cap = dom->cap ? 2 * dom->cap : 8;
        char **m = realloc(dom->values, (size_t)cap * sizeof *m);
        if (!m)
            return -1;
        dom->values = m;
        dom->cap = cap;
    }
    return (dom->values[dom->n++] = strdup(v)) ? 0 : -1;
}

static int cmp_values(const void *a, const void *b) { return value_cmp(*(char *const *)a, *(char *const *)b); }
static int cmp_strings(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* One table's rows while they are renamed. */
typedef struct trows {
    int n;
    const PGresult *res;
    int *rows;                  /* indices into res */
    char **key;                 /* each row's sort key */
} trows;

/* The column's field in the dump's result, or -1 (ignored). */
static int field_of(const dtable *t, int col)
{
    if (t->cols[col].mode == M_IGNORE)
        return -1;
    int f = 1;
    for (int k = 0; k < col; k++)
        f += t->cols[k].mode != M_IGNORE;
    return f;
}

/* A cell as compared: a value, NULL, or a label; pending when its label
 * is not known yet (a generated value of this table, or of one after it). */
static int render_cell(const state *s, const dtable *t, int col, const PGresult *r, int row, bool final, char **out,
                       size_t *len, size_t *cap)
{
    int f = field_of(t, col);
    const dcol *c = &t->cols[col];
    if (f < 0)
        return 0;
    if (PQgetisnull(r, row, f))
        return cat(out, len, cap, "%s%c", NULL_MARK, CELL_SEP);
    const char *v = PQgetvalue(r, row, f);
    if (c->mode == M_PRESENT)
        return cat(out, len, cap, "%c<set>%c", LABEL_MARK, CELL_SEP);
    if (c->domain < 0)
        return cat(out, len, cap, "%s%c", v, CELL_SEP);
    int k = domain_find(&s->dom[c->domain], v);
    if (k >= 0)
        return cat(out, len, cap, "%c%s%d%c", LABEL_MARK, c->domain == s->d->rank_domain ? "r" : "#", k + 1, CELL_SEP);
    if (!final)
        return cat(out, len, cap, "%c", CELL_SEP);
    /* A reference to a value nobody holds (no such row). */
    return cat(out, len, cap, "%c?%s%c", LABEL_MARK, v, CELL_SEP);
}

/* Rows by key, then by their own generated values. */
static int cmp_rows(const void *a, const void *b, void *arg)
{
    const trows *sort_rows = arg;
    int x = *(const int *)a, y = *(const int *)b;
    int c = strcmp(sort_rows->key[x], sort_rows->key[y]);
    if (c)
        return c;
    const PGresult *r = sort_rows->res;
    for (int f = 1; f < PQnfields(r); f++) {
        c = value_cmp(PQgetvalue(r, sort_rows->rows[x], f), PQgetvalue(r, sort_rows->rows[y], f));
        if (c)
            return c;
    }
    return 0;
}

/* s's text with every occurrence of the iteration's number outside labels
 * replaced by ITER_MARK, in a new string. */
static char *normalise(const char *s, long iteration)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%ld", iteration);
    char *out = malloc(strlen(s) + 1), *o = out;
    if (!out)
        return NULL;
    while (*s) {
        if (*s == LABEL_MARK) {
            /* A label: copied whole, to the next cell. */
            while (*s && *s != CELL_SEP)
                *o++ = *s++;
        } else if (strncmp(s, num, (size_t)n) == 0) {
            *o++ = ITER_MARK;
            s += n;
        } else {
            *o++ = *s++;
        }
    }
    *o = '\0';
    return out;
}

static int add_ranks(state *s, const PGresult *r)
{
    const state_desc *d = s->d;
    sdomain *rank = &s->dom[d->rank_domain];
    for (int row = 0; row < PQntuples(r); row++) {
        const dtable *t = &d->t[d->order[atoi(PQgetvalue(r, row, 0))]];
        for (int c = 0; c < t->ncols; c++) {
            int f = field_of(t, c);
            if (t->cols[c].mode == M_RANKED && !PQgetisnull(r, row, f) && domain_add(rank, PQgetvalue(r, row, f)) < 0)
                return -1;
        }
    }
    if (rank->n > 1)
        qsort(rank->values, (size_t)rank->n, sizeof *rank->values, cmp_values);
    return 0;
}

/* Row k of tr as compared, in a new string (final: every label known), or
 * NULL out of memory. */
static char *render_row(const state *s, const dtable *t, const trows *tr, int k, bool final)
{
    char *row = NULL;
    size_t len = 0, cap = 0;
    if (cat(&row, &len, &cap, "%s", "") < 0)
        return NULL;
    for (int c = 0; c < t->ncols; c++)
        if (render_cell(s, t, c, tr->res, tr->rows[k], final, &row, &len, &cap) < 0) {
            free(row);
            return NULL;
        }
    return row;
}

/* Labels table i's generated values, in the order of its rows sorted by
 * their other columns. */
static int label_table(state *s, int i, trows *tr)
{
    const dtable *t = &s->d->t[s->d->order[i]];
    for (int k = 0; k < tr->n; k++)
        if (!(tr->key[k] = render_row(s, t, tr, k, false)))
            return -1;
    int *idx = malloc((size_t)(tr->n + 1) * sizeof *idx);
    if (!idx)
        return -1;
    for (int k = 0; k < tr->n; k++)
        idx[k] = k;
    qsort_r(idx, (size_t)tr->n, sizeof *idx, cmp_rows, tr);
    int rc = 0;
    for (int k = 0; k < tr->n && rc == 0; k++)
        for (int c = 0; c < t->ncols && rc == 0; c++) {
            const dcol *col = &t->cols[c];
            int f = field_of(t, c);
            if (col->mode == M_RENAMED && !PQgetisnull(tr->res, tr->rows[idx[k]], f))
                rc = domain_add(&s->dom[col->domain], PQgetvalue(tr->res, tr->rows[idx[k]], f));
        }
    free(idx);
    return rc;
}

/* Table i's rows in their final form, sorted, and normalised. */
static int finish_table(state *s, int i, const trows *tr)
{
    const dtable *t = &s->d->t[s->d->order[i]];
    stable *st = &s->t[i];
    st->rows = calloc((size_t)tr->n + 1, sizeof *st->rows);
    st->norm = calloc((size_t)tr->n + 1, sizeof *st->norm);
    if (!st->rows || !st->norm)
        return -1;
    for (int k = 0; k < tr->n; k++) {
        char *row = render_row(s, t, tr, k, true);
        if (!row)
            return -1;
        st->rows[st->n] = row;
        if (!(st->norm[st->n++] = normalise(row, s->iteration)))
            return -1;
    }
    qsort(st->rows, (size_t)st->n, sizeof *st->rows, cmp_strings);
    qsort(st->norm, (size_t)st->n, sizeof *st->norm, cmp_strings);
    return 0;
}

static int canonicalise(state *s, const PGresult *r)
{
    const state_desc *d = s->d;
    trows *tr = calloc((size_t)d->norder + 1, sizeof *tr);
    int rc = tr && add_ranks(s, r) == 0 ? 0 : -1;
    for (int i = 0; i < d->norder && rc == 0; i++) {
        tr[i].res = r;
        tr[i].rows = calloc((size_t)PQntuples(r) + 1, sizeof *tr[i].rows);
        tr[i].key = calloc((size_t)PQntuples(r) + 1, sizeof *tr[i].key);
        if (!tr[i].rows || !tr[i].key)
            rc = -1;
    }
    for (int row = 0; row < PQntuples(r) && rc == 0; row++) {
        trows *t = &tr[atoi(PQgetvalue(r, row, 0))];
        t->rows[t->n++] = row;
    }
    for (int i = 0; i < d->norder && rc == 0; i++)
        rc = label_table(s, i, &tr[i]);
    for (int i = 0; i < d->norder && rc == 0; i++)
        rc = finish_table(s, i, &tr[i]);
    for (int i = 0; tr && i < d->norder; i++) {
        for (int k = 0; tr[i].key && k < tr[i].n; k++)
            free(tr[i].key[k]);
        free(tr[i].key);
        free(tr[i].rows);
    }
    free(tr);
    return rc;
}

state *state_read(PGconn *c, const state_desc *d, long iteration, bool prepared, char *err, size_t errlen)
{
    state *s = calloc(1, sizeof *s);
    if (!s || !(s->t = calloc((size_t)d->norder + 1, sizeof *s->t)) ||
        !(s->dom = calloc((size_t)d->ndomains, sizeof *s->dom))) {
        state_free(s);
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    s->d = d;
    s->iteration = iteration;
    if (!d->dump_sql)
        return s;
    PGresult *r = run(c, prepared, DUMP_NAME, d->dump_sql);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        err_set(err, errlen, "reading the schema's tables: %s", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
        PQclear(r);
        state_free(s);
        return NULL;
    }
    int rc = canonicalise(s, r);
    PQclear(r);
    if (rc < 0) {
        state_free(s);
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    return s;
}

void state_adopt_desc(state *s) { s->owned = (state_desc *)s->d; }

void state_free(state *s)
{
    if (!s)
        return;
    for (int i = 0; s->t && i < s->d->norder; i++) {
        for (int k = 0; k < s->t[i].n; k++) {
            free(s->t[i].rows[k]);
            free(s->t[i].norm[k]);
        }
        free(s->t[i].rows);
        free(s->t[i].norm);
    }
    for (int k = 0; s->dom && k < s->d->ndomains; k++) {
        for (int v = 0; v < s->dom[k].n; v++)
            free(s->dom[k].values[v]);
        free(s->dom[k].values);
    }
    free(s->t);
    free(s->dom);
    state_desc_free(s->owned);
    free(s);
}

/* ---- comparing ---- */

static char **rows_of(const state *s, int i, bool norm) { return norm ? s->t[i].norm : s->t[i].rows; }

/* Whether a and b read the same tables (two descriptions of one schema's
 * shape, as a spec's tables are described anew for every run). */
static bool same_tables(const state *a, const state *b)
{
    if (a->d == b->d)
        return true;
    if (a->d->norder != b->d->norder)
        return false;
    for (int i = 0; i < a->d->norder; i++)
        if (strcmp(a->d->t[a->d->order[i]].name, b->d->t[b->d->order[i]].name) != 0)
            return false;
    return true;
}

bool state_equal(const state *a, const state *b)
{
    if (!same_tables(a, b))
        return false;
    bool norm = a->iteration != b->iteration;
    for (int i = 0; i < a->d->norder; i++) {
        if (a->t[i].n != b->t[i].n)
            return false;
        char **x = rows_of(a, i, norm), **y = rows_of(b, i, norm);
        for (int k = 0; k < a->t[i].n; k++)
            if (strcmp(x[k], y[k]) != 0)
                return false;
    }
    return true;
}

#define ROW_SHOWN 160           /* a row's line in the diagnostics, cut here */
#define CELL_SHOWN 40           /* ... and each of its values */

/* Table i's canonical row as a line: "TABLE {col=value, ...}". */
static void row_line(const state_desc *d, int i, const char *row, char *buf, size_t len)
{
    const dtable *t = &d->t[d->order[i]];
    size_t used = (size_t)snprintf(buf, len, "%s {", t->name);
    bool first = true;
    const char *p = row;
    for (int c = 0; c < t->ncols && used < len; c++) {
        if (t->cols[c].mode == M_IGNORE)
            continue;
        const char *end = strchr(p, CELL_SEP);
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *v = p;
        if (*v == LABEL_MARK) {
            v++;
            n--;
        }
        bool null = n == 1 && *v == NULL_MARK[0];
        used += (size_t)snprintf(buf + used, len - used, "%s%s=%.*s%s", first ? "" : ", ", t->cols[c].name,
                                 null ? 4 : (int)(n > CELL_SHOWN ? CELL_SHOWN : n), null ? "NULL" : v,
                                 n > CELL_SHOWN ? "…" : "");
        first = false;
        p = end ? end + 1 : p + n;
    }
    if (used < len)
        snprintf(buf + used, len - used, "}");
    if (used >= len && len > 4)
        snprintf(buf + len - 4, 4, "…");
}

/* A normalised row with the iteration's number put back, in a new string. */
static char *denormalise(const char *s, long iteration)
{
    char num[24];
    size_t n = (size_t)snprintf(num, sizeof num, "%ld", iteration), marks = 0;
    for (const char *p = s; (p = strchr(p, ITER_MARK)); p++)
        marks++;
    char *out = malloc(strlen(s) + marks * n + 1), *o = out;
    for (; out && *s; s++) {
        if (*s == ITER_MARK) {
            memcpy(o, num, n);
            o += n;
        } else {
            *o++ = *s;
        }
    }
    if (out)
        *o = '\0';
    return out;
}

/* Appends the rows of a's table i that b's lacks (multiset difference). */
static int table_diff(const state *a, const state *b, int i, json_t *out)
{
    bool norm = a->iteration != b->iteration;
    char **x = rows_of(a, i, norm), **y = rows_of(b, i, norm), **raw = a->t[i].rows;
    int n = 0, k = 0, j = 0;
    while (k < a->t[i].n) {
        int c = j < b->t[i].n ? strcmp(x[k], y[j]) : -1;
        if (c == 0) {
            k++;
            j++;
        } else if (c > 0) {
            j++;
        } else {
            if (out) {
                char line[ROW_SHOWN];
                /* The raw row of the same rank: the normalised ones sort alike but for the mark. */
                char *back = norm ? denormalise(x[k], a->iteration) : NULL;
                row_line(a->d, i, back ? back : raw[k], line, sizeof line);
                free(back);
                json_array_append_new(out, json_string(line));
            }
            n++;
            k++;
        }
    }
    return n;
}

int state_diff(const state *a, const state *b, json_t *only_a, json_t *only_b)
{
    int n = 0;
    if (!same_tables(a, b)) {
        /* Not comparable row by row: every row differs. */
        for (int i = 0; i < a->d->norder; i++)
            n += a->t[i].n;
        for (int i = 0; i < b->d->norder; i++)
            n += b->t[i].n;
        if (only_a)
            state_rows(a, only_a, 50);
        if (only_b)
            state_rows(b, only_b, 50);
        return n;
    }
    for (int i = 0; i < a->d->norder; i++)
        n += table_diff(a, b, i, only_a) + table_diff(b, a, i, only_b);
    return n;
}

void state_rows(const state *s, json_t *rows, int max)
{
    int n = 0;
    for (int i = 0; i < s->d->norder; i++)
        for (int k = 0; k < s->t[i].n && n < max; k++, n++) {
            char line[ROW_SHOWN];
            row_line(s->d, i, s->t[i].rows[k], line, sizeof line);
            json_array_append_new(rows, json_string(line));
        }
}

/* ---- answers ---- */

static bool token_char(char c) { return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.'; }

/* a with the mask's matches replaced by "…", in a new string. */
static char *masked(const state_desc *d, const char *a)
{
    if (!d || !d->has_mask)
        return strdup(a);
    size_t cap = strlen(a) * 3 + 4, used = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    regmatch_t m;
    const char *p = a;
    int flags = 0;
    while (*p && regexec(&d->mask, p, 1, &m, flags) == 0 && m.rm_eo > 0) {
        memcpy(out + used, p, (size_t)m.rm_so);
        used += (size_t)m.rm_so;
        used += (size_t)snprintf(out + used, cap - used, "…");
        p += m.rm_eo;
        flags = REG_NOTBOL;
    }
    snprintf(out + used, cap - used, "%s", p);
    return out;
}

/* The domains in which tok (n bytes) is a generated value: a bit per
 * domain (the first 64), with each one's label in labels[domain]. */
static uint64_t token_labels(const state *s, const char *tok, size_t n, int *labels)
{
    uint64_t bits = 0;
    char v[128];
    if (n >= sizeof v)
        return 0;
    memcpy(v, tok, n);
    v[n] = '\0';
    for (int k = 0; k < s->d->ndomains && k < 64; k++) {
        int l = domain_find(&s->dom[k], v);
        if (l >= 0) {
            bits |= 1ULL << k;
            labels[k] = l;
        }
    }
    return bits;
}

/* Whether two tokens' literal texts are equal, each read with its state's
 * iteration as the placeholder when the iterations differ. */
static bool literal_equal(const state *sa, const char *a, size_t na, const state *sb, const char *b, size_t nb)
{
    if (sa->iteration == sb->iteration)
        return na == nb && memcmp(a, b, na) == 0;
    char x[160], y[160];
    if (na >= sizeof x || nb >= sizeof y)
        return false;
    snprintf(x, sizeof x, "%.*s", (int)na, a);
    snprintf(y, sizeof y, "%.*s", (int)nb, b);
    char *p = normalise(x, sa->iteration), *q = normalise(y, sb->iteration);
    bool eq = p && q && strcmp(p, q) == 0;
    free(p);
    free(q);
    return eq;
}

static bool tokens_equal(const state *sa, const char *a, size_t na, const state *sb, const char *b, size_t nb)
{
    int la[64], lb[64];
    uint64_t da = token_labels(sa, a, na, la), db = token_labels(sb, b, nb, lb);
    for (int k = 0; k < 64; k++)
        if ((da & db & (1ULL << k)) && la[k] == lb[k])
            return true;
    /* A literal equal to a generated value in one run only: a count that
     * happens to equal an id. */
    return (!da || !db) && literal_equal(sa, a, na, sb, b, nb);
}

bool state_answers_equal(const state_desc *d, const state *sa, const char *a, const state *sb, const char *b)
{
    if (!a || !b)
        return !a && !b;
    char *x = masked(d, a), *y = masked(d, b);
    bool eq = x && y;
    const char *p = x, *q = y;
    while (eq && (*p || *q)) {
        if (token_char(*p) && token_char(*q)) {
            size_t np = 0, nq = 0;
            while (token_char(p[np]))
                np++;
            while (token_char(q[nq]))
                nq++;
            eq = tokens_equal(sa, p, np, sb, q, nq);
            p += np;
            q += nq;
        } else {
            eq = *p == *q && !token_char(*p);
            p++;
            q++;
        }
    }
    free(x);
    free(y);
    return eq;
}

void state_answer_text(const state_desc *d, const state *s, const char *a, char *buf, size_t len)
{
    char *x = a ? masked(d, a) : NULL;
    size_t used = 0;
    buf[0] = '\0';
    for (const char *p = x ? x : ""; *p && used < len;) {
        if (!token_char(*p)) {
            used += (size_t)snprintf(buf + used, len - used, "%c", *p++);
            continue;
        }
        size_t n = 0;
        while (token_char(p[n]))
            n++;
        int labels[64];
        uint64_t dom = token_labels(s, p, n, labels);
        int k = 0;
        while (dom && !(dom & (1ULL << k)))
            k++;
        if (dom && k == s->d->rank_domain)
            used += (size_t)snprintf(buf + used, len - used, "r%d", labels[k] + 1);
        else if (dom)
            used += (size_t)snprintf(buf + used, len - used, "%s#%d", s->d->domain_names[k], labels[k] + 1);
        else
            used += (size_t)snprintf(buf + used, len - used, "%.*s", (int)n, p);
        p += n;
    }
    free(x);
}
