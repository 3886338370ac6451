/*
 * record.h — a drive's results put in the record's terms (reports/report.h):
 * an item per (scenario, variant, plan) drive, its iterations' calls, and a
 * point per invariant with the first violation's diagnostics and the
 * commands that repeat the item and replay the iteration. run, soak,
 * replay and explore all record through here, so every mode's report says
 * the same things the same way.
 */
#ifndef PGRACE_RECORD_H
#define PGRACE_RECORD_H

#include "engine/drive.h"
#include "reports/report.h"

/* The item of a drive of item with settings st (its label the TAP lines
 * and every report name: "attestation/no-tx [sweep]"); NULL when out of
 * memory. */
rep_item *record_item_begin(report *r, const run_opts *o, const plan_item *item, const item_settings *st);

/* One iteration: every call (attempts included, with their statements),
 * each invariant's verdict (1 held, 0 violated), the fault rules it ran
 * with ("" for none) and the schedule it followed (NULL: the OS's). The
 * first violating iteration becomes what `pgrace replay` reruns. */
void record_iteration(report *r, rep_item *it, const plan_item *item, const item_settings *st, long iteration,
                      const call_record *calls, int ncalls, const int *verdicts, const char *fault,
                      const char *schedule);

/* The end of a drive: its totals, a note with its calls and latency, one
 * point per invariant (ok, or violated with the first violation's
 * diagnostics: how many of the res->iterations `unit` — "iterations",
 * "schedules" — failed, the command that repeats the item, and the one
 * that replays the iteration, the violation's own when it carries one).
 * Returns whether every invariant held. */
bool record_item_end(report *r, rep_item *it, const run_opts *o, const plan_item *item, const item_settings *st,
                     const drv_result *res, const char *unit, const char *repeat);

/* A drive that stopped on a setup or environment error (reason). */
void record_item_error(report *r, rep_item *it, const char *reason);

#endif
