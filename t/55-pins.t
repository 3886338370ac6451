#!/usr/bin/perl
# Every guarantee of every fixed form is pinned: the mutation build
# (make MUTANTS=1, engine/mutant.h) removes one at a time from the real
# fixed form — PGRACE_MUTANT=SCENARIO/PIN turns its GUARANTEE() false or
# runs its unpin_sql — and the plan the pin names must report a violation.
# A guarantee whose removal nothing notices is a hole in pgrace's verdicts.
# A pin that names its invariant ([plan P, invariant ID]) must be caught by
# that one. Issue 19's six classes of missed bugs each have a planted bug
# among the pins, written as a developer writes one (an off-by-one, a wrong
# id, a refusal where a wait belongs, a SET without LOCAL...), which only
# the class's workload and invariant catch; the class table below names
# them, and the connection check's bug is run through pgbouncer too.
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
    push @pins, { scenario => $scenario, name => $1, what => $2, plan => $3, invariant => $4 }
        if $in_pins && $line =~ /^    (\S+)\s+(.*) \[plan ([^,\]]+)(?:, invariant (\S+))?\]$/;
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
    # A sweep counts its own iterations (-i does not apply to it). Caught
    # is the claim: each run stops at its first iteration that shows it —
    # the pin's invariant violated (--failfast=ID), or any for a pin that
    # names none; the iterations after add nothing.
    [ 'env', "PGRACE_MUTANT=$_->{scenario}/$_->{name}", $mutant, 'run', "$_->{scenario}/fixed",
      ($scenario{ $_->{scenario} }{plan}{ $_->{plan} }{sweep} ? () : ('-i', 60)), plan_args($_->{plan}),
      $_->{invariant} ? "--failfast=$_->{invariant}" : '--failfast' ]
} @pins);
my ($killed, %caught) = (0);
for my $k (0 .. $#pins) {
    my ($st, $out) = @{ $res[$k] };
    my $p = $pins[$k];
    my @failed = $out =~ /^not ok \d+ - .*?: (.*)$/mg;
    my $want = $p->{invariant} && $scenario{ $p->{scenario} }{invariant}{ $p->{invariant} };
    my $ok = $st == 1 && @failed > 0 && (!$want || grep { $_ eq $want } @failed);
    $killed++ if $ok;
    $caught{"$p->{scenario}/$p->{name}"} = $ok;
    ok($ok, "$p->{scenario}/$p->{name} removed ($p->{what}): plan $p->{plan} reports "
            . (@failed ? join('; ', @failed) : 'nothing') . ($want ? " (must: $want)" : '')) or diag $out;
}
diag(sprintf 'pins killed: %d of %d', $killed, scalar @pins);

# Issue 19's classes: each proven by a planted bug (a pin's loss) that only
# its workload and invariant catch — before them, each passed every plan.
my @classes = (
    [ 'limits hit exactly (64 KiB: a merge landing on the cap refused, >= for >)', 'envmerge/cap-inclusive' ],
    [ 'a call leaves its connection as it found it (SET for SET LOCAL)',             'envmerge/set-local' ],
    [ 'success paths asserted (REPEATABLE READ: 503 where merges serialize)',        'envmerge/read-committed' ],
    [ 'every actor column checked (the credential issued to the record\'s id)',      'attestation/credential-subject' ],
    [ 'id spaces never coincide (the record\'s id promoted as its identity)',         'attestation/promote-identity' ],
    [ 'time windows on both sides (the expiry path trusts its selection)',           'approve/expiry-window' ],
);
for my $c (@classes) {
    my ($what, $pin) = @$c;
    ok($caught{$pin}, "class: $what: $pin is caught by its invariant");
}

# --no-conn-check: the check is off, its point a SKIP that says so, and the
# planted SET goes by (what the benchmark's unchecked runs measure).
{
    my ($nst, $nout) = run_cmd('env', 'PGRACE_MUTANT=envmerge/set-local', $mutant, 'run', 'envmerge/fixed', '-i', 20,
                               '--no-conn-check');
    is($nst, 0, '--no-conn-check: the planted SET is not looked for') or diag $nout;
    like($nout, qr/^ok \d+ - envmerge\/fixed: .* # SKIP not checked \(--no-conn-check\)$/m, '  and its point says so');
}

# The connection check's planted SET through pgbouncer's transaction
# pooling: found on a pooled server connection, named with the statement
# that left it (which worker's call left it and which one found it: see
# t/unit/kit_connstate, where the order is the test's own).
SKIP: {
    skip 'no pgbouncer', 3 unless grep { -x "$_/pgbouncer" } split(/:/, $ENV{PATH}), '/usr/sbin';
    my ($pst, $pout) = run_cmd('env', 'PGRACE_MUTANT=envmerge/set-local', $mutant, 'run', 'envmerge/fixed', '-i', 20,
                               '--failfast=connection', '--pooler', 'pgbouncer');
    my $name = $scenario{envmerge}{invariant}{connection};
    is($pst, 1, 'through pgbouncer (transaction pooling): the planted SET is caught');
    like($pout, qr/^not ok \d+ - envmerge\/fixed: \Q$name\E$/m, '  by the connection invariant') or diag $pout;
    like($pout, qr/^    - "worker \d+: (?:left|found) lock_timeout=3s \(0 at the start\) .*SET lock_timeout = '3000ms'/m,
         '  naming the statement that left it') or diag $pout;
}

done_testing();
