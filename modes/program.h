/*
 * program.h — a user's program as a scenario (engine/scenario.h), made at
 * run time for pgrace exec, so that the engine drives it as it drives the
 * C scenarios: iterations, N workers released together, deadlines, fault
 * plans and sweeps, the explorer, the one record and its reports.
 *
 *   setup      each iteration: the run's schema dropped and made again, the
 *              pgrace.iteration, pgrace.workers and pgrace.seed settings,
 *              the --setup file, and the table pgrace_answers (empty);
 *   the call   one copy of the program, its environment pointing at its
 *              worker's address of the wire proxy; its exit status and last
 *              line of stdout are its answer, stored as a row of
 *              pgrace_answers; at the call's deadline its process group is
 *              killed;
 *   invariants each --check file: any row it returns is a violation, the
 *              rows its details; then "answered": every worker that ended
 *              by itself exited with a status not declared a failure and
 *              printed a status line; then the driver's deadline;
 *   the oracle (--oracle serial): each call says its effect
 *              (call_set_effect: in, out or unknown, from its ending and
 *              the faults the proxy put into it), and a worker's program
 *              reruns alone, as it ran, bounded by the call timeout
 *              (scenario_oracle.rerun), in the run's schema made afresh by
 *              the setup; pgrace_answers is not compared.
 *
 * examples/README.md is the contract a program may count on.
 */
#ifndef PGRACE_PROGRAM_H
#define PGRACE_PROGRAM_H

#include "engine/scenario.h"
#include "modes/modes.h"
#include "proxy/way.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct program program;

typedef struct program_config {
    char *const *argv;          /* the command, argv[0] a path */
    const char *label;          /* the item's name: "attestation-go no-lock" */
    const char *setup_file;     /* --setup's file, or NULL */
    const char *setup_sql;      /* its text, or "" */
    const exec_check *checks;   /* the --check files ... */
    const char *const *check_sql;   /* ... and their text */
    int nchecks;
    const unsigned char *fail_on;   /* [256]: exit statuses that are failures */
    uint64_t seed;
    int64_t call_timeout_ns;    /* a serial oracle's rerun is killed past it */
} program_config;

/* The program's scenario (one at a time in a process: the call finds it).
 * cfg's strings must outlive it. NULL with a reason. */
program *program_new(const program_config *cfg, char *err, size_t errlen);

/* Where its iterations run, once the run's target is open: the run's
 * schema (every iteration's) and application_name prefix, the proxy the
 * workers connect to and its way, and the user, database and password (NULL
 * when none) the server's connection string names. Strings are copied.
 * Returns 0 or -1 with a reason. */
int program_attach(program *pg, const char *schema, const char *appname, proxy *p, pxw *way, const char *user,
                   const char *dbname, const char *password, char *err, size_t errlen);
const scenario *program_scenario(const program *pg);
void program_free(program *pg);

/* The schema's DDL the engine runs before a drive (what the checks are
 * prepared against): the setup and the answers table. */
const char *program_schema_sql(const program *pg);

/* Before anything runs: iteration's setup of nworkers workers (in the
 * attached schema) runs, and each check is one query that returns rows.
 * 0, or -1 with "--setup FILE: why" or "--check NAME=FILE: why". */
int program_validate(const program *pg, PGconn *ctl, long iteration, int nworkers, char *err, size_t errlen);

/* Kills every worker's process group still running, and lets none start
 * again (the teardown, a signal's too: the driver may be starting the next
 * iteration's). */
void program_kill_all(void);

#endif
