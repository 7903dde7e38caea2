# Connection reuse to the backend: an upstream{} block named as the URL's
# host keeps idle connections, so consecutive attempts share one; a URL
# without such a block opens a connection per attempt.  And the shipped
# conf/q2api_backends.conf is valid nginx (its names swapped for loopback,
# as they resolve only with DNS).

use strict;
use warnings;

use Test::More;

use Q2api::Mock;
use Q2api::Mock::AmazonQ qw(:builders);
use Q2api::Nginx;

my $mock = Q2api::Mock->new;
$mock->start;
$mock->set_script({ responses => [ text_response('ok') ] });
my $mport = $mock->port;

my $body = '{"model":"claude-sonnet-4-5","max_tokens":10,'
         . '"messages":[{"role":"user","content":"hi"}]}';

sub peers_of {
    my ($url, $upstream) = @_;

    $mock->reset;

    my $n = Q2api::Nginx->new(workers => 1, http => <<"_EOC_", server => <<'_EOC_');
$upstream
    q2api_zone q2api 1m;
    q2api_store file accounts.json;
    q2api_amazonq_url $url;
_EOC_
        location /v1/ {
            q2api_pass claude;
        }
_EOC_
    $n->write_file('accounts.json', '[{"id":"a","accessToken":"tok-a"}]');
    $n->start;

    my @status = map { $n->post('/v1/messages', $body)->{status} } 1 .. 4;
    $n->stop;

    return (\@status, [ map { $_->{peer} } $mock->requests ]);
}

my ($status, $peers) = peers_of('http://q2mock/', <<"_EOC_");
    upstream q2mock {
        server 127.0.0.1:$mport;
        keepalive 4;
    }
_EOC_
is_deeply($status, [200, 200, 200, 200], 'answered through the upstream block');
is(scalar @$peers, 4, 'four attempts reached the backend');
my %distinct = map { $_ => 1 } @$peers;
is(scalar keys %distinct, 1, 'all four on one kept connection');

($status, $peers) = peers_of("http://127.0.0.1:$mport/", '');
is_deeply($status, [200, 200, 200, 200], 'answered without a block');
%distinct = map { $_ => 1 } @$peers;
is(scalar keys %distinct, 4, 'without a block, a connection per attempt');

# the shipped file, with loopback for the names nginx would resolve
{
    my $conf = do {
        open my $fh, '<', Q2api::Nginx->root . '/conf/q2api_backends.conf'
            or die "q2api_backends.conf: $!";
        local $/;
        <$fh>;
    };
    my $names = () = $conf =~ /^upstream (\S+) \{/mg;
    cmp_ok($names, '>=', 4, "the file names $names hosts");
    $conf =~ s/^(\s*server )\S+:443;/${1}127.0.0.1:443;/mg;

    my $n = Q2api::Nginx->new(workers => 1, http => $conf, server => '');
    $n->write_file('conf/nginx.conf', $n->config);
    my $p = $n->prefix;
    my $out = `$n->{binary} -t -p $p/ -c $p/conf/nginx.conf 2>&1`;
    like($out, qr/syntax is ok/, 'conf/q2api_backends.conf is valid nginx')
        or diag($out);
}

$mock->stop;

done_testing();
