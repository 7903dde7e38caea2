# Device-code login as q2api's clients drive it, with two workers (the
# session lives in the zone): authorization_pending, then slow_down (five
# more seconds between polls), then the account; and a login nobody
# approves, which gives up at its deadline.

use strict;
use warnings;

use Test::More;
use JSON::PP ();
use Time::HiRes qw(time);

use Q2api::Mock;
use Q2api::Mock::AmazonQ qw(:builders);
use Q2api::Nginx;

my $mock = Q2api::Mock->new;
$mock->start;
my $mport = $mock->port;

my $n = Q2api::Nginx->new(workers => 2, http => <<"_EOC_", server => <<'_EOC_');
    q2api_zone q2api 8m;
    q2api_store file accounts.json;
    q2api_store_interval 100ms;
    q2api_amazonq_url http://127.0.0.1:$mport/;
    q2api_oidc_url http://127.0.0.1:$mport;
_EOC_
        location /admin/ {
            q2api_admin;
            q2api_admin_password admin-password-1;
        }
_EOC_

$n->write_file('accounts.json', '[]');
$n->start;

my $json = JSON::PP->new;

sub api {
    my ($method, $path, $body) = @_;
    my $res = HTTP::Tiny->new(timeout => 30)->request($method,
        'http://127.0.0.1:' . $n->port . "/admin$path",
        { headers => { authorization => 'Bearer admin-password-1',
                       'content-type' => 'application/json' },
          defined $body ? (content => $body) : () });
    return ($res->{status}, eval { $json->decode($res->{content}) });
}

my %register = (json => { clientId => 'c-1', clientSecret => 's-1' });
my %device = (json => { deviceCode => 'dc-1', userCode => 'WXYZ-1234',
                        verificationUri => 'https://device.example',
                        verificationUriComplete =>
                            'https://device.example?code=WXYZ-1234',
                        expiresIn => 600, interval => 1 });

$mock->set_script({ by_path => {
    '/client/register' => [ \%register ],
    '/device_authorization' => [ \%device ],
    '/token' => [
        { status => 400, json => { error => 'authorization_pending' } },
        { status => 400, json => { error => 'slow_down' } },
        { json => { accessToken => 'a-1', refreshToken => 'r-1',
                    expiresIn => 3600 } } ] } });

my ($s, $start) = api('POST', '/v2/auth/start', '{"label":"laptop"}');
is($s, 200, 'started');

my $t0 = time;
my ($c, $claim) = api('POST', "/v2/auth/claim/$start->{authId}", '');
my $took = time - $t0;

is($c, 200, 'claimed');
is($claim->{status}, 'completed', 'completed after pending and slow_down');
cmp_ok($took, '>=', 6, 'slow_down added five seconds to the interval');

my @polls = grep { $_->{path} eq '/token' } $mock->requests;
is(scalar @polls, 3, 'three polls');
is_deeply($polls[0]{json}, { clientId => 'c-1', clientSecret => 's-1',
    deviceCode => 'dc-1',
    grantType => 'urn:ietf:params:oauth:grant-type:device_code' },
    'the device code grant');
cmp_ok($polls[1]{time} - $polls[0]{time}, '>=', 0.9, 'first wait: the interval');
cmp_ok($polls[2]{time} - $polls[1]{time}, '>=', 5.9, 'then five more seconds');

my ($st, $status) = api('GET', "/v2/auth/status/$start->{authId}");
is($status->{status}, 'completed', 'status says completed, on any worker');
is($status->{accountId}, $claim->{accountId}, 'with the account');

my ($g, $row) = api('GET', "/v2/accounts/$claim->{accountId}");
is($row->{label}, 'laptop', 'the account has its label');
is($row->{clientId}, 'c-1', 'and the client registration');

my ($again, $twice) = api('POST', "/v2/auth/claim/$start->{authId}", '');
is($twice->{status}, 'completed', 'a second claim says how it ended');

# nobody approves: the deadline is the device code's expiry (here 2 s)
$mock->reset;
$mock->set_script({ by_path => {
    '/client/register' => [ \%register ],
    '/device_authorization' => [ { json => { %{ $device{json} },
                                             expiresIn => 2 } } ],
    '/token' => [ { status => 400,
                    json => { error => 'authorization_pending' } } ] } });

($s, $start) = api('POST', '/v2/auth/start', '{}');
($c, $claim) = api('POST', "/v2/auth/claim/$start->{authId}", '');
is($c, 408, 'timed out');
is($claim->{detail}, 'Authorization timeout (5 minutes)', "q2api's message");

($st, $status) = api('GET', "/v2/auth/status/$start->{authId}");
is($status->{status}, 'timeout', 'the session says so');

# the service refuses
$mock->set_script({ by_path => {
    '/client/register' => [ { status => 400,
                              json => { error => 'invalid_request' } } ] } });
($s, $start) = api('POST', '/v2/auth/start', '{}');
is($s, 502, 'a refused registration');
like($start->{detail}, qr/^OIDC error: RegisterClient failed with status 400: invalid_request$/,
     'says why');

$n->stop;
$mock->stop;

done_testing();
