# Self-test of the Amazon Q mock (t/mock): the event stream encoder against
# the golden vector and an independent decoder, the mock's HTTP behaviour on
# raw sockets, and the whole thing through stock nginx (proxy_pass; the q2api
# module is not needed).

use strict;
use warnings;

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;

use Compress::Zlib ();
use Errno ();
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use Q2api::EventStream qw(encode_event encode_exception encode_error
                          encode_frame corrupt_crc);

repeat_each(2);
no_shuffle();

# --------------------------------------------------------------------------
# An event stream decoder written independently of Q2api::EventStream.
# One line per frame:
#   event <:event-type> <payload>
#   exception <:exception-type> <payload>
#   error <:error-code> <:error-message>
# prefixed by "!prelude-crc " / "!message-crc " when a CRC does not match,
# followed by " [name=type:value]" for headers beyond the standard ones.
# A frame that is cut off gives "TRUNCATED n of m bytes".
# --------------------------------------------------------------------------

my %STD_HEADER = map { $_ => 1 } qw(:event-type :exception-type :error-code
                                    :error-message :content-type :message-type);

sub decode_frames {
    my ($buf) = @_;
    my @out;
    my $off = 0;

    while ($off < length $buf) {
        my $left = length($buf) - $off;
        if ($left < 12) {
            push @out, "TRUNCATED $left of ? bytes";
            last;
        }
        my ($total, $hlen, $pcrc) = unpack 'NNN', substr($buf, $off, 12);
        my $flags = '';
        $flags .= '!prelude-crc '
            if Compress::Zlib::crc32(substr($buf, $off, 8)) != $pcrc;
        if ($total < 16 || $hlen > $total - 16) {
            push @out, "BAD lengths $total/$hlen";
            last;
        }
        if ($left < $total) {
            push @out, "TRUNCATED $left of $total bytes";
            last;
        }

        my $frame = substr($buf, $off, $total);
        $off += $total;
        $flags .= '!message-crc '
            if Compress::Zlib::crc32(substr($frame, 0, $total - 4))
               != unpack('N', substr($frame, -4));

        my (@headers, %hv);
        my ($p, $hend) = (12, 12 + $hlen);
        while ($p < $hend) {
            my $nlen = ord substr($frame, $p, 1);
            my $name = substr($frame, $p + 1, $nlen);
            $p += 1 + $nlen;
            my $type = ord substr($frame, $p++, 1);
            my ($tname, $val);
            if ($type == 0 || $type == 1) {
                ($tname, $val) = ('bool', $type == 0 ? 'true' : 'false');
            } elsif ($type == 2) {
                ($tname, $val) = ('byte', unpack('c', substr($frame, $p, 1)));
                $p += 1;
            } elsif ($type == 3) {
                ($tname, $val) = ('short', unpack('s>', substr($frame, $p, 2)));
                $p += 2;
            } elsif ($type == 4) {
                ($tname, $val) = ('int', unpack('l>', substr($frame, $p, 4)));
                $p += 4;
            } elsif ($type == 5 || $type == 8) {
                ($tname, $val) = ($type == 5 ? 'long' : 'timestamp',
                                  unpack('q>', substr($frame, $p, 8)));
                $p += 8;
            } elsif ($type == 6 || $type == 7) {
                my $l = unpack 'n', substr($frame, $p, 2);
                $val = substr($frame, $p + 2, $l);
                $p += 2 + $l;
                ($tname, $val) = $type == 6 ? ('bytes', unpack('H*', $val))
                                            : ('string', $val);
            } elsif ($type == 9) {
                ($tname, $val) = ('uuid', unpack('H*', substr($frame, $p, 16)));
                $p += 16;
            } else {
                push @out, "BAD header type $type";
                return @out;
            }
            push @headers, [$name, $tname, $val];
            $hv{$name} = $val;
        }
        if ($p != $hend) {
            push @out, "BAD header block";
            last;
        }

        my $payload = substr($frame, $hend, $total - 16 - $hlen);
        my $mt = $hv{':message-type'} // '?';
        my $line;
        if ($mt eq 'event') {
            $line = "event $hv{':event-type'} $payload";
        } elsif ($mt eq 'exception') {
            $line = "exception $hv{':exception-type'} $payload";
        } elsif ($mt eq 'error') {
            $line = "error $hv{':error-code'} $hv{':error-message'}";
            $line .= " $payload" if length $payload;
        } else {
            $line = "$mt ? $payload";
        }
        if ($mt eq 'event' || $mt eq 'exception') {
            $flags .= '!content-type '
                unless ($hv{':content-type'} // '') eq 'application/json';
        }
        $line .= join '', map { " [$_->[0]=$_->[1]:$_->[2]]" }
                          grep { !$STD_HEADER{ $_->[0] } } @headers;
        $line =~ s/\s+$//;
        push @out, $flags . $line;
    }
    return @out;
}

sub frames_text { join "\n", decode_frames($_[0]) }

# Section "--- frames": the response body decoded with the decoder above.
add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    my $want = $block->frames;
    return unless defined $want;
    $want = $want->[$req_idx] if ref $want eq 'ARRAY';
    $want =~ s/^\s+|\s+$//g;
    my $name = $block->name;
    SKIP: {
        skip "$name - frames - tests skipped due to $dry_run", 1 if $dry_run;
        is(frames_text($body // ''), $want,
           "$name - frames ok (repeated req $repeated_req_idx, req $req_idx)");
    }
});

our $PROXY = <<'_EOC_';
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
        proxy_buffering off;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Content-Type application/x-amz-json-1.0;
        proxy_set_header X-Amz-Target AmazonCodeWhispererStreamingService.GenerateAssistantResponse;
        add_header X-Upstream-TE $upstream_http_transfer_encoding always;
        add_header X-Upstream-Connection $upstream_http_connection always;
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    if (!defined $block->config) {
        # A regex location: it wins over the harness's own "location /".
        $block->set_value('config', "    location ~ ^/ {\n$PROXY    }\n");
    }
    if (!defined $block->request) {
        $block->set_value('request', "POST /\n{\"conversationState\":{}}");
    }
});

# --------------------------------------------------------------------------
# Part 1: the encoder and the mock on raw sockets
# --------------------------------------------------------------------------

# The golden vector, built by hand from the format description.
my $GOLDEN = pack('H*', '0000007c' . '0000005c' . '3bddcf78')
    . "\x0b:event-type\x07\x00\x16assistantResponseEvent"
    . "\x0d:content-type\x07\x00\x10application/json"
    . "\x0d:message-type\x07\x00\x05event"
    . '{"content":"Hi"}'
    . pack('H*', 'b02babdc');

{
    my $f = encode_event('assistantResponseEvent', { content => 'Hi' });
    is(length $f, 124, 'golden vector: 124 bytes');
    is(sprintf('%08x', unpack('x8N', $f)), '3bddcf78', 'golden vector: prelude CRC');
    is(sprintf('%08x', unpack('N', substr($f, -4))), 'b02babdc', 'golden vector: message CRC');
    is(unpack('H*', $f), unpack('H*', $GOLDEN), 'golden vector: bytes');
    is(frames_text($f), 'event assistantResponseEvent {"content":"Hi"}',
       'golden vector: decodes');

    is(frames_text(encode_exception('ThrottlingException', { message => 'slow' })
                   . encode_exception('ThrottlingException', '')
                   . encode_error('InternalFailure', 'backend unavailable')),
       join("\n", 'exception ThrottlingException {"message":"slow"}',
                  'exception ThrottlingException',
                  'error InternalFailure backend unavailable'),
       'exception and error frames decode');

    my $typed = encode_frame([
        [':event-type', 'string', 'x'], [':content-type', 'string', 'application/json'],
        [':message-type', 'string', 'event'],
        ['t', 'bool', 1], ['f', 'bool', 0], ['b', 'byte', -2], ['s', 'short', -300],
        ['i', 'int', 70000], ['l', 'long', -5000000000], ['ts', 'timestamp', 1700000000123],
        ['h', 'bytes', "\x00\xff"], ['u', 'uuid', '123e4567-e89b-12d3-a456-426614174000'],
    ], '{}');
    is(frames_text($typed),
       'event x {} [t=bool:true] [f=bool:false] [b=byte:-2] [s=short:-300]'
       . ' [i=int:70000] [l=long:-5000000000] [ts=timestamp:1700000000123]'
       . ' [h=bytes:00ff] [u=uuid:123e4567e89b12d3a456426614174000]',
       'all header types decode');

    my $bad = corrupt_crc($f);
    is(length $bad, 124, 'corrupt_crc keeps the length');
    is(frames_text($bad), '!message-crc event assistantResponseEvent {"content":"Hi"}',
       'corrupt_crc breaks the message CRC only');
    is(frames_text(corrupt_crc($f, 'prelude')),
       '!prelude-crc !message-crc event assistantResponseEvent {"content":"Hi"}',
       'corrupting the prelude CRC also breaks the message CRC');

    # Byte strings holding UTF-8 (no "use utf8" here) are encoded once.
    is(frames_text(encode_event('assistantResponseEvent', { content => "w\xc3\xb6rld" })),
       qq{event assistantResponseEvent {"content":"w\xc3\xb6rld"}},
       'UTF-8 byte strings are not double-encoded');
}

# Script normalisation.
{
    my $n = Q2api::Mock::normalize_script([ { error => 'quota' } ]);
    is_deeply($n, { responses => [ { error => 'quota' } ] }, 'arrayref script');
    $n = Q2api::Mock::normalize_script('{"status": 500, "body": "x"}');
    is_deeply($n, { responses => [ { status => 500, body => 'x' } ] }, 'single RESPONSE');
    for my $bad ('{"responses": []}', '{"error": "nope"}', '{"split": "sometimes"}',
                 '{"close": "maybe"}', '{"by_token": []}', 'not json',
                 '{"events": [{"foo": 1}]}', '{"events": [{"event": "x", "exception": "y"}]}',
                 '{"events": [{"corrupt_crc": {"sleep": 1}}]}', '{"events": [{"raw_hex": "zz"}]}') {
        ok(!eval { Q2api::Mock::normalize_script($bad); 1 }, "rejected: $bad");
    }
}

my $PORT = $ENV{TEST_NGINX_MOCK_PORT};
my $TARGET_HEADERS = "content-type: application/x-amz-json-1.0\r\n"
    . "x-amz-target: AmazonCodeWhispererStreamingService.GenerateAssistantResponse\r\n";

sub post_req {
    my (%o) = @_;
    my $body = $o{body} // '{"conversationState":{}}';
    my $ver = $o{version} // '1.1';
    return "POST / HTTP/$ver\r\nhost: mock\r\n$TARGET_HEADERS"
         . ($o{headers} // '')
         . "content-length: " . length($body) . "\r\n\r\n$body";
}

# Sends $data on a new connection and reads until EOF or a reset.  Returns
# (bytes read, errno name of a read error or '', seconds taken).
sub raw_exchange {
    my ($data, %o) = @_;
    my $t0 = time;
    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $PORT,
                                  Proto => 'tcp') or die "connect: $!";
    binmode $c;
    syswrite($c, $data);
    shutdown($c, 1) unless $o{keep_open};
    my ($got, $err) = ('', '');
    my $sel = IO::Select->new($c);
    while ($sel->can_read($o{timeout} // 5)) {
        my $n = sysread($c, $got, 65536, length $got);
        if (!defined $n) {
            $err = $!{ECONNRESET} ? 'ECONNRESET' : "$!";
            last;
        }
        last if $n == 0;
        last if $o{until} && $got =~ $o{until};
    }
    close $c;
    return ($got, $err, time - $t0);
}

# Splits a raw HTTP response into (head, [chunks], rest) for a chunked body,
# or (head, undef, body) otherwise.
sub split_response {
    my ($raw) = @_;
    my ($head, $rest) = split /\r\n\r\n/, $raw, 2;
    return ($head, undef, $rest) unless $head =~ /^transfer-encoding: chunked/mi;
    my @chunks;
    while ($rest =~ s/\A([0-9a-f]+)\r\n//i) {
        my $n = hex $1;
        last if $n == 0;
        push @chunks, substr($rest, 0, $n, '');
        $rest =~ s/\A\r\n// or last;
    }
    return ($head, \@chunks, $rest);
}

{
    mock_reset();

    mock_script({ split => 'byte', events => [
        { event => 'assistantResponseEvent', payload => { content => 'Hi' } } ] });
    my ($raw) = raw_exchange(post_req(headers => "connection: close\r\n"));
    my ($head, $chunks, $rest) = split_response($raw);
    like($head, qr{^HTTP/1\.1 200 OK\r\n}, 'raw: 200');
    like($head, qr{^content-type: application/vnd\.amazon\.eventstream\r?$}m,
         'raw: event stream content type');
    like($head, qr{^x-amzn-requestid: [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\r?$}m,
         'raw: request id');
    is(scalar @$chunks, 124, 'raw: split byte gives 124 chunks');
    ok(!grep({ length != 1 } @$chunks), 'raw: every chunk is one byte');
    is(join('', @$chunks), $GOLDEN, 'raw: the bytes reassemble to the golden frame');
    is($rest, "\r\n", 'raw: terminal chunk present');

    mock_script({ split => [3, 7], events => [
        { event => 'assistantResponseEvent', payload => { content => 'Hi' } } ] });
    ($raw) = raw_exchange(post_req(headers => "connection: close\r\n"));
    (undef, $chunks) = split_response($raw);
    is(join(',', map { length } @$chunks), join(',', (3, 7) x 12, 3, 1),
       'raw: split [3,7] cycles the cut sizes');
    is(join('', @$chunks), $GOLDEN, 'raw: ... and reassembles');

    mock_script({ close => 'close', events => [
        { event => 'assistantResponseEvent', payload => { content => 'Hi' } } ] });
    ($raw) = raw_exchange(post_req());
    ($head, $chunks, $rest) = split_response($raw);
    unlike($head, qr/^transfer-encoding/mi, 'raw: close mode is not chunked');
    like($head, qr/^connection: close\r?$/mi, 'raw: close mode says connection: close');
    is($rest, $GOLDEN, 'raw: close mode body is the frame, delimited by EOF');

    mock_script({ events => [
        { event => 'assistantResponseEvent', payload => { content => 'Hi' } } ] });
    ($raw) = raw_exchange(post_req(version => '1.0'));
    ($head, $chunks, $rest) = split_response($raw);
    ok(!$chunks && $rest eq $GOLDEN, 'raw: an HTTP/1.0 request gets a close-delimited body');

    # Keep-alive: three requests in one write, answered in order on one
    # connection; the last one in chunked request encoding.
    mock_reset();
    mock_script([ map { text_response({ usage => 0 }, $_) } qw(one two three) ]);
    my $chunked_req = "POST / HTTP/1.1\r\nhost: mock\r\n$TARGET_HEADERS"
        . "transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
        . "5\r\n{\"con\r\n13;ext=1\r\nversationState\":{}}\r\n0\r\nx-trailer: 1\r\n\r\n";
    ($raw) = raw_exchange(post_req() . post_req(body => '{"n":2}') . $chunked_req);
    my @texts = $raw =~ /"content":"(\w+)"/g;
    is("@texts", 'one two three', 'raw: keep-alive serves three requests in order');
    my @reqs = mock_requests();
    is(scalar @reqs, 3, 'raw: three requests recorded');
    is(join(',', map { $_->{seq} } @reqs), '1,2,3', 'raw: sequence numbers');
    is(scalar(keys %{{ map { $_->{peer} => 1 } @reqs }}), 1, 'raw: one connection');
    is($reqs[1]{json}{n}, 2, 'raw: JSON body parsed into "json"');
    is($reqs[2]{body}, '{"conversationState":{}}', 'raw: chunked request body de-chunked');
    is($reqs[2]{headers}{'transfer-encoding'}, 'chunked', 'raw: headers recorded as sent');

    # Wrong operation: 400, recorded, the script is not consumed.
    mock_reset();
    mock_script([ text_response({ usage => 0 }, 'first') ]);
    ($raw) = raw_exchange("POST / HTTP/1.1\r\nhost: mock\r\ncontent-type: application/json\r\n"
                          . "x-amz-target: Foo.Bar\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}");
    like($raw, qr{^HTTP/1\.1 400 .*\r\ncontent-type: application/x-amz-json-1\.0\r\n.*"__type":"com\.amazon\.coral\.service#UnknownOperationException"}s,
         'raw: wrong content type -> UnknownOperationException');
    ($raw) = raw_exchange(post_req(headers => "connection: close\r\n"));
    like($raw, qr/"content":"first"/, 'raw: ... and the script was not consumed');
    is(scalar(my @r = mock_requests()), 2, 'raw: both recorded');

    # by_token without a match and without "*".
    mock_script({ by_token => { 'tok-a' => [ text_response('a') ] } });
    ($raw) = raw_exchange(post_req(headers => "authorization: Bearer tok-x\r\nconnection: close\r\n"));
    like($raw, qr{^HTTP/1\.1 401 .*"__type":"com\.amazon\.aws\.codewhisperer#UnauthorizedException"}s,
         'raw: unknown token -> 401');

    # Reset in the middle of a frame: part of it arrives, then ECONNRESET.
    my $before = encode_event('assistantResponseEvent', { content => 'before' });
    my $after = encode_event('assistantResponseEvent', { content => 'after' });
    mock_script({ close => 'close', events => [
        { event => 'assistantResponseEvent', payload => { content => 'before' } },
        { reset_mid_frame => { event => 'assistantResponseEvent',
                               payload => { content => 'after' } } } ] });
    my $err;
    ($raw, $err) = raw_exchange(post_req());
    (undef, undef, $rest) = split_response($raw);
    is($err, 'ECONNRESET', 'raw: reset_mid_frame resets the connection');
    is($rest, $before . substr($after, 0, int(length($after) / 2)),
       'raw: ... after the first half of the frame');

    # hangup: FIN without the terminal chunk.
    mock_script({ events => [
        { event => 'assistantResponseEvent', payload => { content => 'Hi' } },
        { hangup => JSON::PP::true } ] });
    ($raw, $err) = raw_exchange(post_req());
    ($head, $chunks, $rest) = split_response($raw);
    ok($err eq '' && join('', @$chunks) eq $GOLDEN && $rest eq '',
       'raw: hangup closes without the terminal chunk');

    # Drip and sleep.
    mock_script({ drip_ms => 100, events => [
        map { { event => 'assistantResponseEvent', payload => { content => $_ } } } 1 .. 4 ] });
    my $secs;
    ($raw, $err, $secs) = raw_exchange(post_req(headers => "connection: close\r\n"));
    ok($secs >= 0.29, "raw: drip_ms 100 over 4 writes takes >= 0.3 s ($secs)");
    mock_script({ events => [ { sleep_ms => 300 },
        { event => 'assistantResponseEvent', payload => { content => 'Hi' } } ] });
    ($raw, $err, $secs) = raw_exchange(post_req(headers => "connection: close\r\n"));
    ok($secs >= 0.29 && $raw =~ /"content":"Hi"/, "raw: sleep_ms 300 ($secs)");

    # Concurrency: three slow requests at once finish in about the time of one.
    mock_script({ delay_ms => 600, events => [] });
    my $t0 = time;
    my @conns = map {
        my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $PORT,
                                      Proto => 'tcp') or die "connect: $!";
        syswrite($c, post_req(headers => "connection: close\r\n"));
        $c;
    } 1 .. 3;
    my $ok = 0;
    for my $c (@conns) {
        my $buf = '';
        1 while sysread($c, $buf, 4096, length $buf);
        $ok++ if $buf =~ m{^HTTP/1\.1 200 .*\r\n0\r\n\r\n\z}s;
        close $c;
    }
    my $took = time - $t0;
    is($ok, 3, 'raw: three concurrent requests answered');
    ok($took < 1.5, "raw: ... concurrently ($took s)");

    mock_reset();
    is(scalar(my @none = mock_requests()), 0, 'reset() forgets the records');
}

# --------------------------------------------------------------------------
# Part 2: through stock nginx
# --------------------------------------------------------------------------

run_tests();

__DATA__

=== TEST 1: golden vector through nginx
--- mock
{"responses": [{"events": [
    {"event": "assistantResponseEvent", "payload": {"content": "Hi"}}
]}]}
--- response_headers
Content-Type: application/vnd.amazon.eventstream
X-Upstream-TE: chunked
--- response_body eval
pack('H*', '0000007c0000005c3bddcf78')
. "\x0b:event-type\x07\x00\x16assistantResponseEvent"
. "\x0d:content-type\x07\x00\x10application/json"
. "\x0d:message-type\x07\x00\x05event"
. '{"content":"Hi"}' . pack('H*', 'b02babdc')
--- frames
event assistantResponseEvent {"content":"Hi"}
--- mock_requests: 1
--- no_error_log
[error]



=== TEST 2: default script, request headers as nginx sends them
--- more_headers
Authorization: Bearer tok-default
--- frames
event messageMetadataEvent {"conversationId":"c0ffee00-0000-4000-8000-00000000c0de","utteranceId":"c0ffee00-0000-4000-8000-0000000000a1"}
event assistantResponseEvent {"content":"Hello from mock"}
event contextUsageEvent {"contextUsagePercentage":2.336}
event meteringEvent {"unit":"credit","unitPlural":"credits","usage":0.0453}
event metadataEvent {"tokenUsage":{"cacheReadInputTokens":0,"cacheWriteInputTokens":0,"outputTokens":1,"totalTokens":12,"uncachedInputTokens":11}}
--- mock_requests: 1
--- mock_request_headers
x-amz-target: AmazonCodeWhispererStreamingService.GenerateAssistantResponse
content-type: application/x-amz-json-1.0
authorization: Bearer tok-default
!connection
!x-not-sent
--- mock_request_like
^\{"conversationState":\{\}\}$
--- no_error_log
[error]



=== TEST 3: error shorthand in a JSON script, consumed in order, the last repeats
--- mock
{"responses": [{"error": "suspended"}, {"error": "throttled"}, {"error": "capacity"}]}
--- request eval
["POST /\n{}", "POST /\n{}", "POST /\n{}", "POST /\n{}"]
--- error_code eval
[403, 429, 429, 429]
--- response_headers eval
[ ("Content-Type: application/x-amz-json-1.0") x 4 ]
--- response_body eval
[
 '{"__type":"com.amazon.aws.codewhisperer#AccessDeniedException","message":"Your User ID (d-9067c0ffee.0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d) temporarily is suspended. We\'ve locked your account as a security precaution. To request an appeal, contact AWS Support.","reason":"TEMPORARILY_SUSPENDED"}',
 '{"__type":"com.amazon.aws.codewhisperer#ThrottlingException","message":"Rate exceeded"}',
 '{"__type":"com.amazon.aws.codewhisperer#ThrottlingException","message":"I am experiencing high traffic, please try again shortly.","reason":"INSUFFICIENT_MODEL_CAPACITY"}',
 '{"__type":"com.amazon.aws.codewhisperer#ThrottlingException","message":"I am experiencing high traffic, please try again shortly.","reason":"INSUFFICIENT_MODEL_CAPACITY"}',
]
--- mock_requests: 1
--- no_error_log
[error]



=== TEST 4: every canned error through the Perl builders
--- mock eval
[ map { error_response($_) }
      qw(suspended expired unauthorized throttled capacity quota too_long malformed internal) ]
--- request eval
[ ("POST /\n{}") x 9 ]
--- error_code eval
[403, 401, 401, 429, 429, 429, 400, 400, 500]
--- response_body_like eval
[
 '#AccessDeniedException".*"reason":"TEMPORARILY_SUSPENDED"}$',
 '#ExpiredTokenException","message":"The bearer token included in the request is invalid\."}$',
 '#UnauthorizedException","message":"The bearer token included in the request is invalid\."}$',
 '#ThrottlingException","message":"[^"]+"}$',
 '#ThrottlingException",.*"reason":"INSUFFICIENT_MODEL_CAPACITY"',
 '#ThrottlingException",.*"reason":"MONTHLY_REQUEST_COUNT"',
 '#ValidationException","message":"Input is too long\.","reason":"CONTENT_LENGTH_EXCEEDS_THRESHOLD"}$',
 '#ValidationException","message":"Improperly formed request\."}$',
 '#InternalServerException",.*"reason":"MODEL_TEMPORARILY_UNAVAILABLE"',
]
--- mock_requests: 1



=== TEST 5: error overrides: message, status, extra headers
--- mock eval
error_response('throttled', message => 'Slow down', status => 503,
               headers => { 'x-amzn-requestid' => 'req-fixed', 'retry-after' => '7' })
--- error_code: 503
--- response_headers
x-amzn-requestid: req-fixed
Retry-After: 7
--- response_body chomp
{"__type":"com.amazon.aws.codewhisperer#ThrottlingException","message":"Slow down"}



=== TEST 6: by_token: each account has its own sequence; "*" for the rest
--- http_config
map $uri $mock_auth {
    /a "Bearer tok-a";
    /b "Bearer tok-b";
    default "";
}
--- config
location ~ ^/[abc]$ {
    proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    proxy_set_header Authorization $mock_auth;
    proxy_set_header Content-Type application/x-amz-json-1.0;
    proxy_set_header X-Amz-Target AmazonCodeWhispererStreamingService.GenerateAssistantResponse;
}
--- mock eval
{ by_token => {
    'tok-a' => [ text_response({ usage => 0 }, 'A1'), text_response({ usage => 0 }, 'A2') ],
    'tok-b' => [ text_response({ usage => 0 }, 'B1') ],
    '*'     => [ error_response('expired') ],
} }
--- request eval
["POST /a\n{}", "POST /b\n{}", "POST /a\n{}", "POST /c\n{}", "POST /b\n{}", "POST /a\n{}"]
--- error_code eval
[200, 200, 200, 401, 200, 200]
--- response_body_like eval
['"content":"A1"', '"content":"B1"', '"content":"A2"', 'ExpiredTokenException',
 '"content":"B1"', '"content":"A2"']
--- mock_requests: 1



=== TEST 7: by_token with the client's Authorization header
--- more_headers
Authorization: Bearer tok-m
--- mock
{"by_token": {
    "tok-m": [{"events": [{"event": "assistantResponseEvent", "payload": {"content": "for tok-m"}}]}],
    "*": [{"events": [{"event": "assistantResponseEvent", "payload": {"content": "for anyone"}}]}]
}}
--- frames
event assistantResponseEvent {"content":"for tok-m"}
--- mock_request_headers
authorization: Bearer tok-m



=== TEST 8: sequence: three responses for four requests, per repetition
--- mock eval
[ map { text_response({ usage => 0 }, $_) } qw(one two three) ]
--- request eval
["POST /\n{}", "POST /\n{}", "POST /\n{}", "POST /\n{}"]
--- frames eval
[ map { 'event messageMetadataEvent {"conversationId":"c0ffee00-0000-4000-8000-00000000c0de","utteranceId":"c0ffee00-0000-4000-8000-0000000000a1"}'
        . qq{\nevent assistantResponseEvent {"content":"$_"}} } qw(one two three three) ]
--- mock_requests: 1



=== TEST 9: recording of method, path, query, headers and raw body
--- more_headers
X-Foo: bar
Authorization: Bearer tok-rec
--- request
POST /rec/path?x=1&y=two
{"conversationState":{"currentMessage":{"userInputMessage":{"content":"wörld"}}}}
--- mock_request_like
"content":"wörld"
^\{"conversationState"
--- mock_request_headers
x-foo: bar
authorization: Bearer tok-rec
content-length: 82
!x-bar
--- mock_check eval
sub {
    my ($reqs, $block) = @_;
    my $name = $block->name;
    is(scalar @$reqs, 1, "$name - one upstream request");
    my $r = $reqs->[0];
    is($r->{method}, 'POST', "$name - method");
    is($r->{path}, '/rec/path', "$name - path");
    is($r->{query}, 'x=1&y=two', "$name - query");
    is($r->{body}, qq{{"conversationState":{"currentMessage":{"userInputMessage":{"content":"w\xc3\xb6rld"}}}}},
       "$name - raw body (bytes)");
    is($r->{json}{conversationState}{currentMessage}{userInputMessage}{content}, "w\x{f6}rld",
       "$name - parsed body (characters)");
    ok($r->{seq} >= 1, "$name - seq");
    ok(abs(time - $r->{time}) < 60, "$name - time");
    like($r->{peer}, qr/^127\.0\.0\.1:\d+$/, "$name - peer");
}
--- frames
event messageMetadataEvent {"conversationId":"c0ffee00-0000-4000-8000-00000000c0de","utteranceId":"c0ffee00-0000-4000-8000-0000000000a1"}
event assistantResponseEvent {"content":"Hello from mock"}
event contextUsageEvent {"contextUsagePercentage":2.336}
event meteringEvent {"unit":"credit","unitPlural":"credits","usage":0.0453}
event metadataEvent {"tokenUsage":{"cacheReadInputTokens":0,"cacheWriteInputTokens":0,"outputTokens":1,"totalTokens":12,"uncachedInputTokens":11}}



=== TEST 10: an unknown operation gets 400 and does not consume the script
--- config
location = /bad {
    proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/;
    proxy_set_header Content-Type application/x-amz-json-1.0;
    proxy_set_header X-Amz-Target AmazonCodeWhispererStreamingService.ListConversations;
}
location = / {
    proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    proxy_set_header Content-Type application/x-amz-json-1.0;
    proxy_set_header X-Amz-Target AmazonCodeWhispererStreamingService.GenerateAssistantResponse;
}
--- mock eval
[ text_response({ usage => 0 }, 'first'), text_response({ usage => 0 }, 'second') ]
--- request eval
["POST /bad\n{}", "POST /\n{}"]
--- error_code eval
[400, 200]
--- response_body_like eval
['^\{"__type":"com\.amazon\.coral\.service#UnknownOperationException","message":"Unknown operation AmazonCodeWhispererStreamingService\.ListConversations\."\}$',
 '"content":"first"']
--- mock_requests: 1



=== TEST 11: split byte-at-a-time with drip still reassembles to the same bytes
--- mock
{"split": "byte", "drip_ms": 1, "events": [
    {"event": "assistantResponseEvent", "payload": {"content": "Hi"}}
]}
--- response_body eval
pack('H*', '0000007c0000005c3bddcf78')
. "\x0b:event-type\x07\x00\x16assistantResponseEvent"
. "\x0d:content-type\x07\x00\x10application/json"
. "\x0d:message-type\x07\x00\x05event"
. '{"content":"Hi"}' . pack('H*', 'b02babdc')
--- no_error_log
[error]



=== TEST 12: the untidy stream, one byte per write
--- mock eval
untidy_response(split => 'byte')
--- frames
event initial-response {}
event messageMetadataEvent {"conversationId":"c0ffee00-0000-4000-8000-00000000c0de","utteranceId":"c0ffee00-0000-4000-8000-0000000000a1"}
event reasoningContentEvent {"text":"Let me look"}
event reasoningContentEvent {"text":" at /tmp."}
event reasoningContentEvent {"signature":"c2lnLXVudGlkeQ=="}
event assistantResponseEvent {"content":"Hel"}
event assistantResponseEvent {"content":"lo "}
event assistantResponseEvent {"content":"lo "}
event assistantResponseEvent {"content":"wö"}
event assistantResponseEvent {"content":"rld"}
event assistantResponseEvent {"content":"! Grü"}
event assistantResponseEvent {"content":"ße."}
event toolUseEvent {"name":"list_dir","toolUseId":"tooluse_untidy01"}
event toolUseEvent {"input":"{\"path\": \"/t","name":"list_dir","toolUseId":"tooluse_untidy01"}
event toolUseEvent {"input":"mp\", \"opts\": ","name":"list_dir","toolUseId":"tooluse_untidy01"}
event toolUseEvent {"input":{"recursive":true},"name":"list_dir","toolUseId":"tooluse_untidy01"}
event toolUseEvent {"input":"}","name":"list_dir","toolUseId":"tooluse_untidy01"}
event toolUseEvent {"name":"list_dir","stop":true,"toolUseId":"tooluse_untidy01"}
event followupPromptEvent {"followupPrompt":{"content":"Shall I list /var too?","userIntent":"EXPLAIN_CODE_SELECTION"}}
event contextUsageEvent {"contextUsagePercentage":2.336}
event meteringEvent {"unit":"credit","unitPlural":"credits","usage":0.0453}
event metadataEvent {"tokenUsage":{"cacheReadInputTokens":0,"cacheWriteInputTokens":0,"outputTokens":12,"totalTokens":23,"uncachedInputTokens":11}}
--- no_error_log
[error]



=== TEST 13: odd cut sizes, cycled, across frame boundaries
--- mock eval
untidy_response(split => [1, 5, 300, 2])
--- response_body_like chomp
"stop":true
--- mock_check eval
sub {
    my ($reqs, $block) = @_;
    is(scalar @$reqs, 1, $block->name . " - one request");
}



=== TEST 14: close-delimited vs chunked body
--- mock eval
[ text_response({ usage => 0, close => 'close' }, 'closed'),
  text_response({ usage => 0 }, 'chunked') ]
--- request eval
["POST /\n{}", "POST /\n{}"]
--- response_headers eval
["!X-Upstream-TE\nX-Upstream-Connection: close", "X-Upstream-TE: chunked\n!X-Upstream-Connection"]
--- response_body_like eval
['"content":"closed"', '"content":"chunked"']
--- no_error_log
[error]



=== TEST 15: reset in the middle of a frame truncates the body
--- config
location = / {
    chunked_transfer_encoding off;
    proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    proxy_buffering off;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Content-Type application/x-amz-json-1.0;
    proxy_set_header X-Amz-Target AmazonCodeWhispererStreamingService.GenerateAssistantResponse;
}
--- mock
{"events": [
    {"event": "assistantResponseEvent", "payload": {"content": "before"}},
    {"reset_mid_frame": {"event": "assistantResponseEvent", "payload": {"content": "after"}}}
]}
--- frames
event assistantResponseEvent {"content":"before"}
TRUNCATED 63 of 127 bytes
--- error_log eval
qr/recv\(\) failed \(104: Connection reset by peer\)/



=== TEST 16: hangup: the upstream closes without the terminal chunk
--- config
location = / {
    chunked_transfer_encoding off;
    proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    proxy_buffering off;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Content-Type application/x-amz-json-1.0;
    proxy_set_header X-Amz-Target AmazonCodeWhispererStreamingService.GenerateAssistantResponse;
}
--- mock
{"events": [
    {"event": "assistantResponseEvent", "payload": {"content": "Hi"}},
    {"hangup": true}
]}
--- frames
event assistantResponseEvent {"content":"Hi"}
--- error_log
upstream prematurely closed connection



=== TEST 17: corrupted CRCs, exception and error frames mid-stream
--- mock
{"events": [
    {"event": "assistantResponseEvent", "payload": {"content": "a"}},
    {"corrupt_crc": {"event": "assistantResponseEvent", "payload": {"content": "b"}}},
    {"corrupt_crc": {"event": "assistantResponseEvent", "payload": {"content": "c"}}, "which": "prelude"},
    {"exception": "ThrottlingException", "payload": {"message": "slow down"}},
    {"exception": "ThrottlingException", "payload": ""},
    {"error_code": "InternalFailure", "error_message": "backend unavailable"},
    {"event": "assistantResponseEvent", "payload": {"content": "d"}, "repeat": 2},
    {"raw_hex": "0000001000000000 05c248eb 7d98c8ff"},
    {"frame": {"headers": [{"name": ":message-type", "value": "event"},
                           {"name": ":event-type", "value": "x"},
                           {"name": ":content-type", "value": "application/json"},
                           {"name": "n", "type": "int", "value": 7}],
               "payload": {"k": [1, 2]}}},
    {"event": "assistantResponseEvent", "payload": "not json",
     "headers": [{"name": "flag", "type": "bool", "value": true}]}
]}
--- frames
event assistantResponseEvent {"content":"a"}
!message-crc event assistantResponseEvent {"content":"b"}
!prelude-crc !message-crc event assistantResponseEvent {"content":"c"}
exception ThrottlingException {"message":"slow down"}
exception ThrottlingException
error InternalFailure backend unavailable
event assistantResponseEvent {"content":"d"}
event assistantResponseEvent {"content":"d"}
? ?
event x {"k":[1,2]} [n=int:7]
event assistantResponseEvent not json [flag=bool:true]



=== TEST 18: a stream cut off inside a tool call
--- mock eval
cut_in_tool_response()
--- frames
event messageMetadataEvent {"conversationId":"c0ffee00-0000-4000-8000-00000000c0de","utteranceId":"c0ffee00-0000-4000-8000-0000000000a1"}
event assistantResponseEvent {"content":"Let me check."}
event toolUseEvent {"name":"read_file","toolUseId":"tooluse_cut01"}
event toolUseEvent {"input":"{\"path\": \"/etc/ho","name":"read_file","toolUseId":"tooluse_cut01"}
--- no_error_log
[error]



=== TEST 19: tool_response: fragments, then an object input
--- mock eval
[ tool_response(id => 't1', name => 'read', fragments => ['{"pa', 'th": "/tmp"}'],
                text => ['Reading.'], usage => 0, initial_response => 1),
  tool_response(id => 't2', name => 'ls', input => { path => '/' }, usage => 0, stop_reason => 'TOOL_USE') ]
--- request eval
["POST /\n{}", "POST /\n{}"]
--- frames eval
[ 'event initial-response {"conversationId":"c0ffee00-0000-4000-8000-00000000c0de"}
event messageMetadataEvent {"conversationId":"c0ffee00-0000-4000-8000-00000000c0de","utteranceId":"c0ffee00-0000-4000-8000-0000000000a1"}
event assistantResponseEvent {"content":"Reading."}
event toolUseEvent {"name":"read","toolUseId":"t1"}
event toolUseEvent {"input":"{\"pa","name":"read","toolUseId":"t1"}
event toolUseEvent {"input":"th\": \"/tmp\"}","name":"read","toolUseId":"t1"}
event toolUseEvent {"name":"read","stop":true,"toolUseId":"t1"}',
'event messageMetadataEvent {"conversationId":"c0ffee00-0000-4000-8000-00000000c0de","utteranceId":"c0ffee00-0000-4000-8000-0000000000a1"}
event toolUseEvent {"name":"ls","toolUseId":"t2"}
event toolUseEvent {"input":{"path":"/"},"name":"ls","toolUseId":"t2"}
event toolUseEvent {"name":"ls","stop":true,"toolUseId":"t2"}
event metadataEvent {"stopReason":"TOOL_USE"}' ]



=== TEST 20: keep-alive upstream connections: several requests on one connection
--- http_config
upstream mock {
    server 127.0.0.1:$TEST_NGINX_MOCK_PORT;
    keepalive 4;
}
--- config
location = / {
    proxy_pass http://mock;
    proxy_buffering off;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Content-Type application/x-amz-json-1.0;
    proxy_set_header X-Amz-Target AmazonCodeWhispererStreamingService.GenerateAssistantResponse;
}
--- mock eval
[ text_response({ usage => 0 }, 'k1'), error_response('quota'), text_response({ usage => 0 }, 'k3') ]
--- request eval
["POST /\n{\"n\":1}", "POST /\n{\"n\":22}", "POST /\n{\"n\":333}"]
--- error_code eval
[200, 429, 200]
--- mock_requests: 1
--- mock_check eval
sub {
    my ($reqs, $block) = @_;
    my @all = mock_requests();
    is($reqs->[0]{peer}, $all[0]{peer},
       $block->name . " - same upstream connection as the first request");
}
