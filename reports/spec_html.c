/* html.c — a spec run as one HTML page (see html.h). */
#include "reports/spec_html.h"

#include "reports/out.h"

#include <inttypes.h>
#include <stdio.h>
#include <time.h>

/* The page's own style, after the house style (reports/out.h). */
static const char css[] =
    "table.perms td{white-space:nowrap}table.perms td.reason{white-space:normal}"
    "table.perms td.name{font:12px/1.35 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}"
    "table.perms td.n,table.perms td.secs{text-align:right;color:#6b7280}"
    "details.diag{margin:8px 0}details.diag summary{cursor:pointer}";

static const char *const verdicts[] = { "ok", "violated", "error", "skipped" };

/* "3 permutations: 1 ok, 2 violated" (the verdicts with none left out). */
static void counts_text(FILE *f, const int c[4], int n)
{
    fprintf(f, "%d permutation%s", n, n == 1 ? "" : "s");
    for (int k = 0, first = 1; k < 4; k++)
        if (c[k]) {
            fprintf(f, "%s<span class=\"%s\">%d %s</span>", first ? ": " : ", ", verdicts[k], c[k], verdicts[k]);
            first = 0;
        }
}

static void summary(FILE *f, const spec_report *r)
{
    char buf[64], version[32];
    struct tm tm;
    gmtime_r(&r->started, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
    fprintf(f, "<table class=\"summary\">\n<tr><th>seed</th><td><code>%" PRIu64 "</code></td></tr>\n", r->seed);
    fputs("<tr><th>command</th><td><code>", f);
    rep_xml_text(f, r->command);
    fputs("</code></td></tr>\n", f);
    if (r->server_version) {
        rep_server_text(r->server_version, version, sizeof version);
        fprintf(f, "<tr><th>server</th><td>PostgreSQL %s</td></tr>\n", version);
    }
    fprintf(f, "<tr><th>started</th><td>%s</td></tr>\n<tr><th>permutations</th><td>", buf);
    int c[4];
    counts_text(f, c, spec_report_counts(r, -1, c));
    fputs("</td></tr>\n</table>\n", f);
    if (r->points->n < r->planned)
        fprintf(f, "<p class=\"error\">The run stopped after %d of its %ld permutations.</p>\n", r->points->n,
                r->planned);
}

/* One spec file: its table of permutations, then the diagnostics of each
 * that was not ok, the first unfolded. */
static void file_section(FILE *f, const spec_report *r, int file)
{
    int c[4];
    int n = spec_report_counts(r, file, c);
    const char *v = c[2] ? "error" : c[1] ? "violated" : "ok";
    fprintf(f, "<section class=\"item\" id=\"file-%d\">\n<h2>", file);
    rep_xml_text(f, r->files[file]);
    fprintf(f, " <span class=\"badge %s\">%s</span></h2>\n<p>", v, v);
    counts_text(f, c, n);
    fputs("</p>\n<table class=\"perms\"><tr><th>#</th><th>permutation</th><th>verdict</th><th>reason</th>"
          "<th>seconds</th></tr>\n",
          f);
    for (int i = 0, k = 0; i < r->points->n; i++) {
        const spec_point *p = &r->points->p[i];
        if (p->file != file)
            continue;
        const char *pv = spec_point_verdict(p);
        bool diag = !p->ok;
        fprintf(f, "<tr class=\"perm\" data-verdict=\"%s\"><td class=\"n\">%d</td><td class=\"name\">", pv, ++k);
        if (diag)
            fprintf(f, "<a href=\"#diag-%d\">", i);
        rep_xml_text(f, p->name);
        fprintf(f, "%s</td><td class=\"%s\">%s</td><td class=\"reason\">", diag ? "</a>" : "", pv, pv);
        rep_xml_text(f, p->why ? p->why : "");
        fprintf(f, "</td><td class=\"secs\">%.3f</td></tr>\n", p->seconds);
    }
    fputs("</table>\n", f);
    for (int i = 0, shown = 0; i < r->points->n; i++) {
        const spec_point *p = &r->points->p[i];
        if (p->file != file || p->ok)
            continue;
        const char *pv = spec_point_verdict(p);
        fprintf(f, "<details class=\"diag\" id=\"diag-%d\" data-verdict=\"%s\"%s><summary><b class=\"%s\">%s</b> ", i,
                pv, shown++ ? "" : " open", pv, pv);
        rep_xml_text(f, p->name);
        fputs("</summary><pre>---\n", f);     /* the TAP YAML block, as reports/html.c shows it */
        rep_xml_text(f, p->yaml ? p->yaml : "");
        fputs("...\n</pre></details>\n", f);
    }
    fputs("</section>\n", f);
}

int spec_html_write(const spec_report *r, const char *path, char *err, size_t errlen)
{
    FILE *f = rep_html_open(path, "pgrace spec report", spec_report_verdict(r), css, err, errlen);
    if (!f)
        return -1;
    summary(f, r);
    for (int i = 0; i < r->nfiles; i++)
        file_section(f, r, i);
    fputs("</body></html>\n", f);
    return rep_close(f, path, err, errlen);
}
