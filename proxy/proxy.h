/*
 * proxy.h — the wire proxy: a PostgreSQL protocol-3 server in front of a
 * real one, which applies pgrace's fault rules (faults/grammar.h) to the
 * statements of any driver — JDBC, pgx, node-postgres, asyncpg, psql —
 * and stops each statement at a gate a scheduler may hold it at.
 *
 * A thread per client connection relays its bytes (proxy/conn.c), the
 * protocol is read in one place (proxy/wire.c), what becomes of each
 * message is decided in another (proxy/flow.c, with proxy/faults.c for the
 * rules and the gate). Where no fault applies the bytes pass unchanged.
 */
#ifndef PGRACE_PROXY_H
#define PGRACE_PROXY_H

#include <stddef.h>

typedef struct proxy proxy;

typedef struct proxy_config {
    const char *listen;         /* DIR (a Unix socket DIR/.s.PGSQL.5432) or HOST:PORT (port 0: any
                                 * free one); NULL: a temporary directory of the proxy's own */
    const char *upstream;       /* the server: a libpq connection string or URI */
    const char *rules;          /* fault rules (the shim's grammar), or NULL */
    const char *log;            /* JSON-lines log of every fault that fires, or NULL */
} proxy_config;

/* Checks the configuration (the rules, the listen address, the server
 * answering), listens and starts accepting. Returns 0 with *out, or -1
 * with a one-line reason (nothing is left behind). */
int proxy_start(proxy **out, const proxy_config *cfg, char *err, size_t errlen);

/* Where clients connect: PGHOST's value (the socket's directory, or the
 * host) and the port. */
const char *proxy_host(const proxy *p);
int proxy_port(const proxy *p);

/* The user and database the server's connection string (with the PG*
 * environment) names: PGUSER's and PGDATABASE's values for a client. */
const char *proxy_user(const proxy *p);
const char *proxy_dbname(const proxy *p);

/* Faults fired so far (gate faults included). */
unsigned long proxy_fired(const proxy *p);

/* Stops accepting, ends every connection (a held statement is let go by
 * closing its connection, the server rolls back), waits for their threads
 * (bounded), removes the socket file and the directory the proxy made, and
 * frees p. Safe to call from the cleanup registry's signal thread. NULL is
 * ignored. */
void proxy_stop(proxy *p);

/* ---- the gate (the shim's, faults/pgfault.h, for the wire) ---------- */

/* The statement at the gate, valid during the call. */
typedef struct proxy_stmt {
    int conn;                   /* the connection's number, from 1 in the order they were accepted */
    int backend_pid;            /* its server process (BackendKeyData): lib/blocking's key */
    char tx_status;             /* 'I', 'T' or 'E', as the last ReadyForQuery said */
    long stmt;                  /* the statement's number on its connection, from 1 */
    const char *sql;            /* its text (one statement of a multi-statement Query) */
} proxy_stmt;

/* Asked on the connection's thread before each statement is forwarded,
 * before any rule counts it; it may block (a scheduler holding the
 * statement) and returns an enum pgf_gate_action (faults/pgfault.h): GO,
 * or a fault the proxy carries out as the rules' own (ERROR: the server
 * raises 40001; DROP; AMBIGUOUS; CANCEL: the server raises 57014). */
typedef int (*proxy_gate_fn)(void *arg, const proxy_stmt *st);

/* Installs the gate (NULL removes it). Set it while no statement runs. A
 * gate must return once proxy_stop has begun (the stop waits for it, but
 * only so long). */
void proxy_set_gate(proxy *p, proxy_gate_fn fn, void *arg);

/* The backend pid of connection conn (0 when it has none yet or is gone). */
int proxy_backend_pid(proxy *p, int conn);

#endif
