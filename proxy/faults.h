/*
 * faults.h — what becomes of one statement of a proxied connection: the
 * gate is asked first, then the rules decide (faults/grammar.h:
 * pgf_match, the shim's own matcher), and a fault that fires is counted
 * and written to the log in the shim's JSON-lines format.
 *
 * The rules are parsed once and never change while the proxy runs; the
 * gate may be replaced while no statement runs. Several connection
 * threads decide at once, each with its own pxf_conn.
 */
#ifndef PGRACE_PXFAULTS_H
#define PGRACE_PXFAULTS_H

#include "faults/grammar.h"
#include "proxy/proxy.h"

#include <stdatomic.h>

/* What every connection of a proxy shares. */
typedef struct pxf_shared {
    struct pgf_ruleset *rules;          /* NULL: none */
    char log[4096];                     /* "" : no log */
    proxy_gate_fn _Atomic gate;
    void *_Atomic gate_arg;
    atomic_ulong fired;
} pxf_shared;

/* One connection's part. */
typedef struct pxf_conn {
    int ordinal;                /* from 1 in accept order */
    int pid;                    /* the backend's, from BackendKeyData */
    char tx;                    /* the last ReadyForQuery's status */
    pgf_counters counters;
} pxf_conn;

/* Whether a statement needs deciding at all (rules or a gate). */
int pxf_active(pxf_shared *s);

/* Decides statement sql of connection c: the gate's fault, else the first
 * rule that fires, else NULL. A fault is counted and logged before it is
 * returned; *stmt is the statement's number on the connection. */
const struct pgf_rule *pxf_decide(pxf_shared *s, pxf_conn *c, const char *sql, long *stmt);

#endif
