/*
 * faultctl.h — pgrace's side of the fault shim (faults/pgfault.h).
 *
 * `pgrace run --fault RULES` re-executes pgrace with build/libpgfault.so
 * preloaded (the user never types LD_PRELOAD). Inside, the shim's control
 * API is found with dlsym: the driver's own control connection is exempted
 * from faults, the rules can be replaced between iterations (fault sweeps),
 * and every fault that fires is credited to the call it hit, so a failing
 * iteration's diagnostics say which fault fired where. Without the shim
 * every function here is a no-op (faultctl_configure of rules is an error).
 */
#ifndef PGRACE_FAULTCTL_H
#define PGRACE_FAULTCTL_H

#include "faults/pgfault.h"
#include "engine/scenario.h"

#include <stdbool.h>
#include <stddef.h>

/* Unless the shim is loaded already, re-executes the program with it
 * preloaded (PGFAULT empty: pgrace installs the rules itself) and does not
 * return on success. Returns 0 when the shim is loaded, -1 with a reason
 * when it cannot be found or exec fails. */
int faultctl_preload(char *const argv[], char *err, size_t errlen);

/* Resolves the shim's API and exempts the calling thread (the control
 * connection's). Call once from the main thread before any connection. */
void faultctl_init(void);

/* The next connection opened is the shim's connection 1 again (the driver
 * calls it before opening a run's workers). */
void faultctl_reset_ordinals(void);

/* Exempts (or not) the calling thread's statements and new connections
 * from faults: teardown on the signal thread must never be faulted, and
 * the driver lifts the main thread's exemption while it opens the workers'
 * connections, in worker order, so that worker i is connection i+1. */
void faultctl_exempt_thread(bool exempt);

/* Replaces the rule set (NULL or "" clears it) and resets the shim's
 * counters. Returns 0 or -1 with the shim's one-line reason. */
int faultctl_configure(const char *rules, char *err, size_t errlen);

/* The fault rules installed last ("" when none): what the current iteration runs
 * with, for the reports and for replay. */
const char *faultctl_rules(void);

/* Faults injected so far in the process. */
unsigned long faultctl_fired(void);

/* Brackets one call on a worker thread: faults fired in between are
 * credited to rec; trace is its statements' (writable). */
void faultctl_enter_call(call_record *rec, pqx_trace *trace);
void faultctl_leave_call(void);

/* On a worker thread, when a gate lets the statement it held go: the
 * statement's trace event is stamped as sent now (it was stamped when the
 * worker reached the gate, which under the explorer is long before). */
void faultctl_mark_sent(void);

/* Installs fn as the shim's gate (faults/pgfault.h: pgf_set_gate), or
 * removes it (NULL). */
void faultctl_set_gate(pgf_gate_fn fn, void *arg);

/* On a worker thread inside a call: its worker index; else -1. For the
 * gate, which must know whose statement stops at it. */
int faultctl_gate_worker(void);

/* Cuts short a delay the shim holds conn's statement in (its call passed
 * its deadline): the statement then fails as a cancelled one (57014). Safe
 * from any thread. */
void faultctl_interrupt(PGconn *conn);

#endif
