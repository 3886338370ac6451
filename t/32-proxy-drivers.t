#!/usr/bin/perl
# pgrace proxy in front of drivers that never load libpq — asyncpg, pgJDBC,
# pgx, node-postgres — and psql/pgbench: each runs every case of the driver
# table in one process (t/clients/), through `pgrace proxy --listen
# 127.0.0.1:0 --fault RULES -- PROGRAM` on its own throwaway cluster, and
# says in its own terms what it raised. Every cell is checked, and the
# README's driver table must be exactly what the drivers said.
# The clients are built by `make` (build/t/clients: javac, go build in
# GOPATH mode against Debian's Go sources, npm ci of the pinned `pg`).
# Runs in the normal and the AddressSanitizer pass (the proxy is pgrace
# itself; the clients are uninstrumented programs of their own).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Pgrace qw(pgrace run_cmd);

my $CLIENTS = 'build/t/clients';
# Connection numbers are fixed: each program opens its connections one
# after another (t/clients/README.md).
my $RULES = join ';', 'sql=/pgf-ser/:when=1+:error=40001', 'sql=/pgf-dl/:when=1+:error=40P01',
    'sql=/pgf-uv/:when=1+:error=23505', 'sql=/pgf-pipe/:when=2:error=40001', 'commit:conn=2:error=40001',
    'sql=/pgf-drop/:drop', 'commit:conn=5:ambiguous', 'commit:conn=7:error=40001';

my @CASES = (
    [ser => 'injected 40001'], [dl => 'injected 40P01'], [uv => 'injected 23505'],
    [intx => 'injected 40001 in a transaction block'], [next => 'the next statement in that block'],
    [commit => 'a failed COMMIT'], [commit_rows => '... rows committed (a clean connection counts)'],
    [drop => 'drop'], [ambiguous => 'an ambiguous COMMIT'], [ambiguous_rows => '... rows committed'],
    [pipeline => '40001 on the 2nd of 3 Executes before one Sync'], [pipeline_rows => '... rows committed'],
    [multi => 'the COMMIT of `BEGIN; INSERT ...; COMMIT` sent as one string'], [multi_rows => '... rows committed'],
);

my $java = "java -cp $CLIENTS:/usr/share/java/postgresql.jar JdbcCases";
my @DRIVERS = (
    { name => 'asyncpg', cmd => ['/usr/bin/python3', 't/clients/asyncpg_cases.py'],
      need => '/usr/lib/python3/dist-packages/asyncpg',
      want => { ser => 'SerializationError/40001', dl => 'DeadlockDetectedError/40P01',
                uv => 'UniqueViolationError/23505', intx => 'SerializationError/40001',
                next => 'InFailedSQLTransactionError/25P02', commit => 'SerializationError/40001',
                drop => 'ConnectionDoesNotExistError/08003', ambiguous => 'ConnectionDoesNotExistError/08003',
                pipeline => 'SerializationError/40001', multi => 'SerializationError/40001' } },
    { name => 'pgJDBC', cmd => ['java', '-cp', "$CLIENTS:/usr/share/java/postgresql.jar", 'JdbcCases'],
      need => "$CLIENTS/JdbcCases.class",
      want => { ser => 'PSQLException/40001', dl => 'PSQLException/40P01', uv => 'PSQLException/23505',
                intx => 'PSQLException/40001', next => 'PSQLException/25P02', commit => 'PSQLException/40001',
                drop => 'PSQLException/08006', ambiguous => 'PSQLException/08006',
                pipeline => 'BatchUpdateException/40001(PSQLException/40001)', multi => 'PSQLException/40001' } },
    { name => 'pgx', cmd => ["$CLIENTS/pgx_cases"], need => "$CLIENTS/pgx_cases",
      want => { ser => '*pgconn.PgError/40001', dl => '*pgconn.PgError/40P01', uv => '*pgconn.PgError/23505',
                intx => '*pgconn.PgError/40001', next => '*pgconn.PgError/25P02',
                commit => '*pgconn.PgError/40001', drop => '*errors.errorString(unexpected EOF)',
                ambiguous => '*errors.errorString(unexpected EOF)', pipeline => '*pgconn.PgError/40001',
                multi => '*pgconn.PgError/40001' } },
    { name => 'node-postgres', cmd => ['env', "NODE_PATH=$CLIENTS/node/node_modules", 'node', 't/clients/node/cases.js'],
      need => "$CLIENTS/node/node_modules/pg",
      want => { ser => 'DatabaseError/40001', dl => 'DatabaseError/40P01', uv => 'DatabaseError/23505',
                intx => 'DatabaseError/40001', next => 'DatabaseError/25P02', commit => 'DatabaseError/40001',
                drop => 'Error(Connection terminated unexpectedly)',
                ambiguous => 'Error(Connection terminated unexpectedly)', pipeline => 'DatabaseError/40001',
                multi => 'DatabaseError/40001' } },
    { name => 'psql, pgbench', cmd => ['t/clients/psql_cases.sh'], need => '/usr/bin/psql',
      want => { ser => 'ERROR 40001', dl => 'ERROR 40P01', uv => 'ERROR 23505', intx => 'ERROR 40001',
                next => 'ERROR 25P02', commit => 'ERROR 40001', drop => 'lost', ambiguous => 'lost',
                pipeline => 'serialization failure', multi => 'ERROR 40001' } },
);
# Every driver: nothing committed by a failed COMMIT or a failed pipeline;
# the ambiguous COMMIT's row is there.
for my $d (@DRIVERS) { $d->{want}{$_->[0]} //= $_->[1] for [commit_rows => 0], [ambiguous_rows => 1], [pipeline_rows => 0], [multi_rows => 0] }

my %got;
for my $d (@DRIVERS) {
    SKIP: {
        skip "$d->{name}: $d->{need} is missing (make builds the clients; tools/deps installs the drivers)",
            scalar keys %{ $d->{want} } unless -e $d->{need};
        my ($st, $out, $err) = run_cmd(pgrace(), 'proxy', '--listen', '127.0.0.1:0', '--fault', $RULES, '--',
                                       @{ $d->{cmd} });
        is($st, 0, "$d->{name}: the program ran through the proxy") or diag "$out$err";
        my %v = $out =~ /^(\w+)=(.*)$/mg;
        $got{$d->{name}} = \%v;
        for my $c (@CASES) {
            next unless exists $d->{want}{$c->[0]};
            is($v{$c->[0]}, $d->{want}{$c->[0]}, "$d->{name}: $c->[1]");
        }
    }
}

# The README's table is what the drivers said.
SKIP: {
    skip 'a driver was skipped', 1 if keys %got < @DRIVERS;
    my $table = "| case | " . join(' | ', map { $_->{name} } @DRIVERS) . " |\n|---|"
        . join('', map { '---|' } @DRIVERS) . "\n";
    for my $c (@CASES) {
        $table .= "| $c->[1] | " . join(' | ', map { my $v = $got{$_->{name}}{$c->[0]};
                                                     defined $v ? "`$v`" : '—' } @DRIVERS) . " |\n";
    }
    open my $fh, '<', 'README.md' or die "README.md: $!";
    my $readme = do { local $/; <$fh> };
    my ($block) = $readme =~ /<!-- proxy driver table[^\n]*-->\n(.*?)<!-- end of the proxy driver table -->/s;
    is($block, $table, "README's driver table is what the drivers raised") or diag "expected:\n$table";
}

done_testing();
