/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The Response object (the answer to stream: false, and "response" in
 * the lifecycle events): its id, status, output items, usage, error,
 * and the request's settings it repeats; and what a stored reply keeps
 * for a later previous_response_id.
 */


#include <stdlib.h>

#include "q2api_responses_internal.h"
#include "q2api_json.h"


static int q2api_responses_append_json(q2api_buf_t *b, const cJSON *item,
    int inner);
static int q2api_responses_echo_field(q2api_buf_t *b, cJSON *root,
    const char *name, const char *absent);
static int q2api_responses_usage(q2api_responses_stream_t *s,
    q2api_buf_t *b);


#define q2api_responses_put(b, lit)                                        \
    q2api_buf_append(b, "" lit, sizeof(lit) - 1)


/*
 * A part of the client's body as compact JSON (inner: an array's elements
 * without its brackets), with the NULs its strings held (marked when it
 * was parsed, q2api_nul.h) written as \u0000 again.
 */
static int
q2api_responses_append_json(q2api_buf_t *b, const cJSON *item, int inner)
{
    int     rc;
    char   *json, *p, *end, *mark;

    json = cJSON_PrintUnformatted(item);
    if (json == NULL) {
        return Q2API_NOMEM;
    }

    p = json;
    end = json + strlen(json);

    if (inner && end - p >= 2) {
        p++;
        end--;
    }

    rc = Q2API_OK;

    while (rc == Q2API_OK && p < end) {
        mark = memchr(p, Q2API_NUL_MARK, end - p);
        if (mark == NULL) {
            rc = q2api_buf_append(b, p, end - p);
            break;
        }

        rc = q2api_buf_append(b, p, mark - p);
        if (rc == Q2API_OK) {
            rc = q2api_responses_put(b, "\\u0000");
        }

        p = mark + 1;
    }

    cJSON_free(json);

    return rc;
}


/* ,"<name>":<the request's value, or absent> */
static int
q2api_responses_echo_field(q2api_buf_t *b, cJSON *root, const char *name,
    const char *absent)
{
    cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(root, name);

    if (q2api_responses_put(b, ",\"") != Q2API_OK
        || q2api_buf_append_str(b, name) != Q2API_OK
        || q2api_responses_put(b, "\":") != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    if (item == NULL || cJSON_IsNull(item)) {
        return q2api_buf_append_str(b, absent);
    }

    return q2api_responses_append_json(b, item, 0);
}


/* made once: every lifecycle event repeats it */
int
q2api_responses_echo(q2api_responses_stream_t *s)
{
    cJSON        *root;
    q2api_buf_t  *b;

    root = s->req->json;
    b = &s->echo;

    if (q2api_responses_echo_field(b, root, "instructions", "null")
        != Q2API_OK
        || q2api_responses_echo_field(b, root, "metadata", "{}") != Q2API_OK
        || q2api_responses_echo_field(b, root, "parallel_tool_calls",
                                      "true") != Q2API_OK
        || q2api_responses_echo_field(b, root, "tool_choice", "\"auto\"")
           != Q2API_OK
        || q2api_responses_echo_field(b, root, "tools", "[]") != Q2API_OK
        || q2api_responses_echo_field(b, root, "temperature", "null")
           != Q2API_OK
        || q2api_responses_echo_field(b, root, "top_p", "null") != Q2API_OK
        || q2api_responses_echo_field(b, root, "max_output_tokens", "null")
           != Q2API_OK
        || q2api_responses_echo_field(b, root, "previous_response_id",
                                      "null") != Q2API_OK
        || q2api_responses_echo_field(b, root, "reasoning", "null")
           != Q2API_OK
        || q2api_responses_echo_field(b, root, "text",
                                      "{\"format\":{\"type\":\"text\"}}")
           != Q2API_OK
        || q2api_responses_put(b, ",\"store\":") != Q2API_OK
        || (s->store ? q2api_responses_put(b, "true")
                     : q2api_responses_put(b, "false")) != Q2API_OK
        || q2api_responses_put(b, ",\"truncation\":\"disabled\"")
           != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return Q2API_OK;
}


/*
 * input_tokens is the whole prompt, cached tokens included: Codex's
 * context meter and its compaction read it.
 */
static int
q2api_responses_usage(q2api_responses_stream_t *s, q2api_buf_t *b)
{
    long long  in, out, reasoning;

    q2api_openai_usage_counts(&s->usage, s->input_tokens, s->output_bytes,
                              s->reasoning_bytes, &in, &out, &reasoning);

    if (q2api_responses_put(b, "{\"input_tokens\":") != Q2API_OK
        || q2api_json_append_int(b, in) != Q2API_OK
        || q2api_responses_put(b, ",\"input_tokens_details\":"
                                  "{\"cached_tokens\":") != Q2API_OK
        || q2api_json_append_int(b, s->usage.cache_read_tokens) != Q2API_OK
        || q2api_responses_put(b, "},\"output_tokens\":") != Q2API_OK
        || q2api_json_append_int(b, out) != Q2API_OK
        || q2api_responses_put(b, ",\"output_tokens_details\":"
                                  "{\"reasoning_tokens\":") != Q2API_OK
        || q2api_json_append_int(b, reasoning) != Q2API_OK
        || q2api_responses_put(b, "},\"total_tokens\":") != Q2API_OK
        || q2api_json_append_int(b, in + out) != Q2API_OK
        || q2api_buf_append_byte(b, '}') != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return Q2API_OK;
}


int
q2api_responses_write_response(q2api_responses_stream_t *s, q2api_buf_t *b,
    const char *status, int final, const char *code, const char *message)
{
    const q2api_request_t  *req;

    req = s->req;

    if (q2api_responses_put(b, "{\"id\":\"") != Q2API_OK
        || q2api_buf_append_str(b, s->id) != Q2API_OK
        || q2api_responses_put(b, "\",\"object\":\"response\","
                                  "\"created_at\":") != Q2API_OK
        || q2api_json_append_int(b, s->created) != Q2API_OK
        || q2api_responses_put(b, ",\"status\":\"") != Q2API_OK
        || q2api_buf_append_str(b, status) != Q2API_OK
        || q2api_responses_put(b, "\",\"model\":") != Q2API_OK
        || q2api_json_append_string(b, req->model.data, req->model.len)
           != Q2API_OK
        || q2api_responses_put(b, ",\"output\":[") != Q2API_OK
        || (final && q2api_buf_append(b, s->items.data, s->items.len)
                     != Q2API_OK)
        || q2api_responses_put(b, "],\"usage\":") != Q2API_OK
        || (final ? q2api_responses_usage(s, b)
                  : q2api_responses_put(b, "null")) != Q2API_OK
        || q2api_responses_put(b, ",\"error\":") != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    if (code != NULL) {
        if (q2api_responses_put(b, "{\"code\":\"") != Q2API_OK
            || q2api_buf_append_str(b, code) != Q2API_OK
            || q2api_responses_put(b, "\",\"message\":") != Q2API_OK
            || q2api_json_append_string(b, message, strlen(message))
               != Q2API_OK
            || q2api_buf_append_byte(b, '}') != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

    } else if (q2api_responses_put(b, "null") != Q2API_OK) {
        return Q2API_NOMEM;
    }

    if (q2api_responses_put(b, ",\"incomplete_details\":") != Q2API_OK
        || (strcmp(status, "incomplete") != 0
            ? q2api_responses_put(b, "null")
            : s->stop == Q2API_STOP_REFUSAL
            ? q2api_responses_put(b, "{\"reason\":\"content_filter\"}")
            : q2api_responses_put(b, "{\"reason\":\"max_output_tokens\"}"))
           != Q2API_OK
        || q2api_buf_append(b, s->echo.data, s->echo.len) != Q2API_OK
        || q2api_buf_append_byte(b, '}') != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return Q2API_OK;
}


/* Codex acts on these codes: it compacts, stops, or retries */
const char *
q2api_responses_error_code(q2api_err_e kind)
{
    switch (kind) {
    case Q2API_ERR_CONTEXT_EXCEEDED:
        return "context_length_exceeded";
    case Q2API_ERR_RATE_LIMIT:
        return "rate_limit_exceeded";
    case Q2API_ERR_BILLING:
        return "insufficient_quota";
    case Q2API_ERR_INVALID_REQUEST:
        return "invalid_prompt";
    default:
        return "server_error";
    }
}


/*
 * [the request's input items, the reply's output items]: instructions
 * are not part of it, as OpenAI does not carry them over either.
 */
int
q2api_responses_record(q2api_responses_stream_t *s, q2api_str_t *id,
    q2api_buf_t *items)
{
    cJSON  *input;

    id->data = s->id;
    id->len = 0;

    if (!s->store || s->failed) {
        return Q2API_OK;
    }

    input = cJSON_GetObjectItemCaseSensitive((cJSON *) s->req->json,
                                             "input");

    if (q2api_buf_append_byte(items, '[') != Q2API_OK) {
        return Q2API_NOMEM;
    }

    if (cJSON_IsString(input)) {
        if (q2api_responses_put(items, "{\"type\":\"message\","
                                       "\"role\":\"user\",\"content\":")
            != Q2API_OK
            || q2api_responses_append_json(items, input, 0) != Q2API_OK
            || q2api_buf_append_byte(items, '}') != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

    } else if (cJSON_IsArray(input)
               && q2api_responses_append_json(items, input, 1) != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    if ((items->len > 1 && s->items.len
         && q2api_buf_append_byte(items, ',') != Q2API_OK)
        || q2api_buf_append(items, s->items.data, s->items.len) != Q2API_OK
        || q2api_buf_append_byte(items, ']') != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    id->len = strlen(s->id);

    return Q2API_OK;
}
