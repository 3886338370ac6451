/*
 * pgf_spec_fuzz.c — the fault-spec parser against thousands of random and
 * mutated specs: it never crashes (the sanitizer builds run this too), every
 * spec it rejects gets one line naming a token that is really in the spec,
 * and every spec generated from the grammar is accepted.
 * Deterministic: the seed is fixed (PGF_FUZZ_SEED overrides, PGF_FUZZ_N the
 * count) so that a failure reproduces.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faults/pgf_int.h"
#include "t/unit/check.h"

/* A point; when it fails, the spec and the parser's message. */
static void ok(int cond, const char *what, const char *spec, const char *err)
{
    if (!CHECK(cond, "%s", what))
        check_diag("spec: '%s'\nerr: '%s'", spec, err);
}

static unsigned long long rng_state;
static unsigned rnd(unsigned n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)((rng_state >> 33) % n);
}

static const char *pick(const char *const *v, size_t n) { return v[rnd((unsigned)n)]; }
#define PICK(a) pick(a, sizeof a / sizeof a[0])

/* A rule from the grammar: always valid. */
static void gen_rule(char *out, size_t cap)
{
    static const char *const targets[] = {"stmt", "commit", "rollback", "begin", "sql=/^UPDATE/",
        "sql=/for update/", "sql=/a\\/b/", "sql=/^(insert|delete) into t[0-9]+/", "sql=/x{1,3}/"};
    static const char *const actions[] = {"error=40001", "error=40P01", "error=23505/dup key",
        "error=XX000/with \\: colon", "drop", "ambiguous", "delay=30ms", "delay=5us:after", "delay=1s"};
    size_t n = (size_t)snprintf(out, cap, "%s", PICK(targets));
    int has_prob = rnd(3) == 0;
    if (rnd(2)) {
        switch (rnd(4)) {
        case 0: n += (size_t)snprintf(out + n, cap - n, ":when=%u", 1 + rnd(9)); break;
        case 1: n += (size_t)snprintf(out + n, cap - n, ":when=%u..%u", 2 + rnd(3), 5 + rnd(9)); break;
        case 2: n += (size_t)snprintf(out + n, cap - n, ":when=%u+%u", 1 + rnd(9), 1 + rnd(9)); break;
        default: n += (size_t)snprintf(out + n, cap - n, ":when=%u+", 1 + rnd(9)); break;
        }
    }
    if (has_prob) n += (size_t)snprintf(out + n, cap - n, ":prob=0.%u:seed=%u", rnd(100), rnd(1000));
    if (rnd(3) == 0) n += (size_t)snprintf(out + n, cap - n, ":scope=%s", rnd(2) ? "proc" : "conn");
    if (rnd(3) == 0) n += (size_t)snprintf(out + n, cap - n, ":conn=%u", 1 + rnd(8));
    snprintf(out + n, cap - n, ":%s", PICK(actions));
}

static void gen_spec(char *out, size_t cap)
{
    int rules = 1 + (int)rnd(4);
    size_t n = 0;
    for (int i = 0; i < rules && n < cap; i++) {
        if (i) out[n++] = ';';
        gen_rule(out + n, cap - n);
        n += strlen(out + n);
    }
    out[n] = '\0';
}

static void mutate(char *s, size_t cap)
{
    static const char alphabet[] = ":;/=.+\\0123456789abcdefghijklmnopqrstuvwxyzAP{}[]()*?|^$ \"\t\x01\xc3\xa9";
    static const char *const frags[] = {"when=", "..", "+", ":", ";", "sql=/", "/", "error=", "drop",
        "prob=", "seed=", "delay=", "after", "ms", "us", "s", "conn=", "scope=", "999999999999999999999",
        "0", "1.5", "(", "[", "{200}", "\\"};
    int rounds = 1 + (int)rnd(3);
    for (int r = 0; r < rounds; r++) {
        size_t len = strlen(s);
        size_t at = len ? rnd((unsigned)len + 1) : 0;
        switch (rnd(5)) {
        case 0: if (len) s[rnd((unsigned)len)] = alphabet[rnd(sizeof alphabet - 1)]; break;
        case 1: if (at < len) memmove(s + at, s + at + 1, len - at); break;
        case 2: s[at] = '\0'; break;
        case 3: case 4: {
            const char *f = PICK(frags);
            size_t fl = strlen(f);
            if (len + fl + 1 < cap) {
                memmove(s + at + fl, s + at, len - at + 1);
                memcpy(s + at, f, fl);
            }
            break;
        }
        }
    }
}

/* Undo the C-style quoting of the token in `bad fault rule at "TOKEN"`. */
static int token_of(const char *err, char *tok, size_t cap)
{
    const char *pre = "bad fault rule at \"";
    if (strncmp(err, pre, strlen(pre)) != 0) return -1;
    const char *p = err + strlen(pre);
    size_t n = 0;
    while (*p && *p != '"' && n + 1 < cap) {
        if (*p == '\\' && p[1] == 'x') {
            unsigned v;
            if (sscanf(p + 2, "%2x", &v) != 1) return -1;
            tok[n++] = (char)v;
            p += 4;
        } else if (*p == '\\' && p[1]) {
            tok[n++] = p[1];
            p += 2;
        } else {
            tok[n++] = *p++;
        }
    }
    tok[n] = '\0';
    if (*p != '"') return -1;
    if (strncmp(p, "\": ", 3) != 0 && strncmp(p, "\"...: ", 6) != 0) return -1;
    return n ? 0 : -1;
}

/* Check one spec; returns 1 if the parser accepted it. */
static int check(const char *spec, int must_accept, int *bad_msg)
{
    char err[PGF_ERRLEN];
    int status;
    struct pgf_ruleset *rs = pgf_rules_parse(spec, err, sizeof err, &status);
    pgf_ruleset_free(rs);
    if (status == 0) {
        if (must_accept) return 1;
        return 1;
    }
    char tok[200];
    if (strchr(err, '\n') || token_of(err, tok, sizeof tok) < 0 || !strstr(spec, tok)) {
        if (*bad_msg == 0) check_diag("bad message for '%s': '%s'", spec, err);
        (*bad_msg)++;
    }
    if (must_accept) {
        check_diag("valid spec rejected: '%s': %s", spec, err);
        *bad_msg += 1000000;
    }
    return 0;
}

int main(void)
{
    unsigned long seed = getenv("PGF_FUZZ_SEED") ? strtoul(getenv("PGF_FUZZ_SEED"), NULL, 10) : 20240601;
    int n = getenv("PGF_FUZZ_N") ? atoi(getenv("PGF_FUZZ_N")) : 20000;
    rng_state = seed;
    check_diag("seed %lu, %d specs", seed, n);

    /* Fixed cases: each names the token it must. */
    static const struct { const char *spec, *token; } badv[] = {
        {"commit:when=x:error=40001", "when=x"}, {"commit:when=0:drop", "when=0"},
        {"commit:when=5..3:drop", "when=5..3"}, {"commit:when=2+0:drop", "when=2+0"},
        {"comit:drop", "comit"}, {"commit", "commit"}, {"commit:drop:ambiguous", "ambiguous"},
        {"commit:error=4001", "error=4001"}, {"commit:error=00000", "error=00000"},
        {"commit:prob=1.5:drop", "prob=1.5"}, {"commit:seed=3:drop", "commit:seed=3:drop"},
        {"sql=/abc:drop", "sql=/abc:drop"}, {"sql=/(/:drop", "sql=/(/"}, {"sql=//:drop", "sql=//"},
        {"commit:delay=30:drop", "delay=30"}, {"commit:delay=3h", "delay=3h"},
        {"commit:after:drop", "after"}, {"commit:drop;", ";"}, {"commit:drop;;stmt:drop", ";"},
        {"commit:scope=thread:drop", "scope=thread"}, {"commit:conn=0:drop", "conn=0"},
        {"commit:when=1:when=2:drop", "when=2"}, {"commit:frobnicate:drop", "frobnicate"},
        {"commit:drop:", ":"}, {"sql=/a{999}/:drop", "sql=/a{999}/"},
        {"commit:when=99999999999999999999999:drop", "when=99999999999999999999999"},
        {"commit:error=40001/:drop", "error=40001/"}, {"sql=/x/y:drop", "sql=/x/y"},
    };
    for (size_t i = 0; i < sizeof badv / sizeof badv[0]; i++) {
        char err[PGF_ERRLEN], tok[200];
        int status;
        pgf_ruleset_free(pgf_rules_parse(badv[i].spec, err, sizeof err, &status));
        int good = status < 0 && !strchr(err, '\n') && token_of(err, tok, sizeof tok) == 0 && strcmp(tok, badv[i].token) == 0;
        char what[300];
        snprintf(what, sizeof what, "rejects '%s' naming \"%s\"", badv[i].spec, badv[i].token);
        ok(good, what, badv[i].spec, err);
    }
    static const char *const goodv[] = {"", "   ", "commit:when=1:error=40001", "sql=/^UPDATE identities/:when=1:drop",
        "commit:when=2+3:ambiguous", "sql=/FOR UPDATE/:delay=30ms:after", "stmt:prob=0.02:seed=7:error=40P01",
        "begin:when=1..3:scope=proc:conn=2:drop; rollback:when=4+:delay=1s",
        "stmt:error=40001/could not serialize \\; really", "sql=/a\\/b/:error=XX000"};
    for (size_t i = 0; i < sizeof goodv / sizeof goodv[0]; i++) {
        char err[PGF_ERRLEN], what[300];
        int status;
        pgf_ruleset_free(pgf_rules_parse(goodv[i], err, sizeof err, &status));
        snprintf(what, sizeof what, "accepts '%s'", goodv[i]);
        ok(status == 0, what, goodv[i], err);
    }

    int bad_msg = 0, rejected = 0, accepted = 0;
    char spec[1024];
    for (int i = 0; i < n / 2; i++) {
        gen_spec(spec, sizeof spec - 200);
        accepted += check(spec, 1, &bad_msg);
    }
    ok(bad_msg == 0 && accepted == n / 2, "every generated spec accepted", "", "");
    int generated_bad = bad_msg;
    for (int i = 0; i < n - n / 2; i++) {
        gen_spec(spec, sizeof spec - 200);
        mutate(spec, sizeof spec);
        if (check(spec, 0, &bad_msg)) accepted++;
        else rejected++;
    }
    for (int i = 0; i < 2000; i++) {
        size_t len = rnd(60);
        for (size_t j = 0; j < len; j++) spec[j] = (char)(1 + rnd(255));
        spec[len] = '\0';
        if (!check(spec, 0, &bad_msg)) rejected++;
    }
    check_diag("%d rejected, %d accepted", rejected, accepted);
    ok(bad_msg == generated_bad, "every rejection is one line naming a token of the spec", "", "");
    ok(rejected > n / 10, "mutations do get rejected", "", "");
    return check_done();
}
