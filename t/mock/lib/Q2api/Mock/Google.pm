package Q2api::Mock::Google;

# Canned answers of Google's OAuth token endpoint and Code Assist's control
# calls, for "by_path" scripts of the mock (they answer plain JSON):
#
#   use Q2api::Mock::Google qw(:builders);
#   { by_path => { '/token' => [ google_token('ya29.new') ],
#                  '/v1internal:loadCodeAssist' => [ load_code_assist(project => 'p') ] } }
#
# Paths: /token (refresh and code exchange), /v1internal:loadCodeAssist,
# /v1internal:onboardUser, /v1internal/operations/NAME,
# /v1internal:retrieveUserQuota, /v1internal:fetchAvailableModels.
# Shapes as in the reference (gemini.md 1.3, 1.4, 3.1, 3.2, 6.1, 6.3).

use strict;
use warnings;

use Exporter 'import';
use JSON::PP ();
use MIME::Base64 qw(encode_base64url);

our @BUILDERS = qw(google_token google_error id_token load_code_assist
                   ineligible onboard_operation quota_buckets
                   available_models rpc_error form);
our @EXPORT_OK = @BUILDERS;
our %EXPORT_TAGS = (builders => \@BUILDERS);

my $J = JSON::PP->new->canonical;

# a token answer: refresh (no refresh_token unless given) or exchange
sub google_token {
    my ($access, %o) = @_;
    my $json = { access_token => $access, expires_in => $o{expires_in} // 3599,
                 token_type => 'Bearer',
                 scope => 'https://www.googleapis.com/auth/cloud-platform '
                        . 'https://www.googleapis.com/auth/userinfo.email' };
    $json->{refresh_token} = $o{refresh_token} if defined $o{refresh_token};
    $json->{id_token} = $o{id_token} if defined $o{id_token};
    return { json => $json, %{ $o{response} // {} } };
}

# {"error": code, "error_description": text} with a status (400)
sub google_error {
    my ($code, $desc, $status) = @_;
    return { status => $status // 400,
             json => { error => $code, error_description => $desc // $code } };
}

# an unsigned id token with sub and email (the gateway reads, never verifies)
sub id_token {
    my ($sub, $email) = @_;
    my $enc = sub { encode_base64url($J->encode($_[0])) };
    return join '.', $enc->({ alg => 'RS256', typ => 'JWT' }),
        $enc->({ iss => 'https://accounts.google.com', sub => $sub,
                 email => $email, email_verified => JSON::PP::true,
                 exp => time + 3600 }), 'c2lnbmF0dXJl';
}

# loadCodeAssist: project => P (and a current tier), or allowed => [tiers]
# without a current tier (onboarding needed), ineligible => [entries]
sub load_code_assist {
    my (%o) = @_;
    my $json = {};
    if ($o{project}) {
        $json->{currentTier} = { id => $o{tier} // 'free-tier', name => 'Gemini Code Assist for individuals' };
        $json->{cloudaicompanionProject} = $o{project};
    } elsif ($o{current}) {
        $json->{currentTier} = { id => $o{current} };
    }
    $json->{allowedTiers} = $o{allowed} // [ { id => 'free-tier', isDefault => JSON::PP::true },
                                             { id => 'standard-tier', userDefinedCloudaicompanionProject => JSON::PP::true } ];
    $json->{ineligibleTiers} = $o{ineligible} if $o{ineligible};
    $json->{paidTier} = $o{paid} if $o{paid};
    return { json => $json };
}

# one ineligibleTiers entry
sub ineligible {
    my ($reason, %o) = @_;
    return { reasonCode => $reason, reasonMessage => $o{message} // "$reason message",
             tierId => 'free-tier', tierName => 'Gemini Code Assist for individuals',
             ($o{url} ? (validationUrl => $o{url}, validationUrlLinkText => 'Verify') : ()) };
}

# an onboardUser / operations answer: done with a project, or pending
sub onboard_operation {
    my (%o) = @_;
    return { json => { name => $o{name} // 'operations/onboard-1', done => JSON::PP::false } }
        unless $o{project};
    return { json => { name => $o{name} // 'operations/onboard-1', done => JSON::PP::true,
                       response => { '@type' => 'type.googleapis.com/google.internal.cloud.code.v1internal.OnboardUserResponse',
                                     cloudaicompanionProject => { id => $o{project}, name => $o{project} } } } };
}

# retrieveUserQuota: [modelId, fraction, resetTime, amount]...
sub quota_buckets {
    my (@b) = @_;
    return { json => { buckets => [ map {
        { modelId => $_->[0], tokenType => 'REQUESTS', remainingFraction => $_->[1],
          resetTime => $_->[2], (defined $_->[3] ? (remainingAmount => "$_->[3]") : ()) } } @b ] } };
}

# fetchAvailableModels: [id, fraction, resetTime]...
sub available_models {
    my (@m) = @_;
    return { json => { models => { map {
        ($_->[0] => { displayName => "Model $_->[0]", recommended => JSON::PP::true,
                      quotaInfo => { remainingFraction => $_->[1], resetTime => $_->[2] } }) } @m } } };
}

# a Google RPC error, optionally wrapped in a one-element array
sub rpc_error {
    my ($status, $code, $message, %o) = @_;
    my $err = { error => { code => $status, message => $message, status => $code,
                           ($o{details} ? (details => $o{details}) : ()) } };
    return { status => $status, json => $o{array} ? [ $err ] : $err };
}

# a form body as a hash (values decoded)
sub form {
    my ($body) = @_;
    my %f;
    for my $pair (split /&/, $body // '') {
        my ($k, $v) = split /=/, $pair, 2;
        $v //= '';
        $v =~ tr/+/ /;
        $v =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
        $f{$k} = $v;
    }
    return \%f;
}

1;
