# Twenty simultaneous refreshes of one Gemini account, across two workers:
# one call to Google's token endpoint, every caller answered with the new
# token (the lease machinery the AWS refresh uses).

use strict;
use warnings;

use Test::More;
use JSON::PP ();
use POSIX ();

use Q2api::Mock;
use Q2api::Mock::Google qw(:builders);
use Q2api::Nginx;

my $mock = Q2api::Mock->new;
$mock->start;
$mock->set_script({
    by_path => { '/token' => [ { %{ google_token('ya29.new') }, delay_ms => 800 } ] },
});
my $mport = $mock->port;

my $n = Q2api::Nginx->new(workers => 2, http => <<"_EOC_", server => <<'_EOC_');
    q2api_zone q2api 8m;
    q2api_gemini_quota_interval 0;
    q2api_store file accounts.json;
    q2api_store_interval 100ms;
    q2api_google_oauth_url http://127.0.0.1:$mport;
_EOC_
        location / {
            q2api_admin;
            q2api_admin_password admin-password-1;
        }
_EOC_

$n->write_file('accounts.json', JSON::PP->new->encode([
    { id => 'g', type => 'gemini', accessToken => 'ya29.old',
      refreshToken => '1//0old', expires_at => time - 60 } ]));
$n->start;

my @kids;
for my $i (1 .. 20) {
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        my $res = $n->post('/v2/accounts/g/refresh', '',
                           Authorization => 'Bearer admin-password-1');
        POSIX::_exit($res->{status} == 200 ? 0 : 1);
    }
    push @kids, $pid;
}

my $ok = 0;
for my $pid (@kids) {
    waitpid $pid, 0;
    $ok++ if $? == 0;
}

is($ok, 20, 'all twenty refreshes answered 200');

my @refresh = grep { $_->{path} eq '/token' } $mock->requests;
is(scalar @refresh, 1, 'exactly one call to the token endpoint');

$n->stop;
$mock->stop;

done_testing();
