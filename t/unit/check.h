/*
 * check.h — the one TAP kit of the C unit tests (the .c files of t/unit), after
 * c-tap-harness's basic.h: a numbered point per CHECK, the plan (declared
 * first with check_plan, else printed at the end), and a process exit
 * status that says whether every planned point ran and passed.
 *
 *   int main(void)
 *   {
 *       CHECK(1 + 1 == 2, "one and one make %d", 2);
 *       return check_done();
 *   }
 *
 * Header only and libc only: the shim's tests link neither lib/ nor
 * jansson (the dlopen client not even libpq), and use it too. One test
 * program per file that includes it; points come from one thread at a
 * time.
 *
 * The process that made the first point (or the plan) is the one that
 * counts: only it prints the plan and the summary, so a forked child that
 * exits says nothing. check_done() prints them and returns the status; a
 * program that leaves by exit() or a return from main without it gets the
 * same at exit, and exits 1 when a point failed or the count is not the
 * plan. A program that ran no point prints no plan (a "1..0" would read as
 * a skip): it fails. There is no skip_all: a test that cannot run where
 * prove runs it is not in prove's list (see the Makefile's UNIT_TESTS); a
 * single point that does not apply here is check_skip, never an "ok" with
 * "# SKIP" written by hand (a '#' in a description is made a space).
 */
#ifndef PGRACE_CHECK_H
#define PGRACE_CHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static struct {
    unsigned long run, failed, planned;
    pid_t owner;                /* the process that counts; 0 before the first point */
    bool done, bailed;
} check_state;

static int check_done(void);

/* At exit, in the counting process, unless check_done or check_bail ran:
 * the plan and summary, and a failing status even after exit(0). */
static void check_at_exit(void)
{
    if (check_state.owner != getpid() || check_state.done || check_state.bailed)
        return;
    int status = check_done();
    if (status != 0) {
        fflush(stdout);
        _exit(status);
    }
}

static void check_own(void)
{
    if (check_state.owner)
        return;
    check_state.owner = getpid();
    if (atexit(check_at_exit) != 0) {
        printf("Bail out! cannot register the exit handler\n");
        exit(255);
    }
}

/* Declares n points up front ("1..n"); check_done then fails unless
 * exactly n ran. */
static inline void check_plan(unsigned long n)
{
    check_own();
    check_state.planned = n;
    printf("1..%lu\n", n);
    fflush(stdout);
}

static void check_vpoint(bool ok, const char *directive, const char *fmt, va_list ap)
{
    char desc[1024];
    vsnprintf(desc, sizeof desc, fmt, ap);
    for (char *p = desc; *p; p++)
        if (*p == '#' || *p == '\n')
            *p = ' ';
    check_own();
    check_state.run++;
    if (!ok)
        check_state.failed++;
    printf("%sok %lu - %s%s%s\n", ok ? "" : "not ", check_state.run, desc, directive ? " # " : "",
           directive ? directive : "");
    fflush(stdout);
}

/* One point; returns ok. */
__attribute__((format(printf, 2, 3))) static inline bool check_ok(bool ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    check_vpoint(ok, NULL, fmt, ap);
    va_end(ap);
    return ok;
}

#define CHECK(cond, ...) check_ok((cond), __VA_ARGS__)

/* A point that does not apply here: "ok N - description # SKIP". */
__attribute__((format(printf, 1, 2))) static inline void check_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    check_vpoint(true, "SKIP", fmt, ap);
    va_end(ap);
}

/* "# ..." lines: what a reader needs to understand a failure. */
__attribute__((format(printf, 1, 2))) static inline void check_diag(const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (char *line = buf, *nl; line; line = nl) {
        if ((nl = strchr(line, '\n')))
            *nl++ = '\0';
        if (*line || nl)
            printf("# %s\n", line);
    }
    fflush(stdout);
}

/* A setup failure that ends the test: "Bail out! ...", exit 255. */
__attribute__((format(printf, 1, 2), noreturn)) static inline void check_bail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("Bail out! ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    check_state.bailed = true;
    exit(255);
}

/* Every planned point ran and passed (with no plan declared: at least one
 * ran). */
static bool check_passed(void)
{
    unsigned long n = check_state.planned ? check_state.planned : check_state.run;
    return n > 0 && check_state.run == n && check_state.failed == 0;
}

/* The plan (when none was declared) and the summary; the exit status: 0
 * when every planned point ran and passed, else 1. Outside the counting
 * process: 0, and nothing printed. */
static int check_done(void)
{
    check_own();
    if (check_state.owner != getpid())
        return 0;
    if (check_state.done)
        return check_passed() ? 0 : 1;
    check_state.done = true;
    if (check_state.run == 0 && check_state.planned == 0) {
        printf("# no test point ran\n");
    } else {
        if (check_state.planned == 0)
            printf("1..%lu\n", check_state.run);
        unsigned long n = check_state.planned ? check_state.planned : check_state.run;
        if (check_state.run != n)
            printf("# Looks like you planned %lu test%s but ran %lu\n", n, n == 1 ? "" : "s", check_state.run);
        else if (check_state.failed)
            printf("# Looks like you failed %lu test%s of %lu\n", check_state.failed,
                   check_state.failed == 1 ? "" : "s", n);
    }
    fflush(stdout);
    return check_passed() ? 0 : 1;
}

#endif
