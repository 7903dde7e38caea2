# The admin API's chat test with an OpenAI Chat Completions body: chosen
# by the body's shape (no max_tokens, or OpenAI's own fields) or by
# ?dialect=, answered in that dialect through the same test location.

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
our $CHAT = $Q2api::Admin::CHAT;

our $OPENAI = '{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}';
our $OPENAI_MAX = '{"model":"claude-sonnet-4-5","max_tokens":10,"max_completion_tokens":10,"messages":[{"role":"user","content":"hi"}]}';
our $BOTH = '{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}';

run_tests();

__DATA__

=== TEST 1: the body's shape chooses the dialect of the chat test
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval: main::accounts('one')
--- mock eval
[ map { text_response('from one') } 1 .. 3 ]
--- request eval
["POST /v2/chat/test?account_id=one\n$::OPENAI", "POST /v2/chat/test\n$::OPENAI_MAX", "POST /v2/chat/test\n$::CHAT"]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[qr/^\{"id":"chatcmpl-[0-9a-f]{24}","object":"chat\.completion",.*"message":\{"role":"assistant","content":"from one"/,
 qr/"object":"chat\.completion"/,
 qr/^\{"id":"msg_[0-9a-f]{24}","type":"message",.*"text":"from one"/]
--- mock_requests eval
[1, 1, 1]



=== TEST 2: ?dialect= chooses it for a body that fits both; an unknown one is a 400
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval: main::accounts('one')
--- mock eval
[ map { text_response('from one') } 1 .. 2 ]
--- request eval
["POST /v2/chat/test?dialect=openai\n$::BOTH", "POST /v2/chat/test?dialect=claude\n$::BOTH", "POST /v2/chat/test?dialect=gemini\n$::BOTH"]
--- error_code eval
[200, 200, 400]
--- response_body_like eval
[qr/"object":"chat\.completion"/, qr/"type":"message"/, qr/^\{"detail":"dialect: expected \\"claude\\" or \\"openai\\""\}$/]
--- mock_requests eval
[1, 1, 0]



=== TEST 3: an OpenAI body's own mistakes come back in OpenAI's envelope
--- http_config eval: $::HTTP
--- config eval: $::ADMIN
--- more_headers eval: $::AUTH
--- user_files eval: main::accounts('one')
--- request
POST /v2/chat/test
{"model":"claude-sonnet-4-5","n":3,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 400
--- response_body_like chomp
^\{"error":\{"message":"n: only 1 is supported[^"]*","type":"invalid_request_error","param":"n","code":null\}
--- mock_requests: 0
