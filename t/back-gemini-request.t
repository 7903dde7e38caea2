# The Gemini back end's requests as Code Assist gets them: both envelopes
# (the mock refuses a wrong one), the User-Agent of each flavour, the
# project, and the conversion of a Claude conversation (system, turns,
# tools, results, thinking) as it reaches Google; the model routing that
# sends gemini-* names, and /v1/gemini/messages, to Gemini accounts.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test service => 'Q2api::Mock::CodeAssist';
use Q2api::Gateway;

our $HTTP = <<'_EOC_';
    q2api_zone q2api 4m;
    q2api_gemini_quota_interval 0;
    q2api_store file html/accounts.json;
    q2api_amazonq_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT/amazonq;
    q2api_gemini_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT/v1internal:streamGenerateContent?alt=sse;
_EOC_

our $CLI = <<'_EOC_';
>>> accounts.json
[{"id": "g-1", "type": "gemini", "accessToken": "ya29.tok-g1", "enabled": 1,
  "other": {"project": "proud-quasar-abc12"}}]
_EOC_

our $AG = <<'_EOC_';
>>> accounts.json
[{"id": "ag-1", "type": "gemini", "accessToken": "ya29.tok-ag", "enabled": 1,
  "other": {"project": "ag-project-1", "flavour": "antigravity"}}]
_EOC_

repeat_each(1);
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', $HTTP) unless defined $block->http_config;
    $block->set_value('config', $Q2api::Gateway::API_ROOT)
        unless defined $block->config;
});

run_tests();

__DATA__

=== TEST 1: a Claude request for gemini-2.5-pro on a gemini-cli account
--- user_files eval: $::CLI
--- request
POST /v1/messages
{"model":"gemini-2.5-pro","max_tokens":100,"system":"Be brief.","messages":[{"role":"user","content":"What is 2+2?"}]}
--- error_code: 200
--- response_body_like chomp
"text":"Hello from Gemini"
--- mock_request_headers
authorization: Bearer ya29.tok-g1
content-type: application/json
x-goog-api-client: gl-node/22.17.0
--- mock_check eval
sub {
    my ($reqs) = @_;
    my $j = $reqs->[-1]{json};
    is($j->{model}, 'gemini-2.5-pro', 'the model as the client named it');
    is($j->{project}, 'proud-quasar-abc12', 'the account\'s project');
    like($j->{user_prompt_id}, qr/^[0-9a-f-]{36}$/, 'user_prompt_id');
    is($j->{request}{systemInstruction}{parts}[0]{text}, 'Be brief.',
       'systemInstruction');
    is($j->{request}{contents}[0]{parts}[0]{text}, 'What is 2+2?', 'turn');
    is($j->{request}{generationConfig}{maxOutputTokens}, 100, 'max_tokens');
    like($reqs->[-1]{headers}{'user-agent'},
         qr{^GeminiCLI/[0-9.]+/gemini-2\.5-pro \(linux; x64; terminal\)},
         'gemini-cli User-Agent with the model');
}



=== TEST 2: an Antigravity account gets Antigravity's envelope and User-Agent
--- user_files eval: $::AG
--- request
POST /v1/messages
{"model":"gemini-3-flash","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like chomp
Hello from Gemini
--- mock_request_headers
user-agent: antigravity/1.15.8 linux/amd64
--- mock_check eval
sub {
    my ($reqs) = @_;
    my $j = $reqs->[-1]{json};
    is($j->{requestType}, 'agent', 'requestType');
    like($j->{requestId}, qr/^agent-[0-9a-f-]{36}$/, 'requestId');
    like($j->{request}{sessionId}, qr/^-\d+$/, 'sessionId');
    is($j->{project}, 'ag-project-1', 'project');
    ok(!exists $j->{user_prompt_id}, 'no gemini-cli keys');
}



=== TEST 3: a tool round trip reaches Google paired, names rewritten
--- user_files eval: $::CLI
--- request
POST /v1/messages
{"model":"gemini-2.5-pro","max_tokens":100,
 "tools":[{"name":"mcp__fs__read file","description":"Read","input_schema":{"type":"object","properties":{"path":{"type":"string","format":"uri"}},"additionalProperties":false}}],
 "messages":[{"role":"user","content":"read it"},
  {"role":"assistant","content":[{"type":"thinking","thinking":"need the file","signature":"SIG-1"},{"type":"tool_use","id":"toolu_1","name":"mcp__fs__read file","input":{"path":"/a"}}]},
  {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"contents"},{"type":"text","text":"and?"}]}]}
--- error_code: 200
--- mock_check eval
sub {
    my ($reqs) = @_;
    my $r = $reqs->[-1]{json}{request};
    my $decl = $r->{tools}[0]{functionDeclarations}[0];
    like($decl->{name}, qr/^mcp__fs__read_file_[0-9a-f]{8}$/, 'name rewritten');
    ok(!exists $decl->{parametersJsonSchema}{additionalProperties},
       'schema cleaned');
    like($decl->{parametersJsonSchema}{properties}{path}{description},
         qr/format: "uri"/, 'format as a hint');
    my $model = $r->{contents}[1];
    is($model->{role}, 'model', 'model turn');
    is($model->{parts}[0]{thought}, JSON::PP::true(), 'the thought');
    is($model->{parts}[1]{functionCall}{name}, $decl->{name}, 'the call');
    is($model->{parts}[1]{thoughtSignature}, 'SIG-1', 'its signature echoed');
    my $user = $r->{contents}[2];
    is($user->{parts}[0]{functionResponse}{name}, $decl->{name},
       'the response names the call');
    is($user->{parts}[0]{functionResponse}{response}{output}, 'contents',
       'the output');
    is($user->{parts}[1]{text}, 'and?', 'then the text');
}



=== TEST 4: /v1/gemini/messages serves a Claude name on Antigravity
--- user_files eval: $::AG
--- request
POST /v1/gemini/messages
{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like chomp
"model":"claude-sonnet-4-5"
--- mock_check eval
sub {
    my ($reqs) = @_;
    is($reqs->[-1]{json}{model}, 'claude-sonnet-4-5',
       'Antigravity\'s name for the model');
}



=== TEST 5: a Claude name on /v1/messages also reaches an Antigravity account
--- user_files eval: $::AG
--- request
POST /v1/messages
{"model":"claude-sonnet-4.5","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- mock_check eval
sub {
    my ($reqs) = @_;
    is($reqs->[-1]{json}{model}, 'claude-sonnet-4-5', 'dashed id');
}



=== TEST 6: a Claude name with only gemini-cli accounts: no account serves it
--- user_files eval: $::CLI
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 503
--- response_body_like chomp
"type":"overloaded_error"|no usable backend account
--- mock_requests: 0



=== TEST 7: q2api_model's backend= names the back end of a name
--- config
    location /v1/ {
        q2api_pass claude;
        q2api_model fast gemini-2.5-flash "Fast" backend=gemini;
    }
    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
--- user_files eval: $::CLI
--- request
POST /v1/messages
{"model":"fast","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- mock_check eval
sub {
    my ($reqs) = @_;
    is($reqs->[-1]{json}{model}, 'gemini-2.5-flash', 'the table\'s id');
}



=== TEST 8: a gemini name outside Google's characters is not passed on
--- user_files eval: $::CLI
--- request
POST /v1/messages
{"model":"gemini-2.5-pro\"x","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 404
--- response_body_like chomp
"type":"not_found_error"
--- mock_requests: 0



=== TEST 9: an account without a project looks it up first, then asks with it
--- http_config eval: $::HTTP . "    q2api_code_assist_url http://127.0.0.1:\$TEST_NGINX_MOCK_PORT;\n"
--- user_files
>>> accounts.json
[{"id": "g-new", "type": "gemini", "accessToken": "ya29.tok-new", "enabled": 1}]
--- mock eval
{ by_path => { '/v1internal:loadCodeAssist' => [ load_code_assist(project => 'found-1') ] },
  responses => [ gemini_text('with a project') ] }
--- request
POST /v1/messages
{"model":"gemini-2.5-pro","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like chomp
with a project
--- mock_check eval
sub {
    my @all = Q2api::Test::mock_requests();
    is_deeply([ map { $_->{path} } @all ],
              [ '/v1internal:loadCodeAssist', '/v1internal:streamGenerateContent' ],
              'the lookup, then the generation');
    is($all[-1]{json}{project}, 'found-1', 'with the project found');
}



=== TEST 10: a 403 about the project: looked up again once, the same account asked again
--- http_config eval: $::HTTP . "    q2api_code_assist_url http://127.0.0.1:\$TEST_NGINX_MOCK_PORT;\n"
--- user_files eval: $::CLI
--- mock eval
{ by_path => { '/v1internal:loadCodeAssist' => [ load_code_assist(project => 'new-2') ] },
  responses => [ gemini_error('project'), gemini_text('after the lookup') ] }
--- request
POST /v1/messages
{"model":"gemini-2.5-pro","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like chomp
after the lookup
--- mock_check eval
sub {
    my @all = Q2api::Test::mock_requests();
    is(scalar @all, 3, 'refused, looked up, asked again');
    is($all[0]{json}{project}, 'proud-quasar-abc12', 'first with the old project');
    is($all[-1]{json}{project}, 'new-2', 'then with the new one');
}
