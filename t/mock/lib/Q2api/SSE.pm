package Q2api::SSE;

# Parses and validates a Claude Messages SSE body the way the SDKs read it.
#
#   use Q2api::SSE;
#
# registers a response check for blocks with a "--- sse_valid" section:
# every event has an "event:" line whose name equals data.type, one
# compact JSON per data line, message_start first, content block indexes
# counting 0, 1, 2... with start/delta/stop in order, input_json_delta
# fragments of each tool_use concatenating to a JSON object, message_delta
# with usage.output_tokens, message_stop last.  "--- sse_valid: error" says
# the stream must end with an error event instead.

use strict;
use warnings;

use JSON::PP ();
use Test::More ();

our @EXPORT = qw(sse_events sse_problems);

sub import {
    my $caller = caller;
    no strict 'refs';
    *{"${caller}::$_"} = \&{$_} for @EXPORT;

    my $add = Test::Nginx::Socket->can('add_response_body_check')
        or die "Q2api::SSE needs Test::Nginx::Socket loaded first\n";

    $add->(sub {
        my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
        my $want = $block->sse_valid;
        return unless defined $want;
        my $name = $block->name;
        if ($dry_run) {
            Test::More::pass("$name - sse valid (skipped: $dry_run)");
            return;
        }
        my @p = sse_problems($body, $want =~ /error/ ? 1 : 0);
        Test::More::ok(!@p, "$name - sse valid")
            or Test::More::diag(join "\n", @p);
    });
}

# [ { event => NAME, data => DECODED_JSON, raw => DATA_TEXT }, ... ]
sub sse_events {
    my ($body) = @_;
    my @events;
    for my $chunk (split /\n\n/, $body) {
        next if $chunk eq '';
        my %e;
        for my $line (split /\n/, $chunk) {
            if ($line =~ /^event: (.*)$/) {
                $e{event} = $1;
            } elsif ($line =~ /^data: (.*)$/) {
                die "two data lines in one event\n" if exists $e{raw};
                $e{raw} = $1;
            } elsif ($line !~ /^:/) {
                $e{junk} = $line;
            }
        }
        $e{data} = eval { JSON::PP->new->utf8->decode($e{raw} // '') };
        push @events, \%e;
    }
    return @events;
}

sub sse_problems {
    my ($body, $ends_in_error) = @_;
    my @p;
    my @ev = eval { sse_events($body) };
    return ("unparsable: $@") if $@;
    return ("no events") unless @ev;
    return ("body does not end with a blank line") unless $body =~ /\n\n\z/;

    my ($open, $next, %json, %type) = (undef, 0);
    for my $i (0 .. $#ev) {
        my $e = $ev[$i];
        push @p, "event $i: junk line '$e->{junk}'" if $e->{junk};
        push @p, "event $i: no event line" unless defined $e->{event};
        if (ref $e->{data} ne 'HASH') {
            push @p, "event $i: data is not a JSON object";
            next;
        }
        my $d = $e->{data};
        push @p, "event $i: event '$e->{event}' but type '$d->{type}'"
            if ($e->{event} // '') ne ($d->{type} // '');
        my $t = $d->{type} // '';
        if ($i == 0 && $t ne 'message_start') {
            push @p, "first event is $t, not message_start";
        }
        if ($t eq 'content_block_start') {
            push @p, "block $d->{index} starts while $open is open"
                if defined $open;
            push @p, "block index $d->{index}, expected $next"
                if $d->{index} != $next;
            $open = $d->{index};
            $type{$open} = $d->{content_block}{type};
            $json{$open} = '';
            $next++;
        } elsif ($t eq 'content_block_delta') {
            push @p, "delta for $d->{index} while "
                   . ($open // 'nothing') . " is open"
                if !defined $open || $d->{index} != $open;
            $json{$d->{index}} .= $d->{delta}{partial_json}
                if ($d->{delta}{type} // '') eq 'input_json_delta';
        } elsif ($t eq 'content_block_stop') {
            push @p, "stop for $d->{index} while "
                   . ($open // 'nothing') . " is open"
                if !defined $open || $d->{index} != $open;
            if (defined $open && $type{$open} eq 'tool_use'
                && $json{$open} ne '')
            {
                my $obj = eval { JSON::PP->new->decode($json{$open}) };
                push @p, "tool input of block $open is not a JSON object:"
                       . " $json{$open}" unless ref $obj eq 'HASH';
            }
            undef $open;
        } elsif ($t eq 'message_delta') {
            push @p, "message_delta without usage.output_tokens"
                unless defined $d->{usage}{output_tokens};
            push @p, "message_delta while block $open is open"
                if defined $open;
        }
    }

    my $last = $ev[-1]{data}{type} // '';
    if ($ends_in_error) {
        push @p, "last event is $last, not error" if $last ne 'error';
    } else {
        push @p, "last event is $last, not message_stop"
            if $last ne 'message_stop';
        push @p, "no message_delta"
            unless grep { ($_->{data}{type} // '') eq 'message_delta' } @ev;
    }
    return @p;
}

1;
