/*
 * control.c — loading the shim and the control API for pgrace.
 *
 * The constructor resolves libpq, reads PGFAULT once and refuses to run the
 * program on bad rules: one line on stderr naming the token, exit status 2.
 * A shim that silently ignored its rules would let a test pass that injected
 * nothing.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "faults/pgf_int.h"

PGF_TLS int pgf_depth;
PGF_TLS int pgf_exempt;

static void atfork_child(void)
{
    pgf_rules_atfork_child();
}

__attribute__((constructor)) static void pgf_load(void)
{
    char err[PGF_ERRLEN];
    pgf_real_init();
    pgf_dl_init();
    pgf_log_init();
    pthread_atfork(NULL, NULL, atfork_child);
    const char *rules = getenv("PGFAULT");
    if (pgf_install(rules, err, sizeof err) < 0) {
        fprintf(stderr, "pgfault: %s\n", err);
        _exit(2);
    }
}

PGF_API int pgf_configure(const char *rules, char *err, size_t errlen)
{
    return pgf_install(rules, err, errlen);
}

PGF_API void pgf_thread_exempt(int on)
{
    pgf_exempt = on != 0;
}

PGF_API void pgf_reset_ordinals(void)
{
    pgf_conn_reset_ordinals();
}

PGF_API void pgf_interrupt(PGconn *conn)
{
    pgf_interrupt_conn(conn);
}

PGF_API void pgf_set_gate(pgf_gate_fn fn, void *arg)
{
    pgf_gate_install(fn, arg);
}
