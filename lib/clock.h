/* clock.h — monotonic time in nanoseconds, and durations as text. */
#ifndef PGRACE_CLOCK_H
#define PGRACE_CLOCK_H

#include <stdint.h>

/* Nanoseconds on CLOCK_MONOTONIC; only differences are meaningful. */
int64_t clock_now_ns(void);

/* Nanoseconds since the Unix epoch (for reports). */
int64_t clock_wall_ns(void);

/* Sleeps for ns nanoseconds, resuming after signal interruptions. Used for
 * pause points and delays that widen race windows, never to synchronise. */
void clock_sleep_ns(int64_t ns);

/* Parses "250us", "30ms", "2s" (a bare number is milliseconds) into ns.
 * Returns 0, or -1 if text is not a duration. */
int clock_parse_duration(const char *text, int64_t *ns);

#endif
