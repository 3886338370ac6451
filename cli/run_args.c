/* run_args.c — `pgrace run`'s, `replay`'s and `list`'s command lines, and
 * pgrace's usage (args.h). */
#include "cli/args.h"

#include "cli/options.h"
#include "lib/exit.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cli_usage[] =
    "usage: pgrace list [--matrix | --guarantees]\n"
    "       pgrace run [SCENARIO[/VARIANT]...] [options]\n"
    "       pgrace soak [SCENARIO[/VARIANT]...] --duration D | -i N [options]\n"
    "       pgrace explore [SCENARIO[/VARIANT]...] [options]   (pgrace explore --help)\n"
    "       pgrace replay REPORT.json [--times N] [--dsn DSN]\n"
    "       pgrace cluster -- CMD [ARG...]\n"
    "       pgrace proxy [--listen DIR|HOST:PORT] [--dsn DSN] [--fault RULES]... [--log F] [-- CMD [ARG...]]\n"
    "       pgrace exec -n N [-i I] [--setup F.sql] [--check NAME=F.sql]... [options] -- CMD [ARG...]\n"
    "                                                (pgrace exec --help)\n"
    "       pgrace isolation [CONNINFO] < FILE.spec     (PostgreSQL 15's isolationtester)\n"
    "       pgrace spec FILE.spec... [--dsn DSN] [--junit F] [--seed S] [--call-timeout D]\n"
    "\n"
    "run options:\n"
    "  -n N              concurrent workers, 1..256 (default 8)\n"
    "  -i N              iterations (default 100)\n"
    "  --impl V          fixed (default), a pre-fix variant, or all\n"
    "  --seed S          seed for everything random (default: fresh, printed)\n"
    "  --dsn DSN         use this server (else PG* variables, else an embedded cluster)\n"
    "  --pooler P        the workers through Debian's pgbouncer: pgbouncer (transaction pooling),\n"
    "                    pgbouncer:session (session pooling); the control connection stays direct\n"
    "  --fault RULES     run with the fault shim and these fault rules (see README)\n"
    "  --pause P=D       sleep D at pause point P in every variant (pgrace list shows them)\n"
    "  --retries R       a failed call is retried up to R times, as a client would (default 0)\n"
    "  --plan NAME       apply the scenario's fault plan NAME (pgrace list shows them)\n"
    "  --params 'N=V ...'  the operation's settings a plan gives it (replay commands carry them)\n"
    "  --fault-sweep     one iteration per statement position x action (error, drop, ambiguous)\n"
    "  --from-iteration K  number iterations from K (with -i 1: rerun iteration K alone)\n"
    "  --call-timeout D  each call's deadline, then a diagnosis from the server (default 10s)\n"
    "  --schedule TOKEN  replay one schedule the explorer printed (s=1212[;f=W:K:ACTION]), with -n\n"
    "  --failfast[=ID]   stop each item at its first iteration that violates an invariant (or the one with this id)\n"
    "  --oracle M        serial: add the serial oracle's invariant (id serial): the outcome is one some serial\n"
    "                    order of the calls produces; serial-only: that and no scenario invariant\n"
    "  --oracle-column TABLE.COLUMN=MODE  how the oracle compares a column: exact, renamed, ranked, present, ignore\n"
    "  --oracle-table T  compare only these tables (repeatable; default every table of the schema)\n"
    "  --oracle-mask ERE parts of the callers' answers the oracle does not compare\n"
    "  --junit F         also write JUnit XML to F (TAP stays on stdout)\n"
    "  --json F          also write the whole run as JSON to F (reports/README.md)\n"
    "  --html F          also write a self-contained HTML report to F\n"
    "\n"
    "durations are a number and a unit: 500us, 20ms, 10s, 30m, 8h\n"
    "exit status: 0 all invariants held, 1 an invariant was violated (a call past its deadline\n"
    "             is one), 2 usage, setup or environment error, 128+N stopped by signal N\n";

int cli_parse_run(int argc, char **argv, run_opts *o)
{
    static const struct option longopts[] = { CLI_RUN_OPTIONS, CLI_DRIVE_OPTIONS, CLI_ORACLE_OPTIONS,
                                              { NULL, 0, NULL, 0 } };
    *o = (run_opts){ .nworkers = 8, .iterations = 100, .times = 1, .argv0 = argv[0], .argv = argv };
    /* Options and scenarios mix in any order: GNU getopt permutes the
     * arguments after "run". */
    argc--;
    argv++;
    opterr = 0;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "n:i:", longopts, NULL)) != -1) {
        int r = cli_run_option(ch, optarg, o, cli_usage);
        if (r < 0)
            return -1;
        if (r == 0)
            return cli_bad_option(argv);
    }
    return cli_targets(argc, argv, o);
}

int cli_parse_replay(int argc, char **argv, replay_opts *o)
{
    static const char replay_usage[] = "usage: pgrace replay REPORT.json [--times N] [--dsn DSN] [--call-timeout D]";
    static const struct option longopts[] = {
        { "times", required_argument, NULL, 't' },
        { "dsn", required_argument, NULL, 'd' },
        { "call-timeout", required_argument, NULL, 'c' },
        { NULL, 0, NULL, 0 },
    };
    *o = (replay_opts){ .times = 1, .argv0 = argv[0], .argv = argv };
    int ch;
    long v;
    opterr = 0;
    optind = 2;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 't':
            if (cli_long("--times", optarg, 1, 10000, &v) < 0)
                return -1;
            o->times = (int)v;
            break;
        case 'd': o->dsn = optarg; break;
        case 'c':
            if (cli_duration("--call-timeout", optarg, 24 * 3600LL * 1000000000, &o->call_timeout_ns) < 0)
                return -1;
            break;
        default:
            fprintf(stderr, "pgrace: bad option '%s'; %s\n", argv[optind - 1], replay_usage);
            return -1;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "pgrace: %s\n", replay_usage);
        return -1;
    }
    o->report = argv[optind];
    return 0;
}

int cli_parse_list(int argc, char **argv, enum list_what *what)
{
    *what = LIST_SCENARIOS;
    if (argc == 2)
        return 0;
    if (argc == 3 && strcmp(argv[2], "--matrix") == 0)
        *what = LIST_MATRIX;
    else if (argc == 3 && strcmp(argv[2], "--guarantees") == 0)
        *what = LIST_GUARANTEES;
    else {
        fprintf(stderr, "pgrace: bad option '%s' for list (--matrix or --guarantees); pgrace --help\n", argv[2]);
        return -1;
    }
    return 0;
}
