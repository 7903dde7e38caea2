# Self-test of the Test::Nginx::Socket harness in t/lib, using only stock
# nginx features (no q2api module, no third-party nginx module).  It passes
# unchanged under OpenResty's Test::Nginx too, with the same test count.
#
#   TEST_NGINX_BINARY=/usr/sbin/nginx prove -I t/lib t/harness-test-nginx.t

use strict;
use warnings;

use Test::Nginx::Socket;

repeat_each(2);

plan tests => repeat_each() * 79 + 2;

$ENV{TEST_NGINX_HARNESS_GREETING} = 'bonjour';

my $default_master = master_process_enabled() eq 'on';
my ($preprocessed, $body_checks, $expected_body_checks) = (0, 0, 0);

# Runs right before every block: a default --- config for blocks without
# one, and "--- master" switches the master process (with two workers) on
# for that block only.
add_block_preprocessor(sub {
    my $block = shift;

    $preprocessed++;

    if (!defined $block->config) {
        $block->set_value('config', <<'_EOC_');
    location = /default {
        return 200 "default config\n";
    }
_EOC_
    }

    if (defined $block->master) {
        master_on();
        workers(2);
    } else {
        master_process_enabled($default_master);
        workers(1);
    }

    # Responses the body check below will see.
    if (!defined $block->must_die && !defined $block->ignore_response) {
        my $reqs = $block->pipelined_requests || $block->request;
        $expected_body_checks +=
            repeat_each() * (ref $reqs eq 'ARRAY' ? scalar @$reqs : 1);
    }
});

# Runs after the response checks of every request.
add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    my $name = $block->name;

    $body_checks++;

    if (defined(my $len = $block->body_length)) {
        SKIP: {
            skip "$name - body_length - tests skipped due to $dry_run", 1
                if $dry_run;
            is(length($body // ''), $len,
               "$name - body_length (req $repeated_req_idx)");
        }
    }

    if (defined $block->master) {
        # The body is the pid of the worker that served the request.
        my $master = do {
            open my $in, '<', server_root() . '/logs/nginx.pid' or die $!;
            local $/;
            <$in> =~ s/\s+//gr;
        };
        my @workers = grep { parent_pid($_) == $master }
                      map { m{/(\d+)$} ? $1 : () } glob '/proc/[0-9]*';

        my $served_by = ($body // '') =~ /(\d+)/ ? $1 : '';
        ok($served_by && $served_by != $master
           && grep({ $_ == $served_by } @workers),
           "$name - served by a worker of master $master "
           . "(req $repeated_req_idx)");
        is(scalar @workers, 2,
           "$name - master runs two workers (req $repeated_req_idx)");
    }
});

sub parent_pid {
    my ($pid) = @_;
    open my $in, '<', "/proc/$pid/stat" or return 0;
    my $stat = <$in> // '';
    # "pid (comm) state ppid ..."; comm may contain spaces.
    return $stat =~ /\)\s+\S+\s+(\d+)/ ? $1 : 0;
}

run_tests();

is($preprocessed, scalar(blocks()),
   'add_block_preprocessor hook ran for every block');
is($body_checks, $expected_body_checks,
   'add_response_body_check hook ran after every response');

__DATA__

=== TEST 1: request, status code, exact body
--- config
    location = /hello {
        return 200 "hello, world\n";
    }
--- request
GET /hello
--- error_code: 200
--- response_body
hello, world
--- no_error_log
[error]



=== TEST 2: other status code, body regex
--- config
    location = /teapot {
        return 418 "short and stout\n";
    }
--- request
GET /teapot
--- error_code: 418
--- response_body_like: ^short and \w+$



=== TEST 3: response headers: values, repeated names, absent, empty
--- config
    location = /headers {
        add_header X-Foo bar;
        add_header X-Multi one;
        add_header X-Multi two;
        return 200 "ok\n";
    }
--- request
GET /headers
--- response_headers
X-Foo: bar
X-Multi: one, two
!X-Absent
X-Empty:
Content-Type: text/plain
Content-Length: 3
--- raw_response_headers_like: ^HTTP/1\.1 200 OK\r\n
--- raw_response_headers_unlike: Transfer-Encoding



=== TEST 4: response header regexes, body must not match
--- config
    location = /like {
        return 200 "all fine\n";
    }
--- request
GET /like
--- response_headers_like
Server: nginx(/[\d.]+)?
Content-Type: text/.*
--- response_body_unlike: error



=== TEST 5: more_headers reach the server, comments are skipped
--- config
    location = /echo-headers {
        return 200 "foo=$http_x_foo bar=$http_x_bar comment=$http_x_comment host=$host conn=$http_connection\n";
    }
--- more_headers
X-Foo: hello
# X-Comment: not sent
X-Bar: world
--- request
GET /echo-headers
--- response_body
foo=hello bar=world comment= host=localhost conn=close



=== TEST 6: POST body is trimmed and gets a Content-Length
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / {
            return 200 "backend got $request_method $request_uri len=$http_content_length\n";
        }
    }
--- config
    location = /post {
        client_body_in_single_buffer on;
        add_header X-Request-Body $request_body;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- request
POST /post
   hello world   
--- response_headers
X-Request-Body: hello world
--- response_body
backend got POST /post len=11



=== TEST 7: several requests, the last one in two packets
--- config
    location /multi/ {
        return 200 "uri=$uri\n";
    }
--- request eval
["GET /multi/a",
 "GET /multi/b",
 ["GET /mu", { value => "lti/c", delay_before => 0.05 }]]
--- error_code eval
[200, 200, 200]
--- response_body eval
["uri=/multi/a\n", "uri=/multi/b\n", "uri=/multi/c\n"]
--- no_error_log
[error]



=== TEST 8: raw request in two packets
--- config
    location = /raw {
        return 200 "method=$request_method proto=$server_protocol x=$http_x_raw\n";
    }
--- raw_request eval
["GET /raw HTTP/1.0\r\nX-R", "aw: yes\r\n\r\n"]
--- error_code_like: ^2\d\d$
--- response_body
method=GET proto=HTTP/1.0 x=yes



=== TEST 9: error_log, no_error_log, grep_error_log
--- config
--- request
GET /missing.txt
--- error_code: 404
--- error_log eval
[qr{open\(\) "[^"]*/html/missing\.txt" failed}, "No such file or directory"]
--- no_error_log
[alert]
[crit]
--- grep_error_log eval
qr/open\(\) "[^"]+" failed/
--- grep_error_log_out
open() "$TEST_NGINX_SERVER_ROOT/html/missing.txt" failed



=== TEST 10: client timeout with abort is not a failure
--- config
    location = /never {
        return 200 "unreachable\n";
    }
--- raw_request eval
"GET /never HTTP/1.1\r\nHost: localhost\r\n"
--- timeout: 300ms
--- abort
--- ignore_response
--- error_log
client prematurely closed connection



=== TEST 11: user_files and init
--- user_files
>>> greeting.txt
hello from a user file
>>> sub/dir/port.txt
port=$TEST_NGINX_SERVER_PORT
--- init
open my $out, '>', html_dir() . '/init.txt' or die $!;
print $out "written by init\n";
close $out;
--- config
--- request eval
["GET /greeting.txt", "GET /sub/dir/port.txt", "GET /init.txt"]
--- response_body eval
["hello from a user file\n", 'port=$ServerPort' . "\n", "written by init\n"]



=== TEST 12: main_config, http_config and two random ports
--- main_config
thread_pool harness_pool threads=2;
--- http_config
    map $arg_who $greeting {
        default "hello, $arg_who";
        ""      "hello, nobody";
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / {
            return 200 "backend on $server_port: $greeting\n";
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / {
            return 200 "second backend\n";
        }
    }
--- config
    location = /backend {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/?who=$arg_who;
    }
    location = /second {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/;
    }
    location = /threaded {
        aio threads=harness_pool;
        alias $TEST_NGINX_SERVER_ROOT/html/index.html;
    }
--- request eval
["GET /backend?who=perl", "GET /second", "GET /threaded"]
--- response_body eval
['backend on $TEST_NGINX_RAND_PORT_1: hello, perl' . "\n",
 "second backend\n",
 '<html><head><title>It works!</title></head><body>It works!</body></html>']



=== TEST 13: chunked response is decoded
--- config
    location = /chunked {
        sub_filter_types text/plain;
        sub_filter_once off;
        sub_filter cat dog;
        return 200 "cat, cat and cat\n";
    }
--- request
GET /chunked
--- response_headers
Transfer-Encoding: chunked
!Content-Length
--- response_body
dog, dog and dog



=== TEST 14: config from the block preprocessor, body length from the body check
--- request
GET /default
--- response_body
default config
--- body_length: 15



=== TEST 15: master process with two workers
--- master
--- config
    location = /pid {
        return 200 "$pid\n";
    }
--- request
GET /pid
--- response_body_like: ^\d+$



=== TEST 16: nginx must refuse a bad configuration
--- config
    location = /bad {
        return 200 200 200;
    }
--- must_die
--- suppress_stderr
--- error_log
[emerg]
invalid number of arguments in "return" directive



=== TEST 17: $TEST_NGINX_* variables and $ServerPort
--- config
    location = /env {
        add_header X-Port $server_port;
        return 200 "$TEST_NGINX_HARNESS_GREETING from port $TEST_NGINX_SERVER_PORT\n";
    }
--- request
GET /env
--- response_headers
X-Port: $ServerPort
--- response_body
bonjour from port $TEST_NGINX_SERVER_PORT



=== TEST 18: per-block log level
--- log_level: warn
--- config
    location = /quiet {
        return 200 "quiet\n";
    }
--- request
GET /quiet
--- no_error_log
[debug]



=== TEST 19: pipelined requests on one connection
--- config
    location /p/ {
        return 200 "pipelined $uri\n";
    }
--- pipelined_requests eval
["GET /p/1", "GET /p/2"]
--- response_body eval
["pipelined /p/1\n", "pipelined /p/2\n"]



=== TEST 20: chunked request body from more_headers
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / {
            return 200 "len=$http_content_length te=$http_transfer_encoding\n";
        }
    }
--- config
    location = /chunked-in {
        client_body_in_single_buffer on;
        add_header X-Request-Body $request_body;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- more_headers
Transfer-Encoding: chunked
--- request eval
"POST /chunked-in\n5\r\nhello\r\n0\r\n\r\n"
--- response_headers
X-Request-Body: hello
--- response_body
len=5 te=
