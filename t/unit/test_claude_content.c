/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The conversation of a Messages request: messages and content blocks,
 * refused in Anthropic's words or turned into canonical blocks.
 */


#include "claude_check.h"


static void
test_message_errors(void)
{
    rejects(BODY("'messages':[1]"), "messages.0: expected an object",
            "message a number");
    rejects(BODY("'messages':[{'role':'user','content':'a'},'x']"),
            "messages.1: expected an object", "second message a string");
    rejects(BODY("'messages':[{'content':'a'}]"),
            "messages.0.role: field required", "role missing");
    rejects(BODY("'messages':[{'role':5,'content':'a'}]"),
            "messages.0.role: field required", "role a number");
    rejects(BODY("'messages':[{'role':'tool','content':'a'}]"),
            "messages.0.role: expected \"user\", \"assistant\" or "
            "\"system\"", "role tool");
    rejects(BODY("'messages':[{'role':'User','content':'a'}]"),
            "messages.0.role:", "role is case-sensitive");
    rejects(BODY("'messages':[{'role':'user'}]"),
            "messages.0.content: field required", "content missing");
    rejects(BODY("'messages':[{'role':'user','content':null}]"),
            "messages.0.content: field required", "content null");
    rejects(BODY("'messages':[{'role':'user','content':5}]"),
            "messages.0.content: expected a string or an array",
            "content a number");
    rejects(BODY("'messages':[{'role':'user','content':{'type':'text'}}]"),
            "messages.0.content: expected a string or an array",
            "content an object");
    rejects(BODY("'messages':[{'role':'user','content':'a'},"
                 "{'role':'assistant','content':true}]"),
            "messages.1.content: expected", "assistant content a bool");
}


static void
test_block_errors(void)
{
    rejects(BODY(MSG("[{'text':'x'}]")),
            "messages.0.content.0: expected a content block with a "
            "\"type\"", "block without type");
    rejects(BODY(MSG("['x']")),
            "messages.0.content.0: expected a content block",
            "block a string");
    rejects(BODY(MSG("[{'type':'text','text':'a'},{'type':5}]")),
            "messages.0.content.1: expected a content block",
            "second block type a number");
    rejects(BODY(MSG("[{'type':'text'}]")),
            "messages.0.content.0.text: expected a string",
            "text without text");
    rejects(BODY(MSG("[{'type':'text','text':null}]")),
            "messages.0.content.0.text: expected a string", "text null");

    /* images */
    rejects(BODY(MSG("[{'type':'image'}]")),
            "messages.0.content.0.source: expected an object",
            "image without source");
    rejects(BODY(MSG("[{'type':'image','source':{'url':'u'}}]")),
            "messages.0.content.0.source: expected an object with a "
            "\"type\"", "image source without type");
    rejects(BODY(MSG("[{'type':'image','source':{'type':'url',"
                     "'url':'https://example.com/a.png'}}]")),
            "messages.0.content.0.source.type: \"url\" image sources are "
            "not supported", "image url source");
    rejects(BODY(MSG("[{'type':'image','source':{'type':'url',"
                     "'url':'https://example.com/a.png'}}]")),
            "base64", "image url source mentions base64");
    rejects(BODY(MSG("[{'type':'image','source':{'type':'file',"
                     "'file_id':'f'}}]")),
            "\"file\" image sources", "image file source");
    rejects(BODY(MSG("[{'type':'image','source':{'type':'base64',"
                     "'data':'AAAA'}}]")),
            "messages.0.content.0.source.media_type: expected a string",
            "image without media_type");
    rejects(BODY(MSG("[{'type':'image','source':{'type':'base64',"
                     "'media_type':'image/bmp','data':'AAAA'}}]")),
            "messages.0.content.0.source.media_type: \"image/bmp\" is not "
            "supported", "image/bmp");
    rejects(BODY(MSG("[{'type':'image','source':{'type':'base64',"
                     "'media_type':'image/svg+xml','data':'AAAA'}}]")),
            "use image/jpeg, image/png, image/gif or image/webp",
            "image/svg+xml lists the supported types");
    rejects(BODY(MSG("[{'type':'image','source':{'type':'base64',"
                     "'media_type':'image/png'}}]")),
            "messages.0.content.0.source.data: expected base64",
            "image without data");
    rejects(BODY(MSG("[{'type':'image','source':{'type':'base64',"
                     "'media_type':'image/png','data':''}}]")),
            "messages.0.content.0.source.data", "image with empty data");

    /* tool_use, in the assistant turn */
    rejects(BODY("'messages':[{'role':'user','content':'a'},"
                 "{'role':'assistant','content':[{'type':'tool_use',"
                 "'name':'n','input':{}}]}]"),
            "messages.1.content.0.id: expected a string",
            "tool_use without id");
    rejects(BODY("'messages':[{'role':'user','content':'a'},"
                 "{'role':'assistant','content':[{'type':'tool_use',"
                 "'id':'t','input':{}}]}]"),
            "messages.1.content.0.name: expected a string",
            "tool_use without name");
    rejects(BODY("'messages':[{'role':'user','content':'a'},"
                 "{'role':'assistant','content':[{'type':'text','text':'x'},"
                 "{'type':'tool_use','id':'t','name':'n','input':'{}'}]}]"),
            "messages.1.content.1.input: expected an object",
            "tool_use input a string");

    /* tool_result */
    rejects(BODY(MSG("[{'type':'tool_result','content':'x'}]")),
            "messages.0.content.0.tool_use_id: expected a string",
            "tool_result without tool_use_id");
    rejects(BODY(MSG("[{'type':'tool_result','tool_use_id':'t',"
                     "'content':5}]")),
            "messages.0.content.0.content: expected a string or an array",
            "tool_result content a number");
    rejects(BODY(MSG("[{'type':'tool_result','tool_use_id':'t',"
                     "'content':{'type':'text','text':'x'}}]")),
            "messages.0.content.0.content: expected",
            "tool_result content an object");

    /* thinking */
    rejects(BODY("'messages':[{'role':'user','content':'a'},"
                 "{'role':'assistant','content':[{'type':'thinking'}]}]"),
            "messages.1.content.0.thinking: expected a string",
            "thinking block without thinking");
    rejects(BODY("'messages':[{'role':'user','content':'a'},"
                 "{'role':'assistant','content':[{'type':"
                 "'redacted_thinking'}]}]"),
            "messages.1.content.0.data: expected a string",
            "redacted_thinking without data");

    /* documents */
    rejects(BODY(MSG("[{'type':'document','source':{'type':'base64',"
                     "'media_type':'application/pdf','data':'JVBER'}}]")),
            "messages.0.content.0: only documents with a \"text\" source",
            "pdf document");
    rejects(BODY(MSG("[{'type':'document','source':{'type':'text'}}]")),
            "messages.0.content.0: only documents",
            "text document without data");
}


static void
test_parse_ok(void)
{
    q2api_tool_t     *t;
    q2api_block_t    *b;
    q2api_message_t  *m;
    q2api_request_t   req;

    /* the minimum */
    if (accepts(&req, BODY(MSG("'hello'")), "minimal body") == Q2API_OK) {
        ok(str_is(req.model, "m"), "model kept");
        is_int(req.nmessages, 1, "one message");
        is_int(req.messages->role, Q2API_ROLE_USER, "role user");
        is_int(req.messages->blocks->type, Q2API_BLOCK_TEXT, "text block");
        is_qstr(req.messages->blocks->text, "hello", "text kept");
        is_int(req.max_tokens, -1, "max_tokens not given");
        is_int(req.stream, 0, "stream defaults to false");
        is_int(req.thinking, 0, "thinking defaults to off");
        is_int(req.system.len, 0, "no system");
        ok(req.tools == NULL && req.ntools == 0, "no tools");
    }

    q2api_request_free(&req);

    /* top-level fields */
    if (accepts(&req, "{'model':'claude-sonnet-4-5','max_tokens':4096,"
                      "'stream':true,'temperature':0.5,'metadata':{},"
                      "'system':'be brief'," MSG("'x'") "}",
                "top-level fields") == Q2API_OK)
    {
        is_int(req.max_tokens, 4096, "max_tokens");
        is_int(req.stream, 1, "stream");
        is_qstr(req.system, "be brief", "system string");
    }

    q2api_request_free(&req);

    /* nulls are "not given" */
    if (accepts(&req, "{'model':'m','max_tokens':null,'stream':null,"
                      "'system':null,'tools':null,'thinking':null,"
                      MSG("'x'") "}", "null fields") == Q2API_OK)
    {
        is_int(req.max_tokens, -1, "max_tokens null");
        is_int(req.stream, 0, "stream null");
    }

    q2api_request_free(&req);

    /* consecutive same-role messages merge; system messages join the
     * system text and do not break the run */
    if (accepts(&req, BODY("'system':[{'type':'text','text':'S1'},"
                           "{'type':'text','text':'S2',"
                           "'cache_control':{'type':'ephemeral'}}],"
                           "'messages':["
                           "{'role':'user','content':'a'},"
                           "{'role':'user','content':[{'type':'text',"
                           "'text':'b'}]},"
                           "{'role':'system','content':'S3'},"
                           "{'role':'user','content':'c'},"
                           "{'role':'assistant','content':'d'},"
                           "{'role':'assistant','content':'e'},"
                           "{'role':'system','content':[{'type':'text',"
                           "'text':'S4'}]},"
                           "{'role':'user','content':'f'}]"),
                "merging") == Q2API_OK)
    {
        is_int(req.nmessages, 3, "merged into three turns");
        m = req.messages;
        ok(m->role == Q2API_ROLE_USER && nblocks(m) == 3,
           "first turn: user, three blocks");
        ok(str_is(m->blocks->text, "a") && str_is(m->blocks->next->text, "b")
           && str_is(m->blocks->next->next->text, "c"),
           "first turn: a, b, c in order");
        m = m->next;
        ok(m->role == Q2API_ROLE_ASSISTANT && nblocks(m) == 2,
           "second turn: assistant, two blocks");
        m = m->next;
        ok(m->role == Q2API_ROLE_USER && nblocks(m) == 1
           && str_is(m->blocks->text, "f"), "third turn: user f");
        ok(m == req.last && m->next == NULL, "last is the third");
        is_qstr(req.system, "S1\nS2\nS3\nS4", "system blocks and "
                "system messages joined by newlines");
    }

    q2api_request_free(&req);

    /* a leading assistant message is kept as such */
    if (accepts(&req, BODY("'messages':[{'role':'assistant','content':'a'},"
                           "{'role':'user','content':'b'}]"),
                "leading assistant") == Q2API_OK)
    {
        is_int(req.nmessages, 2, "leading assistant: two turns");
        is_int(req.messages->role, Q2API_ROLE_ASSISTANT,
               "leading assistant: first is assistant");
    }

    q2api_request_free(&req);

    /* every block type */
    if (accepts(&req, BODY("'messages':["
                "{'role':'user','content':["
                "{'type':'text','text':'look'},"
                "{'type':'image','source':{'type':'base64',"
                "'media_type':'image/png','data':'iVBORw=='}},"
                "{'type':'image','source':{'type':'base64',"
                "'media_type':'image/jpg','data':'/9j/'}},"
                "{'type':'image','source':{'type':'base64',"
                "'media_type':'image/jpeg','data':'/9j/'}},"
                "{'type':'image','source':{'type':'base64',"
                "'media_type':'image/gif','data':'R0lG'}},"
                "{'type':'image','source':{'type':'base64',"
                "'media_type':'image/webp','data':'UklG'}},"
                "{'type':'document','source':{'type':'text',"
                "'media_type':'text/plain','data':'doc text'}}]},"
                "{'role':'assistant','content':["
                "{'type':'thinking','thinking':'hmm','signature':'sig'},"
                "{'type':'redacted_thinking','data':'opaque'},"
                "{'type':'text','text':'calling'},"
                "{'type':'tool_use','id':'t1','name':'get',"
                "'input':{'city':'Paris','n':[1,2]}},"
                "{'type':'tool_use','id':'t2','name':'noinput'},"
                "{'type':'server_tool_use','id':'s1','name':'web_search',"
                "'input':{'query':'q'}},"
                "{'type':'web_search_tool_result','tool_use_id':'s1',"
                "'content':[]}]},"
                "{'role':'user','content':["
                "{'type':'tool_result','tool_use_id':'t1','content':'18C'},"
                "{'type':'tool_result','tool_use_id':'t2','is_error':true,"
                "'content':[{'type':'text','text':'line1'},"
                "{'type':'image','source':{'type':'base64',"
                "'media_type':'image/png','data':'iVBORw=='}},"
                "{'type':'text','text':'line2'},{'type':'other'}]},"
                "{'type':'tool_result','tool_use_id':'s1'},"
                "{'type':'tool_result','tool_use_id':'s2','content':null,"
                "'is_error':false},"
                "{'type':'tool_result','tool_use_id':'s3','content':[]}]}]"),
                "every block type") == Q2API_OK)
    {
        m = req.messages;
        is_int(nblocks(m), 7, "user: text, five images, document");
        b = m->blocks->next;
        ok(b->type == Q2API_BLOCK_IMAGE
           && str_is(b->media_type, "image/png")
           && str_is(b->data, "iVBORw=="), "png image");
        b = b->next;
        ok(str_is(b->media_type, "image/jpeg"),
           "image/jpg becomes image/jpeg");
        b = b->next;
        ok(str_is(b->media_type, "image/jpeg"), "image/jpeg");
        b = b->next;
        ok(str_is(b->media_type, "image/gif"), "image/gif");
        b = b->next;
        ok(str_is(b->media_type, "image/webp"), "image/webp");
        b = b->next;
        ok(b->type == Q2API_BLOCK_TEXT && str_is(b->text, "doc text"),
           "text document becomes text");

        m = m->next;
        is_int(nblocks(m), 6, "assistant: six blocks, server result "
               "skipped");
        b = m->blocks;
        ok(b->type == Q2API_BLOCK_THINKING && str_is(b->text, "hmm")
           && str_is(b->data, "sig"), "thinking with signature");
        b = b->next;
        ok(b->type == Q2API_BLOCK_REDACTED_THINKING
           && str_is(b->data, "opaque"), "redacted thinking");
        b = b->next->next;
        ok(b->type == Q2API_BLOCK_TOOL_USE && str_is(b->id, "t1")
           && str_is(b->name, "get"), "tool_use id and name");
        is_qstr(b->data, "{\"city\":\"Paris\",\"n\":[1,2]}",
                "tool_use input as compact JSON");
        b = b->next;
        is_qstr(b->data, "{}", "tool_use without input: {}");
        b = b->next;
        ok(b->type == Q2API_BLOCK_TOOL_USE && str_is(b->id, "s1"),
           "server_tool_use kept as a tool use");

        m = m->next;
        is_int(nblocks(m), 5, "user: five tool results");
        b = m->blocks;
        ok(b->type == Q2API_BLOCK_TOOL_RESULT && str_is(b->id, "t1")
           && str_is(b->text, "18C") && !b->is_error,
           "tool_result string content");
        b = b->next;
        ok(b->is_error, "tool_result is_error");
        {
            q2api_block_t  *c;

            c = b->content;
            ok(b->text.len == 0 && c != NULL && c->type == Q2API_BLOCK_TEXT
               && str_is(c->text, "line1"),
               "tool_result blocks kept: text");
            c = c ? c->next : NULL;
            ok(c != NULL && c->type == Q2API_BLOCK_IMAGE
               && str_is(c->media_type, "image/png")
               && str_is(c->data, "iVBORw=="),
               "tool_result blocks kept: the image, with its MIME type");
            c = c ? c->next : NULL;
            ok(c != NULL && c->type == Q2API_BLOCK_TEXT
               && str_is(c->text, "line2") && c->next == NULL,
               "tool_result blocks kept: text; unknown blocks skipped");
        }
        b = b->next;
        ok(b->text.len == 0 && b->content == NULL && !b->is_error,
           "tool_result without content");
        b = b->next;
        ok(b->text.len == 0 && b->content == NULL,
           "tool_result content null");
        b = b->next;
        ok(b->text.len == 0 && b->content == NULL,
           "tool_result content []");
    }

    q2api_request_free(&req);

    /* tools: custom ones kept, server tools skipped */
    if (accepts(&req, BODY(MSG("'a'") ",'tools':["
                "{'name':'get_weather','description':'Get the weather',"
                "'input_schema':{'type':'object','properties':"
                "{'city':{'type':'string'}},'required':['city']}},"
                "{'type':'web_search_20250305','name':'web_search',"
                "'max_uses':5},"
                "{'type':'custom','name':'nodesc','description':null,"
                "'input_schema':{'type':'object'}},"
                "{'type':'bash_20250124','name':'bash'}]"),
                "tools") == Q2API_OK)
    {
        is_int(req.ntools, 2, "two custom tools, server tools skipped");
        is_int(req.nserver_tools, 2, "two server tools counted");
        t = req.tools;
        ok(str_is(t->name, "get_weather")
           && str_is(t->description, "Get the weather"), "tool 0");
        is_qstr(t->schema, "{\"type\":\"object\",\"properties\":{\"city\":"
                "{\"type\":\"string\"}},\"required\":[\"city\"]}",
                "tool 0 schema compact");
        t = t->next;
        ok(str_is(t->name, "nodesc") && t->description.len == 0
           && str_is(t->schema, "{\"type\":\"object\"}"), "tool 1");
        ok(t->next == NULL, "no third tool");
    }

    q2api_request_free(&req);

    /* thinking forms */
    if (accepts(&req, BODY(MSG("'a'") ",'thinking':{'type':'enabled',"
                                      "'budget_tokens':2048}"),
                "thinking enabled") == Q2API_OK)
    {
        ok(req.thinking && req.thinking_budget == 2048,
           "thinking enabled with budget");
    }

    q2api_request_free(&req);

    if (accepts(&req, BODY(MSG("'a'") ",'thinking':{'type':'adaptive',"
                                      "'display':'summarized'}"),
                "thinking adaptive") == Q2API_OK)
    {
        ok(req.thinking && req.thinking_budget == 0, "thinking adaptive");
    }

    q2api_request_free(&req);

    if (accepts(&req, BODY(MSG("'a'") ",'thinking':{'type':'disabled'}"),
                "thinking disabled") == Q2API_OK)
    {
        ok(!req.thinking, "thinking disabled");
    }

    q2api_request_free(&req);

    /* unknown top-level fields and odd but valid JSON */
    if (accepts(&req, " \n{'model':'m','context_management':{'edits':[]},"
                      "'output_config':{'effort':'low'},"
                      MSG("'caf\xc3\xa9 \\u00e9 \\ud83d\\ude00'") "}\n ",
                "whitespace around, unicode escapes") == Q2API_OK)
    {
        is_qstr(req.messages->blocks->text,
                "caf\xc3\xa9 \xc3\xa9 \xf0\x9f\x98\x80",
                "escapes decoded to UTF-8");
    }

    q2api_request_free(&req);

    /* the estimate counts text, tool inputs and tools */
    if (accepts(&req, BODY("'system':'12345678',"
                           "'messages':[{'role':'user','content':'abcd'}]"),
                "estimate body") == Q2API_OK)
    {
        is_int(q2api_request_estimate_tokens(&req), 3,
               "estimate: 12 bytes / 4");
    }

    q2api_request_free(&req);
}

/* NUL is content like any other; image data must be base64 */
static void
test_nul_and_base64(void)
{
    q2api_block_t    *b;
    q2api_request_t   req;

    if (accepts(&req, BODY(MSG("'a\\u0000b'")), "NUL in a string")
        == Q2API_OK)
    {
        is_mem(req.messages->blocks->text.data,
               req.messages->blocks->text.len, "a\0b", 3,
               "NUL in a string: kept with what follows");
        q2api_request_free(&req);
    }

    if (accepts(&req, BODY(MSG("[{'type':'text','text':'\\u0000x\\u0000'}]")
                           ",'system':'s\\u0000t'"),
                "NUL in a block and the system")
        == Q2API_OK)
    {
        is_mem(req.messages->blocks->text.data,
               req.messages->blocks->text.len, "\0x\0", 3,
               "NUL first and last in a block");
        is_mem(req.system.data, req.system.len, "s\0t", 3,
               "NUL in the system prompt");
        q2api_request_free(&req);
    }

    /* an escaped backslash before u0000 is text, not a NUL */
    if (accepts(&req, BODY(MSG("'a\\\\u0000b'")), "escaped backslash")
        == Q2API_OK)
    {
        is_qstr(req.messages->blocks->text, "a\\u0000b",
                "escaped backslash: the six characters kept");
        q2api_request_free(&req);
    }

    if (accepts(&req, BODY("'messages':[{'role':'user','content':'a'},"
                           "{'role':'assistant','content':[{'type':"
                           "'tool_use','id':'t','name':'n','input':"
                           "{'k':'v\\u0000w'}}]},"
                           "{'role':'user','content':[{'type':"
                           "'tool_result','tool_use_id':'t','content':"
                           "'r\\u0000s'}]}]"), "NUL in tool input")
        == Q2API_OK)
    {
        b = req.messages->next->blocks;
        is_qstr(b->data, "{\"k\":\"v\\u0000w\"}",
                "NUL in tool input: escaped in its JSON");
        b = req.messages->next->next->blocks;
        is_mem(b->text.data, b->text.len, "r\0s", 3,
               "NUL in a tool result");
        q2api_request_free(&req);
    }

    /* a raw NUL byte in a string is a NUL too, not the end of it */
    {
        static const char  raw[] = "{\"model\":\"m\",\"messages\":[{\"role\":"
                                   "\"user\",\"content\":\"a\0b\"}]}";
        q2api_error_t      err;

        if (ok(parse_raw(&req, raw, sizeof(raw) - 1, &err) == Q2API_OK,
               "raw NUL in a string"))
        {
            is_mem(req.messages->blocks->text.data,
                   req.messages->blocks->text.len, "a\0b", 3,
                   "raw NUL: kept with what follows");
        }

        q2api_request_free(&req);
    }

    /* cJSON reads a \u escape without four hex digits as a NUL */
    rejects(BODY(MSG("'a\\u0\\u0000b'")), "without four hex digits",
            "a short \\u escape");
    rejects(BODY(MSG("'a\\u12'")), "not valid JSON", "\\u at the end");

#define IMAGE(data)                                                        \
    MSG("[{'type':'image','source':{'type':'base64',"                      \
        "'media_type':'image/png','data':'" data "'}}]")

    rejects(BODY(IMAGE("!!!not base64%%%")),
            "messages.0.content.0.source.data: expected base64",
            "image data not base64");
    rejects(BODY(IMAGE("AAA")), "source.data", "base64 not a multiple of 4");
    rejects(BODY(IMAGE("AA=A")), "source.data", "base64 padding inside");
    rejects(BODY(IMAGE("A===")), "source.data", "base64 three pads");
    rejects(BODY(IMAGE("AAA=AAAA")), "source.data", "base64 pad then more");
    rejects(BODY(IMAGE("AAAA\\nAAAA")), "source.data", "base64 line break");
    rejects(BODY(IMAGE("AA\\u0000A")), "source.data", "base64 with NUL");
    rejects(BODY(IMAGE("iVBOR")), "source.data", "base64 cut short");

    if (accepts(&req, BODY(IMAGE("iVBORw0KGgo=")), "base64 one pad")
        == Q2API_OK)
    {
        is_qstr(req.messages->blocks->data, "iVBORw0KGgo=",
                "base64 kept as sent");
        q2api_request_free(&req);
    }

    if (accepts(&req, BODY(IMAGE("R0lG+/==")), "base64 two pads, + and /")
        == Q2API_OK)
    {
        q2api_request_free(&req);
    }
}


int
main(void)
{
    test_message_errors();
    test_block_errors();
    test_parse_ok();
    test_nul_and_base64();

    return done_testing();
}
