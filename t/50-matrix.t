#!/usr/bin/perl
# The detection matrix: what pgrace claims it catches, checked across every
# scenario `pgrace list` shows.
#  - every fixed form holds every invariant under every fault plan at N=64;
#  - every pre-fix form is caught under each plan its caught_by names (the
#    per-scenario tests t/20 and t/4x repeat that 20 times in a row);
#  - every invariant of every scenario is broken by at least one pre-fix
#    form or plan: an invariant nothing can break is a defect;
#  - the README's matrix has a row for every (scenario, variant, plan).
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Pgrace qw(pgrace run_cmd under_cluster sanitized);
use PgraceList qw(scenarios);

under_cluster();

my @scenarios = scenarios();
ok(@scenarios >= 6, 'pgrace list shows the scenarios: ' . join(' ', map { $_->{name} } @scenarios));
open my $fh, '<', 'README.md' or die "README.md: $!";
my $readme = do { local $/; <$fh> };

sub plan_args { my ($plan) = @_; $plan eq 'none' ? () : ('--plan', $plan) }

for my $s (@scenarios) {
    my $S = $s->{name};
    my $ninv = @{ $s->{invariants} };
    my %broken;
    for my $plan ('none', @{ $s->{plans} }) {
        # Fixed at N=64: holding is what is checked, so fewer iterations.
        my @n = sanitized() ? ('-n', 16, '-i', 5) : ('-n', 64, '-i', 20);
        my ($st, $out, $err) = run_cmd(pgrace(), 'run', "$S/fixed", @n, plan_args($plan));
        my $passed = () = $out =~ /^ok \d+ /mg;
        ok($st == 0 && $passed == $ninv, "$S/fixed holds all $ninv invariants under plan $plan at N=$n[1]")
            or diag $out, $err;
        like($readme, qr/^\| `\Q$S\E` \| `fixed` \| `\Q$plan\E` \| holds /m, "README row: $S/fixed under $plan");
    }
    for my $v (grep { @{ $_->{caught_by} } } @{ $s->{variants} }) {
        for my $plan (@{ $v->{caught_by} }) {
            my ($st, $out, $err) = run_cmd(pgrace(), 'run', "$S/$v->{name}", plan_args($plan));
            my @failed = $out =~ /^not ok \d+ - .*?: (.*)$/mg;
            ok($st == 1 && @failed, "$S/$v->{name} caught under plan $plan: " . join('; ', @failed))
                or diag $out, $err;
            $broken{$_}++ for @failed;
            like($readme, qr/^\| `\Q$S\E` \| `\Q$v->{name}\E` \| `\Q$plan\E` \| caught\b/m,
                 "README row: $S/$v->{name} under $plan");
        }
    }
    for my $inv (@{ $s->{invariants} }) {
        ok($broken{$inv}, "$S: '$inv' is broken by some pre-fix form or plan");
    }
}

done_testing();
