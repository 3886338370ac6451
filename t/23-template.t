#!/usr/bin/perl
# The embedded cluster starts from a cached initdb'ed template: built once,
# copied per run; safe when several pgrace processes start at once on a
# cold cache; healed when the template is broken (incomplete, or a copy
# that the server refuses); off with PGRACE_CACHE_DIR=off. initdb calls are
# counted by a wrapper around the real initdb (PGRACE_PGBIN points at it).
use strict;
use warnings;
use lib 't/lib';
use File::Temp qw(tempdir);
use POSIX ();
use Test::More;
use Pgrace qw(pgrace run_cmd);

my $real = `pg_config --bindir 2>/dev/null`;
chomp $real;
($real) = grep { -x "$_/initdb" } ($real, glob('/usr/lib/postgresql/*/bin')) or plan skip_all => 'no initdb';

my $bin = tempdir(CLEANUP => 1);
chmod 0755, $bin;
my $calls = "$bin/initdb.calls";
open my $w, '>', "$bin/initdb" or die;
print $w "#!/bin/sh\necho called >> '$calls'\nexec '$real/initdb' \"\$\@\"\n";
close $w;
chmod 0755, "$bin/initdb";
symlink "$real/postgres", "$bin/postgres" or die;
open my $c, '>', $calls or die;
close $c;
chmod 0666, $calls;    # initdb runs as the server's user when we are root
$ENV{PGRACE_PGBIN} = $bin;
delete @ENV{qw(PGHOST PGPORT PGUSER PGDATABASE)};

sub initdb_calls { open my $f, '<', $calls or die; my @l = <$f>; scalar @l }
sub cluster_ok {
    my ($name) = @_;
    my ($st, $out, $err) = run_cmd(pgrace(), 'cluster', '--', 'psql', '-XAtqc', 'SELECT 42');
    is($st, 0, "$name: pgrace cluster runs psql") or diag $err;
    is($out, "42\n", "$name: against a working server");
}

my $cache = tempdir(CLEANUP => 1);
$ENV{PGRACE_CACHE_DIR} = $cache;

cluster_ok('cold cache');
is(initdb_calls(), 1, 'cold cache: initdb ran once');
my ($t) = glob("$cache/template-*");
ok($t && -f "$t/PGRACE_TEMPLATE" && -f "$t/data/PG_VERSION", 'and its result became the template');

cluster_ok('warm cache');
cluster_ok('warm cache again');
is(initdb_calls(), 1, 'warm cache: no further initdb');

# Incomplete template (its marker gone): rebuilt.
unlink "$t/PGRACE_TEMPLATE";
cluster_ok('incomplete template');
is(initdb_calls(), 2, 'an incomplete template is not used: initdb ran');
ok(-f "$t/PGRACE_TEMPLATE", 'and the template is whole again');

# A template whose copy the server refuses to start: discarded, rebuilt,
# and the run still gets its server.
open my $v, '>', "$t/data/PG_VERSION" or die;
print $v "7\n";
close $v;
cluster_ok('template the server refuses');
is(initdb_calls(), 3, 'the refused template was replaced by a fresh initdb');
open $v, '<', "$t/data/PG_VERSION" or die;
isnt(scalar <$v>, "7\n", 'the cache holds a good template again');
cluster_ok('after healing');
is(initdb_calls(), 3, 'and it is used');

# A cold cache and four pgrace processes at once: all get a server, one
# template remains, no half-built directory is left.
my $cold = tempdir(CLEANUP => 1);
$ENV{PGRACE_CACHE_DIR} = $cold;
my @kids;
for my $i (1 .. 4) {
    my $pid = fork() // die;
    if ($pid == 0) {
        my ($st) = run_cmd(pgrace(), 'cluster', '--', 'psql', '-XAtqc', 'SELECT 1');
        POSIX::_exit($st);
    }
    push @kids, $pid;
}
my $ok = 0;
for (@kids) { waitpid($_, 0); $ok++ if $? == 0 }
is($ok, 4, 'four concurrent starts on a cold cache all get a server');
my @left = glob("$cold/*");
is(scalar(grep { /template-[0-9a-f]{16}$/ } @left), 1, 'one template published');
is(scalar(grep { /\.(new|broken)\./ } @left), 0, 'no half-built template left behind') or diag "@left";

# Off: every run initdbs, nothing is cached.
$ENV{PGRACE_CACHE_DIR} = 'off';
my $before = initdb_calls();
cluster_ok('templates off');
is(initdb_calls(), $before + 1, 'PGRACE_CACHE_DIR=off: initdb every run');

done_testing();
