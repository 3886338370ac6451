/*
 * repro.h — the commands that reproduce what a run found, printed in every
 * violation's diagnostics and stored in the reports: `repeat` reruns an
 * item's whole run with its seed; `replay` reruns chosen iterations alone,
 * with the same numbers, workers, retries, pauses, seed and fault rules (or
 * schedule). An item of an origin (pgrace exec's program) gets its own
 * command's words around the options.
 */
#ifndef PGRACE_REPRO_H
#define PGRACE_REPRO_H

#include "engine/plan.h"

#include <stdbool.h>
#include <stddef.h>

struct run_opts;

/* The command that repeats item's run (with its seed), into buf. */
void repro_repeat_command(const struct run_opts *o, const plan_item *item, const item_settings *st, char *buf,
                          size_t len);

/* The command that reruns iterations first..first+count-1 of item alone,
 * with fault_rules (NULL or "": none), into buf. */
void repro_replay_command(const struct run_opts *o, const plan_item *item, const item_settings *st, long first,
                          long count, const char *fault_rules, char *buf, size_t len);

/* The command that replays one explored schedule (token) of item at
 * iteration alone, into buf. */
void repro_schedule_command(const struct run_opts *o, const plan_item *item, const item_settings *st,
                            const char *token, long iteration, char *buf, size_t len);

/* The command that repeats item's exploration under bound preemptions
 * (with a fault at every position when faults; every_prefix: with no
 * reduction; no_yield: --no-yield), into buf. */
void repro_explore_command(const struct run_opts *o, const plan_item *item, const item_settings *st, int bound,
                           bool faults, bool every_prefix, bool no_yield, char *buf, size_t len);

#endif
