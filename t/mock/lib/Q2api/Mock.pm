package Q2api::Mock;

# A scriptable imitation of Amazon Q's GenerateAssistantResponse endpoint
# (AmazonCodeWhispererStreamingService), for the integration tests, demos and
# benchmarks.
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
#                  Amazon Q request validation
#                                             per bearer token, each its own
#                                             sequence; may be combined with
#                                             "responses" (used when no
#                                             token entry matches)
#   "validate": false                         accept any method, content type
#                                             and x-amz-target
#   [RESPONSE, ...]  or a lone RESPONSE       shorthand for "responses"
#
#   RESPONSE: status, headers, events, json | body, error (canned errors,
#   see %CANNED_ERRORS, with optional message/reason overrides), split,
#   drip_ms, close ("chunked" | "close"), delay_ms.
#   EVENT: {event, payload, headers?, repeat?} | {exception, payload} |
#   {error_code, error_message} | {sleep_ms} | {reset_mid_frame: EVENT,
#   bytes?, linger_ms?} | {corrupt_crc: EVENT, which?: "message"|"prelude"} |
#   {raw_hex} | {frame: {headers: [{name, type?, value}], payload}} |
#   {hangup: true}.
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

use Q2api::EventStream qw(encode_event encode_exception encode_error
                          encode_frame corrupt_crc as_chars);

our @BUILDERS = qw(
    text_response tool_response error_response untidy_response
    cut_in_tool_response event exception_event error_event default_script
);
our @EXPORT_OK = (@BUILDERS, 'normalize_script');
our %EXPORT_TAGS = (builders => \@BUILDERS);

our $TARGET = 'AmazonCodeWhispererStreamingService.GenerateAssistantResponse';
our $CONTENT_TYPE = 'application/x-amz-json-1.0';
our $STREAM_TYPE = 'application/vnd.amazon.eventstream';

my $JSON = JSON::PP->new->utf8->canonical;
my $JSON_PRETTY = JSON::PP->new->utf8->canonical->pretty;

my $IDLE_TIMEOUT = 60;       # seconds a keep-alive connection may idle
my $READ_TIMEOUT = 30;       # seconds to wait for the rest of a request

my %REASON = (
    100 => 'Continue', 200 => 'OK', 204 => 'No Content',
    400 => 'Bad Request', 401 => 'Unauthorized', 403 => 'Forbidden',
    404 => 'Not Found', 408 => 'Request Timeout', 413 => 'Payload Too Large',
    429 => 'Too Many Requests', 500 => 'Internal Server Error',
    502 => 'Bad Gateway', 503 => 'Service Unavailable',
    504 => 'Gateway Timeout',
);

# The canned error responses behind RESPONSE.error.
my $CW = 'com.amazon.aws.codewhisperer#';
our %CANNED_ERRORS = (
    suspended => {
        status => 403, type => 'AccessDeniedException',
        reason => 'TEMPORARILY_SUSPENDED',
        message => "Your User ID (d-9067c0ffee.0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d) "
                 . "temporarily is suspended. We've locked your account as a "
                 . "security precaution. To request an appeal, contact AWS "
                 . "Support.",
    },
    expired => {
        status => 401, type => 'ExpiredTokenException',
        message => 'The bearer token included in the request is invalid.',
    },
    unauthorized => {
        status => 401, type => 'UnauthorizedException',
        message => 'The bearer token included in the request is invalid.',
    },
    throttled => {
        status => 429, type => 'ThrottlingException',
        message => 'Rate exceeded',
    },
    capacity => {
        status => 429, type => 'ThrottlingException',
        reason => 'INSUFFICIENT_MODEL_CAPACITY',
        message => 'I am experiencing high traffic, please try again shortly.',
    },
    quota => {
        status => 429, type => 'ThrottlingException',
        reason => 'MONTHLY_REQUEST_COUNT',
        message => 'You have reached the limit for requests in this month.',
    },
    too_long => {
        status => 400, type => 'ValidationException',
        reason => 'CONTENT_LENGTH_EXCEEDS_THRESHOLD',
        message => 'Input is too long.',
    },
    malformed => {
        status => 400, type => 'ValidationException',
        message => 'Improperly formed request.',
    },
    internal => {
        status => 500, type => 'InternalServerException',
        reason => 'MODEL_TEMPORARILY_UNAVAILABLE',
        message => 'Encountered unexpectedly high load when processing the '
                 . 'request, please try again.',
    },
);

# --------------------------------------------------------------------------
# Builders: Perl shorthands for RESPONSE and EVENT structures
# --------------------------------------------------------------------------

# Keys of a RESPONSE that builders pass through from their options.
my @RESPONSE_KEYS = qw(status headers split drip_ms close delay_ms);

my $CONVERSATION_ID = 'c0ffee00-0000-4000-8000-00000000c0de';
my $UTTERANCE_ID = 'c0ffee00-0000-4000-8000-0000000000a1';

sub event {
    my ($name, $payload, %extra) = @_;
    return { event => $name, payload => $payload // {}, %extra };
}

sub exception_event {
    my ($type, $payload) = @_;
    return { exception => $type, payload => $payload // '' };
}

sub error_event {
    my ($code, $message) = @_;
    return { error_code => $code, error_message => $message // '' };
}

sub _response {
    my ($opt, $events) = @_;
    my %r = (status => 200, events => $events);
    for my $k (@RESPONSE_KEYS) {
        $r{$k} = $opt->{$k} if exists $opt->{$k};
    }
    return \%r;
}

sub _head_events {
    my ($opt) = @_;
    my @ev;
    if (my $ir = $opt->{initial_response}) {
        push @ev, event('initial-response',
                        ref $ir ? $ir : { conversationId => $opt->{conversation_id}
                                                            // $CONVERSATION_ID });
    }
    push @ev, event('messageMetadataEvent', {
        conversationId => $opt->{conversation_id} // $CONVERSATION_ID,
        utteranceId => $opt->{utterance_id} // $UTTERANCE_ID,
    });
    return @ev;
}

sub _text_events {
    my ($opt, @chunks) = @_;
    return map {
        event('assistantResponseEvent', {
            content => $_,
            defined $opt->{model_id} ? (modelId => $opt->{model_id}) : (),
        })
    } @chunks;
}

sub _tail_events {
    my ($opt, $output_tokens) = @_;
    my @ev;
    if ($opt->{usage} // 1) {
        my $in = 11;
        push @ev,
            event('contextUsageEvent', { contextUsagePercentage => 2.336 }),
            event('meteringEvent', {
                unit => 'credit', unitPlural => 'credits', usage => 0.0453,
            }),
            event('metadataEvent', { tokenUsage => $opt->{token_usage} // {
                uncachedInputTokens => $in,
                outputTokens => $output_tokens,
                totalTokens => $in + $output_tokens,
                cacheReadInputTokens => 0,
                cacheWriteInputTokens => 0,
            } });
    }
    if (defined $opt->{stop_reason}) {
        push @ev, event('metadataEvent', { stopReason => $opt->{stop_reason} });
    }
    return @ev;
}

# text_response([\%opt,] @chunks)
#   One assistantResponseEvent per chunk, framed like a real answer:
#   [initial-response] messageMetadataEvent, text..., contextUsageEvent,
#   meteringEvent, metadataEvent{tokenUsage} [, metadataEvent{stopReason}].
#   %opt: initial_response (1 or a payload), conversation_id, utterance_id,
#   model_id, usage => 0 (no trailing usage events), token_usage => {...},
#   stop_reason, and the RESPONSE keys status headers split drip_ms close
#   delay_ms.
sub text_response {
    my $opt = ref $_[0] eq 'HASH' ? shift : {};
    my @chunks = @_ ? @_ : ('Hello from mock');
    return _response($opt, [
        _head_events($opt),
        _text_events($opt, @chunks),
        _tail_events($opt, scalar @chunks),
    ]);
}

sub _tool_events {
    my ($tool) = @_;
    my $id = $tool->{id} // 'tooluse_mock0001';
    my $name = $tool->{name} // 'get_weather';
    my %base = (toolUseId => $id, name => $name);

    my @ev = (event('toolUseEvent', {%base}));
    if (exists $tool->{input}) {
        push @ev, event('toolUseEvent', { %base, input => $tool->{input} });
    } else {
        my $frags = $tool->{fragments} // ['{"city": "Ber', 'lin"}'];
        push @ev, event('toolUseEvent', { %base, input => $_ }) for @$frags;
    }
    push @ev, event('toolUseEvent', { %base, stop => JSON::PP::true })
        if $tool->{stop} // 1;
    return @ev;
}

# tool_response(%opt)
#   [text...] then one tool use: {toolUseId,name}, one frame per input
#   fragment (a fragment that is a hashref is sent as a JSON object), then
#   {toolUseId,name,stop:true}.
#   %opt: id, name, fragments => [...] or input => {...} (single frame with
#   an object input), stop => 0 (no stop frame), text => [chunks before the
#   tool], tools => [{id,name,fragments|input,stop}, ...] for several tools,
#   plus the options of text_response.
sub tool_response {
    my %opt = @_;
    my @tools = $opt{tools} ? @{ $opt{tools} }
              : ({ map { exists $opt{$_} ? ($_ => $opt{$_}) : () }
                       qw(id name fragments input stop) });
    my @text = @{ $opt{text} || [] };
    return _response(\%opt, [
        _head_events(\%opt),
        _text_events(\%opt, @text),
        (map { _tool_events($_) } @tools),
        _tail_events(\%opt, scalar(@text) + 5 * @tools),
    ]);
}

# error_response($kind, %overrides): one of the canned errors; message and
# reason may be overridden, other RESPONSE keys (status, headers, ...) too.
sub error_response {
    my ($kind, %opt) = @_;
    croak "unknown canned error '$kind'" unless $CANNED_ERRORS{$kind};
    return { error => $kind, %opt };
}

# The composite untidy stream.  Frame by frame:
#   initial-response {}
#   messageMetadataEvent {conversationId, utteranceId}
#   reasoningContentEvent {"text":"Let me look"}
#   reasoningContentEvent {"text":" at /tmp."}
#   reasoningContentEvent {"signature":"c2lnLXVudGlkeQ=="}   (alone)
#   assistantResponseEvent "Hel", "lo ", "lo " (the same frame twice),
#                          "wö", "rld", "! Grü", "ße."
#   toolUseEvent {name:"list_dir", toolUseId:"tooluse_untidy01"}
#   toolUseEvent ... input '{"path": "/t'
#   toolUseEvent ... input 'mp", "opts": '
#   toolUseEvent ... input {"recursive": true}      (an object, not a string)
#   toolUseEvent ... input '}'
#   toolUseEvent ... stop: true (no input)
#   followupPromptEvent, contextUsageEvent, meteringEvent,
#   metadataEvent {tokenUsage}
# Text without the duplicate: "Hello wörld! Grüße."; the tool input, object
# fragment serialised in place: {"path": "/tmp", "opts": {"recursive":true}}.
sub untidy_response {
    my %opt = @_;
    my %tool = (toolUseId => 'tooluse_untidy01', name => 'list_dir');
    my $dup = event('assistantResponseEvent', { content => 'lo ' });
    return _response(\%opt, [
        event('initial-response', {}),
        _head_events(\%opt),
        event('reasoningContentEvent', { text => 'Let me look' }),
        event('reasoningContentEvent', { text => ' at /tmp.' }),
        event('reasoningContentEvent', { signature => 'c2lnLXVudGlkeQ==' }),
        event('assistantResponseEvent', { content => 'Hel' }),
        $dup, {%$dup},
        # "wörld" and "Grüße" cut around their non-ASCII characters
        (map { event('assistantResponseEvent', { content => $_ }) }
             "w\x{f6}", 'rld', "! Gr\x{fc}", "\x{df}e."),
        event('toolUseEvent', {%tool}),
        event('toolUseEvent', { %tool, input => '{"path": "/t' }),
        event('toolUseEvent', { %tool, input => 'mp", "opts": ' }),
        event('toolUseEvent', { %tool, input => { recursive => JSON::PP::true } }),
        event('toolUseEvent', { %tool, input => '}' }),
        event('toolUseEvent', { %tool, stop => JSON::PP::true }),
        event('followupPromptEvent', { followupPrompt => {
            content => 'Shall I list /var too?', userIntent => 'EXPLAIN_CODE_SELECTION',
        } }),
        _tail_events({ %opt, usage => 1 }, 12),
    ]);
}

# A stream cut off inside a tool call: the HTTP body ends normally (terminal
# chunk, or connection close with close => 'close') right after the first
# input fragment, with no stop frame.
#   messageMetadataEvent, assistantResponseEvent "Let me check.",
#   toolUseEvent {toolUseId:"tooluse_cut01", name:"read_file"},
#   toolUseEvent ... input '{"path": "/etc/ho'   <EOF>
sub cut_in_tool_response {
    my %opt = @_;
    my %tool = (toolUseId => 'tooluse_cut01', name => 'read_file');
    return _response(\%opt, [
        _head_events(\%opt),
        event('assistantResponseEvent', { content => 'Let me check.' }),
        event('toolUseEvent', {%tool}),
        event('toolUseEvent', { %tool, input => '{"path": "/etc/ho' }),
    ]);
}

sub default_script {
    return { responses => [ text_response('Hello from mock') ] };
}

# --------------------------------------------------------------------------
# Scripts
# --------------------------------------------------------------------------

# Accepts a JSON text, a script hashref, an arrayref (= {responses => [...]})
# or a single RESPONSE hashref (= {responses => [it]}); returns the script
# hashref with all strings as character strings.  Croaks when malformed.
sub normalize_script {
    my ($script) = @_;

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
            _check_sequence($script->{by_path}{$path}, "by_path.$path");
        }
    }
    if (!exists $script->{responses} && !exists $script->{by_token}
        && !exists $script->{by_path})
    {
        $script = { responses => [ $script ] };
    }

    if (exists $script->{responses}) {
        _check_sequence($script->{responses}, 'responses');
    }
    if (exists $script->{by_token}) {
        croak "by_token must be an object" unless ref $script->{by_token} eq 'HASH';
        for my $tok (sort keys %{ $script->{by_token} }) {
            _check_sequence($script->{by_token}{$tok}, "by_token.$tok");
        }
    }

    return as_chars($script);
}

sub _check_sequence {
    my ($seq, $where) = @_;
    croak "$where must be a non-empty array of responses"
        unless ref $seq eq 'ARRAY' && @$seq;
    for my $i (0 .. $#$seq) {
        my $r = $seq->[$i];
        croak "$where\[$i] must be an object" unless ref $r eq 'HASH';
        croak "$where\[$i]: unknown error '$r->{error}'"
            if defined $r->{error} && !$CANNED_ERRORS{ $r->{error} };
        croak "$where\[$i]: events must be an array"
            if exists $r->{events} && ref $r->{events} ne 'ARRAY';
        _check_event($_, "$where\[$i].events") for @{ $r->{events} || [] };
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

my @EVENT_KINDS = qw(event exception error_code sleep_ms reset_mid_frame
                     corrupt_crc raw_hex frame hangup);

sub _check_event {
    my ($ev, $where) = @_;
    croak "$where: an EVENT must be an object" unless ref $ev eq 'HASH';
    my @kinds = grep { exists $ev->{$_} } @EVENT_KINDS;
    croak "$where: EVENT needs one of " . join(', ', @EVENT_KINDS)
          . "; got keys " . join(', ', sort keys %$ev)
        unless @kinds == 1;
    _check_event($ev->{ $kinds[0] }, "$where.$kinds[0]")
        if $kinds[0] eq 'reset_mid_frame' || $kinds[0] eq 'corrupt_crc';
    croak "$where: raw_hex is not hex"
        if $kinds[0] eq 'raw_hex' && $ev->{raw_hex} !~ /\A[0-9a-fA-F\s]*\z/;
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
# )
sub new {
    my ($class, %opt) = @_;
    my $self = bless { listen => '127.0.0.1:0', verbose => 0, %opt }, $class;

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
    my $norm = normalize_script($script);
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
    return default_script() unless defined $text;
    return normalize_script($text);
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
        my $bad = _validate($req);
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
    return { error => 'unauthorized' } unless $list;

    my $counters = eval { $JSON->decode(_slurp("$self->{state_dir}/counters.json") // '{}') }
                   || {};
    my $i = $counters->{$key} // 0;
    $counters->{$key} = $i + 1;
    _spew("$self->{state_dir}/counters.json", $JSON->encode($counters));

    # Consumed in order; the last one repeats.
    return $list->[ $i < @$list ? $i : $#$list ];
}

# What the real service says to requests that are not GenerateAssistantResponse.
sub _validate {
    my ($req) = @_;
    my $h = $req->{headers};
    my $target = $h->{'x-amz-target'} // '';
    my $ctype = $h->{'content-type'} // '';
    my $why;
    if ($req->{method} ne 'POST') {
        $why = "Method $req->{method} is not supported.";
    } elsif ($req->{path} eq '/generateAssistantResponse') {
        # the Kiro IDE's REST style: JSON, no target
        $why = "Content-Type '$ctype' is not supported; expected application/json."
            if $ctype !~ m{^\s*application/json\s*(?:;|$)}i;
    } elsif ($ctype !~ m{^\s*\Q$CONTENT_TYPE\E\s*(?:;|$)}i) {
        $why = "Content-Type '$ctype' is not supported; expected $CONTENT_TYPE.";
    } elsif ($target ne $TARGET) {
        $why = $target eq '' ? 'Missing X-Amz-Target header.'
                             : "Unknown operation $target.";
    }
    return undef unless $why;
    return {
        status => 400,
        json => { __type => 'com.amazon.coral.service#UnknownOperationException',
                  message => $why },
    };
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
        my $req = $self->_read_request($c, \$buf) or last;
        $req->{peer} = $peer;
        my $resp = $self->_admit($req);
        $self->_log("#$req->{seq} $req->{method} $req->{path} -> "
                    . ($resp->{error} // $resp->{status} // 200));
        my $keep = $self->_respond($c, $req, $resp);
        last unless $keep;
    }
    close $c;
}

# Reads more bytes into $$bufref; returns the count, 0 at EOF, undef on
# timeout or error.
sub _fill {
    my ($c, $bufref, $timeout) = @_;
    my $sel = IO::Select->new($c);
    while (1) {
        return undef unless $sel->can_read($timeout);
        my $n = sysread($c, $$bufref, 65536, length $$bufref);
        return $n if defined $n;
        next if $!{EINTR} || $!{EAGAIN};
        return undef;
    }
}

sub _read_request {
    my ($self, $c, $bufref) = @_;

    # Head (leading blank lines between requests are tolerated).
    my $head_end;
    while (1) {
        $$bufref =~ s/\A(?:\r?\n)+//;
        if ($$bufref =~ /\r?\n\r?\n/) {
            $head_end = $+[0];
            last;
        }
        my $timeout = length $$bufref ? $READ_TIMEOUT : $IDLE_TIMEOUT;
        my $n = _fill($c, $bufref, $timeout);
        return undef unless $n;
    }
    my $head = substr($$bufref, 0, $head_end, '');
    my $time = time;

    my ($line, @lines) = split /\r?\n/, $head;
    my ($method, $target, $version) = $line =~ m{^(\S+)\s+(\S+)(?:\s+HTTP/(\d+\.\d+))?\s*$}
        or return undef;
    $version //= '0.9';

    my %h;
    for (@lines) {
        next unless /^([^:\s]+)\s*:\s*(.*?)\s*$/;
        my $name = lc $1;
        $h{$name} = exists $h{$name} ? "$h{$name}, $2" : $2;
    }

    my ($path, $query) = split /\?/, $target, 2;

    if (($h{expect} // '') =~ /100-continue/i && $version eq '1.1') {
        _write_all($c, "HTTP/1.1 100 Continue\r\n\r\n") or return undef;
    }

    my $body = '';
    if (($h{'transfer-encoding'} // '') =~ /chunked/i) {
        while (1) {
            while ($$bufref !~ /\r?\n/) {
                _fill($c, $bufref, $READ_TIMEOUT) or return undef;
            }
            $$bufref =~ s/\A([0-9a-fA-F]+)[^\r\n]*\r?\n// or return undef;
            my $size = hex $1;
            if ($size == 0) {
                # Trailer fields up to the empty line; ignored.
                while (1) {
                    while ($$bufref !~ /\r?\n/) {
                        _fill($c, $bufref, $READ_TIMEOUT) or return undef;
                    }
                    $$bufref =~ s/\A([^\r\n]*)\r?\n//;
                    last if $1 eq '';
                }
                last;
            }
            while (length $$bufref < $size + 2) {
                _fill($c, $bufref, $READ_TIMEOUT) or return undef;
            }
            $body .= substr($$bufref, 0, $size, '');
            $$bufref =~ s/\A\r?\n// or return undef;
        }
    } elsif (defined $h{'content-length'}) {
        my $len = $h{'content-length'};
        return undef unless $len =~ /^\d+$/;
        while (length $$bufref < $len) {
            _fill($c, $bufref, $READ_TIMEOUT) or return undef;
        }
        $body = substr($$bufref, 0, $len, '');
    }

    my $conn = lc($h{connection} // '');
    my $keep = $version eq '1.1' ? $conn !~ /\bclose\b/ : 0;

    return {
        method => $method, path => $path, query => $query // '',
        version => $version, headers => \%h, body => $body,
        time => $time, keep_alive => $keep,
    };
}

sub _write_all {
    my ($c, $data) = @_;
    my $off = 0;
    while ($off < length $data) {
        my $n = syswrite($c, $data, length($data) - $off, $off);
        if (!defined $n) {
            next if $!{EINTR} || $!{EAGAIN};
            return 0;
        }
        $off += $n;
    }
    return 1;
}

# RFC 9110 IMF-fixdate, independent of the locale.
sub _http_date {
    my @t = gmtime;
    return sprintf('%s, %02d %s %04d %02d:%02d:%02d GMT',
                   (qw(Sun Mon Tue Wed Thu Fri Sat))[ $t[6] ], $t[3],
                   (qw(Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec))[ $t[4] ],
                   $t[5] + 1900, @t[2, 1, 0]);
}

sub _uuid {
    my @b = map { int rand 256 } 1 .. 16;
    $b[6] = ($b[6] & 0x0f) | 0x40;
    $b[8] = ($b[8] & 0x3f) | 0x80;
    return sprintf '%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x', @b;
}

# Expands the "error" shorthand into status + json.
sub _expand_error {
    my ($resp) = @_;
    my $e = $CANNED_ERRORS{ $resp->{error} }
        or return { %$resp, status => 500,
                    body => "q2api mock: unknown error '$resp->{error}'" };
    my %json = (
        __type => $CW . $e->{type},
        message => $resp->{message} // $e->{message},
        (defined($resp->{reason} // $e->{reason})
            ? (reason => $resp->{reason} // $e->{reason}) : ()),
        %{ $resp->{json} || {} },
    );
    return { %$resp, status => $resp->{status} // $e->{status}, json => \%json };
}

# Sends one response.  Returns true when the connection may serve another
# request.
sub _respond {
    my ($self, $c, $req, $resp) = @_;

    $resp = _expand_error($resp) if defined $resp->{error};
    my $status = $resp->{status} // 200;

    sleep($resp->{delay_ms} / 1000) if $resp->{delay_ms};

    my @head = (
        ['x-amzn-requestid', _uuid()],
        ['date', _http_date()],
    );
    my $streaming = exists $resp->{events}
                 || (!exists $resp->{json} && !exists $resp->{body} && $status == 200);

    my ($body, @ops);
    if ($streaming) {
        @ops = eval { _ops($resp->{events} || []) };
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
        push @head, ['content-type', $STREAM_TYPE];
    } elsif (exists $resp->{json}) {
        push @head, ['content-type', $CONTENT_TYPE];
        $body = $JSON->encode(as_chars($resp->{json}));
    } else {
        $body = $resp->{body} // '';
        utf8::encode($body) if utf8::is_utf8($body);
        push @head, ['content-type', $CONTENT_TYPE];
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

    my $reason = $REASON{$status} // 'Unknown';
    my $out = "HTTP/1.1 $status $reason\r\n"
            . join('', map { "$_->[0]: $_->[1]\r\n" } @head) . "\r\n";

    if (!$streaming) {
        return 0 unless _write_all($c, $out . $body);
        return $keep;
    }

    _write_all($c, $out) or return 0;
    my $end = $self->_stream($c, $resp, \@ops, $chunked);
    return 0 if $end ne 'done';
    if ($chunked) {
        _write_all($c, "0\r\n\r\n") or return 0;
    }
    return $keep;
}

# Frame bytes of one frame-producing EVENT.
sub _frame_bytes {
    my ($ev) = @_;
    my @extra = map { [ $_->{name}, $_->{type} // 'string', $_->{value} ] }
                @{ $ev->{headers} || [] };

    if (defined $ev->{event}) {
        return encode_event($ev->{event}, $ev->{payload} // {}, headers => \@extra);
    }
    if (defined $ev->{exception}) {
        return encode_exception($ev->{exception}, $ev->{payload}, headers => \@extra);
    }
    if (defined $ev->{error_code}) {
        return encode_error($ev->{error_code}, $ev->{error_message}, headers => \@extra);
    }
    if (defined $ev->{raw_hex}) {
        (my $hex = $ev->{raw_hex}) =~ s/\s+//g;
        return pack('H*', $hex);
    }
    if (defined $ev->{corrupt_crc}) {
        return corrupt_crc(_frame_bytes($ev->{corrupt_crc}), $ev->{which});
    }
    if (exists $ev->{frame}) {
        # Arbitrary headers (any type) and payload.
        my $f = $ev->{frame};
        return encode_frame(
            [ map { [ $_->{name}, $_->{type} // 'string', $_->{value} ] }
                  @{ $f->{headers} || [] } ],
            ref $f->{payload} ? Q2api::EventStream::json_bytes($f->{payload})
                              : ($f->{payload} // ''));
    }
    die "q2api mock: unknown EVENT: " . $JSON->encode($ev) . "\n";
}

# Turns the EVENT list into write operations:
#   [bytes => $b], [sleep => $ms], [reset => $partial, $linger_ms], [hangup]
sub _ops {
    my ($events) = @_;
    my @ops;
    for my $ev (@$events) {
        die "q2api mock: EVENT must be an object\n" unless ref $ev eq 'HASH';
        if (exists $ev->{sleep_ms}) {
            push @ops, [sleep => $ev->{sleep_ms}];
        } elsif (exists $ev->{reset_mid_frame}) {
            my $frame = _frame_bytes($ev->{reset_mid_frame});
            my $n = $ev->{bytes} // int(length($frame) / 2);
            push @ops, [reset => substr($frame, 0, $n), $ev->{linger_ms} // 50];
        } elsif ($ev->{hangup}) {
            push @ops, ['hangup'];
        } else {
            my $b = _frame_bytes($ev);
            push @ops, [bytes => $b] for 1 .. ($ev->{repeat} // 1);
        }
    }
    return @ops;
}

# Streams the body.  Returns 'done', 'reset', 'hangup' or 'error'.
#
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
        return _write_all($c, $data);
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
