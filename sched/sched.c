/* sched.c — one round, one statement at a time (see sched.h). */
#include "sched/sched.h"

#include "sched/equiv.h"
#include "faults/pgfault.h"
#include "engine/faultctl.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/hash.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The longest loop of reads a worker is seen repeating (spinning). */
#define SPIN_PERIOD 4
#define SPIN_HISTORY (2 * SPIN_PERIOD)

/* Where a worker is, as the scheduler knows it. */
enum wstate {
    W_RUNNING,      /* let go: running its statement or its own code */
    W_AT_GATE,      /* stopped at the gate with its next statement */
    W_BLOCKED,      /* its statement waits on another test session (the server says) */
    W_DONE,         /* its calls of the round are over */
};

typedef struct sworker {
    enum wstate state;
    bool go;                    /* let go from the gate */
    int action;                 /* what the gate then answers */
    int pid;                    /* its backend (the statement at the gate / in flight) */
    bool in_tx;                 /* the statement at the gate is inside a transaction block */
    char app[96];               /* its connection's application_name (through a pooler) */
    int step;                   /* its statement in flight: index into steps, or -1 */
    int stmts;                  /* statements granted this round */
    char sql[64];
    bool quiet;                 /* its statement is quiet (equiv.h) */
    bool repeats;               /* ... and answers the same again while nobody writes (equiv_repeats) */
    uint64_t digest;            /* its statement's text and parameters */
    uint64_t reads[SPIN_HISTORY];   /* the digests of the repeatable reads it was let go with last, newest
                                     * first: since its last other statement or anyone else's grant */
    int nreads;
    pthread_cond_t cv;          /* it waits at the gate on this */
} sworker;

struct sched {
    int cap;                    /* workers it was made for */
    int n;                      /* workers of this round */
    sworker w[SCHED_MAX_WORKERS];
    pthread_mutex_t mu;
    pthread_cond_t changed;     /* a worker arrived or finished; CLOCK_MONOTONIC */
    bool free_run;              /* every gate open */
    sched_choose_fn choose;
    void *arg;
    sched_fault fault;
    bool fault_used;
    bool yield;                 /* a spinning worker yields (sched_prepare) */
    int last_granted;           /* the worker let go last, or -1 */
    long yields;
    int64_t bound_ns;
    blk_watch *watch;
    bool pooled;                /* through a pooler: backends found by application_name */
    int pids[2 * SCHED_MAX_WORKERS], pid_worker[2 * SCHED_MAX_WORKERS], npids;
    char apps[2 * SCHED_MAX_WORKERS][96];   /* with pooled: each pid's connection's application_name */
    sched_step steps[SCHED_MAX_STEPS];
    int nsteps, points;
};

sched *sched_new(int nworkers, PGconn *ctl, bool pooled, int64_t bound_ns, char *err, size_t errlen)
{
    if (nworkers < 1 || nworkers > SCHED_MAX_WORKERS) {
        err_set(err, errlen, "the explorer schedules 1 to %d workers, not %d", SCHED_MAX_WORKERS, nworkers);
        return NULL;
    }
    sched *s = calloc(1, sizeof *s);
    if (!s || !(s->watch = blk_new(ctl, err, errlen))) {
        free(s);
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&s->changed, &a);
    pthread_condattr_destroy(&a);
    pthread_mutex_init(&s->mu, NULL);
    for (int i = 0; i < nworkers; i++)
        pthread_cond_init(&s->w[i].cv, NULL);
    s->n = s->cap = nworkers;
    s->bound_ns = bound_ns;
    s->pooled = pooled;
    s->free_run = true;
    return s;
}

void sched_free(sched *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->cap; i++)
        pthread_cond_destroy(&s->w[i].cv);
    pthread_cond_destroy(&s->changed);
    pthread_mutex_destroy(&s->mu);
    blk_free(s->watch);
    free(s);
}

static int gate(void *arg, const faultctl_stmt *st) { return sched_arrive(arg, st); }

void sched_install(sched *s) { faultctl_set_gate(s ? gate : NULL, s); }

void sched_prepare(sched *s, int nworkers, sched_choose_fn choose, void *arg, const sched_fault *fault, bool yield)
{
    pthread_mutex_lock(&s->mu);
    s->n = nworkers < s->cap ? nworkers : s->cap;
    for (int i = 0; i < s->n; i++) {
        sworker *w = &s->w[i];
        w->state = W_RUNNING;
        w->go = false;
        w->pid = 0;
        w->step = -1;
        w->stmts = 0;
        w->nreads = 0;
    }
    s->yield = yield;
    s->last_granted = -1;
    s->choose = choose;
    s->arg = arg;
    s->free_run = choose == NULL;
    s->fault = fault ? *fault : (sched_fault){ .worker = -1 };
    s->fault_used = false;
    s->nsteps = s->points = 0;
    s->yields = 0;
    pthread_mutex_unlock(&s->mu);
}

/* Opens every gate: the round runs free from here. Called with mu held. */
static void run_free(sched *s)
{
    s->free_run = true;
    for (int i = 0; i < s->n; i++)
        pthread_cond_signal(&s->w[i].cv);
}

int sched_arrive(sched *s, const faultctl_stmt *st)
{
    if (st->worker < 0 || st->worker >= s->n)
        return PGF_GATE_GO;
    sworker *w = &s->w[st->worker];
    pthread_mutex_lock(&s->mu);
    if (s->free_run) {
        pthread_mutex_unlock(&s->mu);
        return PGF_GATE_GO;
    }
    w->state = W_AT_GATE;
    w->pid = st->pid;
    w->in_tx = st->tx_status == 'T' || st->tx_status == 'E';
    snprintf(w->app, sizeof w->app, "%s", st->app ? st->app : "");
    w->go = false;
    snprintf(w->sql, sizeof w->sql, "%s", st->sql);
    err_one_line(w->sql);
    w->quiet = equiv_quiet(st->sql);    /* the whole statement: the copy is cut short */
    w->repeats = w->quiet && equiv_repeats(st->sql);
    w->digest = hash_fnv1a(hash_fnv1a(HASH_FNV1A_INIT, st->sql, strlen(st->sql)), &st->params, sizeof st->params);
    pthread_cond_broadcast(&s->changed);
    /* The scheduler's own waits are bounded, and it either lets this
     * statement go or opens every gate: this wait ends. */
    while (!w->go && !s->free_run)
        pthread_cond_wait(&w->cv, &s->mu);
    int action = w->go ? w->action : PGF_GATE_GO;
    w->go = false;
    w->state = W_RUNNING;
    pthread_mutex_unlock(&s->mu);
    return action;
}

void sched_worker_done(sched *s, int worker)
{
    pthread_mutex_lock(&s->mu);
    s->w[worker].state = W_DONE;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->mu);
}

/* ---- quiescence ---- */

typedef struct arrival {
    sched *s;
    int worker;
} arrival;

/* blk_done_fn: the worker stopped at the gate or finished. */
static int arrived(void *arg, int64_t timeout_ns, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    arrival *a = arg;
    sched *s = a->s;
    sworker *w = &s->w[a->worker];
    int64_t end = clock_now_ns() + timeout_ns;
    struct timespec ts = { .tv_sec = end / 1000000000, .tv_nsec = end % 1000000000 };
    pthread_mutex_lock(&s->mu);
    while (w->state == W_RUNNING && timeout_ns > 0)
        if (pthread_cond_timedwait(&s->changed, &s->mu, &ts) == ETIMEDOUT)
            break;
    bool done = w->state == W_AT_GATE || w->state == W_DONE;
    pthread_mutex_unlock(&s->mu);
    return done;
}

static enum wstate state_of(sched *s, int i)
{
    pthread_mutex_lock(&s->mu);
    enum wstate st = s->w[i].state;
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* Worker i's state and the backend of its last statement, read together:
 * a worker that is not parked may arrive (and write both) meanwhile. */
static enum wstate state_pid(sched *s, int i, int *pid)
{
    pthread_mutex_lock(&s->mu);
    enum wstate st = s->w[i].state;
    *pid = s->w[i].pid;
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* Moves worker i from `from` to `to` unless it moved on its own meanwhile
 * (arrival always wins). Returns whether it did. */
static bool move(sched *s, int i, enum wstate from, enum wstate to)
{
    pthread_mutex_lock(&s->mu);
    bool moved = s->w[i].state == from;
    if (moved)
        s->w[i].state = to;
    pthread_mutex_unlock(&s->mu);
    return moved;
}

/* Makes sure the watch knows pid as worker i's (a reset connection has a
 * new backend; through a pooler, pid is the pooler's key and the
 * connection's application_name, app, finds its backend). Returns 0 or -1. */
static int know_pid(sched *s, int i, int pid, const char *app, char *err, size_t errlen)
{
    for (int k = 0; k < s->npids; k++)
        if (s->pids[k] == pid)
            return 0;
    if (s->npids == 2 * SCHED_MAX_WORKERS) {
        /* Long-lived rounds with many reconnects: forget the oldest. */
        memmove(s->pids, s->pids + 1, (size_t)(s->npids - 1) * sizeof *s->pids);
        memmove(s->pid_worker, s->pid_worker + 1, (size_t)(s->npids - 1) * sizeof *s->pid_worker);
        memmove(s->apps, s->apps + 1, (size_t)(s->npids - 1) * sizeof *s->apps);
        s->npids--;
    }
    s->pids[s->npids] = pid;
    snprintf(s->apps[s->npids], sizeof s->apps[s->npids], "%s", app ? app : "");
    s->pid_worker[s->npids++] = i;
    char names[2 * SCHED_MAX_WORKERS][16];
    const char *name_of[2 * SCHED_MAX_WORKERS], *app_of[2 * SCHED_MAX_WORKERS];
    for (int k = 0; k < s->npids; k++) {
        snprintf(names[k], sizeof names[k], "w%d", s->pid_worker[k] + 1);
        name_of[k] = names[k];
        app_of[k] = s->apps[k];
    }
    return blk_set_pooled_sessions(s->watch, s->pids, s->pooled ? app_of : NULL, name_of, s->npids, err, errlen);
}

/* Worker i's statement waits on another test session: say on whom in its
 * step. */
static void note_blocked(sched *s, int i, int pid, char *err, size_t errlen)
{
    int step = s->w[i].step;
    if (step < 0)
        return;
    char names[64];
    if (blk_blocked_by(s->watch, pid, names, sizeof names, err, errlen) == 0)
        snprintf(s->steps[step].blocked_by, sizeof s->steps[step].blocked_by, "%s", names);
}

/*
 * Waits until no worker is running: each stopped at the gate, done, or
 * blocked by a test session. Blocked workers are asked again afterwards: a
 * statement that no longer waits is running, and waited for. Returns 0,
 * SCHED_STUCK, or -1 (err).
 */
static int quiesce(sched *s, char *err, size_t errlen)
{
    for (;;) {
        for (int i = 0; i < s->n; i++) {
            int pid;
            if (state_pid(s, i, &pid) != W_RUNNING)
                continue;
            arrival a = { s, i };
            int r;
            if (pid != 0)       /* a pooler's key may be negative */
                r = blk_await(s->watch, pid, arrived, &a, s->bound_ns, err, errlen);
            else    /* no statement in flight: the worker runs its own code */
                r = arrived(&a, s->bound_ns, err, errlen) ? BLK_DONE : BLK_STUCK;
            if (r < 0)
                return -1;
            if (r == BLK_STUCK)
                return SCHED_STUCK;
            if (r == BLK_BLOCKED && move(s, i, W_RUNNING, W_BLOCKED))
                note_blocked(s, i, pid, err, errlen);
        }
        bool again = false;
        for (int i = 0; i < s->n; i++) {
            int pid;
            if (state_pid(s, i, &pid) != W_BLOCKED)
                continue;
            int b = blk_is_blocked(s->watch, pid, err, errlen);
            if (b < 0)
                return -1;
            if (!b && move(s, i, W_BLOCKED, W_RUNNING))
                again = true;
        }
        if (!again)
            return 0;
    }
}

/* Every worker left is blocked: wait (bounded) until one of them is not —
 * the server's deadlock detector ends a cycle of test sessions. Returns 0,
 * SCHED_STUCK or -1. */
static int await_unblock(sched *s, char *err, size_t errlen)
{
    int64_t start = clock_now_ns(), interval = 1000000;
    while (clock_now_ns() - start < s->bound_ns) {
        int64_t end = clock_now_ns() + interval;
        struct timespec ts = { .tv_sec = end / 1000000000, .tv_nsec = end % 1000000000 };
        pthread_mutex_lock(&s->mu);
        pthread_cond_timedwait(&s->changed, &s->mu, &ts);
        pthread_mutex_unlock(&s->mu);
        for (int i = 0; i < s->n; i++) {
            int pid;
            if (state_pid(s, i, &pid) != W_BLOCKED)
                return 0;       /* it arrived or finished on its own */
            int b = blk_is_blocked(s->watch, pid, err, errlen);
            if (b < 0)
                return -1;
            if (!b && move(s, i, W_BLOCKED, W_RUNNING))
                return 0;
        }
        interval = interval < 10000000 ? interval * 2 : interval;
    }
    return SCHED_STUCK;
}

/* Lets worker c's statement go (chosen among runnable). */
static void grant(sched *s, int c, uint32_t runnable, char *err, size_t errlen)
{
    sworker *w = &s->w[c];
    /* Parked at the gate: what it arrived with stays. */
    know_pid(s, c, w->pid, w->app, err, errlen);
    pthread_mutex_lock(&s->mu);
    w->stmts++;
    bool fault = !s->fault_used && s->fault.worker == c && s->fault.nth == w->stmts;
    s->fault_used |= fault;
    w->action = fault ? s->fault.action : PGF_GATE_GO;
    if (s->nsteps < SCHED_MAX_STEPS) {
        sched_step *st = &s->steps[s->nsteps];
        *st = (sched_step){ .worker = c, .runnable = runnable, .fault = fault,
                            .in_tx = w->in_tx, .quiet = w->quiet };
        memcpy(st->sql, w->sql, sizeof st->sql);
        w->step = s->nsteps++;
    }
    /* What a spin is told by: the reads it repeats since anything changed. */
    if (c != s->last_granted || !w->repeats)
        w->nreads = 0;
    if (w->repeats) {
        memmove(w->reads + 1, w->reads, (SPIN_HISTORY - 1) * sizeof *w->reads);
        w->reads[0] = w->digest;
        w->nreads += w->nreads < SPIN_HISTORY;
    }
    s->last_granted = c;
    w->state = W_RUNNING;
    w->go = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Is worker i, let go last, spinning: at the gate to go round a loop of
 * repeatable reads a third time — the same p reads (p <= SPIN_PERIOD) twice
 * in a row, this one the first of them again — with nothing since the
 * first round that could change what they answer, by it or anyone else
 * (every other worker is parked or done)? Each round answers as the one
 * before; the loop waits for someone else. Twice, not once: a read done
 * again once is as often a re-check (SELECT, BEGIN, the same SELECT) as a
 * poll, and a re-check must be free to go on. */
static bool spinning(sched *s, int i)
{
    pthread_mutex_lock(&s->mu);
    sworker *w = &s->w[i];
    bool spin = false;
    if (i == s->last_granted && w->state == W_AT_GATE && w->repeats)
        for (int p = 1; p <= SPIN_PERIOD && 2 * p <= w->nreads && !spin; p++) {
            spin = w->reads[p - 1] == w->digest;
            for (int j = 0; spin && j < p; j++)
                spin = w->reads[j] == w->reads[j + p];
        }
    for (int k = 0; spin && k < s->n; k++)
        spin = k == i || s->w[k].state == W_AT_GATE || s->w[k].state == W_DONE;
    pthread_mutex_unlock(&s->mu);
    return spin;
}

int sched_round(sched *s, char *err, size_t errlen)
{
    int last = -1;
    for (int step = 0;; step++) {
        if (s->free_run)
            return SCHED_DONE;
        int q = quiesce(s, err, errlen);
        if (q == 0) {
            uint32_t runnable = 0;
            bool all_done = true;
            for (int i = 0; i < s->n; i++) {
                enum wstate st = state_of(s, i);
                runnable |= st == W_AT_GATE ? 1u << i : 0;
                all_done &= st == W_DONE;
            }
            if (all_done)
                return SCHED_DONE;
            if (!runnable) {
                q = await_unblock(s, err, errlen);
                step--;
                if (q == 0)
                    continue;
            } else {
                /* A spinning worker yields to the others (when there are
                 * others): not a choice, and so not a preemption. */
                if (s->yield && last >= 0 && (runnable & ~(1u << last)) && (runnable & (1u << last)) &&
                    spinning(s, last)) {
                    runnable &= ~(1u << last);
                    s->yields++;
                }
                int c = s->points >= SCHED_MAX_STEPS ? -1 : s->choose(s->arg, step, runnable, last);
                s->points++;
                if (c < 0 || c >= s->n || !(runnable & (1u << c))) {
                    pthread_mutex_lock(&s->mu);
                    run_free(s);
                    pthread_mutex_unlock(&s->mu);
                    return SCHED_GAVE_UP;
                }
                grant(s, c, runnable, err, errlen);
                last = c;
                continue;
            }
        }
        /* Stuck, or the control connection failed: every gate opens, and the
         * driver's deadline takes the round over. */
        pthread_mutex_lock(&s->mu);
        run_free(s);
        pthread_mutex_unlock(&s->mu);
        return q < 0 ? -1 : SCHED_STUCK;
    }
}

const sched_step *sched_steps(const sched *s, int *n)
{
    *n = s->nsteps;
    return s->steps;
}

int sched_choice_points(const sched *s) { return s->points; }

long sched_yields(const sched *s) { return s->yields; }

int sched_preemptions(const sched *s)
{
    int n = 0;
    for (int i = 1; i < s->nsteps; i++) {
        int last = s->steps[i - 1].worker, c = s->steps[i].worker;
        n += c != last && (s->steps[i].runnable & (1u << last));
    }
    return n;
}

void sched_token(const sched *s, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "s=");
    for (int i = 0; i < s->nsteps && used + 4 < len; i++)
        used += (size_t)snprintf(buf + used, len - used, s->n > 9 && i ? ".%d" : "%d", s->steps[i].worker + 1);
    if (s->fault_used && used < len) {
        static const char *const actions[] = { "go", "error", "drop", "ambiguous", "cancel" };
        snprintf(buf + used, len - used, ";f=%d:%d:%s", s->fault.worker + 1, s->fault.nth,
                 actions[s->fault.action]);
    }
}

uint32_t sched_digest(const sched *s)
{
    uint64_t h = HASH_FNV1A_INIT;
    for (int i = 0; i < s->nsteps; i++) {
        h = hash_fnv1a(h, &s->steps[i].worker, sizeof s->steps[i].worker);
        h = hash_fnv1a(h, s->steps[i].sql, strlen(s->steps[i].sql) + 1);
    }
    return (uint32_t)(h ^ (h >> 32));
}

json_t *sched_describe(const sched *s)
{
    json_t *lines = json_array();
    for (int i = 0; lines && i < s->nsteps; i++) {
        const sched_step *st = &s->steps[i];
        char line[200];
        int n = snprintf(line, sizeof line, "w%d: %s", st->worker + 1, st->sql);
        if (n > 0 && (size_t)n < sizeof line && (st->blocked_by[0] || st->fault))
            snprintf(line + n, sizeof line - (size_t)n, "  (%s%s%s%s)", st->fault ? "fault injected" : "",
                     st->fault && st->blocked_by[0] ? "; " : "", st->blocked_by[0] ? "blocked by " : "",
                     st->blocked_by);
        json_array_append_new(lines, json_string(line));
    }
    return lines;
}
