/*
 * proxy.c — `pgrace proxy`: the wire proxy (proxy/proxy.h) in front of a
 * server (--dsn, else an embedded throwaway cluster), serving until a
 * signal stops it, or for the life of a command (`-- CMD [ARG...]`), which
 * gets PGHOST, PGPORT, PGUSER, PGDATABASE and DATABASE_URL pointing at the
 * proxy and whose exit status becomes pgrace's. A signal or the command's
 * crash leaves nothing behind: the command goes first, then the proxy
 * (its socket file and directory), then the cluster.
 */
#include "modes/modes.h"

#include "proxy/proxy.h"
#include "lib/cleanup.h"
#include "lib/cluster.h"
#include "lib/err.h"
#include "lib/exit.h"
#include "lib/proc.h"

#include <ctype.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void stop_proxy(void *arg) { proxy_stop(arg); }

/* s percent-encoded for a URI, keeping the characters in keep. */
static void uri_part(const char *s, const char *keep, char *out, size_t len)
{
    size_t n = 0;
    for (; *s && n + 4 < len; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || strchr("-._~", c) || (keep && strchr(keep, c)))
            out[n++] = (char)c;
        else
            n += (size_t)snprintf(out + n, len - n, "%%%02X", c);
    }
    out[n] = '\0';
}

/* DATABASE_URL for the proxy: postgresql://USER@HOST:PORT/DB, or with the
 * socket's directory as a host parameter. */
static void database_url(const proxy *p, char *buf, size_t len)
{
    char user[300], db[300], host[600];
    uri_part(proxy_user(p), NULL, user, sizeof user);
    uri_part(proxy_dbname(p), NULL, db, sizeof db);
    const char *h = proxy_host(p);
    if (h[0] == '/' || h[0] == '.') {
        uri_part(h, "/", host, sizeof host);
        snprintf(buf, len, "postgresql://%s%s/%s?host=%s&port=%d", user, *user ? "@" : "", db, host,
                 proxy_port(p));
    } else {
        snprintf(buf, len, "postgresql://%s%s%s%s%s:%d/%s", user, *user ? "@" : "", strchr(h, ':') ? "[" : "", h,
                 strchr(h, ':') ? "]" : "", proxy_port(p), db);
    }
}

/* The command, through the proxy; its exit status. */
static int run_command(const proxy *p, char *const cmd[], const char *path)
{
    char port[16], url[2048], err[ERRLEN];
    snprintf(port, sizeof port, "%d", proxy_port(p));
    database_url(p, url, sizeof url);
    setenv("PGHOST", proxy_host(p), 1);
    setenv("PGPORT", port, 1);
    if (*proxy_user(p))
        setenv("PGUSER", proxy_user(p), 1);
    if (*proxy_dbname(p))
        setenv("PGDATABASE", proxy_dbname(p), 1);
    setenv("DATABASE_URL", url, 1);
    unsetenv("PGHOSTADDR");
    unsetenv("PGSERVICE");
    char **argv = (char **)cmd;
    char *saved = argv[0];
    argv[0] = (char *)path;
    int status = proc_run_foreground(argv, err, sizeof err);
    if (status < 0) {
        fprintf(stderr, "pgrace: %s\n", err);
        status = EXIT_USAGE;
    }
    argv[0] = saved;
    return status;
}

int proxy_main(const proxy_opts *o)
{
    char err[ERRLEN], path[PATH_MAX];
    if (o->cmd && !o->cmd[0]) {
        fprintf(stderr, "pgrace: proxy -- needs a command: pgrace proxy [options] -- CMD [ARG...]\n");
        return EXIT_USAGE;
    }
    if (o->cmd && proc_which(o->cmd[0], path, sizeof path) < 0) {
        fprintf(stderr, "pgrace: command not found: %s\n", o->cmd[0]);
        return EXIT_USAGE;
    }
    cluster *c = NULL;
    const char *dsn = o->dsn;
    if (!dsn) {
        if (cluster_start(&c, err, sizeof err) < 0) {
            fprintf(stderr, "pgrace: %s\n", err);
            return EXIT_USAGE;
        }
        dsn = cluster_conninfo(c);
    }
    proxy *p;
    proxy_config cfg = { .listen = o->listen, .upstream = dsn, .rules = o->rules, .log = o->log };
    if (proxy_start(&p, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: %s\n", err);
        cluster_stop(c);
        return EXIT_USAGE;
    }
    int h = cleanup_push(stop_proxy, p);
    if (h < 0) {
        proxy_stop(p);
        cluster_stop(c);
        fprintf(stderr, "pgrace: too many teardown actions\n");
        return EXIT_USAGE;
    }
    if (!o->cmd) {
        char url[2048];
        database_url(p, url, sizeof url);
        printf("pgrace proxy: listening on %s port %d (%s), faults: %s; stop with SIGINT or SIGTERM\n",
               proxy_host(p), proxy_port(p), url, o->rules && *o->rules ? o->rules : "none");
        fflush(stdout);
        /* Serves until a signal: the signal thread tears down and exits. */
        for (;;)
            pause();
    }
    int status = run_command(p, o->cmd, path);
    cleanup_pop(h, true);
    cluster_stop(c);
    return status;
}
