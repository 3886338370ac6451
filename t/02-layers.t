#!/usr/bin/env perl
# The layers (LAYERS.md): no #include and no call points up. tools/layers
# reads every source's includes and, from the compiled objects, every call
# between folders; here it must find nothing in the tree, and it must find
# an upward arrow planted in a copy of a small tree (a check that cannot
# fail would prove nothing).
use strict;
use warnings;
use FindBin qw($Bin);
use File::Temp qw(tempdir);
use File::Path qw(make_path);
use Test::More;

my $top = "$Bin/..";
my $build = $ENV{PGRACE_BUILD} // 'build';
$build = "$top/$build" unless $build =~ m{^/};

my $out = `"$top/tools/layers" --objects "$build/obj" 2>&1`;
is($? >> 8, 0, 'no include and no call points up a layer') or diag $out;

# A planted upward include, and a planted upward call (a function declared
# by hand, which an include check alone would miss).
my $dir = tempdir(CLEANUP => 1);
make_path("$dir/tools", "$dir/lib", "$dir/engine", "$dir/obj/lib", "$dir/obj/engine");
system('cp', "$top/tools/layers", "$dir/tools/layers") == 0 or die "cp: $!";
open my $fh, '>', "$dir/lib/low.c" or die $!;
print $fh qq{#include "engine/high.h"\nint high(void);\nint low(void) { return high(); }\n};
close $fh;
open $fh, '>', "$dir/engine/high.c" or die $!;
print $fh qq{int high(void) { return 1; }\n};
close $fh;
open $fh, '>', "$dir/engine/high.h" or die $!;
print $fh qq{int high(void);\n};
close $fh;
system('cc', '-c', '-o', "$dir/obj/lib/low.o", "$dir/lib/low.c", "-I$dir") == 0 or die 'cc low.c';
system('cc', '-c', '-o', "$dir/obj/engine/high.o", "$dir/engine/high.c") == 0 or die 'cc high.c';
$out = `"$dir/tools/layers" --objects "$dir/obj" 2>&1`;
is($? >> 8, 1, 'a planted upward arrow fails the check');
like($out, qr{^lib/low\.c:1: #include "engine/high\.h": lib/ is below engine/$}m, '... the include, named');
like($out, qr{^\S*lib/low\.o: calls high, defined in engine/: lib/ is below engine/$}m, '... the call, named');

done_testing;
