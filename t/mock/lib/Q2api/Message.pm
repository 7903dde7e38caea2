package Q2api::Message;

# Rebuilds the message a Claude SSE stream describes, as the SDKs'
# MessageStream.finalMessage() does, so a suite can compare stream: true
# with stream: false.
#
#   my $msg = Q2api::Message::from_sse($body);     # hashref or dies
#
# Also registers response checks for blocks with
#
# "--- final_content eval": a Perl arrayref, deep-compared with the content
# of the message the response describes (SSE or JSON), so that a test does
# not depend on how the deltas were cut;
#
# "--- same_as_stream":
# request 0 is sent with stream:false and request 1 with stream:true; the
# message of request 0 must equal the one rebuilt from request 1 in
# content, stop_reason, stop_sequence and usage.output_tokens.

use strict;
use warnings;

use JSON::PP ();
use Test::More ();

my %SEEN;

sub import {
    my $add = Test::Nginx::Socket->can('add_response_body_check')
        or die "Q2api::Message needs Test::Nginx::Socket loaded first\n";

    $add->(sub {
        my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
        my $want = $block->final_content;
        return unless defined $want;
        my $name = $block->name;
        if ($dry_run) {
            Test::More::pass("$name - final content (skipped)");
            return;
        }
        my $msg = eval {
            $body =~ /^\{/ ? JSON::PP->new->utf8->decode($body)
                           : from_sse($body)
        };
        Test::More::is_deeply($msg ? $msg->{content} : $@, $want,
                              "$name - final content");
    });

    $add->(sub {
        my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
        return unless defined $block->same_as_stream;
        my $name = $block->name;

        if ($req_idx == 0) {
            $SEEN{$name} = $body;
            return;
        }

        if ($dry_run) {
            Test::More::pass("$name - same as stream (skipped)");
            return;
        }

        my $json = JSON::PP->new->canonical;
        my $plain = eval { $json->decode($SEEN{$name}) };
        my $streamed = eval { from_sse($body) };
        if (!$plain || !$streamed) {
            Test::More::fail("$name - same as stream: "
                             . ($@ || 'no message'));
            return;
        }

        my %a = map { $_ => $plain->{$_} } qw(content stop_reason
                                              stop_sequence model role type);
        my %b = map { $_ => $streamed->{$_} } keys %a;
        $a{output_tokens} = $plain->{usage}{output_tokens};
        $b{output_tokens} = $streamed->{usage}{output_tokens};
        Test::More::is_deeply(\%b, \%a, "$name - same as stream");
    });
}

sub from_sse {
    my ($body) = @_;
    my $json = JSON::PP->new->utf8;
    my ($msg, @partial);

    for my $chunk (split /\n\n/, $body) {
        my ($data) = $chunk =~ /^data: (.*)$/m or next;
        my $d = $json->decode($data);
        my $t = $d->{type};

        if ($t eq 'message_start') {
            $msg = $d->{message};
        } elsif ($t eq 'content_block_start') {
            $msg->{content}[$d->{index}] = $d->{content_block};
        } elsif ($t eq 'content_block_delta') {
            my $b = $msg->{content}[$d->{index}];
            my $delta = $d->{delta};
            if ($delta->{type} eq 'text_delta') {
                $b->{text} .= $delta->{text};
            } elsif ($delta->{type} eq 'thinking_delta') {
                $b->{thinking} .= $delta->{thinking};
            } elsif ($delta->{type} eq 'signature_delta') {
                $b->{signature} = $delta->{signature};
            } elsif ($delta->{type} eq 'input_json_delta') {
                $partial[$d->{index}] .= $delta->{partial_json};
            }
        } elsif ($t eq 'content_block_stop') {
            my $b = $msg->{content}[$d->{index}];
            if ($b->{type} eq 'tool_use') {
                my $p = $partial[$d->{index}] // '';
                $b->{input} = $p eq '' ? {} : $json->decode($p);
            }
        } elsif ($t eq 'message_delta') {
            $msg->{stop_reason} = $d->{delta}{stop_reason};
            $msg->{stop_sequence} = $d->{delta}{stop_sequence};
            $msg->{usage}{$_} = $d->{usage}{$_} for keys %{ $d->{usage} };
        } elsif ($t eq 'error') {
            die "stream error: $data\n";
        }
    }

    die "no message_start\n" unless $msg;
    return $msg;
}

1;
