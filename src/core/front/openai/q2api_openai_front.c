/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * OpenAI Chat Completions as an entry of the front-end table, and its
 * model list: {"object":"list","data":[{"id","object":"model","created",
 * "owned_by"}]}, unpaged.
 */


#include "q2api_front.h"
#include "q2api_openai.h"
#include "q2api_json.h"
#include "q2api_time.h"


static int
q2api_openai_front_init(void *state, q2api_buf_t *out,
    const q2api_request_t *req)
{
    return q2api_openai_stream_init(state, out, req);
}


static int
q2api_openai_front_finish(void *state)
{
    return q2api_openai_stream_finish(state);
}


static int
q2api_openai_front_error(void *state, q2api_err_e kind, const char *message)
{
    return q2api_openai_stream_error(state, kind, message);
}


static int
q2api_openai_front_ping(void *state)
{
    return q2api_openai_stream_ping(state);
}


static void
q2api_openai_front_free(void *state)
{
    q2api_openai_stream_free(state);
}


int
q2api_openai_model(q2api_buf_t *b, const q2api_model_t *m)
{
    time_t  created;

    /* the table's RFC 3339 dates as the Unix time OpenAI lists */
    if (q2api_time_parse(m->created, strlen(m->created), &created)
        != Q2API_OK)
    {
        created = 0;
    }

    if (q2api_buf_append_str(b, "{\"id\":") != Q2API_OK
        || q2api_json_append_string(b, m->id, strlen(m->id)) != Q2API_OK
        || q2api_buf_append_str(b, ",\"object\":\"model\",\"created\":")
           != Q2API_OK
        || q2api_json_append_int(b, (long long) created) != Q2API_OK
        || q2api_buf_append_str(b, ",\"owned_by\":\"anthropic\"}")
           != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return Q2API_OK;
}


int
q2api_openai_model_page(q2api_buf_t *b, const q2api_model_t **list,
    size_t first, size_t last, int more)
{
    size_t  i;

    if (q2api_buf_append_str(b, "{\"object\":\"list\",\"data\":[")
        != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    for (i = first; i < last; i++) {
        if ((i > first && q2api_buf_append_byte(b, ',') != Q2API_OK)
            || q2api_openai_model(b, list[i]) != Q2API_OK)
        {
            return Q2API_NOMEM;
        }
    }

    return q2api_buf_append_str(b, "]}");
}


const q2api_front_t  q2api_openai_front = {
    "openai",
    "req_",
    "x-request-id",
    sizeof(q2api_openai_stream_t),
    q2api_openai_parse,
    q2api_openai_front_init,
    q2api_openai_stream_event,
    q2api_openai_front_finish,
    q2api_openai_front_error,
    q2api_openai_front_ping,
    q2api_openai_front_free,
    q2api_openai_error_status,
    q2api_openai_error_body,
    q2api_openai_model,
    q2api_openai_model_page,
    "/chat/completions",
    NULL,
    NULL,
    NULL,
    0,
    NULL,
    NULL,
    NULL,
    NULL
};
