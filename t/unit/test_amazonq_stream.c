/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Amazon Q's event stream turned into canonical events, whole and one
 * byte at a time: text, tools, reasoning, usage, exceptions, corruption.
 */


#include <stdint.h>
#include <stdarg.h>

#include <cjson/cJSON.h>

#include "tap.h"
#include "jq.h"
#include "q2api_amazonq.h"
#include "q2api_claude.h"


#define nelts(a)  (sizeof(a) / sizeof((a)[0]))


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

    /* a tool without a name is one nobody can run: a broken stream */
    q2api_buf_reset(&s);
    ev(&s, "toolUseEvent", "{'toolUseId':'t12','input':'{}','stop':true}");
    expect(&s, "begin\nerror:9:Amazon Q sent a malformed toolUseEvent "
               "event\n", Q2API_OK, Q2API_OK, "tool without a name");

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


int
main(void)
{
    test_stream_text();
    test_stream_tools();
    test_stream_reasoning_usage();
    test_stream_errors();
    test_stream_corrupt();
    test_stream_handler_error();

    return done_testing();
}
