# q2api_metrics against known traffic on two workers: exact counter deltas
# for successes and each failure class (client error, failover, rate
# limited, no account, upstream error, timeout, aborted), histogram counts,
# token sums equal to what the access log showed, gauges of the pool, the
# counters across "nginx -s reload", and promtool's lint of the exposition
# in both formats.

use strict;
use warnings;

use Test::More;
use IO::Socket::INET;
use JSON::PP ();
use HTTP::Tiny;
use Time::HiRes qw(sleep);

use Q2api::Mock;
use Q2api::Mock::AmazonQ qw(:builders);
use Q2api::Nginx;
use Q2api::Metrics qw(scrape value sum promtool_ok);

my $mock = Q2api::Mock->new;
$mock->start;
my $mport = $mock->port;

my $usage = { uncachedInputTokens => 11, outputTokens => 7,
              cacheReadInputTokens => 5, cacheWriteInputTokens => 3,
              totalTokens => 26 };
my $ok = text_response({ token_usage => $usage }, 'Hel', 'lo');

my $n = Q2api::Nginx->new(http => <<"_EOC_", server => <<'_EOC_');
    q2api_zone q2api 8m;
    q2api_store file accounts.json;
    q2api_store_interval 200ms;
    q2api_amazonq_url http://127.0.0.1:$mport/;
    q2api_metrics_interval 1s;
    q2api_amazonq_location /_metrics_test/amazonq;
$Q2api::Metrics::LOG_FORMAT
_EOC_
        location /v1/ {
            q2api_select round_robin;
            q2api_api_key name=alice sk-alice-0123456789
                          name=bob sk-bob-0123456789 sk-anonymous-0123;
            q2api_pass claude;
            access_log logs/q2api.log q2json;
        }

        location = /metrics {
            q2api_metrics;
        }

        location / {
            q2api_admin;
            q2api_admin_password admin-password-1;
        }

        # the Amazon Q call with a short read timeout: a silent backend
        # is a timeout within the test
        location = /_metrics_test/amazonq {
            internal;
            proxy_pass $q2api_upstream_url;
            proxy_method POST;
            proxy_http_version 1.1;
            proxy_pass_request_headers off;
            proxy_set_header Connection "";
            proxy_set_header Content-Type "application/x-amz-json-1.0";
            proxy_set_header X-Amz-Target
                "AmazonCodeWhispererStreamingService.GenerateAssistantResponse";
            proxy_set_header Authorization $q2api_authorization;
            proxy_buffering off;
            proxy_read_timeout 1s;
        }
_EOC_

my $json = JSON::PP->new->canonical;

sub accounts {
    $json->encode([ map { { id => $_, accessToken => "tok-$_" } } @_ ]);
}

my $body = '{"model":"claude-sonnet-4-5","max_tokens":10,'
         . '"messages":[{"role":"user","content":"hi"}]}';
my %alice = ('x-api-key' => 'sk-alice-0123456789');
my %bob = ('x-api-key' => 'sk-bob-0123456789');
my %anon = ('x-api-key' => 'sk-anonymous-0123');

sub post { $n->post('/v1/messages', $body, @_)->{status} }

sub delta {
    my ($before, $after, $name, %labels) = @_;
    return sum($after, $name, %labels) - sum($before, $name, %labels);
}

sub logged {
    my @l = split /\n/, $n->read_file('logs/q2api.log') // '';
    return map { $json->decode($_) } @l;
}

sub wait_log {
    my ($count) = @_;
    for (1 .. 100) {
        my @l = logged();
        return @l if @l >= $count;
        sleep 0.05;
    }
    return logged();
}

$n->write_file('accounts.json', accounts('a', 'b'));
$n->start;

my $m = sub { scrape($n) };

# --- successes ------------------------------------------------------------

$mock->set_script({ responses => [ $ok ] });

my $s0 = $m->();
ok(promtool_ok($s0->{text}), 'an idle exposition passes promtool');

is(post(%alice), 200, 'alice 1') for 1 .. 3;
is(post(%bob), 200, 'bob 1') for 1 .. 2;
is(post(%anon), 200, 'an unnamed key');

my $s1 = $m->();
my %ok = (front => 'claude', backend => 'amazonq',
          model => 'claude-sonnet-4-5', outcome => 'ok');
is(delta($s0, $s1, 'q2api_requests_total', %ok), 6, '6 requests ok');
is(delta($s0, $s1, 'q2api_upstream_attempts_total',
         backend => 'amazonq', class => 'ok'), 6, '6 attempts ok');
is(delta($s0, $s1, 'q2api_key_requests_total', key => 'alice',
         outcome => 'ok'), 3, 'alice: 3');
is(delta($s0, $s1, 'q2api_key_requests_total', key => 'bob',
         outcome => 'ok'), 2, 'bob: 2');
is(delta($s0, $s1, 'q2api_key_requests_total', key => 'none',
         outcome => 'ok'), 1, 'the unnamed key counts as "none"');
is(delta($s0, $s1, 'q2api_ttfb_seconds_count', backend => 'amazonq'), 6,
   'TTFB observed 6 times');
is(delta($s0, $s1, 'q2api_ttfb_seconds_bucket', backend => 'amazonq',
         le => '+Inf'), 6, 'the +Inf bucket holds them all');
is(delta($s0, $s1, 'q2api_request_duration_seconds_count',
         backend => 'amazonq'), 6, 'durations observed 6 times');

my @log = wait_log(6);
is(scalar @log, 6, 'six lines in the access log');
my %in_log = (in => 0, out => 0, cache_read => 0);
for my $l (@log) {
    $in_log{$_} += $l->{$_} for keys %in_log;
}
ok($in_log{in} > 0 && $in_log{out} > 0, "tokens logged: in $in_log{in}, "
   . "out $in_log{out}, cache read $in_log{cache_read}");
is(delta($s0, $s1, 'q2api_tokens_total', direction => 'input',
         backend => 'amazonq', model => 'claude-sonnet-4-5'), $in_log{in},
   'input tokens: what the log showed');
is(delta($s0, $s1, 'q2api_tokens_total', direction => 'output'),
   $in_log{out}, 'output tokens: what the log showed');
is(delta($s0, $s1, 'q2api_tokens_total', direction => 'cache_read'),
   $in_log{cache_read}, 'cache read tokens: what the log showed');
is_deeply(\%in_log, { in => 66, out => 42, cache_read => 30 },
          'the back end\'s figures: 11 in, 7 out, 5 cache reads each');
is(delta($s0, $s1, 'q2api_tokens_total', direction => 'cache_write'), 18,
   'cache writes: 3 each');
is(delta($s0, $s1, 'q2api_key_tokens_total', key => 'alice',
         direction => 'input'), $in_log{in} / 2,
   'alice used half the input tokens');

# --- failure classes --------------------------------------------------------

# a request the back end refuses: the client's fault, no failover
$mock->set_script({ responses => [ error_response('malformed') ] });
is(post(%alice), 400, 'a malformed request: 400');
my $s2 = $m->();
is(delta($s1, $s2, 'q2api_requests_total', outcome => 'client_error',
         backend => 'amazonq'), 1, 'client_error +1');
is(delta($s1, $s2, 'q2api_upstream_attempts_total', class => 'client'), 1,
   'one attempt of class client');
is(delta($s1, $s2, 'q2api_failovers_total'), 0, 'no failover');

# the first account throttled: a failover to the other
$mock->set_script({ by_token => { 'tok-a' => [ error_response('throttled') ],
                                  'tok-b' => [ $ok ] } });
my $fail = 0;
$fail += post(%alice) == 200 ? 0 : 1 for 1 .. 2;
is($fail, 0, 'both answered after a failover');
my $s3 = $m->();
is(delta($s2, $s3, 'q2api_failovers_total', backend => 'amazonq',
         class => 'throttled'), 1, 'one failover, class throttled');
is(delta($s2, $s3, 'q2api_upstream_attempts_total', class => 'throttled'),
   1, 'one throttled attempt');
is(delta($s2, $s3, 'q2api_upstream_attempts_total', class => 'ok'), 2,
   'two attempts ok');
is(value($s3, 'q2api_accounts', kind => 'amazonq', state => 'cooling'), 1,
   'one account cooling');
is(value($s3, 'q2api_accounts', kind => 'amazonq', state => 'active'), 1,
   'one active');
my $next = value($s3, 'q2api_accounts_next_return_seconds');
ok(defined $next && $next >= 0 && $next <= 120,
   "the next comes back in ${\ ($next // 'undef')} s");

# the other throttled too: every account cools, rate limited without a try
$mock->set_script({ responses => [ error_response('throttled') ] });
is(post(%bob), 429, 'the last account throttled: 429');
is(post(%bob), 429, 'then all cool: 429 at once');
my $s4 = $m->();
is(delta($s3, $s4, 'q2api_requests_total', outcome => 'rate_limited'), 2,
   'rate_limited +2');
is(delta($s3, $s4, 'q2api_requests_total', outcome => 'rate_limited',
         backend => 'none'), 1, 'one of them never reached a back end');
is(delta($s3, $s4, 'q2api_key_requests_total', key => 'bob',
         outcome => 'rate_limited'), 2, 'bob was limited twice');

# an empty pool: no account
sub admin {
    my ($method, $path, $content) = @_;
    return HTTP::Tiny->new(timeout => 10)->request($method,
        'http://127.0.0.1:' . $n->port . $path,
        { headers => { Authorization => 'Bearer admin-password-1',
                       'content-type' => 'application/json' },
          defined $content ? (content => $content) : () })->{status};
}

sub pool {
    admin('DELETE', "/v2/accounts/$_") for qw(a b c d e);
    for my $id (@_) {
        is(admin('POST', '/v2/accounts',
                 qq({"id":"$id","accessToken":"tok-$id"})), 200,
           "account $id created");
    }
}

pool();
is(post(%alice), 503, 'empty pool: 503');
my $s5 = $m->();
is(delta($s4, $s5, 'q2api_requests_total', outcome => 'no_account',
         backend => 'none'), 1, 'no_account +1');

# a reload keeps every counter
$n->reload;
my $s5r = $m->();
sub counters {
    my ($s) = @_;
    return [ map { my $l = $_->{labels};
                   join ' ', $_->{name}, (map { "$_=$l->{$_}" } sort keys %$l),
                             $_->{value} }
             grep { $_->{name} =~ /_total$|_count$|_bucket$/ }
             @{ $s->{series} } ];
}
is_deeply(counters($s5r), counters($s5),
          'the same counters and counts after a reload');
is(sum($s5r, 'q2api_requests_total'), sum($s5, 'q2api_requests_total'),
   'and the same counts');
is(sum($s5r, 'q2api_request_duration_seconds_count'),
   sum($s5, 'q2api_request_duration_seconds_count'),
   'histograms too');

# upstream errors on every account, then a silent back end (timeout)
pool('c', 'd');
$mock->set_script({ responses => [ error_response('internal') ] });
my $st = post(%alice);
ok($st >= 500, "every account failed: $st");
my $s6 = $m->();
is(delta($s5, $s6, 'q2api_requests_total', outcome => 'upstream_error'), 1,
   'upstream_error +1');
is(delta($s5, $s6, 'q2api_failovers_total', class => 'error')
   + delta($s5, $s6, 'q2api_failovers_total', class => 'capacity'), 1,
   'one failover between the two');

pool('e');
$mock->set_script({ responses => [ { %$ok, delay_ms => 3000 } ] });
is(post(%alice), 504, 'a silent back end: 504');
my $s7 = $m->();
is(delta($s6, $s7, 'q2api_requests_total', outcome => 'timeout'), 1,
   'timeout +1');
is(delta($s6, $s7, 'q2api_upstream_attempts_total', class => 'timeout'), 1,
   'one attempt timed out');

# a client that leaves while the back end thinks: aborted
$mock->set_script({ responses => [ { %$ok, delay_ms => 800 } ] });
my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $n->port)
    or die "connect: $!";
print $c "POST /v1/messages HTTP/1.1\r\nHost: x\r\n"
       . "x-api-key: sk-alice-0123456789\r\n"
       . "content-type: application/json\r\n"
       . "content-length: " . length($body) . "\r\n\r\n$body";
sleep 0.3;
close $c;
my $s8;
for (1 .. 50) {
    sleep 0.1;
    $s8 = $m->();
    last if delta($s7, $s8, 'q2api_requests_total', outcome => 'aborted');
}
is(delta($s7, $s8, 'q2api_requests_total', outcome => 'aborted'), 1,
   'aborted +1');
is(delta($s7, $s8, 'q2api_upstream_attempts_total', class => 'aborted'), 1,
   'its attempt counted as aborted');

# --- the zone and the store -------------------------------------------------

is(value($s8, 'q2api_zone_accounts'), 1, 'one account in the zone');
ok(value($s8, 'q2api_zone_free_bytes', zone => 'accounts') > 0,
   'the accounts zone has free bytes');
is(value($s8, 'q2api_store_pending_changes') >= 0, 1, 'pending changes');
is(value($s8, 'q2api_account_state', account => 'e', kind => 'amazonq',
         state => 'active'), 1, 'per-account gauges while the pool is small');


ok(promtool_ok($s8->{text}), 'the exposition passes promtool');

my $om = scrape($n, 'application/openmetrics-text; version=1.0.0');
like($om->{type}, qr{^application/openmetrics-text}, 'OpenMetrics asked');
like($om->{text}, qr/# EOF\n\z/, 'it ends with # EOF');
like($om->{text}, qr/^# TYPE q2api_requests counter$/m,
     'a counter family is named without _total');
is(sum($om, 'q2api_requests_total'), sum($s8, 'q2api_requests_total'),
   'the same counts in both formats');

$n->stop;
$mock->stop;

done_testing();
