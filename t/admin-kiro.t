# The admin API's Kiro parts: importing the Kiro IDE's credential files
# (~/.aws/sso/cache/kiro-auth-token.json, and for IdC logins the client
# registration named by clientIdHash), the imported accounts refreshing at
# the right service, and Kiro credits (getUsageLimits) in the stats and
# the usage route.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;
use JSON::PP ();
use HTTP::Tiny ();
use Q2api::Admin qw(stored error_log);

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
    q2api_kiro_usage_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT/getUsageLimits;
    q2api_kiro_profiles_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT/ListAvailableProfiles;
_EOC_

our $ADMIN = <<'_EOC_';
    location / {
        q2api_admin;
        q2api_admin_password admin-password-1;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
_EOC_

our $AUTH = "Authorization: Bearer admin-password-1";

our $J = JSON::PP->new->utf8->canonical;

our $ARN = 'arn:aws:codewhisperer:us-east-1:699475941385:profile/EHGA3GRVQMUK';
our $HASH = 'a2f3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a9';

# kiro-auth-token.json as the IDE writes it (social, IdC), and the IdC
# client registration file
our %SOCIAL = (accessToken => 'aoaAAAAsocial-access-0123456789',
               refreshToken => 'aorAAAAsocial-refresh-0123456789',
               profileArn => $ARN, expiresAt => '2027-05-18T09:41:48.944Z',
               authMethod => 'social', provider => 'Google');
our %IDC = (accessToken => 'aoaAAAAidc-access-0123456789',
            refreshToken => 'aorAAAAidc-refresh-0123456789',
            expiresAt => '2027-01-02T03:04:05.123456+02:00', clientIdHash => $HASH,
            authMethod => 'IdC', provider => 'BuilderId', region => 'us-east-1');
our %REG = (clientId => 'idc-client-id-0123', clientSecret => 'idc-client-secret-0123456789',
            expiresAt => '2027-08-01T00:00:00.000Z');

# KIRO POWER with overage in use (reference/kiro.md 4.1)
our $POWER = {
    daysUntilReset => 0, limits => [], nextDateReset => 1.7882208E9,
    overageConfiguration => { overageStatus => 'ENABLED' },
    subscriptionInfo => { overageCapability => 'OVERAGE_CAPABLE', subscriptionTitle => 'KIRO POWER',
                          type => 'Q_DEVELOPER_STANDALONE_POWER' },
    usageBreakdownList => [ { bonuses => [], currency => 'USD', currentOverages => 3603,
        currentOveragesWithPrecision => 3603.49, currentUsage => 13603, currentUsageWithPrecision => 13603.49,
        displayName => 'Credit', nextDateReset => 1.7882208E9, overageCap => 10000,
        overageCapWithPrecision => 10000.0, overageCharges => 144.14, overageCredits => [],
        overageRate => 0.04, resourceType => 'CREDIT', unit => 'INVOCATIONS', usageLimit => 10000,
        usageLimitWithPrecision => 10000.0 } ] };

our $SECRETS = qr/social-access|social-refresh|idc-access|idc-refresh|idc-client-secret|kiro-tok-0123|kiro-ref-0123/;

sub main::accounts {
    return ">>> accounts.json\n" . $J->encode(\@_) . "\n";
}

# (status, decoded JSON or text, raw body)
sub main::api {
    my ($method, $path, $body) = @_;
    my $res = HTTP::Tiny->new(timeout => 20)->request($method,
        'http://127.0.0.1:' . main::server_port() . $path,
        { headers => { authorization => 'Bearer admin-password-1' },
          defined $body ? (content => ref $body ? $J->encode($body) : $body) : () });
    my $data = eval { $J->decode($res->{content}) } // $res->{content};
    return ($res->{status}, $data, $res->{content});
}

run_tests();

__DATA__

=== TEST 1: a social kiro-auth-token.json: a kiro account without a client, secrets masked; it refreshes at Kiro's auth service
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- user_files eval: main::accounts()
--- mock eval
{ by_path => { '/refreshToken' => [ { json => { accessToken => 'aoaAAAAkiro-tok-0123456789', refreshToken => 'aorAAAAkiro-ref-0123456789',
                                                expiresIn => 3600, profileArn => $::ARN } } ] } }
--- request eval
"POST /v2/accounts/import\n" . $::J->encode(\%::SOCIAL)
--- more_headers eval: $::AUTH
--- error_code: 200
--- response_body_like chomp
^\{"success":true,"total":1,"created":1,"updated":0,"failed":0,"errors":\[\],"account_ids":\["[0-9a-f-]{36}"\]\}$
--- mock_check eval
sub {
    my ($st, $list, $raw) = main::api('GET', '/v2/accounts');
    is($list->{count}, 1, 'one account');
    my $a = $list->{accounts}[0];
    my $id = $a->{id};
    is($a->{type}, 'kiro', 'type kiro');
    is($a->{label}, 'kiro Google', 'label from the provider');
    is($a->{clientId}, undef, 'no client: social');
    is($a->{clientSecret}, undef, 'no client secret');
    is($a->{accessToken}, "aoaA\x{2026}(31)", 'access token masked');
    is($a->{refreshToken}, "aorA\x{2026}(32)", 'refresh token masked');
    is($a->{profileArn}, $::ARN, 'profileArn kept');
    is($a->{expires_at}, '2027-05-18T09:41:48', 'expiresAt is the token expiry');
    is($a->{enabled}, JSON::PP::true, 'enabled');
    is($a->{status}, 'active', 'active');
    is_deeply($a->{other}, { source => 'kiro-ide', authMethod => 'social', provider => 'Google' }, 'where it came from');
    unlike($raw, $::SECRETS, 'no secret in the listing');

    my $s = main::stored();
    is($s->{$id}{refreshToken}, $::SOCIAL{refreshToken}, 'the store has the refresh token');
    is($s->{$id}{type}, 'kiro', 'and the type');

    my ($sr, $row, $rraw) = main::api('POST', "/v2/accounts/$id/refresh");
    is($sr, 200, 'refreshed');
    is($row->{accessToken}, "aoaA\x{2026}(26)", 'the new token, masked');
    unlike($rraw, $::SECRETS, 'no secret in the answer');
    my @reqs = mock_requests();
    is_deeply([ map { $_->{path} } @reqs ], ['/refreshToken'], "at Kiro's auth service, not OIDC");
    is_deeply($reqs[0]{json}, { refreshToken => $::SOCIAL{refreshToken} }, 'with the refresh token alone');
    is(main::stored()->{$id}{refreshToken}, 'aorAAAAkiro-ref-0123456789', 'rotation persisted');
}
--- no_error_log eval
[qr/$::SECRETS/, '[error]']
--- log_level: info



=== TEST 2: an IdC kiro-auth-token.json with its client registration: a kiro account with the client; it refreshes at OIDC
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- user_files eval: main::accounts()
--- mock eval
{ by_path => { '/token' => [ { json => { accessToken => 'aoaAAAAkiro-tok-0123456789', refreshToken => 'aorAAAAkiro-ref-0123456789',
                                         expiresIn => 3600, tokenType => 'Bearer' } } ],
               '/ListAvailableProfiles' => [ { json => { profiles => [ { arn => 'arn:aws:codewhisperer:us-east-1:444455556666:profile/KIRO' } ] } } ] } }
--- request eval
"POST /v2/accounts/import\n" . $::J->encode({ %::IDC, clientRegistration => \%::REG })
--- more_headers eval: $::AUTH
--- error_code: 200
--- response_body_like chomp
^\{"success":true,"total":1,"created":1,.*"account_ids":\["[0-9a-f-]{36}"\]\}$
--- mock_check eval
sub {
    my (undef, $list, $raw) = main::api('GET', '/v2/accounts');
    my $a = $list->{accounts}[0];
    my $id = $a->{id};
    is($a->{type}, 'kiro', 'type kiro');
    is($a->{label}, 'kiro BuilderId', 'label from the provider');
    is($a->{clientId}, 'idc-client-id-0123', 'the client from the registration');
    is($a->{clientSecret}, "idc-\x{2026}(28)", 'its secret masked');
    is($a->{profileArn}, undef, 'an IdC file has no profileArn');
    is($a->{expires_at}, '2027-01-02T01:04:05', 'expiresAt with microseconds and an offset');
    is_deeply($a->{other}, { source => 'kiro-ide', authMethod => 'IdC', provider => 'BuilderId',
                             region => 'us-east-1', clientIdHash => $::HASH }, 'what the IDE knew');
    unlike($raw, $::SECRETS, 'no secret in the listing');

    my ($sr, undef, $rraw) = main::api('POST', "/v2/accounts/$id/refresh");
    is($sr, 200, 'refreshed');
    unlike($rraw, $::SECRETS, 'no secret in the answer');
    my @reqs = mock_requests();
    is_deeply([ map { $_->{path} } @reqs ], ['/token', '/ListAvailableProfiles'],
              'at the OIDC service, then its profile is looked up');
    is_deeply($reqs[0]{json}, { grantType => 'refresh_token', clientId => $::REG{clientId},
                                clientSecret => $::REG{clientSecret}, refreshToken => $::IDC{refreshToken} },
              'the OIDC refresh grant with the registration');
    my $s = main::stored();
    is($s->{$id}{clientSecret}, $::REG{clientSecret}, 'the store has the client secret');
    is($s->{$id}{refreshToken}, 'aorAAAAkiro-ref-0123456789', 'rotation persisted');
    is($s->{$id}{profileArn}, 'arn:aws:codewhisperer:us-east-1:444455556666:profile/KIRO',
       'the profile found is persisted');
}
--- no_error_log eval
[qr/$::SECRETS/, '[error]']
--- log_level: info



=== TEST 3: an IdC file without its registration is refused, naming what is missing; nothing is imported
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- user_files eval: main::accounts()
--- request eval
["POST /v2/accounts/import\n" . $::J->encode(\%::IDC),
 "POST /v2/accounts/import\n" . $::J->encode({ %::IDC, clientIdHash => undef }),
 "POST /v2/accounts/import\n" . $::J->encode({ %::IDC, clientRegistration => { clientId => 'c-0123' } }),
 "POST /v2/accounts/import\n" . $::J->encode({ %::IDC, clientRegistration => { %::REG, expiresAt => '2020-01-01T00:00:00Z' } }),
 "POST /v2/accounts/import\n" . $::J->encode({ %::IDC, clientRegistration => 'x' }),
 "GET /v2/accounts"]
--- more_headers eval: $::AUTH
--- error_code eval
[400, 400, 400, 400, 400, 200]
--- response_body eval
['{"detail":"clientRegistration: missing; an IdC login is refreshed with its client registration, ~/.aws/sso/cache/' . $::HASH . '.json: give it as \"clientRegistration\": {\"clientId\",\"clientSecret\",\"expiresAt\"}"}',
 '{"detail":"clientRegistration: missing; an IdC login is refreshed with its client registration, ~/.aws/sso/cache/<clientIdHash>.json: give it as \"clientRegistration\": {\"clientId\",\"clientSecret\",\"expiresAt\"}"}',
 '{"detail":"clientRegistration.clientSecret: required for an IdC login"}',
 '{"detail":"clientRegistration.expiresAt: the client registration has expired; sign in to Kiro again and import the new files"}',
 '{"detail":"clientRegistration: expected the JSON object of the client registration file"}',
 '{"accounts":[],"count":0}']
--- mock_requests eval
[0, 0, 0, 0, 0, 0]
--- no_error_log eval
[qr/$::SECRETS/]



=== TEST 4: an array of files, mixed with a q2api row: each imported or refused on its own
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- user_files eval: main::accounts()
--- request eval
"POST /v2/accounts/import\n" . $::J->encode([ \%::SOCIAL, { %::IDC, clientRegistration => \%::REG }, \%::IDC,
    { id => 'row-1', accessToken => 'plain-row-token' },
    { refreshToken => 'aorAAAAgithub-0123456789', provider => 'Github', label => 'mine', id => 'gh' } ])
--- more_headers eval: $::AUTH
--- error_code: 200
--- response_body_like chomp
^\{"success":false,"total":5,"created":4,"updated":0,"failed":1,"errors":\[\{"index":2,"error":"clientRegistration: missing; [^{}]+\{[^{}]+\}"\}\],"account_ids":\["[0-9a-f-]{36}","[0-9a-f-]{36}","row-1","gh"\]\}$
--- mock_check eval
sub {
    my $s = main::stored();
    my %by = map { $_->{label} => $_ } grep { defined $_->{label} } values %$s;
    is(scalar(keys %$s), 4, 'four accounts');
    is($by{'kiro Google'}{type}, 'kiro', 'the social file');
    ok(!$by{'kiro Google'}{clientId}, 'without a client');
    is($by{'kiro BuilderId'}{clientId}, $::REG{clientId}, 'the IdC file with its client');
    is($s->{'row-1'}{type}, 'amazonq', 'a q2api row is still a row');
    is($s->{gh}{type}, 'kiro', 'refreshToken + provider is a Kiro file');
    is($s->{gh}{label}, 'mine', 'an explicit label and id win');
    is_deeply($s->{gh}{other}, { source => 'kiro-ide', authMethod => 'social', provider => 'Github' },
              'social without authMethod');
}



=== TEST 5: bad files are a 400 naming the field
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- user_files eval: main::accounts()
--- request eval
my %s = %::SOCIAL;
delete $s{refreshToken};
["POST /v2/accounts/import\n" . $::J->encode(\%s),
 "POST /v2/accounts/import\n" . $::J->encode({ %::SOCIAL, refreshToken => '' }),
 "POST /v2/accounts/import\n" . $::J->encode({ %::SOCIAL, expiresAt => 'tomorrow' }),
 "POST /v2/accounts/import\n" . $::J->encode({ %::SOCIAL, expiresAt => '2027-05-18T09:41:48.944+2' }),
 "POST /v2/accounts/import\n" . $::J->encode({ %::SOCIAL, authMethod => 'external_idp' }),
 "POST /v2/accounts/import\n" . $::J->encode({ %::SOCIAL, authMethod => 'password' }),
 "POST /v2/accounts/import\n" . $::J->encode({ %::SOCIAL, accessToken => "aoaA\x{2026}(31)" }),
 "POST /v2/accounts/import\n" . $::J->encode({ %::SOCIAL, refreshToken => 5 }),
 "GET /v2/accounts"]
--- more_headers eval: $::AUTH
--- error_code eval
[400, 400, 400, 400, 400, 400, 400, 400, 200]
--- response_body eval
['{"detail":"refreshToken: required; without it a Kiro login stops working when its access token expires"}',
 '{"detail":"refreshToken: required; without it a Kiro login stops working when its access token expires"}',
 '{"detail":"expiresAt: expected an ISO 8601 time such as 2026-05-18T09:41:48.944Z, or epoch milliseconds"}',
 '{"detail":"expiresAt: expected an ISO 8601 time such as 2026-05-18T09:41:48.944Z, or epoch milliseconds"}',
 '{"detail":"authMethod: external_idp logins (Entra ID, Okta) are not supported"}',
 '{"detail":"authMethod: expected \"social\" or \"IdC\""}',
 '{"detail":"accessToken: a masked value (as listings show it) cannot be stored"}',
 '{"detail":"refreshToken: expected a string"}',
 '{"accounts":[],"count":0}']
--- mock_requests eval
[0, 0, 0, 0, 0, 0, 0, 0, 0]



=== TEST 6: expiresAt forms: Z, an offset, no fraction, epoch milliseconds (account managers' exports)
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- user_files eval: main::accounts()
--- request eval
"POST /v2/accounts/import\n" . $::J->encode([
    { %::SOCIAL, id => 'z', expiresAt => '2027-05-18T09:41:48Z' },
    { %::SOCIAL, id => 'neg', expiresAt => '2027-05-18T09:41:48.5-0130' },
    { %::SOCIAL, id => 'ms', expiresAt => 1810000000123 },
    { %::SOCIAL, id => 'none', expiresAt => undef } ])
--- more_headers eval: $::AUTH
--- error_code: 200
--- response_body_like chomp
"created":4,"updated":0,"failed":0
--- mock_check eval
sub {
    my $s = main::stored();
    is($s->{z}{expires_at}, 1810633308, 'Z');
    is($s->{neg}{expires_at}, 1810633308 + 5400, '-01:30 is later in UTC');
    is($s->{ms}{expires_at}, 1810000000, 'milliseconds');
    ok(!$s->{none}{expires_at}, 'none: unknown');
}



=== TEST 7: importing the same login again with its id changes the account in place
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- user_files eval
main::accounts({ id => 'k', type => 'kiro', accessToken => 'old-access-0123456789', refreshToken => 'old-refresh-0123456789',
                 clientId => 'stale-client', clientSecret => 'stale-secret-0123456789', success_count => 3 })
--- request eval
"POST /v2/accounts/import\n" . $::J->encode({ %::SOCIAL, id => 'k' })
--- more_headers eval: $::AUTH
--- error_code: 200
--- response_body chomp
{"success":true,"total":1,"created":0,"updated":1,"failed":0,"errors":[],"account_ids":["k"]}
--- mock_check eval
sub {
    my $s = main::stored();
    is($s->{k}{accessToken}, $::SOCIAL{accessToken}, 'new tokens');
    ok(!$s->{k}{clientId}, 'a social login drops the old client, so it refreshes at Kiro');
    is($s->{k}{success_count}, 3, 'counters stay');
}



=== TEST 8: stats of a Kiro account carry its credits (KIRO POWER in overage: nothing remains); usage returns them alone
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- user_files eval
main::accounts({ id => 'k', label => 'power', type => 'kiro', accessToken => 'kiro-tok-0123456789',
                 refreshToken => 'kiro-ref-0123456789', profileArn => $::ARN })
--- mock eval
{ by_path => { '/getUsageLimits' => [ { json => $::POWER } ] } }
--- request eval
["GET /v2/accounts/k/stats", "GET /v2/accounts/k/usage"]
--- more_headers eval: $::AUTH
--- error_code eval
[200, 200]
--- response_body eval
['{"account_id":"k","label":"power","status":"active","enabled":true,"total_calls":0,"success_count":0,"error_count":0,"total_errors":0,"tokens_in":0,"tokens_out":0,"last_call_time":null,"is_rate_limited":false,"status_until":null,"last_error":null,"rate_limit_per_hour":null,"calls_last_hour":null,"remaining_calls":null,"credits":{"title":"KIRO POWER","limit":10000,"used":13603.49,"remaining":0,"next_reset":1788220800}}',
 '{"title":"KIRO POWER","limit":10000,"used":13603.49,"remaining":0,"next_reset":1788220800}']
--- mock_requests eval
[1, 1]
--- mock_check eval
sub {
    my ($reqs) = @_;
    my $q = $reqs->[0];
    is($q->{method}, 'GET', 'a GET');
    is($q->{path}, '/getUsageLimits', 'getUsageLimits');
    my %q = map { my ($k, $v) = split /=/, $_, 2; ($k => $v =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ger) }
            split /&/, $q->{query};
    is_deeply(\%q, { origin => 'AI_EDITOR', resourceType => 'AGENTIC_REQUEST', profileArn => $::ARN },
              'as the IDE asks, with the profileArn');
    is($q->{headers}{authorization}, 'Bearer kiro-tok-0123456789', "with the account's token");
}
--- no_error_log eval
[qr/$::SECRETS/, '[warn]', '[alert]']
--- log_level: info



=== TEST 9: getUsageLimits refuses (403): usage is a 502 saying why, stats still answer with the reason
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- user_files eval
main::accounts({ id => 'k', type => 'kiro', accessToken => 'kiro-tok-0123456789', profileArn => $::ARN })
--- mock eval
{ by_path => { '/getUsageLimits' => [ { status => 403, json => { __type => 'com.amazon.aws.codewhisperer#AccessDeniedException',
                                                                  message => 'Your User ID temporarily is suspended' } },
                                      { status => 403, json => { __type => 'com.amazon.aws.codewhisperer#AccessDeniedException' } } ] } }
--- request eval
["GET /v2/accounts/k/usage", "GET /v2/accounts/k/stats"]
--- more_headers eval: $::AUTH
--- error_code eval
[502, 200]
--- response_body_like eval
[qr/^\{"detail":"getUsageLimits failed: 403 Forbidden: Your User ID temporarily is suspended"\}$/,
 qr/^\{"account_id":"k",.*"remaining_calls":null,"credits":\{"error":"403 Forbidden: AccessDeniedException"\}\}$/]
--- error_log
getUsageLimits for account "k" failed with status 403
--- no_error_log eval
[qr/$::SECRETS/]
--- log_level: info



=== TEST 10: usage of a non-Kiro or unknown account, without a token; an unreachable service
--- http_config
    q2api_zone q2api 8m;
    q2api_store file html/accounts.json;
    q2api_kiro_usage_url "http://127.0.0.1:1/{region}/getUsageLimits";
--- config eval: $::ADMIN
--- user_files eval
main::accounts({ id => 'q', accessToken => 'plain-token' },
               { id => 'k', type => 'kiro', accessToken => 'kiro-tok-0123456789', profileArn => $::ARN },
               { id => 'n', type => 'kiro', refreshToken => 'kiro-ref-0123456789' })
--- request eval
["GET /v2/accounts/q/usage", "GET /v2/accounts/none/usage", "GET /v2/accounts/n/usage", "GET /v2/accounts/n/stats",
 "GET /v2/accounts/k/usage", "GET /v2/accounts/k/stats", "GET /v2/accounts/q/stats", "POST /v2/accounts/k/usage"]
--- more_headers eval: $::AUTH
--- error_code eval
[400, 404, 400, 200, 502, 200, 200, 405]
--- response_body_like eval
[qr/^\{"detail":"type: credits are known for Kiro accounts only"\}$/,
 qr/^\{"detail":"Account not found"\}$/,
 qr/^\{"detail":"accessToken: the account has no access token"\}$/,
 qr/"credits":\{"error":"the account has no access token"\}\}$/,
 qr/^\{"detail":"getUsageLimits failed: 502 Bad Gateway"\}$/,
 qr/"credits":\{"error":"502 Bad Gateway"\}\}$/,
 qr/"remaining_calls":null\}$/,
 qr/^\{"detail":"Method Not Allowed"\}$/]
--- mock_requests eval
[0, 0, 0, 0, 0, 0, 0, 0]



=== TEST 11: the region of the account's profileArn goes into q2api_kiro_usage_url's {region}
--- http_config
    q2api_zone q2api 8m;
    q2api_store file html/accounts.json;
    q2api_kiro_usage_url "http://127.0.0.1:$TEST_NGINX_MOCK_PORT/{region}/getUsageLimits";
--- config eval: $::ADMIN
--- user_files eval
main::accounts({ id => 'eu', type => 'kiro', accessToken => 'kiro-tok-0123456789',
                 profileArn => 'arn:aws:codewhisperer:eu-central-1:123456789012:profile/ABC' })
--- mock eval
{ by_path => { '/eu-central-1/getUsageLimits' => [ { json => { subscriptionInfo => { subscriptionTitle => 'KIRO FREE' },
      usageBreakdownList => [ { resourceType => 'CREDIT', usageLimitWithPrecision => 50, currentUsageWithPrecision => 12.5,
                                freeTrialInfo => { freeTrialStatus => 'ACTIVE', usageLimitWithPrecision => 500,
                                                   currentUsageWithPrecision => 100 } } ],
      nextDateReset => 1788220800 } } ] } }
--- request
GET /v2/accounts/eu/usage
--- more_headers eval: $::AUTH
--- error_code: 200
--- response_body chomp
{"title":"KIRO FREE","limit":550,"used":112.5,"remaining":437.5,"next_reset":1788220800}
