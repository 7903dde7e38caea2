/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The Anthropic Messages front end: request validation and its error texts,
 * what the parser makes of a valid body, and the encoder's exact SSE (and
 * stream: false JSON) for canonical event sequences.
 */


#include <stdint.h>

#include <cjson/cJSON.h>

#include "tap.h"
#include "sse_check.h"
#include "q2api_claude.h"
#include "q2api_sse.h"


/* JSON bodies are written with ' for " to stay readable */
static char *
jq(const char *s)
{
    char    *p;
    size_t   i, n;

    n = strlen(s);
    p = malloc(n + 1);

    for (i = 0; i <= n; i++) {
        p[i] = (s[i] == '\'') ? '"' : s[i];
    }

    return p;
}


static int
parse_raw(q2api_request_t *req, const char *body, size_t len,
    q2api_error_t *err)
{
    q2api_request_init(req);
    memset(err, 0, sizeof(q2api_error_t));

    return q2api_claude_parse(req, body, len, err);
}


/* the body is refused with invalid_request_error and a message holding
 * "want" (the field path and what is wrong) */
static void
rejects_raw(const char *body, size_t len, const char *want, const char *name)
{
    int              rc;
    char             what[200];
    q2api_error_t    err;
    q2api_request_t  req;

    rc = parse_raw(&req, body, len, &err);

    snprintf(what, sizeof(what), "%s: refused", name);
    is_int(rc, Q2API_ERROR, what);

    snprintf(what, sizeof(what), "%s: invalid_request_error", name);
    is_int(err.kind, Q2API_ERR_INVALID_REQUEST, what);

    snprintf(what, sizeof(what), "%s: says '%s'", name, want);
    if (!ok(strstr(err.message, want) != NULL, what)) {
        diag("message: %s", err.message);
    }

    q2api_request_free(&req);
}


static void
rejects(const char *body, const char *want, const char *name)
{
    char  *b;

    b = jq(body);
    rejects_raw(b, strlen(b), want, name);
    free(b);
}


/* parses a valid body into req (to be freed by the caller) */
static int
accepts(q2api_request_t *req, const char *body, const char *name)
{
    int            rc;
    char          *b;
    q2api_error_t  err;

    b = jq(body);
    rc = parse_raw(req, b, strlen(b), &err);
    free(b);

    if (!ok(rc == Q2API_OK, name)) {
        diag("error: %s", err.message);
    }

    return rc;
}


static int
str_is(q2api_str_t s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.data, want, s.len) == 0;
}


#define is_qstr(got, want, name)                                           \
    is_mem((got).data, (got).len, want, strlen(want), name)


static int
nblocks(const q2api_message_t *m)
{
    int                   n;
    const q2api_block_t  *b;

    n = 0;

    for (b = m->blocks; b != NULL; b = b->next) {
        n++;
    }

    return n;
}


#define MSG(x)  "'messages':[{'role':'user','content':" x "}]"
#define BODY(x)  "{'model':'m'," x "}"


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


/* temperature, top_p, top_k, stop_sequences: kept, and checked */
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
                "'media_type':'image/png','data':'iVBOR'}},"
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
                "'media_type':'image/png','data':'iVBOR'}},"
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
           && str_is(b->data, "iVBOR"), "png image");
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
               && str_is(c->data, "iVBOR"),
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


/* the encoder ------------------------------------------------------------ */


typedef struct {
    int          type;      /* q2api_event_type_e; -1 ends a script */
    const char  *text;      /* text; tool id; error message */
    const char  *name;      /* tool name */
    long long    a;         /* stop reason; error kind; output tokens */
    long long    b;         /* input tokens */
    long long    c;         /* cache read tokens */
    long long    d;         /* cache write tokens */
} step_t;

#define END  { .type = -1 }
#define TEXT(t)  { .type = Q2API_EV_TEXT, .text = t }
#define THINK(t)  { .type = Q2API_EV_THINKING, .text = t }
#define SIG(t)  { .type = Q2API_EV_SIGNATURE, .text = t }
#define REDACTED(t)  { .type = Q2API_EV_REDACTED_THINKING, .text = t }
#define TOOL(i, n)  { .type = Q2API_EV_TOOL_START, .text = i, .name = n }
#define INPUT(t)  { .type = Q2API_EV_TOOL_INPUT, .text = t }
#define TSTOP  { .type = Q2API_EV_TOOL_STOP }
#define STOP(r)  { .type = Q2API_EV_STOP, .a = r }
#define ERR(k, m)  { .type = Q2API_EV_ERROR, .a = k, .text = m }
#define BEGIN  { .type = Q2API_EV_BEGIN }


static const char  *test_model = "claude-test";


/* runs a script through a fresh encoder; the finish unless told not to */
static int
run(const step_t *st, int stream, q2api_buf_t *out)
{
    int                     rc;
    q2api_event_t           ev;
    q2api_request_t         req;
    q2api_claude_stream_t   s;

    q2api_request_init(&req);
    req.model.data = test_model;
    req.model.len = strlen(test_model);
    req.stream = stream;

    rc = q2api_claude_stream_init(&s, out, &req);
    if (rc != Q2API_OK) {
        return rc;
    }

    /* fixed, for exact comparisons */
    memcpy(s.id, "msg_test", 9);
    s.input_tokens = 10;

    for ( ; st->type >= 0; st++) {
        memset(&ev, 0, sizeof(q2api_event_t));
        q2api_usage_init(&ev.usage);
        ev.type = st->type;

        switch (st->type) {

        case Q2API_EV_TOOL_START:
            ev.id.data = st->text;
            ev.id.len = strlen(st->text);
            ev.name.data = st->name;
            ev.name.len = strlen(st->name);
            break;

        case Q2API_EV_STOP:
            ev.stop = st->a;
            break;

        case Q2API_EV_USAGE:
            ev.usage.output_tokens = st->a;
            ev.usage.input_tokens = st->b;
            ev.usage.cache_read_tokens = st->c;
            ev.usage.cache_write_tokens = st->d;
            break;

        case Q2API_EV_ERROR:
            ev.error = st->a;
            /* fall through */

        default:
            ev.text.data = st->text;
            ev.text.len = st->text ? strlen(st->text) : 0;
        }

        if (q2api_claude_stream_event(&s, &ev) != Q2API_OK) {
            rc = Q2API_ERROR;
        }
    }

    if (q2api_claude_stream_finish(&s) != Q2API_OK) {
        rc = Q2API_ERROR;
    }

    /* a second finish changes nothing */
    if (q2api_claude_stream_finish(&s) != Q2API_OK) {
        rc = Q2API_ERROR;
    }

    q2api_claude_stream_free(&s);
    q2api_request_free(&req);

    return rc;
}


/* expected output, piece by piece */

static void
w(q2api_buf_t *b, const char *name, const char *data)
{
    q2api_sse_event(b, name, data, strlen(data));
}


static void
wf(q2api_buf_t *b, const char *name, const char *fmt, ...)
{
    char     data[2048];
    va_list  args;

    va_start(args, fmt);
    vsnprintf(data, sizeof(data), fmt, args);
    va_end(args);

    w(b, name, data);
}


#define USAGE_FMT                                                          \
    "{\"input_tokens\":%lld,\"cache_creation_input_tokens\":%lld,"         \
    "\"cache_read_input_tokens\":%lld,\"output_tokens\":%lld}"


static void
w_head(q2api_buf_t *b)
{
    wf(b, "message_start", "{\"type\":\"message_start\",\"message\":"
       "{\"id\":\"msg_test\",\"type\":\"message\",\"role\":\"assistant\","
       "\"model\":\"%s\",\"content\":[],\"stop_reason\":null,"
       "\"stop_sequence\":null,\"usage\":" USAGE_FMT "}}", test_model,
       10LL, 0LL, 0LL, 1LL);
    w(b, "ping", "{\"type\":\"ping\"}");
}


static void
w_text(q2api_buf_t *b, int i)
{
    wf(b, "content_block_start", "{\"type\":\"content_block_start\","
       "\"index\":%d,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}",
       i);
}


static void
w_thinking(q2api_buf_t *b, int i)
{
    wf(b, "content_block_start", "{\"type\":\"content_block_start\","
       "\"index\":%d,\"content_block\":{\"type\":\"thinking\","
       "\"thinking\":\"\",\"signature\":\"\"}}", i);
}


static void
w_tool(q2api_buf_t *b, int i, const char *id, const char *name)
{
    wf(b, "content_block_start", "{\"type\":\"content_block_start\","
       "\"index\":%d,\"content_block\":{\"type\":\"tool_use\","
       "\"id\":\"%s\",\"name\":\"%s\",\"input\":{}}}", i, id, name);
}


/* json: the delta's value already as JSON */
static void
w_delta(q2api_buf_t *b, int i, const char *kind, const char *field,
    const char *json)
{
    wf(b, "content_block_delta", "{\"type\":\"content_block_delta\","
       "\"index\":%d,\"delta\":{\"type\":\"%s\",\"%s\":%s}}", i, kind,
       field, json);
}


static void
w_stop(q2api_buf_t *b, int i)
{
    wf(b, "content_block_stop", "{\"type\":\"content_block_stop\","
       "\"index\":%d}", i);
}


static void
w_tail(q2api_buf_t *b, const char *reason, long long in, long long cw,
    long long cr, long long out)
{
    wf(b, "message_delta", "{\"type\":\"message_delta\",\"delta\":"
       "{\"stop_reason\":\"%s\",\"stop_sequence\":null},\"usage\":"
       USAGE_FMT "}", reason, in, cw, cr, out);
    w(b, "message_stop", "{\"type\":\"message_stop\"}");
}


static cJSON *
parse_body(const q2api_buf_t *b)
{
    char         *s;
    cJSON        *j;
    const char   *end;

    s = malloc(b->len + 1);
    if (b->len) {
        memcpy(s, b->data, b->len);
    }

    s[b->len] = '\0';
    j = cJSON_ParseWithOpts(s, &end, 1);
    free(s);

    return j;
}


/*
 * Runs the script both ways: the stream must be exactly "want" and well
 * formed, and the stream: false answer must describe the same message.
 * The parsed stream is left in *m for more checks (freed by the caller).
 */
static void
both(const step_t *st, const q2api_buf_t *want, const char *name,
    sse_msg_t *m)
{
    int           rc;
    char          what[200], why[128];
    cJSON        *json;
    q2api_buf_t   out;

    q2api_buf_init(&out, 0);

    rc = run(st, 1, &out);
    snprintf(what, sizeof(what), "%s: stream ok", name);
    is_int(rc, Q2API_OK, what);

    snprintf(what, sizeof(what), "%s: exact SSE", name);
    is_mem(out.data, out.len, want->data, want->len, what);

    rc = sse_parse(out.data, out.len, m);
    snprintf(what, sizeof(what), "%s: well-formed SSE", name);
    if (!ok(rc == 0, what)) {
        diag("%s", m->why);
    }

    q2api_buf_reset(&out);

    rc = run(st, 0, &out);
    snprintf(what, sizeof(what), "%s: non-stream ok", name);
    is_int(rc, Q2API_OK, what);

    json = parse_body(&out);
    snprintf(what, sizeof(what), "%s: non-stream is one JSON object", name);
    ok(cJSON_IsObject(json), what);

    snprintf(what, sizeof(what), "%s: non-stream says what the stream said",
             name);
    if (!ok(sse_same_message(m, json, why, sizeof(why)) == 0, what)) {
        diag("%s", why);
        diag("non-stream: %.*s", (int) out.len, (char *) out.data);
    }

    cJSON_Delete(json);
    q2api_buf_free(&out);
}


static void
test_plain_text(void)
{
    sse_msg_t    m;
    q2api_buf_t  want, out;

    static const step_t  st[] = {
        BEGIN, TEXT("Hello"), TEXT(""), TEXT(" world"), END
    };

    q2api_buf_init(&want, 0);
    w_head(&want);
    w_text(&want, 0);
    w_delta(&want, 0, "text_delta", "text", "\"Hello\"");
    w_delta(&want, 0, "text_delta", "text", "\" world\"");
    w_stop(&want, 0);
    w_tail(&want, "end_turn", 10, 0, 0, 3);

    both(st, &want, "plain text", &m);
    sse_msg_free(&m);
    q2api_buf_free(&want);

    /* the exact stream: false body */
    q2api_buf_init(&out, 0);
    run(st, 0, &out);
    {
        static const char  body[] =
            "{\"id\":\"msg_test\",\"type\":\"message\",\"role\":\"assistant\","
            "\"model\":\"claude-test\",\"content\":[{\"type\":\"text\","
            "\"text\":\"Hello world\"}],\"stop_reason\":\"end_turn\","
            "\"stop_sequence\":null,\"usage\":{\"input_tokens\":10,"
            "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,"
            "\"output_tokens\":3}}";

        is_mem(out.data, out.len, body, sizeof(body) - 1,
               "plain text: exact non-stream body");
    }
    q2api_buf_free(&out);
}


static void
test_thinking(void)
{
    cJSON        *c;
    sse_msg_t     m;
    q2api_buf_t   want;

    static const step_t  st[] = {
        THINK("Let me"), THINK(" think"), SIG("sig-1"), SIG("sig-2"),
        TEXT("Answer"), END
    };

    static const step_t  redacted[] = {
        THINK("t"), REDACTED("opaque\""), REDACTED("two"), TEXT("b"), END
    };

    static const step_t  lone[] = {
        TEXT("a"), SIG("s"), TEXT("b"), THINK("t"), THINK(""), TEXT("c"), END
    };

    q2api_buf_init(&want, 0);
    w_head(&want);
    w_thinking(&want, 0);
    w_delta(&want, 0, "thinking_delta", "thinking", "\"Let me\"");
    w_delta(&want, 0, "thinking_delta", "thinking", "\" think\"");
    w_delta(&want, 0, "signature_delta", "signature", "\"sig-1\"");
    w_delta(&want, 0, "signature_delta", "signature", "\"sig-2\"");
    w_stop(&want, 0);
    w_text(&want, 1);
    w_delta(&want, 1, "text_delta", "text", "\"Answer\"");
    w_stop(&want, 1);
    /* thinking is not counted: 6 bytes of text */
    w_tail(&want, "end_turn", 10, 0, 0, 2);

    both(st, &want, "thinking then text", &m);

    c = cJSON_GetArrayItem(cJSON_GetObjectItem(m.message, "content"), 0);
    ok(sse_is_str(c, "thinking", "Let me think")
       && sse_is_str(c, "signature", "sig-2"),
       "thinking: text joined, last signature wins");
    sse_msg_free(&m);

    /* a signature with no thinking open starts a thinking block */
    q2api_buf_reset(&want);
    w_head(&want);
    w_text(&want, 0);
    w_delta(&want, 0, "text_delta", "text", "\"a\"");
    w_stop(&want, 0);
    w_thinking(&want, 1);
    w_delta(&want, 1, "signature_delta", "signature", "\"s\"");
    w_stop(&want, 1);
    w_text(&want, 2);
    w_delta(&want, 2, "text_delta", "text", "\"b\"");
    w_stop(&want, 2);
    w_thinking(&want, 3);
    w_delta(&want, 3, "thinking_delta", "thinking", "\"t\"");
    w_stop(&want, 3);
    w_text(&want, 4);
    w_delta(&want, 4, "text_delta", "text", "\"c\"");
    w_stop(&want, 4);
    w_tail(&want, "end_turn", 10, 0, 0, 1);

    both(lone, &want, "lone signature", &m);
    is_int(m.nblocks, 5, "lone signature: five blocks");
    sse_msg_free(&m);

    /* redacted thinking: whole in its start event, one block each */
    q2api_buf_reset(&want);
    w_head(&want);
    w_thinking(&want, 0);
    w_delta(&want, 0, "thinking_delta", "thinking", "\"t\"");
    w_stop(&want, 0);
    wf(&want, "content_block_start", "{\"type\":\"content_block_start\","
       "\"index\":1,\"content_block\":{\"type\":\"redacted_thinking\","
       "\"data\":\"opaque\\\"\"}}");
    w_stop(&want, 1);
    wf(&want, "content_block_start", "{\"type\":\"content_block_start\","
       "\"index\":2,\"content_block\":{\"type\":\"redacted_thinking\","
       "\"data\":\"two\"}}");
    w_stop(&want, 2);
    w_text(&want, 3);
    w_delta(&want, 3, "text_delta", "text", "\"b\"");
    w_stop(&want, 3);
    w_tail(&want, "end_turn", 10, 0, 0, 1);

    both(redacted, &want, "redacted thinking", &m);
    sse_msg_free(&m);

    q2api_buf_free(&want);
}


static void
test_tools(void)
{
    cJSON        *content, *input, *want_in;
    sse_msg_t     m;
    q2api_buf_t   want;

    static const step_t  st[] = {
        TEXT("Let me check."),
        TOOL("toolu_1", "get_weather"),
        INPUT("{\"ci"), INPUT("ty\": \"Par"), INPUT(""), INPUT("is\"}"),
        TSTOP,
        TOOL("toolu_2", "get_time"),
        INPUT("{\"tz\":"), INPUT("\"UTC\",\"q\":\"a\\\"b\"}"),
        TSTOP,
        END
    };

    /* a tool started while another is open closes it; input with no
     * tool open, and a stop with none, are ignored; an open tool is
     * closed by the finish */
    static const step_t  odd[] = {
        INPUT("{\"lost\":1}"), TSTOP,
        TOOL("a", "x"), TOOL("b", "y"), INPUT("{}"), TSTOP, TSTOP,
        INPUT("{\"late\":1}"),
        TOOL("c", "z"), INPUT("{\"k\":"), INPUT("1}"),
        END
    };

    q2api_buf_init(&want, 0);
    w_head(&want);
    w_text(&want, 0);
    w_delta(&want, 0, "text_delta", "text", "\"Let me check.\"");
    w_stop(&want, 0);
    w_tool(&want, 1, "toolu_1", "get_weather");
    w_delta(&want, 1, "input_json_delta", "partial_json", "\"{\\\"ci\"");
    w_delta(&want, 1, "input_json_delta", "partial_json",
            "\"ty\\\": \\\"Par\"");
    w_delta(&want, 1, "input_json_delta", "partial_json", "\"\"");
    w_delta(&want, 1, "input_json_delta", "partial_json", "\"is\\\"}\"");
    w_stop(&want, 1);
    w_tool(&want, 2, "toolu_2", "get_time");
    w_delta(&want, 2, "input_json_delta", "partial_json",
            "\"{\\\"tz\\\":\"");
    w_delta(&want, 2, "input_json_delta", "partial_json",
            "\"\\\"UTC\\\",\\\"q\\\":\\\"a\\\\\\\"b\\\"}\"");
    w_stop(&want, 2);
    /* 13 + 18 + 23 bytes */
    w_tail(&want, "tool_use", 10, 0, 0, 14);

    both(st, &want, "two tools", &m);

    content = cJSON_GetObjectItem(m.message, "content");
    is_int(cJSON_GetArraySize(content), 3, "two tools: three blocks");

    input = cJSON_GetObjectItem(cJSON_GetArrayItem(content, 1), "input");
    want_in = cJSON_Parse("{\"city\":\"Paris\"}");
    ok(cJSON_Compare(input, want_in, 1),
       "tool 1: fragments join to {\"city\":\"Paris\"}");
    cJSON_Delete(want_in);

    input = cJSON_GetObjectItem(cJSON_GetArrayItem(content, 2), "input");
    want_in = cJSON_Parse("{\"tz\":\"UTC\",\"q\":\"a\\\"b\"}");
    ok(cJSON_Compare(input, want_in, 1), "tool 2: fragments join");
    cJSON_Delete(want_in);

    ok(sse_is_str(cJSON_GetArrayItem(content, 2), "id", "toolu_2")
       && sse_is_str(cJSON_GetArrayItem(content, 2), "name", "get_time"),
       "tool 2: id and name");
    sse_msg_free(&m);

    q2api_buf_reset(&want);
    w_head(&want);
    w_tool(&want, 0, "a", "x");
    w_stop(&want, 0);
    w_tool(&want, 1, "b", "y");
    w_delta(&want, 1, "input_json_delta", "partial_json", "\"{}\"");
    w_stop(&want, 1);
    w_tool(&want, 2, "c", "z");
    w_delta(&want, 2, "input_json_delta", "partial_json", "\"{\\\"k\\\":\"");
    w_delta(&want, 2, "input_json_delta", "partial_json", "\"1}\"");
    w_stop(&want, 2);
    w_tail(&want, "tool_use", 10, 0, 0, 3);

    both(odd, &want, "odd tool sequences", &m);
    content = cJSON_GetObjectItem(m.message, "content");
    input = cJSON_GetObjectItem(cJSON_GetArrayItem(content, 0), "input");
    ok(cJSON_IsObject(input) && input->child == NULL,
       "tool without input: {}");
    sse_msg_free(&m);

    q2api_buf_free(&want);
}


/* tool input that is not one JSON object: {} in the stream: false body, as
 * Claude Code makes of the joined fragments */
static void
test_bad_tool_input(void)
{
    size_t        i;
    char          what[128], *canon;
    cJSON        *json, *input, *want_in;
    q2api_buf_t   out;
    step_t        st[6];

    static const struct {
        const char  *a, *b, *want;
    } cases[] = {
        { "{\"a\":", "1}", "{\"a\":1}" },
        { "{\"a\":1}", " \n", "{\"a\":1}" },
        { "\t{\"a\":1}", "", "{\"a\":1}" },
        { "{\"a\":", "", "{}" },
        { "{\"a\":1}", "{\"b\":2}", "{}" },
        { "{\"a\":1}", "x", "{}" },
        { "[1,2]", "", "{}" },
        { "\"str\"", "", "{}" },
        { "", "", "{}" },
        { "null", "", "{}" },
        /* what cJSON takes beyond JSON is printed as JSON */
        { "{\"a\":01", "}", "{\"a\":1}" },
        { "{\x01\"a\":1.}", "\x01", "{\"a\":1}" },
        { "{\"a\":\"x\\u0001\"}", "", "{\"a\":\"x\\u0001\"}" },
        { "{\"a\":1e999}", "", "{\"a\":null}" },
        /* not UTF-8 */
        { "{\"a\":\"\xff\"}", "", "{}" }
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(st, 0, sizeof(st));
        st[0] = (step_t) TOOL("t", "n");
        st[1] = (step_t) INPUT(cases[i].a);
        st[2] = (step_t) INPUT(cases[i].b);
        st[3] = (step_t) TSTOP;
        st[4] = (step_t) END;

        q2api_buf_init(&out, 0);
        run(st, 0, &out);

        json = parse_body(&out);
        input = cJSON_GetObjectItem(cJSON_GetArrayItem(
                    cJSON_GetObjectItem(json, "content"), 0), "input");
        want_in = cJSON_Parse(cases[i].want);

        /* no control characters in a TAP line */
        snprintf(what, sizeof(what), "non-stream input #%zu '%s' -> %s", i,
                 (unsigned char) cases[i].a[0] < ' '
                 || strchr(cases[i].a, 1) || strchr(cases[i].a, '\xff')
                 ? "(control)" : cases[i].a,
                 cases[i].want);
        if (!ok(json != NULL && cJSON_Compare(input, want_in, 1), what)) {
            diag("body: %.*s", (int) out.len, (char *) out.data);
        }

        /* and literally so: the body is strict JSON, not cJSON's dialect */
        canon = cJSON_PrintUnformatted(want_in);
        q2api_buf_append_byte(&out, '\0');
        snprintf(what, sizeof(what), "non-stream input #%zu: \"input\":%s",
                 i, canon);
        ok(strstr((char *) out.data, "\"input\":") != NULL
           && strncmp(strstr((char *) out.data, "\"input\":") + 8, canon,
                      strlen(canon)) == 0, what);
        ok(q2api_utf8_valid((char *) out.data, out.len - 1),
           "non-stream body is UTF-8");
        cJSON_free(canon);

        cJSON_Delete(want_in);
        cJSON_Delete(json);
        q2api_buf_free(&out);
    }
}


static void
test_no_events(void)
{
    sse_msg_t    m;
    q2api_buf_t  want, out;

    static const step_t  none[] = { END };
    static const step_t  begin_only[] = { BEGIN, TEXT(""), THINK(""), END };

    /*
     * An empty reply is content: [] as the real API sends it (e.g. an
     * end_turn right after a tool result); no empty text block is made up.
     */
    q2api_buf_init(&want, 0);
    w_head(&want);
    w_tail(&want, "end_turn", 10, 0, 0, 0);

    both(none, &want, "no events", &m);
    is_int(m.nblocks, 0, "no events: no blocks");
    sse_msg_free(&m);

    both(begin_only, &want, "only empty deltas", &m);
    sse_msg_free(&m);

    q2api_buf_init(&out, 0);
    run(none, 0, &out);
    {
        static const char  body[] =
            "{\"id\":\"msg_test\",\"type\":\"message\",\"role\":\"assistant\","
            "\"model\":\"claude-test\",\"content\":[],\"stop_reason\":"
            "\"end_turn\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":"
            "10,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":"
            "0,\"output_tokens\":0}}";

        is_mem(out.data, out.len, body, sizeof(body) - 1,
               "no events: exact non-stream body");
    }

    q2api_buf_free(&out);
    q2api_buf_free(&want);
}


static void
test_error_event(void)
{
    int           rc;
    sse_msg_t     m;
    q2api_buf_t   want, out;

    static const step_t  st[] = {
        TEXT("partial"), ERR(Q2API_ERR_OVERLOADED, "Overloaded"),
        TEXT("ignored"), TOOL("t", "n"), END
    };

    static const step_t  quoted[] = {
        BEGIN, ERR(Q2API_ERR_INVALID_REQUEST, "prompt is too long: \"x\"\n"),
        END
    };

    static const step_t  nomsg[] = { BEGIN, ERR(Q2API_ERR_API, NULL), END };

    q2api_buf_init(&want, 0);
    w_head(&want);
    w_text(&want, 0);
    w_delta(&want, 0, "text_delta", "text", "\"partial\"");
    w(&want, "error", "{\"type\":\"error\",\"error\":{\"type\":"
      "\"overloaded_error\",\"message\":\"Overloaded\"}}");

    q2api_buf_init(&out, 0);
    rc = run(st, 1, &out);
    is_int(rc, Q2API_OK, "error after text: ok");
    is_mem(out.data, out.len, want.data, want.len,
           "error after text: exact SSE, nothing after the error");
    ok(sse_parse(out.data, out.len, &m) == 0 && m.error != NULL,
       "error after text: well-formed, ends with the error");
    ok(sse_is_str(cJSON_GetObjectItem(m.error, "error"), "type",
                  "overloaded_error"), "error type from the kind");
    sse_msg_free(&m);

    /* stream: false leaves the error to the caller: nothing written */
    q2api_buf_reset(&out);
    rc = run(st, 0, &out);
    is_int(rc, Q2API_OK, "non-stream error: ok");
    is_int(out.len, 0, "non-stream error: nothing written");

    q2api_buf_reset(&out);
    q2api_buf_reset(&want);
    run(quoted, 1, &out);
    w_head(&want);
    w(&want, "error", "{\"type\":\"error\",\"error\":{\"type\":"
      "\"invalid_request_error\",\"message\":"
      "\"prompt is too long: \\\"x\\\"\\n\"}}");
    is_mem(out.data, out.len, want.data, want.len,
           "error message escaped");

    q2api_buf_reset(&out);
    q2api_buf_reset(&want);
    run(nomsg, 1, &out);
    w_head(&want);
    w(&want, "error", "{\"type\":\"error\",\"error\":{\"type\":"
      "\"api_error\",\"message\":\"upstream error\"}}");
    is_mem(out.data, out.len, want.data, want.len,
           "error without a message");

    q2api_buf_free(&out);
    q2api_buf_free(&want);
}


static void
test_usage_and_stop(void)
{
    size_t       i;
    char         what[128];
    sse_msg_t    m;
    q2api_buf_t  want;

    static const step_t  usage[] = {
        TEXT("hi"),
        { .type = Q2API_EV_USAGE, .a = -1, .b = 5000, .c = 0, .d = 0 },
        { .type = Q2API_EV_USAGE, .a = 56, .b = -1, .c = 7, .d = 9 },
        { .type = Q2API_EV_USAGE, .a = -1, .b = -1, .c = 0, .d = 0 },
        END
    };

    static const struct {
        step_t       st[4];
        const char  *reason;
        int          tool;
    } stops[] = {
        { { TEXT("x"), END }, "end_turn", 0 },
        { { TOOL("t", "n"), TSTOP, END }, "tool_use", 1 },
        { { TEXT("x"), STOP(Q2API_STOP_TOOL_USE), END }, "tool_use", 0 },
        { { TOOL("t", "n"), STOP(Q2API_STOP_END_TURN), END }, "end_turn",
          1 },
        { { TEXT("x"), STOP(Q2API_STOP_MAX_TOKENS), END }, "max_tokens", 0 },
        { { TOOL("t", "n"), STOP(Q2API_STOP_MAX_TOKENS), END },
          "max_tokens", 1 },
        { { TEXT("x"), STOP(Q2API_STOP_CONTEXT_EXCEEDED), END },
          "model_context_window_exceeded", 0 },
        { { STOP(Q2API_STOP_MAX_TOKENS), STOP(Q2API_STOP_NONE), END },
          "end_turn", 0 }
    };

    q2api_buf_init(&want, 0);
    w_head(&want);
    w_text(&want, 0);
    w_delta(&want, 0, "text_delta", "text", "\"hi\"");
    w_stop(&want, 0);
    w_tail(&want, "end_turn", 5000, 9, 7, 56);

    both(usage, &want, "usage event", &m);
    sse_msg_free(&m);

    for (i = 0; i < sizeof(stops) / sizeof(stops[0]); i++) {
        q2api_buf_reset(&want);
        w_head(&want);

        if (stops[i].tool) {
            w_tool(&want, 0, "t", "n");
        } else if (stops[i].st[0].type == Q2API_EV_TEXT) {
            w_text(&want, 0);
            w_delta(&want, 0, "text_delta", "text", "\"x\"");
        }

        if (stops[i].tool || stops[i].st[0].type == Q2API_EV_TEXT) {
            w_stop(&want, 0);
        }

        w_tail(&want, stops[i].reason, 10, 0, 0,
               stops[i].st[0].type == Q2API_EV_TEXT ? 1 : 0);

        snprintf(what, sizeof(what), "stop reason %s (%zu)",
                 stops[i].reason, i);
        both(stops[i].st, &want, what, &m);
        sse_msg_free(&m);
    }

    q2api_buf_free(&want);
}


static void
test_escaping(void)
{
    sse_msg_t     m;
    q2api_buf_t   want;
    cJSON        *c;

    static const step_t  st[] = {
        TEXT("q\" b\\ n\n t\t c\x01 d\x7f bad\xff\xfe"),
        TEXT(" caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe2\x80\xa8"),
        TOOL("id\"1", "na\\me\n"),
        INPUT("{\"k\":\"\\u00e9\xc3\xa9\"}"),
        TSTOP,
        END
    };

    test_model = "model \"x\" \xc3\xa9";

    q2api_buf_init(&want, 0);
    wf(&want, "message_start", "{\"type\":\"message_start\",\"message\":"
       "{\"id\":\"msg_test\",\"type\":\"message\",\"role\":\"assistant\","
       "\"model\":\"model \\\"x\\\" \xc3\xa9\",\"content\":[],"
       "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":" USAGE_FMT
       "}}", 10LL, 0LL, 0LL, 1LL);
    w(&want, "ping", "{\"type\":\"ping\"}");
    w_text(&want, 0);
    w_delta(&want, 0, "text_delta", "text",
            "\"q\\\" b\\\\ n\\n t\\t c\\u0001 d\x7f bad\\ufffd\\ufffd\"");
    w_delta(&want, 0, "text_delta", "text",
            "\" caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe2\x80\xa8\"");
    w_stop(&want, 0);
    wf(&want, "content_block_start", "{\"type\":\"content_block_start\","
       "\"index\":1,\"content_block\":{\"type\":\"tool_use\","
       "\"id\":\"id\\\"1\",\"name\":\"na\\\\me\\n\",\"input\":{}}}");
    w_delta(&want, 1, "input_json_delta", "partial_json",
            "\"{\\\"k\\\":\\\"\\\\u00e9\xc3\xa9\\\"}\"");
    w_stop(&want, 1);
    w_tail(&want, "tool_use", 10, 0, 0, 15);

    both(st, &want, "escaping", &m);

    c = cJSON_GetArrayItem(cJSON_GetObjectItem(m.message, "content"), 0);
    ok(sse_is_str(c, "text", "q\" b\\ n\n t\t c\x01 d\x7f bad\xef\xbf\xbd"
                  "\xef\xbf\xbd caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
                  "\xe2\x80\xa8"), "escaped text decodes back");
    c = cJSON_GetArrayItem(cJSON_GetObjectItem(m.message, "content"), 1);
    ok(sse_is_str(cJSON_GetObjectItem(c, "input"), "k",
                  "\xc3\xa9\xc3\xa9"), "tool input decodes back");
    sse_msg_free(&m);

    test_model = "claude-test";
    q2api_buf_free(&want);
}


static void
test_misc(void)
{
    size_t                  i;
    q2api_buf_t             out, want;
    q2api_request_t         req;
    q2api_claude_stream_t   s;

    static const struct {
        q2api_err_e   kind;
        const char   *type;
    } types[] = {
        { Q2API_ERR_INVALID_REQUEST, "invalid_request_error" },
        { Q2API_ERR_METHOD, "invalid_request_error" },
        { Q2API_ERR_AUTHENTICATION, "authentication_error" },
        { Q2API_ERR_BILLING, "billing_error" },
        { Q2API_ERR_PERMISSION, "permission_error" },
        { Q2API_ERR_NOT_FOUND, "not_found_error" },
        { Q2API_ERR_TOO_LARGE, "request_too_large" },
        { Q2API_ERR_RATE_LIMIT, "rate_limit_error" },
        { Q2API_ERR_API, "api_error" },
        { Q2API_ERR_BAD_GATEWAY, "api_error" },
        { Q2API_ERR_UNAVAILABLE, "api_error" },
        { Q2API_ERR_TIMEOUT, "timeout_error" },
        { Q2API_ERR_OVERLOADED, "overloaded_error" }
    };

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        is_str(q2api_claude_error_type(types[i].kind), types[i].type,
               types[i].type);
    }

    /* the envelope, keys in the order Claude Code matches on */
    q2api_buf_init(&out, 0);
    q2api_claude_error_body(&out, Q2API_ERR_AUTHENTICATION,
                            "invalid x-api-key", "req_123");
    {
        static const char  body[] =
            "{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\","
            "\"message\":\"invalid x-api-key\"},\"request_id\":\"req_123\"}";

        is_mem(out.data, out.len, body, sizeof(body) - 1,
               "error body with request_id");
    }

    q2api_buf_reset(&out);
    q2api_claude_error_body(&out, Q2API_ERR_OVERLOADED, "a\"b\xff", NULL);
    {
        static const char  body[] =
            "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
            "\"message\":\"a\\\"b\\ufffd\"}}";

        is_mem(out.data, out.len, body, sizeof(body) - 1,
               "error body without request_id, escaped");
    }

    /* the glue's calls: ping, error after the start, events after it */
    q2api_request_init(&req);
    req.model = (q2api_str_t) q2api_str_lit("claude-test");
    req.stream = 1;

    q2api_buf_reset(&out);
    q2api_claude_stream_init(&s, &out, &req);
    ok(strncmp(s.id, "msg_", 4) == 0 && strlen(s.id) == 28,
       "id is msg_ and 24 hex digits");
    memcpy(s.id, "msg_test", 9);
    s.input_tokens = 10;

    /* nothing may come before message_start: a ping starts the message */
    q2api_buf_init(&want, 0);
    w_head(&want);
    is_int(q2api_claude_stream_ping(&s), Q2API_OK, "ping");
    is_mem(out.data, out.len, want.data, want.len,
           "ping before anything: message_start, then the ping");
    q2api_buf_reset(&out);
    q2api_buf_reset(&want);

    is_int(q2api_claude_stream_ping(&s), Q2API_OK, "ping again");
    is_mem(out.data, out.len, "event: ping\ndata: {\"type\":\"ping\"}\n\n",
           35, "ping after the start: only the ping");
    q2api_buf_reset(&out);

    {
        q2api_event_t  ev;

        memset(&ev, 0, sizeof(ev));
        q2api_usage_init(&ev.usage);
        ev.type = Q2API_EV_TEXT;
        ev.text = (q2api_str_t) q2api_str_lit("x");
        q2api_claude_stream_event(&s, &ev);

        is_int(q2api_claude_stream_error(&s, Q2API_ERR_API, "gone"),
               Q2API_OK, "stream_error");
        is_int(q2api_claude_stream_error(&s, Q2API_ERR_API, "again"),
               Q2API_OK, "second stream_error");
        q2api_claude_stream_event(&s, &ev);
        is_int(q2api_claude_stream_finish(&s), Q2API_OK,
               "finish after the error");

        w_text(&want, 0);
        w_delta(&want, 0, "text_delta", "text", "\"x\"");
        w(&want, "error", "{\"type\":\"error\",\"error\":{\"type\":"
          "\"api_error\",\"message\":\"gone\"}}");
        is_mem(out.data, out.len, want.data, want.len,
               "one error, nothing after it");
        q2api_buf_free(&want);
    }

    q2api_claude_stream_free(&s);

    /* stream: false: ping writes nothing */
    req.stream = 0;
    q2api_buf_reset(&out);
    q2api_claude_stream_init(&s, &out, &req);
    q2api_claude_stream_ping(&s);
    is_int(out.len, 0, "non-stream ping writes nothing");
    q2api_claude_stream_free(&s);

    /* the estimate reaches message_start */
    q2api_request_free(&req);

    if (accepts(&req, BODY("'stream':true,'system':'0123456789abcdef',"
                           "'messages':[{'role':'user','content':'abcd'}]"),
                "estimate body") == Q2API_OK)
    {
        q2api_buf_reset(&out);
        q2api_claude_stream_init(&s, &out, &req);
        q2api_claude_stream_finish(&s);
        q2api_buf_append_byte(&out, '\0');
        ok(strstr((char *) out.data, "\"usage\":{\"input_tokens\":5,") != NULL,
           "message_start carries the request estimate");
        q2api_claude_stream_free(&s);
    }

    q2api_request_free(&req);
    q2api_buf_free(&out);
}


/* many blocks: the stream: false block array grows */
static void
test_many_blocks(void)
{
    int           i;
    sse_msg_t     m;
    cJSON        *json;
    q2api_buf_t   out;
    char          why[128];
    step_t        st[202];

    for (i = 0; i < 200; i += 2) {
        st[i] = (step_t) TEXT("t");
        st[i + 1] = (step_t) THINK("k");
    }

    st[200] = (step_t) END;

    q2api_buf_init(&out, 0);
    run(st, 1, &out);
    ok(sse_parse(out.data, out.len, &m) == 0 && m.nblocks == 200,
       "200 alternating blocks stream");

    q2api_buf_reset(&out);
    run(st, 0, &out);
    json = parse_body(&out);
    ok(sse_same_message(&m, json, why, sizeof(why)) == 0,
       "200 blocks: non-stream the same");

    cJSON_Delete(json);
    sse_msg_free(&m);
    q2api_buf_free(&out);
}


int
main(void)
{
    test_top_level_errors();
    test_message_errors();
    test_block_errors();
    test_tools_errors();
    test_parse_ok();
    test_sampling();

    test_plain_text();
    test_thinking();
    test_tools();
    test_bad_tool_input();
    test_no_events();
    test_error_event();
    test_usage_and_stop();
    test_escaping();
    test_misc();
    test_many_blocks();

    return done_testing();
}
