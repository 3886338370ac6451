/* faultctl.c — finding and steering the fault shim, or another way in
 * (see faultctl.h). */
#include "engine/faultctl.h"

#include "engine/driver.h"
#include "faults/pgfault.h"
#include "lib/clock.h"
#include "lib/err.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct {
    int (*configure)(const char *, char *, size_t);
    void (*exempt)(int);
    unsigned long (*fired)(void);
    void (*set_observer)(void (*)(const pgf_event *, void *), void *);
    void (*reset_ordinals)(void);
    void (*interrupt)(PGconn *);
    void (*set_gate)(pgf_gate_fn, void *);
} shim;

static __thread call_record *current;
static __thread pqx_trace *current_trace;
static char installed[1024];    /* written by the driver's thread only */

/* Another way in (faultctl_use), or NULL: the shim. */
static const faultctl_way *way;
static void *way_self;

/* The gate the caller installed, behind the shim's own. */
static faultctl_gate_fn gate_fn;
static void *gate_arg;

/* Each worker's current call, for a way whose statements arrive on threads
 * of its own. */
static struct {
    call_record *rec;
    pqx_trace *trace;
} slots[DRV_MAX_WORKERS];
static pthread_mutex_t slots_mu = PTHREAD_MUTEX_INITIALIZER;

void faultctl_use(const faultctl_way *w, void *self)
{
    way = w;
    way_self = self;
}

static void observe(const pgf_event *ev, void *arg)
{
    (void)arg;
    call_record *c = current;
    if (!c)
        return;
    if (c->faults++ == 0)
        snprintf(c->fault, sizeof c->fault, "%s at statement %ld of connection %d: %.60s", ev->rule_text,
                 ev->stmt_ordinal, ev->conn_ordinal, ev->sql ? ev->sql : "");
}

int faultctl_preload(char *const argv[], char *err, size_t errlen)
{
    if (dlsym(RTLD_DEFAULT, "pgf_configure"))
        return 0;
    char exe[PATH_MAX], lib[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0) {
        err_sys(err, errlen, errno, "readlink(/proc/self/exe)");
        return -1;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    *slash = '\0';
    snprintf(lib, sizeof lib, "%s/libpgfault.so", exe);
    if (access(lib, R_OK) != 0) {
        int e = errno;
        err_set(err, errlen, "fault shim %s: %s (the build makes it beside pgrace: run make)", lib, strerror(e));
        return -1;
    }
    /* An AddressSanitizer build must keep its runtime first in the list of
     * libraries, so it goes before the shim. */
    char runtime[PATH_MAX] = "";
    Dl_info info;
    void *asan = dlsym(RTLD_DEFAULT, "__asan_init");
    if (asan && dladdr(asan, &info) && info.dli_fname && strstr(info.dli_fname, "libasan"))
        snprintf(runtime, sizeof runtime, "%s:", info.dli_fname);
    const char *old = getenv("LD_PRELOAD");
    char preload[3 * PATH_MAX];
    snprintf(preload, sizeof preload, "%s%s%s%s", runtime, lib, old && *old ? ":" : "", old && *old ? old : "");
    /* PGRACE_LD_PRELOAD remembers what the user had, so that faultctl_init
     * can give the programs pgrace starts (initdb, postgres, pg_config) the
     * environment without the shim. */
    if (setenv("PGRACE_LD_PRELOAD", old ? old : "", 1) < 0 || setenv("LD_PRELOAD", preload, 1) < 0 ||
        setenv("PGFAULT", "", 1) < 0) {
        err_sys(err, errlen, errno, "setenv");
        return -1;
    }
    *slash = '/';
    execv(exe, argv);
    err_sys(err, errlen, errno, "exec %s", exe);
    return -1;
}

void faultctl_init(void)
{
    /* The shim is loaded for good; children must not inherit it. */
    const char *user = getenv("PGRACE_LD_PRELOAD");
    if (user) {
        if (*user)
            setenv("LD_PRELOAD", user, 1);
        else
            unsetenv("LD_PRELOAD");
        unsetenv("PGRACE_LD_PRELOAD");
        unsetenv("PGFAULT");
    }
    *(void **)&shim.configure = dlsym(RTLD_DEFAULT, "pgf_configure");
    *(void **)&shim.exempt = dlsym(RTLD_DEFAULT, "pgf_thread_exempt");
    *(void **)&shim.fired = dlsym(RTLD_DEFAULT, "pgf_fired_total");
    *(void **)&shim.set_observer = dlsym(RTLD_DEFAULT, "pgf_set_observer");
    *(void **)&shim.reset_ordinals = dlsym(RTLD_DEFAULT, "pgf_reset_ordinals");
    *(void **)&shim.interrupt = dlsym(RTLD_DEFAULT, "pgf_interrupt");
    *(void **)&shim.set_gate = dlsym(RTLD_DEFAULT, "pgf_set_gate");
    if (!shim.configure || !shim.exempt || !shim.fired || !shim.set_observer || !shim.reset_ordinals ||
        !shim.interrupt || !shim.set_gate) {
        memset(&shim, 0, sizeof shim);
        return;
    }
    shim.exempt(1);
    shim.set_observer(observe, NULL);
}

void faultctl_exempt_thread(bool exempt)
{
    if (shim.exempt)
        shim.exempt(exempt);
}

int faultctl_configure(const char *rules, char *err, size_t errlen)
{
    if (way) {
        if (way->configure(way_self, rules, err, errlen) < 0)
            return -1;
        snprintf(installed, sizeof installed, "%s", rules ? rules : "");
        return 0;
    }
    if (!shim.configure) {
        if (rules && *rules) {
            err_set(err, errlen, "the fault shim is not loaded");
            return -1;
        }
        return 0;
    }
    if (shim.configure(rules, err, errlen) != 0)
        return -1;
    snprintf(installed, sizeof installed, "%s", rules ? rules : "");
    return 0;
}

const char *faultctl_rules(void) { return installed; }

void faultctl_reset_ordinals(void)
{
    if (shim.reset_ordinals)
        shim.reset_ordinals();
}

unsigned long faultctl_fired(void)
{
    return way ? way->fired(way_self) : shim.fired ? shim.fired() : 0;
}

static bool worker_ok(int w) { return w >= 0 && w < DRV_MAX_WORKERS; }

void faultctl_enter_call(call_record *rec, pqx_trace *trace)
{
    current = rec;
    current_trace = trace;
    if (way && worker_ok(rec->worker)) {
        pthread_mutex_lock(&slots_mu);
        slots[rec->worker].rec = rec;
        slots[rec->worker].trace = trace;
        pthread_mutex_unlock(&slots_mu);
    }
}

/* Statements of t not yet answered are answered at `at`. */
static void answered(pqx_trace *t, int64_t at)
{
    for (size_t i = 0; i < t->n; i++)
        if (!t->ev[i].t_done)
            t->ev[i].t_done = at;
}

void faultctl_leave_call(void)
{
    if (way && current && worker_ok(current->worker)) {
        /* Past this, what the way tells of the worker is not this call's. */
        pthread_mutex_lock(&slots_mu);
        answered(current_trace, clock_now_ns());
        slots[current->worker].rec = NULL;
        slots[current->worker].trace = NULL;
        pthread_mutex_unlock(&slots_mu);
    }
    current = NULL;
    current_trace = NULL;
}

void faultctl_worker_statement(int worker, long stmt, const char *sql, const char *rule, const char *action)
{
    if (!worker_ok(worker))
        return;
    int64_t now = clock_now_ns();
    pthread_mutex_lock(&slots_mu);
    call_record *rec = slots[worker].rec;
    pqx_trace *t = slots[worker].trace;
    if (rec && !sql) {
        answered(t, now);
    } else if (rec) {
        if (t->n < t->cap) {
            pqx_event *ev = &t->ev[t->n++];
            *ev = (pqx_event){ .conn = rec->conn, .t_send = now };
            snprintf(ev->sql, sizeof ev->sql, "%s", sql);
            err_one_line(ev->sql);
        } else {
            t->dropped++;
        }
        /* A rule says what it does; the explorer's gate (its rules' text
         * "explore") says which fault it chose. */
        bool gate = rule && strcmp(rule, "explore") == 0 && action;
        if (rule && rec->faults++ == 0)
            snprintf(rec->fault, sizeof rec->fault, "%s%s%s at statement %ld of worker %d: %.60s", rule,
                     gate ? ": " : "", gate ? action : "", stmt, worker + 1, sql);
    }
    pthread_mutex_unlock(&slots_mu);
}

void faultctl_interrupt(PGconn *conn)
{
    if (shim.interrupt)
        shim.interrupt(conn);
}

int faultctl_faults_of(const call_record *rec)
{
    pthread_mutex_lock(&slots_mu);
    int n = rec->faults;
    pthread_mutex_unlock(&slots_mu);
    return n;
}

/* The shim's gate: the statement of a worker thread's call, in the
 * engine's terms, to the installed gate; once let go, its trace event is
 * stamped as sent now (it was stamped when the worker reached the gate,
 * which under the explorer is long before). */
static int shim_gate(void *arg, PGconn *conn, const char *sql, uint64_t params)
{
    (void)arg;
    if (!current || !gate_fn)
        return PGF_GATE_GO;
    PGTransactionStatusType ts = PQtransactionStatus(conn);
    faultctl_stmt st = { .worker = current->worker, .pid = PQbackendPID(conn),
                         .tx_status = ts == PQTRANS_INTRANS ? 'T' : ts == PQTRANS_INERROR ? 'E' : 'I',
                         .app = PQparameterStatus(conn, "application_name"), .sql = sql,
                         .params = params };
    int action = gate_fn(gate_arg, &st);
    if (current_trace && current_trace->n > 0)
        current_trace->ev[current_trace->n - 1].t_send = clock_now_ns();
    return action;
}

void faultctl_set_gate(faultctl_gate_fn fn, void *arg)
{
    if (way) {
        way->set_gate(way_self, fn, arg);
        return;
    }
    gate_fn = fn;
    gate_arg = arg;
    if (shim.set_gate)
        shim.set_gate(fn ? shim_gate : NULL, NULL);
}

void faultctl_way_exempt(bool on)
{
    if (way)
        way->exempt(way_self, on);
}

int faultctl_worker_backends(int worker, int *pids, int max)
{
    return way ? way->backends(way_self, worker, pids, max) : -1;
}
