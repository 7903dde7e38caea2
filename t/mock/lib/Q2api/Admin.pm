package Q2api::Admin;

# What the admin API suites share: the http{} settings pointing every
# service at the mock, the admin locations, the password, and helpers the
# blocks call as main::NAME.
#
#   use Q2api::Admin qw(api stored);     # installs main::api, main::stored
#   our $HTTP = $Q2api::Admin::HTTP;     # for "--- http_config eval: $::HTTP"
#
# Helpers: accounts(ID or ROW, ...) a "--- user_files" accounts.json;
# stored() the accounts file as the store last wrote it; error_log() the
# error log so far; api(METHOD, PATH, BODY, PASSWORD) one request to the
# server under test; mint(SECRET, PASSWORD, EXPIRES) a session token;
# paths(REQUESTS) the mock records as paths, chats as "chat:TOKEN".

use strict;
use warnings;

use Carp qw(croak);
use Digest::SHA qw(sha256 hmac_sha256);
use HTTP::Tiny ();
use JSON::PP ();
use MIME::Base64 qw(encode_base64url);

our $HTTP = <<'_EOC_';
    q2api_zone q2api 8m;
    q2api_store file html/accounts.json;
    q2api_store_interval 100ms;
    q2api_amazonq_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT/;
    q2api_oidc_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    q2api_kiro_auth_url http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
_EOC_

our $ADMIN = <<'_EOC_';
    location /v1/messages {
        q2api_pass claude;
    }

    location / {
        q2api_admin;
        q2api_admin_password admin-password-1;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
_EOC_

# a known session secret: tests can mint tokens as another node would
our $SECRET = <<'_EOC_';
    location /v1/messages {
        q2api_pass claude;
    }

    location / {
        q2api_admin;
        q2api_admin_password admin-password-1;
        q2api_admin_secret this-is-the-session-secret;
        q2api_admin_login_limit 3 60s;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
_EOC_

our $AUTH = "Authorization: Bearer admin-password-1";

our $CHAT = '{"model":"claude-sonnet-4-5","max_tokens":10,'
          . '"messages":[{"role":"user","content":"hi"}]}';

my $J = JSON::PP->new->utf8->canonical;

my %HELPERS = (
    accounts => \&accounts, stored => \&stored, error_log => \&error_log,
    api => \&api, mint => \&mint, paths => \&paths,
);

sub import {
    my ($class, @names) = @_;
    no strict 'refs';
    for my $name (@names) {
        my $f = $HELPERS{$name} or croak "Q2api::Admin has no helper $name";
        *{"main::$name"} = $f;
    }
}

sub accounts {
    my @a = map { ref $_ ? $_ : { id => $_, accessToken => "tok-$_", enabled => 1 } } @_;
    return ">>> accounts.json\n" . $J->encode(\@a) . "\n";
}

# a pause first: the store writes every q2api_store_interval
sub stored {
    select(undef, undef, undef, 0.6);
    my $f = main::server_root() . '/html/accounts.json';
    open my $fh, '<', $f or die "$f: $!";
    local $/;
    my $j = $J->decode(<$fh>);
    return { map { $_->{id} => $_ } @{ ref $j eq 'HASH' ? $j->{accounts} : $j } };
}

sub error_log {
    my $f = main::server_root() . '/logs/error.log';
    open my $fh, '<', $f or die "$f: $!";
    local $/;
    return scalar <$fh>;
}

# (status, decoded JSON or text, headers)
sub api {
    my ($method, $path, $body, $auth) = @_;
    my %h;
    $h{authorization} = "Bearer $auth" if defined $auth;
    my $res = HTTP::Tiny->new(timeout => 20)->request($method,
        'http://127.0.0.1:' . main::server_port() . $path,
        { headers => \%h, defined $body ? (content => $body) : () });
    my $data = eval { $J->decode($res->{content}) } // $res->{content};
    return ($res->{status}, $data, $res->{headers});
}

# a session token as the module makes one, for a known secret
sub mint {
    my ($secret, $password, $expires) = @_;
    my $key = hmac_sha256('q2api admin session v1' . sha256($password), $secret);
    my $payload = "q2a1.$expires.0123456789abcdef";
    return "$payload." . encode_base64url(hmac_sha256($payload, $key));
}

sub paths {
    my ($reqs) = @_;
    return [ map { $_->{path} eq '/'
                   ? 'chat:' . ($_->{headers}{authorization} =~ s/^Bearer //r)
                   : $_->{path} } @$reqs ];
}

1;
