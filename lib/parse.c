/* parse.c — numbers and durations (see parse.h). */
#include "lib/parse.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define DIGIT(c) ((c) >= '0' && (c) <= '9')

int parse_duration_n(const char *s, size_t len, int64_t max_ns, int64_t *ns)
{
    size_t i = 0;
    double v = 0, scale = 1;
    if (len == 0 || !DIGIT(s[0]))
        return -1;
    for (; i < len && DIGIT(s[i]); i++)
        if ((v = v * 10 + (s[i] - '0')) > 1e15)
            return -1;
    if (i < len && s[i] == '.') {
        if (++i == len || !DIGIT(s[i]))
            return -1;
        for (double f = 0.1; i < len && DIGIT(s[i]); i++, f /= 10)
            v += (s[i] - '0') * f;
    }
    const char *u = s + i;
    size_t ulen = len - i;
    if (ulen == 2 && strncmp(u, "us", 2) == 0)
        scale = 1e3;
    else if (ulen == 2 && strncmp(u, "ms", 2) == 0)
        scale = 1e6;
    else if (ulen == 1 && *u == 's')
        scale = 1e9;
    else if (ulen == 1 && *u == 'm')
        scale = 60e9;
    else if (ulen == 1 && *u == 'h')
        scale = 3600e9;
    else
        return -1;
    double r = v * scale;
    if (r > (double)max_ns)
        return -1;
    *ns = (int64_t)r;
    return 0;
}

int parse_duration(const char *text, int64_t max_ns, int64_t *ns)
{
    return text ? parse_duration_n(text, strlen(text), max_ns, ns) : -1;
}

void format_duration(int64_t ns, char *buf, size_t len)
{
    static const struct { int64_t ns; const char *unit; } units[] = {
        { 3600000000000LL, "h" }, { 60000000000LL, "m" }, { 1000000000, "s" }, { 1000000, "ms" }, { 1000, "us" },
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (ns >= units[i].ns && ns % units[i].ns == 0) {
            snprintf(buf, len, "%lld%s", (long long)(ns / units[i].ns), units[i].unit);
            return;
        }
    /* Below a microsecond's precision: microseconds, rounded up, so that a
     * duration never reads back as 0. */
    snprintf(buf, len, "%lldus", (long long)((ns + 999) / 1000));
}

int parse_long(const char *text, long lo, long hi, long *out)
{
    const char *p = text;
    bool neg = *p == '-';
    if (neg && lo >= 0)
        return -1;
    p += neg;
    if (!DIGIT(*p))
        return -1;
    long v = 0;
    for (int digits = 0; DIGIT(*p); p++) {
        if (++digits > 18)      /* past any bound a caller sets, before overflow */
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (*p)
        return -1;
    v = neg ? -v : v;
    if (v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int parse_seed(const char *text, uint64_t *out)
{
    const char *p = text;
    if (!DIGIT(*p))
        return -1;
    uint64_t v = 0;
    for (; DIGIT(*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (*p)
        return -1;
    *out = v;
    return 0;
}

int parse_set(const char *text, long lo, long hi, unsigned char *set)
{
    for (long v = 0; v <= hi; v++)
        set[v] = 0;
    int any = 0;
    for (const char *p = text;; p++) {
        char item[32];
        size_t n = strcspn(p, ",");
        if (n == 0 || n >= sizeof item)
            return -1;
        memcpy(item, p, n);
        item[n] = '\0';
        char *dash = strchr(item, '-');
        long a, b;
        if (dash)
            *dash = '\0';
        if (parse_long(item, lo, hi, &a) < 0 || (dash ? parse_long(dash + 1, a, hi, &b) : (b = a, 0)) < 0)
            return -1;
        for (long v = a; v <= b; v++)
            set[v] = 1;
        any = 1;
        p += n;
        if (!*p)
            break;
    }
    return any ? 0 : -1;
}
