#!/usr/bin/perl
# pgrace proxy: its command line (every bad input one line, exit 2), its
# life (serving until a signal, `-- CMD` with CMD's status, nothing left
# after SIGINT, SIGTERM or CMD's crash), what passes through it (the
# authentication methods, COPY both ways, NOTIFY, multi-statement Queries
# with faults in the middle), the same counting as the shim (pgbench under
# the same rule, the same failures, the same log lines), and bad input from
# a client — unknown types, absurd lengths, cut messages, a client gone
# mid-transaction or mid-COPY, TLS — which ends that connection only.
# Each experiment is a `pgrace proxy [...] -- CMD` of its own, CMD often this
# file again (`--inside CASE`), speaking the protocol by hand.
use strict;
use warnings;
use lib 't/lib';
use Cwd ();
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::UNIX;
use JSON::PP ();
use POSIX ();
use Socket qw(SOCK_STREAM);
use Test::More;
use Time::HiRes qw(sleep);
use Pgrace qw(pgrace run_cmd run_cmd_stdin);

# ---- the raw protocol, for the inside cases ------------------------------------
sub msg { my ($t, $body) = @_; return $t . pack('N', 4 + length $body) . $body }

sub raw_connect {
    my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => "$ENV{PGHOST}/.s.PGSQL.$ENV{PGPORT}")
        or die "connect: $!";
    my $params = "user\0$ENV{PGUSER}\0database\0$ENV{PGDATABASE}\0\0";
    print $s pack('NN', 8 + length $params, 196608) . $params;
    my @m = raw_read($s);
    die "no ReadyForQuery after startup" unless @m && $m[-1][0] eq 'Z';
    return $s;
}

# Messages until a ReadyForQuery or the end of the stream (bounded: 10s).
sub raw_read {
    my ($s) = @_;
    my ($buf, @m) = ('');
    my $sel = IO::Select->new($s);
    while ($sel->can_read(10)) {
        my $n = sysread($s, $buf, 65536, length $buf);
        last unless $n;
        while (length $buf >= 5) {
            my ($t, $len) = unpack('aN', $buf);
            last if length $buf < 1 + $len;
            push @m, [$t, substr($buf, 5, $len - 4)];
            substr($buf, 0, 1 + $len) = '';
        }
        return @m if @m && $m[-1][0] eq 'Z';
    }
    push @m, ['EOF', ''];
    return @m;
}

sub sqlstate_of { my ($body) = @_; return $body =~ /C([0-9A-Z]{5})\0/ ? $1 : '' }

sub psql_value {
    my ($sql) = @_;
    my $v = `psql -XAtq -c "$sql" 2>&1`;
    chomp $v;
    return $v;
}

# Client backends other than the one asking: their pids.
sub backend_pids {
    split /\n/, psql_value("SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()");
}
# Backends that are not among these pids: the ones a case started. (A
# count would not do: an earlier psql's backend may still be exiting when
# the base is taken.)
sub new_backends { my %base = map { $_ => 1 } @_; scalar grep { !$base{$_} } backend_pids() }

if (@ARGV && $ARGV[0] eq '--inside') {
    my $case = $ARGV[1];
    if ($case eq 'bad-input') {
        psql_value('CREATE TABLE r (id int)');
        my @base = backend_pids();
        my $other = raw_connect();        # goes on while the others break
        my @bad = (
            ['an unknown message type', 'z' . pack('N', 4)],
            ['an absurd length', 'Q' . pack('N', 0x7fffff00) . 'SELECT 1'],
            ['a length under 4', 'Q' . pack('N', 2)],
            ['a Query without its terminator', msg('Q', 'SELECT 1')],
            ['an Execute too short', msg('E', "\0")],
        );
        for my $b (@bad) {
            my $s = raw_connect();
            print $s $b->[1];
            my @m = raw_read($s);
            my ($e) = grep { $_->[0] eq 'E' } @m;
            print "bad: $b->[0]: ", ($e ? sqlstate_of($e->[1]) : 'none'), ' ', $m[-1][0], "\n";
        }
        # Cut off mid-message, mid-transaction, mid-COPY: the server rolls back.
        my $s = raw_connect();
        print $s msg('Q', "BEGIN; INSERT INTO r VALUES (1)\0");
        raw_read($s);
        print $s substr(msg('Q', "INSERT INTO r VALUES (2)\0"), 0, 9);
        close $s;
        $s = raw_connect();
        print $s msg('Q', "BEGIN; INSERT INTO r VALUES (3)\0");
        raw_read($s);
        close $s;
        $s = raw_connect();
        print $s msg('Q', "COPY r FROM STDIN\0");
        my $g = '';
        my $t = sysread($s, $g, 1) ? $g : '';
        print $s msg('d', "4\n") . msg('d', "5\n");
        close $s;
        print $other msg('Q', "SELECT 42\0");
        my @m = raw_read($other);
        my ($row) = map { $_->[1] =~ /42/ ? 'yes' : () } grep { $_->[0] eq 'D' } @m;
        print "other: ", $row // 'no', "\n";
        print $other msg('X', '');
        close $other;
        for (1 .. 500) { last if new_backends(@base) == 0; sleep 0.01 }
        print "copy-started: ", ($t eq 'G' ? 'yes' : $t), "\n";
        print "rows: ", psql_value('SELECT count(*) FROM r'), "\n";
        print "backends-left: ", new_backends(@base), "\n";
        # A client that starts TLS at once.
        my $tls = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => "$ENV{PGHOST}/.s.PGSQL.$ENV{PGPORT}");
        print $tls "\x16\x03\x01\x00\x05hello";
        my @tm = raw_read($tls);
        print "tls: ", join(',', map { $_->[0] eq 'E' ? 'E' . sqlstate_of($_->[1]) : $_->[0] } @tm), "\n";
        exit 0;
    }
    if ($case eq 'extended') {
        # What a client sees of a faulted Execute in the middle of a
        # pipeline, against what it sees when the server fails the same
        # Execute for real (division by zero): the same messages, in the
        # same order; then its statements still there, the proxy's gone.
        my $s = raw_connect();
        my $bind = sub { my ($stmt, $v) = @_; msg('B', "\0$stmt\0" . pack('nnNa*n', 0, 1, length $v, $v, 0)) };
        my $exec = msg('E', "\0" . pack('N', 0));
        my $types = sub { join ' ', map { $_->[0] eq 'E' ? 'E' . sqlstate_of($_->[1]) : $_->[0] } @_ };
        for my $run (['real', 0], ['faulted', 5]) {
            my ($name, $second) = @$run;
            # (random() keeps the planner from dividing by zero at Bind.)
            print $s msg('P', "n$name\0SELECT 10 / (floor(random())::int + \$1::int) /* pgf-ext */\0" . pack('n', 0))
                . msg('P', "\0SELECT 20 / \$1::int\0" . pack('n', 0))
                . $bind->("n$name", '1') . $exec . $bind->("n$name", $second) . $exec . $bind->('', '2') . $exec
                . msg('S', '');
            print "$name: ", $types->(raw_read($s)), "\n";
            # The client's named and unnamed statements, bound again without a Parse.
            print $s $bind->("n$name", '2') . $exec . $bind->('', '4') . $exec . msg('S', '');
            print "$name after: ", $types->(raw_read($s)), "\n";
        }
        # Delays of an Execute (held by the proxy) and of its answer: the
        # same answers, in the same order.
        for my $slow ('slow', 'slow-after') {
            print $s msg('P', "\0SELECT 30 + \$1::int /* pgf-$slow */\0" . pack('n', 0)) . $bind->('', '0') . $exec
                . $bind->('', '0') . $exec . msg('S', '');
            print "$slow: ", $types->(raw_read($s)), "\n";
        }
        print $s msg('Q', "SELECT string_agg(name, ',' ORDER BY name) FROM pg_prepared_statements\0");
        my ($row) = grep { $_->[0] eq 'D' } raw_read($s);
        print "statements: ", ($row ? substr($row->[1], 6) : ''), "\n";
        exit 0;
    }
    die "unknown inside case $case\n";
}

# ---- outside ------------------------------------------------------------------
delete @ENV{qw(PGHOST PGPORT PGUSER PGDATABASE PGSERVICE PGHOSTADDR)};
my $tmp = tempdir(CLEANUP => 1);
chmod 0755, $tmp;
$ENV{TMPDIR} = $tmp;
sub leftovers { opendir my $d, $tmp or die; return join ' ', grep { !/^\.\.?$/ } readdir $d }
sub servers { scalar grep { /\Q$tmp\E/ } `ps -eo args` }

# The ThreadSanitizer pass runs what has threads to race: the proxy's life,
# pgbench, psql, the pipeline and the bad input; not the command line's
# checks or the authentication's bytes.
my $TSAN = $ENV{PGRACE_TSAN};

# -- the command line ---------------------------------------------------------------
for my $bad ($TSAN ? () : (
    [['--fault', 'commit:when=x:error=40001'], qr/^pgrace: bad fault rule at "when=x": expected a number/],
    [['--fault', 'commit:drop', '--fault', 'stmt'], qr/^pgrace: bad fault rule at "stmt": rule has no action/],
    [['--listen', '/nonexistent/dir'], qr/^pgrace: --listen \/nonexistent\/dir: not a directory/],
    [['--listen', 'localhost:99999'], qr/^pgrace: --listen localhost:99999: expected DIR or HOST:PORT/],
    [['--listen', 'nohost'], qr/^pgrace: --listen nohost: expected DIR or HOST:PORT/],
    [['--dsn', 'host=127.0.0.1 port=1'], qr/^pgrace: the server does not answer at host=127\.0\.0\.1 port=1$/],
    [['--dsn', 'nonsense'], qr/^pgrace: --dsn: /],
    [['psql'], qr/^pgrace: proxy: unexpected 'psql' \(a command goes after --\)/],
    [['--'], qr/^pgrace: proxy -- needs a command/],
    [['--', 'no-such-command-here'], qr/^pgrace: command not found: no-such-command-here$/],
    [['--bogus'], qr/^pgrace: bad option '--bogus'/],
)) {
    my ($st, $out, $err) = run_cmd(pgrace(), 'proxy', @{ $bad->[0] });
    is($st, 2, "proxy @{ $bad->[0] }: exit 2");
    like($err, $bad->[1], "... one clear line") or diag $err;
    is(scalar(() = $err =~ /\n/g), 1, '... and only one');
}
is(leftovers(), '', 'bad input leaves nothing behind');

# -- -- CMD: its status; PGHOST and the rest point at the proxy -------------------
my ($st, $out, $err) = run_cmd(pgrace(), 'proxy', '--', 'sh', '-c',
    'psql -XAtqc "SELECT current_setting(\'port\')" && echo "$PGHOST $PGPORT $PGUSER $PGDATABASE $DATABASE_URL" && exit 3');
is($st, 3, '-- CMD: exit status CMD\'s');
like($out, qr{^\d+\n\Q$tmp\E/pgrace-proxy-\w+ 5432 \S+ \S+ postgresql://\S+@/\S+\?host=\Q$tmp\E/pgrace-proxy-\w+&port=5432$}m,
     '-- CMD: PGHOST, PGPORT, PGUSER, PGDATABASE and DATABASE_URL name the proxy') or diag "$out$err";
is(leftovers(), '', '-- CMD: nothing left in TMPDIR');

# CMD crashes: exit 128+11, and nothing left.
($st, $out, $err) = run_cmd(pgrace(), 'proxy', '--', 'sh', '-c', 'psql -XAtqc "SELECT 1" >/dev/null; kill -SEGV $$');
is($st, 139, "CMD's crash: exit status 139");
is(leftovers(), '', "CMD's crash: no socket, no directory, no cluster left");
is(servers(), 0, "CMD's crash: no postgres process left");

# Serving, then SIGINT; and SIGTERM during a command.
for my $how (['serve', 'INT'], ['serve', 'TERM'], ['command', 'INT'], ['command', 'TERM']) {
    my ($mode, $sig) = @$how;
    pipe(my $r, my $w) or die;
    my $pid = fork() // die;
    if (!$pid) {
        close $r;
        open STDOUT, '>&', $w or die;
        open STDERR, '>&', $w or die;
        my @cmd = $mode eq 'serve' ? () : ('--', 'sh', '-c', 'echo "listening on $PGHOST port $PGPORT"; exec sleep 60');
        exec pgrace(), 'proxy', '--listen', $mode eq 'serve' ? $tmp : '127.0.0.1:0', @cmd or POSIX::_exit(127);
    }
    close $w;
    my $line = <$r>;
    like($line, qr/listening on \S+ port \d+/, "$mode: it says where it listens") or diag $line;
    if ($mode eq 'serve') {
        my $v = `psql -XAtq -h $tmp -p 5432 -U pgrace -d postgres -c "SELECT 7" 2>&1`;
        is($v, "7\n", 'serve: a client connects through the socket in --listen DIR');
    }
    kill $sig, $pid;
    waitpid $pid, 0;
    my $status = $? & 127 ? 128 + ($? & 127) : $? >> 8;
    is($status, $sig eq 'INT' ? 130 : 143, "$mode: SIG$sig ends it with 128+N");
    is(leftovers(), '', "$mode: SIG$sig leaves no socket, directory or cluster");
    is(servers(), 0, "$mode: SIG$sig leaves no postgres process");
    close $r;
}

# -- the same counting as the shim: pgbench under one rule, both ways --------------
{
    my $log = "$tmp/faults.jsonl";
    my $script = 'pgbench -i -q -s 1 >/dev/null 2>&1 && pgbench -n -c 2 -t 20 --failures-detailed 2>&1';
    ($st, $out, $err) = run_cmd(pgrace(), 'proxy', '--log', $log, '--fault', 'commit:when=5+5:error=40001', '--',
                                'sh', '-c', $script);
    is($st, 0, 'pgbench through the proxy under commit:when=5+5:error=40001') or diag "$out$err";
    my ($failed) = $out =~ /^number of failed transactions: (\d+)/m;
    my ($serial) = $out =~ /^number of serialization failures: (\d+)/m;
    is($failed, 8, 'pgbench: 8 failed transactions, as under the shim (2 clients x END 5,10,15,20)') or diag $out;
    is($serial, 8, 'pgbench: all of them serialization failures');
    open my $fh, '<', $log or die "$log: $!";
    my @lines = <$fh>;
    close $fh;
    unlink $log;
    is(scalar @lines, 8, '--log: one line per fault');
    my @ev = map { eval { JSON::PP::decode_json($_) } } @lines;
    my @wrong = grep { join(',', sort keys %$_) ne 'action,conn,pid,rule,rule_text,sql,stmt,tid,time'
                       || $_->{action} ne 'error=40001' || $_->{sql} !~ /^END/ || $_->{rule} != 1
                       || $_->{rule_text} ne 'commit:when=5+5:error=40001' || $_->{conn} < 1
                       || $_->{stmt} < 1 || $_->{time} !~ /^\d{4}-\d\d-\d\dT[\d:.]+Z$/ } @ev;
    ok(@ev == 8 && !@wrong, '--log: the shim\'s JSON lines (time, pid, tid, conn, stmt, rule, rule_text, action, sql)')
        or diag @lines;
}

# The same rules through the proxy and under the shim, every query mode:
# the same transactions fail the same way.
{
    my $rules = 'commit:when=5+5:error=40001;sql=/UPDATE pgbench_tellers/:when=3+7:error=40P01';
    my $bench = 'pgbench -i -q -s 1 >/dev/null 2>&1 && for m in simple extended prepared; do '
        . 'pgbench -n -c 4 -t 30 -M $m --failures-detailed 2>&1 | grep -E "^number of (failed|serialization|deadlock)"; done';
    my ($pst, $pout) = run_cmd(pgrace(), 'proxy', '--fault', $rules, '--', 'sh', '-c', $bench);
    like($pout, qr/^number of failed transactions: 36 .*\n.*serialization failures: 20 .*\n.*deadlock failures: 16 /m,
         'pgbench through the proxy under a COMMIT rule and an UPDATE rule') or diag $pout;
    # The uninstrumented shim (a sanitizer's cannot be preloaded into
    # pgbench), which make builds before the sanitizer passes.
    my $so = Cwd::abs_path('build/libpgfault.so');
    SKIP: {
        skip 'build/libpgfault.so is not built', 1 unless $so && -e $so;
        my ($sst, $sout) = run_cmd(pgrace(), 'cluster', '--', 'env', "LD_PRELOAD=$so", "PGFAULT=$rules", 'sh', '-c',
                                   $bench);
        is($pout, $sout, 'the same failures through the proxy as under the shim, in simple, extended and prepared mode')
            or diag "proxy:\n$pout\nshim:\n$sout";
    }
}

# -- what passes through -------------------------------------------------------------
{
    my $sh = <<'EOF';
set -e
psql -XAtq -c "CREATE TABLE c (a int, b text)"
printf '1\tx\n2\ty\n' | psql -XAtq -c "COPY c FROM STDIN"
psql -XAtq -c "COPY c TO STDOUT"
psql -XAtq -c "LISTEN ch" -c "NOTIFY ch, 'hi'" -c "SELECT 'after'"
psql -XAtq -c "SET TimeZone = 'Asia/Tokyo'" -c "SHOW TimeZone"
# Delays around statements in the middle of one Query: the server sleeps
# between them; psql sees the Query's last answer only.
psql -XAtq -c "SELECT 'one'; SELECT 'two' /* pgf-mid */; SELECT 'three'"
psql -XAtq -c "SELECT 'four' /* pgf-after */; SELECT 'five'"
# An error in the middle of a Query: what ran before it stays in the
# implicit transaction and is rolled back with it.
psql -XAtq -v VERBOSITY=verbose -c "INSERT INTO c VALUES (3, 'z'); SELECT 1 /* pgf-err */; INSERT INTO c VALUES (4, 'w')" 2>&1 || true
psql -XAtq -c "SELECT count(*) FROM c"
# drop in the middle: the statements before it are rolled back, the client loses the connection
psql -XAtq -c "INSERT INTO c VALUES (5, 'v'); SELECT 1 /* pgf-drop */; INSERT INTO c VALUES (6, 'u')" 2>&1 || true
psql -XAtq -c "SELECT count(*) FROM c"
# ambiguous in the middle: it and those before it run and commit; the client loses the connection
psql -XAtq -c "INSERT INTO c VALUES (7, 't'); INSERT INTO c VALUES (8, 's') /* pgf-amb */; INSERT INTO c VALUES (9, 'r')" 2>&1 || true
# A failed COMMIT ends the transaction: the session goes on, idle.
printf "BEGIN;\nINSERT INTO c VALUES (10, 'q');\nCOMMIT;\nSELECT 'status=' || count(*) FROM c WHERE a = 10;\n" | psql -XAtq 2>&1
psql -XAtq -c "SELECT string_agg(a::text, ',' ORDER BY a) FROM c"
EOF
    ($st, $out, $err) = run_cmd(pgrace(), 'proxy', '--fault', 'sql=/pgf-mid/:delay=1ms', '--fault',
                                'sql=/pgf-after/:delay=1ms:after', '--fault', 'sql=/pgf-err/:error=23505',
                                '--fault', 'sql=/pgf-drop/:drop', '--fault', 'sql=/pgf-amb/:ambiguous',
                                '--fault', 'commit:error=40001', '--',
                                'sh', '-c', $sh);
    is($st, 0, 'psql through the proxy') or diag "$out$err";
    like($out, qr/^1\tx\n2\ty\n/m, 'COPY FROM STDIN and COPY TO STDOUT');
    like($out, qr/^Asynchronous notification "ch" with payload "hi" received from server process with PID \d+\.\nafter$/m,
         'NOTIFY reaches the listener');
    like($out, qr/^Asia\/Tokyo$/m, 'ParameterStatus: SET TimeZone');
    like($out, qr/^three\n/m, 'a delay before the 2nd of 3 statements: the server sleeps, the answers are the same');
    like($out, qr/^five\n/m, 'a delay after the 1st of 2: the same');
    like($out, qr/ERROR:  23505: duplicate key value violates unique constraint\n(?:(?:HINT|CONTEXT|LOCATION).*\n)*2\n/,
         'error= on the 2nd of 3 statements: the server raises it, the 1st is rolled back with the implicit transaction')
        or diag $out;
    like($out, qr/server closed the connection unexpectedly.*\n(?:.*\n)*?2\n/,
         'drop on the 2nd of 3: the connection is lost, the 1st is rolled back') or diag $out;
    like($out, qr/^1,2,7,8$/m, 'ambiguous on the 2nd of 3: it and the 1st committed, the 3rd never ran') or diag $out;
    like($out, qr/^ERROR:  could not serialize access due to concurrent update\n(?:(?:HINT|CONTEXT).*\n)*status=0$/m,
         'a failed COMMIT: the transaction ended rolled back, the session goes on (no 25P02)') or diag $out;
}

# -- authentication passes through: password, md5, SCRAM --------------------------------
unless ($TSAN) {
    my $sh = <<'EOF';
set -e
dir=$(psql -XAtq -c "SHOW data_directory")
hba=$(psql -XAtq -c "SHOW hba_file")
psql -Xq -c "SET password_encryption = 'md5'" -c "CREATE ROLE u_md5 LOGIN PASSWORD 'pw-md5'"
psql -Xq -c "SET password_encryption = 'scram-sha-256'" -c "CREATE ROLE u_scram LOGIN PASSWORD 'pw-scram'" -c "CREATE ROLE u_plain LOGIN PASSWORD 'pw-plain'"
{ printf 'local all u_md5 md5\nlocal all u_scram scram-sha-256\nlocal all u_plain password\n'; cat "$hba"; } > "$hba.new"
cat "$hba.new" > "$hba"
psql -XAtq -c "SELECT pg_reload_conf()" >/dev/null
for u in md5 scram plain; do
    echo "$u: $(PGPASSWORD=pw-$u psql -XAtq -U u_$u -c "SELECT current_user" 2>&1)"
    echo "$u wrong: $(PGPASSWORD=wrong psql -XAtq -U u_$u -c "SELECT 1" 2>&1 | head -1)"
done
EOF
    ($st, $out, $err) = run_cmd(pgrace(), 'proxy', '--', 'sh', '-c', $sh);
    is($st, 0, 'authentication through the proxy') or diag "$out$err";
    for my $u (qw(md5 scram plain)) {
        like($out, qr/^$u: u_$u$/m, "$u: the right password logs in through the proxy (it never sees it)");
        like($out, qr/^$u wrong: .*password authentication failed for user "u_$u"$/m, "$u: a wrong one is refused");
    }
    # (libpq asks for SSL over TCP only.)
    ($st, $out, $err) = run_cmd(pgrace(), 'proxy', '--listen', '127.0.0.1:0', '--', 'sh', '-c',
                                'psql "sslmode=require" -XAtqc "SELECT 1" 2>&1; psql "sslmode=prefer" -XAtqc "SELECT 1"');
    like($out, qr/server does not support SSL, but SSL was required/,
         'sslmode=require: the client is told plainly (the proxy answers N)');
    like($out, qr/^1$/m, 'sslmode=prefer: the proxy answers N and the session goes on in clear');
}

# -- a fault in the middle of a pipeline, byte for byte as the server's own -----------
{
    # The 5th execution of the marked statements: the real run executes
    # them three times, the faulted run's 2nd is the 5th.
    ($st, $out, $err) = run_cmd(pgrace(), 'proxy', '--fault', 'sql=/pgf-ext/:when=5:error=22012',
                                '--fault', 'sql=/pgf-slow /:when=1+:delay=1ms', '--fault', 'sql=/pgf-slow-after/:when=1+:delay=1ms:after', '--',
                                $^X, '-It/lib', $0, '--inside', 'extended');
    is($st, 0, 'the pipeline client ran') or diag "$out$err";
    my ($real) = $out =~ /^real: (.*)$/m;
    my ($faulted) = $out =~ /^faulted: (.*)$/m;
    is($real, '1 1 2 D C 2 E22012 Z', 'the server fails the 2nd of 3 Executes: ParseComplete x2, BindComplete, row, '
       . 'CommandComplete, BindComplete, the error, ReadyForQuery');
    is($faulted, $real, 'error= on the 2nd of 3 Executes: exactly the same messages, in the same order');
    like($out, qr/^faulted after: 2 D C 2 D C Z$/m, "the client's named and unnamed statements are still its own");
    like($out, qr/^statements: nfaulted,nreal$/m, "the proxy's own statement is gone (pg_prepared_statements)");
    like($out, qr/^slow: 1 2 D C 2 D C Z$/m, 'delay= on Executes: held, then answered as without it');
    like($out, qr/^slow-after: 1 2 D C 2 D C Z$/m, 'delay=:after on Executes: the answers held, then the same');
}

# -- bad input ends that connection only ----------------------------------------------
{
    ($st, $out, $err) = run_cmd(pgrace(), 'proxy', '--', $^X, '-It/lib', $0, '--inside', 'bad-input');
    is($st, 0, 'the bad-input client ran') or diag "$out$err";
    for my $what ('an unknown message type', 'an absurd length', 'a length under 4',
                  'a Query without its terminator', 'an Execute too short') {
        like($out, qr/^bad: \Q$what\E: 08P01 EOF$/m, "$what: a protocol error (08P01), the connection ends");
    }
    like($out, qr/^other: yes$/m, 'another connection goes on meanwhile');
    like($out, qr/^copy-started: yes$/m, 'a COPY FROM STDIN was under way when its client left');
    like($out, qr/^rows: 0$/m, 'cut mid-message, mid-transaction, mid-COPY: the server rolled every one back');
    like($out, qr/^backends-left: 0$/m, 'and no backend is left behind');
    like($out, qr/^tls: E08P01,EOF$/m, 'a client that starts TLS at once: a clear error, the connection ends');
    like($err, qr/^pgrace proxy: connection \d+: invalid frontend message type 'z'$/m, 'the proxy says which connection broke and how');
    like($err, qr/the client began a TLS handshake: the proxy speaks in clear only/, '... and about TLS');
}

done_testing();
