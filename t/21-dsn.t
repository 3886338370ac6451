#!/usr/bin/perl
# --dsn and the PG* environment: pgrace works inside a schema of its own on
# a user's server, drops it at the end (held, violated, or interrupted), and
# writes nothing outside it.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use POSIX qw(WIFEXITED WEXITSTATUS WTERMSIG);
use Time::HiRes qw(sleep);
use Pgrace qw(pgrace run_cmd under_cluster dsn_from_env psql_value);

under_cluster();

# Everything a user's database holds outside the system schemas.
my $snapshot_sql = q{
    SELECT coalesce(string_agg(n.nspname || '.' || coalesce(c.relname, '-'), ',' ORDER BY 1), '')
    FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid
    WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'};

# A user's own table, which must come through untouched.
psql_value('CREATE TABLE public.users_own (id int PRIMARY KEY, v text); '
         . "INSERT INTO public.users_own VALUES (1, 'mine'); SELECT 1");
my $before = psql_value($snapshot_sql);
my $dsn = dsn_from_env();

my ($st, $out, $err) = run_cmd(pgrace(), qw(run attestation -i 30 --dsn), $dsn);
is($st, 0, '--dsn: fixed holds') or diag $out, $err;
unlike($out, qr/\(embedded\)/, '--dsn: did not start an embedded cluster');
is(psql_value($snapshot_sql), $before, '--dsn: nothing left behind after a run that held');

($st, $out) = run_cmd(pgrace(), qw(run attestation --impl no-lock -i 30 --dsn), $dsn);
is($st, 1, '--dsn: no-lock is caught');
is(psql_value($snapshot_sql), $before, '--dsn: nothing left behind after a violation');

{
    # PG* variables alone select the server too.
    ($st, $out) = run_cmd(pgrace(), qw(run attestation -i 10));
    is($st, 0, 'PG* environment: fixed holds');
    unlike($out, qr/\(embedded\)/, 'PG* environment: used the given server');
    is(psql_value($snapshot_sql), $before, 'PG* environment: nothing left behind');
}

# SIGINT and SIGTERM mid-run: once every worker is connected and running,
# interrupt; the schema must go, with the workers' locks.
for my $sig (qw(INT TERM)) {
    pipe(my $r, my $w) or die;
    my $pid = fork() // die;
    if ($pid == 0) {
        close $r;
        open STDOUT, '>&', $w or die;
        open STDERR, '>&', $w or die;
        exec pgrace(), qw(run attestation -n 4 -i 100000000 --pause after-guard=1ms --dsn), $dsn
            or POSIX::_exit(127);
    }
    close $w;
    my $workers = 0;
    for (1 .. 2000) {     # waits for a condition; gives up after ~20s
        $workers = psql_value(q{SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgrace/%/w%'});
        last if $workers == 4;
        sleep 0.01;
    }
    is($workers, 4, "SIG$sig: all four workers were running");
    like(psql_value(q{SELECT string_agg(nspname, ',') FROM pg_namespace WHERE nspname LIKE 'pgrace\_%'}),
         qr/^pgrace_\d+_\d+$/, "SIG$sig: the run's schema exists while it runs");
    kill $sig, $pid;
    waitpid($pid, 0);
    my $status = $? & 127 ? 128 + ($? & 127) : $? >> 8;
    my $output = do { local $/; <$r> };
    is($status, $sig eq 'INT' ? 130 : 143, "SIG$sig: exit status 128+signal");
    like($output, qr/interrupted by SIG$sig; cleaned up/, "SIG$sig: says so in one line");
    is(psql_value($snapshot_sql), $before, "SIG$sig: schema dropped, nothing left behind");
    is(psql_value(q{SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgrace/%'}), 0,
       "SIG$sig: no connection of the run left");
}

is(psql_value('SELECT v FROM public.users_own WHERE id = 1'), 'mine', "the user's own table is untouched");
done_testing();
