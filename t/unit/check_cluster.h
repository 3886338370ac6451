/* check_cluster.h — the start of a C unit test against a real server:
 * TAP begun, teardown on signals, an embedded cluster started. */
#ifndef PGRACE_CHECK_CLUSTER_H
#define PGRACE_CHECK_CLUSTER_H

#include "t/unit/check.h"

#include "lib/cleanup.h"
#include "lib/cluster.h"
#include "lib/err.h"

#include <stdio.h>

/* The cluster, or NULL after a "Bail out!" saying why. */
static inline cluster *check_cluster_start(void)
{
    char err[ERRLEN];
    cluster *cl;
    tap_begin(stdout);
    if (cleanup_signals_start(err, sizeof err) < 0) {
        tap_bail("%s", err);
        return NULL;
    }
    if (cluster_start(&cl, err, sizeof err) < 0) {
        tap_bail("cluster_start: %s", err);
        return NULL;
    }
    return cl;
}

#endif
