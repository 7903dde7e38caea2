# The Claude Messages API as clients use it: endpoints, keys, models,
# conversion of whole conversations with tools, images and thinking, and
# the response details Claude Code depends on.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;
use Q2api::SSE;
use Q2api::Message;

repeat_each(1);
no_shuffle();

our $KEYED = <<'_EOC_';
    location /v1/ {
        q2api_api_key sk-test-0123456789 sk-other-0123456789;
        q2api_pass claude;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
_EOC_

our $ROOT = <<'_EOC_';
    location /v1/ {
        q2api_pass claude;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
_EOC_

# the input_tokens that count_tokens (request 0) and message_start
# (request 1) report must agree
my %count;
add_response_body_check(sub {
    my ($block, $body, $i) = @_;
    return unless defined $block->same_input_tokens;
    if ($i == 0) {
        ($count{$block->name}) = $body =~ /^\{"input_tokens":(\d+)\}$/;
        return;
    }
    my ($start) = $body =~ /"input_tokens":(\d+)/;
    ok(defined $count{$block->name} && $count{$block->name} > 0,
       $block->name . " - count_tokens answered");
    is($start, $count{$block->name},
       $block->name . " - message_start agrees with count_tokens");
});

run_tests();

__DATA__

=== TEST 1: count_tokens is answered locally and agrees with message_start
--- config eval: $::ROOT
--- request eval
my $b = q{{"model":"claude-sonnet-4-5","max_tokens":64,"system":"You are terse.","tools":[{"name":"Bash","description":"Run a command","input_schema":{"type":"object","properties":{"command":{"type":"string"}}}}],"messages":[{"role":"user","content":"How many files are in /tmp? Use the tool."}]}};
my $s = $b; $s =~ s/^\{/{"stream":true,/;
["POST /v1/messages/count_tokens?beta=true\n$b", "POST /v1/messages?beta=true\n$s"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/^\{"input_tokens":\d+\}$/, qr/message_stop/]
--- mock_requests eval
[0, 1]
--- same_input_tokens



=== TEST 2: count_tokens validates like messages
--- config eval: $::ROOT
--- request
POST /v1/messages/count_tokens
{"messages":[{"role":"user","content":"hi"}]}
--- error_code: 400
--- response_body_like chomp
"message":"model: field required"
--- mock_requests: 0



=== TEST 3: GET /v1/models in Anthropic's shape
--- config eval: $::ROOT
--- request
GET /v1/models
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body_like chomp
^\{"data":\[\{"type":"model","id":"claude-opus-4-6","display_name":"Claude Opus 4\.6","created_at":"2026-02-05T00:00:00Z"\},.*\{"type":"model","id":"claude-sonnet-4-5",.*\],"has_more":false,"first_id":"claude-opus-4-6","last_id":"claude-sonnet-4"\}$



=== TEST 4: models pagination: limit and after_id
--- config eval: $::ROOT
--- request eval
["GET /v1/models?limit=2", "GET /v1/models?limit=2&after_id=claude-sonnet-4-6", "GET /v1/models?limit=0"]
--- error_code eval
[200, 200, 400]
--- response_body_like eval
[qr/^\{"data":\[\{[^\]]*"id":"claude-opus-4-6"[^\]]*"id":"claude-sonnet-4-6"[^\]]*\],"has_more":true,"first_id":"claude-opus-4-6","last_id":"claude-sonnet-4-6"\}$/,
 qr/"first_id":"claude-opus-4-5","last_id":"claude-haiku-4-5"/,
 qr/"type":"invalid_request_error","message":"limit: expected an integer from 1 to 1000"/]



=== TEST 4b: paging backwards stops at the start; an unknown cursor is an error
--- config eval: $::ROOT
--- request eval
["GET /v1/models?limit=2&before_id=claude-opus-4-5", "GET /v1/models?limit=2&before_id=claude-opus-4-6", "GET /v1/models?after_id=bogus"]
--- error_code eval
[200, 200, 400]
--- response_body_like eval
[qr/"has_more":false,"first_id":"claude-opus-4-6","last_id":"claude-sonnet-4-6"/,
 qr/^\{"data":\[\],"has_more":false,"first_id":null,"last_id":null\}$/,
 qr/"message":"after_id: no such model"/]



=== TEST 5: GET /v1/models/{id}, by any of its names; unknown is a 404
--- config eval: $::ROOT
--- request eval
["GET /v1/models/claude-sonnet-4-5", "GET /v1/models/claude-sonnet-4.5", "GET /v1/models/claude-nope-9"]
--- error_code eval
[200, 200, 404]
--- response_body_like eval
[qr/^\{"type":"model","id":"claude-sonnet-4-5","display_name":"Claude Sonnet 4\.5","created_at":"2025-09-29T00:00:00Z"\}$/,
 qr/"id":"claude-sonnet-4-5"/,
 qr/^\{"type":"error","error":\{"type":"not_found_error","message":"model: claude-nope-9"\}/]



=== TEST 6: keys: x-api-key and Authorization: Bearer are both accepted
--- config eval: $::KEYED
--- request eval
my $b = q{{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}};
["POST /v1/messages\n$b", "POST /v1/messages\n$b"]
--- more_headers eval
["x-api-key: sk-test-0123456789\nanthropic-version: 2023-06-01",
 "Authorization: Bearer sk-other-0123456789\nanthropic-version: 2026-10-21"]
--- error_code eval
[200, 200]
--- mock_request_headers
authorization: Bearer tok-1



=== TEST 7: a wrong or missing key is the 401 Claude Code recognises
--- config eval: $::KEYED
--- request eval
my $b = q{{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}};
["POST /v1/messages\n$b", "POST /v1/messages\n$b", "GET /v1/models", "POST /v1/messages\n$b"]
--- more_headers eval
["x-api-key: sk-test-wrong-key", "", "", "Authorization: Basic c2stdGVzdA=="]
--- error_code eval
[401, 401, 401, 401]
--- response_body_like eval
[ (qr/^\{"type":"error","error":\{"type":"authentication_error","message":"invalid x-api-key"\},"request_id":"req_/) x 4 ]
--- mock_requests eval
[0, 0, 0, 0]
--- log_level: info
--- no_error_log
sk-test-wrong-key



=== TEST 8: unknown endpoints under the API root are a JSON 404
--- config eval: $::ROOT
--- request
POST /v1/complete
{}
--- error_code: 404
--- response_body_like chomp
"type":"not_found_error","message":"no such endpoint"



=== TEST 9: system as blocks and role:system messages all reach the system prompt
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



=== TEST 10: a Claude Code tool loop converts with history, tool results and the system prompt
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



=== TEST 11: a tool-result-only turn still carries the system prompt
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



=== TEST 12: a conversation opening with the assistant, and a final assistant prefill
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



=== TEST 13: tool names Amazon Q refuses are rewritten, and mapped back in replies
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



=== TEST 13b: a request whose only tools are server tools gets a clear 400
--- config eval: $::ROOT
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":8}],"messages":[{"role":"user","content":"search the web for nginx 1.22"}]}
--- error_code: 400
--- response_body_like chomp
"type":"invalid_request_error","message":"tools: \\"web_search_20250305\\" is a server tool that Anthropic runs itself; this gateway's backends cannot run it"
--- mock_requests: 0



=== TEST 14: a long tool description goes to the tool documentation
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



=== TEST 15a: tool_choice any is asked for in words
--- config eval: $::ROOT
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"tools":[{"name":"Bash","input_schema":{"type":"object"}}],"tool_choice":{"type":"any"},"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- mock_request_like
USER MESSAGE END ---\\n\\nYou must answer by calling one of the available tools\."



=== TEST 15b: tool_choice tool is asked for in words
--- config eval: $::ROOT
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"tools":[{"name":"Bash","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"Bash"},"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- mock_request_like
USER MESSAGE END ---\\n\\nYou must answer by calling the tool \\"Bash\\"\."



=== TEST 15c: tool_choice none is asked for in words
--- config eval: $::ROOT
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"tools":[{"name":"Bash","input_schema":{"type":"object"}}],"tool_choice":{"type":"none"},"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- mock_request_like
USER MESSAGE END ---\\n\\nAnswer without calling any tool\."



=== TEST 15d: tool_choice auto adds nothing; a bad type is a 400
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



=== TEST 16: base64 images become Amazon Q images; URLs and other types are refused
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



=== TEST 17: thinking: the hint goes up, <thinking> comes back as a thinking block
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



=== TEST 18: a lone "<" in a chunk never swallows the text after it
--- config eval: $::ROOT
--- mock eval
text_response('Hello ', '<', 'div>world</div>', ' <', '/thinking> and <thinking', '')
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":2048,"thinking":{"type":"adaptive"},"messages":[{"role":"user","content":"html"}]}
--- error_code: 200
--- final_content eval
[{ type => 'text', text => 'Hello <div>world</div> </thinking> and <thinking' }]



=== TEST 19: without thinking asked for, tags are plain text
--- config eval: $::ROOT
--- mock eval
text_response('<thinking>x</thinking>y')
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like chomp
"content":\[\{"type":"text","text":"<thinking>x</thinking>y"\}\]



=== TEST 20: a -thinking model name asks for thinking
--- config eval: $::ROOT
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5-20250929-thinking","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- mock_request_like
"modelId":"claude-sonnet-4\.5"
<max_thinking_length>16000</max_thinking_length>"



=== TEST 21: reasoning events: thinking with signature, and redacted thinking
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



=== TEST 22: stream false gives the message the stream describes (tools)
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



=== TEST 23: the backend's usage figures reach message_delta; context usage becomes input tokens
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



=== TEST 24: a full context window ends with model_context_window_exceeded
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



=== TEST 25: ContentLengthExceededException is a max_tokens stop, not an error
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



=== TEST 26: pings keep a silent stream alive, and the stream stays well formed
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



=== TEST 27: q2api_model adds a name
--- config
    location /v1/ {
        q2api_model claude-opus-5-5 claude-opus-4.6 "Claude Opus 5.5";
        q2api_pass claude;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
--- request
POST /v1/messages
{"model":"claude-opus-5-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- mock_request_like
"modelId":"claude-opus-4\.6"
--- response_body_like chomp
"model":"claude-opus-5-5"



=== TEST 27b: q2api_default_model catches the names nobody knows
--- config
    location /v1/ {
        q2api_default_model claude-sonnet-4.5;
        q2api_pass claude;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
--- request eval
[ map { qq{POST /v1/messages\n{"model":"$_","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}} } 'claude-unknown-1', 'gpt-4o' ]
--- error_code eval
[200, 200]
--- mock_request_like
"modelId":"claude-sonnet-4\.5"
--- response_body_like eval
[qr/"model":"claude-unknown-1"/, qr/"model":"gpt-4o"/]



=== TEST 28: the configured model is listed
--- config
    location /v1/ {
        q2api_model claude-opus-5-5 claude-opus-4.6 "Claude Opus 5.5";
        q2api_pass claude;
    }
--- request
GET /v1/models/claude-opus-5-5
--- error_code: 200
--- response_body_like chomp
^\{"type":"model","id":"claude-opus-5-5","display_name":"Claude Opus 5\.5"
