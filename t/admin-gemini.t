# Gemini accounts in the admin API and the stores: amq2api's row shape
# (clientId, clientSecret, refreshToken, accessToken, other.project,
# other.api_endpoint), the flavour each row is served as, secrets masked,
# bad values refused and named by field, amq2api's exports imported as
# they are.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;
use JSON::PP ();
use Q2api::Admin qw(accounts stored error_log api paths);

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
our $SANDBOX = 'https://daily-cloudcode-pa.sandbox.googleapis.com';

sub main::flavours {
    my ($body) = @_;
    my $j = JSON::PP->new->decode($body);
    return { map { $_->{id} => $_->{flavour} } @{ $j->{accounts} } };
}

run_tests();

__DATA__

=== TEST 1: the flavour of each row: named in other, by the OAuth client, by the endpoint, else gemini-cli
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval
main::accounts(
    { id => 'named', type => 'gemini', accessToken => 'a1', clientId => $::CLI,
      other => { flavour => 'antigravity', project => 'proud-quasar-abc12' } },
    { id => 'by-client', type => 'gemini', accessToken => 'a2', clientId => $::AG },
    { id => 'by-endpoint', type => 'gemini', accessToken => 'a3',
      other => { project => 'gen-lang-client-0194852792', api_endpoint => $::SANDBOX } },
    { id => 'prod', type => 'gemini', accessToken => 'a4',
      other => { api_endpoint => 'https://cloudcode-pa.googleapis.com/' } },
    { id => 'plain', type => 'gemini', accessToken => 'a5', clientId => $::CLI },
    { id => 'q', accessToken => 'a6' })
--- request
GET /v2/accounts?type=gemini
--- error_code: 200
--- response_body_like
"count":5
--- response_body_filters eval
sub { JSON::PP->new->canonical->encode(main::flavours($_[0])) }
--- response_body chomp
{"by-client":"antigravity","by-endpoint":"antigravity","named":"antigravity","plain":"gemini-cli","prod":"gemini-cli"}



=== TEST 2: create, list and export a gemini row in amq2api's shape; secrets masked; persisted as given
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval: main::accounts()
--- request eval
[qq{POST /v2/accounts\n{"id":"g1","label":"donor","type":"gemini","clientId":"$::AG","clientSecret":"GOCSPX-secret-1","refreshToken":"1//0refresh-1","accessToken":"ya29.access-1","other":{"project":"proud-quasar-abc12","api_endpoint":"$::SANDBOX"}}},
 "GET /v2/accounts/g1",
 "GET /v2/accounts/export"]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[qr/^\{"id":"g1","label":"donor",.*"type":"gemini","flavour":"antigravity",/,
 qr/^\{"id":"g1".*"clientSecret":"\xe2\x80\xa6\(15\)".*"refreshToken":"\xe2\x80\xa6\(13\)".*"other":\{"project":"proud-quasar-abc12","api_endpoint":"https:\/\/daily-cloudcode-pa\.sandbox\.googleapis\.com"\}/,
 qr/"id":"g1".*"refreshToken":"1\/\/0refresh-1".*"type":"gemini"/]
--- response_body_unlike eval
[qr/GOCSPX-secret-1|ya29\.access-1/, qr/GOCSPX-secret-1|ya29\.access-1|1\/\/0refresh-1/, qr/^$/]
--- mock_check eval
sub {
    my ($reqs, $block) = @_;
    return unless ++$main::seen{$block->name} == 3;
    my $s = main::stored();
    is($s->{g1}{type}, 'gemini', 'type persisted');
    is($s->{g1}{refreshToken}, '1//0refresh-1', 'refresh token persisted');
    my $o = ref $s->{g1}{other} ? $s->{g1}{other} : JSON::PP->new->decode($s->{g1}{other});
    is($o->{project}, 'proud-quasar-abc12', 'other.project persisted');
    is($o->{api_endpoint}, $::SANDBOX, 'other.api_endpoint persisted');
}



=== TEST 3: bad values are refused and named by field
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- request eval
my @b = (
    '{"type":"gemini","accessToken":"t","other":{"project":"Bad Project"}}',
    '{"type":"gemini","accessToken":"t","other":{"project":"p\r\nx"}}',
    '{"type":"gemini","accessToken":"t","other":{"project":7}}',
    '{"type":"gemini","accessToken":"t","other":{"api_endpoint":"https://evil.example.com"}}',
    '{"type":"gemini","accessToken":"t","other":{"api_endpoint":"http://cloudcode-pa.googleapis.com"}}',
    '{"type":"gemini","accessToken":"t","other":{"api_endpoint":"https://cloudcode-pa.googleapis.com@evil.com"}}',
    '{"type":"gemini","accessToken":"t","other":{"flavour":"vertex"}}',
    '{"type":"gemini","accessToken":"ya29 space"}',
    '{"type":"gemini","refreshToken":"1//0r","clientSecret":"x\r\ny"}',
);
[ map { "POST /v2/accounts\n$_" } @b ]
--- error_code eval
[(400) x 9]
--- response_body_like eval
[qr/^\{"detail":"other\.project: must be a Google Cloud project id/,
 qr/^\{"detail":"other\.project: must be a Google Cloud project id/,
 qr/^\{"detail":"other\.project: must be a Google Cloud project id/,
 qr/^\{"detail":"other\.api_endpoint: must be https:\/\/ and a Code Assist host/,
 qr/^\{"detail":"other\.api_endpoint: must be https:\/\/ and a Code Assist host/,
 qr/^\{"detail":"other\.api_endpoint: must be https:\/\/ and a Code Assist host/,
 qr/^\{"detail":"other\.flavour: must be \\"gemini-cli\\" or \\"antigravity\\""\}$/,
 qr/^\{"detail":"accessToken: must be printable ASCII without spaces"\}$/,
 qr/^\{"detail":"clientSecret: must be printable ASCII without spaces"\}$/]
--- mock_check eval
sub {
    my ($reqs, $block) = @_;
    return unless ++$main::seen{$block->name} == 9;
    my $s = main::stored();
    is_deeply([ sort keys %$s ], ['acc-1'], 'nothing stored');
}



=== TEST 4: a gemini account without a refresh client: the flavour's public client refreshes it
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- request
POST /v2/accounts
{"id":"g2","type":"gemini","refreshToken":"1//0only","other":{"flavour":"antigravity"}}
--- error_code: 200
--- response_body_like chomp
"type":"gemini","flavour":"antigravity"



=== TEST 5: patch keeps what other says; a new other is checked and re-read
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval
main::accounts({ id => 'g', type => 'gemini', accessToken => 'a', other => { flavour => 'antigravity', project => 'proj-one' } })
--- request eval
["PATCH /v2/accounts/g\n{\"label\":\"renamed\"}",
 "PATCH /v2/accounts/g\n{\"other\":{\"project\":\"proj-two\"}}",
 "PATCH /v2/accounts/g\n{\"other\":{\"project\":\"proj two\"}}"]
--- error_code eval
[200, 200, 400]
--- response_body_like eval
[qr/"label":"renamed".*"other":\{"flavour":"antigravity","project":"proj-one"\}.*"flavour":"antigravity"/,
 qr/"other":\{"project":"proj-two"\}.*"flavour":"gemini-cli"/,
 qr/^\{"detail":"other\.project: must be a Google Cloud project id/]



=== TEST 6: amq2api's export imports unchanged: JSON rows with other as text, and its lines
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- request eval
[ "POST /v2/accounts/import\n" . JSON::PP->new->encode([
    { id => 'amq-1', label => 'Gemini-20250101-120000', clientId => $::AG, clientSecret => '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',
      refreshToken => '1//0imp', accessToken => 'ya29.imp', type => 'gemini', enabled => 1,
      other => qq{{"project": "proud-quasar-abc12", "api_endpoint": "$::SANDBOX", "creditsInfo": {"models": {}}, "resetTime": "2025-11-20T16:12:51Z"}},
      created_at => '2025-01-01T12:00:00', updated_at => '2025-01-01T12:00:00' },
    { id => 'amq-2', type => 'gemini', accessToken => 'ya29.x', other => '{"project": "UPPER"}' } ]),
  "POST /v2/accounts/import\ngemini|line-one|$::AG|GOCSPX-x|1//0l|ya29.l|proj-line|$::SANDBOX\ngemini|line-two||||ya29.m\ngemini|bad|a|b|c|d|proj|https://evil.example.com\n",
  "GET /v2/accounts?type=gemini&sort_by=id&sort_order=asc" ]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[qr/^\{"success":false,"total":2,"created":1,"updated":0,"failed":1,"errors":\[\{"index":1,"error":"other\.project: must be a Google Cloud project id[^"]*"\}\]/,
 qr/^\{"success":false,"total":3,"created":2,"updated":0,"failed":1,"errors":\[\{"line":3,"error":"api_endpoint: must be https:\/\/ and a Code Assist host/,
 qr/"count":3/]
--- mock_check eval
sub {
    my ($reqs, $block) = @_;
    return unless ++$main::seen{$block->name} == 3;
    my $s = main::stored();
    my %by = map { ($_->{label} // $_->{id}) => $_ } values %$s;
    my $a = $s->{'amq-1'};
    is($a->{refreshToken}, '1//0imp', 'JSON row: refresh token');
    my $o = ref $a->{other} ? $a->{other} : JSON::PP->new->decode($a->{other});
    is($o->{project}, 'proud-quasar-abc12', 'JSON row: project');
    is($o->{resetTime}, '2025-11-20T16:12:51Z', 'JSON row: the rest of other kept');
    my $l = $by{'line-one'};
    is($l->{type}, 'gemini', 'line: type');
    my $lo = ref $l->{other} ? $l->{other} : JSON::PP->new->decode($l->{other});
    is_deeply($lo, { project => 'proj-line', api_endpoint => $::SANDBOX }, 'line: project and endpoint into other');
    is($by{'line-two'}{accessToken}, 'ya29.m', 'line without project');
}



=== TEST 7: exchange: a Google sign-in becomes an account, its project looked up; the same Google account again is the same account
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- mock eval
{ by_path => { '/token' => [ google_token('ya29.first', refresh_token => '1//0first', id_token => id_token('1122334455', 'donor@example.com')),
                             google_token('ya29.second', refresh_token => '1//0second', id_token => id_token('1122334455', 'donor@example.com')) ],
               '/v1internal:loadCodeAssist' => [ load_code_assist(project => 'donor-project-1') ] } }
--- request eval
['POST /v2/gemini/exchange
{"code":"4/0AQlEd8x-code","code_verifier":"verifier-0123456789-abcdefghijklmnopqrstuvwxyz","redirect_uri":"http://localhost:64312/oauth-callback","flavour":"antigravity"}',
 'POST /v2/gemini/exchange
{"code":"4/0AQlEd8x-again","redirect_uri":"http://localhost:64312/oauth-callback","label":"renamed"}',
 'GET /v2/accounts?type=gemini']
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[qr/^\{"created":true,"project_lookup":"ok","account":\{"id":"gemini-1122334455","label":"donor\@example\.com",.*"other":\{"flavour":"antigravity","project":"donor-project-1","tier":"free-tier"\}.*"type":"gemini","flavour":"antigravity","status":"active"/,
 qr/^\{"created":false,"project_lookup":"ok","account":\{"id":"gemini-1122334455","label":"renamed"/,
 qr/"count":1\}$/]
--- response_body_unlike eval
[qr/ya29|1\/\/0first/, qr/ya29|1\/\/0second/, qr/ya29/]
--- mock_check eval
sub {
    my ($reqs, $block) = @_;
    my $n = ++$main::seen{$block->name};
    if ($n == 1) {
        is_deeply(main::paths($reqs), ['/token', '/v1internal:loadCodeAssist'], 'exchange, then the project');
        is($reqs->[0]{headers}{'content-type'}, 'application/x-www-form-urlencoded', 'a form');
        is_deeply(form($reqs->[0]{body}),
                  { code => '4/0AQlEd8x-code', client_id => $::AG,
                    client_secret => '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',
                    redirect_uri => 'http://localhost:64312/oauth-callback',
                    grant_type => 'authorization_code',
                    code_verifier => 'verifier-0123456789-abcdefghijklmnopqrstuvwxyz' },
                  'the authorization_code grant with PKCE');
        is($reqs->[1]{headers}{authorization}, 'Bearer ya29.first', 'the project looked up with the new token');
    }
    if ($n == 2) {
        ok(!exists form($reqs->[0]{body})->{code_verifier}, 'no verifier: none sent');
    }
    if ($n == 3) {
        my $s = main::stored();
        is($s->{'gemini-1122334455'}{refreshToken}, '1//0second', 'the newer refresh token persisted');
        is(scalar(grep { /^gemini-/ } keys %$s), 1, 'one account for one Google subject');
    }
}
--- no_error_log
ya29.first
1//0first
--- log_level: info



=== TEST 8: exchange refused or incomplete: Google's error, no refresh token, no id token; nothing stored
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- mock eval
{ by_path => { '/token' => [ google_error('invalid_grant', 'Malformed auth code.'),
                             google_token('ya29.x', id_token => id_token('1', 'a@b.c')),
                             google_token('ya29.y', refresh_token => '1//0y'),
                             google_token('ya29.z', refresh_token => '1//0z', id_token => 'not-a-jwt'),
                             { status => 503, json => { error => 'backendError' } } ] } }
--- request eval
[ map { qq{POST /v2/gemini/exchange\n{"code":"c$_","redirect_uri":"http://127.0.0.1:8085/oauth2callback","flavour":"gemini-cli"}} } 1 .. 5 ]
--- error_code eval
[400, 400, 502, 502, 502]
--- response_body eval
['{"detail":"Google refused the code: invalid_grant"}',
 '{"detail":"Google gave no refresh token: sign in again with access_type=offline and prompt=consent"}',
 '{"detail":"Code exchange failed: Google\'s answer lacks an id token with a subject (the openid and email scopes are needed)"}',
 '{"detail":"Code exchange failed: Google\'s answer lacks an id token with a subject (the openid and email scopes are needed)"}',
 '{"detail":"Code exchange failed: Google\'s token endpoint failed"}']
--- mock_check eval
sub {
    my ($reqs, $block) = @_;
    return unless ++$main::seen{$block->name} == 5;
    my $s = main::stored();
    is_deeply([ sort keys %$s ], ['acc-1'], 'nothing stored');
}



=== TEST 9: exchange: bad input is refused before Google is asked
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- request eval
[ map { "POST /v2/gemini/exchange\n$_" }
  '{"redirect_uri":"http://localhost/cb"}',
  '{"code":"c","redirect_uri":"ftp://x"}',
  '{"code":"c d","redirect_uri":"http://localhost/cb"}',
  '{"code":"c","redirect_uri":"http://localhost/cb\r\nX: y"}',
  '{"code":"c","redirect_uri":"http://localhost/cb","flavour":"vertex"}',
  '{"code":"c","redirect_uri":"http://localhost/cb","label":"a\u0001b"}',
  'not json' ]
--- error_code eval
[(400) x 7]
--- response_body_like eval
[qr/^\{"detail":"code: required"\}$/,
 qr/^\{"detail":"redirect_uri: must be the http:\/\/ or https:\/\/ URI the code was asked with"\}$/,
 qr/^\{"detail":"code: must be 1 to 4096 printable ASCII characters without spaces"\}$/,
 qr/^\{"detail":"redirect_uri: must be 1 to 4096 printable ASCII/,
 qr/^\{"detail":"flavour: must be \\"gemini-cli\\" or \\"antigravity\\""\}$/,
 qr/^\{"detail":"label: /,
 qr/^\{"detail":"body: invalid JSON/]
--- mock_requests eval
[0, 0, 0, 0, 0, 0, 0]
