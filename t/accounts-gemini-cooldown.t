# Per-model cooldown of Gemini accounts and routing by model: an account
# out of quota for one model fails over to the next and is skipped for
# that model until its reset, while it goes on serving other models; a
# model an account does not serve (404) is skipped the same way; when
# every account is out for the model the client gets a 429 with the time
# of the first reset; Claude names and gemini-* names reach accounts of
# their own back end in a mixed pool.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test service => 'Q2api::Mock::CodeAssist';
use Q2api::Gateway;
use Q2api::Admin qw(stored);

our $HTTP = <<'_EOC_';
    q2api_zone q2api 4m;
    q2api_gemini_quota_interval 0;
    q2api_store file html/accounts.json;
    q2api_amazonq_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT/amazonq;
    q2api_gemini_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT/v1internal:streamGenerateContent?alt=sse;
_EOC_

# background quota reads on, at the mock
our $QUOTA_HTTP = ($HTTP =~ s/    q2api_gemini_quota_interval 0;\n//r)
    . "    q2api_code_assist_url http://127.0.0.1:\$TEST_NGINX_MOCK_PORT;\n";

our $RR = <<'_EOC_';
    location /v1/ {
        q2api_select round_robin;
        q2api_pass claude;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
_EOC_

our $TWO = <<'_EOC_';
>>> accounts.json
[{"id": "g-1", "type": "gemini", "accessToken": "tok-g1", "enabled": 1,
  "other": {"project": "p-1"}},
 {"id": "g-2", "type": "gemini", "accessToken": "tok-g2", "enabled": 1,
  "other": {"project": "p-2"}}]
_EOC_

sub body {
    my ($model) = @_;
    return "POST /v1/messages\n"
         . qq{{"model":"$model","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}};
}

# the model asked of each account, in order: "g-1:gemini-2.5-pro", ...
sub served {
    my ($reqs) = @_;
    return map { (($_->{headers}{authorization} // '') =~ /tok-(g\d)/ ? $1 : '?')
                 . ':' . ($_->{json}{model} // '?') } @$reqs;
}

repeat_each(1);
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', $HTTP) unless defined $block->http_config;
    $block->set_value('config', $RR) unless defined $block->config;
    $block->set_value('user_files', $TWO) unless defined $block->user_files;
});

run_tests();

__DATA__

=== TEST 1: g-1 out of quota for pro: fail over, then pro only on g-2, flash still on g-1
--- mock eval
{ by_token => { 'tok-g1' => [ gemini_error('quota', array => 1), gemini_text('g1 flash') ],
                'tok-g2' => [ gemini_text('g2') ] } }
--- request eval
[ (map { main::body('gemini-2.5-pro') } 1 .. 4), (map { main::body('gemini-2.5-flash') } 1 .. 4) ]
--- error_code eval
[ (200) x 8 ]
--- mock_check eval
sub {
    my ($reqs) = @_;
    my @all = main::served([ Q2api::Test::mock_requests() ]);
    my @g1_pro = grep { $_ eq 'g1:gemini-2.5-pro' } @all;
    ok(@g1_pro <= 1, 'g-1 asked for pro once at most: ' . CORE::join(' ', @all));
    return unless @all >= 9;
    is(scalar @g1_pro, 1, 'g-1 was asked for pro, and only once');
    ok((grep { $_ eq 'g1:gemini-2.5-flash' } @all) >= 1,
       'g-1 still serves flash: ' . CORE::join(' ', @all));
}



=== TEST 2: every account out for the model: 429 with the first reset, the other model still served
--- user_files
>>> accounts.json
[{"id": "g-1", "type": "gemini", "accessToken": "tok-g1", "enabled": 1,
  "other": {"project": "p-1"}}]
--- mock eval
{ by_token => { 'tok-g1' => [ gemini_error('quota', message => 'quota', reset_at => '2099-01-01T00:00:00Z'),
                              gemini_text('flash ok') ] } }
--- request eval
[ main::body('gemini-2.5-pro'), main::body('gemini-2.5-pro'), main::body('gemini-2.5-flash') ]
--- error_code eval
[ 429, 429, 200 ]
--- response_headers_like eval
[ 'retry-after: ^[1-9][0-9]{8,}$', 'retry-after: ^[1-9][0-9]{8,}$', '' ]
--- mock_requests eval
[ 1, 0, 1 ]



=== TEST 3: a 404 for the model: the account is skipped for it, the next one answers
--- mock eval
{ by_token => { 'tok-g1' => [ gemini_error('not_found') ],
                'tok-g2' => [ gemini_text('g2 has it') ] } }
--- request eval
[ (map { main::body('gemini-3-pro-preview') } 1 .. 3) ]
--- error_code eval
[ 200, 200, 200 ]
--- response_body_like eval
[ qr/g2 has it/, qr/g2 has it/, qr/g2 has it/ ]
--- mock_check eval
sub {
    my @all = main::served([ Q2api::Test::mock_requests() ]);
    ok((grep { $_ eq 'g1:gemini-3-pro-preview' } @all) <= 1,
       'g-1 asked once at most: ' . CORE::join(' ', @all));
}



=== TEST 4: capacity is not the account's: no cooldown, the next account answers
--- mock eval
{ by_token => { 'tok-g1' => [ gemini_error('capacity'), gemini_text('g1 back') ],
                'tok-g2' => [ gemini_text('g2') ] } }
--- request eval
[ (map { main::body('gemini-2.5-pro') } 1 .. 4) ]
--- error_code eval
[ (200) x 4 ]
--- no_error_log
out for



=== TEST 5: a mixed pool: Claude names to Amazon Q, gemini-* to Gemini accounts
--- user_files
>>> accounts.json
[{"id": "q-1", "accessToken": "tok-q1", "enabled": 1},
 {"id": "g-1", "type": "gemini", "accessToken": "tok-g1", "enabled": 1,
  "other": {"project": "p-1"}}]
--- mock eval
{ validate => JSON::PP::false(),
  by_token => { 'tok-g1' => [ gemini_text('from gemini') ],
                'tok-q1' => [ { status => 400, json => { message => 'amazon q reached' } } ] } }
--- request eval
[ (map { main::body('gemini-2.5-flash') } 1 .. 3) ]
--- error_code eval
[ 200, 200, 200 ]
--- response_body_like eval
[ qr/from gemini/, qr/from gemini/, qr/from gemini/ ]
--- mock_check eval
sub {
    my @all = main::served([ Q2api::Test::mock_requests() ]);
    ok(!(grep { !/^g1:/ } @all), 'only the Gemini account: ' . CORE::join(' ', @all));
}



=== TEST 6: a Claude name never reaches a gemini-cli account
--- user_files
>>> accounts.json
[{"id": "q-1", "accessToken": "tok-q1", "enabled": 1},
 {"id": "g-1", "type": "gemini", "accessToken": "tok-g1", "enabled": 1,
  "other": {"project": "p-1"}}]
--- mock eval
{ validate => JSON::PP::false(),
  by_token => { 'tok-g1' => [ gemini_text('wrong') ],
                'tok-q1' => [ { status => 400, json => { __type => 'x#ValidationException', message => 'amazon q reached' } } ] } }
--- request eval
[ (map { main::body('claude-sonnet-4-5') } 1 .. 3) ]
--- error_code eval
[ 400, 400, 400 ]
--- response_body_like eval
[ qr/amazon q reached/, qr/amazon q reached/, qr/amazon q reached/ ]



=== TEST 7: a 429 about a model's quota reads the account's quota in the background: the client's answer does not wait, the reset times are kept
--- http_config eval
$::QUOTA_HTTP
--- mock eval
{ by_path => { '/v1internal:retrieveUserQuota' =>
                   [ quota_buckets([ 'gemini-2.5-pro', 0, '2030-01-01T00:00:00Z' ],
                                   [ 'gemini-2.5-flash', 0.5, '2030-01-01T01:00:00Z' ]) ] },
  by_token => { 'tok-g1' => [ gemini_error('quota', array => 1) ],
                'tok-g2' => [ gemini_text('g2') ] } }
--- request eval
[ main::body('gemini-2.5-pro'), main::body('gemini-2.5-pro') ]
--- error_code eval
[ 200, 200 ]
--- response_body_like eval
[ qr/g2/, qr/g2/ ]
--- mock_check eval
sub {
    my ($reqs, $block) = @_;
    return unless ++$main::seen{$block->name} == 2;
    my ($quota, $o);
    for (1 .. 100) {
        ($quota) = grep { ($_->{path} // '') =~ /retrieveUserQuota/ }
                   Q2api::Test::mock_requests();
        my $s = main::stored();
        my $g = $s && $s->{'g-1'};
        $o = $g && (ref $g->{other} ? $g->{other}
                                    : JSON::PP->new->decode($g->{other} || '{}'));
        last if $quota && $o && $o->{creditsInfo};
        select(undef, undef, undef, 0.1);
    }
    ok($quota, 'retrieveUserQuota was called after the 429');
    is_deeply($quota && $quota->{json}, { project => 'p-1' }, 'for g-1\'s project');
    like($quota && $quota->{headers}{authorization}, qr/tok-g1/, 'with g-1\'s token');
    is($o && $o->{creditsInfo}{models}{'gemini-2.5-flash'}{remainingPercent}, 50,
       'its creditsInfo is kept');
    is($o && $o->{resetTime}, '2030-01-01T00:00:00Z', 'with the earliest reset');
    is($o && $o->{project}, 'p-1', 'the rest of other kept');
}



=== TEST 8: each account's quota is read on its first use, then once an interval: two accounts, four requests, two reads in the background
--- http_config eval
$::QUOTA_HTTP
--- mock eval
{ by_path => { '/v1internal:retrieveUserQuota' =>
                   [ quota_buckets([ 'gemini-2.5-flash', 0.25, '2030-01-01T02:00:00Z' ]) ] },
  by_token => { 'tok-g1' => [ gemini_text('g1') ], 'tok-g2' => [ gemini_text('g2') ] } }
--- request eval
[ (map { main::body('gemini-2.5-flash') } 1 .. 4) ]
--- error_code eval
[ (200) x 4 ]
--- mock_check eval
sub {
    my ($reqs, $block) = @_;
    return unless ++$main::seen{$block->name} == 4;
    my @reads;
    for (1 .. 100) {
        @reads = grep { ($_->{path} // '') =~ /retrieveUserQuota/ }
                 Q2api::Test::mock_requests();
        last if @reads >= 2;
        select(undef, undef, undef, 0.1);
    }
    select(undef, undef, undef, 0.5);
    @reads = grep { ($_->{path} // '') =~ /retrieveUserQuota/ }
             Q2api::Test::mock_requests();
    is(scalar @reads, 2, 'one read per account');
    is_deeply([ sort map { $_->{json}{project} } @reads ], [ 'p-1', 'p-2' ],
              'each for its own project');
    my $s = main::stored();
    for my $id ('g-1', 'g-2') {
        my $g = $s->{$id};
        my $o = ref $g->{other} ? $g->{other} : JSON::PP->new->decode($g->{other} || '{}');
        is($o->{creditsInfo}{models}{'gemini-2.5-flash'}{remainingPercent}, 25,
           "$id: its quota is kept");
    }
}
