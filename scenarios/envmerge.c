/*
 * envmerge.c — stack env-var merge (seed 003_00bef57d2cb666d8).
 *
 * PATCH /stacks/:slug/env merges a delta into a stack's env (a jsonb
 * object): a key with a value sets it, a key with an empty value deletes it.
 * The merged env may not exceed 64 KiB, a stack being torn down (status
 * 'deleting') takes no more changes, and the audit reports how many keys the
 * merge set (only real upserts) and deleted (only keys that were present).
 * The fix (#235 + #238) is one transaction: SET LOCAL lock_timeout first (a
 * merge stuck behind a long lock fails fast and retryable), SELECT status,
 * env ... FOR UPDATE, refuse a deleting stack under the lock, merge in C,
 * check the cap before the write, write, commit. The pre-fix forms:
 *   rmw        before #235: the handler's teardown pre-read, an unlocked
 *              env read, merge in C, blind overwrite (concurrent merges of
 *              disjoint keys lose each other's keys), and the old audit
 *              count len(delta) - deletes (a no-op delete counts as a set);
 *   precheck   #235: the locked merge, but the teardown check is still the
 *              handler's pre-read before the transaction (a merge that read
 *              'active' commits after teardown began) and the old count;
 *   sql-merge  the other common answer to the lost update: the merge pushed
 *              into one UPDATE (env || set - deletes, refused in its WHERE
 *              when deleting), its 64 KiB cap checked in C on an unlocked
 *              snapshot: merges that each fit that snapshot together
 *              exceed the cap. rmw and precheck cannot show that bug (each
 *              writes exactly the value it checked), so without this form
 *              the cap invariant would be one nothing can break.
 *
 * Statuses, as the seed's handler maps them (#235, #238): 404 the stack
 * vanished (the row the FOR UPDATE looks for is gone), 409 it is being
 * deleted, 413 the merged env is over the cap, 503 a lock timeout or any
 * other database error (the scenario's error_status). An invariant checks
 * every answer against what the database ends with.
 *
 * Workload of iteration i: stack "stack-<i>"; every worker but the last
 * merges {"k<w>": value, "old<w>": "", "gone<w>": ""} — sets its own key,
 * deletes its own key old<w> (present since setup) and deletes gone<w>
 * (never present: a no-op the honest count must not count). The last
 * worker (when there are two or more) plays the iteration's other role:
 *   teardown  (most iterations) flips the stack to deleting;
 *   vanish    (i % 10 = 3 or 7) deletes the stack row outright, as the end
 *             of a teardown does: merges that lock after it get 404 (the
 *             seed's forUpdateVanish test, as a real race);
 *   holder    (i % 20 = 5) takes the stack's row lock and keeps it, at the
 *             pause point "holding", for as long as the plan says: the
 *             seed's "long-held row lock". Plan lock-holder holds it 1s
 *             and sets the merges' lock_timeout to 25ms (the seed's 3s,
 *             shortened for a test): a merge queued behind the holder must
 *             fail fast with 55P03 (503) instead of waiting it out; plan
 *             short-hold holds it 50ms, inside the seed's 3s: they must
 *             wait for it and succeed. (One iteration in 20: each costs
 *             the plan its hold.)
 * Every 10th iteration (i % 10 = 0) has no other role: it starts the stack
 * close to the cap (a "fill" key) with room for about half of the merges,
 * so the cap is reached in every run whatever the plan, since a plan cannot
 * change a workload's values. And one in 20 (i % 20 = 15) is the cap's
 * edge: no other role, the stack holds only a fill, and every merge sets
 * the one key "edge" to a value that lands the env exactly on 64 KiB (w %
 * 3 = 0), one byte over (1) or one byte under (2) — whatever the order,
 * since each replaces the key: 200, 413, 200 are the seed's answers.
 *
 * The seed's success path is an invariant too: a merge the seed does not
 * refuse (404, 409, 413) succeeds — a 503 needs an injected fault, or a
 * lock held past lock_timeout.
 *
 * Commit order is made checkable by one sequence: every env write records
 * a change row (in the same statement as the write) with nextval taken
 * under the row lock, and teardown takes its deleting_seq under the row
 * lock too; so a change with seq > deleting_seq committed after teardown.
 * The change rows outlive a vanished stack: an ok merge's row is the proof
 * that it committed.
 *
 * Pinned guarantees (t/55-pins.t removes each from the fixed form): the
 * COMMIT before ok, the FOR UPDATE, SET LOCAL lock_timeout (and LOCAL, and
 * its unit), READ COMMITTED, the refusal of a deleting stack under the
 * lock, the cap check before the write (and its edge: exactly 64 KiB is
 * in), the honest count, and the handler's 404/409/413 arms.
 */
#include "engine/scenario.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENV_CAP 65536           /* bytes of the env as compact JSON (the seed's 64 KiB) */
#define BIG_VALUE_MAX 2048      /* a near-cap iteration's value size, at most */
#define JSON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS)

static const char schema[] =
    "CREATE SEQUENCE change_seq;"
    "CREATE TABLE stacks ("
    "  slug text PRIMARY KEY,"
    "  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deleting')),"
    "  env jsonb NOT NULL DEFAULT '{}',"
    "  deleting_seq bigint);"           /* change_seq when teardown began, under the row lock */
    /* One row per committed env write, written by the write's own statement. */
    "CREATE TABLE env_changes ("
    "  slug text NOT NULL,"
    "  worker int NOT NULL,"
    "  attempt int NOT NULL,"
    "  seq bigint NOT NULL);"
    "CREATE INDEX ON env_changes (slug);";

/* The write every whole-value form makes: the env and its change row in one
 * statement, so that the change row exists exactly when the write does,
 * autocommit or not. $1 slug, $2 env, $3 worker, $4 attempt. */
static const char write_sql[] =
    "WITH u AS (UPDATE stacks SET env = $2::jsonb WHERE slug = $1 RETURNING slug) "
    "INSERT INTO env_changes (slug, worker, attempt, seq) "
    "SELECT slug, $3, $4, nextval('change_seq') FROM u";

static void stack_slug(long iteration, char *buf, size_t len) { snprintf(buf, len, "stack-%ld", iteration); }

/* Every 10th iteration starts near the cap and has no other role: a
 * teardown that refuses the merges would hide the cap from them. */
static bool near_cap(long iteration) { return iteration % 10 == 0; }

/* One iteration in 20 is the cap's edge: every worker merges, and each
 * merge lands exactly on the cap, one byte under or one byte over it
 * whatever the order (see edge_delta). */
static bool at_edge(long iteration) { return iteration % 20 == 15; }

/* In an edge iteration the stack holds only a fill of this many bytes, and
 * every merge sets the one key "edge": the merged env is
 * {"edge":"<value>","fill":"<fill>"}, 21 bytes besides the two strings, so
 * a value of EDGE_ROOM + d bytes makes it the cap + d, before or after any
 * other merge (each replaces the key; the keys it deletes are absent). */
#define EDGE_ROOM 1000
#define EDGE_FILL (ENV_CAP - 21 - EDGE_ROOM)

/* Worker w's landing in an edge iteration, in bytes from the cap: exactly
 * on it, one over, one under — in that order, so that two workers (the
 * explorer's) meet the cap and the byte past it. */
static int edge_delta(int worker)
{
    static const int d[] = { 0, 1, -1 };
    return d[worker % 3];
}

/* What a worker does in an iteration. */
typedef enum role { MERGE, TEARDOWN, VANISH, HOLDER } role;

/* The last worker's role in iteration i (when there is someone else to
 * merge). */
static role other_role(long iteration)
{
    if (iteration % 20 == 5)
        return HOLDER;
    if (at_edge(iteration))
        return MERGE;
    switch (iteration % 10) {
    case 0: return MERGE;
    case 3: case 7: return VANISH;
    default: return TEARDOWN;
    }
}

/* The workload of iteration i: the role its last worker plays, and for a
 * merge whether the iteration is near the cap or at its edge, so the
 * explorer explores each once. */
static int workload_of(long iteration) { return at_edge(iteration) ? HOLDER + 1 : (int)other_role(iteration); }

static role role_of(long iteration, int worker, int nworkers)
{
    return nworkers >= 2 && worker == nworkers - 1 ? other_role(iteration) : MERGE;
}

static int mergers(long iteration, int nworkers)
{
    return role_of(iteration, nworkers - 1, nworkers) == MERGE ? nworkers : nworkers - 1;
}

/* A near-cap iteration's value size: small enough that half the merges fit
 * under the cap beside the stack's other keys at any worker count. */
static size_t big_len(int m)
{
    size_t n = ENV_CAP / (4 * (size_t)m);
    return n < BIG_VALUE_MAX ? n : BIG_VALUE_MAX;
}

/* Worker w's value for its key (merge_key) in iteration i (the invariants
 * recompute it). */
static char *merge_value(long iteration, int worker, int nworkers)
{
    char head[48];
    int n = snprintf(head, sizeof head, "v%ld-%d", iteration, worker);
    size_t len = at_edge(iteration) ? (size_t)(EDGE_ROOM + edge_delta(worker))
                 : near_cap(iteration) ? big_len(mergers(iteration, nworkers)) : (size_t)n;
    if (len < (size_t)n)
        len = (size_t)n;
    char *v = malloc(len + 1);
    if (!v)
        return NULL;
    memset(v, 'x', len);
    memcpy(v, head, (size_t)n);
    v[len] = '\0';
    return v;
}

/* The key worker w sets in iteration i: k<w>, or "edge" at the edge. */
static void merge_key(long iteration, int worker, char *buf, size_t len)
{
    if (at_edge(iteration))
        snprintf(buf, len, "edge");
    else
        snprintf(buf, len, "k%d", worker);
}

/* Worker w's delta: sets its key, deletes old<w> (present since setup,
 * but at the edge) and gone<w> (never present). Returns a new object or
 * NULL (out of memory). */
static json_t *merge_delta(long iteration, int worker, int nworkers)
{
    char k[24], old[24], gone[24];
    merge_key(iteration, worker, k, sizeof k);
    snprintf(old, sizeof old, "old%d", worker);
    snprintf(gone, sizeof gone, "gone%d", worker);
    char *v = merge_value(iteration, worker, nworkers);
    json_t *d = json_object();
    if (!v || !d || json_object_set_new(d, k, json_string(v)) < 0 ||
        json_object_set_new(d, old, json_string("")) < 0 || json_object_set_new(d, gone, json_string("")) < 0) {
        free(v);
        json_decref(d);
        return NULL;
    }
    free(v);
    return d;
}

/* Size of env as compact JSON: the measure the cap is enforced on, by the
 * operation and by the invariant alike. */
static size_t env_size(const json_t *env) { return json_dumpb(env, NULL, 0, JSON_FLAGS); }


/* Sets env's "fill" key to n bytes. Returns 0, or -1 out of memory. */
static int set_fill(json_t *env, size_t n)
{
    char *f = malloc(n + 1);
    if (!f)
        return -1;
    memset(f, 'f', n);
    f[n] = '\0';
    int rc = json_object_set_new(env, "fill", json_string(f));
    free(f);
    return rc < 0 ? -1 : 0;
}

/* Iteration i's stack at setup: old<w> for every merger and, in a near-cap
 * iteration, a fill key that leaves room for about half the merges. Returns
 * a new object or NULL (out of memory). */
static json_t *initial_env(long iteration, int nworkers)
{
    int m = mergers(iteration, nworkers);
    json_t *env = json_object();
    if (!env)
        return NULL;
    if (at_edge(iteration)) {
        if (set_fill(env, EDGE_FILL) < 0)
            goto oom;
        return env;
    }
    for (int w = 0; w < m; w++) {
        char old[24];
        snprintf(old, sizeof old, "old%d", w);
        if (json_object_set_new(env, old, json_string("x")) < 0)
            goto oom;
    }
    if (near_cap(iteration)) {
        /* Each merge adds ,"k<w>":"<value>" and drops ,"old<w>":"x"; half
         * an entry more, so that a lone merger's merge fits. */
        size_t entry = big_len(m) + 16;
        size_t room = (size_t)(m / 2 ? m / 2 : 1) * entry + entry / 2;
        if (set_fill(env, ENV_CAP - env_size(env) - strlen(",\"fill\":\"\"") - room) < 0)
            goto oom;
    }
    return env;
oom:
    json_decref(env);
    return NULL;
}

static int setup(PGconn *ctl, long iteration, int nworkers, long salt, char *err, size_t errlen)
{
    (void)salt;     /* one table, keyed by its slug: no ids to keep apart */
    char slug[32];
    stack_slug(iteration, slug, sizeof slug);
    json_t *env = initial_env(iteration, nworkers);
    char *text = env ? json_dumps(env, JSON_FLAGS) : NULL;
    json_decref(env);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *p[] = { slug, text };
    PGresult *r = pqx_ctl_query(ctl, "INSERT INTO stacks (slug, env) VALUES ($1, $2::jsonb)", 2, p, err, errlen);
    free(text);
    PQclear(r);
    return r ? 0 : -1;
}

/* Teardown (the same in every variant; not under test): flips the stack to
 * deleting in its own short transaction and takes deleting_seq under the
 * row lock, so every env change ordered before it committed before it. */
static void teardown(const drv_call *c)
{
    char slug[32], res[64];
    stack_slug(c->iteration, slug, sizeof slug);
    const char *p[] = { slug };
    PGresult *r;
    if (call_exec(c, NULL, "BEGIN", 0, NULL) < 0 ||
        call_exec(c, &r, "SELECT status FROM stacks WHERE slug = $1 FOR UPDATE", 1, p) < 0) {
        call_failed(c, NULL);
        return;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        call_refuse(c, STATUS_NOT_FOUND, "stack not found");
        return;
    }
    bool deleting = strcmp(PQgetvalue(r, 0, 0), "deleting") == 0;
    PQclear(r);
    if (deleting) {
        /* A retry after a COMMIT whose outcome was lost: teardown is
         * idempotent, and deleting_seq keeps the moment it first began. */
        call_rollback(c);
        call_ok(c, "already deleting");
        return;
    }
    if (call_exec(c, &r, "UPDATE stacks SET status = 'deleting', deleting_seq = nextval('change_seq') "
                         "WHERE slug = $1 RETURNING deleting_seq", 1, p) < 0) {
        call_failed(c, NULL);
        return;
    }
    snprintf(res, sizeof res, "deleting_seq=%s", PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "?");
    PQclear(r);
    call_commit_ok(c, res);
}

/* The merges' lock_timeout in milliseconds: the seed's 3s, or the plan's
 * parameter lock_timeout (a test need not wait 3s). Returns 0, or -1 with
 * the call ended (a plan with a bad value). */
static int lock_timeout_ms(const drv_call *c, long long *ms)
{
    int64_t ns;
    if (call_param_duration(c, "lock_timeout", "3s", &ns) < 0)
        return -1;
    *ms = (long long)(ns / 1000000);
    return 0;
}

/* The vanish role (the same in every variant; not under test): the end of
 * a teardown deletes the stack row. Merges that lock after it find no row. */
static void vanish(const drv_call *c)
{
    char slug[32];
    stack_slug(c->iteration, slug, sizeof slug);
    const char *p[] = { slug };
    PGresult *r;
    if (call_exec(c, &r, "DELETE FROM stacks WHERE slug = $1", 1, p) < 0) {
        call_failed(c, NULL);
        return;
    }
    bool deleted = strcmp(PQcmdTuples(r), "1") == 0;
    PQclear(r);
    if (!deleted) {
        call_refuse(c, STATUS_NOT_FOUND, "stack not found");
        return;
    }
    call_ok(c, "deleted");
}

/* The holder role (the same in every variant; not under test): takes the
 * stack's row lock and keeps it for the pause point "holding" — a long
 * transaction on the stack, as a redeploy or a teardown makes. It reports
 * how long it held the lock and the lock_timeout the merges run with, for
 * the invariant that bounds their waits. */
static void hold_lock(const drv_call *c)
{
    char slug[32], res[64];
    stack_slug(c->iteration, slug, sizeof slug);
    long long lt;
    if (lock_timeout_ms(c, &lt) < 0)
        return;
    /* BEGIN and the lock in one round trip (the slug is ours, no quoting
     * needed): the holder takes the lock before most merges reach it, so
     * that they queue behind it. */
    char sql[96];
    snprintf(sql, sizeof sql, "BEGIN; SELECT 1 FROM stacks WHERE slug = '%s' FOR UPDATE", slug);
    PGresult *r;
    if (call_exec(c, &r, sql, 0, NULL) < 0) {
        call_failed(c, NULL);
        return;
    }
    bool found = PQntuples(r) == 1;
    PQclear(r);
    if (!found) {
        call_refuse(c, STATUS_NOT_FOUND, "stack not found");
        return;
    }
    int64_t t0 = clock_now_ns();
    drv_pause(c, "holding");
    snprintf(res, sizeof res, "held=%lldms lock_timeout=%lldms", (long long)((clock_now_ns() - t0) / 1000000), lt);
    call_commit_ok(c, res);
}

/* The role a worker plays other than merging; true when it played one. */
static bool other_roles(const drv_call *c)
{
    switch (role_of(c->iteration, c->worker, c->nworkers)) {
    case TEARDOWN: teardown(c); return true;
    case VANISH: vanish(c); return true;
    case HOLDER: hold_lock(c); return true;
    case MERGE: break;
    }
    return false;
}

typedef struct counts {
    int set, deleted;
} counts;

/* Applies delta to env in place: a non-empty value sets its key, an empty
 * one deletes it. Counts honestly (#238): set = the upserts, deleted = the
 * keys that were present. Returns 0, or -1 out of memory. */
static int apply_delta(json_t *env, json_t *delta, counts *n)
{
    const char *key;
    json_t *v;
    n->set = n->deleted = 0;
    json_object_foreach(delta, key, v) {
        if (json_string_length(v) == 0) {
            if (json_object_get(env, key)) {
                json_object_del(env, key);
                n->deleted++;
            }
        } else {
            if (json_object_set(env, key, v) < 0)
                return -1;
            n->set++;
        }
    }
    return 0;
}

/* What the merge can refuse with (the seed's model errors). */
typedef enum refusal { NOT_FOUND, DELETING, TOO_LARGE } refusal;

/* The handler's mapping of a refusal to its status: ErrStackNotFound 404,
 * ErrStackDeleting 409 (#238), ErrStackEnvVarsTooLarge 413, anything else
 * 503. Shared by every form, as the handler is. Each arm is pinned: its
 * loss is the arm missing, so that the refusal falls to the 503 arm. */
static void refuse(const drv_call *c, refusal why)
{
    static const struct {
        const char *pin, *text;
        int status;
    } arm[] = {
        [NOT_FOUND] = { "status-404", "stack not found", STATUS_NOT_FOUND },
        [DELETING] = { "status-409", "stack is being deleted", STATUS_CONFLICT },
        [TOO_LARGE] = { "status-413", "env too large", STATUS_TOO_LARGE },
    };
    if (GUARANTEE(c, arm[why].pin))
        call_refuse(c, arm[why].status, arm[why].text);
    else
        call_fail(c, arm[why].text);
}

/* The steps below return 0 to go on, or 1 once they have ended the call
 * (refused or failed). */

/* The handler's teardown pre-read before any transaction (GetStackBySlug,
 * removed by #238). */
static int preread_status(const drv_call *c, const char *slug)
{
    const char *p[] = { slug };
    PGresult *r;
    if (call_exec(c, &r, "SELECT status FROM stacks WHERE slug = $1", 1, p) < 0) {
        call_failed(c, NULL);
        return 1;
    }
    bool found = PQntuples(r) == 1, deleting = found && strcmp(PQgetvalue(r, 0, 0), "deleting") == 0;
    PQclear(r);
    if (!found)
        refuse(c, NOT_FOUND);
    else if (deleting)
        refuse(c, DELETING);
    return !found || deleting;
}

/* Reads the stack's status and env with sql (two columns) into *env.
 * Refuses a deleting stack when check_status (409), a vanished one (404). */
static int read_env(const drv_call *c, const char *sql, const char *slug, bool check_status, json_t **env)
{
    const char *p[] = { slug };
    PGresult *r;
    *env = NULL;
    if (call_exec(c, &r, sql, 1, p) < 0) {
        call_failed(c, NULL);
        return 1;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        refuse(c, NOT_FOUND);
        return 1;
    }
    if (check_status && strcmp(PQgetvalue(r, 0, 0), "deleting") == 0) {
        PQclear(r);
        refuse(c, DELETING);
        return 1;
    }
    json_error_t jerr;
    *env = json_loads(PQgetvalue(r, 0, 1), 0, &jerr);
    PQclear(r);
    if (!*env || !json_is_object(*env)) {
        json_decref(*env);
        *env = NULL;
        call_fail(c, "stack env is not a JSON object");
        return 1;
    }
    return 0;
}

/* Merges c's delta into env and, when cap, checks the cap on the result
 * (413 when too large: nothing written). With honest false, the audit count
 * is the old len(delta) - deletes. Fills *text (the merged env) and *n. */
static int merge_checked(const drv_call *c, json_t *env, bool honest, bool cap, counts *n, char **text)
{
    *text = NULL;
    json_t *delta = merge_delta(c->iteration, c->worker, c->nworkers);
    if (!delta || apply_delta(env, delta, n) < 0) {
        json_decref(delta);
        call_fail(c, "out of memory");
        return 1;
    }
    if (!honest)
        n->set = (int)json_object_size(delta) - n->deleted;
    json_decref(delta);
    /* The cap is a size the env may have: exactly 64 KiB is in. */
    size_t size = env_size(env);
    if (cap && (GUARANTEE(c, "cap-inclusive") ? size > ENV_CAP : size >= ENV_CAP)) {
        refuse(c, TOO_LARGE);
        return 1;
    }
    *text = json_dumps(env, JSON_FLAGS);
    if (!*text) {
        call_fail(c, "out of memory");
        return 1;
    }
    return 0;
}

/* Writes text as the stack's env with its change row (404 when the stack
 * vanished). */
static int write_env(const drv_call *c, const char *slug, const char *text)
{
    char worker[16], attempt[16];
    snprintf(worker, sizeof worker, "%d", c->worker);
    snprintf(attempt, sizeof attempt, "%d", c->attempt);
    const char *p[] = { slug, text, worker, attempt };
    PGresult *r;
    if (call_exec(c, &r, write_sql, 4, p) < 0) {
        call_failed(c, NULL);
        return 1;
    }
    bool written = strcmp(PQcmdTuples(r), "1") == 0;
    PQclear(r);
    if (!written) {
        refuse(c, NOT_FOUND);
        return 1;
    }
    return 0;
}

static void counts_text(const counts *n, char *buf, size_t len)
{
    snprintf(buf, len, "set=%d deleted=%d", n->set, n->deleted);
}

/* The locking forms: fixed (#235 + #238: lock_timeout, status checked
 * under the lock, honest count) and precheck (#235 alone: the merge behind
 * the handler's pre-read, no lock_timeout, the old count). */
static void merge_locked(const drv_call *c, bool fixed)
{
    char slug[32], *text = NULL, res[64];
    stack_slug(c->iteration, slug, sizeof slug);
    json_t *env = NULL;
    counts n;
    long long lt = 0;
    if (fixed && lock_timeout_ms(c, &lt) < 0)
        goto end;
    if (!fixed && preread_status(c, slug))
        goto end;
    /* READ COMMITTED: concurrent merges wait for the row lock and then read
     * what the one before them committed (a snapshot taken for the whole
     * transaction would fail them with 40001 instead). */
    if (call_exec(c, NULL, !fixed || GUARANTEE(c, "read-committed") ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ",
                  0, NULL) < 0) {
        call_failed(c, NULL);
        goto end;
    }
    /* First in the transaction: a merge queued behind a long-held row lock
     * gives up after lock_timeout with 55P03 (503, retryable) instead of
     * hanging. */
    if (fixed && GUARANTEE(c, "lock-timeout")) {
        /* LOCAL: it ends with the transaction, and a pooled connection
         * goes back to the pool as it came. The unit is written: a bare
         * number is milliseconds to the server (the loss: the seed's
         * seconds, rounded up, written bare). */
        char set[64];
        if (GUARANTEE(c, "timeout-unit"))
            snprintf(set, sizeof set, "SET %slock_timeout = '%lldms'", GUARANTEE(c, "set-local") ? "LOCAL " : "", lt);
        else
            snprintf(set, sizeof set, "SET %slock_timeout = %lld", GUARANTEE(c, "set-local") ? "LOCAL " : "",
                     (lt + 999) / 1000);
        if (call_exec(c, NULL, set, 0, NULL) < 0) {
            call_failed(c, NULL);
            goto end;
        }
    }
    drv_pause(c, "before-read");
    if (read_env(c, !fixed || GUARANTEE(c, "for-update")
                        ? "SELECT status, env::text FROM stacks WHERE slug = $1 FOR UPDATE"
                        : "SELECT status, env::text FROM stacks WHERE slug = $1",
                 slug, fixed && GUARANTEE(c, "teardown-refusal"), &env))
        goto end;
    drv_pause(c, "after-read");
    if (merge_checked(c, env, fixed && GUARANTEE(c, "honest-count"), !fixed || GUARANTEE(c, "cap"), &n, &text) ||
        write_env(c, slug, text))
        goto end;
    counts_text(&n, res, sizeof res);
    /* The caller learns its counts only once the merge is committed. */
    call_commit_ok(c, res);
end:
    json_decref(env);
    free(text);
}

static void op_fixed(const drv_call *c)
{
    if (!other_roles(c))
        merge_locked(c, true);
}

static void op_precheck(const drv_call *c)
{
    if (!other_roles(c))
        merge_locked(c, false);
}

/* Before #235: GetStackEnvVars, merge in Go, UpdateStackEnvVars — two
 * autocommit statements with nothing held between them. */
static void op_rmw(const drv_call *c)
{
    if (other_roles(c))
        return;
    char slug[32], *text = NULL, res[64];
    stack_slug(c->iteration, slug, sizeof slug);
    json_t *env = NULL;
    counts n;
    if (preread_status(c, slug))
        goto end;
    drv_pause(c, "before-read");
    if (read_env(c, "SELECT status, env::text FROM stacks WHERE slug = $1", slug, false, &env))
        goto end;
    drv_pause(c, "after-read");
    if (merge_checked(c, env, false, true, &n, &text) || write_env(c, slug, text))
        goto end;
    counts_text(&n, res, sizeof res);
    call_ok(c, res);
end:
    json_decref(env);
    free(text);
}

/* Splits delta into the keys it sets (an object) and the keys it deletes
 * (an array), as JSON text. Returns 0, or 1 with the call ended. */
static int split_delta(const drv_call *c, char **sets_text, char **dels_text)
{
    json_t *delta = merge_delta(c->iteration, c->worker, c->nworkers), *sets = json_object(), *dels = json_array();
    bool ok = delta && sets && dels;
    const char *key;
    json_t *v;
    if (ok)
        json_object_foreach(delta, key, v) {
            if ((json_string_length(v) ? json_object_set(sets, key, v)
                                       : json_array_append_new(dels, json_string(key))) < 0)
                ok = false;
        }
    *sets_text = ok ? json_dumps(sets, JSON_FLAGS) : NULL;
    *dels_text = ok ? json_dumps(dels, JSON_FLAGS) : NULL;
    json_decref(delta);
    json_decref(sets);
    json_decref(dels);
    if (*sets_text && *dels_text)
        return 0;
    free(*sets_text);
    free(*dels_text);
    *sets_text = *dels_text = NULL;
    call_fail(c, "out of memory");
    return 1;
}

/* The merge in one UPDATE: no key is lost and a deleting stack is refused
 * (READ COMMITTED re-checks the WHERE on the row it waited for), but the
 * cap was checked on the unlocked snapshot, not on what the UPDATE makes. */
static void op_sql_merge(const drv_call *c)
{
    if (other_roles(c))
        return;
    char slug[32], *text = NULL, *sets_text = NULL, *dels_text = NULL, res[64];
    stack_slug(c->iteration, slug, sizeof slug);
    json_t *env = NULL;
    counts n;
    drv_pause(c, "before-read");
    if (read_env(c, "SELECT status, env::text FROM stacks WHERE slug = $1", slug, true, &env))
        goto end;
    drv_pause(c, "after-read");
    /* The cap check and the counts, on the snapshot. */
    if (merge_checked(c, env, true, true, &n, &text) || split_delta(c, &sets_text, &dels_text))
        goto end;
    char worker[16], attempt[16];
    snprintf(worker, sizeof worker, "%d", c->worker);
    snprintf(attempt, sizeof attempt, "%d", c->attempt);
    const char *p[] = { slug, sets_text, dels_text, worker, attempt };
    PGresult *r;
    if (call_exec(c, &r,
                  "WITH u AS (UPDATE stacks SET env = (env || $2::jsonb) "
                  "           - ARRAY(SELECT jsonb_array_elements_text($3::jsonb)) "
                  "           WHERE slug = $1 AND status = 'active' RETURNING slug) "
                  "INSERT INTO env_changes (slug, worker, attempt, seq) "
                  "SELECT slug, $4, $5, nextval('change_seq') FROM u",
                  5, p) < 0) {
        call_failed(c, NULL);
        goto end;
    }
    bool written = strcmp(PQcmdTuples(r), "1") == 0;
    PQclear(r);
    if (!written) {
        /* Deleting, or vanished: the UPDATE cannot tell which, so a stack
         * deleted since the snapshot is answered 409 where the seed
         * answers 404. */
        refuse(c, DELETING);
        goto end;
    }
    counts_text(&n, res, sizeof res);
    call_ok(c, res);
end:
    json_decref(env);
    free(text);
    free(sets_text);
    free(dels_text);
}

/* ---- invariants ---- */

/* What the invariants read, in one round trip: the stack (no row once it
 * vanished) and its change rows. */
#define STACK "SELECT env::text, status = 'deleting', deleting_seq FROM stacks WHERE slug = 'stack-' || $1"
#define CHANGES "SELECT worker, attempt, seq FROM env_changes WHERE slug = 'stack-' || $1 ORDER BY seq"

/* The stack's env after the iteration (x->rows[0], STACK) into *env, or
 * NULL when the stack is gone (a vanish iteration). Returns 0, or -1 with
 * the reason. */
static int final_env(inv_ctx *x, json_t **env)
{
    const PGresult *r = x->rows[0];
    *env = NULL;
    if (PQntuples(r) != 1)
        return other_role(x->iteration) == VANISH && x->nworkers >= 2
                   ? 0 : inv_error(x, "stack stack-%ld vanished", x->iteration);
    json_error_t jerr;
    *env = json_loads(PQgetvalue(r, 0, 0), 0, &jerr);
    return *env ? 0 : inv_error(x, "stack stack-%ld: env does not parse: %s", x->iteration, jerr.text);
}

static bool is_merge(const call_record *c, long iteration, int nworkers)
{
    return role_of(iteration, c->worker, nworkers) == MERGE;
}

static bool merged_ok(const call_record *c, long iteration, int nworkers)
{
    return c->out.kind == OUT_OK && is_merge(c, iteration, nworkers);
}

static bool not_merge(const inv_ctx *x, const call_record *c) { return !is_merge(c, x->iteration, x->nworkers); }

/* A violation of iteration x's stack: the record names the stack, and what
 * was found. Returns 0. */
#define STACK_VIOLATED(x, ...) (inv_field((x), "stack", "stack-%ld", (x)->iteration), inv_violated((x), __VA_ARGS__))

/* Whether the change row of worker w's attempt a is in x->rows[1] (CHANGES). */
static bool has_change(const inv_ctx *x, int worker, int attempt)
{
    const PGresult *r = x->rows[1];
    for (int i = 0; i < PQntuples(r); i++)
        if (atoi(PQgetvalue(r, i, 0)) == worker && atoi(PQgetvalue(r, i, 1)) == attempt)
            return true;
    return false;
}

/* Every merge that returned ok committed (its change row is there) and
 * left its key with its value and its delete deleted: nothing a concurrent
 * merge wrote took it away. When the stack vanished, the change row is
 * what is left to check. */
static int inv_no_lost_keys(inv_ctx *x)
{
    json_t *env;
    if (final_env(x, &env) < 0)
        return -1;
    for (int i = 0; i < x->ncalls; i++) {
        const call_record *c = &x->calls[i];
        if (!merged_ok(c, x->iteration, x->nworkers))
            continue;
        char k[24], old[24];
        snprintf(k, sizeof k, "k%d", c->worker);
        snprintf(old, sizeof old, "old%d", c->worker);
        char *want = merge_value(x->iteration, c->worker, x->nworkers);
        if (!want) {
            json_decref(env);
            return inv_error(x, "out of memory");
        }
        const char *got = env ? json_string_value(json_object_get(env, k)) : want;
        if (!has_change(x, c->worker, c->attempt))
            inv_call_detail(x, c, "got ok, but its write is not committed");
        else if (at_edge(x->iteration))
            ;   /* every merge sets "edge": the last one's value stands (below) */
        else if (!got)
            inv_call_detail(x, c, "%s missing", k);
        else if (strcmp(got, want) != 0)
            inv_call_detail(x, c, "%s has another value (%zu bytes)", k, strlen(got));
        else if (env && json_object_get(env, old))
            inv_call_detail(x, c, "deleted %s is back", old);
        free(want);
    }
    /* At the edge, the value of the merge committed last. */
    int nchanges = PQntuples(x->rows[1]);
    if (at_edge(x->iteration) && env && nchanges > 0) {
        int last = atoi(PQgetvalue(x->rows[1], nchanges - 1, 0));
        char *want = merge_value(x->iteration, last, x->nworkers);
        const char *got = json_string_value(json_object_get(env, "edge"));
        if (!want) {
            json_decref(env);
            return inv_error(x, "out of memory");
        }
        if (!got || strcmp(got, want) != 0)
            inv_detail(x, "edge holds %s, not the value of worker %d's merge, committed last",
                       got ? "another value" : "nothing", last + 1);
        free(want);
    }
    int oks = inv_count(x, OUT_OK, not_merge, NULL, 0);
    bool gone = !env;
    size_t keys = env ? json_object_size(env) : 0;
    json_decref(env);
    if (inv_ndetails(x) == 0)
        return 1;
    if (gone)
        return STACK_VIOLATED(x, "%d of %d ok merges lost a key; the stack is gone", inv_ndetails(x), oks);
    return STACK_VIOLATED(x, "%d of %d ok merges lost a key; env has %zu keys", inv_ndetails(x), oks, keys);
}

/* The env never exceeds the cap. */
static int inv_cap(inv_ctx *x)
{
    json_t *env;
    if (final_env(x, &env) < 0)
        return -1;
    if (!env)
        return 1;
    size_t size = env_size(env), keys = json_object_size(env);
    json_decref(env);
    if (size <= ENV_CAP)
        return 1;
    return STACK_VIOLATED(x, "env is %zu bytes (%zu keys), cap %d; %d merges got ok", size, keys, ENV_CAP,
                          inv_count(x, OUT_OK, not_merge, NULL, 0));
}

/* No env change committed after teardown began: every change row's seq is
 * below the stack's deleting_seq. */
static int inv_none_after_teardown(inv_ctx *x)
{
    const PGresult *stack = x->rows[0], *changes = x->rows[1];
    if (PQntuples(stack) != 1 || PQgetisnull(stack, 0, 2))
        return 1;
    long long deleting = atoll(PQgetvalue(stack, 0, 2));
    for (int i = 0; i < PQntuples(changes); i++)
        if (atoll(PQgetvalue(changes, i, 2)) > deleting)
            inv_detail(x, "worker %d%s: change seq %s", atoi(PQgetvalue(changes, i, 0)) + 1,
                       atoi(PQgetvalue(changes, i, 1)) ? " (retry)" : "", PQgetvalue(changes, i, 2));
    int n = inv_ndetails(x);
    if (n == 0)
        return 1;
    return STACK_VIOLATED(x, "%d env %s committed after teardown began (deleting_seq %lld)", n,
                          n == 1 ? "change" : "changes", deleting);
}

/* Whether an earlier attempt of c's worker may have committed unseen (its
 * connection broke): its retry then finds its delete already done. */
static bool earlier_maybe_committed(const inv_ctx *x, const call_record *c)
{
    for (int i = 0; i < x->ncalls; i++) {
        const call_record *e = &x->calls[i];
        if (e->worker == c->worker && e->attempt < c->attempt && (e->out.conn_lost || call_maybe_committed(e)))
            return true;
    }
    return false;
}

/* The count an ok merge returns is what it did: set = the delta's non-empty
 * values (1: k<w>), deleted = its keys that were present (old<w>, present
 * since setup; gone<w> never is). */
static int inv_honest_count(inv_ctx *x)
{
    for (int i = 0; i < x->ncalls; i++) {
        const call_record *c = &x->calls[i];
        if (!merged_ok(c, x->iteration, x->nworkers))
            continue;
        int set = -1, deleted = -1;
        bool parsed = sscanf(c->result, "set=%d deleted=%d", &set, &deleted) == 2;
        /* old<w> is present since setup (not at the edge); gone<w> never. */
        int present = at_edge(x->iteration) ? 0 : 1;
        bool del_ok = deleted == present || (deleted == 0 && earlier_maybe_committed(x, c));
        if (!parsed || set != 1 || !del_ok)
            inv_call_detail(x, c, "a delta that set 1 key and deleted %d (gone%d was never present)", present,
                            c->worker);
    }
    int n = inv_ndetails(x);
    if (n == 0)
        return 1;
    return STACK_VIOLATED(x, "%d ok %s returned a count that is not what %s did", n, n == 1 ? "merge" : "merges",
                          n == 1 ? "it" : "they");
}

/* Whether worker w's merge cannot fit in env, the stack's final env: the
 * env only grows in a near-cap iteration (each merge adds a big value and
 * drops a short one), so a merge refused for the cap under the lock does
 * not fit the final env either. Returns 1, 0, or -1 out of memory. */
static int over_cap(const json_t *env, long iteration, int worker, int nworkers)
{
    json_t *copy = json_deep_copy(env), *delta = merge_delta(iteration, worker, nworkers);
    counts n;
    int rc = copy && delta && apply_delta(copy, delta, &n) == 0 ? env_size(copy) > ENV_CAP : -1;
    json_decref(copy);
    json_decref(delta);
    return rc;
}

/* Why a merge's answer is not the seed's status for what the database
 * ends with, or NULL when it is. status: 200 ok; 404 only for a stack that
 * is gone; 409 only for one being deleted; 413 only for a merge that does
 * not fit (near-cap iterations); a failure is 503 with a database cause (a
 * SQLSTATE, such as 55P03 for a lock timeout, or an injected fault). */
static const char *status_wrong(const call_record *c, const json_t *env, bool deleting, long iteration,
                                int nworkers, int *oom)
{
    const outcome *o = &c->out;
    switch (o->kind) {
    case OUT_OK:
        return o->status == STATUS_OK ? NULL : "ok, but not 200";
    case OUT_CONFLICT:
        if (o->status == STATUS_NOT_FOUND)
            return env ? "404, but the stack exists" : NULL;
        if (o->status == STATUS_CONFLICT)
            return !env ? "409, but the stack is gone (the seed: 404)"
                        : !deleting ? "409, but the stack is not being deleted" : NULL;
        if (o->status == STATUS_TOO_LARGE) {
            if (at_edge(iteration))
                return edge_delta(c->worker) > 0 ? NULL : "413, but the merge lands at or under the cap";
            if (!env || !near_cap(iteration))
                return "413, but the merge is far from the cap";
            int over = over_cap(env, iteration, c->worker, nworkers);
            if (over < 0)
                *oom = 1;
            return over == 0 ? "413, but the merge fits under the cap" : NULL;
        }
        return "refused with a status the seed does not answer";
    case OUT_RETRYABLE:
    case OUT_ERROR:
        if (o->status != STATUS_UNAVAILABLE)
            return "failed, but not 503";
        if (!o->sqlstate[0] && !c->faults) {
            if (strcmp(o->message, "stack not found") == 0)
                return "503 for a stack that is gone (the seed: 404)";
            if (strcmp(o->message, "stack is being deleted") == 0)
                return "503 for a stack being deleted (the seed: 409)";
            if (strcmp(o->message, "env too large") == 0)
                return "503 for an env over the cap (the seed: 413)";
            return "503 without a database error or lock timeout";
        }
        return NULL;
    }
    return "unknown outcome";
}

/* Every merge's answer carries the seed's status for what happened. */
static int inv_status(inv_ctx *x)
{
    json_t *env;
    if (final_env(x, &env) < 0)
        return -1;
    bool deleting = env && res_bool(x->rows[0], 0, 1);
    int oom = 0;
    for (int i = 0; i < x->ncalls; i++) {
        const call_record *c = &x->calls[i];
        const char *why = is_merge(c, x->iteration, x->nworkers)
                              ? status_wrong(c, env, deleting, x->iteration, x->nworkers, &oom) : NULL;
        if (why)
            inv_call_detail(x, c, "%s", why);
    }
    json_decref(env);
    if (oom)
        return inv_error(x, "out of memory");
    int n = inv_ndetails(x);
    if (n == 0)
        return 1;
    return STACK_VIOLATED(x, "%d %s answered with the wrong status", n, n == 1 ? "merge" : "merges");
}

/* The holder's report: how long it held the row lock and the merges'
 * lock_timeout (ms). Returns true when an ok holder call reported both. */
static bool holder_report(const inv_ctx *x, long long *held, long long *lt)
{
    for (int i = 0; i < x->ncalls; i++) {
        const call_record *c = &x->calls[i];
        if (role_of(x->iteration, c->worker, x->nworkers) == HOLDER && c->out.kind == OUT_OK &&
            sscanf(c->result, "held=%lldms lock_timeout=%lldms", held, lt) == 2)
            return true;
    }
    return false;
}

/* The statement every form reads the env with (FOR UPDATE in the locking
 * forms): where a merge waits for the row lock. */
#define ENV_READ "SELECT status, env::text FROM stacks"

/* No merge waits for the row lock past lock_timeout: when the holder kept
 * the lock well past the merges' lock_timeout, a merge queued behind it
 * fails fast with 55P03 (503) instead of waiting it out. lock_timeout
 * bounds each lock wait, and taking a row lock can be two (the tuple lock
 * behind another waiter, then the holder's transaction): a merge that
 * honours it waits at most about 2 x lock_timeout. A wait is past the
 * bound halfway from there to the hold: far above what the server's timer
 * allows, far below a merge that waited the holder out. A merge the server
 * cut off with 55P03 honoured lock_timeout by definition, however long the
 * client took to hear it (64 backends on two cores answer late): only a
 * merge that got the lock counts. The hold is long (1s) so that the bound
 * stays far above what a loaded machine adds to a wait. */
static int inv_lock_wait(inv_ctx *x)
{
    long long held, lt;
    if (!holder_report(x, &held, &lt) || held <= 2 * lt)
        return 1;
    int64_t bound = (2 * lt + held) / 2 * 1000000;
    for (int i = 0; i < x->ncalls; i++) {
        const call_record *c = &x->calls[i];
        for (const pqx_event *e = NULL; is_merge(c, x->iteration, x->nworkers) && (e = inv_statement(c, ENV_READ, e));)
            if (e->conn == c->conn && e->t_done - e->t_send > bound && strcmp(e->sqlstate, "55P03") != 0)
                inv_call_detail(x, c, "waited %.0fms for the row lock", (double)(e->t_done - e->t_send) / 1e6);
    }
    int n = inv_ndetails(x);
    if (n == 0)
        return 1;
    return STACK_VIOLATED(x, "%d %s waited out a row lock held %lldms, past lock_timeout %lldms", n,
                          n == 1 ? "merge" : "merges", held, lt);
}

/* Whether c's lock wait ended with lock_timeout after lasting at least
 * the lock_timeout the merge itself set (its trace's SET, in ms when bare):
 * so the server's timer fired, not a refusal to wait. */
static bool waited_out(const call_record *c)
{
    const pqx_event *set = NULL, *read = NULL;
    for (const pqx_event *e = NULL; (e = inv_statement(c, "SET ", e));)
        if (strstr(e->sql, "lock_timeout = "))
            set = e;
    for (const pqx_event *e = NULL; (e = inv_statement(c, ENV_READ, e));)
        read = e;
    if (!set || !read || strcmp(read->sqlstate, "55P03") != 0)
        return false;
    const char *v = strstr(set->sql, "lock_timeout = ") + strlen("lock_timeout = ");
    v += *v == '\'';
    char *unit;
    double ms = strtod(v, &unit);
    if (strncmp(unit, "s'", 2) == 0)
        ms *= 1000;
    else if (strncmp(unit, "us'", 3) == 0)
        ms /= 1000;
    return (double)(read->t_done - read->t_send) / 1e6 >= ms;
}

/* The cap hit exactly (the edge iterations): a merge that lands one byte
 * under the cap or exactly on it is written (200, its change row there);
 * one that lands one byte over is refused (413) and writes nothing. A call
 * a fault failed is excused (its retry is not), and one that waited for
 * the row lock past its lock_timeout. */
static int inv_cap_edge(inv_ctx *x)
{
    if (!at_edge(x->iteration))
        return 1;
    for (int i = 0; i < x->ncalls; i++) {
        const call_record *c = &x->calls[i];
        if (!is_merge(c, x->iteration, x->nworkers))
            continue;
        int d = edge_delta(c->worker);
        bool written = has_change(x, c->worker, c->attempt);
        const char *where = d < 0 ? "one byte under the cap" : d == 0 ? "exactly on the cap" : "one byte over the cap";
        if (d <= 0 && c->out.kind != OUT_OK && !c->faults && !waited_out(c))
            inv_call_detail(x, c, "its env lands %s: the seed's answer is 200", where);
        else if (d > 0 && c->out.kind == OUT_OK)
            inv_call_detail(x, c, "its env lands %s: the seed's answer is 413", where);
        else if (d > 0 && written)
            inv_call_detail(x, c, "its env lands %s, and it was written", where);
        else if (d > 0 && c->out.status != STATUS_TOO_LARGE && !c->faults && !waited_out(c))
            inv_call_detail(x, c, "its env lands %s: the seed's answer is 413", where);
    }
    int n = inv_ndetails(x);
    if (n == 0)
        return 1;
    return STACK_VIOLATED(x, "%d %s at the cap's edge got another answer than the seed's", n,
                          n == 1 ? "merge" : "merges");
}

/* The seed's success path (its 16 concurrent disjoint merges all succeed):
 * a merge the seed does not refuse (404 gone, 409 deleting, 413 over the
 * cap: the status invariant's) succeeds. A 503 needs a cause: an injected
 * fault, or a lock held past lock_timeout — 55P03 after waiting at least
 * the merge's lock_timeout, but never behind the holder when it held the
 * lock for less than the merges' lock_timeout (the window's inside: they
 * must wait it out). Merges that fail fast where they should wait, or
 * answer 503 where they should serialize, break it. */
static int inv_merges_succeed(inv_ctx *x)
{
    long long held = 0, lt = 0;
    bool inside = holder_report(x, &held, &lt) && held < lt;
    for (int i = 0; i < x->ncalls; i++) {
        const call_record *c = &x->calls[i];
        const outcome *o = &c->out;
        if (!is_merge(c, x->iteration, x->nworkers) || o->kind == OUT_OK || o->kind == OUT_CONFLICT || c->faults)
            continue;
        if (strcmp(o->sqlstate, "55P03") == 0 && inside)
            inv_call_detail(x, c, "timed out on a lock held %lldms, inside lock_timeout %lldms", held, lt);
        else if (!waited_out(c))
            inv_call_detail(x, c, "failed though nothing failed it");
    }
    int n = inv_ndetails(x);
    if (n == 0)
        return 1;
    return STACK_VIOLATED(x, "%d %s the seed does not refuse failed (503)", n, n == 1 ? "merge" : "merges");
}

static const scenario_variant variants[] = {
    { .name = "fixed", .op = op_fixed,
      .summary = "one tx: SET LOCAL lock_timeout, SELECT status, env FOR UPDATE, refuse deleting, merge, "
                 "cap before the write, write, commit; honest keys_set" },
    { .name = "rmw", .op = op_rmw,
      .summary = "teardown pre-read, unlocked env read, merge in C, blind overwrite; keys_set = len(delta) - deletes",
      .caught = { { "none", "no-lost-keys" } } },
    { .name = "precheck", .op = op_precheck,
      .summary = "#235 alone: teardown pre-read before the tx, then the locked merge without lock_timeout; "
                 "keys_set = len(delta) - deletes",
      .caught = { { "none", "none-after-teardown" }, { "lock-holder", "lock-wait" } } },
    { .name = "sql-merge", .op = op_sql_merge,
      .summary = "one UPDATE env || set - deletes (refused when deleting), cap checked on an unlocked snapshot",
      .caught = { { "none", "cap" }, { "slow-read", "status" } } },
};

static const scenario_invariant invariants[] = {
    { "no-lost-keys", "no lost keys: every ok merge's keys set and deleted", inv_no_lost_keys, { STACK, CHANGES } },
    { "cap", "env never exceeds the 64 KiB cap", inv_cap, { STACK } },
    { "none-after-teardown", "no env change committed after teardown began", inv_none_after_teardown,
      { STACK, CHANGES } },
    { "honest-count", "keys_set/deleted count honest", inv_honest_count, { 0 } },
    { "status", "every answer has the seed's status: 404 gone, 409 deleting, 413 too large, 503 database",
      inv_status, { STACK } },
    { "lock-wait", "no merge waits for the row lock past lock_timeout", inv_lock_wait, { 0 } },
    { "cap-edge", "at the cap's edge the seed's answer: 200 one byte under and exactly on 64 KiB, 413 one byte over",
      inv_cap_edge, { STACK, CHANGES } },
    { "merges-succeed", "a merge the seed does not refuse succeeds: no 503 without a fault or a lock held past "
      "lock_timeout", inv_merges_succeed, { 0 } },
};

static const char *const pause_points[] = {
    "before-read: just before the env read (after the teardown pre-read where a form has one)",
    "after-read: after the env read (under the row lock in the locking forms), before the write",
    "holding: the holder role, holding the stack's row lock",
};

static const scenario_plan plans[] = {
    { .name = "slow-read", .summary = "2ms at after-read: widens the read-to-write window of every form",
      .pause = "after-read=2ms" },
    { .name = "lock-timeout", .summary = "every worker's first FOR UPDATE times out (55P03); the client retries once",
      .fault = "sql=/FOR UPDATE/:when=1:error=55P03", .retries = 1 },
    { .name = "lock-holder", .summary = "the holder keeps the row lock 1s; the merges' lock_timeout is 25ms "
      "(the seed's 3s, shortened): they must fail fast (55P03, 503)",
      .pause = "holding=1s", .params = "lock_timeout=25ms" },
    { .name = "short-hold", .summary = "the holder keeps the row lock 50ms, well inside the merges' lock_timeout "
      "(the seed's 3s): they must wait for it and succeed",
      .pause = "holding=50ms" },
    { .name = "commit-ambiguous", .summary = "every worker's first COMMIT takes effect but the client loses the "
      "connection; it retries once", .fault = "commit:when=1:ambiguous", .retries = 1 },
    { .name = "commit-fails", .summary = "every worker's first COMMIT fails (40001) and is rolled back; it retries once",
      .fault = "commit:when=1:error=40001", .retries = 1 },
};

static const scenario_pin pins[] = {
    { .name = "commit-before-ok", .plan = "commit-fails",
      .what = "the caller is told its counts only once COMMIT succeeded" },
    { .name = "for-update", .plan = "slow-read",
      .what = "SELECT status, env ... FOR UPDATE: concurrent merges serialize on the row lock (#235)" },
    { .name = "lock-timeout", .plan = "lock-holder",
      .what = "SET LOCAL lock_timeout first: a merge behind a long-held lock fails fast, 503 (#238)" },
    { .name = "read-committed", .plan = "none",
      .what = "the merge runs at READ COMMITTED: concurrent merges queue on the row lock and all succeed, none "
              "fails with 40001 (#235's 16 merges)",
      .invariant = "merges-succeed" },
    { .name = "timeout-unit", .plan = "short-hold",
      .what = "lock_timeout is the seed's 3s, its unit written: a merge behind a shorter lock waits for it",
      .invariant = "merges-succeed" },
    { .name = "set-local", .plan = "none",
      .what = "lock_timeout is SET LOCAL: it ends with the merge's transaction, never left on the connection (#238)",
      .invariant = "connection" },
    { .name = "teardown-refusal", .plan = "none",
      .what = "a deleting stack is refused under the row lock, 409 (#238)" },
    { .name = "cap", .plan = "none", .what = "the 64 KiB cap is checked on the merged env before the write, 413" },
    { .name = "cap-inclusive", .plan = "none",
      .what = "the cap admits an env of exactly 64 KiB: only one over it is refused, 413",
      .invariant = "cap-edge" },
    { .name = "honest-count", .plan = "none",
      .what = "keys_set counts the upserts only, keys deleted the keys present (#238)" },
    { .name = "status-404", .plan = "none", .what = "the handler answers a vanished stack 404 (#235)" },
    { .name = "status-409", .plan = "none", .what = "the handler answers a deleting stack 409 (#238)" },
    { .name = "status-413", .plan = "none", .what = "the handler answers an env over the cap 413 (#235)" },
};

const scenario scenario_envmerge = {
    .name = "envmerge",
    .summary = "stack env merge: concurrent disjoint-key merges, a 64 KiB cap, a concurrent teardown",
    .seed = "003_00bef57d2cb666d8",
    .schema_sql = schema,
    .setup = setup,
    .error_status = STATUS_UNAVAILABLE,     /* the seed: a database error or lock timeout is a 503 */
    .workload_period = 20,          /* other_role() */
    .workload = workload_of,
    /* For the serial oracle: change_seq is taken under the row lock, so its
     * values are the commit order (compared by rank, gaps aside); the
     * holder reports how long it held the lock. */
    .oracle = { .columns = { "env_changes.seq=ranked", "stacks.deleting_seq=ranked" },
                .answer_mask = "held=[0-9]+ms" },
    VARIANTS(variants),
    INVARIANTS(invariants),
    PLANS(plans),
    PAUSE_POINTS(pause_points),
    PINS(pins),
};
