/* batch.c — a scenario's declared SQL, prepared and batched (see batch.h). */
#include "engine/batch.h"

#include "lib/err.h"
#include "lib/pq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* pg_type.h's, which client code does not get: the parameters' types. */
#define INT8OID 20
#define INT4OID 23

#define SETUP_NAME "pgrace_setup"

/* The prepared statement of declared query q (-1: the setup). */
static void statement_name(int q, char *buf, size_t len)
{
    if (q < 0)
        snprintf(buf, len, "%s", SETUP_NAME);
    else
        snprintf(buf, len, "pgrace_q%d", q);
}

/* The index of sql among b's distinct queries, added when new; -1 out of
 * memory. */
static int intern(batch *b, const char *sql)
{
    for (int q = 0; q < b->nq; q++)
        if (b->sql[q] == sql || strcmp(b->sql[q], sql) == 0)
            return q;
    const char **more = realloc(b->sql, (size_t)(b->nq + 1) * sizeof *more);
    if (!more)
        return -1;
    b->sql = more;
    b->sql[b->nq] = sql;
    return b->nq++;
}

static int prepare(batch *b, const char *name, const char *sql, int nparams, const Oid *types, char *err,
                   size_t errlen)
{
    PGresult *r = PQprepare(b->ctl, name, sql, nparams, types);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        char what[80];
        snprintf(what, sizeof what, "%s", sql);
        err_one_line(what);
        err_set(err, errlen, "%s: %s", what, r ? PQresultErrorMessage(r) : PQerrorMessage(b->ctl));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    b->prepared++;
    return 0;
}

int batch_prepare(batch *b, PGconn *ctl, const scenario *s, char *err, size_t errlen)
{
    *b = (batch){ .ctl = ctl, .s = s };
    b->of = calloc((size_t)s->ninvariants + 1, sizeof *b->of);
    if (!b->of)
        goto oom;
    for (int k = 0; k < s->ninvariants; k++) {
        bool ended = false;
        for (int j = 0; j < SCENARIO_MAX_QUERIES; j++) {
            const char *sql = s->invariants[k].queries[j];
            ended |= !sql;
            b->of[k][j] = ended ? -1 : intern(b, sql);
            if (!ended && b->of[k][j] < 0)
                goto oom;
        }
    }
    b->res = calloc((size_t)b->nq + 1, sizeof *b->res);
    if (!b->res)
        goto oom;
    if (s->setup_sql &&
        prepare(b, SETUP_NAME, s->setup_sql, 3, (Oid[]){ INT8OID, INT4OID, INT8OID }, err, errlen) < 0)
        goto fail;
    for (int q = 0; q < b->nq; q++) {
        char name[32];
        statement_name(q, name, sizeof name);
        if (prepare(b, name, b->sql[q], 1, (Oid[]){ INT8OID }, err, errlen) < 0)
            goto fail;
    }
    return 0;
oom:
    err_set(err, errlen, "out of memory");
fail:
    batch_free(b);
    return -1;
}

int batch_setup(batch *b, long iteration, int nworkers, long salt, char *err, size_t errlen)
{
    const scenario *s = b->s;
    if (s->setup)
        return s->setup(b->ctl, iteration, nworkers, salt, err, errlen);
    if (!s->setup_sql)
        return 0;
    char it[24], n[16], sa[24];
    snprintf(it, sizeof it, "%ld", iteration);
    snprintf(n, sizeof n, "%d", nworkers);
    snprintf(sa, sizeof sa, "%ld", salt);
    const char *p[] = { it, n, sa };
    PGresult *r = PQexecPrepared(b->ctl, SETUP_NAME, 3, p, NULL, NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        err_set(err, errlen, "setup of iteration %ld: %s", iteration,
                r ? PQresultErrorMessage(r) : PQerrorMessage(b->ctl));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    return 0;
}

static void clear_results(batch *b)
{
    for (int q = 0; b->res && q < b->nq; q++) {
        PQclear(b->res[q]);
        b->res[q] = NULL;
    }
}

/* Reads what the pipeline sent back: for each query its result and the
 * NULL that ends it, then the sync. Returns 0, or -1 with the first
 * failure's reason (every result is read either way, so that the
 * connection leaves pipeline mode clean). */
static int read_pipeline(batch *b, char *err, size_t errlen)
{
    int rc = 0;
    for (int q = 0; q < b->nq; q++) {
        PGresult *r = PQgetResult(b->ctl);
        ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (st == PGRES_TUPLES_OK) {
            b->res[q] = r;
        } else {
            if (rc == 0) {
                char what[80];
                snprintf(what, sizeof what, "%s", b->sql[q]);
                err_one_line(what);
                err_set(err, errlen, "%s: %s", what,
                        r && st != PGRES_PIPELINE_ABORTED ? PQresultErrorMessage(r) : PQerrorMessage(b->ctl));
            }
            rc = -1;
            PQclear(r);
            if (!r)
                return -1;  /* nothing more will come: the connection is gone */
        }
        /* The NULL that ends the query's results. */
        PGresult *end = PQgetResult(b->ctl);
        if (end) {
            PQclear(end);
            err_set(err, errlen, "control connection: more than one result for one query");
            return -1;
        }
    }
    PGresult *sync = PQgetResult(b->ctl);
    if (!sync || PQresultStatus(sync) != PGRES_PIPELINE_SYNC) {
        if (rc == 0)
            err_set(err, errlen, "control connection: the pipeline's end is missing: %s", PQerrorMessage(b->ctl));
        rc = -1;
    }
    PQclear(sync);
    return rc;
}

int batch_queries(batch *b, long iteration, char *err, size_t errlen)
{
    clear_results(b);
    if (b->nq == 0)
        return 0;
    char it[24];
    snprintf(it, sizeof it, "%ld", iteration);
    const char *p[] = { it };
    if (PQenterPipelineMode(b->ctl) != 1) {
        err_set(err, errlen, "control connection: cannot enter pipeline mode: %s", PQerrorMessage(b->ctl));
        return -1;
    }
    int rc = 0;
    for (int q = 0; q < b->nq && rc == 0; q++) {
        char name[32];
        statement_name(q, name, sizeof name);
        if (PQsendQueryPrepared(b->ctl, name, 1, p, NULL, NULL, 0) != 1)
            rc = -1;
    }
    if (rc == 0 && PQpipelineSync(b->ctl) != 1)
        rc = -1;
    if (rc < 0)
        err_set(err, errlen, "control connection: %s", PQerrorMessage(b->ctl));
    else
        rc = read_pipeline(b, err, errlen);
    if (PQexitPipelineMode(b->ctl) != 1 && rc == 0) {
        err_set(err, errlen, "control connection: cannot leave pipeline mode: %s", PQerrorMessage(b->ctl));
        rc = -1;
    }
    if (rc < 0)
        clear_results(b);
    return rc;
}

void batch_rows(const batch *b, int k, const PGresult **rows)
{
    for (int j = 0; j < SCENARIO_MAX_QUERIES; j++)
        rows[j] = b->of && k < b->s->ninvariants && b->of[k][j] >= 0 ? b->res[b->of[k][j]] : NULL;
}

void batch_free(batch *b)
{
    clear_results(b);
    if (b->prepared && PQstatus(b->ctl) == CONNECTION_OK) {
        /* One round trip for them all; should it fail, the names stay
         * taken on this connection and the next prepare says so. */
        size_t cap = (size_t)b->prepared * 40 + 1, used = 0;
        char *sql = malloc(cap);
        int first = b->s->setup_sql ? -1 : 0;
        for (int q = first; sql && q < first + b->prepared; q++) {
            char name[32];
            statement_name(q, name, sizeof name);
            used += (size_t)snprintf(sql + used, cap - used, "DEALLOCATE %s;", name);
        }
        if (sql)
            PQclear(PQexec(b->ctl, sql));
        free(sql);
    }
    free(b->sql);
    free(b->of);
    free(b->res);
    *b = (batch){ 0 };
}
