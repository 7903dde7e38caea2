# The listing's search, sort keys and pages (GET /v2/accounts?q=&offset=
# &limit=), what the console moves through ten thousand accounts with.

use Test::Nginx::Socket 'no_plan';
use Q2api::Test;
use Q2api::Gateway;
use Q2api::Admin qw(accounts);

repeat_each(1);
no_shuffle();
no_root_location();

our $HTTP = $Q2api::Admin::HTTP;
our $ADMIN = $Q2api::Admin::ADMIN;
our $AUTH = $Q2api::Admin::AUTH;

our @ROWS = (
    { id => 'a', label => 'Zeta <b>', accessToken => 'tok-a', created_at => 1000,
      tokens_in => 50, tokens_out => 7, total_errors => 2 },
    { id => 'b', label => 'alpha', accessToken => 'tok-b', created_at => 3000,
      tokens_in => 10, tokens_out => 70, total_errors => 0, type => 'kiro' },
    { id => 'c-zed', label => 'mid', accessToken => 'tok-c', created_at => 2000,
      tokens_in => 30, tokens_out => 1, total_errors => 9,
      status => 'suspended' },
    { id => 'd', label => undef, accessToken => 'tok-d', created_at => 4000,
      tokens_in => 0, tokens_out => 0, total_errors => 1, enabled => 0 },
);

# the ids of a listing, in order, with its trailer
sub ids {
    my ($body) = @_;
    my @ids = $body =~ /\{"id":"([^"]+)"/g;
    my ($trailer) = $body =~ /\],("count".*)\}$/;
    return join(',', @ids) . ' ' . ($trailer // '?');
}

run_tests();

__DATA__

=== TEST 1: search: case-insensitive, in ids and labels, combined with filters; no page, no trailer
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval: main::accounts(@::ROWS)
--- request eval
[map { "GET /v2/accounts?$_" } 'q=ZE', 'q=zed', 'q=%3Cb%3E', 'q=ze&status=suspended',
 'q=nothing', 'q=', 'q=A&enabled=false']
--- error_code eval
[(200) x 7]
--- response_body_filters eval: \&main::ids
--- response_body eval
['c-zed,a "count":2', 'c-zed "count":1', 'a "count":1', 'c-zed "count":1',
 ' "count":0', 'd,b,c-zed,a "count":4', ' "count":0']



=== TEST 2: the sort keys the console's columns use, both orders, ties broken by id; labels ignore case
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval: main::accounts(@::ROWS)
--- request eval
[map { "GET /v2/accounts?sort_by=$_" }
 'tokens_in', 'tokens_out&sort_order=asc', 'total_errors', 'id&sort_order=asc',
 'status', 'type&sort_order=asc', 'label&sort_order=asc', 'error_count&sort_order=asc',
 'updated_at&sort_order=bogus']
--- error_code eval
[(200) x 8, 400]
--- response_body_filters eval: \&main::ids
--- response_body eval
['a,c-zed,b,d "count":4', 'd,c-zed,a,b "count":4', 'c-zed,a,d,b "count":4',
 'a,b,c-zed,d "count":4', 'c-zed,d,b,a "count":4', 'a,c-zed,d,b "count":4',
 'd,b,c-zed,a "count":4', 'a,b,c-zed,d "count":4', ' ?']



=== TEST 3: pages: the rows of the page, with the total that matched and the page asked for
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval: main::accounts(@::ROWS)
--- request eval
[map { "GET /v2/accounts?$_" } 'limit=2', 'offset=2&limit=2', 'limit=2&offset=3', 'offset=9',
 'offset=1', 'q=a&limit=1&sort_by=label&sort_order=asc', 'limit=1000']
--- error_code eval
[(200) x 7]
--- response_body_filters eval: \&main::ids
--- response_body eval
['d,b "count":2,"total":4,"offset":0,"limit":2',
 'c-zed,a "count":2,"total":4,"offset":2,"limit":2',
 'a "count":1,"total":4,"offset":3,"limit":2',
 ' "count":0,"total":4,"offset":9,"limit":null',
 'b,c-zed,a "count":3,"total":4,"offset":1,"limit":null',
 'b "count":1,"total":2,"offset":0,"limit":1',
 'd,b,c-zed,a "count":4,"total":4,"offset":0,"limit":1000']



=== TEST 4: bad pages and searches are 400s naming the argument
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval: main::accounts(@::ROWS)
--- request eval
[map { "GET /v2/accounts?$_" } 'limit=0', 'limit=1001', 'limit=ten', 'offset=-1',
 'offset=', 'q=' . ('x' x 257), 'limit=99999999999999999999']
--- error_code eval
[(400) x 7]
--- response_body eval
[('{"detail":"limit: expected a number from 1 to 1000"}') x 3,
 ('{"detail":"offset: expected a number from 0"}') x 2,
 '{"detail":"q: longer than 256 bytes"}',
 '{"detail":"limit: expected a number from 1 to 1000"}']
