#!/usr/bin/perl
# The embedded cluster never outlives pgrace: SIGINT or SIGTERM mid-run (and
# a normal end, and a setup error) leave no postgres process and no temp
# directory. TMPDIR points at a private directory so that "nothing left" can
# be checked exactly: a directory of pgrace's there (the cluster's pgrace.*,
# the pooler's pgrace-pool.*) or a process whose arguments name it (a
# server, pgbouncer) is a leftover. (--pooler's own SIGINT, error and kill
# cases are t/25-pooler.t's.)
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Temp qw(tempdir);
use Time::HiRes qw(sleep);
use Pgrace qw(pgrace run_cmd);

delete @ENV{qw(PGHOST PGPORT PGUSER PGDATABASE PGSERVICE PGHOSTADDR)};
my $tmp = tempdir(CLEANUP => 1);
chmod 0755, $tmp;    # the server's unprivileged user must reach its directory
$ENV{TMPDIR} = $tmp;

sub leftovers {
    opendir my $d, $tmp or die;
    my @left = grep { /^pgrace[.-]/ } readdir $d;
    return scalar @left;
}
sub servers { scalar grep { /\Q$tmp\E/ } `ps -eo args` }

my ($st, $out) = run_cmd(pgrace(), qw(run attestation -i 5));
is($st, 0, 'a normal run');
is(leftovers(), 0, 'normal end: temp directory removed');
is(servers(), 0, 'normal end: no server left');

($st, $out, my $err) = run_cmd(pgrace(), qw(cluster -- false));
is($st, 1, "cluster passes on its command's exit status");
is(leftovers(), 0, 'cluster: temp directory removed');

for my $sig (qw(INT TERM HUP)) {
    pipe(my $r, my $w) or die;
    my $pid = fork() // die;
    if ($pid == 0) {
        close $r;
        open STDOUT, '>&', $w or die;
        open STDERR, '>&', $w or die;
        exec pgrace(), qw(run attestation -n 4 -i 100000000 --pause after-guard=1ms)
            or POSIX::_exit(127);
    }
    close $w;
    # Mid-run: wait until the workers are connected to the embedded server,
    # which we find through its socket in our TMPDIR.
    my $workers = 0;
    for (1 .. 3000) {
        my ($sock) = glob("$tmp/pgrace.*/.s.PGSQL.5432");
        if ($sock) {
            (my $host = $sock) =~ s{/\.s\.PGSQL\.5432$}{};
            my $n = `psql -XAtq -h '$host' -U pgrace -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgrace/%/w%'" 2>/dev/null`;
            $workers = ($n // 0) + 0;
            last if $workers == 4;
        }
        sleep 0.01;
    }
    is($workers, 4, "SIG$sig: the run was under way (4 workers connected)");
    kill $sig, $pid;
    waitpid($pid, 0);
    my $status = $? & 127 ? 128 + ($? & 127) : $? >> 8;
    my %num = (INT => 2, TERM => 15, HUP => 1);
    is($status, 128 + $num{$sig}, "SIG$sig: exit status 128+$num{$sig}");
    is(leftovers(), 0, "SIG$sig: temp directory removed");
    is(servers(), 0, "SIG$sig: no postgres process left");
}

done_testing();
