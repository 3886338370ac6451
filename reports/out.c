/* out.c — what the report writers share (see out.h). */
#include "reports/out.h"

#include "lib/err.h"

#include <errno.h>
#include <inttypes.h>

static const char base_css[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;margin:24px;"
    "color:#1d2330;background:#fafbfc}"
    "h1{font-size:22px;margin:0 0 12px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d6dae1;"
    "padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}"
    "code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}"
    "pre{background:#f0f2f5;border:1px solid #d6dae1;padding:8px;overflow:auto;max-height:360px}"
    "table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #d6dae1;padding:3px 8px;"
    "text-align:left;vertical-align:top}th{background:#eef1f5}"
    ".held,.ok{color:#17693a;font-weight:600}.violated{color:#b3261e;font-weight:600}"
    ".error{color:#8a5a00;font-weight:600}.skipped{color:#6b7280;font-weight:600}"
    ".badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;color:#fff;"
    "margin-left:8px;vertical-align:middle}"
    ".badge.held,.badge.ok{background:#17693a}.badge.violated{background:#b3261e}.badge.error{background:#8a5a00}"
    ".badge.skipped{background:#6b7280}"
    "section.item{background:#fff;border:1px solid #d6dae1;border-radius:6px;padding:4px 16px 16px;"
    "margin:18px 0}";

FILE *rep_html_open(const char *path, const char *title, const char *verdict, const char *css, char *err,
                    size_t errlen)
{
    FILE *f = rep_open(path, err, errlen);
    if (!f)
        return NULL;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
          f);
    rep_xml_text(f, title);
    fprintf(f, ": %s</title>\n<style>%s%s</style></head>\n<body data-verdict=\"%s\">\n<h1>", verdict, base_css,
            css ? css : "", verdict);
    rep_xml_text(f, title);
    fprintf(f, " <span class=\"badge %s\">%s</span></h1>\n", verdict, verdict);
    return f;
}

json_t *rep_json_begin(const char *key, const char *name, uint64_t seed, const char *command, time_t started)
{
    char buf[64];
    struct tm tm;
    gmtime_r(&started, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_pack("{s:s, s:i, s:o, s:s, s:s}", key, name, "version", 2, "seed", rep_seed_json(seed), "command",
                     command, "started", buf);
}

json_t *rep_seed_json(uint64_t seed)
{
    if (seed <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)seed);
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, seed);
    return json_string(buf);
}

void rep_server_text(int v, char *buf, size_t len)
{
    if (v >= 100000)
        snprintf(buf, len, "%d.%d", v / 10000, v % 100);
    else
        snprintf(buf, len, "%d.%d.%d", v / 10000, v / 100 % 100, v % 100);
}

void rep_xml_text(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default:
            if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
                break;          /* not allowed in XML 1.0 */
            fputc(*p, f);
        }
    }
}

FILE *rep_open(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f)
        err_sys(err, errlen, errno, "cannot write %s", path);
    return f;
}

int rep_close(FILE *f, const char *path, char *err, size_t errlen)
{
    int bad = ferror(f);
    int saved = errno;
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    if (bad) {
        err_sys(err, errlen, saved, "cannot write %s", path);
        return -1;
    }
    return 0;
}

int rep_write_json(json_t *doc, const char *path, char *err, size_t errlen)
{
    FILE *f = rep_open(path, err, errlen);
    if (!f)
        return -1;
    int rc = doc ? json_dumpf(doc, f, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : -1;
    fputc('\n', f);
    if (rep_close(f, path, err, errlen) < 0)
        return -1;
    if (rc != 0) {
        snprintf(err, errlen, "cannot write %s: JSON encoding failed", path);
        return -1;
    }
    return 0;
}
