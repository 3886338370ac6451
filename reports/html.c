/*
 * html.c — the record as one self-contained HTML page for people: inline
 * CSS, inline SVG drawn here (no script needed to see it, no network, no
 * external font), and a few lines of script that only count what was
 * drawn (body data attributes, for tests and tools).
 *
 * The page, for any mode: the run's summary (mode, seed, command, server,
 * each item's verdict, points and latency percentiles); per item (a drive
 * or a spec file), its points (invariants or permutations) with the
 * diagnostics of each that is not ok (the TAP YAML block: a spec's output
 * and rows, a violation's calls and faults), and, when the item has them,
 * a timeline of one iteration (the first violating one, else the slowest)
 * and latency histograms per outcome.
 *
 * The timeline has one lane per worker. An attempt is a pale box from the
 * call's start to its end; inside it each statement is a bar from send to
 * result (its SQL start, duration and SQLSTATE in the tooltip). A statement
 * taking more than WAIT_FACTOR times the iteration's median statement time
 * (and at least WAIT_MIN_NS) is drawn as a probable lock wait; the others
 * are shaded darker the longer they took. Injected faults, and each
 * transaction's end (commit, rollback, lost), are marked.
 *
 * A violation the explorer found also gets its schedule as a grid: one
 * column per worker, one row per statement in the order the scheduler let
 * them go, a switch of worker while the last one could go on marked, a
 * statement that blocked or took the fault flagged, and the replay command.
 */
#include "reports/rep.h"

#include "lib/hist.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WAIT_FACTOR 5
#define WAIT_MIN_NS 200000      /* 0.2 ms: below this nothing is a wait */

#define TL_WIDTH 1180
#define TL_LABEL 96
#define TL_AXIS 28
#define TL_LANE 34

/* The page's own style, after the house style (out.h). */
static const char css[] =
    ".legend{font-size:12px;color:#444;margin:6px 0}.legend span.k{display:inline-block;width:14px;"
    "height:10px;margin:0 4px 0 12px;vertical-align:middle;border:1px solid #555}"
    "svg{background:#fff;border:1px solid #e1e4e8;display:block;margin:4px 0}"
    "svg text{font:11px system-ui,sans-serif;fill:#333}"
    ".attempt{fill:#eef1f5;stroke:#9aa3af}.attempt.o-ok{stroke:#17693a}.attempt.o-conflict{stroke:#6b7280}"
    ".attempt.o-retryable{stroke:#b7791f}.attempt.o-error{stroke:#b3261e}"
    ".stmt{fill:#2f6fb3;stroke:#fff;stroke-width:0.6}.stmt.wait{fill:#e8710a}.stmt.failed{fill:#b3261e}"
    ".fault{fill:#d00;stroke:#600;stroke-width:1}"
    ".end-commit{fill:#17693a}.end-rollback{fill:#8a8f98}.end-lost{stroke:#000;stroke-width:2.5}"
    ".hbar{fill:#2f6fb3}.hbar.o-conflict{fill:#6b7280}.hbar.o-retryable{fill:#b7791f}"
    ".hbar.o-error{fill:#b3261e}.qline{stroke:#b3261e;stroke-dasharray:3 2}"
    ".grid{stroke:#e5e7eb}.hists{display:flex;flex-wrap:wrap;gap:12px}"
    "table.schedule td{font:12px/1.35 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:nowrap}"
    "table.schedule td.n{color:#6b7280;text-align:right}table.schedule tr.switch td{border-top:2px solid #2f6fb3}"
    "table.schedule td.blocked{background:#fde9d4}table.schedule td.faulted{background:#f9d6d3}"
    "table.points td.name{font:12px/1.35 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}"
    "table.points td.n{text-align:right;color:#6b7280}details.diag{margin:8px 0}details.diag summary{cursor:pointer}"
    "pre.notes{font-size:12px;color:#444;white-space:pre-wrap}";

static void text(FILE *f, const char *s) { rep_xml_text(f, s); }

/* --- the timeline ------------------------------------------------------ */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static bool starts_with_word(const char *sql, const char *word)
{
    while (*sql == ' ' || *sql == '\t' || *sql == '\n')
        sql++;
    size_t n = strlen(word);
    return strncasecmp(sql, word, n) == 0 && !((sql[n] >= 'A' && sql[n] <= 'Z') || (sql[n] >= 'a' && sql[n] <= 'z'));
}

/* The statement of c the shim's fault hit: the one whose SQL the fault
 * text ends with (preferring a failed one), else the first failed one;
 * -1 when none (the mark then goes at the call's end). */
static int fault_stmt(const rep_call *c)
{
    if (!c->faults || !c->nstmts)
        return -1;
    const char *sql = c->fault ? strstr(c->fault, ": ") : NULL;
    int best = -1;
    for (int i = 0; sql && i < c->nstmts; i++) {
        size_t n = strlen(c->stmts[i].sql), m = strlen(sql + 2);
        if (n && m && strncmp(c->stmts[i].sql, sql + 2, n < m ? n : m) == 0 && (best < 0 || c->stmts[i].failed)) {
            best = i;
            if (c->stmts[i].failed)
                break;
        }
    }
    if (best >= 0)
        return best;
    for (int i = 0; i < c->nstmts; i++)
        if (c->stmts[i].failed)
            return i;
    return -1;
}

/* How one iteration's timeline is drawn: its time axis, the yardstick of
 * waits and the lanes. Measured once (tl_measure), before anything is
 * drawn. */
typedef struct tl_view {
    int64_t t0, t1;             /* the axis: first call's start to last call's end */
    double px;                  /* pixels per ns */
    int64_t median;             /* median statement time; 0 when none */
    int64_t threshold;          /* longer than this: a probable lock wait */
    int nworkers;               /* lanes */
    bool two;                   /* some statement ran on a second connection: each lane has two rows */
    int height;                 /* of the whole SVG */
} tl_view;

static double xof(const tl_view *v, int64_t t)
{
    return TL_LABEL + (double)(t - v->t0) * v->px;
}

/* The median statement time of x; 0 when x has no statement, or when out
 * of memory (every statement then counts as long, none as a wait below
 * WAIT_MIN_NS). */
static int64_t stmt_median(const rep_iter *x)
{
    size_t nst = 0;
    for (int i = 0; i < x->ncalls; i++)
        nst += (size_t)x->calls[i].nstmts;
    int64_t *d = calloc(nst + 1, sizeof *d);
    if (!d)
        return 0;
    size_t k = 0;
    for (int i = 0; i < x->ncalls; i++)
        for (int j = 0; j < x->calls[i].nstmts; j++)
            d[k++] = x->calls[i].stmts[j].t_done - x->calls[i].stmts[j].t_send;
    int64_t median = 0;
    if (k) {
        qsort(d, k, sizeof *d, cmp_i64);
        median = d[k / 2];
    }
    free(d);
    return median;
}

static void tl_measure(tl_view *v, const rep_item *it, const rep_iter *x)
{
    *v = (tl_view){ .t0 = INT64_MAX, .t1 = INT64_MIN };
    for (int i = 0; i < x->ncalls; i++) {
        v->t0 = x->calls[i].t_start < v->t0 ? x->calls[i].t_start : v->t0;
        v->t1 = x->calls[i].t_end > v->t1 ? x->calls[i].t_end : v->t1;
    }
    if (v->t1 <= v->t0)
        v->t1 = v->t0 + 1000;
    v->px = (double)(TL_WIDTH - TL_LABEL - 16) / (double)(v->t1 - v->t0);
    v->median = stmt_median(x);
    v->threshold = v->median * WAIT_FACTOR > WAIT_MIN_NS ? v->median * WAIT_FACTOR : WAIT_MIN_NS;
    /* A lane for every worker of the item, and for any call beyond them. */
    v->nworkers = it->nworkers;
    for (int i = 0; i < x->ncalls; i++)
        v->nworkers = x->calls[i].worker + 1 > v->nworkers ? x->calls[i].worker + 1 : v->nworkers;
    for (int i = 0; i < x->ncalls; i++)
        for (int j = 0; j < x->calls[i].nstmts; j++)
            v->two |= x->calls[i].stmts[j].conn == 1;
    v->height = TL_AXIS + v->nworkers * TL_LANE + 8;
}

/* The two legend lines above the SVG: the wait yardstick of this
 * iteration, and the key to the marks. */
static void tl_legend(FILE *f, const tl_view *v)
{
    fprintf(f, "<p class=\"legend\">Statement median %.3f ms; a bar is marked as a probable lock wait when the "
               "statement took more than %dx the median (and at least %.1f ms): %.3f ms here. Other bars are "
               "shaded darker the longer they took.%s</p>\n",
            (double)v->median / 1e6, WAIT_FACTOR, WAIT_MIN_NS / 1e6, (double)v->threshold / 1e6,
            v->two ? " Each lane's lower half is the worker's second connection." : "");
    fputs("<p class=\"legend\"><span class=\"k\" style=\"background:#eef1f5\"></span>attempt (border: outcome)"
          "<span class=\"k\" style=\"background:#2f6fb3\"></span>statement"
          "<span class=\"k\" style=\"background:#e8710a\"></span>probable lock wait"
          "<span class=\"k\" style=\"background:#b3261e\"></span>failed statement"
          " &nbsp; <b style=\"color:#d00\">&#9660;</b> injected fault"
          " &nbsp; <b style=\"color:#17693a\">&#9670;</b> commit"
          " &nbsp; <b style=\"color:#8a8f98\">&#9632;</b> rollback"
          " &nbsp; <b>&#10005;</b> lost (connection lost; at COMMIT: indeterminate)</p>\n", f);
}

/* The time axis: about eight ticks at 1, 2 or 5 times a power of ten of
 * milliseconds, each with a grid line across every lane. */
static void tl_axis(FILE *f, const tl_view *v)
{
    double span_ms = (double)(v->t1 - v->t0) / 1e6, step = pow(10, floor(log10(span_ms / 8)));
    if (span_ms / step > 40)
        step *= 5;
    else if (span_ms / step > 16)
        step *= 2;
    for (double t = 0; t <= span_ms + 1e-9; t += step) {
        double px = xof(v, v->t0 + (int64_t)(t * 1e6));
        fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
                   "<text x=\"%.1f\" y=\"14\" text-anchor=\"middle\">%g ms</text>\n",
                px, TL_AXIS - 6, px, v->height - 4, px, t);
    }
}

/* A transaction's end centred at (x, y): kind "commit" (a diamond),
 * "rollback" (a square) or "lost" (a cross). */
static void end_mark(FILE *f, const char *kind, double x, double y, const char *title)
{
    fprintf(f, "<g class=\"end end-%s\"><title>", kind);
    text(f, title);
    fputs("</title>", f);
    if (strcmp(kind, "commit") == 0)
        fprintf(f, "<path d=\"M%.1f %.1fl5 5l-5 5l-5 -5z\"/>", x, y - 5);
    else if (strcmp(kind, "rollback") == 0)
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"8\"/>", x - 4, y - 4);
    else
        fprintf(f, "<path d=\"M%.1f %.1fl10 10M%.1f %.1fl-10 10\"/>", x - 5, y - 5, x + 5, y - 5);
    fputs("</g>", f);
}

/* The mark of call c's injected fault, its tip at (x, y). */
static void fault_mark(FILE *f, double x, int y, const rep_call *c)
{
    fprintf(f, "<path class=\"fault\" d=\"M%.1f %dl-6 -9h12z\"><title>injected fault: ", x, y);
    text(f, c->fault ? c->fault : "");
    fputs("</title></path>\n", f);
}

/* Where a statement's bar goes: from its send to its result (at least a
 * pixel wide), in the row of its connection. */
typedef struct tl_box {
    double x, w;
    int y, h;
} tl_box;

static tl_box stmt_box(const tl_view *v, const rep_stmt *s, int lane_y)
{
    double w = (double)(s->t_done - s->t_send) * v->px;
    return (tl_box){
        .x = xof(v, s->t_send),
        .w = w > 1 ? w : 1,
        .y = lane_y + 7 + (v->two ? s->conn * (TL_LANE - 14) / 2 : 0),
        .h = v->two ? (TL_LANE - 14) / 2 : TL_LANE - 14,
    };
}

/* Statement s's bar in box b: a probable lock wait past the threshold,
 * failed, or else shaded by its duration; its SQL, duration and SQLSTATE
 * in the tooltip. */
static void stmt_bar(FILE *f, const tl_view *v, const rep_stmt *s, tl_box b)
{
    int64_t dur = s->t_done - s->t_send;
    bool wait = dur > v->threshold;
    double shade = wait || s->failed ? 1.0 : 0.45 + 0.55 * (double)dur / (double)(v->threshold ? v->threshold : 1);
    fprintf(f, "<rect class=\"stmt%s%s\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
               "fill-opacity=\"%.2f\"><title>",
            wait ? " wait" : "", s->failed ? " failed" : "", b.x, b.y, b.w, b.h, shade > 1 ? 1.0 : shade);
    char title[512];
    snprintf(title, sizeof title, "%s%s — %.3f ms (%.1fx median)%s%s%s", s->sql,
             strlen(s->sql) >= sizeof s->sql - 1 ? "…" : "", (double)dur / 1e6,
             v->median ? (double)dur / (double)v->median : 0.0, s->failed ? " failed " : "", s->sqlstate,
             wait ? " — probable lock wait" : "");
    text(f, title);
    fputs("</title></rect>\n", f);
}

/* The transaction's end, if statement s of call c is one, marked at its
 * result: COMMIT or END is a commit, or when it failed a rollback (lost
 * when the call lost its connection: indeterminate); ROLLBACK or ABORT is
 * a rollback. Returns whether it drew a lost mark (the call's end then
 * needs none). */
static bool txn_end_mark(FILE *f, const tl_view *v, const rep_call *c, const rep_stmt *s, int lane_y)
{
    char title[512];
    if (starts_with_word(s->sql, "COMMIT") || starts_with_word(s->sql, "END")) {
        const char *kind = !s->failed ? "commit" : c->indeterminate || c->conn_lost ? "lost" : "rollback";
        snprintf(title, sizeof title, "%s at %.3f ms", strcmp(kind, "lost") == 0
                 ? "COMMIT lost: indeterminate" : strcmp(kind, "commit") == 0 ? "commit"
                 : "COMMIT failed: rolled back", (double)(s->t_done - v->t0) / 1e6);
        end_mark(f, kind, xof(v, s->t_done), lane_y + TL_LANE / 2, title);
        return strcmp(kind, "lost") == 0;
    }
    if (starts_with_word(s->sql, "ROLLBACK") || starts_with_word(s->sql, "ABORT")) {
        snprintf(title, sizeof title, "rollback at %.3f ms", (double)(s->t_done - v->t0) / 1e6);
        end_mark(f, "rollback", xof(v, s->t_done), lane_y + TL_LANE / 2, title);
    }
    return false;
}

/* The attempt box of call c, from its start to its end: border by outcome,
 * the call's answer (and message, when it did not succeed) in the
 * tooltip. Leaves the call's group open for its statements. */
static void attempt_box(FILE *f, const tl_view *v, const rep_call *c, int lane_y)
{
    double x0 = xof(v, c->t_start), x1 = xof(v, c->t_end);
    char title[512];
    snprintf(title, sizeof title, "worker %d%s: %s %d (%s)%s%s%s%s in %.3f ms%s", c->worker + 1,
             c->attempt ? " retry" : "", outcome_name(c->kind), c->status, rep_call_type(c),
             c->result ? " -> " : "", c->result ? c->result : "", c->sqlstate[0] ? " " : "", c->sqlstate,
             (double)(c->t_end - c->t_start) / 1e6, c->timed_out ? ", cancelled at the deadline" : "");
    fprintf(f, "<g class=\"call\" data-attempt=\"%d\"><rect class=\"attempt o-%s\" x=\"%.1f\" y=\"%d\" "
               "width=\"%.1f\" height=\"%d\" rx=\"3\"><title>",
            c->attempt, outcome_name(c->kind), x0, lane_y + 3, x1 - x0 > 1 ? x1 - x0 : 1, TL_LANE - 6);
    text(f, title);
    if (c->message && c->kind != OUT_OK) {
        fputs(": ", f);
        text(f, c->message);
    }
    fputs("</title></rect>\n", f);
}

/* One call (attempt) in the lane at lane_y: its box, each statement's bar
 * and transaction end, the injected fault on the statement it hit (at the
 * call's end when none is known), and a lost mark at the call's end when
 * the connection was lost and no COMMIT showed it. */
static void call_group(FILE *f, const tl_view *v, const rep_call *c, int lane_y)
{
    attempt_box(f, v, c, lane_y);
    bool lost_marked = false;
    int hit = fault_stmt(c);
    for (int j = 0; j < c->nstmts; j++) {
        const rep_stmt *s = &c->stmts[j];
        tl_box b = stmt_box(v, s, lane_y);
        stmt_bar(f, v, s, b);
        lost_marked |= txn_end_mark(f, v, c, s, lane_y);
        if (j == hit)
            fault_mark(f, b.x + b.w / 2, b.y, c);
    }
    if (c->faults && hit < 0)
        fault_mark(f, xof(v, c->t_end), lane_y + 7, c);
    if ((c->conn_lost || c->indeterminate) && !lost_marked) {
        char title[512];
        snprintf(title, sizeof title, "connection lost%s at %.3f ms",
                 c->indeterminate ? " at COMMIT: indeterminate" : "", (double)(c->t_end - v->t0) / 1e6);
        end_mark(f, "lost", xof(v, c->t_end), lane_y + TL_LANE / 2, title);
    }
    fputs("</g>\n", f);
}

/* Worker w's lane (0-based): its label, its bottom line, and its calls in
 * the order they were recorded. */
static void lane(FILE *f, const tl_view *v, const rep_iter *x, int w)
{
    int y = TL_AXIS + w * TL_LANE;
    fprintf(f, "<g class=\"lane\" data-worker=\"%d\"><text x=\"6\" y=\"%d\">worker %d</text>"
               "<line class=\"grid\" x1=\"0\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
            w + 1, y + TL_LANE / 2 + 4, w + 1, y + TL_LANE, TL_WIDTH, y + TL_LANE);
    for (int i = 0; i < x->ncalls; i++)
        if (x->calls[i].worker == w)
            call_group(f, v, &x->calls[i], y);
    fputs("</g>\n", f);
}

/* Iteration x of item it as a legend and an SVG: the axis, then one lane
 * per worker. */
static void timeline(FILE *f, const rep_item *it, const rep_iter *x)
{
    tl_view v;
    tl_measure(&v, it, x);
    tl_legend(f, &v);
    fprintf(f, "<svg class=\"timeline\" data-iteration=\"%ld\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "xmlns=\"http://www.w3.org/2000/svg\" role=\"img\">\n",
            x->iteration, TL_WIDTH, v.height, TL_WIDTH, v.height);
    tl_axis(f, &v);
    for (int w = 0; w < v.nworkers; w++)
        lane(f, &v, x, w);
    fputs("</svg>\n", f);
}

/* --- latency histograms ----------------------------------------------- */

#define HB 48                   /* display bins, log-spaced from min to max */

static void histogram(FILE *f, const hist *h, outcome_kind kind, long calls)
{
    const int W = 560, H = 170, L = 44, B = 30;
    double lo = log((double)(h->min > 1000 ? h->min : 1000)), hi = log((double)(h->max > 1000 ? h->max : 1000));
    if (hi <= lo)
        hi = lo + 1e-3;
    uint64_t bins[HB] = { 0 }, top = 0;
    for (int b = 0; b < HIST_POW * HIST_SUB; b++) {
        if (!h->bucket[b])
            continue;
        int64_t v = hist_bucket_top(b);
        v = v > h->max ? h->max : v < h->min ? h->min : v;
        double lv = log((double)(v > 1000 ? v : 1000));
        int i = (int)((lv - lo) / (hi - lo) * HB);
        i = i < 0 ? 0 : i >= HB ? HB - 1 : i;
        bins[i] += h->bucket[b];
    }
    for (int i = 0; i < HB; i++)
        top = bins[i] > top ? bins[i] : top;
    fprintf(f, "<figure><figcaption><b>%s</b>: %ld calls, p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms"
               "</figcaption>\n<svg class=\"hist\" data-outcome=\"%s\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\">\n",
            outcome_name(kind), calls, (double)hist_quantile(h, 0.5) / 1e6, (double)hist_quantile(h, 0.9) / 1e6,
            (double)hist_quantile(h, 0.99) / 1e6, (double)h->max / 1e6, outcome_name(kind), W, H, W, H);
    double bw = (double)(W - L - 10) / HB;
    for (int i = 0; i < HB; i++) {
        if (!bins[i])
            continue;
        double bh = (double)(H - B - 10) * (double)bins[i] / (double)top;
        double v0 = exp(lo + (hi - lo) * i / HB) / 1e6, v1 = exp(lo + (hi - lo) * (i + 1) / HB) / 1e6;
        fprintf(f, "<rect class=\"hbar o-%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">"
                   "<title>%.3f–%.3f ms: %" PRIu64 " calls</title></rect>\n",
                outcome_name(kind), L + i * bw, H - B - bh, bw > 2 ? bw - 1 : bw, bh, v0, v1, bins[i]);
    }
    static const struct { const char *name; double q; } qs[] = { { "p50", 0.5 }, { "p90", 0.9 }, { "p99", 0.99 } };
    for (size_t q = 0; q < sizeof qs / sizeof qs[0]; q++) {
        int64_t v = hist_quantile(h, qs[q].q);
        double lv = log((double)(v > 1000 ? v : 1000));
        double px = L + (lv - lo) / (hi - lo) * (W - L - 10);
        fprintf(f, "<line class=\"qline\" x1=\"%.1f\" y1=\"10\" x2=\"%.1f\" y2=\"%d\"/>"
                   "<text x=\"%.1f\" y=\"%zu\" text-anchor=\"middle\">%s</text>\n",
                px, px, H - B, px, 10 + 11 * q + 8, qs[q].name);
    }
    fprintf(f, "<line class=\"grid\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>", L, H - B, W - 10, H - B);
    for (int t = 0; t <= 4; t++) {
        double v = exp(lo + (hi - lo) * t / 4) / 1e6;
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.2f ms</text>", L + (W - L - 10) * t / 4.0,
                H - B + 16, v);
    }
    fprintf(f, "<text x=\"4\" y=\"16\">%" PRIu64 "</text><text x=\"4\" y=\"%d\">0</text>\n</svg></figure>\n",
            top, H - B);
}

/* --- the page --------------------------------------------------------- */

static void percentiles_row(FILE *f, const rep_item *it)
{
    for (int k = 0; k < 4; k++) {
        const hist *h = &it->latency[k];
        if (!h->count)
            continue;
        fprintf(f, "%s %ld: p50 %.2f / p90 %.2f / p99 %.2f / max %.2f ms<br>", outcome_name(k), it->outcomes[k],
                (double)hist_quantile(h, 0.5) / 1e6, (double)hist_quantile(h, 0.9) / 1e6,
                (double)hist_quantile(h, 0.99) / 1e6, (double)h->max / 1e6);
    }
}

/* "3 points: 1 ok, 2 violated" (the verdicts with none left out). */
static void counts_text(FILE *f, const int c[4], int n)
{
    fprintf(f, "%d point%s", n, n == 1 ? "" : "s");
    for (int k = 0, first = 1; k < 4; k++)
        if (c[k]) {
            fprintf(f, "%s<span class=\"%s\">%d %s</span>", first ? ": " : ", ", rep_verdict_name(k), c[k],
                    rep_verdict_name(k));
            first = 0;
        }
}

/* What the item ran with: its settings, one "key value" each. */
static void settings_text(FILE *f, json_t *settings)
{
    const char *key;
    json_t *v;
    int n = 0;
    json_object_foreach(settings, key, v) {
        if (json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0) || json_is_false(v))
            continue;
        char *val = json_is_string(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        fputs(n++ ? ", " : "", f);
        text(f, key);
        fputs(" <code>", f);
        text(f, json_is_string(v) ? json_string_value(v) : val ? val : "");
        fputs("</code>", f);
        free(val);
    }
}

/* Opens item idx's section: its heading with the verdict, what it ran
 * with, its notes, the command that repeats it, and why it stopped if it
 * did. */
static void item_intro(FILE *f, const rep_item *it, int idx)
{
    const char *verdict = rep_verdict_name(rep_item_verdict(it));
    fprintf(f, "<section class=\"item\" id=\"item-%d\" data-kind=\"%s\" data-verdict=\"%s\">\n<h2>", idx,
            it->kind, verdict);
    text(f, it->name);
    fprintf(f, "<span class=\"badge %s\">%s</span></h2>\n<p>", verdict, verdict);
    settings_text(f, it->settings);
    if (it->iterations)
        fprintf(f, ".<br>%ld iterations in %.2f s", it->iterations, it->seconds);
    if (it->repeat) {
        fputs(".<br>Repeat: <code>", f);
        text(f, it->repeat);
        fputs("</code>", f);
    }
    fputs("</p>\n", f);
    if (it->nnotes) {
        fputs("<pre class=\"notes\">", f);
        for (int k = 0; k < it->nnotes; k++) {
            text(f, it->notes[k]);
            fputc('\n', f);
        }
        fputs("</pre>\n", f);
    }
    const char *stopped = it->error ? it->error : it->ended ? NULL : "did not finish";
    if (stopped) {
        fputs("<p class=\"error\">Stopped: ", f);
        text(f, stopped);
        fputs("</p>\n", f);
    }
}

/* Every point of the item: its verdict and why, linked to its diagnostics. */
static void points_table(FILE *f, const rep_item *it, int idx)
{
    int c[4];
    int n = rep_item_counts(it, c);
    fputs("<h3>Points</h3>\n<p>", f);
    counts_text(f, c, n);
    fputs("</p>\n<table class=\"points\"><tr><th>#</th><th>point</th><th>verdict</th><th>why</th></tr>\n", f);
    for (int k = 0; k < n; k++) {
        const rep_point *p = &it->points[k];
        const char *v = rep_verdict_name(p->verdict);
        bool diag = p->verdict != REP_OK && p->diag;
        char why[512] = "";
        if (p->verdict != REP_OK)
            rep_point_summary(p, why, sizeof why);
        fprintf(f, "<tr class=\"point\" data-verdict=\"%s\"><td class=\"n\">%d</td><td class=\"name\">", v, k + 1);
        if (diag)
            fprintf(f, "<a href=\"#diag-%d-%d\">", idx, k);
        text(f, p->name);
        fprintf(f, "%s</td><td class=\"%s\">%s</td><td class=\"reason\">", diag ? "</a>" : "", v, v);
        text(f, why);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

/* The timeline of the iteration rep_timeline_iter picks, with a heading
 * saying which one it is; nothing when no iteration was traced. */
static void item_timeline(FILE *f, const rep_item *it)
{
    const rep_iter *x = rep_timeline_iter(it);
    if (!x)
        return;
    fprintf(f, "<h3>Timeline of iteration %ld (%s)</h3>\n", x->iteration,
            x == &it->first_bad ? "the first that violated an invariant" : "the slowest; every invariant held");
    if (x->fault[0]) {
        fputs("<p>Fault rules of this iteration: <code>", f);
        text(f, x->fault);
        fputs("</code></p>\n", f);
    }
    timeline(f, it, x);
}

/* An explored schedule (a violation's "steps": "wN: SQL  (notes)") as a
 * grid, one column per worker; nothing when d has none. */
static void schedule_grid(FILE *f, json_t *d, int nworkers)
{
    json_t *steps = json_object_get(d, "steps");
    if (!json_is_array(steps) || json_array_size(steps) == 0 || nworkers < 1)
        return;
    fputs("<p>The schedule that violated it: token <code>", f);
    text(f, json_string_value(json_object_get(d, "schedule")) ? json_string_value(json_object_get(d, "schedule")) : "");
    fprintf(f, "</code>, %" JSON_INTEGER_FORMAT " preemption(s); a blue rule marks a change of worker.</p>\n",
            json_integer_value(json_object_get(d, "preemptions")));
    fputs("<table class=\"schedule\"><tr><th>#</th>", f);
    for (int w = 1; w <= nworkers; w++)
        fprintf(f, "<th>worker %d</th>", w);
    fputs("</tr>\n", f);
    int last = -1;
    size_t i;
    json_t *v;
    json_array_foreach(steps, i, v) {
        const char *line = json_string_value(v);
        int w;
        int off = 0;
        if (!line || sscanf(line, "w%d: %n", &w, &off) != 1 || off == 0 || w < 1 || w > nworkers)
            continue;
        const char *sql = line + off;
        const char *cls = strstr(sql, "(fault injected") ? " class=\"faulted\""
                          : strstr(sql, "(blocked by ")   ? " class=\"blocked\""
                                                          : "";
        fprintf(f, "<tr%s><td class=\"n\">%zu</td>", last >= 0 && last != w ? " class=\"switch\"" : "", i + 1);
        for (int c = 1; c <= nworkers; c++) {
            if (c != w) {
                fputs("<td></td>", f);
                continue;
            }
            fprintf(f, "<td%s>", cls);
            text(f, sql);
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
        last = w;
    }
    fputs("</table>\n", f);
    const char *replay = json_string_value(json_object_get(d, "replay"));
    if (replay) {
        fputs("<p>Replay it: <code>", f);
        text(f, replay);
        fputs("</code></p>\n", f);
    }
}

/* The diagnostics of every point that is not ok, as the TAP YAML block,
 * the first one unfolded, with its schedule when the explorer found it. */
static void diagnostics(FILE *f, const rep_item *it, int idx)
{
    int shown = 0;
    for (int k = 0; k < it->npoints; k++) {
        const rep_point *p = &it->points[k];
        char *yaml = p->verdict == REP_OK ? NULL : rep_yaml(p->diag);
        if (!yaml)
            continue;
        const char *v = rep_verdict_name(p->verdict);
        fprintf(f, "<details class=\"diag\" id=\"diag-%d-%d\" data-verdict=\"%s\"%s><summary><b class=\"%s\">%s</b> ",
                idx, k, v, shown++ ? "" : " open", v, v);
        text(f, p->name);
        fputs("</summary>\n", f);
        schedule_grid(f, p->diag, it->nworkers);
        fputs("<pre>", f);
        text(f, yaml);
        fputs("</pre></details>\n", f);
        free(yaml);
    }
}

static void item_section(FILE *f, const rep_item *it, int idx)
{
    item_intro(f, it, idx);
    points_table(f, it, idx);
    diagnostics(f, it, idx);
    item_timeline(f, it);
    bool any = false;
    for (int k = 0; k < 4; k++)
        any |= it->latency[k].count > 0;
    if (any) {
        fputs("<h3>Latency by outcome</h3>\n<div class=\"hists\">\n", f);
        for (int k = 0; k < 4; k++)
            if (it->latency[k].count)
                histogram(f, &it->latency[k], k, it->outcomes[k]);
        fputs("</div>\n", f);
    }
    fputs("</section>\n", f);
}

/* The run's summary under the page's title: mode, seed, command, server,
 * when and where, its notes. */
static void page_head(FILE *f, const report *r)
{
    char buf[64], stamp[64];
    struct tm tm;
    gmtime_r(&r->started, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S UTC", &tm);
    fputs("<table class=\"summary\">\n<tr><th>mode</th><td>", f);
    text(f, r->mode);
    fputs("</td></tr>\n<tr><th>seed</th><td><code>", f);
    snprintf(buf, sizeof buf, "%" PRIu64, r->seed);
    text(f, buf);
    fputs("</code></td></tr>\n<tr><th>command</th><td><code>", f);
    text(f, r->command);
    fputs("</code></td></tr>\n", f);
    if (r->server_version) {
        rep_server_text(r->server_version, buf, sizeof buf);
        fprintf(f, "<tr><th>server</th><td>PostgreSQL %s (%s)</td></tr>\n", buf,
                r->dsn ? "--dsn" : r->embedded ? "embedded cluster" : "PG* environment");
    }
    fprintf(f, "<tr><th>started</th><td>%s on ", stamp);
    text(f, r->hostname);
    fputs("</td></tr>\n</table>\n", f);
    if (r->nnotes) {
        fputs("<pre class=\"notes\">", f);
        for (int k = 0; k < r->nnotes; k++) {
            text(f, r->notes[k]);
            fputc('\n', f);
        }
        fputs("</pre>\n", f);
    }
    if (r->bail) {
        fputs("<p class=\"error\">The run stopped: ", f);
        text(f, r->bail);
        fputs("</p>\n", f);
    }
    if (r->oom)
        fputs("<p class=\"error\">Out of memory while recording: this report is incomplete.</p>\n", f);
}

/* One row per item, linking to its section: verdict, points, the points
 * not ok, its calls and latency by outcome. */
static void items_table(FILE *f, const report *r)
{
    fputs("<h2>Items</h2>\n<table class=\"items\"><tr><th>item</th><th>verdict</th><th>points</th>"
          "<th>iterations</th><th>not ok</th><th>calls and latency</th></tr>\n", f);
    for (int i = 0; i < r->nitems; i++) {
        const rep_item *it = r->items[i];
        const char *v = rep_verdict_name(rep_item_verdict(it));
        int c[4];
        int n = rep_item_counts(it, c);
        fprintf(f, "<tr><td><a href=\"#item-%d\">", i);
        text(f, it->name);
        fprintf(f, "</a></td><td class=\"%s\">%s</td><td>", v, v);
        counts_text(f, c, n);
        fprintf(f, "</td><td>%ld</td><td>", it->iterations);
        for (int k = 0; k < n; k++)
            if (it->points[k].verdict == REP_VIOLATED || it->points[k].verdict == REP_ERROR) {
                text(f, it->points[k].name);
                fputs("<br>", f);
            }
        fputs("</td><td>", f);
        percentiles_row(f, it);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

int report_write_html(const report *r, const char *path, char *err, size_t errlen)
{
    FILE *f = rep_html_open(path, "pgrace report", rep_verdict_name(report_verdict(r)), css, err, errlen);
    if (!f)
        return -1;
    page_head(f, r);
    items_table(f, r);
    for (int i = 0; i < r->nitems; i++)
        item_section(f, r->items[i], i);
    /* Counts what was drawn, for tests and tools: nothing needs it to show. */
    fprintf(f, "<script>\n(function () {\n"
               "  var b = document.body;\n"
               "  b.setAttribute('data-lanes', document.querySelectorAll('svg.timeline g.lane').length);\n"
               "  b.setAttribute('data-faults', document.querySelectorAll('svg.timeline .fault').length);\n"
               "  b.setAttribute('data-points', document.querySelectorAll('tr.point').length);\n"
               "  b.setAttribute('data-rendered', 'yes');\n"
               "})();\n</script>\n</body></html>\n");
    return rep_close(f, path, err, errlen);
}
