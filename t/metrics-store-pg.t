# The store's health in the metrics with a PostgreSQL store: up, the age
# of the last write, pending changes, and the NOTIFY lag once a row added
# elsewhere is announced; up goes to 0 while PostgreSQL is down and back
# to 1.  Skips when the PostgreSQL server packages are missing.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep time);

use Q2api::Mock;
use Q2api::Mock::AmazonQ qw(:builders);
use Q2api::Nginx;
use Q2api::Pg;
use Q2api::Metrics qw(scrape value promtool_ok);

my $pg = Q2api::Pg->new
    or plan skip_all => 'no PostgreSQL server: ' . Q2api::Pg->why;

$SIG{INT} = $SIG{TERM} = sub { exit 130 };

$pg->start;

my $mock = Q2api::Mock->new(watch_parent => 1);
$mock->start;
$mock->set_script({ responses => [ text_response('ok') ] });
my $mport = $mock->port;
my $ci = $pg->conninfo(db => 'postgres');

my $n = Q2api::Nginx->new(http => <<"_EOC_", server => <<'_EOC_');
    q2api_zone q2api 8m;
    q2api_store postgres "$ci";
    q2api_store_interval 100ms;
    q2api_amazonq_url http://127.0.0.1:$mport/;
_EOC_
        location /v1/ {
            q2api_pass claude;
        }

        location = /metrics {
            q2api_metrics;
        }
_EOC_
$n->start;

sub wait_for {
    my ($secs, $cond) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) {
        my $v = $cond->();
        return $v if $v;
        sleep 0.05;
    }
    return $cond->();
}

my $up = wait_for(10, sub { (value(scrape($n), 'q2api_store_up') // 0) == 1 });
ok($up, 'the store is up');

# a row added by another host, announced as q2api announces it
$pg->psql("INSERT INTO accounts (id, accessToken) VALUES ('acc-n', 'tok-n');"
        . " NOTIFY q2api_accounts, 'otherhost:acc-n'");
my $lag = wait_for(10, sub {
    my $s = scrape($n);
    (value($s, 'q2api_zone_accounts') // 0) == 1
        && value($s, 'q2api_store_notify_lag_seconds');
});
ok(defined $lag, "the NOTIFY lag is measured: ${\ ($lag // 'none')} s");
ok(($lag // -1) >= 0 && ($lag // 99) < 10, 'and small');

is($n->post('/v1/messages', '{"model":"claude-sonnet-4-5","max_tokens":10,'
            . '"messages":[{"role":"user","content":"hi"}]}')->{status},
   200, 'served by the announced account');
my $age = wait_for(10, sub {
    my $s = scrape($n);
    defined value($s, 'q2api_store_last_write_age_seconds')
        && value($s, 'q2api_store_pending_changes') == 0
        && [ value($s, 'q2api_store_last_write_age_seconds') ];
});
ok($age && $age->[0] >= 0 && $age->[0] < 10,
   'its counters were written: a recent write, nothing pending');
ok(promtool_ok(scrape($n)->{text}), 'promtool');

# PostgreSQL away: the store is down, then up again
$pg->stop;
ok(wait_for(15, sub { (value(scrape($n), 'q2api_store_up') // 1) == 0 }),
   'the store is down while PostgreSQL is');
$pg->start;
ok(wait_for(30, sub { (value(scrape($n), 'q2api_store_up') // 0) == 1 }),
   'and up again');

$n->stop;
$mock->stop;

done_testing();
