/*
 * pooling.h — can a spec's sessions run through a transaction pooler?
 *
 * Under transaction pooling each transaction of a session may run on
 * another server connection, and what one leaves on its connection reaches
 * whichever session gets it next. A spec whose sessions keep state from
 * one transaction to the next — a session-level SET or RESET, an advisory
 * lock taken or released outside a transaction's own (pg_advisory_lock,
 * not pg_advisory_xact_lock), PREPARE / EXECUTE / DEALLOCATE, a temporary
 * table, LISTEN, a cursor WITH HOLD, set_config(..., false), DISCARD, LOAD
 * — would then test pgbouncer's shuffle, not what it says: it cannot run
 * so, and a run says so rather than give it a verdict. Everything in a
 * transaction (BEGIN ... COMMIT, a lock a transaction holds, PREPARE
 * TRANSACTION and COMMIT PREPARED, SET LOCAL) runs as it does directly.
 *
 * The spec's own setup and teardown blocks and its invariants run on the
 * control connection, which never goes through the pooler: only the
 * sessions' setup, steps and teardown are read. The SQL is read, not
 * parsed: string literals and comments are skipped, dollar-quoted bodies
 * are searched for the functions but not taken for statements.
 */
#ifndef PGRACE_SPEC_POOLING_H
#define PGRACE_SPEC_POOLING_H

#include "isolation/spec.h"

#include <stddef.h>

/* 1 when some session of s keeps state across transactions, with why (e.g.
 * "step s1l of session s1: pg_advisory_lock keeps a lock past its
 * transaction"); 0 when every session runs as well through a transaction
 * pooler as directly. */
int spec_needs_session(const spec *s, char *why, size_t len);

#endif
