# Fifty simultaneous requests on an account whose token expired: exactly
# one refresh call, across two workers; every request is served with the
# new token.

use strict;
use warnings;

use Test::More;
use JSON::PP ();
use POSIX ();

use Q2api::Mock;
use Q2api::Mock::AmazonQ qw(:builders);
use Q2api::Nginx;

my $mock = Q2api::Mock->new;
$mock->start;
$mock->set_script({
    by_path => { '/token' => [ { delay_ms => 800,
                                 json => { accessToken => 'tok-new',
                                           refreshToken => 'ref-new',
                                           expiresIn => 3600 } } ] },
    by_token => { 'tok-new' => [ text_response('ok') ] },
});
my $mport = $mock->port;

my $n = Q2api::Nginx->new(workers => 2, http => <<"_EOC_", server => <<'_EOC_');
    q2api_zone q2api 8m;
    q2api_store file accounts.json;
    q2api_store_interval 100ms;
    q2api_amazonq_url http://127.0.0.1:$mport/;
    q2api_oidc_url http://127.0.0.1:$mport;
_EOC_
        location /v1/ {
            q2api_pass claude;
        }
_EOC_

$n->write_file('accounts.json', JSON::PP->new->encode([
    { id => 'acc', accessToken => 'tok-old', refreshToken => 'ref-old',
      clientId => 'c', clientSecret => 's', expires_at => time - 60 } ]));
$n->start;

my $body = '{"model":"claude-sonnet-4-5","max_tokens":10,'
         . '"messages":[{"role":"user","content":"hi"}]}';

# fifty clients at once
my @kids;
for my $i (1 .. 50) {
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        my $res = $n->post('/v1/messages', $body);
        POSIX::_exit($res->{status} == 200 ? 0 : 1);
    }
    push @kids, $pid;
}

my $ok = 0;
for my $pid (@kids) {
    waitpid $pid, 0;
    $ok++ if $? == 0;
}

is($ok, 50, 'all fifty requests served');

my @reqs = $mock->requests;
my @refresh = grep { $_->{path} eq '/token' } @reqs;
my @chat = grep { $_->{path} eq '/' } @reqs;

is(scalar @refresh, 1, 'exactly one refresh call');
is(scalar @chat, 50, 'fifty chat calls');
is(scalar(grep { $_->{headers}{authorization} eq 'Bearer tok-new' } @chat),
   50, 'all with the new token');

$n->stop;
$mock->stop;

done_testing();
