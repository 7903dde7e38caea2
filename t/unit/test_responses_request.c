/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Responses bodies into the canonical request: input as a string or as
 * items of every type, instructions, function and custom tools,
 * namespaces, hosted tools, tool_choice, parallel_tool_calls, reasoning,
 * text.format, max_output_tokens; previous_response_id's check and the
 * stored items put before the input; every refusal with its field.
 */


#include "responses_check.h"


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
test_string_input(void)
{
    q2api_request_t  req;

    if (rs_accepts(&req, "{'model':'m','instructions':'Be brief.',"
                   "'input':'hi','max_output_tokens':64,'store':false,"
                   "'metadata':{'a':'b'},'temperature':0.5,"
                   "'client_metadata':{'x':1}}", "string: accepted")
        != Q2API_OK)
    {
        return;
    }

    is_qstr(req.model, "m", "string: the model");
    is_qstr(req.system, "Be brief.", "string: instructions are the system");
    is_int(req.nmessages, 1, "string: one message");
    ok(req.messages->role == Q2API_ROLE_USER
       && str_is(block(req.messages, 0)->text, "hi"),
       "string: a user text");
    is_int(req.max_tokens, 64, "max_output_tokens");
    ok(req.temperature == 0.5, "temperature");
    ok(!req.stream, "stream defaults to false");

    q2api_request_free(&req);
}


static void
test_items(void)
{
    const q2api_block_t  *b;
    q2api_request_t       req;
    const q2api_message_t *m;

    if (rs_accepts(&req, "{'model':'m','stream':true,'input':["
                   "{'type':'message','role':'developer','content':"
                   "[{'type':'input_text','text':'Dev.'}]},"
                   "{'role':'system','content':'Sys.'},"
                   "{'role':'user','content':[{'type':'input_text',"
                   "'text':'look'},{'type':'input_image','image_url':"
                   "'data:image/png;base64,QUJD','detail':'high'}]},"
                   "{'type':'message','role':'assistant','id':'msg_1',"
                   "'status':'completed','content':[{'type':'output_text',"
                   "'text':'Sure.','annotations':[]}]},"
                   "{'type':'reasoning','id':'rs_1','summary':[{'type':"
                   "'summary_text','text':'Plan.'}],'content':null,"
                   "'encrypted_content':'SIG'},"
                   "{'type':'function_call','id':'fc_1','call_id':'c1',"
                   "'name':'f','arguments':'{\\'a\\':1}'},"
                   "{'type':'custom_tool_call','call_id':'c2','name':'p',"
                   "'input':'free \\'text\\''},"
                   "{'type':'web_search_call','id':'ws'},"
                   "{'type':'item_reference','id':'x'},"
                   "{'type':'function_call_output','call_id':'c1',"
                   "'output':'one'},"
                   "{'type':'custom_tool_call_output','call_id':'c2',"
                   "'output':[{'type':'input_text','text':'two'},"
                   "{'type':'input_image','image_url':"
                   "'data:image/gif;base64,R0lG'}]}]}", "items: accepted")
        != Q2API_OK)
    {
        return;
    }

    ok(req.stream, "stream true");
    is_qstr(req.system, "Dev.\nSys.", "developer and system join the system");
    is_int(req.nmessages, 3, "items: user, assistant, user");

    m = req.messages;
    ok(str_is(block(m, 0)->text, "look"), "user text");
    b = block(m, 1);
    ok(b && b->type == Q2API_BLOCK_IMAGE && str_is(b->media_type, "image/png")
       && str_is(b->data, "QUJD"), "input_image as an image block");

    m = m->next;
    ok(m->role == Q2API_ROLE_ASSISTANT && str_is(block(m, 0)->text, "Sure."),
       "output_text in history");
    b = block(m, 1);
    ok(b && b->type == Q2API_BLOCK_THINKING && str_is(b->text, "Plan.")
       && str_is(b->data, "SIG"),
       "reasoning: the summary as thinking, encrypted_content as signature");
    b = block(m, 2);
    ok(b && b->type == Q2API_BLOCK_TOOL_USE && str_is(b->id, "c1")
       && str_is(b->name, "f") && str_is(b->data, "{\"a\":1}"),
       "function_call: call_id, name, arguments");
    b = block(m, 3);
    ok(b && b->type == Q2API_BLOCK_TOOL_USE && str_is(b->id, "c2")
       && str_is(b->data, "{\"input\":\"free \\\"text\\\"\"}"),
       "custom_tool_call: its text wrapped as {input}");
    ok(block(m, 4) == NULL, "hosted calls and references dropped");

    m = m->next;
    b = block(m, 0);
    ok(b && b->type == Q2API_BLOCK_TOOL_RESULT && str_is(b->id, "c1")
       && str_is(b->text, "one"), "function_call_output: a tool result");
    b = block(m, 1);
    ok(b && b->type == Q2API_BLOCK_TOOL_RESULT && str_is(b->id, "c2")
       && b->content && str_is(b->content->text, "two")
       && b->content->next && b->content->next->type == Q2API_BLOCK_IMAGE
       && str_is(b->content->next->media_type, "image/gif"),
       "custom_tool_call_output: parts as the result's blocks");

    q2api_request_free(&req);
}


static void
test_tools(void)
{
    q2api_tool_t     *t;
    q2api_request_t   req;

    if (rs_accepts(&req, "{'model':'m','input':'x','parallel_tool_calls':"
                   "false,'tool_choice':{'type':'custom','name':'p'},"
                   "'tools':[{'type':'function','name':'f','strict':false,"
                   "'parameters':{'type':'object','properties':{}}},"
                   "{'type':'custom','name':'p','description':'Patch.',"
                   "'format':{'type':'grammar','syntax':'lark',"
                   "'definition':'start: x'}},"
                   "{'type':'namespace','name':'ns','tools':[{'type':"
                   "'function','name':'g'}]},"
                   "{'type':'web_search','external_web_access':false},"
                   "{'type':'tool_search','execution':'client'},"
                   "{'type':'local_shell'}]}", "tools: accepted")
        != Q2API_OK)
    {
        return;
    }

    is_int(req.ntools, 3, "function, custom and the namespace's function");
    t = req.tools;
    ok(str_is(t->name, "f"), "the function");
    t = t->next;
    ok(str_is(t->name, "p")
       && str_is(t->schema, Q2API_RESPONSES_CUSTOM_SCHEMA)
       && str_is(t->description, "Patch.\nThis tool takes free text, not "
                 "JSON: put the whole text in \"input\".\nThe text must "
                 "follow this grammar:\nstart: x"),
       "the custom tool: one string, the note and the grammar");
    ok(str_is(t->next->name, "g"), "the namespace flattened");
    ok(q2api_responses_custom(&req, "p", 1), "p is custom");
    ok(!q2api_responses_custom(&req, "f", 1), "f is not");
    ok(req.tool_choice == Q2API_TOOL_CHOICE_TOOL
       && str_is(req.tool_choice_name, "p"), "tool_choice names p");
    ok(req.one_tool_call, "parallel_tool_calls false: one call");

    q2api_request_free(&req);

    if (rs_accepts(&req, "{'model':'m','input':'x','tool_choice':"
                   "{'type':'allowed_tools','mode':'required','tools':[]},"
                   "'tools':[{'type':'function','name':'f'}]}",
                   "allowed_tools: accepted") == Q2API_OK)
    {
        ok(req.tool_choice == Q2API_TOOL_CHOICE_ANY,
           "allowed_tools required: any tool");
        q2api_request_free(&req);
    }

    if (rs_accepts(&req, "{'model':'m','input':'x','tool_choice':'none'}",
                   "none: accepted") == Q2API_OK)
    {
        ok(req.tool_choice == Q2API_TOOL_CHOICE_NONE, "none");
        q2api_request_free(&req);
    }
}


static void
test_reasoning_format(void)
{
    q2api_request_t  req;

    if (rs_accepts(&req, "{'model':'m','input':'x','reasoning':{'effort':"
                   "'high','summary':'detailed'}}", "effort: accepted")
        == Q2API_OK)
    {
        ok(req.thinking && req.thinking_budget == 24576, "high: 24576");
        q2api_request_free(&req);
    }

    if (rs_accepts(&req, "{'model':'m','input':'x','reasoning':"
                   "{'summary':'auto'}}", "summary: accepted") == Q2API_OK)
    {
        ok(req.thinking && req.thinking_budget == 16000,
           "a summary alone: thinking at medium");
        q2api_request_free(&req);
    }

    if (rs_accepts(&req, "{'model':'m','input':'x','reasoning':{'effort':"
                   "'none','summary':'auto'}}", "none: accepted")
        == Q2API_OK)
    {
        ok(!req.thinking, "effort none: no thinking");
        q2api_request_free(&req);
    }

    if (rs_accepts(&req, "{'model':'m','input':'x','text':{'format':"
                   "{'type':'json_schema','name':'p','schema':{'type':"
                   "'object'},'strict':true},'verbosity':'low'}}",
                   "json_schema: accepted") == Q2API_OK)
    {
        ok(req.format == Q2API_FORMAT_JSON_SCHEMA
           && str_is(req.format_name, "p")
           && str_is(req.format_schema, "{\"type\":\"object\"}"),
           "text.format json_schema");
        q2api_request_free(&req);
    }
}


static void
test_refusals(void)
{
    rs_rejects("{'input':'x'}", "model: field required", "no model");
    rs_rejects("{'model':'m'}", "input: at least one", "no input");
    rs_rejects("{'model':'m','input':5}", "input: expected a string",
               "input a number");
    rs_rejects("{'model':'m','input':[5]}", "input.0: expected an object",
               "an item not an object");
    rs_rejects("{'model':'m','input':[{'type':'x'}]}",
               "input.0.type: \"x\" is not an input item type",
               "an unknown item");
    rs_rejects("{'model':'m','input':[{'role':'tool','content':'x'}]}",
               "input.0.role: expected", "a bad role");
    rs_rejects("{'model':'m','input':[{'role':'user','content':[{'type':"
               "'input_audio'}]}]}", "input.0.content.0.type: \"input_audio\"",
               "an audio part");
    rs_rejects("{'model':'m','input':[{'type':'function_call','name':'f',"
               "'arguments':'{}'}]}", "input.0.call_id:",
               "a call without call_id");
    rs_rejects("{'model':'m','input':[{'type':'function_call','call_id':"
               "'c','name':'f','arguments':'[1]'}]}",
               "input.0.function.arguments: expected a string holding a JSON "
               "object", "arguments not an object");
    rs_rejects("{'model':'m','input':[{'type':'custom_tool_call','call_id':"
               "'c','name':'p','input':3}]}", "input.0.input: expected a "
               "string", "a custom call's input not text");
    rs_rejects("{'model':'m','input':[{'type':'reasoning','summary':"
               "[{'text':1}]}]}", "input.0.summary:", "a bad summary");
    rs_rejects("{'model':'m','input':'x','background':true}", "background:",
               "background");
    rs_rejects("{'model':'m','input':'x','prompt':{'id':'p'}}", "prompt:",
               "a stored prompt");
    rs_rejects("{'model':'m','input':'x','tools':[{'type':'custom'}]}",
               "tools.0.name:", "a custom tool without a name");
    rs_rejects("{'model':'m','input':'x','tool_choice':{'type':"
               "'file_search'}}", "tool_choice.type: \"file_search\" is a "
               "tool OpenAI hosts", "forcing a hosted tool");
    rs_rejects("{'model':'m','input':'x','tool_choice':'sometimes'}",
               "tool_choice: expected", "a bad tool_choice");
    rs_rejects("{'model':'m','input':'x','parallel_tool_calls':1}",
               "parallel_tool_calls:", "parallel_tool_calls not a bool");
    rs_rejects("{'model':'m','input':'x','reasoning':{'summary':'long'}}",
               "reasoning.summary:", "a bad summary mode");
    rs_rejects("{'model':'m','input':'x','text':{'format':{'type':"
               "'json_schema','name':'n','schema':5}}}",
               "text.format.schema: expected an object",
               "json_schema with a schema not an object");
    rs_rejects("{'model':'m','input':'x','text':{'format':{'type':"
               "'json_schema'}}}", "text.format.name:",
               "json_schema without a name");
    rs_rejects("{'model':'m','input':'x','metadata':{'k':1}}", "metadata:",
               "metadata not strings");
    rs_rejects("{'model':'m','input':'x','include':[1]}", "include:",
               "include not strings");
    rs_rejects("{'model':'m','input':'x','max_output_tokens':1.5}",
               "max_output_tokens:", "a fractional limit");
    rs_rejects("{'model':'m','input':'x','top_p':2}", "top_p:",
               "top_p out of range");
}


static void
test_previous(void)
{
    static const char  stored[] =
        "[{\"type\":\"message\",\"role\":\"user\",\"content\":\"q\"},"
        "{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"f\","
        "\"arguments\":\"{}\"}]";
    static const char  two[] =
        "[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\","
        "\"content\":\"b\"}]";

    q2api_str_t      id;
    q2api_error_t    err;
    q2api_request_t  req;

    if (rs_accepts(&req, "{'model':'m','previous_response_id':"
                   "'resp_00ff','input':[{'type':'function_call_output',"
                   "'call_id':'c1','output':'42'}]}", "previous: accepted")
        != Q2API_OK)
    {
        return;
    }

    ok(q2api_responses_previous(&req, &id, &err) == Q2API_OK
       && str_is(id, "resp_00ff"), "previous: the id");

    ok(q2api_responses_history(&req, stored, strlen(stored), &err)
       == Q2API_OK, "history: taken");
    is_int(req.nmessages, 3, "history: user, assistant, then the output");
    ok(str_is(block(req.messages, 0)->text, "q")
       && block(req.messages->next, 0)->type == Q2API_BLOCK_TOOL_USE
       && str_is(block(req.last, 0)->id, "c1"),
       "history: the stored items first, the request's own last");
    q2api_request_free(&req);

    /* a stored answer and the next user text are merged on one side */
    if (rs_accepts(&req, "{'model':'m','previous_response_id':'resp_1',"
                   "'input':'more'}", "merge: accepted") == Q2API_OK)
    {
        ok(q2api_responses_history(&req, two, strlen(two), &err) == Q2API_OK
           && req.nmessages == 1 && str_is(block(req.last, 2)->text, "more"),
           "merge: one user message of three texts");
        q2api_request_free(&req);
    }

    if (rs_accepts(&req, "{'model':'m','previous_response_id':"
                   "'resp_../x','input':'x'}", "bad id: parsed") == Q2API_OK)
    {
        ok(q2api_responses_previous(&req, &id, &err) == Q2API_ERROR
           && strncmp(err.message, "previous_response_id: not an id", 31)
              == 0, "bad id: refused before any lookup");
        q2api_request_free(&req);
    }

    if (rs_accepts(&req, "{'model':'m','input':'x'}", "none: parsed")
        == Q2API_OK)
    {
        ok(q2api_responses_previous(&req, &id, &err) == Q2API_OK
           && id.len == 0, "no previous_response_id: a zero length");
        q2api_request_free(&req);
    }
}


int
main(void)
{
    test_string_input();
    test_items();
    test_tools();
    test_reasoning_format();
    test_refusals();
    test_previous();

    return done_testing();
}
