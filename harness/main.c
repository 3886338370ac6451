/*
 * main.c — pgrace's command line: list, run, soak, replay, cluster,
 * isolation, spec (and, under the name isolationtester, isolation).
 *
 * Parsing only: each command lives in its own file. Every error a user can
 * cause is one line on stderr and exit status 2.
 */
#include "explore/explore.h"
#include "harness/cli.h"
#include "harness/commands.h"
#include "harness/faultctl.h"
#include "harness/mutant.h"
#include "harness/run.h"

#include "spec/cmd.h"

#include "lib/cleanup.h"
#include "lib/err.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: pgrace list [--matrix | --guarantees]\n"
    "       pgrace run [SCENARIO[/VARIANT]...] [options]\n"
    "       pgrace soak [SCENARIO[/VARIANT]...] --duration D | -i N [options]\n"
    "       pgrace explore [SCENARIO[/VARIANT]...] [options]   (pgrace explore --help)\n"
    "       pgrace replay REPORT.json [--times N] [--dsn DSN]\n"
    "       pgrace cluster -- CMD [ARG...]\n"
    "       pgrace isolation [CONNINFO] < FILE.spec     (PostgreSQL 15's isolationtester)\n"
    "       pgrace spec FILE.spec... [--dsn DSN] [--junit F] [--seed S] [--call-timeout D]\n"
    "\n"
    "run options:\n"
    "  -n N              concurrent workers, 1..256 (default 8)\n"
    "  -i N              iterations (default 100)\n"
    "  --impl V          fixed (default), a pre-fix variant, or all\n"
    "  --seed S          seed for everything random (default: fresh, printed)\n"
    "  --dsn DSN         use this server (else PG* variables, else an embedded cluster)\n"
    "  --fault SPEC      run with the fault shim and this spec (see README)\n"
    "  --pause P=D       sleep D at pause point P in every variant (pgrace list shows them)\n"
    "  --retries R       a failed call is retried up to R times, as a client would (default 0)\n"
    "  --plan NAME       apply the scenario's fault plan NAME (pgrace list shows them)\n"
    "  --params 'N=V ...'  the operation's settings a plan gives it (replay commands carry them)\n"
    "  --fault-sweep     one iteration per statement position x action (error, drop, ambiguous)\n"
    "  --from-iteration K  number iterations from K (with -i 1: rerun iteration K alone)\n"
    "  --call-timeout D  each call's deadline, then a diagnosis from the server (default 10s)\n"
    "  --schedule TOKEN  replay one schedule the explorer printed (s=1212[;f=W:K:ACTION]), with -n\n"
    "  --failfast[=INV]  stop each item at its first iteration that violates an invariant (or INV, by name)\n"
    "  --junit F         also write JUnit XML to F (TAP stays on stdout)\n"
    "  --json F          also write the whole run as JSON to F (reports/README.md)\n"
    "  --html F          also write a self-contained HTML report to F\n"
    "\n"
    "durations are a number and a unit: 500us, 20ms, 10s, 30m, 8h\n"
    "exit status: 0 all invariants held, 1 an invariant was violated (a call past its deadline\n"
    "             is one), 2 usage, setup or environment error, 128+N stopped by signal N\n";

static int parse_run(int argc, char **argv, run_opts *o)
{
    static const struct option longopts[] = { CLI_RUN_OPTIONS, CLI_DRIVE_OPTIONS, { NULL, 0, NULL, 0 } };
    *o = (run_opts){ .nworkers = 8, .iterations = 100, .times = 1, .argv0 = argv[0], .argv = argv };
    /* Options and scenarios mix in any order: GNU getopt permutes the
     * arguments after "run". */
    argc--;
    argv++;
    opterr = 0;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "n:i:", longopts, NULL)) != -1) {
        int r = cli_run_option(ch, optarg, o, usage);
        if (r < 0)
            return -1;
        if (r == 0)
            return cli_bad_option(argv);
    }
    return cli_targets(argc, argv, o);
}

int main(int argc, char **argv)
{
    char err[ERRLEN];
    /* Run as isolationtester (build/isolationtester is a link): its
     * arguments, its output, its exit statuses. */
    const char *base = strrchr(argv[0], '/');
    if (strcmp(base ? base + 1 : argv[0], "isolationtester") == 0)
        return spec_isolation_main(argc, argv);
    /* pgrace isolation is the same program: signals as isolationtester
     * takes them (it has nothing to tear down but its connections). */
    if (argc >= 2 && strcmp(argv[1], "isolation") == 0) {
        argv[1] = "pgrace isolation";
        return spec_isolation_main(argc - 1, argv + 1);
    }
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_HELD;
    }
    if (mutant_check(err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: %s\n", err);
        return EXIT_USAGE;
    }
    if (cleanup_signals_start(err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: %s\n", err);
        return EXIT_USAGE;
    }
    int status;
    if (strcmp(argv[1], "list") == 0) {
        status = list_main(argc, argv);
    } else if (strcmp(argv[1], "cluster") == 0) {
        int first = argc > 2 && strcmp(argv[2], "--") == 0 ? 3 : 2;
        status = cluster_main(argv + first);
    } else if (strcmp(argv[1], "soak") == 0) {
        faultctl_init();
        status = soak_main(argc, argv);
    } else if (strcmp(argv[1], "replay") == 0) {
        faultctl_init();
        status = replay_main(argc, argv);
    } else if (strcmp(argv[1], "spec") == 0) {
        faultctl_init();
        status = spec_main(argc, argv);
    } else if (strcmp(argv[1], "run") == 0) {
        run_opts o;
        if (parse_run(argc, argv, &o) < 0)
            return EXIT_USAGE;
        o.argv = argv;
        faultctl_init();
        status = o.schedule ? explore_replay_main(&o) : run_main(&o);
    } else if (strcmp(argv[1], "explore") == 0) {
        faultctl_init();
        status = explore_main(argc, argv);
    } else {
        fprintf(stderr, "pgrace: unknown command '%s'; pgrace --help\n", argv[1]);
        return EXIT_USAGE;
    }
    cleanup_run_all();
    return status;
}
