/* spec_args.c — `pgrace spec`'s and `pgrace isolation`'s command lines (args.h). */
#include "cli/args.h"

#include "cli/options.h"
#include "engine/driver.h"
#include "lib/exit.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/rng.h"

static const char usage[] =
    "usage: pgrace spec FILE.spec... [options]\n"
    "  --explore          every interleaving of the sessions' steps, not only the listed permutations\n"
    "  --preemptions K    with --explore: at most K switches away from a session that could go on\n"
    "                     (default: no bound, the set isolationtester runs for a spec without permutations)\n"
    "  --faults           each permutation again with one fault (error=40001, drop, ambiguous) at each step\n"
    "  --permutation 'STEPS'  run only this permutation (the spec's syntax, step faults included)\n"
    "  --fault RULES      the fault shim with these fault rules on every session's statements (README)\n"
    "  --dsn DSN          use this server (else PG* variables, else an embedded cluster)\n"
    "  --pooler P         the sessions through Debian's pgbouncer: pgbouncer (transaction pooling: a spec\n"
    "                     whose sessions keep state across transactions is skipped, saying why),\n"
    "                     pgbouncer:session (session pooling)\n"
    "  --junit F          also write JUnit XML to F (TAP stays on stdout)\n"
    "  --json F           also write the run as JSON to F\n"
    "  --html F           also write the run as one self-contained HTML page to F\n"
    "  --seed S           the run's seed (printed; nothing in a spec run is random yet)\n"
    "  --oracle M         serial: also judge each permutation by the serial oracle (its outcome must be one\n"
    "                     some serial order of its transactions gives); serial-only: the oracle, not the\n"
    "                     spec's invariants\n"
    "  --oracle-column TABLE.COLUMN=MODE  --oracle-table T  --oracle-mask ERE   what the oracle compares (README)\n"
    "  --call-timeout D   a step's deadline (default 10s): a step not done by then is canceled and its\n"
    "                     permutation is an error; one the server says waits for a lock only a later\n"
    "                     step could release is skipped at once (SKIP infeasible)\n"
    "exit status: 0 every permutation ok, 1 a permutation was not (an invariant returned\n"
    "             rows, or it could not complete), 2 usage, setup or environment error\n";

int cli_parse_spec(int argc, char **argv, spec_opts *o)
{
    enum {
        OPT_DSN = 256, OPT_JUNIT, OPT_JSON, OPT_HTML, OPT_SEED, OPT_FAULT, OPT_TIMEOUT, OPT_HELP, OPT_EXPLORE,
        OPT_PREEMPT, OPT_FAULTS, OPT_PERMUTATION, OPT_POOLER,
    };
    static const struct option longopts[] = {
        { "explore", no_argument, NULL, OPT_EXPLORE },
        { "preemptions", required_argument, NULL, OPT_PREEMPT },
        { "faults", no_argument, NULL, OPT_FAULTS },
        { "permutation", required_argument, NULL, OPT_PERMUTATION },
        { "dsn", required_argument, NULL, OPT_DSN },
        { "pooler", required_argument, NULL, OPT_POOLER },
        { "junit", required_argument, NULL, OPT_JUNIT },
        { "json", required_argument, NULL, OPT_JSON },
        { "html", required_argument, NULL, OPT_HTML },
        { "seed", required_argument, NULL, OPT_SEED },
        { "fault", required_argument, NULL, OPT_FAULT },
        { "call-timeout", required_argument, NULL, OPT_TIMEOUT },
        { "help", no_argument, NULL, OPT_HELP },
        CLI_ORACLE_OPTIONS,
        { NULL, 0, NULL, 0 },
    };
    *o = (spec_opts){ .timeout_ns = DRV_DEFAULT_CALL_TIMEOUT_NS, .bound = -1 };
    long v;
    bool seeded = false;
    int ch;
    opterr = 0;
    optind = 2;     /* argv: pgrace spec ... */
    o->argv = argv;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case OPT_DSN: o->dsn = optarg; break;
        case OPT_POOLER:
            if (cli_pooler(optarg, &o->pooler) < 0)
                return -1;
            break;
        case OPT_JUNIT: o->junit = optarg; break;
        case OPT_JSON: o->json = optarg; break;
        case OPT_HTML: o->html = optarg; break;
        case OPT_SEED:
            if (cli_seed("--seed", optarg, &o->seed) < 0)
                return -1;
            seeded = true;
            break;
        case OPT_TIMEOUT:
            if (cli_duration("--call-timeout", optarg, SPEC_MAX_TIMEOUT_NS, &o->timeout_ns) < 0)
                return -1;
            break;
        case OPT_FAULT: o->fault = optarg; break;
        case OPT_EXPLORE: o->explore = true; break;
        case OPT_FAULTS: o->faults = true; break;
        case OPT_PERMUTATION: o->permutation = optarg; break;
        case OPT_PREEMPT:
            if (cli_long("--preemptions", optarg, 0, 64, &v) < 0)
                return -1;
            o->bound = (int)v;
            break;
        case OPT_HELP:
            fputs(usage, stdout);
            exit(EXIT_HELD);
        default: {
            int r = cli_oracle_option(ch, optarg, &o->oracle, &o->oracle_opts);
            if (r <= 0)
                return r < 0 ? -1 : cli_bad_option(argv);
        }
        }
    }
    if (cli_oracle_check(o->oracle, &o->oracle_opts) < 0)
        return -1;
    if (o->oracle && o->fault) {
        fprintf(stderr, "pgrace: --oracle reruns the transactions on the same sessions, which --fault's rules would "
                "fault too: use step faults (--faults, or [error=...] in a permutation) with the oracle\n");
        return -1;
    }
    if (o->permutation && (o->explore || o->faults)) {
        fprintf(stderr, "pgrace: --permutation runs one permutation: --explore and --faults do not apply\n");
        return -1;
    }
    if (o->bound >= 0 && !o->explore) {
        fprintf(stderr, "pgrace: --preemptions bounds --explore's interleavings: it needs --explore\n");
        return -1;
    }
    if (!seeded)
        o->seed = rng_fresh_seed();
    o->files = argv + optind;
    o->nfiles = argc - optind;
    if (o->nfiles == 0) {
        fprintf(stderr, "pgrace: spec needs a spec file: pgrace spec FILE.spec... (pgrace spec --help)\n");
        return -1;
    }
    for (int i = 0; i < o->nfiles; i++)
        if (o->files[i][0] == '-') {
            fprintf(stderr, "pgrace: bad option '%s'; pgrace spec --help\n", o->files[i]);
            return -1;
        }
    return 0;
}


int cli_parse_isolation(int argc, char **argv, isolation_opts *o, bool *version)
{
    /* isolationtester's own: [CONNINFO], -V; --version as -V (which
     * isolationtester itself rejects). */
    if (argc > 1 && strcmp(argv[1], "--version") == 0)
        argv[1] = "-V";
    *version = false;
    int opt;
    optind = 1;
    opterr = 1;
    while ((opt = getopt(argc, argv, "V")) != -1) {
        if (opt == 'V') {
            *version = true;
            return 0;
        }
        fprintf(stderr, "Usage: isolationtester [CONNINFO]\n");
        return -1;
    }
    const char *env = getenv("PGISOLATIONTIMEOUT");
    *o = (isolation_opts){ .conninfo = argc > optind ? argv[optind] : NULL,
                           .timeout_ns = (env ? atoi(env) : SPEC_DEFAULT_TIMEOUT_S) * 1000000000LL };
    return 0;
}
