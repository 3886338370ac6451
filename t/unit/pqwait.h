/* pqwait.h — the unit tests' wait for a statement sent with PQsendQuery:
 * lib/blocking's blk_done_fn over its socket, and its results collected. */
#ifndef PGRACE_PQWAIT_H
#define PGRACE_PQWAIT_H

#include "lib/err.h"

#include <libpq-fe.h>
#include <poll.h>
#include <stdint.h>

/* blk_done_fn over a connection with a statement sent by PQsendQuery. */
static int socket_done(void *arg, int64_t timeout_ns, char *err, size_t errlen)
{
    PGconn *c = arg;
    if (!PQconsumeInput(c)) {
        err_set(err, errlen, "%s", PQerrorMessage(c));
        return -1;
    }
    if (!PQisBusy(c))
        return 1;
    struct pollfd p = { .fd = PQsocket(c), .events = POLLIN };
    int ms = (int)((timeout_ns + 999999) / 1000000);
    if (poll(&p, 1, ms) < 0)
        return -1;
    if (!PQconsumeInput(c)) {
        err_set(err, errlen, "%s", PQerrorMessage(c));
        return -1;
    }
    return !PQisBusy(c);
}

/* Collects the results of the statement c sent; 0 when it succeeded. */
static int finish(PGconn *c)
{
    int rc = 0;
    PGresult *r;
    while ((r = PQgetResult(c))) {
        ExecStatusType st = PQresultStatus(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
            rc = -1;
        PQclear(r);
    }
    return rc;
}

#endif
