/*
 * credstore.c — a credential store over two stores that share no
 * transaction (seed 001_0e85350fa4e43a4e: ServerCredentialStore put-race and
 * vault orphan on rollback failure).
 *
 * A credential is a metadata row (table `metadata`, on the worker's first
 * connection) and a secret in a vault (table `vault`, on its second): two
 * stores, each statement its own autocommit transaction, so there is no
 * atomic put. The fix orders the writes of a new entry so that no reader can
 * see half a put and no failure leaves a secret nobody can find:
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
 * from the earlier attempt).
 *
 * What else the fix guarantees, and this file models:
 *   - updates of an existing (committed) credential are best effort and not
 *     atomic, as the seed documents: vault first, then the metadata row,
 *     which stays visible throughout. A get during an update returns the old
 *     value, or the new value with the old metadata (the documented
 *     stale-metadata window), or the new one — never absent (the row is not
 *     made pending), never the old value with the new metadata (a torn read,
 *     which writing the metadata first would make);
 *   - every reader (get, has, list/keys) treats a pending row as absent, and
 *     a row without the flag (written before the fix: pending NULL) as
 *     committed ("no migration needed"); after a committed put, a reader
 *     returns that value exactly (the seed's reviewers tightened their test
 *     to this: "absent" is not an acceptable answer for a committed row);
 *   - deleteAll deletes its scope: rows whose key has the store's prefix
 *     (the cheap check, first) and whose row names the scope's user and
 *     project (re-asserted, as defence in depth), pending and orphaned rows
 *     included, in both stores — and nothing else.
 * Statuses: the seed's store throws, it has no status mapping; a failed
 * call is the scenario's error. It refuses nothing: a call no fault
 * touched succeeds (an invariant says so, so that a put that fails a key
 * it should update shows).
 *
 * Commit-before-ok, for a store with no transaction: a put takes effect
 * with its last write — the commit step that clears pending (an update: its
 * metadata write) — so it answers ok only once that statement succeeded on
 * the server. The invariants tie ok to the stores: an ok put is committed
 * with its value, and a reader after it must see that value.
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
 *                    metadata without a value (or a value never committed);
 *   seed-rollback    the seed's fix as written: on any vault failure it
 *                    deletes the metadata row, even when the vault write
 *                    may have landed (a write whose connection dropped):
 *                    the secret is then a silent orphan, the very bug the
 *                    fix is for. The fixed form marks instead of rolling
 *                    back when the vault's answer was lost;
 *   row-scope        deleteAll before the tightening, as the seed's text
 *                    implies it: the store's rows filtered by their user
 *                    and project alone, without the key prefix, so another
 *                    store's entries of the same user and project go too.
 *
 * Workload of iteration i, with N workers (conns_per_worker = 2: worker w's
 * metadata connection is the shim's connection 2w+1, its vault 2w+2). Setup
 * writes, in scope "cs:u<i>:p1:", a legacy credential (pending NULL) and a
 * committed one that worker 0 updates (old value, label l1 -> new value,
 * label l2); and, in scope "cs:u<i>:p2:", what deleteAll must remove (a
 * committed row, a legacy one, an in-flight pending one, an orphaned one,
 * with their vault entries) beside what it must leave (another store's row
 * of the same user and project, and a row planted under the scope's prefix
 * whose row names another project: the partial state the row re-check is
 * for). Then:
 *   worker 0         updates the committed credential;
 *   worker N-1       (N >= 3) runs deleteAll on scope p2; with two workers,
 *                    worker 1 runs it every third iteration instead of reading;
 *   other even w     put a new credential "cred-<w/2-1>";
 *   other odd w      read, each iteration another reader: get of the
 *                    updated credential (every round, to watch the
 *                    update), get of a putter's new credential (polled
 *                    until present), or has(legacy) and keys() of scope p1.
 *
 * Pinned guarantees (t/55-pins.t removes each from the fixed form): the
 * commit step before ok, the pending flag, the readers' two rules (pending
 * is absent, no flag is committed), the rollback, the orphan marker (and
 * marking rather than rolling back when the vault's answer was lost), the
 * commit step's marker, the update's visibility and order, and deleteAll's
 * prefix, row re-check and pending rows.
 */
#include "engine/scenario.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GET_ROUNDS 32           /* a reader's polls of a new credential */
#define UPD_ROUNDS 16           /* a reader's reads of the updated one */

static const char schema[] =
    "CREATE TABLE metadata ("
    "  key text PRIMARY KEY,"
    "  iteration bigint NOT NULL,"
    "  worker int NOT NULL,"            /* who wrote it: 0 for setup's rows */
    "  user_id text NOT NULL,"
    "  project_id text NOT NULL,"
    "  label text NOT NULL,"            /* the credential's metadata (label, expiry, provider in the seed) */
    "  pending boolean,"                /* NULL: a row written before the fix, committed */
    "  orphaned_at timestamptz,"
    "  updated_at timestamptz NOT NULL DEFAULT now());"
    "CREATE INDEX ON metadata (iteration);"
    "CREATE TABLE vault ("
    "  key text PRIMARY KEY,"
    "  iteration bigint NOT NULL,"
    "  value text NOT NULL);"
    "CREATE INDEX ON vault (iteration);"
    /* The harness's, not the seed's: the rows setup writes in and around
     * deleteAll's scope, for inv_delete_all. */
    "CREATE TABLE planted ("
    "  iteration bigint NOT NULL,"
    "  key text NOT NULL,"
    "  project text NOT NULL,"
    "  kind text NOT NULL,"             /* legacy, committed, pending (in flight), orphaned */
    "  vault boolean NOT NULL,"         /* with a vault entry */
    "  in_scope boolean NOT NULL);"     /* deleteAll must delete it */
    "CREATE INDEX ON planted (iteration);";

/* Iteration i's rows, in one statement: in scope "cs:u<i>:p1:" the legacy
 * credential ("legacy-<i>", legacy_value) and the one worker 0 updates
 * ("old-<i>", old_value); in scope "cs:u<i>:p2:" deleteAll's rows, and
 * beside them another store's row of the same user and project and a row
 * under the prefix whose row names project p3 (the partial state the row
 * re-check is for). */
static const char setup_sql[] =
    "WITH r (key, project, kind, value, in_scope) AS (VALUES "
    "  ('cs:u' || $1 || ':p1:legacy', 'p1', 'legacy', 'legacy-' || $1, NULL::boolean),"
    "  ('cs:u' || $1 || ':p1:updated', 'p1', 'committed', 'old-' || $1, NULL),"
    "  ('cs:u' || $1 || ':p2:a', 'p2', 'committed', 'secret-a', true),"
    "  ('cs:u' || $1 || ':p2:b', 'p2', 'legacy', 'secret-b', true),"
    "  ('cs:u' || $1 || ':p2:c', 'p2', 'pending', NULL, true),"          /* in flight: before its vault write */
    "  ('cs:u' || $1 || ':p2:d', 'p2', 'orphaned', 'secret-d', true),"
    "  ('other:u' || $1 || ':p2:x', 'p2', 'committed', 'secret-x', false),"
    "  ('cs:u' || $1 || ':p2:z', 'p3', 'committed', 'secret-z', false)), "
    "m AS (INSERT INTO metadata (key, iteration, worker, user_id, project_id, label, pending, orphaned_at) "
    "      SELECT key, $1, 0, 'u' || $1, project, 'l1', "
    "             CASE kind WHEN 'legacy' THEN NULL WHEN 'committed' THEN false ELSE true END, "
    "             CASE kind WHEN 'orphaned' THEN now() END FROM r), "
    "p AS (INSERT INTO planted SELECT $1, key, project, kind, value IS NOT NULL, in_scope FROM r "
    "      WHERE in_scope IS NOT NULL) "
    "INSERT INTO vault (key, iteration, value) SELECT key, $1, value FROM r WHERE value IS NOT NULL";

/* The statements. The fault plans' regexes aim at their first words. */
static const char sql_pending[] =
    /* A retry takes over its own pending row (keeping any marker); a
     * committed row is left alone and returns nothing: an update. */
    "INSERT INTO metadata (key, iteration, worker, user_id, project_id, label, pending) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7::boolean) "
    "ON CONFLICT (key) DO UPDATE SET pending = true, updated_at = now() WHERE metadata.pending RETURNING key";
/* The same without the WHERE: a committed row is made pending too (the
 * loss of pin update-visible: an update goes the new-entry way). */
static const char sql_pending_any[] =
    "INSERT INTO metadata (key, iteration, worker, user_id, project_id, label, pending) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7::boolean) "
    "ON CONFLICT (key) DO UPDATE SET pending = true, updated_at = now() RETURNING key";
static const char sql_meta_committed[] =
    "INSERT INTO metadata (key, iteration, worker, user_id, project_id, label, pending) "
    "VALUES ($1, $2, $3, $4, $5, $6, false) "
    "ON CONFLICT (key) DO UPDATE SET label = excluded.label, updated_at = now()";
static const char sql_vault_put[] =
    "INSERT INTO vault (key, iteration, value) VALUES ($1, $2, $3) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value";
static const char sql_commit[] =
    "UPDATE metadata SET pending = false, label = $2, orphaned_at = NULL, updated_at = now() WHERE key = $1";
static const char sql_meta_update[] = "UPDATE metadata SET label = $2, updated_at = now() WHERE key = $1";
static const char sql_meta_rollback[] = "DELETE FROM metadata WHERE key = $1 AND orphaned_at IS NULL";
static const char sql_vault_rollback[] = "DELETE FROM vault WHERE key = $1";
/* orphaned_at first: a trace keeps a statement's start, and the invariants
 * tell a marker from a pending insert by it. */
static const char sql_mark[] =
    "INSERT INTO metadata (orphaned_at, key, iteration, worker, user_id, project_id, label, pending) "
    "VALUES (now(), $1, $2, $3, $4, $5, $6, true) "
    "ON CONFLICT (key) DO UPDATE SET orphaned_at = now() WHERE metadata.pending";
/* The readers read the row and decide in C, as the seed's readers do. */
static const char sql_get_meta[] = "SELECT label, pending FROM metadata WHERE key = $1";
static const char sql_vault_get[] = "SELECT value FROM vault WHERE key = $1";
/* The store's getAll (which scopedIds filters in memory, in the seed); the
 * iteration bounds it to this iteration's rows. */
static const char sql_all[] = "SELECT key, user_id, project_id, pending FROM metadata WHERE iteration = $1";
static const char sql_delete_vault[] = "DELETE FROM vault WHERE key = ANY($1::text[])";
static const char sql_delete_meta[] = "DELETE FROM metadata WHERE key = ANY($1::text[])";

/* ---- the workload ---- */

typedef enum role { UPDATER, PUTTER, READER, DELETER } role;

/* Worker 0 updates (from 3 workers on; with fewer it puts, so that two
 * workers — the explorer's — are a putter and a reader), the last deletes
 * (from 3 on), the others alternate reader and putter. */
static role role_of(int worker, int nworkers)
{
    if (worker == 0)
        return nworkers >= 3 ? UPDATER : PUTTER;
    if (nworkers >= 3 && worker == nworkers - 1)
        return DELETER;
    return worker % 2 == 0 ? PUTTER : READER;
}

/* Worker's role in iteration i: role_of, but with two workers (the
 * explorer's) the reader deletes instead every third iteration, so that
 * two workers also meet deleteAll. */
static role role_in(long iteration, int worker, int nworkers)
{
    return nworkers < 3 && worker == 1 && iteration % 3 == 0 ? DELETER : role_of(worker, nworkers);
}

/* The worker that runs deleteAll in iteration i, or -1. */
static int deleter_of(long iteration, int nworkers)
{
    for (int w = 0; w < nworkers; w++)
        if (role_in(iteration, w, nworkers) == DELETER)
            return w;
    return -1;
}

/* Putter worker's index among the putters, and the worker of putter p. */
static int putter_index(int worker, int nworkers)
{
    int p = 0;
    for (int w = 0; w < worker; w++)
        p += role_of(w, nworkers) == PUTTER;
    return p;
}

static int putter_worker(int p, int nworkers)
{
    for (int w = 0; w < nworkers; w++)
        if (role_of(w, nworkers) == PUTTER && p-- == 0)
            return w;
    return -1;
}

static int putters(int nworkers)
{
    int n = 0;
    for (int w = 0; w < nworkers; w++)
        n += role_of(w, nworkers) == PUTTER;
    return n;
}

/* What a reader reads, by reader and iteration, so that every reader
 * worker reads everything over a run. */
typedef enum reader_kind { READ_UPDATED, READ_NEW, READ_SCOPE } reader_kind;

static reader_kind reader_kind_of(long iteration, int worker, int nworkers)
{
    reader_kind k = (reader_kind)(((worker - 1) / 2 + iteration) % 3);
    /* Without an updater (fewer than 3 workers) there is no update to read. */
    return k == READ_UPDATED && nworkers < 3 ? READ_NEW : k;
}

/* The putter whose credential reader worker reads (READ_NEW), or -1 when
 * there is none (it reads the legacy credential instead). */
static int read_putter(int worker, int nworkers)
{
    int p = putters(nworkers);
    return p ? ((worker - 1) / 2) % p : -1;
}

#define USER_FMT "u%ld"
#define MAIN_PROJECT "p1"
#define DEL_PROJECT "p2"

static void scope_prefix(long iteration, const char *project, char *buf, size_t len)
{
    snprintf(buf, len, "cs:" USER_FMT ":%s:", iteration, project);
}

static void key_of(long iteration, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "cs:" USER_FMT ":" MAIN_PROJECT ":%s", iteration, name);
}

static void putter_key(long iteration, int p, char *buf, size_t len)
{
    char name[24];
    snprintf(name, sizeof name, "cred-%d", p);
    key_of(iteration, name, buf, len);
}

static void putter_value(long iteration, int p, char *buf, size_t len)
{
    snprintf(buf, len, "val-%ld-%d", iteration, p);
}

#define LEGACY "legacy"
#define UPDATED "updated"
#define LABEL_OLD "l1"
#define LABEL_NEW "l2"

static void legacy_value(long iteration, char *buf, size_t len) { snprintf(buf, len, "legacy-%ld", iteration); }
static void old_value(long iteration, char *buf, size_t len) { snprintf(buf, len, "old-%ld", iteration); }
static void new_value(long iteration, char *buf, size_t len) { snprintf(buf, len, "new-%ld", iteration); }

/* ---- the operations ---- */

/* A put's identity: key, value, label, and the row's owner. */
typedef struct put_args {
    char key[96], value[48], label[8], it[24], worker[12], user[24];
} put_args;

/* Best effort: marks key's pending row orphaned, reconnecting the metadata
 * connection once if it was lost. Returns 0 when the marker is written. */
static int mark_orphan(const drv_call *c, const put_args *a)
{
    if (PQstatus(c->conn) != CONNECTION_OK)
        PQreset(c->conn);
    const char *p[] = { a->key, a->it, a->worker, a->user, MAIN_PROJECT, a->label };
    return call_exec_aside(c, c->conn, NULL, NULL, sql_mark, 6, p);
}

/* A put's last write, which makes it take effect (the commit step of a new
 * entry, the metadata write of an update), then ok. There is no
 * transaction: the statement's success is the commit, and the caller is
 * told ok only after it ("commit-before-ok"; its loss answers ok first and
 * runs the write without looking). Returns 0 (ok), or -1 with the failure
 * recorded for the caller to end the call with. */
static int last_write_ok(const drv_call *c, const char *sql, const char *const *params)
{
    if (!GUARANTEE(c, "commit-before-ok")) {
        call_ok(c, "put");
        call_exec_aside(c, c->conn, NULL, NULL, sql, 2, params);
        return 0;
    }
    if (call_exec(c, NULL, sql, 2, params) < 0)
        return -1;
    call_ok(c, "put");
    return 0;
}

/* An update of a committed credential: best effort, not atomic (see the
 * header): vault first, then the metadata row. */
static void update(const drv_call *c, const put_args *a)
{
    const char *kiv[] = { a->key, a->it, a->value };
    const char *kl[] = { a->key, a->label };
    if (GUARANTEE(c, "update-vault-first")) {
        if (call_exec_on(c, c->conn2, NULL, sql_vault_put, 3, kiv) < 0) {
            call_failed(c, "update: vault write failed");
            return;
        }
        drv_pause(c, "between-stores");
        /* A failure here leaves the new value under the old metadata, as
         * the seed documents: it is not rolled back (the row still points
         * at the same vault id). */
        if (last_write_ok(c, sql_meta_update, kl) < 0)
            call_failed(c, "update: metadata write failed");
        return;
    }
    /* The loss: metadata first, so a reader can get the old value under
     * the new metadata. */
    if (call_exec(c, NULL, sql_meta_update, 2, kl) < 0) {
        call_failed(c, "update: metadata write failed");
        return;
    }
    drv_pause(c, "between-stores");
    if (call_exec_on(c, c->conn2, NULL, sql_vault_put, 3, kiv) < 0) {
        call_failed(c, "update: vault write failed");
        return;
    }
    call_ok(c, "put");
}

/* The metadata-first put (the fixed form's). */
static void put_pending_first(const drv_call *c, const put_args *a)
{
    const char *row[] = { a->key, a->it, a->worker, a->user, MAIN_PROJECT, a->label,
                          GUARANTEE(c, "pending-flag") ? "true" : "false" };
    const char *kiv[] = { a->key, a->it, a->value };
    const char *k[] = { a->key };
    const char *kl[] = { a->key, a->label };
    PGresult *r;
    if (call_exec(c, &r, GUARANTEE(c, "update-visible") ? sql_pending : sql_pending_any, 7, row) < 0) {
        call_failed(c, NULL);
        return;
    }
    bool fresh = PQntuples(r) == 1;
    PQclear(r);
    if (!fresh) {
        /* A committed row: the put is an update (the loss: put() taken for
         * a create, refusing a key that exists). */
        if (GUARANTEE(c, "update-existing"))
            update(c, a);
        else
            call_fail(c, "credential exists");
        return;
    }
    drv_pause(c, "between-stores");
    if (call_exec_on(c, c->conn2, NULL, sql_vault_put, 3, kiv) < 0) {
        /* A server error rolled the autocommit write back; a lost
         * connection may have landed it: then only a marker is safe. The
         * call keeps the vault's failure as its outcome. */
        bool rollback = GUARANTEE(c, "rollback");
        bool known = PQstatus(c->conn2) == CONNECTION_OK || !GUARANTEE(c, "vault-unknown-marks");
        if (rollback && known &&
            call_exec_aside(c, c->conn, NULL, NULL, sql_meta_rollback, 1, k) == 0) {
            call_failed(c, "vault write failed, rolled back");
            return;
        }
        if (!rollback) {
            call_failed(c, "vault write failed");
            return;
        }
        if (!GUARANTEE(c, "orphan-marker")) {
            call_failed(c, "vault write failed and rollback may have orphaned the vault entry");
            return;
        }
        call_failed(c, mark_orphan(c, a) == 0
                           ? "vault write failed and rollback may have orphaned the vault entry (marked orphaned)"
                           : "vault write failed and rollback may have orphaned the vault entry "
                             "(marker not written)");
        return;
    }
    if (last_write_ok(c, sql_commit, kl) < 0) {
        if (!GUARANTEE(c, "commit-marker")) {
            call_failed(c, "commit step failed");
            return;
        }
        call_failed(c, mark_orphan(c, a) == 0
                           ? "commit step failed; vault entry marked orphaned"
                           : "commit step failed; vault entry may be orphaned (marker not written)");
    }
}

/* The seed's "before": vault first, rollback error swallowed; an update is
 * the same two writes. */
static void put_vault_first(const drv_call *c, const put_args *a)
{
    const char *row[] = { a->key, a->it, a->worker, a->user, MAIN_PROJECT, a->label };
    const char *kiv[] = { a->key, a->it, a->value };
    const char *k[] = { a->key };
    if (call_exec_on(c, c->conn2, NULL, sql_vault_put, 3, kiv) < 0) {
        call_failed(c, NULL);
        return;
    }
    drv_pause(c, "between-stores");
    if (call_exec(c, NULL, sql_meta_committed, 6, row) < 0) {
        /* deleteSecret(id).catch(() => undefined) */
        (void)call_exec_aside(c, c->conn2, NULL, NULL, sql_vault_rollback, 1, k);
        call_failed(c, "metadata write failed");
        return;
    }
    call_ok(c, "put");
}

/* Worker c's put: the updater's new value for the updated credential, or a
 * putter's new credential. */
static void put_args_of(const drv_call *c, put_args *a)
{
    snprintf(a->it, sizeof a->it, "%ld", c->iteration);
    snprintf(a->worker, sizeof a->worker, "%d", c->worker + 1);
    snprintf(a->user, sizeof a->user, USER_FMT, c->iteration);
    if (role_of(c->worker, c->nworkers) == UPDATER) {
        key_of(c->iteration, UPDATED, a->key, sizeof a->key);
        new_value(c->iteration, a->value, sizeof a->value);
        snprintf(a->label, sizeof a->label, LABEL_NEW);
    } else {
        putter_key(c->iteration, putter_index(c->worker, c->nworkers), a->key, sizeof a->key);
        putter_value(c->iteration, putter_index(c->worker, c->nworkers), a->value, sizeof a->value);
        snprintf(a->label, sizeof a->label, LABEL_OLD);
    }
}

/* Whether a reader may see row `row` of r, whose column col is pending:
 * pending rows are absent (unless the form's readers see them), a row
 * without the flag is committed. */
static bool visible(const drv_call *c, const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return GUARANTEE(c, "readers-legacy");  /* the loss: pending === false */
    return !res_bool(r, row, col) || !GUARANTEE(c, "readers-skip-pending");
}

/* One get(key): 0 with *code 'a' (absent), 't' (metadata without a value)
 * or 'v' and value/label filled; -1 with the call ended. */
static int get_once(const drv_call *c, const char *key, char *code, char *value, size_t vlen,
                    char *label, size_t llen)
{
    const char *k[] = { key };
    PGresult *r;
    if (call_exec(c, &r, sql_get_meta, 1, k) < 0) {
        call_failed(c, NULL);
        return -1;
    }
    bool present = PQntuples(r) == 1 && visible(c, r, 0, 1);
    if (present)
        snprintf(label, llen, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    *code = 'a';
    if (!present)
        return 0;
    if (call_exec_on(c, c->conn2, &r, sql_vault_get, 1, k) < 0) {
        call_failed(c, NULL);
        return -1;
    }
    if (PQntuples(r) == 1) {
        snprintf(value, vlen, "%s", PQgetvalue(r, 0, 0));
        *code = 'v';
    } else {
        *code = 't';
    }
    PQclear(r);
    return 0;
}

/* get of the updated credential, round after round until it returns the
 * new value (nothing changes after that): the result is one letter per
 * round: 1 old value and metadata, s new value and old metadata (stale),
 * 2 new, x old value and new metadata (torn), a absent, t no value. */
static void read_updated(const drv_call *c)
{
    char key[96], oldv[48], newv[48], res[16 + UPD_ROUNDS] = "upd:";
    key_of(c->iteration, UPDATED, key, sizeof key);
    old_value(c->iteration, oldv, sizeof oldv);
    new_value(c->iteration, newv, sizeof newv);
    for (int round = 0; round < UPD_ROUNDS; round++) {
        char code, value[64] = "", label[16] = "";
        if (get_once(c, key, &code, value, sizeof value, label, sizeof label) < 0)
            return;
        bool oldl = strcmp(label, LABEL_OLD) == 0, newl = strcmp(label, LABEL_NEW) == 0;
        if (code == 'v')
            code = strcmp(value, oldv) == 0 ? (oldl ? '1' : newl ? 'x' : '?')
                 : strcmp(value, newv) == 0 ? (oldl ? 's' : newl ? '2' : '?') : '?';
        size_t n = strlen(res);
        res[n] = code;
        res[n + 1] = '\0';
        if (code == '2')
            break;
    }
    call_ok(c, res);
}

/* get of a putter's new credential (the legacy one when there is no
 * putter), polled until present: "value|label", "absent" or "torn". */
static void read_new(const drv_call *c)
{
    char key[96], res[64] = "absent";
    int p = read_putter(c->worker, c->nworkers);
    if (p >= 0)
        putter_key(c->iteration, p, key, sizeof key);
    else
        key_of(c->iteration, LEGACY, key, sizeof key);
    for (int round = 0; round < GET_ROUNDS; round++) {
        char code, value[48] = "", label[8] = "";
        if (get_once(c, key, &code, value, sizeof value, label, sizeof label) < 0)
            return;
        if (code == 'a')
            continue;
        if (code == 't')
            snprintf(res, sizeof res, "torn");
        else
            snprintf(res, sizeof res, "%s|%s", value, label);
        break;
    }
    call_ok(c, res);
}

/* The known keys of scope p1, as a reader's bitmap: bit 0 legacy, bit 1 the
 * updated credential, bit 2+p putter p's. -1 for any other key. */
static int key_bit(long iteration, const char *key, int nputters)
{
    char k[96];
    key_of(iteration, LEGACY, k, sizeof k);
    if (strcmp(k, key) == 0)
        return 0;
    key_of(iteration, UPDATED, k, sizeof k);
    if (strcmp(k, key) == 0)
        return 1;
    for (int p = 0; p < nputters; p++) {
        putter_key(iteration, p, k, sizeof k);
        if (strcmp(k, key) == 0)
            return 2 + p;
    }
    return -1;
}

/* Whether row `row` of a getAll result (key, user, project, pending) is in
 * the scope (prefix, user, project): scopedIds. The prefix first (a cheap
 * string check), then the row's own user and project (defence in depth). */
static bool in_scope(const drv_call *c, const PGresult *r, int row, const char *prefix, const char *user,
                     const char *project)
{
    if (GUARANTEE(c, "scope-prefix") && strncmp(PQgetvalue(r, row, 0), prefix, strlen(prefix)) != 0)
        return false;
    if (GUARANTEE(c, "scope-row-check") &&
        (strcmp(PQgetvalue(r, row, 1), user) != 0 || strcmp(PQgetvalue(r, row, 2), project) != 0))
        return false;
    return true;
}

/* has(legacy), then keys() of scope p1: "has=1 keys=<hex bitmap>", with a
 * "+" when keys() returned a key outside the known ones. */
static void read_scope(const drv_call *c)
{
    char key[96], it[24], user[24], prefix[64], res[64];
    key_of(c->iteration, LEGACY, key, sizeof key);
    const char *k[] = { key };
    PGresult *r;
    if (call_exec(c, &r, sql_get_meta, 1, k) < 0) {
        call_failed(c, NULL);
        return;
    }
    bool has = PQntuples(r) == 1 && visible(c, r, 0, 1);
    PQclear(r);
    snprintf(it, sizeof it, "%ld", c->iteration);
    snprintf(user, sizeof user, USER_FMT, c->iteration);
    scope_prefix(c->iteration, MAIN_PROJECT, prefix, sizeof prefix);
    const char *p[] = { it };
    if (call_exec(c, &r, sql_all, 1, p) < 0) {
        call_failed(c, NULL);
        return;
    }
    int nputters = putters(c->nworkers), nbits = 2 + nputters;
    unsigned char bits[(2 + 256 + 3) / 4] = { 0 };
    bool other = false;
    for (int row = 0; row < PQntuples(r); row++) {
        if (!in_scope(c, r, row, prefix, user, MAIN_PROJECT) || !visible(c, r, row, 3))
            continue;
        int b = key_bit(c->iteration, PQgetvalue(r, row, 0), nputters);
        if (b < 0)
            other = true;
        else
            bits[b / 4] |= (unsigned char)(1 << (b % 4));
    }
    PQclear(r);
    int n = snprintf(res, sizeof res, "has=%d keys=", has);
    for (int i = 0; i < (nbits + 3) / 4 && n + 2 < (int)sizeof res; i++)
        res[n++] = "0123456789abcdef"[bits[i]];
    res[n] = '\0';
    if (other && n + 1 < (int)sizeof res)
        strcat(res, "+");
    call_ok(c, res);
}

/* deleteAll() of scope p2: scopedIds over getAll, pending and orphaned rows
 * included, then both stores (the vault first: a failure between the two
 * leaves metadata without a secret, never a secret without metadata). */
static void delete_all(const drv_call *c)
{
    char it[24], user[24], prefix[64], res[32];
    snprintf(it, sizeof it, "%ld", c->iteration);
    snprintf(user, sizeof user, USER_FMT, c->iteration);
    scope_prefix(c->iteration, DEL_PROJECT, prefix, sizeof prefix);
    const char *p[] = { it };
    PGresult *r;
    if (call_exec(c, &r, sql_all, 1, p) < 0) {
        call_failed(c, NULL);
        return;
    }
    /* A text[] literal: the keys hold no quote, comma or brace. */
    size_t cap = (size_t)PQntuples(r) * 100 + 3, used = 1, n = 0;
    char *list = malloc(cap);
    if (!list) {
        PQclear(r);
        call_fail(c, "out of memory");
        return;
    }
    list[0] = '{';
    for (int row = 0; row < PQntuples(r); row++) {
        if (!in_scope(c, r, row, prefix, user, DEL_PROJECT))
            continue;
        /* The loss: scopedIds through the readers, which skip pending. */
        if (!GUARANTEE(c, "deleteall-pending") && !visible(c, r, row, 3))
            continue;
        used += (size_t)snprintf(list + used, cap - used, "%s%.96s", n++ ? "," : "", PQgetvalue(r, row, 0));
    }
    PQclear(r);
    snprintf(list + used, cap - used, "}");
    const char *d[] = { list };
    if (call_exec_on(c, c->conn2, NULL, sql_delete_vault, 1, d) < 0 || call_exec(c, NULL, sql_delete_meta, 1, d) < 0) {
        free(list);
        call_failed(c, "deleteAll");
        return;
    }
    free(list);
    snprintf(res, sizeof res, "deleted=%zu", n);
    call_ok(c, res);
}

/* Worker c's role this iteration, with put as its put. */
static void run_role(const drv_call *c, void (*put)(const drv_call *, const put_args *))
{
    put_args a;
    switch (role_in(c->iteration, c->worker, c->nworkers)) {
    case UPDATER:
    case PUTTER:
        put_args_of(c, &a);
        put(c, &a);
        return;
    case DELETER:
        delete_all(c);
        return;
    case READER:
        switch (reader_kind_of(c->iteration, c->worker, c->nworkers)) {
        case READ_UPDATED: read_updated(c); return;
        case READ_NEW: read_new(c); return;
        case READ_SCOPE: read_scope(c); return;
        }
    }
}

/* The fixed form; every pre-fix form but vault-first is it without a pin. */
static void op_fixed(const drv_call *c) { run_role(c, put_pending_first); }
static void op_vault_first(const drv_call *c) { run_role(c, put_vault_first); }

/* ---- invariants ---- */

/* What every invariant reads: the final state of the iteration's keys —
 * key, metadata state ("none", "committed" — pending false or NULL —,
 * "pending", "orphaned"), vault value or NULL, label or NULL. */
#define STATE                                                                                   \
    "SELECT coalesce(m.key, v.key),"                                                            \
    "       CASE WHEN m.key IS NULL THEN 'none' WHEN m.pending IS NOT TRUE THEN 'committed'"    \
    "            WHEN m.orphaned_at IS NOT NULL THEN 'orphaned' ELSE 'pending' END,"            \
    "       v.value, m.label "                                                                  \
    "FROM (SELECT * FROM metadata WHERE iteration = $1) m "                                     \
    "FULL JOIN (SELECT * FROM vault WHERE iteration = $1) v ON v.key = m.key ORDER BY 1"

/* The row of key in the state, or -1. */
static int state_of(const PGresult *r, const char *key) { return res_find(r, 0, key); }

/* Whether key ends committed with value (and label, when not NULL). */
static bool committed_as(const PGresult *r, const char *key, const char *value, const char *label)
{
    int row = state_of(r, key);
    return row >= 0 && strcmp(PQgetvalue(r, row, 1), "committed") == 0 && !PQgetisnull(r, row, 2) &&
           strcmp(PQgetvalue(r, row, 2), value) == 0 &&
           (!label || (!PQgetisnull(r, row, 3) && strcmp(PQgetvalue(r, row, 3), label) == 0));
}

/* The ending of every check here: held, or the violations and the first. */
#define VERDICT(x) inv_verdict((x), "%d violation(s), first: %.300s", inv_ndetails(x), inv_first_detail(x))

/* When worker w's put was known committed to everyone: its ok call's end,
 * or INT64_MAX (not ok: nothing is owed to a reader). */
static int64_t committed_at(const inv_ctx *x, int worker)
{
    const call_record *c = inv_last_call(x, worker);
    return c && c->out.kind == OUT_OK ? c->t_end : INT64_MAX;
}

/* The send times of c's statements that start with prefix, in order, into
 * t (at most n). Returns how many. */
static int sends(const call_record *c, const char *prefix, int64_t *t, int n)
{
    int k = 0;
    for (const pqx_event *e = NULL; k < n && (e = inv_statement(c, prefix, e));)
        if (e->conn == c->conn)
            t[k++] = e->t_send;
    return k;
}

/* Whether c ran a statement starting with prefix (that failed, when
 * failed). */
static bool ran(const call_record *c, const char *prefix, bool failed)
{
    for (const pqx_event *e = NULL; (e = inv_statement(c, prefix, e));)
        if (!failed || e->failed)
            return true;
    return false;
}

/* A detail about reader c: what it read, what it got, and what is wrong. */
static void reader_line(inv_ctx *x, const call_record *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reader_line(inv_ctx *x, const call_record *c, const char *fmt, ...)
{
    static const char *const names[] = {
        [READ_UPDATED] = "get(updated)", [READ_NEW] = "get(new)", [READ_SCOPE] = "has(legacy)+keys()",
    };
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    inv_detail(x, "worker %d: %s -> \"%s\": %s", c->worker + 1,
               names[reader_kind_of(x->iteration, c->worker, x->nworkers)], c->result, what);
}

/* Checks a get of the updated credential (result "upd:<codes>"). */
static void check_read_updated(inv_ctx *x, const call_record *c)
{
    const char *codes = c->result + 4;
    int64_t t[UPD_ROUNDS];
    int n = sends(c, sql_get_meta, t, UPD_ROUNDS);
    int64_t done = committed_at(x, 0);
    static const char order[] = "1s2";
    int prev = 0;
    for (int i = 0; codes[i]; i++) {
        const char *at = strchr(order, codes[i]);
        if (!at) {
            reader_line(x, c, "round %d: %s", i + 1,
                        codes[i] == 'a' ? "absent, although committed since setup (an update made it pending)"
                        : codes[i] == 't' ? "metadata without a value"
                        : codes[i] == 'x' ? "the old value under the new metadata (torn: metadata written first)"
                                          : "a value nobody wrote");
            return;
        }
        if (at - order < prev) {
            reader_line(x, c, "round %d: the old value again after the new one", i + 1);
            return;
        }
        prev = (int)(at - order);
        if (i < n && t[i] > done && codes[i] != '2') {
            reader_line(x, c, "round %d: read after the update returned ok, but not the new value", i + 1);
            return;
        }
    }
}

/* Checks a get of a new credential (or of the legacy one). */
static void check_read_new(inv_ctx *x, const call_record *c, const PGresult *state)
{
    char key[96], want[96];
    int p = read_putter(c->worker, x->nworkers);
    int64_t done = 0;                   /* the legacy credential: committed since setup */
    if (p >= 0) {
        putter_key(x->iteration, p, key, sizeof key);
        char v[48];
        putter_value(x->iteration, p, v, sizeof v);
        snprintf(want, sizeof want, "%s|" LABEL_OLD, v);
        done = committed_at(x, putter_worker(p, x->nworkers));
    } else {
        key_of(x->iteration, LEGACY, key, sizeof key);
        char v[48];
        legacy_value(x->iteration, v, sizeof v);
        snprintf(want, sizeof want, "%s|" LABEL_OLD, v);
    }
    int64_t t[GET_ROUNDS];
    int n = sends(c, sql_get_meta, t, GET_ROUNDS);
    char value[48];
    snprintf(value, sizeof value, "%.*s", (int)strcspn(c->result, "|"), c->result);
    if (strcmp(c->result, "torn") == 0)
        reader_line(x, c, "metadata without a value");
    else if (strcmp(c->result, "absent") == 0 && n > 0 && t[n - 1] > done)
        reader_line(x, c, "absent, but %s was committed before the last read", key);
    else if (strcmp(c->result, "absent") != 0 &&
             (strcmp(c->result, want) != 0 || !committed_as(state, key, value, LABEL_OLD)))
        reader_line(x, c, "not the value %s ends committed with", key);
}

/* Checks has(legacy) and keys() of scope p1. */
static void check_read_scope(inv_ctx *x, const call_record *c, const PGresult *state)
{
    int has = -1, nputters = putters(x->nworkers);
    char hex[80] = "";
    if (sscanf(c->result, "has=%d keys=%70s", &has, hex) != 2) {
        reader_line(x, c, "unreadable result");
        return;
    }
    if (has != 1) {
        reader_line(x, c, "has(legacy) false, but it is committed (a row without the pending flag)");
        return;
    }
    if (strchr(hex, '+')) {
        reader_line(x, c, "keys() returned a key outside the scope");
        return;
    }
    int64_t t[1];
    int64_t scan = sends(c, sql_all, t, 1) == 1 ? t[0] : INT64_MAX;
    for (int b = 0; b < 2 + nputters; b++) {
        int digit = b / 4 < (int)strlen(hex) ? (int)strtol((char[]){ hex[b / 4], 0 }, NULL, 16) : 0;
        bool listed = digit & (1 << (b % 4));
        char key[96];
        if (b == 0)
            key_of(x->iteration, LEGACY, key, sizeof key);
        else if (b == 1)
            key_of(x->iteration, UPDATED, key, sizeof key);
        else
            putter_key(x->iteration, b - 2, key, sizeof key);
        int64_t done = b < 2 ? 0 : committed_at(x, putter_worker(b - 2, x->nworkers));
        int row = state_of(state, key);
        bool committed = row >= 0 && strcmp(PQgetvalue(state, row, 1), "committed") == 0;
        if (!listed && done < scan) {
            reader_line(x, c, "keys() misses %s, committed before it read", key);
            return;
        }
        if (listed && !committed) {
            reader_line(x, c, "keys() lists %s, which never committed", key);
            return;
        }
    }
}

/* Every reader sees committed values exactly: never a pending row or a
 * value without its metadata, never the old value under the new metadata;
 * and never "absent" for a credential committed before it read — after a
 * committed put, get returns that value (the seed's tightened test). */
static int inv_readers(inv_ctx *x)
{
    for (int i = 0; i < x->ncalls; i++) {
        const call_record *c = &x->calls[i];
        if (role_in(x->iteration, c->worker, x->nworkers) != READER || c->out.kind != OUT_OK)
            continue;
        switch (reader_kind_of(x->iteration, c->worker, x->nworkers)) {
        case READ_UPDATED: check_read_updated(x, c); break;
        case READ_NEW: check_read_new(x, c, x->rows[0]); break;
        case READ_SCOPE: check_read_scope(x, c, x->rows[0]); break;
        }
    }
    return VERDICT(x);
}

/* Every vault entry has a committed metadata row or an orphan marker. */
static int inv_no_silent_orphan(inv_ctx *x)
{
    const PGresult *r = x->rows[0];
    for (int i = 0; i < PQntuples(r); i++) {
        const char *meta = PQgetvalue(r, i, 1);
        if (!PQgetisnull(r, i, 2) && strcmp(meta, "committed") != 0 && strcmp(meta, "orphaned") != 0)
            inv_detail(x, "vault holds %s but its metadata is %s, with no orphan marker", PQgetvalue(r, i, 0),
                       strcmp(meta, "none") == 0 ? "absent" : "pending");
    }
    return VERDICT(x);
}

/* Every put's outcome matches the stores. A new credential: ok => committed
 * with its value; failed => committed (a commit the client could not
 * see), rolled back (no row, no vault entry) or marked orphaned — never a
 * vault entry without its row, and, once the put reached the vault, never
 * a pending row without a marker (unless writing the marker failed too:
 * it is best effort, and the error says so; the vault's side is then
 * inv_no_silent_orphan's). A put that failed at its first write may leave
 * its pending row: nothing is in the vault, and no reader sees it. An
 * update:
 * ok => the new value under the new metadata; failed => the old value, or
 * the new one under the old metadata (the seed's documented window), or
 * the new one; never pending, never the old value under the new
 * metadata. */
static int inv_put_outcome(inv_ctx *x)
{
    const PGresult *r = x->rows[0];
    for (int w = 0; w < x->nworkers; w++) {
        role ro = role_of(w, x->nworkers);
        const call_record *c = inv_last_call(x, w);
        if ((ro != PUTTER && ro != UPDATER) || !c)
            continue;
        char key[96], value[48];
        bool held;
        if (ro == UPDATER) {
            char oldv[48];
            key_of(x->iteration, UPDATED, key, sizeof key);
            new_value(x->iteration, value, sizeof value);
            old_value(x->iteration, oldv, sizeof oldv);
            held = committed_as(r, key, value, LABEL_NEW) ||
                   (c->out.kind != OUT_OK &&
                    (committed_as(r, key, oldv, LABEL_OLD) || committed_as(r, key, value, LABEL_OLD)));
        } else {
            putter_key(x->iteration, putter_index(w, x->nworkers), key, sizeof key);
            putter_value(x->iteration, putter_index(w, x->nworkers), value, sizeof value);
            int row = state_of(r, key);
            const char *meta = row < 0 ? "none" : PQgetvalue(r, row, 1);
            bool vault = row >= 0 && !PQgetisnull(r, row, 2);
            bool reached_vault = ran(c, sql_vault_put, false), marker_failed = ran(c, sql_mark, true);
            held = committed_as(r, key, value, LABEL_OLD) ||
                   (c->out.kind != OUT_OK &&
                    (strcmp(meta, "orphaned") == 0 || (!vault && strcmp(meta, "none") == 0) ||
                     (strcmp(meta, "pending") == 0 && ((!vault && !reached_vault) || marker_failed))));
        }
        if (held)
            continue;
        int row = state_of(r, key);
        inv_detail(x, "worker %d: %s %s %s (%s), but it ends with metadata %s%s%s and vault %s", w + 1,
                   ro == UPDATER ? "update" : "put", key, c->out.kind == OUT_OK ? "ok" : "failed", value,
                   row < 0 ? "none" : PQgetvalue(r, row, 1), row >= 0 && !PQgetisnull(r, row, 3) ? " " : "",
                   row >= 0 && !PQgetisnull(r, row, 3) ? PQgetvalue(r, row, 3) : "",
                   row >= 0 && !PQgetisnull(r, row, 2) ? PQgetvalue(r, row, 2) : "empty");
    }
    return VERDICT(x);
}

/* deleteAll removes its scope — pending and orphaned rows included, in
 * both stores — and nothing else: another store's row of the same user and
 * project, and a row under the prefix that names another project, stay. A
 * failed deleteAll may have removed part of its scope, never more. */
static int inv_delete_all(inv_ctx *x)
{
    int deleter = deleter_of(x->iteration, x->nworkers);
    if (deleter < 0)
        return 1;
    const call_record *d = inv_last_call(x, deleter);
    bool ok = d && d->out.kind == OUT_OK;
    const PGresult *r = x->rows[0], *planted = x->rows[1];
    for (int i = 0; i < PQntuples(planted); i++) {
        const char *key = PQgetvalue(planted, i, 0);
        bool in_scope = res_bool(planted, i, 4), had_vault = res_bool(planted, i, 3);
        int row = state_of(r, key);
        bool meta = row >= 0 && strcmp(PQgetvalue(r, row, 1), "none") != 0;
        bool vault = row >= 0 && !PQgetisnull(r, row, 2);
        if (!in_scope && (!meta || vault != had_vault))
            inv_detail(x, "%s (user u%ld, project %s) is outside the scope, but deleteAll deleted it", key,
                       x->iteration, PQgetvalue(planted, i, 1));
        else if (in_scope && ok && (meta || vault))
            inv_detail(x, "%s (%s) is in the scope, but deleteAll left its %s", key, PQgetvalue(planted, i, 2),
                       meta && vault ? "metadata and vault entry" : meta ? "metadata" : "vault entry");
    }
    return VERDICT(x);
}

/* The seed's store refuses nothing: a put, an update, a read and a
 * deleteAll fail only when a store does. Every call no fault touched ended
 * ok — a store that fails a call where it should do it (or wait) breaks
 * it. */
static int inv_calls_succeed(inv_ctx *x)
{
    static const char *const what[] = { [UPDATER] = "update", [PUTTER] = "put", [READER] = "read",
                                        [DELETER] = "deleteAll" };
    for (int i = 0; i < x->ncalls; i++) {
        const call_record *c = &x->calls[i];
        if (c->out.kind != OUT_OK && !c->faults)
            inv_call_detail(x, c, "its %s failed, though no fault touched it",
                            what[role_in(x->iteration, c->worker, x->nworkers)]);
    }
    return VERDICT(x);
}

static const scenario_variant variants[] = {
    { .name = "fixed", .op = op_fixed,
      .summary = "metadata pending, vault, clear pending; rollback or orphan marker; readers skip pending; "
                 "vault-first updates; deleteAll by prefix and row" },
    { .name = "vault-first", .op = op_vault_first,
      .summary = "vault write, then metadata; the rollback's vault delete error swallowed",
      .caught = { { "meta-and-rollback-error", "no-silent-orphan" } } },
    { .name = "unmarked-commit", .minus = { "commit-marker" },
      .summary = "metadata-first, but a failed commit step leaves no orphan marker",
      .caught = { { "commit-error", "no-silent-orphan" } } },
    { .name = "pending-visible", .minus = { "readers-skip-pending" },
      .summary = "metadata-first put, readers that do not treat pending as absent",
      .caught = { { "none", "readers" } } },
    { .name = "seed-rollback", .minus = { "vault-unknown-marks" },
      .summary = "the seed's fix as written: a vault failure rolls back even when the write may have landed",
      .caught = { { "vault-lost", "no-silent-orphan" } } },
    { .name = "row-scope", .minus = { "scope-prefix" },
      .summary = "deleteAll filters the store's rows by user and project only, without the key prefix",
      .caught = { { "none", "delete-all" } } },
};

static const scenario_invariant invariants[] = {
    { "readers", "readers see committed values exactly: no pending row, no torn value, nothing committed missed",
      inv_readers, { STATE } },
    { "no-silent-orphan", "every vault entry has a committed metadata row or an orphan marker", inv_no_silent_orphan,
      { STATE } },
    { "put-outcome", "every failed put rolled back or left a marker", inv_put_outcome, { STATE } },
    { "delete-all", "deleteAll removes its scope, pending and orphaned rows included, and nothing else",
      inv_delete_all,
      { STATE, "SELECT key, project, kind, vault, in_scope FROM planted WHERE iteration = $1 ORDER BY key" } },
    { "calls-succeed", "every call no fault touched succeeds: the store refuses nothing", inv_calls_succeed, { 0 } },
};

static const char *const pause_points[] = {
    "between-stores: after a put's first store write, before its second",
};

static const scenario_plan plans[] = {
    { .name = "vault-error",
      .summary = "each put's first vault write fails (XX000); no retry: the rollback is what is left",
      .fault = "sql=/^INSERT INTO vault/:when=1:error=XX000" },
    { .name = "vault-and-rollback-error",
      .summary = "the first vault write and the first metadata delete fail; no retry",
      .fault = "sql=/^INSERT INTO vault/:when=1:error=XX000;sql=/^DELETE FROM metadata/:when=1:error=XX000" },
    { .name = "vault-ambiguous",
      .summary = "the first vault write lands but its connection drops; 1 retry",
      .fault = "sql=/^INSERT INTO vault/:when=1:ambiguous",
      .retries = 1 },
    /* One putter only (worker 3's vault connection is the shim's 6th): a
     * lost connection costs a reconnect, and one per iteration shows it. */
    { .name = "vault-lost",
      .summary = "the first putter's vault write lands but its connection drops; no retry: only a marker finds "
                 "the secret",
      .fault = "sql=/^INSERT INTO vault/:when=1:conn=6:ambiguous" },
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

static const scenario_pin pins[] = {
    { .name = "commit-before-ok", .plan = "commit-error",
      .what = "a put answers ok only once its commit step (clearing pending) succeeded" },
    { .name = "pending-flag", .plan = "widen",
      .what = "a new entry's metadata row is written pending, invisible until the vault holds the secret" },
    { .name = "readers-skip-pending", .plan = "widen", .what = "readers treat a pending row as absent" },
    { .name = "readers-legacy", .plan = "none",
      .what = "readers treat a row without the flag as committed: after a committed put, get returns it" },
    { .name = "rollback", .plan = "vault-error", .what = "a vault failure rolls the metadata row back" },
    { .name = "orphan-marker", .plan = "vault-lost",
      .what = "when the rollback fails or the vault write may have landed, the row is marked orphaned" },
    { .name = "vault-unknown-marks", .plan = "vault-lost",
      .what = "a vault write whose answer was lost is not rolled back but marked (the seed's form deletes)" },
    { .name = "commit-marker", .plan = "commit-error",
      .what = "a failed commit step leaves an orphan marker (the seed's review)" },
    { .name = "update-existing", .plan = "none",
      .what = "a put of a key that exists updates it (the seed's put), it does not fail it",
      .invariant = "calls-succeed" },
    { .name = "update-visible", .plan = "widen",
      .what = "an update leaves the row committed: a concurrent get returns the old or new value, never absent" },
    { .name = "update-vault-first", .plan = "widen",
      .what = "an update writes the vault first: never the old value under the new metadata" },
    { .name = "scope-prefix", .plan = "none", .what = "deleteAll's scope checks the key prefix first" },
    { .name = "scope-row-check", .plan = "none",
      .what = "deleteAll re-asserts the row's user and project (defence in depth)" },
    { .name = "deleteall-pending", .plan = "none", .what = "deleteAll removes pending and orphaned rows of its scope" },
};

/* What the serial oracle (--oracle serial) cannot judge: two stores share
 * no transaction, so a put is not atomic by design. */
static const char *oracle_outside(const inv_ctx *x)
{
    for (int i = 0; i < x->ncalls; i++) {
        const call_record *c = &x->calls[i];
        if (role_in(x->iteration, c->worker, x->nworkers) == READER &&
            reader_kind_of(x->iteration, c->worker, x->nworkers) == READ_UPDATED)
            return "a reader of the credential being updated reports what each of its rounds read (a history, not "
                   "one answer) across an update the seed documents as not atomic";
        if (c->out.kind != OUT_OK)
            return "a call failed: over two stores that share no transaction a failed call may leave what it wrote "
                   "in one of them (a marked orphan, metadata without its secret), by design";
    }
    return NULL;
}

const scenario scenario_credstore = {
    .name = "credstore",
    .summary = "credential store over a metadata table and a vault that share no transaction",
    .seed = "001_0e85350fa4e43a4e",
    .schema_sql = schema,
    .setup_sql = setup_sql,
    .conns_per_worker = 2,
    .workload_period = 3,           /* reader kinds rotate by iteration */
    .oracle = { .outside = oracle_outside },
    VARIANTS(variants),
    INVARIANTS(invariants),
    PLANS(plans),
    PAUSE_POINTS(pause_points),
    PINS(pins),
};
