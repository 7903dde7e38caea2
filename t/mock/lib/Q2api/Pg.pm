package Q2api::Pg;

# A private PostgreSQL for the tests, from Debian's packages (postgresql-15,
# or whichever /usr/lib/postgresql/*/bin has initdb and pg_ctl): its own
# data directory under a temporary directory, listening on 127.0.0.1 on a
# free port and on a socket in that directory, trust authentication, no
# fsync.  Stopped and removed when the object goes (also when the test
# dies).
#
#   my $pg = Q2api::Pg->new
#       or plan skip_all => "no PostgreSQL: " . Q2api::Pg->why;
#   $pg->start;
#   $pg->psql('CREATE DATABASE x');
#   my $n = $pg->psql('SELECT count(*) FROM accounts', db => 'x');
#   $pg->conninfo(db => 'x');       # host=127.0.0.1 port=... dbname=x ...
#   $pg->stop;  $pg->start;         # the same cluster again
#
# initdb refuses to run as root: as root, the server runs as the
# "postgres" system user (runuser), which owns the temporary directory.

use strict;
use warnings;

use File::Temp ();
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);

my $WHY = '';

sub why { $WHY }

sub _bindir {
    for my $dir (reverse sort glob '/usr/lib/postgresql/*/bin') {
        return $dir if -x "$dir/initdb" && -x "$dir/pg_ctl"
                       && -x "$dir/postgres";
    }
    return undef;
}

sub _free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, Proto => 'tcp')
        or die "no free port: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

# undef (and why()) when there is no server to run
sub new {
    my ($class, %opt) = @_;

    my $bin = _bindir();
    if (!$bin) {
        $WHY = 'initdb and pg_ctl not found under /usr/lib/postgresql/*/bin '
             . '(apt-get install postgresql)';
        return undef;
    }

    my $psql = -x "$bin/psql" ? "$bin/psql" : '/usr/bin/psql';
    if (!-x $psql) {
        $WHY = 'psql not found (apt-get install postgresql-client)';
        return undef;
    }

    my ($uid, $gid, @as);
    if ($> == 0) {
        my @pw = getpwnam('postgres');
        if (!@pw) {
            $WHY = 'running as root and there is no "postgres" user to run '
                 . 'the server as';
            return undef;
        }
        ($uid, $gid) = @pw[2, 3];
        my $runuser = -x '/usr/sbin/runuser' ? '/usr/sbin/runuser'
                    : '/sbin/runuser';
        if (!-x $runuser) {
            $WHY = 'running as root and runuser is missing';
            return undef;
        }
        @as = ($runuser, '-u', 'postgres', '--');
    }

    my $tmp = File::Temp->newdir('q2api-pg-XXXXXX', TMPDIR => 1);
    my $dir = $tmp->dirname;
    chown $uid, $gid, $dir if defined $uid;

    my $self = bless {
        %opt,
        bin => $bin, psql => $psql, as => \@as, tmp => $tmp, dir => $dir,
        data => "$dir/data", port => $opt{port} // _free_port(),
        owner => $$, running => 0,
    }, $class;

    my $out = $self->_run([ @as, "$bin/initdb", '-D', $self->{data},
                            '-U', 'postgres', '-A', 'trust', '-E', 'UTF8',
                            '--locale=C', '--no-sync' ]);
    if ($out->{rc} != 0) {
        $WHY = "initdb failed: $out->{err}$out->{out}";
        return undef;
    }

    return $self;
}

sub port { $_[0]{port} }
sub dir { $_[0]{dir} }
sub socket_dir { $_[0]{dir} }
sub running { $_[0]{running} }

sub conninfo {
    my ($self, %opt) = @_;
    my $db = $opt{db} // 'postgres';
    my $host = $opt{host} // '127.0.0.1';
    return "host=$host port=$self->{port} dbname=$db user=postgres"
         . ($opt{extra} ? " $opt{extra}" : '');
}

# runs a command, stdin from /dev/null; {rc, out, err}
sub _run {
    my ($self, $cmd, $input) = @_;
    my $n = ++$self->{runs};
    my ($o, $e) = ("$self->{dir}/.run$n.out", "$self->{dir}/.run$n.err");
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $o;
        open STDERR, '>', $e;
        # the server must not belong to the test's process group signals
        POSIX::setsid();
        { exec { $cmd->[0] } @$cmd };
        POSIX::_exit(127);
    }
    waitpid($pid, 0);
    my $rc = $? >> 8;
    my %r = (rc => $rc);
    for ([out => $o], [err => $e]) {
        my ($k, $f) = @$_;
        open my $fh, '<', $f;
        local $/;
        $r{$k} = $fh ? (<$fh> // '') : '';
        unlink $f;
    }
    return \%r;
}

sub start {
    my ($self) = @_;
    return 1 if $self->{running};
    my $opts = join ' ', "-p $self->{port}", "-k $self->{dir}",
        "-c listen_addresses=127.0.0.1", '-c fsync=off',
        '-c synchronous_commit=off', '-c full_page_writes=off',
        '-c max_connections=50', '-c shared_buffers=16MB';
    my $r = $self->_run([ @{ $self->{as} }, "$self->{bin}/pg_ctl",
                          '-D', $self->{data}, '-l', "$self->{dir}/server.log",
                          '-o', $opts, '-w', '-t', '30', 'start' ]);
    die "pg_ctl start failed: $r->{err}$r->{out}\n" . $self->log
        if $r->{rc} != 0;
    $self->{running} = 1;
    return 1;
}

# "fast": sessions are cut, as when a server goes away
sub stop {
    my ($self, $mode) = @_;
    return 1 unless $self->{running};
    my $r = $self->_run([ @{ $self->{as} }, "$self->{bin}/pg_ctl",
                          '-D', $self->{data}, '-m', $mode // 'fast',
                          '-w', '-t', '30', 'stop' ]);
    $self->{running} = 0;
    die "pg_ctl stop failed: $r->{err}$r->{out}\n" if $r->{rc} != 0;
    return 1;
}

sub log {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/server.log" or return '';
    local $/;
    return scalar <$fh>;
}

# one psql -c; the output unaligned, tuples only, trailing newline removed;
# dies with psql's message unless allow_error
sub psql {
    my ($self, $sql, %opt) = @_;
    my $r = $self->_run([ $self->{psql}, '-X', '-q', '-A', '-t',
                          '-v', 'ON_ERROR_STOP=1',
                          '-h', '127.0.0.1', '-p', $self->{port},
                          '-U', 'postgres', '-d', $opt{db} // 'postgres',
                          '-c', $sql ]);
    if ($r->{rc} != 0) {
        return undef if $opt{allow_error};
        die "psql failed: $r->{err}";
    }
    chomp(my $out = $r->{out});
    return $out;
}

sub DESTROY {
    my ($self) = @_;
    return unless $self->{owner} && $$ == $self->{owner};
    local ($?, $@);
    eval { $self->stop('immediate') } if $self->{running};
}

1;
