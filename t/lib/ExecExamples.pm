# ExecExamples.pm — running the seeds' operations as real programs
# (examples/, built by `make examples`) through `pgrace exec`, for the
# tests that judge them: t/85-examples.t (by their checks) and
# t/87-exec-oracle.t (by the serial oracle).
package ExecExamples;
use strict;
use warnings;
use Exporter 'import';
use Time::HiRes qw(time);
use Test::More;
use Pgrace qw(build pgrace run_cmd);

our @EXPORT_OK = qw(examples_dir setup_args sql_args exec_example ex why run_replay slurp);

our $SEED = 17;

sub examples_dir { build() . '/examples' }

# The --setup that gives op's form its schema: setup-FORM.sql when the
# form has one of its own (nullifier's no-constraint), else setup.sql.
sub setup_args {
    my ($op, $form) = @_;
    return ('--setup', -e "examples/$op/setup-$form.sql" ? "examples/$op/setup-$form.sql" : "examples/$op/setup.sql");
}

# The setup and every check of op.
sub sql_args {
    my ($op, $form) = @_;
    return (setup_args($op, $form), map { ('--check', (m{check-(.+)\.sql$})[0] . "=$_") } sort glob "examples/$op/check-*.sql");
}

# Runs pgrace exec with the SQL options @$sql on op's form in stack with
# opts; returns what it found: status, the ids of the invariants violated,
# the first violating iteration, the schedule, the replay command, the
# output, the wall time, the explorer's count of runs, the sweep's
# positions, and the serial oracle's note.
sub exec_example {
    my ($sql, $op, $stack, $form, @opts) = @_;
    my $t0 = time;
    my ($st, $out, $err) = run_cmd(pgrace(), 'exec', '--seed', $SEED, @$sql, @opts, '--', examples_dir() . "/$op-$stack",
                                   $form);
    my %r = (status => $st, out => $out, err => $err, seconds => time - $t0, violated => []);
    for my $block ($out =~ /^(not ok .*?\n  \.\.\.)$/msg) {
        my ($id) = $block =~ /^  invariant_id: "([^"]+)"/m;
        push @{ $r{violated} }, $id if $id;
        ($r{iteration}) = $block =~ /^  iteration: (\d+)/m unless $r{iteration};
        ($r{schedule}) = $block =~ /^  schedule: "([^"]+)"/m unless $r{schedule};
        ($r{replay}) = $block =~ /^  replay: "(.*)"$/m unless $r{replay};
    }
    @{ $r{violated} } = sort @{ $r{violated} };
    ($r{runs}) = $out =~ /: (\d+ schedules(?: \+ \d+ fault runs)?) in /;
    ($r{positions}) = $out =~ /fault sweep over (\d+) statement positions/;
    ($r{oracle}) = $out =~ /: serial oracle: (.*)$/m;
    return \%r;
}

# The same with op's setup and every check.
sub ex {
    my ($op, $stack, $form, @opts) = @_;
    return exec_example([ sql_args($op, $form) ], $op, $stack, $form, @opts);
}

sub why {
    my ($r) = @_;
    diag("exit $r->{status}");
    diag($r->{err}) if $r->{err};
    diag(join "\n", grep { /^(not ok|#|  (found|details|  - |calls))/ } split /\n/, $r->{out});
}

# A replay command as printed, run as words (its quoted words unquoted):
# its status, the invariants it violated, its output and its stderr.
sub run_replay {
    my ($cmd) = @_;
    my @words;
    push @words, defined $1 ? $1 : $2 while $cmd =~ /\G\s*(?:'([^']*)'|(\S+))/gc;
    shift @words;
    my ($st, $out, $err) = run_cmd(pgrace(), @words);
    my @v = sort map { /^  invariant_id: "([^"]+)"/ ? $1 : () } split /\n/, $out;
    return ($st, \@v, $out, $err);
}

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or die "$file: $!";
    local $/;
    return <$fh>;
}

1;
