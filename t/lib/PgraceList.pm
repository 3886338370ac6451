# PgraceList.pm — `pgrace list` parsed: scenarios, their variants (with the
# plans that catch each pre-fix form and the invariant each catches it by,
# as its id), invariants (the driver's deadline invariant last) and fault
# plans, and the pinned guarantees.
package PgraceList;
use strict;
use warnings;
use Exporter 'import';
use Pgrace qw(pgrace run_cmd);

our @EXPORT_OK = qw(scenarios);

# Returns a list of { name, variants => [{ name, caught => { PLAN => ID }, minus => [PIN..] }],
# invariants => [..] (sentences, as TAP names them), ids => [..] (in the same
# order), invariant => { ID => SENTENCE }, plans => [..] (names),
# plan => { NAME => { sweep, fault, params, pause } }, pins => [{ name, plan, invariant }] (invariant:
# the id of the one its loss breaks, when the pin names it) } in list order.
sub scenarios {
    my ($st, $out, $err) = run_cmd(pgrace(), 'list');
    die "pgrace list: $err" if $st;
    my @s;
    for my $block (split /\n\n/, $out) {
        my ($name) = $block =~ /^(\S+) — / or next;
        my %sc = (name => $name, variants => [], invariants => [], ids => [], invariant => {}, plans => [],
                  plan => {}, pins => []);
        my $part = '';
        for my $line (split /\n/, $block) {
            if ($line =~ /^  (variants|invariants|fault plans|pause points|pinned guarantees)/) { $part = $1; next }
            if ($part eq 'variants' && $line =~ /^\s+caught by plan (\S+): (\S+)$/) {
                $sc{variants}[-1]{caught}{$1} = $2;
            } elsif ($part eq 'variants' && $line =~ /^\s+the fixed form without pin (\S+)$/) {
                push @{ $sc{variants}[-1]{minus} }, $1;
            } elsif ($part eq 'variants' && $line =~ /^    (\S+)\s/) {
                push @{ $sc{variants} }, { name => $1, caught => {}, minus => [] };
            } elsif ($part eq 'invariants' && $line =~ /^    - ([a-z0-9-]+): (.*)$/) {
                push @{ $sc{ids} }, $1;
                push @{ $sc{invariants} }, $2;
                $sc{invariant}{$1} = $2;
            } elsif ($part eq 'fault plans' && $line =~ /^\s+(sweep|fault|params|pause): ?(.*)$/) {
                $sc{plan}{ $sc{plans}[-1] }{$1} = $1 eq 'sweep' ? 1 : $2;
            } elsif ($part eq 'fault plans' && $line =~ /^    (\S+)/) {
                push @{ $sc{plans} }, $1;
                $sc{plan}{$1} = {};
            } elsif ($part eq 'pinned guarantees' && $line =~ /^    (\S+)\s+.* \[plan ([^,\]]+)(?:, invariant (\S+))?\]$/) {
                push @{ $sc{pins} }, { name => $1, plan => $2, invariant => $3 };
            }
        }
        push @s, \%sc;
    }
    return @s;
}

1;
