#!/usr/bin/perl

# How quickly the web console shows a pool of 10,000 accounts: nginx with
# the built module and 10,000 accounts in its file store, the console in
# headless Chromium (bench/console-render.mjs).  Numbers, never a gate.
#
#   make bench-console        (BENCH_ACCOUNTS=N for another pool size)

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
my $ROOT;
BEGIN { $ROOT = abs_path(dirname(abs_path(__FILE__)) . '/..') }
use lib "$ROOT/t/mock/lib";

use JSON::PP ();
use Q2api::Nginx;
use Q2api::Node qw(which);

my $N = $ENV{BENCH_ACCOUNTS} || 10000;
my $PASSWORD = 'bench-password-1';
my $NODE = which('node') or die "node is not installed\n";
my $CHROMIUM = $ENV{CHROMIUM} || which('chromium')
    or die "chromium is not installed (make deps)\n";

my @states = qw(active active active active cooling quota suspended);
my @rows = map {
    { id => sprintf('bench-%05d', $_), label => sprintf('account %05d', $_),
      accessToken => "tok-$_", enabled => $_ % 10 ? 1 : 0,
      type => $_ % 3 ? 'amazonq' : 'kiro', status => $states[$_ % @states],
      created_at => 1700000000 + $_, success_count => $_ * 7 % 1000,
      tokens_in => $_ * 131 % 100000, tokens_out => $_ * 17 % 50000 }
} 1 .. $N;

my $n = Q2api::Nginx->new(workers => 1, http => <<"_EOC_", server => <<"_EOC_");
    q2api_zone q2api 256m;
    q2api_store file accounts.json;
_EOC_
        location / {
            root $ROOT/html;
            include $ROOT/conf/q2api_console.conf;
        }

        location /admin/ {
            q2api_admin;
            q2api_admin_password $PASSWORD;
        }
_EOC_
$n->write_file('accounts.json', JSON::PP->new->encode(\@rows));
$n->start;

local $ENV{CONSOLE_URL} = 'http://127.0.0.1:' . $n->port . '/';
local $ENV{ADMIN_PASSWORD} = $PASSWORD;
local $ENV{CHROMIUM} = $CHROMIUM;
local $ENV{BENCH_ACCOUNTS} = $N;
my $rc = system($NODE, "$ROOT/bench/console-render.mjs");
$n->stop;
exit($rc ? 1 : 0);
