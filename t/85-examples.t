#!/usr/bin/perl
# The seeds' operations as real programs (examples/, built by `make
# examples`): every operation x stack x form run N=8-way against a throwaway
# cluster, as `pgrace exec` will run them and as a user would by hand — for
# each iteration a fresh schema with the operation's setup.sql, N copies of
# the program started at once, their last lines of stdout stored in
# pgrace_answers, then every check-NAME.sql, whose rows are violations
# (examples/README.md has the contract). Every pre-fix form must be caught
# by its check within 20 iterations; every fixed form must hold; every
# check must fail on a state planted to break it; a program that cannot
# connect must exit non-zero with no answer, and one whose connection
# drops mid-call must answer (500) and exit 0.
#
# Two stand-ins for what exec's proxy will do:
#   - a TCP bridge in front of the cluster's Unix socket (JDBC cannot reach
#     a Unix socket; every stack goes through it, as through the proxy);
#   - a rendezvous at the server: the test holds every table of the
#     iteration's schema ACCESS EXCLUSIVE until all N workers wait on it
#     (or have ended), then lets them go together — so that the JVM's slow
#     start does not serialize the workers. PGRACE_EXAMPLES_RENDEZVOUS=0
#     turns it off, to measure what it buys.
# search_path reaches every driver the same way: ALTER DATABASE ... SET
# search_path before the workers connect (PGOPTIONS is libpq's alone).
#
# Fixed forms run iterations 1..20 in Go; in the stacks that start slower
# (a JVM is a quarter of a CPU-second, eight of them an iteration), one
# iteration of each kind of the operation's workload, so that the file fits
# make check; PGRACE_EXAMPLES_FULL=1 runs 1..20 in every stack. The
# wall time of every run is printed.
use strict;
use warnings;
use lib 't/lib';
use DBI;
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use IO::Socket::UNIX;
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(time sleep);
use Pgrace qw(build under_cluster);

under_cluster();

our $N = 8;    # workers; `local`ized for the dropped-connection runs
my $MAX = 20;
my $BOUND = 30;    # seconds: a rendezvous, or a worker, past it is a failure
my $EX = build() . '/examples';
my @STACKS = split ' ', $ENV{PGRACE_EXAMPLES_STACKS} // 'go java node python';
my $RENDEZVOUS = $ENV{PGRACE_EXAMPLES_RENDEZVOUS} // 1;

# Each operation: its pre-fix forms and the check each must be caught by
# (or one of them: no-constraint double-spends a nullifier among racers and
# retriers, and gives one key two submissions among reusers),
# and an iteration of each kind its workload has (attestation: an active
# and an inactive identity; envmerge: plain merges, a deleting stack, a
# gone stack, near the cap; nullifier: racers, retriers, reusers).
my %OPS = (
    attestation => { kinds => [ 1, 4 ], prefix => { 'no-lock' => 'one-credential', 'no-tx' => 'one-credential' } },
    envmerge => { kinds => [ 1, 3, 4, 5 ], prefix => { rmw => 'no-lost-keys' } },
    nullifier => { kinds => [ 1, 2, 3 ],
                   prefix => { 'no-constraint' => 'one-per-nullifier|one-per-key', 'unmapped-23505' => 'answers' } },
);

for my $op (sort keys %OPS) {
    -x "$EX/$op-$_" or BAIL_OUT("$EX/$op-$_ missing: run make examples") for @STACKS;
}

my $dbh = DBI->connect('dbi:Pg:', undef, undef, { RaiseError => 1, PrintError => 0, AutoCommit => 1 });
$dbh->do('SET client_min_messages = warning');
my $tmp = tempdir(CLEANUP => 1);

# ---- the TCP bridge ----

# Relays one client connection to the cluster's socket until either side
# closes.
sub relay {
    my ($client, $path) = @_;
    my $server = IO::Socket::UNIX->new(Peer => $path) or return;
    my $sel = IO::Select->new($client, $server);
    while (my @ready = $sel->can_read) {
        for my $from (@ready) {
            my $n = sysread($from, my $buf, 65536);
            return unless $n;
            my $to = $from == $client ? $server : $client;
            for (my $off = 0; $off < $n;) {
                my $w = syswrite($to, $buf, $n - $off, $off) or return;
                $off += $w;
            }
        }
    }
}

# Listens on 127.0.0.1 (a port of its own, so that nothing races for one)
# and relays each connection in a child of its own. The bridge is a process
# group, ended whole at exit. Returns its port.
my $bridge;
sub start_bridge {
    my $path = "$ENV{PGHOST}/.s.PGSQL.$ENV{PGPORT}";
    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 128, ReuseAddr => 1)
        or BAIL_OUT("bridge: listen: $!");
    my $pid = fork // BAIL_OUT("bridge: fork: $!");
    if ($pid == 0) {
        setpgrp(0, 0);
        $SIG{CHLD} = 'IGNORE';
        while (my $client = $listen->accept) {
            my $child = fork // next;
            if ($child == 0) {
                close $listen;
                relay($client, $path);
                POSIX::_exit(0);
            }
            close $client;
        }
        POSIX::_exit(0);
    }
    setpgrp($pid, $pid);    # as the child does: whichever runs first, the group exists before any kill
    $bridge = $pid;
    return $listen->sockport;
}
END { kill 'TERM', -$bridge if $bridge }

my $port = start_bridge();
my %worker_env = (
    PGHOST => '127.0.0.1', PGPORT => $port, PGUSER => $ENV{PGUSER}, PGDATABASE => $ENV{PGDATABASE},
    DATABASE_URL => "postgresql://$ENV{PGUSER}\@127.0.0.1:$port/$ENV{PGDATABASE}",
    PGRACE_SEED => 1,
);

# ---- one iteration ----

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or die "$file: $!";
    local $/;
    return <$fh>;
}

# The setup of op's form: setup-FORM.sql when the form has a schema of its
# own (nullifier's no-constraint), else setup.sql.
sub setup_file {
    my ($op, $form) = @_;
    my $own = "examples/$op/setup-$form.sql";
    return -e $own ? $own : "examples/$op/setup.sql";
}

# Starts worker w: stdout and stderr to files.
sub spawn {
    my ($cmd, $w, $i) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        @ENV{ keys %worker_env } = values %worker_env;
        @ENV{qw(PGRACE_WORKER PGRACE_WORKERS PGRACE_ITERATION)} = ($w, $N, $i);
        delete @ENV{qw(PGOPTIONS PGSERVICE PGHOSTADDR)};
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', "$tmp/$w.out";
        open STDERR, '>', "$tmp/$w.err";
        exec @$cmd or POSIX::_exit(127);
    }
    return $pid;
}

# Waits for every pid until the deadline, then ends the rest (TERM, then
# KILL). Returns { pid => exit status (128+N for signal N) } and how many
# hung.
sub reap {
    my ($pids, $deadline, $done) = @_;
    my $hung = 0;
    for my $pid (@$pids) {
        next if exists $done->{$pid};
        until (waitpid($pid, WNOHANG) == $pid) {
            if (time > $deadline) {
                $hung++;
                kill 'TERM', $pid;
                sleep 0.1;
                kill 'KILL', $pid;
                waitpid($pid, 0);
                last;
            }
            sleep 0.005;
        }
        $done->{$pid} = WIFEXITED($?) ? WEXITSTATUS($?) : 128 + WTERMSIG($?);
    }
    return $hung;
}

# Holds until every worker waits on a table of the schema or has ended.
# Returns whether they all arrived within the bound.
sub rendezvous {
    my ($schema, $pids, $done) = @_;
    my $deadline = time + $BOUND;
    while (time < $deadline) {
        for my $pid (@$pids) {
            $done->{$pid} = WIFEXITED($?) ? WEXITSTATUS($?) : 128 + WTERMSIG($?)
                if !exists $done->{$pid} && waitpid($pid, WNOHANG) == $pid;
        }
        my ($waiting) = $dbh->selectrow_array(
            'SELECT count(DISTINCT l.pid) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation '
            . 'WHERE NOT l.granted AND c.relnamespace = ?::regnamespace', undef, $schema);
        return 1 if $waiting + keys(%$done) >= @$pids;
        sleep 0.005;
    }
    return 0;
}

my $schemas = 0;
my $ANSWERS = 'CREATE TABLE pgrace_answers (worker int PRIMARY KEY, exit_code int NOT NULL, status int, '
              . 'body text, faulted boolean NOT NULL DEFAULT false)';

# A fresh schema with op's setup for form, run as exec runs it: search_path
# on the schema, the iteration's settings set. Returns its name; this
# session stays on it.
sub fresh_schema {
    my ($op, $form, $i) = @_;
    my $schema = 'ex_' . ++$schemas;
    $dbh->do("CREATE SCHEMA $schema");
    $dbh->do("SET search_path = $schema");
    $dbh->do("SELECT set_config('pgrace.iteration', ?, false), set_config('pgrace.workers', ?, false),"
             . " set_config('pgrace.seed', '1', false)", undef, $i, $N);
    $dbh->do(slurp(setup_file($op, $form)));
    return $schema;
}

# Every check of op on the current schema: { check => [its rows, as text] }
# for each that returned rows.
sub run_checks {
    my ($op) = @_;
    my %violations;
    for my $check (sort glob "examples/$op/check-*.sql") {
        my ($name) = $check =~ m{check-(.+)\.sql$};
        my $rows = $dbh->selectall_arrayref(slurp($check), { pg_placeholder_dollaronly => 1 });
        $violations{$name} = [ map { join(' | ', map { $_ // 'NULL' } @$_) } @$rows ] if @$rows;
    }
    return \%violations;
}

# Ends the bridge's relays: every client connection drops at once, as a
# network would (no message from the server).
sub drop_connections {
    open my $fh, '<', "/proc/$bridge/task/$bridge/children" or die "children of the bridge: $!";
    my @relays = split ' ', <$fh> // '';
    kill 'KILL', @relays;
}

# Runs iteration i of op's form on stack: returns { violations => { check =>
# [rows] }, answers => [lines], failures => [why], statuses => [status of
# each worker] }. With drop, the workers' connections are dropped at the
# rendezvous.
sub iteration {
    my ($op, $stack, $form, $i, %opt) = @_;
    my %r = (violations => {}, answers => [], failures => []);
    my $schema = fresh_schema($op, $form, $i);
    $dbh->do('ALTER DATABASE ' . $dbh->quote_identifier($ENV{PGDATABASE}) . " SET search_path = $schema");

    $dbh->begin_work;
    if ($RENDEZVOUS || $opt{drop}) {
        my $tables = $dbh->selectcol_arrayref(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname = ?", undef, $schema);
        $dbh->do('LOCK TABLE ' . join(', ', @$tables) . ' IN ACCESS EXCLUSIVE MODE');
    }
    my %done;
    my @pids = map { spawn(["$EX/$op-$stack", $form], $_, $i) } 1 .. $N;
    push @{ $r{failures} }, "the workers did not all reach the rendezvous within ${BOUND}s"
        if ($RENDEZVOUS || $opt{drop}) && !rendezvous($schema, \@pids, \%done);
    drop_connections() if $opt{drop};
    $dbh->commit;
    my $hung = reap(\@pids, time + $BOUND, \%done);
    push @{ $r{failures} }, "$hung worker(s) still running after ${BOUND}s, ended" if $hung;

    # What exec does before the checks: every worker's answer, as a row.
    $dbh->do($ANSWERS);
    for my $w (1 .. $N) {
        my $exit = $done{ $pids[ $w - 1 ] };
        my ($last) = grep { /\S/ } reverse split /\n/, slurp("$tmp/$w.out");
        my ($status, $body) = defined $last && $last =~ /^(\d{3})(?: (.*))?$/ ? ($1, $2 // '') : (undef, undef);
        $dbh->do('INSERT INTO pgrace_answers (worker, exit_code, status, body) VALUES (?, ?, ?, ?)',
                 undef, $w, $exit, $status, $body);
        push @{ $r{answers} }, "worker $w: " . ($last // '(nothing)') . ($exit ? " (exit $exit)" : '');
        push @{ $r{statuses} }, $status // 'none';
        push @{ $r{failures} }, "worker $w exited $exit: " . (slurp("$tmp/$w.err") =~ s/\s+$//r) if $exit;
        push @{ $r{failures} }, "worker $w answered no status line" if !$exit && !defined $status;
    }
    $r{violations} = run_checks($op);
    $dbh->do("DROP SCHEMA $schema CASCADE");
    return \%r;
}

# ---- the runs ----

my @figures;

# Runs op's form on stack for the iterations listed; with $until (checks
# separated by |), stops at the first iteration that violates one of them.
# Returns the last iteration's result and number, and the iteration it was
# caught in (or 0) by which check.
sub run_form {
    my ($op, $stack, $form, $iterations, $until) = @_;
    my $t0 = time;
    my ($r, $caught, $i, $by, %statuses) = (undef, 0, 0, '');
    for my $k (@$iterations) {
        $r = iteration($op, $stack, $form, $i = $k);
        $statuses{$_}++ for @{ $r->{statuses} };
        last if @{ $r->{failures} } || (!$until && %{ $r->{violations} });
        ($by) = grep { $r->{violations}{$_} } split /\|/, $until // '';
        if ($by) {
            $caught = $i;
            last;
        }
    }
    push @figures, sprintf('%-11s %-6s %-14s to %2d: %6.2fs %-28s%s', $op, $stack, $form, $i, time - $t0,
                           join(' ', map { "${_}x$statuses{$_}" } sort keys %statuses),
                           $until ? ($caught ? " caught by $by in iteration $caught" : ' NOT caught') : '');
    return ($r, $i, $caught, $by);
}

sub why_failed {
    my ($r) = @_;
    diag("  $_") for @{ $r->{failures} };
    for my $check (sort keys %{ $r->{violations} }) {
        diag("  check-$check.sql: $_") for @{ $r->{violations}{$check} };
    }
    diag("  $_") for @{ $r->{answers} };
}

for my $stack (@STACKS) {
    for my $op (sort keys %OPS) {
        my $full = $stack eq 'go' || $ENV{PGRACE_EXAMPLES_FULL};
        my $its = $full ? [ 1 .. $MAX ] : $OPS{$op}{kinds};
        my ($r, $i) = run_form($op, $stack, 'fixed', $its);
        ok(!@{ $r->{failures} } && !%{ $r->{violations} },
           "$op/$stack fixed: holds over iterations " . ($full ? "1..$MAX" : "@$its") . " at N=$N")
            or do { diag("iteration $i:"); why_failed($r) };
        for my $form (sort keys %{ $OPS{$op}{prefix} }) {
            my $check = $OPS{$op}{prefix}{$form};
            my ($p, $j, $caught, $by) = run_form($op, $stack, $form, [ 1 .. $MAX ], $check);
            my $checks = join ' or ', map { "check-$_.sql" } split /\|/, $check;
            ok($caught && !@{ $p->{failures} }, "$op/$stack $form: caught by $checks within $MAX iterations")
                or do { diag("iteration $j:"); why_failed($p) };
        }
    }
}

# Every check can fail: a state planted by hand that breaks its invariant
# (some no pre-fix form here breaks: a torn write needs a fault, the cap the
# sql-merge form of the C scenario), after the setup of iteration 1 and with
# the answers given, makes it return rows.
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
    my $schema = fresh_schema($op, $form, 1);
    $dbh->do($ANSWERS);
    my $w = 0;
    $dbh->do('INSERT INTO pgrace_answers (worker, exit_code, status, body) VALUES (?, 0, ?, ?)', undef, ++$w,
             /^(\d{3}) (.*)$/) for @$answers;
    $dbh->do($sql) if $sql;
    my $v = run_checks($op);
    ok($v->{$check}, "$op: check-$check.sql fails on a state that breaks it") or diag(explain($v));
    $dbh->do("DROP SCHEMA $schema CASCADE");
}

# A program that cannot reach the server answers nothing and exits
# non-zero; a form it does not know is a usage error, exit 2.
my $closed = do {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1) or die "listen: $!";
    my $p = $s->sockport;
    close $s;
    $p;
};
%worker_env = (%worker_env, PGPORT => $closed,
               DATABASE_URL => "postgresql://$ENV{PGUSER}\@127.0.0.1:$closed/$ENV{PGDATABASE}");
for my $stack (@STACKS) {
    my %done;
    my @pids = (spawn(["$EX/attestation-$stack", 'fixed'], 1, 1));
    reap(\@pids, time + $BOUND, \%done);
    my $out = slurp("$tmp/1.out");
    ok($done{ $pids[0] } != 0 && $out !~ /^\d{3}\b/m, "attestation/$stack: no server, exit $done{$pids[0]}, no answer")
        or diag("stdout: $out");
    @pids = (spawn(["$EX/attestation-$stack", 'no-such-form'], 1, 1));
    %done = ();
    reap(\@pids, time + $BOUND, \%done);
    is($done{ $pids[0] }, 2, "attestation/$stack: an unknown form is a usage error, exit 2");
    like(slurp("$tmp/1.err"), qr/usage: /, '... with its usage on stderr');
}

# A connection lost in the middle of a call is an answer, not a crash: the
# handler's 500 (the driver's own words after it), exit 0. The bridge drops
# every connection while the workers wait at the rendezvous.
%worker_env = (%worker_env, PGPORT => $port, DATABASE_URL => "postgresql://$ENV{PGUSER}\@127.0.0.1:$port/$ENV{PGDATABASE}");
for my $stack (@STACKS) {
    local $N = 2;
    my $r = iteration('attestation', $stack, 'fixed', 1, drop => 1);
    my @not500 = grep { $_ ne '500' } @{ $r->{statuses} };
    ok(!@{ $r->{failures} } && !@not500, "attestation/$stack: a dropped connection is answered 500, exit 0")
        or why_failed($r);
    push @figures, "attestation $stack connection dropped: $r->{answers}[0]";
}

$dbh->do('ALTER DATABASE ' . $dbh->quote_identifier($ENV{PGDATABASE}) . ' RESET search_path');
diag("rendezvous " . ($RENDEZVOUS ? 'on' : 'off') . "; wall time per run:");
diag("  $_") for @figures;
done_testing();
