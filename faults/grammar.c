/*
 * grammar.c — parser of the fault rules (PGFAULT, pgrace --fault RULES).
 *
 * The grammar is in grammar.h.  Rules are parsed once, into an immutable
 * rule set, so that the statement path never parses or locks.  Every error
 * names the offending token ("bad fault rule at \"when=x\": expected a
 * number"): rules that silently did nothing would make a test pass for no
 * reason.  This file depends on nothing else in the shim so that the fuzz
 * test can link it alone.
 */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faults/grammar.h"
#include "lib/parse.h"

#define PGF_MAX_MSG 500
#define PGF_MAX_RE 512
#define PGF_MAX_REPEAT 100
#define PGF_MAX_DELAY_US 3600000000L
#define PGF_DOLLAR_TAG "$pgfault$"

struct parser {
    const char *text;
    const char *p;
    char *err;
    size_t errlen;
};

/* Fill err with `bad fault rule at "TOKEN": why`; the token is quoted C-style so
 * that the message stays on one line whatever the rules hold. */
static void bad(struct parser *ps, const char *tok, size_t toklen, const char *fmt, ...)
{
    char q[100];
    size_t n = 0;
    int cut = 0;
    for (size_t i = 0; i < toklen; i++) {
        unsigned char ch = (unsigned char)tok[i];
        if (n + 5 >= sizeof q - 4) { cut = 1; break; }
        if (ch == '"' || ch == '\\') { q[n++] = '\\'; q[n++] = (char)ch; }
        else if (ch < 0x20 || ch >= 0x7f) n += (size_t)snprintf(q + n, sizeof q - n, "\\x%02x", ch);
        else q[n++] = (char)ch;
    }
    q[n] = '\0';
    char why[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (ps->err && ps->errlen)
        snprintf(ps->err, ps->errlen, "bad fault rule at \"%s\"%s: %s", q, cut ? "..." : "", why);
}

/* Length of the option token at p: up to the next ':' or ';' not escaped. */
static size_t toklen(const char *p)
{
    size_t n = 0;
    while (p[n] && p[n] != ':' && p[n] != ';') {
        if (p[n] == '\\' && p[n + 1]) n++;
        n++;
    }
    return n;
}

/* Parse a decimal number that fills [s, s+len) exactly; -1 if it does not or
 * overflows `max`. */
static long number(const char *s, size_t len, long max)
{
    if (len == 0) return -1;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        int d = s[i] - '0';
        if (v > (max - d) / 10) return -1;
        v = v * 10 + d;
    }
    return v;
}

static int has_prefix(const char *tok, size_t len, const char *pre)
{
    size_t n = strlen(pre);
    return len >= n && strncmp(tok, pre, n) == 0;
}

/* Reject repetition bounds large enough to make regcomp's automaton explode
 * (a{30000}): rules are user input, possibly fuzzed. */
static int repeat_too_big(const char *re)
{
    for (const char *p = re; *p; p++) {
        if (*p == '\\' && p[1]) { p++; continue; }
        if (*p != '{') continue;
        long v = 0;
        for (const char *q = p + 1; *q && *q != '}'; q++) {
            if (isdigit((unsigned char)*q)) {
                v = v * 10 + (*q - '0');
                if (v > PGF_MAX_REPEAT) return 1;
            } else v = 0;
        }
    }
    return 0;
}

/* The literal a regex starts with, so that the statement path can reject
 * most statements with a strncasecmp instead of regexec (which allocates).
 * Only for regexes without alternation; a quantifier takes its operand
 * back out of the literal. */
static void literal_prefix(struct pgf_rule *r, const char *re)
{
    if (strchr(re, '|')) return;
    const char *p = re;
    int anchored = *p == '^';
    if (anchored) p++;
    size_t n = 0;
    while (*p && n < sizeof r->lit - 1) {
        if (strchr(".[]()*+?{}\\^$", *p)) break;
        r->lit[n++] = *p++;
    }
    int whole = *p == '\0';
    if (*p == '*' || *p == '?' || *p == '{' || *p == '+') {
        if (n) n--;
        whole = 0;
    }
    if (!anchored && !whole) n = 0; /* an unanchored prefix tells nothing */
    r->lit[n] = '\0';
    r->lit_len = n;
    r->lit_anchored = anchored;
    r->lit_whole = whole && n > 0;
}

static int parse_target(struct parser *ps, struct pgf_rule *r)
{
    const char *t = ps->p;
    if (strncmp(t, "sql=/", 5) == 0) {
        char buf[PGF_MAX_RE + 1];
        size_t n = 0;
        const char *q = t + 5;
        for (; *q && *q != '/'; q++) {
            char ch = *q;
            if (ch == '\\' && q[1] == '/') { ch = '/'; q++; }
            else if (ch == '\\' && q[1]) { if (n < PGF_MAX_RE) buf[n++] = ch; ch = *++q; }
            if (n < PGF_MAX_RE) buf[n++] = ch;
            else { bad(ps, t, (size_t)(q - t) + 1, "regex longer than %d bytes", PGF_MAX_RE); return -1; }
        }
        if (*q != '/') { bad(ps, t, strlen(t), "unterminated regex (expected a closing \"/\")"); return -1; }
        buf[n] = '\0';
        size_t len = (size_t)(q - t) + 1;
        if (n == 0) { bad(ps, t, len, "empty regex"); return -1; }
        if (repeat_too_big(buf)) { bad(ps, t, len, "regex repetition count over %d", PGF_MAX_REPEAT); return -1; }
        int rc = regcomp(&r->re, buf, REG_EXTENDED | REG_ICASE | REG_NOSUB);
        if (rc != 0) {
            char why[100];
            regerror(rc, &r->re, why, sizeof why);
            bad(ps, t, len, "invalid regex: %s", why);
            return -1;
        }
        r->target = PGF_T_SQL;
        literal_prefix(r, buf);
        ps->p = q + 1;
        if (*ps->p && *ps->p != ':' && *ps->p != ';') {
            bad(ps, t, len + toklen(ps->p), "junk after the regex's closing \"/\"");
            regfree(&r->re);
            r->target = PGF_T_STMT;
            return -1;
        }
        return 0;
    }
    size_t len = toklen(t);
    static const struct { const char *name; enum pgf_target t; } names[] = {
        {"stmt", PGF_T_STMT}, {"commit", PGF_T_COMMIT},
        {"rollback", PGF_T_ROLLBACK}, {"begin", PGF_T_BEGIN},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (len == strlen(names[i].name) && strncmp(t, names[i].name, len) == 0) {
            r->target = names[i].t;
            ps->p = t + len;
            return 0;
        }
    }
    bad(ps, t, len ? len : 1, len ? "unknown target (expected stmt, commit, rollback, begin or sql=/RE/)"
                              : "empty rule");
    return -1;
}

/* prob=P: 0, 1, or 0.ddd / 1.000; our own parser, because strtod follows the
 * host program's LC_NUMERIC. */
static int parse_prob(const char *s, size_t len, double *out)
{
    size_t i = 0;
    double v = 0;
    if (len == 0 || !isdigit((unsigned char)s[0])) return -1;
    while (i < len && isdigit((unsigned char)s[i])) { v = v * 10 + (s[i] - '0'); i++; if (v > 1) return -1; }
    if (i < len && s[i] == '.') {
        i++;
        if (i == len) return -1;
        double scale = 0.1;
        for (; i < len; i++) {
            if (!isdigit((unsigned char)s[i])) return -1;
            v += (s[i] - '0') * scale;
            scale /= 10;
        }
    }
    if (i != len || v > 1.0) return -1;
    *out = v;
    return 0;
}

/* Gives r its one action a; -1 when it already has one. */
static int set_action(struct parser *ps, struct pgf_rule *r, const char *tok, size_t len, enum pgf_action a)
{
    if (r->action != PGF_A_NONE) {
        bad(ps, tok, len, "a rule takes exactly one action (error=, drop, ambiguous or delay=)");
        return -1;
    }
    r->action = a;
    return 0;
}

/* The options of a rule, after its target.  Each opt_ function parses one
 * option token tok[0, len), the whole of it, into r: 0, or -1 with the
 * error in ps. */

/* A rule's `seen` set: the options a rule may give at most once. */
enum { S_WHEN = 1, S_PROB = 2, S_SEED = 4, S_SCOPE = 8, S_CONN = 16, S_AFTER = 32 };

/* when=N, N..M, N+K or N+: which matches of the target, counted from 1,
 * the rule fires on. */
static int opt_when(struct parser *ps, struct pgf_rule *r, const char *tok, size_t len)
{
    const char *s = tok + 5, *end = tok + len;
    const char *q = s;
    while (q < end && isdigit((unsigned char)*q)) q++;
    long n = number(s, (size_t)(q - s), LONG_MAX / 4);
    if (n < 1) { bad(ps, tok, len, "expected a number from 1"); return -1; }
    r->when_from = n; r->when_to = n; r->when_step = 0;
    if (q == end) {
    } else if (*q == '+' ) {
        q++;
        r->when_to = -1;
        if (q == end) r->when_step = 1;
        else {
            long k = number(q, (size_t)(end - q), LONG_MAX / 4);
            if (k < 1) { bad(ps, tok, len, "expected a step from 1 after \"+\""); return -1; }
            r->when_step = k;
        }
    } else if (end - q >= 2 && q[0] == '.' && q[1] == '.') {
        q += 2;
        long m = number(q, (size_t)(end - q), LONG_MAX / 4);
        if (m < 1) { bad(ps, tok, len, "expected a number after \"..\""); return -1; }
        if (m < n) { bad(ps, tok, len, "empty range"); return -1; }
        r->when_to = m;
    } else {
        bad(ps, tok, len, "expected N, N..M, N+K or N+");
        return -1;
    }
    return 0;
}

static int opt_prob(struct parser *ps, struct pgf_rule *r, const char *tok, size_t len)
{
    if (parse_prob(tok + 5, len - 5, &r->prob) < 0) {
        bad(ps, tok, len, "expected a probability from 0 to 1");
        return -1;
    }
    r->has_prob = 1;
    return 0;
}

static int opt_seed(struct parser *ps, struct pgf_rule *r, const char *tok, size_t len)
{
    long s = number(tok + 5, len - 5, LONG_MAX);
    if (s < 0) { bad(ps, tok, len, "expected a number"); return -1; }
    r->seed = (uint64_t)s;
    return 0;
}

/* scope=conn or scope=proc (the table matches only these two). */
static int opt_scope(struct parser *ps, struct pgf_rule *r, const char *tok, size_t len)
{
    (void)ps; (void)len;
    r->scope_proc = strncmp(tok, "scope=proc", 10) == 0;
    return 0;
}

static int opt_conn(struct parser *ps, struct pgf_rule *r, const char *tok, size_t len)
{
    long k = number(tok + 5, len - 5, INT_MAX);
    if (k < 1) { bad(ps, tok, len, "expected a connection number from 1"); return -1; }
    r->conn = (int)k;
    return 0;
}

/* error=SQLSTATE[/MESSAGE]: the server raises it (r->raise_sql). */
static int opt_error(struct parser *ps, struct pgf_rule *r, const char *tok, size_t len)
{
    const char *s = tok + 6;
    size_t n = len - 6;
    size_t codelen = 0;
    while (codelen < n && s[codelen] != '/') codelen++;
    if (codelen != 5) { bad(ps, tok, len, "expected a 5-character SQLSTATE"); return -1; }
    for (int i = 0; i < 5; i++) {
        if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'A' && s[i] <= 'Z')) {
            bad(ps, tok, len, "a SQLSTATE is 5 digits or upper-case letters");
            return -1;
        }
    }
    if (s[0] == '0' && (s[1] == '0' || s[1] == '1' || s[1] == '2')) {
        bad(ps, tok, len, "SQLSTATE class %.2s is not an error", s);
        return -1;
    }
    memcpy(r->sqlstate, s, 5);
    r->sqlstate[5] = '\0';
    char msg[PGF_MAX_MSG + 1];
    size_t m = 0;
    if (codelen < n) {
        for (size_t i = codelen + 1; i < n; i++) {
            char ch = s[i];
            if (ch == '\\' && i + 1 < n) ch = s[++i];
            if (m >= PGF_MAX_MSG) { bad(ps, tok, len, "message longer than %d bytes", PGF_MAX_MSG); return -1; }
            msg[m++] = ch;
        }
        if (m == 0) { bad(ps, tok, len, "empty message after \"/\""); return -1; }
    }
    msg[m] = '\0';
    if (m == 0) snprintf(msg, sizeof msg, "%s", pgf_default_message(r->sqlstate));
    if (strstr(msg, PGF_DOLLAR_TAG) || strchr(msg, '\n')) {
        bad(ps, tok, len, "the message may not contain %s or a newline", PGF_DOLLAR_TAG);
        return -1;
    }
    /* The error is raised by the server, so that the client sees a genuine
     * ErrorResponse and the server-side transaction really aborts. */
    static const char fmt[] =
        "DO $pgfaultdo$BEGIN RAISE EXCEPTION USING ERRCODE = '%s', MESSAGE = "
        PGF_DOLLAR_TAG "%s" PGF_DOLLAR_TAG ", HINT = 'injected by pgfault'; END$pgfaultdo$";
    size_t need = sizeof fmt + strlen(msg) + 8;
    r->raise_sql = malloc(need);
    if (!r->raise_sql) { bad(ps, tok, len, "out of memory"); return -1; }
    snprintf(r->raise_sql, need, fmt, r->sqlstate, msg);
    snprintf(r->action_text, sizeof r->action_text, "error=%s", r->sqlstate);
    return 0;
}

/* drop or ambiguous: nothing to parse, the word names the action. */
static int opt_action_word(struct parser *ps, struct pgf_rule *r, const char *tok, size_t len)
{
    (void)ps;
    snprintf(r->action_text, sizeof r->action_text, "%.*s", (int)len, tok);
    return 0;
}

static int opt_delay(struct parser *ps, struct pgf_rule *r, const char *tok, size_t len)
{
    int64_t ns;
    if (parse_duration_n(tok + 6, len - 6, PGF_MAX_DELAY_US * 1000LL, &ns) < 0) {
        bad(ps, tok, len, "expected a duration of at most 1h, a number and its unit (us, ms, s, m, h), "
                          "such as 500us, 30ms or 2s");
        return -1;
    }
    r->delay_us = (long)(ns / 1000);
    snprintf(r->action_text, sizeof r->action_text, "delay=%ldus", r->delay_us);
    return 0;
}

/* after: the delay comes after the statement's result, not before it. */
static int opt_after(struct parser *ps, struct pgf_rule *r, const char *tok, size_t len)
{
    if (r->action != PGF_A_DELAY) { bad(ps, tok, len, "\"after\" must follow delay="); return -1; }
    r->delay_after = 1;
    size_t n = strlen(r->action_text);
    snprintf(r->action_text + n, sizeof r->action_text - n, ":after");
    return 0;
}

/* Every option.  A name that ends in '=' takes a value (it matches as a
 * prefix); any other is the whole token.  An action option first claims
 * the rule's one action (set_action), then parses. */
static const struct option {
    const char *name;
    unsigned once;              /* its S_ bit; 0 for an action (set_action refuses a second) */
    enum pgf_action action;     /* PGF_A_NONE for a non-action option */
    int (*parse)(struct parser *ps, struct pgf_rule *r, const char *tok, size_t len);
} options[] = {
    {"when=", S_WHEN, PGF_A_NONE, opt_when},
    {"prob=", S_PROB, PGF_A_NONE, opt_prob},
    {"seed=", S_SEED, PGF_A_NONE, opt_seed},
    {"scope=conn", S_SCOPE, PGF_A_NONE, opt_scope},
    {"scope=proc", S_SCOPE, PGF_A_NONE, opt_scope},
    {"conn=", S_CONN, PGF_A_NONE, opt_conn},
    {"error=", 0, PGF_A_ERROR, opt_error},
    {"drop", 0, PGF_A_DROP, opt_action_word},
    {"ambiguous", 0, PGF_A_AMBIGUOUS, opt_action_word},
    {"delay=", 0, PGF_A_DELAY, opt_delay},
    {"after", S_AFTER, PGF_A_NONE, opt_after},
};

static const struct option *find_option(const char *tok, size_t len)
{
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
        const char *name = options[i].name;
        size_t n = strlen(name);
        if (name[n - 1] == '=' ? has_prefix(tok, len, name) : len == n && strncmp(tok, name, n) == 0)
            return &options[i];
    }
    return NULL;
}

/* Parse the option at ps->p (after its ':') into r, and move ps->p past
 * it.  *seen collects the S_ bits of the rule's options so far. */
static int parse_option(struct parser *ps, struct pgf_rule *r, unsigned *seen)
{
    const char *tok = ps->p;
    size_t len = toklen(tok);
    ps->p = tok + len;
    if (len == 0) { bad(ps, tok - 1, 1, "empty option"); return -1; }
    const struct option *o = find_option(tok, len);
    if (!o) { bad(ps, tok, len, "unknown option"); return -1; }
    if (o->action != PGF_A_NONE && set_action(ps, r, tok, len, o->action) < 0) return -1;
    if (o->parse(ps, r, tok, len) < 0) return -1;
    if (o->once & *seen) { bad(ps, tok, len, "option given twice in one rule"); return -1; }
    *seen |= o->once;
    return 0;
}

static void rule_free(struct pgf_rule *r)
{
    if (r->target == PGF_T_SQL) regfree(&r->re);
    free(r->text);
    free(r->raise_sql);
    r->text = r->raise_sql = NULL;
    r->target = PGF_T_STMT;
}

void pgf_ruleset_free(struct pgf_ruleset *rs)
{
    if (!rs) return;
    for (int i = 0; i < rs->nrules; i++) rule_free(&rs->rules[i]);
    free(rs);
}

struct pgf_ruleset *pgf_rules_parse(const char *text, char *err, size_t errlen, int *status)
{
    struct parser ps = {text, text, err, errlen};
    *status = 0;
    if (err && errlen) err[0] = '\0';
    if (!text) return NULL;
    while (*ps.p == ' ' || *ps.p == '\t') ps.p++;
    const char *end = ps.p + strlen(ps.p);
    while (end > ps.p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n')) end--;
    if (end == ps.p) return NULL;

    /* Work on a trimmed copy so that every scan can stop at '\0'. */
    size_t slen = (size_t)(end - ps.p);
    char *copy = malloc(slen + 1);
    struct pgf_ruleset *rs = calloc(1, sizeof *rs);
    if (!copy || !rs) {
        free(copy); free(rs);
        if (err && errlen) snprintf(err, errlen, "out of memory");
        *status = -1;
        return NULL;
    }
    memcpy(copy, ps.p, slen);
    copy[slen] = '\0';
    ps.text = ps.p = copy;

    for (;;) {
        if (rs->nrules == PGF_MAX_RULES) {
            bad(&ps, ps.p, toklen(ps.p), "too many rules (at most %d)", PGF_MAX_RULES);
            goto fail;
        }
        struct pgf_rule *r = &rs->rules[rs->nrules];
        r->index = rs->nrules + 1;
        const char *start = ps.p;
        if (parse_target(&ps, r) < 0) goto fail;
        rs->nrules++;
        unsigned seen = 0;
        while (*ps.p == ':') {
            ps.p++;
            if (parse_option(&ps, r, &seen) < 0) goto fail;
        }
        size_t rlen = (size_t)(ps.p - start);
        if (r->action == PGF_A_NONE) {
            bad(&ps, start, rlen, "rule has no action (error=, drop, ambiguous or delay=)");
            goto fail;
        }
        if ((seen & S_SEED) && !r->has_prob) { bad(&ps, start, rlen, "seed= without prob="); goto fail; }
        if (!(seen & S_WHEN)) {
            /* No when: with prob, every match is a candidate; without, the first. */
            r->when_from = 1;
            r->when_to = r->has_prob ? -1 : 1;
            r->when_step = 0;
        }
        r->text = strndup(start, rlen);
        if (!r->text) { bad(&ps, start, rlen, "out of memory"); goto fail; }
        if (*ps.p == '\0') break;
        /* *ps.p == ';' here: toklen stops only at ':' ';' or the end. */
        ps.p++;
        while (*ps.p == ' ' || *ps.p == '\t' || *ps.p == '\n') ps.p++;
        if (*ps.p == '\0') { bad(&ps, ps.p - 1, 1, "empty rule after \";\""); goto fail; }
    }
    free(copy);
    return rs;
fail:
    free(copy);
    pgf_ruleset_free(rs);
    *status = -1;
    return NULL;
}

/* The server's own wording for the SQLSTATEs a test injects most, so that
 * logs and client messages look like the real failure. */
const char *pgf_default_message(const char *sqlstate)
{
    static const struct { const char *code, *msg; } m[] = {
        {"40001", "could not serialize access due to concurrent update"},
        {"40P01", "deadlock detected"},
        {"23505", "duplicate key value violates unique constraint"},
        {"23503", "insert or update on table violates foreign key constraint"},
        {"23502", "null value in column violates not-null constraint"},
        {"23514", "new row violates check constraint"},
        {"55P03", "could not obtain lock on row in relation"},
        {"57014", "canceling statement due to user request"},
        {"57P01", "terminating connection due to administrator command"},
        {"53300", "sorry, too many clients already"},
        {"25P02", "current transaction is aborted, commands ignored until end of transaction block"},
        {"40003", "statement completion unknown"},
        {"42P01", "relation does not exist"},
        {"22012", "division by zero"},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (strcmp(m[i].code, sqlstate) == 0) return m[i].msg;
    return "injected error";
}
