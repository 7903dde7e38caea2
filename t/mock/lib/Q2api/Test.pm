package Q2api::Test;

# Glue between the Amazon Q mock (Q2api::Mock, Q2api::Mock::AmazonQ) and
# Test::Nginx::Socket.
#
#   use Test::Nginx::Socket 'no_plan';
#   use Q2api::Test;      # starts the mock once for this .t file
#
# Exports $ENV{TEST_NGINX_MOCK_PORT} (configs say
# "proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;") and adds these block
# sections:
#
#   --- mock               JSON script (or "--- mock eval": a Perl hashref, or
#                          an arrayref = {responses => [...]}, or a single
#                          RESPONSE); without it: one text response
#                          "Hello from mock".  Written, with the sequence
#                          counters and the records reset, before the block.
#   --- mock_requests: N   upstream requests caused by each request (an eval
#                          arrayref gives one number per request of the block)
#   --- mock_request_like  regexes, one per line (or an eval arrayref), each
#                          matched against the raw body of the last upstream
#                          request of this request
#   --- mock_request_headers
#                          lines "name: value" (exact) or "!name" (absent),
#                          checked on that same last request
#   --- mock_check eval    sub { my ($requests, $block) = @_; ... } with its
#                          own Test::More assertions
#
# "Upstream requests of this request" are the ones recorded since the
# previous check, so several requests per block and repeat_each() work.
# The checks run from add_response_body_check, i.e. not in blocks with
# --- ignore_response.  After the last request of a block (one repetition)
# the sequence counters restart, so each repeat_each() round sees the script
# from its first response.
#
# Only the public API of Test::Nginx::Socket is used (add_block_preprocessor,
# add_response_body_check, add_cleanup_handler), so this works with
# OpenResty's Test::Nginx as with the in-repo one.

use strict;
use warnings;

use Carp qw(croak);
use File::Temp ();
use JSON::PP ();
use Test::More ();

use Q2api::Mock;
use Q2api::Mock::AmazonQ ();
use Q2api::Mock::Google ();

my $MOCK;              # the Q2api::Mock object
my $OWNER_PID;         # the process that started it
my $TMPDIR;            # File::Temp directory object holding the state
my $LAST_SEQ = 0;      # last record seen by a check
my $BLOCK_REQS = 1;    # requests in the current block (one repetition)

sub import {
    my ($class, %opt) = @_;
    my $caller = caller;

    # another mock service: its builders instead of Amazon Q's
    my $service = $opt{service} // 'Q2api::Mock::AmazonQ';
    (my $file = "$service.pm") =~ s{::}{/}g;
    require $file;

    _start($service) unless $MOCK;

    no strict 'refs';
    for my $f (qw(mock mock_requests mock_script mock_reset)) {
        *{"${caller}::$f"} = \&{$f} unless defined &{"${caller}::$f"};
    }
    for my $f (@{"${service}::BUILDERS"}) {
        *{"${caller}::$f"} = \&{"${service}::$f"}
            unless defined &{"${caller}::$f"};
    }

    # "--- foo eval" sections are evaluated by Test::Base's eval filter in
    # the package Test::Base::Filter.  Give that package the builders, the
    # record access and Test::More's assertions, so that "--- mock eval" can
    # say [ text_response('a'), error_response('quota') ] and a
    # "--- mock_check eval" sub can call is() and mock_requests().  Other
    # functions of a .t file are reached as main::name.
    my %inject = (
        (map { ($_ => \&{"${service}::$_"}) } @{"${service}::BUILDERS"}),
        (map { ($_ => \&{"Q2api::Mock::Google::$_"}) }
             @Q2api::Mock::Google::BUILDERS),
        (map { ($_ => \&{"Q2api::Test::$_"}) } qw(mock mock_requests)),
        (map { ($_ => \&{"Test::More::$_"}) }
             qw(ok is isnt like unlike is_deeply cmp_ok pass fail diag note explain)),
    );
    for my $f (sort keys %inject) {
        *{"Test::Base::Filter::$f"} = $inject{$f}
            unless defined &{"Test::Base::Filter::$f"};
    }
}

sub mock { $MOCK }

sub mock_requests { $MOCK ? $MOCK->requests : () }

sub mock_reset {
    $MOCK->reset;
    $LAST_SEQ = 0;
}

# Replaces the script in the middle of a block (or outside of blocks).
sub mock_script {
    my ($script) = @_;
    return $MOCK->set_script($script);
}

sub _tn_function {
    my ($name) = @_;
    require Test::Nginx::Socket;
    my $f = Test::Nginx::Socket->can($name)
        or croak "Test::Nginx::Socket has no $name()";
    return $f;
}

sub _start {
    my ($service) = @_;
    $TMPDIR = File::Temp->newdir('q2api-mock-XXXXXX', TMPDIR => 1);
    $MOCK = Q2api::Mock->new(
        service => $service,
        listen => '127.0.0.1:0',
        state_dir => $TMPDIR->dirname,
        watch_parent => 1,
        verbose => $ENV{Q2API_MOCK_VERBOSE} ? 1 : 0,
    );
    $MOCK->set_script($service->default_script);
    $MOCK->reset;
    $OWNER_PID = $$;
    $MOCK->start;
    $ENV{TEST_NGINX_MOCK_PORT} = $MOCK->port;

    # Called through code refs: add_block_preprocessor has a (&) prototype.
    _tn_function('add_block_preprocessor')->(\&_preprocess);
    _tn_function('add_response_body_check')->(\&_check);
    _tn_function('add_cleanup_handler')->(\&_stop);
}

sub _stop {
    return unless $MOCK && defined $OWNER_PID && $$ == $OWNER_PID;
    $MOCK->stop;
}

END {
    _stop();
}

# Number of requests one repetition of the block sends (the harness calls
# the response body checks once per request).
sub _count_requests {
    my ($block) = @_;
    for my $sec (qw(pipelined_requests request raw_request)) {
        my $v = $block->$sec;
        next unless defined $v;
        return ref $v eq 'ARRAY' ? scalar @$v : 1;
    }
    return 1;
}

sub _preprocess {
    my ($block) = @_;

    my $script = $block->mock;
    $script = $MOCK->service->default_script unless defined $script;

    $MOCK->reset;
    $LAST_SEQ = 0;
    $BLOCK_REQS = _count_requests($block);

    eval { $MOCK->set_script($script); 1 } or do {
        my $err = $@;
        $err =~ s/\s+\z//;
        Test::More::fail($block->name . " - mock script is valid");
        Test::More::diag($err);
        # Make every upstream request of this block fail visibly.
        $MOCK->set_script({ validate => JSON::PP::false,
                            responses => [ { status => 500,
                                             body => "invalid mock script: $err" } ] });
    };
}

sub _value_for {
    my ($v, $req_idx) = @_;
    return $v unless ref $v eq 'ARRAY';
    return $v->[$req_idx];
}

sub _lines {
    my ($v) = @_;
    return @$v if ref $v eq 'ARRAY';
    return grep { /\S/ } map { s/^\s+|\s+$//gr } split /\n/, $v;
}

sub _check {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;

    my @new = grep { $_->{seq} > $LAST_SEQ } $MOCK->requests;
    $LAST_SEQ = $new[-1]{seq} if @new;

    # End of one repetition of the block: restart the sequences.
    $MOCK->reset_counters if $req_idx >= $BLOCK_REQS - 1;

    my $name = $block->name;
    my $tag = "(repeated req $repeated_req_idx, req $req_idx)";
    my $last = $new[-1];

    if (defined(my $want = $block->mock_requests)) {
        $want = _value_for($want, $req_idx);
        if (defined $want) {
            SKIP: {
                Test::More::skip("$name - mock request count - tests skipped due to $dry_run", 1)
                    if $dry_run;
                Test::More::is(scalar @new, $want + 0, "$name - mock request count ok $tag");
            }
        }
    }

    if (defined(my $pats = $block->mock_request_like)) {
        for my $pat (_lines($pats)) {
            SKIP: {
                Test::More::skip("$name - mock_request_like - tests skipped due to $dry_run", 1)
                    if $dry_run;
                if (!$last) {
                    Test::More::fail("$name - mock_request_like - no upstream request $tag");
                    next;
                }
                my $re = ref $pat eq 'Regexp' ? $pat : qr/$pat/s;
                Test::More::like($last->{body}, $re,
                                 "$name - mock request body like $re $tag");
            }
        }
    }

    if (defined(my $hdrs = $block->mock_request_headers)) {
        for my $line (_lines($hdrs)) {
            SKIP: {
                Test::More::skip("$name - mock_request_headers - tests skipped due to $dry_run", 1)
                    if $dry_run;
                if (!$last) {
                    Test::More::fail("$name - mock_request_headers - no upstream request $tag");
                    next;
                }
                if ($line =~ /^!\s*(\S+)$/) {
                    my $h = lc $1;
                    Test::More::ok(!exists $last->{headers}{$h},
                                   "$name - mock request header $h absent $tag")
                        or Test::More::diag("$h: $last->{headers}{$h}");
                } elsif ($line =~ /^([^:\s]+)\s*:\s*(.*)$/) {
                    my ($h, $v) = (lc $1, $2);
                    Test::More::is($last->{headers}{$h}, $v,
                                   "$name - mock request header $h ok $tag");
                } else {
                    Test::More::fail("$name - bad mock_request_headers line: $line");
                }
            }
        }
    }

    if (defined(my $code = $block->mock_check)) {
        SKIP: {
            Test::More::skip("$name - mock_check - tests skipped due to $dry_run", 1)
                if $dry_run;
            $code = _value_for($code, $req_idx);
            if (ref $code ne 'CODE') {
                Test::More::fail("$name - mock_check must be an eval giving a code ref");
                Test::More::diag($code) if defined $code;    # eval's error text
                last SKIP;
            }
            $code->(\@new, $block);
        }
    }
}

1;
