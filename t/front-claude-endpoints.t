# The rest of the Claude API surface: count_tokens, /v1/models and the
# model names (built in, q2api_model, q2api_default_model), API keys as
# Claude Code sends them, unknown endpoints.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;

repeat_each(1);
no_shuffle();

our $KEYED = <<'_EOC_';
    location /v1/ {
        q2api_api_key sk-test-0123456789 sk-other-0123456789;
        q2api_pass claude;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
_EOC_

our $ROOT = $Q2api::Gateway::API_ROOT;

# the input_tokens that count_tokens (request 0) and message_start
# (request 1) report must agree
my %count;
add_response_body_check(sub {
    my ($block, $body, $i) = @_;
    return unless defined $block->same_input_tokens;
    if ($i == 0) {
        ($count{$block->name}) = $body =~ /^\{"input_tokens":(\d+)\}$/;
        return;
    }
    my ($start) = $body =~ /"input_tokens":(\d+)/;
    ok(defined $count{$block->name} && $count{$block->name} > 0,
       $block->name . " - count_tokens answered");
    is($start, $count{$block->name},
       $block->name . " - message_start agrees with count_tokens");
});

run_tests();

__DATA__

=== TEST 1: count_tokens is answered locally and agrees with message_start
--- config eval: $::ROOT
--- request eval
my $b = q{{"model":"claude-sonnet-4-5","max_tokens":64,"system":"You are terse.","tools":[{"name":"Bash","description":"Run a command","input_schema":{"type":"object","properties":{"command":{"type":"string"}}}}],"messages":[{"role":"user","content":"How many files are in /tmp? Use the tool."}]}};
my $s = $b; $s =~ s/^\{/{"stream":true,/;
["POST /v1/messages/count_tokens?beta=true\n$b", "POST /v1/messages?beta=true\n$s"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/^\{"input_tokens":\d+\}$/, qr/message_stop/]
--- mock_requests eval
[0, 1]
--- same_input_tokens



=== TEST 2: count_tokens validates like messages
--- config eval: $::ROOT
--- request
POST /v1/messages/count_tokens
{"messages":[{"role":"user","content":"hi"}]}
--- error_code: 400
--- response_body_like chomp
"message":"model: field required"
--- mock_requests: 0



=== TEST 3: GET /v1/models in Anthropic's shape
--- config eval: $::ROOT
--- request
GET /v1/models
--- more_headers
anthropic-version: 2023-06-01
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body_like chomp
^\{"data":\[\{"type":"model","id":"claude-opus-4-6","display_name":"Claude Opus 4\.6","created_at":"2026-02-05T00:00:00Z"\},.*\{"type":"model","id":"claude-sonnet-4-5",.*\],"has_more":false,"first_id":"claude-opus-4-6","last_id":"claude-sonnet-4"\}$



=== TEST 4: models pagination: limit and after_id
--- config eval: $::ROOT
--- request eval
["GET /v1/models?limit=2", "GET /v1/models?limit=2&after_id=claude-sonnet-4-6", "GET /v1/models?limit=0"]
--- more_headers
anthropic-version: 2023-06-01
--- error_code eval
[200, 200, 400]
--- response_body_like eval
[qr/^\{"data":\[\{[^\]]*"id":"claude-opus-4-6"[^\]]*"id":"claude-sonnet-4-6"[^\]]*\],"has_more":true,"first_id":"claude-opus-4-6","last_id":"claude-sonnet-4-6"\}$/,
 qr/"first_id":"claude-opus-4-5","last_id":"claude-haiku-4-5"/,
 qr/"type":"invalid_request_error","message":"limit: expected an integer from 1 to 1000"/]



=== TEST 5: paging backwards stops at the start; an unknown cursor is an error
--- config eval: $::ROOT
--- request eval
["GET /v1/models?limit=2&before_id=claude-opus-4-5", "GET /v1/models?limit=2&before_id=claude-opus-4-6", "GET /v1/models?after_id=bogus"]
--- more_headers
anthropic-version: 2023-06-01
--- error_code eval
[200, 200, 400]
--- response_body_like eval
[qr/"has_more":false,"first_id":"claude-opus-4-6","last_id":"claude-sonnet-4-6"/,
 qr/^\{"data":\[\],"has_more":false,"first_id":null,"last_id":null\}$/,
 qr/"message":"after_id: no such model"/]



=== TEST 6: GET /v1/models/{id}, by any of its names; unknown is a 404
--- config eval: $::ROOT
--- request eval
["GET /v1/models/claude-sonnet-4-5", "GET /v1/models/claude-sonnet-4.5", "GET /v1/models/claude-nope-9"]
--- more_headers
anthropic-version: 2023-06-01
--- error_code eval
[200, 200, 404]
--- response_body_like eval
[qr/^\{"type":"model","id":"claude-sonnet-4-5","display_name":"Claude Sonnet 4\.5","created_at":"2025-09-29T00:00:00Z"\}$/,
 qr/"id":"claude-sonnet-4-5"/,
 qr/^\{"type":"error","error":\{"type":"not_found_error","message":"model: claude-nope-9"\}/]



=== TEST 7: an unknown model is a not_found_error naming it
--- request
POST /v1/messages
{"model":"gpt-4o","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 404
--- response_body_like chomp
^\{"type":"error","error":\{"type":"not_found_error","message":"model: gpt-4o"\}
--- mock_requests: 0



=== TEST 8: q2api_model adds a name
--- config
    location /v1/ {
        q2api_model claude-opus-5-5 claude-opus-4.6 "Claude Opus 5.5";
        q2api_pass claude;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
--- request
POST /v1/messages
{"model":"claude-opus-5-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- mock_request_like
"modelId":"claude-opus-4\.6"
--- response_body_like chomp
"model":"claude-opus-5-5"



=== TEST 9: q2api_default_model catches the names nobody knows
--- config
    location /v1/ {
        q2api_default_model claude-sonnet-4.5;
        q2api_pass claude;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
--- request eval
[ map { qq{POST /v1/messages\n{"model":"$_","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}} } 'claude-unknown-1', 'gpt-4o' ]
--- error_code eval
[200, 200]
--- mock_request_like
"modelId":"claude-sonnet-4\.5"
--- response_body_like eval
[qr/"model":"claude-unknown-1"/, qr/"model":"gpt-4o"/]



=== TEST 10: the configured model is listed
--- config
    location /v1/ {
        q2api_model claude-opus-5-5 claude-opus-4.6 "Claude Opus 5.5";
        q2api_pass claude;
    }
--- request
GET /v1/models/claude-opus-5-5
--- more_headers
anthropic-version: 2023-06-01
--- error_code: 200
--- response_body_like chomp
^\{"type":"model","id":"claude-opus-5-5","display_name":"Claude Opus 5\.5"



=== TEST 11: keys: x-api-key and Authorization: Bearer are both accepted
--- config eval: $::KEYED
--- request eval
my $b = q{{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}};
["POST /v1/messages\n$b", "POST /v1/messages\n$b"]
--- more_headers eval
["x-api-key: sk-test-0123456789\nanthropic-version: 2023-06-01",
 "Authorization: Bearer sk-other-0123456789\nanthropic-version: 2026-10-21"]
--- error_code eval
[200, 200]
--- mock_request_headers
authorization: Bearer tok-1



=== TEST 12: a wrong or missing key is the 401 Claude Code recognises
--- config eval: $::KEYED
--- request eval
my $b = q{{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}};
["POST /v1/messages\n$b", "POST /v1/messages\n$b", "GET /v1/models", "POST /v1/messages\n$b"]
--- more_headers eval
["x-api-key: sk-test-wrong-key", "", "anthropic-version: 2023-06-01", "Authorization: Basic c2stdGVzdA=="]
--- error_code eval
[401, 401, 401, 401]
--- response_body_like eval
[ (qr/^\{"type":"error","error":\{"type":"authentication_error","message":"invalid x-api-key"\},"request_id":"req_/) x 4 ]
--- mock_requests eval
[0, 0, 0, 0]
--- log_level: info
--- no_error_log
sk-test-wrong-key



=== TEST 13: unknown endpoints under the API root are a JSON 404
--- config eval: $::ROOT
--- request
POST /v1/complete
{}
--- error_code: 404
--- response_body_like chomp
"type":"not_found_error","message":"no such endpoint"
