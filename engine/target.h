/*
 * target.h — where a run's statements go, and the schema they live in.
 *
 * The server is the embedded throwaway cluster, or a user's server given by
 * --dsn or the PG* environment. Either way every table lives in a schema of
 * the run's own (pgrace_<pid>_<n>), created at start and recreated for each
 * variant; on a user's server it is dropped at the end, on error and on a
 * signal, after ending any backend of the run still holding a lock in it.
 * pgrace never writes outside that schema.
 */
#ifndef PGRACE_TARGET_H
#define PGRACE_TARGET_H

#include "lib/cluster.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct target {
    cluster *cluster;          /* NULL when on a user's server */
    char conninfo[1024];
    char schema[64];
    char appname[80];          /* "pgrace/<schema>": every connection's prefix */
    PGconn *ctl;               /* the control connection (search_path set) */
    int server_version;        /* PQserverVersion */
    int cleanup_handle;
} target;

/* True when PGHOST, PGHOSTADDR, PGPORT, PGDATABASE or PGSERVICE is set. */
bool target_env_given(void);

/* Opens the target: dsn when non-NULL, else the PG* environment when set,
 * else a new embedded cluster. Creates the run's schema. Returns 0 or -1
 * with a one-line reason (and nothing left behind). */
int target_open(target *t, const char *dsn, char *err, size_t errlen);

/* The same; an embedded cluster gets the server settings ("name=value")
 * too. On a user's server they are the caller's to check. */
int target_open_with(target *t, const char *dsn, const char *const *settings, int nsettings, char *err,
                     size_t errlen);

/* Empties the run's schema and runs ddl in it. Returns 0 or -1. */
int target_reset_schema(target *t, const char *ddl, char *err, size_t errlen);

/* Drops the schema (user's server) or stops the cluster. Never fails. */
void target_close(target *t);

#endif
