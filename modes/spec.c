/*
 * spec.c — `pgrace spec FILE.spec... [options]`: isolation spec files as
 * test points, one per permutation, with pgrace's additions.
 *
 * Each permutation runs as isolationtester runs it (isolation/run.c); its
 * point is ok when it ran to the end and every invariant of the spec
 * returned no rows. Its diagnostics hold the permutation and what it
 * printed (isolationtester's output for it), the faults carried out, and
 * the rows of each violated invariant. The server is chosen as `pgrace
 * run` chooses it (engine/target.c): --dsn, else the PG* environment, else
 * an embedded cluster, which gets the settings the specs name; on a user's
 * server the settings are checked and everything lives in the run's own
 * schema, emptied before each file and dropped at the end. The record is
 * the one every mode fills (reports/report.h): an item per file, a point
 * per permutation, TAP as it goes; --junit, --json and --html are written
 * from it at the end, as far as the run went; not after a signal.
 *
 * Exit status: 0 every point ok, 1 some point not ok, 2 usage, setup or
 * environment error (one line on stderr; a TAP "Bail out!" once the stream
 * has begun).
 */
#include "modes/modes.h"

#include "reports/report.h"
#include "isolation/oracle.h"
#include "isolation/permute.h"
#include "isolation/pooling.h"
#include "isolation/run.h"
#include "isolation/spec.h"

#include "engine/faultctl.h"
#include "engine/target.h"

#include "lib/cleanup.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/pq.h"
#include "lib/rng.h"
#include "lib/shell.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_INTERLEAVINGS 10000     /* a spec without permutations runs them all: up to this many */
#define DEFAULT_TIMEOUT_S 300       /* isolationtester's step timeout */
#define MAX_TIMEOUT_NS (24 * 3600LL * 1000000000)

typedef struct spec_file {
    const char *path;
    spec *s;
    spec_perm_set set;          /* what runs */
    long npoints;
} spec_file;

/* The run: what every permutation callback needs. */
typedef struct spec_run {
    const spec_opts *o;
    target t;
    spec_file *f;               /* the file running */
    int file;
    spec_runner *r;
    report *rep;                /* the record: an item per file */
    rep_item *ri;               /* the file's */
    bool failed;
    FILE *sink;                 /* where a runner prints between permutations: nowhere */
    spec_observe obs;           /* what each permutation records (the serial oracle's needs) */
    spec_oracle *oracle;        /* --oracle: the file's, or NULL */
} spec_run;


/* Reads, parses and checks one file (the extended dialect), and lists what
 * runs of it. */
static int load(spec_file *f, const char *path, const spec_opts *o)
{
    char err[ERRLEN];
    FILE *in = fopen(path, "r");
    if (!in) {
        fprintf(stderr, "pgrace: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t len;
    char *text = spec_read_all(in, &len);
    int saved = errno;
    fclose(in);
    if (!text) {
        fprintf(stderr, "pgrace: cannot read %s: %s\n", path, strerror(saved));
        return -1;
    }
    f->path = path;
    if (o->permutation) {
        /* The one permutation, parsed and checked as the spec's own. */
        char *all = NULL;
        if (asprintf(&all, "%s\npermutation %s\n", text, o->permutation) < 0)
            all = NULL;
        free(text);
        if (!(text = all)) {
            fprintf(stderr, "pgrace: out of memory\n");
            return -1;
        }
        len = strlen(text);
    }
    int rc = spec_parse(text, len, SPEC_EXTENDED, &f->s, err, sizeof err);
    free(text);
    if (rc < 0 || spec_check(f->s, err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: %s: %s\n", path, err);
        return -1;
    }
    if (o->permutation)
        spec_keep_last_permutation(f->s);
    if (!f->s->nperms && spec_count_all(f->s, MAX_INTERLEAVINGS + 1) > MAX_INTERLEAVINGS && !o->explore) {
        fprintf(stderr, "pgrace: %s: more than %d interleavings of its steps; list the permutations to run\n", path,
                MAX_INTERLEAVINGS);
        return -1;
    }
    if (spec_perm_set_build(f->s, o->explore, o->bound, o->faults, MAX_INTERLEAVINGS, &f->set, err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: %s: %s\n", path, err);
        return -1;
    }
    f->npoints = f->set.n;
    return 0;
}

static bool is_number(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return *s && !*end && !errno;
}

/* The settings every file names, merged: a number asked for twice keeps the
 * larger (a setting is a minimum), a text must agree. Returns the number
 * of "name=value" strings in *out, or -1. */
static int merge_settings(spec_file *files, int nfiles, char ***out)
{
    int n = 0, cap = 0;
    char **all = NULL;
    const spec_setting **from = NULL;   /* which file's setting each entry is */
    const char **owner = NULL;
    for (int i = 0; i < nfiles; i++)
        cap += files[i].s->nsettings;
    all = calloc((size_t)cap + 1, sizeof *all);
    from = calloc((size_t)cap + 1, sizeof *from);
    owner = calloc((size_t)cap + 1, sizeof *owner);
    if (!all || !from || !owner)
        goto oom;
    for (int i = 0; i < nfiles; i++)
        for (int k = 0; k < files[i].s->nsettings; k++) {
            const spec_setting *st = &files[i].s->settings[k];
            int j = 0;
            while (j < n && strcmp(from[j]->name, st->name) != 0)
                j++;
            double a, b;
            if (j < n) {
                if (strcasecmp(from[j]->value, st->value) == 0)
                    continue;
                if (!is_number(from[j]->value, &a) || !is_number(st->value, &b)) {
                    fprintf(stderr, "pgrace: %s: setting %s \"%s\" conflicts with %s's \"%s\"\n", files[i].path,
                            st->name, st->value, owner[j], from[j]->value);
                    goto fail;
                }
                if (b <= a)
                    continue;
                free(all[j]);
            } else {
                n++;
            }
            from[j] = st;
            owner[j] = files[i].path;
            size_t need = strlen(st->name) + strlen(st->value) + 2;
            if (!(all[j] = malloc(need)))
                goto oom;
            snprintf(all[j], need, "%s=%s", st->name, st->value);
        }
    free(from);
    free(owner);
    *out = all;
    return n;
oom:
    fprintf(stderr, "pgrace: out of memory\n");
fail:
    for (int j = 0; all && j < n; j++)
        free(all[j]);
    free(all);
    free(from);
    free(owner);
    return -1;
}

/* Each setting a file names, against the server: a number is a minimum,
 * anything else must be equal (case aside). Returns 0, or -1 after one
 * line naming the first that is missing. */
static int check_settings(spec_run *run)
{
    char err[ERRLEN];
    for (int i = 0; i < run->o->nfiles; i++) {
        const spec_file *f = &run->f[i];
        for (int k = 0; k < f->s->nsettings; k++) {
            const spec_setting *st = &f->s->settings[k];
            const char *p[] = { st->name };
            PGresult *res = pqx_ctl_query(run->t.ctl, "SELECT current_setting($1, true)", 1, p, err, sizeof err);
            if (!res) {
                fprintf(stderr, "pgrace: %s: checking setting %s: %s\n", f->path, st->name, err);
                return -1;
            }
            bool missing = PQgetisnull(res, 0, 0);
            const char *have = missing ? "" : PQgetvalue(res, 0, 0);
            double a, b;
            bool ok = !missing && (is_number(have, &a) && is_number(st->value, &b) ? a >= b
                                                                                   : strcasecmp(have, st->value) == 0);
            if (!ok) {
                if (missing)
                    fprintf(stderr, "pgrace: %s: the server has no setting %s (the spec needs %s \"%s\")\n", f->path,
                            st->name, st->name, st->value);
                else
                    fprintf(stderr, "pgrace: %s: the server's %s is \"%s\"; the spec needs \"%s\" (setting %s)\n",
                            f->path, st->name, have, st->value, st->name);
                PQclear(res);
                return -1;
            }
            PQclear(res);
        }
    }
    return 0;
}

/* Makes s valid UTF-8 in place (a bad byte becomes '?'): JSON and XML
 * need it, and a step may print anything. */
static void utf8_clean(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2 : (*p & 0xF8) == 0xF0 ? 3 : -1;
        bool ok = n >= 0;
        for (int i = 1; ok && i <= n; i++)
            ok = (p[i] & 0xC0) == 0x80;
        if (!ok) {
            *p++ = '?';
            continue;
        }
        p += n + 1;
    }
}

/* What a permutation printed, one string per line (the blank line that
 * opens every permutation left out): a list reads better in YAML than one
 * long string with escaped newlines. */
static json_t *output_lines(const char *text)
{
    json_t *a = json_array();
    const char *p = text;
    if (*p == '\n')
        p++;
    while (a && *p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        json_array_append_new(a, json_stringn(p, n));
        p += n + (nl ? 1 : 0);
    }
    return a;
}

/* The permutation as a spec writes it: "s1a s2a(s1c, *) s1c[drop]". */
static char *perm_text(const spec_pstep *steps, int nsteps)
{
    char *t = NULL, f[32];
    size_t len = 0;
    FILE *m = open_memstream(&t, &len);
    if (!m)
        return NULL;
    for (int i = 0; i < nsteps; i++) {
        fprintf(m, "%s%s", i ? " " : "", steps[i].name);
        for (int k = 0; k < steps[i].nmarkers; k++) {
            const spec_marker *mk = &steps[i].markers[k];
            fputs(k ? ", " : "(", m);
            if (mk->kind == SPEC_MARK_ONCE)
                fputs("*", m);
            else if (mk->kind == SPEC_MARK_STEP)
                fputs(mk->step_name, m);
            else
                fprintf(m, "%s notices %d", mk->step_name, mk->notices);
        }
        if (steps[i].nmarkers)
            fputs(")", m);
        spec_fault_text(&steps[i].fault, f, sizeof f);
        fputs(f, m);
    }
    return fclose(m) == 0 ? t : (free(t), NULL);
}

/* Runs one permutation and reports its point. Returns 0, or -1 when the run
 * must stop (out of memory, a connection that cannot be made again). */
static int run_point(void *arg, const spec_pstep *steps, int nsteps)
{
    spec_run *run = arg;
    char err[ERRLEN] = "";
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    char *name = perm_text(steps, nsteps);
    if (!mem || !name) {
        if (mem)
            fclose(mem);
        free(buf);
        free(name);
        report_bail(run->rep, "out of memory");
        return -1;
    }
    spec_runner_set_output(run->r, mem, mem);
    spec_perm_result res;
    int64_t t0 = clock_now_ns();
    int rc = spec_run_permutation(run->r, steps, nsteps, &res, err, sizeof err);
    double seconds = (double)(clock_now_ns() - t0) / 1e9;
    bool infeasible = rc > 0;
    if (infeasible)
        rc = -1;
    /* A permutation that could not finish left its sessions in an unknown
     * state: new connections (the server rolls the old ones back), and the
     * spec's teardown, whose words belong to this permutation's output. */
    char reset_err[ERRLEN] = "";
    bool lost = rc < 0 && !cleanup_signal_seen() && spec_runner_reset(run->r, reset_err, sizeof reset_err) < 0;
    spec_runner_set_output(run->r, run->sink, run->sink);
    fclose(mem);
    utf8_clean(buf);
    utf8_clean(err);

    /* The serial oracle: whether some serial order of the permutation's
     * transactions gives what it gave. */
    oracle_verdict ov = { .held = 1 };
    char oerr[ERRLEN] = "";
    if (run->oracle && rc == 0 && !lost &&
        spec_oracle_judge(run->oracle, steps, nsteps, &res, &run->obs, &ov, oerr, sizeof oerr) < 0) {
        lost = true;
        snprintf(reset_err, sizeof reset_err, "the serial oracle: %s", oerr);
    }

    bool ok = rc == 0 && !res.violations && ov.held != 0;
    json_t *d = json_object();
    json_object_set_new(d, "spec", json_string(run->f->path));
    json_object_set_new(d, "permutation", json_string(name));
    if (rc < 0)
        json_object_set_new(d, "error", json_string(err));
    if (res.faults)
        json_object_set_new(d, "faults", json_integer(res.faults));
    if (res.violations)
        json_object_set(d, "violations", res.violations);
    if (ov.found) {
        json_object_set_new(ov.found, "invariant", json_string(ORACLE_INVARIANT));
        json_object_set_new(ov.found, "invariant_id", json_string(ORACLE_INVARIANT_ID));
        json_object_set(d, "serial", ov.found);
    } else if (run->oracle && rc == 0 && ov.held < 0) {
        json_object_set_new(d, "serial", json_string("not judged: " ORACLE_NO_ORDER));
    }
    json_object_set_new(d, "output", output_lines(buf));

    char why[ERRLEN] = "";
    if (rc < 0) {
        snprintf(why, sizeof why, ": %s", err);
    } else if (res.violations || ov.found) {
        size_t i;
        json_t *v;
        size_t used = 0;
        if (ov.found)
            used += (size_t)snprintf(why + used, sizeof why - used, ": invariant \"%s\" violated", ORACLE_INVARIANT_ID);
        json_array_foreach(res.violations, i, v) {
            const char *inv = json_string_value(json_object_get(v, "invariant"));
            json_t *count = json_object_get(v, "count");
            used += (size_t)snprintf(why + used, sizeof why - used, "%s invariant \"%s\" %s", i || ov.found ? ";" : ":", inv,
                                     count ? "violated" : "failed");
            if (used >= sizeof why)
                break;
            if (count)
                used += (size_t)snprintf(why + used, sizeof why - used, " (%" JSON_INTEGER_FORMAT " row%s)",
                                         json_integer_value(count), json_integer_value(count) == 1 ? "" : "s");
            if (used >= sizeof why)
                break;
        }
    }
    char reason[ERRLEN + 16] = "";
    rep_point_in pt = { .name = name, .verdict = ok ? REP_OK : rc < 0 ? REP_ERROR : REP_VIOLATED, .runs = 1,
                        .unit = "runs", .failures = !ok, .first_iteration = 1, .seconds = seconds, .diagnostics = d };
    if (infeasible) {
        /* An interleaving the server cannot follow: a step waits for a
         * lock only a later step would release. Skipped, not failed. */
        ok = true;
        snprintf(reason, sizeof reason, "infeasible: %s", err);
        pt.verdict = REP_SKIPPED;
        pt.failures = 0;
        pt.reason = reason;
    } else if (!ok) {
        pt.reason = rc < 0 ? err : why + 2;
        /* What `pgrace replay` reruns: the first permutation not ok. */
        json_t *replay = json_pack("{s:s,s:s}", "spec", run->f->path, "permutation", name);
        report_item_replay(run->rep, run->ri, replay, false);
        json_decref(replay);
    }
    report_point(run->rep, run->ri, &pt);
    if (!ok)
        run->failed = true;
    json_decref(d);
    json_decref(ov.found);
    spec_perm_result_free(&res);
    free(name);
    free(buf);
    if (lost) {
        report_bail(run->rep, "%s: %s", run->f->path, reset_err);
        fprintf(stderr, "pgrace: %s: %s\n", run->f->path, reset_err);
        return -1;
    }
    return 0;
}

/* A file that cannot run through a transaction pooler: each of its points
 * skipped, saying why, rather than a verdict on what pgbouncer did to its
 * sessions' state. Returns 0, or -1 when out of memory (reported). */
static int skip_file(spec_run *run, const char *why)
{
    char reason[ERRLEN + 96];
    snprintf(reason, sizeof reason, "under transaction pooling %s; --pooler pgbouncer:session runs it", why);
    for (int i = 0; i < run->f->set.n; i++) {
        char *name = perm_text(run->f->set.perms[i].steps, run->f->set.perms[i].nsteps);
        json_t *d = json_pack("{s:s, s:s*, s:s}", "spec", run->f->path, "permutation", name, "skipped", reason);
        if (!name || !d) {
            free(name);
            json_decref(d);
            report_bail(run->rep, "out of memory");
            return -1;
        }
        rep_point_in pt = { .name = name, .verdict = REP_SKIPPED, .runs = 1, .unit = "runs", .first_iteration = 1,
                            .diagnostics = d, .reason = reason };
        report_point(run->rep, run->ri, &pt);
        free(name);
        json_decref(d);
    }
    return 0;
}

/* The file's item in the record: what it runs with. */
static rep_item *begin_item(spec_run *run)
{
    const spec_opts *o = run->o;
    const char *base = strrchr(run->f->path, '/');
    char classname[512];
    snprintf(classname, sizeof classname, "pgrace.spec.%s", base ? base + 1 : run->f->path);
    json_t *settings = json_pack("{s:s,s:b,s:o,s:b,s:s?,s:I,s:i,s:s?,s:o}", "spec", run->f->path, "explore",
                                 o->explore, "preemptions", o->bound >= 0 ? json_integer(o->bound) : json_null(),
                                 "faults", o->faults, "fault", o->fault, "call_timeout_ns", (json_int_t)o->timeout_ns,
                                 "permutations", run->f->set.n, "pooler",
                                 o->pooler != POOLER_NONE ? pooler_name(o->pooler) : NULL, "oracle",
                                 oracle_settings_json(o->oracle, &o->oracle_opts));
    rep_item_desc d = { .kind = "spec", .name = run->f->path, .settings = settings, .group = "pgrace.spec",
                        .classname = classname };
    rep_item *it = report_item_begin(run->rep, &d);
    json_decref(settings);
    return it;
}

/* Runs every permutation of one file. Returns 0, or -1 when the run must
 * stop (reported). */
static int run_file(spec_run *run)
{
    char err[ERRLEN];
    spec_file *f = run->f;
    run->ri = begin_item(run);
    if (target_reset_schema(&run->t, "SELECT 1", err, sizeof err) < 0) {
        report_item_end(run->rep, run->ri, NULL, err);
        report_bail(run->rep, "%s: %s", f->path, err);
        fprintf(stderr, "pgrace: %s: %s\n", f->path, err);
        return -1;
    }
    if (f->s->nperms) {
        const spec_step **unused;
        int n = spec_unused_steps(f->s, &unused);
        for (int i = 0; i < n; i++)
            report_note(run->rep, "%s: unused step name: %s", f->path, unused[i]->name);
        if (n >= 0)
            free((void *)unused);
    }
    char why[ERRLEN];
    bool skip = run->o->pooler == POOLER_TRANSACTION && spec_needs_session(f->s, why, sizeof why);
    spec_runner_opts ro = {
        .conninfo = run->t.client_conninfo, .ctl_conninfo = run->t.pooler ? run->t.conninfo : NULL,
        .schema = run->t.schema, .appname = run->t.appname,
        .out = stdout, .err = stderr, .step_timeout_ns = run->o->timeout_ns, .reconnect = true,
        /* A permutation the server cannot follow is a skip, and a step
         * canceled at --call-timeout an error, at once: never a verdict on
         * an interleaving that did not happen. */
        .infeasible_fails = true, .cancel_fails = true,
    };
    if (!skip && !(run->r = spec_runner_open(f->s, &ro, err, sizeof err))) {
        err_one_line(err);
        report_item_end(run->rep, run->ri, NULL, err);
        report_bail(run->rep, "%s: %s", f->path, err);
        fprintf(stderr, "pgrace: %s: %s\n", f->path, err);
        return -1;
    }
    if (!skip && run->o->oracle) {
        run->obs = (spec_observe){ .state = &run->o->oracle_opts, .steps = true,
                                   .no_invariants = run->o->oracle == ORACLE_SERIAL_ONLY };
        spec_runner_set_observe(run->r, &run->obs);
        if (!(run->oracle = spec_oracle_new(f->s, run->r, &run->o->oracle_opts, run->sink))) {
            spec_runner_close(run->r);
            run->r = NULL;
            report_item_end(run->rep, run->ri, NULL, "out of memory");
            report_bail(run->rep, "%s: out of memory", f->path);
            fprintf(stderr, "pgrace: out of memory\n");
            return -1;
        }
        report_note(run->rep, "%s: --oracle %s: each permutation also judged by the serial oracle (transactions)",
                    f->path, oracle_mode_name(run->o->oracle));
    }
    if (run->o->explore)
        report_note(run->rep, "%s: --explore: %d interleavings of its sessions' steps", f->path, f->set.base);
    if (run->o->explore && run->o->bound >= 0)
        report_note(run->rep, "%s: at most %d preemption%s: %ld interleavings left out", f->path, run->o->bound,
                    run->o->bound == 1 ? "" : "s", f->set.pruned);
    if (run->o->faults)
        report_note(run->rep, "%s: --faults: %d permutations with one fault each (error=40001, drop, ambiguous at each step)",
                    f->path, f->set.n - f->set.base);
    int rc = skip ? skip_file(run, why) : 0;
    int times = run->o->times > 1 ? run->o->times : 1;
    for (int i = 0; !skip && i < f->set.n * times && rc == 0 && !cleanup_signal_seen(); i++)
        rc = run_point(run, f->set.perms[i % f->set.n].steps, f->set.perms[i % f->set.n].nsteps);
    spec_oracle_free(run->oracle);
    run->oracle = NULL;
    spec_runner_close(run->r);
    run->r = NULL;
    char repeat[4096];
    shell_command_line(run->o->argv, repeat, sizeof repeat);
    report_item_end(run->rep, run->ri, repeat, rc < 0 ? "the run stopped (see the bail out)" : NULL);
    return rc;
}

int spec_main(const spec_opts *o)
{
    spec_run run = { .o = o };
    int status = EXIT_USAGE, nsettings = 0;
    char **settings = NULL, err[ERRLEN];
    spec_file *files = calloc((size_t)(o->nfiles > 0 ? o->nfiles : 1), sizeof *files);
    if (!files) {
        fprintf(stderr, "pgrace: out of memory\n");
        return EXIT_USAGE;
    }
    run.f = files;
    if (!(run.sink = fopen("/dev/null", "w"))) {
        fprintf(stderr, "pgrace: cannot open /dev/null: %s\n", strerror(errno));
        free(files);
        return EXIT_USAGE;
    }
    long points = 0;
    for (int i = 0; i < o->nfiles; i++) {
        if (load(&files[i], o->files[i], o) < 0)
            goto done;
        points += files[i].npoints * (o->times > 1 ? o->times : 1);
    }
    if ((nsettings = merge_settings(files, o->nfiles, &settings)) < 0)
        goto done;
    /* --fault: re-executes with the shim preloaded, then installs the spec
     * for the whole run: the sessions' connections are faulted, the control
     * connection never (spec/run.c opens it exempt). */
    if (o->fault && (faultctl_preload(o->argv, err, sizeof err) < 0 || faultctl_configure(o->fault, err, sizeof err) < 0)) {
        fprintf(stderr, "pgrace: %s%s\n", strncmp(err, "fault shim", 10) ? "bad --fault: " : "", err);
        goto done;
    }
    target_opts to = { .dsn = o->dsn, .settings = (const char *const *)settings, .nsettings = nsettings,
                       .pooler = o->pooler };
    if (target_open(&run.t, &to, err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: %s\n", err);
        goto done;
    }
    if (check_settings(&run) < 0) {
        target_close(&run.t);
        goto done;
    }
    char line[4096];
    shell_command_line(o->argv, line, sizeof line);
    report_meta meta = { .mode = "spec", .seed = o->seed, .command = line, .server_version = run.t.server_version,
                         .embedded = run.t.cluster != NULL, .dsn = o->dsn, .tap = stdout };
    if (!(run.rep = report_new(&meta))) {
        fprintf(stderr, "pgrace: out of memory for the report\n");
        target_close(&run.t);
        goto done;
    }
    report_plan(run.rep, (int)points);
    report_note(run.rep, "pgrace: seed %" PRIu64 ", server %d.%d%s%s%s", o->seed, run.t.server_version / 10000,
                run.t.server_version % 100, run.t.cluster ? " (embedded)" : "",
                o->pooler ? ", sessions through " : "", pooler_name(o->pooler));
    status = EXIT_HELD;
    for (int i = 0; i < o->nfiles && !cleanup_signal_seen(); i++) {
        run.f = &files[i];
        run.file = i;
        if (run_file(&run) < 0) {
            status = EXIT_USAGE;
            break;
        }
    }
    target_close(&run.t);
    if (status == EXIT_HELD && run.failed)
        status = EXIT_VIOLATED;
    /* The report files, whatever the points' verdicts, and after a run
     * that stopped on an error; not after a signal. */
    if (!cleanup_signal_seen() && report_write_files(run.rep, o->junit, o->json, o->html, err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: %s\n", err);
        status = EXIT_USAGE;
    }
done:
    fclose(run.sink);
    report_free(run.rep);
    for (int i = 0; i < nsettings; i++)
        free(settings[i]);
    free(settings);
    for (int i = 0; i < o->nfiles; i++) {
        spec_perm_set_free(&files[i].set);
        spec_free(files[i].s);
    }
    free(files);
    return status;
}
