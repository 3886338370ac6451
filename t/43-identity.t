#!/usr/bin/perl
# The identity scenario (seed 002) end to end: see t/lib/ScenarioTest.pm.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Pgrace qw(under_cluster);
use ScenarioTest qw(check_scenario);

under_cluster();

check_scenario(
    scenario => 'identity',
    breaks   => {
        'no-tx/none'        => {},
        'no-tx/audit-error' => { fault => 1 },
        'seed-tx/none'      => {},
    },
);

done_testing();
