/* cluster_cmd.c — `pgrace cluster -- CMD`: a throwaway server for any
 * program (the shim's tests run psql, pgbench, Python and Perl under it). */
#include "modes/modes.h"

#include "lib/cleanup.h"
#include "lib/cluster.h"
#include "lib/err.h"
#include "lib/proc.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cluster_main(char *const cmd[])
{
    char err[ERRLEN], path[PATH_MAX];
    if (!cmd[0]) {
        fprintf(stderr, "pgrace: cluster needs a command: pgrace cluster -- CMD [ARG...]\n");
        return EXIT_USAGE;
    }
    if (proc_which(cmd[0], path, sizeof path) < 0) {
        fprintf(stderr, "pgrace: command not found: %s\n", cmd[0]);
        return EXIT_USAGE;
    }
    cluster *c;
    if (cluster_start(&c, err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: %s\n", err);
        return EXIT_USAGE;
    }
    setenv("PGHOST", cluster_host(c), 1);
    setenv("PGPORT", cluster_port(c), 1);
    setenv("PGUSER", cluster_user(c), 1);
    setenv("PGDATABASE", cluster_dbname(c), 1);
    char **argv = (char **)cmd;
    char *saved = argv[0];
    argv[0] = path;
    int status = proc_run_foreground(argv, err, sizeof err);
    if (status < 0) {
        fprintf(stderr, "pgrace: %s\n", err);
        status = EXIT_USAGE;
    }
    argv[0] = saved;
    cluster_stop(c);
    return status;
}
