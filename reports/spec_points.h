/*
 * points.h — the points of a `pgrace spec` run, kept for the report files
 * written at its end (--junit, --json, --html): one record per
 * permutation, with its verdict, reason, time and diagnostics (the TAP
 * YAML block's object, and that block as text).
 */
#ifndef PGRACE_SPEC_POINTS_H
#define PGRACE_SPEC_POINTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct spec_point {
    int file;                   /* index into the run's files */
    char *name;                 /* the permutation, as the TAP point names it */
    bool ok;                    /* ok, or skipped */
    bool error;                 /* it could not complete (else: an invariant failed) */
    bool skipped;               /* an explored interleaving that cannot run (ok, error and why set) */
    char *why;                  /* not ok or skipped: the one-line reason */
    json_t *diag;               /* the point's diagnostics (a reference held) */
    char *yaml;                 /* the same as the TAP YAML block's lines */
    double seconds;
} spec_point;

typedef struct spec_points {
    spec_point *p;
    int n, cap;
} spec_points;

/* Records a point (copies the strings, takes a reference to diag). why is
 * NULL for an ok point; an error is told from a violation by diag's
 * "error" member. Returns 0 or -1 when out of memory. */
int spec_points_add(spec_points *ps, int file, const char *name, bool ok, bool skipped, const char *why,
                    json_t *diag, double seconds);

void spec_points_free(spec_points *ps);

/* "ok", "violated", "error" or "skipped": the point's verdict, also its
 * class in the HTML page. */
const char *spec_point_verdict(const spec_point *p);

/* The run as the report writers see it. */
typedef struct spec_report {
    const spec_points *points;
    const char *const *files;   /* the spec files, in the order run */
    int nfiles;
    long planned;               /* permutations the run meant to run: more than recorded when it stopped */
    uint64_t seed;
    const char *command;        /* the command line */
    time_t started;
    int server_version;         /* PQserverVersion; 0 when never connected */
} spec_report;

/* Points per verdict over the run (file -1) or one file: counts[0..3] are
 * ok, violated, error, skipped. Returns the points counted. */
int spec_report_counts(const spec_report *r, int file, int counts[4]);

/* The run's verdict: "error" if any point is or the run stopped before
 * its last, else "violated" if any point is, else "ok". */
const char *spec_report_verdict(const spec_report *r);

#endif
