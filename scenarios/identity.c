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
 * Statuses, as the seed answers: 200 verified; 409 "Identity already
 * verified"; a failure is a 500.
 *
 * The seed's own first test: the SAME user verifying twice at once must
 * give one 200 and one 409, one success audit, the hash set once. The
 * seed's fix as written fails it: its check lets the holder through
 * (existingUser.id !== userId), so both transactions find the hash free,
 * both UPDATE the one user row — the second waits for the first's row lock,
 * then at READ COMMITTED updates the row the first committed — and both
 * write a success audit: 200 and 200, two success audits, the hash set
 * twice (a later re-verify by the holder does the same). The fixed form
 * claims only an unverified row (UPDATE ... WHERE identity_hash IS NULL):
 * the second then updates nothing and is refused with 409 and a failure
 * audit. A re-verify that starts after the holder's verification committed
 * finds the hash its own and gets 200 without a second claim or audit (the
 * idempotent retry of a request whose COMMIT the client did not see).
 *
 * What persists of a refusal, read from the seed: its failure audit is
 * written inside the transaction that then throws the 409, and Prisma rolls
 * a throwing $transaction back, so the seed's failure audits never persist
 * (its claim "audit trail guaranteed" holds only for successes). The fixed
 * form here makes the refusal's audit survive: a refusal found by the check
 * or by the claim commits its failure audit (the transaction wrote nothing
 * else) before answering 409; a refusal found by the constraint (the
 * transaction is aborted) rolls back and writes the failure audit in its
 * own statement. So the fixed form guarantees: one success audit per
 * verified user and none for anyone else; every refusal (and every attempt
 * that failed on its own, not by an injected fault) has a failure audit.
 *
 * What the in-transaction check is worth at READ COMMITTED: it takes no
 * lock and reads its own snapshot, so it sees exactly what it would see
 * before BEGIN, and it does not stop two users' concurrent claims (the
 * constraint does). What it gives is the holder's re-verify answered 200
 * instead of a refused claim, and another user's refusal before any write.
 *
 * The pre-fix forms:
 *   no-tx    the seed's "before": check, update and audit in autocommit
 *            statements on a table with no unique constraint (N concurrent
 *            verifies of one hash all succeed; a failed audit leaves a
 *            verified user without a success audit);
 *   seed-tx  the seed's fix as written: one transaction and the constraint,
 *            but the holder passes the check and claims again (its own first
 *            test fails: 200 twice, the hash set twice), the refusal's audit
 *            is rolled back with the 409, and a 23505 reaches the caller as
 *            an error.
 *
 * The schema is per scenario, not per variant: `users` has the constraint
 * (the transactional forms), `users_loose` has not (no-tx); setup creates
 * iteration i's users in both and the invariants read the view over both.
 * A trigger counts every UPDATE that sets a user's hash (claims), and each
 * audit row names the request (worker, attempt) that wrote it: the
 * harness's instruments, not the seed's columns.
 *
 * Workload, by iteration: every worker of iteration i is a *racer* when i
 * is even and a *twin* when it is odd. Racers are N different users
 * claiming one identity hash at once (Sybil resistance: one wins, the rest
 * 409); twins are one user verifying one hash several times at once (the
 * seed's first test). Alternating by iteration covers both roles with one
 * worker, and each meets itself at any -n (the explorer's two workers).
 * Every audit row must name its caller's user and the hash it claimed:
 * racers are distinct users, so a refusal audited under the holder the
 * check found (the user beside the caller's in the code) shows.
 */
#include "engine/scenario.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char schema[] =
    "CREATE TABLE users ("
    "  id bigint PRIMARY KEY,"
    "  iteration bigint NOT NULL,"
    "  identity_hash text,"
    "  verified_at timestamptz,"
    "  claims int NOT NULL DEFAULT 0,"
    "  CONSTRAINT users_identity_hash_key UNIQUE (identity_hash));"
    "CREATE INDEX ON users (iteration);"
    /* The seed's table before the fix: indexed, not unique. */
    "CREATE TABLE users_loose ("
    "  id bigint PRIMARY KEY,"
    "  iteration bigint NOT NULL,"
    "  identity_hash text,"
    "  verified_at timestamptz,"
    "  claims int NOT NULL DEFAULT 0);"
    "CREATE INDEX ON users_loose (identity_hash);"
    "CREATE INDEX ON users_loose (iteration);"
    /* Every UPDATE that sets a hash counts as a claim, whatever the form's
     * statement: "identity_hash set exactly once" is claims <= 1. */
    "CREATE FUNCTION count_claim() RETURNS trigger LANGUAGE plpgsql AS $$"
    "  BEGIN"
    "    IF NEW.identity_hash IS NOT NULL THEN NEW.claims := OLD.claims + 1; END IF;"
    "    RETURN NEW;"
    "  END $$;"
    "CREATE TRIGGER users_claim BEFORE UPDATE OF identity_hash ON users"
    "  FOR EACH ROW EXECUTE FUNCTION count_claim();"
    "CREATE TRIGGER users_loose_claim BEFORE UPDATE OF identity_hash ON users_loose"
    "  FOR EACH ROW EXECUTE FUNCTION count_claim();"
    "CREATE VIEW every_user AS"
    "  SELECT id, iteration, identity_hash, claims FROM users"
    "  UNION ALL SELECT id, iteration, identity_hash, claims FROM users_loose;"
    "CREATE TABLE verification_audit ("
    "  id bigserial PRIMARY KEY,"
    "  iteration bigint NOT NULL,"
    "  user_id bigint NOT NULL,"
    "  identity_hash text NOT NULL,"
    "  outcome text NOT NULL CHECK (outcome IN ('success', 'failure')),"
    "  request text NOT NULL,"
    "  at timestamptz NOT NULL DEFAULT clock_timestamp());"
    "CREATE INDEX ON verification_audit (iteration);";

#define USERS_PER_ITERATION 100000L

/* Every worker of iteration i: a twin when i is odd, else a racer (each
 * kind meets itself at any -n: the explorer's two workers are one user
 * twice, or two users racing for one hash). */
static bool is_twin(long iteration, int worker)
{
    (void)worker;
    return iteration % 2 != 0;
}

/* The user worker w verifies in iteration i: its own (racer), or the
 * iteration's one twin user. */
static long user_of(long iteration, int worker)
{
    return iteration * USERS_PER_ITERATION + (is_twin(iteration, worker) ? 0 : worker + 1);
}

/* The hash worker w claims in iteration i. */
static void hash_of(long iteration, int worker, char *buf, size_t len)
{
    snprintf(buf, len, "idh-%ld%s", iteration, is_twin(iteration, worker) ? "-twin" : "");
}

/* Users 0 (the twins') and 1..N (the racers'), 100000 (USERS_PER_ITERATION)
 * apart per iteration, in both tables. */
static const char setup_sql[] =
    "WITH u AS (INSERT INTO users (id, iteration) "
    "           SELECT $1 * 100000 + g, $1 FROM generate_series(0, $2) g RETURNING id) "
    "INSERT INTO users_loose (id, iteration) SELECT id, $1 FROM u";

/* One form of the operation: its table's statements and which parts of the
 * fix it has. */
typedef struct form {
    const char *check, *claim;
    bool tx;                    /* check, claim and audit in one transaction */
    bool map_unique;            /* 23505 is a refusal: audited, conflict */
    bool keep_refusal_audit;    /* the refusal's audit is committed, not rolled back */
    bool holder_is_done;        /* the holder re-verifying gets ok, no second claim or audit */
    bool claim_unverified;      /* the claim updates only a row without a hash */
} form;

#define CHECK_ON(t) "SELECT id FROM " t " WHERE identity_hash = $1"
#define CLAIM_ON(t) "UPDATE " t " SET identity_hash = $1, verified_at = now() WHERE id = $2"

static const form form_fixed = {
    .check = CHECK_ON("users"), .claim = CLAIM_ON("users"), .tx = true, .map_unique = true,
    .keep_refusal_audit = true, .holder_is_done = true, .claim_unverified = true,
};
static const form form_no_tx = {
    .check = CHECK_ON("users_loose"), .claim = CLAIM_ON("users_loose"), .keep_refusal_audit = true,
    .holder_is_done = true,
};
static const form form_seed_tx = { .check = CHECK_ON("users"), .claim = CLAIM_ON("users"), .tx = true };

static const char audit_sql[] =
    "INSERT INTO verification_audit (iteration, user_id, identity_hash, outcome, request) "
    "VALUES ($1, $2, $3, $4, $5)";

/* Each audit row names the request that wrote it: its call's tag. */
static int audit(const drv_call *c, const char *user, const char *hash, const char *outcome)
{
    char it[24], request[CALL_TAG_LEN];
    snprintf(it, sizeof it, "%ld", c->iteration);
    call_tag(c, request, sizeof request);
    const char *p[] = { it, user, hash, outcome, request };
    return call_exec(c, NULL, audit_sql, 5, p);
}

/* A refusal found inside the transaction, which wrote nothing yet: its
 * failure audit, committed when the form keeps it (else the refusal's
 * rollback takes it, as the seed's throw does), then 409. */
static void refuse_audited(const drv_call *c, const form *f, const char *user, const char *hash, const char *why)
{
    if (audit(c, user, hash, "failure") < 0) {
        call_failed(c, NULL);
        return;
    }
    if (f->tx && f->keep_refusal_audit && GUARANTEE(c, "refusal-audit") && call_exec(c, NULL, "COMMIT", 0, NULL) < 0) {
        call_failed(c, NULL);
        return;
    }
    call_refuse(c, STATUS_CONFLICT, why);
}

static void verify(const drv_call *c, const form *f)
{
    char user[24], hash[32];
    snprintf(user, sizeof user, "%ld", user_of(c->iteration, c->worker));
    hash_of(c->iteration, c->worker, hash, sizeof hash);
    if (f->tx && call_exec(c, NULL, "BEGIN", 0, NULL) < 0) {
        call_failed(c, NULL);
        return;
    }
    char holder[24] = "";
    if (GUARANTEE(c, "duplicate-check")) {
        const char *cp[] = { hash };
        PGresult *r;
        if (call_exec(c, &r, f->check, 1, cp) < 0) {
            call_failed(c, NULL);
            return;
        }
        if (PQntuples(r) > 0)
            snprintf(holder, sizeof holder, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    if (holder[0] && strcmp(holder, user) == 0 && f->holder_is_done) {
        /* Read-only so far: nothing to commit, but the transaction is
         * ended before the answer, so the connection goes back idle. */
        if (GUARANTEE(c, "read-rollback"))
            call_rollback(c);
        call_ok(c, user);
        return;
    }
    if (holder[0] && strcmp(holder, user) != 0) {
        /* The audit names the refused caller (the loss: the holder the
         * check just read, in the variable beside it). */
        refuse_audited(c, f, GUARANTEE(c, "audit-actor") ? user : holder, hash, "identity already verified");
        return;
    }
    drv_pause(c, "after-check");
    char claim[160];
    snprintf(claim, sizeof claim, "%s%s", f->claim,
             f->claim_unverified && GUARANTEE(c, "claim-unverified") ? " AND identity_hash IS NULL" : "");
    const char *up[] = { hash, user };
    PGresult *r;
    if (call_exec(c, &r, claim, 2, up) < 0) {
        if (!f->map_unique || !GUARANTEE(c, "map-23505") || strcmp(call_sqlstate(c), "23505") != 0) {
            call_failed(c, NULL);
            return;
        }
        /* Another user's claim committed first: the transaction is
         * aborted, so the refusal is audited in a statement of its own. */
        call_rollback(c);
        if (audit(c, user, hash, "failure") < 0) {
            call_failed(c, "failure audit after a unique violation");
            return;
        }
        call_refuse(c, STATUS_CONFLICT, "identity already verified (unique violation)");
        return;
    }
    bool claimed = atol(PQcmdTuples(r)) == 1;
    PQclear(r);
    if (!claimed) {
        /* The row got a hash after the check read it: a concurrent verify
         * of the same user committed first (the seed's first test). */
        refuse_audited(c, f, user, hash, "identity already verified (by a concurrent request)");
        return;
    }
    if (f->tx && !GUARANTEE(c, "audit-in-tx")) {
        /* The loss: the claim committed before its audit is written. */
        if (call_exec(c, NULL, "COMMIT", 0, NULL) < 0) {
            call_failed(c, NULL);
            return;
        }
        if (audit(c, user, hash, "success") < 0) {
            call_failed(c, NULL);
            return;
        }
        call_ok(c, user);
        return;
    }
    if (audit(c, user, hash, "success") < 0) {
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

/* ---- invariants ---- */

/* The iteration's users and audit rows, which three invariants read. Each
 * user is in both tables (one of them untouched): one row per user, with
 * the hash and the claims either row has. */
#define USERS "SELECT id, coalesce(max(identity_hash), ''), sum(claims) FROM every_user WHERE iteration = $1 " \
              "GROUP BY id ORDER BY id"
#define AUDITS "SELECT user_id, outcome, request, identity_hash FROM verification_audit WHERE iteration = $1 " \
               "ORDER BY id"

/* The hash user holds ("" if none), from x->rows[0] (USERS). */
static const char *held_by(const inv_ctx *x, long user)
{
    const PGresult *users = x->rows[0];
    for (int i = 0; i < PQntuples(users); i++)
        if (atol(PQgetvalue(users, i, 0)) == user)
            return PQgetvalue(users, i, 1);
    return "";
}

/* The audit rows (x->rows[1], AUDITS) of outcome written by call c, or by
 * any request of user when c is NULL. */
static int audits_of(const inv_ctx *x, const char *outcome, long user, const call_record *c)
{
    const PGresult *audits = x->rows[1];
    char request[CALL_TAG_LEN];
    if (c)
        inv_tag(x, c, request, sizeof request);
    int n = 0;
    for (int i = 0; i < PQntuples(audits); i++)
        if (strcmp(PQgetvalue(audits, i, 1), outcome) == 0 &&
            (c ? strcmp(PQgetvalue(audits, i, 2), request) == 0 : atol(PQgetvalue(audits, i, 0)) == user))
            n++;
    return n;
}

/* When the call's verification was committed for sure: its last COMMIT
 * returned (or, ambiguous, failed: the server committed first), or, for an
 * autocommit form, its last audit insert returned. -1 when neither ran. */
static int64_t committed_by(const call_record *c)
{
    int64_t t = -1;
    for (const pqx_event *e = NULL; (e = inv_statement(c, "COMMIT", e));)
        t = e->t_done;
    for (const pqx_event *e = NULL; (e = inv_statement(c, "INSERT INTO verification_audit", e));)
        t = !e->failed && e->t_done > t ? e->t_done : t;
    return t;
}

/* At most one user holds each identity hash. */
static int inv_one_user(inv_ctx *x)
{
    const PGresult *r = x->rows[0];
    if (PQntuples(r) == 0)
        return 1;
    return inv_violated(x, "identity hash %s held by %s users (%.300s)", PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1),
                        PQgetvalue(r, 0, 2));
}

/* Per hash (the racers', the twins'), with the seed's statuses: the verifies
 * that got 200 are all of one user; every other one got 409, none an error
 * the shim did not cause; someone got 200 unless the shim failed a call;
 * and a verify that began after its user's verification had committed got
 * 200 (the holder's re-verify), not 409. */
static int inv_one_wins(inv_ctx *x)
{
    char found[400] = "";
    for (int twin = 0; twin < 2; twin++) {
        long ok_user = -1;
        int oks = 0, calls = 0, faulted = 0;
        for (int i = 0; i < x->ncalls; i++) {
            const call_record *c = &x->calls[i];
            if (is_twin(x->iteration, c->worker) != (twin == 1))
                continue;
            calls++;
            faulted += c->faults > 0;
            long user = user_of(x->iteration, c->worker);
            if (c->out.kind == OUT_OK) {
                oks++;
                if (c->out.status != STATUS_OK)
                    inv_call_detail(x, c, "ok, but not 200");
                if (ok_user >= 0 && ok_user != user && !found[0])
                    snprintf(found, sizeof found, "users %ld and %ld both got 200 for one identity hash", ok_user,
                             user);
                ok_user = user;
            } else if (c->out.kind == OUT_CONFLICT ? c->out.status != STATUS_CONFLICT : !c->faults) {
                inv_call_detail(x, c, "neither 200 nor 409");
            }
        }
        if (calls && !oks && !faulted && !found[0])
            snprintf(found, sizeof found, "no verify of the %s hash got 200 (%d calls)", twin ? "twins'" : "racers'",
                     calls);
    }
    /* The holder's re-verify: after the winning request's commit, its user's
     * verifies find the hash their own. */
    for (int w = 0; w < x->ncalls; w++) {
        const call_record *win = &x->calls[w];
        long user = user_of(x->iteration, win->worker);
        char hash[32];
        hash_of(x->iteration, win->worker, hash, sizeof hash);
        if (strcmp(held_by(x, user), hash) != 0 || audits_of(x, "success", user, win) == 0)
            continue;
        int64_t committed = committed_by(win);
        for (int i = 0; i < x->ncalls && committed >= 0; i++) {
            const call_record *c = &x->calls[i];
            if (user_of(x->iteration, c->worker) == user && c->t_start > committed && !c->faults &&
                c->out.kind != OUT_OK)
                inv_call_detail(x, c, "though it began %.2fms after its user's verification committed (a re-verify "
                                "by the holder is 200)", (double)(c->t_start - committed) / 1e6);
        }
    }
    if (found[0])
        return inv_violated(x, "%s", found);
    return inv_verdict(x, "%d verify(s) answered wrongly, first: %.300s", inv_ndetails(x), inv_first_detail(x));
}

/* Audit rows match outcomes: each of the iteration's users has one success
 * audit if it holds a hash and none otherwise, written by a request that got
 * 200 or may have committed; every 200 is for a user that holds its hash;
 * every refused request, and every request that failed without an injected
 * fault, wrote its own failure audit. */
static int inv_audited(inv_ctx *x)
{
    const PGresult *users = x->rows[0];
    for (int i = 0; i < PQntuples(users); i++) {
        long user = atol(PQgetvalue(users, i, 0));
        bool holds = PQgetvalue(users, i, 1)[0] != '\0';
        int successes = audits_of(x, "success", user, NULL);
        if (successes != (holds ? 1 : 0))
            inv_detail(x, "user %ld %s a hash and has %d success audits", user, holds ? "holds" : "does not hold",
                       successes);
    }
    for (int k = 0; k < x->ncalls; k++) {
        const call_record *c = &x->calls[k];
        long user = user_of(x->iteration, c->worker);
        char hash[32];
        hash_of(x->iteration, c->worker, hash, sizeof hash);
        if (c->out.kind == OUT_OK && strcmp(held_by(x, user), hash) != 0)
            inv_call_detail(x, c, "user %ld does not hold hash %s", user, hash);
        else if (c->out.kind != OUT_OK && (c->out.kind == OUT_CONFLICT || !c->faults) &&
                 audits_of(x, "failure", user, c) == 0)
            inv_call_detail(x, c, "wrote no failure audit");
        if (c->out.kind != OUT_OK && !call_maybe_committed(c) && audits_of(x, "success", user, c) > 0)
            inv_call_detail(x, c, "its success audit committed");
    }
    return inv_verdict(x, "%d audit mismatch(es), first: %.300s", inv_ndetails(x), inv_first_detail(x));
}

/* The seed's "User.identity_hash set exactly once": no user's hash is set by
 * more than one UPDATE (the claims the trigger counted). */
static int inv_set_once(inv_ctx *x)
{
    const PGresult *users = x->rows[0];
    for (int i = 0; i < PQntuples(users); i++)
        if (atol(PQgetvalue(users, i, 2)) > 1)
            inv_detail(x, "user %s: hash %s set by %s updates", PQgetvalue(users, i, 0), PQgetvalue(users, i, 1),
                       PQgetvalue(users, i, 2));
    return inv_verdict(x, "%.300s", inv_first_detail(x));
}

/* Every audit row names the request's own user and the hash it claimed:
 * the row is about the caller, whoever else the check found holding the
 * hash. */
static int inv_audit_actors(inv_ctx *x)
{
    const PGresult *audits = x->rows[1];
    for (int i = 0; i < PQntuples(audits); i++) {
        long it;
        int w, a;
        const char *request = PQgetvalue(audits, i, 2);
        if (sscanf(request, "call-%ld-%d-%d", &it, &w, &a) != 3 || w < 1 || w > x->nworkers) {
            inv_detail(x, "audit row %d names request %s, which is no call of the iteration", i + 1, request);
            continue;
        }
        char hash[32];
        hash_of(x->iteration, w - 1, hash, sizeof hash);
        long user = user_of(x->iteration, w - 1);
        if (atol(PQgetvalue(audits, i, 0)) != user || strcmp(PQgetvalue(audits, i, 3), hash) != 0)
            inv_detail(x, "%s audit of %s names user %s and hash %s; its caller is user %ld claiming %s",
                       PQgetvalue(audits, i, 1), request, PQgetvalue(audits, i, 0), PQgetvalue(audits, i, 3), user,
                       hash);
    }
    return inv_verdict(x, "%d audit row(s) about another user or hash, first: %.300s", inv_ndetails(x),
                       inv_first_detail(x));
}

static const scenario_variant variants[] = {
    { .name = "fixed", .op = op_fixed,
      .summary = "one tx: check, claim of an unverified row, success audit; unique constraint; refusals audited and 409" },
    { .name = "no-tx", .op = op_no_tx,
      .summary = "check, claim and audit in autocommit statements, no unique constraint",
      .caught = { { "none", "one-user" }, { "audit-error", "audited" } } },
    { .name = "seed-tx", .op = op_seed_tx,
      .summary = "the seed's fix as written: the holder claims again, refusal audit rolled back with the 409, "
                 "23505 unmapped",
      .caught = { { "none", "set-once" } } },
};

static const scenario_invariant invariants[] = {
    { "one-user", "one user per identity hash", inv_one_user,
      { "SELECT identity_hash, count(*), string_agg(id::text, ', ' ORDER BY id) FROM every_user "
        "WHERE iteration = $1 AND identity_hash IS NOT NULL GROUP BY identity_hash HAVING count(*) > 1 "
        "ORDER BY identity_hash" } },
    { "one-wins", "one user's verify wins (200), the rest 409; the holder's re-verify 200", inv_one_wins,
      { USERS, AUDITS } },
    { "audited", "audit rows match outcomes", inv_audited, { USERS, AUDITS } },
    { "set-once", "a user's identity hash is set once", inv_set_once, { USERS } },
    { "audit-actors", "every audit row names its caller and the hash it claimed", inv_audit_actors,
      { USERS, AUDITS } },
};

static const char *const pause_points[] = {
    "after-check: after the identity-hash check, before the claim",
};

static const scenario_plan plans[] = {
    /* No retry: no-tx's retry would repair what its failed audit left
     * behind, and the plan is there to show what that leaves. */
    { .name = "audit-error",
      .summary = "each connection's first audit insert fails (XX000); no retry: the seed's transaction "
      "rollback test",
      .fault = "sql=/^INSERT INTO verification_audit/:when=1:error=XX000" },
    { .name = "ambiguous-commit",
      .summary = "each connection's first COMMIT commits but the client sees a lost connection; "
      "1 retry (the holder's re-verify)",
      .fault = "commit:when=1:ambiguous",
      .retries = 1 },
    { .name = "commit-error",
      .summary = "each connection's first COMMIT fails (40001) and rolls back; 1 retry",
      .fault = "commit:when=1:error=40001",
      .retries = 1 },
    { .name = "widen",
      .summary = "a 1ms pause between the check and the claim",
      .pause = "after-check=1ms" },
};

static const scenario_pin pins[] = {
    { .name = "commit-before-ok", .plan = "commit-error",
      .what = "the caller gets 200 only once COMMIT succeeded" },
    { .name = "unique-identity-hash", .plan = "widen",
      .what = "the unique constraint on identity_hash closes the race the check leaves open",
      .unpin_sql = "ALTER TABLE users DROP CONSTRAINT users_identity_hash_key" },
    { .name = "duplicate-check", .plan = "ambiguous-commit",
      .what = "the in-transaction duplicate check: the holder's re-verify is 200, not a refused claim" },
    { .name = "claim-unverified", .plan = "widen",
      .what = "the claim updates only an unverified row: the same user verifying twice at once gets one 409" },
    { .name = "map-23505", .plan = "widen",
      .what = "a unique violation is a refusal (409, audited), not a 500" },
    { .name = "audit-in-tx", .plan = "audit-error",
      .what = "the success audit is written in the claim's transaction: both or neither" },
    { .name = "audit-actor", .plan = "none",
      .what = "a refusal's audit names the refused caller, not the user holding the hash",
      .invariant = "audit-actors" },
    { .name = "read-rollback", .plan = "ambiguous-commit",
      .what = "the holder's re-verify ends its read-only transaction before answering: the connection goes back idle",
      .invariant = "connection" },
    { .name = "refusal-audit", .plan = "widen",
      .what = "a refusal's failure audit is committed before the 409" },
};

/* The serial oracle (--oracle serial) judges racers; twins are outside
 * what a serial order gives, by the seed's own first test. */
static const char *oracle_outside(const inv_ctx *x)
{
    return is_twin(x->iteration, 0) ? "twins (one user verifying one hash at once): the seed requires one 200 and one "
                                      "409 with a failure audit, where a serial order gives 200 twice (a re-verify "
                                      "after the first committed is an idempotent retry)"
                                    : NULL;
}

const scenario scenario_identity = {
    .name = "identity",
    .summary = "identity verification: unique identity hash, an audit row per attempt",
    .seed = "002_c8c7b57aaf837e98",
    .schema_sql = schema,
    .setup_sql = setup_sql,
    .workload_period = 2,           /* twins and racers alternate by iteration */
    .oracle = { .outside = oracle_outside },
    VARIANTS(variants),
    INVARIANTS(invariants),
    PLANS(plans),
    PAUSE_POINTS(pause_points),
    PINS(pins),
};
