/*
 * tap.h — a thread-safe TAP version 13 emitter with YAML diagnostics.
 *
 * Debian 12's prove (Test::Harness 3.44) rejects "TAP version 14", so the
 * stream declares 13. Diagnostics are a jansson object rendered as a YAML
 * block under the failing point; strings are written as JSON strings, which
 * are valid YAML double-quoted scalars, so no value can break the block.
 * Every call takes one lock: lines from several threads never interleave.
 */
#ifndef PGRACE_TAP_H
#define PGRACE_TAP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

/* Starts a stream on out ("TAP version 13"). */
void tap_begin(FILE *out);
/* "1..n". */
void tap_plan(int n);
/* One test point, numbered in order; diag (may be NULL) is rendered as a
 * YAML block. Returns ok. */
bool tap_point(bool ok, json_t *diag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A skipped point: "ok N - description # SKIP reason". */
void tap_skip(const char *reason, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A "# ..." comment line (one per line of the formatted text). */
void tap_comment(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "Bail out! ..." for setup failures that end the run. */
void tap_bail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Points emitted so far. */
int tap_count(void);

/* Renders value as YAML at the given indent into out (exposed for tests). */
void tap_yaml(FILE *out, json_t *value, int indent);

#endif
