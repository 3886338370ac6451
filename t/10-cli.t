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

done_testing();
