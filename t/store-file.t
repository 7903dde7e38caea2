# The JSON file store against a real nginx (Q2api::Nginx): the file is
# written back in the shape it was read (a bare array, q2api's text times,
# enabled as 0/1), an unwritable file backs off with one line per try and
# says once that it is written again, a file rewritten under traffic is
# never seen torn, and q2api_store_key seals the credentials at rest:
# a bad key fails nginx -t, plaintext rows are sealed at their next write,
# the export opens them, another key does not, and an old key is read
# while the new one seals.
#
# A plain Test::More file: it swaps files under a running nginx and starts
# several, which the Test::Nginx block format cannot express.

use strict;
use warnings;

use JSON::PP ();
use Test::More;
use Time::HiRes qw(sleep time);

use Q2api::Mock;
use Q2api::Mock::AmazonQ qw(:builders);
use Q2api::Nginx;

my $probe = Q2api::Nginx->new;
plan skip_all => "$probe->{binary} is not executable"
    unless -x $probe->{binary};
plan skip_all => "$probe->{module} is missing: run make"
    unless -f $probe->{module};
undef $probe;

$SIG{INT} = $SIG{TERM} = sub { exit 130 };

my $mock = Q2api::Mock->new(watch_parent => 1);
$mock->start;
$mock->set_script({ responses => [ text_response('ok') ] });
my $MPORT = $mock->port;

my $JSON = JSON::PP->new->canonical;

my $BODY = '{"model":"claude-sonnet-4-5","max_tokens":10,'
         . '"messages":[{"role":"user","content":"hi"}]}';

my $KEY = 'a1' x 32;
my $KEY2 = '5c' x 32;

# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

sub gateway {
    my (%o) = @_;
    my $n = Q2api::Nginx->new(workers => $o{workers} // 1,
                              http => <<"_EOC_", server => <<'_EOC_');
    q2api_zone q2api 64m;
    q2api_store file q2api/accounts.json;
    q2api_store_interval @{[ $o{interval} // '100ms' ]};
    q2api_amazonq_url http://127.0.0.1:$MPORT/;
    @{[ $o{key} ? "q2api_store_key $o{key};" : '' ]}
_EOC_
        location /v1/ {
            q2api_select round_robin;
            q2api_pass claude;
        }

        location / {
            q2api_admin;
            q2api_admin_password admin-pw;
        }
_EOC_
    mkdir $n->prefix . '/q2api';
    $n->write_file('q2api/accounts.json', $o{file}) if defined $o{file};
    for my $k (keys %{ $o{files} // {} }) {
        $n->write_file($k, $o{files}{$k});
        chmod 0600, $n->prefix . "/$k";
    }
    $n->start unless $o{no_start};
    return $n;
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

sub log_of { $_[0]->read_file('logs/error.log') // '' }

sub stored_text { $_[0]->read_file('q2api/accounts.json') // '' }

sub stored {
    my ($n) = @_;
    my $j = eval { $JSON->decode(stored_text($n)) };
    return $j;
}

sub rows {
    my ($j) = @_;
    return ref $j eq 'ARRAY' ? $j : $j->{accounts};
}

sub ask { $_[0]->post('/v1/messages', $BODY) }

# until the file says an account was used (the store wrote after a chat)
sub wait_used {
    my ($n, $id) = @_;
    return wait_for(10, sub {
        my $j = stored($n) or return;
        my ($row) = grep { $_->{id} eq $id } @{ rows($j) // [] };
        return $row && $row->{success_count} ? $j : undef;
    });
}

sub nginx_t {
    my ($n) = @_;
    $n->write_file('conf/nginx.conf', $n->config);
    my $p = $n->prefix;
    my $out = qx{$n->{binary} -t -p $p/ -c $p/conf/nginx.conf 2>&1};
    return ($? == 0, $out);
}

# --------------------------------------------------------------------------
# the shape that was read is the shape written
# --------------------------------------------------------------------------

{
    # q2api's own rows: a bare array, text times, enabled 0/1
    my $file = $JSON->encode([
        { id => 'q1', label => 'one', accessToken => 'tok-q1',
          refreshToken => 'r1', clientId => 'c1', clientSecret => 's1',
          enabled => 1, created_at => '2025-01-02T03:04:05',
          updated_at => '2025-01-02T03:04:05',
          expires_at => '2099-01-01T00:00:00' },
    ]);
    my $n = gateway(file => $file);
    is(ask($n)->{status}, 200, 'q2api rows: a chat');
    my $j = wait_used($n, 'q1');
    ok($j, 'the store wrote the chat back') or diag(stored_text($n));
    is(ref $j, 'ARRAY', 'a bare array stays a bare array');
    my $r = rows($j)->[0];
    is($r->{created_at}, '2025-01-02T03:04:05', "created_at stays q2api's text");
    like($r->{updated_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/,
         'updated_at is text');
    is($r->{expires_at}, '2099-01-01T00:00:00', 'expires_at stays text');
    like(stored_text($n), qr/"enabled":1[,}]/, 'enabled stays 0/1');
    is($r->{refreshToken}, 'r1', 'no key: the credentials as they were');
    $n->stop;
}

{
    # this module's own shape: an object, epoch seconds, booleans
    my $file = $JSON->encode({ accounts => [
        { id => 'm1', accessToken => 'tok-m1', enabled => JSON::PP::true,
          created_at => 1735787045, expires_at => 4070908800 },
    ] });
    my $n = gateway(file => $file);
    is(ask($n)->{status}, 200, 'module rows: a chat');
    my $j = wait_used($n, 'm1');
    is(ref $j, 'HASH', 'an object stays an object');
    my $r = rows($j)->[0];
    is($r->{created_at}, 1735787045, 'epoch times stay numbers');
    is($r->{expires_at}, 4070908800, 'expiry too');
    like(stored_text($n), qr/"enabled":true/, 'enabled stays a boolean');
    $n->stop;
}

# --------------------------------------------------------------------------
# an unwritable file: back-off, one line per try, recovery said once
# --------------------------------------------------------------------------

{
    my $n = gateway(file => $JSON->encode([
        { id => 'b1', accessToken => 'tok-b1' } ]));
    my $path = $n->prefix . '/q2api/accounts.json';

    # a directory where the file was: the rename over it fails
    rename $path, "$path.away" or die $!;
    mkdir $path or die $!;
    open my $fh, '>', "$path/keep" or die $!;
    close $fh;

    is(ask($n)->{status}, 200, 'a chat while the file cannot be written');

    # 100 ms ticks for ~3 s: 30 tries without a back-off
    my @delays;
    wait_for(8, sub {
        @delays = log_of($n) =~ /accounts file "[^"]+" cannot be written: .*?next try in (\d+) ms/g;
        return @delays >= 4;
    });
    sleep 1;
    @delays = log_of($n) =~ /accounts file "[^"]+" cannot be written: .*?next try in (\d+) ms/g;
    ok(@delays >= 4, 'each try is logged') or diag(log_of($n));
    is_deeply([ @delays[0 .. 3] ], [ 100, 200, 400, 800 ],
              'the delay doubles from the interval');
    ok(@delays <= 6, 'and the tries thin out: ' . scalar(@delays) . ' lines');
    like(log_of($n), qr/cannot be written: rename\(\) "[^"]+\.tmp" failed/,
         'the line names the call that failed');
    is(() = log_of($n) =~ /\[error\]/g, scalar @delays,
       'no other error line');

    unlink "$path/keep";
    rmdir $path or die $!;

    ok(wait_for(70, sub { log_of($n) =~ /accounts file "[^"]+" is written again/ }),
       'the recovery is logged');
    my $j = wait_used($n, 'b1');
    ok($j, 'and the chat counted meanwhile is in the file');
    sleep 0.5;
    is(() = log_of($n) =~ /is written again/g, 1, 'once');
    $n->stop;
}

# --------------------------------------------------------------------------
# 10,000 accounts rewritten under traffic: never torn
# --------------------------------------------------------------------------

{
    my $file = $JSON->encode({ accounts => [ map {
        { id => "acc-$_", accessToken => "tok-$_", clientId => "c$_",
          clientSecret => 's' x 40, refreshToken => 'r' x 200 } } 1 .. 10000 ] });
    my $n = gateway(file => $file, interval => '50ms');
    my ($bad, $reads) = (0, 0);

    # JSON::PP takes seconds for a file this size: whole is checked by its
    # ends and its count of rows, and parsed once at the end
    for my $i (1 .. 30) {
        ask($n);
        my $t = stored_text($n);
        $reads++;
        my $rows = () = $t =~ /"id":"acc-\d+"/g;
        $bad++ unless $t =~ /\A\{"accounts":\[\{.*\}\]\}\n?\z/s
                      && $rows == 10000;
    }
    ok(wait_for(10, sub {
        (() = stored_text($n) =~ /"success_count":[1-9]/g) >= 30 }),
       'every chat counted in the file');
    my $j = stored($n);
    is($bad, 0, "$reads reads of the file while it was rewritten: none torn");
    is(scalar @{ rows($j) }, 10000, 'all 10,000 accounts');
    my %ids = map { $_->{id} => 1 } @{ rows($j) };
    is(scalar keys %ids, 10000, 'each once');
    is(() = log_of($n) =~ /\[(?:error|alert|crit)\]/g, 0, 'no error logged');
    $n->stop;
}

# --------------------------------------------------------------------------
# q2api_store_key: secrets sealed at rest
# --------------------------------------------------------------------------

{
    for my $case ([ 'short', 'abc' ], [ 'not hex', 'zz' x 32 ],
                  [ 'empty', '' ]) {
        my ($name, $content) = @$case;
        my $n = gateway(key => 'store.key', no_start => 1,
                        files => { 'conf/store.key' => $content });
        my ($ok, $out) = nginx_t($n);
        ok(!$ok, "a key file that is $name fails nginx -t");
        like($out, qr/q2api_store_key "[^"]+store\.key" must hold 32 raw bytes or 64 hex digits/,
             'with a message saying what it must hold');
        unlike($out, qr/zzzz/, 'the file is not quoted') if $name eq 'not hex';
    }

    my $n = gateway(key => 'no-such.key', no_start => 1);
    my ($ok, $out) = nginx_t($n);
    ok(!$ok, 'a missing key file fails nginx -t');
    like($out, qr/open\(\) "[^"]+no-such\.key" failed/, 'named');

    $n = gateway(key => 'raw.key', no_start => 1,
                 files => { 'conf/raw.key' => 'k' x 32 });
    ($ok, $out) = nginx_t($n);
    ok($ok, 'a key of 32 raw bytes passes nginx -t') or diag($out);
}

{
    # plaintext rows, then the key: sealed at the next write
    my $file = $JSON->encode([
        { id => 'k1', accessToken => 'tok-k1', refreshToken => 'refresh-k1',
          clientId => 'cid-k1', clientSecret => 'secret-k1', enabled => 1,
          created_at => '2025-01-02T03:04:05' },
        { id => 'k2', accessToken => 'tok-k2', refreshToken => 'refresh-k2',
          enabled => 1 },
    ]);
    my $n = gateway(file => $file, key => 'store.key',
                    files => { 'conf/store.key' => "$KEY\n" });
    is(ask($n)->{status}, 200, 'plaintext rows serve with a key set');
    my $j = wait_used($n, 'k1') || wait_used($n, 'k2');
    ok($j, 'written after a chat');
    my $text = stored_text($n);
    unlike($text, qr/tok-k1|refresh-k1|secret-k1|tok-k2|refresh-k2/,
           'no credential in the file in plaintext');
    my ($r) = grep { $_->{id} eq 'k1' } @{ rows($j) };
    like($r->{$_}, qr/^enc:v1:[A-Za-z0-9+\/=]+$/, "$_ sealed")
        for qw(accessToken refreshToken clientSecret);
    is($r->{clientId}, 'cid-k1', 'what is not secret stays readable');
    isnt(rows($j)->[0]{refreshToken}, rows($j)->[1]{refreshToken},
         'each value its own nonce');

    my ($ok, $out);
    my $exp = $n->get('/v2/accounts/export',
                      Authorization => 'Bearer admin-pw');
    is($exp->{status}, 200, 'the export answers');
    like($exp->{content}, qr/"refreshToken":"refresh-k1"/,
         'the export opens the sealed values');

    # the sealed file, read again by a new nginx with the same key
    $n->stop;
    my $sealed = $text;
    my $m = gateway(file => $sealed, key => 'store.key',
                    files => { 'conf/store.key' => "$KEY\n" });
    $mock->reset;
    is(ask($m)->{status}, 200, 'a sealed file loads with its key');
    my ($auth) = map { $_->{headers}{authorization} } $mock->requests;
    like($auth // '', qr/^Bearer tok-k[12]$/,
         'and the backend gets the opened token');
    $m->stop;

    # without the key, or with another one: refused, with the reason
    $m = gateway(file => $sealed, no_start => 1);
    ($ok, $out) = nginx_t($m);
    ok(!$ok, 'a sealed file without q2api_store_key fails nginx -t');
    like($out, qr/account "k[12]" in "[^"]+": "\w+" cannot be opened with q2api_store_key \(it is sealed and no key is set\)/,
         'naming the account, the field and why');
    unlike($out, qr/enc:v1:/, 'not the value');

    $m = gateway(file => $sealed, key => 'other.key', no_start => 1,
                 files => { 'conf/other.key' => $KEY2 });
    ($ok, $out) = nginx_t($m);
    ok(!$ok, 'another key fails nginx -t too');
    like($out, qr/cannot be opened with q2api_store_key \(another key, or a damaged value\)/,
         'saying so');

    # rotation: the new key seals, the old one still opens
    $m = gateway(file => $sealed, key => 'new.key old=old.key',
                 files => { 'conf/new.key' => $KEY2,
                            'conf/old.key' => $KEY });
    is(ask($m)->{status}, 200, 'rotation: the old key opens the file');
    ok(wait_used($m, 'k1') && wait_for(5, sub { stored_text($m) ne $sealed }),
       'and the file is written again');
    my $rotated = stored_text($m);
    $m->stop;

    $m = gateway(file => $rotated, key => 'new.key', no_start => 1,
                 files => { 'conf/new.key' => $KEY2 });
    ($ok, $out) = nginx_t($m);
    ok($ok, 'after a write the new key alone opens it') or diag($out);

    $m = gateway(file => $rotated, key => 'old.key', no_start => 1,
                 files => { 'conf/old.key' => $KEY });
    ($ok, $out) = nginx_t($m);
    ok(!$ok, 'and the old one no longer does');
}

done_testing();
