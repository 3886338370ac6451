/*
 * shell.h — words and command lines quoted as a shell needs them: the
 * repeat and replay commands every report prints, and the command line a
 * report records, must paste back into a shell as they were typed.
 */
#ifndef PGRACE_SHELL_H
#define PGRACE_SHELL_H

#include <stddef.h>

/* The command line as typed (argv up to its NULL), words quoted where a
 * shell would need it; cut at len. */
void shell_command_line(char *const *argv, char *buf, size_t len);

/* word as one shell word: as is when nothing in it is special to a shell,
 * else quoted as shell_quote does. Cut to fit len. */
void shell_word(const char *word, char *buf, size_t len);

/* word in single quotes, a quote inside written '\''. Cut to fit len. */
void shell_quote(const char *word, char *buf, size_t len);

#endif
