#!/usr/bin/perl
# Every guarantee of every fixed form is pinned: the mutation build
# (make MUTANTS=1, engine/mutant.h) removes one at a time from the real
# fixed form — PGRACE_MUTANT=SCENARIO/PIN turns its GUARANTEE() false or
# runs its unpin_sql — and the plan the pin names must report a violation.
# A guarantee whose removal nothing notices is a hole in pgrace's verdicts.
# Prints the score: pins killed / pins.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Pgrace qw(run_cmd under_cluster sanitized);
use PgraceList qw(scenarios);
use ScenarioTest qw(run_all);

plan skip_all => 'the mutation build is the normal build with a switch: once, in the normal pass' if sanitized();
my $mutant = 'build/mutant/pgrace';
plan skip_all => "no $mutant (make mutant)" unless -x $mutant;

under_cluster();

# The pins, from the mutation build's list.
my ($st, $list) = run_cmd($mutant, 'list');
is($st, 0, 'the mutation build lists its scenarios');
my (@pins, $scenario, $in_pins);
for my $line (split /\n/, $list) {
    if ($line =~ /^(\S+) — /) { $scenario = $1; $in_pins = 0; next }
    if ($line =~ /^  pinned guarantees/) { $in_pins = 1; next }
    if ($line =~ /^  \S/) { $in_pins = 0; next }
    push @pins, { scenario => $scenario, name => $1, what => $2, plan => $3 }
        if $in_pins && $line =~ /^    (\S+)\s+(.*) \[plan (\S+)\]$/;
}
my %pinned = map { $_->{scenario} => 1 } @pins;
my %scenario = map { $_->{name} => $_ } scenarios();
for my $s (values %scenario) {
    ok($pinned{ $s->{name} }, "$s->{name} pins its guarantees");
    ok(scalar(grep { $_->{scenario} eq $s->{name} && $_->{name} eq 'commit-before-ok' } @pins),
       "$s->{name} pins commit-before-ok");
}

# Without a mutant, the mutation build's fixed forms are the fixed forms.
my @unmutated = run_all(map { [ $mutant, 'run', "$_/fixed", '-i', 20 ] } sort keys %pinned);
is(scalar(grep { $_->[0] == 0 } @unmutated), scalar(keys %pinned), 'unmutated, every fixed form holds');

# Each mutant, under its plan.
sub plan_args { my ($plan) = @_; $plan eq 'none' ? () : ('--plan', $plan) }
my @res = run_all(map {
    # A sweep counts its own iterations (-i does not apply to it).
    [ 'env', "PGRACE_MUTANT=$_->{scenario}/$_->{name}", $mutant, 'run', "$_->{scenario}/fixed",
      ($scenario{ $_->{scenario} }{plan}{ $_->{plan} }{sweep} ? () : ('-i', 60)), plan_args($_->{plan}) ]
} @pins);
my $killed = 0;
for my $k (0 .. $#pins) {
    my ($st, $out) = @{ $res[$k] };
    my $p = $pins[$k];
    my @failed = $out =~ /^not ok \d+ - .*?: (.*)$/mg;
    my $ok = $st == 1 && @failed > 0;
    $killed++ if $ok;
    ok($ok, "$p->{scenario}/$p->{name} removed ($p->{what}): plan $p->{plan} reports "
            . (@failed ? join('; ', @failed) : 'nothing')) or diag $out;
}
diag(sprintf 'pins killed: %d of %d', $killed, scalar @pins);

done_testing();
