/*
 * logline.c — one JSON line per fired fault, appended to a log file: the
 * format PGFAULT_LOG (the shim) and `pgrace proxy --log` (the wire proxy)
 * share (grammar.h: pgf_log_write).
 *
 * Runs only on the (rare) fault path, so it may format and open files.  The
 * log is opened O_APPEND for each line and written with one write(2): lines
 * from threads and processes sharing the file never interleave.  The shim
 * does not link jansson (it is loaded into other people's programs), so the
 * line is escaped by hand.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "faults/grammar.h"

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

void pgf_log_write(const char *path, int conn, long stmt, const struct pgf_rule *rule, const char *sql)
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
        conn, stmt, rule->index);
    n = json_str(line, sizeof line, n, rule->text, 400);
    n += (size_t)snprintf(line + n, sizeof line - n, ",\"action\":");
    n = json_str(line, sizeof line, n, rule->action_text, 100);
    n += (size_t)snprintf(line + n, sizeof line - n, ",\"sql\":");
    n = json_str(line, sizeof line, n, sql, 200);
    if (n + 2 > sizeof line) n = sizeof line - 2;
    line[n++] = '}';
    line[n++] = '\n';
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return; /* the fault itself matters more than its log line */
    ssize_t w = write(fd, line, n);
    (void)w;
    close(fd);
}
