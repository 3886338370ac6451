#!/usr/bin/perl
# The envmerge scenario end to end: the fixed form holds every invariant
# under every plan and at N=64; each pre-fix form is caught, for the
# invariant its bug breaks, in each of 20 consecutive runs under each plan
# its caught_by names; a violation's diagnostics name the iteration, the
# stack and what was found.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use TAP::Parser;
use File::Temp qw(tempfile);
use POSIX ();
use Pgrace qw(pgrace run_cmd under_cluster repeat_count);

under_cluster();    # one throwaway server for every run below

my $S = 'envmerge';

# The scenario's plans and each variant's caught_by, as `pgrace list` shows.
my ($lst, $list) = run_cmd(pgrace(), 'list');
my ($section) = $list =~ /^\Q$S\E — .*?\n(.*?)(?:\n\n|\z)/ms;
$section //= '';
my ($plans_block) = $section =~ /^  fault plans.*?\n(.*?)(?:\n  \S|\z)/ms;
my @plans = $plans_block ? $plans_block =~ /^    (\S+)/mg : ();
my %caught_by = map { $_->[0] => [ split ' ', $_->[1] ] }
                map { [ /^    (\S+) .*\[caught by plan: (.*)\]$/ ] } grep { /\[caught by plan:/ } split /\n/, $section;
is($lst, 0, 'pgrace list');
is_deeply([ sort keys %caught_by ], [qw(precheck rmw sql-merge)], 'three pre-fix variants, each with caught_by');
ok(scalar(@plans) >= 4, 'the scenario lists its plans: ' . join(' ', @plans));

# The invariant each pre-fix form's own bug breaks.
my %breaks = (
    'rmw'       => 'no lost keys: every ok merge\'s keys set and deleted',
    'precheck'  => 'no env change committed after teardown began',
    'sql-merge' => 'env never exceeds the 64 KiB cap',
);

sub tap_of {
    my ($text) = @_;
    my $p = TAP::Parser->new({ tap => $text });
    while (defined $p->next) { }
    return $p;
}

sub plan_args { my ($plan) = @_; $plan eq 'none' ? () : ('--plan', $plan) }

# Runs each command, two at a time (this machine has two cores and the
# runs spend much of their time waiting on the server); returns a list of
# [status, stdout] in the commands' order.
sub run_all {
    my @cmds = @_;
    my @res;
    my %kids;
    my $next = 0;
    while ($next < @cmds || %kids) {
        while ($next < @cmds && keys(%kids) < 2) {
            my ($fh, $file) = tempfile(UNLINK => 1);
            my $pid = fork() // die "fork: $!";
            if ($pid == 0) {
                my ($st, $out) = run_cmd(@{ $cmds[$next] });
                print $fh "$st\n$out";
                close $fh;
                POSIX::_exit(0);
            }
            $kids{$pid} = [ $next++, $file ];
        }
        my $pid = waitpid(-1, 0);
        my ($i, $file) = @{ delete $kids{$pid} };
        open my $in, '<', $file or die "$file: $!";
        local $/;
        my ($st, $out) = (<$in> // '') =~ /\A(\d+)\n(.*)\z/s;
        $res[$i] = [ $st // -1, $out // '' ];
    }
    return @res;
}

# The fixed form under every plan (fewer iterations: holding is what is
# tested, not the default settings), and at N=64.
{
    my @runs = map { [ pgrace(), 'run', $S, '-i', 30, plan_args($_) ] } 'none', @plans;
    push @runs, [ pgrace(), 'run', $S, '-n', 64, '-i', 10 ];
    my @labels = ((map { "plan $_" } 'none', @plans), 'N=64');
    my @res = run_all(@runs);
    for my $k (0 .. $#res) {
        my ($st, $out) = @{ $res[$k] };
        is($st, 0, "fixed, $labels[$k]: exit 0") or diag $out;
        is(scalar tap_of($out)->passed, 4, "fixed, $labels[$k]: all four invariants hold");
    }
}

# Each pre-fix form, 20 consecutive runs under each plan that claims it.
for my $variant (sort keys %caught_by) {
    for my $plan (@{ $caught_by{$variant} }) {
        my $runs = repeat_count(20);
        my $want = qr/^not ok \d+ - \Q$S\/$variant\E(?: \[\Q$plan\E\])?: \Q$breaks{$variant}\E$/m;
        my @res = run_all(map { [ pgrace(), 'run', "$S/$variant", plan_args($plan) ] } 1 .. $runs);
        my @caught = grep { $_->[0] == 1 && $_->[1] =~ $want } @res;
        is(scalar @caught, $runs, "$variant caught by '$breaks{$variant}' in each of $runs runs, plan $plan")
            or diag $res[-1][1];

        my $last = $res[-1][1];
        my $p = tap_of($last);
        ok(!$p->parse_errors, "$variant/$plan: the failing stream parses") or diag join "\n", $p->parse_errors;
        my ($yaml) = $last =~ /\Q$breaks{$variant}\E\n  ---\n(.*?)\n  \.\.\.\n/s;
        ok(defined $yaml, "$variant/$plan: the failing point has a YAML block");
        $yaml //= '';
        like($yaml, qr/^  iteration: \d+$/m, "$variant/$plan: names the iteration");
        like($yaml, qr/^  record: "stack-\d+"$/m, "$variant/$plan: names the stack");
        my %found = (
            'rmw'       => qr/^  found: "\d+ of \d+ ok merges lost a key; env has \d+ keys"$/m,
            'precheck'  => qr/^  found: "\d+ env changes? committed after teardown began \(deleting_seq \d+\)"$/m,
            'sql-merge' => qr/^  found: "env is \d+ bytes \(\d+ keys\), cap 65536; \d+ merges got ok"$/m,
        );
        like($yaml, $found{$variant}, "$variant/$plan: says what was found");
        like($yaml, qr/^  repeat: ".*pgrace run \Q$S\/$variant\E.* --seed \d+/m, "$variant/$plan: gives the repeat command");
    }
}

done_testing();
