/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Chat Completions bodies into the canonical request: roles, content
 * parts, images, tool calls and results, tools and tool_choice, legacy
 * functions, parallel_tool_calls, response_format, reasoning effort, the
 * fields taken and ignored, and every refusal with the field it names.
 */


#include "openai_check.h"


static const q2api_block_t *
block(const q2api_message_t *m, int i)
{
    const q2api_block_t  *b;

    for (b = m ? m->blocks : NULL; b != NULL && i > 0; b = b->next) {
        i--;
    }

    return b;
}


static void
test_roles(void)
{
    q2api_request_t       req;
    const q2api_block_t  *b;

    if (oa_accepts(&req, "{'model':'gpt-4o','messages':["
                   "{'role':'system','content':'Be terse.'},"
                   "{'role':'developer','content':[{'type':'text',"
                   "'text':'Use tools.'}]},"
                   "{'role':'user','name':'ann','content':'hi'},"
                   "{'role':'assistant','content':'hello'},"
                   "{'role':'user','content':[{'type':'text','text':'a'},"
                   "{'type':'image_url','image_url':{'url':"
                   "'data:image/jpg;base64,QUJD','detail':'low'}}]}]}",
                   "roles: accepted") != Q2API_OK)
    {
        return;
    }

    is_qstr(req.model, "gpt-4o", "roles: the client's model");
    is_qstr(req.system, "Be terse.\nUse tools.",
            "roles: system and developer join the system prompt");
    is_int(req.nmessages, 3, "roles: user, assistant, user");
    ok(req.messages->role == Q2API_ROLE_USER
       && req.messages->next->role == Q2API_ROLE_ASSISTANT,
       "roles: in order");
    ok(str_is(block(req.messages->next, 0)->text, "hello"),
       "roles: the assistant's text");

    b = block(req.last, 1);
    ok(b != NULL && b->type == Q2API_BLOCK_IMAGE
       && str_is(b->media_type, "image/jpeg") && str_is(b->data, "QUJD"),
       "image_url: a data URL is an image block (image/jpg as jpeg)");
    ok(!req.stream && req.max_tokens == -1 && req.tool_choice
       == Q2API_TOOL_CHOICE_AUTO, "defaults: not streamed, no limit, auto");

    q2api_request_free(&req);
}


static void
test_tool_round_trip(void)
{
    q2api_request_t       req;
    const q2api_block_t  *b;

    if (oa_accepts(&req, "{'model':'m','messages':["
                   "{'role':'user','content':'weather?'},"
                   "{'role':'assistant','content':null,'tool_calls':["
                   "{'id':'call_A','type':'function','function':{'name':"
                   "'get_weather','arguments':'{\\'city\\':\\'Paris\\'}'}},"
                   "{'id':'call_B','type':'function','function':{'name':"
                   "'get_time','arguments':''}}]},"
                   "{'role':'tool','tool_call_id':'call_A','content':'sunny'},"
                   "{'role':'tool','tool_call_id':'call_B','content':[{"
                   "'type':'text','text':'noon'}]}],"
                   "'tools':[{'type':'function','function':{'name':"
                   "'get_weather','description':'Weather','parameters':"
                   "{'type':'object','properties':{'city':{'type':"
                   "'string'}}}}},{'type':'function','function':{'name':"
                   "'get_time'}}],'tool_choice':{'type':'function',"
                   "'function':{'name':'get_time'}},"
                   "'parallel_tool_calls':false}",
                   "tool round trip: accepted") != Q2API_OK)
    {
        return;
    }

    is_int(req.nmessages, 3, "tool results are one user turn");

    b = block(req.messages->next, 0);
    ok(b && b->type == Q2API_BLOCK_TOOL_USE && str_is(b->id, "call_A")
       && str_is(b->name, "get_weather")
       && str_is(b->data, "{\"city\":\"Paris\"}"),
       "tool_calls: a tool use, id unchanged, arguments as input");
    b = block(req.messages->next, 1);
    ok(b && str_is(b->id, "call_B") && str_is(b->data, "{}"),
       "tool_calls: empty arguments are {}");

    b = block(req.last, 0);
    ok(b && b->type == Q2API_BLOCK_TOOL_RESULT && str_is(b->id, "call_A")
       && str_is(b->text, "sunny"), "tool message: a tool result");
    b = block(req.last, 1);
    ok(b && str_is(b->id, "call_B") && str_is(b->text, "noon"),
       "tool message: text parts");

    is_int(req.ntools, 2, "tools: two");
    ok(str_is(req.tools->schema, "{\"type\":\"object\",\"properties\":{"
                                 "\"city\":{\"type\":\"string\"}}}")
       && str_is(req.tools->description, "Weather"),
       "tools: parameters as the schema");
    ok(str_is(req.tools->next->schema,
              "{\"type\":\"object\",\"properties\":{}}"),
       "tools: no parameters is an empty object schema");
    ok(req.tool_choice == Q2API_TOOL_CHOICE_TOOL
       && str_is(req.tool_choice_name, "get_time"),
       "tool_choice: a named function");
    ok(req.one_tool_call, "parallel_tool_calls false: one call");

    q2api_request_free(&req);
}


static void
test_choices(void)
{
    q2api_request_t  req;

#define TOOLS "'tools':[{'type':'function','function':{'name':'f'}}],"

    if (oa_accepts(&req, "{'model':'m'," TOOLS "'tool_choice':'required',"
                   OA_MSG "}", "tool_choice required") == Q2API_OK)
    {
        ok(req.tool_choice == Q2API_TOOL_CHOICE_ANY, "required is any");
        q2api_request_free(&req);
    }

    if (oa_accepts(&req, "{'model':'m'," TOOLS "'tool_choice':'none',"
                   OA_MSG "}", "tool_choice none") == Q2API_OK)
    {
        ok(req.tool_choice == Q2API_TOOL_CHOICE_NONE, "none is none");
        ok(!req.one_tool_call, "parallel calls by default");
        q2api_request_free(&req);
    }

    /* the legacy pair: functions, function_call, and their messages */
    if (oa_accepts(&req, "{'model':'m','functions':[{'name':'f',"
                   "'parameters':{'type':'object'}}],'function_call':"
                   "{'name':'f'},'messages':[{'role':'user','content':'x'},"
                   "{'role':'assistant','content':null,'function_call':"
                   "{'name':'f','arguments':'{}'}},{'role':'function',"
                   "'name':'f','content':'42'}]}", "legacy functions")
        == Q2API_OK)
    {
        ok(req.ntools == 1 && req.tool_choice == Q2API_TOOL_CHOICE_TOOL
           && req.one_tool_call, "legacy: a tool, chosen, one call");
        ok(block(req.messages->next, 0)->id.len > 0
           && str_is(block(req.last, 0)->id,
                     block(req.messages->next, 0)->id.data),
           "legacy: the function message answers the function_call");
        q2api_request_free(&req);
    }

    oa_rejects("{'model':'m'," TOOLS "'tool_choice':{'type':'function',"
               "'function':{'name':'g'}}," OA_MSG "}",
               "tool_choice: \"g\" is not one of the request's tools",
               "tool_choice: an unknown function");
    oa_rejects("{'model':'m'," TOOLS "'tool_choice':'any'," OA_MSG "}",
               "tool_choice: expected \"auto\", \"none\", \"required\"",
               "tool_choice: Anthropic's word");
    oa_rejects("{'model':'m','function_call':'required'," OA_MSG "}",
               "function_call: expected \"auto\", \"none\"",
               "function_call: no required");
    oa_rejects("{'model':'m'," TOOLS "'functions':[{'name':'f'}],"
               OA_MSG "}", "functions: send \"tools\" or",
               "tools and functions together");
    oa_rejects("{'model':'m','tools':[{'type':'web_search'}]," OA_MSG "}",
               "tools.0.type: only \"function\" tools",
               "a tool that is not a function");
    oa_rejects("{'model':'m','tools':[{'type':'function','function':"
               "{'name':''}}]," OA_MSG "}",
               "tools.0.function.name: expected a non-empty string",
               "a tool without a name");
    oa_rejects("{'model':'m','tools':[{'type':'function','function':"
               "{'name':'f','parameters':[]}}]," OA_MSG "}",
               "tools.0.function.parameters: expected a JSON Schema",
               "parameters not an object");
    oa_rejects("{'model':'m','parallel_tool_calls':'no'," OA_MSG "}",
               "parallel_tool_calls: expected a boolean",
               "parallel_tool_calls not a boolean");
}


static void
test_format_and_reasoning(void)
{
    q2api_request_t  req;

    if (oa_accepts(&req, "{'model':'m','response_format':{'type':"
                   "'json_schema','json_schema':{'name':'person','strict':"
                   "true,'schema':{'type':'object','required':['name']}}},"
                   OA_MSG "}", "json_schema") == Q2API_OK)
    {
        ok(req.format == Q2API_FORMAT_JSON_SCHEMA
           && str_is(req.format_name, "person")
           && str_is(req.format_schema,
                     "{\"type\":\"object\",\"required\":[\"name\"]}"),
           "response_format json_schema: name and schema");
        q2api_request_free(&req);
    }

    if (oa_accepts(&req, "{'model':'m','response_format':{'type':"
                   "'json_object'},'reasoning_effort':'low'," OA_MSG "}",
                   "json_object") == Q2API_OK)
    {
        ok(req.format == Q2API_FORMAT_JSON_OBJECT,
           "response_format json_object");
        ok(req.thinking && req.thinking_budget == 4096,
           "reasoning_effort low: thinking with a small budget");
        q2api_request_free(&req);
    }

    if (oa_accepts(&req, "{'model':'m','reasoning':{'effort':'high'},"
                   OA_MSG "}", "reasoning.effort") == Q2API_OK)
    {
        ok(req.thinking && req.thinking_budget == 24576,
           "reasoning.effort high: the largest budget");
        q2api_request_free(&req);
    }

    if (oa_accepts(&req, "{'model':'m','reasoning_effort':'none',"
                   "'response_format':{'type':'text'}," OA_MSG "}",
                   "reasoning none") == Q2API_OK)
    {
        ok(!req.thinking && req.format == Q2API_FORMAT_TEXT,
           "reasoning_effort none: no thinking; text format");
        q2api_request_free(&req);
    }

    oa_rejects("{'model':'m','reasoning_effort':'max'," OA_MSG "}",
               "reasoning_effort: expected \"none\"", "an unknown effort");
    oa_rejects("{'model':'m','reasoning':{'effort':3}," OA_MSG "}",
               "reasoning.effort: expected", "effort not a string");
    oa_rejects("{'model':'m','response_format':{'type':'xml'}," OA_MSG "}",
               "response_format.type: expected", "an unknown format");
    oa_rejects("{'model':'m','response_format':{'type':'json_schema',"
               "'json_schema':{'schema':{}}}," OA_MSG "}",
               "response_format.json_schema.name", "json_schema unnamed");
}


static void
test_ignored_and_refused(void)
{
    q2api_request_t  req;

    if (oa_accepts(&req, "{'model':'m','max_tokens':100,"
                   "'max_completion_tokens':50,'stop':['a','b'],"
                   "'temperature':1.5,'top_p':0.5,'seed':7,'user':'u-1',"
                   "'metadata':{'k':'v'},'store':false,'logprobs':false,"
                   "'n':1,'stream':true,'stream_options':{'include_usage':"
                   "true},'presence_penalty':0.5,'service_tier':'auto',"
                   "'logit_bias':{'1':2}," OA_MSG "}",
                   "taken and ignored: accepted") == Q2API_OK)
    {
        ok(req.max_tokens == 50, "max_completion_tokens over max_tokens");
        ok(req.nstop_sequences == 2 && req.temperature == 1.5
           && req.top_p == 0.5, "stop and sampling kept for back ends");
        ok(str_is(req.user_id, "u-1"), "user keeps the conversation's "
           "account");
        ok(req.stream, "stream");
        q2api_request_free(&req);
    }

    if (oa_accepts(&req, "{'model':'m','stop':'END'," OA_MSG "}",
                   "stop as a string") == Q2API_OK)
    {
        ok(req.nstop_sequences == 1 && str_is(req.stop_sequences[0], "END"),
           "stop: one sequence");
        q2api_request_free(&req);
    }

    oa_rejects("{'model':'m','n':2," OA_MSG "}", "n: only 1 is supported",
               "n 2");
    oa_rejects("{'model':'m','logprobs':true," OA_MSG "}",
               "logprobs: log probabilities are not available", "logprobs");
    oa_rejects("{'model':'m','top_logprobs':3," OA_MSG "}",
               "top_logprobs: log probabilities", "top_logprobs");
    oa_rejects("{'model':'m','modalities':['text','audio']," OA_MSG "}",
               "modalities: only \"text\"", "audio output");
    oa_rejects("{'model':'m','temperature':3," OA_MSG "}",
               "temperature: expected a number from 0 to 2", "temperature");
    oa_rejects("{'model':'m','stop':['a','b','c','d','e']," OA_MSG "}",
               "stop: expected a string or an array of up to 4", "stop 5");
    oa_rejects("{'model':'m','max_tokens':0," OA_MSG "}",
               "max_tokens: expected a positive integer", "max_tokens 0");
    oa_rejects("{'model':'m','stream':'yes'," OA_MSG "}",
               "stream: expected a boolean", "stream not a boolean");
    oa_rejects("{'model':'m','stream_options':{'include_usage':1},"
               OA_MSG "}", "stream_options: expected an object",
               "include_usage not a boolean");
    oa_rejects("{'model':'m','user':5," OA_MSG "}", "user: expected a string",
               "user not a string");
}


static void
test_bad_messages(void)
{
    oa_rejects("{'messages':[]}", "model: field required", "no model");
    oa_rejects("{'model':''," OA_MSG "}", "model: expected a non-empty",
               "empty model");
    oa_rejects("{'model':'m'}", "messages: field required", "no messages");
    oa_rejects("{'model':'m','messages':{}}", "messages: expected an array",
               "messages not an array");
    oa_rejects("{'model':'m','messages':[]}", "messages: at least one",
               "no messages at all");
    oa_rejects("{'model':'m','messages':[{'role':'system','content':'s'}]}",
               "messages: at least one", "only a system message");
    oa_rejects("{'model':'m','messages':[{'role':'robot','content':'x'}]}",
               "messages.0.role: expected \"system\"", "an unknown role");
    oa_rejects("{'model':'m','messages':[{'content':'x'}]}",
               "messages.0.role: field required", "no role");
    oa_rejects("{'model':'m','messages':[{'role':'user','content':null}]}",
               "messages.0.content: expected a string or an array",
               "user content null");
    oa_rejects("{'model':'m','messages':[{'role':'user','content':[{'type':"
               "'image_url','image_url':{'url':'https://x/y.png'}}]}]}",
               "messages.0.content.0.image_url.url: remote image URLs are "
               "not supported", "a remote image");
    oa_rejects("{'model':'m','messages':[{'role':'user','content':[{'type':"
               "'image_url','image_url':{'url':'data:image/bmp;base64,AA'}}"
               "]}]}", "base64 data URL of image/png", "a bmp data URL");
    oa_rejects("{'model':'m','messages':[{'role':'user','content':[{'type':"
               "'image_url','image_url':{'url':'data:image/png;base64,'}}"
               "]}]}", "the data URL holds no image", "an empty data URL");
    oa_rejects("{'model':'m','messages':[{'role':'user','content':[{'type':"
               "'input_audio','input_audio':{'data':'AA','format':'wav'}}"
               "]}]}", "messages.0.content.0.type: \"input_audio\" parts are "
               "not supported", "input_audio");
    oa_rejects("{'model':'m','messages':[{'role':'user','content':[{'type':"
               "'file','file':{'file_id':'f'}}]}]}",
               "\"file\" parts are not supported", "file");
    oa_rejects("{'model':'m','messages':[{'role':'user','content':[{'type':"
               "'video'}]}]}", "messages.0.content.0.type: expected \"text\""
               " or \"image_url\"", "an unknown part");
    oa_rejects("{'model':'m','messages':[{'role':'tool','content':'x'}]}",
               "messages.0.tool_call_id: expected the id",
               "a tool message without its call id");
    oa_rejects("{'model':'m','messages':[{'role':'function','name':'f',"
               "'content':'x'}]}", "must follow an assistant message with "
               "a function_call", "a lone function message");
    oa_rejects("{'model':'m','messages':[{'role':'user','content':'x'},"
               "{'role':'assistant','tool_calls':[{'id':'c','type':"
               "'function','function':{'name':'f','arguments':'{bad'}}]}]}",
               "messages.1.tool_calls.0.function.arguments: expected a "
               "string holding a JSON object", "arguments not JSON");
    oa_rejects("{'model':'m','messages':[{'role':'user','content':'x'},"
               "{'role':'assistant','tool_calls':[{'type':'function',"
               "'function':{'name':'f'},'id':''}]}]}",
               "messages.1.tool_calls.0.id: expected a non-empty",
               "a tool call without an id");
    oa_rejects("{'model':'m','messages':[{'role':'system','content':[{'type':"
               "'image_url'}]}]}", "messages.0.content.0.type: expected "
               "\"text\"", "an image in a system message");
    oa_rejects("[1]", "request body must be a JSON object", "an array");
    oa_rejects("{'model':'m'} x", "not valid JSON", "trailing bytes");
}


static void
test_raw(void)
{
    int              rc;
    q2api_error_t    err;
    q2api_request_t  req;

    q2api_request_init(&req);
    rc = q2api_openai_parse(&req, "", 0, &err);
    ok(rc == Q2API_ERROR && strstr(err.message, "request body is empty"),
       "an empty body");
    q2api_request_free(&req);

    q2api_request_init(&req);
    rc = q2api_openai_parse(&req, "{\"model\":\"\xff\"}", 13, &err);
    ok(rc == Q2API_ERROR && strstr(err.message, "not valid UTF-8"),
       "a body that is not UTF-8");
    q2api_request_free(&req);
}


int
main(void)
{
    test_roles();
    test_tool_round_trip();
    test_choices();
    test_format_and_reasoning();
    test_ignored_and_refused();
    test_bad_messages();
    test_raw();

    return done_testing();
}
