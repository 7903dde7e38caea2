# The admin REST API's doors: the password (plain, {SHA256}, as Bearer or
# X-Admin-Key), session tokens (HMAC-SHA256 with q2api_admin_secret,
# expiry, tampering), the slow-down after failures, settings that refuse
# to start, and a gateway without a zone.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;
use JSON::PP ();
use Digest::SHA ();
use Q2api::Admin qw(api mint);

repeat_each(1);
no_shuffle();
no_root_location();

our $HTTP = $Q2api::Admin::HTTP;
our $ADMIN = $Q2api::Admin::ADMIN;
our $SECRET = $Q2api::Admin::SECRET;
our $AUTH = $Q2api::Admin::AUTH;

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
    # the time left of a 60 s lockout: 60, or 59 when a second ticked
    # between the failure and this request
    ok(($h1->{'retry-after'} // '') =~ /^(59|60)$/,
       "for the lockout time ($h1->{'retry-after'} s left)");
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



=== TEST 12: without a zone the admin API answers 503, /api/login still works
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
