#!/usr/bin/perl
# The identity scenario end to end: the fixed form holds every invariant under
# every fault plan and at N=64; each pre-fix form is caught, by the
# invariant it breaks, in every one of 20 consecutive runs under each plan
# its caught_by names; a violation's diagnostics name the iteration and what
# was found.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use TAP::Parser;
use Pgrace qw(pgrace run_cmd under_cluster repeat_count);

under_cluster();    # one throwaway server for the repeated runs below

my $scenario = 'identity';
my @plans = qw(audit-error ambiguous-commit widen);
# variant => [ [plan, the invariant it breaks under that plan], ... ]
my %caught_by = (
    'no-tx' => [ [ 'none', 'one user per identity hash' ], [ 'audit-error', 'audit rows match outcomes' ] ],
    'seed-tx' => [ [ 'none', 'audit rows match outcomes' ] ],
);

sub tap_of {
    my ($text) = @_;
    my $p = TAP::Parser->new({ tap => $text });
    while (defined $p->next) { }
    return $p;
}

sub plan_args { my ($plan) = @_; $plan eq 'none' ? () : ('--plan', $plan) }
sub label { my ($variant, $plan) = @_; "$scenario/$variant" . ($plan eq 'none' ? '' : " [$plan]") }

{
    # The plans each variant's caught_by names are the ones tested below.
    my ($st, $list) = run_cmd(pgrace(), 'list');
    for my $variant (sort keys %caught_by) {
        my $named = join ' ', map { $_->[0] } @{ $caught_by{$variant} };
        like($list, qr/^\s+\Q$variant\E\s.*\[caught by plan: \Q$named\E\]$/m, "$variant: caught_by is '$named'");
    }
}

for my $plan ('none', @plans) {
    my ($st, $out, $err) = run_cmd(pgrace(), 'run', $scenario, plan_args($plan));
    is($st, 0, "fixed under plan $plan: exit 0") or diag $out, $err;
    my $p = tap_of($out);
    ok(!$p->parse_errors, "fixed under plan $plan: the stream parses");
    is(scalar $p->passed, 3, "fixed under plan $plan: every invariant holds");
}

{
    my ($st, $out, $err) = run_cmd(pgrace(), qw(run), $scenario, qw(--impl fixed -n 64 -i 60));
    is($st, 0, 'fixed, N=64: exit 0') or diag $out, $err;
    is(scalar tap_of($out)->passed, 3, 'fixed, N=64: every invariant holds');
}

for my $variant (sort keys %caught_by) {
    for my $case (@{ $caught_by{$variant} }) {
        my ($plan, $invariant) = @$case;
        my $label = label($variant, $plan);
        my $want = qr/^not ok \d+ - \Q$label: $invariant\E$/m;
        my $runs = repeat_count(20);
        my ($caught, $last) = (0, '');
        for my $run (1 .. $runs) {
            my ($st, $out) = run_cmd(pgrace(), 'run', $scenario, '--impl', $variant, plan_args($plan));
            $caught++ if $st == 1 && $out =~ $want;
            $last = $out;
        }
        is($caught, $runs, "$label caught ($invariant) in each of $runs consecutive runs") or diag $last;
        my $p = tap_of($last);
        ok(!$p->parse_errors, "$label: the failing stream parses");
        my ($yaml) = $last =~ /\Q$label: $invariant\E\n  ---\n(.*?)\n  \.\.\.\n/s;
        ok(defined $yaml, "$label: the failing point has a YAML block");
        $yaml //= '';
        like($yaml, qr/^  iteration: \d+$/m, "$label: names the iteration");
        like($yaml, qr/^  record: \d+$/m, "$label: names the record");
        like($yaml, qr/^  found: ".+"$/m, "$label: says what was found");
        like($yaml, qr/^  repeat: ".*pgrace run \Q$scenario\E\/\Q$variant\E/m, "$label: gives the repeat command");
    }
}

done_testing();
