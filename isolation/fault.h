/*
 * fault.h — a step fault carried out as the fault shim carries out its
 * actions (faults/inject.c), by the spec runner itself: the runner sends
 * steps, so no LD_PRELOAD is involved.
 *
 * error=S    the step is replaced by the shim's DO block that makes the
 *            server raise S; a COMMIT inside a transaction block is preceded
 *            by a real ROLLBACK, so that the COMMIT fails and the
 *            transaction ends rolled back, as a failed COMMIT does.
 * drop       the socket is shut down before the step is sent: libpq reports
 *            the lost connection itself, the server rolls back.
 * ambiguous  the step runs for real and its results are consumed; then the
 *            socket is shut down and the step sent again on the dead
 *            connection: the client sees a failure of a step that took
 *            effect (a COMMIT that committed).
 */
#ifndef PGRACE_SPEC_FAULT_H
#define PGRACE_SPEC_FAULT_H

#include "isolation/spec.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* The SQL that raises f's SQLSTATE (the shim's own statement), allocated.
 * NULL with the shim's one-line reason when it refuses the SQLSTATE. */
char *spec_fault_raise_sql(const spec_fault *f, char *err, size_t errlen);

/* True when sql is a COMMIT (COMMIT, END, COMMIT PREPARED), as the shim's
 * commit target classifies it. */
bool spec_fault_is_commit(const char *sql);

/* Shuts the connection's socket down in both directions. */
void spec_fault_kill(PGconn *conn);

#endif
