# The account pool with the embedded file store: failover before the
# first byte, the health policy and its persisted state, selection
# strategies, affinity across workers, X-Account-ID, a large pool, an
# empty pool and disabled accounts.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;
use JSON::PP ();

repeat_each(1);
no_shuffle();

our $HTTP = <<'_EOC_';
    q2api_zone q2api 8m;
    q2api_store file html/accounts.json;
    q2api_store_interval 100ms;
    q2api_amazonq_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT/;
_EOC_

our $RR = <<'_EOC_';
    location /v1/ {
        q2api_select round_robin;
        q2api_pass claude;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
_EOC_

# the accounts file as the store last wrote it
sub main::stored {
    select(undef, undef, undef, 0.6);
    my $f = main::server_root() . '/html/accounts.json';
    open my $fh, '<', $f or die "$f: $!";
    local $/;
    my $j = JSON::PP->new->decode(<$fh>);
    # written back in the shape it was read: these files are bare arrays
    my $list = ref $j eq 'ARRAY' ? $j : $j->{accounts};
    return { map { $_->{id} => $_ } @$list };
}

sub main::accounts {
    my @a = map { { id => $_, accessToken => "tok-$_", enabled => 1 } } @_;
    return ">>> accounts.json\n" . JSON::PP->new->encode(\@a) . "\n";
}

sub main::tokens {
    my ($reqs) = @_;
    return [ map { $_->{headers}{authorization} =~ s/^Bearer tok-//r } @$reqs ];
}

run_tests();

__DATA__

=== TEST 1: a suspended account fails over to the next, and says so in the log
--- http_config eval: $::HTTP
--- config eval: $::RR
--- user_files eval: main::accounts('bad', 'good')
--- mock eval
{ by_token => { 'tok-bad' => [ error_response('suspended') ], '*' => [ text_response('fine') ] } }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- mock_requests: 2
--- error_log
account "bad" failed with upstream status 403 (TEMPORARILY_SUSPENDED)
account "bad" failed (TEMPORARILY_SUSPENDED), trying account "good"



=== TEST 1b: the client sees one success; the suspension is persisted and the account skipped
--- http_config eval: $::HTTP
--- config eval: $::RR
--- user_files eval: main::accounts('bad', 'good')
--- mock eval
{ by_token => { 'tok-bad' => [ error_response('suspended') ], '*' => [ text_response('fine') ] } }
--- request eval
my $b = q{{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}};
["POST /v1/messages\n$b", "POST /v1/messages\n$b"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/"text":"fine".*event: message_stop/s, qr/"text":"fine"/]
--- mock_requests eval
[2, 1]
--- mock_check eval
sub {
    my ($reqs) = @_;
    is($reqs->[-1]{headers}{authorization}, 'Bearer tok-good', 'answered by the good account');
    return if @$reqs == 1;
    my $s = main::stored();
    is($s->{bad}{status}, 'suspended', 'suspension persisted');
    is($s->{bad}{status_reason}, 'TEMPORARILY_SUSPENDED', 'with its reason');
    ok($s->{bad}{status_since} > 0, 'and its time');
    is($s->{good}{status}, 'active', 'the good one is active');
}



=== TEST 2: throttling cools an account down; it is skipped meanwhile
--- http_config eval: $::HTTP
--- config eval: $::RR
--- user_files eval: main::accounts('slow', 'fast')
--- mock eval
{ by_token => { 'tok-slow' => [ error_response('throttled') ], '*' => [ text_response('ok') ] } }
--- request eval
my $b = q{{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}};
["POST /v1/messages\n$b", "POST /v1/messages\n$b", "POST /v1/messages\n$b"]
--- error_code eval
[200, 200, 200]
--- mock_requests eval
[2, 1, 1]
--- mock_check eval
sub {
    my ($reqs) = @_;
    is($reqs->[-1]{headers}{authorization}, 'Bearer tok-fast', 'fast answers');
    return if @$reqs == 1;
    my $s = main::stored();
    is($s->{slow}{status}, 'cooling', 'cooling persisted');
    cmp_ok($s->{slow}{status_until} - time, '>', 0, 'until a time to come');
    cmp_ok($s->{slow}{status_until} - time, '<=', 5, 'first cooldown is short');
}



=== TEST 3: when every account is cooling down the client gets a 429 with retry-after
--- http_config eval: $::HTTP
--- config eval: $::RR
--- user_files eval: main::accounts('only')
--- mock eval
[ error_response('throttled') ]
--- request eval
my $b = q{{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}};
["POST /v1/messages\n$b", "POST /v1/messages\n$b"]
--- error_code eval
[429, 429]
--- response_headers_like eval
["retry-after: ^[1-5]\$", "retry-after: ^[1-5]\$"]
--- response_body_like eval
[qr/"type":"rate_limit_error","message":"the backend is rate limiting requests"/,
 qr/"type":"rate_limit_error","message":"every backend account is rate limited; retry later"/]
--- mock_requests eval
[1, 0]



=== TEST 4: a client error is returned at once, without penalty or retry
--- http_config eval: $::HTTP
--- config eval: $::RR
--- user_files eval: main::accounts('a', 'b')
--- mock eval
[ error_response('too_long') ]
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 400
--- response_body_like chomp
prompt is too long
--- mock_requests: 1
--- mock_check eval
sub {
    my $s = main::stored();
    is($s->{a}{status}, 'active', 'a active');
    is($s->{a}{error_count}, 0, 'no error counted');
}



=== TEST 5: capacity trouble moves on without penalty; q2api_max_attempts bounds the tries
--- http_config eval: $::HTTP
--- config
    location /v1/ {
        q2api_select round_robin;
        q2api_max_attempts 2;
        q2api_pass claude;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
--- user_files eval: main::accounts('a', 'b', 'c')
--- mock eval
[ error_response('internal') ]
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 529
--- response_body_like chomp
"type":"overloaded_error"
--- mock_requests: 2
--- mock_check eval
sub {
    my $s = main::stored();
    is(scalar(grep { $_->{status} eq 'active' && $_->{error_count} == 0 } values %$s), 3,
       'all three still active, no error counted');
}



=== TEST 6: quota exhaustion takes the account out until the first of next month
--- http_config eval: $::HTTP
--- config eval: $::RR
--- user_files eval: main::accounts('q', 'r')
--- mock eval
{ by_token => { 'tok-q' => [ error_response('quota') ], '*' => [ text_response('ok') ] } }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- mock_requests: 2
--- mock_check eval
sub {
    my $s = main::stored();
    is($s->{q}{status}, 'quota', 'quota persisted');
    is($s->{q}{status_reason}, 'MONTHLY_REQUEST_COUNT', 'reason');
    my @t = gmtime($s->{q}{status_until});
    is("$t[0] $t[1] $t[2] $t[3]", '0 0 0 1', 'back at 00:00:00 UTC on the 1st');
    cmp_ok($s->{q}{status_until}, '>', time, 'in the future');
}



=== TEST 7: a rejected token takes the account out, the next one answers
--- http_config eval: $::HTTP
--- config eval: $::RR
--- user_files eval: main::accounts('old', 'new')
--- mock eval
{ by_token => { 'tok-old' => [ error_response('expired') ], '*' => [ text_response('ok') ] } }
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- mock_requests: 2
--- mock_check eval
sub {
    my $s = main::stored();
    is($s->{old}{status}, 'token_rejected', 'token state persisted');
}



=== TEST 8: consecutive errors past q2api_max_errors disable the account
--- http_config
    q2api_zone q2api 8m;
    q2api_store file html/accounts.json;
    q2api_store_interval 100ms;
    q2api_max_errors 2;
    q2api_amazonq_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT/;
--- config eval: $::RR
--- user_files eval: main::accounts('flaky')
--- mock eval
[ { status => 403, json => { __type => 'com.amazon.aws.codewhisperer#AccessDeniedException', message => 'nope', reason => 'FEATURE_NOT_SUPPORTED' } } ]
--- request eval
my $b = q{{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}};
[("POST /v1/messages\n$b") x 3]
--- error_code eval
[503, 503, 503]
--- response_body_like eval
[qr/refused \(FEATURE_NOT_SUPPORTED\)/, qr/refused \(FEATURE_NOT_SUPPORTED\)/, qr/no usable backend account/]
--- mock_requests eval
[1, 1, 0]
--- mock_check eval
sub {
    my ($reqs) = @_;
    return if @$reqs;
    my $s = main::stored();
    is($s->{flaky}{status}, 'too_many_errors', 'disabled');
    is($s->{flaky}{error_count}, 2, 'two consecutive errors');
    is($s->{flaky}{total_errors}, 2, 'two in all');
}



=== TEST 9: successes and token counts are persisted
--- http_config eval: $::HTTP
--- config eval: $::RR
--- user_files eval: main::accounts('acc')
--- mock eval
[ text_response({ token_usage => { uncachedInputTokens => 30, outputTokens => 7 } }, 'ok') ]
--- request eval
my $b = q{{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}};
[("POST /v1/messages\n$b") x 3]
--- error_code eval
[200, 200, 200]
--- mock_check eval
sub {
    return if ++$main::n9 < 3;
    my $s = main::stored();
    is($s->{acc}{success_count}, 3, 'three successes');
    is($s->{acc}{tokens_in}, 90, 'input tokens from the backend');
    is($s->{acc}{tokens_out}, 21, 'output tokens from the backend');
    ok($s->{acc}{last_used} > 0, 'last used');
}



=== TEST 10: round robin visits every account in turn
--- http_config eval: $::HTTP
--- config eval: $::RR
--- user_files eval: main::accounts('a', 'b', 'c')
--- request eval
my $b = q{{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}};
[("POST /v1/messages\n$b") x 6]
--- error_code eval
[(200) x 6]
--- mock_check eval
sub {
    my ($reqs) = @_;
    push @main::rr, @{ main::tokens($reqs) };
    return if @main::rr < 6;
    my %n;
    $n{$_}++ for @main::rr;
    is_deeply(\%n, { a => 2, b => 2, c => 2 }, 'two each');
    is_deeply([@main::rr[0 .. 2]], [@main::rr[3 .. 5]], 'in a fixed order');
}



=== TEST 11: least_used and random spread over the pool
--- http_config eval: $::HTTP
--- config
    location /v1/ {
        q2api_select least_used;
        q2api_pass claude;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
--- user_files eval: main::accounts('a', 'b')
--- request eval
my $b = q{{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}};
[("POST /v1/messages\n$b") x 12]
--- error_code eval
[(200) x 12]
--- mock_check eval
sub {
    my ($reqs) = @_;
    push @main::lu, @{ main::tokens($reqs) };
    return if @main::lu < 12;
    my %n;
    $n{$_}++ for @main::lu;
    ok($n{a} && $n{b}, 'both used');
    cmp_ok(abs($n{a} - $n{b}), '<=', 6, 'roughly even');
}



=== TEST 13: affinity follows metadata.user_id, and rebinds when its account is out
--- http_config eval: $::HTTP
--- config
    location /v1/ {
        q2api_select affinity;
        q2api_pass claude;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
--- user_files eval: main::accounts('x', 'y')
--- mock eval
{ by_token => { 'tok-x' => [ text_response('x'), text_response('x'), error_response('suspended') ],
                'tok-y' => [ text_response('y'), text_response('y'), error_response('suspended') ] } }
--- request eval
my $b = q{{"model":"claude-sonnet-4-5","max_tokens":10,"metadata":{"user_id":"{\"session_id\":\"s-1\"}"},"messages":[{"role":"user","content":"hi"}]}};
[("POST /v1/messages\n$b") x 4]
--- error_code eval
[200, 200, 200, 200]
--- mock_check eval
sub {
    my ($reqs) = @_;
    push @main::af, main::tokens($reqs);
    return if @main::af < 4;
    my ($first) = @{ $main::af[0] };
    my $other = $first eq 'x' ? 'y' : 'x';
    is_deeply(\@main::af, [[$first], [$first], [$first, $other], [$other]],
              'kept, then moved once its account was suspended, and kept again');
}



=== TEST 14: X-Account-ID picks an account, for the keys allowed to
--- http_config eval: $::HTTP
--- config
    location /v1/ {
        q2api_api_key sk-admin-0123456789 sk-user-0123456789;
        q2api_account_header_keys sk-admin-0123456789;
        q2api_pass claude;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
--- user_files eval: main::accounts('a', 'b', 'c')
--- request eval
my $b = q{{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}};
[("POST /v1/messages\n$b") x 4]
--- more_headers eval
["x-api-key: sk-admin-0123456789\nX-Account-ID: b",
 "x-api-key: sk-admin-0123456789\nX-Account-ID: b",
 "x-api-key: sk-user-0123456789\nX-Account-ID: b",
 "x-api-key: sk-admin-0123456789\nX-Account-ID: nope"]
--- error_code eval
[200, 200, 403, 404]
--- response_body_like eval
[qr/"type":"message"/, qr/"type":"message"/,
 qr/"type":"permission_error","message":"this key may not choose an account \(X-Account-ID\)"/,
 qr/"type":"not_found_error","message":"no account \\"nope\\""/]
--- mock_check eval
sub {
    my ($reqs) = @_;
    is_deeply(main::tokens($reqs), @$reqs ? ['b'] : [], 'account b, or no call');
}



=== TEST 15: 10,000 accounts load, serve, and are written back
--- http_config
    q2api_zone q2api 64m;
    q2api_store file html/accounts.json;
    q2api_store_interval 100ms;
    q2api_amazonq_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT/;
--- config eval: $::RR
--- user_files eval
[[ 'accounts.json' => JSON::PP->new->encode([ map { { id => "acc-$_", label => "n$_", accessToken => "tok-$_", clientId => "c$_", clientSecret => "s" x 40, refreshToken => "r" x 80 } } 1 .. 10000 ]) ]]
--- request eval
my $b = q{{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}};
[("POST /v1/messages\n$b") x 3]
--- error_code eval
[200, 200, 200]
--- mock_check eval
sub {
    return if ++$main::n15 < 3;
    # 5 MB written in a thread: on a loaded machine the third success may
    # land a few store ticks later, so read until it has (a hang guard)
    my $s;
    for (1 .. 15) {
        $s = main::stored();
        last if grep({ $_->{success_count} } values %$s) >= 3;
    }
    is(scalar keys %$s, 10000, 'all 10,000 written back');
    is(scalar(grep { $_->{success_count} } values %$s), 3, 'three used, in turn');
}
--- timeout: 20



=== TEST 16: a zone too small for the pool stops nginx with the reason
--- http_config
    q2api_zone q2api 256k;
    q2api_store file html/accounts.json;
--- config eval: $::RR
--- user_files eval
[[ 'accounts.json' => JSON::PP->new->encode([ map { { id => "acc-$_", accessToken => "t" x 200 } } 1 .. 3000 ]) ]]
--- request
GET /
--- must_die
--- error_log
make q2api_zone larger



=== TEST 17: an empty pool is a 503 with retry-after
--- user_files
>>> accounts.json
[]
--- request
POST /v1/messages
{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 503
--- response_headers
retry-after: 10
--- response_body_like chomp
"type":"api_error","message":"no usable backend account
--- mock_requests: 0



=== TEST 18: disabled accounts are never used
--- user_files
>>> accounts.json
{"accounts": [{"id": "off", "accessToken": "tok-off", "enabled": 0},
              {"id": "on", "accessToken": "tok-on", "enabled": true}]}
--- request eval
[ map { qq{POST /v1/messages\n{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi $_"}]}} } 1 .. 6 ]
--- error_code eval
[ (200) x 6 ]
--- mock_request_headers
authorization: Bearer tok-on
