#!/usr/bin/perl
# The approve scenario (seed 004) end to end: see t/lib/ScenarioTest.pm.
# side-conn's bug needs a failed COMMIT: concurrency alone (plan none) does
# not catch it, since the row lock still serialises the approvers. The same
# holds for expire-side-conn (the expiry worker racing the approvers, with
# the fix applied to ApproveAndSend only).
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Pgrace qw(under_cluster);
use ScenarioTest qw(check_scenario);

under_cluster();

check_scenario(
    scenario => 'approve',
    breaks   => {
        'side-conn/commit-lost' => {
            fault => 1,
            found => qr/^  found: "outbound pending_approval, 1 inbound \(\d+\); 0 callers got ok"$/m },
        'side-conn/reapprove' => {
            fault => 1,
            found => qr/^  found: "outbound sent, [2-9]\d* inbound \(\d+(, \d+)+\); 1 caller got ok"$/m },
        'side-conn/commit-error' => {
            fault => 1,
            found => qr/^  found: "\d+ callers? told something the rows contradict"$/m },
        'expire-side-conn/commit-error' => {
            fault => 1,
            found => qr/^  found: "outbound pending_approval, 1 inbound \(\d+\); 0 callers got ok"$/m },
    },
    holds => ['side-conn/none', 'expire-side-conn/none'],
);

done_testing();
