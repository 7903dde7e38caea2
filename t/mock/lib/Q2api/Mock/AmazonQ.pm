package Q2api::Mock::AmazonQ;

# The Amazon Q service of the mock (Q2api::Mock): what it accepts
# (GenerateAssistantResponse in the AWS JSON protocol, or the Kiro IDE's
# REST style), its canned errors, and its answers as AWS event streams
# (Q2api::EventStream).  Also the Perl builders that script it.
#
# The server core calls these as class methods, the interface every mock
# service provides:
#
#   default_script             what to answer before anything is scripted
#   check_response($r, $where) croaks when a scripted RESPONSE is malformed
#   refuse($req)               the answer to a request the service does not
#                              take, or undef
#   unknown_caller             the answer when no script entry matches
#   expand_error($r)           RESPONSE.error shorthand -> status and json
#   stream_ops($events)        EVENTs -> write operations (see Q2api::Mock)
#   content_type, stream_type  Content-Type of plain and streamed answers
#
# EVENT: {event, payload, headers?, repeat?} | {exception, payload} |
# {error_code, error_message} | {sleep_ms} | {reset_mid_frame: EVENT,
# bytes?, linger_ms?} | {corrupt_crc: EVENT, which?: "message"|"prelude"} |
# {raw_hex} | {frame: {headers: [{name, type?, value}], payload}} |
# {hangup: true}.

use strict;
use warnings;

use Carp qw(croak);
use Exporter 'import';
use JSON::PP ();

use Q2api::EventStream qw(encode_event encode_exception encode_error
                          encode_frame corrupt_crc);

our @BUILDERS = qw(
    text_response tool_response error_response untidy_response
    cut_in_tool_response event exception_event error_event default_script
);
our @EXPORT_OK = @BUILDERS;
our %EXPORT_TAGS = (builders => \@BUILDERS);

our $TARGET = 'AmazonCodeWhispererStreamingService.GenerateAssistantResponse';
our $CONTENT_TYPE = 'application/x-amz-json-1.0';
our $STREAM_TYPE = 'application/vnd.amazon.eventstream';

my $JSON = JSON::PP->new->utf8->canonical;

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
# The service interface of Q2api::Mock
# --------------------------------------------------------------------------

sub content_type { $CONTENT_TYPE }
sub stream_type { $STREAM_TYPE }

# An unknown bearer token is what the real service sees when no script
# entry matches.
sub unknown_caller { return { error => 'unauthorized' } }

sub check_response {
    my ($class, $r, $where) = @_;
    croak "$where: unknown error '$r->{error}'"
        if defined $r->{error} && !$CANNED_ERRORS{ $r->{error} };
    croak "$where: events must be an array"
        if exists $r->{events} && ref $r->{events} ne 'ARRAY';
    _check_event($_, "$where.events") for @{ $r->{events} || [] };
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

# What the real service says to requests that are not GenerateAssistantResponse.
sub refuse {
    my ($class, $req) = @_;
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

# Expands the "error" shorthand into status + json.
sub expand_error {
    my ($class, $resp) = @_;
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
sub stream_ops {
    my ($class, $events) = @_;
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

1;
