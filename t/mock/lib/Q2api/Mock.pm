package Q2api::Mock;

# A scriptable imitation of the upstream services, for the integration
# tests, demos and benchmarks: the server core.  What a service accepts and
# how its answers look lives in one module per service:
#
#   Q2api::Mock::AmazonQ   GenerateAssistantResponse (the default service):
#                          request checks, canned errors, event streams, and
#                          the Perl builders that script it
#   Q2api::Mock::HTTP      the HTTP/1.1 wire every service shares
#
# Identity endpoints (AWS OIDC, Kiro auth, usage and profiles) answer plain
# JSON, so a script gives their answers by path ("by_path") and they need
# no module.  Another streaming backend gets its own Q2api::Mock::NAME with
# the same class methods as Q2api::Mock::AmazonQ, and its own server:
# Q2api::Mock->new(service => 'Q2api::Mock::NAME').
#
# One server process accepts connections and forks a child per connection;
# a child serves any number of keep-alive requests.  Everything the children
# share lives in the state directory:
#
#   script.json     what to answer (re-read on every request)
#   lock            flock()ed around every read-modify-write below
#   seq             sequence number of the last recorded request
#   counters.json   how far each response sequence has been consumed
#   requests/       one JSON record per request (NNNNNNNN.json)
#
# Script (JSON, or the same structure in Perl):
#
#   { "responses": [RESPONSE, ...] }          one per request, in order; the
#                                             last one repeats
#   { "by_token": { "<token>": [RESPONSE, ...], "*": [RESPONSE, ...] } }
#   { "by_path": { "/token": [RESPONSE, ...] }, ... }   identity endpoints
#                  (OIDC, Kiro auth): own sequences, checked first, no
#                  request checks of the service
#                                             per bearer token, each its own
#                                             sequence; may be combined with
#                                             "responses" (used when no
#                                             token entry matches)
#   "validate": false                         accept any method, content type
#                                             and x-amz-target
#   [RESPONSE, ...]  or a lone RESPONSE       shorthand for "responses"
#
#   RESPONSE: status, headers, events, json | body, error (the service's
#   canned errors, with optional message/reason overrides), split,
#   drip_ms, close ("chunked" | "close"), delay_ms.  EVENTs are the
#   service's (Q2api::Mock::AmazonQ lists its own).
# The project README's "Amazon Q mock" section describes each key.

use strict;
use warnings;

use Carp qw(croak);
use Errno ();
use Exporter 'import';
use Fcntl qw(:flock);
use File::Path qw(make_path);
use File::Temp ();
use IO::Select;
use IO::Socket::INET;
use JSON::PP ();
use MIME::Base64 qw(encode_base64 decode_base64);
use POSIX qw(WNOHANG);
use Socket qw(IPPROTO_TCP TCP_NODELAY SOL_SOCKET SO_LINGER);
use Time::HiRes qw(time sleep);

use Q2api::EventStream qw(as_chars);
use Q2api::Mock::AmazonQ ();
use Q2api::Mock::HTTP qw(read_request write_all http_date reason);

our @EXPORT_OK = ('normalize_script');

our $DEFAULT_SERVICE = 'Q2api::Mock::AmazonQ';

my $JSON = JSON::PP->new->utf8->canonical;
my $JSON_PRETTY = JSON::PP->new->utf8->canonical->pretty;

# --------------------------------------------------------------------------
# Scripts
# --------------------------------------------------------------------------

# Accepts a JSON text, a script hashref, an arrayref (= {responses => [...]})
# or a single RESPONSE hashref (= {responses => [it]}); returns the script
# hashref with all strings as character strings.  Croaks when malformed;
# $service (default Amazon Q) checks what belongs to it.
sub normalize_script {
    my ($script, $service) = @_;
    $service //= $DEFAULT_SERVICE;
    if (!ref $script) {
        croak "empty mock script" unless defined $script && $script =~ /\S/;
        my $decoded = eval { JSON::PP->new->utf8->relaxed->decode($script) };
        croak "mock script is not valid JSON: $@" unless defined $decoded;
        $script = $decoded;
    }

    $script = { responses => $script } if ref $script eq 'ARRAY';
    croak "mock script must be a JSON object or array" unless ref $script eq 'HASH';

    if (exists $script->{by_path}) {
        croak "by_path must be an object" unless ref $script->{by_path} eq 'HASH';
        for my $path (sort keys %{ $script->{by_path} }) {
            _check_sequence($script->{by_path}{$path}, "by_path.$path", $service);
        }
    }
    if (!exists $script->{responses} && !exists $script->{by_token}
        && !exists $script->{by_path})
    {
        $script = { responses => [ $script ] };
    }

    if (exists $script->{responses}) {
        _check_sequence($script->{responses}, 'responses', $service);
    }
    if (exists $script->{by_token}) {
        croak "by_token must be an object" unless ref $script->{by_token} eq 'HASH';
        for my $tok (sort keys %{ $script->{by_token} }) {
            _check_sequence($script->{by_token}{$tok}, "by_token.$tok", $service);
        }
    }

    return as_chars($script);
}

sub _check_sequence {
    my ($seq, $where, $service) = @_;
    croak "$where must be a non-empty array of responses"
        unless ref $seq eq 'ARRAY' && @$seq;
    for my $i (0 .. $#$seq) {
        my $r = $seq->[$i];
        croak "$where\[$i] must be an object" unless ref $r eq 'HASH';
        $service->check_response($r, "$where\[$i]");
        if (defined(my $s = $r->{split})) {
            my $ok = ref $s eq 'ARRAY'
                ? (@$s && !grep { !/^\d+$/ || $_ == 0 } @$s)
                : ($s eq 'frame' || $s eq 'byte' || ($s =~ /^\d+$/ && $s > 0));
            croak "$where\[$i]: bad split" unless $ok;
        }
        croak "$where\[$i]: close must be 'chunked' or 'close'"
            if defined $r->{close} && $r->{close} !~ /^(?:chunked|close)$/;
    }
}

# --------------------------------------------------------------------------
# The server object
# --------------------------------------------------------------------------

# Q2api::Mock->new(
#     listen      => '127.0.0.1:0',   # host:port, port 0 = any free port
#     state_dir   => DIR,             # default: a fresh temporary directory
#     script_file => FILE,            # default: STATE_DIR/script.json
#     record_dir  => DIR,             # default: STATE_DIR/requests;
#                                     # '' = do not record
#     watch_parent => 1,              # exit when the starting process is gone
#     verbose     => 0,               # one line per request on stderr
#     service     => CLASS,           # default: Q2api::Mock::AmazonQ
# )
sub new {
    my ($class, %opt) = @_;
    my $self = bless { listen => '127.0.0.1:0', verbose => 0,
                       service => $DEFAULT_SERVICE, %opt }, $class;

    if (!defined $self->{state_dir}) {
        $self->{tmp} = File::Temp->newdir('q2api-mock-XXXXXX', TMPDIR => 1);
        $self->{state_dir} = $self->{tmp}->dirname;
    }
    make_path($self->{state_dir});
    $self->{script_file} //= "$self->{state_dir}/script.json";
    $self->{record_dir} //= "$self->{state_dir}/requests";
    make_path($self->{record_dir}) if length $self->{record_dir};

    return $self;
}

sub service { $_[0]{service} }
sub state_dir { $_[0]{state_dir} }
sub script_file { $_[0]{script_file} }
sub record_dir { $_[0]{record_dir} }
sub pid { $_[0]{pid} }

sub port {
    my ($self) = @_;
    return $self->{port} if $self->{port};
    $self->_bind;
    return $self->{port};
}

sub _bind {
    my ($self) = @_;
    return if $self->{sock};
    my ($host, $port) = $self->{listen} =~ /^(.*):(\d+)$/
        or croak "listen must be host:port, not '$self->{listen}'";
    $self->{sock} = IO::Socket::INET->new(
        LocalAddr => $host, LocalPort => $port, Proto => 'tcp',
        Listen => 128, ReuseAddr => 1,
    ) or croak "cannot listen on $self->{listen}: $@";
    $self->{host} = $host;
    $self->{port} = $self->{sock}->sockport;
}

# Forks the server; returns its pid once it accepts connections.  The child
# never returns (POSIX::_exit), so the caller's END blocks and Test::Builder
# stay with the caller.
sub start {
    my ($self) = @_;
    $self->_bind;
    $self->{parent_pid} = $$;

    my $pid = fork;
    croak "fork failed: $!" unless defined $pid;

    if ($pid == 0) {
        my $rc = 0;
        eval {
            setpgrp(0, 0);
            # Keep whatever the child might print away from TAP on stdout.
            open STDOUT, '>&', \*STDERR;
            $self->run;
            1;
        } or do {
            warn "q2api mock: $@" if $@;
            $rc = 1;
        };
        POSIX::_exit($rc);
    }

    $self->{pid} = $pid;
    close delete $self->{sock};

    # The socket listens already; still make sure the server is up.
    for (1 .. 100) {
        my $c = IO::Socket::INET->new(PeerAddr => $self->{host},
                                      PeerPort => $self->{port}, Proto => 'tcp');
        if ($c) {
            close $c;
            return $pid;
        }
        sleep 0.05;
    }
    croak "q2api mock on $self->{host}:$self->{port} does not accept connections";
}

# Stops a server started with start(): TERM (the server passes it on to its
# connection children), then KILL for the process group if still alive.
sub stop {
    my ($self) = @_;
    my $pid = delete $self->{pid} or return;

    kill 'TERM', $pid;
    my $deadline = time + 5;
    while (time < $deadline) {
        my $r = waitpid($pid, WNOHANG);
        return if $r == $pid || $r == -1;
        sleep 0.02;
    }
    kill 'KILL', -$pid;    # the server made itself a process group leader
    waitpid($pid, 0);
}

# The accept loop.  Runs until SIGTERM/SIGINT (or, with watch_parent, until
# the process that started it is gone).
sub run {
    my ($self) = @_;
    $self->_bind;
    my $listen = $self->{sock};

    my %children;
    my $stopping = 0;
    local $SIG{PIPE} = 'IGNORE';
    local $SIG{CHLD} = sub {
        while ((my $k = waitpid(-1, WNOHANG)) > 0) { delete $children{$k} }
    };
    local $SIG{TERM} = sub { $stopping = 1 };
    local $SIG{INT} = sub { $stopping = 1 };

    my $sel = IO::Select->new($listen);
    until ($stopping) {
        if ($self->{watch_parent} && $self->{parent_pid}
            && getppid() != $self->{parent_pid}) {
            last;
        }
        next unless $sel->can_read(1);

        my $client = $listen->accept;
        if (!$client) {
            next if $!{EINTR} || $!{EAGAIN} || $!{ECONNABORTED};
            warn "q2api mock: accept: $!\n";
            next;
        }

        my $pid = fork;
        if (!defined $pid) {
            warn "q2api mock: fork: $!\n";
            close $client;
            next;
        }
        if ($pid == 0) {
            my $rc = 0;
            eval {
                $SIG{$_} = 'DEFAULT' for qw(TERM INT CHLD);
                close $listen;
                # A forked child inherits the PRNG state: reseed, or every
                # connection would hand out the same request ids.
                srand($$ ^ int(time * 1000));
                $self->_serve_connection($client);
                1;
            } or do {
                warn "q2api mock: $@" if $@;
                $rc = 1;
            };
            POSIX::_exit($rc);
        }
        $children{$pid} = 1;
        close $client;    # the child has its own copy
    }

    # Stop the connection children and reap them (for up to a second).
    kill 'TERM', keys %children if %children;
    my $deadline = time + 1;
    while (%children && time < $deadline) {
        for my $k (keys %children) {
            delete $children{$k} if waitpid($k, WNOHANG) != 0;
        }
        sleep 0.01 if %children;
    }
    close $listen;
    delete $self->{sock};
}

# --------------------------------------------------------------------------
# State directory: lock, counters, records
# --------------------------------------------------------------------------

sub _locked {
    my ($self, $code) = @_;
    open my $lk, '>>', "$self->{state_dir}/lock"
        or die "cannot open $self->{state_dir}/lock: $!";
    flock($lk, LOCK_EX) or die "flock: $!";
    my @r = eval { $code->() };
    my $err = $@;
    flock($lk, LOCK_UN);
    close $lk;
    die $err if $err;
    return wantarray ? @r : $r[0];
}

sub _slurp {
    my ($file) = @_;
    open my $fh, '<:raw', $file or return undef;
    local $/;
    my $data = <$fh>;
    close $fh;
    return $data;
}

# Writes a file atomically (temporary file + rename), so that a concurrent
# reader sees the old or the new content, never half of it.
sub _spew {
    my ($file, $data) = @_;
    my $tmp = "$file.tmp.$$";
    open my $fh, '>:raw', $tmp or die "cannot write $tmp: $!";
    print {$fh} $data or die "cannot write $tmp: $!";
    close $fh or die "cannot write $tmp: $!";
    rename $tmp, $file or die "cannot rename $tmp to $file: $!";
}

# set_script($script): JSON text, hashref or arrayref (see normalize_script).
# Also resets the sequence counters, so the new script starts from its first
# response.
sub set_script {
    my ($self, $script) = @_;
    my $norm = normalize_script($script, $self->{service});
    $self->_locked(sub {
        _spew($self->{script_file}, $JSON_PRETTY->encode($norm));
        _spew("$self->{state_dir}/counters.json", '{}');
    });
    return $norm;
}

# Forgets the recorded requests and restarts every response sequence.
sub reset {
    my ($self) = @_;
    $self->_locked(sub {
        if (length $self->{record_dir}) {
            opendir my $dh, $self->{record_dir} or die "$self->{record_dir}: $!";
            unlink map { "$self->{record_dir}/$_" } grep { /\.json$/ } readdir $dh;
            closedir $dh;
        }
        _spew("$self->{state_dir}/seq", "0\n");
        _spew("$self->{state_dir}/counters.json", '{}');
    });
}

# Restarts every response sequence, keeping the records.
sub reset_counters {
    my ($self) = @_;
    $self->_locked(sub { _spew("$self->{state_dir}/counters.json", '{}') });
}

# All recorded requests, in arrival order.  "body" is the raw request body
# (bytes); "json" is added when the body parses as JSON.
sub requests {
    my ($self) = @_;
    return () unless length $self->{record_dir};
    opendir my $dh, $self->{record_dir} or return ();
    my @files = sort grep { /^\d+\.json$/ } readdir $dh;
    closedir $dh;

    my @out;
    for my $f (@files) {
        my $data = _slurp("$self->{record_dir}/$f");
        next unless defined $data;
        my $rec = eval { $JSON->decode($data) } or next;
        if (exists $rec->{body_base64}) {
            $rec->{body} = decode_base64(delete $rec->{body_base64});
        } else {
            utf8::encode($rec->{body});
        }
        my $json = eval { JSON::PP->new->utf8->decode($rec->{body}) };
        $rec->{json} = $json if defined $json;
        push @out, $rec;
    }
    return sort { $a->{seq} <=> $b->{seq} } @out;
}

# Under the lock: number and record the request, then pick (and consume)
# the scripted response.  Returns the RESPONSE hashref.
sub _admit {
    my ($self, $req) = @_;
    return $self->_locked(sub {
        my $seq = (_slurp("$self->{state_dir}/seq") // 0) + 0;
        $seq++;
        _spew("$self->{state_dir}/seq", "$seq\n");
        $req->{seq} = $seq;
        $self->_record($req) if length $self->{record_dir};
        return $self->_choose($req);
    });
}

sub _record {
    my ($self, $req) = @_;
    my %rec = (
        seq => $req->{seq},
        method => $req->{method},
        path => $req->{path},
        query => $req->{query},
        headers => $req->{headers},
        time => $req->{time},
        peer => $req->{peer},
    );
    # Stored as text when the body is UTF-8 (readable files); otherwise as
    # base64.  requests() gives back the raw bytes either way.
    my $body = $req->{body};
    if (utf8::decode(my $text = $body)) {
        $rec{body} = $text;
    } else {
        $rec{body_base64} = encode_base64($body, '');
    }
    _spew(sprintf('%s/%08d.json', $self->{record_dir}, $req->{seq}),
          $JSON->encode(\%rec) . "\n");
}

sub _load_script {
    my ($self) = @_;
    my $text = _slurp($self->{script_file});
    return $self->{service}->default_script unless defined $text;
    return normalize_script($text, $self->{service});
}

sub _choose {
    my ($self, $req) = @_;

    my $script = eval { $self->_load_script };
    if (!$script) {
        my $err = $@ || 'unknown error';
        return { status => 500, body => "q2api mock: bad script: $err",
                 headers => { 'content-type' => 'text/plain' } };
    }

    my ($key, $list);

    # identity endpoints (OIDC /token, /client/register, Kiro
    # /refreshToken...): their own sequences, keyed by path
    if ($script->{by_path} && $script->{by_path}{ $req->{path} }) {
        ($key, $list) = ("path:$req->{path}", $script->{by_path}{ $req->{path} });
    }

    if (!$list && ($script->{validate} // 1)) {
        my $bad = $self->{service}->refuse($req);
        return $bad if $bad;
    }

    my $auth = $req->{headers}{authorization} // '';
    my ($token) = $auth =~ /^\s*Bearer\s+(\S+)/i;
    if (!$list && $script->{by_token}) {
        if (defined $token && $script->{by_token}{$token}) {
            ($key, $list) = ("token:$token", $script->{by_token}{$token});
        } elsif ($script->{by_token}{'*'}) {
            ($key, $list) = ('token:*', $script->{by_token}{'*'});
        }
    }
    if (!$list && $script->{responses}) {
        ($key, $list) = ('responses', $script->{responses});
    }
    return $self->{service}->unknown_caller unless $list;

    my $counters = eval { $JSON->decode(_slurp("$self->{state_dir}/counters.json") // '{}') }
                   || {};
    my $i = $counters->{$key} // 0;
    $counters->{$key} = $i + 1;
    _spew("$self->{state_dir}/counters.json", $JSON->encode($counters));

    # Consumed in order; the last one repeats.
    return $list->[ $i < @$list ? $i : $#$list ];
}

# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------

sub _log {
    my ($self, $msg) = @_;
    print STDERR "q2api mock [$$]: $msg\n" if $self->{verbose};
}

sub _serve_connection {
    my ($self, $c) = @_;
    binmode $c;
    setsockopt($c, IPPROTO_TCP, TCP_NODELAY, 1);
    my $peer = $c->peerhost . ':' . $c->peerport;
    my $buf = '';

    while (1) {
        my $req = read_request($c, \$buf) or last;
        $req->{peer} = $peer;
        my $resp = $self->_admit($req);
        $self->_log("#$req->{seq} $req->{method} $req->{path} -> "
                    . ($resp->{error} // $resp->{status} // 200));
        my $keep = $self->_respond($c, $req, $resp);
        last unless $keep;
    }
    close $c;
}

sub _uuid {
    my @b = map { int rand 256 } 1 .. 16;
    $b[6] = ($b[6] & 0x0f) | 0x40;
    $b[8] = ($b[8] & 0x3f) | 0x80;
    return sprintf '%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x', @b;
}

# Sends one response.  Returns true when the connection may serve another
# request.
sub _respond {
    my ($self, $c, $req, $resp) = @_;

    my $svc = $self->{service};
    $resp = $svc->expand_error($resp) if defined $resp->{error};
    my $status = $resp->{status} // 200;

    sleep($resp->{delay_ms} / 1000) if $resp->{delay_ms};

    my @head = (
        ['x-amzn-requestid', _uuid()],
        ['date', http_date()],
    );
    my $streaming = exists $resp->{events}
                 || (!exists $resp->{json} && !exists $resp->{body} && $status == 200);

    my ($body, @ops);
    if ($streaming) {
        @ops = eval { $svc->stream_ops($resp->{events} || []) };
        if (my $err = $@) {
            # Cannot happen for scripts that passed normalize_script, except
            # for values the encoder refuses (e.g. a bad header type).
            warn $err;
            $resp = { status => 500, body => "q2api mock: $err" };
            $status = 500;
            $streaming = 0;
        }
    }
    if ($streaming) {
        push @head, ['content-type', $svc->stream_type];
    } elsif (exists $resp->{json}) {
        push @head, ['content-type', $svc->content_type];
        $body = $JSON->encode(as_chars($resp->{json}));
    } else {
        $body = $resp->{body} // '';
        utf8::encode($body) if utf8::is_utf8($body);
        push @head, ['content-type', $svc->content_type];
    }

    # Extra headers replace defaults of the same name.
    my $extra = $resp->{headers} || {};
    my %override = map { lc($_) => 1 } keys %$extra;
    @head = grep { !$override{ $_->[0] } } @head;
    push @head, map { [$_, $extra->{$_}] } sort keys %$extra;

    my $keep = $req->{keep_alive};
    # Chunked only for HTTP/1.1 requests (RFC 9112 6.1); an HTTP/1.0 client
    # gets a connection-close delimited stream.
    my $chunked = $streaming && ($resp->{close} // 'chunked') eq 'chunked'
                  && $req->{version} eq '1.1';

    if ($streaming) {
        if ($chunked) {
            push @head, ['transfer-encoding', 'chunked'];
        } else {
            $keep = 0;
        }
    } else {
        push @head, ['content-length', length $body];
    }
    push @head, ['connection', 'close'] unless $keep;

    my $reason = reason($status);
    my $out = "HTTP/1.1 $status $reason\r\n"
            . join('', map { "$_->[0]: $_->[1]\r\n" } @head) . "\r\n";

    if (!$streaming) {
        return 0 unless write_all($c, $out . $body);
        return $keep;
    }

    write_all($c, $out) or return 0;
    my $end = $self->_stream($c, $resp, \@ops, $chunked);
    return 0 if $end ne 'done';
    if ($chunked) {
        write_all($c, "0\r\n\r\n") or return 0;
    }
    return $keep;
}

# Streams the body.  Returns 'done', 'reset', 'hangup' or 'error'.
#
# $ops are the service's stream_ops: [bytes => $b], [sleep => $ms],
# [reset => $partial, $linger_ms], [hangup].
# "split" decides how the concatenated frame bytes are cut into write()
# calls (each one HTTP chunk in chunked mode): 'frame' = one write per
# frame; 'byte' = one byte per write; N = N bytes per write; [n1, n2, ...] =
# those sizes, cycled.  Cuts ignore frame boundaries; sleep/reset/hangup
# operations flush what is pending first.  drip_ms sleeps before every write
# but the first.  TCP_NODELAY is on, but the peer may still read several
# writes at once unless drip_ms gives it time.
sub _stream {
    my ($self, $c, $resp, $ops, $chunked) = @_;

    my $split = $resp->{split} // 'frame';
    my @sizes = ref $split eq 'ARRAY' ? @$split
              : $split eq 'frame' ? ()
              : $split eq 'byte' ? (1)
              : ($split);
    my $cut = 0;
    my $drip = ($resp->{drip_ms} // 0) / 1000;
    my $writes = 0;

    my $write = sub {
        my ($data) = @_;
        return 1 unless length $data;
        sleep $drip if $drip && $writes;
        $writes++;
        $data = sprintf("%x\r\n", length $data) . $data . "\r\n" if $chunked;
        return write_all($c, $data);
    };

    my $pending = '';
    my $flush = sub {
        my $ok = $write->($pending);
        $pending = '';
        return $ok;
    };

    for my $op (@$ops) {
        my ($kind, @arg) = @$op;
        if ($kind eq 'bytes') {
            if (!@sizes) {
                $write->($arg[0]) or return 'error';
                next;
            }
            $pending .= $arg[0];
            while (length $pending >= (my $n = $sizes[ $cut % @sizes ])) {
                $write->(substr($pending, 0, $n, '')) or return 'error';
                $cut++;
            }
        } elsif ($kind eq 'sleep') {
            $flush->() or return 'error';
            sleep($arg[0] / 1000);
        } elsif ($kind eq 'reset') {
            $flush->() or return 'error';
            $write->($arg[0]) or return 'error';
            # Give the peer time to read what was written before the RST:
            # the data must arrive as data, not be lost with the reset.
            sleep($arg[1] / 1000) if $arg[1];
            # SO_LINGER on with a zero timeout: close() sends RST, not FIN.
            setsockopt($c, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
            close $c;
            return 'reset';
        } elsif ($kind eq 'hangup') {
            $flush->() or return 'error';
            close $c;
            return 'hangup';
        }
    }
    $flush->() or return 'error';
    return 'done';
}

1;
