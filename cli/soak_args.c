/* soak_args.c — `pgrace soak`'s command line (args.h). */
#include "cli/args.h"

#include "cli/options.h"
#include "lib/exit.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sched/sched.h"

static const char soak_usage[] =
    "usage: pgrace soak [SCENARIO[/VARIANT]...] --duration D | -i N [options]\n"
    "  --duration D      run this long (90s, 30m, 8h)\n"
    "  -i N              or this many iterations in all\n"
    "  --max-workers M   each round draws 1..M workers (default 8)\n"
    "  --round K         iterations per round (default 10)\n"
    "  --keep-going      do not stop at the first violation\n"
    "  --strategy S      os (default: the workers run free) or pct (the explorer's randomized priorities)\n"
    "  --depth D         pct's bug depth d (default 2)\n"
    "  --impl V --seed S --dsn DSN --pooler P --call-timeout D --junit F --json F --html F   as for run\n";

int cli_parse_soak(int argc, char **argv, soak_opts *o)
{
    enum { O_DURATION = CLI_FIRST_OWN, O_KEEP, O_MAXN, O_ROUND, O_STRATEGY, O_DEPTH };
    static const struct option longopts[] = {
        CLI_RUN_OPTIONS,
        { "duration", required_argument, NULL, O_DURATION }, { "keep-going", no_argument, NULL, O_KEEP },
        { "max-workers", required_argument, NULL, O_MAXN },  { "round", required_argument, NULL, O_ROUND },
        { "strategy", required_argument, NULL, O_STRATEGY }, { "depth", required_argument, NULL, O_DEPTH },
        { NULL, 0, NULL, 0 },
    };
    *o = (soak_opts){ .max_workers = 8, .round_iterations = 10, .depth = 2 };
    o->run = (run_opts){ .times = 1, .argv0 = argv[0], .argv = argv };
    argc--;
    argv++;
    opterr = 0;
    optind = 1;
    int ch;
    long v;
    while ((ch = getopt_long(argc, argv, "i:", longopts, NULL)) != -1) {
        switch (ch) {
        case 'i':
            if (cli_long("-i", optarg, 1, 1000000000, &o->max_iterations) < 0)
                return -1;
            break;
        case O_DURATION:
            if (cli_duration("--duration", optarg, 7 * 86400LL * 1000000000, &o->duration_ns) < 0)
                return -1;
            break;
        case O_MAXN:
            if (cli_long("--max-workers", optarg, 1, DRV_MAX_WORKERS, &v) < 0)
                return -1;
            o->max_workers = (int)v;
            break;
        case O_ROUND:
            if (cli_long("--round", optarg, 1, 100000, &o->round_iterations) < 0)
                return -1;
            break;
        case O_KEEP: o->keep_going = true; break;
        case O_STRATEGY: {
            int pct = cli_choice("--strategy", optarg, "os", "pct");
            if (pct < 0)
                return -1;
            o->pct = pct;
            break;
        }
        case O_DEPTH:
            if (cli_long("--depth", optarg, 1, 8, &v) < 0)
                return -1;
            o->depth = (int)v;
            break;
        default: {
            int r = cli_run_option(ch, optarg, &o->run, soak_usage);
            if (r <= 0)
                return r < 0 ? -1 : cli_bad_option(argv);
        }
        }
    }
    if (!o->duration_ns && !o->max_iterations) {
        fprintf(stderr, "pgrace: soak needs --duration D or -i N\n");
        return -1;
    }
    if (o->max_workers > SCHED_MAX_WORKERS && o->pct) {
        fprintf(stderr, "pgrace: --strategy pct schedules at most %d workers (--max-workers)\n", SCHED_MAX_WORKERS);
        return -1;
    }
    return cli_targets(argc, argv, &o->run);
}

