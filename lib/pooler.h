/*
 * pooler.h — a real connection pooler between a run's clients and its
 * server: Debian's pgbouncer, started and removed as the embedded cluster
 * is.
 *
 * A private temp directory holds its ini, its log and its Unix socket (it
 * listens on nothing else); pgbouncer is pgrace's direct child, as an
 * unprivileged user when pgrace is root (pgbouncer refuses root), with a
 * parent-death signal, and the normal, error and signal exit paths stop it
 * and remove the directory through lib/cleanup. It connects to the server
 * as the caller's own control connection did (host, port, database, user
 * and password read from it), with a pool as large as the server allows, so
 * that no client ever waits in the pooler for a server connection (a wait
 * there is one no server view can see).
 *
 * Every server connection it hands out has the run's schema: its
 * connect_query sets search_path, and in session pooling its reset query
 * does what DISCARD ALL does and then sets it again. Clients' startup
 * options are ignored (pgbouncer refuses unknown startup parameters
 * otherwise): a client's `-c search_path` is harmless and never needed,
 * and every other setting is the server's default.
 *
 * Which server backend serves a client: pgbouncer keeps each client's
 * application_name on the server connection it links to it (SET before the
 * client's first statement there), and a released connection keeps the
 * name of its last client until another is linked. So, on the server's
 * pg_stat_activity, the backend whose application_name is a client's and
 * whose state is not idle is the one running that client's transaction
 * now; an idle one bearing the name is the one that client used last. Give
 * every client a name of its own (pgrace does: <prefix>/w3, <prefix>/s1);
 * lib/blocking.h resolves names to backends this way. PQbackendPID through
 * the pooler is pgbouncer's cancel key, not a server pid.
 */
#ifndef PGRACE_POOLER_H
#define PGRACE_POOLER_H

#include <stddef.h>

typedef enum pooler_mode {
    POOLER_NONE = 0,            /* clients connect to the server directly */
    POOLER_TRANSACTION,         /* a server connection per transaction (pgbouncer's pool_mode=transaction) */
    POOLER_SESSION,             /* a server connection per client connection (pool_mode=session) */
} pooler_mode;

/* Reads --pooler's value: "pgbouncer" or "pgbouncer:transaction"
 * (transaction pooling), "pgbouncer:session". Returns 0, or -1 with a
 * one-line reason that lists them. */
int pooler_parse(const char *text, pooler_mode *mode, char *err, size_t errlen);

/* The mode as --pooler takes it ("pgbouncer:session"), for commands that
 * repeat a run; "" for POOLER_NONE. */
const char *pooler_name(pooler_mode mode);

/* Finds the pgbouncer program: $PGRACE_PGBOUNCER, PATH, then /usr/sbin
 * (Debian's place, not on a user's PATH). Returns 0, or -1 with a reason
 * that names the Debian package. */
int pooler_find_binary(char *out, size_t outlen, char *err, size_t errlen);

/* Where the pooler connects, and the schema every server connection gets. */
typedef struct pooler_server {
    const char *host;           /* a host name, an address or a socket directory (/...) */
    const char *port;
    const char *dbname;
    const char *user;
    const char *password;       /* or NULL / "": none */
    const char *schema;         /* search_path of every server connection */
    const char *appname;        /* application_name of a server connection no client used yet, or NULL */
} pooler_server;

typedef struct pooler pooler;

/* Starts pgbouncer in mode (not POOLER_NONE) in front of srv and registers
 * its teardown. Returns 0 with *out set once it accepts connections (within
 * a bound), or -1 with a one-line reason (nothing left behind). */
int pooler_start(pooler **out, pooler_mode mode, const pooler_server *srv, char *err, size_t errlen);

/* A libpq connection string for the pooler: its socket directory and port,
 * the server's database and user. */
const char *pooler_conninfo(const pooler *p);

pooler_mode pooler_mode_of(const pooler *p);

/* pgbouncer's process id (tests look for it), or 0 once stopped. */
int pooler_pid(const pooler *p);

/* Stops pgbouncer (its server connections close with it), removes the
 * directory and frees p. Never fails loudly. NULL is ignored. */
void pooler_stop(pooler *p);

#endif
