/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Code Assist SSE -> canonical events: thoughts and their signatures,
 * text, whole calls (names mapped back), usage, every finishReason class,
 * a stream without finishReason, error chunks, the input cut anywhere;
 * and the Claude answer built from them.
 */


#include <stdint.h>

#include "gemini_check.h"
#include "sse_check.h"
#include "q2api_back.h"


/* the events as one line each */
typedef struct {
    q2api_buf_t  log;
} rec_t;


static int
record(void *data, const q2api_event_t *ev)
{
    char    num[128];
    rec_t  *k = data;

    switch (ev->type) {
    case Q2API_EV_BEGIN:
        q2api_buf_append_str(&k->log, "B\n");
        return Q2API_OK;
    case Q2API_EV_TEXT:
        q2api_buf_append_str(&k->log, "T ");
        break;
    case Q2API_EV_THINKING:
        q2api_buf_append_str(&k->log, "K ");
        break;
    case Q2API_EV_SIGNATURE:
        q2api_buf_append_str(&k->log, "S ");
        break;
    case Q2API_EV_TOOL_START:
        q2api_buf_append_str(&k->log, "TS ");
        q2api_buf_append(&k->log, ev->id.data,
                         strncmp(ev->id.data, "toolu_", 6) == 0
                         && ev->id.len == 38 ? 6 : ev->id.len);
        q2api_buf_append_byte(&k->log, ' ');
        q2api_buf_append(&k->log, ev->name.data, ev->name.len);
        q2api_buf_append_byte(&k->log, '\n');
        return Q2API_OK;
    case Q2API_EV_TOOL_INPUT:
        q2api_buf_append_str(&k->log, "TI ");
        break;
    case Q2API_EV_TOOL_STOP:
        q2api_buf_append_str(&k->log, "TE\n");
        return Q2API_OK;
    case Q2API_EV_USAGE:
        snprintf(num, sizeof(num), "U %lld %lld %lld\n",
                 ev->usage.input_tokens, ev->usage.output_tokens,
                 ev->usage.cache_read_tokens);
        q2api_buf_append_str(&k->log, num);
        return Q2API_OK;
    case Q2API_EV_STOP:
        snprintf(num, sizeof(num), "STOP %d\n", (int) ev->stop);
        q2api_buf_append_str(&k->log, num);
        return Q2API_OK;
    case Q2API_EV_ERROR:
        snprintf(num, sizeof(num), "ERR %d ", (int) ev->error);
        q2api_buf_append_str(&k->log, num);
        break;
    default:
        q2api_buf_append_str(&k->log, "? ");
        break;
    }

    q2api_buf_append(&k->log, ev->text.data, ev->text.len);
    q2api_buf_append_byte(&k->log, '\n');

    return Q2API_OK;
}


/* feeds the stream cut at "cut" (0: whole); the finish code */
static int
run(const q2api_request_t *req, const char *stream, size_t cut, rec_t *k)
{
    int                    rc;
    size_t                 len, used;
    q2api_gemini_stream_t  s;

    len = strlen(stream);
    q2api_buf_reset(&k->log);
    q2api_gemini_stream_init(&s, req, record, k);

    rc = q2api_gemini_stream_feed(&s, (const unsigned char *) stream, cut,
                                  &used);

    if (rc == Q2API_OK) {
        rc = q2api_gemini_stream_feed(&s, (const unsigned char *) stream
                                      + cut, len - cut, &used);
    }

    if (rc == Q2API_OK) {
        rc = q2api_gemini_stream_finish(&s);
    }

    q2api_gemini_stream_free(&s);

    return rc;
}


static void
expect(const char *name, const q2api_request_t *req, const char *stream,
    int want_rc, const char *want)
{
    int     rc, bad;
    char    title[256];
    size_t  cut, len;
    rec_t   k;

    q2api_buf_init(&k.log, 0);
    len = strlen(stream);
    bad = 0;

    for (cut = 0; cut <= len && !bad; cut++) {
        rc = run(req, stream, cut, &k);

        if (rc != want_rc || k.log.len != strlen(want)
            || memcmp(k.log.data, want, k.log.len) != 0)
        {
            diag("cut %zu: rc %d, events:\n%.*s", cut, rc, (int) k.log.len,
                 (char *) k.log.data);
            bad = 1;
        }
    }

    snprintf(title, sizeof(title), "%s (cut anywhere)", name);
    ok(!bad, title);

    q2api_buf_free(&k.log);
}


#define CHUNK(json)  "data: {\"response\":" json ",\"traceId\":\"t\"}\r\n\r\n"
#define PARTS(p)     "{\"candidates\":[{\"content\":{\"role\":\"model\"," \
                     "\"parts\":[" p "]}}]}"
#define FINAL(p, reason, usage)                                            \
    "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[" p "]}," \
    "\"finishReason\":\"" reason "\"}],\"usageMetadata\":" usage "}"


static void
test_events(gc_built_t *b)
{
    char  name[Q2API_GEMINI_TOOL_NAME_MAX + 1], stream[512];

    expect("thoughts, signature on the answer, usage",
           &b->req,
           CHUNK(PARTS("{\"text\":\"**Adding**\",\"thought\":true}"))
           CHUNK(FINAL("{\"text\":\"4\",\"thoughtSignature\":\"CiQB\"}",
                       "STOP", "{\"promptTokenCount\":9,"
                       "\"candidatesTokenCount\":1,\"totalTokenCount\":60,"
                       "\"thoughtsTokenCount\":50,"
                       "\"cachedContentTokenCount\":4}")),
           Q2API_OK,
           "B\nK **Adding**\nS CiQB\nT 4\nU 5 51 4\nSTOP 1\n");

    expect("a whole call: start, input, stop; tool_use",
           &b->req,
           CHUNK(PARTS("{\"text\":\"Checking.\"}"))
           CHUNK(FINAL("{\"functionCall\":{\"name\":\"get_weather\","
                       "\"args\":{\"city\":\"Paris\"}}}",
                       "STOP", "{\"promptTokenCount\":3}")),
           Q2API_OK,
           "B\nT Checking.\nTS toolu_ get_weather\n"
           "TI {\"city\":\"Paris\"}\nTE\nU 3 0 0\nSTOP 2\n");

    q2api_gemini_tool_name("mcp__srv__do thing!", 19, name);
    snprintf(stream, sizeof(stream),
             CHUNK(FINAL("{\"functionCall\":{\"id\":\"c1\",\"name\":"
                         "\"%s\"}}", "STOP", "{}")), name);
    expect("a rewritten name is mapped back; the upstream id kept",
           &b->req, stream, Q2API_OK,
           "B\nTS c1 mcp__srv__do thing!\nTI {}\nTE\nU 0 0 0\nSTOP 2\n");

    expect("MAX_TOKENS", &b->req,
           CHUNK(FINAL("{\"text\":\"long\"}", "MAX_TOKENS", "{}")),
           Q2API_OK, "B\nT long\nU 0 0 0\nSTOP 3\n");

    expect("SAFETY: a refusal", &b->req,
           CHUNK(FINAL("", "SAFETY", "{}")),
           Q2API_OK, "B\nU 0 0 0\nSTOP 5\n");

    expect("a blocked prompt: a refusal", &b->req,
           CHUNK("{\"promptFeedback\":{\"blockReason\":\"SAFETY\"}}"),
           Q2API_OK, "B\nSTOP 5\n");

    expect("MALFORMED_FUNCTION_CALL: an error", &b->req,
           CHUNK(FINAL("", "MALFORMED_FUNCTION_CALL", "{}")),
           Q2API_OK, "B\nU 0 0 0\n"
           "ERR 9 Gemini stopped the answer: MALFORMED_FUNCTION_CALL\n");

    expect("no finishReason: truncated, never end_turn", &b->req,
           CHUNK(PARTS("{\"text\":\"half\"}")),
           Q2API_TRUNCATED, "B\nT half\n");

    expect("an empty body: truncated", &b->req, "", Q2API_TRUNCATED, "");

    expect("an error chunk mid-stream ends the answer", &b->req,
           CHUNK(PARTS("{\"text\":\"a\"}"))
           "data: [{\"error\":{\"code\":429,\"message\":\"quota\","
           "\"status\":\"RESOURCE_EXHAUSTED\"}}]\r\n\r\n"
           CHUNK(FINAL("{\"text\":\"b\"}", "STOP", "{}")),
           Q2API_OK, "B\nT a\nERR 8 the backend is rate limiting requests\n");

    expect("LF framing and the last blank line missing", &b->req,
           "data: {\"response\":" FINAL("{\"text\":\"x\"}", "STOP", "{}")
           "}",
           Q2API_OK, "B\nT x\nU 0 0 0\nSTOP 1\n");

    expect("the dummy signature is not handed to the client", &b->req,
           CHUNK(FINAL("{\"functionCall\":{\"name\":\"x\"},"
                       "\"thoughtSignature\":\""
                       Q2API_GEMINI_DUMMY_SIGNATURE "\"}", "STOP", "{}")),
           Q2API_OK, "B\nTS toolu_ x\nTI {}\nTE\nU 0 0 0\nSTOP 2\n");

    expect("a thought's own signature (Claude on Antigravity)", &b->req,
           CHUNK(PARTS("{\"text\":\"hm\",\"thought\":true,"
                       "\"thoughtSignature\":\"AS\"}"))
           CHUNK(FINAL("{\"text\":\"ok\"}", "STOP", "{}")),
           Q2API_OK, "B\nK hm\nS AS\nT ok\nU 0 0 0\nSTOP 1\n");

    expect("an image answer becomes a Markdown data URI", &b->req,
           CHUNK(FINAL("{\"inlineData\":{\"mimeType\":\"image/png\","
                       "\"data\":\"AAA\"}}", "STOP", "{}")),
           Q2API_OK,
           "B\nT ![image](data:image/png;base64,AAA)\nU 0 0 0\nSTOP 1\n");

    expect("output from the total when the counts are missing", &b->req,
           CHUNK(FINAL("{\"text\":\"x\"}", "STOP",
                       "{\"promptTokenCount\":10,\"totalTokenCount\":25}")),
           Q2API_OK, "B\nT x\nU 10 15 0\nSTOP 1\n");
}


static void
test_signature_without_thinking(void)
{
    gc_built_t  b;

    /* thinking asked for: a signature alone still reaches the client */
    gc_build(&b, "{'model':'m','max_tokens':4000,"
                 "'thinking':{'type':'enabled','budget_tokens':2000},"
                 "'messages':[{'role':'user','content':'go'}]}",
             "gemini-3-flash", Q2API_GEMINI_FLAVOUR_CLI);
    expect("thinking on: a call's signature as a thinking signature",
           &b.req,
           CHUNK(FINAL("{\"functionCall\":{\"name\":\"x\"},"
                       "\"thoughtSignature\":\"SIG\"}", "STOP", "{}")),
           Q2API_OK, "B\nS SIG\nTS toolu_ x\nTI {}\nTE\nU 0 0 0\nSTOP 2\n");
    gc_free(&b);
}


static void
test_corrupt(gc_built_t *b)
{
    int                    rc;
    size_t                 used;
    rec_t                  k;
    q2api_gemini_stream_t  s;
    const char            *bad = "data: {not json\r\n\r\n";

    q2api_buf_init(&k.log, 0);
    q2api_gemini_stream_init(&s, &b->req, record, &k);
    rc = q2api_gemini_stream_feed(&s, (const unsigned char *) bad,
                                  strlen(bad), &used);
    is_int(rc, Q2API_GEMINI_EJSON, "a data line that is not JSON: corrupt");
    ok(q2api_gemini_strerror(rc) != NULL
       && strstr(q2api_gemini_strerror(rc), "JSON") != NULL,
       "and named");
    q2api_gemini_stream_free(&s);
    q2api_buf_free(&k.log);
}


/* the table entry, with the Claude front, stream and not */
static void
test_claude_answer(gc_built_t *b)
{
    int                    rc;
    char                  *t;
    size_t                 used;
    cJSON                 *msg;
    sse_msg_t              m;
    q2api_buf_t            sse, json;
    const q2api_back_t    *back;
    q2api_claude_stream_t  cs, cj;
    unsigned char          state[4096];
    const char            *stream =
        CHUNK(PARTS("{\"text\":\"think\",\"thought\":true}"))
        CHUNK(PARTS("{\"text\":\"Hi\",\"thoughtSignature\":\"SG\"}"))
        CHUNK(FINAL("{\"functionCall\":{\"name\":\"get_weather\","
                    "\"args\":{\"city\":\"Rome\"}}}", "STOP",
                    "{\"promptTokenCount\":7,\"candidatesTokenCount\":3}"));

    back = q2api_back_find("gemini", 6);
    ok(back != NULL && strcmp(back->content_type, "text/event-stream") == 0
       && back->stream_size <= sizeof(state), "gemini is a back end");

    if (back == NULL) {
        return;
    }

    q2api_buf_init(&sse, 0);
    q2api_buf_init(&json, 0);

    b->req.stream = 1;
    q2api_claude_stream_init(&cs, &sse, &b->req);
    b->req.stream = 0;
    q2api_claude_stream_init(&cj, &json, &b->req);

    /* the glue feeds one encoder; each run here feeds one */
    back->stream_init(state, &b->req, q2api_claude_stream_event, &cs);
    rc = back->stream_feed(state, (const unsigned char *) stream,
                           strlen(stream), &used);
    rc = rc ? rc : back->stream_finish(state);
    back->stream_free(state);
    is_int(rc, Q2API_OK, "the stream decodes");
    q2api_claude_stream_finish(&cs);

    back->stream_init(state, &b->req, q2api_claude_stream_event, &cj);
    rc = back->stream_feed(state, (const unsigned char *) stream,
                           strlen(stream), &used);
    rc = rc ? rc : back->stream_finish(state);
    back->stream_free(state);
    q2api_claude_stream_finish(&cj);

    ok(sse_parse(sse.data, sse.len, &m) == 0, "Claude SSE well formed");
    ok(gc_str(m.message, "stop_reason", "tool_use"), "stop_reason tool_use");
    ok(gc_str(m.message, "content.0.type", "thinking")
       && gc_str(m.message, "content.0.signature", "SG"),
       "thinking block with its signature");
    ok(gc_str(m.message, "content.1.text", "Hi")
       && gc_str(m.message, "content.2.type", "tool_use")
       && gc_str(m.message, "content.2.input.city", "Rome"),
       "text, then the tool call");
    ok(gc_num(m.message, "usage.output_tokens", 3), "usage");

    t = strndup((char *) json.data, json.len);
    msg = cJSON_Parse(t);
    free(t);
    ok(gc_str(msg, "stop_reason", "tool_use")
       && gc_str(msg, "content.2.name", "get_weather"),
       "the stream: false answer says the same");

    cJSON_Delete(msg);
    sse_msg_free(&m);
    q2api_claude_stream_free(&cs);
    q2api_claude_stream_free(&cj);
    q2api_buf_free(&sse);
    q2api_buf_free(&json);
}


int
main(void)
{
    gc_built_t  b;

    gc_build(&b, "{'model':'m','max_tokens':10,"
                 "'tools':[{'name':'get_weather','input_schema':"
                 "{'type':'object'}},{'name':'mcp__srv__do thing!',"
                 "'input_schema':{'type':'object'}}],"
                 "'messages':[{'role':'user','content':'go'}]}",
             "gemini-2.5-pro", Q2API_GEMINI_FLAVOUR_CLI);

    test_events(&b);
    test_signature_without_thinking();
    test_corrupt(&b);
    test_claude_answer(&b);

    gc_free(&b);

    return done_testing();
}
