# PostgreSQL rows are held to the admin API's rules: a row with CR/LF in
# its token, an id that cannot be addressed, or a host for its ARN's
# region is skipped with a warning naming the column, never the value;
# the other rows serve.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep time);

use Q2api::Mock;
use Q2api::Mock::AmazonQ qw(:builders);
use Q2api::Nginx;
use Q2api::Pg;

my $probe = Q2api::Nginx->new;
plan skip_all => "$probe->{module} is missing: run make"
    unless -f $probe->{module};
undef $probe;

my $pg = Q2api::Pg->new
    or plan skip_all => 'no PostgreSQL server: ' . Q2api::Pg->why;

$SIG{INT} = $SIG{TERM} = sub { exit 130 };

$pg->start;

my $mock = Q2api::Mock->new(watch_parent => 1);
$mock->start;
$mock->set_script({ by_token => { '*' => [ text_response('ok') ] } });
my $mport = $mock->port;

my $ci = $pg->conninfo(db => 'postgres');
my $n = Q2api::Nginx->new(workers => 1, http => <<"_EOC_", server => <<'_EOC_');
    q2api_zone q2api 8m;
    q2api_store postgres "$ci";
    q2api_store_interval 200ms;
    q2api_amazonq_url http://127.0.0.1:$mport/;
_EOC_
        location /v1/ {
            q2api_select round_robin;
            q2api_pass claude;
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

sub log_of { $n->read_file('logs/error.log') // '' }

ok(wait_for(10, sub { log_of() =~ /postgres store ready/ }), 'the store is ready')
    or diag(log_of());

$pg->psql("INSERT INTO accounts (id, accessToken, type, profile_arn) VALUES "
        . "('good', 'tok-good', 'amazonq', NULL), "
        . "('evil', E'evil\\r\\nX-Injected: yes', 'amazonq', NULL), "
        . "('..', 'tok-dots', 'amazonq', NULL), "
        . "('arn', 'tok-arn', 'kiro', "
        . "'arn:aws:codewhisperer:evil.com/x#:1:profile/X'); "
        . join(' ', map { "NOTIFY q2api_accounts, 'psql:$_';" }
                        qw(good evil .. arn)));

my $log = wait_for(10, sub {
    my $l = log_of();
    $l =~ /"accesstoken" refused/i && $l =~ /"id" refused/
        && $l =~ /"profile_arn" refused/ && $l });
ok($log, "each refused row is named by its column") or diag(log_of());
like($log, qr/account row #\d+ skipped: "accesstoken" refused: it must be/i,
     'with the rule it broke');
unlike($log, qr/X-Injected|evil\.com/, 'and never with its value');

$mock->reset;
my $ok = 0;
for (1 .. 4) {
    $ok++ if $n->post('/v1/messages', '{"model":"claude-sonnet-4-5",'
                      . '"max_tokens":10,"messages":[{"role":"user",'
                      . '"content":"hi"}]}')->{status} == 200;
}
is($ok, 4, 'the good row serves');

my @reqs = $mock->requests;
is_deeply([ sort { $a cmp $b } keys %{{ map { $_->{headers}{authorization} => 1 } @reqs }} ],
          ['Bearer tok-good'], 'only the good row was used');
ok(!(grep { exists $_->{headers}{'x-injected'} } @reqs), 'no injected header upstream');

$n->stop;
$mock->stop;

done_testing();
