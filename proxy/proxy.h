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
#include <stdint.h>

typedef struct proxy proxy;
struct pgf_rule;

typedef struct proxy_config {
    const char *listen;         /* DIR (a Unix socket DIR/.s.PGSQL.5432) or HOST:PORT (port 0: any
                                 * free one); NULL: a temporary directory of the proxy's own */
    const char *upstream;       /* the server: a libpq connection string or URI */
    const char *rules;          /* fault rules (the shim's grammar), or NULL */
    const char *log;            /* JSON-lines log of every fault that fires, or NULL */
    /* Groups (pgrace exec's workers): 0, one listen address; N, N TCP
     * addresses on listen's host (HOST:0 or NULL: 127.0.0.1), each on a
     * free port of its own, and a connection's group is the address it
     * came to (1..N). A rule's conn=K then means group K, and its `when`
     * counts the group's statements, whichever of its connections sends
     * them: programs open connections in any order, and some open two
     * (pgx retries without TLS on a second one). */
    int groups;
    /* A StartupMessage that names no search_path gets this one (the
     * server takes any setting there), or NULL: every driver's
     * connections land in pgrace exec's schema without the program doing
     * anything (no client-side setting reaches every driver). */
    const char *search_path;
    /* With groups: a connection's StartupMessage gets application_name
     * APPNAME/wG (G its group) in place of its own, or NULL: what finds a
     * worker's backend on the server through a pooler (lib/pooler.h),
     * whatever its driver names itself; pgrace exec's workers' names. */
    const char *appname;
} proxy_config;

/* Checks the configuration (the rules, the listen address, the server
 * answering), listens and starts accepting. Returns 0 with *out, or -1
 * with a one-line reason (nothing is left behind). */
int proxy_start(proxy **out, const proxy_config *cfg, char *err, size_t errlen);

/* Where clients connect: PGHOST's value (the socket's directory, or the
 * host) and the port (with groups, group 1's). */
const char *proxy_host(const proxy *p);
int proxy_port(const proxy *p);

/* The port of group g (1..groups). */
int proxy_group_port(const proxy *p, int g);

/* The user and database the server's connection string (with the PG*
 * environment) names: PGUSER's and PGDATABASE's values for a client. */
const char *proxy_user(const proxy *p);
const char *proxy_dbname(const proxy *p);

/* Faults fired so far (gate faults included). */
unsigned long proxy_fired(const proxy *p);

/* Replaces the fault rules (NULL or "": none; the same text again: the
 * counts start again), between a run's iterations. Returns 0, or -1 with
 * the one-line reason of a bad rule (the rules are then unchanged). */
int proxy_set_rules(proxy *p, const char *rules, char *err, size_t errlen);

/* Every group's statement counts start again (a new iteration). */
void proxy_restart_counts(proxy *p);

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
    int group;                  /* its group (proxy_config.groups), or 0 */
    int backend_pid;            /* its server process (BackendKeyData): lib/blocking's key */
    char tx_status;             /* 'I', 'T' or 'E', as the last ReadyForQuery said */
    long stmt;                  /* the statement's number on its connection (its group, with groups), from 1 */
    long conn_counted;          /* statements of its connection counted before it (PROXY_GATE_PASS's not) */
    const char *sql;            /* its text (one statement of a multi-statement Query); NULL for a
                                 * ReadyForQuery told to an observer */
    const char *app;            /* the application_name the proxy gave its connection, or NULL */
    uint64_t params;            /* a digest of its Bind's parameters; PGF_NO_PARAMS for a Query's statement
                                 * (its values are in its text) */
} proxy_stmt;

/* Asked on the connection's thread before each statement is forwarded,
 * before any rule counts it; it may block (a scheduler holding the
 * statement) and returns an enum pgf_gate_action (faults/pgfault.h): GO,
 * or a fault the proxy carries out as the rules' own (ERROR: the server
 * raises 40001; DROP; AMBIGUOUS; CANCEL: the server raises 57014); or
 * PROXY_GATE_PASS: the statement goes uncounted, as if not there for the
 * rules (a driver's own set-up statement, which pgrace exec neither faults
 * nor schedules). */
#define PROXY_GATE_PASS (-1)
typedef int (*proxy_gate_fn)(void *arg, const proxy_stmt *st);

/* Installs the gate (NULL removes it). Set it while no statement runs. A
 * gate must return once proxy_stop has begun (the stop waits for it, but
 * only so long). */
void proxy_set_gate(proxy *p, proxy_gate_fn fn, void *arg);

/* The backend pid of connection conn (0 when it has none yet or is gone). */
int proxy_backend_pid(proxy *p, int conn);

/* The backend pids of group g's live connections, at most max into pids;
 * returns how many. */
int proxy_group_pids(proxy *p, int g, int *pids, int max);

/* ---- the observer ------------------------------------------------------ */

/* Told on the connection's thread of every statement once it is decided
 * (fault: the rule that fired on it, the gate's included, or NULL; st->stmt
 * as the rules counted it), and of every ReadyForQuery (st->sql NULL: the
 * statements the connection sent before it are answered). It must not
 * block. Statements the gate passed uncounted are not told. */
typedef void (*proxy_observe_fn)(void *arg, const proxy_stmt *st, const struct pgf_rule *fault);

/* Installs the observer (NULL removes it), while no statement runs. */
void proxy_set_observer(proxy *p, proxy_observe_fn fn, void *arg);

#endif
