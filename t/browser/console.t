#!/usr/bin/perl

# The web console (html/) in headless Chromium: Debian's chromium package
# driven by playwright-core (t/browser/node_modules), against a real nginx
# with the built module, the example conf's console location
# (conf/q2api_console.conf), the donate API (conf/q2api_donate.conf) and
# the mock behind it for Amazon Q and the OIDC service.  The browser side is t/browser/*.test.mjs; its results are
# relayed here one by one.  Screenshots go to build/browser-artifacts/.
#
#   make browser-deps && prove -I t/mock/lib t/browser/console.t
#   BROWSER_TESTS=donate prove ...   (one file of t/browser/ alone)
#
# Skips when chromium, node or playwright-core are missing, except under
# CI=true, where a missing piece is a failure: CI must run these.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
my $ROOT;
BEGIN { $ROOT = abs_path(dirname(abs_path(__FILE__)) . '/../..') }
use lib "$ROOT/t/mock/lib";

use File::Path qw(make_path remove_tree);
use File::Temp ();
use Test::More;

use Q2api::Mock;
use Q2api::Mock::AmazonQ qw(:builders);
use Q2api::Mock::Google qw(load_code_assist);
use Q2api::Nginx;
use Q2api::Node qw(which run_cmd relay_node_tap missing);

my $DIR = "$ROOT/t/browser";
my $ARTIFACTS = "$ROOT/build/browser-artifacts";
my $PASSWORD = 'console-password-1';


my $NODE = which('node') or missing('node is not installed');
my $CHROMIUM = $ENV{CHROMIUM} || which('chromium') || '';
-x $CHROMIUM
    or missing('chromium is not installed (apt-get install chromium, '
               . 'or make deps)');
-f "$DIR/node_modules/playwright-core/package.json"
    or missing('t/browser/node_modules/playwright-core is missing: run '
               . 'make browser-deps');

my $mock = Q2api::Mock->new(watch_parent => 1);
$mock->set_script({
    by_path => {
        '/client/register' => [ { json => { clientId => 'dev-client',
                                            clientSecret => 'dev-secret' } } ],
        '/device_authorization' => [ { json => {
            deviceCode => 'dc-1', userCode => 'WXYZ-1234',
            verificationUri => 'https://device.example',
            verificationUriComplete => 'https://device.example/?code=WXYZ-1234',
            expiresIn => 600, interval => 1 } } ],
        # a pending poll first, so that the page shows the wait; then the
        # login's tokens (and those of any refresh after it)
        '/token' => [ { status => 400, json => { error => 'authorization_pending' } },
                      { json => { accessToken => 'dev-access',
                                  refreshToken => 'dev-refresh',
                                  expiresIn => 3600 } } ],
        # Code Assist's project lookup; Google's token endpoint
        # (/oauth2/token) is scripted by each test (t/browser/mock.mjs)
        '/v1internal:loadCodeAssist' => [ load_code_assist(project => 'fluent-cosmos-a1b2c3') ],
        '/getUsageLimits' => [ { json => {
            subscriptionInfo => { subscriptionTitle => 'KIRO FREE' },
            nextDateReset => 1900000000,
            usageBreakdownList => [ { resourceType => 'CREDIT',
                                      usageLimitWithPrecision => 50,
                                      currentUsageWithPrecision => 12,
                                      nextDateReset => 1900000000 } ] } } ],
    },
    responses => [ text_response({ drip_ms => 50 }, 'Hello ', 'from ',
                                 'the mock.') ],
});
$mock->start;
my $mport = $mock->port;

my $n = Q2api::Nginx->new(workers => 2, http => <<"_EOC_", server => <<"_EOC_");
    q2api_zone q2api 16m;
    q2api_store file accounts.json;
    q2api_store_interval 100ms;
    q2api_amazonq_url http://127.0.0.1:$mport/;
    q2api_oidc_url http://127.0.0.1:$mport;
    q2api_kiro_auth_url http://127.0.0.1:$mport;
    q2api_kiro_url http://127.0.0.1:$mport/generateAssistantResponse;
    q2api_kiro_usage_url http://127.0.0.1:$mport/getUsageLimits;
    q2api_kiro_profiles_url http://127.0.0.1:$mport/ListAvailableProfiles;
    limit_req_zone \$binary_remote_addr zone=q2api_donate:1m rate=60r/m;
    q2api_metrics_interval 1s;
    q2api_google_oauth_url http://127.0.0.1:$mport/oauth2;
    q2api_code_assist_url http://127.0.0.1:$mport;
_EOC_
        location / {
            root $ROOT/html;
            include $ROOT/conf/q2api_console.conf;
        }

        location /donate/api/ {
            include $ROOT/conf/q2api_donate.conf;
        }

        location /admin/ {
            q2api_admin;
            q2api_admin_password $PASSWORD;
            client_max_body_size 32m;
        }
_EOC_
$n->write_file('accounts.json', '[]');
$n->start;

remove_tree($ARTIFACTS);
make_path($ARTIFACTS);
my $tmp = File::Temp->newdir('q2api-browser-XXXXXX', TMPDIR => 1);

my %env = (
    %ENV,
    CONSOLE_URL => 'http://127.0.0.1:' . $n->port . '/',
    ADMIN_PASSWORD => $PASSWORD,
    MOCK_STATE_DIR => $mock->state_dir,
    CHROMIUM => $CHROMIUM,
    ARTIFACTS => $ARTIFACTS,
    NODE_NO_WARNINGS => 1,
);

# BROWSER_TESTS=donate runs t/browser/donate.test.mjs alone
for my $path (sort glob("$DIR/" . ($ENV{BROWSER_TESTS} || '*') . ".test.mjs")) {
    (my $file = $path) =~ s{.*/}{};
    my $r = run_cmd(dir => $tmp->dirname, cmd => [$NODE, '--test-reporter=tap',
                                                  $path],
                    env => \%env, cwd => $DIR, timeout => 300);
    my ($count, $failed) = relay_node_tap($file, $r->{out});
    fail("$file finished within 300 s") if $r->{timed_out};
    fail("$file: node exited with $r->{rc}") if $r->{rc} && !$failed;
    ok($count > 0, "$file ran tests");
    if ($r->{rc} || !$count) {
        diag("node stderr:\n$r->{err}") if $r->{err} =~ /\S/;
        diag("error.log:\n" . ($n->read_file('logs/error.log') // ''));
    }
}

unlike($n->read_file('logs/error.log') // '', qr/\[(alert|emerg)\]|signal \d+/,
       'no worker crashed');

$n->stop;
$mock->stop;

done_testing();
