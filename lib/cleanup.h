/*
 * cleanup.h — teardown registered once, run once, never fatal.
 *
 * Whatever a run leaves behind if it stops early (the embedded cluster and
 * its temp directory, the schema in a user's database) is registered here
 * as soon as it exists. The actions run in reverse order of registration,
 * exactly once, from whichever comes first: the normal end of the run, an
 * error exit, or SIGINT/SIGTERM/SIGHUP (isolationtester's atexit teardown,
 * extended to signals). A failing action never stops the others: teardown is
 * best effort by design, because the run is ending anyway.
 */
#ifndef PGRACE_CLEANUP_H
#define PGRACE_CLEANUP_H

#include <stdatomic.h>
#include <stdbool.h>

typedef void (*cleanup_fn)(void *arg);

/* Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (and so in every
 * thread created after it) and starts a thread that waits for them. On a
 * signal it runs every registered action, prints one line to stderr and
 * exits with 128 + the signal number. Call first thing in main(), before any
 * other thread exists. Returns 0 or -1. */
int cleanup_signals_start(char *err, unsigned long errlen);

/* Registers fn(arg); returns a handle for cleanup_pop, or -1 when full. */
int cleanup_push(cleanup_fn fn, void *arg);

/* Unregisters the handle; runs the action first when run is true. A handle
 * that already ran is ignored. */
void cleanup_pop(int handle, bool run);

/* Runs every registered action not yet run, newest first. */
void cleanup_run_all(void);

/* The signal that interrupted the run, or 0 (for the exit path). */
int cleanup_signal_seen(void);

/* From now on the first SIGINT, SIGTERM or SIGHUP only stores its number in
 * *stop: the caller (a soak) finishes at its next safe point, writes what
 * it has and exits through the normal path. A second signal tears down at
 * once, as without this. */
void cleanup_graceful(atomic_int *stop);

#endif
