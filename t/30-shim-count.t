#!/usr/bin/perl
# Statement counting, schedules and actions in process, against a real
# server: t/unit/pgf_count.c under a throwaway cluster; and libpq opened with
# dlopen and called by handle (t/unit/pgf_dlopen.c).  Runs in the sanitizer
# builds too (the shim is linked into the test programs), with N threads
# sharing the rules, and N threads dlopening libpq at once.
use strict;
use warnings;
use Test::More;

my $BUILD = $ENV{PGRACE_BUILD} // 'build';
my @CLUSTER = split ' ', ($ENV{PGF_CLUSTER} // "$BUILD/pgrace cluster --");

local $ENV{PGF_THREADS} = $ENV{PGF_THREADS} // 8;
my $out = `@CLUSTER $BUILD/t/pgf_count 2>&1`;
my $st = $? >> 8;
is($st, 0, 'pgf_count exits 0') or diag $out;
my @points = $out =~ /^(ok|not ok) \d+/mg;
my @bad = grep { $_ eq 'not ok' } @points;
ok(@points >= 40, 'pgf_count ran its test points (' . scalar(@points) . ')');
is(scalar @bad, 0, 'no failing point') or diag join "\n", grep { /^not ok/ } split /\n/, $out;
like($out, qr/^1\.\.\d+$/m, 'pgf_count completed its plan');
unlike($out, qr/WARNING: ThreadSanitizer|ERROR: AddressSanitizer|runtime error:/, 'no sanitizer report');

# The wrappers' dlopen: the program's own dlopen("libpq.so.5") handle finds
# the wrappers linked into it.
{
    local $ENV{PGFAULT} = 'sql=/pgf-dl/:when=1+:error=40001';
    $out = `@CLUSTER $BUILD/t/pgf_dlopen 2>&1`;
}
is($? >> 8, 0, 'pgf_dlopen exits 0') or diag $out;
@points = $out =~ /^(ok|not ok) \d+/mg;
ok(@points >= 40 && $out =~ /^1\.\.\d+$/m, 'pgf_dlopen completed its plan (' . scalar(@points) . ' points)');
is(scalar(grep { $_ eq 'not ok' } @points), 0, 'pgf_dlopen: no failing point')
    or diag join "\n", grep { /^not ok/ } split /\n/, $out;
unlike($out, qr/WARNING: ThreadSanitizer|ERROR: AddressSanitizer|runtime error:/, 'pgf_dlopen: no sanitizer report');
done_testing();
