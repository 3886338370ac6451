#!/usr/bin/perl
# --pooler: Debian's pgbouncer between the workers (or spec sessions) and
# the server, the control connection direct.
#  - the fixed forms hold and the pre-fix forms are caught through it, in
#    transaction and in session pooling (every plan of every scenario, in
#    both modes, is t/50-matrix.t's shape run by hand: see the README);
#  - the workers really go through it and the control connection does not:
#    pgbouncer killed mid-run fails the workers' calls, while the
#    invariants still run;
#  - a fault plan applies as before (the shim is on the client side);
#  - the blocking detector sees through it: explore finds no-lock with a
#    step blocked by the other worker, and the deadline's diagnosis names
#    the worker holding the lock (by pid, as without a pooler, it could
#    not: t/unit/lib_pooler shows that);
#  - pgrace spec through it: a spec runs as it does directly; one whose
#    sessions keep state across transactions is skipped under transaction
#    pooling, saying why, and runs under session pooling;
#  - pgrace exec through it (worker -> wire proxy -> pgbouncer -> server),
#    in both modes: a fixed program holds with its rows in the run's
#    schema, a lost update is caught by --explore (its replay keeps the
#    pooler), the explorer and the deadline's diagnosis find a program's
#    backends by the names the proxy gives its connections;
#  - nothing is left: no pgbouncer process, no directory (no schema after
#    exec), after a normal end, an error after the pooler started, and
#    SIGINT (SIGTERM for exec).
# TMPDIR is private, so that "nothing left" can be checked exactly.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Temp qw(tempdir);
use Time::HiRes qw(sleep);
use JSON::PP qw(decode_json);
use Pgrace qw(pgrace run_cmd spawn_cmd);

delete @ENV{qw(PGHOST PGPORT PGUSER PGDATABASE PGSERVICE PGHOSTADDR)};
my $tmp = tempdir(CLEANUP => 1);
chmod 0755, $tmp;    # the servers' unprivileged user must reach its directories
$ENV{TMPDIR} = $tmp;

sub leftovers {
    opendir my $d, $tmp or die;
    return join ' ', grep { /^pgrace[.-]/ } readdir $d;
}
sub poolers { scalar grep { /pgbouncer/ && /\Q$tmp\E/ } `ps -eo args` }
sub nothing_left {
    my ($when) = @_;
    is(leftovers(), '', "$when: no directory left");
    is(poolers(), 0, "$when: no pgbouncer left");
}

# ---- scenarios: fixed holds, pre-fix caught, in both pooling modes
for my $mode (qw(pgbouncer pgbouncer:session)) {
    my ($st, $out, $err) = run_cmd(pgrace(), qw(run attestation -i 20 --pooler), $mode);
    is($st, 0, "$mode: attestation/fixed holds") or diag $out, $err;
    my $kind = $mode eq 'pgbouncer' ? 'transaction' : 'session';
    like($out, qr/^# pgrace: seed \d+, server [\d.]+ \(embedded\), workers through pgbouncer:$kind$/m,
         "$mode: the header says the workers go through pgbouncer ($kind pooling)");
    ($st, $out) = run_cmd(pgrace(), qw(run attestation/no-lock -i 20 --pooler), $mode);
    is($st, 1, "$mode: attestation/no-lock is caught");
    like($out, qr/^not ok \d+ - attestation\/no-lock: exactly one credential per record$/m, '  by its invariant');
    like($out, qr/^  replay: ".* --pooler pgbouncer:$kind"$/m, '  and its replay command keeps the pooler');
}
nothing_left('normal ends');

# ---- a fault plan through the pooler: the sweep catches no-tx, fixed holds
{
    my ($st, $out) = run_cmd(pgrace(), qw(run attestation/no-tx --plan sweep --pooler pgbouncer));
    is($st, 1, 'sweep through the pooler: no-tx caught');
    like($out, qr/^not ok \d+ - attestation\/no-tx \[sweep\]: exactly one credential per record$/m,
         '  a retry after a fault mints a second credential');
    like($out, qr/^  fault_rules: "stmt:conn=1:when=\d:/m, '  with the fault that did it');
    ($st, $out) = run_cmd(pgrace(), qw(run attestation --plan sweep --pooler pgbouncer));
    is($st, 0, 'sweep through the pooler: fixed holds under every fault') or diag $out;
}

# ---- the workers go through pgbouncer, the control connection does not
{
    my ($pid, $r) = spawn_cmd(pgrace(), qw(run attestation -n 2 -i 100000 --pause after-guard=2ms --failfast),
                              qw(--pooler pgbouncer));
    my $bouncer;
    for (1 .. 1000) {     # waits for the pooler to be up; gives up after ~10s
        ($bouncer) = map { /^\s*(\d+)\s/ ? $1 : () } grep { /pgbouncer/ && /\Q$tmp\E/ } `ps -eo pid,args`;
        last if $bouncer;
        sleep 0.01;
    }
    ok($bouncer, 'mid-run: pgbouncer runs');
    sleep 0.2;
    kill 'KILL', $bouncer if $bouncer;
    my $out = do { local $/; <$r> };
    waitpid($pid, 0);
    is($? >> 8, 1, 'pgbouncer killed: the run ends with a violation, not a setup error') or diag $out;
    like($out, qr/^    - "worker \d: error [^"]*(?:server closed the connection|connection to server|cannot connect|no connection)/mi,
         "  the workers' calls fail: they went through it") or diag $out;
    like($out, qr/^not ok \d+ - attestation\/fixed: /m,
         '  and the invariants still ran, on the control connection: it does not');
    nothing_left('pgbouncer killed');
}

# ---- blocking seen through the pooler
{
    my ($st, $out) = run_cmd(pgrace(), qw(explore attestation/no-lock --seed 1 --pooler pgbouncer));
    is($st, 1, 'explore through the pooler finds no-lock');
    like($out, qr/^not ok \d+ - attestation\/no-lock \[explore\]: exactly one credential per record$/m,
         '  by its invariant');
    like($out, qr/^    - "w(\d)\\x3a UPDATE identities SET trust_level .*\(blocked by w(?!\1)\d\)"$/m,
         '  with the step that waited marked blocked by the other worker');
    ($st, $out) = run_cmd(pgrace(), qw(explore attestation --pooler pgbouncer));
    is($st, 0, 'explore through the pooler: fixed holds in every schedule') or diag $out;
    like($out, qr/the space was exhausted/, '  the whole space');

    ($st, $out) = run_cmd(pgrace(), qw(run attestation -i 1 -n 3 --call-timeout 1s --pause after-guard=60s),
                          qw(--pooler pgbouncer));
    is($st, 1, 'a lock held past the deadline, through the pooler: exit 1') or diag $out;
    my ($holder) = $out =~ /^    - "worker (\d): idle in transaction [\d.]+s after SELECT is_verified/m;
    ok($holder, 'the diagnosis finds the holder, idle in transaction') or diag $out;
    $holder //= 0;
    like($out, qr/^    - "worker \d: running SELECT is_verified.* waiting on Lock\/transactionid held by worker $holder /m,
         '  and a waiter names it as the worker holding its lock');
}

# ---- pgrace spec through the pooler
# Two increments of one counter: s2's waits for s1's row lock; a dropped
# COMMIT loses s1's (the server rolls it back) and the invariant says so.
my $counter = "$tmp/counter.spec";
open my $fh, '>', $counter or die;
print $fh <<'SPEC';
setup { CREATE TABLE counter (n int); INSERT INTO counter VALUES (0); }
teardown { DROP TABLE counter; }
invariant "both increments counted" { SELECT n FROM counter WHERE n <> 11 }
session s1
step b1 { BEGIN; SELECT n FROM counter; }
step i1 { UPDATE counter SET n = n + 1; }
step c1 { COMMIT; }
session s2
step i2 { UPDATE counter SET n = n + 10; }
permutation b1 i1 c1 i2
permutation b1 i1 i2 c1
permutation b1 i1 i2 c1[drop]
SPEC
close $fh;
my $locks = "$tmp/locks.spec";
open $fh, '>', $locks or die;
print $fh <<'SPEC';
session s1
step l1 { SELECT pg_advisory_lock(1); }
step u1 { SELECT pg_advisory_unlock(1); }
session s2
step l2 { SELECT pg_advisory_lock(1); }
step u2 { SELECT pg_advisory_unlock(1); }
permutation l1 l2 u1 u2
SPEC
close $fh;
my $notice = "$tmp/notice.spec";
open $fh, '>', $notice or die;
print $fh "session s1\nstep n1 { DO \$\$BEGIN RAISE NOTICE 'from s1'; END\$\$; }\n";
close $fh;
for my $mode (qw(pgbouncer pgbouncer:session)) {
    my ($st, $out) = run_cmd(pgrace(), qw(spec --pooler), $mode, $notice);
    like($out, qr/"s1\\x3a NOTICE:  from s1"/, "spec, $mode: a session's NOTICE arrives, as isolationtester prints it")
        or diag $out;
    ($st, $out) = run_cmd(pgrace(), qw(spec --pooler), $mode, $counter);
    is($st, 1, "spec, $mode: the counter spec has a violation") or diag $out;
    my @points = $out =~ /^((?:not )?ok) \d+ - /mg;
    is("@points", 'ok ok not ok', '  the points it has directly: only the dropped COMMIT loses an increment');
    like($out, qr/"step i2: UPDATE counter SET n = n \+ 10; <waiting \.\.\.>"\n\s+- "step c1: COMMIT;"/,
         '  the step behind the row lock is seen waiting') or diag $out;
    like($out, qr/c1\[drop\]: invariant "both increments counted" violated/, '  the fault applies through the pooler');
}
{
    my ($st, $out) = run_cmd(pgrace(), qw(spec --pooler pgbouncer), $locks);
    is($st, 0, 'spec with session advisory locks, transaction pooling: no verdict');
    like($out, qr/^ok 1 - \S+locks\.spec: l1 l2 u1 u2 # SKIP under transaction pooling step l1 of session s1 keeps state across transactions: pg_advisory_lock\(\.\.\.\); --pooler pgbouncer:session runs it$/m,
         '  its permutation is skipped, saying which step and why') or diag $out;
    ($st, $out) = run_cmd(pgrace(), qw(spec --pooler pgbouncer:session), $locks);
    is($st, 0, '  and runs under session pooling') or diag $out;
    like($out, qr/"step l2: SELECT pg_advisory_lock\(1\); <waiting \.\.\.>"/, '  s2 waits for s1\'s advisory lock there');
    like($out, qr/"step l2: <\.\.\. completed>"/, '  and gets it once s1 unlocks');
}
nothing_left('spec runs');

# ---- an error after the pooler started, and SIGINT mid-run
{
    my $settings = "$tmp/settings.spec";
    open $fh, '>', $settings or die;
    print $fh qq{setting deadlock_timeout "123ms"\nsession s1\nstep one { SELECT 1; }\n};
    close $fh;
    # The pooler starts before the spec's settings are checked against a
    # user's server: the embedded one of `pgrace cluster`, whose
    # deadlock_timeout is the default.
    my ($st, $out, $err) = run_cmd(pgrace(), 'cluster', '--', 'sh', '-c',
        'exec "$0" spec --dsn "host=$PGHOST port=$PGPORT user=$PGUSER dbname=$PGDATABASE" --pooler pgbouncer "$1"',
        pgrace(), $settings);
    is($st, 2, 'an error after the pooler started: exit 2');
    like($err, qr/the server's deadlock_timeout is "1s"; the spec needs "123ms"/, '  one line saying why');
    nothing_left('error');

    my ($pid) = spawn_cmd(pgrace(), qw(run attestation -n 4 -i 100000000 --pause after-guard=1ms --pooler pgbouncer));
    my $up = 0;
    for (1 .. 1000) {     # waits for the pooler to be up; gives up after ~10s
        last if ($up = poolers());
        sleep 0.01;
    }
    ok($up, 'SIGINT: the run was under way, pgbouncer up');
    sleep 0.1;
    kill 'INT', $pid;
    waitpid($pid, 0);
    is($? >> 8, 130, 'SIGINT: exit status 130');
    nothing_left('SIGINT');
}

# ---- pgrace exec through the pooler: worker -> wire proxy -> pgbouncer -> server
# On a throwaway cluster as a user's server (--dsn), so that the run's
# schema left or not can be asked afterwards: each command here is
# `pgrace exec --dsn ... ARGS` then the count of pgrace's schemas.
my $on_cluster = <<'SH';
P=$0
"$P" exec --dsn "host=$PGHOST port=$PGPORT user=$PGUSER dbname=$PGDATABASE" "$@" &
echo "pid=$!"
wait $!
echo "status=$?"
echo "schemas=$(psql -XAtc "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'pgrace\_%'")"
SH
sub exec_pooled {
    my ($st, $out, $err) = run_cmd(pgrace(), 'cluster', '--', 'sh', '-c', $on_cluster, pgrace(), @_);
    my ($status) = $out =~ /^status=(\d+)$/m;
    my ($schemas) = $out =~ /^schemas=(\d+)$/m;
    return ($status // -1, $out, $err, $schemas // -1);
}
my @W = ('--setup', 't/exec/setup.sql', '--check', 'count=t/exec/check-count.sql', '--', 't/exec/worker.sh');
for my $mode (qw(pgbouncer pgbouncer:session)) {
    my $kind = $mode eq 'pgbouncer' ? 'transaction' : 'session';
    my ($st, $out, $err, $schemas) = exec_pooled('-n', '4', '-i', '5', '--json', "$tmp/x.json", '--pooler', $mode,
                                                  @W, 'fixed', 'renamed');
    is($st, 0, "exec, $mode: the fixed counter holds") or diag $out, $err;
    like($out, qr/^# pgrace: seed \d+, server [\d.]+, workers through pgbouncer:$kind$/m,
         '  its workers through pgbouncer');
    my $doc = decode_json(do { local (@ARGV, $/) = "$tmp/x.json"; <> });
    my @res = sort map { $_->{result} } @{ $doc->{items}[0]{history}[0]{calls} };
    is("@res", 'v=1 v=2 v=3 v=4', "  each worker's increment landed in the run's schema, the check saw them all");
    is($doc->{items}[0]{settings}{pooler}, "pgbouncer:$kind", "  the report's settings carry the pooler");
    is($schemas, 0, '  no schema left');

    ($st, $out, $err, $schemas) = exec_pooled('--explore', '--seed', '7', '--pooler', $mode, @W, 'lost-update');
    is($st, 1, "exec --explore, $mode: the lost update is caught") or diag $out, $err;
    like($out, qr/^not ok \d+ - worker\.sh lost-update \[explore\]: no row from check count/m, '  by its check');
    my ($replay) = $out =~ /^  replay: "(.*--schedule.*)"$/m;
    like($replay // '', qr/ --pooler pgbouncer:$kind /, '  its replay command keeps the pooler');
    is($schemas, 0, '  no schema left');

    # A statement behind the other worker's row lock: the explorer sees it
    # blocked through the pooler (by its connection's name), and switches.
    ($st, $out, $err) = exec_pooled('--explore', '--pooler', $mode, @W, 'locked', 'renamed');
    is($st, 0, "exec --explore, $mode: the row-locked counter holds in every schedule") or diag $out, $err;
    like($out, qr/the space was exhausted/, '  the whole space, no schedule stuck behind a lock');
}
{
    # Worker 1 holds the row lock, worker 2 waits: past the deadline the
    # diagnosis finds both backends through the pooler by the names the
    # proxy gave their connections (the program names itself otherwise).
    my ($st, $out, $err) = exec_pooled('-n', '2', '-i', '1', '--call-timeout', '2s', '--pooler', 'pgbouncer',
                                       '--setup', 't/exec/setup.sql', '--', 't/exec/worker.sh', 'block', 'renamed');
    is($st, 1, 'exec, a lock held past the deadline through the pooler: exit 1') or diag $out, $err;
    like($out, qr/worker 2: running UPDATE t SET v = v \+ 1 WHERE id = 1 for [\d.]+s, waiting on Lock\/transactionid held by worker 1/,
         "  the deadline's diagnosis names the lock's holder") or diag $out;
}
nothing_left('exec runs');
{
    my ($pid, $r) = spawn_cmd(pgrace(), 'cluster', '--', 'sh', '-c', $on_cluster, pgrace(), qw(-n 2 -i 3),
                              qw(--call-timeout 60s --pooler pgbouncer -- t/exec/worker.sh hang));
    my ($exec) = (<$r> // '') =~ /^pid=(\d+)$/;
    my $up = 0;
    for (1 .. 1000) {     # waits for the pooler and the hanging worker; gives up after ~10s
        last if ($up = poolers() && `ps -eo args` =~ /^sleep 1000$/m);
        sleep 0.01;
    }
    ok($exec && $up, 'exec SIGTERM: the run was under way, pgbouncer up');
    kill 'TERM', $exec if $exec;
    my $out = do { local $/; <$r> };
    waitpid($pid, 0);
    like($out, qr/^status=143$/m, 'exec SIGTERM: exit status 143') or diag $out;
    like($out, qr/^schemas=0$/m, '  no schema left');
    nothing_left('exec SIGTERM');
}

done_testing();
