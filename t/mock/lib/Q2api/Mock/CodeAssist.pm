package Q2api::Mock::CodeAssist;

# Google's Code Assist service of the mock (Q2api::Mock), generation side:
# what it accepts (v1internal:streamGenerateContent?alt=sse with the
# gemini-cli or the Antigravity envelope), its errors (Google RPC errors,
# bare or in a one-element array, 429s with QUOTA_EXHAUSTED or
# RATE_LIMIT_EXCEEDED details), and its answers as SSE with CRLF line ends
# (gemini.md 4.7).  The same class methods as Q2api::Mock::AmazonQ; start
# it with Q2api::Mock->new(service => 'Q2api::Mock::CodeAssist'), or in a
# suite with "use Q2api::Test service => 'Q2api::Mock::CodeAssist'".
#
# EVENT: {chunk: RESPONSE-OBJECT, lf?} one "data: {"response": ...}" event
# (lf: LF line ends instead of CRLF) | {data: ANY} a data line holding that
# JSON as is (error chunks: {data: [{error: ...}]}) | {raw: STRING} bytes
# as they are | {sleep_ms} | {hangup: true}.
#
# Builders (Perl): gemini_text, gemini_thinking, gemini_call, gemini_cut,
# gemini_error, gemini_stream_error, chunk, final_chunk.

use strict;
use warnings;

use Carp qw(croak);
use Exporter 'import';
use JSON::PP ();

our @BUILDERS = qw(
    gemini_text gemini_thinking gemini_call gemini_cut gemini_error
    gemini_stream_error chunk final_chunk default_script
);
our @EXPORT_OK = @BUILDERS;
our %EXPORT_TAGS = (builders => \@BUILDERS);

our $PATH = '/v1internal:streamGenerateContent';
our $CONTENT_TYPE = 'application/json; charset=UTF-8';
our $STREAM_TYPE = 'text/event-stream';

my $JSON = JSON::PP->new->utf8->canonical;

my $INFO = 'type.googleapis.com/google.rpc.ErrorInfo';
my $RETRY = 'type.googleapis.com/google.rpc.RetryInfo';

# RESPONSE.error shorthands: Google's errors as gemini.md 5 quotes them
our %CANNED_ERRORS = (
    invalid => {
        status => 400, code => 'INVALID_ARGUMENT',
        message => 'Request contains an invalid argument.',
    },
    unauthenticated => {
        status => 401, code => 'UNAUTHENTICATED',
        message => 'Request had invalid authentication credentials. '
                 . 'Expected OAuth 2 access token.',
    },
    tos => {
        status => 403, code => 'PERMISSION_DENIED',
        message => 'This service has been disabled in this account for '
                 . 'violation of Terms of Service.',
    },
    project => {
        status => 403, code => 'PERMISSION_DENIED',
        message => 'Cloud Code Private API has not been used in project '
                 . '123456 before or it is disabled.',
        details => [ { '@type' => $INFO, reason => 'SERVICE_DISABLED' } ],
    },
    not_found => {
        status => 404, code => 'NOT_FOUND',
        message => 'Requested entity was not found.',
    },
    quota => {
        status => 429, code => 'RESOURCE_EXHAUSTED',
        message => 'You have exhausted your capacity on this model. Your '
                 . 'quota will reset after 13h19m1s.',
        details => [
            { '@type' => $INFO, reason => 'QUOTA_EXHAUSTED',
              domain => 'cloudcode-pa.googleapis.com',
              metadata => { uiMessage => 'true', model => 'gemini-2.5-pro',
                            quotaResetDelay => '13h19m1.20964964s' } },
            { '@type' => $RETRY, retryDelay => '47941.209s' },
        ],
    },
    rate => {
        status => 429, code => 'RESOURCE_EXHAUSTED',
        message => 'Resource has been exhausted. Please retry in 2.5s.',
        details => [
            { '@type' => $INFO, reason => 'RATE_LIMIT_EXCEEDED',
              domain => 'cloudcode-pa.googleapis.com',
              metadata => { quotaResetDelay => '2.5s' } },
            { '@type' => $RETRY, retryDelay => '2.5s' },
        ],
    },
    capacity => {
        status => 429, code => 'RESOURCE_EXHAUSTED',
        message => 'No capacity available for model gemini-2.5-pro on the '
                 . 'server',
        details => [ { '@type' => $INFO,
                       reason => 'MODEL_CAPACITY_EXHAUSTED' } ],
    },
    unavailable => {
        status => 503, code => 'UNAVAILABLE',
        message => 'The service is currently unavailable.',
    },
);

# --------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------

my @RESPONSE_KEYS = qw(status headers split drip_ms close delay_ms);

sub _response {
    my ($opt, $events) = @_;
    return { (map { exists $opt->{$_} ? ($_ => $opt->{$_}) : () }
                  @RESPONSE_KEYS),
             events => $events };
}

# one chunk's "response": parts, and optionally finishReason and usage
sub chunk {
    my (@parts) = @_;
    return { chunk => { candidates => [ { content => {
                 role => 'model', parts => [ @parts ] } } ],
             modelVersion => 'gemini-2.5-pro', responseId => 'resp-mock' } };
}

sub final_chunk {
    my ($reason, $usage, @parts) = @_;
    my $c = chunk(@parts);
    $c->{chunk}{candidates}[0]{finishReason} = $reason;
    $c->{chunk}{usageMetadata} = $usage // {
        promptTokenCount => 9, candidatesTokenCount => 3,
        totalTokenCount => 12 };
    return $c;
}

sub gemini_text {
    my ($text, %opt) = @_;
    $text //= 'Hello from Gemini';
    my $half = int(length($text) / 2);
    return _response(\%opt, [
        chunk({ text => substr($text, 0, $half) }),
        final_chunk($opt{finish} // 'STOP', $opt{usage},
                    { text => substr($text, $half) }),
    ]);
}

sub gemini_thinking {
    my ($thought, $signature, $text, %opt) = @_;
    return _response(\%opt, [
        chunk({ text => $thought, thought => JSON::PP::true }),
        final_chunk('STOP', { promptTokenCount => 9,
                              candidatesTokenCount => 1,
                              thoughtsTokenCount => 50,
                              totalTokenCount => 60 },
                    { text => $text, thoughtSignature => $signature }),
    ]);
}

sub gemini_call {
    my ($name, $args, %opt) = @_;
    my %call = (name => $name, args => $args // {});
    return _response(\%opt, [
        chunk({ text => $opt{before} // 'Checking.' }),
        final_chunk('STOP', undef,
                    { functionCall => \%call,
                      (defined $opt{signature}
                          ? (thoughtSignature => $opt{signature}) : ()) }),
    ]);
}

# a stream that ends without finishReason
sub gemini_cut {
    my ($text, %opt) = @_;
    return _response(\%opt, [ chunk({ text => $text // 'Half an ans' }) ]);
}

sub gemini_error {
    my ($kind, %opt) = @_;
    return { error => $kind, %opt };
}

# text, then {"error": ...} inside the stream
sub gemini_stream_error {
    my ($text, %opt) = @_;
    return _response(\%opt, [
        chunk({ text => $text // 'partial' }),
        { sleep_ms => $opt{pause_ms} // 300 },
        { data => [ { error => { code => 503, status => 'UNAVAILABLE',
                                 message => 'The model is overloaded.' } } ] },
        final_chunk('STOP', undef, { text => 'never' }),
    ]);
}

sub default_script {
    return { responses => [ gemini_text('Hello from Gemini') ] };
}

# --------------------------------------------------------------------------
# The service interface of Q2api::Mock
# --------------------------------------------------------------------------

sub content_type { $CONTENT_TYPE }
sub stream_type { $STREAM_TYPE }

sub unknown_caller { return { error => 'unauthenticated' } }

my @EVENT_KINDS = qw(chunk data raw sleep_ms hangup);

sub check_response {
    my ($class, $r, $where) = @_;
    croak "$where: unknown error '$r->{error}'"
        if defined $r->{error} && !$CANNED_ERRORS{ $r->{error} };
    croak "$where: events must be an array"
        if exists $r->{events} && ref $r->{events} ne 'ARRAY';
    for my $ev (@{ $r->{events} || [] }) {
        croak "$where.events: an EVENT must be an object"
            unless ref $ev eq 'HASH';
        my @k = grep { exists $ev->{$_} } @EVENT_KINDS;
        croak "$where.events: EVENT needs one of @EVENT_KINDS"
            unless @k == 1;
    }
}

sub _google_error {
    my ($status, $code, $message, $details) = @_;
    return { error => { code => $status, message => $message,
                        status => $code,
                        ($details ? (details => $details) : ()) } };
}

# The request checks: the envelope of its flavour, as Google would refuse
# it (an INVALID_ARGUMENT), and Google's own framing.
sub refuse {
    my ($class, $req) = @_;
    my $h = $req->{headers};
    my $ua = $h->{'user-agent'} // '';
    my $why;

    my $body = eval { $JSON->decode($req->{body}) };

    if ($req->{method} ne 'POST') {
        $why = "Method $req->{method} is not supported.";
    } elsif ($req->{path} ne $PATH || $req->{query} ne 'alt=sse') {
        return { status => 404,
                 json => _google_error(404, 'NOT_FOUND',
                                       "Unknown method $req->{path}") };
    } elsif (($h->{'content-type'} // '') !~ m{^application/json}) {
        $why = 'Content-Type must be application/json.';
    } elsif (ref $body ne 'HASH') {
        $why = 'Invalid JSON payload received.';
    } elsif (!defined $body->{model} || ref $body->{model}) {
        $why = 'model: required';
    } elsif (ref $body->{request} ne 'HASH'
             || ref $body->{request}{contents} ne 'ARRAY'
             || !@{ $body->{request}{contents} })
    {
        $why = 'request.contents: required';
    } elsif (defined $body->{requestType}) {
        # Antigravity
        $why = 'requestId: expected agent-<uuid>'
            unless ($body->{requestId} // '') =~ /^agent-[0-9a-f-]{36}$/;
        $why //= 'userAgent: expected antigravity'
            unless ($body->{userAgent} // '') eq 'antigravity';
        $why //= 'request.sessionId: expected -<digits>'
            unless ($body->{request}{sessionId} // '') =~ /^-\d+$/;
        $why //= "User-Agent '$ua' is not Antigravity's"
            unless $ua =~ m{^antigravity/};
    } else {
        # gemini-cli
        $why = 'user_prompt_id: required'
            unless defined $body->{user_prompt_id};
        $why //= 'request.session_id: required'
            unless defined $body->{request}{session_id};
        $why //= "User-Agent '$ua' is not gemini-cli's"
            unless $ua =~ m{^GeminiCLI/[^/]+/\Q$body->{model}\E };
    }

    if (!$why) {
        for my $c (@{ $body->{request}{contents} }) {
            if (ref $c ne 'HASH' || ref $c->{parts} ne 'ARRAY'
                || !@{ $c->{parts} })
            {
                $why = 'contents: a turn without parts';
                last;
            }
            if (($c->{role} // '') !~ /^(user|model)$/) {
                $why = "contents: role '" . ($c->{role} // '') . "'";
                last;
            }
        }
    }

    return undef unless $why;
    return { status => 400,
             json => [ _google_error(400, 'INVALID_ARGUMENT', $why) ] };
}

# "error" -> status and a Google error body; array => 1 wraps it in a
# one-element array as the streaming endpoints do
sub expand_error {
    my ($class, $resp) = @_;
    my $e = $CANNED_ERRORS{ $resp->{error} }
        or return { %$resp, status => 500,
                    body => "q2api mock: unknown error '$resp->{error}'" };
    my $details = $e->{details};
    if ($resp->{reset_at} && $details) {
        $details = JSON::PP->new->decode($JSON->encode($details));
        $details->[0]{metadata}{quotaResetTimeStamp} = $resp->{reset_at};
    }
    if ($resp->{model} && $details) {
        $details = JSON::PP->new->decode($JSON->encode($details));
        $details->[0]{metadata}{model} = $resp->{model};
    }
    my $err = _google_error($e->{status}, $e->{code},
                            $resp->{message} // $e->{message}, $details);
    my %r = %$resp;
    delete @r{qw(error reset_at model array message)};
    return { %r, status => $resp->{status} // $e->{status},
             json => $resp->{array} ? [ $err ] : $err };
}

sub stream_ops {
    my ($class, $events) = @_;
    my @ops;
    for my $ev (@$events) {
        if (exists $ev->{sleep_ms}) {
            push @ops, [sleep => $ev->{sleep_ms}];
        } elsif ($ev->{hangup}) {
            push @ops, ['hangup'];
        } elsif (exists $ev->{raw}) {
            my $b = $ev->{raw};
            utf8::encode($b) if utf8::is_utf8($b);
            push @ops, [bytes => $b];
        } else {
            my $eol = $ev->{lf} ? "\n" : "\r\n";
            my $v = exists $ev->{chunk}
                  ? { response => $ev->{chunk}, traceId => 'trace-mock' }
                  : $ev->{data};
            push @ops, [bytes => 'data: ' . $JSON->encode($v) . $eol . $eol];
        }
    }
    return @ops;
}

1;
