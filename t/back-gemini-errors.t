# Google's errors (gemini.md 5) as clients get them and as the pool takes
# them: a 400 is the client's, a 401 or 403 never reaches the client as
# its own authentication error, ToS and project 403s are named, a 404 is
# the model's, 429s carry retry-after (quota: until the reset Google
# gave), capacity and 5xx are overloaded; bare or in a one-element array.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test service => 'Q2api::Mock::CodeAssist';
use Q2api::Gateway;

our $HTTP = <<'_EOC_';
    q2api_zone q2api 4m;
    q2api_gemini_quota_interval 0;
    q2api_store file html/accounts.json;
    q2api_gemini_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT/v1internal:streamGenerateContent?alt=sse;
_EOC_

our $CLI = <<'_EOC_';
>>> accounts.json
[{"id": "g-1", "type": "gemini", "accessToken": "ya29.tok-g1", "enabled": 1,
  "other": {"project": "proud-quasar-abc12"}}]
_EOC_

our $REQ = '{"model":"gemini-2.5-pro","max_tokens":10,"stream":true,'
         . '"messages":[{"role":"user","content":"hi"}]}';

repeat_each(1);
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', $HTTP) unless defined $block->http_config;
    $block->set_value('config', $Q2api::Gateway::API_ROOT)
        unless defined $block->config;
    $block->set_value('user_files', $::CLI) unless defined $block->user_files;
    $block->set_value('request', "POST /v1/messages\n$::REQ")
        unless defined $block->request;
});

run_tests();

__DATA__

=== TEST 1: 400 INVALID_ARGUMENT: the client's 400 with Google's words, no other attempt
--- mock eval
gemini_error('invalid', message => 'Function call is missing a thought_signature in functionCall parts.')
--- error_code: 400
--- response_body_like chomp
^\{"type":"error","error":\{"type":"invalid_request_error","message":"Gemini rejected the request: Function call is missing a thought_signature
--- mock_requests: 1



=== TEST 2: 401: never the client's authentication error
--- mock eval
gemini_error('unauthenticated')
--- error_code: 503
--- response_body_unlike
authentication_error|permission_error
--- error_log
failed with upstream status 401 (UNAUTHENTICATED)



=== TEST 3: 403 Terms of Service: the account is suspended
--- mock eval
gemini_error('tos')
--- error_code: 503
--- response_body_like chomp
the backend account was refused \(TOS_VIOLATION\)
--- error_log
failed with upstream status 403 (TOS_VIOLATION)



=== TEST 4: 403 about the project, in a one-element array
--- mock eval
gemini_error('project', array => 1)
--- error_code: 503
--- response_body_unlike
permission_error
--- error_log
failed with upstream status 403 (SERVICE_DISABLED)



=== TEST 5: 404: the model is not served
--- mock eval
gemini_error('not_found')
--- error_code: 404
--- response_body_like chomp
"type":"not_found_error","message":"the model is not served by the backend account
--- error_log
model "gemini-2.5-pro" out for 86400 s



=== TEST 6: 429 QUOTA_EXHAUSTED in an array: rate_limit_error, retry-after from Google's delay
--- mock eval
gemini_error('quota', array => 1)
--- error_code: 429
--- response_headers_like
retry-after: ^479(4[0-2]|3\d)$
--- response_body_like chomp
"type":"rate_limit_error","message":"the backend account's quota for gemini-2.5-pro is used up"
--- error_log
model "gemini-2.5-pro" out for 47942 s (QUOTA_EXHAUSTED)



=== TEST 7: 429 RATE_LIMIT_EXCEEDED: a short cooldown
--- mock eval
gemini_error('rate')
--- error_code: 429
--- response_headers_like
retry-after: ^[1-9][0-9]*$
--- response_body_like chomp
"type":"rate_limit_error"
--- error_log
(RATE_LIMIT_EXCEEDED)



=== TEST 8: 429 capacity: overloaded, not a quota
--- mock eval
gemini_error('capacity')
--- error_code: 529
--- response_body_like chomp
"type":"overloaded_error"
--- no_error_log
out for



=== TEST 9: 503: overloaded
--- mock eval
gemini_error('unavailable')
--- error_code: 529
--- response_body_like chomp
"type":"overloaded_error","message":"the backend failed \(HTTP 503\)



=== TEST 10: an error chunk as the first event: an HTTP error, not a stream
--- mock eval
{ events => [ { data => [ { error => { code => 429, status => 'RESOURCE_EXHAUSTED', message => 'Resource has been exhausted.' } } ] } ] }
--- error_code: 429
--- response_headers
Content-Type: application/json
--- response_body_like chomp
"type":"rate_limit_error"
