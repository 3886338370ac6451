#!/usr/bin/perl
# The fault spec parser: an in-process fuzz run (t/unit/pgf_spec_fuzz.c, also
# under the sanitizer builds) and end-to-end checks that a preloaded shim
# with a bad PGFAULT stops the program with status 2 and one line naming the
# token, and lets it run with a good or empty one.
use strict;
use warnings;
use File::Temp ();
use POSIX ();
use Test::More;

my $BUILD = $ENV{PGRACE_BUILD} // 'build';
my $SAN = $BUILD ne 'build' || $ENV{PGRACE_TSAN};

# Run @cmd with %$env added (undef deletes); return (status, stdout, stderr).
sub run_cmd {
    my ($env, @cmd) = @_;
    my ($o, $e) = (File::Temp->new, File::Temp->new);
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        while (my ($k, $v) = each %$env) { defined $v ? ($ENV{$k} = $v) : delete $ENV{$k} }
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $o->filename;
        open STDERR, '>', $e->filename;
        exec @cmd or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    my $st = $? & 127 ? 128 + ($? & 127) : $? >> 8;
    local $/;
    return ($st, scalar readline($o), scalar readline($e));
}

my $n = $ENV{PGRACE_TSAN} ? 4000 : 20000;
my ($st, $out) = run_cmd({PGF_FUZZ_N => $n}, "$BUILD/t/pgf_spec_fuzz");
is($st, 0, "in-process parser fuzz: $n specs") or diag $out;
unlike($out, qr/^not ok/m, 'no failing point in the fuzz run');
like($out, qr/^1\.\.\d+$/m, 'the fuzz run completed its plan');

SKIP: {
    skip 'sanitizer build: its shim cannot be preloaded into an uninstrumented /bin/true', 1 if $SAN;
    my $so = "$BUILD/libpgfault.so";
    my @bad = (
        ['commit:when=x:error=40001', 'when=x'],
        ['commit:drop:drop', 'drop'],
        ['nonsense', 'nonsense'],
        ['sql=/(/:drop', 'sql=/(/'],
        ['commit:error=40001;', ';'],
        ['stmt:delay=5', 'delay=5'],
    );
    for my $b (@bad) {
        my ($spec, $tok) = @$b;
        my ($s, $o, $e) = run_cmd({LD_PRELOAD => $so, PGFAULT => $spec}, '/bin/true');
        is($s, 2, "PGFAULT='$spec': exit status 2");
        like($e, qr/\Apgfault: bad fault rule at "\Q$tok\E"(\.\.\.)?: [^\n]+\n\z/, "... one line naming \"$tok\"");
    }
    for my $spec (undef, '', 'commit:when=2+3:ambiguous;sql=/^UPDATE/:delay=30ms:after') {
        my ($s, $o, $e) = run_cmd({LD_PRELOAD => $so, PGFAULT => $spec}, '/bin/true');
        my $name = defined $spec ? "'$spec'" : 'unset';
        ok($s == 0 && $e eq '', "PGFAULT $name: the program runs (pass-through)");
    }
    # A few hundred random mutations end to end: never a crash, never silent.
    my @frag = (qw(commit stmt rollback begin when=3 when=2..4 when=1+2 when=5+ prob=0.5 seed=9
                   scope=proc conn=2 error=40001 error=40P01/dl drop ambiguous delay=3ms after sql=/x/ : ; / = . +),
                'sql=/^a b/', 'x');
    srand(7);
    my ($crash, $silent, $ran) = (0, 0, 0);
    for (1 .. 300) {
        my $spec = join '', map { $frag[rand @frag] } 1 .. 1 + int rand 6;
        my ($s, $o, $e) = run_cmd({LD_PRELOAD => $so, PGFAULT => $spec}, '/bin/true');
        $ran++;
        if ($s == 0) { $silent++ if $e ne '' }
        elsif ($s == 2) { $silent++ unless $e =~ /\Apgfault: bad fault rule at "[^\n]*\n\z/ }
        else { $crash++; diag "PGFAULT='$spec' -> status $s: $e" }
    }
    ok($crash == 0 && $silent == 0, "$ran random specs: each runs cleanly or exits 2 with one line");
}

done_testing();
