/*
 * faultctl.h — pgrace's side of the fault shim (faults/pgfault.h).
 *
 * `pgrace run --fault SPEC` re-executes pgrace with build/libpgfault.so
 * preloaded (the user never types LD_PRELOAD). Inside, the shim's control
 * API is found with dlsym: the driver's own control connection is exempted
 * from faults, the spec can be replaced between iterations (fault sweeps),
 * and every fault that fires is credited to the call it hit, so a failing
 * iteration's diagnostics say which fault fired where. Without the shim
 * every function here is a no-op and faultctl_loaded() is false.
 */
#ifndef PGRACE_FAULTCTL_H
#define PGRACE_FAULTCTL_H

#include "harness/scenario.h"

#include <stdbool.h>
#include <stddef.h>

/* If spec is set and the shim is not loaded yet, re-executes the program
 * with it preloaded and PGFAULT=spec (does not return on success). Returns
 * -1 with a reason when the shim cannot be found or exec fails, 0 when it
 * is already loaded (or spec is NULL). */
int faultctl_preload(const char *spec, char *const argv[], char *err, size_t errlen);

/* Resolves the shim's API and exempts the calling thread (the control
 * connection's). Call once from the main thread before any connection. */
void faultctl_init(void);

bool faultctl_loaded(void);

/* Replaces the rule set (NULL or "" clears it) and resets the shim's
 * counters. Returns 0 or -1 with the shim's one-line reason. */
int faultctl_configure(const char *spec, char *err, size_t errlen);

/* Faults injected so far in the process. */
unsigned long faultctl_fired(void);

/* Brackets one call on a worker thread: faults fired in between are
 * credited to c. */
void faultctl_enter_call(drv_call *c);
void faultctl_leave_call(void);

#endif
