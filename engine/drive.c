/*
 * drive.c — one drive of one item: its schema recreated, its fault rules
 * installed before every iteration (or a fault sweep), the driver run, the
 * record fed. What run, soak, replay and explore share (drive.h).
 */
#include "engine/drive.h"

#include "engine/faultctl.h"
#include "engine/mutant.h"
#include "engine/serial.h"
#include "engine/sweep.h"
#include "engine/target.h"
#include "lib/err.h"
#include "engine/record.h"

#include <stdio.h>

/* What every iteration of a drive runs with: the item's fault rules
 * installed afresh (so that a rule's counts, "the first COMMIT", restart
 * with each iteration), the report fed, and the caller's own hooks. */
typedef struct drive_hooks {
    const drive_args *a;
    bool violated;              /* an iteration so far violated an invariant */
} drive_hooks;

static int before_each(void *arg, long iteration, char *err, size_t errlen)
{
    const drive_hooks *h = arg;
    const drive_args *a = h->a;
    if (a->failfast && h->violated)
        return 1;
    if (a->settings->fault && faultctl_configure(a->settings->fault, err, errlen) < 0)
        return -1;
    return a->before ? a->before(a->hook_arg, iteration, err, errlen) : 0;
}

static void after_each(void *arg, long iteration, const call_record *calls, int ncalls, const int *verdicts)
{
    drive_hooks *h = arg;
    const drive_args *a = h->a;
    for (int k = 0; k < drv_ninvariants(a->item->scenario); k++)
        h->violated |= verdicts[k] == 0 && (a->failfast_on < 0 || a->failfast_on == k);
    if (a->rep)
        record_iteration(a->rep, a->ritem, a->item, a->settings, iteration, calls, ncalls, verdicts,
                         faultctl_rules(), a->schedule ? a->schedule(a->hook_arg) : NULL);
    if (a->after)
        a->after(a->hook_arg, iteration, calls, ncalls, verdicts);
}

int run_drive(const drive_args *a, drv_result *res, char *err, size_t errlen)
{
    const item_settings *st = a->settings;
    const plan_item *item = a->item;
    if (target_reset_schema(a->target, item->scenario->schema_sql, err, errlen) < 0)
        return -1;
    if (mutant_unpin(item->scenario, item->variant, a->target->ctl, err, errlen) < 0)
        return -1;
    drive_hooks hooks = { .a = a };
    drv_config cfg = {
        .conninfo = a->target->client_conninfo, .pooled = a->target->pooler != NULL,
        .shared_conns = a->target->pooler && pooler_mode_of(a->target->pooler) == POOLER_TRANSACTION,
        .schema = a->target->schema, .appname = a->target->appname,
        .nworkers = st->nworkers, .iterations = a->iterations, .first_iteration = a->first_iteration,
        .iteration_step = a->iteration_step, .repeat_iteration = a->repeat_iteration,
        .seed = a->seed, .retries = st->retries, .pauses = st->pauses, .call_timeout_ns = st->call_timeout_ns,
        .params = st->params, .no_conn_check = st->no_conn_check, .control = a->control, .annotate = a->annotate, .annotate_arg = a->hook_arg,
    };
    if (st->fault || a->before || a->failfast) {
        cfg.before = before_each;
        cfg.before_arg = &hooks;
    }
    if (a->rep || a->after || a->failfast) {
        cfg.on_iteration = after_each;
        cfg.iteration_arg = &hooks;
    }
    serial *oracle = NULL;
    if (serial_scenario_has_oracle(item->scenario)) {
        serial_cfg sc = { .ctl = a->target->ctl, .conninfo = a->target->conninfo, .schema = a->target->schema,
                          .appname = a->target->appname, .s = item->scenario, .v = item->variant, .cfg = &cfg,
                          .opts = st->oracle_opts };
        if (!(oracle = serial_open(&sc, err, errlen)))
            return -1;
        cfg.prepare = serial_prepare;
        cfg.prepare_arg = oracle;
        cfg.oracle = oracle;
    }
    int rc;
    if (st->sweep) {
        int positions = 0;
        rc = sweep_run(&cfg, item->scenario, item->variant, a->target->ctl, res, &positions, err, errlen);
        if (rc == 0) {
            char label[256];
            plan_label(item, &(item_settings){ .plan = "none" }, label, sizeof label);
            report_note(a->rep, "%s: fault sweep over %d statement positions x 3 actions (error=40001, drop, "
                        "ambiguous), %d worker(s), %d retr%s", label, positions, st->nworkers, st->retries,
                        st->retries == 1 ? "y" : "ies");
        }
    } else {
        rc = drv_run(&cfg, item->scenario, item->variant, a->target->ctl, res, err, errlen);
    }
    if (oracle && rc == 0) {
        char line[512], label[256];
        serial_summary(oracle, line, sizeof line);
        plan_label(item, &(item_settings){ .plan = "none" }, label, sizeof label);
        report_note(a->rep, "%s: %s", label, line);
        res->verdicts[item->scenario->ninvariants - 1].skipped = serial_skipped(oracle);
    }
    serial_close(oracle);
    char ignored[ERRLEN];
    faultctl_configure(NULL, ignored, sizeof ignored);
    return rc;
}

