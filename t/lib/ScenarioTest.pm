# ScenarioTest.pm — the end-to-end test every scenario gets (t/4x-*.t):
#  - the plans that catch each variant in `pgrace list` are the ones the
#    test has expectations for (the invariant comes from the list);
#  - the fixed form holds every invariant under every plan (at N=64 too:
#    t/50-matrix.t runs every fixed form under every plan there);
#  - each pre-fix form is caught, by the invariant its bug breaks, in each
#    of 10 consecutive runs under each plan that claims it (default options
#    but --failfast=ID: each run ends when it has shown the claim);
#  - the violation's diagnostics name the iteration, the rows, what was
#    found, the fault that fired (when one did), and how to repeat and
#    replay it.
# Runs go two at a time: the machine has two cores and a run spends much of
# its time waiting on the server.
package ScenarioTest;
use strict;
use warnings;
use Exporter 'import';
use File::Temp qw(tempfile);
use POSIX ();
use Test::More;
use Pgrace qw(pgrace run_cmd repeat_count tap_of);
use PgraceList qw(scenarios);

our @EXPORT_OK = qw(check_scenario run_all);

# Runs each command (an array ref), two at a time; returns [status, stdout]
# per command, in order.
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
        unlink $file;
        $res[$i] = [ $st // -1, $out // '' ];
    }
    return @res;
}

sub plan_args { my ($plan) = @_; $plan eq 'none' ? () : ('--plan', $plan) }

# check_scenario(
#   scenario => NAME,
#   breaks   => { "VARIANT/PLAN" => { found => qr/.../, record => qr/.../, fault => 1 }, ... },
#   holds    => [ "VARIANT/PLAN", ... ],   # pre-fix runs that must hold (what a plan does not catch)
#   fixed_iterations => 15,
# )
sub check_scenario {
    my %a = @_;
    my $S = $a{scenario};
    my ($s) = grep { $_->{name} eq $S } scenarios();
    ok($s, "pgrace list shows $S") or return;
    my $ninv = @{ $s->{invariants} };
    my %claimed;
    for my $v (@{ $s->{variants} }) {
        $claimed{"$v->{name}/$_"} = $v->{caught}{$_} for keys %{ $v->{caught} };
    }
    is_deeply([ sort keys %claimed ], [ sort keys %{ $a{breaks} } ],
              "$S: the plans pgrace list says catch each variant are exactly the ones tested");

    my @holds = ((map { [ "fixed/$_", $a{fixed_iterations} // 15 ] } 'none', @{ $s->{plans} }),
                 (map { [ $_, 100 ] } @{ $a{holds} // [] }));
    my @res = run_all(map { [ pgrace(), 'run', "$S/" . (split m{/}, $_->[0])[0], '-i', $_->[1],
                              plan_args((split m{/}, $_->[0])[1]) ] } @holds);
    my @labels = map { $_->[0] } @holds;
    for my $k (0 .. $#res) {
        my ($st, $out) = @{ $res[$k] };
        ok($st == 0 && tap_of($out)->passed == $ninv, "$S/$labels[$k]: all $ninv invariants hold") or diag $out;
    }

    for my $key (sort keys %{ $a{breaks} }) {
        my ($variant, $plan) = split m{/}, $key;
        my $b = { %{ $a{breaks}{$key} }, id => $claimed{$key}, invariant => $s->{invariant}{ $claimed{$key} } };
        my $label = "$S/$variant" . ($plan eq 'none' ? '' : " [$plan]");
        my $want = qr/^not ok \d+ - \Q$label: $b->{invariant}\E$/m;
        my $runs = repeat_count(10);
        # Each run stops at its first iteration that violates the claimed
        # invariant (--failfast=ID): later iterations add nothing to the
        # claim, and they cost.
        my @r = run_all(map { [ pgrace(), 'run', "$S/$variant", "--failfast=$b->{id}", plan_args($plan) ] }
                        1 .. $runs);
        my $caught = grep { $_->[0] == 1 && $_->[1] =~ $want } @r;
        is($caught, $runs, "$label caught ($b->{invariant}) in each of $runs consecutive runs") or diag $r[-1][1];

        my $last = $r[-1][1];
        ok(!tap_of($last)->parse_errors, "$label: the failing stream parses");
        my ($yaml) = $last =~ /\Q$label: $b->{invariant}\E\n  ---\n(.*?)\n  \.\.\.\n/s;
        ok(defined $yaml, "$label: the failing point has a YAML block");
        $yaml //= '';
        like($yaml, qr/^  iteration: \d+$/m, "$label: names the iteration");
        like($yaml, $b->{record} // qr/^  record: \d+$/m, "$label: names the rows");
        like($yaml, $b->{found} // qr/^  found: ".+"$/m, "$label: says what was found");
        like($yaml, qr/^  faults:\n    - "worker \d+/m, "$label: names the fault that fired") if $b->{fault};
        like($yaml, qr/^  repeat: ".*pgrace run \Q$S\/$variant\E.* --seed \d+/m, "$label: gives the repeat command");
        like($yaml, qr/^  replay: ".*pgrace run \Q$S\/$variant\E --from-iteration \d+ -i 1 /m,
             "$label: gives the command that replays the iteration");
    }
}

1;
