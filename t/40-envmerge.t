#!/usr/bin/perl
# The envmerge scenario (seed 003) end to end: see t/lib/ScenarioTest.pm.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Pgrace qw(under_cluster);
use ScenarioTest qw(check_scenario);

under_cluster();

my $stack = qr/^  record: "stack-\d+"$/m;
check_scenario(
    scenario => 'envmerge',
    breaks   => {
        'rmw/none' => { invariant => q{no lost keys: every ok merge's keys set and deleted}, record => $stack,
                        found => qr/^  found: "\d+ of \d+ ok merges lost a key; env has \d+ keys"$/m },
        'precheck/none' => { invariant => 'no env change committed after teardown began', record => $stack,
                             found => qr/^  found: "\d+ env changes? committed after teardown began \(deleting_seq \d+\)"$/m },
        'sql-merge/none' => { invariant => 'env never exceeds the 64 KiB cap', record => $stack,
                              found => qr/^  found: "env is \d+ bytes \(\d+ keys\), cap 65536; \d+ merges got ok"$/m },
    },
    n64_iterations => 10,
);

done_testing();
