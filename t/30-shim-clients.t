#!/usr/bin/perl
# The fault shim preloaded into third-party libpq clients — psql, pgbench,
# Python psycopg2 and psycopg 3, Perl DBD::Pg — against a real throwaway
# cluster: the injected failures look real to each of them.
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

# --- Python: psycopg2 and psycopg 3 -----------------------------------------------
my $PYSCRIPT = <<'PYEOF';
import importlib, os, sys
name, mode = sys.argv[1], sys.argv[2]
if name == "psycopg":
    # psycopg 3's pure-Python libpq binding looks libpq's functions up by
    # handle with ctypes, which bypasses LD_PRELOAD: point it at the shim,
    # which re-exports the rest of libpq (see faults/interpose.c).
    import ctypes.util
    _find = ctypes.util.find_library
    ctypes.util.find_library = lambda n: os.environ["PGF_SO"] if n == "pq" else _find(n)
lib = importlib.import_module(name)
errors = importlib.import_module(name + ".errors")

def exc(f):
    try:
        f()
        return "none"
    except Exception as e:
        return type(e).__name__

conn = lib.connect("")
cur = conn.cursor()
if mode == "errors":
    for tag in ("ser", "dl", "uv"):
        print("%s=%s" % (tag, exc(lambda: cur.execute("SELECT 1 /* pgf-%s */" % tag))))
        conn.rollback()
    cur.execute("SELECT 1")  # opens the transaction block
    print("intx=" + exc(lambda: cur.execute("SELECT 1 /* pgf-ser */")))
    print("next=" + exc(lambda: cur.execute("SELECT 2")))
    conn.rollback()
elif mode == "commit":
    cur.execute("INSERT INTO pgf_rows VALUES (%s)", (int(sys.argv[3]),))
    print("commit=" + exc(conn.commit))
    chk = lib.connect("")
    chk.autocommit = True
    c2 = chk.cursor()
    c2.execute("SELECT count(*) FROM pgf_rows WHERE id = %s", (int(sys.argv[3]),))
    print("rows=%d" % c2.fetchone()[0])
    chk.close()
elif mode == "drop":
    try:
        cur.execute("SELECT 1 /* pgf-drop */")
        print("drop=none")
    except lib.OperationalError as e:
        print("drop=OperationalError")
    except Exception as e:
        print("drop=" + type(e).__name__)
conn.close()
PYEOF

my $id = 100;
for my $lib ('psycopg2', 'psycopg') {
    my %env = (PGF_SO => $SO);
    my ($st, $out, $err) = run_cmd(shim('sql=/pgf-ser/:when=1+:error=40001;sql=/pgf-dl/:when=1+:error=40P01;'
                                        . 'sql=/pgf-uv/:when=1+:error=23505', %env),
                                   undef, $PY, '-c', $PYSCRIPT, $lib, 'errors');
    is($st, 0, "$lib: script ran") or diag $err;
    like($out, qr/^ser=SerializationFailure$/m, "$lib: injected 40001 raises SerializationFailure");
    like($out, qr/^dl=DeadlockDetected$/m, "$lib: injected 40P01 raises DeadlockDetected");
    like($out, qr/^uv=UniqueViolation$/m, "$lib: injected 23505 raises UniqueViolation");
    like($out, qr/^intx=SerializationFailure\nnext=InFailedSqlTransaction$/m,
         "$lib: after an injected error in a block the next statement raises InFailedSqlTransaction");

    $id++;
    ($st, $out, $err) = run_cmd(shim('commit:error=40001', %env), undef, $PY, '-c', $PYSCRIPT, $lib, 'commit', $id);
    like($out, qr/^commit=SerializationFailure$/m, "$lib: failed COMMIT raises SerializationFailure") or diag $err;
    like($out, qr/^rows=0$/m, "$lib: failed COMMIT left nothing committed");
    is(sql("SELECT count(*) FROM pgf_rows WHERE id = $id"), 0, "$lib: ... as seen from outside");

    ($st, $out, $err) = run_cmd(shim('sql=/pgf-drop/:drop', %env), undef, $PY, '-c', $PYSCRIPT, $lib, 'drop');
    like($out, qr/^drop=OperationalError$/m, "$lib: drop raises OperationalError") or diag $err;
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
