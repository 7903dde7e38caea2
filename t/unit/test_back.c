/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The back-end table: lookup by name, every entry complete, and a round
 * trip through both tables as the glue makes it: a Claude body parsed,
 * an Amazon Q body built, an Amazon Q event stream fed back, Claude SSE
 * out.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tap.h"
#include "sse_check.h"
#include "q2api_back.h"
#include "q2api_front.h"
#include "q2api_amazonq.h"


static void
test_entries(void)
{
    char                 name[128];
    size_t               n;
    const q2api_back_t  **b;

    n = 0;

    for (b = q2api_backs; *b != NULL; b++) {
        n++;

        snprintf(name, sizeof(name), "back %s: named", (*b)->name);
        ok((*b)->name != NULL && (*b)->name[0] != '\0'
           && (*b)->content_type != NULL && (*b)->stream_size > 0, name);

        snprintf(name, sizeof(name), "back %s: every function set",
                 (*b)->name);
        ok((*b)->build && (*b)->stream_init && (*b)->stream_feed
           && (*b)->stream_finish && (*b)->stream_free && (*b)->strerror
           && (*b)->classify, name);

        snprintf(name, sizeof(name), "back %s: found by its name",
                 (*b)->name);
        ok(q2api_back_find((*b)->name, strlen((*b)->name)) == *b, name);

        snprintf(name, sizeof(name), "back %s: strerror names codes",
                 (*b)->name);
        ok((*b)->strerror(Q2API_ERROR) != NULL
           && (*b)->strerror(-100) != NULL, name);
    }

    ok(n >= 1, "at least one back end");

    ok(q2api_back_find("amazonq", 7) != NULL, "amazonq is a back end");
    ok(q2api_back_find("amazon", 6) == NULL, "a prefix is not a name");
    ok(q2api_back_find("amazonqs", 8) == NULL, "nor a longer name");
    ok(q2api_back_find("", 0) == NULL, "empty: none");

    is_str(q2api_back_find("amazonq", 7)->content_type,
           "application/vnd.amazon.eventstream", "Amazon Q's stream type");
}


typedef struct {
    const q2api_front_t  *front;
    const q2api_back_t   *back;
    q2api_request_t       req;
    q2api_buf_t           body;     /* the upstream body */
    cJSON                *json;     /* the same, parsed */
    void                 *fstate;
    void                 *bstate;
    q2api_buf_t           out;      /* what the client reads */
} trip_t;


static int
trip_start(trip_t *t, const char *client_body, unsigned flavour)
{
    q2api_error_t      err;
    q2api_back_opts_t  opts;

    memset(t, 0, sizeof(trip_t));

    t->front = q2api_front_find("claude", 6);
    t->back = q2api_back_find("amazonq", 7);

    q2api_request_init(&t->req);
    q2api_buf_init(&t->body, 0);
    q2api_buf_init(&t->out, 0);

    if (t->front->parse(&t->req, client_body, strlen(client_body), &err)
        != Q2API_OK)
    {
        diag("parse: %s", err.message);
        return Q2API_ERROR;
    }

    memset(&opts, 0, sizeof(q2api_back_opts_t));
    opts.model_id = (q2api_str_t) q2api_str_lit("claude-sonnet-4.5");
    opts.scope = (q2api_str_t) q2api_str_lit("arn:aws:codewhisperer:"
                                             "us-east-1:1:profile/P");
    opts.flavour = flavour;
    opts.now = 1735689600;

    if (t->back->build(&t->req, &opts, &t->body, &err) != Q2API_OK) {
        diag("build: %s", err.message);
        return Q2API_ERROR;
    }

    t->json = cJSON_ParseWithLength((char *) t->body.data, t->body.len);

    t->fstate = calloc(1, t->front->stream_size);
    t->bstate = calloc(1, t->back->stream_size);

    if (t->front->stream_init(t->fstate, &t->out, &t->req) != Q2API_OK) {
        return Q2API_ERROR;
    }

    t->back->stream_init(t->bstate, &t->req, t->front->stream_event,
                         t->fstate);

    return Q2API_OK;
}


static void
trip_end(trip_t *t)
{
    if (t->bstate) {
        t->back->stream_free(t->bstate);
    }

    if (t->fstate) {
        t->front->stream_free(t->fstate);
    }

    free(t->bstate);
    free(t->fstate);
    cJSON_Delete(t->json);
    q2api_buf_free(&t->body);
    q2api_buf_free(&t->out);
    q2api_request_free(&t->req);
}


static cJSON *
at(cJSON *j, const char *path)
{
    char        key[64];
    size_t      n;
    const char *dot;

    while (j != NULL && *path) {
        dot = strchr(path, '.');
        n = dot ? (size_t) (dot - path) : strlen(path);

        memcpy(key, path, n);
        key[n] = '\0';

        j = (key[0] >= '0' && key[0] <= '9')
            ? cJSON_GetArrayItem(j, atoi(key))
            : cJSON_GetObjectItemCaseSensitive(j, key);

        path += n + (dot != NULL);
    }

    return j;
}


static const char *
at_str(cJSON *j, const char *path)
{
    j = at(j, path);

    return cJSON_IsString(j) ? j->valuestring : "";
}


static void
test_round_trip(void)
{
    int          rc;
    char         payload[256];
    size_t       used;
    sse_msg_t    m;
    trip_t       t;
    q2api_buf_t  up;
    const char  *qname;

    static const char  body[] =
        "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":100,"
        "\"stream\":true,\"system\":\"be brief\","
        "\"tools\":[{\"name\":\"mcp__files__read-file\","
        "\"description\":\"reads\",\"input_schema\":{\"type\":\"object\"}}],"
        "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
        "\"text\":\"look\"},{\"type\":\"image\",\"source\":{\"type\":"
        "\"base64\",\"media_type\":\"image/jpg\",\"data\":\"/9j/\"}}]}]}";

    if (!ok(trip_start(&t, body, Q2API_AMAZONQ_FLAVOUR_KIRO) == Q2API_OK
            && t.json != NULL, "a Claude body becomes an Amazon Q body"))
    {
        trip_end(&t);
        return;
    }

    ok(strcmp(at_str(t.json, "conversationState.currentMessage."
                     "userInputMessage.modelId"), "claude-sonnet-4.5") == 0,
       "the model id");
    ok(strcmp(at_str(t.json, "conversationState.currentMessage."
                     "userInputMessage.origin"), "AI_EDITOR") == 0,
       "the Kiro flavour's origin");
    ok(strncmp(at_str(t.json, "profileArn"), "arn:aws:codewhisperer:", 22)
       == 0, "the scope is the profile ARN");
    ok(strcmp(at_str(t.json, "conversationState.currentMessage."
                     "userInputMessage.images.0.format"), "jpeg") == 0,
       "the image in Amazon Q's word");
    ok(strstr(at_str(t.json, "conversationState.currentMessage."
                     "userInputMessage.content"), "be brief") != NULL,
       "the system prompt is in the message");

    qname = at_str(t.json, "conversationState.currentMessage."
                   "userInputMessage.userInputMessageContext.tools.0."
                   "toolSpecification.name");
    ok(strncmp(qname, "mcp__files__read_file_", 22) == 0,
       "the tool under a name Amazon Q takes");

    /* Amazon Q answers: text, then the tool under its name, then usage */
    q2api_buf_init(&up, 0);

    q2api_es_encode_event(&up, "initial-response", "{}", 2);
    q2api_es_encode_event(&up, "assistantResponseEvent",
                          "{\"content\":\"let me read\"}", 25);
    snprintf(payload, sizeof(payload),
             "{\"toolUseId\":\"tooluse_1\",\"name\":\"%s\","
             "\"input\":\"{\\\"path\\\":\"}", qname);
    q2api_es_encode_event(&up, "toolUseEvent", payload, strlen(payload));
    snprintf(payload, sizeof(payload),
             "{\"toolUseId\":\"tooluse_1\",\"name\":\"%s\","
             "\"input\":\"\\\"/a\\\"}\",\"stop\":true}", qname);
    q2api_es_encode_event(&up, "toolUseEvent", payload, strlen(payload));
    q2api_es_encode_event(&up, "metadataEvent",
                          "{\"tokenUsage\":{\"uncachedInputTokens\":42,"
                          "\"outputTokens\":7}}", 59);

    rc = t.back->stream_feed(t.bstate, up.data, up.len, &used);
    ok(rc == Q2API_OK && used == up.len, "the stream fed whole");
    is_int(t.back->stream_finish(t.bstate), Q2API_OK, "the stream ended");
    is_int(t.front->stream_finish(t.fstate), Q2API_OK, "the reply ended");

    if (!ok(sse_parse(t.out.data, t.out.len, &m) == 0,
            "the client reads well-formed SSE"))
    {
        diag("%s", m.why);
    }

    ok(sse_is_str(at(m.message, "content.0"), "text", "let me read"),
       "the text");
    ok(sse_is_str(at(m.message, "content.1"), "type", "tool_use")
       && sse_is_str(at(m.message, "content.1"), "id", "tooluse_1")
       && sse_is_str(at(m.message, "content.1"), "name",
                     "mcp__files__read-file"),
       "the tool use, under the client's own name");
    ok(sse_is_str(at(m.message, "content.1.input"), "path", "/a"),
       "its input from the fragments");
    ok(sse_is_str(m.message, "stop_reason", "tool_use"), "stop: tool_use");
    ok(cJSON_GetNumberValue(at(m.message, "usage.output_tokens")) == 7,
       "Amazon Q's usage");

    sse_msg_free(&m);
    q2api_buf_free(&up);
    trip_end(&t);
}


/* an over-long conversation reaches the client in Claude Code's words */
static void
test_context_exceeded(void)
{
    size_t       used;
    sse_msg_t    m;
    trip_t       t;
    q2api_buf_t  up;

    static const char  body[] =
        "{\"model\":\"m\",\"max_tokens\":10,\"stream\":true,"
        "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

    if (trip_start(&t, body, Q2API_AMAZONQ_FLAVOUR_Q) != Q2API_OK) {
        ok(0, "context exceeded: start");
        trip_end(&t);
        return;
    }

    q2api_buf_init(&up, 0);
    q2api_es_encode_event(&up, "assistantResponseEvent",
                          "{\"content\":\"a\"}", 15);
    q2api_es_encode_exception(&up, "ValidationException",
                              "{\"message\":\"Input is too long.\"}", 32);

    t.back->stream_feed(t.bstate, up.data, up.len, &used);
    t.back->stream_finish(t.bstate);

    sse_parse(t.out.data, t.out.len, &m);
    ok(m.error != NULL
       && sse_is_str(cJSON_GetObjectItem(m.error, "error"), "type",
                     "invalid_request_error")
       && sse_is_str(cJSON_GetObjectItem(m.error, "error"), "message",
                     "prompt is too long: Input is too long."),
       "stream exception: \"prompt is too long\" in the error event");
    sse_msg_free(&m);

    /* and as an HTTP error answer before the reply */
    {
        q2api_buf_t             eb;
        q2api_upstream_error_t  ue;

        static const char  err[] = "{\"message\":\"Input is too long.\","
                                   "\"reason\":"
                                   "\"CONTENT_LENGTH_EXCEEDS_THRESHOLD\"}";

        t.back->classify(400, err, sizeof(err) - 1, &ue);

        q2api_buf_init(&eb, 0);
        t.front->error_body(&eb, ue.client_error, ue.message, NULL);
        q2api_buf_append_byte(&eb, '\0');

        is_int(t.front->error_status(ue.client_error), 400, "a 400");
        is_str((char *) eb.data,
               "{\"type\":\"error\",\"error\":{\"type\":"
               "\"invalid_request_error\",\"message\":\"prompt is too "
               "long: the conversation exceeds what the backend accepts "
               "(Input is too long.)\"}}",
               "upstream 400: the same words");
        ok(ue.health == Q2API_HEALTH_CLIENT, "the request's fault");

        q2api_buf_free(&eb);
    }

    q2api_buf_free(&up);
    trip_end(&t);
}


/* a stream cut inside a frame */
static void
test_truncated(void)
{
    size_t       used;
    trip_t       t;
    q2api_buf_t  up;

    static const char  body[] =
        "{\"model\":\"m\",\"max_tokens\":10,"
        "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

    if (trip_start(&t, body, Q2API_AMAZONQ_FLAVOUR_Q) != Q2API_OK) {
        ok(0, "truncated: start");
        trip_end(&t);
        return;
    }

    q2api_buf_init(&up, 0);
    q2api_es_encode_event(&up, "assistantResponseEvent",
                          "{\"content\":\"a\"}", 15);

    ok(t.back->stream_feed(t.bstate, up.data, up.len - 3, &used)
       == Q2API_OK, "a partial frame is not an error yet");
    is_int(t.back->stream_finish(t.bstate), Q2API_TRUNCATED,
           "the end inside a frame: Q2API_TRUNCATED");

    q2api_buf_free(&up);
    trip_end(&t);
}


int
main(void)
{
    test_entries();
    test_round_trip();
    test_context_exceeded();
    test_truncated();

    return done_testing();
}
