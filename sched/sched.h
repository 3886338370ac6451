/*
 * sched.h — the explorer's core: one round of N workers, one statement at
 * a time, in an order a policy chooses.
 *
 * Every worker statement stops at the gate of the way it reaches the server
 * by (engine/faultctl.h: the fault shim's, or pgrace exec's wire proxy)
 * before it is sent: the thread that sends it calls sched_arrive and waits. The driver's thread runs sched_round: it waits
 * until the round is quiescent — every worker stopped at the gate, done
 * with its calls, or blocked by another test session *as the server says*
 * (lib/blocking: pg_isolation_test_session_is_blocked, asked adaptively,
 * never guessed by sleeping) — then asks the policy which stopped worker
 * goes next, lets that one statement go, and waits for quiescence again. A
 * blocked worker leaves the runnable set and comes back when its statement
 * completes. The choices are the schedule: replaying them on fresh rows
 * replays the round exactly, as far as the server is deterministic.
 *
 * A worker that spins — about to go round a loop of reads a third time
 * (the same few statements, text and parameters, twice in a row; no clock
 * or randomness in them: equiv_repeats), nothing else done since the loop
 * began, nobody else let go meanwhile and every other worker parked or
 * done — would read what it read before: its loop waits for someone else.
 * Such a worker yields: the
 * others go first, with no choice made and no preemption counted. (CHESS's
 * fairness: a schedule that lets one worker poll while the one it waits
 * for stands still tells nothing new, and a loop of N polls would multiply
 * the schedule tree by N.) A round prepared without yield offers every
 * stopped worker at every point, as a replayed token needs.
 *
 * Nothing waits forever: a statement that neither completes nor is blocked
 * by a test session within the bound is stuck; the round then stops
 * scheduling (every gate opens) and the driver's deadline takes over, with
 * its diagnosis.
 */
#ifndef PGRACE_SCHED_H
#define PGRACE_SCHED_H

#include "engine/faultctl.h"
#include "lib/blocking.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#define SCHED_MAX_WORKERS 32
#define SCHED_MAX_STEPS 4096

typedef struct sched sched;

/* Who goes next: among runnable (a bitmask of worker indexes, never 0) at
 * choice point step (from 0), last being the worker let go at the point
 * before (-1 at the first). Returns a worker of runnable, or -1 to give the
 * schedule up (a replay that diverged): every gate then opens. */
typedef int (*sched_choose_fn)(void *arg, int step, uint32_t runnable, int last);

/* A fault the round injects: worker's nth statement (from 1) gets action
 * (a PGF_GATE_* of faults/pgfault.h). worker < 0: none. */
typedef struct sched_fault {
    int worker;
    int nth;
    int action;
} sched_fault;

/* One grant, for the diagnostics: reading order of the schedule. */
typedef struct sched_step {
    int worker;
    uint32_t runnable;          /* who could have gone instead */
    char sql[64];
    char blocked_by[64];        /* "w1" when the statement then waited on w1, else "" */
    bool in_tx;                 /* sent inside a transaction block */
    bool quiet;                 /* commutes with the others' quiet statements (equiv.h) */
    bool fault;                 /* the round's fault was injected here */
} sched_step;

/* How a round ended. */
enum sched_end {
    SCHED_DONE = 0,             /* every worker finished under the policy */
    SCHED_GAVE_UP = 1,          /* the policy gave up (replay divergence); the round ran free */
    SCHED_STUCK = 2,            /* a statement was stuck past the bound; the round ran free */
};

/* A scheduler for up to nworkers workers; ctl is the control connection
 * (the watch asks the server on it). pooled: the workers reach the server
 * through a pooler, which serves each by another backend from one
 * transaction to the next: their backends are found by application_name
 * (lib/blocking.h). Returns NULL with a reason. */
sched *sched_new(int nworkers, PGconn *ctl, bool pooled, int64_t bound_ns, char *err, size_t errlen);
void sched_free(sched *s);

/* Installs s as the gate (engine/faultctl.h; NULL: removes it). */
void sched_install(sched *s);

/* Before a round of nworkers workers (at most the scheduler's): the policy
 * for it, its fault (NULL: none), and whether a spinning worker yields
 * (above). */
void sched_prepare(sched *s, int nworkers, sched_choose_fn choose, void *arg, const sched_fault *fault, bool yield);

/* --- the worker threads' side --- */

/* At the gate: st is st->worker's next statement (its backend and
 * transaction status as they are now). Waits for its turn and returns a
 * PGF_GATE_* action (GO, or the round's fault). Called by the gate on the
 * thread that sends the statement. */
int sched_arrive(sched *s, const faultctl_stmt *st);

/* The worker's calls of the round are over (the driver calls it). */
void sched_worker_done(sched *s, int worker);

/* --- the driver's side --- */

/* Runs the round, whose workers have just been released, until every one
 * is done. Returns a sched_end, or -1 on a failure of the control
 * connection (err). */
int sched_round(sched *s, char *err, size_t errlen);

/* The round's schedule: its grants in order (valid until the next round). */
const sched_step *sched_steps(const sched *s, int *n);

/* The round's choice points: how many, and the largest runnable set's size
 * (for PCT's k and n). */
int sched_choice_points(const sched *s);

/* The round's yields: points at which a spinning worker let the others go. */
long sched_yields(const sched *s);

/* The round's preemptive choices: switches away from the worker let go
 * last while it could have gone on. */
int sched_preemptions(const sched *s);

/* The round's schedule as a token ("s=1212;f=2:3:ambiguous"), into buf. */
void sched_token(const sched *s, char *buf, size_t len);

/* A digest of the round's statements (each grant's worker and text, in
 * order): two rounds that sent the same statements in the same order have
 * the same one. A schedule of a program whose statements vary from run to
 * run cannot be replayed; its token carries this ("h=") so that a replay
 * can say so. */
uint32_t sched_digest(const sched *s);

/* The round's schedule in reading order, as a new JSON array of lines
 * ("w1: SELECT ... FOR UPDATE", "w2: SELECT ... FOR UPDATE  (blocked by
 * w1)"), or NULL when out of memory. */
json_t *sched_describe(const sched *s);

#endif
