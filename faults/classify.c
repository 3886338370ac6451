/*
 * classify.c — what kind of statement a SQL text is (COMMIT, ROLLBACK, BEGIN
 * or other), for the commit/rollback/begin targets.
 *
 * Only the first statement of a multi-statement string counts (psql -c
 * "BEGIN; ...; COMMIT" is one BEGIN), because the shim sees one call.
 * COMMIT  = COMMIT [WORK|TRANSACTION|AND ...], END [...], COMMIT PREPARED.
 * ROLLBACK = ROLLBACK [...], ABORT [...], ROLLBACK PREPARED; but not
 *           ROLLBACK [WORK|TRANSACTION] TO [SAVEPOINT] x, which ends no
 *           transaction (it is an ordinary statement).
 * BEGIN   = BEGIN [...], START TRANSACTION.
 * Runs on every statement while rules are active: no allocation.
 */
#include <ctype.h>
#include <strings.h>

#include "faults/pgf_int.h"

/* Skip blanks, -- comments and (nested) block comments. */
static const char *skip_ws(const char *s)
{
    for (;;) {
        while (isspace((unsigned char)*s)) s++;
        if (s[0] == '-' && s[1] == '-') {
            while (*s && *s != '\n') s++;
        } else if (s[0] == '/' && s[1] == '*') {
            int depth = 0;
            while (*s) {
                if (s[0] == '/' && s[1] == '*') { depth++; s += 2; }
                else if (s[0] == '*' && s[1] == '/') { s += 2; if (--depth == 0) break; }
                else s++;
            }
        } else {
            return s;
        }
    }
}

/* If s starts with keyword kw (case-insensitive, whole word), return the text
 * after it and its trailing blanks; else NULL. */
static const char *word(const char *s, const char *kw)
{
    size_t n = 0;
    while (kw[n]) n++;
    if (strncasecmp(s, kw, n) != 0) return NULL;
    unsigned char c = (unsigned char)s[n];
    if (isalnum(c) || c == '_' || c == '$') return NULL;
    return skip_ws(s + n);
}

enum pgf_kind pgf_classify(const char *sql)
{
    const char *s = skip_ws(sql);
    const char *t;
    switch (*s) {
    case 'c': case 'C':
        return word(s, "COMMIT") ? PGF_K_COMMIT : PGF_K_OTHER;
    case 'e': case 'E':
        return word(s, "END") ? PGF_K_COMMIT : PGF_K_OTHER;
    case 'a': case 'A':
        return word(s, "ABORT") ? PGF_K_ROLLBACK : PGF_K_OTHER;
    case 'b': case 'B':
        return word(s, "BEGIN") ? PGF_K_BEGIN : PGF_K_OTHER;
    case 's': case 'S':
        return (t = word(s, "START")) && word(t, "TRANSACTION") ? PGF_K_BEGIN : PGF_K_OTHER;
    case 'r': case 'R':
        if (!(t = word(s, "ROLLBACK"))) return PGF_K_OTHER;
        {
            const char *u = word(t, "WORK");
            if (!u) u = word(t, "TRANSACTION");
            if (word(u ? u : t, "TO")) return PGF_K_OTHER;
        }
        return PGF_K_ROLLBACK;
    default:
        return PGF_K_OTHER;
    }
}
