#!/usr/bin/perl
# The fault shim preloaded into third-party libpq clients — psql, pgbench,
# Python psycopg2 and psycopg 3 (sync and asyncio; libpq by dlopen through
# ctypes), a C program that dlopens libpq, Perl DBD::Pg — against a real
# throwaway cluster: the injected failures look real to each of them.
# The file re-runs itself under the cluster launcher (one cluster for all).
# Skipped in sanitizer builds: an instrumented shim cannot be preloaded into
# these uninstrumented programs (t/30-shim-count.t covers the shim there).
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Temp ();
use JSON::PP ();
use POSIX ();
use Test::More;

my $BUILD = $ENV{PGRACE_BUILD} // 'build';
my $SAN = $BUILD ne 'build' || $ENV{PGRACE_TSAN};
my @CLUSTER = split ' ', ($ENV{PGF_CLUSTER} // "$BUILD/pgrace cluster --");

if (!$ENV{PGF_IN_CLUSTER}) {
    plan skip_all => 'sanitizer build: the shim cannot be preloaded into uninstrumented clients' if $SAN;
    $ENV{PGF_IN_CLUSTER} = 1;
    exec @CLUSTER, $^X, $0 or BAIL_OUT("cannot run @CLUSTER: $!");
}

my $SO = abs_path("$BUILD/libpgfault.so") // BAIL_OUT("no $BUILD/libpgfault.so");
my $PY = '/usr/bin/python3'; # Debian's psycopg packages are for this one

# Run @cmd with %$env added (undef deletes) and $stdin; return (status, stdout, stderr).
sub run_cmd {
    my ($env, $stdin, @cmd) = @_;
    my ($i, $o, $e) = (File::Temp->new, File::Temp->new, File::Temp->new);
    print $i $stdin // '';
    close $i;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        while (my ($k, $v) = each %$env) { defined $v ? ($ENV{$k} = $v) : delete $ENV{$k} }
        open STDIN, '<', $i->filename;
        open STDOUT, '>', $o->filename;
        open STDERR, '>', $e->filename;
        exec @cmd or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    my $st = $? & 127 ? 128 + ($? & 127) : $? >> 8;
    local $/;
    return ($st, scalar readline($o), scalar readline($e));
}

sub shim { my ($spec, %more) = @_; return {LD_PRELOAD => $SO, PGFAULT => $spec, %more} }

sub sql {
    my ($q) = @_;
    my ($st, $out, $err) = run_cmd({}, undef, 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', $q);
    BAIL_OUT("psql -c '$q': $err") if $st;
    chomp $out;
    return $out;
}

sql('CREATE TABLE pgf_rows (id int PRIMARY KEY)');

# --- psql ---------------------------------------------------------------------
{
    my ($st, $out, $err) = run_cmd(shim('sql=/^insert/:error=40001'), "\\set VERBOSITY verbose\nINSERT INTO pgf_rows VALUES (1);\n",
                                   'psql', '-X');
    like($err, qr/^ERROR:  40001: could not serialize access due to concurrent update$/m,
         'psql: injected SQLSTATE and message in verbose output');
    like($err, qr/^HINT:  injected by pgfault$/m, 'psql: the hint marks the injection');
    is(sql('SELECT count(*) FROM pgf_rows WHERE id = 1'), 0, 'psql: the failed INSERT left no row');

    ($st, $out, $err) = run_cmd(shim('commit:error=40001'),
        "\\set VERBOSITY verbose\nBEGIN;\nINSERT INTO pgf_rows VALUES (2);\nCOMMIT;\nSELECT 'status=' || count(*) FROM pgf_rows WHERE id = 2;\n",
        'psql', '-X', '-At');
    like($err, qr/ERROR:  40001:/, 'psql: COMMIT fails with 40001');
    like($out, qr/^status=0$/m, 'psql: the session itself sees the row gone after the failed COMMIT');
    is(sql('SELECT count(*) FROM pgf_rows WHERE id = 2'), 0, 'psql: failed COMMIT rolled back');

    ($st, $out, $err) = run_cmd(shim('commit:drop'), "BEGIN;\nINSERT INTO pgf_rows VALUES (3);\nCOMMIT;\n", 'psql', '-X');
    is($st, 2, 'psql: drop -> exit status 2');
    like($err, qr/connection to server was lost/, 'psql: drop -> lost connection reported');
    is(sql('SELECT count(*) FROM pgf_rows WHERE id = 3'), 0, 'psql: dropped transaction rolled back');

    ($st, $out, $err) = run_cmd(shim('commit:ambiguous'), "BEGIN;\nINSERT INTO pgf_rows VALUES (4);\nCOMMIT;\n", 'psql', '-X');
    ok($st != 0 && $err =~ /connection to server was lost/, 'psql: ambiguous COMMIT -> client sees a failure');
    is(sql('SELECT count(*) FROM pgf_rows WHERE id = 4'), 1, 'psql: ... but the row IS committed');
}

# --- pgbench --------------------------------------------------------------------
{
    my ($st, $out, $err) = run_cmd({}, undef, 'pgbench', '-i', '-q', '-s', '1');
    is($st, 0, 'pgbench -i') or diag $err;
    my $log = File::Temp->new;
    ($st, $out, $err) = run_cmd(shim('commit:when=5+5:error=40001', PGFAULT_LOG => $log->filename), undef,
                                'pgbench', '-n', '-c', '2', '-t', '20', '--failures-detailed');
    is($st, 0, 'pgbench under a COMMIT fault every 5th transaction') or diag "$out$err";
    my ($failed) = $out =~ /^number of failed transactions: (\d+)/m;
    my ($serial) = $out =~ /^number of serialization failures: (\d+)/m;
    is($failed, 8, 'pgbench reports 8 failed transactions (2 clients x END 5,10,15,20)') or diag $out;
    is($serial, 8, 'pgbench: all of them serialization failures');
    open my $fh, '<', $log->filename or die;
    my @lines = <$fh>;
    is(scalar @lines, $failed // -1, 'PGFAULT_LOG has one line per failure pgbench saw');
    my @ev = map { eval { JSON::PP::decode_json($_) } } @lines;
    my @wrong = grep { $_->{action} ne 'error=40001' || $_->{sql} !~ /^END/ || $_->{rule} != 1
                       || $_->{rule_text} ne 'commit:when=5+5:error=40001' || !$_->{pid} || !$_->{conn}
                       || !$_->{stmt} || !$_->{tid} || $_->{time} !~ /^\d{4}-/ } @ev;
    ok(@ev == @lines && !@wrong,
       'PGFAULT_LOG lines are JSON with time, pid, tid, conn, stmt, rule, action and sql') or diag @lines;
}

# --- Python: psycopg2, psycopg 3 sync and async ----------------------------------------
# psycopg2 links libpq; psycopg 3's pure-Python binding (Debian's, the only
# one installed) dlopens it with ctypes and calls it by handle, which the
# shim's dlopen answers (faults/dl.c). The script is what an application
# would write: nothing in it knows about the shim.
my $PYSCRIPT = <<'PYEOF';
import asyncio, importlib, inspect, sys
name, mode = sys.argv[1], sys.argv[2]
use_async = name == "psycopg-async"
lib = importlib.import_module("psycopg" if use_async else name)
importlib.import_module(lib.__name__ + ".errors")
if lib.__name__ == "psycopg":
    print("impl=" + lib.pq.__impl__)

async def call(f, *args):
    r = f(*args)
    return (await r) if inspect.isawaitable(r) else r

# "Class/SQLSTATE" of the exception f raises, "none" if it returns; a lost
# connection is marked "lost".
async def exc(f, *args):
    try:
        await call(f, *args)
        return "none"
    except Exception as e:
        code = getattr(e, "sqlstate", None) or getattr(e, "pgcode", None)
        lost = "/lost" if "server closed the connection unexpectedly" in str(e) else ""
        return type(e).__name__ + ("/" + code if code else "") + lost

async def main():
    conn = await lib.AsyncConnection.connect("") if use_async else lib.connect("")
    cur = conn.cursor()
    if mode == "errors":
        for tag in ("ser", "dl", "uv"):
            print("%s=%s" % (tag, await exc(cur.execute, "SELECT 1 /* pgf-%s */" % tag)))
            await call(conn.rollback)
        await call(cur.execute, "SELECT 1")  # opens the transaction block
        print("intx=" + await exc(cur.execute, "SELECT 1 /* pgf-ser */"))
        print("next=" + await exc(cur.execute, "SELECT 2"))
        await call(conn.rollback)
    elif mode == "commit":
        await call(cur.execute, "INSERT INTO pgf_rows VALUES (%s)", (int(sys.argv[3]),))
        print("commit=" + await exc(conn.commit))
    elif mode == "drop":
        print("drop=" + await exc(cur.execute, "SELECT 1 /* pgf-drop */"))
        print("closed=%d" % bool(conn.closed))
    await call(conn.close)

asyncio.run(main())
PYEOF

my $id = 100;
for my $lib ('psycopg2', 'psycopg', 'psycopg-async') {
    my ($st, $out, $err) = run_cmd(shim('sql=/pgf-ser/:when=1+:error=40001;sql=/pgf-dl/:when=1+:error=40P01;'
                                        . 'sql=/pgf-uv/:when=1+:error=23505'),
                                   undef, $PY, '-c', $PYSCRIPT, $lib, 'errors');
    is($st, 0, "$lib: script ran") or diag $err;
    like($out, qr/^impl=python$/m, "$lib: the ctypes binding, libpq by dlopen") if $lib ne 'psycopg2';
    like($out, qr{^ser=SerializationFailure/40001$}m, "$lib: injected 40001 raises SerializationFailure, sqlstate 40001")
        or diag $out;
    like($out, qr{^dl=DeadlockDetected/40P01$}m, "$lib: injected 40P01 raises DeadlockDetected, sqlstate 40P01");
    like($out, qr{^uv=UniqueViolation/23505$}m, "$lib: injected 23505 raises UniqueViolation, sqlstate 23505");
    like($out, qr{^intx=SerializationFailure/40001\nnext=InFailedSqlTransaction/25P02$}m,
         "$lib: after an injected error in a block the next statement raises InFailedSqlTransaction");

    $id++;
    ($st, $out, $err) = run_cmd(shim('commit:error=40001'), undef, $PY, '-c', $PYSCRIPT, $lib, 'commit', $id);
    like($out, qr{^commit=SerializationFailure/40001$}m, "$lib: failed COMMIT raises SerializationFailure") or diag $err;
    is(sql("SELECT count(*) FROM pgf_rows WHERE id = $id"), 0, "$lib: ... and nothing is committed (psql)");

    ($st, $out, $err) = run_cmd(shim('sql=/pgf-drop/:drop'), undef, $PY, '-c', $PYSCRIPT, $lib, 'drop');
    like($out, qr{^drop=OperationalError/lost\nclosed=1$}m,
         "$lib: drop raises OperationalError (server closed the connection) and the connection is closed")
        or diag "$out$err";

    $id++;
    ($st, $out, $err) = run_cmd(shim('commit:ambiguous'), undef, $PY, '-c', $PYSCRIPT, $lib, 'commit', $id);
    like($out, qr{^commit=OperationalError/lost$}m, "$lib: ambiguous COMMIT raises OperationalError") or diag "$out$err";
    is(sql("SELECT count(*) FROM pgf_rows WHERE id = $id"), 1, "$lib: ... but the row IS committed (psql)");
}

# --- C: libpq by dlopen and dlsym, as FFI bindings call it ------------------------
{
    my ($st, $out, $err) = run_cmd(shim('sql=/pgf-dl/:when=1+:error=40001'), undef, "$BUILD/t/dlopen_client");
    is($st, 0, 'dlopen client: every point passed') or diag "$out$err";
    my @points = $out =~ /^((?:not )?ok \d+ - .*)$/mg;
    ok(@points >= 40 && $out =~ /^1\.\.\d+$/m, 'dlopen client ran its plan (' . scalar(@points) . ' points)');
    diag $_ for grep { /^not ok/ } @points;
    like($out, qr/^ok \d+ - soname libpq\.so\.5: PQsendQueryParams through the handle gets the injected 40001/m,
         'dlopen client: dlopen("libpq.so.5") + dlsym reaches the shim');
    like($out, qr{^ok \d+ - /\S+/libpq\.so\.5\.\d+: PQexec through the handle gets the injected 40001}m,
         'dlopen client: dlopen by absolute (real) path + dlsym reaches the shim');
}

# --- programs that never touch libpq: the caller's search path survives ----------
# glibc searches a bare name along the *calling* object's RUNPATH and expands
# $ORIGIN relative to it; faults/dl.c passes such requests on as a tail call
# so that the caller stays the program's.
SKIP: {
    my $dir = File::Temp->newdir;
    my $d = $dir->dirname;
    mkdir "$d/lib" and mkdir "$d/bin" or die "mkdir: $!";
    open my $fh, '>', "$d/probe.c" or die;
    print $fh "int pgf_probe(void) { return 42; }\n";
    close $fh;
    open $fh, '>', "$d/main.c" or die;
    print $fh <<'CEOF';
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv)
{
    void *h = argc > 1 ? dlopen(argv[1], RTLD_NOW) : NULL;
    int (*f)(void) = h ? (int (*)(void))dlsym(h, "pgf_probe") : NULL;
    if (!f) { printf("dlopen: %s\n", dlerror()); return 1; }
    printf("probe=%d\n", f());
    return 0;
}
CEOF
    close $fh;
    my $cc = $ENV{CC} // 'cc';
    system($cc, '-shared', '-fPIC', '-o', "$d/lib/libpgf_probe.so", "$d/probe.c") == 0
        && system($cc, '-o', "$d/bin/runpath", "$d/main.c", '-ldl', "-Wl,--enable-new-dtags,-rpath,$d/lib") == 0
        && system($cc, '-o', "$d/bin/plain", "$d/main.c", '-ldl') == 0
        or skip "cannot compile with $cc", 3;
    my ($st, $out) = run_cmd({}, undef, "$d/bin/plain", 'libpgf_probe.so');
    isnt($st, 0, 'control: without RUNPATH the probe library is not found');
    ($st, $out) = run_cmd(shim('stmt:error=40001'), undef, "$d/bin/runpath", 'libpgf_probe.so');
    is($out, "probe=42\n", "under the shim, dlopen of a bare name still searches the caller's RUNPATH");
    ($st, $out) = run_cmd(shim('stmt:error=40001'), undef, "$d/bin/plain", '$ORIGIN/../lib/libpgf_probe.so');
    is($out, "probe=42\n", "under the shim, \$ORIGIN still expands to the caller's directory");
}

# --- Perl DBD::Pg ---------------------------------------------------------------
{
    my $pl = <<'PLEOF';
use DBI;
my $dbh = DBI->connect('dbi:Pg:', undef, undef, {RaiseError => 0, PrintError => 0, AutoCommit => 1}) or die DBI->errstr;
$dbh->do('SELECT 1 /* pgf-ser */');
print 'do=', $dbh->state, "\n";
my $sth = $dbh->prepare('SELECT ?::int /* pgf-dl */');
$sth->execute(1);
print 'prepared=', $dbh->state, "\n";
$dbh->disconnect;
PLEOF
    my ($st, $out, $err) = run_cmd(shim('sql=/pgf-ser/:when=1+:error=40001;sql=/pgf-dl/:when=1+:error=40P01'),
                                   undef, $^X, '-e', $pl);
    like($out, qr/^do=40001$/m, 'DBD::Pg: $dbh->state is the injected SQLSTATE') or diag "$out$err";
    like($out, qr/^prepared=40P01$/m, 'DBD::Pg: ... also for a prepared statement');
}

done_testing();
