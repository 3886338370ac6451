/*
 * cmd.h — the spec language's two commands, dispatched from harness/main.c.
 */
#ifndef PGRACE_SPEC_CMD_H
#define PGRACE_SPEC_CMD_H

#include <stddef.h>
#include <stdio.h>

/* `pgrace isolation [CONNINFO] < FILE.spec`, or pgrace run under the name
 * isolationtester: argv as isolationtester gets it (argv[0] the program).
 * Returns isolationtester's exit status. */
int spec_isolation_main(int argc, char **argv);

/* `pgrace spec FILE.spec... [options]`: argv is the whole command line (argv[1] is
 * "spec": with --fault it re-executes itself under the shim). Returns 0 (every
 * permutation ok), 1 (one was not) or 2 (usage or setup error). */
int spec_main(int argc, char **argv);

/* All of f, NUL-terminated (*len without it); NULL with errno on failure. */
char *spec_read_all(FILE *f, size_t *len);

#endif
