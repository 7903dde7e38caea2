# Gemini accounts in the admin API and the stores: amq2api's row shape
# (clientId, clientSecret, refreshToken, accessToken, other.project,
# other.api_endpoint), the flavour each row is served as, secrets masked,
# bad values refused and named by field, amq2api's exports imported as
# they are.

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
