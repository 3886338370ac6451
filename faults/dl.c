/*
 * dl.c — libpq opened with dlopen and called by handle (FFI bindings).
 *
 * psycopg 3's pure-Python binding (ctypes.CDLL("libpq.so.5")) and FFI
 * bindings in other languages dlopen libpq and look its functions up with
 * dlsym(handle, name).  dlsym on a handle searches that object, then its
 * dependencies breadth first: never the preloaded shim, so LD_PRELOAD alone
 * does not reach those calls.  The shim's dlopen answers a request that
 * designates *our* libpq with a handle on the object carrying the wrappers
 * (the shim; the program itself when the shim's objects are linked into it,
 * as in the sanitizer tests).  dlsym on that handle finds a wrapper first,
 * and any other libpq symbol in the shim's dependencies, where libpq (a
 * DT_NEEDED of the shim) is the one that defines it.
 *
 * Our libpq is the object defining the PQexec real.c resolved.  Whether a
 * name designates it is decided by the dynamic linker itself: a RTLD_NOLOAD
 * probe (it loads nothing and runs no constructor) whose link map is compared
 * with libpq's.  ld.so matches a name against the loaded objects' names
 * (soname, path), then a file it found by device and inode: the soname,
 * "libpq.so", an absolute path or a symlink designate our libpq; a copy of
 * libpq elsewhere, or any other library whose name contains "pq", does not.
 *
 * Every other request goes to the real dlopen as a *tail call*.  glibc takes
 * its return address as the caller, whose RPATH/RUNPATH and $ORIGIN apply to
 * the search and whose namespace gets the object; a tail call leaves the
 * program's own caller there.  So no local of the wrappers has its address
 * taken (that would forbid the sibling call): the probe and the answer live
 * in noinline functions, and the Makefile compiles this file optimized.
 * t/30-shim-clients.t checks a RUNPATH and an $ORIGIN lookup through the
 * shim.
 *
 * dlsym is not interposed: glibc resolves RTLD_NEXT relative to dlsym's
 * caller, which a wrapper would turn into the shim for every program.
 */
#include <link.h>
#include <stdio.h>
#include <string.h>

#include "faults/pgf_int.h"

static const void *_Atomic libpq_map;  /* link map defining the real PQexec */
static const char *_Atomic self_name;  /* l_name of the wrappers' object; "" = the program */
static atomic_int dl_state;            /* 0: not yet identified, 1: ready, -1: never claim */
static atomic_flag warned = ATOMIC_FLAG_INIT;

/* One line on stderr, once per process: the program runs on, unfaulted
 * through dlopen'd libpq handles, and the user must know it. */
static void warn_once(const char *what, const char *detail)
{
    if (atomic_flag_test_and_set(&warned)) return;
    fprintf(stderr, "pgfault: %s (%s): calls through a dlopen'd libpq handle are not faulted\n",
            what, detail ? detail : "unknown error");
}

/*
 * Identify our libpq and the object carrying the wrappers, with dladdr1.
 * Called by the constructor; again, harmlessly, by a dlopen that runs before
 * it (the values are a pure function of the process).  Afterwards dl_state
 * is 1, or -1 if they cannot be identified (no dlopen is then claimed).
 */
void pgf_dl_init(void)
{
    if (atomic_load_explicit(&dl_state, memory_order_acquire)) return;
    Dl_info info;
    void *pq = NULL, *self = NULL;
    int ok = dladdr1((const void *)REAL(PQexec), &info, &pq, RTLD_DL_LINKMAP) && pq
             && dladdr1((const void *)&pgf_dl_init, &info, &self, RTLD_DL_LINKMAP) && self;
    if (ok) {
        atomic_store(&libpq_map, pq);
        atomic_store(&self_name, ((const struct link_map *)self)->l_name);
    } else {
        warn_once("cannot identify libpq with dladdr1", NULL);
    }
    atomic_store_explicit(&dl_state, ok ? 1 : -1, memory_order_release);
}

/*
 * 1 if a dlopen of file would give our libpq, else 0.  NULL (the program) is
 * not libpq; nor is a name with a dynamic string token: $ORIGIN expands
 * relative to the caller, which is the shim here, so such a request is left
 * to the real dlopen.  A bare name is searched as ld.so searches for the
 * shim: without the calling object's own RPATH/RUNPATH (see README).
 */
static __attribute__((noinline)) int names_libpq(const char *file)
{
    if (!file || strchr(file, '$')) return 0;
    pgf_dl_init();
    const void *pq = atomic_load(&libpq_map);
    if (!pq) return 0;
    pgf_depth++; /* a destructor run by the dlclose below may dlopen */
    void *h = REAL(dlopen)(file, RTLD_LAZY | RTLD_NOLOAD);
    void *lm = NULL;
    int ours = h && dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm == pq;
    if (h) dlclose(h);
    pgf_depth--;
    return ours;
}

/*
 * The answer to a request for our libpq: a new reference to the wrappers'
 * object, opened with the caller's mode (already loaded: RTLD_NOLOAD), which
 * the caller's dlclose drops again; the shim is never unloaded (preloaded,
 * and linked -z nodelete).  If that fails with a mode that is valid, the
 * caller gets the real libpq, unfaulted, and a warning; with an invalid mode
 * the real dlopen fails as it would have.
 */
static __attribute__((noinline)) void *claim(const char *file, int mode)
{
    const char *self = atomic_load(&self_name);
    char why[256] = "";
    pgf_depth++;
    void *h = self[0] ? REAL(dlopen)(self, mode | RTLD_NOLOAD) : REAL(dlopen)(NULL, mode);
    if (!h) {
        const char *e = dlerror();
        snprintf(why, sizeof why, "%s", e ? e : "");
        h = REAL(dlopen)(file, mode);
        if (h) warn_once("cannot answer dlopen of libpq with the shim", why);
    }
    pgf_depth--;
    return h;
}

EXPORT void *dlopen(const char *file, int mode)
{
    if (pgf_depth || !names_libpq(file)) return REAL(dlopen)(file, mode); /* tail call */
    return claim(file, mode);
}

/* Only the base namespace holds the shim: a libpq loaded into another
 * namespace is a copy of its own, which the shim does not see. */
EXPORT void *dlmopen(Lmid_t nsid, const char *file, int mode)
{
    if (pgf_depth || nsid != LM_ID_BASE || !names_libpq(file))
        return REAL(dlmopen)(nsid, file, mode); /* tail call */
    return claim(file, mode);
}
