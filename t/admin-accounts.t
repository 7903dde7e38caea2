# The admin REST API's account routes: /healthz, routing by the URI tail,
# the listing, the row shape with secrets masked, create, patch, delete,
# stats, import and export; changes persisted through the file store.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;
use JSON::PP ();
use Q2api::Admin qw(accounts stored error_log api);

repeat_each(1);
no_shuffle();
no_root_location();

our $HTTP = $Q2api::Admin::HTTP;
our $ADMIN = $Q2api::Admin::ADMIN;
our $AUTH = $Q2api::Admin::AUTH;

run_tests();

__DATA__

=== TEST 1: /healthz needs no credentials and counts usable accounts; HEAD works
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



=== TEST 2: routes by the URI tail, under any prefix; unknown routes and methods
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



=== TEST 3: the listing: newest first, filters, sort keys and orders, bad arguments
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
 '?sort_order=asc', '?sort_by=bogus', '?enabled=maybe', '?status=ill', '?sort_order=up', '?type=bogus']
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
 qr/^\{"detail":"sort_by: expected created_at, updated_at, label, id, /,
 qr/^\{"detail":"enabled: expected true or false"\}$/,
 qr/^\{"detail":"status: expected active, /,
 qr/^\{"detail":"sort_order: expected asc or desc"\}$/,
 qr/^\{"detail":"type: expected amazonq, kiro or gemini"\}$/]



=== TEST 4: q2api's row shape; secrets never leave in listings, gets, answers to changes or stats
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



=== TEST 5: create: the row back, a UUIDv4 when no id is given, enabled by default, persisted by the store
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- request eval
["POST /v2/accounts\n{\"id\":\"made\",\"label\":\"made here\",\"clientId\":\"cid\",\"clientSecret\":\"csec\",\"refreshToken\":\"rtok\",\"accessToken\":\"atok\",\"other\":{\"team\":\"a\"},\"type\":\"amazonq\"}",
 "POST /v2/accounts\n{\"label\":\"anonymous\",\"accessToken\":\"atok-2\",\"enabled\":false}",
 "POST /v2/accounts\n{\"id\":\"k\",\"type\":\"kiro\",\"refreshToken\":\"rk\",\"profileArn\":\"arn:aws:codewhisperer:us-east-1:111122223333:profile/X\",\"enabled\":0}",
 "POST /v2/accounts\n{\"id\":\"made\",\"accessToken\":\"again\"}",
 "GET /v2/accounts/made"]
--- error_code eval
[200, 200, 200, 409, 200]
--- response_body_like eval
[qr/^\{"id":"made","label":"made here",.*"other":\{"team":"a"\},"enabled":true,.*"status":"active"/,
 qr/^\{"id":"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}","label":"anonymous",.*"enabled":false/,
 qr/^\{"id":"k",.*"profileArn":"arn:aws:codewhisperer:us-east-1:111122223333:profile\/X".*"enabled":false.*"type":"kiro"/,
 qr/^\{"detail":"id: an account with this id exists"\}$/,
 qr/^\{"id":"made"/]
--- mock_check eval
sub {
    my ($reqs, $block) = @_;
    return unless ++$main::seen{$block->name} == 5;
    my $s = main::stored();
    is(scalar(keys %$s), 4, 'three accounts added to the file');
    is_deeply([ @{ $s->{made} }{qw(label clientId clientSecret refreshToken accessToken enabled type)} ],
              ['made here', 'cid', 'csec', 'rtok', 'atok', 1, 'amazonq'], 'in clear in the file (enabled 0/1, as the file had it)');
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



=== TEST 6: create: every bad input is a 400 naming the field, and nothing reaches the store
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
    '{"accessToken":"t","type":"bedrock"}',
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
 qr/^\{"detail":"id: 1 to 128 characters of A-Z a-z 0-9 - \. _ ~ : @, not \. or \.\., and not a route name"\}$/,
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
 qr/^\{"detail":"type: expected \\"amazonq\\", \\"kiro\\" or \\"gemini\\""\}$/,
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



=== TEST 7: patch: the fields given change, the answer and the file say so
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



=== TEST 8: patch: enabling an account out of rotation, or giving it new tokens, makes it active again
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



=== TEST 9: patch: bad inputs, an unknown account
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



=== TEST 10: delete: q2api's answer, gone from the zone and from the file; twice is a 404
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



=== TEST 11: stats: amq2api's shape with this module's numbers
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



=== TEST 12: import amq2api's lines: both forms, comments, per-line errors; persisted
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
^\{"success":false,"total":7,"created":3,"updated":0,"failed":4,"errors":\[\{"line":6,"error":"line: expected type\|label.*"\},\{"line":7,"error":"api_endpoint: must be https:// and a Code Assist host .*?"\},\{"line":8,"error":"accessToken: must be printable ASCII without spaces, at most 16384 bytes"\},\{"line":9,"error":"clientId: needed with a refreshToken"\}\],"account_ids":\["[0-9a-f-]{36}","[0-9a-f-]{36}","[0-9a-f-]{36}"\]\}$
--- mock_check eval
sub {
    my $s = main::stored();
    my %by = map { ($_->{label} // '') => $_ } values %$s;
    is(scalar(keys %$s), 4, 'three accounts added');
    is_deeply([ @{ $by{first} }{qw(type clientId clientSecret refreshToken accessToken enabled)} ],
              ['amazonq', 'cid-1', 'csec-1', 'ref-1', 'acc-1-token', 1], 'the generic form (enabled 0/1, as the file had it)');
    is($by{second}{type}, 'kiro', 'trimmed, kiro');
    is($by{'user@example.com'}{clientId}, 'cid-3', 'the e-mail form, the password not kept');
    ok(!grep({ ($_ // '') eq 'pw' } values %{ $by{'user@example.com'} }), 'no password anywhere');
}



=== TEST 13: import JSON rows: created, then the same ids again change the fields they give
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



=== TEST 14: export (secrets included, for backups) and import round trip; the lines form
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- user_files eval
main::accounts({ id => 'x1', label => 'one|pipe', clientId => 'c1', clientSecret => 's1', refreshToken => 'r1', accessToken => 'a1',
                 other => { o => 1 }, created_at => 1700000000 },
               { id => 'x2', label => 'two', accessToken => 'a2', enabled => 0, type => 'kiro', profileArn => 'arn:aws:codewhisperer:us-east-1:111122223333:profile/P' })
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
