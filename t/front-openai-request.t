# What an OpenAI Chat Completions request becomes at Amazon Q, through the
# canonical request: system and developer text, user parts and data-URL
# images, assistant tool calls and the tool messages answering them with
# their ids, tools, tool_choice, legacy functions, parallel_tool_calls,
# response_format and reasoning_effort asked for in words.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;

repeat_each(1);
no_shuffle();

our $ROOT = $Q2api::Gateway::API_ROOT;

run_tests();

__DATA__

=== TEST 1: system, developer, user parts and an image go up as Amazon Q takes them
--- config eval: $::ROOT
--- request
POST /v1/chat/completions
{"model":"claude-sonnet-4-5","max_tokens":50,"max_completion_tokens":40,"temperature":0.2,"top_p":0.9,"seed":1,"stop":["X"],"user":"u-1","metadata":{"a":"b"},"store":false,"logprobs":false,"n":1,"messages":[{"role":"system","content":"Be brief."},{"role":"developer","content":[{"type":"text","text":"Use metric units."}]},{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"}}]}]}
--- more_headers
Authorization: Bearer sk-anything
--- error_code: 200
--- mock_check eval
sub {
    my ($reqs) = @_;
    is(scalar @$reqs, 1, 'one upstream request');
    my $cs = $reqs->[0]{json}{conversationState};
    is_deeply($cs->{history}, [], 'no history');
    my $m = $cs->{currentMessage}{userInputMessage};
    is($m->{modelId}, 'claude-sonnet-4.5', 'model mapped');
    like($m->{content}, qr/\A--- SYSTEM PROMPT BEGIN ---\nBe brief\.\nUse metric units\.\n--- SYSTEM PROMPT END ---\n\n--- CONTEXT ENTRY BEGIN ---\n.*--- USER MESSAGE BEGIN ---\nWhat is this\?\n--- USER MESSAGE END ---\z/s,
         'system and developer text in the system prompt, the user text');
    is_deeply($m->{images}, [{ format => 'png', source => { bytes => 'iVBORw0KGgo=' } }],
              'the data URL as an image');
}



=== TEST 2: a tool loop: assistant tool_calls and tool messages, ids unchanged
--- config eval: $::ROOT
--- request
POST /v1/chat/completions
{"model":"claude-sonnet-4-5","tools":[{"type":"function","function":{"name":"get_weather","description":"Weather of a city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true}}],"messages":[{"role":"user","content":"Weather in Paris and Rome?"},{"role":"assistant","content":"Checking.","tool_calls":[{"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},{"id":"call_def","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rom\u00e9\"}"}}]},{"role":"tool","tool_call_id":"call_abc","content":"sunny"},{"role":"tool","tool_call_id":"call_def","content":[{"type":"text","text":"rainy"}]}]}
--- error_code: 200
--- mock_check eval
sub {
    my ($reqs) = @_;
    my $cs = $reqs->[0]{json}{conversationState};
    my $h = $cs->{history};
    is(scalar @$h, 2, 'history: user, assistant');
    is($h->[0]{userInputMessage}{content} =~ /Weather in Paris and Rome\?/ ? 1 : 0, 1, 'the question');
    my $a = $h->[1]{assistantResponseMessage};
    is($a->{content}, 'Checking.', 'assistant text');
    is_deeply($a->{toolUses}, [{ toolUseId => 'call_abc', name => 'get_weather', input => { city => 'Paris' } },
                               { toolUseId => 'call_def', name => 'get_weather', input => { city => "Rom\x{e9}" } }],
              'tool calls as tool uses, arguments as input');
    my $ctx = $cs->{currentMessage}{userInputMessage}{userInputMessageContext};
    is_deeply($ctx->{toolResults},
              [{ toolUseId => 'call_abc', content => [{ text => 'sunny' }], status => 'success' },
               { toolUseId => 'call_def', content => [{ text => 'rainy' }], status => 'success' }],
              'tool messages as tool results, ids unchanged');
    is($ctx->{tools}[0]{toolSpecification}{name}, 'get_weather', 'tool name');
    is($ctx->{tools}[0]{toolSpecification}{description}, 'Weather of a city', 'tool description');
    is_deeply($ctx->{tools}[0]{toolSpecification}{inputSchema}{json},
              { type => 'object', properties => { city => { type => 'string' } }, required => ['city'] },
              'parameters as the input schema');
}



=== TEST 3: tool_choice required, a named function and none are asked for in words
--- config eval: $::ROOT
--- request eval
my $t = q{"tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"g"}}],"messages":[{"role":"user","content":"hi"}]};
["POST /v1/chat/completions\n{\"model\":\"claude-sonnet-4-5\",\"tool_choice\":\"required\",$t}",
 "POST /v1/chat/completions\n{\"model\":\"claude-sonnet-4-5\",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"g\"}},$t}",
 "POST /v1/chat/completions\n{\"model\":\"claude-sonnet-4-5\",\"tool_choice\":\"none\",$t}",
 "POST /v1/chat/completions\n{\"model\":\"claude-sonnet-4-5\",\"tool_choice\":\"auto\",\"parallel_tool_calls\":false,$t}"]
--- error_code eval
[200, 200, 200, 200]
--- mock_check eval
my @want = ([qr/USER MESSAGE END ---\n\nYou must answer by calling one of the available tools\.\z/, 'required'],
            [qr/USER MESSAGE END ---\n\nYou must answer by calling the tool "g"\.\z/, 'a named function'],
            [qr/USER MESSAGE END ---\n\nAnswer without calling any tool\.\z/, 'none'],
            [qr/USER MESSAGE END ---\n\nCall at most one tool in this answer\.\z/, 'parallel_tool_calls false']);
my $i = 0;
sub {
    my ($reqs) = @_;
    my ($re, $name) = @{ $want[$i++] };
    like($reqs->[0]{json}{conversationState}{currentMessage}{userInputMessage}{content}, $re, $name);
}



=== TEST 4: legacy functions and function_call, with the function message answering
--- config eval: $::ROOT
--- request
POST /v1/chat/completions
{"model":"claude-sonnet-4-5","functions":[{"name":"lookup","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}],"function_call":{"name":"lookup"},"messages":[{"role":"user","content":"find x"},{"role":"assistant","content":null,"function_call":{"name":"lookup","arguments":"{\"q\":\"x\"}"}},{"role":"function","name":"lookup","content":"found"}]}
--- error_code: 200
--- mock_check eval
sub {
    my ($reqs) = @_;
    my $cs = $reqs->[0]{json}{conversationState};
    my $use = $cs->{history}[1]{assistantResponseMessage}{toolUses}[0];
    is($use->{name}, 'lookup', 'function_call as a tool use');
    is_deeply($use->{input}, { q => 'x' }, 'its arguments');
    my $m = $cs->{currentMessage}{userInputMessage};
    is($m->{userInputMessageContext}{toolResults}[0]{toolUseId}, $use->{toolUseId},
       'the function message answers that call');
    like($m->{content}, qr/You must answer by calling the tool "lookup"\.\n\nCall at most one tool in this answer\.\z/,
         'the named function, and one call, in words');
}



=== TEST 5: response_format is asked for in words
--- config eval: $::ROOT
--- request eval
my $m = q{"messages":[{"role":"user","content":"a person"}]};
["POST /v1/chat/completions\n{\"model\":\"claude-sonnet-4-5\",\"response_format\":{\"type\":\"json_object\"},$m}",
 "POST /v1/chat/completions\n{\"model\":\"claude-sonnet-4-5\",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"person\",\"strict\":true,\"schema\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}}}}},$m}",
 "POST /v1/chat/completions\n{\"model\":\"claude-sonnet-4-5\",\"response_format\":{\"type\":\"text\"},$m}"]
--- error_code eval
[200, 200, 200]
--- mock_check eval
my @want = ([qr/USER MESSAGE END ---\n\nAnswer with one valid JSON object and nothing else: no prose, no code fences\.\z/, 'json_object'],
            [qr/USER MESSAGE END ---\n\nAnswer with one valid JSON value that matches the JSON Schema "person" below, and nothing else: no prose, no code fences\.\n\{"type":"object","properties":\{"name":\{"type":"string"\}\}\}\z/, 'json_schema with its schema'],
            [qr/USER MESSAGE END ---\z/, 'text: nothing asked']);
my $i = 0;
sub {
    my ($reqs) = @_;
    my ($re, $name) = @{ $want[$i++] };
    like($reqs->[0]{json}{conversationState}{currentMessage}{userInputMessage}{content}, $re, $name);
}



=== TEST 6: reasoning_effort turns thinking on with a budget
--- config eval: $::ROOT
--- request eval
my $m = q{"messages":[{"role":"user","content":"think"}]};
["POST /v1/chat/completions\n{\"model\":\"claude-sonnet-4-5\",\"reasoning_effort\":\"low\",$m}",
 "POST /v1/chat/completions\n{\"model\":\"claude-sonnet-4-5\",\"reasoning\":{\"effort\":\"high\"},$m}",
 "POST /v1/chat/completions\n{\"model\":\"claude-sonnet-4-5\",\"reasoning_effort\":\"none\",$m}"]
--- error_code eval
[200, 200, 200]
--- mock_check eval
my @want = ([qr/<max_thinking_length>4096<\/max_thinking_length>\z/, 'low: 4096'],
            [qr/<max_thinking_length>24576<\/max_thinking_length>\z/, 'high: 24576'],
            [qr/USER MESSAGE END ---\z/, 'none: no thinking']);
my $i = 0;
sub {
    my ($reqs) = @_;
    my ($re, $name) = @{ $want[$i++] };
    like($reqs->[0]{json}{conversationState}{currentMessage}{userInputMessage}{content}, $re, $name);
}



=== TEST 7: the same front end over a Kiro account: its endpoint, a tool round trip
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
POST /v1/chat/completions
{"model":"claude-sonnet-4-5","tools":[{"type":"function","function":{"name":"get_weather"}}],"messages":[{"role":"user","content":"Oslo?"},{"role":"assistant","tool_calls":[{"id":"call_prev","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},{"role":"tool","tool_call_id":"call_prev","content":"rainy"}]}
--- error_code: 200
--- response_body_like chomp
"tool_calls":\[\{"id":"tooluse_k1","type":"function","function":\{"name":"get_weather","arguments":"\{\\"city\\": \\"Oslo\\"\}"\}\}\]\},"logprobs":null,"finish_reason":"tool_calls"
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
