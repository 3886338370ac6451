/*
 * exec.c — `pgrace exec -- CMD [ARG...]`: a user's program, in any
 * language, run N-way through the wire proxy, faulted, explored and judged.
 *
 * The program becomes a scenario (modes/program.h) and its item an origin
 * of its own (engine/plan.h: the record says "exec", its commands are
 * exec's), and the wire proxy becomes the engine's way in
 * (proxy/way.h): then `run`, the fault sweep, the explorer and the
 * schedule's replay drive it unchanged (run_session, explore_session,
 * explore_replay_session), with one record and its reports. What is exec's
 * own: reading the command and the SQL files before anything starts, the
 * checks found to be queries before any worker runs, the proxy with an
 * address per worker in front of the run's server (or of its pooler, with
 * --pooler: worker -> proxy -> pgbouncer -> server), and a teardown that
 * kills every worker's process group first.
 */
#include "modes/modes.h"

#include "modes/program.h"
#include "engine/serial.h"
#include "engine/session.h"
#include "lib/cleanup.h"
#include "lib/err.h"
#include "lib/proc.h"
#include "lib/shell.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* All of path's text, NUL-terminated (free it); NULL with errno. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t len;
    char *text = spec_read_all(f, &len);
    int e = errno;
    fclose(f);
    errno = e;
    return text;
}

/* The SQL files: the setup's text and each check's. Returns 0, or -1
 * printed. */
static int read_sql(const exec_opts *o, char **setup, char **checks)
{
    if (o->setup && !(*setup = read_file(o->setup))) {
        fprintf(stderr, "pgrace: cannot read --setup %s: %s\n", o->setup, strerror(errno));
        return -1;
    }
    for (int i = 0; i < o->nchecks; i++) {
        const exec_check *c = &o->checks[i];
        if (!(checks[i] = read_file(c->file))) {
            fprintf(stderr, "pgrace: cannot read --check %s=%s: %s\n", c->name, c->file, strerror(errno));
            return -1;
        }
        if (!checks[i][strspn(checks[i], " \t\r\n")]) {
            fprintf(stderr, "pgrace: --check %s=%s: the file is empty: a check is one query, whose rows are its "
                    "violations\n", c->name, c->file);
            return -1;
        }
    }
    return 0;
}

/* What the record and the repeat commands say of the program. */
typedef struct described {
    char label[128];
    char command[8192], tail[4096];
    item_origin origin;
} described;

static void add(char *buf, size_t len, const char *word, const char *value)
{
    char w[2048];
    shell_word(value, w, sizeof w);
    size_t used = strlen(buf);
    snprintf(buf + used, len - used, "%s%s", word, w);
}

static int describe(const exec_opts *o, described *d)
{
    const char *base = strrchr(o->cmd[0], '/');
    size_t used = (size_t)snprintf(d->label, sizeof d->label, "%s", base ? base + 1 : o->cmd[0]);
    for (int i = 1; o->cmd[i] && used < sizeof d->label; i++)
        used += (size_t)snprintf(d->label + used, sizeof d->label - used, " %s", o->cmd[i]);
    d->command[0] = d->tail[0] = '\0';
    add(d->command, sizeof d->command, "", o->run.argv0);
    add(d->command, sizeof d->command, " ", "exec");
    if (o->setup)
        add(d->command, sizeof d->command, " --setup ", o->setup);
    json_t *checks = json_array(), *command = json_array();
    for (int i = 0; i < o->nchecks; i++) {
        char c[4200];
        snprintf(c, sizeof c, "%s=%s", o->checks[i].name, o->checks[i].file);
        add(d->command, sizeof d->command, " --check ", c);
        json_array_append_new(checks, json_pack("{s:s,s:s}", "name", o->checks[i].name, "file", o->checks[i].file));
    }
    if (o->fail_on_text)
        add(d->command, sizeof d->command, " --fail-on ", o->fail_on_text);
    add(d->tail, sizeof d->tail, " ", "--");
    for (int i = 0; o->cmd[i]; i++) {
        add(d->tail, sizeof d->tail, " ", o->cmd[i]);
        json_array_append_new(command, json_string(o->cmd[i]));
    }
    d->origin = (item_origin){
        .kind = "exec", .command = d->command, .tail = d->tail,
        .explore_iteration = o->run.first_iteration ? o->run.first_iteration : 1,
        .settings = json_pack("{s:o,s:s?,s:o,s:s?}", "command", command, "setup", o->setup, "checks", checks,
                              "fail_on", o->fail_on_text),
    };
    return d->origin.settings ? 0 : -1;
}

/* The run's proxy and its way, torn down before the server (a signal's
 * teardown too): every worker's process group first. */
typedef struct front {
    proxy *p;
    pxw *way;
} front;

static void teardown(void *arg)
{
    front *f = arg;
    program_kill_all();
    pxw_stop(f->way);
    /* After a signal the run's threads still use the proxy until the
     * process ends, which closes its sockets (it has no file): it stays. */
    if (cleanup_signal_seen())
        return;
    faultctl_use(NULL, NULL);
    proxy_stop(f->p);
    f->p = NULL;
}

/* The password the server's connection string carries, or NULL. */
static char *password_of(const char *conninfo)
{
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
    char *pw = NULL;
    for (PQconninfoOption *k = opts; k && k->keyword; k++)
        if (strcmp(k->keyword, "password") == 0 && k->val && *k->val)
            pw = strdup(k->val);
    PQconninfoFree(opts);
    return pw;
}

/* Starts what the workers go through, and checks the setup and the checks
 * on the server before any worker runs. Returns 0, or -1 with err. */
static int open_front(const exec_opts *o, session *s, program *pg, front *f, char **password, char *err,
                      size_t errlen)
{
    /* Through a pooler (--pooler) the proxy's upstream is pgbouncer, whose
     * server connections have the schema already (its connect_query) and
     * which refuses a search_path in a StartupMessage; every worker's
     * connection is named for lib/blocking to find its backend by. */
    proxy_config pc = { .listen = "127.0.0.1:0", .upstream = s->t.client_conninfo, .groups = o->run.nworkers,
                        .search_path = s->t.pooler ? NULL : s->t.schema, .appname = s->t.appname };
    if (proxy_start(&f->p, &pc, err, errlen) < 0)
        return -1;
    int64_t timeout = o->run.call_timeout_ns ? o->run.call_timeout_ns : DRV_DEFAULT_CALL_TIMEOUT_NS;
    /* Held workers go after half the deadline: a worker that never
     * arrives is then the only one its deadline reports. */
    if (!(f->way = pxw_new(f->p, timeout / 2))) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    *password = password_of(s->t.conninfo);
    faultctl_use(pxw_faultctl(), f->way);
    if (program_attach(pg, s->t.schema, s->t.appname, f->p, f->way, proxy_user(f->p), proxy_dbname(f->p),
                       *password, err, errlen) < 0)
        return -1;
    return program_validate(pg, s->t.ctl, o->run.first_iteration ? o->run.first_iteration : 1, o->run.nworkers, err,
                            errlen);
}

int exec_main(const exec_opts *o)
{
    char err[ERRLEN], path[PATH_MAX];
    if (proc_which(o->cmd[0], path, sizeof path) < 0) {
        fprintf(stderr, "pgrace: exec: command not found: %s\n", o->cmd[0]);
        return EXIT_USAGE;
    }
    char *setup = NULL, *check_sql[EXEC_MAX_CHECKS] = { 0 };
    described *d = calloc(1, sizeof *d);
    program *pg = NULL;
    int status = EXIT_USAGE;
    if (!d || read_sql(o, &setup, check_sql) < 0)
        goto out;
    if (describe(o, d) < 0) {
        fprintf(stderr, "pgrace: out of memory\n");
        goto out;
    }
    char **argv = (char **)o->cmd, *given = argv[0];
    argv[0] = path;
    program_config cfg = { .argv = argv, .label = d->label, .setup_file = o->setup, .setup_sql = setup ? setup : "",
                           .checks = o->checks,
                           .check_sql = (const char *const *)check_sql, .nchecks = o->nchecks,
                           .fail_on = o->fail_on, .seed = o->run.seed,
                           .call_timeout_ns = o->run.call_timeout_ns ? o->run.call_timeout_ns
                                                                     : DRV_DEFAULT_CALL_TIMEOUT_NS };
    if (!(pg = program_new(&cfg, err, sizeof err))) {
        argv[0] = given;
        fprintf(stderr, "pgrace: %s\n", err);
        goto out;
    }
    const scenario *sc = program_scenario(pg);
    /* With the oracle, its invariant follows the program's: the checks
     * (none with serial-only: the command line refuses them) and exec's
     * own, answered, which serial-only keeps as the deadline is kept. */
    scenario with_oracle;
    scenario_invariant invs[EXEC_MAX_CHECKS + 2];
    if (o->run.oracle) {
        serial_scenario(sc, ORACLE_SERIAL, &with_oracle, invs);
        sc = &with_oracle;
    }
    plan_item item = { .scenario = sc, .variant = &sc->variants[0], .origin = &d->origin };
    run_opts ro = o->run;
    ro.items = &item;
    ro.nitems = 1;
    session s;
    if (session_open(&ro, SESSION_SHIM_NEVER, ro.mode ? ro.mode : "exec", &s) < 0) {
        argv[0] = given;
        goto out;
    }
    front f = { 0 };
    char *password = NULL;
    int h = cleanup_push(teardown, &f);
    if (h < 0 || open_front(o, &s, pg, &f, &password, err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: %s\n", h < 0 ? "too many teardown actions" : err);
        report_bail(s.rep, "%s", h < 0 ? "too many teardown actions" : err);
        status = EXIT_USAGE;
    } else if (ro.schedule) {
        status = explore_replay_session(&ro, &s);
    } else if (o->explore) {
        explore_opts eo = { .run = ro, .bound = o->bound, .faults = o->faults, .max_schedules = o->max_schedules,
                            .no_yield = o->no_yield, .depth = 2 };
        status = explore_session(&eo, &s);
    } else {
        status = run_session(&ro, &s);
    }
    if (h >= 0)
        cleanup_pop(h, true);
    else
        teardown(&f);
    pxw_free(f.way);
    free(password);
    argv[0] = given;
    status = session_close(&ro, &s, status);
out:
    program_free(pg);
    if (d)
        json_decref(d->origin.settings);
    free(d);
    free(setup);
    for (int i = 0; i < EXEC_MAX_CHECKS; i++)
        free(check_sql[i]);
    return status;
}
