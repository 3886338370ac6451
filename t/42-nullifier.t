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
        'no-constraint/none'  => { invariant => 'one submission per nullifier' },
        'no-idempotency/none' => { invariant => 'every call with one idempotency key gets the same id' },
        'unmapped-23505/none' => { invariant => 'one accepted submission per nullifier, the rest conflict' },
    },
    n64_iterations => 60,
);

done_testing();
