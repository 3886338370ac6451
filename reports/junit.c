/*
 * junit.c — the record as JUnit XML, valid against the strict Ant schema
 * (../shared/schemas/JUnit.xsd), which Jenkins, GitLab and GitHub reporters
 * also read.
 *
 * One <testsuite> per item (scenario/variant, and plan when not "none"),
 * one <testcase> per invariant. A violated invariant has a <failure> whose
 * message says how often, type "invariant-violated", and whose text is the
 * TAP YAML block of the first violation. An item stopped by a setup error
 * has an <error> on each of its testcases. The schema allows no attribute
 * on <testsuites> and requires, in order, <properties>, the testcases,
 * <system-out> and <system-err> in every testsuite, and package, id,
 * hostname and a timestamp without zone on each aggregated testsuite.
 * Times are seconds; a testcase's time is its item's time shared equally
 * among the invariants (each is checked after every iteration).
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

static void property_long(FILE *f, const char *name, long value)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", value);
    property(f, name, buf);
}

/* "p50 3.74ms p90 5.01ms p99 7.47ms max 12.56ms" of h. */
static void latency_text(const hist *h, char *buf, size_t len)
{
    snprintf(buf, len, "p50 %.2fms p90 %.2fms p99 %.2fms max %.2fms", (double)hist_quantile(h, 0.5) / 1e6,
             (double)hist_quantile(h, 0.9) / 1e6, (double)hist_quantile(h, 0.99) / 1e6, (double)h->max / 1e6);
}

/* The <testsuite> start tag of item it (id: its position in the run): its
 * counts, time and where and when it ran, as the Ant schema requires. */
static void suite_open(FILE *f, const report *r, const rep_item *it, int id, const char *label)
{
    char stamp[32];
    struct tm tm;
    gmtime_r(&it->started, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    /* A stopped item's testcases are errors, not failures. */
    int n = drv_ninvariants(it->scenario), failures = 0;
    for (int k = 0; k < n; k++)
        failures += !rep_item_error(it) && !rep_item_held(it, k);
    fprintf(f, "  <testsuite name=\"");
    rep_xml_text(f, label);
    fprintf(f, "\" package=\"pgrace.");
    rep_xml_text(f, it->scenario->name);
    fprintf(f, "\" id=\"%d\" timestamp=\"%s\" hostname=\"", id, stamp);
    rep_xml_text(f, r->hostname);
    fprintf(f, "\" tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"0\" time=\"%.3f\">\n", n, failures,
            rep_item_error(it) ? n : 0, it->seconds);
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
        property_long(f, name, it->outcomes[k]);
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
    char buf[512];
    fputs("    <properties>\n", f);
    snprintf(buf, sizeof buf, "%" PRIu64, r->seed);
    property(f, "seed", buf);
    property(f, "command", r->command);
    rep_server_text(r->server_version, buf, sizeof buf);
    property(f, "server_version", buf);
    property(f, "target", r->dsn ? "dsn" : r->embedded ? "embedded" : "environment");
    property(f, "scenario", it->scenario->name);
    property(f, "variant", it->variant->name);
    property(f, "plan", it->plan);
    property_long(f, "workers", it->nworkers);
    property_long(f, "retries", it->retries);
    property_long(f, "iterations", it->iterations);
    if (it->fault)
        property(f, "fault", it->fault);
    for (int i = 0; i < it->pauses.n; i++) {
        snprintf(buf, sizeof buf, "%s=%" PRId64 "us", it->pauses.p[i].name, it->pauses.p[i].ns / 1000);
        property(f, "pause", buf);
    }
    latency_properties(f, it);
    if (it->repeat)
        property(f, "repeat", it->repeat);
    fputs("    </properties>\n", f);
}

/* The <failure> of violated invariant k: how often in its message, the
 * TAP YAML block of the first violation as its text (the message when
 * there is none). */
static void failure(FILE *f, const report *r, const rep_item *it, int k)
{
    char msg[256];
    snprintf(msg, sizeof msg, "violated in %ld of %ld iterations (first: iteration %ld)", it->failures[k],
             it->iterations, it->first_failure[k]);
    fputs("      <failure type=\"invariant-violated\" message=\"", f);
    rep_xml_text(f, msg);
    fputs("\">", f);
    json_t *d = rep_diagnostics(r, it, k);
    char *yaml = rep_yaml(d);
    rep_xml_text(f, yaml ? yaml : msg);
    free(yaml);
    json_decref(d);
    fputs("</failure>\n", f);
}

/* The <testcase> of invariant k, in class classname, taking time each:
 * empty when it held, with an <error> when the item stopped (whatever
 * the invariant), else with its <failure>. */
static void testcase(FILE *f, const report *r, const rep_item *it, int k, const char *classname, double each)
{
    fputs("    <testcase name=\"", f);
    rep_xml_text(f, drv_invariant_name(it->scenario, k));
    fputs("\" classname=\"", f);
    rep_xml_text(f, classname);
    fprintf(f, "\" time=\"%.3f\"", each);
    if (rep_item_error(it)) {
        fputs(">\n      <error type=\"setup-error\" message=\"", f);
        rep_xml_text(f, rep_item_error(it));
        fputs("\">", f);
        rep_xml_text(f, rep_item_error(it));
        fputs("</error>\n    </testcase>\n", f);
        return;
    }
    if (rep_item_held(it, k)) {
        fputs("/>\n", f);
        return;
    }
    fputs(">\n", f);
    failure(f, r, it, k);
    fputs("    </testcase>\n", f);
}

/* <system-out> is the TAP comment line of the item, with the repeat
 * command; <system-err> why it stopped, if it did. */
static void system_out_err(FILE *f, const rep_item *it, const char *label)
{
    char buf[512];
    fputs("    <system-out>", f);
    snprintf(buf, sizeof buf, "%s: %ld iterations in %.2fs; calls", label, it->iterations, it->seconds);
    rep_xml_text(f, buf);
    for (int k = 0; k < 4; k++) {
        if (!it->latency[k].count)
            continue;
        char lat[160];
        latency_text(&it->latency[k], lat, sizeof lat);
        snprintf(buf, sizeof buf, " %s %ld (%s)", outcome_name(k), it->outcomes[k], lat);
        rep_xml_text(f, buf);
    }
    fputs("\nrepeat: ", f);
    rep_xml_text(f, it->repeat ? it->repeat : "");
    fputs("\n</system-out>\n    <system-err>", f);
    if (rep_item_error(it))
        rep_xml_text(f, rep_item_error(it));
    fputs("</system-err>\n", f);
}

/* Item it as one <testsuite>: in the order the schema requires, its
 * properties, one testcase per invariant, system-out and system-err. */
static void suite(FILE *f, const report *r, const rep_item *it, int id)
{
    char label[160], classname[512];
    rep_item_label(it, label, sizeof label);
    suite_open(f, r, it, id, label);
    properties(f, r, it);
    /* "pgrace.SCENARIO.VARIANT", and ".PLAN" when it has one. */
    snprintf(classname, sizeof classname, "pgrace.%s.%s", it->scenario->name, it->variant->name);
    if (strcmp(it->plan, "none") != 0) {
        size_t len = strlen(classname);
        snprintf(classname + len, sizeof classname - len, ".%s", it->plan);
    }
    int n = drv_ninvariants(it->scenario);
    double each = n ? it->seconds / n : 0;
    for (int k = 0; k < n; k++)
        testcase(f, r, it, k, classname, each);
    system_out_err(f, it, label);
    fputs("  </testsuite>\n", f);
}

int report_write_junit(const report *r, const char *path, char *err, size_t errlen)
{
    FILE *f = rep_open(path, err, errlen);
    if (!f)
        return -1;
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n", f);
    for (int i = 0; i < r->nitems; i++)
        suite(f, r, &r->items[i], i);
    fputs("</testsuites>\n", f);
    return rep_close(f, path, err, errlen);
}
