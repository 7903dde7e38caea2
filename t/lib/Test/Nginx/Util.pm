package Test::Nginx::Util;

# Server-side half of the in-repository Test::Nginx::Socket work-alike:
# configuration defaults, nginx.conf generation, the server root, the nginx
# process life cycle and the per-block driver loop.  The HTTP client and the
# response/log checks live in Test::Nginx::Socket, which plugs them in
# through $RunTestHelper, $CheckErrorLog and $CheckShutdownErrorLog, the same
# hooks OpenResty's Test::Nginx::Util exposes.
#
# Only Debian's Perl packages are used.  Names of exported functions and
# variables, environment variables, section names and test descriptions
# follow OpenResty's Test::Nginx so that t/*.t files run unchanged under both.

use v5.36;

# The API level of OpenResty's Test::Nginx this file mirrors.
our $VERSION = '0.33';

use Exporter 'import';
use Carp ();
use File::Basename ();
use File::Path qw(make_path remove_tree);
use File::Spec ();
use IO::Socket::INET ();
use IPC::Open3 ();
use List::Util qw(shuffle);
use POSIX qw(SIGQUIT SIGKILL SIGTERM WNOHANG);
use Scalar::Util qw(looks_like_number);
use Symbol ();
use Time::HiRes qw(sleep time);
use Test::More ();
use Test::LongString ();

# --------------------------------------------------------------------------
# Settings (environment first, then the exported setters below)
# --------------------------------------------------------------------------

our $Verbose              = $ENV{TEST_NGINX_VERBOSE};
our $NginxBinary          = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $Workers              = 1;
our $WorkerConnections    = 64;
our $LogLevel             = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $DaemonEnabled        = 'on';
our $NoRootLocation       = 0;
our $TestNginxSleep       = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $ForceRestartOnTest   = $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} // 1;
our $Timeout              = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $NoShuffle            = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $UseValgrind          = $ENV{TEST_NGINX_USE_VALGRIND};
our $CheckLeak            = $ENV{TEST_NGINX_CHECK_LEAK} || 0;
our $Benchmark            = $ENV{TEST_NGINX_BENCHMARK} || 0;
our $BenchmarkWarmup      = $ENV{TEST_NGINX_BENCHMARK_WARMUP} || 0;
our $CheckAccumErrLog     = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $LoadModules          = $ENV{TEST_NGINX_LOAD_MODULES};
our $PostponeOutput       = $ENV{TEST_NGINX_POSTPONE_OUTPUT};
our $EventType            = $ENV{TEST_NGINX_EVENT_TYPE};
our $ReusePort            = $ENV{TEST_NGINX_REUSE_PORT};
our $WorkerUser           = $ENV{TEST_NGINX_WORKER_USER};
our $NoNginxManager       = $ENV{TEST_NGINX_NO_NGINX_MANAGER} || 0;
our $Randomize            = $ENV{TEST_NGINX_RANDOMIZE};
our $PerFile              = $ENV{TEST_NGINX_PER_FILE};   # our addition
our $ServerAddr           = '127.0.0.1';
our $ServerName           = 'localhost';
our $RepeatEach           = 1;
our $NoLongString;
our $ConfigPreamble       = '';
our $FilterHttpConfig;
our $UseStap;             # never set: SystemTap mode is not supported

# Hooks filled in by Test::Nginx::Socket.
our ($RunTestHelper, $CheckErrorLog, $CheckShutdownErrorLog);

our ($NginxVersion, $NginxRawVersion, $OpenSSLVersion, $PcreVersion);
our (@CleanupHandlers, @TestCleanupHandlers, @BlockPreprocessors, @EnvToNginx);
our ($PrevBlock, $ErrLogFilePos, $RandPorts, $ChildPid);
our $FirstTime = 1;
our $InSubprocess;

# Valid for this process only: a child forked by a test file must not stop
# the server or run cleanup handlers from its END blocks.
my $MainPid = $$;

if (defined $WorkerUser && $WorkerUser !~ /^\w[-\w]+(?:\s+\w[-\w]+)?$/) {
    die "Bad value in the env TEST_NGINX_WORKER_USER: $WorkerUser\n";
}

# The leak and benchmark modes drive ab/weighttp against the server and
# report memory growth; this harness has no such machinery, so a file run in
# one of these modes is skipped as a whole, before anything is planned.
if ($CheckLeak || $Benchmark) {
    my $mode = $CheckLeak ? 'TEST_NGINX_CHECK_LEAK' : 'TEST_NGINX_BENCHMARK';
    Test::More::plan(skip_all => "$mode is not supported by the t/lib "
                     . "Test::Nginx harness; run this file under "
                     . "OpenResty's Test::Nginx for that mode");
}

for my $mode (qw(USE_HUP USE_STAP USE_RR USE_HTTP2 USE_HTTP3)) {
    if ($ENV{"TEST_NGINX_$mode"}) {
        warn "WARNING: TEST_NGINX_$mode is not supported by the t/lib "
             . "Test::Nginx harness and is ignored\n";
    }
}

# --------------------------------------------------------------------------
# Ports and the server root
# --------------------------------------------------------------------------

# Ports handed out at random avoid the kernel's ephemeral range, from which
# nginx's own upstream connections take their local ports.
sub _port_candidates () {
    my ($lo, $hi) = (32768, 60999);
    if (open my $fh, '<', '/proc/sys/net/ipv4/ip_local_port_range') {
        my $line = <$fh> // '';
        ($lo, $hi) = ($1, $2) if $line =~ /(\d+)\s+(\d+)/;
    }
    # 1984 .. 1987 are the conventional fixed ports of Test::Nginx suites.
    return ([1988, $lo - 1], [$hi + 1, 65535]);
}

sub gen_rand_port ($tries = 1000, $used_ports = {}) {
    my @ranges = grep { $_->[1] >= $_->[0] } _port_candidates();
    my $total = 0;
    $total += $_->[1] - $_->[0] + 1 for @ranges;

    for (1 .. $tries) {
        my $n = int rand $total;
        my $port;
        for my $r (@ranges) {
            my $size = $r->[1] - $r->[0] + 1;
            if ($n < $size) {
                $port = $r->[0] + $n;
                last;
            }
            $n -= $size;
        }
        next if $used_ports->{$port};

        my $sock = IO::Socket::INET->new(
            LocalAddr => $ServerAddr,
            LocalPort => $port,
            Proto     => 'tcp',
            Listen    => 1,
            ReuseAddr => 1,
        );
        if ($sock) {
            close $sock;
            return $port;
        }
        warn "port $port is in use, trying another one\n" if $Verbose;
    }
    return undef;
}

our $ServerPort = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT};
if (!$ServerPort) {
    if ($PerFile || $Randomize) {
        # A port of its own for every test file, so that "prove -jN" can
        # run several files at once.
        $ServerPort = gen_rand_port()
            or die "Cannot find an available listening port number\n";
    } else {
        $ServerPort = 1984;
    }
}
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT}
                           || $ENV{TEST_NGINX_PORT} || $ServerPort;

our $ServRoot;
{
    my $base = File::Spec->rel2abs($ENV{TEST_NGINX_SERVROOT} || 't/servroot');
    if ($Randomize) {
        $ServRoot = File::Spec->rel2abs("t/servroot_$ServerPort");
    } elsif ($PerFile) {
        (my $file = File::Basename::basename($0)) =~ s/\.t\z//;
        $ServRoot = File::Spec->catdir($base, $file);
    } else {
        $ServRoot = $base;
    }
}

our $LogDir     = File::Spec->catdir($ServRoot, 'logs');
our $ErrLogFile = File::Spec->catfile($LogDir, 'error.log');
our $AccLogFile = File::Spec->catfile($LogDir, 'access.log');
our $HtmlDir    = File::Spec->catdir($ServRoot, 'html');
our $ConfDir    = File::Spec->catdir($ServRoot, 'conf');
our $ConfFile   = File::Spec->catfile($ConfDir, 'nginx.conf');
our $PidFile    = File::Spec->catfile($LogDir, 'nginx.pid');
our $CacheDir   = File::Spec->catdir($ServRoot, 'cache');

our @TempDirs = qw(client_body_temp proxy_temp fastcgi_temp uwsgi_temp
                   scgi_temp);

# Predefined $TEST_NGINX_* variables.  TEST_NGINX_SERVER_PORT and
# TEST_NGINX_SERVER_ROOT exist under OpenResty's Test::Nginx as well;
# TEST_NGINX_SERVROOT (the effective root, also in per-file mode) and
# TEST_NGINX_HTML_DIR are ours.
$ENV{TEST_NGINX_SERVER_PORT} = $ServerPort;
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;
$ENV{TEST_NGINX_SERVROOT}    = $ServRoot;
$ENV{TEST_NGINX_HTML_DIR}    = $HtmlDir;

# --------------------------------------------------------------------------
# Exported setters and getters
# --------------------------------------------------------------------------

# Prototypes on exported functions match OpenResty's, so that calls such as
# "html_dir . '/x'" or "repeat_each() * blocks()" parse the same way.

sub server_addr :prototype(@) (@args) {
    return $ServerAddr unless @args;
    $ServerAddr = shift @args;
}

sub server_name :prototype(@) (@args) {
    return $ServerName unless @args;
    $ServerName = shift @args;
}

sub server_port :prototype(@) (@args) {
    return $ServerPort unless @args;
    $ServerPort = shift @args;
}

sub server_port_for_client :prototype(@) (@args) {
    return $ServerPortForClient unless @args;
    $ServerPortForClient = shift @args;
}

sub timeout :prototype(@) (@args) {
    return $Timeout unless @args;
    $Timeout = shift @args;
}

sub repeat_each :prototype(@) (@args) {
    $RepeatEach = shift @args if @args;
    return $RepeatEach;
}

sub workers :prototype(@) (@args) {
    return $Workers unless @args;
    $Workers = shift @args;
}

sub worker_connections :prototype(@) (@args) {
    return $WorkerConnections unless @args;
    $WorkerConnections = shift @args;
}

sub log_level :prototype(@) (@args) {
    return $LogLevel unless @args;
    $LogLevel = shift @args;
}

sub master_on :prototype() ()  { $MasterProcessEnabled = 'on' }
sub master_off :prototype() () { $MasterProcessEnabled = 'off' }

sub master_process_enabled :prototype(@) (@args) {
    return $MasterProcessEnabled unless @args;
    $MasterProcessEnabled = $args[0] ? 'on' : 'off';
}

sub no_shuffle :prototype() ()            { $NoShuffle = 1 }
sub no_root_location :prototype() ()      { $NoRootLocation = 1 }
sub no_long_string :prototype() ()        { $NoLongString = 1 }
sub check_accum_error_log :prototype() () { $CheckAccumErrLog = 1 }
sub no_nginx_manager :prototype() ()      { $NoNginxManager = 1 }
sub config_preamble :prototype($) ($text) { $ConfigPreamble = $text }
sub html_dir :prototype() ()              { $HtmlDir }
sub server_root :prototype() ()           { $ServRoot }
sub sleep_time :prototype() ()            { $TestNginxSleep }
sub verbose :prototype() ()               { $Verbose }
sub stap_out_fh :prototype() ()           { undef }
sub stap_out_fname :prototype() ()        { undef }

# HTTP/2 and HTTP/3 (done with curl by OpenResty's harness) and the HUP
# reload mode are not implemented; these report "off".  Blocks asking for
# HTTP/2 or HTTP/3 explicitly fail in Test::Nginx::Socket.
sub use_http2 :prototype($) ($block) { undef }
sub use_http3 :prototype($) ($block) { undef }

sub use_hup :prototype() () {
    warn "WARNING: use_hup() is not supported by the t/lib Test::Nginx "
         . "harness and is ignored\n";
}

sub env_to_nginx :prototype(@) (@vars) {
    Carp::croak("env_to_nginx: no arguments specified") unless @vars;
    for my $v (@vars) {
        if ($v !~ /^[A-Za-z_]/ || $v =~ /\n/) {
            Carp::croak("env_to_nginx: bad argument value: $v\n");
        }
        push @EnvToNginx, $v;
    }
}

sub add_block_preprocessor :prototype(&) ($code) {
    unshift @BlockPreprocessors, $code;
}

sub add_cleanup_handler :prototype($) ($code) {
    unshift @CleanupHandlers, $code;
}

sub add_test_cleanup_handler :prototype($) ($code) {
    unshift @TestCleanupHandlers, $code;
}

sub bail_out :prototype(@) (@msg) {
    cleanup();
    Test::More::BAIL_OUT(join '', @msg);
}

# --------------------------------------------------------------------------
# Small helpers (exported as OpenResty's are)
# --------------------------------------------------------------------------

sub is_str :prototype(@) ($got, $expected, $desc = undef) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    if (ref $expected && ref $expected eq 'Regexp') {
        return Test::More::like($got, $expected, $desc);
    }
    if ($NoLongString) {
        return Test::More::is($got, $expected, $desc);
    }
    return Test::LongString::is_string($got, $expected, $desc);
}

# "500ms" -> 0.5, "2s" and "2" -> 2.
sub parse_time :prototype($) ($tm) {
    return $tm unless defined $tm;
    if ($tm =~ s/([^_a-zA-Z])ms$/$1/) {
        $tm = $tm / 1000;
    } else {
        $tm =~ s/([^_a-zA-Z])s$/$1/;
    }
    return $tm;
}

sub trim :prototype($) ($s) {
    return undef unless defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\n/ /gs;
    $s =~ s/\s{2,}/ /gs;
    return $s;
}

sub show_all_chars :prototype($) ($s) {
    $s =~ s/\n/\\n/gs;
    $s =~ s/\r/\\r/gs;
    $s =~ s/\t/\\t/gs;
    return $s;
}

# "--- response_headers" syntax: "Name: value", "Name:" (empty value) or
# "!Name" (must be absent, stored as undef).  Keys keep the order in which
# they were written.
sub parse_headers :prototype($) ($s) {
    my @pairs;
    for my $line (split /\n/, $s // '') {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';
        if ($line =~ s/^!\s*//) {
            push @pairs, [$line, undef];
        } else {
            my ($key, $val) = split /\s*:\s*/, $line, 2;
            push @pairs, [$key, $val // ''];
        }
    }
    return \@pairs;
}

sub get_canon_version :prototype(@) (@v) {
    return sprintf "%d.%03d%03d", @v[0 .. 2];
}

sub is_running :prototype($) ($pid) {
    return 0 unless $pid && kill 0, $pid;
    # A zombie still answers kill(0); it only waits for its parent (possibly
    # a container's PID 1 that never reaps) and holds no socket any more.
    if (open my $fh, '<', "/proc/$pid/stat") {
        my $stat = <$fh> // '';
        return 0 if $stat =~ /\)\s+[ZX]\s/;
    }
    return 1;
}

sub _port_in_proc_table ($file, $port) {
    open my $fh, '<', $file or die "Could not open $file: $!\n";
    while (my $line = <$fh>) {
        return 1 if $line =~ /^\s*\d+: [0-9A-F]+:([0-9A-F]+) /
                    && hex($1) == $port;
    }
    return 0;
}

sub is_tcp_port_used :prototype($) ($port) {
    return _port_in_proc_table('/proc/net/tcp', $port);
}

sub is_udp_port_used :prototype($) ($port) {
    return _port_in_proc_table('/proc/net/udp', $port);
}

sub can_run ($cmd) {
    if ($cmd =~ m{/}) {
        return -f $cmd && -x _ ? $cmd : undef;
    }
    for my $dir (split(/:/, $ENV{PATH} // ''), '.') {
        next if $dir eq '';
        my $abs = File::Spec->catfile($dir, $cmd);
        return $abs if -f $abs && -x _;
    }
    return undef;
}

my $NginxV;    # "nginx -V" output, read once

sub _nginx_V () {
    return $NginxV if defined $NginxV;
    $NginxV = '';
    # No error handle: nginx prints -V on stderr, which then joins stdout.
    my $out = Symbol::gensym();
    my $pid = eval { IPC::Open3::open3(my $in, $out, undef,
                                       $NginxBinary, '-V') };
    return $NginxV unless $pid;
    $NginxV = do { local $/; <$out> } // '';
    waitpid $pid, 0;
    $NginxV = '' if $? != 0;
    return $NginxV;
}

sub get_nginx_version :prototype() () {
    my $out = _nginx_V();
    if ($out eq '') {
        bail_out("Failed to get the version of the Nginx in PATH "
                 . "(TEST_NGINX_BINARY=$NginxBinary)");
    }
    if ($out =~ m{built with OpenSSL (\d+)\.(\d+)\.(\d+)([a-z])?}s) {
        $OpenSSLVersion = sprintf "%d.%03d%03d%03d", $1, $2, $3,
                                  defined $4 ? ord($4) - ord('a') : 0;
    }
    if ($out =~ m{(?:nginx|openresty)[^/]*/(\d+)\.(\d+)\.(\d+)}s
        || $out =~ m{\w+/(\d+)\.(\d+)\.(\d+)}s)
    {
        my @v = ($1, $2, $3);
        $NginxRawVersion = join '.', @v;
        # PCRE2 is the default from nginx 1.25 on.
        $PcreVersion = $v[0] * 100 + $v[1] >= 125
                       && $out !~ /--without-pcre2/ ? 2
                     : $out =~ /pcre/              ? 1
                     :                               0;
        return get_canon_version(@v);
    }
    bail_out("Failed to parse the output of \"nginx -V\": $out\n");
}

sub get_pid_from_pidfile :prototype($) ($name) {
    open my $in, '<', $PidFile
        or bail_out("$name - Failed to open the pid file $PidFile for "
                    . "reading: $!");
    my $pid = do { local $/; <$in> } // '';
    $pid =~ s/\s+//g;
    return $pid;
}

# --------------------------------------------------------------------------
# $TEST_NGINX_* expansion
# --------------------------------------------------------------------------

sub expand_env_in_text :prototype($$$) ($text, $name, $rand_ports) {
    return $text if !defined $text || ref $text;
    $rand_ports //= {};

    my %used = ($ServerPort => 1, map { $_ => 1 } values %$rand_ports);

    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        my $value;
        if ($var =~ /^TEST_NGINX_RAND_PORT_[0-9]+$/) {
            # One free port per variable and block, shared by every
            # section of the block.
            $value = $rand_ports->{$var} //= do {
                my $port = gen_rand_port(1000, \%used)
                    // bail_out("$name - Cannot find an available listening "
                                . "port number for $var.\n");
                $used{$port} = 1;
                $port;
            };
        } else {
            $value = $ENV{$var}
                // bail_out("$name - No environment $var defined.\n");
        }
        $value;
    }ge;

    return $text;
}

# --------------------------------------------------------------------------
# Server root, user files, nginx.conf
# --------------------------------------------------------------------------

sub setup_server_root :prototype($) ($first_time) {
    # Only what this harness creates is removed: a mis-pointed
    # TEST_NGINX_SERVROOT must never cost anybody real data.
    if (-d $ServRoot) {
        my @doomed = ($ConfDir, $CacheDir, $HtmlDir, $LogDir);
        if (opendir my $dh, $ServRoot) {
            push @doomed, map { "$ServRoot/$_" }
                          grep { /_(?:temp|cache)\z/ } readdir $dh;
        }
        remove_tree(grep { -e } @doomed);
    }

    my @dirs = ($ServRoot, $LogDir, $HtmlDir, $ConfDir,
                map { "$ServRoot/$_" } @TempDirs);
    for my $dir (@dirs) {
        next if -d $dir;
        make_path($dir) or bail_out("Failed to do mkdir $dir\n");
    }

    my $index = "$HtmlDir/index.html";
    open my $out, '>', $index
        or bail_out("Can't open $index for writing: $!\n");
    print $out '<html><head><title>It works!</title></head>'
               . '<body>It works!</body></html>';
    close $out;
}

sub run_customer_init_script :prototype($) ($block) {
    my $code = $block->post_setup_server_root;
    return unless $code;
    eval $code;
    bail_out($block->name . " - post_setup_server_root failed: $@") if $@;
}

sub write_user_files ($block, $rand_ports) {
    my $name = $block->name;
    my $files = $block->user_files;
    return unless $files;

    if (!ref $files) {
        # ">>> name [touch-date]" starts a file, the following lines are
        # its content.
        my @list;
        for my $line (split /^/, $files) {
            if ($line =~ /^>>> (\S+)(?:\s+(.+))?/) {
                push @list, [$1, undef, $2];
            } elsif (@list) {
                $list[-1][1] .= $line;
            }
        }
        $files = \@list;
    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - wrong value type: ", ref $files,
                 ", only scalar or ARRAY are accepted");
    }

    for my $file (@$files) {
        my ($fname, $body, $date) = @$file;
        $body //= '';
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        my $dir = File::Basename::dirname($path);
        if (!-d $dir) {
            make_path($dir)
                or bail_out("$name - Cannot create directory ", $dir);
        }

        $body = expand_env_in_text($body, $name, $rand_ports);

        open my $out, '>', $path
            or bail_out("$name - Cannot open $path for writing: $!\n");
        binmode $out;
        print $out $body;
        close $out;

        if ($date) {
            local $ENV{TZ} = 'GMT';
            system('touch', '-t', $date, $path) == 0
                or bail_out("Failed to run shell command: touch -t $date "
                            . "$path\n");
        }
    }
}

sub write_config_file :prototype($$$) ($block, $config, $rand_ports) {
    my $name = $block->name;

    my $http_config = expand_env_in_text($block->http_config, $name,
                                         $rand_ports) // '';
    $http_config = $FilterHttpConfig->($http_config) if $FilterHttpConfig;

    my $main_config = expand_env_in_text($block->main_config, $name,
                                         $rand_ports) // '';
    my $post_main_config = expand_env_in_text($block->post_main_config,
                                              $name, $rand_ports) // '';
    my $err_log_file = expand_env_in_text($block->error_log_file || $ErrLogFile,
                                          $name, $rand_ports);
    $config //= '';

    my $server_name = $block->server_name // $ServerName;
    (my $quoted_server_name = $server_name) =~ s/\\/\\\\/g;
    $quoted_server_name =~ s/'/\\'/g;

    my $extra_http_config = '';
    if (defined $PostponeOutput && $http_config !~ /\bpostpone_output\b/) {
        bail_out("Bad TEST_NGINX_POSTPONE_OUTPUT value: $PostponeOutput\n")
            if $PostponeOutput !~ /^\d+$/;
        $extra_http_config = "    postpone_output $PostponeOutput;\n";
    }

    # Temp paths inside the server root; Debian's compiled-in ones under
    # /var/lib/nginx are not writable for an unprivileged run.
    my $nginx_V = _nginx_V();
    my %temp = map { $_ => "${_}_path $ServRoot/$_;" } qw(
        client_body_temp proxy_temp fastcgi_temp scgi_temp uwsgi_temp);
    for my $m (qw(fastcgi scgi uwsgi)) {
        $temp{"${m}_temp"} = '' if $nginx_V =~ /--without-http_${m}_module/;
    }
    for my $t (qw(proxy_temp client_body_temp)) {
        $temp{$t} = '' if $http_config =~ /\b${t}_path\b/;
    }
    my $temp_paths = join ' ', grep { $_ ne '' } @temp{qw(
        client_body_temp proxy_temp fastcgi_temp scgi_temp uwsgi_temp)};

    my $listen_opts = $ReusePort ? ' reuseport' : '';

    # Dynamic modules go first, ahead of anything that could use them.
    my $load_modules = '';
    if ($LoadModules) {
        $load_modules = join '', map { "load_module $_;\n" }
                                 grep { $_ ne '' } split /\s+/, $LoadModules;
    }

    my $env_lines = '';
    for my $v (@EnvToNginx) {
        $env_lines .= 'env ' . ($v =~ /\s/ ? "'$v'" : $v) . ";\n";
    }

    my $root_location = $NoRootLocation ? '' : <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_

    my $events_use = $EventType ? "    use $EventType;\n" : '';

    # Workers of a root master would otherwise run as "nobody" and could not
    # write to the server root this process created.  OpenResty's harness
    # emits the line whenever it runs as root; without a master process
    # nginx simply never switches users.
    my $user = defined $WorkerUser ? "user $WorkerUser;\n"
             : $> == 0             ? "user root;\n"
             :                       '';

    open my $out, '>', $ConfFile
        or bail_out("Can't open $ConfFile for writing: $!\n");
    print $out <<"_EOC_";
${load_modules}worker_processes  $Workers;
daemon $DaemonEnabled;
master_process $MasterProcessEnabled;
error_log $err_log_file $LogLevel;
pid       $PidFile;
env MOCKEAGAIN_VERBOSE;
env MOCKEAGAIN;
env MOCKEAGAIN_WRITE_TIMEOUT_PATTERN;
env LD_PRELOAD;
env LD_LIBRARY_PATH;
env DYLD_INSERT_LIBRARIES;
env DYLD_FORCE_FLAT_NAMESPACE;
${env_lines}
$main_config

http {
    access_log $AccLogFile; $temp_paths
    #access_log off;

    default_type text/plain;
    keepalive_timeout  68000ms;
$extra_http_config
$http_config
    server {
        listen          $ServerPort$listen_opts;
        #placeholder
        server_name     '$quoted_server_name';

        client_max_body_size 30M;
        #client_body_buffer_size 4k;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }
}

$post_main_config

#timer_resolution 100ms;

events {
    accept_mutex off;

    worker_connections  $WorkerConnections;
$events_use}
env ASAN_OPTIONS;
env MOCKNOEAGAIN_VERBOSE;
env MOCKNOEAGAIN;
$user
_EOC_
    close $out or bail_out("Can't write $ConfFile: $!\n");
}

# --------------------------------------------------------------------------
# Log files
# --------------------------------------------------------------------------

# Error-log lines written since the previous call (or, with
# check_accum_error_log(), since the server started).  A trailing line
# without its newline is still being written and is left for next time.
sub error_log_data :prototype() () {
    # Leave time for log-phase messages written after the response.
    sleep $TestNginxSleep * 3;

    open my $in, '<', $ErrLogFile or return [];
    binmode $in;
    my $pos = $CheckAccumErrLog ? 0 : ($ErrLogFilePos // 0);
    seek $in, $pos, 0 if $pos > 0;
    my @lines = <$in>;
    close $in;

    if (@lines && $lines[-1] !~ /\n\z/) {
        pop @lines;
    }
    if (!$CheckAccumErrLog) {
        $pos += length $_ for @lines;
        $ErrLogFilePos = $pos;
    }
    return \@lines;
}

sub access_log_data :prototype() () {
    sleep $TestNginxSleep * 3;
    open my $in, '<', $AccLogFile or die "open $AccLogFile failed: $!\n";
    my @lines = <$in>;
    close $in;
    return \@lines;
}

sub _error_log_tail ($n) {
    open my $in, '<', $ErrLogFile or return "(no $ErrLogFile: $!)\n";
    my @lines = <$in>;
    close $in;
    splice @lines, 0, @lines - $n if @lines > $n;
    return join '', @lines;
}

sub _diag_error_log_tail ($why) {
    Test::More::diag("$why; last 30 lines of $ErrLogFile:\n"
                     . _error_log_tail(30));
}

sub check_if_missing_directives () {
    open my $in, '<', $ErrLogFile or return 0;
    while (<$in>) {
        return $1 if /\[emerg\] \S+?: unknown directive "([^"]+)"/;
    }
    return 0;
}

# --------------------------------------------------------------------------
# The nginx process
# --------------------------------------------------------------------------

sub _nginx_cmd () {
    my @cmd = ($NginxBinary);
    # -e (nginx >= 1.19.5) sends the messages logged before the
    # configuration is read to the test's error.log instead of the
    # compiled-in path (stderr on Debian).
    push @cmd, '-e', $ErrLogFile
        if !defined $NginxVersion || $NginxVersion >= 1.019005;
    push @cmd, '-p', "$ServRoot/", '-c', $ConfFile;

    if ($UseValgrind) {
        my @vg;
        if ($UseValgrind =~ /^\d+$/) {
            @vg = ('valgrind', '--num-callers=100', '-q', '--tool=memcheck',
                   '--leak-check=full', '--keep-debuginfo=yes',
                   '--show-possibly-lost=no', '--gen-suppressions=all');
            push @vg, '--suppressions=valgrind.suppress'
                if -f 'valgrind.suppress';
            if ($ENV{TEST_NGINX_VALGRIND_EXIT_ON_FIRST_ERR}) {
                push @vg, '--exit-on-first-error=yes', '--error-exitcode=1';
            }
        } else {
            @vg = ('valgrind', '-q', split ' ', $UseValgrind);
        }
        unshift @cmd, @vg;
    }
    return @cmd;
}

sub _spawn ($cmd, $quiet_stderr, $new_pgrp) {
    my $pid = fork;
    bail_out("fork() failed: $!") unless defined $pid;
    if ($pid == 0) {
        $InSubprocess = 1;
        setpgrp(0, 0) if $new_pgrp;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null' if $quiet_stderr;
        { no warnings 'exec'; exec { $cmd->[0] } @$cmd; }
        print STDERR "exec $cmd->[0] failed: $!\n";
        POSIX::_exit(127);
    }
    return $pid;
}

# Runs nginx to completion (daemon mode: until it has forked into the
# background) and returns the wait status.
sub _run_nginx_sync ($cmd, $quiet_stderr) {
    my $pid = _spawn($cmd, $quiet_stderr, 0);
    waitpid $pid, 0;
    my $status = $?;
    # exec() failures in the child surface as exit code 127.
    return ($status >> 8) == 127 && !can_run($cmd->[0]) ? -1 : $status;
}

# Waits until nginx has written its pid file and returns the pid, or undef
# if it does not come up (or our foreground child exits) in time.
sub _wait_for_pid_file ($max_wait) {
    my $deadline = time + $max_wait;
    my $step = 0.005;
    while (time < $deadline) {
        if (-s $PidFile) {
            if (open my $in, '<', $PidFile) {
                my $pid = do { local $/; <$in> } // '';
                $pid =~ s/\s+//g;
                return $pid if $pid =~ /^\d+$/ && is_running($pid);
            }
        }
        if (defined $ChildPid && waitpid($ChildPid, WNOHANG) == $ChildPid) {
            undef $ChildPid;
            return undef;
        }
        sleep $step;
        $step *= 2 if $step < 0.1;
    }
    return undef;
}

# Graceful stop (SIGQUIT, or SIGTERM with TEST_NGINX_FAST_SHUTDOWN), then
# SIGKILL if the process is still there after timeout() seconds.
sub kill_process ($pid, $name) {
    return unless defined $pid;
    my $sig = $ENV{TEST_NGINX_FAST_SHUTDOWN} ? SIGTERM : SIGQUIT;
    warn "sending signal $sig to $pid\n" if $Verbose;
    kill $sig, $pid;

    my $deadline = time + timeout();
    while (is_running($pid) && time < $deadline) {
        waitpid $pid, WNOHANG;
        sleep 0.01;
    }
    waitpid $pid, WNOHANG;

    if (is_running($pid)) {
        warn "$name - WARNING: killing the process $pid with force...\n";
        # A daemonized nginx leads its own process group; killing the group
        # takes its workers along.
        if (getpgrp($pid) == $pid) {
            kill SIGKILL, -$pid;
        } else {
            kill SIGKILL, $pid;
        }
        my $until = time + 5;
        while (is_running($pid) && time < $until) {
            waitpid $pid, WNOHANG;
            sleep 0.01;
        }
    }
}

# Stops the nginx of the previous block (if any) and waits for it to exit.
sub stop_nginx ($name) {
    if (-f $PidFile) {
        my $pid = get_pid_from_pidfile($name);
        if ($pid =~ /^\d+$/ && is_running($pid)) {
            kill_process($pid, $name);
        }
        unlink $PidFile if -f $PidFile;
    }
    if (defined $ChildPid) {
        kill_process($ChildPid, $name) if is_running($ChildPid);
        waitpid $ChildPid, 0;
        undef $ChildPid;
    }
}

sub _bail_on_start_failure ($name, $cmd, $status) {
    _diag_error_log_tail("$name - nginx failed to start");
    bail_out("$name - Cannot start nginx using command \"@$cmd\" "
             . "(status code $status).");
}

# Starts nginx for the current block.  Returns a false value when it runs,
# or a "dry run" reason (TEST_NGINX_IGNORE_MISSING_DIRECTIVES).
sub start_nginx ($block) {
    my $name = $block->name;
    my @cmd = _nginx_cmd();
    my $quiet = defined $block->suppress_stderr;

    warn "starting nginx: @cmd\n" if $Verbose;
    $ErrLogFilePos = 0;

    if ($UseValgrind) {
        warn "$name\n";
        $ChildPid = _spawn(\@cmd, $quiet, 1);
        # valgrind makes start-up slow.
        return 0 if defined _wait_for_pid_file(60);
        _bail_on_start_failure($name, \@cmd,
                               defined $ChildPid ? 'no pid file' : 'exited');
    }

    # nginx in daemon mode returns once the configuration is loaded and the
    # listening sockets are open; the background process then writes the
    # pid file.  A port still held by a server that is shutting down is
    # retried for a while, as OpenResty's harness does.
    my $waited = 0;
    while (1) {
        my $status = _run_nginx_sync(\@cmd, $quiet);
        if ($status == 0) {
            return 0 if defined _wait_for_pid_file(30);
            _bail_on_start_failure($name, \@cmd, 'no pid file');
        }

        if ($ENV{TEST_NGINX_IGNORE_MISSING_DIRECTIVES}) {
            if (my $directive = check_if_missing_directives()) {
                return "the lack of directive $directive";
            }
        }

        if ($waited < 30 && _error_log_tail(5) =~ /Address already in use/) {
            my $delay = 0.1 * (1 + int($waited));
            $delay = 1 if $delay > 1;
            sleep $delay;
            $waited += $delay;
            next;
        }

        _bail_on_start_failure($name, \@cmd, $status);
    }
}

# --------------------------------------------------------------------------
# The driver
# --------------------------------------------------------------------------

sub cleanup_test ($block) {
    $_->($block) for @TestCleanupHandlers;
}

my $CleanedUp;

sub cleanup :prototype() () {
    return if $CleanedUp++;
    $_->() for @CleanupHandlers;
    if (defined $ChildPid) {
        kill_process($ChildPid, 'cleanup');
        waitpid $ChildPid, 0;
        undef $ChildPid;
    }
}

sub check_prev_block_shutdown_error_log () {
    my $block = $PrevBlock;
    return unless defined $block;
    return unless defined $block->shutdown_error_log
                  || defined $block->no_shutdown_error_log;
    # Checked once, when the block's server has been stopped.
    undef $PrevBlock;
    $CheckShutdownErrorLog->($block, $ENV{TEST_NGINX_NO_CLEAN} ? 1 : 0);
}

sub run_tests :prototype() () {
    $NginxVersion = get_nginx_version();

    # server_port() may have changed it since the module was loaded.
    $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort;

    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks unless $NoShuffle;

    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value('name', "$0 " . $block->name);
        run_test($block);
        cleanup_test($block);
        $PrevBlock = $block;
    }

    cleanup();
}

# Parses the "--- skip_*" and "--- todo*" sections: returns
# ($should_skip, $tests_to_skip, $skip_reason, $should_todo, $todo_reason).
sub _skip_and_todo ($block) {
    my $name = $block->name;
    my ($tests, $skip, $skip_reason, $todo, $todo_reason);
    my $nginx_cmp = sub ($op, @v) {
        return !defined $NginxVersion && $op =~ /^</
               || defined $NginxVersion
                  && eval "$NginxVersion $op " . get_canon_version(@v);
    };

    if (defined(my $spec = $block->skip_eval)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            ($tests, $skip_reason) = ($1, 'skip_eval');
            my $code = $2;
            $skip = eval $code;
            bail_out("$name - skip_eval - failed to eval the Perl code "
                     . "\"$code\": $@") if $@;
        }
    }

    if (defined(my $spec = $block->skip_nginx)) {
        $spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)
                  (?:\s*:\s*(.*))?\s*$/x
            or bail_out("$name - Invalid --- skip_nginx spec: $spec");
        my ($op, @v) = ($2, $3, $4, $5);
        ($tests, $skip_reason) = ($1, $6 || "nginx version $2 $3.$4.$5");
        $skip = 1 if $nginx_cmp->($op, @v);
    } elsif (defined(my $spec2 = $block->skip_nginx2)) {
        $spec2 =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)
                   \s*(or|and)\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)
                   (?:\s*:\s*(.*))?\s*$/x
            or bail_out("$name - Invalid --- skip_nginx2 spec: $spec2");
        my ($op1, @v1) = ($2, $3, $4, $5);
        my ($logic, $op2, @v2) = ($6, $7, $8, $9, $10);
        ($tests, $skip_reason) = ($1, $11);
        my $first = $nginx_cmp->($op1, @v1);
        my $second = $nginx_cmp->($op2, @v2);
        $skip = 1 if !defined $NginxVersion
                     || ($logic eq 'or' ? ($first || $second)
                                        : ($first && $second));
    }

    if (defined(my $spec = $block->skip_openssl)) {
        $spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)([a-z])?
                  (?:\s*:\s*(.*))?\s*$/x
            or bail_out("$name - Invalid --- skip_openssl spec: $spec");
        $tests = $1;
        my $want = sprintf "%d.%03d%03d%03d", $3, $4, $5,
                           defined $6 ? ord($6) - ord('a') : 0;
        $skip_reason = $7 || (defined $OpenSSLVersion
                              ? "OpenSSL version $2 $3.$4.$5" . ($6 // '')
                              : 'Not built with OpenSSL');
        $skip = 1 if !defined $OpenSSLVersion
                     || eval "$OpenSSLVersion $2 $want";
    }

    if (defined(my $spec = $block->todo_nginx)) {
        $spec =~ /^\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*))?\s*$/x
            or bail_out("$name - Invalid --- todo_nginx spec: $spec");
        my ($op, @v) = ($1, $2, $3, $4);
        $todo_reason = $5;
        $todo = 1 if $nginx_cmp->($op, @v);
    }

    if (defined(my $spec = $block->todo)) {
        $spec =~ /^\s*(\d+)\s*:\s*(.*)/s
            or bail_out("$name - Invalid --- todo spec: $spec");
        ($todo, $tests, $todo_reason) = (1, $1, $2);
    }

    return ($skip, $tests, $skip_reason // 'various reasons',
            $todo, $todo_reason // 'various reasons');
}

my ($PrevConfigKey, $PrevRandPorts);

sub _nginx_alive () {
    return 0 unless -f $PidFile;
    open my $in, '<', $PidFile or return 0;
    my $pid = do { local $/; <$in> } // '';
    $pid =~ s/\s+//g;
    return $pid =~ /^\d+$/ && is_running($pid);
}

# A "must_die" block: nginx has to refuse to start.
sub _run_must_die ($block, $must_die, $dry_run) {
    my $name = $block->name;
    my @cmd = _nginx_cmd();
    $ErrLogFilePos = 0;

    for my $i (0 .. $RepeatEach - 1) {
        my $status = _run_nginx_sync(\@cmd, defined $block->suppress_stderr);
        my $exit_code = $status == -1 ? undef : $status >> 8;

        if ($status == -1) {
            Test::More::fail("$name - failed to execute the nginx command "
                             . "line");
        } elsif ($status & 127) {
            Test::More::fail("$name - nginx core dumped");
        } elsif (looks_like_number($must_die)) {
            Test::More::is($must_die, $exit_code,
                           "$name - die with the expected exit code");
        } else {
            Test::More::isnt($status, 0, "$name - die as expected");
        }

        $CheckErrorLog->($block, undef, $dry_run, $i, 0);

        if ($status == 0) {
            warn "WARNING: $name - nginx must die but it does not; "
                 . "killing it (req $i)\n";
            my $pid = _wait_for_pid_file(3);
            kill_process($pid, $name) if $pid;
        }
    }
}

sub run_test :prototype($) ($block) {
    return if defined $block->SKIP;

    my $name = $block->name;
    my $first_time = $FirstTime;
    $FirstTime = 0;

    local $LogLevel = $block->log_level || $LogLevel;

    my $must_die = $block->must_die;
    # There is nothing to instrument in a server that must not start.
    local $UseValgrind = defined $must_die ? undef : $UseValgrind;
    # Under valgrind nginx runs in the foreground as our child, so that its
    # report reaches the terminal when it exits.  The master_process setting
    # is left alone, as OpenResty's Test::Nginx does today.
    local $DaemonEnabled = $UseValgrind ? 'off' : 'on';

    my $config = $block->config;

    # OpenResty's harness restarts nginx for every block that has a
    # --- config (TEST_NGINX_FORCE_RESTART_ON_TEST=1, the default); with 0,
    # only when the configuration changed.  A block without --- config
    # reuses whatever is running.  A reused server keeps the
    # $TEST_NGINX_RAND_PORT_N values it was configured with.
    my ($should_restart, $key);
    if ($NoNginxManager) {
        Test::More::diag("NO_NGINX_MANAGER activated: config for $name "
                         . "ignored") if defined $config;
        $should_restart = 0;
    } elsif (!defined $config) {
        if (!defined $PrevConfigKey) {
            bail_out("$name - No '--- config' section specified and could "
                     . "not get previous one. Use "
                     . "TEST_NGINX_NO_NGINX_MANAGER ?");
        }
        $should_restart = 0;
    } else {
        $key = join "\0", $MasterProcessEnabled, $Workers,
               map { scalar($block->$_) // '' }
               qw(config http_config main_config post_main_config
                  user_files log_level must_die);
        $should_restart = $ForceRestartOnTest || $UseValgrind
                          || !defined $PrevConfigKey
                          || $key ne $PrevConfigKey || !_nginx_alive();
    }

    my $rand_ports = $should_restart ? {} : ($PrevRandPorts // {});
    $RandPorts = $rand_ports;

    $config = expand_env_in_text($config, $name, $rand_ports);

    my ($should_skip, $tests_to_skip, $skip_reason,
        $should_todo, $todo_reason) = _skip_and_todo($block);

    my $dry_run = 0;

    if (!$NoNginxManager && !$should_skip && $should_restart) {
        ($PrevConfigKey, $PrevRandPorts) = ($key, $rand_ports);

        stop_nginx($name);
        check_prev_block_shutdown_error_log();

        setup_server_root($first_time);
        run_customer_init_script($block);
        write_user_files($block, $rand_ports);
        write_config_file($block, $config, $rand_ports);

        if (!can_run($NginxBinary)) {
            bail_out("$name - Cannot find the nginx executable in the PATH "
                     . "environment");
        }

        if (defined $must_die) {
            _run_must_die($block, $must_die, $dry_run);
            return;
        }

        $dry_run = start_nginx($block) || 0;
        sleep $TestNginxSleep;
    }

    if ($block->init) {
        eval $block->init;
        bail_out("$name - init failed: $@") if $@;
    }

    $ErrLogFilePos = 0;
    for my $i (1 .. $RepeatEach) {
        warn "Run the test block $name ...\n" if $Verbose;

        write_user_files($block, $rand_ports) if $i > 1;

        # Skipped and to-do blocks report their announced number of tests
        # without running anything.
        my $tb = Test::More->builder;
        if ($should_skip && defined $tests_to_skip) {
            $tb->skip("$name - $skip_reason") for 1 .. $tests_to_skip;
        } elsif ($should_todo) {
            $tb->todo_skip("$name - $todo_reason")
                for 1 .. ($tests_to_skip // 1);
        } else {
            $RunTestHelper->($block, $dry_run, $i - 1);
        }
    }

    if (my $total_errlog = $ENV{TEST_NGINX_ERROR_LOG}) {
        if (-s $ErrLogFile) {
            open my $out, '>>', $total_errlog
                or bail_out("Failed to append test case title to "
                            . "$total_errlog: $!\n");
            print $out "\n=== $0 $name\n";
            open my $in, '<', $ErrLogFile;
            print $out $_ while <$in>;
            close $out;
        }
    }

    # Under valgrind every block gets its own server, stopped right away so
    # that the report printed at exit belongs to this block.
    if ($UseValgrind) {
        stop_nginx($name);
    }
}

END {
    # $ServRoot is still unset when the file was skipped while loading.
    if ($$ == $MainPid && !$InSubprocess && defined $PidFile) {
        local $?;    # keep the exit status Test::Builder computes

        cleanup();

        if ($UseValgrind || !$ENV{TEST_NGINX_NO_CLEAN}) {
            stop_nginx('END');
        }

        check_prev_block_shutdown_error_log() if $CheckShutdownErrorLog;

        if ($Randomize && defined $ServRoot && -d $ServRoot
            && $ServRoot =~ m{/t/servroot_\d+\z})
        {
            remove_tree($ServRoot);
        }
    }
}

our @EXPORT = qw(
    expand_env_in_text
    use_http2
    use_http3
    env_to_nginx
    is_str
    check_accum_error_log
    is_running
    $NoLongString
    no_long_string
    $ServerAddr
    server_addr
    $ServerName
    server_name
    parse_time
    $UseStap
    verbose
    sleep_time
    stap_out_fh
    stap_out_fname
    bail_out
    add_cleanup_handler
    add_test_cleanup_handler
    access_log_data
    error_log_data
    setup_server_root
    run_customer_init_script
    write_config_file
    get_canon_version
    get_nginx_version
    trim
    show_all_chars
    parse_headers
    run_tests
    get_pid_from_pidfile
    $ServerPortForClient
    $ServerPort
    $NginxVersion
    $PcreVersion
    $PidFile
    $ServRoot
    $ConfFile
    $RunTestHelper
    $CheckErrorLog
    $CheckShutdownErrorLog
    $FilterHttpConfig
    $NoNginxManager
    $RepeatEach
    $CheckLeak
    $Benchmark
    $BenchmarkWarmup
    add_block_preprocessor
    timeout
    worker_connections
    workers
    master_on
    master_off
    config_preamble
    repeat_each
    master_process_enabled
    log_level
    no_shuffle
    no_root_location
    html_dir
    server_root
    server_port
    server_port_for_client
    no_nginx_manager
    use_hup
    is_udp_port_used
    is_tcp_port_used
);

1;
