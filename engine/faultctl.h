/*
 * faultctl.h — fault control: how the workers' statements are faulted and
 * gated, whichever way they reach the server. Two ways in, one interface:
 *
 *   the shim  (the default) `pgrace run --fault RULES` re-executes pgrace
 *             with build/libpgfault.so preloaded (the user never types
 *             LD_PRELOAD). Inside, the shim's control API is found with
 *             dlsym: the driver's own control connection is exempted from
 *             faults, the rules can be replaced between iterations (fault
 *             sweeps), and every fault that fires is credited to the call
 *             it hit, so a failing iteration's diagnostics say which fault
 *             fired where. Without the shim every shim function here is a
 *             no-op (faultctl_configure of rules is an error).
 *   a way     a mode installs another (faultctl_use): pgrace exec's wire
 *             proxy (proxy/way.h), whose statements arrive on threads of
 *             its own and are credited to the worker's call through
 *             faultctl_worker_statement.
 *
 * The driver, the sweep and the explorer call only what is here: the rules
 * of an iteration (faultctl_configure), the gate (faultctl_set_gate: one
 * statement type, faultctl_stmt, for both ways) and a worker's backends
 * for a deadline's diagnosis.
 */
#ifndef PGRACE_FAULTCTL_H
#define PGRACE_FAULTCTL_H

#include "faults/pgfault.h"
#include "engine/scenario.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A statement at the gate, whichever way it came. */
typedef struct faultctl_stmt {
    int worker;                 /* 0-based */
    int pid;                    /* its connection's backend (lib/blocking's key; through a pooler, the
                                 * pooler's key) */
    char tx_status;             /* 'I', 'T' or 'E': idle, in a transaction block, in a failed one */
    const char *app;            /* its connection's application_name (through a pooler what finds the
                                 * backend), or NULL */
    const char *sql;
    uint64_t params;            /* a digest of its parameter values (PGF_NO_PARAMS: none, or its way
                                 * cannot tell them): the same sql and params send the same statement */
} faultctl_stmt;

/* A gate: asked on the statement's thread before it is sent; may block (a
 * scheduler holding it) and answers a PGF_GATE_* (faults/pgfault.h). */
typedef int (*faultctl_gate_fn)(void *arg, const faultctl_stmt *st);

/* A way in other than the shim (faultctl_use). Every member is required;
 * self is the way's own. */
typedef struct faultctl_way {
    /* Replaces the rules (NULL or "": none); the counts start again. 0, or
     * -1 with the one-line reason. */
    int (*configure)(void *self, const char *rules, char *err, size_t errlen);
    unsigned long (*fired)(void *self);
    void (*set_gate)(void *self, faultctl_gate_fn fn, void *arg);
    /* The backend pids of worker's live connections (at most max); the
     * number of them. */
    int (*backends)(void *self, int worker, int *pids, int max);
    /* While on, the statements that reach the way are the harness's (see
     * faultctl_way_exempt). */
    void (*exempt)(void *self, bool on);
} faultctl_way;

/* From now on the workers' statements go through way (NULL: the shim
 * again). Call it while no worker runs. */
void faultctl_use(const faultctl_way *way, void *self);

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

/* While on, every statement that reaches the way in use is the harness's:
 * neither counted, faulted, gated nor held, nor credited to a call — the
 * serial oracle's reruns of a program between iterations. The shim's
 * equivalent is an exempt thread's connections (faultctl_exempt_thread).
 * No-op without a way. */
void faultctl_way_exempt(bool on);

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

/* For a way whose statements arrive on threads of its own: worker's
 * statement sql (its number stmt among the worker's, as the rules counted
 * them) was sent now, with the fault that fired on it (the rule's text and
 * action, or NULL), or (sql NULL) the worker's statements sent so far were
 * answered now. Recorded in the worker's current call — its trace, its
 * faults — or dropped when it has none. Safe from any thread. */
void faultctl_worker_statement(int worker, long stmt, const char *sql, const char *rule, const char *action);

/* rec->faults, read as faultctl_worker_statement writes it. */
int faultctl_faults_of(const call_record *rec);

/* Installs fn as the gate of the way in use (the shim's: pgf_set_gate), or
 * removes it (NULL). */
void faultctl_set_gate(faultctl_gate_fn fn, void *arg);

/* The backend pids of worker's connections as the way in use knows them
 * (at most max): how many, or -1 when the way does not know its workers'
 * connections (the shim: they are the driver's own). */
int faultctl_worker_backends(int worker, int *pids, int max);

/* Cuts short a delay the shim holds conn's statement in (its call passed
 * its deadline): the statement then fails as a cancelled one (57014). Safe
 * from any thread. */
void faultctl_interrupt(PGconn *conn);

#endif
