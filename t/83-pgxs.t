#!/usr/bin/perl
# pgrace in place of isolationtester under the installed PostgreSQL's PGXS
# (issue 15): a small PGXS project's `make installcheck` with ISOLATION specs
# (t/pgxs) runs through the installed pg_isolation_regress — Debian's
# postgresql-client ships it with PGXS — on a throwaway cluster. That
# pg_isolation_regress runs the isolationtester beside it (its own path,
# symlinks resolved) and takes it only when its -V is, to the byte, its own
# version line, Debian's suffix included; so it is copied beside a link to
# pgrace, as the README tells a PGXS user to do. The expected outputs are
# the real isolationtester's: the same project passes with it too. An
# isolationtester that answers another version line is refused, which is
# what pgrace's -V used to do.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Copy qw(copy);
use File::Temp qw(tempdir);
use Pgrace qw(build run_cmd under_cluster);

under_cluster();

my $pgxs = `pg_config --pgxs 2>/dev/null`;
chomp $pgxs;
my $regress = dirname($pgxs) . '/../test/isolation/pg_isolation_regress';
ok(-x $regress, "the installed PGXS has pg_isolation_regress ($regress)") or BAIL_OUT('no PGXS: install postgresql-client');

my $dir = tempdir('pgrace-pgxs.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $pgrace = abs_path(build() . '/pgrace');

# A directory holding a copy of pg_isolation_regress and, beside it, $tester
# under the name isolationtester.
sub regress_with {
    my ($name, $tester) = @_;
    my $bin = "$dir/$name";
    mkdir $bin or die "$bin: $!";
    copy($regress, "$bin/pg_isolation_regress") && chmod(0755, "$bin/pg_isolation_regress")
        or die "copy $regress: $!";
    symlink($tester, "$bin/isolationtester") or die "symlink: $!";
    return "$bin/pg_isolation_regress";
}

# A fresh copy of the project; make installcheck in it, with PGXS's own
# pg_isolation_regress or, given one, another. Returns (status, output).
sub installcheck {
    my ($name, $program) = @_;
    my $ext = "$dir/$name";
    mkdir $ext and mkdir "$ext/specs" and mkdir "$ext/expected" or die "$ext: $!";
    for my $f ('t/pgxs/Makefile', glob('t/pgxs/specs/*.spec'), glob('t/pgxs/expected/*.out')) {
        (my $rel = $f) =~ s{^t/pgxs/}{};
        copy($f, "$ext/$rel") or die "copy $f: $!";
    }
    my @override = $program
        ? ("pg_isolation_regress_installcheck=$program --inputdir=\$(srcdir) --outputdir=output_iso "
           . "--bindir=\$(bindir) \$(pg_regress_locale_flags) \$(EXTRA_REGRESS_OPTS)")
        : ();
    my ($st, $out, $err) = run_cmd('make', '-C', $ext, 'installcheck', @override);
    my $diffs = "$ext/output_iso/regression.diffs";
    $out .= $err . (-s $diffs ? do { local $/; open my $h, '<', $diffs; <$h> } : '');
    return ($st, $out);
}

my ($st, $out) = installcheck('with-real');
ok($st == 0 && $out =~ /All 2 tests passed/, 'the project passes with the installed isolationtester: its outputs are the expected ones')
    or diag $out;

($st, $out) = installcheck('with-pgrace', regress_with('bin-pgrace', $pgrace));
ok($st == 0 && $out =~ /All 2 tests passed/, 'make installcheck passes with pgrace as the isolationtester') or diag $out;
like($out, qr/^test counter +\.\.\. ok +\d+ ms$/m, '  counter.spec: a blocked step, byte for byte');
like($out, qr/^test log +\.\.\. ok +\d+ ms$/m, '  log.spec: every interleaving of a spec without permutations');

# What pgrace answered before: libpq's version alone.
my $wrong = "$dir/wrong-version";
open my $w, '>', $wrong or die "$wrong: $!";
my $line = `$pgrace isolation --version`;
(my $short = $line) =~ s/ \([^()]*\)\n\z/\n/;
$short = "isolationtester (PostgreSQL) 0.0\n" if $short eq $line;
print $w "#!/bin/sh\nprintf '%s' '$short'\n";
close $w;
chmod 0755, $wrong;
($st, $out) = installcheck('with-wrong', regress_with('bin-wrong', $wrong));
ok($st != 0 && $out =~ /could not find proper isolationtester binary/,
   "an isolationtester whose -V is not the installed line ('${\ ($short =~ s/\n//r)}') is refused") or diag $out;

done_testing();
