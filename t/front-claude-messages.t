# The Messages endpoint as Claude clients read it: the SSE event sequence,
# the one-JSON answer of stream false and its equality with the stream,
# pings through a silent backend.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;
use Q2api::SSE;
use Q2api::Message;

repeat_each(1);
no_shuffle();

our $ROOT = $Q2api::Gateway::API_ROOT;

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



=== TEST 2: stream false returns one message JSON
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



=== TEST 3: stream false gives the message the stream describes (tools)
--- config eval: $::ROOT
--- mock eval
tool_response(text => ['Checking.'], tools => [{ id => 'tu1', name => 'Bash', fragments => ['', '{"comm', 'and": "ls', ' -l"}'] }, { id => 'tu2', name => 'Read', input => { path => '/etc/hosts' } }])
--- request eval
my $b = q{"model":"claude-sonnet-4-5","max_tokens":10,"tools":[{"name":"Bash","input_schema":{"type":"object"}},{"name":"Read","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"hi"}]};
["POST /v1/messages\n{$b}", "POST /v1/messages\n{\"stream\":true,$b}"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/"content":\[\{"type":"text","text":"Checking\."\},\{"type":"tool_use","id":"tu1","name":"Bash","input":\{"command": ?"ls -l"\}\},\{"type":"tool_use","id":"tu2","name":"Read","input":\{"path":"\/etc\/hosts"\}\}\],"stop_reason":"tool_use"/,
 qr/"stop_reason":"tool_use"/]
--- same_as_stream



=== TEST 4: pings keep a silent stream alive, and the stream stays well formed
--- config
    location /v1/ {
        q2api_ping_interval 300ms;
        q2api_pass claude;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
--- mock eval
{ events => [ { sleep_ms => 1000 }, event('assistantResponseEvent', { content => 'late' }), { sleep_ms => 700 },
              event('assistantResponseEvent', { content => ' answer' }) ] }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like eval
qr/\Aevent: message_start\n[^\n]+\n\nevent: ping\n[^\n]+\n\n(event: ping\n[^\n]+\n\n)+event: content_block_start.*"text":"late".*event: ping.*"text":" answer"/s
--- sse_valid
--- timeout: 10
