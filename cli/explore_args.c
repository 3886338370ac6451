/* explore_args.c — `pgrace explore`'s command line (args.h). */
#include "cli/args.h"

#include "cli/options.h"
#include "lib/exit.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sched/sched.h"

static const char explore_usage[] =
    "usage: pgrace explore [SCENARIO[/VARIANT]...] [options]     no scenario: every fixed form\n"
    "  -n N               workers, default 2 (3 at most with dfs; more with --strategy pct)\n"
    "  --impl V           fixed (default), a pre-fix variant, or all\n"
    "  --preemptions K    at most K preemptive switches per schedule (dfs; default 2)\n"
    "  --faults           also one fault (error=40001, drop, ambiguous) at every position of the schedule tree,\n"
    "                     once per class of equivalent prefixes (quiet statements commute)\n"
    "  --every-prefix     with --faults: at every prefix, equivalent or not\n"
    "  --no-yield         a worker repeating a read nothing changed since (a poll) does not yield to the others\n"
    "  --max-schedules M  stop after M schedules (and fault runs)\n"
    "  --strategy S       dfs (default: every schedule under the bound) or pct (randomized, seeded)\n"
    "  --depth D          pct's bug depth d (default 2)\n"
    "  --plan P --retries R --seed S --dsn DSN --pooler P --call-timeout D --junit F --json F --html F\n"
    "  --oracle M --oracle-column C=MODE --oracle-table T --oracle-mask ERE\n"
    "                     as for run\n";

int cli_parse_explore(int argc, char **argv, explore_opts *o)
{
    enum { O_PREEMPT = CLI_FIRST_OWN, O_FAULTS, O_EVERY, O_NO_YIELD, O_MAX, O_STRATEGY, O_DEPTH };
    static const struct option longopts[] = {
        CLI_RUN_OPTIONS,
        { "plan", required_argument, NULL, CLI_PLAN },
        { "retries", required_argument, NULL, CLI_RETRIES },
        { "preemptions", required_argument, NULL, O_PREEMPT },
        { "faults", no_argument, NULL, O_FAULTS },
        { "every-prefix", no_argument, NULL, O_EVERY },
        { "no-yield", no_argument, NULL, O_NO_YIELD },
        { "max-schedules", required_argument, NULL, O_MAX },
        { "strategy", required_argument, NULL, O_STRATEGY },
        { "depth", required_argument, NULL, O_DEPTH },
        CLI_ORACLE_OPTIONS,
        { NULL, 0, NULL, 0 },
    };
    *o = (explore_opts){ .bound = EXPLORE_DEFAULT_BOUND, .depth = 2 };
    o->run = (run_opts){ .nworkers = 2, .iterations = 1, .times = 1, .argv0 = argv[0], .argv = argv };
    argc--;
    argv++;
    opterr = 0;
    optind = 1;
    int ch;
    long v;
    bool depth_given = false, bound_given = false;
    while ((ch = getopt_long(argc, argv, "n:", longopts, NULL)) != -1) {
        switch (ch) {
        case O_PREEMPT:
            if (cli_long("--preemptions", optarg, 0, 64, &v) < 0)
                return -1;
            o->bound = (int)v;
            bound_given = true;
            break;
        case O_FAULTS: o->faults = true; break;
        case O_EVERY: o->every_prefix = true; break;
        case O_NO_YIELD: o->no_yield = true; break;
        case O_MAX:
            if (cli_long("--max-schedules", optarg, 1, 100000000, &o->max_schedules) < 0)
                return -1;
            break;
        case O_STRATEGY: {
            int pct = cli_choice("--strategy", optarg, "dfs", "pct");
            if (pct < 0)
                return -1;
            o->pct = pct;
            break;
        }
        case O_DEPTH:
            if (cli_long("--depth", optarg, 1, 8, &v) < 0)
                return -1;
            o->depth = (int)v;
            depth_given = true;
            break;
        default: {
            int r = cli_run_option(ch, optarg, &o->run, explore_usage);
            if (r <= 0)
                return r < 0 ? -1 : cli_bad_option(argv);
        }
        }
    }
    const char *why = NULL;
    if (o->run.nworkers > 3 && !o->pct)
        why = "dfs explores 2 or 3 workers (-n); more only with --strategy pct";
    else if (o->run.nworkers > SCHED_MAX_WORKERS)
        why = "pct schedules at most 32 workers";
    else if (depth_given && !o->pct)
        why = "--depth is pct's (--strategy pct)";
    else if (bound_given && o->pct)
        why = "--preemptions is dfs's; pct bounds nothing (--depth sets its change points)";
    else if (o->pct && o->faults)
        why = "--faults walks dfs's schedule tree; with pct, use a --plan's faults";
    else if (o->every_prefix && !o->faults)
        why = "--every-prefix is --faults's";
    if (why) {
        fprintf(stderr, "pgrace: %s\n", why);
        return -1;
    }
    if (o->pct && !o->max_schedules)
        o->max_schedules = EXPLORE_DEFAULT_PCT_SCHEDULES;
    return cli_targets(argc, argv, &o->run);
}

