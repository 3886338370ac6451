/*
 * isolation.c — `pgrace isolation [CONNINFO] < FILE.spec`, and pgrace run
 * as `isolationtester`: PostgreSQL 15's isolationtester, same input, same
 * output, same exit status, so that pg_isolation_regress (or run-suite) can
 * run it in its place.
 *
 *   - the spec comes on stdin; CONNINFO (default "dbname = postgres", the
 *     rest from the PG* environment) names the server;
 *   - -V prints the installed PostgreSQL's version line, as its own
 *     isolationtester does ("isolationtester (PostgreSQL) 15.18 (Debian
 *     15.18-0+deb12u1)"), so does --version (which isolationtester itself
 *     rejects);
 *   - PGISOLATIONTIMEOUT (seconds, default 300) cancels a step after that
 *     long and gives up at twice it;
 *   - exit status 0 when every permutation ran (failing steps are part of
 *     the output), 1 on a malformed spec, a connection failure, a setup
 *     failure or a timeout, with isolationtester's message on stderr.
 * The spec language is PostgreSQL 15's only: pgrace's additions (`pgrace
 * spec`) are rejected here as isolationtester rejects them.
 */
#include "modes/modes.h"

#include "isolation/run.h"
#include "isolation/spec.h"

#include "lib/cluster.h"
#include "lib/err.h"
#include "lib/proc.h"

#include <libpq-fe.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads all of f. Returns the bytes (NUL-terminated; *len excludes it), or
 * NULL with errno set. */
char *spec_read_all(FILE *f, size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (ferror(f)) {
            free(buf);
            return NULL;
        }
        if (feof(f))
            break;
        char *b = cap < ((size_t)1 << 30) ? realloc(buf, cap * 2) : NULL;
        if (!b) {
            free(buf);
            return NULL;
        }
        buf = b;
        cap *= 2;
    }
    if (buf) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

#define VERSION_BOUND_NS (5LL * 1000000000)   /* postgres -V answers at once */

typedef struct perm_ctx {
    spec_runner *r;
} perm_ctx;

static int run_one(void *arg, const spec_pstep *steps, int nsteps)
{
    perm_ctx *p = arg;
    char err[ERRLEN];
    return spec_run_permutation(p->r, steps, nsteps, NULL, err, sizeof err) < 0 ? -1 : 0;
}

/* A message as isolationtester ends it: with exactly the newlines it has,
 * plus one when it has none. */
static void print_error(const char *msg)
{
    size_t n = strlen(msg);
    fputs(msg, stderr);
    if (n == 0 || msg[n - 1] != '\n')
        fputc('\n', stderr);
}

/* pg_isolation_regress takes an isolationtester only when its -V is, to
 * the byte, the line its own PostgreSQL would print ("isolationtester
 * (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)": a packager's suffix
 * included), so the line is the installed server's: its postgres -V, the
 * program's name replaced. Without a server, libpq's version. */
void isolation_print_version(FILE *out)
{
    char bindir[PATH_MAX], prog[PATH_MAX + 16], line[256], err[ERRLEN];
    if (cluster_find_bindir(bindir, sizeof bindir, err, sizeof err) == 0) {
        snprintf(prog, sizeof prog, "%s/postgres", bindir);
        char *argv[] = { prog, "-V", NULL };
        if (proc_output(argv, line, sizeof line, VERSION_BOUND_NS, err, sizeof err) == 0 &&
            strncmp(line, "postgres ", 9) == 0 && strchr(line, '\n')) {
            fprintf(out, "isolationtester %s", line + 9);
            return;
        }
    }
    int v = PQlibVersion();
    fprintf(out, "isolationtester (PostgreSQL) %d.%d\n", v / 10000, v % 100);
}

int isolation_main(const isolation_opts *io)
{
    const char *conninfo = io->conninfo ? io->conninfo : "dbname = postgres";
    size_t len;
    char *text = spec_read_all(stdin, &len);
    if (!text) {
        perror("reading the spec from stdin");
        return 1;
    }
    char err[4096];
    spec *s = NULL;
    int rc = spec_parse(text, len, SPEC_PG15, &s, err, sizeof err);
    free(text);
    if (rc < 0 || spec_check(s, err, sizeof err) < 0) {
        print_error(err);
        spec_free(s);
        return 1;
    }
    if (s->nperms > 0) {
        const spec_step **unused;
        int n = spec_unused_steps(s, &unused);
        for (int i = 0; i < n; i++)
            fprintf(stderr, "unused step name: %s\n", unused[i]->name);
        if (n >= 0)
            free((void *)unused);
    }
    printf("Parsed test spec with %d sessions\n", s->nsessions);
    fflush(stdout);

    spec_runner_opts o = {
        .conninfo = conninfo,
        .out = stdout,
        .err = stderr,
        .step_timeout_ns = io->timeout_ns,
    };
    spec_runner *r = spec_runner_open(s, &o, err, sizeof err);
    if (!r) {
        print_error(err);
        spec_free(s);
        return 1;
    }
    rc = 0;
    if (s->nperms > 0) {
        for (int i = 0; i < s->nperms && rc == 0; i++)
            rc = spec_run_permutation(r, s->perms[i].steps, s->perms[i].nsteps, NULL, err, sizeof err);
    } else {
        perm_ctx p = { .r = r };
        rc = spec_each_permutation(s, run_one, &p);
    }
    fflush(stdout);
    spec_runner_close(r);
    spec_free(s);
    return rc == 0 ? 0 : 1;
}
