#!/usr/bin/perl
# The attestation scenario end to end: the fixed form holds every invariant
# at N=8 (N=64 is t/50-matrix.t's, under every plan); each pre-fix form is
# caught in every one of 10 consecutive runs; the TAP it prints is what
# prove accepts; a violation's diagnostics name the iteration, record, what
# was found, seed and repeat.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Pgrace qw(pgrace run_cmd under_cluster repeat_count tap_of);
use PgraceList qw(scenarios);
use ScenarioTest qw(run_all);

under_cluster();    # one throwaway server for the repeated runs below

my ($attestation) = grep { $_->{name} eq 'attestation' } scenarios();
my $ninv = @{ $attestation->{invariants} };

{
    # The default: no DSN and no PG* variables means an embedded cluster.
    local @ENV{qw(PGHOST PGPORT PGUSER PGDATABASE)};
    delete @ENV{qw(PGHOST PGPORT PGUSER PGDATABASE)};
    my ($st, $out, $err) = run_cmd(pgrace(), qw(run attestation -n 8 -i 200));
    is($st, 0, 'fixed, N=8, 200 iterations, embedded cluster: exit 0') or diag $out, $err;
    my $p = tap_of($out);
    is($p->version, 13, 'declares TAP version 13');
    ok(!$p->parse_errors, 'prove finds no parse error') or diag join "\n", $p->parse_errors;
    is($p->tests_planned, $ninv, 'one test point per invariant (the deadline one included)');
    is(scalar $p->passed, $ninv, 'all of them pass');
    like($out, qr/\(embedded\)/, 'ran on the embedded cluster');
}

my %caught_by = (
    'no-lock' => qr/^not ok \d+ - attestation\/no-lock: exactly one credential per record$/m,
    'no-tx'   => qr/^not ok \d+ - attestation\/no-tx: exactly one credential per record$/m,
);
for my $variant (sort keys %caught_by) {
    my $runs = repeat_count(10);
    # Default settings but --failfast=ID: each run ends at its first
    # violation of the claimed invariant.
    my @r = run_all(map { [ pgrace(), 'run', 'attestation', '--impl', $variant, '--failfast=one-credential' ] }
                    1 .. $runs);
    my $caught = grep { $_->[0] == 1 && $_->[1] =~ $caught_by{$variant} } @r;
    my $last = $r[-1][1];
    is($caught, $runs, "$variant caught in each of $runs consecutive runs (default settings)")
        or diag $last;

    my $p = tap_of($last);
    ok(!$p->parse_errors, "$variant: the failing stream parses") or diag join "\n", $p->parse_errors;
    ok($p->failed >= 1, "$variant: prove counts the failure");
    # The YAML block under the failing point.
    my ($yaml) = $last =~ /exactly one credential per record\n  ---\n(.*?)\n  \.\.\.\n/s;
    ok(defined $yaml, "$variant: failing point has a YAML diagnostics block");
    $yaml //= '';
    like($yaml, qr/^  iteration: \d+$/m, "$variant: names the iteration");
    like($yaml, qr/^  record: \d+$/m, "$variant: names the record");
    my ($iteration) = $yaml =~ /^  iteration: (\d+)$/m;
    like($yaml, qr/^  failing_iterations: "1 of \Q${\($iteration \/\/ '?')}\E"$/m,
         "$variant: --failfast stopped the run at that iteration, its first violation");
    like($yaml, qr/^  found: "\d+ credentials; \d+ callers got ok \(workers \d+, \d+/m,
         "$variant: says what was found and which workers got ok");
    like($yaml, qr/^  seed: \d+$/m, "$variant: names the seed");
    like($yaml, qr/^  repeat: ".*pgrace run attestation\/$variant -i 100 --seed \d+ --failfast=one-credential"$/m,
         "$variant: gives the command that repeats the run");
}

# The seed's own tests beyond the N=8 race, as plans: planted partial state
# and a concurrent deactivation. The fixed form holds under every plan at
# N=8; the forms they catch are caught in every one of 20 runs. Those runs
# take 25 iterations, not 100: the plans' iterations mostly sleep (their
# pauses), and each iteration of them catches its form (every one under
# deactivate, every even one — a planted credential — under planted).
{
    my @plans = @{ $attestation->{plans} };
    my @res = run_all(map { [ pgrace(), 'run', 'attestation/fixed',
                              ($attestation->{plan}{$_}{sweep} ? () : ('-i', 20)), '--plan', $_ ] } @plans);
    for my $k (0 .. $#plans) {
        my ($st, $out) = @{ $res[$k] };
        ok($st == 0 && tap_of($out)->passed == $ninv, "fixed holds under plan $plans[$k] at N=8") or diag $out;
    }
    my %caught = ('no-tx/planted' => 'no-reverify', 'stale-identity/deactivate' => 'deactivated');
    for my $key (sort keys %caught) {
        my ($variant, $plan) = split m{/}, $key;
        my $name = $attestation->{invariant}{ $caught{$key} };
        my $runs = repeat_count(10);
        my @r = run_all(map { [ pgrace(), 'run', "attestation/$variant", '-i', 25, '--plan', $plan,
                                "--failfast=$caught{$key}" ] } 1 .. $runs);
        my $want = qr/^not ok \d+ - attestation\/\Q$variant [$plan]: $name\E$/m;
        is(scalar(grep { $_->[0] == 1 && $_->[1] =~ $want } @r), $runs,
           "$variant caught under plan $plan ($caught{$key}: $name) in each of $runs consecutive runs")
            or diag $r[-1][1];
    }
}

{
    # The pause point sits in every form: with it the fixed form still holds.
    my ($st, $out) = run_cmd(pgrace(), qw(run attestation -n 8 -i 20 --pause after-guard=2ms));
    is($st, 0, 'fixed with a pause at after-guard: still holds') or diag $out;
}

done_testing();
