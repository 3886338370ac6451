/* faultctl.c — finding and steering the fault shim (see faultctl.h). */
#include "engine/faultctl.h"

#include "faults/pgfault.h"
#include "lib/clock.h"
#include "lib/err.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
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

unsigned long faultctl_fired(void) { return shim.fired ? shim.fired() : 0; }

void faultctl_enter_call(call_record *rec, pqx_trace *trace)
{
    current = rec;
    current_trace = trace;
}

void faultctl_leave_call(void)
{
    current = NULL;
    current_trace = NULL;
}

void faultctl_mark_sent(void)
{
    if (current_trace && current_trace->n > 0)
        current_trace->ev[current_trace->n - 1].t_send = clock_now_ns();
}

void faultctl_interrupt(PGconn *conn)
{
    if (shim.interrupt)
        shim.interrupt(conn);
}

void faultctl_set_gate(pgf_gate_fn fn, void *arg)
{
    if (shim.set_gate)
        shim.set_gate(fn, arg);
}

int faultctl_gate_worker(void) { return current ? current->worker : -1; }
