package Q2api::Gateway;

# Default gateway configuration for the suites, so that every block runs
# the shipped conf/q2api_upstream.conf against the mock:
#
#   use Test::Nginx::Socket 'no_plan';
#   use Q2api::Test;
#   use Q2api::Gateway;
#
# A block without --- http_config gets the zone, the file store
# (html/accounts.json under the server root) and q2api_amazonq_url pointing
# at the mock; without --- config it gets "location /v1/messages
# { q2api_pass claude; }" and the upstream include; without --- user_files
# it gets one enabled account "acc-1" with token "tok-1".  Blocks that set
# these sections themselves can use $TEST_NGINX_Q2API_CONF (the repository's
# conf/ directory) and $TEST_NGINX_MOCK_PORT.
#
# $Q2api::Gateway::API_ROOT is the whole API root (/v1/, so count_tokens and
# /v1/models too) for "--- config eval"; the suites split by layer share it.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);

my $CONF_DIR = abs_path(dirname(__FILE__) . '/../../../../conf');

$ENV{TEST_NGINX_Q2API_CONF} = $CONF_DIR;

our $HTTP_CONFIG = <<'_EOC_';
    q2api_zone q2api 4m;
    q2api_store file html/accounts.json;
    q2api_amazonq_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT/;
_EOC_

our $CONFIG = <<'_EOC_';
    location /v1/messages {
        q2api_pass claude;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
_EOC_

our $API_ROOT = <<'_EOC_';
    location /v1/ {
        q2api_pass claude;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
_EOC_

our $ACCOUNTS = <<'_EOC_';
>>> accounts.json
[{"id": "acc-1", "label": "one", "accessToken": "tok-1", "enabled": 1}]
_EOC_

sub import {
    my $add = Test::Nginx::Socket->can('add_block_preprocessor')
        or die "Q2api::Gateway needs Test::Nginx::Socket loaded first\n";

    $add->(sub {
        my $block = shift;

        $block->set_value('http_config', $HTTP_CONFIG)
            unless defined $block->http_config;
        $block->set_value('config', $CONFIG)
            unless defined $block->config;
        $block->set_value('user_files', $ACCOUNTS)
            unless defined $block->user_files;
    });
}

1;
