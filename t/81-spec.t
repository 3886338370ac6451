#!/usr/bin/perl
# pgrace spec: isolation spec files as TAP, one point per permutation, with
# pgrace's additions — invariants (rows are violations), step faults
# (error=, drop, ambiguous), settings (given to the embedded cluster,
# checked on a user's server) — and one line with exit 2 for every bad spec
# or option.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP ();
use Pgrace qw(pgrace run_cmd under_cluster dsn_from_env psql_value tap_of junit_errors);

under_cluster();
my $dir = tempdir('pgrace-spec.XXXXXX', TMPDIR => 1, CLEANUP => 1);
sub spec_file {
    my ($name, $text) = @_;
    my $path = "$dir/$name.spec";
    open my $f, '>', $path or die "$path: $!";
    print $f $text;
    close $f;
    return $path;
}

# Runs pgrace spec on the embedded cluster (the PG* variables of the test's
# own cluster are hidden, so pgrace starts its own).
sub spec_embedded {
    local $ENV{PGHOST}; local $ENV{PGPORT}; local $ENV{PGDATABASE}; local $ENV{PGUSER};
    delete @ENV{qw(PGHOST PGPORT PGDATABASE PGUSER)};
    return run_cmd(pgrace(), 'spec', @_);
}

# The points of a TAP stream: [ok, description, diagnostics text]. A list
# item that would read as a mapping has its ':' written \x3a (lib/tap.c):
# read back as ':'.
sub points {
    my ($tap) = @_;
    my @p;
    for my $chunk (split /^(?=(?:not )?ok \d+ )/m, $tap) {
        next unless $chunk =~ /^(not )?ok \d+ - (.*)\n((?:  .*\n)*)/;
        my ($bad, $desc, $diag) = ($1, $2, $3);
        push @p, [!$bad, $desc, $diag =~ s/\\x3a/:/gr];
    }
    return @p;
}

# ---- invariants: a race breaks one, and the point says which rows
my $race = spec_file('race', <<'SPEC');
# Two withdrawals of 80 from an account of 100, each checked against a
# balance read earlier: the check-then-write race.
setup { CREATE TABLE acct (id int PRIMARY KEY, balance int); INSERT INTO acct VALUES (1, 100); }
teardown { DROP TABLE acct; }
invariant "balance never negative" { SELECT id, balance FROM acct WHERE balance < 0 }
invariant "one account" { SELECT count(*) FROM acct HAVING count(*) <> 1 }
session s1
step r1 { BEGIN; SELECT balance FROM acct WHERE id = 1; }
step w1 { UPDATE acct SET balance = balance - 80 WHERE id = 1; }
step c1 { COMMIT; }
session s2
step r2 { BEGIN; SELECT balance FROM acct WHERE id = 1; }
step w2 { UPDATE acct SET balance = balance - 80 WHERE id = 1; }
step c2 { COMMIT; }
permutation r1 w1 c1 r2 c2
permutation r1 r2 w1 c1 w2 c2
permutation r1 r2 w1 w2 c1 c2
SPEC
my ($st, $out, $err) = spec_embedded($race);
is($st, 1, 'a violated invariant: exit 1');
my $parser = tap_of($out);
ok($parser->is_good_plan && !$parser->parse_errors, 'the stream is TAP prove accepts') or diag($out);
my @p = points($out);
is(scalar @p, 3, 'one point per permutation');
ok($p[0][0], 'the serial permutation holds every invariant') or diag($out);
ok(!$p[1][0], 'the interleaved check-then-write is not ok');
like($p[1][1], qr/race\.spec: r1 r2 w1 c1 w2 c2: invariant "balance never negative" violated \(1 row\)$/,
     'its description names the permutation and the invariant');
like($p[1][2], qr/invariant: "balance never negative"\n\s+count: 1\n\s+rows:\n\s+-\n\s+id: "1"\n\s+balance: "-60"/,
     'the YAML holds the violating rows');
like($p[1][2], qr/permutation: "r1 r2 w1 c1 w2 c2"/, 'and the permutation');
like($p[1][2], qr/output:\n    - "starting permutation: r1 r2 w1 c1 w2 c2"\n    - "step r1: BEGIN; SELECT balance FROM acct WHERE id = 1;"/,
     'and what it printed, line by line, as isolationtester prints it');
unlike($p[1][2], qr/one account/, 'an invariant that held is not listed');
ok(!$p[2][0], 'the blocked interleaving is caught too');
like($p[2][2], qr/"step w2: UPDATE acct SET balance = balance - 80 WHERE id = 1; <waiting \.\.\.>"/,
     'its blocked step is reported waiting, as isolationtester reports it');

# ---- step faults change the outcome
my $faults = spec_file('faults', <<'SPEC');
setup { CREATE TABLE acct (id int PRIMARY KEY, balance int); INSERT INTO acct VALUES (1, 100); }
teardown { DROP TABLE acct; }
invariant "the withdrawal of 80 did not take effect" { SELECT id, balance FROM acct WHERE balance < 90 }
session s1
step w1 { BEGIN; UPDATE acct SET balance = balance - 80 WHERE id = 1; }
step c1 { COMMIT; }
step r1 { SELECT balance FROM acct WHERE id = 1; }
session s2
step u2 { UPDATE acct SET balance = balance - 1 WHERE id = 1; }
permutation w1 c1 r1
permutation w1 c1[error=40001] r1
permutation w1 c1[drop] r1
permutation w1 c1[ambiguous] r1
permutation w1 u2 c1[drop] r1
permutation w1[error=23505] c1 r1
SPEC
($st, $out, $err) = spec_embedded($faults);
@p = points($out);
is(scalar @p, 6, 'faults: one point per permutation');
ok(!$p[0][0], 'without a fault the COMMIT takes effect (the invariant says so)');
ok($p[1][0], 'error=40001 on COMMIT: the transaction ends rolled back');
like($p[1][2], qr/"step c1: COMMIT;"\n\s+- "ERROR:  could not serialize access due to concurrent update"/,
     '  and the client sees the server raise 40001 for its COMMIT');
like($p[1][2], qr/faults: 1/, '  and the YAML counts the fault');
ok($p[2][0], 'drop before COMMIT: the server rolls back');
like($p[2][2], qr/"step c1: COMMIT;"\n\s+- "server closed the connection unexpectedly"/,
     '  and the client sees its connection lost');
like($p[2][2], qr/"step r1: SELECT balance FROM acct WHERE id = 1;"\n\s+- "balance"\n\s+- "-------"\n\s+- "    100"/,
     '  and the session goes on, on a new connection');
ok(!$p[3][0], 'ambiguous COMMIT: it committed (the invariant sees the withdrawal)');
like($p[3][2], qr/"step c1: COMMIT;"\n\s+- "server closed the connection unexpectedly"/,
     '  though the client saw a failure');
ok($p[4][0], 'drop while another session waits on the lock: the waiter goes on once the server rolls back')
    or diag($p[4][2]);
like($p[4][2], qr/"step u2: <\.\.\. completed>"/, '  and is reported completed') or diag($p[4][2]);
like($p[5][2], qr/"step w1: BEGIN; UPDATE acct SET balance = balance - 80 WHERE id = 1;"\n\s+- "ERROR:  duplicate key value violates unique constraint"/,
     'error=23505 on a statement: the server raises it there') or diag($p[5][2]);
ok($p[5][0], '  and the transaction is aborted, so its COMMIT takes nothing with it');

# ---- no permutation listed: every interleaving is a point
my $all = spec_file('all', <<'SPEC');
session a
step a1 { SELECT 1; }
step a2 { SELECT 2; }
session b
step b1 { SELECT 3; }
step b2 { SELECT 4; }
SPEC
($st, $out) = spec_embedded($all);
@p = points($out);
is(scalar(@p), 6, 'no permutations: the 6 interleavings of 2 + 2 steps, each a point');
is($p[0][1] =~ s/^.*: //r, 'a1 a2 b1 b2', 'in isolationtester\'s order');
is($st, 0, 'all ok: exit 0');

# ---- a permutation the server cannot follow is skipped at once; a step
# canceled at --call-timeout is an error, never ok; the next still runs
my $stuck = spec_file('stuck', <<'SPEC');
setup { CREATE TABLE t81 (i int); INSERT INTO t81 VALUES (1); }
teardown { DROP TABLE t81; }
session s1
step l1 { BEGIN; UPDATE t81 SET i = 2; }
step c1 { COMMIT; }
step slow1 { SELECT pg_sleep(0.2); COMMIT; }   # well inside the 2s timeout, even on a loaded machine
session s2
step l2 { UPDATE t81 SET i = 3; }
step n2 { SELECT 1; }
step sleep2 { SELECT pg_sleep(30); }
permutation l1 l2(c1 notices 1) c1
permutation l1 l2 n2 c1
permutation l1 l2 c1
permutation sleep2
permutation l1 l2 slow1(*) n2
SPEC
($st, $out, $err) = spec_embedded('--call-timeout', '2s', $stuck);
@p = points($out);
is(scalar @p, 5, 'stuck permutations: every point is reported');
ok(!$p[0][0] && $p[0][1] =~ /mutually-blocking steps$/, 'a marker never satisfied: not ok, isolationtester\'s reason')
    or diag($out);
like($p[1][1], qr/: l1 l2 n2 c1 # SKIP infeasible: step n2: its session still waits for step l2, which waits for s1$/,
     'a step due on a session the server says is blocked by an idle one: skipped at once, saying why') or diag($out);
unlike($out, qr/canceling step l2/, '  nothing was canceled');
ok($p[2][0], 'the runner recovered: the next permutation ran') or diag($out);
ok(!$p[3][0] && $p[3][1] =~ /: sleep2: step sleep2 did not complete within 2s \(the step timeout\) and was canceled$/,
   'a step canceled at --call-timeout: not ok, saying so') or diag($out);
like($p[3][2], qr/"isolationtester: canceling step sleep2 after 2 seconds"/, '  with isolationtester\'s cancel line');
ok($p[4][0] && $p[4][2] =~ /"step l2: <\.\.\. completed>"/,
   'a step blocked by a session whose statement is in flight is waited for, not skipped') or diag($out);
is($st, 1, 'exit 1');

# ---- a permutation that ends with a step only a missing step could release
my $ends = spec_file('ends', <<'SPEC');
setup { CREATE TABLE e81 (i int); INSERT INTO e81 VALUES (1); }
teardown { DROP TABLE e81; }
session s1
step l1 { BEGIN; UPDATE e81 SET i = 2; }
session s2
step l2 { UPDATE e81 SET i = 3; }
permutation l1 l2
SPEC
($st, $out, $err) = spec_embedded($ends);
like($out, qr/^ok 1 - \S+ends\.spec: l1 l2 # SKIP infeasible: step l2 waits for s1, and no step is left to release it$/m,
     'a last step blocked by an idle session: skipped at once, not canceled at the timeout') or diag($out);

# ---- a wait cycle is no reason to skip: the deadlock detector breaks it
my $deadlock = spec_file('deadlock', <<'SPEC');
setting deadlock_timeout "10ms"
setup { CREATE TABLE d81 (id int PRIMARY KEY, v int); INSERT INTO d81 VALUES (1, 0), (2, 0); }
teardown { DROP TABLE d81; }
session s1
step a1 { BEGIN; UPDATE d81 SET v = 1 WHERE id = 1; }
step a2 { UPDATE d81 SET v = 1 WHERE id = 2; }
step a3 { COMMIT; }
session s2
step b1 { BEGIN; UPDATE d81 SET v = 2 WHERE id = 2; }
step b2 { UPDATE d81 SET v = 2 WHERE id = 1; }
step b3 { COMMIT; }
permutation a1 b1 a2 b2 a3 b3
SPEC
($st, $out, $err) = spec_embedded($deadlock);
@p = points($out);
ok(@p == 1 && $p[0][0] && $p[0][1] !~ /SKIP/ && $p[0][2] =~ /ERROR:  deadlock detected/,
   'a deadlock: the permutation runs to its end, one step failing as the server decides') or diag($out);

# ---- settings: given to the embedded cluster, checked on a user's server
my $settings = spec_file('settings', <<'SPEC');
setting deadlock_timeout "123ms"
setting max_prepared_transactions 10
session s1
step show { SHOW deadlock_timeout; }
SPEC
($st, $out, $err) = spec_embedded($settings);
like($out, qr/- "deadlock_timeout"\n\s+- "----------------"\n\s+- "123ms           "/, 'the embedded cluster runs with the spec\'s setting')
    or diag($out, $err);
is($st, 0, '  exit 0');
($st, $out, $err) = run_cmd(pgrace(), 'spec', '--dsn', dsn_from_env(), $settings);
is($st, 2, 'on a user\'s server, a setting it lacks: exit 2');
like($err, qr/^pgrace: \S+settings\.spec: the server's deadlock_timeout is "1s"; the spec needs "123ms" \(setting deadlock_timeout\)\n\z/,
     '  one line naming it');
is($out, '', '  before any TAP');
my $ok_settings = spec_file('ok-settings', "setting max_connections 10\nsession s1\nstep one { SELECT 1 AS one; }\n");
($st, $out, $err) = run_cmd(pgrace(), 'spec', '--dsn', dsn_from_env(), $ok_settings);
is($st, 0, 'a number is a minimum: max_connections 300 satisfies 10') or diag($err);
($st, $out, $err) = run_cmd(pgrace(), 'spec', $race);   # PG* variables: the test's server
is(psql_value("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'pgrace\\_%'"), 0,
   'on a user\'s server, the run\'s schema is gone afterwards');
is(psql_value("SELECT count(*) FROM pg_tables WHERE tablename = 'acct'"), 0, '  and nothing of the spec is left');

# ---- JUnit
my $junit = "$dir/race.xml";
($st, $out, $err) = spec_embedded('--junit', $junit, $race, $faults);
ok(-s $junit, '--junit writes the file');
my $xml = do { local $/; open my $f, '<', $junit or die; <$f> };
like($xml, qr/<testsuite name="[^"]*race\.spec"[^>]* tests="3" failures="2" errors="0"/, 'a testsuite per spec file');
like($xml, qr/<testcase name="r1 r2 w1 c1 w2 c2" classname="pgrace\.spec\.race\.spec"[^>]*>\s*<failure type="invariant-violated" message="invariant &quot;balance never negative&quot; violated \(1 row\)">/,
     'a violated invariant is a failure with its reason');
my $junit_errors = junit_errors($junit);
is($junit_errors, '', 'the JUnit file is valid against the strict Ant schema') or diag($junit_errors);

# ---- --json and --html: the race (ok, violated) and the stuck spec (error,
# skipped) in one run, written although permutations failed
{
    my ($json, $html) = ("$dir/spec.json", "$dir/spec.html");
    my ($st, $out, $err) = spec_embedded('--seed', '42', '--call-timeout', '2s', '--json', $json, '--html', $html,
                                         $race, $stuck);
    is($st, 1, '--json --html: exit 1 (permutations failed)') or diag $err;
    my $j = eval { JSON::PP->new->decode(do { local $/; open my $f, '<', $json or die "$json: $!"; <$f> }) };
    ok(ref $j eq 'HASH', '--json writes a JSON object') or diag $@;
    $j ||= {};
    is_deeply([sort keys %$j], [sort qw(format version seed command started mode hostname server keep_iterations
                                        complete verdict bail notes summary items)],
              '  with the members every mode\'s report has');
    is($j->{format}, 'pgrace-report', '  format: the one report');
    is($j->{mode}, 'spec', '  mode: spec');
    is($j->{version}, 2, '  version 2');
    is($j->{seed}, 42, '  the seed, a number');
    like($j->{command}, qr{/pgrace spec --seed 42 --call-timeout 2s --json \S+spec\.json --html \S+spec\.html \S+race\.spec \S+stuck\.spec$},
         '  the command line');
    like($j->{started}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, '  started: ISO 8601, UTC');
    like($j->{server}{version}, qr/^1\d\.\d+$/, '  the server\'s version');
    ok(JSON::PP::is_bool($j->{complete}) && $j->{complete}, '  complete: true');
    is($j->{verdict}, 'error', '  the run\'s verdict: error (one permutation could not complete)');
    is_deeply([map { $_->{name} } @{ $j->{items} || [] }], [$race, $stuck], '  an item per spec, in order');
    ok(!grep({ $_->{kind} ne 'spec' } @{ $j->{items} || [] }), '  each of kind spec');
    my @perms = map { @{ $_->{points} || [] } } @{ $j->{items} || [] };
    my $shape_ok = 1;
    for my $pm (@perms) {
        my $keys = join ',', sort keys %$pm;
        if ($keys ne 'diagnostics,failures,first_iteration,id,name,reason,runs,seconds,unit,verdict'
            || $pm->{verdict} !~ /^(ok|violated|error|skipped)$/
            || !(defined $pm->{reason} xor $pm->{verdict} eq 'ok')
            || ref \$pm->{seconds} ne 'SCALAR' || $pm->{seconds} !~ /^\d+(\.\d+)?([eE]-?\d+)?$/ || $pm->{seconds} >= 60
            || ref $pm->{diagnostics} ne 'HASH' || $pm->{diagnostics}{permutation} ne $pm->{name}
            || ref $pm->{diagnostics}{output} ne 'ARRAY') {
            $shape_ok = 0;
            diag "bad permutation: " . JSON::PP->new->canonical->encode($pm);
        }
    }
    ok(@perms == 8 && $shape_ok, '  each permutation a point: name, verdict, reason (null only when ok), seconds, diagnostics');
    is_deeply([map { $_->{name} } @{ $j->{items}[0]{points} }],
              ['r1 w1 c1 r2 c2', 'r1 r2 w1 c1 w2 c2', 'r1 r2 w1 w2 c1 c2'], '  the race\'s permutations, in order');
    is_deeply([map { $_->{verdict} } @perms], [qw(ok violated violated error skipped ok error ok)], '  their verdicts');
    is($perms[1]{reason}, 'invariant "balance never negative" violated (1 row)', '  a violation\'s reason');
    like($perms[3]{reason} // '', qr/mutually-blocking steps$/, '  an error\'s reason');
    is_deeply($perms[1]{diagnostics}{violations},
              [ { invariant => 'balance never negative', count => 1, rows => [ { id => '1', balance => '-60' } ] } ],
              '  the violated invariant\'s rows, as JSON');
    is($perms[1]{diagnostics}{output}[0], 'starting permutation: r1 r2 w1 c1 w2 c2', '  and the output, a string per line');
    ok(!exists $perms[0]{diagnostics}{violations}, '  an ok permutation has no violations');
    is_deeply($j->{items}[0]{replay}, { spec => $race, permutation => 'r1 r2 w1 c1 w2 c2' },
              '  replay names the first permutation not ok');
    like($perms[3]{diagnostics}{error} // '', qr/mutually-blocking steps$/, '  an error is in its diagnostics');
    my %sum = %{ $j->{summary} };
    is_deeply({ map { $_ => $sum{$_} } qw(points ok violated error skipped) },
              { points => 8, ok => 3, violated => 2, error => 2, skipped => 1 }, '  the summary\'s counts');

    my $page = do { local $/; open my $f, '<', $html or die "$html: $!"; <$f> };
    my @rows = $page =~ /<tr class="point" data-verdict="(\w+)">/g;
    is_deeply(\@rows, [qw(ok violated violated error skipped ok error ok)], '--html: a row per permutation, with its verdict');
    like($page, qr{<td class="name"><a href="#diag-0-1">r1 r2 w1 c1 w2 c2</a></td><td class="violated">violated</td><td class="reason">invariant &quot;balance never negative&quot; violated \(1 row\)</td>},
         '  the row: name, verdict coloured, reason');
    my @details = $page =~ /<details class="diag" id="(diag-\d+-\d+)" data-verdict="(\w+)"/g;
    is_deeply(\@details, [qw(diag-0-1 violated diag-0-2 violated diag-1-0 error diag-1-1 skipped diag-1-3 error)],
              '  a details block per permutation not ok, a skip\'s reason too');
    like($page, qr{<details class="diag" id="diag-0-1"[^>]*><summary>.*?r1 r2 w1 c1 w2 c2</summary>\n<pre>---\nspec: &quot;\S+race\.spec&quot;\n(?:.*\n)*?\s+balance: &quot;-60&quot;\n(?:.*\n)*?\.\.\.\n</pre></details>}s,
         '  holding its YAML diagnostics with the invariant\'s rows');
    like($page, qr{<body data-verdict="error">\n<h1>pgrace report <span class="badge error">error</span></h1>}, '  the run\'s verdict badge');
    like($page, qr{<th>seed</th><td><code>42</code>}, '  the seed');
    like($page, qr{<p>3 points: <span class="ok">1 ok</span>, <span class="violated">2 violated</span></p>},
         '  the counts of each file');
    like($page, qr/<style>[^<]*\.violated\{color:#b3261e;/, '  the house style, inline');
    my @href = $page =~ /href="([^"]*)"/g;
    ok(@href && !grep(!/^#(diag|item)-\d+(-\d+)?$/, @href), '  self-contained: every link is to the page itself') or diag "@href";
    unlike($page, qr/\bsrc=|<link|\@import|url\(/i, '  nothing to fetch');
}

# ---- an unwritable report file: one line, exit 2, after the run (as --junit)
for my $opt (qw(--json --html --junit)) {
    my ($st, $out, $err) = run_cmd(pgrace(), 'spec', $opt, "$dir/no/such/dir/r.out", $race);
    ok($st == 2 && $err =~ m{\Apgrace: cannot write \S+/no/such/dir/r\.out: No such file or directory\n\z},
       "$opt to an unwritable path: exit 2, one line on stderr") or diag "status $st, stderr '$err'";
    is(scalar(points($out)), 3, '  the TAP stream is whole');
}

# ---- an isolationtester spec, unchanged: the points print its expected
# output (t/pgxs's, which t/83-pgxs.t checks against the real
# isolationtester)
for my $name (qw(counter log)) {
    ($st, $out) = spec_embedded("t/pgxs/specs/$name.spec");
    my $text = '';
    for my $pt (points($out)) {
        my ($lines) = $pt->[2] =~ /  output:\n((?:    - .*\n)*)/;
        $text .= "\n" . join('', map { /^    - (".*")$/ ? JSON::PP->new->allow_nonref->decode($1) . "\n" : () } split /\n/, $lines);
    }
    my $want = do { local $/; open my $f, '<', "t/pgxs/expected/$name.out" or die; <$f> };
    $want =~ s/\A[^\n]*\n//;
    is($text, $want, "$name.spec: its points print isolationtester's expected output");
}

# ---- --explore: every interleaving of the sessions' steps, as isolationtester
# runs a spec without permutations; with a bound, fewer, and it says how many
# were left out.
my $free = spec_file('free', <<'SPEC');
setup { CREATE TABLE t (n int); }
teardown { DROP TABLE t; }
session s1
step a1 { INSERT INTO t VALUES (1); }
step a2 { INSERT INTO t VALUES (2); }
session s2
step b1 { INSERT INTO t VALUES (3); }
step b2 { INSERT INTO t VALUES (4); }
SPEC
{
    my ($st, $out) = run_cmd(pgrace(), 'spec', $free);
    my @listed = sort map { $_->[1] } points($out);
    ($st, $out) = run_cmd(pgrace(), 'spec', '--explore', $free);
    my @explored = sort map { $_->[1] } points($out);
    is(scalar @explored, 6, '--explore: C(4,2) = 6 interleavings of two sessions of two steps');
    is_deeply(\@explored, \@listed, '... the same set isolationtester runs for a spec without permutations');
    ($st, $out) = run_cmd(pgrace(), 'spec', '--explore', '--preemptions', '0', $free);
    is(scalar(points($out)), 2, '--explore --preemptions 0: 2 (each session runs to its end)');
    like($out, qr/^# \S+free\.spec: at most 0 preemptions: \d+ interleavings left out$/m, 'and says how many it left out');
    ($st, $out) = run_cmd(pgrace(), 'spec', '--explore', '--json', "$dir/explore.json", $race);
    is(scalar(points($out)), 20, '--explore ignores the listed permutation: C(6,3) = 20 interleavings');
    ok($st == 1 && grep({ !$_->[0] } points($out)), '... among them the race the listed one does not show');
    my $skipped = () = $out =~ /^ok \d+ - .* # SKIP infeasible: step \w+: its session still waits for step \w+, which waits for s[12]$/mg;
    ok($skipped > 0, "interleavings whose session waits on a lock are skipped at once, not run to a timeout ($skipped)");
    my $j = JSON::PP->new->decode(do { local $/; open my $f, '<', "$dir/explore.json" or die $!; <$f> });
    my @sk = grep { $_->{verdict} eq 'skipped' } @{ $j->{items}[0]{points} };
    ok($j->{summary}{skipped} == $skipped && $j->{summary}{points} == 20 && @sk == $skipped
       && !grep({ $_->{reason} !~ /^infeasible: step \w+: its session still waits for step \w+, which waits for s[12]$/ } @sk),
       '--json: a skipped interleaving is "skipped", with its reason') or diag explain $j->{summary};
}

# ---- --faults finds what no listed permutation shows: a client that retries
# a transfer when its connection broke. A dropped COMMIT did not commit, so
# the retry makes it once; an ambiguous COMMIT did, so the retry makes it
# twice. Only the ambiguous COMMIT breaks the invariant.
my $transfer = spec_file('transfer', <<'SPEC');
setup { CREATE TABLE acct (id int PRIMARY KEY, balance int); INSERT INTO acct VALUES (1, 100), (2, 0); }
teardown { DROP TABLE acct; }
invariant "the transfer happened at most once" { SELECT id, balance FROM acct WHERE id = 2 AND balance > 10 }
session s1
# The session's own temp table: gone after a reconnect, which is how the
# client knows its connection broke.
setup { CREATE TEMP TABLE IF NOT EXISTS connected (x int); }
step t1 { BEGIN; UPDATE acct SET balance = balance - 10 WHERE id = 1; UPDATE acct SET balance = balance + 10 WHERE id = 2; }
step c1 { COMMIT; }
step retry { DO $$ BEGIN IF to_regclass('pg_temp.connected') IS NULL THEN
               UPDATE acct SET balance = balance - 10 WHERE id = 1;
               UPDATE acct SET balance = balance + 10 WHERE id = 2;
             END IF; END $$; }
permutation t1 c1 retry
permutation t1 c1[drop] retry
SPEC
{
    my ($st, $out) = run_cmd(pgrace(), 'spec', $transfer);
    is($st, 0, 'the listed permutations (one with a dropped COMMIT) hold') or diag $out;
    ($st, $out) = run_cmd(pgrace(), 'spec', '--faults', $transfer);
    is($st, 1, '--faults finds a failure') or diag $out;
    my @bad = map { $_->[1] } grep { !$_->[0] } points($out);
    is_deeply(\@bad, [ "$transfer: t1 c1[ambiguous] retry: invariant \"the transfer happened at most once\" violated (1 row)" ],
              'exactly the ambiguous COMMIT breaks it') or diag $out;
    like($out, qr/^# \S+transfer\.spec: --faults: \d+ permutations with one fault each/m, 'and says how many it ran');
}

# ---- --fault SPEC: the shim faults the sessions' statements, never the
# control connection (setup, teardown, invariants).
{
    my ($st, $out) = run_cmd(pgrace(), 'spec', '--fault', 'commit:when=1:error=40001', $transfer);
    is($st, 0, "--fault: the sessions' first COMMIT fails, the spec's setup and invariants run") or diag $out;
    like($out, qr/ERROR(?::|\\x3a)  could not serialize access/, 'the injected error shows in the output as a server error');
}

# ---- bad specs and options: one line on stderr, exit 2, nothing on stdout
my @bad = (
    [ 'syntax error',   [spec_file('b1', "session s1\nstep a { SELECT 1; }\nsetup { x }\n")], qr/b1\.spec: syntax error at line 3$/ ],
    [ 'unknown step',   [spec_file('b2', "session s1\nstep a {}\npermutation a b\n")], qr/b2\.spec: undefined step "b" specified in permutation$/ ],
    [ 'bad fault',      [spec_file('b3', "session s1\nstep a {}\npermutation a[explode]\n")], qr/b3\.spec: bad step fault "\[explode\]" at line 3: expected \[error=SQLSTATE\], \[drop\] or \[ambiguous\]$/ ],
    [ 'bad SQLSTATE',   [spec_file('b4', "session s1\nstep a {}\npermutation a[error=4000]\n")], qr/b4\.spec: bad step fault "\[error=4000\]"/ ],
    [ 'unterminated fault', [spec_file('b5', "session s1\nstep a {}\npermutation a[drop\n")], qr/b5\.spec: unterminated step fault '\[' at line 3$/ ],
    [ 'duplicate invariant', [spec_file('b6', "invariant i { SELECT 1 }\ninvariant i { SELECT 2 }\nsession s1\nstep a {}\n")], qr/b6\.spec: duplicate invariant name: i$/ ],
    [ 'invariant without SQL', [spec_file('b7', "session s1\nstep a {}\ninvariant \"x\"\n")], qr/b7\.spec: syntax error at line 4$/ ],
    [ 'conflicting settings', [spec_file('b8', "setting default_transaction_isolation serializable\nsession s1\nstep a {}\n"),
                               spec_file('b9', "setting default_transaction_isolation \"read committed\"\nsession s1\nstep a {}\n")],
      qr/b9\.spec: setting default_transaction_isolation "read committed" conflicts with \S+b8\.spec's "serializable"$/ ],
    [ 'missing file',   ["$dir/nosuch.spec"], qr/cannot read \S+nosuch\.spec: No such file or directory$/ ],
    [ 'no file',        [], qr/spec needs a spec file/ ],
    [ 'bad option',     ['--bogus', $race], qr/bad option '--bogus'/ ],
    [ 'bad timeout',    ['--call-timeout', 'soon', $race], qr/bad --call-timeout 'soon'/ ],
    [ 'bad seed',       ['--seed', 'x', $race], qr/bad --seed 'x'/ ],
    [ 'bad --fault',    ['--fault', 'commit:when=x', $race], qr/bad --fault: .*when/ ],
    [ '--preemptions without --explore', ['--preemptions', '1', $race], qr/--preemptions bounds --explore's interleavings/ ],
    [ 'unreachable server', ['--dsn', 'host=/nonexistent/pgrace connect_timeout=2', $race], qr/cannot connect/ ],
);
for my $case (@bad) {
    my ($name, $args, $want) = @$case;
    my ($s, $o, $e) = run_cmd(pgrace(), 'spec', @$args);
    ok($s == 2 && $o eq '' && $e =~ /\Apgrace: [^\n]*\n\z/ && $e =~ $want, "bad input ($name): one line, exit 2")
        or diag("status $s, stdout '$o', stderr '$e'");
}

done_testing();
