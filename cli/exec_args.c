/* exec_args.c — `pgrace exec`'s command line (args.h): every option
 * checked before anything starts (the SQL files are read by the mode, also
 * before anything starts). */
#include "cli/args.h"

#include "cli/options.h"
#include "lib/exit.h"
#include "lib/parse.h"
#include "sched/strategy.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char exec_usage[] =
    "usage: pgrace exec [options] -- CMD [ARG...]\n"
    "  runs N copies of CMD at once, iteration after iteration, each worker's connections through the wire\n"
    "  proxy (PGHOST, PGPORT, PGUSER, PGDATABASE, DATABASE_URL; PGRACE_WORKER 1..N, PGRACE_WORKERS,\n"
    "  PGRACE_ITERATION, PGRACE_SEED), their first statements released together; then the checks\n"
    "  -n N               workers, 1..64 (default 8; with --explore 2, at most 3)\n"
    "  -i N               iterations (default 20), each on a fresh schema\n"
    "  --setup F.sql      run in each iteration's fresh schema first (search_path is the schema;\n"
    "                     pgrace.iteration, pgrace.workers and pgrace.seed are set)\n"
    "  --check NAME=F.sql one query, run after each iteration: every row it returns is a violation of NAME;\n"
    "                     pgrace_answers (worker, exit_code, status, body, faulted) holds the answers\n"
    "  --fail-on LIST     exit statuses that are failures, e.g. 1-255 (the default: any but 0) or 2,70-79\n"
    "  --fault RULES      fault the workers' statements (README: Fault rules; conn=K is worker K)\n"
    "  --plan sweep       one fault per statement position of worker 1 x (error=40001, drop, ambiguous)\n"
    "  --explore          every interleaving of the workers' statements under a preemption bound\n"
    "  --faults           with --explore: also one fault at every position of the schedule tree\n"
    "  --preemptions K    with --explore: at most K preemptive switches per schedule (default 2)\n"
    "  --max-schedules M  with --explore: stop after M schedules (and fault runs)\n"
    "  --no-yield         with --explore: a worker repeating a read nothing changed since does not yield\n"
    "  --schedule TOKEN   replay one schedule --explore printed (with -n and --from-iteration)\n"
    "  --from-iteration K number iterations from K (with -i 1: rerun iteration K; --explore: explore K)\n"
    "  --failfast[=ID]    stop at the first iteration that violates a check (or the one named)\n"
    "  --oracle M         serial: also judge each iteration by the serial oracle (id serial): its outcome\n"
    "                     must be one the workers give run one at a time in some order, each program\n"
    "                     rerun alone from the iteration's setup; serial-only: the oracle with no --check\n"
    "  --oracle-column TABLE.COLUMN=MODE  --oracle-table T  --oracle-mask ERE   what it compares (README)\n"
    "  --pooler pgbouncer[:session]  the proxy's upstream is pgbouncer in front of the server (transaction\n"
    "                     pooling by default): worker -> proxy -> pgbouncer -> server\n"
    "  --seed S --dsn DSN --call-timeout D --junit F --json F --html F   as for run\n"
    "exit status: 0 every check held and every worker answered, 1 a violation (a worker past its\n"
    "             deadline, crashed or silent is one), 2 usage, setup or environment error\n";

/* NAME=FILE: NAME of lower-case letters, digits and '-'. Returns 0 or -1 (said). */
static int add_check(exec_opts *o, char *arg)
{
    char *eq = strchr(arg, '=');
    size_t n = eq ? (size_t)(eq - arg) : 0;
    bool good = eq && n > 0 && eq[1] && strspn(arg, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
    if (!good) {
        fprintf(stderr, "pgrace: bad --check '%s': expected NAME=FILE.sql, NAME of lower-case letters, digits "
                "and '-'\n", arg);
        return -1;
    }
    *eq = '\0';
    if (strcmp(arg, "answered") == 0 || strcmp(arg, "deadline") == 0) {
        fprintf(stderr, "pgrace: bad --check '%s=%s': %s is the name of exec's own invariant\n", arg, eq + 1, arg);
        return -1;
    }
    for (int i = 0; i < o->nchecks; i++)
        if (strcmp(o->checks[i].name, arg) == 0) {
            fprintf(stderr, "pgrace: --check %s is given twice\n", arg);
            return -1;
        }
    if (o->nchecks == EXEC_MAX_CHECKS) {
        fprintf(stderr, "pgrace: too many --check options (at most %d)\n", EXEC_MAX_CHECKS);
        return -1;
    }
    o->checks[o->nchecks++] = (exec_check){ .name = arg, .file = eq + 1 };
    return 0;
}

/* "N" or "N-M", comma separated, 1..255. Returns 0 or -1 (said). */
static int fail_on(exec_opts *o, const char *arg)
{
    if (parse_set(arg, 1, 255, o->fail_on) < 0) {
        fprintf(stderr, "pgrace: bad --fail-on '%s': expected exit statuses from 1 to 255, N or N-M, "
                "comma-separated (e.g. 1-255, or 2,70-79)\n", arg);
        return -1;
    }
    o->fail_on_text = arg;
    return 0;
}

/* Options that contradict each other, or apply only with another. */
static const char *combination(const exec_opts *o, bool n_given, bool bound_given)
{
    const run_opts *r = &o->run;
    if (r->impl)
        return "--impl names a scenario's variant: exec runs the command after --";
    if (r->plan && strcmp(r->plan, "sweep") != 0)
        return "exec's only plan is sweep (--plan sweep)";
    if (r->plan && r->fault)
        return "--fault and --plan sweep cannot be combined: the sweep installs its own fault for each iteration";
    if (o->explore && (r->plan || r->schedule))
        return "--explore does not combine with --plan sweep or --schedule";
    if (!o->explore && (o->faults || bound_given || o->max_schedules || o->no_yield))
        return "--faults, --preemptions, --max-schedules and --no-yield are --explore's";
    if (o->explore && r->nworkers > 3)
        return "--explore explores 2 or 3 workers (-n)";
    if ((o->explore || r->schedule || r->plan) && r->iterations_given)
        return "-i does not apply to --explore, --schedule or --plan sweep (they count their own rounds)";
    if (r->plan && r->first_iteration)
        return "--plan sweep numbers its own iterations: --from-iteration does not apply";
    if (r->schedule && !n_given)
        return "--schedule replays a schedule of -n workers: give -n";
    if (r->oracle == ORACLE_SERIAL_ONLY && o->nchecks)
        return "--oracle serial-only judges by the oracle alone: drop --check, or use --oracle serial for both";
    return NULL;
}

int cli_parse_exec(int argc, char **argv, exec_opts *o)
{
    enum { O_SETUP = CLI_FIRST_OWN, O_CHECK, O_FAIL_ON, O_EXPLORE, O_FAULTS, O_PREEMPT, O_MAX, O_NO_YIELD };
    static const struct option longopts[] = {
        CLI_RUN_OPTIONS,
        CLI_ORACLE_OPTIONS,
        { "fault", required_argument, NULL, CLI_FAULT },
        { "plan", required_argument, NULL, CLI_PLAN },
        { "from-iteration", required_argument, NULL, CLI_FROM },
        { "schedule", required_argument, NULL, CLI_SCHEDULE },
        { "failfast", optional_argument, NULL, CLI_FAILFAST },
        { "setup", required_argument, NULL, O_SETUP },
        { "check", required_argument, NULL, O_CHECK },
        { "fail-on", required_argument, NULL, O_FAIL_ON },
        { "explore", no_argument, NULL, O_EXPLORE },
        { "faults", no_argument, NULL, O_FAULTS },
        { "preemptions", required_argument, NULL, O_PREEMPT },
        { "max-schedules", required_argument, NULL, O_MAX },
        { "no-yield", no_argument, NULL, O_NO_YIELD },
        { NULL, 0, NULL, 0 },
    };
    memset(o, 0, sizeof *o);
    o->run = (run_opts){ .nworkers = 8, .iterations = EXEC_DEFAULT_ITERATIONS, .times = 1, .argv0 = argv[0],
                         .argv = argv };
    o->bound = EXPLORE_DEFAULT_BOUND;
    for (int v = 1; v < 256; v++)
        o->fail_on[v] = 1;
    opterr = 0;
    optind = 2;         /* argv: pgrace exec ... */
    int ch;
    long v;
    bool bound_given = false;
    /* "+": the options end at the first word that is not one (CMD's own
     * options are CMD's). */
    while ((ch = getopt_long(argc, argv, "+n:i:", longopts, NULL)) != -1) {
        switch (ch) {
        case O_SETUP: o->setup = optarg; break;
        case O_CHECK:
            if (add_check(o, optarg) < 0)
                return -1;
            break;
        case O_FAIL_ON:
            if (fail_on(o, optarg) < 0)
                return -1;
            break;
        case O_EXPLORE: o->explore = true; break;
        case O_FAULTS: o->faults = true; break;
        case O_NO_YIELD: o->no_yield = true; break;
        case O_PREEMPT:
            if (cli_long("--preemptions", optarg, 0, 64, &v) < 0)
                return -1;
            o->bound = (int)v;
            bound_given = true;
            break;
        case O_MAX:
            if (cli_long("--max-schedules", optarg, 1, 100000000, &o->max_schedules) < 0)
                return -1;
            break;
        case 'n':
            if (cli_long("-n", optarg, 1, EXEC_MAX_WORKERS, &v) < 0)
                return -1;
            o->run.nworkers = (int)v;
            o->run.nworkers_given = true;
            break;
        default: {
            int r = cli_run_option(ch, optarg, &o->run, exec_usage);
            if (r <= 0)
                return r < 0 ? -1 : cli_bad_option(argv);
        }
        }
    }
    if (optind < argc && strcmp(argv[optind - 1], "--") == 0 && argv[optind][0]) {
        o->cmd = argv + optind;
    } else if (optind < argc && strcmp(argv[optind - 1], "--") != 0) {
        fprintf(stderr, "pgrace: exec: unexpected '%s' (the command goes after --); pgrace exec --help\n",
                argv[optind]);
        return -1;
    } else {
        fprintf(stderr, "pgrace: exec needs a command: pgrace exec [options] -- CMD [ARG...]\n");
        return -1;
    }
    if (o->explore && !o->run.nworkers_given)
        o->run.nworkers = 2;
    const char *why = combination(o, o->run.nworkers_given, bound_given);
    if (why) {
        fprintf(stderr, "pgrace: %s\n", why);
        return -1;
    }
    char err[512];
    schedule *sch = o->run.schedule ? malloc(sizeof *sch) : NULL;
    int bad = sch && schedule_parse(o->run.schedule, o->run.nworkers, sch, err, sizeof err) < 0;
    free(sch);
    if (bad) {
        fprintf(stderr, "pgrace: %s (with -n %d)\n", err, o->run.nworkers);
        return -1;
    }
    if (cli_fault_rules(o->run.fault) < 0)
        return -1;
    /* The rest as run's: the report paths, the seed; no scenario targets. */
    char *none[] = { NULL };
    optind = 0;
    return cli_targets(0, none, &o->run);
}
