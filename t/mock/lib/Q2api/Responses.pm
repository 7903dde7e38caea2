package Q2api::Responses;

# The Responses event stream as the openai SDK's ResponseStream and Codex
# read it, checked against openai-responses.md 5.1-5.3; replay() dies with
# the first rule broken and returns what a client ends up with:
#
#   { response => the terminal event's Response, output => [items as the
#     output_item.done events gave them], events => [types in order],
#     error => the "error" event, if any }

use strict;
use warnings;

use JSON::PP ();
use Exporter 'import';

our @EXPORT_OK = qw(replay strip_ids);

my $JSON = JSON::PP->new->utf8->canonical;

my %PREFIX = (message => 'msg_', reasoning => 'rs_', function_call => 'fc_',
              custom_tool_call => 'ctc_');

sub replay {
    my ($body) = @_;
    my (@output, @events, $open, $seq, $id, $final, $error);
    die "no blank line at the end\n" unless $body =~ /\n\n\z/;
    $seq = 0;
    for my $frame (split /\n\n/, $body) {
        next if $frame =~ /\A:[^\n]*\z/;
        die "after the terminal event: $frame\n" if $final;
        die "not an event and a data line: $frame\n"
            unless $frame =~ /\Aevent: ([a-z_.]+)\ndata: ([^\n]*)\z/;
        my ($name, $e) = ($1, $JSON->decode($2));
        die "event: $name but type $e->{type}\n" unless $e->{type} eq $name;
        die "sequence_number $e->{sequence_number}, want $seq\n" unless $e->{sequence_number} == $seq;
        $seq++;
        push @events, $name;
        die "an error key at the top of $name\n" if exists $e->{error};
        if ($seq == 1) {
            die "first event is $name\n" unless $name eq 'response.created';
            die "created: not in_progress\n" unless $e->{response}{status} eq 'in_progress';
            die "created: output not empty\n" if @{ $e->{response}{output} };
            $id = $e->{response}{id};
            die "bad response id $id\n" unless $id =~ /\Aresp_[0-9a-f]{24}\z/;
            next;
        }
        if ($name eq 'response.in_progress') {
            die "in_progress not second\n" unless $seq == 2;
            next;
        }
        if ($name eq 'error') {
            die "error event lacks message\n" unless defined $e->{message} && exists $e->{code};
            $error = $e;
            next;
        }
        if ($name =~ /\Aresponse\.(completed|incomplete|failed)\z/) {
            my $r = $e->{response};
            die "terminal event with status $r->{status}\n" unless $r->{status} eq $1;
            die "response id changed\n" unless $r->{id} eq $id;
            die "an item is still open at $name\n" if defined $open && $1 ne 'failed';
            die "response.output is not the done items\n"
                unless $JSON->encode($r->{output}) eq $JSON->encode(\@output);
            if ($1 ne 'failed') {
                my $u = $r->{usage} or die "no usage\n";
                for (qw(input_tokens output_tokens total_tokens)) {
                    die "usage.$_ missing\n" unless defined $u->{$_} && $u->{$_} =~ /\A\d+\z/;
                }
                die "total_tokens is not the sum\n"
                    unless $u->{total_tokens} == $u->{input_tokens} + $u->{output_tokens};
                die "no cached_tokens\n" unless defined $u->{input_tokens_details}{cached_tokens};
                die "no reasoning_tokens\n" unless defined $u->{output_tokens_details}{reasoning_tokens};
            } else {
                die "failed without error.code\n" unless $r->{error}{code} && $r->{error}{message};
            }
            $final = $r;
            next;
        }
        if ($name eq 'response.output_item.added') {
            die "item added while another is open\n" if defined $open;
            die "output_index $e->{output_index}, want " . @output . "\n" unless $e->{output_index} == @output;
            my $item = $e->{item};
            my $p = $PREFIX{ $item->{type} } or die "unknown item type $item->{type}\n";
            die "item id $item->{id} lacks $p\n" unless index($item->{id}, $p) == 0;
            $open = { %$item };
            $open->{content} = [] if $item->{type} eq 'message';
            $open->{summary} = [] if $item->{type} eq 'reasoning';
            next;
        }
        die "$name with no open item\n" unless defined $open;
        die "$name: item_id $e->{item_id}\n" if exists $e->{item_id} && $e->{item_id} ne $open->{id};
        die "$name: output_index $e->{output_index}\n" unless $e->{output_index} == @output;
        if ($name eq 'response.content_part.added') {
            die "content_index\n" unless $e->{content_index} == @{ $open->{content} };
            push @{ $open->{content} }, { %{ $e->{part} } };
        } elsif ($name eq 'response.output_text.delta') {
            my $part = $open->{content}[ $e->{content_index} ] or die "missing content at index $e->{content_index}\n";
            $part->{text} .= $e->{delta};
        } elsif ($name eq 'response.output_text.done') {
            die "output_text.done differs from the deltas\n" unless $e->{text} eq $open->{content}[ $e->{content_index} ]{text};
        } elsif ($name eq 'response.content_part.done') {
            die "content_part.done differs\n" unless $e->{part}{text} eq $open->{content}[ $e->{content_index} ]{text};
        } elsif ($name eq 'response.reasoning_summary_part.added') {
            die "summary_index\n" unless $e->{summary_index} == @{ $open->{summary} };
            push @{ $open->{summary} }, { %{ $e->{part} } };
        } elsif ($name eq 'response.reasoning_summary_text.delta') {
            my $part = $open->{summary}[ $e->{summary_index} ] or die "missing summary part\n";
            $part->{text} .= $e->{delta};
        } elsif ($name eq 'response.reasoning_summary_text.done' || $name eq 'response.reasoning_summary_part.done') {
            my $t = exists $e->{text} ? $e->{text} : $e->{part}{text};
            die "$name differs from the deltas\n" unless $t eq $open->{summary}[ $e->{summary_index} ]{text};
        } elsif ($name eq 'response.function_call_arguments.delta') {
            die "arguments delta on a $open->{type}\n" unless $open->{type} eq 'function_call';
            $open->{arguments} .= $e->{delta};
        } elsif ($name eq 'response.function_call_arguments.done') {
            die "arguments.done differs\n" unless $e->{arguments} eq $open->{arguments} && $e->{name} eq $open->{name};
        } elsif ($name eq 'response.custom_tool_call_input.delta') {
            die "input delta on a $open->{type}\n" unless $open->{type} eq 'custom_tool_call';
            $open->{input} .= $e->{delta};
        } elsif ($name eq 'response.custom_tool_call_input.done') {
            die "input.done differs\n" unless $e->{input} eq $open->{input};
        } elsif ($name eq 'response.output_item.done') {
            my $item = $e->{item};
            die "done item id differs\n" unless $item->{id} eq $open->{id};
            if ($item->{type} eq 'message') {
                die "message text differs from its deltas\n"
                    unless $JSON->encode([ map { $_->{text} } @{ $item->{content} } ])
                        eq $JSON->encode([ map { $_->{text} } @{ $open->{content} } ]);
            } elsif ($item->{type} eq 'reasoning') {
                die "summary differs from its deltas\n"
                    unless $JSON->encode($item->{summary}) eq $JSON->encode($open->{summary});
            } elsif ($item->{type} eq 'function_call') {
                die "arguments differ from the deltas\n" unless $item->{arguments} eq $open->{arguments};
                die "call_id changed\n" unless $item->{call_id} eq $open->{call_id};
            } else {
                die "input differs from the deltas\n" unless $item->{input} eq $open->{input};
            }
            push @output, $item;
            undef $open;
        } else {
            die "unknown event $name\n";
        }
    }
    die "no terminal event\n" unless $final;
    return { response => $final, output => \@output, events => \@events, error => $error };
}

# items with their generated ids blanked, to compare two replies
sub strip_ids {
    my ($items) = @_;
    return [ map { my %i = %$_; $i{id} = 'x'; \%i } @$items ];
}

1;
