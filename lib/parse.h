/*
 * parse.h — the one grammar of numbers and durations, for pgrace's command
 * lines and the fault shim's specs alike (the shim compiles this file in:
 * it depends on nothing but libc, and is locale-independent, because the
 * shim runs inside other people's programs).
 *
 *   duration = number unit          number = digits [ "." digits ]
 *   unit     = "us" | "ms" | "s" | "m" | "h"
 *
 * The unit is always written: "30" is not a duration (it used to mean
 * milliseconds in one place, seconds in another). Examples: 250us, 1.5ms,
 * 10s, 30m, 8h.
 */
#ifndef PGRACE_PARSE_H
#define PGRACE_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* The duration in s[0..len) in nanoseconds. Returns 0, or -1 when it is
 * not a duration or exceeds max_ns. */
int parse_duration_n(const char *s, size_t len, int64_t max_ns, int64_t *ns);

/* The same for a NUL-terminated string. */
int parse_duration(const char *text, int64_t max_ns, int64_t *ns);

/* ns as the shortest exact duration text ("10s", "1500ms", "250us"), into
 * buf: what parse_duration reads back. */
void format_duration(int64_t ns, char *buf, size_t len);

/* A whole decimal number in [lo, hi], no sign unless lo < 0, nothing
 * after it. Returns 0 or -1. */
int parse_long(const char *text, long lo, long hi, long *out);

/* A seed: a whole decimal number from 0 to 2^64 - 1. Returns 0 or -1. */
int parse_seed(const char *text, uint64_t *out);

/* A set of whole numbers in [lo, hi] written "N" or "N-M", comma-separated
 * ("2,70-79"): set[v] for each v in it (set has hi + 1 entries, cleared
 * first). Returns 0, or -1 when text is not one or names none. */
int parse_set(const char *text, long lo, long hi, unsigned char *set);

#endif
