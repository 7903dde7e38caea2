#!/usr/bin/perl
# The verdict of "make valgrind": reads the memcheck XML reports that
# nginx left under valgrind (one file per process, DIR/*.xml) and fails
# when any of them holds an error (invalid read or write, use of an
# uninitialised value, a bad free, ...) or a "definitely lost" block
# allocated through a frame of this module (ngx_http_q2api_* or q2api_*).
# Leaks without a module frame are nginx's or a library's and are only
# counted: nginx does not free what it allocates once per process.
#
#   perl t/valgrind-check.pl build/valgrind
#
# Exit status: 0 clean, 1 findings (each printed with its stack), 2 no
# report at all (valgrind did not run).

use strict;
use warnings;

my $dir = shift // 'build/valgrind';
my @files = sort glob "$dir/*.xml";
if (!@files) {
    print STDERR "valgrind-check: no report in $dir\n";
    exit 2;
}

my $MODULE_FRAME = qr/^(?:ngx_http_q2api_|q2api_)/;

my ($bad, $foreign, $processes) = (0, 0, 0);

for my $file (@files) {
    open my $fh, '<', $file or die "$file: $!\n";
    my $xml = do { local $/; <$fh> };
    close $fh;

    # a process killed before it wrote its closing tag still counts
    $processes++;

    while ($xml =~ m{<error>(.*?)</error>}sg) {
        my $err = $1;
        my ($kind) = $err =~ m{<kind>(.*?)</kind>};
        my ($what) = $err =~ m{<(?:what|text)>(.*?)</(?:what|text)>}s;
        my @fns = $err =~ m{<fn>(.*?)</fn>}g;
        $kind //= '?';

        if ($kind =~ /^Leak_/) {
            next unless $kind eq 'Leak_DefinitelyLost';
            if (!grep { $_ =~ $MODULE_FRAME } @fns) {
                $foreign++;
                next;
            }
        }

        $bad++;
        print "== $file ($kind)\n", ($what // $kind), "\n";
        print "    at $_\n" for @fns;
        print "\n";
    }
}

printf "valgrind-check: %d process report(s), %d finding(s), "
     . "%d definitely lost block(s) outside the module (ignored)\n",
       $processes, $bad, $foreign;
exit($bad ? 1 : 0);
