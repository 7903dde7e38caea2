/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The reply as chat.completion.chunk SSE: the role in the first delta
 * only, content and reasoning_content deltas, tool calls by index (id,
 * type and name in a call's first delta only, then argument fragments),
 * one chunk with the finish_reason, the usage chunk when asked for, and
 * "data: [DONE]".  With stream: false the reply is kept instead and
 * q2api_openai_message.c writes it at the end.
 */


#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/rand.h>

#include "q2api_openai.h"
#include "q2api_openai_internal.h"
#include "q2api_json.h"
#include "q2api_sse.h"


static int q2api_openai_begin(q2api_openai_stream_t *s);
static int q2api_openai_chunk(q2api_openai_stream_t *s);
static int q2api_openai_head(q2api_openai_stream_t *s);
static int q2api_openai_tail(q2api_openai_stream_t *s, const char *finish);
static int q2api_openai_delta(q2api_openai_stream_t *s, const char *field,
    const q2api_str_t *text);
static int q2api_openai_call_start(q2api_openai_stream_t *s,
    const q2api_event_t *ev);
static int q2api_openai_call_input(q2api_openai_stream_t *s,
    const q2api_str_t *text);
static int q2api_openai_call_end(q2api_openai_stream_t *s);


/* string literals only: "" lit does not compile for a pointer */
#define q2api_openai_put(b, lit)                                           \
    q2api_buf_append(b, "" lit, sizeof(lit) - 1)


int
q2api_openai_stream_init(q2api_openai_stream_t *s, q2api_buf_t *out,
    const q2api_request_t *req)
{
    int            i;
    cJSON         *opts;
    unsigned char  r[12];

    memset(s, 0, sizeof(q2api_openai_stream_t));

    s->out = out;
    s->model = req->model;
    s->stream = req->stream;
    s->legacy = q2api_openai_legacy(req);
    s->input_tokens = q2api_request_estimate_tokens(req);
    s->created = (long long) time(NULL);
    q2api_usage_init(&s->usage);
    q2api_buf_init(&s->scratch, 0);
    q2api_buf_init(&s->content, 0);
    q2api_buf_init(&s->reasoning, 0);

    opts = cJSON_GetObjectItemCaseSensitive(req->json, "stream_options");
    s->include_usage = s->stream
        && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(opts,
                                                         "include_usage"));

    if (RAND_bytes(r, sizeof(r)) != 1) {
        return Q2API_ERROR;
    }

    memcpy(s->id, "chatcmpl-", 9);

    for (i = 0; i < (int) sizeof(r); i++) {
        snprintf(s->id + 9 + 2 * i, 3, "%02x", r[i]);
    }

    return Q2API_OK;
}


void
q2api_openai_stream_free(q2api_openai_stream_t *s)
{
    int  i;

    q2api_buf_free(&s->scratch);
    q2api_buf_free(&s->content);
    q2api_buf_free(&s->reasoning);

    for (i = 0; i < s->ncalls && s->calls != NULL; i++) {
        q2api_buf_free(&s->calls[i].arguments);
        free(s->calls[i].id);
        free(s->calls[i].name);
    }

    free(s->calls);
    s->calls = NULL;
    s->ncalls = 0;
}


/* {"id","object","created","model" of every chunk, into s->scratch */
static int
q2api_openai_chunk(q2api_openai_stream_t *s)
{
    q2api_buf_t  *b;

    b = &s->scratch;

    if (q2api_openai_put(b, "{\"id\":\"") != Q2API_OK
        || q2api_buf_append_str(b, s->id) != Q2API_OK
        || q2api_openai_put(b, "\",\"object\":\"chat.completion.chunk\","
                               "\"created\":") != Q2API_OK
        || q2api_json_append_int(b, s->created) != Q2API_OK
        || q2api_openai_put(b, ",\"model\":") != Q2API_OK
        || q2api_json_append_string(b, s->model.data, s->model.len)
           != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return Q2API_OK;
}


/* ...,"choices":[{"index":0,"delta": -- the delta follows */
static int
q2api_openai_head(q2api_openai_stream_t *s)
{
    if (q2api_openai_chunk(s) != Q2API_OK
        || q2api_openai_put(&s->scratch,
                            ",\"choices\":[{\"index\":0,\"delta\":")
           != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return Q2API_OK;
}


/* the rest of the chunk after its delta, and the chunk onto the stream */
static int
q2api_openai_tail(q2api_openai_stream_t *s, const char *finish)
{
    int           rc;
    q2api_buf_t  *b;

    b = &s->scratch;

    if (q2api_openai_put(b, ",\"logprobs\":null,\"finish_reason\":")
        != Q2API_OK
        || (finish ? q2api_json_append_string(b, finish, strlen(finish))
                   : q2api_openai_put(b, "null")) != Q2API_OK
        || q2api_openai_put(b, "}]") != Q2API_OK
        || (s->include_usage && q2api_openai_put(b, ",\"usage\":null")
                                != Q2API_OK)
        || q2api_buf_append_byte(b, '}') != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    rc = q2api_sse_event(s->out, NULL, b->data, b->len);
    q2api_buf_reset(b);

    return rc;
}


/* the first chunk: the only one with the role */
static int
q2api_openai_begin(q2api_openai_stream_t *s)
{
    if (s->started) {
        return Q2API_OK;
    }

    s->started = 1;

    if (!s->stream) {
        return Q2API_OK;
    }

    if (q2api_openai_head(s) != Q2API_OK
        || q2api_openai_put(&s->scratch, "{\"role\":\"assistant\","
                                         "\"content\":null}") != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return q2api_openai_tail(s, NULL);
}


int
q2api_openai_stream_ping(q2api_openai_stream_t *s)
{
    if (!s->stream) {
        return Q2API_OK;
    }

    /* a comment, never a data line: the SDKs parse every data line */
    return q2api_sse_comment(s->out, "keep-alive");
}


/* {"content":"..."} or {"reasoning_content":"..."}, or kept */
static int
q2api_openai_delta(q2api_openai_stream_t *s, const char *field,
    const q2api_str_t *text)
{
    q2api_buf_t  *b;

    if (!s->stream) {
        b = field[0] == 'c' ? &s->content : &s->reasoning;
        return q2api_buf_append(b, text->data, text->len);
    }

    b = &s->scratch;

    if (q2api_openai_head(s) != Q2API_OK
        || q2api_openai_put(b, "{\"") != Q2API_OK
        || q2api_buf_append_str(b, field) != Q2API_OK
        || q2api_openai_put(b, "\":") != Q2API_OK
        || q2api_json_append_string(b, text->data, text->len) != Q2API_OK
        || q2api_buf_append_byte(b, '}') != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return q2api_openai_tail(s, NULL);
}


static int
q2api_openai_call_start(q2api_openai_stream_t *s, const q2api_event_t *ev)
{
    int                   n;
    q2api_buf_t          *b;
    q2api_openai_call_t  *calls, *c;

    if (q2api_openai_call_end(s) != Q2API_OK) {
        return Q2API_NOMEM;
    }

    /* a legacy function_call holds one call: later ones are dropped */
    if (s->legacy && s->ncalls > 0) {
        s->call_open = 0;
        return Q2API_OK;
    }

    s->call_open = 1;
    s->call_bytes = 0;

    if (!s->stream) {
        if (s->ncalls == s->nalloc) {
            n = s->nalloc ? s->nalloc * 2 : 4;

            calls = realloc(s->calls, n * sizeof(q2api_openai_call_t));
            if (calls == NULL) {
                return Q2API_NOMEM;
            }

            s->calls = calls;
            s->nalloc = n;
        }

        c = &s->calls[s->ncalls];
        memset(c, 0, sizeof(q2api_openai_call_t));
        q2api_buf_init(&c->arguments, 0);

        c->id = strndup(ev->id.data ? ev->id.data : "", ev->id.len);
        c->name = strndup(ev->name.data ? ev->name.data : "", ev->name.len);

        if (c->id == NULL || c->name == NULL) {
            free(c->id);
            free(c->name);
            return Q2API_NOMEM;
        }

        s->ncalls++;

        return Q2API_OK;
    }

    b = &s->scratch;

    if (q2api_openai_head(s) != Q2API_OK) {
        return Q2API_NOMEM;
    }

    if (s->legacy) {
        if (q2api_openai_put(b, "{\"function_call\":{\"name\":") != Q2API_OK
            || q2api_json_append_string(b, ev->name.data, ev->name.len)
               != Q2API_OK
            || q2api_openai_put(b, ",\"arguments\":\"\"}}") != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

    } else if (q2api_openai_put(b, "{\"tool_calls\":[{\"index\":") != Q2API_OK
               || q2api_json_append_int(b, s->ncalls) != Q2API_OK
               || q2api_openai_put(b, ",\"id\":") != Q2API_OK
               || q2api_json_append_string(b, ev->id.data, ev->id.len)
                  != Q2API_OK
               || q2api_openai_put(b, ",\"type\":\"function\",\"function\":"
                                      "{\"name\":") != Q2API_OK
               || q2api_json_append_string(b, ev->name.data, ev->name.len)
                  != Q2API_OK
               || q2api_openai_put(b, ",\"arguments\":\"\"}}]}") != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    s->ncalls++;

    return q2api_openai_tail(s, NULL);
}


/* a fragment of the open call's arguments: its index and nothing else */
static int
q2api_openai_call_input(q2api_openai_stream_t *s, const q2api_str_t *text)
{
    q2api_buf_t  *b;

    s->call_bytes += text->len;

    if (!s->stream) {
        return q2api_buf_append(&s->calls[s->ncalls - 1].arguments,
                                text->data, text->len);
    }

    b = &s->scratch;

    if (q2api_openai_head(s) != Q2API_OK) {
        return Q2API_NOMEM;
    }

    if (s->legacy) {
        if (q2api_openai_put(b, "{\"function_call\":{\"arguments\":")
            != Q2API_OK
            || q2api_json_append_string(b, text->data, text->len)
               != Q2API_OK
            || q2api_openai_put(b, "}}") != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

    } else if (q2api_openai_put(b, "{\"tool_calls\":[{\"index\":") != Q2API_OK
               || q2api_json_append_int(b, s->ncalls - 1) != Q2API_OK
               || q2api_openai_put(b, ",\"function\":{\"arguments\":")
                  != Q2API_OK
               || q2api_json_append_string(b, text->data, text->len)
                  != Q2API_OK
               || q2api_openai_put(b, "}}]}") != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return q2api_openai_tail(s, NULL);
}


/*
 * A call the back end ended without arguments still gets "{}": the SDKs
 * parse the arguments, and "" is not JSON.
 */
static int
q2api_openai_call_end(q2api_openai_stream_t *s)
{
    static const q2api_str_t  empty = q2api_str_lit("{}");

    if (!s->call_open) {
        return Q2API_OK;
    }

    s->call_open = 0;

    if (s->call_bytes) {
        return Q2API_OK;
    }

    return q2api_openai_call_input(s, &empty);
}


int
q2api_openai_stream_event(void *data, const q2api_event_t *ev)
{
    q2api_openai_stream_t  *s = data;

    if (s->finished) {
        return Q2API_OK;
    }

    if (ev->type == Q2API_EV_ERROR) {
        return q2api_openai_stream_error(s, ev->error, ev->text.data);
    }

    if (q2api_openai_begin(s) != Q2API_OK) {
        return Q2API_NOMEM;
    }

    switch (ev->type) {

    case Q2API_EV_TEXT:
        if (ev->text.len == 0) {
            return Q2API_OK;
        }

        s->output_bytes += ev->text.len;

        if (q2api_openai_call_end(s) != Q2API_OK) {
            return Q2API_NOMEM;
        }

        return q2api_openai_delta(s, "content", &ev->text);

    case Q2API_EV_THINKING:
        if (ev->text.len == 0) {
            return Q2API_OK;
        }

        s->reasoning_bytes += ev->text.len;

        return q2api_openai_delta(s, "reasoning_content", &ev->text);

    case Q2API_EV_TOOL_START:
        return q2api_openai_call_start(s, ev);

    case Q2API_EV_TOOL_INPUT:
        if (!s->call_open || ev->text.len == 0) {
            return Q2API_OK;
        }

        s->output_bytes += ev->text.len;

        return q2api_openai_call_input(s, &ev->text);

    case Q2API_EV_TOOL_STOP:
        return q2api_openai_call_end(s);

    case Q2API_EV_USAGE:
        q2api_usage_merge(&s->usage, &ev->usage);
        return Q2API_OK;

    case Q2API_EV_STOP:
        s->stop = ev->stop;
        return Q2API_OK;

    default:
        /* signatures and redacted thinking have no place in this dialect */
        return Q2API_OK;
    }
}


const char *
q2api_openai_finish_reason(q2api_openai_stream_t *s)
{
    switch (s->stop) {
    case Q2API_STOP_MAX_TOKENS:
    case Q2API_STOP_CONTEXT_EXCEEDED:
        return "length";
    case Q2API_STOP_REFUSAL:
        return "content_filter";
    default:
        break;
    }

    if (s->ncalls == 0) {
        return "stop";
    }

    return s->legacy ? "function_call" : "tool_calls";
}


/*
 * The same figures the Claude front end reports: the input holds the
 * cached tokens too, as OpenAI counts them; reasoning is estimated from
 * its text and is part of the output.
 */
void
q2api_openai_usage_counts(const q2api_usage_t *u, long long input_estimate,
    size_t output_bytes, size_t reasoning_bytes, long long *in,
    long long *out, long long *reasoning)
{
    *in = u->input_tokens >= 0 ? u->input_tokens : input_estimate;
    *in += u->cache_read_tokens + u->cache_write_tokens;

    *reasoning = reasoning_bytes ? q2api_estimate_tokens(reasoning_bytes)
                                 : 0;

    if (u->output_tokens >= 0) {
        *out = u->output_tokens;
        *reasoning = *reasoning > *out ? *out : *reasoning;

    } else {
        *out = q2api_estimate_tokens(output_bytes) + *reasoning;
    }
}


int
q2api_openai_write_usage(q2api_openai_stream_t *s, q2api_buf_t *b)
{
    long long  in, out, reasoning;

    q2api_openai_usage_counts(&s->usage, s->input_tokens, s->output_bytes,
                              s->reasoning_bytes, &in, &out, &reasoning);

    if (q2api_openai_put(b, "{\"prompt_tokens\":") != Q2API_OK
        || q2api_json_append_int(b, in) != Q2API_OK
        || q2api_openai_put(b, ",\"completion_tokens\":") != Q2API_OK
        || q2api_json_append_int(b, out) != Q2API_OK
        || q2api_openai_put(b, ",\"total_tokens\":") != Q2API_OK
        || q2api_json_append_int(b, in + out) != Q2API_OK
        || q2api_openai_put(b, ",\"prompt_tokens_details\":"
                               "{\"cached_tokens\":") != Q2API_OK
        || q2api_json_append_int(b, s->usage.cache_read_tokens) != Q2API_OK
        || q2api_openai_put(b, "},\"completion_tokens_details\":"
                               "{\"reasoning_tokens\":") != Q2API_OK
        || q2api_json_append_int(b, reasoning) != Q2API_OK
        || q2api_openai_put(b, "}}") != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return Q2API_OK;
}


int
q2api_openai_stream_finish(q2api_openai_stream_t *s)
{
    q2api_buf_t  *b;

    if (s->finished) {
        return Q2API_OK;
    }

    if (q2api_openai_begin(s) != Q2API_OK
        || q2api_openai_call_end(s) != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    s->finished = 1;

    if (!s->stream) {
        return q2api_openai_write_completion(s);
    }

    b = &s->scratch;

    if (q2api_openai_head(s) != Q2API_OK
        || q2api_openai_put(b, "{}") != Q2API_OK
        || q2api_openai_tail(s, q2api_openai_finish_reason(s)) != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    if (s->include_usage) {
        if (q2api_openai_chunk(s) != Q2API_OK
            || q2api_openai_put(b, ",\"choices\":[],\"usage\":") != Q2API_OK
            || q2api_openai_write_usage(s, b) != Q2API_OK
            || q2api_buf_append_byte(b, '}') != Q2API_OK
            || q2api_sse_event(s->out, NULL, b->data, b->len) != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        q2api_buf_reset(b);
    }

    return q2api_sse_event(s->out, NULL, "[DONE]", 6);
}


int
q2api_openai_stream_error(q2api_openai_stream_t *s, q2api_err_e kind,
    const char *message)
{
    int  rc;

    if (s->finished) {
        return Q2API_OK;
    }

    s->finished = 1;

    if (!s->stream) {
        return Q2API_OK;
    }

    rc = q2api_openai_error_body(&s->scratch, kind,
                                 message ? message : "upstream error", NULL);
    if (rc != Q2API_OK) {
        return rc;
    }

    rc = q2api_sse_event(s->out, NULL, s->scratch.data, s->scratch.len);
    q2api_buf_reset(&s->scratch);

    return rc;
}
