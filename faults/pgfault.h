/*
 * pgfault.h — control API of libpgfault.so, the LD_PRELOAD fault shim.
 *
 * Programs other than pgrace never need this: the shim is driven by the
 * PGFAULT environment variable.  pgrace re-execs itself with LD_PRELOAD and
 * resolves these functions with dlsym(RTLD_DEFAULT, ...), so every one of
 * them may be absent (shim not loaded): callers must check for NULL.
 */
#ifndef PGFAULT_H
#define PGFAULT_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#define PGF_API __attribute__((visibility("default")))

/* What a fault observer is told; valid only during the callback. */
typedef struct pgf_event {
    int conn_ordinal;      /* 1 = first non-exempt connection the process opened; 0 = untracked */
    long stmt_ordinal;     /* statements sent on that connection, this one included, from 1 */
    int rule_index;        /* 1 = first rule */
    const char *rule_text; /* the rule as written */
    const char *action;    /* "error=40001", "drop", "ambiguous", "delay=30000us[:after]" */
    const char *sql;       /* the statement's text (prepared text for PQexecPrepared) */
} pgf_event;

typedef void (*pgf_observer_fn)(const pgf_event *ev, void *arg);

/*
 * Replace the rule set (the fault rules, as PGFAULT) and reset every statement
 * counter; connection ordinals are kept.  NULL or "" means no rules.
 * Returns 0, or -1 with a one-line reason in err (the old rules stay).
 * Contract: no thread may be inside a libpq call while this runs (pgrace calls
 * it between iterations); the old rule set is freed at once.
 */
PGF_API int pgf_configure(const char *rules, char *err, size_t errlen);

/* on != 0: statements and connections of the calling thread are neither
 * counted nor faulted, and its new connections get no ordinal (and stay
 * exempt whichever thread later uses them). */
PGF_API void pgf_thread_exempt(int on);

/* The next connection opened gets ordinal 1 again ("conn=1" means it).
 * Connections already open keep theirs: call it when none is open that a
 * rule could confuse (pgrace calls it before opening a run's workers). */
PGF_API void pgf_reset_ordinals(void);

/* Faults fired since the process started (delays included). */
PGF_API unsigned long pgf_fired_total(void);

/* Called on the faulting thread, before the fault takes effect.  NULL
 * removes the observer.  Set it while no worker runs statements. */
PGF_API void pgf_set_observer(pgf_observer_fn fn, void *arg);

/* Cuts short a delay that holds a statement of conn (now, or later under
 * the same rules): that statement then fails as a cancelled one, SQLSTATE
 * 57014 raised by the server. For a caller whose deadline passed (pgrace
 * cancels the statement with PQcancel; a client-side delay needs this).
 * Safe from any thread; a new pgf_configure forgets it. */
PGF_API void pgf_interrupt(PGconn *conn);

/* A gate: called on the statement's own thread before every statement of a
 * non-exempt connection is sent (whatever the API), before any rule is
 * counted; it may block (until a scheduler lets the statement go) and says
 * what becomes of the statement. pgrace's explorer runs worker statements
 * one at a time through it. params is a digest of the statement's
 * parameter values (PGF_NO_PARAMS when it has none): two calls with the same
 * sql and params send the same statement. */
enum pgf_gate_action {
    PGF_GATE_GO = 0,            /* send it (the rules still apply) */
    PGF_GATE_ERROR = 1,         /* the server raises 40001 for it, as error=40001 does */
    PGF_GATE_DROP = 2,          /* the connection is lost before it, as drop does */
    PGF_GATE_AMBIGUOUS = 3,     /* it runs, then the connection is lost, as ambiguous does */
    PGF_GATE_CANCEL = 4,        /* it fails as a cancelled statement (57014) */
};
#define PGF_NO_PARAMS 0
typedef int (*pgf_gate_fn)(void *arg, PGconn *conn, const char *sql, uint64_t params);

/* Installs the gate (NULL removes it). Set it while no statement runs. */
PGF_API void pgf_set_gate(pgf_gate_fn fn, void *arg);

/* Does nothing: a place for a debugger breakpoint, called whenever a fault
 * fires (after SQLite's sqlite3Fault()). */
PGF_API void pgf_fault_fired(void);

#endif
