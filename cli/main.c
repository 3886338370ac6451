/*
 * main.c — pgrace's command line: which command, its options parsed
 * (cli/run_args.c and its siblings), then its mode (modes/modes.h) with them. Every error a
 * user can cause on the command line is one line on stderr and exit
 * status 2. Under the name isolationtester (build/isolationtester is a
 * link), pgrace is PostgreSQL 15's isolationtester: its arguments, its
 * output, its exit statuses.
 */
#include "cli/args.h"

#include "engine/faultctl.h"
#include "engine/mutant.h"
#include "scenarios/registry.h"
#include "lib/cleanup.h"
#include "lib/err.h"
#include "lib/exit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* isolationtester: -V answers as the installed PostgreSQL's does. */
static int isolation(int argc, char **argv)
{
    isolation_opts o;
    bool version;
    if (cli_parse_isolation(argc, argv, &o, &version) < 0)
        return 1;
    if (version) {
        isolation_print_version(stdout);
        return 0;
    }
    return isolation_main(&o);
}

int main(int argc, char **argv)
{
    char err[ERRLEN];
    const char *base = strrchr(argv[0], '/');
    if (strcmp(base ? base + 1 : argv[0], "isolationtester") == 0)
        return isolation(argc, argv);
    /* pgrace isolation is the same program: signals as isolationtester
     * takes them (it has nothing to tear down but its connections). */
    if (argc >= 2 && strcmp(argv[1], "isolation") == 0) {
        argv[1] = "pgrace isolation";
        return isolation(argc - 1, argv + 1);
    }
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(cli_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_HELD;
    }
    const char *cmd = argv[1];
    /* The options first: a bad one is reported before anything starts. */
    union {
        run_opts run;
        soak_opts soak;
        explore_opts explore;
        replay_opts replay;
        spec_opts spec;
        enum list_what list;
        proxy_opts proxy;
    } o;
    int parsed;
    if (strcmp(cmd, "run") == 0)
        parsed = cli_parse_run(argc, argv, &o.run);
    else if (strcmp(cmd, "soak") == 0)
        parsed = cli_parse_soak(argc, argv, &o.soak);
    else if (strcmp(cmd, "explore") == 0)
        parsed = cli_parse_explore(argc, argv, &o.explore);
    else if (strcmp(cmd, "replay") == 0)
        parsed = cli_parse_replay(argc, argv, &o.replay);
    else if (strcmp(cmd, "spec") == 0)
        parsed = cli_parse_spec(argc, argv, &o.spec);
    else if (strcmp(cmd, "list") == 0)
        parsed = cli_parse_list(argc, argv, &o.list);
    else if (strcmp(cmd, "proxy") == 0)
        parsed = cli_parse_proxy(argc, argv, &o.proxy);
    else if (strcmp(cmd, "cluster") == 0)
        parsed = 0;
    else {
        fprintf(stderr, "pgrace: unknown command '%s'; pgrace --help\n", cmd);
        return EXIT_USAGE;
    }
    if (parsed < 0)
        return EXIT_USAGE;
    if (mutant_check(scenario_registry, err, sizeof err) < 0 || cleanup_signals_start(err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: %s\n", err);
        return EXIT_USAGE;
    }
    int status;
    if (strcmp(cmd, "list") == 0) {
        status = list_main(o.list);
    } else if (strcmp(cmd, "proxy") == 0) {
        status = proxy_main(&o.proxy);
    } else if (strcmp(cmd, "cluster") == 0) {
        int first = argc > 2 && strcmp(argv[2], "--") == 0 ? 3 : 2;
        status = cluster_main(argv + first);
    } else {
        /* Every mode that drives statements may run under the shim. */
        faultctl_init();
        if (strcmp(cmd, "run") == 0)
            status = o.run.schedule ? explore_replay_main(&o.run) : run_main(&o.run);
        else if (strcmp(cmd, "soak") == 0)
            status = soak_main(&o.soak);
        else if (strcmp(cmd, "explore") == 0)
            status = explore_main(&o.explore);
        else if (strcmp(cmd, "replay") == 0)
            status = replay_main(&o.replay);
        else
            status = spec_main(&o.spec);
    }
    cleanup_run_all();
    return status;
}
