/*
 * junit.c — the record as JUnit XML, valid against the strict Ant schema
 * (reports/junit.xsd), which Jenkins, GitLab and GitHub reporters also
 * read.
 *
 * One <testsuite> per item (a drive of scenario/variant [plan], or a spec
 * file), one <testcase> per point (an invariant, or a permutation). A
 * violated point has a <failure type="invariant-violated">, an error an
 * <error>, a skipped point <skipped>; the message says why or how often,
 * the text is the point's diagnostics as the TAP YAML block. An item that
 * stopped early marks every point it did not reach with an <error>. The
 * schema allows no attribute on <testsuites> and requires, in order,
 * <properties>, the testcases, <system-out> and <system-err> in every
 * testsuite, and package, id, hostname and a timestamp without zone on
 * each aggregated testsuite. Times are seconds; a point without a time of
 * its own (an invariant, checked after every iteration) gets its item's
 * time shared equally.
 */
#include "reports/rep.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void property(FILE *f, const char *name, const char *value)
{
    fputs("      <property name=\"", f);
    rep_xml_text(f, name);
    fputs("\" value=\"", f);
    rep_xml_text(f, value ? value : "");
    fputs("\"/>\n", f);
}

/* Each scalar of the item's settings, and the others as JSON text. */
static void settings_properties(FILE *f, json_t *settings)
{
    const char *key;
    json_t *v;
    json_object_foreach(settings, key, v) {
        char buf[64];
        if (json_is_string(v)) {
            property(f, key, json_string_value(v));
        } else if (json_is_null(v)) {
            continue;
        } else if (json_is_integer(v) || json_is_real(v) || json_is_boolean(v)) {
            if (json_is_integer(v))
                snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            else if (json_is_real(v))
                snprintf(buf, sizeof buf, "%g", json_real_value(v));
            else
                snprintf(buf, sizeof buf, "%s", json_is_true(v) ? "true" : "false");
            property(f, key, buf);
        } else {
            char *text = json_dumps(v, JSON_COMPACT);
            if (text && strcmp(text, "[]") != 0 && strcmp(text, "{}") != 0)
                property(f, key, text);
            free(text);
        }
    }
}

/* The calls of each outcome and their latency percentiles, as properties. */
static void latency_properties(FILE *f, const rep_item *it)
{
    static const struct { const char *name; double q; } qs[] = {
        { "p50", 0.5 }, { "p90", 0.9 }, { "p99", 0.99 }, { "max", 1.0 },
    };
    char name[64], buf[64];
    for (int k = 0; k < 4; k++) {
        if (!it->latency[k].count)
            continue;
        snprintf(name, sizeof name, "calls.%s", outcome_name(k));
        snprintf(buf, sizeof buf, "%ld", it->outcomes[k]);
        property(f, name, buf);
        for (size_t q = 0; q < sizeof qs / sizeof qs[0]; q++) {
            snprintf(name, sizeof name, "latency.%s.%s_ms", outcome_name(k), qs[q].name);
            snprintf(buf, sizeof buf, "%.3f", (double)hist_quantile(&it->latency[k], qs[q].q) / 1e6);
            property(f, name, buf);
        }
    }
}

/* What the run and the item ran with, and what came of it. */
static void properties(FILE *f, const report *r, const rep_item *it)
{
    char buf[64];
    fputs("    <properties>\n", f);
    snprintf(buf, sizeof buf, "%" PRIu64, r->seed);
    property(f, "seed", buf);
    property(f, "command", r->command);
    property(f, "mode", r->mode);
    rep_server_text(r->server_version, buf, sizeof buf);
    property(f, "server_version", buf);
    property(f, "target", r->dsn ? "dsn" : r->embedded ? "embedded" : "environment");
    settings_properties(f, it->settings);
    snprintf(buf, sizeof buf, "%ld", it->iterations);
    property(f, "iterations_run", buf);
    latency_properties(f, it);
    if (it->repeat)
        property(f, "repeat", it->repeat);
    fputs("    </properties>\n", f);
}

/* The element under a point that is not ok: its kind, the message, and
 * the diagnostics as the TAP YAML block (the message when there are none). */
static void outcome_element(FILE *f, const rep_point *p, const char *stopped)
{
    char msg[512];
    const char *el = stopped || p->verdict == REP_ERROR ? "error" : "failure";
    const char *type = stopped ? "setup-error" : p->verdict == REP_ERROR ? "error" : "invariant-violated";
    if (stopped)
        snprintf(msg, sizeof msg, "%s", stopped);
    else
        rep_point_summary(p, msg, sizeof msg);
    fprintf(f, "      <%s type=\"%s\" message=\"", el, type);
    rep_xml_text(f, msg);
    fputs("\">", f);
    char *yaml = stopped ? NULL : rep_yaml(p->diag);
    rep_xml_text(f, yaml ? yaml : msg);
    free(yaml);
    fprintf(f, "</%s>\n", el);
}

static void testcase(FILE *f, const rep_item *it, const rep_point *p, double each, const char *stopped)
{
    fputs("    <testcase name=\"", f);
    rep_xml_text(f, p->name);
    fputs("\" classname=\"", f);
    rep_xml_text(f, it->classname);
    fprintf(f, "\" time=\"%.3f\"", p->seconds > 0 ? p->seconds : each);
    if (p->verdict == REP_OK && !stopped) {
        fputs("/>\n", f);
        return;
    }
    fputs(">\n", f);
    if (p->verdict == REP_SKIPPED && !stopped) {
        fputs("      <skipped message=\"", f);
        rep_xml_text(f, p->reason ? p->reason : "skipped");
        fputs("\"/>\n", f);
    } else {
        outcome_element(f, p, stopped);
    }
    fputs("    </testcase>\n", f);
}

/* Item it as one <testsuite>: in the order the schema requires, its
 * properties, one testcase per point, system-out (its notes and the
 * command that repeats it) and system-err (why it stopped). */
static void suite(FILE *f, const report *r, const rep_item *it, int id)
{
    char stamp[32];
    struct tm tm;
    gmtime_r(&it->started, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    /* A stopped item's points are errors, whatever they came to. */
    const char *stopped = it->error ? it->error : it->ended ? NULL : "did not finish";
    int c[4];
    int n = rep_item_counts(it, c);
    fputs("  <testsuite name=\"", f);
    rep_xml_text(f, it->name);
    fputs("\" package=\"", f);
    rep_xml_text(f, it->group);
    fprintf(f, "\" id=\"%d\" timestamp=\"%s\" hostname=\"", id, stamp);
    rep_xml_text(f, r->hostname);
    /* An item that stopped before its first point still shows why, as
     * one testcase in error. */
    rep_point setup = { .name = "setup", .verdict = REP_ERROR, .reason = (char *)stopped, .unit = "iterations" };
    int tests = stopped && n == 0 ? 1 : n;
    fprintf(f, "\" tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" time=\"%.3f\">\n", tests,
            stopped ? 0 : c[REP_VIOLATED], stopped ? tests : c[REP_ERROR], stopped ? 0 : c[REP_SKIPPED], it->seconds);
    properties(f, r, it);
    double each = n ? it->seconds / n : 0;
    for (int k = 0; k < n; k++)
        testcase(f, it, &it->points[k], each, stopped);
    if (tests > n)
        testcase(f, it, &setup, it->seconds, stopped);
    fputs("    <system-out>", f);
    for (int k = 0; k < it->nnotes; k++) {
        rep_xml_text(f, it->notes[k]);
        fputc('\n', f);
    }
    if (it->repeat) {
        fputs("repeat: ", f);
        rep_xml_text(f, it->repeat);
        fputc('\n', f);
    }
    fputs("</system-out>\n    <system-err>", f);
    if (stopped)
        rep_xml_text(f, stopped);
    fputs("</system-err>\n  </testsuite>\n", f);
}

int report_write_junit(const report *r, const char *path, char *err, size_t errlen)
{
    FILE *f = rep_open(path, err, errlen);
    if (!f)
        return -1;
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n", f);
    for (int i = 0; i < r->nitems; i++)
        suite(f, r, r->items[i], i);
    fputs("</testsuites>\n", f);
    return rep_close(f, path, err, errlen);
}
