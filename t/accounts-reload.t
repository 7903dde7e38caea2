# The pool across "nginx -s reload" and a killed worker: accounts, state
# and counters survive in the zone, the store lease moves to a new worker,
# and every counted request reaches the accounts file.

use strict;
use warnings;

use Test::More;
use JSON::PP ();
use Time::HiRes qw(sleep);

use Q2api::Mock;
use Q2api::Mock::AmazonQ qw(:builders);
use Q2api::Nginx;

my $mock = Q2api::Mock->new;
$mock->start;
$mock->set_script({ responses => [ text_response('ok') ] });
my $mport = $mock->port;

my $n = Q2api::Nginx->new(http => <<"_EOC_", server => <<'_EOC_');
    q2api_zone q2api 8m;
    q2api_store file accounts.json;
    q2api_store_interval 200ms;
    q2api_amazonq_url http://127.0.0.1:$mport/;
_EOC_
        location /v1/ {
            q2api_select round_robin;
            q2api_pass claude;
        }
_EOC_

my $json = JSON::PP->new->canonical;
sub accounts { $json->encode([ map { { id => $_, accessToken => "tok-$_" } } @_ ]) }

sub stored {
    my $t = $n->read_file('accounts.json') or return {};
    my $j = $json->decode($t);
    return { map { $_->{id} => $_ } @{ ref $j eq 'HASH' ? $j->{accounts} : $j } };
}

sub total {
    my $s = stored();
    my $sum = 0;
    $sum += $_->{success_count} // 0 for values %$s;
    return $sum;
}

sub wait_total {
    my ($want) = @_;
    for (1 .. 60) {
        return $want if total() == $want;
        sleep 0.1;
    }
    return total();
}

my $body = '{"model":"claude-sonnet-4-5","max_tokens":10,'
         . '"messages":[{"role":"user","content":"hi"}]}';

sub burst {
    my ($count) = @_;
    my $ok = 0;
    for (1 .. $count) {
        $ok++ if $n->post('/v1/messages', $body)->{status} == 200;
    }
    return $ok;
}

$n->write_file('accounts.json', accounts('a', 'b'));
$n->start;

is(burst(10), 10, '10 requests served');
is(wait_total(10), 10, 'the store wrote 10 successes');

# a reload keeps the zone: counters go on from where they were
$n->reload;
is(burst(10), 10, '10 more after a reload');
is(wait_total(20), 20, '20 in all: nothing lost across the reload');

# an account added to the file arrives with a reload; the others keep
# their counters
my $s = stored();
$s->{c} = { id => 'c', accessToken => 'tok-c' };
$n->write_file('accounts.json',
               $json->encode({ accounts => [ values %$s ] }));
$n->reload;
is(burst(6), 6, 'served with three accounts');
is(wait_total(26), 26, 'counters kept, the new account counted');
ok(stored()->{c}{success_count} >= 1, 'the new account was used');

# the worker running the store dies: another takes the lease over and
# writes what the zone counted meanwhile
my $victim = $n->store_worker;
ok($victim, "the store worker is $victim");
kill 'KILL', $victim;
is(burst(5), 5, 'served while a worker died');
is(wait_total(31), 31, 'counted requests reach the file after the crash');
isnt($n->store_worker, $victim, 'another worker runs the store');

$n->stop;
$mock->stop;

done_testing();
