/* err.c — one-line error messages into caller buffers (see err.h). */
#include "lib/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

char *err_one_line(char *s)
{
    size_t n = 0;
    for (char *p = s; *p; p++, n++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    while (n > 0 && s[n - 1] == ' ')
        s[--n] = '\0';
    return s;
}

void err_set(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    err_one_line(err);
}

void err_sys(char *err, size_t errlen, int saved_errno, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < errlen)
        snprintf(err + n, errlen - (size_t)n, ": %s", strerror(saved_errno));
    err_one_line(err);
}
