#!/usr/bin/perl
# The credstore scenario (seed 001) end to end: see t/lib/ScenarioTest.pm.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Pgrace qw(under_cluster);
use ScenarioTest qw(check_scenario);

under_cluster();

check_scenario(
    scenario => 'credstore',
    breaks   => {
        'vault-first/meta-and-rollback-error' => { fault => 1 },
        'unmarked-commit/commit-error'        => { fault => 1 },
        'pending-visible/none'                => {},
    },
    n64_iterations => 60,
);

done_testing();
