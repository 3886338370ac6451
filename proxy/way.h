/*
 * way.h — the wire proxy as the engine's way in (engine/faultctl.h): how
 * pgrace exec's workers — programs in any language, whose drivers never
 * load libpq — reach the server, faulted, gated and released together.
 *
 * The proxy listens on one address per worker (proxy_config.groups): a
 * connection belongs to the worker whose address it came to, whatever the
 * order programs connect in and however many connections they open, and a
 * rule's conn=K is worker K. On top of the proxy, the way:
 *
 *   - gives the engine its fault control: the rules of each iteration
 *     (proxy_set_rules), the gate in the engine's terms (the explorer's
 *     scheduler), a worker's backends (a deadline's diagnosis); every
 *     statement and every fault is credited to the worker's current call
 *     (faultctl_worker_statement);
 *   - lets a driver's own set-up pass unseen: a connection's leading
 *     session SETs (pgJDBC's extra_float_digits and application_name, sent
 *     while it connects) are neither counted nor faulted nor scheduled — a
 *     fault there tests the driver's connect, not the program;
 *   - releases the workers together at the server: in a round without a
 *     scheduler, each worker's first statement is held until every worker
 *     has sent its first or ended (bounded), so that runtimes slow to start
 *     (a JVM) still race;
 *   - tells which fault hit a worker (pxw_take_hit): a cut connection
 *     leaves its call's effect unknown, an injected error failed it;
 *   - lets the harness's own statements pass unseen while the engine says
 *     so (faultctl_way_exempt: the serial oracle reruns each program alone
 *     between rounds): neither counted, faulted, gated, held nor credited.
 */
#ifndef PGRACE_PXWAY_H
#define PGRACE_PXWAY_H

#include "engine/faultctl.h"
#include "proxy/proxy.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pxw pxw;

/* The way over p (started with proxy_config.groups >= the most workers a
 * round has); bound_ns bounds a hold at the rendezvous. Installs itself as
 * p's gate and observer. NULL when out of memory. */
pxw *pxw_new(proxy *p, int64_t bound_ns);

/* Lets every held statement go and stops holding any (before proxy_stop). */
void pxw_stop(pxw *w);

/* Frees w (after proxy_stop). */
void pxw_free(pxw *w);

/* The engine's fault control over w: faultctl_use(pxw_faultctl(), w). */
const faultctl_way *pxw_faultctl(void);

/* A round of nworkers workers begins (before any of them starts): the
 * statement counts start again, and with rendezvous the first statements
 * are held until all have come. */
void pxw_round(pxw *w, int nworkers, bool rendezvous);

/* Worker (0-based) ended its part of the round: it is not waited for. */
void pxw_ended(pxw *w, int worker);

/* The gravest fault that hit worker's statements since the round began or
 * since the last pxw_take_hit for it (read and cleared): what the effect
 * of its call may be. */
typedef enum pxw_hit {
    PXW_HIT_NONE,               /* none, or a delay */
    PXW_HIT_ERROR,              /* the server raised an error in a statement's place (error=SQLSTATE) */
    PXW_HIT_CUT,                /* its connection was cut (drop; ambiguous: after the statement ran) */
} pxw_hit;
pxw_hit pxw_take_hit(pxw *w, int worker);

/* Whether worker sent a statement this round; and the workers that have
 * neither sent one nor ended, from 1, into who ("3, 5"): how many. */
bool pxw_arrived(pxw *w, int worker);
int pxw_missing(pxw *w, char *who, size_t len);

#endif
