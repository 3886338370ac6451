/* cli.c — the shared options and values of the commands (see cli.h). */
#include "cli/options.h"

#include "scenarios/registry.h"
#include "faults/grammar.h"
#include "lib/err.h"
#include "lib/parse.h"
#include "lib/rng.h"

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_choice(const char *what, const char *text, const char *first, const char *second)
{
    if (strcmp(text, first) == 0 || strcmp(text, second) == 0)
        return strcmp(text, second) == 0;
    fprintf(stderr, "pgrace: bad %s '%s': %s or %s\n", what, text, first, second);
    return -1;
}

int cli_long(const char *what, const char *text, long lo, long hi, long *out)
{
    if (parse_long(text, lo, hi, out) == 0)
        return 0;
    fprintf(stderr, "pgrace: bad %s '%s': expected a whole number from %ld to %ld\n", what, text, lo, hi);
    return -1;
}

int cli_seed(const char *what, const char *text, uint64_t *out)
{
    if (parse_seed(text, out) == 0)
        return 0;
    fprintf(stderr, "pgrace: bad %s '%s': expected a non-negative whole number below 2^64\n", what, text);
    return -1;
}

int cli_duration(const char *what, const char *text, int64_t max_ns, int64_t *out)
{
    if (parse_duration(text, max_ns, out) == 0 && *out > 0)
        return 0;
    fprintf(stderr, "pgrace: bad %s '%s': expected a duration above 0 and at most %.0fs, a number and its unit "
            "(us, ms, s, m, h), e.g. 500ms or 10s\n", what, text, (double)max_ns / 1e9);
    return -1;
}

int cli_pooler(const char *text, pooler_mode *out)
{
    char err[ERRLEN], bin[4096];
    if (pooler_parse(text, out, err, sizeof err) < 0 || pooler_find_binary(bin, sizeof bin, err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: %s\n", err);
        return -1;
    }
    return 0;
}

int cli_oracle_option(int code, const char *arg, oracle_mode *mode, state_opts *so)
{
    char err[ERRLEN];
    switch (code) {
    case CLI_ORACLE:
        if (oracle_mode_parse(arg, mode) == 0)
            return 1;
        fprintf(stderr, "pgrace: bad --oracle '%s': serial (the invariants and the oracle) or serial-only (the "
                "oracle alone)\n", arg);
        return -1;
    case CLI_ORACLE_COLUMN:
        if (state_check_decl(arg, err, sizeof err) < 0) {
            fprintf(stderr, "pgrace: --oracle-column: %s\n", err);
            return -1;
        }
        if (so->ncolumns == STATE_MAX_DECL)
            break;
        so->columns[so->ncolumns++] = arg;
        return 1;
    case CLI_ORACLE_TABLE:
        if (!*arg || strchr(arg, '.')) {
            fprintf(stderr, "pgrace: bad --oracle-table '%s': a table of the schema, by its name\n", arg);
            return -1;
        }
        if (so->ntables == STATE_MAX_DECL)
            break;
        so->tables[so->ntables++] = arg;
        return 1;
    case CLI_ORACLE_MASK: {
        regex_t re;
        if (regcomp(&re, arg, REG_EXTENDED | REG_NOSUB) != 0) {
            fprintf(stderr, "pgrace: bad --oracle-mask '%s': not a POSIX extended regular expression\n", arg);
            return -1;
        }
        regfree(&re);
        so->mask = arg;
        return 1;
    }
    default:
        return 0;
    }
    fprintf(stderr, "pgrace: too many --oracle-column or --oracle-table options (at most %d each)\n", STATE_MAX_DECL);
    return -1;
}

int cli_oracle_check(oracle_mode mode, const state_opts *so)
{
    if (mode != ORACLE_OFF || (!so->ncolumns && !so->ntables && !so->mask))
        return 0;
    fprintf(stderr, "pgrace: --oracle-column, --oracle-table and --oracle-mask tell the serial oracle what to "
            "compare: they need --oracle serial (or serial-only)\n");
    return -1;
}

int cli_fault_rules(const char *rules)
{
    char err[512];
    int status;
    struct pgf_ruleset *rs = pgf_rules_parse(rules, err, sizeof err, &status);
    pgf_ruleset_free(rs);
    if (status < 0)
        fprintf(stderr, "pgrace: %s\n", err);
    return status < 0 ? -1 : 0;
}

int cli_run_option(int code, const char *arg, run_opts *o, const char *usage)
{
    long v;
    char err[ERRLEN];
    int oracle = cli_oracle_option(code, arg, &o->oracle, &o->oracle_opts);
    if (oracle)
        return oracle;
    switch (code) {
    case 'n':
        if (cli_long("-n", arg, 1, DRV_MAX_WORKERS, &v) < 0)
            return -1;
        o->nworkers = (int)v;
        o->nworkers_given = true;
        return 1;
    case 'i':
        if (cli_long("-i", arg, 1, 100000000, &v) < 0)
            return -1;
        o->iterations = v;
        o->iterations_given = true;
        return 1;
    case CLI_IMPL: o->impl = arg; return 1;
    case CLI_SEED:
        if (cli_seed("--seed", arg, &o->seed) < 0)
            return -1;
        o->seed_given = true;
        return 1;
    case CLI_DSN: o->dsn = arg; return 1;
    case CLI_POOLER: return cli_pooler(arg, &o->pooler) < 0 ? -1 : 1;
    case CLI_NO_CONN_CHECK: o->no_conn_check = true; return 1;
    case CLI_JUNIT: o->junit = arg; return 1;
    case CLI_JSON: o->json = arg; return 1;
    case CLI_HTML: o->html = arg; return 1;
    case CLI_CALL_TIMEOUT:
        return cli_duration("--call-timeout", arg, 24 * 3600LL * 1000000000, &o->call_timeout_ns) < 0 ? -1 : 1;
    case CLI_FAULT: o->fault = arg; return 1;
    case CLI_SCHEDULE: o->schedule = arg; return 1;
    case CLI_FAILFAST:
        if (arg && !*arg) {
            fprintf(stderr, "pgrace: bad --failfast=: name an invariant by its id (pgrace list shows them), "
                    "or give none\n");
            return -1;
        }
        o->failfast = true;
        o->failfast_on = arg;
        return 1;
    case CLI_PLAN: o->plan = arg; return 1;
    case CLI_PARAMS:
        /* Words NAME=VALUE, as a plan's params (call_param reads them). */
        for (const char *w = arg + strspn(arg, " "); *w; w += strcspn(w, " "), w += strspn(w, " ")) {
            const char *eq = memchr(w, '=', strcspn(w, " "));
            if (!eq || eq == w) {
                fprintf(stderr, "pgrace: bad --params '%s': expected NAME=VALUE words, e.g. 'lock_timeout=200ms'\n",
                        arg);
                return -1;
            }
        }
        o->params = arg;
        return 1;
    case CLI_SWEEP: o->fault_sweep = true; return 1;
    case CLI_PAUSE:
        if (drv_pause_parse(&o->pauses, arg, err, sizeof err) < 0) {
            fprintf(stderr, "pgrace: %s\n", err);
            return -1;
        }
        return 1;
    case CLI_RETRIES:
        if (cli_long("--retries", arg, 0, 10, &v) < 0)
            return -1;
        o->retries = (int)v;
        o->retries_given = true;
        return 1;
    case CLI_FROM:
        if (cli_long("--from-iteration", arg, 1, 1000000000, &v) < 0)
            return -1;
        o->first_iteration = v;
        return 1;
    case CLI_HELP:
        fputs(usage, stdout);
        exit(EXIT_HELD);
    default:
        return 0;
    }
}

int cli_bad_option(char **argv)
{
    if (optopt && optopt < 256)
        fprintf(stderr, "pgrace: bad option '-%c' (or it needs a value); pgrace --help\n", optopt);
    else
        fprintf(stderr, "pgrace: bad option '%s' (or it needs a value); pgrace --help\n", argv[optind - 1]);
    return -1;
}

/* Options that would be ignored together are refused instead. */
static int check_combinations(const run_opts *o)
{
    const char *why = NULL;
    if (o->fault && o->fault_sweep)
        why = "--fault and --fault-sweep cannot be combined: the sweep installs its own fault for each iteration";
    else if (o->schedule && (o->fault_sweep || o->iterations_given))
        why = "--schedule replays one schedule of one round (--from-iteration numbers it): --fault-sweep and -i "
              "do not apply";
    else if (o->fault_sweep && (o->iterations_given || o->first_iteration))
        why = "a fault sweep numbers and counts its own iterations (one per statement position and action): "
              "-i and --from-iteration do not apply";
    if (why)
        fprintf(stderr, "pgrace: %s\n", why);
    return why ? -1 : 0;
}

/* Report files are written at the end: a path that cannot be written is
 * refused before the run, not after it. */
static int check_report_paths(const run_opts *o)
{
    const char *paths[] = { o->junit, o->json, o->html };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        if (!paths[i])
            continue;
        char dir[4096];
        const char *slash = strrchr(paths[i], '/');
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - paths[i]) + (slash == paths[i]) : 1,
                 slash ? paths[i] : ".");
        if (access(dir, W_OK | X_OK) != 0 || (access(paths[i], F_OK) == 0 && access(paths[i], W_OK) != 0)) {
            fprintf(stderr, "pgrace: cannot write report %s: %s\n", paths[i], strerror(errno ? errno : EACCES));
            return -1;
        }
    }
    return 0;
}

int cli_targets(int argc, char **argv, run_opts *o)
{
    if (check_combinations(o) < 0 || check_report_paths(o) < 0 || cli_oracle_check(o->oracle, &o->oracle_opts) < 0)
        return -1;
    if (!o->seed_given)
        o->seed = rng_fresh_seed();
    o->registry = scenario_registry;
    o->targets = argv + optind;
    o->ntargets = argc - optind;
    for (int i = 0; i < o->ntargets; i++)
        if (o->targets[i][0] == '-') {
            fprintf(stderr, "pgrace: bad option '%s'; pgrace --help\n", o->targets[i]);
            return -1;
        }
    return 0;
}
