/*
 * interpose.c — the libpq functions the shim replaces.
 *
 * Every wrapper first checks the per-thread recursion depth (libfiu style):
 * libpq's PQexec calls PQsendQuery and PQgetResult through its PLT, i.e.
 * through these wrappers, and those inner calls must pass straight through
 * so that each statement is counted once, by the outermost call.
 * What counts as a statement: every execution (PQexec, PQexecParams,
 * PQexecPrepared and their PQsend* forms, queued or not in pipeline mode).
 * PQprepare/PQsendPrepare only parse: they are not counted or faulted, but
 * remember the text so that a later execution matches sql=/re/.
 * With no rules and no gate a statement costs one TLS read and two atomic
 * loads.
 */
#include "faults/pgf_int.h"

#define PASS_THROUGH()                                                          \
    (pgf_depth || pgf_exempt ||                                                 \
     (!atomic_load_explicit(&pgf_active, memory_order_acquire) &&               \
      !atomic_load_explicit(&pgf_gate, memory_order_acquire)))

static PGresult *run_sync(const struct pgf_call *c)
{
    struct pgf_decision d;
    PGresult *res;
    pgf_depth++;
    res = pgf_decide(c, &d) ? pgf_inject_sync(c, &d) : pgf_real_sync(c);
    pgf_depth--;
    return res;
}

static int run_async(const struct pgf_call *c)
{
    struct pgf_decision d;
    int ok;
    pgf_depth++;
    ok = pgf_decide(c, &d) ? pgf_inject_async(c, &d) : pgf_real_async(c);
    pgf_depth--;
    return ok;
}

static const char *prepared_text(PGconn *conn, const char *name)
{
    return pgf_conn_prepared_text(pgf_conn_find(conn), name);
}

EXPORT PGresult *PQexec(PGconn *conn, const char *query)
{
    if (PASS_THROUGH() || !query) return REAL(PQexec)(conn, query);
    struct pgf_call c = {.api = PGF_API_EXEC, .conn = conn, .sql = query, .command = query};
    return run_sync(&c);
}

EXPORT PGresult *PQexecParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
                              const char *const *paramValues, const int *paramLengths,
                              const int *paramFormats, int resultFormat)
{
    if (PASS_THROUGH() || !command)
        return REAL(PQexecParams)(conn, command, nParams, paramTypes, paramValues, paramLengths,
                                  paramFormats, resultFormat);
    struct pgf_call c = {PGF_API_EXEC_PARAMS, conn, command, command, nParams, paramTypes,
                         paramValues, paramLengths, paramFormats, resultFormat};
    return run_sync(&c);
}

EXPORT PGresult *PQexecPrepared(PGconn *conn, const char *stmtName, int nParams,
                                const char *const *paramValues, const int *paramLengths,
                                const int *paramFormats, int resultFormat)
{
    if (PASS_THROUGH())
        return REAL(PQexecPrepared)(conn, stmtName, nParams, paramValues, paramLengths,
                                    paramFormats, resultFormat);
    struct pgf_call c = {PGF_API_EXEC_PREPARED, conn, prepared_text(conn, stmtName), stmtName,
                         nParams, NULL, paramValues, paramLengths, paramFormats, resultFormat};
    return run_sync(&c);
}

EXPORT int PQsendQuery(PGconn *conn, const char *query)
{
    if (PASS_THROUGH() || !query) return REAL(PQsendQuery)(conn, query);
    struct pgf_call c = {.api = PGF_API_SEND_QUERY, .conn = conn, .sql = query, .command = query};
    return run_async(&c);
}

EXPORT int PQsendQueryParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
                             const char *const *paramValues, const int *paramLengths,
                             const int *paramFormats, int resultFormat)
{
    if (PASS_THROUGH() || !command)
        return REAL(PQsendQueryParams)(conn, command, nParams, paramTypes, paramValues,
                                       paramLengths, paramFormats, resultFormat);
    struct pgf_call c = {PGF_API_SEND_PARAMS, conn, command, command, nParams, paramTypes,
                         paramValues, paramLengths, paramFormats, resultFormat};
    return run_async(&c);
}

EXPORT int PQsendQueryPrepared(PGconn *conn, const char *stmtName, int nParams,
                               const char *const *paramValues, const int *paramLengths,
                               const int *paramFormats, int resultFormat)
{
    if (PASS_THROUGH())
        return REAL(PQsendQueryPrepared)(conn, stmtName, nParams, paramValues, paramLengths,
                                         paramFormats, resultFormat);
    struct pgf_call c = {PGF_API_SEND_PREPARED, conn, prepared_text(conn, stmtName), stmtName,
                         nParams, NULL, paramValues, paramLengths, paramFormats, resultFormat};
    return run_async(&c);
}

/* Preparing is remembered even with no rules: pgf_configure may install a
 * sql=/re/ rule later, and the text is needed then. */
EXPORT PGresult *PQprepare(PGconn *conn, const char *stmtName, const char *query, int nParams,
                           const Oid *paramTypes)
{
    if (pgf_depth || pgf_exempt) return REAL(PQprepare)(conn, stmtName, query, nParams, paramTypes);
    pgf_depth++;
    pgf_conn_remember_prepared(conn, stmtName, query);
    PGresult *res = REAL(PQprepare)(conn, stmtName, query, nParams, paramTypes);
    pgf_depth--;
    return res;
}

EXPORT int PQsendPrepare(PGconn *conn, const char *stmtName, const char *query, int nParams,
                         const Oid *paramTypes)
{
    if (pgf_depth || pgf_exempt) return REAL(PQsendPrepare)(conn, stmtName, query, nParams, paramTypes);
    pgf_depth++;
    pgf_conn_remember_prepared(conn, stmtName, query);
    int ok = REAL(PQsendPrepare)(conn, stmtName, query, nParams, paramTypes);
    pgf_depth--;
    return ok;
}

/* Owes an async delay=...:after: the first result is ready, then we sleep. */
EXPORT PGresult *PQgetResult(PGconn *conn)
{
    if (PASS_THROUGH()) return REAL(PQgetResult)(conn);
    /* Only a delay with :after leaves work for PQgetResult: without such a
     * rule, skip the connection lookup on the result path. */
    const struct pgf_ruleset *rs = atomic_load_explicit(&pgf_active, memory_order_acquire);
    if (!rs || !rs->any_after) return REAL(PQgetResult)(conn);
    struct pgf_conn *cs = pgf_conn_find(conn);
    if (!cs || cs->delay_after_us == 0) return REAL(PQgetResult)(conn);
    pgf_depth++;
    PGresult *res = REAL(PQgetResult)(conn);
    long us = cs->delay_after_us;
    cs->delay_after_us = 0;
    pgf_sleep_us(us);
    pgf_depth--;
    return res;
}

/* Connections get their ordinal when created, whatever the rules: ordinals
 * survive pgf_configure. */
static PGconn *registered(PGconn *conn)
{
    pgf_conn_register(conn, pgf_exempt);
    pgf_depth--;
    return conn;
}

EXPORT PGconn *PQconnectdb(const char *conninfo)
{
    if (pgf_depth) return REAL(PQconnectdb)(conninfo);
    pgf_depth++;
    return registered(REAL(PQconnectdb)(conninfo));
}

EXPORT PGconn *PQconnectdbParams(const char *const *keywords, const char *const *values, int expand_dbname)
{
    if (pgf_depth) return REAL(PQconnectdbParams)(keywords, values, expand_dbname);
    pgf_depth++;
    return registered(REAL(PQconnectdbParams)(keywords, values, expand_dbname));
}

EXPORT PGconn *PQsetdbLogin(const char *pghost, const char *pgport, const char *pgoptions,
                            const char *pgtty, const char *dbName, const char *login, const char *pwd)
{
    if (pgf_depth) return REAL(PQsetdbLogin)(pghost, pgport, pgoptions, pgtty, dbName, login, pwd);
    pgf_depth++;
    return registered(REAL(PQsetdbLogin)(pghost, pgport, pgoptions, pgtty, dbName, login, pwd));
}

EXPORT PGconn *PQconnectStart(const char *conninfo)
{
    if (pgf_depth) return REAL(PQconnectStart)(conninfo);
    pgf_depth++;
    return registered(REAL(PQconnectStart)(conninfo));
}

EXPORT PGconn *PQconnectStartParams(const char *const *keywords, const char *const *values, int expand_dbname)
{
    if (pgf_depth) return REAL(PQconnectStartParams)(keywords, values, expand_dbname);
    pgf_depth++;
    return registered(REAL(PQconnectStartParams)(keywords, values, expand_dbname));
}

/* Same PGconn, same ordinal and counters: see pgf_conn_clear_prepared. */
EXPORT void PQreset(PGconn *conn)
{
    if (pgf_depth) { REAL(PQreset)(conn); return; }
    pgf_depth++;
    pgf_conn_clear_prepared(conn);
    REAL(PQreset)(conn);
    pgf_depth--;
}

EXPORT int PQresetStart(PGconn *conn)
{
    if (pgf_depth) return REAL(PQresetStart)(conn);
    pgf_depth++;
    pgf_conn_clear_prepared(conn);
    int ok = REAL(PQresetStart)(conn);
    pgf_depth--;
    return ok;
}

/* Forget the connection before libpq frees it, so that a PGconn recycled by
 * malloc never finds stale state. */
EXPORT void PQfinish(PGconn *conn)
{
    if (pgf_depth) { REAL(PQfinish)(conn); return; }
    pgf_depth++;
    pgf_conn_forget(conn);
    REAL(PQfinish)(conn);
    pgf_depth--;
}
