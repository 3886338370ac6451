#!/usr/bin/perl
# pgrace as isolationtester: PostgreSQL 15's isolation suite through
# run-suite (one point per spec: the output is byte for byte the expected
# one), the version and usage answers, malformed specs answered with
# isolationtester's message and exit status, and the step timeout — each
# compared with the real isolationtester: the installed one (Debian's
# postgresql-client ships it with PGXS), else the suite's. Only the suite
# itself (../shared/anchors/pg15-isolation: PostgreSQL's own work, run but
# not copied) may be missing; then its points are skipped and the rest runs.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Spec;
use Pgrace qw(build pgrace run_cmd run_cmd_stdin under_cluster);

my $suite = $ENV{PG15_ISOLATION} // '../shared/anchors/pg15-isolation';
my $have_suite = -x "$suite/run-suite" && -f "$suite/isolation_schedule";
under_cluster();

# The link itself, not what it points at: pgrace acts on its name.
my $tester = File::Spec->rel2abs(build() . '/isolationtester');
my $pgxs = `pg_config --pgxs 2>/dev/null`;
chomp $pgxs;
my $installed = $pgxs ? dirname($pgxs) . '/../test/isolation/isolationtester' : '';
my $real = -x $installed ? abs_path($installed) : -x "$suite/isolationtester" ? abs_path("$suite/isolationtester") : undef;
ok(-x $tester && -l build() . '/isolationtester', 'the build has isolationtester, a link to pgrace');

# ---- the suite: the schedule, and the specs that need prepared transactions
my ($st, $out, $err);
SKIP: {
    skip "no PostgreSQL 15 isolation suite at $suite (set PG15_ISOLATION)", 1 unless $have_suite;
    my @tests = map { /^test:\s*(\S+)/ ? $1 : () } do { open my $f, '<', "$suite/isolation_schedule" or die; <$f> };
    push @tests, grep { -f "$suite/specs/$_.spec" } qw(prepared-transactions prepared-transactions-cic);
    my $outdir = File::Temp::tempdir('pgrace-isolation.XXXXXX', TMPDIR => 1, CLEANUP => 1);
    ($st, $out, $err) = run_cmd("$suite/run-suite", '-t', $tester, '-o', $outdir, @tests);
    my %result = map { /^(ok|FAILED)\s+(\S+)\s+(\d+) ms$/ ? ($2 => [$1, $3]) : () } split /\n/, $out;
    for my $t (@tests) {
        my $r = $result{$t};
        ok($r && $r->[0] eq 'ok', "isolation/$t: output is isolationtester's, byte for byte" . ($r ? " ($r->[1] ms)" : ''))
            or diag(($r ? '' : "not run: $out$err") . do {
                my $d = "$outdir/regression.diffs";
                -f $d ? do { local $/; open my $f, '<', $d; my $x = <$f>; join("\n", grep { /^[-+@]/ } split /\n/, $x) } : '';
            });
    }
    like($out, qr/^${\ scalar @tests} passed, 0 failed$/m, 'run-suite: every spec passed') or diag($out);
}

# ---- version and usage, as isolationtester answers them: -V is the
# installed PostgreSQL's own line, which pg_isolation_regress compares to
# the byte with its own (t/83-pgxs.t runs it)
($st, $out, $err) = run_cmd($tester, '-V');
my ($server_line) = `\$(pg_config --bindir)/postgres -V` =~ /^postgres (.*\n)\z/s;
is($out, "isolationtester $server_line", "-V: the installed server's version line (isolationtester ${\ ($server_line =~ s/\n//r)})");
SKIP: {
    skip 'no installed isolationtester to compare with', 1 unless -x $installed;
    my ($rst, $rout) = run_cmd($installed, '-V');
    is($out, $rout, '  ... the installed isolationtester\'s, to the byte');
}
is($st, 0, '-V exits 0');
my ($pst, $pout) = run_cmd(pgrace(), 'isolation', '--version');
is($pout, $out, 'pgrace isolation --version answers the same');
($st, $out, $err) = run_cmd($tester, '-x');
is($st, 1, 'a bad option exits 1');
like($err, qr/invalid option -- 'x'\nUsage: isolationtester \[CONNINFO\]\n\z/, 'and prints the usage line');

# ---- malformed specs: isolationtester's one line, exit 1, nothing on stdout
# (a valid one reaches the connection, which fails the same way: no server)
my $nowhere = 'host=/nonexistent/pgrace dbname=x';
my @bad = (
    [ 'syntax error',          "setup { CREATE TABLE t (i int); }\nsession s1\nstep a { SELECT 1; }\nsetup { x }\n",
      "syntax error at line 4\n" ],
    [ 'unexpected character',  "session s1\nstep a { SELECT 1; }\npermutation a;\n",
      "syntax error at line 3: unexpected character \";\"\n" ],
    [ 'unterminated SQL',      "session s1\nstep a { SELECT 1;\n\n",
      "unterminated sql block at line 4\n" ],
    [ 'newline in a name',     "session \"s\n1\"\nstep a {}\n",
      "unexpected newline in quoted identifier at line 1\n" ],
    [ 'no session',            "setup { SELECT 1; }\n",
      "syntax error at line 2\n" ],
    [ 'unknown step',          "session s1\nstep a { SELECT 1; }\npermutation a b\n",
      "undefined step \"b\" specified in permutation\n" ],
    [ 'duplicate step',        "session s1\nstep a {}\nsession s2\nstep a {}\n",
      "duplicate step name: a\n" ],
    [ 'unknown marker step',   "session s1\nstep a {}\nsession s2\nstep b {}\npermutation a(c) b\n",
      "undefined blocking step \"c\" referenced in permutation step \"a\"\n" ],
    [ 'blocks on own session', "session s1\nstep a {}\nstep b {}\npermutation a(b) b\n",
      "permutation step \"a\" cannot block on its own session\n" ],
    [ 'pgrace invariant',      "session s1\nstep a {}\ninvariant \"one\" { SELECT 1 }\n",
      "syntax error at line 3\n" ],
    [ 'pgrace setting',        "setting max_prepared_transactions \"10\"\nsession s1\nstep a {}\n",
      "syntax error at line 1\n" ],
    [ 'pgrace step fault',     "session s1\nstep a {}\npermutation a[drop]\n",
      "syntax error at line 3: unexpected character \"[\"\n" ],
);
for my $case (@bad) {
    my ($name, $text, $want) = @$case;
    ($st, $out, $err) = run_cmd_stdin($text, $tester, $nowhere);
    is_deeply([$st, $out, $err], [1, '', $want], "malformed spec ($name): \"${\ substr($want, 0, -1)}\", exit 1");
    if ($real) {
        my @r = run_cmd_stdin($text, $real, $nowhere);
        is_deeply([@r], [1, '', $want], "  ... as the real isolationtester says");
    }
}
# A warning goes to stderr and the run goes on (here to a connection that fails).
($st, $out, $err) = run_cmd_stdin("session s1\nstep a {}\nstep b {}\npermutation a\n", $tester, $nowhere);
is($out, "Parsed test spec with 1 sessions\n", 'an unused step: the spec is still run');
like($err, qr/\Aunused step name: b\nConnection 0 failed: .*nonexistent/s, 'after a warning on stderr');
is($st, 1, 'and a failed connection exits 1');

# Mutations of specs — the suite's own when it is there, and pgrace's
# (t/pgxs) — the same for both testers: stdout, stderr and exit status
# (seeded: the same cases every run).
SKIP: {
    skip 'no real isolationtester to compare with', 1 unless $real;
    my @specs = (glob("$suite/specs/*.spec"), glob('t/pgxs/specs/*.spec'));
    my @tokens = ('setup', 'teardown', 'session', 'step', 'permutation', 'notices', '(', ')', ',', '*', '{', '}',
                  '"', '"x"', '""', '#', "\n", ' ', '12', '@', '[', '$', "\r", 's1', '{ x }', '(*)', '"a""b"');
    srand(80);
    my ($n, @differ) = (sanitized_cases());
    for my $i (1 .. $n) {
        my $text = do { local $/; open my $f, '<', $specs[int rand @specs] or die; <$f> };
        for (1 .. 1 + int rand 3) {
            my $pos = int rand(length($text) + 1);
            my $op = rand;
            if ($op < 0.35) { substr($text, $pos, 1 + int rand 5) = '' if $pos < length $text }
            elsif ($op < 0.8) { substr($text, $pos, 0) = $tokens[int rand @tokens] }
            else { $text = substr($text, 0, $pos) }
        }
        my @a = run_cmd_stdin($text, $real, $nowhere);
        my @b = run_cmd_stdin($text, $tester, $nowhere);
        push @differ, $text if "@a" ne "@b";
    }
    ok(!@differ, "$n mutated specs: the same stdout, stderr and exit status as isolationtester")
        or diag('first that differs: ' . $differ[0]);
}

# ---- running: the step timeout cancels (PGISOLATIONTIMEOUT), as isolationtester does
my $dsn = "dbname=$ENV{PGDATABASE}";
my $blocking = <<'SPEC';
setup { CREATE TABLE t80 (i int); INSERT INTO t80 VALUES (1); }
teardown { DROP TABLE t80; }
session s1
step s1lock { BEGIN; UPDATE t80 SET i = 2; }
step s1c { COMMIT; }
session s2
step s2lock { UPDATE t80 SET i = 3; }
step s2after { SELECT 1 AS after; }
permutation s1lock s2lock s2after s1c
SPEC
{
    local $ENV{PGISOLATIONTIMEOUT} = 1;
    ($st, $out, $err) = run_cmd_stdin($blocking, $tester, $dsn);
    like($out, qr/step s2lock: UPDATE t80 SET i = 3; <waiting \.\.\.>\nisolationtester: canceling step s2lock after 1 seconds\nstep s2lock: <\.\.\. completed>\nERROR:  canceling statement due to user request\n/,
         'a step that can never complete is canceled after PGISOLATIONTIMEOUT');
    is($st, 0, 'and the run goes on to the end');
    if ($real) {
        my @r = run_cmd_stdin($blocking, $real, $dsn);
        is_deeply([$st, $out, $err], [@r], '  ... exactly as the real isolationtester');
    }
}
# A step held back by a marker while its session must go on: given up at
# twice the timeout, with isolationtester's two lines (pgrace waits on the
# sessions' sockets where isolationtester spins).
{
    local $ENV{PGISOLATIONTIMEOUT} = 1;
    my $held = "session s1\nstep a { SELECT 1 AS a; }\nstep a2 { SELECT 2 AS a2; }\nsession s2\nstep b { SELECT 3 AS b; }\n"
             . "permutation a(b notices 1) a2 b\n";
    ($st, $out, $err) = run_cmd_stdin($held, $tester, $dsn);
    is_deeply([$st, $err], [1, "step a timed out after 2 seconds\nactive steps are: a\n"],
              'a step held back for good: given up at twice PGISOLATIONTIMEOUT, exit 1');
    if ($real) {
        my @r = run_cmd_stdin($held, $real, $dsn);
        is_deeply([$st, $out, $err], [@r], '  ... exactly as the real isolationtester');
    }
}
# Markers that can never be satisfied: isolationtester's message, exit 1.
my $stuck = "session s1\nstep a { SELECT 1; }\nsession s2\nstep b { SELECT 2; }\npermutation a(b notices 1) b\n";
($st, $out, $err) = run_cmd_stdin($stuck, $tester, $dsn);
is_deeply([$st, $err], [1, "failed to complete permutation due to mutually-blocking steps\n"],
          'steps held back forever by markers: isolationtester\'s message, exit 1');
if ($real) {
    my @r = run_cmd_stdin($stuck, $real, $dsn);
    is_deeply([$st, $out, $err], [@r], '  ... exactly as the real isolationtester');
}

done_testing();

# How many mutated specs to try: fewer under the sanitizers, which run the
# same parser slower.
sub sanitized_cases { Pgrace::sanitized() ? 40 : 200 }
