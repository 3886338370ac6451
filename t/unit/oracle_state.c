/*
 * oracle_state.c — the serial oracle's comparison (engine/state.c) and
 * search (engine/oracle.c) against a real server: two schemas that hold
 * the same rows but for generated values are equal (a sequence's values in
 * another allocation order, a FOREIGN KEY following them, clock values),
 * and a planted difference is not; ranked values keep their order; answers
 * compare generated values by label, literals as they are, masked parts not
 * at all; rows of two iterations compare with the iteration's number as a
 * placeholder; emptying restarts the sequences. Then the search, over a
 * backend that claims one slot: the order that matches is found whichever
 * unit took effect first, a maybe unit is tried in and out, an outcome no
 * order gives is a violation with its closest order, and a differing
 * answer rules its prefix out.
 */
#include "t/unit/check.h"

#include "engine/oracle.h"
#include "engine/state.h"
#include "lib/cleanup.h"
#include "lib/cluster.h"
#include "lib/err.h"
#include "lib/pq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char ddl[] =
    "CREATE TABLE parent (id bigserial PRIMARY KEY, name text NOT NULL, at timestamptz NOT NULL DEFAULT now());"
    "CREATE TABLE child (id serial PRIMARY KEY, parent_id bigint REFERENCES parent, note text);"
    "CREATE TABLE log (seq bigint, what text);"
    "CREATE SEQUENCE s;";

static PGconn *schema_conn(const char *conninfo, const char *schema)
{
    char err[ERRLEN], sql[256];
    PGconn *c = pqx_connect(conninfo, "public", "oracle_state", err, sizeof err);
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s; SET search_path = %s", schema,
             schema, schema);
    if (!c || pqx_ctl_exec(c, sql, err, sizeof err) < 0 || pqx_ctl_exec(c, ddl, err, sizeof err) < 0)
        check_bail("%s: %s", schema, err);
    return c;
}

static void exec_or_bail(PGconn *c, const char *sql)
{
    char err[ERRLEN];
    if (pqx_ctl_exec(c, sql, err, sizeof err) < 0)
        check_bail("%s: %s", sql, err);
}

static state *read_state(PGconn *c, const char *schema, const state_opts *o, long iteration)
{
    char err[ERRLEN];
    state_desc *d = state_describe(c, schema, o, err, sizeof err);
    state *s = d ? state_read(c, d, iteration, false, err, sizeof err) : NULL;
    if (!s)
        check_bail("reading %s: %s", schema, err);
    state_adopt_desc(s);
    return s;
}

static void check_renaming(const char *conninfo)
{
    PGconn *a = schema_conn(conninfo, "st_a"), *b = schema_conn(conninfo, "st_b");
    state_opts o = { .columns = { "log.seq=ranked" }, .ncolumns = 1, .mask = "held=[0-9]+ms" };
    /* The same rows; b's ids come from another place in the sequence and
     * in another order, and its clock is later. */
    exec_or_bail(a, "INSERT INTO parent (name) VALUES ('a'), ('b');"
                    "INSERT INTO child (parent_id, note) SELECT id, 'x' FROM parent WHERE name = 'b';"
                    "INSERT INTO log VALUES (5, 'first'), (7, 'second')");
    exec_or_bail(b, "SELECT setval('parent_id_seq', 10); SELECT pg_sleep(0.01);"
                    "INSERT INTO parent (name) VALUES ('b'), ('a');"
                    "INSERT INTO child (parent_id, note) SELECT id, 'x' FROM parent WHERE name = 'b';"
                    "INSERT INTO log VALUES (1, 'first'), (2, 'second')");
    char err[ERRLEN];
    /* One description read on a, used for b too: the same tables. */
    state_desc *d = state_describe(a, "st_a", &o, err, sizeof err);
    if (!d)
        check_bail("%s", err);
    state *sa = state_read(a, d, 1, false, err, sizeof err), *sb = state_read(b, d, 1, false, err, sizeof err);
    if (!sa || !sb)
        check_bail("%s", err);
    CHECK(state_equal(sa, sb), "renamed ids, their FOREIGN KEY and a clock's values: equal");
    CHECK(state_answers_equal(d, sa, "ok 200 -> 2", sb, "ok 200 -> 11"), "an answer's id compares by its label");
    CHECK(!state_answers_equal(d, sa, "ok 200 -> 2", sb, "ok 200 -> 12"), "... another row's id does not");
    CHECK(state_answers_equal(d, sa, "set=1 deleted=1", sb, "set=1 deleted=1"),
          "a count equal to an id in one run only compares as it is");
    CHECK(state_answers_equal(d, sa, "r=5", sb, "r=1") && !state_answers_equal(d, sa, "r=5", sb, "r=2"),
          "a ranked value compares by its rank");
    CHECK(state_answers_equal(d, sa, "held=5ms lock", sb, "held=900ms lock") &&
          !state_answers_equal(d, sa, "held=5ms lock", sb, "held=900ms wait"), "a masked part is not compared");
    char text[128];
    state_answer_text(d, sb, "ok 200 -> 11", text, sizeof text);
    CHECK(strcmp(text, "ok 200 -> parent.id#2") == 0, "an answer as compared names the label (%s)", text);
    state_free(sb);

    /* Planted: b's child now belongs to 'a'; its log out of order. */
    exec_or_bail(b, "UPDATE child SET parent_id = (SELECT id FROM parent WHERE name = 'a')");
    sb = state_read(b, d, 1, false, err, sizeof err);
    json_t *only_a = json_array(), *only_b = json_array();
    int n = state_diff(sa, sb, only_a, only_b);
    CHECK(!state_equal(sa, sb) && n == 2 && json_array_size(only_a) == 1 &&
          strstr(json_string_value(json_array_get(only_a, 0)), "child {id=#1, parent_id=#2, note=x}"),
          "a reference to the other row: not equal, the one row each side named (%s)",
          json_string_value(json_array_get(only_a, 0)));
    json_decref(only_a);
    json_decref(only_b);
    state_free(sb);
    exec_or_bail(b, "UPDATE child SET parent_id = (SELECT id FROM parent WHERE name = 'b');"
                    "UPDATE log SET seq = 3 - seq");
    sb = state_read(b, d, 1, false, err, sizeof err);
    CHECK(!state_equal(sa, sb), "ranked values in the other order: not equal");
    state_free(sb);
    state_free(sa);
    state_desc_free(d);

    /* Emptying restarts every sequence. */
    int rc;
    state_desc *db = state_describe(b, "st_b", &o, err, sizeof err);
    rc = db ? state_clear(b, db, false, err, sizeof err) : -1;
    CHECK(rc == 0, "state_clear empties the schema (%s)", rc ? err : "ok");
    PGresult *r = pqx_ctl_query(b, "SELECT (SELECT count(*) FROM parent) || ' ' || nextval('parent_id_seq') || ' ' || "
                                   "nextval('s')", 0, NULL, err, sizeof err);
    CHECK(r && strcmp(PQgetvalue(r, 0, 0), "0 1 1") == 0, "... and restarts its sequences (%s)",
          r ? PQgetvalue(r, 0, 0) : err);
    PQclear(r);
    state_desc_free(db);

    state_opts bad = { .columns = { "parent.nosuch=ignore" }, .ncolumns = 1 };
    state_desc *none = state_describe(a, "st_a", &bad, err, sizeof err);
    CHECK(!none && strstr(err, "no column nosuch"), "a declared column the schema lacks is refused (%s)", err);
    CHECK(state_check_decl("parent.name=sideways", err, sizeof err) < 0, "a mode that is none is refused");
    PQfinish(a);
    PQfinish(b);
}

static void check_iterations(const char *conninfo)
{
    PGconn *c = schema_conn(conninfo, "st_i");
    state_opts o = { 0 };
    exec_or_bail(c, "INSERT INTO log VALUES (2, 'key-15-a')");
    state *s15 = read_state(c, "st_i", &o, 15);
    exec_or_bail(c, "UPDATE log SET what = 'key-27-a'");
    state *s27 = read_state(c, "st_i", &o, 27);
    exec_or_bail(c, "UPDATE log SET what = 'key-28-a'");
    state *s28 = read_state(c, "st_i", &o, 27);
    CHECK(state_equal(s15, s27), "iteration 15's rows and iteration 27's, keyed by their numbers: equal");
    CHECK(!state_equal(s15, s28), "... but not rows keyed by another number");
    CHECK(state_answers_equal(NULL, s15, "key-15-a", s27, "key-27-a") &&
          !state_answers_equal(NULL, s15, "key-15-a", s27, "key-28-a"), "answers alike");
    state_free(s15);
    state_free(s27);
    state_free(s28);
    PQfinish(c);
}

/* ---- the search, over a backend that claims one slot ---- */

typedef struct slot_backend {
    PGconn *c;
    const state_desc *d;
    const char *const *names;   /* unit k claims the slot as names[k] */
    long iteration;             /* the one judged */
    int runs;
} slot_backend;

static int claim_orders(void *arg, const int *order, int n, state **st, char **answers, char *err, size_t errlen)
{
    slot_backend *b = arg;
    b->runs++;
    if (state_clear(b->c, b->d, false, err, errlen) < 0)
        return -1;
    for (int k = 0; k < n; k++) {
        const char *p[] = { b->names[order[k]] };
        PGresult *r = pqx_ctl_query(b->c, "INSERT INTO log VALUES (1, $1) ON CONFLICT DO NOTHING RETURNING what", 1,
                                    p, err, errlen);
        if (!r)
            return -1;
        answers[k] = strdup(PQntuples(r) ? "ok" : "conflict");
        PQclear(r);
    }
    return (*st = state_read(b->c, b->d, b->iteration, false, err, errlen)) ? 0 : -1;
}

static void check_search(const char *conninfo)
{
    PGconn *c = schema_conn(conninfo, "st_s");
    exec_or_bail(c, "CREATE UNIQUE INDEX ON log (seq)");
    char err[ERRLEN];
    state_opts o = { 0 };
    state_desc *d = state_describe(c, "st_s", &o, err, sizeof err);
    if (!d)
        check_bail("%s", err);
    static const char *const names[] = { "A", "B", "C" };
    slot_backend b = { .c = c, .d = d, .names = names, .iteration = 1 };

    /* B holds the slot and says so, A was refused; A took effect first by
     * its clock: the second order is the one. */
    exec_or_bail(c, "DELETE FROM log; INSERT INTO log VALUES (1, 'B')");
    state *conc = state_read(c, d, 1, false, err, sizeof err);
    oracle_unit u[3] = {
        { .lane = 0, .take = ORACLE_IN, .name = "A", .answer = "conflict", .t_effect = 1 },
        { .lane = 1, .take = ORACLE_IN, .name = "B", .answer = "ok", .t_effect = 2 },
        { .lane = 2, .take = ORACLE_MAYBE, .name = "C", .answer = "error", .t_effect = 0 },
    };
    oracle_memo *memo = oracle_memo_new();
    oracle_check_in in = { .desc = d, .concurrent = conc, .units = u, .nunits = 2, .key = "k", .iteration = 1,
                           .serial = claim_orders, .arg = &b, .memo = memo };
    oracle_verdict v;
    int rc = oracle_check(&in, &v, err, sizeof err);
    CHECK(rc == 0 && v.held == 1 && v.ran == 2, "the matching order is found: B then A (%d runs)", v.ran);
    b.runs = 0;
    rc = oracle_check(&in, &v, err, sizeof err);
    CHECK(rc == 0 && v.held == 1 && b.runs == 0, "the same inputs again: judged by the kept outcomes, no run");

    /* C's outcome is unknown and it took effect first: with it in, C
     * would hold the slot; without it, B then A is the order. */
    in.nunits = 3;
    in.key = "k3";
    b.runs = 0;
    rc = oracle_check(&in, &v, err, sizeof err);
    CHECK(rc == 0 && v.held == 1 && b.runs > 1, "a maybe unit is tried out too (%d runs)", b.runs);

    /* A holds the slot, yet was refused and B says ok: no order gives it. */
    state_free(conc);
    exec_or_bail(c, "DELETE FROM log; INSERT INTO log VALUES (1, 'A')");
    conc = state_read(c, d, 1, false, err, sizeof err);
    in.concurrent = conc;
    in.nunits = 2;
    in.key = "k2";
    rc = oracle_check(&in, &v, err, sizeof err);
    CHECK(rc == 0 && v.held == 0 && v.found && !v.cut, "an outcome no order gives: violated, the search exhausted");
    const char *order = json_string_value(json_object_get(json_object_get(v.found, "closest"), "order"));
    CHECK(order && strcmp(order, "A, B") == 0, "... the closest order named (%s)", order ? order : "none");
    const char *found = json_string_value(json_object_get(v.found, "found"));
    CHECK(found && strstr(found, "all 2 orders"), "... and how many were tried (%s)", found ? found : "none");
    json_decref(v.found);

    /* Four units that each must hold the slot: no order gives it, and a
     * differing answer at the second position rules out every order that
     * begins the same: far fewer runs than orders. */
    static const char *const four[] = { "A", "B", "C", "D" };
    b.names = four;
    oracle_unit w[4];
    for (int k = 0; k < 4; k++)
        w[k] = (oracle_unit){ .lane = k, .take = ORACLE_IN, .answer = "ok", .t_effect = k };
    snprintf(w[0].name, sizeof w[0].name, "A");
    snprintf(w[1].name, sizeof w[1].name, "B");
    snprintf(w[2].name, sizeof w[2].name, "C");
    snprintf(w[3].name, sizeof w[3].name, "D");
    in.units = w;
    in.nunits = 4;
    in.key = "k4";
    b.runs = 0;
    rc = oracle_check(&in, &v, err, sizeof err);
    CHECK(rc == 0 && v.held == 0 && v.space == 24 && b.runs < 24 && !v.cut,
          "24 orders, %d runs: the rest ruled out by the answer that differs", b.runs);
    json_decref(v.found);

    /* One key, iterations whose outcomes differ (a key that names no
     * workload, an exec'd program's: iterations 21 and 23 claim as A and
     * B, 22 as C and D): each one's outcomes are kept, and iteration 23 is
     * judged by 21's with no run. */
    static const char *const ab[] = { "A", "B" }, *const cd[] = { "C", "D" };
    in.units = u;
    in.nunits = 2;
    in.key = "kw";
    for (long it = 21; it <= 23; it++) {
        b.names = it == 22 ? cd : ab;
        b.iteration = it;
        b.runs = 0;
        state_free(conc);
        exec_or_bail(c, it == 22 ? "DELETE FROM log; INSERT INTO log VALUES (1, 'D')"
                                 : "DELETE FROM log; INSERT INTO log VALUES (1, 'B')");
        conc = state_read(c, d, it, false, err, sizeof err);
        in.concurrent = conc;
        in.iteration = it;
        rc = oracle_check(&in, &v, err, sizeof err);
        CHECK(rc == 0 && v.held == 1 && (it == 23 ? b.runs == 0 : b.runs > 0),
              "iteration %ld of one key: held, %d runs%s", it, b.runs,
              it == 23 ? " (iteration 21's outcomes kept beside 22's)" : "");
    }

    oracle_memo_free(memo);
    state_free(conc);
    state_desc_free(d);
    PQfinish(c);
}

int main(void)
{
    char err[ERRLEN];
    if (cleanup_signals_start(err, sizeof err) < 0)
        check_bail("%s", err);
    cluster *cl;
    if (cluster_start(&cl, err, sizeof err) < 0)
        check_bail("cluster_start: %s", err);
    check_renaming(cluster_conninfo(cl));
    check_iterations(cluster_conninfo(cl));
    check_search(cluster_conninfo(cl));
    cluster_stop(cl);
    return check_done();
}
