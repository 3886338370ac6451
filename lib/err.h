/*
 * err.h — the one error idiom of pgrace.
 *
 * Functions that can fail return 0 on success and -1 on failure, and describe
 * the failure in a caller-supplied buffer (Redis anet.c style). The message
 * is one line, so that a CLI can print it as is.
 */
#ifndef PGRACE_ERR_H
#define PGRACE_ERR_H

#include <stddef.h>

/* Formats a one-line message into err (if err is non-NULL); newlines in the
 * formatted text become spaces so multi-line libpq messages stay one line. */
void err_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like err_set, with ": strerror(saved_errno)" appended. */
void err_sys(char *err, size_t errlen, int saved_errno, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Collapses a message to one line in place (newlines/tabs to spaces, trailing
 * space trimmed). Returns s. */
char *err_one_line(char *s);

#define ERRLEN 512

#endif
