# /v1/responses failures in OpenAI's envelope before the first byte (the
# offending field as param), and store / previous_response_id: a stored
# reply's input and output come back before the next turn's input, across
# both workers, chained; store false, an unknown id, a store that is off
# or too small for a reply are each a 400 that says why; the size bound
# evicts the oldest; the directive's bad values stop nginx.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;
use HTTP::Tiny;
use JSON::PP;

repeat_each(1);
no_shuffle();
master_on();
workers(2);

our $ROOT = $Q2api::Gateway::API_ROOT;

my $JSON = JSON::PP->new->utf8->canonical;

# a request of its own, on a new connection (either worker may take it)
sub post {
    my ($body) = @_;
    my $r = HTTP::Tiny->new(keep_alive => 0, timeout => 20)->post(
        'http://127.0.0.1:' . Test::Nginx::Util::server_port() . '/v1/responses',
        { content => ref $body ? $JSON->encode($body) : $body,
          headers => { 'content-type' => 'application/json' } });
    my $json = eval { $JSON->decode($r->{content}) };
    return ($r->{status}, $json, $r->{headers});
}

# the conversation the last upstream request carried, as [role, text]
sub upstream_turns {
    my @reqs = Q2api::Test::mock_requests();
    my $cs = $reqs[-1]{json}{conversationState};
    my @turns;
    for my $h (@{ $cs->{history} }) {
        if (my $u = $h->{userInputMessage}) {
            push @turns, ['user', $u->{content},
                          map { $_->{toolUseId} } @{ $u->{userInputMessageContext}{toolResults} || [] }];
        } else {
            my $a = $h->{assistantResponseMessage};
            push @turns, ['assistant', $a->{content}, map { $_->{toolUseId} } @{ $a->{toolUses} || [] }];
        }
    }
    my $m = $cs->{currentMessage}{userInputMessage};
    (my $text = $m->{content}) =~ s/\A.*--- USER MESSAGE BEGIN ---\n(.*)\n--- USER MESSAGE END ---.*\z/$1/s;
    push @turns, ['user', $text, map { $_->{toolUseId} } @{ $m->{userInputMessageContext}{toolResults} || [] }];
    return \@turns;
}

run_tests();

__DATA__

=== TEST 1: refused requests are 400 invalid_request_error naming the param
--- config eval: $::ROOT
--- request eval
[map { "POST /v1/responses\n$_" }
 '{"input":"hi"}',
 '{"model":"claude-sonnet-4-5","input":7}',
 '{"model":"claude-sonnet-4-5","input":[{"type":"frobnicate"}]}',
 '{"model":"claude-sonnet-4-5","input":[{"role":"user","content":[{"type":"input_file","file_id":"f"}]}]}',
 '{"model":"claude-sonnet-4-5","input":[{"role":"user","content":[{"type":"input_image","image_url":"https://x/y.png"}]}]}',
 '{"model":"claude-sonnet-4-5","input":[{"type":"function_call_output","output":"x"}]}',
 '{"model":"claude-sonnet-4-5","background":true,"input":"hi"}',
 '{"model":"claude-sonnet-4-5","conversation":"conv_1","input":"hi"}',
 '{"model":"claude-sonnet-4-5","tools":[{"type":"web_search"}],"tool_choice":{"type":"web_search"},"input":"hi"}',
 '{"model":"claude-sonnet-4-5","tool_choice":{"type":"function","name":"nope"},"input":"hi"}',
 '{"model":"claude-sonnet-4-5","previous_response_id":"../etc/passwd","input":"hi"}',
 '{"model":"claude-sonnet-4-5","reasoning":{"effort":"enormous"},"input":"hi"}',
 '{"model":"claude-sonnet-4-5","text":{"format":{"type":"xml"}},"input":"hi"}',
 '{"model":"claude-sonnet-4-5","include":"all","input":"hi"}',
 '{"model":"claude-sonnet-4-5","max_output_tokens":0,"input":"hi"}',
 '{"model":"claude-sonnet-4-5","input":[]}']
--- error_code eval
[(400) x 16]
--- response_body_like eval
[qr/\A\{"error":\{"message":"model: field required","type":"invalid_request_error","param":"model","code":null\},"request_id":"req_[0-9a-f]{24}"\}\z/,
 qr/"message":"input: expected a string or an array of items","type":"invalid_request_error","param":"input"/,
 qr/"message":"input.0.type: \\"frobnicate\\" is not an input item type this gateway takes [^"]*","type":"invalid_request_error","param":"input.0.type"/,
 qr/"message":"input.0.content.0.type: \\"input_file\\" parts are not supported here; send input_text or input_image \(a data URL\)","type":"invalid_request_error","param":"input.0.content.0.type"/,
 qr/"message":"input.0.content.0.image_url.url: remote image URLs are not supported; send the image inline as a data URL/,
 qr/"message":"input.0.call_id: expected the call_id of the call this answers","type":"invalid_request_error","param":"input.0.call_id"/,
 qr/"param":"background"/,
 qr/"message":"conversation: not supported by this gateway; send the conversation in \\"input\\" \(or use previous_response_id\)","type":"invalid_request_error","param":"conversation"/,
 qr/"message":"tool_choice.type: \\"web_search\\" is a tool OpenAI hosts; this gateway's backends cannot run it"/,
 qr/"message":"tool_choice: \\"nope\\" is not one of the request's tools","type":"invalid_request_error","param":"tool_choice"/,
 qr/"message":"previous_response_id: not an id of a response this gateway made \(\\"resp_\\" and hex digits\)","type":"invalid_request_error","param":"previous_response_id"/,
 qr/"param":"reasoning.effort"/,
 qr/"param":"text.format.type"/,
 qr/"param":"include"/,
 qr/"message":"max_output_tokens: expected a positive integer"/,
 qr/"message":"input: at least one message or tool output is required"/]
--- mock_requests eval
[(0) x 16]



=== TEST 2: an unknown previous_response_id is a 400 that says so, before any backend call
--- config eval: $::ROOT
--- request
POST /v1/responses
{"model":"claude-sonnet-4-5","previous_response_id":"resp_0123456789abcdef01234567","input":"and then?"}
--- error_code: 400
--- response_body_like chomp
\A\{"error":\{"message":"previous_response_id: Previous response with id 'resp_0123456789abcdef01234567' not found\.","type":"invalid_request_error","param":"previous_response_id","code":null\},"request_id":"req_[0-9a-f]{24}"\}\z
--- mock_requests: 0



=== TEST 3: the backend's "input is too long" is a 400 context_length_exceeded, which Codex acts on
--- config eval: $::ROOT
--- mock eval
error_response('too_long')
--- request
POST /v1/responses
{"model":"claude-sonnet-4-5","stream":true,"input":"hi"}
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body_like chomp
"type":"invalid_request_error","param":null,"code":"context_length_exceeded"



=== TEST 4: GET /v1/models answers a Responses client in OpenAI's list; a GET on responses is a 405
--- config eval: $::ROOT
--- request eval
["GET /v1/models", "GET /v1/responses"]
--- more_headers
Authorization: Bearer sk-x
--- error_code eval
[200, 405]
--- response_body_like eval
[qr/\A\{"object":"list","data":\[\{"id":"[^"]+","object":"model"/, qr/"type":"invalid_request_error"/]



=== TEST 5: a stored call meets its output in the next turn; the chain goes on; instructions stay behind
--- config eval: $::ROOT
--- mock eval
[ tool_response(text => ['Looking.'], id => 'tooluse_S1', name => 'lookup', fragments => ['{"q":"x"}']),
  (map { text_response("answer $_") } 2 .. 6) ]
--- request
GET /v1/models
--- more_headers
Authorization: Bearer sk-x
--- error_code: 200
--- mock_check eval
sub {
    my ($s, $r) = main::post({ model => 'claude-sonnet-4-5', instructions => 'Only for turn 1.',
                               tools => [{ type => 'function', name => 'lookup' }], input => 'find x' });
    is($s, 200, 'turn 1 answered');
    is($r->{output}[1]{call_id}, 'tooluse_S1', 'turn 1 ends with the call');
    my $prev = $r->{id};
    ($s, $r) = main::post({ model => 'claude-sonnet-4-5', previous_response_id => $prev,
                            tools => [{ type => 'function', name => 'lookup' }],
                            input => [{ type => 'function_call_output', call_id => 'tooluse_S1', output => 'x is 42' }] });
    is($s, 200, 'turn 2 continues turn 1') or diag(explain($r));
    is($r->{previous_response_id}, $prev, 'turn 2 echoes previous_response_id');
    is_deeply(main::upstream_turns(),
              [['user', 'find x'], ['assistant', 'Looking.', 'tooluse_S1'], ['user', '', 'tooluse_S1']],
              'the stored input and the stored call, then the call output');
    my @reqs = Q2api::Test::mock_requests();
    unlike($reqs[-1]{json}{conversationState}{currentMessage}{userInputMessage}{content}, qr/Only for turn 1/,
           'the instructions of turn 1 are not carried over');
    $prev = $r->{id};
    for my $n (3 .. 6) {
        ($s, $r) = main::post({ model => 'claude-sonnet-4-5', previous_response_id => $prev,
                                input => [{ role => 'user', content => "turn $n" }] });
        is($s, 200, "turn $n continues turn " . ($n - 1));
        my $turns = main::upstream_turns();
        is(scalar @$turns, 2 * $n - 1, "turn $n: the backend sees every earlier turn");
        is_deeply($turns->[-2], ['assistant', 'answer ' . ($n - 1)], "turn $n: the last answer before it");
        is($turns->[-1][1], "turn $n", "turn $n: its own input last");
        $prev = $r->{id};
    }
}



=== TEST 6: a stored reply outlives the workers that stored it (a reload starts new ones)
--- config
    location /v1/ {
        add_header X-Worker $pid always;
        q2api_pass claude;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
--- mock eval
[ text_response('first'), text_response('second') ]
--- request
GET /v1/models
--- more_headers
Authorization: Bearer sk-x
--- error_code: 200
--- mock_check eval
sub {
    my ($s, $r, $h) = main::post({ model => 'claude-sonnet-4-5', input => 'remember me' });
    is($s, 200, 'stored by one worker');
    my $worker = $h->{'x-worker'};
    ok(kill('HUP', Test::Nginx::Util::get_pid_from_pidfile('')), 'reload');
    my $other;
    for (1 .. 100) {
        my (undef, undef, $h2) = main::post('{}');
        $other = $h2->{'x-worker'};
        last if $other && $other ne $worker && !kill(0, $worker);
        select(undef, undef, undef, 0.1);
    }
    isnt($other, $worker, 'a worker of the new generation answers');
    my ($s2, $r2, $h2) = main::post({ model => 'claude-sonnet-4-5', previous_response_id => $r->{id}, input => 'and now?' });
    is($s2, 200, 'the new worker finds the reply') or diag(explain($r2));
    isnt($h2->{'x-worker'}, $worker, 'in another process');
    is_deeply([ map { $_->[1] } @{ main::upstream_turns() } ], ['remember me', 'first', 'and now?'],
              'its history at the backend');
}



=== TEST 7: store false keeps nothing; a later previous_response_id to it is a 400
--- config eval: $::ROOT
--- mock eval
[ text_response('not kept') ]
--- request
GET /v1/models
--- more_headers
Authorization: Bearer sk-x
--- error_code: 200
--- mock_check eval
sub {
    my ($s, $r) = main::post({ model => 'claude-sonnet-4-5', store => JSON::PP::false, input => 'hi' });
    is($s, 200, 'answered');
    ok(!$r->{store}, 'store false echoed');
    my ($s2, $r2) = main::post({ model => 'claude-sonnet-4-5', previous_response_id => $r->{id}, input => 'more' });
    is($s2, 400, 'its id is unknown');
    is($r2->{error}{message}, "previous_response_id: Previous response with id '$r->{id}' not found.",
       'and the error says so');
}



=== TEST 8: q2api_responses_store off: previous_response_id is a 400 that names the directive
--- http_config
    q2api_zone q2api 4m;
    q2api_store file html/accounts.json;
    q2api_amazonq_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT/;
    q2api_responses_store off;
--- config eval: $::ROOT
--- request
POST /v1/responses
{"model":"claude-sonnet-4-5","previous_response_id":"resp_0123456789abcdef01234567","input":"hi"}
--- error_code: 400
--- response_body_like chomp
"message":"previous_response_id: this gateway keeps no responses \(q2api_responses_store off\); send the whole conversation in \\"input\\"","type":"invalid_request_error","param":"previous_response_id"
--- mock_requests: 0



=== TEST 9: the size bound: a reply over an eighth of the zone is not kept; the oldest make room
--- http_config
    q2api_zone q2api 4m;
    q2api_store file html/accounts.json;
    q2api_amazonq_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT/;
    q2api_responses_store 128k 1h;
--- config eval: $::ROOT
--- mock eval
[ map { text_response("ok $_") } 1 .. 60 ]
--- request
GET /v1/models
--- more_headers
Authorization: Bearer sk-x
--- error_code: 200
--- mock_check eval
sub {
    my ($s, $r) = main::post({ model => 'claude-sonnet-4-5', input => 'x' x 17000 });
    is($s, 200, 'a large reply is answered');
    ($s) = main::post({ model => 'claude-sonnet-4-5', previous_response_id => $r->{id}, input => 'more' });
    is($s, 400, 'but not kept');
    my @ids;
    for my $i (1 .. 50) {
        my ($s1, $r1) = main::post({ model => 'claude-sonnet-4-5', input => "$i " . ('y' x 8000) });
        push @ids, $r1->{id};
    }
    ($s) = main::post({ model => 'claude-sonnet-4-5', previous_response_id => $ids[-1], input => 'more' });
    is($s, 200, 'the newest is kept');
    ($s) = main::post({ model => 'claude-sonnet-4-5', previous_response_id => $ids[0], input => 'more' });
    is($s, 400, 'the oldest made room');
}
--- error_log
exceed an eighth of q2api_responses_store's zone



=== TEST 10: a store smaller than 8 pages stops nginx with the reason
--- http_config
    q2api_responses_store 8k;
--- config eval: $::ROOT
--- request
GET /
--- must_die
--- error_log
invalid responses store size "8k"
