#!/usr/bin/perl
# The command line: list, and every bad input gets one line and exit 2.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Pgrace qw(pgrace run_cmd);

my ($st, $out, $err) = run_cmd(pgrace(), 'list');
is($st, 0, 'list exits 0');
like($out, qr/^attestation\b/m, 'list shows the attestation scenario');
like($out, qr/^\s+no-lock\s/m, 'list shows the no-lock variant');
like($out, qr/^\s+no-tx\s/m, 'list shows the no-tx variant');
like($out, qr/exactly one credential per record/, 'list shows invariants');
like($out, qr/after-guard/, 'list shows pause points');

# Each case: arguments, and what the one line must say.
my @bad = (
    [ [qw(run nosuch)],                         qr/unknown scenario 'nosuch'/ ],
    [ [qw(run attestation/nosuch)],             qr/no variant 'nosuch'/ ],
    [ [qw(run attestation --impl bogus)],       qr/no variant 'bogus'/ ],
    [ [qw(run attestation -n 0)],               qr/bad -n '0'/ ],
    [ [qw(run attestation -n 9999)],            qr/bad -n '9999'/ ],
    [ [qw(run attestation -n x)],               qr/bad -n 'x'/ ],
    [ [qw(run attestation -i -3)],              qr/bad -i '-3'/ ],
    [ [qw(run attestation --seed abc)],         qr/bad --seed 'abc'/ ],
    [ [qw(run attestation --pause nonsense)],   qr/bad --pause 'nonsense'/ ],
    [ [qw(run attestation --pause after-guard=soon)], qr/not a duration/ ],
    [ [qw(run attestation --params nonsense)],  qr/bad --params 'nonsense'/ ],
    [ [qw(run attestation --bogus)],            qr/bad option '--bogus'/ ],
    [ [qw(frobnicate)],                         qr/unknown command 'frobnicate'/ ],
    [ [qw(run attestation --dsn), 'host=/nonexistent/socketdir port=1 connect_timeout=2'],
                                                qr/cannot connect/ ],
    [ [qw(run attestation --dsn), 'host=127.0.0.1 port=1 connect_timeout=2'],
                                                qr/cannot connect/ ],
    [ [qw(run attestation --dsn), "host='unterminated"], qr/bad DSN/ ],
    [ [qw(cluster -- /nonexistent/program)],    qr/command not found|cannot start/ ],
    # Accepted-but-ignored and silently clamped inputs are errors instead.
    [ [qw(run attestation --pause nosuch=5ms)],  qr/scenario attestation has no pause point 'nosuch' \(its points: before-tx, after-guard\)/ ],
    [ [qw(run envmerge --pause after-guard=5ms)], qr/envmerge has no pause point 'after-guard' \(its points: before-read, after-read, holding\)/ ],
    [ [qw(run attestation --pause after-guard=5)], qr/'5' is not a duration/ ],
    [ [qw(run attestation --pause after-guard=2h)], qr/not a duration of at most 1h/ ],
    [ [qw(run attestation --call-timeout 10)],   qr/bad --call-timeout '10': expected a duration/ ],
    [ [qw(run attestation --call-timeout 0s)],   qr/bad --call-timeout '0s'/ ],
    [ [qw(run attestation --fault-sweep --fault commit)], qr/--fault and --fault-sweep cannot be combined/ ],
    [ [qw(run attestation --fault-sweep -i 5)],  qr/a fault sweep numbers and counts its own iterations/ ],
    [ [qw(run attestation --plan sweep --from-iteration 4)], qr/plan sweep is a fault sweep/ ],
    [ [qw(run attestation --plan commit-error --fault stmt)], qr/plan commit-error brings its own faults/ ],
    [ [qw(run attestation --plan nosuch)],       qr/scenario attestation has no plan 'nosuch'/ ],
    [ [qw(run attestation --failfast=nosuch)],
      qr/scenario attestation has no invariant 'nosuch' \(--failfast=ID takes one of: one-credential, .*, deadline, connection\)/ ],
    [ [ 'run', 'attestation', '--failfast=exactly one credential per record' ],
      qr/scenario attestation has no invariant 'exactly one credential per record' \(--failfast=ID/ ],
    [ [qw(run attestation --failfast=)],         qr/bad --failfast=: name an invariant by its id/ ],
    [ [qw(run attestation --retries 11)],        qr/bad --retries '11'/ ],
    [ [qw(run attestation --seed 18446744073709551616)], qr/bad --seed '18446744073709551616'/ ],
    [ [qw(run attestation --fault), 'stmt:delay=5'], qr/expected a duration/ ],
    [ [qw(run attestation --fault), 'bogus'],    qr/unknown target/ ],
    [ [qw(run attestation --json /nonexistent/dir/r.json)], qr{cannot write report /nonexistent/dir/r.json} ],
    [ [qw(list --bogus)],                        qr/bad option '--bogus' for list/ ],
    [ [qw(soak attestation)],                    qr/soak needs --duration D or -i N/ ],
    [ [qw(soak attestation --duration 30)],      qr/bad --duration '30': expected a duration/ ],
    [ [qw(soak attestation -i 5 --max-workers 0)], qr/bad --max-workers '0'/ ],
    [ [qw(soak attestation -i 5 -n 4)],          qr/bad option '-n'/ ],
    [ [qw(run attestation --pooler pgpool)],     qr/bad --pooler 'pgpool': pgbouncer \(transaction pooling\), pgbouncer:transaction or pgbouncer:session/ ],
    [ [qw(run attestation --pooler pgbouncer:statement)], qr/bad --pooler 'pgbouncer:statement'/ ],
    [ [qw(explore attestation --pooler session)], qr/bad --pooler 'session'/ ],
    [ [qw(soak attestation -i 5 --pooler PGBOUNCER)], qr/bad --pooler 'PGBOUNCER'/ ],
    [ [qw(spec /nonexistent.spec --pooler pgbouncer:)], qr/bad --pooler 'pgbouncer:'/ ],
    [ [qw(replay)],                              qr/usage: pgrace replay REPORT.json/ ],
    [ [qw(replay /nonexistent.json --times 0)],  qr/bad --times '0'/ ],
    [ [qw(replay /nonexistent.json)],            qr/cannot read report/ ],
);
for my $case (@bad) {
    my ($args, $want) = @$case;
    my ($st, $out, $err) = run_cmd(pgrace(), @$args);
    my $name = join ' ', @$args;
    is($st, 2, "'$name' exits 2");
    like($err, $want, "'$name' says why");
    is(($err =~ tr/\n//), 1, "'$name' is one line on stderr");
    unlike($out, qr/^ok /m, "'$name' runs nothing");
}

# --pooler without pgbouncer: one line naming the Debian package, before
# anything starts ($PGRACE_PGBOUNCER is where pgrace looks first).
for my $cmd ([qw(run attestation)], [qw(spec /nonexistent.spec)]) {
    local $ENV{PGRACE_PGBOUNCER} = '/nonexistent/pgbouncer';
    my ($st, $out, $err) = run_cmd(pgrace(), @$cmd, qw(--pooler pgbouncer));
    is($st, 2, "$cmd->[0] --pooler without pgbouncer: exit 2");
    like($err, qr/^pgrace: PGRACE_PGBOUNCER=\/nonexistent\/pgbouncer is not an executable; install the Debian package pgbouncer\n\z/,
         '  one line naming the package');
}

done_testing();
