#!/usr/bin/perl
# The envmerge scenario (seed 003) end to end: see t/lib/ScenarioTest.pm.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Pgrace qw(under_cluster);
use ScenarioTest qw(check_scenario);

under_cluster();

my $stack = qr/^  stack: "stack-\d+"$/m;
check_scenario(
    scenario => 'envmerge',
    breaks   => {
        'rmw/none' => { record => $stack,
                        found => qr/^  found: "\d+ of \d+ ok merges lost a key; env has \d+ keys"$/m },
        'precheck/none' => { record => $stack,
                             found => qr/^  found: "\d+ env changes? committed after teardown began \(deleting_seq \d+\)"$/m },
        'sql-merge/none' => { record => $stack,
                              found => qr/^  found: "env is \d+ bytes \(\d+ keys\), cap 65536; \d+ merges got ok"$/m },
    },
    n64_iterations => 10,
);

done_testing();
