/*
 * attestation.c — attestation verify (seed 000_6b20be3a958a2a5e).
 *
 * Verifying an attestation record makes three writes: issue a credential,
 * promote the identity's trust level, mark the record verified and link the
 * credential. The fix runs them in one transaction that first takes the
 * record's row lock, re-checks the guard under the lock (is_verified OR a
 * linked credential), reads the identity inside the transaction, and hands
 * results to the caller only after COMMIT; a pre-transaction guard fails
 * fast on the obvious retry. The pre-fix forms are the two bugs the seed
 * describes:
 *   no-lock  the transaction without FOR UPDATE: N concurrent verifies all
 *            pass the guard and each mint a credential;
 *   no-tx    three autocommit writes behind an is_verified-only guard: a
 *            failure after the first write leaves a credential on an
 *            unverified record, and the retry mints a second one (and
 *            concurrent verifies race as in no-lock).
 */
#include "harness/scenario.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROMOTED_TRUST 2

static const char schema[] =
    "CREATE TABLE identities ("
    "  id bigint PRIMARY KEY,"
    "  trust_level int NOT NULL DEFAULT 0,"
    "  active boolean NOT NULL DEFAULT true);"
    "CREATE TABLE attestation_records ("
    "  id bigint PRIMARY KEY,"
    "  identity_id bigint NOT NULL REFERENCES identities,"
    "  proof text NOT NULL,"
    "  is_verified boolean NOT NULL DEFAULT false,"
    "  credential_id bigint);"
    /* No unique constraint on record_id: the seed's schema had none, which is
     * why the bug could mint two. */
    "CREATE TABLE issued_credentials ("
    "  id bigserial PRIMARY KEY,"
    "  identity_id bigint NOT NULL REFERENCES identities,"
    "  record_id bigint NOT NULL,"
    "  token text NOT NULL,"
    "  issued_at timestamptz NOT NULL DEFAULT now());"
    "CREATE INDEX ON issued_credentials (record_id);";

/* Iteration i verifies record i of identity i. */
static void record_id(long iteration, char *buf, size_t len) { snprintf(buf, len, "%ld", iteration); }

static int setup(PGconn *ctl, long iteration, int nworkers, char *err, size_t errlen)
{
    (void)nworkers;
    char id[24];
    record_id(iteration, id, sizeof id);
    const char *p[] = { id };
    PGresult *r = pqx_ctl_query(ctl,
        "WITH i AS (INSERT INTO identities (id) VALUES ($1) RETURNING id) "
        "INSERT INTO attestation_records (id, identity_id, proof) "
        "SELECT id, id, 'proof-' || id FROM i", 1, p, err, errlen);
    PQclear(r);
    return r ? 0 : -1;
}

/* The token a call's credential carries: which iteration, worker and
 * attempt minted it, so an invariant can tell whose writes are there. */
static void call_token(long iteration, int worker, int attempt, char *buf, size_t len)
{
    snprintf(buf, len, "tok-%ld-%d-%d", iteration, worker, attempt);
}

/* The writes every form makes once its guard has passed: credential,
 * identity, record. Fills cred_id. Returns 0 or -1 (the failure recorded). */

static int three_writes(const drv_call *c, const char *id, const char *identity, char *cred_id, size_t len)
{
    char token[48];
    call_token(c->iteration, c->worker, c->attempt, token, sizeof token);
    const char *ins[] = { identity, id, token };
    PGresult *r;
    if (call_exec(c, &r, "INSERT INTO issued_credentials (identity_id, record_id, token) "
                         "VALUES ($1, $2, $3) RETURNING id", 3, ins) < 0)
        return -1;
    snprintf(cred_id, len, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    const char *promote[] = { identity };
    if (call_exec(c, NULL, "UPDATE identities SET trust_level = GREATEST(trust_level, 2) "
                           "WHERE id = $1", 1, promote) < 0)
        return -1;
    const char *mark[] = { id, cred_id };
    return call_exec(c, NULL, "UPDATE attestation_records SET is_verified = true, credential_id = $2 "
                              "WHERE id = $1", 2, mark);
}

/* Reads the record's guard columns with the given SELECT. Returns 1 when the
 * guard trips (already verified), 0 when it passes, -1 on failure (the call
 * ended). identity receives the record's identity id. */
static int read_guard(const drv_call *c, const char *sql, const char *id, bool check_credential,
                      char *identity, size_t len)
{
    const char *p[] = { id };
    PGresult *r;
    if (call_exec(c, &r, sql, 1, p) < 0) {
        call_failed(c, NULL);
        return -1;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        char why[64];
        snprintf(why, sizeof why, "attestation record %s not found", id);
        call_fail(c, why);
        return -1;
    }
    bool verified = PQgetvalue(r, 0, 0)[0] == 't';
    bool has_credential = PQgetvalue(r, 0, 1)[0] == 't';
    snprintf(identity, len, "%s", PQgetvalue(r, 0, 2));
    PQclear(r);
    if (verified || (check_credential && has_credential)) {
        call_refuse(c, STATUS_CONFLICT, "already verified");
        return 1;
    }
    return 0;
}

/* Reads the identity inside the caller's transaction (the seed's W2: a
 * deactivated identity must not get a credential). Returns 0 when it may be
 * verified, 1 when not (refused: the call ended), -1 on failure (ended). */
static int identity_inactive(const drv_call *c, const char *identity)
{
    const char *p[] = { identity };
    PGresult *r;
    if (call_exec(c, &r, "SELECT active FROM identities WHERE id = $1", 1, p) < 0) {
        call_failed(c, NULL);
        return -1;
    }
    bool active = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!active) {
        call_refuse(c, STATUS_FORBIDDEN, "identity inactive");
        return 1;
    }
    return 0;
}

/* The transactional forms: fixed (lock = true) and no-lock. */
static void verify_in_tx(const drv_call *c, bool lock)
{
    char id[24], identity[24], cred_id[24];
    record_id(c->iteration, id, sizeof id);
    /* Pre-transaction fast-fail: saves the transaction on a retry storm; the
     * in-transaction guard below is the one that counts. */
    if (read_guard(c, "SELECT is_verified, credential_id IS NOT NULL, identity_id "
                      "FROM attestation_records WHERE id = $1", id, true, identity, sizeof identity) != 0)
        return;
    if (call_exec(c, NULL, "BEGIN", 0, NULL) < 0) {
        call_failed(c, NULL);
        return;
    }
    if (read_guard(c, lock && GUARANTEE(c, "for-update")
                          ? "SELECT is_verified, credential_id IS NOT NULL, identity_id "
                            "FROM attestation_records WHERE id = $1 FOR UPDATE"
                          : "SELECT is_verified, credential_id IS NOT NULL, identity_id "
                            "FROM attestation_records WHERE id = $1",
                   id, true, identity, sizeof identity) != 0)
        return;
    drv_pause(c, "after-guard");
    if (identity_inactive(c, identity) != 0)
        return;
    if (three_writes(c, id, identity, cred_id, sizeof cred_id) < 0) {
        call_failed(c, NULL);
        return;
    }
    /* The caller learns the credential only once it is committed. */
    call_commit_ok(c, cred_id);
}

static void op_fixed(const drv_call *c) { verify_in_tx(c, true); }
static void op_no_lock(const drv_call *c) { verify_in_tx(c, false); }

static void op_no_tx(const drv_call *c)
{
    char id[24], identity[24], cred_id[24];
    record_id(c->iteration, id, sizeof id);
    /* The original guard: is_verified only, so a credential left by a
     * partial failure does not stop a retry. */
    if (read_guard(c, "SELECT is_verified, credential_id IS NOT NULL, identity_id "
                      "FROM attestation_records WHERE id = $1", id, false, identity, sizeof identity) != 0)
        return;
    drv_pause(c, "after-guard");
    if (identity_inactive(c, identity) != 0)
        return;
    if (three_writes(c, id, identity, cred_id, sizeof cred_id) < 0) {
        call_failed(c, NULL);
        return;
    }
    call_ok(c, cred_id);
}

static int count_calls(const inv_ctx *x, outcome_kind kind, char *who, size_t len)
{
    int n = 0;
    size_t used = 0;
    who[0] = '\0';
    for (int i = 0; i < x->ncalls; i++) {
        if (x->calls[i].out.kind != kind)
            continue;
        n++;
        int w = snprintf(who + used, len - used, "%s%d", used ? ", " : "", x->calls[i].worker + 1);
        if (w > 0 && used + (size_t)w < len)
            used += (size_t)w;
    }
    return n;
}

static int any_faulted(const inv_ctx *x)
{
    for (int i = 0; i < x->ncalls; i++)
        if (x->calls[i].faults)
            return 1;
    return 0;
}

/* At most one credential per record, and one when any caller got ok. */
static int inv_one_credential(inv_ctx *x)
{
    char id[24], who[256];
    record_id(x->iteration, id, sizeof id);
    const char *p[] = { id };
    long long n;
    if (pqx_ctl_int(x->ctl, "SELECT count(*) FROM issued_credentials WHERE record_id = $1",
                    1, p, &n, x->err, x->errlen) < 0)
        return -1;
    int oks = count_calls(x, OUT_OK, who, sizeof who);
    if (n == 1 || (n == 0 && oks == 0))
        return 1;
    char found[400];
    snprintf(found, sizeof found, "%lld credentials; %d %s ok%s%s", n, oks,
             oks == 1 ? "caller got" : "callers got", oks ? " (workers " : "", oks ? who : "");
    if (oks)
        strncat(found, ")", sizeof found - strlen(found) - 1);
    inv_violated(x, found, NULL, NULL);
    json_object_set_new(x->found, "credentials", json_integer(n));
    return 0;
}

/* Exactly one caller gets ok and every other one conflict; a call the fault
 * shim failed is excused (it may be the one that would have succeeded). */
static int inv_one_ok(inv_ctx *x)
{
    char oks_who[256], conf_who[256];
    int oks = count_calls(x, OUT_OK, oks_who, sizeof oks_who);
    int conflicts = count_calls(x, OUT_CONFLICT, conf_who, sizeof conf_who);
    json_t *others = inv_list(x, NULL);
    if (!others)
        return -1;
    for (int i = 0; i < x->ncalls; i++) {
        const call_record *c = &x->calls[i];
        if (c->out.kind == OUT_OK || c->out.kind == OUT_CONFLICT)
            continue;
        if (c->faults)
            continue;
        char line[300];
        snprintf(line, sizeof line, "worker %d: %s %s %s", c->worker + 1, outcome_name(c->out.kind),
                 c->out.sqlstate, c->out.message);
        json_array_append_new(others, json_string(line));
    }
    bool held = json_array_size(others) == 0 && (oks == 1 || (oks == 0 && any_faulted(x)));
    if (held) {
        json_decref(others);
        return 1;
    }
    char found[600];
    snprintf(found, sizeof found, "%d ok (workers %s), %d conflict, %zu other", oks, oks ? oks_who : "none",
             conflicts, json_array_size(others));
    return inv_violated(x, found, "failures", others);
}

/* The three writes are all there or none is: a credential exists for the
 * record ⇔ the record is verified ⇔ it links an existing credential of its
 * own ⇔ the identity is promoted. */
static int inv_all_or_nothing(inv_ctx *x)
{
    char id[24];
    record_id(x->iteration, id, sizeof id);
    const char *p[] = { id };
    PGresult *r = pqx_ctl_query(x->ctl,
        "SELECT EXISTS (SELECT 1 FROM issued_credentials c WHERE c.record_id = r.id),"
        "       r.is_verified,"
        "       EXISTS (SELECT 1 FROM issued_credentials c WHERE c.id = r.credential_id AND c.record_id = r.id),"
        "       i.trust_level >= 2 "
        "FROM attestation_records r JOIN identities i ON i.id = r.identity_id WHERE r.id = $1",
        1, p, x->err, x->errlen);
    if (!r)
        return -1;
    if (PQntuples(r) != 1) {
        PQclear(r);
        snprintf(x->err, x->errlen, "attestation record %s vanished", id);
        return -1;
    }
    bool credential = PQgetvalue(r, 0, 0)[0] == 't', verified = PQgetvalue(r, 0, 1)[0] == 't',
         linked = PQgetvalue(r, 0, 2)[0] == 't', promoted = PQgetvalue(r, 0, 3)[0] == 't';
    PQclear(r);
    if (credential == verified && verified == linked && linked == promoted)
        return 1;
    char found[200];
    snprintf(found, sizeof found, "credential %s, record verified %s, credential linked %s, identity promoted %s",
             credential ? "issued" : "absent", verified ? "yes" : "no", linked ? "yes" : "no",
             promoted ? "yes" : "no");
    return inv_violated(x, found, NULL, NULL);
}

/* What each caller was told matches what the database holds: a call that
 * got ok has its credential issued and linked to the record; a call that
 * failed (determinately) or conflicted left no credential of its own. After
 * an indeterminate failure (connection lost at COMMIT) either is allowed. */
static int inv_outcome_consistent(inv_ctx *x)
{
    char id[24];
    record_id(x->iteration, id, sizeof id);
    const char *p[] = { id };
    PGresult *r = pqx_ctl_query(x->ctl,
        "SELECT c.token, c.id = a.credential_id FROM issued_credentials c "
        "JOIN attestation_records a ON a.id = c.record_id WHERE c.record_id = $1", 1, p, x->err, x->errlen);
    if (!r)
        return -1;
    json_t *bad = inv_list(x, r);
    if (!bad)
        return -1;
    for (int i = 0; i < x->ncalls; i++) {
        const call_record *c = &x->calls[i];
        char token[48];
        call_token(x->iteration, c->worker, c->attempt, token, sizeof token);
        int present = 0, linked = 0;
        for (int row = 0; row < PQntuples(r); row++)
            if (strcmp(PQgetvalue(r, row, 0), token) == 0) {
                present = 1;
                linked = PQgetvalue(r, row, 1)[0] == 't';
            }
        const char *why = NULL;
        if (c->out.kind == OUT_OK && !(present && linked))
            why = present ? "got ok, but its credential is not the record's" : "got ok, but its credential is absent";
        else if (c->out.kind != OUT_OK && !call_maybe_committed(c) && present)
            why = "failed, but its credential was issued";
        if (why) {
            char line[200];
            snprintf(line, sizeof line, "worker %d%s: %s %s (%s)", c->worker + 1, c->attempt ? " (retry)" : "",
                     outcome_name(c->out.kind), c->out.sqlstate, why);
            json_array_append_new(bad, json_string(line));
        }
    }
    PQclear(r);
    if (json_array_size(bad) == 0) {
        json_decref(bad);
        return 1;
    }
    char found[64];
    snprintf(found, sizeof found, "%zu caller(s) told something the database contradicts", json_array_size(bad));
    return inv_violated(x, found, "contradictions", bad);
}

#define ONE_CREDENTIAL "exactly one credential per record"

static const scenario_variant variants[] = {
    { .name = "fixed", .summary = "one transaction; record row lock first; in-tx guard on is_verified OR credential_id", .op = op_fixed },
    { "no-lock", "the transaction without SELECT ... FOR UPDATE", op_no_lock, { { "none", ONE_CREDENTIAL } } },
    { "no-tx", "three autocommit writes behind an is_verified-only guard", op_no_tx,
      { { "none", ONE_CREDENTIAL }, { "sweep", ONE_CREDENTIAL },
        { "sweep-no-retry", "credential <=> verified <=> identity promoted" } } },
};

static const scenario_invariant invariants[] = {
    { ONE_CREDENTIAL, inv_one_credential },
    { "exactly one caller gets ok, the rest conflict", inv_one_ok },
    { "credential <=> verified <=> identity promoted", inv_all_or_nothing },
    { "client outcome consistent with the database", inv_outcome_consistent },
};

static const scenario_plan plans[] = {
    { .name = "sweep", .sweep = true, .retries = 1, .nworkers = 1,
      .summary = "every statement position x (error, drop, ambiguous) on one caller, which then retries: "
                 "the seed's partial failure and retry" },
    { .name = "sweep-no-retry", .sweep = true, .retries = 0, .nworkers = 1,
      .summary = "the same sweep, without the retry: what a partial failure leaves behind" },
    { .name = "commit-error", .fault = "commit:when=1:error=40001", .retries = 1,
      .summary = "every caller's first COMMIT fails with 40001 (and rolls back); callers retry" },
    { .name = "commit-ambiguous", .fault = "commit:when=1:ambiguous", .retries = 1,
      .summary = "a caller's first COMMIT commits but the client sees the connection drop; it retries" },
};

static const char *const pause_points[] = {
    "after-guard: after the guard read (under the row lock in the fixed form), before the writes",
};

static const scenario_pin pins[] = {
    { .name = "commit-before-ok", .plan = "commit-error",
      .what = "the caller is told its credential only once COMMIT succeeded" },
    { .name = "for-update", .plan = "none",
      .what = "SELECT ... FOR UPDATE on the record first: concurrent verifies queue behind it" },
};

const scenario scenario_attestation = {
    .name = "attestation",
    .summary = "attestation verify: issue credential, promote identity, mark record verified",
    .seed = "000_6b20be3a958a2a5e",
    .schema_sql = schema,
    .setup = setup,
    VARIANTS(variants),
    INVARIANTS(invariants),
    PLANS(plans),
    PAUSE_POINTS(pause_points),
    PINS(pins),
};
