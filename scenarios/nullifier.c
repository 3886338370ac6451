/*
 * nullifier.c — submission create: a unique nullifier and an optional
 * idempotency key (seed 002_c8c7b57aaf837e98, issues 2 and 3).
 *
 * A submission carries a nullifier (a one-time proof token: a second
 * submission with it is a double spend, refused with 409) and an
 * idempotency key (the client's request id: a retry of one request gets the
 * submission the first attempt created, with 200). The fix runs, in one
 * transaction: the key lookup first (found: return that submission), the
 * nullifier check (found: conflict), the insert; unique constraints on both
 * columns are the defence in depth that actually closes the race at READ
 * COMMITTED (two transactions can both pass the checks), and a unique
 * violation (23505) is resolved after the rollback by re-reading the key: a
 * row with the caller's key means its own request won (ok, that id), else
 * the nullifier was taken (conflict). One more step the seed lacks: at
 * READ COMMITTED the key lookup and the nullifier check read two different
 * snapshots, so a concurrent attempt of the caller's own request can commit
 * in between; the check then finds the nullifier taken by a row holding the
 * caller's key, which is the caller's submission (ok), not a double spend.
 * (Without that step the seed's fix refused such retries in about a quarter
 * of the iterations at -n 8.) Statuses, as the seed answers: 200 for a new
 * submission and for an idempotent retry (the same data), 409 "Duplicate
 * nullifier"; a failure is a 500.
 *
 * What each part is worth in the fixed form, and which plan shows it (the
 * pins below): the nullifier constraint stops concurrent double spends
 * (widen); the key constraint stops one key getting two submissions when a
 * client reuses it for another payload (widen); the key reads — the lookup
 * first and the re-read after a unique violation — give a request whose key
 * has a submission that submission (none); the own-key step gives it to a
 * copy whose own request committed between its two reads (stagger); the
 * 23505 mapping makes a lost race a 409 (widen); commit before ok
 * (commit-error). Two parts of the seed's fix are not guarantees here, only
 * optimizations: the nullifier check (the constraint plus the 23505
 * resolution refuse every duplicate, committed or concurrent, with the same
 * 409; at READ COMMITTED the check's place inside the transaction adds
 * nothing, it takes no lock), and the first key lookup taken alone (a
 * request it would answer is answered the same by the own-key step or the
 * re-read after the unique violation): removing either changes no row and
 * no status under any plan.
 *
 * The pre-fix forms:
 *   no-constraint   the seed's "before": check-then-insert in autocommit
 *                   statements on a table with no unique constraint (N
 *                   concurrent submits of one nullifier all insert; N
 *                   retries of one key create N submissions);
 *   no-idempotency  transaction and constraints, but no key lookup: a retry
 *                   of an accepted request is refused as a double spend;
 *   unmapped-23505  the seed's fix as written: transaction, key lookup and
 *                   constraints, but a unique violation reaches the caller
 *                   as an error, so a retry racing its own first attempt
 *                   fails instead of getting its id (and the snapshot gap
 *                   above refuses it as a double spend).
 *
 * The schema is per scenario, not per variant, so it holds two tables of
 * one shape: `submissions` with the seed's constraints (the forms that
 * have them) and `submissions_loose` without (no-constraint); ids come from
 * one sequence and the invariants read the view over both, so every form is
 * checked by the same SQL.
 *
 * Workload, by iteration: in iteration i every worker has role i mod 3, so
 * each role meets itself at any -n (the explorer's two workers race the
 * same nullifier or key) and one worker cycles through them. *Racers*
 * submit one nullifier, each with a key of its own (the seed's nullifier
 * collision test: one 200, the rest 409, one row); *retriers* are one
 * client's request sent several times at once (one nullifier, one key: the
 * seed's idempotency test, all 200 with one id); *reusers* are one client
 * reusing its key for different payloads at once (one key, a nullifier
 * each: the first accepted wins, every other call gets that submission,
 * 200, as the seed's key-first lookup answers). A retry after a failure
 * (the plans with retries) is the seed's sequential network retry.
 */
#include "engine/scenario.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char schema[] =
    "CREATE SEQUENCE submission_ids;"
    "CREATE TABLE submissions ("
    "  id bigint PRIMARY KEY DEFAULT nextval('submission_ids'),"
    "  iteration bigint NOT NULL,"
    "  worker int NOT NULL,"
    "  nullifier text NOT NULL,"
    "  idempotency_key text,"
    "  CONSTRAINT submissions_nullifier_key UNIQUE (nullifier),"
    "  CONSTRAINT submissions_idempotency_key_key UNIQUE (idempotency_key));"
    "CREATE INDEX ON submissions (iteration);"
    /* The seed's table before the fix: indexed, not unique. */
    "CREATE TABLE submissions_loose ("
    "  id bigint PRIMARY KEY DEFAULT nextval('submission_ids'),"
    "  iteration bigint NOT NULL,"
    "  worker int NOT NULL,"
    "  nullifier text NOT NULL,"
    "  idempotency_key text);"
    "CREATE INDEX ON submissions_loose (nullifier);"
    "CREATE INDEX ON submissions_loose (idempotency_key);"
    "CREATE INDEX ON submissions_loose (iteration);"
    "CREATE VIEW every_submission AS"
    "  SELECT id, iteration, worker, nullifier, idempotency_key FROM submissions"
    "  UNION ALL SELECT id, iteration, worker, nullifier, idempotency_key FROM submissions_loose;";

/* The roles (see the header); every worker's in iteration i is i mod 3. */
enum role { RACER, RETRIER, REUSER, NROLES };

static enum role role_of(long iteration, int worker)
{
    (void)worker;
    return (enum role)(iteration % NROLES);
}

static const char *const role_names[NROLES] = { "racers'", "retriers'", "reusers'" };

/* The request worker w sends in iteration i (see the header). */
static void request_of(long iteration, int worker, char *nullifier, size_t nlen, char *key, size_t klen)
{
    switch (role_of(iteration, worker)) {
    case RACER:
        snprintf(nullifier, nlen, "nf-%ld-race", iteration);
        snprintf(key, klen, "key-%ld-w%d", iteration, worker + 1);
        break;
    case RETRIER:
        snprintf(nullifier, nlen, "nf-%ld-retry", iteration);
        snprintf(key, klen, "key-%ld-retry", iteration);
        break;
    default:
        snprintf(nullifier, nlen, "nf-%ld-reuse-w%d", iteration, worker + 1);
        snprintf(key, klen, "key-%ld-reuse", iteration);
        break;
    }
}

/* Whether w is its role's first worker in iteration i (the lowest index):
 * the others are the later copies of a request. */
static bool first_of_role(long iteration, int worker)
{
    for (int w = 0; w < worker; w++)
        if (role_of(iteration, w) == role_of(iteration, worker))
            return false;
    return true;
}

/* Nothing precedes a submission: the calls create iteration i's rows (and
 * the invariants find them by their iteration column). */

/* One form of the operation: its table's statements and whether it is the
 * transactional form with the fix (its parts pinned: no-idempotency and
 * unmapped-23505 are it without some) or the seed's "before". */
typedef struct form {
    const char *by_key, *by_nullifier, *insert;
    bool fixed;                 /* one transaction; 23505 and the own key resolved */
} form;

#define ON_TABLE(t)                                                                     \
    "SELECT id FROM " t " WHERE idempotency_key = $1",                                  \
    "SELECT id, coalesce(idempotency_key, '') FROM " t " WHERE nullifier = $1",         \
    "INSERT INTO " t " (iteration, worker, nullifier, idempotency_key) "                \
    "VALUES ($1, $2, $3, $4) RETURNING id"

static const form form_fixed = { ON_TABLE("submissions"), true };
static const form form_no_constraint = { ON_TABLE("submissions_loose"), false };

/* Looks a submission up with sql and one parameter. Returns 1 found (id
 * and, when the query returns it, its key filled), 0 not found, -1 failed
 * (the failure recorded, the call not ended). */
static int lookup(const drv_call *c, const char *sql, const char *param, char *id, char *key, size_t len)
{
    const char *p[] = { param };
    PGresult *r;
    if (call_exec(c, &r, sql, 1, p) < 0)
        return -1;
    int found = PQntuples(r) > 0;
    if (found) {
        snprintf(id, len, "%s", PQgetvalue(r, 0, 0));
        if (key)
            snprintf(key, len, "%s", PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return found;
}

/* A unique violation on the insert: the transaction is rolled back and the
 * key re-read, now that the row that won is committed (the violation is
 * raised only once the other transaction committed). */
static void resolve_unique(const drv_call *c, const form *f, bool key_reads, const char *key)
{
    char id[24];
    call_rollback(c);
    if (key_reads) {
        int found = lookup(c, f->by_key, key, id, NULL, sizeof id);
        if (found < 0) {
            call_failed(c, "re-reading the key after a unique violation");
            return;
        }
        if (found) {
            call_ok(c, id);
            return;
        }
    }
    call_refuse(c, STATUS_CONFLICT, "duplicate nullifier (unique violation)");
}

static void submit(const drv_call *c, const form *f)
{
    char nullifier[48], key[48], it[24], worker[12], id[64];
    request_of(c->iteration, c->worker, nullifier, sizeof nullifier, key, sizeof key);
    snprintf(it, sizeof it, "%ld", c->iteration);
    snprintf(worker, sizeof worker, "%d", c->worker + 1);
    /* The key reads are one guarantee: the lookup first and the re-read
     * after a unique violation each answer what the other would. */
    bool key_reads = !f->fixed || GUARANTEE(c, "key-lookup");
    if (f->fixed && call_exec(c, NULL, "BEGIN", 0, NULL) < 0) {
        call_failed(c, NULL);
        return;
    }
    if (key_reads) {
        int found = lookup(c, f->by_key, key, id, NULL, sizeof id);
        if (found < 0) {
            call_failed(c, NULL);
            return;
        }
        if (found) {
            /* Read-only so far: nothing to commit, but the transaction is
             * ended before the answer, so the connection goes back idle. */
            if (!f->fixed || GUARANTEE(c, "read-rollback"))
                call_rollback(c);
            call_ok(c, id);
            return;
        }
    }
    /* A request's later copies (every worker of a role but its first) may
     * be slower than the first between their two reads. */
    if (!first_of_role(c->iteration, c->worker))
        drv_pause(c, "between-reads");
    char holder[64];
    int taken = lookup(c, f->by_nullifier, nullifier, id, holder, sizeof holder);
    if (taken < 0) {
        call_failed(c, NULL);
        return;
    }
    if (taken) {
        call_rollback(c);
        /* At READ COMMITTED each statement reads its own snapshot: the
         * caller's own request (another attempt with the same key) may have
         * committed between the key lookup and this check. Its row holds
         * the caller's key: that is the submission to return, not a double
         * spend. (The seed's two reads have this gap; see the header.) */
        if (f->fixed && GUARANTEE(c, "own-key") && strcmp(holder, key) == 0)
            call_ok(c, id);
        else
            call_refuse(c, STATUS_CONFLICT, "duplicate nullifier");
        return;
    }
    drv_pause(c, "after-check");
    const char *ins[] = { it, worker, nullifier, key };
    PGresult *r;
    if (call_exec(c, &r, f->insert, 4, ins) < 0) {
        if (f->fixed && GUARANTEE(c, "map-23505") && strcmp(call_sqlstate(c), "23505") == 0)
            resolve_unique(c, f, key_reads, key);
        else
            call_failed(c, NULL);
        return;
    }
    snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    /* The caller learns the id only once it is committed. (A unique
     * violation of a deferred check would surface at COMMIT; the
     * constraints are immediate, so a failed COMMIT is a plain error.) */
    if (f->fixed)
        call_commit_ok(c, id);
    else
        call_ok(c, id);
}

static void op_fixed(const drv_call *c) { submit(c, &form_fixed); }
static void op_no_constraint(const drv_call *c) { submit(c, &form_no_constraint); }

/* ---- invariants ---- */

/* The iteration's submissions: id, nullifier, key, worker. */
#define SUBMISSIONS "SELECT id, nullifier, coalesce(idempotency_key, ''), worker FROM every_submission " \
                    "WHERE iteration = $1 ORDER BY id"

/* No nullifier has more than one submission. */
static int inv_one_per_nullifier(inv_ctx *x)
{
    const PGresult *r = x->rows[0];
    if (PQntuples(r) == 0)
        return 1;
    return inv_violated(x, "nullifier %s has %s submissions (ids %.200s)", PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1),
                        PQgetvalue(r, 0, 2));
}

/* The seed's idempotency test, with its status: every call with
 * idempotency key K that the request was accepted for got 200 with the one
 * submission K has: at most one row per key; every ok call got that row's
 * id (so an ok is backed by a committed row); no call the shim left alone
 * got a refusal or an error while its key stands accepted. */
static int inv_one_id_per_key(inv_ctx *x)
{
    char found[600] = "";
    for (int i = 0; i < x->ncalls; i++) {
        const call_record *c = &x->calls[i];
        char nullifier[48], key[48], ids[256];
        request_of(x->iteration, c->worker, nullifier, sizeof nullifier, key, sizeof key);
        int n = res_rows(x->rows[0], 2, key, 0, ids, sizeof ids);
        if (n > 1 && !found[0])
            snprintf(found, sizeof found, "key %s has %d submissions (ids %.200s)", key, n, ids);
        else if (n <= 1 && c->out.kind == OUT_OK &&
                 (n == 0 || strcmp(c->result, ids) != 0 || c->out.status != STATUS_OK))
            inv_call_detail(x, c, "key %s has %.100s", key, n ? ids : "no submission");
        else if (n == 1 && c->out.kind != OUT_OK && !c->faults)
            inv_call_detail(x, c, "key %s has submission %.100s", key, ids);
    }
    if (found[0])
        return inv_violated(x, "%s", found);
    return inv_verdict(x, "%d call(s) with an accepted key did not get its id", inv_ndetails(x));
}

/* The seed's collision test, with its statuses: per role, the callers agree
 * on one accepted submission — every ok call got 200 and the same id, which
 * is the row of the role's nullifier (racers, retriers) or key (reusers);
 * every other call the shim left alone got 409; and someone got 200 unless
 * a call was failed by the shim (it may have been the one). */
static int inv_one_accepted(inv_ctx *x)
{
    char found[600] = "";
    for (int role = 0; role < NROLES && !found[0]; role++) {
        char first[64] = "";
        int calls = 0, oks = 0, faulted = 0;
        for (int i = 0; i < x->ncalls; i++) {
            const call_record *c = &x->calls[i];
            if ((int)role_of(x->iteration, c->worker) != role)
                continue;
            char nullifier[48], key[48], ids[256];
            request_of(x->iteration, c->worker, nullifier, sizeof nullifier, key, sizeof key);
            const char *what = role == REUSER ? "key" : "nullifier", *shared = role == REUSER ? key : nullifier;
            int rows = res_rows(x->rows[0], role == REUSER ? 2 : 1, shared, 0, ids, sizeof ids);
            calls++;
            faulted += c->faults > 0;
            if (c->out.kind == OUT_OK) {
                if (oks++ == 0)
                    snprintf(first, sizeof first, "%s", c->result);
                if (strcmp(first, c->result) != 0 && !found[0])
                    snprintf(found, sizeof found, "%s %s: ok calls got different ids (%s and %s)", what, shared,
                             first, c->result);
                if ((rows == 1 && strcmp(c->result, ids) != 0) || c->out.status != STATUS_OK)
                    inv_call_detail(x, c, "%s %s has submission %.100s", what, shared, rows ? ids : "none");
            } else if ((c->out.kind != OUT_CONFLICT || c->out.status != STATUS_CONFLICT) && !c->faults) {
                inv_call_detail(x, c, "neither 200 nor 409");
            }
        }
        if (calls && !oks && !faulted && !found[0])
            snprintf(found, sizeof found, "the %s request: no call of %d got 200", role_names[role], calls);
    }
    if (found[0])
        return inv_violated(x, "%s", found);
    return inv_verdict(x, "%d call(s) neither agreed on the accepted submission nor got 409", inv_ndetails(x));
}

static const scenario_variant variants[] = {
    { .name = "fixed", .op = op_fixed,
      .summary = "one tx: key lookup, nullifier check, insert; unique constraints; 23505 resolved by key" },
    { .name = "no-constraint", .op = op_no_constraint,
      .summary = "check-then-insert in autocommit statements, no unique constraints",
      .caught = { { "none", "one-per-nullifier" } } },
    { .name = "no-idempotency", .minus = { "key-lookup", "own-key" },
      .summary = "tx and constraints without the key lookup: a retry is refused as a double spend",
      .caught = { { "none", "one-id-per-key" } } },
    { .name = "unmapped-23505", .minus = { "map-23505", "own-key" },
      .summary = "the seed's fix as written: a unique violation reaches the caller as an error",
      .caught = { { "none", "one-accepted" } } },
};

static const scenario_invariant invariants[] = {
    { "one-per-nullifier", "one submission per nullifier", inv_one_per_nullifier,
      { "SELECT nullifier, count(*), string_agg(id::text, ', ' ORDER BY id) FROM every_submission "
        "WHERE iteration = $1 GROUP BY nullifier HAVING count(*) > 1 ORDER BY nullifier" } },
    { "one-id-per-key", "every call with one idempotency key gets the same id (200)", inv_one_id_per_key,
      { SUBMISSIONS } },
    { "one-accepted", "one accepted submission per nullifier (200), the rest 409", inv_one_accepted,
      { SUBMISSIONS } },
};

static const char *const pause_points[] = {
    "after-check: after the key lookup and nullifier check, before the insert",
    "between-reads: after the key lookup, before the nullifier check; only a request's later copies "
    "(every worker of a role but its first) take it",
};

static const scenario_plan plans[] = {
    { .name = "ambiguous-commit",
      .summary = "each connection's first COMMIT commits but the client sees a lost connection; "
      "2 retries (the seed's network retry: it must get its own submission back)",
      .fault = "commit:when=1:ambiguous",
      .retries = 2 },
    { .name = "commit-error",
      .summary = "each connection's first COMMIT fails (40001) and rolls back; 1 retry",
      .fault = "commit:when=1:error=40001",
      .retries = 1 },
    { .name = "insert-error",
      .summary = "each connection's first insert fails with 40001; 1 retry (the transaction rollback test)",
      .fault = "sql=/^INSERT INTO submissions/:when=1:error=40001",
      .retries = 1 },
    { .name = "widen",
      .summary = "a 1ms pause between the checks and the insert",
      .pause = "after-check=1ms" },
    { .name = "stagger",
      .summary = "a request's later copies wait 6ms between the key lookup and the nullifier check, and every "
      "first COMMIT is 3ms slow: the first copy commits in between, after the copies' lookups",
      .fault = "commit:delay=3ms",
      .pause = "between-reads=6ms" },
};

static const scenario_pin pins[] = {
    { .name = "commit-before-ok", .plan = "commit-error",
      .what = "the caller gets its id only once COMMIT succeeded" },
    { .name = "unique-nullifier", .plan = "widen",
      .what = "the unique constraint on nullifier stops concurrent double spends",
      .unpin_sql = "ALTER TABLE submissions DROP CONSTRAINT submissions_nullifier_key" },
    { .name = "unique-idempotency-key", .plan = "widen",
      .what = "the unique constraint on idempotency_key: one submission per key, even for a reused key",
      .unpin_sql = "ALTER TABLE submissions DROP CONSTRAINT submissions_idempotency_key_key" },
    { .name = "key-lookup", .plan = "none",
      .what = "the idempotency key is read (first, and after a unique violation): its submission, 200" },
    { .name = "own-key", .plan = "stagger",
      .what = "a nullifier row holding the caller's own key is its submission (200), not a double spend" },
    { .name = "read-rollback", .plan = "ambiguous-commit",
      .what = "a request answered from its key ends its read-only transaction first: the connection goes back idle",
      .invariant = "connection" },
    { .name = "map-23505", .plan = "widen",
      .what = "a unique violation is resolved by key: 200 for the caller's own request, else 409, never a 500" },
};

const scenario scenario_nullifier = {
    .name = "nullifier",
    .summary = "submission create: unique nullifier, idempotency key returns the existing submission",
    .seed = "002_c8c7b57aaf837e98",
    .schema_sql = schema,
    .workload_period = 3,           /* roles rotate by iteration */
    VARIANTS(variants),
    INVARIANTS(invariants),
    PLANS(plans),
    PAUSE_POINTS(pause_points),
    PINS(pins),
};
