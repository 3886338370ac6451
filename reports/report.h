/*
 * report.h — a run's record, and the report files written from it.
 *
 * TAP on stdout is written as the run goes (harness/run.c). Everything else
 * is written at the end from this record: JUnit XML for CI reporters, JSON
 * for machines (and for `pgrace replay`), self-contained HTML for people.
 * The record is filled from the driver's per-iteration hook; it keeps the
 * outcome of every call of every iteration (up to a cap, so that a soak's
 * memory stays flat: past it, only iterations with a violation are kept),
 * and the full statement traces of two iterations per item: the first one
 * with a violation and the slowest one, for the HTML timeline.
 */
#ifndef PGRACE_REPORT_H
#define PGRACE_REPORT_H

#include "engine/driver.h"
#include "engine/plan.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct report report;

/* What the whole run was. */
typedef struct report_meta {
    uint64_t seed;
    const char *command;        /* the command line, as typed */
    int server_version;         /* PQserverVersion */
    bool embedded;              /* on the embedded cluster */
    const char *dsn;            /* --dsn as given, or NULL (embedded or PG* variables) */
    long iterations;            /* -i */
    long keep_iterations;       /* iterations kept per item before only violations are */
} report_meta;

/* A new record, or NULL when out of memory. */
report *report_new(const report_meta *meta);

/* Starts one (scenario, variant, plan) item; st is what it runs with. */
void report_item_begin(report *r, const plan_item *item, const item_settings *st);

/* One iteration of the current item: every call (attempts included, with
 * their traces, valid only during the call), each invariant's verdict, and
 * the fault spec it ran with ("" for none). Matches drv_iteration_fn when
 * adapted (see harness/run.c). */
void report_iteration(report *r, long iteration, const call_record *calls, int ncalls, const int *verdicts,
                      const char *fault_spec);

/* Ends the current item with the driver's result and the command that
 * repeats it. */
void report_item_end(report *r, const drv_result *res, const char *repeat_command);

/* Ends the current item without a result: it stopped on a setup or
 * environment error (reason); the reports show it as an error. */
void report_item_error(report *r, const char *reason);

/* Write the record. Each returns 0, or -1 with a one-line reason. */
int report_write_junit(const report *r, const char *path, char *err, size_t errlen);
int report_write_json(const report *r, const char *path, char *err, size_t errlen);
int report_write_html(const report *r, const char *path, char *err, size_t errlen);

void report_free(report *r);

#endif
