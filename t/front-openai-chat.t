# /v1/chat/completions as OpenAI clients read it, on the same q2api_pass
# location as the Claude API: chunks in order, the role once, tool calls
# by index, the finish_reason chunk, the usage chunk, [DONE]; stream false
# equal to the stream; reasoning_content; pings as comments.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;

repeat_each(1);
no_shuffle();

our $ROOT = $Q2api::Gateway::API_ROOT;

run_tests();

__DATA__

=== TEST 1: a streamed text answer is chat.completion.chunk SSE, chunk by chunk
--- config eval: $::ROOT
--- mock eval
text_response("Hel", "lo w\x{f6}rld")
--- request
POST /v1/chat/completions
{"model":"claude-sonnet-4-5","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- more_headers
Authorization: Bearer sk-anything
--- error_code: 200
--- response_headers
Content-Type: text/event-stream
Cache-Control: no-cache
!Content-Length
--- response_body_like eval
qr/\Adata: \{"id":"(chatcmpl-[0-9a-f]{24})","object":"chat.completion.chunk","created":(\d+),"model":"claude-sonnet-4-5","choices":\[\{"index":0,"delta":\{"role":"assistant","content":null\},"logprobs":null,"finish_reason":null\}\]\}

data: \{"id":"\1","object":"chat.completion.chunk","created":\2,"model":"claude-sonnet-4-5","choices":\[\{"index":0,"delta":\{"content":"Hel"\},"logprobs":null,"finish_reason":null\}\]\}

data: \{"id":"\1","object":"chat.completion.chunk","created":\2,"model":"claude-sonnet-4-5","choices":\[\{"index":0,"delta":\{"content":"lo w\x{c3}\x{b6}rld"\},"logprobs":null,"finish_reason":null\}\]\}

data: \{"id":"\1","object":"chat.completion.chunk","created":\2,"model":"claude-sonnet-4-5","choices":\[\{"index":0,"delta":\{\},"logprobs":null,"finish_reason":"stop"\}\]\}

data: \[DONE\]

\z/
--- mock_requests: 1
--- no_error_log
[error]



=== TEST 2: stream false is one chat.completion
--- config eval: $::ROOT
--- mock eval
text_response("Hel", "lo")
--- request
POST /v1/chat/completions
{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body_like eval
qr/\A\{"id":"chatcmpl-[0-9a-f]{24}","object":"chat.completion","created":\d+,"model":"claude-sonnet-4-5","choices":\[\{"index":0,"message":\{"role":"assistant","content":"Hello","refusal":null\},"logprobs":null,"finish_reason":"stop"\}\],"usage":\{"prompt_tokens":11,"completion_tokens":2,"total_tokens":13,"prompt_tokens_details":\{"cached_tokens":0\},"completion_tokens_details":\{"reasoning_tokens":0\}\}\}\z/
