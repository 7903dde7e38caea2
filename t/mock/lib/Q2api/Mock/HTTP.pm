package Q2api::Mock::HTTP;

# The HTTP/1.1 wire of the mock (Q2api::Mock): reading one request off a
# keep-alive connection (Content-Length or chunked body, Expect:
# 100-continue), writing bytes in full, the Date header, reason phrases.

use strict;
use warnings;

use Errno ();
use Exporter 'import';
use IO::Select;
use Time::HiRes qw(time);

our @EXPORT_OK = qw(read_request write_all http_date reason);

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

sub reason { $REASON{ $_[0] } // 'Unknown' }

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

sub read_request {
    my ($c, $bufref) = @_;

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
        write_all($c, "HTTP/1.1 100 Continue\r\n\r\n") or return undef;
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

sub write_all {
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
sub http_date {
    my @t = gmtime;
    return sprintf('%s, %02d %s %04d %02d:%02d:%02d GMT',
                   (qw(Sun Mon Tue Wed Thu Fri Sat))[ $t[6] ], $t[3],
                   (qw(Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec))[ $t[4] ],
                   $t[5] + 1900, @t[2, 1, 0]);
}

1;
