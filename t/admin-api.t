# The admin REST API (ngx_http_q2api_admin_module): authentication
# (password, session tokens, slow-down), every route, masked secrets, input
# checks, persistence through the file store, import and export, token
# refresh, feed, chat test and deep health through the mock.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;
use JSON::PP ();
use HTTP::Tiny ();
use Digest::SHA qw(sha256 hmac_sha256 sha256_base64);
use MIME::Base64 qw(encode_base64url);

repeat_each(1);
no_shuffle();
no_root_location();

our $HTTP = <<'_EOC_';
    q2api_zone q2api 8m;
    q2api_store file html/accounts.json;
    q2api_store_interval 100ms;
    q2api_amazonq_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT/;
    q2api_oidc_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    q2api_kiro_auth_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
_EOC_

our $ADMIN = <<'_EOC_';
    location /v1/messages {
        q2api_pass claude;
    }

    location / {
        q2api_admin;
        q2api_admin_password admin-password-1;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
_EOC_

# a known session secret: tests can mint tokens as another node would
our $SECRET = <<'_EOC_';
    location /v1/messages {
        q2api_pass claude;
    }

    location / {
        q2api_admin;
        q2api_admin_password admin-password-1;
        q2api_admin_secret this-is-the-session-secret;
        q2api_admin_login_limit 3 60s;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
_EOC_

our $AUTH = "Authorization: Bearer admin-password-1";

our $CHAT = '{"model":"claude-sonnet-4-5","max_tokens":10,'
          . '"messages":[{"role":"user","content":"hi"}]}';

my $J = JSON::PP->new->utf8->canonical;

sub main::accounts {
    my @a = map { ref $_ ? $_ : { id => $_, accessToken => "tok-$_", enabled => 1 } } @_;
    return ">>> accounts.json\n" . $J->encode(\@a) . "\n";
}

# the accounts file as the store last wrote it
sub main::stored {
    select(undef, undef, undef, 0.6);
    my $f = main::server_root() . '/html/accounts.json';
    open my $fh, '<', $f or die "$f: $!";
    local $/;
    my $j = $J->decode(<$fh>);
    return { map { $_->{id} => $_ } @{ ref $j eq 'HASH' ? $j->{accounts} : $j } };
}

# the error log so far
sub main::error_log {
    my $f = main::server_root() . '/logs/error.log';
    open my $fh, '<', $f or die "$f: $!";
    local $/;
    return scalar <$fh>;
}

# one request to the server under test: (status, decoded JSON or text, headers)
sub main::api {
    my ($method, $path, $body, $auth) = @_;
    my %h;
    $h{authorization} = "Bearer $auth" if defined $auth;
    my $res = HTTP::Tiny->new(timeout => 20)->request($method,
        'http://127.0.0.1:' . main::server_port() . $path,
        { headers => \%h, defined $body ? (content => $body) : () });
    my $data = eval { $J->decode($res->{content}) } // $res->{content};
    return ($res->{status}, $data, $res->{headers});
}

# a session token as the module makes one, for a known secret
sub main::mint {
    my ($secret, $password, $expires) = @_;
    my $key = hmac_sha256('q2api admin session v1' . sha256($password), $secret);
    my $payload = "q2a1.$expires.0123456789abcdef";
    return "$payload." . encode_base64url(hmac_sha256($payload, $key));
}

sub main::paths {
    my ($reqs) = @_;
    return [ map { $_->{path} eq '/'
                   ? 'chat:' . ($_->{headers}{authorization} =~ s/^Bearer //r)
                   : $_->{path} } @$reqs ];
}

run_tests();

__DATA__

=== TEST 1: no credentials: q2api's 401
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- request
GET /v2/accounts
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer
Cache-Control: no-store
Content-Type: application/json
--- response_body chomp
{"detail":{"error":"Unauthorized access","code":"UNAUTHORIZED"}}
--- mock_requests: 0



=== TEST 2: the raw password as Bearer (q2api's clients), X-Admin-Key (amq2api's); a wrong one is q2api's 401
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- request eval
["GET /v2/accounts", "GET /v2/accounts", "GET /v2/accounts", "GET /v2/accounts"]
--- more_headers eval
["Authorization: Bearer admin-password-1", "X-Admin-Key: admin-password-1",
 "Authorization: Bearer admin-password-2", "Authorization: Basic YWRtaW4="]
--- error_code eval
[200, 200, 401, 401]
--- response_body_like eval
[qr/^\{"accounts":\[\{"id":"acc-1",.*\],"count":1\}$/,
 qr/"count":1\}$/,
 qr/^\{"detail":\{"error":"Invalid password","code":"INVALID_PASSWORD"\}\}$/,
 qr/^\{"detail":\{"error":"Unauthorized access","code":"UNAUTHORIZED"\}\}$/]
--- no_error_log
admin-password
--- log_level: info



=== TEST 3: /api/login: a wrong password is q2api's 200 {"success":false}; a right one buys a session token
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- request eval
["POST /api/login\n{\"password\":\"nope-nope\"}",
 "POST /api/login\n{\"password\":\"admin-password-1\"}",
 "POST /api/login\n{\"pass\":\"admin-password-1\"}",
 "POST /api/login\n{\"password\":"]
--- error_code eval
[200, 200, 400, 400]
--- response_body_like eval
[qr/^\{"success":false,"message":"Invalid password"\}$/,
 qr/^\{"success":true,"message":"Login successful","token":"q2a1\.\d+\.[0-9a-f]{16}\.[A-Za-z0-9_-]{43}","expires_at":\d+\}$/,
 qr/^\{"detail":"password: expected a string"\}$/,
 qr/^\{"detail":"body: invalid JSON near byte \d+"\}$/]
--- no_error_log
admin-password-1
--- log_level: info



=== TEST 4: a session token opens every route for 30 days; a tampered one does not
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- request
GET /healthz
--- error_code: 200
--- mock_check eval
sub {
    my ($st, $login) = main::api('POST', '/api/login', '{"password":"admin-password-1"}');
    is($st, 200, 'login');
    my $t = $login->{token};
    like($t, qr/^q2a1\./, 'a token');
    cmp_ok(abs($login->{expires_at} - (time + 30 * 86400)), '<', 10, 'valid for 30 days');

    my ($s1, $list) = main::api('GET', '/v2/accounts', undef, $t);
    is($s1, 200, 'the token opens the listing');
    is($list->{count}, 1, 'one account');

    my $bad = $t;
    substr($bad, -5, 1) = substr($bad, -5, 1) eq 'A' ? 'B' : 'A';
    my ($s2, $d2) = main::api('GET', '/v2/accounts', undef, $bad);
    is($s2, 401, 'a tampered signature is refused');
    is_deeply($d2, { detail => { error => 'Unauthorized access', code => 'UNAUTHORIZED' } }, 'q2api shape');

    my $later = $t =~ s/^q2a1\.(\d+)\./'q2a1.' . ($1 + 86400) . '.'/er;
    my ($s3) = main::api('GET', '/v2/accounts', undef, $later);
    is($s3, 401, 'a token whose expiry was pushed is refused');

    my ($s4) = main::api('GET', '/v2/accounts', undef, main::mint('guess', 'admin-password-1', time + 60));
    is($s4, 401, 'a token signed with another key is refused');
}



=== TEST 5: tokens are HMAC-SHA256 with the key from q2api_admin_secret and the password: minted ones work, expired ones say so
--- http_config eval: $::HTTP
--- config eval: $::SECRET
--- request
GET /healthz
--- error_code: 200
--- mock_check eval
sub {
    my $ok = main::mint('this-is-the-session-secret', 'admin-password-1', time + 300);
    my ($s1) = main::api('GET', '/v2/accounts', undef, $ok);
    is($s1, 200, 'a token of another node with the same secret works');

    my $old = main::mint('this-is-the-session-secret', 'admin-password-1', time - 1);
    my ($s2, $d2) = main::api('GET', '/v2/accounts', undef, $old);
    is($s2, 401, 'an expired token is refused');
    is_deeply($d2, { detail => { error => 'Session expired', code => 'UNAUTHORIZED' } }, 'and says why');

    my $other = main::mint('this-is-the-session-secret', 'admin-password-0', time + 300);
    my ($s3) = main::api('GET', '/v2/accounts', undef, $other);
    is($s3, 401, 'a token made for another password is refused');
}



=== TEST 6: q2api_admin_session_timeout: a login token expires
--- http_config eval: $::HTTP
--- config
    location / {
        q2api_admin;
        q2api_admin_password admin-password-1;
        q2api_admin_session_timeout 1s;
    }
--- request
GET /healthz
--- error_code: 200
--- mock_check eval
sub {
    my (undef, $login) = main::api('POST', '/api/login', '{"password":"admin-password-1"}');
    my ($s1) = main::api('GET', '/v2/accounts', undef, $login->{token});
    is($s1, 200, 'fresh');
    select(undef, undef, undef, 2.1);
    my ($s2, $d2) = main::api('GET', '/v2/accounts', undef, $login->{token});
    is($s2, 401, 'expired');
    is($d2->{detail}{error}, 'Session expired', 'says so');
}



=== TEST 7: {SHA256} passwords: the password opens, the hash itself does not
--- http_config eval: $::HTTP
--- config eval
my $h = Digest::SHA::sha256_base64('hashed-password-1');
$h .= '=' x ((4 - length($h) % 4) % 4);
qq{
    location / {
        q2api_admin;
        q2api_admin_password "{SHA256}$h";
    }
}
--- request eval
["GET /v2/accounts", "GET /v2/accounts", "POST /api/login\n{\"password\":\"hashed-password-1\"}"]
--- more_headers eval
["Authorization: Bearer hashed-password-1",
 "Authorization: Bearer " . do { my $h = Digest::SHA::sha256_base64('hashed-password-1'); "{SHA256}$h=" },
 ""]
--- error_code eval
[200, 401, 200]
--- response_body_like eval
[qr/"count":1/, qr/INVALID_PASSWORD/, qr/"success":true/]



=== TEST 8: slow-down: after 3 failures password attempts get a 429 with retry-after, valid sessions still work
--- http_config eval: $::HTTP
--- config eval: $::SECRET
--- request
GET /healthz
--- error_code: 200
--- mock_check eval
sub {
    for my $i (1 .. 3) {
        my ($s) = main::api('GET', '/v2/accounts', undef, "wrong-password-$i");
        is($s, 401, "failure $i is a 401");
    }

    my ($s1, $d1, $h1) = main::api('GET', '/v2/accounts', undef, 'admin-password-1');
    is($s1, 429, 'then even the right password is slowed down');
    is($h1->{'retry-after'}, 60, 'for the lockout time');
    is($d1->{detail}{code}, 'TOO_MANY_ATTEMPTS', 'saying why');

    my ($s2) = main::api('POST', '/api/login', '{"password":"admin-password-1"}');
    is($s2, 429, 'so is /api/login');

    my ($s3) = main::api('GET', '/v2/accounts', undef,
                         main::mint('this-is-the-session-secret', 'admin-password-1', time + 300));
    is($s3, 200, 'a valid session token is not locked out');

    my ($s4) = main::api('GET', '/v2/accounts', undef, 'q2a1.' . (time + 60) . '.0123456789abcdef.' . ('A' x 43));
    is($s4, 429, 'a forged one is');
}
--- error_log
q2api admin: 3 failed authentications, password attempts from this client refused for 60 s



=== TEST 9: the lockout ends, and then the password works again (and clears the count)
--- http_config eval: $::HTTP
--- config
    location / {
        q2api_admin;
        q2api_admin_password admin-password-1;
        q2api_admin_login_limit 2 1s;
    }
--- request
GET /healthz
--- error_code: 200
--- mock_check eval
sub {
    main::api('POST', '/api/login', '{"password":"wrong-1"}');
    my (undef, $d) = main::api('POST', '/api/login', '{"password":"wrong-2"}');
    is($d->{success}, JSON::PP::false, 'the second failure is still answered');
    my ($s1) = main::api('POST', '/api/login', '{"password":"admin-password-1"}');
    is($s1, 429, 'locked out');
    select(undef, undef, undef, 1.2);
    my ($s2, $d2) = main::api('POST', '/api/login', '{"password":"admin-password-1"}');
    is($s2, 200, 'the lockout is over');
    ok($d2->{success}, 'logged in');
    main::api('POST', '/api/login', '{"password":"wrong-3"}');
    my ($s3) = main::api('GET', '/v2/accounts', undef, 'admin-password-1');
    is($s3, 200, 'the success reset the count: one failure does not lock');
}



=== TEST 10: q2api_admin without q2api_admin_password refuses to start
--- http_config eval: $::HTTP
--- config
    location / {
        q2api_admin;
    }
--- request
GET /healthz
--- must_die
--- error_log
q2api_admin requires q2api_admin_password



=== TEST 11: bad password settings refuse to start
--- http_config eval: $::HTTP
--- config
    location / {
        q2api_admin;
        q2api_admin_password "{MD5}abc";
    }
--- request
GET /healthz
--- must_die
--- error_log
unknown password scheme, use {PLAIN} or {SHA256}



=== TEST 12: /healthz needs no credentials and counts usable accounts; HEAD works
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- user_files eval
main::accounts('a', 'b', { id => 'c', accessToken => 'tok-c', enabled => 0 },
               { id => 'd', accessToken => 'tok-d', status => 'suspended' })
--- request eval
["GET /healthz", "HEAD /healthz"]
--- error_code eval
[200, 200]
--- response_body eval
["{\"status\":\"ok\",\"accounts\":4,\"usable\":2}", ""]



=== TEST 13: routes by the URI tail, under any prefix; unknown routes and methods
--- http_config eval: $::HTTP
--- config
    location /admin/ {
        q2api_admin;
        q2api_admin_password admin-password-1;
    }
--- more_headers eval: $::AUTH
--- request eval
["GET /admin/v2/accounts", "GET /admin/v2/accounts/acc-1", "GET /admin/healthz",
 "GET /admin/v2/nothing", "DELETE /admin/v2/accounts", "GET /admin/v2/accounts/feed",
 "GET /admin/v2/accounts/acc-1/nothing"]
--- error_code eval
[200, 200, 200, 404, 405, 405, 404]
--- response_body_like eval
[qr/"count":1/, qr/^\{"id":"acc-1"/, qr/"status":"ok"/,
 qr/^\{"detail":"Not Found"\}$/, qr/^\{"detail":"Method Not Allowed"\}$/,
 qr/^\{"detail":"Method Not Allowed"\}$/, qr/^\{"detail":"Not Found"\}$/]
--- raw_response_headers_like eval
["", "", "", "", "Allow: GET, HEAD, POST\r\n", "Allow: POST\r\n", ""]



=== TEST 14: the listing: newest first, filters, sort keys and orders, bad arguments
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval
main::accounts(
    { id => 'a', label => 'zeta', accessToken => 'tok-a', enabled => 1, created_at => 1000, success_count => 5, last_used => 30 },
    { id => 'b', label => 'alpha', accessToken => 'tok-b', enabled => 0, created_at => 3000, success_count => 1, last_used => 10 },
    { id => 'c', label => 'mid', accessToken => 'tok-c', enabled => 1, created_at => 2000, success_count => 9, last_used => 20,
      status => 'suspended', status_reason => 'TEMPORARILY_SUSPENDED', type => 'kiro' })
--- request eval
[map { "GET /v2/accounts$_" } '', '?enabled=false', '?enabled=true', '?status=suspended', '?type=kiro',
 '?sort_by=success_count&sort_order=asc', '?sort_by=label&sort_order=asc', '?sort_by=last_used',
 '?sort_order=asc', '?sort_by=bogus', '?enabled=maybe', '?status=ill', '?sort_order=up', '?type=gemini']
--- error_code eval
[(200) x 9, (400) x 5]
--- response_body_like eval
[qr/^\{"accounts":\[\{"id":"b".*\{"id":"c".*\{"id":"a".*\],"count":3\}$/s,
 qr/^\{"accounts":\[\{"id":"b"[^\]]*\],"count":1\}$/s,
 qr/^\{"accounts":\[\{"id":"c".*\{"id":"a".*\],"count":2\}$/s,
 qr/^\{"accounts":\[\{"id":"c".*"status":"suspended","status_reason":"TEMPORARILY_SUSPENDED".*\],"count":1\}$/s,
 qr/^\{"accounts":\[\{"id":"c".*"type":"kiro".*\],"count":1\}$/s,
 qr/^\{"accounts":\[\{"id":"b".*\{"id":"a".*\{"id":"c".*\],"count":3\}$/s,
 qr/^\{"accounts":\[\{"id":"b".*\{"id":"c".*\{"id":"a".*\],"count":3\}$/s,
 qr/^\{"accounts":\[\{"id":"a".*\{"id":"c".*\{"id":"b".*\],"count":3\}$/s,
 qr/^\{"accounts":\[\{"id":"a".*\{"id":"c".*\{"id":"b".*\],"count":3\}$/s,
 qr/^\{"detail":"sort_by: expected created_at, success_count, last_used or label"\}$/,
 qr/^\{"detail":"enabled: expected true or false"\}$/,
 qr/^\{"detail":"status: expected active, /,
 qr/^\{"detail":"sort_order: expected asc or desc"\}$/,
 qr/^\{"detail":"type: expected amazonq or kiro"\}$/]



=== TEST 15: q2api's row shape; secrets never leave in listings, gets, answers to changes or stats
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval
main::accounts({ id => 'acc', label => 'work', clientId => 'client-id-1',
                 clientSecret => 'client-secret-value-0123456789',
                 refreshToken => 'aor-refresh-token-value-0123456789',
                 accessToken => 'aoa-access-token-value-0123456789',
                 other => { note => 'x' }, created_at => 1700000000, expires_at => 1700003600 })
--- request eval
["GET /v2/accounts", "GET /v2/accounts/acc", "PATCH /v2/accounts/acc\n{\"label\":\"home\"}",
 "POST /v2/accounts\n{\"id\":\"new\",\"clientId\":\"c\",\"clientSecret\":\"new-secret-value-0123456789\",\"refreshToken\":\"new-refresh-0123456789\",\"accessToken\":\"short\"}",
 "GET /v2/accounts/acc/stats", "GET /v2/accounts?enabled=true"]
--- error_code eval
[200, 200, 200, 200, 200, 200]
--- response_body_like eval
[qr/"clientId":"client-id-1","clientSecret":"clie\xe2\x80\xa6\(30\)","refreshToken":"aor-\xe2\x80\xa6\(34\)","accessToken":"aoa-\xe2\x80\xa6\(33\)"/,
 qr/^\{"id":"acc","label":"work","clientId":"client-id-1","clientSecret":"clie\xe2\x80\xa6\(30\)","refreshToken":"aor-\xe2\x80\xa6\(34\)","accessToken":"aoa-\xe2\x80\xa6\(33\)","profileArn":null,"other":\{"note":"x"\},"enabled":true,"created_at":"2023-11-14T22:13:20","updated_at":null,"last_refresh_time":null,"last_refresh_status":"success","error_count":0,"success_count":0,"expires_at":"2023-11-14T23:13:20","type":"amazonq","status":"active","status_reason":null,"status_since":null,"status_until":null,"total_errors":0,"tokens_in":0,"tokens_out":0,"last_used":null,"last_error":null\}$/,
 qr/"label":"home","clientId":"client-id-1","clientSecret":"clie\xe2\x80\xa6\(30\)"/,
 qr/"clientSecret":"new-\xe2\x80\xa6\(27\)","refreshToken":"new-\xe2\x80\xa6\(22\)","accessToken":"\xe2\x80\xa6\(5\)"/,
 qr/^\{"account_id":"acc","label":"home","status":"active","enabled":true,"total_calls":0,/,
 qr/"count":2/]
--- response_body_unlike eval
[qr/value-0123456789|new-refresh|short/, qr/value-0123456789/, qr/value-0123456789/,
 qr/value-0123456789|new-refresh|"short"/, qr/value-0123456789/, qr/value-0123456789|new-refresh|"short"/]



=== TEST 16: create: the row back, a UUIDv4 when no id is given, enabled by default, persisted by the store
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- request eval
["POST /v2/accounts\n{\"id\":\"made\",\"label\":\"made here\",\"clientId\":\"cid\",\"clientSecret\":\"csec\",\"refreshToken\":\"rtok\",\"accessToken\":\"atok\",\"other\":{\"team\":\"a\"},\"type\":\"amazonq\"}",
 "POST /v2/accounts\n{\"label\":\"anonymous\",\"accessToken\":\"atok-2\",\"enabled\":false}",
 "POST /v2/accounts\n{\"id\":\"k\",\"type\":\"kiro\",\"refreshToken\":\"rk\",\"profileArn\":\"arn:aws:codewhisperer:us-east-1:1:profile/X\",\"enabled\":0}",
 "POST /v2/accounts\n{\"id\":\"made\",\"accessToken\":\"again\"}",
 "GET /v2/accounts/made"]
--- error_code eval
[200, 200, 200, 409, 200]
--- response_body_like eval
[qr/^\{"id":"made","label":"made here",.*"other":\{"team":"a"\},"enabled":true,.*"status":"active"/,
 qr/^\{"id":"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}","label":"anonymous",.*"enabled":false/,
 qr/^\{"id":"k",.*"profileArn":"arn:aws:codewhisperer:us-east-1:1:profile\/X".*"enabled":false.*"type":"kiro"/,
 qr/^\{"detail":"id: an account with this id exists"\}$/,
 qr/^\{"id":"made"/]
--- mock_check eval
sub {
    my ($reqs, $block) = @_;
    return unless ++$main::seen{$block->name} == 5;
    my $s = main::stored();
    is(scalar(keys %$s), 4, 'three accounts added to the file');
    is_deeply([ @{ $s->{made} }{qw(label clientId clientSecret refreshToken accessToken enabled type)} ],
              ['made here', 'cid', 'csec', 'rtok', 'atok', JSON::PP::true, 'amazonq'], 'in clear in the file');
    is_deeply($s->{made}{other}, { team => 'a' }, 'other as an object');
    my ($anon) = grep { ($_->{label} // '') eq 'anonymous' } values %$s;
    ok($anon && !$anon->{enabled}, 'the generated id, disabled as asked');
    is($s->{k}{type}, 'kiro', 'kiro');
}
--- no_error_log
atok
csec
rtok
--- log_level: info



=== TEST 17: create: every bad input is a 400 naming the field, and nothing reaches the store
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- request eval
my @b = (
    '{"accessToken":',
    '[{"accessToken":"t"}]',
    '',
    '{"id":"","accessToken":"t"}',
    '{"id":"a/b","accessToken":"t"}',
    '{"id":"' . ('i' x 129) . '","accessToken":"t"}',
    '{"id":"export","accessToken":"t"}',
    '{"id":7,"accessToken":"t"}',
    '{"label":"' . ('l' x 257) . '","accessToken":"t"}',
    '{"label":"a\nb","accessToken":"t"}',
    '{"label":["x"],"accessToken":"t"}',
    '{"accessToken":"has space"}',
    '{"accessToken":"' . ('t' x 16385) . '"}',
    qq{{"accessToken":"abcd\xe2\x80\xa6(40)"}},
    '{"accessToken":"t","clientSecret":"line\r\nbreak"}',
    '{"accessToken":"t","other":"text"}',
    '{"accessToken":"t","other":[1]}',
    '{"accessToken":"t","other":{"big":"' . ('o' x 65536) . '"}}',
    '{"accessToken":"t","enabled":"yes"}',
    '{"accessToken":"t","enabled":2}',
    '{"accessToken":"t","type":"gemini"}',
    '{"refresh_token":"t"}',
    '{"accessToken":"t","accessToken":"u"}',
    '{"label":"no token"}',
    '{"refreshToken":"r","clientSecret":"s"}',
    '{"accessToken":"t","created_at":1}',
);
[ map { "POST /v2/accounts\n$_" } @b ]
--- error_code eval
[(400) x 26]
--- response_body_like eval
[qr/^\{"detail":"body: invalid JSON near byte \d+"\}$/,
 qr/^\{"detail":"body: expected a JSON object"\}$/,
 qr/^\{"detail":"body: a JSON body is required"\}$/,
 qr/^\{"detail":"id: 1 to 128 characters of A-Z a-z 0-9 - \. _ ~ : @, and not a route name"\}$/,
 qr/^\{"detail":"id: 1 to 128 characters/,
 qr/^\{"detail":"id: longer than 128 bytes"\}$/,
 qr/^\{"detail":"id: 1 to 128 characters/,
 qr/^\{"detail":"id: expected a string"\}$/,
 qr/^\{"detail":"label: longer than 256 bytes"\}$/,
 qr/^\{"detail":"label: must be valid UTF-8 without control characters"\}$/,
 qr/^\{"detail":"label: expected a string"\}$/,
 qr/^\{"detail":"accessToken: must be printable ASCII without spaces"\}$/,
 qr/^\{"detail":"accessToken: longer than 16384 bytes"\}$/,
 qr/^\{"detail":"accessToken: a masked value \(as listings show it\) cannot be stored"\}$/,
 qr/^\{"detail":"clientSecret: must be printable ASCII without spaces"\}$/,
 qr/^\{"detail":"other: expected a JSON object"\}$/,
 qr/^\{"detail":"other: expected a JSON object"\}$/,
 qr/^\{"detail":"other: must be valid UTF-8 of at most 65536 bytes"\}$/,
 qr/^\{"detail":"enabled: expected a boolean"\}$/,
 qr/^\{"detail":"enabled: expected a boolean"\}$/,
 qr/^\{"detail":"type: expected \\"amazonq\\" or \\"kiro\\""\}$/,
 qr/^\{"detail":"refresh_token: unknown or read-only field"\}$/,
 qr/^\{"detail":"accessToken: given twice"\}$/,
 qr/^\{"detail":"accessToken: an account needs an accessToken or a refreshToken"\}$/,
 qr/^\{"detail":"clientId: needed with a refreshToken"\}$/,
 qr/^\{"detail":"created_at: unknown or read-only field"\}$/]
--- mock_check eval
sub {
    my ($reqs, $block) = @_;
    return unless ++$main::seen{$block->name} == 26;
    my $s = main::stored();
    is_deeply([ sort keys %$s ], ['acc-1'], 'the file has only the account it had');
}



=== TEST 18: patch: the fields given change, the answer and the file say so
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval
main::accounts({ id => 'p', label => 'before', accessToken => 'tok-before', clientId => 'c', clientSecret => 's',
                 refreshToken => 'r', other => { keep => 1 }, success_count => 7 })
--- request eval
["PATCH /v2/accounts/p\n{\"label\":\"after\",\"accessToken\":\"tok-after\",\"other\":{\"note\":\"n\"},\"enabled\":false,\"id\":\"p\",\"clientId\":null}",
 "GET /v2/accounts/p"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/^\{"id":"p","label":"after","clientId":"c",.*"other":\{"note":"n"\},"enabled":false,.*"success_count":7/,
 qr/"label":"after"/]
--- mock_check eval
sub {
    my ($reqs, $block) = @_;
    return unless ++$main::seen{$block->name} == 2;
    my $s = main::stored();
    is($s->{p}{label}, 'after', 'label persisted');
    is($s->{p}{accessToken}, 'tok-after', 'token persisted');
    is($s->{p}{refreshToken}, 'r', 'what was not given stays');
    is($s->{p}{clientId}, 'c', 'null means not given (q2api)');
    ok(!$s->{p}{enabled}, 'disabled');
    is_deeply($s->{p}{other}, { note => 'n' }, 'other replaced');
    is($s->{p}{success_count}, 7, 'counters stay');
}



=== TEST 19: patch: enabling an account out of rotation, or giving it new tokens, makes it active again
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval
main::accounts({ id => 's', accessToken => 'tok-s', status => 'suspended', status_reason => 'TEMPORARILY_SUSPENDED', enabled => 0 },
               { id => 't', accessToken => 'tok-t', status => 'token_rejected', status_reason => 'expired' },
               { id => 'u', accessToken => 'tok-u', status => 'suspended', status_reason => 'TEMPORARILY_SUSPENDED' })
--- request eval
["PATCH /v2/accounts/s\n{\"enabled\":true}",
 "PATCH /v2/accounts/t\n{\"accessToken\":\"tok-t2\"}",
 "PATCH /v2/accounts/u\n{\"label\":\"just a label\"}",
 "GET /healthz"]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[qr/"enabled":true,.*"status":"active","status_reason":null/,
 qr/"status":"active","status_reason":null/,
 qr/"status":"suspended","status_reason":"TEMPORARILY_SUSPENDED"/,
 qr/"usable":2/]
--- mock_check eval
sub {
    my ($reqs, $block) = @_;
    return unless ++$main::seen{$block->name} == 4;
    my $s = main::stored();
    is($s->{s}{status}, 'active', 're-enabled: active, persisted');
    ok($s->{s}{enabled}, 'and enabled');
    is($s->{t}{status}, 'active', 'new token: active');
    is($s->{u}{status}, 'suspended', 'a label alone changes no state');
}



=== TEST 20: patch: bad inputs, an unknown account
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- request eval
["PATCH /v2/accounts/acc-1\n{\"id\":\"other\"}",
 "PATCH /v2/accounts/acc-1\n{\"status\":\"active\"}",
 "PATCH /v2/accounts/acc-1\n{\"enabled\":\"true\"}",
 "PATCH /v2/accounts/acc-1\n{\"accessToken\":\"tok\\u0007\"}",
 "PATCH /v2/accounts/acc-1\nnot json",
 "PATCH /v2/accounts/nobody\n{\"label\":\"x\"}"]
--- error_code eval
[400, 400, 400, 400, 400, 404]
--- response_body_like eval
[qr/^\{"detail":"id: cannot be changed"\}$/,
 qr/^\{"detail":"status: unknown or read-only field"\}$/,
 qr/^\{"detail":"enabled: expected a boolean"\}$/,
 qr/^\{"detail":"accessToken: must be printable ASCII without spaces"\}$/,
 qr/^\{"detail":"body: invalid JSON near byte \d+"\}$/,
 qr/^\{"detail":"Account not found"\}$/]



=== TEST 21: delete: q2api's answer, gone from the zone and from the file; twice is a 404
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval: main::accounts('keep', 'drop')
--- request eval
["DELETE /v2/accounts/drop", "GET /v2/accounts/drop", "DELETE /v2/accounts/drop", "GET /healthz"]
--- error_code eval
[200, 404, 404, 200]
--- response_body eval
['{"deleted":"drop"}', '{"detail":"Account not found"}', '{"detail":"Account not found"}',
 '{"status":"ok","accounts":1,"usable":1}']
--- mock_check eval
sub {
    my ($reqs, $block) = @_;
    return unless ++$main::seen{$block->name} == 4;
    my $s = main::stored();
    is_deeply([ sort keys %$s ], ['keep'], 'the file lost it');
    like(main::error_log(), qr/\[notice\].* q2api admin: account "drop" deleted while serving the admin API/,
         'the deletion is logged');
}



=== TEST 22: stats: amq2api's shape with this module's numbers
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval
main::accounts({ id => 'st', label => 'L', accessToken => 'x', success_count => 4, total_errors => 2, error_count => 1,
                 tokens_in => 100, tokens_out => 50, last_used => 1700000000, status => 'cooling', status_until => 1700000100 })
--- request eval
["GET /v2/accounts/st/stats", "GET /v2/accounts/none/stats"]
--- error_code eval
[200, 404]
--- response_body eval
['{"account_id":"st","label":"L","status":"cooling","enabled":true,"total_calls":6,"success_count":4,"error_count":1,"total_errors":2,"tokens_in":100,"tokens_out":50,"last_call_time":"2023-11-14T22:13:20","is_rate_limited":true,"status_until":"2023-11-14T22:15:00","last_error":null,"rate_limit_per_hour":null,"calls_last_hour":null,"remaining_calls":null}',
 '{"detail":"Account not found"}']



=== TEST 23: import amq2api's lines: both forms, comments, per-line errors; persisted
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- request
POST /v2/accounts/import
# exported 2025-01-01
amazonq|first|cid-1|csec-1|ref-1|acc-1-token|proj|
 kiro | second |  |  | ref-2 | acc-2-token

user@example.com|pw|cid-3|csec-3|ref-3|acc-3-token
only|three|fields
gemini|g|a|b|c|d|p|e
amazonq|bad|cid|csec|ref|acc token
amazonq|norefclient|||ref-5|
--- error_code: 200
--- response_body_like chomp
^\{"success":false,"total":7,"created":3,"updated":0,"failed":4,"errors":\[\{"line":6,"error":"line: expected type\|label.*"\},\{"line":7,"error":"type: gemini accounts are not served by this module"\},\{"line":8,"error":"accessToken: must be printable ASCII without spaces, at most 16384 bytes"\},\{"line":9,"error":"clientId: needed with a refreshToken"\}\],"account_ids":\["[0-9a-f-]{36}","[0-9a-f-]{36}","[0-9a-f-]{36}"\]\}$
--- mock_check eval
sub {
    my $s = main::stored();
    my %by = map { ($_->{label} // '') => $_ } values %$s;
    is(scalar(keys %$s), 4, 'three accounts added');
    is_deeply([ @{ $by{first} }{qw(type clientId clientSecret refreshToken accessToken enabled)} ],
              ['amazonq', 'cid-1', 'csec-1', 'ref-1', 'acc-1-token', JSON::PP::true], 'the generic form');
    is($by{second}{type}, 'kiro', 'trimmed, kiro');
    is($by{'user@example.com'}{clientId}, 'cid-3', 'the e-mail form, the password not kept');
    ok(!grep({ ($_ // '') eq 'pw' } values %{ $by{'user@example.com'} }), 'no password anywhere');
}



=== TEST 24: import JSON rows: created, then the same ids again change the fields they give
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- request eval
["POST /v2/accounts/import\n[{\"id\":\"j1\",\"accessToken\":\"t1\",\"enabled\":0,\"status\":\"whatever\",\"success_count\":9},{\"id\":\"j2\",\"accessToken\":\"t2\",\"other\":\"{\\\"source\\\":\\\"q2api\\\"}\"},{\"id\":\"j3\"},{\"accessToken\":5},7]",
 "POST /v2/accounts/import\n{\"accounts\":[{\"id\":\"j1\",\"label\":\"again\",\"accessToken\":\"t1b\"}]}",
 "POST /v2/accounts/import\n{\"nothing\":1}",
 "POST /v2/accounts/import\n   "]
--- error_code eval
[200, 200, 400, 400]
--- response_body eval
['{"success":false,"total":5,"created":2,"updated":0,"failed":3,"errors":[{"index":2,"error":"accessToken: an account needs an accessToken or a refreshToken"},{"index":3,"error":"accessToken: expected a string"},{"index":4,"error":"body: expected a JSON object"}],"account_ids":["j1","j2"]}',
 '{"success":true,"total":1,"created":0,"updated":1,"failed":0,"errors":[],"account_ids":["j1"]}',
 '{"detail":"body: expected an array of accounts or {\"accounts\":[...]}"}',
 '{"detail":"body: nothing to import"}']
--- mock_check eval
sub {
    my ($reqs, $block) = @_;
    return unless ++$main::seen{$block->name} == 4;
    my $s = main::stored();
    is($s->{j1}{label}, 'again', 'replaced');
    is($s->{j1}{accessToken}, 't1b', 'new token');
    is($s->{j1}{success_count}, 0, 'an import sets no counters');
    ok(!$s->{j1}{enabled}, 'what the second import did not give stays: disabled');
    is_deeply($s->{j2}{other}, { source => 'q2api' }, "q2api's text \"other\" read as an object");
}



=== TEST 25: export (secrets included, for backups) and import round trip; the lines form
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- user_files eval
main::accounts({ id => 'x1', label => 'one|pipe', clientId => 'c1', clientSecret => 's1', refreshToken => 'r1', accessToken => 'a1',
                 other => { o => 1 }, created_at => 1700000000 },
               { id => 'x2', label => 'two', accessToken => 'a2', enabled => 0, type => 'kiro', profileArn => 'arn:p' })
--- request
GET /healthz
--- error_code: 200
--- mock_check eval
sub {
    my $pw = 'admin-password-1';
    my ($st, $exp, $h) = main::api('GET', '/v2/accounts/export', undef, $pw);
    is($st, 200, 'export');
    like($h->{'content-disposition'}, qr/^attachment; filename="q2api-accounts-\d{4}-\d\d-\d\d\.json"$/, 'a download');
    is($h->{'cache-control'}, 'no-store', 'never cached');
    my %e = map { $_->{id} => $_ } @{ $exp->{accounts} };
    is($e{x1}{clientSecret}, 's1', 'secrets in clear');
    is($e{x1}{accessToken}, 'a1', 'tokens in clear');

    for my $id (qw(x1 x2)) {
        my ($d) = main::api('DELETE', "/v2/accounts/$id", undef, $pw);
        is($d, 200, "$id deleted");
    }

    my ($si, $im) = main::api('POST', '/v2/accounts/import', JSON::PP->new->encode($exp), $pw);
    is($si, 200, 'the export imports');
    is($im->{created}, 2, 'both back');

    my (undef, $again) = main::api('GET', '/v2/accounts/export', undef, $pw);
    my %a = map { $_->{id} => $_ } @{ $again->{accounts} };
    for my $id (qw(x1 x2)) {
        for my $f (qw(label clientId clientSecret refreshToken accessToken other enabled type profileArn created_at)) {
            is_deeply($a{$id}{$f}, $e{$id}{$f}, "$id $f survives the round trip");
        }
    }

    my ($sl, $lines, $hl) = main::api('GET', '/v2/accounts/export?format=lines', undef, $pw);
    is($sl, 200, 'lines');
    like($hl->{'content-type'}, qr{^text/plain}, 'as text');
    like($lines, qr/^amazonq\|one pipe\|c1\|s1\|r1\|a1\|\|$/m, 'the generic form, "|" in a label replaced');
    like($lines, qr/^# the line above had "\|" or a line break in a field, replaced by a space: account x1$/m, 'and said');
    like($lines, qr/^kiro\|two\|\|\|\|a2\|\|$/m, 'kiro');

    my ($sb, $bad) = main::api('GET', '/v2/accounts/export?format=csv', undef, $pw);
    is($sb, 400, 'unknown format');
    is($bad->{detail}, 'format: expected json or lines', 'named');

    my ($su) = main::api('GET', '/v2/accounts/export');
    is($su, 401, 'never without credentials');

    my $log = main::error_log();
    like($log, qr/\[notice\].* q2api admin: 2 accounts exported with their secrets/, 'every export is logged');
    unlike($log, qr/s1\|r1|"r1"|a1\|/, 'but not what it held');
}



=== TEST 26: chat test: the body goes to the account named, through the test location
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



=== TEST 27: chat test on a disabled account: an admin may test what is out of rotation
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



=== TEST 28: deep health: one small request; ok with its latency, or a 503 saying why; credentials needed
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



=== TEST 29: deep health on whatever account the pool chooses
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



=== TEST 29b: deep health when the test location is missing: a clear failure, no hang
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



=== TEST 30: refresh one account: the new token is in the zone and the file, the answer masks it
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



=== TEST 31: refresh refused (invalid_grant): q2api's 502, the account needs a login
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



=== TEST 32: refresh: no refresh token is a 400, an unknown account a 404, nothing is called
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



=== TEST 33: refresh-all: amq2api's summary, one account at a time
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



=== TEST 34: feed: inserted disabled and marked, refreshed, tested; the good one enabled, the refused one marked AccessDenied
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



=== TEST 35: feed: a refresh refused leaves the account disabled, untested; bad input inserts nothing
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



=== TEST 36: device login through q2api's /v2/auth/start, status and claim; nothing secret in the answers
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



=== TEST 37: without a zone the admin API answers 503, /api/login still works
--- http_config
--- config
    location / {
        q2api_admin;
        q2api_admin_password admin-password-1;
    }
--- more_headers eval: $::AUTH
--- request eval
["GET /v2/accounts", "GET /healthz", "POST /api/login\n{\"password\":\"admin-password-1\"}"]
--- error_code eval
[503, 503, 200]
--- response_body_like eval
[qr/^\{"detail":"no account pool: this nginx has no q2api_zone"\}$/, qr/no q2api_zone/, qr/"success":true/]
