# Back-pressure on the stream path: a long answer reaches a slow reader and
# a reader that pauses whole, with pings on and off; a reader that stops is
# ended by send_timeout, and the gateway lets go of its upstream.
#
# The gateway's socket buffer is small (listen sndbuf) and so is the
# reader's, so the client is the slow side within the first few hundred
# kilobytes and the stream path must wait for it and resume by itself.

use strict;
use warnings;

use Test::More;
use IO::Select;
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_RCVBUF);
use Time::HiRes qw(sleep time);

use Q2api::Mock;
use Q2api::Mock::AmazonQ qw(:builders);
use Q2api::Nginx;

my $FRAMES = 50_000;
my $TEXT = 'the quick brown fox jumps';

my $answer = text_response($TEXT);
for my $ev (@{ $answer->{events} }) {
    $ev->{repeat} = $FRAMES if $ev->{event} eq 'assistantResponseEvent';
}

my $mock = Q2api::Mock->new;
$mock->start;
$mock->set_script({ responses => [ $answer ] });
my $mport = $mock->port;

sub gateway {
    my ($ping, $send_timeout) = @_;
    my $n = Q2api::Nginx->new(workers => 1, listen => 'sndbuf=16k',
                              http => <<"_EOC_", server => <<"_EOC_");
    q2api_zone q2api 1m;
    q2api_store file accounts.json;
    q2api_amazonq_url http://127.0.0.1:$mport/;
    q2api_ping_interval $ping;
    q2api_stream_buffer_size 16k;
    send_timeout $send_timeout;
    log_format buffers '\$status \$q2api_stream_buffers \$bytes_sent';
_EOC_
        location /v1/ {
            q2api_pass claude;
            access_log logs/buffers.log buffers;
        }
_EOC_
    $n->write_file('accounts.json',
                   '[{"id":"a","accessToken":"tok-a"}]');
    $n->start;
    return $n;
}

my $body = '{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,'
         . '"messages":[{"role":"user","content":"tell a long story"}]}';

# Reads the answer of one streamed request over HTTP/1.0 (no chunking, the
# end of the answer is the end of the connection).
#   rate      bytes per second the reader takes at most
#   pause_at  after this many bytes, stop reading for pause seconds
#   stop_at   after this many bytes, never read again; wait for the close
sub read_stream {
    my ($port, %o) = @_;

    my $s = IO::Socket::INET->new(Proto => 'tcp') or die "socket: $!";
    # small enough that the reader is the slow side within a few hundred
    # KB; smaller than one segment's worth, TCP itself crawls (a window
    # of one segment waits out the delayed ACK each time)
    setsockopt($s, SOL_SOCKET, SO_RCVBUF, 65536) or die "SO_RCVBUF: $!";
    $s->connect(Socket::pack_sockaddr_in($port, Socket::inet_aton('127.0.0.1')))
        or die "connect: $!";
    $s->autoflush(1);
    print $s "POST /v1/messages HTTP/1.0\r\nHost: localhost\r\n"
           . "Content-Type: application/json\r\n"
           . "Content-Length: " . length($body) . "\r\n\r\n$body";

    my $sel = IO::Select->new($s);
    my ($data, $paused, $start) = ('', 0, time);
    # hang guards, not timings: a loaded machine may take minutes to carry
    # 7 MB through, but a stream that is alive never goes 30 s silent (and
    # one that sends only pings ends at the overall limit)
    my $deadline = time + ($o{limit} // 600);
    my ($closed, $heard) = (0, time);

    while (time < $deadline && time - $heard < 30) {
        if ($o{stop_at} && length($data) >= $o{stop_at}) {
            # a dead reader: read nothing more for a while, then take what
            # the kernel kept and see whether the gateway hung up
            sleep $o{dead_for};
            $o{during_death}->() if $o{during_death};
            $deadline = time + 5;
            while (time < $deadline && $sel->can_read(1)) {
                my $n = sysread($s, $data, 1 << 20, length $data);
                if (!$n) { $closed = 1; last }
            }
            last;
        }
        if ($o{pause_at} && !$paused && length($data) >= $o{pause_at}) {
            $paused = 1;
            sleep $o{pause};
            $heard = time;
        }
        next unless $sel->can_read(1);
        my $n = sysread($s, $data, 16384, length $data);
        last if !defined $n || $n == 0;
        $heard = time;
        if ($o{rate}) {
            my $due = $start + length($data) / $o{rate};
            sleep($due - time) if $due > time;
        }
    }
    close $s;

    my ($head, $sse) = split /\r\n\r\n/, $data, 2;
    $sse //= '';
    return {
        head => $head // '',
        bytes => length $sse,
        deltas => scalar(() = $sse =~ /^event: content_block_delta$/mg),
        pings => scalar(() = $sse =~ /^event: ping$/mg),
        stop => $sse =~ /^event: message_stop$/m ? 1 : 0,
        closed => $closed,
    };
}

# What the stream path took from the pool for the last request: output
# buffers, and links to upstream bytes (one per upstream read while the
# reader is behind: when proxy's 4 KiB buffer is nearly full its reads are
# a few bytes each, so a few hundred at worst).  It does not grow with the
# answer: a link or a buffer per read, as before, would be at least 7 MB
# in 4 KiB reads, 1,700 and more, and per frame 50,000.
sub stream_buffers {
    my ($n) = @_;
    for (1 .. 50) {
        my $log = $n->read_file('logs/buffers.log') // '';
        my @lines = split /\n/, $log;
        return (split / /, $lines[-1])[1] if @lines;
        sleep 0.1;
    }
    return -1;
}

# connections from the gateway to the mock that are still open
sub upstream_connections {
    my $count = 0;
    for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $fh, '<', $f or next;
        while (<$fh>) {
            my @c = split;
            next unless @c > 3 && $c[2] =~ /:([0-9A-F]{4})$/;
            $count++ if hex($1) == $mport && $c[3] eq '01';
        }
    }
    return $count;
}

for my $ping ('0', '1s') {
    my $n = gateway($ping, '10s');
    my $port = $n->port;

    my $r = read_stream($port, rate => 3_000_000);
    like($r->{head}, qr{^HTTP/1\.1 200}, "ping $ping, slow reader: 200");
    is($r->{deltas}, $FRAMES, "ping $ping, slow reader: every delta arrived");
    ok($r->{stop}, "ping $ping, slow reader: message_stop arrived");
    cmp_ok($r->{bytes}, '>', 5_000_000,
           "ping $ping, slow reader: the answer is long ($r->{bytes} bytes)");
    my $taken = stream_buffers($n);
    ok($taken > 0 && $taken <= 1024,
       "ping $ping, slow reader: $taken links and buffers for $FRAMES frames");

    $r = read_stream($port, pause_at => 300_000, pause => 3);
    is($r->{deltas}, $FRAMES, "ping $ping, paused reader: every delta arrived");
    $taken = stream_buffers($n);
    ok($taken > 0 && $taken <= 1024,
       "ping $ping, paused reader: $taken links and buffers");
    ok($r->{stop}, "ping $ping, paused reader: message_stop arrived");
    if ($ping eq '0') {
        is($r->{pings}, 1, 'pings off: only the one after message_start');
    }

    my $log = $n->read_file('logs/error.log');
    unlike($log, qr/\[(alert|crit|emerg)\]/, "ping $ping: no alerts");

    $n->stop;
}

# A reader that stops: send_timeout ends the request, and the upstream
# connection goes with it.  The upstream holds the rest of its answer back
# for a while, so it is still open when the client's time runs out.
{
    my $slow = text_response($TEXT);
    my @ev = @{ $slow->{events} };
    $ev[1]{repeat} = 20_000;
    splice @ev, 2, 0, { sleep_ms => 20_000 }, { %{ $ev[1] }, repeat => 1 };
    $slow->{events} = \@ev;
    $mock->set_script({ responses => [ $slow ] });

    my $n = gateway('1s', '2s');
    my ($log, $open_during) = ('', -1);

    my $r = read_stream($n->port, stop_at => 200_000, dead_for => 4,
                        during_death => sub {
        $open_during = upstream_connections();
        $log = $n->read_file('logs/error.log');
    });
    like($log, qr/client timed out/,
         'send_timeout ended the request while the reader was away');
    ok($r->{closed}, 'the gateway closed the connection');
    ok(!$r->{stop}, 'the reader never got message_stop');
    is($open_during, 0, 'the upstream connection was closed with it');

    unlike($n->read_file('logs/error.log'), qr/\[(alert|crit|emerg)\]/,
           'no alerts');
    $n->stop;
}

$mock->stop;

done_testing();
