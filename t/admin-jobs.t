# The admin routes that call out through the mock: chat test, deep health,
# token refresh of one account and of all, feed, device login.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;
use JSON::PP ();
use Q2api::Admin qw(accounts stored api paths);

repeat_each(1);
no_shuffle();
no_root_location();

our $HTTP = $Q2api::Admin::HTTP;
our $ADMIN = $Q2api::Admin::ADMIN;
our $AUTH = $Q2api::Admin::AUTH;
our $CHAT = $Q2api::Admin::CHAT;

run_tests();

__DATA__

=== TEST 1: chat test: the body goes to the account named, through the test location
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval: main::accounts('one', 'two')
--- mock eval
{ by_token => { 'tok-one' => [ text_response('from one') ], 'tok-two' => [ text_response('from two') ] } }
--- request eval
["POST /v2/chat/test?account_id=two\n$::CHAT", "POST /v2/chat/test?account_id=one\n$::CHAT",
 "POST /v2/chat/test?account_id=none\n$::CHAT", "POST /v2/chat/test\n", "POST /v2/chat/test\n$::CHAT"]
--- error_code eval
[200, 200, 404, 400, 200]
--- response_body_like eval
[qr/"text":"from two"/, qr/"text":"from one"/, qr/^\{"detail":"Account not found"\}$/,
 qr/^\{"detail":"body: a Claude Messages request is required"\}$/, qr/"text":"from (one|two)"/]
--- mock_requests eval
[1, 1, 0, 0, 1]
--- mock_check eval
sub {
    my ($reqs, $block) = @_;
    my $n = ++$main::seen{$block->name};
    return unless $n <= 2;
    is($reqs->[-1]{headers}{authorization}, $n == 1 ? 'Bearer tok-two' : 'Bearer tok-one', 'the account named');
}



=== TEST 2: chat test on a disabled account: an admin may test what is out of rotation
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval
main::accounts({ id => 'off', accessToken => 'tok-off', enabled => 0 })
--- mock eval
[ text_response('still works') ]
--- request eval
"POST /v2/chat/test?account_id=off\n$::CHAT"
--- error_code: 200
--- response_body_like chomp
"text":"still works"



=== TEST 3: deep health: one small request; ok with its latency, or a 503 saying why; credentials needed
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- user_files eval: main::accounts('good', 'bad')
--- mock eval
{ by_token => { 'tok-good' => [ text_response('pong') ], 'tok-bad' => [ error_response('suspended') ] } }
--- request eval
["GET /healthz/deep?account_id=good", "GET /healthz/deep?account_id=bad", "GET /healthz/deep?account_id=nope",
 "GET /healthz/deep"]
--- more_headers eval
[$::AUTH, $::AUTH, $::AUTH, ""]
--- error_code eval
[200, 503, 404, 401]
--- response_body_like eval
[qr/^\{"status":"ok","account":"good","upstream_status":200,"latency_ms":\d+\}$/,
 qr/^\{"status":"error","account":"bad","upstream_status":\d+,"latency_ms":\d+,"error":".+"\}$/,
 qr/^\{"detail":"Account not found"\}$/,
 qr/UNAUTHORIZED/]
--- mock_requests eval
[1, undef, 0, 0]



=== TEST 4: deep health on whatever account the pool chooses
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- request
GET /healthz/deep
--- error_code: 200
--- response_body_like chomp
^\{"status":"ok","account":null,"upstream_status":200,"latency_ms":\d+\}$
--- mock_requests: 1
--- mock_request_like
USER MESSAGE BEGIN ---\\nping\\n--- USER MESSAGE END



=== TEST 5: deep health when the test location is missing: a clear failure, no hang
--- http_config eval: $::HTTP
--- config
    location / {
        q2api_admin;
        q2api_admin_password admin-password-1;
        q2api_admin_test_location /_q2api/nowhere;
    }
--- more_headers eval: $::AUTH
--- request
GET /healthz/deep
--- error_code: 503
--- response_body_like chomp
^\{"status":"error","account":null,"upstream_status":404,"latency_ms":\d+,"error":"the test request failed with status 404"\}$
--- mock_requests: 0



=== TEST 6: refresh one account: the new token is in the zone and the file, the answer masks it
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval
main::accounts({ id => 'r', accessToken => 'tok-old-0123456789', refreshToken => 'ref-old-0123456789',
                 clientId => 'client-1', clientSecret => 'secret-1' })
--- mock eval
{ by_path => { '/token' => [ { json => { accessToken => 'tok-new-0123456789', refreshToken => 'ref-new-0123456789', expiresIn => 3600 } } ] } }
--- request
POST /v2/accounts/r/refresh
--- error_code: 200
--- response_body_like chomp
^\{"id":"r",.*"refreshToken":"ref-\xe2\x80\xa6\(18\)","accessToken":"tok-\xe2\x80\xa6\(18\)".*"last_refresh_status":"success"
--- response_body_unlike
0123456789
--- mock_check eval
sub {
    my ($reqs) = @_;
    is_deeply(main::paths($reqs), ['/token'], 'one OIDC call');
    is($reqs->[0]{json}{refreshToken}, 'ref-old-0123456789', 'with the refresh token');
    my $s = main::stored();
    is($s->{r}{accessToken}, 'tok-new-0123456789', 'new token persisted');
    is($s->{r}{refreshToken}, 'ref-new-0123456789', 'rotated refresh token persisted');
}



=== TEST 7: refresh refused (invalid_grant): q2api's 502, the account needs a login
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval
main::accounts({ id => 'r', accessToken => 'tok-old', refreshToken => 'ref-old', clientId => 'c', clientSecret => 's' })
--- mock eval
{ by_path => { '/token' => [ { status => 400, json => { error => 'invalid_grant', error_description => 'Invalid refresh token provided' } } ] } }
--- request eval
["POST /v2/accounts/r/refresh", "GET /v2/accounts/r"]
--- error_code eval
[502, 200]
--- response_body_like eval
[qr/^\{"detail":"Token refresh failed: needs login again \(refresh token rejected\)"\}$/,
 qr/"last_refresh_status":"failed",.*"status":"needs_login"/]



=== TEST 8: refresh: no refresh token is a 400, an unknown account a 404, nothing is called
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- request eval
["POST /v2/accounts/acc-1/refresh", "POST /v2/accounts/nobody/refresh", "GET /v2/accounts/acc-1/refresh"]
--- error_code eval
[400, 404, 405]
--- response_body eval
['{"detail":"refreshToken: the account has no refresh token"}', '{"detail":"Account not found"}',
 '{"detail":"Method Not Allowed"}']
--- mock_requests eval
[0, 0, 0]



=== TEST 9: refresh-all: amq2api's summary, one account at a time
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval
main::accounts({ id => 'ok', label => 'fine', accessToken => 'a1', refreshToken => 'r1', clientId => 'c', clientSecret => 's' },
               { id => 'dead', accessToken => 'a2', refreshToken => 'r2', clientId => 'c', clientSecret => 's' },
               { id => 'plain', accessToken => 'a3' },
               { id => 'flaky', accessToken => 'a4', refreshToken => 'r4', clientId => 'c', clientSecret => 's' })
--- mock eval
{ by_path => { '/token' => [ { json => { accessToken => 'a1-new', expiresIn => 3600 } },
                             { status => 400, json => { error => 'invalid_grant' } },
                             { status => 500, json => { error => 'InternalServerException' } } ] } }
--- request
POST /v2/accounts/refresh-all
--- error_code: 200
--- response_body chomp
{"results":[{"id":"ok","label":"fine","status":"success","message":"ok"},{"id":"dead","label":null,"status":"banned","message":"needs login again (refresh token rejected)"},{"id":"plain","label":null,"status":"error","message":"no refresh token"},{"id":"flaky","label":null,"status":"failed","message":"identity service error"}],"success":true,"message":"1 of 4 accounts refreshed","total":4,"success_count":1,"failed_count":2,"banned_count":1}
--- mock_requests: 3
--- mock_check eval
sub {
    my $s = main::stored();
    is($s->{ok}{accessToken}, 'a1-new', 'refreshed');
    is($s->{dead}{status}, 'needs_login', 'needs a login');
}



=== TEST 10: feed: inserted disabled and marked, refreshed, tested; the good one enabled, the refused one marked AccessDenied
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- mock eval
{ by_path => { '/token' => [ { json => { accessToken => 'fed-good-new', expiresIn => 3600 } } ] },
  by_token => { 'fed-good-new' => [ text_response('hi') ],
                'fed-bad' => [ { status => 403, json => { __type => 'com.amazon.aws.codewhisperer#AccessDeniedException', message => 'AccessDenied: not allowed' } } ] } }
--- request
POST /v2/accounts/feed
{"accounts":[{"id":"fg","clientId":"c","clientSecret":"s","refreshToken":"fed-good-ref","accessToken":"fed-good-old"},
             {"id":"fb","label":"bad one","accessToken":"fed-bad","other":{"from":"me"}}]}
--- error_code: 200
--- response_body_like chomp
^\{"status":"done","message":"2 accounts received and verified: 1 enabled","enabled":1,"failed":1,"account_ids":\["fg","fb"\],"results":\[\{"id":"fg","label":"fed account 1","status":"enabled","refresh":"success","test_status":200,"message":"ok"\},\{"id":"fb","label":"bad one","status":"failed","refresh":"skipped","test_status":\d+,"message":".+"\}\]\}$
--- mock_check eval
sub {
    my ($reqs) = @_;
    my $p = main::paths($reqs);
    is_deeply([ @$p[0, 1] ], ['/token', 'chat:fed-good-new'], 'refresh, then the test with the new token');
    ok(@$p >= 3 && !grep({ $_ ne 'chat:fed-bad' } @$p[2 .. $#$p]), 'then the other one tested');
    my $s = main::stored();
    ok($s->{fg}{enabled}, 'the good one is enabled');
    is_deeply($s->{fg}{other}, { source => 'feed' }, 'marked as fed');
    ok(!$s->{fb}{enabled}, 'the bad one stays disabled');
    is($s->{fb}{other}{source}, 'feed', 'marked as fed');
    is($s->{fb}{other}{from}, 'me', 'its own other kept');
    is($s->{fb}{other}{failedReason}, 'AccessDenied', "q2api's failedReason");
}



=== TEST 11: feed: a refresh refused leaves the account disabled, untested; bad input inserts nothing
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- mock eval
{ by_path => { '/token' => [ { status => 400, json => { error => 'invalid_grant' } } ] } }
--- request eval
["POST /v2/accounts/feed\n{\"accounts\":[{\"id\":\"fx\",\"clientId\":\"c\",\"clientSecret\":\"s\",\"refreshToken\":\"r\"}]}",
 "POST /v2/accounts/feed\n{\"accounts\":[{\"id\":\"ok\",\"accessToken\":\"t\"},{\"id\":\"no\",\"accessToken\":\"bad token\"}]}",
 "POST /v2/accounts/feed\n{\"accounts\":[{\"id\":\"ok\",\"accessToken\":\"t\"},3]}",
 "POST /v2/accounts/feed\n{\"accounts\":[]}",
 "POST /v2/accounts/feed\n{\"accounts\":[{\"id\":\"acc-1\",\"accessToken\":\"t\"}]}"]
--- error_code eval
[200, 400, 400, 400, 409]
--- response_body_like eval
[qr/"enabled":0,"failed":1,.*"status":"failed","refresh":"failed","test_status":null,"message":"needs login again/,
 qr/^\{"detail":"accounts\[1\]\.accessToken: must be printable ASCII without spaces"\}$/,
 qr/^\{"detail":"accounts\[1\]: expected a JSON object"\}$/,
 qr/^\{"detail":"accounts: expected a non-empty array of accounts"\}$/,
 qr/^\{"detail":"accounts\[0\]\.id: an account with this id exists"\}$/]
--- mock_requests eval
[1, 0, 0, 0, 0]
--- mock_check eval
sub {
    my ($reqs, $block) = @_;
    return unless ++$main::seen{$block->name} == 5;
    my $s = main::stored();
    is_deeply([ sort keys %$s ], ['acc-1', 'fx'], 'only the first feed inserted anything');
    ok(!$s->{fx}{enabled}, 'disabled');
    is($s->{fx}{other}{failedReason}, 'InvalidGrant', 'why');
}



=== TEST 12: device login through q2api's /v2/auth/start, status and claim; nothing secret in the answers
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- mock eval
{ by_path => {
    '/client/register' => [ { json => { clientId => 'dev-client', clientSecret => 'dev-secret-0123456789',
                                        clientIdIssuedAt => 1, clientSecretExpiresAt => 2000000000 } } ],
    '/device_authorization' => [ { json => { deviceCode => 'dev-code', userCode => 'ABCD-EFGH',
                                             verificationUri => 'https://device.example',
                                             verificationUriComplete => 'https://device.example?code=ABCD-EFGH',
                                             expiresIn => 600, interval => 1 } } ],
    '/token' => [ { json => { accessToken => 'dev-access-0123456789', refreshToken => 'dev-refresh-0123456789',
                              expiresIn => 3600 } } ] } }
--- request
GET /healthz
--- error_code: 200
--- mock_check eval
sub {
    my $pw = 'admin-password-1';
    my ($s0) = main::api('POST', '/v2/auth/start', '{"label":"device"}');
    is($s0, 401, 'credentials needed');

    my ($s1, $start) = main::api('POST', '/v2/auth/start', '{"label":"device"}', $pw);
    is($s1, 200, 'started');
    is($start->{userCode}, 'ABCD-EFGH', 'the code to enter');
    like($start->{verificationUriComplete}, qr/code=ABCD-EFGH/, 'and where');
    ok($start->{authId}, 'a session id');

    my ($s2, $st) = main::api('GET', "/v2/auth/status/$start->{authId}", undef, $pw);
    is($s2, 200, 'status');
    is($st->{status}, 'pending', 'pending');

    my ($s3, $claim, undef) = main::api('POST', "/v2/auth/claim/$start->{authId}", '', $pw);
    is($s3, 200, 'claimed');
    is($claim->{status}, 'completed', 'completed');
    my $id = $claim->{accountId};
    ok($id, 'an account');
    unlike(JSON::PP->new->encode($claim), qr/0123456789/, 'no secret in the answer');

    my ($s4, $row) = main::api('GET', "/v2/accounts/$id", undef, $pw);
    is($s4, 200, 'the account exists');
    is($row->{label}, 'device', 'with its label');
    unlike(JSON::PP->new->encode($row), qr/0123456789/, 'masked');

    my ($s5) = main::api('GET', '/v2/auth/status/unknown-session', undef, $pw);
    is($s5, 404, 'an unknown session');
    my ($s6) = main::api('GET', '/v2/auth/start', undef, $pw);
    is($s6, 405, 'start is a POST');
    my ($s7, $d7) = main::api('POST', '/v2/auth/start', '[1]', $pw);
    is($s7, 400, 'a body that is not an object');

    my $s = main::stored();
    is($s->{$id}{accessToken}, 'dev-access-0123456789', 'the tokens are stored');
}
