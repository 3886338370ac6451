/* junit.c — a spec run as JUnit XML (see junit.h). */
#include "spec/junit.h"

#include "lib/err.h"
#include "lib/tap.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int spec_points_add(spec_points *ps, int file, const char *name, bool ok, const char *why, json_t *diag,
                    double seconds)
{
    if (ps->n == ps->cap) {
        int cap = ps->cap ? ps->cap * 2 : 64;
        spec_point *p = realloc(ps->p, (size_t)cap * sizeof *p);
        if (!p)
            return -1;
        ps->p = p;
        ps->cap = cap;
    }
    spec_point *p = &ps->p[ps->n];
    memset(p, 0, sizeof *p);
    p->file = file;
    p->ok = ok;
    p->error = json_object_get(diag, "error") != NULL;
    p->seconds = seconds;
    size_t len = 0;
    FILE *y = open_memstream(&p->yaml, &len);
    if (y) {
        tap_yaml(y, diag, 0);
        fclose(y);
    }
    p->name = strdup(name);
    p->why = why ? strdup(why) : NULL;
    ps->n++;
    return p->name && p->yaml && (!why || p->why) ? 0 : -1;
}

void spec_points_free(spec_points *ps)
{
    for (int i = 0; i < ps->n; i++) {
        free(ps->p[i].name);
        free(ps->p[i].why);
        free(ps->p[i].yaml);
    }
    free(ps->p);
    memset(ps, 0, sizeof *ps);
}

/* Text as XML character data or attribute value (the strings are valid
 * UTF-8 already; characters XML 1.0 forbids are left out). */
static void xml(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default:
            if (*p >= 0x20 || *p == '\t' || *p == '\n' || *p == '\r')
                fputc(*p, f);
        }
    }
}

static void suite(FILE *f, const spec_points *ps, int file, const char *path, uint64_t seed, const char *host,
                  const char *stamp)
{
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
    xml(f, path);
    fputs("\" package=\"pgrace.spec\" ", f);
    fprintf(f, "id=\"%d\" timestamp=\"%s\" hostname=\"", file, stamp);
    xml(f, host);
    fprintf(f, "\" tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"0\" time=\"%.3f\">\n", tests, failures,
            errors, seconds);
    fprintf(f, "    <properties>\n      <property name=\"seed\" value=\"%" PRIu64 "\"/>\n", seed);
    fputs("      <property name=\"spec\" value=\"", f);
    xml(f, path);
    fputs("\"/>\n    </properties>\n", f);
    for (int i = 0; i < ps->n; i++) {
        const spec_point *p = &ps->p[i];
        if (p->file != file)
            continue;
        fputs("    <testcase name=\"", f);
        xml(f, p->name);
        fputs("\" classname=\"pgrace.spec.", f);
        xml(f, base);
        fprintf(f, "\" time=\"%.3f\"", p->seconds);
        if (p->ok) {
            fputs("/>\n", f);
            continue;
        }
        const char *el = p->error ? "error" : "failure";
        fprintf(f, ">\n      <%s type=\"%s\" message=\"", el, p->error ? "permutation-error" : "invariant-violated");
        xml(f, p->why ? p->why : "");
        fputs("\">", f);
        xml(f, p->yaml);
        fprintf(f, "</%s>\n    </testcase>\n", el);
    }
    fputs("    <system-out/>\n    <system-err/>\n  </testsuite>\n", f);
}

int spec_junit_write(const char *path, const spec_points *ps, const char *const *files, int nfiles, uint64_t seed,
                     char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        err_sys(err, errlen, errno, "cannot write %s", path);
        return -1;
    }
    char host[256] = "localhost", stamp[32];
    gethostname(host, sizeof host - 1);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n", f);
    for (int i = 0; i < nfiles; i++)
        suite(f, ps, i, files[i], seed, host, stamp);
    fputs("</testsuites>\n", f);
    if (ferror(f) | (fclose(f) != 0)) {
        err_sys(err, errlen, errno, "cannot write %s", path);
        return -1;
    }
    return 0;
}
