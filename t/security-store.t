# Values from the accounts file are held to the admin API's rules: a row
# with CR/LF in its id or token, or a host for its ARN's region, stops the
# start (and a HUP keeps the accounts it had), named by field, never by
# value.  And concurrent 429s on one account cool it once, not once per
# request in flight.

use strict;
use warnings;

use Test::More;
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(sleep time);

use Q2api::Mock;
use Q2api::Mock::AmazonQ qw(:builders);
use Q2api::Nginx;

my $mock = Q2api::Mock->new;
$mock->start;
my $mport = $mock->port;

my $json = JSON::PP->new->canonical;
my $body = '{"model":"claude-sonnet-4-5","max_tokens":10,'
         . '"messages":[{"role":"user","content":"hi"}]}';
my $evil = "evil\r\nX-Injected: yes";

sub gateway {
    return Q2api::Nginx->new(workers => 1, http => <<"_EOC_", server => <<'_EOC_');
    q2api_zone q2api 8m;
    q2api_store file accounts.json;
    q2api_store_interval 100ms;
    q2api_amazonq_url http://127.0.0.1:$mport/;
_EOC_
        location /v1/ {
            q2api_pass claude;
        }
_EOC_
}

sub stored {
    my ($n) = @_;
    my $t = $n->read_file('accounts.json') or return {};
    my $j = $json->decode($t);
    return { map { $_->{id} => $_ } @{ ref $j eq 'HASH' ? $j->{accounts} : $j } };
}

sub wait_log {
    my ($n, $re) = @_;
    for (1 .. 100) {
        return 1 if ($n->read_file('logs/error.log') // '') =~ $re;
        sleep 0.05;
    }
    return 0;
}

# a file row with a value that may not be used: no start, the field named
for my $case (
    [ 'id', { id => "a\r\nb", accessToken => 'tok' } ],
    [ 'accessToken', { id => 'a', accessToken => $evil } ],
    [ 'clientSecret', { id => 'a', accessToken => 't', refreshToken => 'r',
                        clientId => 'c', clientSecret => "s\x01" } ],
    [ 'profileArn', { id => 'a', accessToken => 't', type => 'kiro',
                      profileArn => 'arn:aws:codewhisperer:evil.com/x#:1:profile/X' } ],
    [ 'id', { id => '..', accessToken => 'tok' } ],
    [ 'id', { id => "a\x00b", accessToken => 'tok' } ],
    [ 'accessToken', { id => 'a', accessToken => "tok\x00\r\nX-Injected: yes" } ],
    # "other" is written back as it is: text that is no object would
    # leave a file that no longer loads (found by fuzz_account_row)
    [ 'other', { id => 'a', accessToken => 't', other => '{"regio' } ],
    [ 'other', { id => 'a', accessToken => 't', other => '{"a":1} trailing' } ],
    [ 'other', { id => 'a', accessToken => 't', other => '[1]' } ],
) {
    my ($field, $row) = @$case;
    my $n = gateway();
    $n->write_file('accounts.json', $json->encode([$row]));
    ok(!eval { $n->start; 1 }, "a row with a bad $field: nginx does not start");
    my $log = $n->read_file('logs/error.log') // '';
    like($log, qr/account #0 in "[^"]*accounts\.json": "\Q$field\E" refused: it must/,
         "the log names the field $field");
    unlike($log, qr/X-Injected|evil/, 'and not its value');
}

# an unknown type is named in the log only when it cannot forge a line
# (found by fuzz_account_row)
{
    my $n = gateway();
    $n->write_file('accounts.json', $json->encode([
        { id => 'a', accessToken => 't', type => "x\r\nX-Injected: yes" } ]));
    ok(!eval { $n->start; 1 }, 'an unknown type: nginx does not start');
    my $log = $n->read_file('logs/error.log') // '';
    like($log, qr/account "a" in "[^"]*accounts\.json" has an unknown type "\(not printable\)"/,
         'the type is not printed');
    unlike($log, qr/X-Injected/, 'no forged log line');
}

# numbers past time_t or a counter are no times or counts (converting them
# is undefined: found by fuzz_account_row), and they stay out of the file
{
    my $n = gateway();
    $mock->set_script({ responses => [ text_response('ok') ] });
    $n->write_file('accounts.json', '[{"id":"a","accessToken":"tok-a",'
        . '"created_at":1e300,"status_until":-1e300,"success_count":1e300}]');
    $n->start;
    is($n->post('/v1/messages', $body)->{status}, 200, 'served');

    my $a;
    for (1 .. 50) {
        $a = stored($n)->{a};
        last if ($a->{success_count} // 0) == 1;
        sleep 0.1;
    }

    is($a->{success_count}, 1, 'the huge count was none: one success');
    ok(($a->{created_at} // 0) >= 0, 'the huge time was none')
        or diag("created_at $a->{created_at}");
    $n->stop;
}

# a HUP with a bad row: the reload fails, the accounts it had still serve
{
    my $n = gateway();
    $mock->set_script({ responses => [ map { text_response("ok $_") } 1 .. 4 ] });
    $n->write_file('accounts.json', $json->encode([ { id => 'a', accessToken => 'tok-a' } ]));
    $n->start;
    is($n->post('/v1/messages', $body)->{status}, 200, 'served before the HUP');

    # the store has written what the zone counted: it writes no more
    for (1 .. 50) {
        last if (stored($n)->{a}{success_count} // 0) == 1;
        sleep 0.1;
    }

    $n->write_file('accounts.json', $json->encode([
        { id => 'a', accessToken => $evil } ]));
    kill 'HUP', $n->master_pid;
    ok(wait_log($n, qr/"accessToken" refused/), 'the HUP names the refused field');

    my $res = $n->post('/v1/messages', $body);
    is($res->{status}, 200, 'still served after the refused HUP');
    my @reqs = $mock->requests;
    is($reqs[-1]{headers}{authorization}, 'Bearer tok-a', 'with the token it had');
    ok(!(grep { exists $_->{headers}{'x-injected'} } @reqs), 'no injected header upstream');
    unlike($n->read_file('logs/error.log'), qr/X-Injected/, 'the value is not logged');
    $n->stop;
}

# two 429s of requests launched together cool the account once (5 s), not
# twice (10 s)
{
    my $n = gateway();
    $mock->set_script({ responses => [ error_response('throttled', delay_ms => 700),
                                       error_response('throttled', delay_ms => 700) ] });
    $n->write_file('accounts.json', $json->encode([ { id => 'a', accessToken => 'tok-a' } ]));
    $n->start;
    my $before = () = $mock->requests;

    my @kids;
    for (1 .. 2) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            my $st = $n->post('/v1/messages', $body)->{status};
            POSIX::_exit($st == 429 || $st == 503 ? 0 : 1);
        }
        push @kids, $pid;
    }

    my $answered = 0;
    for my $pid (@kids) {
        waitpid $pid, 0;
        $answered++ if $? == 0;
    }

    is($answered, 2, 'both requests answered as throttled');
    is(scalar(my @r = $mock->requests) - $before, 2, 'both reached the backend');

    my $a;
    for (1 .. 40) {
        $a = stored($n)->{a};
        last if $a && ($a->{status} // '') eq 'cooling';
        sleep 0.1;
    }

    is($a->{status}, 'cooling', 'the account cools');
    is($a->{status_until} - $a->{status_since}, 5,
       'for the base cooldown: the second 429 was no repeat');
    $n->stop;
}

$mock->stop;

done_testing();
