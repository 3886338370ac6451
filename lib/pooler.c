/* pooler.c — pgbouncer in front of the server (see pooler.h). */
#include "lib/pooler.h"

#include "lib/cleanup.h"
#include "lib/err.h"
#include "lib/fstree.h"
#include "lib/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define POOLER_PORT "6432"          /* names the socket file; nothing listens on TCP */
#define READY_TIMEOUT_NS (30LL * 1000000000)
#define STOP_GRACE_NS (10LL * 1000000000)
/* Clients: 256 workers with two connections each, spec sessions, and the
 * cancel requests that come and go. Server connections: as many as the
 * embedded server takes (max_connections=300), so that a client never
 * waits for one in the pooler. */
#define MAX_CLIENTS "600"
#define POOL_SIZE "300"

struct pooler {
    char dir[200];              /* the temp root: the ini, the log, the socket */
    char ini[PATH_MAX];
    char logfile[PATH_MAX];
    char socket[PATH_MAX];
    char conninfo[PATH_MAX + 256];
    pid_t pid;
    int cleanup_handle;
    pooler_mode mode;
    proc_opts as_server;        /* identity pgbouncer runs under */
};

int pooler_parse(const char *text, pooler_mode *mode, char *err, size_t errlen)
{
    if (strcmp(text, "pgbouncer") == 0 || strcmp(text, "pgbouncer:transaction") == 0)
        *mode = POOLER_TRANSACTION;
    else if (strcmp(text, "pgbouncer:session") == 0)
        *mode = POOLER_SESSION;
    else {
        err_set(err, errlen, "bad --pooler '%s': pgbouncer (transaction pooling), pgbouncer:transaction or "
                "pgbouncer:session", text);
        return -1;
    }
    return 0;
}

const char *pooler_name(pooler_mode mode)
{
    return mode == POOLER_TRANSACTION ? "pgbouncer:transaction" : mode == POOLER_SESSION ? "pgbouncer:session" : "";
}

static bool try_binary(const char *dir, char *out, size_t outlen)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/pgbouncer", dir);
    if (access(p, X_OK) != 0)
        return false;
    snprintf(out, outlen, "%s", p);
    return true;
}

int pooler_find_binary(char *out, size_t outlen, char *err, size_t errlen)
{
    const char *env = getenv("PGRACE_PGBOUNCER");
    if (env && *env) {
        if (access(env, X_OK) == 0) {
            snprintf(out, outlen, "%s", env);
            return 0;
        }
        err_set(err, errlen, "PGRACE_PGBOUNCER=%s is not an executable; install the Debian package pgbouncer", env);
        return -1;
    }
    int in_path = proc_search_path(try_binary, out, outlen);
    if (in_path < 0) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    if (in_path || try_binary("/usr/sbin", out, outlen))
        return 0;
    err_set(err, errlen, "--pooler: cannot find pgbouncer (tried $PGRACE_PGBOUNCER, PATH, /usr/sbin); install the "
                         "Debian package pgbouncer");
    return -1;
}

/* Writes value in single quotes, a quote doubled: pgbouncer's
 * connection-string quoting (and SQL's). */
static void put_quoted(FILE *f, const char *value)
{
    fputc('\'', f);
    for (const char *p = value; *p; p++) {
        if (*p == '\'')
            fputc('\'', f);
        fputc(*p, f);
    }
    fputc('\'', f);
}

/* The statement that gives a server connection the run's schema, and
 * nothing else: the clients' own startup options never reach the server
 * through pgbouncer, so a server connection otherwise has the server's
 * defaults (a spec session's NOTICEs arrive, as isolationtester expects).
 * Inside a connection string's quotes: an identifier's double quotes pass
 * as they are, a single quote is doubled there by put_quoted. */
static int schema_sql(const char *schema, char *out, size_t len)
{
    if (strchr(schema, '"') || strchr(schema, '\n'))
        return -1;
    int n = snprintf(out, len, "SET search_path = \"%s\"", schema);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

/* pgbouncer's ini. Values sit on one line each; a value the ini cannot
 * hold (a newline) is refused. */
static int write_ini(const pooler *p, const pooler_server *srv, char *err, size_t errlen)
{
    const char *fields[] = { srv->host, srv->port, srv->dbname, srv->user, srv->password, srv->appname };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (fields[i] && strchr(fields[i], '\n')) {
            err_set(err, errlen, "the pooler cannot be given a connection parameter holding a newline");
            return -1;
        }
    char set_schema[256];
    if (schema_sql(srv->schema, set_schema, sizeof set_schema) < 0) {
        err_set(err, errlen, "the pooler cannot set search_path to schema '%s'", srv->schema);
        return -1;
    }
    /* The password sits in it: readable by pgbouncer's user only. */
    int fd = open(p->ini, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        err_sys(err, errlen, errno, "cannot write %s", p->ini);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    /* "*": whatever database a client names (pgbouncer 1.18 takes no
     * quoted database names, the server's may need quotes), the server's. */
    fputs("; pgbouncer for one pgrace run, removed with it (lib/pooler.c)\n[databases]\n* =", f);
    const char *keys[] = { "host", "port", "dbname", "user", "password", "application_name" };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (fields[i] && *fields[i]) {
            fprintf(f, " %s=", keys[i]);
            put_quoted(f, fields[i]);
        }
    fputs(" connect_query=", f);
    put_quoted(f, set_schema);
    fprintf(f, "\n[pgbouncer]\nlisten_addr =\nunix_socket_dir = %s\nunix_socket_mode = 0700\nlisten_port = %s\n",
            p->dir, POOLER_PORT);
    /* The user is the database entry's; the socket is private to pgrace
     * and pgbouncer's users. */
    fprintf(f, "auth_type = any\npool_mode = %s\nmax_client_conn = %s\ndefault_pool_size = %s\n",
            p->mode == POOLER_SESSION ? "session" : "transaction", MAX_CLIENTS, POOL_SIZE);
    /* libpq clients send options (pgrace's own: search_path, which the
     * connect_query sets), JDBC extra_float_digits. */
    fputs("ignore_startup_parameters = options,extra_float_digits\n", f);
    /* Session pooling resets a connection its client left, as DISCARD ALL
     * does (which cannot share a query string with the SETs after it), and
     * gives it the run's schema again. Transaction pooling never resets:
     * what a transaction leaves on its connection reaches the next client,
     * as it does in production. */
    fprintf(f, "server_reset_query = CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; DEALLOCATE ALL; "
               "UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD PLANS; DISCARD TEMP; DISCARD SEQUENCES; %s\n",
            set_schema);
    fputs("log_connections = 0\nlog_disconnections = 0\nlog_stats = 0\nserver_tls_sslmode = prefer\n", f);
    if (fclose(f) != 0) {
        err_sys(err, errlen, errno, "cannot write %s", p->ini);
        return -1;
    }
    if (p->as_server.drop_identity && chown(p->ini, p->as_server.uid, p->as_server.gid) == -1) {
        err_sys(err, errlen, errno, "chown(%s)", p->ini);
        return -1;
    }
    return 0;
}

/* proc_await_ready: pgbouncer listens on its socket. */
static bool listening(void *arg)
{
    const pooler *p = arg;
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    if (strlen(p->socket) >= sizeof a.sun_path)
        return false;
    memcpy(a.sun_path, p->socket, strlen(p->socket) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static int spawn(pooler *p, const char *bin, char *err, size_t errlen)
{
    char *argv[] = { (char *)bin, p->ini, NULL };
    proc_opts o = p->as_server;
    o.cwd = p->dir;
    o.output = p->logfile;
    o.own_group = true;             /* Ctrl-C is ours to handle, not pgbouncer's */
    o.death_signal = SIGTERM;       /* pgbouncer's fast exit */
    if (proc_spawn(argv, &o, &p->pid, err, errlen) < 0)
        return -1;
    int r = proc_await_ready(p->pid, listening, p, READY_TIMEOUT_NS, "pgbouncer", p->logfile, err, errlen);
    if (r == 1)
        p->pid = 0;
    return r == 0 ? 0 : -1;
}

/* A client's login makes pgbouncer log into the server: what it says when
 * it cannot (a password it lacks, a refused user) is said now, in one
 * line, not by every worker. */
static int check_login(const pooler *p, char *err, size_t errlen)
{
    char conninfo[sizeof p->conninfo + 64];
    snprintf(conninfo, sizeof conninfo, "%s connect_timeout=10 application_name=pgrace/pooler-check", p->conninfo);
    PGconn *c = PQconnectdb(conninfo);
    int rc = 0;
    if (!c || PQstatus(c) != CONNECTION_OK) {
        err_set(err, errlen, "pgbouncer cannot log into the server: %s", c ? PQerrorMessage(c) : "out of memory");
        rc = -1;
    }
    PQfinish(c);
    return rc;
}

static void stop_pooler(pooler *p)
{
    if (p->pid > 0) {
        proc_stop(p->pid, SIGTERM, STOP_GRACE_NS);
        p->pid = 0;
    }
    if (p->dir[0]) {
        fstree_remove(p->dir);
        p->dir[0] = '\0';
    }
}

static void registry_stop(void *arg)
{
    /* From the registry (error exit or signal): free nothing, another
     * thread may still hold p. */
    stop_pooler(arg);
}

void pooler_stop(pooler *p)
{
    if (!p)
        return;
    if (p->cleanup_handle >= 0)
        cleanup_pop(p->cleanup_handle, true);
    else
        stop_pooler(p);
    free(p);
}

int pooler_start(pooler **out, pooler_mode mode, const pooler_server *srv, char *err, size_t errlen)
{
    char bin[PATH_MAX];
    if (pooler_find_binary(bin, sizeof bin, err, errlen) < 0)
        return -1;
    pooler *p = calloc(1, sizeof *p);
    if (!p) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    p->cleanup_handle = -1;
    p->mode = mode;
    if (proc_server_identity(&p->as_server, err, errlen) < 0) {
        free(p);
        return -1;
    }
    if (fstree_make_run_dir("pgrace-pool", p->dir, sizeof p->dir, err, errlen) < 0) {
        free(p);
        return -1;
    }
    /* From here on the directory exists: the registry owns its removal. */
    if ((p->cleanup_handle = cleanup_push(registry_stop, p)) < 0) {
        err_set(err, errlen, "too many cleanup actions");
        goto fail;
    }
    if (p->as_server.drop_identity && chown(p->dir, p->as_server.uid, p->as_server.gid) == -1) {
        err_sys(err, errlen, errno, "chown(%s)", p->dir);
        goto fail;
    }
    snprintf(p->ini, sizeof p->ini, "%s/pgbouncer.ini", p->dir);
    snprintf(p->logfile, sizeof p->logfile, "%s/pgbouncer.log", p->dir);
    snprintf(p->socket, sizeof p->socket, "%s/.s.PGSQL.%s", p->dir, POOLER_PORT);
    /* The database name clients ask for is the server's: quoted for libpq. */
    char db[256];
    size_t o = 0;
    db[o++] = '\'';
    for (const char *c = srv->dbname; *c && o + 4 < sizeof db; c++) {
        if (*c == '\'' || *c == '\\')
            db[o++] = '\\';
        db[o++] = *c;
    }
    snprintf(db + o, sizeof db - o, "'");
    snprintf(p->conninfo, sizeof p->conninfo, "host=%s port=%s dbname=%s", p->dir, POOLER_PORT, db);
    if (write_ini(p, srv, err, errlen) < 0 || spawn(p, bin, err, errlen) < 0 || check_login(p, err, errlen) < 0)
        goto fail;
    *out = p;
    return 0;
fail:
    pooler_stop(p);
    return -1;
}

const char *pooler_conninfo(const pooler *p) { return p->conninfo; }
pooler_mode pooler_mode_of(const pooler *p) { return p->mode; }
int pooler_pid(const pooler *p) { return (int)p->pid; }
