/*
 * explore_equiv.c — the prefix classes behind explore --faults' reduction
 * (sched/equiv.h): which statements are quiet, and which prefixes are
 * one class. A wrong "quiet" skips a fault that could differ; a wrong
 * class merges prefixes that leave different states.
 */
#include "t/unit/check.h"

#include "sched/equiv.h"

#include <stdbool.h>

static const char *const quiet[] = {
    "BEGIN", "begin isolation level serializable", "START TRANSACTION", "SET lock_timeout = '1s'",
    "SHOW transaction_isolation", "SELECT value FROM vault WHERE key = $1", "  select 1",
    "WITH r AS (SELECT 1) SELECT * FROM r" /* not quiet: WITH may write; checked below */, NULL,
};

static const char *const ordered[] = {
    "COMMIT", "ROLLBACK", "END", "INSERT INTO t VALUES (1)", "UPDATE t SET x = 1", "DELETE FROM t",
    "SELECT * FROM t WHERE id = 1 FOR UPDATE", "SELECT * FROM t FOR SHARE", "SELECT * FROM t FOR NO KEY UPDATE",
    "SELECT pg_advisory_xact_lock(1)", "SELECT nextval('s')", "SELECT setval('s', 1)",
    "SELECT txid_current()", "SELECT * INTO t2 FROM t", "SET TRANSACTION SNAPSHOT '0001'",
    "WITH r AS (DELETE FROM t RETURNING *) SELECT * FROM r", "LOCK TABLE t", "SAVEPOINT a",
    "SELECT pg_notify('c', 'x')", "TRUNCATE t", NULL,
};

/* Quiet reads that answer differently when run again with nobody writing:
 * a poll of these is no spin (sched.h). */
static const char *const changing[] = {
    "SELECT now() > $1", "SELECT current_timestamp", "SELECT CURRENT_DATE", "SELECT clock_timestamp()",
    "SELECT 1 WHERE statement_timestamp() > $1", "SELECT random()", "SELECT gen_random_uuid()",
    "SELECT state FROM pg_stat_activity WHERE pid = $1", "SELECT granted FROM pg_locks", "SELECT timeofday()",
    "SELECT age(created) FROM t", "SELECT localtimestamp", NULL,
};

int main(void)
{
    for (int i = 0; quiet[i]; i++) {
        bool want = quiet[i][0] != 'W';
        CHECK(equiv_quiet(quiet[i]) == want, "%s: %s", quiet[i], want ? "quiet" : "ordered");
    }
    for (int i = 0; ordered[i]; i++)
        CHECK(!equiv_quiet(ordered[i]), "%s: ordered", ordered[i]);
    CHECK(equiv_repeats("SELECT label, pending FROM metadata WHERE key = $1") && equiv_repeats("select 1"),
          "a read of rows: the same answer again while nobody writes");
    for (int i = 0; changing[i]; i++)
        CHECK(!equiv_repeats(changing[i]), "%s: may answer otherwise next time", changing[i]);

    equiv_set *s = equiv_new();
    CHECK(s != NULL, "a set");
    /* w0: BEGIN, SELECT (quiet); w1: BEGIN (quiet), UPDATE. */
    const int a[] = { 0, 1, 0 }, b[] = { 1, 0, 0 }, c[] = { 0, 0, 1 };
    const bool qa[] = { true, true, true }, qb[] = { true, true, true }, qc[] = { true, true, true };
    CHECK(equiv_add(s, a, qa, 3, 1, 1) == 1, "a new prefix is new");
    CHECK(equiv_add(s, a, qa, 3, 1, 1) == 0, "the same prefix again is seen");
    CHECK(equiv_add(s, b, qb, 3, 1, 1) == 0, "quiet steps swapped: one class");
    CHECK(equiv_add(s, c, qc, 3, 1, 1) == 0, "a quiet step moved past two: one class");
    CHECK(equiv_add(s, a, qa, 3, 1, 2) == 1, "another fault after the same prefix is new");
    CHECK(equiv_add(s, a, qa, 3, 0, 1) == 1, "a fault on another worker is new");
    CHECK(equiv_add(s, a, qa, 2, 1, 1) == 1, "a shorter prefix is new");

    /* An ordered step pins the order against everything of the others. */
    const int d[] = { 0, 1 }, e[] = { 1, 0 };
    const bool qd[] = { true, false }, qe[] = { false, true };
    CHECK(equiv_add(s, d, qd, 2, 0, 1) == 1, "w0 quiet then w1 ordered");
    CHECK(equiv_add(s, e, qe, 2, 0, 1) == 1, "w1 ordered then w0 quiet: another class");
    const bool qf[] = { false, false };
    CHECK(equiv_add(s, d, qf, 2, 1, 3) == 1, "two ordered steps");
    CHECK(equiv_add(s, e, qf, 2, 1, 3) == 1, "the two swapped: another class");

    /* A worker's own steps never reorder, quiet or not. */
    const int g[] = { 0, 0, 1 }, h[] = { 0, 1, 0 };
    const bool qg[] = { true, false, true }, qh[] = { true, true, false };
    CHECK(equiv_add(s, g, qg, 3, 1, 3) == 1, "w0 quiet, w0 ordered, w1 quiet");
    CHECK(equiv_add(s, h, qh, 3, 1, 3) == 1, "w0 quiet, w1 quiet, w0 ordered: the ordered step moved: another class");

    /* Many keys: the set grows and keeps them all. */
    int seen = 0;
    for (int k = 0; k < 5000; k++) {
        int w[13];
        bool q[13];
        for (int i = 0; i < 13; i++) {
            w[i] = (k >> i) & 1;
            q[i] = false;
        }
        seen += equiv_add(s, w, q, 13, 0, 1) == 1;
    }
    CHECK(seen == 5000, "5000 distinct ordered prefixes: 5000 classes (%d)", seen);
    equiv_free(s);
    return check_done();
}
