/*
 * repro.h — the commands that reproduce what a run found, printed in every
 * violation's diagnostics and stored in the reports: `repeat` reruns an
 * item's whole run with its seed; `replay` reruns chosen iterations alone,
 * with the same numbers, workers, retries, pauses, seed and fault rules.
 */
#ifndef PGRACE_REPRO_H
#define PGRACE_REPRO_H

#include "engine/plan.h"

#include <stddef.h>

struct run_opts;

/* The command that repeats item's run (with its seed), into buf. */
void repro_repeat_command(const struct run_opts *o, const plan_item *item, const item_settings *st, char *buf,
                          size_t len);

/* The command that reruns iterations first..first+count-1 of item alone,
 * with fault_rules (NULL or "": none), into buf. */
void repro_replay_command(const struct run_opts *o, const plan_item *item, const item_settings *st, long first,
                          long count, const char *fault_rules, char *buf, size_t len);

/* Appends the serial oracle's options of o (--oracle and what it compares)
 * to the command in buf: the explorer's commands, which it writes itself,
 * carry them too. */
void repro_add_oracle(const struct run_opts *o, char *buf, size_t len);

#endif
