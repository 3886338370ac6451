/*
 * scenario.h — the scenario kit: everything a scenario's author needs, and
 * the whole of it. A scenario includes this header and nothing else of
 * pgrace's (lib/pq.h comes with it for the outcome and trace types, which
 * are restated below).
 *
 * A scenario is a real transactional operation, written over libpq in its
 * fixed form and in the pre-fix forms that had the bug, with the invariants
 * that must hold after N concurrent calls of it. Adding one:
 *
 *   1. one file, scenarios/NAME.c, defining `const scenario scenario_NAME`
 *      (schema, per-iteration setup, variants, invariants; optionally fault
 *      plans, pause points and pinned guarantees — see `scenario` below);
 *   2. one line, SCENARIO(NAME), in scenarios/list.h (scenarios/registry.h
 *      makes the list the command line hands to every mode).
 *
 * Nothing else: `pgrace list` shows it, `pgrace run NAME` runs it and
 * `pgrace explore NAME` enumerates its schedules, the README's detection
 * matrix and guarantee table are generated from it (`pgrace list --matrix`
 * and `--guarantees`, which t/50-matrix.t compares with the README; paste
 * the new rows in), the suite's matrix test runs every plan of it and
 * t/55-pins.t removes each pinned guarantee in turn.
 *
 * How a run calls it. Iterations are independent: setup creates iteration
 * i's rows (keyed by i), then N workers — each a thread with its own
 * connection(s) — are released at once, each makes one call of the
 * variant's operation (retried after a failure when the plan says so, as a
 * client would), and when all are done every invariant checks iteration
 * i's rows on the control connection. A call has a deadline (--call-timeout,
 * 10 s by default): a call still running then is cancelled, and the
 * driver's own invariant (id "deadline") reports it with the server's
 * account of who waited on whom; an operation needs no timeouts of its own.
 * And after every call the driver checks what it left on its connections
 * (its invariant "connection": a session-level SET, an open transaction,
 * an advisory lock, a prepared statement, a temporary table): an operation
 * uses SET LOCAL and ends every transaction it opens.
 *
 * Two rules every fixed form keeps:
 *   - COMMIT before ok. A caller must learn of a result only once it is
 *     committed: end a transaction's success with call_commit_ok, which
 *     commits and then answers ok (call_ok alone is for a call with nothing
 *     to commit: a read, or an autocommit statement that already took
 *     effect). Every scenario pins this ("commit-before-ok"), so the
 *     mutation build answers ok first and the suite shows a plan catching
 *     it: a fixed form that answers before COMMIT fails t/55-pins.t.
 *   - Exactly one ending per call (call_ok, call_commit_ok, call_refuse,
 *     call_failed or call_fail) on every path: none, or two, is reported as
 *     an error of the call.
 *
 * Strings. Every string a scenario's tables hold (names, summaries, SQL,
 * plans) is read for as long as the program runs: static storage, as the
 * tables themselves are. A string passed to a function below is copied
 * before it returns (truncated where the function says), so a local buffer
 * is fine. A string a function returns is the kit's: how long it lives is
 * said beside it.
 */
#ifndef PGRACE_SCENARIO_H
#define PGRACE_SCENARIO_H

#include "lib/clock.h"
#include "lib/pq.h"
#include "lib/rng.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ */
/* From lib/pq.h, restated: what a call came to, and its statements    */
/* ------------------------------------------------------------------ */

/*
 * outcome_kind: OUT_OK (took effect), OUT_CONFLICT (refused by the
 * operation's own rules: call_refuse), OUT_RETRYABLE (a transient failure a
 * client retries: 40001, 40P01, 55P03, on a live connection), OUT_ERROR
 * (anything else, a lost connection included). outcome_name(k) is "ok",
 * "conflict", "retryable" or "error" (a static string).
 *
 * outcome: kind; status (the HTTP-like answer below); conn_lost (the
 * connection broke during the call); indeterminate (it broke during COMMIT:
 * see call_maybe_committed); sqlstate ("" on success, "08006" for a
 * client-side connection loss); message (one line, at most 199 bytes).
 *
 * pqx_trace: a call's statements, ev[0 .. n-1] in the order sent (at most
 * 64 kept, the rest counted in dropped). pqx_event: conn (which of the
 * worker's connections), t_send and t_done (clock_now_ns, CLOCK_MONOTONIC,
 * around the statement), sql (its first 63 bytes, on one line), sqlstate,
 * failed.
 *
 * clock_now_ns() (lib/clock.h): CLOCK_MONOTONIC in nanoseconds, the clock
 * of every time the kit records.
 *
 * pqx_ctl_query(ctl, sql, nparams, params, err, errlen), for a setup
 * function: runs sql with text params; returns the result (PQclear it),
 * possibly with no rows, or NULL with "SQL: the server's message" in err.
 */

/* ------------------------------------------------------------------ */
/* The operation's side: one call                                      */
/* ------------------------------------------------------------------ */

typedef struct call_state call_state;   /* the driver's record of the call */

/* What the driver hands one call. An operation receives it const: it reads
 * these fields and passes c to the call_* functions below, which are the
 * only way a call reports what it came to. */
typedef struct drv_call {
    PGconn *conn;               /* the worker's connection */
    PGconn *conn2;              /* a second one when the scenario asks for two per
                                 * worker (stores that share no transaction), else NULL */
    int worker;                 /* 0-based (reports say "worker 1" for 0) */
    int nworkers;
    long iteration;
    int attempt;                /* 0 for the first call, then retries */
    rng *rng;                   /* this worker's stream of the run's seed */
    call_state *state;          /* the driver's; only the call_* functions use it */
} drv_call;

/* HTTP-like statuses: what the seeds' handlers answer. An ending below
 * records one, every report shows it, and an invariant may check the
 * mapping where a seed specifies one. */
enum {
    STATUS_OK = 200,
    STATUS_FORBIDDEN = 403,
    STATUS_NOT_FOUND = 404,
    STATUS_CONFLICT = 409,
    STATUS_TOO_LARGE = 413,
    STATUS_ERROR = 500,
    STATUS_UNAVAILABLE = 503,
};

/* Runs one statement of the call on c->conn, recorded in the call's trace
 * (and seen by the fault shim and the explorer's gate like any statement).
 * Returns 0 with *res (PGRES_COMMAND_OK or PGRES_TUPLES_OK; PQclear it; res
 * may be NULL to discard it), or -1: the failure — SQLSTATE, one-line
 * message, retryable or not, connection lost, COMMIT's outcome unknown — is
 * recorded as the call's outcome, for call_failed to end the call with (or
 * for the operation to resolve: see call_sqlstate). sql may hold several
 * statements when nparams is 0 (one round trip; *res is the last one's). */
int call_exec(const drv_call *c, PGresult **res, const char *sql, int nparams, const char *const *params);

/* The same on another of the worker's connections (c->conn2). */
int call_exec_on(const drv_call *c, PGconn *conn, PGresult **res, const char *sql, int nparams,
                 const char *const *params);

/* The same, but a failure does not become the call's outcome: for the
 * statements an operation runs while handling a failure it has already
 * recorded (rolling back the other store, writing an orphan marker).
 * Returns 0 or -1 (o, when not NULL, filled either way). */
int call_exec_aside(const drv_call *c, PGconn *conn, outcome *o, PGresult **res, const char *sql, int nparams,
                    const char *const *params);

/* The SQLSTATE of the failure the last call_exec recorded ("" if none): for
 * an operation that resolves a failure itself (a 23505 mapped to the
 * existing row) instead of failing with it. The string lives in the call's
 * record: valid until the call's next statement. */
const char *call_sqlstate(const drv_call *c);

/* Rolls back the transaction open on c->conn (and c->conn2), if any; errors
 * ignored: it only returns the session to idle. For an operation that goes
 * on after a failure it resolved; the endings below that need it do it
 * themselves. */
void call_rollback(const drv_call *c);

/* The call's tag, "call-I-W-A" (iteration, worker from 1, attempt from 0),
 * into buf (CALL_TAG_LEN bytes are enough): for a row the call writes, so
 * that an invariant (inv_tag) tells whose writes are there. */
#define CALL_TAG_LEN 48
void call_tag(const drv_call *c, char *buf, size_t len);

/* ---- ending a call: every path ends with exactly one of these ---- */

/* The call took effect: status 200, and what the caller gets back (an id,
 * a count), or NULL. result is copied (its first 63 bytes: the invariants
 * read it as call_record.result). It does not touch the connection: use
 * call_commit_ok when there is a transaction to commit. */
void call_ok(const drv_call *c, const char *result);

/* COMMIT, then call_ok(result) once COMMIT succeeded; a failed COMMIT ends
 * the call failed (its outcome may be indeterminate). The order is the
 * pinned guarantee "commit-before-ok" of every fixed form. */
void call_commit_ok(const drv_call *c, const char *result);

/* The operation's own rules said no (already verified: 409; vanished: 404;
 * too large: 413; ...): a conflict with that status and why (copied, at
 * most 199 bytes). The transaction open on c->conn is rolled back, so a
 * refusal writes nothing. */
void call_refuse(const drv_call *c, int status, const char *why);

/* The statement failure call_exec recorded ends the call, with context
 * ("vault write failed, rolled back", copied) before the server's message
 * when not NULL; the status is the scenario's error_status. The
 * transaction open on c->conn is rolled back. */
void call_failed(const drv_call *c, const char *context);

/* What an outside program answered (pgrace exec's workers): status and its
 * words. 2xx: ok, text the result; 4xx: a conflict, as call_refuse; any
 * other: an error with that status (0: it gave none), retryable when text starts with a
 * SQLSTATE a client retries (40001, 40P01, 55P03), that SQLSTATE recorded
 * when text starts with one. */
void call_answer(const drv_call *c, int status, const char *text);

/* A failure the operation detects itself — a row that must exist does not,
 * bad data, out of memory — ends the call as an error with why (copied, no
 * SQLSTATE) and the scenario's error_status; the transaction is rolled
 * back. */
void call_fail(const drv_call *c, const char *why);

/* ---- settings a plan gives, pauses, and pinned guarantees ---- */

/* The value of the plan's parameter name ("lock_timeout" of a plan's
 * params "lock_timeout=200ms"), or dflt when the plan sets none: how a
 * plan shortens a constant of the operation for a test without a second
 * copy of the code. The value is copied into a buffer of the calling
 * thread (at most 127 bytes), valid until its next call_param. */
const char *call_param(const drv_call *c, const char *name, const char *dflt);

/* The plan's parameter name as a duration ("25ms"; dflt when the plan sets
 * none), into *ns: 0, or -1 when it is not a duration of 1ms to 1h — the
 * call is then ended as failed, saying so (a plan's mistake). */
int call_param_duration(const drv_call *c, const char *name, const char *dflt, int64_t *ns);

/* Sleeps at a named pause point when the run configured one (--pause
 * NAME=DURATION, or a plan's pause); the same point sits at the same place
 * in every variant, so a pause widens a race window without favouring any
 * form. A call past its deadline is woken. */
void drv_pause(const drv_call *c, const char *point);

/* For an operation that waits on something other than the server (a
 * child process: pgrace exec's programs): a descriptor that becomes
 * readable when the call passes its deadline, to poll beside what it waits
 * for — then it ends the call at once (within a second), as a cancelled
 * statement would. The driver's; never read or close it. */
int call_wake_fd(const drv_call *c);

/* How many faults were injected into the call's statements so far (by the
 * shim, the proxy, or the explorer's gate). */
int call_faults(const drv_call *c);

/* What a call's effect was, for the serial oracle (engine/oracle.h), when
 * its operation knows better than its ending says: pgrace exec's programs,
 * whose statements, connections and failures are their own. */
typedef enum call_effect {
    CALL_EFFECT_ENDING,         /* as its ending says (the default): ok or refused took effect, a failure
                                 * none, a lost connection or a deadline either */
    CALL_EFFECT_NONE,           /* it failed and left no trace: in no serial order */
    CALL_EFFECT_TOOK,           /* it took effect, and a serial run must give its answer, a failure's too */
    CALL_EFFECT_UNKNOWN,        /* it may or may not have taken effect */
} call_effect;

/* Says e of the call, after its ending. */
void call_set_effect(const drv_call *c, call_effect e);

/* A pinned guarantee of the fixed form (see scenario.pins). Write the fixed
 * form as `if (GUARANTEE(c, "for-update")) <the guarantee> else <its loss>`:
 * the loss is the smallest change that removes the guarantee (a dropped
 * FOR UPDATE, a skipped read), never a rewrite. It is true, except:
 *   - in a variant that declares the pin in .minus (a pre-fix form that is
 *     the fixed form without it, run by the fixed form's op), in every
 *     build;
 *   - in the mutation build (make MUTANTS=1, used by t/55-pins.t), for the
 *     one pin $PGRACE_MUTANT names ("SCENARIO/PIN").
 * The mutation build stops the program when it meets a name that is not
 * one of the scenario's pins. */
bool call_guarantee(const drv_call *c, const char *name);
#define GUARANTEE(c, name) call_guarantee((c), (name))

/* ------------------------------------------------------------------ */
/* The invariants' side: what every call came to                      */
/* ------------------------------------------------------------------ */

/* One call as the invariants (and the reports) see it afterwards. */
typedef struct call_record {
    int worker;                 /* 0-based */
    int attempt;
    outcome out;                /* kind, status, SQLSTATE, message; conn_lost,
                                 * indeterminate (see call_maybe_committed) */
    char result[64];            /* what call_ok handed back, or "" */
    int faults;                 /* faults the shim injected into this call (a
                                 * cancel at the deadline counts as one) */
    char fault[160];            /* the first of them: rule, statement, SQL */
    bool timed_out;             /* cancelled at the deadline */
    int64_t t_start, t_end;     /* clock_now_ns() around the call */
    const pqx_trace *trace;     /* its statements (never NULL) */
    const PGconn *conn;         /* the worker's first connection (which trace events are on it) */
    rng rng_start;              /* the worker's random stream as the call began, and whether */
    bool rng_used;              /* ... the call drew from it: the serial oracle reruns it so */
    call_effect effect;         /* what its operation said of its effect (call_set_effect) */
} call_record;

/* Whether c's writes may be in the database although it did not get ok:
 * its connection broke during COMMIT (an ambiguous commit: the server may
 * have committed). An invariant must accept either state for such a call —
 * "failed, so it wrote nothing" holds only for a call that is not
 * indeterminate — and a retry of it may find its own earlier writes. */
bool call_maybe_committed(const call_record *c);

#define SCENARIO_MAX_QUERIES 3

typedef struct inv_state inv_state;     /* the driver's record of the check */

/* What an invariant check sees after an iteration: it runs on the
 * driver's thread once every call of the iteration has ended, once per
 * iteration. Everything is the driver's and lives until the check
 * returns. */
typedef struct inv_ctx {
    PGconn *ctl;                /* the control connection, search_path set */
    long iteration;
    const call_record *calls;   /* every attempt of every worker, in worker then attempt order */
    int ncalls;
    int nworkers;
    /* The results of the invariant's declared queries, in the order of
     * scenario_invariant.queries (NULL past the last): PGRES_TUPLES_OK,
     * possibly with no rows; the driver's, never PQclear them. */
    const PGresult *rows[SCENARIO_MAX_QUERIES];
    inv_state *state;           /* the driver's; only the inv_* functions use it */
} inv_ctx;

/* Control-connection queries beyond the declared ones, for a check that
 * needs one it can only write once it has read something (each costs a
 * round trip; a declared query costs none of its own).
 *
 * inv_query: runs sql with text params. Returns the result (PQclear it):
 * PGRES_TUPLES_OK or PGRES_COMMAND_OK, possibly with no rows — no rows is
 * not a failure. NULL when the statement failed, with the reason the check
 * then reports (it returns -1).
 *
 * inv_int: a query that returns exactly one row whose first column is an
 * integer (count(*) and friends): 0 with *value (a NULL reads as 0), or -1
 * with the reason — a failed statement, and also no row or several. */
PGresult *inv_query(inv_ctx *x, const char *sql, int nparams, const char *const *params);
int inv_int(inv_ctx *x, long long *value, const char *sql, int nparams, const char *const *params);

/* Reading results (declared or not): whether the value at (row, col) is
 * boolean true ('t'); the last row whose column col reads value, or -1;
 * the rows whose column col reads value (col < 0: every row), counted, and
 * their column list_col joined with ", " into buf ("3, 7"; cut to fit). */
bool res_bool(const PGresult *r, int row, int col);
int res_find(const PGresult *r, int col, const char *value);
int res_rows(const PGresult *r, int col, const char *value, int list_col, char *buf, size_t len);

/* The tag call_tag gave call c of this iteration, into buf. */
void inv_tag(const inv_ctx *x, const call_record *c, char *buf, size_t len);

/* Calls an invariant leaves out of a count, such as a side role's (a
 * scenario's predicate; NULL: none is left out). */
typedef bool (*inv_skip_fn)(const inv_ctx *x, const call_record *c);

/* The calls of kind kind (-1: of any kind) that skip does not leave out:
 * their number, and their workers, from 1, into who ("1, 3"; "" for none;
 * who may be NULL). */
int inv_count(const inv_ctx *x, int kind, inv_skip_fn skip, char *who, size_t len);

/* Whether the shim injected a fault into (or the deadline cancelled) a call
 * skip does not leave out: then it may have been the one that would have
 * succeeded. */
bool inv_any_faulted(const inv_ctx *x, inv_skip_fn skip);

/* The last attempt of worker w (its final answer), or NULL when it made
 * none. */
const call_record *inv_last_call(const inv_ctx *x, int worker);

/* The statement of c's trace after `after` (NULL: from the first) whose
 * text starts with prefix — as far as the trace keeps it, 63 bytes — or
 * NULL: `for (e = NULL; (e = inv_statement(c, "COMMIT", e));)` visits
 * each in the order sent. */
const pqx_event *inv_statement(const call_record *c, const char *prefix, const pqx_event *after);

/* ---- what a check says ---- */

/*
 * A check returns 1 (held), 0 (violated) or -1 (it could not run). What it
 * found goes into the reports through these functions, printf-style (each
 * text is formatted into the kit's own buffer and cut at 399 bytes);
 * nothing is built by hand. The record of a violation holds: "record", the
 * iteration; "found", one sentence; the fields set with inv_field;
 * "details", the lines added, in order (absent when none was). The driver
 * adds what every call got ("calls") and the faults that fired
 * ("faults").
 */

/* The violation: found is what was found, one sentence (the last call
 * wins). Returns 0 (so `return inv_violated(x, ...)`). A check that
 * returns 0 without saying anything is reported as "(the check said
 * nothing)". */
int inv_violated(inv_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Adds a line to the violation's details: one wrong thing (a row, a
 * caller). Details added by a check that then holds are dropped. */
void inv_detail(inv_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The same for a call: "worker W[ (retry)]: OUTCOME: " and then the text,
 * OUTCOME being what it got ("conflict 409 already verified", "ok 200 ->
 * 6", "error 500 XX000 ..."; cut at 150 bytes, the text at 200). */
void inv_call_detail(inv_ctx *x, const call_record *c, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The details added so far: how many, and the first ("" when none; valid
 * until the check returns). */
int inv_ndetails(const inv_ctx *x);
const char *inv_first_detail(const inv_ctx *x);

/* The ending of a check that adds a detail for every wrong thing: 1 (held)
 * when none was added, else inv_violated(x, fmt, ...). */
int inv_verdict(inv_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A field of the violation's record beside "record" (a string): where the
 * rows are when the iteration's number alone does not say ("stack":
 * "stack-12"). Call it with inv_violated. */
void inv_field(inv_ctx *x, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Why the check could not run (a row that must exist does not, out of
 * memory). Returns -1 (so `return inv_error(x, ...)`). */
int inv_error(inv_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------------ */
/* The scenario                                                        */
/* ------------------------------------------------------------------ */

#define SCENARIO_MAX_CATCH 4
#define SCENARIO_MAX_MINUS 4

/* A plan that catches a pre-fix form in every run under default settings,
 * and the invariant that reports it there. */
typedef struct scenario_catch {
    const char *plan;           /* "none": concurrency alone catches it */
    const char *invariant;      /* the id of one of the scenario's invariants */
} scenario_catch;

typedef struct scenario_variant {
    const char *name;           /* required; "fixed" is always variants[0] */
    const char *summary;        /* required: one line for `pgrace list` */
    /* The operation: required for the fixed form and for a pre-fix form
     * that is code of its own (the seed's real pre-fix code); NULL for a
     * variant declared by minus, which runs variants[0].op. */
    void (*op)(const drv_call *c);
    /* A pre-fix form: where it is caught (t/4x-*.t repeats each 20 times
     * in a row; the matrix lists them). At most SCENARIO_MAX_CATCH; the
     * list ends at the first entry left zeroed ({0}), so a shorter list
     * needs no terminator. The fixed form has none: it must hold under
     * every plan. */
    scenario_catch caught[SCENARIO_MAX_CATCH];
    /* A pre-fix form that is exactly the fixed form without some of its
     * pinned guarantees: their names (GUARANTEE false for them, and their
     * unpin_sql run after the schema), ending at the first NULL. Empty for
     * the fixed form and for a form with code of its own. */
    const char *minus[SCENARIO_MAX_MINUS];
} scenario_variant;

/* The id of the driver's own invariant, "every call finishes within the
 * deadline", which every scenario has after its own. */
#define SCENARIO_DEADLINE_ID "deadline"

/* The id of the driver's other invariant, "every call leaves its
 * connection as it found it" (engine/connstate.h: a session-level setting,
 * an open transaction, an advisory lock, a prepared statement, a temporary
 * table left behind), which follows the deadline's. */
#define SCENARIO_CONNECTION_ID "connection"

typedef struct scenario_invariant {
    /* Required: a short id — lower-case letters, digits and '-', unique
     * within the scenario, not SCENARIO_DEADLINE_ID or SCENARIO_CONNECTION_ID
     * ("one-credential"): what
     * --failfast=ID and the variants' caught[] name. */
    const char *id;
    /* Required: the sentence TAP and the reports show. */
    const char *name;
    /* Required: 1 held; 0 violated (through inv_violated or inv_verdict);
     * -1 the check could not run (through inv_error, or a failed
     * inv_query). */
    int (*check)(inv_ctx *x);
    /* Optional: the SQL the check reads, each with one parameter, $1, the
     * iteration's number (bigint); results in x->rows, in this order; the
     * list ends at the first NULL. The driver sends the declared queries of
     * every invariant of the iteration in one round trip (prepared once per
     * run; a query declared by several invariants is run once), before
     * the first check. */
    const char *queries[SCENARIO_MAX_QUERIES];
} scenario_invariant;

/* A fault plan: the faults a run injects and how the callers react. The
 * plan "none" (no faults, no retries) is implicit and not listed. Every
 * field but name and summary is optional (0 or NULL: not set). */
typedef struct scenario_plan {
    const char *name;
    const char *summary;
    const char *fault;          /* fault rules installed afresh for every iteration */
    bool sweep;                 /* instead: one iteration per statement position of
                                 * a clean call, for each action (error, drop,
                                 * ambiguous), aimed at worker 1's connection */
    int retries;                /* a failed call is retried this many times */
    int nworkers;               /* 0: the run's -n */
    const char *pause;          /* "POINT=DURATION" for every variant alike */
    const char *params;         /* "NAME=VALUE ...": settings the operation reads with
                                 * call_param, for every variant alike (a shorter
                                 * lock_timeout, so a test need not wait the seed's 3s) */
    const char *call_timeout;   /* this plan's call deadline ("2s"): else the run's */
} scenario_plan;

/* A guarantee the fixed form provides, pinned: the mutation build removes
 * it (GUARANTEE(c, name) false in the operation, or unpin_sql run after
 * the schema) and t/55-pins.t shows that plan reports a violation. Every
 * scenario pins "commit-before-ok" (call_commit_ok's order). */
typedef struct scenario_pin {
    const char *name;           /* GUARANTEE(c, name) in the operation */
    const char *what;           /* the guarantee, in the seed's words */
    const char *plan;           /* the plan ("none" or one of plans) that catches its loss */
    const char *unpin_sql;      /* optional: DDL that removes it from the schema */
    /* Optional: the id of the invariant that reports its loss under plan
     * (one of the scenario's, or the driver's "connection"); t/55-pins.t
     * then requires that one among those violated, and an invariant no
     * pre-fix form breaks is broken there. */
    const char *invariant;
} scenario_pin;

/* What the serial oracle (--oracle serial) needs to know beyond what the
 * catalog says (engine/state.h): every field optional. */
#define SCENARIO_MAX_ORACLE 8
typedef struct scenario_oracle {
    /* "TABLE.COLUMN=MODE": how a column is compared (exact, renamed,
     * ranked, present, ignore), where its type and default do not say:
     * a sequence's value set by a statement, not a default; a clock's. */
    const char *columns[SCENARIO_MAX_ORACLE];
    /* The tables compared (none listed: every table of the schema). */
    const char *tables[SCENARIO_MAX_ORACLE];
    /* A POSIX ERE: the parts of a call's result it matches are not
     * compared (a time the call measured). */
    const char *answer_mask;
    /* Why the iteration x is outside what a serial order can give (a
     * workload or a failure whose correct outcome no serial order of
     * whole calls produces, by the seed's own specification), as a static
     * string; NULL when it is not. It runs where a check runs, before the
     * oracle judges x (x->rows is empty). NULL: never. */
    const char *(*outside)(const inv_ctx *x);
    /* For a scenario whose calls the engine cannot rerun on connections of
     * its own (pgrace exec's programs, which reach the run's schema through
     * the wire proxy): a call rerun alone, ended as the operation ends it.
     * The serial orders then run in the run's own schema, after the
     * concurrent state is read, each from the scenario's setup — which must
     * make the schema afresh — and the way exempts their statements from
     * its rules, its gate and its rendezvous (faultctl_way_exempt). NULL:
     * the variant's operation, in a schema of the oracle's. */
    void (*rerun)(const drv_call *c);
    /* A table of the schema never compared (the harness's own, exec's
     * pgrace_answers), or NULL. */
    const char *hidden;
} scenario_oracle;

typedef struct scenario {
    const char *name;           /* required */
    const char *summary;        /* required */
    const char *seed;           /* optional: the source text in ../shared/seeds/ it
                                 * comes from; NULL for a scenario of no seed */
    const char *schema_sql;     /* required: DDL, run in a fresh schema before each
                                 * variant's run */
    /* Creates iteration i's rows on the control connection (optional: a
     * scenario whose calls create every row has neither). Preferably
     * setup_sql: one statement (a CTE or a VALUES list for several
     * tables) with $1 the iteration's number (bigint), $2 the number of
     * workers (int) and $3 the iteration's salt (bigint), prepared once per
     * run — one round trip per iteration. Else setup, for rows SQL cannot
     * compute: 0, or -1 with a reason in err (pqx_ctl_query above fills
     * it). Not both.
     *
     * The salt is a number from 0 to 2^31 - 1 drawn from the run's seed and
     * the iteration's number alone: for ids that must not line up with
     * another table's (a record's identity that is not the record's own
     * id, whatever the iteration), different in each run and the same
     * whenever the iteration is replayed or explored. */
    const char *setup_sql;
    int (*setup)(PGconn *ctl, long iteration, int nworkers, long salt, char *err, size_t errlen);
    int conns_per_worker;       /* 1 (also when 0) or 2: worker i is then the shim's
                                 * connections 2i+1 and 2i+2 */
    /* The operation's statements run on connections of its own, not the
     * driver's (pgrace exec's programs, whose connections end with each
     * call): the driver's connection invariant does not apply, and the
     * deadline alone follows the scenario's invariants. */
    bool own_connections;
    /* Workloads (optional). Iterations may differ in what their workers do
     * (a near-cap stack, a teardown, racers or retriers...): then that must
     * depend on iteration % workload_period only (0 or 1: every iteration
     * alike), and workload(i) says which workload iteration i runs (NULL:
     * i % period, each residue its own). The explorer explores one residue
     * of each workload apart, so that every workload gets every schedule. */
    int workload_period;
    int (*workload)(long iteration);
    int error_status;           /* a failed call's status (0: STATUS_ERROR) */
    /* The tables, set with the macros below. */
    const scenario_variant *variants;   /* required */
    int nvariants;
    const scenario_invariant *invariants;   /* required */
    int ninvariants;
    const scenario_plan *plans;         /* optional */
    int nplans;
    const char *const *pause_points;    /* optional: "NAME: what it widens" */
    int npause_points;
    const scenario_pin *pins;           /* optional, but every fixed form pins commit-before-ok */
    int npins;
    scenario_oracle oracle;             /* optional */
} scenario;

#define SCENARIO_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define VARIANTS(a) .variants = (a), .nvariants = SCENARIO_COUNT(a)
#define INVARIANTS(a) .invariants = (a), .ninvariants = SCENARIO_COUNT(a)
#define PLANS(a) .plans = (a), .nplans = SCENARIO_COUNT(a)
#define PAUSE_POINTS(a) .pause_points = (a), .npause_points = SCENARIO_COUNT(a)
#define PINS(a) .pins = (a), .npins = SCENARIO_COUNT(a)

/* For the engine and the modes (not for a scenario's own use). */

/* The scenario of a NULL-terminated list (scenarios/registry.h's) by name,
 * or NULL. */
const scenario *scenario_find(const scenario *const *registry, const char *name);
const scenario_variant *scenario_variant_find(const scenario *s, const char *name);

/* The operation variant v runs: its own, or the fixed form's. */
void (*scenario_variant_op(const scenario *s, const scenario_variant *v))(const drv_call *c);

/* The name of pause point i ("after-guard" of "after-guard: ..."), into
 * buf. */
const char *scenario_pause_name(const scenario *s, int i, char *buf, size_t len);

#endif
