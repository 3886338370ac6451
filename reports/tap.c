/*
 * tap.c — the record's TAP, written as the run goes (lib/tap.h's stream:
 * version 13, YAML diagnostics under a failing point).
 *
 * A point's line is "ITEM: NAME"; a point that is not ok and has a reason
 * adds ": REASON" (a spec's "invariant "x" violated (1 row)"); a skipped
 * point is "ok N - ITEM: NAME # SKIP REASON". Diagnostics go under every
 * point that is not ok.
 */
#include "reports/rep.h"

#include "lib/tap.h"

void rep_tap_begin(report *r)
{
    if (r->tap)
        tap_begin(r->tap);
}

void rep_tap_plan(report *r, int n)
{
    if (r->tap)
        tap_plan(n);
}

void rep_tap_point(report *r, const rep_item *it, const rep_point *p)
{
    if (!r->tap)
        return;
    if (p->verdict == REP_SKIPPED) {
        tap_skip(p->reason ? p->reason : "skipped", "%s: %s", it->name, p->name);
        return;
    }
    bool ok = p->verdict == REP_OK;
    tap_point(ok, p->diag, "%s: %s%s%s", it->name, p->name, !ok && p->reason ? ": " : "",
              !ok && p->reason ? p->reason : "");
}

void rep_tap_note(report *r, const char *line)
{
    if (r->tap)
        tap_comment("%s", line);
}

void rep_tap_bail(report *r, const char *why)
{
    if (r->tap)
        tap_bail("%s", why);
}
