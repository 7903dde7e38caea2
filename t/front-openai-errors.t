# Every error an OpenAI client can get from /v1/chat/completions, in
# OpenAI's envelope {"error":{"message","type","param","code"}} with the
# status the SDKs map to their exception classes: refused requests, keys,
# permissions, models, nginx's own pages, upstream failures before the
# first byte, and a data: {"error":...} chunk after it.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;

repeat_each(1);
no_shuffle();

our $ROOT = $Q2api::Gateway::API_ROOT;

our $KEYED = <<'_EOC_';
    location /v1/ {
        q2api_api_key sk-test-0123456789;
        q2api_pass claude;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
_EOC_

our $BODY = q{{"model":"claude-sonnet-4-5","stream":true,"messages":[{"role":"user","content":"hi"}]}};

run_tests();

__DATA__

=== TEST 1: a refused request is a 400 invalid_request_error naming the param
--- config eval: $::ROOT
--- request eval
["POST /v1/chat/completions\n" . q{{"model":"claude-sonnet-4-5","n":2,"messages":[{"role":"user","content":"hi"}]}},
 "POST /v1/chat/completions\n" . q{{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]}},
 "POST /v1/chat/completions\n" . q{{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AA","format":"wav"}}]}]}},
 "POST /v1/chat/completions\n{oops"]
--- error_code eval
[400, 400, 400, 400]
--- response_headers eval
[ ("Content-Type: application/json\nx-should-retry: false") x 4 ]
--- response_body_like eval
[qr/^\{"error":\{"message":"n: only 1 is supported; this gateway's backends give one choice per request","type":"invalid_request_error","param":"n","code":null\},"request_id":"req_[0-9a-f]{24}"\}$/,
 qr/^\{"error":\{"message":"messages\.0\.content\.0\.image_url\.url: remote image URLs are not supported; send the image inline as a data URL \(data:image\/png;base64,\.\.\.\)","type":"invalid_request_error","param":"messages\.0\.content\.0\.image_url\.url","code":null\}/,
 qr/"message":"messages\.0\.content\.0\.type: \\"input_audio\\" parts are not supported/,
 qr/^\{"error":\{"message":"request body is not valid JSON \(error near byte 2\)","type":"invalid_request_error","param":null,"code":null\}/]
--- mock_requests eval
[0, 0, 0, 0]



=== TEST 2: a wrong or missing Bearer key is a 401 invalid_api_key; the right one passes
--- config eval: $::KEYED
--- request eval
["POST /v1/chat/completions\n$::BODY", "POST /v1/chat/completions\n$::BODY", "POST /v1/chat/completions\n$::BODY"]
--- more_headers eval
["Authorization: Bearer sk-wrong-0123456789", "", "Authorization: Bearer sk-test-0123456789"]
--- error_code eval
[401, 401, 200]
--- response_body_like eval
[qr/^\{"error":\{"message":"invalid x-api-key","type":"invalid_request_error","param":null,"code":"invalid_api_key"\}/,
 qr/"code":"invalid_api_key"/,
 qr/data: \[DONE\]\n\n\z/]
--- mock_requests eval
[0, 0, 1]
--- log_level: info
--- no_error_log
sk-wrong-0123456789



=== TEST 3: a key that may not choose an account is a 403
--- config eval: $::KEYED
--- request eval
"POST /v1/chat/completions\n$::BODY"
--- more_headers
Authorization: Bearer sk-test-0123456789
X-Account-ID: acc-1
--- error_code: 403
--- response_body_like chomp
^\{"error":\{"message":"this key may not choose an account \(X-Account-ID\)","type":"permission_error","param":null,"code":"permission_denied"\}
--- mock_requests: 0



=== TEST 4: an unknown model is a 404 model_not_found; so is an unknown path
--- config eval: $::ROOT
--- request eval
["POST /v1/chat/completions\n" . q{{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}},
 "GET /v1/models/gpt-4o",
 "GET /v1/nope"]
--- error_code eval
[404, 404, 404]
--- response_body_like eval
[qr/^\{"error":\{"message":"model: gpt-4o","type":"invalid_request_error","param":"model","code":"model_not_found"\}/,
 qr/^\{"error":\{"message":"model: gpt-4o","type":"invalid_request_error","param":"model","code":"model_not_found"\}/,
 qr/^\{"type":"error","error":\{"type":"not_found_error","message":"no such endpoint"\}/]
--- mock_requests eval
[0, 0, 0]



=== TEST 5: a GET on chat/completions is a 405 with Allow
--- config eval: $::ROOT
--- request
GET /v1/chat/completions
--- error_code: 405
--- response_headers
Allow: POST
--- response_body_like chomp
^\{"error":\{"message":"method not allowed on this endpoint","type":"invalid_request_error","param":null,"code":null\}



=== TEST 6: nginx's own 413 is rewritten into OpenAI's envelope
--- config
    location /v1/ {
        client_max_body_size 100;
        q2api_pass claude;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
--- request eval
"POST /v1/chat/completions\n" . q~{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"~ . ("x" x 200) . q~"}]}~
--- error_code: 413
--- response_headers
Content-Type: application/json
--- response_body_like chomp
^\{"error":\{"message":"request body is larger than this gateway accepts \(client_max_body_size\)","type":"invalid_request_error","param":null,"code":"request_too_large"\},"request_id":"req_[0-9a-f]{24}"\}$
--- mock_requests: 0



=== TEST 7: upstream throttling is a 429 rate_limit_exceeded with retry-after
--- config eval: $::ROOT
--- mock eval
error_response('throttled')
--- request eval
"POST /v1/chat/completions\n$::BODY"
--- error_code: 429
--- response_headers_like
retry-after: ^[1-9][0-9]*$
--- response_body_like chomp
^\{"error":\{"message":"[^"]+","type":"requests","param":null,"code":"rate_limit_exceeded"\}



=== TEST 8: a stream that breaks before any frame is a 500 server_error
--- config eval: $::ROOT
--- mock eval
{ events => [ { reset_mid_frame => event('assistantResponseEvent', { content => 'def' }) } ] }
--- request eval
"POST /v1/chat/completions\n$::BODY"
--- error_code: 500
--- response_body_like chomp
^\{"error":\{"message":"the backend stream ended unexpectedly","type":"server_error","param":null,"code":null\}



=== TEST 9: an unreachable backend is a 502
--- config eval: $::ROOT
--- http_config
    q2api_zone q2api 4m;
    q2api_store file html/accounts.json;
    q2api_amazonq_url http://127.0.0.1:1/;
--- request eval
"POST /v1/chat/completions\n$::BODY"
--- error_code: 502
--- response_body_like chomp
^\{"error":\{"message":"the backend could not be reached","type":"server_error","param":null,"code":"bad_gateway"\}
--- error_log
connect() failed



=== TEST 10: an empty pool, and an overloaded backend, are a 503 with retry-after
--- config eval: $::ROOT
--- mock eval
error_response('internal')
--- user_files eval
[[ 'accounts.json' => '[]' ]]
--- request eval
"POST /v1/chat/completions\n$::BODY"
--- error_code: 503
--- response_headers
retry-after: 10
--- response_body_like chomp
^\{"error":\{"message":"no usable backend account[^"]*","type":"server_error","param":null,"code":"service_unavailable"\}



=== TEST 11: Anthropic's 529 (an overloaded backend) is OpenAI's 503
--- config eval: $::ROOT
--- mock eval
error_response('internal')
--- request eval
"POST /v1/chat/completions\n$::BODY"
--- error_code: 503
--- response_headers_like
retry-after: ^[1-9][0-9]*$
--- response_body_like chomp
"type":"server_error","param":null,"code":"service_unavailable"



=== TEST 12: an upstream 504 is a 504 timeout
--- config eval: $::ROOT
--- mock eval
error_response('internal', status => 504)
--- request eval
"POST /v1/chat/completions\n$::BODY"
--- error_code: 504
--- response_body_like chomp
^\{"error":\{"message":"the backend did not answer in time","type":"server_error","param":null,"code":"timeout"\}



=== TEST 13: an error after the first byte is a data error chunk, then the end
--- config eval: $::ROOT
--- mock eval
{ events => [ event('assistantResponseEvent', { content => 'partial' }),
              { sleep_ms => 300 },
              exception_event('InternalServerException', { message => 'boom' }),
              event('assistantResponseEvent', { content => 'never' }) ] }
--- request eval
"POST /v1/chat/completions\n$::BODY"
--- error_code: 200
--- response_body_like eval
qr/"delta":\{"content":"partial"\},"logprobs":null,"finish_reason":null\}\]\}\n\ndata: \{"error":\{"message":"Amazon Q InternalServerException: boom","type":"server_error","param":null,"code":"service_unavailable"\}\}\n\n\z/
--- response_body_unlike
never|DONE|finish_reason":"



=== TEST 14: upstream "Input is too long" is context_length_exceeded
--- config eval: $::ROOT
--- mock eval
error_response('too_long')
--- request eval
"POST /v1/chat/completions\n$::BODY"
--- error_code: 400
--- response_body_like chomp
"type":"invalid_request_error","param":null,"code":"context_length_exceeded"
