/*
 * credstore.c — a credential store over two stores that share no
 * transaction (seed 001_0e85350fa4e43a4e: ServerCredentialStore put-race and
 * vault orphan on rollback failure).
 *
 * A credential is a metadata row (table `metadata`, on the worker's first
 * connection) and a secret in a vault (table `vault`, on its second): two
 * stores, each statement its own autocommit transaction, so there is no
 * atomic put. The fix orders the writes so that no reader can see half a
 * put and no failure leaves a secret nobody can find:
 *   1. metadata row with pending = true (readers treat pending as absent);
 *   2. vault write;
 *   3. commit step: clear pending.
 * A vault failure rolls back by deleting the metadata row; if the vault
 * write may have landed (the connection was lost) or the delete fails, the
 * row stays pending with an orphan marker (orphaned_at) that an operator or
 * reconciler can find, and the error says so; a failed commit step leaves
 * the marker too (the vault holds the secret, the row is still pending).
 * A marker is written on the metadata connection, reconnected once if it
 * was lost (best effort, as in the seed). A retry of a failed put takes over
 * its own pending row, keeping any marker until its own commit step clears
 * it; its rollback never deletes a marked row (the vault may hold bytes
 * from the earlier attempt). Readers (get, and has/list/keys, which share
 * its WHERE clause) see a credential only when its row is committed.
 *
 * Updates of an existing credential are not atomic, as the seed documents:
 * vault first, then the metadata row, so a concurrent get may return the
 * new value with the old metadata. The workload does not update (every
 * iteration's keys are new): the seed's fix is about new entries.
 *
 * The pre-fix forms:
 *   vault-first      the seed's "before": vault write, then the metadata
 *                    row; when the metadata write fails the vault delete
 *                    that rolls back has its error swallowed, leaving a
 *                    silent orphan;
 *   unmarked-commit  the seed PR's first commit (before its review): a
 *                    failed commit step is rethrown without a marker, so
 *                    the vault holds a secret behind a pending row nobody
 *                    looks at;
 *   pending-visible  the metadata-first put with readers that do not treat
 *                    pending as absent: a get between steps 1 and 3 sees
 *                    metadata without a value (or a value never committed).
 *
 * Workload: worker w puts when w is even (key "cred-i-p", p = w/2, value
 * "val-i-p") and gets when w is odd (the key of putter (w/2) mod the number
 * of putters, polled until it is present, at most GET_ROUNDS reads). Set
 * conns_per_worker = 2: worker w's metadata connection is the shim's
 * connection 2w+1 and its vault connection 2w+2.
 */
#include "harness/scenario.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GET_ROUNDS 8

static const char schema[] =
    "CREATE TABLE metadata ("
    "  key text PRIMARY KEY,"
    "  iteration bigint NOT NULL,"
    "  worker int NOT NULL,"
    "  pending boolean NOT NULL,"
    "  orphaned_at timestamptz,"
    "  updated_at timestamptz NOT NULL DEFAULT now());"
    "CREATE INDEX ON metadata (iteration);"
    "CREATE TABLE vault ("
    "  key text PRIMARY KEY,"
    "  iteration bigint NOT NULL,"
    "  value text NOT NULL);"
    "CREATE INDEX ON vault (iteration);";

/* The statements. The fault plans' regexes aim at their first words. */
static const char sql_pending[] =
    /* A retry takes over its own pending row (keeping any marker); a
     * committed row is left alone and returns nothing: an update. */
    "INSERT INTO metadata (key, iteration, worker, pending) VALUES ($1, $2, $3, true) "
    "ON CONFLICT (key) DO UPDATE SET updated_at = now() WHERE metadata.pending RETURNING key";
static const char sql_meta_committed[] =
    "INSERT INTO metadata (key, iteration, worker, pending) VALUES ($1, $2, $3, false) "
    "ON CONFLICT (key) DO UPDATE SET updated_at = now()";
static const char sql_vault_put[] =
    "INSERT INTO vault (key, iteration, value) VALUES ($1, $2, $3) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value";
static const char sql_commit[] =
    "UPDATE metadata SET pending = false, orphaned_at = NULL, updated_at = now() WHERE key = $1";
static const char sql_meta_touch[] = "UPDATE metadata SET updated_at = now() WHERE key = $1";
static const char sql_meta_rollback[] = "DELETE FROM metadata WHERE key = $1 AND orphaned_at IS NULL";
static const char sql_vault_rollback[] = "DELETE FROM vault WHERE key = $1";
static const char sql_mark[] =
    "INSERT INTO metadata (key, iteration, worker, pending, orphaned_at) VALUES ($1, $2, $3, true, now()) "
    "ON CONFLICT (key) DO UPDATE SET orphaned_at = now() WHERE metadata.pending";
static const char sql_get_committed[] = "SELECT 1 FROM metadata WHERE key = $1 AND NOT pending";
static const char sql_get_any[] = "SELECT 1 FROM metadata WHERE key = $1";
static const char sql_vault_get[] = "SELECT value FROM vault WHERE key = $1";

static bool is_putter(int worker) { return worker % 2 == 0; }
static int putters(int nworkers) { return (nworkers + 1) / 2; }

static void key_of(long iteration, int putter, char *buf, size_t len)
{
    snprintf(buf, len, "cred-%ld-%d", iteration, putter);
}

static void value_of(long iteration, int putter, char *buf, size_t len)
{
    snprintf(buf, len, "val-%ld-%d", iteration, putter);
}

/* Nothing precedes a put: the calls create iteration i's rows. */
static int setup(PGconn *ctl, long iteration, int nworkers, char *err, size_t errlen)
{
    (void)ctl, (void)iteration, (void)nworkers, (void)err, (void)errlen;
    return 0;
}

/* Best effort: marks key's pending row orphaned, reconnecting the metadata
 * connection once if it was lost. Returns 0 when the marker is written. */
static int mark_orphan(const drv_call *c, const char *const *kiw)
{
    if (PQstatus(c->conn) != CONNECTION_OK)
        PQreset(c->conn);
    return call_exec_aside(c, c->conn, NULL, NULL, sql_mark, 3, kiw);
}

/* The metadata-first put; mark_commit = false is the PR's first commit. */
static void put_pending_first(const drv_call *c, bool mark_commit)
{
    char key[48], it[24], worker[12], value[48];
    int p = c->worker / 2;
    key_of(c->iteration, p, key, sizeof key);
    value_of(c->iteration, p, value, sizeof value);
    snprintf(it, sizeof it, "%ld", c->iteration);
    snprintf(worker, sizeof worker, "%d", c->worker + 1);
    const char *kiw[] = { key, it, worker };
    const char *kiv[] = { key, it, value };
    const char *k[] = { key };
    PGresult *r;
    if (call_exec(c, &r, sql_pending, 3, kiw) < 0) {
        call_failed(c, NULL);
        return;
    }
    bool fresh = PQntuples(r) == 1;
    PQclear(r);
    if (!fresh) {
        /* An update: vault, then metadata, not atomic (see the header). */
        if (call_exec_on(c, c->conn2, NULL, sql_vault_put, 3, kiv) < 0 ||
            call_exec(c, NULL, sql_meta_touch, 1, k) < 0) {
            call_failed(c, NULL);
            return;
        }
        call_ok(c, "put");
        return;
    }
    drv_pause(c, "between-stores");
    if (call_exec_on(c, c->conn2, NULL, sql_vault_put, 3, kiv) < 0) {
        /* A server error rolled the autocommit write back; a lost
         * connection may have landed it: then only a marker is safe. The
         * call keeps the vault's failure as its outcome. */
        if (PQstatus(c->conn2) == CONNECTION_OK &&
            call_exec_aside(c, c->conn, NULL, NULL, sql_meta_rollback, 1, k) == 0) {
            call_failed(c, "vault write failed, rolled back");
            return;
        }
        call_failed(c, mark_orphan(c, kiw) == 0
                           ? "vault write failed and rollback may have orphaned the vault entry (marked orphaned)"
                           : "vault write failed and rollback may have orphaned the vault entry "
                             "(marker not written)");
        return;
    }
    if (call_exec(c, NULL, sql_commit, 1, k) < 0) {
        if (!mark_commit) {
            call_failed(c, "commit step failed");
            return;
        }
        call_failed(c, mark_orphan(c, kiw) == 0
                           ? "commit step failed; vault entry marked orphaned"
                           : "commit step failed; vault entry may be orphaned (marker not written)");
        return;
    }
    call_ok(c, "put");
}

/* The seed's "before": vault first, rollback error swallowed. */
static void put_vault_first(const drv_call *c)
{
    char key[48], it[24], worker[12], value[48];
    int p = c->worker / 2;
    key_of(c->iteration, p, key, sizeof key);
    value_of(c->iteration, p, value, sizeof value);
    snprintf(it, sizeof it, "%ld", c->iteration);
    snprintf(worker, sizeof worker, "%d", c->worker + 1);
    const char *kiw[] = { key, it, worker };
    const char *kiv[] = { key, it, value };
    const char *k[] = { key };
    if (call_exec_on(c, c->conn2, NULL, sql_vault_put, 3, kiv) < 0) {
        call_failed(c, NULL);
        return;
    }
    drv_pause(c, "between-stores");
    if (call_exec(c, NULL, sql_meta_committed, 3, kiw) < 0) {
        /* deleteSecret(id).catch(() => undefined) */
        (void)call_exec_aside(c, c->conn2, NULL, NULL, sql_vault_rollback, 1, k);
        call_failed(c, "metadata write failed");
        return;
    }
    call_ok(c, "put");
}

/* get(key): the metadata row (committed only, unless pending_visible),
 * then the vault. The result is "absent", "torn" (metadata without a
 * value) or the value; polled until present, at most GET_ROUNDS reads. */
static void get(const drv_call *c, bool pending_visible)
{
    char key[48];
    int p = (c->worker / 2) % putters(c->nworkers);
    key_of(c->iteration, p, key, sizeof key);
    const char *k[] = { key };
    const char *result = "absent";
    char value[64];
    for (int round = 0; round < GET_ROUNDS; round++) {
        PGresult *r;
        if (call_exec(c, &r, pending_visible ? sql_get_any : sql_get_committed, 1, k) < 0) {
            call_failed(c, NULL);
            return;
        }
        bool present = PQntuples(r) > 0;
        PQclear(r);
        if (!present)
            continue;
        if (call_exec_on(c, c->conn2, &r, sql_vault_get, 1, k) < 0) {
            call_failed(c, NULL);
            return;
        }
        if (PQntuples(r) > 0) {
            snprintf(value, sizeof value, "%s", PQgetvalue(r, 0, 0));
            result = value;
        } else {
            result = "torn";
        }
        PQclear(r);
        break;
    }
    call_ok(c, result);
}

static void op_fixed(const drv_call *c)
{
    if (is_putter(c->worker))
        put_pending_first(c, true);
    else
        get(c, false);
}

static void op_vault_first(const drv_call *c)
{
    if (is_putter(c->worker))
        put_vault_first(c);
    else
        get(c, false);
}

static void op_unmarked_commit(const drv_call *c)
{
    if (is_putter(c->worker))
        put_pending_first(c, false);
    else
        get(c, false);
}

static void op_pending_visible(const drv_call *c)
{
    if (is_putter(c->worker))
        put_pending_first(c, true);
    else
        get(c, true);
}

/* The final state of the iteration's keys: key, metadata state ("none",
 * "committed", "pending", "orphaned"), vault value or NULL. */
static PGresult *load_state(inv_ctx *x)
{
    char it[24];
    snprintf(it, sizeof it, "%ld", x->iteration);
    const char *p[] = { it };
    return pqx_ctl_query(x->ctl,
        "SELECT coalesce(m.key, v.key),"
        "       CASE WHEN m.key IS NULL THEN 'none' WHEN NOT m.pending THEN 'committed'"
        "            WHEN m.orphaned_at IS NOT NULL THEN 'orphaned' ELSE 'pending' END,"
        "       v.value "
        "FROM (SELECT * FROM metadata WHERE iteration = $1) m "
        "FULL JOIN (SELECT * FROM vault WHERE iteration = $1) v ON v.key = m.key ORDER BY 1",
        1, p, x->err, x->errlen);
}

/* The row of key in a load_state result, or -1. */
static int state_of(const PGresult *r, const char *key)
{
    for (int i = 0; i < PQntuples(r); i++)
        if (strcmp(PQgetvalue(r, i, 0), key) == 0)
            return i;
    return -1;
}

static int verdict(inv_ctx *x, json_t *bad)
{
    if (json_array_size(bad) == 0) {
        json_decref(bad);
        return 1;
    }
    char found[400];
    snprintf(found, sizeof found, "%zu violation(s), first: %.300s", json_array_size(bad),
             json_string_value(json_array_get(bad, 0)));
    return inv_violated(x, found, "details", bad);
}

/* Every get returned "absent" or the value its key holds committed at the
 * end: never metadata without a value, never a value whose put did not
 * commit. */
static int inv_no_pending_read(inv_ctx *x)
{
    PGresult *r = load_state(x);
    if (!r)
        return -1;
    json_t *bad = inv_list(x, r);
    if (!bad)
        return -1;
    for (int i = 0; i < x->ncalls; i++) {
        const call_record *c = &x->calls[i];
        if (is_putter(c->worker) || c->out.kind != OUT_OK || strcmp(c->result, "absent") == 0)
            continue;
        char key[48], line[400];
        key_of(x->iteration, (c->worker / 2) % putters(x->nworkers), key, sizeof key);
        int row = state_of(r, key);
        const char *meta = row < 0 ? "none" : PQgetvalue(r, row, 1);
        bool committed = row >= 0 && strcmp(meta, "committed") == 0 && !PQgetisnull(r, row, 2) &&
                         strcmp(PQgetvalue(r, row, 2), c->result) == 0;
        if (strcmp(c->result, "torn") == 0 || !committed) {
            snprintf(line, sizeof line, "worker %d: get %s -> %s, but %s ends with metadata %s and vault %s",
                     c->worker + 1, key, strcmp(c->result, "torn") == 0 ? "metadata without a value" : c->result,
                     key, meta, row < 0 || PQgetisnull(r, row, 2) ? "empty" : PQgetvalue(r, row, 2));
            json_array_append_new(bad, json_string(line));
        }
    }
    PQclear(r);
    return verdict(x, bad);
}

/* Every vault entry has a committed metadata row or an orphan marker. */
static int inv_no_silent_orphan(inv_ctx *x)
{
    PGresult *r = load_state(x);
    if (!r)
        return -1;
    json_t *bad = inv_list(x, r);
    if (!bad)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *meta = PQgetvalue(r, i, 1);
        if (PQgetisnull(r, i, 2) || strcmp(meta, "committed") == 0 || strcmp(meta, "orphaned") == 0)
            continue;
        char line[300];
        snprintf(line, sizeof line, "vault holds %s but its metadata is %s, with no orphan marker",
                 PQgetvalue(r, i, 0), strcmp(meta, "none") == 0 ? "absent" : "pending");
        json_array_append_new(bad, json_string(line));
    }
    PQclear(r);
    return verdict(x, bad);
}

/* Every put's outcome matches the stores: an ok put is committed with its
 * value; a failed one is committed (a commit the client could not see),
 * rolled back (no vault entry, nothing visible) or marked orphaned. */
static int inv_put_outcome(inv_ctx *x)
{
    PGresult *r = load_state(x);
    if (!r)
        return -1;
    json_t *bad = inv_list(x, r);
    if (!bad)
        return -1;
    for (int i = 0; i < x->ncalls; i++) {
        const call_record *c = &x->calls[i];
        if (!is_putter(c->worker))
            continue;
        /* Only a worker's last attempt says how its put ended. */
        if (i + 1 < x->ncalls && x->calls[i + 1].worker == c->worker)
            continue;
        char key[48], value[48], line[400];
        key_of(x->iteration, c->worker / 2, key, sizeof key);
        value_of(x->iteration, c->worker / 2, value, sizeof value);
        int row = state_of(r, key);
        const char *meta = row < 0 ? "none" : PQgetvalue(r, row, 1);
        bool vault = row >= 0 && !PQgetisnull(r, row, 2);
        bool committed = strcmp(meta, "committed") == 0 && vault && strcmp(PQgetvalue(r, row, 2), value) == 0;
        bool held = c->out.kind == OUT_OK
                        ? committed
                        : committed || strcmp(meta, "orphaned") == 0 ||
                              (!vault && strcmp(meta, "committed") != 0);
        if (held)
            continue;
        snprintf(line, sizeof line, "worker %d: put %s %s, but it ends with metadata %s and vault %s",
                 c->worker + 1, key, c->out.kind == OUT_OK ? "ok" : "failed", meta,
                 vault ? PQgetvalue(r, row, 2) : "empty");
        json_array_append_new(bad, json_string(line));
    }
    PQclear(r);
    return verdict(x, bad);
}

#define NO_PENDING_READ "no reader sees a pending row or a torn value"
#define NO_SILENT_ORPHAN "every vault entry has a committed metadata row or an orphan marker"

static const scenario_variant variants[] = {
    { .name = "fixed", .op = op_fixed,
      .summary = "metadata pending, vault, clear pending; rollback or orphan marker; readers skip pending" },
    { "vault-first", "vault write, then metadata; the rollback's vault delete error swallowed",
      op_vault_first, { { "meta-and-rollback-error", NO_SILENT_ORPHAN } } },
    { "unmarked-commit", "metadata-first, but a failed commit step leaves no orphan marker",
      op_unmarked_commit, { { "commit-error", NO_SILENT_ORPHAN } } },
    { "pending-visible", "metadata-first put, readers that do not treat pending as absent",
      op_pending_visible, { { "none", NO_PENDING_READ } } },
};

static const scenario_invariant invariants[] = {
    { NO_PENDING_READ, inv_no_pending_read },
    { NO_SILENT_ORPHAN, inv_no_silent_orphan },
    { "every failed put rolled back or left a marker", inv_put_outcome },
};

static const char *const pause_points[] = {
    "between-stores: after a put's first store write, before its second",
};

static const scenario_plan plans[] = {
    { .name = "vault-error",
      .summary = "each putter's first vault write fails (XX000); 1 retry",
      .fault = "sql=/^INSERT INTO vault/:when=1:error=XX000",
      .retries = 1 },
    { .name = "vault-and-rollback-error",
      .summary = "the first vault write and the first metadata delete fail; no retry",
      .fault = "sql=/^INSERT INTO vault/:when=1:error=XX000;sql=/^DELETE FROM metadata/:when=1:error=XX000" },
    { .name = "vault-ambiguous",
      .summary = "the first vault write lands but its connection drops; 1 retry",
      .fault = "sql=/^INSERT INTO vault/:when=1:ambiguous",
      .retries = 1 },
    { .name = "meta-and-rollback-error",
      .summary = "the first metadata insert and the first vault delete fail; no retry",
      .fault = "sql=/^INSERT INTO metadata/:when=1:error=XX000;sql=/^DELETE FROM vault/:when=1:error=XX000" },
    { .name = "commit-error",
      .summary = "the first commit step (clear pending) fails; no retry",
      .fault = "sql=/SET pending = false/:when=1:error=XX000" },
    { .name = "widen",
      .summary = "a 1ms pause between a put's two stores",
      .pause = "between-stores=1ms" },
};

const scenario scenario_credstore = {
    .name = "credstore",
    .summary = "credential store over a metadata table and a vault that share no transaction",
    .seed = "001_0e85350fa4e43a4e",
    .schema_sql = schema,
    .setup = setup,
    .conns_per_worker = 2,
    VARIANTS(variants),
    INVARIANTS(invariants),
    PLANS(plans),
    PAUSE_POINTS(pause_points),
};
