/*
 * main.c — pgrace's command line: list, run, soak, replay, cluster,
 * isolation, spec (and, under the name isolationtester, isolation).
 *
 * Parsing only: each command lives in its own file. Every error a user can
 * cause is one line on stderr and exit status 2.
 */
#include "harness/commands.h"
#include "harness/faultctl.h"
#include "harness/run.h"

#include "spec/cmd.h"

#include "lib/cleanup.h"
#include "lib/err.h"
#include "lib/rng.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: pgrace list\n"
    "       pgrace run [SCENARIO[/VARIANT]...] [options]\n"
    "       pgrace soak [SCENARIO[/VARIANT]...] --duration D | -i N [options]\n"
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
    "  --fault-sweep     one iteration per statement position x action (error, drop, ambiguous)\n"
    "  --from-iteration K  number iterations from K (with -i 1: rerun iteration K alone)\n"
    "  --junit F         also write JUnit XML to F (TAP stays on stdout)\n"
    "  --json F          also write the whole run as JSON to F (reports/README.md)\n"
    "  --html F          also write a self-contained HTML report to F\n"
    "\n"
    "exit status: 0 all invariants held, 1 an invariant was violated,\n"
    "             2 usage, setup or environment error, 128+N stopped by signal N\n";

/* Parses a whole decimal number in [lo, hi]. */
static int parse_long(const char *what, const char *text, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi) {
        fprintf(stderr, "pgrace: bad %s '%s': expected a whole number from %ld to %ld\n", what, text, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_run(int argc, char **argv, run_opts *o)
{
    enum { OPT_IMPL = 256, OPT_SEED, OPT_DSN, OPT_FAULT, OPT_PAUSE, OPT_RETRIES, OPT_PLAN, OPT_SWEEP, OPT_FROM,
           OPT_JUNIT, OPT_JSON, OPT_HTML, OPT_HELP };
    static const struct option longopts[] = {
        { "impl", required_argument, NULL, OPT_IMPL },
        { "seed", required_argument, NULL, OPT_SEED },
        { "dsn", required_argument, NULL, OPT_DSN },
        { "fault", required_argument, NULL, OPT_FAULT },
        { "pause", required_argument, NULL, OPT_PAUSE },
        { "retries", required_argument, NULL, OPT_RETRIES },
        { "plan", required_argument, NULL, OPT_PLAN },
        { "fault-sweep", no_argument, NULL, OPT_SWEEP },
        { "from-iteration", required_argument, NULL, OPT_FROM },
        { "junit", required_argument, NULL, OPT_JUNIT },
        { "json", required_argument, NULL, OPT_JSON },
        { "html", required_argument, NULL, OPT_HTML },
        { "help", no_argument, NULL, OPT_HELP },
        { NULL, 0, NULL, 0 },
    };
    *o = (run_opts){ .nworkers = 8, .iterations = 100, .times = 1, .argv0 = argv[0] };

    bool seeded = false;
    char err[ERRLEN];
    long v;
    int ch;
    opterr = 0;
    /* Options and scenarios mix in any order: GNU getopt permutes the
     * arguments after "run". */
    argc--;
    argv++;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "n:i:", longopts, NULL)) != -1) {
        switch (ch) {
        case 'n':
            if (parse_long("-n", optarg, 1, DRV_MAX_WORKERS, &v) < 0)
                return -1;
            o->nworkers = (int)v;
            o->nworkers_given = true;
            break;
        case 'i':
            if (parse_long("-i", optarg, 1, 100000000, &v) < 0)
                return -1;
            o->iterations = v;
            break;
        case OPT_IMPL: o->impl = optarg; break;
        case OPT_SEED: {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-') {
                fprintf(stderr, "pgrace: bad --seed '%s': expected a non-negative whole number\n", optarg);
                return -1;
            }
            o->seed = s;
            seeded = true;
            break;
        }
        case OPT_DSN: o->dsn = optarg; break;
        case OPT_FAULT: o->fault = optarg; break;
        case OPT_PAUSE:
            if (drv_pause_parse(&o->pauses, optarg, err, sizeof err) < 0) {
                fprintf(stderr, "pgrace: %s\n", err);
                return -1;
            }
            break;
        case OPT_RETRIES:
            if (parse_long("--retries", optarg, 0, 10, &v) < 0)
                return -1;
            o->retries = (int)v;
            o->retries_given = true;
            break;
        case OPT_PLAN: o->plan = optarg; break;
        case OPT_SWEEP: o->fault_sweep = true; break;
        case OPT_FROM:
            if (parse_long("--from-iteration", optarg, 1, 1000000000, &v) < 0)
                return -1;
            o->first_iteration = v;
            break;
        case OPT_JUNIT: o->junit = optarg; break;
        case OPT_JSON: o->json = optarg; break;
        case OPT_HTML: o->html = optarg; break;
        case OPT_HELP:
            fputs(usage, stdout);
            exit(EXIT_HELD);
        default:
            if (optopt && optopt < 256)
                fprintf(stderr, "pgrace: bad option '-%c' (or it needs a value); pgrace --help\n", optopt);
            else
                fprintf(stderr, "pgrace: bad option '%s' (or it needs a value); pgrace --help\n",
                        argv[optind - 1]);
            return -1;
        }
    }
    if (!seeded)
        o->seed = rng_fresh_seed();
    o->targets = argv + optind;
    o->ntargets = argc - optind;
    for (int i = 0; i < o->ntargets; i++)
        if (o->targets[i][0] == '-') {
            fprintf(stderr, "pgrace: bad option '%s'; pgrace --help\n", o->targets[i]);
            return -1;
        }
    return 0;
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
    if (cleanup_signals_start(err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: %s\n", err);
        return EXIT_USAGE;
    }
    int status;
    if (strcmp(argv[1], "list") == 0) {
        status = list_main();
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
        status = spec_main(argc - 1, argv + 1);
    } else if (strcmp(argv[1], "run") == 0) {
        run_opts o;
        if (parse_run(argc, argv, &o) < 0)
            return EXIT_USAGE;
        o.argv = argv;
        faultctl_init();
        status = run_main(&o);
    } else {
        fprintf(stderr, "pgrace: unknown command '%s'; pgrace --help\n", argv[1]);
        return EXIT_USAGE;
    }
    cleanup_run_all();
    return status;
}
