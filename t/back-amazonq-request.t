# What goes to Amazon Q: the request line and headers, and the conversion
# of whole Claude conversations (system prompts, history, tool loops, tool
# names and descriptions, tool_choice, images) into conversationState.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;
use Q2api::SSE;

repeat_each(1);
no_shuffle();

our $ROOT = $Q2api::Gateway::API_ROOT;

run_tests();

__DATA__

=== TEST 1: the Amazon Q request: method, target, account token, body
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



=== TEST 2: system as blocks and role:system messages all reach the system prompt
--- config eval: $::ROOT
--- request
POST /v1/messages?beta=true
{"model":"claude-sonnet-4-5","max_tokens":10,"system":[{"type":"text","text":"x-anthropic-billing-header: cc_version=2.1"},{"type":"text","text":"You are an agent.","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":[{"type":"text","text":"<system-reminder>r</system-reminder>"},{"type":"text","text":"hello","cache_control":{"type":"ephemeral"}}]},{"role":"system","content":[{"type":"text","text":"# Environment\nLinux"}]}],"temperature":1,"top_p":0.9,"top_k":5,"stop_sequences":["STOP"],"metadata":{"user_id":"{\"session_id\":\"x\"}"},"context_management":{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]},"output_config":{"effort":"medium"},"cache_control":{"type":"ephemeral"}}
--- error_code: 200
--- mock_check eval
sub {
    my ($reqs) = @_;
    my $m = $reqs->[0]{json}{conversationState}{currentMessage}{userInputMessage};
    like($m->{content}, qr/\A--- SYSTEM PROMPT BEGIN ---\nx-anthropic-billing-header: cc_version=2\.1\nYou are an agent\.\n# Environment\nLinux\n--- SYSTEM PROMPT END ---\n\n--- CONTEXT ENTRY BEGIN ---\n/, 'all system text, in order');
    like($m->{content}, qr/--- USER MESSAGE BEGIN ---\n<system-reminder>r<\/system-reminder>\nhello\n--- USER MESSAGE END ---\z/, 'user blocks joined');
}



=== TEST 3: a Claude Code tool loop converts with history, tool results and the system prompt
--- config eval: $::ROOT
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"system":"SYS","tools":[{"name":"Bash","description":"d","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"hi"},{"role":"user","content":"list files"},{"role":"assistant","content":[{"type":"text","text":"ok"},{"type":"tool_use","id":"t1","name":"Bash","input":{"c":"ls"}},{"type":"tool_use","id":"t2","name":"Bash","input":{"c":"pwd"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"a b","cache_control":{"type":"ephemeral"}},{"type":"tool_result","tool_use_id":"t2","is_error":true,"content":[{"type":"text","text":"boom"},{"type":"text","text":"again"}]}]},{"role":"user","content":"and now?"}]}
--- error_code: 200
--- mock_check eval
sub {
    my ($reqs) = @_;
    my $cs = $reqs->[0]{json}{conversationState};
    my $h = $cs->{history};
    is(scalar @$h, 2, 'history: merged user turn, assistant turn');
    is($h->[0]{userInputMessage}{content}, "hi\nlist files", 'consecutive user turns merged');
    my $a = $h->[1]{assistantResponseMessage};
    is($a->{content}, 'ok', 'assistant text');
    is_deeply($a->{toolUses}, [{toolUseId => 't1', name => 'Bash', input => {c => 'ls'}},
                               {toolUseId => 't2', name => 'Bash', input => {c => 'pwd'}}],
              'tool uses with object input');
    my $m = $cs->{currentMessage}{userInputMessage};
    is_deeply($m->{userInputMessageContext}{toolResults},
              [{toolUseId => 't1', content => [{text => 'a b'}], status => 'success'},
               {toolUseId => 't2', content => [{text => "boom\nagain"}], status => 'error'}],
              'tool results with is_error and nested text');
    like($m->{content}, qr/\A--- SYSTEM PROMPT BEGIN ---\nSYS\n--- SYSTEM PROMPT END ---\n\n.*--- USER MESSAGE BEGIN ---\nand now\?\n--- USER MESSAGE END ---\z/s,
         'system prompt kept on the tool-result turn, text next to results kept');
    is($m->{userInputMessageContext}{tools}[0]{toolSpecification}{name}, 'Bash', 'tools');
    is_deeply($m->{userInputMessageContext}{tools}[0]{toolSpecification}{inputSchema},
              {json => {type => 'object'}}, 'input schema as JSON');
}



=== TEST 4: a tool-result-only turn still carries the system prompt
--- config eval: $::ROOT
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"system":"SYS","messages":[{"role":"user","content":"go"},{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"Bash","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"out"}]}]}
--- error_code: 200
--- mock_check eval
sub {
    my ($reqs) = @_;
    my $cs = $reqs->[0]{json}{conversationState};
    is($cs->{currentMessage}{userInputMessage}{content},
       "--- SYSTEM PROMPT BEGIN ---\nSYS\n--- SYSTEM PROMPT END ---",
       'content is the system prompt alone');
    is($cs->{history}[1]{assistantResponseMessage}{content}, '', 'tool-only assistant turn');
}



=== TEST 5: a conversation opening with the assistant, and a final assistant prefill
--- config eval: $::ROOT
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"assistant","content":"Hello!"},{"role":"user","content":"hi"},{"role":"assistant","content":"Sure, "}]}
--- error_code: 200
--- mock_check eval
sub {
    my ($reqs) = @_;
    my $cs = $reqs->[0]{json}{conversationState};
    my @roles = map { (keys %$_)[0] } @{ $cs->{history} };
    is_deeply(\@roles, [qw(userInputMessage assistantResponseMessage userInputMessage assistantResponseMessage)],
              'history alternates and opens with the user');
    like($cs->{currentMessage}{userInputMessage}{content}, qr/USER MESSAGE BEGIN ---\nContinue\n/, 'asked to continue');
}



=== TEST 6: tool names Amazon Q refuses are rewritten, and mapped back in replies
--- config eval: $::ROOT
--- mock eval
use Compress::Zlib ();
tool_response(id => 'tooluse_1', name => sprintf('mcp__git_hub__create_issue_%08x', Compress::Zlib::crc32('mcp__git-hub__create-issue')), fragments => ['{"title": "x"}'])
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"tools":[{"name":"mcp__git-hub__create-issue","description":"","input_schema":{"type":"object"}},{"name":"9lives","description":"x","input_schema":{"type":"object"}},{"name":"web_search","type":"web_search_20250305","max_uses":3}],"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like chomp
"content_block":\{"type":"tool_use","id":"tooluse_1","name":"mcp__git-hub__create-issue","input":\{\}\}
--- mock_check eval
sub {
    my ($reqs) = @_;
    my $t = $reqs->[0]{json}{conversationState}{currentMessage}{userInputMessage}{userInputMessageContext}{tools};
    is(scalar @$t, 2, 'the server tool is not sent');
    like($t->[0]{toolSpecification}{name}, qr/^mcp__git_hub__create_issue_[0-9a-f]{8}$/, 'dashes replaced, hash appended');
    is($t->[0]{toolSpecification}{description}, 'mcp__git-hub__create-issue', 'empty description filled');
    like($t->[1]{toolSpecification}{name}, qr/^t_9lives_[0-9a-f]{8}$/, 'a leading digit gets a prefix');
}
--- sse_valid



=== TEST 7: a long tool description goes to the tool documentation
--- config eval: $::ROOT
--- request eval
my $d = "Use this tool well. " x 600;
qq{POST /v1/messages\n{"model":"claude-sonnet-4-5","max_tokens":10,"tools":[{"name":"Big","description":"$d","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"hi"}]}}
--- error_code: 200
--- mock_check eval
sub {
    my ($reqs) = @_;
    my $m = $reqs->[0]{json}{conversationState}{currentMessage}{userInputMessage};
    my $desc = $m->{userInputMessageContext}{tools}[0]{toolSpecification}{description};
    cmp_ok(length $desc, '<=', 10240, 'description within the limit');
    like($desc, qr/ \.\.\. \(the full description is in the tool documentation above\)$/, 'cut with a note');
    like($m->{content}, qr/\A--- TOOL DOCUMENTATION BEGIN ---\nTool: Big\nFull Description:\n(Use this tool well\. ){600}\n--- TOOL DOCUMENTATION END ---\n\n--- CONTEXT ENTRY BEGIN ---/, 'full text in the documentation section');
}



=== TEST 8: tool_choice any is asked for in words
--- config eval: $::ROOT
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"tools":[{"name":"Bash","input_schema":{"type":"object"}}],"tool_choice":{"type":"any"},"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- mock_request_like
USER MESSAGE END ---\\n\\nYou must answer by calling one of the available tools\."



=== TEST 9: tool_choice tool is asked for in words
--- config eval: $::ROOT
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"tools":[{"name":"Bash","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"Bash"},"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- mock_request_like
USER MESSAGE END ---\\n\\nYou must answer by calling the tool \\"Bash\\"\."



=== TEST 10: tool_choice none is asked for in words
--- config eval: $::ROOT
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"tools":[{"name":"Bash","input_schema":{"type":"object"}}],"tool_choice":{"type":"none"},"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- mock_request_like
USER MESSAGE END ---\\n\\nAnswer without calling any tool\."



=== TEST 11: tool_choice auto adds nothing; a bad type is a 400
--- config eval: $::ROOT
--- request eval
[ map { qq{POST /v1/messages\n{"model":"claude-sonnet-4-5","max_tokens":10,"tools":[{"name":"Bash","input_schema":{"type":"object"}}],"tool_choice":$_,"messages":[{"role":"user","content":"hi"}]}} }
  '{"type":"auto","disable_parallel_tool_use":true}', '{"type":"bogus"}' ]
--- error_code eval
[200, 400]
--- response_body_like eval
[qr/"type":"message"/, qr/"message":"tool_choice\.type: expected/]
--- mock_requests eval
[1, 0]



=== TEST 12: base64 images become Amazon Q images; URLs and other types are refused
--- config eval: $::ROOT
--- request eval
my $img = sub { qq{{"type":"image","source":$_[0]}} };
[ map { qq{POST /v1/messages\n{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":[$_,{"type":"text","text":"what is this?"}]}]}} }
  $img->('{"type":"base64","media_type":"image/jpg","data":"/9j/4AAQ"}'),
  $img->('{"type":"url","url":"https://example.com/a.png"}'),
  $img->('{"type":"base64","media_type":"image/bmp","data":"Qk0="}') ]
--- error_code eval
[200, 400, 400]
--- response_body_like eval
[ qr/"type":"message"/,
  qr/"message":"messages\.0\.content\.0\.source\.type: \\"url\\" image sources are not supported; send the image as base64"/,
  qr/"message":"messages\.0\.content\.0\.source\.media_type: \\"image\/bmp\\" is not supported/ ]
--- mock_requests eval
[1, 0, 0]
--- mock_check eval
sub {
    my ($reqs) = @_;
    return unless @$reqs;
    is_deeply($reqs->[0]{json}{conversationState}{currentMessage}{userInputMessage}{images},
              [{format => 'jpeg', source => {bytes => '/9j/4AAQ'}}], 'image block');
}
