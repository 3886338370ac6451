/* lib_basics.c — unit tests of lib/: errors, numbers and durations, RNG,
 * histogram, TAP. */
#include "t/unit/check.h"

#include "lib/clock.h"
#include "lib/err.h"
#include "lib/hist.h"
#include "lib/parse.h"
#include "lib/rng.h"
#include "lib/tap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_err(void)
{
    char e[64];
    err_set(e, sizeof e, "line one\nline two\t%d\n", 3);
    CHECK(strcmp(e, "line one line two 3") == 0, "err_set makes one line: '%s'", e);
    err_sys(e, sizeof e, ENOENT, "open(%s)", "x");
    CHECK(strcmp(e, "open(x): No such file or directory") == 0, "err_sys appends strerror: '%s'", e);
    char tiny[8];
    err_set(tiny, sizeof tiny, "%s", "much longer than eight");
    CHECK(strlen(tiny) == 7, "err_set truncates to the buffer");
}

static void test_durations(void)
{
    const int64_t hour = 3600LL * 1000000000;
    struct { const char *text; int ok; int64_t ns; } cases[] = {
        { "250us", 1, 250000 }, { "30ms", 1, 30000000 }, { "2s", 1, 2000000000 }, { "1.5ms", 1, 1500000 },
        { "2m", 1, 120000000000LL }, { "1h", 1, 3600000000000LL }, { "0.5s", 1, 500000000 },
        /* A bare number is not a duration anywhere: the unit is written. */
        { "5", 0, 0 }, { "", 0, 0 }, { "ms", 0, 0 }, { "-1ms", 0, 0 }, { "3min", 0, 0 }, { "2h", 0, 0 },
        { "1e9s", 0, 0 }, { "+5ms", 0, 0 }, { "1.ms", 0, 0 }, { ".5s", 0, 0 }, { "5 ms", 0, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ns = -1;
        int rc = parse_duration(cases[i].text, hour, &ns);
        if (cases[i].ok)
            CHECK(rc == 0 && ns == cases[i].ns, "duration '%s' is %lld ns", cases[i].text, (long long)cases[i].ns);
        else
            CHECK(rc == -1, "duration '%s' is rejected (at most 1h)", cases[i].text);
    }
    int64_t ns;
    CHECK(parse_duration_n("30msjunk", 4, hour, &ns) == 0 && ns == 30000000, "a duration in a slice of a spec");
    long v;
    CHECK(parse_long("42", 1, 100, &v) == 0 && v == 42, "a whole number in range");
    CHECK(parse_long("0", 1, 100, &v) < 0 && parse_long("101", 1, 100, &v) < 0 && parse_long("-3", 0, 9, &v) < 0 &&
          parse_long("4x", 1, 9, &v) < 0 && parse_long("", 1, 9, &v) < 0 &&
          parse_long("99999999999999999999999", 1, 9, &v) < 0, "numbers out of range or malformed are rejected");
    uint64_t seed;
    CHECK(parse_seed("18446744073709551615", &seed) == 0 && seed == UINT64_MAX, "the largest seed");
    CHECK(parse_seed("18446744073709551616", &seed) < 0 && parse_seed("-1", &seed) < 0 &&
          parse_seed("abc", &seed) < 0, "seeds past 2^64 - 1, negative or not numbers are rejected");
    int64_t t0 = clock_now_ns();
    clock_sleep_ns(1000000);
    CHECK(clock_now_ns() - t0 >= 1000000, "clock_sleep_ns sleeps at least as long as asked");
}

static void test_rng(void)
{
    rng a, b, c;
    rng_init(&a, 42, 1);
    rng_init(&b, 42, 1);
    rng_init(&c, 42, 2);
    int same = 1, differs = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = rng_next(&a), y = rng_next(&b), z = rng_next(&c);
        same &= x == y;
        differs |= x != z;
    }
    CHECK(same, "same seed and stream give the same sequence");
    CHECK(differs, "another stream gives another sequence");
    int counts[10] = { 0 }, in_range = 1;
    for (int i = 0; i < 100000; i++) {
        uint64_t v = rng_below(&a, 10);
        in_range &= v < 10;
        if (v < 10)
            counts[v]++;
    }
    int even = 1;
    for (int i = 0; i < 10; i++)
        even &= counts[i] > 9000 && counts[i] < 11000;
    CHECK(in_range && even, "rng_below(10) is in range and roughly uniform");
    double u = rng_unit(&a);
    CHECK(u >= 0 && u < 1, "rng_unit is in [0, 1)");
}

static void test_hist(void)
{
    hist *h = malloc(sizeof *h), *g = malloc(sizeof *g);
    if (!h || !g)
        abort();
    hist_init(h);
    CHECK(hist_quantile(h, 0.5) == 0, "an empty histogram answers 0");
    for (int64_t v = 1; v <= 100000; v++)
        hist_add(h, v * 1000);      /* 1us .. 100ms, uniform */
    int64_t p50 = hist_quantile(h, 0.5), p99 = hist_quantile(h, 0.99);
    CHECK(p50 >= 48500000 && p50 <= 51500000, "p50 within 3%% (%lld)", (long long)p50);
    CHECK(p99 >= 96000000 && p99 <= 102000000, "p99 within 3%% (%lld)", (long long)p99);
    CHECK(hist_quantile(h, 0) == 1000 && hist_quantile(h, 1) == 100000000, "min and max are exact");
    hist_init(g);
    hist_add(g, 5);
    hist_merge(g, h);
    CHECK(g->count == 100001 && g->min == 5 && g->max == 100000000, "merge adds counts and bounds");
    hist_add(g, (int64_t)1 << 50);
    CHECK(hist_quantile(g, 1) == (int64_t)1 << 50, "values past the last bucket keep an exact max");
    free(h);
    free(g);
}

static void test_tap_yaml(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    json_t *d = json_pack("{s:s, s:i, s:[s,s], s:{s:b}}", "found", "2 credentials: \"quoted\"\nnext",
                          "record", 17, "calls", "worker 1: ok", "worker 2: ok", "nested", "flag", 1);
    tap_yaml(f, d, 2);
    fclose(f);
    const char *want = "  found: \"2 credentials: \\\"quoted\\\"\\nnext\"\n"
                       "  record: 17\n"
                       "  calls:\n    - \"worker 1: ok\"\n    - \"worker 2: ok\"\n"
                       "  nested:\n    flag: true\n";
    CHECK(strcmp(buf, want) == 0, "YAML diagnostics quote and nest safely");
    if (strcmp(buf, want) != 0)
        check_diag("got:\n%s", buf);
    json_decref(d);
    free(buf);
}

int main(void)
{
    test_err();
    test_durations();
    test_rng();
    test_hist();
    test_tap_yaml();
    return check_done();
}
