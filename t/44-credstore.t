#!/usr/bin/perl
# The credstore scenario (seed 001) end to end: see t/lib/ScenarioTest.pm.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Pgrace qw(under_cluster);
use ScenarioTest qw(check_scenario);

under_cluster();

my $orphan = 'every vault entry has a committed metadata row or an orphan marker';
check_scenario(
    scenario => 'credstore',
    breaks   => {
        'vault-first/meta-and-rollback-error' => { invariant => $orphan, fault => 1 },
        'unmarked-commit/commit-error'        => { invariant => $orphan, fault => 1 },
        'pending-visible/none'                => { invariant => 'no reader sees a pending row or a torn value' },
    },
    n64_iterations => 60,
);

done_testing();
