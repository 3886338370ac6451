/*
 * real.c — libpq's own entry points behind the wrappers, and the dynamic
 * loader's dlopen/dlmopen behind dl.c's.
 *
 * One helper resolves them all with dlsym(RTLD_NEXT) at load time (the
 * constructor calls pgf_real_init before anything else can run).  A wrapper
 * reached before that (another library's constructor calling libpq) resolves
 * on the spot: pgf_real_init is idempotent and the pointers are written once
 * with the same value, so a racing second resolution is harmless.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "faults/pgf_int.h"

struct pgf_real pgf_real;

static void *resolve(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (!p) {
        /* Without the real function a wrapper can do nothing sensible; the
         * shim links libpq, so this means a broken installation. */
        const char *e = dlerror();
        fprintf(stderr, "pgfault: cannot resolve %s: %s\n", name, e ? e : "not found");
        _exit(2);
    }
    return p;
}

#define RESOLVE(f) do { if (!pgf_real.f) *(void **)(&pgf_real.f) = resolve(#f); } while (0)

void pgf_real_init(void)
{
    RESOLVE(PQexec);
    RESOLVE(PQexecParams);
    RESOLVE(PQprepare);
    RESOLVE(PQexecPrepared);
    RESOLVE(PQsendQuery);
    RESOLVE(PQsendQueryParams);
    RESOLVE(PQsendPrepare);
    RESOLVE(PQsendQueryPrepared);
    RESOLVE(PQgetResult);
    RESOLVE(PQconnectdb);
    RESOLVE(PQconnectdbParams);
    RESOLVE(PQsetdbLogin);
    RESOLVE(PQconnectStart);
    RESOLVE(PQconnectStartParams);
    RESOLVE(PQreset);
    RESOLVE(PQresetStart);
    RESOLVE(PQfinish);
    RESOLVE(dlopen);
    RESOLVE(dlmopen);
}
