/*
 * args.h — each command's command line read into its mode's options
 * (modes/modes.h). Each returns 0, or -1 after printing the one-line
 * reason (exit status 2); --help prints the command's usage and exits 0.
 */
#ifndef PGRACE_ARGS_H
#define PGRACE_ARGS_H

#include "modes/modes.h"

#include <stdbool.h>

/* pgrace's usage: every command and run's options. */
extern const char cli_usage[];

int cli_parse_run(int argc, char **argv, run_opts *o);
int cli_parse_soak(int argc, char **argv, soak_opts *o);
int cli_parse_explore(int argc, char **argv, explore_opts *o);
int cli_parse_replay(int argc, char **argv, replay_opts *o);
int cli_parse_spec(int argc, char **argv, spec_opts *o);
int cli_parse_list(int argc, char **argv, enum list_what *what);
int cli_parse_proxy(int argc, char **argv, proxy_opts *o);

/* isolationtester's command line: [CONNINFO], -V (*version set: print the
 * version and nothing else). -1: a bad option, after isolationtester's
 * usage line (exit status 1). */
int cli_parse_isolation(int argc, char **argv, isolation_opts *o, bool *version);

#endif
