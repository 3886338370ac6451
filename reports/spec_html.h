/*
 * html.h — `pgrace spec --html F`: the run as one self-contained HTML page
 * (inline CSS in the house style of reports/html.c, no script, nothing
 * fetched): the run's summary (verdict badge, seed, command, server,
 * start, counts per verdict), then per spec file a table with a row per
 * permutation (class "perm", data-verdict: its name, verdict, reason and
 * seconds), and for each violated or error permutation a <details
 * class="diag"> holding its diagnostics as the TAP YAML block.
 */
#ifndef PGRACE_SPEC_HTML_H
#define PGRACE_SPEC_HTML_H

#include "reports/spec_points.h"

/* Writes path. Returns 0 or -1 with a one-line reason. */
int spec_html_write(const spec_report *r, const char *path, char *err, size_t errlen);

#endif
