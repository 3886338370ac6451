/* shell.c — words and command lines as a shell reads them (shell.h). */
#include "lib/shell.h"

#include <string.h>
#include <stdio.h>

void shell_word(const char *word, char *buf, size_t len)
{
    static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%";
    if (len && *word && strspn(word, safe) == strlen(word))
        snprintf(buf, len, "%s", word);
    else
        shell_quote(word, buf, len);
}

void shell_quote(const char *word, char *buf, size_t len)
{
    size_t n = 0;
    if (len == 0)
        return;
    /* '...', each ' written as '\'' (close, an escaped quote, reopen). */
    for (const char *p = word; n + 5 < len; p++) {
        if (p == word)
            buf[n++] = '\'';
        if (!*p) {
            buf[n++] = '\'';
            break;
        }
        if (*p == '\'') {
            memcpy(buf + n, "'\\''", 4);
            n += 4;
        } else {
            buf[n++] = *p;
        }
    }
    buf[n] = '\0';
}

void shell_command_line(char *const *argv, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; argv && argv[i] && n + 1 < len; i++) {
        if (i)
            buf[n++] = ' ';
        shell_word(argv[i], buf + n, len - n);
        n += strlen(buf + n);
    }
}
