/* clock.h — monotonic time in nanoseconds (durations as text: lib/parse.h). */
#ifndef PGRACE_CLOCK_H
#define PGRACE_CLOCK_H

#include <stdint.h>

/* Nanoseconds on CLOCK_MONOTONIC; only differences are meaningful. */
int64_t clock_now_ns(void);

/* Sleeps for ns nanoseconds, resuming after signal interruptions. Used for
 * pause points and delays that widen race windows, never to synchronise. */
void clock_sleep_ns(int64_t ns);

#endif
