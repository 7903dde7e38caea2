package Test::Nginx::Socket;

# In-repository work-alike of OpenResty's Test::Nginx::Socket, built only on
# Debian's Perl packages.  t/*.t files written in its data-driven format run
# unchanged under this module (prove -I t/lib) and under the real one.
#
# This file is the client half: it turns --- request sections into bytes on
# a socket, parses the HTTP/1.x response and runs the checks.  The server
# half (nginx.conf, server root, nginx life cycle, block loop) is
# Test::Nginx::Util.
#
# Test::Base's -Base mode runs this file through Spiffy's source filter,
# which inserts "my $self = shift;" into every "sub name {" it sees.  Every
# named sub below therefore has a signature or a prototype attribute, which
# the filter leaves alone.

use Test::Base -Base;
use v5.36;

our $VERSION = '0.33';

use Digest::MD5 ();
use Digest::SHA ();
use Encode ();
use HTTP::Response ();
use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use List::Util qw(min);
use POSIX qw(EAGAIN EWOULDBLOCK EINTR WNOHANG);
use Test::LongString;
use Time::HiRes qw(sleep);

use Test::Nginx::Util;

our @EXPORT = qw(
    env_to_nginx is_str plan run_tests run_test
    repeat_each config_preamble worker_connections
    master_process_enabled
    no_long_string workers master_on master_off
    log_level no_shuffle no_root_location use_hup
    server_name
    server_addr server_root html_dir server_port server_port_for_client
    timeout no_nginx_manager check_accum_error_log
    add_block_preprocessor bail_out add_test_cleanup_handler
    add_cleanup_handler add_response_body_check
);

$RunTestHelper         = \&run_test_helper;
$CheckErrorLog         = \&check_error_log;
$CheckShutdownErrorLog = \&check_shutdown_error_log;

our @ResponseBodyChecks;
our $TotalConnectingTimeouts = 0;

sub add_response_body_check :prototype($) ($code) {
    push @ResponseBodyChecks, $code;
}

sub set_http_config_filter :prototype($) ($code) {
    $FilterHttpConfig = $code;
}

# ==========================================================================
# Requests
# ==========================================================================

# "--- more_headers": one "Name: value" per line, "# ..." lines skipped.
# Returns the header block (CRLF-terminated lines) and whether it declares
# a chunked request body.
sub parse_more_headers ($in) {
    my ($out, $is_chunked) = ('', 0);
    for my $header (split /\n+/, $in) {
        next if $header =~ /^\s*#/;
        my ($key, $val) = split /:\s*/, $header, 2;
        $val //= '';
        $is_chunked = 1
            if lc($key) eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $is_chunked);
}

# Builds the bytes of one request from the packets of a "--- request"
# value.  The first line is "METHOD [URI [HTTP/x.y]]" (defaults "/" and
# "HTTP/1.1"), the rest the body.  Host and Connection headers are added
# unless more_headers has them; unless the body is chunked or more_headers
# has a Content-Length, the body loses its surrounding whitespace and gets a
# Content-Length.
#
# Packet boundaries stay where the test put them: a boundary inside the
# request line stays inside the rebuilt line, one right after it falls after
# the generated headers, one inside the body stays at the same body offset.
sub build_request_from_packets ($name, $more_headers, $is_chunked, $conn,
                                $packets)
{
    my $text = join '', @$packets;

    my $nl = index $text, "\n";
    my $first = $nl < 0 ? $text : substr $text, 0, $nl + 1;
    bail_out("$name - Request line should be non-empty") if $first eq '';

    $first =~ /^(\s*)(\S+)( *)(?:(\S+)( *))?(?:(\S+)( *))?(\s*)$/
        or bail_out("$name - Request line is not valid. Should be "
                    . "'meth [url [version]]' but got \"$first\".");
    my ($lead, $meth, $sp1, $url, $sp2, $ver, $sp3, $tail) =
        ($1, $2, $3, $4, $5, $6, $7, $8);

    my $content = substr $text, length $first;

    my $len_header = '';
    if (!$is_chunked && $content ne ''
        && $more_headers !~ /(?:^|\n)Content-Length:/)
    {
        $content =~ s/^\s+|\s+$//gs;
        $len_header = 'Content-Length: ' . length($content) . "\r\n";
    }

    $more_headers =~ s/(?<!\r)\n/\r\n/gs;
    my $headers = '';
    $headers .= "Host: $ServerName\r\n"
        if $more_headers !~ /(?:^|\n)Host:/msi;
    $headers .= "Connection: $conn\r\n"
        if $more_headers !~ /(?:^|\n)Connection/msi;
    $headers .= "$more_headers$len_header\r\n";

    # The original text as consecutive segments: [length in the original,
    # replacement text, whether a packet boundary inside the segment keeps
    # its offset (tokens, body) or moves to the segment's start (removed
    # whitespace, line end)].
    my @segments = (
        [length $lead,          '',                            0],
        [length $meth,          "$meth ",                      1],
        [length $sp1,           '',                            0],
        [length($url // ''),    ($url // '/') . ' ',           1],
        [length($sp2 // ''),    '',                            0],
        [length($ver // ''),    ($ver // 'HTTP/1.1') . "\r\n", 1],
        [length($sp3 // '') + length $tail, $headers,          0],
        [length($text) - length($first), $content,             1],
    );
    my $new = join '', map { $_->[1] } @segments;

    my $map = sub ($pos) {
        my ($old_off, $new_off) = (0, 0);
        for my $seg (@segments) {
            my ($old_len, $repl, $by_offset) = @$seg;
            if ($pos < $old_off + $old_len) {
                return $new_off unless $by_offset;
                return $new_off + min($pos - $old_off, length $repl);
            }
            $old_off += $old_len;
            $new_off += length $repl;
        }
        return $new_off;
    };

    my @out;
    my ($old_cut, $new_cut) = (0, 0);
    for my $i (0 .. $#$packets) {
        $old_cut += length $packets->[$i];
        my $next = $i == $#$packets ? length $new : $map->($old_cut);
        push @out, substr $new, $new_cut, $next - $new_cut;
        $new_cut = $next;
    }
    return \@out;
}

# The requests of a block: a list of requests, each a list of packets
# ({ value => bytes, delay_before => seconds }).
sub get_req_from_block ($block) {
    my $name = $block->name;
    my $rand_ports = $Test::Nginx::Util::RandPorts;
    my $expand = sub ($s) { expand_env_in_text($s, $name, $rand_ports) };

    if (defined(my $raw = $block->raw_request)) {
        # Exact bytes; an array gives the packets.
        return [[map { { value => $_ } } ref $raw eq 'ARRAY' ? @$raw : $raw]];
    }

    my $more_headers = $block->more_headers // '';
    my $headers_for = sub ($i, $what) {
        my $raw = $more_headers;
        if (ref $raw eq 'ARRAY') {
            $raw = $raw->[$i]
                // bail_out("--- more_headers lacks data for $what");
        }
        return parse_more_headers($expand->($raw));
    };

    if (my $reqs = $block->pipelined_requests) {
        if (ref $reqs ne 'ARRAY') {
            bail_out("$name - invalid entries in --- pipelined_requests");
        }
        # All in one write on one keep-alive connection, the last request
        # closing it.
        my $bytes = '';
        for my $i (0 .. $#$reqs) {
            my ($hdr, $chunked) = $headers_for->($i,
                                                 "the $i pipelined request");
            my $conn = $i == $#$reqs ? 'close' : 'keep-alive';
            $bytes .= build_request_from_packets(
                $name, $hdr, $chunked, $conn, [$expand->($reqs->[$i])])->[0];
        }
        return [[{ value => $bytes }]];
    }

    my $request;
    if (defined $block->request_eval) {
        Test::More::diag("$name - request_eval DEPRECATED. Use request "
                         . "eval instead.");
        $request = eval $block->request_eval;
        warn $@ if $@;
    } else {
        $request = $block->request;
        if (defined $request && !ref $request) {
            # Leading blank and "# comment" lines.
            1 while $request =~ s/^\s*\#[^\n]+\s+|^\s+//gs;
        }
    }
    return [] unless defined $request;

    if (!ref $request) {
        my ($hdr, $chunked) = $headers_for->(0, 'the request');
        my $built = build_request_from_packets($name, $hdr, $chunked,
                                               'close', [$expand->($request)]);
        return [[{ value => $built->[0] }]];
    }

    if (ref $request ne 'ARRAY') {
        bail_out("$name - invalid ---request : MUST be string or array of "
                 . "requests");
    }

    my @list;
    for my $i (0 .. $#$request) {
        my $one = $request->[$i];
        my ($hdr, $chunked) = $headers_for->($i, "the ${i}th request");

        if (!ref $one) {
            my $built = build_request_from_packets(
                $name, $hdr, $chunked, 'close', [$expand->($one)]);
            push @list, [{ value => $built->[0] }];
            next;
        }

        if (ref $one ne 'ARRAY') {
            bail_out("$name - Invalid syntax. $one should be a string or an "
                     . "array of packets.");
        }

        # One request written as several packets, each a string or a
        # { value => ..., delay_before => ... } hash.
        my @packets;
        for my $p (@$one) {
            if (!ref $p) {
                push @packets, { value => $p };
            } elsif (ref $p eq 'HASH') {
                push @packets, { %$p };
            } else {
                bail_out("$name - Invalid syntax. $p should be a string or "
                         . "hash with value.");
            }
        }
        my $built = build_request_from_packets(
            $name, $hdr, $chunked, 'close',
            [map { $expand->($_->{value} // '') } @packets]);
        $packets[$_]{value} = $built->[$_] for 0 .. $#packets;
        push @list, \@packets;
    }
    return \@list;
}

# ==========================================================================
# The client
# ==========================================================================

# Connects, retrying with a growing delay (about 13 seconds in all; nginx
# has written its pid file by now, so a refusal means it is gone).
sub _connect ($block, $addr, $port, $timeout) {
    my $name = $block->name;
    my $total_tries = $TotalConnectingTimeouts ? 10 : 20;
    my $err;

    for my $try (1 .. $total_tries) {
        my $sock = IO::Socket::INET->new(
            PeerAddr => $addr,
            PeerPort => $port,
            Proto    => 'tcp',
            Timeout  => $timeout,
        );
        return $sock if $sock;
        $err = $!;

        # A foreground (valgrind) nginx that has exited will not come back.
        my $child = $Test::Nginx::Util::ChildPid;
        if (defined $child && waitpid($child, WNOHANG) == $child) {
            undef $Test::Nginx::Util::ChildPid;
            warn "WARNING: Child process $child is already gone.\n";
            last;
        }

        my $wait = (sleep_time() + sleep_time() * $try) * $try / 2;
        $wait = 1 if $wait > 1;
        if ($wait >= 0.6) {
            warn "$name - Can't connect to $addr:$port: $err\n",
                 $try < $total_tries ? "\tRetry connecting after $wait sec\n"
                                     : '';
        }
        sleep $wait;
    }

    Test::More::diag("$name - last 30 lines of the error log:\n"
                     . Test::Nginx::Util::_error_log_tail(30));

    my $msg = "$name - Can't connect to $addr:$port: $err (aborted)\n";
    if (++$TotalConnectingTimeouts < 3) {
        fail($msg);
    } else {
        bail_out($msg);
    }
    return undef;
}

# Sends one request (a list of packets) on a new connection and reads until
# the server closes it.  $timeout bounds every wait for a single I/O event,
# not the whole exchange.  Returns the raw response and whether the request
# was a HEAD.
sub send_request ($req, $middle_delay, $timeout, $block) {
    my $name = $block->name;
    my @packets = @$req;
    my $head_req = (join '', map { $_->{value} } @packets) =~ /^\s*HEAD\s+/
                   ? 1 : 0;

    my $addr = $block->server_addr_for_client // $ServerAddr;
    my $sock = _connect($block, $addr, $ServerPortForClient, $timeout)
        or return (undef, $head_req);
    $sock->blocking(0);

    local $SIG{PIPE} = 'IGNORE';

    my $resp = '';
    my $buf = (shift @packets)->{value} // '';
    my $off = 0;
    my $writing = 1;
    my $sel = IO::Select->new($sock);

    while (1) {
        local $! = 0;
        my ($readable, $writable) =
            IO::Select->select($sel, $writing ? $sel : undef, undef, $timeout);

        if (!$readable && !$writable) {
            next if $! == EINTR;
            if (!defined $block->abort) {
                fail("ERROR: client socket timed out - $name\n");
            }
            last;
        }

        if ($writable && @$writable) {
            WRITE: while (1) {
                if ($off < length $buf) {
                    my $n = syswrite $sock, $buf, length($buf) - $off, $off;
                    if (!defined $n) {
                        last WRITE if $! == EAGAIN || $! == EWOULDBLOCK;
                        # The server may have answered and closed early;
                        # what it sent is still read below.
                        warn "write failed: $!\n";
                        $writing = 0;
                        last WRITE;
                    }
                    $off += $n;
                    next WRITE;
                }

                my $next = shift @packets;
                if (!$next) {
                    $writing = 0;
                    if (defined(my $how = $block->shutdown)) {
                        $how = 1 if $how =~ /^\s*$/;
                        shutdown $sock, $how;
                    }
                    last WRITE;
                }
                my $delay = $next->{delay_before} // $middle_delay;
                sleep $delay if $delay;
                ($buf, $off) = ($next->{value} // '', 0);
            }
        }

        if ($readable && @$readable) {
            my $closed;
            while (1) {
                my $n = sysread $sock, my $chunk, 4096;
                if (!defined $n) {
                    last if $! == EAGAIN || $! == EWOULDBLOCK;
                    warn "WARNING: $name - HTTP response read failure: $!\n";
                    $closed = 1;
                    last;
                }
                if ($n == 0) {
                    $closed = 1;
                    last;
                }
                $resp .= $chunk;
            }
            last if $closed;
        }
    }

    close $sock;
    return ($resp, $head_req);
}

# ==========================================================================
# Responses
# ==========================================================================

# Fails the test for a malformed response.  OpenResty's harness also calls
# Test::Builder's no_ending() here, which makes a failing file exit with
# status 0; this one leaves the end-of-run summary and exit status alone.
sub _parse_failure ($msg) {
    fail($msg);
    return;
}

# Returns (HTTP::Response, raw header text, bytes after this response) or an
# empty list after failing the test on malformed chunked framing.
sub parse_response ($name, $raw_resp, $head_req) {
    my $raw_headers = $raw_resp =~ /(.*?\r\n)\r\n/s ? $1 : '';
    my $res = HTTP::Response->parse($raw_resp);
    my $left;

    my $code = $res->code;
    if (defined $code && $code !~ /^\d+$/) {
        undef $code;
        $res->code(undef);
    }
    return ($res, $raw_headers) if $code && ($code == 304 || $code == 101);

    my $enc = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');
    my @trailers = $res->header('Trailer');

    if (defined $enc && $enc eq 'chunked') {
        my $raw = $res->content // '';
        my $decoded = '';
        pos($raw) = 0;

        while (1) {
            if ($raw =~ /\G0+(?:;[^\r\n]*)?[ \t]*\r\n/gc) {
                # The last chunk, announced trailer fields, the final CRLF.
                if (@trailers) {
                    1 while $raw =~ /\G[^\r\n]+\r\n/gc;
                }
                $raw =~ /\G\r\n/gc
                    or return _parse_failure("$name - invalid chunked data "
                                             . "received (expected CRLF).");
                $left = substr $raw, pos $raw if pos($raw) < length $raw;
                last;
            }

            if ($raw =~ /\G[ \t]*([A-Fa-f0-9]+)(?:;[^\r\n]*)?[ \t]*\r\n/gc) {
                my $size = hex $1;
                if (length($raw) - pos($raw) < $size) {
                    return _parse_failure("$name - invalid chunked data "
                        . "received (not enough octets for the data section)");
                }
                $decoded .= substr $raw, pos($raw), $size;
                pos($raw) += $size;
                $raw =~ /\G\r\n/gc
                    or return _parse_failure("$name - invalid chunked data "
                                             . "received (expected CRLF).");
            } elsif ($raw =~ /\G.+/gcs) {
                return _parse_failure("$name - invalid chunked body "
                                      . "received: $&");
            } else {
                return _parse_failure("$name - no last chunk found - $raw");
            }
        }

        $res->content($decoded);

    } elsif (defined $len && $len =~ /^\s*(\d+)\s*$/) {
        $len = $1;
        my $raw = $res->content // '';
        if (length $raw < $len) {
            warn "WARNING: $name - response body truncated: $len expected, "
                 . "but got ", length $raw, "\n" unless $head_req;
        } elsif (length $raw > $len) {
            $left = substr $raw, $len;
            $res->content(substr $raw, 0, $len);
        }
    }

    return ($res, $raw_headers, $left);
}

# ==========================================================================
# Checks
# ==========================================================================

# The expectation for request $req_idx: with several requests in a block
# every expectation must be an array.
sub get_indexed_value ($name, $value, $req_idx, $need_array) {
    my $is_array = ref $value && ref $value eq 'ARRAY';
    if ($need_array) {
        return $value->[$req_idx] if $is_array;
        bail_out("$name - You asked for many requests, the expected results "
                 . "should be arrays as well.");
    }
    return $is_array ? $value->[0] : $value;
}

sub _subst_server_port ($s) {
    $s =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
    $s =~ s/\$ServerPort\b/$ServerPort/g;
    return $s;
}

sub check_error_code ($block, $res, $dry_run, $req_idx, $need_array) {
    my $name = $block->name;
    my $got = ($res && $res->code) || '';
    SKIP: {
        skip "$name - tests skipped due to $dry_run", 1 if $dry_run;

        if (defined $block->error_code_like) {
            my $val = get_indexed_value($name,
                                        scalar $block->error_code_like,
                                        $req_idx, $need_array);
            like($got, qr/$val/sm, "$name - status code ok");
        } elsif (defined $block->error_code) {
            is($got, get_indexed_value($name, scalar $block->error_code,
                                       $req_idx, $need_array),
               "$name - status code ok");
        } else {
            is($got, 200, "$name - status code ok");
        }
    }
}

sub check_raw_response_headers ($block, $raw_headers, $dry_run, $req_idx,
                                $need_array)
{
    my $name = $block->name;
    $raw_headers //= '';

    if (defined $block->raw_response_headers_like) {
        SKIP: {
            skip "$name - raw_response_headers_like - tests skipped due to "
                 . $dry_run, 1 if $dry_run;
            my $re = get_indexed_value(
                $name, scalar $block->raw_response_headers_like, $req_idx,
                $need_array);
            like($raw_headers, qr/$re/s, "$name - raw resp headers like");
        }
    }

    if (defined $block->raw_response_headers_unlike) {
        SKIP: {
            skip "$name - raw_response_headers_unlike - tests skipped due to "
                 . $dry_run, 1 if $dry_run;
            my $re = get_indexed_value(
                $name, scalar $block->raw_response_headers_unlike, $req_idx,
                $need_array);
            unlike($raw_headers, qr/$re/s, "$name - raw resp headers unlike");
        }
    }
}

sub check_response_headers ($block, $res, $raw_headers, $dry_run, $req_idx,
                            $need_array)
{
    my $name = $block->name;
    $raw_headers //= '';

    # As in OpenResty's harness, response_headers_like is only looked at
    # when there is no response_headers section.
    if (defined $block->response_headers) {
        my $headers = parse_headers(get_indexed_value(
            $name, scalar $block->response_headers, $req_idx, $need_array));
        for my $pair (@$headers) {
            my ($key, $val) = @$pair;
            SKIP: {
                skip "$name - response_headers - tests skipped due to "
                     . $dry_run, 1 if $dry_run;
                if (!defined $val) {
                    unlike($raw_headers, qr/^\s*\Q$key\E\s*:/ms,
                           "$name - header $key not present in the raw "
                           . "headers");
                } else {
                    # Several header lines of one name are joined by ", ".
                    my $got = $res ? $res->header($key) : undef;
                    is($got // '', _subst_server_port($val),
                       "$name - header $key ok");
                }
            }
        }
    } elsif (defined $block->response_headers_like) {
        my $headers = parse_headers(get_indexed_value(
            $name, scalar $block->response_headers_like, $req_idx,
            $need_array));
        for my $pair (@$headers) {
            my ($key, $val) = @$pair;
            my $got = $res ? $res->header($key) : undef;
            SKIP: {
                skip "$name - response_headers_like - tests skipped due to "
                     . $dry_run, 1 if $dry_run;
                like($got // '', qr/^$val$/, "$name - header $key like ok");
            }
        }
    }
}

sub run_filter_helper ($block, $filter, $content) {
    my $name = $block->name;
    return $filter->($content) if ref $filter eq 'CODE';
    if (ref $filter) {
        bail_out("$name - the --- response_body_filters section only "
                 . "supports subroutine reference values and string values");
    }
    my %builtin = (
        md5_hex  => \&Digest::MD5::md5_hex,
        sha1_hex => \&Digest::SHA::sha1_hex,
        uc       => sub ($s) { uc $s },
        lc       => sub ($s) { lc $s },
        ucfirst  => sub ($s) { ucfirst $s },
        lcfirst  => sub ($s) { lcfirst $s },
        length   => sub ($s) { length $s },
    );
    my $code = $builtin{$filter}
        // bail_out("$name - unknown filter, \"$filter\", specified in the "
                    . "--- response_body_filters section");
    return $code->($content);
}

sub transform_response_body ($block, $res, $req_idx) {
    return unless defined $res && defined $res->content;
    my $filters = $block->response_body_filters;
    return unless defined $filters;
    my $name = $block->name;

    if (!ref $filters) {
        $filters =~ s/^\s+|\s+$//gs;
        $filters = [split /\s+/, $filters];
    } elsif (ref $filters ne 'ARRAY') {
        $filters = [$filters];
    }

    # [[...], [...]]: one filter list per request.
    if (ref $filters->[0] eq 'ARRAY') {
        if (grep { ref $_ ne 'ARRAY' } @$filters) {
            bail_out("$name - the --- response_body_filters two-dimensional "
                     . "array only be like [[uc], [lc]] not [[uc], lc]");
        }
        $filters = $filters->[$req_idx]
            // bail_out("$name - the ---response_body_filters "
                        . "two-dimensional array unmatch the specified "
                        . "request($req_idx)");
    }

    my $content = $res->content;
    $content = run_filter_helper($block, $_, $content) for @$filters;
    $res->content($content);
}

sub check_response_body ($block, $res, $dry_run, $req_idx,
                         $repeated_req_idx, $need_array)
{
    my $name = $block->name;
    my $content = $res ? $res->content : undef;

    if (defined(my $file = $block->write_resp_body_file) && defined $res) {
        open my $out, '>', $file
            or bail_out("$name - failed to write to file '$file': $!");
        print $out $content // '';
        close $out;
    }

    if (defined $block->response_body || defined $block->response_body_eval) {
        if (defined $content && defined $block->response_body_json_sort) {
            my $js = JSON::PP->new->canonical(1);
            my $obj = eval { $js->loose(1)->decode($content) };
            $content = $js->encode($obj) . "\n" if defined $obj;
        }

        my $expected;
        if ($block->response_body_eval) {
            Test::More::diag("$name - response_body_eval is DEPRECATED. Use "
                             . "response_body eval instead.");
            $expected = eval get_indexed_value(
                $name, scalar $block->response_body_eval, $req_idx,
                $need_array);
            warn $@ if $@;
        } else {
            $expected = get_indexed_value($name,
                                          scalar $block->response_body,
                                          $req_idx, $need_array);
        }

        if ($block->charset) {
            Encode::from_to($expected, 'UTF-8', $block->charset);
        }

        if (defined $expected && !ref $expected) {
            $expected = expand_env_in_text(_subst_server_port($expected),
                                           $name,
                                           $Test::Nginx::Util::RandPorts);
        }

        SKIP: {
            skip "$name - response_body - tests skipped due to $dry_run", 1
                if $dry_run;
            my $desc = "(repeated req $repeated_req_idx, req $req_idx)";
            if (ref $expected) {
                like($content, $expected,
                     "$name - response_body - like $desc");
            } elsif ($NoLongString) {
                is($content, $expected,
                   "$name - response_body - response is expected $desc");
            } else {
                is_string($content, $expected,
                          "$name - response_body - response is expected $desc");
            }
        }

    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike)
    {
        my $type = defined $block->response_body_like ? 'like' : 'unlike';
        my $patterns = $type eq 'like' ? $block->response_body_like
                                       : $block->response_body_unlike;
        my $pat = _subst_server_port(get_indexed_value($name, $patterns,
                                                       $req_idx, $need_array));
        my $summary = trim($content) // '';

        SKIP: {
            skip "$name - response_body_$type - tests skipped due to "
                 . $dry_run, 1 if $dry_run;
            my $desc = "$name - response_body_$type - response is expected "
                       . "($summary)";
            if ($type eq 'like') {
                like($content, qr/$pat/s, $desc);
            } else {
                unlike($content, qr/$pat/s, $desc);
            }
        }
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $content, $req_idx, $repeated_req_idx, $dry_run);
    }
}

sub fmt_str ($str) {
    chomp $str;
    $str =~ s/"/\\"/g;
    $str =~ s/\r/\\r/g;
    $str =~ s/\n/\\n/g;
    return $str;
}

# Log patterns: a string holds one pattern per line; eval may give a qr//
# or an array of strings and qr//s.
sub _patterns ($pats) {
    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats] if ref $pats eq 'ARRAY';
    chomp $pats;
    return [grep { length } split /\n+/, $pats];
}

sub _line_matches ($line, $pat) {
    return ref $pat ? scalar($line =~ $pat) : index($line, $pat) >= 0;
}

sub _value_contains ($val, $needle) {
    return 0 unless defined $val;
    return scalar grep { _value_contains($_, $needle) } @$val
        if ref $val eq 'ARRAY';
    return index("$val", $needle) >= 0;
}

# --- error_log / --- no_error_log style checks against log lines.
sub _check_log_patterns ($name, $section, $file, $pats, $lines, $dry_run,
                         $suffix)
{
    my $negated = $section =~ /^no_/;
    for my $pat (@{ _patterns($pats) }) {
        next unless defined $pat;
        my $p = fmt_str("$pat");
        my $found;
        for my $i (0 .. $#$lines) {
            if (_line_matches($lines->[$i], $pat)) {
                $found = $i;
                last;
            }
        }

        SKIP: {
            skip "$name - $section - tests skipped due to $dry_run", 1
                if $dry_run;
            if (!$negated) {
                if (defined $found) {
                    pass("$name - pattern \"$pat\" matches a line in "
                         . "$file$suffix");
                } else {
                    fail("$name - pattern \"$pat\" should match a line in "
                         . "$file$suffix");
                }
            } elsif (!defined $found) {
                pass("$name - pattern \"$p\" does not match a line in "
                     . "$file$suffix");
            } else {
                my $ln = fmt_str($lines->[$found]);
                my $last = min($found + 9, $#$lines);
                my $more = join '', @$lines[$found + 1 .. $last];
                fail("$name - pattern \"$p\" should not match any line in "
                     . "$file but matches line \"$ln\"$suffix\n$more");
            }
        }
    }
}

sub check_error_log ($block, $res, $dry_run, $repeated_req_idx, $need_array) {
    my $name = $block->name;
    my $lines;
    my $log = sub () { $lines //= error_log_data() };

    my $grep_pat = $block->grep_error_log;
    if (defined $grep_pat && ref $grep_pat eq 'ARRAY') {
        $grep_pat = $grep_pat->[$repeated_req_idx];
    }
    if (!defined $block->grep_error_log
        && defined $block->grep_error_log_out)
    {
        bail_out("$name - No --- grep_error_log defined but "
                 . "--- grep_error_log_out is defined");
    }

    if (defined $grep_pat) {
        my $expected = $block->grep_error_log_out
            // bail_out("$name - No --- grep_error_log_out defined but "
                        . "--- grep_error_log is defined");
        if (ref $expected eq 'ARRAY') {
            $expected = $expected->[$repeated_req_idx];
        }
        $expected = expand_env_in_text($expected, $name,
                                       $Test::Nginx::Util::RandPorts);

        SKIP: {
            skip "$name - error_log - tests skipped due to $dry_run", 1
                if $dry_run;

            # The matched text of every matching line, one per line.
            my $matched = '';
            for my $line (@{ $log->() }) {
                if (ref $grep_pat ? $line =~ $grep_pat
                                  : $line =~ /\Q$grep_pat\E/)
                {
                    $matched .= "$&\n" if $& !~ /\n/;
                }
            }

            my $desc = "$name - grep_error_log_out (req $repeated_req_idx)";
            if (ref $expected eq 'Regexp') {
                like($matched, $expected, $desc);
            } elsif ($NoLongString) {
                is($matched, $expected, $desc);
            } else {
                is_string($matched, $expected, $desc);
            }
        }
    }

    # [alert], [crit] and [emerg] lines are reported, unless the block
    # itself looks for them.
    my %warn_level = map { $_ => 1 } qw(alert crit emerg);

    for my $section (qw(error_log no_error_log)) {
        my $pats = $block->$section;
        next unless defined $pats;
        for my $level (keys %warn_level) {
            delete $warn_level{$level} if _value_contains($pats, "[$level");
        }
        _check_log_patterns($name, $section, 'error.log', $pats, $log->(),
                            $dry_run, " (req $repeated_req_idx)");
    }

    if (!$dry_run && %warn_level) {
        for my $line (@{ $log->() }) {
            if ($line =~ /\[(alert|crit|emerg)\]/ && $warn_level{$1}) {
                warn "WARNING: $name - ", fmt_str($line), "\n";
            }
        }
    }

    for my $line (@{ $lines // [] }) {
        if ($line =~ /\bAssertion .*?failed\b/) {
            chomp(my $l = $line);
            fail("$name - $l\n");
        }
    }
}

sub check_access_log ($block, $dry_run, $repeated_req_idx) {
    my $name = $block->name;
    my $lines;
    for my $section (qw(access_log no_access_log)) {
        my $pats = $block->$section;
        next unless defined $pats;
        $lines //= access_log_data();
        _check_log_patterns($name, $section, 'access.log', $pats, $lines,
                            $dry_run, " (req $repeated_req_idx)");
    }
}

sub check_shutdown_error_log ($block, $dry_run) {
    my $name = $block->name;
    my $lines;
    for my $section (qw(shutdown_error_log no_shutdown_error_log)) {
        my $pats = $block->$section;
        next unless defined $pats;
        $lines //= error_log_data();
        _check_log_patterns($name, $section, 'error.log', $pats, $lines,
                            $dry_run ? 'dry_run' : 0, '');
    }
}

# "--- stap" needs SystemTap; like OpenResty's harness without
# TEST_NGINX_USE_STAP, the block's stap test is reported as skipped.
sub test_stap ($block, $dry_run) {
    return unless $block->stap;
    my $name = $block->name;
    SKIP: {
        skip "$name - stap_out - tests skipped due to env TEST_NGINX_USE_STAP "
             . "is not set", 1;
    }
}

# Sections whose behaviour this harness does not implement; a block using
# one fails loudly instead of silently testing something else.
my @UnsupportedSections = qw(http2 http3 tcp_listen udp_listen);

sub run_test_helper ($block, $dry_run, $repeated_req_idx) {
    my $name = $block->name;

    for my $section (@UnsupportedSections) {
        next unless defined $block->$section;
        fail("$name - --- $section is not supported by the t/lib "
             . "Test::Nginx harness");
        return;
    }
    if (defined $block->curl) {
        warn "WARNING: $name - --- curl is not supported by the t/lib "
             . "Test::Nginx harness and is ignored\n";
    }

    my $reqs = get_req_from_block($block);
    bail_out("$name - request empty") unless @$reqs;

    my $timeout = parse_time($block->timeout) // timeout();

    my $pipelined = $block->pipelined_requests;
    my $need_array = $pipelined ? 1 : @$reqs > 1;
    my $res;
    my $req_idx = 0;

    for my $one_req (@$reqs) {
        my ($raw_resp, $head_req) = $dry_run
            ? ("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 0)
            : send_request($one_req, scalar $block->raw_request_middle_delay,
                           $timeout, $block);

        # Pipelined requests share one connection: the responses are cut
        # off one after the other from what it returned.
        my $pending = $pipelined ? scalar @$pipelined : 0;

        while (1) {
            $raw_resp //= '';
            my ($raw_headers, $left);

            if (!defined $block->ignore_response) {
                if (defined $block->http09) {
                    $res = HTTP::Response->new(200, 'OK', [], $raw_resp);
                    $raw_headers = '';
                } else {
                    ($res, $raw_headers, $left) =
                        parse_response($name, $raw_resp, $head_req);
                }
            }

            if ($pending) {
                $raw_resp = $left;
                $pending--;
            } elsif (defined $left && $left ne '') {
                (my $shown = $left) =~
                    s/([\0-\037\200-\377])/sprintf('\x{%02x}', ord $1)/eg;
                warn "WARNING: $name - unexpected extra bytes after last "
                     . "chunk in response: \"$shown\"\n";
            }

            if (!defined $block->ignore_response) {
                check_error_code($block, $res, $dry_run, $req_idx,
                                 $need_array);
                check_raw_response_headers($block, $raw_headers, $dry_run,
                                           $req_idx, $need_array);
                check_response_headers($block, $res, $raw_headers, $dry_run,
                                       $req_idx, $need_array);
                transform_response_body($block, $res, $req_idx);
                check_response_body($block, $res, $dry_run, $req_idx,
                                    $repeated_req_idx, $need_array);
            }

            # Between two requests of a block the logs are checked too.
            if ($pending || $req_idx < $#$reqs) {
                sleep $block->wait if $block->wait;
                check_error_log($block, $res, $dry_run, $repeated_req_idx,
                                $need_array);
                check_access_log($block, $dry_run, $repeated_req_idx)
                    if !defined $block->ignore_response;
            }

            $req_idx++;
            last unless $pending;
        }
    }

    sleep $block->wait if $block->wait;

    test_stap($block, $dry_run);

    check_error_log($block, $res, $dry_run, $repeated_req_idx, $need_array);
    check_access_log($block, $dry_run, $repeated_req_idx)
        if !defined $block->ignore_response;
}

1;
__END__

=encoding utf-8

=head1 NAME

Test::Nginx::Socket - in-repository work-alike of OpenResty's
Test::Nginx::Socket

=head1 SYNOPSIS

    use Test::Nginx::Socket 'no_plan';

    run_tests();

    __DATA__

    === TEST 1: hello
    --- config
        location = /t {
            return 200 "hello\n";
        }
    --- request
    GET /t
    --- response_body
    hello

=head1 DESCRIPTION

Runs t/*.t files written for OpenResty's Test::Nginx::Socket with Debian's
Perl packages only (prove -I t/lib).  Blocks, filters, the generated
nginx.conf, the server life cycle, request building, response parsing and
the checks, their number and their descriptions follow the real module.

Supported sections: config, http_config, main_config, post_main_config,
server_name, init, post_setup_server_root, user_files, request (strings,
arrays of requests, arrays of packets with delay_before), request_eval,
more_headers, raw_request, raw_request_middle_delay, pipelined_requests,
timeout, abort, shutdown, wait, server_addr_for_client, error_code,
error_code_like, response_headers, response_headers_like,
raw_response_headers_like, raw_response_headers_unlike, response_body,
response_body_eval, response_body_like, response_body_unlike,
response_body_filters, response_body_json_sort, charset,
write_resp_body_file, ignore_response, http09, error_log, no_error_log,
grep_error_log, grep_error_log_out, access_log, no_access_log,
shutdown_error_log, no_shutdown_error_log, log_level, error_log_file,
must_die, suppress_stderr, skip_nginx, skip_nginx2, skip_openssl, skip_eval,
todo, todo_nginx, stap (always reported as skipped), ONLY, SKIP, LAST.

Not supported (a block using them fails): http2, http3, tcp_listen,
udp_listen.  TEST_NGINX_CHECK_LEAK and TEST_NGINX_BENCHMARK skip the file;
TEST_NGINX_USE_HUP, TEST_NGINX_USE_STAP, TEST_NGINX_USE_RR and
TEST_NGINX_USE_HTTP2/3 are ignored with a warning.

Additions: TEST_NGINX_PER_FILE gives every test file its own server root
(a sub-directory named after the file) and its own free port, for
prove -jN; $TEST_NGINX_* variables are also expanded in request and
more_headers; the tail of error.log is printed when nginx fails to start.

=cut
