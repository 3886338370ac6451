/*
 * lex.c — the spec language's tokens, scanned by hand.
 *
 * The rules are isolationtester's (PostgreSQL 15 specscanner.l), as its
 * README and its behaviour define them:
 *   - blanks are space, tab, CR and form feed; a newline counts a line; '#'
 *     starts a comment that ends before the next CR or newline;
 *   - an identifier starts with a letter, '_' or a byte >= 0x80 and goes on
 *     with those, digits and '$'; the keywords (notices, permutation,
 *     session, setup, step, teardown) are whole identifiers, unquoted;
 *   - "double-quoted" identifiers, "" standing for one quote, on one line;
 *   - { SQL } up to the first '}', with the blanks (not newlines) right
 *     after '{' and right before '}' trimmed;
 *   - digits are an integer; ',', '(', ')' and '*' stand for themselves;
 *   - anything else ends the parse: syntax error, unexpected character.
 * Line numbers in messages are the lines consumed so far, as yyline is.
 */
#include "isolation/lex.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"

void spec_lex_init(spec_lexer *lx, const char *text, size_t len, spec_dialect dialect)
{
    memset(lx, 0, sizeof *lx);
    lx->p = text;
    lx->end = text + len;
    lx->line = 1;
    lx->dialect = dialect;
}

void spec_lex_free(spec_lexer *lx)
{
    free(lx->text);
    lx->text = NULL;
    lx->cap = lx->len = 0;
}

static bool is_blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f';
}

static bool ident_start(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c >= 0x80;
}

static bool ident_cont(unsigned char c)
{
    return ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

/* Appends c to the token text. Returns 0 or -1 when out of memory. */
static int add(spec_lexer *lx, char c)
{
    if (lx->len + 2 > lx->cap) {
        size_t cap = lx->cap ? lx->cap * 2 : 256;
        char *t = realloc(lx->text, cap);
        if (!t)
            return -1;
        lx->text = t;
        lx->cap = cap;
    }
    lx->text[lx->len++] = c;
    lx->text[lx->len] = '\0';
    return 0;
}

/* Empties the token text (allocating it the first time). */
static int start_text(spec_lexer *lx)
{
    lx->len = 0;
    if (!lx->text) {
        if (!(lx->text = malloc(256)))
            return -1;
        lx->cap = 256;
    }
    lx->text[0] = '\0';
    return 0;
}

static int oom(char *err, size_t errlen)
{
    err_set(err, errlen, "out of memory");
    return -1;
}

static int keyword(const spec_lexer *lx)
{
    static const struct { const char *word; spec_tok tok; bool extended; } words[] = {
        { "notices", TOK_NOTICES, false },      { "permutation", TOK_PERMUTATION, false },
        { "session", TOK_SESSION, false },      { "setup", TOK_SETUP, false },
        { "step", TOK_STEP, false },            { "teardown", TOK_TEARDOWN, false },
        { "invariant", TOK_INVARIANT, true },   { "setting", TOK_SETTING, true },
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if ((!words[i].extended || lx->dialect == SPEC_EXTENDED) && strcmp(lx->text, words[i].word) == 0)
            return words[i].tok;
    return TOK_IDENT;
}

static int quoted(spec_lexer *lx, char *err, size_t errlen)
{
    if (start_text(lx) < 0)
        return oom(err, errlen);
    for (;;) {
        if (lx->p >= lx->end) {
            err_set(err, errlen, "unterminated quoted identifier at line %d", lx->line);
            return -1;
        }
        char c = *lx->p;
        if (c == '\n') {
            err_set(err, errlen, "unexpected newline in quoted identifier at line %d", lx->line);
            return -1;
        }
        if (c == '"') {
            if (lx->p + 1 < lx->end && lx->p[1] == '"') {
                if (add(lx, '"') < 0)
                    return oom(err, errlen);
                lx->p += 2;
                continue;
            }
            lx->p++;
            return TOK_IDENT;
        }
        if (add(lx, c) < 0)
            return oom(err, errlen);
        lx->p++;
    }
}

static int sql_block(spec_lexer *lx, char *err, size_t errlen)
{
    if (start_text(lx) < 0)
        return oom(err, errlen);
    while (lx->p < lx->end && is_blank((unsigned char)*lx->p))
        lx->p++;
    for (;;) {
        if (lx->p >= lx->end) {
            err_set(err, errlen, "unterminated sql block at line %d", lx->line);
            return -1;
        }
        char c = *lx->p++;
        if (c == '}')
            break;
        if (c == '\n')
            lx->line++;
        if (add(lx, c) < 0)
            return oom(err, errlen);
    }
    /* The blanks right before '}' belong to the closing rule, not the SQL. */
    while (lx->len > 0 && is_blank((unsigned char)lx->text[lx->len - 1]))
        lx->text[--lx->len] = '\0';
    return TOK_SQL;
}

static int fault_text(spec_lexer *lx, char *err, size_t errlen)
{
    if (start_text(lx) < 0)
        return oom(err, errlen);
    for (;;) {
        if (lx->p >= lx->end || *lx->p == '\n') {
            err_set(err, errlen, "unterminated step fault '[' at line %d", lx->line);
            return -1;
        }
        char c = *lx->p++;
        if (c == ']')
            return TOK_FAULT;
        if (add(lx, c) < 0)
            return oom(err, errlen);
    }
}

int spec_lex_next(spec_lexer *lx, char *err, size_t errlen)
{
    for (;;) {
        if (lx->p >= lx->end)
            return TOK_EOF;
        unsigned char c = (unsigned char)*lx->p;
        if (c == '\n') {
            lx->line++;
            lx->p++;
        } else if (is_blank(c)) {
            lx->p++;
        } else if (c == '#') {
            while (lx->p < lx->end && *lx->p != '\n' && *lx->p != '\r')
                lx->p++;
        } else {
            break;
        }
    }
    unsigned char c = (unsigned char)*lx->p;
    if (ident_start(c)) {
        if (start_text(lx) < 0)
            return oom(err, errlen);
        while (lx->p < lx->end && ident_cont((unsigned char)*lx->p))
            if (add(lx, *lx->p++) < 0)
                return oom(err, errlen);
        return keyword(lx);
    }
    if (c >= '0' && c <= '9') {
        long v = 0;
        while (lx->p < lx->end && *lx->p >= '0' && *lx->p <= '9') {
            if (v < 100000000)
                v = v * 10 + (*lx->p - '0');
            lx->p++;
        }
        lx->value = v;
        return TOK_INT;
    }
    lx->p++;
    switch (c) {
    case '"': return quoted(lx, err, errlen);
    case '{': return sql_block(lx, err, errlen);
    case ',': return TOK_COMMA;
    case '(': return TOK_LPAREN;
    case ')': return TOK_RPAREN;
    case '*': return TOK_STAR;
    case '[':
        if (lx->dialect == SPEC_EXTENDED)
            return fault_text(lx, err, errlen);
        break;
    default:
        break;
    }
    char shown[2] = { (char)c, '\0' };
    err_set(err, errlen, "syntax error at line %d: unexpected character \"%s\"", lx->line, shown);
    return -1;
}
