/*
 * modes.h — pgrace's modes, each given its options already parsed (cli/
 * reads the command line; a mode never sees argv but to re-execute itself
 * under the fault shim). Each returns the process's exit status (lib/exit.h).
 */
#ifndef PGRACE_MODES_H
#define PGRACE_MODES_H

#include "engine/drive.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- run ---------------------------------------------------------- */

/* pgrace run [SCENARIO[/VARIANT]...]: each item driven, TAP on stdout. */
int run_main(const run_opts *o);

struct session;

/* The same within a session opened by the caller (pgrace exec's): the exit
 * status; the caller closes the session. */
int run_session(const run_opts *o, struct session *s);

/* ---- soak --------------------------------------------------------- */

typedef struct soak_opts {
    run_opts run;               /* targets, impl, seed, dsn, reports */
    int64_t duration_ns;        /* 0: bounded by iterations */
    long max_iterations;        /* 0: bounded by duration */
    int max_workers;
    long round_iterations;
    bool keep_going;
    bool pct;                   /* --strategy pct: every iteration under the explorer's PCT */
    int depth;                  /* --depth */
} soak_opts;

/* pgrace soak: randomized rounds until a violation (or the end), then
 * shrink it. */
int soak_main(const soak_opts *o);

/* ---- explore ------------------------------------------------------ */

#define EXPLORE_DEFAULT_BOUND 2
#define EXPLORE_DEFAULT_PCT_SCHEDULES 200

typedef struct explore_opts {
    run_opts run;               /* targets, impl, seed, dsn, reports, deadline, plan, retries */
    int bound;                  /* --preemptions */
    bool faults;                /* --faults */
    bool every_prefix;          /* --every-prefix: no reduction of the fault positions */
    bool no_yield;              /* --no-yield: a spinning worker is a choice like any (sched.h); a replayed
                                 * token is followed so, as recorded */
    long max_schedules;         /* --max-schedules (0: none; pct: a default) */
    bool pct;                   /* --strategy pct */
    int depth;                  /* --depth (pct) */
} explore_opts;

/* pgrace explore: every interleaving of 2-3 workers under a preemption
 * bound (or PCT), optionally with a fault at every position. */
int explore_main(const explore_opts *o);

/* pgrace run with --schedule (o->schedule): replays it on each target. */
int explore_replay_main(const run_opts *o);

/* The same within a session opened by the caller (pgrace exec's, whose
 * way in is its proxy): the exit status; the caller closes the session. */
int explore_session(const explore_opts *o, struct session *s);
int explore_replay_session(const run_opts *o, struct session *s);

/* ---- exec --------------------------------------------------------- */

#define EXEC_MAX_WORKERS 64
#define EXEC_MAX_CHECKS 16
#define EXEC_DEFAULT_ITERATIONS 20

typedef struct exec_check {
    const char *name;           /* its id: lower-case letters, digits and '-' */
    const char *file;           /* the SQL file, one query */
} exec_check;

typedef struct exec_opts {
    run_opts run;               /* -n, -i, --seed, --dsn, --fault, --plan sweep, --call-timeout, the
                                 * reports, --from-iteration, --schedule, --failfast */
    const char *setup;          /* --setup F.sql, or NULL */
    exec_check checks[EXEC_MAX_CHECKS];
    int nchecks;
    unsigned char fail_on[256]; /* --fail-on: the exit statuses that are failures (default 1-255) */
    const char *fail_on_text;   /* --fail-on as given, or NULL */
    bool explore, faults;       /* --explore, --faults */
    bool no_yield;              /* --no-yield */
    int bound;                  /* --preemptions */
    long max_schedules;         /* --max-schedules (0: none) */
    char *const *cmd;           /* after --: CMD [ARG...] */
} exec_opts;

/* pgrace exec -- CMD [ARG...]: the program run N-way through the wire
 * proxy, iteration after iteration, faulted or explored, and judged by the
 * checks' SQL and by its workers' answers. */
int exec_main(const exec_opts *o);

/* ---- replay ------------------------------------------------------- */

typedef struct replay_opts {
    const char *report;         /* REPORT.json */
    int times;
    const char *dsn;
    int64_t call_timeout_ns;
    const char *argv0;
    char **argv;
} replay_opts;

/* pgrace replay REPORT.json: rerun the report's first failing iteration;
 * 1 when it fails again. */
int replay_main(const replay_opts *o);

/* ---- list and cluster --------------------------------------------- */

enum list_what { LIST_SCENARIOS, LIST_MATRIX, LIST_GUARANTEES };

/* pgrace list [--matrix | --guarantees]: scenarios, variants, invariants,
 * plans, pause points and pinned guarantees; or the README's tables. */
int list_main(enum list_what what);

/* pgrace cluster -- CMD [ARG...]: CMD against a throwaway embedded cluster
 * (PGHOST, PGPORT, PGUSER, PGDATABASE set); exits with CMD's status. */
int cluster_main(char *const cmd[]);

/* ---- proxy -------------------------------------------------------- */

typedef struct proxy_opts {
    const char *listen;         /* --listen DIR | HOST:PORT, or NULL */
    const char *dsn;            /* --dsn, or NULL: an embedded cluster */
    const char *rules;          /* every --fault, joined by ';' (NULL: none) */
    const char *log;            /* --log F.jsonl */
    char *const *cmd;           /* after --: the command to run through it, or NULL: serve */
} proxy_opts;

/* pgrace proxy: the wire proxy with the fault rules, serving until a signal
 * stops it, or while cmd runs (exit status cmd's). */
int proxy_main(const proxy_opts *o);

/* ---- isolation specs ---------------------------------------------- */

#define SPEC_DEFAULT_TIMEOUT_S 300      /* isolationtester's step timeout */
#define SPEC_MAX_TIMEOUT_NS (24 * 3600LL * 1000000000)

typedef struct isolation_opts {
    const char *conninfo;       /* default "dbname = postgres" */
    int64_t timeout_ns;         /* PGISOLATIONTIMEOUT */
} isolation_opts;

/* pgrace isolation [CONNINFO] < FILE.spec, or pgrace run under the name
 * isolationtester: PostgreSQL 15's isolationtester. Returns its exit
 * status (0, or 1 on a spec, connection, setup or timeout error). */
int isolation_main(const isolation_opts *o);

/* What `isolationtester -V` prints: the installed PostgreSQL's own line. */
void isolation_print_version(FILE *out);

typedef struct spec_opts {
    const char *dsn;
    pooler_mode pooler;         /* --pooler: the sessions through pgbouncer (POOLER_NONE: directly) */
    const char *junit, *json, *html;    /* report files, written at the end */
    const char *fault;          /* --fault: fault rules for the sessions' statements */
    uint64_t seed;
    int64_t timeout_ns;
    bool explore, faults;
    int bound;                  /* --preemptions with --explore; -1: none */
    const char *permutation;    /* --permutation: run only this one (the spec's syntax), or NULL */
    int times;                  /* each permutation this many times (replay; 0 or 1: once) */
    oracle_mode oracle;         /* --oracle: each permutation judged by the serial oracle too */
    state_opts oracle_opts;     /* --oracle-column, --oracle-table, --oracle-mask */
    char **files;
    int nfiles;
    char **argv;                /* the whole command line, to re-execute with the shim */
} spec_opts;

/* pgrace spec FILE.spec...: 0 every permutation ok, 1 one was not, 2 usage
 * or setup error. */
int spec_main(const spec_opts *o);

/* All of f, NUL-terminated (*len without it); NULL with errno on failure. */
char *spec_read_all(FILE *f, size_t *len);

#endif
