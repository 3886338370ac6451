/* cluster.c — the embedded throwaway cluster (see cluster.h). */
#include "lib/cluster.h"

#include "lib/cleanup.h"
#include "lib/err.h"
#include "lib/fstree.h"
#include "lib/proc.h"
#include "lib/template.h"

#include <errno.h>
#include <glob.h>
#include <libpq-fe.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CLUSTER_USER   "pgrace"
#define CLUSTER_DB     "postgres"
#define CLUSTER_PORT   "5432"      /* names the socket file; nothing listens on TCP */
#define READY_TIMEOUT_NS (60LL * 1000000000)
#define STOP_GRACE_NS (10LL * 1000000000)

struct cluster {
    char dir[200];            /* the temp root: data/, server.log, socket (a socket
                               * path must fit in 107 bytes) */
    char datadir[PATH_MAX];
    char logfile[PATH_MAX];
    char bindir[PATH_MAX];
    char conninfo[PATH_MAX + 128];
    pid_t postmaster;
    int cleanup_handle;
    int major;
    proc_opts as_server;      /* identity the server runs under */
    char template[PATH_MAX];  /* the cached template's path, or "" (off) */
    bool from_template;       /* datadir is a copy of it */
    const char *const *extra; /* "name=value" settings asked for (borrowed, during start) */
    int nextra;
};

static bool has_programs(const char *dir)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/initdb", dir);
    if (access(p, X_OK) != 0)
        return false;
    snprintf(p, sizeof p, "%s/postgres", dir);
    return access(p, X_OK) == 0;
}

/* Accepts dir when initdb and postgres are both there (after resolving a
 * symlinked initdb, as /usr/local/bin/initdb may be). */
static bool try_dir(const char *dir, char *out, size_t outlen)
{
    char p[PATH_MAX], real[PATH_MAX];
    snprintf(p, sizeof p, "%s/initdb", dir);
    if (access(p, X_OK) != 0 || !realpath(p, real))
        return false;
    char *slash = strrchr(real, '/');
    if (!slash)
        return false;
    *slash = '\0';
    if (!has_programs(real))
        return false;
    snprintf(out, outlen, "%s", real);
    return true;
}

int cluster_find_bindir(char *out, size_t outlen, char *err, size_t errlen)
{
    const char *env = getenv("PGRACE_PGBIN");
    if (env && *env) {
        if (try_dir(env, out, outlen))
            return 0;
        err_set(err, errlen, "PGRACE_PGBIN=%s holds no initdb and postgres", env);
        return -1;
    }
    int in_path = proc_search_path(try_dir, out, outlen);
    if (in_path != 0) {
        if (in_path < 0)
            err_set(err, errlen, "out of memory");
        return in_path < 0 ? -1 : 0;
    }
    glob_t g;
    if (glob("/usr/lib/postgresql/*/bin", 0, NULL, &g) == 0) {
        /* Newest major first: glob sorts "9" after "15", so compare numbers. */
        int best = -1, bestv = -1;
        for (size_t i = 0; i < g.gl_pathc; i++) {
            int v = atoi(g.gl_pathv[i] + strlen("/usr/lib/postgresql/"));
            if (v > bestv && has_programs(g.gl_pathv[i])) {
                best = (int)i;
                bestv = v;
            }
        }
        if (best >= 0)
            snprintf(out, outlen, "%s", g.gl_pathv[best]);
        globfree(&g);
        if (best >= 0)
            return 0;
    }
    /* Last: Debian's pg_config is a wrapper script that costs tens of
     * milliseconds, and every run looks for the server. */
    FILE *p = popen("pg_config --bindir 2>/dev/null", "r");
    if (p) {
        char line[PATH_MAX];
        bool got = fgets(line, sizeof line, p) != NULL;
        pclose(p);
        if (got) {
            line[strcspn(line, "\n")] = '\0';
            if (try_dir(line, out, outlen))
                return 0;
        }
    }
    err_set(err, errlen, "cannot find initdb and postgres (tried $PGRACE_PGBIN, PATH, "
                         "/usr/lib/postgresql/*/bin, pg_config --bindir); install postgresql");
    return -1;
}

/* The parts of stop that run from the cleanup registry: kill and remove. */
static void stop_server(cluster *c)
{
    if (c->postmaster > 0) {
        /* Immediate shutdown: the data is thrown away anyway. The
         * postmaster waits for its backends before it exits, so once it
         * is reaped no process of the cluster is left; one that does not
         * exit in time (a backend stopped by a debugger) is killed with
         * its whole process group. */
        proc_stop(c->postmaster, SIGQUIT, STOP_GRACE_NS);
        c->postmaster = 0;
    }
    if (c->dir[0]) {
        fstree_remove(c->dir);
        c->dir[0] = '\0';
    }
}

void cluster_stop(cluster *c)
{
    if (!c)
        return;
    /* Through the registry when registered, so that the exit path and the
     * signal thread never stop the server twice or at the same time. */
    if (c->cleanup_handle >= 0)
        cleanup_pop(c->cleanup_handle, true);
    else
        stop_server(c);
    free(c);
}

static void registry_stop(void *arg)
{
    /* From the registry (error exit or signal): free nothing, the process
     * is ending and another thread may still hold c. */
    stop_server(arg);
}

static bool answers(void *arg) { return PQping(((cluster *)arg)->conninfo) == PQPING_OK; }

static int wait_ready(cluster *c, char *err, size_t errlen)
{
    int r = proc_await_ready(c->postmaster, answers, c, READY_TIMEOUT_NS, "embedded server", c->logfile, err, errlen);
    if (r == 1)
        c->postmaster = 0;
    return r == 0 ? 0 : -1;
}

/* initdb's options: everything that shapes the data directory, and so part
 * of the template's key. 1 MB WAL segments make a template a third smaller
 * to copy. */
static const char *const initdb_options[] = {
    "-U", CLUSTER_USER, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--wal-segsize=1",
};
#define N_INITDB_OPTIONS (sizeof initdb_options / sizeof initdb_options[0])

static proc_opts server_opts(const cluster *c)
{
    proc_opts o = c->as_server;
    o.cwd = c->dir;
    o.output = c->logfile;
    o.own_group = true;     /* Ctrl-C is ours to handle, not the server's */
    return o;
}

static int run_initdb(cluster *c, char *err, size_t errlen)
{
    char initdb[PATH_MAX + 16];
    snprintf(initdb, sizeof initdb, "%s/initdb", c->bindir);
    char *argv[N_INITDB_OPTIONS + 4] = { initdb, "-D", c->datadir };
    for (size_t i = 0; i < N_INITDB_OPTIONS; i++)
        argv[3 + i] = (char *)initdb_options[i];
    proc_opts o = server_opts(c);
    if (proc_run(argv, &o, err, errlen) == -1) {
        char tail[512];
        proc_log_tail(c->logfile, tail, sizeof tail);
        if (tail[0])
            err_set(err, errlen, "initdb failed: %s", tail);
        return -1;
    }
    return 0;
}

/* Fills c->datadir: a copy of the cached template when there is one, else
 * initdb (whose result then becomes the template). */
static int prepare_datadir(cluster *c, char *err, size_t errlen)
{
    c->from_template = false;
    char options[256] = "";
    for (size_t i = 0; i < N_INITDB_OPTIONS; i++)
        snprintf(options + strlen(options), sizeof options - strlen(options), " %s", initdb_options[i]);
    if (!template_locate(c->bindir, options, c->template, sizeof c->template))
        c->template[0] = '\0';
    if (c->template[0] && !template_ready(c->template))
        template_discard(c->template);      /* a broken one, or none */
    if (c->template[0] && template_ready(c->template)) {
        char src[PATH_MAX + 8], ignored[ERRLEN];
        snprintf(src, sizeof src, "%s/data", c->template);
        if (fstree_copy(src, c->datadir, c->as_server.drop_identity, c->as_server.uid, c->as_server.gid, ignored,
                        sizeof ignored) == 0) {
            c->from_template = true;
            return 0;
        }
        /* A template that cannot be copied is treated as missing. */
        fstree_remove(c->datadir);
    }
    if (run_initdb(c, err, errlen) < 0)
        return -1;
    if (c->template[0]) {
        char ignored[ERRLEN];
        /* Best effort: without a template the next run initdbs again. */
        template_publish(c->datadir, c->template, ignored, sizeof ignored);
    }
    return 0;
}

static int spawn_server(cluster *c, char *err, size_t errlen)
{
    char postgres[PATH_MAX + 16];
    snprintf(postgres, sizeof postgres, "%s/postgres", c->bindir);
    /* max_connections covers -n 256 workers plus control and pgbench. */
    char *base[] = { postgres, "-D", c->datadir, "-k", c->dir, "-p", CLUSTER_PORT,
                     "-c", "listen_addresses=", "-c", "fsync=off",
                     "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                     "-c", "max_connections=300", "-c", "shared_buffers=64MB",
                     "-c", "max_prepared_transactions=16" };
    size_t nbase = sizeof base / sizeof base[0];
    /* The settings asked for come last: the server takes the last -c. */
    char **argv = calloc(nbase + 2 * (size_t)c->nextra + 1, sizeof *argv);
    if (!argv) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    memcpy(argv, base, sizeof base);
    for (int i = 0; i < c->nextra; i++) {
        argv[nbase + 2 * (size_t)i] = "-c";
        argv[nbase + 2 * (size_t)i + 1] = (char *)c->extra[i];
    }
    proc_opts o = server_opts(c);
    o.death_signal = SIGQUIT;
    int rc = proc_spawn(argv, &o, &c->postmaster, err, errlen);
    free(argv);
    if (rc == -1)
        return -1;
    return wait_ready(c, err, errlen);
}

/* Starts the server on c->datadir. A copy of a template that does not start
 * means a broken template: it is discarded and the run falls back to initdb
 * once, so the cache heals itself. */
static int start_server(cluster *c, char *err, size_t errlen)
{
    if (spawn_server(c, err, errlen) == 0)
        return 0;
    /* With settings of the caller's, they are the likelier culprit: the
     * template (shared by every run) is kept. */
    if (!c->from_template || c->nextra > 0)
        return -1;
    template_discard(c->template);
    if (c->postmaster > 0) {
        proc_stop(c->postmaster, SIGQUIT, STOP_GRACE_NS);
        c->postmaster = 0;
    }
    fstree_remove(c->datadir);
    unlink(c->logfile);
    if (prepare_datadir(c, err, errlen) < 0)
        return -1;
    return spawn_server(c, err, errlen);
}

int cluster_start(cluster **out, char *err, size_t errlen)
{
    return cluster_start_with(out, NULL, 0, err, errlen);
}

int cluster_start_with(cluster **out, const char *const *settings, int nsettings, char *err, size_t errlen)
{
    cluster *c = calloc(1, sizeof *c);
    if (!c) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    c->cleanup_handle = -1;
    c->extra = settings;
    c->nextra = nsettings;
    if (cluster_find_bindir(c->bindir, sizeof c->bindir, err, errlen) == -1 ||
        proc_server_identity(&c->as_server, err, errlen) == -1) {
        free(c);
        return -1;
    }
    if (fstree_make_run_dir("pgrace", c->dir, sizeof c->dir, err, errlen) < 0) {
        free(c);
        return -1;
    }
    /* From here on the directory exists: the registry owns its removal. */
    c->cleanup_handle = cleanup_push(registry_stop, c);
    if (c->cleanup_handle < 0) {
        err_set(err, errlen, "too many cleanup actions");
        goto fail;
    }
    if (c->as_server.drop_identity && chown(c->dir, c->as_server.uid, c->as_server.gid) == -1) {
        err_sys(err, errlen, errno, "chown(%s)", c->dir);
        goto fail;
    }
    snprintf(c->datadir, sizeof c->datadir, "%s/data", c->dir);
    snprintf(c->logfile, sizeof c->logfile, "%s/server.log", c->dir);
    snprintf(c->conninfo, sizeof c->conninfo, "host=%s port=%s user=%s dbname=%s",
             c->dir, CLUSTER_PORT, CLUSTER_USER, CLUSTER_DB);

    if (prepare_datadir(c, err, errlen) < 0 || start_server(c, err, errlen) < 0)
        goto fail;
    PGconn *conn = PQconnectdb(c->conninfo);
    c->major = PQstatus(conn) == CONNECTION_OK ? PQserverVersion(conn) / 10000 : 0;
    c->extra = NULL;
    c->nextra = 0;
    PQfinish(conn);
    *out = c;
    return 0;
fail:
    cluster_stop(c);
    return -1;
}

const char *cluster_conninfo(const cluster *c) { return c->conninfo; }
const char *cluster_host(const cluster *c) { return c->dir; }
const char *cluster_port(const cluster *c) { (void)c; return CLUSTER_PORT; }
const char *cluster_user(const cluster *c) { (void)c; return CLUSTER_USER; }
const char *cluster_dbname(const cluster *c) { (void)c; return CLUSTER_DB; }
int cluster_major_version(const cluster *c) { return c->major; }
