/* exit.h — the exit statuses of every command (README: "Exit status"). */
#ifndef PGRACE_EXIT_H
#define PGRACE_EXIT_H

enum {
    EXIT_HELD = 0,          /* every invariant held */
    EXIT_VIOLATED = 1,      /* an invariant was violated (a call past its deadline is one) */
    EXIT_USAGE = 2,         /* usage, setup or environment error; a worker stuck past its cancel */
};
/* 128 + N: stopped by signal N, after the teardown (lib/cleanup.h). */

#endif
