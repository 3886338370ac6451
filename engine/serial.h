/*
 * serial.h — the serial oracle for scenarios (--oracle serial): a built-in
 * invariant, id "serial", "the outcome is one some serial order of the
 * calls produces", judged by engine/oracle.h.
 *
 * Each iteration then starts from empty tables (serial_prepare, before its
 * setup), so that the run's schema holds exactly the iteration's rows and
 * its sequences start where the serial runs' do. The serial runs happen in
 * a second schema, the oracle's ("<schema>_oracle"), made once per drive
 * from the same DDL (and the same pins removed): for each order it is
 * emptied and given the iteration's setup, then each call runs alone on
 * the oracle's own connections (one per worker, two for a scenario that
 * asks for two; opened on an exempt thread, so the fault shim neither
 * counts nor faults them and the explorer never gates them; bounded by a
 * statement_timeout of the call deadline) with the inputs it had: worker,
 * iteration, attempt, the worker's random stream as the call began, the
 * plan's params; no pause, no fault.
 *
 * A scenario whose calls the engine cannot rerun itself gives its own
 * rerun (scenario_oracle.rerun: pgrace exec's programs, which reach the
 * run's schema through the wire proxy). Its orders run in place: in the
 * run's own schema, once the concurrent state is read, each from the
 * scenario's setup (which makes the schema afresh), each call rerun alone,
 * with the way's statements exempt meanwhile (faultctl_way_exempt). Either
 * way a call that alone runs past the call deadline cannot be judged: the
 * check is an error that says so. A call's take (in, out or maybe) is what
 * its ending says, unless its operation said its effect
 * (call_set_effect).
 */
#ifndef PGRACE_SERIAL_H
#define PGRACE_SERIAL_H

#include "engine/driver.h"
#include "engine/oracle.h"
#include "engine/state.h"

#include <libpq-fe.h>

/* The scenario a run with the oracle drives: s's invariants (none with
 * ORACLE_SERIAL_ONLY), then "serial"; the rest is s's. Fills out and its
 * invariants' array invs (room for s->ninvariants + 1). */
void serial_scenario(const scenario *s, oracle_mode m, scenario *out, scenario_invariant *invs);

/* Whether s was made by serial_scenario. */
bool serial_scenario_has_oracle(const scenario *s);

typedef struct serial serial;

typedef struct serial_cfg {
    PGconn *ctl;                /* the run's control connection (search_path: the run's schema) */
    const char *conninfo;       /* the server, directly (never through a pooler) */
    const char *schema;         /* the run's schema */
    const char *appname;        /* "pgrace/<schema>" */
    const scenario *s;
    const scenario_variant *v;
    const drv_config *cfg;      /* nworkers, params, call deadline, seed */
    const state_opts *opts;     /* the command line's declarations (after the scenario's), or NULL */
} serial_cfg;

/* Makes the oracle's schema and connections for a drive of v (the run's
 * schema made and its pins removed). Returns it, or NULL with a reason. */
serial *serial_open(const serial_cfg *c, char *err, size_t errlen);

/* drv_config.prepare: empties the run's schema before iteration's setup. */
int serial_prepare(void *arg, long iteration, char *err, size_t errlen);

/* What the drive's oracle did, for the item's note: "serial: ..." into
 * buf. */
void serial_summary(const serial *o, char *buf, size_t len);

/* Why the oracle checked no iteration of the drive (every one was outside
 * its model: the scenario's own reason), or NULL. */
const char *serial_skipped(const serial *o);

void serial_close(serial *o);

#endif
