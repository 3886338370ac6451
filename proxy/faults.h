/*
 * faults.h — what becomes of one statement of a proxied connection: the
 * gate is asked first, then the rules decide (faults/grammar.h:
 * pgf_match, the shim's own matcher), and a fault that fires is counted
 * and written to the log in the shim's JSON-lines format; an observer is
 * told of each statement decided and of each answer the server ended.
 *
 * The rules may be replaced between a run's iterations (proxy_set_rules):
 * deciding reads them under a read lock, and a replaced rule set is kept
 * until the proxy stops, since a connection thread may still be carrying
 * out a rule it was given. The gate and the observer may be replaced
 * while no statement runs. Several connection threads decide at once,
 * each with its own pxf_conn; the connections of one group (a listen
 * address of its own: one of pgrace exec's workers) share their counters,
 * under a lock.
 */
#ifndef PGRACE_PXFAULTS_H
#define PGRACE_PXFAULTS_H

#include "faults/grammar.h"
#include "proxy/proxy.h"

#include <pthread.h>
#include <stdatomic.h>

/* What every connection of a proxy shares. */
typedef struct pxf_shared {
    pthread_rwlock_t lock;              /* rules (and their gen): read to decide, written to replace */
    struct pgf_ruleset *rules;          /* NULL: none */
    char *text;                         /* the text they were parsed from (pxf_set_rules'), or NULL */
    struct pgf_ruleset **retired;       /* replaced rule sets, freed at the proxy's stop */
    int nretired;
    char log[4096];                     /* "" : no log */
    proxy_gate_fn _Atomic gate;
    void *_Atomic gate_arg;
    proxy_observe_fn _Atomic observe;
    void *_Atomic observe_arg;
    atomic_ulong fired;
    /* Groups (proxy_config.groups): a rule's conn=K is group K, and its
     * counts run over the group's connections together. */
    pthread_mutex_t group_mu;
    int ngroups;
    pgf_counters *group_counters;       /* [ngroups] */
} pxf_shared;

/* A pxf_shared with no rules, gate, observer or groups. */
#define PXF_SHARED_INIT { .lock = PTHREAD_RWLOCK_INITIALIZER, .group_mu = PTHREAD_MUTEX_INITIALIZER }

/* One connection's part. */
typedef struct pxf_conn {
    int ordinal;                /* from 1 in accept order */
    int group;                  /* its listen address's group (0: none) */
    int pid;                    /* the backend's, from BackendKeyData */
    char tx;                    /* the last ReadyForQuery's status */
    long counted;               /* its statements the gate and the rules saw (not the gate's PASS) */
    char app[112];              /* the application_name the proxy gave it, or "" */
    pgf_counters counters;      /* without a group */
} pxf_conn;

/* Whether a statement needs deciding at all (rules, a gate or an observer). */
int pxf_active(pxf_shared *s);

/* Decides statement sql (params: a digest of its parameters, or
 * PGF_NO_PARAMS) of connection c: the gate's fault, else the first
 * rule that fires, else NULL. A fault is counted and logged before it is
 * returned; *stmt is the statement's number on the connection (on its
 * group, with groups; 0 for a statement the gate passed uncounted). */
const struct pgf_rule *pxf_decide(pxf_shared *s, pxf_conn *c, const char *sql, uint64_t params, long *stmt);

/* The server answered ReadyForQuery on c: the observer is told. */
void pxf_ready(pxf_shared *s, pxf_conn *c);

/* Replaces the rules with text (parsed; NULL or "": none): counts start
 * again. The same text again only restarts the counts. Returns 0 or -1
 * with the parser's one-line reason (the rules are then unchanged). */
int pxf_set_rules(pxf_shared *s, const char *text, char *err, size_t errlen);

/* Every group's counts start again. */
void pxf_restart_groups(pxf_shared *s);

/* Frees the rules, the retired ones and the groups' counters. */
void pxf_free(pxf_shared *s);

#endif
