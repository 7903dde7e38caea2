# POST /v1/responses as the openai SDK and Codex read it: the event
# sequence of openai-responses.md 5.4 byte for byte for a text answer;
# reasoning, message, function and custom tool call items one after
# another with consistent sequence numbers, output indexes and item ids,
# at every split of the backend's fragments; response.completed holding
# the whole output and the usage; stream false giving the same items;
# encrypted_content carrying the thinking signature when included;
# response.incomplete at the output limit; an error after the first byte
# as an error event and response.failed; pings as comments.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;
use Q2api::Responses qw(replay strip_ids);
use JSON::PP;

repeat_each(1);
no_shuffle();

our $ROOT = $Q2api::Gateway::API_ROOT;

my $JSON = JSON::PP->new->utf8->canonical;

# --- replay_valid: every request's stream replays as the SDK does it
# --- output_is eval: [items] each request's output ends up as, ids blanked
# --- stream_equals_plain: request 0 (stream false) gives the items
#     request 1 (the same, streamed) gives
my %plain;
add_response_body_check(sub {
    my ($block, $body, $i) = @_;
    my $name = $block->name;
    if (defined $block->replay_valid) {
        my $r = eval { replay($body) };
        ok($r, "$name - the stream replays (req $i)") or diag($@);
    }
    if (defined(my $want = $block->output_is)) {
        $want = $want->[$i] if ref $want eq 'ARRAY' && ref $want->[0] eq 'ARRAY';
        my $out = $body =~ /\A\{/ ? $JSON->decode($body)->{output}
                : eval { replay($body)->{output} } or return fail("$name - $@");
        is_deeply(strip_ids($out), $want, "$name - the output items (req $i)");
    }
    return unless defined $block->stream_equals_plain;
    if ($i == 0) {
        $plain{$name} = $JSON->decode($body);
        return;
    }
    my $r = eval { replay($body) } or return fail("$@");
    is_deeply(strip_ids($r->{output}), strip_ids($plain{$name}{output}),
              "$name - the stream gives the same items");
    is_deeply($r->{response}{usage}, $plain{$name}{usage}, "$name - and the same usage");
});

run_tests();

__DATA__

=== TEST 1: a text answer is the event sequence of the reference, byte for byte
--- config eval: $::ROOT
--- mock eval
text_response("Hel", "lo w\x{f6}rld")
--- request
POST /v1/responses
{"model":"claude-sonnet-4-5","stream":true,"input":"hi"}
--- more_headers
Authorization: Bearer sk-anything
--- error_code: 200
--- response_headers
Content-Type: text/event-stream
!Content-Length
--- response_headers_like
x-request-id: ^req_[0-9a-f]{24}$
--- response_body_like eval
my $R = q~\{"id":"(resp_([0-9a-f]{24}))","object":"response","created_at":(\d+),"status":"in_progress","model":"claude-sonnet-4-5","output":\[\],"usage":null,"error":null,"incomplete_details":null,"instructions":null,"metadata":\{\},"parallel_tool_calls":true,"tool_choice":"auto","tools":\[\],"temperature":null,"top_p":null,"max_output_tokens":null,"previous_response_id":null,"reasoning":null,"text":\{"format":\{"type":"text"\}\},"store":true,"truncation":"disabled"\}~;
my $R2 = q~\{"id":"\1","object":"response","created_at":\3,"status":"in_progress","model":"claude-sonnet-4-5","output":\[\],"usage":null,"error":null,"incomplete_details":null,"instructions":null,"metadata":\{\},"parallel_tool_calls":true,"tool_choice":"auto","tools":\[\],"temperature":null,"top_p":null,"max_output_tokens":null,"previous_response_id":null,"reasoning":null,"text":\{"format":\{"type":"text"\}\},"store":true,"truncation":"disabled"\}~;
my $item = q~\{"id":"msg_\2_0","type":"message","status":"completed","role":"assistant","content":\[\{"type":"output_text","text":"Hello w\x{c3}\x{b6}rld","annotations":\[\]\}\]\}~;
qr/\Aevent: response.created
data: \{"type":"response.created","sequence_number":0,"response":$R\}

event: response.in_progress
data: \{"type":"response.in_progress","sequence_number":1,"response":$R2\}

event: response.output_item.added
data: \{"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":\{"id":"msg_\2_0","type":"message","status":"in_progress","role":"assistant","content":\[\]\}\}

event: response.content_part.added
data: \{"type":"response.content_part.added","sequence_number":3,"item_id":"msg_\2_0","output_index":0,"content_index":0,"part":\{"type":"output_text","text":"","annotations":\[\]\}\}

event: response.output_text.delta
data: \{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_\2_0","output_index":0,"content_index":0,"delta":"Hel","logprobs":\[\]\}

event: response.output_text.delta
data: \{"type":"response.output_text.delta","sequence_number":5,"item_id":"msg_\2_0","output_index":0,"content_index":0,"delta":"lo w\x{c3}\x{b6}rld","logprobs":\[\]\}

event: response.output_text.done
data: \{"type":"response.output_text.done","sequence_number":6,"item_id":"msg_\2_0","output_index":0,"content_index":0,"text":"Hello w\x{c3}\x{b6}rld","logprobs":\[\]\}

event: response.content_part.done
data: \{"type":"response.content_part.done","sequence_number":7,"item_id":"msg_\2_0","output_index":0,"content_index":0,"part":\{"type":"output_text","text":"Hello w\x{c3}\x{b6}rld","annotations":\[\]\}\}

event: response.output_item.done
data: \{"type":"response.output_item.done","sequence_number":8,"output_index":0,"item":$item\}

event: response.completed
data: \{"type":"response.completed","sequence_number":9,"response":\{"id":"\1","object":"response","created_at":\3,"status":"completed","model":"claude-sonnet-4-5","output":\[$item\],"usage":\{"input_tokens":11,"input_tokens_details":\{"cached_tokens":0\},"output_tokens":2,"output_tokens_details":\{"reasoning_tokens":0\},"total_tokens":13\},"error":null,"incomplete_details":null,"instructions":null,"metadata":\{\},"parallel_tool_calls":true,"tool_choice":"auto","tools":\[\],"temperature":null,"top_p":null,"max_output_tokens":null,"previous_response_id":null,"reasoning":null,"text":\{"format":\{"type":"text"\}\},"store":true,"truncation":"disabled"\}\}

\z/
--- replay_valid
--- mock_requests: 1
--- no_error_log
[error]



=== TEST 2: stream false is one Response object with the request's settings echoed
--- config eval: $::ROOT
--- mock eval
text_response("Hel", "lo")
--- request
POST /v1/responses
{"model":"claude-sonnet-4-5","instructions":"Be brief.","metadata":{"k":"v"},"max_output_tokens":100,"tool_choice":"none","parallel_tool_calls":false,"input":"hi"}
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body_like eval
qr/\A\{"id":"resp_([0-9a-f]{24})","object":"response","created_at":\d+,"status":"completed","model":"claude-sonnet-4-5","output":\[\{"id":"msg_\1_0","type":"message","status":"completed","role":"assistant","content":\[\{"type":"output_text","text":"Hello","annotations":\[\]\}\]\}\],"usage":\{"input_tokens":\d+,"input_tokens_details":\{"cached_tokens":0\},"output_tokens":2,"output_tokens_details":\{"reasoning_tokens":0\},"total_tokens":\d+\},"error":null,"incomplete_details":null,"instructions":"Be brief\.","metadata":\{"k":"v"\},"parallel_tool_calls":false,"tool_choice":"none","tools":\[\],"temperature":null,"top_p":null,"max_output_tokens":100,"previous_response_id":null,"reasoning":null,"text":\{"format":\{"type":"text"\}\},"store":true,"truncation":"disabled"\}\z/



=== TEST 3: reasoning, text, a function call and a custom call, streamed and not
--- config eval: $::ROOT
--- mock eval
my @ev = (event('reasoningContentEvent', { text => 'Let me ' }), event('reasoningContentEvent', { text => 'plan.' }),
          event('reasoningContentEvent', { signature => 'c2lnLTE=' }),
          event('assistantResponseEvent', { content => 'Running ' }), event('assistantResponseEvent', { content => 'it.' }),
          event('toolUseEvent', { toolUseId => 'tooluse_A1', name => 'exec_command', input => '{"cmd":' }),
          event('toolUseEvent', { toolUseId => 'tooluse_A1', name => 'exec_command', input => '"echo hi"}' }),
          event('toolUseEvent', { toolUseId => 'tooluse_A1', name => 'exec_command', stop => JSON::PP::true }),
          event('toolUseEvent', { toolUseId => 'tooluse_B2', name => 'apply_patch', input => '{"input":"*** Begin Patch\n' }),
          event('toolUseEvent', { toolUseId => 'tooluse_B2', name => 'apply_patch', input => '*** Add File: a.txt\n+hi\n*** End Patch"}' }),
          event('toolUseEvent', { toolUseId => 'tooluse_B2', name => 'apply_patch', stop => JSON::PP::true }));
[ { events => [@ev] }, { events => [@ev] } ]
--- request eval
my $b = q{"model":"claude-sonnet-4-5","include":["reasoning.encrypted_content"],"reasoning":{"effort":"low","summary":"auto"},"tools":[{"type":"function","name":"exec_command","parameters":{"type":"object"}},{"type":"custom","name":"apply_patch"}],"input":"go"};
["POST /v1/responses\n{$b}", "POST /v1/responses\n{\"stream\":true,$b}"]
--- error_code eval
[200, 200]
--- output_is eval
[ { id => 'x', type => 'reasoning', summary => [{ type => 'summary_text', text => 'Let me plan.' }], encrypted_content => 'c2lnLTE=' },
  { id => 'x', type => 'message', status => 'completed', role => 'assistant',
    content => [{ type => 'output_text', text => 'Running it.', annotations => [] }] },
  { id => 'x', type => 'function_call', status => 'completed', call_id => 'tooluse_A1', name => 'exec_command',
    arguments => '{"cmd":"echo hi"}' },
  { id => 'x', type => 'custom_tool_call', status => 'completed', call_id => 'tooluse_B2', name => 'apply_patch',
    input => "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch" } ]
--- response_body_like eval
[qr/"output_tokens_details":\{"reasoning_tokens":[1-9]\d*\}/,
 qr/"type":"response.custom_tool_call_input.delta".*"type":"response.custom_tool_call_input.done"/s]
--- stream_equals_plain



=== TEST 4: without include, the reasoning item carries no encrypted_content
--- config eval: $::ROOT
--- mock eval
{ events => [ event('reasoningContentEvent', { text => 'Hmm.' }), event('reasoningContentEvent', { signature => 'c2ln' }),
              event('assistantResponseEvent', { content => 'Yes.' }) ] }
--- request
POST /v1/responses
{"model":"claude-sonnet-4-5","stream":true,"reasoning":{"effort":"low"},"input":"go"}
--- error_code: 200
--- replay_valid
--- response_body_like chomp
"item":\{"id":"rs_[0-9a-f]{24}_0","type":"reasoning","summary":\[\{"type":"summary_text","text":"Hmm\."\}\]\}\}
--- response_body_unlike
encrypted_content



=== TEST 5: function arguments cut at every character, multi-byte ones included
--- config eval: $::ROOT
--- mock eval
my $args = qq{{"q": "gr\x{fc}\x{df}e \x{6771}\x{4eac} \x{1f600}", "n": [1, 2]}};
[ map { tool_response(text => ['Looking.'], id => "call_$_", name => 'search', fragments => [substr($args, 0, $_), substr($args, $_)]) } 1 .. length($args) - 1 ]
--- request eval
my $args = qq{{"q": "gr\x{fc}\x{df}e \x{6771}\x{4eac} \x{1f600}", "n": [1, 2]}};
[ map { qq{POST /v1/responses\n{"model":"claude-sonnet-4-5","stream":true,"tools":[{"type":"function","name":"search"}],"input":"go"}} } 1 .. length($args) - 1 ]
--- error_code eval
[ (200) x 31 ]
--- output_is eval
my $args = qq{{"q": "gr\x{fc}\x{df}e \x{6771}\x{4eac} \x{1f600}", "n": [1, 2]}};
[ map { [ { id => 'x', type => 'message', status => 'completed', role => 'assistant',
            content => [{ type => 'output_text', text => 'Looking.', annotations => [] }] },
          { id => 'x', type => 'function_call', status => 'completed', call_id => "call_$_", name => 'search', arguments => $args } ] }
  1 .. length($args) - 1 ]



=== TEST 6: a custom tool's input cut at every character comes back whole, unwrapped
--- config eval: $::ROOT
--- mock eval
my $json = qq{{"input":"*** Begin Patch\\n+gr\x{fc}\x{df}e \x{1f600} \\"q\\"\\n*** End Patch"}};
[ map { tool_response(id => "call_$_", name => 'apply_patch', fragments => [substr($json, 0, $_), substr($json, $_)]) } 1 .. length($json) - 1 ]
--- request eval
my $json = qq{{"input":"*** Begin Patch\\n+gr\x{fc}\x{df}e \x{1f600} \\"q\\"\\n*** End Patch"}};
[ map { qq{POST /v1/responses\n{"model":"claude-sonnet-4-5","stream":true,"tools":[{"type":"custom","name":"apply_patch"}],"input":"go"}} } 1 .. length($json) - 1 ]
--- error_code eval
my $json = qq{{"input":"*** Begin Patch\\n+gr\x{fc}\x{df}e \x{1f600} \\"q\\"\\n*** End Patch"}};
[ (200) x (length($json) - 1) ]
--- output_is eval
my $json = qq{{"input":"*** Begin Patch\\n+gr\x{fc}\x{df}e \x{1f600} \\"q\\"\\n*** End Patch"}};
[ map { [ { id => 'x', type => 'custom_tool_call', status => 'completed', call_id => "call_$_", name => 'apply_patch',
            input => qq{*** Begin Patch\n+gr\x{fc}\x{df}e \x{1f600} "q"\n*** End Patch} } ] } 1 .. length($json) - 1 ]



=== TEST 7: text cut at every character, and thinking before it, replay whole
--- config eval: $::ROOT
--- mock eval
my $t = "<thinking>Hm \x{1f600}.</thinking>Gr\x{fc}\x{df}e \x{6771}";
[ map { text_response(substr($t, 0, $_), substr($t, $_)) } 1 .. length($t) - 1 ]
--- request eval
my $t = "<thinking>Hm \x{1f600}.</thinking>Gr\x{fc}\x{df}e \x{6771}";
[ map { qq{POST /v1/responses\n{"model":"claude-sonnet-4-5","stream":true,"reasoning":{"effort":"low"},"input":"go"}} } 1 .. length($t) - 1 ]
--- error_code eval
my $t = "<thinking>Hm \x{1f600}.</thinking>Gr\x{fc}\x{df}e \x{6771}";
[ (200) x (length($t) - 1) ]
--- output_is eval
my $t = "<thinking>Hm \x{1f600}.</thinking>Gr\x{fc}\x{df}e \x{6771}";
[ map { [ { id => 'x', type => 'reasoning', summary => [{ type => 'summary_text', text => "Hm \x{1f600}." }] },
          { id => 'x', type => 'message', status => 'completed', role => 'assistant',
            content => [{ type => 'output_text', text => "Gr\x{fc}\x{df}e \x{6771}", annotations => [] }] } ] }
  1 .. length($t) - 1 ]



=== TEST 8: usage counts the whole prompt, cached tokens included
--- config eval: $::ROOT
--- mock eval
text_response({ token_usage => { uncachedInputTokens => 20, outputTokens => 5, totalTokens => 25, cacheReadInputTokens => 7, cacheWriteInputTokens => 3 } }, 'Hi')
--- request
POST /v1/responses
{"model":"claude-sonnet-4-5","stream":true,"input":"hi"}
--- error_code: 200
--- replay_valid
--- response_body_like chomp
"usage":\{"input_tokens":30,"input_tokens_details":\{"cached_tokens":7\},"output_tokens":5,"output_tokens_details":\{"reasoning_tokens":0\},"total_tokens":35\}



=== TEST 9: the output limit ends the reply as response.incomplete
--- config eval: $::ROOT
--- mock eval
{ events => [ event('assistantResponseEvent', { content => 'partial' }),
              exception_event('ContentLengthExceededException', { message => 'too long' }) ] }
--- request
POST /v1/responses
{"model":"claude-sonnet-4-5","stream":true,"max_output_tokens":5,"input":"hi"}
--- error_code: 200
--- replay_valid
--- response_body_like chomp
"type":"response.incomplete","sequence_number":8,"response":\{[^\n]*"status":"incomplete"[^\n]*"incomplete_details":\{"reason":"max_output_tokens"\}



=== TEST 10: an error after the first byte: an error event, then response.failed
--- config eval: $::ROOT
--- mock eval
{ events => [ event('assistantResponseEvent', { content => 'partial' }),
              { sleep_ms => 300 },
              exception_event('InternalServerException', { message => 'boom' }),
              event('assistantResponseEvent', { content => 'never' }) ] }
--- request
POST /v1/responses
{"model":"claude-sonnet-4-5","stream":true,"input":"hi"}
--- error_code: 200
--- replay_valid
--- response_body_like eval
qr/"delta":"partial".*\n\nevent: error\ndata: \{"type":"error","sequence_number":5,"code":"server_error","message":"Amazon Q InternalServerException: boom","param":null\}\n\nevent: response.failed\ndata: \{"type":"response.failed","sequence_number":6,"response":\{[^\n]*"status":"failed","model":"claude-sonnet-4-5","output":\[\][^\n]*"error":\{"code":"server_error","message":"Amazon Q InternalServerException: boom"\}[^\n]*\}\n\n\z/s
--- response_body_unlike
never|response.completed|output_item.done



=== TEST 11: pings keep a silent stream alive as comments, never events
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
POST /v1/responses
{"model":"claude-sonnet-4-5","stream":true,"input":"hi"}
--- error_code: 200
--- response_body_like eval
qr/\A: keep-alive\n\n(: keep-alive\n\n)*event: response.created\n.*"delta":"late".*: keep-alive\n\n.*"delta":" answer"/s
--- replay_valid
--- timeout: 10
