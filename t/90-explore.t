#!/usr/bin/perl
# pgrace explore: races found by construction, on a real server.
#  - every pre-fix form is found by `pgrace explore S --impl V` with default
#    options (--faults where its bug needs a fault), deterministically: the
#    same first violating schedule in each of 3 runs;
#  - every fixed form's whole space under the default bound (n=2, K=2),
#    with --faults, runs with no violation (the serial oracle's included),
#    and the counts are printed;
#  - --schedule replays a violation 10 times in 10, fault included, and a
#    fixed form replayed under its pre-fix form's violating token holds;
#  - blocking is observed, not guessed: a worker blocked on a row lock is
#    not scheduled until its blocker ends;
#  - pct finds a race and prints its guarantee; soak --strategy pct too.
# The enumerations against known counts: t/unit/explore_dfs.c.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Temp qw(tempdir);
use Pgrace qw(pgrace run_cmd under_cluster repeat_count sanitized tap_of);
use PgraceList qw(scenarios);
use ScenarioTest qw(run_all);

under_cluster();

# How a pre-fix form is explored: with no option when concurrency alone
# catches it; with --faults when the plan that catches it injects one fault
# (the explorer puts one at every position); with that plan otherwise — a
# plan that changes the workload (a deactivation, planted state) or injects
# two faults at once.
my (@variants, @fixed);
for my $s (scenarios()) {
    push @fixed, $s->{name};
    for my $v (@{ $s->{variants} }) {
        next unless %{ $v->{caught} };
        my $key = "$s->{name}/$v->{name}";
        my ($plan) = sort keys %{ $v->{caught} };
        my $p = $s->{plan}{$plan} // {};
        my $one_fault = $p->{fault} && $p->{fault} !~ /;/ && !$p->{params} && !$p->{pause};
        my @args = exists $v->{caught}{none} ? () : $one_fault || $p->{sweep} ? ('--faults') : ('--plan', $plan);
        push @variants, [ $key, @args ];
    }
}

my $runs = repeat_count(3);
for my $v (@variants) {
    my ($key, @args) = @$v;
    my @res = run_all(map { [ pgrace(), 'explore', $key, @args, '--seed', 1 ] } 1 .. $runs);
    my @tokens = map { ($_->[1] =~ /^  schedule: "([^"]+)"$/m)[0] // 'none' } @res;
    my $found = grep { $_->[0] == 1 } @res;
    my %distinct = map { $_ => 1 } @tokens;
    ok($found == $runs && keys(%distinct) == 1,
       "explore $key @args: found in $found of $runs runs, always at $tokens[0]") or diag $res[-1][1];
    my ($count) = $res[0][1] =~ /^# .*?: first violation after (\d+ schedules?)/m;
    my ($took) = $res[0][1] =~ /^# \Q$key\E \[explore\]: .* in ([\d.]+s) /m;
    note("$key: first violation after " . ($count // '?') . ', ' . ($took // '?'));
}

my %fixed_faults;    # each fixed form's `explore --faults --oracle serial`: [status, output]
{
    # Every fixed form, the whole space with a fault at every position, one
    # scenario per command (two at a time). Under a sanitizer the smallest
    # two only, and their first 160 rounds — every schedule (128 and 78),
    # then fault runs, each of error, drop and ambiguous among them: the
    # same scheduler, gate, faults and oracle, looked at for memory and
    # thread errors (that the whole space holds is the normal build's
    # claim).
    my @which = sanitized() ? grep({ /^(attestation|approve)$/ } @fixed) : @fixed;
    my @bound = sanitized() ? ('--max-schedules', 160) : ();
    # With the serial oracle on too (engine/serial.h): no false alarm of
    # it anywhere in the space either.
    my @res = run_all(map { [ pgrace(), 'explore', $_, '--faults', '--oracle', 'serial', @bound ] } @which);
    for my $k (0 .. $#which) {
        my ($st, $out) = @{ $res[$k] };
        my $s = $which[$k];
        $fixed_faults{$s} = $res[$k];
        my $space = @bound ? "its first $bound[1] rounds" : 'the whole space under the default bound';
        is($st, 0, "$s/fixed: $space, with --faults, holds, the serial oracle's invariant too") or diag $out;
        like($out, qr/^# \Q$s\E\/fixed \[explore\]: dfs, at most 2 preemptions, 2 workers, 0 retries: \d+ schedules \+ \d+ fault runs in /m,
             "$s/fixed: the counts are printed");
        like($out, @bound ? qr/^# \Q$s\E\/fixed \[explore\]: .*the space was (?:exhausted|not exhausted \(--max-schedules\))$/m
                          : qr/^# \Q$s\E\/fixed \[explore\]: \d+ alternatives pruned by the bound; the space was exhausted$/m,
             "$s/fixed: " . (@bound ? 'exhausted, or the bound is said' : 'the space was exhausted'));
        ok(!tap_of($out)->parse_errors, "$s/fixed: the stream parses");
        my ($line) = $out =~ /^(# \Q$s\E\/fixed \[explore\]: dfs.*)$/m;
        note($line // '');
    }
}

{
    # The fault reduction runs one fault per class of equivalent prefixes:
    # what it skips plus what it runs is what --every-prefix runs, and the
    # verdicts agree. Its sums are the explorer's bookkeeping, not threads:
    # once, in the normal build.
    SKIP: {
    skip 'the reduction\'s sums: once, in the normal build', 4 if sanitized();
    # The reduced run is identity's above (the oracle changes no count):
    # its space is the smallest with faults to skip.
    my %runs;
    my @modes = ([], ['--every-prefix']);
    my @res = ($fixed_faults{identity}, [ run_cmd(pgrace(), qw(explore identity --faults --every-prefix)) ]);
    for my $k (0 .. $#modes) {
        my ($st, $out) = @{ $res[$k] };
        my ($sched, $faults) = $out =~ /: (\d+) schedules \+ (\d+) fault runs in /;
        my ($skipped) = $out =~ /; (\d+) of those faults not run/;
        $runs{ @{ $modes[$k] } ? 'every' : 'reduced' } = [ $st, $sched, $faults, $skipped ];
    }
    my ($r, $e) = @runs{qw(reduced every)};
    note("identity --faults: $r->[2] fault runs, $r->[3] skipped; --every-prefix: $e->[2] runs");
    ok($r->[0] == 0 && $e->[0] == 0, 'identity/fixed holds both ways');
    ok($r->[3] > 0 && $e->[3] == 0, 'the reduction skips faults; --every-prefix skips none');
    is($r->[1], $e->[1], 'the same schedules both ways');
    is($r->[2] + $r->[3], $e->[2], 'faults run + faults skipped = the faults --every-prefix runs');
    }
}

{
    # A spinning worker yields (sched/sched.h): credstore's readers poll a
    # row up to 32 times; a third round of polls that nothing changed since
    # the first lets the others go first, instead of making each poll a
    # branch of the tree. The same verdicts with --no-yield, in a larger
    # space; every pre-fix credstore form is caught with the yield on
    # (above), and t/85's attestation programs, which read a row again
    # once (a re-check, not a poll), by the schedules they had before.
    SKIP: {
    skip 'the yield\'s sums: once, in the normal build', 4 if sanitized();
    my %runs;
    for my $mode ('yield', 'no-yield') {
        my ($st, $out) = run_cmd(pgrace(), qw(explore credstore), $mode eq 'yield' ? () : '--no-yield');
        my ($sched) = $out =~ /: (\d+) schedules in /;
        my ($yields) = $out =~ /: (\d+) times? a worker repeating a read/;
        $runs{$mode} = [ $st, $sched // 0, $yields // 0, $out ];
    }
    my ($y, $n) = @runs{qw(yield no-yield)};
    note("credstore: $y->[1] schedules, $y->[2] yields; --no-yield: $n->[1] schedules");
    ok($y->[0] == 0 && $n->[0] == 0, 'credstore/fixed holds both ways') or diag("$y->[3]$n->[3]");
    ok($y->[2] > 0 && $n->[2] == 0, 'its polls yield; with --no-yield none does');
    ok($y->[1] > 0 && 2 * $y->[1] < $n->[1], 'the yield at least halves the schedules the polls multiply');
    like($y->[3], qr/exhausted/, 'the space with yields is exhausted');
    }
}

{
    # The printed replay command reproduces the violation every time.
    my ($st, $out) = run_cmd(pgrace(), qw(explore attestation/no-tx --faults));
    my ($replay) = $out =~ /^  replay: "(.*)"$/m;
    my ($token) = $out =~ /^  schedule: "(.*)"$/m;
    ok($replay && $token =~ /;f=\d+:\d+:\w+$/, "a violation carries a schedule with its fault: $token");
    my @cmd = grep { length } map { s/^'|'$//gr } ($replay // '') =~ /('[^']*'|\S+)/g;
    my @res = run_all(map { [ @cmd ] } 1 .. repeat_count(10));
    is(scalar(grep { $_->[0] == 1 && $_->[1] =~ /^  schedule: "\Q$token\E"$/m } @res), repeat_count(10),
       'the replay command reproduces it every time, fault included');

    # The fixed form under the pre-fix form's violating token holds.
    ($st, $out) = run_cmd(pgrace(), qw(explore attestation/no-lock));
    ($token) = $out =~ /^  schedule: "(.*)"$/m;
    ($st, $out) = run_cmd(pgrace(), qw(run attestation/fixed -n 2 --schedule), $token);
    is($st, 0, "attestation/fixed replayed under no-lock's violating schedule $token holds") or diag $out;
    like($out, qr/could not be replayed as written/, 'it cannot follow that schedule: its row lock blocks the other worker');
}

{
    # Blocking observed from the server: in no-lock's violation, the worker
    # that waits on the identity row is marked blocked by the other, and
    # does not go on before the other's COMMIT. The HTML report draws the
    # same steps as a grid, one row each, the blocked one flagged.
    my $html = tempdir(CLEANUP => 1) . '/explore.html';
    my ($st, $out) = run_cmd(pgrace(), qw(explore attestation/no-lock --html), $html);
    my ($steps) = $out =~ /^  steps:\n((?:    - ".*"\n)+)/m;
    my @steps = map { s/\\x3a/:/r } ($steps // '') =~ /^    - "(.*)"$/mg;   # YAML's escaped colon (lib/tap.c)
    my ($b) = grep { $steps[$_] =~ /\(blocked by w(\d)\)$/ } 0 .. $#steps;
    ok(defined $b, 'a step is marked blocked by another worker') or diag $out;
    $b //= 0;
    my ($blocked) = $steps[$b] =~ /^w(\d)/;
    my ($holder) = $steps[$b] =~ /blocked by w(\d)/;
    my ($commit) = grep { $steps[$_] eq "w$holder: COMMIT" } $b + 1 .. $#steps;
    my ($next) = grep { $steps[$_] =~ /^w$blocked: / } $b + 1 .. $#steps;
    ok(defined $commit && defined $next && $next > $commit,
       "the blocked worker w$blocked goes on only after w$holder\'s COMMIT (step " . ($commit // '?') . ' < ' . ($next // '?') . ')');
    my $page = do { local $/; open my $fh, '<', $html or die "$html: $!"; <$fh> };
    my ($grid) = $page =~ m{<table class="schedule">(.*?)</table>}s;
    my @rows = ($grid // '') =~ m{<tr(?: class="switch")?><td class="n">\d+</td>(.*?)</tr>}g;
    is(scalar(@rows), scalar(@steps), 'the HTML report draws the schedule: one row per step (' . scalar(@steps) . ')');
    is(scalar(() = ($grid // '') =~ /class="blocked"/g), 1, 'and flags the blocked step');

    # A schedule that lets a blocked worker go is refused by the server's
    # account: fixed's second FOR UPDATE waits on the first.
    ($st, $out) = run_cmd(pgrace(), qw(run attestation/fixed -n 2 --schedule s=11122222));
    like($out, qr/could not be replayed as written/, 'a worker blocked on a row lock is not scheduled');
    is($st, 0, 'and the round still completes and holds');
}

{
    my ($st, $out) = run_cmd(pgrace(), qw(explore attestation/no-lock --strategy pct --seed 3));
    is($st, 1, 'pct finds the no-lock race') or diag $out;
    like($out, qr/probability >= 1\/\(n\*k\^\(d-1\)\) = [\d.e-]+ \(n = 2 workers, k = \d+ choice points/m,
         'pct prints its guarantee with n and k as measured');
    ($st, $out) = run_cmd(pgrace(), qw(soak attestation/no-lock --strategy pct -i 40 --seed 3));
    is($st, 1, 'soak --strategy pct finds it too') or diag $out;
    like($out, qr/^  schedule: "s=\d+"$/m, 'with the schedule it ran under');
}

{
    # Options that contradict each other: one line, exit 2, nothing run.
    for my $case ([ ['--every-prefix'], qr/^pgrace: --every-prefix is --faults's$/ ],
                  [ ['--depth', 3], qr/^pgrace: --depth is pct's/ ],
                  [ ['--strategy', 'pct', '--faults'], qr/^pgrace: --faults walks dfs's schedule tree/ ],
                  [ ['-n', 4], qr/^pgrace: dfs explores 2 or 3 workers/ ],
                  [ ['--strategy', 'bogus'], qr/^pgrace: bad --strategy 'bogus'/ ]) {
        my ($args, $want) = @$case;
        my ($st, $out, $err) = run_cmd(pgrace(), 'explore', 'attestation', @$args);
        ok($st == 2 && $err =~ $want && ($err =~ tr/\n//) == 1 && $out eq '', "explore @$args: one line, exit 2")
            or diag $err;
    }
}

done_testing();
