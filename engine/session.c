/* session.c — setting up and ending a command's run (see session.h). */
#include "engine/session.h"

#include "lib/shell.h"
#include "engine/faultctl.h"
#include "lib/cleanup.h"
#include "lib/err.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether any item needs the fault shim. Returns 1, 0, or -1 with a reason
 * (a plan that does not exist). */
static int needs_shim(const run_opts *o, const plan_item *items, int n, char *err, size_t errlen)
{
    int need = 0;
    for (int i = 0; i < n; i++) {
        item_settings st;
        if (plan_settings(o, &items[i], &st, err, errlen) < 0)
            return -1;
        need |= st.fault != NULL || st.sweep;
    }
    return need;
}

int session_open(const run_opts *o, enum session_shim shim, const char *mode, session *s)
{
    char err[ERRLEN];
    memset(s, 0, sizeof *s);
    if (o->items) {
        if (!(s->items = malloc((size_t)o->nitems * sizeof *s->items))) {
            err_set(err, sizeof err, "out of memory");
            goto fail;
        }
        memcpy(s->items, o->items, (size_t)o->nitems * sizeof *s->items);
        s->n = o->nitems;
    } else {
        s->n = plan_build(o, &s->items, err, sizeof err);
    }
    int need = s->n < 0 ? -1
               : shim == SESSION_SHIM_ALWAYS ? 1
               : shim == SESSION_SHIM_NEVER ? 0
                                            : needs_shim(o, s->items, s->n, err, sizeof err);
    if (need < 0)
        goto fail;
    /* Re-executes with the shim preloaded (PGFAULT empty: the rules are
     * installed per iteration), then checks --fault before any server
     * starts. */
    if (need && faultctl_preload(o->argv, err, sizeof err) < 0)
        goto fail;
    if (o->fault && shim != SESSION_SHIM_NEVER && faultctl_configure(o->fault, err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: bad --fault: %s\n", err);
        free(s->items);
        s->items = NULL;
        return -1;
    }
    if (need)
        faultctl_configure(NULL, err, sizeof err);
    target_opts to = { .dsn = o->dsn, .pooler = o->pooler };
    if (target_open(&s->t, &to, err, sizeof err) < 0)
        goto fail;
    char line[4096];
    shell_command_line(o->argv, line, sizeof line);
    report_meta meta = {
        .mode = mode, .seed = o->seed, .command = line, .server_version = s->t.server_version,
        .embedded = s->t.cluster != NULL, .dsn = o->dsn, .keep_iterations = 100000, .tap = stdout,
    };
    if (!(s->rep = report_new(&meta))) {
        err_set(err, sizeof err, "out of memory for the report");
        target_close(&s->t);
        goto fail;
    }
    return 0;
fail:
    fprintf(stderr, "pgrace: %s\n", err);
    free(s->items);
    s->items = NULL;
    return -1;
}

void session_header(const run_opts *o, const session *s, int times)
{
    int points = 0;
    for (int i = 0; i < s->n; i++)
        points += drv_ninvariants(s->items[i].scenario) * times;
    report_plan(s->rep, points);
    report_note(s->rep, "pgrace: seed %" PRIu64 ", server %d.%d%s%s%s%s", o->seed, s->t.server_version / 10000,
                s->t.server_version % 100, s->t.cluster ? " (embedded)" : "", o->fault ? ", with faults" : "",
                o->pooler ? ", workers through " : "", pooler_name(o->pooler));
}

int session_close(const run_opts *o, session *s, int status)
{
    target_close(&s->t);
    char err[ERRLEN];
    if (!cleanup_signal_seen() && report_write_files(s->rep, o->junit, o->json, o->html, err, sizeof err) < 0) {
        fprintf(stderr, "pgrace: %s\n", err);
        status = EXIT_USAGE;
    }
    report_free(s->rep);
    free(s->items);
    return status;
}
