/*
 * target.h — where a run's statements go, and the schema they live in.
 *
 * The server is the embedded throwaway cluster, or a user's server given by
 * --dsn or the PG* environment. Either way every table lives in a schema of
 * the run's own (pgrace_<pid>_<n>), created at start and recreated for each
 * variant; on a user's server it is dropped at the end, on error and on a
 * signal, after ending any backend of the run still holding a lock in it.
 * pgrace never writes outside that schema.
 *
 * With a pooler (lib/pooler.h), the clients — the workers, the spec
 * sessions — reach the server through pgbouncer (client_conninfo), whose
 * every server connection has the run's schema; the control connection
 * (setup, invariants, the blocking detector, the schema's teardown) stays
 * direct.
 */
#ifndef PGRACE_TARGET_H
#define PGRACE_TARGET_H

#include "lib/cluster.h"
#include "lib/pooler.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct target {
    cluster *cluster;          /* NULL when on a user's server */
    pooler *pooler;            /* NULL when the clients connect directly */
    char conninfo[1024];       /* the server, as the control connection reaches it */
    char client_conninfo[1024];/* where the clients' connections go: the pooler's, else conninfo */
    char schema[64];
    char appname[80];          /* "pgrace/<schema>": every connection's prefix */
    PGconn *ctl;               /* the control connection (search_path set) */
    int server_version;        /* PQserverVersion */
    int cleanup_handle;
} target;

/* True when PGHOST, PGHOSTADDR, PGPORT, PGDATABASE or PGSERVICE is set. */
bool target_env_given(void);

typedef struct target_opts {
    const char *dsn;            /* the server; NULL: the PG* environment when set, else an embedded cluster */
    const char *const *settings;/* an embedded cluster's server settings ("name=value"); on a user's
                                 * server they are the caller's to check */
    int nsettings;
    pooler_mode pooler;         /* POOLER_NONE: the clients connect directly */
} target_opts;

/* Opens the target as o says and creates the run's schema (then starts the
 * pooler, when asked for, in front of the server). Returns 0 or -1 with a
 * one-line reason (and nothing left behind). */
int target_open(target *t, const target_opts *o, char *err, size_t errlen);

/* Empties the run's schema and runs ddl in it. Returns 0 or -1. */
int target_reset_schema(target *t, const char *ddl, char *err, size_t errlen);

/* Stops the pooler, drops the schema (user's server) or stops the cluster.
 * Never fails. */
void target_close(target *t);

#endif
