# What an OpenAI Responses request becomes at Amazon Q (and Kiro), through
# the canonical request: input as a string or as items (messages with
# input_text, input_image and output_text parts, function_call and
# function_call_output, custom_tool_call and its output, reasoning), the
# instructions and developer messages as the system prompt, function and
# custom tools (namespaces flattened, hosted tools dropped), tool_choice,
# parallel_tool_calls, reasoning, text.format and max_output_tokens.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;

repeat_each(1);
no_shuffle();

our $ROOT = $Q2api::Gateway::API_ROOT;

run_tests();

__DATA__

=== TEST 1: input as a string, instructions first in the system prompt
--- config eval: $::ROOT
--- request
POST /v1/responses
{"model":"claude-sonnet-4-5","instructions":"Be brief.","input":"What is 2+2?","store":false,"metadata":{"k":"v"},"temperature":0.5,"top_p":0.9,"prompt_cache_key":"sess-1","client_metadata":{"x":"y"},"service_tier":"auto","stream":false}
--- more_headers
Authorization: Bearer sk-anything
--- error_code: 200
--- mock_check eval
sub {
    my ($reqs) = @_;
    is(scalar @$reqs, 1, 'one upstream request');
    my $cs = $reqs->[0]{json}{conversationState};
    is_deeply($cs->{history}, [], 'no history');
    like($cs->{currentMessage}{userInputMessage}{content},
         qr/\A--- SYSTEM PROMPT BEGIN ---\nBe brief\.\n--- SYSTEM PROMPT END ---\n\n.*--- USER MESSAGE BEGIN ---\nWhat is 2\+2\?\n--- USER MESSAGE END ---\z/s,
         'instructions as the system prompt, the string as the user message');
}



=== TEST 2: messages of every role, text and image parts, output_text in history
--- config eval: $::ROOT
--- request
POST /v1/responses
{"model":"claude-sonnet-4-5","instructions":"Be brief.","input":[{"type":"message","role":"developer","content":[{"type":"input_text","text":"Use metric units."}]},{"role":"system","content":"Answer in English."},{"role":"user","content":"Hi"},{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hello.","annotations":[]},{"type":"refusal","refusal":"Not that."}]},{"role":"user","content":[{"type":"input_text","text":"What is this?"},{"type":"input_image","image_url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"}]}]}
--- error_code: 200
--- mock_check eval
sub {
    my ($reqs) = @_;
    my $cs = $reqs->[0]{json}{conversationState};
    my $h = $cs->{history};
    is(scalar @$h, 2, 'history: user, assistant');
    is($h->[0]{userInputMessage}{content}, 'Hi', 'the first user message');
    like($cs->{currentMessage}{userInputMessage}{content},
         qr/\A--- SYSTEM PROMPT BEGIN ---\nBe brief\.\nUse metric units\.\nAnswer in English\.\n--- SYSTEM PROMPT END ---/,
         'instructions, then developer and system text, in order');
    is($h->[1]{assistantResponseMessage}{content}, "Hello.\nNot that.", 'output_text and refusal in history');
    my $m = $cs->{currentMessage}{userInputMessage};
    like($m->{content}, qr/--- USER MESSAGE BEGIN ---\nWhat is this\?\n--- USER MESSAGE END ---\z/, 'the user text');
    is_deeply($m->{images}, [{ format => 'png', source => { bytes => 'iVBORw0KGgo=' } }], 'the data URL as an image');
}



=== TEST 3: a Codex turn: reasoning, function and custom calls with their outputs, ids unchanged
--- config eval: $::ROOT
--- request
POST /v1/responses
{"model":"claude-sonnet-4-5","stream":true,"store":false,"include":["reasoning.encrypted_content"],"tool_choice":"auto","parallel_tool_calls":true,"tools":[{"type":"function","name":"exec_command","description":"Runs a command","strict":false,"parameters":{"type":"object","properties":{"cmd":{"type":"string"}},"required":["cmd"]}},{"type":"custom","name":"apply_patch","description":"Edit files.","format":{"type":"grammar","syntax":"lark","definition":"start: begin_patch hunk+ end_patch"}},{"type":"namespace","name":"multi_agent_v1","description":"agents","tools":[{"type":"function","name":"spawn_agent","parameters":{"type":"object","properties":{}}}]},{"type":"web_search","external_web_access":false},{"type":"tool_search","execution":"client"}],"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"run the tool test"}]},{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"Planning the command."}],"content":null,"encrypted_content":"SIG-abc"},{"type":"function_call","id":"fc_1","status":"completed","name":"exec_command","arguments":"{\"cmd\":\"echo TOOL_TEST_OK\"}","call_id":"call_c1"},{"type":"custom_tool_call","id":"ctc_1","status":"completed","call_id":"call_p1","name":"apply_patch","input":"*** Begin Patch\n*** Add File: a.txt\n+\"hi\"\n*** End Patch"},{"type":"web_search_call","id":"ws_1","status":"completed"},{"type":"item_reference","id":"msg_x"},{"type":"function_call_output","id":"fco_1","call_id":"call_c1","output":"Process exited with code 0\nOutput:\nTOOL_TEST_OK\n"},{"type":"custom_tool_call_output","call_id":"call_p1","output":[{"type":"input_text","text":"Success."}]}]}
--- error_code: 200
--- mock_check eval
sub {
    my ($reqs) = @_;
    my $cs = $reqs->[0]{json}{conversationState};
    my $h = $cs->{history};
    is(scalar @$h, 2, 'history: user, assistant');
    my $a = $h->[1]{assistantResponseMessage};
    is($a->{content}, '<thinking>Planning the command.</thinking>', 'the reasoning summary as thinking');
    is_deeply($a->{toolUses}, [{ toolUseId => 'call_c1', name => 'exec_command', input => { cmd => 'echo TOOL_TEST_OK' } },
                               { toolUseId => 'call_p1', name => 'apply_patch',
                                 input => { input => qq{*** Begin Patch\n*** Add File: a.txt\n+"hi"\n*** End Patch} } }],
              'the function call, and the custom call as its one-string wrapper');
    my $ctx = $cs->{currentMessage}{userInputMessage}{userInputMessageContext};
    is_deeply($ctx->{toolResults},
              [{ toolUseId => 'call_c1', content => [{ text => "Process exited with code 0\nOutput:\nTOOL_TEST_OK\n" }], status => 'success' },
               { toolUseId => 'call_p1', content => [{ text => 'Success.' }], status => 'success' }],
              'both outputs as tool results');
    my @names = map { $_->{toolSpecification}{name} } @{ $ctx->{tools} };
    is_deeply(\@names, ['exec_command', 'apply_patch', 'spawn_agent'],
              'functions, the custom tool, the namespace flattened; hosted tools dropped');
    my $patch = $ctx->{tools}[1]{toolSpecification};
    like($patch->{description}, qr/\AEdit files\.\nThis tool takes free text, not JSON: put the whole text in "input"\.\nThe text must follow this grammar:\nstart: begin_patch hunk\+ end_patch\z/,
         'the custom tool: its description, the note and the grammar');
    is_deeply($patch->{inputSchema}{json}{required}, ['input'], 'one required string');
}



=== TEST 4: tool_choice forms and parallel_tool_calls false are asked for in words
--- config eval: $::ROOT
--- request eval
my $t = q{"tools":[{"type":"function","name":"f"},{"type":"custom","name":"g"}],"input":"hi"};
["POST /v1/responses\n{\"model\":\"claude-sonnet-4-5\",\"tool_choice\":\"required\",$t}",
 "POST /v1/responses\n{\"model\":\"claude-sonnet-4-5\",\"tool_choice\":{\"type\":\"custom\",\"name\":\"g\"},$t}",
 "POST /v1/responses\n{\"model\":\"claude-sonnet-4-5\",\"tool_choice\":\"none\",$t}",
 "POST /v1/responses\n{\"model\":\"claude-sonnet-4-5\",\"tool_choice\":{\"type\":\"allowed_tools\",\"mode\":\"required\",\"tools\":[]},$t}",
 "POST /v1/responses\n{\"model\":\"claude-sonnet-4-5\",\"parallel_tool_calls\":false,$t}"]
--- error_code eval
[200, 200, 200, 200, 200]
--- mock_check eval
my @want = ([qr/USER MESSAGE END ---\n\nYou must answer by calling one of the available tools\.\z/, 'required'],
            [qr/USER MESSAGE END ---\n\nYou must answer by calling the tool "g"\.\z/, 'a named custom tool'],
            [qr/USER MESSAGE END ---\n\nAnswer without calling any tool\.\z/, 'none'],
            [qr/USER MESSAGE END ---\n\nYou must answer by calling one of the available tools\.\z/, 'allowed_tools required'],
            [qr/USER MESSAGE END ---\n\nCall at most one tool in this answer\.\z/, 'parallel_tool_calls false']);
my $i = 0;
sub {
    my ($reqs) = @_;
    my ($re, $name) = @{ $want[$i++] };
    like($reqs->[0]{json}{conversationState}{currentMessage}{userInputMessage}{content}, $re, $name);
}



=== TEST 5: reasoning effort and summary turn thinking on; text.format in words
--- config eval: $::ROOT
--- request eval
my $m = q{"input":"think"};
["POST /v1/responses\n{\"model\":\"claude-sonnet-4-5\",\"reasoning\":{\"effort\":\"low\"},$m}",
 "POST /v1/responses\n{\"model\":\"claude-sonnet-4-5\",\"reasoning\":{\"summary\":\"auto\"},$m}",
 "POST /v1/responses\n{\"model\":\"claude-sonnet-4-5\",\"reasoning\":{\"effort\":\"none\",\"summary\":\"auto\"},$m}",
 "POST /v1/responses\n{\"model\":\"claude-sonnet-4-5\",\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"person\",\"strict\":true,\"schema\":{\"type\":\"object\"}},\"verbosity\":\"low\"},$m}",
 "POST /v1/responses\n{\"model\":\"claude-sonnet-4-5\",\"text\":{\"format\":{\"type\":\"json_object\"}},$m}"]
--- error_code eval
[200, 200, 200, 200, 200]
--- mock_check eval
my @want = ([qr/<max_thinking_length>4096<\/max_thinking_length>\z/, 'effort low: 4096'],
            [qr/<max_thinking_length>16000<\/max_thinking_length>\z/, 'a summary alone: medium'],
            [qr/USER MESSAGE END ---\z/, 'effort none: no thinking'],
            [qr/USER MESSAGE END ---\n\nAnswer with one valid JSON value that matches the JSON Schema "person" below, and nothing else: no prose, no code fences\.\n\{"type":"object"\}\z/, 'json_schema'],
            [qr/USER MESSAGE END ---\n\nAnswer with one valid JSON object and nothing else: no prose, no code fences\.\z/, 'json_object']);
my $i = 0;
sub {
    my ($reqs) = @_;
    my ($re, $name) = @{ $want[$i++] };
    like($reqs->[0]{json}{conversationState}{currentMessage}{userInputMessage}{content}, $re, $name);
}



=== TEST 6: the same front end over a Kiro account: its endpoint, a tool round trip
--- config eval: $::ROOT
--- http_config
    q2api_zone q2api 4m;
    q2api_store file html/accounts.json;
    q2api_kiro_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT/generateAssistantResponse;
--- user_files
>>> accounts.json
[{"id": "k1", "type": "kiro", "accessToken": "tok-k", "enabled": 1}]
--- mock eval
tool_response(id => 'tooluse_k1', name => 'get_weather', fragments => ['{"city":', ' "Oslo"}'])
--- request
POST /v1/responses
{"model":"claude-sonnet-4-5","tools":[{"type":"function","name":"get_weather"}],"input":[{"role":"user","content":"Oslo?"},{"type":"function_call","call_id":"call_prev","name":"get_weather","arguments":"{\"city\":\"Rome\"}"},{"type":"function_call_output","call_id":"call_prev","output":"rainy"}]}
--- error_code: 200
--- response_body_like chomp
\{"id":"fc_[0-9a-f]{24}_0","type":"function_call","status":"completed","call_id":"tooluse_k1","name":"get_weather","arguments":"\{\\"city\\": \\"Oslo\\"\}"\}
--- mock_check eval
sub {
    my ($reqs) = @_;
    is($reqs->[0]{path}, '/generateAssistantResponse', "Kiro's endpoint");
    is($reqs->[0]{headers}{authorization}, 'Bearer tok-k', "the Kiro account's token");
    my $cs = $reqs->[0]{json}{conversationState};
    is($cs->{history}[1]{assistantResponseMessage}{toolUses}[0]{toolUseId}, 'call_prev', 'the earlier call');
    is($cs->{currentMessage}{userInputMessage}{userInputMessageContext}{toolResults}[0]{toolUseId}, 'call_prev',
       'its result');
}
