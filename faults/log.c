/*
 * log.c — what happens when a fault fires: the counter, the observer, the
 * breakpoint function and one JSON line in $PGFAULT_LOG.
 *
 * Runs only on the (rare) fault path, so it may format and open files.  The
 * log is opened O_APPEND for each line and written with one write(2): lines
 * from threads and processes sharing the file never interleave.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "faults/pgf_int.h"

static char log_path[4096];
static atomic_ulong fired_total;
static pgf_observer_fn _Atomic observer;
static void *_Atomic observer_arg;

/* PGFAULT_LOG is read once, at load: getenv is not safe against a
 * concurrent setenv in a threaded program. */
void pgf_log_init(void)
{
    const char *p = getenv("PGFAULT_LOG");
    if (p && *p) snprintf(log_path, sizeof log_path, "%s", p);
}

PGF_API __attribute__((noinline)) void pgf_fault_fired(void)
{
    /* Keep the call: this function exists to carry a breakpoint. */
    __asm__ volatile("" ::: "memory");
}

PGF_API unsigned long pgf_fired_total(void)
{
    return atomic_load(&fired_total);
}

PGF_API void pgf_set_observer(pgf_observer_fn fn, void *arg)
{
    atomic_store(&observer_arg, arg);
    atomic_store(&observer, fn);
}

/* Append s (at most max bytes, cut on a UTF-8 boundary) as a JSON string. */
static size_t json_str(char *out, size_t cap, size_t n, const char *s, size_t max)
{
    size_t len = strlen(s);
    if (len > max) {
        len = max;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80) len--;
    }
    if (n < cap) out[n++] = '"';
    for (size_t i = 0; i < len && n + 8 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') { out[n++] = '\\'; out[n++] = (char)ch; }
        else if (ch == '\n') { out[n++] = '\\'; out[n++] = 'n'; }
        else if (ch == '\t') { out[n++] = '\\'; out[n++] = 't'; }
        else if (ch < 0x20 || ch == 0x7f) n += (size_t)snprintf(out + n, cap - n, "\\u%04x", ch);
        else out[n++] = (char)ch;
    }
    if (n < cap) out[n++] = '"';
    return n;
}

static void write_log(const struct pgf_call *c, const struct pgf_decision *d)
{
    char line[8192]; /* fits the worst case: 400 + 200 bytes escaped 6-fold */
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = (size_t)snprintf(line, sizeof line,
        "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ\",\"pid\":%ld,\"tid\":%ld,"
        "\"conn\":%d,\"stmt\":%ld,\"rule\":%d,\"rule_text\":",
        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
        ts.tv_nsec / 1000, (long)getpid(), (long)syscall(SYS_gettid),
        d->conn_ordinal, d->stmt_ordinal, d->rule->index);
    n = json_str(line, sizeof line, n, d->rule->text, 400);
    n += (size_t)snprintf(line + n, sizeof line - n, ",\"action\":");
    n = json_str(line, sizeof line, n, d->rule->action_text, 100);
    n += (size_t)snprintf(line + n, sizeof line - n, ",\"sql\":");
    n = json_str(line, sizeof line, n, c->sql, 200);
    if (n + 2 > sizeof line) n = sizeof line - 2;
    line[n++] = '}';
    line[n++] = '\n';
    int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return; /* the fault itself matters more than its log line */
    ssize_t w = write(fd, line, n);
    (void)w;
    close(fd);
}

void pgf_fired(const struct pgf_call *c, const struct pgf_decision *d)
{
    atomic_fetch_add(&fired_total, 1);
    pgf_fault_fired();
    if (log_path[0]) write_log(c, d);
    pgf_observer_fn fn = atomic_load(&observer);
    if (fn) {
        pgf_event ev = {d->conn_ordinal, d->stmt_ordinal, d->rule->index, d->rule->text,
                        d->rule->action_text, c->sql};
        fn(&ev, atomic_load(&observer_arg));
    }
}
