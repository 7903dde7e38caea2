# The fault matrix: every way the upstream can fail (a reset inside a
# frame, garbage, a bad CRC, a 16 MB prelude, a stall, an HTML 5xx, a
# clean close in the middle of the answer), each met by streamed and whole
# requests of both dialects; then "nginx -s reload" with requests in
# flight, clients that hang up at random points (FAULT_MATRIX_SEED
# replays a run), and PostgreSQL stopped and started under traffic.
# Throughout: no worker dies, every answer is well formed in the client's
# dialect, and every account update the zone counted reaches the store.

use strict;
use warnings;

use Test::More;
use IO::Socket::INET;
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(sleep time);

use Q2api::EventStream qw(crc32);
use Q2api::Mock;
use Q2api::Mock::AmazonQ qw(:builders);
use Q2api::Nginx;
# the Claude stream checks, without the Test::Nginx hook its import adds
require Q2api::SSE;

# the servers stop in DESTROY, also when the test is interrupted
$SIG{INT} = $SIG{TERM} = sub { exit 130 };

my $JSON = JSON::PP->new->utf8->canonical;

my $mock = Q2api::Mock->new(watch_parent => 1);
$mock->start;
my $MPORT = $mock->port;

# A custom Amazon Q location with a short read timeout, so that a stall
# is a timeout within a second (the shipped one waits 300 s).
my $n = Q2api::Nginx->new(http => <<"_EOC_", server => <<'_EOC_');
    q2api_zone q2api 8m;
    q2api_store file accounts.json;
    q2api_store_interval 100ms;
    q2api_amazonq_url http://127.0.0.1:$MPORT/;
_EOC_
        location /v1/ {
            q2api_amazonq_location /_t/amazonq;
            q2api_ping_interval 0;
            q2api_pass claude;
        }

        location = /_t/amazonq {
            internal;
            proxy_pass $q2api_upstream_url;
            proxy_http_version 1.1;
            proxy_pass_request_headers off;
            proxy_set_header Connection "";
            proxy_set_header Content-Type "application/x-amz-json-1.0";
            proxy_set_header X-Amz-Target
                "AmazonCodeWhispererStreamingService.GenerateAssistantResponse";
            proxy_set_header Authorization $q2api_authorization;
            proxy_buffering off;
            proxy_read_timeout 1s;
        }

        location /admin/ {
            q2api_admin;
            q2api_admin_password "fault-matrix-pw";
        }
_EOC_

$n->write_file('accounts.json',
               $JSON->encode([ { id => 'a', accessToken => 'tok-a' } ]));
$n->start;

# --------------------------------------------------------------------------
# the requests, and what a well formed answer is in each dialect
# --------------------------------------------------------------------------

my %PATH = (claude => '/v1/messages', openai => '/v1/chat/completions');

sub body_for {
    my ($dialect, $stream, $text) = @_;
    my $s = $stream ? 'true' : 'false';
    my $m = ',"messages":[{"role":"user","content":"' . ($text // 'hi')
          . '"}]}';
    return $dialect eq 'claude'
        ? '{"model":"claude-sonnet-4-5","max_tokens":50,"stream":' . $s . $m
        : '{"model":"claude-sonnet-4-5","stream":' . $s . $m;
}

my @KINDS = map { my $d = $_; map { [$d, $_] } 1, 0 } qw(claude openai);

sub kind_name { "$_[0] " . ($_[1] ? 'stream' : 'whole') }

sub decode { my $v = eval { $JSON->decode($_[0]) }; return $v }

# An error answer before the first byte: a JSON envelope with an error
# status, in the dialect's shape.
sub envelope_problems {
    my ($dialect, $r) = @_;
    my $j = decode($r->{content});
    return ("status $r->{status} with a body that is not JSON: "
            . substr($r->{content} // '', 0, 200)) unless ref $j eq 'HASH';
    return ("content-type $r->{headers}{'content-type'}")
        unless ($r->{headers}{'content-type'} // '') =~ m{^application/json};
    if ($dialect eq 'claude') {
        return ('not {"type":"error","error":{type,message}}')
            unless ($j->{type} // '') eq 'error'
                   && defined $j->{error}{type} && defined $j->{error}{message};
    } else {
        return ('not {"error":{message,type}}')
            unless ref $j->{error} eq 'HASH'
                   && defined $j->{error}{message} && defined $j->{error}{type};
    }
    return ();
}

# An OpenAI stream: "data:" frames (comments allowed), chunks, and at the
# end [DONE] or a single error chunk.  Returns ('ok'|'error', problems).
sub openai_stream {
    my ($body) = @_;
    return ('error', 'no blank line at the end') unless $body =~ /\n\n\z/;
    my ($done, $error, $chunks) = (0, 0, 0);
    for my $frame (split /\n\n/, $body) {
        next if $frame =~ /\A:/;
        return ('error', "not a data line: $frame")
            unless $frame =~ /\Adata: ([^\n]*)\z/;
        my $data = $1;
        return ('error', 'data after the end') if $done || $error;
        if ($data eq '[DONE]') { $done = 1; next }
        my $c = decode($data);
        return ('error', "not JSON: $data") unless ref $c eq 'HASH';
        if ($c->{error}) {
            return ('error', 'error chunk without message and type')
                unless defined $c->{error}{message}
                       && defined $c->{error}{type};
            $error = 1;
            next;
        }
        return ('error', "not a chunk: $data")
            unless ($c->{object} // '') eq 'chat.completion.chunk';
        $chunks++;
    }
    return ('error') if $error;
    return ('ok') if $done && $chunks;
    return ('error', 'neither [DONE] nor an error chunk at the end');
}

# ('ok' | 'error', problems...): 'ok' is a complete answer, 'error' one
# that says it failed; problems make it malformed.
sub judge {
    my ($dialect, $stream, $r) = @_;
    return ('error', "no HTTP answer: $r->{status} $r->{content}")
        if $r->{status} == 599;
    return ('error', envelope_problems($dialect, $r)) if $r->{status} != 200;

    my $ct = $r->{headers}{'content-type'} // '';
    if ($stream) {
        return ('error', "content-type $ct")
            unless $ct =~ m{^text/event-stream};
        return openai_stream($r->{content}) if $dialect eq 'openai';
        my @ev = eval { Q2api::SSE::sse_events($r->{content}) };
        my $last = @ev ? ($ev[-1]{data}{type} // '') : '';
        my $failed = $last eq 'error';
        my @p = Q2api::SSE::sse_problems($r->{content}, $failed);
        if ($failed) {
            my $e = $ev[-1]{data}{error};
            push @p, 'error event without type and message'
                unless defined $e->{type} && defined $e->{message};
        }
        return ($failed ? 'error' : 'ok', @p);
    }

    my $j = decode($r->{content});
    return ('error', 'a 200 whose body is not JSON') unless ref $j eq 'HASH';
    if ($dialect eq 'claude') {
        return ('ok') if ($j->{type} // '') eq 'message'
                         && ref $j->{content} eq 'ARRAY'
                         && defined $j->{stop_reason};
    } else {
        return ('ok') if ($j->{object} // '') eq 'chat.completion'
                         && defined $j->{choices}[0]{finish_reason};
    }
    return ('error', "a 200 that is not a complete answer: $r->{content}");
}

sub ask {
    my ($dialect, $stream, $text) = @_;
    return $n->post($PATH{$dialect}, body_for($dialect, $stream, $text));
}

# A client process: asks what $next gives ([dialect, stream, text], until
# undef) and reports each judgement on a pipe.
sub client {
    my ($next) = @_;
    pipe(my $rd, my $wr) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        close $rd;
        while (my $q = $next->()) {
            my ($kind, @p) = judge(@$q[0, 1], ask(@$q));
            print {$wr} $JSON->encode([ kind_name(@$q[0, 1]), $kind, \@p ]),
                        "\n";
        }
        close $wr;
        POSIX::_exit(0);
    }
    close $wr;
    return [ $pid, $rd ];
}

# (answers, complete and well formed ones, what was wrong with the others)
sub gather {
    my ($answers, $ok, @bad) = (0, 0);
    for my $kid (@_) {
        my ($pid, $rd) = @$kid;
        while (my $line = <$rd>) {
            my ($what, $kind, $p) = @{ $JSON->decode($line) };
            $answers++;
            $ok++ if $kind eq 'ok' && !@$p;
            push @bad, "$what: $kind @$p" if $kind ne 'ok' || @$p;
        }
        waitpid $pid, 0;
    }
    return ($answers, $ok, @bad);
}

# --------------------------------------------------------------------------
# workers, counters
# --------------------------------------------------------------------------

# both workers, once both have been forked
sub all_workers {
    for (1 .. 100) {
        last if $n->worker_pids == 2;
        sleep 0.05;
    }
    return join ',', sort $n->worker_pids;
}

my $workers = all_workers();

sub no_crash {
    my ($phase) = @_;
    my $log = $n->read_file('logs/error.log') // '';
    my @dead = $log =~ /^(.*exited on signal.*)$/mg;
    ok(!@dead, "$phase: no worker died") or diag(join "\n", @dead);
    is(join(',', sort $n->worker_pids), $workers,
       "$phase: the same workers run");
}

sub admin_rows {
    my $r = $n->get('/admin/v2/accounts',
                    Authorization => 'Bearer fault-matrix-pw');
    my $j = decode($r->{content}) or return {};
    return { map { $_->{id} => $_ } @{ $j->{accounts} || [] } };
}

sub file_rows {
    my $j = decode($n->read_file('accounts.json') // '') or return {};
    return { map { $_->{id} => $_ }
             @{ ref $j eq 'HASH' ? $j->{accounts} : $j } };
}

my @COUNTERS = qw(success_count total_errors tokens_in tokens_out);

sub counters {
    my ($rows) = @_;
    my $a = $rows->{a} || {};
    return join ' ', map { "$_=" . ($a->{$_} // 0) } @COUNTERS;
}

# the file once the store has written what the zone counted (the store
# writes every 100 ms; a file that never catches up fails below)
sub settled {
    my $zone = counters(admin_rows());
    for (1 .. 100) {
        last if counters(file_rows()) eq $zone;
        sleep 0.1;
        $zone = counters(admin_rows());
    }
    return (counters(file_rows()), $zone);
}

sub successes { (file_rows()->{a} || {})->{success_count} // 0 }

my $good = 0;    # complete answers the clients got

sub control {
    my ($phase) = @_;
    $mock->set_script([ text_response('fine') ]);
    my ($kind, @p) = judge('claude', 1, ask('claude', 1));
    ok($kind eq 'ok' && !@p, "$phase: a plain request is served after it")
        or diag("@p");
    $good++ if $kind eq 'ok';
}

# --------------------------------------------------------------------------
# upstream faults
# --------------------------------------------------------------------------

my @HEAD = (event('messageMetadataEvent',
                  { conversationId => 'c0ffee00-0000-4000-8000-00000000c0de',
                    utteranceId => 'c0ffee00-0000-4000-8000-0000000000a1' }),
            event('assistantResponseEvent', { content => 'partial' }),
            { sleep_ms => 50 });
my $TEXT = event('assistantResponseEvent', { content => 'never' });

# preludes with a valid CRC that announce a 16 MB message (the decoder's
# limit: it buffers what comes, here 64 kB of it, then the stream ends) and
# one byte more than that (refused at once)
sub prelude {
    my ($total, $tail) = @_;
    my $p = pack 'NN', $total, 0;
    return { raw_hex => unpack('H*', $p . pack('N', crc32($p)) . $tail) };
}
my $BIG = prelude(16 * 1024 * 1024, 'x' x 65536);
my $HUGE = prelude(16 * 1024 * 1024 + 1, 'x' x 64);
my $GARBAGE = { raw_hex => unpack('H*', "<html><body>Bad gateway</body>"
                                        . "</html>\r\n" . "\xff" x 40) };
my $HTML = '<html><head><title>502 Bad Gateway</title></head><body>'
         . '<center><h1>502 Bad Gateway</h1></center></body></html>';

# a 403 that is neither a suspension nor about the token: an error the
# account's counter shows
my $DENIED = { status => 403,
               json => { __type => 'com.amazon.aws.codewhisperer#'
                                   . 'AccessDeniedException',
                         message => 'This feature is not enabled for the '
                                  . 'profile.' } };

my @FAULTS = (
    [ 'reset inside the first frame',
      { events => [ { reset_mid_frame => $TEXT } ] } ],
    [ 'reset inside a frame mid-answer',
      { events => [ @HEAD, { reset_mid_frame => $TEXT } ] } ],
    [ 'garbage instead of frames',
      { events => [ $GARBAGE ] } ],
    [ 'garbage mid-answer',
      { events => [ @HEAD, $GARBAGE ] } ],
    [ 'a bad message CRC mid-answer',
      { events => [ @HEAD, { corrupt_crc => $TEXT } ] } ],
    [ 'a bad prelude CRC first',
      { events => [ { corrupt_crc => $TEXT, which => 'prelude' } ] } ],
    [ 'a 16 MB prelude first',
      { events => [ $BIG ] } ],
    [ 'a 16 MB prelude mid-answer',
      { events => [ @HEAD, $BIG ] } ],
    [ 'a prelude past 16 MB first',
      { events => [ $HUGE ] } ],
    [ 'a prelude past 16 MB mid-answer',
      { events => [ @HEAD, $HUGE ] } ],
    [ 'a stall before the first frame',
      { events => [ { sleep_ms => 2500 }, $TEXT ] } ],
    [ 'a stall mid-answer',
      { events => [ @HEAD, { sleep_ms => 2500 }, $TEXT ] } ],
    [ 'an HTML 502',
      { status => 502, headers => { 'content-type' => 'text/html' },
        body => $HTML } ],
    [ 'an HTML 503 without a content type',
      { status => 503, headers => { 'content-type' => '' },
        body => $HTML } ],
    [ 'a 403 the account is blamed for',
      $DENIED, 'blamed' ],
    [ 'a clean close mid-answer (close-delimited body)',
      { close => 'close', events => [ @HEAD ] } ],
    [ 'a hangup mid-answer (chunked body never ended)',
      { events => [ @HEAD, { hangup => 1 } ] } ],
);

my $blamed = 0;    # failures the account's error counter must show

for my $f (@FAULTS) {
    my ($name, $resp, $blame) = @$f;
    $mock->set_script([ $resp ]);
    for my $k (@KINDS) {
        my ($kind, @p) = judge(@$k, ask(@$k));
        ok(!@p, "$name, " . kind_name(@$k) . ": well formed")
            or diag(join "\n", @p);
        is($kind, 'error', "$name, " . kind_name(@$k) . ": a failure");
        $blamed++ if $blame;
    }
    control($name);
}

no_crash('upstream faults');
{
    my ($file, $zone) = settled();
    note("upstream faults: $zone");
    is($file, $zone, 'upstream faults: the file holds what the zone counted');
    is(successes(), $good, "upstream faults: $good successes counted");
    like($file, qr/\btotal_errors=$blamed\b/,
         "upstream faults: $blamed errors counted");
}

# --------------------------------------------------------------------------
# nginx -s reload with requests in flight
# --------------------------------------------------------------------------

{
    # answers that take about half a second each
    $mock->set_script([ text_response({ drip_ms => 40 },
                                      map { "w$_ " } 1 .. 10) ]);
    my $clients = 6;
    my $each = 4;
    my @kids = map {
        my ($c, $i) = ($_, 0);
        client(sub { $i++ < $each ? $KINDS[ ($c + $i) % @KINDS ] : undef });
    } 1 .. $clients;

    sleep 0.3;
    $n->reload;
    sleep 0.4;
    $n->reload;
    $workers = all_workers();

    my ($answers, $ok, @bad) = gather(@kids);
    $good += $ok;
    is($answers, $clients * $each, 'reload: every client got an answer');
    is($ok, $answers, 'reload: every answer complete and well formed')
        or diag(join "\n", @bad);

    no_crash('reload');
    my ($file, $zone) = settled();
    is($file, $zone, 'reload: the file holds what the zone counted');
    is(successes(), $good, "reload: $good successes counted, none lost");
}

# --------------------------------------------------------------------------
# clients that hang up at random points
# --------------------------------------------------------------------------

# Sends the request, reads $after bytes of the answer (or, with $after
# negative, stops half way through sending the body) and closes.
sub hang_up {
    my ($dialect, $stream, $after) = @_;
    my $body = body_for($dialect, $stream);
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $n->port) or die "connect: $!";
    my $req = "POST $PATH{$dialect} HTTP/1.1\r\nHost: localhost\r\n"
            . "Content-Type: application/json\r\n"
            . 'Content-Length: ' . length($body) . "\r\n"
            . "Connection: close\r\n\r\n$body";
    if ($after < 0) {
        syswrite $s, substr($req, 0, length($req) - length($body) / 2);
        close $s;
        return;
    }
    syswrite $s, $req;
    my $got = 0;
    while ($got < $after) {
        my $r = sysread $s, my $buf, $after - $got;
        last unless $r;
        $got += $r;
    }
    close $s;
}

{
    my $seed = $ENV{FAULT_MATRIX_SEED} // int time;
    srand $seed;
    diag("client hang-ups: FAULT_MATRIX_SEED=$seed");

    $mock->set_script([ text_response({ drip_ms => 20 },
                                      map { "w$_ " } 1 .. 10) ]);
    $mock->reset;
    my @points = (-1, 0, 1, 20, 150, 300, 600, 1200, 2500);
    my $before = counters(admin_rows());
    my $sent = 0;
    for my $i (1 .. 24) {
        my $k = $KINDS[ int rand @KINDS ];
        my $after = $points[ int rand @points ];
        hang_up(@$k, $after);
        $sent++;
    }

    # every upstream call the hang-ups started has ended
    my $calls = -1;
    for (1 .. 50) {
        my $now = () = $mock->requests;
        last if $now == $calls;
        $calls = $now;
        sleep 0.3;
    }
    control('hang-ups');
    no_crash('hang-ups');
    my ($file, $zone) = settled();
    is($file, $zone, 'hang-ups: the file holds what the zone counted');
    my ($s0) = $before =~ /success_count=(\d+)/;
    my ($s1) = $zone =~ /success_count=(\d+)/;
    ok($s1 - $s0 >= 1 && $s1 - $s0 <= $calls + 1,
       "hang-ups: successes grew by " . ($s1 - $s0) . ", at most one per "
       . "upstream call ($calls) plus the control");
    my ($e0) = $before =~ /total_errors=(\d+)/;
    my ($e1) = $zone =~ /total_errors=(\d+)/;
    is($e1, $e0, 'hang-ups: a client that leaves is not the account\'s error');
}

$n->stop;

# --------------------------------------------------------------------------
# PostgreSQL restarted under traffic
# --------------------------------------------------------------------------

require Q2api::Pg;
my $pg = Q2api::Pg->new;

SKIP: {
    skip 'no PostgreSQL server: ' . Q2api::Pg->why, 6 unless $pg;
    $pg->start;

    my $ci = $pg->conninfo;
    $n = Q2api::Nginx->new(http => <<"_EOC_", server => <<'_EOC_');
    q2api_zone q2api 8m;
    q2api_store postgres "$ci";
    q2api_store_interval 100ms;
    q2api_max_errors 0;
    q2api_amazonq_url http://127.0.0.1:$MPORT/;
_EOC_
        location /v1/ {
            q2api_select round_robin;
            q2api_pass claude;
        }
_EOC_
    $n->start;
    $workers = all_workers();

    my $log = sub { $n->read_file('logs/error.log') // '' };
    for (1 .. 100) {
        last if $log->() =~ /postgres store ready/;
        sleep 0.05;
    }

    # every request that meets "bad" fails over to "good": each answer is
    # a success, and each call with tok-bad an error of "bad"
    $mock->set_script({ by_token => {
        'tok-bad' => [ $DENIED ],
        '*' => [ text_response('fine') ],
    } });
    $mock->reset;
    $pg->psql("INSERT INTO accounts (id, accessToken) VALUES "
            . "('good', 'tok-good'), ('bad', 'tok-bad'); "
            . "NOTIFY q2api_accounts, ''");
    # until the rows have arrived: one success, on counters that start at
    # zero (the answers before it found no account and count nothing)
    my $warm = 0;
    for (1 .. 100) {
        last if ($warm = ask('claude', 0)->{status} == 200);
        sleep 0.05;
    }
    my $sql = sub {
        $pg->psql("SELECT COALESCE(SUM(success_count), 0) || ' ' "
                . "|| COALESCE(SUM(total_errors), 0) FROM accounts",
                  allow_error => 1) // 'down';
    };

    my ($end, $i) = (time + 3, 0);
    # a new conversation each time: no affinity to one account
    my $kid = client(sub {
        time < $end ? [ @{ $KINDS[ $i % @KINDS ] }, 'hi ' . $i++ ] : undef
    });
    sleep 0.7;
    $pg->stop;
    sleep 1.2;
    $pg->start;

    my ($answers, $ok, @bad) = gather($kid);
    my $blamed = grep {
        ($_->{headers}{authorization} // '') eq 'Bearer tok-bad'
    } $mock->requests;

    ok($answers > 10, "postgres restart: $answers requests during it");
    is($ok, $answers, 'postgres restart: every answer complete and well '
                      . 'formed') or diag(join "\n", @bad);
    ok($blamed > 0, "postgres restart: $blamed calls met the failing "
                    . 'account');
    no_crash('postgres restart');

    my $want = ($warm + $ok) . ' ' . $blamed;
    for (1 .. 100) {
        last if $sql->() eq $want;
        sleep 0.1;
    }
    is($sql->(), $want, 'postgres restart: the database holds every '
                        . 'success and every error, none lost');
    $n->stop;
}

$mock->stop;

done_testing();
