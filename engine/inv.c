/*
 * inv.c — the inv_* functions of scenario.h: what an invariant check reads
 * beyond its declared queries, the counts every scenario makes of its
 * calls, and what a check says (printf-style; the record of a violation is
 * built here, for the driver to keep).
 */
#include "engine/call_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define INV_LINE 400            /* a found sentence or detail line, cut here */

bool call_maybe_committed(const call_record *c) { return c->out.indeterminate; }

/* ---- reading ---- */

PGresult *inv_query(inv_ctx *x, const char *sql, int nparams, const char *const *params)
{
    return pqx_ctl_query(x->ctl, sql, nparams, params, x->state->err, x->state->errlen);
}

int inv_int(inv_ctx *x, long long *value, const char *sql, int nparams, const char *const *params)
{
    return pqx_ctl_int(x->ctl, sql, nparams, params, value, x->state->err, x->state->errlen);
}

bool res_bool(const PGresult *r, int row, int col) { return PQgetvalue(r, row, col)[0] == 't'; }

int res_find(const PGresult *r, int col, const char *value) { return pqx_find_row(r, col, value); }

int res_rows(const PGresult *r, int col, const char *value, int list_col, char *buf, size_t len)
{
    int n = 0;
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < PQntuples(r); i++) {
        if (col >= 0 && strcmp(PQgetvalue(r, i, col), value) != 0)
            continue;
        if (used < len) {
            int w = snprintf(buf + used, len - used, "%s%s", n ? ", " : "", PQgetvalue(r, i, list_col));
            used = w > 0 && used + (size_t)w < len ? used + (size_t)w : len;
        }
        n++;
    }
    return n;
}

void inv_tag(const inv_ctx *x, const call_record *c, char *buf, size_t len)
{
    snprintf(buf, len, CALL_TAG_FMT, x->iteration, c->worker + 1, c->attempt);
}

/* ---- counting calls ---- */

int inv_count(const inv_ctx *x, int kind, inv_skip_fn skip, char *who, size_t len)
{
    int n = 0;
    size_t used = 0;
    if (who && len)
        who[0] = '\0';
    for (int i = 0; i < x->ncalls; i++) {
        const call_record *c = &x->calls[i];
        if ((kind >= 0 && (int)c->out.kind != kind) || (skip && skip(x, c)))
            continue;
        n++;
        if (!who || used >= len)
            continue;
        int w = snprintf(who + used, len - used, "%s%d", used ? ", " : "", c->worker + 1);
        used = w > 0 && used + (size_t)w < len ? used + (size_t)w : len;
    }
    return n;
}

bool inv_any_faulted(const inv_ctx *x, inv_skip_fn skip)
{
    for (int i = 0; i < x->ncalls; i++)
        if (x->calls[i].faults && !(skip && skip(x, &x->calls[i])))
            return true;
    return false;
}

const call_record *inv_last_call(const inv_ctx *x, int worker)
{
    const call_record *last = NULL;
    for (int i = 0; i < x->ncalls; i++)
        if (x->calls[i].worker == worker)
            last = &x->calls[i];
    return last;
}

const pqx_event *inv_statement(const call_record *c, const char *prefix, const pqx_event *after)
{
    size_t len = strlen(prefix), keep = sizeof c->trace->ev[0].sql - 1;
    for (size_t i = after ? (size_t)(after - c->trace->ev) + 1 : 0; i < c->trace->n; i++)
        if (strncmp(c->trace->ev[i].sql, prefix, len < keep ? len : keep) == 0)
            return &c->trace->ev[i];
    return NULL;
}

/* ---- saying what was found ---- */

int inv_violated(inv_ctx *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->state->found, sizeof x->state->found, fmt, ap);
    va_end(ap);
    return 0;
}

/* Appends line to st's details. */
static void add_detail(inv_state *st, const char *line)
{
    if (!st->details && !(st->details = json_array())) {
        st->oom = true;
        return;
    }
    if (json_array_append_new(st->details, json_string(line)) < 0)
        st->oom = true;
}

void inv_detail(inv_ctx *x, const char *fmt, ...)
{
    char line[INV_LINE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    add_detail(x->state, line);
}

void inv_call_detail(inv_ctx *x, const call_record *c, const char *fmt, ...)
{
    char who[32], what[INV_LINE], why[INV_LINE], line[INV_LINE];
    call_who(c, who, sizeof who);
    call_describe(c, what, sizeof what);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(line, sizeof line, "%s: %.150s: %.200s", who, what, why);
    add_detail(x->state, line);
}

int inv_ndetails(const inv_ctx *x) { return (int)json_array_size(x->state->details); }

const char *inv_first_detail(const inv_ctx *x)
{
    const char *s = json_string_value(json_array_get(x->state->details, 0));
    return s ? s : "";
}

int inv_verdict(inv_ctx *x, const char *fmt, ...)
{
    if (inv_ndetails(x) == 0)
        return 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->state->found, sizeof x->state->found, fmt, ap);
    va_end(ap);
    return 0;
}

void inv_field(inv_ctx *x, const char *key, const char *fmt, ...)
{
    inv_state *st = x->state;
    char value[INV_LINE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    if ((!st->fields && !(st->fields = json_object())) || json_object_set_new(st->fields, key, json_string(value)) < 0)
        st->oom = true;
}

int inv_error(inv_ctx *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->state->err, x->state->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- the driver's side ---- */

json_t *inv_state_record(const inv_state *st, long iteration)
{
    json_t *found = json_object();
    if (!found || st->oom ||
        json_object_set_new(found, "record", json_integer(iteration)) < 0 ||
        json_object_set_new(found, "found", json_string(st->found[0] ? st->found : "(the check said nothing)")) < 0 ||
        (st->fields && json_object_update(found, st->fields) < 0) ||
        (st->details && json_object_set(found, "details", st->details) < 0)) {
        json_decref(found);
        return NULL;
    }
    return found;
}

void inv_state_clear(inv_state *st)
{
    json_decref(st->fields);
    json_decref(st->details);
    st->fields = st->details = NULL;
    st->found[0] = '\0';
    st->oom = false;
}
