/* proxy_args.c — `pgrace proxy`'s command line (args.h): its rules and its
 * listen address are checked here, before anything starts. */
#include "cli/args.h"

#include "cli/options.h"
#include "proxy/addr.h"
#include "lib/exit.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: pgrace proxy [--listen DIR|HOST:PORT] [--dsn DSN] [--fault RULES]... [--log F.jsonl]\n"
    "       pgrace proxy [options] -- CMD [ARG...]\n"
    "  --listen A       a Unix socket in directory A (A/.s.PGSQL.5432), or HOST:PORT (port 0: any free one);\n"
    "                   default: a temporary directory of the proxy's own\n"
    "  --dsn DSN        the server (default: an embedded throwaway cluster)\n"
    "  --fault RULES    fault rules, the shim's grammar (README: Fault specs); repeatable\n"
    "  --log F          append one JSON line per fault that fires to F\n"
    "  -- CMD [ARG...]  run CMD with PGHOST, PGPORT, PGUSER, PGDATABASE and DATABASE_URL\n"
    "                   pointing at the proxy; stop with it, exit status CMD's\n"
    "without a command it serves until SIGINT or SIGTERM\n";

/* Every --fault, joined into one rule list. */
static char rules_buf[65536];

/* Appends one --fault's rules to the list. Returns 0 or -1 (said). */
static int add_rules(const char *rules)
{
    size_t n = strlen(rules_buf);
    if (n + strlen(rules) + 2 >= sizeof rules_buf) {
        fprintf(stderr, "pgrace: --fault: the rules are too long\n");
        return -1;
    }
    snprintf(rules_buf + n, sizeof rules_buf - n, "%s%s", n ? ";" : "", rules);
    return 0;
}

int cli_parse_proxy(int argc, char **argv, proxy_opts *o)
{
    enum { OPT_LISTEN = 256, OPT_DSN, OPT_FAULT, OPT_LOG, OPT_HELP };
    static const struct option longopts[] = {
        { "listen", required_argument, NULL, OPT_LISTEN },
        { "dsn", required_argument, NULL, OPT_DSN },
        { "fault", required_argument, NULL, OPT_FAULT },
        { "log", required_argument, NULL, OPT_LOG },
        { "help", no_argument, NULL, OPT_HELP },
        { NULL, 0, NULL, 0 },
    };
    *o = (proxy_opts){ 0 };
    rules_buf[0] = '\0';
    int ch;
    opterr = 0;
    optind = 2;     /* argv: pgrace proxy ... */
    /* "+": the options end at the first word that is not one (CMD's own
     * options are CMD's). */
    while ((ch = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
        switch (ch) {
        case OPT_HELP:
            fputs(usage, stdout);
            exit(EXIT_HELD);
        case OPT_LISTEN: o->listen = optarg; break;
        case OPT_DSN: o->dsn = optarg; break;
        case OPT_LOG: o->log = optarg; break;
        case OPT_FAULT:
            if (add_rules(optarg) < 0)
                return -1;
            o->rules = rules_buf;
            break;
        default:
            return cli_bad_option(argv);
        }
    }
    if (optind < argc && strcmp(argv[optind - 1], "--") == 0)
        o->cmd = argv + optind;
    else if (optind < argc) {
        fprintf(stderr, "pgrace: proxy: unexpected '%s' (a command goes after --); pgrace proxy --help\n",
                argv[optind]);
        return -1;
    } else if (strcmp(argv[argc - 1], "--") == 0) {
        fprintf(stderr, "pgrace: proxy -- needs a command: pgrace proxy [options] -- CMD [ARG...]\n");
        return -1;
    }
    if (cli_fault_rules(o->rules) < 0)
        return -1;
    char err[512];
    pxa_addr a;
    if (o->listen && pxa_listen_parse(o->listen, &a, err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: %s\n", err);
        return -1;
    }
    return 0;
}
