#!/usr/bin/perl
# Soak and replay: a soak of the fixed forms holds and shows progress; a
# soak of a pre-fix form stops at the first violation, shrinks it and
# prints a command that replays it; `pgrace replay REPORT.json` reruns a
# report's failing iteration, and a failure found with a fault plan or a
# pause point reproduces in each of 10 replays; SIGINT stops a soak with
# its reports written and nothing left behind.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP;
use Time::HiRes qw(sleep);
use Pgrace qw(pgrace run_cmd under_cluster repeat_count);

under_cluster();
my $dir = tempdir(CLEANUP => 1);

my ($st, $out, $err) = run_cmd(pgrace(), qw(soak attestation envmerge -i 120 --seed 1));
is($st, 0, 'soak of two fixed forms: exit 0') or diag $out, $err;
like($out, qr/^ok \d+ - attestation\/fixed \[soak\]: exactly one credential per record$/m, 'one point per invariant');
like($out, qr/^# attestation\/fixed \[soak\]: \d+ iterations in \d+ rounds$/m, 'with the iterations and rounds it held over');
like($err, qr/^pgrace soak: \d+m\d\ds, \d+ iterations \([\d.]+\/s\), \d+ faults injected, 0 violations ETA/m,
     'progress: elapsed, iterations/s, faults injected, violations, ETA (plain lines off a terminal)');
my ($faults) = $err =~ /(\d+) faults injected, 0 violations ETA 0m00s/;
ok(($faults // 0) > 0, "random faults were injected ($faults)");

# A pre-fix form: stop, shrink, print the replay.
my $json = "$dir/soak.json";
($st, $out, $err) = run_cmd(pgrace(), qw(soak attestation/no-tx -i 500 --seed 2 --json), $json,
                            '--junit', "$dir/soak.xml", '--html', "$dir/soak.html");
is($st, 1, 'soak of no-tx: exit 1');
like($err, qr/round \d+ violated an invariant .*; shrinking/, 'says which round violated and that it shrinks');
my ($workers) = $out =~ /^# minimal failing case: (\d+) workers, \d+ retries, fault '.*'$/m;
ok(defined $workers, 'prints the minimal failing case');
ok(($workers // 99) <= 4, "shrunk to few workers ($workers)");
my ($replay) = $out =~ /^# replay: (.*)$/m;
like($replay // '', qr/^\S*pgrace run attestation\/no-tx --from-iteration \d+ -i \d+ -n \d+ --retries \d+ --seed 2/,
     'the replay command names iteration, workers, retries and seed');
ok(-s $json && -s "$dir/soak.xml" && -s "$dir/soak.html", 'the soak wrote its reports');
my ($rst) = run_cmd('sh', '-c', $replay // 'false');
is($rst, 1, 'the printed command reproduces the violation');
($st) = run_cmd(pgrace(), 'replay', $json);
is($st, 1, 'replay of the soak report reproduces it');

# --keep-going: every round runs; violations are counted, nothing shrunk.
($st, $out, $err) = run_cmd(pgrace(), qw(soak attestation/no-lock -i 60 --seed 3 --keep-going));
is($st, 1, '--keep-going: still exit 1');
my ($violations) = $err =~ /(\d+) violations ETA 0m00s\s*\z/;
ok(($violations // 0) > 1, "--keep-going: went on after the first violation ($violations)");
unlike($err, qr/shrinking/, '--keep-going: no shrinking');
like($out, qr/^not ok \d+ - attestation\/no-lock \[soak\]: exactly one credential per record$/m, '--keep-going: TAP says what failed');

# Reproduction from a report: a fault plan, a pause point; 10 replays each.
my %cases = (
    'fault plan'  => [qw(attestation --impl no-tx --plan sweep)],
    'pause point' => [qw(attestation --impl no-lock -n 4 -i 3 --pause after-guard=100ms)],  # wide: a loaded machine delays threads
);
for my $case (sort keys %cases) {
    my $f = "$dir/run.json";
    ($st, $out) = run_cmd(pgrace(), 'run', @{ $cases{$case} }, '--json', $f);
    is($st, 1, "$case: the run fails");
    my $times = repeat_count(10) > 1 ? repeat_count(10) : 2;    # the tally is printed for two runs or more
    ($st, $out, $err) = run_cmd(pgrace(), 'replay', $f, '--times', $times);
    is($st, 1, "$case: replay fails too");
    like($out, qr/^# $times of $times runs violated an invariant$/m, "$case: reproduced in each of $times replays")
        or diag $out;
}

# Bad input.
($st, $out, $err) = run_cmd(pgrace(), qw(soak attestation));
is($st, 2, 'soak without --duration or -i: exit 2');
like($err, qr/needs --duration D or -i N/, 'and says so');
($st, $out, $err) = run_cmd(pgrace(), qw(soak --duration 5x));
is($st, 2, 'bad --duration: exit 2');
($st, $out, $err) = run_cmd(pgrace(), 'replay', "$dir/nonexistent.json");
is($st, 2, 'replay of a missing file: exit 2');
is(($err =~ tr/\n//), 1, 'in one line');
run_cmd(pgrace(), qw(run attestation -i 3 --json), "$dir/pass.json");
($st, $out, $err) = run_cmd(pgrace(), 'replay', "$dir/pass.json");
is($st, 2, 'replay of a report without a failure: exit 2');
like($err, qr/no violated item to replay/, 'and says so');

# SIGINT: the soak stops at the end of its round and writes its reports.
{
    local $ENV{TMPDIR} = $dir;
    chmod 0755, $dir;
    local @ENV{qw(PGHOST PGPORT PGUSER PGDATABASE)};
    delete @ENV{qw(PGHOST PGPORT PGUSER PGDATABASE)};
    my $f = "$dir/int.json";
    pipe(my $r, my $w) or die;
    my $pid = fork() // die;
    if ($pid == 0) {
        close $r;
        open STDERR, '>&', $w or die;
        open STDOUT, '>', '/dev/null' or die;
        exec pgrace(), qw(soak attestation --duration 10m --json), $f or POSIX::_exit(127);
    }
    close $w;
    my $line = <$r>;    # the first progress line: the soak is under way
    like($line // '', qr/^pgrace soak: /, 'the soak runs');
    kill 'INT', $pid;
    my $rest = do { local $/; <$r> };
    waitpid($pid, 0);
    my $status = $? & 127 ? 128 + ($? & 127) : $? >> 8;
    is($status, 130, 'SIGINT: exit 130');
    like($rest, qr/interrupted by SIGINT; reports written, cleaned up/, 'SIGINT: says so');
    my $doc = eval { decode_json(do { local (@ARGV, $/) = ($f); <> }) };
    ok($doc && @{ $doc->{items} } >= 1, 'SIGINT: the JSON report was written');
    opendir my $d, $dir or die;
    is(scalar(grep { /^pgrace\./ } readdir $d), 0, 'SIGINT: no cluster directory left');
    is(scalar(grep { /\Q$dir\E/ } `ps -eo args`), 0, 'SIGINT: no server left');
}

done_testing();
