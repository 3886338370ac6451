#!/usr/bin/perl
# pgrace spec on a spec without permutations whose sessions take row locks
# (issue 15, found as a new user would): every interleaving in which a
# session blocked on a row lock has its next step due before the holder's
# COMMIT is one the server cannot follow. isolationtester waits out its 300 s
# step timeout on each, cancels the blocked step and goes on, and pgrace spec
# used to report such a permutation ok: a verdict on an interleaving that did
# not happen. Now each is a SKIP at once, saying why, exactly as under
# --explore, and every other permutation's verdict is the one the
# interleaving gives. The whole run is bounded: a watchdog far above its
# normal time (well under a second) stops it and fails the test, as the old
# behaviour (20 waits of 300 s) would.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Temp qw(tempdir);
use POSIX qw(WIFEXITED WEXITSTATUS);
use Pgrace qw(pgrace);

my $WATCHDOG = 60;     # seconds: a liveness bound, not a measurement

my $dir = tempdir('pgrace-infeasible.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $spec = "$dir/claim.spec";
open my $f, '>', $spec or die "$spec: $!";
print $f <<'SPEC';
# Two clients claim the one free slot: each checks it is free, then takes
# it, in a repeatable-read transaction.
setup { CREATE TABLE slots (id int PRIMARY KEY, free int); INSERT INTO slots VALUES (1, 1);
        CREATE TABLE claims (who text); }
teardown { DROP TABLE slots, claims; }
invariant "the slot is claimed at most once" { SELECT who FROM claims WHERE (SELECT count(*) FROM claims) > 1 }
session s1
step b1 { BEGIN ISOLATION LEVEL REPEATABLE READ; }
step k1 { SELECT free FROM slots WHERE id = 1; }
step u1 { UPDATE slots SET free = free - 1 WHERE id = 1; INSERT INTO claims VALUES ('s1'); }
step c1 { COMMIT; }
session s2
step b2 { BEGIN ISOLATION LEVEL REPEATABLE READ; }
step k2 { SELECT free FROM slots WHERE id = 1; }
step u2 { UPDATE slots SET free = free - 1 WHERE id = 1; INSERT INTO claims VALUES ('s2'); }
step c2 { COMMIT; }
SPEC
close $f;

# What each interleaving gives, from the server's rules: x's UPDATE waits
# while y updated the row and has not committed; if x's COMMIT is due then,
# only a later step (y's COMMIT) could release it: infeasible. An UPDATE of
# a row another transaction committed after x's snapshot (taken at x's
# check) fails (40001): one claim. A check after the other's COMMIT sees
# the slot taken, and the client claims it anyway: two claims.
sub expected {
    my ($perm) = @_;
    my @s = split ' ', $perm;
    my %at = map { $s[$_] => $_ } 0 .. $#s;
    for my $x (1, 2) {
        my $y = 3 - $x;
        return "skip:c$x:u$x:s$y" if $at{"u$y"} < $at{"u$x"} && $at{"u$x"} < $at{"c$x"} && $at{"c$x"} < $at{"c$y"};
    }
    return ($at{k1} > $at{c2} || $at{k2} > $at{c1}) ? 'violated' : 'ok';
}

# Runs pgrace spec (its own embedded cluster) under the watchdog; returns
# (exit status or undef when the watchdog stopped it, stdout).
sub spec_run {
    my @args = @_;
    my $out = "$dir/out";
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        delete @ENV{qw(PGHOST PGPORT PGDATABASE PGUSER)};
        open STDOUT, '>', $out or die;
        open STDERR, '>&', \*STDOUT or die;
        exec pgrace(), 'spec', @args or POSIX::_exit(127);
    }
    my $stopped = 0;
    local $SIG{ALRM} = sub { $stopped++; kill $stopped == 1 ? 'TERM' : 'KILL', $pid; alarm 10 };
    alarm $WATCHDOG;
    waitpid $pid, 0;
    my $st = $?;
    alarm 0;
    my $text = do { local $/; open my $h, '<', $out or die; <$h> };
    return ($stopped ? undef : WIFEXITED($st) ? WEXITSTATUS($st) : 128, $text);
}

# The points: permutation => [ok, SKIP reason or ''].
sub points {
    my ($tap) = @_;
    my %p;
    $p{$2} = [!$1, $3 // ''] while $tap =~ /^(not )?ok \d+ - \S+claim\.spec: ([a-z0-9 ]+?)(?:: [^\n]*?)?(?: # SKIP (.*))?$/mg;
    return %p;
}

for my $mode ([], ['--explore']) {
    my $name = @$mode ? 'pgrace spec --explore' : 'pgrace spec';
    my ($st, $out) = spec_run(@$mode, $spec);
    ok(defined $st, "$name: ends (the watchdog at ${WATCHDOG}s did not have to stop it)") or next;
    is($st, 1, "$name: exit 1 (some interleavings claim the slot twice)") or diag $out;
    my %p = points($out);
    is(scalar keys %p, 70, "$name: 70 points, one per interleaving of 4 + 4 steps") or diag $out;
    my (%count, @wrong);
    for my $perm (sort keys %p) {
        my $want = expected($perm);
        my ($ok, $skip) = @{ $p{$perm} };
        my $got = $skip =~ /^infeasible: step (c\d): its session still waits for step (u\d), which waits for (s\d)$/
                ? "skip:$1:$2:$3" : $skip ? "skip: $skip" : $ok ? 'ok' : 'violated';
        $count{ $want =~ s/:.*//r }++;
        push @wrong, "$perm: got $got, want $want" if $got ne $want;
    }
    is_deeply(\@wrong, [], "$name: every verdict is the interleaving's own: "
              . join(', ', map { "$count{$_} $_" } sort keys %count)) or diag explain \@wrong;
    unlike($out, qr/canceling step/, "$name: no step was canceled");
}

done_testing();
