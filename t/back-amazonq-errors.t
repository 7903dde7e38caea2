# Amazon Q failing: error statuses before the first byte, an unreachable
# backend, exceptions, error frames, resets and bad CRCs before and after
# text was sent; each in Anthropic's envelope or as an error event.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;
use Q2api::SSE;

repeat_each(1);
no_shuffle();

run_tests();

__DATA__

=== TEST 1: upstream 403 TEMPORARILY_SUSPENDED before the first byte: a JSON error, not a stream
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



=== TEST 2: upstream 429 throttling: rate_limit_error with retry-after
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



=== TEST 3: upstream "Input is too long" is the 400 that makes Claude Code compact
--- mock eval
error_response('too_long')
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 400
--- response_body_like chomp
"type":"invalid_request_error","message":"prompt is too long



=== TEST 4: upstream 500
--- mock eval
error_response('internal')
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 529
--- response_body_like chomp
"type":"overloaded_error"



=== TEST 5: an unreachable backend is a 502 in the envelope, not a hang
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



=== TEST 6: an exception as the first frame is still an HTTP error
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



=== TEST 7: an exception after text: event error, then a clean end
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



=== TEST 8: an exception right behind the text, before a byte was sent: an HTTP error
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



=== TEST 9: an exception frame with an empty payload is not dropped
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



=== TEST 10: an unmodelled error frame mid-stream
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



=== TEST 11: a connection reset inside a frame after text: error event, clean end
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



=== TEST 12: a frame with a bad CRC after text ends the stream with an error
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



=== TEST 13: a reset before any frame is an HTTP error
--- mock eval
{ events => [ { reset_mid_frame => event('assistantResponseEvent', { content => 'def' }) } ] }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 500
--- response_body_like chomp
"message":"the backend stream ended unexpectedly"



=== TEST 14: a backend 503 (HTML or JSON) is overloaded, which clients retry
--- mock eval
[ { status => 503, headers => { 'content-type' => 'text/html' },
    body => '<html><body>Service Unavailable</body></html>' },
  { status => 503, json => { message => 'try later' } } ]
--- request eval
["POST /v1/messages\n{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
 "POST /v1/messages\n{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"]
--- error_code eval
[529, 529]
--- response_body_like eval
[qr/^\{"type":"error","error":\{"type":"overloaded_error","message":"the backend is unavailable \(HTTP 503\)"\}/,
 qr/^\{"type":"error","error":\{"type":"overloaded_error","message":"the backend is unavailable \(HTTP 503\)"\}/]



=== TEST 15: a backend that falls silent after its first frame: a timeout, named
--- config
    location /v1/ {
        q2api_amazonq_location /_t/amazonq;
        q2api_ping_interval 0;
        q2api_pass claude;
    }

    location = /_t/amazonq {
        internal;
        proxy_pass $q2api_upstream_url;
        proxy_http_version 1.1;
        proxy_pass_request_headers off;
        proxy_set_header Connection "";
        proxy_set_header Content-Type "application/x-amz-json-1.0";
        proxy_set_header X-Amz-Target
            "AmazonCodeWhispererStreamingService.GenerateAssistantResponse";
        proxy_set_header Authorization $q2api_authorization;
        proxy_buffering off;
        proxy_read_timeout 1s;
    }
--- mock eval
{ events => [ event('assistantResponseEvent', { content => 'partial' }),
              { sleep_ms => 3000 },
              event('assistantResponseEvent', { content => 'never' }) ] }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like eval
qr/"text":"partial"\}\}\n\nevent: error\ndata: \{"type":"error","error":\{"type":"timeout_error","message":"the backend stopped sending in the middle of its answer \(proxy_read_timeout\)"\}\}\n\n\z/
--- response_body_unlike
never|message_stop
--- error_log
upstream timed out



=== TEST 16: a close without a length or a chunked end: the answer may be cut
--- mock eval
{ close => 'close',
  events => [ event('assistantResponseEvent', { content => 'partial' }),
              { sleep_ms => 300 } ] }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like eval
qr/"text":"partial"\}\}\n\nevent: error\ndata: \{"type":"error","error":\{"type":"api_error","message":"the backend closed the connection without ending its answer: it may be cut"\}\}\n\n\z/
--- response_body_unlike
message_stop
--- error_log
without ending its answer



=== TEST 17: a tool use without a name is a broken stream, not a nameless tool
--- mock eval
{ events => [ event('assistantResponseEvent', { content => 'let me look' }),
              { sleep_ms => 300 },
              event('toolUseEvent', { toolUseId => 'tooluse_noname1' }),
              event('toolUseEvent', { toolUseId => 'tooluse_noname1',
                                      input => '{"a":1}', stop => JSON::PP::true }) ] }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like eval
qr/"text":"let me look"\}\}\n\nevent: error\ndata: \{"type":"error","error":\{"type":"api_error","message":"Amazon Q sent a malformed toolUseEvent event"\}\}\n\n\z/
--- response_body_unlike
tool_use|message_stop
