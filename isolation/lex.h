/*
 * lex.h — the spec language's tokens (spec/lex.c), for the parser only.
 */
#ifndef PGRACE_SPEC_LEX_H
#define PGRACE_SPEC_LEX_H

#include "isolation/spec.h"

#include <stddef.h>

typedef enum spec_tok {
    TOK_EOF,
    TOK_IDENT,          /* plain or "double-quoted" */
    TOK_SQL,            /* { ... } */
    TOK_INT,
    TOK_COMMA,
    TOK_LPAREN,
    TOK_RPAREN,
    TOK_STAR,
    TOK_NOTICES,
    TOK_PERMUTATION,
    TOK_SESSION,
    TOK_SETUP,
    TOK_STEP,
    TOK_TEARDOWN,
    /* extended dialect only */
    TOK_INVARIANT,
    TOK_SETTING,
    TOK_FAULT,          /* [ ... ]: the text between the brackets */
} spec_tok;

typedef struct spec_lexer {
    const char *p, *end;
    int line;               /* isolationtester's yyline: newlines consumed so far, plus 1 */
    spec_dialect dialect;
    char *text;             /* the current token's text (IDENT, SQL, FAULT), NUL-terminated */
    size_t len, cap;
    long value;             /* TOK_INT */
} spec_lexer;

void spec_lex_init(spec_lexer *lx, const char *text, size_t len, spec_dialect dialect);

/* Scans the next token. Returns it, or -1 with isolationtester's message
 * ("unterminated sql block at line 4", "syntax error at line 2: unexpected
 * character \"@\""). The token's text stays valid until the next call. */
int spec_lex_next(spec_lexer *lx, char *err, size_t errlen);

void spec_lex_free(spec_lexer *lx);

#endif
