#!/usr/bin/perl
# pgrace with the fault shim: --fault, --plan and the fault sweep. The fixed
# attestation survives every statement position and action; no-tx is caught
# by the partial failure and retry (the seed's double credential) in every
# run; a violation says which fault fired where; a bad spec is one line and
# exit 2 before anything starts.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Pgrace qw(pgrace run_cmd under_cluster repeat_count psql_value);

under_cluster();

my ($st, $out, $err) = run_cmd(pgrace(), qw(run attestation --fault-sweep));
is($st, 0, 'fixed: every statement position x action, then a retry: all invariants hold') or diag $out, $err;
like($out, qr/fault sweep over (\d+) statement positions x 3 actions/, 'the sweep says what it covered');
my ($positions) = $out =~ /sweep over (\d+) statement positions/;
ok(($positions // 0) >= 8, "fixed sends at least 8 statements on its ok path ($positions)");
like($out, qr/^# attestation\/fixed \[fault-sweep\]: .* (retryable|error) \d+/m, 'faults really fired: failed calls recorded');

my $runs = repeat_count(20);
my ($caught, $last) = (0, '');
for (1 .. $runs) {
    ($st, $out) = run_cmd(pgrace(), qw(run attestation --impl no-tx --fault-sweep));
    $caught++ if $st == 1 && $out =~ /^not ok \d+ - attestation\/no-tx \[fault-sweep\]: exactly one credential per record$/m;
    $last = $out;
}
is($caught, $runs, "no-tx: the retry after a partial failure mints a second credential, in each of $runs runs")
    or diag $last;
my ($yaml) = $last =~ /exactly one credential per record\n  ---\n(.*?)\n  \.\.\.\n/s;
$yaml //= '';
like($yaml, qr/^  found: "2 credentials; 1 caller got ok/m, 'diagnostics: two credentials, one ok');
like($yaml, qr/^    - "worker 1 \(retry\): ok/m, 'diagnostics: the retry is what got ok');
like($yaml, qr/^  faults:\n    - "worker 1: stmt:conn=1:when=\d+:\S+ at statement \d+ of connection 1: /m,
     'diagnostics: which fault fired, at which statement of which connection');
like($yaml, qr/^  repeat: ".*--fault-sweep"$/m, 'the repeat command keeps the sweep');

# A plain --fault spec, installed afresh every iteration.
($st, $out) = run_cmd(pgrace(), qw(run attestation -i 20 --retries 1 --fault commit:when=1:error=40001));
is($st, 0, '--fault commit:when=1:error=40001 with a retry: fixed holds');
like($out, qr/ retryable (\d+) /, 'and every iteration saw the injected 40001');
my ($retryable) = $out =~ / retryable (\d+) /;
ok(($retryable // 0) >= 20, "at least one injected failure per iteration ($retryable)");

# The shim's own log works under pgrace too.
my $log = "/tmp/pgrace-faults-$$.jsonl";
{
    local $ENV{PGFAULT_LOG} = $log;
    ($st, $out) = run_cmd(pgrace(), qw(run attestation -n 2 -i 5 --fault commit:when=1:drop --retries 1));
}
is($st, 0, 'drop at COMMIT with a retry: fixed holds');
open my $lf, '<', $log;
my @lines = $lf ? <$lf> : ();
unlink $log;
ok(@lines >= 5, 'PGFAULT_LOG has a line per injected fault (' . scalar(@lines) . ')');
like($lines[0] // '', qr/"action":\s*"drop"/, 'log lines name the action');

# Bad specs: one line naming the token, exit 2, nothing started or left.
my $schemas_before = psql_value(q{SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'pgrace\_%'});
for my $bad ('commit:when=x:error=40001', 'frobnicate', 'commit:error=4000', 'stmt:drop:ambiguous', 'sql=/unterminated') {
    ($st, $out, $err) = run_cmd(pgrace(), qw(run attestation -i 1 --fault), $bad);
    is($st, 2, "--fault '$bad': exit 2");
    is(($err =~ tr/\n//), 1, "--fault '$bad': one line") or diag $err;
    like($err, qr/bad --fault: bad fault rule at "[^"]+"/, "--fault '$bad': names the bad token");
    unlike($out, qr/^ok/m, "--fault '$bad': ran nothing");
}
is(psql_value(q{SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'pgrace\_%'}), $schemas_before,
   'bad specs left no schema behind');
($st, $out, $err) = run_cmd(pgrace(), qw(run attestation --plan nosuch));
is($st, 2, 'an unknown plan: exit 2');
like($err, qr/has no plan 'nosuch'/, 'an unknown plan: says so');

done_testing();
