package Q2api::EventStream;

# Encoder for the AWS binary event stream ("application/vnd.amazon.eventstream")
# as Amazon Q's GenerateAssistantResponse streams it.
#
# Frame layout (all integers big-endian):
#
#   uint32 total_length      length of the whole frame, these 4 bytes included
#   uint32 headers_length
#   uint32 prelude_crc       CRC-32 of the 8 bytes above
#   headers                  headers_length bytes
#   payload                  total_length - headers_length - 16 bytes
#   uint32 message_crc       CRC-32 of every byte before it
#
# Header: uint8 name_len | name | uint8 type | value.  CRC-32 is zlib's.
#
# Only encoding lives here; the self-test decodes with its own code so that
# the two check each other.

use strict;
use warnings;

use B ();
use Carp qw(croak);
use Compress::Zlib ();
use Exporter 'import';
use JSON::PP ();

our @EXPORT_OK = qw(
    crc32 encode_header encode_frame encode_event encode_exception
    encode_error corrupt_crc json_bytes as_chars
);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

# Header value types of the event stream format.
my %TYPE_ID = (
    bool_true => 0,
    bool_false => 1,
    byte => 2,
    short => 3,
    int => 4,
    long => 5,
    bytes => 6,
    string => 7,
    timestamp => 8,
    uuid => 9,
);

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

sub crc32 {
    my ($bytes) = @_;
    return Compress::Zlib::crc32($bytes) & 0xFFFFFFFF;
}

# Deep copy of a Perl structure in which every string is a character string.
#
# Test files usually have no "use utf8", so a literal like "wörld" arrives as
# the UTF-8 octets.  Strings without Perl's UTF-8 flag that hold a valid
# UTF-8 byte sequence are therefore decoded; flagged strings and strings that
# are not valid UTF-8 are kept as they are.  Numbers stay numbers (JSON::PP
# would quote a number that has been used as a string).
sub as_chars {
    my ($v) = @_;

    if (ref $v eq 'HASH') {
        return { map { (_str_chars($_), as_chars($v->{$_})) } keys %$v };
    }

    if (ref $v eq 'ARRAY') {
        return [ map { as_chars($_) } @$v ];
    }

    return $v if ref $v || !defined $v;    # booleans, code refs, ...

    my $flags = B::svref_2object(\$v)->FLAGS;
    if (($flags & (B::SVp_IOK | B::SVp_NOK)) && !($flags & B::SVp_POK)) {
        return $v;
    }

    return _str_chars($v);
}

sub _str_chars {
    my ($s) = @_;
    if (!utf8::is_utf8($s) && $s =~ /[\x80-\xff]/) {
        my $copy = $s;
        return $copy if utf8::decode($copy);
    }
    return $s;
}

# Compact JSON (UTF-8 bytes, keys sorted so that frames are reproducible).
sub json_bytes {
    my ($data) = @_;
    return $JSON->encode(as_chars($data));
}

# Turns a text string into bytes: character strings are UTF-8 encoded,
# byte strings are taken as they are.
sub _bytes {
    my ($s) = @_;
    $s = '' unless defined $s;
    if (utf8::is_utf8($s)) {
        $s = "$s";
        utf8::encode($s);
    }
    return $s;
}

# encode_header($name, $type, $value)
#   $type: string (default) | bytes | bool | byte | short | int | long |
#          timestamp (milliseconds since the epoch) | uuid ("8-4-4-4-12" hex)
sub encode_header {
    my ($name, $type, $value) = @_;
    $type = 'string' unless defined $type;

    my $n = _bytes($name);
    croak "event stream header name too long: $name" if length $n > 255;
    croak "empty event stream header name" if length $n == 0;

    my $out = pack('C', length $n) . $n;

    if ($type eq 'bool') {
        return $out . pack('C', $value ? $TYPE_ID{bool_true} : $TYPE_ID{bool_false});
    }
    if ($type eq 'string' || $type eq 'bytes') {
        my $v = _bytes($value);
        croak "event stream header value too long for $name" if length $v > 0xFFFF;
        return $out . pack('Cn', $TYPE_ID{$type}, length $v) . $v;
    }
    if ($type eq 'byte') {
        return $out . pack('Cc', $TYPE_ID{byte}, $value);
    }
    if ($type eq 'short') {
        return $out . pack('Cs>', $TYPE_ID{short}, $value);
    }
    if ($type eq 'int') {
        return $out . pack('Cl>', $TYPE_ID{int}, $value);
    }
    if ($type eq 'long' || $type eq 'timestamp') {
        return $out . pack('Cq>', $TYPE_ID{$type}, $value);
    }
    if ($type eq 'uuid') {
        (my $hex = $value) =~ s/-//g;
        croak "bad uuid header value for $name: $value" unless $hex =~ /\A[0-9a-fA-F]{32}\z/;
        return $out . pack('C', $TYPE_ID{uuid}) . pack('H32', $hex);
    }

    croak "unknown event stream header type '$type' for $name";
}

# encode_frame(\@headers, $payload, corrupt => 'message'|'prelude')
#   @headers: [name, type, value] triples (type may be undef for string),
#   kept in the given order.  $payload: bytes (a character string is UTF-8
#   encoded).  "corrupt" writes a wrong CRC (all bits of the right one
#   flipped) into the message or prelude CRC field.
sub encode_frame {
    my ($headers, $payload, %opt) = @_;

    my $hbytes = join '', map { encode_header(@$_) } @{ $headers || [] };
    my $pbytes = _bytes($payload);

    my $total = 16 + length($hbytes) + length($pbytes);
    my $prelude = pack('NN', $total, length $hbytes);

    my $pcrc = crc32($prelude);
    $pcrc ^= 0xFFFFFFFF if ($opt{corrupt} // '') eq 'prelude';

    my $msg = $prelude . pack('N', $pcrc) . $hbytes . $pbytes;

    my $mcrc = crc32($msg);
    $mcrc ^= 0xFFFFFFFF if ($opt{corrupt} // '') eq 'message';

    return $msg . pack('N', $mcrc);
}

# Rewrites the message CRC (or the prelude CRC) of an already encoded frame
# with a wrong value.  The prelude is left alone for 'message'.
sub corrupt_crc {
    my ($frame, $which) = @_;
    $which ||= 'message';
    croak "frame too short to corrupt" if length $frame < 16;

    my $pos = $which eq 'prelude' ? 8 : length($frame) - 4;
    my $crc = unpack('N', substr($frame, $pos, 4));
    substr($frame, $pos, 4) = pack('N', $crc ^ 0xFFFFFFFF);
    return $frame;
}

# Payload argument of the event helpers: a reference becomes compact JSON,
# a plain string is taken as the raw payload, undef is an empty payload.
sub _payload {
    my ($p) = @_;
    return '' unless defined $p;
    return json_bytes($p) if ref $p;
    return _bytes($p);
}

# An event frame: :event-type, :content-type, :message-type (in this order),
# then any extra headers; payload = compact JSON.
sub encode_event {
    my ($type, $payload, %opt) = @_;
    return encode_frame([
        [':event-type', 'string', $type],
        [':content-type', 'string', 'application/json'],
        [':message-type', 'string', 'event'],
        @{ $opt{headers} || [] },
    ], _payload($payload), corrupt => $opt{corrupt});
}

# A modelled exception frame; the payload is usually {"message": "..."} and
# is sometimes empty ("" or undef).
sub encode_exception {
    my ($type, $payload, %opt) = @_;
    return encode_frame([
        [':exception-type', 'string', $type],
        [':content-type', 'string', 'application/json'],
        [':message-type', 'string', 'exception'],
        @{ $opt{headers} || [] },
    ], _payload($payload), corrupt => $opt{corrupt});
}

# An unmodelled error frame: no payload, the error is in the headers.
sub encode_error {
    my ($code, $message, %opt) = @_;
    return encode_frame([
        [':error-code', 'string', $code],
        [':error-message', 'string', $message // ''],
        [':message-type', 'string', 'error'],
        @{ $opt{headers} || [] },
    ], '', corrupt => $opt{corrupt});
}

1;
