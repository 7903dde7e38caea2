#!/usr/bin/perl

# Runs the Amazon Q GenerateAssistantResponse mock in the foreground, for
# benchmarks and demos.
#
#   t/mock/amazonq-mock.pl --listen 127.0.0.1:8089 \
#       [--script FILE.json] [--record DIR] [--state-dir DIR] [--verbose]
#
# --script   the script, re-read on every request (edit it while the mock
#            runs); default: one text response "Hello from mock"
# --record   write every request as DIR/NNNNNNNN.json; default: no records
# --state-dir  lock and counter files; default: a temporary directory
#
# Prints "amazonq-mock listening on HOST:PORT" once it accepts connections
# (port 0 picks a free one).  SIGINT/SIGTERM stop it.

use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/lib";

use Getopt::Long qw(GetOptions);
use Q2api::Mock;
use Q2api::Mock::AmazonQ qw(default_script);

my %opt = (listen => '127.0.0.1:8089');
GetOptions(\%opt, 'listen=s', 'script=s', 'record=s', 'state-dir=s',
           'verbose!', 'help')
    or usage(2);
usage(0) if $opt{help};

sub usage {
    my ($rc) = @_;
    print STDERR "usage: $0 --listen HOST:PORT [--script FILE.json] "
               . "[--record DIR] [--state-dir DIR] [--verbose]\n";
    exit $rc;
}

if (defined $opt{script}) {
    die "$0: cannot read $opt{script}\n" unless -r $opt{script};
    # Fail early on a broken script; the server re-reads it per request.
    open my $fh, '<:raw', $opt{script} or die "$0: $opt{script}: $!\n";
    my $text = do { local $/; <$fh> };
    close $fh;
    eval { Q2api::Mock::normalize_script($text); 1 }
        or die "$0: $opt{script}: $@";
}

my $mock = Q2api::Mock->new(
    listen => $opt{listen},
    (defined $opt{'state-dir'} ? (state_dir => $opt{'state-dir'}) : ()),
    (defined $opt{script} ? (script_file => $opt{script}) : ()),
    record_dir => $opt{record} // '',
    verbose => $opt{verbose} ? 1 : 0,
);

$mock->reset;
$mock->set_script(default_script()) unless defined $opt{script};

my $port = $mock->port;    # binds
$| = 1;
print "amazonq-mock listening on $mock->{host}:$port\n";
$mock->run;
