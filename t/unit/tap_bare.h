/*
 * tap_bare.h — TAP for the shim's own tests, which link neither lib/ nor
 * jansson (the shim depends on libc and libpq only; the dlopen client not
 * even on libpq): a numbered point each, the plan and the exit status at
 * the end. Header-only, one test program per file that includes it.
 */
#ifndef PGRACE_TAP_BARE_H
#define PGRACE_TAP_BARE_H

#include <stdarg.h>
#include <stdio.h>

static int tap_bare_n;
static int tap_bare_failures;

__attribute__((format(printf, 2, 3))) static void ok(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%sok %d - ", cond ? "" : "not ", ++tap_bare_n);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (!cond)
        tap_bare_failures++;
    fflush(stdout);
}

/* Prints the plan; the program's exit status. */
static int tap_bare_done(void)
{
    printf("1..%d\n", tap_bare_n);
    return tap_bare_failures ? 1 : 0;
}

#endif
