# Code Assist answers as clients get them: thoughts with their signature,
# whole calls as tool_use, stop reasons (tool_use, max_tokens, refusal),
# usage, SSE cut at every byte or framed with LF, a stream that ends
# without finishReason and an error chunk mid-stream (errors, never a
# normal end), stream: false built from the same stream, and the OpenAI
# dialect on a Gemini account.

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

repeat_each(1);
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', $HTTP) unless defined $block->http_config;
    $block->set_value('config', $Q2api::Gateway::API_ROOT)
        unless defined $block->config;
    $block->set_value('user_files', $::CLI) unless defined $block->user_files;
});

run_tests();

__DATA__

=== TEST 1: thoughts, their signature, the answer and usage, streamed
--- mock eval
gemini_thinking('**Adding**', 'CiQBsig', '4')
--- request
POST /v1/messages
{"model":"gemini-2.5-pro","max_tokens":2000,"stream":true,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"2+2?"}]}
--- error_code: 200
--- response_body_like eval
qr/"content_block":\{"type":"thinking".*"thinking":"\*\*Adding\*\*".*"signature_delta","signature":"CiQBsig".*"content_block_stop".*"content_block":\{"type":"text".*"text":"4".*"stop_reason":"end_turn".*"output_tokens":51.*event: message_stop/s
--- mock_check eval
sub {
    my ($reqs) = @_;
    is($reqs->[-1]{json}{request}{generationConfig}{thinkingConfig}{thinkingBudget},
       1024, 'the budget');
}



=== TEST 2: the same, stream: false, cut at every byte
--- mock eval
gemini_thinking('hmm', 'SIG2', 'four', split => 'byte')
--- request
POST /v1/messages
{"model":"gemini-2.5-pro","max_tokens":2000,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"2+2?"}]}
--- error_code: 200
--- response_body_like chomp
^\{"id":"msg_[0-9a-f]+","type":"message","role":"assistant","model":"gemini-2.5-pro","content":\[\{"type":"thinking","thinking":"hmm","signature":"SIG2"\},\{"type":"text","text":"four"\}\],"stop_reason":"end_turn"



=== TEST 3: a whole call is a tool_use; stop_reason tool_use
--- mock eval
gemini_call('get_weather', { city => 'Paris' })
--- request
POST /v1/messages
{"model":"gemini-2.5-pro","max_tokens":100,"stream":true,"tools":[{"name":"get_weather","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"weather?"}]}
--- error_code: 200
--- response_body_like eval
qr/"text":"Checking\.".*"content_block":\{"type":"tool_use","id":"toolu_[0-9a-f]{32}","name":"get_weather","input":\{\}\}.*"partial_json":"\{\\"city\\":\\"Paris\\"\}".*"stop_reason":"tool_use"/s



=== TEST 4: a rewritten tool name comes back as the client's
--- mock eval
gemini_call('mcp__x__do_it_' . sprintf('%08x', do { require Compress::Zlib; Compress::Zlib::crc32('mcp__x__do it') }), {})
--- request
POST /v1/messages
{"model":"gemini-2.5-pro","max_tokens":100,"tools":[{"name":"mcp__x__do it","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"go"}]}
--- error_code: 200
--- response_body_like chomp
"type":"tool_use","id":"toolu_[0-9a-f]+","name":"mcp__x__do it","input":\{\}



=== TEST 5: LF framing, dripped
--- mock eval
{ drip_ms => 20, events => [ { chunk => { candidates => [ { content => { role => 'model', parts => [ { text => 'one ' } ] } } ] }, lf => 1 },
                            { %{ final_chunk('STOP', undef, { text => 'two' }) }, lf => 1 } ] }
--- request
POST /v1/messages
{"model":"gemini-2.5-pro","max_tokens":100,"messages":[{"role":"user","content":"go"}]}
--- error_code: 200
--- response_body_like chomp
"text":"one two"



=== TEST 6: MAX_TOKENS is max_tokens
--- mock eval
gemini_text('long answer', finish => 'MAX_TOKENS')
--- request
POST /v1/messages
{"model":"gemini-2.5-pro","max_tokens":5,"messages":[{"role":"user","content":"go"}]}
--- error_code: 200
--- response_body_like chomp
"stop_reason":"max_tokens"



=== TEST 7: a safety stop is a refusal
--- mock eval
gemini_text('I', finish => 'SAFETY')
--- request
POST /v1/messages
{"model":"gemini-2.5-pro","max_tokens":100,"messages":[{"role":"user","content":"go"}]}
--- error_code: 200
--- response_body_like chomp
"stop_reason":"refusal"



=== TEST 8: a stream that ends without finishReason, after text went out: an error event, never end_turn
--- mock eval
{ events => [ chunk({ text => 'Half an' }), { sleep_ms => 300 }, chunk({ text => ' ans' }) ] }
--- request
POST /v1/messages
{"model":"gemini-2.5-pro","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"go"}]}
--- error_code: 200
--- response_body_like eval
qr/"text":"Half an".*event: error\ndata: \{"type":"error","error":\{"type":"api_error"/s
--- response_body_unlike
end_turn|message_stop
--- error_log
stream ended



=== TEST 9: the same with stream: false: an HTTP error
--- mock eval
gemini_cut('Half an ans')
--- request
POST /v1/messages
{"model":"gemini-2.5-pro","max_tokens":100,"messages":[{"role":"user","content":"go"}]}
--- error_code_like: ^5\d\d$
--- response_body_like chomp
^\{"type":"error","error":\{"type":"(api|overloaded)_error"



=== TEST 10: an error chunk mid-stream ends the answer as an error
--- mock eval
gemini_stream_error('partial')
--- request
POST /v1/messages
{"model":"gemini-2.5-pro","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"go"}]}
--- error_code: 200
--- response_body_like eval
qr/"text":"partial".*event: error\ndata: \{"type":"error","error":\{"type":"overloaded_error"/s
--- response_body_unlike
never|message_stop



=== TEST 11: the OpenAI dialect on a Gemini account: a call is tool_calls
--- mock eval
gemini_call('get_weather', { city => 'Rome' }, before => 'Let me see.')
--- request
POST /v1/chat/completions
{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"weather?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]}
--- error_code: 200
--- response_body_like chomp
"tool_calls":\[\{"id":"toolu_[0-9a-f]+","type":"function","function":\{"name":"get_weather","arguments":"\{\\"city\\":\\"Rome\\"\}"\}\}\].*"finish_reason":"tool_calls"
