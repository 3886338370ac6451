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
#include <string.h>
#include <strings.h>

#include "faults/grammar.h"

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

/* The end of a dollar quote's opening tag at s ('$' [tag] '$'), or NULL
 * when s is not one (a positional parameter $1 is not). */
static const char *dollar_tag_end(const char *s)
{
    const char *t = s + 1;
    if (isdigit((unsigned char)*t)) return NULL;
    while (isalnum((unsigned char)*t) || *t == '_' || (unsigned char)*t >= 0x80) t++;
    return *t == '$' ? t + 1 : NULL;
}

/* Whether s starts a SQL-standard routine body's block ("BEGIN ATOMIC"),
 * or a CASE inside one: psql's rule, so that the ';' inside CREATE FUNCTION
 * ... BEGIN ATOMIC ... END does not split the statement. */
static int opens_block(const char *s, int depth)
{
    const char *t = word(s, "BEGIN");
    if (t && word(t, "ATOMIC")) return 1;
    return depth > 0 && word(s, "CASE") != NULL;
}

const char *pgf_statement_end(const char *sql)
{
    const char *s = sql;
    int parens = 0, depth = 0;
    while (*s) {
        unsigned char c = (unsigned char)*s;
        if (s[0] == '-' && s[1] == '-') {
            while (*s && *s != '\n') s++;
        } else if (s[0] == '/' && s[1] == '*') {
            s = skip_ws(s);
        } else if (*s == '\'' || *s == '"') {
            /* 'it''s', E'\'' (a backslash escapes in an E string), "a""b" */
            char q = *s;
            int backslash = q == '\'' && s > sql && (s[-1] == 'E' || s[-1] == 'e');
            for (s++; *s; s++) {
                if (backslash && *s == '\\' && s[1]) { s++; continue; }
                if (*s == q) {
                    if (s[1] == q) { s++; continue; }
                    break;
                }
            }
            if (*s) s++;
        } else if (*s == '$' && dollar_tag_end(s)) {
            const char *body = dollar_tag_end(s);
            size_t taglen = (size_t)(body - s);
            const char *close = body;
            while (*close && !(*close == '$' && strncmp(close, s, taglen) == 0)) close++;
            s = *close ? close + taglen : close;
        } else if (*s == '(') {
            parens++, s++;
        } else if (*s == ')') {
            parens -= parens > 0, s++;
        } else if (*s == ';' && parens == 0 && depth == 0) {
            return s;
        } else if (isalpha(c) || c == '_') {
            /* A whole word: BEGIN ATOMIC and CASE open a block, END closes it. */
            int starts = s == sql || !(isalnum((unsigned char)s[-1]) || s[-1] == '_' || s[-1] == '$');
            if (starts && opens_block(s, depth)) depth++;
            else if (starts && depth > 0 && word(s, "END")) depth--;
            while (isalnum((unsigned char)*s) || *s == '_' || *s == '$') s++;
        } else {
            s++;
        }
    }
    return s;
}

const char *pgf_next_statement(const char *sql)
{
    const char *s = pgf_statement_end(sql);
    if (*s != ';') return NULL;
    const char *next = skip_ws(s + 1);
    while (*next == ';') next = skip_ws(next + 1);
    return *next ? next : NULL;
}
