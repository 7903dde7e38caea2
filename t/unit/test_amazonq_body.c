/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The Amazon Q request body built from a parsed Claude request: history,
 * current message, tools, images, tool results and the folded prompt.
 */


#include <stdint.h>
#include <stdarg.h>

#include <cjson/cJSON.h>

#include "tap.h"
#include "jq.h"
#include "q2api_amazonq.h"
#include "q2api_claude.h"


#define nelts(a)  (sizeof(a) / sizeof((a)[0]))


/* Tuesday, 2023-11-14T22:13:20Z */
#define NOW  1700000000


static cJSON *
parse_buf(const q2api_buf_t *b)
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


static cJSON *
get(cJSON *j, const char *path)
{
    char        key[64];
    size_t      n;
    const char  *dot;

    /* "a.b.0.c" */
    while (j != NULL && *path) {
        dot = strchr(path, '.');
        n = dot ? (size_t) (dot - path) : strlen(path);

        memcpy(key, path, n);
        key[n] = '\0';

        if (cJSON_IsArray(j)) {
            j = cJSON_GetArrayItem(j, atoi(key));

        } else {
            j = cJSON_GetObjectItemCaseSensitive(j, key);
        }

        path += n + (dot ? 1 : 0);
    }

    return j;
}


static int
str_at(cJSON *j, const char *path, const char *want)
{
    j = get(j, path);

    return cJSON_IsString(j) && strcmp(j->valuestring, want) == 0;
}


static int
has_in(cJSON *j, const char *path, const char *want)
{
    j = get(j, path);

    return cJSON_IsString(j) && strstr(j->valuestring, want) != NULL;
}


static int
is_uuid4(cJSON *j)
{
    int          i;
    const char  *s;

    if (!cJSON_IsString(j) || strlen(j->valuestring) != 36) {
        return 0;
    }

    s = j->valuestring;

    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return 0;
            }

        } else if (!((s[i] >= '0' && s[i] <= '9')
                     || (s[i] >= 'a' && s[i] <= 'f')))
        {
            return 0;
        }
    }

    return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}


/* history alternates user/assistant starting with user; every entry has
 * exactly one of the two keys */
static int
alternates(cJSON *root)
{
    int     i;
    cJSON  *h, *e;

    h = get(root, "conversationState.history");
    if (!cJSON_IsArray(h)) {
        return 0;
    }

    i = 0;

    cJSON_ArrayForEach(e, h) {
        if (!cJSON_IsObject(e) || e->child == NULL || e->child->next != NULL)
        {
            return 0;
        }

        if (strcmp(e->child->string, (i % 2) ? "assistantResponseMessage"
                                             : "userInputMessage") != 0)
        {
            return 0;
        }

        i++;
    }

    return 1;
}


typedef struct {
    q2api_request_t   req;
    q2api_buf_t       out;
    cJSON            *root;
    cJSON            *cur;      /* currentMessage.userInputMessage */
    cJSON            *hist;
    int               nhist;
} built_t;


static int
build(built_t *b, const char *body, const char *name)
{
    int                   rc;
    char                 *s, what[160];
    q2api_error_t         err;
    q2api_amazonq_opts_t  opts;

    memset(b, 0, sizeof(built_t));
    q2api_request_init(&b->req);
    q2api_buf_init(&b->out, 0);

    s = jq(body);
    rc = q2api_claude_parse(&b->req, s, strlen(s), &err);
    free(s);

    snprintf(what, sizeof(what), "%s: client body parses", name);
    if (!ok(rc == Q2API_OK, what)) {
        diag("%s", err.message);
        return -1;
    }

    memset(&opts, 0, sizeof(opts));
    opts.model_id = (q2api_str_t) q2api_str_lit("claude-sonnet-4.5");
    opts.now = NOW;

    rc = q2api_amazonq_build(&b->req, &opts, &b->out, &err);
    snprintf(what, sizeof(what), "%s: built", name);
    is_int(rc, Q2API_OK, what);

    b->root = parse_buf(&b->out);
    snprintf(what, sizeof(what), "%s: body is one JSON object", name);
    if (!ok(cJSON_IsObject(b->root), what)) {
        diag("%.*s", (int) b->out.len, (char *) b->out.data);
        return -1;
    }

    snprintf(what, sizeof(what), "%s: history alternates from user", name);
    ok(alternates(b->root), what);

    snprintf(what, sizeof(what), "%s: envelope", name);
    ok(is_uuid4(get(b->root, "conversationState.conversationId"))
       && str_at(b->root, "conversationState.chatTriggerType", "MANUAL")
       && get(b->root, "profileArn") == NULL, what);

    b->cur = get(b->root, "conversationState.currentMessage."
                          "userInputMessage");
    b->hist = get(b->root, "conversationState.history");
    b->nhist = cJSON_GetArraySize(b->hist);

    snprintf(what, sizeof(what), "%s: current message", name);
    ok(cJSON_IsString(get(b->cur, "content"))
       && str_at(b->cur, "origin", "KIRO_CLI")
       && str_at(b->cur, "modelId", "claude-sonnet-4.5")
       && cJSON_IsObject(get(b->cur, "userInputMessageContext.envState")),
       what);

    return 0;
}


static void
built_free(built_t *b)
{
    cJSON_Delete(b->root);
    q2api_buf_free(&b->out);
    q2api_request_free(&b->req);
}


#define SYS_BLOCK                                                          \
    "--- SYSTEM PROMPT BEGIN ---\nYou are terse.\n--- SYSTEM PROMPT END ---"
#define CTX_BLOCK                                                          \
    "--- CONTEXT ENTRY BEGIN ---\n"                                        \
    "Current time: Tuesday, 2023-11-14T22:13:20.000+00:00\n"               \
    "--- CONTEXT ENTRY END ---"
#define USER_BLOCK(t)                                                      \
    "--- USER MESSAGE BEGIN ---\n" t "\n--- USER MESSAGE END ---"


static void
test_build_single(void)
{
    cJSON                 *c;
    built_t                b;
    q2api_error_t          err;
    q2api_amazonq_opts_t   opts;

    if (build(&b, "{'model':'claude-sonnet-4-5','system':'You are terse.',"
                  "'messages':[{'role':'user','content':'hello'}]}",
              "single user text") == 0)
    {
        is_int(b.nhist, 0, "single: empty history");
        ok(cJSON_IsArray(b.hist), "single: history is an array");

        c = get(b.cur, "content");
        ok(strncmp(c->valuestring, SYS_BLOCK "\n\n", strlen(SYS_BLOCK) + 2)
           == 0, "single: content opens with the system prompt");
        ok(has_in(b.cur, "content", CTX_BLOCK),
           "single: context entry with the time");
        ok(has_in(b.cur, "content", CTX_BLOCK "\n\n" USER_BLOCK("hello")),
           "single: user message wrapped after the context entry");
        ok(get(b.cur, "userInputMessageContext.tools") == NULL
           && get(b.cur, "userInputMessageContext.toolResults") == NULL
           && get(b.cur, "images") == NULL,
           "single: no tools, results or images");
        ok(str_at(b.cur, "userInputMessageContext.envState.operatingSystem",
                  "macos"), "single: envState");
    }

    /* the profile ARN of IdC accounts goes at the top level */
    memset(&opts, 0, sizeof(opts));
    opts.model_id = (q2api_str_t) q2api_str_lit("m");
    opts.profile_arn = (q2api_str_t) q2api_str_lit("arn:aws:x\"y");
    opts.now = NOW;

    q2api_buf_reset(&b.out);
    is_int(q2api_amazonq_build(&b.req, &opts, &b.out, &err), Q2API_OK,
           "with profile ARN: built");
    cJSON_Delete(b.root);
    b.root = parse_buf(&b.out);
    ok(str_at(b.root, "profileArn", "arn:aws:x\"y"),
       "with profile ARN: profileArn");

    built_free(&b);

    if (build(&b, "{'model':'m','messages':[{'role':'user','content':"
                  "[{'type':'text','text':'a'},{'type':'text','text':'b'}]}]}",
              "no system") == 0)
    {
        ok(strncmp(get(b.cur, "content")->valuestring,
                   CTX_BLOCK, strlen(CTX_BLOCK)) == 0,
           "no system: content opens with the context entry");
        ok(!has_in(b.cur, "content", "SYSTEM PROMPT"),
           "no system: no system block");
        ok(has_in(b.cur, "content", USER_BLOCK("a\nb")),
           "text blocks joined by a newline");
    }

    built_free(&b);

    /* whatever is in the strings, the body stays valid JSON */
    if (build(&b, "{'model':'m','system':'s\\u0001\\\\\\'',"
                  "'messages':[{'role':'user','content':'q\\'\\n\\t\\u0000x "
                  "\\ud83d\\ude00 \\u2028'}]}", "escaping") == 0)
    {
        ok(has_in(b.cur, "content", "s\x01\\\"")
           && has_in(b.cur, "content", "q\"\n\t"),
           "escaping: text survives");
    }

    built_free(&b);
}


static void
test_build_tool_loop(void)
{
    cJSON    *tr, *want;
    built_t   b;

    if (build(&b, "{'model':'m','system':'You are terse.',"
              "'tools':[{'name':'get_weather','description':'Weather.',"
              "'input_schema':{'type':'object','properties':{'city':"
              "{'type':'string'}},'required':['city']}}],"
              "'messages':["
              "{'role':'user','content':'Weather in Paris?'},"
              "{'role':'assistant','content':["
              "{'type':'text','text':'Let me check.'},"
              "{'type':'tool_use','id':'t1','name':'get_weather',"
              "'input':{'city':'Paris'}},"
              "{'type':'tool_use','id':'t2','name':'get_weather',"
              "'input':{'city':'Lyon'}}]},"
              "{'role':'user','content':["
              "{'type':'tool_result','tool_use_id':'t1','content':'18C'},"
              "{'type':'tool_result','tool_use_id':'t2','is_error':true,"
              "'content':[{'type':'text','text':'boom'}]}]}]}",
              "tool loop") != 0)
    {
        built_free(&b);
        return;
    }

    is_int(b.nhist, 2, "tool loop: two history entries");

    ok(str_at(b.hist, "0.userInputMessage.content", "Weather in Paris?"),
       "history user: raw text, no wrapper");
    ok(str_at(b.hist, "0.userInputMessage.origin", "KIRO_CLI")
       && get(b.hist, "0.userInputMessage.modelId") == NULL
       && get(b.hist, "0.userInputMessage.userInputMessageContext.tools")
          == NULL, "history user: origin, no modelId, no tools");

    ok(is_uuid4(get(b.hist, "1.assistantResponseMessage.messageId")),
       "history assistant: messageId");
    ok(str_at(b.hist, "1.assistantResponseMessage.content", "Let me check."),
       "history assistant: text");
    ok(str_at(b.hist, "1.assistantResponseMessage.toolUses.0.toolUseId",
              "t1")
       && str_at(b.hist, "1.assistantResponseMessage.toolUses.0.name",
                 "get_weather")
       && str_at(b.hist, "1.assistantResponseMessage.toolUses.1.toolUseId",
                 "t2"), "history assistant: toolUses");

    want = cJSON_Parse("{\"city\":\"Paris\"}");
    ok(cJSON_Compare(get(b.hist, "1.assistantResponseMessage.toolUses.0."
                                 "input"), want, 1),
       "history assistant: input is an object");
    cJSON_Delete(want);

    tr = get(b.cur, "userInputMessageContext.toolResults");
    is_int(cJSON_GetArraySize(tr), 2, "current: two tool results");
    ok(str_at(tr, "0.toolUseId", "t1") && str_at(tr, "0.content.0.text",
                                                   "18C")
       && str_at(tr, "0.status", "success"), "tool result t1: success");
    ok(str_at(tr, "1.toolUseId", "t2") && str_at(tr, "1.content.0.text",
                                                   "boom")
       && str_at(tr, "1.status", "error"), "tool result t2: error");

    ok(has_in(b.cur, "content", SYS_BLOCK),
       "tool-result turn keeps the system prompt");
    ok(!has_in(b.cur, "content", "USER MESSAGE BEGIN"),
       "tool-result turn without text: no user message block");

    ok(str_at(b.cur, "userInputMessageContext.tools.0.toolSpecification."
                     "name", "get_weather")
       && str_at(b.cur, "userInputMessageContext.tools.0.toolSpecification."
                        "description", "Weather."),
       "tools: name and description");

    want = cJSON_Parse("{\"type\":\"object\",\"properties\":{\"city\":"
                       "{\"type\":\"string\"}},\"required\":[\"city\"]}");
    ok(cJSON_Compare(get(b.cur, "userInputMessageContext.tools.0."
                                "toolSpecification.inputSchema.json"),
                     want, 1), "tools: inputSchema.json is the schema");
    cJSON_Delete(want);

    built_free(&b);

    /* a tool-result turn with text too: results and the wrapped text */
    if (build(&b, "{'model':'m','messages':["
              "{'role':'user','content':'q'},"
              "{'role':'assistant','content':[{'type':'tool_use','id':'t1',"
              "'name':'f','input':{}}]},"
              "{'role':'user','content':[{'type':'tool_result',"
              "'tool_use_id':'t1','content':'r'},{'type':'text',"
              "'text':'and now?'}]}]}", "results with text") == 0)
    {
        ok(str_at(b.hist, "1.assistantResponseMessage.content", "")
           && cJSON_IsObject(get(b.hist, "1.assistantResponseMessage."
                                         "toolUses.0.input")),
           "assistant with only a tool use: empty content, input {}");
        ok(has_in(b.cur, "content", USER_BLOCK("and now?")),
           "text beside the results is wrapped");
        ok(str_at(b.cur, "userInputMessageContext.toolResults.0.toolUseId",
                  "t1"), "results beside the text");
    }

    built_free(&b);
}


static void
test_build_shapes(void)
{
    built_t  b;

    /* a leading assistant turn gets a user turn before it */
    if (build(&b, "{'model':'m','messages':["
              "{'role':'assistant','content':'I am here.'},"
              "{'role':'user','content':'hello'}]}",
              "leading assistant") == 0)
    {
        is_int(b.nhist, 2, "leading assistant: two history entries");
        ok(get(b.hist, "0.userInputMessage") != NULL
           && cJSON_IsString(get(b.hist, "0.userInputMessage.content")),
           "leading assistant: a user turn first");
        ok(str_at(b.hist, "1.assistantResponseMessage.content",
                  "I am here."), "leading assistant: then the assistant");
        ok(has_in(b.cur, "content", USER_BLOCK("hello")),
           "leading assistant: current is the user's");
    }

    built_free(&b);

    /* a final assistant turn (prefill) stays in the history */
    if (build(&b, "{'model':'m','messages':["
              "{'role':'user','content':'Count to 3.'},"
              "{'role':'assistant','content':'1, 2'}]}", "prefill") == 0)
    {
        is_int(b.nhist, 2, "prefill: two history entries");
        ok(str_at(b.hist, "0.userInputMessage.content", "Count to 3.")
           && str_at(b.hist, "1.assistantResponseMessage.content", "1, 2"),
           "prefill: user and assistant in the history");
        ok(has_in(b.cur, "content", "--- USER MESSAGE BEGIN ---\n"),
           "prefill: a current user message");
        ok(get(b.cur, "userInputMessageContext.toolResults") == NULL,
           "prefill: no tool results");
        }

    built_free(&b);

    /* only an assistant turn */
    if (build(&b, "{'model':'m','messages':["
              "{'role':'assistant','content':'x'}]}", "only assistant") == 0)
    {
        is_int(b.nhist, 2, "only assistant: user placeholder + assistant");
    }

    built_free(&b);

    /* images, current and in the history; thinking in the history */
    if (build(&b, "{'model':'m','messages':["
              "{'role':'user','content':[{'type':'text','text':'old'},"
              "{'type':'image','source':{'type':'base64','media_type':"
              "'image/gif','data':'R0lG'}}]},"
              "{'role':'assistant','content':[{'type':'thinking',"
              "'thinking':'hmm','signature':'s'},{'type':'text',"
              "'text':'ok'}]},"
              "{'role':'user','content':[{'type':'text','text':'look'},"
              "{'type':'image','source':{'type':'base64','media_type':"
              "'image/png','data':'iVBORw=='}},"
              "{'type':'image','source':{'type':'base64','media_type':"
              "'image/jpg','data':'/9j/'}}]}]}", "images") == 0)
    {
        ok(str_at(b.cur, "images.0.format", "png")
           && str_at(b.cur, "images.0.source.bytes", "iVBORw==")
           && str_at(b.cur, "images.1.format", "jpeg")
           && str_at(b.cur, "images.1.source.bytes", "/9j/")
           && cJSON_GetArraySize(get(b.cur, "images")) == 2,
           "images: current message");
        ok(str_at(b.hist, "0.userInputMessage.images.0.format", "gif")
           && str_at(b.hist, "0.userInputMessage.images.0.source.bytes",
                     "R0lG"), "images: history message");
        ok(has_in(b.cur, "content", USER_BLOCK("look")),
           "images: the text beside them");
        ok(str_at(b.hist, "1.assistantResponseMessage.content",
                  "<thinking>hmm</thinking>\nok"),
           "history thinking in tags");
    }

    built_free(&b);

    /*
     * Amazon Q's words for MIME types, and what it cannot take: images in
     * tool results are named in the text, other image types dropped
     */
    if (build(&b, "{'model':'m','messages':["
              "{'role':'user','content':'q'},"
              "{'role':'assistant','content':[{'type':'tool_use',"
              "'id':'t2','name':'shot','input':{}}]},"
              "{'role':'user','content':["
              "{'type':'tool_result','tool_use_id':'t2','is_error':true,"
              "'content':[{'type':'text','text':'line1'},"
              "{'type':'image','source':{'type':'base64',"
              "'media_type':'image/png','data':'iVBORw=='}},"
              "{'type':'text','text':'line2'},{'type':'other'}]},"
              "{'type':'image','source':{'type':'base64','media_type':"
              "'image/webp','data':'UklG'}},"
              "{'type':'image','source':{'type':'base64','media_type':"
              "'image/jpeg','data':'/9j/'}}]}]}", "tool result image") == 0)
    {
        ok(str_at(b.cur, "userInputMessageContext.toolResults.0.content.0."
                  "text", "line1\n[image omitted: the backend does not "
                  "accept images in tool results]\nline2"),
           "tool result: blocks joined, image named");
        ok(str_at(b.cur, "images.0.format", "webp")
           && str_at(b.cur, "images.1.format", "jpeg")
           && cJSON_GetArraySize(get(b.cur, "images")) == 2,
           "images: webp and jpeg formats");
    }

    built_free(&b);

    /* many turns: merged same-role runs, strict alternation */
    if (build(&b, "{'model':'m','messages':["
              "{'role':'user','content':'1'},{'role':'user','content':'2'},"
              "{'role':'assistant','content':'3'},"
              "{'role':'system','content':'S'},"
              "{'role':'assistant','content':'4'},"
              "{'role':'user','content':'5'},"
              "{'role':'assistant','content':'6'},"
              "{'role':'user','content':'7'}]}", "many turns") == 0)
    {
        is_int(b.nhist, 4, "many turns: four history entries");
        ok(str_at(b.hist, "0.userInputMessage.content", "1\n2")
           && str_at(b.hist, "1.assistantResponseMessage.content", "3\n4"),
           "many turns: merged turns joined by newlines");
        ok(has_in(b.cur, "content", USER_BLOCK("7"))
           && has_in(b.cur, "content", "--- SYSTEM PROMPT BEGIN ---\nS\n"),
           "many turns: current and the system message");
    }

    built_free(&b);
}


int
main(void)
{
    test_build_single();
    test_build_tool_loop();
    test_build_shapes();

    return done_testing();
}
