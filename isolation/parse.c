/*
 * parse.c — the spec grammar, by recursive descent over spec/lex.c.
 *
 * PostgreSQL 15's grammar (specparse.y's language, per README.upstream):
 *
 *   spec        = { SETUP sql } [ TEARDOWN sql ] session { session } { permutation } EOF
 *   session     = SESSION ident [ SETUP sql ] step { step } [ TEARDOWN sql ]
 *   step        = STEP ident sql
 *   permutation = PERMUTATION pstep { pstep }
 *   pstep       = ident [ "(" marker { "," marker } ")" ]
 *   marker      = "*" | ident [ NOTICES integer ]
 *
 * The extended dialect adds, at every top-level boundary (before, between
 * and after the parts above),
 *
 *   item        = INVARIANT ident sql | SETTING ident ( ident | integer )
 *
 * and a fault after a permutation step's markers: "[" fault "]".
 *
 * Like isolationtester's LALR(1) parser this one reads one token ahead and
 * no more, so a scanner error and a syntax error are reported at the same
 * token, with the same line: the line the offending token ends on.
 */
#include "isolation/lex.h"
#include "isolation/spec.h"

#include "lib/err.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    spec_lexer lx;
    int tok;            /* the lookahead */
    spec *s;
    char *err;
    size_t errlen;
} parser;

/* A copy of arr (n elements of sz bytes) with one more element, zeroed;
 * NULL when out of memory (arr is then untouched). */
static void *append(void *arr, int n, size_t sz)
{
    char *a = realloc(arr, (size_t)(n + 1) * sz);
    if (a)
        memset(a + (size_t)n * sz, 0, sz);
    return a;
}

/* Appends a zeroed element to arr (n elements) and points el at it;
 * evaluates to false when out of memory. el has arr's type. */
#define APPEND(arr, n, el) \
    (((el) = append((arr), (n), sizeof *(arr))) != NULL && ((arr) = (el), (el) = &(arr)[(n)++], true))

static int oom(parser *ps)
{
    err_set(ps->err, ps->errlen, "out of memory");
    return -1;
}

static int next(parser *ps)
{
    ps->tok = spec_lex_next(&ps->lx, ps->err, ps->errlen);
    return ps->tok < 0 ? -1 : 0;
}

static int syntax_error(parser *ps)
{
    err_set(ps->err, ps->errlen, "syntax error at line %d", ps->lx.line);
    return -1;
}

/* The lookahead must be tok; its text (IDENT, SQL, FAULT) is copied into
 * *text when text is not NULL. Then reads the next token. */
static int take(parser *ps, int tok, char **text)
{
    if (ps->tok != tok)
        return syntax_error(ps);
    if (text && !(*text = strdup(ps->lx.text ? ps->lx.text : "")))
        return oom(ps);
    return next(ps);
}

/* [error=SQLSTATE], [drop], [ambiguous] */
static int fault(parser *ps, spec_fault *f)
{
    char *t = ps->lx.text, *e;
    while (*t == ' ' || *t == '\t')
        t++;
    e = t + strlen(t);
    while (e > t && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    size_t n = (size_t)(e - t);
    memset(f, 0, sizeof *f);
    if (n == 4 && strncmp(t, "drop", 4) == 0) {
        f->kind = SPEC_FAULT_DROP;
    } else if (n == 9 && strncmp(t, "ambiguous", 9) == 0) {
        f->kind = SPEC_FAULT_AMBIGUOUS;
    } else if (n == 11 && strncmp(t, "error=", 6) == 0) {
        f->kind = SPEC_FAULT_ERROR;
        for (int i = 0; i < 5; i++) {
            char c = t[6 + i];
            if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')))
                f->kind = SPEC_FAULT_NONE;
            f->sqlstate[i] = c;
        }
    }
    if (f->kind == SPEC_FAULT_NONE) {
        err_set(ps->err, ps->errlen,
                "bad step fault \"[%s]\" at line %d: expected [error=SQLSTATE], [drop] or [ambiguous]",
                ps->lx.text, ps->lx.line);
        return -1;
    }
    return next(ps);
}

/* Extended dialect: invariant and setting items, as many as there are. */
static int items(parser *ps)
{
    spec *s = ps->s;
    for (;;) {
        if (ps->tok == TOK_INVARIANT) {
            spec_invariant *inv;
            if (!APPEND(s->invariants, s->ninvariants, inv))
                return oom(ps);
            if (next(ps) < 0 || take(ps, TOK_IDENT, &inv->name) < 0 || take(ps, TOK_SQL, &inv->sql) < 0)
                return -1;
        } else if (ps->tok == TOK_SETTING) {
            spec_setting *st;
            if (!APPEND(s->settings, s->nsettings, st))
                return oom(ps);
            if (next(ps) < 0 || take(ps, TOK_IDENT, &st->name) < 0)
                return -1;
            if (ps->tok == TOK_INT) {
                char v[32];
                snprintf(v, sizeof v, "%ld", ps->lx.value);
                if (!(st->value = strdup(v)))
                    return oom(ps);
                if (next(ps) < 0)
                    return -1;
            } else if (take(ps, TOK_IDENT, &st->value) < 0) {
                return -1;
            }
        } else {
            return 0;
        }
    }
}

static int marker(parser *ps, spec_pstep *p)
{
    spec_marker *m;
    if (!APPEND(p->markers, p->nmarkers, m))
        return oom(ps);
    if (ps->tok == TOK_STAR) {
        m->kind = SPEC_MARK_ONCE;
        return next(ps);
    }
    m->kind = SPEC_MARK_STEP;
    if (take(ps, TOK_IDENT, &m->step_name) < 0)
        return -1;
    if (ps->tok == TOK_NOTICES) {
        m->kind = SPEC_MARK_NOTICES;
        if (next(ps) < 0)
            return -1;
        if (ps->tok != TOK_INT)
            return syntax_error(ps);
        m->notices = (int)ps->lx.value;
        return next(ps);
    }
    return 0;
}

static int permutation(parser *ps)
{
    spec_permutation *perm;
    if (!APPEND(ps->s->perms, ps->s->nperms, perm))
        return oom(ps);
    if (next(ps) < 0)
        return -1;
    if (ps->tok != TOK_IDENT)
        return syntax_error(ps);
    while (ps->tok == TOK_IDENT) {
        spec_pstep *p;
        if (!APPEND(perm->steps, perm->nsteps, p))
            return oom(ps);
        if (take(ps, TOK_IDENT, &p->name) < 0)
            return -1;
        if (ps->tok == TOK_LPAREN) {
            if (next(ps) < 0 || marker(ps, p) < 0)
                return -1;
            while (ps->tok == TOK_COMMA)
                if (next(ps) < 0 || marker(ps, p) < 0)
                    return -1;
            if (take(ps, TOK_RPAREN, NULL) < 0)
                return -1;
        }
        if (ps->tok == TOK_FAULT && fault(ps, &p->fault) < 0)
            return -1;
    }
    return 0;
}

static int session(parser *ps)
{
    spec_session *se;
    if (!APPEND(ps->s->sessions, ps->s->nsessions, se))
        return oom(ps);
    if (take(ps, TOK_SESSION, NULL) < 0 || take(ps, TOK_IDENT, &se->name) < 0)
        return -1;
    if (ps->tok == TOK_SETUP && (next(ps) < 0 || take(ps, TOK_SQL, &se->setup) < 0))
        return -1;
    if (ps->tok != TOK_STEP)
        return syntax_error(ps);
    while (ps->tok == TOK_STEP) {
        spec_step **slot;
        if (!APPEND(se->steps, se->nsteps, slot) || !(*slot = calloc(1, sizeof **slot)))
            return oom(ps);
        spec_step *st = *slot;
        st->session = ps->s->nsessions - 1;
        if (next(ps) < 0 || take(ps, TOK_IDENT, &st->name) < 0 || take(ps, TOK_SQL, &st->sql) < 0)
            return -1;
    }
    if (ps->tok == TOK_TEARDOWN && (next(ps) < 0 || take(ps, TOK_SQL, &se->teardown) < 0))
        return -1;
    return 0;
}

static int parse_all(parser *ps)
{
    spec *s = ps->s;
    if (next(ps) < 0 || items(ps) < 0)
        return -1;
    while (ps->tok == TOK_SETUP) {
        char **slot;
        if (!APPEND(s->setups, s->nsetups, slot))
            return oom(ps);
        if (next(ps) < 0 || take(ps, TOK_SQL, slot) < 0 || items(ps) < 0)
            return -1;
    }
    if (ps->tok == TOK_TEARDOWN && (next(ps) < 0 || take(ps, TOK_SQL, &s->teardown) < 0 || items(ps) < 0))
        return -1;
    do {
        if (session(ps) < 0 || items(ps) < 0)
            return -1;
    } while (ps->tok == TOK_SESSION);
    while (ps->tok == TOK_PERMUTATION)
        if (permutation(ps) < 0 || items(ps) < 0)
            return -1;
    return ps->tok == TOK_EOF ? 0 : syntax_error(ps);
}

int spec_parse(const char *text, size_t len, spec_dialect dialect, spec **out, char *err, size_t errlen)
{
    parser ps = { .err = err, .errlen = errlen };
    if (!(ps.s = calloc(1, sizeof *ps.s))) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    spec_lex_init(&ps.lx, text, len, dialect);
    int rc = parse_all(&ps);
    spec_lex_free(&ps.lx);
    if (rc < 0) {
        spec_free(ps.s);
        return -1;
    }
    *out = ps.s;
    return 0;
}

static void free_permutation(spec_permutation *p)
{
    for (int j = 0; j < p->nsteps; j++) {
        for (int k = 0; k < p->steps[j].nmarkers; k++)
            free(p->steps[j].markers[k].step_name);
        free(p->steps[j].markers);
        free(p->steps[j].name);
    }
    free(p->steps);
}

void spec_keep_last_permutation(spec *s)
{
    if (s->nperms < 2)
        return;
    for (int i = 0; i < s->nperms - 1; i++)
        free_permutation(&s->perms[i]);
    s->perms[0] = s->perms[s->nperms - 1];
    s->nperms = 1;
}

void spec_free(spec *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->nsetups; i++)
        free(s->setups[i]);
    free(s->setups);
    free(s->teardown);
    for (int i = 0; i < s->nsessions; i++) {
        spec_session *se = &s->sessions[i];
        for (int j = 0; j < se->nsteps; j++) {
            if (!se->steps[j])
                continue;
            free(se->steps[j]->name);
            free(se->steps[j]->sql);
            free(se->steps[j]);
        }
        free(se->steps);
        free(se->name);
        free(se->setup);
        free(se->teardown);
    }
    free(s->sessions);
    for (int i = 0; i < s->nperms; i++)
        free_permutation(&s->perms[i]);
    free(s->perms);
    for (int i = 0; i < s->ninvariants; i++) {
        free(s->invariants[i].name);
        free(s->invariants[i].sql);
    }
    free(s->invariants);
    for (int i = 0; i < s->nsettings; i++) {
        free(s->settings[i].name);
        free(s->settings[i].value);
    }
    free(s->settings);
    free(s);
}
