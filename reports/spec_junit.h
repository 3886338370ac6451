/*
 * junit.h — `pgrace spec --junit F`: the run's points as JUnit XML, valid
 * against the strict Ant schema (../shared/schemas/JUnit.xsd) that
 * reports/junit.c also writes to: one <testsuite> per spec file, one
 * <testcase> per permutation, a <failure> (an invariant returned rows) or
 * an <error> (the permutation could not complete) holding the point's YAML.
 */
#ifndef PGRACE_SPEC_JUNIT_H
#define PGRACE_SPEC_JUNIT_H

#include "reports/spec_points.h"

/* Writes path. Returns 0 or -1 with a one-line reason. */
int spec_junit_write(const spec_report *r, const char *path, char *err, size_t errlen);

#endif
