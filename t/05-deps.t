#!/usr/bin/perl
# tools/deps, the one place that knows pgrace's Debian packages: it finds
# what is missing from a dpkg database, and a user who is not root gets the
# one command to type (exit 2) instead of a compiler error. The database is
# a copy of this machine's with packages taken out, read by the real
# dpkg-query.
use strict;
use warnings;
use lib 't/lib';
use File::Temp qw(tempdir);
use Test::More;
use Pgrace qw(run_cmd);

plan skip_all => 'not a Debian machine (no dpkg-query)' unless -x '/usr/bin/dpkg-query';

# A dpkg database like this machine's, without the named packages.
sub database_without {
    my @gone = @_;
    my $dir = tempdir(CLEANUP => 1);
    chmod 0755, $dir;
    mkdir "$dir/$_" for qw(info updates);
    open my $in, '<', '/var/lib/dpkg/status' or die "dpkg status: $!";
    open my $out, '>', "$dir/status" or die "$dir/status: $!";
    local $/ = '';
    while (my $stanza = <$in>) {
        my ($name) = $stanza =~ /^Package: (\S+)$/m;
        print $out $stanza unless grep { $_ eq $name } @gone;
    }
    close $out;
    return $dir;
}

my $full = database_without();
my ($st, $out, $err) = run_cmd('tools/deps', 'missing', '--admindir', $full, 'build', 'test');
is($st, 0, 'missing: exits 0');
is($out, '', "nothing is missing on this machine (it ran .ci/run's install)") or diag $out;

my $db = database_without(qw(libjansson-dev python3-psycopg));
($st, $out) = run_cmd('tools/deps', 'missing', '--admindir', $db, 'build');
is($out, "libjansson-dev\n", 'build set: finds the missing jansson headers only');
($st, $out) = run_cmd('tools/deps', 'missing', '--admindir', $db, 'test');
is($out, "libjansson-dev\npython3-psycopg\n", 'test set: also the missing third-party client');

# Not root: one line, the exact command, exit 2.
my @as_user = $> == 0 ? ('setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups') : ();
($st, $out, $err) = run_cmd(@as_user, 'tools/deps', 'ensure', '--admindir', $db, 'test');
is($st, 2, 'ensure, not root, packages missing: exit 2');
is($err, "pgrace: missing Debian packages (libjansson-dev python3-psycopg); install them with: "
         . "sudo apt-get install -y --no-install-recommends libjansson-dev python3-psycopg\n",
   'ensure says the one command to type, on one line');
($st, $out, $err) = run_cmd(@as_user, 'tools/deps', 'ensure', '--admindir', $full, 'build', 'test');
is($st, 0, 'ensure with nothing missing: exit 0');
is($err, '', '... and silent');

SKIP: {
    skip 'not root', 2 unless $> == 0;
    # Root would install; into a copied database it must refuse instead.
    ($st, $out, $err) = run_cmd('tools/deps', 'ensure', '--admindir', $db, 'build');
    is($st, 2, 'ensure as root never installs into a copied database');
    like($err, qr/not installing into --admindir .* \(missing: libjansson-dev\)/, '... and says so');
}

($st, $out, $err) = run_cmd('tools/deps', 'missing', 'nosuchset');
is($st, 2, 'unknown set: exit 2');
like($err, qr/unknown set 'nosuchset'/, '... named');

done_testing();
