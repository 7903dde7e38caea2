/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Code Assist's answer: SSE chunks, each a whole JSON wrapper holding new
 * parts only, as canonical events (thinking with its signature, text,
 * whole function calls, usage, the stop reason, errors).
 */


#include <stdio.h>

#include "q2api_back.h"
#include "q2api_gemini.h"
#include "q2api_gemini_internal.h"


static int q2api_gemini_message(void *data, const q2api_sse_message_t *m);
static int q2api_gemini_chunk(q2api_gemini_stream_t *s, const cJSON *resp);
static int q2api_gemini_part_events(q2api_gemini_stream_t *s,
    const cJSON *part);
static int q2api_gemini_signature(q2api_gemini_stream_t *s, const char *sig);
static int q2api_gemini_call(q2api_gemini_stream_t *s, const cJSON *call);
static int q2api_gemini_usage(q2api_gemini_stream_t *s, const cJSON *meta);
static int q2api_gemini_finish_reason(q2api_gemini_stream_t *s,
    const char *reason);
static int q2api_gemini_emit(q2api_gemini_stream_t *s,
    q2api_event_type_e type, const char *text, size_t len);
static int q2api_gemini_emit_error(q2api_gemini_stream_t *s,
    q2api_err_e kind, const char *message);


void
q2api_gemini_stream_init(q2api_gemini_stream_t *s, const q2api_request_t *req,
    q2api_event_handler_pt handler, void *data)
{
    memset(s, 0, sizeof(q2api_gemini_stream_t));

    s->req = req;
    s->handler = handler;
    s->data = data;

    q2api_sse_reader_init(&s->sse, Q2API_GEMINI_LINE_MAX,
                          Q2API_GEMINI_LINE_MAX);
    q2api_buf_init(&s->scratch, Q2API_GEMINI_LINE_MAX);
}


void
q2api_gemini_stream_free(q2api_gemini_stream_t *s)
{
    q2api_sse_reader_free(&s->sse);
    q2api_buf_free(&s->scratch);
}


int
q2api_gemini_stream_feed(q2api_gemini_stream_t *s, const unsigned char *in,
    size_t len, size_t *consumed)
{
    return q2api_sse_reader_feed(&s->sse, in, len, consumed,
                                 q2api_gemini_message, s);
}


int
q2api_gemini_stream_finish(q2api_gemini_stream_t *s)
{
    int  rc;

    rc = q2api_sse_reader_finish(&s->sse, q2api_gemini_message, s);
    if (rc != Q2API_OK) {
        return rc;
    }

    /* an answer cut before its finishReason is never a normal end */
    return (s->ended || s->finished) ? Q2API_OK : Q2API_TRUNCATED;
}


const char *
q2api_gemini_strerror(int rc)
{
    const char  *e;

    if (rc == Q2API_GEMINI_EJSON) {
        return "a Code Assist SSE event is not a JSON object";
    }

    if (rc == Q2API_TRUNCATED) {
        return "the Code Assist stream ended without a finishReason";
    }

    e = q2api_sse_reader_strerror(rc);

    return e ? e : "the Code Assist stream is corrupt";
}


static int
q2api_gemini_message(void *data, const q2api_sse_message_t *m)
{
    int                      rc;
    cJSON                   *root;
    const cJSON             *p, *resp, *error;
    q2api_upstream_error_t   ue;
    q2api_gemini_stream_t   *s = data;

    if (s->ended) {
        /* nothing after an error is the answer */
        return Q2API_OK;
    }

    root = cJSON_ParseWithLength(m->data.data, m->data.len);

    p = cJSON_IsArray(root) ? cJSON_GetArrayItem(root, 0) : root;

    if (!cJSON_IsObject(p)) {
        cJSON_Delete(root);
        return Q2API_GEMINI_EJSON;
    }

    rc = Q2API_OK;

    if (!s->begun) {
        s->begun = 1;
        rc = q2api_gemini_emit(s, Q2API_EV_BEGIN, NULL, 0);
    }

    error = cJSON_GetObjectItemCaseSensitive(p, "error");

    if (rc == Q2API_OK && error != NULL) {
        /* a failure after the 200: the answer ends as an error */
        q2api_gemini_error_object(0, cJSON_IsObject(error) ? error : NULL,
                                  &ue);
        rc = q2api_gemini_emit_error(s, ue.client_error, ue.message);

    } else if (rc == Q2API_OK) {
        /* the wrapper's "response"; a bare answer through another proxy */
        resp = cJSON_GetObjectItemCaseSensitive(p, "response");
        rc = q2api_gemini_chunk(s, cJSON_IsObject(resp) ? resp : p);
    }

    cJSON_Delete(root);

    return rc;
}


static int
q2api_gemini_chunk(q2api_gemini_stream_t *s, const cJSON *resp)
{
    int           rc;
    const cJSON  *cand, *parts, *part, *item;

    cand = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(resp,
                                                               "candidates"),
                              0);

    parts = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(cand, "content"), "parts");

    if (!s->finished) {
        cJSON_ArrayForEach(part, parts) {
            rc = q2api_gemini_part_events(s, part);
            if (rc != Q2API_OK) {
                return rc;
            }

            if (s->ended) {
                return Q2API_OK;
            }
        }
    }

    item = cJSON_GetObjectItemCaseSensitive(resp, "usageMetadata");
    if (cJSON_IsObject(item)) {
        rc = q2api_gemini_usage(s, item);
        if (rc != Q2API_OK) {
            return rc;
        }
    }

    if (s->finished) {
        return Q2API_OK;
    }

    item = cJSON_GetObjectItemCaseSensitive(cand, "finishReason");
    if (cJSON_IsString(item) && item->valuestring[0]) {
        return q2api_gemini_finish_reason(s, item->valuestring);
    }

    /* a prompt refused outright: no candidate, a block reason */
    item = cJSON_GetObjectItemCaseSensitive(
               cJSON_GetObjectItemCaseSensitive(resp, "promptFeedback"),
               "blockReason");

    if (cand == NULL && cJSON_IsString(item)) {
        return q2api_gemini_finish_reason(s, "SAFETY");
    }

    return Q2API_OK;
}


static int
q2api_gemini_part_events(q2api_gemini_stream_t *s, const cJSON *part)
{
    int           rc;
    const char   *sig;
    const cJSON  *item, *text, *data;

    if (!cJSON_IsObject(part)) {
        return Q2API_OK;
    }

    item = cJSON_GetObjectItemCaseSensitive(part, "thoughtSignature");
    sig = (cJSON_IsString(item) && item->valuestring[0]) ? item->valuestring
                                                         : NULL;

    text = cJSON_GetObjectItemCaseSensitive(part, "text");

    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(part, "thought"))) {
        /* a thought's own signature (Claude on Antigravity) ends it */
        if (cJSON_IsString(text) && text->valuestring[0]) {
            rc = q2api_gemini_emit(s, Q2API_EV_THINKING, text->valuestring,
                                   strlen(text->valuestring));
            if (rc != Q2API_OK) {
                return rc;
            }

            s->thinking_open = 1;
        }

        return sig ? q2api_gemini_signature(s, sig) : Q2API_OK;
    }

    /* the signature of the thoughts before this part comes first */
    if (sig != NULL) {
        rc = q2api_gemini_signature(s, sig);
        if (rc != Q2API_OK) {
            return rc;
        }
    }

    if (cJSON_IsString(text) && text->valuestring[0]) {
        s->thinking_open = 0;
        return q2api_gemini_emit(s, Q2API_EV_TEXT, text->valuestring,
                                 strlen(text->valuestring));
    }

    item = cJSON_GetObjectItemCaseSensitive(part, "functionCall");
    if (cJSON_IsObject(item)) {
        s->thinking_open = 0;
        return q2api_gemini_call(s, item);
    }

    item = cJSON_GetObjectItemCaseSensitive(part, "inlineData");
    data = cJSON_GetObjectItemCaseSensitive(item, "data");

    if (cJSON_IsString(data)) {
        /* Claude has no image answers: a Markdown data URI says it */
        text = cJSON_GetObjectItemCaseSensitive(item, "mimeType");
        q2api_buf_reset(&s->scratch);

        if (q2api_buf_append_str(&s->scratch, "![image](data:") != Q2API_OK
            || q2api_buf_append_str(&s->scratch, cJSON_IsString(text)
                                                 ? text->valuestring
                                                 : "image/png") != Q2API_OK
            || q2api_buf_append_str(&s->scratch, ";base64,") != Q2API_OK
            || q2api_buf_append_str(&s->scratch, data->valuestring)
               != Q2API_OK
            || q2api_buf_append_byte(&s->scratch, ')') != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        s->thinking_open = 0;

        return q2api_gemini_emit(s, Q2API_EV_TEXT, (char *) s->scratch.data,
                                 s->scratch.len);
    }

    return Q2API_OK;
}


/*
 * A signature closes the thinking it follows.  With no thinking open
 * (Gemini 3 signs its calls even when thoughts were not asked for) it
 * goes out as a thinking block of its own when the client asked for
 * thinking, which hands it back next turn; otherwise the next request
 * carries Google's dummy signature.
 */
static int
q2api_gemini_signature(q2api_gemini_stream_t *s, const char *sig)
{
    if (strcmp(sig, Q2API_GEMINI_DUMMY_SIGNATURE) == 0) {
        return Q2API_OK;
    }

    if (!s->thinking_open && (s->req == NULL || !s->req->thinking)) {
        return Q2API_OK;
    }

    s->thinking_open = 0;

    return q2api_gemini_emit(s, Q2API_EV_SIGNATURE, sig, strlen(sig));
}


static int
q2api_gemini_call(q2api_gemini_stream_t *s, const cJSON *call)
{
    int             rc;
    char           *args;
    char            uuid[37], id[64];
    size_t          i, n;
    q2api_str_t     name;
    const cJSON    *item;
    q2api_event_t   ev;

    item = cJSON_GetObjectItemCaseSensitive(call, "name");
    if (!cJSON_IsString(item) || item->valuestring[0] == '\0') {
        return q2api_gemini_emit_error(s, Q2API_ERR_API,
                                       "Gemini sent a function call without "
                                       "a name");
    }

    name = q2api_gemini_client_tool_name(s->req, item->valuestring,
                                         strlen(item->valuestring));

    item = cJSON_GetObjectItemCaseSensitive(call, "id");

    if (cJSON_IsString(item) && item->valuestring[0]
        && strlen(item->valuestring) < sizeof(id))
    {
        snprintf(id, sizeof(id), "%s", item->valuestring);

    } else {
        /* Google's calls rarely have ids; the client needs unique ones */
        if (q2api_uuid4(uuid) != Q2API_OK) {
            return Q2API_ERROR;
        }

        n = snprintf(id, sizeof(id), "toolu_");

        for (i = 0; uuid[i]; i++) {
            if (uuid[i] != '-') {
                id[n++] = uuid[i];
            }
        }

        id[n] = '\0';
    }

    s->ncalls++;

    memset(&ev, 0, sizeof(q2api_event_t));
    q2api_usage_init(&ev.usage);
    ev.type = Q2API_EV_TOOL_START;
    ev.id.data = id;
    ev.id.len = strlen(id);
    ev.name = name;

    rc = s->handler(s->data, &ev);
    if (rc != Q2API_OK) {
        return rc;
    }

    item = cJSON_GetObjectItemCaseSensitive(call, "args");
    args = cJSON_IsObject(item) ? cJSON_PrintUnformatted(item) : NULL;

    if (cJSON_IsObject(item) && args == NULL) {
        return Q2API_NOMEM;
    }

    /* a call arrives whole: its input is one fragment */
    rc = q2api_gemini_emit(s, Q2API_EV_TOOL_INPUT, args ? args : "{}",
                           args ? strlen(args) : 2);
    cJSON_free(args);

    if (rc != Q2API_OK) {
        return rc;
    }

    return q2api_gemini_emit(s, Q2API_EV_TOOL_STOP, NULL, 0);
}


static long long
q2api_gemini_count(const cJSON *meta, const char *key)
{
    const cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(meta, key);

    /* valueint: cJSON's int, saturated; never negative here */
    return (cJSON_IsNumber(item) && item->valueint > 0) ? item->valueint : 0;
}


static int
q2api_gemini_usage(q2api_gemini_stream_t *s, const cJSON *meta)
{
    long long      prompt, cached, cand, thoughts, total;
    q2api_event_t  ev;

    prompt = q2api_gemini_count(meta, "promptTokenCount");
    cached = q2api_gemini_count(meta, "cachedContentTokenCount");
    cand = q2api_gemini_count(meta, "candidatesTokenCount");
    thoughts = q2api_gemini_count(meta, "thoughtsTokenCount");
    total = q2api_gemini_count(meta, "totalTokenCount");

    memset(&ev, 0, sizeof(q2api_event_t));
    q2api_usage_init(&ev.usage);
    ev.type = Q2API_EV_USAGE;

    /* cached tokens are reported apart, as Claude does */
    ev.usage.input_tokens = prompt > cached ? prompt - cached : 0;
    ev.usage.cache_read_tokens = cached;
    ev.usage.output_tokens = cand + thoughts;

    if (ev.usage.output_tokens == 0 && total > prompt) {
        ev.usage.output_tokens = total - prompt;
    }

    return s->handler(s->data, &ev);
}


static int
q2api_gemini_finish_reason(q2api_gemini_stream_t *s, const char *reason)
{
    char            text[Q2API_ERR_MSG_LEN];
    q2api_event_t   ev;

    s->finished = 1;

    memset(&ev, 0, sizeof(q2api_event_t));
    q2api_usage_init(&ev.usage);
    ev.type = Q2API_EV_STOP;

    if (strcmp(reason, "MAX_TOKENS") == 0) {
        ev.stop = Q2API_STOP_MAX_TOKENS;

    } else if (strcmp(reason, "SAFETY") == 0
               || strcmp(reason, "RECITATION") == 0
               || strcmp(reason, "BLOCKLIST") == 0
               || strcmp(reason, "PROHIBITED_CONTENT") == 0
               || strcmp(reason, "SPII") == 0
               || strcmp(reason, "IMAGE_SAFETY") == 0)
    {
        ev.stop = Q2API_STOP_REFUSAL;

    } else if (strcmp(reason, "MALFORMED_FUNCTION_CALL") == 0
               || strcmp(reason, "UNEXPECTED_TOOL_CALL") == 0
               || strcmp(reason, "TOO_MANY_TOOL_CALLS") == 0
               || strcmp(reason, "MISSING_THOUGHT_SIGNATURE") == 0)
    {
        /* the model failed at a call: not an answer to end normally */
        snprintf(text, sizeof(text), "Gemini stopped the answer: %.64s",
                 reason);
        return q2api_gemini_emit_error(s, Q2API_ERR_API, text);

    } else {
        /* STOP, OTHER and what Google adds later: calls were the point */
        ev.stop = s->ncalls ? Q2API_STOP_TOOL_USE : Q2API_STOP_END_TURN;
    }

    return s->handler(s->data, &ev);
}


static int
q2api_gemini_emit(q2api_gemini_stream_t *s, q2api_event_type_e type,
    const char *text, size_t len)
{
    q2api_event_t  ev;

    memset(&ev, 0, sizeof(q2api_event_t));
    q2api_usage_init(&ev.usage);

    ev.type = type;
    ev.text.data = text;
    ev.text.len = len;

    return s->handler(s->data, &ev);
}


static int
q2api_gemini_emit_error(q2api_gemini_stream_t *s, q2api_err_e kind,
    const char *message)
{
    q2api_event_t  ev;

    s->ended = 1;

    memset(&ev, 0, sizeof(q2api_event_t));
    q2api_usage_init(&ev.usage);

    ev.type = Q2API_EV_ERROR;
    ev.error = kind;
    ev.text.data = message;
    ev.text.len = strlen(message);

    return s->handler(s->data, &ev);
}
