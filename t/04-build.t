#!/usr/bin/perl
# pgrace needs the fault shim beside it (explore, --fault, fault plans
# re-execute pgrace with build/libpgfault.so preloaded): `make build/pgrace`
# alone builds both, and a pgrace without its shim says, in one line and
# exit 2, which file is missing and how to get it.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Copy qw(copy);
use File::Temp qw(tempdir);
use Pgrace qw(pgrace run_cmd);

my $dir = tempdir('pgrace-build.XXXXXX', TMPDIR => 1, CLEANUP => 1);

# What make would do for a fresh build directory, asked for pgrace alone.
my ($st, $out, $err) = run_cmd('make', '-n', "BUILD=$dir/fresh", "$dir/fresh/pgrace");
is($st, 0, 'make -n BUILD=DIR DIR/pgrace plans a build') or diag $err;
like($out, qr{ -shared .* -o \Q$dir\E/fresh/libpgfault\.so }, '  which links the fault shim') or diag $out;
like($out, qr{ -o \Q$dir\E/fresh/pgrace }, '  and pgrace');

# A pgrace with no shim beside it.
copy(pgrace(), "$dir/pgrace") && chmod(0755, "$dir/pgrace") or die "copy: $!";
for my $cmd (['explore', 'attestation'], ['run', 'attestation', '--plan', 'sweep'],
             ['run', 'attestation', '-i', '1', '--fault', 'commit:error=40001']) {
    ($st, $out, $err) = run_cmd("$dir/pgrace", @$cmd);
    ok($st == 2 && $out eq ''
       && $err =~ m{\Apgrace: fault shim \Q$dir\E/libpgfault\.so: No such file or directory \(the build makes it beside pgrace: run make\)\n\z},
       "pgrace @$cmd without its shim: exit 2, one line saying which file and how to get it")
        or diag "status $st, stdout '$out', stderr '$err'";
}

done_testing();
