/*
 * identity.c — identity verification: check-and-set of a unique identity
 * hash with an audit row per attempt (seed 002_c8c7b57aaf837e98, issue 1).
 *
 * Verifying a user sets users.identity_hash, which no two users may share
 * (Sybil resistance), and writes verification_audit (user, hash, outcome).
 * The fix runs the check, the update and the success audit in one
 * transaction, and the unique constraint on identity_hash closes the race
 * the check alone leaves open at READ COMMITTED (N transactions can all see
 * the hash free); a unique violation (23505) is a refusal (409), not a 500.
 *
 * What persists of a refusal, read from the seed: its failure audit is
 * written inside the transaction that then throws the 409, and Prisma rolls
 * a throwing $transaction back, so the seed's failure audits never persist
 * (its claim "audit trail guaranteed" holds only for successes). The fixed
 * form here makes the refusal's audit survive: a refusal found by the check
 * commits its failure audit (the transaction wrote nothing else) before
 * answering 409; a refusal found by the constraint (the transaction is
 * aborted) rolls back and writes the failure audit in its own statement.
 * A user who already holds the hash (a retry whose first attempt committed
 * though its client saw a failure) gets ok without a second success audit:
 * the success was audited by the attempt that made it. So the fixed form
 * guarantees: one success audit per verified user and none for anyone
 * else; every refusal (and every attempt that failed on its own, not by an
 * injected fault) has a failure audit.
 *
 * The pre-fix forms:
 *   no-tx    the seed's "before": check, update and audit in autocommit
 *            statements on a table with no unique constraint (N concurrent
 *            verifies of one hash all succeed; a failed audit leaves a
 *            verified user without a success audit);
 *   seed-tx  the seed's fix as written: one transaction and the constraint,
 *            but the refusal's audit is rolled back with the 409, a 23505
 *            reaches the caller as an error, and a re-verify by the holder
 *            writes a second success audit.
 *
 * The schema is per scenario, not per variant: `users` has the constraint
 * (the transactional forms), `users_loose` has not (no-tx); setup creates
 * iteration i's users in both and the invariants read the view over both.
 * Workload: worker w verifies user i*100000 + w + 1 with hash "idh-i": N
 * different users claim one identity at once.
 */
#include "harness/scenario.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char schema[] =
    "CREATE TABLE users ("
    "  id bigint PRIMARY KEY,"
    "  iteration bigint NOT NULL,"
    "  identity_hash text,"
    "  verified_at timestamptz,"
    "  CONSTRAINT users_identity_hash_key UNIQUE (identity_hash));"
    "CREATE INDEX ON users (iteration);"
    /* The seed's table before the fix: indexed, not unique. */
    "CREATE TABLE users_loose ("
    "  id bigint PRIMARY KEY,"
    "  iteration bigint NOT NULL,"
    "  identity_hash text,"
    "  verified_at timestamptz);"
    "CREATE INDEX ON users_loose (identity_hash);"
    "CREATE INDEX ON users_loose (iteration);"
    "CREATE VIEW every_user AS"
    "  SELECT id, iteration, identity_hash FROM users"
    "  UNION ALL SELECT id, iteration, identity_hash FROM users_loose;"
    "CREATE TABLE verification_audit ("
    "  id bigserial PRIMARY KEY,"
    "  iteration bigint NOT NULL,"
    "  user_id bigint NOT NULL,"
    "  identity_hash text NOT NULL,"
    "  outcome text NOT NULL CHECK (outcome IN ('success', 'failure')),"
    "  at timestamptz NOT NULL DEFAULT clock_timestamp());"
    "CREATE INDEX ON verification_audit (iteration);";

#define USERS_PER_ITERATION 100000L

static long user_of(long iteration, int worker) { return iteration * USERS_PER_ITERATION + worker + 1; }
static void hash_of(long iteration, char *buf, size_t len) { snprintf(buf, len, "idh-%ld", iteration); }

static int setup(PGconn *ctl, long iteration, int nworkers, char *err, size_t errlen)
{
    char it[24], n[12], per[24];
    snprintf(it, sizeof it, "%ld", iteration);
    snprintf(n, sizeof n, "%d", nworkers);
    snprintf(per, sizeof per, "%ld", USERS_PER_ITERATION);
    const char *p[] = { it, n, per };
    PGresult *r = pqx_ctl_query(ctl,
        "WITH u AS (INSERT INTO users (id, iteration) "
        "           SELECT $1::bigint * $3::bigint + g, $1 FROM generate_series(1, $2::int) g RETURNING id) "
        "INSERT INTO users_loose (id, iteration) SELECT id, $1 FROM u", 3, p, err, errlen);
    PQclear(r);
    return r ? 0 : -1;
}

/* One form of the operation: its table's statements and which parts of the
 * fix it has. */
typedef struct form {
    const char *check, *claim;
    bool tx;                    /* check, claim and audit in one transaction */
    bool map_unique;            /* 23505 is a refusal: audited, conflict */
    bool keep_refusal_audit;    /* the refusal's audit is committed, not rolled back */
    bool holder_is_done;        /* the holder re-verifying gets ok, no second audit */
} form;

#define ON_TABLE(t)                                                                         \
    "SELECT id FROM " t " WHERE identity_hash = $1",                                        \
    "UPDATE " t " SET identity_hash = $1, verified_at = now() WHERE id = $2"

static const form form_fixed = { ON_TABLE("users"), true, true, true, true };
static const form form_no_tx = { ON_TABLE("users_loose"), false, false, true, false };
static const form form_seed_tx = { ON_TABLE("users"), true, false, false, false };

static const char audit_sql[] =
    "INSERT INTO verification_audit (iteration, user_id, identity_hash, outcome) VALUES ($1, $2, $3, $4)";

static int audit(const drv_call *c, const char *it, const char *user, const char *hash, const char *outcome)
{
    const char *p[] = { it, user, hash, outcome };
    return call_exec(c, NULL, audit_sql, 4, p);
}

static void verify(const drv_call *c, const form *f)
{
    char it[24], user[24], hash[32];
    snprintf(it, sizeof it, "%ld", c->iteration);
    snprintf(user, sizeof user, "%ld", user_of(c->iteration, c->worker));
    hash_of(c->iteration, hash, sizeof hash);
    if (f->tx && call_exec(c, NULL, "BEGIN", 0, NULL) < 0) {
        call_failed(c, NULL);
        return;
    }
    const char *cp[] = { hash };
    PGresult *r;
    if (call_exec(c, &r, f->check, 1, cp) < 0) {
        call_failed(c, NULL);
        return;
    }
    char holder[24] = "";
    if (PQntuples(r) > 0)
        snprintf(holder, sizeof holder, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (holder[0] && strcmp(holder, user) == 0 && f->holder_is_done) {
        /* Read-only so far: nothing to commit. */
        call_rollback(c);
        call_ok(c, user);
        return;
    }
    if (holder[0] && strcmp(holder, user) != 0) {
        if (audit(c, it, user, hash, "failure") < 0) {
            call_failed(c, NULL);
            return;
        }
        if (f->tx && f->keep_refusal_audit && call_exec(c, NULL, "COMMIT", 0, NULL) < 0) {
            call_failed(c, NULL);
            return;
        }
        /* Else, in a transaction: the seed throws its 409 here, and the
         * throw rolls the transaction back, audit included (as the
         * refusal's rollback does). */
        call_refuse(c, STATUS_CONFLICT, "identity already verified");
        return;
    }
    drv_pause(c, "after-check");
    const char *up[] = { hash, user };
    if (call_exec(c, NULL, f->claim, 2, up) < 0) {
        if (!f->map_unique || strcmp(call_sqlstate(c), "23505") != 0) {
            call_failed(c, NULL);
            return;
        }
        /* Another user's claim committed first: the transaction is
         * aborted, so the refusal is audited in a statement of its own. */
        call_rollback(c);
        if (audit(c, it, user, hash, "failure") < 0) {
            call_failed(c, "failure audit after a unique violation");
            return;
        }
        call_refuse(c, STATUS_CONFLICT, "identity already verified (unique violation)");
        return;
    }
    if (audit(c, it, user, hash, "success") < 0) {
        call_failed(c, NULL);
        return;
    }
    if (f->tx)
        call_commit_ok(c, user);
    else
        call_ok(c, user);
}

static void op_fixed(const drv_call *c) { verify(c, &form_fixed); }
static void op_no_tx(const drv_call *c) { verify(c, &form_no_tx); }
static void op_seed_tx(const drv_call *c) { verify(c, &form_seed_tx); }

static json_t *call_line(const call_record *c, const char *what)
{
    char line[400];
    snprintf(line, sizeof line, "worker %d%s: %.300s", c->worker + 1, c->attempt ? " (retry)" : "", what);
    return json_string(line);
}

/* At most one user holds the iteration's identity hash. */
static int inv_one_user(inv_ctx *x)
{
    char hash[32], it[24];
    hash_of(x->iteration, hash, sizeof hash);
    snprintf(it, sizeof it, "%ld", x->iteration);
    const char *p[] = { it, hash };
    PGresult *r = pqx_ctl_query(x->ctl,
        "SELECT count(*), coalesce(string_agg(id::text, ', ' ORDER BY id), '') FROM every_user "
        "WHERE iteration = $1 AND identity_hash = $2", 2, p, x->err, x->errlen);
    if (!r)
        return -1;
    long n = atol(PQgetvalue(r, 0, 0));
    char found[400];
    snprintf(found, sizeof found, "identity hash %s held by %ld users (%.300s)", hash, n, PQgetvalue(r, 0, 1));
    PQclear(r);
    if (n <= 1)
        return 1;
    inv_violated(x, found, "details", NULL);
    json_object_set_new(x->found, "users", json_integer(n));
    return 0;
}

/* Exactly one caller gets ok and every other one conflict (409); a call the
 * fault shim failed is excused (it may be the one that would have won). */
static int inv_one_ok(inv_ctx *x)
{
    json_t *bad = inv_list(x, NULL);
    if (!bad)
        return -1;
    int oks = 0, faulted = 0;
    char who[256] = "";
    size_t used = 0;
    for (int i = 0; i < x->ncalls; i++) {
        const call_record *c = &x->calls[i];
        faulted += c->faults > 0;
        if (c->out.kind == OUT_OK) {
            oks++;
            int w = snprintf(who + used, sizeof who - used, "%s%d", used ? ", " : "", c->worker + 1);
            if (w > 0 && used + (size_t)w < sizeof who)
                used += (size_t)w;
        } else if (c->out.kind != OUT_CONFLICT && !c->faults) {
            char what[300];
            snprintf(what, sizeof what, "%s %s %.200s", outcome_name(c->out.kind), c->out.sqlstate, c->out.message);
            json_array_append_new(bad, call_line(c, what));
        }
    }
    if (json_array_size(bad) == 0 && (oks == 1 || (oks == 0 && faulted))) {
        json_decref(bad);
        return 1;
    }
    char found[400];
    snprintf(found, sizeof found, "%d ok (workers %s), %zu neither ok nor conflict", oks, oks ? who : "none",
             json_array_size(bad));
    inv_violated(x, found, "details", bad);
    return 0;
}

/* Audit rows match outcomes: each of the iteration's users has one success
 * audit if it holds the hash and none otherwise; every ok caller holds it;
 * every refused caller, and every caller that failed without an injected
 * fault, has a failure audit. */
static int inv_audited(inv_ctx *x)
{
    char hash[32], it[24];
    hash_of(x->iteration, hash, sizeof hash);
    snprintf(it, sizeof it, "%ld", x->iteration);
    const char *p[] = { it, hash };
    PGresult *r = pqx_ctl_query(x->ctl,
        /* Each user is in both tables (one of them untouched): one row per
         * user, holding the hash if either row does. */
        "SELECT u.id, u.holds,"
        "       count(a.id) FILTER (WHERE a.outcome = 'success'),"
        "       count(a.id) FILTER (WHERE a.outcome = 'failure') "
        "FROM (SELECT id, bool_or(identity_hash IS NOT DISTINCT FROM $2) AS holds FROM every_user "
        "      WHERE iteration = $1 GROUP BY id) u "
        "LEFT JOIN verification_audit a ON a.iteration = $1 AND a.user_id = u.id "
        "GROUP BY u.id, u.holds ORDER BY u.id", 2, p, x->err, x->errlen);
    if (!r)
        return -1;
    json_t *bad = inv_list(x, r);
    if (!bad)
        return -1;
    int nusers = PQntuples(r);
    for (int i = 0; i < nusers; i++) {
        bool holds = PQgetvalue(r, i, 1)[0] == 't';
        long successes = atol(PQgetvalue(r, i, 2));
        if (successes != (holds ? 1 : 0)) {
            char line[200];
            snprintf(line, sizeof line, "user %s %s the hash and has %ld success audits", PQgetvalue(r, i, 0),
                     holds ? "holds" : "does not hold", successes);
            json_array_append_new(bad, json_string(line));
        }
    }
    for (int k = 0; k < x->ncalls; k++) {
        const call_record *c = &x->calls[k];
        long user = user_of(x->iteration, c->worker);
        int row = -1;
        for (int i = 0; i < nusers; i++)
            if (atol(PQgetvalue(r, i, 0)) == user)
                row = i;
        if (row < 0)
            continue;
        bool holds = PQgetvalue(r, row, 1)[0] == 't';
        long failures = atol(PQgetvalue(r, row, 3));
        char what[300];
        if (c->out.kind == OUT_OK && !holds) {
            snprintf(what, sizeof what, "ok but user %ld does not hold the hash", user);
            json_array_append_new(bad, call_line(c, what));
        } else if (c->out.kind != OUT_OK && (c->out.kind == OUT_CONFLICT || !c->faults) && failures == 0) {
            snprintf(what, sizeof what, "%s %s but user %ld has no failure audit", outcome_name(c->out.kind),
                     c->out.sqlstate, user);
            json_array_append_new(bad, call_line(c, what));
        }
    }
    PQclear(r);
    if (json_array_size(bad) == 0) {
        json_decref(bad);
        return 1;
    }
    char found[400];
    snprintf(found, sizeof found, "%zu audit mismatch(es), first: %.300s", json_array_size(bad),
             json_string_value(json_array_get(bad, 0)));
    inv_violated(x, found, "details", bad);
    return 0;
}

#define ONE_USER "one user per identity hash"
#define AUDITED "audit rows match outcomes"

static const scenario_variant variants[] = {
    { .name = "fixed", .summary = "one tx: check, claim, success audit; unique constraint; refusals audited and 409", .op = op_fixed },
    { "no-tx", "check, claim and audit in autocommit statements, no unique constraint", op_no_tx,
      { { "none", ONE_USER }, { "audit-error", AUDITED } } },
    { "seed-tx", "the seed's fix as written: refusal audit rolled back with the 409, 23505 unmapped",
      op_seed_tx, { { "none", AUDITED } } },
};

static const scenario_invariant invariants[] = {
    { ONE_USER, inv_one_user },
    { "exactly one caller gets ok, the rest conflict", inv_one_ok },
    { AUDITED, inv_audited },
};

static const char *const pause_points[] = {
    "after-check: after the identity-hash check, before the claim",
};

static const scenario_plan plans[] = {
    /* No retry: no-tx's retry would repair what its failed audit left
     * behind, and the plan is there to show what that leaves. */
    { .name = "audit-error",
      .summary = "each connection's first audit insert fails (XX000); no retry",
      .fault = "sql=/^INSERT INTO verification_audit/:when=1:error=XX000" },
    { .name = "ambiguous-commit",
      .summary = "each connection's first COMMIT commits but the client sees a lost connection; "
      "1 retry",
      .fault = "commit:when=1:ambiguous",
      .retries = 1 },
    { .name = "widen",
      .summary = "a 1ms pause between the check and the claim",
      .pause = "after-check=1ms" },
};

const scenario scenario_identity = {
    .name = "identity",
    .summary = "identity verification: unique identity hash, an audit row per attempt",
    .seed = "002_c8c7b57aaf837e98",
    .schema_sql = schema,
    .setup = setup,
    VARIANTS(variants),
    INVARIANTS(invariants),
    PLANS(plans),
    PAUSE_POINTS(pause_points),
};
