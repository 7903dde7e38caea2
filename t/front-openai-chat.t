# /v1/chat/completions as OpenAI clients read it, on the same q2api_pass
# location as the Claude API: chunks in order, the role once, tool calls
# by index with their identity in the first delta only (argument fragments
# cut at every character, multi-byte ones too), the finish_reason chunk,
# the usage chunk, [DONE]; stream false equal to the stream;
# reasoning_content; legacy function_call; pings as comments; GET /models
# in the client's dialect.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;
use JSON::PP;

repeat_each(1);
no_shuffle();

our $ROOT = $Q2api::Gateway::API_ROOT;

my $JSON = JSON::PP->new->utf8->canonical;

# The stream as the SDKs accumulate it, checked as client-api.md 3.3 says;
# dies with the first rule broken.
sub accumulate {
    my ($body) = @_;
    my (%msg, $finish, $usage, $error, $done, $n, $id);
    $msg{role} = undef;
    die "no blank line at the end\n" unless $body =~ /\n\n\z/;
    for my $frame (split /\n\n/, $body) {
        next if $frame =~ /\A:/;
        die "not a data line: $frame\n" unless $frame =~ /\Adata: ([^\n]*)\z/;
        my $data = $1;
        die "data after [DONE]\n" if $done;
        if ($data eq '[DONE]') { $done = 1; next }
        my $c = $JSON->decode($data);
        if ($c->{error}) { $error = $c->{error}; next }
        die "chunk after usage\n" if $usage;
        die "not a chunk\n" unless $c->{object} eq 'chat.completion.chunk';
        $id //= $c->{id};
        die "id changed\n" unless $c->{id} eq $id;
        if (!@{ $c->{choices} }) { $usage = $c->{usage}; next }
        my $ch = $c->{choices}[0];
        my $d = $ch->{delta};
        die "role not only in the first delta\n" if !!($n++ == 0) != !!exists $d->{role};
        $msg{role} = $d->{role} if exists $d->{role};
        $msg{content} .= $d->{content} if defined $d->{content};
        $msg{reasoning_content} .= $d->{reasoning_content} if defined $d->{reasoning_content};
        for my $t (@{ $d->{tool_calls} || [] }) {
            die "tool-call delta without an integer index\n" unless defined $t->{index} && $t->{index} =~ /^\d+$/;
            my $calls = $msg{tool_calls} //= [];
            if ($t->{index} == @$calls) {
                die "first delta of a call lacks its identity\n"
                    unless defined $t->{id} && $t->{type} eq 'function' && defined $t->{function}{name};
                push @$calls, { id => $t->{id}, type => 'function',
                                function => { name => $t->{function}{name}, arguments => $t->{function}{arguments} } };
            } else {
                die "a later delta repeats id, type or name\n"
                    if exists $t->{id} || exists $t->{type} || exists $t->{function}{name};
                $calls->[$t->{index}]{function}{arguments} .= $t->{function}{arguments};
            }
        }
        if (my $f = $d->{function_call}) {
            if ($msg{function_call}) { $msg{function_call}{arguments} .= $f->{arguments} }
            else { $msg{function_call} = { %$f } }
        }
        if (defined $ch->{finish_reason}) {
            die "two finish reasons\n" if $finish;
            $finish = $ch->{finish_reason};
        }
    }
    return { error => $error } if $error;
    die "no [DONE]\n" unless $done;
    die "no finish_reason\n" unless $finish;
    $msg{content} //= undef;
    $msg{refusal} = undef;
    return { message => \%msg, finish_reason => $finish, usage => $usage };
}

# --- chunks_valid: every request's stream is well formed
# --- stream_equals_plain: request 0 (stream false) says what request 1
#     (the same, streamed) said
my %plain;
add_response_body_check(sub {
    my ($block, $body, $i) = @_;
    if (defined $block->chunks_valid) {
        my $r = eval { accumulate($body) };
        ok($r, $block->name . " - well-formed chunks (req $i)") or diag($@);
    }
    if (defined(my $want = $block->arguments_are)) {
        my $r = eval { accumulate($body) };
        is($r && $r->{message}{tool_calls}[0]{function}{arguments}, $want,
           $block->name . " - the fragments join to the arguments (req $i)");
    }
    return unless defined $block->stream_equals_plain;
    if ($i == 0) {
        $plain{$block->name} = $JSON->decode($body);
        return;
    }
    my $r = eval { accumulate($body) } or return fail("$@");
    my $p = $plain{$block->name}{choices}[0];
    is_deeply($r->{message}, $p->{message}, $block->name . ' - the stream gives the same message');
    is($r->{finish_reason}, $p->{finish_reason}, $block->name . ' - and the same finish_reason');
});

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
!request-id
--- response_headers_like
x-request-id: ^req_[0-9a-f]{24}$
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



=== TEST 3: tool calls, streamed and not, give the same message; ids unchanged
--- config eval: $::ROOT
--- mock eval
[ map { tool_response(text => ['Checking.'], tools => [{ id => 'tooluse_A1', name => 'get_weather', fragments => ['', qq({"city": "M\x{fc}nch), qq(en \x{1f600}"})] }, { id => 'tooluse_B2', name => 'get_time', input => { tz => 'Europe/Berlin' } }]) } 1 .. 2 ]
--- request eval
my $b = q{"model":"claude-sonnet-4-5","tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}},{"type":"function","function":{"name":"get_time"}}],"messages":[{"role":"user","content":"hi"}]};
["POST /v1/chat/completions\n{$b}", "POST /v1/chat/completions\n{\"stream\":true,$b}"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/"message":\{"role":"assistant","content":"Checking\.","refusal":null,"tool_calls":\[\{"id":"tooluse_A1","type":"function","function":\{"name":"get_weather","arguments":"\{\\"city\\": \\"M\x{c3}\x{bc}nchen \x{f0}\x{9f}\x{98}\x{80}\\"\}"\}\},\{"id":"tooluse_B2","type":"function","function":\{"name":"get_time","arguments":"\{\\"tz\\":\\"Europe\/Berlin\\"\}"\}\}\]\},"logprobs":null,"finish_reason":"tool_calls"\}\]/,
 qr/"delta":\{"tool_calls":\[\{"index":0,"id":"tooluse_A1","type":"function","function":\{"name":"get_weather","arguments":""\}\}\]\}.*"delta":\{"tool_calls":\[\{"index":0,"function":\{"arguments":"\{\\"city\\": \\"M\x{c3}\x{bc}nch"\}\}\]\}.*"delta":\{"tool_calls":\[\{"index":1,"id":"tooluse_B2","type":"function","function":\{"name":"get_time","arguments":""\}\}\]\}.*"finish_reason":"tool_calls"/s]
--- stream_equals_plain



=== TEST 4: argument fragments cut at every character, multi-byte ones included
--- config eval: $::ROOT
--- mock eval
my $args = qq{{"q": "gr\x{fc}\x{df}e \x{6771}\x{4eac} \x{1f600}", "n": [1, 2]}};
[ map { tool_response(id => "call_$_", name => 'search', fragments => [substr($args, 0, $_), substr($args, $_)]) } 1 .. length($args) - 1 ]
--- request eval
my $args = qq{{"q": "gr\x{fc}\x{df}e \x{6771}\x{4eac} \x{1f600}", "n": [1, 2]}};
[ map { qq{POST /v1/chat/completions\n{"model":"claude-sonnet-4-5","stream":true,"tools":[{"type":"function","function":{"name":"search"}}],"messages":[{"role":"user","content":"go"}]}} } 1 .. length($args) - 1 ]
--- error_code eval
[ (200) x 31 ]
--- chunks_valid
--- arguments_are eval
qq{{"q": "gr\x{fc}\x{df}e \x{6771}\x{4eac} \x{1f600}", "n": [1, 2]}}
--- response_body_like eval
[ map { qr/"index":0,"id":"call_$_","type":"function"/ } 1 .. 31 ]



=== TEST 5: thinking comes back as reasoning_content, streamed and not
--- config eval: $::ROOT
--- mock eval
[ map { text_response('<thinking>Let me ', 'see: 2<3.</thinking>', 'Yes, ', '2 < 3.') } 1 .. 2 ]
--- request eval
my $b = q{"model":"claude-sonnet-4-5","reasoning_effort":"medium","messages":[{"role":"user","content":"is 2 < 3?"}]};
["POST /v1/chat/completions\n{$b}", "POST /v1/chat/completions\n{\"stream\":true,$b}"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/"message":\{"role":"assistant","content":"Yes, 2 < 3\.","refusal":null,"reasoning_content":"Let me see: 2<3\."\}.*"completion_tokens_details":\{"reasoning_tokens":[1-9]\d*\}/,
 qr/"delta":\{"reasoning_content":"Let me "\}.*"delta":\{"reasoning_content":"see: 2<3\."\}.*"delta":\{"content":"Yes, "\}/s]
--- stream_equals_plain



=== TEST 6: include_usage: one usage chunk with choices [] last before [DONE]
--- config eval: $::ROOT
--- mock eval
text_response({ token_usage => { uncachedInputTokens => 20, outputTokens => 5, totalTokens => 25, cacheReadInputTokens => 7, cacheWriteInputTokens => 0 } }, 'Hi')
--- request
POST /v1/chat/completions
{"model":"claude-sonnet-4-5","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- chunks_valid
--- response_body_like eval
qr/"finish_reason":null\}\],"usage":null\}\n\n.*"finish_reason":"stop"\}\],"usage":null\}\n\ndata: \{"id":"chatcmpl-[0-9a-f]{24}","object":"chat.completion.chunk","created":\d+,"model":"claude-sonnet-4-5","choices":\[\],"usage":\{"prompt_tokens":27,"completion_tokens":5,"total_tokens":32,"prompt_tokens_details":\{"cached_tokens":7\},"completion_tokens_details":\{"reasoning_tokens":0\}\}\}\n\ndata: \[DONE\]\n\n\z/s



=== TEST 7: pings keep a silent stream alive as comments, never data
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
POST /v1/chat/completions
{"model":"claude-sonnet-4-5","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like eval
qr/\A: keep-alive\n\n(: keep-alive\n\n)*data: \{[^\n]*"role":"assistant"[^\n]*\n\ndata: [^\n]*"content":"late".*: keep-alive\n\n.*"content":" answer"/s
--- chunks_valid
--- timeout: 10



=== TEST 8: legacy functions answer with one function_call
--- config eval: $::ROOT
--- mock eval
[ map { tool_response(tools => [{ id => 'tu1', name => 'lookup', fragments => ['{"q":', '"x"}'] }, { id => 'tu2', name => 'lookup', input => { q => 'y' } }]) } 1 .. 2 ]
--- request eval
my $b = q{"model":"claude-sonnet-4-5","functions":[{"name":"lookup","parameters":{"type":"object"}}],"messages":[{"role":"user","content":"find"}]};
["POST /v1/chat/completions\n{$b}", "POST /v1/chat/completions\n{\"stream\":true,$b}"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/"message":\{"role":"assistant","content":null,"refusal":null,"function_call":\{"name":"lookup","arguments":"\{\\"q\\":\\"x\\"\}"\}\},"logprobs":null,"finish_reason":"function_call"\}/,
 qr/"delta":\{"function_call":\{"name":"lookup","arguments":""\}\}.*"delta":\{"function_call":\{"arguments":"\{\\"q\\":"\}\}/s]
--- response_body_unlike eval
[qr/tool_calls|tu2|"y"/, qr/tool_calls|tu2|"y"/]
--- stream_equals_plain



=== TEST 9: an untidy upstream stream still gives well-formed chunks equal to stream false
--- config eval: $::ROOT
--- mock eval
[ untidy_response(), untidy_response() ]
--- request eval
my $b = q{"model":"claude-sonnet-4-5","reasoning_effort":"low","tools":[{"type":"function","function":{"name":"list_dir"}}],"messages":[{"role":"user","content":"ls"}]};
["POST /v1/chat/completions\n{$b}", "POST /v1/chat/completions\n{\"stream\":true,$b}"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/"content":"Hello (lo )?w\x{c3}\x{b6}rld! Gr\x{c3}\x{bc}\x{c3}\x{9f}e\.","refusal":null,"reasoning_content":"Let me look at \/tmp\.","tool_calls":\[\{"id":"tooluse_untidy01","type":"function","function":\{"name":"list_dir","arguments":"\{\\"path\\": \\"\/tmp\\", \\"opts\\": \{\\"recursive\\":true\}\}"\}\}\]/,
 qr/\[DONE\]/]
--- stream_equals_plain



=== TEST 10: GET /models answers in the client's dialect
--- config eval: $::ROOT
--- request eval
["GET /v1/models", "GET /v1/models", "GET /v1/models", "GET /v1/models/claude-sonnet-4.5", "GET /v1/models/claude-sonnet-4-5"]
--- more_headers eval
["Authorization: Bearer sk-x", "anthropic-version: 2023-06-01", "x-api-key: sk-x", "Authorization: Bearer sk-x", "anthropic-version: 2023-06-01\nAuthorization: Bearer sk-x"]
--- error_code eval
[200, 200, 200, 200, 200]
--- response_body_like eval
[qr/^\{"object":"list","data":\[\{"id":"claude-opus-4-6","object":"model","created":\d+,"owned_by":"anthropic"\},.*\{"id":"claude-sonnet-4-5","object":"model","created":1759104000,"owned_by":"anthropic"\}.*\]\}$/,
 qr/^\{"data":\[\{"type":"model","id":"claude-opus-4-6".*"has_more":false/,
 qr/^\{"data":\[\{"type":"model"/,
 qr/^\{"id":"claude-sonnet-4-5","object":"model","created":1759104000,"owned_by":"anthropic"\}$/,
 qr/^\{"type":"model","id":"claude-sonnet-4-5"/]



=== TEST 11: the OpenAI list is never paged, whatever the query
--- config
    location /v1/ {
        q2api_model m-01 claude-sonnet-4.5;
        q2api_model m-02 claude-sonnet-4.5;
        q2api_model m-03 claude-sonnet-4.5;
        q2api_model m-04 claude-sonnet-4.5;
        q2api_model m-05 claude-sonnet-4.5;
        q2api_model m-06 claude-sonnet-4.5;
        q2api_model m-07 claude-sonnet-4.5;
        q2api_model m-08 claude-sonnet-4.5;
        q2api_model m-09 claude-sonnet-4.5;
        q2api_model m-10 claude-sonnet-4.5;
        q2api_model m-11 claude-sonnet-4.5;
        q2api_model m-12 claude-sonnet-4.5;
        q2api_model m-13 claude-sonnet-4.5;
        q2api_model m-14 claude-sonnet-4.5;
        q2api_model m-15 claude-sonnet-4.5;
        q2api_pass claude;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
--- request
GET /v1/models?limit=2
--- error_code: 200
--- response_body_like eval
qr/^\{"object":"list","data":\[(\{"id":"[^"]+","object":"model","created":\d+,"owned_by":"anthropic"\},?){20,}\]\}$/



=== TEST 12: q2api_pass openai: the same routes, /chat/completions answered
--- config
    location /api/ {
        q2api_pass openai;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
--- request eval
["POST /api/chat/completions\n" . q{{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}},
 "GET /api/unknown"]
--- error_code eval
[200, 404]
--- response_body_like eval
[qr/"object":"chat\.completion"/,
 qr/^\{"error":\{"message":"no such endpoint","type":"invalid_request_error","param":null,"code":"not_found"\}/]
