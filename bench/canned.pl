#!/usr/bin/perl
# The canned upstream answers of "make bench": Amazon Q answers in AWS
# event-stream framing, made once with the mock's own builders (so the
# frames, headers and CRCs are those the suites already prove), written to
# files that a plain nginx serves as fast as it can.
#
#   perl -I t/mock/lib bench/canned.pl DIR
#
# DIR/short.es  222 frames, ~37 KB: an answer of text, one tool use and the
#               usage events, the size of a typical chat turn
# DIR/long.es   2,000 frames of the same kind, for memory that grows with
#               the answer's length
# Prints "NAME frames=N bytes=N" per file.

use strict;
use warnings;

use Q2api::Mock::AmazonQ qw(tool_response);

my $dir = shift or die "usage: canned.pl DIR\n";

# Amazon Q streams a few words per frame; words vary so no two frames are
# the same bytes.
my @WORDS = qw(the gateway decodes each frame as it arrives and writes
               Claude server-sent events back to the client while nginx
               keeps the upstream connection under back-pressure);

sub chunks {
    my ($n) = @_;
    my @c;
    for my $i (0 .. $n - 1) {
        my @w = map { $WORDS[($i * 7 + $_) % @WORDS] } 0 .. 6;
        push @c, join(' ', @w) . ($i % 9 == 8 ? ".\n\n" : ' ');
    }
    return @c;
}

# Frames besides text: messageMetadataEvent, the tool use (name, two input
# fragments, stop), contextUsageEvent, meteringEvent, metadataEvent.
my $OTHER = 1 + 4 + 3;

sub answer {
    my ($frames) = @_;
    my $r = tool_response(
        text => [ chunks($frames - $OTHER) ],
        id => 'tooluse_bench0001',
        name => 'Read',
        fragments => [ '{"file_path": "/home/user/src/', 'main.c"}' ],
    );
    my $bytes = '';
    my $n = 0;
    for my $op (Q2api::Mock::AmazonQ->stream_ops($r->{events})) {
        die "canned.pl: unexpected operation $op->[0]\n"
            unless $op->[0] eq 'bytes';
        $bytes .= $op->[1];
        $n++;
    }
    die "canned.pl: $n frames, wanted $frames\n" unless $n == $frames;
    return $bytes;
}

for my $f ([short => 222], [long => 2000]) {
    my ($name, $frames) = @$f;
    my $bytes = answer($frames);
    my $path = "$dir/$name.es";
    open my $fh, '>:raw', "$path.tmp" or die "canned.pl: $path.tmp: $!\n";
    print {$fh} $bytes;
    close $fh or die "canned.pl: $path.tmp: $!\n";
    rename "$path.tmp", $path or die "canned.pl: $path: $!\n";
    printf "%s frames=%d bytes=%d\n", $name, $frames, length $bytes;
}
