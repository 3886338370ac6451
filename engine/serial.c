/*
 * serial.c — the serial oracle for scenarios: the oracle's schema and
 * connections, an iteration's calls rerun alone in an order, and the
 * "serial" invariant's check (see serial.h).
 */
#include "engine/serial.h"

#include "engine/batch.h"
#include "engine/call_int.h"
#include "engine/faultctl.h"
#include "engine/mutant.h"
#include "lib/err.h"
#include "lib/hash.h"
#include "lib/parse.h"
#include "lib/pq.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TRACE_CAP 64
#define MAX_CALLS 64
#define ANSWER_LEN 320

struct serial {
    PGconn *ctl;                /* the run's */
    PGconn *octl;               /* the oracle's: its setup, emptying, reading (in place: ctl) */
    PGconn **conn, **conn2;     /* the oracle's, per worker */
    int nworkers;
    const scenario *s;
    const scenario_variant *v;
    void (*op)(const drv_call *c);  /* the variant's, or the scenario's rerun */
    bool in_place;              /* the orders run in the run's own schema (scenario_oracle.rerun) */
    int64_t timeout_ns;         /* a serial call's bound */
    drv_config ocfg;            /* what a serial call runs with: the params, no pause */
    state_desc *desc;
    batch setup;                /* the scenario's setup on octl */
    bool setup_ready;
    bool prepared;              /* the state's statements, on both control connections */
    scenario bare;              /* s without invariants, for the setup's batch */
    oracle_memo *memo;
    char oschema[96];
    int lock_ms;
    bool rng_drawn;             /* a serial call drew random numbers: keys hold the streams */
    pqx_trace trace;
    bool trace_ready;
    drv_wake wake;
    bool wake_ready;
    /* The iteration being judged. */
    long iteration;
    const call_record *calls;
    int unit_call[MAX_CALLS];
    /* What it did. */
    long checked, outside, kept, runs, violations, cut;
    const char *outside_why;
};

/* ---- the scenario a run with the oracle drives ---- */

static int serial_check(inv_ctx *x);

void serial_scenario(const scenario *s, oracle_mode m, scenario *out, scenario_invariant *invs)
{
    *out = *s;
    int n = 0;
    for (int k = 0; m == ORACLE_SERIAL && k < s->ninvariants; k++)
        invs[n++] = s->invariants[k];
    invs[n++] = (scenario_invariant){ ORACLE_INVARIANT_ID, ORACLE_INVARIANT, serial_check, { NULL } };
    out->invariants = invs;
    out->ninvariants = n;
}

bool serial_scenario_has_oracle(const scenario *s)
{
    return s->ninvariants > 0 && s->invariants[s->ninvariants - 1].check == serial_check;
}

/* ---- opening and closing ---- */

/* The scenario's declarations, then the command line's (which win). */
static int declarations(const scenario *s, const state_opts *cli, state_opts *out, char *err, size_t errlen)
{
    *out = (state_opts){ .mask = s->oracle.answer_mask, .hidden = s->oracle.hidden };
    for (int i = 0; i < SCENARIO_MAX_ORACLE && s->oracle.columns[i]; i++)
        out->columns[out->ncolumns++] = s->oracle.columns[i];
    for (int i = 0; i < SCENARIO_MAX_ORACLE && s->oracle.tables[i]; i++)
        out->tables[out->ntables++] = s->oracle.tables[i];
    return cli ? state_opts_merge(out, cli, err, errlen) : 0;
}

static PGconn *connect_bounded(const serial_cfg *c, const char *schema, const char *who, int64_t timeout_ns,
                               char *err, size_t errlen)
{
    char app[160], set[96];
    snprintf(app, sizeof app, "%s/oracle%s", c->appname, who);
    PGconn *conn = pqx_connect(c->conninfo, schema, app, err, errlen);
    snprintf(set, sizeof set, "SET statement_timeout = '%lldms'", (long long)(timeout_ns / 1000000));
    if (conn && pqx_ctl_exec(conn, set, err, errlen) < 0) {
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

/* The oracle's own schema, from the same DDL and with the same pins
 * removed, and its control connection. */
static int open_schema(serial *o, const serial_cfg *c, char *err, size_t errlen)
{
    char sql[256];
    if (!(o->octl = connect_bounded(c, o->oschema, "", o->timeout_ns, err, errlen)))
        return -1;
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", o->oschema, o->oschema);
    if (pqx_ctl_exec(o->octl, sql, err, errlen) < 0 || pqx_ctl_exec(o->octl, c->s->schema_sql, err, errlen) < 0)
        return -1;
    return mutant_unpin(c->s, c->v, o->octl, err, errlen);
}

serial *serial_open(const serial_cfg *c, char *err, size_t errlen)
{
    serial *o = calloc(1, sizeof *o);
    int n = c->cfg->nworkers;
    if (!o || !(o->conn = calloc((size_t)n, sizeof *o->conn)) || !(o->conn2 = calloc((size_t)n, sizeof *o->conn2)) ||
        !(o->memo = oracle_memo_new()) || pqx_trace_init(&o->trace, TRACE_CAP) < 0) {
        serial_close(o);
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    o->trace_ready = true;
    if (drv_wake_init(&o->wake) < 0) {
        serial_close(o);
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    o->wake_ready = true;
    o->ctl = c->ctl;
    o->nworkers = n;
    o->s = c->s;
    o->v = c->v;
    o->in_place = c->s->oracle.rerun != NULL;
    o->op = o->in_place ? c->s->oracle.rerun : scenario_variant_op(c->s, c->v);
    o->ocfg = (drv_config){ .nworkers = n, .params = c->cfg->params, .seed = c->cfg->seed };
    o->timeout_ns = c->cfg->call_timeout_ns > 0 ? c->cfg->call_timeout_ns : DRV_DEFAULT_CALL_TIMEOUT_NS;
    o->lock_ms = (int)(o->timeout_ns / 1000000);
    snprintf(o->oschema, sizeof o->oschema, "%s_oracle", c->schema);
    state_opts opts;
    /* The oracle's connections are the harness's: never counted, faulted
     * or gated. */
    faultctl_exempt_thread(true);
    if (declarations(c->s, c->opts, &opts, err, errlen) < 0 ||
        !(o->desc = state_describe(c->ctl, c->schema, &opts, err, errlen)) ||
        (!o->in_place && open_schema(o, c, err, errlen) < 0))
        goto fail;
    /* In place, the scenario's setup makes the run's schema afresh for each
     * order, on the run's control connection. */
    if (o->in_place)
        o->octl = o->ctl;
    o->bare = *c->s;
    o->bare.invariants = NULL;
    o->bare.ninvariants = 0;
    if (batch_prepare(&o->setup, o->octl, &o->bare, err, errlen) < 0)
        goto fail;
    o->setup_ready = true;
    if (state_prepare(o->ctl, o->desc, o->lock_ms, err, errlen) < 0 ||
        (!o->in_place && state_prepare(o->octl, o->desc, o->lock_ms, err, errlen) < 0))
        goto fail;
    o->prepared = true;
    /* A rerun makes its own connections. */
    for (int i = 0; i < n && !o->in_place; i++) {
        char who[32];
        snprintf(who, sizeof who, "/w%d", i + 1);
        if (!(o->conn[i] = connect_bounded(c, o->oschema, who, o->timeout_ns, err, errlen)))
            goto fail;
        snprintf(who, sizeof who, "/w%db", i + 1);
        if (c->s->conns_per_worker == 2 &&
            !(o->conn2[i] = connect_bounded(c, o->oschema, who, o->timeout_ns, err, errlen)))
            goto fail;
    }
    return o;
fail:
    serial_close(o);
    return NULL;
}

void serial_close(serial *o)
{
    if (!o)
        return;

    for (int i = 0; i < o->nworkers; i++) {
        if (o->conn && o->conn[i])
            PQfinish(o->conn[i]);
        if (o->conn2 && o->conn2[i])
            PQfinish(o->conn2[i]);
    }
    if (o->setup_ready)
        batch_free(&o->setup);
    if (o->prepared) {
        state_unprepare(o->ctl, o->desc);
        if (!o->in_place)
            state_unprepare(o->octl, o->desc);
    }
    if (o->octl && !o->in_place)
        PQfinish(o->octl);
    if (o->trace_ready)
        pqx_trace_free(&o->trace);
    if (o->wake_ready)
        drv_wake_destroy(&o->wake);
    oracle_memo_free(o->memo);     /* its states read o->desc */
    state_desc_free(o->desc);
    free(o->conn);
    free(o->conn2);
    free(o);
}

int serial_prepare(void *arg, long iteration, char *err, size_t errlen)
{
    (void)iteration;
    serial *o = arg;
    /* In place, the setup makes the schema afresh. */
    return o->in_place ? 0 : state_clear(o->ctl, o->desc, true, err, errlen);
}

/* ---- one serial order ---- */

/* What a caller got, as the oracle compares it: the kind and status, and
 * what an ok call handed back (a refusal's words are not compared: two
 * paths to one refusal may word it apart; a failure's SQLSTATE is). */
static void answer_of(const call_record *c, char *buf, size_t len)
{
    const outcome *o = &c->out;
    if (o->kind == OUT_OK)
        snprintf(buf, len, "ok %d%s%s", o->status, c->result[0] ? " -> " : "", c->result);
    else if (o->kind == OUT_CONFLICT)
        snprintf(buf, len, "%s %d", outcome_name(o->kind), o->status);
    else
        snprintf(buf, len, "%s %d%s%s", outcome_name(o->kind), o->status, o->sqlstate[0] ? " " : "", o->sqlstate);
}

/* As the driver leaves a worker's connection after a call. */
static void settle(PGconn *conn)
{
    if (conn && (PQstatus(conn) != CONNECTION_OK || PQtransactionStatus(conn) != PQTRANS_IDLE))
        PQreset(conn);
}

/* Runs call alone, with its inputs, on the oracle's connections (or as
 * the scenario reruns it); its answer into *answer (a new string). A call
 * that alone runs past the call deadline cannot be judged: -1 with why. */
static int run_call(serial *o, const call_record *call, char **answer, char *err, size_t errlen)
{
    int w = call->worker;
    rng stream = call->rng_start;
    drv_call c = { .conn = o->conn[w], .conn2 = o->conn2[w], .worker = w, .nworkers = o->nworkers,
                   .iteration = o->iteration, .attempt = call->attempt, .rng = &stream };
    call_state st;
    call_record rec;
    call_begin(&c, &st, &rec, &o->trace, o->s, o->v, &o->ocfg, &o->wake);
    rec.t_start = clock_now_ns();
    o->op(&c);
    rec.t_end = clock_now_ns();
    call_finish(&c);
    o->rng_drawn |= rec.rng_used;
    settle(o->conn[w]);
    settle(o->conn2[w]);
    char buf[ANSWER_LEN];
    if (rec.t_end - rec.t_start >= o->timeout_ns) {
        char d[24];
        call_describe(&rec, buf, sizeof buf);
        format_duration(o->timeout_ns, d, sizeof d);
        err_set(err, errlen, "the serial oracle: worker %d, run alone from iteration %ld's starting state, did not "
                "end within the call timeout (%s): %s", w + 1, o->iteration, d, buf);
        return -1;
    }
    answer_of(&rec, buf, sizeof buf);
    if (!(*answer = strdup(buf))) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* oracle_serial_fn: the iteration's starting state in the oracle's
 * schema, then the calls of order one at a time. */
static int run_order(void *arg, const int *order, int n, state **st, char **answers, char *err, size_t errlen)
{
    serial *o = arg;
    if ((!o->in_place && state_clear(o->octl, o->desc, true, err, errlen) < 0) ||
        batch_setup(&o->setup, o->iteration, o->nworkers, drv_iteration_salt(o->ocfg.seed, o->iteration), err,
                    errlen) < 0)
        return -1;
    for (int k = 0; k < n; k++)
        if (run_call(o, &o->calls[o->unit_call[order[k]]], &answers[k], err, errlen) < 0)
            return -1;
    return (*st = state_read(o->octl, o->desc, o->iteration, true, err, errlen)) ? 0 : -1;
}

/* ---- the invariant ---- */

static int workload_of(const scenario *s, long iteration)
{
    if (s->workload)
        return s->workload(iteration);
    return s->workload_period > 1 ? (int)(iteration % s->workload_period) : 0;
}

static oracle_take take_of(const call_record *c)
{
    switch (c->effect) {
    case CALL_EFFECT_NONE: return ORACLE_OUT;
    case CALL_EFFECT_TOOK: return ORACLE_IN;
    case CALL_EFFECT_UNKNOWN: return ORACLE_MAYBE;
    case CALL_EFFECT_ENDING: break;
    }
    if (c->out.kind == OUT_OK || c->out.kind == OUT_CONFLICT)
        return ORACLE_IN;
    /* A connection lost in COMMIT, or in a statement outside a
     * transaction block, may have left the call's writes committed; so
     * may a COMMIT the deadline's cancel met (the deadline's own invariant
     * reports that call). */
    return c->out.conn_lost || c->out.indeterminate || c->timed_out ? ORACLE_MAYBE : ORACLE_OUT;
}

/* When c took effect, about: the time its last statement was sent when
 * that ends a transaction (a COMMIT, a refusal's ROLLBACK: sent after
 * whatever it waited for had committed, before it took effect itself);
 * else, a statement in autocommit, when it was done (it may have waited
 * for a lock, and took effect at its end). */
static int64_t took_effect(const call_record *c)
{
    if (!c->trace->n || c->trace->dropped)
        return c->t_end;
    const pqx_event *e = &c->trace->ev[c->trace->n - 1];
    const char *sql = e->sql + strspn(e->sql, " \t\n");
    bool ends = strncasecmp(sql, "COMMIT", 6) == 0 || strncasecmp(sql, "END", 3) == 0 ||
                strncasecmp(sql, "ROLLBACK", 8) == 0;
    return ends || !e->t_done ? e->t_send : e->t_done;
}

/* The iteration's inputs but its number: the workload, the calls made and
 * what became of them (engine/oracle.c adds the latter), and the workers'
 * random streams once any call drew from one. */
static void make_key(serial *o, const inv_ctx *x, char *key, size_t len)
{
    size_t used = (size_t)snprintf(key, len, "wl=%d n=%d", workload_of(o->s, x->iteration), x->nworkers);
    bool streams = o->rng_drawn;
    for (int i = 0; i < x->ncalls; i++)
        streams |= x->calls[i].rng_used;
    for (int i = 0; i < x->ncalls && used < len; i++) {
        const call_record *c = &x->calls[i];
        used += (size_t)snprintf(key + used, len - used, " %d.%d", c->worker, c->attempt);
        if (streams && used < len)
            used += (size_t)snprintf(key + used, len - used, ":%" PRIx64,
                                     hash_fnv1a(HASH_FNV1A_INIT, &c->rng_start, sizeof c->rng_start));
    }
}

/* The violation, in the kit's terms: the sentence, each difference a
 * detail, the outcomes as fields. */
static int report_violation(inv_ctx *x, json_t *found)
{
    inv_violated(x, "%s", json_string_value(json_object_get(found, "found")));
    size_t i;
    json_t *line;
    json_array_foreach(json_object_get(found, "difference"), i, line)
        inv_detail(x, "%s", json_string_value(line));
    inv_state *st = x->state;
    if (!st->fields && !(st->fields = json_object()))
        st->oom = true;
    else {
        json_object_set(st->fields, "orders", json_object_get(found, "orders"));
        json_object_set(st->fields, "concurrent", json_object_get(found, "concurrent"));
        json_object_set(st->fields, "closest", json_object_get(found, "closest"));
    }
    return 0;
}

static int serial_check(inv_ctx *x)
{
    serial *o = x->state->oracle;
    if (!o)
        return inv_error(x, "the serial oracle was not set up for this run");
    o->checked++;
    const char *why = o->s->oracle.outside ? o->s->oracle.outside(x) : NULL;
    if (why) {
        o->outside++;
        o->outside_why = why;
        return 1;
    }
    if (x->ncalls > MAX_CALLS)
        return inv_error(x, "the serial oracle judges at most %d calls per iteration", MAX_CALLS);
    state *conc = state_read(x->ctl, o->desc, x->iteration, true, x->state->err, x->state->errlen);
    if (!conc)
        return -1;
    oracle_unit units[MAX_CALLS];
    char answers[MAX_CALLS][ANSWER_LEN], key[4096];
    for (int i = 0; i < x->ncalls; i++) {
        const call_record *c = &x->calls[i];
        oracle_unit *u = &units[i];
        int64_t effect = took_effect(c);
        *u = (oracle_unit){ .lane = c->worker, .take = take_of(c), .t_effect = effect, .answer = answers[i] };
        if (c->attempt == 0)
            snprintf(u->name, sizeof u->name, "worker %d", c->worker + 1);
        else
            snprintf(u->name, sizeof u->name, "worker %d (retry%s%.0d)", c->worker + 1, c->attempt > 1 ? " " : "",
                     c->attempt > 1 ? c->attempt : 0);
        if (u->take == ORACLE_IN)
            answer_of(c, answers[i], sizeof answers[i]);
        else
            call_describe(c, answers[i], sizeof answers[i]);
        o->unit_call[i] = i;
    }
    o->iteration = x->iteration;
    o->calls = x->calls;
    make_key(o, x, key, sizeof key);
    oracle_check_in in = { .desc = o->desc, .concurrent = conc, .units = units, .nunits = x->ncalls, .key = key,
                           .iteration = x->iteration, .serial = run_order, .arg = o, .memo = o->memo };
    oracle_verdict v;
    /* A rerun's statements reach the way the workers' did: they are the
     * harness's (the shim's are, by the oracle's exempt connections). */
    faultctl_way_exempt(true);
    int rc = oracle_check(&in, &v, x->state->err, x->state->errlen);
    faultctl_way_exempt(false);
    state_free(conc);
    o->calls = NULL;
    if (rc < 0)
        return -1;
    o->runs += v.ran;
    o->kept += v.ran == 0;
    o->cut += v.cut;
    if (v.held == 1)
        return 1;
    if (v.held < 0)
        return inv_error(x, "%s", ORACLE_NO_ORDER);
    o->violations++;
    report_violation(x, v.found);
    json_decref(v.found);
    return 0;
}

void serial_summary(const serial *o, char *buf, size_t len)
{
    long judged = o->checked - o->outside;
    int n = snprintf(buf, len, "serial oracle: %ld iteration%s judged, %ld by outcomes kept from earlier ones, %ld "
                     "serial run%s of the calls", judged, judged == 1 ? "" : "s", o->kept, o->runs,
                     o->runs == 1 ? "" : "s");
    if (n > 0 && (size_t)n < len && o->cut)
        n += snprintf(buf + n, len - (size_t)n, "; %ld whose search was cut at %d runs", o->cut, ORACLE_MAX_RUNS);
    if (n > 0 && (size_t)n < len && o->outside)
        snprintf(buf + n, len - (size_t)n, "; %ld outside its model: %s", o->outside, o->outside_why);
}

const char *serial_skipped(const serial *o)
{
    return o->checked && o->outside == o->checked ? o->outside_why : NULL;
}
