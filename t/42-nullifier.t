#!/usr/bin/perl
# The nullifier scenario (seed 002) end to end: see t/lib/ScenarioTest.pm.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Pgrace qw(under_cluster);
use ScenarioTest qw(check_scenario);

under_cluster();

check_scenario(
    scenario => 'nullifier',
    breaks   => {
        'no-constraint/none'  => {},
        'no-idempotency/none' => {},
        'unmapped-23505/none' => {},
    },
);

done_testing();
