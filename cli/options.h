/*
 * cli.h — what the commands' parsers share: the options of every command
 * that runs scenarios (run, soak, replay, explore), and one way to read a
 * number, a seed or a duration (lib/parse.h's grammar) with the one-line
 * error every bad input gets.
 */
#ifndef PGRACE_CLI_H
#define PGRACE_CLI_H

#include "engine/drive.h"

#include <getopt.h>
#include <stdint.h>

/* getopt_long codes of the shared long options. */
enum cli_code {
    CLI_IMPL = 256, CLI_SEED, CLI_DSN, CLI_FAULT, CLI_PAUSE, CLI_RETRIES, CLI_PLAN, CLI_SWEEP, CLI_FROM,
    CLI_JUNIT, CLI_JSON, CLI_HTML, CLI_CALL_TIMEOUT, CLI_HELP, CLI_SCHEDULE, CLI_PARAMS, CLI_FAILFAST, CLI_POOLER,
    CLI_ORACLE, CLI_ORACLE_COLUMN, CLI_ORACLE_TABLE, CLI_ORACLE_MASK,
    CLI_NO_CONN_CHECK,
    CLI_FIRST_OWN = 512,        /* a command's own options start here */
};

/* The shared options, for a command's getopt_long table. */
#define CLI_RUN_OPTIONS                                                                   \
    { "impl", required_argument, NULL, CLI_IMPL },                                        \
    { "seed", required_argument, NULL, CLI_SEED },                                        \
    { "dsn", required_argument, NULL, CLI_DSN },                                          \
    { "pooler", required_argument, NULL, CLI_POOLER },                                    \
    { "junit", required_argument, NULL, CLI_JUNIT },                                      \
    { "json", required_argument, NULL, CLI_JSON },                                        \
    { "html", required_argument, NULL, CLI_HTML },                                        \
    { "call-timeout", required_argument, NULL, CLI_CALL_TIMEOUT },                        \
    { "no-conn-check", no_argument, NULL, CLI_NO_CONN_CHECK },                            \
    { "help", no_argument, NULL, CLI_HELP }

/* The options only `run` has (plans, faults, pauses, retries). */
#define CLI_DRIVE_OPTIONS                                                                 \
    { "fault", required_argument, NULL, CLI_FAULT },                                      \
    { "pause", required_argument, NULL, CLI_PAUSE },                                      \
    { "retries", required_argument, NULL, CLI_RETRIES },                                  \
    { "plan", required_argument, NULL, CLI_PLAN },                                        \
    { "fault-sweep", no_argument, NULL, CLI_SWEEP },                                      \
    { "params", required_argument, NULL, CLI_PARAMS },                                    \
    { "from-iteration", required_argument, NULL, CLI_FROM },                              \
    { "schedule", required_argument, NULL, CLI_SCHEDULE },                                \
    { "failfast", optional_argument, NULL, CLI_FAILFAST }

/* The serial oracle's options (run, explore, spec). */
#define CLI_ORACLE_OPTIONS                                                                \
    { "oracle", required_argument, NULL, CLI_ORACLE },                                    \
    { "oracle-column", required_argument, NULL, CLI_ORACLE_COLUMN },                      \
    { "oracle-table", required_argument, NULL, CLI_ORACLE_TABLE },                        \
    { "oracle-mask", required_argument, NULL, CLI_ORACLE_MASK }

/* Applies an oracle option (a CLI_ORACLE* code). Returns 1 when it was
 * one, 0 when not, -1 on a bad value (printed). */
int cli_oracle_option(int code, const char *arg, oracle_mode *mode, state_opts *so);

/* The declarations need --oracle: 0, or -1 (printed). */
int cli_oracle_check(oracle_mode mode, const state_opts *so);

/* Each reads text as option what wants it, prints the one-line error
 * ("pgrace: bad -n 'x': expected ...") and returns -1 when it is not. */
int cli_long(const char *what, const char *text, long lo, long hi, long *out);

/* text is first (0) or second (1); else -1, printed ("bad --strategy 'x':
 * dfs or pct"). */
int cli_choice(const char *what, const char *text, const char *first, const char *second);
int cli_seed(const char *what, const char *text, uint64_t *out);
int cli_duration(const char *what, const char *text, int64_t max_ns, int64_t *out);

/* --pooler's value (lib/pooler.h's grammar), with pgbouncer installed: a
 * missing one is refused now, naming its Debian package, not once the
 * server is up. */
int cli_pooler(const char *text, pooler_mode *out);

/* Fault rules as --fault gives them (faults/grammar.h), checked now: 0, or
 * -1 printed ("pgrace: bad fault rule at ..."). NULL: none. */
int cli_fault_rules(const char *rules);

/* Applies a shared option (a CLI_* code, or 'n' / 'i') to o. Returns 1 when
 * it was one, 0 when it is not shared, -1 on a bad value (printed). With
 * CLI_HELP it prints usage and exits 0. */
int cli_run_option(int code, const char *arg, run_opts *o, const char *usage);

/* The one line for an unknown option or a missing value, from getopt's
 * state; returns -1. */
int cli_bad_option(char **argv);

/* After getopt: the remaining arguments are targets, none of which may look
 * like an option; the seed is drawn when none was given. Returns 0 or -1. */
int cli_targets(int argc, char **argv, run_opts *o);

#endif
