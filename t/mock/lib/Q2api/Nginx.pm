package Q2api::Nginx;

# A real nginx with the built module, for tests that the Test::Nginx format
# cannot express: reloads, killed workers, several instances.
#
#   my $n = Q2api::Nginx->new(http => $http_conf, server => $server_conf,
#                             listen => 'sndbuf=16k');
#   $n->start;  $n->post('/v1/messages', $json);  $n->reload;  $n->stop;
#
# The prefix is a temporary directory; master on, daemon on; the module
# comes from $TEST_NGINX_LOAD_MODULES or build/.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Temp ();
use HTTP::Tiny;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);

my $ROOT = abs_path(dirname(__FILE__) . '/../../../..');

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, Proto => 'tcp')
        or die "no free port: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

sub new {
    my ($class, %opt) = @_;
    my $self = bless { workers => 2, %opt }, $class;
    $self->{tmp} = File::Temp->newdir('q2api-nginx-XXXXXX', TMPDIR => 1);
    $self->{prefix} = $self->{tmp}->dirname;
    $self->{port} //= free_port();
    $self->{binary} = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
    $self->{module} = ($ENV{TEST_NGINX_LOAD_MODULES} || '')
                      =~ /(\S*ngx_http_q2api_module\.so)/
                      ? $1 : "$ROOT/build/ngx_http_q2api_module.so";
    make_path("$self->{prefix}/$_") for qw(conf logs html);
    return $self;
}

sub prefix { $_[0]{prefix} }
sub port { $_[0]{port} }
sub root { $ROOT }

sub write_file {
    my ($self, $name, $text) = @_;
    open my $fh, '>', "$self->{prefix}/$name" or die "$name: $!";
    print $fh $text;
    close $fh;
}

sub read_file {
    my ($self, $name) = @_;
    open my $fh, '<', "$self->{prefix}/$name" or return undef;
    local $/;
    return scalar <$fh>;
}

sub config {
    my ($self) = @_;
    my $p = $self->{prefix};
    my $listen = $self->{listen} ? " $self->{listen}" : '';
    return <<"_EOC_";
load_module $self->{module};
worker_processes $self->{workers};
user root;
error_log $p/logs/error.log info;
pid $p/logs/nginx.pid;
events { worker_connections 256; }
http {
    access_log $p/logs/access.log;
    client_body_temp_path $p/client_body_temp;
    proxy_temp_path $p/proxy_temp;
    fastcgi_temp_path $p/fastcgi_temp;
    uwsgi_temp_path $p/uwsgi_temp;
    scgi_temp_path $p/scgi_temp;
$self->{http}
    server {
        listen 127.0.0.1:$self->{port}$listen;
$self->{server}
        include $ROOT/conf/q2api_upstream.conf;
    }
}
_EOC_
}

sub start {
    my ($self) = @_;
    $self->write_file('conf/nginx.conf', $self->config);
    my $p = $self->{prefix};
    system($self->{binary}, '-p', "$p/", '-c', "$p/conf/nginx.conf") == 0
        or die "nginx did not start:\n" . ($self->read_file('logs/error.log')
                                           // '');
    for (1 .. 100) {
        return 1 if IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                          PeerPort => $self->{port});
        sleep 0.05;
    }
    die "nginx does not listen on $self->{port}";
}

sub master_pid {
    my ($self) = @_;
    my $pid = $self->read_file('logs/nginx.pid') // '';
    $pid =~ s/\D//g;
    return $pid;
}

# the worker pids now running, from the master's children
sub worker_pids {
    my ($self) = @_;
    my $m = $self->master_pid or return ();
    my @pids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $line = <$fh>;
        close $fh;
        my ($pid, $ppid) = $line =~ /^(\d+) \(.*\) \S+ (\d+)/ or next;
        push @pids, $pid if $ppid == $m;
    }
    return @pids;
}

# the pid of the worker running the store loop, from the error log
sub store_worker {
    my ($self) = @_;
    my $log = $self->read_file('logs/error.log') // '';
    my @pids = $log =~ /\d+#(\d+): q2api: this worker runs the \w+ store/g;
    return $pids[-1];
}

sub reload {
    my ($self) = @_;
    my %old = map { $_ => 1 } $self->worker_pids;
    $self->write_file('conf/nginx.conf', $self->config);
    kill 'HUP', $self->master_pid;
    # until the old workers are gone and new ones run
    for (1 .. 200) {
        my @now = $self->worker_pids;
        return 1 if @now && !grep { $old{$_} } @now;
        sleep 0.05;
    }
    die "nginx did not reload";
}

sub stop {
    my ($self) = @_;
    my $m = $self->master_pid or return;
    kill 'QUIT', $m;
    for (1 .. 200) {
        return 1 unless kill 0, $m;
        sleep 0.05;
    }
    kill 'KILL', $m;
}

sub post {
    my ($self, $path, $body, %headers) = @_;
    return HTTP::Tiny->new(timeout => 10)->request('POST',
        "http://127.0.0.1:$self->{port}$path",
        { content => $body,
          headers => { 'content-type' => 'application/json', %headers } });
}

sub get {
    my ($self, $path, %headers) = @_;
    return HTTP::Tiny->new(timeout => 10)->request('GET',
        "http://127.0.0.1:$self->{port}$path", { headers => \%headers });
}

sub DESTROY {
    my ($self) = @_;
    $self->stop if $self->{prefix} && -e "$self->{prefix}/logs/nginx.pid";
}

1;
