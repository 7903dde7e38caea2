# The public donate API (q2api_donate, conf/q2api_donate.conf): start
# seals a state and a PKCE challenge into Google's authorisation URL;
# exchange refuses addresses that are not the answer to a login this
# server began; attempts are limited per address; status shows counts,
# quota per model group and masked labels, never a secret.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;
use Q2api::Admin qw(api accounts stored paths);
use JSON::PP ();
use Digest::SHA qw(sha256 hmac_sha256);
use MIME::Base64 qw(encode_base64url);
use URI::Escape qw(uri_escape uri_unescape);

repeat_each(1);
no_shuffle();
no_root_location();

our $HTTP = $Q2api::Admin::HTTP . <<'_EOC_';
    limit_req_zone $binary_remote_addr zone=q2api_donate:1m rate=1r/m;
    q2api_google_oauth_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    q2api_code_assist_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
_EOC_

our $DONATE = <<'_EOC_';
    location /donate/api/ {
        q2api_admin_secret this-is-the-donate-secret;
        include $TEST_NGINX_Q2API_CONF/q2api_donate.conf;
    }

    location /cli/ {
        q2api_admin_secret this-is-the-donate-secret;
        q2api_donate gemini-cli;
    }

    location /open/ {
        q2api_admin_secret this-is-the-donate-secret;
        q2api_donate antigravity gemini-cli;
    }

    location / {
        q2api_admin;
        q2api_admin_password admin-password-1;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
_EOC_

our $AG = '1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com';
our $CLI = '681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com';

# a state as the module seals one, for the location's known secret
sub main::state {
    my ($expires, $flavour, $secret) = @_;
    my $data = "$expires.$flavour." . ('0a' x 16);
    return "$data." . encode_base64url(hmac_sha256("q2api donate state v1\0$data",
                                                   $secret // 'this-is-the-donate-secret'));
}

sub main::exchange {
    my ($query) = @_;
    return qq{POST /open/exchange\n{"url":"http://localhost:51121/oauth-callback?$query"}};
}

# the PKCE verifier the module derives from a state (the location's secret)
sub main::verifier {
    my ($state) = @_;
    return encode_base64url(hmac_sha256("q2api donate verifier v1\0$state",
                                        'this-is-the-donate-secret'));
}

# the address a donor pastes after a login begun here (flavour 1:
# antigravity, 0: gemini-cli); its verifier kept for the checks
sub main::answer {
    my ($code, $flavour) = @_;
    my $state = main::state(time + 600, $flavour);
    $main::verifier{$code} = main::verifier($state);
    my $uri = $flavour ? 'http://localhost:51121/oauth-callback'
                       : 'http://127.0.0.1:8085/oauth2callback';
    return qq(POST /open/exchange\n{"url":"$uri?state=$state&code=)
         . uri_escape($code) . '&scope=email%20openid"}';
}

sub main::query_of {
    my ($url) = @_;
    my ($q) = $url =~ /\?(.*)$/;
    return { map { my ($k, $v) = split /=/, $_, 2; ($k => uri_unescape($v)) } split /&/, $q };
}

run_tests();

__DATA__

=== TEST 1: start: Antigravity's client and scopes, PKCE S256, a sealed state
--- http_config eval: $::HTTP
--- config eval: $::DONATE
--- request
POST /donate/api/start
--- error_code: 200
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
qr{^\{"url":"https://accounts\.google\.com/o/oauth2/v2/auth\?redirect_uri=http%3A%2F%2Flocalhost%3A51121%2Foauth-callback&access_type=offline&scope=openid%20https%3A%2F%2Fwww\.googleapis\.com%2Fauth%2Fcloud-platform%20https%3A%2F%2Fwww\.googleapis\.com%2Fauth%2Fuserinfo\.email%20https%3A%2F%2Fwww\.googleapis\.com%2Fauth%2Fuserinfo\.profile%20https%3A%2F%2Fwww\.googleapis\.com%2Fauth%2Fcclog%20https%3A%2F%2Fwww\.googleapis\.com%2Fauth%2Fexperimentsandconfigs&state=\d+\.1\.[0-9a-f]{32}\.[A-Za-z0-9_-]{43}&response_type=code&client_id=\Q$::AG\E&prompt=consent&code_challenge=[A-Za-z0-9_-]{43}&code_challenge_method=S256","flavour":"antigravity","redirect_uri":"http://localhost:51121/oauth-callback","expires_in":900\}$}
--- mock_requests: 0



=== TEST 2: start in the gemini-cli flavour; flavours not offered are refused
--- http_config eval: $::HTTP
--- config eval: $::DONATE
--- request eval
['POST /donate/api/start
{"flavour":"gemini-cli"}', 'POST /cli/start
{"flavour":"antigravity"}', 'POST /cli/start
{"flavour":"vertex"}', 'POST /cli/start
{"flavour":7}', 'POST /cli/start
[1', 'POST /cli/start']
--- error_code eval
[200, 400, 400, 400, 400, 200]
--- response_body_like eval
[qr{"url":"[^"]*&state=\d+\.0\.[^"]*&client_id=\Q$::CLI\E&[^"]*","flavour":"gemini-cli","redirect_uri":"http://127\.0\.0\.1:8085/oauth2callback"},
 qr/^\{"detail":"flavour: not offered here"\}$/,
 qr/^\{"detail":"flavour: not offered here"\}$/,
 qr/^\{"detail":"flavour: expected a string"\}$/,
 qr/^\{"detail":"body: invalid JSON/,
 qr/"flavour":"gemini-cli"/]



=== TEST 3: each start is a new state and a new challenge
--- http_config eval: $::HTTP
--- request
GET /t
--- config eval
$::DONATE . <<'_EOC_';
    location = /t {
        return 200;
    }
_EOC_
--- response_body_like: ^$
--- mock_check eval
sub {
    my @urls = map { (main::api('POST', '/cli/start'))[1]{url} } 1 .. 3;
    my %states = map { main::query_of($_)->{state} => 1 } @urls;
    my %ch = map { main::query_of($_)->{code_challenge} => 1 } @urls;
    is(scalar keys %states, 3, 'three states');
    is(scalar keys %ch, 3, 'three challenges');
    for my $u (@urls) {
        my $q = main::query_of($u);
        is(MIME::Base64::encode_base64url(Digest::SHA::sha256(main::verifier($q->{state}))), $q->{code_challenge},
           'the challenge is the S256 of the verifier its state gives');
    }
}



=== TEST 4: exchange refuses what is not the answer to a login begun here
--- http_config eval: $::HTTP
--- config eval: $::DONATE
--- request eval
[main::exchange('state=' . main::state(time + 600, 1, 'another-secret-entirely') . '&code=4/abc'),
 main::exchange('state=' . main::state(time - 1, 1) . '&code=4/abc'),
 main::exchange('state=1.1.zz&code=4/abc'),
 main::exchange('code=4/abc'),
 main::exchange('state=' . main::state(time + 600, 1)),
 main::exchange('state=' . main::state(time + 600, 1) . '&code=4%2Fa%0Db'),
 main::exchange('error=access_denied&state=x'),
 main::exchange('error=%3Cimg%3E&state=x'),
 qq{POST /open/exchange\n{"url":"http://localhost:51121/oauth-callback"}},
 qq{POST /open/exchange\n{"url":""}},
 qq{POST /open/exchange\n{}},
 qq{POST /open/exchange\n},
 qq{POST /cli/exchange\n{"url":"http://localhost/?state=} . main::state(time + 600, 1) . qq{&code=4/x"}}]
--- error_code eval
[(400) x 13]
--- response_body eval
['{"detail":"the address is not the answer to a login this page began: press the button and log in again"}',
 '{"detail":"the login took too long: press the button and log in again"}',
 '{"detail":"the address is not the answer to a login this page began: press the button and log in again"}',
 '{"detail":"url: it has no state or no code: paste the whole address"}',
 '{"detail":"url: it has no state or no code: paste the whole address"}',
 '{"detail":"url: its code is not one Google gives"}',
 '{"detail":"Google did not grant access (access_denied)"}',
 '{"detail":"Google did not grant access"}',
 '{"detail":"url: it has no \"?code=...\": paste the whole address"}',
 '{"detail":"url: paste the whole address your browser shows after Google"}',
 '{"detail":"url: paste the whole address your browser shows after Google"}',
 '{"detail":"body: a JSON body is required"}',
 '{"detail":"the address is not the answer to a login this page began: press the button and log in again"}']
--- mock_requests: 0



=== TEST 5: methods and routes
--- http_config eval: $::HTTP
--- config eval: $::DONATE
--- request eval
["GET /donate/api/start", "POST /donate/api/status", "GET /donate/api/nope", "GET /donate/api/exchange"]
--- error_code eval
[405, 405, 404, 405]
--- response_body eval
['{"detail":"Method Not Allowed"}', '{"detail":"Method Not Allowed"}', '{"detail":"Not Found"}', '{"detail":"Method Not Allowed"}']



=== TEST 6: attempts are limited per address, in JSON; status polls are not
--- http_config eval: $::HTTP
--- config eval: $::DONATE
--- request eval
[ (map { "POST /donate/api/start" } 1 .. 6), "POST /donate/api/exchange\n{}", "GET /donate/api/status", "GET /donate/api/status" ]
--- error_code eval
[ (200) x 6, 429, 200, 200 ]
--- response_body_like eval
[ (qr/^\{"url":/) x 6, qr/^\{"detail":"too many attempts from your address: wait a minute and try again"\}$/, qr/^\{"accounts":0,/, qr/^\{"accounts":0,/ ]



=== TEST 7: status without Gemini accounts: zeros, no Amazon Q account shown; each location's flavours
--- http_config eval: $::HTTP
--- config eval: $::DONATE
--- user_files eval: main::accounts('one', 'two')
--- request eval
["GET /donate/api/status", "GET /cli/status", "HEAD /cli/status"]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[qr/^\{"accounts":0,"active":0,"groups":\[\],"recent":\[\],"updated_at":"[0-9T:Z-]+","refresh_after":30,"flavours":\["antigravity","gemini-cli"\]\}$/,
 qr/^\{"accounts":0,.*,"flavours":\["gemini-cli"\]\}$/,
 qr/^$/]



=== TEST 8: q2api_donate: unknown or repeated flavours stop nginx -t
--- http_config eval: $::HTTP
--- config
    location /d/ {
        q2api_donate vertex;
    }
--- must_die
--- error_log
"q2api_donate": unknown flavour "vertex" (expected "antigravity" or "gemini-cli")



=== TEST 9: a flavour named twice
--- http_config eval: $::HTTP
--- config
    location /d/ {
        q2api_donate antigravity antigravity;
    }
--- must_die
--- error_log
"q2api_donate" directive names a flavour twice



=== TEST 10: a donate location serves no admin route, with or without the password
--- http_config eval: $::HTTP
--- config eval: $::DONATE
--- user_files eval: main::accounts('one')
--- more_headers
Authorization: Bearer admin-password-1
--- request eval
["GET /open/v2/accounts", "GET /open/v2/accounts/one", "GET /open/v2/accounts/export", "POST /open/api/login\n{\"password\":\"admin-password-1\"}", "GET /open/healthz", "GET /v2/accounts/one"]
--- error_code eval
[404, 404, 404, 404, 404, 200]
--- response_body_like eval
[(qr/^\{"detail":"Not Found"\}$/) x 5, qr/"id":"one"/]



=== TEST 11: q2api_donate and q2api_admin in one location stop nginx -t
--- http_config eval: $::HTTP
--- config
    location /d/ {
        q2api_admin;
        q2api_admin_password admin-password-1;
        q2api_donate antigravity;
    }
--- must_die
--- error_log
q2api_donate and q2api_admin cannot share a location: the donate API is public



=== TEST 12: a donation through the mock: PKCE verified, the account stored and its project found, a masked answer; the same Google account again is one account
--- http_config eval: $::HTTP
--- config eval: $::DONATE
--- mock eval
{ by_path => { '/token' => [ google_token('ya29.first', refresh_token => '1//0first', id_token => id_token('5566778899', 'donor@example.com')),
                             google_token('ya29.second', refresh_token => '1//0second', id_token => id_token('5566778899', 'donor@example.com')) ],
               '/v1internal:loadCodeAssist' => [ load_code_assist(project => 'fluent-cosmos-a1b2c3') ] } }
--- request eval
[main::answer('4/0AQlEd8x-first', 1), main::answer('4/0AQlEd8x-again', 0), 'GET /open/status', 'GET /v2/accounts?type=gemini']
--- more_headers
Authorization: Bearer admin-password-1
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[qr/^\{"created":true,"label":"don\x{e2}\x{80}\x{a6}","project":"flue\x{e2}\x{80}\x{a6}c3","status":"active"\}$/,
 qr/^\{"created":false,"label":"don\x{e2}\x{80}\x{a6}","project":"flue\x{e2}\x{80}\x{a6}c3","status":"active"\}$/,
 qr/^\{"accounts":1,"active":1,"groups":\[\],"recent":\[\{"label":"don\x{e2}\x{80}\x{a6}","project":"flue\x{e2}\x{80}\x{a6}c3","flavour":"antigravity","status":"active","donated_at":"[^"]+","quota":\[\]\}\],/,
 qr/"count":1\}$/]
--- response_body_unlike eval
[qr/ya29|1\/\/0|donor\@|5566778899|fluent-cosmos/, qr/ya29|1\/\/0|donor\@|5566778899|fluent-cosmos/, qr/ya29|1\/\/0|donor\@|5566778899|fluent-cosmos|gemini-/, qr/ya29/]
--- mock_check eval
sub {
    my ($reqs, $block) = @_;
    my $n = ++$main::seen{$block->name};
    if ($n == 1) {
        is_deeply(main::paths($reqs), ['/token', '/v1internal:loadCodeAssist'], 'the code exchanged, then the project');
        my $f = form($reqs->[0]{body});
        is($f->{code}, '4/0AQlEd8x-first', 'the pasted code');
        is($f->{redirect_uri}, 'http://localhost:51121/oauth-callback', "the flavour's redirect, as in the URL");
        is($f->{client_id}, $::AG, "Antigravity's client");
        is($f->{code_verifier}, $main::verifier{'4/0AQlEd8x-first'}, "the state's verifier");
    }
    if ($n == 2) {
        is(form($reqs->[0]{body})->{client_id}, $::CLI, "the second login with gemini-cli's client");
    }
    if ($n == 4) {
        my $s = main::stored();
        my @g = grep { /^gemini-/ } keys %$s;
        is_deeply(\@g, ['gemini-5566778899'], 'one account for one Google subject');
        is($s->{'gemini-5566778899'}{refreshToken}, '1//0second', 'the newer login kept');
        is($s->{'gemini-5566778899'}{label}, 'donor@example.com', 'labelled by its e-mail, for the operator');
    }
}
--- no_error_log
ya29.first
1//0first
--- log_level: info



=== TEST 13: Google's refusal and a code used twice come back in plain words; nothing stored
--- http_config eval: $::HTTP
--- config eval: $::DONATE
--- mock eval
{ by_path => { '/token' => [ google_error('invalid_grant', 'Bad Request'), google_token('ya29.x', id_token => id_token('1', 'a@b.c')) ] } }
--- request eval
[main::answer('4/used', 1), main::answer('4/norefresh', 1), 'GET /open/status']
--- error_code eval
[400, 400, 200]
--- response_body_like eval
[qr/^\{"detail":"Google refused the code: invalid_grant"\}$/,
 qr/^\{"detail":"Google gave no refresh token: /,
 qr/^\{"accounts":0,/]



=== TEST 14: status: counts, quota per model group (the least per account, averaged), the next reset, masked labels; Amazon Q and disabled accounts out of the sums
--- http_config eval: $::HTTP
--- config eval: $::DONATE
--- user_files eval
main::accounts('amazon-one',
  { id => 'g1', type => 'gemini', label => 'alice@example.com', enabled => 1,
    created_at => '2026-01-01T00:00:00', refreshToken => '1//0g1',
    other => { project => 'alpha-project-123', creditsInfo => { models => {
      'gemini-3-pro-high' => { remainingFraction => 0.5, resetTime => '2030-01-01T00:00:00Z' },
      'gemini-3-flash' => { remainingFraction => 0.2, resetTime => '2030-01-01T01:00:00Z' },
      'claude-sonnet-4-5' => { remainingFraction => 1, resetTime => '2030-01-02T00:00:00Z' } } } } },
  { id => 'g2', type => 'gemini', label => '<img src=x onerror=alert(1)>', enabled => 1,
    created_at => '2026-02-01T00:00:00', refreshToken => '1//0g2',
    other => { creditsInfo => { models => {
      'gemini-3-pro-high' => { remainingFraction => 0.8, resetTime => '2029-12-31T00:00:00Z' } } } } },
  { id => 'g3', type => 'gemini', label => 'carol', enabled => 0,
    created_at => '2026-03-01T00:00:00', refreshToken => '1//0g3',
    other => { creditsInfo => { models => {
      'gemini-3-pro-high' => { remainingFraction => 0, resetTime => '2029-01-01T00:00:00Z' } } } } })
--- request
GET /open/status
--- error_code: 200
--- response_body_like eval
qr/^\{"accounts":3,"active":2,"groups":\[\{"name":"Gemini","accounts":2,"remaining_percent":50,"reset_at":"2029-12-31T00:00:00","reset_in":\d+\},\{"name":"Claude and GPT","accounts":1,"remaining_percent":100,"reset_at":"2030-01-02T00:00:00","reset_in":\d+\}\],"recent":\[\{"label":"\x{e2}\x{80}\x{a6}","project":null,"flavour":"gemini-cli","status":"disabled",.*"quota":\[\{"group":"Gemini","remaining_percent":0,"reset_at":"2029-01-01T00:00:00","reset_in":\d+\}\]\},\{"label":"<im\x{e2}\x{80}\x{a6}","project":null,.*"status":"active",.*\},\{"label":"ali\x{e2}\x{80}\x{a6}","project":"alph\x{e2}\x{80}\x{a6}23",.*"quota":\[\{"group":"Gemini","remaining_percent":20,"reset_at":"2030-01-01T01:00:00","reset_in":\d+\},\{"group":"Claude and GPT","remaining_percent":100,/
--- response_body_unlike
alice|1//0|amazon-one|g1|onerror|alpha-project



=== TEST 15: donations are counted by result in q2api_metrics: added, renewed, refused, rate limited
--- http_config eval: $::HTTP
--- config eval
"    location = /metrics { q2api_metrics; }\n" . $::DONATE
--- mock eval
{ by_path => { '/token' => [ google_token('ya29.a', refresh_token => '1//0a', id_token => id_token('42', 'd@example.com')),
                             google_token('ya29.b', refresh_token => '1//0b', id_token => id_token('42', 'd@example.com')),
                             google_error('invalid_grant', 'Bad Request') ],
               '/v1internal:loadCodeAssist' => [ load_code_assist(project => 'fluent-cosmos-a1b2c3') ] } }
--- request eval
[ main::answer('4/one', 1), main::answer('4/two', 1), main::answer('4/three', 1),
  (map { "POST /donate/api/exchange\n{}" } 1 .. 7),
  "GET /metrics" ]
--- error_code eval
[ 200, 200, 400, (400) x 6, 429, 200 ]
--- response_body_like eval
[ qr/"created":true/, qr/"created":false/, qr/invalid_grant/, (qr/detail/) x 7,
  qr/q2api_donations_total\{result="added"\} 1\nq2api_donations_total\{result="renewed"\} 1\nq2api_donations_total\{result="refused"\} 7\nq2api_donations_total\{result="rate_limited"\} 1\nq2api_donations_total\{result="error"\} 0\n/ ]
