/*
 * explore.h — the explorer's commands: `pgrace explore` (every interleaving
 * of 2-3 workers under a preemption bound, or PCT, optionally with a fault
 * at every position) and `pgrace run ... --schedule TOKEN` (one schedule,
 * replayed exactly).
 */
#ifndef PGRACE_EXPLORE_H
#define PGRACE_EXPLORE_H

#include "harness/run.h"

/* pgrace explore [SCENARIO[/VARIANT]...] [options]; returns the exit
 * status. */
int explore_main(int argc, char **argv);

/* pgrace run with --schedule (o->schedule): replays it on each target;
 * returns the exit status. */
int explore_replay_main(const run_opts *o);

#endif
