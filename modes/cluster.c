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

static pid_t child;

/* On a signal, the command goes before the server it talks to. */
static void stop_child(void *arg)
{
    (void)arg;
    if (child > 0) {
        proc_stop(child, SIGTERM, 10LL * 1000000000);
        child = 0;
    }
}

/* Finds cmd on PATH (execv takes a path). */
static int resolve(const char *cmd, char *out, size_t len)
{
    if (strchr(cmd, '/')) {
        snprintf(out, len, "%s", cmd);
        return 0;
    }
    const char *path = getenv("PATH");
    char *copy = strdup(path ? path : "/usr/bin:/bin"), *save = NULL;
    if (!copy)
        return -1;
    for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(out, len, "%s/%s", d, cmd);
        if (access(out, X_OK) == 0) {
            free(copy);
            return 0;
        }
    }
    free(copy);
    return -1;
}

int cluster_main(char *const cmd[])
{
    char err[ERRLEN], path[PATH_MAX];
    if (!cmd[0]) {
        fprintf(stderr, "pgrace: cluster needs a command: pgrace cluster -- CMD [ARG...]\n");
        return EXIT_USAGE;
    }
    if (resolve(cmd[0], path, sizeof path) < 0) {
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
    int h = cleanup_push(stop_child, NULL);
    char **argv = (char **)cmd;
    char *saved = argv[0];
    argv[0] = path;
    int status;
    if (proc_spawn(argv, NULL, &child, err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: %s\n", err);
        status = EXIT_USAGE;
    } else {
        status = proc_wait(child);
        child = 0;
    }
    argv[0] = saved;
    cleanup_pop(h, false);
    cluster_stop(c);
    return status;
}
