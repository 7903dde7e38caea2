# The account pool shared by several worker processes: affinity and
# counters hold across workers, because both live in the shared zone.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;
use JSON::PP ();

master_on();
workers(2);
repeat_each(1);
no_shuffle();

sub main::accounts {
    my @a = map { { id => $_, accessToken => "tok-$_", enabled => 1 } } @_;
    return ">>> accounts.json\n" . JSON::PP->new->encode(\@a) . "\n";
}

sub main::tokens {
    my ($reqs) = @_;
    return [ map { $_->{headers}{authorization} =~ s/^Bearer tok-//r } @$reqs ];
}

run_tests();

__DATA__

=== TEST 1: affinity: a Claude Code session keeps its account, across workers
--- config
    location /v1/ {
        q2api_select affinity;
        q2api_pass claude;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
--- user_files eval: main::accounts(map { "acc$_" } 1 .. 8)
--- request eval
my $b = q{{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}};
[("POST /v1/messages\n$b") x 10]
--- more_headers
X-Claude-Code-Session-Id: 8df5fcdb-0000-4000-8000-000000000001
--- error_code eval
[(200) x 10]
--- mock_check eval
sub {
    my ($reqs) = @_;
    push @main::aff, @{ main::tokens($reqs) };
    return if @main::aff < 10;
    my %n;
    $n{$_}++ for @main::aff;
    is(scalar keys %n, 1, 'one account for the whole session');
}




=== TEST 2: several sessions spread, each keeping its own account
--- config
    location /v1/ {
        q2api_select affinity;
        q2api_pass claude;
    }

    include $TEST_NGINX_Q2API_CONF/q2api_upstream.conf;
--- user_files eval: main::accounts(map { "acc$_" } 1 .. 8)
--- request eval
my $b = q{{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}};
[("POST /v1/messages\n$b") x 12]
--- more_headers eval
[ map { "X-Claude-Code-Session-Id: session-" . ($_ % 4) } 0 .. 11 ]
--- error_code eval
[(200) x 12]
--- mock_check eval
sub {
    my ($reqs) = @_;
    push @main::s2, @{ main::tokens($reqs) };
    return if @main::s2 < 12;
    my %by;
    push @{ $by{$_ % 4} }, $main::s2[$_] for 0 .. 11;
    for my $s (0 .. 3) {
        my %n = map { $_ => 1 } @{ $by{$s} };
        is(scalar keys %n, 1, "session $s kept one account");
    }
}
