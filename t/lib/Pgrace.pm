# Pgrace.pm — what the Perl tests share: where the build is, how to run a
# command and collect its output and status, and how to get a server.
package Pgrace;
use strict;
use warnings;
use Exporter 'import';
use File::Temp qw(tempfile);
use POSIX qw(WIFEXITED WEXITSTATUS WIFSIGNALED WTERMSIG);

our @EXPORT_OK = qw(build pgrace run_cmd run_cmd_stdin spawn_cmd under_cluster repeat_count sanitized dsn_from_env psql_value tap_of
                    junit_errors mark_processes marked_processes);

# The build under test: build/ normally, build/asan or build/tsan for the
# sanitizer passes of `make check`.
sub build { $ENV{PGRACE_BUILD} // 'build' }
sub pgrace { build() . '/pgrace' }
sub sanitized { build() ne 'build' }

# How many times a "caught in each of N consecutive runs" test repeats: all
# of them normally; once under sanitizers, which look for memory and thread
# errors in the same code (each run is many iterations), not for how
# reliably it catches or how deterministically it finds.
sub repeat_count { my ($n) = @_; sanitized() ? 1 : $n }

# Runs a command (list form, no shell); returns (exit status, stdout,
# stderr). The status is 128+N when the command died of signal N.
sub run_cmd {
    my @cmd = @_;
    my ($ofh, $ofile) = tempfile(UNLINK => 1);
    my ($efh, $efile) = tempfile(UNLINK => 1);
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>&', $ofh or die;
        open STDERR, '>&', $efh or die;
        exec @cmd or do { print STDERR "exec $cmd[0]: $!\n"; POSIX::_exit(127) };
    }
    waitpid($pid, 0);
    my $st = $?;
    my $status = WIFEXITED($st) ? WEXITSTATUS($st) : 128 + WTERMSIG($st);
    local $/;
    open my $o, '<', $ofile or die; my $out = <$o>;
    open my $e, '<', $efile or die; my $err = <$e>;
    # Removed now, not at exit: a run_all child leaves by _exit, which
    # skips File::Temp's cleanup.
    unlink $ofile, $efile;
    return ($status, $out // '', $err // '');
}

# Like run_cmd, with $stdin (bytes) as the command's standard input.
sub run_cmd_stdin {
    my ($stdin, @cmd) = @_;
    my ($ifh, $ifile) = tempfile(UNLINK => 1);
    binmode $ifh;
    print $ifh $stdin;
    close $ifh;
    open my $saved, '<&', \*STDIN or die "dup stdin: $!";
    open STDIN, '<', $ifile or die "open $ifile: $!";
    my @r = run_cmd(@cmd);
    unlink $ifile;
    open STDIN, '<&', $saved or die "restore stdin: $!";
    return @r;
}

# Starts a command (list form, no shell) with its stdout and stderr into a
# pipe, for a test that acts on it mid-run; returns (pid, the pipe's
# reading end). The caller reads the pipe and waits for the pid.
sub spawn_cmd {
    my @cmd = @_;
    pipe(my $r, my $w) or die "pipe: $!";
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        close $r;
        open STDOUT, '>&', $w or die;
        open STDERR, '>&', $w or die;
        exec @cmd or POSIX::_exit(127);
    }
    close $w;
    return ($pid, $r);
}

# Re-runs the calling test script under `pgrace cluster`, so that it has a
# throwaway server in PGHOST/PGPORT/PGUSER/PGDATABASE. Returns only inside.
sub under_cluster {
    return if $ENV{PGRACE_TEST_CLUSTER};
    $ENV{PGRACE_TEST_CLUSTER} = 1;
    exec pgrace(), 'cluster', '--', $^X, '-It/lib', $0 or die "exec pgrace cluster: $!";
}

# The environment's server as an explicit DSN.
sub dsn_from_env {
    "host=$ENV{PGHOST} port=$ENV{PGPORT} user=$ENV{PGUSER} dbname=$ENV{PGDATABASE}";
}

# Parses a TAP stream as prove would; returns the parser after the run.
sub tap_of {
    my ($text) = @_;
    require TAP::Parser;
    my $p = TAP::Parser->new({ tap => $text });
    while (defined $p->next) { }
    return $p;
}

# What xmllint says is wrong with the JUnit file $file: against pgrace's
# own schema of the strict Ant format (reports/junit.xsd), always, and
# against the reference schema beside the project when there is one. ''
# when it validates against each (a missing xmllint is an error, not a skip).
sub junit_errors {
    my ($file) = @_;
    my $errors = '';
    for my $xsd ('reports/junit.xsd', grep { -f } '../shared/schemas/JUnit.xsd') {
        my ($st, $out, $err) = run_cmd('xmllint', '--noout', '--schema', $xsd, $file);
        $errors .= "$xsd: $err" if $st != 0;
    }
    return $errors;
}

# Marks the processes this test file starts from now on: they, and
# whatever they start, orphans too, inherit TEST_PROCESS_MARK from its
# environment, and other test files' processes do not. (Not a PGRACE_
# name: pgrace exec passes none of those on to its workers.)
sub mark_processes { $ENV{TEST_PROCESS_MARK} = "$0:$$" }

# The processes holding this file's mark now (but this one), as "PID: ARGS".
sub marked_processes {
    my $mark = "TEST_PROCESS_MARK=" . ($ENV{TEST_PROCESS_MARK} // die 'mark_processes() first');
    my @found;
    for my $env (glob '/proc/[0-9]*/environ') {
        my ($pid) = $env =~ m{/proc/(\d+)/};
        next if $pid == $$;
        open my $fh, '<', $env or next;    # gone meanwhile, or not ours to read
        my $vars = do { local $/; <$fh> } // '';
        next unless grep { $_ eq $mark } split /\0/, $vars;
        my $args = do { open my $c, '<', "/proc/$pid/cmdline" or next; local $/; <$c> } // '';
        push @found, "$pid: " . join(' ', split /\0/, $args);
    }
    return @found;
}

# One value from psql (-X: no psqlrc), dying on error.
sub psql_value {
    my ($sql) = @_;
    my ($st, $out, $err) = run_cmd('psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', $sql);
    die "psql: $err" if $st;
    chomp $out;
    return $out;
}

1;
