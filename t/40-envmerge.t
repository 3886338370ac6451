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
        # #235 had no lock_timeout: its merges wait out the holder.
        'precheck/lock-holder' => { record => $stack,
                                    found => qr/^  found: "\d+ merges? waited out a row lock held \d+ms, past lock_timeout 25ms"$/m },
        # The one UPDATE cannot tell a vanished stack from a deleting one.
        'sql-merge/slow-read' => { record => $stack,
                                   found => qr/^  found: "\d+ merges? answered with the wrong status"$/m },
    },
);

done_testing();
