/* points.c — the run's points, kept for the report files (see points.h). */
#include "reports/spec_points.h"

#include "lib/tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int spec_points_add(spec_points *ps, int file, const char *name, bool ok, bool skipped, const char *why,
                    json_t *diag, double seconds)
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
    p->skipped = skipped;
    p->error = json_object_get(diag, "error") != NULL;
    p->seconds = seconds;
    p->diag = json_incref(diag);
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
        json_decref(ps->p[i].diag);
    }
    free(ps->p);
    memset(ps, 0, sizeof *ps);
}

const char *spec_point_verdict(const spec_point *p)
{
    return p->skipped ? "skipped" : p->ok ? "ok" : p->error ? "error" : "violated";
}

int spec_report_counts(const spec_report *r, int file, int counts[4])
{
    int n = 0;
    memset(counts, 0, 4 * sizeof *counts);
    for (int i = 0; i < r->points->n; i++) {
        const spec_point *p = &r->points->p[i];
        if (file >= 0 && p->file != file)
            continue;
        counts[p->skipped ? 3 : p->ok ? 0 : p->error ? 2 : 1]++;
        n++;
    }
    return n;
}

const char *spec_report_verdict(const spec_report *r)
{
    int c[4];
    spec_report_counts(r, -1, c);
    return c[2] || r->points->n < r->planned ? "error" : c[1] ? "violated" : "ok";
}
