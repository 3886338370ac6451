/*
 * cluster.h — the embedded throwaway PostgreSQL cluster.
 *
 * initdb into a private temp directory, a server that listens on a Unix
 * socket in that directory only, fsync off. When pgrace runs as root (as CI
 * does) the server runs as an unprivileged user, because PostgreSQL refuses
 * root. The server is a direct child with a parent-death signal, so even a
 * killed pgrace does not leave it running; the normal, error and signal exit
 * paths stop it and remove the directory through lib/cleanup.
 */
#ifndef PGRACE_CLUSTER_H
#define PGRACE_CLUSTER_H

#include <stddef.h>

typedef struct cluster cluster;

/* Creates and starts a cluster and registers its teardown. Returns 0 with
 * *out set, or -1 with a one-line reason (nothing is left behind). */
int cluster_start(cluster **out, char *err, size_t errlen);

/* The same, with server settings of the caller's: settings[i] is
 * "name=value", given to the server after (so over) the embedded cluster's
 * own. */
int cluster_start_with(cluster **out, const char *const *settings, int nsettings, char *err, size_t errlen);

/* A libpq connection string for the cluster's superuser and database. */
const char *cluster_conninfo(const cluster *c);

/* Values for PGHOST, PGPORT, PGUSER and PGDATABASE. */
const char *cluster_host(const cluster *c);
const char *cluster_port(const cluster *c);
const char *cluster_user(const cluster *c);
const char *cluster_dbname(const cluster *c);

/* The server's major version number, e.g. 15. */
int cluster_major_version(const cluster *c);

/* Stops the server, removes the directory and frees c. Never fails loudly:
 * teardown is best effort. NULL is ignored. */
void cluster_stop(cluster *c);

/* Finds the directory holding initdb and postgres: $PGRACE_PGBIN, PATH,
 * the newest /usr/lib/postgresql/N/bin, then `pg_config --bindir`.
 * Returns 0 or -1. */
int cluster_find_bindir(char *out, size_t outlen, char *err, size_t errlen);

#endif
