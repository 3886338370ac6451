#!/bin/sh
# psql_cases.sh — the driver table's cases for psql and pgbench (libpq, through
# the proxy; t/clients/README.md). What psql raised is its error line
# (VERBOSITY verbose: "ERROR:  40001: ..."), or the lost connection.
# pgbench runs the pipeline (\startpipeline, -M extended).
sql() { psql -XAtq -v VERBOSITY=verbose "$@" 2>&1; }
# The first "ERROR:  CODE" of psql's output, or "lost" for a lost connection.
raised() {
    out=$(cat)
    code=$(printf '%s\n' "$out" | sed -n 's/^.*ERROR:  \([0-9A-Z]\{5\}\):.*$/ERROR \1/p' | head -1)
    if [ -n "$code" ]; then echo "$code"
    elif printf '%s' "$out" | grep -q 'server closed the connection unexpectedly'; then echo "lost"
    else echo "none"; fi
}
# Connection 1: one psql session; its ERROR lines in order.
codes=$(printf '%s\n' 'CREATE TABLE IF NOT EXISTS pgf_rows (id int PRIMARY KEY);' \
        'SELECT 1 /* pgf-ser */;' 'SELECT 1 /* pgf-dl */;' 'SELECT 1 /* pgf-uv */;' \
        'BEGIN;' 'SELECT 1;' 'SELECT 1 /* pgf-ser */;' 'SELECT 2;' 'ROLLBACK;' \
    | psql -Xq -v VERBOSITY=verbose 2>&1 | sed -n 's/^.*ERROR:  \([0-9A-Z]\{5\}\):.*$/ERROR \1/p' | tr '\n' ,)
i=0
for case in ser dl uv intx next; do
    i=$((i + 1))
    echo "$case=$(printf '%s' "$codes" | cut -d, -f$i)"
done
echo "commit=$(printf 'BEGIN;\nINSERT INTO pgf_rows VALUES (20);\nCOMMIT;\n' | psql -Xq -v VERBOSITY=verbose 2>&1 | raised)"   # 2
echo "commit_rows=$(sql -c 'SELECT count(*) FROM pgf_rows WHERE id = 20')"                   # 3
echo "drop=$(psql -Xq -c 'SELECT 1 /* pgf-drop */' 2>&1 | raised)"                           # 4
echo "ambiguous=$(printf 'BEGIN;\nINSERT INTO pgf_rows VALUES (30);\nCOMMIT;\n' | psql -Xq 2>&1 | raised)"   # 5
echo "ambiguous_rows=$(sql -c 'SELECT count(*) FROM pgf_rows WHERE id = 30')"                # 6
# One Query of several statements (psql -c): the COMMIT inside it fails.
echo "multi=$(psql -Xq -v VERBOSITY=verbose -c 'BEGIN; INSERT INTO pgf_rows VALUES (40); COMMIT' 2>&1 | raised)"   # 7
echo "multi_rows=$(sql -c 'SELECT count(*) FROM pgf_rows WHERE id = 40')"                    # 8
script=$(mktemp)
printf '\\startpipeline\nINSERT INTO pgf_rows VALUES (10) /* pgf-pipe */;\nINSERT INTO pgf_rows VALUES (11) /* pgf-pipe */;\nINSERT INTO pgf_rows VALUES (12) /* pgf-pipe */;\n\\endpipeline\n' >"$script"
# pgbench says what a failure was with --failures-detailed: 40001 is a
# serialization failure.
out=$(pgbench -n -t 1 -M extended --failures-detailed -f "$script" 2>/dev/null)   # 9, 10 (pgbench's first connection only looks)
echo "pipeline=$(printf '%s\n' "$out" | sed -n 's/^number of \(serialization\) failures: 1 .*$/\1 failure/p;s/^number of \(deadlock\) failures: 1 .*$/\1 failure/p')"
rm -f "$script"
echo "pipeline_rows=$(sql -c 'SELECT count(*) FROM pgf_rows WHERE id BETWEEN 10 AND 12')"    # 11
