/*
 * attestation.c — attestation verify (seed 000_6b20be3a958a2a5e).
 *
 * Verifying an attestation record makes three writes: issue a credential,
 * promote the identity's trust level, mark the record verified and link the
 * credential. The fix runs them in one transaction that first takes the
 * record's row lock, re-checks the guard under the lock (is_verified OR a
 * linked credential), reads the identity inside the transaction, and hands
 * results to the caller only after COMMIT; a pre-transaction guard fails
 * fast on the obvious retry. Statuses, as the seed's handler answers: 200
 * with the credential; 409 already verified (ErrAttestationAlreadyVerified,
 * for is_verified or a linked credential). The seed names no status for a
 * deactivated identity; pgrace answers 403, so that a deactivation is never
 * reported as "already verified".
 *
 * What each part guarantees, and which plan shows it (the pins below):
 *   - the transaction: the three writes all land or none (sweep-no-retry);
 *   - FOR UPDATE first: concurrent verifies queue, the in-transaction
 *     guard then sees the winner's writes (none: the seed's N=8 test, one
 *     200 and seven 409);
 *   - the in-transaction guard, both halves: a record that became verified
 *     or got a linked credential after the pre-transaction guard read it
 *     is refused (planted: partial state committed by a lock holder between
 *     the two guards — the seed's own test plants it, and its defence in
 *     depth exists for exactly such state);
 *   - the identity read inside the transaction (the seed's W2): at READ
 *     COMMITTED it sees every deactivation committed before that read, so
 *     a deactivation committed before the verify's transaction began stops
 *     the credential (deactivate). Not more: the read takes no lock, so a
 *     deactivation committing between it and the promote UPDATE is not
 *     seen (the UPDATE re-reads the row and promotes it anyway) — the
 *     seed's "same snapshot as the writes" is stronger than READ COMMITTED
 *     gives; a FOR SHARE on the read would close that window;
 *   - commit before ok (commit-error).
 * The pre-transaction guard is not a guarantee, only an optimization:
 * whatever it refuses the in-transaction guard refuses too (it reads later,
 * under the lock), so removing it changes the cost of a retry storm, never
 * a verdict.
 *
 * The pre-fix forms are the two bugs the seed describes:
 *   no-lock  the transaction without FOR UPDATE: N concurrent verifies all
 *            pass the guard and each mint a credential;
 *   no-tx    three autocommit writes behind an is_verified-only guard: a
 *            failure after the first write leaves a credential on an
 *            unverified record, and the retry mints a second one (and
 *            concurrent verifies race as in no-lock); the seed's own
 *            planted-state test catches its guard (planted);
 *   stale-identity  the seed's form before W2: the identity read before
 *            the transaction, so a deactivation committed in between is
 *            not seen (deactivate).
 *
 * Workload: N workers verify record i at once. Two plans give worker 0 a
 * side role instead (its statements start with SIDE, so the invariants tell
 * its call from the verifies): "plant" commits partial state, as the seed's
 * TestAttestationVerifyGuardCatchesPartialFailureRetry does by hand, and
 * "deactivate" deactivates the record's identity, the seed's W2.
 */
#include "engine/scenario.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    "CREATE INDEX ON issued_credentials (record_id);"
    /* The relation the record's link is: the serial oracle (engine/state.h)
     * names a credential's generated id alike wherever it is referenced. */
    "ALTER TABLE attestation_records ADD FOREIGN KEY (credential_id) REFERENCES issued_credentials;"
    /* The harness's, not the seed's: which partial state the plant side
     * role committed (in the same transaction as the state itself), so the
     * invariants know what the record held before the verifies. */
    "CREATE TABLE planted ("
    "  record_id bigint PRIMARY KEY,"
    "  kind text NOT NULL CHECK (kind IN ('credential', 'verified')));";

/* Iteration i verifies record i of identity i. A verify's credential
 * carries its call's tag (call_tag: "call-..."), so an invariant can tell
 * whose writes are there; a planted credential's token is "planted-I". */
static const char setup_sql[] =
    "WITH i AS (INSERT INTO identities (id) VALUES ($1) RETURNING id) "
    "INSERT INTO attestation_records (id, identity_id, proof) SELECT id, id, 'proof-' || id FROM i";

static void record_id(long iteration, char *buf, size_t len) { snprintf(buf, len, "%ld", iteration); }

/* ---- side roles (plans "planted" and "deactivate") ---- */

/* The first statement of a side role's call starts with this comment: the
 * invariants read it in the call's trace to leave the call out of the
 * verifies, whatever it came to. */
#define SIDE "/* side */ "

static bool is_side(const inv_ctx *x, const call_record *c)
{
    (void)x;
    return c->trace->n > 0 && strncmp(c->trace->ev[0].sql, SIDE, strlen(SIDE)) == 0;
}

/* Plants partial state as direct database manipulation, or a future code
 * path that bypasses verify, would: under the record's row lock, on a record
 * no verify has touched yet, even iterations link a credential to the
 * unverified record (the state the seed's own test plants by rewinding
 * is_verified), odd ones mark it verified without a credential. The plan
 * delays its COMMIT, so it lands after the verifiers' pre-transaction guard
 * and before their in-transaction one. */
static void plant(const drv_call *c)
{
    char id[24], identity[24], token[32];
    record_id(c->iteration, id, sizeof id);
    bool credential = c->iteration % 2 == 0;
    const char *p[] = { id };
    PGresult *r;
    if (call_exec(c, NULL, SIDE "BEGIN", 0, NULL) < 0 ||
        call_exec(c, &r, "SELECT is_verified OR credential_id IS NOT NULL, identity_id "
                         "FROM attestation_records WHERE id = $1 FOR UPDATE", 1, p) < 0) {
        call_failed(c, "side: plant");
        return;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        call_fail(c, "side: plant: record not found");
        return;
    }
    bool touched = res_bool(r, 0, 0);
    snprintf(identity, sizeof identity, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    if (touched) {
        /* A verify took the lock first: the state is no longer the seed's
         * partial one, so nothing is planted. */
        call_rollback(c);
        call_ok(c, "side: nothing planted");
        return;
    }
    if (credential) {
        snprintf(token, sizeof token, "planted-%ld", c->iteration);
        const char *ins[] = { identity, id, token };
        char cred[24];
        if (call_exec(c, &r, "INSERT INTO issued_credentials (identity_id, record_id, token) "
                             "VALUES ($1, $2, $3) RETURNING id", 3, ins) < 0) {
            call_failed(c, "side: plant");
            return;
        }
        snprintf(cred, sizeof cred, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
        const char *link[] = { id, cred };
        if (call_exec(c, NULL, "UPDATE attestation_records SET credential_id = $2 WHERE id = $1", 2, link) < 0) {
            call_failed(c, "side: plant");
            return;
        }
    } else if (call_exec(c, NULL, "UPDATE attestation_records SET is_verified = true WHERE id = $1", 1, p) < 0) {
        call_failed(c, "side: plant");
        return;
    }
    const char *mark[] = { id, credential ? "credential" : "verified" };
    if (call_exec(c, NULL, "INSERT INTO planted (record_id, kind) VALUES ($1, $2)", 2, mark) < 0 ||
        call_exec(c, NULL, "COMMIT", 0, NULL) < 0) {
        call_failed(c, "side: plant");
        return;
    }
    call_ok(c, credential ? "side: planted a linked credential" : "side: planted verified");
}

/* Deactivates the record's identity (the seed's W2: "a concurrent
 * UpdateIdentity that deactivated the identity"), one autocommit statement
 * the plan delays until the verifiers' pre-transaction reads are done. */
static void deactivate(const drv_call *c)
{
    char id[24];
    record_id(c->iteration, id, sizeof id);
    const char *p[] = { id };
    if (call_exec(c, NULL, SIDE "UPDATE identities SET active = false "
                               "WHERE id = (SELECT identity_id FROM attestation_records WHERE id = $1)", 1, p) < 0) {
        call_failed(c, "side: deactivate");
        return;
    }
    call_ok(c, "side: identity deactivated");
}

/* Worker 0 takes the plan's side role, if it sets one; true when it did. */
static bool side_role(const drv_call *c)
{
    const char *role = call_param(c, "side", NULL);
    if (!role || c->worker != 0)
        return false;
    if (strcmp(role, "plant") == 0)
        plant(c);
    else if (strcmp(role, "deactivate") == 0)
        deactivate(c);
    else
        call_fail(c, "side: unknown role (the plan's side= names plant or deactivate)");
    return true;
}

/* ---- the verify ---- */

/* The writes every form makes once its guard has passed: credential,
 * identity, record. Fills cred_id. Returns 0 or -1 (the failure recorded). */
static int three_writes(const drv_call *c, const char *id, const char *identity, char *cred_id, size_t len)
{
    char token[CALL_TAG_LEN];
    call_tag(c, token, sizeof token);
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

/* Which halves of the guard a read checks. */
typedef struct guard {
    bool verified;              /* is_verified */
    bool credential;            /* a linked credential (credential_id) */
} guard;

/* Reads the record's guard columns with the given SELECT. Returns 1 when the
 * guard trips (already verified: 409, the call ended), 0 when it passes, -1
 * on failure (the call ended). identity receives the record's identity id. */
static int read_guard(const drv_call *c, const char *sql, const char *id, guard g, char *identity, size_t len)
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
    bool verified = res_bool(r, 0, 0), has_credential = res_bool(r, 0, 1);
    snprintf(identity, len, "%s", PQgetvalue(r, 0, 2));
    PQclear(r);
    if ((g.verified && verified) || (g.credential && has_credential)) {
        call_refuse(c, STATUS_CONFLICT, "already verified");
        return 1;
    }
    return 0;
}

/* Reads whether the identity is active (the seed's W2: a deactivated
 * identity must not get a credential). Returns 0 when it may be verified,
 * 1 when not (refused with 403: the call ended), -1 on failure (ended). */
static int identity_inactive(const drv_call *c, const char *identity)
{
    const char *p[] = { identity };
    PGresult *r;
    if (call_exec(c, &r, "SELECT active FROM identities WHERE id = $1", 1, p) < 0) {
        call_failed(c, NULL);
        return -1;
    }
    bool active = PQntuples(r) == 1 && res_bool(r, 0, 0);
    PQclear(r);
    if (!active) {
        call_refuse(c, STATUS_FORBIDDEN, "identity inactive");
        return 1;
    }
    return 0;
}

#define GUARD_SELECT "SELECT is_verified, credential_id IS NOT NULL, identity_id FROM attestation_records WHERE id = $1"

/* The fixed form (no-lock and stale-identity are it without a pin). */
static void op_fixed(const drv_call *c)
{
    if (side_role(c))
        return;
    char id[24], identity[24], cred_id[24];
    record_id(c->iteration, id, sizeof id);
    /* Pre-transaction fast-fail: saves the transaction on a retry storm; the
     * in-transaction guard below is the one that counts (this one is an
     * optimization, not a guarantee: see the header). */
    if (read_guard(c, GUARD_SELECT, id, (guard){ true, true }, identity, sizeof identity) != 0)
        return;
    /* The identity read's place is a guarantee: its loss is the seed's
     * form before W2, which read the identity before the transaction. */
    bool identity_in_tx = GUARANTEE(c, "identity-in-tx");
    if (!identity_in_tx && identity_inactive(c, identity) != 0)
        return;
    drv_pause(c, "before-tx");
    if (GUARANTEE(c, "one-tx") && call_exec(c, NULL, "BEGIN", 0, NULL) < 0) {
        call_failed(c, NULL);
        return;
    }
    guard in_tx = { GUARANTEE(c, "guard-verified"), GUARANTEE(c, "guard-credential") };
    if (read_guard(c, GUARANTEE(c, "for-update") ? GUARD_SELECT " FOR UPDATE" : GUARD_SELECT, id, in_tx, identity,
                   sizeof identity) != 0)
        return;
    drv_pause(c, "after-guard");
    if (identity_in_tx && identity_inactive(c, identity) != 0)
        return;
    if (three_writes(c, id, identity, cred_id, sizeof cred_id) < 0) {
        call_failed(c, NULL);
        return;
    }
    /* The caller learns the credential only once it is committed. */
    call_commit_ok(c, cred_id);
}

static void op_no_tx(const drv_call *c)
{
    if (side_role(c))
        return;
    char id[24], identity[24], cred_id[24];
    record_id(c->iteration, id, sizeof id);
    /* The original guard: is_verified only, so a credential left by a
     * partial failure does not stop a retry. */
    if (read_guard(c, GUARD_SELECT, id, (guard){ true, false }, identity, sizeof identity) != 0)
        return;
    drv_pause(c, "before-tx");
    drv_pause(c, "after-guard");
    if (identity_inactive(c, identity) != 0)
        return;
    if (three_writes(c, id, identity, cred_id, sizeof cred_id) < 0) {
        call_failed(c, NULL);
        return;
    }
    call_ok(c, cred_id);
}

/* ---- invariants ---- */

/* What every invariant reads, in one round trip: the record, its identity
 * and what was planted; and the record's credentials (a verify's token is
 * its call's tag, "call-...") with whether the record links each. */
#define ROWS                                                                                                  \
    { "SELECT r.is_verified, r.credential_id IS NOT NULL, i.active, coalesce(p.kind, ''), i.trust_level >= 2 " \
      "FROM attestation_records r JOIN identities i ON i.id = r.identity_id "                                 \
      "LEFT JOIN planted p ON p.record_id = r.id WHERE r.id = $1",                                            \
      "SELECT c.token, c.id = a.credential_id FROM issued_credentials c "                                     \
      "JOIN attestation_records a ON a.id = c.record_id WHERE c.record_id = $1" }

/* What the record and its identity hold after the iteration. */
typedef struct record_state {
    bool verified;              /* is_verified */
    bool linked;                /* credential_id set */
    bool active;                /* the identity */
    bool promoted;              /* the identity's trust level */
    char planted[16];           /* what the plant role committed, or "" */
    int credentials;            /* every credential of the record */
    int minted;                 /* ... minted by verifies */
    bool linked_minted;         /* the record links a verify's credential */
} record_state;

static int load_state(inv_ctx *x, record_state *st)
{
    const PGresult *r = x->rows[0], *creds = x->rows[1];
    if (PQntuples(r) != 1)
        return inv_error(x, "attestation record %ld vanished", x->iteration);
    *st = (record_state){ .verified = res_bool(r, 0, 0), .linked = res_bool(r, 0, 1), .active = res_bool(r, 0, 2),
                          .promoted = res_bool(r, 0, 4), .credentials = PQntuples(creds) };
    snprintf(st->planted, sizeof st->planted, "%s", PQgetvalue(r, 0, 3));
    for (int i = 0; i < st->credentials; i++)
        if (strncmp(PQgetvalue(creds, i, 0), "call-", 5) == 0) {
            st->minted++;
            st->linked_minted |= res_bool(creds, i, 1);
        }
    return 0;
}

/* At most one credential per record, and one when any verify got ok. */
static int inv_one_credential(inv_ctx *x)
{
    record_state st;
    if (load_state(x, &st) < 0)
        return -1;
    char who[256];
    int oks = inv_count(x, OUT_OK, is_side, who, sizeof who);
    if (st.credentials == 1 || (st.credentials == 0 && oks == 0))
        return 1;
    return inv_violated(x, "%d credentials; %d %s ok%s%s%s", st.credentials, oks,
                        oks == 1 ? "caller got" : "callers got", oks ? " (workers " : "", oks ? who : "", oks ? ")" : "");
}

/* The seed's N=8 test with its statuses: exactly one verify gets 200 and
 * every other one 409 — or 403, only when the identity is inactive; a 409
 * only when the record is verified or holds a credential. A verify the
 * fault shim failed is excused (it may be the one that would have
 * succeeded), and so is the lack of a 200 when the record was planted or
 * the identity deactivated. */
static int inv_one_ok(inv_ctx *x)
{
    record_state st;
    if (load_state(x, &st) < 0)
        return -1;
    char oks_who[256];
    int oks = inv_count(x, OUT_OK, is_side, oks_who, sizeof oks_who);
    int conflicts = inv_count(x, OUT_CONFLICT, is_side, NULL, 0);
    for (int i = 0; i < x->ncalls; i++) {
        const call_record *c = &x->calls[i];
        const outcome *o = &c->out;
        if (is_side(x, c))
            continue;
        if (o->kind == OUT_OK && o->status != STATUS_OK)
            inv_call_detail(x, c, "ok, but not 200");
        else if (o->kind == OUT_CONFLICT && o->status == STATUS_CONFLICT && !st.verified && !st.linked)
            inv_call_detail(x, c, "409, but the record is neither verified nor holds a credential");
        else if (o->kind == OUT_CONFLICT && o->status == STATUS_FORBIDDEN && st.active)
            inv_call_detail(x, c, "403, but the identity is active");
        else if (o->kind == OUT_CONFLICT && o->status != STATUS_CONFLICT && o->status != STATUS_FORBIDDEN)
            inv_call_detail(x, c, "refused with a status the seed does not answer");
        else if ((o->kind == OUT_RETRYABLE || o->kind == OUT_ERROR) && !c->faults)
            inv_call_detail(x, c, "neither ok nor refused");
    }
    bool excused = inv_any_faulted(x, is_side) || st.planted[0] || !st.active;
    if (inv_ndetails(x) == 0 && (oks == 1 || (oks == 0 && excused)))
        return 1;
    return inv_violated(x, "%d ok (workers %s), %d refused, %d wrong", oks, oks ? oks_who : "none", conflicts,
                        inv_ndetails(x));
}

/* A verify's three writes are all there or none is: a credential minted by
 * a verify ⇔ the record is verified ⇔ it links that credential ⇔ the
 * identity is promoted. Planted state is what the plant role left: with
 * no verify's credential, the record holds exactly that. */
static int inv_all_or_nothing(inv_ctx *x)
{
    record_state st;
    if (load_state(x, &st) < 0)
        return -1;
    bool held = st.minted ? st.verified && st.linked_minted && st.promoted
                          : !st.promoted && st.verified == (strcmp(st.planted, "verified") == 0) &&
                                st.linked == (strcmp(st.planted, "credential") == 0);
    if (held)
        return 1;
    return inv_violated(x, "credential %s, record verified %s, credential linked %s, identity promoted %s%s%s",
                        st.minted ? "issued" : "absent", st.verified ? "yes" : "no",
                        st.linked_minted ? "yes" : st.linked ? "another" : "no", st.promoted ? "yes" : "no",
                        st.planted[0] ? ", planted " : "", st.planted);
}

/* What each caller was told matches what the database holds: a call that
 * got ok has its credential issued and linked to the record; a call that
 * failed (determinately) or was refused left no credential of its own.
 * After an indeterminate failure (connection lost at COMMIT) either is
 * allowed. */
static int inv_outcome_consistent(inv_ctx *x)
{
    const PGresult *creds = x->rows[1];
    for (int i = 0; i < x->ncalls; i++) {
        const call_record *c = &x->calls[i];
        if (is_side(x, c))
            continue;
        char token[CALL_TAG_LEN];
        inv_tag(x, c, token, sizeof token);
        int row = res_find(creds, 0, token);
        if (c->out.kind == OUT_OK && (row < 0 || !res_bool(creds, row, 1)))
            inv_call_detail(x, c, row >= 0 ? "got ok, but its credential is not the record's"
                                           : "got ok, but its credential is absent");
        else if (c->out.kind != OUT_OK && !call_maybe_committed(c) && row >= 0)
            inv_call_detail(x, c, "failed, but its credential was issued");
    }
    return inv_verdict(x, "%d caller(s) told something the database contradicts", inv_ndetails(x));
}

/* The guard, as the seed's defence in depth: a record that is verified or
 * holds a linked credential before a verify's transaction reads it is
 * refused. The plant role commits such state only on a record no verify
 * has touched, under its row lock, so once it is there every later verify
 * must refuse: no verify mints a credential on a planted record. */
static int inv_no_reverify(inv_ctx *x)
{
    record_state st;
    if (load_state(x, &st) < 0)
        return -1;
    if (!st.planted[0] || st.minted == 0)
        return 1;
    char who[256];
    int oks = inv_count(x, OUT_OK, is_side, who, sizeof who);
    bool credential = strcmp(st.planted, "credential") == 0;
    return inv_violated(x, "record planted %s (%s), yet verifies minted %d credential(s); %d got ok%s%s%s",
                        credential ? "with a linked credential" : "verified",
                        credential ? "the seed's partial state" : "no credential", st.minted, oks,
                        oks ? " (workers " : "", oks ? who : "", oks ? ")" : "");
}

/* When a verify's transaction began: the time its BEGIN was sent, or, for a
 * form without one, its first write. -1 when it got to neither. */
static int64_t tx_began(const call_record *c)
{
    const pqx_event *e = inv_statement(c, "BEGIN", NULL);
    return (e = e ? e : inv_statement(c, "INSERT INTO issued_credentials", NULL)) ? e->t_send : -1;
}

/* The seed's W2, as much as READ COMMITTED gives it: the identity read
 * inside the transaction sees every deactivation committed before it, so no
 * credential is minted by a verify whose transaction began after the
 * identity's deactivation had committed (its statement had returned). A
 * deactivation that commits while the transaction runs is not covered (see
 * the header). */
static int inv_deactivated(inv_ctx *x)
{
    int64_t deactivated = -1;
    for (int i = 0; i < x->ncalls; i++) {
        const call_record *c = &x->calls[i];
        const pqx_event *e = inv_statement(c, SIDE "UPDATE identities SET active = false", NULL);
        if (c->out.kind == OUT_OK && e && !e->failed)
            deactivated = e->t_done;
    }
    for (int i = 0; deactivated >= 0 && i < x->ncalls; i++) {
        const call_record *c = &x->calls[i];
        char token[CALL_TAG_LEN];
        inv_tag(x, c, token, sizeof token);
        int64_t began = tx_began(c);
        if (!is_side(x, c) && res_find(x->rows[1], 0, token) >= 0 && began >= deactivated)
            inv_call_detail(x, c, "credential minted; its transaction began %.2fms after the deactivation committed",
                            (double)(began - deactivated) / 1e6);
    }
    return inv_verdict(x, "%d credential(s) minted for an identity deactivated before the verify began",
                       inv_ndetails(x));
}

static const scenario_variant variants[] = {
    { .name = "fixed", .op = op_fixed,
      .summary = "one transaction; record row lock first; in-tx guard on is_verified OR credential_id" },
    { .name = "no-lock", .summary = "the transaction without SELECT ... FOR UPDATE", .minus = { "for-update" },
      .caught = { { "none", "one-credential" } } },
    { .name = "no-tx", .summary = "three autocommit writes behind an is_verified-only guard", .op = op_no_tx,
      .caught = { { "none", "one-credential" }, { "sweep", "one-credential" }, { "sweep-no-retry", "all-or-nothing" },
                  { "planted", "no-reverify" } } },
    { .name = "stale-identity", .summary = "the seed's form before W2: the identity read before the transaction",
      .minus = { "identity-in-tx" }, .caught = { { "deactivate", "deactivated" } } },
};

static const scenario_invariant invariants[] = {
    { "one-credential", "exactly one credential per record", inv_one_credential, ROWS },
    { "one-ok", "exactly one verify gets 200, the rest 409 (403: identity inactive)", inv_one_ok, ROWS },
    { "all-or-nothing", "credential <=> verified <=> identity promoted", inv_all_or_nothing, ROWS },
    { "outcome", "client outcome consistent with the database", inv_outcome_consistent, ROWS },
    { "no-reverify", "a verified or credentialed record is refused, never verified again", inv_no_reverify, ROWS },
    { "deactivated", "no credential for an identity deactivated before the verify began", inv_deactivated, ROWS },
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
    { .name = "planted", .params = "side=plant", .fault = "commit:conn=1:delay=6ms", .pause = "before-tx=3ms",
      .summary = "worker 0 plants partial state under the record's lock (even iterations a linked credential on "
                 "the unverified record, the seed's own test; odd ones verified without one) and commits it 6ms "
                 "later: after the verifiers' pre-transaction guard, before their in-transaction one" },
    { .name = "deactivate", .params = "side=deactivate", .fault = "sql=/SET active = false/:delay=3ms",
      .pause = "before-tx=8ms",
      .summary = "worker 0 deactivates the identity 3ms in: after the verifiers' pre-transaction reads, before "
                 "their transaction (the seed's W2)" },
};

static const char *const pause_points[] = {
    "before-tx: after the pre-transaction guard, before BEGIN (no-tx: before its identity read and writes)",
    "after-guard: after the guard read (under the row lock in the fixed form), before the writes",
};

static const scenario_pin pins[] = {
    { .name = "commit-before-ok", .plan = "commit-error",
      .what = "the caller is told its credential only once COMMIT succeeded" },
    { .name = "for-update", .plan = "none",
      .what = "SELECT ... FOR UPDATE on the record first: concurrent verifies queue behind it" },
    { .name = "one-tx", .plan = "sweep-no-retry",
      .what = "the three writes in one transaction: a failure after the first leaves nothing" },
    { .name = "guard-credential", .plan = "planted",
      .what = "the in-transaction guard refuses a record holding a linked credential (defence in depth)" },
    { .name = "guard-verified", .plan = "planted",
      .what = "the in-transaction guard refuses a verified record" },
    { .name = "identity-in-tx", .plan = "deactivate",
      .what = "the identity is read inside the transaction, after the record's lock (the seed's W2)" },
};

const scenario scenario_attestation = {
    .name = "attestation",
    .summary = "attestation verify: issue credential, promote identity, mark record verified",
    .seed = "000_6b20be3a958a2a5e",
    .schema_sql = schema,
    .setup_sql = setup_sql,
    .workload_period = 2,           /* the planted state alternates by iteration */
    VARIANTS(variants),
    INVARIANTS(invariants),
    PLANS(plans),
    PAUSE_POINTS(pause_points),
    PINS(pins),
};
