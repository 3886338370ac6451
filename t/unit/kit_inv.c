/*
 * kit_inv.c — the scenario kit's invariant side and the driver's batch of
 * declared SQL, against a real server: the counts of calls, the record of
 * a violation (found, details, fields; a check that holds leaves none),
 * the row and trace helpers, inv_int's "exactly one row", GUARANTEE false
 * for a minus variant's pins, and the declared queries — prepared, one
 * query declared twice run once, all sent in one pipeline — with a failing
 * one reported and the control connection still usable after it.
 */
#include "t/unit/check.h"

#include "engine/batch.h"
#include "engine/call_int.h"
#include "lib/cleanup.h"
#include "lib/cluster.h"
#include "lib/err.h"
#include "lib/pq.h"

#include <stdio.h>
#include <string.h>

static const call_record *calls_fixture(pqx_trace *trace)
{
    static call_record c[4];
    static const char *const sql[] = { "BEGIN", "SELECT 1", "COMMIT",
                                       "SELECT 'a statement longer than the sixty-three bytes a trace keeps of it' x" };
    pqx_trace_init(trace, 8);
    for (int i = 0; i < 4; i++) {
        pqx_event *e = &trace->ev[trace->n++];
        snprintf(e->sql, sizeof e->sql, "%s", sql[i]);
        e->t_send = 10 * i;
    }
    c[0] = (call_record){ .worker = 0, .out = { .kind = OUT_OK, .status = 200 }, .result = "7", .trace = trace };
    c[1] = (call_record){ .worker = 1, .out = { .kind = OUT_CONFLICT, .status = 409, .message = "already" },
                          .trace = trace };
    c[2] = (call_record){ .worker = 2, .out = { .kind = OUT_ERROR, .status = 500, .sqlstate = "40001" },
                          .faults = 1, .trace = trace };
    c[3] = (call_record){ .worker = 2, .attempt = 1, .out = { .kind = OUT_OK, .status = 200 }, .trace = trace };
    return c;
}

static bool skip_worker_1(const inv_ctx *x, const call_record *c)
{
    (void)x;
    return c->worker == 1;
}

static bool skip_faulted(const inv_ctx *x, const call_record *c)
{
    (void)x;
    return c->faults > 0;
}

static void check_counts_and_records(void)
{
    pqx_trace trace;
    char err[ERRLEN], who[64];
    inv_state st = { .err = err, .errlen = sizeof err };
    inv_ctx x = { .iteration = 5, .calls = calls_fixture(&trace), .ncalls = 4, .nworkers = 3, .state = &st };

    CHECK(inv_count(&x, OUT_OK, NULL, who, sizeof who) == 2 && strcmp(who, "1, 3") == 0,
          "inv_count: the ok calls and their workers (%s)", who);
    CHECK(inv_count(&x, -1, skip_worker_1, who, sizeof who) == 3 && strcmp(who, "1, 3, 3") == 0,
          "inv_count: any kind, one worker left out (%s)", who);
    CHECK(inv_count(&x, OUT_OK, NULL, who, 3) == 2 && strcmp(who, "1,") == 0, "inv_count: who is cut to fit (%s)",
          who);
    CHECK(inv_any_faulted(&x, NULL) && !inv_any_faulted(&x, skip_faulted), "inv_any_faulted honours skip");
    CHECK(inv_last_call(&x, 2) == &x.calls[3] && !inv_last_call(&x, 9), "inv_last_call: the retry, or none");

    char tag[CALL_TAG_LEN];
    inv_tag(&x, &x.calls[3], tag, sizeof tag);
    CHECK(strcmp(tag, "call-5-3-1") == 0, "inv_tag: iteration, worker from 1, attempt (%s)", tag);

    const pqx_event *e = inv_statement(&x.calls[0], "SELECT", NULL);
    const pqx_event *e2 = e ? inv_statement(&x.calls[0], "SELECT", e) : NULL;
    CHECK(e == &trace.ev[1] && e2 == &trace.ev[3] && !inv_statement(&x.calls[0], "SELECT", e2),
          "inv_statement visits each match in order");
    CHECK(inv_statement(&x.calls[0], "SELECT 'a statement longer than the sixty-three bytes a trace keeps of it' x",
                        NULL) == &trace.ev[3], "inv_statement: a prefix longer than the trace keeps still matches");

    /* A check that holds: the details it added go. */
    inv_detail(&x, "worker %d: %s", 1, "looked wrong");
    CHECK(inv_ndetails(&x) == 1 && strcmp(inv_first_detail(&x), "worker 1: looked wrong") == 0,
          "inv_detail adds a line (%s)", inv_first_detail(&x));
    inv_state_clear(&st);
    CHECK(inv_verdict(&x, "%d wrong", inv_ndetails(&x)) == 1, "inv_verdict: no detail, held");

    /* A violation: its record. */
    inv_call_detail(&x, &x.calls[1], "refused, but %s", "nothing was there");
    inv_call_detail(&x, &x.calls[3], "why");
    inv_field(&x, "stack", "stack-%ld", x.iteration);
    int v = inv_verdict(&x, "%d wrong, first: %s", inv_ndetails(&x), inv_first_detail(&x));
    json_t *rec = inv_state_record(&st, x.iteration);
    json_t *details = json_object_get(rec, "details");
    const char *found = json_string_value(json_object_get(rec, "found"));
    CHECK(v == 0 && rec && json_integer_value(json_object_get(rec, "record")) == 5, "inv_verdict: violated, record 5");
    CHECK(found && strcmp(found, "2 wrong, first: worker 2: conflict 409 already: refused, but nothing was there") == 0,
          "found, printf-style, with the first detail: %s", found ? found : "(none)");
    CHECK(json_array_size(details) == 2 &&
          strcmp(json_string_value(json_array_get(details, 1)), "worker 3 (retry): ok 200: why") == 0,
          "details: a line per call, its outcome said by the kit");
    CHECK(strcmp(json_string_value(json_object_get(rec, "stack")) ? json_string_value(json_object_get(rec, "stack"))
                                                                   : "", "stack-5") == 0,
          "inv_field: a field of the record");
    json_decref(rec);
    inv_state_clear(&st);

    CHECK(inv_violated(&x, "plain") == 0 && (rec = inv_state_record(&st, 5)) && !json_object_get(rec, "details"),
          "a violation without details has no details list");
    json_decref(rec);
    inv_state_clear(&st);
    CHECK(inv_error(&x, "record %d vanished", 5) == -1 && strcmp(err, "record 5 vanished") == 0,
          "inv_error: -1 and the reason");
    pqx_trace_free(&trace);
}

static void check_guarantee(void)
{
    static const scenario_pin pins[] = { { .name = "for-update" }, { .name = "one-tx" } };
    static const scenario s = { .name = "t", PINS(pins) };
    static const scenario_variant fixed = { .name = "fixed" }, minus = { .name = "no-lock", .minus = { "for-update" } };
    call_state st = { .scenario = &s, .variant = &fixed };
    drv_call c = { .state = &st };
    CHECK(GUARANTEE(&c, "for-update") && GUARANTEE(&c, "one-tx"), "the fixed form keeps every pin");
    st.variant = &minus;
    CHECK(!GUARANTEE(&c, "for-update") && GUARANTEE(&c, "one-tx"), "a minus variant loses exactly its pins");
}

static int exec_ok(PGconn *c, const char *sql)
{
    char err[ERRLEN];
    return pqx_ctl_exec(c, sql, err, sizeof err);
}

static int my_query(inv_ctx *x)
{
    (void)x;
    return 1;
}

static void check_batch(PGconn *ctl)
{
    char err[ERRLEN];
    exec_ok(ctl, "CREATE TABLE kit_t (i bigint, v text)");
    /* Two copies of one text (arrays: never merged into one by the
     * compiler, as equal literals may be). */
    static const char count_a[] = "SELECT count(*) FROM kit_t", count_b[] = "SELECT count(*) FROM kit_t";
    static const scenario_invariant invs[] = {
        { "a", "a", my_query, { "SELECT v FROM kit_t WHERE i = $1 ORDER BY v", count_a } },
        { "b", "b", my_query, { count_b } },
        { "c", "c", my_query, { 0 } },
    };
    static const scenario s = {
        .name = "t", .setup_sql = "INSERT INTO kit_t SELECT $1, 'w' || g FROM generate_series(1, $2) g",
        INVARIANTS(invs),
    };
    batch b;
    int rc = batch_prepare(&b, ctl, &s, err, sizeof err);
    CHECK(rc == 0 && b.nq == 2, "a query declared twice is prepared once (%d distinct): %s", b.nq, rc ? err : "ok");
    if (rc < 0)
        return;
    CHECK(batch_setup(&b, 4, 3, 77, err, sizeof err) == 0 && batch_setup(&b, 5, 2, 78, err, sizeof err) == 0,
          "setup_sql: $1 the iteration, $2 the workers ($3, the salt, unused)");
    CHECK(batch_queries(&b, 4, err, sizeof err) == 0, "the declared queries run: %s", err);
    const PGresult *rows[SCENARIO_MAX_QUERIES];
    batch_rows(&b, 0, rows);
    CHECK(rows[0] && PQntuples(rows[0]) == 3 && strcmp(PQgetvalue(rows[0], 2, 0), "w3") == 0 && rows[1] &&
          strcmp(PQgetvalue(rows[1], 0, 0), "5") == 0 && !rows[2], "invariant a gets its two results, in order");
    const PGresult *a_count = rows[1];
    batch_rows(&b, 1, rows);
    CHECK(rows[0] == a_count && !rows[1], "invariant b shares the one count");
    batch_rows(&b, 2, rows);
    CHECK(!rows[0], "invariant c declared nothing");
    char n[32] = "";
    int nrows = res_rows(rows[0] ? rows[0] : a_count, -1, NULL, 0, n, sizeof n);
    CHECK(nrows == 1 && strcmp(n, "5") == 0, "res_rows over every row (%s)", n);
    batch_rows(&b, 0, rows);
    nrows = res_rows(rows[0], 0, "w2", 0, n, sizeof n);
    CHECK(nrows == 1 && strcmp(n, "w2") == 0 && res_find(rows[0], 0, "w3") == 2, "res_rows and res_find by value");

    /* A declared query that fails: its reason, and the connection goes on. */
    exec_ok(ctl, "ALTER TABLE kit_t RENAME COLUMN v TO w");
    rc = batch_queries(&b, 4, err, sizeof err);
    CHECK(rc < 0 && strstr(err, "SELECT v FROM kit_t") && strstr(err, "column \"v\" does not exist"),
          "a failing query: -1 with its statement and the server's reason: %s", err);
    CHECK(PQpipelineStatus(ctl) == PQ_PIPELINE_OFF && exec_ok(ctl, "SELECT 1") == 0,
          "the control connection left pipeline mode and still answers");
    batch_free(&b);
    exec_ok(ctl, "CREATE TABLE kit_salt (i bigint, v text)");
    static const scenario salted = { .name = "s", .setup_sql = "INSERT INTO kit_salt VALUES ($1, 'salt ' || $3)" };
    batch sb;
    bool set = batch_prepare(&sb, ctl, &salted, err, sizeof err) == 0 && batch_setup(&sb, 9, 1, 123, err, sizeof err) == 0;
    PGresult *sr = PQexec(ctl, "SELECT v FROM kit_salt WHERE i = 9");
    CHECK(set && PQntuples(sr) == 1 && strcmp(PQgetvalue(sr, 0, 0), "salt 123") == 0,
          "setup_sql: $3 the iteration's salt (%s)", set && PQntuples(sr) ? PQgetvalue(sr, 0, 0) : err);
    PQclear(sr);
    batch_free(&sb);
    PGresult *r = PQexec(ctl, "SELECT count(*) FROM pg_prepared_statements");
    CHECK(r && strcmp(PQgetvalue(r, 0, 0), "0") == 0, "batch_free deallocates what it prepared");
    PQclear(r);
}

static void check_inv_int(PGconn *ctl)
{
    char err[ERRLEN];
    inv_state st = { .err = err, .errlen = sizeof err };
    inv_ctx x = { .ctl = ctl, .state = &st };
    long long v = -1;
    CHECK(inv_int(&x, &v, "SELECT NULL::int", 0, NULL) == 0 && v == 0, "inv_int: NULL reads 0");
    CHECK(inv_int(&x, &v, "SELECT 1 WHERE false", 0, NULL) < 0 && strstr(err, "expected one row, got 0"),
          "inv_int: no row is a failure (%s)", err);
    PGresult *r = inv_query(&x, "SELECT 1 WHERE false", 0, NULL);
    CHECK(r && PQntuples(r) == 0, "inv_query: no row is an empty result, not a failure");
    PQclear(r);
    CHECK(!inv_query(&x, "SELECT nosuch", 0, NULL) && strstr(err, "nosuch"), "inv_query: NULL and why (%s)", err);
}

int main(void)
{
    char err[ERRLEN];
    check_counts_and_records();
    check_guarantee();
    if (cleanup_signals_start(err, sizeof err) < 0)
        check_bail("%s", err);
    cluster *cl;
    if (cluster_start(&cl, err, sizeof err) < 0)
        check_bail("cluster_start: %s", err);
    PGconn *ctl = pqx_connect(cluster_conninfo(cl), "public", "kit", err, sizeof err);
    if (!ctl) {
        cluster_stop(cl);
        check_bail("connect: %s", err);
    }
    check_batch(ctl);
    check_inv_int(ctl);
    PQfinish(ctl);
    cluster_stop(cl);
    return check_done();
}
