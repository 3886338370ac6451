#!/usr/bin/perl
# The approve scenario end to end: the fixed form holds every invariant
# under every plan and at N=64; side-conn is caught, for the invariant each
# plan breaks, in each of 20 consecutive runs under each plan its caught_by
# names, and concurrency alone (plan none) does not catch it; a violation's
# diagnostics name the iteration, the message and what was found.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use TAP::Parser;
use File::Temp qw(tempfile);
use POSIX ();
use Pgrace qw(pgrace run_cmd under_cluster repeat_count);

under_cluster();    # one throwaway server for every run below

my $S = 'approve';

# The scenario's plans and side-conn's caught_by, as `pgrace list` shows.
my ($lst, $list) = run_cmd(pgrace(), 'list');
my ($section) = $list =~ /^\Q$S\E — .*?\n(.*?)(?:\n\n|\z)/ms;
$section //= '';
my ($plans_block) = $section =~ /^  fault plans.*?\n(.*?)(?:\n  \S|\z)/ms;
my @plans = $plans_block ? $plans_block =~ /^    (\S+)/mg : ();
my ($caught) = $section =~ /^    side-conn .*\[caught by plan: (.*)\]$/m;
is($lst, 0, 'pgrace list');
ok(defined $caught, 'side-conn has a caught_by');
my @caught_by = split ' ', $caught // '';
ok(scalar(@plans) >= 3, 'the scenario lists its plans: ' . join(' ', @plans));

# The invariant each plan makes side-conn break.
my %breaks = (
    'commit-lost'    => 'outbound sent <=> its inbound exists',
    'reapprove'      => 'exactly one inbound per approved outbound',
    'reapprove-drop' => 'exactly one inbound per approved outbound',
);
my %found = (
    'commit-lost'    => qr/^  found: "outbound pending_approval, 1 inbound \(\d+\); 0 callers got ok"$/m,
    'reapprove'      => qr/^  found: "outbound sent, [2-9]\d* inbound \(\d+(, \d+)+\); 1 caller got ok"$/m,
    'reapprove-drop' => qr/^  found: "outbound sent, [2-9]\d* inbound \(\d+(, \d+)+\); 1 caller got ok"$/m,
);

sub tap_of {
    my ($text) = @_;
    my $p = TAP::Parser->new({ tap => $text });
    while (defined $p->next) { }
    return $p;
}

sub plan_args { my ($plan) = @_; $plan eq 'none' ? () : ('--plan', $plan) }

# Runs each command, two at a time (two cores; the runs spend much of their
# time waiting on the server); returns [status, stdout] in command order.
sub run_all {
    my @cmds = @_;
    my (@res, %kids);
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

# The fixed form under every plan and at N=64; side-conn under plan none
# (concurrency alone: the row lock still serializes the approvers).
{
    my @runs = map { [ pgrace(), 'run', $S, '-i', 50, plan_args($_) ] } 'none', @plans;
    push @runs, [ pgrace(), 'run', $S, '-n', 64, '-i', 20 ];
    push @runs, [ pgrace(), 'run', "$S/side-conn" ];
    my @labels = ((map { "fixed, plan $_" } 'none', @plans), 'fixed, N=64', 'side-conn, plan none');
    my @res = run_all(@runs);
    for my $k (0 .. $#res) {
        my ($st, $out) = @{ $res[$k] };
        is($st, 0, "$labels[$k]: exit 0") or diag $out;
        is(scalar tap_of($out)->passed, 2, "$labels[$k]: both invariants hold");
    }
}

for my $plan (@caught_by) {
    my $runs = repeat_count(20);
    my $inv = $breaks{$plan} // '?';
    my $want = qr/^not ok \d+ - \Q$S\E\/side-conn \[\Q$plan\E\]: \Q$inv\E$/m;
    my @res = run_all(map { [ pgrace(), 'run', "$S/side-conn", plan_args($plan) ] } 1 .. $runs);
    my @hit = grep { $_->[0] == 1 && $_->[1] =~ $want } @res;
    is(scalar @hit, $runs, "side-conn caught by '$inv' in each of $runs runs, plan $plan") or diag $res[-1][1];

    my $last = $res[-1][1];
    my $p = tap_of($last);
    ok(!$p->parse_errors, "$plan: the failing stream parses") or diag join "\n", $p->parse_errors;
    my ($yaml) = $last =~ /\Q$inv\E\n  ---\n(.*?)\n  \.\.\.\n/s;
    ok(defined $yaml, "$plan: the failing point has a YAML block");
    $yaml //= '';
    like($yaml, qr/^  iteration: \d+$/m, "$plan: names the iteration");
    like($yaml, qr/^  record: \d+$/m, "$plan: names the message");
    like($yaml, $found{$plan} // qr/^  found: /m, "$plan: says what was found");
    like($yaml, qr/^  faults:\n    - "worker \d+: commit/m, "$plan: names the fault that fired");
    like($yaml, qr/^  repeat: ".*pgrace run \Q$S\E\/side-conn.* --plan \Q$plan\E/m, "$plan: gives the repeat command");
}

done_testing();
