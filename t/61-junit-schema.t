#!/usr/bin/perl
# reports/junit.xsd, pgrace's own schema of the strict Ant JUnit format, can
# fail: a document in the shape pgrace writes validates, and each of the
# format's rules broken in a copy of it is rejected. (t/60-reports.t and
# t/81-spec.t validate what pgrace writes against it.)
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Temp qw(tempdir);
use Pgrace qw(junit_errors);

my $dir = tempdir('pgrace-junit.XXXXXX', TMPDIR => 1, CLEANUP => 1);

my $good = <<'XML';
<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="attestation/no-lock" package="pgrace.attestation" id="0" timestamp="2026-12-03T09:54:21" hostname="vm" tests="3" failures="1" errors="1" skipped="1" time="0.007">
    <properties>
      <property name="seed" value="42"/>
    </properties>
    <testcase name="exactly one credential per record" classname="pgrace.attestation.no-lock" time="0.001">
      <failure type="invariant-violated" message="violated in 2 of 2 iterations">found: 2 credentials</failure>
    </testcase>
    <testcase name="every call finishes within the deadline" classname="pgrace.attestation.no-lock" time="0.001">
      <error type="setup" message="cannot connect">no server</error>
    </testcase>
    <testcase name="a1 b1 b2 a2" classname="pgrace.spec.x.spec" time="0">
      <skipped message="infeasible: step b2: its session still waits for step b1"/>
    </testcase>
    <system-out>2 iterations</system-out>
    <system-err></system-err>
  </testsuite>
  <testsuite name="attestation/fixed" package="pgrace.attestation" id="1" timestamp="2026-12-03T09:54:21" hostname="vm" tests="0" failures="0" errors="0" time="0">
    <properties/>
    <system-out/>
    <system-err/>
  </testsuite>
</testsuites>
XML

sub check {
    my ($text) = @_;
    my $f = "$dir/case.xml";
    open my $h, '>', $f or die "$f: $!";
    print $h $text;
    close $h;
    return junit_errors($f);
}

is(check($good), '', 'a document in the shape pgrace writes validates');
(my $single = $good) =~ s{\A(.*?)<testsuites>\n(.*?)</testsuite>.*\z}{$1$2</testsuite>\n}s;
$single =~ s/ package="[^"]*" id="\d+"//;
is(check($single), '', 'so does one testsuite on its own');

# Each broken rule, in a copy of the good document.
my @broken = (
    [ 'a testcase without classname',      sub { s/ classname="pgrace.attestation.no-lock"// } ],
    [ 'a testcase without time',           sub { s/(name="a1 b1 b2 a2" classname="\S+") time="0"/$1/ } ],
    [ 'two outcomes in one testcase',      sub { s{(<failure [^>]*>[^<]*</failure>)}{$1<error type="x"/>} } ],
    [ 'a failure without its type',        sub { s/<failure type="invariant-violated" /<failure / } ],
    [ 'no system-err',                     sub { s{<system-err></system-err>}{} } ],
    [ 'system-out before the testcases',   sub { s{(<testcase name="exactly)}{<system-out/>$1} } ],
    [ 'no properties',                     sub { s{<properties/>}{} } ],
    [ 'a timestamp with a zone',           sub { s/timestamp="2026-12-03T09:54:21"/timestamp="2026-12-03T09:54:21Z"/ } ],
    [ 'a negative count',                  sub { s/failures="1"/failures="-1"/ } ],
    [ 'a count that is not a number',      sub { s/tests="3"/tests="three"/ } ],
    [ 'an empty testsuite name',           sub { s/name="attestation\/fixed"/name=""/ } ],
    [ 'no hostname',                       sub { s/ hostname="vm"// } ],
    [ 'an aggregated testsuite without id', sub { s/ id="1"// } ],
    [ 'two testsuites with one id',        sub { s/ id="1"/ id="0"/ } ],
    [ 'an element the format does not have', sub { s{<system-out>2 iterations}{<flaky/><system-out>2 iterations} } ],
);
for my $case (@broken) {
    my ($name, $edit) = @$case;
    local $_ = $good;
    $edit->();
    ok($_ ne $good, "planted: $name") or next;
    like(check($_), qr{^reports/junit\.xsd: }m, "  rejected by reports/junit.xsd");
}

done_testing();
