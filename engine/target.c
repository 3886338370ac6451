/* target.c — the run's server and schema (see target.h). */
#include "engine/target.h"

#include "engine/faultctl.h"

#include "lib/cleanup.h"
#include "lib/err.h"
#include "lib/pq.h"
#include "lib/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool target_env_given(void)
{
    const char *vars[] = { "PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGSERVICE" };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return true;
    }
    return false;
}

/* Runs from the cleanup registry, possibly on the signal thread while the
 * main thread still holds t->ctl: so it opens a connection of its own. */
static void drop_schema(void *arg)
{
    target *t = arg;
    char err[ERRLEN];
    faultctl_exempt_thread(true);
    PGconn *c = pqx_connect(t->conninfo, NULL, "pgrace/cleanup", err, sizeof err);
    if (!c) {
        fprintf(stderr, "pgrace: warning: could not drop schema %s: %s\n", t->schema, err);
        return;
    }
    /* Bounded: a teardown never hangs on a lock (a backend that does not
     * die leaves the schema, with the warning below). A backend that exits
     * while it is ended (a pooler's, closing with it) is no news: the
     * server's warning about it is not printed. */
    pqx_ctl_exec(c, "SET statement_timeout = '10s'; SET lock_timeout = '5s'; SET client_min_messages = error", err,
                 sizeof err);
    /* Workers interrupted mid-transaction hold locks DROP SCHEMA would wait
     * for: end them first (a role may signal its own backends). */
    char like[128];
    snprintf(like, sizeof like, "%s/%%", t->appname);
    const char *p[] = { like };
    PGresult *r = pqx_ctl_query(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                   "WHERE application_name LIKE $1 AND pid <> pg_backend_pid()",
                                1, p, err, sizeof err);
    PQclear(r);
    /* The serial oracle's schema beside it (engine/serial.h), when there is one. */
    char sql[256];
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; DROP SCHEMA IF EXISTS %s_oracle CASCADE", t->schema,
             t->schema);
    if (pqx_ctl_exec(c, sql, err, sizeof err) < 0)
        fprintf(stderr, "pgrace: warning: could not drop schema %s: %s\n", t->schema, err);
    PQfinish(c);
}

/* The pooler in front of the server the control connection reached, as it
 * reached it. */
static int start_pooler(target *t, pooler_mode mode, char *err, size_t errlen)
{
    /* The address connected to, when there is one: the pooler then skips
     * the name lookup, and reaches the host libpq chose of a list. */
    const char *host = PQhost(t->ctl), *addr = PQhostaddr(t->ctl);
    if (host && host[0] != '/' && addr && *addr)
        host = addr;
    char app[96];
    snprintf(app, sizeof app, "%s/pool", t->appname);
    pooler_server srv = { .host = host, .port = PQport(t->ctl), .dbname = PQdb(t->ctl), .user = PQuser(t->ctl),
                          .password = PQpass(t->ctl), .schema = t->schema, .appname = app };
    if (pooler_start(&t->pooler, mode, &srv, err, errlen) < 0)
        return -1;
    snprintf(t->client_conninfo, sizeof t->client_conninfo, "%s", pooler_conninfo(t->pooler));
    return 0;
}

int target_open(target *t, const target_opts *o, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->cleanup_handle = -1;
    snprintf(t->schema, sizeof t->schema, "pgrace_%d_%llu", (int)getpid(),
             (unsigned long long)(rng_fresh_seed() % 1000000));
    snprintf(t->appname, sizeof t->appname, "pgrace/%s", t->schema);
    if (o->dsn) {
        if (pqx_check_conninfo(o->dsn, err, errlen) < 0)
            return -1;
        snprintf(t->conninfo, sizeof t->conninfo, "%s", o->dsn);
    } else if (!target_env_given()) {
        if (cluster_start_with(&t->cluster, o->settings, o->nsettings, err, errlen) < 0)
            return -1;
        snprintf(t->conninfo, sizeof t->conninfo, "%s", cluster_conninfo(t->cluster));
    }
    snprintf(t->client_conninfo, sizeof t->client_conninfo, "%s", t->conninfo);
    char app[96];
    snprintf(app, sizeof app, "%s/ctl", t->appname);
    t->ctl = pqx_connect(t->conninfo, t->schema, app, err, errlen);
    if (!t->ctl)
        goto fail;
    t->server_version = PQserverVersion(t->ctl);
    /* The embedded cluster goes away whole; a user's server keeps what we
     * do not drop. Registered before the schema exists, so no signal can
     * fall between the two. */
    if (!t->cluster && (t->cleanup_handle = cleanup_push(drop_schema, t)) < 0) {
        err_set(err, errlen, "too many cleanup actions");
        goto fail;
    }
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", t->schema);
    if (pqx_ctl_exec(t->ctl, sql, err, errlen) < 0)
        goto fail;
    if (o->pooler != POOLER_NONE && start_pooler(t, o->pooler, err, errlen) < 0)
        goto fail;
    return 0;
fail:
    target_close(t);
    return -1;
}

int target_reset_schema(target *t, const char *ddl, char *err, size_t errlen)
{
    char sql[256];
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", t->schema, t->schema);
    if (pqx_ctl_exec(t->ctl, sql, err, errlen) < 0)
        return -1;
    return pqx_ctl_exec(t->ctl, ddl, err, errlen);
}

void target_close(target *t)
{
    /* First: its server connections go, and the schema's drop waits for
     * nothing of theirs. */
    pooler_stop(t->pooler);
    t->pooler = NULL;
    if (t->ctl) {
        PQfinish(t->ctl);
        t->ctl = NULL;
    }
    if (t->cleanup_handle >= 0) {
        cleanup_pop(t->cleanup_handle, true);
        t->cleanup_handle = -1;
    }
    cluster_stop(t->cluster);
    t->cluster = NULL;
}
