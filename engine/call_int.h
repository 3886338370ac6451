/*
 * call_int.h — the driver's side of the kit: what scenario.h's call_*
 * functions write into (engine/call.c) and its inv_* functions
 * (engine/inv.c), which the driver sets up and reads back
 * (engine/driver.c). Not for scenarios.
 */
#ifndef PGRACE_CALL_INT_H
#define PGRACE_CALL_INT_H

#include "engine/driver.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* A sleep another thread can cut short: a worker's pause points sleep on
 * it, and the driver wakes it when the worker's call passes its deadline;
 * an operation that waits on a descriptor polls fd beside it. */
typedef struct drv_wake {
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* on CLOCK_MONOTONIC */
    bool woken;                 /* until the next drv_wake_reset */
    int fd;                     /* an eventfd, readable while woken */
} drv_wake;

int drv_wake_init(drv_wake *w);
void drv_wake_destroy(drv_wake *w);
void drv_wake_reset(drv_wake *w);
void drv_wake_up(drv_wake *w);
/* Sleeps ns nanoseconds unless woken (before or during). Returns true when
 * woken. */
bool drv_wake_sleep(drv_wake *w, int64_t ns);

struct call_state {
    call_record *rec;           /* what the call came to */
    pqx_trace *trace;           /* rec->trace, writable */
    const scenario *scenario;
    const scenario_variant *variant;    /* its minus list: GUARANTEE false */
    const drv_pauses *pauses;
    const char *params;         /* the plan's, for call_param */
    drv_wake *wake;
    struct cst_run *cst;        /* the run's connection checks: statements that can leave state are logged */
    int endings;                /* call_ok/refuse/failed/fail calls: exactly one is right */
};

/* Prepares c (inputs filled by the caller) to be handed to an operation:
 * its record is cleared and bound to trace. */
void call_begin(drv_call *c, call_state *st, call_record *rec, pqx_trace *trace, const scenario *s,
                const scenario_variant *v, const drv_config *cfg, drv_wake *wake);

/* After the operation returned: a call it did not end, or ended more than
 * once, becomes an error that says so (a scenario bug the suite must see). */
void call_finish(drv_call *c);

/* What call c came to, as one line ("ok 200 -> 6", "conflict 409 already
 * verified", "retryable 500 40001 could not serialize ..."), into buf: the
 * reports' call lines and the invariants' details say it alike. */
void call_describe(const call_record *c, char *buf, size_t len);

/* call_tag's and inv_tag's text: iteration, worker from 1, attempt. */
#define CALL_TAG_FMT "call-%ld-%d-%d"

/* "worker W" with " (retry)" for a retry, into buf. */
void call_who(const call_record *c, char *buf, size_t len);

/* What one invariant check said, kept until the driver has read it. */
struct inv_state {
    char found[400];            /* inv_violated's sentence ("" until then) */
    json_t *fields;             /* inv_field's, or NULL */
    json_t *details;            /* inv_detail's lines, or NULL */
    bool oom;                   /* an addition failed for want of memory */
    char *err;                  /* inv_error's reason, the caller's buffer */
    size_t errlen;
    struct serial *oracle;      /* the serial oracle of the run (engine/serial.h), or NULL */
};

/* A violation's record from st ("record", "found", the fields, "details"),
 * or NULL out of memory. */
json_t *inv_state_record(const inv_state *st, long iteration);

/* Frees what st holds (not err). */
void inv_state_clear(inv_state *st);

#endif
