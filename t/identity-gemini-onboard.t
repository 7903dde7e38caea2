# Project discovery and onboarding of Gemini accounts, through the admin
# route POST /v2/accounts/{id}/discover: loadCodeAssist with the flavour's
# metadata, onboardUser with the default tier and its operation polled to
# the end (bounded), the project persisted in other.project;
# VALIDATION_REQUIRED -> needs_validation with the URL kept; ineligible
# tiers (UNSUPPORTED_CLIENT) -> ineligible with Google's reasons; a 401
# refreshes once; a 5xx is transient.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;
use JSON::PP ();
use Q2api::Admin qw(accounts stored api paths);

repeat_each(1);
no_shuffle();
no_root_location();

our $HTTP = $Q2api::Admin::HTTP . <<'_EOC_';
    q2api_google_oauth_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    q2api_code_assist_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    q2api_gemini_onboard_poll 50ms;
_EOC_
our $ADMIN = $Q2api::Admin::ADMIN;
our $AUTH = $Q2api::Admin::AUTH;

sub main::gemini {
    my (%a) = @_;
    return main::accounts({ id => 'g', type => 'gemini', accessToken => 'ya29.tok',
                            refreshToken => '1//0ref', %a });
}

sub main::other {
    my ($row) = @_;
    return ref $row->{other} ? $row->{other} : JSON::PP->new->decode($row->{other} // '{}');
}

run_tests();

__DATA__

=== TEST 1: an onboarded account: its project from loadCodeAssist, persisted; the gemini-cli metadata
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval: main::gemini()
--- mock eval
{ by_path => { '/v1internal:loadCodeAssist' => [ load_code_assist(project => 'proud-quasar-abc12') ] } }
--- request
POST /v2/accounts/g/discover
--- error_code: 200
--- response_body_like chomp
"other":\{"project":"proud-quasar-abc12","tier":"free-tier"\}.*"status":"active"
--- mock_check eval
sub {
    my ($reqs) = @_;
    is_deeply(main::paths($reqs), ['/v1internal:loadCodeAssist'], 'one call');
    is($reqs->[0]{headers}{authorization}, 'Bearer ya29.tok', 'with the account token');
    is($reqs->[0]{headers}{'content-type'}, 'application/json', 'JSON');
    is_deeply($reqs->[0]{json}, { metadata => { ideType => 'IDE_UNSPECIFIED', platform => 'PLATFORM_UNSPECIFIED',
                                                pluginType => 'GEMINI' } }, "gemini-cli's body, no project");
    is(main::other(main::stored()->{g})->{project}, 'proud-quasar-abc12', 'persisted');
}



=== TEST 2: no tier yet: onboardUser with the default tier, no project; its operation polled until done
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval: main::gemini(other => { flavour => 'antigravity' })
--- mock eval
{ by_path => { '/v1internal:loadCodeAssist' => [ load_code_assist() ],
               '/v1internal:onboardUser' => [ onboard_operation() ],
               '/v1internal/operations/onboard-1' => [ onboard_operation(), onboard_operation(project => 'gen-lang-client-0194852792') ] } }
--- request eval
["POST /v2/accounts/g/discover", "GET /v2/accounts?type=gemini"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/"project":"gen-lang-client-0194852792","tier":"free-tier".*"status":"active"/,
 qr/"project":"gen-lang-client-0194852792"/]
--- mock_check eval
sub {
    my ($reqs, $block) = @_;
    return unless ++$main::seen{$block->name} == 1;
    is_deeply(main::paths($reqs), ['/v1internal:loadCodeAssist', '/v1internal:onboardUser',
                                   '/v1internal/operations/onboard-1', '/v1internal/operations/onboard-1'],
              'load, onboard, two polls');
    is($reqs->[0]{json}{metadata}{ideType}, 'ANTIGRAVITY', "Antigravity's ideType");
    is_deeply($reqs->[1]{json}, { tierId => 'free-tier', metadata => { ideType => 'ANTIGRAVITY',
              platform => 'PLATFORM_UNSPECIFIED', pluginType => 'GEMINI' } },
              'free-tier onboarding without a project');
    is($reqs->[2]{method}, 'GET', 'the operation is read with GET');
    is(main::other(main::stored()->{g})->{project}, 'gen-lang-client-0194852792', 'persisted');
}



=== TEST 3: VALIDATION_REQUIRED: needs_validation, the URL kept for the console, out of rotation
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval: main::gemini()
--- mock eval
{ by_path => { '/v1internal:loadCodeAssist' => [ load_code_assist(ineligible => [ ineligible('VALIDATION_REQUIRED', url => 'https://accounts.google.com/signin/continue?x=1') ]) ] } }
--- request eval
["POST /v2/accounts/g/discover", "GET /healthz"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/"validation_url":"https:\/\/accounts\.google\.com\/signin\/continue\?x=1".*"status":"needs_validation","status_reason":"VALIDATION_REQUIRED: /,
 qr/"accounts":1,"usable":0\}/]
--- mock_check eval
sub {
    my ($reqs, $block) = @_;
    return unless ++$main::seen{$block->name} == 2;
    my $s = main::stored();
    is($s->{g}{status}, 'needs_validation', 'persisted state');
    is(main::other($s->{g})->{validation_url}, 'https://accounts.google.com/signin/continue?x=1', 'the URL persisted');
}



=== TEST 4: the default tier refused (UNSUPPORTED_CLIENT, 2026): ineligible with Google's reason, no onboarding
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval: main::gemini()
--- mock eval
{ by_path => { '/v1internal:loadCodeAssist' => [ load_code_assist(ineligible => [ ineligible('UNSUPPORTED_CLIENT', message => 'This client is no longer supported for Gemini Code Assist for individuals.') ]) ] } }
--- request
POST /v2/accounts/g/discover
--- error_code: 200
--- response_body_like chomp
"status":"ineligible","status_reason":"UNSUPPORTED_CLIENT: This client is no longer supported for Gemini Code Assist for individuals\."
--- mock_check eval
sub {
    my ($reqs) = @_;
    is_deeply(main::paths($reqs), ['/v1internal:loadCodeAssist'], 'no onboarding');
}



=== TEST 5: a standard tier with the project the account names: onboarded with it; without one: ineligible
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval
main::accounts({ id => 'std', type => 'gemini', accessToken => 'ya29.s', other => { project => 'my-gcp-project' } },
               { id => 'none', type => 'gemini', accessToken => 'ya29.n' })
--- mock eval
{ by_path => { '/v1internal:loadCodeAssist' => [ load_code_assist(allowed => [ { id => 'standard-tier', isDefault => JSON::PP::true } ]) ],
               '/v1internal:onboardUser' => [ onboard_operation(project => 'my-gcp-project') ] } }
--- request eval
["POST /v2/accounts/std/discover", "POST /v2/accounts/none/discover"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/"status":"active"/, qr/"status":"ineligible","status_reason":"the account's default tier needs a Google Cloud project: set other\.project"/]
--- mock_check eval
sub {
    my ($reqs, $block) = @_;
    return unless ++$main::seen{$block->name} == 1;
    is($reqs->[0]{json}{cloudaicompanionProject}, 'my-gcp-project', 'loadCodeAssist names the project');
    is_deeply($reqs->[1]{json}, { tierId => 'standard-tier', cloudaicompanionProject => 'my-gcp-project',
              metadata => { ideType => 'IDE_UNSPECIFIED', platform => 'PLATFORM_UNSPECIFIED',
                            pluginType => 'GEMINI', duetProject => 'my-gcp-project' } },
              'onboardUser with the project');
}



=== TEST 6: a 401 refreshes the token once, then the lookup goes on with the new one
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval: main::gemini()
--- mock eval
{ by_path => { '/v1internal:loadCodeAssist' => [ rpc_error(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.'),
                                                 load_code_assist(project => 'proj-after') ],
               '/token' => [ google_token('ya29.fresh') ] } }
--- request
POST /v2/accounts/g/discover
--- error_code: 200
--- response_body_like chomp
"project":"proj-after"
--- mock_check eval
sub {
    my ($reqs) = @_;
    is_deeply(main::paths($reqs), ['/v1internal:loadCodeAssist', '/token', '/v1internal:loadCodeAssist'], 'refresh between');
    is($reqs->[2]{headers}{authorization}, 'Bearer ya29.fresh', 'with the new token');
}



=== TEST 7: a 5xx is transient: a 502, the account as it was
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval: main::gemini(other => { project => 'kept-project' })
--- mock eval
{ by_path => { '/v1internal:loadCodeAssist' => [ rpc_error(503, 'UNAVAILABLE', 'The service is currently unavailable.', array => 1) ] } }
--- request eval
["POST /v2/accounts/g/discover", "GET /v2/accounts/g"]
--- error_code eval
[502, 200]
--- response_body_like eval
[qr/^\{"detail":"Project lookup failed: loadCodeAssist failed"\}$/,
 qr/"other":\{"project":"kept-project"\}.*"status":"active"/]



=== TEST 8: an operation that never ends is given up after its bound
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval: main::gemini()
--- mock eval
{ by_path => { '/v1internal:loadCodeAssist' => [ load_code_assist() ],
               '/v1internal:onboardUser' => [ onboard_operation() ],
               '/v1internal/operations/onboard-1' => [ onboard_operation() ] } }
--- request
POST /v2/accounts/g/discover
--- error_code: 502
--- response_body chomp
{"detail":"Project lookup failed: onboarding did not finish in time"}
--- mock_check eval
sub {
    my ($reqs) = @_;
    is(scalar(grep { $_->{path} eq '/v1internal/operations/onboard-1' } @$reqs), 24, 'twenty-four polls, no more');
}
--- timeout: 20



=== TEST 9: a project or operation name that is not acceptable is never used
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval
main::accounts({ id => 'p', type => 'gemini', accessToken => 'ya29.p' }, { id => 'o', type => 'gemini', accessToken => 'ya29.o' })
--- mock eval
{ by_token => {},
  by_path => { '/v1internal:loadCodeAssist' => [ load_code_assist(project => 'evil/../x"}'), load_code_assist() ],
               '/v1internal:onboardUser' => [ onboard_operation(name => 'operations/../../token?x') ] } }
--- request eval
["POST /v2/accounts/p/discover", "POST /v2/accounts/o/discover"]
--- error_code eval
[200, 502]
--- response_body_like eval
[qr/"status":"ineligible"/, qr/onboardUser answered no operation/]
--- mock_check eval
sub {
    my ($reqs, $block) = @_;
    return unless ++$main::seen{$block->name} == 2;
    my $s = main::stored();
    ok(!defined main::other($s->{p})->{project}, 'the bad project is not stored');
}
