#!/usr/bin/perl
# The seeds' operations as real programs (examples/, built by `make
# examples`) under `pgrace exec`, on a throwaway cluster — issue 17's proof
# (examples/README.md has the worker contract and the programs):
#
#   - every pre-fix program is caught by N-way runs within 20 iterations
#     (8 workers in Go, 4 in the stacks slower to start), and by --explore
#     (every form in Go, Node and Python; in Java, at two JVMs a schedule,
#     one form: what the explorer schedules is a program's statements, and
#     every stack's are the same schedule), whose first violating schedule
#     (its token) and the checks it breaks go into the README's table; in
#     Go for every form, and in each other stack for one (attestation
#     no-lock), the exploration is run a second time (the same token) and
#     the token replayed by --schedule (the same checks broken);
#   - every fixed program holds at N=8 (Go over iterations 1..5, every
#     kind of its operation's workload; the others over iteration 1: eight
#     JVMs are two CPU-seconds an iteration); under --plan sweep (every
#     operation in Go, one — the nullifier's, the fewest statements — in
#     each other stack: each stack's driver meets error, drop and ambiguous
#     at every position, and answers them); and under --explore --faults
#     with the default bound, exhaustively, for one program (nullifier-go:
#     the smallest space, 40 schedules and 280 fault runs);
#   - every check fails on a state planted to break it; a program with no
#     server exits non-zero with no answer, an unknown form exits 2;
#   - the README's table of operations x stacks x forms is exactly what
#     these runs found.
#
# Hangs, crashes, silence, signals and strict input are t/86-exec.t's (with
# programs cheaper than these). Normal pass only: the programs run no C of
# pgrace's, and exec's own threads are checked under the sanitizers by
# t/86. PGRACE_EXAMPLES_STACKS="go node" narrows the stacks (the table is
# then not compared).
use strict;
use warnings;
use lib 't/lib';
use DBI;
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Test::More;
use Pgrace qw(pgrace run_cmd under_cluster);
use ExecExamples qw(examples_dir sql_args ex why run_replay slurp);

under_cluster();

my $EX = examples_dir();
my @ALL = qw(go java node python);
my @STACKS = split ' ', $ENV{PGRACE_EXAMPLES_STACKS} // "@ALL";
my %NAME = (go => 'Go (pgx)', java => 'Java (JDBC)', node => 'Node (pg)', python => 'Python (asyncpg)');
my $MAX = 20;
my $KINDS = 5;      # iterations 1..5 hold every kind of every operation's workload (periods 4, 5 and 3)

# Each operation: its forms (fixed first) and the checks a pre-fix form's
# N-way run must break one of; the iterations a fixed form's Go run covers
# every kind of its workload in (attestation: period 4, envmerge 5,
# nullifier 3); the operation whose fixed form is swept in every stack.
my %OPS = (
    attestation => { prefix => { 'no-lock' => 'one-credential', 'no-tx' => 'one-credential' } },
    envmerge    => { prefix => { rmw => 'no-lost-keys' } },
    nullifier   => { prefix => { 'no-constraint' => 'one-per-nullifier|one-per-key|answers', 'unmapped-23505' => 'answers' } },
);
my $SWEPT = 'nullifier';
my ($REP_OP, $REP_FORM) = qw(attestation no-lock);      # explored twice and replayed in every stack
my @FIGURES;

for my $op (sort keys %OPS) {
    -x "$EX/$op-$_" or BAIL_OUT("$EX/$op-$_ missing: run make examples") for @STACKS;
}

my %cell;       # stack -> "op form" -> what the table says

for my $stack (@STACKS) {
    my $go = $stack eq 'go';
    for my $op (sort keys %OPS) {
        my $r = ex($op, $stack, 'fixed', '-n', '8', '-i', $go ? $KINDS : 1);
        my $its = $go ? "1..$KINDS" : '1';
        ok($r->{status} == 0, "$op-$stack fixed: holds at N=8 over iterations $its") or why($r);
        push @FIGURES, sprintf('%-11s %-6s %-15s N=8 -i %-2s %6.1fs', $op, $stack, 'fixed', $go ? $KINDS : 1, $r->{seconds});
        my @held = ('N=8');
        if ($go || $op eq $SWEPT) {
            my $s = ex($op, $stack, 'fixed', '--plan', 'sweep');
            ok($s->{status} == 0 && $s->{positions},
               "$op-$stack fixed: holds under --plan sweep ($s->{positions} positions x error, drop, ambiguous)") or why($s);
            push @FIGURES, sprintf('%-11s %-6s %-15s sweep, %d positions %6.1fs', $op, $stack, 'fixed', $s->{positions} // 0,
                                   $s->{seconds});
            push @held, 'sweep';
        }
        if ($go && $op eq 'nullifier') {
            my $e = ex($op, $stack, 'fixed', '--explore', '--faults');
            ok($e->{status} == 0 && $e->{out} =~ /the space was exhausted/,
               "$op-$stack fixed: holds under --explore --faults, the whole space under the default bound ($e->{runs})")
                or why($e);
            push @FIGURES, sprintf('%-11s %-6s %-15s explore --faults: %s %6.1fs', $op, $stack, 'fixed', $e->{runs} // '?',
                                   $e->{seconds});
            push @held, 'explore --faults';
        }
        $cell{$stack}{"$op fixed"} = 'holds: ' . join(', ', @held);

        for my $form (sort keys %{ $OPS{$op}{prefix} }) {
            my $want = $OPS{$op}{prefix}{$form};
            # A form one check names runs until that check fails (rmw's
            # answers are wrong in every iteration; its lost key needs the race).
            my $n = ex($op, $stack, $form, '-n', $go ? 8 : 4, '-i', $MAX,
                       $want =~ /\|/ ? '--failfast' : "--failfast=$want");
            my ($by) = grep { /^(?:$want)$/ } @{ $n->{violated} };
            ok($n->{status} == 1 && $by, "$op-$stack $form: caught by $want in N-way runs within $MAX iterations"
               . ($by ? " (iteration $n->{iteration}, $by)" : '')) or why($n);
            push @FIGURES, sprintf('%-11s %-6s %-15s N=%d caught in iteration %s %6.1fs', $op, $stack, $form, $go ? 8 : 4,
                                   $n->{iteration} // '-', $n->{seconds});

            my $rep = $op eq $REP_OP && $form eq $REP_FORM;
            $cell{$stack}{"$op $form"} = 'caught by N-way runs';
            # Eight JVMs an iteration, two a schedule: Java explores one
            # form, the others every one (what the explorer sees of a
            # program is its statements, the same in every stack).
            next unless $stack ne 'java' || $rep;
            my $e = ex($op, $stack, $form, '--explore');
            ok($e->{status} == 1 && $e->{schedule}, "$op-$stack $form: caught by --explore ("
               . ($e->{schedule} // 'no schedule') . ': ' . join(', ', @{ $e->{violated} }) . ")") or why($e);
            push @FIGURES, sprintf('%-11s %-6s %-15s explore %s %6.1fs', $op, $stack, $form, $e->{schedule} // '-', $e->{seconds});
            (my $s = $e->{schedule} // '') =~ s/;h=.*//;
            $cell{$stack}{"$op $form"} = "`$s` " . join(', ', @{ $e->{violated} });
            next unless $go || $rep;
            my $again = ex($op, $stack, $form, '--explore');
            is($again->{schedule}, $e->{schedule}, "$op-$stack $form: --explore finds the same schedule again");
            my ($rst, $rv, $rout, $rerr) = run_replay($e->{replay} // '');
            ok($rst == 1 && "@$rv" eq "@{ $e->{violated} }", "$op-$stack $form: --schedule replays it: the same checks fail")
                or diag("exit $rst: @$rv\n$rerr$rout");
        }
    }
}

# ---- every check can fail ----

# A state planted by hand that breaks each check's invariant (some no
# pre-fix form here breaks: a torn write needs a fault, the cap the
# sql-merge form of the C scenario), after the setup of iteration 1 and
# with the answers given, makes it return rows.
my $dbh = DBI->connect('dbi:Pg:', undef, undef, { RaiseError => 1, PrintError => 0, AutoCommit => 1 });
$dbh->do('SET client_min_messages = warning');
my $ANSWERS = 'CREATE TABLE pgrace_answers (worker int PRIMARY KEY, exit_code int NOT NULL, status int, '
              . 'body text, faulted boolean NOT NULL DEFAULT false)';
my $schemas = 0;

my @PLANTS = (
    [ attestation => 'one-credential', 'fixed', [ '200 credential=2', '409 already verified' ],
      q{INSERT INTO issued_credentials (identity_id, record_id, token) VALUES (1, 1, 'a'), (1, 1, 'b');
        UPDATE identities SET trust_level = 2;
        UPDATE attestation_records SET is_verified = true, credential_id = 2} ],
    [ attestation => 'all-or-nothing', 'fixed', [ '500 08006 lost', '500 08006 lost' ],
      q{INSERT INTO issued_credentials (identity_id, record_id, token) VALUES (1, 1, 'a')} ],
    [ attestation => 'answers', 'fixed', [ '200 credential=1', '200 credential=1' ],
      q{INSERT INTO issued_credentials (identity_id, record_id, token) VALUES (1, 1, 'a');
        UPDATE identities SET trust_level = 2;
        UPDATE attestation_records SET is_verified = true, credential_id = 1} ],
    [ envmerge => 'no-lost-keys', 'fixed', [ '200 set=1 deleted=1', '200 set=1 deleted=1' ],
      q{UPDATE stacks SET env = env - 'old1' - 'old2' || '{"k2": "v2-"}'} ],
    [ envmerge => 'cap', 'fixed', [],
      q{UPDATE stacks SET env = env || jsonb_build_object('big', repeat('x', 65536))} ],
    [ envmerge => 'answers', 'fixed', [ '409 stack is being deleted', '404 stack not found' ], '' ],
    [ nullifier => 'one-per-nullifier', 'no-constraint', [ '200 id=1', '409 duplicate nullifier' ],
      q{INSERT INTO submissions (nullifier, idempotency_key) VALUES ('nf-retry', 'key-retry'), ('nf-retry', NULL)} ],
    [ nullifier => 'one-per-key', 'no-constraint', [ '200 id=1', '200 id=1' ],
      q{INSERT INTO submissions (nullifier, idempotency_key) VALUES ('nf-retry', 'key-retry'), ('nf-2', 'key-retry')} ],
    [ nullifier => 'answers', 'fixed', [ '200 id=1', '500 23505 duplicate key value' ],
      q{INSERT INTO submissions (nullifier, idempotency_key) VALUES ('nf-retry', 'key-retry')} ],
);
for my $op (sort keys %OPS) {
    my @checks = sort map { m{check-(.+)\.sql$} } glob "examples/$op/check-*.sql";
    is_deeply([ sort map { $_->[1] } grep { $_->[0] eq $op } @PLANTS ], \@checks, "$op: every check has its planted state");
}
for my $plant (@PLANTS) {
    my ($op, $check, $form, $answers, $sql) = @$plant;
    my $schema = 'ex_' . ++$schemas;
    $dbh->do("CREATE SCHEMA $schema");
    $dbh->do("SET search_path = $schema");
    $dbh->do("SELECT set_config('pgrace.iteration', '1', false), set_config('pgrace.workers', '2', false)");
    my $setup = (sql_args($op, $form))[1];
    $dbh->do(slurp($setup));
    $dbh->do($ANSWERS);
    my $w = 0;
    $dbh->do('INSERT INTO pgrace_answers (worker, exit_code, status, body) VALUES (?, 0, ?, ?)', undef, ++$w,
             /^(\d{3}) (.*)$/) for @$answers;
    $dbh->do($sql) if $sql;
    my $rows = $dbh->selectall_arrayref(slurp("examples/$op/check-$check.sql"), { pg_placeholder_dollaronly => 1 });
    ok(@$rows, "$op: check-$check.sql fails on a state that breaks it");
    $dbh->do("DROP SCHEMA $schema CASCADE");
}

# ---- the programs' own contract ----

# A program that cannot reach the server answers nothing and exits
# non-zero; a form it does not know is a usage error, exit 2.
my $closed = do {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1) or die "listen: $!";
    my $p = $s->sockport;
    close $s;
    $p;
};
for my $stack (@STACKS) {
    local $ENV{PGHOST} = '127.0.0.1';
    local $ENV{PGPORT} = $closed;
    local $ENV{DATABASE_URL} = "postgresql://$ENV{PGUSER}\@127.0.0.1:$closed/$ENV{PGDATABASE}";
    local @ENV{qw(PGRACE_WORKER PGRACE_WORKERS PGRACE_ITERATION PGRACE_SEED)} = (1, 1, 1, 1);
    my ($st, $out) = run_cmd("$EX/attestation-$stack", 'fixed');
    ok($st != 0 && $out !~ /^\d{3}\b/m, "attestation-$stack: no server, exit $st, no answer") or diag("stdout: $out");
    my $err;
    ($st, $out, $err) = run_cmd("$EX/attestation-$stack", 'no-such-form');
    is($st, 2, "attestation-$stack: an unknown form is a usage error, exit 2");
    like($err, qr/usage: /, '... with its usage on stderr');
}

# ---- the README's table ----

SKIP: {
    skip 'PGRACE_EXAMPLES_STACKS narrows the stacks: the table is not compared', 1 if "@STACKS" ne "@ALL";
    my @rows = ('| operation | form | ' . join(' | ', map { $NAME{$_} } @ALL) . ' |', '|---|---|---|---|---|---|');
    for my $op (sort keys %OPS) {
        for my $form ('fixed', sort keys %{ $OPS{$op}{prefix} }) {
            push @rows, "| $op | `$form` | " . join(' | ', map { $cell{$_}{"$op $form"} // '?' } @ALL) . ' |';
        }
    }
    my $table = join("\n", @rows) . "\n";
    my ($readme) = slurp('README.md') =~ /<!-- exec table: [^\n]*-->\n(.*?)<!-- end of the exec table -->/s;
    is($readme // '', $table, "README.md's table of operations x stacks x forms is what these runs found")
        or diag("the table these runs found:\n$table");
}

diag('wall time per run:');
diag("  $_") for @FIGURES;
done_testing();
