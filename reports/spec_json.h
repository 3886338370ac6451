/*
 * json.h — `pgrace spec --json F`: the run's points as one JSON object.
 *
 *   { "tool": "pgrace spec", "version": 1,
 *     "seed": N,                   an integer; a decimal string above 2^63-1
 *     "command": "build/pgrace spec --json r.json race.spec",
 *                                  the command line, words quoted as a shell would need
 *     "started": "2024-05-01T12:00:00Z",   when the run began, UTC
 *     "server_version": "15.18",   absent when no server was reached
 *     "complete": true,            false: the run stopped before its last permutation
 *     "verdict": "ok" | "violated" | "error",   the run's (an incomplete run's is "error")
 *     "files": [ { "path": "race.spec",        as given on the command line
 *                  "permutations": [ {
 *                      "name": "r1 r2 w1 c1 w2 c2",   as the TAP point names it
 *                      "verdict": "ok" | "violated" | "error" | "skipped",
 *                      "reason": "invariant \"x\" violated (1 row)" | null,
 *                      "seconds": 0.012,
 *                      "diagnostics": { ... } } ] } ],
 *     "summary": { "permutations": N, "ok": N, "violated": N, "error": N, "skipped": N } }
 *
 * "violated": an invariant returned rows (or its query failed); "error":
 * the permutation could not complete; "skipped": an interleaving --explore
 * found infeasible (its session waits on a lock the steps before it hold),
 * "ok" in TAP with a SKIP. "reason" is null for "ok" only. "diagnostics"
 * is the object the TAP YAML block renders, for every permutation: spec,
 * permutation, error (the reason it could not complete), faults (how many
 * step faults were carried out), violations ([{invariant, count, rows:
 * [{column: text or null}]}: the first rows; {invariant, error} when its
 * query failed) and
 * output (what isolationtester prints for it, a string per line).
 * "summary" counts the permutations recorded, over all files.
 */
#ifndef PGRACE_SPEC_JSON_H
#define PGRACE_SPEC_JSON_H

#include "reports/spec_points.h"

/* Writes path. Returns 0 or -1 with a one-line reason. */
int spec_json_write(const spec_report *r, const char *path, char *err, size_t errlen);

#endif
