# Thinking with Amazon Q: the hint that asks for it, <thinking> tags in the
# text stream and reasoning events coming back as thinking blocks.

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

=== TEST 1: thinking: the hint goes up, <thinking> comes back as a thinking block
--- config eval: $::ROOT
--- mock eval
text_response('<thin', 'king>Let me see: 2<3', ' and 5>4.</thinking>', '2 < 3 is ', 'true.')
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":2048,"stream":true,"thinking":{"type":"enabled","budget_tokens":2000},"messages":[{"role":"user","content":"is 2 < 3?"}]}
--- error_code: 200
--- mock_request_like
<thinking_mode>interleaved</thinking_mode><max_thinking_length>2000</max_thinking_length>"
--- final_content eval
[{ type => 'thinking', thinking => 'Let me see: 2<3 and 5>4.', signature => '' },
 { type => 'text', text => '2 < 3 is true.' }]
--- sse_valid
--- no_error_log
[error]



=== TEST 2: a lone "<" in a chunk never swallows the text after it
--- config eval: $::ROOT
--- mock eval
text_response('Hello ', '<', 'div>world</div>', ' <', '/thinking> and <thinking', '')
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":2048,"thinking":{"type":"adaptive"},"messages":[{"role":"user","content":"html"}]}
--- error_code: 200
--- final_content eval
[{ type => 'text', text => 'Hello <div>world</div> </thinking> and <thinking' }]



=== TEST 3: without thinking asked for, tags are plain text
--- config eval: $::ROOT
--- mock eval
text_response('<thinking>x</thinking>y')
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like chomp
"content":\[\{"type":"text","text":"<thinking>x</thinking>y"\}\]



=== TEST 4: a -thinking model name asks for thinking
--- config eval: $::ROOT
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5-20250929-thinking","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- mock_request_like
"modelId":"claude-sonnet-4\.5"
<max_thinking_length>16000</max_thinking_length>"



=== TEST 5: reasoning events: thinking with signature, and redacted thinking
--- config eval: $::ROOT
--- mock eval
{ events => [ event('reasoningContentEvent', { text => 'hmm' }),
              event('reasoningContentEvent', { signature => 'sig1' }),
              event('reasoningContentEvent', { redactedContent => 'b3BhcXVl' }),
              event('assistantResponseEvent', { content => 'ok' }) ] }
--- request eval
my $b = q{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]};
["POST /v1/messages\n{$b}", "POST /v1/messages\n{\"stream\":true,$b}"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/"content":\[\{"type":"thinking","thinking":"hmm","signature":"sig1"\},\{"type":"redacted_thinking","data":"b3BhcXVl"\},\{"type":"text","text":"ok"\}\]/,
 qr/"signature_delta","signature":"sig1".*"index":1,"content_block":\{"type":"redacted_thinking","data":"b3BhcXVl"\}\}\n\nevent: content_block_stop\ndata: \{"type":"content_block_stop","index":1\}/s]
--- same_as_stream
