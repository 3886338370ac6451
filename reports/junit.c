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

static void suite(FILE *f, const report *r, const rep_item *it, int id)
{
    char label[160], buf[512], stamp[32];
    struct tm tm;
    rep_item_label(it, label, sizeof label);
    gmtime_r(&it->started, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
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
    for (int k = 0; k < 4; k++) {
        if (!it->latency[k].count)
            continue;
        char name[64];
        snprintf(name, sizeof name, "calls.%s", outcome_name(k));
        property_long(f, name, it->outcomes[k]);
        static const struct { const char *name; double q; } qs[] = {
            { "p50", 0.5 }, { "p90", 0.9 }, { "p99", 0.99 }, { "max", 1.0 },
        };
        for (size_t q = 0; q < sizeof qs / sizeof qs[0]; q++) {
            snprintf(name, sizeof name, "latency.%s.%s_ms", outcome_name(k), qs[q].name);
            snprintf(buf, sizeof buf, "%.3f", (double)hist_quantile(&it->latency[k], qs[q].q) / 1e6);
            property(f, name, buf);
        }
    }
    if (it->repeat)
        property(f, "repeat", it->repeat);
    fputs("    </properties>\n", f);

    double each = n ? it->seconds / n : 0;
    snprintf(buf, sizeof buf, "pgrace.%s.%s", it->scenario->name, it->variant->name);
    if (strcmp(it->plan, "none") != 0) {
        size_t len = strlen(buf);
        snprintf(buf + len, sizeof buf - len, ".%s", it->plan);
    }
    for (int k = 0; k < n; k++) {
        fputs("    <testcase name=\"", f);
        rep_xml_text(f, drv_invariant_name(it->scenario, k));
        fputs("\" classname=\"", f);
        rep_xml_text(f, buf);
        fprintf(f, "\" time=\"%.3f\"", each);
        if (rep_item_error(it)) {
            fputs(">\n      <error type=\"setup-error\" message=\"", f);
            rep_xml_text(f, rep_item_error(it));
            fputs("\">", f);
            rep_xml_text(f, rep_item_error(it));
            fputs("</error>\n    </testcase>\n", f);
            continue;
        }
        if (rep_item_held(it, k)) {
            fputs("/>\n", f);
            continue;
        }
        char msg[256];
        snprintf(msg, sizeof msg, "violated in %ld of %ld iterations (first: iteration %ld)", it->failures[k],
                 it->iterations, it->first_failure[k]);
        fputs(">\n      <failure type=\"invariant-violated\" message=\"", f);
        rep_xml_text(f, msg);
        fputs("\">", f);
        json_t *d = rep_diagnostics(r, it, k);
        char *yaml = rep_yaml(d);
        rep_xml_text(f, yaml ? yaml : msg);
        free(yaml);
        json_decref(d);
        fputs("</failure>\n    </testcase>\n", f);
    }

    /* The TAP comment line of the item, with the repeat command. */
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
    fputs("</system-err>\n  </testsuite>\n", f);
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
