/*
 * call_int.h — the driver's side of one call: what scenario.h's call_*
 * functions write into (harness/call.c) and the driver sets up and reads
 * back (harness/driver.c). Not for scenarios.
 */
#ifndef PGRACE_CALL_INT_H
#define PGRACE_CALL_INT_H

#include "engine/driver.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* A sleep another thread can cut short: a worker's pause points sleep on
 * it, and the driver wakes it when the worker's call passes its deadline. */
typedef struct drv_wake {
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* on CLOCK_MONOTONIC */
    bool woken;                 /* until the next drv_wake_reset */
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
    const drv_pauses *pauses;
    const char *params;         /* the plan's, for call_param */
    drv_wake *wake;
    int endings;                /* call_ok/refuse/failed/fail calls: exactly one is right */
    char why_not_ended[120];    /* set when the operation broke the contract */
};

/* Prepares c (inputs filled by the caller) to be handed to an operation:
 * its record is cleared and bound to trace. */
void call_begin(drv_call *c, call_state *st, call_record *rec, pqx_trace *trace, const scenario *s,
                const drv_config *cfg, drv_wake *wake);

/* After the operation returned: a call it did not end, or ended more than
 * once, becomes an error that says so (a scenario bug the suite must see). */
void call_finish(drv_call *c);

#endif
