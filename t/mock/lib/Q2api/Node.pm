package Q2api::Node;

# Running node (or any command) from a Perl test and relaying its
# node --test TAP as Test::More results: what t/e2e-clients.t (the SDK
# suites) and t/browser/console.t (the web console in Chromium) share.
#
#   use Q2api::Node qw(which run_cmd relay_node_tap);
#   my $r = run_cmd(dir => $tmp, cmd => [$node, '--test-reporter=tap', $f],
#                   timeout => 120);
#   relay_node_tap('file.test.mjs', $r->{out});

use strict;
use warnings;

use Exporter 'import';
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(time sleep);

our @EXPORT_OK = qw(which run_cmd relay_node_tap slurp missing);

# A piece a suite needs is missing: it skips, except under CI=true, where
# "make test" has installed everything and a missing piece is a failure.
sub missing {
    my ($why) = @_;
    if (($ENV{CI} // '') eq 'true') {
        Test::More::fail("cannot run under CI: $why");
        Test::More::done_testing();
        exit 1;
    }
    Test::More::plan(skip_all => $why);
}

sub slurp {
    my ($file) = @_;
    open my $fh, '<:raw', $file or return '';
    local $/;
    return scalar <$fh>;
}

sub which {
    my ($cmd) = @_;
    for my $d (split /:/, $ENV{PATH} // '') {
        return "$d/$cmd" if length $d && -f "$d/$cmd" && -x _;
    }
    return undef;
}

# Runs a command in its own process group with stdin from /dev/null and
# stdout/stderr to files; kills the group after $opt{timeout} seconds;
# calls $opt{poll} every 50 ms meanwhile.
# Returns {rc, out, err, secs, timed_out}; the output files go to
# $opt{dir}.
my $RUN = 0;
sub run_cmd {
    my (%opt) = @_;
    my $n = ++$RUN;
    my ($outf, $errf) = ("$opt{dir}/run$n.out", "$opt{dir}/run$n.err");
    my $t = time;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        setpgrp(0, 0);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $outf;
        open STDERR, '>', $errf;
        chdir $opt{cwd} if $opt{cwd};
        %ENV = %{ $opt{env} } if $opt{env};
        { exec { $opt{cmd}[0] } @{ $opt{cmd} } };
        print STDERR "exec $opt{cmd}[0]: $!\n";
        POSIX::_exit(127);
    }
    my ($rc, $timed_out);
    my $deadline = time + ($opt{timeout} // 60);
    while (1) {
        my $r = waitpid($pid, WNOHANG);
        if ($r == $pid) {
            $rc = $? & 127 ? 128 + ($? & 127) : $? >> 8;
            last;
        }
        $opt{poll}->() if $opt{poll};
        if (time > $deadline) {
            $timed_out = 1;
            kill 'TERM', -$pid;
            sleep 1;
            kill 'KILL', -$pid;
            waitpid($pid, 0);
            $rc = -1;
            last;
        }
        sleep 0.05;
    }
    kill 'KILL', -$pid;    # leftovers of the group, if any
    return { rc => $rc, out => slurp($outf), err => slurp($errf),
             secs => time - $t, timed_out => $timed_out };
}

# Turns node's TAP (nested subtests, 4 spaces per level) into Test::More
# results: one per leaf test, named "file: suite > test"; a failing suite
# whose tests all passed (a hook failed) counts as a failure of its own.
sub relay_node_tap {
    my ($file, $tap) = @_;
    my (@open, @child_seen, @child_failed);
    my ($count, $failed) = (0, 0);
    my @lines = split /\n/, $tap;
    for (my $i = 0; $i < @lines; $i++) {
        my $line = $lines[$i];
        if ($line =~ /^((?:    )*)# Subtest: (.*)$/) {
            $open[ length($1) / 4 ] = $2;
            next;
        }
        next unless $line =~ /^((?:    )*)(not )?ok \d+ - (.*?)(?:\s+#\s+(SKIP|TODO)\b\s*(.*))?$/;
        my ($lvl, $bad, $name, $dir, $why) = (length($1) / 4, $2, $3, $4, $5);
        $name =~ s/\\#/#/g;

        # the YAML block that follows: duration, error, stack...
        my @yaml;
        if (($lines[$i + 1] // '') =~ /^\s*---$/) {
            $i++;
            while (++$i < @lines && $lines[$i] !~ /^\s*\.\.\.$/) {
                push @yaml, $lines[$i];
            }
        }

        my $leaf = !$child_seen[ $lvl + 1 ];
        my $kids_failed = $child_failed[ $lvl + 1 ];
        $child_seen[ $lvl + 1 ] = 0;
        $child_failed[ $lvl + 1 ] = 0;
        $child_seen[$lvl] = 1;
        $child_failed[$lvl] ||= $bad ? 1 : 0;

        next unless $leaf || ($bad && !$kids_failed);
        my $full = join ' > ', (grep { defined } @open[ 0 .. $lvl - 1 ]), $name;
        $full = "$file: $full";
        $count++;
        if (($dir // '') eq 'SKIP') {
            SKIP: { skip("$full: $why", 1) }
            next;
        }
        if (($dir // '') eq 'TODO') {
            TODO: {
                local $TODO = $why;
                ok(!$bad, $full);
            }
            next;
        }
        ok(!$bad, $full) or do {
            $failed++;
            diag(join "\n", grep { !/^\s*duration_ms:/ } @yaml);
        };
    }
    return ($count, $failed);
}

1;
