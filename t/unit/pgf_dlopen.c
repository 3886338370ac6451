/*
 * pgf_dlopen.c — a libpq client built the way FFI bindings are: it never
 * links libpq, it dlopens it and calls it only through dlsym on the handle.
 * Run against a server with PGFAULT='sql=/pgf-dl/:when=1+:error=40001', it
 * checks that every way of opening libpq (soname, path, real path,
 * "libpq.so", RTLD_NOLOAD, dlmopen, dlopen(NULL)) reaches the shim's
 * wrappers, that the functions the shim does not wrap still come from libpq,
 * that handles count and close as usual, that other libraries and a copy of
 * libpq at another inode are left alone, and N threads dlopening at once.
 *
 * Two builds of this file (see the Makefile): build/t/pgf_dlopen has the
 * shim's objects linked in, like pgf_count, so that the sanitizer builds run
 * it (t/30-shim-count.t); build/t/dlopen_client links neither the shim nor
 * libpq and gets the shim by LD_PRELOAD (t/30-shim-clients.t).  Run bare it
 * bails out (it is not in prove's list of unit tests).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libpq-fe.h> /* types and constants only: nothing is linked */

#include "t/unit/check.h"

#define SONAME "libpq.so.5"


/* The libpq functions this client uses, all looked up on one handle. */
struct pq {
    PGconn *(*connectdb)(const char *);
    ConnStatusType (*status)(const PGconn *);
    PGresult *(*exec)(PGconn *, const char *);
    int (*send_params)(PGconn *, const char *, int, const Oid *, const char *const *, const int *,
                       const int *, int);
    PGresult *(*get_result)(PGconn *);
    ExecStatusType (*result_status)(const PGresult *);
    char *(*error_field)(const PGresult *, int);
    void (*clear)(PGresult *);
    void (*finish)(PGconn *);
    int (*lib_version)(void);
};

#define LOOKUP(h, field, name) (*(void **)&pq->field = dlsym(h, name)) != NULL

static int pq_load(void *h, struct pq *pq)
{
    return LOOKUP(h, connectdb, "PQconnectdb") && LOOKUP(h, status, "PQstatus")
        && LOOKUP(h, exec, "PQexec") && LOOKUP(h, send_params, "PQsendQueryParams")
        && LOOKUP(h, get_result, "PQgetResult") && LOOKUP(h, result_status, "PQresultStatus")
        && LOOKUP(h, error_field, "PQresultErrorField") && LOOKUP(h, clear, "PQclear")
        && LOOKUP(h, finish, "PQfinish") && LOOKUP(h, lib_version, "PQlibVersion");
}

/* Run sql; its SQLSTATE into state ("" on success). */
static const char *run(const struct pq *pq, PGconn *c, const char *sql, char *state)
{
    PGresult *r = pq->exec(c, sql);
    ExecStatusType st = pq->result_status(r);
    const char *s = pq->error_field(r, PG_DIAG_SQLSTATE);
    snprintf(state, 6, "%s", (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? "" : s ? s : "?????");
    pq->clear(r);
    return state;
}

/* The same through PQsendQueryParams and PQgetResult, as psycopg 3 sends
 * every statement: libpq's PQexec reaches the (interposed) PQsendQuery
 * through its PLT, PQsendQueryParams reaches no other wrapper. */
static const char *run_async(const struct pq *pq, PGconn *c, const char *sql, char *state)
{
    PGresult *r;
    snprintf(state, 6, "%s", pq->send_params(c, sql, 0, NULL, NULL, NULL, NULL, 0) ? "" : "send!");
    while ((r = pq->get_result(c)) != NULL) {
        ExecStatusType st = pq->result_status(r);
        const char *s = pq->error_field(r, PG_DIAG_SQLSTATE);
        if (!state[0] && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) snprintf(state, 6, "%s", s ? s : "?????");
        pq->clear(r);
    }
    return state;
}

/* The PQexec every libpq call should reach: the shim's wrapper, which the
 * global scope finds (the shim is preloaded, or linked into this program). */
static void *wrapper;

/* Everything a client of handle h needs: functions found, PQexec is the
 * shim's, the marked statement faulted with 40001 and a plain one not. */
static void check_handle(const char *how, void *h)
{
    struct pq pq;
    char st[6];
    if (!h) {
        CHECK(0, "%s: dlopen failed: %s", how, dlerror());
        return;
    }
    if (!pq_load(h, &pq)) {
        CHECK(0, "%s: dlsym failed: %s", how, dlerror());
        return;
    }
    CHECK(*(void **)&pq.exec == wrapper, "%s: dlsym(handle, \"PQexec\") is the shim's wrapper", how);
    Dl_info info;
    const char *from = dladdr(*(void **)&pq.lib_version, &info) && info.dli_fname ? info.dli_fname : "?";
    CHECK(strstr(from, "libpq") && pq.lib_version() > 0, "%s: PQlibVersion comes from libpq (%s)", how, from);
    PGconn *c = pq.connectdb("");
    if (pq.status(c) != CONNECTION_OK) check_bail("%s: cannot connect", how);
    CHECK(strcmp(run(&pq, c, "SELECT 1 /* pgf-dl */", st), "40001") == 0,
       "%s: PQexec through the handle gets the injected 40001 (got '%s')", how, st);
    CHECK(strcmp(run_async(&pq, c, "SELECT 2 /* pgf-dl */", st), "40001") == 0,
       "%s: PQsendQueryParams through the handle gets the injected 40001 (got '%s')", how, st);
    CHECK(run(&pq, c, "SELECT 1", st)[0] == '\0' && run_async(&pq, c, "SELECT 2", st)[0] == '\0',
       "%s: an unmatched statement runs", how);
    pq.finish(c);
}

/* The link map's name of handle h, or "" */
static const char *map_name(void *h)
{
    struct link_map *lm = NULL;
    return h && dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm ? lm->l_name : "";
}

/* Copy file from to to; 0 or -1. */
static int copy_file(const char *from, const char *to)
{
    char buf[65536];
    ssize_t n = 0;
    int in = open(from, O_RDONLY | O_CLOEXEC);
    int out = in < 0 ? -1 : open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
    while (out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n) n = -1;
    if (in >= 0) close(in);
    if (out >= 0 && close(out) != 0) n = -1;
    return in < 0 || out < 0 || n < 0 ? -1 : 0;
}

/* A second libpq, same soname and contents, at another inode: not ours. */
static void check_copy(const char *real)
{
    char dir[] = "/tmp/pgf_dlopen.XXXXXX", copy[PATH_MAX];
    if (!mkdtemp(dir)) check_bail("mkdtemp: %s", strerror(errno));
    snprintf(copy, sizeof copy, "%s/%s", dir, SONAME);
    if (copy_file(real, copy) != 0) check_bail("copy %s to %s failed", real, copy);
    void *h = dlopen(copy, RTLD_NOW | RTLD_LOCAL);
    CHECK(h && strcmp(map_name(h), copy) == 0 && dlsym(h, "PQexec") != wrapper,
       "a copy of libpq at another inode is loaded as itself, not the shim (%s)", h ? map_name(h) : dlerror());
    if (h) dlclose(h);
    unlink(copy);
    rmdir(dir);
}

#define THREADS 8
#define ROUNDS 100
static atomic_int thread_bad;

static void *dlopen_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        void *h = dlopen(SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!h || dlsym(h, "PQexec") != wrapper || dlclose(h) != 0) atomic_fetch_add(&thread_bad, 1);
        void *m = dlopen("libm.so.6", RTLD_LAZY);
        if (!m || !dlsym(m, "cos") || dlclose(m) != 0) atomic_fetch_add(&thread_bad, 1);
    }
    return NULL;
}

int main(void)
{
    if (!getenv("PGHOST") && !getenv("PGDATABASE"))
        check_bail("needs a server in PGHOST and PGFAULT: t/30-shim-clients.t and t/30-shim-count.t run this");
    wrapper = dlsym(RTLD_DEFAULT, "PQexec");
    if (!wrapper) check_bail("no PQexec in the global scope: the shim is not loaded");

    /* ctypes' mode (psycopg 3). */
    void *h = dlopen(SONAME, RTLD_NOW | RTLD_LOCAL);
    check_handle("soname " SONAME, h);
    Dl_info info;
    void *version = h ? dlsym(h, "PQlibVersion") : NULL;
    if (!version || !dladdr(version, &info)) check_bail("cannot find libpq's path");
    char path[PATH_MAX], real[PATH_MAX], dir[PATH_MAX], dev[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s", info.dli_fname);
    if (!realpath(path, real)) check_bail("realpath(%s): %s", path, strerror(errno));

    void *h2 = dlopen(path, RTLD_LAZY);
    check_handle(path, h2);
    void *h3 = dlopen(real, RTLD_NOW | RTLD_GLOBAL);
    check_handle(real, h3);
    CHECK(h == h2 && h2 == h3, "soname, path and real path give one handle");

    /* libpq-dev's symlink, by bare name (LuaJIT's ffi.load("pq") does this). */
    snprintf(dir, sizeof dir, "%s", real);
    *strrchr(dir, '/') = '\0';
    snprintf(dev, sizeof dev, "%s/libpq.so", dir);
    struct stat sb;
    if (stat(dev, &sb) == 0) {
        void *h4 = dlopen("libpq.so", RTLD_NOW);
        check_handle("bare name libpq.so", h4);
        if (h4) dlclose(h4);
    } else {
        check_skip("bare name libpq.so: no %s", dev);
    }

    void *h5 = dlopen(SONAME, RTLD_LAZY | RTLD_NOLOAD);
    check_handle("RTLD_NOLOAD", h5);
    void *h6 = dlmopen(LM_ID_BASE, SONAME, RTLD_NOW);
    check_handle("dlmopen(LM_ID_BASE)", h6);
    void *h7 = dlopen(NULL, RTLD_NOW);
    check_handle("dlopen(NULL)", h7);

    /* Each handle is a reference of its own. */
    int closed = 0;
    void *all[] = {h, h2, h3, h5, h6, h7};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) closed += all[i] && dlclose(all[i]) == 0;
    CHECK(closed == 6, "every handle closes (%d of 6)", closed);
    h = dlopen(SONAME, RTLD_NOW | RTLD_LOCAL);
    check_handle("soname again after every dlclose", h);
    if (h) dlclose(h);

    /* Other libraries are what they are. */
    void *m = dlopen("libm.so.6", RTLD_NOW);
    CHECK(m && strstr(map_name(m), "libm.so") && dlsym(m, "cos"), "libm.so.6 is libm (%s)", map_name(m));
    CHECK(m && dlclose(m) == 0, "... and closes");
    CHECK(dlopen("libpgf-no-such-library.so.1", RTLD_NOW) == NULL && strstr(dlerror(), "libpgf-no-such-library"),
       "a missing library fails with its own name in dlerror");
    m = dlopen("libm.so.6", RTLD_NOW);
    CHECK(m && dlerror() == NULL, "a successful dlopen leaves no error for dlerror");
    if (m) dlclose(m);
    check_copy(real);

    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        if (pthread_create(&th[i], NULL, dlopen_worker, NULL) != 0) check_bail("pthread_create");
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    CHECK(atomic_load(&thread_bad) == 0, "%d threads x %d dlopen/dlsym/dlclose of libpq and libm: %d wrong",
       THREADS, ROUNDS, atomic_load(&thread_bad));

    return check_done();
}
