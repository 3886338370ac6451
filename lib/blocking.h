/*
 * blocking.h — has a test session's statement finished, or is it blocked by
 * another session of the same test? Asked of the server, never guessed.
 *
 * The explorer (which gates worker statements), the spec runner (which
 * sends spec steps itself) and the driver's call deadline all need the same
 * thing: after one session sends a statement, learn quickly whether it
 * completed or waits on a lock held by another test session — the question
 * isolationtester asks with pg_isolation_test_session_is_blocked(pid, pids)
 * — and, when something never ends, what the server says about who waits on
 * whom. This module is that, once.
 *
 * A blk_watch holds a control connection that is not itself a test session
 * (it is never blocked by one) and the test sessions' backend pids with a
 * name for each ("worker 3", "session s1") — or, when the sessions reach
 * the server through a pooler, their application names, resolved to
 * backends by the server at each question. It is used by one thread at a
 * time, like the connection it holds.
 */
#ifndef PGRACE_BLOCKING_H
#define PGRACE_BLOCKING_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

typedef struct blk_watch blk_watch;

/* Watches with ctl (borrowed: the caller keeps it open longer than the
 * watch and sends nothing else on it while a blk_* call runs). Returns a
 * new watch, or NULL with a one-line reason. */
blk_watch *blk_new(PGconn *ctl, char *err, size_t errlen);

void blk_free(blk_watch *w);

/* Declares the test's sessions: pids[i] is session i's backend, names[i]
 * what a diagnosis calls it (copied). Replaces any earlier set. Returns 0 or
 * -1 (out of memory, or too many sessions). */
int blk_set_sessions(blk_watch *w, const int *pids, const char *const *names, int n, char *err,
                     size_t errlen);

/* The same through a connection pooler (lib/pooler.h), where a client does
 * not know its backend and, under transaction pooling, has another one for
 * each transaction: keys[i] is what the caller names session i by in the
 * calls below (its PQbackendPID, which through pgbouncer is pgbouncer's
 * key, one per client connection), apps[i] its application_name (one per
 * session), by which each question finds the backend serving the session
 * at that moment — the one bearing its name that is not idle (the latest
 * to start a statement, should a lost connection's backend linger) — or,
 * for a diagnosis, the idle one it used last. A backend bearing a
 * session's name blocks in that session's name (a session-level lock a
 * transaction left on its pooled connection is the session's doing). The
 * pid arguments below are then keys. apps NULL: by pid, as
 * blk_set_sessions. Returns 0 or -1. */
int blk_set_pooled_sessions(blk_watch *w, const int *keys, const char *const *apps, const char *const *names, int n,
                            char *err, size_t errlen);

/* The server backend that serves the client named app now (not idle), else
 * the one that served it last (idle, still bearing its name), through a
 * pooler or not: into *pid, 0 when no backend bears the name. What tells
 * which server connection a call ran on, and which call a server
 * connection last ran. Returns 0 or -1 (err). */
int blk_backend_of(PGconn *ctl, const char *app, int *pid, char *err, size_t errlen);

/* Asks the server once whether the backend pid waits on a lock (or a safe
 * snapshot) held by another of the declared sessions. Returns 1 blocked,
 * 0 not, -1 on failure (err filled). */
int blk_is_blocked(blk_watch *w, int pid, char *err, size_t errlen);

/* How a statement's completion is awaited: waits at most timeout_ns for it
 * (a poll on the session's socket, a condition variable...) and returns 1
 * when it completed, 0 when not yet, -1 on failure (err filled). With
 * timeout_ns 0 it only looks. */
typedef int (*blk_done_fn)(void *arg, int64_t timeout_ns, char *err, size_t errlen);

enum blk_state {
    BLK_DONE = 0,       /* the statement completed */
    BLK_BLOCKED = 1,    /* the server says it waits on another test session */
    BLK_STUCK = 2,      /* neither, within the bound */
};

/* Waits for the statement session pid is running: returns BLK_DONE as soon
 * as done says so, BLK_BLOCKED as soon as the server says the session is
 * blocked by a test session (and done, asked once more after that answer,
 * still says no), BLK_STUCK when bound_ns passes with neither, or -1 on a
 * failure (err filled). The server is asked after 50us, then at intervals
 * that double up to 10ms (isolationtester's fixed interval): a statement
 * that completes at once costs nothing, and a blocked one is known within
 * a round trip or two of blocking. */
int blk_await(blk_watch *w, int pid, blk_done_fn done, void *arg, int64_t bound_ns, char *err,
              size_t errlen);

/* The declared sessions whose locks (or whose transactions, for a safe
 * snapshot) the backend pid waits for: their pids into pids[0..max), each
 * once. Returns how many (0: none), or -1 (err). */
int blk_blockers(blk_watch *w, int pid, int *pids, int max, char *err, size_t errlen);

/* The same by name, comma-separated, into names ("" when none). Returns 0
 * or -1 (err). */
int blk_blocked_by(blk_watch *w, int pid, char *names, size_t len, char *err, size_t errlen);

/* What the server says about each declared session, one line each, in
 * session order, as a new JSON array of strings: what it runs or last ran,
 * its state, and what it waits on, with every blocker named by session
 * ("worker 3: UPDATE stacks SET … (active 10.0s), waiting on
 * Lock/transactionid held by worker 5: idle in transaction 10.0s after
 * SELECT … FOR UPDATE"). A blocker that is no test session is named by pid
 * and application. Returns the array, or NULL with a reason. */
json_t *blk_describe(blk_watch *w, char *err, size_t errlen);

/* The declared name of backend pid (of key, through a pooler), or NULL. */
const char *blk_name_of(const blk_watch *w, int pid);

#endif
