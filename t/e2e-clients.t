#!/usr/bin/perl

# End to end: the official Anthropic TypeScript SDK (0.x and 1.x), the
# openai package (all from t/e2e/node_modules) and Claude Code itself
# against a real nginx running the module, with the Amazon Q mock behind it.
#
#   make e2e-deps && prove t/e2e-clients.t
#
# Skips cleanly when node, the npm packages (make e2e-deps), nginx or the
# built module are missing; the Claude Code part skips alone when its
# native binary is not there.
#
# While working on it: Q2API_E2E_KEEP=1 keeps the temporary directory
# (nginx config and logs, mock records, outputs) and prints its path;
# Q2API_E2E_FILES=REGEX runs only the matching t/e2e/*.test.mjs;
# Q2API_E2E_CLAUDE=0 leaves Claude Code out.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
my $ROOT;
BEGIN { $ROOT = abs_path(dirname(abs_path(__FILE__)) . '/..') }
use lib "$ROOT/t/mock/lib";

use File::Path qw(make_path);
use File::Temp ();
use IO::Socket::INET;
use JSON::PP ();
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(time sleep);

use Q2api::Mock;
use Q2api::Node qw(which relay_node_tap slurp missing);
use Q2api::Mock::AmazonQ qw(:builders);

my $E2E = "$ROOT/t/e2e";
my $NGINX = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $MODULE = "$ROOT/build/ngx_http_q2api_module.so";
for (split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '') {
    $MODULE = $_ if m{/ngx_http_q2api_module\.so$};
}
my $KEY = 'e2e-client-key-0123456789';
my $JSON = JSON::PP->new->utf8->canonical;
my $T0 = time;
my $OWNER = $$;
my ($DIR, $MOCK, $NGINX_PID);

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

# --------------------------------------------------------------------------
# What is needed, or skip
# --------------------------------------------------------------------------


my $NODE = which('node')
    or missing('node is not installed (apt-get install nodejs npm)');
my ($node_major) = (`"$NODE" --version 2>/dev/null` // '') =~ /^v(\d+)\./;
missing("node >= 18 is needed, found " . ($node_major // 'none'))
    unless $node_major && $node_major >= 18;
chomp(my $node_version = `"$NODE" --version`);
for my $p (qw(anthropic-sdk-0 anthropic-sdk-1 openai)) {
    missing("t/e2e/node_modules/$p is missing: run make e2e-deps "
            . "(npm ci --prefix t/e2e)")
        unless -f "$E2E/node_modules/$p/package.json";
}
missing("$NGINX is not executable") unless -x $NGINX;
missing("$MODULE is missing: run make") unless -f $MODULE;

# --------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------

my $KEEP = $ENV{Q2API_E2E_KEEP};
my $TMP = File::Temp->newdir('q2api-e2e-XXXXXX', TMPDIR => 1,
                             CLEANUP => !$KEEP);
$DIR = $TMP->dirname;

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        or die "cannot bind a loopback port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

sub wait_port {
    my ($port, $secs) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) {
        my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Proto => 'tcp');
        if ($c) {
            close $c;
            return 1;
        }
        sleep 0.05;
    }
    return 0;
}

sub spew {
    my ($file, $data) = @_;
    open my $fh, '>:raw', $file or die "cannot write $file: $!";
    print {$fh} $data;
    close $fh or die "cannot write $file: $!";
}

# Runs a command (Q2api::Node::run_cmd), its files in $DIR.
sub run_cmd { return Q2api::Node::run_cmd(dir => $DIR, @_) }

sub stop_gateway {
    return unless $NGINX_PID;
    kill 'TERM', $NGINX_PID;
    my $deadline = time + 5;
    while (time < $deadline && waitpid($NGINX_PID, WNOHANG) == 0) {
        sleep 0.02;
    }
    if (kill 0, $NGINX_PID) {
        kill 'KILL', $NGINX_PID;
        waitpid($NGINX_PID, 0);
    }
    undef $NGINX_PID;
}

sub stop_all {
    return unless $$ == $OWNER;
    stop_gateway();
    $MOCK->stop if $MOCK;
    undef $MOCK;
}

END {
    stop_all();
    if ($KEEP && $DIR && $$ == $OWNER) {
        print STDERR "# q2api e2e: kept $DIR\n";
    }
}
$SIG{INT} = $SIG{TERM} = sub { stop_all(); exit 130 };

# --------------------------------------------------------------------------
# The mock and the gateway
# --------------------------------------------------------------------------

$MOCK = Q2api::Mock->new(listen => '127.0.0.1:0', state_dir => "$DIR/mock",
                         watch_parent => 1);
$MOCK->set_script(default_script());
$MOCK->reset;
$MOCK->start;
my $MOCK_PORT = $MOCK->port;

my $PORT = free_port();
my $DEAD_PORT = free_port();    # nothing listens there
my $PREFIX = "$DIR/nginx";
make_path("$PREFIX/conf", "$PREFIX/logs");

# Root would hand the workers to "nobody", who cannot enter the 0700
# temporary directory.
my $USER = $> == 0 ? 'user root;' : '';

spew("$PREFIX/conf/nginx.conf", <<"_EOC_");
load_module $MODULE;

$USER
daemon off;
master_process on;
worker_processes 1;
error_log logs/error.log info;
pid logs/nginx.pid;

events {
    worker_connections 256;
}

http {
    log_format e2e escape=json '{"uri":"\$request_uri","method":"\$request_method",'
        '"status":"\$status","ctype":"\$sent_http_content_type",'
        '"ua":"\$http_user_agent","version":"\$http_anthropic_version",'
        '"beta":"\$http_anthropic_beta","x_api_key":"\$http_x_api_key",'
        '"authorization":"\$http_authorization",'
        '"session":"\$http_x_claude_code_session_id",'
        '"retry_count":"\$http_x_stainless_retry_count",'
        '"stainless_timeout":"\$http_x_stainless_timeout",'
        '"attempts":"\$q2api_attempts","account":"\$q2api_account"}';
    access_log logs/access.log e2e;

    client_body_temp_path client_body_temp;
    proxy_temp_path proxy_temp;
    fastcgi_temp_path fastcgi_temp;
    uwsgi_temp_path uwsgi_temp;
    scgi_temp_path scgi_temp;

    q2api_zone q2api 4m;
    q2api_store file $PREFIX/accounts.json;
    q2api_amazonq_url http://127.0.0.1:$MOCK_PORT/;
    q2api_api_key $KEY;
    q2api_ping_interval 1s;

    server {
        listen 127.0.0.1:$PORT;
        # as conf/nginx.conf: LLM requests carry whole conversations
        client_max_body_size 32m;
        client_body_buffer_size 1m;

        location /v1/ {
            q2api_pass claude;
        }

        # Claude Code asks for claude-opus-5-5 by default
        location /cc/v1/ {
            q2api_default_model claude-sonnet-4.5;
            q2api_pass claude;
        }

        location /small/v1/ {
            client_max_body_size 1k;
            q2api_pass claude;
        }

        location /down/v1/ {
            q2api_amazonq_url http://127.0.0.1:$DEAD_PORT/;
            q2api_pass claude;
        }

        include $ROOT/conf/q2api_upstream.conf;
    }
}
_EOC_

my $check = run_cmd(cmd => [$NGINX, '-p', "$PREFIX/", '-c', 'conf/nginx.conf', '-t'],
                    timeout => 20);
if ($check->{rc} != 0) {
    stop_all();
    BAIL_OUT("nginx -t failed:\n$check->{err}");
}

# A gateway with a fresh pool: the account pool keeps each account's health
# (a suspension, a cooldown) in its shared memory zone and writes it back
# to accounts.json, so tests that hurt the one account start a new nginx
# on a new accounts.json.  Returns an error text, or '' when it listens.
sub start_gateway {
    spew("$PREFIX/accounts.json",
         qq{[{"id":"acc-1","accessToken":"tok-1","enabled":1}]\n});
    $NGINX_PID = fork // die "fork: $!";
    if ($NGINX_PID == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$PREFIX/logs/stdout.log";
        open STDERR, '>>', "$PREFIX/logs/stderr.log";
        { exec $NGINX, '-p', "$PREFIX/", '-c', 'conf/nginx.conf' };
        print STDERR "exec $NGINX: $!\n";
        POSIX::_exit(127);
    }
    return '' if wait_port($PORT, 10);
    return "nginx does not listen on 127.0.0.1:$PORT:\n"
         . slurp("$PREFIX/logs/error.log") . slurp("$PREFIX/logs/stderr.log");
}

my $RESTARTS = 0;
sub restart_gateway {
    stop_gateway();
    $RESTARTS++;
    return start_gateway();
}

if (my $err = start_gateway()) {
    stop_all();
    BAIL_OUT($err);
}

# The node side asks for a fresh gateway by creating CONTROL/restart-*; the
# file is removed once the new nginx listens (restart-*.failed says why
# not).
my $CONTROL = "$DIR/control";
make_path($CONTROL);
sub serve_control {
    for my $req (sort glob("$CONTROL/restart-*")) {
        next if $req =~ /\.failed$/;
        my $err = restart_gateway();
        spew("$req.failed", $err) if $err;
        unlink $req;
    }
}

my $GATEWAY = "http://127.0.0.1:$PORT";
note("node $node_version, " . `"$NGINX" -v 2>&1`);
diag("gateway $GATEWAY, mock 127.0.0.1:$MOCK_PORT, $DIR") if $KEEP;

sub access_log {
    return map { $JSON->decode($_) } grep { /\S/ } split /\n/,
        slurp("$PREFIX/logs/access.log");
}

sub error_log_tail {
    my $log = slurp("$PREFIX/logs/error.log");
    my @l = split /\n/, $log;
    return join "\n", @l > 40 ? @l[-40 .. -1] : @l;
}

# --------------------------------------------------------------------------
# The SDK suites: node --test-reporter=tap FILE, one file at a time (they
# share the mock), one ok per test
# --------------------------------------------------------------------------

# node --test TAP relayed as Test::More results: Q2api::Node::relay_node_tap

my @files = grep { !defined $ENV{Q2API_E2E_FILES} || /$ENV{Q2API_E2E_FILES}/ }
            sort glob("$E2E/*.test.mjs");
ok(scalar @files, 'there are t/e2e/*.test.mjs files');

my %node_env = (
    %ENV,
    GATEWAY_URL => $GATEWAY,
    GATEWAY_KEY => $KEY,
    MOCK_STATE_DIR => $MOCK->state_dir,
    GATEWAY_CONTROL_DIR => $CONTROL,
    NODE_NO_WARNINGS => 1,
);
delete @node_env{qw(ANTHROPIC_API_KEY ANTHROPIC_AUTH_TOKEN ANTHROPIC_BASE_URL
                    NODE_OPTIONS)};

for my $path (@files) {
    (my $file = $path) =~ s{.*/}{};
    $MOCK->reset;
    if (my $err = restart_gateway()) {
        BAIL_OUT($err);
    }
    my $r = run_cmd(cmd => [$NODE, '--test-reporter=tap', $path],
                    env => \%node_env, cwd => $E2E, timeout => 120,
                    poll => \&serve_control);
    my ($count, $failed) = relay_node_tap($file, $r->{out});
    if ($r->{timed_out}) {
        fail("$file finished within 120 s");
    } elsif ($r->{rc} != 0 && !$failed) {
        fail("$file: node exited with $r->{rc}");
    }
    ok($count > 0, "$file ran tests") unless $r->{rc} != 0 && !$count && $failed;
    if ($r->{rc} != 0 || !$count) {
        diag("node stderr:\n$r->{err}") if $r->{err} =~ /\S/;
        diag("gateway error.log (tail):\n" . error_log_tail());
    }
}

# --------------------------------------------------------------------------
# Claude Code
# --------------------------------------------------------------------------

# The native binary: bin/claude.exe once the postinstall script has copied
# it from the platform package; else the platform package itself.
sub claude_binary {
    my $pkg = "$E2E/node_modules/\@anthropic-ai/claude-code";
    return (undef, "$pkg is not installed (make e2e-deps)") unless -d $pkg;
    my $bin = "$pkg/bin/claude.exe";
    return ($bin, undef) if -x $bin && -s $bin > 65536;
    my $arch = { x86_64 => 'x64', aarch64 => 'arm64' }->{ (POSIX::uname())[4] };
    return (undef, "no Claude Code native binary for " . (POSIX::uname())[4])
        unless $arch;
    my $alt = "$E2E/node_modules/\@anthropic-ai/claude-code-linux-$arch/claude";
    return ($alt, undef) if -x $alt;
    return (undef, "the native binary is missing: the optional package "
                 . "\@anthropic-ai/claude-code-linux-$arch was not installed "
                 . "(npm --omit=optional?) and bin/claude.exe is the stub");
}

my ($CLAUDE, $why_not) = claude_binary();
($CLAUDE, $why_not) = (undef, 'Q2API_E2E_CLAUDE=0')
    if defined $ENV{Q2API_E2E_CLAUDE} && !$ENV{Q2API_E2E_CLAUDE};
my $HOME = "$DIR/home";
my $WORK = "$DIR/work";
make_path($HOME, $WORK);

my %CC_ENV = (
    PATH => '/usr/local/bin:/usr/bin:/bin',
    HOME => $HOME,
    TERM => 'dumb',
    LANG => 'C.UTF-8',
    ANTHROPIC_BASE_URL => "$GATEWAY/cc",
    ANTHROPIC_API_KEY => $KEY,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC => 1,
    CLAUDE_CODE_MAX_RETRIES => 1,
);

if ($CLAUDE) {
    my $v = run_cmd(cmd => [$CLAUDE, '--version'], env => \%CC_ENV,
                    cwd => $WORK, timeout => 60);
    if ($v->{rc} != 0 || $v->{out} !~ /\b2\.\d+\.\d+/) {
        $why_not = "claude --version failed (rc $v->{rc}): $v->{err}$v->{out}";
        undef $CLAUDE;
    }
}

# One claude -p run: returns the run_cmd result, plus {json} for
# --output-format json, {lines} for stream-json, and the access log lines
# and upstream requests it caused.
sub claude {
    my (%opt) = @_;
    $MOCK->set_script($opt{script});
    $MOCK->reset;
    if (my $err = restart_gateway()) {
        BAIL_OUT($err);
    }
    truncate "$PREFIX/logs/access.log", 0;
    my %env = (%CC_ENV, %{ $opt{env} || {} });
    delete @env{ grep { !defined $env{$_} } keys %env };
    my $r = run_cmd(cmd => [$CLAUDE, '-p', $opt{prompt}, @{ $opt{args} || [] }],
                    env => \%env, cwd => $WORK, timeout => $opt{timeout} // 90);
    if (grep { $_ eq 'stream-json' } @{ $opt{args} || [] }) {
        $r->{lines} = [ map { eval { $JSON->decode($_) } // { unparsed => $_ } }
                        grep { /\S/ } split /\n/, $r->{out} ];
        ($r->{json}) = grep { ($_->{type} // '') eq 'result' } @{ $r->{lines} };
    } else {
        $r->{json} = eval { $JSON->decode($r->{out}) };
    }
    $r->{all_log} = [ access_log() ];
    $r->{log} = [ grep { $_->{uri} =~ m{/messages} } @{ $r->{all_log} } ];
    $r->{up} = [ $MOCK->requests ];
    return $r;
}

sub show {
    my ($r) = @_;
    diag("claude rc $r->{rc} in " . sprintf('%.1f s', $r->{secs})
         . ($r->{timed_out} ? ' (timed out)' : ''));
    diag("stdout: " . substr($r->{out}, 0, 3000));
    diag("stderr: " . substr($r->{err}, 0, 3000)) if $r->{err} =~ /\S/;
    diag("access log: " . $JSON->encode($r->{log}));
    diag("gateway error.log (tail):\n" . error_log_tail());
}

sub up_input {
    my ($rec) = @_;
    return $rec->{json}{conversationState}{currentMessage}{userInputMessage} // {};
}

SKIP: {
    # under CI only an explicit Q2API_E2E_CLAUDE=0 may leave it out
    fail("Claude Code cannot run under CI: $why_not")
        if !$CLAUDE && ($ENV{CI} // '') eq 'true'
           && $why_not ne 'Q2API_E2E_CLAUDE=0';
    skip("Claude Code: $why_not", 1) unless $CLAUDE;

    # (a) a plain answer; x-api-key, headers, session id, the default model
    {
        my $text = 'Hello from the mocked Amazon Q, through nginx.';
        my $r = claude(script => [ text_response('Hello from the mocked ',
                                                 'Amazon Q, through nginx.') ],
                       prompt => 'say hello', args => ['--output-format', 'json']);
        my $j = $r->{json} // {};
        my $ok = is($r->{rc}, 0, 'claude: plain answer exits 0');
        $ok &= is($j->{is_error}, JSON::PP::false, 'claude: is_error false');
        $ok &= is($j->{result}, $text, "claude: result is the mock's text");
        $ok &= is(scalar @{ $r->{up} }, 1, 'claude: one upstream request');
        $ok &= is(scalar @{ $r->{log} }, 1, 'claude: one client request');
        my $l = $r->{log}[0] // {};
        $ok &= is($l->{method} . ' ' . $l->{uri}, 'POST /cc/v1/messages?beta=true',
                  'claude: POST /v1/messages?beta=true');
        $ok &= is($l->{ctype}, 'text/event-stream', 'claude: answered as a stream');
        $ok &= like($l->{ua}, qr{^claude-cli/2\.}, 'claude: user-agent claude-cli/');
        $ok &= is($l->{version}, '2023-06-01', 'claude: anthropic-version 2023-06-01');
        $ok &= like($l->{beta}, qr/\bclaude-code-20250219\b/, 'claude: anthropic-beta');
        $ok &= is($l->{x_api_key}, $KEY, 'claude: ANTHROPIC_API_KEY sent as x-api-key');
        $ok &= is($l->{authorization}, '', 'claude: no Authorization with an API key');
        $ok &= is($l->{session}, $j->{session_id},
                  'claude: X-Claude-Code-Session-Id is the session_id');
        my $u = $r->{up}[0] // {};
        $ok &= is($u->{headers}{authorization}, 'Bearer tok-1',
                  'claude: upstream carries the account token');
        $ok &= is($u->{headers}{'x-amz-target'},
                  'AmazonCodeWhispererStreamingService.GenerateAssistantResponse',
                  'claude: upstream x-amz-target');
        $ok &= ok(!exists $u->{headers}{'x-api-key'}, 'claude: client key not forwarded');
        $ok &= is(up_input($u)->{modelId}, 'claude-sonnet-4.5',
                  "claude: its default model maps to q2api_default_model");
        $ok &= like(up_input($u)->{content} // '', qr/say hello/,
                    'claude: the prompt reaches Amazon Q');
        show($r) unless $ok;
    }

    # ANTHROPIC_AUTH_TOKEN as Bearer; ANTHROPIC_MODEL verbatim; gateway
    # model discovery
    {
        my $r = claude(script => [ text_response('token ok') ],
                       prompt => 'hi', args => ['--output-format', 'json'],
                       env => { ANTHROPIC_API_KEY => undef,
                                ANTHROPIC_AUTH_TOKEN => $KEY,
                                ANTHROPIC_MODEL => 'claude-haiku-4-5',
                                CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY => 1 });
        my $j = $r->{json} // {};
        my $l = $r->{log}[0] // {};
        my $ok = is($r->{rc}, 0, 'claude: ANTHROPIC_AUTH_TOKEN run exits 0');
        $ok &= is($j->{result}, 'token ok', 'claude: ANTHROPIC_AUTH_TOKEN result');
        $ok &= is($l->{authorization}, "Bearer $KEY",
                  'claude: ANTHROPIC_AUTH_TOKEN sent as Authorization: Bearer');
        $ok &= is($l->{x_api_key}, '', 'claude: no x-api-key with an auth token');
        $ok &= is_deeply([ sort keys %{ $j->{modelUsage} || {} } ], ['claude-haiku-4-5'],
                         'claude: ANTHROPIC_MODEL sent and echoed verbatim');
        $ok &= is(up_input($r->{up}[0])->{modelId}, 'claude-haiku-4.5',
                  'claude: ANTHROPIC_MODEL mapped to the Amazon Q id');
        my @disc = grep { $_->{uri} =~ m{/models} } @{ $r->{all_log} };
        $ok &= is_deeply([ map { "$_->{method} $_->{uri} $_->{status}" } @disc ],
                         ['GET /cc/v1/models?limit=1000 200'],
                         'claude: model discovery GET /v1/models?limit=1000 answered');
        show($r) unless $ok;
    }

    # (b) a tool round trip through Bash
    {
        my $r = claude(
            script => [
                tool_response(text => ['Running the probe.'],
                              id => 'tooluse_probe0001', name => 'Bash',
                              fragments => ['', '{"comm', 'and": "echo PRO',
                                            'BE_OUT"}']),
                text_response('done'),
            ],
            prompt => 'run the probe',
            args => ['--output-format', 'json', '--allowedTools', 'Bash',
                     '--max-turns', '3']);
        my $j = $r->{json} // {};
        my $ok = is($r->{rc}, 0, 'claude tool: exits 0');
        $ok &= is($j->{is_error}, JSON::PP::false, 'claude tool: is_error false');
        $ok &= cmp_ok($j->{num_turns} // 0, '>=', 2, 'claude tool: num_turns >= 2');
        $ok &= is($j->{result}, 'done', 'claude tool: final text');
        $ok &= is($j->{stop_reason}, 'end_turn', 'claude tool: stop_reason end_turn');
        $ok &= is(scalar @{ $r->{up} }, 2, 'claude tool: two upstream requests');
        my $ctx = up_input($r->{up}[1])->{userInputMessageContext} // {};
        my @results = @{ $ctx->{toolResults} || [] };
        my @texts = map { $_->{text} // () } map { @{ $_->{content} || [] } } @results;
        $ok &= ok((grep { /PROBE_OUT/ } @texts),
                  'claude tool: the 2nd upstream request has the tool result PROBE_OUT');
        $ok &= is($results[0]{toolUseId}, 'tooluse_probe0001',
                  'claude tool: the result names the tool use');
        my $hist = $r->{up}[1]{json}{conversationState}{history} // [];
        my @uses = map { @{ $_->{assistantResponseMessage}{toolUses} || [] } } @$hist;
        $ok &= is_deeply([ map { [$_->{name}, $_->{input}] } @uses ],
                         [ ['Bash', { command => 'echo PROBE_OUT' }] ],
                         'claude tool: the history has the Bash call, input joined');
        $ok &= ok(!(grep { $_->{ctype} ne 'text/event-stream' } @{ $r->{log} }),
                  'claude tool: every answer was a stream');
        show($r) unless $ok;
        diag("upstream #2 context: " . $JSON->encode($ctx)) unless $ok;
    }

    # (c) stream-json with partial messages: the SSE events as CC saw them,
    # and no non-streaming fallback
    {
        my $r = claude(script => [ text_response('Streamed ', 'answer.') ],
                       prompt => 'stream please',
                       args => ['--output-format', 'stream-json', '--verbose',
                                '--include-partial-messages']);
        my @ev = map { $_->{event} } grep { ($_->{type} // '') eq 'stream_event' }
                 @{ $r->{lines} || [] };
        my @types = map { $_->{type} . (defined $_->{index} ? ":$_->{index}" : '') }
                    grep { $_->{type} ne 'ping' } @ev;
        my $ok = is($r->{rc}, 0, 'claude stream-json: exits 0');
        $ok &= is_deeply(\@types,
            [qw(message_start content_block_start:0 content_block_delta:0
                content_block_delta:0 content_block_stop:0 message_delta message_stop)],
            'claude stream-json: the stream events, in order');
        $ok &= is_deeply([ map { $_->{delta}{text} // () } @ev ], ['Streamed ', 'answer.'],
                         'claude stream-json: the text deltas');
        my ($md) = grep { $_->{type} eq 'message_delta' } @ev;
        $ok &= is($md->{delta}{stop_reason}, 'end_turn', 'claude stream-json: stop_reason');
        $ok &= ok(defined $md->{usage}{output_tokens}, 'claude stream-json: usage.output_tokens');
        $ok &= is(($r->{json} // {})->{result}, 'Streamed answer.',
                  'claude stream-json: result');
        $ok &= is(scalar @{ $r->{log} }, 1, 'claude stream-json: one client request');
        $ok &= ok(@{ $r->{log} } && !(grep { $_->{ctype} ne 'text/event-stream' } @{ $r->{log} }),
                  'claude stream-json: no non-streaming fallback');
        show($r) unless $ok;
    }

    # A 529 is retried (CLAUDE_CODE_MAX_RETRIES=1), after the retry-after
    {
        my $r = claude(script => [ error_response('internal'),
                                   text_response('after the retry') ],
                       prompt => 'hi', args => ['--output-format', 'json']);
        my $j = $r->{json} // {};
        my $ok = is($r->{rc}, 0, 'claude 529: retried and exits 0');
        $ok &= is($j->{result}, 'after the retry', 'claude 529: result');
        $ok &= is_deeply([ map { $_->{status} } @{ $r->{log} } ], [529, 200],
                         'claude 529: 529 then 200');
        show($r) unless $ok;
    }

    # (d) "Input is too long" is a 400, not retried
    {
        my $r = claude(script => [ error_response('too_long') ],
                       prompt => 'hi', args => ['--output-format', 'json']);
        my $j = $r->{json} // {};
        my $ok = is($r->{rc}, 1, 'claude 400: exit code 1');
        $ok &= is($j->{is_error}, JSON::PP::true, 'claude 400: is_error');
        $ok &= is($j->{api_error_status}, 400, 'claude 400: api_error_status 400');
        $ok &= is($j->{api_error_type}, 'invalid_request_error',
                  'claude 400: api_error_type invalid_request_error');
        $ok &= like($j->{result} // '', qr/prompt is too long/i,
                    'claude 400: Claude Code read it as "prompt is too long"');
        $ok &= is(scalar @{ $r->{up} }, 1, 'claude 400: not retried');
        show($r) unless $ok;
    }
}

note(sprintf('e2e run time %.1f s, %d gateway restarts', time - $T0, $RESTARTS));
done_testing();
