/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The Messages request's top-level fields, tools and sampling parameters:
 * what is refused, in which words, and what a valid body becomes.
 */


#include "claude_check.h"


static void
test_top_level_errors(void)
{
    rejects_raw("", 0, "request body is empty", "empty body");
    rejects_raw("{\"model\":\"\xff\"}", 12, "not valid UTF-8",
                "invalid UTF-8");
    rejects_raw("{\"model\":\"\xc0\xaf\"}", 13, "not valid UTF-8",
                "overlong UTF-8");
    rejects("{'model':", "not valid JSON", "truncated JSON");
    rejects("{model:1}", "not valid JSON", "unquoted key");
    rejects("{'model':'m','messages':[{'role':'user','content':'hi'}]} x",
            "not valid JSON", "trailing garbage after the object");
    rejects("{'model':'m','messages':[{'role':'user','content':'hi'}]}{}",
            "not valid JSON", "two objects");
    rejects("[]", "must be a JSON object", "array body");
    rejects("'hello'", "must be a JSON object", "string body");
    rejects("42", "must be a JSON object", "number body");
    rejects("null", "must be a JSON object", "null body");

    rejects("{'messages':[]}", "model: field required", "model missing");
    rejects("{'model':null}", "model: field required", "model null");
    rejects("{'model':''}", "model: expected a non-empty string",
            "model empty");
    rejects("{'model':7}", "model: expected a non-empty string",
            "model a number");
    rejects("{'model':['m']}", "model: expected a non-empty string",
            "model an array");

    rejects(BODY("'max_tokens':0," MSG("'x'")), "max_tokens:",
            "max_tokens 0");
    rejects(BODY("'max_tokens':-5," MSG("'x'")), "max_tokens:",
            "max_tokens negative");
    rejects(BODY("'max_tokens':1.5," MSG("'x'")), "max_tokens:",
            "max_tokens fractional");
    rejects(BODY("'max_tokens':'100'," MSG("'x'")), "max_tokens:",
            "max_tokens a string");
    rejects(BODY("'max_tokens':1e300," MSG("'x'")), "max_tokens:",
            "max_tokens huge");
    rejects(BODY("'max_tokens':1e999," MSG("'x'")), "max_tokens:",
            "max_tokens infinite");
    rejects(BODY("'stream':'yes'," MSG("'x'")), "stream: expected a boolean",
            "stream a string");
    rejects(BODY("'stream':1," MSG("'x'")), "stream: expected a boolean",
            "stream a number");

    rejects(BODY("'max_tokens':10"), "messages: field required",
            "messages missing");
    rejects(BODY("'messages':null"), "messages: field required",
            "messages null");
    rejects(BODY("'messages':{}"), "messages: expected an array",
            "messages an object");
    rejects(BODY("'messages':'hi'"), "messages: expected an array",
            "messages a string");
    rejects(BODY("'messages':[]"), "messages: at least one message",
            "messages empty");
    rejects(BODY("'messages':[{'role':'system','content':'s'}]"),
            "messages: at least one user or assistant message",
            "only system messages");
}


static void
test_tools_errors(void)
{
    rejects(BODY(MSG("'a'") ",'tools':{}"), "tools: expected an array",
            "tools an object");
    rejects(BODY(MSG("'a'") ",'tools':[5]"), "tools.0: expected an object",
            "tool a number");
    rejects(BODY(MSG("'a'") ",'tools':[{'input_schema':{}}]"),
            "tools.0.name: expected a non-empty string", "tool without name");
    rejects(BODY(MSG("'a'") ",'tools':[{'name':'','input_schema':{}}]"),
            "tools.0.name: expected a non-empty string", "tool empty name");
    rejects(BODY(MSG("'a'") ",'tools':[{'name':'n','description':5,"
                            "'input_schema':{}}]"),
            "tools.0.description: expected a string",
            "tool description a number");
    rejects(BODY(MSG("'a'") ",'tools':[{'name':'n'}]"),
            "tools.0.input_schema: expected an object",
            "tool without schema");
    rejects(BODY(MSG("'a'") ",'tools':[{'name':'n','input_schema':'{}'}]"),
            "tools.0.input_schema: expected an object",
            "tool schema a string");
    rejects(BODY(MSG("'a'") ",'tools':[{'name':'n','input_schema':[]}]"),
            "tools.0.input_schema: expected an object",
            "tool schema an array");
    rejects(BODY(MSG("'a'") ",'tools':[{'type':'custom','name':'n'}]"),
            "tools.0.input_schema: expected an object",
            "custom tool without schema");
    /* the index names the tool's place in the client's array */
    rejects(BODY(MSG("'a'") ",'tools':[{'type':'web_search_20250305',"
                            "'name':'web_search'},{'name':'x'}]"),
            "tools.1.input_schema", "index counts skipped server tools");

    rejects(BODY(MSG("'a'") ",'thinking':'enabled'"),
            "thinking: expected an object with a \"type\"",
            "thinking a string");
    rejects(BODY(MSG("'a'") ",'thinking':{'budget_tokens':1024}"),
            "thinking: expected an object with a \"type\"",
            "thinking without type");
    rejects(BODY(MSG("'a'") ",'thinking':{'type':'on'}"),
            "thinking.type: expected \"enabled\", \"adaptive\" or "
            "\"disabled\"", "thinking type unknown");
    rejects(BODY(MSG("'a'") ",'thinking':{'type':'enabled'}"),
            "thinking.budget_tokens: expected a positive integer",
            "thinking enabled without budget");
    rejects(BODY(MSG("'a'") ",'thinking':{'type':'enabled',"
                            "'budget_tokens':0}"),
            "thinking.budget_tokens", "thinking budget 0");
    rejects(BODY(MSG("'a'") ",'thinking':{'type':'enabled',"
                            "'budget_tokens':'1024'}"),
            "thinking.budget_tokens", "thinking budget a string");
    rejects(BODY(MSG("'a'") ",'thinking':{'type':'enabled',"
                            "'budget_tokens':1e300}"),
            "thinking.budget_tokens", "thinking budget huge");

    rejects(BODY(MSG("'a'") ",'system':5"),
            "system: expected a string or an array of text blocks",
            "system a number");
    rejects(BODY(MSG("'a'") ",'system':{'type':'text','text':'s'}"),
            "system: expected a string or an array", "system an object");
    rejects(BODY(MSG("'a'") ",'system':[{'type':'text','text':'s'},"
                            "{'type':'image'}]"),
            "system.1: expected a text block with a string \"text\"",
            "system block not text");
    rejects(BODY(MSG("'a'") ",'system':['s']"),
            "system.0: expected a text block", "system block a string");
    rejects(BODY(MSG("'a'") ",'system':[{'type':'text'}]"),
            "system.0: expected a text block", "system block without text");
    rejects(BODY("'messages':[{'role':'user','content':'a'},"
                 "{'role':'system','content':[{'type':'text','text':'s'},"
                 "{'type':'text','text':3}]}]"),
            "messages.1.content.1: expected a text block",
            "system message with a bad block");
    rejects(BODY("'messages':[{'role':'system','content':7},"
                 "{'role':'user','content':'a'}]"),
            "messages.0.content: expected a string or an array",
            "system message content a number");
}


static void
test_sampling(void)
{
    q2api_request_t  req;

    if (accepts(&req, BODY(MSG("'x'") ",'temperature':0.5,'top_p':0.9,"
                       "'top_k':5,'stop_sequences':['STOP','\\n\\nHuman:']"),
                "sampling") == Q2API_OK)
    {
        ok(req.temperature == 0.5, "temperature");
        ok(req.top_p == 0.9, "top_p");
        is_int(req.top_k, 5, "top_k");
        is_int(req.nstop_sequences, 2, "two stop sequences");
        ok(req.nstop_sequences == 2
           && str_is(req.stop_sequences[0], "STOP")
           && str_is(req.stop_sequences[1], "\n\nHuman:"),
           "stop sequences in order");
    }

    q2api_request_free(&req);

    if (accepts(&req, BODY(MSG("'x'")), "no sampling") == Q2API_OK) {
        ok(req.temperature < 0 && req.top_p < 0, "not given: below zero");
        is_int(req.top_k, -1, "top_k not given");
        ok(req.stop_sequences == NULL && req.nstop_sequences == 0,
           "no stop sequences");
    }

    q2api_request_free(&req);

    if (accepts(&req, BODY(MSG("'x'") ",'temperature':null,'top_p':null,"
                       "'top_k':null,'stop_sequences':null"),
                "null sampling") == Q2API_OK)
    {
        ok(req.temperature < 0 && req.top_p < 0 && req.top_k == -1
           && req.nstop_sequences == 0, "null: not given");
    }

    q2api_request_free(&req);

    if (accepts(&req, BODY(MSG("'x'") ",'temperature':0,'top_p':1,"
                       "'top_k':0,'stop_sequences':[]"),
                "sampling bounds") == Q2API_OK)
    {
        ok(req.temperature == 0 && req.top_p == 1 && req.top_k == 0
           && req.nstop_sequences == 0, "the ends of the ranges");
    }

    q2api_request_free(&req);

    if (accepts(&req, BODY(MSG("'x'") ",'temperature':1"),
                "Claude Code's temperature") == Q2API_OK)
    {
        ok(req.temperature == 1, "temperature 1");
    }

    q2api_request_free(&req);

    rejects(BODY(MSG("'x'") ",'temperature':'hot'"),
            "temperature: expected a number from 0 to 1",
            "temperature a string");
    rejects(BODY(MSG("'x'") ",'temperature':1.5"),
            "temperature: expected a number from 0 to 1",
            "temperature above 1");
    rejects(BODY(MSG("'x'") ",'temperature':-0.1"),
            "temperature: expected", "temperature below 0");
    rejects(BODY(MSG("'x'") ",'temperature':true"),
            "temperature: expected", "temperature a boolean");
    rejects(BODY(MSG("'x'") ",'top_p':[0.5]"),
            "top_p: expected a number from 0 to 1", "top_p an array");
    rejects(BODY(MSG("'x'") ",'top_p':2"),
            "top_p: expected a number from 0 to 1", "top_p above 1");
    rejects(BODY(MSG("'x'") ",'top_k':'5'"),
            "top_k: expected a non-negative integer", "top_k a string");
    rejects(BODY(MSG("'x'") ",'top_k':2.5"),
            "top_k: expected a non-negative integer", "top_k a fraction");
    rejects(BODY(MSG("'x'") ",'top_k':-1"),
            "top_k: expected a non-negative integer", "top_k negative");
    rejects(BODY(MSG("'x'") ",'top_k':1e300"),
            "top_k: expected a non-negative integer", "top_k huge");
    rejects(BODY(MSG("'x'") ",'stop_sequences':'STOP'"),
            "stop_sequences: expected an array of strings",
            "stop_sequences a string");
    rejects(BODY(MSG("'x'") ",'stop_sequences':['a',7]"),
            "stop_sequences.1: expected a string",
            "stop_sequences with a number");

    /* an older field's error comes first */
    rejects(BODY(MSG("'x'") ",'temperature':9,'max_tokens':0"),
            "max_tokens: expected a positive integer",
            "max_tokens before temperature");
}


int
main(void)
{
    test_top_level_errors();
    test_tools_errors();
    test_sampling();

    return done_testing();
}
