# Amazon Q's event stream read back: any cut of the bytes, a slow drip,
# untidy and truncated tool streams, an empty stream, and the usage,
# context and length events that become Claude's usage and stop reasons.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;
use Q2api::SSE;

repeat_each(1);
no_shuffle();

our $ROOT = $Q2api::Gateway::API_ROOT;

run_tests();

__DATA__

=== TEST 1: the upstream byte stream cut one byte per write decodes the same
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



=== TEST 2: uneven cuts that split frames and characters
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



=== TEST 3: a slow drip still arrives whole
--- mock eval
text_response({ drip_ms => 30, split => 7 }, "one ", "two ", "three")
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like chomp
"text":"one ".*"text":"two ".*"text":"three".*event: message_stop
--- timeout: 10



=== TEST 4: the untidy stream: thinking with a lone signature, tool input fragments and an object fragment
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



=== TEST 5: a stream cut inside a tool call still ends the block and the message
--- mock eval
cut_in_tool_response()
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like eval
qr/"tool_use","id":"tooluse_cut01","name":"read_file".*"partial_json":"\{\\"path\\": \\"\/etc\/ho"\}\}\n\nevent: content_block_stop\ndata: \{"type":"content_block_stop","index":1\}\n\nevent: message_delta\n.*"stop_reason":"tool_use".*event: message_stop/s



=== TEST 6: an empty 200 stream is still a complete message
--- mock eval
{ events => [] }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like chomp
\Aevent: message_start\n.*event: message_delta\n.*"stop_reason":"end_turn".*event: message_stop\n



=== TEST 7: the backend's usage figures reach message_delta; context usage becomes input tokens
--- config eval: $::ROOT
--- mock eval
{ events => [ event('assistantResponseEvent', { content => 'ok' }),
              event('contextUsageEvent', { contextUsagePercentage => 2.336 }),
              event('metadataEvent', { tokenUsage => { outputTokens => 7, cacheReadInputTokens => 100, cacheWriteInputTokens => 20 } }) ] }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like chomp
"usage":\{"input_tokens":4672,"cache_creation_input_tokens":20,"cache_read_input_tokens":100,"output_tokens":7\}\}\n\nevent: message_stop



=== TEST 8: a full context window ends with model_context_window_exceeded
--- config eval: $::ROOT
--- mock eval
{ events => [ event('assistantResponseEvent', { content => 'ok' }),
              event('contextUsageEvent', { contextUsagePercentage => 100.2 }) ] }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like chomp
"stop_reason":"model_context_window_exceeded"



=== TEST 9: ContentLengthExceededException is a max_tokens stop, not an error
--- config eval: $::ROOT
--- mock eval
{ events => [ event('assistantResponseEvent', { content => 'long...' }),
              exception_event('ContentLengthExceededException', { message => 'too long' }) ] }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like chomp
"stop_reason":"max_tokens"
--- sse_valid
