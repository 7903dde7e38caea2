/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The Anthropic Messages API as an entry of the front-end table, and its
 * model list: {"type":"model","id","display_name","created_at"} in pages
 * of {"data","has_more","first_id","last_id"}.
 */


#include "q2api_front.h"
#include "q2api_claude.h"
#include "q2api_json.h"


static int
q2api_claude_front_init(void *state, q2api_buf_t *out,
    const q2api_request_t *req)
{
    return q2api_claude_stream_init(state, out, req);
}


static int
q2api_claude_front_finish(void *state)
{
    return q2api_claude_stream_finish(state);
}


static int
q2api_claude_front_error(void *state, q2api_err_e kind, const char *message)
{
    return q2api_claude_stream_error(state, kind, message);
}


static int
q2api_claude_front_ping(void *state)
{
    return q2api_claude_stream_ping(state);
}


static void
q2api_claude_front_free(void *state)
{
    q2api_claude_stream_free(state);
}


static int
q2api_claude_model(q2api_buf_t *b, const q2api_model_t *m)
{
    if (q2api_buf_append_str(b, "{\"type\":\"model\",\"id\":") != Q2API_OK
        || q2api_json_append_string(b, m->id, strlen(m->id)) != Q2API_OK
        || q2api_buf_append_str(b, ",\"display_name\":") != Q2API_OK
        || q2api_json_append_string(b, m->display, strlen(m->display))
           != Q2API_OK
        || q2api_buf_append_str(b, ",\"created_at\":") != Q2API_OK
        || q2api_json_append_string(b, m->created, strlen(m->created))
           != Q2API_OK
        || q2api_buf_append_byte(b, '}') != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return Q2API_OK;
}


static int
q2api_claude_id_or_null(q2api_buf_t *b, const q2api_model_t *m)
{
    if (m == NULL) {
        return q2api_buf_append_str(b, "null");
    }

    return q2api_json_append_string(b, m->id, strlen(m->id));
}


static int
q2api_claude_model_page(q2api_buf_t *b, const q2api_model_t **list,
    size_t first, size_t last, int more)
{
    size_t  i;

    if (q2api_buf_append_str(b, "{\"data\":[") != Q2API_OK) {
        return Q2API_NOMEM;
    }

    for (i = first; i < last; i++) {
        if ((i > first && q2api_buf_append_byte(b, ',') != Q2API_OK)
            || q2api_claude_model(b, list[i]) != Q2API_OK)
        {
            return Q2API_NOMEM;
        }
    }

    if (q2api_buf_append_str(b, more ? "],\"has_more\":true"
                                     : "],\"has_more\":false")
        != Q2API_OK
        || q2api_buf_append_str(b, ",\"first_id\":") != Q2API_OK
        || q2api_claude_id_or_null(b, first < last ? list[first] : NULL)
           != Q2API_OK
        || q2api_buf_append_str(b, ",\"last_id\":") != Q2API_OK
        || q2api_claude_id_or_null(b, first < last ? list[last - 1] : NULL)
           != Q2API_OK
        || q2api_buf_append_byte(b, '}') != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return Q2API_OK;
}


/* /v1/messages/count_tokens */
static int
q2api_claude_count_tokens(q2api_buf_t *b, long long tokens)
{
    if (q2api_buf_append_str(b, "{\"input_tokens\":") != Q2API_OK
        || q2api_json_append_int(b, tokens) != Q2API_OK
        || q2api_buf_append_byte(b, '}') != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return Q2API_OK;
}


/* the Anthropic SDKs send a version; Claude Code and SDK 0.x a key */
static const char  *const q2api_claude_markers[] = {
    "anthropic-version",
    "x-api-key",
    NULL
};


const q2api_front_t  q2api_claude_front = {
    "claude",
    "req_",
    "request-id",
    sizeof(q2api_claude_stream_t),
    q2api_claude_parse,
    q2api_claude_front_init,
    q2api_claude_stream_event,
    q2api_claude_front_finish,
    q2api_claude_front_error,
    q2api_claude_front_ping,
    q2api_claude_front_free,
    q2api_err_status,
    q2api_claude_error_body,
    q2api_claude_model,
    q2api_claude_model_page,
    "/messages",
    "/messages/count_tokens",
    q2api_claude_count_tokens,
    q2api_claude_markers,
    1,
    q2api_claude_count,
    NULL,
    NULL,
    NULL
};
