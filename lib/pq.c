/* pq.c — libpq helpers: connections, outcomes, traces (see pq.h). */
#include "lib/pq.h"

#include "lib/clock.h"
#include "lib/err.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *outcome_name(outcome_kind k)
{
    switch (k) {
    case OUT_OK: return "ok";
    case OUT_CONFLICT: return "conflict";
    case OUT_RETRYABLE: return "retryable";
    case OUT_ERROR: return "error";
    }
    return "?";
}

int pqx_trace_init(pqx_trace *t, size_t cap)
{
    t->ev = calloc(cap, sizeof *t->ev);
    t->n = t->dropped = 0;
    t->cap = t->ev ? cap : 0;
    return t->ev ? 0 : -1;
}

void pqx_trace_reset(pqx_trace *t) { t->n = t->dropped = 0; }

void pqx_trace_free(pqx_trace *t)
{
    free(t->ev);
    t->ev = NULL;
    t->cap = t->n = 0;
}

static pqx_event *trace_start(pqx_trace *t, const PGconn *conn, const char *sql)
{
    if (!t)
        return NULL;
    if (t->n == t->cap) {
        t->dropped++;
        return NULL;
    }
    pqx_event *e = &t->ev[t->n++];
    memset(e, 0, sizeof *e);
    e->conn = conn;
    snprintf(e->sql, sizeof e->sql, "%s", sql);
    err_one_line(e->sql);
    e->t_send = clock_now_ns();
    return e;
}

char *pqx_text_array(const char *const *items, int n)
{
    size_t cap = 3;
    for (int i = 0; i < n; i++)
        cap += 2 * strlen(items[i]) + 3;
    char *buf = malloc(cap), *o = buf;
    if (!buf)
        return NULL;
    *o++ = '{';
    for (int i = 0; i < n; i++) {
        if (i)
            *o++ = ',';
        *o++ = '"';
        for (const char *c = items[i]; *c; c++) {
            if (*c == '"' || *c == '\\')
                *o++ = '\\';
            *o++ = *c;
        }
        *o++ = '"';
    }
    *o++ = '}';
    *o = '\0';
    return buf;
}

int pqx_check_conninfo(const char *conninfo, char *err, size_t errlen)
{
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &msg);
    if (!opts) {
        err_set(err, errlen, "bad DSN: %s", msg ? msg : "out of memory");
        PQfreemem(msg);
        return -1;
    }
    PQconninfoFree(opts);
    return 0;
}

PGconn *pqx_connect(const char *conninfo, const char *schema, const char *appname,
                    char *err, size_t errlen)
{
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &msg);
    if (!opts) {
        err_set(err, errlen, "bad DSN: %s", msg ? msg : "out of memory");
        PQfreemem(msg);
        return NULL;
    }
    const char *old_options = NULL;
    bool has_timeout = false;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (strcmp(o->keyword, "options") == 0 && o->val)
            old_options = o->val;
        has_timeout |= strcmp(o->keyword, "connect_timeout") == 0 && o->val && *o->val;
    }
    /* search_path is set at connection start, not by a SET statement, so it
     * costs no statement a fault rule could count. */
    /* Notices (DROP ... CASCADE's list) would clutter the TAP stream. */
    char options[1024];
    snprintf(options, sizeof options, "%s%s-c client_min_messages=warning%s%s", old_options ? old_options : "",
             old_options ? " " : "", schema ? " -c search_path=" : "", schema ? schema : "");
    /* Connecting (and PQreset after a dropped connection) is bounded
     * unless the DSN or PGCONNECT_TIMEOUT says otherwise. */
    const char *env_timeout = getenv("PGCONNECT_TIMEOUT");
    bool bounded = has_timeout || (env_timeout && *env_timeout);
    const char *keys[] = { "dbname", "options", "application_name", bounded ? NULL : "connect_timeout", NULL };
    const char *vals[] = { conninfo, options, appname, bounded ? NULL : "10", NULL };
    PQconninfoFree(opts);
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c) {
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        err_set(err, errlen, "cannot connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

static bool is_commit(const char *sql)
{
    while (isspace((unsigned char)*sql))
        sql++;
    return strncasecmp(sql, "COMMIT", 6) == 0 || strncasecmp(sql, "END", 3) == 0;
}

void pqx_classify(PGconn *conn, const PGresult *res, outcome *o)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    /* The primary message only: the SQLSTATE is kept apart, and detail,
     * hint and context would make every diagnostic line a paragraph. */
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!msg || !*msg)
        msg = PQerrorMessage(conn);
    o->conn_lost = PQstatus(conn) == CONNECTION_BAD;
    /* A connection loss has no SQLSTATE from the server: use the standard
     * class 08 code so reports can treat every failure alike. */
    snprintf(o->sqlstate, sizeof o->sqlstate, "%s", state && *state ? state : "08006");
    snprintf(o->message, sizeof o->message, "%s", msg ? msg : "");
    err_one_line(o->message);
    if (!o->conn_lost && (strcmp(o->sqlstate, "40001") == 0 || strcmp(o->sqlstate, "40P01") == 0 ||
                          strcmp(o->sqlstate, "55P03") == 0))
        o->kind = OUT_RETRYABLE;
    else
        o->kind = OUT_ERROR;
}

int pqx_exec(PGconn *conn, pqx_trace *t, outcome *o, PGresult **res,
             const char *sql, int nparams, const char *const *params)
{
    if (res)
        *res = NULL;
    pqx_event *e = trace_start(t, conn, sql);
    PGresult *r = nparams ? PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0)
                          : PQexec(conn, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    bool good = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (e)
        e->t_done = clock_now_ns();
    if (good) {
        if (res)
            *res = r;
        else
            PQclear(r);
        return 0;
    }
    pqx_classify(conn, r, o);
    if (o->conn_lost && is_commit(sql))
        o->indeterminate = true;
    if (e) {
        e->failed = true;
        memcpy(e->sqlstate, o->sqlstate, sizeof e->sqlstate);
    }
    PQclear(r);
    return -1;
}

void pqx_rollback_quiet(PGconn *conn, pqx_trace *t)
{
    PGTransactionStatusType ts = PQtransactionStatus(conn);
    if (ts != PQTRANS_INTRANS && ts != PQTRANS_INERROR)
        return;
    outcome ignored = { 0 };
    pqx_exec(conn, t, &ignored, NULL, "ROLLBACK", 0, NULL);
}

PGresult *pqx_ctl_query(PGconn *conn, const char *sql, int nparams, const char *const *params,
                        char *err, size_t errlen)
{
    PGresult *r = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    char what[80];
    snprintf(what, sizeof what, "%s", sql);
    err_one_line(what);
    err_set(err, errlen, "%s: %s", what, r ? PQresultErrorMessage(r) : PQerrorMessage(conn));
    PQclear(r);
    return NULL;
}

int pqx_ctl_exec(PGconn *conn, const char *sql, char *err, size_t errlen)
{
    /* PQexec, not PQexecParams: DDL scripts hold several statements. */
    PGresult *r = PQexec(conn, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        PQclear(r);
        return 0;
    }
    char what[80];
    snprintf(what, sizeof what, "%s", sql);
    err_one_line(what);
    err_set(err, errlen, "%s: %s", what, r ? PQresultErrorMessage(r) : PQerrorMessage(conn));
    PQclear(r);
    return -1;
}

int pqx_ctl_int(PGconn *conn, const char *sql, int nparams, const char *const *params,
                long long *value, char *err, size_t errlen)
{
    PGresult *r = pqx_ctl_query(conn, sql, nparams, params, err, errlen);
    if (!r)
        return -1;
    if (PQntuples(r) != 1 || PQnfields(r) < 1) {
        err_set(err, errlen, "%.60s: expected one row, got %d", sql, PQntuples(r));
        PQclear(r);
        return -1;
    }
    *value = PQgetisnull(r, 0, 0) ? 0 : atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

int pqx_find_row(const PGresult *r, int col, const char *value)
{
    int found = -1;
    for (int row = 0; row < PQntuples(r); row++)
        if (strcmp(PQgetvalue(r, row, col), value) == 0)
            found = row;
    return found;
}
