/*
 * inject.c — carrying out a fired rule, so that the client cannot tell the
 * fault from the real thing.
 *
 * error=     the statement is replaced by a DO block that makes the *server*
 *            raise the SQLSTATE: the client gets a genuine ErrorResponse and a
 *            transaction block really aborts.  A COMMIT inside a block is
 *            preceded by a real (uncounted) ROLLBACK, so that the client sees
 *            its COMMIT fail and the transaction end rolled back, as a failed
 *            COMMIT does.
 * drop       shutdown(2) of the socket, then the real call: libpq discovers
 *            the loss itself (CONNECTION_BAD, its own message) and the backend
 *            sees EOF and rolls back.
 * ambiguous  the statement runs for real and its result is consumed; then
 *            the socket is shut down and the same call is made again on the
 *            dead connection, so the client gets libpq's connection-failure
 *            result for a COMMIT that did commit.
 * delay=     sleep before sending, or with :after once the result is ready
 *            (async APIs: before PQgetResult hands out the first result).
 *            pgf_interrupt cuts a delay short: the statement then fails as
 *            a cancelled one (57014, raised by the server like error=).
 * Pipeline mode cannot run a synchronous ROLLBACK or wait for one result
 * without consuming the client's: there a failed COMMIT leaves the block
 * aborted (the client's own ROLLBACK ends it), and ambiguous flushes the
 * COMMIT before the shutdown without waiting for it, so its outcome is
 * genuinely unknown rather than known-committed.
 * Every function here runs with pgf_depth > 0: libpq's internal calls pass
 * through the wrappers uncounted.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

#include "faults/pgf_int.h"

/* What an interrupted delay's statement gets: what a cancelled one does. */
static const char cancelled_sql[] =
    "DO $pgfaultdo$BEGIN RAISE EXCEPTION USING ERRCODE = '57014', MESSAGE = "
    "'canceling statement due to user request', HINT = 'injected by pgfault: delay interrupted'; END$pgfaultdo$";

/* Delays sleep here, so that pgf_interrupt can wake them; only the delay
 * path (a rule fired) takes the lock. */
static pthread_mutex_t delay_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t delay_cv;
static pthread_once_t delay_once = PTHREAD_ONCE_INIT;

static void delay_init(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&delay_cv, &a);
    pthread_condattr_destroy(&a);
}

static unsigned long current_gen(void)
{
    struct pgf_ruleset *rs = atomic_load(&pgf_active);
    return rs ? rs->gen : 0;
}

/* Sleeps us for the statement on cs's connection; returns 1 when
 * pgf_interrupt cut it short (an untracked connection cannot be cut). */
static int delay(struct pgf_conn *cs, long us)
{
    if (!cs) {
        pgf_sleep_us(us);
        return 0;
    }
    pthread_once(&delay_once, delay_init);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long ns = (long long)now.tv_nsec + (long long)(us % 1000000) * 1000;
    struct timespec end = { .tv_sec = now.tv_sec + us / 1000000 + (time_t)(ns / 1000000000),
                            .tv_nsec = (long)(ns % 1000000000) };
    unsigned long gen = current_gen();
    int cut = 0;
    pthread_mutex_lock(&delay_mu);
    while (!(cut = atomic_load(&cs->interrupt_gen) == gen && gen != 0))
        if (pthread_cond_timedwait(&delay_cv, &delay_mu, &end) == ETIMEDOUT) {
            cut = atomic_load(&cs->interrupt_gen) == gen && gen != 0;
            break;
        }
    pthread_mutex_unlock(&delay_mu);
    return cut;
}

void pgf_interrupt_conn(PGconn *conn)
{
    struct pgf_conn *cs = pgf_conn_find(conn);
    if (!cs) return;
    pthread_once(&delay_once, delay_init);
    pthread_mutex_lock(&delay_mu);
    atomic_store(&cs->interrupt_gen, current_gen());
    pthread_cond_broadcast(&delay_cv);
    pthread_mutex_unlock(&delay_mu);
}

void pgf_sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

PGresult *pgf_real_sync(const struct pgf_call *c)
{
    switch (c->api) {
    case PGF_API_EXEC_PARAMS:
        return pgf_real.PQexecParams(c->conn, c->command, c->nparams, c->types, c->values,
                                     c->lengths, c->formats, c->result_format);
    case PGF_API_EXEC_PREPARED:
        return pgf_real.PQexecPrepared(c->conn, c->command, c->nparams, c->values,
                                       c->lengths, c->formats, c->result_format);
    default:
        return pgf_real.PQexec(c->conn, c->command);
    }
}

int pgf_real_async(const struct pgf_call *c)
{
    switch (c->api) {
    case PGF_API_SEND_PARAMS:
        return pgf_real.PQsendQueryParams(c->conn, c->command, c->nparams, c->types, c->values,
                                          c->lengths, c->formats, c->result_format);
    case PGF_API_SEND_PREPARED:
        return pgf_real.PQsendQueryPrepared(c->conn, c->command, c->nparams, c->values,
                                            c->lengths, c->formats, c->result_format);
    default:
        return pgf_real.PQsendQuery(c->conn, c->command);
    }
}

static void kill_socket(PGconn *conn)
{
    int fd = PQsocket(conn);
    if (fd >= 0) shutdown(fd, SHUT_RDWR);
}

/* A failing COMMIT ends the transaction: roll it back for real first.
 * Outside pipeline mode the connection is idle here (libpq refuses a new
 * query otherwise), so a synchronous PQexec is allowed. */
static void rollback_if_commit(const struct pgf_call *c)
{
    if (pgf_classify(c->sql) != PGF_K_COMMIT) return;
    PGTransactionStatusType ts = PQtransactionStatus(c->conn);
    if (ts != PQTRANS_INTRANS && ts != PQTRANS_INERROR) return;
    if (PQpipelineStatus(c->conn) != PQ_PIPELINE_OFF) return;
    PQclear(pgf_real.PQexec(c->conn, "ROLLBACK"));
}

/* The statement of a synchronous call whose delay was cut short. */
static PGresult *cancelled(const struct pgf_call *c)
{
    rollback_if_commit(c);
    return pgf_real.PQexecParams(c->conn, cancelled_sql, 0, NULL, NULL, NULL, NULL, 0);
}

PGresult *pgf_inject_sync(const struct pgf_call *c, const struct pgf_decision *d)
{
    const struct pgf_rule *r = d->rule;
    PGresult *res;
    pgf_fired(c, d);
    switch (r->action) {
    case PGF_A_ERROR:
        rollback_if_commit(c);
        if (c->api == PGF_API_EXEC) return pgf_real.PQexec(c->conn, r->raise_sql);
        return pgf_real.PQexecParams(c->conn, r->raise_sql, 0, NULL, NULL, NULL, NULL, 0);
    case PGF_A_DROP:
        kill_socket(c->conn);
        return pgf_real_sync(c);
    case PGF_A_AMBIGUOUS:
        PQclear(pgf_real_sync(c));
        kill_socket(c->conn);
        return pgf_real_sync(c);
    case PGF_A_DELAY:
        if (!r->delay_after && delay(d->cs, r->delay_us))
            return cancelled(c);
        res = pgf_real_sync(c);
        if (r->delay_after) delay(d->cs, r->delay_us);
        return res;
    default:
        return pgf_real_sync(c);
    }
}

int pgf_inject_async(const struct pgf_call *c, const struct pgf_decision *d)
{
    const struct pgf_rule *r = d->rule;
    int pipeline = PQpipelineStatus(c->conn) != PQ_PIPELINE_OFF;
    int ok;
    pgf_fired(c, d);
    switch (r->action) {
    case PGF_A_ERROR:
        rollback_if_commit(c);
        if (c->api == PGF_API_SEND_QUERY && !pipeline) return pgf_real.PQsendQuery(c->conn, r->raise_sql);
        return pgf_real.PQsendQueryParams(c->conn, r->raise_sql, 0, NULL, NULL, NULL, NULL, 0);
    case PGF_A_DROP:
        kill_socket(c->conn);
        return pgf_real_async(c);
    case PGF_A_AMBIGUOUS:
        if (pipeline) {
            ok = pgf_real_async(c);
            if (ok) {
                PQsendFlushRequest(c->conn);
                PQflush(c->conn);
            }
            kill_socket(c->conn);
            return ok;
        }
        if (pgf_real_async(c)) {
            PGresult *res;
            while ((res = pgf_real.PQgetResult(c->conn)) != NULL) PQclear(res);
        }
        kill_socket(c->conn);
        return pgf_real_async(c);
    case PGF_A_DELAY:
        if (!r->delay_after) {
            if (delay(d->cs, r->delay_us))
                return pgf_real.PQsendQueryParams(c->conn, cancelled_sql, 0, NULL, NULL, NULL, NULL, 0);
            return pgf_real_async(c);
        }
        ok = pgf_real_async(c);
        if (d->cs) d->cs->delay_after_us = r->delay_us;
        else pgf_sleep_us(r->delay_us);
        return ok;
    default:
        return pgf_real_async(c);
    }
}
