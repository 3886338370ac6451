#!/usr/bin/perl
# pgrace exec --oracle: the seeds' operations as real programs (examples/)
# judged by the serial oracle alone — no --check at all — on a throwaway
# cluster (README: "The serial oracle under pgrace exec"):
#
#   - every pre-fix program is caught by N-way runs (-n 2) within 100
#     iterations, and by --explore, the same schedule twice, which
#     --schedule replays;
#   - every fixed program holds at -n 2 and -n 3 (over every kind of its
#     operation's workload: iterations 1..4, 1..5, 1..3), under --plan
#     sweep, and under --explore --faults with the default bound (one
#     stack: Go);
#   - a planted bug the oracle catches where the check given holds (a
#     counter counted right whose callers were told a stale count); a
#     generated value compared up to renaming: a failed call's rollback
#     leaves a gap in a sequence, and the fixed nullifier holds — compared
#     exactly, the same schedule violates;
#   - a worker that cannot finish alone is an error that says so (exit 2),
#     and nothing is left behind; pgrace replay reruns an exec report's
#     oracle; more than four workers judged as run does;
#   - the README's table of operations x stacks x forms under the oracle is
#     what these runs found.
#
# Budget: in `make check` the Go programs, every operation and form (the
# fastest to start), and the nullifier in Python; --explore --faults for
# the nullifier (the smallest space). PGRACE_EXAMPLES_ALL=1 (or `make
# check-examples-oracle`) runs every stack, and --explore --faults for every
# operation in Go, and compares the whole table. The example programs run
# in the normal pass only, as t/85's; the rest (psql programs: the planted
# bug, the replay, the bound) in every pass — exec's oracle is threads too:
# the proxy's, passing the reruns' statements, beside the driver's.
use strict;
use warnings;
use lib 't/lib';
use File::Temp qw(tempdir);
use Test::More;
use Time::HiRes qw(time);
use Pgrace qw(pgrace run_cmd under_cluster psql_value sanitized mark_processes marked_processes);
use ExecExamples qw(examples_dir setup_args exec_example why run_replay slurp);

under_cluster();
mark_processes();

my $FULL = $ENV{PGRACE_EXAMPLES_ALL};
my @ALL = qw(go java node python);
my %NAME = (go => 'Go (pgx)', java => 'Java (JDBC)', node => 'Node (pg)', python => 'Python (asyncpg)');
my %FORMS = (attestation => [qw(fixed no-lock no-tx)], envmerge => [qw(fixed rmw)],
             nullifier => [qw(fixed no-constraint unmapped-23505)]);
my $MAX = 100;
my %KINDS = (attestation => 4, envmerge => 5, nullifier => 3);     # iterations 1..K hold every kind of its workload
my @ORACLE = ('--oracle', 'serial-only');
my $tmp = tempdir(CLEANUP => 1);
my (@FIGURES, %cell, %partial);

# What runs: stack -> the operations it runs.
my $PROGRAMS = !sanitized();
my %RUNS = !$PROGRAMS ? () : $FULL ? (map { ($_ => [ sort keys %FORMS ]) } @ALL)
                                   : (go => [ sort keys %FORMS ], python => ['nullifier']);
for my $stack (sort keys %RUNS) {
    -x examples_dir() . "/$_-$stack" or BAIL_OUT(examples_dir() . "/$_-$stack missing: run make examples")
        for @{ $RUNS{$stack} };
}

# pgrace exec on op's form in stack: its setup, no check, the oracle alone.
sub ox {
    my ($op, $stack, $form, @opts) = @_;
    my $r = exec_example([ setup_args($op, $form) ], $op, $stack, $form, @ORACLE, @opts);
    push @FIGURES, sprintf('%-11s %-6s %-15s %-42s %6.1fs', $op, $stack, $form, "@opts", $r->{seconds});
    return $r;
}

# ---- the programs, under the oracle alone ----

for my $stack (sort keys %RUNS) {
    for my $op (@{ $RUNS{$stack} }) {
        my @held;
        for my $n (2, 3) {
            my $r = ox($op, $stack, 'fixed', '-n', $n, '-i', $KINDS{$op});
            ok($r->{status} == 0 && ($r->{oracle} // '') =~ /^$KINDS{$op} iterations judged/,
               "$op-$stack fixed: holds at -n $n over iterations 1..$KINDS{$op} ($r->{oracle})") or why($r);
            push @held, "N=$n";
        }
        my $s = ox($op, $stack, 'fixed', '--plan', 'sweep');
        ok($s->{status} == 0 && $s->{positions}, "$op-$stack fixed: holds under --plan sweep ("
           . ($s->{positions} // 0) . ' positions x error, drop, ambiguous)') or why($s);
        push @held, 'sweep';
        if ($stack eq 'go' && ($FULL || $op eq 'nullifier')) {
            my $e = ox($op, $stack, 'fixed', '--explore', '--faults');
            ok($e->{status} == 0 && $e->{out} =~ /the space was exhausted/,
               "$op-$stack fixed: holds under --explore --faults, the whole space of the default bound ($e->{runs}; "
               . "$e->{oracle})") or why($e);
            push @held, 'explore --faults';
        } elsif ($stack eq 'go') {
            $partial{$stack}{"$op fixed"} = 1;      # explored with --faults under PGRACE_EXAMPLES_ALL
        }
        $cell{$stack}{"$op fixed"} = 'holds: ' . join(', ', @held);

        for my $form (grep { $_ ne 'fixed' } @{ $FORMS{$op} }) {
            my $n = ox($op, $stack, $form, '-n', 2, '-i', $MAX, '--failfast');
            ok($n->{status} == 1 && "@{ $n->{violated} }" eq 'serial',
               "$op-$stack $form: caught by the oracle alone in N-way runs (-n 2) within $MAX iterations"
               . ($n->{iteration} ? " (iteration $n->{iteration})" : '')) or why($n);
            my @e = map { ox($op, $stack, $form, '--explore') } 1 .. 2;
            ok($e[0]{status} == 1 && "@{ $e[0]{violated} }" eq 'serial' && $e[0]{schedule},
               "$op-$stack $form: caught by the oracle alone under --explore (" . ($e[0]{schedule} // 'no schedule')
               . ')') or why($e[0]);
            is($e[1]{schedule}, $e[0]{schedule}, "$op-$stack $form: --explore finds the same schedule again");
            my ($rst, $rv, $rout, $rerr) = run_replay($e[0]{replay} // '');
            ok($rst == 1 && "@$rv" eq 'serial', "$op-$stack $form: --schedule replays it: the oracle violated again")
                or diag("exit $rst: @$rv\n$rerr$rout");
            (my $token = $e[0]{schedule} // '?') =~ s/;h=.*//;
            $cell{$stack}{"$op $form"} = "caught: N=2, `$token`";
        }
    }
}

# ---- a planted bug no check names ----

# A counter counted right (an atomic increment: check-count holds), whose
# callers were told what they read plus one: two at once are both told 1.
{
    my @cmd = (pgrace(), 'exec', '-n', 2, '--seed', 7, '--setup', 't/exec/setup.sql', '--check',
               'count=t/exec/check-count.sql', '--oracle', 'serial', '--explore', '--json', "$tmp/stale.json",
               '--', 't/exec/worker.sh', 'stale');
    my ($st, $out) = run_cmd(@cmd);
    ok($st == 1 && $out =~ /^ok \d+ - worker\.sh stale \[explore\]: no row from check count/m
       && $out =~ /^not ok \d+ - worker\.sh stale \[explore\]: the outcome is one some serial order of the calls produces$/m,
       'a stale answer over a right count: the check holds, the oracle does not') or diag $out;
    like($out, qr/^    - "worker \d: concurrent ok 200 -> v=1; serial ok 200 -> v=2"$/m,
         '... its difference: the answer a serial order gives instead');
    my ($rst, $rout) = run_cmd(pgrace(), 'replay', "$tmp/stale.json");
    ok($rst == 1 && $rout =~ /^not ok \d+ - .*: the outcome is one some serial order/m,
       'pgrace replay of its report: the oracle violated again (the report carries --oracle)') or diag $rout;
}

# ---- a generated value, compared up to renaming ----

# nullifier-go fixed: a fault fails worker 1's COMMIT after its INSERT drew
# id 1, so worker 2's row is id 2 and its answer "id=2"; alone, worker 2
# gets id 1. Compared exactly (submissions.id=exact), the explorer finds
# that schedule a violation; compared as the catalog says (renamed: #1 on
# both sides, in the row and in the answer), the same schedule holds, and
# created_at (a clock's) is compared present.
if ($PROGRAMS) {
    my $x = ox('nullifier', 'go', 'fixed', '--explore', '--faults', '--oracle-column', 'submissions.id=exact');
    ok($x->{status} == 1 && ($x->{schedule} // '') =~ /;f=\d+:\d+:error/
       && $x->{out} =~ /^    - "only concurrent: submissions \{id=2, .*created_at=<set>\}"$/m,
       'nullifier-go fixed, ids compared exactly: a failed call\'s gap is a violation (' . ($x->{schedule} // '-') . ')')
        or why($x);
    (my $renamed = $x->{replay} // '') =~ s/ --oracle-column 'submissions\.id=exact'//;
    my ($rst, $rv, $rout) = run_replay($renamed);
    ok($rst == 0 && $rout =~ /^ok \d+ - nullifier-go fixed: the outcome is one some serial order/m,
       '... compared up to renaming, the same schedule holds') or diag $rout;
}

# ---- bounds, more workers, nothing left ----

{
    my ($st, $out, $err) = run_cmd(pgrace(), 'exec', '-n', 2, '-i', 2, '--seed', 7, '--setup', 't/exec/setup.sql',
                                   @ORACLE, '--call-timeout', '2s', '--', 't/exec/worker.sh', 'peer');
    ok($st == 2 && $err =~ /^pgrace: .*the serial oracle: worker \d, run alone from iteration 1's starting state, did not end within the call timeout \(2s\)/m,
       'a worker that waits for its peer, alone, is killed at the call timeout, an error that says so (exit 2)')
        or diag "$st: $err$out";
    is(join("\n", marked_processes()), '', '... no worker left');
}
if ($PROGRAMS) {
    my $r = ox('attestation', 'go', 'fixed', '-n', 5, '-i', 4);
    ok($r->{status} == 0 && ($r->{oracle} // '') =~ /^4 iterations judged/,
       "more than four workers: judged as run judges them, at most 128 serial runs each ($r->{oracle})") or why($r);
}
is(psql_value("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'pgrace\\_%'"), 0, 'no schema of any run left');

# ---- the README's table ----

# The cells these runs found must be the README's; the rest (not run here
# without PGRACE_EXAMPLES_ALL) are left as they are.
if ($PROGRAMS) {
    my ($table) = slurp('README.md') =~ /<!-- exec oracle table: [^\n]*-->\n(.*?)<!-- end of the exec oracle table -->/s;
    my %readme;
    for (grep { /^\| [a-z]/ } split /\n/, $table // '') {
        my ($op, $form, @cells) = map { s/^\s+|\s+$//gr } (split /\|/)[1 .. 6];
        $form =~ s/`//g;
        $readme{$_}{"$op $form"} = shift @cells for @ALL;
    }
    my ($same, $found) = (1, 0);
    for my $stack (@ALL) {
        for my $k (sort keys %{ $cell{$stack} // {} }) {
            $found++;
            my $readme = $readme{$stack}{$k} // '';
            # A cell run in part (not explored with --faults): the README's begins with it.
            $same &&= $partial{$stack}{$k} ? index($readme, "$cell{$stack}{$k}, ") == 0 : $readme eq $cell{$stack}{$k};
        }
    }
    my @rows = ('| operation | form | ' . join(' | ', map { $NAME{$_} } @ALL) . ' |', '|---|---|---|---|---|---|');
    for my $op (sort keys %FORMS) {
        for my $form (@{ $FORMS{$op} }) {
            push @rows, "| $op | `$form` | " . join(' | ', map {
                $partial{$_}{"$op $form"} ? $readme{$_}{"$op $form"} : $cell{$_}{"$op $form"} // $readme{$_}{"$op $form"} // '?'
            } @ALL) . ' |';
        }
    }
    my $cells = 0;
    $cells += @{ $FORMS{$_} } * @ALL for keys %FORMS;
    ok($same && (!$FULL || $found == $cells), "README.md's oracle table holds what these runs found ($found of $cells "
       . 'cells run' . ($FULL ? '' : '; PGRACE_EXAMPLES_ALL=1 runs them all') . ')')
        or diag("the table, with what these runs found:\n" . join("\n", @rows));
}

diag('wall time per run:') if @FIGURES;
diag("  $_") for @FIGURES;
done_testing();
