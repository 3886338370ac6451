/* json.c — a spec run as JSON (see json.h). */
#include "reports/spec_json.h"

#include "reports/out.h"


static json_t *permutation_json(const spec_point *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(p->name));
    json_object_set_new(o, "verdict", json_string(spec_point_verdict(p)));
    json_object_set_new(o, "reason", p->why ? json_string(p->why) : json_null());
    json_object_set_new(o, "seconds", json_real(p->seconds));
    json_object_set(o, "diagnostics", p->diag ? p->diag : json_null());
    return o;
}

static json_t *report_json(const spec_report *r)
{
    json_t *doc = rep_json_begin("tool", "pgrace spec", r->seed, r->command, r->started), *files = json_array();
    char buf[32];
    if (r->server_version) {
        rep_server_text(r->server_version, buf, sizeof buf);
        json_object_set_new(doc, "server_version", json_string(buf));
    }
    json_object_set_new(doc, "complete", json_boolean(r->points->n >= r->planned));
    json_object_set_new(doc, "verdict", json_string(spec_report_verdict(r)));
    for (int i = 0; i < r->nfiles; i++) {
        json_t *perms = json_array();
        for (int k = 0; k < r->points->n; k++)
            if (r->points->p[k].file == i)
                json_array_append_new(perms, permutation_json(&r->points->p[k]));
        json_array_append_new(files, json_pack("{s:s, s:o}", "path", r->files[i], "permutations", perms));
    }
    json_object_set_new(doc, "files", files);
    int c[4];
    int n = spec_report_counts(r, -1, c);
    json_object_set_new(doc, "summary", json_pack("{s:i, s:i, s:i, s:i, s:i}", "permutations", n, "ok", c[0],
                                                  "violated", c[1], "error", c[2], "skipped", c[3]));
    return doc;
}

int spec_json_write(const spec_report *r, const char *path, char *err, size_t errlen)
{
    json_t *doc = report_json(r);
    int rc = rep_write_json(doc, path, err, errlen);
    json_decref(doc);
    return rc;
}
