# What people read of the pool besides the scrape: the access log's
# $q2api_* variables, named client keys (their names everywhere, their
# values nowhere: logs, metrics, /healthz, /v2/status), token refreshes
# counted by provider and result, /healthz's store and zone members, and
# /v2/status with its ring of samples.

use strict;
use warnings;

use Test::More;
use HTTP::Tiny;
use JSON::PP ();
use Time::HiRes qw(sleep);

use Q2api::Mock;
use Q2api::Mock::AmazonQ qw(:builders);
use Q2api::Nginx;
use Q2api::Metrics qw(scrape value sum promtool_ok);

my $mock = Q2api::Mock->new;
$mock->start;
my $mport = $mock->port;

my $json = JSON::PP->new->canonical;
my $root = Q2api::Nginx->root;

my $http = <<"_EOC_";
    include $root/conf/q2api_log_json.conf;
    q2api_zone q2api 8m;
    q2api_store file accounts.json;
    q2api_store_interval 100ms;
    q2api_amazonq_url http://127.0.0.1:$mport/;
    q2api_oidc_url http://127.0.0.1:$mport;
    q2api_metrics_interval 1s;
    q2api_metrics_accounts 1;
$Q2api::Metrics::LOG_FORMAT
_EOC_

my $server = <<'_EOC_';
        location /v1/ {
            q2api_select round_robin;
            q2api_api_key name=alice sk-alice-secret-0123456789
                          name=bob.b sk-bob-secret-0123456789;
            q2api_pass claude;
            access_log logs/q2api.log q2json;
            access_log logs/q2api-json.log q2api_json;
        }

        location = /metrics {
            q2api_metrics;
        }

        location / {
            q2api_admin;
            q2api_admin_password admin-password-1;
        }
_EOC_

# --- nginx -t names a bad key name ------------------------------------------

sub conf_test {
    my ($keys) = @_;
    my $t = Q2api::Nginx->new(http => $http,
                              server => $server =~ s/q2api_api_key[^;]*;/$keys/r);
    $t->write_file('conf/nginx.conf', $t->config);
    my $p = $t->prefix;
    my $out = `$t->{binary} -t -p $p/ -c $p/conf/nginx.conf 2>&1`;
    return ($? == 0, $out);
}

my ($good, $out) = conf_test('q2api_api_key name=a-b_c.d sk-0123456789 '
                             . 'sk-unnamed-0123;');
ok($good, 'names of letters, digits, "-", "_" and "." pass nginx -t')
    or diag $out;

($good, $out) = conf_test('q2api_api_key name=al/ice sk-0123456789;');
ok(!$good, 'a name with "/" fails nginx -t');
like($out, qr/q2api_api_key": invalid "name=al\/ice"/, 'naming the argument');
unlike($out, qr/sk-0123456789/, 'and not the key');

($good, $out) = conf_test('q2api_api_key sk-0123456789 name=alice;');
ok(!$good, 'a name with no key after it fails nginx -t');
like($out, qr/a key follows it/, 'saying a key must follow');

# --- traffic -------------------------------------------------------------

my $n = Q2api::Nginx->new(http => $http, server => $server);

# two accounts whose tokens expired: each is refreshed before its use; the
# first refresh works, the second is refused (the account needs a login)
$n->write_file('accounts.json', $json->encode([
    map { { id => "r$_", accessToken => "tok-old-$_",
            refreshToken => "ref-$_", clientId => 'client-1',
            clientSecret => 'secret-1', expires_at => time - 60 } } 1, 2 ]));

my $usage = { uncachedInputTokens => 11, outputTokens => 7,
              cacheReadInputTokens => 5, cacheWriteInputTokens => 0,
              totalTokens => 23 };
$mock->set_script({
    by_path => { '/token' => [
        { json => { accessToken => 'tok-new', refreshToken => 'ref-new',
                    expiresIn => 3600, tokenType => 'Bearer' } },
        { status => 400, json => { error => 'invalid_grant' } } ] },
    by_token => { 'tok-new' => [ text_response({ token_usage => $usage },
                                               'Hel', 'lo') ] },
});

$n->start;

my $body = '{"model":"claude-sonnet-4-5","max_tokens":10,'
         . '"messages":[{"role":"user","content":"hi"}]}';
my %alice = ('x-api-key' => 'sk-alice-secret-0123456789');
my %bob = (Authorization => 'Bearer sk-bob-secret-0123456789');

my $s0 = scrape($n);
my @st;
for (1 .. 8) {
    push @st, $n->post('/v1/messages', $body, %alice)->{status};
    last if sum(scrape($n), 'q2api_token_refreshes_total') >= 2;
}
is_deeply([ grep { $_ != 200 } @st ], [], 'every request answered 200');
my $s1 = scrape($n);
is(value($s1, 'q2api_token_refreshes_total', provider => 'aws_oidc',
         result => 'ok'), 1, 'one refresh ok');
is(value($s1, 'q2api_token_refreshes_total', provider => 'aws_oidc',
         result => 'refused'), 1, 'one refresh refused');
is(value($s1, 'q2api_accounts', kind => 'amazonq', state => 'needs_login'),
   1, 'the refused account needs a login');
ok(promtool_ok($s1->{text}), 'promtool');
unlike($s1->{text}, qr/^q2api_account_/m,
       'two accounts, over q2api_metrics_accounts: no per-account series');

is($n->post('/v1/messages', $body, %bob)->{status}, 200, 'bob, by bearer');
is($n->post('/v1/messages', '{"model":"claude-sonnet-4-5"}', %bob)->{status},
   400, 'bob, a bad request');
is($n->post('/v1/messages', $body, 'x-api-key' => 'sk-wrong-0123456789')
   ->{status}, 401, 'an unknown key');

# --- the access log --------------------------------------------------------

my @log;
for (1 .. 100) {
    @log = map { $json->decode($_) }
           split /\n/, $n->read_file('logs/q2api.log') // '';
    last if @log >= @st + 3;
    sleep 0.05;
}
is(scalar @log, @st + 3, 'a line per request');

my ($ok) = grep { $_->{key} eq 'bob.b' && $_->{status} eq '200' } @log;
my $ttfb = delete $ok->{ttfb};
like($ttfb, qr/^\d+\.\d{3}$/, "\$q2api_ttfb in seconds: $ttfb");
is($ok->{front}, 'claude', '$q2api_front');
is($ok->{backend}, 'amazonq', '$q2api_backend');
is($ok->{model}, 'claude-sonnet-4-5', '$q2api_model: the client\'s name');
is($ok->{upstream_model}, 'claude-sonnet-4.5', '$q2api_upstream_model');
is($ok->{in}, '11', '$q2api_input_tokens');
is($ok->{out}, '7', '$q2api_output_tokens');
is($ok->{cache_read}, '5', '$q2api_cache_read_tokens');
is($ok->{stop}, 'end_turn', '$q2api_stop_reason');
is($ok->{error}, '', 'no $q2api_error_type');
is($ok->{attempts}, '1', '$q2api_attempts');
like($ok->{account}, qr/^r[12]$/, '$q2api_account');

my ($bad) = grep { $_->{key} eq 'bob.b' && $_->{status} eq '400' } @log;
is($bad->{error}, 'invalid_request', '$q2api_error_type of a 400');
is($bad->{in}, '', 'no tokens for it');
is($bad->{backend}, '', 'nor a back end');

my ($unknown) = grep { $_->{status} eq '401' } @log;
is($unknown->{key}, '', 'an unknown key has no name');
is($unknown->{error}, 'authentication', 'authentication error');

# conf/q2api_log_json.conf: a JSON object per line
my @jl = map { $json->decode($_) }
         split /\n/, $n->read_file('logs/q2api-json.log') // '';
is(scalar @jl, scalar @log, 'conf/q2api_log_json.conf: a JSON line each');
my ($j200) = grep { $_->{key} eq 'bob.b' && $_->{status} == 200 } @jl;
is_deeply([ @$j200{qw(front backend model input_tokens output_tokens
                      cache_read_tokens stop_reason error_type)} ],
          [ 'claude', 'amazonq', 'claude-sonnet-4-5', 11, 7, 5, 'end_turn',
            '' ], 'with the variables');

# --- /healthz and /v2/status ------------------------------------------------

sub get_json {
    my ($path, %h) = @_;
    my $r = $n->get($path, %h);
    return ($r->{status}, $r->{content},
            $r->{status} == 200 ? $json->decode($r->{content}) : undef);
}

my ($hs, $htext, $h);
for (1 .. 50) {
    ($hs, $htext, $h) = get_json('/healthz');
    last if $h && defined $h->{store}{last_write_age};
    sleep 0.1;
}
is($hs, 200, '/healthz');
is($h->{store}{up}, JSON::PP::true, 'the store is up');
ok(defined $h->{store}{last_write_age} && $h->{store}{last_write_age} >= 0,
   'and wrote lately');
is($h->{zone}{accounts}, 2, 'the zone holds 2 accounts');
ok($h->{zone}{free} > 0 && $h->{zone}{free} < $h->{zone}{size},
   'its free bytes are under its size');

my ($ss) = get_json('/v2/status');
is($ss, 401, '/v2/status needs the admin password');

my $status;
for (1 .. 60) {
    my (undef, undef, $j) = get_json('/v2/status',
                                     Authorization => 'Bearer admin-password-1');
    $status = $j;
    last if $j && @{ $j->{series}{samples} } >= 2
            && $j->{series}{samples}[-1][10] == sum(scrape($n),
                                                    'q2api_requests_total');
    sleep 0.1;
}
ok($status, '/v2/status answers');
is($status->{step}, 1, 'a sample a second here');
is($status->{pool}{accounts}, 2, 'two accounts');
is($status->{pool}{states}{needs_login}, 1, 'one needs a login');
is($status->{pool}{states}{active}, 1, 'one active');
is_deeply($status->{series}{fields},
          [ qw(time accounts active cooling quota suspended token_rejected
               needs_login too_many_errors needs_validation ineligible
               disabled requests failed
               tokens_in tokens_out) ], 'the sample fields');
my @samples = @{ $status->{series}{samples} };
ok(@samples >= 2, scalar(@samples) . ' samples');
ok($samples[-1][0] > $samples[0][0], 'oldest first');
is(scalar @{ $samples[-1] }, 16, 'a value per field');
my ($requests) = grep { $status->{series}{fields}[$_] eq 'requests' }
                 0 .. $#{ $status->{series}{fields} };
is($samples[-1][$requests], sum(scrape($n), 'q2api_requests_total'),
   'the last sample counted every request');
my %keys = map { $_->{name} => $_ } @{ $status->{keys} };
is($keys{alice}{requests}, scalar @st, 'alice\'s requests');
is($keys{'bob.b'}{requests}, 2, 'bob\'s');
is($keys{'bob.b'}{failed}, 1, 'one of them failed');
is($keys{'bob.b'}{input_tokens}, 11, 'bob\'s input tokens');
is($keys{none}{requests}, 1, 'the unknown key under "none"');

# --- the values of keys appear nowhere ----------------------------------------

my (undef, $stext) = get_json('/v2/status',
                              Authorization => 'Bearer admin-password-1');
my %seen = (
    'error.log' => $n->read_file('logs/error.log'),
    'access.log' => $n->read_file('logs/access.log'),
    'q2api.log' => $n->read_file('logs/q2api.log'),
    'metrics' => scrape($n)->{text},
    '/healthz' => $htext,
    '/v2/status' => $stext,
);
for my $where (sort keys %seen) {
    my $t = $seen{$where} // '';
    ok($t ne '' && $t !~ /sk-(?:alice|bob)-secret|sk-wrong-0123456789/,
       "no key value in $where");
}
like($seen{metrics}, qr/key="alice"/, 'the metrics name alice');
like($seen{'q2api.log'}, qr/"key":"bob\.b"/, 'the log names bob.b');

# --- device logins by result ---------------------------------------------------

sub login {
    my ($token, $expires) = @_;
    $mock->reset;
    $mock->set_script({ by_path => {
        '/client/register' => [ { json => { clientId => 'c-1',
                                            clientSecret => 's-1' } } ],
        '/device_authorization' => [ { json => {
            deviceCode => 'dc-1', userCode => 'WXYZ-1234',
            verificationUri => 'https://device.example',
            verificationUriComplete => 'https://device.example?c=1',
            expiresIn => $expires, interval => 1 } } ],
        '/token' => [ $token ] } });
    my $ua = HTTP::Tiny->new(timeout => 30);
    my %h = (headers => { Authorization => 'Bearer admin-password-1',
                          'content-type' => 'application/json' });
    my $base = 'http://127.0.0.1:' . $n->port;
    my $r = $ua->request('POST', "$base/v2/auth/start",
                         { %h, content => '{"label":"m"}' });
    my $id = $json->decode($r->{content})->{authId};
    return $ua->request('POST', "$base/v2/auth/claim/$id",
                        { %h, content => '' })->{status};
}

my $l0 = scrape($n);
is(login({ json => { accessToken => 'a-1', refreshToken => 'r-1',
                     expiresIn => 3600 } }, 600), 200, 'a login approved');
is(login({ status => 400, json => { error => 'access_denied' } }, 600), 502,
   'a login refused');
is(login({ status => 400, json => { error => 'authorization_pending' } }, 1),
   408, 'a login nobody approved');
my $l1 = scrape($n);
for my $r (qw(ok refused expired)) {
    is(sum($l1, 'q2api_device_logins_total', result => $r)
       - sum($l0, 'q2api_device_logins_total', result => $r), 1,
       "device logins $r +1");
}
is(sum($l1, 'q2api_device_logins_total', result => 'error'), 0, 'no error');

# conf/grafana-q2api.json queries families that exist
open my $gf, '<', "$root/conf/grafana-q2api.json" or die "grafana: $!";
my $dash = $json->decode(do { local $/; <$gf> });
my %used;
for my $p (@{ $dash->{panels} }) {
    $used{$_} = 1 for map { $_->{expr} =~ /\b(q2api_\w+)/g }
                      @{ $p->{targets} || [] };
}
my $text = scrape($n)->{text};
my $readme = do { open my $r, '<', "$root/README.md" or die; local $/; <$r> };
ok(keys %used >= 10, scalar(keys %used) . ' families on the dashboard');
for my $name (sort keys %used) {
    (my $family = $name) =~ s/_(?:bucket|sum|count)$//;
    ok(($name eq 'q2api_accounts_next_return_seconds'
        || $text =~ /^\Q$name\E[{ ]/m)
       && $readme =~ /\Q$family\E/, "$name: exported and documented");
}

$n->stop;
$mock->stop;

done_testing();
