#!/usr/bin/env perl
# The C unit tests' TAP kit (t/unit/check.h) can fail: a tiny unit test
# built with it, made to fail in every way a test can, exits non-zero and
# prove reports it; passing, it exits 0. And nothing prove runs bare can
# only skip: the unit tests that need a server are not in the Makefile's
# list (they bail out when run bare), and no unit test writes a skip by hand.
use strict;
use warnings;
use FindBin qw($Bin);
use File::Temp qw(tempdir);
use Test::More;

my $top = "$Bin/..";
my $dir = tempdir('pgrace-check.XXXXXX', TMPDIR => 1, CLEANUP => 1);
open my $f, '>', "$dir/probe.c" or die "$dir/probe.c: $!";
print $f <<'C';
/* A unit test that fails as $CHECK_PROBE says. */
#include "t/unit/check.h"

#include <sys/wait.h>

int main(void)
{
    const char *how = getenv("CHECK_PROBE");
    if (strcmp(how, "none") == 0)
        return check_done();
    if (strcmp(how, "short") == 0)
        check_plan(3);
    CHECK(1, "one");
    CHECK(strcmp(how, "fail") != 0 && strcmp(how, "exit0") != 0 && strcmp(how, "return0") != 0 &&
              strcmp(how, "fork") != 0, "two");
    if (strcmp(how, "exit0") == 0)
        exit(0);
    if (strcmp(how, "return0") == 0)
        return 0;
    if (strcmp(how, "fork") == 0) {
        pid_t pid = fork();
        if (pid == 0)
            exit(0);
        waitpid(pid, NULL, 0);
    }
    if (strcmp(how, "bail") == 0)
        check_bail("no server");
    if (strcmp(how, "short") != 0)
        check_skip("does not apply here");
    return check_done();
}
C
close $f;
my $cc = $ENV{CC} // 'cc';
my $probe = "$dir/probe";
my $ccout = `$cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I'$top' -o '$probe' '$dir/probe.c' 2>&1`;
is($?, 0, 'a unit test builds with t/unit/check.h alone (libc only)') or BAIL_OUT("cannot build the probe: $ccout");

# Runs the probe one way; returns (exit status, stdout).
sub probe {
    my ($how) = @_;
    local $ENV{CHECK_PROBE} = $how;
    my $out = `'$probe'`;
    return ($? >> 8, $out);
}

my ($st, $out) = probe('pass');
is($st, 0, 'every point passed: exit 0');
is($out, "ok 1 - one\nok 2 - two\nok 3 - does not apply here # SKIP\n1..3\n", '  the plan at the end, a declared skip');

my @fails = (
    [ 'fail',    'a failed point',                               qr/^not ok 2 - two\n.*^1\.\.3\n# Looks like you failed 1 test of 3\n\z/ms ],
    [ 'exit0',   'a failed point, then exit(0)',                 qr/^not ok 2 - two\n1\.\.2\n# Looks like you failed 1 test of 2\n\z/m ],
    [ 'return0', 'a failed point, then return 0 from main',      qr/^not ok 2 - two\n1\.\.2\n# Looks like you failed 1 test of 2\n\z/m ],
    [ 'short',   'fewer points than planned',                    qr/^1\.\.3\nok 1 - one\nok 2 - two\n# Looks like you planned 3 tests but ran 2\n\z/ ],
    [ 'fork',    'a failed point, and a forked child that exits', qr/\A(?!.*^1\.\..*^1\.\.)(?:.*\n)*# Looks like you failed 1 test of 3\n\z/ms ],
    [ 'bail',    'a bail out',                                   qr/^Bail out! no server\n\z/m ],
);
for my $case (@fails) {
    my ($how, $name, $want) = @$case;
    ($st, $out) = probe($how);
    ok($st != 0, "$name: exit status $st, not 0");
    like($out, $want, "  the plan and the summary once, from the process that counts") or diag $out;
}
($st, $out) = probe('none');
ok($st != 0 && $out !~ /^1\.\./m, 'no point at all: exit non-zero, and no plan (not a "1..0" skip)') or diag $out;

# prove sees the failure, and only the failure.
for my $how (qw(pass fail exit0)) {
    local $ENV{CHECK_PROBE} = $how;
    my $p = `prove '$probe' 2>&1`;
    my $pst = $? >> 8;
    if ($how eq 'pass') {
        is($pst, 0, 'prove passes a passing unit test') or diag $p;
    } else {
        ok($pst != 0 && $p =~ /^Result: FAIL$/m, "prove fails the unit test that failed ($how)") or diag $p;
    }
}

# What prove runs bare: nothing that needs a server it does not start.
my $build = $ENV{PGRACE_BUILD} // 'build';
my @listed = split ' ', `make -s --no-print-directory -C '$top' BUILD=$build print-unit-tests`;
ok(@listed >= 5, 'the Makefile lists the unit tests prove runs (' . scalar(@listed) . ')');
my @server = grep { /\bpgf_(count|dlopen)$/ } @listed;
is_deeply(\@server, [], 'pgf_count and pgf_dlopen are not in it (t/30-shim-count.t runs them under a cluster)');
for my $bin (qw(pgf_count pgf_dlopen)) {
    local @ENV{qw(PGHOST PGDATABASE PGPORT)};
    delete @ENV{qw(PGHOST PGDATABASE PGPORT)};
    my $o = `'$top/$build/t/$bin' 2>&1`;
    ok(($? >> 8) == 255 && $o =~ /^Bail out! needs a server/m, "$bin run bare bails out, it does not skip") or diag $o;
}
my @hand = grep { my $t = do { local $/; open my $s, '<', $_ or die; <$s> }; $t =~ /1\.\.0|#\s*SKIP/i } glob("$top/t/unit/*.c");
is_deeply(\@hand, [], 'no unit test prints a skip by hand');

done_testing();
