/*
 * junit.h — `pgrace spec --junit F`: the run's points as JUnit XML, valid
 * against the strict Ant schema (../shared/schemas/JUnit.xsd) that
 * reports/junit.c also writes to: one <testsuite> per spec file, one
 * <testcase> per permutation, a <failure> (an invariant returned rows) or
 * an <error> (the permutation could not complete) holding the point's YAML.
 */
#ifndef PGRACE_SPEC_JUNIT_H
#define PGRACE_SPEC_JUNIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct spec_point {
    int file;                   /* index into the run's files */
    char *name;                 /* the permutation, as the TAP point names it */
    bool ok;
    bool error;                 /* it could not complete (else: an invariant failed) */
    char *why;                  /* not ok: the one-line reason */
    char *yaml;                 /* the point's diagnostics */
    double seconds;
} spec_point;

typedef struct spec_points {
    spec_point *p;
    int n, cap;
} spec_points;

/* Records a point (copies everything). why is NULL for an ok point; an
 * error is told from a violation by diag's "error" member. Returns 0 or -1
 * when out of memory. */
int spec_points_add(spec_points *ps, int file, const char *name, bool ok, const char *why, json_t *diag,
                    double seconds);

void spec_points_free(spec_points *ps);

/* Writes path. Returns 0 or -1 with a one-line reason. */
int spec_junit_write(const char *path, const spec_points *ps, const char *const *files, int nfiles, uint64_t seed,
                     char *err, size_t errlen);

#endif
