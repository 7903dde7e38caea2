# The first slice: a plain text conversation, Claude Messages in, Amazon Q
# out, the answer streamed back as Claude SSE while the event stream
# arrives; bad input and upstream failures in Anthropic's envelope.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;
use Q2api::SSE;

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a streamed text answer is Claude SSE, event by event
--- mock eval
text_response("Hel", "lo w\x{f6}rld")
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- more_headers
content-type: application/json
anthropic-version: 2023-06-01
--- error_code: 200
--- response_headers
Content-Type: text/event-stream
Cache-Control: no-cache
X-Accel-Buffering: no
!Content-Length
--- response_headers_like
request-id: ^req_[0-9a-f]{24}$
--- response_body_like eval
qr/\Aevent: message_start
data: \{"type":"message_start","message":\{"id":"msg_[0-9a-f]{24}","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":\[\],"stop_reason":null,"stop_sequence":null,"usage":\{"input_tokens":\d+,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1\}\}\}

event: ping
data: \{"type":"ping"\}

event: content_block_start
data: \{"type":"content_block_start","index":0,"content_block":\{"type":"text","text":""\}\}

event: content_block_delta
data: \{"type":"content_block_delta","index":0,"delta":\{"type":"text_delta","text":"Hel"\}\}

event: content_block_delta
data: \{"type":"content_block_delta","index":0,"delta":\{"type":"text_delta","text":"lo w\x{c3}\x{b6}rld"\}\}

event: content_block_stop
data: \{"type":"content_block_stop","index":0\}

event: message_delta
data: \{"type":"message_delta","delta":\{"stop_reason":"end_turn","stop_sequence":null\},"usage":\{"input_tokens":11,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":2\}\}

event: message_stop
data: \{"type":"message_stop"\}

\z/
--- mock_requests: 1
--- sse_valid
--- no_error_log
[error]



=== TEST 2: the Amazon Q request: method, target, account token, body
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5-20250929","max_tokens":64,"stream":true,"system":"Be brief.","messages":[{"role":"user","content":"What is 2+2?"}]}
--- more_headers
x-api-key: client-secret-key
Cookie: session=abc
Accept-Encoding: gzip
--- error_code: 200
--- mock_request_headers
content-type: application/x-amz-json-1.0
x-amz-target: AmazonCodeWhispererStreamingService.GenerateAssistantResponse
authorization: Bearer tok-1
amz-sdk-request: attempt=1; max=3
!x-api-key
!cookie
!accept-encoding
--- mock_check eval
sub {
    my ($reqs) = @_;
    is(scalar @$reqs, 1, "one upstream request");
    my $r = $reqs->[0];
    is($r->{method}, 'POST', 'POST');
    is($r->{path}, '/', 'path /');
    like($r->{headers}{'amz-sdk-invocation-id'},
         qr/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
         'invocation id is a UUIDv4');
    my $cs = $r->{json}{conversationState};
    ok($cs, 'conversationState');
    like($cs->{conversationId}, qr/^[0-9a-f-]{36}$/, 'conversation id');
    is($cs->{chatTriggerType}, 'MANUAL', 'chatTriggerType');
    is_deeply($cs->{history}, [], 'no history');
    my $m = $cs->{currentMessage}{userInputMessage};
    is($m->{modelId}, 'claude-sonnet-4.5', 'dated model id mapped');
    is($m->{origin}, 'KIRO_CLI', 'origin');
    like($m->{content}, qr/\A--- SYSTEM PROMPT BEGIN ---\nBe brief\.\n--- SYSTEM PROMPT END ---\n\n--- CONTEXT ENTRY BEGIN ---\nCurrent time: \w+day, \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000\+00:00\n--- CONTEXT ENTRY END ---\n\n--- USER MESSAGE BEGIN ---\nWhat is 2\+2\?\n--- USER MESSAGE END ---\z/,
         'content carries system prompt, context entry and user message');
    is_deeply($m->{userInputMessageContext}{envState},
              { operatingSystem => 'macos', currentWorkingDirectory => '/' },
              'envState');
}



=== TEST 3: stream false returns one message JSON
--- mock eval
text_response("Hel", "lo")
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body_like eval
qr/\A\{"id":"msg_[0-9a-f]{24}","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":\[\{"type":"text","text":"Hello"\}\],"stop_reason":"end_turn","stop_sequence":null,"usage":\{"input_tokens":11,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":2\}\}\z/



=== TEST 4: the upstream byte stream cut one byte per write decodes the same
--- mock eval
text_response({ split => 'byte' }, "Gr\x{fc}\x{df}e ", "\x{4e16}\x{754c}", " \x{1f600}!")
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like eval
my $re = CORE::join '.*', map { my $s = $_; utf8::encode($s); quotemeta qq{"text":"$s"} }
    "Gr\x{fc}\x{df}e ", "\x{4e16}\x{754c}", " \x{1f600}!";
qr/$re.*event: message_stop/s
--- sse_valid
--- no_error_log
[error]



=== TEST 5: uneven cuts that split frames and characters
--- mock eval
text_response({ split => [1, 7, 13, 2, 64, 3] }, map { "chunk $_ \x{e9}t\x{e9}; " } 1 .. 20)
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like eval
my @c = map { my $s = "chunk $_ \x{e9}t\x{e9}; "; utf8::encode($s); $s } 1 .. 20;
my $re = CORE::join '', map { quotemeta(qq{"text":"$_"}) . '.*' } @c;
qr/$re.*event: message_stop/s
--- no_error_log
[error]



=== TEST 6: malformed JSON gets invalid_request_error, no upstream call
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



=== TEST 7: missing model
--- request
POST /v1/messages
{"max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 400
--- response_body_like chomp
"type":"invalid_request_error","message":"model: field required"
--- mock_requests: 0



=== TEST 8: missing messages
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10}
--- error_code: 400
--- response_body_like chomp
"message":"messages: field required"
--- mock_requests: 0



=== TEST 9: wrong types are named by their path
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



=== TEST 10: an empty body
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



=== TEST 11: invalid UTF-8
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



=== TEST 12: a body over client_max_body_size is a JSON 413, not nginx's page
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



=== TEST 13: a chunked body over the limit is a JSON 413 as well
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



=== TEST 14: GET is refused with 405 and Allow
--- request
GET /v1/messages
--- error_code: 405
--- response_headers
Allow: POST
Content-Type: application/json
--- response_body_like chomp
"type":"invalid_request_error","message":"method not allowed on this endpoint"



=== TEST 15: an unknown model is a not_found_error naming it
--- request
POST /v1/messages
{"model":"gpt-4o","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 404
--- response_body_like chomp
^\{"type":"error","error":\{"type":"not_found_error","message":"model: gpt-4o"\}
--- mock_requests: 0



=== TEST 16: an empty pool is a 503 with retry-after
--- user_files
>>> accounts.json
[]
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 503
--- response_headers
retry-after: 10
--- response_body_like chomp
"type":"api_error","message":"no usable backend account
--- mock_requests: 0



=== TEST 17: disabled accounts are never used
--- user_files
>>> accounts.json
{"accounts": [{"id": "off", "accessToken": "tok-off", "enabled": 0},
              {"id": "on", "accessToken": "tok-on", "enabled": true}]}
--- request eval
[ map { qq{POST /v1/messages\n{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi $_"}]}} } 1 .. 6 ]
--- error_code eval
[ (200) x 6 ]
--- mock_request_headers
authorization: Bearer tok-on



=== TEST 18: upstream 403 TEMPORARILY_SUSPENDED before the first byte: a JSON error, not a stream
--- mock eval
error_response('suspended')
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 503
--- response_headers
Content-Type: application/json
--- response_body_like chomp
^\{"type":"error","error":\{"type":"api_error","message":"the backend account was refused \(TEMPORARILY_SUSPENDED\)"\}
--- error_log
account "acc-1" failed with upstream status 403 (TEMPORARILY_SUSPENDED)



=== TEST 19: upstream 429 throttling: rate_limit_error with retry-after
--- mock eval
error_response('throttled')
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 429
--- response_headers_like
retry-after: ^[1-9][0-9]*$
--- response_body_like chomp
"type":"rate_limit_error"



=== TEST 20: upstream "Input is too long" is the 400 that makes Claude Code compact
--- mock eval
error_response('too_long')
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 400
--- response_body_like chomp
"type":"invalid_request_error","message":"prompt is too long



=== TEST 21: upstream 500
--- mock eval
error_response('internal')
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 529
--- response_body_like chomp
"type":"overloaded_error"



=== TEST 22: an unreachable backend is a 502 in the envelope, not a hang
--- http_config
    q2api_zone q2api 4m;
    q2api_store file html/accounts.json;
    q2api_amazonq_url http://127.0.0.1:1/;
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 502
--- response_body_like chomp
^\{"type":"error","error":\{"type":"api_error","message":"the backend could not be reached"\}
--- error_log
connect() failed



=== TEST 23: an exception as the first frame is still an HTTP error
--- mock eval
{ events => [ exception_event('ThrottlingException', { message => 'Too many requests' }) ] }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 429
--- response_headers
Content-Type: application/json
--- response_body_like chomp
"type":"rate_limit_error","message":"Amazon Q ThrottlingException: Too many requests"



=== TEST 24: an exception after text: event error, then a clean end
--- mock eval
{ events => [ event('assistantResponseEvent', { content => 'partial' }),
              { sleep_ms => 300 },
              exception_event('InternalServerException', { message => 'boom' }),
              event('assistantResponseEvent', { content => 'never' }) ] }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like eval
qr/"text":"partial"\}\}\n\nevent: error\ndata: \{"type":"error","error":\{"type":"overloaded_error","message":"Amazon Q InternalServerException: boom"\}\}\n\n\z/
--- response_body_unlike
never|message_stop



=== TEST 24b: an exception right behind the text, before a byte was sent: an HTTP error
--- mock eval
{ split => 65536,
  events => [ event('assistantResponseEvent', { content => 'partial' }),
              exception_event('InternalServerException', { message => 'boom' }) ] }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 529
--- response_body_like chomp
^\{"type":"error","error":\{"type":"overloaded_error","message":"Amazon Q InternalServerException: boom"\}



=== TEST 25: an exception frame with an empty payload is not dropped
--- mock eval
{ events => [ event('assistantResponseEvent', { content => 'a' }),
              { sleep_ms => 300 },
              exception_event('ValidationException', '') ] }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like chomp
event: error\ndata: \{"type":"error","error":\{"type":"invalid_request_error","message":"Amazon Q ValidationException"\}\}



=== TEST 26: an unmodelled error frame mid-stream
--- mock eval
{ events => [ event('assistantResponseEvent', { content => 'a' }),
              { sleep_ms => 300 },
              error_event('InternalFailure', 'backend unavailable') ] }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like chomp
"message":"Amazon Q stream error InternalFailure: backend unavailable"



=== TEST 27: a connection reset inside a frame after text: error event, clean end
--- mock eval
{ events => [ event('assistantResponseEvent', { content => 'abc' }),
              { sleep_ms => 300 },
              { reset_mid_frame => event('assistantResponseEvent', { content => 'def' }) } ] }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like eval
qr/"text":"abc"\}\}\n\nevent: error\ndata: \{"type":"error","error":\{"type":"api_error","message":"the backend stream ended unexpectedly"\}\}\n\n\z/
--- sse_valid: error
--- error_log eval
qr/recv\(\) failed \(104: Connection reset by peer\)|upstream prematurely closed connection/



=== TEST 28: a frame with a bad CRC after text ends the stream with an error
--- mock eval
{ events => [ event('assistantResponseEvent', { content => 'abc' }),
              { sleep_ms => 300 },
              { corrupt_crc => event('assistantResponseEvent', { content => 'def' }) },
              event('assistantResponseEvent', { content => 'ghi' }) ] }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like eval
qr/"text":"abc"\}\}\n\nevent: error\n.*"api_error".*\n\n\z/s
--- response_body_unlike
def|ghi|message_stop
--- error_log
sent a corrupt event stream: bad message CRC



=== TEST 29: a reset before any frame is an HTTP error
--- mock eval
{ events => [ { reset_mid_frame => event('assistantResponseEvent', { content => 'def' }) } ] }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 500
--- response_body_like chomp
"message":"the backend stream ended unexpectedly"



=== TEST 30: a slow drip still arrives whole
--- mock eval
text_response({ drip_ms => 30, split => 7 }, "one ", "two ", "three")
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like chomp
"text":"one ".*"text":"two ".*"text":"three".*event: message_stop
--- timeout: 10



=== TEST 31: the untidy stream: thinking with a lone signature, tool input fragments and an object fragment
--- mock eval
untidy_response()
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like eval
qr/"index":0,"content_block":\{"type":"thinking","thinking":"","signature":""\}.*"thinking_delta","thinking":"Let me look".*"thinking_delta","thinking":" at \/tmp\.".*"signature_delta","signature":"c2lnLXVudGlkeQ=="\}\}\n\nevent: content_block_stop\ndata: \{"type":"content_block_stop","index":0\}\n\nevent: content_block_start\ndata: \{"type":"content_block_start","index":1,"content_block":\{"type":"text","text":""\}\}.*"index":2,"content_block":\{"type":"tool_use","id":"tooluse_untidy01","name":"list_dir","input":\{\}\}.*"stop_reason":"tool_use"/s
--- sse_valid
--- no_error_log
[error]



=== TEST 32: a stream cut inside a tool call still ends the block and the message
--- mock eval
cut_in_tool_response()
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like eval
qr/"tool_use","id":"tooluse_cut01","name":"read_file".*"partial_json":"\{\\"path\\": \\"\/etc\/ho"\}\}\n\nevent: content_block_stop\ndata: \{"type":"content_block_stop","index":1\}\n\nevent: message_delta\n.*"stop_reason":"tool_use".*event: message_stop/s



=== TEST 33: an empty 200 stream is still a complete message
--- mock eval
{ events => [] }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like chomp
\Aevent: message_start\n.*event: message_delta\n.*"stop_reason":"end_turn".*event: message_stop\n
