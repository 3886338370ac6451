/* way.c — the wire proxy as the engine's way in (see way.h). */
#include "proxy/way.h"

#include "faults/grammar.h"
#include "faults/pgfault.h"
#include "engine/driver.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct pxw {
    proxy *p;
    int64_t bound_ns;
    faultctl_gate_fn _Atomic gate;      /* the engine's (the explorer's), or NULL */
    void *_Atomic gate_arg;
    atomic_bool exempt;                 /* the harness's statements for now (faultctl_way_exempt) */
    pthread_mutex_t mu;
    pthread_cond_t cv;                  /* CLOCK_MONOTONIC: the rendezvous released, a round began, a stop */
    /* Under mu: the round. */
    unsigned long round;
    int n;                              /* its workers */
    bool rendezvous, released, stopping;
    bool arrived[DRV_MAX_WORKERS], ended[DRV_MAX_WORKERS];
    unsigned char hit[DRV_MAX_WORKERS]; /* pxw_hit, the gravest since the round began or the last take */
};

/* A session SET: SET name ..., but not SET LOCAL, SET TRANSACTION, SET
 * CONSTRAINTS (which belong to a transaction) nor SET SESSION
 * CHARACTERISTICS. */
static bool session_set(const char *sql)
{
    while (isspace((unsigned char)*sql))
        sql++;
    if (strncasecmp(sql, "SET", 3) != 0 || !isspace((unsigned char)sql[3]))
        return false;
    sql += 3;
    while (isspace((unsigned char)*sql))
        sql++;
    static const char *const not[] = { "LOCAL", "TRANSACTION", "CONSTRAINTS", "SESSION CHARACTERISTICS" };
    for (size_t i = 0; i < sizeof not / sizeof not[0]; i++) {
        size_t n = strlen(not[i]);
        if (strncasecmp(sql, not[i], n) == 0 && (!sql[n] || isspace((unsigned char)sql[n])))
            return false;
    }
    return true;
}

/* Every worker of the round sent its first statement or ended: the held
 * ones go. Called with mu held. */
static void release_if_all(pxw *w)
{
    int in = 0;
    for (int i = 0; i < w->n; i++)
        in += w->arrived[i] || w->ended[i];
    if (in == w->n) {
        w->released = true;
        pthread_cond_broadcast(&w->cv);
    }
}

/* Holds worker's first statement of the round until every worker sent its
 * first or ended, the bound passed, a new round began or the way stops. */
static void rendezvous(pxw *w, int worker)
{
    pthread_mutex_lock(&w->mu);
    if (!w->rendezvous || w->released || worker >= w->n || w->arrived[worker]) {
        if (worker < w->n)
            w->arrived[worker] = true;
        pthread_mutex_unlock(&w->mu);
        return;
    }
    w->arrived[worker] = true;
    release_if_all(w);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t end = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + w->bound_ns;
    ts = (struct timespec){ .tv_sec = end / 1000000000, .tv_nsec = end % 1000000000 };
    unsigned long round = w->round;
    while (!w->released && !w->stopping && w->round == round)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&w->mu);
}

static int gate(void *arg, const proxy_stmt *st)
{
    pxw *w = arg;
    /* A driver's own set-up, before its program's first statement; and
     * whatever the harness runs between rounds. */
    if ((st->conn_counted == 0 && session_set(st->sql)) || atomic_load(&w->exempt))
        return PROXY_GATE_PASS;
    int worker = st->group - 1;
    if (worker < 0 || worker >= DRV_MAX_WORKERS)
        return PGF_GATE_GO;
    faultctl_gate_fn fn = atomic_load(&w->gate);
    if (fn) {
        faultctl_stmt fs = { .worker = worker, .pid = st->backend_pid, .tx_status = st->tx_status, .app = st->app,
                             .sql = st->sql, .params = st->params };
        return fn(atomic_load(&w->gate_arg), &fs);
    }
    rendezvous(w, worker);
    return PGF_GATE_GO;
}

static void observe(void *arg, const proxy_stmt *st, const struct pgf_rule *fault)
{
    pxw *w = arg;
    int worker = st->group - 1;
    if (atomic_load(&w->exempt))
        return;
    if (fault && worker >= 0 && worker < DRV_MAX_WORKERS) {
        pxw_hit h = fault->action == PGF_A_DROP || fault->action == PGF_A_AMBIGUOUS ? PXW_HIT_CUT
                    : fault->action == PGF_A_ERROR                                  ? PXW_HIT_ERROR
                                                                                    : PXW_HIT_NONE;
        pthread_mutex_lock(&w->mu);
        if (h > w->hit[worker])
            w->hit[worker] = (unsigned char)h;
        pthread_mutex_unlock(&w->mu);
    }
    faultctl_worker_statement(st->group - 1, st->stmt, st->sql, fault ? fault->text : NULL,
                              fault ? fault->action_text : NULL);
}

pxw *pxw_new(proxy *p, int64_t bound_ns)
{
    pxw *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->p = p;
    w->bound_ns = bound_ns;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &a);
    pthread_condattr_destroy(&a);
    proxy_set_gate(p, gate, w);
    proxy_set_observer(p, observe, w);
    return w;
}

void pxw_stop(pxw *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void pxw_free(pxw *w)
{
    if (!w)
        return;
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

void pxw_round(pxw *w, int nworkers, bool rendezvous_on)
{
    proxy_restart_counts(w->p);
    pthread_mutex_lock(&w->mu);
    w->round++;
    w->n = nworkers < DRV_MAX_WORKERS ? nworkers : DRV_MAX_WORKERS;
    w->rendezvous = rendezvous_on;
    w->released = false;
    memset(w->arrived, 0, sizeof w->arrived);
    memset(w->ended, 0, sizeof w->ended);
    memset(w->hit, 0, sizeof w->hit);
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

pxw_hit pxw_take_hit(pxw *w, int worker)
{
    if (worker < 0 || worker >= DRV_MAX_WORKERS)
        return PXW_HIT_NONE;
    pthread_mutex_lock(&w->mu);
    pxw_hit h = (pxw_hit)w->hit[worker];
    w->hit[worker] = PXW_HIT_NONE;
    pthread_mutex_unlock(&w->mu);
    return h;
}

void pxw_ended(pxw *w, int worker)
{
    pthread_mutex_lock(&w->mu);
    if (worker >= 0 && worker < w->n && !w->ended[worker]) {
        w->ended[worker] = true;
        release_if_all(w);
    }
    pthread_mutex_unlock(&w->mu);
}

bool pxw_arrived(pxw *w, int worker)
{
    pthread_mutex_lock(&w->mu);
    bool a = worker >= 0 && worker < w->n && w->arrived[worker];
    pthread_mutex_unlock(&w->mu);
    return a;
}

int pxw_missing(pxw *w, char *who, size_t len)
{
    size_t used = 0;
    int n = 0;
    if (len)
        who[0] = '\0';
    pthread_mutex_lock(&w->mu);
    for (int i = 0; i < w->n; i++)
        if (!w->arrived[i] && !w->ended[i]) {
            n++;
            if (used < len)
                used += (size_t)snprintf(who + used, len - used, "%s%d", used ? ", " : "", i + 1);
        }
    pthread_mutex_unlock(&w->mu);
    return n;
}

/* ---- the engine's fault control ---- */

static int way_configure(void *self, const char *rules, char *err, size_t errlen)
{
    return proxy_set_rules(((pxw *)self)->p, rules, err, errlen);
}

static unsigned long way_fired(void *self) { return proxy_fired(((pxw *)self)->p); }

static void way_set_gate(void *self, faultctl_gate_fn fn, void *arg)
{
    pxw *w = self;
    atomic_store(&w->gate_arg, arg);
    atomic_store(&w->gate, fn);
}

static int way_backends(void *self, int worker, int *pids, int max)
{
    return proxy_group_pids(((pxw *)self)->p, worker + 1, pids, max);
}

static void way_exempt(void *self, bool on) { atomic_store(&((pxw *)self)->exempt, on); }

const faultctl_way *pxw_faultctl(void)
{
    static const faultctl_way way = { way_configure, way_fired, way_set_gate, way_backends, way_exempt };
    return &way;
}
