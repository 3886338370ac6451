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
    [ [qw(exec --pooler pgbouncer:statement -- true)], qr/bad --pooler 'pgbouncer:statement'/ ],
    [ [qw(replay)],                              qr/usage: pgrace replay REPORT.json/ ],
    [ [qw(replay /nonexistent.json --times 0)],  qr/bad --times '0'/ ],
    [ [qw(replay /nonexistent.json)],            qr/cannot read report/ ],
    # exec: the command, its workers, its SQL files, its options (the SQL's
    # own errors, which need a server, are t/86-exec.t's)
    [ [qw(exec)],                                qr/exec needs a command: pgrace exec \[options\] -- CMD/ ],
    [ [qw(exec --)],                             qr/exec needs a command/ ],
    [ [ 'exec', '--', '' ],                      qr/exec needs a command/ ],
    [ [qw(exec -n 2 true)],                      qr/unexpected 'true' \(the command goes after --\)/ ],
    [ [qw(exec -n 0 -- true)],                   qr/bad -n '0': expected a whole number from 1 to 64/ ],
    [ [qw(exec -n 65 -- true)],                  qr/bad -n '65'/ ],
    [ [qw(exec --explore -n 4 -- true)],         qr/--explore explores 2 or 3 workers/ ],
    [ [qw(exec -- /nonexistent/program)],        qr/exec: command not found: \/nonexistent\/program/ ],
    [ [qw(exec --setup /nonexistent.sql -- true)], qr/cannot read --setup \/nonexistent.sql: No such file/ ],
    [ [qw(exec --check x=/nonexistent.sql -- true)], qr/cannot read --check x=\/nonexistent.sql/ ],
    [ [qw(exec --check x=/tmp -- true)],         qr/cannot read --check x=\/tmp: Is a directory/ ],
    [ [qw(exec --check x=/dev/null -- true)],    qr/--check x=\/dev\/null: the file is empty/ ],
    [ [qw(exec --check Bad=f.sql -- true)],      qr/bad --check 'Bad=f.sql': expected NAME=FILE.sql/ ],
    [ [qw(exec --check f.sql -- true)],          qr/bad --check 'f.sql'/ ],
    [ [qw(exec --check a=x.sql --check a=y.sql -- true)], qr/--check a is given twice/ ],
    [ [qw(exec --check answered=x.sql -- true)], qr/answered is the name of exec's own invariant/ ],
    [ [qw(exec --fault bogus -- true)],          qr/bad fault rule at "bogus": unknown target/ ],
    [ [qw(exec --plan commit-error -- true)],    qr/exec's only plan is sweep/ ],
    [ [qw(exec --plan sweep --fault commit -- true)], qr/--fault and --plan sweep cannot be combined/ ],
    [ [qw(exec --plan sweep -i 3 -- true)],      qr/-i does not apply/ ],
    [ [qw(exec --explore --plan sweep -- true)], qr/--explore does not combine with --plan sweep/ ],
    [ [qw(exec --faults -- true)],               qr/--faults, --preemptions, --max-schedules and --no-yield are --explore's/ ],
    [ [qw(exec --no-yield -- true)],             qr/--faults, --preemptions, --max-schedules and --no-yield are --explore's/ ],
    [ [qw(exec --schedule s=12 -- true)],        qr/--schedule replays a schedule of -n workers: give -n/ ],
    [ [qw(exec -n 2 --schedule s=13 -- true)],   qr/bad schedule 's=13': workers are 1..2 \(with -n 2\)/ ],
    [ [qw(exec -n 2 --schedule s=12;h=xyz -- true)], qr/;h= takes the statements' digest/ ],
    [ [qw(exec --fail-on 0 -- true)],            qr/bad --fail-on '0': expected exit statuses from 1 to 255/ ],
    [ [qw(exec --fail-on 9-3 -- true)],          qr/bad --fail-on '9-3'/ ],
    [ [qw(exec --retries 1 -- true)],            qr/bad option '--retries'/ ],
    [ [qw(exec --impl no-tx -- true)],           qr/--impl names a scenario's variant/ ],
    [ [qw(exec --call-timeout 10 -- true)],      qr/bad --call-timeout '10'/ ],
    [ [qw(exec --json /nonexistent/dir/r.json -- true)], qr{cannot write report /nonexistent/dir/r.json} ],
    [ [qw(exec --oracle serial-please -- true)], qr/bad --oracle 'serial-please': serial .* or serial-only/ ],
    [ [qw(exec --oracle-table t -- true)],       qr/--oracle-column, --oracle-table and --oracle-mask .* need --oracle serial/ ],
    [ [qw(exec --oracle serial-only --check a=x.sql -- true)], qr/--oracle serial-only judges by the oracle alone: drop --check/ ],
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
for my $cmd ([qw(run attestation --pooler pgbouncer)], [qw(spec /nonexistent.spec --pooler pgbouncer)],
             [qw(exec --pooler pgbouncer -- true)]) {
    local $ENV{PGRACE_PGBOUNCER} = '/nonexistent/pgbouncer';
    my ($st, $out, $err) = run_cmd(pgrace(), @$cmd);
    is($st, 2, "$cmd->[0] --pooler without pgbouncer: exit 2");
    like($err, qr/^pgrace: PGRACE_PGBOUNCER=\/nonexistent\/pgbouncer is not an executable; install the Debian package pgbouncer\n\z/,
         '  one line naming the package');
}

done_testing();
