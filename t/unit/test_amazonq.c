/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The Amazon Q back end: the request body built from a parsed Claude
 * request, the event stream turned into canonical events (whole and one
 * byte at a time), and the classification of upstream error responses.
 */


#include <stdint.h>
#include <stdarg.h>

#include <cjson/cJSON.h>

#include "tap.h"
#include "q2api_amazonq.h"
#include "q2api_claude.h"


#define nelts(a)  (sizeof(a) / sizeof((a)[0]))

/* Tuesday, 2023-11-14T22:13:20Z */
#define NOW  1700000000


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
              "'image/png','data':'iVBOR'}},"
              "{'type':'image','source':{'type':'base64','media_type':"
              "'image/jpg','data':'/9j/'}}]}]}", "images") == 0)
    {
        ok(str_at(b.cur, "images.0.format", "png")
           && str_at(b.cur, "images.0.source.bytes", "iVBOR")
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
              "'media_type':'image/png','data':'iVBOR'}},"
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


/* the response stream ----------------------------------------------------- */


typedef struct {
    q2api_buf_t   log;
    int           fail_on;      /* event type to fail on, -1: none */
} sink_t;


static void
logf_(q2api_buf_t *b, const char *fmt, ...)
{
    char     line[1024];
    va_list  args;

    va_start(args, fmt);
    vsnprintf(line, sizeof(line), fmt, args);
    va_end(args);

    q2api_buf_append_str(b, line);
}


static int
on_event(void *data, const q2api_event_t *ev)
{
    sink_t       *k = data;
    q2api_buf_t  *b = &k->log;

    switch (ev->type) {

    case Q2API_EV_BEGIN:
        logf_(b, "begin\n");
        break;

    case Q2API_EV_TEXT:
        logf_(b, "text:%.*s\n", (int) ev->text.len, ev->text.data);
        break;

    case Q2API_EV_THINKING:
        logf_(b, "thinking:%.*s\n", (int) ev->text.len, ev->text.data);
        break;

    case Q2API_EV_SIGNATURE:
        logf_(b, "sig:%.*s\n", (int) ev->text.len, ev->text.data);
        break;

    case Q2API_EV_REDACTED_THINKING:
        logf_(b, "redacted:%.*s\n", (int) ev->text.len, ev->text.data);
        break;

    case Q2API_EV_TOOL_START:
        logf_(b, "tool_start:%.*s:%.*s\n", (int) ev->id.len, ev->id.data,
              (int) ev->name.len, ev->name.data);
        break;

    case Q2API_EV_TOOL_INPUT:
        logf_(b, "tool_input:%.*s\n", (int) ev->text.len, ev->text.data);
        break;

    case Q2API_EV_TOOL_STOP:
        logf_(b, "tool_stop\n");
        break;

    case Q2API_EV_USAGE:
        logf_(b, "usage:in=%lld,out=%lld,cr=%lld,cw=%lld,pct=%g\n",
              ev->usage.input_tokens, ev->usage.output_tokens,
              ev->usage.cache_read_tokens, ev->usage.cache_write_tokens,
              ev->usage.context_percent);
        break;

    case Q2API_EV_STOP:
        logf_(b, "stop:%d\n", (int) ev->stop);
        break;

    case Q2API_EV_ERROR:
        /* the message is a C string */
        logf_(b, "error:%d:%s\n", (int) ev->error, ev->text.data);

        if (strlen(ev->text.data) != ev->text.len) {
            logf_(b, "BAD ERROR LENGTH\n");
        }

        break;
    }

    if ((int) ev->type == k->fail_on) {
        return Q2API_ERROR;
    }

    return Q2API_OK;
}


typedef struct {
    int           feed_rc;
    int           finish_rc;
    size_t        consumed;
    q2api_buf_t   log;
} result_t;


/* whole: one feed; else one byte per feed.  finish unless feed failed */
static void
decode(const q2api_buf_t *in, int bytewise, int fail_on, result_t *r)
{
    size_t                   i, used;
    sink_t                   k;
    q2api_amazonq_stream_t   s;

    q2api_buf_init(&k.log, 0);
    k.fail_on = fail_on;

    q2api_amazonq_stream_init(&s, NULL, on_event, &k);

    r->feed_rc = Q2API_OK;
    r->finish_rc = -999;
    r->consumed = 0;

    if (!bytewise) {
        /* never a NULL input, even an empty one */
        r->feed_rc = q2api_amazonq_stream_feed(&s, in->data ? in->data
                                                   : (unsigned char *) "",
                                               in->len, &r->consumed);

    } else {
        for (i = 0; i < in->len; i++) {
            r->feed_rc = q2api_amazonq_stream_feed(&s, in->data + i, 1,
                                                   &used);
            r->consumed += used;

            if (r->feed_rc != Q2API_OK) {
                break;
            }
        }
    }

    if (r->feed_rc == Q2API_OK) {
        r->finish_rc = q2api_amazonq_stream_finish(&s);
    }

    q2api_amazonq_stream_free(&s);

    r->log = k.log;
}


/* the stream gives "want" (and the codes) however it is fed */
static void
expect(const q2api_buf_t *in, const char *want, int feed_rc, int finish_rc,
    const char *name)
{
    char      what[200];
    result_t  whole, bytes;

    decode(in, 0, -1, &whole);
    decode(in, 1, -1, &bytes);

    snprintf(what, sizeof(what), "%s: events", name);
    is_mem(whole.log.data, whole.log.len, want, strlen(want), what);

    snprintf(what, sizeof(what), "%s: feed status", name);
    is_int(whole.feed_rc, feed_rc, what);

    if (feed_rc == Q2API_OK) {
        snprintf(what, sizeof(what), "%s: finish status", name);
        is_int(whole.finish_rc, finish_rc, what);

        snprintf(what, sizeof(what), "%s: all input consumed", name);
        is_int(whole.consumed, in->len, what);
    }

    snprintf(what, sizeof(what), "%s: byte by byte, same events", name);
    is_mem(bytes.log.data, bytes.log.len, whole.log.data, whole.log.len,
           what);

    snprintf(what, sizeof(what), "%s: byte by byte, same status", name);
    ok(bytes.feed_rc == whole.feed_rc && bytes.finish_rc == whole.finish_rc,
       what);

    q2api_buf_free(&whole.log);
    q2api_buf_free(&bytes.log);
}


static void
ev(q2api_buf_t *b, const char *type, const char *json)
{
    char  *p;

    p = jq(json);
    q2api_es_encode_event(b, type, p, strlen(p));
    free(p);
}


static void
exc(q2api_buf_t *b, const char *type, const char *json)
{
    char  *p;

    p = jq(json);

    if (type == NULL) {
        q2api_es_header_t  h = { q2api_str_lit(":message-type"),
                                 Q2API_ES_STRING, 0,
                                 q2api_str_lit("exception") };

        q2api_es_encode(b, &h, 1, p, strlen(p));

    } else {
        q2api_es_encode_exception(b, type, p, strlen(p));
    }

    free(p);
}


static void
err_frame(q2api_buf_t *b, const char *code, const char *message)
{
    size_t             n;
    q2api_es_header_t  h[3];

    memset(h, 0, sizeof(h));

    h[0].name = (q2api_str_t) q2api_str_lit(":message-type");
    h[0].type = Q2API_ES_STRING;
    h[0].bytes = (q2api_str_t) q2api_str_lit("error");
    n = 1;

    if (code) {
        h[n].name = (q2api_str_t) q2api_str_lit(":error-code");
        h[n].type = Q2API_ES_STRING;
        h[n].bytes.data = code;
        h[n].bytes.len = strlen(code);
        n++;
    }

    if (message) {
        h[n].name = (q2api_str_t) q2api_str_lit(":error-message");
        h[n].type = Q2API_ES_STRING;
        h[n].bytes.data = message;
        h[n].bytes.len = strlen(message);
        n++;
    }

    q2api_es_encode(b, h, n, NULL, 0);
}


static void
test_stream_text(void)
{
    q2api_buf_t  s;

    q2api_buf_init(&s, 0);

    expect(&s, "", Q2API_OK, Q2API_OK, "empty stream");

    ev(&s, "initial-response", "{'conversationId':'c-1'}");
    ev(&s, "assistantResponseEvent", "{'content':'Hel'}");
    ev(&s, "assistantResponseEvent", "{'content':''}");
    ev(&s, "assistantResponseEvent", "{'content':'lo \\u00e9\\n'}");
    ev(&s, "assistantResponseEvent", "{'modelId':'x'}");
    ev(&s, "messageMetadataEvent", "{'conversationId':'c','utteranceId':'u'}");
    ev(&s, "meteringEvent", "{'unit':'credit','usage':0.5}");
    ev(&s, "followupPromptEvent", "{'followupPrompt':{'content':'x'}}");
    ev(&s, "somethingNew", "{'a':1}");
    ev(&s, "assistantResponseEvent", "");
    ev(&s, "assistantResponseEvent", "{'content':'!'}");

    expect(&s, "begin\ntext:Hel\ntext:lo \xc3\xa9\n\ntext:!\n", Q2API_OK,
           Q2API_OK, "text");

    q2api_buf_free(&s);
}


static void
test_stream_tools(void)
{
    q2api_buf_t  s;

    q2api_buf_init(&s, 0);

    /* fragments */
    ev(&s, "toolUseEvent", "{'toolUseId':'t1','name':'get_weather'}");
    ev(&s, "toolUseEvent", "{'toolUseId':'t1','name':'get_weather',"
                           "'input':'{\\'city\\': '}");
    ev(&s, "toolUseEvent", "{'toolUseId':'t1','name':'get_weather',"
                           "'input':''}");
    ev(&s, "toolUseEvent", "{'toolUseId':'t1','name':'get_weather',"
                           "'input':'\\'Paris\\'}'}");
    ev(&s, "toolUseEvent", "{'toolUseId':'t1','name':'get_weather',"
                           "'stop':true}");
    expect(&s, "begin\ntool_start:t1:get_weather\n"
               "tool_input:{\"city\": \ntool_input:\"Paris\"}\ntool_stop\n",
           Q2API_OK, Q2API_OK, "tool fragments");

    /* an object input, all in one frame; an empty object on a first frame
     * only announces fragments */
    q2api_buf_reset(&s);
    ev(&s, "toolUseEvent", "{'toolUseId':'t2','name':'n',"
                           "'input':{'a':[1,'x']},'stop':true}");
    ev(&s, "toolUseEvent", "{'toolUseId':'t3','name':'n','input':{}}");
    ev(&s, "toolUseEvent", "{'toolUseId':'t3','name':'n','input':'{}'}");
    ev(&s, "toolUseEvent", "{'toolUseId':'t3','name':'n','stop':true}");
    ev(&s, "toolUseEvent", "{'toolUseId':'t4','name':'n','input':{},"
                           "'stop':true}");
    expect(&s, "begin\ntool_start:t2:n\ntool_input:{\"a\":[1,\"x\"]}\n"
               "tool_stop\ntool_start:t3:n\ntool_input:{}\ntool_stop\n"
               "tool_start:t4:n\ntool_input:{}\ntool_stop\n",
           Q2API_OK, Q2API_OK, "object input");

    /* fragments without an id continue the open tool; with none open they
     * are dropped */
    q2api_buf_reset(&s);
    ev(&s, "toolUseEvent", "{'input':'{\\'lost\\':1}'}");
    ev(&s, "toolUseEvent", "{'toolUseId':'t5','name':'n'}");
    ev(&s, "toolUseEvent", "{'input':'{\\'x\\':'}");
    ev(&s, "toolUseEvent", "{'toolUseId':'','input':'1}'}");
    ev(&s, "toolUseEvent", "{'stop':true}");
    ev(&s, "toolUseEvent", "{'input':'{\\'late\\':1}','stop':true}");
    expect(&s, "begin\ntool_start:t5:n\ntool_input:{\"x\":\n"
               "tool_input:1}\ntool_stop\n",
           Q2API_OK, Q2API_OK, "fragment without id");

    /* the service repeats frames of a finished tool: dropped */
    q2api_buf_reset(&s);
    ev(&s, "toolUseEvent", "{'toolUseId':'t6','name':'n','input':'{}'}");
    ev(&s, "toolUseEvent", "{'toolUseId':'t6','name':'n','stop':true}");
    ev(&s, "toolUseEvent", "{'toolUseId':'t6','name':'n','input':'{}',"
                           "'stop':true}");
    ev(&s, "toolUseEvent", "{'toolUseId':'t6','name':'n'}");
    ev(&s, "toolUseEvent", "{'toolUseId':'t7','name':'m'}");
    ev(&s, "toolUseEvent", "{'toolUseId':'t7','name':'m','input':'{\\'a\\':'}");
    /* a repeat of t6 while t7 is open must not end t7 */
    ev(&s, "toolUseEvent", "{'toolUseId':'t6','name':'n','input':'{}',"
                           "'stop':true}");
    ev(&s, "toolUseEvent", "{'toolUseId':'t7','name':'m','input':'2}'}");
    ev(&s, "toolUseEvent", "{'toolUseId':'t7','name':'m','stop':true}");
    ev(&s, "toolUseEvent", "{'toolUseId':'t7','name':'m','stop':true}");
    expect(&s, "begin\ntool_start:t6:n\ntool_input:{}\ntool_stop\n"
               "tool_start:t7:m\ntool_input:{\"a\":\ntool_input:2}\n"
               "tool_stop\n",
           Q2API_OK, Q2API_OK, "duplicate tool frames");

    /* a stop without any input; a second tool right after */
    q2api_buf_reset(&s);
    ev(&s, "toolUseEvent", "{'toolUseId':'t8','name':'n','stop':true}");
    ev(&s, "toolUseEvent", "{'toolUseId':'t9','name':'n','input':'{}'}");
    ev(&s, "toolUseEvent", "{'toolUseId':'t10','name':'n','input':'{}'}");
    expect(&s, "begin\ntool_start:t8:n\ntool_stop\n"
               "tool_start:t9:n\ntool_input:{}\ntool_stop\n"
               "tool_start:t10:n\ntool_input:{}\ntool_stop\n",
           Q2API_OK, Q2API_OK, "stop without input; EOF closes the tool");

    /* text while a tool is open closes it */
    q2api_buf_reset(&s);
    ev(&s, "toolUseEvent", "{'toolUseId':'t11','name':'n','input':'{'}");
    ev(&s, "assistantResponseEvent", "{'content':'after'}");
    ev(&s, "toolUseEvent", "{'input':'}'}");
    expect(&s, "begin\ntool_start:t11:n\ntool_input:{\ntool_stop\n"
               "text:after\n", Q2API_OK, Q2API_OK,
           "text closes an open tool");

    /* a tool without a name still starts (named "") */
    q2api_buf_reset(&s);
    ev(&s, "toolUseEvent", "{'toolUseId':'t12','input':'{}','stop':true}");
    expect(&s, "begin\ntool_start:t12:\ntool_input:{}\ntool_stop\n",
           Q2API_OK, Q2API_OK, "tool without a name");

    q2api_buf_free(&s);
}


static void
test_stream_reasoning_usage(void)
{
    q2api_buf_t  s;

    q2api_buf_init(&s, 0);

    ev(&s, "reasoningContentEvent", "{'text':'hmm'}");
    ev(&s, "reasoningContentEvent", "{'text':''}");
    ev(&s, "reasoningContentEvent", "{'text':' more','signature':'s1'}");
    ev(&s, "reasoningContentEvent", "{'signature':'s2'}");
    ev(&s, "reasoningContentEvent", "{'redactedContent':'opaque'}");
    ev(&s, "reasoningContentEvent", "{'text':5,'signature':null}");
    ev(&s, "assistantResponseEvent", "{'content':'answer'}");
    expect(&s, "begin\nthinking:hmm\nthinking: more\nsig:s1\nsig:s2\n"
               "redacted:opaque\ntext:answer\n",
           Q2API_OK, Q2API_OK, "reasoning");

    q2api_buf_reset(&s);
    ev(&s, "metadataEvent", "{'tokenUsage':{'uncachedInputTokens':100,"
                            "'outputTokens':20,'totalTokens':125,"
                            "'cacheReadInputTokens':5,"
                            "'cacheWriteInputTokens':7}}");
    ev(&s, "metadataEvent", "{'tokenUsage':{'outputTokens':3}}");
    ev(&s, "metadataEvent", "{'other':1}");
    ev(&s, "metadataEvent", "{'tokenUsage':5}");
    ev(&s, "contextUsageEvent", "{'contextUsagePercentage':12.5}");
    ev(&s, "contextUsageEvent", "{'contextUsagePercentage':-1}");
    ev(&s, "contextUsageEvent", "{'contextUsagePercentage':'x'}");
    ev(&s, "contextUsageEvent", "{'contextUsagePercentage':100}");
    expect(&s, "begin\n"
               "usage:in=100,out=20,cr=5,cw=7,pct=-1\n"
               "usage:in=-1,out=3,cr=0,cw=0,pct=-1\n"
               "usage:in=25000,out=-1,cr=0,cw=0,pct=12.5\n"
               "usage:in=200000,out=-1,cr=0,cw=0,pct=100\n"
               "stop:4\n", Q2API_OK, Q2API_OK, "usage");

    /* figures no token count can have: no undefined conversion, and no
     * count beyond the context window */
    q2api_buf_reset(&s);
    ev(&s, "metadataEvent", "{'tokenUsage':{'uncachedInputTokens':1e300,"
                            "'outputTokens':-1e300,"
                            "'cacheReadInputTokens':1e999,"
                            "'cacheWriteInputTokens':12}}");
    ev(&s, "contextUsageEvent", "{'contextUsagePercentage':1e300}");
    {
        result_t  r;

        decode(&s, 0, -1, &r);
        q2api_buf_append_byte(&r.log, '\0');
        ok(strstr((char *) r.log.data, "cw=12") != NULL,
           "huge usage figures: decoded");
        ok(strstr((char *) r.log.data, "stop:4") != NULL,
           "huge context percentage: context exceeded");
        ok(strstr((char *) r.log.data, "in=200000,") != NULL,
           "huge context percentage: the window at most");
        q2api_buf_free(&r.log);
    }

    q2api_buf_free(&s);
}


static void
test_stream_errors(void)
{
    size_t       i;
    char         want[512], name[128];
    q2api_buf_t  s, t;

    static const struct {
        const char  *type;
        const char  *payload;
        const char  *want;
    } cases[] = {
        { "ThrottlingException",
          "{'message':'I am experiencing high traffic, try again'}",
          "error:13:Amazon Q ThrottlingException: I am experiencing high "
          "traffic, try again\n" },
        { "ThrottlingException",
          "{'reason':'INSUFFICIENT_MODEL_CAPACITY','message':"
          "'no capacity'}",
          "error:13:Amazon Q ThrottlingException: no capacity\n" },
        { "InternalServerException", "",
          "error:13:Amazon Q InternalServerException\n" },
        { "ValidationException", "{'message':'Input is too long.'}",
          "error:14:Input is too long.\n" },
        { "ValidationException", "{'Message':'Improperly formed request.'}",
          "error:1:Amazon Q ValidationException: Improperly formed "
          "request.\n" },
        { "AccessDeniedException", "{'message':'denied'}",
          "error:4:Amazon Q AccessDeniedException: denied\n" },
        { "ServiceQuotaExceededException", "{'message':'quota'}",
          "error:8:Amazon Q ServiceQuotaExceededException: quota\n" },
        { "WeirdException", "not json",
          "error:9:Amazon Q WeirdException\n" },
        { "WeirdException", "{'message':5}",
          "error:9:Amazon Q WeirdException\n" },
        { NULL, "{'message':'m'}",
          "error:9:Amazon Q UnknownException: m\n" }
    };

    q2api_buf_init(&s, 0);
    q2api_buf_init(&t, 0);

    /* an exception ends the reply; nothing after it reaches the client */
    ev(&s, "assistantResponseEvent", "{'content':'part'}");
    exc(&s, "ThrottlingException", "{'message':'Too many requests'}");
    ev(&s, "assistantResponseEvent", "{'content':'never'}");
    exc(&s, "InternalServerException", "{}");
    expect(&s, "begin\ntext:part\n"
               "error:8:Amazon Q ThrottlingException: Too many requests\n",
           Q2API_OK, Q2API_OK, "throttling exception");


    for (i = 0; i < nelts(cases); i++) {
        q2api_buf_reset(&t);
        ev(&t, "initial-response", "{}");
        exc(&t, cases[i].type, cases[i].payload);
        snprintf(want, sizeof(want), "begin\n%s", cases[i].want);
        snprintf(name, sizeof(name), "exception %s %zu",
                 cases[i].type ? cases[i].type : "(none)", i);
        expect(&t, want, Q2API_OK, Q2API_OK, name);
    }

    /* an exception as the very first frame: no begin */
    q2api_buf_reset(&t);
    exc(&t, "ThrottlingException", "");
    expect(&t, "error:8:Amazon Q ThrottlingException\n", Q2API_OK, Q2API_OK,
           "exception first");

    /* the output limit is a stop, not an error: the reply goes on */
    q2api_buf_reset(&t);
    ev(&t, "assistantResponseEvent", "{'content':'long'}");
    exc(&t, "ContentLengthExceededException", "{'message':'too long'}");
    ev(&t, "assistantResponseEvent", "{'content':'er'}");
    expect(&t, "begin\ntext:long\nstop:3\ntext:er\n", Q2API_OK, Q2API_OK,
           "content length exceeded");

    /* unmodelled errors */
    q2api_buf_reset(&t);
    ev(&t, "assistantResponseEvent", "{'content':'a'}");
    err_frame(&t, "InternalFailure", "boom");
    ev(&t, "assistantResponseEvent", "{'content':'b'}");
    expect(&t, "begin\ntext:a\nerror:9:Amazon Q stream error "
               "InternalFailure: boom\n", Q2API_OK, Q2API_OK, "error frame");

    q2api_buf_reset(&t);
    err_frame(&t, NULL, NULL);
    expect(&t, "error:9:Amazon Q stream error InternalFailure: no message\n",
           Q2API_OK, Q2API_OK, "error frame without headers");

    /* a payload that is not a JSON object, an invalid state */
    q2api_buf_reset(&t);
    ev(&t, "assistantResponseEvent", "{'content':'a'}");
    ev(&t, "assistantResponseEvent", "{'content':");
    expect(&t, "begin\ntext:a\nerror:9:Amazon Q sent a malformed "
               "assistantResponseEvent event\n", Q2API_OK, Q2API_OK,
           "malformed payload");

    q2api_buf_reset(&t);
    ev(&t, "toolUseEvent", "[1]");
    expect(&t, "begin\nerror:9:Amazon Q sent a malformed toolUseEvent "
               "event\n", Q2API_OK, Q2API_OK, "payload an array");

    q2api_buf_reset(&t);
    ev(&t, "invalidStateEvent", "{'reason':'INVALID_TASK_ASSIST_PLAN',"
                                "'message':'bad plan'}");
    expect(&t, "begin\nerror:9:bad plan\n", Q2API_OK, Q2API_OK,
           "invalid state");

    q2api_buf_reset(&t);
    ev(&t, "invalidStateEvent", "{}");
    expect(&t, "begin\nerror:9:Amazon Q reported an invalid state\n",
           Q2API_OK, Q2API_OK, "invalid state without a message");

    q2api_buf_free(&s);
    q2api_buf_free(&t);
}


static void
test_stream_corrupt(void)
{
    size_t       first, second;
    result_t     r;
    q2api_buf_t  s;

    q2api_buf_init(&s, 0);

    ev(&s, "assistantResponseEvent", "{'content':'ok'}");
    first = s.len;
    ev(&s, "assistantResponseEvent", "{'content':'bad'}");
    second = s.len;
    ev(&s, "assistantResponseEvent", "{'content':'after'}");

    /* a payload byte changed ("bad" -> "Bad"): the message CRC fails */
    s.data[second - 4 - 5] ^= 0x20;
    expect(&s, "begin\ntext:ok\n", Q2API_ES_EMESSAGE_CRC, 0,
           "corrupt message CRC");

    decode(&s, 0, -1, &r);
    ok(r.consumed == first, "corrupt: consumed up to the bad message");
    q2api_buf_free(&r.log);

    /* the prelude */
    s.data[second - 4 - 5] ^= 0x20;
    s.data[first + 2] ^= 0x01;
    expect(&s, "begin\ntext:ok\n", Q2API_ES_EPRELUDE_CRC, 0,
           "corrupt prelude CRC");
    s.data[first + 2] ^= 0x01;

    /* truncated inside a message; inside a tool too */
    expect(&s, "begin\ntext:ok\ntext:bad\ntext:after\n", Q2API_OK, Q2API_OK,
           "repaired stream");
    s.len -= 3;
    expect(&s, "begin\ntext:ok\ntext:bad\n", Q2API_OK, Q2API_ES_ETRUNCATED,
           "truncated stream");

    q2api_buf_reset(&s);
    ev(&s, "toolUseEvent", "{'toolUseId':'t','name':'n','input':'{'}");
    ev(&s, "toolUseEvent", "{'toolUseId':'t','name':'n','input':'}'}");
    s.len -= 1;
    expect(&s, "begin\ntool_start:t:n\ntool_input:{\n", Q2API_OK,
           Q2API_ES_ETRUNCATED, "truncated inside a tool");

    /* garbage */
    q2api_buf_reset(&s);
    q2api_buf_append_str(&s, "HTTP/1.1 200 OK\r\n\r\n{\"content\":\"x\"}");
    expect(&s, "", Q2API_ES_EPRELUDE_CRC, 0, "not an event stream");

    q2api_buf_free(&s);
}


static void
test_stream_handler_error(void)
{
    size_t                   used;
    sink_t                   k;
    q2api_buf_t              s;
    q2api_amazonq_stream_t   st;

    q2api_buf_init(&s, 0);
    ev(&s, "assistantResponseEvent", "{'content':'a'}");
    ev(&s, "assistantResponseEvent", "{'content':'b'}");
    ev(&s, "toolUseEvent", "{'toolUseId':'t','name':'n'}");

    q2api_buf_init(&k.log, 0);
    k.fail_on = Q2API_EV_TEXT;

    q2api_amazonq_stream_init(&st, NULL, on_event, &k);
    is_int(q2api_amazonq_stream_feed(&st, s.data, s.len, &used), Q2API_ERROR,
           "handler error stops the feed");
    is_mem(k.log.data, k.log.len, "begin\ntext:a\n", 13,
           "nothing after the handler's error");
    q2api_amazonq_stream_free(&st);

    /* a tool left open: finish's stop goes to the handler too */
    q2api_buf_reset(&k.log);
    k.fail_on = Q2API_EV_TOOL_STOP;
    q2api_amazonq_stream_init(&st, NULL, on_event, &k);
    is_int(q2api_amazonq_stream_feed(&st, s.data, s.len, &used), Q2API_OK,
           "feed with a tool open");
    is_int(q2api_amazonq_stream_finish(&st), Q2API_ERROR,
           "finish passes on the handler's error");
    q2api_amazonq_stream_free(&st);

    q2api_buf_free(&k.log);
    q2api_buf_free(&s);
}


/* upstream errors ------------------------------------------------------- */


static void
test_classify(void)
{
    size_t                  i;
    char                    name[128];
    q2api_buf_t             client;
    q2api_upstream_error_t  ue;

    static const struct {
        int              status;
        const char      *body;
        q2api_health_e   health;
        q2api_err_e      client;
        const char      *message;     /* a part of it */
        const char      *reason;
    } cases[] = {
        { 400, "{'__type':'com.amazon.aws.codewhisperer#ValidationException',"
               "'message':'Input is too long.',"
               "'reason':'CONTENT_LENGTH_EXCEEDS_THRESHOLD'}",
          Q2API_HEALTH_CLIENT, Q2API_ERR_CONTEXT_EXCEEDED,
          "prompt is too long", "CONTENT_LENGTH_EXCEEDS_THRESHOLD" },
        { 400, "{'__type':'ValidationException',"
               "'message':'Input is too long.'}",
          Q2API_HEALTH_CLIENT, Q2API_ERR_CONTEXT_EXCEEDED,
          "prompt is too long", "ValidationException" },
        { 400, "{'__type':'com.amazon#ValidationException',"
               "'message':'Improperly formed request.'}",
          Q2API_HEALTH_CLIENT, Q2API_ERR_INVALID_REQUEST,
          "Amazon Q rejected the request: Improperly formed request.",
          "ValidationException" },
        { 400, "{}", Q2API_HEALTH_CLIENT, Q2API_ERR_INVALID_REQUEST,
          "no message", "" },
        { 413, "", Q2API_HEALTH_CLIENT, Q2API_ERR_INVALID_REQUEST,
          "rejected", "" },
        { 401, "{'message':'The bearer token included in the request is "
               "invalid.'}",
          Q2API_HEALTH_AUTH, Q2API_ERR_UNAVAILABLE, "token was rejected",
          "" },
        { 403, "{'__type':'AccessDeniedException','reason':"
               "'TEMPORARILY_SUSPENDED','message':'Your User ID temporarily "
               "is suspended.'}",
          Q2API_HEALTH_SUSPENDED, Q2API_ERR_UNAVAILABLE,
          "TEMPORARILY_SUSPENDED", "TEMPORARILY_SUSPENDED" },
        { 403, "{'__type':'AccessDeniedException','message':"
               "'The bearer token has expired'}",
          Q2API_HEALTH_AUTH, Q2API_ERR_UNAVAILABLE, "AccessDeniedException",
          "AccessDeniedException" },
        { 403, "{'__type':'AccessDeniedException','reason':"
               "'FEATURE_NOT_SUPPORTED','message':'no'}",
          Q2API_HEALTH_FORBIDDEN, Q2API_ERR_UNAVAILABLE,
          "FEATURE_NOT_SUPPORTED", "FEATURE_NOT_SUPPORTED" },
        { 429, "{'__type':'ThrottlingException','message':'Rate exceeded'}",
          Q2API_HEALTH_THROTTLED, Q2API_ERR_RATE_LIMIT, "rate limiting",
          "ThrottlingException" },
        { 429, "{'__type':'ThrottlingException','reason':"
               "'INSUFFICIENT_MODEL_CAPACITY','message':'I am experiencing "
               "high traffic'}",
          Q2API_HEALTH_CAPACITY, Q2API_ERR_OVERLOADED, "Overloaded",
          "INSUFFICIENT_MODEL_CAPACITY" },
        { 429, "{'__type':'ThrottlingException','reason':"
               "'MONTHLY_REQUEST_COUNT','message':'limit'}",
          Q2API_HEALTH_QUOTA, Q2API_ERR_RATE_LIMIT, "MONTHLY_REQUEST_COUNT",
          "MONTHLY_REQUEST_COUNT" },
        { 429, "{'reason':'DAILY_REQUEST_COUNT'}",
          Q2API_HEALTH_QUOTA, Q2API_ERR_RATE_LIMIT, "quota",
          "DAILY_REQUEST_COUNT" },
        { 402, "{'__type':'ServiceQuotaExceededException','reason':"
               "'CONVERSATION_LIMIT_EXCEEDED'}",
          Q2API_HEALTH_CLIENT, Q2API_ERR_CONTEXT_EXCEEDED,
          "prompt is too long", "CONVERSATION_LIMIT_EXCEEDED" },
        { 402, "{'reason':'OVERAGE_REQUEST_LIMIT_EXCEEDED'}",
          Q2API_HEALTH_QUOTA, Q2API_ERR_RATE_LIMIT, "quota",
          "OVERAGE_REQUEST_LIMIT_EXCEEDED" },
        { 500, "{'__type':'InternalServerException','message':"
               "'Encountered unexpectedly high load'}",
          Q2API_HEALTH_CAPACITY, Q2API_ERR_API,
          "the backend failed: Encountered unexpectedly high load",
          "InternalServerException" },
        { 500, "{'__type':'InternalServerException','reason':"
               "'MODEL_TEMPORARILY_UNAVAILABLE'}",
          Q2API_HEALTH_CAPACITY, Q2API_ERR_OVERLOADED, "internal error",
          "MODEL_TEMPORARILY_UNAVAILABLE" },
        { 502, "<html>Bad Gateway</html>",
          Q2API_HEALTH_CAPACITY, Q2API_ERR_BAD_GATEWAY, "could not be reached",
          "" },
        { 503, "", Q2API_HEALTH_CAPACITY, Q2API_ERR_BAD_GATEWAY,
          "could not be reached", "" },
        { 504, "upstream timed out",
          Q2API_HEALTH_CAPACITY, Q2API_ERR_TIMEOUT, "did not answer in time",
          "" },
        { 400, "this is not json", Q2API_HEALTH_CLIENT,
          Q2API_ERR_INVALID_REQUEST, "no message", "" },
        { 409, "{'__type':'ConflictException'}", Q2API_HEALTH_CLIENT,
          Q2API_ERR_API, "unexpected backend status 409",
          "ConflictException" }
    };

    q2api_buf_init(&client, 0);

    for (i = 0; i < nelts(cases); i++) {
        char  *body;

        body = jq(cases[i].body);
        q2api_amazonq_classify(cases[i].status, body, strlen(body), &ue);
        free(body);

        snprintf(name, sizeof(name), "classify %d #%zu: health",
                 cases[i].status, i);
        is_int(ue.health, cases[i].health, name);

        snprintf(name, sizeof(name), "classify %d #%zu: client error",
                 cases[i].status, i);
        is_int(ue.client_error, cases[i].client, name);

        /* the message as the client reads it: the front end may add
         * words of its own to a kind (prompt is too long) */
        q2api_buf_reset(&client);
        q2api_claude_error_body(&client, ue.client_error, ue.message, NULL);
        q2api_buf_append_byte(&client, '\0');

        snprintf(name, sizeof(name), "classify %d #%zu: message has '%s'",
                 cases[i].status, i, cases[i].message);
        if (!ok(strstr((char *) client.data, cases[i].message) != NULL,
                name))
        {
            diag("message: %s", (char *) client.data);
        }

        snprintf(name, sizeof(name), "classify %d #%zu: reason",
                 cases[i].status, i);
        is_str(ue.reason, cases[i].reason, name);
    }

    /* no body at all */
    q2api_amazonq_classify(500, NULL, 0, &ue);
    ok(ue.health == Q2API_HEALTH_CAPACITY && ue.client_error == Q2API_ERR_API
       && strstr(ue.message, "internal error") != NULL,
       "classify without a body");

    /* a huge message is cut, never overflows */
    {
        char    *big;
        size_t   n;

        n = 100000;
        big = malloc(n + 40);
        memcpy(big, "{\"message\":\"", 12);
        memset(big + 12, 'A', n);
        memcpy(big + 12 + n, "Input is too long.\"}", 21);

        q2api_amazonq_classify(400, big, strlen(big), &ue);

        q2api_buf_reset(&client);
        q2api_claude_error_body(&client, ue.client_error, ue.message, NULL);
        q2api_buf_append_byte(&client, '\0');

        ok(strlen(ue.message) < sizeof(ue.message)
           && client.len < sizeof(ue.message) + 100
           && strstr((char *) client.data,
                     "\"message\":\"prompt is too long") != NULL,
           "classify: a huge message is cut");
        free(big);
    }

    q2api_buf_free(&client);
}


int
main(void)
{
    test_build_single();
    test_build_tool_loop();
    test_build_shapes();

    test_stream_text();
    test_stream_tools();
    test_stream_reasoning_usage();
    test_stream_errors();
    test_stream_corrupt();
    test_stream_handler_error();

    test_classify();

    return done_testing();
}
