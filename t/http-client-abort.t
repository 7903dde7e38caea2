# A client that goes away before the answer starts is logged as 499, as
# nginx's proxy logs it, not as "000"; the worker carries on.

use strict;
use warnings;

use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(sleep);

use Q2api::Mock;
use Q2api::Mock::AmazonQ qw(:builders);
use Q2api::Nginx;

my $mock = Q2api::Mock->new;
$mock->start;
$mock->set_script({ responses => [ text_response({ delay_ms => 1500 }, 'late') ] });
my $mport = $mock->port;

my $n = Q2api::Nginx->new(workers => 1, http => <<"_EOC_", server => <<'_EOC_');
    q2api_zone q2api 1m;
    q2api_store file accounts.json;
    q2api_amazonq_url http://127.0.0.1:$mport/;
    q2api_ping_interval 0;
    log_format st '\$status \$q2api_account';
_EOC_
        location /v1/ {
            q2api_pass claude;
            access_log logs/status.log st;
        }
_EOC_
$n->write_file('accounts.json', '[{"id":"a","accessToken":"tok-a"}]');
$n->start;

my $body = '{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,'
         . '"messages":[{"role":"user","content":"hi"}]}';

for my $i (1 .. 3) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $n->port) or die "connect: $!";
    print $s "POST /v1/messages HTTP/1.1\r\nHost: localhost\r\n"
           . "Content-Type: application/json\r\n"
           . "Content-Length: " . length($body) . "\r\n\r\n$body";
    sleep 0.3;
    close $s;
}

my @lines;
for (1 .. 60) {
    @lines = split /\n/, ($n->read_file('logs/status.log') // '');
    last if @lines >= 3;
    sleep 0.1;
}

is(scalar @lines, 3, 'three aborted requests logged');
is_deeply([ map { (split / /)[0] } @lines ], [499, 499, 499],
          'each as 499, never 000');

is($n->post('/v1/messages', $body)->{status}, 200,
   'the gateway serves the next request');

unlike($n->read_file('logs/error.log'), qr/\[(alert|crit|emerg)\]/,
       'no alerts');

$n->stop;
$mock->stop;

done_testing();
