/* check.h — the C unit tests report through lib/tap, plan at the end. */
#ifndef PGRACE_CHECK_H
#define PGRACE_CHECK_H

#include "lib/tap.h"

#define CHECK(cond, ...) tap_point((cond), NULL, __VA_ARGS__)
#define CHECK_DONE() (tap_plan(tap_count()), 0)

#endif
