# The PostgreSQL store against a real PostgreSQL (Q2api::Pg: Debian's
# server binaries, a private cluster in a temporary directory): the schema
# on an empty database and on q2api's own table, rows added with psql
# reaching the gateway, two gateways sharing one database, PostgreSQL
# stopped under traffic and absent at start without a counter lost, the
# last write of a gateway that stops, and a pool of 10,000 accounts.
#
# A plain Test::More file: it runs several nginx instances (Q2api::Nginx)
# and stops and starts PostgreSQL in the middle, which the Test::Nginx
# block format cannot express.  Skips when the PostgreSQL server packages,
# nginx or the built module are missing.

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use JSON::PP ();
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);

use Q2api::Mock;
use Q2api::Mock::AmazonQ qw(:builders);
use Q2api::Nginx;
use Q2api::Pg;

my $T0 = time;

my $probe = Q2api::Nginx->new;
plan skip_all => "$probe->{binary} is not executable"
    unless -x $probe->{binary};
plan skip_all => "$probe->{module} is missing: run make"
    unless -f $probe->{module};
undef $probe;

my $pg = Q2api::Pg->new
    or plan skip_all => 'no PostgreSQL server: ' . Q2api::Pg->why;

# the servers stop in DESTROY, also when the test is interrupted
$SIG{INT} = $SIG{TERM} = sub { exit 130 };

$pg->start;

my $mock = Q2api::Mock->new(watch_parent => 1);
$mock->start;
$mock->set_script({ by_token => {
    'tok-susp' => [ error_response('suspended') ],
    '*' => [ text_response('ok') ],
} });
my $MPORT = $mock->port;

my $BODY = '{"model":"claude-sonnet-4-5","max_tokens":10,'
         . '"messages":[{"role":"user","content":"hi"}]}';

my $PASSWORD = 's3cret-pw-' . int(rand(1e9));

my @COLUMNS = qw(id label clientid clientsecret refreshtoken accesstoken
    other last_refresh_time last_refresh_status created_at updated_at
    enabled error_count success_count expires_at type profile_arn status
    status_reason status_since status_until token_expires total_errors
    tokens_in tokens_out last_used last_error q2api_disabled);

# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

sub gateway {
    my (%o) = @_;
    my $ci = $o{conninfo} // $pg->conninfo(db => $o{db} // 'postgres');
    my $zone = $o{zone} // '8m';
    my $interval = $o{interval} // '200ms';
    my $n = Q2api::Nginx->new(workers => $o{workers} // 2,
                              http => <<"_EOC_", server => <<'_EOC_');
    q2api_zone q2api $zone;
    q2api_store postgres "$ci";
    q2api_store_interval $interval;
    q2api_amazonq_url http://127.0.0.1:$MPORT/;
    q2api_oidc_url http://127.0.0.1:$MPORT;
    @{[ $o{key} ? "q2api_store_key $o{key};" : '' ]}
_EOC_
        location /v1/ {
            q2api_select round_robin;
            q2api_pass claude;
        }

        location /admin/ {
            q2api_admin;
            q2api_admin_password "admin-pw";
        }
_EOC_
    $n->start unless $o{no_start};
    return $n;
}

sub ask {
    my ($n) = @_;
    return $n->post('/v1/messages', $BODY);
}

sub wait_for {
    my ($secs, $cond) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) {
        my $v = $cond->();
        return $v if $v;
        sleep 0.05;
    }
    return $cond->();
}

sub log_of {
    my ($n) = @_;
    return $n->read_file('logs/error.log') // '';
}

sub count_in {
    my ($text, $re) = @_;
    my @m = $text =~ /$re/g;
    return scalar @m;
}

# the bearer tokens the mock saw since the last reset
sub tokens_seen {
    return map { ($_->{headers}{authorization} // '') =~ /^Bearer (\S+)/ }
           $mock->requests;
}

sub db_value {
    my ($sql, %o) = @_;
    return $pg->psql($sql, %o);
}

sub columns_of {
    my ($db) = @_;
    my $c = $pg->psql("SELECT string_agg(attname, ' ' ORDER BY attnum) "
                    . "FROM pg_attribute WHERE attrelid = "
                    . "to_regclass('accounts') AND attnum > 0 "
                    . "AND NOT attisdropped", db => $db // 'postgres');
    return $c // '';
}

sub nginx_t {
    my ($ci) = @_;
    my $n = gateway(conninfo => $ci, no_start => 1);
    $n->write_file('conf/nginx.conf', $n->config);
    my $p = $n->prefix;
    my $out = qx{$n->{binary} -t -p $p/ -c $p/conf/nginx.conf 2>&1};
    return ($? == 0, $out);
}

# --------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------

{
    my ($ok, $out) = nginx_t("postgresql://u:$PASSWORD\@[::1");
    ok(!$ok, 'a malformed connection string fails nginx -t');
    like($out, qr/q2api_store postgres: invalid connection string/,
         'with a message saying so');
    unlike($out, qr/\Q$PASSWORD\E/, 'the password is not in the message');

    ($ok, $out) = nginx_t('host=no-such-host.invalid dbname=x');
    ok(!$ok, 'an unknown host name fails nginx -t');
    like($out, qr/host "no-such-host\.invalid" not found/, 'named')
        or diag($out);

    ($ok, $out) = nginx_t($pg->conninfo . " password=$PASSWORD");
    ok($ok, 'a good connection string passes nginx -t') or diag($out);
    unlike($out, qr/\Q$PASSWORD\E/, 'the password is not printed');
}

# --------------------------------------------------------------------------
# an empty database: the schema is created, the pool is empty
# --------------------------------------------------------------------------

my $dead = Q2api::Nginx::free_port();

# a name to resolve at configuration time, and a first address that
# refuses, so libpq moves to another socket while connecting
my $A = gateway(conninfo => "host=localhost,127.0.0.1 port=$dead,"
                          . $pg->port . " dbname=postgres user=postgres "
                          . "password=$PASSWORD");

ok(wait_for(5, sub { log_of($A) =~ /postgres store ready, 0 accounts/ }),
   'gateway A: ready on an empty database') or diag(log_of($A));
is(columns_of(), join(' ', @COLUMNS),
   "the accounts table has q2api's columns and the module's");

{
    my $r = ask($A);
    is($r->{status}, 503, 'no account yet: 503');
    like($r->{content}, qr/\A\{"type":"error","error":\{"type":"api_error",/,
         "in Anthropic's envelope");
}

# --------------------------------------------------------------------------
# a row added with psql reaches the gateway
# --------------------------------------------------------------------------

{
    $mock->reset;
    $pg->psql("INSERT INTO accounts (id, label, accessToken) "
            . "VALUES ('acc-1', 'one', 'tok-1'); "
            . "NOTIFY q2api_accounts, 'psql:acc-1'");
    my $t = time;
    my $r = wait_for(2, sub { my $r = ask($A); $r->{status} == 200 && $r });
    ok($r, sprintf('an account inserted with psql serves within %.2f s',
                   time - $t));
    is((tokens_seen())[-1], 'tok-1', 'with its token');
}

# --------------------------------------------------------------------------
# two gateways, one database
# --------------------------------------------------------------------------

my $B = gateway();
ok(wait_for(5, sub { log_of($B) =~ /postgres store ready, 1 accounts/ }),
   'gateway B: ready with the account');

{
    my $base = db_value("SELECT success_count FROM accounts "
                      . "WHERE id = 'acc-1'");
    my $ok = 0;
    for (1 .. 5) {
        $ok++ if ask($A)->{status} == 200;
        $ok++ if ask($B)->{status} == 200;
    }
    is($ok, 10, '10 requests through both gateways');
    is(wait_for(3, sub {
           my $v = db_value("SELECT success_count FROM accounts "
                          . "WHERE id = 'acc-1'");
           $v == $base + 10 && $v }) || 0,
       $base + 10, 'both added their successes to the same row');
}

{
    # A meets a suspended account; B hears of it and never uses it
    $mock->reset;
    $pg->psql("INSERT INTO accounts (id, accessToken) VALUES "
            . "('acc-s', 'tok-susp'), ('acc-2', 'tok-2'); "
            . "NOTIFY q2api_accounts, 'psql:acc-s'; "
            . "NOTIFY q2api_accounts, 'psql:acc-2'");
    sleep 0.3;

    my $hit = wait_for(3, sub {
        ask($A);
        grep { $_ eq 'tok-susp' } tokens_seen();
    });
    ok($hit, 'gateway A met the suspension');

    my $status = wait_for(3, sub {
        my $s = db_value("SELECT status FROM accounts WHERE id = 'acc-s'");
        $s eq 'suspended' && $s });
    is($status, 'suspended', 'A wrote the status to the database');
    like(db_value("SELECT error_count || ' ' || total_errors || ' ' "
                . "|| (status_since > 0) FROM accounts WHERE id = 'acc-s'"),
         qr/^1 1 true$/, 'with the error counted and the time');

    sleep 0.3;
    $mock->reset;
    my @st = map { ask($B)->{status} } 1 .. 10;
    is_deeply(\@st, [ (200) x 10 ], 'gateway B: 10 requests served');
    my %seen = map { $_ => 1 } tokens_seen();
    ok(!$seen{'tok-susp'}, 'B never used the account A found suspended');
    ok($seen{'tok-1'} && $seen{'tok-2'}, 'and rotated over the other two')
        or diag(join ' ', sort keys %seen);

    # an operator's change in the database reaches both gateways
    $pg->psql("UPDATE accounts SET enabled = 0 WHERE id = 'acc-2'; "
            . "NOTIFY q2api_accounts, 'ops:acc-2'");
    sleep 0.3;
    $mock->reset;
    ask($A), ask($B) for 1 .. 4;
    %seen = map { $_ => 1 } tokens_seen();
    is_deeply([ sort keys %seen ], [ 'tok-1' ],
              'an account disabled with psql is out on both');
}

# --------------------------------------------------------------------------
# PostgreSQL stopped and started again under traffic: nothing lost
# --------------------------------------------------------------------------

sub total_successes {
    my ($db) = @_;
    my $v = db_value("SELECT COALESCE(SUM(success_count), 0) FROM accounts",
                     db => $db // 'postgres', allow_error => 1);
    return $v // -1;
}

# the total once the stores have written what they counted
sub settled_total {
    my ($db) = @_;
    my $last = total_successes($db);
    for (1 .. 40) {
        sleep 0.5;
        my $now = total_successes($db);
        return $now if $now == $last;
        $last = $now;
    }
    return $last;
}

{
    my $base = settled_total();
    my $logpos = length log_of($A);

    # the traffic: a child process, both gateways, about 4 s
    pipe(my $rd, my $wr) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        close $rd;
        my ($ok, $all) = (0, 0);
        my $end = time + 4;
        while (time < $end) {
            for my $n ($A, $B) {
                $all++;
                $ok++ if ask($n)->{status} == 200;
            }
        }
        print {$wr} "$ok $all\n";
        close $wr;
        POSIX::_exit(0);
    }
    close $wr;

    sleep 0.7;
    $pg->stop;
    sleep 1.5;
    $pg->start;

    my ($ok, $all) = split ' ', scalar <$rd>;
    waitpid($pid, 0);
    close $rd;

    ok($all > 20, "$all requests during the outage");
    is($ok, $all, 'every one served from the zone');

    my $got = wait_for(15, sub { my $t = total_successes();
                                 $t == $base + $ok && $t });
    is($got || total_successes(), $base + $ok,
       'success_count in the database equals the successful requests');

    my $log = substr(log_of($A), $logpos);
    is(count_in($log, qr/q2api: postgres store unavailable: /), 1,
       'the outage logged once') or diag($log);
    is(count_in($log, qr/q2api: postgres store is back/), 1,
       'and its end once');
    unlike(log_of($A) . log_of($B), qr/\Q$PASSWORD\E/,
           'no password in the logs');
}

# --------------------------------------------------------------------------
# a reload: the old workers write what they counted, the new ones go on
# --------------------------------------------------------------------------

{
    my $base = settled_total();
    my $ok = 0;
    for (1 .. 5) {
        $ok++ if ask($B)->{status} == 200;
    }
    $B->reload;
    for (1 .. 5) {
        $ok++ if ask($B)->{status} == 200;
    }
    is($ok, 10, '10 requests around a reload of gateway B');
    is(settled_total(), $base + $ok, 'each counted once');
}

# --------------------------------------------------------------------------
# a write whose COMMIT went through but whose answer was lost is not
# written twice
# --------------------------------------------------------------------------

# A TCP proxy to PostgreSQL.  Armed (the flag file exists), it lets the
# first client message with a COMMIT through, drops what the server
# answers, and cuts both sides half a second later: the transaction is
# committed and the client cannot know.
sub cutting_proxy {
    my ($target, $flag) = @_;
    my $l = IO::Socket::INET->new(Listen => 16, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, Proto => 'tcp',
                                  ReuseAddr => 1) or die "listen: $!";
    my $port = $l->sockport;
    my $parent = $$;
    my $pid = fork // die "fork: $!";
    if ($pid) {
        close $l;
        return ($pid, $port);
    }
    my $sel = IO::Select->new($l);
    my (%peer, %cut);
    while (kill 0, $parent) {
        for my $fh ($sel->can_read(0.1)) {
            if ($fh == $l) {
                my $c = $l->accept or next;
                my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                              PeerPort => $target,
                                              Proto => 'tcp');
                if (!$s) { close $c; next }
                $peer{$c} = $s;
                $peer{$s} = $c;
                $sel->add($c, $s);
                next;
            }
            my $to = $peer{$fh} or next;
            my $n = sysread($fh, my $buf, 65536);
            if (!$n) {
                $sel->remove($fh, $to);
                delete @peer{$fh, $to};
                close $fh;
                close $to;
                next;
            }
            next if $cut{$to};          # the answer to the COMMIT: lost
            syswrite($to, $buf);
            if (-e $flag && $buf =~ /COMMIT\0/) {
                unlink $flag;
                $cut{$fh} = time;       # the client's side
            }
        }
        for my $c (grep { time - $cut{$_} > 0.5 } keys %cut) {
            my ($cfh) = grep { "$_" eq $c } $sel->handles or next;
            my $s = $peer{$cfh};
            $sel->remove($cfh, $s);
            delete @peer{$cfh, $s};
            delete $cut{$c};
            close $cfh;
            close $s;
        }
    }
    POSIX::_exit(0);
}

{
    $pg->psql("UPDATE accounts SET success_count = 0 WHERE id = 'acc-1'");
    my $flag = $pg->dir . '/cut';
    my ($ppid, $pport) = cutting_proxy($pg->port, $flag);

    my $X = gateway(workers => 1,
                    conninfo => "host=127.0.0.1 port=$pport dbname=postgres "
                              . "user=postgres");
    ok(wait_for(5, sub { log_of($X) =~ /postgres store ready/ }),
       'gateway X, through the proxy, is ready');
    sleep 0.5;

    # the next write is cut after its COMMIT reached the server
    open my $fh, '>', $flag or die "$flag: $!";
    close $fh;

    my $ok = 0;
    for (1 .. 4) {
        $ok++ if ask($X)->{status} == 200;
    }
    is($ok, 4, '4 requests served by gateway X alone');

    ok(wait_for(5, sub { !-e $flag }), 'the write was cut after COMMIT');
    ok(wait_for(8, sub { log_of($X) =~ /postgres store is back/ }),
       'the store reconnected');
    sleep 1;

    is(db_value("SELECT success_count FROM accounts WHERE id = 'acc-1'"),
       $ok, 'the committed write was not written again');

    $X->stop;
    kill 'TERM', $ppid;
    waitpid($ppid, 0);
}

# --------------------------------------------------------------------------
# PostgreSQL absent when a gateway starts
# --------------------------------------------------------------------------

{
    $pg->stop;
    my $C = gateway(workers => 1);

    my $r = ask($C);
    is($r->{status}, 503, 'gateway C starts without the database: 503');
    like($r->{content}, qr/"type":"api_error","message":"no usable backend/,
         'no account');
    ok(wait_for(2, sub { log_of($C) =~ /postgres store unavailable/ }),
       'and says why in the log');

    $pg->start;
    my $t = time;
    $r = wait_for(8, sub { my $r = ask($C); $r->{status} == 200 && $r });
    ok($r, sprintf('serves %.1f s after the database appears', time - $t));
    like(log_of($C), qr/postgres store is back, 3 accounts/,
         'and logs it with the pool it loaded');
    $C->stop;
}

# --------------------------------------------------------------------------
# a gateway that stops writes what it counted last
# --------------------------------------------------------------------------

{
    my $D = gateway(workers => 1, interval => '3s');
    ok(wait_for(5, sub { log_of($D) =~ /postgres store ready/ }),
       'gateway D (a 3 s store interval) is ready');

    # just after a store tick: the next one is 3 s away
    my $base = settled_total();
    my $ok = 0;
    for (1 .. 3) {
        $ok++ if ask($D)->{status} == 200;
    }
    $D->stop;
    is(total_successes(), $base + $ok,
       'its last successes were written when it stopped');
}

$A->stop;
$B->stop;

# --------------------------------------------------------------------------
# q2api's own table, with its rows
# --------------------------------------------------------------------------

{
    $pg->psql('CREATE DATABASE q2api');

    # as q2api's db.py creates it (unquoted names), an older version
    # without expires_at
    $pg->psql(<<'_SQL_', db => 'q2api');
CREATE TABLE accounts (id TEXT PRIMARY KEY, label TEXT, clientId TEXT,
    clientSecret TEXT, refreshToken TEXT, accessToken TEXT, other TEXT,
    last_refresh_time TEXT, last_refresh_status TEXT, created_at TEXT,
    updated_at TEXT, enabled INTEGER DEFAULT 1,
    error_count INTEGER DEFAULT 0, success_count INTEGER DEFAULT 0);
INSERT INTO accounts (id, label, clientId, clientSecret, refreshToken,
    accessToken, other, last_refresh_time, last_refresh_status, created_at,
    updated_at, enabled, error_count, success_count) VALUES
  ('q-1', 'main', 'cid', 'csecret', 'rtok', 'tok-q1', '{"source":"feed"}',
   '2025-01-02T03:04:05', 'success', '2025-01-02T03:04:05',
   '2025-01-02T03:04:05', 1, 3, 7),
  ('q-2', 'off', NULL, NULL, NULL, 'tok-q2', NULL, NULL, 'never',
   '2025-01-02T03:04:05', '2025-01-02T03:04:05', 0, 0, 0),
  ('q-3', 'no token yet', 'cid', 'csecret', 'rtok', NULL, NULL, NULL,
   'never', '2025-01-02T03:04:05', '2025-01-02T03:04:05', 1, 0, 0);
_SQL_

    my $E = gateway(db => 'q2api');
    ok(wait_for(5, sub { log_of($E) =~ /postgres store ready, 3 accounts/ }),
       "q2api's rows load") or diag(log_of($E));
    like(log_of($E), qr/adding to the accounts table: expires_at, type,/,
         'the missing columns are added');
    my %have = map { $_ => 1 } split ' ', columns_of('q2api');
    is(scalar(grep { !$have{$_} } @COLUMNS), 0, 'every column is there');

    $mock->reset;
    my @st = map { ask($E)->{status} } 1 .. 6;
    is_deeply(\@st, [ (200) x 6 ], '6 requests served');
    my %seen = map { $_ => 1 } tokens_seen();
    is_deeply([ keys %seen ], [ 'tok-q1' ],
              'only by the enabled account with a token');

    my $row = wait_for(3, sub {
        my $v = db_value("SELECT success_count, error_count, created_at, "
                       . "other, clientId, status, updated_at "
                       . "FROM accounts WHERE id = 'q-1'", db => 'q2api');
        $v =~ /^13\|/ && $v });
    my @f = split /\|/, $row || '';
    is($f[0], 13, "q2api's success_count goes on from 7");
    is($f[1], 0, 'error_count is consecutive errors: reset by a success');
    is($f[2], '2025-01-02T03:04:05', 'created_at kept');
    is($f[3], '{"source":"feed"}', 'other kept');
    is($f[4], 'cid', 'clientId kept');
    is($f[5], 'active', 'status active');
    like($f[6], qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/,
         "updated_at in q2api's format");
    is(db_value("SELECT enabled || ' ' || success_count FROM accounts "
              . "WHERE id = 'q-2'", db => 'q2api'), '0 0',
       'the disabled account untouched');

    # a row of a type this module does not serve is left alone
    $pg->psql("INSERT INTO accounts (id, accessToken, type) VALUES "
            . "('g-1', 'tok-g', 'bedrock'); "
            . "NOTIFY q2api_accounts, 'amq:g-1'", db => 'q2api');
    sleep 0.3;
    $mock->reset;
    ask($E) for 1 .. 3;
    %seen = map { $_ => 1 } tokens_seen();
    is_deeply([ keys %seen ], [ 'tok-q1' ], 'a row of an unknown type is not used');

    $E->stop;
}

# --------------------------------------------------------------------------
# 10,000 accounts
# --------------------------------------------------------------------------

{
    $pg->psql('CREATE DATABASE bulk');
    $pg->psql(<<'_SQL_', db => 'bulk');
CREATE TABLE accounts (id TEXT PRIMARY KEY, label TEXT, clientId TEXT,
    clientSecret TEXT, refreshToken TEXT, accessToken TEXT, other TEXT,
    last_refresh_time TEXT, last_refresh_status TEXT, created_at TEXT,
    updated_at TEXT, enabled INTEGER DEFAULT 1,
    error_count INTEGER DEFAULT 0, success_count INTEGER DEFAULT 0,
    expires_at TEXT);
INSERT INTO accounts (id, label, accessToken, created_at)
    SELECT 'bulk-' || g, 'bulk', 'tok-bulk-' || g, '2025-06-01T00:00:00'
    FROM generate_series(1, 10000) AS g;
_SQL_

    my $t = time;
    my $F = gateway(db => 'bulk', zone => '64m');
    ok(wait_for(10, sub { log_of($F) =~ /store ready, 10000 accounts/ }),
       sprintf('10,000 accounts loaded in %.2f s', time - $t))
        or diag(log_of($F));

    $mock->reset;
    my @st = map { ask($F)->{status} } 1 .. 20;
    is_deeply(\@st, [ (200) x 20 ], 'and served');
    my %seen = map { $_ => 1 } tokens_seen();
    is(scalar(grep { /^tok-bulk-\d+$/ } keys %seen), 20,
       'by 20 different accounts');

    # an empty notification reloads everything
    $t = time;
    $pg->psql("UPDATE accounts SET enabled = 0 WHERE id <> 'bulk-4242'; "
            . "NOTIFY q2api_accounts, ''", db => 'bulk');
    my $only = wait_for(5, sub {
        $mock->reset;
        ask($F) for 1 .. 3;
        my %s = map { $_ => 1 } tokens_seen();
        join(' ', keys %s) eq 'tok-bulk-4242';
    });
    ok($only, sprintf('a full reload of 10,000 rows applied within %.2f s',
                      time - $t));

    my $written = wait_for(3, sub {
        db_value("SELECT success_count FROM accounts WHERE id = 'bulk-4242'",
                 db => 'bulk') >= 3 });
    ok($written, 'and its successes written');

    $F->stop;
}

# --------------------------------------------------------------------------
# two nodes, one database: what the admin API changes on one, the other
# serves
# --------------------------------------------------------------------------

{
    $pg->psql('CREATE DATABASE admin2');
    my $G = gateway(db => 'admin2');
    my $H = gateway(db => 'admin2');
    ok(wait_for(10, sub { log_of($G) =~ /store ready/
                          && log_of($H) =~ /store ready/ }),
       'two nodes on one database');

    my %auth = (authorization => 'Bearer admin-pw');
    my $admin = sub {
        my ($n, $method, $path, $body) = @_;
        my $r = HTTP::Tiny->new(timeout => 10)->request($method,
            'http://127.0.0.1:' . $n->port . "/admin$path",
            { headers => { %auth, 'content-type' => 'application/json' },
              defined $body ? (content => $body) : () });
        my $j = eval { JSON::PP->new->decode($r->{content}) };
        return ($r->{status}, $j, $r->{content});
    };

    my ($st, $j, $raw) = $admin->($G, 'POST', '/v2/accounts',
        '{"id":"twin","label":"made on G","accessToken":"tok-twin"}');
    is($st, 200, 'an account created through the admin API of node G')
        or diag($raw);

    my $seen = wait_for(5, sub {
        my ($s, $a) = $admin->($H, 'GET', '/v2/accounts/twin');
        $s == 200 && ($a->{label} // '') eq 'made on G' });
    ok($seen, 'is listed by node H');

    $mock->reset;
    is(ask($H)->{status}, 200, 'and serves there');
    is_deeply([ tokens_seen() ], ['tok-twin'], 'with its token');

    ($st, $j, $raw) = $admin->($H, 'PATCH', '/v2/accounts/twin',
                               '{"enabled":false}');
    is($st, 200, 'disabled through node H') or diag($raw);
    ok(wait_for(5, sub {
        my ($s, $a) = $admin->($G, 'GET', '/v2/accounts/twin');
        $s == 200 && $a->{enabled} ne '' && !$a->{enabled} }),
       'node G sees it disabled');
    is(ask($G)->{status}, 503, 'and no longer serves with it');

    ($st) = $admin->($G, 'DELETE', '/v2/accounts/twin');
    is($st, 200, 'deleted through node G');
    ok(wait_for(5, sub { ($admin->($H, 'GET', '/v2/accounts/twin'))[0]
                         == 404 }),
       'gone from node H');
    is(db_value("SELECT count(*) FROM accounts WHERE id = 'twin'",
                db => 'admin2'), 0, 'and from the database');

    $G->stop;
    $H->stop;
}

# --------------------------------------------------------------------------
# two nodes, one database, an expired token whose refresh token rotates:
# one refresh call in all, and both nodes use its token
# --------------------------------------------------------------------------

{
    $pg->psql('CREATE DATABASE lease');
    $pg->psql(<<'_SQL_', db => 'lease');
CREATE TABLE accounts (id TEXT PRIMARY KEY, label TEXT, clientId TEXT,
    clientSecret TEXT, refreshToken TEXT, accessToken TEXT, other TEXT,
    last_refresh_time TEXT, last_refresh_status TEXT, created_at TEXT,
    updated_at TEXT, enabled INTEGER DEFAULT 1,
    error_count INTEGER DEFAULT 0, success_count INTEGER DEFAULT 0,
    expires_at TEXT);
INSERT INTO accounts (id, label, clientId, clientSecret, refreshToken,
    accessToken, expires_at)
    VALUES ('rot', 'rotating', 'client-1', 'secret-1', 'ref-old', 'tok-old',
            to_char(now() AT TIME ZONE 'UTC' - interval '1 minute',
                    'YYYY-MM-DD"T"HH24:MI:SS'));
_SQL_

    my $I = gateway(db => 'lease');
    my $J = gateway(db => 'lease');
    ok(wait_for(10, sub { log_of($I) =~ /store ready, 1 accounts/
                          && log_of($J) =~ /store ready, 1 accounts/ }),
       'two nodes on one database with an expired account')
        or diag(log_of($I), log_of($J));

    # a second refresh with ref-old would be refused, as Kiro and the
    # OIDC service refuse a rotated refresh token used twice
    $mock->reset;
    $mock->set_script({
        by_path => { '/token' => [
            { delay_ms => 800,
              json => { accessToken => 'tok-new', refreshToken => 'ref-new',
                        expiresIn => 3600 } },
            { status => 400, json => { error => 'invalid_grant' } } ] },
        by_token => { 'tok-new' => [ text_response('fresh') ],
                      '*' => [ error_response('expired') ] },
    });

    my @kids;
    for my $i (1 .. 40) {
        my $n = $i % 2 ? $I : $J;
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if ($pid == 0) {
            my $r = ask($n);
            POSIX::_exit($r->{status} == 200
                         && $r->{content} =~ /"text":"fresh"/ ? 0 : 1);
        }
        push @kids, [ $pid, $n == $I ? 'I' : 'J' ];
    }

    my %ok = (I => 0, J => 0);
    for my $k (@kids) {
        waitpid $k->[0], 0;
        $ok{ $k->[1] }++ if $? == 0;
    }

    is($ok{I}, 20, 'node I: every request served with the new token');
    is($ok{J}, 20, 'node J: every request served with the new token');

    my @reqs = $mock->requests;
    my @refresh = grep { $_->{path} eq '/token' } @reqs;
    my @chat = grep { $_->{path} eq '/' } @reqs;
    is(scalar @refresh, 1, 'exactly one refresh call for both nodes');
    is(($refresh[0]{json}{refreshToken} // ''), 'ref-old',
       'made with the stored refresh token');
    is(scalar @chat, 40, 'forty chat calls');
    is(scalar(grep { $_->{headers}{authorization} eq 'Bearer tok-new' }
              @chat), 40, 'all with the new token');

    my $row = wait_for(5, sub {
        my $v = db_value("SELECT refreshToken || ' ' || accessToken || ' ' "
                       . "|| coalesce(status, 'active') FROM accounts "
                       . "WHERE id = 'rot'", db => 'lease');
        $v eq 'ref-new tok-new active' && $v });
    ok($row, 'the database holds the rotated refresh token, active')
        or diag(db_value("SELECT refreshToken, status, status_reason "
                       . "FROM accounts WHERE id = 'rot'", db => 'lease'));
    # the other node may have taken the lease after the write, to find
    # the new token in the row: it lets it go at once
    my $leases;
    ok(wait_for(5, sub {
        $leases = db_value("SELECT count(*) FROM q2api_refresh_lease",
                           db => 'lease', allow_error => 1) // 'no table';
        $leases eq '0' }), 'and the refresh lease is released')
        or diag("leases: $leases");

    for my $n ($I, $J) {
        unlike(log_of($n), qr/needs login|ref-new|tok-new|secret-1/,
               'no account taken out, no secret logged');
    }

    $I->stop;
    $J->stop;
}

# --------------------------------------------------------------------------
# the database out of reach: a refresh goes on with the node's own lease
# --------------------------------------------------------------------------

{
    $pg->psql('CREATE DATABASE lease2');
    $pg->psql(<<'_SQL_', db => 'lease2');
CREATE TABLE accounts (id TEXT PRIMARY KEY, label TEXT, clientId TEXT,
    clientSecret TEXT, refreshToken TEXT, accessToken TEXT, other TEXT,
    last_refresh_time TEXT, last_refresh_status TEXT, created_at TEXT,
    updated_at TEXT, enabled INTEGER DEFAULT 1,
    error_count INTEGER DEFAULT 0, success_count INTEGER DEFAULT 0,
    expires_at TEXT);
INSERT INTO accounts (id, clientId, clientSecret, refreshToken, accessToken,
    expires_at)
    VALUES ('alone', 'client-1', 'secret-1', 'ref-a', 'tok-a',
            to_char(now() AT TIME ZONE 'UTC' - interval '1 minute',
                    'YYYY-MM-DD"T"HH24:MI:SS'));
_SQL_

    my $K = gateway(db => 'lease2');
    ok(wait_for(10, sub { log_of($K) =~ /store ready, 1 accounts/ }),
       'a node with an expired account');

    $pg->stop;
    $mock->reset;
    $mock->set_script({
        by_path => { '/token' => [
            { json => { accessToken => 'tok-a2', refreshToken => 'ref-a2',
                        expiresIn => 3600 } } ] },
        by_token => { 'tok-a2' => [ text_response('fresh') ] },
    });

    my $t = time;
    my $r = ask($K);
    is($r->{status}, 200, 'the database down: the request is still served');
    cmp_ok(time - $t, '<', 9, sprintf('after a short wait (%.1f s)',
                                      time - $t));
    like(log_of($K), qr/\[warn\].*no store lease for refreshing account "alone"/,
         'with a warning');
    is(scalar(grep { $_->{path} eq '/token' } $mock->requests), 1,
       'one refresh');

    $pg->start;
    ok(wait_for(10, sub {
        (db_value("SELECT refreshToken FROM accounts WHERE id = 'alone'",
                  db => 'lease2') // '') eq 'ref-a2' }),
       'the rotated token written when the database is back');
    is(db_value("SELECT count(*) FROM q2api_refresh_lease", db => 'lease2'),
       0, 'no lease left behind');
    $K->stop;
}

# --------------------------------------------------------------------------
# finding 14: an account the module finds suspended is off for q2api too
# (enabled = 0, q2api_disabled = 1), on again when it recovers; an
# operator's disable is never undone
# --------------------------------------------------------------------------

{
    $mock->set_script({ by_token => {
        'tok-susp' => [ error_response('suspended') ],
        '*' => [ text_response('ok') ],
    } });
    $pg->psql('CREATE DATABASE health');
    my $N = gateway(db => 'health', workers => 1);
    ok(wait_for(10, sub { log_of($N) =~ /store ready/ }), 'health: ready');
    $pg->psql("INSERT INTO accounts (id, accessToken, enabled) VALUES "
            . "('h-s', 'tok-susp', 1), ('h-ok', 'tok-ok', 1), "
            . "('h-off', 'tok-off', 0); NOTIFY q2api_accounts, ''",
              db => 'health');
    $mock->reset;
    ok(wait_for(5, sub { ask($N)->{status} == 200 }), 'rows loaded');

    ok(wait_for(5, sub { ask($N); grep { $_ eq 'tok-susp' } tokens_seen() }),
       'the module met the suspension');
    my $row = sub {
        db_value("SELECT coalesce(status, '-') || ' ' || enabled || ' ' "
               . "|| q2api_disabled FROM accounts WHERE id = '$_[0]'",
                 db => 'health');
    };
    is(wait_for(5, sub { my $v = $row->('h-s'); $v =~ /^suspended/ && $v }),
       'suspended 0 1',
       'suspended: enabled = 0 for q2api, q2api_disabled = 1');
    is(db_value("SELECT string_agg(id, ' ' ORDER BY id) FROM accounts "
              . "WHERE enabled = 1", db => 'health'),
       'h-ok', "q2api's query for enabled accounts finds only the good one");
    is($row->('h-off'), 'active 0 0', "the operator's disabled row as it was");

    # read back from the database, the module's flag is still on
    $pg->psql("NOTIFY q2api_accounts, 'x:h-s'", db => 'health');
    sleep 0.5;
    my $get = sub {
        my ($id) = @_;
        my $r = HTTP::Tiny->new(timeout => 10)->request('GET',
            'http://127.0.0.1:' . $N->port . "/admin/v2/accounts/$id",
            { headers => { authorization => 'Bearer admin-pw' } });
        return eval { JSON::PP->new->decode($r->{content}) } // {};
    };
    my $a = $get->('h-s');
    ok($a->{enabled} && $a->{status} eq 'suspended',
       'the module reads it as enabled by the operator and suspended')
        or diag(JSON::PP->new->encode($a));
    $mock->reset;
    ask($N) for 1 .. 4;
    ok(!grep({ $_ eq 'tok-susp' } tokens_seen()), 'and does not use it');

    my $patch = sub {
        my ($id, $body) = @_;
        return HTTP::Tiny->new(timeout => 10)->request('PATCH',
            'http://127.0.0.1:' . $N->port . "/admin/v2/accounts/$id",
            { headers => { authorization => 'Bearer admin-pw',
                           'content-type' => 'application/json' },
              content => $body })->{status};
    };

    # recovery: back on for q2api, the flag cleared
    is($patch->('h-s', '{"enabled":true}'), 200, 'an operator clears it');
    is(wait_for(5, sub { my $v = $row->('h-s'); $v =~ /^active/ && $v }),
       'active 1 0', 'recovered: enabled = 1 again, q2api_disabled = 0');

    # suspended again, then disabled by the operator: it stays off
    $mock->reset;
    ok(wait_for(5, sub { ask($N); grep { $_ eq 'tok-susp' } tokens_seen() }),
       'suspended again');
    ok(wait_for(5, sub { $row->('h-s') eq 'suspended 0 1' }),
       'off for q2api again');
    is($patch->('h-s', '{"enabled":false}'), 200,
       'the operator disables it while suspended');
    is(wait_for(5, sub { my $v = $row->('h-s'); $v =~ / 0 0$/ && $v }),
       'suspended 0 0', "now it is the operator's: q2api_disabled = 0");
    is($patch->('h-off', '{"label":"renamed"}'), 200,
       "a change to the operator's disabled row");
    ok(wait_for(5, sub { db_value("SELECT label FROM accounts WHERE id = "
                                . "'h-off'", db => 'health') eq 'renamed' }),
       'is written');
    is($row->('h-off'), 'active 0 0', 'and leaves it disabled');
    $N->stop;
}

# --------------------------------------------------------------------------
# q2api_store_key: credentials sealed in the table, plaintext rows sealed
# at their next write, the export opens them, another node with the key
# reads them, a node without it skips them
# --------------------------------------------------------------------------

{
    $mock->set_script({ responses => [ text_response('ok') ] });
    $pg->psql('CREATE DATABASE sealed');
    my $KEY = 'c3' x 32;
    my $S = gateway(db => 'sealed', workers => 1, key => 'store.key',
                    no_start => 1);
    $S->write_file('conf/store.key', "$KEY\n");
    chmod 0600, $S->prefix . '/conf/store.key';
    $S->start;
    ok(wait_for(10, sub { log_of($S) =~ /store ready/ }), 'sealed: ready');
    $pg->psql("INSERT INTO accounts (id, accessToken, refreshToken, "
            . "clientId, clientSecret) VALUES "
            . "('s-1', 'tok-s1', 'refresh-s1', 'cid', 'secret-s1'); "
            . "NOTIFY q2api_accounts, ''", db => 'sealed');
    $mock->reset;
    ok(wait_for(5, sub { ask($S)->{status} == 200 }),
       'a plaintext row serves with the key set');
    ok((grep { $_ eq 'tok-s1' } tokens_seen()), 'with its token');
    my $cols = sub {
        db_value("SELECT accesstoken || ' ' || refreshtoken || ' ' || "
               . "clientsecret || ' ' || clientid FROM accounts "
               . "WHERE id = 's-1'", db => 'sealed');
    };
    my $v = wait_for(5, sub { my $v = $cols->(); $v =~ /^enc:/ && $v });
    like($v // '', qr{^enc:v1:[A-Za-z0-9+/=]+ enc:v1:[A-Za-z0-9+/=]+ enc:v1:[A-Za-z0-9+/=]+ cid$},
         'sealed at its next write; the client id stays readable');

    my $r = HTTP::Tiny->new(timeout => 10)->request('GET',
        'http://127.0.0.1:' . $S->port . '/admin/v2/accounts/export',
        { headers => { authorization => 'Bearer admin-pw' } });
    like($r->{content}, qr/"refreshToken":"refresh-s1"/,
         'the export opens them');

    my $T = gateway(db => 'sealed', workers => 1, key => 'store.key',
                    no_start => 1);
    $T->write_file('conf/store.key', "$KEY\n");
    chmod 0600, $T->prefix . '/conf/store.key';
    $T->start;
    ok(wait_for(10, sub { log_of($T) =~ /store ready, 1 accounts/ }),
       'another node with the key loads the sealed row');
    $mock->reset;
    is(ask($T)->{status}, 200, 'and serves');
    ok((grep { $_ eq 'tok-s1' } tokens_seen()), 'with the opened token');
    $T->stop;

    my $U = gateway(db => 'sealed', workers => 1);
    ok(wait_for(10, sub { log_of($U) =~ /1 rows skipped: their credentials do not open with q2api_store_key/ }),
       'a node without the key skips the row and says why')
        or diag(log_of($U));
    unlike(log_of($U), qr/enc:v1:/, 'without quoting it');
    $U->stop;
    $S->stop;
}

# --------------------------------------------------------------------------
# 1,200 accounts dirty at once (an import): written in batches of 500, so
# that no turn of the event loop sends them all; every one reaches the
# table
# --------------------------------------------------------------------------

{
    $pg->psql('CREATE DATABASE batch');
    my $N = gateway(db => 'batch', workers => 1);
    ok(wait_for(10, sub { log_of($N) =~ /store ready/ }), 'batch: ready');
    my $rows = JSON::PP->new->encode([ map {
        { id => "imp-$_", accessToken => "tok-imp-$_" } } 1 .. 1200 ]);
    my $r = HTTP::Tiny->new(timeout => 30)->request('POST',
        'http://127.0.0.1:' . $N->port . '/admin/v2/accounts/import',
        { headers => { authorization => 'Bearer admin-pw',
                       'content-type' => 'application/json' },
          content => $rows });
    is($r->{status}, 200, '1,200 accounts imported') or diag($r->{content});
    is(wait_for(10, sub {
           my $v = db_value("SELECT count(*) FROM accounts "
                          . "WHERE id LIKE 'imp-%'", db => 'batch');
           $v == 1200 && $v }) || 0,
       1200, 'all written to the table');
    $N->stop;
}

$mock->stop;
$pg->stop;

note(sprintf('%.1f s', time - $T0));

done_testing();
