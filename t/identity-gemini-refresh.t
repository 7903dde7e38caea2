# Google OAuth refresh of Gemini accounts: the form Google's installed-app
# clients send (the account's client, or its flavour's public one, or the
# one configured), the snake_case answer, the old refresh token kept
# unless a new one comes, invalid_grant and invalid_rapt as needs_login,
# 5xx and an unreachable endpoint as transient, tokens with CR/LF refused,
# one refresh across workers.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;
use JSON::PP ();
use Q2api::Admin qw(accounts stored api paths);
use Q2api::Mock::Google qw(:builders);

repeat_each(1);
no_shuffle();
no_root_location();

our $HTTP = $Q2api::Admin::HTTP . <<'_EOC_';
    q2api_google_oauth_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    q2api_code_assist_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
_EOC_
our $ADMIN = $Q2api::Admin::ADMIN;
our $AUTH = $Q2api::Admin::AUTH;

our $CLI = '681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com';
our $AG = '1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com';

sub main::gemini {
    my (%a) = @_;
    return main::accounts({ id => 'g', type => 'gemini', accessToken => 'ya29.old-0123456789',
                            refreshToken => '1//0old-0123456789', %a });
}

run_tests();

__DATA__

=== TEST 1: refresh: the form with the flavour's public client, the new token persisted, the refresh token kept
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval: main::gemini(other => { flavour => 'antigravity', project => 'proj-1' })
--- mock eval
{ by_path => { '/token' => [ google_token('ya29.new-0123456789', expires_in => 3599) ] } }
--- request
POST /v2/accounts/g/refresh
--- error_code: 200
--- response_body_like chomp
^\{"id":"g",.*"last_refresh_status":"success".*"type":"gemini","flavour":"antigravity"
--- response_body_unlike
0123456789
--- mock_check eval
sub {
    my ($reqs) = @_;
    is_deeply(main::paths($reqs), ['/token'], 'one call to the token endpoint');
    is($reqs->[0]{headers}{'content-type'}, 'application/x-www-form-urlencoded', 'form-encoded');
    like($reqs->[0]{body}, qr{refresh_token=1%2F%2F0old-0123456789&}, 'the refresh token encoded as a URI component');
    is_deeply(form($reqs->[0]{body}),
              { refresh_token => '1//0old-0123456789', client_id => $::AG,
                client_secret => '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', grant_type => 'refresh_token' },
              "the Antigravity client's refresh grant");
    ok(!exists $reqs->[0]{headers}{authorization}, 'no Authorization header');
    my $s = main::stored();
    is($s->{g}{accessToken}, 'ya29.new-0123456789', 'new access token persisted');
    is($s->{g}{refreshToken}, '1//0old-0123456789', 'no refresh_token in the answer: the old one kept');
    cmp_ok(abs($s->{g}{expires_at} - (time + 3599)), '<', 10, 'expiry from expires_in');
}
--- no_error_log
ya29.new
1//0old
GOCSPX



=== TEST 2: an account's own client is used; a rotated refresh token is persisted
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval: main::gemini(clientId => 'own-client.apps.googleusercontent.com', clientSecret => 'own-secret')
--- mock eval
{ by_path => { '/token' => [ google_token('ya29.new', refresh_token => '1//0rotated') ] } }
--- request
POST /v2/accounts/g/refresh
--- error_code: 200
--- mock_check eval
sub {
    my ($reqs) = @_;
    my $f = form($reqs->[0]{body});
    is($f->{client_id}, 'own-client.apps.googleusercontent.com', 'its own client id');
    is($f->{client_secret}, 'own-secret', 'its own secret');
    is(main::stored()->{g}{refreshToken}, '1//0rotated', 'the rotated refresh token persisted');
}



=== TEST 3: q2api_gemini_client_id and _secret replace the public gemini-cli client
--- http_config eval
$::HTTP . "    q2api_gemini_client_id my-client.apps.googleusercontent.com;\n    q2api_gemini_client_secret my-secret;\n"
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval: main::gemini()
--- mock eval
{ by_path => { '/token' => [ google_token('ya29.new') ] } }
--- request
POST /v2/accounts/g/refresh
--- error_code: 200
--- mock_check eval
sub {
    my ($reqs) = @_;
    my $f = form($reqs->[0]{body});
    is($f->{client_id}, 'my-client.apps.googleusercontent.com', 'the configured client id');
    is($f->{client_secret}, 'my-secret', 'the configured secret');
}



=== TEST 4: a refresh token pasted URL-encoded is decoded once
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval: main::gemini(refreshToken => '1%2F%2F0pasted', clientId => $::CLI)
--- mock eval
{ by_path => { '/token' => [ google_token('ya29.new') ] } }
--- request
POST /v2/accounts/g/refresh
--- error_code: 200
--- mock_check eval
sub {
    my ($reqs) = @_;
    my $f = form($reqs->[0]{body});
    is($f->{refresh_token}, '1//0pasted', 'decoded');
    is($f->{client_id}, $::CLI, 'the gemini-cli client by its id');
}



=== TEST 5: invalid_grant: needs_login
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval: main::gemini()
--- mock eval
{ by_path => { '/token' => [ google_error('invalid_grant', 'Token has been expired or revoked.') ] } }
--- request eval
["POST /v2/accounts/g/refresh", "GET /v2/accounts/g"]
--- error_code eval
[502, 200]
--- response_body_like eval
[qr/^\{"detail":"Token refresh failed: needs login again \(refresh token rejected\)"\}$/,
 qr/"last_refresh_status":"failed",.*"status":"needs_login","status_reason":"needs login again \(refresh token rejected\)"/]



=== TEST 6: invalid_rapt, and a description asking for ReAuth: needs_login with that reason
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval: main::gemini()
--- mock eval
{ by_path => { '/token' => [ google_error('invalid_rapt', 'reauth related error (invalid_rapt)'),
                             google_error('invalid_request', 'ReAuth required for this account') ] } }
--- request eval
["POST /v2/accounts/g/refresh", "GET /v2/accounts/g", "PATCH /v2/accounts/g\n{\"enabled\":true,\"accessToken\":\"ya29.again\"}", "POST /v2/accounts/g/refresh", "GET /v2/accounts/g"]
--- error_code eval
[502, 200, 200, 502, 200]
--- response_body_like eval
[qr/needs login again \(Google asks to sign in again: invalid_rapt\)/,
 qr/"status":"needs_login","status_reason":"needs login again \(Google asks to sign in again: invalid_rapt\)"/,
 qr/"id":"g"/,
 qr/needs login again \(Google asks to sign in again: invalid_rapt\)/,
 qr/"status":"needs_login"/]



=== TEST 7: a 5xx and an unreachable endpoint are transient: the account keeps serving
--- http_config eval
$::HTTP =~ s{q2api_google_oauth_url [^;]*;}{q2api_google_oauth_url http://127.0.0.1:1;}r
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval: main::gemini()
--- request eval
["POST /v2/accounts/g/refresh", "GET /v2/accounts/g"]
--- error_code eval
[502, 200]
--- response_body_like eval
[qr/^\{"detail":"Token refresh failed: identity service (?:error|unreachable)"\}$/,
 qr/"status":"active"/]



=== TEST 8: a 503 from Google is transient
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval: main::gemini()
--- mock eval
{ by_path => { '/token' => [ { status => 503, json => { error => 'temporarily_unavailable' } } ] } }
--- request eval
["POST /v2/accounts/g/refresh", "GET /v2/accounts/g"]
--- error_code eval
[502, 200]
--- response_body_like eval
[qr/^\{"detail":"Token refresh failed: identity service error"\}$/,
 qr/"status":"active"/]



=== TEST 9: tokens with CR/LF in the answer are refused: nothing of them is stored
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval: main::gemini()
--- mock eval
{ by_path => { '/token' => [ google_token("ya29.evil\r\nX-Injected: yes"),
                             google_token('ya29.ok', refresh_token => "1//0evil\r\nX-Injected: yes") ] } }
--- request eval
["POST /v2/accounts/g/refresh", "PATCH /v2/accounts/g\n{\"enabled\":true}", "POST /v2/accounts/g/refresh"]
--- error_code eval
[502, 200, 502]
--- mock_check eval
sub {
    my ($reqs, $block) = @_;
    return unless ++$main::seen{$block->name} == 3;
    my $s = main::stored();
    unlike($s->{g}{accessToken} // '', qr/\r|\n/, 'no CR/LF stored');
    unlike($s->{g}{refreshToken} // '', qr/\r|\n/, 'no CR/LF stored');
}
--- no_error_log
X-Injected



=== TEST 10: a bad client id in the configuration stops nginx -t
--- http_config eval
$::HTTP . "    q2api_antigravity_client_id \"bad id\";\n"
--- config eval: $::ADMIN
--- must_die
--- error_log
"q2api_antigravity_client_id" must be 1 to 16384 printable ASCII characters without spaces



=== TEST 11: q2api_google_oauth_url must be an http(s) URL
--- http_config eval
$::HTTP =~ s{q2api_google_oauth_url [^;]*;}{q2api_google_oauth_url ftp://example.com;}r
--- config eval: $::ADMIN
--- must_die
--- error_log
"q2api_google_oauth_url" must be an http:// or https:// URL
