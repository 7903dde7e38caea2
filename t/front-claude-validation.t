# Claude requests refused before any backend call: malformed or mistyped
# bodies, oversized bodies, wrong methods, server-only tools; every answer
# in Anthropic's error envelope.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;

repeat_each(1);
no_shuffle();

our $ROOT = $Q2api::Gateway::API_ROOT;

run_tests();

__DATA__

=== TEST 1: malformed JSON gets invalid_request_error, no upstream call
--- request
POST /v1/messages
{"model": "claude-sonnet-4-5", "messages": [
--- error_code: 400
--- response_headers
Content-Type: application/json
x-should-retry: false
--- response_body_like chomp
^\{"type":"error","error":\{"type":"invalid_request_error","message":"request body is not valid JSON \(error near byte \d+\)"\},"request_id":"req_[0-9a-f]{24}"\}$
--- mock_requests: 0



=== TEST 2: missing model
--- request
POST /v1/messages
{"max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 400
--- response_body_like chomp
"type":"invalid_request_error","message":"model: field required"
--- mock_requests: 0



=== TEST 3: missing messages
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10}
--- error_code: 400
--- response_body_like chomp
"message":"messages: field required"
--- mock_requests: 0



=== TEST 4: wrong types are named by their path
--- request eval
[
 qq{POST /v1/messages\n{"model":42,"messages":[]}},
 qq{POST /v1/messages\n{"model":"claude-sonnet-4-5","messages":{"role":"user"}}},
 qq{POST /v1/messages\n{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":7}]}},
 qq{POST /v1/messages\n{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":[{"type":"text","text":1}]}]}},
 qq{POST /v1/messages\n{"model":"claude-sonnet-4-5","stream":"yes","messages":[{"role":"user","content":"hi"}]}},
 qq{POST /v1/messages\n{"model":"claude-sonnet-4-5","max_tokens":-3,"messages":[{"role":"user","content":"hi"}]}},
 qq{POST /v1/messages\n[1,2,3]},
]
--- error_code eval
[400, 400, 400, 400, 400, 400, 400]
--- response_body_like eval
[
 qr/"message":"model: expected a non-empty string"/,
 qr/"message":"messages: expected an array"/,
 qr/"message":"messages\.0\.content: expected a string or an array of content blocks"/,
 qr/"message":"messages\.0\.content\.0\.text: expected a string"/,
 qr/"message":"stream: expected a boolean"/,
 qr/"message":"max_tokens: expected a positive integer"/,
 qr/"message":"request body must be a JSON object"/,
]
--- mock_requests eval
[0, 0, 0, 0, 0, 0, 0]



=== TEST 5: an empty body
--- raw_request eval
"POST /v1/messages HTTP/1.1\r
Host: localhost\r
Content-Length: 0\r
Connection: close\r
\r
"
--- error_code: 400
--- response_body_like chomp
"message":"request body is empty; expected a JSON object"
--- mock_requests: 0



=== TEST 6: invalid UTF-8
--- raw_request eval
"POST /v1/messages HTTP/1.1\r
Host: localhost\r
Content-Length: 27\r
Connection: close\r
\r
{\"model\":\"\xff\xfe\",\"messages\":[]}"
--- error_code: 400
--- response_body_like chomp
"message":"request body is not valid UTF-8"
--- mock_requests: 0



=== TEST 7: a body over client_max_body_size is a JSON 413, not nginx's page
--- config
    location /v1/messages {
        client_max_body_size 100;
        q2api_pass claude;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
--- request eval
"POST /v1/messages\n{\"model\":\"claude-sonnet-4-5\",\"messages\":[{\"role\":\"user\",\"content\":\"" . ("x" x 500) . "\"}]}"
--- error_code: 413
--- response_headers
Content-Type: application/json
--- response_body_like chomp
^\{"type":"error","error":\{"type":"request_too_large","message":"request body is larger than this gateway accepts \(client_max_body_size\)"\},"request_id":"req_[0-9a-f]{24}"\}$
--- mock_requests: 0



=== TEST 8: a chunked body over the limit is a JSON 413 as well
--- config
    location /v1/messages {
        client_max_body_size 100;
        q2api_pass claude;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
--- raw_request eval
my $body = "{\"model\":\"claude-sonnet-4-5\",\"messages\":[{\"role\":\"user\",\"content\":\"" . ("x" x 500) . "\"}]}";
"POST /v1/messages HTTP/1.1\r
Host: localhost\r
Transfer-Encoding: chunked\r
Connection: close\r
\r
" . sprintf("%x\r\n%s\r\n0\r\n\r\n", length $body, $body)
--- error_code: 413
--- response_body_like chomp
"type":"request_too_large"
--- mock_requests: 0



=== TEST 9: GET is refused with 405 and Allow
--- request
GET /v1/messages
--- error_code: 405
--- response_headers
Allow: POST
Content-Type: application/json
--- response_body_like chomp
"type":"invalid_request_error","message":"method not allowed on this endpoint"



=== TEST 10: a request whose only tools are server tools gets a clear 400
--- config eval: $::ROOT
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":8}],"messages":[{"role":"user","content":"search the web for nginx 1.22"}]}
--- error_code: 400
--- response_body_like chomp
"type":"invalid_request_error","message":"tools: \\"web_search_20250305\\" is a server tool that Anthropic runs itself; this gateway's backends cannot run it"
--- mock_requests: 0



=== TEST 11: a 3 MB conversation is read in memory: no 413, no temporary file
A q2api_pass location that keeps nginx's built-in body limits gets 32m and
8m instead.
--- request eval
"POST /v1/messages\n{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"" . ("0123456789abcdef" x 196608) . "\"}]}"
--- error_code: 200
--- mock_requests: 1
--- no_error_log
buffered to a temporary file
[error]



=== TEST 12: body sizes the operator sets are kept
--- config
    location /v1/messages {
        client_body_buffer_size 16k;
        q2api_pass claude;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
--- request eval
"POST /v1/messages\n{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"" . ("x" x 65536) . "\"}]}"
--- error_code: 200
--- error_log
a client request body is buffered to a temporary file
