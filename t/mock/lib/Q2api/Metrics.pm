package Q2api::Metrics;

# Reading q2api_metrics in tests: a scrape parsed into series, sums over
# the series whose labels include the ones asked, and promtool's lint.
#
#   my $s = scrape($nginx [, $accept]);   # { text, type, series => [...] }
#   sum($s, 'q2api_requests_total', outcome => 'ok');
#   value($s, 'q2api_zone_accounts');     # undef when no series matches

use strict;
use warnings;

use Exporter 'import';
use File::Temp ();
use Test::More ();

our @EXPORT_OK = qw(scrape parse value sum promtool_ok);

# every $q2api_* of a request in a JSON line: log_format q2json
our $LOG_FORMAT = <<'_EOC_';
    log_format q2json escape=json
        '{"status":"$status","key":"$q2api_key_name",'
        '"front":"$q2api_front","backend":"$q2api_backend",'
        '"model":"$q2api_model","upstream_model":"$q2api_upstream_model",'
        '"in":"$q2api_input_tokens","out":"$q2api_output_tokens",'
        '"cache_read":"$q2api_cache_read_tokens","ttfb":"$q2api_ttfb",'
        '"stop":"$q2api_stop_reason","error":"$q2api_error_type",'
        '"account":"$q2api_account","attempts":"$q2api_attempts"}';
_EOC_

sub parse {
    my ($text) = @_;
    my @series;
    for my $line (split /\n/, $text) {
        next if $line =~ /^#/ || $line eq '';
        my ($name, $labels, $v) = $line =~ /^(\w+)(?:\{(.*)\})? (\S+)$/
            or die "not a sample line: $line";
        my %l;
        while (($labels // '') =~ /(\w+)="((?:[^"\\]|\\.)*)"/g) {
            $l{$1} = $2;
        }
        push @series, { name => $name, labels => \%l, value => $v };
    }
    return \@series;
}

sub scrape {
    my ($n, $accept) = @_;
    my $r = $n->get('/metrics', $accept ? (Accept => $accept) : ());
    die "scrape: $r->{status} $r->{content}" unless $r->{status} == 200;
    return { text => $r->{content}, type => $r->{headers}{'content-type'},
             series => parse($r->{content}) };
}

sub _matching {
    my ($s, $name, %want) = @_;
    return grep {
        my $x = $_;
        $x->{name} eq $name
            && !grep { ($x->{labels}{$_} // "\0") ne $want{$_} } keys %want
    } @{ $s->{series} };
}

sub sum {
    my $total = 0;
    $total += $_->{value} for _matching(@_);
    return $total;
}

sub value {
    my @m = _matching(@_);
    return undef unless @m;
    my $total = 0;
    $total += $_->{value} for @m;
    return $total;
}

# promtool check metrics: 1 when it finds nothing to say
sub promtool_ok {
    my ($text) = @_;
    my $tmp = File::Temp->new;
    print $tmp $text;
    close $tmp;
    my $out = `promtool check metrics < $tmp 2>&1`;
    my $rc = $?;
    Test::More::diag("promtool: $out") if $rc != 0 || $out ne '';
    return $rc == 0 && $out eq '' ? 1 : 0;
}

1;
