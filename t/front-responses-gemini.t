# /v1/responses on a Gemini (Code Assist) account, through the canonical
# model: thoughts as a reasoning item whose encrypted_content is Gemini's
# thought signature (and goes back on the next turn), function and custom
# tool calls from Gemini's whole functionCall parts, a safety stop as
# response.incomplete with content_filter.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test service => 'Q2api::Mock::CodeAssist';
use Q2api::Gateway;
use Q2api::Responses qw(replay strip_ids);

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

# --- output_is eval: the items the stream replays to, ids blanked
add_response_body_check(sub {
    my ($block, $body, $i) = @_;
    my $want = $block->output_is or return;
    my $r = eval { replay($body) } or return fail($block->name . " - $@");
    is_deeply(strip_ids($r->{output}), $want, $block->name . ' - the output items');
});

run_tests();

__DATA__

=== TEST 1: thoughts and their signature are a reasoning item with encrypted_content
--- mock eval
gemini_thinking('**Adding**', 'CiQBsig', '4')
--- request
POST /v1/responses
{"model":"gemini-2.5-pro","stream":true,"reasoning":{"effort":"low","summary":"auto"},"include":["reasoning.encrypted_content"],"input":"2+2?"}
--- error_code: 200
--- output_is eval
[ { id => 'x', type => 'reasoning', summary => [{ type => 'summary_text', text => '**Adding**' }], encrypted_content => 'CiQBsig' },
  { id => 'x', type => 'message', status => 'completed', role => 'assistant',
    content => [{ type => 'output_text', text => '4', annotations => [] }] } ]
--- mock_check eval
sub {
    my ($reqs) = @_;
    is($reqs->[-1]{json}{request}{generationConfig}{thinkingConfig}{thinkingBudget},
       4096, 'effort low: the budget');
}



=== TEST 2: the reasoning item sent back carries the signature to Gemini
--- mock eval
gemini_text('Yes.')
--- request
POST /v1/responses
{"model":"gemini-2.5-pro","reasoning":{"effort":"low"},"input":[{"role":"user","content":"2+2?"},{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"**Adding**"}],"content":null,"encrypted_content":"CiQBsig"},{"type":"message","role":"assistant","content":[{"type":"output_text","text":"4"}]},{"role":"user","content":"Sure?"}]}
--- error_code: 200
--- response_body_like chomp
"output_text","text":"Yes\.","annotations":\[\]
--- mock_check eval
sub {
    my ($reqs) = @_;
    my $contents = $reqs->[-1]{json}{request}{contents};
    my ($model) = grep { $_->{role} eq 'model' } @$contents;
    ok((grep { ($_->{thoughtSignature} // '') eq 'CiQBsig' } @{ $model->{parts} }),
       'the thought signature is back in the model turn') or diag(explain($model));
}



=== TEST 3: Gemini's whole calls are a function_call and an unwrapped custom_tool_call
--- mock eval
[ gemini_call('get_weather', { city => 'Paris' }),
  gemini_call('apply_patch', { input => "*** Begin Patch\n*** End Patch\n" }, before => 'Patching.') ]
--- request eval
["POST /v1/responses\n{\"model\":\"gemini-2.5-pro\",\"stream\":true,\"tools\":[{\"type\":\"function\",\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}],\"input\":\"weather?\"}",
 "POST /v1/responses\n{\"model\":\"gemini-2.5-pro\",\"stream\":true,\"tools\":[{\"type\":\"custom\",\"name\":\"apply_patch\"}],\"input\":\"patch\"}"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/"type":"function_call","status":"completed","call_id":"[^"]+","name":"get_weather","arguments":"\{\\"city\\":\\"Paris\\"\}"/,
 qr/"type":"custom_tool_call","status":"completed","call_id":"[^"]+","name":"apply_patch","input":"\*\*\* Begin Patch\\n\*\*\* End Patch\\n"/]
--- mock_check eval
sub {
    my ($reqs) = @_;
    ok(scalar @{ $reqs->[-1]{json}{request}{tools} || [] }, 'the tools reach Gemini');
}



=== TEST 4: a safety stop ends the reply as response.incomplete, content_filter
--- mock eval
gemini_text('I cannot', finish => 'SAFETY')
--- request
POST /v1/responses
{"model":"gemini-2.5-pro","stream":true,"input":"something bad"}
--- error_code: 200
--- response_body_like chomp
"type":"response.incomplete".*"status":"incomplete".*"incomplete_details":\{"reason":"content_filter"\}
