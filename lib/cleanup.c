/* cleanup.c — the teardown registry and the signal thread (see cleanup.h). */
#include "lib/cleanup.h"

#include "lib/err.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CLEANUP_MAX 32

struct action { cleanup_fn fn; void *arg; bool live; };

/* One lock orders the exit path against the signal thread: whichever takes
 * it first runs the actions; the other finds them already done. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct action actions[CLEANUP_MAX];
static int nactions;
static atomic_int signal_seen;
static _Atomic(atomic_int *) graceful;

void cleanup_graceful(atomic_int *stop) { atomic_store(&graceful, stop); }

int cleanup_push(cleanup_fn fn, void *arg)
{
    pthread_mutex_lock(&lock);
    int h = -1;
    if (nactions < CLEANUP_MAX) {
        h = nactions++;
        actions[h] = (struct action){ fn, arg, true };
    }
    pthread_mutex_unlock(&lock);
    return h;
}

void cleanup_pop(int h, bool run)
{
    if (h < 0 || h >= CLEANUP_MAX)
        return;
    pthread_mutex_lock(&lock);
    struct action a = actions[h];
    actions[h].live = false;
    if (run && a.live)
        a.fn(a.arg);
    pthread_mutex_unlock(&lock);
}

/* Runs the live actions, newest first; the caller holds the lock. */
static void run_locked(void)
{
    for (int i = nactions - 1; i >= 0; i--) {
        if (!actions[i].live)
            continue;
        actions[i].live = false;
        actions[i].fn(actions[i].arg);
    }
}

void cleanup_run_all(void)
{
    pthread_mutex_lock(&lock);
    run_locked();
    pthread_mutex_unlock(&lock);
}

int cleanup_signal_seen(void) { return atomic_load(&signal_seen); }

static sigset_t watched;

static void *signal_thread(void *unused)
{
    (void)unused;
    for (;;) {
        int sig;
        if (sigwait(&watched, &sig) != 0)
            continue;
        atomic_int *stop = atomic_exchange(&graceful, NULL);
        if (stop) {
            atomic_store(stop, sig);
            continue;
        }
        atomic_store(&signal_seen, sig);
        /* Workers may be blocked in libpq: they are not joined. The actions
         * stop the server or drop the schema under them, and the process
         * ends here. The lock is never released: a main thread that fails
         * because its server went away blocks in cleanup_run_all() instead
         * of exiting with a status of its own. */
        pthread_mutex_lock(&lock);
        run_locked();
        fprintf(stderr, "pgrace: interrupted by SIG%s; cleaned up\n", sigabbrev_np(sig));
        fflush(NULL);
        _exit(128 + sig);
    }
    return NULL;
}

int cleanup_signals_start(char *err, unsigned long errlen)
{
    sigemptyset(&watched);
    sigaddset(&watched, SIGINT);
    sigaddset(&watched, SIGTERM);
    sigaddset(&watched, SIGHUP);
    int rc = pthread_sigmask(SIG_BLOCK, &watched, NULL);
    if (rc != 0) {
        err_sys(err, errlen, rc, "pthread_sigmask");
        return -1;
    }
    /* libpq writes to sockets the server may have closed (drop faults). */
    signal(SIGPIPE, SIG_IGN);
    pthread_t t;
    rc = pthread_create(&t, NULL, signal_thread, NULL);
    if (rc != 0) {
        err_sys(err, errlen, rc, "pthread_create(signal thread)");
        return -1;
    }
    pthread_detach(t);
    return 0;
}
