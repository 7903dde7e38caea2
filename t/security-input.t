# Values from outside that would steer a request: tokens with CR/LF in
# identity answers, ARNs that name a host, NULs in content and in ids,
# ids that cannot be addressed, image data that is not base64, and the
# refresh-and-retry after a 401 for every account of a request.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;
use JSON::PP ();
use Q2api::Admin qw(stored error_log api paths);

repeat_each(1);
no_shuffle();
no_root_location();

our $HTTP = $Q2api::Admin::HTTP . <<'_EOC_';
    q2api_kiro_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT/generateAssistantResponse?region=$q2api_region;
    q2api_kiro_profiles_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT/ListAvailableProfiles;
_EOC_
our $ADMIN = $Q2api::Admin::ADMIN;
our $AUTH = $Q2api::Admin::AUTH;
our $CHAT = $Q2api::Admin::CHAT;

our $EVIL = "evil\r\nX-Injected: yes";
our $EVIL_ARN = 'arn:aws:codewhisperer:evil.com/x#:1:profile/X';

sub main::rows {
    return ">>> accounts.json\n" . JSON::PP->new->canonical->encode([@_]) . "\n";
}

# no header the attacker wrote reached the mock, and no log line has it
sub main::not_injected {
    my ($reqs) = @_;
    ok(!(grep { exists $_->{headers}{'x-injected'} } @$reqs),
       'no X-Injected header upstream');
    unlike(main::error_log(), qr/X-Injected/, 'the value is not logged');
}

run_tests();

__DATA__

=== TEST 1: an OIDC /token answer with CR/LF in the access token: refused, the account needs a login
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- user_files eval
main::rows({ id => 'acc', accessToken => 'tok-old', refreshToken => 'ref-old',
             clientId => 'c', clientSecret => 's', expires_at => time - 60 })
--- mock eval
{ by_path => { '/token' => [ { json => { accessToken => $::EVIL, refreshToken => 'ref-new', expiresIn => 3600 } } ] },
  by_token => { $::EVIL => [ text_response('injected') ] } }
--- request eval
"POST /v1/messages\n$::CHAT"
--- error_code: 503
--- mock_check eval
sub {
    my ($reqs) = @_;
    is_deeply(main::paths($reqs), ['/token'], 'no chat with the refused token');
    main::not_injected($reqs);
    my $s = main::stored();
    is($s->{acc}{status}, 'needs_login', 'the account needs a new login');
    like($s->{acc}{status_reason}, qr/refused token/, 'and says why');
    is($s->{acc}{accessToken}, 'tok-old', 'the refused token is not stored');
    is($s->{acc}{refreshToken}, 'ref-old', 'nor anything else of that answer');
}
--- error_log
token refresh answer: "accessToken" refused: it must be 1 to 16384 printable ASCII characters



=== TEST 1b: a NUL in the access token of a refresh answer: refused, not cut short
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- user_files eval
main::rows({ id => 'acc', accessToken => 'tok-old', refreshToken => 'ref-old',
             clientId => 'c', clientSecret => 's', expires_at => time - 60 })
--- mock eval
{ by_path => { '/token' => [ { body => '{"accessToken":"tok\\u0000-cut","expiresIn":3600}' } ] },
  by_token => { 'tok' => [ text_response('cut') ] } }
--- request eval
"POST /v1/messages\n$::CHAT"
--- error_code: 503
--- mock_check eval
sub {
    my ($reqs) = @_;
    is_deeply(main::paths($reqs), ['/token'], 'no chat with a token cut at its NUL');
    is(main::stored()->{acc}{status}, 'needs_login', 'the account needs a new login');
}
--- error_log
"accessToken" refused



=== TEST 2: a Kiro /refreshToken answer with CR/LF in the access token: refused the same way
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- user_files eval
main::rows({ id => 'k', type => 'kiro', accessToken => 'tok-k', refreshToken => 'aor-k',
             expires_at => time - 60 })
--- mock eval
{ by_path => { '/refreshToken' => [ { json => { accessToken => $::EVIL, refreshToken => 'aor-k2', expiresIn => 3600 } } ] },
  by_token => { $::EVIL => [ text_response('injected') ] } }
--- request eval
"POST /v1/messages\n$::CHAT"
--- error_code: 503
--- mock_check eval
sub {
    my ($reqs) = @_;
    is_deeply([ map { $_->{path} } @$reqs ], ['/refreshToken'], 'no chat with the refused token');
    main::not_injected($reqs);
    is(main::stored()->{k}{status}, 'needs_login', 'the account needs a new login');
}
--- error_log
"accessToken" refused



=== TEST 3: a rotated refresh token with CR/LF is refused too
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- user_files eval
main::rows({ id => 'k', type => 'kiro', accessToken => 'tok-k', refreshToken => 'aor-k',
             expires_at => time - 60 })
--- mock eval
{ by_path => { '/refreshToken' => [ { json => { accessToken => 'tok-k2', refreshToken => $::EVIL, expiresIn => 3600 } } ] },
  by_token => { 'tok-k2' => [ text_response('fine') ] } }
--- request eval
"POST /v1/messages\n$::CHAT"
--- error_code: 503
--- mock_check eval
sub {
    my ($reqs) = @_;
    my $s = main::stored();
    is($s->{k}{status}, 'needs_login', 'the account needs a new login');
    is($s->{k}{refreshToken}, 'aor-k', 'the refused refresh token is not stored');
    unlike(main::error_log(), qr/X-Injected/, 'the value is not logged');
}
--- error_log
"refreshToken" refused



=== TEST 4: a profileArn that names a host, in a Kiro answer and a profile list, never becomes one
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- user_files eval
main::rows({ id => 'k', type => 'kiro', accessToken => 'tok-k', refreshToken => 'aor-k',
             expires_at => time - 60 })
--- mock eval
{ by_path => { '/refreshToken' => [ { json => { accessToken => 'tok-k2', refreshToken => 'aor-k2', expiresIn => 3600,
                                                profileArn => $::EVIL_ARN } } ],
               '/ListAvailableProfiles' => [ { json => { profiles => [ { arn => $::EVIL_ARN } ] } } ] },
  by_token => { 'tok-k2' => [ text_response('kiro') ] } }
--- request eval
"POST /v1/messages\n$::CHAT"
--- error_code: 200
--- mock_check eval
sub {
    my ($reqs) = @_;
    my ($chat) = grep { $_->{path} eq '/generateAssistantResponse' } @$reqs;
    ok($chat, 'the chat went to the configured host');
    is($chat->{query}, 'region=us-east-1', 'the home region, not the ARN\'s');
    ok(!exists $chat->{json}{profileArn}, 'no refused ARN in the body');
    my $s = main::stored();
    ok(!defined $s->{k}{profileArn}, 'no profileArn learnt');
    is($s->{k}{accessToken}, 'tok-k2', 'the good tokens of the answer are kept');
}
--- error_log
"profileArn" refused



=== TEST 4b: a Kiro Identity Center login's profile list with a host for an ARN: not learnt
--- http_config eval
$::HTTP =~ s{(http://\S+)/ListAvailableProfiles;}{"$1/{region}/ListAvailableProfiles";}r
--- config eval: $::ADMIN
--- user_files eval
main::rows({ id => 'idc', type => 'kiro', accessToken => 'tok-i', refreshToken => 'aor-i', clientId => 'cid',
             clientSecret => 'cs', other => { region => 'eu-central-1' }, expires_at => time - 1 })
--- mock eval
{ by_path => { '/token' => [ { json => { accessToken => 'tok-i2', refreshToken => 'aor-i2', expiresIn => 3600 } } ],
               '/eu-central-1/ListAvailableProfiles' => [ { json => { profiles => [ { arn => $::EVIL_ARN } ] } } ] },
  by_token => { 'tok-i2' => [ text_response('idc') ] } }
--- request eval
"POST /v1/messages\n$::CHAT"
--- error_code: 200
--- mock_check eval
sub {
    my ($reqs) = @_;
    is_deeply([ map { $_->{path} } @$reqs ],
              ['/token', '/eu-central-1/ListAvailableProfiles', '/generateAssistantResponse'],
              'refresh, profile lookup, chat');
    is($reqs->[2]{query}, 'region=us-east-1', 'no region taken from the refused ARN');
    ok(!defined main::stored()->{idc}{profileArn}, 'no profileArn learnt');
}
--- error_log
ListAvailableProfiles answer: "arn" refused



=== TEST 5: admin input: NUL in ids, labels and tokens, ids . and .., ARNs that are not ARNs
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- request eval
[ map { "POST /v2/accounts\n$_" }
  '{"id":"a\u0000b","accessToken":"t"}',
  '{"id":"n","label":"x\u0000y","accessToken":"t"}',
  '{"id":"n","accessToken":"t\u0000\r\nX-Injected: yes"}',
  '{"id":"n","accessToken":"t","clientId":"c\u0000","clientSecret":"s","refreshToken":"r"}',
  '{"id":".","accessToken":"t"}',
  '{"id":"..","accessToken":"t"}',
  '{"id":"n","type":"kiro","accessToken":"t","profileArn":"arn:aws:codewhisperer:evil.com/x#:1:profile/X"}',
  '{"id":"n","type":"kiro","accessToken":"t","profileArn":"arn:aws:codewhisperer:us-east-1:111122223333:profile/A\u0000"}',
  '{"id":"a\\\\u0000b","accessToken":"t"}',
  "{\"id\":\"n\",\"label\":\"bad \xff\",\"accessToken\":\"t\"}" ]
--- error_code eval
[(400) x 10]
--- response_body_like eval
[qr/^\{"detail":"id: must not contain NUL"\}$/,
 qr/^\{"detail":"label: must not contain NUL"\}$/,
 qr/^\{"detail":"accessToken: must not contain NUL"\}$/,
 qr/^\{"detail":"clientId: must not contain NUL"\}$/,
 qr/^\{"detail":"id: 1 to 128 characters .*not \. or \.\./,
 qr/^\{"detail":"id: 1 to 128 characters .*not \. or \.\./,
 qr/^\{"detail":"profileArn: must be an ARN such as arn:aws:codewhisperer:us-east-1:123456789012:profile\/ABC"\}$/,
 qr/^\{"detail":"profileArn: must not contain NUL"\}$/,
 qr/^\{"detail":"id: 1 to 128 characters/,
 qr/^\{"detail":"body: not valid UTF-8"\}$/]
--- mock_check eval
sub {
    return unless ++$main::seen{5} == 10;
    my ($st, $list) = main::api('GET', '/v2/accounts', undef, 'admin-password-1');
    is_deeply([ map { $_->{id} } @{ $list->{accounts} } ], ['acc-1'],
              'no account was created by any of them');
}



=== TEST 6: import: a row with a host for an ARN, or a NUL in its token, is refused by name; the others come in
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- request eval
"POST /v2/accounts/import\n" . '{"accounts":[{"id":"good","accessToken":"t1"},'
  . '{"id":"arn","type":"kiro","accessToken":"t2","profileArn":"arn:aws:codewhisperer:evil.com/x#:1:profile/X"},'
  . '{"id":"nul","accessToken":"t3\u0000x"}]}'
--- response_body_like chomp
"created":1.*"failed":2.*"profileArn: must be an ARN.*"accessToken: must not contain NUL"



=== TEST 7: NUL in message content reaches the backend, escaped
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- user_files eval: main::rows({ id => 'acc', accessToken => 'tok-1' })
--- mock eval
{ responses => [ text_response('ok') ] }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"a\u0000b and more"}]}
--- error_code: 200
--- mock_check eval
sub {
    my ($reqs) = @_;
    like($reqs->[0]{body}, qr/a\\u0000b and more/, 'the NUL and what follows it sent on');
}



=== TEST 8: image data that is not base64 is a 400 naming the field, before any backend call
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- user_files eval: main::rows({ id => 'acc', accessToken => 'tok-1' })
--- mock eval
{ responses => [ text_response('ok') ] }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"!!!not base64%%%"}}]}]}
--- error_code: 400
--- response_body_like chomp
"type":"invalid_request_error","message":"messages.0.content.0.source.data: expected base64 image data
--- mock_requests: 0



=== TEST 9: every account rejected with a 401 in one request gets its own refresh and retry
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- user_files eval
main::rows({ id => 'a', accessToken => 'tok-a', refreshToken => 'ref-a', clientId => 'c', clientSecret => 's' },
           { id => 'b', accessToken => 'tok-b', refreshToken => 'ref-b', clientId => 'c', clientSecret => 's' })
--- mock eval
{ by_path => { '/token' => [ { json => { accessToken => 'tok-n1', expiresIn => 3600 } },
                             { json => { accessToken => 'tok-n2', expiresIn => 3600 } } ] },
  by_token => { 'tok-a' => [ error_response('expired') ], 'tok-b' => [ error_response('expired') ],
                'tok-n1' => [ error_response('expired') ], 'tok-n2' => [ text_response('second one') ] } }
--- request eval
"POST /v1/messages\n$::CHAT"
--- error_code: 200
--- response_body_like chomp
"text":"second one"
--- mock_check eval
sub {
    my ($reqs) = @_;
    my $p = main::paths($reqs);
    is(scalar(grep { $_ eq '/token' } @$p), 2, 'both accounts were refreshed');
    is($p->[-1], 'chat:tok-n2', 'the second account answered after its refresh');
}



=== TEST 10: device login: CR/LF in a RegisterClient answer or a CreateToken answer is refused, no account made
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- mock eval
{ by_path => { '/client/register' => [ { json => { clientId => 'c-1', clientSecret => $::EVIL } },
                                       { json => { clientId => 'c-2', clientSecret => 's-2' } } ],
               '/device_authorization' => [ { json => { deviceCode => 'dc-1', userCode => 'W-1',
                                                        verificationUri => 'https://d.example',
                                                        expiresIn => 600, interval => 1 } } ],
               '/token' => [ { json => { accessToken => $::EVIL, refreshToken => 'r-1', expiresIn => 3600 } } ] } }
--- request
GET /healthz
--- error_code: 200
--- mock_check eval
sub {
    my $pw = 'admin-password-1';
    my ($st, $out) = main::api('POST', '/v2/auth/start', '{}', $pw);
    is($st, 502, 'a refused client secret: the login does not start');
    ($st, $out) = main::api('POST', '/v2/auth/start', '{}', $pw);
    is($st, 200, 'a clean registration starts');
    my ($c, $claim) = main::api('POST', "/v2/auth/claim/$out->{authId}", '', $pw);
    is($c, 502, 'a refused access token: the claim fails');
    my ($s2, $list) = main::api('GET', '/v2/accounts', undef, $pw);
    is_deeply([ map { $_->{id} } @{ $list->{accounts} } ], ['acc-1'], 'no account from it');
    my $log = main::error_log();
    like($log, qr/RegisterClient: "clientSecret" refused/, 'the secret named in the log');
    like($log, qr/CreateToken: "accessToken" refused/, 'the token named in the log');
    unlike($log, qr/X-Injected/, 'neither value logged');
}
