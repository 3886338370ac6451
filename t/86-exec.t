#!/usr/bin/perl
# pgrace exec itself, with small psql programs (t/exec/worker.sh) on a
# throwaway cluster: what a worker is told and where its connections land;
# the rendezvous at the server; every way a worker ends without an answer
# (a crash, a signal, silence, no status line, a hang before connecting, a
# hang holding a lock: each reported as such, exit 1) and nothing left
# behind, a SIGTERM's included; --fault's conn=K is worker K; --plan sweep
# counts no session SET a driver sends while connecting; --explore finds a
# lost update, the same schedule twice, and --schedule replays it; a
# program whose statements vary is said to be unexplorable and its token
# unreplayable (exit 2); the setup and the checks are refused before any
# worker runs when they are not SQL, or not a query (exit 2); pgrace replay
# reruns an exec report; the JSON validates against the one schema.
# (The strict input that needs no server is t/10-cli.t's; the seeds'
# programs are t/85-examples.t's.) Runs in every pass: exec's threads —
# the proxy's connections, the rendezvous, the driver — are TSan's too.
use strict;
use warnings;
use lib 't/lib';
use JSON::PP qw(decode_json);
use File::Temp qw(tempdir);
use Test::More;
use Pgrace qw(pgrace run_cmd spawn_cmd under_cluster psql_value mark_processes marked_processes);

under_cluster();

my $W = 't/exec/worker.sh';
my @SETUP = ('--setup', 't/exec/setup.sql');
my $tmp = tempdir(CLEANUP => 1);
my $have_jsonschema = system('/usr/bin/python3', '-c', 'import jsonschema') == 0;

# Runs pgrace exec with args (program last, after --); returns (status,
# stdout, stderr, the JSON report or undef).
sub ex {
    my @args = @_;
    my $json = "$tmp/r.json";
    unlink $json;
    my ($st, $out, $err) = run_cmd(pgrace(), 'exec', '--seed', '7', '--json', $json, @args);
    my $doc = -s $json ? decode_json(do { local (@ARGV, $/) = $json; <> }) : undef;
    return ($st, $out, $err, $doc);
}

# Nothing of a run is left: no worker's process, no schema of pgrace's.
# A worker and whatever it started hold this file's mark (Pgrace.pm); the
# other test files prove runs beside this one (their psql, their pg_sleep)
# do not.
mark_processes();
sub nothing_left {
    my ($what) = @_;
    my @left = marked_processes();
    is(join("\n", @left), '', "$what: no worker's process left");
    is(psql_value("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'pgrace\\_%'"), 0,
       "$what: no schema left");
}

# The calls of the first iteration of the report's item, by worker (1..N).
sub calls {
    my ($doc) = @_;
    my %c = map { ($_->{worker} => $_) } @{ $doc->{items}[0]{history}[0]{calls} };
    return \%c;
}

# ---- what a worker is told, where it lands ----

my ($st, $out, $err, $doc) = ex('-n', '3', '-i', '2', '--from-iteration', '5', @SETUP, '--', $W, 'env');
is($st, 0, 'env: three workers answer, exit 0') or diag $out, $err;
my $schema = $doc->{items}[0]{history}[0]{calls}[0]{result} =~ /sp=(\S+)/ ? $1 : '';
like($schema, qr/^pgrace_\d+_\d+$/, "env: a worker's connection has the run's schema as its search_path ($schema)");
my %ports;
for my $h (@{ $doc->{items}[0]{history} }) {
    for my $c (@{ $h->{calls} }) {
        my $w = $c->{worker};
        like($c->{result}, qr/^w=$w n=3 i=$h->{iteration} seed=7 host=127\.0\.0\.1 port=\d+ sp=\Q$schema\E$/,
             "env: worker $w of iteration $h->{iteration} is told who, which and where");
        my ($port) = $c->{result} =~ /port=(\d+)/;
        $ports{$w}{ $port // '' } = 1;
    }
}
is_deeply([ map { scalar keys %{ $ports{$_} } } 1 .. 3 ], [ 1, 1, 1 ], 'env: each worker keeps its own address');
my %all = map { ($_ => 1) } map { keys %{ $ports{$_} } } 1 .. 3;
is(scalar keys %all, 3, '... and no two share one');
is_deeply([ map { $_->{iteration} } @{ $doc->{items}[0]{history} } ], [ 5, 6 ], '--from-iteration numbers them');
nothing_left('env');

# ---- the rendezvous ----

# Worker 2 sleeps half a second before it connects; worker 1's first
# statement is held at the proxy until worker 2's arrives, so it is sent
# no sooner than that half second after worker 2 started.
($st, $out, $err, $doc) = ex('-n', '2', '-i', '1', @SETUP, '--', $W, 'late');
is($st, 0, 'late: both answer') or diag $out, $err;
my $c = calls($doc);
my $held = ($c->{1}{statements}[0]{start_ns} - $c->{2}{start_ns}) / 1e9;
cmp_ok($held, '>=', 0.5, "late: worker 1's first statement waited for worker 2's (sent ${held}s after worker 2 started)");

# ---- every way without an answer ----

($st, $out, $err, $doc) = ex('-n', '6', '-i', '1', '--', $W, 'answers');
is($st, 1, 'answers: a worker without an answer is a violation, exit 1');
my ($details) = $out =~ /details:\n((?:\s+- .*\n)+)/;
my %why = map { /^\s+- "worker (\d+): (.*)"$/ ? ($1 => $2) : () } split /\n/, $details // '';
is_deeply(\%why, { 2 => 'exited 3: Traceback: boom', 3 => 'killed by signal 11 (Segmentation fault)',
                   4 => 'printed nothing', 5 => 'printed no status line (its last: no status here)',
                   6 => 'exited 1' },
          'answers: each says why: the exit status with its last line of stderr, the signal, silence, no status line')
    or diag $out;
like($out, qr/^not ok \d+ - worker\.sh answers: every worker ends with an answer/m, '... under the answered invariant')
    or diag $out;
$c = calls($doc);
is($c->{1}{outcome}, 'ok', "... worker 1's 200 is an ok call");
ok(!defined $c->{2}{status} || !$c->{2}{status}, '... a crash has no status');

($st, $out) = ex('-n', '6', '-i', '1', '--fail-on', '2-255', '--', $W, 'answers');
($details) = $out =~ /details:\n((?:\s+- .*\n)+)/;
unlike($details // '', qr/worker 6:/, '--fail-on 2-255: exit 1 after a status line is an answer');
like($details // '', qr/worker 2: exited 3/, '... exit 3 still a failure');
nothing_left('answers');

($st, $out) = ex('-n', '3', '-i', '1', '--call-timeout', '2s', '--', $W, 'hang');
is($st, 1, 'hang: a worker past its deadline is a violation, exit 1');
like($out, qr/found: "1 call did not finish within the 2s deadline \(worker 2\) and was cancelled"/,
     "hang: the worker that never arrived, alone (the others went at half its deadline)") or diag $out;
like($out, qr/worker 2: error killed at its deadline before it sent a statement/, '... said so');
nothing_left('hang');

($st, $out) = ex('-n', '2', '-i', '1', '--call-timeout', '2s', @SETUP, '--', $W, 'block');
is($st, 1, 'block: exit 1');
like($out, qr/worker 2: running UPDATE t SET v = v \+ 1 WHERE id = 1 for [\d.]+s, waiting on Lock\/transactionid held by worker 1/,
     "block: the deadline's diagnosis names the lock's holder, from the server") or diag $out;
nothing_left('block');

# SIGTERM while workers are held and hang: the teardown kills them first.
my ($pid, $fh) = spawn_cmd(pgrace(), 'exec', '-n', '3', '-i', '3', '--call-timeout', '60s', '--', $W, 'hang');
my $seen = '';
while (defined(my $line = <$fh>)) {
    $seen .= $line;
    last if $line =~ /^# pgrace: seed/;
}
my $deadline = time + 30;
until (`ps -eo args` =~ /sleep 1000/ || time > $deadline) { select(undef, undef, undef, 0.05) }
kill 'TERM', $pid;
{ local $/; $seen .= <$fh> // ''; }
waitpid($pid, 0);
is($? >> 8, 143, 'SIGTERM: exit 143') or diag $seen;
nothing_left('SIGTERM');

# ---- faults through the proxy ----

($st, $out, $err, $doc) = ex('-n', '3', '-i', '2', '--fault', 'sql=/marker/:conn=2:error=40001',
                             '--check', 'marker=t/exec/check-marker.sql', '--', $W, 'marker');
is($st, 0, "--fault conn=2: worker 2's statement alone fails, in every iteration") or diag $out, $err;
like(calls($doc)->{2}{fault}, qr/^sql=\/marker\/:conn=2:error=40001 at statement 1 of worker 2: SELECT 'marker'/,
     "... credited to worker 2's call");

($st, $out) = ex('-n', '1', '--plan', 'sweep', @SETUP, '--', $W, 'sets');
is($st, 0, 'sweep: a program that answers 500 to every fault holds') or diag $out;
like($out, qr/fault sweep over 2 statement positions x 3 actions/,
     "sweep: a session SET before a connection's statements is the driver's, not a position");

# ---- the explorer ----

my @lost = ('--check', 'count=t/exec/check-count.sql', @SETUP, '--', $W, 'lost-update');
($st, $out) = ex('--explore', @lost);
is($st, 1, 'explore: the lost update is found');
my ($token) = $out =~ /^  schedule: "(s=[^"]+)"/m;
like($token // '', qr/^s=\d+;h=[0-9a-f]{8}$/, "explore: its schedule's token, with its statements' digest ($token)");
my ($replay) = $out =~ /^  replay: "(.*--schedule.*)"$/m;
my ($st2, $out2) = ex('--explore', @lost);
my ($token2) = $out2 =~ /^  schedule: "(s=[^"]+)"/m;
is($token2, $token, 'explore: the same schedule again');
(my $cmd = $replay // '') =~ s/^\S+ exec //;
my @argv = map { s/^'(.*)'$/$1/r } split ' ', $cmd;
($st2, $out2) = run_cmd(pgrace(), 'exec', @argv);
is($st2, 1, "explore: its replay command fails again ($cmd)") or diag $out2;
like($out2, qr/^not ok \d+ - worker\.sh lost-update: no row from check count/m, '... the same check') or diag $out2;
(my $other = $token) =~ s/;h=.*/;h=00000000/;
($st2, $out2, my $err2) = run_cmd(pgrace(), 'exec', '--schedule', $other, '-n', '2', @lost);
is($st2, 2, 'a token whose digest is not the statements sent: exit 2');
like($err2, qr/the schedule cannot be replayed: the program sent other statements than when it was found/,
     '... saying so') or diag $err2;

# Three reads of three rows with one statement text (pgbench binds the
# value) are not a poll — the gate is told the values — so the explorer
# is free to run them all before worker 2's write, which the check names.
($st, $out) = ex('--explore', @SETUP, '--check', 'before=t/exec/check-before.sql', '--', $W, 'reads');
is($st, 1, "explore: one text read with three values is no poll: worker 1's reads all run before worker 2's write")
    or diag $out;
unlike($out, qr/yielded to the others/, '... and no worker yields');

($st, $out, $err) = ex('--explore', @SETUP, '--', $W, 'vary');
is($st, 2, 'explore: a program whose statements vary cannot be explored, exit 2');
like($err, qr/cannot be explored: its statements vary from run to run/, '... saying so') or diag $out, $err;
nothing_left('explore');

# ---- the SQL, before any worker runs ----

my %sql = (notq => "UPDATE t SET v = 0\n", syntax => "SELEKT 1\n", two => "SELECT 1; SELECT 2\n",
           bad_setup => "CREATE TABLE x (\n");
for my $f (keys %sql) {
    open my $fh, '>', "$tmp/$f.sql" or die;
    print $fh $sql{$f};
}
for my $case ([ [ @SETUP, '--check', "q=$tmp/notq.sql" ], qr/--check q=\S+notq\.sql: not a query: it returns no rows/ ],
              [ [ @SETUP, '--check', "q=$tmp/syntax.sql" ], qr/--check q=\S+syntax\.sql: syntax error at or near "SELEKT"/ ],
              [ [ @SETUP, '--check', "q=$tmp/two.sql" ], qr/cannot insert multiple commands into a prepared statement/ ],
              [ [ '--setup', "$tmp/bad_setup.sql" ], qr/--setup \S+bad_setup\.sql: syntax error/ ]) {
    my ($args, $want) = @$case;
    my ($st, $out, $err) = run_cmd(pgrace(), 'exec', '-n', '1', '-i', '1', @$args, '--', $W, 'env');
    is($st, 2, "@$args: exit 2");
    like($err, $want, '... one line saying why');
    is(($err =~ tr/\n//), 1, '... one line');
    unlike($out, qr/^ok /m, '... no worker ran');
}
nothing_left('bad SQL');

# ---- the report, and its replay ----

($st, $out, $err, $doc) = ex('-n', '6', '-i', '1', '--', $W, 'answers');
is($doc->{mode}, 'exec', 'report: mode exec');
is($doc->{items}[0]{kind}, 'exec', "report: the item's kind");
is_deeply($doc->{items}[0]{settings}{command}, [ $W, 'answers' ], "report: the item's command");
SKIP: {
    skip 'python3 jsonschema is missing', 1 unless $have_jsonschema;
    my ($vst, $vout, $verr) = run_cmd('/usr/bin/python3', '-c', <<'PY', 'reports/report.schema.json', "$tmp/r.json");
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(json.load(open(sys.argv[2]))), key=str)
for e in errors[:5]:
    print(list(e.absolute_path), e.message)
sys.exit(1 if errors else 0)
PY
    is($vst, 0, 'report: the JSON validates against the one schema') or diag $vout, $verr;
}
my ($rst, $rout) = run_cmd(pgrace(), 'replay', "$tmp/r.json", '--times', '2');
is($rst, 1, 'pgrace replay of an exec report: it fails again');
like($rout, qr/^# 2 of 2 runs violated an invariant/m, '... both times') or diag $rout;
nothing_left('replay');

done_testing();
