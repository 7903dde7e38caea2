# Token refresh: before an expired token is used, after the backend
# rejects one, rotation persisted at once, permanent and transient
# failures, Kiro social accounts.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;
use JSON::PP ();

repeat_each(1);
no_shuffle();

our $HTTP = <<'_EOC_';
    q2api_zone q2api 8m;
    q2api_store file html/accounts.json;
    q2api_store_interval 100ms;
    q2api_amazonq_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT/;
    q2api_oidc_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    q2api_kiro_auth_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    q2api_kiro_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT/generateAssistantResponse;
_EOC_

sub main::stored {
    select(undef, undef, undef, 0.6);
    my $f = main::server_root() . '/html/accounts.json';
    open my $fh, '<', $f or die "$f: $!";
    local $/;
    my $j = JSON::PP->new->decode(<$fh>);
    return { map { $_->{id} => $_ } @{ ref $j eq 'HASH' ? $j->{accounts} : $j } };
}

sub main::account {
    my (%a) = @_;
    return ">>> accounts.json\n" . JSON::PP->new->canonical->encode([
        { id => 'acc', accessToken => 'tok-old', refreshToken => 'ref-old',
          clientId => 'client-1', clientSecret => 'secret-1', %a } ]) . "\n";
}

# a JWT-shaped token (unsigned: the gateway never verifies it)
sub main::jwt {
    my ($exp, $sub) = @_;
    require MIME::Base64;
    my $enc = sub { MIME::Base64::encode_base64url(JSON::PP->new->canonical->encode($_[0])) };
    return join '.', $enc->({ alg => 'none' }), $enc->({ sub => $sub, exp => $exp }), '';
}

sub main::paths {
    my ($reqs) = @_;
    return [ map { $_->{path} eq '/' || $_->{path} eq '/generateAssistantResponse'
                   ? 'chat:' . ($_->{headers}{authorization} =~ s/^Bearer //r)
                   : $_->{path} } @$reqs ];
}

run_tests();

__DATA__

=== TEST 1: an expired token is refreshed before it is used; the rotation is persisted
--- http_config eval: $::HTTP
--- user_files eval: main::account(expires_at => time - 60)
--- mock eval
{ by_path => { '/token' => [ { json => { accessToken => 'tok-new', refreshToken => 'ref-new', expiresIn => 3600, tokenType => 'Bearer' } } ] },
  by_token => { 'tok-new' => [ text_response('fresh') ] } }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like chomp
"text":"fresh"
--- mock_check eval
sub {
    my ($reqs) = @_;
    is_deeply(main::paths($reqs), ['/token', 'chat:tok-new'], 'refresh, then the chat with the new token');
    is_deeply($reqs->[0]{json}, { grantType => 'refresh_token', clientId => 'client-1',
                                  clientSecret => 'secret-1', refreshToken => 'ref-old' },
              'the OIDC refresh grant');
    is($reqs->[0]{headers}{'content-type'}, 'application/json', 'JSON');
    my $s = main::stored();
    is($s->{acc}{accessToken}, 'tok-new', 'new access token persisted');
    is($s->{acc}{refreshToken}, 'ref-new', 'rotated refresh token persisted');
    cmp_ok(abs($s->{acc}{expires_at} - (time + 3600)), '<', 10, 'expiry from expiresIn');
}
--- no_error_log
tok-new
ref-new
secret-1
--- log_level: info



=== TEST 2: a token the backend rejects is refreshed and the same account tried again
--- http_config eval: $::HTTP
--- user_files eval: main::account()
--- mock eval
{ by_path => { '/token' => [ { json => { accessToken => 'tok-new', expiresIn => 3600 } } ] },
  by_token => { 'tok-old' => [ error_response('expired') ], 'tok-new' => [ text_response('again') ] } }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like chomp
"text":"again"
--- mock_check eval
sub {
    my ($reqs) = @_;
    is_deeply(main::paths($reqs), ['chat:tok-old', '/token', 'chat:tok-new'], 'rejected, refreshed, retried');
    my $s = main::stored();
    is($s->{acc}{status}, 'active', 'active again');
    is($s->{acc}{refreshToken}, 'ref-old', 'no rotation in the answer: the old refresh token stays');
}



=== TEST 3: invalid_grant: the account needs a new login and the client gets a clear 503
--- http_config eval: $::HTTP
--- user_files eval: main::account(expires_at => time - 60)
--- mock eval
{ by_path => { '/token' => [ { status => 400, json => { error => 'invalid_grant', error_description => 'Invalid refresh token provided' } } ] } }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 503
--- response_body_like chomp
"type":"api_error","message":"the backend account's token could not be refreshed \(needs login again \(refresh token rejected\)\)"
--- mock_check eval
sub {
    my ($reqs) = @_;
    is_deeply(main::paths($reqs), ['/token'], 'no chat with a dead token');
    my $s = main::stored();
    is($s->{acc}{status}, 'needs_login', 'needs a login');
    is($s->{acc}{status_reason}, 'needs login again (refresh token rejected)', 'reason recorded');
}



=== TEST 4: a transient refresh failure of a dead token rests the account and moves on
--- http_config eval: $::HTTP
--- user_files eval
use JSON::PP;
">>> accounts.json\n" . JSON::PP->new->encode([
  { id => 'a', accessToken => 'tok-a', refreshToken => 'ref-a', clientId => 'c', clientSecret => 's', expires_at => time - 60 },
  { id => 'b', accessToken => 'tok-b' } ]) . "\n"
--- config
    location /v1/ {
        q2api_select round_robin;
        q2api_pass claude;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
--- mock eval
{ by_path => { '/token' => [ { status => 500, json => { error => 'InternalServerException' } } ] },
  by_token => { 'tok-b' => [ text_response('from b') ] } }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like chomp
"text":"from b"
--- mock_check eval
sub {
    my ($reqs) = @_;
    is_deeply(main::paths($reqs), ['/token', 'chat:tok-b'], 'refresh failed, b answered');
    my $s = main::stored();
    is($s->{a}{status}, 'cooling', 'a dead token that cannot be renewed rests');
    is($s->{a}{status_reason}, 'token refresh failing', 'and says why');
    like($s->{a}{last_error}, qr/identity service error/, 'the failure is recorded');
}



=== TEST 4b: while the identity service fails, requests do not hammer it
--- http_config eval: $::HTTP
--- user_files eval
use JSON::PP;
">>> accounts.json\n" . JSON::PP->new->encode([
  { id => 'a', accessToken => 'tok-a', refreshToken => 'ref-a', clientId => 'c', clientSecret => 's', expires_at => time - 60 },
  { id => 'b', accessToken => 'tok-b' } ]) . "\n"
--- config
    location /v1/ {
        q2api_select round_robin;
        q2api_pass claude;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
--- mock eval
{ by_path => { '/token' => [ map { { status => 500, json => { error => 'InternalServerException' } } } 1 .. 3 ] },
  by_token => { 'tok-b' => [ map { text_response("from b $_") } 1 .. 3 ] } }
--- request eval
my $b = q{{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}};
["POST /v1/messages\n$b", "POST /v1/messages\n$b", "POST /v1/messages\n$b"]
--- error_code eval
[200, 200, 200]
--- mock_requests eval
[2, 1, 1]



=== TEST 5: an unreachable identity service is a transient failure
--- http_config
    q2api_zone q2api 8m;
    q2api_store file html/accounts.json;
    q2api_store_interval 100ms;
    q2api_amazonq_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT/;
    q2api_oidc_url http://127.0.0.1:1;
--- user_files eval: main::account(expires_at => time - 60)
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 503
--- response_body_like chomp
token could not be refreshed \(identity service error\)
--- mock_requests: 0
--- error_log
refreshing account "acc" failed with status 502



=== TEST 6: a Kiro social account refreshes at Kiro's auth service and learns its profileArn
--- http_config eval: $::HTTP
--- user_files eval
use JSON::PP;
">>> accounts.json\n" . JSON::PP->new->encode([
  { id => 'k', type => 'kiro', accessToken => 'tok-k', refreshToken => 'aor-k', expires_at => time - 1 } ]) . "\n"
--- mock eval
{ by_path => { '/refreshToken' => [ { json => { accessToken => 'tok-k2', refreshToken => 'aor-k2', expiresIn => 3600,
                                                profileArn => 'arn:aws:codewhisperer:us-east-1:123456789012:profile/ABC' } } ] },
  by_token => { 'tok-k2' => [ text_response('kiro') ] } }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- mock_check eval
sub {
    my ($reqs) = @_;
    is_deeply(main::paths($reqs), ['/refreshToken', 'chat:tok-k2'], 'Kiro refresh, then chat');
    is_deeply($reqs->[0]{json}, { refreshToken => 'aor-k' }, 'only the refresh token is sent');
    my $s = main::stored();
    is($s->{k}{refreshToken}, 'aor-k2', 'rotated token persisted');
    is($s->{k}{profileArn}, 'arn:aws:codewhisperer:us-east-1:123456789012:profile/ABC', 'profileArn learnt');

    # the chat as the Kiro IDE sends it
    my $c = $reqs->[1];
    is($c->{path}, '/generateAssistantResponse', 'REST style');
    is($c->{headers}{'content-type'}, 'application/json', 'JSON');
    ok(!exists $c->{headers}{'x-amz-target'}, 'no target');
    like($c->{headers}{'user-agent'}, qr/ KiroIDE-0\.11\.107-[0-9a-f]{64}$/, 'Kiro identification');
    is($c->{headers}{'x-amzn-kiro-agent-mode'}, 'vibe', 'agent mode');
    is($c->{json}{profileArn}, 'arn:aws:codewhisperer:us-east-1:123456789012:profile/ABC', 'profileArn in the body');
    is($c->{json}{conversationState}{currentMessage}{userInputMessage}{origin}, 'AI_EDITOR', 'origin');
}



=== TEST 7: a token far from expiry is used as it is
--- http_config eval: $::HTTP
--- user_files eval: main::account(expires_at => time + 3000)
--- mock eval
{ by_token => { 'tok-old' => [ text_response('as is') ] } }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- mock_check eval
sub { is_deeply(main::paths($_[0]), ['chat:tok-old'], 'no refresh') }



=== TEST 8: the Kiro machine id is stable per account; a profileArn's region picks the host
--- http_config
    q2api_zone q2api 8m;
    q2api_store file html/accounts.json;
    q2api_kiro_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT/generateAssistantResponse?region=$q2api_region;
--- user_files eval
use JSON::PP;
">>> accounts.json\n" . JSON::PP->new->encode([
  { id => 'k1', type => 'kiro', accessToken => 'tok-1', profileArn => 'arn:aws:codewhisperer:eu-central-1:111122223333:profile/X' } ]) . "\n"
--- request eval
my $b = q{{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}};
["POST /v1/messages\n$b", "POST /v1/messages\n$b"]
--- error_code eval
[200, 200]
--- mock_check eval
sub {
    my ($reqs) = @_;
    is($reqs->[0]{query}, 'region=eu-central-1', 'region from the profileArn');
    push @main::ua, $reqs->[0]{headers}{'user-agent'};
    is($main::ua[0], $main::ua[-1], 'same machine id every time');
}



=== TEST 9: a JWT access token with no stored expiry expires when its exp says
--- http_config eval: $::HTTP
--- user_files eval: main::account(accessToken => main::jwt(1000000000, 'old'))
--- mock eval
{ by_path => { '/token' => [ { json => { accessToken => main::jwt(4102444800, 'new'), tokenType => 'Bearer' } } ] },
  by_token => { main::jwt(4102444800, 'new') => [ text_response('fresh') ] } }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like chomp
"text":"fresh"
--- mock_check eval
sub {
    my ($reqs) = @_;
    is(scalar @$reqs, 2, 'refreshed before use, then the chat');
    is($reqs->[0]{path}, '/token', 'the refresh first');
    my $s = main::stored();
    is($s->{acc}{expires_at}, 4102444800,
       'no expiresIn: the new token\'s exp is its expiry');
    is($s->{acc}{refreshToken}, 'ref-old', 'no rotation: the refresh token kept');
}



=== TEST 10: a JWT access token still valid is used without a refresh
--- http_config eval: $::HTTP
--- user_files eval: main::account(accessToken => main::jwt(4102444800, 'ok'))
--- mock eval
{ by_token => { main::jwt(4102444800, 'ok') => [ text_response('as is') ] } }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like chomp
"text":"as is"
--- mock_requests: 1



=== TEST 11: an Identity Center login refreshes at its own region's OIDC host
--- http_config
    q2api_zone q2api 8m;
    q2api_store file html/accounts.json;
    q2api_store_interval 100ms;
    q2api_amazonq_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT/;
    q2api_oidc_url "http://127.0.0.1:$TEST_NGINX_MOCK_PORT/{region}";
--- user_files eval: main::account(expires_at => time - 60, other => { region => 'eu-west-1' })
--- mock eval
{ by_path => { '/eu-west-1/token' => [ { json => { accessToken => 'tok-new', expiresIn => 3600 } } ] },
  by_token => { 'tok-new' => [ text_response('fresh') ] } }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- mock_check eval
sub {
    my ($reqs) = @_;
    is_deeply(main::paths($reqs), ['/eu-west-1/token', 'chat:tok-new'], 'refreshed in eu-west-1');
}



=== TEST 12: an account without a region refreshes in us-east-1 (Builder ID)
--- http_config
    q2api_zone q2api 8m;
    q2api_store file html/accounts.json;
    q2api_store_interval 100ms;
    q2api_amazonq_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT/;
    q2api_oidc_url "http://127.0.0.1:$TEST_NGINX_MOCK_PORT/{region}";
--- user_files eval: main::account(expires_at => time - 60, other => undef)
--- mock eval
{ by_path => { '/us-east-1/token' => [ { json => { accessToken => 'tok-new', expiresIn => 3600 } } ] },
  by_token => { 'tok-new' => [ text_response('fresh') ] } }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- mock_check eval
sub {
    my ($reqs) = @_;
    is_deeply(main::paths($reqs), ['/us-east-1/token', 'chat:tok-new'], 'refreshed in us-east-1');
}



=== TEST 13: a region that is not a region name is ignored, never put into a host name
--- http_config
    q2api_zone q2api 8m;
    q2api_store file html/accounts.json;
    q2api_store_interval 100ms;
    q2api_amazonq_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT/;
    q2api_oidc_url "http://127.0.0.1:$TEST_NGINX_MOCK_PORT/{region}";
--- user_files eval: main::account(expires_at => time - 60, other => { region => 'evil.example/x' })
--- mock eval
{ by_path => { '/us-east-1/token' => [ { json => { accessToken => 'tok-new', expiresIn => 3600 } } ] },
  by_token => { 'tok-new' => [ text_response('fresh') ] } }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- mock_check eval
sub {
    my ($reqs) = @_;
    is_deeply(main::paths($reqs), ['/us-east-1/token', 'chat:tok-new'], 'refreshed in us-east-1');
}
=== TEST 14: a Kiro Identity Center login without a profileArn finds it with ListAvailableProfiles at its region
--- http_config eval
$::HTTP . q{    q2api_kiro_profiles_url "http://127.0.0.1:$TEST_NGINX_MOCK_PORT/{region}/ListAvailableProfiles";
}
--- user_files eval
use JSON::PP;
">>> accounts.json\n" . JSON::PP->new->encode([
  { id => 'idc', type => 'kiro', accessToken => 'tok-i', refreshToken => 'aor-i', clientId => 'cid', clientSecret => 'cs',
    other => { region => 'eu-central-1' }, expires_at => time - 1 } ]) . "\n"
--- mock eval
{ by_path => { '/token' => [ { json => { accessToken => 'tok-i2', refreshToken => 'aor-i2', expiresIn => 3600 } } ],
               '/eu-central-1/ListAvailableProfiles' => [ { json => { profiles => [
                   { arn => 'arn:aws:codewhisperer:eu-central-1:111122223333:profile/IDC', profileName => 'team' },
                   { arn => 'arn:aws:codewhisperer:eu-central-1:111122223333:profile/OTHER' } ] } } ] },
  by_token => { 'tok-i2' => [ text_response('idc') ] } }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- mock_check eval
sub {
    my ($reqs) = @_;
    is_deeply(main::paths($reqs), ['/token', '/eu-central-1/ListAvailableProfiles', 'chat:tok-i2'],
              'refresh, profile lookup, then the chat');
    is($reqs->[1]{headers}{authorization}, 'Bearer tok-i2', 'the lookup with the new token');
    is_deeply($reqs->[1]{json}, { maxResults => 10 }, 'REST form');
    is($reqs->[2]{json}{profileArn}, 'arn:aws:codewhisperer:eu-central-1:111122223333:profile/IDC',
       'the first profile in the chat');
    my $s = main::stored();
    is($s->{idc}{profileArn}, 'arn:aws:codewhisperer:eu-central-1:111122223333:profile/IDC', 'and persisted');
    is($s->{idc}{refreshToken}, 'aor-i2', 'the rotated token too');
}
--- error_log
uses Kiro profile "arn:aws:codewhisperer:eu-central-1:111122223333:profile/IDC"
--- no_error_log
tok-i2
aor-i2
--- log_level: info



=== TEST 15: no profile found: the refresh still counts and the chat goes out; the lookup is logged, not fatal
--- http_config eval
$::HTTP . q{    q2api_kiro_profiles_url "http://127.0.0.1:$TEST_NGINX_MOCK_PORT/{region}/ListAvailableProfiles";
}
--- user_files eval
use JSON::PP;
">>> accounts.json\n" . JSON::PP->new->encode([
  { id => 'idc', type => 'kiro', accessToken => 'tok-i', refreshToken => 'aor-i', clientId => 'cid', clientSecret => 'cs',
    expires_at => time - 1 } ]) . "\n"
--- mock eval
{ by_path => { '/token' => [ { json => { accessToken => 'tok-i2', expiresIn => 3600 } } ],
               '/us-east-1/ListAvailableProfiles' => [ { json => { profiles => [ { arn => "not an\narn" } ] } } ] },
  by_token => { 'tok-i2' => [ text_response('idc') ] } }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- mock_check eval
sub {
    my ($reqs) = @_;
    is_deeply(main::paths($reqs), ['/token', '/us-east-1/ListAvailableProfiles', 'chat:tok-i2'],
              'no region: us-east-1');
    ok(!exists $reqs->[2]{json}{profileArn}, 'a value that is not an ARN is not used');
    my $s = main::stored();
    is($s->{idc}{accessToken}, 'tok-i2', 'the refresh is kept');
}
--- error_log
ListAvailableProfiles for account "idc" found no profile (status 200)
