#!/usr/bin/perl
# The report files beside TAP: --junit validates against the strict Ant
# schema (xmllint), --json against reports/report.schema.json (Python's
# jsonschema) and holds per-call outcomes, verdicts, seed, latency
# percentiles, injected faults and each iteration's fault spec; --html
# renders in headless Chromium with one timeline lane per worker and fault
# markers; TAP on stdout stays what prove accepts. The external validators
# are skipped only when they cannot run; the C code paths always run.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use TAP::Parser;
use File::Temp qw(tempdir);
use JSON::PP;
use Pgrace qw(pgrace run_cmd under_cluster sanitized tap_of junit_errors);
use PgraceList qw(scenarios);

under_cluster();    # one throwaway server for every run below

my ($attestation) = grep { $_->{name} eq 'attestation' } scenarios();
my $ninv = @{ $attestation->{invariants} };

my $dir = tempdir(CLEANUP => 1);
my $schema = 'reports/report.schema.json';

sub have { my ($cmd) = @_; system("command -v $cmd >/dev/null 2>&1") == 0 }
my $have_jsonschema = system('/usr/bin/python3', '-c', 'import jsonschema') == 0;
my $chromium = (grep { have($_) } qw(chromium chromium-browser))[0];

sub slurp { my ($f) = @_; local $/; open my $h, '<', $f or die "$f: $!"; my $s = <$h>; return $s }

# Runs pgrace with all three reports into $dir/$name.*; returns (status,
# stdout, stderr, decoded JSON, HTML text, JUnit text).
sub run_reports {
    my ($name, @args) = @_;
    my @files = map { "$dir/$name.$_" } qw(xml json html);
    my ($st, $out, $err) = run_cmd(pgrace(), 'run', @args, '--junit', $files[0], '--json', $files[1],
                                   '--html', $files[2]);
    my $json = -s $files[1] ? decode_json(slurp($files[1])) : undef;
    return ($st, $out, $err, $json, -e $files[2] ? slurp($files[2]) : '', -e $files[0] ? slurp($files[0]) : '',
            @files);
}

sub check_junit {
    my ($what, $file) = @_;
    my $errors = junit_errors($file);
    is($errors, '', "$what: JUnit validates against the strict Ant schema") or diag $errors;
}

sub check_json_schema {
    my ($what, $file) = @_;
    SKIP: {
        skip 'python3 jsonschema is missing', 1 unless $have_jsonschema;
        my ($st, $out, $err) = run_cmd('/usr/bin/python3', '-c', <<'PY', $schema, $file);
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(json.load(open(sys.argv[2]))), key=str)
for e in errors[:5]:
    print(list(e.absolute_path), e.message)
sys.exit(1 if errors else 0)
PY
        is($st, 0, "$what: JSON validates against $schema") or diag $out, $err;
    }
}

# The page's DOM after Chromium ran it, or undef when Chromium cannot run.
sub rendered_dom {
    my ($file) = @_;
    return undef unless $chromium;
    my $profile = tempdir(CLEANUP => 1);
    my ($st, $out, $err) = run_cmd('timeout', '120', $chromium, qw(--headless --no-sandbox --disable-gpu
        --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync
        --disable-breakpad), "--user-data-dir=$profile", '--dump-dom', "file://$file");
    diag "chromium: exit $st: $err" if $st || $out !~ /<body/;
    return $st == 0 && $out =~ /<body/ ? $out : undef;
}

sub check_html {
    my ($what, $file, $html, $lanes, $want_faults) = @_;
    unlike($html, qr/<(?:link|script)[^>]+(?:src|href)=|\@import|url\(/i, "$what: HTML is self-contained");
    SKIP: {
        my $dom = rendered_dom($file);
        skip 'chromium cannot run here', 3 unless defined $dom;
        like($dom, qr/<body[^>]*data-rendered="yes"/, "$what: the page's script ran in Chromium");
        my $n = () = $dom =~ /<g class="lane" data-worker="\d+"/g;
        is($n, $lanes, "$what: rendered DOM has $lanes timeline lanes (one per worker)");
        my $f = () = $dom =~ /<path class="fault"/g;
        if ($want_faults) {
            ok($f >= 1, "$what: injected faults are marked ($f)");
        } else {
            is($f, 0, "$what: no fault markers without faults");
        }
    }
}

{
    my ($st, $out, $err, $j, $html, $xml, @f) = run_reports('pass', qw(attestation -n 4 -i 10));
    is($st, 0, 'passing run with reports: exit 0') or diag $out, $err;
    my $p = tap_of($out);
    ok(!$p->parse_errors, 'TAP with reports enabled still parses') or diag join "\n", $p->parse_errors;
    is($p->version, 13, 'TAP version 13');
    is(scalar $p->passed, $p->tests_planned, 'prove: every point passes');
    like($out, qr/^# attestation\/fixed: .* calls ok \d+ \(p50 [\d.]+ms p90 [\d.]+ms p99 [\d.]+ms max [\d.]+ms\)/m,
         'TAP comment carries p50/p90/p99/max');
    check_junit('pass', $f[0]);
    my $cases = () = $xml =~ /<testcase /g;
    is($cases, $ninv, 'pass: one testcase per invariant');
    unlike($xml, qr/<failure/, 'pass: no failure element');
    like($xml, qr/<property name="latency\.ok\.p90_ms" value="[\d.]+"\/>/, 'pass: JUnit carries latency percentiles');
    check_json_schema('pass', $f[1]);
    ok($j && $j->{seed} =~ /^\d+$/, 'pass: JSON has the seed');
    my $item = $j->{items}[0];
    is($item->{verdict}, 'ok', 'pass: item verdict ok');
    is($j->{mode}, 'run', 'pass: the record names its mode');
    is(scalar @{ $item->{points} }, $ninv, 'pass: a point per invariant');
    ok(!grep({ $_->{verdict} ne 'ok' } @{ $item->{points} }), 'pass: every point ok');
    is(scalar @{ $item->{history} }, 10, 'pass: every iteration kept');
    is(scalar @{ $item->{history}[0]{calls} }, 4, 'pass: every call of an iteration');
    ok(!grep({ $_->{type} eq 'ok' && $_->{status} != 200 } map { @{ $_->{calls} } } @{ $item->{history} }),
       'pass: every ok call carries status 200');
    ok(!grep({ $_->{outcome} eq 'conflict' && $_->{status} != 409 } map { @{ $_->{calls} } } @{ $item->{history} }),
       'pass: every refused verify carries status 409');
    ok((grep { $_->{type} eq 'ok' } map { @{ $_->{calls} } } @{ $item->{history} }) == 10, 'pass: one ok per iteration');
    ok(defined $item->{latency}{ok}{p90_ns} && defined $item->{latency}{ok}{p99_ns}, 'pass: latency percentiles');
    is($item->{settings}{workers}, 4, 'pass: settings name the workers');
    is($item->{replay}, undef, 'pass: nothing to replay');
    check_html('pass', $f[2], $html, 4, 0);
    like($html, qr/the slowest; every invariant held/, 'pass: the timeline shows the slowest iteration');
}

{
    my ($st, $out, $err, $j, $html, $xml, @f) = run_reports('fail', qw(attestation --impl no-lock -n 6 -i 20));
    is($st, 1, 'failing run with reports: exit 1') or diag $out, $err;
    my $p = tap_of($out);
    ok(!$p->parse_errors, 'failing TAP still parses');
    ok($p->failed >= 1, 'prove counts the failure');
    check_junit('fail', $f[0]);
    my $cases = () = $xml =~ /<testcase /g;
    is($cases, $ninv, 'fail: one testcase per invariant');
    like($xml, qr/<failure type="invariant-violated" message="violated in \d+ of 20 iterations/,
         'fail: failure with type and message');
    like($xml, qr/<failure[^>]*>---\nscenario: &quot;attestation&quot;\n.*?repeat: &quot;[^\n]*--seed \d+/s,
         'fail: failure carries the TAP YAML diagnostics');
    check_json_schema('fail', $f[1]);
    my $item = $j->{items}[0];
    is($item->{verdict}, 'violated', 'fail: item verdict violated');
    my ($cred) = grep { $_->{name} eq 'exactly one credential per record' } @{ $item->{points} };
    is($cred->{verdict}, 'violated', 'fail: the invariant is violated');
    like($cred->{diagnostics}{repeat}, qr/--seed \d+/, 'fail: diagnostics carry the repeat command');
    ok(defined $item->{replay}{iteration}, 'fail: replay names the first failing iteration');
    my @types = map { $_->{type} } map { @{ $_->{calls} } } @{ $item->{history} };
    ok((grep { $_ eq 'ok' } @types) > 20, 'fail: several ok calls per iteration recorded');
    my ($traced) = grep { $_->{iteration} == $item->{timeline_iteration} } @{ $item->{history} };
    my @stmts = map { @{ $_->{statements} // [] } } @{ $traced ? $traced->{calls} : [] };
    ok($traced && !grep({ ref $_->{statements} ne 'ARRAY' } @{ $traced->{calls} }) && @stmts >= 6,
       'fail: the traced iteration carries every call\'s statements');
    check_html('fail', $f[2], $html, 6, 0);
    like($html, qr/the first that violated an invariant/, 'fail: the timeline shows the first violation');
}

{
    my ($st, $out, $err, $j, $html, $xml, @f) = run_reports('sweep', qw(attestation --impl no-tx --plan sweep));
    is($st, 1, 'no-tx sweep with reports: caught') or diag $out, $err;
    check_junit('sweep', $f[0]);
    check_json_schema('sweep', $f[1]);
    my $item = $j->{items}[0];
    is($item->{settings}{plan}, 'sweep', 'sweep: plan named');
    my @specs = grep { $_ ne '' } map { $_->{fault} } @{ $item->{history} };
    ok(@specs >= 3, 'sweep: iterations carry their fault rules') or diag explain $item->{history}[0];
    like($specs[0] // '', qr/^stmt:conn=1:when=\d+:/, 'sweep: a sweep rule');
    my @faulted = grep { $_->{faults} > 0 && defined $_->{fault} } map { @{ $_->{calls} } } @{ $item->{history} };
    ok(@faulted >= 3, 'sweep: calls carry the injected faults');
    like($item->{replay}{fault} // '', qr/^stmt:/, 'sweep: replay carries the fault rules');
    check_html('sweep', $f[2], $html, 1, 1);
}

{
    # One worker: it always reaches COMMIT, where the plan's fault waits
    # for worker 1 (with more, another worker may win every race).
    my ($st, $out, $err, $j, $html, $xml, @f) = run_reports('ambiguous', qw(attestation --plan commit-ambiguous -n 1 -i 5));
    check_json_schema('ambiguous', $f[1]);
    my @info = grep { $_->{type} eq 'info' } map { @{ $_->{calls} } } @{ $j->{items}[0]{history} };
    ok(@info >= 1, 'commit-ambiguous: an indeterminate call has type info') or diag $out;
    ok(!grep({ !$_->{indeterminate} } @info), 'commit-ambiguous: info calls are the indeterminate ones');
    check_junit('ambiguous', $f[0]);
}

# One record for every mode: soak, explore and spec write the same JSON
# (one schema validates them all), the same JUnit and the same page, and
# `pgrace replay` reruns what any of them found.
{
    my $spec = "$dir/race.spec";
    open my $fh, '>', $spec or die $!;
    print $fh <<'SPEC';
setup { CREATE TABLE acct (id int primary key, balance int); INSERT INTO acct VALUES (1, 100); }
teardown { DROP TABLE acct; }
session s1
step r1 { BEGIN; SELECT balance FROM acct WHERE id = 1; }
step w1 { UPDATE acct SET balance = balance - 80 WHERE id = 1 AND balance >= 80; }
step c1 { COMMIT; }
session s2
step w2 { UPDATE acct SET balance = balance - 80 WHERE id = 1; }
invariant "balance never negative" { SELECT id, balance FROM acct WHERE balance < 0 }
permutation r1 w1 c1 w2
permutation w2 r1 w1 c1
SPEC
    close $fh;
    my %runs = (
        soak    => [qw(soak attestation/no-tx -i 500 --seed 2)],   # its minimal round's faults replay it
        explore => [qw(explore attestation/no-lock --seed 5)],
        spec    => ['spec', $spec, qw(--seed 5)],
    );
    for my $mode (sort keys %runs) {
        my @f = map { "$dir/$mode.$_" } qw(xml json html);
        my ($st, $out, $err) = run_cmd(pgrace(), @{ $runs{$mode} }, '--junit', $f[0], '--json', $f[1],
                                       '--html', $f[2]);
        is($st, 1, "$mode: caught, exit 1") or diag $out, $err;
        check_json_schema($mode, $f[1]);
        check_junit($mode, $f[0]);
        my $j = -s $f[1] ? decode_json(slurp($f[1])) : {};
        is($j->{mode}, $mode, "$mode: the record names its mode");
        my @verdicts = map { $_->{verdict} } map { @{ $_->{points} } } @{ $j->{items} || [] };
        ok(@verdicts && !grep({ !/^(ok|violated|error|skipped)$/ } @verdicts) && grep({ $_ eq 'violated' } @verdicts),
           "$mode: points in the one vocabulary, one violated");
        my $p = tap_of($out);
        ok(!$p->parse_errors, "$mode: Test::Harness reads its TAP, diagnostics included")
            or diag join "\n", $p->parse_errors;
        is(scalar(my @failed = $p->failed), scalar(grep { $_ eq "violated" } @verdicts),
           "$mode: TAP and the record agree on what failed");
        my $html = -e $f[2] ? slurp($f[2]) : '';
        like($html, qr/<tr class="point" data-verdict="violated">/, "$mode: the page lists its points");
        my ($rst, $rout, $rerr) = run_cmd(pgrace(), 'replay', $f[1], '--times', 2);
        is($rst, 1, "$mode: replay of its report fails again") or diag $rout, $rerr;
        unlike($rout, qr/^ok \d+ - .*# SKIP/m, "$mode: the replay ran what it replays") if $mode ne 'spec';
    }
    # A report carries the pooler its run went through, and replay takes it.
    my $f = "$dir/pooled.json";
    my ($st, $out, $err) = run_cmd(pgrace(), qw(run attestation/no-tx --plan sweep --pooler pgbouncer:session --json), $f);
    is($st, 1, 'through the pooler: caught');
    my $j = -s $f ? decode_json(slurp($f)) : {};
    is($j->{items}[0]{settings}{pooler}, 'pgbouncer:session', 'the report names the pooler');
    ($st, $out, $err) = run_cmd(pgrace(), 'replay', $f);
    ok($st == 1 && $out =~ /^# pgrace: .*through pgbouncer:session$/m, 'replay goes through it again') or diag $out, $err;
}

{
    my ($st, $out, $err) = run_cmd(pgrace(), qw(run attestation -n 2 -i 2 --json), "$dir/no/such/dir/r.json");
    is($st, 2, 'an unwritable report file: exit 2');
    like($err, qr/\Apgrace: cannot write .*r\.json: No such file or directory\n\z/, 'one line on stderr');
}

done_testing();
