#!/usr/bin/perl
# Nothing hangs: every call has a deadline (--call-timeout). At the deadline
# pgrace reads from the server who waits on whom, cancels the call, and the
# driver's own invariant fails with that diagnosis (exit 1). A worker that
# does not return even after its cancel is named, and the run exits 2 after
# its normal teardown. (That the fixed forms never trip the deadline under
# every plan at N=64 is t/50-matrix.t's: the deadline is one of the
# invariants every fixed form holds there.)
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use POSIX ();
use Time::HiRes qw(time);
use Pgrace qw(pgrace run_cmd under_cluster psql_value tap_of);

under_cluster();

my $deadline_point = qr/^not ok \d+ - attestation\/fixed: every call finishes within the deadline$/m;

{
    # A fault that holds a statement for 100s on the client side: cut short
    # at the 1s deadline, long before the delay would end.
    my $t0 = time;
    my ($st, $out, $err) = run_cmd(pgrace(), qw(run attestation -i 1 -n 2 --call-timeout 1s --fault),
                                   'stmt:when=3:delay=100s');
    my $took = time - $t0;
    is($st, 1, 'a 100s delay fault past a 1s deadline: exit 1 (a finding)') or diag $out, $err;
    like($out, $deadline_point, 'the deadline invariant fails');
    ok($took < 30, sprintf('it ends long before the delay would (%.1fs)', $took));
    note(sprintf 'from start to exit: %.2fs (deadline 1s + grace)', $took);
    like($out, qr/^  found: "2 calls did not finish within the 1s deadline \(workers 1, 2\) and were cancelled"$/m,
         'the diagnosis says which calls and the deadline');
    like($out, qr/^    - "worker 1: idle in transaction [\d.]+s after BEGIN"$/m,
         "the server's side: the worker sits idle in its transaction (its client is in the delay)");
    like($out, qr/^    - "worker \d: error 500 57014 canceling statement due to user request in [\d.]+ms \(cancelled at the deadline\)"$/m,
         'the delayed statement fails as a cancelled one');
    unlike($out, qr/^not ok \d+ - attestation\/fixed: (exactly|credential|client)/m,
           'cancelled calls are excused by the other invariants, as faulted ones are');
    like($out, qr/^  replay: ".*--call-timeout 1s/m, 'the replay command keeps the deadline');
    ok(!tap_of($out)->parse_errors, 'the stream parses');
}

{
    # A real lock holder: the fixed form's first verifier holds the record's
    # row lock while it sleeps at its pause point; the others queue behind
    # it. The diagnosis names the holder and what it is doing.
    my ($st, $out, $err) = run_cmd(pgrace(), qw(run attestation -i 1 -n 3 --call-timeout 1s --pause after-guard=60s));
    is($st, 1, 'a lock held past the deadline: exit 1') or diag $out, $err;
    my ($holder) = $out =~ /^    - "worker (\d): idle in transaction [\d.]+s after SELECT is_verified, credential_id IS NOT NULL, identity_id FROM attestation_reco…"$/m;
    ok($holder, 'the holder: idle in transaction after its SELECT ... FOR UPDATE') or diag $out;
    $holder //= 0;
    like($out, qr/^    - "worker \d: running SELECT is_verified.* for [\d.]+s, waiting on Lock\/transactionid held by worker $holder \(idle in transaction/m,
         'a waiter: its statement, its lock, and the worker that holds it');
}

{
    # A worker that cannot return: its backend is stopped (SIGSTOP) while it
    # waits for the lock, so not even the cancel reaches it. pgrace names it
    # and exits 2 once its teardown is done.
    my $pid = fork() // die;
    if ($pid == 0) {
        open STDOUT, '>', "/tmp/pgrace-stuck-$$.out" or die;
        open STDERR, '>', "/tmp/pgrace-stuck-$$.err" or die;
        exec pgrace(), qw(run attestation -i 1 -n 2 --call-timeout 2s --pause after-guard=60s) or POSIX::_exit(127);
    }
    my $backend;
    for (1 .. 200) {    # bounded: 10s in steps of 50ms, until the waiter shows
        $backend = psql_value("SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'pgrace/%/w_' "
                              . "AND wait_event_type = 'Lock' LIMIT 1");
        last if $backend;
        select undef, undef, undef, 0.05;
    }
    ok($backend, 'a worker waits for the lock');
    kill 'STOP', $backend if $backend;
    my $t0 = time;
    waitpid($pid, 0);
    my $st = $? >> 8;
    kill 'CONT', $backend if $backend;
    open my $e, '<', "/tmp/pgrace-stuck-$pid.err" or die;
    my $err = do { local $/; <$e> };
    unlink "/tmp/pgrace-stuck-$pid.out", "/tmp/pgrace-stuck-$pid.err";
    is($st, 2, 'a worker stuck past its cancel: exit 2');
    like($err, qr/^pgrace: worker \d did not return from its call within 1\.0s of cancelling it at its 2s deadline$/m,
         'and which worker, in one line') or diag $err;
    note(sprintf 'from the stop to exit: %.1fs (deadline, grace, teardown)', time - $t0);
}

done_testing();
