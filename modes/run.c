/* run.c — the `run` command: plan, target, driver, the record (modes.h). */
#include "modes/modes.h"

#include "engine/drive.h"
#include "engine/record.h"
#include "engine/repro.h"
#include "engine/session.h"
#include "engine/target.h"
#include "lib/cleanup.h"
#include "lib/err.h"

#include <stdio.h>
#include <stdlib.h>

static int run_item(const run_opts *o, target *t, const plan_item *item, report *rep, bool *held, char *err,
                    size_t errlen)
{
    item_settings st;
    if (plan_settings(o, item, &st, err, errlen) < 0)
        return -1;
    int stop_on = st.failfast_on;
    rep_item *ri = record_item_begin(rep, o, item, &st);
    drive_args a = { .target = t, .item = item, .settings = &st, .seed = o->seed,
                     .first_iteration = o->first_iteration, .iterations = o->iterations, .rep = rep, .ritem = ri,
                     .failfast = o->failfast, .failfast_on = stop_on };
    drv_result r;
    if (run_drive(&a, &r, err, errlen) < 0) {
        record_item_error(rep, ri, err);
        return -1;
    }
    long first_bad = -1;
    for (int k = 0; k < r.nverdicts; k++)
        if (r.verdicts[k].failures && (stop_on < 0 || stop_on == k) &&
            (first_bad < 0 || r.verdicts[k].first_iteration < first_bad))
            first_bad = r.verdicts[k].first_iteration;
    if (o->failfast && first_bad >= 0) {
        char label[256];
        plan_label(item, &(item_settings){ .plan = "none" }, label, sizeof label);
        report_note(rep, "%s: --failfast: stopped at iteration %ld, the first that violated %s", label, first_bad,
                    o->failfast_on ? o->failfast_on : "an invariant");
    }
    char repeat[4096];
    repro_repeat_command(o, item, &st, repeat, sizeof repeat);
    *held = record_item_end(rep, ri, o, item, &st, &r, "iterations", repeat);
    drv_result_free(&r);
    return 0;
}

int run_session(const run_opts *o, session *s)
{
    session_header(o, s, o->times);
    int status = EXIT_HELD, violated_runs = 0;
    for (int i = 0; i < s->n * o->times; i++) {
        const plan_item *item = &s->items[i / o->times];
        bool held = true;
        char err[ERRLEN], label[256];
        if (run_item(o, &s->t, item, s->rep, &held, err, sizeof err) < 0) {
            /* After a signal the failure is only the teardown under way. */
            if (cleanup_signal_seen())
                break;
            plan_label(item, &(item_settings){ .plan = "none" }, label, sizeof label);
            report_bail(s->rep, "%s: %s", label, err);
            fprintf(stderr, "pgrace: %s\n", err);
            status = EXIT_USAGE;
            break;
        }
        if (!held) {
            status = EXIT_VIOLATED;
            violated_runs++;
        }
    }
    if (o->times > 1)
        report_note(s->rep, "%d of %d runs violated an invariant", violated_runs, s->n * o->times);
    return status;
}

int run_main(const run_opts *o)
{
    session s;
    if (session_open(o, SESSION_SHIM_IF_NEEDED, o->mode ? o->mode : "run", &s) < 0)
        return EXIT_USAGE;
    return session_close(o, &s, run_session(o, &s));
}
