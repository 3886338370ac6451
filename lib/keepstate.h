/*
 * keepstate.h — what in SQL text keeps a session's state past its
 * transaction: a session-level SET or RESET, an advisory lock taken or
 * released outside a transaction's own (pg_advisory_lock, not
 * pg_advisory_xact_lock), PREPARE / EXECUTE / DEALLOCATE, a temporary
 * table, LISTEN, a cursor WITH HOLD, set_config(..., false), DISCARD,
 * LOAD. What a transaction holds (BEGIN ... COMMIT, its locks, SET LOCAL,
 * PREPARE TRANSACTION) ends with it and is not counted.
 *
 * The SQL is read, not parsed: string literals and comments are skipped,
 * dollar-quoted bodies are searched for the functions but not taken for
 * statements. The spec runner asks it of a spec's sessions (what a
 * transaction pooler cannot run), the driver's connection check of a
 * call's statements (which of them may have left what it finds).
 */
#ifndef PGRACE_KEEPSTATE_H
#define PGRACE_KEEPSTATE_H

/* What in sql keeps a session's state past its transaction ("a
 * session-level SET", "pg_advisory_lock(", ...: a static string), or
 * NULL. */
const char *keepstate_of(const char *sql);

#endif
