/*
 * template.h — initdb'ed data directories, cached and copied per run.
 *
 * initdb costs a second or more; copying its result costs tens of
 * milliseconds. So the embedded cluster copies a cached template instead of
 * running initdb, and runs initdb only when no usable template exists (then
 * publishes the result for the next run).
 *
 * Where: $PGRACE_CACHE_DIR, else $XDG_CACHE_HOME/pgrace, else
 * $HOME/.cache/pgrace; PGRACE_CACHE_DIR=off turns templates off. Each
 * template is keyed by what initdb's result depends on: the server's
 * binaries (path, size, modification time) and initdb's options, so an
 * upgraded server or changed options never reuse a stale one.
 *
 * Safe under concurrency: a template is built in a private directory and
 * renamed into place whole, so a reader sees a complete template or none;
 * several processes that find none each build their own and the first
 * rename wins. A template found broken (the server does not start from its
 * copy) is renamed away before removal, and the next run rebuilds it.
 */
#ifndef PGRACE_TEMPLATE_H
#define PGRACE_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

/* Finds where the template for the server in bindir and initdb's options
 * lives. Returns 1 with path set, 0 when templates are off or no cache
 * directory can be made (then every run initdbs), never an error. */
int template_locate(const char *bindir, const char *initdb_options, char *path, size_t len);

/* Whether path holds a complete template; its data directory is
 * path/data. */
bool template_ready(const char *path);

/* Makes a copy of datadir (fresh from initdb, never started) the template
 * at path. Another process publishing first is success. Returns 0, or -1
 * with a reason (the run goes on without a template). */
int template_publish(const char *datadir, const char *path, char *err, size_t errlen);

/* Takes a broken template out of use, atomically for other readers. */
void template_discard(const char *path);

#endif
