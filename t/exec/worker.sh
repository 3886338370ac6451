#!/bin/sh
# worker.sh MODE — small programs for t/86-exec.t (and t/87), each a worker of
# `pgrace exec` (examples/README.md has the contract): psql over the
# environment exec gives it, one answer line last on stdout.
q() { psql -XAtq -v ON_ERROR_STOP=1 "$@"; }
w=$PGRACE_WORKER
# worker.sh MODE renamed: its connections name themselves, as a driver that
# ignores PGAPPNAME does (t/25: the proxy names them all the same).
[ "$2" = renamed ] && export PGAPPNAME=worker.sh
case "$1" in
env)        # what a worker is told, and what its connection is
    sp=$(q -c "SHOW search_path") || exit 1
    echo "200 w=$w n=$PGRACE_WORKERS i=$PGRACE_ITERATION seed=$PGRACE_SEED host=$PGHOST port=$PGPORT sp=$sp" ;;
answers)    # every way to end without an answer but the first
    case $w in
    1) q -c "SELECT 1" >/dev/null && echo "200 fine" ;;
    2) echo "starting"; echo "Traceback: boom" >&2; exit 3 ;;
    3) kill -SEGV $$ ;;
    4) ;;
    5) echo "no status here" ;;
    6) echo "200 answered, then"; exit 1 ;;
    esac ;;
hang)       # worker 2 never connects
    [ "$w" = 2 ] && exec sleep 1000
    q -c "SELECT 1" >/dev/null && echo "200 ok" ;;
block)      # worker 1 holds the row lock and sleeps; worker 2 waits for it
    if [ "$w" = 1 ]; then
        q -c "BEGIN" -c "UPDATE t SET v = v + 1 WHERE id = 1" -c "SELECT pg_sleep(60)" >/dev/null
    else
        q -c "DO \$\$BEGIN FOR i IN 1..3000 LOOP EXIT WHEN EXISTS (SELECT 1 FROM pg_locks l JOIN pg_class c ON
                c.oid = l.relation WHERE c.relname = 't' AND l.pid <> pg_backend_pid()); PERFORM pg_sleep(0.01);
                END LOOP; END\$\$" -c "UPDATE t SET v = v + 1 WHERE id = 1" >/dev/null
    fi
    echo "200 done" ;;
lost-update) # read, then write what was read plus one: a lost update when two interleave
    v=$(q -c "SELECT v FROM t WHERE id = 1") || { echo "500 read failed"; exit 0; }
    q -c "UPDATE t SET v = $((v + 1)) WHERE id = 1" >/dev/null || { echo "500 write failed"; exit 0; }
    echo "200 v=$((v + 1))" ;;
fixed)      # the counter's fixed form: one atomic increment, its answer the value it wrote
    v=$(q -c "UPDATE t SET v = v + 1 WHERE id = 1 RETURNING v") || { echo "500 write failed"; exit 0; }
    echo "200 v=$v" ;;
locked)     # the fixed form with a row lock: read FOR UPDATE, then write, in one transaction
    v=$(q -c "BEGIN" -c "SELECT v FROM t WHERE id = 1 FOR UPDATE" -c "UPDATE t SET v = v + 1 WHERE id = 1" \
          -c "COMMIT") || { echo "500 failed"; exit 0; }
    echo "200 v=$((v + 1))" ;;
stale)      # counts right, answers what it read plus one: two at once answer the same (t/87)
    v=$(q -c "SELECT v FROM t WHERE id = 1") || { echo "500 read failed"; exit 0; }
    q -c "UPDATE t SET v = v + 1 WHERE id = 1" >/dev/null || { echo "500 write failed"; exit 0; }
    echo "200 v=$((v + 1))" ;;
peer)       # logs itself, then waits (at most 10s) for every worker's row: alone, it waits them out (t/87)
    q -c "INSERT INTO log (w) VALUES ($w)" -c "DO \$\$BEGIN FOR i IN 1..1000 LOOP
            EXIT WHEN (SELECT count(*) FROM log) >= $PGRACE_WORKERS; PERFORM pg_sleep(0.01); END LOOP; END\$\$" \
        >/dev/null && echo "200 met" ;;
vary)       # its first statement differs from run to run
    q -c "SELECT $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') AS r" -c "SELECT 1" >/dev/null
    echo "200 ok" ;;
late)       # worker 2 comes late to the rendezvous
    [ "$w" = 2 ] && sleep 0.5
    q -c "INSERT INTO log (w) VALUES ($w)" >/dev/null && echo "200 in" ;;
marker)     # one statement, answered 500 when it fails (a fault)
    if q -c "SELECT 'marker'" >/dev/null 2>&1; then echo "200 ok"; else echo "500 failed"; fi ;;
sets)       # a session SET before its statements, as drivers send while connecting
    q -c "SET application_name = 'driver'" -c "SELECT 1" -c "UPDATE t SET v = v + 1 WHERE id = 1" >/dev/null \
        && echo "200 ok" || echo "500 failed" ;;
reads)      # worker 1 reads three rows with one statement text, its value bound (t/exec/reads.pgbench);
            # worker 2 increments the counter
    if [ "$w" = 1 ]; then
        pgbench -n -M extended -t 1 -f "$(dirname "$0")/reads.pgbench" >/dev/null 2>&1 && echo "200 read" || echo "500 failed"
    else
        q -c "UPDATE t SET v = v + 1 WHERE id = 1" >/dev/null && echo "200 ok" || echo "500 failed"
    fi ;;
*)  echo "usage: worker.sh env|answers|hang|block|lost-update|fixed|locked|stale|peer|vary|late|marker|sets|reads" >&2
    exit 2 ;;
esac
