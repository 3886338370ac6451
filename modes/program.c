/* program.c — a user's program as a scenario (see program.h). */
#include "modes/program.h"

#include "lib/clock.h"
#include "lib/err.h"
#include "lib/proc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define TAIL 8192               /* the end of a worker's stdout (and stderr) kept */
#define KILL_WAIT_MS 800        /* after a kill, the process's exit is waited for this long */
#define ANSWERS_DDL                                                                                     \
    "CREATE TABLE pgrace_answers (worker int PRIMARY KEY, exit_code int NOT NULL, status int, body text, " \
    "faulted boolean NOT NULL)"

/* What a worker's program came to, for the answered invariant. */
typedef struct answer {
    bool answered;              /* exited with no failure and printed a status line */
    char why[240];              /* else why not */
} answer;

struct program {
    program_config cfg;
    char schema[64], appname[96], user[256], dbname[256], *password;
    proxy *proxy;
    pxw *way;
    scenario sc;
    scenario_variant variant;
    scenario_invariant *inv;
    scenario_plan plan;
    char *schema_sql;           /* the setup and the answers table */
    char *setup_sql;            /* each iteration's: the schema again, the settings, the setup, the table */
    char **env;                 /* the environment every worker inherits (ours added per worker) */
    int nenv;
    answer answers[EXEC_MAX_WORKERS];   /* by worker: written by its call, read by the checks */
};

static program *current;
static _Atomic pid_t live[EXEC_MAX_WORKERS];    /* each worker's running process (group), or 0 */
static atomic_bool stopping;                    /* the teardown ran: no worker starts again */

/* ---- the setup ---- */

static int setup(PGconn *ctl, long iteration, int nworkers, long salt, char *err, size_t errlen)
{
    (void)salt;     /* a program draws its inputs from PGRACE_ITERATION and PGRACE_SEED */
    program *pg = current;
    char it[24], n[16], seed[24];
    snprintf(it, sizeof it, "%ld", iteration);
    snprintf(n, sizeof n, "%d", nworkers);
    snprintf(seed, sizeof seed, "%" PRIu64, pg->cfg.seed);
    /* The settings first, on their own: the setup reads them. */
    const char *params[] = { it, n, seed };
    PGresult *r = pqx_ctl_query(ctl, "SELECT set_config('pgrace.iteration', $1, false), "
                                "set_config('pgrace.workers', $2, false), set_config('pgrace.seed', $3, false)",
                                3, params, err, errlen);
    if (!r)
        return -1;
    PQclear(r);
    pxw_round(pg->way, nworkers, true);
    r = PQexec(ctl, pg->setup_sql);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        err_set(err, errlen, "--setup %s: %s", pg->cfg.setup_file ? pg->cfg.setup_file : "(none)",
                msg ? msg : PQerrorMessage(ctl));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    return 0;
}

/* ---- the call ---- */

/* The environment of worker w's program for iteration: the run's, and
 * where to connect, who it is. Its strings in buf (len bytes); NULL when
 * they do not fit. */
static char **worker_env(const program *pg, const drv_call *c, char *buf, size_t len, char **env)
{
    int k = 0;
    for (int i = 0; i < pg->nenv; i++)
        if (!pg->password || strncmp(pg->env[i], "PGPASSWORD=", 11) != 0)
            env[k++] = pg->env[i];
    size_t used = 0;
    int port = proxy_group_port(pg->proxy, c->worker + 1);
    const char *host = proxy_host(pg->proxy);
#define PUT(...)                                                                      \
    do {                                                                              \
        int n_ = snprintf(buf + used, len - used, __VA_ARGS__);                       \
        if (n_ < 0 || (size_t)n_ >= len - used)                                       \
            return NULL;                                                              \
        env[k++] = buf + used;                                                        \
        used += (size_t)n_ + 1;                                                       \
    } while (0)
    PUT("PGHOST=%s", host);
    PUT("PGPORT=%d", port);
    PUT("PGUSER=%s", pg->user);
    PUT("PGDATABASE=%s", pg->dbname);
    if (pg->password)
        PUT("PGPASSWORD=%s", pg->password);
    PUT("DATABASE_URL=postgresql://%s@%s:%d/%s", pg->user, host, port, pg->dbname);
    PUT("PGAPPNAME=%s/w%d", pg->appname, c->worker + 1);
    PUT("PGRACE_WORKER=%d", c->worker + 1);
    PUT("PGRACE_WORKERS=%d", c->nworkers);
    PUT("PGRACE_ITERATION=%ld", c->iteration);
    PUT("PGRACE_SEED=%" PRIu64, pg->cfg.seed);
#undef PUT
    env[k] = NULL;
    return env;
}

/* Appends what fd has now to the tail buf (*n of TAIL bytes), keeping the
 * end. Returns 0, or -1 at its end (EOF or an error). */
static int take(int fd, char *buf, size_t *n)
{
    for (;;) {
        if (*n == TAIL) {
            memmove(buf, buf + TAIL / 2, TAIL / 2);
            *n = TAIL / 2;
        }
        ssize_t r = read(fd, buf + *n, TAIL - *n);
        if (r > 0) {
            *n += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        return r < 0 && errno == EAGAIN ? 0 : -1;
    }
}

/* The last line of buf[0..n) with anything in it, NUL-terminated in
 * place (buf has room for one more byte); "" when none. */
static char *last_line(char *buf, size_t n)
{
    buf[n] = '\0';
    char *end = buf + n;
    while (end > buf && isspace((unsigned char)end[-1]))
        *--end = '\0';
    char *start = end;
    while (start > buf && start[-1] != '\n')
        start--;
    for (char *c = start; *c; c++)
        if (*c == '\r' || *c == '\t')
            *c = ' ';
    return start;
}

/* "NNN" or "NNN text": the status, and the body in *body. -1: not one. */
static int status_line(const char *line, const char **body)
{
    if (!isdigit((unsigned char)line[0]) || !isdigit((unsigned char)line[1]) || !isdigit((unsigned char)line[2])
        || (line[3] && line[3] != ' '))
        return -1;
    *body = line[3] ? line + 4 : "";
    return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

typedef struct run_result {
    int exit_code;              /* 128+N for signal N; -1: never ran */
    bool signaled, killed;      /* a signal ended it; our kill at the deadline */
    char out[TAIL + 1], err[TAIL + 1];
    size_t nout, nerr;
    char why[200];              /* it could not start */
} run_result;

/* The poll timeout until deadline (clock_now_ns; 0: none, -1 returned). */
static int until(int64_t deadline)
{
    if (!deadline)
        return -1;
    int64_t left = deadline - clock_now_ns();
    return left <= 0 ? 0 : (int)((left + 999999) / 1000000);
}

/* Waits for pid (its pidfd pfd) while reading its output, until it exits;
 * at the deadline (the call's wake descriptor, or the time deadline when
 * not 0) its process group is killed and its exit waited for a moment
 * more. */
static void await_exit(pid_t pid, int pfd, int out, int err, int wake, int64_t deadline, run_result *rr)
{
    bool out_open = true, err_open = true;
    for (;;) {
        struct pollfd pf[4] = { { pfd, POLLIN, 0 }, { out_open ? out : -1, POLLIN, 0 },
                                { err_open ? err : -1, POLLIN, 0 }, { rr->killed ? -1 : wake, POLLIN, 0 } };
        int r = poll(pf, 4, rr->killed ? KILL_WAIT_MS : until(deadline));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            kill(-pid, SIGKILL);    /* nothing left to wait with: it goes */
        if (r == 0 && !rr->killed) {
            rr->killed = true;      /* the deadline passed */
            kill(-pid, SIGKILL);
            continue;
        }
        if (r <= 0)
            break;          /* killed, and still not gone: reported so, reaped by no one */
        if (pf[1].revents && take(out, rr->out, &rr->nout) < 0)
            out_open = false;
        if (pf[2].revents && take(err, rr->err, &rr->nerr) < 0)
            err_open = false;
        if (pf[3].revents & POLLIN) {
            rr->killed = true;
            kill(-pid, SIGKILL);
        }
        if (pf[0].revents)
            break;
    }
    /* What it wrote before it ended; whatever it left behind goes. */
    take(out, rr->out, &rr->nout);
    take(err, rr->err, &rr->nerr);
    kill(-pid, SIGKILL);
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
        rr->signaled = WIFSIGNALED(st);
        rr->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    } else {
        rr->signaled = true;
        rr->exit_code = 128 + SIGKILL;
    }
}

/* Runs worker c's program to its end (or its deadline: the driver's, or
 * deadline when not 0). */
static void run_program(const program *pg, const drv_call *c, int64_t deadline, run_result *rr)
{
    rr->exit_code = -1;
    char buf[4096], *envv[pg->nenv + 16];
    char **env = worker_env(pg, c, buf, sizeof buf, envv);
    int out[2] = { -1, -1 }, err[2] = { -1, -1 }, pfd = -1;
    if (!env) {
        snprintf(rr->why, sizeof rr->why, "its environment does not fit");
        return;
    }
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
        snprintf(rr->why, sizeof rr->why, "pipe: %s", strerror(errno));
        goto out;
    }
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);
    proc_opts po = { .stdout_fd = out[1], .stderr_fd = err[1], .envp = env, .own_group = true,
                     .death_signal = SIGKILL };
    pid_t pid;
    char why[ERRLEN];
    if (atomic_load(&stopping)) {
        snprintf(rr->why, sizeof rr->why, "pgrace is stopping");
        goto out;
    }
    if (proc_spawn(pg->cfg.argv, &po, &pid, why, sizeof why) < 0) {
        snprintf(rr->why, sizeof rr->why, "%.190s", why);
        goto out;
    }
    atomic_store(&live[c->worker], pid);
    /* A teardown between the check and the store did not see it. */
    if (atomic_load(&stopping))
        kill(-pid, SIGKILL);
    close(out[1]);
    close(err[1]);
    out[1] = err[1] = -1;
    pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pfd < 0) {
        snprintf(rr->why, sizeof rr->why, "pidfd_open: %s", strerror(errno));
        kill(-pid, SIGKILL);
        waitpid(pid, NULL, 0);
    } else {
        await_exit(pid, pfd, out[0], err[0], call_wake_fd(c), deadline, rr);
    }
    atomic_store(&live[c->worker], 0);
out:
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0)
            close(out[i]);
        if (err[i] >= 0)
            close(err[i]);
    }
    if (pfd >= 0)
        close(pfd);
}

/* The answer as a row of pgrace_answers, on the worker's own connection
 * (direct, outside the proxy). Returns 0, or -1 with why. */
static int store_answer(const drv_call *c, int exit_code, int status, const char *body, bool faulted, char *why,
                        size_t len)
{
    char w[16], e[16], s[16];
    snprintf(w, sizeof w, "%d", c->worker + 1);
    snprintf(e, sizeof e, "%d", exit_code);
    snprintf(s, sizeof s, "%d", status);
    const char *params[] = { w, e, status >= 0 ? s : NULL, status >= 0 ? body : NULL, faulted ? "t" : "f" };
    PGresult *r = PQexecParams(c->conn, "INSERT INTO pgrace_answers VALUES ($1, $2, $3, $4, $5)", 5, NULL, params,
                               NULL, NULL, 0);
    int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        err_set(why, len, "its answer could not be stored in pgrace_answers: %s",
                r ? PQresultErrorMessage(r) : PQerrorMessage(c->conn));
    PQclear(r);
    return ok ? 0 : -1;
}

/* Where a worker stood when its deadline killed it. */
static void deadline_words(const program *pg, const drv_call *c, char *buf, size_t len)
{
    char who[256];
    int missing = pxw_missing(pg->way, who, sizeof who);
    if (!pxw_arrived(pg->way, c->worker))
        snprintf(buf, len, "killed at its deadline before it sent a statement");
    else if (missing)
        snprintf(buf, len, "killed at its deadline while held at the rendezvous: worker%s %.120s never sent a "
                 "statement", missing == 1 ? "" : "s", who);
    else
        snprintf(buf, len, "killed at its deadline");
}

/* What a worker's run came to: its answer, or why it has none. */
typedef struct ending {
    bool answered;              /* exited with no failure and printed a status line */
    int status;                 /* its status line's, or -1 */
    const char *body;           /* its status line's rest (in the run's output) */
    char why[240];              /* not answered: why */
} ending;

/* Reads rr; alone: a serial oracle's rerun, whose deadline is the call
 * timeout's, not the round's. */
static void conclude(const program *pg, const drv_call *c, run_result *rr, bool alone, ending *e)
{
    const char *line = last_line(rr->out, rr->nout);
    const char *err_line = last_line(rr->err, rr->nerr);
    e->body = "";
    e->status = status_line(line, &e->body);
    e->answered = false;
    if (rr->exit_code < 0) {
        snprintf(e->why, sizeof e->why, "could not start: %s", rr->why);
    } else if (rr->killed && alone) {
        snprintf(e->why, sizeof e->why, "killed at the call timeout");
    } else if (rr->killed) {
        deadline_words(pg, c, e->why, sizeof e->why);
    } else if (rr->signaled) {
        snprintf(e->why, sizeof e->why, "killed by signal %d (%s)%s%.150s", rr->exit_code - 128,
                 strsignal(rr->exit_code - 128), *err_line ? ": " : "", err_line);
    } else if (pg->cfg.fail_on[rr->exit_code]) {
        snprintf(e->why, sizeof e->why, "exited %d%s%.170s", rr->exit_code, *err_line ? ": " : "", err_line);
    } else if (e->status < 0) {
        snprintf(e->why, sizeof e->why, *line ? "printed no status line (its last: %.150s)" : "printed nothing%s",
                 *line ? line : "");
    } else {
        e->answered = true;
        e->why[0] = '\0';
    }
}

/* Whether body starts with a SQLSTATE whose first characters are one of
 * prefixes (NULL-terminated). */
static bool sqlstate_in(const char *body, const char *const *prefixes)
{
    size_t n = strspn(body, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    if (n != 5 || (body[5] && body[5] != ' '))
        return false;
    for (int i = 0; prefixes[i]; i++)
        if (strncmp(body, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

/* The call's effect for the serial oracle (README, the serial oracle: "Under
 * `pgrace exec`"), read from how its worker ended and the gravest fault that hit
 * it. */
static call_effect effect_of(const program *pg, const run_result *rr, const ending *e, pxw_hit hit)
{
    static const char *const lost[] = { "08", "57P0", NULL };          /* the connection went */
    static const char *const transient[] = { "40001", "40P01", "55P03", NULL };    /* rolled back, retried */
    if (rr->exit_code < 0)
        return CALL_EFFECT_NONE;            /* it never ran */
    if (hit == PXW_HIT_CUT || rr->killed || rr->signaled)
        return CALL_EFFECT_UNKNOWN;         /* its connections were cut mid-call */
    if (pg->cfg.fail_on[rr->exit_code])
        return CALL_EFFECT_NONE;            /* it said it failed */
    if (e->status < 0)
        return CALL_EFFECT_UNKNOWN;         /* it told its caller nothing */
    if (e->status / 100 == 2 || e->status / 100 == 4)
        return CALL_EFFECT_TOOK;
    if (sqlstate_in(e->body, lost))
        return CALL_EFFECT_UNKNOWN;
    if (hit == PXW_HIT_ERROR || sqlstate_in(e->body, transient))
        return CALL_EFFECT_NONE;
    return CALL_EFFECT_TOOK;                /* a failure of its own making: alone, it must fail alike */
}

static void op(const drv_call *c)
{
    program *pg = current;
    answer *a = &pg->answers[c->worker];
    run_result *rr = calloc(1, sizeof *rr);
    if (!rr) {
        pxw_ended(pg->way, c->worker);
        snprintf(a->why, sizeof a->why, "out of memory");
        a->answered = false;
        call_fail(c, "out of memory");
        return;
    }
    run_program(pg, c, 0, rr);
    pxw_ended(pg->way, c->worker);
    ending e;
    conclude(pg, c, rr, false, &e);
    a->answered = e.answered;
    snprintf(a->why, sizeof a->why, "%s", e.why);
    bool faulted = call_faults(c) > 0 || rr->killed;
    char store_why[ERRLEN];
    if (rr->exit_code >= 0 && store_answer(c, rr->exit_code, e.status, e.body, faulted, store_why,
                                           sizeof store_why) < 0)
        call_fail(c, store_why);
    else
        call_answer(c, e.answered ? e.status : 0, e.answered ? e.body : e.why);
    call_set_effect(c, effect_of(pg, rr, &e, pxw_take_hit(pg->way, c->worker)));
    free(rr);
}

/* scenario_oracle.rerun: the worker's program again, alone, as it ran (its
 * environment, its iteration), bounded by the call timeout, its answer the
 * call's ending. Nothing of the round's is touched: neither the answers
 * table, nor the rendezvous, nor the answered invariant's account. */
static void rerun(const drv_call *c)
{
    program *pg = current;
    run_result *rr = calloc(1, sizeof *rr);
    if (!rr) {
        call_fail(c, "out of memory");
        return;
    }
    run_program(pg, c, clock_now_ns() + pg->cfg.call_timeout_ns, rr);
    ending e;
    conclude(pg, c, rr, true, &e);
    call_answer(c, e.answered ? e.status : 0, e.answered ? e.body : e.why);
    free(rr);
}

/* ---- the invariants ---- */

/* A check's verdict: no row. Each row is a detail, its columns named. */
static int check_rows(inv_ctx *x)
{
    const PGresult *r = x->rows[0];
    int n = PQntuples(r);
    if (n == 0)
        return 1;
    for (int i = 0; i < n && i < 20; i++) {
        char line[400];
        size_t used = 0;
        line[0] = '\0';
        for (int k = 0; k < PQnfields(r) && used < sizeof line; k++)
            used += (size_t)snprintf(line + used, sizeof line - used, "%s%s=%s", k ? ", " : "", PQfname(r, k),
                                     PQgetisnull(r, i, k) ? "NULL" : PQgetvalue(r, i, k));
        inv_detail(x, "%s", line);
    }
    if (n > 20)
        inv_detail(x, "... %d more", n - 20);
    return inv_violated(x, "%d row%s", n, n == 1 ? "" : "s");
}

static int check_answered(inv_ctx *x)
{
    const program *pg = current;
    for (int i = 0; i < x->ncalls; i++) {
        const call_record *c = &x->calls[i];
        if (!c->timed_out && c->worker < EXEC_MAX_WORKERS && !pg->answers[c->worker].answered)
            inv_detail(x, "worker %d: %s", c->worker + 1, pg->answers[c->worker].why);
    }
    int bad = inv_ndetails(x);
    return inv_verdict(x, "%d worker%s ended without an answer", bad, bad == 1 ? "" : "s");
}

/* ---- the program ---- */

/* Whether an environment entry is one exec sets for each worker. */
static bool ours(const char *e)
{
    static const char *const names[] = { "PGHOST=", "PGHOSTADDR=", "PGPORT=", "PGUSER=", "PGDATABASE=",
                                         "PGSERVICE=", "PGAPPNAME=", "DATABASE_URL=", "PGRACE_" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strncmp(e, names[i], strlen(names[i])) == 0)
            return true;
    return false;
}

program *program_new(const program_config *cfg, char *err, size_t errlen)
{
    program *pg = calloc(1, sizeof *pg);
    int nenv = 0;
    for (char **e = environ; *e; e++)
        nenv++;
    if (!pg || !(pg->env = calloc((size_t)nenv + 1, sizeof *pg->env))
        || !(pg->inv = calloc((size_t)cfg->nchecks + 1, sizeof *pg->inv)))
        goto oom;
    pg->cfg = *cfg;
    for (char **e = environ; *e; e++)
        if (!ours(*e))
            pg->env[pg->nenv++] = *e;
    if (asprintf(&pg->schema_sql, "%s\n;\n" ANSWERS_DDL, cfg->setup_sql) < 0) {
        pg->schema_sql = NULL;
        goto oom;
    }
    for (int i = 0; i < cfg->nchecks; i++) {
        char *name;
        if (asprintf(&name, "no row from check %s (%s)", cfg->checks[i].name, cfg->checks[i].file) < 0)
            goto oom;
        pg->inv[i] = (scenario_invariant){ .id = cfg->checks[i].name, .name = name, .check = check_rows,
                                           .queries = { cfg->check_sql[i] } };
    }
    pg->inv[cfg->nchecks] = (scenario_invariant){
        .id = "answered", .check = check_answered,
        .name = "every worker ends with an answer: a status line last on stdout, an exit status not declared a "
                "failure",
    };
    pg->variant = (scenario_variant){ .name = "", .summary = "the program", .op = op };
    pg->plan = (scenario_plan){ .name = "sweep", .sweep = true, .nworkers = 1,
                                .summary = "one fault per statement position of worker 1 and action" };
    pg->sc = (scenario){ .name = cfg->label, .summary = "a program run by pgrace exec", .schema_sql = pg->schema_sql,
                         .setup = setup, .own_connections = true, .variants = &pg->variant, .nvariants = 1,
                         .oracle = { .rerun = rerun, .hidden = "pgrace_answers" },
                         .invariants = pg->inv,
                         .ninvariants = cfg->nchecks + 1, .plans = &pg->plan, .nplans = 1 };
    current = pg;
    atomic_store(&stopping, false);
    return pg;
oom:
    program_free(pg);
    err_set(err, errlen, "out of memory");
    return NULL;
}

int program_attach(program *pg, const char *schema, const char *appname, proxy *p, pxw *way, const char *user,
                   const char *dbname, const char *password, char *err, size_t errlen)
{
    snprintf(pg->schema, sizeof pg->schema, "%s", schema);
    snprintf(pg->appname, sizeof pg->appname, "%s", appname);
    snprintf(pg->user, sizeof pg->user, "%s", user);
    snprintf(pg->dbname, sizeof pg->dbname, "%s", dbname);
    pg->proxy = p;
    pg->way = way;
    free(pg->password);
    free(pg->setup_sql);
    pg->password = password ? strdup(password) : NULL;
    /* One round trip each iteration: a fresh schema of the same name (the
     * proxy gives every connection its search_path), the setup (bounded:
     * a lock left by a killed worker's backend is waited for only so
     * long), the table the answers go to. */
    if ((password && !pg->password)
        || asprintf(&pg->setup_sql, "SELECT set_config('lock_timeout', '10s', true); DROP SCHEMA IF EXISTS %s "
                    "CASCADE; CREATE SCHEMA %s;\n%s\n;\n" ANSWERS_DDL, schema, schema, pg->cfg.setup_sql) < 0) {
        pg->setup_sql = NULL;
        err_set(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

const scenario *program_scenario(const program *pg) { return &pg->sc; }
const char *program_schema_sql(const program *pg) { return pg->schema_sql; }

void program_free(program *pg)
{
    if (!pg)
        return;
    if (current == pg)
        current = NULL;
    for (int i = 0; pg->inv && i < pg->cfg.nchecks; i++)
        free((char *)pg->inv[i].name);
    free(pg->inv);
    free(pg->env);
    free(pg->schema_sql);
    free(pg->setup_sql);
    free(pg->password);
    free(pg);
}

int program_validate(const program *pg, PGconn *ctl, long iteration, int nworkers, char *err, size_t errlen)
{
    if (setup(ctl, iteration, nworkers, 0, err, errlen) < 0)
        return -1;
    for (int i = 0; i < pg->cfg.nchecks; i++) {
        const exec_check *c = &pg->cfg.checks[i];
        PGresult *r = PQprepare(ctl, "pgrace_exec_check", pg->cfg.check_sql[i], 0, NULL);
        if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
            const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
            err_set(err, errlen, "--check %s=%s: %s", c->name, c->file, msg ? msg : PQerrorMessage(ctl));
            PQclear(r);
            return -1;
        }
        PQclear(r);
        r = PQdescribePrepared(ctl, "pgrace_exec_check");
        int fields = r && PQresultStatus(r) == PGRES_COMMAND_OK ? PQnfields(r) : -1;
        PQclear(r);
        PQclear(PQexec(ctl, "DEALLOCATE pgrace_exec_check"));
        if (fields <= 0) {
            err_set(err, errlen, "--check %s=%s: not a query: it returns no rows, and a check's rows are its "
                    "violations (a SELECT, or a statement with RETURNING)", c->name, c->file);
            return -1;
        }
    }
    return 0;
}

void program_kill_all(void)
{
    atomic_store(&stopping, true);
    for (int i = 0; i < EXEC_MAX_WORKERS; i++) {
        pid_t pid = atomic_load(&live[i]);
        if (pid > 0)
            kill(-pid, SIGKILL);
    }
}
