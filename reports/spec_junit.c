/* junit.c — a spec run as JUnit XML (see junit.h). */
#include "reports/spec_junit.h"

#include "reports/out.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void suite(FILE *f, const spec_report *r, int file, const char *host, const char *stamp)
{
    const spec_points *ps = r->points;
    const char *path = r->files[file];
    int tests = 0, failures = 0, errors = 0;
    double seconds = 0;
    for (int i = 0; i < ps->n; i++)
        if (ps->p[i].file == file) {
            tests++;
            failures += !ps->p[i].ok && !ps->p[i].error;
            errors += !ps->p[i].ok && ps->p[i].error;
            seconds += ps->p[i].seconds;
        }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    fputs("  <testsuite name=\"", f);
    rep_xml_text(f, path);
    fputs("\" package=\"pgrace.spec\" ", f);
    fprintf(f, "id=\"%d\" timestamp=\"%s\" hostname=\"", file, stamp);
    rep_xml_text(f, host);
    fprintf(f, "\" tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"0\" time=\"%.3f\">\n", tests, failures,
            errors, seconds);
    fprintf(f, "    <properties>\n      <property name=\"seed\" value=\"%" PRIu64 "\"/>\n", r->seed);
    fputs("      <property name=\"spec\" value=\"", f);
    rep_xml_text(f, path);
    fputs("\"/>\n    </properties>\n", f);
    for (int i = 0; i < ps->n; i++) {
        const spec_point *p = &ps->p[i];
        if (p->file != file)
            continue;
        fputs("    <testcase name=\"", f);
        rep_xml_text(f, p->name);
        fputs("\" classname=\"pgrace.spec.", f);
        rep_xml_text(f, base);
        fprintf(f, "\" time=\"%.3f\"", p->seconds);
        if (p->ok) {
            fputs("/>\n", f);
            continue;
        }
        const char *el = p->error ? "error" : "failure";
        fprintf(f, ">\n      <%s type=\"%s\" message=\"", el, p->error ? "permutation-error" : "invariant-violated");
        rep_xml_text(f, p->why ? p->why : "");
        fputs("\">", f);
        rep_xml_text(f, p->yaml);
        fprintf(f, "</%s>\n    </testcase>\n", el);
    }
    fputs("    <system-out/>\n    <system-err/>\n  </testsuite>\n", f);
}

int spec_junit_write(const spec_report *r, const char *path, char *err, size_t errlen)
{
    FILE *f = rep_open(path, err, errlen);
    if (!f)
        return -1;
    char host[256] = "localhost", stamp[32];
    gethostname(host, sizeof host - 1);
    struct tm tm;
    gmtime_r(&r->started, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n", f);
    for (int i = 0; i < r->nfiles; i++)
        suite(f, r, i, host, stamp);
    fputs("</testsuites>\n", f);
    return rep_close(f, path, err, errlen);
}
