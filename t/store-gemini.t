# Gemini rows in both stores: other.project, other.api_endpoint and
# other.flavour are read where a row enters and held to their rules.  The
# accounts file refuses to start with a bad one, the field named and its
# value never logged; PostgreSQL skips such a row and serves the others;
# good rows keep their shape when written back.

use strict;
use warnings;

use Test::More;
use HTTP::Tiny ();
use JSON::PP ();
use Time::HiRes qw(sleep time);

use Q2api::Nginx;
use Q2api::Pg;

my $probe = Q2api::Nginx->new;
plan skip_all => "$probe->{module} is missing: run make"
    unless -f $probe->{module};
undef $probe;

my $json = JSON::PP->new->canonical;
my @AUTH = (Authorization => 'Bearer admin-password-1');
my $SANDBOX = 'https://daily-cloudcode-pa.sandbox.googleapis.com';

sub gateway {
    my ($store) = @_;
    return Q2api::Nginx->new(workers => 1, http => <<"_EOC_", server => <<'_EOC_');
    q2api_zone q2api 8m;
    q2api_store $store;
    q2api_store_interval 100ms;
_EOC_
        location / {
            q2api_admin;
            q2api_admin_password admin-password-1;
        }
_EOC_
}

sub wait_for {
    my ($secs, $cond) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) {
        my $v = $cond->();
        return $v if $v;
        sleep 0.05;
    }
    return $cond->();
}

sub listing {
    my ($n) = @_;
    my $res = $n->get('/v2/accounts?type=gemini', @AUTH);
    return $res->{status} == 200 ? $json->decode($res->{content}) : undef;
}

# the file: a bad value stops the start, named by field, never by value
for my $case (
    [ 'project', { project => 'evil/../x' } ],
    [ 'project', { project => "p\r\nX-Injected: yes" } ],
    [ 'api_endpoint', { api_endpoint => 'https://evil.example.com' } ],
    [ 'api_endpoint', { api_endpoint => 'http://cloudcode-pa.googleapis.com' } ],
    [ 'flavour', { flavour => 'evil-flavour' } ],
) {
    my ($what, $other) = @$case;
    my $n = gateway('file accounts.json');
    $n->write_file('accounts.json', $json->encode([
        { id => 'g', type => 'gemini', accessToken => 'ya29.t', other => $other } ]));
    ok(!eval { $n->start; 1 }, "other.$what refused: nginx does not start");
    my $log = $n->read_file('logs/error.log') // '';
    like($log, qr/account #0 in "[^"]*accounts\.json": "other" refused: it must hold a Google Cloud project id/,
         "the log names other and its rule ($what)");
    unlike($log, qr/evil|X-Injected/, 'and not the value');
}

# the file: good rows serve and are written back in their shape
{
    my $n = gateway('file accounts.json');
    $n->write_file('accounts.json', $json->encode([
        { id => 'g1', type => 'gemini', label => 'L', refreshToken => '1//0r', accessToken => 'ya29.a',
          clientId => '1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com',
          other => { project => 'proud-quasar-abc12', api_endpoint => $SANDBOX, resetTime => '2025-11-20T16:12:51Z' } },
        { id => 'g2', type => 'gemini', accessToken => 'ya29.b', other => '{"project":"gen-lang-client-0194852792"}' } ]));
    $n->start;
    my $l = listing($n);
    is($l->{count}, 2, 'both rows served');
    my %by = map { $_->{id} => $_ } @{ $l->{accounts} };
    is($by{g1}{flavour}, 'antigravity', 'the Antigravity client: antigravity');
    is($by{g2}{flavour}, 'gemini-cli', 'no client, no endpoint: gemini-cli');
    is($by{g2}{other}{project}, 'gen-lang-client-0194852792', 'other as text read as an object');

    # a change makes the store write the file
    my $res = HTTP::Tiny->new(timeout => 10)->request('PATCH',
        'http://127.0.0.1:' . $n->port . '/v2/accounts/g1',
        { content => '{"label":"M"}', headers => { @AUTH } });
    is($res->{status}, 200, 'patched');
    my $rows = wait_for(5, sub {
        my $t = $n->read_file('accounts.json') or return;
        my $j = $json->decode($t);
        my %r = map { $_->{id} => $_ } @{ ref $j eq 'HASH' ? $j->{accounts} : $j };
        return ($r{g1}{label} // '') eq 'M' ? \%r : undef;
    });
    ok($rows, 'written back');
    my $o = ref $rows->{g1}{other} ? $rows->{g1}{other} : $json->decode($rows->{g1}{other});
    is_deeply($o, { project => 'proud-quasar-abc12', api_endpoint => $SANDBOX,
                    resetTime => '2025-11-20T16:12:51Z' }, 'other kept whole');
    is($rows->{g1}{type}, 'gemini', 'type kept');
    $n->stop;
}

# PostgreSQL: a row with a bad other is skipped, named by column; the rest serve
SKIP: {
    my $pg = Q2api::Pg->new;
    skip 'no PostgreSQL server: ' . Q2api::Pg->why, 4 unless $pg;
    $pg->start;

    my $n = gateway('postgres "' . $pg->conninfo(db => 'postgres') . '"');
    $n->start;
    ok(wait_for(10, sub { ($n->read_file('logs/error.log') // '') =~ /postgres store ready/ }),
       'the store is ready');

    $pg->psql("INSERT INTO accounts (id, accessToken, type, other) VALUES "
            . "('pg-good', 'ya29.g', 'gemini', '{\"project\":\"proj-pg\",\"api_endpoint\":\"$SANDBOX\"}'), "
            . "('pg-bad', 'ya29.b', 'gemini', '{\"api_endpoint\":\"https://evil.example.com\"}'); "
            . "NOTIFY q2api_accounts, 'psql:pg-good'; NOTIFY q2api_accounts, 'psql:pg-bad';");

    my $l = wait_for(10, sub { my $x = listing($n); $x && $x->{count} >= 1 ? $x : undef });
    is_deeply([ map { $_->{id} } @{ $l->{accounts} } ], ['pg-good'], 'the good row serves, the bad one not');
    is($l->{accounts}[0]{flavour}, 'antigravity', 'by its endpoint');
    my $log = wait_for(5, sub { my $t = $n->read_file('logs/error.log') // '';
                                $t =~ /"other" refused/ ? $t : undef });
    ok($log && $log !~ /evil\.example/, 'the bad row named by column, never by value');
    $n->stop;
}

done_testing();
