#!/usr/bin/perl

# tools/q2api-gemini-login, the credential tool for servers without a
# browser, against the mock as Google's token endpoint and as the admin
# API (both answer plain JSON: by_path scripts).  Each run is driven as a
# person would: the authorisation URL read from its stderr, the redirect
# URL written to its stdin.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
my $ROOT;
BEGIN { $ROOT = abs_path(dirname(abs_path(__FILE__)) . '/..') }
use lib "$ROOT/t/mock/lib";

use Digest::SHA qw(sha256);
use IO::Select;
use IPC::Open3 qw(open3);
use JSON::PP ();
use MIME::Base64 qw(encode_base64url);
use Symbol qw(gensym);
use Test::More;
use URI::Escape qw(uri_escape uri_unescape);

use Q2api::Mock;
use Q2api::Node qw(which missing);

my $TOOL = "$ROOT/tools/q2api-gemini-login";
which('curl') or missing('curl is not installed');
which('openssl') or missing('openssl is not installed');

my $CLI_ID = '681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com';
my $AG_ID = '1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com';
my $JSON = JSON::PP->new->utf8->canonical;

sub jwt {
    my ($claims) = @_;
    return join '.', encode_base64url('{"alg":"RS256","typ":"JWT"}'),
        encode_base64url($JSON->encode($claims)), encode_base64url('sig');
}

my $ID_TOKEN = jwt({ sub => '112233445566778899', email => 'donor@example.com',
                     iss => 'https://accounts.google.com' });
my %TOKENS = (access_token => 'ya29.a0-access_TOKEN', expires_in => 3599,
              refresh_token => '1//0refresh-TOKEN_x', token_type => 'Bearer',
              scope => 'https://www.googleapis.com/auth/cloud-platform',
              id_token => $ID_TOKEN);

my $mock = Q2api::Mock->new(watch_parent => 1);
$mock->start;
my $port = $mock->port;
my $TOKEN_URL = "http://127.0.0.1:$port/token";

sub script {
    my (%by_path) = @_;
    $mock->reset;
    $mock->set_script({ by_path => \%by_path });
}

sub form {
    my ($body) = @_;
    return { map { my ($k, $v) = split /=/, $_, 2; ($k => uri_unescape($v)) }
             split /&/, $body };
}

# Runs the tool with @args; $answer gets the authorisation URL it printed
# and returns the line to paste (undef: close stdin unanswered).
# Returns {rc, out, err, url}.
sub login {
    my ($answer, @args) = @_;
    local $ENV{Q2API_GOOGLE_TOKEN_URL} = $TOKEN_URL;
    my $err = gensym;
    my $pid = open3(my $in, my $out, $err, $TOOL, @args);
    my ($url, $errtext, $outtext) = (undef, '', '');
    my $sel = IO::Select->new($err, $out);
    my $deadline = time + 30;
    while ($sel->count && time < $deadline) {
        for my $fh ($sel->can_read(1)) {
            my $n = sysread($fh, my $buf, 65536);
            if (!$n) {
                $sel->remove($fh);
                next;
            }
            if ($fh == $out) {
                $outtext .= $buf;
                next;
            }
            $errtext .= $buf;
            if (!defined $url && $errtext =~ m{^(https?://\S+\?\S+)$}m) {
                $url = $1;
                my $line = $answer->($url);
                print {$in} "$line\n" if defined $line;
                close $in;
            }
        }
    }
    close $in if !defined $url;
    waitpid $pid, 0;
    return { rc => $? >> 8, out => $outtext, err => $errtext, url => $url };
}

sub query_of {
    my ($url) = @_;
    my ($q) = $url =~ /\?(.*)$/;
    return form($q);
}

sub callback {
    my ($redirect, %p) = @_;
    return "$redirect?" . join '&', map { "$_=" . uri_escape($p{$_}) } sort keys %p;
}

# --- the gemini-cli flavour, all the way -----------------------------------

script('/token' => [ { json => \%TOKENS } ]);
my $r = login(sub {
    my $q = query_of($_[0]);
    return callback($q->{redirect_uri}, state => $q->{state},
                    code => '4/0AeanS-code_x.y~z', scope => 'email');
});
is($r->{rc}, 0, 'gemini-cli: exit 0') or diag($r->{err});
my $auth = query_of($r->{url} // '');
like($r->{url}, qr{^https://accounts\.google\.com/o/oauth2/v2/auth\?},
     "Google's authorisation endpoint");
is($auth->{client_id}, $CLI_ID, "gemini-cli's public client");
is($auth->{scope}, join(' ', 'openid', map { "https://www.googleapis.com/auth/$_" }
                        qw(cloud-platform userinfo.email userinfo.profile)),
   "gemini-cli's scopes, and openid for the id token");
is($auth->{redirect_uri}, 'http://127.0.0.1:8085/oauth2callback', 'a loopback redirect');
like($auth->{state}, qr/^[0-9a-f]{64}$/, 'state: 32 random bytes in hex');
is($auth->{code_challenge_method}, 'S256', 'PKCE S256');
like($auth->{code_challenge}, qr/^[A-Za-z0-9_-]{43}$/, 'a base64url SHA-256 challenge');
is($auth->{access_type}, 'offline', 'offline access (a refresh token)');
is($auth->{prompt}, 'consent', 'consent asked again, so a refresh token comes every time');
like($r->{err}, qr/breach of its terms/, 'the warning is printed');

my @reqs = $mock->requests;
is(scalar @reqs, 1, 'one request to the token endpoint');
my $f = form($reqs[0]{body} // '');
is($reqs[0]{method}, 'POST', 'POST');
is($reqs[0]{path}, '/token', 'to the token URL');
like($reqs[0]{headers}{'content-type'}, qr{^application/x-www-form-urlencoded},
     'form-encoded');
is($f->{grant_type}, 'authorization_code', 'authorization_code grant');
is($f->{code}, '4/0AeanS-code_x.y~z', 'the pasted code, decoded');
is($f->{redirect_uri}, $auth->{redirect_uri}, 'the same redirect_uri');
is($f->{client_id}, $CLI_ID, 'client_id');
like($f->{client_secret}, qr/^GOCSPX-/, 'client_secret in the body');
is(encode_base64url(sha256($f->{code_verifier} // '')), $auth->{code_challenge},
   'the verifier matches the challenge');
like($f->{code_verifier}, qr/^[A-Za-z0-9_-]{43,128}$/, 'a verifier of RFC 7636 characters');

my $row = eval { $JSON->decode($r->{out}) } || {};
is_deeply($row, { id => 'gemini-112233445566778899', type => 'gemini',
                  label => 'donor@example.com',
                  clientId => $CLI_ID,
                  clientSecret => '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',
                  refreshToken => '1//0refresh-TOKEN_x',
                  accessToken => 'ya29.a0-access_TOKEN', enabled => JSON::PP::true },
          "stdout: one row in amq2api's shape, labelled by the e-mail, "
          . "its id the gateway's for that Google subject")
    or diag($r->{out});
like($r->{err}, qr/Google subject 112233445566778899/, 'the subject is named');

# --- what it refuses ----------------------------------------------------------

script('/token' => [ { json => \%TOKENS } ]);
$r = login(sub {
    my $q = query_of($_[0]);
    return callback($q->{redirect_uri}, state => 'f' x 64, code => '4/x');
});
is($r->{rc}, 1, 'a foreign state: exit 1');
like($r->{err}, qr/state mismatch/, 'named');
is(scalar(() = $mock->requests), 0, 'and no code exchanged');

$r = login(sub {
    my $q = query_of($_[0]);
    return callback($q->{redirect_uri}, state => $q->{state},
                    error => 'access_denied', error_description => "User said no\r\n");
});
is($r->{rc}, 1, 'a refusal at Google: exit 1');
like($r->{err}, qr/Google refused: User said no \(access_denied\)$/m, 'named');

$r = login(sub { undef });
is($r->{rc}, 1, 'nothing pasted: exit 1');
like($r->{err}, qr/no redirect URL given/, 'named');

$r = login(sub {
    my $q = query_of($_[0]);
    return callback($q->{redirect_uri}, state => $q->{state}, code => "4/a\"b");
});
is($r->{rc}, 1, 'a code with a quote: exit 1');
like($r->{err}, qr/no valid code/, 'named');

script('/token' => [ { status => 400, json => {
    error => 'invalid_grant', error_description => 'Bad Request' } } ]);
$r = login(sub {
    my $q = query_of($_[0]);
    return callback($q->{redirect_uri}, state => $q->{state}, code => '4/old');
});
is($r->{rc}, 1, "Google's 400: exit 1");
like($r->{err}, qr/token endpoint answered 400: invalid_grant: Bad Request/, 'named');
is($r->{out}, '', 'no row printed');

for my $bad ([ 'no refresh token', { %TOKENS, refresh_token => undef },
               qr/no refresh_token/ ],
             [ 'a quote in the access token',
               { %TOKENS, access_token => "ya29.\"x" }, qr/no usable access_token/ ]) {
    my %t = %{ $bad->[1] };
    delete $t{refresh_token} unless defined $t{refresh_token};
    script('/token' => [ { json => \%t } ]);
    $r = login(sub {
        my $q = query_of($_[0]);
        return callback($q->{redirect_uri}, state => $q->{state}, code => '4/c');
    });
    is($r->{rc}, 1, "$bad->[0]: exit 1");
    like($r->{err}, $bad->[2], "$bad->[0]: named");
}

$r = login(sub { 'x' }, '--flavour', 'vertex');
is($r->{rc}, 2, 'an unknown flavour: exit 2');
like($r->{err}, qr/--flavour: expected gemini-cli or antigravity/, 'named');
$r = login(sub { 'x' }, '--admin', "http://127.0.0.1/a b");
is($r->{rc}, 2, 'an admin URL with a space: exit 2');
$r = login(sub { 'x' }, '--redirect-uri', 'http://evil.example/cb');
is($r->{rc}, 2, 'a redirect that is not loopback: exit 2');
{
    local $ENV{Q2API_GOOGLE_TOKEN_URL} = "http://127.0.0.1:$port/token\r\nX: y";
    my $out = `$TOOL --callback x 2>&1 </dev/null`;
    like($out, qr/--token-url: expected an http\(s\) URL/,
         'a token URL with CR/LF is refused');
}

# --- the Antigravity flavour, added through the admin API ----------------

script('/token' => [ { json => { %TOKENS, id_token => jwt({ sub => '42' }) } } ],
       '/admin/v2/accounts' => [ { status => 201, json => { id => 'acc-7' } },
                                 { status => 400, json => {
                                     detail => "refreshToken: expected\na string" } } ]);
{
    local $ENV{Q2API_ADMIN_PASSWORD} = 'pa"ss\\word';
    $r = login(sub {
        my $q = query_of($_[0]);
        return callback($q->{redirect_uri}, state => $q->{state}, code => '4/ag');
    }, '--flavour', 'antigravity', '--label', 'team "A"',
       '--admin', "http://127.0.0.1:$port/admin");
}
is($r->{rc}, 0, 'antigravity with --admin: exit 0') or diag($r->{err});
$auth = query_of($r->{url} // '');
is($auth->{client_id}, $AG_ID, "Antigravity's public client");
like($auth->{scope}, qr{ https://www\.googleapis\.com/auth/cclog https://www\.googleapis\.com/auth/experimentsandconfigs$},
     "Antigravity's two more scopes");
is($auth->{redirect_uri}, 'http://localhost:51121/oauth-callback', "Antigravity's loopback");
like($r->{err}, qr/Added at \S+: account acc-7/, 'the new id is named');
@reqs = $mock->requests;
is(scalar @reqs, 2, 'the token endpoint, then the admin API');
is($reqs[1]{path}, '/admin/v2/accounts', 'POST admin/v2/accounts');
is($reqs[1]{headers}{authorization}, 'Bearer pa"ss\\word',
   'the password as the bearer token, quotes and all');
my $posted = $reqs[1]{json} || {};
is($posted->{label}, 'team "A"', 'the label given');
is($posted->{clientId}, $AG_ID, 'the client of the flavour');
is($posted->{refreshToken}, '1//0refresh-TOKEN_x', 'the refresh token');
is_deeply(eval { $JSON->decode($r->{out}) }, $posted, 'the same row on stdout');

{
    local $ENV{Q2API_ADMIN_PASSWORD} = 'pw';
    $r = login(sub {
        my $q = query_of($_[0]);
        return callback($q->{redirect_uri}, state => $q->{state}, code => '4/ag');
    }, '--flavour', 'antigravity', '--admin', "http://127.0.0.1:$port/admin/");
}
is($r->{rc}, 1, "the admin API's refusal: exit 1");
like($r->{err}, qr/admin API answered 400: refreshToken: expected\\na string$/m,
     'its words, on one line');

# the same Google account again: its tokens renewed in place
script('/token' => [ { json => { %TOKENS, access_token => 'ya29.again',
                                 refresh_token => '1//0again',
                                 id_token => jwt({ sub => '42' }) } } ],
       '/admin/v2/accounts' => [ { status => 409, json => {
           detail => 'id: an account with this id exists' } } ],
       '/admin/v2/accounts/gemini-42' => [ { json => { id => 'gemini-42' } } ]);
{
    local $ENV{Q2API_ADMIN_PASSWORD} = 'pw';
    $r = login(sub {
        my $q = query_of($_[0]);
        return callback($q->{redirect_uri}, state => $q->{state}, code => '4/again');
    }, '--flavour', 'antigravity', '--admin', "http://127.0.0.1:$port/admin/");
}
is($r->{rc}, 0, 'an account there already: exit 0') or diag($r->{err});
like($r->{err}, qr/Renewed at \S+: account gemini-42/, 'renewed, by name');
@reqs = $mock->requests;
is_deeply([ map { "$_->{method} $_->{path}" } @reqs ],
          [ 'POST /token', 'POST /admin/v2/accounts', 'PATCH /admin/v2/accounts/gemini-42' ],
          'created first, then patched');
is_deeply($reqs[2]{json}, { refreshToken => '1//0again', accessToken => 'ya29.again' },
          'only the new tokens patched (no label given)');

$mock->stop;
done_testing();
