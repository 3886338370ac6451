#!/usr/bin/perl
# The serial oracle (--oracle serial, serial-only), on a real server:
#  - with every scenario invariant off (serial-only), every pre-fix form
#    whose bug a serial order cannot show is caught: by `run` within 100
#    iterations, and by `explore` (the same schedule both times);
#  - no false alarm: every fixed form holds under the oracle in every plan
#    at -n 2, 3 and 4 (two iterations each; explore --faults with the
#    oracle on is t/90-explore.t's);
#  - a violation's diagnostics: the concurrent outcome, the closest serial
#    one and their difference, and a replay command that fails again;
#  - a scenario whose iterations are all outside the oracle's model skips
#    its point, saying why;
#  - specs: a lost update with no invariant is caught by `pgrace spec
#    --oracle serial`; PostgreSQL's own SERIALIZABLE specs hold in every
#    permutation (skipped without ../shared's copy of the suite, as in
#    t/80), and one of them at REPEATABLE READ does not;
#  - every bad oracle option is one line and exit 2.
# The comparison and the search themselves: t/unit/oracle_state.c.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Temp qw(tempdir);
use Pgrace qw(pgrace run_cmd under_cluster sanitized psql_value);
use PgraceList qw(scenarios);
use ScenarioTest qw(run_all);

under_cluster();
my $dir = tempdir('pgrace-oracle.XXXXXX', TMPDIR => 1, CLEANUP => 1);

# ---- every pre-fix form the oracle can see, caught with no invariant ----
# The plan run uses for each (its own bug's plan where concurrency alone is
# rare: credstore's widen for pending-visible, whose read lands in the
# window in 1 of 10 to 40 iterations on a quiet machine and missed 100 in a
# row under make check's load), and explore's options (--faults where the bug needs a failed
# COMMIT). Not here, by construction (README, "The serial oracle"): a bug a
# serial order shows too — attestation/stale-identity, nullifier/
# no-idempotency, identity/seed-tx, credstore/row-scope — and credstore's
# failure paths, outside its model (vault-first, unmarked-commit,
# seed-rollback).
my @caught = (
    [ 'attestation/no-lock', 'none', [] ],
    [ 'attestation/no-tx', 'none', [] ],
    [ 'envmerge/rmw', 'none', [] ],
    [ 'envmerge/precheck', 'none', [] ],
    [ 'envmerge/sql-merge', 'none', [] ],
    [ 'nullifier/no-constraint', 'none', [] ],
    [ 'nullifier/unmapped-23505', 'stagger', [] ],
    [ 'identity/no-tx', 'none', [] ],
    [ 'credstore/pending-visible', 'widen', [] ],
    [ 'approve/side-conn', 'commit-lost', ['--faults'] ],
    [ 'approve/expire-side-conn', 'commit-lost', ['--faults'] ],
);
my @res = run_all(map {
    my ($sv, $plan) = @$_;
    [ pgrace(), 'run', $sv, '-n', 2, '-i', 100, '--oracle', 'serial-only', '--failfast=serial', '--seed', 3,
      $plan eq 'none' ? () : ('--plan', $plan) ]
} @caught);
for my $k (0 .. $#caught) {
    my ($sv, $plan) = @{ $caught[$k] };
    my ($st, $out) = @{ $res[$k] };
    my ($at) = $out =~ /--failfast: stopped at iteration (\d+)/;
    ok($st == 1 && $out =~ /^not ok \d+ - \Q$sv\E.*: the outcome is one some serial order of the calls produces$/m && $at,
       "run $sv [$plan], no scenario invariant: the oracle catches it at iteration " . ($at // '-')) or diag $out;
    unlike($out, qr/^(?:not )?ok \d+ - .*: (?!the outcome is one|every call finishes|every call leaves its connection)/m, "  ... and runs no scenario invariant");
}
# Twice each, for the same schedule both times; once under a sanitizer
# (its determinism is the normal build's claim).
my $times = sanitized() ? 1 : 2;
@res = run_all(map { my ($sv, undef, $x) = @$_; ([ pgrace(), 'explore', $sv, @$x, '--oracle', 'serial-only', '--seed', 1 ]) x $times }
               @caught);
for my $k (0 .. $#caught) {
    my ($sv, undef, $x) = @{ $caught[$k] };
    my @runs = @res[$times * $k .. $times * $k + $times - 1];
    my @tokens = map { ($_->[1] =~ /^  schedule: "([^"]+)"$/m)[0] // 'none' } @runs;
    my %distinct = map { $_ => 1 } @tokens;
    ok(!grep({ $_->[0] != 1 } @runs) && keys(%distinct) == 1 && $tokens[0] ne 'none',
       "explore $sv @$x, no scenario invariant: the oracle catches it at $tokens[0], each of $times times") or diag $runs[0][1];
}

# ---- no false alarm: every fixed form, every plan, at 2, 3 and 4 workers
{
    my @cmds;
    for my $s (scenarios()) {
        for my $plan ('none', @{ $s->{plans} }) {
            my $sweep = $s->{plan}{$plan} && $s->{plan}{$plan}{sweep};
            for my $n ($sweep ? (1) : sanitized() ? (3) : (2, 3, 4)) {
                push @cmds, [ pgrace(), 'run', $s->{name}, $plan eq 'none' ? () : ('--plan', $plan),
                              $sweep ? () : ('-n', $n, '-i', 2), '--oracle', 'serial-only', '--seed', 5 ];
            }
        }
    }
    my @r = run_all(@cmds);
    my @bad = map { "@{ $cmds[$_] }[2 .. $#{ $cmds[$_] }]\n$r[$_][1]" } grep { $r[$_][0] != 0 } 0 .. $#cmds;
    ok(!@bad, scalar(@cmds) . ' runs (every fixed form, every plan, -n ' . (sanitized() ? '3' : '2, 3 and 4')
       . '): the oracle holds in each') or diag $bad[0];
    my $judged = grep { $_->[1] =~ /serial oracle: [1-9]\d* iterations? judged/ } @r;
    ok($judged > @cmds / 2, "  ... judging in $judged of them (the rest: outside the model, said so)");
}

# ---- a violation's evidence, and its replay
{
    my $json = "$dir/r.json";
    my ($st, $out) = run_cmd(pgrace(), qw(run attestation/no-lock -n 2 -i 100 --oracle serial-only --failfast=serial
                                          --seed 3 --json), $json);
    like($out, qr/^  found: "no serial order of the 2 calls that took effect gives this outcome \(all 2 orders\); the closest differs in \d+ rows? and 1 answer"$/m,
         'the sentence: how many calls, how many orders, how far the closest is');
    like($out, qr/^  concurrent:\n    answers:\n      - "worker 1: ok 200 -> issued_credentials\.id#\d"\n      - "worker 2: ok 200 -> issued_credentials\.id#\d"\n    rows:\n/m,
         'the concurrent outcome: each caller\'s answer, generated ids as labels, and the rows');
    like($out, qr/^  closest:\n    order: "worker \d, worker \d"\n    answers:\n.*"worker \d: conflict 409"/ms,
         'the closest serial outcome and its order');
    like($out, qr/^    - "only concurrent: issued_credentials \{id=#\d, /m, 'the difference: the rows only one side has');
    my ($replay) = $out =~ /^  replay: "(.*)"$/m;
    like($replay // '', qr/ --oracle serial-only$/, 'the replay command carries the oracle');
    my ($rst) = run_cmd(pgrace(), 'replay', $json, '--times', 3);
    is($rst, 1, 'pgrace replay REPORT.json: the oracle violated again');
}

# ---- a scenario whose iterations are outside the model: the point is skipped
{
    my ($st, $out) = run_cmd(pgrace(), qw(run credstore --plan vault-error -n 2 -i 3 --oracle serial --seed 1));
    like($out, qr/^ok \d+ - credstore\/fixed \[vault-error\]: the outcome is one some serial order of the calls produces # SKIP a call failed: over two stores that share no transaction/m,
         'credstore\'s failed puts (a marked orphan, by design): the oracle\'s point is skipped, saying why') or diag $out;
}

# ---- specs
sub spec_file {
    my ($name, $text) = @_;
    open my $f, '>', "$dir/$name.spec" or die;
    print $f $text;
    close $f;
    return "$dir/$name.spec";
}
my $lost = spec_file('lost-update', <<'EOF');
setup { CREATE TABLE acct (id int PRIMARY KEY, balance int NOT NULL); INSERT INTO acct VALUES (1, 100); }
teardown { DROP TABLE acct; }
session s1
step r1 { BEGIN; SELECT set_config('app.bal', balance::text, true) AS read FROM acct WHERE id = 1; }
step w1 { UPDATE acct SET balance = current_setting('app.bal')::int + 10 WHERE id = 1; COMMIT; }
session s2
step r2 { BEGIN; SELECT set_config('app.bal', balance::text, true) AS read FROM acct WHERE id = 1; }
step w2 { UPDATE acct SET balance = current_setting('app.bal')::int + 10 WHERE id = 1; COMMIT; }
EOF
{
    my ($st, $out) = run_cmd(pgrace(), 'spec', $lost);
    is($st, 0, 'a lost update with no invariant: pgrace spec alone finds nothing');
    ($st, $out) = run_cmd(pgrace(), 'spec', $lost, '--oracle', 'serial');
    my @bad = $out =~ /^not ok \d+ - \S+: (r\d r\d w\d w\d): invariant "serial" violated$/mg;
    my @good = $out =~ /^ok \d+ - \S+: (r\d w\d r\d w\d)$/mg;
    ok($st == 1 && "@bad" eq 'r1 r2 w1 w2 r1 r2 w2 w1 r2 r1 w1 w2 r2 r1 w2 w1' && "@good" eq 'r1 w1 r2 w2 r2 w2 r1 w1',
       'pgrace spec --oracle serial: the four interleaved permutations violate, the two serial ones hold') or diag $out;
    like($out, qr/^    difference:\n      - "s2 \(r2 w2\): concurrent r2: read \/ 100; w2:; serial r2: read \/ 110; w2:"\n      - "only concurrent: acct \{id=1, balance=110\}"\n      - "only serial: acct \{id=1, balance=120\}"$/m,
         '... its difference: the read the second transaction saw, and the balance');
}

my $suite = $ENV{PG15_ISOLATION} // '../shared/anchors/pg15-isolation';
SKIP: {
    skip "no PostgreSQL 15 isolation suite at $suite (set PG15_ISOLATION)", 3 unless -d "$suite/specs";
    # The specs whose every session runs at SERIALIZABLE (read, not copied).
    my @ssi;
    for my $f (sort glob "$suite/specs/*.spec") {
        open my $in, '<', $f or die;
        my $text = do { local $/; <$in> };
        my $sessions = () = $text =~ /^session\b/mg;
        my $serializable = () = $text =~ /isolation level serializable/gi;
        push @ssi, $f if $sessions && $serializable >= $sessions;
    }
    my ($st, $out) = run_cmd(pgrace(), 'spec', @ssi, '--oracle', 'serial-only', '--seed', 1);
    my $points = () = $out =~ /^(?:not )?ok \d+ /mg;
    my ($bad) = $out =~ /^(not ok .*)$/m;
    ok($st == 0 && $points > 400 && !$bad, scalar(@ssi) . " SERIALIZABLE specs, $points permutations: no violation "
       . '(SSI lets only serializable transactions commit)') or diag($bad // $out);
    # The check can fail: write skew where nothing stops it.
    open my $in, '<', "$suite/specs/simple-write-skew.spec" or die;
    my $rr = spec_file('write-skew-rr', do { local $/; <$in> } =~ s/SERIALIZABLE/REPEATABLE READ/gr);
    ($st, $out) = run_cmd(pgrace(), 'spec', $rr, '--oracle', 'serial-only');
    my $violated = () = $out =~ /^not ok \d+ .*: invariant "serial" violated$/mg;
    ok($st == 1 && $violated == 4, "simple-write-skew at REPEATABLE READ: the 4 overlapping permutations violate")
        or diag $out;
    unlike($out, qr/^not ok \d+ - \S+: rwx(\d) c\1 /m, '  ... and the two serial ones hold');
}

# ---- bad options
for my $case (
    [ [qw(run attestation --oracle serial-please)], qr/^pgrace: bad --oracle 'serial-please': serial .* or serial-only/ ],
    [ [qw(run attestation --oracle serial --oracle-column issued_at)], qr/^pgrace: --oracle-column: bad column declaration 'issued_at': expected TABLE\.COLUMN=MODE/ ],
    [ [qw(run attestation --oracle-column a.b=ignore)], qr/^pgrace: --oracle-column, --oracle-table and --oracle-mask .* need --oracle serial/ ],
    [ [qw(run attestation --oracle serial --oracle-mask [)], qr/^pgrace: bad --oracle-mask '\[': not a POSIX extended regular expression/ ],
    [ [qw(run attestation -i 1 --oracle serial --oracle-column nosuch.col=ignore)], qr/^pgrace: oracle column nosuch\.col=ignore: the schema has no table nosuch$/ ],
    [ [qw(soak attestation -i 1 --oracle serial)], qr/^pgrace: bad option '--oracle'/ ],
    [ [ 'spec', $lost, qw(--oracle serial --fault commit:error=40001) ], qr/^pgrace: --oracle reruns the transactions on the same sessions/ ],
) {
    my ($args, $re) = @$case;
    my ($st, $out, $err) = run_cmd(pgrace(), @$args);
    ok($st == 2 && $err =~ $re && ($err =~ tr/\n//) == 1, "pgrace @$args: one line, exit 2") or diag "$st: $err";
}

is(psql_value("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'pgrace%'"), 0,
   'nothing of any run is left on the server: neither its schema nor the oracle\'s');

done_testing();
